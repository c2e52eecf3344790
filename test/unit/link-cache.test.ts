import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemDriver } from '../../src/storage/driver/filesystem.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory.js';
import { LinkCache } from '../../src/storage/link-cache.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const PATH = '/docker/registry/v2/repositories/x/_manifests/tags/latest/current/link';

/** Counts whole-content reads, to show which reads the cache saved. */
class CountingFs extends FilesystemDriver {
  reads = 0;
  override async getContent(path: string, signal?: AbortSignal): Promise<Buffer> {
    this.reads++;
    return super.getContent(path, signal);
  }
}

describe('LinkCache', () => {
  it('serves repeated reads from memory, validated by one stat, and sees writes by another process at once', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-links-'));
    try {
      const writer = new FilesystemDriver({ rootdirectory: dir }); // another replica
      const reader = new CountingFs({ rootdirectory: dir });
      const cache = new LinkCache(reader);
      await writer.putContent(PATH, Buffer.from(A));
      assert.equal(await cache.readLink(PATH), A);
      assert.equal(await cache.readLink(PATH), A);
      assert.equal(await cache.readLink(PATH), A);
      assert.equal(reader.reads, 1, 'unchanged links are not read again');
      for (let i = 0; i < 20; i++) {
        const next = i % 2 === 0 ? B : A;
        await writer.putContent(PATH, Buffer.from(next));
        assert.equal(await cache.readLink(PATH), next, `write ${i} seen at once`);
      }
      await writer.delete(PATH);
      assert.equal(await cache.readLink(PATH), undefined);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
  it('reads every time from a driver that reports no versions', async () => {
    const driver = new InMemoryDriver();
    const cache = new LinkCache(driver);
    await driver.putContent(PATH, Buffer.from(A));
    assert.equal(await cache.readLink(PATH), A);
    await driver.putContent(PATH, Buffer.from(B));
    assert.equal(await cache.readLink(PATH), B);
  });
});
