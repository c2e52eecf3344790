/**
 * X.509 path validation of a token's `x5c` chain up to the trusted root certificates, and a cache of
 * verified chains (verifying one costs far more than checking the token's signature).
 */
import { X509Certificate, type KeyObject } from 'node:crypto';
import { TokenKeyError } from './key-error.js';
import { certificateConstraints, KEY_USAGE, type CertificateConstraints } from './x509-constraints.js';

/** The most certificates a chain may hold (leaf, intermediates, root). */
const MAX_CHAIN = 10;

/** A verified chain: the leaf's key, and when every certificate of the path is valid. */
interface VerifiedChain {
  readonly key: KeyObject;
  /** Milliseconds: the latest notBefore and the earliest notAfter along the path. */
  readonly validFrom: number;
  readonly validTo: number;
}

/**
 * Verifies an `x5c` chain (base64 DER, leaf first, then intermediates in any order) up to one of
 * `roots`, and returns the leaf's public key. This is X.509 path validation (RFC 5280 section 6, as
 * Go's crypto/x509 and `openssl verify` do it), searching every path the certificates allow:
 *
 * - each link must name and be signed by its issuer;
 * - every certificate of the path, the root included, must be valid at `now`;
 * - an intermediate must be a CA (BasicConstraints cA); a root that issues must be one too, or an
 *   X.509 v1 certificate without BasicConstraints;
 * - a CA's pathLenConstraint bounds the intermediates below it (`pathlen:0` signs leaves only);
 * - a CA with KeyUsage must have keyCertSign, and a leaf with KeyUsage digitalSignature.
 *
 * A leaf that is itself a root certificate is trusted as is (a self-signed token certificate, or
 * the CA, listed in the bundle).
 */
export function verifyCertificateChain(x5c: readonly string[], roots: readonly X509Certificate[], now: number): KeyObject {
  return verifyChain(x5c, roots, now).key;
}

function verifyChain(x5c: readonly string[], roots: readonly X509Certificate[], now: number): VerifiedChain {
  if (x5c.length === 0) throw new TokenKeyError('empty x509 certificate chain');
  if (x5c.length > MAX_CHAIN) throw new TokenKeyError('x509 certificate chain too long');
  const certs = x5c.map((b64, i) => {
    try {
      return new X509Certificate(Buffer.from(b64, 'base64'));
    } catch (err) {
      throw new TokenKeyError(`unable to parse ${i === 0 ? 'leaf' : 'intermediate'} certificate: ${errorMessage(err)}`);
    }
  });
  const leaf = certs[0] as X509Certificate;
  const intermediates = certs.slice(1);
  const start = validity(leaf, now, { validFrom: -Infinity, validTo: Infinity });
  // A root of the bundle signing tokens itself is the operator's explicit trust, as in Distribution
  // (whose CA certificates commonly carry keyCertSign only).
  if (roots.some((r) => r.raw.equals(leaf.raw))) return { key: leaf.publicKey, ...start };
  const leafConstraints = constraintsOf(leaf);
  if (leafConstraints.keyUsage !== undefined && (leafConstraints.keyUsage & KEY_USAGE.digitalSignature) === 0) {
    throw new TokenKeyError(`unable to verify certificate chain: certificate "${subjectOf(leaf)}" may not sign (KeyUsage without digitalSignature)`);
  }

  // Depth-first over the possible paths; the first problem met is reported when none works.
  let problem: string | undefined;
  const used = new Set<X509Certificate>();
  const search = (current: X509Certificate, below: number, window: Window): Window | undefined => {
    for (const root of roots) {
      if (!issuedBy(current, root)) continue;
      const refused = issuerProblem(root, below, true) ?? validityProblem(root, now);
      if (refused === undefined) return narrow(window, root);
      problem ??= refused;
    }
    if (below + 2 >= MAX_CHAIN) return undefined;
    for (const next of intermediates) {
      if (used.has(next) || !issuedBy(current, next)) continue;
      const refused = issuerProblem(next, below, false) ?? validityProblem(next, now);
      if (refused !== undefined) {
        problem ??= refused;
        continue;
      }
      used.add(next);
      const found = search(next, below + 1, narrow(window, next));
      used.delete(next);
      if (found !== undefined) return found;
    }
    return undefined;
  };
  const found = search(leaf, 0, start);
  if (found === undefined) throw new TokenKeyError(`unable to verify certificate chain: ${problem ?? 'certificate signed by unknown authority'}`);
  return { key: leaf.publicKey, ...found };
}

