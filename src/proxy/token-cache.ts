/**
 * Bearer tokens an upstream's token service issued, per scope, until they expire. In-process: a token
 * is cheap to fetch again, and sharing one across replicas would hand a credential to Redis.
 */

/** Token services that send no expires_in mean 60 seconds (the Docker token specification). */
export const DEFAULT_TOKEN_LIFETIME_S = 60;
/** A token is dropped this long before it expires, so a request never leaves with one about to lapse. */
export const TOKEN_EXPIRY_MARGIN_MS = 10_000;
/** At most this many tokens are kept (a mirror of many repositories asks one scope per repository). */
const MAX_TOKENS = 10_000;

export class TokenCache {
  readonly #tokens = new Map<string, { token: string; until: number }>();

  /** `now`: the clock in ms (injected for tests). */
  constructor(private readonly now: () => number = Date.now) {}

  /** The cached token for `key` (realm, service and scope), unless it expires within the margin. */
  get(key: string): string | undefined {
    const entry = this.#tokens.get(key);
    if (entry === undefined) return undefined;
    if (this.now() >= entry.until) {
      this.#tokens.delete(key);
      return undefined;
    }
    return entry.token;
  }

  /**
   * Keeps `token` for `lifetimeSeconds` (undefined or not positive: the default 60 s) less the margin,
   * or less half the lifetime when that is shorter.
   */
  set(key: string, token: string, lifetimeSeconds: number | undefined): void {
    const lifetimeMs = (lifetimeSeconds !== undefined && Number.isFinite(lifetimeSeconds) && lifetimeSeconds > 0 ? lifetimeSeconds : DEFAULT_TOKEN_LIFETIME_S) * 1000;
    const keep = lifetimeMs - Math.min(TOKEN_EXPIRY_MARGIN_MS, lifetimeMs / 2);
    if (this.#tokens.size >= MAX_TOKENS && !this.#tokens.has(key)) {
      const oldest = this.#tokens.keys().next().value;
      if (oldest !== undefined) this.#tokens.delete(oldest);
    }
    this.#tokens.delete(key);
    this.#tokens.set(key, { token, until: this.now() + keep });
  }

  /** Drops the token for `key` (the upstream refused it). */
  delete(key: string): void {
    this.#tokens.delete(key);
  }
}
