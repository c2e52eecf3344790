import { randomUUID } from 'node:crypto';
import { constants, readFileSync, statSync, type Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, join, resolve } from 'node:path';
import { addAbortSignal, type Readable, type Writable } from 'node:stream';

import { isValidPath, type FileInfo, type FileWriter, type OpensRanges, type RangeSource, type StorageDriver } from './driver.js';
import { InvalidOffsetError, InvalidPathError, PathNotFoundError, StorageDriverError } from './errors.js';
import { transferBuffers } from '../buffer-pool.js';

/** Where putContent stages its temp files: beside the layout, never inside it, so Distribution never lists them. */
const TEMP_DIR = '.berth-tmp';
const STALE_TEMP_MS = 60 * 60 * 1000;
/** The error codes that mean "not found" when reading: the path or one of its parents is absent or a file. */
const NOT_FOUND = ['ENOENT', 'ENOTDIR'] as const;
const MAX_READ_CHUNK = 1024 * 1024;
const MIN_READ_CHUNK = 16 * 1024;
/** How many entries of one directory walk() stats at once. */
const STAT_BATCH = 64;
// Same modes as Distribution (0o777 / 0o666); the process umask trims them.
const DIR_MODE = 0o777;
const FILE_MODE = 0o666;

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
}

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

  constructor(options: FilesystemDriverOptions) {
    if (typeof options.rootdirectory !== 'string' || options.rootdirectory === '') {
      throw new TypeError('filesystem: rootdirectory must be a non-empty path');
    }
    this.rootdirectory = resolve(options.rootdirectory);
    this.#tempDir = join(this.rootdirectory, TEMP_DIR);
    this.#syncMetadata = options.syncmetadata ?? true;
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
    return new FileRange(this.name, path, handle, offset, length);
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
      await fsp.rm(full, { recursive: true });
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

type WriterState = 'open' | 'closed' | 'committed' | 'cancelled';

/** Writes one file in place with positional writes; the file is the upload's data file. */
class FilesystemFileWriter implements FileWriter {
  readonly #driver: string;
  readonly #path: string;
  readonly #full: string;
  readonly #handle: fsp.FileHandle;
  readonly #signal: AbortSignal | undefined;
  #size: number;
  #state: WriterState = 'open';
  #failed = false;

  constructor(driver: string, path: string, full: string, handle: fsp.FileHandle, size: number, signal: AbortSignal | undefined) {
    this.#driver = driver;
    this.#path = path;
    this.#full = full;
    this.#handle = handle;
    this.#size = size;
    this.#signal = signal;
  }

  get size(): number {
    return this.#size;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#assertOpen('write to');
    if (this.#failed) throw new StorageDriverError(this.#driver, `${this.#driver}: an earlier write to ${this.#path} failed`);
    this.#signal?.throwIfAborted();
    const length = chunk.byteLength;
    if (length === 0) return;
    // Reserve the range before awaiting, so that overlapping write() calls land one after another.
    const position = this.#size;
    this.#size += length;
    try {
      let done = 0;
      while (done < length) {
        const { bytesWritten } = await this.#handle.write(chunk, done, length - done, position + done);
        if (bytesWritten <= 0) throw new Error('no progress writing');
        done += bytesWritten;
      }
    } catch (err) {
      this.#failed = true;
      const message = err instanceof Error ? err.message : String(err);
      throw new StorageDriverError(this.#driver, `${this.#driver}: write ${this.#path}: ${message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    if (this.#state !== 'open') return;
    this.#state = 'closed';
    await this.#closeHandle();
  }

  async commit(): Promise<void> {
    this.#assertOpen('commit');
    this.#state = 'committed';
    await this.#closeHandle();
  }

  async cancel(): Promise<void> {
    this.#assertOpen('cancel');
    this.#state = 'cancelled';
    await this.#closeHandle();
    try {
      await fsp.rm(this.#full, { force: true });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new StorageDriverError(this.#driver, `${this.#driver}: cancel ${this.#path}: ${message}`, { cause: err });
    }
  }

  #assertOpen(action: string): void {
    if (this.#state !== 'open') {
      throw new StorageDriverError(this.#driver, `${this.#driver}: cannot ${action} writer for ${this.#path}: already ${this.#state}`);
    }
  }

  async #closeHandle(): Promise<void> {
    try {
      // FileHandle.close waits for writes still in flight.
      await this.#handle.close();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new StorageDriverError(this.#driver, `${this.#driver}: close ${this.#path}: ${message}`, { cause: err });
    }
  }
}

/**
 * rename(2) `temp` over `target`. When the layout spans file systems (a sub-directory of the root
 * is a mount point) rename fails with EXDEV; then the data is staged beside the target instead,
 * which keeps the replacement atomic at the cost of a hidden file in the layout while it runs.
 */
/**
 * Runs `work` (a write into `dir`); when it fails with ENOENT, creates `dir` and its parents and
 * runs it once more. A write into an existing directory (the common case) costs no mkdir.
 */
async function withParents<T>(dir: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!hasCode(err, 'ENOENT')) throw err;
  }
  await makeDirectory(dir);
  return work();
}

/**
 * `mkdir -p`. Node's recursive mkdir reports ENOENT when a directory cannot be created for
 * another reason (seen: ENOSPC when the file system has no inode left), which would read as
 * "not found" and hide a full disk; then the directories are made one at a time to surface the
 * real error.
 */
async function makeDirectory(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode: DIR_MODE });
    return;
  } catch (err) {
    if (!hasCode(err, 'ENOENT')) throw err;
    throw (await mkdirError(dir)) ?? err;
  }
}

