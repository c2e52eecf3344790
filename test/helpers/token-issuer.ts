/**
 * A small Docker token server for tests (docs/content/spec/auth/token.md): `GET /token?service=...&scope=...`
 * with optional Basic credentials checked against a fixed user table, an ACL deciding which of the
 * requested actions are granted, and `{ token, access_token, expires_in, issued_at }` back.
 *
 * Keys are made at test time, never committed: a root CA and a leaf signing certificate issued by it
 * (with the openssl CLI), plus an RSA key published in a JWKS file. Tokens are signed in one of three
 * ways, matching the three ways the registry resolves a signing key:
 * - `x5c` (default): ES256 by the leaf, header `x5c: [leaf]`; trusted through `rootcertbundle` (the CA);
 * - `root-kid`: ES256 by the CA key itself, header `kid` = the CA key's libtrust key id;
 * - `jwks`: RS256 by the JWKS key, header `kid` = its kid; trusted through `jwks`.
 */
import { execFile } from 'node:child_process';
import { createPrivateKey, generateKeyPairSync, randomBytes, type KeyObject } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { CompactSign } from 'jose';
import { libtrustKeyId } from '../../src/auth/token/keys.js';
import { parseScopes, type ResourceScope } from '../../src/auth/token/scope.js';

const run = promisify(execFile);

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  await run('openssl', [...args], { cwd });
}

/** A certificate (PEM and base64 DER, as `x5c` carries it) with its private key. */
export interface TestCertificate {
  readonly certPath: string;
  readonly certPem: string;
  /** Base64 (standard, not url) DER: an `x5c` element. */
  readonly x5c: string;
  readonly key: KeyObject;
}

/** A root CA, an intermediate CA issued by it, and two signing certificates: one from the root, one from the intermediate. */
export interface TokenPki {
  readonly dir: string;
  readonly ca: TestCertificate;
  readonly intermediate: TestCertificate;
  /** Issued by the CA directly. */
  readonly leaf: TestCertificate;
  /** Issued by the intermediate. */
  readonly leafViaIntermediate: TestCertificate;
}

/**
 * Makes a test PKI with the openssl CLI in `dir` (P-256 keys, so tokens are ES256). Certificates
 * are valid for `days` days from now (default 2).
 */
