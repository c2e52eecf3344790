/**
 * The one configuration schema: Distribution's (registry:2 / registry:3) YAML keys, all lowercase,
 * validated and defaulted in a single zod tree. Parsing yields `Config`, the shape the rest of Berth
 * is written against. Key paths named here are what `docs/configuration.md` documents (a test checks).
 *
 * Conventions every field follows, because go-yaml (what Distribution uses) behaves this way:
 * - a null value (`key:` with nothing after it) means "not set": the default applies;
 * - a string field accepts a number or boolean scalar and takes its text (`secret: 12345`);
 * - a boolean field also accepts YAML 1.1 words (`yes`, `no`, `on`, `off`, `y`, `n`);
 * - a duration is a Go duration string ("168h", "1h30m") or an integer count of nanoseconds,
 *   and comes out as milliseconds.
 * Unknown keys are errors everywhere except inside the loosely typed sections (auth, redis, ...),
 * which are accepted as they are so existing Distribution configs load; later work validates them.
 */
import { z } from 'zod';
import { parseDuration } from './duration.js';
import { booleanField, headersField as headerMap, integerField, isHttpUrl as isAbsoluteHttpUrl, isPlainObject, scalarToString, section, stringListField, toStringList, unsetIfNull } from './fields.js';
import { notificationsSchema } from '../notifications/schema.js';
import { healthSchema } from '../health/schema.js';
import { htpasswdSchema } from '../auth/htpasswd/schema.js';
import { policiesSchema } from '../auth/policy/schema.js';
import { tokenConfigSchema } from '../auth/token/schema.js';
import { gcSchema } from '../gc/schema.js';
import { compilePattern } from '../storage/manifest-rules.js';

// ---------------------------------------------------------------------------------------------------------------
// Field helpers

type Shape = z.ZodRawShape;

/** Like section, but absent, null or '' leaves the section undefined in the output. */
function optionalSection<S extends Shape>(shape: S) {
  return z.preprocess((value) => (value === null || value === '' ? undefined : value), z.strictObject(shape).optional());
}

/** A mapping passed through unchecked, for sections later work validates. A bare string `x` means `{x: {}}`. */
function looseSection() {
  return z.preprocess(
    (value) => (typeof value === 'string' && value !== '' ? { [value]: {} } : unsetIfNull(value)),
    z.record(z.string(), z.unknown()).optional(),
  );
}

function stringField(defaultValue: string, options: { emptyMeansDefault?: boolean } = {}) {
  return z.preprocess(
    (value) => (options.emptyMeansDefault === true && value === '' ? undefined : scalarToString(value)),
    z.string().default(defaultValue),
  );
}

function requiredString() {
  return z.preprocess(scalarToString, z.string().min(1));
}

/** A Go duration (string, or integer nanoseconds) as milliseconds. */
function durationField(defaultMs: number, options: { positive?: boolean } = {}) {
  return z.preprocess(
    (value, ctx) => {
      if (value === null || value === undefined) return undefined;
      if (typeof value !== 'string' && typeof value !== 'number') return value; // z.number() reports the type
      try {
        return parseDuration(value);
      } catch (err) {
        ctx.addIssue({ code: 'custom', message: `${(err as Error).message}; expected a duration such as 30s, 1h30m or 168h`, input: value });
        return undefined;
      }
    },
    z
      .number()
      .refine((ms) => (options.positive === true ? ms > 0 : ms >= 0), { message: options.positive === true ? 'must be a positive duration' : 'must not be negative' })
      .default(defaultMs),
  );
}

/**
 * An enumeration, case-insensitive (the value is lowercased first, as Distribution does for log levels),
 * with aliases mapping accepted spellings onto the canonical ones.
 */