/** The error of the first directory of `dir`'s missing ancestors that cannot be created, if any. */
async function mkdirError(dir: string): Promise<unknown> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    const exists = await fsp.stat(d).then(
      () => true,
      () => false,
    );
    if (exists) break;
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      await fsp.mkdir(d, { mode: DIR_MODE });
    } catch (err) {
      if (!hasCode(err, 'EEXIST')) return err;
    }
  }
  return undefined;
}

async function renameInto(temp: string, target: string): Promise<void> {
  try {
    await fsp.rename(temp, target);
    return;
  } catch (err) {
    if (!hasCode(err, 'EXDEV')) throw err;
  }
  const sibling = join(dirname(target), `.${TEMP_DIR}-${randomUUID()}`);
  try {
    await fsp.copyFile(temp, sibling);
    await fsp.rename(sibling, target);
  } catch (err) {
    // The temp file stays for the caller (to retry, or to remove).
    await fsp.rm(sibling, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsp.rm(temp, { force: true }).catch(() => undefined);
}

/**
 * `dirVersions`: directories get a version (their inode and mtime) only on local disks
 * (syncmetadata): a network file system's mtimes come from the server's clock, whose skew would
 * defeat LinkCache.sortedNames' rule that a version settled 3 s ago is trusted.
 */
function toFileInfo(path: string, stats: Stats, dirVersions: boolean): FileInfo {
  // A directory's mtime changes when an entry is added or removed (to the clock tick: see LinkCache.sortedNames).
  if (stats.isDirectory()) {
    const info = { path, size: 0, modTime: stats.mtime, isDir: true };
    return dirVersions ? { ...info, version: `${stats.ino}:${stats.mtimeMs}` } : info;
  }
  // A write renames a new file into place, so the inode changes; the sub-millisecond mtime covers inode reuse.
  return { path, size: stats.size, modTime: stats.mtime, isDir: false, version: `${stats.ino}:${stats.mtimeMs}:${stats.size}` };
}

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** Sorts names by their UTF-8 bytes, the order Distribution's drivers (and object stores) use. */
function sortBytewise(names: string[]): string[] {
  return names
    .map((name) => ({ name, key: Buffer.from(name) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map((entry) => entry.name);
}

function hasCode(err: unknown, ...codes: string[]): boolean {
  if (typeof err !== 'object' || err === null || !('code' in err)) return false;
  const code: unknown = err.code;
  return typeof code === 'string' && codes.includes(code);
}

/** Reads of FileRange transfers go through pooled buffers, given back in the destination's write callback. */
const SEND_CHUNK = transferBuffers.size;

function prematureClose(): Error {
  return Object.assign(new Error('the destination closed before the whole range was sent'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

/**
 * Resolves when `dest`, whose write() just returned false, wants more data; rejects when it
 * closes or fails first, or when `signal` aborts (the request's signal aborts when the client
 * goes away: a response that is already closed emits nothing more). Only events are used:
 * HTTP/2's compatibility response has neither `writableNeedDrain` nor `destroyed`.
 */
function drained(dest: Writable, signal: AbortSignal | undefined): Promise<void> {
  if (signal?.aborted === true) return Promise.reject(prematureClose());
  return new Promise((resolve, reject) => {
    const done = (err?: Error): void => {
      dest.off('drain', onDrain);
      dest.off('close', onClose);
      dest.off('error', onError);
      signal?.removeEventListener('abort', onClose);
      if (err === undefined) resolve();
      else reject(err);
    };
    const onDrain = (): void => done();
    const onClose = (): void => done(prematureClose());
    const onError = (err: Error): void => done(err);
    dest.once('drain', onDrain);
    dest.once('close', onClose);
    dest.once('error', onError);
    signal?.addEventListener('abort', onClose, { once: true });
  });
}

interface Chunk {
  readonly buf: Buffer;
  readonly length: number;
}

/** A byte range of an open file, sent with pooled buffers and one read ahead of the writes. */
class FileRange implements RangeSource {
  readonly #driver: string;
  readonly #path: string;
  readonly #offset: number;
  readonly #length: number;
  #handle: fsp.FileHandle | undefined;

  constructor(driver: string, path: string, handle: fsp.FileHandle, offset: number, length: number) {
    this.#driver = driver;
    this.#path = path;
    this.#handle = handle;
    this.#offset = offset;
    this.#length = length;
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  async sendTo(dest: Writable, options: { readonly signal?: AbortSignal; readonly onBytes?: (bytes: number) => void } = {}): Promise<void> {
    const handle = this.#handle;
    if (handle === undefined) throw new StorageDriverError(this.#driver, `${this.#driver}: ${this.#path}: range already sent or closed`);
    const { signal, onBytes } = options;
    const end = this.#offset + this.#length;
    const read = async (position: number): Promise<Chunk> => {
      const buf = transferBuffers.take();
      const want = Math.min(SEND_CHUNK, end - position);
      let length = 0;
      try {
        while (length < want) {
          const { bytesRead } = await handle.read(buf, length, want - length, position + length);
          if (bytesRead === 0) break;
          length += bytesRead;
        }
      } catch (err) {
        transferBuffers.give(buf);
        const message = err instanceof Error ? err.message : String(err);
        throw new StorageDriverError(this.#driver, `${this.#driver}: read ${this.#path}: ${message}`, { cause: err });
      }
      if (length < want) {
        transferBuffers.give(buf);
        throw new StorageDriverError(this.#driver, `${this.#driver}: ${this.#path} ended at ${position + length}, before ${end}`);
      }
      return { buf, length };
    };
    // A read ahead may fail while the loop waits for the destination: it is awaited (and its
    // error thrown) on the next turn, so mark it handled now.
    const readAhead = (position: number): Promise<Chunk> => {
      const chunk = read(position);
      chunk.catch(() => undefined);
      return chunk;
    };
    let position = this.#offset;
    let next: Promise<Chunk> | undefined = position < end ? readAhead(position) : undefined;
    try {
      while (next !== undefined) {
        const chunk: Chunk = await next;
        position += chunk.length;
        // Read the next chunk while the destination takes this one.
        next = position < end ? readAhead(position) : undefined;
        if (signal?.aborted === true || dest.destroyed === true || dest.writableEnded) {
          transferBuffers.give(chunk.buf);
          throw prematureClose();
        }
        // The buffer goes back to the pool once written out; after a failed write it is dropped.
        const more = dest.write(chunk.buf.subarray(0, chunk.length), (err) => {
          if (err === undefined || err === null) transferBuffers.give(chunk.buf);
        });
        onBytes?.(chunk.length);
        if (!more) await drained(dest, signal);
      }
    } finally {
      // A read still in flight must finish before the file is closed under it.
      if (next !== undefined) await next.then((chunk) => transferBuffers.give(chunk.buf), () => undefined);
      await this.close();
    }
  }
}
