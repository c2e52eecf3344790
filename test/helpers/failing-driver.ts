import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import type { FileWriter } from '../../src/storage/driver/driver.js';
import { StorageDriverError } from '../../src/storage/driver/errors.js';

/** An in-memory driver whose upload writers fail after `failAfter` bytes: a store that goes away mid-upload. */
export class FailingDriver extends InMemoryDriver {
  failAfter = Number.POSITIVE_INFINITY;

  /** `message`: what the failing write throws (the text of the store's error). */
  constructor(private readonly message = 'connect ECONNREFUSED 127.0.0.1:47480') {
    super();
  }

  override async writer(path: string, append: boolean, signal?: AbortSignal): Promise<FileWriter> {
    const inner = await super.writer(path, append, signal);
    let written = 0;
    const limit = (): number => this.failAfter;
    const message = this.message;
    return {
      get size() {
        return inner.size;
      },
      async write(chunk: Uint8Array): Promise<void> {
        written += chunk.byteLength;
        if (written > limit()) throw new StorageDriverError('failing', message);
        await inner.write(chunk);
      },
      close: () => inner.close(),
      cancel: () => inner.cancel(),
      commit: () => inner.commit(),
    };
  }
}
