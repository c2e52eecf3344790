/**
 * The streaming cache fill: a blob read from an upstream goes to the client that asked for it while it
 * is written to storage and hashed. The client gets its first byte without waiting for the whole blob;
 * the blob becomes visible in storage only after its digest (and size) verified.
 *
 * Where the bytes go. They are written to an upload of the local repository
 * (`repositories/<name>/_uploads/<uuid>/data`, with its `startedat`), so that upload purging removes
 * what a crash mid-fill leaves behind; on success the data is committed into the blob store with
 * `commitFrom` (a move), on failure or abort the writer is cancelled and the upload directory deleted.
 *
 * Back-pressure: the upstream is read only as fast as both storage and the client take the bytes (one
 * chunk in flight to each, awaited together), so memory stays at a few chunks whatever the blob's size.
 * The other design, letting the store write run ahead and having the slow client catch up by reading
 * the partial upload back, needs a driver that can read an uncommitted writer's data (S3 multipart and
 * Azure block uploads cannot), so it is not used. A client that stalls would then stall the fill, and
 * with it every coalesced waiter and the upstream connection (whose body timeout would end it): a client
 * that has not drained for `clientStallMs` is dropped (its response destroyed) and the fill goes on at
 * storage's pace. A client that goes away is dropped the same way: the fill still completes, so the
 * upstream bytes already paid for are kept.
 *
 * The last chunk is held back from the client until the digest verified: a client never receives the
 * whole of a blob that does not match (its response is destroyed instead of ended).
 */
import { randomUUID } from 'node:crypto';
import type { Readable, Writable } from 'node:stream';
import { Digester, digestAlgorithm, type Digest } from '../oci/digest.js';
import type { RepositoryName } from '../oci/reference.js';
import type { FileWriter } from '../storage/driver/driver.js';
import { isPathNotFound } from '../storage/driver/errors.js';
import { uploadDataPath, uploadPath, uploadStartedAtPath } from '../storage/paths.js';
import { abortReason } from './coalesce.js';

/** What the fill needs of a storage driver (a StorageDriver has it). */
export interface FillDriver {
  /** Opens a writer whose content is visible at `path` only after commit(); cancel() removes it. */
  writer(path: string, append: false, signal?: AbortSignal): Promise<Pick<FileWriter, 'write' | 'commit' | 'cancel' | 'close'>>;
  /** Writes a small object (the upload's `startedat`). */
  putContent(path: string, data: Uint8Array, signal?: AbortSignal): Promise<void>;
  /** Deletes a file or directory tree; throws PathNotFoundError when it is absent (ignored here). */
  delete(path: string, signal?: AbortSignal): Promise<void>;
}

/** What the fill needs of the blob store (a BlobStore has it). */
export interface FillBlobs {
  /** Makes the committed file at `sourcePath` the content of blob `digest` (moves it, unless already stored). */
  commitFrom(sourcePath: string, digest: Digest, size: number): Promise<void>;
}

/** One fill. */
export interface FillRequest {
  /** The local (cached) repository the temporary upload lives under. */
  readonly repository: RepositoryName;
  readonly digest: Digest;
  /** The size the upstream announced; undefined when it did not (the digest alone is then checked). */
  readonly size: number | undefined;
  /** The upstream's bytes. Destroyed when the fill fails or is aborted. */
  readonly source: Readable;
  /** Where the client's bytes go (the response body); never ended unless the digest verified. */
  readonly sink?: Writable;
  /** Aborts the fill: nothing becomes visible, the temporary data is removed. */
  readonly signal?: AbortSignal;
  /** A client that takes no bytes for this long is dropped. Default 10 s. */
  readonly clientStallMs?: number;
  /** Told of a failure to remove temporary data (the primary outcome is reported as usual). */
  readonly onCleanupError?: (err: unknown) => void;
}

/** What a fill did. */
export interface FillResult {
  readonly digest: Digest;
  readonly size: number;
  /** True when the client was dropped (went away, or stalled) and the fill went on without it. */
  readonly clientDropped: boolean;
}

/** Why a fill stored nothing although the upstream sent a body: it was not the blob asked for. */
export class FillMismatchError extends Error {
  override readonly name = 'FillMismatchError';
  constructor(
    readonly kind: 'digest' | 'size',
    message: string,
  ) {
    super(message);
  }
}

const DEFAULT_CLIENT_STALL_MS = 10_000;

/**
 * Streams `request.source` into `request.sink` and into storage, then commits the blob. Resolves once the
 * blob is stored (and the sink ended). Rejects with FillMismatchError when the bytes do not hash to the
 * digest or their count is not the size, with the signal's reason when aborted, and with the source's or
 * storage's error otherwise; in every failure the sink is destroyed and nothing is visible in storage.
 */
