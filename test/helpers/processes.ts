import { spawn, type ChildProcess } from 'node:child_process';
import { setTimeout as sleep } from 'node:timers/promises';

/** What {@link startServer} starts and how it knows the server is ready. */
export interface StartServerOptions {
  /** Executable to run (looked up on PATH). */
  command: string;
  /** Its arguments. */
  args?: readonly string[];
  /** Extra environment variables, laid over this process's environment. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Working directory (default: this process's). */
  cwd?: string;
  /** Polled with GET until it answers 200; its origin becomes the handle's `url`. */
  readyUrl: string;
  /** A probe used instead of GET readyUrl (e.g. over TLS with a private CA); true when ready. */
  ready?: () => Promise<boolean>;
  /** How long to wait for readiness before killing the server and failing (default 20 s). */
  timeoutMs?: number;
  /** A short name for error messages (default: the command). */
  name?: string;
}

/** A running server process started by {@link startServer}. */
export interface ServerHandle {
  /** Origin of `readyUrl`, e.g. `http://127.0.0.1:5000`. */
  readonly url: string;
  /** The process id. */
  readonly pid: number;
  /** Resolves once the process has exited: its exit code, or null when a signal ended it. */
  readonly exited: Promise<number | null>;
  /**
   * Sends `signal` (default SIGTERM), waits up to `timeoutMs` (default 10 s) for the process to
   * exit, then SIGKILLs it. Resolves with the exit code (null when a signal ended it). Safe to
   * call more than once and after the process has already exited.
   */
  stop(signal?: NodeJS.Signals, timeoutMs?: number): Promise<number | null>;
  /** SIGKILLs the process (a crash, as far as the server can tell) and waits for it to exit. */
  kill(): Promise<number | null>;
  /** Everything the process wrote to stdout and stderr, interleaved, bounded to the last 256 KiB. */
  output: () => string;
}

const OUTPUT_LIMIT = 256 * 1024;
const POLL_INTERVAL_MS = 50;

// Processes that are still running. Test-helper state, on purpose module-wide: the exit and
// signal hooks below must reach every server that any test in this process started, so that
// a failed or interrupted test file never leaves a registry running behind it.
const live = new Set<ChildProcess>();
let hooksInstalled = false;

function killAllLive(): void {
  for (const child of live) {
    try {
      child.kill('SIGKILL');
    } catch {
      // already gone
    }
  }
  live.clear();
}

function installExitHooks(): void {
  if (hooksInstalled) return;
  hooksInstalled = true;
  process.on('exit', killAllLive);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    const onSignal = (): void => {
      killAllLive();
      process.removeListener(signal, onSignal);
      // Keep the default behaviour (die of the signal) unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal);
    };
    process.on(signal, onSignal);
  }
}

/** Keeps the tail of a stream of text, up to `limit` characters. */
class BoundedLog {
  private text = '';
  private dropped = 0;

  constructor(private readonly limit: number) {}

  append(chunk: string): void {
    this.text += chunk;
    if (this.text.length > this.limit) {
      const cut = this.text.length - this.limit;
      this.dropped += cut;
      this.text = this.text.slice(cut);
    }
  }

  toString(): string {
    return this.dropped > 0 ? `[... ${this.dropped} characters dropped ...]\n${this.text}` : this.text;
  }
}

/**
 * Starts a server process and resolves once `readyUrl` answers 200.
 *
 * Rejects, with the process's captured output in the message, when the process cannot be
 * spawned, exits before it is ready, or is not ready within `timeoutMs` (it is SIGKILLed
 * then). The process is SIGKILLed when this test process exits or is interrupted, so a
 * forgotten `stop()` never leaves it running.
 */
