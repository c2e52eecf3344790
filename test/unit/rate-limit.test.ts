// The request rate limiter's pure parts with an injected clock: GCRA bucket math and Retry-After, the
// client key (trusted proxies, IPv6 prefixes), the in-process store's LRU bound, the limiter's classes,
// exemptions and keys, and the http.ratelimit configuration (file and REGISTRY_HTTP_RATELIMIT_* variables).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { bucketLimit, retryAfterSeconds, takeToken } from '../../src/ratelimit/gcra.js';
import { addressKey, checkProxyEntry, clientAddress, trustedProxies } from '../../src/ratelimit/client-address.js';
import { InMemoryRateLimitStore } from '../../src/ratelimit/store.js';
import { RequestRateLimiter, type LimitedRequest, type RateLimiterOptions } from '../../src/ratelimit/limiter.js';
import { applyEnvOverrides } from '../../src/config/env.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { OciError } from '../../src/oci/errors.js';

describe('GCRA bucket math', () => {
  it('allows a burst at once, then one request per interval, and refuses without moving the state', () => {
    const limit = bucketLimit(2, 3); // a token every 500 ms, 3 at once
    let tat = 0;
    const now = 1_000_000;
    for (let i = 0; i < 3; i++) {
      const d = takeToken(tat, now, limit);
      assert.equal(d.allowed, true, `request ${i + 1} of the burst`);
      tat = d.tat;
    }
    const refused = takeToken(tat, now, limit);
    assert.deepEqual(refused, { allowed: false, tat, retryAfterMs: 500 });
    // Retrying early does not push the client further back.
    assert.equal(takeToken(tat, now + 100, limit).retryAfterMs, 400);
    assert.equal(takeToken(tat, now + 499, limit).allowed, false);
    const later = takeToken(tat, now + 500, limit);
    assert.equal(later.allowed, true);
    assert.equal(takeToken(later.tat, now + 500, limit).allowed, false);
  });

  it('refills to the burst and no further after an idle period', () => {
    const limit = bucketLimit(10, 5);
    let tat = takeToken(0, 0, limit).tat;
    const idle = 3_600_000;
    let allowed = 0;
    for (let i = 0; i < 20; i++) {
      const d = takeToken(tat, idle, limit);
      if (!d.allowed) break;
      tat = d.tat;
      allowed++;
    }
    assert.equal(allowed, 5);
  });

  it('keeps an average of `rate` requests per second over a long run', () => {
    const limit = bucketLimit(3, 1); // intervals of 333.33... ms: floating-point error must not drop requests
    let tat = 0;
    let allowed = 0;
    for (let ms = 0; ms < 60_000; ms += 1) {
      const d = takeToken(tat, ms, limit);
      if (d.allowed) {
        allowed++;
        tat = d.tat;
      }
    }
    assert.equal(allowed, 180);
  });

  it('turns the wait into whole seconds, rounded up, at least 1', () => {
    const cases: Array<[number, number]> = [
      [0.001, 1],
      [999, 1],
      [1000, 1],
      [1001, 2],
      [59_500, 60],
    ];
    for (const [ms, s] of cases) assert.equal(retryAfterSeconds(ms), s, `${ms} ms`);
    assert.equal(retryAfterSeconds(takeToken(takeToken(0, 0, bucketLimit(0.1, 1)).tat, 0, bucketLimit(0.1, 1)).retryAfterMs), 10);
  });

  it('refuses nonsensical limits', () => {
    assert.throws(() => bucketLimit(0, 1), RangeError);
    assert.throws(() => bucketLimit(1, 0), RangeError);
    assert.throws(() => bucketLimit(1, 1.5), RangeError);
  });
});

