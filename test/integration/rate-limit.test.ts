// Request rate limits over real HTTP: a burst beyond a client's budget gets 429 TOOMANYREQUESTS with
// Retry-After and the OCI error body, while another client address (127.0.0.2) and the probes are not
// limited; reads and writes have budgets of their own; X-Forwarded-For counts only from trusted proxies;
// with key: user the budget follows the htpasswd user. The limiter is the one serve.ts builds from the
// configuration (createRateLimiter), with its metrics.
import { describe, it, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { request as httpRequest, type IncomingHttpHeaders } from 'node:http';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { parseConfig } from '../../src/config/load.js';
import { createRateLimiter } from '../../src/ratelimit/from-config.js';
import type { RequestRateLimiter } from '../../src/ratelimit/limiter.js';
import { RegistryMetrics } from '../../src/metrics/metrics.js';
import { createLogger } from '../../src/log/logger.js';
import { HtpasswdAccessController } from '../../src/auth/htpasswd/controller.js';
import { hashPassword } from '../../src/auth/htpasswd/hash.js';
import type { AccessController } from '../../src/auth/access.js';

interface Answer {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

/** One request on its own connection, from `localAddress` (127.0.0.1 unless given). */
function send(url: string, options: { method?: string; localAddress?: string; headers?: Record<string, string>; body?: string } = {}): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = httpRequest(url, { method: options.method ?? 'GET', agent: false, localAddress: options.localAddress ?? '127.0.0.1', headers: options.headers }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(options.body);
  });
}

/** Sends `n` requests one after the other and returns their statuses. */
async function statuses(n: number, url: string, options: Parameters<typeof send>[1] = {}): Promise<number[]> {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push((await send(url, options)).status);
  return out;
}

function sample(body: string, series: string): number {
  const line = body.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? 0 : Number(line.slice(series.length + 1));
}

const logger = createLogger({ level: 'warn', formatter: 'json', destination: { write: () => undefined } });

/** A registry whose limiter comes from `ratelimit` (the http.ratelimit section) as serve.ts builds it. */
async function limitedRegistry(ratelimit: Record<string, unknown>, access?: AccessController): Promise<{ r: TestRegistry; metrics: RegistryMetrics; limiter: RequestRateLimiter }> {
  const config = parseConfig({ version: '0.1', storage: { inmemory: {} }, http: { ratelimit: { enabled: true, ...ratelimit } } });
  const metrics = new RegistryMetrics({ processMetrics: false });
  const limiter = await createRateLimiter(config.http.ratelimit, { logger, metrics, prefix: config.http.prefix });
  assert.ok(limiter !== undefined);
  const r = await startTestRegistry({ rateLimiter: limiter, metrics, accessLog: false, ...(access !== undefined ? { access } : {}) });
  return { r, metrics, limiter };
}

// A token an hour: within a test, a spent budget stays spent.
const HOURLY = 1 / 3600;

