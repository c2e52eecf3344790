import { connect, type Socket } from 'node:net';
import { until } from './wait.js';

/** A response read off a raw connection. */
export interface RawResponse {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: Buffer;
}

/**
 * One keep-alive HTTP/1.1 connection driven by hand, as a client that reuses connections does:
 * requests are written as raw bytes, responses (all with Content-Length) parsed in order.
 */
export class RawConnection {
  private buffer = Buffer.alloc(0);
  ended = false;
  closed = false;
  writeError: string | undefined;

  private constructor(private readonly socket: Socket) {
    socket.on('data', (d: Buffer) => {
      this.buffer = Buffer.concat([this.buffer, d]);
    });
    socket.on('end', () => {
      this.ended = true;
    });
    socket.on('close', () => {
      this.closed = true;
    });
    // A server that closes while the body is still being written: EPIPE/ECONNRESET on our writes.
    socket.on('error', (err: NodeJS.ErrnoException) => {
      this.writeError = err.code ?? err.message;
    });
  }

  static async open(url: string): Promise<RawConnection> {
    const { hostname, port } = new URL(url);
    const socket = connect(Number(port), hostname);
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    return new RawConnection(socket);
  }

  write(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Writes `chunks` chunks of `size` bytes in chunked transfer encoding, without the last chunk: the body is still arriving. */
  writeChunks(chunks: number, size: number): void {
    const chunk = Buffer.alloc(size, 32);
    for (let i = 0; i < chunks; i++) this.write(Buffer.concat([Buffer.from(`${size.toString(16)}\r\n`), chunk, Buffer.from('\r\n')]));
  }

  /** The next response; fails when the connection closes first. */
  async response(): Promise<RawResponse> {
    let parsed: RawResponse | undefined;
    await until('an HTTP response', () => {
      parsed = this.take();
      if (parsed === undefined && this.closed) throw new Error('the connection closed without a response');
      return parsed !== undefined;
    });
    return parsed as RawResponse;
  }

  /** The next response, or undefined when the connection closes instead. */
  async responseOrClose(): Promise<RawResponse | undefined> {
    let parsed: RawResponse | undefined;
    await until('an HTTP response or the end of the connection', () => {
      parsed = this.take();
      return parsed !== undefined || this.closed;
    });
    return parsed;
  }

  async closedByServer(): Promise<void> {
    await until('the server to close the connection', () => this.ended || this.closed);
  }

  destroy(): void {
    this.socket.destroy();
  }

  private take(): RawResponse | undefined {
    const end = this.buffer.indexOf('\r\n\r\n');
    if (end === -1) return undefined;
    const [statusLine = '', ...lines] = this.buffer.subarray(0, end).toString('latin1').split('\r\n');
    const headers: Record<string, string> = {};
    for (const line of lines) {
      const colon = line.indexOf(':');
      headers[line.slice(0, colon).trim().toLowerCase()] = line.slice(colon + 1).trim();
    }
    const length = Number(headers['content-length'] ?? '0');
    if (this.buffer.byteLength < end + 4 + length) return undefined;
    const body = this.buffer.subarray(end + 4, end + 4 + length);
    this.buffer = this.buffer.subarray(end + 4 + length);
    return { status: Number(statusLine.split(' ')[1]), headers, body };
  }
}

/** The first error code of an OCI error body. */
export function rawErrorCode(res: RawResponse): string | undefined {
  return (JSON.parse(res.body.toString('utf8')) as { errors?: Array<{ code?: string }> }).errors?.[0]?.code;
}
