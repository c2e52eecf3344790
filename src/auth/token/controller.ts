/**
 * Token authentication (`auth.token`): the Docker token flow, as Distribution's
 * registry/auth/token/accesscontroller.go and token.go implement it.
 *
 * A request without `Authorization: Bearer <jwt>` is challenged with
 * `WWW-Authenticate: Bearer realm="...",service="...",scope="repository:foo:pull,push"`; the
 * client fetches a token from the realm for that scope and retries. A token is accepted when its
 * signature verifies with a trusted key (see keys.ts) using an allowed algorithm, `iss` is the
 * configured issuer, `aud` names the service, and the clock is within [nbf - 60 s, exp + 60 s].
 * Every refusal is a 401 UNAUTHORIZED with a challenge, as in Distribution: a bad token adds
 * `error="invalid_token"`, a good one lacking access `error="insufficient_scope"` (so clients ask
 * for a new token rather than give up). Basic credentials are not accepted in this mode.
 */
import type { KeyObject } from 'node:crypto';
import { decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type ProtectedHeaderParameters } from 'jose';
import type { Logger } from '../../log/logger.js';
import { OciError } from '../../oci/errors.js';
import { includesAccess, type Access, type AccessController, type AuthorizeOptions, type AuthRequest, type Grant } from '../access.js';
import { ChainCache, DEFAULT_SIGNING_ALGORITHMS, loadTrustedKeys, resolveSigningKeys, TokenKeyError, type SigningAlgorithm, type TrustedKeys } from './keys.js';
import { challengeScope, missingAccess, parseAccessClaim, type ResourceScope } from './scope.js';
import { DEFAULT_AUTO_REDIRECT_PATH, type TokenConfig } from './schema.js';

/** Clock skew allowed on `exp` and `nbf` (Distribution's Leeway). */
export const DEFAULT_LEEWAY_SECONDS = 60;

/** How a {@link TokenAccessController} is built. */
export interface TokenAccessControllerOptions {
  /** The token server URL put in challenges (unused with autoRedirect). */
  readonly realm: string;
  /** The audience a token must name, also sent in challenges. */
  readonly service: string;
  /** The `iss` a token must carry. */
  readonly issuer: string;
  readonly keys: TrustedKeys;
  /** Accepted JWS algorithms (default {@link DEFAULT_SIGNING_ALGORITHMS}). */
  readonly signingAlgorithms?: readonly SigningAlgorithm[] | undefined;
  /** Derive the realm from each request: `<X-Forwarded-Proto or https>://<Host><autoRedirectPath>`. */
  readonly autoRedirect?: boolean | undefined;
  readonly autoRedirectPath?: string | undefined;
  /** The clock, in milliseconds since the epoch (default Date.now). */
  readonly now?: (() => number) | undefined;
  /** Clock skew tolerated on exp and nbf, in seconds (default 60). */
  readonly leewaySeconds?: number | undefined;
  /** Where refused tokens are logged (never the token itself). */
  readonly logger?: Logger | undefined;
}

/** What a verified token says. */
export interface VerifiedToken {
  /** `sub`: the user the token was issued to, '' for an anonymous token. */
  readonly subject: string;
  /** The `access` claim. */
  readonly access: readonly ResourceScope[];
}

/** Why a token was refused; the message is for logs, never for the client. */
export class InvalidTokenError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InvalidTokenError';
  }
}

type ChallengeError = 'invalid_token' | 'insufficient_scope' | undefined;

/** The AccessController of `auth.token`. */
export class TokenAccessController implements AccessController {
  readonly #realm: string;
  readonly #service: string;
  readonly #issuer: string;
  readonly #keys: TrustedKeys;
  readonly #algorithms: readonly SigningAlgorithm[];
  readonly #autoRedirect: boolean;
  readonly #autoRedirectPath: string;
  readonly #now: () => number;
  readonly #leewayMs: number;
  readonly #logger: Logger | undefined;
  readonly #chains = new ChainCache();

  constructor(options: TokenAccessControllerOptions) {
    this.#realm = options.realm;
    this.#service = options.service;
    this.#issuer = options.issuer;
    this.#keys = options.keys;
    this.#algorithms = options.signingAlgorithms !== undefined && options.signingAlgorithms.length > 0 ? [...options.signingAlgorithms] : DEFAULT_SIGNING_ALGORITHMS;
    this.#autoRedirect = options.autoRedirect ?? false;
    this.#autoRedirectPath = options.autoRedirectPath !== undefined && options.autoRedirectPath !== '' ? options.autoRedirectPath : DEFAULT_AUTO_REDIRECT_PATH;
    this.#now = options.now ?? Date.now;
    this.#leewayMs = (options.leewaySeconds ?? DEFAULT_LEEWAY_SECONDS) * 1000;
    this.#logger = options.logger;
  }