function enumField<const V extends readonly [string, ...string[]]>(values: V, defaultValue: V[number], aliases: Readonly<Record<string, V[number]>> = {}) {
  return z.preprocess((value) => {
    if (value === null || value === '') return undefined;
    if (typeof value !== 'string') return value;
    const lower = value.toLowerCase();
    return Object.hasOwn(aliases, lower) ? aliases[lower] : lower;
  }, z.enum(values).default(defaultValue));
}

// ---------------------------------------------------------------------------------------------------------------
// log

/** The log levels Berth logs at. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
/** A log level, after Distribution's and logrus' other names were mapped onto the four. */
export type LogLevel = (typeof LOG_LEVELS)[number];

const logLevelField = () => enumField(LOG_LEVELS, 'info', { panic: 'error', fatal: 'error', warning: 'warn', trace: 'debug' });

const logSchema = section({
  level: logLevelField(),
  formatter: enumField(['text', 'json'], 'text', { logstash: 'json' }),
  fields: z.preprocess(unsetIfNull, z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default(() => ({}))),
  accesslog: section({ disabled: booleanField(false) }),
  reportcaller: booleanField(false),
  hooks: z.preprocess(unsetIfNull, z.array(z.unknown()).optional()),
});

// ---------------------------------------------------------------------------------------------------------------
// storage

/** The storage drivers Berth implements, in the order they are listed in messages. */
export const STORAGE_DRIVERS = ['filesystem', 'inmemory', 's3', 'azure'] as const;
/** The name of a storage driver Berth implements: `config.storage.driver`. */
export type StorageDriverName = (typeof STORAGE_DRIVERS)[number];
/** Distribution drivers Berth does not implement; configuring one is a clear error rather than an unknown key. */
export const UNSUPPORTED_STORAGE_DRIVERS = ['gcs', 'swift', 'oss'] as const;
/** Every key under `storage` that names a driver: what `REGISTRY_STORAGE=<driver>` removes. */
export const STORAGE_DRIVER_KEYS: readonly string[] = [...STORAGE_DRIVERS, ...UNSUPPORTED_STORAGE_DRIVERS];

const supportedList = STORAGE_DRIVERS.join(', ');

function unsupportedDriver(name: string) {
  return z.never({ error: `storage driver ${name} is not supported (supported: ${supportedList})` }).optional();
}

const storageShape = {
  filesystem: optionalSection({
    rootdirectory: stringField('/var/lib/registry', { emptyMeansDefault: true }),
    maxthreads: integerField(100, 1),
    syncmetadata: booleanField(true),
  }),
  inmemory: optionalSection({}),
  s3: z.record(z.string(), z.unknown()).optional(),
  azure: z.record(z.string(), z.unknown()).optional(),
  gcs: unsupportedDriver('gcs'),
  swift: unsupportedDriver('swift'),
  oss: unsupportedDriver('oss'),
  delete: section({ enabled: booleanField(false) }),
  maintenance: section({
    uploadpurging: section({
      enabled: booleanField(true),
      age: durationField(168 * 3600_000),
      interval: durationField(24 * 3600_000, { positive: true }),
      dryrun: booleanField(false),
    }),
    readonly: section({ enabled: booleanField(false) }),
  }),
  cache: z.preprocess(
    (value) => {
      // `layerinfo` is the old name of `blobdescriptor`; as in Distribution, blobdescriptor wins when both are set.
      if (!isPlainObject(value) || !('layerinfo' in value)) return value ?? {};
      const { layerinfo, ...rest } = value;
      return rest['blobdescriptor'] === undefined || rest['blobdescriptor'] === null ? { ...rest, blobdescriptor: layerinfo } : rest;
    },
    z.strictObject({
      blobdescriptor: z.preprocess((v) => (v === '' || v === null ? undefined : v), z.enum(['inmemory', 'redis']).optional()),
      blobdescriptorsize: integerField(10000, 0),
      // Berth's bounds of its other in-process caches (see docs/memory.md).
      manifestbytes: integerField(64 * 1024 * 1024, 0),
      linksize: integerField(50_000, 0),
      taglistsize: integerField(1_000, 0),
      taglistbytes: integerField(16 * 1024 * 1024, 0),
    }),
  ),
  redirect: section({ disable: booleanField(false) }),
  gc: gcSchema,
  tag: section({
    // Distribution treats 0 as "use GOMAXPROCS"; Berth treats it as "the default".
    concurrencylimit: integerField(8, 0).transform((n) => (n === 0 ? 8 : n)),
  }),
};

