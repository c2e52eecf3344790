import { createHash, type Hash } from 'node:crypto';
import { OciError } from './errors.js';

/** A validated digest string such as `sha256:<64 hex>`. Build one with parseDigest. */
export type Digest = string & { readonly __brand: 'Digest' };

/** Digest algorithms Berth can verify, with the length of their hex encoding. */
export const DIGEST_ALGORITHMS = { sha256: 64, sha512: 128 } as const;
export type DigestAlgorithm = keyof typeof DIGEST_ALGORITHMS;

// The OCI image-spec grammar: algorithm-component ( separator algorithm-component )* ":" encoded
const GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** True when `value` is a well-formed digest of a supported algorithm. */
export function isDigest(value: string): value is Digest {
  return tryParseDigest(value) !== undefined;
}

/** Returns the digest when valid and supported, else undefined. */
export function tryParseDigest(value: string): Digest | undefined {
  if (value.length > 200 || !GRAMMAR.test(value)) return undefined;
  const colon = value.indexOf(':');
  const algorithm = value.slice(0, colon);
  const hex = value.slice(colon + 1);
  if (!(algorithm in DIGEST_ALGORITHMS)) return undefined;
  if (hex.length !== DIGEST_ALGORITHMS[algorithm as DigestAlgorithm] || !/^[a-f0-9]+$/.test(hex)) return undefined;
  return value as Digest;
}

/** Parses a digest from untrusted input; throws DIGEST_INVALID naming what is wrong. */
export function parseDigest(value: string): Digest {
  const digest = tryParseDigest(value);
  if (digest !== undefined) return digest;
  if (GRAMMAR.test(value)) {
    const algorithm = value.slice(0, value.indexOf(':'));
    if (!(algorithm in DIGEST_ALGORITHMS)) {
      throw new OciError('DIGEST_INVALID', { message: `unsupported digest algorithm: ${algorithm.slice(0, 32)}` });
    }
  }
  throw new OciError('DIGEST_INVALID', { message: 'invalid digest', detail: { digest: value.slice(0, 200) } });
}

export function digestAlgorithm(digest: Digest): DigestAlgorithm {
  return digest.slice(0, digest.indexOf(':')) as DigestAlgorithm;
}

export function digestHex(digest: Digest): string {
  return digest.slice(digest.indexOf(':') + 1);
}

/** The digest of a byte string. */
export function digestOf(data: Uint8Array, algorithm: DigestAlgorithm = 'sha256'): Digest {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}` as Digest;
}

/** A streaming digester: feed chunks, then read the digest. */
export class Digester {
  readonly algorithm: DigestAlgorithm;
  private readonly hash: Hash;
  private bytes = 0;

  constructor(algorithm: DigestAlgorithm = 'sha256', hash?: Hash, bytes = 0) {
    this.algorithm = algorithm;
    this.hash = hash ?? createHash(algorithm);
    this.bytes = bytes;
  }

  get size(): number {
    return this.bytes;
  }

  update(chunk: Uint8Array): void {
    this.hash.update(chunk);
    this.bytes += chunk.byteLength;
  }

  /** The digest of everything fed so far; the digester stays usable. */
  digest(): Digest {
    return `${this.algorithm}:${this.hash.copy().digest('hex')}` as Digest;
  }

  copy(): Digester {
    return new Digester(this.algorithm, this.hash.copy(), this.bytes);
  }
}
