/**
 * The ceiling of the request-rate figures: the most trivial Node HTTP server, in its own
 * process like Berth, on the same Node. `node dist/bench/ceiling-server.js PORT` listens on
 * 127.0.0.1:PORT and answers every request with 200, the headers a registry sends with a
 * manifest and a fixed 1.5 KiB JSON body (none for HEAD). What Berth does per request beyond
 * this (routing, storage, the cache, its headers) is what its fraction of this rate measures.
 */
import { createServer } from 'node:http';

/** The body size: about that of a small image manifest. */
const CEILING_BODY_BYTES = 1536;

const body = Buffer.from(JSON.stringify({ padding: 'x'.repeat(CEILING_BODY_BYTES - 14) }));
if (body.byteLength !== CEILING_BODY_BYTES) throw new Error(`ceiling body is ${body.byteLength} bytes`);
const headers = {
  'Content-Type': 'application/vnd.oci.image.manifest.v1+json',
  'Content-Length': String(body.byteLength),
  'Docker-Content-Digest': `sha256:${'0'.repeat(64)}`,
  'Docker-Distribution-Api-Version': 'registry/2.0',
  ETag: `"sha256:${'0'.repeat(64)}"`,
};

const port = Number(process.argv[2]);
if (!Number.isInteger(port) || port <= 0 || port > 65_535) {
  process.stderr.write('usage: node dist/bench/ceiling-server.js PORT\n');
  process.exit(2);
}
const server = createServer((req, res) => {
  res.writeHead(200, headers);
  res.end(req.method === 'HEAD' ? undefined : body);
});
server.listen(port, '127.0.0.1');
process.on('SIGTERM', () => server.close(() => process.exit(0)));
