import { StorageDriverError } from './errors.js';

/** Where a FileWriter is in its life: open until one of close(), commit() or cancel() ends it. */
export type WriterPhase = 'open' | 'closed' | 'committed' | 'cancelled';

/**
 * The life cycle every driver's FileWriter shares (see FileWriter): write() and the three endings
 * are allowed while open; close() is a no-op once finished (so it is safe in `finally`), while
 * commit() and cancel() reject, as does write(), with the same StorageDriverError in every driver.
 * A writer asks before its own work: `if (!state.close()) return;`, `state.commit();`, ...
 */
export class WriterState {
  readonly #driver: string;
  readonly #path: string;
  #phase: WriterPhase = 'open';

  constructor(driver: string, path: string) {
    this.#driver = driver;
    this.#path = path;
  }

  get phase(): WriterPhase {
    return this.#phase;
  }

  /** Throws StorageDriverError unless the writer is open; `action` names the refused call ("write to"). */
  assertOpen(action: string): void {
    if (this.#phase !== 'open') {
      throw new StorageDriverError(this.#driver, `${this.#driver}: cannot ${action} writer for ${this.#path}: already ${this.#phase}`);
    }
  }

  /** Ends the writer as closed; false (and nothing changes) when it had already ended. */
  close(): boolean {
    if (this.#phase !== 'open') return false;
    this.#phase = 'closed';
    return true;
  }

  /** Ends the writer as committed; throws unless it was open. */
  commit(): void {
    this.assertOpen('commit');
    this.#phase = 'committed';
  }

  /** Ends the writer as cancelled; throws unless it was open. */
  cancel(): void {
    this.assertOpen('cancel');
    this.#phase = 'cancelled';
  }
}
