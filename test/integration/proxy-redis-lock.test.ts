// The Redis lock that orders replicas' upstream fetches, against a real redis-server: two clients (two
// replicas) never run the work for one key at once, a dead holder's lock expires, and Redis down runs
// the work unlocked rather than failing the pull.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connectRedis, type RedisClient } from '../../src/cache/redis-client.js';
import type { RedisSettings } from '../../src/cache/redis-schema.js';
import { createLogger } from '../../src/log/logger.js';
import { SingleFlight } from '../../src/proxy/coalesce.js';
import { RedisLock, type LockCommands } from '../../src/proxy/redis-lock.js';
import { startRedis, type RedisServer } from '../helpers/redis.js';

const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });

function settings(addr: string): RedisSettings {
  return { addr, addrs: [], username: '', password: '', db: 0, dialtimeout: 1000, readtimeout: 500, writetimeout: 500, tls: { enabled: false, certificate: '', key: '', clientcas: [], insecureskipverify: false }, ttl: 60_000 };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('RedisLock (real redis-server)', { timeout: 60_000 }, () => {
  let redis: RedisServer;
  let a: RedisClient;
  let b: RedisClient;
  before(async () => {
    redis = await startRedis();
    a = await connectRedis(settings(redis.addr), logger);
    b = await connectRedis(settings(redis.addr), logger);
  });
  after(async () => {
    a?.disconnect();
    b?.disconnect();
    await redis?.stop();
  });

  it('an ioredis client is what the lock needs', () => {
    const commands: LockCommands = a;
    assert.ok(commands);
  });

  it('two replicas: the work for one key never overlaps; the second runs after the first and finds its result', async () => {
    const stored = new Set<string>();
    let running = 0;
    let maxRunning = 0;
    let fetches = 0;
    // The work a fill does: look in storage first, fetch only on a miss.
    const work = async (): Promise<string> => {
      running++;
      maxRunning = Math.max(maxRunning, running);
      try {
        if (stored.has('k')) return 'hit';
        fetches++;
        await sleep(300);
        stored.add('k');
        return 'fetched';
      } finally {
        running--;
      }
    };
    const replicaA = new SingleFlight({ lock: new RedisLock(a, { pollMs: 20 }) });
    const replicaB = new SingleFlight({ lock: new RedisLock(b, { pollMs: 20 }) });
    const results = await Promise.all([replicaA.run('k', work), replicaA.run('k', work), replicaB.run('k', work), replicaB.run('k', work)]);
    assert.equal(maxRunning, 1);
    assert.equal(fetches, 1);
    assert.deepEqual(results.sort(), ['fetched', 'fetched', 'hit', 'hit']);
    assert.equal(await a.exists('berth:proxy:lock:k'), 0, 'released');
  });

  it('the lock is extended while the work runs past its ttl', async () => {
    const lockA = new RedisLock(a, { ttlMs: 200, pollMs: 20 });
    const lockB = new RedisLock(b, { ttlMs: 200, pollMs: 20 });
    const order: string[] = [];
    const long = lockA.withLock('long', async () => {
      order.push('a start');
      await sleep(700);
      order.push('a end');
    });
    await sleep(50);
    await lockB.withLock('long', async () => {
      order.push('b');
    });
    await long;
    assert.deepEqual(order, ['a start', 'a end', 'b']);
  });

  it("a dead holder's lock expires after its ttl", async () => {
    await a.set('berth:proxy:lock:dead', 'someone-else', 'PX', 300, 'NX');
    const started = Date.now();
    await new RedisLock(b, { pollMs: 20 }).withLock('dead', async () => undefined);
    const waited = Date.now() - started;
    assert.ok(waited >= 200 && waited < 2_000, `${waited} ms`);
  });

  it('releases only its own lock', async () => {
    const lock = new RedisLock(a, { ttlMs: 100, pollMs: 20 });
    await lock.withLock('own', async () => {
      await sleep(10);
      // Someone else took the key over (the lock expired meanwhile, say): ours must not delete theirs.
      await b.set('berth:proxy:lock:own', 'theirs', 'PX', 5_000);
    });
    assert.equal(await a.get('berth:proxy:lock:own'), 'theirs');
  });

  it('a waiter that aborts leaves at once', async () => {
    await a.set('berth:proxy:lock:held', 'x', 'PX', 5_000, 'NX');
    const controller = new AbortController();
    const waiting = new RedisLock(b, { pollMs: 20 }).withLock('held', async () => 'ran', controller.signal);
    setTimeout(() => controller.abort(new Error('client went away')), 100);
    await assert.rejects(waiting, /client went away/);
  });

  it('Redis unreachable: the work runs unlocked and the error is reported', async () => {
    const errors: unknown[] = [];
    await redis.pause();
    try {
      const started = Date.now();
      const result = await new RedisLock(a, { onError: (err) => errors.push(err) }).withLock('down', async () => 'ran');
      assert.equal(result, 'ran');
      assert.ok(errors.length >= 1);
      assert.ok(Date.now() - started < 2_000);
    } finally {
      await redis.resume();
    }
  });
});
