/**
 * Parses the WWW-Authenticate challenge an upstream registry answers a 401 with (RFC 9110 §11.6.1, as
 * registries write it): `Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/alpine:pull"`
 * or `Basic realm="Registry Realm"`. Pure; what the upstream client decides from it lives there.
 */

/** One challenge: its scheme, lowercased, and its parameters (names lowercased, values unquoted). */
export interface Challenge {
  readonly scheme: string;
  readonly params: Readonly<Record<string, string>>;
}

const TOKEN = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+/;

/**
 * Every challenge in a WWW-Authenticate value (several may be joined by commas, or given as several
 * header lines, which the caller passes as an array). Malformed text ends the parse: what was read
 * before it is returned, never an exception, since the header comes from another server.
 */
export function parseChallenges(header: string | readonly string[] | undefined): Challenge[] {
  if (header === undefined) return [];
  if (typeof header !== 'string') return header.flatMap((h) => parseChallenges(h));
  const out: Array<{ scheme: string; params: Record<string, string> }> = [];
  let rest = header.trim();
  while (rest !== '') {
    const scheme = TOKEN.exec(rest)?.[0];
    if (scheme === undefined) break;
    rest = rest.slice(scheme.length).trimStart();
    const params: Record<string, string> = {};
    out.push({ scheme: scheme.toLowerCase(), params });
    // Parameters: name=value or name="quoted", separated by commas; a token not followed by '=' starts the next challenge.
    for (;;) {
      const name = TOKEN.exec(rest)?.[0];
      if (name === undefined) break;
      const after = rest.slice(name.length).trimStart();
      if (!after.startsWith('=')) break;
      let value: string;
      let remaining = after.slice(1).trimStart();
      if (remaining.startsWith('"')) {
        let i = 1;
        value = '';
        while (i < remaining.length && remaining[i] !== '"') {
          if (remaining[i] === '\\' && i + 1 < remaining.length) i++;
          value += remaining[i];
          i++;
        }
        remaining = remaining.slice(i + 1);
      } else {
        value = /^[^,\s]*/.exec(remaining)?.[0] ?? '';
        remaining = remaining.slice(value.length);
      }
      params[name.toLowerCase()] = value;
      remaining = remaining.trimStart();
      if (!remaining.startsWith(',')) {
        rest = remaining;
        break;
      }
      rest = remaining.slice(1).trimStart();
    }
    if (rest.startsWith(',')) rest = rest.slice(1).trimStart();
  }
  return out;
}
