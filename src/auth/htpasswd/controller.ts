/**
 * The htpasswd access controller: HTTP Basic credentials checked against an htpasswd file, then the access
 * policy (Distribution's all-or-nothing behaviour when none is configured).
 *
 * - No credentials (or the empty `:` pair some clients send before they know better): granted anonymously
 *   when the policy allows anonymous requests every wanted access; otherwise 401 UNAUTHORIZED with
 *   `WWW-Authenticate: Basic realm="..."`. The base endpoint (/v2/, which wants nothing) always challenges
 *   anonymous requests, as Distribution does: that is how docker and podman learn that they must log in.
 * - Wrong user or password, or a malformed Basic header: 401 with the same challenge, even where anonymous
 *   access would be allowed, so a client with stale credentials hears about it instead of being silently
 *   downgraded.
 * - A valid user the policy refuses any wanted access: 403 DENIED (an optional access, the source of a
 *   mount, is listed in the grant's `refused` instead).
 * - Too many password checks in flight, or a client address or user name locked out after repeated
 *   failures: 429 TOOMANYREQUESTS with Retry-After, before any bcrypt work (login-limits.ts). bcrypt runs on
 *   worker threads (bcrypt-pool.ts), so checks never block the event loop.
 *
 * The 401/403 body's detail lists the access as Distribution does: `[{"Type","Class","Name","Action"}]`
 * (null for the base endpoint). Failures are logged with the user, the remote address, the repositories
 * and the reason; never a password or the Authorization header.
 */
import type { Logger } from '../../log/logger.js';
import { OciError } from '../../oci/errors.js';
import { includesAccess, type Access, type AccessController, type AuthorizeOptions, type AuthRequest, type Grant } from '../access.js';
import { isBasicAuthorization, parseBasicAuthorization } from '../basic-auth.js';
import { compilePolicy, decide, DISTRIBUTION_POLICY, evaluate, type Policy, type PolicyConfig } from '../policy/policy.js';
import { HtpasswdFile, type HtpasswdFileOptions } from './htpasswd-file.js';
import { BcryptPool, defaultBcryptWorkers } from './bcrypt-pool.js';
import { LOGIN_LIMIT_DEFAULTS, LoginLimits, type LoginLimitsMetrics } from './login-limits.js';

/** What checks a user's password: an HtpasswdFile, or a stand-in in tests. */
export interface CredentialVerifier {
  /**
   * Resolves true when the password is right for the user. `beforeCheck` runs just before a real (bcrypt)
   * check, never for credentials verified recently, and returns what to call when the check is done; what
   * it throws rejects verify(), which otherwise never rejects.
   */
  verify(user: string, password: string, beforeCheck?: () => () => void): Promise<boolean>;
  /** True when the user is known (absent: not checked, as with a test stand-in). */
  has?(user: string): boolean;
  /** Releases what the verifier holds (a directory watch). */
  close?(): void;
}

/** The parts of a controller. */
export interface HtpasswdAccessControllerOptions {
  /** The realm of the Basic challenge (`auth.htpasswd.realm`). */
  readonly realm: string;
  readonly verifier: CredentialVerifier;
  /** The compiled access policy; default: Distribution's (every authenticated user may do everything). */
  readonly policy?: Policy;
  readonly logger: Logger;
  /** Limits on password checks (concurrency, failures per address and user); default: none. */
  readonly limits?: LoginLimits;
  /** Released by close() (the bcrypt worker pool). */
  readonly onClose?: () => Promise<void> | void;
}

/** `auth.htpasswd`'s limits on password checks; see login-limits.ts. */
export interface HtpasswdLimitSettings {
  /** bcrypt worker threads (0: one per core, shared among `processes`). */
  readonly workers: number;
  /** Registry processes on this host (`http.workers`), sharing the cores when `workers` is 0. */
  readonly processes: number;
  readonly maxConcurrentChecks: number;
  readonly windowMs: number;
  readonly lockoutMs: number;
  readonly perAddress: number;
  readonly perUser: number;
}

