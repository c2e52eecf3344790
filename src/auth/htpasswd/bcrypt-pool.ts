/**
 * bcrypt comparisons on worker threads, so a flood of password guesses never blocks the event loop that
 * serves everything else. Workers start on the first comparison (a registry whose clients all send cached
 * credentials never starts one), each runs one comparison at a time, and they are unreferenced while idle so
 * they never keep a process alive. close() terminates them.
 */
import { availableParallelism } from 'node:os';
import { Worker } from 'node:worker_threads';
import type { BcryptCompare } from './hash.js';

/** The worker script: the compiled sibling of this module (dist/src/auth/htpasswd/bcrypt-worker.js). */
const WORKER_URL = new URL('./bcrypt-worker.js', import.meta.url);

interface Job {
  readonly id: number;
  readonly password: string;
  readonly hash: string;
  readonly resolve: (ok: boolean) => void;
}

interface Slot {
  readonly worker: Worker;
  job: Job | undefined;
}

/**
 * The number of workers a pool uses when none is configured: one per core, shared among `processes`
 * registry processes (`http.workers`), at least one each.
 */
export function defaultBcryptWorkers(processes = 1): number {
  return Math.max(1, Math.floor(availableParallelism() / Math.max(1, processes)));
}

/** A fixed-size pool of bcrypt worker threads. */
export class BcryptPool {
  readonly size: number;
  private readonly slots: Slot[] = [];
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;

  /** `size`: how many worker threads at most (default: one per core). */
  constructor(size: number = defaultBcryptWorkers()) {
    if (!Number.isInteger(size) || size < 1) throw new TypeError('bcrypt pool size must be a positive integer');
    this.size = size;
  }

  /** Compares on a worker; resolves false (never rejects) for an unusable hash, a crashed worker or a closed pool. */
  readonly compare: BcryptCompare = (password, hash) =>
    new Promise<boolean>((resolve) => {
      if (this.closed) {
        resolve(false);
        return;
      }
      this.queue.push({ id: this.nextId++, password, hash, resolve });
      this.dispatch();
    });

  /** Comparisons queued or running. */
  get pending(): number {
    return this.queue.length + this.slots.filter((s) => s.job !== undefined).length;
  }

  /** Terminates the workers; queued comparisons resolve false. */
  async close(): Promise<void> {
    this.closed = true;
    for (const job of this.queue.splice(0)) job.resolve(false);
    const slots = this.slots.splice(0);
    for (const slot of slots) {
      slot.job?.resolve(false);
      slot.job = undefined;
    }
    await Promise.all(slots.map((s) => s.worker.terminate()));
  }

  private dispatch(): void {
    while (this.queue.length > 0) {
      let slot = this.slots.find((s) => s.job === undefined);
      if (slot === undefined && this.slots.length < this.size) slot = this.spawn();
      if (slot === undefined) return;
      const job = this.queue.shift() as Job;
      slot.job = job;
      slot.worker.ref();
      slot.worker.postMessage({ id: job.id, password: job.password, hash: job.hash });
    }
  }

  private spawn(): Slot {
    const worker = new Worker(WORKER_URL);
    const slot: Slot = { worker, job: undefined };
    worker.on('message', (msg: { id: number; ok: boolean }) => {
      const job = slot.job;
      if (job === undefined || job.id !== msg.id) return;
      slot.job = undefined;
      worker.unref();
      job.resolve(msg.ok === true);
      this.dispatch();
    });
    const lost = (): void => {
      const i = this.slots.indexOf(slot);
      if (i !== -1) this.slots.splice(i, 1);
      slot.job?.resolve(false);
      slot.job = undefined;
      if (!this.closed) this.dispatch();
    };
    worker.on('error', lost);
    worker.on('exit', lost);
    worker.unref();
    this.slots.push(slot);
    return slot;
  }
}
