import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { effectiveListenAddress } from '../../src/http/listen-address.js';
import { resolveConfigPath } from '../../src/config/load.js';

describe('effectiveListenAddress: an empty http.addr, as registry:2 users set it', () => {
  const cases: Array<[string, boolean, string]> = [
    ['', true, ':443'],
    ['', false, ':5000'],
    [':5001', true, ':5001'],
    ['127.0.0.1:80', false, '127.0.0.1:80'],
  ];
  for (const [addr, tls, want] of cases) {
    it(`${JSON.stringify(addr)} with${tls ? '' : 'out'} TLS is ${want}`, () => assert.equal(effectiveListenAddress(addr, tls), want));
  }
});

describe('resolveConfigPath: BERTH_CONFIG_SEARCH (the container image\'s config paths)', () => {
  const dir = mkdtempSync(join(tmpdir(), 'berth-config-search-'));
  const docker = join(dir, 'docker.yml');
  const distribution = join(dir, 'distribution.yml');
  writeFileSync(distribution, 'version: 0.1\n');
  const search = `${docker}:${distribution}`;
  it('takes the first file that exists', () => {
    assert.equal(resolveConfigPath({ env: { BERTH_CONFIG_SEARCH: search } }), distribution);
    writeFileSync(docker, 'version: 0.1\n');
    assert.equal(resolveConfigPath({ env: { BERTH_CONFIG_SEARCH: search } }), docker);
  });
  it('yields to an argument and to REGISTRY_CONFIGURATION_PATH', () => {
    assert.equal(resolveConfigPath({ path: 'a.yml', env: { BERTH_CONFIG_SEARCH: search } }), 'a.yml');
    assert.equal(resolveConfigPath({ env: { BERTH_CONFIG_SEARCH: search, REGISTRY_CONFIGURATION_PATH: 'b.yml' } }), 'b.yml');
  });
  it('is the built-in default when none exists', () => {
    assert.equal(resolveConfigPath({ env: { BERTH_CONFIG_SEARCH: join(dir, 'none.yml') } }), undefined);
    rmSync(dir, { recursive: true, force: true });
  });
});