export async function fillBlob(driver: FillDriver, blobs: FillBlobs, request: FillRequest): Promise<FillResult> {
  const { repository, digest, size, source, signal } = request;
  const uuid = randomUUID();
  const dataPath = uploadDataPath(repository, uuid);
  const client = new ClientFeed(request.sink, request.clientStallMs ?? DEFAULT_CLIENT_STALL_MS);
  let writer: Pick<FileWriter, 'write' | 'commit' | 'cancel' | 'close'> | undefined;
  let committed = false;
  const onAbort = (): void => {
    source.destroy(abortReason(signal as AbortSignal));
  };
  signal?.addEventListener('abort', onAbort, { once: true });
  try {
    checkAborted(signal);
    await driver.putContent(uploadStartedAtPath(repository, uuid), Buffer.from(new Date().toISOString()), signal);
    writer = await driver.writer(dataPath, false, signal);
    const digester = new Digester(digestAlgorithm(digest));
    let held: Buffer | undefined;
    for await (const chunk of source as AsyncIterable<Buffer>) {
      digester.update(chunk);
      if (size !== undefined && digester.size > size) throw new FillMismatchError('size', `blob ${digest}: the upstream sent more than the ${size} bytes it announced`);
      const previous = held;
      held = chunk;
      if (previous !== undefined) await Promise.all([writer.write(previous), client.feed(previous)]);
    }
    checkAborted(signal);
    if (size !== undefined && digester.size !== size) throw new FillMismatchError('size', `blob ${digest}: the upstream sent ${digester.size} of the ${size} bytes it announced`);
    const actual = digester.digest();
    if (actual !== digest) throw new FillMismatchError('digest', `blob ${digest}: the upstream's bytes hash to ${actual}`);
    if (held !== undefined) await writer.write(held);
    await writer.commit();
    committed = true;
    await blobs.commitFrom(dataPath, digest, digester.size);
    if (held !== undefined) await client.feed(held);
    await client.end();
    return { digest, size: digester.size, clientDropped: client.dropped };
  } catch (err) {
    const reason = signal?.aborted === true ? abortReason(signal) : err;
    source.destroy();
    client.fail(reason instanceof Error ? reason : new Error(String(reason)));
    if (writer !== undefined && !committed) await writer.cancel().catch((e: unknown) => request.onCleanupError?.(e));
    throw reason;
  } finally {
    signal?.removeEventListener('abort', onAbort);
    // The upload directory: startedat, and the data when the blob was already stored or the commit failed.
    await driver.delete(uploadPath(repository, uuid)).catch((e: unknown) => {
      if (!isPathNotFound(e)) request.onCleanupError?.(e);
    });
  }
}

function checkAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted === true) throw abortReason(signal);
}

/**
 * The client side of a fill: writes honouring the sink's back-pressure, and drops the client (destroying
 * the sink) when it goes away or stalls, so that the fill never waits on it for long.
 */
class ClientFeed {
  #sink: Writable | undefined;
  #dropped = false;

  constructor(
    sink: Writable | undefined,
    private readonly stallMs: number,
  ) {
    this.#sink = sink;
  }

  get dropped(): boolean {
    return this.#dropped;
  }

  /** Hands `chunk` to the client and resolves once it may take more (or it was dropped). Never rejects. */
  async feed(chunk: Buffer): Promise<void> {
    const sink = this.#sink;
    if (sink === undefined) return;
    if (sink.destroyed || sink.writableEnded) {
      this.#drop();
      return;
    }
    if (sink.write(chunk)) return;
    const drained = await new Promise<boolean>((resolve) => {
      const done = (ok: boolean): void => {
        clearTimeout(timer);
        sink.off('drain', onDrain);
        sink.off('close', onClose);
        sink.off('error', onClose);
        resolve(ok);
      };
      const onDrain = (): void => done(true);
      const onClose = (): void => done(false);
      const timer = setTimeout(() => done(false), this.stallMs);
      sink.on('drain', onDrain);
      sink.on('close', onClose);
      sink.on('error', onClose);
    });
    if (!drained) this.#drop();
  }

  /** Ends the client's response once everything was fed. */
  async end(): Promise<void> {
    const sink = this.#sink;
    if (sink === undefined) return;
    await new Promise<void>((resolve) => {
      sink.once('error', () => resolve());
      sink.end(() => resolve());
    });
  }

  /** The fill failed: the client must not take a partial body for a whole one. */
  fail(err: Error): void {
    const sink = this.#sink;
    this.#sink = undefined;
    if (sink !== undefined && !sink.destroyed) sink.destroy(err);
  }

  #drop(): void {
    const sink = this.#sink;
    this.#sink = undefined;
    this.#dropped = true;
    if (sink !== undefined && !sink.destroyed) sink.destroy(new Error('the client stopped taking the blob; the cache fill goes on without it'));
  }
}
