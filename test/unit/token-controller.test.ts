/**
 * TokenAccessController against tokens signed by the test issuer's keys (no HTTP): challenges,
 * each way a token can be refused, each way a signing key is found, and the clock's leeway.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { IncomingMessage } from 'node:http';
import { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Access } from '../../src/auth/access.js';
import { OciError } from '../../src/oci/errors.js';
import { bearerToken, createTokenAccessController, TokenAccessController, type TokenAccessControllerOptions } from '../../src/auth/token/controller.js';
import { buildTrustedKeys, loadTrustedKeys, parseJwks, type TrustedKeys } from '../../src/auth/token/keys.js';
import { CompactSign } from 'jose';
import { tokenConfigSchema } from '../../src/auth/token/schema.js';
import { createTokenPki, startTokenIssuer, type TokenIssuer, type TokenPki } from '../helpers/token-issuer.js';

// The controller's fixed clock: a little ahead of real time, so certificates made in before()
// (whose notBefore is their creation second) are already valid at NOW.
const NOW = Date.now() + 5_000;
const T = Math.floor(NOW / 1000);

const PULL_FOO: Access = { type: 'repository', name: 'foo', action: 'pull' };
const PUSH_FOO: Access = { type: 'repository', name: 'foo', action: 'push' };
const CATALOG: Access = { type: 'registry', name: 'catalog', action: '*' };
const FOO_ALL = [{ type: 'repository', name: 'foo', actions: ['pull', 'push'] }];

function request(headers: Record<string, string> = {}): IncomingMessage {
  const req = new IncomingMessage(new Socket());
  req.headers = { host: 'registry.test:5000', ...headers };
  return req;
}

function bearer(token: string): IncomingMessage {
  return request({ authorization: `Bearer ${token}` });
}

/** The OciError a refused request rejects with. */
async function refusal(promise: Promise<unknown>): Promise<OciError> {
  try {
    await promise;
  } catch (err) {
    assert.ok(err instanceof OciError, `expected an OciError, got ${String(err)}`);
    return err;
  }
  assert.fail('expected the request to be refused');
}

