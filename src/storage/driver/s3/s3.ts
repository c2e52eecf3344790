/**
 * The `s3` storage driver: Amazon S3 and S3-compatible stores (tested against Ceph RGW), with
 * Distribution's `s3aws` object layout and upload state, so a bucket written by Distribution is
 * served by Berth and the other way round. Loaded only when configured (the factory imports it
 * dynamically): it pulls in the AWS SDK.
 */
import { addAbortSignal, Readable } from 'node:stream';

import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from '@aws-sdk/client-s3';
import { getSignedUrl } from '@aws-sdk/s3-request-presigner';

import { isValidPath, type FileInfo, type FileWriter, type StorageDriver } from '../driver.js';
import { InvalidOffsetError, InvalidPathError, PathNotFoundError, StorageDriverError } from '../errors.js';
import { abortUpload, copySource, listUploads, s3ErrorInfo } from './multipart.js';
import { createS3Client, slowOperationTimeout } from './client.js';
import type { S3Parameters } from './parameters.js';
import { abortUploadsBelow, copyOptions, deleteBelow, isNotFound, listPages, multipartCopy, objectOptionsOf, toListed, translateS3Error, type S3Bucket } from './objects.js';
import { inWalkOrder, withDirectories, type ListedObject } from './walk.js';
import { openS3Writer, type S3ObjectOptions, type S3WriterContext } from './writer.js';

export { parseS3Parameters, type S3Parameters } from './parameters.js';
export { createS3Client, SLOW_OPERATION_TIMEOUT_MS } from './client.js';

/** How long a presigned redirect URL stays valid: Distribution's 20 minutes. */
const REDIRECT_EXPIRY_SECONDS = 20 * 60;

/**
 * A StorageDriver over an S3 bucket, laid out as Distribution's s3-aws driver lays it out: driver
 * path "/docker/registry/v2/x" is the object key "<rootdirectory>/docker/registry/v2/x" (the root
 * directory's surrounding slashes dropped; no root: "docker/registry/v2/x").
 *
 * - Directories are implicit: a directory exists while some key is below it. stat() of a
 *   directory reports the modification time of one object below it (the root: the epoch).
 * - putContent is one PutObject: atomic, as S3 replaces objects whole.
 * - writer() keeps content in a multipart upload until commit() (see writer.ts); close() leaves
 *   the upload in progress for a later writer(path, true) in any process. Until commit() the
 *   content is not an object: stat/reader/getContent do not see it.
 * - move() is a server-side copy (multipart UploadPartCopy above `multipartcopythresholdsize`)
 *   then a delete of the source; replacing the destination is atomic.
 * - walk() pages through one ListObjectsV2 listing without delimiter and re-sorts it into walk
 *   order (see walk.ts); list() pages with delimiter '/'. Files walked carry their ETag as
 *   `version` (so a caller re-reads only objects that changed); stat() reports none.
 * - redirectUrl() presigns a GET or HEAD valid for 20 minutes.
 * - delete() removes the objects below the path and aborts the uploads in progress there.
 * - purgeUploads() aborts multipart uploads abandoned under the root directory.
 * Calls pass their AbortSignal to the SDK, so an aborted request stops its S3 call.
 */
export class S3Driver implements StorageDriver {
  readonly name = 's3';
  /** The validated parameters. */
  readonly parameters: S3Parameters;
  readonly #client: S3Client;
  readonly #slowClient: S3Client;
  readonly #bucket: string;
  /** The root directory without surrounding slashes ('' for none). */
  readonly #root: string;
  readonly #objectOptions: S3ObjectOptions;
  readonly #writerContext: S3WriterContext;
  readonly #objects: S3Bucket;

