/** One problem found in a configuration: where it is and what is wrong. */
export interface ConfigIssue {
  /**
   * Where: a key path such as `http.addr` or `http.headers["X.Odd"]`, a `file:line:column` position,
   * an environment variable name, or '' for the configuration as a whole.
   */
  readonly path: string;
  readonly message: string;
}

/**
 * The error for a configuration that cannot be read, parsed or validated. Its message holds every issue,
 * one `config: <path>: <message>` line each (e.g. `config: http.addr: expected string, got list`), so a
 * start-up failure shows all that is wrong at once; `issues` holds the same lines as data.
 */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  /** A stable code for callers that branch on the kind of failure. */
  readonly code = 'CONFIG_INVALID';
  readonly issues: readonly ConfigIssue[];

  constructor(issues: readonly ConfigIssue[], options?: { cause?: unknown }) {
    super(issues.map(formatIssue).join('\n'), options);
    this.issues = Object.freeze([...issues]);
  }
}

function formatIssue(issue: ConfigIssue): string {
  return issue.path === '' ? `config: ${issue.message}` : `config: ${issue.path}: ${issue.message}`;
}

/**
 * Joins key path segments for messages: `storage.maintenance.uploadpurging.age`, `http.tls.clientcas[0]`;
 * a key that is not a plain word is quoted (`log.fields["a.b"]`).
 */
export function formatKeyPath(path: readonly PropertyKey[]): string {
  let out = '';
  for (const segment of path) {
    if (typeof segment === 'number') out += `[${segment}]`;
    else if (typeof segment === 'string' && /^[A-Za-z0-9_-]+$/.test(segment)) out += out === '' ? segment : `.${segment}`;
    else out += `[${JSON.stringify(String(segment))}]`;
  }
  return out;
}