/** What {@link HtpasswdAccessController.create} needs: the configuration sections and a logger. */
export interface CreateHtpasswdAccessControllerOptions extends Omit<HtpasswdFileOptions, 'path'> {
  /** `auth.htpasswd.realm`. */
  readonly realm: string;
  /** `auth.htpasswd.path`. */
  readonly path: string;
  /** `auth.policies`, or undefined for Distribution's behaviour. */
  readonly policies?: PolicyConfig | undefined;
  /** The limits on password checks (default: LOGIN_LIMIT_DEFAULTS, one worker per core). */
  readonly limits?: Partial<HtpasswdLimitSettings> | undefined;
  /** Where refusals, lockouts and checks are counted. */
  readonly metrics?: LoginLimitsMetrics | undefined;
}

/** The detail Distribution puts in its 401 body: one record per wanted access, Go field names. */
export interface AccessRecord {
  readonly Type: string;
  readonly Class: string;
  readonly Name: string;
  readonly Action: string;
}

/** Access as Distribution lists it in error details. */
export function accessRecords(access: readonly Access[]): AccessRecord[] {
  return access.map((a) => ({ Type: a.type, Class: '', Name: a.name, Action: a.action }));
}

/** Grants or refuses requests from htpasswd users under an access policy; see the module comment. */
export class HtpasswdAccessController implements AccessController {
  private readonly challengeHeader: string;
  private readonly verifier: CredentialVerifier;
  private readonly policy: Policy;
  private readonly logger: Logger;
  private readonly limits: LoginLimits | undefined;
  private readonly onClose: (() => Promise<void> | void) | undefined;

  /** Throws a TypeError when the realm cannot go in a header (control characters). */
  constructor(options: HtpasswdAccessControllerOptions) {
    if (/[\0-\x1f\x7f]/.test(options.realm)) throw new TypeError('htpasswd realm must not contain control characters');
    this.challengeHeader = `Basic realm="${options.realm.replace(/["\\]/g, '\\$&')}"`;
    this.verifier = options.verifier;
    this.policy = options.policy ?? compilePolicy(DISTRIBUTION_POLICY);
    this.logger = options.logger;
    this.limits = options.limits;
    this.onClose = options.onClose;
  }

  /**
   * Loads the htpasswd file and compiles the policy. Rejects with an Error naming the path when the file
   * is missing or unreadable, so start-up fails with a clear message.
   */
  static async create(options: CreateHtpasswdAccessControllerOptions): Promise<HtpasswdAccessController> {
    const { realm, policies, logger, limits: settings = {}, metrics, ...fileOptions } = options;
    const policy = compilePolicy(policies ?? DISTRIBUTION_POLICY);
    // bcrypt on worker threads (started on the first check) unless a test injects its own compare.
    const pool = fileOptions.compare === undefined ? new BcryptPool(settings.workers !== undefined && settings.workers > 0 ? settings.workers : defaultBcryptWorkers(settings.processes)) : undefined;
    const file = await HtpasswdFile.open({ ...fileOptions, ...(pool !== undefined ? { compare: pool.compare } : {}), logger });
    const limits = new LoginLimits({
      maxConcurrentChecks: settings.maxConcurrentChecks ?? LOGIN_LIMIT_DEFAULTS.maxConcurrentChecks,
      windowMs: settings.windowMs ?? LOGIN_LIMIT_DEFAULTS.windowMs,
      lockoutMs: settings.lockoutMs ?? LOGIN_LIMIT_DEFAULTS.lockoutMs,
      perAddress: settings.perAddress ?? LOGIN_LIMIT_DEFAULTS.perAddress,
      perUser: settings.perUser ?? LOGIN_LIMIT_DEFAULTS.perUser,
      logger,
      metrics,
    });
    logger.info(
      policies === undefined
        ? { realm }
        : { realm, rules: policies.rules.length, groups: Object.keys(policies.groups).length, default: policies.default, evaluation: policies.evaluation },
      policies === undefined ? 'htpasswd authentication: every authenticated user may do everything' : 'htpasswd authentication with access policies',
    );
    return new HtpasswdAccessController({ realm, verifier: file, policy, logger, limits, ...(pool !== undefined ? { onClose: () => pool.close() } : {}) });
  }

