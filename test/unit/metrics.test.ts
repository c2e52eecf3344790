// RegistryMetrics renders the Prometheus text format and its counters move; instrumentDriver is a
// faithful StorageDriver (the shared conformance suite) that records every action.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';
import { register as globalRegistry } from 'prom-client';

import { RegistryMetrics } from '../../src/metrics/metrics.js';
import { driverErrorKind, instrumentDriver } from '../../src/metrics/instrument-driver.js';
import { instrumentBlobDescriptorCache } from '../../src/metrics/instrument-cache.js';
import { countBytes } from '../../src/metrics/count-bytes.js';
import { InMemoryBlobDescriptorCache } from '../../src/storage/blob-store.js';
import type { Digest } from '../../src/oci/digest.js';
import type { FileInfo } from '../../src/storage/driver/driver.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import { InvalidOffsetError, InvalidPathError, PathNotFoundError } from '../../src/storage/driver/errors.js';
import { storageDriverSuite } from '../suites/storage-driver.js';

/** The value of one sample line (`name{labels} value`) in a rendering, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function text(metrics: RegistryMetrics): Promise<string> {
  return (await metrics.render()).body;
}

describe('RegistryMetrics', () => {
  it('renders the Prometheus text format, with Node process metrics by default', async () => {
    const metrics = new RegistryMetrics();
    const { contentType, body } = await metrics.render();
    assert.match(contentType, /^text\/plain; version=0\.0\.4/);
    assert.match(body, /^# HELP berth_http_requests_total /m);
    assert.match(body, /^# TYPE berth_http_request_duration_seconds histogram$/m);
    assert.match(body, /^process_cpu_user_seconds_total /m);
    assert.match(body, /^nodejs_eventloop_lag_seconds /m);
    assert.doesNotMatch(await text(new RegistryMetrics({ processMetrics: false })), /process_cpu/);
  });

  it('never registers into prom-client’s global registry', async () => {
    new RegistryMetrics().observeRequest('base', 'GET', 200, 0.001);
    assert.doesNotMatch(await globalRegistry.metrics(), /berth_/);
  });

  it('counts requests and their latency by route kind, method and status', async () => {
    const metrics = new RegistryMetrics({ processMetrics: false });
    metrics.observeRequest('manifest', 'GET', 200, 0.004);
    metrics.observeRequest('manifest', 'GET', 200, 0.2);
    metrics.observeRequest('blob', 'HEAD', 404, 0.0005);
    metrics.observeRequest('unknown', 'BREW', 405, 0.001);
    metrics.observeRequest('blob', 'GET', 200, Number.NaN);
    const body = await text(metrics);
    assert.equal(sample(body, 'berth_http_requests_total{route="manifest",method="GET",status="200"}'), 2);
    assert.equal(sample(body, 'berth_http_requests_total{route="blob",method="HEAD",status="404"}'), 1);
    assert.equal(sample(body, 'berth_http_requests_total{route="unknown",method="OTHER",status="405"}'), 1, 'unknown methods are folded into OTHER');
    assert.equal(sample(body, 'berth_http_requests_total{route="blob",method="GET",status="200"}'), 1, 'counted even without a usable duration');
    assert.equal(sample(body, 'berth_http_request_duration_seconds_bucket{le="0.005",route="manifest",method="GET",status="200"}'), 1);
    assert.equal(sample(body, 'berth_http_request_duration_seconds_bucket{le="0.25",route="manifest",method="GET",status="200"}'), 2);
    assert.equal(sample(body, 'berth_http_request_duration_seconds_bucket{le="0.001",route="blob",method="HEAD",status="404"}'), 1);
    assert.equal(sample(body, 'berth_http_request_duration_seconds_count{route="manifest",method="GET",status="200"}'), 2);
    assert.ok(body.includes('le="60"'), 'buckets reach 60 s');
  });

  it('reports requests in flight from the app at scrape time', async () => {
    const metrics = new RegistryMetrics({ processMetrics: false });
    let inFlight = 3;
    metrics.trackInFlight(() => inFlight);
    assert.equal(sample(await text(metrics), 'berth_http_requests_in_flight'), 3);
    inFlight = 0;
    assert.equal(sample(await text(metrics), 'berth_http_requests_in_flight'), 0);
  });

  it('counts bytes, uploads in progress and cache lookups', async () => {
    const metrics = new RegistryMetrics({ processMetrics: false });
    metrics.addBytes('pushed', 1000);
    metrics.addBytes('pushed', 24);
    metrics.addBytes('pulled', 512);
    metrics.addBytes('pulled', -5);
    metrics.uploadStarted();
    metrics.uploadStarted();
    metrics.uploadEnded();
    metrics.cache('blobdescriptor', true);
    metrics.cache('blobdescriptor', true);
    metrics.cache('blobdescriptor', false);
    const body = await text(metrics);
    assert.equal(sample(body, 'berth_transferred_bytes_total{direction="pushed"}'), 1024);
    assert.equal(sample(body, 'berth_transferred_bytes_total{direction="pulled"}'), 512);
    assert.equal(sample(body, 'berth_uploads_in_progress'), 1);
    assert.equal(sample(body, 'berth_cache_requests_total{cache="blobdescriptor",result="hit"}'), 2);
    assert.equal(sample(body, 'berth_cache_requests_total{cache="blobdescriptor",result="miss"}'), 1);
  });

  it('records garbage-collection runs', async () => {
    const metrics = new RegistryMetrics({ processMetrics: false });
    const before = Date.now() / 1000;
    metrics.gcRun({ blobsDeleted: 3, manifestsDeleted: 1, bytesFreed: 4096, seconds: 2.5, ok: true });
    metrics.gcRun({ blobsDeleted: 1, manifestsDeleted: 0, bytesFreed: 10, seconds: 0.5, ok: false });
    const body = await text(metrics);
    assert.equal(sample(body, 'berth_gc_runs_total{result="success"}'), 1);
    assert.equal(sample(body, 'berth_gc_runs_total{result="failure"}'), 1);
    assert.equal(sample(body, 'berth_gc_deleted_objects_total{kind="blob"}'), 4);
    assert.equal(sample(body, 'berth_gc_deleted_objects_total{kind="manifest"}'), 1);
    assert.equal(sample(body, 'berth_gc_freed_bytes_total'), 4106);
    assert.equal(sample(body, 'berth_gc_last_run_duration_seconds'), 0.5);
    assert.ok((sample(body, 'berth_gc_last_success_timestamp_seconds') ?? 0) >= Math.floor(before));
  });

  it('records notification outcomes and reads queue lengths at scrape time', async () => {
    const metrics = new RegistryMetrics({ processMetrics: false });
    const queues = new Map([['hook', 4]]);
    metrics.trackNotificationQueues(() => queues.entries());
    metrics.notificationQueued('hook', 5);
    metrics.notificationDelivered('hook', 1);
    metrics.notificationFailed('hook', 'network');
    metrics.notificationDropped('hook', 'queue_full', 2);
    let body = await text(metrics);
    assert.equal(sample(body, 'berth_notifications_pending{endpoint="hook"}'), 4);
    assert.equal(sample(body, 'berth_notifications_events_total{endpoint="hook"}'), 5);
    assert.equal(sample(body, 'berth_notifications_delivered_total{endpoint="hook"}'), 1);
    assert.equal(sample(body, 'berth_notifications_failed_total{endpoint="hook",reason="network"}'), 1);
    assert.equal(sample(body, 'berth_notifications_dropped_total{endpoint="hook",reason="queue_full"}'), 2);
    queues.set('hook', 0);
    body = await text(metrics);
    assert.equal(sample(body, 'berth_notifications_pending{endpoint="hook"}'), 0);
  });
});

storageDriverSuite('inmemory, instrumented', async () => ({
  driver: instrumentDriver(new InMemoryDriver(), new RegistryMetrics({ processMetrics: false })),
  cleanup: async () => undefined,
}));

describe('instrumentDriver', () => {
  const ACTION = (action: string): string => `berth_storage_action_duration_seconds_count{driver="inmemory",action="${action}"}`;

  it('times every action by driver and action, and counts failures by kind', async () => {
    const metrics = new RegistryMetrics({ processMetrics: false });
    const driver = instrumentDriver(new InMemoryDriver(), metrics);
    assert.equal(driver.name, 'inmemory');
    await driver.putContent('/a/file', Buffer.from('hello'));
    assert.equal((await driver.getContent('/a/file')).toString(), 'hello');
    await assert.rejects(driver.getContent('/a/missing'), PathNotFoundError);
    await assert.rejects(driver.stat('relative'), InvalidPathError);
    await assert.rejects(driver.reader('/a/file', 99), InvalidOffsetError);
    const stream = await driver.reader('/a/file');
    stream.destroy();
    const writer = await driver.writer('/a/upload', false);
    await writer.write(Buffer.from('abc'));
    assert.equal(writer.size, 3);
    await writer.commit();
    const cancelled = await driver.writer('/a/other', false);
    await cancelled.write(Buffer.from('x'));
    await cancelled.cancel();
    await driver.stat('/a/file');
    await driver.list('/a');
    await driver.move('/a/upload', '/b/upload');
    assert.equal(await driver.redirectUrl('/b/upload', 'GET'), undefined);
    const walked: string[] = [];
    for await (const info of driver.walk('/')) walked.push(info.path);
    assert.deepEqual(walked, ['/a', '/a/file', '/b', '/b/upload']);
    await driver.delete('/b');

    const body = await text(metrics);
    const counts: Record<string, number> = {
      putContent: 1,
      getContent: 2,
      stat: 2,
      reader: 2,
      writer: 2,
      commit: 1,
      cancel: 1,
      list: 1,
      move: 1,
      redirectUrl: 1,
      walk: 1,
      delete: 1,
    };
    for (const [action, n] of Object.entries(counts)) assert.equal(sample(body, ACTION(action)), n, action);
    assert.equal(sample(body, 'berth_storage_action_errors_total{driver="inmemory",action="getContent",kind="not_found"}'), 1);
    assert.equal(sample(body, 'berth_storage_action_errors_total{driver="inmemory",action="stat",kind="invalid_path"}'), 1);
    assert.equal(sample(body, 'berth_storage_action_errors_total{driver="inmemory",action="reader",kind="invalid_offset"}'), 1);
  });

  it('times a walk once, also when the consumer stops early, and releases the driver’s iterator', async () => {
    const metrics = new RegistryMetrics({ processMetrics: false });
    const inner = new InMemoryDriver();
    for (let i = 0; i < 5; i++) await inner.putContent(`/w/f${i}`, Buffer.from('x'));
    let returned = false;
    const tracking = Object.assign(Object.create(inner) as InMemoryDriver, {
      walk(path: string): AsyncIterable<FileInfo> {
        const source = inner.walk(path)[Symbol.asyncIterator]();
        return {
          [Symbol.asyncIterator]: () => ({
            next: () => source.next(),
            return: async () => {
              returned = true;
              return (await source.return?.(undefined)) ?? { done: true as const, value: undefined };
            },
          }),
        };
      },
    });
    const driver = instrumentDriver(tracking, metrics);
    for await (const info of driver.walk('/w')) {
      assert.ok(info.path.startsWith('/w/'));
      break;
    }
    assert.equal(returned, true);
    await assert.rejects(async () => {
      for await (const _ of driver.walk('/nowhere')) assert.fail('nothing to walk');
    }, PathNotFoundError);
    const body = await text(metrics);
    assert.equal(sample(body, ACTION('walk')), 2);
    assert.equal(sample(body, 'berth_storage_action_errors_total{driver="inmemory",action="walk",kind="not_found"}'), 1);
  });

  it('classifies errors by kind', () => {
    const abort = new Error('aborted');
    abort.name = 'AbortError';
    assert.equal(driverErrorKind(new PathNotFoundError('d', '/x')), 'not_found');
    assert.equal(driverErrorKind(new InvalidPathError('d', 'x')), 'invalid_path');
    assert.equal(driverErrorKind(new InvalidOffsetError('d', '/x', 5)), 'invalid_offset');
    assert.equal(driverErrorKind(abort), 'aborted');
    assert.equal(driverErrorKind(new Error('disk on fire')), 'error');
    assert.equal(driverErrorKind('a string'), 'error');
  });

  it('adds little overhead per call', async () => {
    const plain = new InMemoryDriver();
    const timed = instrumentDriver(new InMemoryDriver(), new RegistryMetrics({ processMetrics: false }));
    await plain.putContent('/f', Buffer.from('x'));
    await timed.putContent('/f', Buffer.from('x'));
    const run = async (d: typeof plain | typeof timed): Promise<number> => {
      const t = performance.now();
      for (let i = 0; i < 20_000; i++) await d.stat('/f');
      return (performance.now() - t) / 20_000;
    };
    await run(timed); // warm up
    const perCallMs = (await run(timed)) - (await run(plain));
    assert.ok(perCallMs < 0.05, `instrumentation costs ${(perCallMs * 1000).toFixed(2)} µs per call`);
  });
});

describe('instrumentBlobDescriptorCache', () => {
  it('counts lookups as hits and misses and passes everything else through', async () => {
    const metrics = new RegistryMetrics({ processMetrics: false });
    const inner = new InMemoryBlobDescriptorCache(10);
    const cache = instrumentBlobDescriptorCache(inner, metrics);
    const digest = `sha256:${'a'.repeat(64)}` as Digest;
    assert.equal(await cache.get(digest), undefined);
    await cache.set({ digest, size: 5 });
    assert.deepEqual(await cache.get(digest), { digest, size: 5 });
    assert.deepEqual(await cache.get(digest), { digest, size: 5 });
    await cache.invalidate(digest);
    assert.equal(await inner.get(digest), undefined);
    const body = await text(metrics);
    assert.equal(sample(body, 'berth_cache_requests_total{cache="blobdescriptor",result="hit"}'), 2);
    assert.equal(sample(body, 'berth_cache_requests_total{cache="blobdescriptor",result="miss"}'), 1);
    assert.equal(typeof cache.clear, typeof inner.clear, 'keeps whether the cache can be cleared');
    const shared = instrumentBlobDescriptorCache({ get: async () => undefined, set: async () => undefined, invalidate: async () => undefined }, metrics, 'redis');
    assert.equal(typeof shared.clear, 'undefined');
  });
});

describe('countBytes', () => {
  it('passes chunks through and reports their total once, also when the consumer fails', async () => {
    const totals: number[] = [];
    async function* source(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(3);
      yield Buffer.alloc(5);
      yield Buffer.alloc(7);
    }
    const seen: number[] = [];
    for await (const chunk of countBytes(source(), (n) => totals.push(n))) seen.push(chunk.byteLength);
    assert.deepEqual(seen, [3, 5, 7]);
    assert.deepEqual(totals, [15]);
    await assert.rejects(async () => {
      for await (const chunk of countBytes(source(), (n) => totals.push(n))) if (chunk.byteLength === 5) throw new Error('consumer failed');
    }, /consumer failed/);
    assert.deepEqual(totals, [15, 8]);
  });
});

describe('docs/monitoring.md', () => {
  it('lists every berth_ metric with its type and labels, and nothing else', async () => {
    const docs = readFileSync(new URL('../../../docs/monitoring.md', import.meta.url), 'utf8');
    const table = docs.slice(docs.indexOf('<!-- metrics-table'));
    const rows = new Map(
      table
        .split('\n')
        .slice(1)
        .filter((l) => l.startsWith('| `berth_'))
        .map((l) => {
          const cells = l.split('|').map((c) => c.trim());
          return [(cells[1] ?? '').replace(/`/g, ''), { type: cells[2] ?? '', labels: cells[3] ?? '' }] as const;
        }),
    );
    const metrics = new RegistryMetrics({ processMetrics: false });
    const registered = await metrics.registry.getMetricsAsJSON();
    for (const m of registered) {
      const row = rows.get(m.name);
      assert.ok(row !== undefined, `docs/monitoring.md lacks ${m.name}`);
      assert.equal(row.type, m.type, `${m.name} is documented as a ${row.type}`);
      const labels = new Set([...row.labels.matchAll(/`([a-z_]+)`/g)].map((x) => x[1]));
      const declared = metrics.registry.getSingleMetric(m.name) as unknown as { labelNames: string[] };
      for (const label of declared.labelNames) assert.ok(labels.has(label), `${m.name}: label ${label} is not documented`);
    }
    const names = new Set(registered.map((m) => m.name));
    for (const name of rows.keys()) assert.ok(names.has(name), `docs/monitoring.md documents unknown metric ${name}`);
  });
});
