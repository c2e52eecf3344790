/**
 * Coalescing: N concurrent requests for the same uncached manifest or blob make one upstream fetch.
 *
 * In one process, {@link SingleFlight}: callers of `run(key, work)` while a call for `key` is in flight
 * share its promise (its value or its error); the key is free again once that promise settles, so the
 * next call runs `work` anew (by then it usually finds the content in storage).
 *
 * Across replicas, an {@link ExclusiveLock} (redis-lock.ts is the Redis one) is put inside: only one
 * replica at a time runs the work for a key, the others wait for it to finish and then run their own
 * work, which finds what the winner stored. So `work` must look in storage before it fetches: the lock
 * only orders replicas, it does not carry the winner's result to them.
 */

/** Runs work for a key at most once at a time (in this process, or across replicas). */
export interface Coalescer {
  /**
   * Runs `work`, unless a run for `key` is in flight: then resolves or rejects as that run does.
   * Rejects with the signal's reason when `signal` aborts while waiting (the shared run goes on).
   */
  run<T>(key: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T>;
}

/** A lock held across replicas while the work for a key runs. */
export interface ExclusiveLock {
  /**
   * Runs `work` once this caller holds the lock named `key`, waiting while another replica holds it.
   * An implementation that cannot reach its store runs `work` without the lock (a cache outage must not
   * fail pulls; at worst two replicas fetch the same content). Rejects with the signal's reason when
   * `signal` aborts while waiting.
   */
  withLock<T>(key: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T>;
}

/** Options of {@link SingleFlight}. */
export interface SingleFlightOptions {
  /** Ordering across replicas, inside the in-process sharing (so one process takes the lock once per key). */
  readonly lock?: ExclusiveLock;
  /** Called when a caller joins a run in flight (the `coalesced waits` metric). */
  readonly onJoin?: (key: string) => void;
}

/** In-process single flight, optionally ordered across replicas by an ExclusiveLock. */
export class SingleFlight implements Coalescer {
  readonly #inFlight = new Map<string, Promise<unknown>>();

  constructor(private readonly options: SingleFlightOptions = {}) {}

  /** How many keys have a run in flight (for tests and gauges). */
  get size(): number {
    return this.#inFlight.size;
  }

  run<T>(key: string, work: () => Promise<T>, signal?: AbortSignal): Promise<T> {
    let shared = this.#inFlight.get(key) as Promise<T> | undefined;
    if (shared !== undefined) {
      this.options.onJoin?.(key);
    } else {
      const lock = this.options.lock;
      // Started on a later tick, so a synchronous throw in `work` is a rejection shared like any other.
      shared = Promise.resolve().then(() => (lock === undefined ? work() : lock.withLock(key, work)));
      this.#inFlight.set(key, shared);
      const forget = (): void => {
        if (this.#inFlight.get(key) === shared) this.#inFlight.delete(key);
      };
      shared.then(forget, forget);
    }
    return signal === undefined ? shared : abortable(shared, signal);
  }
}

/** `promise`, or a rejection with the signal's reason if it aborts first. */
export function abortable<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(abortReason(signal));
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(abortReason(signal));
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (err: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(err);
      },
    );
  });
}

/** Why `signal` aborted, as an Error (AbortSignal.reason may be anything). */
export function abortReason(signal: AbortSignal): Error {
  const reason: unknown = signal.reason;
  return reason instanceof Error ? reason : Object.assign(new Error('the operation was aborted'), { name: 'AbortError', cause: reason });
}
