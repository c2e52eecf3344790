/** What the bench ran on, so results from different runs and machines can be told apart. */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, release, totalmem } from 'node:os';

/** The machine and the software under test. */
export interface MachineInfo {
  /** CPUs Node may use (availableParallelism). */
  readonly cores: number;
  readonly cpuModel: string;
  readonly memoryGiB: number;
  readonly kernel: string;
  readonly node: string;
  /** `docker-registry --version`. */
  readonly distribution: string;
  /** `skopeo --version`. */
  readonly skopeo: string;
  /** The installed autocannon's version. */
  readonly autocannon: string;
}

function commandOutput(command: string, args: readonly string[]): string {
  try {
    return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return 'unknown';
  }
}

function packageVersion(url: URL): string {
  try {
    const pkg = JSON.parse(readFileSync(url, 'utf8')) as { version?: unknown };
    return typeof pkg.version === 'string' ? pkg.version : 'unknown';
  } catch {
    return 'unknown';
  }
}

/** Collects the machine description (runs a few `--version` commands). */
export function machineInfo(): MachineInfo {
  return {
    cores: availableParallelism(),
    cpuModel: cpus()[0]?.model.trim() ?? 'unknown',
    memoryGiB: Math.round((totalmem() / 1024 ** 3) * 10) / 10,
    kernel: release(),
    node: process.version,
    distribution: commandOutput('docker-registry', ['--version']),
    skopeo: commandOutput('skopeo', ['--version']),
    // dist/bench/machine.js → node_modules/ at the repository root.
    autocannon: packageVersion(new URL('../../node_modules/autocannon/package.json', import.meta.url)),
  };
}

/** The 1, 5 and 15 minute load averages, rounded to two decimals. */
export function loadAverage(): [number, number, number] {
  const [a = 0, b = 0, c = 0] = loadavg().map((v) => Math.round(v * 100) / 100);
  return [a, b, c];
}
