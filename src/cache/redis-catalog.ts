import { randomUUID } from 'node:crypto';
import type { SharedCatalog } from '../storage/catalog.js';
import type { RedisClient } from './redis-client.js';

/** How long a replica may seed the shared catalog before another one may take over. */
const SEED_GUARD_MS = 10 * 60_000;
/** Names recorded per script call while seeding. */
const SEED_BATCH = 1_000;

/**
 * Records names not yet in the set, each with the next sequence number, atomically: a reader
 * that has seen sequence number s has seen every name numbered up to s.
 * KEYS: names (sorted set), seq (counter). ARGV: the names.
 */
const ADD_SCRIPT = `
for i = 1, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == false then
    redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[i])
  end
end
return 0`;

/**
 * The names numbered after ARGV[1], the counter and the seeding's epoch; nil when no seeding has
 * completed (never seeded, or flushed). KEYS: names, seq, epoch.
 */
const CHANGES_SCRIPT = `
local epoch = redis.call('GET', KEYS[3])
if not epoch then return false end
local seq = redis.call('GET', KEYS[2]) or '0'
return {epoch, seq, redis.call('ZRANGEBYSCORE', KEYS[1], '(' .. ARGV[1], '+inf')}`;

/** Deletes KEYS[1] when it still holds ARGV[1] (the guard this replica took). */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * The catalog shared by replicas through Redis (used whenever a `redis` section is configured,
 * unless `catalog.redis: false`). Keys, all in one Redis Cluster hash slot:
 *
 *   berth:{catalog}:names    sorted set: repository name -> the sequence number it was recorded with
 *   berth:{catalog}:seq      the last sequence number given
 *   berth:{catalog}:epoch    set when a seeding from a storage walk completed (a random id)
 *   berth:{catalog}:seeding  the guard of the replica seeding now (expires after 10 minutes)
 *
 * A flush removes the epoch, so the next page of any replica seeds again; a new epoch tells the
 * replicas that read up to an older sequence number to read the set whole.
 */
export class RedisSharedCatalog implements SharedCatalog {
  readonly #client: RedisClient;
  readonly #names: string;
  readonly #seq: string;
  readonly #epochKey: string;
  readonly #seeding: string;
  #epoch: string | undefined;

  constructor(client: RedisClient, prefix = 'berth:{catalog}:') {
    this.#client = client;
    this.#names = `${prefix}names`;
    this.#seq = `${prefix}seq`;
    this.#epochKey = `${prefix}epoch`;
    this.#seeding = `${prefix}seeding`;
  }

  async changes(since: number): Promise<{ names: readonly string[]; seq: number; reset: boolean } | undefined> {
    const reply: unknown = await this.#client.eval(CHANGES_SCRIPT, 3, this.#names, this.#seq, this.#epochKey, String(since));
    if (reply === null) return undefined;
    if (!Array.isArray(reply) || reply.length !== 3) throw new Error('redis catalog: unexpected reply to the changes script');
    const [epoch, seqText, names] = reply as [unknown, unknown, unknown];
    const seq = Number(seqText);
    if (typeof epoch !== 'string' || !Number.isSafeInteger(seq) || !Array.isArray(names) || !names.every((n): n is string => typeof n === 'string')) {
      throw new Error('redis catalog: unexpected reply to the changes script');
    }
    const reset = this.#epoch !== undefined && this.#epoch !== epoch;
    this.#epoch = epoch;
    return { names, seq, reset };
  }

  async add(names: readonly string[]): Promise<void> {
    for (let i = 0; i < names.length; i += SEED_BATCH) {
      await this.#client.eval(ADD_SCRIPT, 2, this.#names, this.#seq, ...names.slice(i, i + SEED_BATCH));
    }
  }

  async seed(walk: () => Promise<readonly string[]>): Promise<boolean> {
    const token = randomUUID();
    if ((await this.#client.set(this.#seeding, token, 'PX', SEED_GUARD_MS, 'NX')) !== 'OK') return false;
    try {
      await this.add(await walk());
      await this.#client.set(this.#epochKey, token);
      return true;
    } finally {
      await this.#client.eval(RELEASE_SCRIPT, 1, this.#seeding, token).catch(() => undefined);
    }
  }
}