type Window = { validFrom: number; validTo: number };

/** Why `issuer` may not sign the certificate above `below` intermediates, or undefined when it may. */
function issuerProblem(issuer: X509Certificate, below: number, isRoot: boolean): string | undefined {
  const c = constraintsOf(issuer);
  const name = subjectOf(issuer);
  if (!c.ca && (!isRoot || c.basicConstraints)) return `certificate "${name}" is not a CA`;
  if (c.pathLen !== undefined && below > c.pathLen) return `certificate "${name}" allows ${c.pathLen} intermediate(s) below it (pathlen), the chain has ${below}`;
  if (c.keyUsage !== undefined && (c.keyUsage & KEY_USAGE.keyCertSign) === 0) return `certificate "${name}" may not sign certificates (KeyUsage without keyCertSign)`;
  return undefined;
}

function validityProblem(cert: X509Certificate, now: number): string | undefined {
  try {
    validity(cert, now, { validFrom: -Infinity, validTo: Infinity });
    return undefined;
  } catch (err) {
    return errorMessage(err);
  }
}

function narrow(window: Window, cert: X509Certificate): Window {
  return { validFrom: Math.max(window.validFrom, Date.parse(cert.validFrom)), validTo: Math.min(window.validTo, Date.parse(cert.validTo)) };
}

function constraintsOf(cert: X509Certificate): CertificateConstraints {
  try {
    return certificateConstraints(cert.raw);
  } catch (err) {
    throw new TokenKeyError(`unable to read the extensions of certificate "${subjectOf(cert)}": ${errorMessage(err)}`);
  }
}

function subjectOf(cert: X509Certificate): string {
  return cert.subject.replace(/\n/g, ', ');
}

/**
 * Remembers chains already verified against the same roots, keyed by their exact bytes, with
 * their validity window (re-checked against the clock on every use). Bounded: the oldest entry
 * goes when it is full. One per controller; not shared between different root sets.
 */
export class ChainCache {
  readonly #entries = new Map<string, VerifiedChain>();
  readonly #max: number;

  constructor(maxEntries = 128) {
    this.#max = maxEntries;
  }

  /** Like {@link verifyCertificateChain}, answering from the cache when it can. */
  verify(x5c: readonly string[], roots: readonly X509Certificate[], now: number): KeyObject {
    const id = x5c.join(',');
    const hit = this.#entries.get(id);
    if (hit !== undefined && now >= hit.validFrom && now <= hit.validTo) return hit.key;
    const chain = verifyChain(x5c, roots, now);
    this.#entries.delete(id);
    this.#entries.set(id, chain);
    if (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next();
      if (oldest.done !== true) this.#entries.delete(oldest.value);
    }
    return chain.key;
  }
}

function issuedBy(cert: X509Certificate, issuer: X509Certificate): boolean {
  try {
    return cert.checkIssued(issuer) && cert.verify(issuer.publicKey);
  } catch {
    return false;
  }
}

/** Checks that `cert` is valid at `now` and narrows the window to its validity. */
function validity(cert: X509Certificate, now: number, window: { validFrom: number; validTo: number }): { validFrom: number; validTo: number } {
  const from = Date.parse(cert.validFrom);
  const to = Date.parse(cert.validTo);
  const subject = cert.subject.replace(/\n/g, ', ');
  if (Number.isNaN(from) || Number.isNaN(to)) throw new TokenKeyError(`certificate "${subject}" has unreadable validity dates`);
  if (now < from || now > to) throw new TokenKeyError(`certificate "${subject}" is not valid now (valid from ${cert.validFrom} to ${cert.validTo})`);
  return { validFrom: Math.max(window.validFrom, from), validTo: Math.min(window.validTo, to) };
}

function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
