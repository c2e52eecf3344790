import { Readable, addAbortSignal } from 'node:stream';

import type { BlobGetPropertiesResponse, BlobItem, BlobRequestConditions, BlockBlobClient, ContainerClient } from '@azure/storage-blob';

import { createAzureClients, type BlobUrlSigner } from './auth.js';
import { asReadable, BLOCK_ID_BYTES, blockIdBytes, copyBlob, deleteBelow, hasCode, LIST_PAGE_SIZE, listFlat, positiveInteger, statusOf, toBuffer, translateAzureError, type CopyPolling } from './blobs.js';
import { BlobLayout, inWalkOrder } from './layout.js';
import type { AzureParameters } from './parameters.js';
import { AzureBlockWriter } from './writer.js';
import { isValidPath, type FileInfo, type FileWriter, type StorageDriver } from '../driver.js';
import { InvalidOffsetError, InvalidPathError, PathNotFoundError, StorageDriverError, StorageUnavailableError } from '../errors.js';
import { isSilentSocketError } from '../idle-timeout-agent.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../request-timeout.js';

export { parseAzureParameters, type AzureParameters } from './parameters.js';

const MiB = 1024 * 1024;
/** Default bytes per staged block: Distribution's chunk size, and Azure's high-throughput threshold. */
const DEFAULT_BLOCK_SIZE = 4 * MiB;
const DEFAULT_STAGE_CONCURRENCY = 2;
/** How long a redirect URL stays valid, as in Distribution. */
const REDIRECT_TTL_MS = 20 * 60_000;
/** How long a copy source URL stays valid: long enough for a slow server-side copy. */
const COPY_SOURCE_TTL_MS = 60 * 60_000;
/** Retries of a broken download stream; each retry asks for the same ETag, so content never mixes. */
const DOWNLOAD_RETRIES = 5;

/** How to build an {@link AzureDriver}; {@link createAzureDriver} fills it from the configuration. */
export interface AzureDriverOptions {
  /** The container holding everything; it must exist (createAzureDriver creates it). */
  readonly container: ContainerClient;
  /** Signs redirect and copy-source URLs. */
  readonly signer: BlobUrlSigner;
  /** Distribution's `rootdirectory`: a prefix of every blob name (default none). */
  readonly rootdirectory?: string;
  /** Bytes per staged block of a writer (default 4 MiB, at least 1). */
  readonly blockSize?: number;
  /** Blocks a writer stages at once (default 2). */
  readonly stageConcurrency?: number;
  /** How many times move() polls a copy that is still pending; -1 never waits (default 5). */
  readonly copyStatusPollMaxRetry?: number;
  /** Base delay between those polls in ms, multiplied by the attempt number (default 100). */
  readonly copyStatusPollDelayMs?: number;
  /** The clients' `requesttimeout`, for messages (the agent of auth.ts enforces it). */
  readonly requestTimeoutMs?: number;
  /** The clock for URL expiry (default: the system clock). */
  readonly now?: () => Date;
}

/**
 * A StorageDriver over an Azure Blob Storage container, layout-compatible with Distribution's
 * `azure` driver: driver path "/a/b" is the blob `<rootdirectory>/a/b` (see BlobLayout), and
 * directories are virtual (a directory exists while a blob lies below it).
 *
 * - putContent is one Put Blob: atomic. getContent and reader are downloads whose retries are
 *   pinned to the first response's ETag, so a reader never sees a mix of two versions.
 * - writer() writes a block blob with staged blocks (AzureBlockWriter); close() commits the block
 *   list, so another process continues with writer(path, true). Content is visible at close().
 * - move() is a server-side copy from a short-lived SAS URL of the source, then a delete of the
 *   source (Azurite has no Put Block From URL, and a copy also works across blob types).
 * - redirectUrl() is a read-only SAS URL valid for 20 minutes (undefined with a SAS connection string).
 * - walk() pages through one flat listing and reorders it on the fly (inWalkOrder).
 * - Blobs whose names are no valid driver path (written by other tools) are skipped by list and walk.
 */
