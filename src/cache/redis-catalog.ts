import { randomUUID } from 'node:crypto';
import type { SharedCatalog } from '../storage/catalog.js';
import type { RedisClient } from './redis-client.js';

/** How long a replica may seed the shared catalog before another one may take over. */
const SEED_GUARD_MS = 10 * 60_000;
/** Names recorded per script call while seeding. */
const SEED_BATCH = 1_000;

/**
 * Records names not yet in the set, each with the next sequence number, atomically: a reader
 * that has seen sequence number s has seen every name numbered up to s. A name deleted before
 * leaves the removed set. KEYS: names (sorted set), seq (counter), removed (sorted set). ARGV: the names.
 */
const ADD_SCRIPT = `
for i = 1, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) == false then
    redis.call('ZADD', KEYS[1], redis.call('INCR', KEYS[2]), ARGV[i])
    redis.call('ZREM', KEYS[3], ARGV[i])
  end
end
return 0`;

/**
 * Moves names from the set to the removed set, each with the next sequence number, atomically
 * (a name is in at most one of the two). KEYS: names, seq, removed. ARGV: the names.
 */
const REMOVE_SCRIPT = `
for i = 1, #ARGV do
  if redis.call('ZSCORE', KEYS[3], ARGV[i]) == false then
    redis.call('ZREM', KEYS[1], ARGV[i])
    redis.call('ZADD', KEYS[3], redis.call('INCR', KEYS[2]), ARGV[i])
  end
end
return 0`;

/**
 * The names recorded and removed after ARGV[1], the counter and the seeding's epoch; nil when no
 * seeding has completed (never seeded, or flushed). KEYS: names, seq, epoch, removed.
 */
const CHANGES_SCRIPT = `
local epoch = redis.call('GET', KEYS[3])
if not epoch then return false end
local seq = redis.call('GET', KEYS[2]) or '0'
local after = '(' .. ARGV[1]
return {epoch, seq, redis.call('ZRANGEBYSCORE', KEYS[1], after, '+inf'), redis.call('ZRANGEBYSCORE', KEYS[4], after, '+inf')}`;

/** Deletes KEYS[1] when it still holds ARGV[1] (the guard this replica took). */
const RELEASE_SCRIPT = `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`;

/**
 * The catalog shared by replicas through Redis (used whenever a `redis` section is configured,
 * unless `catalog.redis: false`). Keys, all in one Redis Cluster hash slot:
 *
 *   berth:{catalog}:names    sorted set: repository name -> the sequence number it was recorded with
 *   berth:{catalog}:removed  sorted set: deleted repository name -> the sequence number of its deletion
 *   berth:{catalog}:seq      the last sequence number given
 *   berth:{catalog}:epoch    set when a seeding from a storage walk completed (a random id)
 *   berth:{catalog}:seeding  the guard of the replica seeding now (expires after 10 minutes)
 *
 * A flush removes the epoch, so the next page of any replica seeds again; a new epoch tells the
 * replicas that read up to an older sequence number to read the set whole. A deleted repository
 * stays in the removed set (a few bytes per deleted name) until it is pushed again or Redis is
 * flushed, so a replica that read up to any earlier sequence number learns of the deletion.
 */
export class RedisSharedCatalog implements SharedCatalog {
  readonly #client: RedisClient;
  readonly #names: string;
  readonly #seq: string;
  readonly #epochKey: string;
  readonly #seeding: string;
  readonly #removed: string;
  #epoch: string | undefined;

  constructor(client: RedisClient, prefix = 'berth:{catalog}:') {
    this.#client = client;
    this.#names = `${prefix}names`;
    this.#seq = `${prefix}seq`;
    this.#epochKey = `${prefix}epoch`;
    this.#seeding = `${prefix}seeding`;
    this.#removed = `${prefix}removed`;
  }

  async changes(since: number): Promise<{ names: readonly string[]; seq: number; reset: boolean; removed: readonly string[] } | undefined> {
    const reply: unknown = await this.#client.eval(CHANGES_SCRIPT, 4, this.#names, this.#seq, this.#epochKey, this.#removed, String(since));
    if (reply === null) return undefined;
    if (!Array.isArray(reply) || reply.length !== 4) throw new Error('redis catalog: unexpected reply to the changes script');
    const [epoch, seqText, names, removed] = reply as [unknown, unknown, unknown, unknown];
    const seq = Number(seqText);
    if (typeof epoch !== 'string' || !Number.isSafeInteger(seq) || !isStrings(names) || !isStrings(removed)) {
      throw new Error('redis catalog: unexpected reply to the changes script');
    }
    const reset = this.#epoch !== undefined && this.#epoch !== epoch;
    this.#epoch = epoch;
    return { names, seq, reset, removed };
  }

  async add(names: readonly string[]): Promise<void> {
    for (let i = 0; i < names.length; i += SEED_BATCH) {
      await this.#client.eval(ADD_SCRIPT, 3, this.#names, this.#seq, this.#removed, ...names.slice(i, i + SEED_BATCH));
    }
  }

  async remove(names: readonly string[]): Promise<void> {
    for (let i = 0; i < names.length; i += SEED_BATCH) {
      await this.#client.eval(REMOVE_SCRIPT, 3, this.#names, this.#seq, this.#removed, ...names.slice(i, i + SEED_BATCH));
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

function isStrings(value: unknown): value is string[] {
  return Array.isArray(value) && value.every((n): n is string => typeof n === 'string');
}
