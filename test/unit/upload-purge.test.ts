import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Registry } from '../../src/storage/registry.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import { purgeUploads } from '../../src/storage/purge.js';
import { createLogger } from '../../src/log/logger.js';
import type { RepositoryName } from '../../src/oci/reference.js';
import { OciError } from '../../src/oci/errors.js';

const silent = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });

describe('upload purging', () => {
  it('removes uploads older than the age, keeps younger ones, and changes nothing in dry-run', async () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const registry = new Registry({ driver: new InMemoryDriver(), clock: () => now });
    const name = 'purge/me' as RepositoryName;
    const old = await registry.uploads.start(name);
    await registry.uploads.append(name, old.uuid, [Buffer.from('abc')]);
    now = new Date('2026-01-08T12:00:00Z');
    const young = await registry.uploads.start(name);
    const cutoff = new Date(now.getTime() - 168 * 3600_000);

    assert.equal(await purgeUploads(registry, cutoff, true, silent), 1);
    assert.equal((await registry.uploads.info(name, old.uuid)).size, 3, 'dry-run keeps the upload');

    assert.equal(await purgeUploads(registry, cutoff, false, silent), 1);
    await assert.rejects(registry.uploads.info(name, old.uuid), (e: unknown) => e instanceof OciError && e.code === 'BLOB_UPLOAD_UNKNOWN');
    assert.equal((await registry.uploads.info(name, young.uuid)).size, 0);
  });
  it('finds uploads in repositories that have no manifest yet, at any depth', async () => {
    let now = new Date('2026-01-01T00:00:00Z');
    const registry = new Registry({ driver: new InMemoryDriver(), clock: () => now });
    for (const n of ['a', 'a/b/c', 'z']) await registry.uploads.start(n as RepositoryName);
    now = new Date('2026-02-01T00:00:00Z');
    assert.equal(await purgeUploads(registry, new Date('2026-01-15T00:00:00Z'), false, silent), 3);
  });
});
