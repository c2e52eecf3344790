import { createHash, randomBytes } from 'node:crypto';
import { request } from 'node:http';
import { readFileSync } from 'node:fs';

/**
 * A reproducible pseudo-random byte source of any size, produced block by block so a test can
 * push gigabytes without holding them: each block is `base` (one random block, see randomBase)
 * with its index written into the first bytes. The same base gives the same bytes every time.
 */
export function* generatedBlocks(totalBytes: number, base: Buffer): Generator<Buffer> {
  const blockSize = base.byteLength;
  let index = 0;
  for (let sent = 0; sent < totalBytes; sent += blockSize) {
    const block = Buffer.from(base.subarray(0, Math.min(blockSize, totalBytes - sent)));
    block.writeUInt32BE(index++ >>> 0, 0);
    yield block;
  }
}

/** A random block for generatedBlocks. */
export function randomBase(blockSize = 1024 * 1024): Buffer {
  return randomBytes(blockSize);
}

/** Digest of what generatedBlocks yields, computed by iterating `blocks`. */
export function digestOfBlocks(blocks: Iterable<Buffer>): string {
  const h = createHash('sha256');
  for (const b of blocks) h.update(b);
  return `sha256:${h.digest('hex')}`;
}

export interface RawResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/**
 * An HTTP request whose body is streamed from `body` (chunked transfer unless Content-Length is
 * given) and whose response body is hashed or collected, never buffered when `hashBody` is set.
 */
export function streamRequest(
  url: string,
  method: string,
  headers: Record<string, string>,
  body?: Iterable<Buffer>,
  options: { hashBody?: boolean } = {},
): Promise<RawResponse & { digest?: string; bytes: number }> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      const hash = options.hashBody === true ? createHash('sha256') : undefined;
      const chunks: Buffer[] = [];
      let bytes = 0;
      res.on('data', (c: Buffer) => {
        bytes += c.byteLength;
        if (hash !== undefined) hash.update(c);
        else chunks.push(c);
      });
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks),
          bytes,
          ...(hash !== undefined ? { digest: `sha256:${hash.digest('hex')}` } : {}),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    if (body === undefined) {
      req.end();
      return;
    }
    const iterator = body[Symbol.iterator]();
    const pump = (): void => {
      for (;;) {
        const next = iterator.next();
        if (next.done === true) {
          req.end();
          return;
        }
        if (!req.write(next.value)) {
          req.once('drain', pump);
          return;
        }
      }
    };
    pump();
  });
}

/** Peak resident set size (VmHWM) of a process, in bytes, from /proc. */
export function peakRss(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const m = /VmHWM:\s+(\d+) kB/.exec(status);
  if (m === null) throw new Error(`no VmHWM for pid ${pid}`);
  return Number(m[1]) * 1024;
}
