/**
 * TagLists: the validated list of resolvable tags stays exact when another replica (or online GC, or
 * a crash) changes the storage underneath it, and costs no per-tag reads while nothing changed.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import type { FileInfo } from '../../src/storage/driver/driver.js';
import { LinkCache } from '../../src/storage/link-cache.js';
import { MAX_LIST_AGE_MS, TagLists } from '../../src/storage/tag-list.js';
import * as paths from '../../src/storage/paths.js';
import type { Digest } from '../../src/oci/digest.js';
import type { RepositoryName, Tag } from '../../src/oci/reference.js';

const NAME = 'team/app' as RepositoryName;
const digest = (c: string): Digest => `sha256:${c.repeat(64)}` as Digest;
const A = digest('a');
const B = digest('b');

/** Counts whole-content reads and listings: the per-tag work a validated list saves. */
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

/** What Berth's putManifest writes, in its order: the revision, the tag's index entry, its current link. */
async function push(driver: FilesystemDriver | InMemoryDriver, tag: string, d: Digest): Promise<void> {
  await driver.putContent(paths.revisionLinkPath(NAME, d), Buffer.from(d));
  await driver.putContent(paths.tagIndexLinkPath(NAME, tag as Tag, d), Buffer.from(d));
  await driver.putContent(paths.tagCurrentLinkPath(NAME, tag as Tag), Buffer.from(d));
}

