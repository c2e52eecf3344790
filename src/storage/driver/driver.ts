import type { Readable } from 'node:stream';

/**
 * The contract every storage backend implements: a tiny filesystem-like interface over
 * absolute, slash-separated paths ("/docker/registry/v2/..."). All registry rules live above it
 * (storage/registry.ts); a driver knows nothing of blobs, manifests or tags.
 *
 * Paths: must start with "/", segments match [A-Za-z0-9._-]+ (no "." or ".." segments, no empty
 * segments), except the root "/". A driver throws InvalidPathError for anything else.
 * Failures: PathNotFoundError when a path is absent, InvalidOffsetError for a read past the end,
 * StorageDriverError (or a subclass) for anything else.
 */
export interface StorageDriver {
  readonly name: string;

  /** Reads a whole small object (links, manifests, hash states). Throws PathNotFoundError. */
  getContent(path: string, signal?: AbortSignal): Promise<Buffer>;

  /** Writes a whole small object atomically: readers see the old content or the new, never a mix. */
  putContent(path: string, data: Uint8Array, signal?: AbortSignal): Promise<void>;

  /**
   * Streams an object from `offset` (default 0). Throws PathNotFoundError, InvalidOffsetError when
   * offset > size (or negative); offset == size gives an empty stream. Destroying the stream, or
   * aborting `signal`, releases what the driver holds for it.
   */
  reader(path: string, offset?: number, signal?: AbortSignal): Promise<Readable>;

  /**
   * Opens a writer. With `append`, continues the content already written (and committed or not)
   * at `path`; without it, starts empty. Content is guaranteed visible at `path` only after commit().
   */
  writer(path: string, append: boolean, signal?: AbortSignal): Promise<FileWriter>;

  /** Size and modification time of a file, or `isDir` for a directory. Throws PathNotFoundError. */
  stat(path: string, signal?: AbortSignal): Promise<FileInfo>;

  /** Direct children of a directory as full paths, in no particular order. Throws PathNotFoundError. */
  list(path: string, signal?: AbortSignal): Promise<string[]>;

  /** Moves a file, replacing any file at `to` atomically. Throws PathNotFoundError when `from` is absent. */
  move(from: string, to: string, signal?: AbortSignal): Promise<void>;

  /** Deletes a file or a whole directory tree. Throws PathNotFoundError when absent. */
  delete(path: string, signal?: AbortSignal): Promise<void>;

  /**
   * A URL the client may fetch the object from directly (e.g. a presigned object-store URL),
   * or undefined when the driver serves content itself.
   */
  redirectUrl(path: string, method: 'GET' | 'HEAD'): Promise<string | undefined>;

  /**
   * Every file and directory below `path` (not `path` itself), depth first, in lexical order
   * within each directory. Throws PathNotFoundError when `path` is absent.
   */
  walk(path: string, signal?: AbortSignal): AsyncIterable<FileInfo>;

  /**
   * Releases what the driver holds (SDK clients and their sockets), once nothing uses it any more:
   * serve calls it on shutdown, garbage-collect when it is done. Calls made afterwards may fail.
   * Safe to call more than once.
   */
  close(): Promise<void>;
}

/**
 * An optional capability: drivers that keep writer state outside the paths (S3's multipart
 * uploads) clean up what abandoned writers left, for upload purging.
 */
export interface PurgesAbandonedWriters {
  /** Aborts writer state older than `olderThan`; returns what was (or, in dry-run, would be) removed. */
  purgeUploads(olderThan: Date, options?: { dryRun?: boolean; signal?: AbortSignal }): Promise<string[]>;
}

export function purgesAbandonedWriters(driver: StorageDriver): driver is StorageDriver & PurgesAbandonedWriters {
  return typeof (driver as Partial<PurgesAbandonedWriters>).purgeUploads === 'function';
}

/**
 * An optional capability: drivers that hold files locally copy a byte range into a writable (an
 * HTTP response) through read buffers they reuse, instead of handing out a stream whose every
 * chunk is a fresh allocation for the garbage collector (a pull then costs a quarter of the CPU).
 */
export interface OpensRanges {
  /**
   * Opens bytes [offset, offset + length) of a file for one sendTo(). Throws as reader() does
   * (PathNotFoundError; InvalidOffsetError when the range does not lie within the file).
   */
  openRange(path: string, offset: number, length: number, signal?: AbortSignal): Promise<RangeSource>;
}

