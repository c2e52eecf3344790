/**
 * Edits of an htpasswd file's text, pure, for `berth htpasswd`. Every line the edit is not about (other
 * users, comments, blank lines, entries of hash kinds Berth does not verify) is kept byte for byte, and
 * CRLF line ends stay CRLF.
 */

/** The user a line is about, or undefined for a blank line, a comment or a line without a colon. */
function userOf(line: string): string | undefined {
  const t = line.trim();
  if (t === '' || t.startsWith('#')) return undefined;
  const colon = t.indexOf(':');
  return colon === -1 ? undefined : t.slice(0, colon);
}

/**
 * The 1-based number of the first line that is neither blank, a comment nor `user:something`, or undefined
 * when the whole text is a valid htpasswd file (Apache's htpasswd refuses to modify such a file, exit 7).
 */
export function firstInvalidLine(text: string): number | undefined {
  const lines = text.split('\n');
  for (let i = 0; i < lines.length; i++) {
    const t = (lines[i] ?? '').trim();
    if (t !== '' && !t.startsWith('#') && !t.includes(':')) return i + 1;
  }
  return undefined;
}

/** The hash on the last line for `user` (the one that counts), whatever its kind; undefined when absent. */
export function findUserHash(text: string, user: string): string | undefined {
  let found: string | undefined;
  for (const line of text.split('\n')) {
    if (userOf(line) === user) {
      const t = line.trim();
      found = t.slice(t.indexOf(':') + 1);
    }
  }
  return found;
}

/**
 * Sets `user`'s hash: every line for the user is replaced (as Apache's htpasswd does), or a line is
 * appended when there is none. `updated` says which.
 */
export function setUserHash(text: string, user: string, hash: string): { text: string; updated: boolean } {
  const lines = text === '' ? [] : text.split('\n');
  let updated = false;
  const out = lines.map((line) => {
    if (userOf(line) !== user) return line;
    updated = true;
    return `${user}:${hash}${line.endsWith('\r') ? '\r' : ''}`;
  });
  if (!updated) {
    const crlf = lines.length > 1 && (lines[0] ?? '').endsWith('\r');
    if (out.length > 0 && out[out.length - 1] === '') out.pop(); // the text ended with a newline
    out.push(`${user}:${hash}${crlf ? '\r' : ''}`);
    out.push('');
  }
  const joined = out.join('\n');
  return { text: joined.endsWith('\n') || joined === '' ? joined : `${joined}\n`, updated };
}

/** Removes every line for `user`; `deleted` says whether there was one. */
export function deleteUser(text: string, user: string): { text: string; deleted: boolean } {
  const lines = text.split('\n');
  const kept = lines.filter((line) => userOf(line) !== user);
  return { text: kept.join('\n'), deleted: kept.length !== lines.length };
}