function presentKeys(value: Record<string, unknown>, keys: readonly string[]): string[] {
  return keys.filter((k) => Object.hasOwn(value, k));
}

const storageSchema = z
  .preprocess((value) => {
    if (value === null || value === undefined) return {};
    if (typeof value === 'string' && value !== '') return { [value]: {} }; // Distribution's `storage: inmemory` form
    if (!isPlainObject(value)) return value;
    const out: Record<string, unknown> = { ...value };
    for (const key of STORAGE_DRIVER_KEYS) if (Object.hasOwn(out, key) && out[key] === null) out[key] = {}; // `inmemory:` with no parameters
    return out;
  }, z.strictObject(storageShape))
  .check(
    z.superRefine(
      (storage, ctx) => {
        if (!isPlainObject(storage)) return;
        const found = presentKeys(storage, STORAGE_DRIVERS);
        const unsupported = presentKeys(storage, UNSUPPORTED_STORAGE_DRIVERS);
        if (found.length > 1 || (found.length === 0 && unsupported.length === 0)) {
          ctx.addIssue({
            code: 'custom',
            message: `exactly one storage driver must be configured (found: ${found.length === 0 ? `none; supported: ${supportedList}` : found.join(', ')})`,
          });
        }
      },
      { when: () => true }, // also when other storage keys are invalid, so every problem is reported at once
    ),
  )
  .transform(({ gcs: _gcs, swift: _swift, oss: _oss, ...storage }) => {
    const driver = STORAGE_DRIVERS.find((name) => storage[name] !== undefined) ?? 'filesystem'; // exactly one, checked above
    return { driver, ...storage };
  });

// ---------------------------------------------------------------------------------------------------------------
// http

/** TLS versions accepted by `http.tls.minimumtls`. */
export const TLS_VERSIONS = ['tls1.0', 'tls1.1', 'tls1.2', 'tls1.3'] as const;

/** The cipher suite names Distribution accepts in `http.tls.ciphersuites` (Go's names). */
export const TLS_CIPHER_SUITES = [
  'TLS_RSA_WITH_RC4_128_SHA',
  'TLS_RSA_WITH_3DES_EDE_CBC_SHA',
  'TLS_RSA_WITH_AES_128_CBC_SHA',
  'TLS_RSA_WITH_AES_256_CBC_SHA',
  'TLS_RSA_WITH_AES_128_CBC_SHA256',
  'TLS_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_RC4_128_SHA',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA',
  'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA',
  'TLS_ECDHE_RSA_WITH_RC4_128_SHA',
  'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA',
  'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA',
  'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
] as const;

/** Client certificate modes of `http.tls.clientauth` (Go's tls.ClientAuthType names, as Distribution spells them). */
export const TLS_CLIENT_AUTH_MODES = ['request-client-cert', 'require-any-client-cert', 'verify-client-cert-if-given', 'require-and-verify-client-cert'] as const;

/** Sent on every response unless http.headers is set: browsers must not sniff blobs as HTML. */
const defaultHeaders = (): Record<string, string[]> => ({ 'X-Content-Type-Options': ['nosniff'] });

const headersField = headerMap(defaultHeaders);

function normalizePrefix(prefix: string): string {
  const segments = prefix.split('/').filter((s) => s !== '');
  return segments.length === 0 ? '' : `/${segments.join('/')}`;
}

