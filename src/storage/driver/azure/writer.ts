import { randomBytes } from 'node:crypto';

import type { BlobRequestConditions, BlockBlobClient } from '@azure/storage-blob';

import { statusOf } from './blobs.js';
import type { FileWriter } from '../driver.js';
import { StorageDriverError } from '../errors.js';
import { WriterState } from '../writer-state.js';

/** Azure's limit of committed blocks in one block blob. */
export const MAX_COMMITTED_BLOCKS = 50_000;

/** What an {@link AzureBlockWriter} continues from and how it stages. */
export interface AzureBlockWriterOptions {
  /** The driver's name, for messages. */
  readonly driver: string;
  /** The driver path, for messages. */
  readonly path: string;
  readonly blob: BlockBlobClient;
  /** Committed blocks to keep in front of the new ones (an append), in order. */
  readonly keep: readonly string[];
  /** The size of the content they hold. */
  readonly size: number;
  /** Bytes of a new block id before base64: every id of one blob must have the same length. */
  readonly idBytes: number;
  /**
   * Conditions of the final Put Block List: the ETag the append started from (ifMatch), or
   * ifNoneMatch '*' when it started from nothing, so a session never silently overwrites content
   * another session committed meanwhile.
   */
  readonly conditions: BlobRequestConditions;
  /** Bytes per staged block (the last block of a session may be shorter). */
  readonly blockSize: number;
  /** How many blocks may be staging at once. */
  readonly concurrency: number;
  /** Aborts staging (not the final commit of close(), which keeps what reached storage). */
  readonly signal: AbortSignal | undefined;
  /** Turns an SDK error into a driver error. */
  readonly translate: (err: unknown, op: string) => Error;
}

interface StagedBlock {
  readonly id: string;
  readonly size: number;
  staged: boolean;
}

/**
 * A FileWriter over a block blob: writes fill a block-sized buffer, full blocks are staged
 * (Put Block, up to `concurrency` at once), and close() or commit() stages the rest and commits the
 * block list: the content kept from earlier sessions followed by this session's blocks. So a
 * session ended with close() is visible and complete in storage, and any process can continue it
 * with writer(path, true), which reads the committed block list and adds new, unique ids of the
 * same length.
 *
 * Staging a block is idempotent (the SDK's retries re-send the same id), unlike Append Block,
 * which is why Berth uses block blobs where Distribution uses append blobs: a retried append may
 * duplicate data, and Distribution needs an MD5 check to detect it.
 *
 * Memory: at most (concurrency + 1) × blockSize per writer.
 */
export class AzureBlockWriter implements FileWriter {
  readonly #o: AzureBlockWriterOptions;
  readonly #state: WriterState;
  #size: number;
  /** Serialises write() calls that overlap. */
  #queue: Promise<void> = Promise.resolve();
  #buffer: Buffer | undefined;
  #filled = 0;
  readonly #blocks: StagedBlock[] = [];
  readonly #inFlight = new Set<Promise<void>>();
  #failure: Error | undefined;

  constructor(options: AzureBlockWriterOptions) {
    this.#o = options;
    this.#size = options.size;
    this.#state = new WriterState(options.driver, options.path);
  }

  get size(): number {
    return this.#size;
  }

