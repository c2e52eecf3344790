// Health checks against real files and sockets, the monitor's thresholds and timeouts, and the
// `health` configuration section.
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, unlink } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import { createServer as createTcpServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { buildHealthChecks, fileCheck, httpCheck, storageDriverProbe, tcpCheck } from '../../src/health/checks.js';
import { HealthMonitor, type HealthCheck } from '../../src/health/monitor.js';
import { healthSchema } from '../../src/health/schema.js';
import { createLogger } from '../../src/log/logger.js';
import type { StorageDriver } from '../../src/storage/driver/driver.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import { StorageDriverError } from '../../src/storage/driver/errors.js';

const signal = new AbortController().signal;

async function eventually(predicate: () => boolean, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!predicate()) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((res) => setTimeout(res, 10));
  }
}

/** A port nothing listens on. */
async function closedPort(): Promise<number> {
  const server = createTcpServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

let dir: string;
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-health-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('health checks', () => {
  it('file: passes while the file is absent, fails while it exists', async () => {
    const path = join(dir, 'maintenance');
    const check = fileCheck(path);
    await check(signal);
    await writeFile(path, '');
    await assert.rejects(check(signal), /file exists/);
    await unlink(path);
    await check(signal);
  });

  it('tcp: passes against a listening port, fails against a closed one', async () => {
    const server = createTcpServer((s) => s.end());
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const { port } = server.address() as AddressInfo;
    try {
      await tcpCheck(`127.0.0.1:${port}`)(signal);
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
    const dead = await closedPort();
    await assert.rejects(tcpCheck(`127.0.0.1:${dead}`)(signal), new RegExp(`127\\.0\\.0\\.1:${dead}: connection failed: .*ECONNREFUSED`));
    assert.throws(() => tcpCheck('no-port'), /expected host:port/);
  });

  describe('http', () => {
    let server: Server;
    let base: string;
    const seen: Array<{ method: string; auth: string | undefined }> = [];
    before(async () => {
      server = createServer((req, res) => {
        seen.push({ method: req.method ?? '', auth: req.headers['authorization'] });
        res.writeHead(req.url === '/ok' ? 200 : req.url === '/nocontent' ? 204 : 500).end();
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    });
    after(async () => {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    });

    it('sends HEAD with the configured headers and expects the status', async () => {
      await httpCheck({ uri: `${base}/ok`, headers: { Authorization: ['Bearer t'] } })(signal);
      assert.deepEqual(seen.at(-1), { method: 'HEAD', auth: 'Bearer t' });
      await httpCheck({ uri: `${base}/nocontent`, statusCode: 204 })(signal);
      await assert.rejects(httpCheck({ uri: `${base}/broken` })(signal), new RegExp(`${base}/broken: downstream service returned unexpected status: 500`));
      await assert.rejects(httpCheck({ uri: `${base}/ok`, statusCode: 204 })(signal), /unexpected status: 200/);
    });

    it('fails when the service does not answer', async () => {
      const dead = await closedPort();
      await assert.rejects(httpCheck({ uri: `http://127.0.0.1:${dead}/` })(signal), /error while checking/);
    });
  });

  it('storage driver: passes when the driver answers, even "not found"; fails when it errors', async () => {
    await storageDriverProbe(new InMemoryDriver())(signal);
    const broken = Object.assign(Object.create(new InMemoryDriver()) as StorageDriver, {
      stat: async () => {
        throw new StorageDriverError('s3', 's3: access denied');
      },
    });
    await assert.rejects(storageDriverProbe(broken)(signal), /access denied/);
  });
});

describe('HealthMonitor', () => {
  /** A check whose outcome the test sets. */
  function controllable(name: string, extra: Partial<HealthCheck> = {}): { check: HealthCheck; set: (ok: boolean) => void; runs: () => number } {
    let ok = true;
    let runs = 0;
    return {
      check: {
        name,
        intervalMs: 60_000,
        run: async () => {
          runs++;
          if (!ok) throw new Error(`${name} is down`);
        },
        ...extra,
      },
      set: (v) => (ok = v),
      runs: () => runs,
    };
  }

  it('reports failing only after threshold consecutive failures, and recovers on a success', async () => {
    let now = new Date('2024-01-01T00:00:00Z');
    const c = controllable('db', { threshold: 3 });
    const lines: string[] = [];
    const logger = createLogger({ level: 'debug', formatter: 'json', destination: { write: (l: string) => lines.push(l) } });
    const monitor = new HealthMonitor([c.check], { now: () => now, logger });
    await monitor.start();
    assert.deepEqual(monitor.status(), { healthy: true, checks: { db: { ok: true, since: new Date('2024-01-01T00:00:00Z'), consecutiveFailures: 0, checkedAt: now } } });
    c.set(false);
    await monitor.runAll();
    await monitor.runAll();
    let db = monitor.status().checks['db'];
    assert.equal(db?.ok, true, 'below the threshold');
    assert.equal(db?.consecutiveFailures, 2);
    assert.equal(db?.message, 'db is down');
    now = new Date('2024-01-01T00:01:00Z');
    await monitor.runAll();
    db = monitor.status().checks['db'];
    assert.equal(db?.ok, false);
    assert.deepEqual(db?.since, now);
    assert.equal(monitor.status().healthy, false);
    assert.deepEqual(monitor.failures(), { db: 'db is down' });
    c.set(true);
    now = new Date('2024-01-01T00:02:00Z');
    await monitor.runAll();
    assert.deepEqual(monitor.status().checks['db'], { ok: true, since: now, consecutiveFailures: 0, checkedAt: now });
    assert.deepEqual(monitor.failures(), {});
    const messages = lines.map((l) => (JSON.parse(l) as { msg: string }).msg);
    assert.deepEqual(messages, ['health: check failing', 'health: check recovered']);
    monitor.stop();
  });

  it('runs each check at start and then every interval', async () => {
    const c = controllable('tick', { intervalMs: 30 });
    const monitor = new HealthMonitor([c.check]);
    await monitor.start();
    assert.equal(c.runs(), 1);
    await eventually(() => c.runs() >= 4);
    monitor.stop();
    const stopped = c.runs();
    // Proves something does NOT happen, and HealthMonitor has no event for "would have run": wait more than
    // three intervals. A slow machine only makes this weaker, never failing wrongly.
    await new Promise((res) => setTimeout(res, 100));
    assert.ok(c.runs() <= stopped + 1, 'no runs after stop()');
  });

  it('fails a check that exceeds its timeout, and one still running when the next is due', async () => {
    let aborted = 0;
    const hanging: HealthCheck = {
      name: 'hang',
      intervalMs: 60_000,
      timeoutMs: 50,
      run: (s) =>
        new Promise<void>(() => {
          s.addEventListener('abort', () => aborted++);
        }),
    };
    const monitor = new HealthMonitor([hanging]);
    await monitor.start();
    assert.equal(monitor.status().checks['hang']?.ok, false);
    assert.equal(monitor.status().checks['hang']?.message, 'timed out after 50 ms');
    assert.equal(aborted, 1, 'the run is told to stop');
    await monitor.runAll();
    assert.match(monitor.status().checks['hang']?.message ?? '', /previous run still in progress/);
    monitor.stop();
  });

  it('is ready while healthy and not draining', async () => {
    const c = controllable('x');
    const monitor = new HealthMonitor([c.check]);
    await monitor.start();
    assert.equal(monitor.readiness().ready, true);
    c.set(false);
    await monitor.runAll();
    assert.equal(monitor.readiness().ready, false);
    c.set(true);
    await monitor.runAll();
    monitor.drain();
    assert.deepEqual({ ready: monitor.readiness().ready, reason: monitor.readiness().reason }, { ready: false, reason: 'shutting down' });
    assert.equal(monitor.status().healthy, true, 'draining is not unhealthy');
    monitor.stop();
  });

  it('is healthy with no checks, and refuses two checks with one name', async () => {
    const empty = new HealthMonitor([]);
    await empty.start();
    assert.deepEqual(empty.status(), { healthy: true, checks: {} });
    assert.throws(() => new HealthMonitor([controllable('a').check, controllable('a').check]), /two checks are named "a"/);
  });

  it('flips a file check when the file appears and goes', async () => {
    const path = join(dir, 'down');
    const monitor = new HealthMonitor([{ name: path, run: fileCheck(path), intervalMs: 20 }]);
    await monitor.start();
    assert.equal(monitor.status().healthy, true);
    await writeFile(path, '');
    await eventually(() => !monitor.status().healthy);
    assert.deepEqual(monitor.failures(), { [path]: 'file exists' });
    await unlink(path);
    await eventually(() => monitor.status().healthy);
    monitor.stop();
  });
});

describe('healthSchema', () => {
  it('defaults to no checks, with Distribution’s 10 s interval', () => {
    for (const input of [undefined, null, {}]) {
      assert.deepEqual(healthSchema.parse(input), { storagedriver: { enabled: false, interval: 10_000, threshold: 0 }, file: [], http: [], tcp: [] });
    }
  });

  it('parses every kind of check, with defaults for what is left out', () => {
    const parsed = healthSchema.parse({
      storagedriver: { enabled: true, interval: '5s', threshold: 3 },
      file: [{ file: '/etc/berth/down' }],
      http: [{ uri: 'http://db.local/health', headers: { Authorization: 'Bearer x' }, timeout: '2s', threshold: 2 }],
      tcp: [{ addr: 'redis.local:6379', interval: 0, timeout: '500ms' }],
    });
    assert.deepEqual(parsed, {
      storagedriver: { enabled: true, interval: 5000, threshold: 3 },
      file: [{ file: '/etc/berth/down', interval: 10_000, threshold: 0 }],
      http: [{ uri: 'http://db.local/health', headers: { Authorization: ['Bearer x'] }, statuscode: 200, timeout: 2000, interval: 10_000, threshold: 2 }],
      tcp: [{ addr: 'redis.local:6379', timeout: 500, interval: 10_000, threshold: 0 }],
    });
  });

  const bad: Array<[string, unknown, string]> = [
    ['a file check without a file', { file: [{ interval: '1s' }] }, 'file.0.file'],
    ['a relative URI', { http: [{ uri: '/health' }] }, 'http.0.uri'],
    ['an address without a port', { tcp: [{ addr: 'redis.local' }] }, 'tcp.0.addr'],
    ['a negative interval', { file: [{ file: '/x', interval: '-1s' }] }, 'file.0.interval'],
    ['a status code out of range', { http: [{ uri: 'http://a/', statuscode: 700 }] }, 'http.0.statuscode'],
    ['an unknown key', { storagedriver: { enabled: true, every: '1s' } }, 'storagedriver'],
    ['two checks with one name', { tcp: [{ addr: 'a:1' }, { addr: 'a:1' }] }, 'tcp.1'],
  ];
  for (const [what, input, path] of bad) {
    it(`refuses ${what}, naming ${path}`, () => {
      const result = healthSchema.safeParse(input);
      assert.equal(result.success, false);
      const paths = result.error?.issues.map((i) => i.path.join('.')) ?? [];
      assert.ok(paths.includes(path), `issues at ${paths.join(', ')}`);
    });
  }

  it('builds checks named as Distribution names them', () => {
    const config = healthSchema.parse({
      storagedriver: { enabled: true, threshold: 3 },
      file: [{ file: '/down' }],
      http: [{ uri: 'http://a/h', timeout: '1s' }],
      tcp: [{ addr: 'b:1' }],
    });
    const checks = buildHealthChecks(config, { name: 'filesystem', probe: async () => undefined });
    assert.deepEqual(
      checks.map((c) => [c.name, c.intervalMs, c.threshold, c.timeoutMs]),
      [
        ['storagedriver_filesystem', 10_000, 3, undefined],
        ['/down', 10_000, 0, undefined],
        ['http://a/h', 10_000, 0, 1000],
        ['b:1', 10_000, 0, undefined],
      ],
    );
    assert.deepEqual(buildHealthChecks(healthSchema.parse({ storagedriver: { enabled: false } }), { name: 'x', probe: async () => undefined }), []);
  });
});
