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