describe('client address', () => {
  const none = trustedProxies([]);
  const proxies = trustedProxies(['10.0.0.0/8', '192.0.2.7', 'fd00::/8']);

  it('is the peer unless the peer is a trusted proxy', () => {
    const cases: Array<[string | undefined, string | string[] | undefined, ReturnType<typeof trustedProxies>, string | undefined]> = [
      ['198.51.100.1', undefined, none, '198.51.100.1'],
      ['198.51.100.1', '203.0.113.9', none, '198.51.100.1'], // no proxies configured: the header is ignored
      ['198.51.100.1', '203.0.113.9', proxies, '198.51.100.1'], // an untrusted peer cannot name another client
      ['::ffff:198.51.100.1', undefined, none, '198.51.100.1'],
      ['10.1.2.3', '203.0.113.9', proxies, '203.0.113.9'],
      ['::ffff:10.1.2.3', '203.0.113.9', proxies, '203.0.113.9'],
      ['10.1.2.3', '1.1.1.1, 203.0.113.9, 192.0.2.7', proxies, '203.0.113.9'], // rightmost untrusted hop
      ['10.1.2.3', ['1.1.1.1', '203.0.113.9'], proxies, '203.0.113.9'], // repeated headers
      ['10.1.2.3', '10.9.9.9, 10.8.8.8', proxies, '10.9.9.9'], // only proxies: the leftmost
      ['10.1.2.3', 'garbage, 203.0.113.9', proxies, '203.0.113.9'],
      ['10.1.2.3', '203.0.113.9, garbage', proxies, '10.1.2.3'], // an unreadable hop: the last address we trust
      ['10.1.2.3', '203.0.113.9:4711', proxies, '203.0.113.9'],
      ['10.1.2.3', '[2001:db8::1]:443', proxies, '2001:db8::1'],
      ['fd12::1', '2001:db8::5', proxies, '2001:db8::5'],
      ['10.1.2.3', '', proxies, '10.1.2.3'],
      [undefined, '203.0.113.9', proxies, undefined],
    ];
    for (const [peer, xff, list, want] of cases) assert.equal(clientAddress(peer, xff, list), want, `${peer} ${JSON.stringify(xff)}`);
  });

  it('keys IPv6 clients by their prefix and IPv4 clients by their address', () => {
    const cases: Array<[string, number, string]> = [
      ['198.51.100.1', 64, '198.51.100.1'],
      ['2001:db8:1:2:3:4:5:6', 64, '2001:db8:1:2::/64'],
      ['2001:db8:1:2::', 64, '2001:db8:1:2::/64'],
      ['2001:db8::1', 64, '2001:db8::/64'],
      ['2001:DB8:1:2:ffff::1%eth0', 64, '2001:db8:1:2::/64'],
      ['2001:db8:1:2:3:4:5:6', 56, '2001:db8:1::/56'],
      ['2001:db8:1:2ff:3:4:5:6', 56, '2001:db8:1:200::/56'],
      ['2001:db8:1:2:3:4:5:6', 128, '2001:db8:1:2:3:4:5:6'],
      ['2001:db8:1:2:3:4:5:6', 127, '2001:db8:1:2:3:4:5:6/127'],
      ['::1', 64, '::/64'],
      ['64:ff9b::198.51.100.1', 96, '64:ff9b::/96'],
    ];
    for (const [address, bits, want] of cases) assert.equal(addressKey(address, bits), want, `${address}/${bits}`);
  });

  it('gives every spelling of an IPv6 address the same key (the canonical fast path and the general one agree)', () => {
    let seed = 7;
    const random = (): number => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const group = (): number => (random() < 0.3 ? 0 : Math.floor(random() * 0x10000));
    for (let n = 0; n < 500; n++) {
      const groups = Array.from({ length: 8 }, group);
      const full = groups.map((g) => g.toString(16).padStart(4, '0')).join(':').toUpperCase(); // the general path
      const canonical = groups.map((g) => g.toString(16)).join(':'); // the fast path, when no group is compressed
      const compressed = canonical.replace(/(^|:)0(:0)+(:|$)/, '::'); // one run of zeros as "::"
      for (const bits of [16, 48, 64, 80, 56, 60, 127]) {
        const want = addressKey(full, bits);
        assert.equal(addressKey(canonical, bits), want, `${canonical}/${bits}`);
        assert.equal(addressKey(compressed, bits), want, `${compressed}/${bits}`);
      }
    }
  });

  it('checks trusted proxy entries', () => {
    for (const ok of ['10.0.0.0/8', '127.0.0.1', '::1', 'fd00::/8', '0.0.0.0/0', '::/0']) assert.equal(checkProxyEntry(ok), undefined, ok);
    for (const bad of ['10.0.0.0/33', 'fd00::/129', 'localhost', '10.0.0.0/', '10.0.0.0/x', '']) assert.ok(checkProxyEntry(bad) !== undefined, bad);
  });
});

describe('InMemoryRateLimitStore', () => {
  it('tracks at most maxClients, forgetting the least recently seen (whose bucket starts full again)', () => {
    const now = 5_000;
    const store = new InMemoryRateLimitStore({ maxClients: 2, now: () => now });
    const limit = bucketLimit(1 / 3600, 1);
    assert.equal(store.take('a', 'reads', limit), 0);
    assert.ok(store.take('a', 'reads', limit) > 0);
    assert.equal(store.take('a', 'writes', limit), 0, 'writes have a bucket of their own');
    assert.equal(store.take('b', 'reads', limit), 0);
    assert.ok(store.take('a', 'reads', limit) > 0, 'a is now the most recent');
    assert.equal(store.take('c', 'reads', limit), 0); // evicts b
    assert.equal(store.size, 2);
    assert.ok(store.take('a', 'reads', limit) > 0, 'a was kept');
    assert.equal(store.take('b', 'reads', limit), 0, 'b was forgotten: a full bucket');
  });
});

