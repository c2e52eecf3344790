/**
 * The S3 driver's FileWriter: content becomes a multipart upload, one part per `chunksize` bytes,
 * and an append continues that upload from any process, with the same object-store state as
 * Distribution's s3-aws driver (so either can continue the other's upload).
 *
 * State in the bucket, per key:
 * - while writing: an in-progress multipart upload of the key, parts numbered from 1. Every part but
 *   the last is at least 5 MiB (S3's minimum); close() uploads what is buffered as the last part,
 *   however small.
 * - after commit(): the object (CompleteMultipartUpload, or PutObject when everything fit in one
 *   buffer and no upload was started).
 * An append that must add parts after a last part below 5 MiB cannot do so in place (S3 would
 * refuse to complete), and parts of an unfinished upload cannot be read back. So, as Distribution
 * does, it completes the upload (the content so far becomes the object at the key), starts a new
 * upload and makes that object its first parts: server-side UploadPartCopy when it is at least
 * 5 MiB, else by downloading it into the buffer, where it is uploaded with the data that follows.
 * An append also continues a committed object that has no upload (the same way).
 *
 * writer(path, false) aborts the key's uploads and deletes its object, so the two exist together
 * only while such an append is in progress; the new upload holds the whole content once its copied
 * parts sum to the object's size. An append that finds both, with the upload short of the object
 * (a process died mid-copy), aborts the upload and starts over from the object, so a crash at any
 * point loses nothing that close() had persisted.
 *
 * Memory: at most one part buffer being filled and one being uploaded (2 × chunksize).
 */
import {
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  PutObjectCommand,
  UploadPartCommand,
  type ObjectCannedACL,
  type S3Client,
  type ServerSideEncryption,
  type StorageClass,
} from '@aws-sdk/client-s3';

import type { FileWriter } from '../driver.js';
import { StorageDriverError } from '../errors.js';
import {
  abortUpload,
  completeUpload,
  copyRanges,
  listParts,
  planCopyRanges,
  s3ErrorInfo,
  uploadsOfKey,
  type UploadedPart,
} from './multipart.js';
import { MIN_PART_SIZE } from './parameters.js';
import { WriterState } from '../writer-state.js';

/** The headers every object (and upload) the driver creates carries. */
export interface S3ObjectOptions {
  readonly ContentType: string;
  readonly ACL: ObjectCannedACL;
  readonly ServerSideEncryption: ServerSideEncryption | undefined;
  readonly SSEKMSKeyId: string | undefined;
  readonly StorageClass: StorageClass | undefined;
}

/** What a writer needs from its driver. */
export interface S3WriterContext {
  readonly name: string;
  readonly client: S3Client;
  /** For copies and completions, which a store may take long to answer (see S3Driver). */
  readonly slowClient: S3Client;
  readonly bucket: string;
  readonly chunkSize: number;
  readonly copyChunkSize: number;
  readonly copyConcurrency: number;
  readonly objectOptions: S3ObjectOptions;
  /** Turns an SDK error into a driver error for `path`. */
  translate(err: unknown, op: string, path: string): Error;
}

/** What the writer starts from, beyond the parts of its upload. */
type Base =
  /** Content is the upload's parts (if any) plus the buffer. */
  | { readonly kind: 'none' }
  /** The upload's last part is below 5 MiB: it must be completed before parts are added. */
  | { readonly kind: 'upload-tail' }
  /** The committed object at the key holds the first `size` bytes; there is no upload yet. */
  | { readonly kind: 'object'; readonly size: number };

/** Where a writer starts: its base, and the upload it continues (if any) with that upload's parts. */
interface WriterStart {
  readonly base: Base;
  readonly uploadId: string | undefined;
  readonly parts: UploadedPart[];
}

const INITIAL_BUFFER = 64 * 1024;

/**
 * Opens a writer for `key` (driver path `path`). Without `append`: aborts any upload of the key
 * and deletes the object there, so the writer starts empty. With `append`: continues the newest
 * upload of the key, or else the object at the key, or else starts empty.
 */
