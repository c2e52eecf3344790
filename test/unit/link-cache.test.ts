import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, utimes } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import { LinkCache, RACY_MS } from '../../src/storage/link-cache.js';
import { PathNotFoundError } from '../../src/storage/driver/errors.js';

const A = `sha256:${'a'.repeat(64)}`;
const B = `sha256:${'b'.repeat(64)}`;
const PATH = '/docker/registry/v2/repositories/x/_manifests/tags/latest/current/link';

/** Counts whole-content reads, to show which reads the cache saved. */
class CountingFs extends FilesystemDriver {
  reads = 0;
  lists = 0;
  override async getContent(path: string, signal?: AbortSignal): Promise<Buffer> {
    this.reads++;
    return super.getContent(path, signal);
  }
  override async list(path: string, signal?: AbortSignal): Promise<string[]> {
    this.lists++;
    return super.list(path, signal);
  }
}

describe('LinkCache', () => {
  it('keeps at most linksize links (the least recently read go first) and reports its usage', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-link-bound-'));
    try {
      const driver = new CountingFs({ rootdirectory: dir });
      const cache = new LinkCache(driver, Date.now, { links: 2 });
      const paths = ['one', 'two', 'three'].map((t) => PATH.replace('latest', t));
      for (const p of paths) await driver.putContent(p, Buffer.from(A));
      for (const p of paths) assert.equal(await cache.readLink(p), A);
      const links = cache.usage().find((u) => u.cache === 'links');
      assert.equal(links?.entries, 2);
      assert.ok((links?.bytes ?? 0) > 2 * PATH.length, 'bytes weigh the paths');
      const before = driver.reads;
      assert.equal(await cache.readLink(paths[2] as string), A);
      assert.equal(driver.reads, before, 'the most recent link is served from memory');
      assert.equal(await cache.readLink(paths[0] as string), A);
      assert.equal(driver.reads, before + 1, 'the oldest was evicted and is read again');
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

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

  const TAGS = '/docker/registry/v2/repositories/x/_manifests/tags';
  const byCode = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

  it('keeps a settled directory listing, validated by one stat, and sees entries another process adds or removes', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-listings-'));
    try {
      const writer = new FilesystemDriver({ rootdirectory: dir }); // another replica
      const reader = new CountingFs({ rootdirectory: dir });
      const cache = new LinkCache(reader);
      for (const tag of ['b', 'a', 'c']) await writer.putContent(`${TAGS}/${tag}/current/link`, Buffer.from(A));
      // Just written: the directory's version is too young to trust, so each read lists.
      assert.deepEqual(await cache.sortedNames(TAGS, byCode), ['a', 'b', 'c']);
      assert.deepEqual(await cache.sortedNames(TAGS, byCode), ['a', 'b', 'c']);
      assert.equal(reader.lists, 2);
      // Settled (last changed longer than RACY_MS ago): read once more, then served from memory.
      const past = new Date(Date.now() - RACY_MS - 10_000);
      await utimes(join(dir, TAGS), past, past);
      assert.deepEqual(await cache.sortedNames(TAGS, byCode), ['a', 'b', 'c']);
      assert.deepEqual(await cache.sortedNames(TAGS, byCode), ['a', 'b', 'c']);
      assert.deepEqual(await cache.sortedNames(TAGS, byCode), ['a', 'b', 'c']);
      assert.equal(reader.lists, 3, 'a settled listing is not read again');
      // Entries added and removed through another process show at once.
      await writer.putContent(`${TAGS}/d/current/link`, Buffer.from(A));
      assert.deepEqual(await cache.sortedNames(TAGS, byCode), ['a', 'b', 'c', 'd']);
      await writer.delete(`${TAGS}/a`);
      assert.deepEqual(await cache.sortedNames(TAGS, byCode), ['b', 'c', 'd']);
      await writer.delete(TAGS);
      await assert.rejects(cache.sortedNames(TAGS, byCode), PathNotFoundError);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lists every time on a network file system (syncmetadata off: no directory versions)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-listings-nfs-'));
    try {
      const reader = new CountingFs({ rootdirectory: dir, syncmetadata: false });
      const cache = new LinkCache(reader);
      await reader.putContent(`${TAGS}/a/current/link`, Buffer.from(A));
      const past = new Date(Date.now() - RACY_MS - 10_000);
      await utimes(join(dir, TAGS), past, past);
      assert.deepEqual(await cache.sortedNames(TAGS, byCode), ['a']);
      assert.deepEqual(await cache.sortedNames(TAGS, byCode), ['a']);
      assert.equal(reader.lists, 2);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });

  it('lists every time on a driver without directory versions', async () => {
    const driver = new InMemoryDriver();
    const cache = new LinkCache(driver, () => Date.now() + 3_600_000);
    await driver.putContent(`${TAGS}/a/current/link`, Buffer.from(A));
    assert.deepEqual(await cache.sortedNames(TAGS, byCode), ['a']);
    await driver.putContent(`${TAGS}/b/current/link`, Buffer.from(A));
    assert.deepEqual(await cache.sortedNames(TAGS, byCode), ['a', 'b']);
  });
});
