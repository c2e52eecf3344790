import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { applyEnvOverrides, collectEnvOverrides, parseEnvValue } from '../../src/config/env.js';
import { ConfigError } from '../../src/config-fields/config-error.js';

type Env = Record<string, string | undefined>;

describe('applyEnvOverrides', () => {
  const cases: ReadonlyArray<{ name: string; tree: unknown; env: Env; want: unknown }> = [
    {
      name: 'sets an existing key',
      tree: { http: { addr: ':5000' } },
      env: { REGISTRY_HTTP_ADDR: ':5001' },
      want: { http: { addr: ':5001' } },
    },
    {
      name: 'creates nested mappings in lowercase',
      tree: { version: '0.1' },
      env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/somewhere' },
      want: { version: '0.1', storage: { filesystem: { rootdirectory: '/somewhere' } } },
    },
    {
      name: 'matches existing keys case-insensitively and keeps their spelling',
      tree: { http: { headers: { 'X-Content-Type-Options': ['nosniff'] } } },
      env: { 'REGISTRY_HTTP_HEADERS_X-CONTENT-TYPE-OPTIONS': '[sniff]' },
      want: { http: { headers: { 'X-Content-Type-Options': ['sniff'] } } },
    },
    {
      name: 'creates a header whose name has dashes',
      tree: { http: {} },
      env: { 'REGISTRY_HTTP_HEADERS_X-Frame-Options': 'DENY' },
      want: { http: { headers: { 'x-frame-options': 'DENY' } } },
    },
    {
      name: 'parses values as YAML',
      tree: {},
      env: {
        REGISTRY_STORAGE_DELETE_ENABLED: 'true',
        REGISTRY_STORAGE_FILESYSTEM_MAXTHREADS: '5',
        REGISTRY_HTTP_TLS_CLIENTCAS: '[a, b]',
        REGISTRY_LOG_FIELDS: '{service: registry}',
        REGISTRY_HTTP_SECRET: '',
        REGISTRY_HTTP_HOST: '~',
      },
      want: {
        storage: { delete: { enabled: true }, filesystem: { maxthreads: 5 } },
        http: { tls: { clientcas: ['a', 'b'] }, secret: '', host: null },
        log: { fields: { service: 'registry' } },
      },
    },
    {
      name: 'REGISTRY_STORAGE switches the driver and keeps the other storage sections',
      tree: { storage: { filesystem: { rootdirectory: '/x' }, delete: { enabled: true }, maintenance: { readonly: { enabled: true } }, cache: {}, redirect: {}, tag: {} } },
      env: { REGISTRY_STORAGE: 'inmemory' },
      want: { storage: { delete: { enabled: true }, maintenance: { readonly: { enabled: true } }, cache: {}, redirect: {}, tag: {}, inmemory: {} } },
    },
    {
      name: 'REGISTRY_STORAGE removes every other known driver key, however spelled',
      tree: { storage: { Filesystem: {}, gcs: {}, swift: {}, oss: {}, azure: {} } },
      env: { REGISTRY_STORAGE: 'S3' },
      want: { storage: { s3: {} } },
    },
    {
      name: 'REGISTRY_STORAGE naming the configured driver keeps its parameters',
      tree: { storage: { s3: { bucket: 'b' } } },
      env: { REGISTRY_STORAGE: 's3' },
      want: { storage: { s3: { bucket: 'b' } } },
    },
    {
      name: 'REGISTRY_STORAGE is applied before keys inside it',
      tree: { storage: { filesystem: {} } },
      env: { REGISTRY_STORAGE_S3_BUCKET: 'b', REGISTRY_STORAGE_S3_REGION: 'r', REGISTRY_STORAGE: 's3' },
      want: { storage: { s3: { bucket: 'b', region: 'r' } } },
    },
    {
      name: 'a whole section, then a key in it',
      tree: {},
      env: { REGISTRY_HTTP_DEBUG_ADDR: ':5002', REGISTRY_HTTP_DEBUG: '{addr: ":5001", prometheus: {enabled: true}}' },
      want: { http: { debug: { addr: ':5002', prometheus: { enabled: true } } } },
    },
    {
      name: 'the storage shorthand string becomes a mapping before keys are set in it',
      tree: { storage: 'inmemory' },
      env: { REGISTRY_STORAGE_DELETE_ENABLED: 'true' },
      want: { storage: { inmemory: {}, delete: { enabled: true } } },
    },
    {
      name: 'a null value is replaced by a mapping',
      tree: { storage: { inmemory: null } },
      env: { REGISTRY_STORAGE_INMEMORY_X: '1' },
      want: { storage: { inmemory: { x: 1 } } },
    },
    {
      name: 'list indexes set, append and start lists',
      tree: { http: { tls: { clientcas: ['a', 'b'] } } },
      env: { REGISTRY_HTTP_TLS_CLIENTCAS_0: 'x', REGISTRY_HTTP_TLS_CLIENTCAS_2: 'c', REGISTRY_HTTP_TLS_CIPHERSUITES_0: 'TLS_AES_128_GCM_SHA256' },
      want: { http: { tls: { clientcas: ['x', 'b', 'c'], ciphersuites: ['TLS_AES_128_GCM_SHA256'] } } },
    },
    {
      name: 'joined segments match an existing key that contains underscores',
      tree: { storage: { azure: { max_retries: 3 } } },
      env: { REGISTRY_STORAGE_AZURE_MAX_RETRIES: '5' },
      want: { storage: { azure: { max_retries: 5 } } },
    },
    {
      name: 'REGISTRY_CONFIGURATION_PATH is not an override',
      tree: { version: '0.1' },
      env: { REGISTRY_CONFIGURATION_PATH: '/etc/berth/config.yml' },
      want: { version: '0.1' },
    },
    {
      name: 'variables that are not REGISTRY_ overrides are ignored',
      tree: { version: '0.1' },
      env: { HTTP_ADDR: ':1', registry_http_addr: ':2', REGISTRY_PORT: 'tcp://10.0.0.1:5000', REGISTRY_SERVICE_HOST: '10.0.0.1', REGISTRY_HTTP__ADDR: ':3', REGISTRY_: 'x', REGISTRY_HTTP_SECRET: undefined },
      want: { version: '0.1' },
    },
    {
      name: 'an empty document becomes a mapping when something is set',
      tree: null,
      env: { REGISTRY_VERSION: '0.1' },
      want: { version: 0.1 },
    },
    {
      name: 'a document that is not a mapping is left for the schema to report',
      tree: ['a'],
      env: { REGISTRY_HTTP_ADDR: ':1' },
      want: ['a'],
    },
  ];
  for (const c of cases) {
    it(c.name, () => assert.deepEqual(applyEnvOverrides(c.tree, c.env), c.want));
  }

  it('does not modify its input', () => {
    const tree = { storage: { filesystem: { rootdirectory: '/x' }, delete: { enabled: false } }, http: { headers: { A: ['1'] } } };
    const before = structuredClone(tree);
    const out = applyEnvOverrides(tree, { REGISTRY_STORAGE: 'inmemory', REGISTRY_STORAGE_DELETE_ENABLED: 'true', REGISTRY_HTTP_HEADERS_A: '2' });
    assert.deepEqual(tree, before);
    assert.notEqual(out, tree);
  });

  it('returns a copy even without overrides', () => {
    const tree = { http: { addr: ':1' } };
    const out = applyEnvOverrides(tree, {});
    assert.deepEqual(out, tree);
    assert.notEqual(out, tree);
  });

  it('cannot reach the prototype through a key', () => {
    const out = applyEnvOverrides({}, { REGISTRY_LOG_FIELDS_CONSTRUCTOR: 'x', REGISTRY_LOG_FIELDS_PROTOTYPE: 'y' });
    assert.deepEqual(out, { log: { fields: { constructor: 'x', prototype: 'y' } } });
    assert.equal(({} as Record<string, unknown>)['prototype'], undefined);
  });

  const errors: ReadonlyArray<readonly [string, unknown, Env, RegExp]> = [
    ['an index past the end of a list', { http: { tls: { clientcas: ['a'] } } }, { REGISTRY_HTTP_TLS_CLIENTCAS_3: 'x' }, /^config: REGISTRY_HTTP_TLS_CLIENTCAS_3: index 3 is past the end of the list \(length 1\)$/],
    ['a word where a list is', { http: { tls: { clientcas: ['a'] } } }, { REGISTRY_HTTP_TLS_CLIENTCAS_X: 'x' }, /^config: REGISTRY_HTTP_TLS_CLIENTCAS_X: "X" is not a list index$/],
  ];
  for (const [name, tree, env, message] of errors) {
    it(`throws ConfigError for ${name}`, () => {
      assert.throws(() => applyEnvOverrides(tree, env), (err: unknown) => err instanceof ConfigError && message.test(err.message));
    });
  }
});

