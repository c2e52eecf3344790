// Repository globs, pure. A pattern is a repository name whose components may use wildcards:
//
// - `*` matches within one path component (`team-a/*` matches `team-a/app`, not `team-a/app/db`);
//   a component that is only `*` matches one whole, non-empty component;
// - `**` is a component of its own and matches any number of components: at the end at least one
//   (`public/**` matches `public/x` and `public/x/y`, not `public`), elsewhere zero or more
//   (`**/base` matches `base` and `a/b/base`; `a/**/b` matches `a/b` and `a/x/y/b`); alone, every name.
//
// Everything else is literal and case-sensitive (repository names are lowercase).

// A component: the characters of a repository name, plus `*`.
const COMPONENT = /^[a-z0-9._*-]+$/;

/** Why `pattern` is not a valid repository glob, or undefined when it is. */
export function globProblem(pattern: string): string | undefined {
  if (pattern === '') return 'empty pattern';
  const components = pattern.split('/');
  for (const c of components) {
    if (c === '') return 'empty path component (leading, trailing or doubled "/")';
    if (c.includes('**') && c !== '**') return '"**" must be a whole path component (e.g. "team/**", not "team**")';
    if (!COMPONENT.test(c)) {
      return /[A-Z]/.test(c)
        ? 'repository names are lowercase; upper-case letters never match'
        : `invalid character in ${JSON.stringify(c)} (allowed: a-z 0-9 . _ - and the wildcards * and **)`;
    }
  }
  return undefined;
}

/**
 * Compiles a glob into an anchored regular expression. Throws a TypeError for an invalid pattern
 * (see globProblem); configuration validation reports those first.
 */
export function compileGlob(pattern: string): RegExp {
  const problem = globProblem(pattern);
  if (problem !== undefined) throw new TypeError(`invalid repository pattern ${JSON.stringify(pattern)}: ${problem}`);
  // Consecutive ** mean the same as one.
  const components = pattern.split('/').filter((c, i, all) => !(c === '**' && all[i - 1] === '**'));
  if (components.length === 1 && components[0] === '**') return /^.+$/;
  let source = '';
  let needSlash = false;
  components.forEach((c, i) => {
    const last = i === components.length - 1;
    if (c === '**') {
      // ** at the end: "/" and at least one more component; elsewhere: zero or more "component/".
      source += last ? '/.+' : `${needSlash ? '/' : ''}(?:[^/]+/)*`;
      needSlash = false;
      return;
    }
    source += (needSlash ? '/' : '') + (c === '*' ? '[^/]+' : c.split('*').map(escapeRegExp).join('[^/]*'));
    needSlash = true;
  });
  return new RegExp(`^${source}$`);
}

/** True when `name` matches `pattern` (see the module comment). */
export function matchGlob(pattern: string, name: string): boolean {
  return compileGlob(pattern).test(name);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
