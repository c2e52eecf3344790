/**
 * Same-sized buffers reused across transfers, so that moving a blob through the process allocates
 * nothing per chunk: a pull or a push of a large blob would otherwise leave one fresh buffer a
 * chunk for the garbage collector, which then runs a full collection every few dozen megabytes.
 *
 * take() hands out a pooled buffer (or a new one); give() puts it back once nothing refers to it
 * any more (for a socket write, in the write's callback). A buffer that is never given back is
 * simply collected. At most `keep` idle buffers are held, and none once the pool has not been
 * used for `idleMs`: a burst of transfers does not pin its buffers for the life of the process.
 */
export class BufferPool {
  readonly #idle: Buffer[] = [];
  #lastUse = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    readonly size: number,
    private readonly keep: number,
    private readonly idleMs = 5_000,
    private readonly now: () => number = Date.now,
  ) {}

  take(): Buffer {
    this.#lastUse = this.now();
    return this.#idle.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(buf: Buffer): void {
    this.#lastUse = this.now();
    if (buf.byteLength === this.size && this.#idle.length < this.keep) {
      this.#idle.push(buf);
      this.#schedule(this.idleMs);
    }
  }

  /** Drops the idle buffers when the pool has not been used for `idleMs`; true when it did. */
  trim(): boolean {
    if (this.now() - this.#lastUse < this.idleMs) return false;
    this.#idle.length = 0;
    return true;
  }

  /** Idle buffers held (for tests and metrics). */
  get idle(): number {
    return this.#idle.length;
  }

  #schedule(delay: number): void {
    if (this.#timer !== undefined) return;
    this.#timer = setTimeout(() => {
      this.#timer = undefined;
      if (this.#idle.length === 0 || this.trim()) return;
      this.#schedule(Math.max(1, this.idleMs - (this.now() - this.#lastUse)));
    }, delay);
    this.#timer.unref();
  }
}

/** 1 MiB buffers for reads of local files; at most 16 MiB idle, released after 5 s unused. */
export const transferBuffers = new BufferPool(1024 * 1024, 16);

/**
 * 256 KiB buffers that coalesce an upload's socket chunks (64 KiB) before they are hashed and
 * written: an upload holds one while it fills and one while it is written, so 512 KiB at most
 * (a 1 MiB buffer made a stalled upload pin over a megabyte). At most 16 MiB idle.
 */
export const uploadBuffers = new BufferPool(256 * 1024, 64);
