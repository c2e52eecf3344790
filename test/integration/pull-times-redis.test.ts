// The Redis pull-time store against a real redis-server: the shared suite (with a second client as
// another replica), what survives a recorder's restart, and a recorder riding out an outage.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { connectRedis, type RedisClient } from '../../src/cache/redis-client.js';
import type { RedisSettings } from '../../src/cache/redis-schema.js';
import { createLogger } from '../../src/log/logger.js';
import { digestOf } from '../../src/oci/digest.js';
import { PullTimeRecorder, pulledAt } from '../../src/lifecycle/pull-times.js';
import { RedisPullTimeStore } from '../../src/lifecycle/redis-pull-times.js';
import { pullTimeStoreSuite } from '../suites/pull-time-store.js';

const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });
const A = digestOf(Buffer.from('a'));

function settings(addr: string): RedisSettings {
  return { addr, addrs: [], username: '', password: '', db: 0, dialtimeout: 1000, readtimeout: 500, writetimeout: 500, tls: { enabled: false, certificate: '', key: '', clientcas: [], insecureskipverify: false }, ttl: 60_000 };
}

describe('redis pull-time store (real redis-server)', () => {
  let redis: RedisServer;
  const clients: RedisClient[] = [];
  const connect = async (): Promise<RedisClient> => {
    const client = await connectRedis(settings(redis.addr), logger);
    clients.push(client);
    return client;
  };
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    for (const c of clients) c.disconnect();
    await redis.stop();
  });

  pullTimeStoreSuite('redis', async () => ({ store: new RedisPullTimeStore(await connect()), sibling: new RedisPullTimeStore(await connect()), cleanup: () => Promise.resolve() }));

  it('stores one hash per repository, field = digest, value = ms', async () => {
    const client = await connect();
    await new RedisPullTimeStore(client).merge([{ repository: 'team/app', digest: A, at: 1234.9 }]);
    assert.deepEqual(await client.hgetall('berth:pulls:team/app'), { [A]: '1234' });
  });

  it('keeps pull times across a restart of the recorder (another process reads them)', async () => {
    const first = new PullTimeRecorder({ store: new RedisPullTimeStore(await connect()) });
    first.record('restart/app', A, 42_000);
    await first.close();
    const second = new PullTimeRecorder({ store: new RedisPullTimeStore(await connect()) });
    assert.deepEqual(pulledAt(await second.read('restart/app'), A), new Date(42_000));
  });

  it('a recorder keeps its pulls through an outage and flushes them once Redis is back', async () => {
    const client = await connect();
    const errors: unknown[] = [];
    const recorder = new PullTimeRecorder({ store: new RedisPullTimeStore(client), onError: (e) => errors.push(e) });
    await redis.pause();
    try {
      recorder.record('outage/app', A, 7000);
      await assert.rejects(recorder.flush());
      assert.equal(recorder.pending, 1);
    } finally {
      await redis.resume();
    }
    const deadline = Date.now() + 10_000;
    for (;;) {
      try {
        await recorder.flush();
        break;
      } catch (err) {
        if (Date.now() > deadline) throw err;
        await new Promise((r) => setTimeout(r, 100)); // ioredis reconnects on its own
      }
    }
    assert.deepEqual(await new RedisPullTimeStore(await connect()).read('outage/app'), new Map([[A, 7000]]));
  });
});
