/**
 * The smaller sections of the root schema: log, auth (assembled from the controllers' own sections),
 * redis, validation, policy, and the Distribution sections Berth refuses.
 */
import { z } from 'zod';
import { booleanField, durationField, enumField, integerField, isPlainObject, listField, looseSection, optionalSection, requiredString, section, stringField, stringListField, toStringList, unsetIfNull } from '../config-fields/fields.js';
import { htpasswdSchema } from '../auth/htpasswd/schema.js';
import { policiesSchema } from '../auth/policy/schema.js';
import { tokenConfigSchema } from '../auth/token/schema.js';
import { compilePattern } from '../storage/manifest-rules.js';
import type { KeyDocs } from '../config-fields/schema-tree.js';

// ---------------------------------------------------------------------------------------------------------------
// log

/** The log levels Berth logs at. */
export const LOG_LEVELS = ['error', 'warn', 'info', 'debug'] as const;
/** A log level, after Distribution's and logrus' other names were mapped onto the four. */
export type LogLevel = (typeof LOG_LEVELS)[number];

const logLevelField = () => enumField(LOG_LEVELS, 'info', { aliases: { panic: 'error', fatal: 'error', warning: 'warn', trace: 'debug' } });

export const logSchema = section({
  level: logLevelField(),
  formatter: enumField(['text', 'json'], 'text', { aliases: { logstash: 'json' } }),
  fields: z.preprocess(unsetIfNull, z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])).default(() => ({}))),
  accesslog: section({ disabled: booleanField(false) }),
  reportcaller: booleanField(false),
  hooks: z.preprocess(unsetIfNull, z.array(z.unknown()).optional()),
});