describe('RequestRateLimiter', () => {
  function setup(options: Partial<RateLimiterOptions> = {}) {
    const limited: string[] = [];
    const now = 1_000_000;
    const limiter = new RequestRateLimiter({
      store: new InMemoryRateLimitStore({ maxClients: 100, now: () => now }),
      reads: { rate: 1, burst: 3 },
      writes: { rate: 0.5, burst: 2 },
      key: 'address',
      exempt: ['/', '/v2/'],
      trustedProxies: [],
      ipv6PrefixBits: 64,
      prefix: '',
      metrics: { requestLimited: (c) => limited.push(c) },
      ...options,
    });
    return { limiter, limited };
  }
  const request = (method: string, pathname = '/v2/a/manifests/latest', peer = '198.51.100.1', forwardedFor?: string): LimitedRequest => ({ method, pathname, peer, forwardedFor });
  /** How many of `n` identical requests are admitted before the first refusal; the refusal. */
  function admitted(limiter: RequestRateLimiter, req: LimitedRequest, n: number, user?: string): { count: number; refusal?: OciError } {
    for (let i = 0; i < n; i++) {
      try {
        const r = limiter.admit(req, user);
        assert.equal(r, undefined, 'the in-process store decides synchronously');
      } catch (err) {
        assert.ok(err instanceof OciError);
        return { count: i, refusal: err };
      }
    }
    return { count: n };
  }

  it('limits reads and writes separately, with Retry-After from the bucket and the OCI error', () => {
    const { limiter, limited } = setup();
    const reads = admitted(limiter, request('GET'), 10);
    assert.equal(reads.count, 3);
    assert.equal(reads.refusal?.code, 'TOOMANYREQUESTS');
    assert.equal(reads.refusal?.status, 429);
    assert.equal(reads.refusal?.headers['Retry-After'], '1');
    assert.deepEqual(reads.refusal?.toJSON().errors[0]?.detail, { limit: 'reads', retryAfter: 1 });
    assert.equal(admitted(limiter, request('HEAD'), 1).count, 0, 'HEAD is a read');
    for (const method of ['POST', 'PUT', 'PATCH', 'DELETE']) {
      const { limiter: fresh } = setup();
      const writes = admitted(fresh, request(method), 10);
      assert.equal(writes.count, 2, method);
      assert.equal(writes.refusal?.headers['Retry-After'], '2', `${method}: a token every 2 s`);
    }
    const writes = admitted(limiter, request('PUT'), 10);
    assert.equal(writes.count, 2, 'spent reads leave the writes alone');
    assert.deepEqual(limited, ['reads', 'reads', 'writes']);
  });

  it('never counts exempt paths, and a class with rate 0 is unlimited', () => {
    const { limiter } = setup({ reads: { rate: 0, burst: 1 }, exempt: ['/v2/', '/healthz'] });
    assert.equal(admitted(limiter, request('GET'), 1000).count, 1000);
    const { limiter: probes } = setup({ prefix: '/registry' });
    for (const path of ['/registry', '/registry/', '/registry/v2', '/registry/v2/']) assert.equal(admitted(probes, request('GET', path), 20).count, 20, path);
    assert.equal(admitted(probes, request('GET', '/registry/v2/_catalog'), 20).count, 3);
    const { limiter: none } = setup({ exempt: [] });
    assert.equal(admitted(none, request('GET', '/v2/'), 20).count, 3);
  });

  it('gives each client address, and each IPv6 /64, a budget of its own', () => {
    const { limiter } = setup();
    assert.equal(admitted(limiter, request('GET', '/v2/x', '198.51.100.1'), 10).count, 3);
    assert.equal(admitted(limiter, request('GET', '/v2/x', '198.51.100.2'), 10).count, 3);
    assert.equal(admitted(limiter, request('GET', '/v2/x', '2001:db8:0:1::1'), 10).count, 3);
    assert.equal(admitted(limiter, request('GET', '/v2/x', '2001:db8:0:1::2'), 10).count, 0, 'the same /64');
    assert.equal(admitted(limiter, request('GET', '/v2/x', '2001:db8:0:2::1'), 10).count, 3);
  });

  it('believes X-Forwarded-For from trusted proxies only', () => {
    const { limiter } = setup({ trustedProxies: ['10.0.0.0/8'] });
    assert.equal(admitted(limiter, request('GET', '/v2/x', '10.0.0.1', '203.0.113.1'), 10).count, 3);
    assert.equal(admitted(limiter, request('GET', '/v2/x', '10.0.0.2', '203.0.113.2'), 10).count, 3, 'another client behind the proxies');
    assert.equal(admitted(limiter, request('GET', '/v2/x', '10.0.0.2', '203.0.113.1'), 10).count, 0, 'the first client through another proxy');
    assert.equal(admitted(limiter, request('GET', '/v2/x', '198.51.100.9', '203.0.113.3'), 10).count, 3);
    assert.equal(admitted(limiter, request('GET', '/v2/x', '198.51.100.9', '203.0.113.4'), 10).count, 0, 'an untrusted peer cannot pick its key');
  });

  it('with key: user, keys authenticated requests by user name and anonymous ones by address', () => {
    const { limiter } = setup({ key: 'user' });
    assert.equal(limiter.afterAuthorization, true);
    assert.equal(admitted(limiter, request('GET', '/v2/x', '198.51.100.1'), 10, 'alice').count, 3);
    assert.equal(admitted(limiter, request('GET', '/v2/x', '198.51.100.2'), 10, 'alice').count, 0, 'alice from another address');
    assert.equal(admitted(limiter, request('GET', '/v2/x', '198.51.100.1'), 10, 'bob').count, 3);
    assert.equal(admitted(limiter, request('GET', '/v2/x', '198.51.100.1'), 10).count, 3, 'anonymous: by address');
    assert.equal(setup().limiter.afterAuthorization, false);
  });
});

