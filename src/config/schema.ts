/**
 * The one configuration schema: Distribution's (registry:2 / registry:3) YAML keys, all lowercase,
 * validated and defaulted in a single zod tree, once, when the configuration loads. Parsing yields
 * `Config`, the shape the rest of Berth is written against. The tree is assembled here from the
 * sections in this folder (storage-schema.ts, http-schema.ts, sections.ts) and those the features own
 * (gc, health, notifications, proxy, auth, lifecycle, the S3 and Azure drivers, the UI); all are written with the field helpers
 * of src/config-fields/ (null means unset, scalars where strings go, YAML 1.1 booleans, Go durations
 * as milliseconds), which import nothing of ours, so no feature folder imports config/.
 *
 * Adding a key:
 * 1. add the field to its section's shape with a helper of config-fields/fields.ts
 *    (`maxuploads: integerField(0, 0)`), and any check that spans keys to the section's superRefine;
 * 2. describe it in the KeyDocs table beside that section (`maxuploads: { type, default, text }`),
 *    and show it in config.example.yml;
 * 3. run `npm run build && node scripts/gen-config-docs.js`, which rewrites the reference tables of
 *    docs/configuration.md (test/unit/config-docs.test.ts fails until the file matches).
 * Unknown keys are errors everywhere except the free-form maps (log.fields, http.headers, auth.none).
 */
import { z } from 'zod';
import { booleanField, durationField, integerField, isPlainObject, scalarToString, section, unsetIfNull } from '../config-fields/fields.js';
import { docsUnder, knownKeysAt as knownKeysBelow, leafKeyPaths, type KeyDocs } from '../config-fields/schema-tree.js';
import { htpasswdKeyDocs } from '../auth/htpasswd/schema.js';
import { policiesKeyDocs } from '../auth/policy/schema.js';
import { tokenKeyDocs } from '../auth/token/schema.js';
import { gcKeyDocs } from '../gc/schema.js';
import { healthKeyDocs, healthSchema } from '../health/schema.js';
import { lifecycleKeyDocs, lifecycleSchema } from '../lifecycle/schema.js';
import { notificationsKeyDocs, notificationsSchema } from '../notifications/schema.js';
import { proxyKeyDocs, proxySchema } from '../proxy/schema.js';
import { azureKeyDocs } from '../storage/driver/azure/parameters.js';
import { s3KeyDocs } from '../storage/driver/s3/parameters.js';
import { httpKeyDocs, httpSchema } from './http-schema.js';
import { authKeyDocs, authSchema, logKeyDocs, logSchema, policyKeyDocs, policySchema, redisKeyDocs, redisSchema, unimplementedSection, validationKeyDocs, validationSchema } from './sections.js';
import { storageKeyDocs, storageSchema, UNSUPPORTED_STORAGE_DRIVERS } from './storage-schema.js';
import { uiKeyDocs, uiSchema } from '../ui/schema.js';

export { LOG_LEVELS, type LogLevel } from './sections.js';
export { STORAGE_DRIVER_KEYS, STORAGE_DRIVERS, UNSUPPORTED_STORAGE_DRIVERS, type StorageDriverName } from './storage-schema.js';
export { TLS_CIPHER_SUITES, TLS_CLIENT_AUTH_MODES, TLS_VERSIONS } from './http-schema.js';

/** The only configuration version Distribution (and so Berth) defines. */
export const CONFIG_VERSION = '0.1';

/** Distribution's default (and Berth's) for `catalog.maxentries`. */
export const DEFAULT_CATALOG_MAX_ENTRIES = 1000;

const rootShape = {
  version: z.preprocess(
    scalarToString, // `version: 0.1` is a YAML float
    z.string().refine((v) => v === CONFIG_VERSION, { error: (iss) => `unsupported version ${JSON.stringify(iss.input)} (expected ${CONFIG_VERSION})` }),
  ),
  log: logSchema,
  /** Deprecated top-level form of log.level, folded into it (log.level wins), as Distribution does. */
  loglevel: z.preprocess(unsetIfNull, z.unknown().optional()),
  storage: storageSchema,
  http: httpSchema,
  auth: authSchema,
  notifications: notificationsSchema,
  redis: redisSchema,
  health: healthSchema,
  proxy: proxySchema,
  validation: validationSchema,
  compatibility: unimplementedSection('compatibility (schema 1 manifests are always refused)'),
  reporting: unimplementedSection('error reporting (bugsnag, newrelic)'),
  middleware: unimplementedSection('middleware (registry, repository and storage hooks)'),
  catalog: section({
    // As in Distribution, 0 or a negative number means the default.
    maxentries: integerField(DEFAULT_CATALOG_MAX_ENTRIES, Number.MIN_SAFE_INTEGER).transform((n) => (n > 0 ? n : DEFAULT_CATALOG_MAX_ENTRIES)),
    // Berth only: how fresh the walked index stays (src/storage/catalog.ts), and sharing through redis.
    refresh: durationField(10_000, { bound: 'positive', examples: '10s or 1m' }),
    maxstale: durationField(60_000, { bound: 'positive', examples: '1m or 5m' }),
    redis: booleanField(true),
  }).check(
    z.superRefine((catalog, ctx) => {
      if (catalog.maxstale < catalog.refresh) ctx.addIssue({ code: 'custom', path: ['maxstale'], message: 'must not be shorter than catalog.refresh' });
    }),
  ),
  policy: policySchema,
  /** Berth only: retention, immutable tags and quotas (src/lifecycle/). */
  lifecycle: lifecycleSchema,
  ui: uiSchema,
};

