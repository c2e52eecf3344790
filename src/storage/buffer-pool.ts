/**
 * Same-sized buffers reused across transfers, so that moving a blob through the process allocates
 * nothing per chunk: a pull or a push of a large blob would otherwise leave one fresh buffer a
 * chunk for the garbage collector, which then runs a full collection every few dozen megabytes.
 *
 * take() hands out a pooled buffer (or a new one); give() puts it back once nothing refers to it
 * any more (for a socket write, in the write's callback). A buffer that is never given back is
 * simply collected. At most `keep` idle buffers are held.
 */
export class BufferPool {
  readonly #idle: Buffer[] = [];

  constructor(
    readonly size: number,
    private readonly keep: number,
  ) {}

  take(): Buffer {
    return this.#idle.pop() ?? Buffer.allocUnsafeSlow(this.size);
  }

  give(buf: Buffer): void {
    if (buf.byteLength === this.size && this.#idle.length < this.keep) this.#idle.push(buf);
  }

  /** Idle buffers held (for tests). */
  get idle(): number {
    return this.#idle.length;
  }
}

/** 1 MiB buffers for reads of local files and for coalescing upload chunks before they are written; at most 16 MiB idle. */
export const transferBuffers = new BufferPool(1024 * 1024, 16);
