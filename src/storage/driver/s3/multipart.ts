/**
 * Multipart-upload plumbing shared by the S3 driver's writer and its multipart copy: listing
 * uploads and parts, completing and aborting, and copying byte ranges of an object into parts.
 */
import pLimit from 'p-limit';
import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  UploadPartCopyCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

import { MAX_PART_SIZE, MIN_PART_SIZE } from './parameters.js';

/** S3 numbers parts 1 to 10,000. */
export const MAX_PARTS = 10_000;

/** A part of a multipart upload, as CompleteMultipartUpload needs it (plus its size). */
export interface UploadedPart {
  readonly PartNumber: number;
  readonly ETag: string;
  readonly Size: number;
}

/** An in-progress multipart upload. */
export interface InProgressUpload {
  readonly key: string;
  readonly uploadId: string;
  readonly initiated: Date;
}

/** An inclusive byte range of a copy source. */
export interface ByteRange {
  readonly first: number;
  readonly last: number;
}

/** The value of a CopySource header: the bucket and the URL-encoded key. */
export function copySource(bucket: string, key: string): string {
  return `${bucket}/${key.split('/').map(encodeURIComponent).join('/')}`;
}

/** The error name and HTTP status of an SDK error (both undefined for anything else). */
export function s3ErrorInfo(err: unknown): { name: string | undefined; status: number | undefined } {
  if (typeof err !== 'object' || err === null) return { name: undefined, status: undefined };
  const name = 'name' in err && typeof err.name === 'string' ? err.name : undefined;
  let status: number | undefined;
  if ('$metadata' in err && typeof err.$metadata === 'object' && err.$metadata !== null && 'httpStatusCode' in err.$metadata) {
    const code: unknown = err.$metadata.httpStatusCode;
    if (typeof code === 'number') status = code;
  }
  return { name, status };
}

/** Every in-progress upload whose key starts with `prefix` (all pages), in the store's order. */
export async function* listUploads(client: S3Client, bucket: string, prefix: string, signal?: AbortSignal): AsyncGenerator<InProgressUpload> {
  let keyMarker: string | undefined;
  let uploadIdMarker: string | undefined;
  for (;;) {
    const page = await client.send(
      new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: prefix, KeyMarker: keyMarker, UploadIdMarker: uploadIdMarker }),
      { abortSignal: signal },
    );
    for (const upload of page.Uploads ?? []) {
      if (upload.Key === undefined || upload.UploadId === undefined) continue;
      yield { key: upload.Key, uploadId: upload.UploadId, initiated: upload.Initiated ?? new Date(0) };
    }
    if (page.IsTruncated !== true || (page.NextKeyMarker === undefined && page.NextUploadIdMarker === undefined)) return;
    keyMarker = page.NextKeyMarker;
    uploadIdMarker = page.NextUploadIdMarker;
  }
}

/** The in-progress uploads of exactly `key`, oldest first. */
export async function uploadsOfKey(client: S3Client, bucket: string, key: string, signal?: AbortSignal): Promise<InProgressUpload[]> {
  const out: InProgressUpload[] = [];
  for await (const upload of listUploads(client, bucket, key, signal)) if (upload.key === key) out.push(upload);
  return out.sort((a, b) => a.initiated.getTime() - b.initiated.getTime());
}

/** Every part of an upload (all pages), by part number. */
export async function listParts(client: S3Client, bucket: string, key: string, uploadId: string, signal?: AbortSignal): Promise<UploadedPart[]> {
  const parts: UploadedPart[] = [];
  let marker: string | undefined;
  for (;;) {
    const page = await client.send(new ListPartsCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumberMarker: marker }), {
      abortSignal: signal,
    });
    for (const part of page.Parts ?? []) {
      if (part.PartNumber === undefined || part.ETag === undefined) continue;
      parts.push({ PartNumber: part.PartNumber, ETag: part.ETag, Size: part.Size ?? 0 });
    }
    if (page.IsTruncated !== true || page.NextPartNumberMarker === undefined) break;
    marker = page.NextPartNumberMarker;
  }
  return parts.sort((a, b) => a.PartNumber - b.PartNumber);
}

