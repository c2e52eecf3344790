import { createConnection, createServer, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';

/** A TCP proxy in front of a real server that can stop forwarding, as a store that froze. */
export interface FreezingProxy {
  /** `127.0.0.1:PORT`. */
  readonly host: string;
  readonly port: number;
  /**
   * Stops forwarding in both directions: connections stay open (and new ones are accepted) but
   * no byte passes, exactly what a client sees of a server that was SIGSTOPped.
   */
  freeze(): void;
  /** Forwards again, including what was held back. */
  thaw(): void;
  close(): Promise<void>;
}

/** Starts a proxy on a free loopback port forwarding to `target` (`host:port`). */
export async function startFreezingProxy(target: string): Promise<FreezingProxy> {
  const colon = target.lastIndexOf(':');
  const targetHost = target.slice(0, colon);
  const targetPort = Number(target.slice(colon + 1));
  let frozen = false;
  const pairs = new Set<{ client: Socket; upstream: Socket }>();
  // pipe() resumes its source on every drain, so freezing unpipes (the bytes wait in the sockets).
  const connect = ({ client, upstream }: { client: Socket; upstream: Socket }): void => {
    client.pipe(upstream);
    upstream.pipe(client);
  };
  const server: Server = createServer((client) => {
    const upstream = createConnection({ host: targetHost, port: targetPort });
    const pair = { client, upstream };
    pairs.add(pair);
    if (frozen) {
      client.pause();
      upstream.pause();
    } else connect(pair);
    const end = (): void => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    host: `127.0.0.1:${port}`,
    port,
    freeze() {
      frozen = true;
      for (const { client, upstream } of pairs) {
        client.unpipe(upstream);
        upstream.unpipe(client);
        client.pause();
        upstream.pause();
      }
    },
    thaw() {
      frozen = false;
      for (const pair of pairs) connect(pair);
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const { client, upstream } of pairs) {
          client.destroy();
          upstream.destroy();
        }
        server.close(() => resolve());
      }),
  };
}
