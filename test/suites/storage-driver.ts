import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import type { FileInfo, StorageDriver } from '../../src/storage/driver/driver.js';
import { InvalidOffsetError, InvalidPathError, PathNotFoundError, StorageDriverError } from '../../src/storage/driver/errors.js';

/** What a driver's test file hands the suite: a ready driver and how to dispose of it. */
export interface DriverUnderTest {
  driver: StorageDriver;
  cleanup: () => Promise<void>;
}

const KiB = 1024;
const MiB = 1024 * KiB;
/** How far a reported modification time may be from the test's clock (remote stores have their own). */
const CLOCK_SKEW_MS = 60_000;

/**
 * The conformance suite every StorageDriver must pass (Distribution's testsuites, in node:test).
 * It uses only the StorageDriver interface, and works below one random top-level directory
 * ("/berth-suite-<hex>"), one sub-directory per test, so it can run against a shared bucket; its
 * last test fails if anything is left behind.
 *
 * Where drivers legitimately differ it asserts only the common part: whether empty directories
 * survive a delete, whether a writer's content is visible before commit(), what redirectUrl returns.
 */
export function storageDriverSuite(name: string, makeDriver: () => Promise<DriverUnderTest>): void {
  describe(`StorageDriver conformance: ${name}`, () => {
    const root = `/berth-suite-${randomBytes(6).toString('hex')}`;
    let driver: StorageDriver;
    let cleanup: (() => Promise<void>) | undefined;
    let sequence = 0;

    before(async () => {
      ({ driver, cleanup } = await makeDriver());
    });

    after(async () => {
      // Every driver releases what it holds on close(), and a second close() is harmless.
      await driver?.close();
      await driver?.close();
      await cleanup?.();
    });

    /** Runs `body` in a fresh directory below the suite's root, then deletes that directory. */
    async function inDir(label: string, body: (dir: string) => Promise<void>): Promise<void> {
      const dir = `${root}/${label}-${++sequence}-${randomBytes(3).toString('hex')}`;
      try {
        await body(dir);
      } catch (err) {
        // A failing test keeps its own error.
        await driver.delete(dir).catch(() => undefined);
        throw err;
      }
      try {
        await driver.delete(dir);
      } catch (err) {
        // A test that wrote nothing leaves nothing.
        if (!(err instanceof PathNotFoundError)) throw err;
      }
    }

    describe('paths', () => {
      it('accepts every valid form of path', async () => {
        await inDir('valid', async (dir) => {
          const paths = [`${dir}/a`, `${dir}/A-b_c.D9`, `${dir}/.hidden`, `${dir}/...`, `${dir}/x/y/z/deep`, `${dir}/0`];
          for (const [index, path] of paths.entries()) {
            await driver.putContent(path, Buffer.from(`content ${index}`));
          }
          for (const [index, path] of paths.entries()) {
            assert.equal((await driver.getContent(path)).toString(), `content ${index}`, path);
          }
        });
      });

      it('rejects invalid paths with InvalidPathError in every method, touching nothing', async () => {
        await inDir('invalid', async (dir) => {
          const source = `${dir}/source`;
          await driver.putContent(source, Buffer.from('keep me'));
          const invalid = [
            '',
            'a',
            'a/b',
            dir.slice(1),
            '//',
            '/..',
            '/./',
            '/../x',
            `${dir}/`,
            `${dir}/a/`,
            `${dir}//b`,
            `${dir}/a/../b`,
            `${dir}/..`,
            `${dir}/a/.`,
            `${dir}/./a`,
            `${dir}/with space`,
            `${dir}/per%cent`,
            `${dir}/%2e%2e`,
            `${dir}/back\\slash`,
            `${dir}/nul\u0000byte`,
            `${dir}/new\nline`,
            `${dir}/ünïcödé`,
          ];
          const methods: Array<[string, (path: string) => Promise<unknown>]> = [
            ['getContent', (p) => driver.getContent(p)],
            ['putContent', (p) => driver.putContent(p, Buffer.from('x'))],
            ['reader', (p) => driver.reader(p, 0)],
            ['writer', (p) => driver.writer(p, false)],
            ['writer(append)', (p) => driver.writer(p, true)],
            ['stat', (p) => driver.stat(p)],
            ['list', (p) => driver.list(p)],
            ['move(from)', (p) => driver.move(p, `${dir}/target`)],
            ['move(to)', (p) => driver.move(source, p)],
            ['delete', (p) => driver.delete(p)],
            ['redirectUrl', (p) => driver.redirectUrl(p, 'GET')],
            ['walk', (p) => collect(driver.walk(p))],
          ];
          for (const path of invalid) {
            for (const [method, call] of methods) {
              await assert.rejects(call(path), (err: unknown) => {
                assert.ok(err instanceof InvalidPathError, `${method}(${JSON.stringify(path)}) threw ${String(err)}`);
                return true;
              });
            }
          }
          assert.deepEqual(await paths(driver.walk(dir)), [source]);
          assert.equal((await driver.getContent(source)).toString(), 'keep me');
        });
      });
    });

    describe('getContent and putContent', () => {
      it('round-trips empty, small and 5 MiB random content', async () => {
        await inDir('roundtrip', async (dir) => {
          const values = [Buffer.alloc(0), Buffer.from('small'), randomBytes(5 * MiB)];
          for (const [index, value] of values.entries()) {
            const path = `${dir}/blob-${index}`;
            await driver.putContent(path, value);
            const read = await driver.getContent(path);
            assert.ok(read.equals(value), `round trip of ${value.length} bytes`);
            assert.equal((await driver.stat(path)).size, value.length);
          }
        });
      });

      it('overwrites, also with shorter content', async () => {
        await inDir('overwrite', async (dir) => {
          const path = `${dir}/file`;
          await driver.putContent(path, Buffer.from('the first, longer value'));
          await driver.putContent(path, Buffer.from('second'));
          assert.equal((await driver.getContent(path)).toString(), 'second');
          assert.equal((await driver.stat(path)).size, 6);
        });
      });

      it('stores a copy: the caller may reuse its buffers', async () => {
        await inDir('copy', async (dir) => {
          const path = `${dir}/file`;
          const data = Buffer.from('original');
          await driver.putContent(path, data);
          data.fill(0x21);
          const read = await driver.getContent(path);
          assert.equal(read.toString(), 'original');
          read.fill(0x21);
          assert.equal((await driver.getContent(path)).toString(), 'original');
        });
      });

      it('throws PathNotFoundError for a missing file, a directory and a path below a file', async () => {
        await inDir('missing', async (dir) => {
          await driver.putContent(`${dir}/dir/file`, Buffer.from('x'));
          for (const path of [`${dir}/nothing`, `${dir}/no/such/dir/file`, `${dir}/dir`, `${dir}/dir/file/below`]) {
            await assert.rejects(driver.getContent(path), PathNotFoundError, path);
          }
        });
      });
    });

    describe('reader', () => {
      it('reads from offset 0, the middle and the end; past the end is InvalidOffsetError', async () => {
        await inDir('reader', async (dir) => {
          const path = `${dir}/file`;
          const data = randomBytes(3 * MiB + 17);
          await driver.putContent(path, data);
          assert.ok((await readAll(await driver.reader(path))).equals(data), 'default offset');
          for (const offset of [0, 1, 1000, 2 * MiB + 3, data.length - 1, data.length]) {
            const read = await readAll(await driver.reader(path, offset));
            assert.ok(read.equals(data.subarray(offset)), `offset ${offset}`);
          }
          for (const offset of [data.length + 1, data.length + MiB, -1]) {
            await assert.rejects(driver.reader(path, offset), InvalidOffsetError, `offset ${offset}`);
          }
        });
      });

      it('reads an empty file at offset 0 and rejects offset 1', async () => {
        await inDir('reader-empty', async (dir) => {
          const path = `${dir}/empty`;
          await driver.putContent(path, Buffer.alloc(0));
          assert.equal((await readAll(await driver.reader(path, 0))).length, 0);
          await assert.rejects(driver.reader(path, 1), InvalidOffsetError);
        });
      });

      it('throws PathNotFoundError for a missing file and a directory', async () => {
        await inDir('reader-missing', async (dir) => {
          await driver.putContent(`${dir}/dir/file`, Buffer.from('x'));
          await assert.rejects(driver.reader(`${dir}/nothing`, 0), PathNotFoundError);
          await assert.rejects(driver.reader(`${dir}/dir`, 0), PathNotFoundError);
        });
      });

      it('streams a 40 MiB file', async () => {
        await inDir('reader-large', async (dir) => {
          const path = `${dir}/large`;
          const written = createHash('sha256');
          const writer = await driver.writer(path, false);
          let last = Buffer.alloc(0);
          for (let i = 0; i < 40; i++) {
            last = randomBytes(MiB);
            written.update(last);
            await writer.write(last);
          }
          await writer.commit();
          assert.equal((await driver.stat(path)).size, 40 * MiB);
          const read = createHash('sha256');
          let largest = 0;
          for await (const chunk of await driver.reader(path)) {
            const bytes = asBuffer(chunk);
            largest = Math.max(largest, bytes.length);
            read.update(bytes);
          }
          assert.equal(read.digest('hex'), written.digest('hex'));
          assert.ok(largest <= 8 * MiB, `the reader handed out a ${largest}-byte chunk: it should stream`);
          assert.ok((await readAll(await driver.reader(path, 39 * MiB))).equals(last), 'the last MiB');
        });
      });

      it('serves concurrent readers of one file', async () => {
        await inDir('reader-concurrent', async (dir) => {
          const path = `${dir}/file`;
          const data = randomBytes(2 * MiB);
          await driver.putContent(path, data);
          const offsets = [0, 0, 1, 4096, MiB, MiB + 1, 2 * MiB - 1, 2 * MiB];
          const streams = await Promise.all(offsets.map((offset) => driver.reader(path, offset)));
          const reads = await Promise.all(streams.map((stream) => readAll(stream)));
          for (const [index, offset] of offsets.entries()) {
            assert.ok(reads[index]?.equals(data.subarray(offset)), `reader at ${offset}`);
          }
        });
      });

      it('stops streaming when its signal aborts', async () => {
        await inDir('reader-abort', async (dir) => {
          const path = `${dir}/file`;
          await driver.putContent(path, randomBytes(8 * MiB));
          const controller = new AbortController();
          const stream = await driver.reader(path, 0, controller.signal);
          let received = 0;
          await assert.rejects(
            (async () => {
              for await (const chunk of stream) {
                received += asBuffer(chunk).length;
                controller.abort();
              }
            })(),
          );
          assert.ok(received < 8 * MiB, 'the stream ended early');
          assert.ok(stream.destroyed, 'the stream is destroyed');
        });
      });
    });

    describe('signals', () => {
      it('rejects calls whose signal is already aborted, writing nothing', async () => {
        await inDir('aborted', async (dir) => {
          const path = `${dir}/file`;
          await driver.putContent(path, Buffer.from('before'));
          const signal = AbortSignal.abort();
          await assert.rejects(driver.putContent(path, Buffer.from('after'), signal));
          await assert.rejects(driver.putContent(`${dir}/new`, Buffer.from('new'), signal));
          await assert.rejects(driver.getContent(path, signal));
          await assert.rejects(driver.reader(path, 0, signal));
          assert.equal((await driver.getContent(path)).toString(), 'before');
          await assert.rejects(driver.stat(`${dir}/new`), PathNotFoundError);
        });
      });
    });

    describe('writer', () => {
      it('writes many chunks, tracks size and commits', async () => {
        await inDir('writer', async (dir) => {
          const path = `${dir}/file`;
          const writer = await driver.writer(path, false);
          assert.equal(writer.size, 0);
          const chunks: Buffer[] = [];
          for (let i = 0; i < 200; i++) {
            const chunk = randomBytes(i % 17 === 0 ? 0 : 1 + ((i * 7919) % (64 * KiB)));
            chunks.push(chunk);
            await writer.write(chunk);
          }
          const expected = Buffer.concat(chunks);
          assert.equal(writer.size, expected.length);
          await writer.commit();
          assert.ok((await driver.getContent(path)).equals(expected));
          assert.equal((await driver.stat(path)).size, expected.length);
        });
      });

      it('commits an empty file', async () => {
        await inDir('writer-empty', async (dir) => {
          const path = `${dir}/empty`;
          const writer = await driver.writer(path, false);
          await writer.write(new Uint8Array(0));
          await writer.commit();
          assert.equal((await driver.getContent(path)).length, 0);
          const info = await driver.stat(path);
          assert.equal(info.size, 0);
          assert.equal(info.isDir, false);
        });
      });

      it('continues after close() with append, across several sessions', async () => {
        await inDir('writer-append', async (dir) => {
          const path = `${dir}/_uploads/upload/data`;
          const parts = [randomBytes(5 * MiB + 3), randomBytes(1), randomBytes(700 * KiB)];
          let expectedSize = 0;
          for (const [index, part] of parts.entries()) {
            const writer = await driver.writer(path, index > 0);
            assert.equal(writer.size, expectedSize, `size when session ${index} opens`);
            await writer.write(part.subarray(0, 10));
            await writer.write(part.subarray(10));
            expectedSize += part.length;
            assert.equal(writer.size, expectedSize, `size after session ${index}`);
            if (index < parts.length - 1) await writer.close();
            else await writer.commit();
          }
          assert.ok((await driver.getContent(path)).equals(Buffer.concat(parts)));
        });
      });

      it('keeps a copy of each chunk: the caller may reuse its buffer', async () => {
        await inDir('writer-copy', async (dir) => {
          const path = `${dir}/file`;
          const writer = await driver.writer(path, false);
          const buffer = Buffer.from('first ');
          await writer.write(buffer);
          buffer.write('again ');
          await writer.write(buffer);
          await writer.commit();
          assert.equal((await driver.getContent(path)).toString(), 'first again ');
        });
      });

      it('cancel() removes the content, also what earlier sessions wrote', async () => {
        await inDir('writer-cancel', async (dir) => {
          const fresh = `${dir}/fresh`;
          const writer = await driver.writer(fresh, false);
          await writer.write(randomBytes(100 * KiB));
          await writer.cancel();
          await assert.rejects(driver.getContent(fresh), PathNotFoundError);
          await assert.rejects(driver.stat(fresh), PathNotFoundError);

          const resumed = `${dir}/resumed`;
          const first = await driver.writer(resumed, false);
          await first.write(Buffer.from('first session'));
          await first.close();
          const second = await driver.writer(resumed, true);
          assert.equal(second.size, 'first session'.length);
          await second.write(Buffer.from(', second session'));
          await second.cancel();
          await assert.rejects(driver.getContent(resumed), PathNotFoundError);
        });
      });

      it('truncates existing content without append', async () => {
        await inDir('writer-truncate', async (dir) => {
          const path = `${dir}/file`;
          await driver.putContent(path, Buffer.from('a long existing value that must disappear'));
          const writer = await driver.writer(path, false);
          assert.equal(writer.size, 0);
          await writer.write(Buffer.from('new'));
          await writer.commit();
          assert.equal((await driver.getContent(path)).toString(), 'new');
          assert.equal((await driver.stat(path)).size, 3);
        });
      });

      it('refuses use after commit, close or cancel; close() stays harmless', async () => {
        await inDir('writer-finished', async (dir) => {
          for (const finish of ['commit', 'close', 'cancel'] as const) {
            const writer = await driver.writer(`${dir}/${finish}`, false);
            await writer.write(Buffer.from('data'));
            await writer[finish]();
            await assert.rejects(writer.write(Buffer.from('more')), StorageDriverError, `write after ${finish}`);
            await assert.rejects(writer.commit(), StorageDriverError, `commit after ${finish}`);
            if (finish !== 'cancel') await assert.rejects(writer.cancel(), StorageDriverError, `cancel after ${finish}`);
            await writer.close();
          }
          assert.equal((await driver.getContent(`${dir}/commit`)).toString(), 'data');
        });
      });
    });

    describe('stat', () => {
      it('describes a file: path, size, isDir false, a recent modTime', async () => {
        await inDir('stat', async (dir) => {
          const path = `${dir}/file`;
          const start = Date.now();
          await driver.putContent(path, Buffer.from('12345'));
          const end = Date.now();
          const info = await driver.stat(path);
          assert.equal(info.path, path);
          assert.equal(info.size, 5);
          assert.equal(info.isDir, false);
          assert.ok(info.modTime instanceof Date && !Number.isNaN(info.modTime.getTime()), 'modTime is a valid Date');
          const mtime = info.modTime.getTime();
          assert.ok(mtime >= start - CLOCK_SKEW_MS && mtime <= end + CLOCK_SKEW_MS, `modTime ${info.modTime.toISOString()} is recent`);
        });
      });

      it('describes directories with isDir true', async () => {
        await inDir('stat-dir', async (dir) => {
          await driver.putContent(`${dir}/sub/deeper/file`, Buffer.from('x'));
          for (const path of [dir, `${dir}/sub`, `${dir}/sub/deeper`]) {
            const info = await driver.stat(path);
            assert.equal(info.path, path);
            assert.equal(info.isDir, true, path);
          }
        });
      });

      it('throws PathNotFoundError for a missing path', async () => {
        await inDir('stat-missing', async (dir) => {
          await driver.putContent(`${dir}/file`, Buffer.from('x'));
          for (const path of [`${dir}/nothing`, `${dir}/no/such/thing`, `${dir}/file/below`, `${dir}/fil`]) {
            await assert.rejects(driver.stat(path), PathNotFoundError, path);
          }
        });
      });
    });

    describe('list', () => {
      it('lists the direct children of a directory as full paths', async () => {
        await inDir('list', async (dir) => {
          const files = [`${dir}/dir/a`, `${dir}/dir/b`, `${dir}/dir/sub/c`, `${dir}/dir/sub2/deeper/d`, `${dir}/dirx/e`, `${dir}/dir.y`];
          for (const file of files) await driver.putContent(file, Buffer.from(file));
          assert.deepEqual((await driver.list(`${dir}/dir`)).sort(), [`${dir}/dir/a`, `${dir}/dir/b`, `${dir}/dir/sub`, `${dir}/dir/sub2`]);
          assert.deepEqual((await driver.list(dir)).sort(), [`${dir}/dir`, `${dir}/dir.y`, `${dir}/dirx`]);
          assert.deepEqual(await driver.list(`${dir}/dir/sub2`), [`${dir}/dir/sub2/deeper`]);
          assert.ok((await driver.list(root)).includes(dir), 'the suite root lists this test directory');
        });
      });

      it('throws PathNotFoundError for a missing directory and for a file', async () => {
        await inDir('list-missing', async (dir) => {
          await driver.putContent(`${dir}/file`, Buffer.from('x'));
          await assert.rejects(driver.list(`${dir}/nothing`), PathNotFoundError);
          await assert.rejects(driver.list(`${dir}/file`), PathNotFoundError);
        });
      });
    });

    describe('move', () => {
      it('moves content, creating the destination parents', async () => {
        await inDir('move', async (dir) => {
          const from = `${dir}/_uploads/u/data`;
          const to = `${dir}/blobs/sha256/ab/abcdef/data`;
          const data = randomBytes(3 * MiB);
          const writer = await driver.writer(from, false);
          await writer.write(data);
          await writer.commit();
          await driver.move(from, to);
          assert.ok((await driver.getContent(to)).equals(data));
          assert.equal((await driver.stat(to)).size, data.length);
          await assert.rejects(driver.stat(from), PathNotFoundError);
          await assert.rejects(driver.getContent(from), PathNotFoundError);
        });
      });

      it('replaces an existing destination', async () => {
        await inDir('move-replace', async (dir) => {
          await driver.putContent(`${dir}/from`, Buffer.from('new'));
          await driver.putContent(`${dir}/to`, Buffer.from('old and longer'));
          await driver.move(`${dir}/from`, `${dir}/to`);
          assert.equal((await driver.getContent(`${dir}/to`)).toString(), 'new');
          await assert.rejects(driver.getContent(`${dir}/from`), PathNotFoundError);
        });
      });

      it('throws PathNotFoundError for a missing source and leaves the destination alone', async () => {
        await inDir('move-missing', async (dir) => {
          await driver.putContent(`${dir}/to`, Buffer.from('untouched'));
          await assert.rejects(driver.move(`${dir}/nothing`, `${dir}/to`), PathNotFoundError);
          await assert.rejects(driver.move(`${dir}/nothing`, `${dir}/elsewhere/to`), PathNotFoundError);
          assert.equal((await driver.getContent(`${dir}/to`)).toString(), 'untouched');
          await assert.rejects(driver.stat(`${dir}/elsewhere/to`), PathNotFoundError);
        });
      });
    });

    describe('delete', () => {
      it('deletes a file and keeps its siblings', async () => {
        await inDir('delete', async (dir) => {
          await driver.putContent(`${dir}/gone`, Buffer.from('x'));
          await driver.putContent(`${dir}/kept`, Buffer.from('y'));
          await driver.delete(`${dir}/gone`);
          await assert.rejects(driver.stat(`${dir}/gone`), PathNotFoundError);
          await assert.rejects(driver.getContent(`${dir}/gone`), PathNotFoundError);
          assert.deepEqual(await driver.list(dir), [`${dir}/kept`]);
        });
      });

      it('deletes a directory recursively', async () => {
        await inDir('delete-dir', async (dir) => {
          const inside = [`${dir}/tree/sub/a`, `${dir}/tree/sub/b`, `${dir}/tree/sub/deep/c`, `${dir}/tree/sub/deep/er/d`];
          for (const file of inside) await driver.putContent(file, Buffer.from(file));
          await driver.putContent(`${dir}/tree/kept`, Buffer.from('kept'));
          await driver.delete(`${dir}/tree/sub`);
          for (const file of inside) await assert.rejects(driver.getContent(file), PathNotFoundError, file);
          await assert.rejects(driver.stat(`${dir}/tree/sub`), PathNotFoundError);
          await assert.rejects(driver.list(`${dir}/tree/sub`), PathNotFoundError);
          assert.deepEqual(await driver.list(`${dir}/tree`), [`${dir}/tree/kept`]);
          assert.deepEqual(await paths(driver.walk(`${dir}/tree`)), [`${dir}/tree/kept`]);
        });
      });

      it('deletes only the path and below, not names that merely share its prefix', async () => {
        await inDir('delete-prefix', async (dir) => {
          const files = [`${dir}/a/b`, `${dir}/a/bc`, `${dir}/a/b.x`, `${dir}/a/b-y/z`];
          for (const file of files) await driver.putContent(file, Buffer.from(file));
          await driver.delete(`${dir}/a/b`);
          await assert.rejects(driver.getContent(`${dir}/a/b`), PathNotFoundError);
          for (const file of files.slice(1)) assert.equal((await driver.getContent(file)).toString(), file);
        });
      });

      it('throws PathNotFoundError for a missing path', async () => {
        await inDir('delete-missing', async (dir) => {
          await driver.putContent(`${dir}/file`, Buffer.from('x'));
          await assert.rejects(driver.delete(`${dir}/nothing`), PathNotFoundError);
          await assert.rejects(driver.delete(`${dir}/fil`), PathNotFoundError);
          await assert.rejects(driver.delete(`${dir}/file/below`), PathNotFoundError);
          assert.equal((await driver.getContent(`${dir}/file`)).toString(), 'x');
        });
      });
    });

    describe('walk', () => {
      it('walks depth first, each directory before its children, in byte-wise order', async () => {
        await inDir('walk', async (dir) => {
          // '-' < '.' < '/' < digits < upper case < '_' < lower case: key order of an object store
          // ("a-y/…" < "a.x/…" < "a/…") is not the walk order.
          const files: Record<string, number> = {
            'b': 1,
            'a/b/c/3': 3,
            'a/1': 11,
            'a.x/4': 4,
            'a-y': 5,
            'a/b/2': 22,
            '_x': 6,
            'B': 7,
            '0': 8,
          };
          for (const [file, size] of Object.entries(files)) await driver.putContent(`${dir}/${file}`, randomBytes(size));
          const expected: Array<[string, number | 'dir']> = [
            ['0', 8],
            ['B', 7],
            ['_x', 6],
            ['a', 'dir'],
            ['a/1', 11],
            ['a/b', 'dir'],
            ['a/b/2', 22],
            ['a/b/c', 'dir'],
            ['a/b/c/3', 3],
            ['a-y', 5],
            ['a.x', 'dir'],
            ['a.x/4', 4],
            ['b', 1],
          ];
          const walked = (await collect(driver.walk(dir))).map((info): [string, number | 'dir'] => [
            info.path.slice(dir.length + 1),
            info.isDir ? 'dir' : info.size,
          ]);
          assert.deepEqual(walked, expected);
          assert.deepEqual(
            (await collect(driver.walk(`${dir}/a/b`))).map((info) => info.path),
            [`${dir}/a/b/2`, `${dir}/a/b/c`, `${dir}/a/b/c/3`],
          );
        });
      });

      it('throws PathNotFoundError for a missing path', async () => {
        await inDir('walk-missing', async (dir) => {
          await assert.rejects(collect(driver.walk(`${dir}/nothing`)), PathNotFoundError);
        });
      });
    });

    describe('concurrency', () => {
      it('leaves one complete value after concurrent putContent to one path, and readers see whole values', async () => {
        await inDir('concurrent-put', async (dir) => {
          const path = `${dir}/file`;
          const values = Array.from({ length: 8 }, (_, index) => randomBytes(256 * KiB + index));
          const digests = new Set(values.map(sha256));
          await driver.putContent(path, values[0] ?? Buffer.alloc(0));
          const seen: string[] = [];
          await Promise.all([
            ...values.map((value) => driver.putContent(path, value)),
            ...Array.from({ length: 16 }, async () => {
              seen.push(sha256(await driver.getContent(path)));
            }),
          ]);
          for (const digest of seen) assert.ok(digests.has(digest), 'a concurrent read saw a mix of values');
          assert.ok(digests.has(sha256(await driver.getContent(path))), 'the final content is one of the values');
        });
      });
    });

    describe('clean-up', () => {
      it('leaves nothing behind', async () => {
        let left: string[] = [];
        try {
          left = (await collect(driver.walk(root))).map((info) => info.path);
        } catch (err) {
          if (!(err instanceof PathNotFoundError)) throw err;
        }
        assert.deepEqual(left, [], 'every test deleted what it wrote');
        try {
          await driver.delete(root);
        } catch (err) {
          if (!(err instanceof PathNotFoundError)) throw err;
        }
        await assert.rejects(driver.stat(root), PathNotFoundError);
      });
    });
  });
}

async function collect(iterable: AsyncIterable<FileInfo>): Promise<FileInfo[]> {
  const out: FileInfo[] = [];
  for await (const info of iterable) out.push(info);
  return out;
}

/** The paths of the files (not directories) a walk yields. */
async function paths(iterable: AsyncIterable<FileInfo>): Promise<string[]> {
  return (await collect(iterable)).filter((info) => !info.isDir).map((info) => info.path);
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(asBuffer(chunk));
  return Buffer.concat(chunks);
}

function asBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  throw new TypeError(`a driver stream yielded a ${typeof chunk}, not bytes`);
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