/** Completes an upload from its parts (sorted here). */
export async function completeUpload(
  client: S3Client,
  bucket: string,
  key: string,
  uploadId: string,
  parts: readonly UploadedPart[],
  signal?: AbortSignal,
): Promise<void> {
  const sorted = [...parts].sort((a, b) => a.PartNumber - b.PartNumber);
  await client.send(
    new CompleteMultipartUploadCommand({
      Bucket: bucket,
      Key: key,
      UploadId: uploadId,
      MultipartUpload: { Parts: sorted.map(({ PartNumber, ETag }) => ({ PartNumber, ETag })) },
    }),
    { abortSignal: signal },
  );
}

/**
 * Aborts an upload. An upload that is already gone is not an error (S3 says NoSuchUpload; Ceph RGW
 * says NoSuchKey).
 */
export async function abortUpload(client: S3Client, bucket: string, key: string, uploadId: string): Promise<void> {
  try {
    await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: key, UploadId: uploadId }));
  } catch (err) {
    const { name, status } = s3ErrorInfo(err);
    if (name === 'NoSuchUpload' || name === 'NoSuchKey' || status === 404) return;
    throw err;
  }
}

/**
 * Splits `size` bytes into copy ranges of `chunkSize` (raised when that would need more than
 * 10,000 parts). With `allAtLeastMinimum` (the parts will be followed by more parts) a short last
 * range is merged into the one before it, or the two are split evenly when merging would exceed
 * the 5 GiB part limit, so every range is at least 5 MiB. `size` 0 gives no ranges.
 */
export function planCopyRanges(size: number, chunkSize: number, allAtLeastMinimum: boolean): ByteRange[] {
  if (size <= 0) return [];
  const chunk = Math.min(MAX_PART_SIZE, Math.max(chunkSize, Math.ceil(size / MAX_PARTS)));
  const ranges: ByteRange[] = [];
  for (let first = 0; first < size; first += chunk) ranges.push({ first, last: Math.min(size, first + chunk) - 1 });
  const last = ranges.at(-1);
  if (allAtLeastMinimum && ranges.length > 1 && last !== undefined && last.last - last.first + 1 < MIN_PART_SIZE) {
    const previous = ranges[ranges.length - 2] as ByteRange;
    ranges.length -= 2;
    const merged = last.last - previous.first + 1;
    if (merged <= MAX_PART_SIZE) {
      ranges.push({ first: previous.first, last: last.last });
    } else {
      const half = Math.ceil(merged / 2);
      ranges.push({ first: previous.first, last: previous.first + half - 1 }, { first: previous.first + half, last: last.last });
    }
  }
  return ranges;
}

/**
 * Copies `ranges` of the object `sourceKey` into parts `firstPartNumber`, `firstPartNumber + 1`, ...
 * of the upload, at most `concurrency` at a time. Resolves with the parts in order; on the first
 * failure, stops starting copies and rejects once those in flight have settled.
 */
export async function copyRanges(options: {
  client: S3Client;
  bucket: string;
  sourceKey: string;
  key: string;
  uploadId: string;
  ranges: readonly ByteRange[];
  firstPartNumber: number;
  concurrency: number;
  signal?: AbortSignal | undefined;
}): Promise<UploadedPart[]> {
  const { client, bucket, sourceKey, key, uploadId, ranges, firstPartNumber, signal } = options;
  const parts: UploadedPart[] = new Array<UploadedPart>(ranges.length);
  let failure: { error: unknown } | undefined;
  const limit = pLimit(Math.max(1, options.concurrency));
  await limit.map(ranges, async (range, index) => {
    if (failure !== undefined) return;
    const partNumber = firstPartNumber + index;
    try {
      const result = await client.send(
        new UploadPartCopyCommand({
          Bucket: bucket,
          Key: key,
          UploadId: uploadId,
          PartNumber: partNumber,
          CopySource: copySource(bucket, sourceKey),
          CopySourceRange: `bytes=${range.first}-${range.last}`,
        }),
        { abortSignal: signal },
      );
      const etag = result.CopyPartResult?.ETag;
      if (etag === undefined) throw new Error(`UploadPartCopy of part ${partNumber} returned no ETag`);
      parts[index] = { PartNumber: partNumber, ETag: etag, Size: range.last - range.first + 1 };
    } catch (error) {
      failure ??= { error };
    }
  });
  if (failure !== undefined) throw failure.error;
  return parts;
}
