import type { FileHandle } from 'node:fs/promises';

import { sinkClosed, type ByteSink, type RangeSource, type ReusableBuffers } from '../driver.js';
import { StorageDriverError } from '../errors.js';

interface Chunk {
  readonly buf: Buffer;
  readonly length: number;
}

/** A byte range of an open file, sent with pooled buffers and one read ahead of the writes. */
export class FileRange implements RangeSource {
  readonly #driver: string;
  readonly #path: string;
  readonly #offset: number;
  readonly #length: number;
  /** Reads go through these buffers, given back in the destination's write callback. */
  readonly #buffers: ReusableBuffers;
  #handle: FileHandle | undefined;

  constructor(driver: string, path: string, handle: FileHandle, offset: number, length: number, buffers: ReusableBuffers) {
    this.#driver = driver;
    this.#path = path;
    this.#handle = handle;
    this.#offset = offset;
    this.#length = length;
    this.#buffers = buffers;
  }

  async close(): Promise<void> {
    const handle = this.#handle;
    this.#handle = undefined;
    await handle?.close().catch(() => undefined);
  }

  async sendTo(dest: ByteSink, options: { readonly signal?: AbortSignal; readonly onBytes?: (bytes: number) => void } = {}): Promise<void> {
    const handle = this.#handle;
    if (handle === undefined) throw new StorageDriverError(this.#driver, `${this.#driver}: ${this.#path}: range already sent or closed`);
    const { signal, onBytes } = options;
    const buffers = this.#buffers;
    const end = this.#offset + this.#length;
    // A read ahead may fail while the loop waits for the destination: it is awaited (and its
    // error thrown) on the next turn, so mark it handled now.
    const readAhead = (position: number): Promise<Chunk> => {
      const chunk = this.#read(handle, position, Math.min(buffers.size, end - position), end);
      chunk.catch(() => undefined);
      return chunk;
    };
    let position = this.#offset;
    let next: Promise<Chunk> | undefined = position < end ? readAhead(position) : undefined;
    try {
      while (next !== undefined) {
        const chunk: Chunk = await next;
        position += chunk.length;
        // Read the next chunk while the destination takes this one.
        next = position < end ? readAhead(position) : undefined;
        if (signal?.aborted === true || dest.closed) {
          buffers.give(chunk.buf);
          throw sinkClosed();
        }
        // The buffer goes back to the pool once written out; after a failed write it is dropped.
        const more = dest.write(chunk.buf.subarray(0, chunk.length), (err) => {
          if (err === undefined || err === null) buffers.give(chunk.buf);
        });
        onBytes?.(chunk.length);
        if (!more) await dest.drained();
      }
    } finally {
      // A read still in flight must finish before the file is closed under it.
      if (next !== undefined) await next.then((chunk) => buffers.give(chunk.buf), () => undefined);
      await this.close();
    }
  }
  /** Reads `want` bytes at `position` into a pooled buffer; fails when the file ends first (before `end`). */
  async #read(handle: FileHandle, position: number, want: number, end: number): Promise<Chunk> {
    const buf = this.#buffers.take();
    let length = 0;
    try {
      while (length < want) {
        const { bytesRead } = await handle.read(buf, length, want - length, position + length);
        if (bytesRead === 0) break;
        length += bytesRead;
      }
    } catch (err) {
      this.#buffers.give(buf);
      const message = err instanceof Error ? err.message : String(err);
      throw new StorageDriverError(this.#driver, `${this.#driver}: read ${this.#path}: ${message}`, { cause: err });
    }
    if (length < want) {
      this.#buffers.give(buf);
      throw new StorageDriverError(this.#driver, `${this.#driver}: ${this.#path} ended at ${position + length}, before ${end}`);
    }
    return { buf, length };
  }
}
