/**
 * The keys a token may be signed with, and how a token's header names one
 * (Distribution's registry/auth/token/token.go, VerifySigningKey):
 *
 * 1. `x5c`: a certificate chain whose leaf signed the token; it must chain up to a certificate of
 *    `rootcertbundle` by X.509 path validation (see {@link verifyCertificateChain}). A chain that
 *    fails is final: no fallback to `kid`.
 * 2. `jwk`: an embedded key. With its own `x5c`, that chain is verified as above; without, the key
 *    must be a trusted one (named by its `kid`, or the same key material as a trusted key).
 * 3. `kid`: a trusted key id. A root certificate's key is known by its libtrust key id (what
 *    Distribution 2.x uses), its RFC 7638 JWK thumbprint, and the thumbprint Distribution 3 computes
 *    (which for EC and Ed25519 keys differs from RFC 7638); a JWKS key by its `kid`.
 *
 * A JWKS key is used as it is declared (RFC 7517): one with `use` other than `sig`, `key_ops`
 * without `verify`, or an `alg` that is not a signature algorithm Berth verifies is not a signing
 * key and is left out; one with `alg` verifies only tokens of that algorithm.
 *
 * Signature checking itself is the controller's: this module only says which keys are candidates.
 */
import { createECDH, createHash, createPublicKey, X509Certificate, type JsonWebKey, type KeyObject } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { calculateJwkThumbprint, type JWK } from 'jose';
import { ChainCache, verifyCertificateChain } from './chain.js';
import { TokenKeyError } from './key-error.js';

/** Algorithms Distribution knows by name (registry/auth/token/token.go), minus the HMAC ones. */
export const SIGNING_ALGORITHMS = ['EdDSA', 'RS256', 'RS384', 'RS512', 'ES256', 'ES384', 'ES512', 'PS256', 'PS384', 'PS512'] as const;

/** A public-key JWS algorithm a token may be signed with. */
export type SigningAlgorithm = (typeof SIGNING_ALGORITHMS)[number];

/**
 * The algorithms accepted when `signingalgorithms` is not set: Distribution's default list without
 * HS256/384/512 (a shared secret cannot be verified against certificates or a public JWKS) and,
 * like every list here, never `none`.
 */
export const DEFAULT_SIGNING_ALGORITHMS: readonly SigningAlgorithm[] = SIGNING_ALGORITHMS;

/** Whether `alg` is one Berth can verify tokens with. */
export function isSigningAlgorithm(alg: string): alg is SigningAlgorithm {
  return (SIGNING_ALGORITHMS as readonly string[]).includes(alg);
}

export { TokenKeyError };
export { ChainCache, verifyCertificateChain };

/** The trust configuration: root certificates and keys by id. Immutable once loaded. */
export interface TrustedKeys {
  /** `rootcertbundle` certificates: trust anchors for `x5c` chains. */
  readonly roots: readonly X509Certificate[];
  /** Trusted keys by key id; one id may name several keys (each is tried). */
  readonly byKid: ReadonlyMap<string, readonly KeyObject[]>;
  /** Trusted keys by the sha256 of their DER SubjectPublicKeyInfo, to match an embedded `jwk`. */
  readonly bySpki: ReadonlyMap<string, KeyObject>;
  /** The one algorithm a key may verify, for JWKS keys that declare `alg`; absent: any accepted one. */
  readonly algorithmOf: ReadonlyMap<KeyObject, SigningAlgorithm>;
}

/** A JWKS key: its `kid`, public key, and declared `alg` when it has one. */
export interface JwksKey {
  readonly kid: string;
  readonly key: KeyObject;
  readonly alg?: SigningAlgorithm | undefined;
}

/** Where the trusted keys come from (`auth.token.rootcertbundle`, `auth.token.jwks`). */
export interface KeySources {
  readonly rootcertbundle?: string | undefined;
  readonly jwks?: string | undefined;
}

/**
 * Reads `rootcertbundle` (PEM certificates; other PEM blocks are skipped) and/or `jwks` (a JSON Web
 * Key Set file) and builds the trusted keys. Fails with a message naming the file when one cannot
 * be read or parsed, or when no key results ("token auth requires at least one token signing key").
 */
