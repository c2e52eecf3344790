import { readFileSync } from 'node:fs';

function readVersion(): string {
  try {
    const pkg: unknown = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8'));
    if (typeof pkg === 'object' && pkg !== null && typeof (pkg as { version?: unknown }).version === 'string') return (pkg as { version: string }).version;
  } catch {
    // Fall through: a build without its package.json still runs.
  }
  return '0.0.0';
}

/** Berth's version, from package.json. */
export const VERSION = readVersion();
