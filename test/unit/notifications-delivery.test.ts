// The Notifier against a real webhook receiver on 127.0.0.1: ordering, headers, retries, backoff,
// the bounded queue, emit() never blocking, and close() flushing.
import assert from 'node:assert/strict';
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { after, describe, it } from 'node:test';

import { createLogger, type Logger } from '../../src/log/logger.js';
import { RegistryMetrics } from '../../src/metrics/metrics.js';
import { buildEvent, EVENTS_MEDIA_TYPE, type RegistryEvent } from '../../src/notifications/event.js';
import { Notifier, type EndpointSettings } from '../../src/notifications/notifier.js';
import { retryDelayMs } from '../../src/notifications/endpoint.js';
import { notificationsSchema } from '../../src/notifications/schema.js';

interface Received {
  readonly at: number;
  readonly method: string;
  readonly url: string;
  readonly headers: IncomingHttpHeaders;
  readonly events: RegistryEvent[];
}

type Responder = (req: IncomingMessage, res: ServerResponse, n: number) => void;

/** A webhook receiver: records every request, answers with `responder` (default 200). */
class Receiver {
  readonly received: Received[] = [];
  responder: Responder = (_req, res) => res.writeHead(200).end();
  port = 0;
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  #waiters: Array<() => void> = [];

  get url(): string {
    return `http://127.0.0.1:${this.port}/hook`;
  }

  /** Every event received, in arrival order, by target.repository. */
  get repositories(): string[] {
    return this.received.flatMap((r) => r.events.map((e) => e.target.repository ?? ''));
  }

  async start(port = this.port): Promise<this> {
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        const events = text === '' ? [] : ((JSON.parse(text) as { events: RegistryEvent[] }).events ?? []);
        this.received.push({ at: Date.now(), method: req.method ?? '', url: req.url ?? '', headers: req.headers, events });
        this.responder(req, res, this.received.length);
        for (const w of this.#waiters.splice(0)) w();
      });
    });
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, '127.0.0.1', resolve);
    });
    this.port = (server.address() as AddressInfo).port;
    this.#server = server;
    return this;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
    });
  }

  /** Resolves once `predicate` holds (checked after every request), or rejects after `ms`. */
  async until(predicate: () => boolean, ms = 30_000): Promise<void> {
    const deadline = Date.now() + ms;
    while (!predicate()) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`receiver: condition not met within ${ms} ms (${this.received.length} requests, ${this.repositories.length} events)`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, Math.min(left, 50));
        this.#waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }
}

function testLogger(): { logger: Logger; lines: () => Array<Record<string, unknown>> } {
  const out: string[] = [];
  const logger = createLogger({ level: 'debug', formatter: 'json', destination: { write: (l: string) => out.push(l) } });
  return { logger, lines: () => out.map((l) => JSON.parse(l) as Record<string, unknown>) };
}