export async function createTokenPki(dir: string, options: { name?: string; days?: number } = {}): Promise<TokenPki> {
  const name = options.name ?? 'Berth Test Token';
  const days = String(options.days ?? 2);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await writeFile(join(dir, 'ca.ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  await writeFile(join(dir, 'leaf.ext'), 'basicConstraints=critical,CA:FALSE\nkeyUsage=critical,digitalSignature\nsubjectKeyIdentifier=hash\nauthorityKeyIdentifier=keyid\n');
  await openssl(['req', '-x509', ...ec, '-sha256', '-days', days, '-subj', `/CN=${name} CA`, '-keyout', 'ca.key', '-out', 'ca.crt',
    '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir);
  const issue = async (base: string, cn: string, issuer: string, ext: string): Promise<void> => {
    await openssl(['req', ...ec, '-subj', `/CN=${cn}`, '-keyout', `${base}.key`, '-out', `${base}.csr`], dir);
    await openssl(['x509', '-req', '-in', `${base}.csr`, '-CA', `${issuer}.crt`, '-CAkey', `${issuer}.key`, '-set_serial', `0x${randomBytes(8).toString('hex')}`,
      '-days', days, '-sha256', '-extfile', ext, '-out', `${base}.crt`], dir);
  };
  await issue('intermediate', `${name} Intermediate`, 'ca', 'ca.ext');
  await issue('leaf', `${name} Signer`, 'ca', 'leaf.ext');
  await issue('leaf2', `${name} Signer 2`, 'intermediate', 'leaf.ext');
  const load = async (base: string): Promise<TestCertificate> => {
    const certPem = await readFile(join(dir, `${base}.crt`), 'utf8');
    const x5c = certPem.replace(/-----[A-Z ]+-----/g, '').replace(/\s+/g, '');
    return { certPath: join(dir, `${base}.crt`), certPem, x5c, key: createPrivateKey(await readFile(join(dir, `${base}.key`), 'utf8')) };
  };
  return { dir, ca: await load('ca'), intermediate: await load('intermediate'), leaf: await load('leaf'), leafViaIntermediate: await load('leaf2') };
}

/** How the issuer signs tokens (see the file comment). */
export type SigningMode = 'x5c' | 'root-kid' | 'jwks';

/** Decides which actions `user` (undefined: anonymous) gets on a requested resource. */
export type Acl = (user: string | undefined, scope: ResourceScope) => readonly string[];

/** Options of {@link startTokenIssuer}. */
export interface TokenIssuerOptions {
  readonly service?: string;
  readonly issuer?: string;
  /** user → password; Basic credentials are checked against it. */
  readonly users?: Readonly<Record<string, string>>;
  /** Default: authenticated users get every requested action, anonymous users nothing. */
  readonly acl?: Acl;
  readonly mode?: SigningMode;
  /** Token lifetime (default 300 s). */
  readonly lifetimeSeconds?: number;
  /** The issuer's clock in milliseconds (default Date.now). */
  readonly now?: () => number;
}

/** One request the token endpoint answered. */
export interface TokenRequest {
  readonly user: string | undefined;
  readonly service: string | null;
  readonly scopes: readonly string[];
  readonly status: number;
}

/** Extra header members and a signing mode for one token. */
export interface SignOptions {
  readonly mode?: SigningMode;
  /** Replaces the protected header entirely (alg is still required). */
  readonly header?: Readonly<Record<string, unknown>>;
  /** Sign with this key instead of the mode's. */
  readonly key?: KeyObject;
}

/** A running token server. */
export interface TokenIssuer {
  /** `http://127.0.0.1:<port>/token`: the realm to configure. */
  readonly realm: string;
  readonly service: string;
  readonly issuer: string;
  /** The CA certificate file, for `rootcertbundle`. */
  readonly rootCertBundle: string;
  /** The JWKS file, for `jwks`. */
  readonly jwksPath: string;
  /** The kid of the JWKS key. */
  readonly jwksKid: string;
  readonly pki: TokenPki;
  /** Every request answered, in order. */
  readonly requests: TokenRequest[];
  /** The `auth.token` section matching this issuer. */
  config(extra?: Record<string, unknown>): Record<string, unknown>;
  /** Signs arbitrary claims (a JWS compact serialization). */
  sign(claims: Readonly<Record<string, unknown>>, options?: SignOptions): Promise<string>;
  /** A token for `user` granting `access`, with standard claims (overridable). */
  issue(user: string, access: readonly ResourceScope[], overrides?: Readonly<Record<string, unknown>>, options?: SignOptions): Promise<string>;
  close(): Promise<void>;
}

/** Starts a token server on 127.0.0.1 with a fresh PKI and JWKS key in a temporary directory. */
export async function startTokenIssuer(options: TokenIssuerOptions = {}): Promise<TokenIssuer> {
  const service = options.service ?? 'berth-test-registry';
  const issuerName = options.issuer ?? 'berth-test-issuer';
  const users = options.users ?? {};
  const acl: Acl = options.acl ?? ((user, scope) => (user !== undefined ? scope.actions : []));
  const defaultMode = options.mode ?? 'x5c';
  const lifetime = options.lifetimeSeconds ?? 300;
  const now = options.now ?? Date.now;

  const dir = await mkdtemp(join(tmpdir(), 'berth-token-'));
  const pki = await createTokenPki(dir);
  const jwksKid = `berth-test-${randomBytes(4).toString('hex')}`;
  const jwksPair = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const jwksPath = join(dir, 'token.jwks');
  await writeFile(jwksPath, JSON.stringify({ keys: [{ ...jwksPair.publicKey.export({ format: 'jwk' }), kid: jwksKid, alg: 'RS256', use: 'sig' }] }));
  const caKid = libtrustKeyId(pki.ca.key);

  const sign = async (claims: Readonly<Record<string, unknown>>, signOptions: SignOptions = {}): Promise<string> => {
    const mode = signOptions.mode ?? defaultMode;
    const base =
      mode === 'jwks'
        ? { key: jwksPair.privateKey, header: { typ: 'JWT', alg: 'RS256', kid: jwksKid } }
        : mode === 'root-kid'
          ? { key: pki.ca.key, header: { typ: 'JWT', alg: 'ES256', kid: caKid } }
          : { key: pki.leaf.key, header: { typ: 'JWT', alg: 'ES256', x5c: [pki.leaf.x5c] } };
    const header = (signOptions.header ?? base.header) as { alg: string };
    return new CompactSign(Buffer.from(JSON.stringify(claims))).setProtectedHeader(header).sign(signOptions.key ?? base.key);
  };

  const issue = (user: string, access: readonly ResourceScope[], overrides: Readonly<Record<string, unknown>> = {}, signOptions?: SignOptions): Promise<string> => {
    const t = Math.floor(now() / 1000);
    const claims = {
      iss: issuerName,
      sub: user,
      aud: service,
      exp: t + lifetime,
      nbf: t,
      iat: t,
      jti: randomBytes(12).toString('base64url'),
      access: access.map((a) => ({ type: a.type, name: a.name, actions: [...a.actions] })),
      ...overrides,
    };
    return sign(claims, signOptions);
  };

  const requests: TokenRequest[] = [];

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const url = new URL(req.url ?? '/', 'http://issuer');
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      res.writeHead(status, { 'Content-Type': 'application/json', ...headers });
      res.end(JSON.stringify(body));
    };
    if (url.pathname !== '/token' || (req.method !== 'GET' && req.method !== 'HEAD')) {
      reply(404, { details: 'not found' });
      return;
    }
    const scopes = url.searchParams.getAll('scope');
    const requestedService = url.searchParams.get('service');
    let user: string | undefined;
    const authorization = req.headers.authorization;
    if (authorization !== undefined && authorization.toLowerCase().startsWith('basic ')) {
      const decoded = Buffer.from(authorization.slice(6).trim(), 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      const name = colon === -1 ? decoded : decoded.slice(0, colon);
      const password = colon === -1 ? '' : decoded.slice(colon + 1);
      if (!Object.hasOwn(users, name) || users[name] !== password) {
        requests.push({ user: name, service: requestedService, scopes, status: 401 });
        reply(401, { details: 'incorrect username or password' }, { 'WWW-Authenticate': 'Basic realm="berth-test-issuer"' });
        return;
      }
      user = name;
    }
    if (requestedService !== null && requestedService !== service) {
      requests.push({ user, service: requestedService, scopes, status: 400 });
      reply(400, { details: `unknown service ${requestedService}` });
      return;
    }
    // Grant the intersection of what was asked and what the ACL allows ('*' allows everything asked).
    const access = scopes.flatMap((s) => parseScopes(s)).map((scope) => {
      const allowed = acl(user, scope);
      return { ...scope, actions: scope.actions.filter((a) => allowed.includes('*') || allowed.includes(a)) };
    });
    const token = await issue(user ?? '', access);
    requests.push({ user, service: requestedService, scopes, status: 200 });
    reply(200, { token, access_token: token, expires_in: lifetime, issued_at: new Date(now()).toISOString() });
  };

  const server = createServer((req, res) => {
    handle(req, res).catch((err: unknown) => {
      res.writeHead(500);
      res.end(String(err));
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const realm = `http://127.0.0.1:${port}/token`;

  return {
    realm,
    service,
    issuer: issuerName,
    rootCertBundle: pki.ca.certPath,
    jwksPath,
    jwksKid,
    pki,
    requests,
    config: (extra = {}) => ({ realm, service, issuer: issuerName, rootcertbundle: pki.ca.certPath, jwks: jwksPath, ...extra }),
    sign,
    issue,
    close: async () => {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(dir, { recursive: true, force: true });
    },
  };
}
