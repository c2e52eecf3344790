// The debug server over real HTTP: Distribution's /debug/health, readiness, liveness, /debug/vars and
// the Prometheus endpoint, scraped while a real registry (instrumented driver, request metrics
// wired the way app.ts is meant to) serves pushes and pulls.
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { AllowAll } from '../../src/auth/access.js';
import { fileCheck } from '../../src/health/checks.js';
import { HealthMonitor } from '../../src/health/monitor.js';
import { buildApp } from '../../src/http/app.js';
import { startDebugServer, type DebugServer } from '../../src/http/debug-server.js';
import { matchRoute } from '../../src/http/router.js';
import { createLogger } from '../../src/log/logger.js';
import { instrumentDriver } from '../../src/metrics/instrument-driver.js';
import { RegistryMetrics } from '../../src/metrics/metrics.js';
import { Notifier } from '../../src/notifications/notifier.js';
import { digestOf } from '../../src/oci/digest.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import { Registry } from '../../src/storage/registry.js';

const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });

async function get(url: string, method = 'GET'): Promise<{ status: number; type: string | null; body: string }> {
  const res = await fetch(url, { method });
  return { status: res.status, type: res.headers.get('content-type'), body: await res.text() };
}

function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('debug server', () => {
  let dir: string;
  let flag: string;
  let monitor: HealthMonitor;
  let metrics: RegistryMetrics;
  let notifier: Notifier;
  let debug: DebugServer;
  let base: string;
  let registry: Server;
  let registryUrl: string;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-debug-'));
    flag = join(dir, 'maintenance');
    metrics = new RegistryMetrics();
    monitor = new HealthMonitor([{ name: flag, run: fileCheck(flag), intervalMs: 60_000 }]);
    await monitor.start();
    notifier = new Notifier({ endpoints: [{ name: 'nowhere', url: 'http://127.0.0.1:9/', backoffMs: 60_000 }], logger, metrics });
    debug = await startDebugServer({ addr: '127.0.0.1:0', metrics: { enabled: true, path: '/metrics', metrics }, health: monitor, notifications: notifier, logger });
    base = `http://127.0.0.1:${debug.address.port}`;

    // A registry whose traffic the metrics see: the driver is instrumented, and requests are
    // observed when their response finishes (what app.ts's wiring does).
    const app = buildApp({
      registry: new Registry({ driver: instrumentDriver(new InMemoryDriver(), metrics) }),
      logger,
      access: new AllowAll(),
      secret: 'secret',
      prefix: '',
      host: '',
      relativeUrls: false,
      headers: {},
      deleteEnabled: true,
      readOnly: false,
      redirect: true,
      maxManifestBytes: 4 * 1024 * 1024,
      catalogMaxEntries: 1000,
      accessLog: false,
    });
    metrics.trackInFlight(app.inFlight);
    registry = createServer((req, res) => {
      const started = performance.now();
      const route = matchRoute((req.url ?? '/').split('?')[0] ?? '/')?.kind ?? 'unknown';
      res.once('finish', () => metrics.observeRequest(route, req.method ?? 'GET', res.statusCode, (performance.now() - started) / 1000));
      app.handle(req, res);
    });
    await new Promise<void>((resolve) => registry.listen(0, '127.0.0.1', resolve));
    registryUrl = `http://127.0.0.1:${(registry.address() as AddressInfo).port}`;
  });

  after(async () => {
    monitor.stop();
    await notifier.close(0);
    await debug.close();
    registry.closeAllConnections();
    await new Promise<void>((resolve) => registry.close(() => resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('answers /debug/health as Distribution does: {} when healthy, 503 with the failing checks', async () => {
    assert.deepEqual(await get(`${base}/debug/health`), { status: 200, type: 'application/json; charset=utf-8', body: '{}\n' });
    await writeFile(flag, '');
    await monitor.runAll();
    const failing = await get(`${base}/debug/health`);
    assert.equal(failing.status, 503);
    assert.deepEqual(JSON.parse(failing.body), { [flag]: 'file exists' });
    await unlink(flag);
    await monitor.runAll();
    assert.equal((await get(`${base}/debug/health`)).status, 200);
  });

  it('answers /debug/ready with every check, 503 while one fails or while draining; /debug/live always', async () => {
    const ready = await get(`${base}/debug/ready`);
    assert.equal(ready.status, 200);
    const body = JSON.parse(ready.body) as { ready: boolean; checks: Record<string, { ok: boolean; since: string }> };
    assert.equal(body.ready, true);
    assert.equal(body.checks[flag]?.ok, true);
    assert.ok(!Number.isNaN(Date.parse(body.checks[flag]?.since ?? '')));

    await writeFile(flag, '');
    await monitor.runAll();
    const notReady = await get(`${base}/debug/ready`);
    assert.equal(notReady.status, 503);
    assert.deepEqual((JSON.parse(notReady.body) as { checks: Record<string, { message?: string }> }).checks[flag]?.message, 'file exists');
    await unlink(flag);
    await monitor.runAll();

    assert.deepEqual(await get(`${base}/debug/live`), { status: 200, type: 'application/json; charset=utf-8', body: '{"live":true}\n' });
  });

  it('serves Prometheus metrics whose counters move with registry traffic', async () => {
    const blob = Buffer.from('hello, metrics');
    const digest = digestOf(blob);
    const push = await fetch(`${registryUrl}/v2/demo/blobs/uploads/?digest=${digest}`, {
      method: 'POST',
      body: blob,
      headers: { 'Content-Type': 'application/octet-stream' },
    });
    assert.equal(push.status, 201);
    for (let i = 0; i < 3; i++) {
      const pull = await fetch(`${registryUrl}/v2/demo/blobs/${digest}`);
      assert.equal(await pull.text(), 'hello, metrics');
    }
    assert.equal((await fetch(`${registryUrl}/v2/demo/blobs/${digestOf(Buffer.from('nope'))}`, { method: 'HEAD' })).status, 404);
    assert.equal((await fetch(`${registryUrl}/nothing-here`)).status, 404);

    const scrape = await get(`${base}/metrics`);
    assert.equal(scrape.status, 200);
    assert.match(scrape.type ?? '', /^text\/plain; version=0\.0\.4/);
    const text = scrape.body;
    assert.equal(sample(text, 'berth_http_requests_total{route="uploads",method="POST",status="201"}'), 1);
    assert.equal(sample(text, 'berth_http_requests_total{route="blob",method="GET",status="200"}'), 3);
    assert.equal(sample(text, 'berth_http_requests_total{route="blob",method="HEAD",status="404"}'), 1);
    assert.equal(sample(text, 'berth_http_requests_total{route="unknown",method="GET",status="404"}'), 1);
    assert.equal(sample(text, 'berth_http_request_duration_seconds_count{route="blob",method="GET",status="200"}'), 3);
    assert.ok((sample(text, 'berth_storage_action_duration_seconds_count{driver="inmemory",action="reader"}') ?? 0) >= 3);
    assert.ok((sample(text, 'berth_storage_action_duration_seconds_count{driver="inmemory",action="writer"}') ?? 0) >= 1);
    assert.ok((sample(text, 'berth_storage_action_duration_seconds_count{driver="inmemory",action="move"}') ?? 0) >= 1);
    assert.ok((sample(text, 'berth_storage_action_errors_total{driver="inmemory",action="stat",kind="not_found"}') ?? 0) >= 1);
    assert.equal(sample(text, 'berth_http_requests_in_flight'), 0);
    assert.match(text, /^process_resident_memory_bytes /m);

    // Scraping again sees the counters move.
    await fetch(`${registryUrl}/v2/demo/blobs/${digest}`).then((r) => r.arrayBuffer());
    assert.equal(sample((await get(`${base}/metrics`)).body, 'berth_http_requests_total{route="blob",method="GET",status="200"}'), 4);
  });

  it("reports notification endpoints at /debug/vars in Distribution's shape, without header values", async () => {
    const vars = JSON.parse((await get(`${base}/debug/vars`)).body) as { notifications: { endpoints: Array<{ name: string; url: string; Metrics: Record<string, unknown> }> } };
    assert.deepEqual(vars.notifications.endpoints.map((e) => [e.name, e.url, Object.keys(e.Metrics)]), [
      ['nowhere', 'http://127.0.0.1:9/', ['Pending', 'Events', 'Successes', 'Failures', 'Errors', 'Dropped', 'Statuses']],
    ]);
  });

  it('answers HEAD without a body, other methods with 405, unknown paths with 404', async () => {
    const head = await fetch(`${base}/debug/health`, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), '3');
    assert.equal(await head.text(), '');
    const post = await fetch(`${base}/debug/health`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.get('allow'), 'GET, HEAD');
    assert.equal((await get(`${base}/debug/pprof/`)).status, 404);
  });

  it('does not serve metrics when they are disabled, and serves them at a custom path', async () => {
    const off = await startDebugServer({ addr: '127.0.0.1:0', metrics: { enabled: false, path: '/metrics', metrics }, health: monitor, logger });
    const custom = await startDebugServer({ addr: '127.0.0.1:0', metrics: { enabled: true, path: '/prom', metrics }, health: monitor, logger });
    try {
      assert.equal((await get(`http://127.0.0.1:${off.address.port}/metrics`)).status, 404);
      assert.equal((await get(`http://127.0.0.1:${off.address.port}/debug/health`)).status, 200);
      assert.equal((await get(`http://127.0.0.1:${custom.address.port}/metrics`)).status, 404);
      assert.match((await get(`http://127.0.0.1:${custom.address.port}/prom`)).body, /berth_http_requests_total/);
    } finally {
      await off.close();
      await custom.close();
    }
  });

  it('reports not ready while draining, and refuses an address in use', async () => {
    await assert.rejects(startDebugServer({ addr: `127.0.0.1:${debug.address.port}`, health: monitor, logger }), /EADDRINUSE/);
    monitor.drain();
    const draining = await get(`${base}/debug/ready`);
    assert.equal(draining.status, 503);
    assert.equal((JSON.parse(draining.body) as { reason: string }).reason, 'shutting down');
    assert.equal((await get(`${base}/debug/health`)).status, 200, 'health is about checks, not draining');
  });
});