describe('collectEnvOverrides', () => {
  it('orders shorter paths first, then by name, and lists what it ignores', () => {
    const { overrides, ignored } = collectEnvOverrides({
      REGISTRY_STORAGE_S3_BUCKET: 'b',
      REGISTRY_LOG_LEVEL: 'debug',
      REGISTRY_STORAGE: 's3',
      REGISTRY_HTTP_ADDR: ':1',
      REGISTRY_PORT_5000_TCP: 'tcp://10.0.0.1:5000',
      REGISTRY_CONFIGURATION_PATH: '/x',
      PATH: '/bin',
    });
    assert.deepEqual(
      overrides.map((o) => o.name),
      ['REGISTRY_STORAGE', 'REGISTRY_HTTP_ADDR', 'REGISTRY_LOG_LEVEL', 'REGISTRY_STORAGE_S3_BUCKET'],
    );
    assert.deepEqual(overrides[3]?.path, ['STORAGE', 'S3', 'BUCKET']);
    assert.deepEqual(ignored, ['REGISTRY_PORT_5000_TCP']);
  });
});

describe('parseEnvValue', () => {
  const cases: ReadonlyArray<readonly [string, unknown]> = [
    ['', ''],
    ['   ', ''],
    ['true', true],
    ['5', 5],
    ['0.1', 0.1],
    ['[a, b]', ['a', 'b']],
    ['{a: 1}', { a: 1 }],
    ['null', null],
    ['~', null],
    [':5000', ':5000'],
    ['localhost:5000', 'localhost:5000'],
    ['/var/lib/registry', '/var/lib/registry'],
    ['"0123"', '0123'],
    ['[::]:5000', '[::]:5000'], // not YAML: taken literally
    ['*secret', '*secret'],
    ['#secret', '#secret'], // all comment: taken literally rather than as null
  ];
  for (const [raw, want] of cases) {
    it(`${JSON.stringify(raw)} -> ${JSON.stringify(want)}`, () => assert.deepEqual(parseEnvValue(raw), want));
  }
});
