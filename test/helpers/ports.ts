import { createServer } from 'node:net';

/**
 * Finds a TCP port that is free on 127.0.0.1 right now: binds port 0, reads the port the
 * kernel chose, and closes the socket again.
 *
 * The port is only probably still free when the caller binds it (another process may take it
 * in between); servers started by the test helpers are started on it at once, which is good
 * enough on a test machine. Rejects when the bind itself fails.
 */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen({ host: '127.0.0.1', port: 0, exclusive: true }, () => {
      const address = server.address();
      if (address === null || typeof address === 'string') {
        server.close();
        reject(new Error(`freePort: unexpected server address ${String(address)}`));
        return;
      }
      const { port } = address;
      server.close((err) => (err ? reject(err) : resolve(port)));
    });
  });
}