  /**
   * Resolves with `{ user: sub }` when the request's bearer token grants every wanted access;
   * otherwise rejects with an UNAUTHORIZED OciError (401) carrying the challenge.
   */
  async authorized(req: AuthRequest, wanted: readonly Access[], options: AuthorizeOptions = {}): Promise<Grant> {
    const raw = bearerToken(req.headers.authorization);
    if (raw === undefined) throw this.#challenge(req, wanted, undefined);
    let token: VerifiedToken;
    try {
      token = await this.verify(raw);
    } catch (err) {
      if (!(err instanceof InvalidTokenError)) throw err;
      this.#logger?.info({ auth: { reason: err.message, remote: req.socket?.remoteAddress, access: challengeScope(wanted) } }, 'token refused');
      throw this.#challenge(req, wanted, 'invalid_token');
    }
    const missing = missingAccess(token.access, wanted);
    const user = token.subject !== '' ? { user: token.subject } : {};
    if (missing.length > 0 && missing.every((a) => includesAccess(options.optional, a))) return { ...user, refused: missing };
    if (missing.length > 0) {
      this.#logger?.info({ auth: { reason: 'insufficient scope', user: token.subject, remote: req.socket?.remoteAddress, missing: challengeScope(missing) } }, 'token refused');
      throw this.#challenge(req, wanted, 'insufficient_scope');
    }
    return user;
  }

  /**
   * Verifies a compact JWT: allowed algorithm, trusted signing key, valid signature, then issuer,
   * audience, expiry and not-before (with the leeway). Rejects with InvalidTokenError.
   */
  async verify(raw: string): Promise<VerifiedToken> {
    if (raw.split('.').length !== 3) throw new InvalidTokenError('malformed token');
    let header: ProtectedHeaderParameters;
    try {
      header = decodeProtectedHeader(raw);
    } catch {
      throw new InvalidTokenError('malformed token header');
    }
    const alg = header.alg;
    if (typeof alg !== 'string' || !(this.#algorithms as readonly string[]).includes(alg)) {
      throw new InvalidTokenError(`signing algorithm ${JSON.stringify(alg ?? null).slice(0, 40)} is not accepted`);
    }
    const now = this.#now();
    let candidates: KeyObject[];
    try {
      candidates = resolveSigningKeys(header, this.#keys, now, this.#chains);
    } catch (err) {
      if (err instanceof TokenKeyError) throw new InvalidTokenError(err.message);
      throw err;
    }
    for (const key of candidates) {
      // A JWKS key that declares `alg` verifies that algorithm only (an RS256 key is no PS256 key).
      const declared = this.#keys.algorithmOf.get(key);
      if (declared !== undefined && declared !== alg) continue;
      let payload: JWTPayload;
      try {
        // Distribution's claims checks: iss, aud, exp (required: an absent exp is 0, so expired) and
        // nbf, both with the leeway.
        ({ payload } = await jwtVerify(raw, key, {
          algorithms: [...this.#algorithms],
          issuer: this.#issuer,
          audience: this.#service,
          requiredClaims: ['exp'],
          clockTolerance: this.#leewayMs / 1000,
          currentDate: new Date(now),
        }));
      } catch (err) {
        const problem = claimsProblem(err);
        if (problem !== undefined) throw new InvalidTokenError(problem);
        continue; // not this key: try the next candidate
      }
      const access = parseAccessClaim(payload['access']);
      if (access === undefined) throw new InvalidTokenError('malformed access claim');
      return { subject: stringClaim(payload, 'sub'), access };
    }
    throw new InvalidTokenError('unable to verify token signature');
  }

  #challenge(req: AuthRequest, wanted: readonly Access[], error: ChallengeError): OciError {
    const realm = this.#autoRedirect ? autoRedirectRealm(req, this.#autoRedirectPath) : this.#realm;
    let value = `Bearer realm=${quote(realm)},service=${quote(this.#service)}`;
    const scope = challengeScope(wanted);
    if (scope !== '') value += `,scope=${quote(scope)}`;
    if (error !== undefined) value += `,error=${quote(error)}`;
    // Distribution's body: UNAUTHORIZED with the wanted access records as detail (null when none).
    const detail = wanted.length > 0 ? wanted.map((a) => ({ Type: a.type, Class: '', Name: a.name, Action: a.action })) : null;
    return new OciError('UNAUTHORIZED', { headers: { 'WWW-Authenticate': value }, detail });
  }
}

/** Builds the controller of an `auth.token` section: reads rootcertbundle / jwks (failing start-up when they are unusable). */
export async function createTokenAccessController(
  config: TokenConfig,
  deps: { readonly now?: () => number; readonly logger?: Logger } = {},
): Promise<TokenAccessController> {
  const keys = await loadTrustedKeys({ rootcertbundle: config.rootcertbundle, jwks: config.jwks });
  return new TokenAccessController({
    realm: config.realm,
    service: config.service,
    issuer: config.issuer,
    keys,
    signingAlgorithms: config.signingalgorithms,
    autoRedirect: config.autoredirect,
    autoRedirectPath: config.autoredirectpath,
    now: deps.now,
    logger: deps.logger,
  });
}

/** The token of `Authorization: Bearer <token>` (scheme case-insensitive), else undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  const space = header.indexOf(' ');
  if (space === -1 || header.slice(0, space).toLowerCase() !== 'bearer') return undefined;
  const token = header.slice(space + 1).trim();
  return token === '' ? undefined : token;
}

/** Distribution's buildAutoRedirectURL: https unless X-Forwarded-Proto says otherwise, the request's Host, the path. */
function autoRedirectRealm(req: AuthRequest, path: string): string {
  const forwarded = req.headers['x-forwarded-proto'];
  const proto = (Array.isArray(forwarded) ? forwarded[0] : forwarded)?.split(',')[0]?.trim().toLowerCase();
  const scheme = proto === 'http' || proto === 'https' ? proto : 'https';
  return `${scheme}://${req.headers.host ?? ''}${path}`;
}

/**
 * A quoted-string like Go's %q for what ends up in the header: `"` and `\` escaped, anything
 * outside printable ASCII as \xNN or \uNNNN, so a header value is always valid.
 */
function quote(value: string): string {
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0) as number;
    if (ch === '"' || ch === '\\') out += `\\${ch}`;
    else if (code >= 0x20 && code < 0x7f) out += ch;
    else if (code < 0x100) out += `\\x${code.toString(16).padStart(2, '0')}`;
    else if (code < 0x10000) out += `\\u${code.toString(16).padStart(4, '0')}`;
    else out += `\\U${code.toString(16).padStart(8, '0')}`;
  }
  return `${out}"`;
}

