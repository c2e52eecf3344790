/** The examples users copy (examples/) configure what they say they do. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse, parseAllDocuments } from 'yaml';
import { loadConfig } from '../../src/config/load.js';
import { repoRoot } from '../helpers/registries.js';

const example = (name: string): string => readFileSync(join(repoRoot, 'examples', name), 'utf8');

describe('examples/', () => {
  it('compose.yaml: every replica runs S3 storage with the Redis cache and a shared secret', async () => {
    const compose = parse(example('compose.yaml'), { merge: true }) as { services: Record<string, { image?: string; environment?: Record<string, string> }> };
    const replicas = Object.values(compose.services).filter((s) => s.image === 'localhost/berth:latest');
    assert.equal(replicas.length, 2);
    for (const replica of replicas) {
      const config = await loadConfig({ env: replica.environment ?? {} });
      assert.equal(config.storage.driver, 's3');
      assert.equal(config.storage.cache.blobdescriptor, 'redis');
      assert.notEqual(config.http.secret, '');
    }
  });

  it('kubernetes.yaml: the container\'s variables are configuration keys; probes use the debug server', async () => {
    const docs = parseAllDocuments(example('kubernetes.yaml')).map((d) => d.toJS() as { kind: string; spec?: { template?: { spec: { containers: Array<{ env: Array<{ name: string; value?: string }>; readinessProbe: { httpGet: { path: string } } }> } } } });
    const deployment = docs.find((d) => d.kind === 'Deployment');
    const container = deployment?.spec?.template?.spec.containers[0];
    assert.ok(container !== undefined);
    const env = Object.fromEntries(container.env.map((e) => [e.name, e.value ?? 'from-a-secret']));
    const config = await loadConfig({ env });
    assert.equal(config.http.debug?.addr, ':5001');
    assert.equal(container.readinessProbe.httpGet.path, '/debug/ready');
  });

  it('berth.service starts node directly (no npm in between) on a configuration file', () => {
    const unit = example('berth.service');
    assert.match(unit, /^ExecStart=\/usr\/bin\/node \/opt\/berth\/bin\/berth\.js serve \S+\.yml$/m);
    assert.doesNotMatch(unit, /ExecStart=.*npm/);
  });
});
