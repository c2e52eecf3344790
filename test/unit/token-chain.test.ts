/**
 * X.509 path validation of token x5c chains (keys.ts verifyCertificateChain) on chains made with
 * the openssl CLI, each verdict also checked against `openssl verify` where it judges the same rule.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { verifyCertificateChain } from '../../src/auth/token/keys.js';
import { certificateConstraints, DerError, KEY_USAGE, readTlv } from '../../src/auth/token/x509-constraints.js';

/** The verification time: a little after the certificates were made (set once they are; making them may take seconds). */
let NOW = 0;

const EXT = {
  ca: 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n',
  ca0: 'basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n',
  ca1: 'basicConstraints=critical,CA:TRUE,pathlen:1\nkeyUsage=critical,keyCertSign,cRLSign\n',
  caNoCertSign: 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,digitalSignature\n',
  notCa: 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyCertSign,digitalSignature\n',
  leaf: 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\n',
  leafEncipherOnly: 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,keyEncipherment\n',
  leafNoKeyUsage: 'basicConstraints=CA:FALSE\n',
} as const;

describe('token x5c chains: X.509 path validation', () => {
  let dir: string;
  const openssl = (args: string[]): void => {
    execFileSync('openssl', args, { cwd: dir, stdio: ['ignore', 'ignore', 'pipe'] });
  };
  const root = (name: string, ext: keyof typeof EXT): void => {
    writeFileSync(join(dir, `${name}.ext`), EXT[ext]);
    openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-sha256', '-days', '2', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.crt`, '-extensions', 'v3', '-config', writeConfig(name, ext)]);
  };
  const writeConfig = (name: string, ext: keyof typeof EXT): string => {
    const path = join(dir, `${name}.cnf`);
    writeFileSync(path, `[req]\ndistinguished_name=dn\n[dn]\n[v3]\n${EXT[ext]}`);
    return path;
  };
  const issue = (name: string, issuer: string, ext: keyof typeof EXT, days = '2'): void => {
    writeFileSync(join(dir, `${name}.ext`), EXT[ext]);
    openssl(['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`, '-keyout', `${name}.key`, '-out', `${name}.csr`]);
    openssl(['x509', '-req', '-in', `${name}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-CAcreateserial', '-days', days, '-sha256', '-extfile', `${name}.ext`, '-out', `${name}.crt`]);
  };
  const pem = (name: string): string => readFileSync(join(dir, `${name}.crt`), 'utf8');
  const b64 = (name: string): string => pem(name).replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
  const cert = (name: string): X509Certificate => new X509Certificate(pem(name));
  /** Our verdict on [leaf, ...intermediates] against the roots. */
  const accepts = (chain: readonly string[], roots: readonly string[]): boolean => {
    try {
      verifyCertificateChain(chain.map(b64), roots.map(cert), NOW);
      return true;
    } catch {
      return false;
    }
  };
  /** openssl verify's verdict on the same chain. */
  const opensslAccepts = (chain: readonly string[], roots: readonly string[]): boolean => {
    writeFileSync(join(dir, 'roots.pem'), roots.map(pem).join(''));
    const [leaf, ...intermediates] = chain;
    const args = ['verify', '-CAfile', 'roots.pem'];
    if (intermediates.length > 0) {
      writeFileSync(join(dir, 'untrusted.pem'), intermediates.map(pem).join(''));
      args.push('-untrusted', 'untrusted.pem');
    }
    return spawnSync('openssl', [...args, `${leaf}.crt`], { cwd: dir, stdio: 'ignore' }).status === 0;
  };

  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'berth-chain-'));
    root('root', 'ca');
    root('root0', 'ca0');
    issue('int', 'root', 'ca');
    issue('int0', 'root', 'ca0');
    issue('int1', 'root', 'ca1');
    issue('sub0', 'int0', 'ca');
    issue('sub1', 'int1', 'ca');
    issue('intNoCertSign', 'root', 'caNoCertSign');
    issue('intNotCa', 'root', 'notCa');
    issue('intExpired', 'root', 'ca', '-1');
    issue('intUnderRoot0', 'root0', 'ca');
    issue('leafViaSub0', 'sub0', 'leaf');
    issue('leafViaSub1', 'sub1', 'leaf');
    issue('leafViaInt0', 'int0', 'leaf');
    issue('leafViaInt', 'int', 'leaf');
    issue('leafViaNoCertSign', 'intNoCertSign', 'leaf');
    issue('leafViaNotCa', 'intNotCa', 'leaf');
    issue('leafViaExpired', 'intExpired', 'leaf');
    issue('leafViaRoot0Int', 'intUnderRoot0', 'leaf');
    issue('leafOfRoot0', 'root0', 'leaf');
    issue('leafEncipherOnly', 'root', 'leafEncipherOnly');
    issue('leafNoKeyUsage', 'root', 'leafNoKeyUsage');
    issue('leafExpired', 'root', 'leaf', '-1');
    NOW = Date.now() + 5_000;
  });
  after(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  const cases: Array<[string, string[], string[], boolean]> = [
    ['a leaf under two CAs (pathlen:1 allows one below)', ['leafViaSub1', 'sub1', 'int1'], ['root'], true],
    ['a CA under a pathlen:0 intermediate signing a leaf', ['leafViaSub0', 'sub0', 'int0'], ['root'], false],
    ['a pathlen:0 intermediate signing the leaf itself', ['leafViaInt0', 'int0'], ['root'], true],
    ['intermediates in any order', ['leafViaSub1', 'int1', 'sub1'], ['root'], true],
    ['a pathlen:0 root with an intermediate', ['leafViaRoot0Int', 'intUnderRoot0'], ['root0'], false],
    ['a pathlen:0 root signing the leaf', ['leafOfRoot0'], ['root0'], true],
    ['an intermediate whose KeyUsage lacks keyCertSign', ['leafViaNoCertSign', 'intNoCertSign'], ['root'], false],
    ['an intermediate that is not a CA', ['leafViaNotCa', 'intNotCa'], ['root'], false],
    ['an expired intermediate', ['leafViaExpired', 'intExpired'], ['root'], false],
    ['an expired leaf', ['leafExpired'], ['root'], false],
    ['a leaf without KeyUsage', ['leafNoKeyUsage'], ['root'], true],
    ['a missing intermediate', ['leafViaInt'], ['root'], false],
    ['another root', ['leafViaInt', 'int'], ['root0'], false],
  ];
  for (const [what, chain, roots, expected] of cases) {
    it(`${expected ? 'accepts' : 'refuses'} ${what}, as openssl verify does`, () => {
      assert.equal(opensslAccepts(chain, roots), expected, 'openssl verify agrees with the expectation');
      assert.equal(accepts(chain, roots), expected);
    });
  }

  it('refuses a leaf whose KeyUsage lacks digitalSignature (tokens are signatures)', () => {
    assert.throws(() => verifyCertificateChain([b64('leafEncipherOnly')], [cert('root')], NOW), /digitalSignature/);
  });

  it('names the failed rule', () => {
    assert.throws(() => verifyCertificateChain(['leafViaSub0', 'sub0', 'int0'].map(b64), [cert('root')], NOW), /pathlen/);
    // OpenSSL's issuer check (X509Certificate.checkIssued) already refuses an issuer without keyCertSign.
    assert.throws(() => verifyCertificateChain(['leafViaNoCertSign', 'intNoCertSign'].map(b64), [cert('root')], NOW), /keyCertSign|unknown authority/);
    assert.throws(() => verifyCertificateChain(['leafViaNotCa', 'intNotCa'].map(b64), [cert('root')], NOW), /not a CA/);
  });

  describe('certificateConstraints (the DER reader)', () => {
    it('reads cA, pathLenConstraint and KeyUsage as node:crypto and openssl made them', () => {
      const rootC = certificateConstraints(cert('root').raw);
      assert.deepEqual(rootC, { basicConstraints: true, ca: true, pathLen: undefined, keyUsage: KEY_USAGE.keyCertSign | (1 << 6) });
      assert.equal(certificateConstraints(cert('int0').raw).pathLen, 0);
      assert.equal(certificateConstraints(cert('int1').raw).pathLen, 1);
      assert.deepEqual(certificateConstraints(cert('leafViaInt').raw), { basicConstraints: true, ca: false, pathLen: undefined, keyUsage: KEY_USAGE.digitalSignature });
      assert.equal(certificateConstraints(cert('leafEncipherOnly').raw).keyUsage, 1 << 2);
      assert.equal(certificateConstraints(cert('leafNoKeyUsage').raw).keyUsage, undefined);
      for (const name of ['root', 'int', 'int0', 'intNotCa', 'leafViaInt', 'leafNoKeyUsage']) {
        assert.equal(certificateConstraints(cert(name).raw).ca, cert(name).ca, name);
      }
    });
    it('refuses truncated or malformed DER', () => {
      const raw = cert('int0').raw;
      assert.throws(() => certificateConstraints(raw.subarray(0, raw.length - 10)), DerError);
      assert.throws(() => certificateConstraints(Buffer.from([0x02, 0x01, 0x00])), DerError);
      assert.throws(() => readTlv(Buffer.from([0x30, 0x85, 1, 1, 1, 1, 1]), 0), DerError);
      assert.throws(() => readTlv(Buffer.from([0x30]), 0), DerError);
      assert.deepEqual(readTlv(Buffer.from([0x30, 0x81, 0x01, 0x00]), 0), { tag: 0x30, start: 3, end: 4 });
    });
  });
});