/** Key paths accepted but neither suggested in hints nor documented: a deprecated alias, the drivers Berth refuses. */
export const HIDDEN_KEYS: ReadonlySet<string> = new Set(['loglevel', ...UNSUPPORTED_STORAGE_DRIVERS.map((d) => `storage.${d}`)]);

/** The keys allowed at the top level of a configuration (what `REGISTRY_<KEY>_...` variables may start with). */
export const TOP_LEVEL_KEYS: readonly string[] = Object.keys(rootShape);

type RootOutput = z.output<z.ZodObject<typeof rootShape>>;

/** Checks that span sections. */
function checkAcrossSections(config: RootOutput, ctx: z.RefinementCtx): void {
  if (config.storage.cache.blobdescriptor === 'redis' && config.redis === undefined) {
    ctx.addIssue({ code: 'custom', path: ['storage', 'cache', 'blobdescriptor'], message: 'redis needs the redis section (set redis.addr or redis.addrs)' });
  }
}

/**
 * The whole configuration schema. Parse with `reportInput: true` to get the values in issues.
 * Input: the YAML tree after environment overrides. Output: `Config`.
 */
export const configSchema = z
  .preprocess((value) => {
    if (value === null || value === undefined) return {}; // an empty file
    if (!isPlainObject(value) || value['loglevel'] === undefined || value['loglevel'] === null) return value;
    const log = value['log'] ?? {};
    if (!isPlainObject(log) || (log['level'] !== undefined && log['level'] !== null)) return value;
    const { loglevel, ...rest } = value;
    return { ...rest, log: { ...log, level: loglevel } };
  }, z.strictObject(rootShape).check(z.superRefine(checkAcrossSections)))
  .transform(({ loglevel: _loglevel, ...config }) => config);

/** The parsed, defaulted configuration (deep-frozen when it comes from parseConfig/loadConfig). */
export type Config = z.output<typeof configSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Introspection, for messages and for the generated reference

/** The keys a checked mapping accepts at `path` (e.g. `['http']`), for "did you mean" hints; [] elsewhere. */
export function knownKeysAt(path: readonly PropertyKey[]): readonly string[] {
  return knownKeysBelow(configSchema, path, HIDDEN_KEYS);
}

/**
 * Every key path the schema checks, dotted (`http.tls.minimumtls`), in schema order, plus `storage.driver`.
 * A free-form map (`http.headers`, `log.fields`, a loose section such as `auth.none`) is one path; deprecated
 * aliases and unsupported drivers are left out. What docs/configuration.md documents.
 */
export function configKeyPaths(): string[] {
  const paths = leafKeyPaths(configSchema, HIDDEN_KEYS).map((k) => k.path);
  const first = paths.findIndex((p) => p.startsWith('storage.'));
  paths.splice(first, 0, 'storage.driver');
  return paths;
}

const rootKeyDocs: KeyDocs = {
  version: { type: 'string', default: '— (required)', text: 'Configuration format version. Must be `0.1` (YAML reads `0.1` as a number; either is accepted).' },
  compatibility: { type: 'map', default: '—', text: "Distribution's schema 1 handling. Not implemented: refused (Berth always refuses schema 1 manifests)." },
  reporting: { type: 'map', default: '—', text: "Distribution's error reporting services (bugsnag, newrelic). Not implemented: refused." },
  middleware: { type: 'map', default: '—', text: "Distribution's registry, repository and storage middleware. Not implemented: refused." },
  'catalog.maxentries': {
    type: 'integer',
    default: `\`${DEFAULT_CATALOG_MAX_ENTRIES}\``,
    text: 'Most repositories one `GET /v2/_catalog` response lists (a larger `n` is cut to it); `0` or less means the default, as in Distribution.',
  },
  'catalog.refresh': {
    type: 'duration',
    default: '`10s`',
    text: 'Berth only. Age of the walked repository index at which a catalog request starts a background walk of storage (without Redis: how other replicas\' new repositories reach this one).',
  },
  'catalog.maxstale': {
    type: 'duration',
    default: '`1m`',
    text: 'Berth only. A catalog page never comes from a walk started longer ago than this: the bound on how stale a replica without Redis can be. Not shorter than `refresh`.',
  },
  'catalog.redis': {
    type: 'boolean',
    default: '`true`',
    text: 'Berth only. With a `redis` section, share repository names through Redis, so every replica\'s catalog is exact at once and a starting replica reads the names instead of walking storage. `false`: walks only.',
  },
};

/** What docs/configuration.md says of every key, by full key path; the sections' own tables put in place. */
export const CONFIG_KEY_DOCS: KeyDocs = {
  ...rootKeyDocs,
  ...docsUnder('log', logKeyDocs),
  ...docsUnder('storage', storageKeyDocs),
  ...docsUnder('storage.s3', s3KeyDocs),
  ...docsUnder('storage.azure', azureKeyDocs),
  ...docsUnder('storage.gc', gcKeyDocs),
  ...docsUnder('http', httpKeyDocs),
  ...docsUnder('auth', authKeyDocs),
  ...docsUnder('auth.htpasswd', htpasswdKeyDocs),
  ...docsUnder('auth.policies', policiesKeyDocs),
  ...docsUnder('auth.token', tokenKeyDocs),
  ...docsUnder('notifications', notificationsKeyDocs),
  ...docsUnder('redis', redisKeyDocs),
  ...docsUnder('health', healthKeyDocs),
  ...docsUnder('proxy', proxyKeyDocs),
  ...docsUnder('validation', validationKeyDocs),
  ...docsUnder('policy', policyKeyDocs),
  ...docsUnder('lifecycle', lifecycleKeyDocs),
  ...docsUnder('ui', uiKeyDocs),
};

