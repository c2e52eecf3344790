/**
 * The `ui` configuration section (Berth only): the web UI served on the API port.
 *
 *   ui:
 *     enabled: true
 *     path: /ui
 *     session:
 *       maxage: 12h
 *
 * Plugged into the root schema as `ui: uiSchema`. Follows the conventions of src/config-fields/fields.ts.
 */
import { z } from 'zod';
import { booleanField, durationField, section, stringField } from '../config-fields/fields.js';
import type { KeyDocs } from '../config-fields/schema-tree.js';

/** Where the UI is served when `ui.path` is not set. */
export const DEFAULT_UI_PATH = '/ui';

/** One leading slash, no trailing one; segments of letters, digits, `.`, `_` and `-` (never `..`). */
const UI_PATH = /^(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)+$/;

/** The `ui` section. Output durations are milliseconds. */
export const uiSchema = section({
  enabled: booleanField(true),
  path: stringField(DEFAULT_UI_PATH, { emptyMeansDefault: true })
    .transform((p) => (p.length > 1 && p.endsWith('/') ? p.slice(0, -1) : p))
    .refine((p) => UI_PATH.test(p) && !p.split('/').includes('..'), { message: 'must be an absolute path such as /ui (letters, digits, ".", "_", "-"), not / and not under /v2' })
    .refine((p) => p !== '/v2' && !p.startsWith('/v2/') && p !== '/berth' && !p.startsWith('/berth/'), { message: 'must not be under /v2 or /berth (the APIs)' }),
  session: section({
    maxage: durationField(12 * 3600_000, { bound: 'positive', examples: '30m or 12h' }),
  }),
});

/** The parsed `ui` section. */
export type UiConfig = z.output<typeof uiSchema>;

/** What docs/configuration.md says of each key of `ui` (relative key paths). */
export const uiKeyDocs: KeyDocs = {
  enabled: { type: 'boolean', default: '`true`', text: 'Berth only. Serve the web UI (repositories, tags, manifests, usage; deletes where policies allow) on the API port.' },
  path: {
    type: 'string',
    default: '`/ui`',
    text: 'Berth only. Where the UI is served, independent of `http.prefix` (put the prefix in the path when a proxy adds one). A trailing slash is dropped; must not be `/` or under `/v2` or `/berth`. A browser asking `/` for HTML is redirected here.',
  },
  'session.maxage': {
    type: 'duration',
    default: '`12h`',
    text: 'Berth only. How long a UI login lasts. The session cookie is signed with `http.secret` (replicas must share it, and a random secret logs everyone out at restart).',
  },
};
