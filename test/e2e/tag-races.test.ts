/**
 * Issue 10 item 5 across processes: PUT by tag racing DELETE by digest leaves every tag listed and
 * resolvable, or neither — on two Berth replicas over one Ceph RGW bucket (no Redis, no lock),
 * and on one Berth with `http.workers: 2`.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ensureCeph, createTestBucket, removeTestBucket, s3StorageYaml } from '../helpers/ceph.js';
import { startBerth, type RegistryHandle } from '../helpers/registries.js';
import { freePort } from '../helpers/ports.js';
import { raceTagAndDelete } from '../helpers/tag-races.js';

const ROUNDS = 40;

describe('PUT by tag racing DELETE by digest, across processes', { timeout: 10 * 60_000 }, () => {
  it(`two replicas over one S3 bucket: PUT on one, DELETE on the other (${ROUNDS} rounds)`, async (t) => {
    const s3 = await ensureCeph();
    const bucket = await createTestBucket('berth-tag-races');
    const replicas: RegistryHandle[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const port = await freePort();
        const config = `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
${s3StorageYaml(s3, bucket, ['rootdirectory: /registry'])}
  delete:
    enabled: true
  redirect:
    disable: true
http:
  addr: 127.0.0.1:${port}
  secret: shared-replica-secret
`;
        replicas.push(await startBerth({ port, configYaml: config }));
      }
      const result = await raceTagAndDelete(
        replicas.map((r) => r.url),
        'race/s3',
        ROUNDS,
      ).catch((err: unknown) => {
        throw new Error(`${String(err)}\n${replicas.map((r) => r.output()).join('\n')}`);
      });
      t.diagnostic(`outcomes: ${JSON.stringify(result.outcomes)}`);
      assert.deepEqual(result.inconsistent, []);
    } finally {
      for (const r of replicas) await r.stop();
      await removeTestBucket(bucket).catch(() => undefined);
    }
  });

  it(`http.workers: 2 on filesystem storage (${ROUNDS} rounds)`, async (t) => {
    const work = await mkdtemp(join(tmpdir(), 'berth-tag-races-workers-'));
    const port = await freePort();
    const berth = await startBerth({
      port,
      configYaml: stringify({
        version: 0.1,
        log: { level: 'warn', accesslog: { disabled: true } },
        storage: { filesystem: { rootdirectory: join(work, 'data') }, delete: { enabled: true } },
        http: { addr: `127.0.0.1:${port}`, workers: 2, secret: 'workers-secret' },
      }),
    });
    try {
      const result = await raceTagAndDelete([berth.url], 'race/workers', ROUNDS);
      t.diagnostic(`outcomes: ${JSON.stringify(result.outcomes)}`);
      assert.deepEqual(result.inconsistent, []);
    } finally {
      await berth.stop();
      await rm(work, { recursive: true, force: true });
    }
  });
});