export async function loadTrustedKeys(sources: KeySources): Promise<TrustedKeys> {
  let roots: X509Certificate[] = [];
  let jwks: JwksKey[] = [];
  if (sources.rootcertbundle !== undefined && sources.rootcertbundle !== '') {
    const path = sources.rootcertbundle;
    const text = await readFile(path, 'utf8').catch((err: unknown) => {
      throw new TokenKeyError(`unable to read token auth root certificate bundle file "${path}": ${errorMessage(err)}`);
    });
    roots = parseCertificateBundle(text, path);
  }
  if (sources.jwks !== undefined && sources.jwks !== '') {
    const path = sources.jwks;
    const text = await readFile(path, 'utf8').catch((err: unknown) => {
      throw new TokenKeyError(`unable to read token jwks file "${path}": ${errorMessage(err)}`);
    });
    jwks = parseJwks(text, path);
  }
  if (roots.length === 0 && jwks.length === 0) throw new TokenKeyError('token auth requires at least one token signing key');
  return await buildTrustedKeys(roots, jwks);
}

/** Builds the key index from root certificates and JWKS keys (exported for tests and callers that hold keys in memory). */
export async function buildTrustedKeys(roots: readonly X509Certificate[], jwks: readonly JwksKey[]): Promise<TrustedKeys> {
  const byKid = new Map<string, KeyObject[]>();
  const bySpki = new Map<string, KeyObject>();
  const algorithmOf = new Map<KeyObject, SigningAlgorithm>();
  const add = (kid: string, key: KeyObject): void => {
    if (kid === '') return;
    const list = byKid.get(kid) ?? [];
    if (!list.some((k) => k.equals(key))) list.push(key);
    byKid.set(kid, list);
  };
  for (const cert of roots) {
    const key = cert.publicKey;
    for (const kid of new Set([libtrustKeyId(key), await jwkThumbprint(key), await distributionThumbprint(key)])) add(kid, key);
    bySpki.set(spkiDigest(key), key);
  }
  for (const { kid, key, alg } of jwks) {
    add(kid, key);
    bySpki.set(spkiDigest(key), key);
    if (alg !== undefined) algorithmOf.set(key, alg);
  }
  return { roots: [...roots], byKid, bySpki, algorithmOf };
}

/** Parses the CERTIFICATE blocks of a PEM bundle; a bad certificate fails with the file named. */
export function parseCertificateBundle(pem: string, source = 'rootcertbundle'): X509Certificate[] {
  const out: X509Certificate[] = [];
  const block = /-----BEGIN ([A-Z0-9 ]+)-----([\s\S]*?)-----END \1-----/g;
  for (let m = block.exec(pem); m !== null; m = block.exec(pem)) {
    if (m[1] !== 'CERTIFICATE') continue;
    try {
      out.push(new X509Certificate(Buffer.from((m[2] as string).replace(/\s+/g, ''), 'base64')));
    } catch (err) {
      throw new TokenKeyError(`unable to parse token auth root certificate in "${source}": ${errorMessage(err)}`);
    }
  }
  return out;
}

/**
 * Parses a JWKS document into public keys with their `kid` and declared `alg`. Private members are
 * dropped (only the public half is kept). Symmetric (`oct`) keys are refused: a shared secret has
 * no place in a key set, and HMAC tokens are not accepted. Keys not meant for verifying signatures
 * (see {@link signingUse}) are left out, so a key set may also hold encryption keys.
 */
export function parseJwks(text: string, source = 'jwks'): JwksKey[] {
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch (err) {
    throw new TokenKeyError(`failed to parse jwks "${source}": ${errorMessage(err)}`);
  }
  const keys = typeof doc === 'object' && doc !== null && !Array.isArray(doc) ? (doc as Record<string, unknown>)['keys'] : undefined;
  if (!Array.isArray(keys)) throw new TokenKeyError(`failed to parse jwks "${source}": expected an object with a "keys" list`);
  return keys.flatMap((jwk: unknown, i): JwksKey[] => {
    if (typeof jwk !== 'object' || jwk === null || Array.isArray(jwk)) throw new TokenKeyError(`jwks "${source}": key ${i} is not an object`);
    const record = jwk as Record<string, unknown>;
    const kid = typeof record['kid'] === 'string' ? record['kid'] : '';
    if (record['kty'] === 'oct') throw new TokenKeyError(`jwks "${source}": key ${i}${kid !== '' ? ` (${kid})` : ''} is a symmetric (oct) key, which is not accepted`);
    const use = signingUse(record);
    if (use === undefined) return [];
    try {
      return [{ kid, key: publicKeyFromJwk(record), ...(use.alg === undefined ? {} : { alg: use.alg }) }];
    } catch (err) {
      throw new TokenKeyError(`jwks "${source}": key ${i}${kid !== '' ? ` (${kid})` : ''}: ${errorMessage(err)}`);
    }
  });
}

