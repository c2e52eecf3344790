import type { IncomingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';

/**
 * What the app reads of a request: the surface that node:http's IncomingMessage and node:http2's
 * compatibility Http2ServerRequest share, so one handler serves both without casts. (An HTTP/2
 * server that allows HTTP/1 hands out both kinds.)
 */
export interface RegistryRequest extends Readable {
  readonly method?: string | undefined;
  readonly url?: string | undefined;
  readonly headers: IncomingHttpHeaders;
  /** 1 or 2. */
  readonly httpVersionMajor: number;
  /** True once the whole body has arrived. */
  readonly complete: boolean;
  /** The connection; null once it is gone (a client that hung up). */
  readonly socket: Socket | null;
}

/**
 * What the app does with a response: the surface that ServerResponse and Http2ServerResponse
 * share. Both are Writables; HTTP/2's lacks `writableNeedDrain` (see http/byte-sink.ts).
 */
export interface RegistryResponse extends Writable {
  statusCode: number;
  readonly headersSent: boolean;
  setHeader(name: string, value: number | string | readonly string[]): unknown;
  getHeader(name: string): number | string | string[] | undefined;
  hasHeader(name: string): boolean;
  getHeaderNames(): string[];
  removeHeader(name: string): void;
}

/** The request handler both servers (HTTP/1 and HTTP/2) call. */
export type RequestHandler = (req: RegistryRequest, res: RegistryResponse) => void;