/** `http.host` may be empty (derive URLs from requests) or an absolute http(s) URL. */
function isHttpUrl(value: string): boolean {
  return value === '' || isAbsoluteHttpUrl(value);
}

const tlsSchema = optionalSection({
  certificate: stringField(''),
  key: stringField(''),
  clientcas: stringListField(),
  clientauth: enumField(TLS_CLIENT_AUTH_MODES, 'require-and-verify-client-cert'),
  minimumtls: enumField(TLS_VERSIONS, 'tls1.2'),
  ciphersuites: z.preprocess(toStringList, z.array(z.enum(TLS_CIPHER_SUITES)).default(() => [])),
  letsencrypt: looseSection(),
}).check(
  z.superRefine((tls, ctx) => {
    if (tls === undefined) return;
    // Berth serves the certificate it is given; letsencrypt is accepted (Distribution ignores it too once a
    // certificate is set) but certificates are not obtained from Let's Encrypt.
    const hint = tls.letsencrypt !== undefined ? " (Berth does not obtain certificates from Let's Encrypt)" : '';
    if (tls.certificate === '') ctx.addIssue({ code: 'custom', path: ['certificate'], message: `required when http.tls is set${hint}` });
    if (tls.key === '') ctx.addIssue({ code: 'custom', path: ['key'], message: `required when http.tls is set${hint}` });
  }),
);

const httpSchema = section({
  addr: stringField(''),
  net: enumField(['tcp', 'unix'], 'tcp'),
  prefix: stringField('').transform(normalizePrefix),
  host: stringField('').refine(isHttpUrl, { message: 'must be an absolute http:// or https:// URL' }),
  secret: stringField(''),
  relativeurls: booleanField(false),
  draintimeout: durationField(0),
  /** Berth only: upload requests streaming a body at once; more get 429 (docs/memory.md). */
  maxuploads: integerField(512, 1),
  headers: headersField,
  tls: tlsSchema,
  debug: optionalSection({
    addr: requiredString(),
    prometheus: section({ enabled: booleanField(false), path: stringField('/metrics', { emptyMeansDefault: true }) }),
  }),
  http2: section({ disabled: booleanField(false) }),
  /** Berth only: registry processes behind one socket (node:cluster); `auto` is one per core. */
  workers: z
    .unknown()
    .optional()
    .transform((value, ctx): number | 'auto' => {
      if (value === undefined) return 1;
      if (value === 'auto' || (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 256)) return value;
      ctx.addIssue({ code: 'custom', message: 'must be a whole number from 1 to 256, or auto' });
      return z.NEVER;
    }),
  h2c: section({ enabled: booleanField(false) }),
})
  .check(
    z.superRefine((http, ctx) => {
      if (http.net === 'unix' && http.addr === '') ctx.addIssue({ code: 'custom', path: ['addr'], message: 'a socket path is required when http.net is unix' });
    }),
  )
  // Go leaves an empty addr to net/http, which listens on :https with TLS and :http without; Distribution's
  // documented default port is 5000, so an unset addr is :5000, or :443 once TLS is configured.
  .transform((http) => ({ ...http, addr: http.addr !== '' ? http.addr : http.tls !== undefined ? ':443' : ':5000' }));

const authSchema = z.preprocess(
  (v) => (typeof v === 'string' && v !== '' ? { [v]: {} } : v === null || v === '' ? undefined : v),
  z
    .strictObject({
      htpasswd: htpasswdSchema,
      token: z.preprocess((v) => (v === null ? {} : v), tokenConfigSchema).optional(),
      silly: looseSection(),
      none: looseSection(),
      policies: policiesSchema,
    })
    .check(
      z.superRefine((auth, ctx) => {
        const kinds = (['htpasswd', 'token', 'silly'] as const).filter((k) => auth[k] !== undefined);
        if (kinds.length > 1) ctx.addIssue({ code: 'custom', message: `configure one access controller, found: ${kinds.join(', ')}` });
        if (auth.silly !== undefined) ctx.addIssue({ code: 'custom', path: ['silly'], message: 'the silly access controller (a test stub in Distribution) is not supported; use htpasswd or token' });
        if (auth.policies !== undefined && auth.htpasswd === undefined) ctx.addIssue({ code: 'custom', path: ['policies'], message: 'access policies apply to htpasswd users: configure auth.htpasswd' });
      }),
    )
    .optional(),
);

