/**
 * `http.workers`: one registry process per core behind one listening socket (node:cluster). The
 * registry is stateless between requests (uploads carry their state in the signed URL, caches are
 * validated against storage), so workers behave as replicas on one host. What they share goes
 * through the primary:
 *
 * - the HTTP secret: generated once by the primary when none is configured, so an upload started
 *   on one worker continues on another;
 * - the catalog: a worker that creates or deletes a repository tells the others at once;
 * - metrics: the debug server (in worker 0, with upload purging) serves every worker's counters
 *   summed, collected by the primary with prom-client's AggregatorRegistry.
 *
 * The primary restarts a worker that dies, and gives up (exit 1) when workers keep dying. SIGTERM
 * or SIGINT to the primary drains every worker, then exits.
 */
import cluster, { type Worker } from 'node:cluster';
import { randomBytes } from 'node:crypto';
import { availableParallelism } from 'node:os';

import type { Logger } from '../log/logger.js';

/** The environment variable that tells a worker its index (0 runs the once-per-host duties). */
export const WORKER_INDEX_VARIABLE = 'BERTH_WORKER_INDEX';

/** How many workers `http.workers` asks for on this machine. */
export function workerCount(setting: number | 'auto'): number {
  return setting === 'auto' ? Math.max(1, availableParallelism()) : setting;
}

/** This process's worker index, or undefined when it is not a worker of `berth serve`. */
export function workerIndex(): number | undefined {
  if (!cluster.isWorker) return undefined;
  const value = Number(process.env[WORKER_INDEX_VARIABLE]);
  return Number.isInteger(value) && value >= 0 ? value : undefined;
}

/** Messages between the primary and its workers. */
type Message =
  | { readonly type: 'berth:repository'; readonly name: string }
  | { readonly type: 'berth:repository-removed'; readonly name: string }
  | { readonly type: 'berth:metrics-request'; readonly id: number }
  | { readonly type: 'berth:metrics-response'; readonly id: number; readonly body?: string; readonly error?: string };

function isMessage(value: unknown): value is Message {
  if (typeof value !== 'object' || value === null) return false;
  const type = (value as { type?: unknown }).type;
  return type === 'berth:repository' || type === 'berth:repository-removed' || type === 'berth:metrics-request' || type === 'berth:metrics-response';
}

/** Crash-loop guard: more than this many unexpected exits within the window stop the primary. */
const MAX_CRASHES = 5;
const CRASH_WINDOW_MS = 60_000;
const RESTART_DELAY_MS = 1_000;

/**
 * The secret the workers sign upload state with: the configured one, or (with a warning) one
 * generated for this process, so an upload started on one worker continues on another.
 */
function workersSecret(configured: string, logger: Logger): string {
  if (configured !== '') return configured;
  logger.warn('No HTTP secret provided - generated a random secret shared by this process\'s workers. Set http.secret (or REGISTRY_HTTP_SECRET) when several hosts serve the same storage.');
  return randomBytes(32).toString('hex');
}

/**
 * Relays the messages of `worker`: a repository it announces goes to every other connected
 * worker of `workers`; a metrics request is answered with `clusterMetrics()` (or its error).
 */
function relayMessages(worker: Worker, workers: ReadonlyMap<Worker, number>, clusterMetrics: () => Promise<string>): void {
  worker.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === 'berth:repository' || message.type === 'berth:repository-removed') {
      for (const other of workers.keys()) if (other !== worker && other.isConnected()) other.send(message);
    } else if (message.type === 'berth:metrics-request') {
      clusterMetrics().then(
        (body) => worker.isConnected() && worker.send({ type: 'berth:metrics-response', id: message.id, body } satisfies Message),
        (err: unknown) => worker.isConnected() && worker.send({ type: 'berth:metrics-response', id: message.id, error: err instanceof Error ? err.message : String(err) } satisfies Message),
      );
    }
  });
}

/** Records an unexpected worker exit at `now` in `crashes`, forgetting those older than the crash window. */
function recordCrash(crashes: number[], now: number): void {
  crashes.push(now);
  while (crashes.length > 0 && (crashes[0] as number) < now - CRASH_WINDOW_MS) crashes.shift();
}

/**
 * Runs the primary: forks `count` workers with the given secret, relays between them and keeps
 * them running. Resolves with the exit code once they have all stopped.
 */
