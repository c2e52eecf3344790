// The pure parts of the upstream client: WWW-Authenticate parsing, the token cache's expiry, the error mapping.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseChallenges } from '../../src/proxy/challenge.js';
import { TokenCache } from '../../src/proxy/token-cache.js';
import { UpstreamError, upstreamToOciError } from '../../src/proxy/upstream-error.js';

describe('parseChallenges', () => {
  const cases: ReadonlyArray<readonly [string, string | readonly string[] | undefined, unknown]> = [
    ['none', undefined, []],
    [
      "Docker Hub's Bearer",
      'Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"',
      [{ scheme: 'bearer', params: { realm: 'https://auth.docker.io/token', service: 'registry.docker.io', scope: 'repository:library/alpine:pull' } }],
    ],
    ['Basic', 'Basic realm="Registry Realm"', [{ scheme: 'basic', params: { realm: 'Registry Realm' } }]],
    ['case, spaces, unquoted values', 'BEARER  Realm = https://a/t , Service=reg', [{ scheme: 'bearer', params: { realm: 'https://a/t', service: 'reg' } }]],
    ['an escaped quote', 'Basic realm="a \\"b\\" c"', [{ scheme: 'basic', params: { realm: 'a "b" c' } }]],
    ['two challenges in one value', 'Basic realm="r", Bearer realm="https://t",service="s"', [{ scheme: 'basic', params: { realm: 'r' } }, { scheme: 'bearer', params: { realm: 'https://t', service: 's' } }]],
    ['two header lines', ['Basic realm="r"', 'Bearer realm="https://t"'], [{ scheme: 'basic', params: { realm: 'r' } }, { scheme: 'bearer', params: { realm: 'https://t' } }]],
    ['a scheme without parameters', 'Negotiate', [{ scheme: 'negotiate', params: {} }]],
    ['garbage ends the parse without throwing', 'Bearer realm="x", ""bad', [{ scheme: 'bearer', params: { realm: 'x' } }]],
    ['an unterminated quote', 'Bearer realm="https://t', [{ scheme: 'bearer', params: { realm: 'https://t' } }]],
  ];
  for (const [name, header, want] of cases) it(name, () => assert.deepEqual(parseChallenges(header), want));
});

describe('TokenCache', () => {
  it('keeps a token for expires_in less the 10 s margin', () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    cache.set('k', 't', 300);
    now = 289_999;
    assert.equal(cache.get('k'), 't');
    now = 290_000;
    assert.equal(cache.get('k'), undefined);
  });
  it('without expires_in: 60 s (less the margin)', () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    cache.set('k', 't', undefined);
    now = 49_999;
    assert.equal(cache.get('k'), 't');
    now = 50_000;
    assert.equal(cache.get('k'), undefined);
  });
  it('a short lifetime keeps half of it; a nonsense one is the default', () => {
    let now = 0;
    const cache = new TokenCache(() => now);
    cache.set('short', 'a', 4);
    cache.set('bad', 'b', -5);
    now = 1_999;
    assert.equal(cache.get('short'), 'a');
    now = 2_000;
    assert.equal(cache.get('short'), undefined);
    assert.equal(cache.get('bad'), 'b');
  });
  it('is per key, and delete drops one', () => {
    const cache = new TokenCache(() => 0);
    cache.set('a', '1', 60);
    cache.set('b', '2', 60);
    cache.delete('a');
    assert.deepEqual([cache.get('a'), cache.get('b')], [undefined, '2']);
  });
});

describe('upstreamToOciError', () => {
  const cases = [
    ['not-found', 'manifest', 'MANIFEST_UNKNOWN', 404],
    ['not-found', 'blob', 'BLOB_UNKNOWN', 404],
    ['unauthorized', 'blob', 'DENIED', 403],
    ['unavailable', 'manifest', 'UNAVAILABLE', 503],
    ['invalid', 'blob', 'UNAVAILABLE', 503],
  ] as const;
  for (const [kind, resource, code, status] of cases) {
    it(`${kind} ${resource} → ${code}`, () => {
      const cause = new UpstreamError(kind, 'hub', 'x');
      const err = upstreamToOciError(cause, resource);
      assert.deepEqual([err.code, err.status, err.cause], [code, status, cause]);
    });
  }
});
