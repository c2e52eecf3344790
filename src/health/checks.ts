/**
 * The checks of Distribution's health/checks package, plus the storage driver probe, and the
 * function that turns the `health` configuration section into HealthMonitor checks.
 */
import { stat } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { connect } from 'node:net';
import { resolve } from 'node:path';
import type { StorageDriver } from '../storage/driver/driver.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import type { HealthCheck } from './monitor.js';
import { stripUserinfo } from '../log/redact.js';
import type { HealthConfig } from './schema.js';

/** A check body: resolves when healthy, rejects with what is wrong. */
export type CheckRun = (signal: AbortSignal) => Promise<void>;

/** Fails while `path` exists (e.g. a maintenance flag file); passes when it does not. */
export function fileCheck(path: string): CheckRun {
  const absolute = resolve(path);
  return async () => {
    try {
      await stat(absolute);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT' || (err as NodeJS.ErrnoException).code === 'ENOTDIR') return;
      throw new Error(`${path}: ${(err as Error).message}`, { cause: err });
    }
    throw new Error('file exists');
  };
}

/** What an HTTP check requests and expects. */
export interface HttpCheckOptions {
  readonly uri: string;
  readonly headers?: Readonly<Record<string, readonly string[]>>;
  /** The status the URI must answer with (exactly). Default 200. */
  readonly statusCode?: number;
}

/** Sends a HEAD request to `uri` (as Distribution does) and passes when the status is the expected one. */
export function httpCheck(options: HttpCheckOptions): CheckRun {
  const url = new URL(options.uri);
  const shown = stripUserinfo(options.uri);
  const expected = options.statusCode ?? 200;
  const headers: Record<string, string | string[]> = {};
  for (const [name, values] of Object.entries(options.headers ?? {})) headers[name] = values.length === 1 ? (values[0] as string) : [...values];
  const send = url.protocol === 'https:' ? httpsRequest : httpRequest;
  return (signal) =>
    new Promise<void>((done, fail) => {
      // A fresh connection each time: the check is about reaching the service, not a pooled socket.
      const req = send(url, { method: 'HEAD', headers, agent: false, signal }, (res) => {
        res.resume();
        const status = res.statusCode ?? 0;
        if (status === expected) done();
        else fail(new Error(`${shown}: downstream service returned unexpected status: ${status}`));
      });
      req.once('error', (err) => fail(new Error(`${shown}: error while checking: ${signal.aborted ? 'timed out' : err.message}`)));
      req.end();
    });
}

/** Opens a TCP connection to `addr` (`host:port`, `[v6]:port` or `:port` for this host) and closes it. */
export function tcpCheck(addr: string): CheckRun {
  const m = /^(?:\[([0-9A-Fa-f:.]+)\]|([^:[\]]*)):(\d{1,5})$/.exec(addr);
  if (m === null) throw new Error(`health: tcp check: expected host:port, got ${JSON.stringify(addr)}`);
  const host = m[1] ?? (m[2] === '' ? 'localhost' : m[2]);
  const port = Number(m[3]);
  return (signal) =>
    new Promise<void>((done, fail) => {
      const socket = connect({ host, port });
      const onAbort = (): void => {
        socket.destroy();
        fail(new Error(`${addr}: connection failed: timed out`));
      };
      signal.addEventListener('abort', onAbort, { once: true });
      socket.once('connect', () => {
        signal.removeEventListener('abort', onAbort);
        socket.destroy();
        done();
      });
      socket.once('error', (err) => {
        signal.removeEventListener('abort', onAbort);
        fail(new Error(`${addr}: connection failed: ${err.message}`));
      });
    });
}

/**
 * Checks that the storage backend answers: a stat of the root, as Distribution does. A missing
 * root (an empty bucket, a registry that stored nothing yet) is an answer, so it passes.
 */
export function storageDriverProbe(driver: StorageDriver): CheckRun {
  return async (signal) => {
    try {
      await driver.stat('/', signal);
    } catch (err) {
      if (isPathNotFound(err)) return;
      throw err;
    }
  };
}

/** The storage driver check's inputs: the driver's name (`storage.driver`) and how to probe it. */
export interface StorageCheckInput {
  readonly name: string;
  readonly probe: CheckRun;
}

/**
 * The checks the `health` section configures, named as Distribution names them:
 * `storagedriver_<driver>` (when `storagedriver.enabled` and `storage` is given), each file path,
 * each URI and each TCP address. A timeout of 0 means the check's interval.
 */
export function buildHealthChecks(config: HealthConfig, storage?: StorageCheckInput): HealthCheck[] {
  const checks: HealthCheck[] = [];
  const sd = config.storagedriver;
  if (sd.enabled && storage !== undefined) {
    checks.push({ name: `storagedriver_${storage.name}`, run: storage.probe, intervalMs: sd.interval, threshold: sd.threshold });
  }
  for (const c of config.file) checks.push({ name: c.file, run: fileCheck(c.file), intervalMs: c.interval, threshold: c.threshold });
  for (const c of config.http) {
    checks.push({
      name: stripUserinfo(c.uri),
      run: httpCheck({ uri: c.uri, headers: c.headers, statusCode: c.statuscode }),
      intervalMs: c.interval,
      threshold: c.threshold,
      ...(c.timeout > 0 ? { timeoutMs: c.timeout } : {}),
    });
  }
  for (const c of config.tcp) {
    checks.push({ name: c.addr, run: tcpCheck(c.addr), intervalMs: c.interval, threshold: c.threshold, ...(c.timeout > 0 ? { timeoutMs: c.timeout } : {}) });
  }
  return checks;
}
