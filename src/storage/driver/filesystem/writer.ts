import { rm, type FileHandle } from 'node:fs/promises';

import type { FileWriter } from '../driver.js';
import { StorageDriverError } from '../errors.js';
import { WriterState } from '../writer-state.js';

/** Writes one file in place with positional writes; the file is the upload's data file. */
export class FilesystemFileWriter implements FileWriter {
  readonly #driver: string;
  readonly #path: string;
  readonly #full: string;
  readonly #handle: FileHandle;
  readonly #signal: AbortSignal | undefined;
  readonly #state: WriterState;
  #size: number;
  #failed = false;

  constructor(driver: string, path: string, full: string, handle: FileHandle, size: number, signal: AbortSignal | undefined) {
    this.#driver = driver;
    this.#path = path;
    this.#full = full;
    this.#handle = handle;
    this.#size = size;
    this.#signal = signal;
    this.#state = new WriterState(driver, path);
  }

  get size(): number {
    return this.#size;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#state.assertOpen('write to');
    if (this.#failed) throw new StorageDriverError(this.#driver, `${this.#driver}: an earlier write to ${this.#path} failed`);
    this.#signal?.throwIfAborted();
    const length = chunk.byteLength;
    if (length === 0) return;
    // Reserve the range before awaiting, so that overlapping write() calls land one after another.
    const position = this.#size;
    this.#size += length;
    try {
      let done = 0;
      while (done < length) {
        const { bytesWritten } = await this.#handle.write(chunk, done, length - done, position + done);
        if (bytesWritten <= 0) throw new Error('no progress writing');
        done += bytesWritten;
      }
    } catch (err) {
      this.#failed = true;
      const message = err instanceof Error ? err.message : String(err);
      throw new StorageDriverError(this.#driver, `${this.#driver}: write ${this.#path}: ${message}`, { cause: err });
    }
  }

  async close(): Promise<void> {
    if (!this.#state.close()) return;
    await this.#closeHandle();
  }

  async commit(): Promise<void> {
    this.#state.commit();
    await this.#closeHandle();
  }

  async cancel(): Promise<void> {
    this.#state.cancel();
    await this.#closeHandle();
    try {
      await rm(this.#full, { force: true });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new StorageDriverError(this.#driver, `${this.#driver}: cancel ${this.#path}: ${message}`, { cause: err });
    }
  }

  async #closeHandle(): Promise<void> {
    try {
      // FileHandle.close waits for writes still in flight.
      await this.#handle.close();
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      throw new StorageDriverError(this.#driver, `${this.#driver}: close ${this.#path}: ${message}`, { cause: err });
    }
  }
}
