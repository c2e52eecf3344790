/**
 * Limits on password checks, so guessing cannot take the registry down or go on for long:
 *
 * - at most `maxConcurrentChecks` bcrypt checks queued or running at once; beyond that a login is refused
 *   with 429 TOOMANYREQUESTS and `Retry-After` before any bcrypt work is done;
 * - after `perAddress` failed checks from one client address (or `perUser` for one user name) within
 *   `windowMs`, further checks from it (for it) are refused the same way for `lockoutMs`.
 *
 * Only real checks count: credentials found in the success cache never reach these limits, so a client
 * that logged in recently keeps working while its user name is locked out. Each burst is logged once
 * (when it starts, and a summary when it ends); every refusal is counted in the metrics.
 */
import { OciError } from '../../oci/errors.js';
import type { Logger } from '../../log/logger.js';

/** Why a password check was refused, as the metrics label it. */
export type CheckRefusal = 'busy' | 'address' | 'user';

/** What the limits report to the metrics module. */
export interface LoginLimitsMetrics {
  passwordCheck(result: 'ok' | 'fail'): void;
  passwordCheckRefused(reason: CheckRefusal): void;
  loginLockout(kind: 'address' | 'user'): void;
  trackPasswordChecks(source: () => number): void;
}

/** The settings of `auth.htpasswd` these limits use (0 disables a limit). */
export interface LoginLimitsOptions {
  readonly maxConcurrentChecks: number;
  readonly windowMs: number;
  readonly lockoutMs: number;
  readonly perAddress: number;
  readonly perUser: number;
  readonly logger: Logger;
  readonly metrics?: LoginLimitsMetrics | undefined;
  /** The clock (default Date.now). */
  readonly now?: () => number;
  /** At most this many addresses and as many user names are tracked (default 10,000 each); the oldest go first. */
  readonly maxTracked?: number;
}

/** The defaults of `auth.htpasswd`'s limit keys. */
export const LOGIN_LIMIT_DEFAULTS = { maxConcurrentChecks: 16, windowMs: 60_000, lockoutMs: 60_000, perAddress: 20, perUser: 10 } as const;

interface Tracked {
  windowStart: number;
  failures: number;
  lockedUntil: number;
  refused: number;
}

/** Counts failed checks per key in fixed windows and locks a key out once it reaches its limit. */
class FailureTracker {
  private readonly entries = new Map<string, Tracked>();

  constructor(
    private readonly kind: 'address' | 'user',
    private readonly limit: number,
    private readonly options: LoginLimitsOptions,
    private readonly now: () => number,
  ) {}

  /** The milliseconds left of `key`'s lockout, or 0 when it may be checked. */
  lockedFor(key: string): number {
    if (this.limit <= 0) return 0;
    const entry = this.entries.get(key);
    if (entry === undefined || entry.lockedUntil === 0) return 0;
    const left = entry.lockedUntil - this.now();
    if (left > 0) {
      entry.refused++;
      return left;
    }
    this.options.logger.info({ [this.kind]: key.slice(0, 256), refused: entry.refused }, `login lockout of this ${this.kind} ended`);
    this.entries.delete(key);
    return 0;
  }

  failed(key: string): void {
    if (this.limit <= 0) return;
    const now = this.now();
    let entry = this.entries.get(key);
    if (entry === undefined || now - entry.windowStart >= this.options.windowMs) {
      this.entries.delete(key);
      entry = { windowStart: now, failures: 0, lockedUntil: 0, refused: 0 };
      const max = this.options.maxTracked ?? 10_000;
      for (const oldest of this.entries.keys()) {
        if (this.entries.size < max) break;
        this.entries.delete(oldest);
      }
      this.entries.set(key, entry);
    }
    entry.failures++;
    if (entry.failures >= this.limit && entry.lockedUntil === 0) {
      entry.lockedUntil = now + this.options.lockoutMs;
      this.options.metrics?.loginLockout(this.kind);
      this.options.logger.warn(
        { [this.kind]: key.slice(0, 256), failures: entry.failures, windowSeconds: this.options.windowMs / 1000, lockoutSeconds: this.options.lockoutMs / 1000 },
        `too many failed logins: password checks for this ${this.kind} refused (429) until the lockout ends`,
      );
    }
  }
}

/** The password-check limits of one access controller; see the module comment. */
export class LoginLimits {
  private readonly options: LoginLimitsOptions;
  private readonly addresses: FailureTracker;
  private readonly users: FailureTracker;
  private inFlight = 0;
  private busyRefused = 0;

  constructor(options: LoginLimitsOptions) {
    this.options = options;
    const now = options.now ?? Date.now;
    this.addresses = new FailureTracker('address', options.perAddress, options, now);
    this.users = new FailureTracker('user', options.perUser, options, now);
    options.metrics?.trackPasswordChecks(() => this.inFlight);
  }

  /** Password checks admitted and not yet finished. */
  get checksInFlight(): number {
    return this.inFlight;
  }

  /**
   * Admits one password check for `user` from `address`, or throws TOOMANYREQUESTS (429, Retry-After in
   * seconds) when either is locked out or too many checks are in flight. Call the returned function when the
   * check is done.
   */
  admit(address: string | undefined, user: string): () => void {
    const byAddress = address === undefined ? 0 : this.addresses.lockedFor(address);
    if (byAddress > 0) throw this.refuse('address', byAddress);
    const byUser = this.users.lockedFor(user);
    if (byUser > 0) throw this.refuse('user', byUser);
    const max = this.options.maxConcurrentChecks;
    if (max > 0 && this.inFlight >= max) {
      if (this.busyRefused === 0) {
        this.options.logger.warn({ maxConcurrentChecks: max }, 'too many password checks in flight: refusing logins (429) until they drain');
      }
      this.busyRefused++;
      throw this.refuse('busy', 1000);
    }
    this.inFlight++;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.inFlight--;
      if (this.inFlight === 0 && this.busyRefused > 0) {
        this.options.logger.info({ refused: this.busyRefused }, 'password checks drained; logins accepted again');
        this.busyRefused = 0;
      }
    };
  }

  /** Records the outcome of an admitted check. */
  checked(address: string | undefined, user: string, ok: boolean): void {
    this.options.metrics?.passwordCheck(ok ? 'ok' : 'fail');
    if (ok) return;
    if (address !== undefined) this.addresses.failed(address);
    this.users.failed(user);
  }

  private refuse(reason: CheckRefusal, ms: number): OciError {
    this.options.metrics?.passwordCheckRefused(reason);
    return new OciError('TOOMANYREQUESTS', {
      message: reason === 'busy' ? 'too many logins in progress; retry later' : 'too many failed logins; retry later',
      headers: { 'Retry-After': String(Math.max(1, Math.ceil(ms / 1000))) },
    });
  }
}