  write(chunk: Uint8Array): Promise<void> {
    try {
      this.#state.assertOpen('write to');
      this.#o.signal?.throwIfAborted();
    } catch (err) {
      return Promise.reject(err);
    }
    if (this.#failure !== undefined) return Promise.reject(this.#failure);
    if (chunk.byteLength === 0) return this.#queue;
    this.#size += chunk.byteLength;
    const run = this.#queue.then(() => this.#append(chunk));
    this.#queue = run.catch(() => undefined);
    return run;
  }

  async close(): Promise<void> {
    if (!this.#state.close()) return;
    await this.#flush();
    // Keep what reached storage, even after a failed or aborted stage: the blocks before it.
    const blocks = this.#stagedPrefix();
    await this.#commitList(blocks);
    this.#size = this.#o.size + blocks.reduce((sum, block) => sum + block.size, 0);
    if (this.#failure !== undefined) throw this.#failure;
  }

  async commit(): Promise<void> {
    this.#state.commit();
    await this.#flush();
    if (this.#failure !== undefined) throw this.#failure;
    await this.#commitList(this.#blocks);
  }

  async cancel(): Promise<void> {
    this.#state.cancel();
    this.#buffer = undefined;
    await this.#queue;
    await Promise.allSettled(this.#inFlight);
    try {
      // Committing an empty list drops the blocks staged but never committed (Azure would keep them
      // for a week), then the blob goes.
      if (this.#blocks.length > 0) await this.#o.blob.commitBlockList([]);
      await this.#o.blob.delete({ deleteSnapshots: 'include' });
    } catch (err) {
      // Nothing was ever committed: nothing to remove.
      if (statusOf(err) !== 404) throw this.#o.translate(err, 'cancel writer for');
    }
  }

  async #append(chunk: Uint8Array): Promise<void> {
    const { blockSize } = this.#o;
    let offset = 0;
    while (offset < chunk.byteLength) {
      if (this.#failure !== undefined) throw this.#failure;
      if (this.#state.phase === 'cancelled') return;
      const buffer = (this.#buffer ??= Buffer.allocUnsafe(blockSize));
      const n = Math.min(blockSize - this.#filled, chunk.byteLength - offset);
      buffer.set(chunk.subarray(offset, offset + n), this.#filled);
      this.#filled += n;
      offset += n;
      if (this.#filled === blockSize) await this.#stageBuffer();
    }
  }

  /** Stages the buffer as the next block, then waits until fewer than `concurrency` stages run. */
  async #stageBuffer(): Promise<void> {
    const buffer = this.#buffer;
    const length = this.#filled;
    this.#buffer = undefined;
    this.#filled = 0;
    if (buffer === undefined || length === 0) return;
    if (this.#o.keep.length + this.#blocks.length >= MAX_COMMITTED_BLOCKS) {
      this.#failure ??= new StorageDriverError(
        this.#o.driver,
        `${this.#o.driver}: ${this.#o.path} would exceed Azure's ${MAX_COMMITTED_BLOCKS} blocks per blob`,
      );
      throw this.#failure;
    }
    const block: StagedBlock = { id: randomBytes(this.#o.idBytes).toString('base64'), size: length, staged: false };
    this.#blocks.push(block);
    const staging = this.#o.blob
      .stageBlock(block.id, buffer.subarray(0, length), length, { abortSignal: this.#o.signal })
      .then(
        () => {
          block.staged = true;
        },
        (err: unknown) => {
          this.#failure ??= this.#o.translate(err, 'stage a block of');
        },
      )
      .finally(() => this.#inFlight.delete(staging));
    this.#inFlight.add(staging);
    while (this.#inFlight.size >= this.#o.concurrency) await Promise.race(this.#inFlight);
    if (this.#failure !== undefined) throw this.#failure;
  }

  /** Waits for pending writes, stages the partial block (unless something failed) and waits for every stage. */
  async #flush(): Promise<void> {
    await this.#queue;
    if (this.#failure === undefined && this.#filled > 0) await this.#stageBuffer().catch(() => undefined);
    await Promise.allSettled(this.#inFlight);
  }

  /** The blocks of this session up to the first that failed to stage. */
  #stagedPrefix(): StagedBlock[] {
    const end = this.#blocks.findIndex((block) => !block.staged);
    return end === -1 ? this.#blocks : this.#blocks.slice(0, end);
  }

  async #commitList(blocks: readonly StagedBlock[]): Promise<void> {
    // An append session that added nothing leaves the blob (and its ETag and modification time) alone.
    if (blocks.length === 0 && this.#o.conditions.ifMatch !== undefined) return;
    try {
      // No abort signal: after an aborted request, close() must still keep what was staged.
      await this.#o.blob.commitBlockList([...this.#o.keep, ...blocks.map((block) => block.id)], { conditions: this.#o.conditions });
    } catch (err) {
      if (isConflict(err)) {
        throw new StorageDriverError(this.#o.driver, `${this.#o.driver}: ${this.#o.path} was changed by another writer since this one opened`, { cause: err });
      }
      throw this.#o.translate(err, 'commit');
    }
  }

}

/** A failed ifMatch / ifNoneMatch condition. */
function isConflict(err: unknown): boolean {
  const status = statusOf(err);
  const code = typeof err === 'object' && err !== null && 'code' in err ? err.code : undefined;
  return status === 412 || (status === 409 && code === 'BlobAlreadyExists');
}
