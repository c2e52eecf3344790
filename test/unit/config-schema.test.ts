import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { availableParallelism } from 'node:os';
import { workerCount } from '../../src/cli/cluster.js';
import { loadConfig } from '../../src/config/load.js';
import { ConfigError, parseConfig } from '../../src/config/load.js';
import { configKeyPaths, knownKeysAt, type Config } from '../../src/config/schema.js';

const minimal = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({ version: '0.1', storage: { inmemory: {} }, ...extra });

function configError(tree: unknown): ConfigError {
  try {
    parseConfig(tree);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

describe('config schema: defaults', () => {
  it('fills every default from a minimal configuration', () => {
    const config = parseConfig({ version: 0.1, storage: { filesystem: null } });
    const want: Config = {
      version: '0.1',
      log: { level: 'info', formatter: 'text', fields: {}, accesslog: { disabled: false }, reportcaller: false },
      storage: {
        driver: 'filesystem',
        filesystem: { rootdirectory: '/var/lib/registry', maxthreads: 100, syncmetadata: true },
        delete: { enabled: false },
        maintenance: { uploadpurging: { enabled: true, age: 168 * 3600_000, interval: 24 * 3600_000, dryrun: false }, readonly: { enabled: false } },
        cache: { blobdescriptorsize: 10000, manifestbytes: 64 * 1024 * 1024, linksize: 50_000, taglistsize: 1_000, taglistbytes: 16 * 1024 * 1024 },
        redirect: { disable: false },
        gc: { enabled: false, interval: 24 * 3600_000, delay: 3600_000, deleteuntagged: false },
        tag: { concurrencylimit: 8 },
      },
      http: {
        addr: ':5000',
        net: 'tcp',
        prefix: '',
        host: '',
        secret: '',
        relativeurls: false,
        draintimeout: 0,
        maxuploads: 512,
        headers: { 'X-Content-Type-Options': ['nosniff'] },
        http2: { disabled: false },
        workers: 1,
        h2c: { enabled: false },
        ratelimit: {
          enabled: false,
          reads: { rate: 50, burst: 300 },
          writes: { rate: 10, burst: 100 },
          key: 'address',
          exempt: ['/', '/v2/'],
          trustedproxies: [],
          ipv6prefix: 64,
          maxclients: 10000,
          store: 'auto',
          redistimeout: 50,
        },
      },
      notifications: { events: { includereferences: false }, endpoints: [] },
      health: { storagedriver: { enabled: false, interval: 10_000, threshold: 0 }, file: [], http: [], tcp: [] },
      validation: { enabled: false, disabled: false, manifests: { urls: { allow: [], deny: [] }, indexes: { platforms: 'all', platformlist: [] } } },
      catalog: { maxentries: 1000, refresh: 10_000, maxstale: 60_000, redis: true },
      policy: { repository: { classes: [] } },
      ui: { enabled: true, path: '/ui', session: { maxage: 12 * 3600_000 } },
    };
    assert.deepEqual(config, want);
  });

  it('returns a deep-frozen configuration', () => {
    const config = parseConfig(minimal());
    assert.ok(Object.isFrozen(config));
    assert.ok(Object.isFrozen(config.http.headers));
    assert.ok(Object.isFrozen(config.http.headers['X-Content-Type-Options']));
    assert.ok(Object.isFrozen(config.storage.maintenance.uploadpurging));
  });

  it('does not freeze or change the tree it is given', () => {
    const tree = minimal({ auth: { htpasswd: { realm: 'r', path: '/p' } }, http: { headers: { A: 'b' } } });
    const before = structuredClone(tree);
    parseConfig(tree);
    assert.deepEqual(tree, before);
    assert.ok(!Object.isFrozen((tree['auth'] as Record<string, unknown>)['htpasswd']));
  });

  it('does not share default objects between parses', () => {
    const a = parseConfig(minimal());
    const b = parseConfig(minimal());
    assert.notEqual(a.http.headers, b.http.headers);
    assert.deepEqual(a, b);
  });

  it('fills defaults of optional sections once present', () => {
    const config = parseConfig(minimal({ http: { tls: { certificate: '/c.pem', key: '/k.pem' }, debug: { addr: ':5001' } } }));
    assert.deepEqual(config.http.tls, { certificate: '/c.pem', key: '/k.pem', clientcas: [], clientauth: 'require-and-verify-client-cert', minimumtls: 'tls1.2', ciphersuites: [] });
    assert.deepEqual(config.http.debug, { addr: ':5001', prometheus: { enabled: false, path: '/metrics' } });
  });
});

describe('config schema: values', () => {
  const cases: ReadonlyArray<{ name: string; tree: Record<string, unknown>; check: (c: Config) => unknown; want: unknown }> = [
    { name: 'version as a YAML float', tree: minimal({ version: 0.1 }), check: (c) => c.version, want: '0.1' },
    { name: 'log level is case-insensitive', tree: minimal({ log: { level: 'DEBUG' } }), check: (c) => c.log.level, want: 'debug' },
    { name: 'log level panic is error', tree: minimal({ log: { level: 'panic' } }), check: (c) => c.log.level, want: 'error' },
    { name: 'log level fatal is error', tree: minimal({ log: { level: 'fatal' } }), check: (c) => c.log.level, want: 'error' },
    { name: 'log level warning is warn', tree: minimal({ log: { level: 'warning' } }), check: (c) => c.log.level, want: 'warn' },
    { name: 'log level trace is debug', tree: minimal({ log: { level: 'trace' } }), check: (c) => c.log.level, want: 'debug' },
    { name: 'deprecated loglevel sets log.level', tree: minimal({ loglevel: 'warn' }), check: (c) => c.log.level, want: 'warn' },
    { name: 'log.level wins over loglevel', tree: minimal({ loglevel: 'warn', log: { level: 'debug' } }), check: (c) => c.log.level, want: 'debug' },
    { name: 'loglevel is not in the output', tree: minimal({ loglevel: 'warn' }), check: (c) => 'loglevel' in c, want: false },
    { name: 'formatter logstash is json', tree: minimal({ log: { formatter: 'logstash' } }), check: (c) => c.log.formatter, want: 'json' },
    { name: 'log field keys keep their case', tree: minimal({ log: { fields: { Service: 'registry', n: 1, b: true } } }), check: (c) => c.log.fields, want: { Service: 'registry', n: 1, b: true } },
    { name: 'yes is a boolean', tree: minimal({ storage: { inmemory: null, delete: { enabled: 'yes' } } }), check: (c) => c.storage.delete.enabled, want: true },
    { name: 'url patterns, one or a list', tree: minimal({ validation: { manifests: { urls: { allow: '^https://a/', deny: ['^https://a/x', '(?i)secret'] } } } }), check: (c) => c.validation.manifests.urls, want: { allow: ['^https://a/'], deny: ['^https://a/x', '(?i)secret'] } },
    { name: 'index platforms, case-insensitive', tree: minimal({ validation: { manifests: { indexes: { platforms: 'List', platformlist: [{ os: 'linux', architecture: 'amd64' }] } } } }), check: (c) => c.validation.manifests.indexes, want: { platforms: 'list', platformlist: [{ os: 'linux', architecture: 'amd64' }] } },
    { name: 'an empty unimplemented section is accepted', tree: minimal({ proxy: null, middleware: {}, compatibility: '', policy: { repository: { classes: [] } } }), check: (c) => [c.proxy, c.middleware, c.compatibility], want: [undefined, undefined, undefined] },
    { name: 'off is a boolean', tree: minimal({ http: { relativeurls: 'off' } }), check: (c) => c.http.relativeurls, want: false },
    { name: 'a number where a string is expected is its text', tree: minimal({ http: { secret: 12345 } }), check: (c) => c.http.secret, want: '12345' },
    { name: 'durations become milliseconds', tree: minimal({ storage: { inmemory: {}, maintenance: { uploadpurging: { age: '1h30m', interval: '10s' } } } }), check: (c) => [c.storage.maintenance.uploadpurging.age, c.storage.maintenance.uploadpurging.interval], want: [5_400_000, 10_000] },
    { name: 'an integer duration is nanoseconds', tree: minimal({ http: { draintimeout: 60_000_000_000 } }), check: (c) => c.http.draintimeout, want: 60_000 },
    { name: 'the storage shorthand string', tree: minimal({ storage: 'inmemory' }), check: (c) => [c.storage.driver, c.storage.inmemory], want: ['inmemory', {}] },
    { name: 'a driver with no parameters (null)', tree: minimal({ storage: { inmemory: null } }), check: (c) => [c.storage.driver, c.storage.inmemory], want: ['inmemory', {}] },
    { name: 's3 parameters are parsed with the tree', tree: minimal({ storage: { s3: { bucket: 'b', region: 'r', chunksize: '5242880' } } }), check: (c) => [c.storage.driver, c.storage.s3?.bucket, c.storage.s3?.region, c.storage.s3?.chunkSize], want: ['s3', 'b', 'r', 5242880] },
    { name: 'azure parameters are parsed with the tree', tree: minimal({ storage: { azure: { accountname: 'a', container: 'registry' } } }), check: (c) => [c.storage.driver, c.storage.azure?.auth.kind], want: ['azure', 'default_credentials'] },
    { name: 'empty rootdirectory means the default', tree: minimal({ storage: { filesystem: { rootdirectory: '' } } }), check: (c) => c.storage.filesystem?.rootdirectory, want: '/var/lib/registry' },
    { name: 'layerinfo is the old name of blobdescriptor', tree: minimal({ storage: { inmemory: {}, cache: { layerinfo: 'inmemory' } } }), check: (c) => c.storage.cache.blobdescriptor, want: 'inmemory' },
    { name: 'concurrencylimit 0 means the default', tree: minimal({ storage: { inmemory: {}, tag: { concurrencylimit: 0 } } }), check: (c) => c.storage.tag.concurrencylimit, want: 8 },
    { name: 'empty addr without tls is :5000', tree: minimal({ http: { addr: '' } }), check: (c) => c.http.addr, want: ':5000' },
    { name: 'null addr without tls is :5000', tree: minimal({ http: { addr: null } }), check: (c) => c.http.addr, want: ':5000' },
    { name: 'empty addr with tls is :443', tree: minimal({ http: { addr: '', tls: { certificate: '/c', key: '/k' } } }), check: (c) => c.http.addr, want: ':443' },
    { name: 'absent addr with tls is :443', tree: minimal({ http: { tls: { certificate: '/c', key: '/k' } } }), check: (c) => c.http.addr, want: ':443' },
    { name: 'a set addr with tls stays', tree: minimal({ http: { addr: ':5443', tls: { certificate: '/c', key: '/k' } } }), check: (c) => c.http.addr, want: ':5443' },
    { name: 'a null tls section is no tls', tree: minimal({ http: { tls: null } }), check: (c) => c.http.tls, want: undefined },
    { name: 'a header scalar becomes a list', tree: minimal({ http: { headers: { 'Strict-Transport-Security': 'max-age=31536000' } } }), check: (c) => c.http.headers, want: { 'Strict-Transport-Security': ['max-age=31536000'] } },
    { name: 'header names keep their case, numbers become text', tree: minimal({ http: { headers: { 'X-Thing': ['a', 2] } } }), check: (c) => c.http.headers, want: { 'X-Thing': ['a', '2'] } },
    { name: 'headers set replace the default', tree: minimal({ http: { headers: {} } }), check: (c) => c.http.headers, want: {} },
    { name: 'a clientcas scalar becomes a list', tree: minimal({ http: { tls: { certificate: '/c', key: '/k', clientcas: '/ca.pem' } } }), check: (c) => c.http.tls?.clientcas, want: ['/ca.pem'] },
    { name: 'prefix gains a leading slash', tree: minimal({ http: { prefix: 'registry' } }), check: (c) => c.http.prefix, want: '/registry' },
    { name: 'prefix loses its trailing slash', tree: minimal({ http: { prefix: '/my/nested/registry/' } }), check: (c) => c.http.prefix, want: '/my/nested/registry' },
    { name: 'prefix / is empty', tree: minimal({ http: { prefix: '/' } }), check: (c) => c.http.prefix, want: '' },
    { name: 'prefix slashes collapse', tree: minimal({ http: { prefix: '//a//b//' } }), check: (c) => c.http.prefix, want: '/a/b' },
    { name: 'host as an https URL', tree: minimal({ http: { host: 'https://registry.example.com:5000' } }), check: (c) => c.http.host, want: 'https://registry.example.com:5000' },
    { name: 'net unix', tree: minimal({ http: { net: 'unix', addr: '/run/berth.sock' } }), check: (c) => [c.http.net, c.http.addr], want: ['unix', '/run/berth.sock'] },
    { name: 'catalog.maxentries', tree: minimal({ catalog: { maxentries: 10 } }), check: (c) => c.catalog.maxentries, want: 10 },
    { name: 'catalog.maxentries 0 or less means 1000, as in Distribution', tree: minimal({ catalog: { maxentries: -5 } }), check: (c) => c.catalog.maxentries, want: 1000 },
    { name: 'an empty catalog section means the defaults', tree: minimal({ catalog: null }), check: (c) => c.catalog.maxentries, want: 1000 },
    { name: 'auth.htpasswd is checked and kept', tree: minimal({ auth: { htpasswd: { realm: 'r', path: '/p' } } }), check: (c) => c.auth?.htpasswd, want: { realm: 'r', path: '/p', workers: 0, maxconcurrentchecks: 16, failures: { window: 60_000, lockout: 60_000, peraddress: 20, peruser: 10 } } },
    {
      name: 'auth.htpasswd limits are read',
      tree: minimal({ auth: { htpasswd: { realm: 'r', path: '/p', workers: 2, maxconcurrentchecks: 0, failures: { window: '5m', lockout: '30s', peraddress: 0, peruser: 3 } } } }),
      check: (c) => c.auth?.htpasswd,
      want: { realm: 'r', path: '/p', workers: 2, maxconcurrentchecks: 0, failures: { window: 300_000, lockout: 30_000, peraddress: 0, peruser: 3 } },
    },
    { name: 'an auth shorthand string', tree: minimal({ auth: 'none' }), check: (c) => c.auth, want: { none: {} } },
    { name: 'an empty string section is unset', tree: minimal({ http: { tls: '', debug: '' }, log: '' }), check: (c) => [c.http.tls, c.http.debug, c.log.level], want: [undefined, undefined, 'info'] },
    { name: 'an empty document section is its defaults', tree: minimal({ log: null, http: null }), check: (c) => [c.log.level, c.http.addr], want: ['info', ':5000'] },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(c.check(parseConfig(c.tree)), c.want));
  }
});

describe('config schema: errors name the key path', () => {
  const cases: ReadonlyArray<readonly [string, unknown, string]> = [
    ['a document that is not a mapping', ['a'], 'config: expected mapping, got list'],
    ['missing version', { storage: { inmemory: {} } }, 'config: version: required'],
    ['unsupported version', minimal({ version: '0.2' }), 'config: version: unsupported version "0.2" (expected 0.1)'],
    ['http.addr of the wrong type', minimal({ http: { addr: [':5000'] } }), 'config: http.addr: expected string, got list'],
    ['an unknown key, with a hint', minimal({ http: { adress: ':5000' } }), 'config: http.adress: unknown key (known keys: addr, net, prefix, host, secret, relativeurls, draintimeout, maxuploads, headers, tls, debug, http2, workers, h2c, ratelimit)'],
    ['a misspelt key', minimal({ http: { secrett: 'x' } }), 'config: http.secrett: unknown key (did you mean "secret"?)'],
    ['catalog.maxentries that is not a number', minimal({ catalog: { maxentries: 'many' } }), 'config: catalog.maxentries: expected number, got string "many"'],
    ['an unknown catalog key', minimal({ catalog: { maxentry: 10 } }), 'config: catalog.maxentry: unknown key (did you mean "maxentries"?)'],
    ['the redis cache without the redis section', minimal({ storage: { inmemory: {}, cache: { blobdescriptor: 'redis' } } }), 'config: storage.cache.blobdescriptor: redis needs the redis section (set redis.addr or redis.addrs)'],
    ['an S3 parameter out of range, in the tree', minimal({ storage: { s3: { bucket: 'b', region: 'r', chunksize: 1 } } }), 'config: storage.s3.chunksize: must be at least 5242880'],
    ['an S3 section without its bucket', minimal({ storage: { s3: null } }), 'config: storage.s3.bucket: required'],
    ['an uppercase key', minimal({ http: { Addr: ':1' } }), 'config: http.Addr: unknown key (did you mean "addr"?)'],
    ['an unknown top-level key', minimal({ storge: {} }), 'config: storge: unknown key (did you mean "storage"?)'],
    ['an unknown nested key', minimal({ storage: { inmemory: {}, maintenance: { uploadpurging: { olderthan: '1h' } } } }), 'config: storage.maintenance.uploadpurging.olderthan: unknown key (known keys: enabled, age, interval, dryrun)'],
    ['an unknown filesystem parameter', minimal({ storage: { filesystem: { root: '/x' } } }), 'config: storage.filesystem.root: unknown key (known keys: rootdirectory, maxthreads, syncmetadata)'],
    ['a parameter for inmemory', minimal({ storage: { inmemory: { x: 1 } } }), 'config: storage.inmemory.x: unknown key'],
    ['no storage', { version: '0.1' }, 'config: storage: exactly one storage driver must be configured (found: none; supported: filesystem, inmemory, s3, azure)'],
    ['two drivers', minimal({ storage: { filesystem: {}, inmemory: null } }), 'config: storage: exactly one storage driver must be configured (found: filesystem, inmemory)'],
    ['an unsupported driver', minimal({ storage: { gcs: { bucket: 'b' } } }), 'config: storage.gcs: storage driver gcs is not supported (supported: filesystem, inmemory, s3, azure)'],
    ['an unsupported driver by shorthand', minimal({ storage: 'swift' }), 'config: storage.swift: storage driver swift is not supported (supported: filesystem, inmemory, s3, azure)'],
    ['an unknown storage key', minimal({ storage: { inmemory: {}, readonly: {} } }), 'config: storage.readonly: unknown key (known keys: filesystem, inmemory, s3, azure, delete, maintenance, cache, redirect, gc, tag)'],
    ['storage of the wrong type', minimal({ storage: 5 }), 'config: storage: expected mapping, got number 5'],
    ['a bad log level', minimal({ log: { level: 'verbose' } }), 'config: log.level: expected one of error, warn, info, debug, got string "verbose"'],
    ['a bad formatter', minimal({ log: { formatter: 'xml' } }), 'config: log.formatter: expected one of text, json, got string "xml"'],
    ['a log field that is a mapping', minimal({ log: { fields: { a: { b: 1 } } } }), 'config: log.fields.a: expected string, number or boolean, got mapping'],
    ['a level that is an Object.prototype name', minimal({ log: { level: 'constructor' } }), 'config: log.level: expected one of error, warn, info, debug, got string "constructor"'],
    ['a boolean that is an Object.prototype name', minimal({ http: { relativeurls: 'constructor' } }), 'config: http.relativeurls: expected boolean, got string "constructor"'],
    ['a boolean that is not', minimal({ storage: { inmemory: {}, delete: { enabled: 'maybe' } } }), 'config: storage.delete.enabled: expected boolean, got string "maybe"'],
    ['a fractional integer', minimal({ storage: { filesystem: { maxthreads: 1.5 } } }), 'config: storage.filesystem.maxthreads: expected integer, got number 1.5'],
    ['a too small integer', minimal({ storage: { filesystem: { maxthreads: 0 } } }), 'config: storage.filesystem.maxthreads: must be at least 1'],
    ['a negative cache size', minimal({ storage: { inmemory: {}, cache: { blobdescriptorsize: -1 } } }), 'config: storage.cache.blobdescriptorsize: must be at least 0'],
    ['a bad blobdescriptor', minimal({ storage: { inmemory: {}, cache: { blobdescriptor: 'memcached' } } }), 'config: storage.cache.blobdescriptor: expected one of inmemory, redis, got string "memcached"'],
    ['a duration without unit', minimal({ storage: { inmemory: {}, maintenance: { uploadpurging: { age: '100' } } } }), 'config: storage.maintenance.uploadpurging.age: missing unit in duration "100" (units: ns, us, ms, s, m, h); expected a duration such as 30s, 1h30m or 168h'],
    ['a duration in days', minimal({ http: { draintimeout: '7d' } }), 'config: http.draintimeout: unknown unit "d" in duration "7d" (units: ns, us, ms, s, m, h); expected a duration such as 30s, 1h30m or 168h'],
    ['a negative duration', minimal({ http: { draintimeout: '-1s' } }), 'config: http.draintimeout: must not be negative'],
    ['a zero purge interval', minimal({ storage: { inmemory: {}, maintenance: { uploadpurging: { interval: 0 } } } }), 'config: storage.maintenance.uploadpurging.interval: must be a positive duration'],
    ['a duration of the wrong type', minimal({ http: { draintimeout: true } }), 'config: http.draintimeout: expected number, got boolean true'],
    ['a bad net', minimal({ http: { net: 'udp' } }), 'config: http.net: expected one of tcp, unix, got string "udp"'],
    ['unix without a path', minimal({ http: { net: 'unix' } }), 'config: http.addr: a socket path is required when http.net is unix'],
    ['a relative host', minimal({ http: { host: 'registry.example.com' } }), 'config: http.host: must be an absolute http:// or https:// URL'],
    ['a host with another scheme', minimal({ http: { host: 'ftp://registry.example.com' } }), 'config: http.host: must be an absolute http:// or https:// URL'],
    ['a bad header name', minimal({ http: { headers: { 'X Bad': 'v' } } }), 'config: http.headers["X Bad"]: invalid header name'],
    ['a header value with a newline', minimal({ http: { headers: { 'X-A': 'a\r\nb' } } }), 'config: http.headers.X-A[0]: a header value must not contain CR, LF or NUL'],
    ['a header of the wrong type', minimal({ http: { headers: { 'X-A': { b: 1 } } } }), 'config: http.headers.X-A: expected list, got mapping'],
    ['tls without a key', minimal({ http: { tls: { certificate: '/c' } } }), 'config: http.tls.key: required when http.tls is set'],
    ['tls with only letsencrypt', minimal({ http: { tls: { letsencrypt: { cachefile: '/c', email: 'e@x' } } } }), "config: http.tls.certificate: required when http.tls is set (Berth does not obtain certificates from Let's Encrypt)\nconfig: http.tls.key: required when http.tls is set (Berth does not obtain certificates from Let's Encrypt)"],
    ['a bad minimumtls', minimal({ http: { tls: { certificate: '/c', key: '/k', minimumtls: 'ssl3' } } }), 'config: http.tls.minimumtls: expected one of tls1.0, tls1.1, tls1.2, tls1.3, got string "ssl3"'],
    ['an unknown cipher suite', minimal({ http: { tls: { certificate: '/c', key: '/k', ciphersuites: ['TLS_NOPE'] } } }), 'config: http.tls.ciphersuites[0]: expected one of'],
    ['no workers', minimal({ http: { workers: 0 } }), 'config: http.workers: must be a whole number from 1 to 256, or auto'],
    ['workers of the wrong kind', minimal({ http: { workers: 'many' } }), 'config: http.workers: must be a whole number from 1 to 256, or auto'],
    ['debug without addr', minimal({ http: { debug: { prometheus: { enabled: true } } } }), 'config: http.debug.addr: required'],
    ['debug with an empty addr', minimal({ http: { debug: { addr: '' } } }), 'config: http.debug.addr: required'],
    ['middleware, which Berth does not implement', minimal({ middleware: { storage: [{ name: 'redirect' }] } }), 'config: middleware: middleware (registry, repository and storage hooks) is not implemented by Berth; remove this section'],
    ['reporting, which Berth does not implement', minimal({ reporting: { bugsnag: { apikey: 'k' } } }), 'config: reporting: error reporting (bugsnag, newrelic) is not implemented by Berth; remove this section'],
    ['compatibility, which Berth does not implement', minimal({ compatibility: { schema1: { enabled: true } } }), 'config: compatibility: compatibility (schema 1 manifests are always refused) is not implemented by Berth; remove this section'],
    ['repository classes', minimal({ policy: { repository: { classes: ['image'] } } }), 'config: policy.repository.classes: repository classes are not implemented by Berth; remove policy.repository.classes (an empty list is accepted)'],
    ['an unknown policy key', minimal({ policy: { repo: {} } }), 'config: policy.repo: unknown key (known keys: repository)'],
    ['a url pattern that does not compile', minimal({ validation: { manifests: { urls: { allow: ['^https://(a'] } } } }), 'config: validation.manifests.urls.allow[0]: invalid regular expression:'],
    ['a bad index platforms value', minimal({ validation: { manifests: { indexes: { platforms: 'some' } } } }), 'config: validation.manifests.indexes.platforms: expected one of all, none, list, got string "some"'],
    ['a platform without architecture', minimal({ validation: { manifests: { indexes: { platformlist: [{ os: 'linux' }] } } } }), 'config: validation.manifests.indexes.platformlist[0].architecture: required'],
    ['a loose section of the wrong type', minimal({ redis: ['localhost:6379'] }), 'config: redis: expected mapping, got list'],
  ];
  for (const [name, tree, message] of cases) {
    it(name, () => {
      const err = configError(tree);
      if (message.endsWith('expected one of') || message.endsWith('invalid regular expression:')) assert.ok(err.message.startsWith(message), err.message);
      else assert.equal(err.message, message);
    });
  }

  it('collects every issue, one per line', () => {
    const err = configError({
      version: '0.1',
      log: { level: 'loud' },
      storage: { filesystem: {}, inmemory: {}, delete: { enabled: 3 } },
      http: { adress: ':1', addr: 5, relativeurls: 'sometimes' },
    });
    assert.deepEqual(err.message.split('\n'), [
      'config: log.level: expected one of error, warn, info, debug, got string "loud"',
      'config: storage.delete.enabled: expected boolean, got number 3',
      'config: storage: exactly one storage driver must be configured (found: filesystem, inmemory)',
      'config: http.relativeurls: expected boolean, got string "sometimes"',
      'config: http.adress: unknown key (known keys: addr, net, prefix, host, secret, relativeurls, draintimeout, maxuploads, headers, tls, debug, http2, workers, h2c, ratelimit)',
    ]);
    assert.equal(err.issues.length, 5);
    assert.deepEqual(err.issues[1], { path: 'storage.delete.enabled', message: 'expected boolean, got number 3' });
    assert.equal(err.code, 'CONFIG_INVALID');
    assert.equal(err.name, 'ConfigError');
  });

  it('reports an unsupported driver next to a supported one, and both problems', () => {
    const err = configError(minimal({ storage: { filesystem: {}, inmemory: {}, oss: {} } }));
    assert.deepEqual(err.message.split('\n'), [
      'config: storage.oss: storage driver oss is not supported (supported: filesystem, inmemory, s3, azure)',
      'config: storage: exactly one storage driver must be configured (found: filesystem, inmemory)',
    ]);
  });
});

describe('config schema: introspection', () => {
  it('knownKeysAt lists the keys of a checked mapping', () => {
    assert.deepEqual(knownKeysAt(['storage', 'maintenance']), ['uploadpurging', 'readonly']);
    assert.deepEqual(knownKeysAt(['auth']), ['htpasswd', 'token', 'silly', 'none', 'policies']);
    assert.deepEqual(knownKeysAt(['nope']), []);
  });

  it('configKeyPaths lists leaf keys, with maps and loose sections as one path', () => {
    const paths = configKeyPaths();
    for (const p of ['version', 'storage.driver', 'storage.maintenance.uploadpurging.age', 'http.headers', 'http.tls.minimumtls', 'auth.htpasswd.path', 'storage.inmemory']) {
      assert.ok(paths.includes(p), p);
    }
    for (const p of ['loglevel', 'storage.gcs', 'http.headers.X-Content-Type-Options']) assert.ok(!paths.includes(p), p);
  });
});

describe('http.workers', () => {
  it('takes a count or auto, from YAML or REGISTRY_HTTP_WORKERS', async () => {
    assert.equal(parseConfig(minimal({ http: { workers: 4 } })).http.workers, 4);
    assert.equal(parseConfig(minimal({ http: { workers: 'auto' } })).http.workers, 'auto');
    assert.equal(parseConfig(minimal()).http.workers, 1);
    assert.equal((await loadConfig({ env: { REGISTRY_HTTP_WORKERS: 'auto' } })).http.workers, 'auto');
    assert.equal((await loadConfig({ env: { REGISTRY_HTTP_WORKERS: '3' } })).http.workers, 3);
    assert.equal(workerCount(3), 3);
    assert.equal(workerCount('auto'), availableParallelism());
  });
});
