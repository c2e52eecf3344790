import { randomUUID } from 'node:crypto';
import type { FileWriter, StorageDriver } from './driver/driver.js';
import { isPathNotFound } from './driver/errors.js';
import { OciError } from '../oci/errors.js';
import { Digester, digestAlgorithm, type Digest } from '../oci/digest.js';
import type { RepositoryName } from '../oci/reference.js';
import { uploadDataPath, uploadPath, uploadStartedAtPath, uploadsPath } from './paths.js';
import { Lru } from './lru.js';
import { uploadBuffers } from './buffer-pool.js';
import type { BlobContent, BlobDescriptor, ChunkExpectation, UploadInfo } from './services.js';

export type { ChunkExpectation, UploadInfo } from './services.js';

const UUID = /^[a-f0-9]{8}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{4}-[a-f0-9]{12}$/;

export function isUploadId(value: string): boolean {
  return UUID.test(value);
}

/**
 * Resumable blob uploads under `repositories/<name>/_uploads/<uuid>/`. All state lives in storage
 * (the data file and its size), so any process sharing the storage can continue an upload. The
 * SHA-256 state of each upload is kept in process as an optimisation; when a chunk arrives at a
 * process that does not hold it (another replica, a restart) the state is rebuilt by re-reading
 * the data received so far.
 */
export class UploadStore {
  private readonly hashers = new Lru<string, Digester>(1024);
  private readonly locks = new Map<string, Promise<unknown>>();