function stringClaim(claims: Record<string, unknown>, name: string): string {
  const value = claims[name];
  if (value === undefined || value === null) return '';
  if (typeof value !== 'string') throw new InvalidTokenError(`malformed ${name} claim`);
  return value;
}

/**
 * Why jose refused the claims of a token whose signature it verified, in Distribution's words;
 * undefined for any other failure (the key did not verify the signature).
 */
function claimsProblem(err: unknown): string | undefined {
  if (err instanceof errors.JWTInvalid) return 'malformed token claims';
  if (!(err instanceof errors.JWTClaimValidationFailed || err instanceof errors.JWTExpired)) return undefined;
  const value = err.payload[err.claim];
  if (err.reason === 'missing' && err.claim === 'exp') return `token expired at ${isoTime(0)}`;
  switch (err.claim) {
    case 'iss':
      return typeof value === 'string' || value === undefined || value === null ? `token from untrusted issuer: ${JSON.stringify((value ?? '').slice(0, 200))}` : 'malformed iss claim';
    case 'aud': {
      const audiences = typeof value === 'string' ? [value] : Array.isArray(value) && value.every((a) => typeof a === 'string') ? value : value === undefined || value === null ? [] : undefined;
      return audiences === undefined ? 'malformed aud claim' : `token intended for another audience: ${JSON.stringify(audiences).slice(0, 200)}`;
    }
    case 'exp':
    case 'nbf':
      if (typeof value !== 'number') return `malformed ${err.claim} claim`;
      return err.claim === 'exp' ? `token expired at ${isoTime(value)}` : `token not valid before ${isoTime(value)}`;
    default:
      return `malformed ${err.claim} claim`;
  }
}

function isoTime(seconds: number): string {
  const d = new Date(seconds * 1000);
  return Number.isNaN(d.getTime()) ? String(seconds) : d.toISOString();
}