export async function startServer(options: StartServerOptions): Promise<ServerHandle> {
  const name = options.name ?? options.command;
  const timeoutMs = options.timeoutMs ?? 20_000;
  const readyUrl = new URL(options.readyUrl);
  const log = new BoundedLog(OUTPUT_LIMIT);

  installExitHooks();
  const child = spawn(options.command, options.args ?? [], {
    cwd: options.cwd,
    env: { ...process.env, ...options.env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  if (child.pid !== undefined) live.add(child);
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => log.append(chunk));
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => log.append(chunk));

  let spawnError: Error | undefined;
  let exitCode: number | null | undefined;
  const exited = new Promise<number | null>((resolve) => {
    child.once('error', (err) => {
      // Spawn failures (ENOENT, EACCES) emit 'error' and may never emit 'exit'.
      if (child.pid === undefined) {
        spawnError = err;
        exitCode = null;
        resolve(null);
      }
    });
    child.once('exit', (code) => {
      live.delete(child);
      exitCode = code;
      resolve(code);
    });
  });

  const describe = (): string => `${name} (${[options.command, ...(options.args ?? [])].join(' ')})`;
  const failure = (reason: string): Error =>
    new Error(`${describe()} ${reason}\n--- output ---\n${log.toString()}--- end of output ---`);

  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (spawnError !== undefined) throw failure(`could not be started: ${spawnError.message}`);
    if (exitCode !== undefined) throw failure(`exited with code ${String(exitCode)} before it was ready`);
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      await exited;
      throw failure(`was not ready at ${readyUrl.href} within ${timeoutMs} ms`);
    }
    if (options.ready !== undefined) {
      if (await options.ready().catch(() => false)) break;
    } else {
      try {
        const res = await fetch(readyUrl, { signal: AbortSignal.timeout(2_000) });
        await res.arrayBuffer();
        if (res.status === 200) break;
      } catch {
        // not listening yet
      }
    }
    await sleep(POLL_INTERVAL_MS);
  }

  const pid = child.pid;
  if (pid === undefined) throw failure('has no pid');

  const stop = async (signal: NodeJS.Signals = 'SIGTERM', stopTimeoutMs = 10_000): Promise<number | null> => {
    if (exitCode !== undefined) return exitCode;
    child.kill(signal);
    const timer = setTimeout(() => child.kill('SIGKILL'), stopTimeoutMs);
    try {
      return await exited;
    } finally {
      clearTimeout(timer);
    }
  };

  return {
    url: readyUrl.origin,
    pid,
    exited,
    stop,
    kill: () => stop('SIGKILL'),
    output: () => log.toString(),
  };
}

/**
 * Runs `fn`; if it throws an Error, appends the last `tailChars` characters of each server's
 * captured output to its message before rethrowing, so a failing test shows what the servers
 * logged. `servers` is read when the failure happens (servers may start inside `fn`).
 */
export async function withServerOutput<T>(
  servers: () => ReadonlyArray<{ name: string; handle: ServerHandle | undefined }>,
  fn: () => Promise<T>,
  tailChars = 8_000,
): Promise<T> {
  try {
    return await fn();
  } catch (err) {
    if (err instanceof Error) {
      let extra = '';
      for (const { name, handle } of servers()) {
        if (handle === undefined) continue;
        const out = handle.output();
        const tail = out.length > tailChars ? `[...]${out.slice(-tailChars)}` : out;
        extra += `\n--- ${name} output (pid ${handle.pid}) ---\n${tail.trim() === '' ? '(none)' : tail}`;
      }
      err.message += extra;
      // Reporters print the stack, which was rendered with the original message.
      if (err.stack !== undefined) err.stack += extra;
    }
    throw err;
  }
}

/** What a command that ran to completion printed, and how it exited. */
export interface CommandResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs a command to completion, feeding `stdin` (then closing it), with extra environment
 * variables; rejects with the output so far when it takes longer than `timeoutMs`.
 */
export function runCommand(
  command: string,
  args: readonly string[],
  options: { stdin?: string; env?: Readonly<Record<string, string>>; cwd?: string; timeoutMs?: number } = {},
): Promise<CommandResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: options.cwd, env: { ...process.env, ...options.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout?.setEncoding('utf8').on('data', (c: string) => (stdout += c));
    child.stderr?.setEncoding('utf8').on('data', (c: string) => (stderr += c));
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${command} ${args.join(' ')} did not finish: ${stdout}${stderr}`));
    }, options.timeoutMs ?? 30_000);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
    child.stdin?.on('error', () => undefined); // EPIPE when the command exits without reading its input
    child.stdin?.end(options.stdin ?? '');
  });
}