/**
 * Whether a JWK may verify signatures, and with which algorithm: undefined (not a signing key) when
 * `use` is present and not `sig`, when `key_ops` is present and lacks `verify`, or when `alg` is
 * present and is not one of {@link SIGNING_ALGORITHMS} (an encryption or HMAC algorithm).
 */
export function signingUse(jwk: Readonly<Record<string, unknown>>): { alg?: SigningAlgorithm } | undefined {
  const use = jwk['use'];
  if (use !== undefined && use !== 'sig') return undefined;
  const ops = jwk['key_ops'];
  if (ops !== undefined && !(Array.isArray(ops) && ops.includes('verify'))) return undefined;
  const alg = jwk['alg'];
  if (alg === undefined) return {};
  return typeof alg === 'string' && isSigningAlgorithm(alg) ? { alg } : undefined;
}

/**
 * The libtrust key id of a key (of its public half) (Distribution 2.x, docker/libtrust util.go keyIDFromCryptoKey):
 * sha256 of the DER SubjectPublicKeyInfo, truncated to 240 bits, base32 (RFC 4648) encoded and
 * split into 12 groups of 4 characters joined by ':'.
 */
export function libtrustKeyId(key: KeyObject): string {
  const digest = createHash('sha256').update(publicOf(key).export({ type: 'spki', format: 'der' })).digest().subarray(0, 30);
  return (base32(digest).match(/.{1,4}/g) ?? []).join(':');
}

/** RFC 7638 JWK thumbprint (sha256, base64url) of a public key (jose's); '' for a key type JWK cannot express. */
export async function jwkThumbprint(key: KeyObject): Promise<string> {
  // node's JsonWebKey is the same JSON object as jose's JWK, typed more loosely.
  return calculateJwkThumbprint(publicOf(key).export({ format: 'jwk' }) as JWK).catch(() => '');
}

/**
 * The key id Distribution 3 gives a root certificate's key (registry/auth/token/util.go,
 * GetJWKThumbprint). For RSA it is the RFC 7638 thumbprint; for EC it hashes the curve's base point
 * instead of the key's (so every key of a curve gets the same id), and for Ed25519 it writes
 * `"kty":"OTP"`. Token servers that copied that function put these ids in `kid`, so they are
 * accepted too; the signature is still checked against the root's real key, and when several roots
 * share such an id each is tried.
 */
export async function distributionThumbprint(key: KeyObject): Promise<string> {
  const jwk = publicOf(key).export({ format: 'jwk' });
  if (jwk.kty === 'RSA') return jwkThumbprint(key);
  if (jwk.kty === 'OKP' && jwk.crv === 'Ed25519') return thumbprintOf(`{"crv":"Ed25519","kty":"OTP","x":"${jwk.x}"}`);
  if (jwk.kty === 'EC' && typeof jwk.crv === 'string') {
    const base = curveBasePoint(jwk.crv);
    if (base !== undefined) return thumbprintOf(`{"crv":"${jwk.crv}","kty":"EC","x":"${base.x}","y":"${base.y}"}`);
  }
  return '';
}

/** The JOSE header members that name a signing key. */
export interface KeyHeader {
  readonly kid?: unknown;
  readonly x5c?: unknown;
  readonly jwk?: unknown;
}

/**
 * The keys that may have signed a token with this header, in Distribution's order of preference
 * (x5c, then jwk, then kid). Throws TokenKeyError when the header names no trusted key.
 *
 * @param now the current time in milliseconds, for certificate validity.
 * @param chains remembers verified x5c chains (verifying one costs far more than the token's signature).
 */
