/**
 * Passes `source` through unchanged and, when the iteration ends (completed, failed or stopped
 * early), calls `add` once with the number of bytes that went through: how an upload handler counts
 * what a client pushed without a stream stage or a second data listener, e.g.
 * `uploads.append(name, uuid, countBytes(ctx.req, (n) => metrics.addBytes('pushed', n)), ...)`.
 */
export async function* countBytes<T extends Uint8Array>(source: AsyncIterable<T> | Iterable<T>, add: (bytes: number) => void): AsyncGenerator<T, void, undefined> {
  let total = 0;
  try {
    for await (const chunk of source) {
      total += chunk.byteLength;
      yield chunk;
    }
  } finally {
    add(total);
  }
}