  constructor(
    private readonly driver: StorageDriver,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** Starts a session: writes `startedat` and an empty data file. */
  async start(name: RepositoryName): Promise<UploadInfo> {
    const uuid = randomUUID();
    const startedAt = this.clock();
    await this.driver.putContent(uploadStartedAtPath(name, uuid), Buffer.from(startedAt.toISOString()));
    const writer = await this.driver.writer(uploadDataPath(name, uuid), false);
    await writer.close();
    this.hashers.set(key(name, uuid), new Digester('sha256'));
    return { uuid, startedAt, size: 0 };
  }

  /** The session's state; throws BLOB_UPLOAD_UNKNOWN when there is no such upload. */
  async info(name: RepositoryName, uuid: string): Promise<UploadInfo> {
    const startedAt = await this.startedAt(name, uuid);
    // The data's size comes from a writer, not stat(): on object stores an upload in progress is
    // an unfinished multipart upload, invisible to stat and reader until it is committed.
    const writer = await this.driver.writer(uploadDataPath(name, uuid), true);
    const size = writer.size;
    await writer.close();
    return { uuid, startedAt, size };
  }

  /**
   * Appends a chunk streamed from `source`. Throws BLOB_UPLOAD_INVALID (416, with the current
   * range) when the chunk does not start where the upload ends, SIZE_INVALID when the body length
   * differs from what the client announced. Returns the new size.
   *
   * The SHA-256 state is updated while the chunk streams when this process holds the state for
   * exactly the bytes stored so far; otherwise (a replica that missed chunks, or a restart) the
   * chunk is stored unhashed and complete() catches up by reading back only what was not hashed.
   */
  async append(
    name: RepositoryName,
    uuid: string,
    source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
    expect: ChunkExpectation = {},
    signal?: AbortSignal,
  ): Promise<UploadInfo> {
    return this.exclusive(name, uuid, async () => {
      const startedAt = await this.startedAt(name, uuid);
      const writer = await this.driver.writer(uploadDataPath(name, uuid), true, signal);
      const initial = writer.size;
      if (expect.at !== undefined && expect.at !== initial) {
        await writer.close();
        throw stateError(initial, expect.at);
      }
      if (expect.start !== undefined && expect.start !== initial) {
        await writer.close();
        throw rangeError(initial, `chunk starts at ${expect.start}, upload is at ${initial}`);
      }
      const cached = this.hashers.get(key(name, uuid));
      const digester = cached !== undefined && cached.size === initial ? cached : cached === undefined && initial === 0 ? new Digester('sha256') : undefined;
      let received: number;
      const copy = { writeFailed: false };
      try {
        received = await copyPooled(source, writer, digester, expect.length, copy);
      } catch (err) {
        // Keep what reached storage, so the client can resume from the reported offset. A hasher
        // that fell behind a failed write is dropped; complete() rebuilds the state then.
        await writer.close().catch(() => undefined);
        if (digester !== undefined && (copy.writeFailed || digester.size !== writer.size)) this.hashers.delete(key(name, uuid));
        else if (digester !== undefined) this.hashers.set(key(name, uuid), digester);
        throw err;
      }
      await writer.close();
      if (digester !== undefined) this.hashers.set(key(name, uuid), digester);
      if (expect.length !== undefined && received !== expect.length) {
        throw new OciError('SIZE_INVALID', { message: `received ${received} bytes, announced ${expect.length}` });
      }
      return { uuid, startedAt, size: writer.size };
    });
  }

  /**
   * Completes the upload as `digest`: commits the data, verifies it hashes to `digest`, moves it
   * into `content` (the blob store, as wrapped) and removes the session. Throws DIGEST_INVALID (the session is removed)
   * on mismatch. With `at`, throws BLOB_UPLOAD_INVALID (404) before committing anything when the
   * upload's size is not `at` (the client's signed state is stale or not its own).
   */
  async complete(name: RepositoryName, uuid: string, digest: Digest, content: BlobContent, signal?: AbortSignal, at?: number): Promise<BlobDescriptor> {
    return this.exclusive(name, uuid, async () => {
      await this.startedAt(name, uuid);
      const writer = await this.driver.writer(uploadDataPath(name, uuid), true, signal);
      if (at !== undefined && writer.size !== at) {
        const size = writer.size;
        await writer.close();
        throw stateError(size, at);
      }
      await writer.commit();
      const size = writer.size;
      let start: Digester;
      if (digestAlgorithm(digest) === 'sha256') {
        const cached = this.hashers.get(key(name, uuid));
        start = cached !== undefined && cached.size <= size ? cached : new Digester('sha256');
      } else {
        start = new Digester(digestAlgorithm(digest));
      }
      const digester = await this.hashFrom(name, uuid, start, signal);
      if (digester.size !== size) throw new OciError('BLOB_UPLOAD_INVALID', { message: 'upload changed while it was completed' });
      const actual = digester.digest();
      if (actual !== digest) {
        await this.remove(name, uuid);
        throw new OciError('DIGEST_INVALID', { detail: { expected: digest, actual } });
      }
      await content.commitFrom(uploadDataPath(name, uuid), digest, size);
      await this.remove(name, uuid);
      return { digest, size };
    });
  }

  /** Cancels an upload; throws BLOB_UPLOAD_UNKNOWN when there is none. */
  async cancel(name: RepositoryName, uuid: string): Promise<void> {
    await this.info(name, uuid);
    await this.remove(name, uuid);
  }

  /**
   * Removes sessions older than `olderThan` (upload purging). Returns what was (or, with dryRun,
   * would be) removed.
   */
  async purge(name: RepositoryName, olderThan: Date, dryRun: boolean): Promise<string[]> {
    let entries: string[];
    try {
      entries = await this.driver.list(uploadsPath(name));
    } catch (err) {
      if (isPathNotFound(err)) return [];
      throw err;
    }
    const purged: string[] = [];
    for (const entry of entries) {
      const uuid = entry.slice(entry.lastIndexOf('/') + 1);
      let started: Date;
      try {
        started = new Date((await this.driver.getContent(uploadStartedAtPath(name, uuid))).toString('utf8').trim());
        if (Number.isNaN(started.getTime())) started = new Date(0);
      } catch (err) {
        if (!isPathNotFound(err)) throw err;
        // No startedat: a session whose start was interrupted; judge it by its data's age.
        const stat = await this.driver.stat(entry).catch(() => undefined);
        started = stat?.modTime ?? new Date(0);
      }
      if (started < olderThan) {
        purged.push(uuid);
        if (!dryRun) await this.remove(name, uuid);
      }
    }
    return purged;
  }

  private async remove(name: RepositoryName, uuid: string): Promise<void> {
    this.hashers.delete(key(name, uuid));
    try {
      await this.driver.delete(uploadPath(name, uuid));
    } catch (err) {
      if (!isPathNotFound(err)) throw err;
    }
  }

  /** When the upload began; throws BLOB_UPLOAD_UNKNOWN when there is no such upload. */
  private async startedAt(name: RepositoryName, uuid: string): Promise<Date> {
    if (!isUploadId(uuid)) throw new OciError('BLOB_UPLOAD_UNKNOWN', { detail: { uuid: uuid.slice(0, 64) } });
    try {
      const started = new Date((await this.driver.getContent(uploadStartedAtPath(name, uuid))).toString('utf8').trim());
      return Number.isNaN(started.getTime()) ? new Date(0) : started;
    } catch (err) {
      if (isPathNotFound(err)) throw new OciError('BLOB_UPLOAD_UNKNOWN', { detail: { uuid } });
      throw err;
    }
  }

  /** Feeds `digester` the upload's bytes from its current size to the end of the data file. */
  private async hashFrom(name: RepositoryName, uuid: string, digester: Digester, signal?: AbortSignal): Promise<Digester> {
    const stream = await this.driver.reader(uploadDataPath(name, uuid), digester.size, signal);
    for await (const chunk of stream) digester.update(chunk as Buffer);
    return digester;
  }

  /** Serialises operations on one upload within this process (a client's chunks arrive in order). */
  private async exclusive<T>(name: RepositoryName, uuid: string, fn: () => Promise<T>): Promise<T> {
    const k = key(name, uuid);
    const previous = this.locks.get(k) ?? Promise.resolve();
    const run = previous.then(fn, fn);
    const settled = run.catch(() => undefined);
    this.locks.set(k, settled);
    try {
      return await run;
    } finally {
      if (this.locks.get(k) === settled) this.locks.delete(k);
    }
  }
}

/**
 * Streams `source` into `writer`: socket chunks (64 KiB) are copied into pooled 256 KiB buffers,
 * hashed, and written with at most one write in flight while the next buffer fills. Returns the
 * bytes received; SIZE_INVALID as soon as they pass `announced`. A failed write sets
 * `state.writeFailed` (the digester is then ahead of the data).
 */
async function copyPooled(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  writer: FileWriter,
  digester: Digester | undefined,
  announced: number | undefined,
  state: { writeFailed: boolean },
): Promise<number> {
  let received = 0;
  let fill = uploadBuffers.take();
  let filled = 0;
  let writing: Promise<void> | undefined;
  const flush = async (): Promise<void> => {
    if (filled === 0) return;
    const full = fill;
    const bytes = full.subarray(0, filled);
    fill = uploadBuffers.take();
    filled = 0;
    if (writing !== undefined) await writing;
    digester?.update(bytes);
    const write = writer.write(bytes).then(
      () => uploadBuffers.give(full),
      (err: unknown) => {
        state.writeFailed = true;
        throw err;
      },
    );
    write.catch(() => undefined); // awaited by the next flush or at the end
    writing = write;
  };
  try {
    for await (const chunk of source) {
      received += chunk.byteLength;
      if (announced !== undefined && received > announced) throw new OciError('SIZE_INVALID', { message: 'request body is longer than announced' });
      for (let offset = 0; offset < chunk.byteLength; ) {
        const n = Math.min(fill.byteLength - filled, chunk.byteLength - offset);
        fill.set(offset === 0 && n === chunk.byteLength ? chunk : chunk.subarray(offset, offset + n), filled);
        filled += n;
        offset += n;
        if (filled === fill.byteLength) await flush();
      }
    }
    await flush();
    await writing;
    uploadBuffers.give(fill);
    return received;
  } catch (err) {
    await writing?.catch(() => undefined);
    throw err;
  }
}

function key(name: RepositoryName, uuid: string): string {
  return `${name}\u0000${uuid}`;
}

function stateError(size: number, at: number): OciError {
  // Distribution answers a state whose offset is not the upload's size with 404 BLOB_UPLOAD_INVALID.
  return new OciError('BLOB_UPLOAD_INVALID', { status: 404, message: `upload state is at ${at}, upload is at ${size}` });
}

function rangeError(size: number, message: string): OciError {
  return new OciError('BLOB_UPLOAD_INVALID', {
    status: 416,
    message,
    headers: { Range: size === 0 ? '0-0' : `0-${size - 1}` },
  });
}
