import type { Readable } from 'node:stream';
import { opensRanges, purgesAbandonedWriters, type FileInfo, type FileWriter, type OpensRanges, type PurgesAbandonedWriters, type StorageDriver } from '../storage/driver/driver.js';
import { InvalidOffsetError, InvalidPathError, PathNotFoundError } from '../storage/driver/errors.js';
import type { StorageActionRecorder } from './metrics.js';

/** The driver actions timed, as they appear in the `action` label. */
export const DRIVER_ACTIONS = ['getContent', 'putContent', 'reader', 'writer', 'stat', 'list', 'move', 'delete', 'redirectUrl', 'walk', 'commit', 'cancel'] as const;

/** A label value for the `action` of berth_storage_action_* metrics. */
export type DriverAction = (typeof DRIVER_ACTIONS)[number];

/** What instrumentDriver needs of the metrics: a recorder per action. RegistryMetrics provides it. */
export interface StorageMetrics {
  storageAction(driver: string, action: string): StorageActionRecorder;
}

/**
 * The `kind` label of a failed driver call: the driver error classes the storage layer tells
 * apart, `aborted` for a cancelled request, `error` for everything else.
 */
export function driverErrorKind(err: unknown): string {
  if (err instanceof PathNotFoundError) return 'not_found';
  if (err instanceof InvalidPathError) return 'invalid_path';
  if (err instanceof InvalidOffsetError) return 'invalid_offset';
  if (err instanceof Error && err.name === 'AbortError') return 'aborted';
  return 'error';
}

/**
 * Wraps a driver so every action is timed into berth_storage_action_duration_seconds{driver,action}
 * and failures are counted by kind. Streams are timed until the driver returns them, not while they
 * are consumed (a pull's duration is the client's, not the driver's); a writer's commit() and
 * cancel() are timed as their own actions, write() is not (it is per chunk). walk() is timed as the
 * time spent inside the driver's iterator, excluding the consumer's work between entries.
 *
 * The wrapper adds two clock reads and one histogram observation per call; recorders are bound
 * once here, so no label maps are built on the hot path.
 */
export function instrumentDriver(driver: StorageDriver, metrics: StorageMetrics): StorageDriver {
  return new InstrumentedDriver(driver, metrics);
}

class InstrumentedDriver implements StorageDriver {
  readonly name: string;
  readonly #inner: StorageDriver;
  readonly #rec: Readonly<Record<DriverAction, StorageActionRecorder>>;

  // The optional capabilities exist on the wrapper exactly when the wrapped driver has them.
  readonly openRange?: OpensRanges['openRange'];
  readonly purgeUploads?: PurgesAbandonedWriters['purgeUploads'];

  constructor(inner: StorageDriver, metrics: StorageMetrics) {
    this.#inner = inner;
    this.name = inner.name;
    const rec = {} as Record<DriverAction, StorageActionRecorder>;
    for (const action of DRIVER_ACTIONS) rec[action] = metrics.storageAction(inner.name, action);
    this.#rec = rec;
    if (opensRanges(inner)) {
      // Timed like reader(): until the range is open, not while it is sent.
      this.openRange = (path, offset, length, signal) => timed(rec.reader, () => inner.openRange(path, offset, length, signal));
    }
    if (purgesAbandonedWriters(inner)) this.purgeUploads = (olderThan, options) => inner.purgeUploads(olderThan, options);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  getContent(path: string, signal?: AbortSignal): Promise<Buffer> {
    return timed(this.#rec.getContent, () => this.#inner.getContent(path, signal));
  }

  putContent(path: string, data: Uint8Array, signal?: AbortSignal): Promise<void> {
    return timed(this.#rec.putContent, () => this.#inner.putContent(path, data, signal));
  }

  reader(path: string, offset?: number, signal?: AbortSignal): Promise<Readable> {
    return timed(this.#rec.reader, () => this.#inner.reader(path, offset, signal));
  }

  async writer(path: string, append: boolean, signal?: AbortSignal): Promise<FileWriter> {
    const writer = await timed(this.#rec.writer, () => this.#inner.writer(path, append, signal));
    return new InstrumentedWriter(writer, this.#rec.commit, this.#rec.cancel);
  }

  stat(path: string, signal?: AbortSignal): Promise<FileInfo> {
    return timed(this.#rec.stat, () => this.#inner.stat(path, signal));
  }

  list(path: string, signal?: AbortSignal): Promise<string[]> {
    return timed(this.#rec.list, () => this.#inner.list(path, signal));
  }

  move(from: string, to: string, signal?: AbortSignal): Promise<void> {
    return timed(this.#rec.move, () => this.#inner.move(from, to, signal));
  }

  delete(path: string, signal?: AbortSignal): Promise<void> {
    return timed(this.#rec.delete, () => this.#inner.delete(path, signal));
  }

  redirectUrl(path: string, method: 'GET' | 'HEAD'): Promise<string | undefined> {
    return timed(this.#rec.redirectUrl, () => this.#inner.redirectUrl(path, method));
  }

  walk(path: string, signal?: AbortSignal): AsyncIterable<FileInfo> {
    return timedWalk(this.#rec.walk, () => this.#inner.walk(path, signal));
  }
}

/** Forwards a writer, timing the two calls that do real work at the end of an upload. */
class InstrumentedWriter implements FileWriter {
  readonly #inner: FileWriter;
  readonly #commit: StorageActionRecorder;
  readonly #cancel: StorageActionRecorder;

  constructor(inner: FileWriter, commit: StorageActionRecorder, cancel: StorageActionRecorder) {
    this.#inner = inner;
    this.#commit = commit;
    this.#cancel = cancel;
  }

  get size(): number {
    return this.#inner.size;
  }

  write(chunk: Uint8Array): Promise<void> {
    return this.#inner.write(chunk);
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  cancel(): Promise<void> {
    return timed(this.#cancel, () => this.#inner.cancel());
  }

  commit(): Promise<void> {
    return timed(this.#commit, () => this.#inner.commit());
  }
}

/** Runs `work`, recording its duration and, on failure, its kind. */
async function timed<T>(rec: StorageActionRecorder, work: () => Promise<T>): Promise<T> {
  const started = performance.now();
  try {
    const value = await work();
    rec.observe((performance.now() - started) / 1000);
    return value;
  } catch (err) {
    rec.observe((performance.now() - started) / 1000, driverErrorKind(err));
    throw err;
  }
}

async function* timedWalk(rec: StorageActionRecorder, open: () => AsyncIterable<FileInfo>): AsyncGenerator<FileInfo, void, undefined> {
  let spent = 0;
  let kind: string | undefined;
  let done = false;
  let iterator: AsyncIterator<FileInfo> | undefined;
  try {
    const started = performance.now();
    try {
      iterator = open()[Symbol.asyncIterator]();
    } finally {
      spent += performance.now() - started;
    }
    for (;;) {
      const t = performance.now();
      let step: IteratorResult<FileInfo>;
      try {
        step = await iterator.next();
      } finally {
        spent += performance.now() - t;
      }
      if (step.done === true) {
        done = true;
        return;
      }
      yield step.value;
    }
  } catch (err) {
    done = true;
    kind = driverErrorKind(err);
    throw err;
  } finally {
    // The consumer stopped early (break, or an error of its own): let the driver release what it holds.
    if (!done && iterator?.return !== undefined) await iterator.return();
    rec.observe(spent / 1000, kind);
  }
}
