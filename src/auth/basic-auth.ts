/**
 * HTTP Basic credentials (RFC 7617), parsed and nothing more: comparing them is the caller's job,
 * done in constant time by the htpasswd verifier.
 */

/** A user name and password taken from an `Authorization: Basic` header. */
export interface BasicCredentials {
  readonly user: string;
  readonly password: string;
}

// The token68 of RFC 7235 restricted to base64's alphabet; padding is optional because some clients omit it.
const BASIC = /^basic[ \t]+([A-Za-z0-9+/]+={0,2})[ \t]*$/i;

/** True when the header uses the Basic scheme at all (well formed or not). */
export function isBasicAuthorization(header: string | undefined): boolean {
  return header !== undefined && /^basic(?:[ \t]|$)/i.test(header.trimStart());
}

/**
 * Parses an `Authorization` header value of the Basic scheme (case-insensitive) into user and password,
 * split at the first colon (a user name cannot contain one; a password can). Undefined when the header is
 * absent, uses another scheme, is not valid base64, does not decode to UTF-8 text, or has no colon.
 */
export function parseBasicAuthorization(header: string | undefined): BasicCredentials | undefined {
  if (header === undefined) return undefined;
  const match = BASIC.exec(header.trim());
  const encoded = match?.[1];
  if (encoded === undefined || encoded.length % 4 === 1) return undefined;
  let decoded: string;
  try {
    decoded = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.from(encoded, 'base64'));
  } catch {
    return undefined;
  }
  const colon = decoded.indexOf(':');
  if (colon === -1) return undefined;
  return { user: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
}