  async authorized(req: AuthRequest, wanted: readonly Access[], options: AuthorizeOptions = {}): Promise<Grant> {
    const header = req.headers.authorization;
    const credentials = parseBasicAuthorization(header);
    const remote = req.socket?.remoteAddress;
    const repositories = repositoriesOf(wanted);

    if (credentials === undefined || (credentials.user === '' && credentials.password === '')) {
      if (credentials === undefined && isBasicAuthorization(header)) {
        this.logger.warn({ remote, repositories, reason: 'malformed Basic credentials' }, 'authentication failed');
        throw this.challenge(wanted);
      }
      const refused = wanted.filter((a) => evaluate(this.policy, {}, a) !== 'allow');
      if (wanted.length > 0 && refused.every((a) => includesAccess(options.optional, a))) return refused.length > 0 ? { refused } : {};
      this.logger.debug({ remote, repositories, reason: wanted.length === 0 ? 'no credentials' : 'no credentials, and anonymous access is not allowed' }, 'authentication required');
      throw this.challenge(wanted);
    }

    const user = credentials.user;
    const limits = this.limits;
    let checked = false;
    const ok = await this.verifier.verify(
      user,
      credentials.password,
      limits === undefined
        ? undefined
        : () => {
            const release = limits.admit(remote, user);
            checked = true;
            return release;
          },
    );
    if (checked) limits?.checked(remote, user, ok);
    if (!ok) {
      this.logger.warn({ user: user.slice(0, 256), remote, repositories, reason: 'wrong user name or password' }, 'authentication failed');
      throw this.challenge(wanted);
    }
    return this.authorizedAs(user, req, wanted, options);
  }

  /**
   * The policy decision for a user who authenticated another way (a UI session made from a login this
   * controller checked): resolves with the grant, or rejects with 401 when the user has left the htpasswd
   * file since, or 403 DENIED exactly as authorized() would.
   */
  async authorizedAs(user: string, req: AuthRequest, wanted: readonly Access[], options: AuthorizeOptions = {}): Promise<Grant> {
    const remote = req.socket?.remoteAddress;
    const repositories = repositoriesOf(wanted);
    if (this.verifier.has !== undefined && !this.verifier.has(user)) {
      this.logger.warn({ user: user.slice(0, 256), remote, repositories, reason: 'user no longer in the htpasswd file' }, 'authentication failed');
      throw this.challenge(wanted);
    }
    const denied: Access[] = [];
    let reason = '';
    for (const access of wanted) {
      const decision = decide(this.policy, { user }, access);
      if (decision.effect === 'deny') {
        if (denied.length === 0) reason = decision.reason;
        denied.push(access);
      }
    }
    if (denied.length > 0 && denied.every((a) => includesAccess(options.optional, a))) return { user, refused: denied };
    if (denied.length > 0) {
      this.logger.warn({ user, remote, repositories, denied: denied.map((a) => `${a.type}:${a.name}:${a.action}`), reason }, 'access denied');
      throw new OciError('DENIED', { detail: accessRecords(denied) });
    }
    return { user };
  }

  /** Stops watching the htpasswd file and terminates the bcrypt workers. */
  close(): void {
    this.verifier.close?.();
    void this.onClose?.();
  }

  private challenge(wanted: readonly Access[]): OciError {
    return new OciError('UNAUTHORIZED', { detail: wanted.length === 0 ? null : accessRecords(wanted), headers: { 'WWW-Authenticate': this.challengeHeader } });
  }
}

function repositoriesOf(wanted: readonly Access[]): string[] | undefined {
  const names = [...new Set(wanted.filter((a) => a.type === 'repository').map((a) => a.name.slice(0, 256)))];
  return names.length === 0 ? undefined : names;
}