/** A range opened by OpensRanges.openRange: send it once, or close it. */
export interface RangeSource {
  /**
   * Writes the range into `dest` without ending it, honouring back-pressure, then releases the
   * file. Resolves once `dest` has accepted the last byte; rejects (code ERR_STREAM_PREMATURE_CLOSE)
   * when `dest` closes first, with StorageDriverError when the file ends early. `onBytes` is
   * called as bytes are handed to `dest`.
   */
  sendTo(dest: ByteSink, options?: { readonly signal?: AbortSignal; readonly onBytes?: (bytes: number) => void }): Promise<void>;
  /** Releases the file without sending; a no-op after sendTo. */
  close(): Promise<void>;
}

/**
 * Same-sized buffers a driver borrows for a transfer and gives back once nothing refers to them,
 * so that moving a blob allocates nothing per chunk. The composition root passes one pool (storage's
 * BufferPool) shared with the upload path; a driver never reaches for a module-level pool itself.
 */
export interface ReusableBuffers {
  /** The byte length of every buffer. */
  readonly size: number;
  /** A buffer of `size` bytes, pooled or new. */
  take(): Buffer;
  /** Puts a buffer back (one that is never given back is simply collected). */
  give(buf: Buffer): void;
}

/**
 * Where a range is sent: a response, adapted by the HTTP layer (http/byte-sink.ts), which alone
 * knows how HTTP/1 and HTTP/2 responses report back-pressure and a client that went away.
 */
export interface ByteSink {
  /** True once the sink takes nothing more: the client went away, the response ended or failed. */
  readonly closed: boolean;
  /**
   * Queues `chunk`; false asks the sender to wait for drained() before the next write. `written`
   * is called once the chunk has gone out (with an error when it could not): only then may the
   * sender reuse the chunk's buffer.
   */
  write(chunk: Uint8Array, written: (err?: Error | null) => void): boolean;
  /** Resolves when the sink wants more; rejects with {@link sinkClosed}'s error when it closes first, or with its failure. */
  drained(): Promise<void>;
}

/** The error of a send whose sink closed before the whole content was sent (code ERR_STREAM_PREMATURE_CLOSE, as stream.pipeline's). */
export function sinkClosed(): Error {
  return Object.assign(new Error('the destination closed before the whole range was sent'), { code: 'ERR_STREAM_PREMATURE_CLOSE' });
}

export function opensRanges(driver: StorageDriver): driver is StorageDriver & OpensRanges {
  return typeof (driver as Partial<OpensRanges>).openRange === 'function';
}

export interface FileInfo {
  readonly path: string;
  readonly size: number;
  readonly modTime: Date;
  readonly isDir: boolean;
  /**
   * Changes whenever the file's content may have changed (inode and nanosecond mtime on a
   * filesystem, an ETag on object stores); absent when the driver cannot tell. Lets callers
   * validate a cached read with one stat. A directory's version changes when entries are added
   * or removed, to the file system's timestamp granularity (see LinkCache.sortedNames).
   */
  readonly version?: string;
}

/**
 * A writer returned by StorageDriver.writer. Write with `write` (or pipe into `stream()`), then
 * either commit() (content becomes visible at the path), cancel() (everything written is removed),
 * or close() (written content is kept for a later append, e.g. between upload chunks).
 */
export interface FileWriter {
  /** Bytes written so far, including content that existed before an append. */
  readonly size: number;
  /**
   * Appends `chunk`. The driver keeps its own copy, so the caller may reuse the buffer once the
   * promise resolves. Rejects with StorageDriverError once the writer is closed, committed or cancelled.
   */
  write(chunk: Uint8Array): Promise<void>;
  /** Ends this session, keeping what was written for a later writer(path, true). A no-op once finished, so safe in `finally`. */
  close(): Promise<void>;
  /** Ends the writer and removes the content at the path, including what earlier sessions wrote. Rejects once closed or committed. */
  cancel(): Promise<void>;
  /** Ends the writer and makes the content visible at the path. Rejects once closed, committed or cancelled. */
  commit(): Promise<void>;
}

/** One or more `/segment`s of the allowed characters, and no `.` or `..` segment: two regex runs, no split (every driver call checks its path). */
const SEGMENTS = /^(?:\/[A-Za-z0-9._-]+)+$/;
const DOT_SEGMENT = /\/\.\.?(?:\/|$)/;

/** True when `path` is a valid driver path (see StorageDriver). */
export function isValidPath(path: string): boolean {
  return path === '/' || (SEGMENTS.test(path) && !DOT_SEGMENT.test(path));
}