async function withFs<T>(run: (writer: FilesystemDriver, reader: CountingFs, clock: { ms: number }, lists: TagLists) => Promise<T>): Promise<T> {
  const root = await mkdtemp(join(tmpdir(), 'berth-tag-list-'));
  try {
    const writer = new FilesystemDriver({ rootdirectory: root }); // another replica
    const reader = new CountingFs({ rootdirectory: root });
    // An hour ahead: every directory looks settled (the 3-second rule is LinkCache's test), so what
    // is shown here is that each change moves a version the key holds.
    const clock = { ms: Date.now() + 3_600_000 };
    const now = (): number => clock.ms;
    return await run(writer, reader, clock, new TagLists(reader, new LinkCache(reader, now), now));
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}

const tagsOf = async (lists: TagLists): Promise<readonly string[] | undefined> => (await lists.stored(NAME))?.tags;

describe('TagLists on the filesystem driver (directory versions)', () => {
  it('serves an unchanged list with no per-tag reads', async () => {
    await withFs(async (writer, reader, _clock, lists) => {
      for (let i = 0; i < 20; i++) await push(writer, `t${String(i).padStart(2, '0')}`, i % 2 === 0 ? A : B);
      assert.equal((await tagsOf(lists))?.length, 20);
      const [reads, listed] = [reader.reads, reader.lists];
      for (let i = 0; i < 5; i++) assert.equal((await tagsOf(lists))?.length, 20);
      assert.deepEqual([reader.reads, reader.lists], [reads, listed], 'validated by stats alone');
    });
  });

  it('drops a tag at once when another replica deletes its revision (the directory goes)', async () => {
    await withFs(async (writer, _reader, _clock, lists) => {
      await push(writer, 'a', A);
      await push(writer, 'b', B);
      assert.deepEqual(await tagsOf(lists), ['a', 'b']);
      await writer.delete(paths.revisionLinkPath(NAME, B).slice(0, -'/link'.length));
      assert.deepEqual(await tagsOf(lists), ['a']);
    });
  });

  it('never lists a half-written tag, and lists it at once when another replica completes it', async () => {
    await withFs(async (writer, _reader, _clock, lists) => {
      await push(writer, 'a', A);
      // A crash between tag()'s two writes: the index entry, no current link.
      await writer.putContent(paths.tagIndexLinkPath(NAME, 'half' as Tag, B), Buffer.from(B));
      await writer.putContent(paths.revisionLinkPath(NAME, B), Buffer.from(B));
      assert.deepEqual(await tagsOf(lists), ['a']);
      assert.deepEqual(await tagsOf(lists), ['a']);
      // Completing it changes only tags/half/current/: the tags directory's version stays.
      await writer.putContent(paths.tagCurrentLinkPath(NAME, 'half' as Tag), Buffer.from(B));
      assert.deepEqual(await tagsOf(lists), ['a', 'half']);
    });
  });

  it('lists a tag another replica adds, and drops one it deletes, at once', async () => {
    await withFs(async (writer, _reader, _clock, lists) => {
      await push(writer, 'a', A);
      assert.deepEqual(await tagsOf(lists), ['a']);
      await push(writer, 'b', A);
      assert.deepEqual(await tagsOf(lists), ['a', 'b']);
      await writer.delete(paths.tagPath(NAME, 'a' as Tag));
      assert.deepEqual(await tagsOf(lists), ['b']);
    });
  });

  it('drops a tag at once when online GC deletes its revision (the link goes, the directory stays, the marker goes)', async () => {
    await withFs(async (writer, _reader, _clock, lists) => {
      await push(writer, 'a', A);
      await push(writer, 'b', B);
      // Listed while GC never condemned anything here (its markers' directory absent: an ancestor stands for it).
      assert.deepEqual(await tagsOf(lists), ['a', 'b']);
      await writer.putContent(paths.condemnedRevisionPath(NAME, B), Buffer.from(new Date().toISOString()));
      assert.deepEqual(await tagsOf(lists), ['a', 'b'], 'condemnation is the caller’s (Repository asks the GC guard)');
      // deleteRevisionGuarded: move the link to the trash, then delete the marker.
      await writer.move(paths.revisionLinkPath(NAME, B), '/docker/registry/v2/_berth/gc/trash/run/link');
      await writer.delete(paths.condemnedRevisionPath(NAME, B));
      assert.deepEqual(await tagsOf(lists), ['a']);
    });
  });

  it(`sees what only a foreign writer could do unseen (a revision link deleted, its directory kept) within ${MAX_LIST_AGE_MS} ms`, async () => {
    await withFs(async (writer, _reader, clock, lists) => {
      await push(writer, 'a', A);
      await push(writer, 'b', B);
      assert.deepEqual(await tagsOf(lists), ['a', 'b']);
      await writer.delete(paths.revisionLinkPath(NAME, B)); // Distribution's DELETE by digest
      clock.ms += MAX_LIST_AGE_MS;
      assert.deepEqual(await tagsOf(lists), ['a']);
    });
  });

  it('is undefined without a tags directory', async () => {
    await withFs(async (_writer, _reader, _clock, lists) => {
      assert.equal(await lists.stored(NAME), undefined);
    });
  });
});

/** An object store in memory: no directory versions; walked files carry the MD5 ETag S3 gives a PUT. */
class EtagDriver extends InMemoryDriver {
  reads = 0;
  override async getContent(path: string, signal?: AbortSignal): Promise<Buffer> {
    this.reads++;
    return super.getContent(path, signal);
  }
  override async *walk(path: string, signal?: AbortSignal): AsyncGenerator<FileInfo> {
    for await (const entry of super.walk(path, signal)) {
      if (entry.isDir) yield entry;
      else yield { ...entry, version: `"${createHash('md5').update(await super.getContent(entry.path)).digest('hex')}"` };
    }
  }
}

describe('TagLists on a driver without directory versions (two walks)', () => {
  it('reads only the current links whose version changed, and is exact on every read', async () => {
    const driver = new EtagDriver();
    const lists = new TagLists(driver, new LinkCache(driver));
    await push(driver, 'a', A);
    await push(driver, 'b', B);
    await driver.putContent(paths.tagIndexLinkPath(NAME, 'half' as Tag, A), Buffer.from(A));
    assert.deepEqual(await tagsOf(lists), ['a', 'b']);
    assert.equal(driver.reads, 2);
    assert.deepEqual(await tagsOf(lists), ['a', 'b']);
    assert.equal(driver.reads, 2, 'unchanged links are not read again');
    await driver.putContent(paths.tagCurrentLinkPath(NAME, 'a' as Tag), Buffer.from(B));
    assert.deepEqual(await lists.stored(NAME), { tags: ['a', 'b'], digests: [B, B] });
    assert.equal(driver.reads, 3);
    await driver.delete(paths.revisionLinkPath(NAME, B));
    assert.deepEqual(await tagsOf(lists), []);
    await driver.putContent(paths.tagCurrentLinkPath(NAME, 'half' as Tag), Buffer.from(A));
    await driver.putContent(paths.revisionLinkPath(NAME, A), Buffer.from(A));
    assert.deepEqual(await tagsOf(lists), ['half']);
  });
});