export function resolveSigningKeys(header: KeyHeader, trusted: TrustedKeys, now: number, chains?: ChainCache): KeyObject[] {
  const chainKey = (x5c: readonly string[]): KeyObject => (chains !== undefined ? chains.verify(x5c, trusted.roots, now) : verifyCertificateChain(x5c, trusted.roots, now));
  // An empty x5c counts as none, as go-jose reports it missing and Distribution moves on to jwk / kid.
  if (header.x5c !== undefined && !(Array.isArray(header.x5c) && header.x5c.length === 0)) {
    return [chainKey(stringList(header.x5c, 'x5c'))];
  }
  if (header.jwk !== undefined) {
    if (typeof header.jwk !== 'object' || header.jwk === null || Array.isArray(header.jwk)) throw new TokenKeyError('malformed jwk header');
    const jwk = header.jwk as Record<string, unknown>;
    if (jwk['x5c'] !== undefined) return [chainKey(stringList(jwk['x5c'], 'jwk x5c'))];
    const candidates: KeyObject[] = [];
    if (typeof jwk['kid'] === 'string') candidates.push(...(trusted.byKid.get(jwk['kid']) ?? []));
    let embedded: KeyObject | undefined;
    try {
      embedded = publicKeyFromJwk(jwk);
    } catch {
      embedded = undefined;
    }
    const same = embedded !== undefined ? trusted.bySpki.get(spkiDigest(embedded)) : undefined;
    if (same !== undefined && !candidates.some((k) => k.equals(same))) candidates.push(same);
    if (candidates.length === 0) throw new TokenKeyError('untrusted JWK with no certificate chain');
    return candidates;
  }
  if (typeof header.kid === 'string' && header.kid !== '') {
    const keys = trusted.byKid.get(header.kid);
    if (keys === undefined || keys.length === 0) throw new TokenKeyError(`token signed by untrusted key with ID: "${header.kid.slice(0, 200)}"`);
    return [...keys];
  }
  throw new TokenKeyError('unable to get token signing key');
}

/** A public KeyObject from a JWK (private members are ignored). */
function publicKeyFromJwk(jwk: Record<string, unknown>): KeyObject {
  const kty = jwk['kty'];
  const pick = (names: readonly string[]): Record<string, unknown> => Object.fromEntries(names.filter((n) => jwk[n] !== undefined).map((n) => [n, jwk[n]]));
  let members: Record<string, unknown>;
  if (kty === 'RSA') members = pick(['kty', 'n', 'e']);
  else if (kty === 'EC') members = pick(['kty', 'crv', 'x', 'y']);
  else if (kty === 'OKP') members = pick(['kty', 'crv', 'x']);
  else throw new TokenKeyError(`unsupported key type ${JSON.stringify(kty) ?? 'undefined'}`);
  // node's JsonWebKey type is looser than the checks above; createPublicKey validates the members.
  return createPublicKey({ key: members as JsonWebKey, format: 'jwk' });
}

function stringList(value: unknown, what: string): string[] {
  if (!Array.isArray(value) || !value.every((v): v is string => typeof v === 'string' && v !== '')) throw new TokenKeyError(`malformed ${what} header`);
  return value;
}

function spkiDigest(key: KeyObject): string {
  return createHash('sha256').update(publicOf(key).export({ type: 'spki', format: 'der' })).digest('hex');
}

/** The public half of a key (a public key is returned as is). */
function publicOf(key: KeyObject): KeyObject {
  return key.type === 'private' ? createPublicKey(key) : key;
}

function thumbprintOf(json: string): string {
  return createHash('sha256').update(json).digest('base64url');
}

const BASE32_ALPHABET = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/** RFC 4648 base32 without padding. */
function base32(bytes: Uint8Array): string {
  let out = '';
  let bits = 0;
  let value = 0;
  for (const byte of bytes) {
    value = ((value << 8) | byte) & 0xffff;
    bits += 8;
    while (bits >= 5) {
      out += BASE32_ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32_ALPHABET[(value << (5 - bits)) & 31];
  return out;
}

/** Node's names of the curves JWK calls P-256, P-384 and P-521, with their field size in bytes. */
const EC_CURVES: Readonly<Record<string, { name: string; bytes: number }>> = {
  'P-256': { name: 'prime256v1', bytes: 32 },
  'P-384': { name: 'secp384r1', bytes: 48 },
  'P-521': { name: 'secp521r1', bytes: 66 },
};

/**
 * A curve's base point as Go's `big.Int.Bytes()` would print it (base64url, leading zeros dropped):
 * the public key of the private scalar 1 is the base point itself.
 */
function curveBasePoint(crv: string): { x: string; y: string } | undefined {
  const curve = EC_CURVES[crv];
  if (curve === undefined) return undefined;
  const ecdh = createECDH(curve.name);
  const one = Buffer.alloc(curve.bytes);
  one[curve.bytes - 1] = 1;
  ecdh.setPrivateKey(one);
  const point = ecdh.getPublicKey(); // 0x04 || x || y
  const trim = (b: Buffer): string => {
    let i = 0;
    while (i < b.length - 1 && b[i] === 0) i++;
    return b.subarray(i).toString('base64url');
  };
  return { x: trim(point.subarray(1, 1 + curve.bytes)), y: trim(point.subarray(1 + curve.bytes)) };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
