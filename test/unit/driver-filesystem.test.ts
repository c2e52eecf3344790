import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, readdirSync, watch } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, utimes, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable, type Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';

import { InvalidOffsetError, InvalidPathError, PathNotFoundError } from '../../src/storage/driver/errors.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';
import { BufferPool } from '../../src/storage/buffer-pool.js';
import { responseSink } from '../../src/http/byte-sink.js';
import { storageDriverSuite } from '../suites/storage-driver.js';

function makeRoot(): Promise<string> {
  return mkdtemp(join(tmpdir(), 'berth-fs-driver-'));
}

storageDriverSuite('filesystem', async () => {
  const root = await makeRoot();
  return { driver: new FilesystemDriver({ rootdirectory: root }), cleanup: () => rm(root, { recursive: true, force: true }) };
});

describe('FilesystemDriver', () => {
  let root: string;
  let driver: FilesystemDriver;

  before(async () => {
    root = await makeRoot();
    driver = new FilesystemDriver({ rootdirectory: root });
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  it('keeps Distribution’s layout: driver path /a/b is <root>/a/b', async () => {
    await driver.putContent('/docker/registry/v2/x', Buffer.from('put'));
    assert.equal(await readFile(join(root, 'docker/registry/v2/x'), 'utf8'), 'put');

    // Upload data is written in place, then moved into the blob store.
    const upload = '/docker/registry/v2/repositories/r/_uploads/u/data';
    const writer = await driver.writer(upload, false);
    await writer.write(Buffer.from('chunk'));
    await writer.close();
    assert.equal(await readFile(join(root, upload), 'utf8'), 'chunk');
    await driver.move(upload, '/docker/registry/v2/blobs/sha256/ab/abc/data');
    assert.equal(await readFile(join(root, 'docker/registry/v2/blobs/sha256/ab/abc/data'), 'utf8'), 'chunk');

    // Data written by Distribution (or anyone) is served as is.
    await mkdir(join(root, 'docker/registry/v2/blobs/sha256/cd/cde'), { recursive: true });
    await writeFile(join(root, 'docker/registry/v2/blobs/sha256/cd/cde/data'), 'existing');
    assert.equal((await driver.getContent('/docker/registry/v2/blobs/sha256/cd/cde/data')).toString(), 'existing');
    const appender = await driver.writer('/docker/registry/v2/blobs/sha256/cd/cde/data', true);
    assert.equal(appender.size, 'existing'.length);
    await appender.close();
  });

  it('cannot be walked out of its root', async () => {
    for (const path of ['/../../etc/passwd', '/..', '/../', '/a/../../etc/passwd', '../etc/passwd']) {
      await assert.rejects(driver.getContent(path), InvalidPathError, path);
      await assert.rejects(driver.reader(path), InvalidPathError, path);
      await assert.rejects(driver.stat(path), InvalidPathError, path);
    }
    // A valid absolute path is always below the root, never the host's file.
    await assert.rejects(driver.getContent('/etc/passwd'), PathNotFoundError);
  });

  it('never shows putContent temp files inside the layout', async () => {
    const dir = '/docker/registry/v2/repositories/r/_manifests/tags';
    await driver.putContent(`${dir}/seed`, Buffer.from('seed'));
    const full = join(root, dir);
    const names = Array.from({ length: 25 }, (_, index) => `tag-${index}`);
    const expected = new Set(['seed', ...names]);
    const seen = new Set<string>();
    const watcher = watch(full, (_event, filename) => {
      if (filename !== null) seen.add(filename);
    });
    let polling = true;
    const poller = (async () => {
      while (polling) {
        for (const name of await readdir(full)) seen.add(name);
        await sleep(0);
      }
    })();
    try {
      for (let round = 0; round < 4; round++) {
        await Promise.all(names.map((name) => driver.putContent(`${dir}/${name}`, randomBytes(64 * 1024))));
      }
      // Proves something does NOT happen (no stranger name appears), and fs.watch has no "all events
      // delivered" event: give late events a chance. The poller above sees every name the directory held.
      await sleep(100);
    } finally {
      polling = false;
      await poller;
      watcher.close();
    }
    const strangers = [...seen].filter((name) => !expected.has(name));
    assert.deepEqual(strangers, [], 'names other than the targets appeared in the layout');
    assert.deepEqual(await readdir(join(root, '.berth-tmp')), [], 'no temp file is left behind');
  });

  it('hides and reserves its temp directory', async () => {
    await driver.putContent('/visible', Buffer.from('x'));
    assert.ok(existsSync(join(root, '.berth-tmp')));
    assert.ok(!(await driver.list('/')).includes('/.berth-tmp'));
    for await (const info of driver.walk('/')) assert.ok(!info.path.startsWith('/.berth-tmp'), info.path);
    await assert.rejects(driver.stat('/.berth-tmp'), InvalidPathError);
    await assert.rejects(driver.putContent('/.berth-tmp/x', Buffer.from('x')), InvalidPathError);
    await driver.delete('/visible');
  });

  it('removes stale temp files on cleanupTemp() and keeps fresh ones', async () => {
    const temp = join(root, '.berth-tmp');
    await mkdir(temp, { recursive: true });
    await writeFile(join(temp, 'stale.tmp'), 'x');
    await writeFile(join(temp, 'fresh.tmp'), 'x');
    const twoHoursAgo = new Date(Date.now() - 2 * 60 * 60 * 1000);
    await utimes(join(temp, 'stale.tmp'), twoHoursAgo, twoHoursAgo);
    assert.equal(await driver.cleanupTemp(), 1);
    assert.deepEqual(await readdir(temp), ['fresh.tmp']);
    await rm(join(temp, 'fresh.tmp'));
    assert.equal(await new FilesystemDriver({ rootdirectory: join(root, 'absent') }).cleanupTemp(), 0);
  });

  it('creates its root lazily: nothing at construction, an empty root lists as []', async () => {
    const lazyRoot = join(root, 'lazy', 'root');
    const lazy = new FilesystemDriver({ rootdirectory: lazyRoot });
    assert.equal(existsSync(lazyRoot), false);
    assert.deepEqual(await lazy.list('/'), []);
    assert.equal((await lazy.stat('/')).isDir, true);
    const walked: string[] = [];
    for await (const info of lazy.walk('/')) walked.push(info.path);
    assert.deepEqual(walked, []);
    await rm(join(root, 'lazy'), { recursive: true });
  });

  it('releases file descriptors of readers destroyed or aborted early', { skip: !existsSync('/proc/self/fd') }, async () => {
    await driver.putContent('/fd/file', randomBytes(4 * 1024 * 1024));
    const openFds = (): number => readdirSync('/proc/self/fd').length;
    const baseline = openFds();
    const closed: Array<Promise<void>> = [];
    const whenClosed = (stream: Readable): Promise<void> => new Promise((resolve) => stream.once('close', () => resolve()));
    for (let i = 0; i < 20; i++) {
      const stream = await driver.reader('/fd/file', i * 1000);
      closed.push(whenClosed(stream));
      if (i % 2 === 0) stream.destroy();
      else stream.once('data', () => stream.destroy());
    }
    for (let i = 0; i < 20; i++) {
      const controller = new AbortController();
      const stream = await driver.reader('/fd/file', 0, controller.signal);
      stream.on('error', () => undefined);
      closed.push(whenClosed(stream));
      if (i % 2 === 0) controller.abort();
      else stream.once('data', () => controller.abort());
    }
    await Promise.all(closed);
    // Failed calls must close what they opened, too.
    await mkdir(join(root, 'fd/dir'), { recursive: true });
    for (let i = 0; i < 10; i++) {
      await assert.rejects(driver.reader('/fd/file', 5 * 1024 * 1024), InvalidOffsetError);
      await assert.rejects(driver.reader('/fd/dir', 0), PathNotFoundError);
    }
    assert.ok(openFds() <= baseline, `${openFds() - baseline} file descriptors leaked`);
    await driver.delete('/fd');
  });

  it('keeps empty directories after a delete, as Distribution does', async () => {
    await driver.putContent('/keep/dir/file', Buffer.from('x'));
    await driver.delete('/keep/dir/file');
    assert.deepEqual(await driver.list('/keep/dir'), []);
    await driver.delete('/keep');
    await assert.rejects(driver.stat('/keep'), PathNotFoundError);
  });
});

describe('FilesystemDriver stat, on the event loop (syncmetadata, the default) and through the thread pool', () => {
  for (const syncmetadata of [true, false]) {
    it(`syncmetadata ${String(syncmetadata)}: files, directories, absent paths and paths below a file`, async () => {
      const root = await makeRoot();
      try {
        const driver = new FilesystemDriver({ rootdirectory: join(root, 'lazy'), syncmetadata });
        // The root is created on the first stat of "/".
        const top = await driver.stat('/');
        assert.equal(top.isDir, true);
        await driver.putContent('/a/b', Buffer.from('12345'));
        const file = await driver.stat('/a/b');
        assert.deepEqual([file.path, file.size, file.isDir], ['/a/b', 5, false]);
        assert.equal(typeof file.version, 'string');
        assert.equal((await driver.stat('/a')).isDir, true);
        await assert.rejects(driver.stat('/a/absent'), PathNotFoundError);
        await assert.rejects(driver.stat('/a/b/below-a-file'), PathNotFoundError);
      } finally {
        await rm(root, { recursive: true, force: true });
      }
    });
  }
});

describe('FilesystemDriver openRange / sendTo (pulls through reused buffers)', () => {
  let root: string;
  let driver: FilesystemDriver;
  // 3.5 MiB: several pooled 1 MiB reads, the last one partial.
  const data = randomBytes(3.5 * 1024 * 1024);

  before(async () => {
    root = await makeRoot();
    driver = new FilesystemDriver({ rootdirectory: root });
    await driver.putContent('/blob/data', data);
  });

  after(async () => {
    await rm(root, { recursive: true, force: true });
  });

  /** A writable that takes `delayMs` per chunk (back-pressure) and keeps copies of what it got. */
  function collector(delayMs = 0): { sink: Writable; received: () => Buffer } {
    const parts: Buffer[] = [];
    const sink = new Writable({
      highWaterMark: 16 * 1024,
      write(chunk: Buffer, _enc, callback) {
        parts.push(Buffer.from(chunk)); // a copy: the driver reuses its buffer once called back
        setTimeout(callback, delayMs);
      },
    });
    return { sink, received: () => Buffer.concat(parts) };
  }

  function openFds(): number {
    return readdirSync('/proc/self/fd').length;
  }

  for (const [label, offset, length] of [
    ['the whole file', 0, data.length],
    ['a range inside one chunk', 10, 100],
    ['a range across chunk boundaries, to the end', 1024 * 1024 - 7, data.length - (1024 * 1024 - 7)],
    ['an empty range', 5, 0],
  ] as const) {
    it(`sends ${label} byte for byte, under back-pressure, and counts it`, async () => {
      const fds = openFds();
      const { sink, received } = collector(1);
      let counted = 0;
      const range = await driver.openRange('/blob/data', offset, length);
      await range.sendTo(responseSink(sink), { onBytes: (n) => (counted += n) });
      assert.ok(received().equals(data.subarray(offset, offset + length)));
      assert.equal(counted, length);
      assert.equal(openFds(), fds, 'the file is closed after sending');
    });
  }

  it('waits for drain on destinations that only emit events (HTTP/2 responses have no writableNeedDrain)', async () => {
    await driver.putContent('/blob/eight', randomBytes(8 * 1024 * 1024));
    let most = 0;
    const sink = new Writable({
      highWaterMark: 1,
      write(_chunk: Buffer, _enc, callback) {
        most = Math.max(most, this.writableLength);
        setTimeout(callback, 25); // far slower than reading the file
      },
    });
    Object.defineProperty(sink, 'writableNeedDrain', { value: undefined });
    const range = await driver.openRange('/blob/eight', 0, 8 * 1024 * 1024);
    await range.sendTo(responseSink(sink));
    // Without waiting for drain, sendTo would finish at once with the whole file queued in the sink.
    assert.ok(sink.writableLength <= 2 * 1024 * 1024, `${sink.writableLength} bytes still queued when sendTo finished`);
    assert.ok(most <= 2 * 1024 * 1024, `at most two chunks may wait in the destination, saw ${most} bytes`);
  });

  it('reads through the buffers it is given, and gives them back', async () => {
    const pool = new BufferPool(1024 * 1024, 4);
    const pooled = new FilesystemDriver({ rootdirectory: root, buffers: pool });
    const { sink, received } = collector();
    await (await pooled.openRange('/blob/data', 0, data.length)).sendTo(responseSink(sink));
    assert.ok(received().equals(data));
    await sleep(10); // the last write's callback gives its buffer back
    assert.ok(pool.idle >= 1, `${pool.idle} buffers back in the pool`);
  });

  it('refuses ranges outside the file, absent files and directories before sending anything', async () => {
    await assert.rejects(driver.openRange('/blob/data', data.length - 10, 11), InvalidOffsetError);
    await assert.rejects(driver.openRange('/blob/data', -1, 1), InvalidOffsetError);
    await assert.rejects(driver.openRange('/blob/absent', 0, 1), PathNotFoundError);
    await assert.rejects(driver.openRange('/blob', 0, 1), PathNotFoundError);
    await assert.rejects(driver.openRange('/blob/../x', 0, 1), InvalidPathError);
  });

  it('stops with ERR_STREAM_PREMATURE_CLOSE and closes the file when the destination goes away', async () => {
    const fds = openFds();
    // The destination goes away at its first chunk: an event, not a time, so the file is always mid-send.
    const sink = new Writable({
      write(_chunk: Buffer, _enc, callback) {
        callback();
        this.destroy();
      },
    });
    const range = await driver.openRange('/blob/data', 0, data.length);
    await assert.rejects(range.sendTo(responseSink(sink)), (err: NodeJS.ErrnoException) => err.code === 'ERR_STREAM_PREMATURE_CLOSE');
    assert.equal(openFds(), fds);
  });

  it('fails with a driver error when the file is shorter than the range it was opened for', async () => {
    await driver.putContent('/blob/short', data.subarray(0, 2 * 1024 * 1024));
    const range = await driver.openRange('/blob/short', 0, 2 * 1024 * 1024);
    // Truncated in place between open and send (a damaged disk, a hand edit).
    await writeFile(join(root, 'blob/short'), data.subarray(0, 1024 * 1024 + 5));
    const { sink, received } = collector();
    await assert.rejects(range.sendTo(responseSink(sink)), /ended at 1048581, before 2097152/);
    assert.ok(received().length <= 1024 * 1024 + 5);
  });

  it('can be closed without sending, and sent only once', async () => {
    const unused = await driver.openRange('/blob/data', 0, 10);
    await unused.close();
    await assert.rejects(unused.sendTo(responseSink(collector().sink)), /already sent or closed/);
  });
});
