// Password guessing must not take the registry down: during a flood of wrong passwords (64 clients, no
// account needed), anonymous pulls of a public repository, `/` and `/v2/` stay fast because bcrypt runs on
// worker threads behind a cap; repeated failures lock the address out with 429 + Retry-After; cached
// credentials keep working while their user name is locked out.
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { pushImage } from '../helpers/oci-client.js';
import { HtpasswdAccessController, type HtpasswdLimitSettings } from '../../src/auth/htpasswd/controller.js';
import { hashPassword } from '../../src/auth/htpasswd/hash.js';
import { createLogger } from '../../src/log/logger.js';
import { RegistryMetrics } from '../../src/metrics/metrics.js';

/** Bounds every request of the flood test, so a registry that drowns fails the test in seconds. */
const TIMEOUT_MS = 3000;

const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`;

async function startRegistry(dir: string, cost: number, limits: Partial<HtpasswdLimitSettings>) {
  const file = join(dir, `htpasswd-${cost}`);
  await writeFile(file, `alice:${await hashPassword('alicepass', cost)}\n`);
  const logs: string[] = [];
  const logger = createLogger({ level: 'info', formatter: 'json', destination: { write: (l: string) => logs.push(l) } });
  const metrics = new RegistryMetrics({ processMetrics: false });
  const controller = await HtpasswdAccessController.create({
    realm: 'Registry Realm',
    path: file,
    logger,
    metrics,
    limits,
    policies: {
      default: 'deny',
      evaluation: 'deny-overrides',
      groups: {},
      rules: [
        { groups: [], users: [], anonymous: true, authenticated: false, repositories: ['public/**'], actions: ['pull'], catalog: false, effect: 'allow' },
        { groups: [], users: ['alice'], anonymous: false, authenticated: false, repositories: ['**'], actions: ['*'], catalog: true, effect: 'allow' },
      ],
    },
  });
  const seed = await startTestRegistry();
  const registry = await startTestRegistry({ driver: seed.driver, access: controller, accessLog: false });
  await pushImage(seed.url, 'public/app', 'v1');
  await seed.close();
  return { registry, controller, metrics, logs };
}

function sample(body: string, series: string): number {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

describe('password guessing flood', () => {
  let dir: string;
  let r: TestRegistry;
  let controller: HtpasswdAccessController;
  let metrics: RegistryMetrics;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-flood-'));
    // A realistic cost (10: tens of milliseconds per check), one worker, and no lockouts, so the flood
    // really reaches bcrypt and only the worker pool and the cap keep the event loop free.
    ({ registry: r, controller, metrics } = await startRegistry(dir, 10, { workers: 1, maxConcurrentChecks: 4, perAddress: 0, perUser: 0 }));
  });
  after(async () => {
    controller.close();
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps anonymous pulls, / and /v2/ fast while 64 clients guess passwords', async () => {
    let flooding = true;
    const statuses = new Map<number, number>();
    const guesser = async (n: number): Promise<void> => {
      for (let i = 0; flooding; i++) {
        try {
          const res = await fetch(`${r.url}/v2/public/app/manifests/v1`, { headers: { authorization: basic(`guess${n}-${i}`, `pw${i}`) }, signal: AbortSignal.timeout(TIMEOUT_MS) });
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        } catch {
          statuses.set(0, (statuses.get(0) ?? 0) + 1); // timed out: the registry is drowning
        }
        await sleep(100); // ~10 guesses per second per client
      }
    };
    const flood = Array.from({ length: 64 }, (_, n) => guesser(n));
    await sleep(300); // let the flood build up
    const latencies: number[] = [];
    const deadline = Date.now() + 2500;
    const paths = ['/v2/public/app/manifests/v1', '/', '/v2/'];
    for (let i = 0; Date.now() < deadline && i < 60; i++) {
      const path = paths[i % paths.length] ?? '/';
      const started = performance.now();
      try {
        const res = await fetch(`${r.url}${path}`, { signal: AbortSignal.timeout(TIMEOUT_MS) });
        await res.arrayBuffer();
        assert.equal(res.status, path === '/v2/' ? 401 : 200, path);
      } catch (err) {
        if (!(err instanceof Error && err.name === 'TimeoutError')) throw err;
      }
      latencies.push(performance.now() - started);
    }
    flooding = false;
    await Promise.all(flood);
    latencies.sort((a, b) => a - b);
    const p95 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.95))] ?? Infinity;
    const body = (await metrics.render()).body;
    const checks = sample(body, 'berth_auth_password_checks_total{result="fail"}');
    const busy = sample(body, 'berth_auth_password_checks_refused_total{reason="busy"}');
    const detail = `p95 ${p95.toFixed(1)} ms over ${latencies.length} requests; statuses ${JSON.stringify([...statuses])}; checks ${checks}, refused ${busy}`;
    console.log(`# flood: ${detail}`);
    assert.ok(checks >= 4, `the flood reached bcrypt: ${detail}`);
    assert.ok(busy > 0 && (statuses.get(429) ?? 0) > 0, `guesses beyond the cap got 429: ${detail}`);
    assert.ok(p95 < 200, `anonymous requests stay fast: ${detail}`);
    assert.ok(latencies.length >= 10, `requests completed: ${detail}`);
  });
});

describe('lockouts after failed logins', () => {
  let dir: string;
  let r: TestRegistry;
  let controller: HtpasswdAccessController;
  let metrics: RegistryMetrics;
  let logs: string[];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-lockout-'));
    ({ registry: r, controller, metrics, logs } = await startRegistry(dir, 4, { perAddress: 5, perUser: 3, lockoutMs: 60_000 }));
  });
  after(async () => {
    controller.close();
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a user name locked out by guesses still works with cached credentials; the address is locked out next', async () => {
    const get = (authorization: string) => fetch(`${r.url}/v2/private/app/tags/list`, { headers: { authorization } });
    assert.equal((await get(basic('alice', 'alicepass'))).status, 404, 'alice logs in (and is cached)');
    for (let i = 0; i < 3; i++) assert.equal((await get(basic('alice', `guess${i}`))).status, 401);
    const locked = await get(basic('alice', 'guess-more'));
    assert.equal(locked.status, 429);
    assert.equal(((await locked.json()) as { errors: Array<{ code: string }> }).errors[0]?.code, 'TOOMANYREQUESTS');
    assert.ok(Number(locked.headers.get('retry-after')) >= 1 && Number(locked.headers.get('retry-after')) <= 60);
    assert.equal((await get(basic('alice', 'alicepass'))).status, 404, 'cached credentials need no check');
    // Two more failures (other names) make five from this address: the address is locked out.
    for (let i = 0; i < 2; i++) assert.equal((await get(basic(`nobody${i}`, 'x'))).status, 401);
    assert.equal((await get(basic('nobody-else', 'x'))).status, 429);
    assert.equal((await fetch(`${r.url}/v2/public/app/manifests/v1`)).status, 200, 'anonymous pulls are never throttled');
    const body = (await metrics.render()).body;
    assert.equal(sample(body, 'berth_auth_lockouts_total{kind="user"}'), 1);
    assert.equal(sample(body, 'berth_auth_lockouts_total{kind="address"}'), 1);
    assert.equal(sample(body, 'berth_auth_password_checks_total{result="fail"}'), 5);
    assert.equal(logs.filter((l) => l.includes('too many failed logins')).length, 2, 'one line per lockout');
  });
});