export const authSchema = z.preprocess(
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

export const redisSchema = optionalSection({
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
  ttl: durationField(24 * 3600_000, { bound: 'positive' }),
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
export const validationSchema = section({
  /** Deprecated in Distribution in favour of `disabled`; `true` wins over `disabled: true`. */
  enabled: booleanField(false),
  disabled: booleanField(false),
  manifests: section({
    urls: section({ allow: patternListField(), deny: patternListField() }),
    indexes: section({
      platforms: enumField(['all', 'none', 'list'], 'all'),
      platformlist: listField(z.strictObject({ os: requiredString(), architecture: requiredString() })),
    }),
  }),
});

/**
 * Distribution's `policy.repository.classes` restricts pushes by manifest class (image, plugin) and the class
 * of the token scope (`repository(plugin):name:push`); Berth does not implement it, so a non-empty list is refused.
 */
export const policySchema = section({
  repository: section({
    classes: stringListField().refine((classes) => classes.length === 0, {
      message: 'repository classes are not implemented by Berth; remove policy.repository.classes (an empty list is accepted)',
    }),
  }),
});

/** A Distribution section Berth does not implement: absent, null or an empty mapping is fine, anything else is refused. */
export function unimplementedSection(what: string) {
  return z.preprocess(
    (value) => (value === null || value === '' || (isPlainObject(value) && Object.keys(value).length === 0) ? undefined : value),
    z.never({ error: `${what} is not implemented by Berth; remove this section` }).optional(),
  );
}

/** What docs/configuration.md says of each key of `log` (relative key paths). */
export const logKeyDocs: KeyDocs = {
  level: { type: '`error` \\| `warn` \\| `info` \\| `debug`', default: '`info`', text: 'Least severe level logged. Case-insensitive; `panic` and `fatal` mean `error`, `warning` means `warn`, `trace` means `debug`. The deprecated top-level `loglevel` is used when `log.level` is not set.' },
  formatter: { type: '`text` \\| `json`', default: '`text`', text: 'Log line format. `logstash` is accepted and means `json`.' },
  fields: { type: 'map of string/number/boolean', default: '`{}`', text: 'Static fields added to every log line. Keys keep their case.' },
  'accesslog.disabled': { type: 'boolean', default: '`false`', text: '`true` turns off the per-request access log.' },
  reportcaller: { type: 'boolean', default: '`false`', text: 'Distribution\'s "report caller" flag; accepted, not used by Berth.' },
  hooks: { type: 'list', default: '—', text: 'Distribution\'s log hooks (e.g. mail); accepted, not used by Berth.' },
};

/** What docs/configuration.md says of the keys of `auth` that are no controller's own section. */
export const authKeyDocs: KeyDocs = {
  silly: { type: 'map', default: '—', text: 'Distribution\'s test stub: refused with a clear error.' },
  none: { type: 'map', default: '—', text: 'No authentication (`auth: none`).' },
};

/** What docs/configuration.md says of each key of `redis` (relative key paths). */
export const redisKeyDocs: KeyDocs = {
  addr: { type: 'string', default: '—', text: '`host:port` of one Redis server (this or `addrs` is required).' },
  addrs: { type: 'list of strings', default: '`[]`', text: 'Several `host:port`: a Redis Cluster.' },
  username: { type: 'string', default: '`""`', text: 'ACL user name (Redis 6+).' },
  password: { type: 'string', default: '`""`', text: 'Password (never logged).' },
  db: { type: 'integer ≥ 0', default: '`0`', text: 'Database number.' },
  dialtimeout: { type: 'duration', default: '`5s`', text: 'Connection timeout.' },
  readtimeout: { type: 'duration', default: '`5s`', text: 'Command timeout (the larger of read and write is used).' },
  writetimeout: { type: 'duration', default: '`5s`', text: 'Command timeout (the larger of read and write is used).' },
  poolsize: { type: 'integer ≥ 0', default: '`0`', text: 'Accepted for Distribution 3 configs; one multiplexed connection serves every request.' },
  'pool.maxidle': { type: 'integer ≥ 0', default: '`16`', text: 'Accepted for Distribution 2 configs; unused (one multiplexed connection).' },
  'pool.maxactive': { type: 'integer ≥ 0', default: '`64`', text: 'Accepted for Distribution 2 configs; unused.' },
  'pool.idletimeout': { type: 'duration', default: '`5m`', text: 'Accepted for Distribution 2 configs; unused.' },
  'tls.enabled': { type: 'boolean', default: '`false`', text: 'Connect with TLS.' },
  'tls.certificate': { type: 'string', default: '`""`', text: 'Client certificate (PEM) for mutual TLS.' },
  'tls.key': { type: 'string', default: '`""`', text: 'Its key.' },
  'tls.clientcas': { type: 'list of strings', default: '`[]`', text: 'CA certificates that sign the server\'s certificate.' },
  'tls.insecureskipverify': { type: 'boolean', default: '`false`', text: 'Do not verify the server\'s certificate (testing only).' },
  ttl: { type: 'duration', default: '`24h`', text: 'How long a cached entry lives (Berth; Distribution\'s entries never expire).' },
};

/** What docs/configuration.md says of each key of `validation` (relative key paths). */
export const validationKeyDocs: KeyDocs = {
  disabled: { type: 'boolean', default: '`false`', text: 'Turns off the other options of this section: layer URLs need only be http(s) without a fragment, and no child of an image index needs to be present.' },
  enabled: { type: 'boolean', default: '`false`', text: 'Deprecated (Distribution\'s older spelling): `true` turns validation on even with `disabled: true`.' },
  'manifests.urls.allow': { type: 'list of regular expressions', default: '`[]`', text: 'Layer URLs (the `urls` of a layer, as foreign and non-distributable layers carry) must match one of these.' },
  'manifests.urls.deny': { type: 'list of regular expressions', default: '`[]`', text: 'Layer URLs must match none of these.' },
  'manifests.indexes.platforms': { type: '`all`, `none` or `list`', default: '`all`', text: 'Which images of a pushed image index (or manifest list) must already be in the repository: all, none, or those of the platforms in `platformlist`. `none` and `list` are logged as a warning at start-up, since other tools may expect complete indexes.' },
  'manifests.indexes.platformlist': { type: 'list of `{os, architecture}`', default: '`[]`', text: 'With `platforms: list`: the platforms whose images must be present. Images of other platforms, or without a platform, need not be. An empty list, as in Distribution, means every image.' },
};

/** What docs/configuration.md says of each key of `policy` (relative key paths). */
export const policyKeyDocs: KeyDocs = {
  'repository.classes': { type: 'list', default: '`[]`', text: 'Distribution restricts pushes to these manifest classes (`image`, `plugin`). Berth does not implement repository classes: a non-empty list stops start-up.' },
};