  /**
   * `client` defaults to one built from the parameters (see {@link createS3Client}); `slowClient`
   * (the same, with a longer timeout) sends the server-side operations a store may take long to
   * answer without sending a byte: copies and the completion of multipart uploads.
   */
  constructor(parameters: S3Parameters, client: S3Client = createS3Client(parameters), slowClient: S3Client = createS3Client(parameters, slowOperationTimeout(parameters))) {
    this.parameters = parameters;
    this.#client = client;
    this.#slowClient = slowClient;
    this.#bucket = parameters.bucket;
    this.#root = parameters.rootdirectory.replace(/\/+$/, '').replace(/^\/+/, '');
    this.#objectOptions = objectOptionsOf(parameters);
    this.#objects = {
      driver: this.name,
      client,
      slowClient,
      requestTimeoutMs: parameters.requestTimeoutMs,
      bucket: this.#bucket,
      objectOptions: this.#objectOptions,
      copyChunkSize: parameters.multipartCopyChunkSize,
      copyConcurrency: parameters.multipartCopyMaxConcurrency,
    };
    this.#writerContext = {
      name: this.name,
      client,
      slowClient,
      bucket: this.#bucket,
      chunkSize: parameters.chunkSize,
      copyChunkSize: parameters.multipartCopyChunkSize,
      copyConcurrency: parameters.multipartCopyMaxConcurrency,
      objectOptions: this.#objectOptions,
      translate: (err, op, path) => this.#translate(err, op, path),
    };
  }

  /** The object key of a driver path, exactly as Distribution's s3-aws driver builds it. */
  objectKey(path: string): string {
    if (!isValidPath(path)) throw new InvalidPathError(this.name, path);
    return this.#key(path);
  }

  async getContent(path: string, signal?: AbortSignal): Promise<Buffer> {
    const key = this.objectKey(path);
    signal?.throwIfAborted();
    try {
      const result = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key }), { abortSignal: signal });
      if (result.Body === undefined) return Buffer.alloc(0);
      const bytes = await result.Body.transformToByteArray();
      return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    } catch (err) {
      throw this.#translate(err, 'read', path);
    }
  }

  async putContent(path: string, data: Uint8Array, signal?: AbortSignal): Promise<void> {
    const key = this.objectKey(path);
    signal?.throwIfAborted();
    try {
      await this.#client.send(
        new PutObjectCommand({ Bucket: this.#bucket, Key: key, Body: data, ContentLength: data.byteLength, ...this.#objectOptions }),
        { abortSignal: signal },
      );
    } catch (err) {
      throw this.#translate(err, 'write', path, false);
    }
  }

  async reader(path: string, offset = 0, signal?: AbortSignal): Promise<Readable> {
    const key = this.objectKey(path);
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidOffsetError(this.name, path, offset);
    signal?.throwIfAborted();
    try {
      // No Range for offset 0: S3 refuses "bytes=0-" of an empty object.
      const range = offset > 0 ? `bytes=${offset}-` : undefined;
      const result = await this.#client.send(new GetObjectCommand({ Bucket: this.#bucket, Key: key, Range: range }), { abortSignal: signal });
      const body = result.Body;
      if (!(body instanceof Readable)) {
        throw new StorageDriverError(this.name, `${this.name}: read ${path}: the SDK returned a body that is not a Node.js stream`);
      }
      return signal !== undefined ? addAbortSignal(signal, body) : body;
    } catch (err) {
      // 416: the offset is at or past the end. At the end is an empty read, past it an error.
      if (s3ErrorInfo(err).name === 'InvalidRange' || s3ErrorInfo(err).status === 416) {
        const info = await this.stat(path, signal);
        if (!info.isDir && offset === info.size) return Readable.from([], { objectMode: false });
        throw new InvalidOffsetError(this.name, path, offset);
      }
      throw this.#translate(err, 'read', path);
    }
  }

  async writer(path: string, append: boolean, signal?: AbortSignal): Promise<FileWriter> {
    const key = this.objectKey(path);
    if (path === '/') throw new StorageDriverError(this.name, `${this.name}: cannot write to /`);
    signal?.throwIfAborted();
    return openS3Writer(this.#writerContext, path, key, append, signal);
  }

  async stat(path: string, signal?: AbortSignal): Promise<FileInfo> {
    const key = this.objectKey(path);
    signal?.throwIfAborted();
    if (path === '/') return { path, size: 0, modTime: new Date(0), isDir: true };
    try {
      const head = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: key }), { abortSignal: signal });
      return { path, size: head.ContentLength ?? 0, modTime: head.LastModified ?? new Date(0), isDir: false };
    } catch (err) {
      if (!isNotFound(err)) throw this.#translate(err, 'stat', path);
    }
    // No object: a directory when some key is below it.
    try {
      const page = await this.#client.send(new ListObjectsV2Command({ Bucket: this.#bucket, Prefix: `${key}/`, MaxKeys: 1 }), {
        abortSignal: signal,
      });
      const first = page.Contents?.[0];
      if (first === undefined) throw new PathNotFoundError(this.name, path);
      return { path, size: 0, modTime: first.LastModified ?? new Date(0), isDir: true };
    } catch (err) {
      throw this.#translate(err, 'stat', path);
    }
  }

  async list(path: string, signal?: AbortSignal): Promise<string[]> {
    this.objectKey(path);
    signal?.throwIfAborted();
    const prefix = this.#dirPrefix(path);
    const base = path === '/' ? '' : path;
    const out: string[] = [];
    try {
      for await (const page of listPages(this.#objects, prefix, '/', signal)) {
        for (const object of page.Contents ?? []) {
          const name = object.Key?.slice(prefix.length);
          if (name !== undefined && name !== '') out.push(`${base}/${name}`);
        }
        for (const common of page.CommonPrefixes ?? []) {
          const name = common.Prefix?.slice(prefix.length, -1);
          if (name !== undefined && name !== '') out.push(`${base}/${name}`);
        }
      }
    } catch (err) {
      throw this.#translate(err, 'list', path);
    }
    if (out.length === 0 && path !== '/') throw new PathNotFoundError(this.name, path);
    return out;
  }

  async move(from: string, to: string, signal?: AbortSignal): Promise<void> {
    const source = this.objectKey(from);
    const target = this.objectKey(to);
    if (from === '/' || to === '/') throw new StorageDriverError(this.name, `${this.name}: cannot move ${from} to ${to}`);
    signal?.throwIfAborted();
    let size: number;
    try {
      const head = await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: source }), { abortSignal: signal });
      size = head.ContentLength ?? 0;
    } catch (err) {
      throw this.#translate(err, 'move', from);
    }
    if (from === to) return;
    try {
      if (size <= this.parameters.multipartCopyThresholdSize) {
        await this.#slowClient.send(
          new CopyObjectCommand({ Bucket: this.#bucket, Key: target, CopySource: copySource(this.#bucket, source), ...copyOptions(this.#objects) }),
          { abortSignal: signal },
        );
      } else {
        await multipartCopy(this.#objects, source, target, size, signal);
      }
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: source }), { abortSignal: signal });
    } catch (err) {
      throw this.#translate(err, 'move', from);
    }
  }

  async delete(path: string, signal?: AbortSignal): Promise<void> {
    const key = this.objectKey(path);
    signal?.throwIfAborted();
    const prefix = this.#dirPrefix(path);
    const file = path === '/' ? undefined : key;
    try {
      // Objects below the path, and uploads in progress there (a writer's content is part of the tree).
      const [objects, uploads] = await Promise.all([deleteBelow(this.#objects, prefix, file, signal), abortUploadsBelow(this.#objects, prefix, file, signal)]);
      if (objects > 0 || file === undefined) return;
      // Not a directory: a file, or nothing.
      try {
        await this.#client.send(new HeadObjectCommand({ Bucket: this.#bucket, Key: file }), { abortSignal: signal });
      } catch (err) {
        if (isNotFound(err) && uploads > 0) return;
        throw err;
      }
      await this.#client.send(new DeleteObjectCommand({ Bucket: this.#bucket, Key: file }), { abortSignal: signal });
    } catch (err) {
      throw this.#translate(err, 'delete', path);
    }
  }

  async redirectUrl(path: string, method: 'GET' | 'HEAD'): Promise<string | undefined> {
    const key = this.objectKey(path);
    const input = { Bucket: this.#bucket, Key: key };
    const command = method === 'HEAD' ? new HeadObjectCommand(input) : new GetObjectCommand(input);
    return getSignedUrl(this.#client, command, { expiresIn: REDIRECT_EXPIRY_SECONDS });
  }

  async *walk(path: string, signal?: AbortSignal): AsyncGenerator<FileInfo> {
    this.objectKey(path);
    signal?.throwIfAborted();
    const prefix = this.#dirPrefix(path);
    const base = path === '/' ? '' : path;
    let listed = 0;
    const objects = async function* (driver: S3Driver): AsyncGenerator<ListedObject> {
      for await (const page of listPages(driver.#objects, prefix, undefined, signal)) {
        for (const object of page.Contents ?? []) {
          if (object.Key === undefined) continue;
          listed++;
          yield toListed(object, prefix);
        }
      }
    };
    try {
      for await (const entry of withDirectories(inWalkOrder(objects(this)))) {
        const info = { path: `${base}/${entry.rel}`, size: entry.size, modTime: entry.modTime, isDir: entry.isDir };
        yield entry.version === undefined ? info : { ...info, version: entry.version };
      }
    } catch (err) {
      throw this.#translate(err, 'walk', path);
    }
    if (listed === 0 && path !== '/') throw new PathNotFoundError(this.name, path);
  }

  /**
   * Aborts the multipart uploads under the root directory that were started before `olderThan`:
   * uploads whose writer never committed or cancelled (upload purging). An upload that is closed
   * between chunks is also in progress, so `olderThan` must leave room for the slowest client
   * (Distribution's purging age defaults to a week). Resolves with the keys of the uploads aborted
   * (with `dryRun`: that would be aborted).
   */
  async purgeUploads(olderThan: Date, options: { dryRun?: boolean; signal?: AbortSignal } = {}): Promise<string[]> {
    const { dryRun = false, signal } = options;
    const aborted: string[] = [];
    const prefix = this.#root === '' ? '' : `${this.#root}/`;
    try {
      for await (const upload of listUploads(this.#client, this.#bucket, prefix, signal)) {
        if (upload.initiated.getTime() >= olderThan.getTime()) continue;
        signal?.throwIfAborted();
        if (!dryRun) await abortUpload(this.#client, this.#bucket, upload.key, upload.uploadId);
        aborted.push(upload.key);
      }
    } catch (err) {
      throw this.#translate(err, 'purge uploads under', '/', false);
    }
    return aborted;
  }

  /** Fails when the bucket does not exist (other failures, e.g. a denied HeadBucket, are left to later calls). */
  async checkBucket(signal?: AbortSignal): Promise<void> {
    try {
      await this.#client.send(new HeadBucketCommand({ Bucket: this.#bucket }), { abortSignal: signal });
    } catch (err) {
      const { name, status } = s3ErrorInfo(err);
      if (name === 'NotFound' || name === 'NoSuchBucket' || status === 404) {
        throw new StorageDriverError(this.name, `${this.name}: bucket ${JSON.stringify(this.#bucket)} does not exist`, { cause: err });
      }
    }
  }

  /** Releases the client's sockets (its keep-alive agents would keep the process alive). */
  async close(): Promise<void> {
    this.destroy();
  }

  /** close(), synchronously. */
  destroy(): void {
    this.#client.destroy();
    this.#slowClient.destroy();
  }

  #key(path: string): string {
    // Distribution: strings.TrimLeft(strings.TrimRight(root, "/") + path, "/").
    return this.#root === '' ? path.slice(1) : `${this.#root}${path}`;
  }

  /** The key prefix of everything below a directory path ('' for the root of a root-less bucket). */
  #dirPrefix(path: string): string {
    if (path === '/') return this.#root === '' ? '' : `${this.#root}/`;
    return `${this.#key(path)}/`;
  }

  /** See {@link translateS3Error}. */
  #translate(err: unknown, op: string, path: string, missingIsNotFound = true): Error {
    return translateS3Error(this.#objects, err, op, path, missingIsNotFound);
  }
}


/**
 * Creates the driver from the `storage.s3` parameters (checked when the configuration loaded, or by
 * {@link parseS3Parameters}), and checks that the bucket exists.
 */
export async function createS3Driver(parameters: S3Parameters): Promise<S3Driver> {
  const driver = new S3Driver(parameters);
  try {
    await driver.checkBucket();
  } catch (err) {
    driver.destroy();
    throw err;
  }
  return driver;
}
