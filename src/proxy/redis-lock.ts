/**
 * The Redis {@link ExclusiveLock}: which replica fetches a key from the upstream. A holder sets
 * `<prefix><key>` to a random token with `SET NX PX <ttl>` and extends it every ttl/3 while its work
 * runs, so a replica that dies mid-fill holds the lock for at most `ttl`; it releases by deleting the key
 * only while the token is still its own (a Lua compare-and-delete). A waiter polls `SET NX` (with jitter)
 * until it wins, then runs its own work, which finds the winner's content in storage.
 *
 * Redis unreachable (a command fails): the work runs without the lock and `onError` is told, so an outage
 * of the cache costs at most a duplicate upstream fetch, never a failed pull.
 */
import { randomBytes } from 'node:crypto';
import { abortable, type ExclusiveLock } from './coalesce.js';

/** The Redis commands the lock uses, as ioredis types them (a Redis or a Cluster client satisfies it). */
export interface LockCommands {
  set(key: string, value: string, px: 'PX', milliseconds: number, nx: 'NX'): Promise<'OK' | null>;
  eval(script: string, numKeys: number, ...args: Array<string | number>): Promise<unknown>;
}

/** Options of {@link RedisLock}. */
export interface RedisLockOptions {
  /** Key prefix. Default `berth:proxy:lock:`. */
  readonly prefix?: string;
  /** How long a lock lives without being extended, ms. Default 30 s. */
  readonly ttlMs?: number;
  /** Time between two attempts of a waiter, ms (plus up to half of it in jitter). Default 100 ms. */
  readonly pollMs?: number;
  /** A waiter gives up waiting after this long and runs its work anyway, ms. Default 10 min. */
  readonly maxWaitMs?: number;
  /** Told of a Redis failure (the work then runs unlocked). */
  readonly onError?: (err: unknown, key: string) => void;
}

const RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end";
const EXTEND = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('pexpire', KEYS[1], ARGV[2]) else return 0 end";

export class RedisLock implements ExclusiveLock {
  readonly #prefix: string;
  readonly #ttl: number;
  readonly #poll: number;
  readonly #maxWait: number;

  constructor(
    private readonly redis: LockCommands,
    private readonly options: RedisLockOptions = {},
  ) {
    this.#prefix = options.prefix ?? 'berth:proxy:lock:';
    this.#ttl = options.ttlMs ?? 30_000;
    this.#poll = options.pollMs ?? 100;
    this.#maxWait = options.maxWaitMs ?? 600_000;
  }

  async withLock<T>(key: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    const name = `${this.#prefix}${key}`;
    const token = randomBytes(16).toString('hex');
    const deadline = Date.now() + this.#maxWait;
    for (;;) {
      let acquired: boolean;
      try {
        acquired = (await this.redis.set(name, token, 'PX', this.#ttl, 'NX')) === 'OK';
      } catch (err) {
        this.options.onError?.(err, key);
        return work();
      }
      if (acquired) return this.#holding(name, token, key, work);
      if (Date.now() >= deadline) return work();
      await abortable(sleep(this.#poll + Math.random() * (this.#poll / 2)), signal ?? new AbortController().signal);
    }
  }

  async #holding<T>(name: string, token: string, key: string, work: () => Promise<T>): Promise<T> {
    const timer = setInterval(() => {
      this.redis.eval(EXTEND, 1, name, token, this.#ttl).catch((err: unknown) => this.options.onError?.(err, key));
    }, Math.max(10, Math.floor(this.#ttl / 3)));
    timer.unref();
    try {
      return await work();
    } finally {
      clearInterval(timer);
      await this.redis.eval(RELEASE, 1, name, token).catch((err: unknown) => this.options.onError?.(err, key));
    }
  }
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}
