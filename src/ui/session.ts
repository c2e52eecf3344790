/**
 * The UI's session cookie, pure: a login becomes `<payload>.<mac>`, both base64url, the payload
 * `{"u":user,"e":expiry (ms),"n":nonce}` and the mac HMAC-SHA256 of it under a key derived from
 * `http.secret`. Nothing is stored on the server: a valid mac proves Berth issued the cookie (after a
 * login it checked), the expiry bounds its life, and the nonce makes each login's CSRF token its own.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/** The cookie's name. */
export const SESSION_COOKIE = 'berth_session';
/** The request header a state-changing request made with the cookie must carry the CSRF token in. */
export const CSRF_HEADER = 'x-berth-csrf';
/** The request header the UI's own requests carry (no Basic challenge for them: the UI shows its login form). */
export const UI_REQUEST_HEADER = 'x-berth-ui';

/** A verified session. */
export interface Session {
  readonly user: string;
  /** When it ends, in ms since the epoch. */
  readonly expires: number;
  readonly nonce: string;
}

/** Signs and checks session cookies and their CSRF tokens; the clock is injected for tests. */
export class SessionCodec {
  readonly #macKey: Buffer;
  readonly #csrfKey: Buffer;

  constructor(
    secret: string,
    readonly maxAgeMs: number,
    private readonly now: () => number = Date.now,
  ) {
    // Keys of their own, so a session mac is never an upload-state mac or a CSRF token.
    this.#macKey = createHmac('sha256', secret).update('berth ui session').digest();
    this.#csrfKey = createHmac('sha256', secret).update('berth ui csrf').digest();
  }

  /** A new session for `user`, as the cookie value. */
  issue(user: string): { value: string; session: Session } {
    const session: Session = { user, expires: this.now() + this.maxAgeMs, nonce: randomBytes(16).toString('base64url') };
    const payload = Buffer.from(JSON.stringify({ u: session.user, e: session.expires, n: session.nonce })).toString('base64url');
    return { value: `${payload}.${this.#mac(payload)}`, session };
  }

  /** The session a cookie value stands for; undefined when it is malformed, forged or expired. */
  verify(value: string | undefined): Session | undefined {
    if (value === undefined || value.length > 4096) return undefined;
    const dot = value.indexOf('.');
    if (dot <= 0) return undefined;
    const payload = value.slice(0, dot);
    if (!safeEqual(value.slice(dot + 1), this.#mac(payload))) return undefined;
    let parsed: unknown;
    try {
      parsed = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
    } catch {
      return undefined;
    }
    if (typeof parsed !== 'object' || parsed === null) return undefined;
    const { u, e, n } = parsed as Record<string, unknown>;
    if (typeof u !== 'string' || typeof e !== 'number' || typeof n !== 'string' || e <= this.now()) return undefined;
    return { user: u, expires: e, nonce: n };
  }

  /** The CSRF token of a session: what the UI sends in {@link CSRF_HEADER}. */
  csrfToken(session: Session): string {
    return createHmac('sha256', this.#csrfKey).update(session.nonce).digest('base64url');
  }

  /** True when `token` is the session's CSRF token (constant time). */
  checkCsrf(session: Session, token: string | string[] | undefined): boolean {
    return typeof token === 'string' && safeEqual(token, this.csrfToken(session));
  }

  #mac(payload: string): string {
    return createHmac('sha256', this.#macKey).update(payload).digest('base64url');
  }
}

function safeEqual(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

/** The value of cookie `name` in a Cookie header (the first one), undefined when absent. */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq !== -1 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** The Set-Cookie header for a session (or, with value '', one that removes it). */
export function sessionCookieHeader(value: string, options: { secure: boolean; maxAgeMs: number }): string {
  const age = value === '' ? 0 : Math.floor(options.maxAgeMs / 1000);
  // Path=/: the cookie must reach /v2 and /berth/v1 as well as the UI.
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${age}; HttpOnly; SameSite=Strict${options.secure ? '; Secure' : ''}`;
}