export class AzureDriver implements StorageDriver {
  readonly name = 'azure';
  readonly #container: ContainerClient;
  readonly #signer: BlobUrlSigner;
  readonly #layout: BlobLayout;
  readonly #blockSize: number;
  readonly #stageConcurrency: number;
  readonly #pollMaxRetry: number;
  readonly #pollDelayMs: number;
  readonly #now: () => Date;
  readonly #requestTimeoutMs: number;

  constructor(options: AzureDriverOptions) {
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#container = options.container;
    this.#signer = options.signer;
    this.#layout = new BlobLayout(options.rootdirectory ?? '');
    this.#blockSize = positiveInteger(options.blockSize ?? DEFAULT_BLOCK_SIZE, 'blockSize');
    this.#stageConcurrency = positiveInteger(options.stageConcurrency ?? DEFAULT_STAGE_CONCURRENCY, 'stageConcurrency');
    this.#pollMaxRetry = options.copyStatusPollMaxRetry ?? 5;
    this.#pollDelayMs = options.copyStatusPollDelayMs ?? 100;
    this.#now = options.now ?? (() => new Date());
  }

  /** The blob name prefix of everything this driver stores ('' or `<rootdirectory>/`). */
  get blobPrefix(): string {
    return this.#layout.prefix;
  }

  /** The name of the blob that holds driver path `path` (a file path, not "/"). */
  blobName(path: string): string {
    return this.#layout.blobName(this.#filePath(path));
  }

  async getContent(path: string, signal?: AbortSignal): Promise<Buffer> {
    const blob = this.#blob(this.#filePath(path, true));
    signal?.throwIfAborted();
    try {
      const response = await blob.download(0, undefined, { abortSignal: signal, maxRetryRequests: DOWNLOAD_RETRIES });
      const chunks: Buffer[] = [];
      for await (const chunk of asReadable(response.readableStreamBody)) chunks.push(toBuffer(chunk));
      return Buffer.concat(chunks);
    } catch (err) {
      throw this.#translate(err, 'read', path);
    }
  }

  async putContent(path: string, data: Uint8Array, signal?: AbortSignal): Promise<void> {
    const blob = this.#blob(this.#filePath(path));
    signal?.throwIfAborted();
    try {
      try {
        await blob.uploadData(data, { abortSignal: signal });
      } catch (err) {
        // Distribution writes small files as append blobs; Azure refuses to replace a blob of
        // another type in one Put Blob, so delete it first (not atomic, as in Distribution).
        if (!hasCode(err, 'InvalidBlobType')) throw err;
        await blob.delete({ abortSignal: signal }).catch((deleteErr: unknown) => (statusOf(deleteErr) === 404 ? undefined : Promise.reject(deleteErr)));
        await blob.uploadData(data, { abortSignal: signal });
      }
    } catch (err) {
      throw this.#translate(err, 'write', path, false);
    }
  }

