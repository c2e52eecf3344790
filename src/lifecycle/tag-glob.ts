// Tag globs, pure: the wildcard syntax of repository globs (src/auth/policy/glob.ts) applied to tags.
//
// A tag is a single component (`[A-Za-z0-9_][A-Za-z0-9._-]{0,127}`), so:
// - `*` matches any run of tag characters, empty included (`release-*` matches `release-1.2` and
//   `release-`; `*-rc*` matches `1.0-rc2`); a pattern that is only `*` matches every tag;
// - `**` must be the whole pattern, as it must be a whole component in a repository glob, and
//   matches every tag (the spelling of the issue's `tags: ["**"]`);
// - everything else is literal and case-sensitive (tags keep their case: `Latest` is not `latest`).

// The characters of a tag, plus `*`.
const PATTERN = /^[A-Za-z0-9._*-]+$/;

/** Why `pattern` is not a valid tag glob, or undefined when it is. */
export function tagGlobProblem(pattern: string): string | undefined {
  if (pattern === '') return 'empty pattern';
  if (pattern.includes('/')) return 'a tag has no "/" (repository patterns go under repositories)';
  if (pattern.includes('**') && pattern !== '**') return '"**" must be the whole pattern (it matches every tag; use "*" within a pattern)';
  if (!PATTERN.test(pattern)) return `invalid character in ${JSON.stringify(pattern)} (allowed: A-Z a-z 0-9 . _ - and the wildcard *)`;
  return undefined;
}

/** Compiles a tag glob into an anchored regular expression; throws a TypeError for an invalid one (see tagGlobProblem). */
export function compileTagGlob(pattern: string): RegExp {
  const problem = tagGlobProblem(pattern);
  if (problem !== undefined) throw new TypeError(`invalid tag pattern ${JSON.stringify(pattern)}: ${problem}`);
  if (pattern === '**') return /^.+$/;
  return new RegExp(`^${pattern.split('*').map(escapeRegExp).join('.*')}$`);
}

/** True when `tag` matches `pattern` (see the module comment). */
export function matchTagGlob(pattern: string, tag: string): boolean {
  return compileTagGlob(pattern).test(tag);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
