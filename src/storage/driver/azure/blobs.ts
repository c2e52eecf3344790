/**
 * What the Azure driver does beyond one blob call: flat listings, deleting a tree, server-side
 * copies, error translation, and the small helpers around the SDK's responses.
 */
import { Readable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';

import type { BlockBlobClient, ContainerClient } from '@azure/storage-blob';

import type { ListedBlob } from './layout.js';
import { isValidPath } from '../driver.js';
import { PathNotFoundError, StorageDriverError } from '../errors.js';
import pLimit from 'p-limit';

/** Default bytes of a new block id (32 base64 characters). */
export const BLOCK_ID_BYTES = 24;
/** Blobs per listing page. */
export const LIST_PAGE_SIZE = 5000;
const DELETE_CONCURRENCY = 16;

/** Every blob below `prefix` in name order, named relative to it; invalid names are skipped. */
export async function* listFlat(container: ContainerClient, prefix: string, signal: AbortSignal | undefined): AsyncGenerator<ListedBlob> {
  const pages = container.listBlobsFlat({ prefix, abortSignal: signal }).byPage({ maxPageSize: LIST_PAGE_SIZE });
  for await (const page of pages) {
    for (const item of page.segment.blobItems) {
      const name = item.name.slice(prefix.length);
      if (name === '' || !isValidPath(`/${name}`)) continue;
      yield { name, size: item.properties.contentLength ?? 0, modTime: item.properties.lastModified };
    }
  }
}

/**
 * Deletes every blob whose name starts with `prefix`, page by page (a listing continues by name,
 * so deleting what it returned does not disturb it); resolves with how many there were.
 */
export async function deleteBelow(container: ContainerClient, prefix: string, signal: AbortSignal | undefined): Promise<number> {
  let deleted = 0;
  const pages = container.listBlobsFlat({ prefix, abortSignal: signal }).byPage({ maxPageSize: LIST_PAGE_SIZE });
  for await (const page of pages) {
    const names = page.segment.blobItems.map((item) => item.name);
    await forEachLimit(names, DELETE_CONCURRENCY, (name) =>
      container.deleteBlob(name, { deleteSnapshots: 'include', abortSignal: signal }).then(
        () => undefined,
        (err: unknown) => (statusOf(err) === 404 ? undefined : Promise.reject(err)),
      ),
    );
    deleted += names.length;
  }
  return deleted;
}

/** How copyBlob waits for a copy that is still pending. */
export interface CopyPolling {
/** The driver's name, and the path copied from, for messages. */
readonly driver: string;
readonly from: string;
/** Polls before giving up (and aborting the copy); -1 never waits. */
readonly maxRetry: number;
/** Base delay between polls, multiplied by the attempt number. */
readonly delayMs: number;
readonly signal: AbortSignal | undefined;
}

/** Copies `sourceUrl` onto `target` server-side, polling while the copy is pending. */
export async function copyBlob(sourceUrl: string, target: BlockBlobClient, polling: CopyPolling): Promise<void> {
const { driver, from, maxRetry, delayMs, signal } = polling;
  const poller = await target.beginCopyFromURL(sourceUrl, { abortSignal: signal });
  const started = poller.getOperationState().result;
  let status = started?.copyStatus;
  let copyId = started?.copyId;
  let description: string | undefined;
  for (let attempt = 1; status === 'pending'; attempt++) {
    if (maxRetry < 0 || attempt > maxRetry) {
      if (copyId !== undefined) await target.abortCopyFromURL(copyId).catch(() => undefined);
      throw new StorageDriverError(driver, `${driver}: copy of ${from} did not complete after ${Math.max(0, maxRetry)} polls; aborted`);
    }
    await sleep(delayMs * attempt, undefined, { signal });
    const properties = await target.getProperties({ abortSignal: signal });
    status = properties.copyStatus;
    copyId = properties.copyId ?? copyId;
    description = properties.copyStatusDescription;
  }
  if (status !== undefined && status !== 'success') {
    throw new StorageDriverError(driver, `${driver}: copy of ${from} ${status}${description === undefined ? '' : `: ${description}`}`);
  }
}

/**
 * Turns an SDK error into a driver error: a 404 (but a missing container) is PathNotFoundError
 * when `notFound`; aborts and driver errors pass through.
 */
export function translateAzureError(driver: string, container: string, err: unknown, op: string, path: string, notFound = true): Error {
  if (err instanceof StorageDriverError) return err;
  if (err instanceof Error && err.name === 'AbortError') return err;
  if (hasCode(err, 'ContainerNotFound')) {
    return new StorageDriverError(driver, `${driver}: ${op} ${path}: the container ${container} does not exist`, { cause: err });
  }
  if (notFound && statusOf(err) === 404) return new PathNotFoundError(driver, path);
  if (statusOf(err) === 404 && hasCode(err, 'CannotVerifyCopySource')) return new PathNotFoundError(driver, path);
  const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
  return new StorageDriverError(driver, `${driver}: ${op} ${path}: ${message}`, { cause: err });
}

/**
 * The byte length of new block ids that matches `ids` (all ids of one blob must be equally long),
 * or undefined when they cannot be matched: ids of unequal length, not canonical base64, or too
 * short to draw unique random ids from.
 */
export function blockIdBytes(ids: readonly string[]): number | undefined {
  const [first] = ids;
  if (first === undefined) return BLOCK_ID_BYTES;
  const bytes = Buffer.from(first, 'base64');
  if (bytes.length < 12 || bytes.length > 64 || bytes.toString('base64') !== first) return undefined;
  return ids.every((id) => id.length === first.length) ? bytes.length : undefined;
}

export function asReadable(body: NodeJS.ReadableStream | undefined): Readable {
  if (body === undefined) return Readable.from([]);
  return body instanceof Readable ? body : new Readable().wrap(body);
}

export function toBuffer(chunk: unknown): Buffer {
  if (Buffer.isBuffer(chunk)) return chunk;
  if (chunk instanceof Uint8Array) return Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
  if (typeof chunk === 'string') return Buffer.from(chunk);
  throw new TypeError(`azure: a download yielded a ${typeof chunk}`);
}

export function statusOf(err: unknown): number | undefined {
  if (typeof err !== 'object' || err === null || !('statusCode' in err)) return undefined;
  return typeof err.statusCode === 'number' ? err.statusCode : undefined;
}

export function hasCode(err: unknown, code: string): boolean {
  return typeof err === 'object' && err !== null && 'code' in err && err.code === code;
}

export function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value < 1) throw new TypeError(`azure: ${name} must be a positive integer, got ${value}`);
  return value;
}

/** Runs `fn` over `items`, at most `limit` at once; rejects with the first failure after all settle. */
export async function forEachLimit<T>(items: readonly T[], limit: number, fn: (item: T) => Promise<void>): Promise<void> {
  let failure: { error: unknown } | undefined;
  await pLimit(limit).map(items, async (item) => {
    if (failure !== undefined) return;
    try {
      await fn(item);
    } catch (error) {
      failure ??= { error };
    }
  });
  if (failure !== undefined) throw failure.error;
}
