/**
 * The `storage.gc` configuration section (online garbage collection), written in the conventions of
 * src/config/schema.ts so it plugs into the storage section as `gc: gcSchema`:
 *
 *   storage:
 *     gc:
 *       enabled: true        # sweep while serving (default false; the guard is installed either way)
 *       interval: 24h        # time between runs (default 24h)
 *       delay: 1h            # grace period (default 1h, at least 1m)
 *       deleteuntagged: false  # also delete manifests no tag reaches (default false)
 *
 * Durations come out in milliseconds, as everywhere in Config.
 */
import type { z } from 'zod';
import { booleanField, durationField, section } from '../config-fields/fields.js';
import type { KeyDocs } from '../config-fields/schema-tree.js';

/** The shortest grace period the configuration accepts: far above the guard's snapshot lifetime and any request. */
export const MIN_GC_DELAY_MS = 60_000;

const examples = '30m, 1h or 24h';

/** `storage.gc`: absent, null or '' means all defaults (online GC off). */
export const gcSchema = section({
  enabled: booleanField(false),
  interval: durationField(24 * 3600_000, { bound: { min: 1000, minText: '1s' }, examples }),
  delay: durationField(3600_000, { bound: { min: MIN_GC_DELAY_MS, minText: '1m' }, examples }),
  deleteuntagged: booleanField(false),
});

/** The parsed `storage.gc` section. */
export type GcConfig = z.output<typeof gcSchema>;

/** The settings startOnlineGc takes, from the parsed section. */
export function onlineGcSettings(config: GcConfig): { enabled: boolean; interval: number; delay: number; deleteUntagged: boolean } {
  return { enabled: config.enabled, interval: config.interval, delay: config.delay, deleteUntagged: config.deleteuntagged };
}

/** What docs/configuration.md says of each key of `storage.gc` (relative key paths). */
export const gcKeyDocs: KeyDocs = {
  enabled: { type: 'boolean', default: '`false`', text: 'Online garbage collection inside the serving registry (see [garbage-collection.md](garbage-collection.md)).' },
  interval: { type: 'duration ≥ 1s', default: '`24h`', text: 'How often a sweep runs (one replica at a time).' },
  delay: { type: 'duration ≥ 1m', default: '`1h`', text: 'Grace period: nothing younger is condemned, and a condemned blob is deleted only this long after.' },
  deleteuntagged: { type: 'boolean', default: '`false`', text: 'Also collect manifests no tag reaches (as `--delete-untagged`).' },
};
