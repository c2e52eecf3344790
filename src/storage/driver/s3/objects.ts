/**
 * What the S3 driver does with many objects at once: listing pages, deleting a tree (objects and
 * uploads in progress), copying a large object part by part. Functions over an {@link S3Bucket}.
 */
import {
  CreateMultipartUploadCommand,
  DeleteObjectsCommand,
  ListObjectsV2Command,
  type _Object,
  type ListObjectsV2CommandOutput,
  type S3Client,
} from '@aws-sdk/client-s3';

import { PathNotFoundError, StorageDriverError, StorageUnavailableError } from '../errors.js';
import { abortUpload, completeUpload, copyRanges, listUploads, planCopyRanges, s3ErrorInfo } from './multipart.js';
import type { S3Parameters } from './parameters.js';
import type { ListedObject } from './walk.js';
import type { S3ObjectOptions } from './writer.js';

/** The most keys one ListObjectsV2 page or one DeleteObjects request holds. */
const LIST_MAX = 1000;

/** The bucket a driver works on, and how it writes objects there. */
export interface S3Bucket {
  /** The driver's name, for messages. */
  readonly driver: string;
  readonly client: S3Client;
  /** The same, with a longer timeout: for copies and multipart completions, which a store answers only when done. */
  readonly slowClient: S3Client;
  /** `storage.s3.requesttimeout`, for messages. */
  readonly requestTimeoutMs: number;
  readonly bucket: string;
  readonly objectOptions: S3ObjectOptions;
  /** Part size and parallel parts of a multipart copy. */
  readonly copyChunkSize: number;
  readonly copyConcurrency: number;
}

/** ListObjectsV2 pages under `prefix`, following continuation tokens. */
export async function* listPages(b: S3Bucket, prefix: string, delimiter: string | undefined, signal: AbortSignal | undefined): AsyncGenerator<ListObjectsV2CommandOutput> {
  let token: string | undefined;
  for (;;) {
    signal?.throwIfAborted();
    const page = await b.client.send(
      new ListObjectsV2Command({ Bucket: b.bucket, Prefix: prefix, Delimiter: delimiter, MaxKeys: LIST_MAX, ContinuationToken: token }),
      { abortSignal: signal },
    );
    yield page;
    if (page.IsTruncated !== true || page.NextContinuationToken === undefined) return;
    token = page.NextContinuationToken;
  }
}

/**
 * Deletes every object whose key starts with `prefix`, one listing page (one DeleteObjects of up
 * to 1000 keys) at a time; `file` (the key of the path itself) goes with the first batch when
 * anything is below it. Resolves with how many objects were below.
 */
export async function deleteBelow(b: S3Bucket, prefix: string, file: string | undefined, signal: AbortSignal | undefined): Promise<number> {
  let count = 0;
  let startAfter: string | undefined;
  for (;;) {
    const page = await b.client.send(
      new ListObjectsV2Command({ Bucket: b.bucket, Prefix: prefix, MaxKeys: LIST_MAX, StartAfter: startAfter }),
      { abortSignal: signal },
    );
    const listed = (page.Contents ?? []).flatMap((object) => (object.Key !== undefined ? [object.Key] : []));
    if (listed.length === 0) return count;
    await deleteKeys(b, count === 0 && file !== undefined ? [...listed, file] : listed, signal);
    count += listed.length;
    startAfter = listed.at(-1);
    if (page.IsTruncated !== true) return count;
  }
}

/** Aborts the uploads in progress of `file` and of every key starting with `prefix`; resolves with how many. */
export async function abortUploadsBelow(b: S3Bucket, prefix: string, file: string | undefined, signal: AbortSignal | undefined): Promise<number> {
  const targets: Array<{ key: string; uploadId: string }> = [];
  for await (const upload of listUploads(b.client, b.bucket, file ?? prefix, signal)) {
    if (upload.key === file || upload.key.startsWith(prefix)) targets.push(upload);
  }
  await Promise.all(targets.map((upload) => abortUpload(b.client, b.bucket, upload.key, upload.uploadId)));
  return targets.length;
}

/** How many times a batch deletion tries the keys that failed. */
const DELETE_ATTEMPTS = 3;

async function deleteKeys(b: S3Bucket, keys: readonly string[], signal: AbortSignal | undefined): Promise<void> {
  for (let start = 0; start < keys.length; start += LIST_MAX) {
    let batch = keys.slice(start, start + LIST_MAX);
    // Ceph RGW fails the deletion of a key being written at that moment (UnknownError): the keys
    // that failed are tried again, so a DELETE racing a PUT of the same manifest does not answer 500.
    for (let attempt = 1; ; attempt++) {
      const result = await b.client.send(
        new DeleteObjectsCommand({ Bucket: b.bucket, Delete: { Objects: batch.map((Key) => ({ Key })), Quiet: true } }),
        { abortSignal: signal },
      );
      const errors = (result.Errors ?? []).filter((e) => e.Code !== 'NoSuchKey');
      if (errors.length === 0) break;
      if (attempt < DELETE_ATTEMPTS) {
        batch = errors.map((e) => e.Key).filter((k): k is string => k !== undefined);
        continue;
      }
      const detail = errors
        .slice(0, 5)
        .map((e) => `${e.Key ?? '?'}: ${e.Code ?? '?'} ${e.Message ?? ''}`.trim())
        .join('; ');
      throw new StorageDriverError(b.driver, `${b.driver}: could not delete ${errors.length} objects: ${detail}`);
    }
  }
}

