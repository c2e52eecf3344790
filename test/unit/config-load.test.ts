import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, DEFAULT_CONFIG_YAML, loadConfig, parseConfigYaml, resolveConfigPath } from '../../src/config/load.js';

let dir = '';
before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'berth-config-'));
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function write(name: string, text: string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, text);
  return path;
}

async function rejection(promise: Promise<unknown>): Promise<ConfigError> {
  try {
    await promise;
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  assert.fail('expected a ConfigError');
}

const FILE = `version: 0.1
storage:
  filesystem:
    rootdirectory: /srv/registry
http:
  addr: :6000
  secret: from-file
`;

describe('loadConfig', () => {
  it('reads the file given by path', async () => {
    const path = await write('path.yml', FILE);
    const config = await loadConfig({ path, env: {} });
    assert.equal(config.storage.filesystem?.rootdirectory, '/srv/registry');
    assert.equal(config.http.addr, ':6000');
    assert.ok(Object.isFrozen(config.http));
  });

  it('reads the file named by REGISTRY_CONFIGURATION_PATH when no path is given', async () => {
    const path = await write('env.yml', FILE.replace(':6000', ':6001'));
    const config = await loadConfig({ env: { REGISTRY_CONFIGURATION_PATH: path } });
    assert.equal(config.http.addr, ':6001');
  });

  it('prefers the path over REGISTRY_CONFIGURATION_PATH', async () => {
    const path = await write('prefer.yml', FILE);
    const config = await loadConfig({ path, env: { REGISTRY_CONFIGURATION_PATH: join(dir, 'missing.yml') } });
    assert.equal(config.http.addr, ':6000');
  });

  it('uses the embedded default without a file', async () => {
    const config = await loadConfig({ env: {} });
    assert.equal(config.version, '0.1');
    assert.equal(config.log.level, 'info');
    assert.equal(config.log.formatter, 'text');
    assert.equal(config.storage.driver, 'filesystem');
    assert.equal(config.storage.filesystem?.rootdirectory, './data');
    assert.equal(config.storage.delete.enabled, true);
    assert.equal(config.http.addr, ':5000');
    assert.deepEqual(config.http.headers, { 'X-Content-Type-Options': ['nosniff'] });
  });

  it('refuses a section Berth does not implement, also from the environment, naming it', async () => {
    await assert.rejects(loadConfig({ env: { REGISTRY_MIDDLEWARE_STORAGE: '[{name: redirect}]' } }), (err: unknown) => err instanceof ConfigError && err.message === 'config: middleware: middleware (registry, repository and storage hooks) is not implemented by Berth; remove this section (from the environment variable REGISTRY_MIDDLEWARE_STORAGE)');
  });

  it('reads validation.manifests.urls.allow from the environment as a YAML list', async () => {
    const config = await loadConfig({ env: { REGISTRY_VALIDATION_MANIFESTS_URLS_ALLOW: "['^https://cdn\\.example\\.com/']" } });
    assert.deepEqual(config.validation.manifests.urls.allow, ['^https://cdn\\.example\\.com/']);
  });

  it('treats an empty REGISTRY_CONFIGURATION_PATH as unset', async () => {
    const config = await loadConfig({ env: { REGISTRY_CONFIGURATION_PATH: '' } });
    assert.equal(config.storage.filesystem?.rootdirectory, './data');
  });

  it('applies environment overrides over the file', async () => {
    const path = await write('override.yml', FILE);
    const config = await loadConfig({
      path,
      env: { REGISTRY_HTTP_ADDR: ':7000', REGISTRY_HTTP_SECRET: 'from-env', REGISTRY_LOG_LEVEL: 'debug', REGISTRY_STORAGE: 'inmemory', REGISTRY_STORAGE_DELETE_ENABLED: 'true' },
    });
    assert.equal(config.http.addr, ':7000');
    assert.equal(config.http.secret, 'from-env');
    assert.equal(config.log.level, 'debug');
    assert.equal(config.storage.driver, 'inmemory');
    assert.equal(config.storage.filesystem, undefined);
    assert.equal(config.storage.delete.enabled, true);
  });

  it('applies environment overrides to the embedded default', async () => {
    const config = await loadConfig({ env: { REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: '/somewhere' } });
    assert.equal(config.storage.filesystem?.rootdirectory, '/somewhere');
  });

  it('ignores Kubernetes service variables for a service named registry', async () => {
    const config = await loadConfig({ env: { REGISTRY_PORT: 'tcp://10.0.0.1:5000', REGISTRY_SERVICE_HOST: '10.0.0.1', REGISTRY_PORT_5000_TCP_ADDR: '10.0.0.1' } });
    assert.equal(config.http.addr, ':5000');
  });

  it('reports a bad override with its key path and the variable it came from, the unknown key first', async () => {
    const err = await rejection(loadConfig({ env: { REGISTRY_HTTP_ADRESS: ':1', REGISTRY_STORAGE_DELETE_ENABLED: 'sometimes' } }));
    assert.match(err.message, /^config: storage\.delete\.enabled: expected boolean, got string "sometimes" \(from the environment variable REGISTRY_STORAGE_DELETE_ENABLED\)$/m);
    assert.match(err.message, /^config: http\.adress: unknown key.*\(from the environment variable REGISTRY_HTTP_ADRESS\)$/m);
  });

  it('checks S3 and Azure parameters when it loads, naming the key and the variable', async () => {
    // They were passed through unchecked and parsed by the driver at start, where no variable was named.
    const env = { REGISTRY_STORAGE: 's3', REGISTRY_STORAGE_S3_BUCKET: 'images', REGISTRY_STORAGE_S3_REGION: 'eu-west-1', REGISTRY_STORAGE_S3_CHUNKSIZE: '1024' };
    await assert.rejects(loadConfig({ env }), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.message, 'config: storage.s3.chunksize: must be at least 5242880 (from the environment variable REGISTRY_STORAGE_S3_CHUNKSIZE)');
      return true;
    });
    await assert.rejects(loadConfig({ env: { REGISTRY_STORAGE: 'azure', REGISTRY_STORAGE_AZURE_CONTAINER: 'registry' } }), (err: unknown) => {
      assert.ok(err instanceof ConfigError, String(err));
      assert.equal(err.message, 'config: storage.azure.accountname: required (or set connectionstring) (from the environment variable REGISTRY_STORAGE)');
      return true;
    });
    const config = await loadConfig({ env: { ...env, REGISTRY_STORAGE_S3_CHUNKSIZE: '5242880', REGISTRY_STORAGE_S3_SECURE: 'f' } });
    assert.equal(config.storage.s3?.chunkSize, 5 * 1024 * 1024);
    assert.equal(config.storage.s3?.secure, false);
    assert.ok(Object.isFrozen(config.storage.s3));
  });

  it('puts a mistyped key (the cause) before what follows from it', async () => {
    const path = await write('typo.yml', 'version: 0.1\nstorge:\n  inmemory: {}\n');
    const err = await rejection(loadConfig({ path, env: {} }));
    const lines = err.message.split('\n');
    assert.match(lines[0] ?? '', /^config: storge: unknown key/);
    assert.ok(lines.some((l) => /exactly one storage driver/.test(l)));
  });

  it('reports a YAML syntax error with the file and line', async () => {
    const path = await write('broken.yml', 'version: 0.1\nstorage:\n  filesystem: {rootdirectory: /x\nhttp:\n  addr: ":5000"\n');
    const err = await rejection(loadConfig({ path, env: {} }));
    assert.match(err.message, new RegExp(`^config: ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:\\d+:\\d+: `));
    assert.ok(err.issues.length >= 1);
  });

  it('reports a duplicate key as a YAML error', async () => {
    const path = await write('duplicate.yml', 'version: 0.1\nstorage:\n  inmemory:\nstorage:\n  filesystem:\n');
    const err = await rejection(loadConfig({ path, env: {} }));
    assert.match(err.message, /duplicate\.yml:\d+:\d+: Map keys must be unique/);
  });

  it('reports a missing file', async () => {
    const path = join(dir, 'absent.yml');
    const err = await rejection(loadConfig({ path, env: {} }));
    assert.match(err.message, /^config: .*absent\.yml: cannot read the configuration file: ENOENT/);
  });

  it('reports schema errors from a file, one per line', async () => {
    const path = await write('invalid.yml', 'version: 0.1\nstorage:\n  filesystem:\n  inmemory:\nhttp:\n  addr: [1]\n');
    const err = await rejection(loadConfig({ path, env: {} }));
    assert.equal(
      err.message,
      'config: storage: exactly one storage driver must be configured (found: filesystem, inmemory)\nconfig: http.addr: expected string, got list',
    );
  });

  it('loads an empty file as an empty document', async () => {
    const path = await write('empty.yml', '');
    const err = await rejection(loadConfig({ path, env: {} }));
    assert.match(err.message, /^config: version: required$/m);
  });
});

