import { createHmac, randomBytes } from 'node:crypto';

/** How long and how many verified credentials a CredentialCache keeps. */
export interface CredentialCacheOptions {
  /** How long a successful verification is remembered (default 60 s). */
  readonly ttlMs?: number;
  /** At most this many remembered credentials; the oldest go first (default 1000). */
  readonly maxEntries?: number;
  /** The clock (default Date.now), injectable for tests. */
  readonly now?: () => number;
}

/**
 * Remembers credentials that bcrypt recently accepted, so a client sending Basic credentials on every
 * request (docker does) pays bcrypt's cost once a minute rather than on every blob.
 *
 * Nothing reversible is stored: each entry is HMAC-SHA256(user, hash from the file, password) under a random
 * key made per process, mapped to its expiry. The stored hash is part of the MAC, so a password changed in
 * the file stops matching at once; the owner also clears the cache on every reload. Failed verifications are
 * never cached, so guessing always costs a full bcrypt comparison. The trade-off (documented in
 * docs/security-policies.md): someone able to read this process's memory gets the key and the MACs, and could
 * test guesses for the cached passwords at HMAC speed instead of bcrypt speed; and a revoked password keeps
 * working only if the file is not reloaded, which the reload clears.
 */
export class CredentialCache {
  private readonly key = randomBytes(32);
  private readonly entries = new Map<string, number>(); // MAC (base64) -> expiry (ms), oldest first
  private readonly ttlMs: number;
  private readonly maxEntries: number;
  private readonly now: () => number;

  constructor(options: CredentialCacheOptions = {}) {
    this.ttlMs = options.ttlMs ?? 60_000;
    this.maxEntries = options.maxEntries ?? 1000;
    this.now = options.now ?? Date.now;
  }

  /** True when these exact credentials were verified against this hash less than ttlMs ago. */
  has(user: string, hash: string, password: string): boolean {
    if (this.ttlMs <= 0) return false;
    const mac = this.mac(user, hash, password);
    const expiry = this.entries.get(mac);
    if (expiry === undefined) return false;
    if (expiry <= this.now()) {
      this.entries.delete(mac);
      return false;
    }
    return true;
  }

  /** Remembers a successful verification for ttlMs (from now). */
  add(user: string, hash: string, password: string): void {
    if (this.ttlMs <= 0 || this.maxEntries <= 0) return;
    const mac = this.mac(user, hash, password);
    this.entries.delete(mac); // re-insert at the end: entries stay ordered by expiry
    const now = this.now();
    for (const [oldest, expiry] of this.entries) {
      if (expiry > now && this.entries.size < this.maxEntries) break;
      this.entries.delete(oldest);
    }
    this.entries.set(mac, now + this.ttlMs);
  }

  /** Forgets everything (after the file changed). */
  clear(): void {
    this.entries.clear();
  }

  /** How many credentials are remembered (expired ones included until they are pruned). */
  get size(): number {
    return this.entries.size;
  }

  private mac(user: string, hash: string, password: string): string {
    // JSON keeps the three fields unambiguous whatever characters they contain.
    return createHmac('sha256', this.key).update(JSON.stringify([user, hash, password])).digest('base64');
  }
}
