/**
 * Pure parts of token authentication: scope parsing and formatting, access coverage, key ids,
 * and the `auth.token` schema.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync, type KeyObject } from 'node:crypto';
import { calculateJwkThumbprint, type JWK } from 'jose';
import type { Access } from '../../src/auth/access.js';
import {
  challengeScope,
  covers,
  formatScope,
  missingAccess,
  parseAccessClaim,
  parseScope,
  parseScopes,
  scopesForAccess,
  type ResourceScope,
} from '../../src/auth/token/scope.js';
import { distributionThumbprint, jwkThumbprint, libtrustKeyId, parseJwks } from '../../src/auth/token/keys.js';
import { tokenConfigSchema } from '../../src/auth/token/schema.js';

describe('token scope parsing', () => {
  const cases: Array<[string, ResourceScope | undefined]> = [
    ['repository:samalba/my-app:pull,push', { type: 'repository', name: 'samalba/my-app', actions: ['pull', 'push'] }],
    ['repository:foo:pull', { type: 'repository', name: 'foo', actions: ['pull'] }],
    ['registry:catalog:*', { type: 'registry', name: 'catalog', actions: ['*'] }],
    // A name may contain one ':' (a host with a port): the actions start after the last ':'.
    ['repository:localhost:5000/foo/bar:pull', { type: 'repository', name: 'localhost:5000/foo/bar', actions: ['pull'] }],
    ['repository(plugin):vieux/sshfs:pull', { type: 'repository', class: 'plugin', name: 'vieux/sshfs', actions: ['pull'] }],
    ['repository:foo:pull,pull,push', { type: 'repository', name: 'foo', actions: ['pull', 'push'] }],
    ['repository:foo:', { type: 'repository', name: 'foo', actions: [] }],
    ['repository:foo:pull,', { type: 'repository', name: 'foo', actions: ['pull'] }],
    ['repository:foo:*', { type: 'repository', name: 'foo', actions: ['*'] }],
    ['repository:foo', undefined],
    ['repository', undefined],
    [':foo:pull', undefined],
    ['repository::pull', undefined],
    ['Repository:foo:pull', undefined],
    ['repository(Plugin):foo:pull', undefined],
    ['repository():foo:pull', undefined],
    ['repository:foo:Pull', undefined],
    ['repository:foo:pull push', undefined],
    ['repository:foo:pull;rm', undefined],
    ['', undefined],
  ];
  for (const [input, expected] of cases) {
    it(`${JSON.stringify(input)} → ${expected === undefined ? 'invalid' : formatScope(expected)}`, () => {
      assert.deepEqual(parseScope(input), expected);
    });
  }

  it('formats back what it parses', () => {
    for (const text of ['repository:samalba/my-app:pull,push', 'registry:catalog:*', 'repository:localhost:5000/a:pull', 'repository(plugin):a/b:pull']) {
      const scope = parseScope(text);
      assert.ok(scope !== undefined);
      assert.equal(formatScope(scope), text);
    }
  });

  it('parseScopes splits on spaces and skips what it cannot read', () => {
    assert.deepEqual(parseScopes('repository:a:pull,push  repository:b:pull bogus registry:catalog:*'), [
      { type: 'repository', name: 'a', actions: ['pull', 'push'] },
      { type: 'repository', name: 'b', actions: ['pull'] },
      { type: 'registry', name: 'catalog', actions: ['*'] },
    ]);
    assert.deepEqual(parseScopes(''), []);
  });
});

describe('challenge scope', () => {
  const pull = (name: string): Access => ({ type: 'repository', name, action: 'pull' });
  const push = (name: string): Access => ({ type: 'repository', name, action: 'push' });
  const cases: Array<[string, Access[], string]> = [
    ['nothing wanted (the base endpoint)', [], ''],
    ['pull', [pull('foo')], 'repository:foo:pull'],
    ['push (pull and push)', [pull('foo'), push('foo')], 'repository:foo:pull,push'],
    ['a mount (pull from the source too)', [pull('foo'), push('foo'), pull('bar')], 'repository:foo:pull,push repository:bar:pull'],
    ['delete', [{ type: 'repository', name: 'a/b', action: 'delete' }], 'repository:a/b:delete'],
    ['the catalog', [{ type: 'registry', name: 'catalog', action: '*' }], 'registry:catalog:*'],
    ['duplicates', [pull('foo'), pull('foo')], 'repository:foo:pull'],
  ];
  for (const [label, wanted, expected] of cases) {
    it(label, () => {
      assert.equal(challengeScope(wanted), expected);
    });
  }
  it('groups per resource, in first-seen order', () => {
    assert.deepEqual(scopesForAccess([pull('b'), pull('a'), push('b')]), [
      { type: 'repository', name: 'b', actions: ['pull', 'push'] },
      { type: 'repository', name: 'a', actions: ['pull'] },
    ]);
  });
});

describe('access claim coverage', () => {
  const granted = (access: unknown): ResourceScope[] => {
    const parsed = parseAccessClaim(access);
    assert.ok(parsed !== undefined, 'access claim should parse');
    return parsed;
  };
  const want = (type: Access['type'], name: string, action: Access['action']): Access => ({ type, name, action });
  const cases: Array<[string, unknown, Access, boolean]> = [
    ['the action granted', [{ type: 'repository', name: 'foo', actions: ['pull'] }], want('repository', 'foo', 'pull'), true],
    ['another action', [{ type: 'repository', name: 'foo', actions: ['pull'] }], want('repository', 'foo', 'push'), false],
    ['another repository', [{ type: 'repository', name: 'foo', actions: ['pull', 'push'] }], want('repository', 'foo/bar', 'pull'), false],
    ['no prefix matching', [{ type: 'repository', name: 'foo', actions: ['*'] }], want('repository', 'foobar', 'pull'), false],
    ['* covers push', [{ type: 'repository', name: 'foo', actions: ['*'] }], want('repository', 'foo', 'push'), true],
    ['* covers delete', [{ type: 'repository', name: 'foo', actions: ['*'] }], want('repository', 'foo', 'delete'), true],
    ['the catalog with *', [{ type: 'registry', name: 'catalog', actions: ['*'] }], want('registry', 'catalog', '*'), true],
    ['the catalog needs *, not pull', [{ type: 'registry', name: 'catalog', actions: ['pull'] }], want('registry', 'catalog', '*'), false],
    ['repository access is not registry access', [{ type: 'repository', name: 'catalog', actions: ['*'] }], want('registry', 'catalog', '*'), false],
    ['a class in the type is ignored', [{ type: 'repository(plugin)', name: 'foo', actions: ['pull'] }], want('repository', 'foo', 'pull'), true],
    ['a class member is ignored', [{ type: 'repository', class: 'image', name: 'foo', actions: ['pull'] }], want('repository', 'foo', 'pull'), true],
    ['entries add up', [{ type: 'repository', name: 'foo', actions: ['pull'] }, { type: 'repository', name: 'foo', actions: ['push'] }], want('repository', 'foo', 'push'), true],
    ['an empty grant', [{ type: 'repository', name: 'foo', actions: [] }], want('repository', 'foo', 'pull'), false],
    ['no access claim', undefined, want('repository', 'foo', 'pull'), false],
    ['a null entry is skipped', [null, { type: 'repository', name: 'foo', actions: ['pull'] }], want('repository', 'foo', 'pull'), true],
  ];
  for (const [label, access, wanted, expected] of cases) {
    it(`${label}: ${expected ? 'covered' : 'not covered'}`, () => {
      assert.equal(covers(granted(access), wanted), expected);
    });
  }

  it('missingAccess lists what is not covered', () => {
    const g = granted([{ type: 'repository', name: 'foo', actions: ['pull'] }]);
    const wanted: Access[] = [want('repository', 'foo', 'pull'), want('repository', 'foo', 'push'), want('repository', 'bar', 'pull')];
    assert.deepEqual(missingAccess(g, wanted), [want('repository', 'foo', 'push'), want('repository', 'bar', 'pull')]);
  });

  for (const bad of ['string', 5, {}, [{ type: 'repository', name: 'foo', actions: 'pull' }], [{ type: 1, name: 'foo', actions: [] }], [{ type: 'repository', name: 'foo', actions: [1] }], ['x']]) {
    it(`rejects the malformed access claim ${JSON.stringify(bad)}`, () => {
      assert.equal(parseAccessClaim(bad), undefined);
    });
  }
});

describe('key ids', () => {
  it('libtrust key id of the key in Distribution\'s jwt.md example is the kid it shows', () => {
    // docs/content/spec/auth/jwt.md: this ES256 key signs the example token with kid PYYO:TEWU:...
    const key = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: 'm7zUpx3b-zmVE5cymSs64POG9QcyEpJaYCD82-549_Q', y: 'dU3biz8sZ_8GPB-odm8Wxz3lNDr1xcAQQPQaOcr1fmc' },
      format: 'jwk',
    });
    assert.equal(libtrustKeyId(key), 'PYYO:TEWU:V7JH:26JV:AQTZ:LJC3:SXVJ:XGHA:34F2:2LAQ:ZRMK:Z7Q6');
  });

  it('libtrust key id matches an independent computation with openssl and coreutils base32', () => {
    // sha256 of the DER SPKI, first 30 bytes (240 bits), base32, 12 groups of 4 joined by ':'.
    const { publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 });
    const der = publicKey.export({ type: 'spki', format: 'der' });
    const digest = execFileSync('openssl', ['dgst', '-sha256', '-binary'], { input: der });
    const b32 = execFileSync('base32', ['-w', '0'], { input: digest.subarray(0, 30) }).toString('utf8').trim().replace(/=+$/, '');
    const expected = (b32.match(/.{4}/g) ?? []).join(':');
    assert.match(expected, /^([A-Z2-7]{4}:){11}[A-Z2-7]{4}$/);
    assert.equal(libtrustKeyId(publicKey), expected);
  });

  it('RFC 7638 thumbprint: the RFC\'s own example', async () => {
    const key = createPublicKey({
      key: {
        kty: 'RSA',
        e: 'AQAB',
        n: '0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw',
      },
      format: 'jwk',
    });
    assert.equal(await jwkThumbprint(key), 'NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs');
  });

  const keys: Array<[string, KeyObject]> = [
    ['RSA', generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey],
    ['EC P-256', generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey],
    ['EC P-384', generateKeyPairSync('ec', { namedCurve: 'P-384' }).publicKey],
    ['Ed25519', generateKeyPairSync('ed25519').publicKey],
  ];
  for (const [label, key] of keys) {
    it(`RFC 7638 thumbprint of an ${label} key agrees with jose`, async () => {
      assert.equal(await jwkThumbprint(key), await calculateJwkThumbprint(key.export({ format: 'jwk' }) as JWK));
    });
  }

  it('Distribution 3\'s thumbprint: RFC 7638 for RSA, the curve\'s base point for EC (same id for every key of a curve)', async () => {
    const rsa = keys[0]?.[1] as KeyObject;
    assert.equal(await distributionThumbprint(rsa), await jwkThumbprint(rsa));
    const a = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    const b = generateKeyPairSync('ec', { namedCurve: 'P-256' }).publicKey;
    assert.equal(await distributionThumbprint(a), await distributionThumbprint(b));
    assert.notEqual(await distributionThumbprint(a), await jwkThumbprint(a));
    // The P-256 base point, hashed the way Distribution's util.go getJWKThumbprint writes it.
    const g = createPublicKey({
      key: { kty: 'EC', crv: 'P-256', x: 'axfR8uEsQkf4vOblY6RA8ncDfYEt6zOg9KE5RdiYwpY', y: 'T-NC4v4af5uO5-tKfA-eFivOM1drMV7Oy7ZAaDe_UfU' },
      format: 'jwk',
    });
    assert.equal(await distributionThumbprint(a), await jwkThumbprint(g));
    const ed = keys[3]?.[1] as KeyObject;
    assert.notEqual(await distributionThumbprint(ed), await jwkThumbprint(ed));
  });

  it('parseJwks keeps public halves and refuses symmetric keys', () => {
    const { privateKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
    const parsed = parseJwks(JSON.stringify({ keys: [{ ...privateKey.export({ format: 'jwk' }), kid: 'k1' }] }), 'test.jwks');
    assert.equal(parsed.length, 1);
    assert.equal(parsed[0]?.kid, 'k1');
    assert.equal(parsed[0]?.key.type, 'public');
    assert.throws(() => parseJwks(JSON.stringify({ keys: [{ kty: 'oct', k: 'c2VjcmV0', kid: 's' }] }), 'test.jwks'), /symmetric \(oct\) key/);
    assert.throws(() => parseJwks('{"keys": 5}', 'test.jwks'), /"keys" list/);
    assert.throws(() => parseJwks('not json', 'test.jwks'), /failed to parse jwks "test.jwks"/);
  });
});

describe('auth.token schema', () => {
  const base = { realm: 'https://auth.example.com/token', service: 'registry.example.com', issuer: 'auth.example.com', rootcertbundle: '/certs/ca.pem' };

  it('accepts a Distribution config and fills defaults', () => {
    const cfg = tokenConfigSchema.parse(base);
    assert.deepEqual(cfg, { ...base, signingalgorithms: undefined, autoredirect: false, autoredirectpath: '/auth/token' });
  });

  it('reads YAML-ish values: a single algorithm, yes/no booleans, null as unset', () => {
    const cfg = tokenConfigSchema.parse({ ...base, signingalgorithms: 'RS256', autoredirect: 'yes', autoredirectpath: null, jwks: null });
    assert.deepEqual(cfg.signingalgorithms, ['RS256']);
    assert.equal(cfg.autoredirect, true);
    assert.equal(cfg.autoredirectpath, '/auth/token');
    assert.equal(cfg.jwks, undefined);
  });

  it('needs no realm with autoredirect', () => {
    const { realm: _realm, ...rest } = base;
    assert.equal(tokenConfigSchema.parse({ ...rest, autoredirect: true }).realm, '');
    assert.throws(() => tokenConfigSchema.parse(rest), /realm/);
  });

  const refusals: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no signing key', { ...base, rootcertbundle: undefined }, /at least one token signing key/],
    ['no service', { ...base, service: undefined }, /required: the audience/],
    ['an empty issuer', { ...base, issuer: '' }, /must not be empty/],
    ['HS256', { ...base, signingalgorithms: ['RS256', 'HS256'] }, /HS256 is refused/],
    ['none', { ...base, signingalgorithms: ['none'] }, /none is refused/],
    ['an unknown algorithm', { ...base, signingalgorithms: ['RS1'] }, /unsupported signing algorithm: RS1/],
    ['a JWKS URL', { ...base, jwks: 'https://auth.example.com/jwks' }, /JWKS URL is not supported/],
    ['an unknown key', { ...base, rootcertbundel: '/x' }, /rootcertbundel/],
    ['a relative autoredirectpath', { ...base, autoredirect: true, autoredirectpath: 'auth' }, /absolute path/],
  ];
  for (const [label, input, message] of refusals) {
    it(`refuses ${label}`, () => {
      const result = tokenConfigSchema.safeParse(input);
      assert.equal(result.success, false);
      assert.match(JSON.stringify(result.error?.issues), message);
    });
  }
});