describe('parseConfigYaml', () => {
  it('supports merge keys', () => {
    const tree = parseConfigYaml('base: &b {enabled: true}\nother:\n  <<: *b\n  x: 1\n', 'merge.yml');
    assert.deepEqual(tree, { base: { enabled: true }, other: { enabled: true, x: 1 } });
  });

  it('names the source and position of each error', () => {
    assert.throws(
      () => parseConfigYaml('a: [1, 2\n', 'inline.yml'),
      (err: unknown) => err instanceof ConfigError && /^config: inline\.yml:\d+:\d+: /.test(err.message),
    );
  });
});

describe('resolveConfigPath', () => {
  const cases: ReadonlyArray<readonly [string, Parameters<typeof resolveConfigPath>[0], string | undefined]> = [
    ['path', { path: '/a.yml', env: { REGISTRY_CONFIGURATION_PATH: '/b.yml' } }, '/a.yml'],
    ['env', { env: { REGISTRY_CONFIGURATION_PATH: '/b.yml' } }, '/b.yml'],
    ['neither', { env: {} }, undefined],
    ['empty path', { path: '', env: {} }, undefined],
  ];
  for (const [name, options, want] of cases) it(name, () => assert.equal(resolveConfigPath(options), want));
});

describe('DEFAULT_CONFIG_YAML', () => {
  it('is valid YAML naming version 0.1', () => {
    assert.deepEqual((parseConfigYaml(DEFAULT_CONFIG_YAML, 'default') as Record<string, unknown>)['version'], 0.1);
  });
});