/** The headers of every object (and upload) the driver creates, from its parameters. */
export function objectOptionsOf(parameters: S3Parameters): S3ObjectOptions {
  return Object.freeze({
    ContentType: 'application/octet-stream',
    ACL: parameters.objectAcl,
    ServerSideEncryption: parameters.encrypt ? (parameters.keyId !== undefined ? 'aws:kms' : 'AES256') : undefined,
    SSEKMSKeyId: parameters.keyId,
    StorageClass: parameters.storageClass,
  });
}

/** CopyObject keeps the source's metadata; these are the headers that still apply. */
export function copyOptions(b: S3Bucket): Omit<S3ObjectOptions, 'ContentType'> {
  const { ContentType: _contentType, ...rest } = b.objectOptions;
  return rest;
}

export async function multipartCopy(b: S3Bucket, source: string, target: string, size: number, signal: AbortSignal | undefined): Promise<void> {
  const created = await b.client.send(new CreateMultipartUploadCommand({ Bucket: b.bucket, Key: target, ...b.objectOptions }), {
    abortSignal: signal,
  });
  const uploadId = created.UploadId;
  if (uploadId === undefined) throw new StorageDriverError(b.driver, `${b.driver}: CreateMultipartUpload returned no UploadId`);
  try {
    const parts = await copyRanges({
      client: b.slowClient,
      bucket: b.bucket,
      sourceKey: source,
      key: target,
      uploadId,
      ranges: planCopyRanges(size, b.copyChunkSize, false),
      firstPartNumber: 1,
      concurrency: b.copyConcurrency,
      signal,
    });
    await completeUpload(b.slowClient, b.bucket, target, uploadId, parts, signal);
  } catch (err) {
    await abortUpload(b.client, b.bucket, target, uploadId).catch(() => undefined);
    throw err;
  }
}

/** A listed object, named relative to the listed prefix. */
export function toListed(object: _Object, prefix: string): ListedObject {
  const listed = { rel: (object.Key ?? '').slice(prefix.length), size: object.Size ?? 0, modTime: object.LastModified ?? new Date(0) };
  return object.ETag === undefined ? listed : { ...listed, version: object.ETag };
}

/**
 * Turns an SDK error into a driver error. With `missingIsNotFound` (the default), a missing key
 * is PathNotFoundError; a missing bucket never is. Aborts and driver errors pass through.
 */
export function translateS3Error(b: S3Bucket, err: unknown, op: string, path: string, missingIsNotFound = true): Error {
  if (err instanceof StorageDriverError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  const unavailable = unavailableReason(err, b.requestTimeoutMs);
  if (unavailable !== undefined) return new StorageUnavailableError(b.driver, `${b.driver}: ${op} ${path}: ${unavailable}`, { cause: err });
  const { name, status } = s3ErrorInfo(err);
  if (name === 'NoSuchBucket') {
    return new StorageDriverError(b.driver, `${b.driver}: bucket ${JSON.stringify(b.bucket)} does not exist`, { cause: err });
  }
  if (missingIsNotFound && isNotFound(err)) return new PathNotFoundError(b.driver, path);
  const message = err instanceof Error ? err.message : String(err);
  const code = name !== undefined && name !== 'Error' ? `${name}${status !== undefined ? ` (${status})` : ''}: ` : '';
  return new StorageDriverError(b.driver, `${b.driver}: ${op} ${path}: ${code}${message}`, { cause: err });
}

/** Why the store counts as unavailable (no answer in time, connection refused), or undefined. */
function unavailableReason(err: unknown, timeoutMs: number): string | undefined {
  if (!(err instanceof Error)) return undefined;
  if (err.name === 'TimeoutError') return `no answer within ${timeoutMs} ms (storage.s3.requesttimeout)`;
  const code = 'code' in err ? err.code : undefined;
  if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') return `cannot connect (${code})`;
  return undefined;
}

/** A missing key: GetObject says NoSuchKey, HeadObject a bare 404 (NotFound). */
export function isNotFound(err: unknown): boolean {
  const { name, status } = s3ErrorInfo(err);
  return name === 'NoSuchKey' || name === 'NotFound' || (status === 404 && name !== 'NoSuchBucket' && name !== 'NoSuchUpload');
}
