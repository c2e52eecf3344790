// The `ui` section: defaults, the path's normal form and the paths refused; the session codec's clock.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { SessionCodec, cookieValue, sessionCookieHeader } from '../../src/ui/session.js';

const withUi = (ui: unknown): unknown => ({ version: '0.1', storage: { inmemory: {} }, ui });

describe('ui configuration', () => {
  it('defaults to enabled at /ui with 12h sessions', () => {
    assert.deepEqual(parseConfig(withUi(undefined)).ui, { enabled: true, path: '/ui', session: { maxage: 12 * 3600_000 } });
  });

  for (const [input, want] of [['/ui/', '/ui'], ['/registry/ui', '/registry/ui'], ['', '/ui']] as const) {
    it(`path ${JSON.stringify(input)} is ${want}`, () => assert.equal(parseConfig(withUi({ path: input })).ui.path, want));
  }

  for (const bad of ['/', 'ui', '/v2', '/v2/ui', '/berth', '/a/../b', '/a b', '/ui?x']) {
    it(`refuses path ${JSON.stringify(bad)} naming the key`, () => assert.throws(() => parseConfig(withUi({ path: bad })), /ui\.path/));
  }

  it('refuses a zero session age', () => assert.throws(() => parseConfig(withUi({ session: { maxage: '0s' } })), /ui\.session\.maxage/));
});

describe('SessionCodec', () => {
  it('verifies what it issued until it expires, and nothing forged', () => {
    let now = 1_000_000;
    const codec = new SessionCodec('s', 60_000, () => now);
    const { value, session } = codec.issue('alice');
    assert.deepEqual(codec.verify(value), session);
    assert.equal(new SessionCodec('other secret', 60_000, () => now).verify(value), undefined);
    const [payload, mac] = value.split('.');
    const bob = Buffer.from(JSON.stringify({ u: 'bob', e: session.expires, n: session.nonce })).toString('base64url');
    assert.equal(codec.verify(`${bob}.${mac ?? ''}`), undefined);
    assert.equal(codec.verify(payload), undefined);
    assert.equal(codec.verify('garbage.garbage'), undefined);
    assert.ok(codec.checkCsrf(session, codec.csrfToken(session)));
    assert.ok(!codec.checkCsrf(session, undefined));
    now += 60_000;
    assert.equal(codec.verify(value), undefined);
  });

  it('reads the cookie among others and writes Secure only over TLS', () => {
    assert.equal(cookieValue('a=1; berth_session=x.y; b=2', 'berth_session'), 'x.y');
    assert.equal(cookieValue('a=1', 'berth_session'), undefined);
    assert.match(sessionCookieHeader('v', { secure: true, maxAgeMs: 5000 }), /Max-Age=5; HttpOnly; SameSite=Strict; Secure$/);
    assert.doesNotMatch(sessionCookieHeader('v', { secure: false, maxAgeMs: 5000 }), /Secure/);
  });
});
