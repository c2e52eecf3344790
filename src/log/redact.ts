/**
 * Pure helpers that keep secrets out of logs and debug endpoints: credentials in URLs
 * (`https://user:pass@host/`) and the signed upload state of upload URLs.
 */

// scheme://userinfo@ — greedy up to the last '@' of the authority (before any / ? # or space), as
// a URL parser splits it, so a raw '@' in a password does not leave its tail behind.
const USERINFO = /\b([a-z][a-z0-9+.-]*:\/\/)[^\s/?#]*@/gi;

/** `text` with the userinfo (user name and password) removed from every URL in it. */
export function stripUserinfo(text: string): string {
  if (!text.includes('@')) return text;
  return text.replace(USERINFO, '$1');
}

/** The query parameters whose values never reach a log line, compared after decoding. */
const SECRET_PARAMS = new Set(['_state']);

/**
 * A request URI as it may be logged: every occurrence of a secret query parameter (`_state`) has
 * its value replaced by `…`, however its name is spelled (`%5Fstate`, `_st%61te`), and URL
 * userinfo (an absolute-form request target) is removed. The rest is kept as sent.
 */
export function redactRequestUri(uri: string): string {
  const stripped = stripUserinfo(uri);
  const q = stripped.indexOf('?');
  if (q === -1) return stripped;
  const hash = stripped.indexOf('#', q);
  const query = stripped.slice(q + 1, hash === -1 ? undefined : hash);
  const parts = query.split('&').map((part) => {
    const eq = part.indexOf('=');
    const rawName = eq === -1 ? part : part.slice(0, eq);
    return SECRET_PARAMS.has(decodeName(rawName)) ? `${rawName}=…` : part;
  });
  return `${stripped.slice(0, q + 1)}${parts.join('&')}${hash === -1 ? '' : stripped.slice(hash)}`;
}

/** A query parameter name as URLSearchParams decodes it ('+' is a space; bad escapes kept). */
function decodeName(raw: string): string {
  const plus = raw.replace(/\+/g, ' ');
  try {
    return decodeURIComponent(plus);
  } catch {
    // URLSearchParams leaves an invalid escape as is and decodes the valid ones.
    return plus.replace(/%([0-9a-f]{2})/gi, (_m, hex: string) => String.fromCharCode(parseInt(hex, 16)));
  }
}

/**
 * A log record with userinfo stripped from every string in it (nested objects and arrays too, to
 * a small depth): the catch-all behind the explicit redaction where URLs are logged.
 */
export function stripUserinfoDeep<T>(value: T, depth = 0): T {
  if (typeof value === 'string') return stripUserinfo(value) as T;
  if (depth > 5 || typeof value !== 'object' || value === null) return value;
  if (Array.isArray(value)) return value.map((v: unknown) => stripUserinfoDeep(v, depth + 1)) as T;
  if (Object.getPrototypeOf(value) !== Object.prototype) return value;
  let out: Record<string, unknown> | undefined;
  for (const [k, v] of Object.entries(value as Record<string, unknown>)) {
    const cleaned = stripUserinfoDeep(v, depth + 1);
    if (cleaned !== v) {
      out ??= { ...(value as Record<string, unknown>) };
      out[k] = cleaned;
    }
  }
  return (out ?? value) as T;
}
