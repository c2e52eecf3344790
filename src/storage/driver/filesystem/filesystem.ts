import { randomUUID } from 'node:crypto';
import { constants, readFileSync, statSync, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { addAbortSignal, type Readable } from 'node:stream';

import { isValidPath, type FileInfo, type FileWriter, type OpensRanges, type RangeSource, type ReusableBuffers, type StorageDriver } from '../driver.js';
import { InvalidOffsetError, InvalidPathError, PathNotFoundError, StorageDriverError } from '../errors.js';
import { childPath, FILE_MODE, hasCode, makeDirectory, renameInto, sortBytewise, TEMP_DIR, toFileInfo, withParents } from './files.js';
import { FileRange } from './range.js';
import { FilesystemFileWriter } from './writer.js';

const STALE_TEMP_MS = 60 * 60 * 1000;
/** The error codes that mean "not found" when reading: the path or one of its parents is absent or a file. */
const NOT_FOUND = ['ENOENT', 'ENOTDIR'] as const;
const MAX_READ_CHUNK = 1024 * 1024;
const MIN_READ_CHUNK = 16 * 1024;
/** How many entries of one directory walk() stats at once. */
const STAT_BATCH = 64;

/** Options of the filesystem driver; `rootdirectory` has the name and meaning of Distribution's key. */
export interface FilesystemDriverOptions {
  readonly rootdirectory: string;
  /**
   * stat() and getContent() (small files: links, upload state, manifests) on the event loop's
   * thread (default true). A stat of a local, cached inode takes ~2 µs in place against ~10-35 µs
   * through libuv's thread pool, and every manifest GET and blob HEAD makes one or two. Turn it
   * off when the root is on a network file system (NFS, EFS), where one call may take
   * milliseconds and would hold up every other request meanwhile.
   */
  readonly syncmetadata?: boolean;
  /**
   * The read buffers of openRange() sends, shared with the rest of the process (the composition
   * root passes storage's transfer pool); default: a fresh 1 MiB buffer per chunk, never pooled.
   */
  readonly buffers?: ReusableBuffers;
}

/** Without a pool: 1 MiB buffers, left to the garbage collector. */
const UNPOOLED: ReusableBuffers = Object.freeze({ size: 1024 * 1024, take: () => Buffer.allocUnsafeSlow(1024 * 1024), give: () => undefined });

/**
 * A StorageDriver over a local directory, on-disk compatible with Distribution's `filesystem`
 * driver: driver path "/a/b" is the file `<rootdirectory>/a/b`, so either registry can serve the
 * other's data.
 *
 * - The root directory is created lazily (the constructor does no I/O).
 * - putContent is atomic: it writes a temp file under `<rootdirectory>/.berth-tmp/` and renames it
 *   over the target. That directory is reserved: paths under "/.berth-tmp" are InvalidPathError and
 *   list("/") and walk("/") hide it. Atomicity holds against process crashes; like Distribution,
 *   nothing is fsync'ed, so durability across power loss is the file system's.
 * - writer() writes the target file in place (as Distribution does): the storage layer only uses it
 *   for upload data that move() later puts in place.
 * - Directories are real: deleting the last file of a directory leaves the (empty) directory.
 */
export class FilesystemDriver implements StorageDriver, OpensRanges {
  readonly name = 'filesystem';
  /** The absolute root directory. */
  readonly rootdirectory: string;
  readonly #tempDir: string;
  readonly #syncMetadata: boolean;
  readonly #buffers: ReusableBuffers;

  constructor(options: FilesystemDriverOptions) {
    if (typeof options.rootdirectory !== 'string' || options.rootdirectory === '') {
      throw new TypeError('filesystem: rootdirectory must be a non-empty path');
    }
    this.rootdirectory = resolve(options.rootdirectory);
    this.#tempDir = join(this.rootdirectory, TEMP_DIR);
    this.#syncMetadata = options.syncmetadata ?? true;
    this.#buffers = options.buffers ?? UNPOOLED;
  }

  async getContent(path: string, signal?: AbortSignal): Promise<Buffer> {
    const full = this.#resolve(path);
    signal?.throwIfAborted();
    try {
      // Small files (links, upload state, manifests of at most a few MiB) read in place are one
      // syscall sequence with no thread-pool round trips (see syncmetadata).
      return this.#syncMetadata ? readFileSync(full) : await fsp.readFile(full, { signal });
    } catch (err) {
      throw this.#translate(err, 'read', path, [...NOT_FOUND, 'EISDIR']);
    }
  }

  async putContent(path: string, data: Uint8Array, signal?: AbortSignal): Promise<void> {
    const full = this.#resolve(path);
    signal?.throwIfAborted();
    const temp = join(this.#tempDir, `${randomUUID()}.tmp`);
    try {
      // Directories are created when a write finds them missing, not checked before every write.
      await withParents(this.#tempDir, () => fsp.writeFile(temp, data, { flag: 'wx', mode: FILE_MODE, signal }));
      signal?.throwIfAborted(); // the last moment an abort can still leave the old content in place
      await withParents(dirname(full), () => renameInto(temp, full));
    } catch (err) {
      await fsp.rm(temp, { force: true }).catch(() => undefined);
      throw this.#translate(err, 'write', path, []);
    }
  }

  async reader(path: string, offset = 0, signal?: AbortSignal): Promise<Readable> {
    this.#resolve(path); // an invalid path is reported before a bad offset
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidOffsetError(this.name, path, offset);
    const { handle, size } = await this.#openForRead(path, signal);
    // From here on the handle is ours until the stream owns it (autoClose closes it on end, error or destroy).
    try {
      if (offset > size) throw new InvalidOffsetError(this.name, path, offset);
      signal?.throwIfAborted();
      // Small files (links, manifests) should not allocate a 1 MiB read buffer.
      const highWaterMark = Math.min(MAX_READ_CHUNK, Math.max(MIN_READ_CHUNK, size - offset));
      const stream = handle.createReadStream({ start: offset, highWaterMark });
      return signal ? addAbortSignal(signal, stream) : stream;
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw this.#translate(err, 'read', path);
    }
  }

  async openRange(path: string, offset: number, length: number, signal?: AbortSignal): Promise<RangeSource> {
    this.#resolve(path);
    if (!Number.isSafeInteger(offset) || offset < 0 || !Number.isSafeInteger(length) || length < 0) {
      throw new InvalidOffsetError(this.name, path, offset);
    }
    const { handle, size } = await this.#openForRead(path, signal);
    if (offset + length > size) {
      await handle.close().catch(() => undefined);
      throw new InvalidOffsetError(this.name, path, offset + length);
    }
    return new FileRange(this.name, path, handle, offset, length, this.#buffers);
  }

  /** Opens a file for reading and fstats it (not the path: a concurrent rename cannot slip in between). */
  async #openForRead(path: string, signal: AbortSignal | undefined): Promise<{ handle: fsp.FileHandle; size: number }> {
    const full = this.#resolve(path);
    signal?.throwIfAborted();
    let handle: fsp.FileHandle;
    try {
      handle = await fsp.open(full, 'r');
    } catch (err) {
      throw this.#translate(err, 'read', path, [...NOT_FOUND, 'EISDIR']);
    }
    try {
      const info = await handle.stat();
      if (info.isDirectory()) throw new PathNotFoundError(this.name, path);
      return { handle, size: info.size };
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw this.#translate(err, 'read', path);
    }
  }

  async writer(path: string, append: boolean, signal?: AbortSignal): Promise<FileWriter> {
    const full = this.#resolve(path);
    signal?.throwIfAborted();
    let handle: fsp.FileHandle;
    try {
      const flags = constants.O_WRONLY | constants.O_CREAT | (append ? 0 : constants.O_TRUNC);
      handle = await withParents(dirname(full), () => fsp.open(full, flags, FILE_MODE));
    } catch (err) {
      throw this.#translate(err, 'open writer for', path, []);
    }
    try {
      const size = append ? (await handle.stat()).size : 0;
      return new FilesystemFileWriter(this.name, path, full, handle, size, signal);
    } catch (err) {
      await handle.close().catch(() => undefined);
      throw this.#translate(err, 'open writer for', path, []);
    }
  }

  async stat(path: string, signal?: AbortSignal): Promise<FileInfo> {
    const full = this.#resolve(path);
    signal?.throwIfAborted();
    let stats: Stats;
    try {
      if (this.#syncMetadata) {
        // throwIfNoEntry: a missing file (a blob HEAD before every push) costs no thrown error.
        const found = statSync(full, { throwIfNoEntry: false });
        if (found === undefined) throw Object.assign(new Error(`ENOENT: no such file or directory, stat '${full}'`), { code: 'ENOENT' });
        stats = found;
      } else {
        stats = await fsp.stat(full);
      }
    } catch (err) {
      if (path === '/' && hasCode(err, 'ENOENT')) {
        await this.#ensureRoot();
        return this.stat(path, signal);
      }
      throw this.#translate(err, 'stat', path);
    }
    return toFileInfo(path, stats, this.#syncMetadata);
  }

  async list(path: string, signal?: AbortSignal): Promise<string[]> {
    const full = this.#resolve(path);
    signal?.throwIfAborted();
    let names: string[];
    try {
      names = await fsp.readdir(full);
    } catch (err) {
      if (path === '/' && hasCode(err, 'ENOENT')) {
        await this.#ensureRoot();
        return [];
      }
      // ENOTDIR: listing a file is "not found", as in Distribution's object-store drivers.
      throw this.#translate(err, 'list', path);
    }
    return this.#visible(path, names).map((name) => childPath(path, name));
  }

  async move(from: string, to: string, signal?: AbortSignal): Promise<void> {
    const source = this.#resolve(from);
    const target = this.#resolve(to);
    if (from === '/' || to === '/') throw new StorageDriverError(this.name, `${this.name}: cannot move ${from} to ${to}`);
    signal?.throwIfAborted();
    try {
      await fsp.rename(source, target);
      return;
    } catch (err) {
      if (!hasCode(err, 'ENOENT')) throw this.#translate(err, 'move', from, []);
    }
    // ENOENT: the source is absent, or the target's directory is. Checked in that order, so
    // that a missing source does not leave the target's parents behind.
    try {
      await fsp.stat(source);
    } catch (err) {
      throw this.#translate(err, 'move', from);
    }
    try {
      await makeDirectory(dirname(target));
      await fsp.rename(source, target);
    } catch (err) {
      // ENOENT now means the source vanished since the stat above.
      throw this.#translate(err, 'move', from, ['ENOENT']);
    }
  }

  async delete(path: string, signal?: AbortSignal): Promise<void> {
    const full = this.#resolve(path);
    signal?.throwIfAborted();
    try {
      if (path === '/') {
        // Empty the root but keep it (it may be a mount point) and keep in-flight temp files.
        const names = await fsp.readdir(full).catch((err: unknown) => (hasCode(err, 'ENOENT') ? [] : Promise.reject(err)));
        for (const name of this.#visible(path, names)) await fsp.rm(join(full, name), { recursive: true, force: true });
        return;
      }
      // A write landing in the directory while it is emptied makes rmdir fail with ENOTEMPTY: try again
      // (a DELETE racing a PUT of the same manifest must not answer 500).
      await fsp.rm(full, { recursive: true, maxRetries: 10, retryDelay: 1 });
    } catch (err) {
      throw this.#translate(err, 'delete', path);
    }
  }

  async redirectUrl(path: string, _method: 'GET' | 'HEAD'): Promise<string | undefined> {
    this.#resolve(path);
    return undefined;
  }

  async *walk(path: string, signal?: AbortSignal): AsyncGenerator<FileInfo> {
    const full = this.#resolve(path);
    signal?.throwIfAborted();
    let names: string[];
    try {
      names = await fsp.readdir(full);
    } catch (err) {
      if (path === '/' && hasCode(err, 'ENOENT')) return;
      throw this.#translate(err, 'walk', path);
    }
    yield* this.#walkDirectory(path, full, names, signal);
  }

  /** Nothing to release: every call opens and closes its own files. */
  async close(): Promise<void> {}

  /**
   * Removes temp files that putContent left behind when the process died mid-write: those in
   * `<rootdirectory>/.berth-tmp/` last modified more than `maxAgeMs` (default one hour) before `now`.
   * Resolves with how many were removed. Safe to run while the registry serves requests.
   */
  async cleanupTemp(maxAgeMs = STALE_TEMP_MS, now: number = Date.now()): Promise<number> {
    let names: string[];
    try {
      names = await fsp.readdir(this.#tempDir);
    } catch (err) {
      if (hasCode(err, 'ENOENT')) return 0;
      throw this.#translate(err, 'clean up', `/${TEMP_DIR}`);
    }
    let removed = 0;
    for (const name of names) {
      const file = join(this.#tempDir, name);
      try {
        const stats = await fsp.lstat(file);
        if (now - stats.mtimeMs <= maxAgeMs) continue;
        await fsp.rm(file, { recursive: true, force: true });
        removed++;
      } catch (err) {
        if (!hasCode(err, 'ENOENT')) throw this.#translate(err, 'clean up', `/${TEMP_DIR}/${name}`);
      }
    }
    return removed;
  }

  async *#walkDirectory(path: string, full: string, names: string[], signal: AbortSignal | undefined): AsyncGenerator<FileInfo> {
    const sorted = sortBytewise(this.#visible(path, names));
    for (let start = 0; start < sorted.length; start += STAT_BATCH) {
      signal?.throwIfAborted();
      const batch = sorted.slice(start, start + STAT_BATCH);
      // Follows symlinks, as Distribution's os.Stat does; an entry deleted meanwhile is skipped.
      const stats = await Promise.all(
        batch.map((name) =>
          fsp.stat(join(full, name)).catch((err: unknown) => (hasCode(err, 'ENOENT') ? undefined : Promise.reject(err))),
        ),
      ).catch((err: unknown) => Promise.reject(this.#translate(err, 'walk', path)));
      for (const [index, name] of batch.entries()) {
        const entry = stats[index];
        if (entry === undefined) continue;
        const child = childPath(path, name);
        yield toFileInfo(child, entry, this.#syncMetadata);
        if (!entry.isDirectory()) continue;
        const childFull = join(full, name);
        let children: string[];
        try {
          children = await fsp.readdir(childFull);
        } catch (err) {
          if (hasCode(err, 'ENOENT', 'ENOTDIR')) continue;
          throw this.#translate(err, 'walk', child);
        }
        yield* this.#walkDirectory(child, childFull, children, signal);
      }
    }
  }

  /** The directory entries a caller may see: everything but the temp directory at the root. */
  #visible(path: string, names: string[]): string[] {
    return path === '/' ? names.filter((name) => name !== TEMP_DIR) : names;
  }

  /** Validates a driver path and maps it below the root; nothing valid can escape it. */
  #resolve(path: string): string {
    if (!isValidPath(path) || path === `/${TEMP_DIR}` || path.startsWith(`/${TEMP_DIR}/`)) {
      throw new InvalidPathError(this.name, path);
    }
    // A valid path has no empty, `.` or `..` segment, so appending it is what join() would return, without its normalization pass.
    return path === '/' ? this.rootdirectory : this.rootdirectory === '/' ? path : this.rootdirectory + path;
  }

  async #ensureRoot(): Promise<void> {
    try {
      await makeDirectory(this.rootdirectory);
    } catch (err) {
      throw this.#translate(err, 'create root', '/', []);
    }
  }

  /**
   * Turns a file-system error into a driver error. `missing` lists the codes that mean "not
   * found" for this operation; aborts and driver errors pass through unchanged.
   */
  #translate(err: unknown, op: string, path: string, missing: readonly string[] = NOT_FOUND): Error {
    if (err instanceof StorageDriverError) return err;
    if (err instanceof Error && err.name === 'AbortError') return err;
    if (hasCode(err, ...missing)) return new PathNotFoundError(this.name, path);
    const message = err instanceof Error ? err.message : String(err);
    return new StorageDriverError(this.name, `${this.name}: ${op} ${path}: ${message}`, { cause: err });
  }
}