/** Polls `predicate` until it holds, or fails after `ms`. */
async function eventually(predicate: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

let sequence = 0;
/** A push event whose target.repository is `repo` (used to check order). */
function event(repo: string = `repo-${++sequence}`): RegistryEvent {
  return buildEvent({ action: 'push', target: { repository: repo, mediaType: 'application/octet-stream', digest: 'sha256:00', size: 1 }, request: { id: 'r', method: 'PUT', useragent: 't' }, source: { addr: 'test:5000' } });
}

const receivers: Receiver[] = [];
const notifiers: Notifier[] = [];
async function receiver(): Promise<Receiver> {
  const r = await new Receiver().start(0);
  receivers.push(r);
  return r;
}
function notifier(endpoints: EndpointSettings[], extra: { metrics?: RegistryMetrics; queueSize?: number; batchSize?: number; maxBackoffMs?: number; logger?: Logger } = {}): Notifier {
  const n = new Notifier({ endpoints, logger: extra.logger ?? testLogger().logger, userAgent: 'berth-test/1', ...extra });
  notifiers.push(n);
  return n;
}
/** A port nothing listens on (a receiver started and stopped). */
async function deadPort(): Promise<number> {
  const r = await new Receiver().start(0);
  await r.stop();
  return r.port;
}

after(async () => {
  await Promise.all(notifiers.map((n) => n.close(0)));
  await Promise.all(receivers.map((r) => r.stop()));
});

describe('Notifier delivery', () => {
  it('POSTs the envelope with its media type and the configured headers, every event in order', async () => {
    const r = await receiver();
    const n = notifier([{ name: 'hook', url: r.url, headers: { Authorization: ['Bearer secret'], 'X-Multi': ['a', 'b'] } }], { batchSize: 7 });
    const names = Array.from({ length: 40 }, (_, i) => `ordered-${i}`);
    for (const name of names) n.emit(event(name));
    await r.until(() => r.repositories.length === 40);
    assert.deepEqual(r.repositories, names);
    await eventually(() => n.stats()[0]?.delivered === 40);
    for (const req of r.received) {
      assert.equal(req.method, 'POST');
      assert.equal(req.url, '/hook');
      assert.equal(req.headers['content-type'], EVENTS_MEDIA_TYPE);
      assert.equal(req.headers['authorization'], 'Bearer secret');
      assert.equal(req.headers['x-multi'], 'a, b');
      assert.equal(req.headers['user-agent'], 'berth-test/1');
      assert.ok(req.events.length >= 1 && req.events.length <= 7, `batch of ${req.events.length}`);
    }
    const [stats] = n.stats();
    assert.equal(stats?.delivered, 40);
    assert.equal(stats?.pending, 0);
    assert.equal(stats?.failing, false);
  });

  it('delivers to every endpoint independently: a dead one does not delay a live one', async () => {
    const live = await receiver();
    const n = notifier([
      { name: 'dead', url: `http://127.0.0.1:${await deadPort()}/`, backoffMs: 60_000 },
      { name: 'live', url: live.url },
    ]);
    n.emit(event('one'));
    n.emit(event('two'));
    await live.until(() => live.repositories.length === 2);
    assert.deepEqual(live.repositories, ['one', 'two']);
    assert.equal(n.stats().find((s) => s.name === 'dead')?.pending, 2);
  });

  it('retries a batch the endpoint refused (500 then 200), keeping the order', async () => {
    const r = await receiver();
    r.responder = (_req, res, count) => res.writeHead(count <= 2 ? 500 : 202).end();
    const metrics = new RegistryMetrics({ processMetrics: false });
    const n = notifier([{ name: 'flaky', url: r.url, backoffMs: 50 }], { metrics });
    n.emit(event('first'));
    n.emit(event('second'));
    await r.until(() => r.received.length >= 3);
    // Every attempt carried the same batch; the accepted one is the third.
    assert.deepEqual(
      r.received.map((q) => q.events.map((e) => e.target.repository)),
      [
        ['first', 'second'],
        ['first', 'second'],
        ['first', 'second'],
      ],
    );
    assert.equal(r.received[0]?.events[0]?.id, r.received[2]?.events[0]?.id, 'a retry resends the same event ids');
    n.emit(event('third'));
    await r.until(() => r.received.length === 4);
    assert.deepEqual(r.received[3]?.events.map((e) => e.target.repository), ['third']);
    await eventually(() => n.stats()[0]?.delivered === 3);
    const [stats] = n.stats();
    assert.equal(stats?.failures, 2);
    assert.equal(stats?.delivered, 3);
    assert.deepEqual(stats?.statuses, { '500': 2, '202': 2 });
    const text = (await metrics.render()).body;
    assert.match(text, /berth_notifications_failed_total\{endpoint="flaky",reason="status"\} 2/);
    assert.match(text, /berth_notifications_delivered_total\{endpoint="flaky"\} 3/);
    assert.match(text, /berth_notifications_events_total\{endpoint="flaky"\} 3/);
    assert.match(text, /berth_notifications_pending\{endpoint="flaky"\} 0/);
  });

  it('delivers what queued while the receiver was down once it is back on the same port', async () => {
    const r = await receiver();
    const port = r.port;
    await r.stop();
    const { logger, lines } = testLogger();
    const n = notifier([{ name: 'restart', url: r.url, backoffMs: 40, threshold: 2 }], { logger });
    for (const name of ['a', 'b', 'c']) n.emit(event(name));
    await eventually(() => (n.stats()[0]?.errors ?? 0) >= 3);
    assert.equal(n.stats()[0]?.failing, true, 'failing after threshold consecutive failures');
    n.emit(event('d'));
    await r.start(port);
    await r.until(() => r.repositories.length === 4);
    assert.deepEqual(r.repositories, ['a', 'b', 'c', 'd']);
    await eventually(() => n.stats()[0]?.failing === false);
    const logged = lines();
    assert.equal(logged.filter((l) => String(l['msg']).includes('endpoint failing')).length, 1, 'failing is logged once');
    assert.equal(logged.filter((l) => String(l['msg']).includes('endpoint recovered')).length, 1);
  });

  it('waits backoff between retries below the threshold, then doubles up to the cap', async () => {
    const r = await receiver();
    r.responder = (_req, res) => res.writeHead(503).end();
    const backoff = 80;
    const n = notifier([{ name: 'slowdown', url: r.url, backoffMs: backoff, threshold: 2 }], { maxBackoffMs: 250 });
    n.emit(event());
    await r.until(() => r.received.length >= 6);
    const gaps = r.received.slice(1, 6).map((q, i) => q.at - (r.received[i]?.at ?? 0));
    // failure 1 < threshold: backoff; failure 2 = threshold: 2x; then 4x capped at 250, and 250.
    const expected = [backoff, 2 * backoff, 250, 250, 250];
    // Only lower bounds: how much longer a gap takes depends on the machine's load. The schedule itself
    // (doubling, the cap) is checked exactly on retryDelayMs below.
    gaps.forEach((gap, i) => {
      const want = expected[i] ?? 0;
      assert.ok(gap >= want - 5, `gap ${i} was ${gap} ms, expected at least ${want} ms`);
    });
    assert.deepEqual([1, 2, 3, 4, 5].map((failures) => retryDelayMs(failures, 2, backoff, 250)), expected);
  });

  it('counts a response slower than the timeout as a failure and retries it', async () => {
    const r = await receiver();
    r.responder = (_req, res, count) => {
      // Same process, same timer list: the client's 100 ms timeout always fires before this 400 ms answer.
      if (count === 1) setTimeout(() => res.writeHead(200).end(), 400);
      else res.writeHead(200).end();
    };
    const metrics = new RegistryMetrics({ processMetrics: false });
    const n = notifier([{ name: 'slow', url: r.url, timeoutMs: 100, backoffMs: 20 }], { metrics });
    n.emit(event('late'));
    await eventually(() => n.stats()[0]?.delivered === 1);
    assert.equal(r.received.length, 2);
    assert.match((await metrics.render()).body, /berth_notifications_failed_total\{endpoint="slow",reason="timeout"\} 1/);
  });

  it('follows a 307 redirect with the same body, and takes other 3xx as delivered', async () => {
    const r = await receiver();
    r.responder = (req, res) => {
      if (req.url === '/hook') res.writeHead(307, { Location: '/moved' }).end();
      else if (req.url === '/moved') res.writeHead(302, { Location: '/elsewhere' }).end();
      else res.writeHead(500).end();
    };
    const n = notifier([{ name: 'redirect', url: r.url }]);
    n.emit(event('redirected'));
    await r.until(() => n.stats()[0]?.delivered === 1);
    assert.deepEqual(
      r.received.map((q) => [q.url, q.events.map((e) => e.target.repository)]),
      [
        ['/hook', ['redirected']],
        ['/moved', ['redirected']],
      ],
    );
  });

  it('applies ignoredmediatypes, ignore.mediatypes and ignore.actions', async () => {
    const r = await receiver();
    const config = notificationsSchema.parse({
      endpoints: [{ name: 'filtered', url: r.url, ignoredmediatypes: ['application/octet-stream'], ignore: { mediatypes: ['x/ignored'], actions: ['pull'] } }],
    });
    const n = Notifier.fromConfig(config, { logger: testLogger().logger });
    notifiers.push(n);
    const base = { request: { id: 'r', method: 'GET', useragent: 't' }, source: {} };
    n.emit(buildEvent({ action: 'push', target: { repository: 'blob', mediaType: 'application/octet-stream' }, ...base }));
    n.emit(buildEvent({ action: 'push', target: { repository: 'other', mediaType: 'x/ignored' }, ...base }));
    n.emit(buildEvent({ action: 'pull', target: { repository: 'pulled', mediaType: 'application/vnd.oci.image.manifest.v1+json' }, ...base }));
    n.emit(buildEvent({ action: 'push', target: { repository: 'kept', mediaType: 'application/vnd.oci.image.manifest.v1+json' }, ...base }));
    n.emit(buildEvent({ action: 'delete', target: { repository: 'deleted', digest: 'sha256:00' }, ...base }));
    // Delivery is in order, so an ignored event that had been sent would have arrived before 'kept'.
    await r.until(() => r.repositories.length === 2);
    assert.deepEqual(r.repositories, ['kept', 'deleted']);
    assert.equal(n.stats()[0]?.events, 2, 'ignored events are not queued');
  });

  it('skips disabled endpoints from the configuration', () => {
    const config = notificationsSchema.parse({ endpoints: [{ name: 'off', disabled: true }] });
    const { logger, lines } = testLogger();
    const n = Notifier.fromConfig(config, { logger });
    assert.equal(n.enabled, false);
    assert.deepEqual(n.stats(), []);
    assert.ok(lines().some((l) => String(l['msg']).includes('endpoint off disabled')));
    n.emit(event());
  });
});

describe('Notifier under pressure', () => {
  it('keeps at most queueSize events for a dead endpoint, dropping the oldest, counting and logging it', async () => {
    const r = await receiver();
    r.responder = (_req, res) => res.writeHead(503).end();
    const metrics = new RegistryMetrics({ processMetrics: false });
    const { logger, lines } = testLogger();
    const n = notifier([{ name: 'full', url: r.url, backoffMs: 100 }], { metrics, queueSize: 10, logger });
    const names = Array.from({ length: 100 }, (_, i) => `e${i}`);
    for (const name of names) n.emit(event(name));
    let stats = n.stats()[0];
    assert.equal(stats?.pending, 10);
    assert.equal(stats?.dropped, 90);
    const text = (await metrics.render()).body;
    assert.match(text, /berth_notifications_dropped_total\{endpoint="full",reason="queue_full"\} 90/);
    assert.match(text, /berth_notifications_pending\{endpoint="full"\} 10/);
    const warnings = lines().filter((l) => String(l['msg']).includes('queue full'));
    assert.equal(warnings.length, 1, 'drops are logged at most once per interval');
    assert.equal(warnings[0]?.['dropped'], 1);

    await r.until(() => r.received.length >= 1);
    r.responder = (_req, res) => res.writeHead(200).end();
    await r.until(() => n.stats()[0]?.delivered === 10);
    // What survived is the newest, in order.
    assert.deepEqual(r.received.at(-1)?.events.map((e) => e.target.repository), names.slice(90));
    stats = n.stats()[0];
    assert.equal(stats?.pending, 0);
  });

  it('emit() returns at once whatever the endpoint does, and close() gives up at its deadline', async () => {
    const r = await receiver();
    r.responder = () => undefined; // never answers
    const metrics = new RegistryMetrics({ processMetrics: false });
    const n = notifier([{ name: 'hung', url: r.url, timeoutMs: 30_000 }], { metrics, queueSize: 1000 });
    const started = performance.now();
    for (let i = 0; i < 5000; i++) n.emit(event());
    const elapsed = performance.now() - started;
    // A blocking emit would wait for the endpoint (30 s); the bound leaves room for a loaded machine.
    assert.ok(elapsed < 3000, `5000 emits took ${elapsed.toFixed(1)} ms`);
    await r.until(() => r.received.length === 1);
    const closing = performance.now();
    await n.close(200);
    const closeTook = performance.now() - closing;
    assert.ok(closeTook >= 150 && closeTook < 2000, `close took ${closeTook.toFixed(0)} ms`);
    const stats = n.stats()[0];
    assert.equal(stats?.pending, 0);
    assert.equal(stats?.dropped, 5000, 'all 5000 dropped: 4000 on overflow, 1000 at shutdown');
    assert.match((await metrics.render()).body, /berth_notifications_dropped_total\{endpoint="hung",reason="shutdown"\} 1000/);
    n.emit(event());
    assert.equal(n.stats()[0]?.dropped, 5001, 'an event after close is dropped and counted');
  });

  it('close() flushes what is queued when the endpoint answers', async () => {
    const r = await receiver();
    const n = notifier([{ name: 'flush', url: r.url }], { batchSize: 5 });
    const names = Array.from({ length: 23 }, (_, i) => `f${i}`);
    for (const name of names) n.emit(event(name));
    await n.close(5000);
    assert.deepEqual(r.repositories, names);
    assert.equal(n.stats()[0]?.dropped, 0);
  });

  it('close() retries a waiting endpoint at once instead of sleeping through its backoff', async () => {
    const r = await receiver();
    r.responder = (_req, res, count) => res.writeHead(count === 1 ? 500 : 200).end();
    const n = notifier([{ name: 'waiting', url: r.url, backoffMs: 60_000 }]);
    n.emit(event('pending'));
    await r.until(() => r.received.length === 1);
    const started = performance.now();
    await n.close(3000);
    assert.ok(performance.now() - started < 1000);
    assert.equal(n.stats()[0]?.delivered, 1);
  });
});