describe('request rate limits over HTTP', () => {
  const started: Array<{ r: TestRegistry; limiter: RequestRateLimiter }> = [];
  after(async () => {
    for (const { r, limiter } of started) {
      await r.close();
      await limiter.close();
    }
  });

  it('refuses a burst beyond the budget with 429, Retry-After and the OCI error; other addresses and the probes go on', async () => {
    const setup = await limitedRegistry({ reads: { rate: HOURLY, burst: 5 } });
    started.push(setup);
    const { r, metrics } = setup;
    assert.deepEqual(await statuses(5, `${r.url}/v2/_catalog`), [200, 200, 200, 200, 200]);
    const refused = await send(`${r.url}/v2/_catalog`);
    assert.equal(refused.status, 429);
    const retryAfter = Number(refused.headers['retry-after']);
    assert.ok(Number.isInteger(retryAfter) && retryAfter > 3000 && retryAfter <= 3600, `Retry-After: ${refused.headers['retry-after']} (a token an hour)`);
    assert.match(String(refused.headers['content-type']), /^application\/json/);
    assert.equal(refused.headers['docker-distribution-api-version'], 'registry/2.0');
    const body = JSON.parse(refused.body) as { errors: Array<{ code: string; message: string; detail: unknown }> };
    assert.equal(body.errors.length, 1);
    assert.equal(body.errors[0]?.code, 'TOOMANYREQUESTS');
    assert.match(body.errors[0]?.message ?? '', /too many read requests/);
    assert.deepEqual(body.errors[0]?.detail, { limit: 'reads', retryAfter });
    // A HEAD is a read too, answered without a body; a manifest GET shares the budget of the catalog.
    const head = await send(`${r.url}/v2/a/manifests/latest`, { method: 'HEAD' });
    assert.equal(head.status, 429);
    assert.equal(head.body, '');
    assert.ok(head.headers['retry-after'] !== undefined);
    // The probes are exempt by default.
    assert.deepEqual(await statuses(10, `${r.url}/v2/`), new Array(10).fill(200));
    assert.deepEqual(await statuses(10, `${r.url}/`), new Array(10).fill(200));
    // Another client address has a budget of its own.
    assert.deepEqual(await statuses(6, `${r.url}/v2/_catalog`, { localAddress: '127.0.0.2' }), [200, 200, 200, 200, 200, 429]);
    const exposition = (await metrics.render()).body;
    assert.equal(sample(exposition, 'berth_ratelimit_limited_total{class="reads"}'), 3);
    assert.equal(sample(exposition, 'berth_ratelimit_clients'), 2);
    assert.equal(sample(exposition, 'berth_http_requests_total{route="catalog",method="GET",status="429"}'), 2);
  });

  it('gives reads and writes budgets of their own', async () => {
    const setup = await limitedRegistry({ reads: { rate: HOURLY, burst: 3 }, writes: { rate: HOURLY, burst: 2 } });
    started.push(setup);
    const { r, metrics } = setup;
    assert.deepEqual(await statuses(3, `${r.url}/v2/w/blobs/uploads/`, { method: 'POST' }), [202, 202, 429]);
    const refused = await send(`${r.url}/v2/w/manifests/v1`, { method: 'PUT', headers: { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' }, body: '{}' });
    assert.equal(refused.status, 429);
    assert.match(refused.body, /too many write requests/);
    assert.deepEqual(await statuses(4, `${r.url}/v2/none/tags/list`), [404, 404, 404, 429], 'reads were not spent by the writes');
    const exposition = (await metrics.render()).body;
    assert.equal(sample(exposition, 'berth_ratelimit_limited_total{class="writes"}'), 2);
    assert.equal(sample(exposition, 'berth_ratelimit_limited_total{class="reads"}'), 1);
  });

  it('keys clients behind trusted proxies by X-Forwarded-For, and ignores it from anyone else', async () => {
    const setup = await limitedRegistry({ reads: { rate: HOURLY, burst: 2 }, trustedproxies: ['127.0.0.1'] });
    started.push(setup);
    const { r } = setup;
    const via = (client: string, localAddress = '127.0.0.1') => ({ localAddress, headers: { 'X-Forwarded-For': `${client}` } });
    assert.deepEqual(await statuses(3, `${r.url}/v2/_catalog`, via('203.0.113.1')), [200, 200, 429]);
    assert.deepEqual(await statuses(3, `${r.url}/v2/_catalog`, via('203.0.113.2')), [200, 200, 429], 'another client behind the proxy');
    // 127.0.0.2 is no trusted proxy: naming a fresh client in the header gets it nothing.
    assert.deepEqual(await statuses(3, `${r.url}/v2/_catalog`, via('203.0.113.3', '127.0.0.2')), [200, 200, 429]);
    assert.deepEqual(await statuses(1, `${r.url}/v2/_catalog`, via('203.0.113.4', '127.0.0.2')), [429]);
    // A client cannot escape through a header of its own left of what the proxy appended.
    assert.deepEqual(await statuses(1, `${r.url}/v2/_catalog`, via('198.51.100.7, 203.0.113.1')), [429]);
  });

  it('with key: user, an htpasswd user has one budget from every address, anonymous clients one per address', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-ratelimit-'));
    try {
      const file = join(dir, 'htpasswd');
      await writeFile(file, `alice:${await hashPassword('alicepass', 4)}\nbob:${await hashPassword('bobpass', 4)}\n`);
      const controller = await HtpasswdAccessController.create({
        realm: 'Registry Realm',
        path: file,
        logger,
        policies: {
          default: 'deny',
          evaluation: 'deny-overrides',
          groups: {},
          rules: [
            { groups: [], users: [], anonymous: true, authenticated: false, repositories: ['public/**'], actions: ['pull'], catalog: false, effect: 'allow' },
            { groups: [], users: [], anonymous: false, authenticated: true, repositories: ['**'], actions: ['*'], catalog: true, effect: 'allow' },
          ],
        },
      });
      try {
        const setup = await limitedRegistry({ key: 'user', reads: { rate: HOURLY, burst: 3 } }, controller);
        started.push(setup);
        const { r } = setup;
        const as = (user: string, password: string, localAddress = '127.0.0.1') => ({ localAddress, headers: { Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}` } });
        assert.deepEqual(await statuses(2, `${r.url}/v2/_catalog`, as('alice', 'alicepass')), [200, 200]);
        assert.deepEqual(await statuses(2, `${r.url}/v2/_catalog`, as('alice', 'alicepass', '127.0.0.2')), [200, 429], 'the same user from another address');
        assert.deepEqual(await statuses(4, `${r.url}/v2/_catalog`, as('bob', 'bobpass')), [200, 200, 200, 429], 'another user from the same address');
        assert.deepEqual(await statuses(4, `${r.url}/v2/public/x/tags/list`), [404, 404, 404, 429], 'anonymous, by address');
        assert.deepEqual(await statuses(1, `${r.url}/v2/public/x/tags/list`, { localAddress: '127.0.0.2' }), [404]);
        // Refused by authentication before the limit is counted: a wrong password is the login limits' business.
        assert.deepEqual(await statuses(5, `${r.url}/v2/_catalog`, as('alice', 'wrong')), [401, 401, 401, 401, 401]);
      } finally {
        controller.close();
      }
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('costs nothing when off: no limiter is built and bursts are answered', async () => {
    const config = parseConfig({ version: '0.1', storage: { inmemory: {} } });
    assert.equal(await createRateLimiter(config.http.ratelimit, { logger, prefix: '' }), undefined);
    const r = await startTestRegistry({ accessLog: false });
    try {
      const all = await statuses(50, `${r.url}/v2/_catalog`);
      assert.deepEqual(all, new Array(50).fill(200));
    } finally {
      await r.close();
    }
  });
});

describe('http.ratelimit.store: redis without a redis section', () => {
  let config: ReturnType<typeof parseConfig>;
  before(() => {
    config = parseConfig({ version: '0.1', storage: { inmemory: {} }, http: { ratelimit: { enabled: true, store: 'redis' } } });
  });
  it('stops start-up with the key named', async () => {
    await assert.rejects(createRateLimiter(config.http.ratelimit, { logger, prefix: '' }), /http\.ratelimit\.store: redis needs the redis section/);
  });
});
