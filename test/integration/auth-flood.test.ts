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

  /**
   * Runs 64 clients sending `authorization` (or none) ~10 times a second each, and meanwhile times
   * anonymous probes one after another. Returns the probes' p95 and what the clients got.
   */
  async function underLoad(authorization: (n: number, i: number) => string | undefined) {
    let flooding = true;
    const statuses = new Map<number, number>();
    const client = async (n: number): Promise<void> => {
      for (let i = 0; flooding; i++) {
        const value = authorization(n, i);
        try {
          const res = await fetch(`${r.url}/v2/public/app/manifests/v1`, { headers: value === undefined ? {} : { authorization: value }, signal: AbortSignal.timeout(TIMEOUT_MS) });
          await res.arrayBuffer();
          statuses.set(res.status, (statuses.get(res.status) ?? 0) + 1);
        } catch {
          statuses.set(0, (statuses.get(0) ?? 0) + 1); // timed out: the registry is drowning
        }
        await sleep(100); // ~10 requests per second per client
      }
    };
    const clients = Array.from({ length: 64 }, (_, n) => client(n));
    await sleep(300); // let the load build up
    const latencies: number[] = [];
    const paths = ['/v2/public/app/manifests/v1', '/', '/v2/'];
    // A count of probes, not a time: a slow machine takes longer, it does not measure fewer.
    for (let i = 0; i < 45; i++) {
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
    await Promise.all(clients);
    latencies.sort((a, b) => a - b);
    const p95 = latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * 0.95))] ?? Infinity;
    return { p95, statuses };
  }

  it('keeps anonymous pulls, / and /v2/ fast while 64 clients guess passwords', async () => {
    // The same 64 clients without passwords first: what this machine, busy as it is now, gives the
    // probes when no password is checked. The clients run in this process, like the registry, so a
    // loaded machine slows both phases alike; bcrypt on the event loop would slow only the second.
    const baseline = await underLoad(() => undefined);
    const flood = await underLoad((n, i) => basic(`guess${n}-${i}`, `pw${i}`));
    const body = (await metrics.render()).body;
    const checks = sample(body, 'berth_auth_password_checks_total{result="fail"}');
    const busy = sample(body, 'berth_auth_password_checks_refused_total{reason="busy"}');
    const detail = `p95 ${flood.p95.toFixed(1)} ms during the flood, ${baseline.p95.toFixed(1)} ms under the same load without passwords; statuses ${JSON.stringify([...flood.statuses])}; checks ${checks}, refused ${busy}`;
    console.log(`# flood: ${detail}`);
    assert.ok(checks >= 4, `the flood reached bcrypt: ${detail}`);
    assert.ok(busy > 0 && (flood.statuses.get(429) ?? 0) > 0, `guesses beyond the cap got 429: ${detail}`);
    // Before bcrypt left the event loop the flood's p95 was 3.6 s against single milliseconds.
    const bound = Math.max(200, 4 * baseline.p95);
    assert.ok(flood.p95 < bound, `anonymous requests stay fast (bound ${bound.toFixed(0)} ms): ${detail}`);
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
