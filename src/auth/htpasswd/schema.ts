/**
 * The `auth.htpasswd` configuration section, as a zod schema to plug into config/schema.ts. Distribution's
 * keys exactly: `realm` (sent in the Basic challenge) and `path` (the htpasswd file), both required, as
 * Distribution requires them. Unlike Distribution, Berth never creates a missing file (with a random
 * password printed to the log): a missing file fails start-up.
 */
import { z } from 'zod';

function scalarToString(value: unknown): unknown {
  if (value === null) return undefined;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

const requiredString = () => z.preprocess(scalarToString, z.string().min(1));

/** `auth.htpasswd`: absent, null or '' leaves it undefined. */
export const htpasswdSchema = z.preprocess(
  (value) => (value === null || value === '' ? undefined : value),
  z
    .strictObject({
      realm: requiredString().refine((realm) => typeof realm === 'string' && !/[\0-\x1f\x7f]/.test(realm), { message: 'must not contain control characters' }),
      path: requiredString(),
    })
    .optional(),
);

/** The parsed `auth.htpasswd` section (undefined when not configured). */
export type HtpasswdConfig = z.output<typeof htpasswdSchema>;
