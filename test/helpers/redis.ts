import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { spawn, type ChildProcess } from 'node:child_process';
import { createConnection } from 'node:net';
import { freePort } from './ports.js';

/** A redis-server started for a test on loopback, without persistence. */
export interface RedisServer {
  readonly addr: string;
  readonly port: number;
  stop(): Promise<void>;
  /** Stops the server but keeps the port, to simulate an outage; start() brings it back. */
  pause(): Promise<void>;
  resume(): Promise<void>;
  /** Stops the server process (SIGSTOP) with its connections open: a Redis that hangs; thaw() lets it go on. */
  freeze(): void;
  thaw(): void;
}

function ping(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host: '127.0.0.1', port }, () => socket.write('PING\r\n'));
    socket.once('data', (d) => {
      socket.destroy();
      resolve(d.toString().startsWith('+PONG'));
    });
    socket.once('error', () => resolve(false));
    socket.setTimeout(1000, () => {
      socket.destroy();
      resolve(false);
    });
  });
}

/** Starts Debian's redis-server (installed by scripts/ensure-test-deps.sh); fails loudly when it cannot. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort();
  const dir = await mkdtemp(join(tmpdir(), 'berth-redis-'));
  let child: ChildProcess | undefined;
  let output = '';
  const launch = async (): Promise<void> => {
    child = spawn('redis-server', ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: ['ignore', 'pipe', 'pipe'] });
    child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
    const deadline = Date.now() + 10_000;
    while (!(await ping(port))) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`redis-server did not start on ${port}:\n${output}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  };
  const halt = async (): Promise<void> => {
    const c = child;
    if (c === undefined || c.exitCode !== null) return;
    await new Promise<void>((resolve) => {
      c.once('exit', () => resolve());
      c.kill('SIGKILL');
    });
  };
  await launch();
  process.once('exit', () => child?.kill('SIGKILL'));
  return {
    addr: `127.0.0.1:${port}`,
    port,
    stop: async () => {
      await halt();
      await rm(dir, { recursive: true, force: true });
    },
    pause: halt,
    resume: launch,
    freeze: () => child?.kill('SIGSTOP'),
    thaw: () => child?.kill('SIGCONT'),
  };
}
