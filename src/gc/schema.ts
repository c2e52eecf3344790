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
import { z } from 'zod';
import { parseDuration } from '../config/duration.js';

/** The shortest grace period the configuration accepts: far above the guard's snapshot lifetime and any request. */
export const MIN_GC_DELAY_MS = 60_000;

const YAML11_BOOLEANS: Readonly<Record<string, boolean>> = Object.fromEntries([
  ...['y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON', 'true', 'True', 'TRUE'].map((w) => [w, true] as const),
  ...['n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF', 'false', 'False', 'FALSE'].map((w) => [w, false] as const),
]);

function booleanField(defaultValue: boolean) {
  return z.preprocess((value) => {
    if (typeof value === 'string') return Object.hasOwn(YAML11_BOOLEANS, value) ? YAML11_BOOLEANS[value] : value;
    return value === null ? undefined : value;
  }, z.boolean().default(defaultValue));
}

function durationField(defaultMs: number, minimumMs: number, minimumText: string) {
  return z.preprocess(
    (value, ctx) => {
      if (value === null || value === undefined) return undefined;
      if (typeof value !== 'string' && typeof value !== 'number') return value; // z.number() reports the type
      try {
        return parseDuration(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `${(err as Error).message}; expected a duration such as 30m, 1h or 24h`, input: value });
        return undefined;
      }
    },
    z
      .number()
      .refine((ms) => ms >= minimumMs, { message: `must be at least ${minimumText}` })
      .default(defaultMs),
  );
}

/** `storage.gc`: absent, null or '' means all defaults (online GC off). */
export const gcSchema = z.preprocess(
  (value) => (value === undefined || value === null || value === '' ? {} : value),
  z.strictObject({
    enabled: booleanField(false),
    interval: durationField(24 * 3600_000, 1000, '1s'),
    delay: durationField(3600_000, MIN_GC_DELAY_MS, '1m'),
    deleteuntagged: booleanField(false),
  }),
);

/** The parsed `storage.gc` section. */
export type GcConfig = z.output<typeof gcSchema>;

/** The settings startOnlineGc takes, from the parsed section. */
export function onlineGcSettings(config: GcConfig): { enabled: boolean; interval: number; delay: number; deleteUntagged: boolean } {
  return { enabled: config.enabled, interval: config.interval, delay: config.delay, deleteUntagged: config.deleteuntagged };
}