describe('http.ratelimit configuration', () => {
  const base = { version: '0.1', storage: { inmemory: {} } };

  it('is off by default, and every key is settable from REGISTRY_HTTP_RATELIMIT_* variables', () => {
    assert.equal(parseConfig(base).http.ratelimit.enabled, false);
    const env = {
      REGISTRY_HTTP_RATELIMIT_ENABLED: 'true',
      REGISTRY_HTTP_RATELIMIT_READS_RATE: '0.5',
      REGISTRY_HTTP_RATELIMIT_READS_BURST: '7',
      REGISTRY_HTTP_RATELIMIT_WRITES_RATE: '2',
      REGISTRY_HTTP_RATELIMIT_WRITES_BURST: '3',
      REGISTRY_HTTP_RATELIMIT_KEY: 'User',
      REGISTRY_HTTP_RATELIMIT_EXEMPT: '[/, /healthz]',
      REGISTRY_HTTP_RATELIMIT_TRUSTEDPROXIES: '10.0.0.0/8',
      REGISTRY_HTTP_RATELIMIT_IPV6PREFIX: '56',
      REGISTRY_HTTP_RATELIMIT_MAXCLIENTS: '500',
      REGISTRY_HTTP_RATELIMIT_STORE: 'inmemory',
      REGISTRY_HTTP_RATELIMIT_REDISTIMEOUT: '20ms',
    };
    assert.deepEqual(parseConfig(applyEnvOverrides(base, env)).http.ratelimit, {
      enabled: true,
      reads: { rate: 0.5, burst: 7 },
      writes: { rate: 2, burst: 3 },
      key: 'user',
      exempt: ['/', '/healthz'],
      trustedproxies: ['10.0.0.0/8'],
      ipv6prefix: 56,
      maxclients: 500,
      store: 'inmemory',
      redistimeout: 20,
    });
    assert.deepEqual(parseConfig(applyEnvOverrides(base, { REGISTRY_HTTP_RATELIMIT_EXEMPT: '' })).http.ratelimit.exempt, []);
  });

  it('names the key of a bad value', () => {
    const bad = (ratelimit: unknown): string => {
      try {
        parseConfig({ ...base, http: { ratelimit } });
      } catch (err) {
        assert.ok(err instanceof ConfigError);
        return err.message;
      }
      assert.fail('accepted');
    };
    assert.match(bad({ reads: { burst: 0 } }), /http\.ratelimit\.reads\.burst/);
    assert.match(bad({ writes: { rate: -1 } }), /http\.ratelimit\.writes\.rate/);
    assert.match(bad({ key: 'ip' }), /http\.ratelimit\.key/);
    assert.match(bad({ trustedproxies: ['10.0.0.0/8', 'proxy.local'] }), /http\.ratelimit\.trustedproxies\[1\]: "proxy\.local" is not an IP address/);
    assert.match(bad({ exempt: ['v2'] }), /http\.ratelimit\.exempt: each exempt path must start with \//);
    assert.match(bad({ redistimeout: '0s' }), /http\.ratelimit\.redistimeout: must be a positive duration/);
    assert.match(bad({ rate: 5 }), /http\.ratelimit\.rate: unknown key/);
  });
});
