/**
 * The `auth.htpasswd` configuration section, as a zod schema to plug into config/schema.ts. Distribution's
 * keys: `realm` (sent in the Basic challenge) and `path` (the htpasswd file), both required, as
 * Distribution requires them; plus Berth's limits on password checks (`workers`, `maxconcurrentchecks`,
 * `failures`; docs/hardening.md). Unlike Distribution, Berth never creates a missing file (with a random
 * password printed to the log): a missing file fails start-up.
 */
import { z } from 'zod';
import { durationField, integerField, requiredString, section, unsetIfEmpty } from '../../config-fields/fields.js';
import { LOGIN_LIMIT_DEFAULTS } from './login-limits.js';
import type { KeyDocs } from '../../config-fields/schema-tree.js';

/** A Go duration as milliseconds, positive. */
const positiveDuration = (defaultMs: number) => durationField(defaultMs, { bound: 'positive', examples: '30s, 1m or 15m' });

/** `auth.htpasswd`: absent, null or '' leaves it undefined. */
export const htpasswdSchema = z.preprocess(
  unsetIfEmpty,
  z
    .strictObject({
      realm: requiredString().refine((realm) => typeof realm === 'string' && !/[\0-\x1f\x7f]/.test(realm), { message: 'must not contain control characters' }),
      path: requiredString(),
      /** Berth only: bcrypt worker threads; 0 is one per core. */
      workers: integerField(0, 0, 256),
      /** Berth only: password checks queued or running at once; beyond, 429. 0: no limit. */
      maxconcurrentchecks: integerField(LOGIN_LIMIT_DEFAULTS.maxConcurrentChecks, 0),
      /** Berth only: lockouts after repeated failed checks. */
      failures: section({
        window: positiveDuration(LOGIN_LIMIT_DEFAULTS.windowMs),
        lockout: positiveDuration(LOGIN_LIMIT_DEFAULTS.lockoutMs),
        peraddress: integerField(LOGIN_LIMIT_DEFAULTS.perAddress, 0),
        peruser: integerField(LOGIN_LIMIT_DEFAULTS.perUser, 0),
      }),
    })
    .optional(),
);

/** The parsed `auth.htpasswd` section (undefined when not configured). */
export type HtpasswdConfig = z.output<typeof htpasswdSchema>;

/** What docs/configuration.md says of each key of `auth.htpasswd` (relative key paths). */
export const htpasswdKeyDocs: KeyDocs = {
  realm: { type: 'string', default: 'required', text: 'The realm of the `WWW-Authenticate: Basic` challenge.' },
  path: { type: 'string', default: 'required', text: 'The htpasswd file (bcrypt entries only); re-read when it changes. A missing file stops start-up.' },
  workers: { type: 'integer', default: '`0`', text: 'Berth only: bcrypt worker threads (password checks never run on the event loop); `0` is one per CPU core, divided among the `http.workers` processes. See [hardening](hardening.md#password-guessing).' },
  maxconcurrentchecks: { type: 'integer', default: '`16`', text: 'Berth only: password checks queued or running at once; a login beyond it gets `429 TOOMANYREQUESTS` with `Retry-After`. `0`: no limit.' },
  'failures.window': { type: 'duration', default: '`1m`', text: 'The window failed logins are counted in.' },
  'failures.lockout': { type: 'duration', default: '`1m`', text: 'How long a locked-out client address or user name gets `429` without a check.' },
  'failures.peraddress': { type: 'integer', default: '`20`', text: 'Failed logins from one client address within `window` that start a lockout of it; `0` disables.' },
  'failures.peruser': { type: 'integer', default: '`10`', text: 'Failed logins for one user name within `window` that start a lockout of it (cached credentials still work); `0` disables.' },
};
