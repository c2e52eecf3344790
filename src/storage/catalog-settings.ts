import { ConfigError, type ConfigIssue } from '../config/config-error.js';
import { parseDuration } from '../config/duration.js';

/** The `catalog` section (free-form in the schema, as in Distribution), parsed. */
export interface CatalogSettings {
  /** `catalog.maxentries` (Distribution's): the most entries a response holds, and the default page size. */
  readonly maxEntries: number;
  /** `catalog.refresh`: age of the walked index at which a page starts a background walk. */
  readonly refreshMs: number;
  /** `catalog.maxstale`: a page never comes from a walk older than this (without Redis, the staleness bound across replicas). */
  readonly maxStaleMs: number;
  /** `catalog.redis`: share repository names through the `redis` section when there is one (default true). */
  readonly redis: boolean;
  /** Keys of the section that configure nothing (the section is free-form, as in Distribution: they are reported, not refused). */
  readonly ignored: readonly string[];
}

export const DEFAULT_CATALOG_SETTINGS: CatalogSettings = Object.freeze({ maxEntries: 1000, refreshMs: 10_000, maxStaleMs: 60_000, redis: true, ignored: [] });

/**
 * Parses the `catalog` section; throws a ConfigError naming each bad value. Unknown keys are
 * listed in `ignored` (the section stays free-form, as documented).
 */
export function parseCatalogSettings(section: Readonly<Record<string, unknown>> | undefined): CatalogSettings {
  if (section === undefined) return DEFAULT_CATALOG_SETTINGS;
  const issues: ConfigIssue[] = [];
  const out = { ...DEFAULT_CATALOG_SETTINGS, ignored: [] as string[] };
  for (const [key, value] of Object.entries(section)) {
    const path = `catalog.${key}`;
    if (value === null || value === undefined || value === '') continue;
    switch (key) {
      case 'maxentries': {
        const n = typeof value === 'string' ? Number(value) : value;
        if (typeof n === 'number' && Number.isSafeInteger(n) && n > 0) out.maxEntries = n;
        else issues.push({ path, message: `expected a positive integer, got ${JSON.stringify(value)}` });
        break;
      }
      case 'refresh':
      case 'maxstale': {
        let ms: number | undefined;
        try {
          ms = typeof value === 'string' || typeof value === 'number' ? parseDuration(value) : undefined;
        } catch (err) {
          issues.push({ path, message: err instanceof Error ? err.message : String(err) });
          break;
        }
        if (ms === undefined || !(ms > 0)) issues.push({ path, message: `expected a positive duration such as 10s, got ${JSON.stringify(value)}` });
        else if (key === 'refresh') out.refreshMs = ms;
        else out.maxStaleMs = ms;
        break;
      }
      case 'redis':
        if (typeof value === 'boolean') out.redis = value;
        else if (value === 'true' || value === 'false') out.redis = value === 'true';
        else issues.push({ path, message: `expected true or false, got ${JSON.stringify(value)}` });
        break;
      default:
        out.ignored.push(path);
    }
  }
  if (issues.length === 0 && out.maxStaleMs < out.refreshMs) issues.push({ path: 'catalog.maxstale', message: 'must not be shorter than catalog.refresh' });
  if (issues.length > 0) throw new ConfigError(issues);
  return Object.freeze(out);
}