export async function openS3Writer(ctx: S3WriterContext, path: string, key: string, append: boolean, signal?: AbortSignal): Promise<FileWriter> {
  const { client, bucket } = ctx;
  const open = (start: WriterStart): S3FileWriter => new S3FileWriter(ctx, path, key, start, signal);
  const empty: WriterStart = { base: { kind: 'none' }, uploadId: undefined, parts: [] };
  try {
    if (!append) {
      await Promise.all([
        uploadsOfKey(client, bucket, key, signal).then((uploads) => Promise.all(uploads.map((u) => abortUpload(client, bucket, key, u.uploadId)))),
        client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal }),
      ]);
      return open(empty);
    }
    const [uploads, objectSize] = await Promise.all([uploadsOfKey(client, bucket, key, signal), headSize(client, bucket, key, signal)]);
    const fromObject: WriterStart | undefined =
      objectSize === undefined ? undefined : { base: { kind: 'object', size: objectSize }, uploadId: undefined, parts: [] };
    const newest = uploads.at(-1);
    if (newest === undefined) return open(fromObject ?? empty);
    const parts = await listParts(client, bucket, key, newest.uploadId, signal);
    const total = parts.reduce((sum, part) => sum + part.Size, 0);
    const contiguous = parts.every((part, index) => part.PartNumber === index + 1);
    if (fromObject !== undefined && objectSize !== undefined && (!contiguous || total < objectSize)) {
      // Both exist only while an append re-uploads the object into a new upload; this one died half-way.
      await abortUpload(client, bucket, key, newest.uploadId);
      return open(fromObject);
    }
    const small = parts.findIndex((part) => part.Size < MIN_PART_SIZE);
    if (!contiguous || (small !== -1 && small < parts.length - 1)) {
      throw new StorageDriverError(ctx.name, `${ctx.name}: the upload in progress for ${path} has missing or undersized parts`);
    }
    const last = parts.at(-1);
    return open({ base: last !== undefined && last.Size < MIN_PART_SIZE ? { kind: 'upload-tail' } : { kind: 'none' }, uploadId: newest.uploadId, parts });
  } catch (err) {
    throw ctx.translate(err, 'open writer for', path);
  }
}

/** The size of the object at `key`, or undefined when there is none. */
async function headSize(client: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<number | undefined> {
  try {
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }), { abortSignal: signal });
    return head.ContentLength ?? 0;
  } catch (err) {
    const { name, status } = s3ErrorInfo(err);
    if (name === 'NotFound' || name === 'NoSuchKey' || (status === 404 && name !== 'NoSuchBucket')) return undefined;
    throw err;
  }
}

class S3FileWriter implements FileWriter {
  readonly #ctx: S3WriterContext;
  readonly #path: string;
  readonly #key: string;
  /** The opening request's signal: write() refuses once it aborted; persisting what was accepted does not use it. */
  readonly #signal: AbortSignal | undefined;
  #base: Base;
  #uploadId: string | undefined;
  #parts: UploadedPart[];
  #nextPart: number;
  #size: number;
  /** The part being filled: `#buffer[0, #buffered)`. */
  #buffer: Buffer | undefined;
  #buffered = 0;
  /** The part upload running in the background, if any (it never rejects: see #failure). */
  #inflight: Promise<void> | undefined;
  /** Serialises write/close/commit/cancel work. */
  #queue: Promise<void> = Promise.resolve();
  #failure: { error: unknown } | undefined;
  readonly #state: WriterState;

  constructor(
    ctx: S3WriterContext,
    path: string,
    key: string,
    start: WriterStart,
    signal: AbortSignal | undefined,
  ) {
    this.#ctx = ctx;
    this.#path = path;
    this.#key = key;
    this.#signal = signal;
    this.#state = new WriterState(ctx.name, path);
    this.#base = start.base;
    this.#uploadId = start.uploadId;
    this.#parts = [...start.parts];
    this.#nextPart = start.parts.length + 1;
    this.#size = start.parts.reduce((sum, part) => sum + part.Size, 0) + (start.base.kind === 'object' ? start.base.size : 0);
  }