describe('TokenAccessController', () => {
  let issuer: TokenIssuer;
  let keys: TrustedKeys;
  let work: string;
  let other: TokenPki;

  before(async () => {
    issuer = await startTokenIssuer();
    keys = await loadTrustedKeys({ rootcertbundle: issuer.rootCertBundle, jwks: issuer.jwksPath });
    work = await mkdtemp(join(tmpdir(), 'berth-token-ctl-'));
    other = await createTokenPki(work, { name: 'Untrusted' });
  });
  after(async () => {
    await issuer.close();
    await rm(work, { recursive: true, force: true });
  });

  const controller = (options: Partial<TokenAccessControllerOptions> = {}): TokenAccessController =>
    new TokenAccessController({ realm: 'https://auth.test/token', service: issuer.service, issuer: issuer.issuer, keys, now: () => NOW, ...options });

  /** Asserts a 401 challenge with exactly this WWW-Authenticate value. */
  async function assertChallenge(promise: Promise<unknown>, expected: string): Promise<OciError> {
    const err = await refusal(promise);
    assert.equal(err.code, 'UNAUTHORIZED');
    assert.equal(err.status, 401);
    assert.equal(err.headers['WWW-Authenticate'], expected);
    return err;
  }

  const challenge = (scope: string | undefined, error?: string): string =>
    `Bearer realm="https://auth.test/token",service="${issuer.service}"${scope !== undefined ? `,scope="${scope}"` : ''}${error !== undefined ? `,error="${error}"` : ''}`;

  describe('challenges', () => {
    it('without a token: realm, service and the wanted scope, no error', async () => {
      const err = await assertChallenge(controller().authorized(request(), [PULL_FOO, PUSH_FOO]), challenge('repository:foo:pull,push'));
      assert.deepEqual(err.detail, [
        { Type: 'repository', Class: '', Name: 'foo', Action: 'pull' },
        { Type: 'repository', Class: '', Name: 'foo', Action: 'push' },
      ]);
      assert.equal(err.message, 'authentication required');
    });

    it('the base endpoint: no scope parameter (and a null detail, as Distribution sends)', async () => {
      const err = await assertChallenge(controller().authorized(request(), []), challenge(undefined));
      assert.equal(err.detail, null);
    });

    it('a mount: one scope per repository', async () => {
      await assertChallenge(
        controller().authorized(request(), [PULL_FOO, PUSH_FOO, { type: 'repository', name: 'bar', action: 'pull' }]),
        challenge('repository:foo:pull,push repository:bar:pull'),
      );
    });

    it('the catalog', async () => {
      await assertChallenge(controller().authorized(request(), [CATALOG]), challenge('registry:catalog:*'));
    });

    it('Basic credentials are not accepted: the same challenge as no token', async () => {
      const basic = request({ authorization: `Basic ${Buffer.from('alice:secret').toString('base64')}` });
      await assertChallenge(controller().authorized(basic, [PULL_FOO]), challenge('repository:foo:pull'));
    });

    it('quotes what it cannot put in a header as is', async () => {
      await assertChallenge(
        controller({ realm: 'https://auth.test/tok"en' }).authorized(request(), [{ type: 'repository', name: 'a"b\\c\u00e9', action: 'pull' }]),
        `Bearer realm="https://auth.test/tok\\"en",service="${issuer.service}",scope="repository:a\\"b\\\\c\\xe9:pull"`,
      );
    });

    it('autoredirect: the realm is https://<Host><autoredirectpath>', async () => {
      const expected = `Bearer realm="https://registry.test:5000/auth/token",service="${issuer.service}",scope="repository:foo:pull"`;
      await assertChallenge(controller({ autoRedirect: true }).authorized(request(), [PULL_FOO]), expected);
    });

    it('autoredirect: X-Forwarded-Proto and a custom path', async () => {
      const expected = `Bearer realm="http://registry.test:5000/token",service="${issuer.service}"`;
      await assertChallenge(controller({ autoRedirect: true, autoRedirectPath: '/token' }).authorized(request({ 'x-forwarded-proto': 'http' }), []), expected);
    });
  });

  describe('accepted tokens', () => {
    it('x5c: a leaf issued by the root in rootcertbundle', async () => {
      const token = await issuer.issue('alice', FOO_ALL, { iat: T, nbf: T, exp: T + 300 });
      assert.deepEqual(await controller().authorized(bearer(token), [PULL_FOO, PUSH_FOO]), { user: 'alice' });
    });

    it('x5c: a leaf, then its intermediate, up to the root', async () => {
      const token = await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, {
        key: issuer.pki.leafViaIntermediate.key,
        header: { alg: 'ES256', x5c: [issuer.pki.leafViaIntermediate.x5c, issuer.pki.intermediate.x5c] },
      });
      assert.deepEqual(await controller().authorized(bearer(token), [PULL_FOO]), { user: 'alice' });
    });

    it('x5c: the root certificate itself signing', async () => {
      const token = await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { key: issuer.pki.ca.key, header: { alg: 'ES256', x5c: [issuer.pki.ca.x5c] } });
      assert.deepEqual(await controller().authorized(bearer(token), [PULL_FOO]), { user: 'alice' });
    });

    it('kid: the libtrust key id of a root certificate\'s key', async () => {
      const token = await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { mode: 'root-kid' });
      assert.deepEqual(await controller().authorized(bearer(token), [PULL_FOO]), { user: 'alice' });
    });

    it('kid: a key of the JWKS', async () => {
      const token = await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { mode: 'jwks' });
      assert.deepEqual(await controller().authorized(bearer(token), [PULL_FOO]), { user: 'alice' });
    });

    it('an empty x5c counts as none: the kid is used', async () => {
      const token = await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { mode: 'jwks', header: { alg: 'RS256', kid: issuer.jwksKid, x5c: [] } });
      assert.deepEqual(await controller().authorized(bearer(token), [PULL_FOO]), { user: 'alice' });
    });

    it('jwk: an embedded key that is a trusted JWKS key', async () => {
      const keysList = [...keys.byKid.get(issuer.jwksKid) ?? []];
      const jwk = keysList[0]?.export({ format: 'jwk' });
      assert.ok(jwk !== undefined);
      const token = await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { mode: 'jwks', header: { alg: 'RS256', jwk } });
      assert.deepEqual(await controller().authorized(bearer(token), [PULL_FOO]), { user: 'alice' });
    });

    it('an audience list naming the service', async () => {
      const token = await issuer.issue('alice', FOO_ALL, { exp: T + 300, aud: ['other', issuer.service] });
      assert.deepEqual(await controller().authorized(bearer(token), [PULL_FOO]), { user: 'alice' });
    });

    it('an anonymous token (empty sub) grants without a user', async () => {
      const token = await issuer.issue('', [{ type: 'repository', name: 'foo', actions: ['pull'] }], { exp: T + 300 });
      assert.deepEqual(await controller().authorized(bearer(token), [PULL_FOO]), {});
    });

    it('the base endpoint accepts any valid token, even one with no access', async () => {
      const token = await issuer.issue('alice', [], { exp: T + 300 });
      assert.deepEqual(await controller().authorized(bearer(token), []), { user: 'alice' });
    });

    it('the scheme is case-insensitive', async () => {
      const token = await issuer.issue('alice', FOO_ALL, { exp: T + 300 });
      assert.deepEqual(await controller().authorized(request({ authorization: `bearer ${token}` }), [PULL_FOO]), { user: 'alice' });
    });

    it('the catalog with registry:catalog:*', async () => {
      const token = await issuer.issue('admin', [{ type: 'registry', name: 'catalog', actions: ['*'] }], { exp: T + 300 });
      assert.deepEqual(await controller().authorized(bearer(token), [CATALOG]), { user: 'admin' });
    });

    it('the example of Distribution\'s jwt.md (its key, libtrust kid, header and claims), at the time it was issued', async () => {
      // docs/content/spec/auth/jwt.md publishes an ES256 key (with d), the header
      // {"typ":"JWT","alg":"ES256","kid":"PYYO:..."} and the claims below, encoded. Its printed
      // signature does not verify (the page is illustrative), so the same header and claims are
      // signed again here with the published key; the public half goes in a JWKS under that kid.
      const kid = 'PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6';
      const jwk = { kty: 'EC', crv: 'P-256', x: 'm7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q', y: 'dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc' };
      const jwksPath = join(work, 'jwt-md.jwks');
      await writeFile(jwksPath, JSON.stringify({ keys: [{ ...jwk, kid }] }));
      const header = 'eyJ0eXAiOiJKV1QiLCJhbGciOiJFUzI1NiIsImtpZCI6IlBZWU86VEVXVTpWN0pIOjI2SlY6QVFUWjpMSkMzOlNYVko6WEdIQTozNEYyOjJMQVE6WlJNSzpaN1E2In0';
      const claims =
        'eyJpc3MiOiJhdXRoLmRvY2tlci5jb20iLCJzdWIiOiJqbGhhd24iLCJhdWQiOiJyZWdpc3RyeS5kb2NrZXIuY29tIiwiZXhwIjoxNDE1Mzg3MzE1LCJuYmYiOjE0MTUzODcwMTUsImlhdCI6MTQxNTM4NzAxNSwianRpIjoidFlKQ08xYzZjbnl5N2tBbjBjN3JLUGdiVjFIMWJGd3MiLCJhY2Nlc3MiOlt7InR5cGUiOiJyZXBvc2l0b3J5IiwibmFtZSI6InNhbWFsYmEvbXktYXBwIiwiYWN0aW9ucyI6WyJwdXNoIl19XX0';
      const privateKey = createPrivateKey({ key: { ...jwk, d: 'R7OnbfMaD5J2jl7GeE8ESo7CnHSBm_1N2k9IXYFrKJA' }, format: 'jwk' });
      const signature = sign('sha256', Buffer.from(`${header}.${claims}`), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url');
      const token = `${header}.${claims}.${signature}`;
      const ctlAt = (now: number): TokenAccessController =>
        new TokenAccessController({ realm: 'https://auth.docker.io/token', service: 'registry.docker.com', issuer: 'auth.docker.com', keys: docKeys, now: () => now });
      const docKeys = await loadTrustedKeys({ jwks: jwksPath });
      const push: Access = { type: 'repository', name: 'samalba/my-app', action: 'push' };
      assert.deepEqual(await ctlAt(1415387100_000).authorized(bearer(token), [push]), { user: 'jlhawn' });
      // The encoded claims grant push only, whatever the prose around them says.
      const err = await refusal(ctlAt(1415387100_000).authorized(bearer(token), [{ ...push, action: 'pull' }, push]));
      assert.equal(err.headers['WWW-Authenticate'], 'Bearer realm="https://auth.docker.io/token",service="registry.docker.com",scope="repository:samalba/my-app:pull,push",error="insufficient_scope"');
      // 61 s after its exp it is refused; the page's own signature never verifies.
      assert.match((await refusal(ctlAt(1415387315_000 + 61_000).authorized(bearer(token), [push]))).headers['WWW-Authenticate'] ?? '', /error="invalid_token"$/);
      const printed = `${header}.${claims}.QhflHPfbd6eVF4lM9bwYpFZIV0PfikbyXuLx959ykRTBpe3CYnzs6YBK8FToVb5R47920PVLrh8zuLzdCr9t3w`;
      assert.match((await refusal(ctlAt(1415387100_000).authorized(bearer(printed), [push]))).headers['WWW-Authenticate'] ?? '', /error="invalid_token"$/);
    });
  });

  describe('the clock (60 s leeway)', () => {
    const cases: Array<[string, Record<string, unknown>, boolean]> = [
      ['exp 30 s ago: within the leeway', { exp: T - 30 }, true],
      ['exp 61 s ago: expired', { exp: T - 61 }, false],
      ['exp an hour ago', { exp: T - 3600 }, false],
      ['no exp at all: expired (Distribution reads it as 0)', { exp: undefined }, false],
      ['nbf 30 s ahead: within the leeway', { nbf: T + 30, exp: T + 300 }, true],
      ['nbf 61 s ahead: not yet valid', { nbf: T + 61, exp: T + 300 }, false],
      ['no nbf at all', { nbf: undefined, exp: T + 300 }, true],
      ['exp not a number', { exp: 'tomorrow' }, false],
    ];
    for (const [label, claims, ok] of cases) {
      it(`${label}: ${ok ? 'accepted' : 'invalid_token'}`, async () => {
        const token = await issuer.issue('alice', FOO_ALL, { nbf: T, ...claims });
        const result = controller().authorized(bearer(token), [PULL_FOO]);
        if (ok) assert.deepEqual(await result, { user: 'alice' });
        else await assertChallenge(result, challenge('repository:foo:pull', 'invalid_token'));
      });
    }

    it('a custom leeway', async () => {
      const token = await issuer.issue('alice', FOO_ALL, { exp: T - 30 });
      await assertChallenge(controller({ leewaySeconds: 10 }).authorized(bearer(token), [PULL_FOO]), challenge('repository:foo:pull', 'invalid_token'));
    });

    it('a verified chain is remembered, but its validity is checked again on every use', async () => {
      let clock = NOW;
      const ctl = controller({ now: () => clock });
      const threeDays = NOW + 3 * 86_400_000;
      const token = await issuer.issue('alice', FOO_ALL, { exp: threeDays / 1000 + 300 });
      assert.deepEqual(await ctl.authorized(bearer(token), [PULL_FOO]), { user: 'alice' });
      assert.deepEqual(await ctl.authorized(bearer(token), [PULL_FOO]), { user: 'alice' });
      clock = threeDays;
      await assertChallenge(ctl.authorized(bearer(token), [PULL_FOO]), challenge('repository:foo:pull', 'invalid_token'));
    });

    it('an x5c certificate past its validity is refused, whatever the token says', async () => {
      const threeDays = NOW + 3 * 86_400_000;
      const token = await issuer.issue('alice', FOO_ALL, { nbf: threeDays / 1000, exp: threeDays / 1000 + 300 });
      await assertChallenge(controller({ now: () => threeDays }).authorized(bearer(token), [PULL_FOO]), challenge('repository:foo:pull', 'invalid_token'));
    });
  });

  describe('invalid tokens', () => {
    const refuse = async (token: string, options: Partial<TokenAccessControllerOptions> = {}): Promise<void> => {
      await assertChallenge(controller(options).authorized(bearer(token), [PULL_FOO]), challenge('repository:foo:pull', 'invalid_token'));
    };

    it('another issuer', async () => {
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300, iss: 'someone-else' }));
    });

    it('another audience', async () => {
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300, aud: 'another-registry' }));
    });

    it('no audience', async () => {
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300, aud: undefined }));
    });

    it('a bad signature (claims changed after signing)', async () => {
      const token = await issuer.issue('alice', [{ type: 'repository', name: 'foo', actions: ['pull'] }], { exp: T + 300 });
      const [h, , s] = token.split('.');
      const forged = Buffer.from(JSON.stringify({ iss: issuer.issuer, sub: 'mallory', aud: issuer.service, exp: T + 300, access: FOO_ALL })).toString('base64url');
      await refuse(`${h}.${forged}.${s}`);
    });

    it('a chain to an untrusted root', async () => {
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { key: other.leaf.key, header: { alg: 'ES256', x5c: [other.leaf.x5c] } }));
    });

    it('an untrusted leaf claiming a trusted intermediate', async () => {
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { key: other.leaf.key, header: { alg: 'ES256', x5c: [other.leaf.x5c, issuer.pki.intermediate.x5c] } }));
    });

    it('a trusted x5c, but signed by another key', async () => {
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { key: other.leaf.key, header: { alg: 'ES256', x5c: [issuer.pki.leaf.x5c] } }));
    });

    it('a certificate that is not a CA used as an intermediate', async () => {
      // notca: issued by the trusted CA, CA:FALSE and no keyUsage (so only the CA flag forbids it to issue).
      const dir = issuer.pki.dir;
      const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
      await writeFile(join(dir, 'notca.ext'), 'basicConstraints=CA:FALSE\n');
      execFileSync('openssl', ['req', ...ec, '-subj', '/CN=Not A CA', '-keyout', 'notca.key', '-out', 'notca.csr'], { cwd: dir, stdio: 'ignore' });
      execFileSync('openssl', ['x509', '-req', '-in', 'notca.csr', '-CA', 'ca.crt', '-CAkey', 'ca.key', '-set_serial', '77', '-days', '1', '-extfile', 'notca.ext', '-out', 'notca.crt'], { cwd: dir, stdio: 'ignore' });
      execFileSync('openssl', ['req', ...ec, '-subj', '/CN=Issued By Not A CA', '-keyout', 'sub.key', '-out', 'sub.csr'], { cwd: dir, stdio: 'ignore' });
      execFileSync('openssl', ['x509', '-req', '-in', 'sub.csr', '-CA', 'notca.crt', '-CAkey', 'notca.key', '-set_serial', '78', '-days', '1', '-out', 'sub.crt'], { cwd: dir, stdio: 'ignore' });
      const der = async (name: string): Promise<string> => (await readFile(join(dir, name), 'utf8')).replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
      const subKey = createPrivateKey(await readFile(join(dir, 'sub.key'), 'utf8'));
      // These certificates start now, later than NOW: check them with the live clock.
      const live = { now: (): number => Date.now() };
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { key: subKey, header: { alg: 'ES256', x5c: [await der('sub.crt'), await der('notca.crt')] } }), live);
      // notca itself may sign tokens (it is a leaf of the trusted CA).
      const notcaKey = createPrivateKey(await readFile(join(dir, 'notca.key'), 'utf8'));
      const ok = await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { key: notcaKey, header: { alg: 'ES256', x5c: [await der('notca.crt')] } });
      assert.deepEqual(await controller(live).authorized(bearer(ok), [PULL_FOO]), { user: 'alice' });
    });

    it('a kid nobody knows', async () => {
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { mode: 'jwks', header: { alg: 'RS256', kid: 'unknown' } }));
    });

    it('a trusted kid, signed by another key', async () => {
      const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { key: privateKey, header: { alg: 'RS256', kid: issuer.jwksKid } }));
    });

    it('an embedded jwk that is not trusted', async () => {
      const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { key: privateKey, header: { alg: 'ES256', jwk: publicKey.export({ format: 'jwk' }) } }));
    });

    it('no key named at all', async () => {
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { header: { alg: 'ES256' } }));
    });

    it('alg none (unsigned)', async () => {
      const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
      const claims = { iss: issuer.issuer, sub: 'mallory', aud: issuer.service, exp: T + 300, access: FOO_ALL };
      await refuse(`${enc({ alg: 'none', typ: 'JWT', kid: issuer.jwksKid })}.${enc(claims)}.`);
      await refuse(`${enc({ alg: 'none', typ: 'JWT', x5c: [issuer.pki.leaf.x5c] })}.${enc(claims)}.`);
    });

    it('HS256 signed with a public key as the secret (algorithm confusion)', async () => {
      const { createHmac } = await import('node:crypto');
      const enc = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
      const signingInput = `${enc({ alg: 'HS256', typ: 'JWT', x5c: [issuer.pki.leaf.x5c] })}.${enc({ iss: issuer.issuer, sub: 'mallory', aud: issuer.service, exp: T + 300, access: FOO_ALL })}`;
      const sig = createHmac('sha256', issuer.pki.leaf.certPem).update(signingInput).digest('base64url');
      await refuse(`${signingInput}.${sig}`);
    });

    it('an algorithm left out of signingalgorithms', async () => {
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300 }), { signingAlgorithms: ['RS256'] });
      // ...while the listed one still works.
      const ok = await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { mode: 'jwks' });
      assert.deepEqual(await controller({ signingAlgorithms: ['RS256'] }).authorized(bearer(ok), [PULL_FOO]), { user: 'alice' });
    });

    it('an alg that does not fit the key', async () => {
      await refuse(await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { mode: 'jwks', header: { alg: 'ES256', kid: issuer.jwksKid }, key: issuer.pki.leaf.key }));
    });

    for (const garbage of ['not-a-jwt', 'a.b.c', 'a.b', '....', `${'x'.repeat(10)}.${'y'.repeat(10)}.${'z'.repeat(10)}`]) {
      it(`garbage: ${JSON.stringify(garbage)}`, async () => {
        await refuse(garbage);
      });
    }

    it('a malformed access claim', async () => {
      await refuse(await issuer.issue('alice', [], { exp: T + 300, access: { type: 'repository', name: 'foo', actions: ['pull'] } }));
    });
  });

  describe('insufficient scope', () => {
    it('a pull token for a push: 401 with error="insufficient_scope" and the full wanted scope', async () => {
      const token = await issuer.issue('bob', [{ type: 'repository', name: 'foo', actions: ['pull'] }], { exp: T + 300 });
      assert.deepEqual(await controller().authorized(bearer(token), [PULL_FOO]), { user: 'bob' });
      await assertChallenge(controller().authorized(bearer(token), [PULL_FOO, PUSH_FOO]), challenge('repository:foo:pull,push', 'insufficient_scope'));
    });

    it('a mount source the token does not cover is refused in the grant, not by a challenge; an invalid token still is', async () => {
      const token = await issuer.issue('bob', [{ type: 'repository', name: 'foo', actions: ['pull', 'push'] }], { exp: T + 300 });
      const source = { type: 'repository', name: 'bar', action: 'pull' } as const;
      assert.deepEqual(await controller().authorized(bearer(token), [PULL_FOO, PUSH_FOO, source], { optional: [source] }), { user: 'bob', refused: [source] });
      await assertChallenge(controller().authorized(bearer(token), [PULL_FOO, PUSH_FOO, source]), challenge('repository:foo:pull,push repository:bar:pull', 'insufficient_scope'));
      const pullOnly = await issuer.issue('bob', [{ type: 'repository', name: 'foo', actions: ['pull'] }], { exp: T + 300 });
      await assertChallenge(controller().authorized(bearer(pullOnly), [PULL_FOO, PUSH_FOO, source], { optional: [source] }), challenge('repository:foo:pull,push repository:bar:pull', 'insufficient_scope'));
      await refusal(controller().authorized(bearer(`${token}x`), [PULL_FOO, PUSH_FOO, source], { optional: [source] }));
    });

    it('a token for another repository', async () => {
      const token = await issuer.issue('bob', [{ type: 'repository', name: 'foobar', actions: ['*'] }], { exp: T + 300 });
      await assertChallenge(controller().authorized(bearer(token), [PULL_FOO]), challenge('repository:foo:pull', 'insufficient_scope'));
    });

    it('the catalog needs registry:catalog:*', async () => {
      const token = await issuer.issue('bob', [{ type: 'registry', name: 'catalog', actions: ['pull'] }], { exp: T + 300 });
      await assertChallenge(controller().authorized(bearer(token), [CATALOG]), challenge('registry:catalog:*', 'insufficient_scope'));
    });

    it('a mount needs pull on the source too', async () => {
      const token = await issuer.issue('bob', FOO_ALL, { exp: T + 300 });
      const bar: Access = { type: 'repository', name: 'bar', action: 'pull' };
      await assertChallenge(controller().authorized(bearer(token), [PULL_FOO, PUSH_FOO, bar]), challenge('repository:foo:pull,push repository:bar:pull', 'insufficient_scope'));
    });

    it('* grants every action', async () => {
      const token = await issuer.issue('root', [{ type: 'repository', name: 'foo', actions: ['*'] }], { exp: T + 300 });
      assert.deepEqual(await controller().authorized(bearer(token), [PULL_FOO, PUSH_FOO, { ...PULL_FOO, action: 'delete' }]), { user: 'root' });
    });
  });

  describe('logging', () => {
    it('logs why a token was refused, never the token', async () => {
      const lines: string[] = [];
      const { createLogger } = await import('../../src/log/logger.js');
      const logger = createLogger({ level: 'info', formatter: 'json', destination: { write: (l: string) => lines.push(l) } });
      const token = await issuer.issue('alice', FOO_ALL, { exp: T + 300, iss: 'evil' });
      await refusal(controller({ logger }).authorized(bearer(token), [PULL_FOO]));
      assert.equal(lines.length, 1);
      assert.match(lines[0] ?? '', /untrusted issuer/);
      assert.ok(!(lines[0] ?? '').includes(token.split('.')[2] ?? '???'));
    });

    // Distribution's reasons, whichever library checks the claims.
    const reasons: Array<[string, Record<string, unknown>, RegExp]> = [
      ['an untrusted issuer', { exp: T + 300, iss: 'evil' }, /"reason":"token from untrusted issuer: \\"evil\\""/],
      ['a malformed issuer', { exp: T + 300, iss: 7 }, /"reason":"malformed iss claim"/],
      ['another audience', { exp: T + 300, aud: ['other'] }, /"reason":"token intended for another audience: \[\\"other\\"\]"/],
      ['a malformed audience', { exp: T + 300, aud: [1] }, /"reason":"malformed aud claim"/],
      ['an expired token', { exp: T - 3600 }, new RegExp(`"reason":"token expired at ${new Date((T - 3600) * 1000).toISOString()}"`)],
      ['no exp at all', { exp: undefined }, /"reason":"token expired at 1970-01-01T00:00:00.000Z"/],
      ['an exp that is no number', { exp: 'tomorrow' }, /"reason":"malformed exp claim"/],
      ['a token not valid yet', { nbf: T + 3600, exp: T + 7200 }, new RegExp(`"reason":"token not valid before ${new Date((T + 3600) * 1000).toISOString()}"`)],
      ['an iat that is no number (Distribution cannot read it either)', { exp: T + 300, iat: 'now' }, /"reason":"malformed iat claim"/],
    ];
    for (const [label, claims, reason] of reasons) {
      it(`logs the reason for ${label}`, async () => {
        const lines: string[] = [];
        const { createLogger } = await import('../../src/log/logger.js');
        const logger = createLogger({ level: 'info', formatter: 'json', destination: { write: (l: string) => lines.push(l) } });
        const token = await issuer.issue('alice', FOO_ALL, claims);
        await refusal(controller({ logger }).authorized(bearer(token), [PULL_FOO]));
        assert.match(lines[0] ?? '', reason);
      });
    }
  });

  describe('JWKS keys are used as declared', () => {
    const pair = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const publicJwk = pair.publicKey.export({ format: 'jwk' });
    const withKeys = async (declared: ReadonlyArray<Record<string, unknown>>): Promise<TokenAccessController> =>
      controller({ keys: await buildTrustedKeys([], parseJwks(JSON.stringify({ keys: declared.map((d) => ({ ...publicJwk, ...d })) }))) });
    const token = (alg: string, kid: string): Promise<string> =>
      new CompactSign(Buffer.from(JSON.stringify({ iss: issuer.issuer, sub: 'alice', aud: issuer.service, exp: T + 300, nbf: T - 1, iat: T, access: FOO_ALL })))
        .setProtectedHeader({ typ: 'JWT', alg, kid })
        .sign(pair.privateKey);
    const accepted = async (ctl: TokenAccessController, alg: string, kid: string): Promise<boolean> => {
      try {
        await ctl.authorized(bearer(await token(alg, kid)), [PULL_FOO]);
        return true;
      } catch (err) {
        assert.ok(err instanceof OciError && err.code === 'UNAUTHORIZED', String(err));
        return false;
      }
    };

    it('a key declared alg RS256 verifies RS256 tokens only, not PS256 ones', async () => {
      const ctl = await withKeys([{ kid: 'rs', alg: 'RS256', use: 'sig' }]);
      assert.equal(await accepted(ctl, 'RS256', 'rs'), true);
      assert.equal(await accepted(ctl, 'PS256', 'rs'), false);
      assert.equal(await accepted(ctl, 'RS512', 'rs'), false);
    });
    it('a key without alg verifies any accepted algorithm its type allows', async () => {
      const ctl = await withKeys([{ kid: 'any' }]);
      assert.equal(await accepted(ctl, 'RS256', 'any'), true);
      assert.equal(await accepted(ctl, 'PS256', 'any'), true);
    });
    it('use: enc, key_ops without verify, or an encryption alg is no signing key', async () => {
      const ctl = await withKeys([
        { kid: 'enc', use: 'enc' },
        { kid: 'ops', key_ops: ['encrypt', 'wrapKey'] },
        { kid: 'oaep', alg: 'RSA-OAEP' },
        { kid: 'hmac', alg: 'HS256' },
        { kid: 'ok', use: 'sig', key_ops: ['verify'] },
      ]);
      for (const kid of ['enc', 'ops', 'oaep', 'hmac']) assert.equal(await accepted(ctl, 'RS256', kid), false, kid);
      assert.equal(await accepted(ctl, 'RS256', 'ok'), true);
    });
    it('an embedded jwk matching a declared key keeps the declaration', async () => {
      const ctl = await withKeys([{ kid: 'rs', alg: 'RS256' }]);
      const signed = (alg: string): Promise<string> =>
        new CompactSign(Buffer.from(JSON.stringify({ iss: issuer.issuer, sub: 'alice', aud: issuer.service, exp: T + 300, access: FOO_ALL })))
          .setProtectedHeader({ alg, jwk: publicJwk })
          .sign(pair.privateKey);
      assert.deepEqual(await ctl.authorized(bearer(await signed('RS256')), [PULL_FOO]), { user: 'alice' });
      assert.equal((await refusal(ctl.authorized(bearer(await signed('PS256')), [PULL_FOO]))).code, 'UNAUTHORIZED');
    });
    it('a key set of encryption keys only has no signing key', async () => {
      const file = join(work, 'enc.jwks');
      await writeFile(file, JSON.stringify({ keys: [{ ...publicJwk, kid: 'e', use: 'enc' }] }));
      await assert.rejects(loadTrustedKeys({ jwks: file }), /requires at least one token signing key/);
    });
  });

  describe('configuration', () => {
    it('createTokenAccessController loads the files named by auth.token', async () => {
      const config = tokenConfigSchema.parse({ ...issuer.config(), signingalgorithms: ['ES256'] });
      const ctl = await createTokenAccessController(config, { now: () => NOW });
      const token = await issuer.issue('alice', FOO_ALL, { exp: T + 300 });
      assert.deepEqual(await ctl.authorized(bearer(token), [PULL_FOO]), { user: 'alice' });
      // RS256 (the JWKS key) is not in the configured list.
      const rs = await issuer.issue('alice', FOO_ALL, { exp: T + 300 }, { mode: 'jwks' });
      assert.equal((await refusal(ctl.authorized(bearer(rs), [PULL_FOO]))).code, 'UNAUTHORIZED');
    });

    it('a missing rootcertbundle fails with the file named', async () => {
      const config = tokenConfigSchema.parse({ ...issuer.config(), jwks: undefined, rootcertbundle: join(work, 'missing.pem') });
      await assert.rejects(createTokenAccessController(config), /unable to read token auth root certificate bundle file ".*missing\.pem"/);
    });

    it('a bundle without certificates and no jwks: no signing key', async () => {
      const empty = join(work, 'empty.pem');
      await writeFile(empty, '# nothing here\n');
      const config = tokenConfigSchema.parse({ ...issuer.config(), jwks: undefined, rootcertbundle: empty });
      await assert.rejects(createTokenAccessController(config), /requires at least one token signing key/);
    });

    it('a broken certificate fails with the file named', async () => {
      const broken = join(work, 'broken.pem');
      await writeFile(broken, '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n');
      const config = tokenConfigSchema.parse({ ...issuer.config(), jwks: undefined, rootcertbundle: broken });
      await assert.rejects(createTokenAccessController(config), /unable to parse token auth root certificate in ".*broken\.pem"/);
    });
  });

  describe('bearerToken', () => {
    const cases: Array<[string | undefined, string | undefined]> = [
      [undefined, undefined],
      ['', undefined],
      ['Bearer', undefined],
      ['Bearer ', undefined],
      ['Bearer abc', 'abc'],
      ['BEARER abc', 'abc'],
      ['Basic abc', undefined],
      ['Bearerabc', undefined],
    ];
    for (const [header, expected] of cases) {
      it(`${JSON.stringify(header)} → ${JSON.stringify(expected)}`, () => {
        assert.equal(bearerToken(header), expected);
      });
    }
  });
});
