/** Starts and stops the ceiling server (ceiling-server.ts) in its own process. */
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/ports.js';
import { startServer } from '../test/helpers/processes.js';

/** A running ceiling server. */
export interface Ceiling {
  /** `http://127.0.0.1:PORT`. */
  readonly url: string;
  readonly pid: number;
  stop(): Promise<void>;
}

const script = join(fileURLToPath(new URL('.', import.meta.url)), 'ceiling-server.js');

/** Starts the ceiling server on a free loopback port; resolves once it answers. */
export async function startCeiling(): Promise<Ceiling> {
  const port = await freePort();
  const server = await startServer({
    name: 'ceiling server',
    command: process.execPath,
    args: [script, String(port)],
    readyUrl: `http://127.0.0.1:${port}/v2/`,
  });
  return {
    url: server.url,
    pid: server.pid,
    stop: async () => {
      const code = await server.stop('SIGTERM', 5_000);
      if (code !== 0 && code !== null) throw new Error(`ceiling server exited with code ${code}:\n${server.output()}`);
    },
  };
}

/** Starts the ceiling server, runs `fn` against it, and stops it whatever `fn` did. */
export async function withCeiling<T>(fn: (ceiling: Ceiling) => Promise<T>): Promise<T> {
  const ceiling = await startCeiling();
  try {
    return await fn(ceiling);
  } finally {
    await ceiling.stop();
  }
}
