/**
 * Pull times shared by the replicas through Redis (the `redis` section), kept across restarts. One hash
 * per repository, field = manifest digest, value = the last pull time in ms since the epoch:
 *
 *   berth:pulls:<repository>    hash: digest -> ms
 *
 * A merge is one small Lua script per repository and batch that writes each field only when the new
 * time is later (HSET of the max of old and new), so replicas flushing in any order agree.
 */
import type { RedisClient } from '../cache/redis-client.js';
import { tryParseDigest, type Digest } from '../oci/digest.js';
import type { PullTime, PullTimeStore } from './pull-times.js';

/** KEYS[1]: the repository's hash. ARGV: digest, ms, digest, ms, ... Sets each field to the later time. */
const MERGE_SCRIPT = `
for i = 1, #ARGV, 2 do
  local old = tonumber(redis.call('HGET', KEYS[1], ARGV[i]))
  local new = tonumber(ARGV[i + 1])
  if old == nil or old < new then redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
end
return 0`;

/** Digests merged per script call: keeps each call short, as Redis runs scripts one at a time. */
const BATCH = 500;

export class RedisPullTimeStore implements PullTimeStore {
  readonly #client: RedisClient;
  readonly #prefix: string;

  constructor(client: RedisClient, prefix = 'berth:pulls:') {
    this.#client = client;
    this.#prefix = prefix;
  }

  async merge(entries: readonly PullTime[]): Promise<void> {
    const byRepository = new Map<string, string[]>();
    for (const { repository, digest, at } of entries) {
      let args = byRepository.get(repository);
      if (args === undefined) byRepository.set(repository, (args = []));
      args.push(digest, String(Math.trunc(at)));
    }
    const calls: Array<Promise<unknown>> = [];
    for (const [repository, args] of byRepository) {
      for (let i = 0; i < args.length; i += 2 * BATCH) calls.push(this.#client.eval(MERGE_SCRIPT, 1, this.#key(repository), ...args.slice(i, i + 2 * BATCH)));
    }
    await Promise.all(calls);
  }

  async read(repository: string): Promise<Map<Digest, number>> {
    const fields = await this.#client.hgetall(this.#key(repository));
    const times = new Map<Digest, number>();
    for (const [field, value] of Object.entries(fields)) {
      const digest = tryParseDigest(field);
      const at = Number(value);
      if (digest !== undefined && Number.isFinite(at)) times.set(digest, at);
    }
    return times;
  }

  async forget(repository: string, digests?: readonly Digest[]): Promise<void> {
    if (digests === undefined) await this.#client.del(this.#key(repository));
    else if (digests.length > 0) await this.#client.hdel(this.#key(repository), ...digests);
  }

  #key(repository: string): string {
    return `${this.#prefix}${repository}`;
  }
}