  get size(): number {
    return this.#size;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#state.assertOpen('write to');
    if (this.#failure !== undefined) throw this.#failed('an earlier write failed');
    this.#signal?.throwIfAborted();
    if (chunk.byteLength === 0) return;
    this.#size += chunk.byteLength;
    return this.#enqueue('write', async () => {
      await this.#settleBase();
      let offset = 0;
      while (offset < chunk.byteLength) {
        const take = Math.min(this.#ctx.chunkSize - this.#buffered, chunk.byteLength - offset);
        this.#reserve(this.#buffered + take);
        (this.#buffer as Buffer).set(chunk.subarray(offset, offset + take), this.#buffered);
        this.#buffered += take;
        offset += take;
        if (this.#buffered === this.#ctx.chunkSize) await this.#startPartUpload();
      }
    });
  }

  async close(): Promise<void> {
    if (!this.#state.close()) return;
    await this.#enqueue('close', async () => {
      await this.#drain();
      // What is buffered becomes the last part, however small: the next append deals with it.
      if (this.#buffered > 0) await this.#uploadPart(this.#takeBuffer(), this.#nextPart++);
    });
  }

  async commit(): Promise<void> {
    this.#state.commit();
    await this.#enqueue('commit', async () => {
      await this.#drain();
      const { client, bucket } = this.#ctx;
      if (this.#base.kind === 'object') return; // nothing written: the object already is the content
      if (this.#uploadId === undefined) {
        // Everything fits in the buffer: one atomic PUT.
        const body = this.#takeBuffer();
        await client.send(new PutObjectCommand({ Bucket: bucket, Key: this.#key, Body: body, ...this.#ctx.objectOptions }));
        return;
      }
      // An upload needs at least one part; S3 accepts an empty one as the only part.
      if (this.#buffered > 0 || this.#parts.length === 0) await this.#uploadPart(this.#takeBuffer(), this.#nextPart++);
      await completeUpload(this.#ctx.slowClient, bucket, this.#key, this.#uploadId, this.#parts);
      this.#uploadId = undefined;
    });
  }

  async cancel(): Promise<void> {
    this.#state.cancel();
    await this.#enqueue('cancel', async () => {
      await this.#inflight;
      this.#buffer = undefined;
      this.#buffered = 0;
      const { client, bucket } = this.#ctx;
      const uploads = await uploadsOfKey(client, bucket, this.#key);
      const ids = new Set([...uploads.map((u) => u.uploadId), ...(this.#uploadId !== undefined ? [this.#uploadId] : [])]);
      await Promise.all([...ids].map((id) => abortUpload(client, bucket, this.#key, id)));
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: this.#key }));
    }, false);
  }

  /**
   * Runs `work` after everything queued before it. A failure is remembered: later writes, and
   * close/commit, reject with it (unless `checkFailure` is false, as for cancel).
   */
  #enqueue(op: string, work: () => Promise<void>, checkFailure = true): Promise<void> {
    const run = this.#queue.then(async () => {
      if (checkFailure && this.#failure !== undefined) throw this.#failed('an earlier write failed');
      try {
        await work();
      } catch (err) {
        this.#failure ??= { error: err };
        throw err;
      }
    });
    this.#queue = run.catch(() => undefined);
    return run.catch((err: unknown) => Promise.reject(this.#ctx.translate(err, op, this.#path)));
  }

  /** Waits for the background part upload; rethrows its failure. */
  async #drain(): Promise<void> {
    await this.#inflight;
    this.#inflight = undefined;
    if (this.#failure !== undefined) throw this.#failure.error;
  }

  /** Before the first new byte: turn what an earlier session left into parts this writer can extend. */
  async #settleBase(): Promise<void> {
    const { client, bucket } = this.#ctx;
    if (this.#base.kind === 'upload-tail') {
      const uploadId = this.#uploadId as string;
      await completeUpload(this.#ctx.slowClient, bucket, this.#key, uploadId, this.#parts);
      this.#base = { kind: 'object', size: this.#parts.reduce((sum, part) => sum + part.Size, 0) };
      this.#uploadId = undefined;
      this.#parts = [];
      this.#nextPart = 1;
    }
    if (this.#base.kind !== 'object') return;
    const size = this.#base.size;
    if (size >= MIN_PART_SIZE) {
      const uploadId = await this.#createUpload();
      this.#parts = await copyRanges({
        client: this.#ctx.slowClient,
        bucket,
        sourceKey: this.#key,
        key: this.#key,
        uploadId,
        ranges: planCopyRanges(size, this.#ctx.copyChunkSize, true),
        firstPartNumber: 1,
        concurrency: this.#ctx.copyConcurrency,
      });
      this.#nextPart = this.#parts.length + 1;
    } else if (size > 0) {
      const object = await client.send(new GetObjectCommand({ Bucket: bucket, Key: this.#key }));
      const bytes = object.Body === undefined ? new Uint8Array(0) : await object.Body.transformToByteArray();
      if (bytes.byteLength !== size) {
        throw new StorageDriverError(this.#ctx.name, `${this.#ctx.name}: ${this.#path} changed while it was appended to`);
      }
      this.#reserve(size);
      (this.#buffer as Buffer).set(bytes, 0);
      this.#buffered = size;
    }
    this.#base = { kind: 'none' };
  }

  async #createUpload(): Promise<string> {
    const { client, bucket } = this.#ctx;
    const created = await client.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: this.#key, ...this.#ctx.objectOptions }));
    if (created.UploadId === undefined) throw new Error('CreateMultipartUpload returned no UploadId');
    this.#uploadId = created.UploadId;
    return created.UploadId;
  }

  /** Uploads the full buffer as the next part in the background, after the previous one finished. */
  async #startPartUpload(): Promise<void> {
    await this.#drain();
    if (this.#uploadId === undefined) await this.#createUpload();
    const body = this.#takeBuffer();
    const partNumber = this.#nextPart++;
    this.#inflight = this.#uploadPart(body, partNumber).catch((error: unknown) => {
      this.#failure ??= { error };
    });
  }

  async #uploadPart(body: Buffer, partNumber: number): Promise<void> {
    const uploadId = this.#uploadId ?? (await this.#createUpload());
    const { client, bucket } = this.#ctx;
    const result = await client.send(
      new UploadPartCommand({ Bucket: bucket, Key: this.#key, UploadId: uploadId, PartNumber: partNumber, Body: body, ContentLength: body.byteLength }),
    );
    if (result.ETag === undefined) throw new Error(`UploadPart ${partNumber} returned no ETag`);
    this.#parts.push({ PartNumber: partNumber, ETag: result.ETag, Size: body.byteLength });
  }

  /** Makes the part buffer hold at least `bytes`, growing it (up to chunksize) as data arrives. */
  #reserve(bytes: number): void {
    const capacity = this.#buffer?.byteLength ?? 0;
    if (bytes <= capacity) return;
    const grown = Buffer.allocUnsafe(Math.min(this.#ctx.chunkSize, Math.max(bytes, capacity * 2, INITIAL_BUFFER)));
    if (this.#buffer !== undefined) this.#buffer.copy(grown, 0, 0, this.#buffered);
    this.#buffer = grown;
  }

  /** Hands over the buffered bytes (the buffer itself: a new one is allocated for what follows). */
  #takeBuffer(): Buffer {
    const body = this.#buffer === undefined ? Buffer.alloc(0) : this.#buffer.subarray(0, this.#buffered);
    this.#buffer = undefined;
    this.#buffered = 0;
    return body;
  }

  #failed(what: string): StorageDriverError {
    const cause = this.#failure?.error;
    const detail = cause instanceof Error ? `: ${cause.message}` : '';
    return new StorageDriverError(this.#ctx.name, `${this.#ctx.name}: ${what} (${this.#path})${detail}`, { cause });
  }
}
