/**
 * bcrypt, as htpasswd files use it. bcryptjs writes `$2b$`; Apache's tools write and prefer `$2y$`, which is
 * the same algorithm under another name, so hashes Berth produces are relabelled `$2y$` for compatibility.
 */
import { randomBytes } from 'node:crypto';
import bcrypt from 'bcryptjs';

/** Compares a password with a bcrypt hash; resolves false (never rejects) for a hash it cannot use. */
export type BcryptCompare = (password: string, hash: string) => Promise<boolean>;

/** The cost `berth htpasswd` uses when `-C` is not given (Apache's default is 5; see docs/security-policies.md). */
export const DEFAULT_BCRYPT_COST = 10;
/** The lowest cost `berth htpasswd -C` accepts (bcrypt's minimum). */
export const CLI_MIN_COST = 4;
/** The highest cost `berth htpasswd -C` accepts: Apache's limit (apr-util refuses more than 17). */
export const CLI_MAX_COST = 17;

/** bcrypt only uses the first 72 bytes of a password. */
export const BCRYPT_MAX_PASSWORD_BYTES = 72;

/** Hashes a password with a fresh salt at `cost`, labelled `$2y$` as Apache's htpasswd writes it. */
export async function hashPassword(password: string, cost: number): Promise<string> {
  const hash = await bcrypt.hash(password, cost);
  return toApacheBcrypt(hash);
}

/** Relabels a `$2b$` hash `$2y$` (same algorithm); any other string is returned unchanged. */
export function toApacheBcrypt(hash: string): string {
  return hash.startsWith('$2b$') ? `$2y$${hash.slice(4)}` : hash;
}

/** The default compare: bcryptjs (which accepts $2a$, $2b$ and $2y$ and compares the digests in constant time). */
export const compareBcrypt: BcryptCompare = async (password, hash) => {
  try {
    return await bcrypt.compare(password, hash);
  } catch {
    return false;
  }
};

/**
 * A well-formed bcrypt hash of `cost` that no password matches (random salt, random digest): comparing
 * against it costs exactly what comparing against a real entry of that cost does, so an unknown user
 * takes as long as a known one. Creating it is cheap (no hashing).
 */
export function unmatchableHash(cost: number): string {
  const salt = bcrypt.genSaltSync(cost); // $2b$NN$ + 22 characters
  return toApacheBcrypt(salt + bcrypt.encodeBase64(randomBytes(23), 23));
}
