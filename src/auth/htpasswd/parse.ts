/**
 * The htpasswd file format, as pure functions: one `user:hash` per line, `#` comments and blank lines
 * ignored. Berth verifies bcrypt hashes only (`$2y$`, `$2a$`, `$2b$`); every other kind Apache's htpasswd
 * can write (MD5 `$apr1$`, `{SHA}`, crypt, SHA-256/512 crypt, plain text) is reported as a problem naming
 * the user and the line, and left out, so one stale entry never takes the whole file down.
 */

/** A bcrypt hash as htpasswd files hold it: `$2y$` / `$2a$` / `$2b$`, a two-digit cost, 53 characters of salt and digest. */
const BCRYPT = /^\$2[aby]\$(\d\d)\$[./A-Za-z0-9]{53}$/;

/** The lowest bcrypt cost Berth accepts in a file (bcrypt's own minimum). */
export const BCRYPT_MIN_COST = 4;
/** The highest bcrypt cost Berth accepts in a file (bcrypt's own maximum). */
export const BCRYPT_MAX_COST = 31;

/** One usable entry of an htpasswd file. */
export interface HtpasswdEntry {
  readonly user: string;
  /** The bcrypt hash, exactly as written in the file. */
  readonly hash: string;
  /** Its cost factor (log2 of the rounds). */
  readonly cost: number;
  /** 1-based line number. */
  readonly line: number;
}

/** A line that was left out, and why. Problems are warnings: the rest of the file is still used. */
export interface HtpasswdProblem {
  /** 1-based line number. */
  readonly line: number;
  /** The user the line names, when it names one. */
  readonly user?: string;
  readonly message: string;
}

/** The outcome of parsing a file: the usable entries by user, and the lines left out. */
export interface ParsedHtpasswd {
  readonly entries: ReadonlyMap<string, HtpasswdEntry>;
  readonly problems: readonly HtpasswdProblem[];
}

/** The bcrypt cost of a hash, or undefined when `hash` is not a bcrypt hash Berth accepts. */
export function bcryptCost(hash: string): number | undefined {
  const m = BCRYPT.exec(hash);
  if (m === null) return undefined;
  const cost = Number(m[1]);
  return cost >= BCRYPT_MIN_COST && cost <= BCRYPT_MAX_COST ? cost : undefined;
}

/** Names the kind of a non-bcrypt hash for messages, as Apache's htpasswd would have written it. */
export function describeHashKind(hash: string): string {
  if (hash.startsWith('$apr1$')) return 'Apache MD5 ($apr1$)';
  if (hash.startsWith('{SHA}')) return 'SHA-1 ({SHA})';
  if (hash.startsWith('$5$')) return 'SHA-256 crypt ($5$)';
  if (hash.startsWith('$6$')) return 'SHA-512 crypt ($6$)';
  if (hash.startsWith('$1$')) return 'MD5 crypt ($1$)';
  if (/^\$2[aby]?\$/.test(hash)) return 'malformed bcrypt';
  if (/^[./0-9A-Za-z]{13}$/.test(hash)) return 'DES crypt or plain text';
  if (hash === '') return 'empty';
  return 'plain text or unknown';
}

/**
 * Parses the text of an htpasswd file. Lines are trimmed; a line starting with `#` is a comment. The user
 * is what precedes the first colon, the hash the rest. When a user appears more than once the last line
 * wins (as in Distribution and in Apache's `htpasswd -v`) and the duplicate is reported.
 */
export function parseHtpasswd(text: string): ParsedHtpasswd {
  const entries = new Map<string, HtpasswdEntry>();
  const problems: HtpasswdProblem[] = [];
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const lineNo = i + 1;
    const line = (lines[i] ?? '').trim();
    if (line === '' || line.startsWith('#')) continue;
    const colon = line.indexOf(':');
    if (colon === -1) {
      problems.push({ line: lineNo, message: 'not a user:hash line' });
      continue;
    }
    const user = line.slice(0, colon);
    const hash = line.slice(colon + 1);
    if (user === '') {
      problems.push({ line: lineNo, message: 'empty user name' });
      continue;
    }
    const cost = bcryptCost(hash);
    if (cost === undefined) {
      problems.push({ line: lineNo, user, message: `user ${JSON.stringify(user)} has a ${describeHashKind(hash)} hash; only bcrypt ($2y$, $2a$, $2b$) is supported (htpasswd -B)` });
      continue;
    }
    const previous = entries.get(user);
    if (previous !== undefined) {
      problems.push({ line: lineNo, user, message: `user ${JSON.stringify(user)} is also on line ${previous.line}; the last line wins` });
      entries.delete(user); // re-inserted below, so iteration order follows the winning line
    }
    entries.set(user, { user, hash, cost, line: lineNo });
  }
  return { entries, problems };
}