  async reader(path: string, offset = 0, signal?: AbortSignal): Promise<Readable> {
    const blob = this.#blob(this.#filePath(path, true));
    if (!Number.isSafeInteger(offset) || offset < 0) throw new InvalidOffsetError(this.name, path, offset);
    signal?.throwIfAborted();
    let stream: Readable;
    try {
      const response = await blob.download(offset, undefined, { abortSignal: signal, maxRetryRequests: DOWNLOAD_RETRIES });
      stream = asReadable(response.readableStreamBody);
    } catch (err) {
      if (statusOf(err) !== 416) throw this.#translate(err, 'read', path);
      // Azure answers 416 from the end on (Azurite only past it): an empty stream at the end.
      const size = (await this.#properties(blob, path, signal)).contentLength ?? 0;
      if (offset !== size) throw new InvalidOffsetError(this.name, path, offset);
      stream = Readable.from([]);
    }
    return signal ? addAbortSignal(signal, stream) : stream;
  }

  async writer(path: string, append: boolean, signal?: AbortSignal): Promise<FileWriter> {
    const blob = this.#blob(this.#filePath(path));
    signal?.throwIfAborted();
    if (!append) return this.#newWriter(path, blob, [], 0, BLOCK_ID_BYTES, {}, signal);
    let list;
    try {
      list = await blob.getBlockList('committed', { abortSignal: signal });
    } catch (err) {
      if (statusOf(err) === 404 && !hasCode(err, 'ContainerNotFound')) {
        return this.#newWriter(path, blob, [], 0, BLOCK_ID_BYTES, { ifNoneMatch: '*' }, signal);
      }
      if (hasCode(err, 'InvalidBlobType')) {
        throw new StorageDriverError(this.name, `${this.name}: cannot append to ${path}: it is not a block blob (an append blob written by Distribution?)`, { cause: err });
      }
      throw this.#translate(err, 'open writer for', path, false);
    }
    const blocks = list.committedBlocks ?? [];
    const listed = blocks.reduce((sum, block) => sum + block.size, 0);
    const size = list.blobContentLength ?? listed;
    // Azure sends the ETag with the block list only when there are committed blocks.
    const etag = list.etag ?? (await this.#properties(blob, path, signal)).etag;
    const conditions: BlobRequestConditions = etag === undefined ? {} : { ifMatch: etag };
    const idBytes = blockIdBytes(blocks.map((block) => block.name));
    if (listed === size && idBytes !== undefined) {
      return this.#newWriter(path, blob, blocks.map((block) => block.name), size, idBytes, conditions, signal);
    }
    // Content the block list does not describe (one Put Blob, from putContent or another tool) or
    // block ids we cannot match in length: stage it again as blocks of our own.
    const writer = this.#newWriter(path, blob, [], 0, BLOCK_ID_BYTES, conditions, signal);
    try {
      const response = await blob.download(0, undefined, { abortSignal: signal, conditions, maxRetryRequests: DOWNLOAD_RETRIES });
      for await (const chunk of asReadable(response.readableStreamBody)) await writer.write(toBuffer(chunk));
    } catch (err) {
      await writer.cancel().catch(() => undefined);
      throw this.#translate(err, 'open writer for', path, false);
    }
    return writer;
  }

  async stat(path: string, signal?: AbortSignal): Promise<FileInfo> {
    this.#validate(path);
    signal?.throwIfAborted();
    if (path === '/') return { path, size: 0, modTime: new Date(0), isDir: true };
    try {
      const properties = await this.#blob(path).getProperties({ abortSignal: signal });
      return { path, size: properties.contentLength ?? 0, modTime: properties.lastModified ?? new Date(0), isDir: false };
    } catch (err) {
      if (statusOf(err) !== 404 || hasCode(err, 'ContainerNotFound')) throw this.#translate(err, 'stat', path);
    }
    // A directory exists while a blob lies below it; it is as recent as the first of them.
    let first: BlobItem | undefined;
    try {
      const pages = this.#container.listBlobsFlat({ prefix: this.#layout.dirPrefix(path), abortSignal: signal }).byPage({ maxPageSize: 1 });
      const page = await pages.next();
      first = page.done === true ? undefined : page.value.segment.blobItems[0];
    } catch (err) {
      throw this.#translate(err, 'stat', path, false);
    }
    if (first === undefined) throw new PathNotFoundError(this.name, path);
    return { path, size: 0, modTime: first.properties.lastModified, isDir: true };
  }

  async list(path: string, signal?: AbortSignal): Promise<string[]> {
    this.#validate(path);
    signal?.throwIfAborted();
    const children = new Set<string>();
    try {
      const pages = this.#container
        .listBlobsByHierarchy('/', { prefix: this.#layout.dirPrefix(path), abortSignal: signal })
        .byPage({ maxPageSize: LIST_PAGE_SIZE });
      for await (const page of pages) {
        for (const prefix of page.segment.blobPrefixes ?? []) {
          const child = this.#layout.pathOf(prefix.name.slice(0, -1));
          if (child !== undefined) children.add(child);
        }
        for (const item of page.segment.blobItems) {
          const child = this.#layout.pathOf(item.name);
          if (child !== undefined) children.add(child);
        }
      }
    } catch (err) {
      throw this.#translate(err, 'list', path, false);
    }
    if (children.size === 0 && path !== '/') throw new PathNotFoundError(this.name, path);
    return [...children];
  }

  async move(from: string, to: string, signal?: AbortSignal): Promise<void> {
    this.#validate(from);
    this.#validate(to);
    if (from === '/' || to === '/') throw new StorageDriverError(this.name, `${this.name}: cannot move ${from} to ${to}`);
    signal?.throwIfAborted();
    const source = this.#blob(from);
    if (from === to) {
      await this.stat(from, signal);
      return;
    }
    const target = this.#blob(to);
    try {
      const sourceUrl = (await this.#signer.readUrl(source, new Date(this.#now().getTime() + COPY_SOURCE_TTL_MS))) ?? source.url;
      try {
        await copyBlob(sourceUrl, target, this.#copyPolling(from, signal));
      } catch (err) {
        // A blob of another type at the target (Distribution's append blobs) cannot be copied over.
        if (!hasCode(err, 'InvalidBlobType')) throw err;
        await target.delete({ abortSignal: signal }).catch((deleteErr: unknown) => (statusOf(deleteErr) === 404 ? undefined : Promise.reject(deleteErr)));
        await copyBlob(sourceUrl, target, this.#copyPolling(from, signal));
      }
      await source.delete({ deleteSnapshots: 'include', abortSignal: signal }).catch((err: unknown) => (statusOf(err) === 404 ? undefined : Promise.reject(err)));
    } catch (err) {
      throw this.#translate(err, 'move', from);
    }
  }

  async delete(path: string, signal?: AbortSignal): Promise<void> {
    this.#validate(path);
    signal?.throwIfAborted();
    if (path !== '/') {
      try {
        await this.#blob(path).delete({ deleteSnapshots: 'include', abortSignal: signal });
        return;
      } catch (err) {
        if (statusOf(err) !== 404 || hasCode(err, 'ContainerNotFound')) throw this.#translate(err, 'delete', path);
      }
    }
    // A directory: everything below it, page by page (a listing continues by name, so deleting
    // what it returned does not disturb it).
    let deleted: number;
    try {
      deleted = await deleteBelow(this.#container, this.#layout.dirPrefix(path), signal);
    } catch (err) {
      throw this.#translate(err, 'delete', path, false);
    }
    if (deleted === 0 && path !== '/') throw new PathNotFoundError(this.name, path);
  }

  async redirectUrl(path: string, _method: 'GET' | 'HEAD'): Promise<string | undefined> {
    this.#validate(path);
    if (path === '/') return undefined;
    try {
      return await this.#signer.readUrl(this.#blob(path), new Date(this.#now().getTime() + REDIRECT_TTL_MS));
    } catch (err) {
      throw this.#translate(err, 'sign a URL for', path, false);
    }
  }

  async *walk(path: string, signal?: AbortSignal): AsyncGenerator<FileInfo> {
    this.#validate(path);
    signal?.throwIfAborted();
    const prefix = this.#layout.dirPrefix(path);
    const base = path === '/' ? '' : path;
    let found = false;
    try {
      for await (const entry of inWalkOrder(listFlat(this.#container, prefix, signal))) {
        found = true;
        yield { path: `${base}/${entry.name}`, size: entry.size, modTime: entry.modTime, isDir: entry.isDir };
      }
    } catch (err) {
      throw this.#translate(err, 'walk', path, false);
    }
    if (!found && path !== '/') throw new PathNotFoundError(this.name, path);
  }

  #newWriter(
    path: string,
    blob: BlockBlobClient,
    keep: readonly string[],
    size: number,
    idBytes: number,
    conditions: BlobRequestConditions,
    signal: AbortSignal | undefined,
  ): AzureBlockWriter {
    return new AzureBlockWriter({
      driver: this.name,
      path,
      blob,
      keep,
      size,
      idBytes,
      conditions,
      blockSize: this.#blockSize,
      concurrency: this.#stageConcurrency,
      signal,
      translate: (err, op) => this.#translate(err, op, path, false),
    });
  }

  #copyPolling(from: string, signal: AbortSignal | undefined): CopyPolling {
    return { driver: this.name, from, maxRetry: this.#pollMaxRetry, delayMs: this.#pollDelayMs, signal };
  }

  async #properties(blob: BlockBlobClient, path: string, signal: AbortSignal | undefined): Promise<BlobGetPropertiesResponse> {
    try {
      return await blob.getProperties({ abortSignal: signal });
    } catch (err) {
      throw this.#translate(err, 'stat', path);
    }
  }

  #blob(path: string): BlockBlobClient {
    return this.#container.getBlockBlobClient(this.#layout.blobName(path));
  }

  /**
   * Nothing to release: the SDK offers no way to close its HTTP pipeline, whose idle keep-alive
   * sockets the runtime closes on its own.
   */
  async close(): Promise<void> {}

  /** Validates a path that must name a file. "/" is a directory: PathNotFoundError when reading, an error when writing. */
  #filePath(path: string, reading = false): string {
    this.#validate(path);
    if (path === '/') {
      if (reading) throw new PathNotFoundError(this.name, path);
      throw new StorageDriverError(this.name, `${this.name}: cannot write to the root directory`);
    }
    return path;
  }

  #validate(path: string): void {
    if (!isValidPath(path)) throw new InvalidPathError(this.name, path);
  }

  /** See {@link translateAzureError}. */
  #translate(err: unknown, op: string, path: string, notFound = true): Error {
    if (isSilentSocketError(err)) return new StorageUnavailableError(this.name, `${this.name}: ${op} ${path}: no answer within ${this.#requestTimeoutMs} ms (storage.azure.requesttimeout)`, { cause: err });
    if (hasCode(err, 'ECONNREFUSED')) return new StorageUnavailableError(this.name, `${this.name}: ${op} ${path}: cannot connect (ECONNREFUSED)`, { cause: err });
    return translateAzureError(this.name, this.#container.containerName, err, op, path, notFound);
  }
}

/**
 * Creates the Azure driver from the `storage.azure` parameters (checked when the configuration
 * loaded, or by parseAzureParameters), creating the container when it is missing. Rejects with a
 * StorageDriverError when Azure cannot be reached or refuses.
 */
export async function createAzureDriver(parameters: AzureParameters): Promise<AzureDriver> {
  const { container, signer } = await createAzureClients(parameters);
  try {
    await container.createIfNotExists();
  } catch (err) {
    // Credentials scoped to one container may not create containers; fine when it exists.
    const exists = statusOf(err) === 403 ? await container.exists().catch(() => false) : false;
    if (!exists) {
      const message = err instanceof Error ? err.message.split('\n')[0] : String(err);
      throw new StorageDriverError('azure', `azure: cannot create or find container ${parameters.container} at ${container.url.split('?')[0]}: ${message}`, {
        cause: err,
      });
    }
  }
  return new AzureDriver({
    container,
    signer,
    rootdirectory: parameters.rootdirectory,
    copyStatusPollMaxRetry: parameters.copyStatusPollMaxRetry,
    copyStatusPollDelayMs: parameters.copyStatusPollDelayMs,
    requestTimeoutMs: parameters.requestTimeoutMs,
  });
}