const redisSchema = optionalSection({
  addr: stringField(''),
  addrs: stringListField(),
  username: stringField(''),
  password: stringField(''),
  db: integerField(0, 0),
  dialtimeout: durationField(5_000),
  readtimeout: durationField(5_000),
  writetimeout: durationField(5_000),
  poolsize: integerField(0, 0),
  pool: section({ maxidle: integerField(16, 0), maxactive: integerField(64, 0), idletimeout: durationField(300_000) }),
  tls: section({
    enabled: booleanField(false),
    certificate: stringField(''),
    key: stringField(''),
    clientcas: stringListField(),
    insecureskipverify: booleanField(false),
  }),
  ttl: durationField(24 * 3600_000, { positive: true }),
}).check(
  z.superRefine((redis, ctx) => {
    if (redis !== undefined && redis.addr === '' && redis.addrs.length === 0) ctx.addIssue({ code: 'custom', path: ['addr'], message: 'redis.addr or redis.addrs is required' });
  }),
);

// ---------------------------------------------------------------------------------------------------------------
// validation, policy, and the sections Berth does not implement

/** A list of regular expressions (Go syntax as far as JavaScript shares it; see compilePattern). */
function patternListField() {
  return z.preprocess(
    toStringList,
    z
      .array(
        z.string().check(
          z.superRefine((pattern, ctx) => {
            try {
              compilePattern(pattern);
            } catch (err) {
              ctx.addIssue({ code: 'custom', message: `invalid regular expression: ${(err as Error).message}`, input: pattern });
            }
          }),
        ),
      )
      .default(() => []),
  );
}

/** Distribution's `validation`: what pushed manifests must satisfy (see src/storage/manifest-rules.ts). */
const validationSchema = section({
  /** Deprecated in Distribution in favour of `disabled`; `true` wins over `disabled: true`. */
  enabled: booleanField(false),
  disabled: booleanField(false),
  manifests: section({
    urls: section({ allow: patternListField(), deny: patternListField() }),
    indexes: section({
      platforms: enumField(['all', 'none', 'list'], 'all'),
      platformlist: z.preprocess(unsetIfNull, z.array(z.strictObject({ os: requiredString(), architecture: requiredString() })).default(() => [])),
    }),
  }),
});

/**
 * Distribution's `policy.repository.classes` restricts pushes by manifest class (image, plugin) and the class
 * of the token scope (`repository(plugin):name:push`); Berth does not implement it, so a non-empty list is refused.
 */
const policySchema = section({
  repository: section({
    classes: stringListField().refine((classes) => classes.length === 0, {
      message: 'repository classes are not implemented by Berth; remove policy.repository.classes (an empty list is accepted)',
    }),
  }),
});

/** A Distribution section Berth does not implement: absent, null or an empty mapping is fine, anything else is refused. */
function unimplementedSection(what: string) {
  return z.preprocess(
    (value) => (value === null || value === '' || (isPlainObject(value) && Object.keys(value).length === 0) ? undefined : value),
    z.never({ error: `${what} is not implemented by Berth; remove this section` }).optional(),
  );
}

// ---------------------------------------------------------------------------------------------------------------
// The root

