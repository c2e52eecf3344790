import { parseArgs } from 'node:util';
import { loadConfig, ConfigError, resolveConfigPath } from '../config/load.js';
import { createDriver } from '../storage/driver/factory.js';
import { Registry } from '../storage/registry.js';
import { LocalQuotaLedger, scanReferences } from '../lifecycle/quota-layer.js';
import type { CommandIo } from './garbage-collect.js';
import { formatBytes } from './garbage-collect.js';

const USAGE = `Usage: berth usage [--rebuild] [--json] config.yml

Prints the deduplicated bytes each quota of lifecycle.quotas uses, and the total, computed from a
scan of the storage of config.yml (every blob and manifest linked into a repository, each counted
once per quota however many of its repositories link it).

A running berth serve keeps its own ledger in its memory, rebuilt from storage at start-up and after
every online GC run; this command never reads it. --rebuild says what the command always does:
compute the usage from storage now (the ledger of a running server is not changed).

      --rebuild  compute from storage now (the default and only mode; accepted for clarity in scripts)
      --json     one JSON object {quotas, total} instead of lines
`;

const OPTIONS = { rebuild: { type: 'boolean' }, json: { type: 'boolean' }, help: { type: 'boolean', short: 'h' } } as const;

/** `berth usage [--rebuild] [--json] config.yml`: resolves with the exit code: 0 done, 1 failure or configuration error, 2 usage. */
export async function usageCommand(args: readonly string[], env: NodeJS.ProcessEnv, io: CommandIo = process): Promise<number> {
  const { values, positionals, tokens } = parseArgs({ args: [...args], options: OPTIONS, strict: false, allowPositionals: true, tokens: true });
  const bad = tokens.find((t) => t.kind === 'option' && (!Object.hasOwn(OPTIONS, t.name) || t.value !== undefined));
  if (values.help === true && bad === undefined) return void io.stdout.write(USAGE), 0;
  if (bad?.kind === 'option') return void io.stderr.write(`berth usage: unknown flag ${args[bad.index] ?? bad.rawName}\n\n${USAGE}`), 2;
  if (positionals.length > 1) return void io.stderr.write(`berth usage: expected one configuration file, got ${positionals.length}\n\n${USAGE}`), 2;
  const options = positionals[0] !== undefined ? { path: positionals[0], env } : { env };
  if (resolveConfigPath(options) === undefined) return void io.stderr.write(`berth usage: a configuration file is required (an argument or REGISTRY_CONFIGURATION_PATH)\n\n${USAGE}`), 2;
  let close: (() => Promise<void>) | undefined;
  try {
    const config = await loadConfig(options);
    const driver = await createDriver(config.storage);
    close = () => driver.close();
    const ledger = new LocalQuotaLedger(config.lifecycle?.quotas ?? []);
    await ledger.rebuild(scanReferences(new Registry({ driver })));
    const report = await ledger.usage();
    if (values.json === true) io.stdout.write(`${JSON.stringify(report)}\n`);
    else {
      for (const q of report.quotas) io.stdout.write(`quotas[${q.index}] ${q.repositories.join(',')}: ${formatBytes(q.used)} of ${formatBytes(q.limit)} (${q.used} of ${q.limit} bytes)\n`);
      io.stdout.write(`total: ${formatBytes(report.total)} (${report.total} bytes, deduplicated over every repository)\n`);
    }
    return 0;
  } catch (err) {
    const message = err instanceof ConfigError ? err.message : `usage failed: ${err instanceof Error ? err.message : String(err)}`;
    io.stderr.write(`berth usage: ${message}\n`);
    return 1;
  } finally {
    await close?.();
  }
}
