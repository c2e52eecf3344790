import { VERSION } from './version.js';

// Each command's modules load when it runs: the registry process does not carry the htpasswd
// editor or the collector, and `berth --version` loads almost nothing.

const USAGE = `berth ${VERSION}: a container image registry compatible with CNCF Distribution

Usage:
  berth serve [config.yml]      run the registry (config from the argument, REGISTRY_CONFIGURATION_PATH,
                                or the built-in default: filesystem storage under ./data, port 5000)
  berth garbage-collect [--dry-run] [--delete-untagged] [--quiet] config.yml
                                delete unreferenced blobs and manifests (registry stopped or read-only;
                                storage.gc runs it online instead)
  berth retention [--dry-run] [--json] config.yml
                                apply the lifecycle.retention rules once (serve runs them every
                                lifecycle.retention.interval); prints every decision and its reason
  berth usage [--rebuild] [--json] config.yml
                                the deduplicated bytes each lifecycle.quotas quota uses, and the total,
                                computed from storage now (a running server keeps its own ledger)
  berth htpasswd [-ciBDv] [-C cost] file user [password]
                                create and edit htpasswd files (bcrypt), like Apache's htpasswd
  berth healthcheck [config.yml]
                                exit 0 when the registry of this configuration answers GET /v2/ on
                                the loopback interface (the container image's health check)
  berth --version               print the version
  berth help                    print this help

Every configuration key can be overridden with REGISTRY_* environment variables,
e.g. REGISTRY_HTTP_ADDR=:5001 or REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY=/srv/registry.
`;

/** Dispatches a command line to its subcommand; resolves with the exit code. */
export async function main(argv: readonly string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'serve':
      return (await import('./serve.js')).serveCommand(rest, process.env);
    case 'htpasswd':
      return (await import('./htpasswd.js')).htpasswdCommand(rest);
    case 'garbage-collect':
      return (await import('./garbage-collect.js')).garbageCollectCommand(rest, process.env);
    case 'retention':
      return (await import('./retention.js')).retentionCommand(rest, process.env);
    case 'usage':
      return (await import('./usage.js')).usageCommand(rest, process.env);
    case 'healthcheck':
      return (await import('./healthcheck.js')).healthcheckCommand(rest, process.env);
    case '--version':
    case '-v':
    case 'version':
      process.stdout.write(`berth ${VERSION}\n`);
      return 0;
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      process.stdout.write(USAGE);
      return command === undefined ? 2 : 0;
    default:
      process.stderr.write(`berth: unknown command ${JSON.stringify(command)}\n\n${USAGE}`);
      return 2;
  }
}