export async function runPrimary(options: { readonly count: number; readonly secret: string; readonly logger: Logger }): Promise<number> {
  const { count, logger } = options;
  const secret = workersSecret(options.secret, logger);
  const { AggregatorRegistry } = await import('prom-client');
  const aggregator = new AggregatorRegistry();
  const indexOf = new Map<Worker, number>();
  const crashes: number[] = [];
  let stopping = false;
  let exitCode = 0;

  const fork = (index: number): void => {
    const worker = cluster.fork({ [WORKER_INDEX_VARIABLE]: String(index), REGISTRY_HTTP_SECRET: secret });
    indexOf.set(worker, index);
    relayMessages(worker, indexOf, () => aggregator.clusterMetrics());
  };

  return new Promise<number>((resolve) => {
    cluster.on('exit', (worker, code, signal) => {
      const index = indexOf.get(worker);
      indexOf.delete(worker);
      if (stopping) {
        if (indexOf.size === 0) resolve(exitCode);
        return;
      }
      recordCrash(crashes, Date.now());
      logger.error({ worker: index, code, signal }, 'worker exited unexpectedly');
      if (crashes.length > MAX_CRASHES) {
        logger.error(`${crashes.length} worker exits within ${CRASH_WINDOW_MS / 1000}s: stopping`);
        exitCode = 1;
        stop();
        if (indexOf.size === 0) resolve(exitCode);
        return;
      }
      setTimeout(() => {
        if (!stopping && index !== undefined) fork(index);
      }, RESTART_DELAY_MS).unref();
    });
    const stop = (): void => {
      stopping = true;
      for (const worker of indexOf.keys()) worker.process.kill('SIGTERM');
    };
    const onSignal = (signal: string): void => {
      if (stopping) return;
      logger.info({ signal, workers: indexOf.size }, 'shutting down');
      stop();
      if (indexOf.size === 0) resolve(exitCode);
    };
    process.once('SIGTERM', () => onSignal('SIGTERM'));
    process.once('SIGINT', () => onSignal('SIGINT'));
    logger.info({ workers: count }, `starting ${count} workers`);
    for (let i = 0; i < count; i++) fork(i);
  });
}

/** What a worker's registry needs from the cluster. */
export interface WorkerLink {
  /** Tells the other workers about a repository this worker created. */
  announceRepository(name: string): void;
  /** Tells the other workers about a repository this worker deleted. */
  announceRemoval(name: string): void;
  /** Every worker's metrics, summed (Prometheus text format). */
  clusterMetrics(): Promise<string>;
}

/**
 * Connects a worker to the primary: repositories announced by other workers are passed to
 * `onRepository` (created) and `onRepositoryRemoved` (deleted), and this worker's `registries` answer the primary's metrics collection.
 */
export async function joinCluster(options: {
  readonly onRepository: (name: string) => void;
  readonly onRepositoryRemoved?: (name: string) => void;
  readonly registries: readonly import('prom-client').Registry[];
}): Promise<WorkerLink> {
  const { AggregatorRegistry } = await import('prom-client');
  AggregatorRegistry.setRegistries([...options.registries]);
  new AggregatorRegistry(); // installs the listener that answers the primary's collection
  let nextId = 0;
  const pending = new Map<number, { resolve: (body: string) => void; reject: (err: Error) => void }>();
  process.on('message', (message: unknown) => {
    if (!isMessage(message)) return;
    if (message.type === 'berth:repository') options.onRepository(message.name);
    else if (message.type === 'berth:repository-removed') options.onRepositoryRemoved?.(message.name);
    else if (message.type === 'berth:metrics-response') {
      const waiter = pending.get(message.id);
      pending.delete(message.id);
      if (message.body !== undefined) waiter?.resolve(message.body);
      else waiter?.reject(new Error(message.error ?? 'no metrics'));
    }
  });
  const send = (message: Message): void => {
    if (process.send !== undefined && process.connected) process.send(message);
  };
  return {
    announceRepository: (name) => send({ type: 'berth:repository', name }),
    announceRemoval: (name) => send({ type: 'berth:repository-removed', name }),
    clusterMetrics: () =>
      new Promise<string>((resolve, reject) => {
        const id = nextId++;
        const timer = setTimeout(() => {
          pending.delete(id);
          reject(new Error('the primary did not answer the metrics request within 10 s'));
        }, 10_000);
        pending.set(id, {
          resolve: (body) => {
            clearTimeout(timer);
            resolve(body);
          },
          reject: (err) => {
            clearTimeout(timer);
            reject(err);
          },
        });
        send({ type: 'berth:metrics-request', id });
      }),
  };
}
