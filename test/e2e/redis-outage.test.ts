/**
 * A Redis blob descriptor cache that goes down costs nothing (issue 10, item 8): a real
 * redis-server is killed under a running `berth serve`; blob HEAD, GET and a push answer at storage
 * speed, the outage is logged once and counted, and when Redis comes back the circuit closes
 * within seconds and the cache is used again.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startRedis, type RedisServer } from '../helpers/redis.js';
import { startBerth, type RegistryHandle } from '../helpers/registries.js';
import { freePort } from '../helpers/ports.js';
import { pushImage } from '../helpers/oci-client.js';
import { until } from '../helpers/wait.js';

/** A request that waited for Redis took 1.3–5.2 s (a push 12–24 s) before the circuit; storage answers in milliseconds. */
const BOUND_MS = 500;

function sample(body: string, series: string): number | undefined {
  for (const line of body.split('\n')) {
    if (line.startsWith(`${series} `)) return Number(line.slice(series.length + 1));
  }
  return undefined;
}

/** Times `fn`, which sends `requests` requests, and asserts it took under BOUND_MS a request. */
async function timed<T>(what: string, fn: () => Promise<T>, requests = 1): Promise<T> {
  const start = performance.now();
  const result = await fn();
  const ms = performance.now() - start;
  const bound = BOUND_MS * requests;
  assert.ok(ms < bound, `${what} took ${ms.toFixed(0)} ms while Redis was down (bound ${bound} ms)`);
  console.log(`redis-outage: ${what}: ${ms.toFixed(0)} ms`);
  return result;
}

describe('a Redis cache that is down', { timeout: 120_000 }, () => {
  let redis: RedisServer;
  let berth: RegistryHandle;
  let dir: string;
  let metricsUrl: string;

  before(async () => {
    redis = await startRedis();
    dir = await mkdtemp(join(tmpdir(), 'berth-redis-outage-'));
    const port = await freePort();
    const debugPort = await freePort();
    metricsUrl = `http://127.0.0.1:${debugPort}/metrics`;
    berth = await startBerth({
      port,
      configYaml: `version: 0.1
log: { level: info, formatter: json, accesslog: { disabled: true } }
storage:
  filesystem: { rootdirectory: ${JSON.stringify(dir)} }
  cache: { blobdescriptor: redis }
  delete: { enabled: true }
redis: { addr: ${redis.addr} }
http: { addr: "127.0.0.1:${port}", secret: redis-outage, debug: { addr: "127.0.0.1:${debugPort}", prometheus: { enabled: true } } }
`,
    });
  });
  after(async () => {
    await berth?.stop();
    await redis?.stop();
    if (dir !== undefined) await rm(dir, { recursive: true, force: true });
  });

  const metric = async (series: string): Promise<number | undefined> => sample(await (await fetch(metricsUrl)).text(), series);
  const outageLogs = (): number => berth.output().split('\n').filter((l) => l.includes('redis unavailable')).length;

  it('falls back to storage at once, logs and counts the outage once, and closes the circuit when Redis returns', async () => {
    const image = await pushImage(berth.url, 'outage/app', 'v1', { layers: 1, layerSize: 4096 });
    const layer = image.blobs[1] as string;
    const blobUrl = `${berth.url}/v2/outage/app/blobs/${layer}`;
    assert.equal((await fetch(blobUrl, { method: 'HEAD' })).status, 200);
    assert.equal(await metric('berth_cache_backend_up{backend="redis"}'), 1);

    await redis.pause();
    for (let i = 0; i < 3; i++) {
      const head = await timed('blob HEAD', () => fetch(blobUrl, { method: 'HEAD' }));
      assert.equal(head.status, 200);
      const get = await timed('blob GET', async () => {
        const res = await fetch(blobUrl);
        return { status: res.status, size: (await res.arrayBuffer()).byteLength };
      });
      assert.deepEqual(get, { status: 200, size: 4096 });
      await timed('push of an image (5 requests)', () => pushImage(berth.url, 'outage/app', `down-${i}`, { layers: 1, layerSize: 2048 }), 5);
    }
    // Unlinking a blob from a repository does not touch the cache (only GC deletes blob data).
    const other = await pushImage(berth.url, 'outage/other', 'v1', { layers: 1, layerSize: 1024 });
    const del = await timed('blob DELETE', () => fetch(`${berth.url}/v2/outage/other/blobs/${other.blobs[1] as string}`, { method: 'DELETE' }));
    assert.equal(del.status, 202);

    assert.equal(outageLogs(), 1, `the outage is logged once:\n${berth.output()}`);
    assert.equal(await metric('berth_cache_backend_up{backend="redis"}'), 0);
    assert.equal(await metric('berth_cache_backend_outages_total{backend="redis"}'), 1);

    await redis.resume();
    await until('the circuit to close after Redis returned', async () => (await metric('berth_cache_backend_up{backend="redis"}')) === 1, 15_000);
    assert.match(berth.output(), /redis available again after/);
    // The cache is used again: a miss fills Redis, the next lookup hits.
    const hits = (await metric('berth_cache_requests_total{cache="blobdescriptor",result="hit"}')) ?? 0;
    assert.equal((await fetch(blobUrl, { method: 'HEAD' })).status, 200);
    assert.equal((await fetch(blobUrl, { method: 'HEAD' })).status, 200);
    assert.ok(((await metric('berth_cache_requests_total{cache="blobdescriptor",result="hit"}')) ?? 0) > hits, 'Redis serves hits again');
    assert.equal(await metric('berth_cache_backend_outages_total{backend="redis"}'), 1);
  });
});