/** The only configuration version Distribution (and so Berth) defines. */
export const CONFIG_VERSION = '0.1';

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
  proxy: unimplementedSection('the pull-through cache (proxy)'),
  validation: validationSchema,
  compatibility: unimplementedSection('compatibility (schema 1 manifests are always refused)'),
  reporting: unimplementedSection('error reporting (bugsnag, newrelic)'),
  middleware: unimplementedSection('middleware (registry, repository and storage hooks)'),
  catalog: looseSection(),
  policy: policySchema,
};

/** The keys allowed at the top level of a configuration (what `REGISTRY_<KEY>_...` variables may start with). */
export const TOP_LEVEL_KEYS: readonly string[] = Object.keys(rootShape);

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
  }, z.strictObject(rootShape))
  .transform(({ loglevel: _loglevel, ...config }) => config);

/** The parsed, defaulted configuration (deep-frozen when it comes from parseConfig/loadConfig). */
export type Config = z.output<typeof configSchema>;

// ---------------------------------------------------------------------------------------------------------------
// Introspection, for messages and for the tests that keep the docs true

/** Strips wrappers (defaults, optionals, preprocess and transform pipes) down to the schema that holds the shape. */
function unwrap(schema: z.core.$ZodType): z.core.$ZodType {
  let current = schema;
  for (;;) {
    if (current instanceof z.ZodPipe) {
      current = current.def.out instanceof z.ZodTransform ? current.def.in : current.def.out;
    } else if (current instanceof z.ZodOptional || current instanceof z.ZodDefault || current instanceof z.ZodPrefault || current instanceof z.ZodNullable) {
      current = current.def.innerType;
    } else {
      return current;
    }
  }
}

/** The schema at a key path, or undefined where the path leaves the checked tree (a loose section, a map). */
function schemaAt(path: readonly PropertyKey[]): z.core.$ZodType | undefined {
  let current: z.core.$ZodType = configSchema;
  for (const segment of path) {
    const inner = unwrap(current);
    if (inner instanceof z.ZodObject && typeof segment === 'string' && Object.hasOwn(inner.shape, segment)) {
      current = inner.shape[segment] as z.core.$ZodType;
    } else if (inner instanceof z.ZodArray && typeof segment === 'number') {
      current = inner.def.element;
    } else if (inner instanceof z.ZodRecord && typeof segment === 'string') {
      current = inner.def.valueType;
    } else {
      return undefined;
    }
  }
  return current;
}

/** The keys a checked mapping accepts at `path` (e.g. `['http']`), for "did you mean" hints; [] elsewhere. */
export function knownKeysAt(path: readonly PropertyKey[]): readonly string[] {
  const schema = schemaAt(path);
  const inner = schema === undefined ? undefined : unwrap(schema);
  if (!(inner instanceof z.ZodObject)) return [];
  return Object.keys(inner.shape).filter((k) => k !== 'loglevel' && !(UNSUPPORTED_STORAGE_DRIVERS as readonly string[]).includes(k));
}

/**
 * Every key path the schema checks, dotted (`http.tls.minimumtls`), in schema order, plus `storage.driver`.
 * A free-form map (`http.headers`, `log.fields`, a loose section such as `auth`) is one path; deprecated
 * aliases and unsupported drivers are left out. What docs/configuration.md must document.
 */
export function configKeyPaths(): string[] {
  const out: string[] = [];
  const visit = (schema: z.core.$ZodType, prefix: string): void => {
    const inner = unwrap(schema);
    if (!(inner instanceof z.ZodObject) || Object.keys(inner.shape).length === 0) {
      out.push(prefix);
      return;
    }
    for (const key of Object.keys(inner.shape)) {
      if (prefix === '' && key === 'loglevel') continue;
      if (prefix === 'storage' && (UNSUPPORTED_STORAGE_DRIVERS as readonly string[]).includes(key)) continue;
      if (prefix === 'storage' && key === 'filesystem') out.push('storage.driver');
      visit(inner.shape[key] as z.core.$ZodType, prefix === '' ? key : `${prefix}.${key}`);
    }
  };
  visit(configSchema, '');
  return out;
}
