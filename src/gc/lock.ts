import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import type { StorageDriver } from '../storage/driver/driver.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import { GC_LOCK_PATH } from '../storage/paths.js';

/**
 * Which replica sweeps now. Online GC takes it before a run, renews it while running and releases it
 * after. It saves duplicate work; safety does not depend on it (see docs/garbage-collection.md: two
 * overlapping runs cannot delete anything a single run would not). A Redis implementation
 * (`SET key token NX PX ttl`, renew and release by compare-and-set script) fits the same contract.
 */
export interface GcLock {
  /** Takes the lock for `ttlMs` unless another owner holds it unexpired. Resolves true when taken. */
  acquire(ttlMs: number): Promise<boolean>;
  /** Extends a held lock to `ttlMs` from now. Resolves false when it was lost (expired and taken over). */
  renew(ttlMs: number): Promise<boolean>;
  /** Releases the lock if this owner still holds it. */
  release(): Promise<void>;
}

/** Options of StorageGcLock. */
export interface StorageGcLockOptions {
  /** Names this replica in the lock object (default: host, pid and a random suffix). */
  readonly owner?: string;
  readonly clock?: () => Date;
  /**
   * How long to wait between writing the lock and reading it back. Two replicas that both found the lock
   * free both write; whoever wrote last wins, and the wait lets the loser see that. Default 250 ms.
   */
  readonly settleMs?: number;
  readonly sleep?: (ms: number) => Promise<void>;
}

interface LockRecord {
  readonly owner: string;
  readonly token: string;
  readonly expiresAt: string;
}

/** A random owner id for this process: host, pid and 6 random bytes. */
export function defaultOwnerId(): string {
  return `${hostname()}-${process.pid}-${randomBytes(6).toString('hex')}`;
}

/**
 * GcLock as an object in the registry's storage (`/docker/registry/v2/_berth/gc/lock`), holding the
 * owner, a token unique to this acquisition and the expiry. Object stores offer no compare-and-swap, so
 * acquisition is write, wait `settleMs`, read back; an expired lock may be taken over.
 */
export class StorageGcLock implements GcLock {
  readonly owner: string;
  readonly #clock: () => Date;
  readonly #settleMs: number;
  readonly #sleep: (ms: number) => Promise<void>;
  #token: string | undefined;

  constructor(
    private readonly driver: StorageDriver,
    options: StorageGcLockOptions = {},
  ) {
    this.owner = options.owner ?? defaultOwnerId();
    this.#clock = options.clock ?? (() => new Date());
    this.#settleMs = options.settleMs ?? 250;
    this.#sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
  }

  async acquire(ttlMs: number): Promise<boolean> {
    const current = await this.#read();
    if (current !== undefined && current.token !== this.#token && Date.parse(current.expiresAt) > this.#clock().getTime()) return false;
    const token = randomBytes(12).toString('hex');
    await this.#write(token, ttlMs);
    if (this.#settleMs > 0) await this.#sleep(this.#settleMs);
    const back = await this.#read();
    if (back?.token !== token) return false;
    this.#token = token;
    return true;
  }

  async renew(ttlMs: number): Promise<boolean> {
    if (this.#token === undefined) return false;
    const current = await this.#read();
    if (current?.token !== this.#token) {
      this.#token = undefined;
      return false;
    }
    await this.#write(this.#token, ttlMs);
    return true;
  }

  async release(): Promise<void> {
    const token = this.#token;
    this.#token = undefined;
    if (token === undefined) return;
    const current = await this.#read();
    if (current?.token !== token) return;
    try {
      await this.driver.delete(GC_LOCK_PATH);
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
  }

  async #write(token: string, ttlMs: number): Promise<void> {
    const record: LockRecord = { owner: this.owner, token, expiresAt: new Date(this.#clock().getTime() + ttlMs).toISOString() };
    await this.driver.putContent(GC_LOCK_PATH, Buffer.from(JSON.stringify(record)));
  }

  async #read(): Promise<LockRecord | undefined> {
    let raw: Buffer;
    try {
      raw = await this.driver.getContent(GC_LOCK_PATH);
    } catch (err) {
      if (isPathNotFound(err)) return undefined;
      throw err;
    }
    try {
      const value: unknown = JSON.parse(raw.toString('utf8'));
      if (typeof value !== 'object' || value === null) return undefined;
      const { owner, token, expiresAt } = value as Record<string, unknown>;
      if (typeof owner !== 'string' || typeof token !== 'string' || typeof expiresAt !== 'string' || Number.isNaN(Date.parse(expiresAt))) return undefined;
      return { owner, token, expiresAt };
    } catch {
      return undefined; // a damaged lock object is a free lock
    }
  }
}
