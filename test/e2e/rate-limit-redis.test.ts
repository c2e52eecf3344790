// Request rate limits shared through a real redis-server: two Berth instances (built by serve.ts from a
// configuration set with REGISTRY_HTTP_RATELIMIT_* variables) draw from one budget; with Redis killed
// mid-test every request is allowed at once (fail open, counted, logged once) and never waits for the
// timeout; with Redis hung (SIGSTOP) a decision gives up after http.ratelimit.redistimeout and the next
// ones skip Redis; once Redis is back the limits apply again.
import { describe, it, before, after, beforeEach } from 'node:test';
import { Redis } from 'ioredis';
import assert from 'node:assert/strict';
import type { AddressInfo } from 'node:net';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { until } from '../helpers/wait.js';
import { applyEnvOverrides } from '../../src/config/env.js';
import { parseConfig } from '../../src/config/load.js';
import { startRegistry, type RunningRegistry } from '../../src/cli/serve.js';
import { createRateLimiter } from '../../src/ratelimit/from-config.js';
import type { RequestRateLimiter } from '../../src/ratelimit/limiter.js';
import { RegistryMetrics } from '../../src/metrics/metrics.js';
import { createLogger } from '../../src/log/logger.js';

function sample(body: string, series: string): number {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

async function status(url: string): Promise<number> {
  const res = await fetch(url);
  await res.arrayBuffer();
  return res.status;
}

const HOURLY = 1 / 3600;

describe('rate limits shared through Redis', { timeout: 5 * 60_000 }, () => {
  let redis: RedisServer;
  before(async () => {
    redis = await startRedis();
  });
  after(async () => {
    redis?.thaw();
    await redis?.stop();
  });

  it('two replicas configured from REGISTRY_HTTP_RATELIMIT_* draw from one budget', async () => {
    const env = {
      REGISTRY_HTTP_RATELIMIT_ENABLED: 'true',
      REGISTRY_HTTP_RATELIMIT_READS_RATE: String(HOURLY),
      REGISTRY_HTTP_RATELIMIT_READS_BURST: '6',
      REGISTRY_HTTP_RATELIMIT_REDISTIMEOUT: '30s', // a decision here must come from Redis, never from a timeout
    };
    const tree = { version: '0.1', log: { level: 'warn', accesslog: { disabled: true } }, storage: { inmemory: {} }, redis: { addr: redis.addr }, http: { addr: '127.0.0.1:0', secret: 'shared' } };
    const config = parseConfig(applyEnvOverrides(tree, env));
    assert.equal(config.http.ratelimit.store, 'auto');
    const replicas: RunningRegistry[] = [];
    try {
      for (let i = 0; i < 2; i++) replicas.push(await startRegistry(config));
      const urls = replicas.map((r) => `http://127.0.0.1:${(r.server.address() as AddressInfo).port}`);
      const answers: number[] = [];
      for (let i = 0; i < 12; i++) answers.push(await status(`${urls[i % 2]}/v2/_catalog`));
      // Six in all, through A and B together; then both refuse.
      assert.deepEqual(answers, [200, 200, 200, 200, 200, 200, 429, 429, 429, 429, 429, 429]);
      const res = await fetch(`${urls[1]}/v2/_catalog`);
      assert.equal(res.status, 429);
      const retryAfter = Number(res.headers.get('retry-after'));
      assert.ok(retryAfter > 3000 && retryAfter <= 3600, `Retry-After ${res.headers.get('retry-after')}`);
      assert.equal(((await res.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'TOOMANYREQUESTS');
      // The probes are still exempt.
      assert.equal(await status(`${urls[0]}/v2/`), 200);
      // One key for the client's reads, expiring when its bucket would be full again (six tokens: six hours).
      const client = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
      try {
        await client.connect();
        assert.deepEqual(await client.keys('berth:ratelimit:*'), ['berth:ratelimit:reads:a:127.0.0.1']);
        const ttl = await client.pttl('berth:ratelimit:reads:a:127.0.0.1');
        assert.ok(ttl > 5 * 3600_000 && ttl <= 6 * 3600_000 + 1000, `PTTL ${ttl}`);
      } finally {
        client.disconnect();
      }
    } finally {
      for (const r of replicas) await r.stop();
    }
  });

  describe('when Redis fails', () => {
    const logs: Array<{ msg: string; reason?: string }> = [];
    const logger = createLogger({ level: 'info', formatter: 'json', destination: { write: (l: string) => logs.push(JSON.parse(l) as { msg: string }) } });
    const metrics = new RegistryMetrics({ processMetrics: false });
    const started: Array<{ r: TestRegistry; limiter: RequestRateLimiter }> = [];
    after(async () => {
      for (const { r, limiter } of started) {
        await r.close();
        await limiter.close();
      }
    });
    const failures = async (reason: string): Promise<number> => sample((await metrics.render()).body, `berth_ratelimit_redis_failures_total{reason="${reason}"}`);
    const logged = (start: string): number => logs.filter((l) => l.msg.startsWith(start)).length;

    // Each test starts from empty buckets.
    beforeEach(async () => {
      const client = new Redis({ host: '127.0.0.1', port: redis.port, lazyConnect: true });
      await client.connect();
      await client.flushall();
      client.disconnect();
    });

    async function limited(redistimeout: string): Promise<TestRegistry> {
      const config = parseConfig({
        version: '0.1',
        storage: { inmemory: {} },
        redis: { addr: redis.addr, db: 0 },
        http: { ratelimit: { enabled: true, reads: { rate: HOURLY, burst: 2 }, redistimeout } },
      });
      const limiter = await createRateLimiter(config.http.ratelimit, { logger, metrics, prefix: '', redis: config.redis });
      assert.ok(limiter !== undefined);
      const r = await startTestRegistry({ rateLimiter: limiter, metrics, accessLog: false });
      started.push({ r, limiter });
      return r;
    }

    it('allows every request at once while Redis is down (counted, logged once), and limits again once it is back', async () => {
      // A timeout of a minute: a decision that waited for Redis would be counted as a timeout.
      const r = await limited('60s');
      assert.deepEqual([await status(`${r.url}/v2/_catalog`), await status(`${r.url}/v2/_catalog`), await status(`${r.url}/v2/_catalog`)], [200, 200, 429]);
      await redis.pause();
      const during: number[] = [];
      for (let i = 0; i < 20; i++) during.push(await status(`${r.url}/v2/_catalog`));
      assert.deepEqual(during, new Array(20).fill(200));
      assert.equal(await failures('timeout'), 0, 'no decision waited for the timeout');
      assert.equal((await failures('unavailable')) + (await failures('error')), 20, 'each allowed request is counted');
      assert.equal(logged('rate limiter: redis did not decide'), 1);
      // A fresh (empty) Redis: once the client has reconnected, the budget of two applies again.
      await redis.resume();
      await until('the limit to apply again', async () => (await status(`${r.url}/v2/_catalog`)) === 429);
      assert.equal(logged('rate limiter: redis answers again'), 1);
      assert.equal(logged('rate limiter: redis did not decide'), 1, 'the outage was logged once');
    });

    it('gives up on a hung Redis after redistimeout, skips it meanwhile, and limits again once it answers', async () => {
      const r = await limited('200ms');
      const before = await failures('timeout');
      assert.deepEqual([await status(`${r.url}/v2/_catalog`), await status(`${r.url}/v2/_catalog`), await status(`${r.url}/v2/_catalog`)], [200, 200, 429]);
      redis.freeze();
      try {
        // Redis holds the connection open and answers nothing: the spent budget cannot be checked, so the
        // request is allowed once the timeout passes.
        assert.equal(await status(`${r.url}/v2/_catalog`), 200);
        assert.equal((await failures('timeout')) - before, 1);
        // Within the next second decisions do not ask Redis at all.
        const skipped = await failures('unavailable');
        assert.equal(await status(`${r.url}/v2/_catalog`), 200);
        assert.ok((await failures('unavailable')) + (await failures('timeout')) - before > skipped, 'counted');
      } finally {
        redis.thaw();
      }
      await until('the limit to apply again', async () => (await status(`${r.url}/v2/_catalog`)) === 429);
    });
  });
});
