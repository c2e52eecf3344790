import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect as http2Connect, type ClientHttp2Session } from 'node:http2';
import { readFileSync, rmSync } from 'node:fs';
import type { AddressInfo } from 'node:net';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { RawConnection, rawErrorCode } from '../helpers/raw-http.js';
import { FailingDriver } from '../helpers/failing-driver.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import { DRAIN_LIMIT } from '../../src/http/request-body.js';
import { buildApp } from '../../src/http/app.js';
import { createRegistryServer, type RegistryServer } from '../../src/http/server.js';
import { Registry } from '../../src/storage/registry.js';
import { AllowAll } from '../../src/auth/access.js';
import { createLogger } from '../../src/log/logger.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';

const OCI = 'application/vnd.oci.image.manifest.v1+json';

const getBase = 'GET /v2/ HTTP/1.1\r\nHost: registry\r\n\r\n';

describe('a request refused while its body is still arriving never stalls its connection (HTTP/1.1)', () => {
  let r: TestRegistry;
  let driver: FailingDriver;
  before(async () => {
    driver = new FailingDriver('S3 UploadPart: connect ECONNREFUSED 127.0.0.1:47480');
    r = await startTestRegistry({ driver });
  });
  after(async () => {
    await r.close();
  });

  async function uploadLocation(name: string): Promise<string> {
    const start = await fetch(`${r.url}/v2/${name}/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const location = new URL(start.headers.get('location') ?? '', r.url);
    return `${location.pathname}${location.search}`;
  }

  it('413 for a chunked manifest past the limit: Connection: close, then the connection ends', async () => {
    const c = await RawConnection.open(r.url);
    try {
      c.write(`PUT /v2/drain/manifest/manifests/t HTTP/1.1\r\nHost: registry\r\nContent-Type: ${OCI}\r\nTransfer-Encoding: chunked\r\n\r\n`);
      c.writeChunks(5, 1024 * 1024);
      const first = await c.response();
      assert.equal(first.status, 413);
      assert.equal(rawErrorCode(first), 'MANIFEST_INVALID');
      assert.equal(first.headers['connection'], 'close');
      await c.closedByServer();
    } finally {
      c.destroy();
    }
  });

  it('413 for a manifest whose Content-Length is past the limit: closed, not read to the end', async () => {
    const c = await RawConnection.open(r.url);
    try {
      // 1 GiB announced, 1 MiB sent: the registry must not wait for (or read) the rest.
      c.write(`PUT /v2/drain/manifest/manifests/t HTTP/1.1\r\nHost: registry\r\nContent-Type: ${OCI}\r\nContent-Length: ${1024 * 1024 * 1024}\r\n\r\n`);
      c.write(Buffer.alloc(1024 * 1024, 32));
      const first = await c.response();
      assert.equal(first.status, 413);
      assert.equal(first.headers['connection'], 'close');
      await c.closedByServer();
    } finally {
      c.destroy();
    }
  });

  it('SIZE_INVALID for a chunk longer than its Content-Range: Connection: close, and the upload still works on a new connection', async () => {
    const location = await uploadLocation('drain/patch');
    const c = await RawConnection.open(r.url);
    try {
      c.write(`PATCH ${location} HTTP/1.1\r\nHost: registry\r\nContent-Range: 0-9\r\nTransfer-Encoding: chunked\r\n\r\n`);
      c.writeChunks(20, 100_000);
      const first = await c.response();
      assert.equal(first.status, 400);
      assert.equal(rawErrorCode(first), 'SIZE_INVALID');
      assert.equal(first.headers['connection'], 'close');
      await c.closedByServer();
    } finally {
      c.destroy();
    }
    const status = await fetch(`${r.url}${location}`);
    assert.equal(status.status, 204, 'the upload session survives');
  });

  it('a storage failure mid-upload (500): Connection: close, the cause logged, the registry keeps serving', async () => {
    const location = await uploadLocation('drain/storage');
    driver.failAfter = 1024 * 1024;
    const c = await RawConnection.open(r.url);
    try {
      c.write(`PATCH ${location} HTTP/1.1\r\nHost: registry\r\nContent-Type: application/octet-stream\r\nContent-Length: ${64 * 1024 * 1024}\r\n\r\n`);
      for (let i = 0; i < 4; i++) c.write(Buffer.alloc(1024 * 1024, 7));
      const first = await c.response();
      assert.equal(first.status, 500);
      assert.equal(rawErrorCode(first), 'UNKNOWN');
      assert.equal(first.headers['connection'], 'close');
      await c.closedByServer();
    } finally {
      c.destroy();
      driver.failAfter = Number.POSITIVE_INFINITY;
    }
    assert.ok(r.logs.some((l) => l.includes('ECONNREFUSED')), 'the cause is logged');
    assert.equal((await fetch(`${r.url}/v2/`)).status, 200);
  });

  it(`a small body of known length (≤ ${DRAIN_LIMIT} bytes) refused before it is read keeps the connection: the next request is answered`, async () => {
    const c = await RawConnection.open(r.url);
    try {
      const body = Buffer.alloc(DRAIN_LIMIT, 32);
      // An invalid tag is refused before the body is read.
      c.write(`PUT /v2/drain/small/manifests/sha256:${'0'.repeat(64)}?tag=-bad HTTP/1.1\r\nHost: registry\r\nContent-Type: ${OCI}\r\nContent-Length: ${body.byteLength}\r\n\r\n`);
      c.write(body);
      c.write(getBase);
      const first = await c.response();
      assert.equal(first.status, 400);
      assert.equal(rawErrorCode(first), 'TAG_INVALID');
      assert.notEqual(first.headers['connection'], 'close');
      const second = await c.response();
      assert.equal(second.status, 200);
      assert.equal(second.body.toString(), '{}');
    } finally {
      c.destroy();
    }
  });

  it('an error to a request without a body keeps the connection', async () => {
    const c = await RawConnection.open(r.url);
    try {
      c.write('GET /v2/drain/none/manifests/absent HTTP/1.1\r\nHost: registry\r\n\r\n');
      c.write('GET /v2/nowhere/at/all HTTP/1.1\r\nHost: registry\r\n\r\n');
      c.write(getBase);
      for (const status of [404, 404, 200]) {
        const res = await c.response();
        assert.equal(res.status, status);
        assert.notEqual(res.headers['connection'], 'close');
      }
    } finally {
      c.destroy();
    }
  });

  it('a keep-alive client never waits on a refused request: it is told to close, or its next request is answered', async () => {
    // The exchange of a client that reuses connections (regctl, oras, containerd): a refused push;
    // unless told to close, it finishes the body it was sending and sends its next request.
    const location = await uploadLocation('drain/any');
    const cases: Array<{ name: string; head: string }> = [
      { name: 'PATCH of an unknown upload', head: `PATCH /v2/drain/any/blobs/uploads/00000000-0000-0000-0000-000000000000?_state=x HTTP/1.1\r\nHost: registry\r\nTransfer-Encoding: chunked\r\n\r\n` },
      { name: 'POST of an upload with an unexpected body', head: `POST /v2/drain/any/blobs/uploads/ HTTP/1.1\r\nHost: registry\r\nTransfer-Encoding: chunked\r\n\r\n` },
      { name: 'PATCH with a chunk longer than its Content-Range', head: `PATCH ${location} HTTP/1.1\r\nHost: registry\r\nContent-Range: 0-9\r\nTransfer-Encoding: chunked\r\n\r\n` },
      { name: 'PUT of a manifest past the limit', head: `PUT /v2/drain/any/manifests/t HTTP/1.1\r\nHost: registry\r\nContent-Type: ${OCI}\r\nTransfer-Encoding: chunked\r\n\r\n` },
    ];
    for (const { name, head } of cases) {
      const c = await RawConnection.open(r.url);
      try {
        c.write(head);
        c.writeChunks(20, 256 * 1024);
        const first = await c.response();
        assert.ok(first.status >= 400, `${name}: ${first.status}`);
        if (first.headers['connection'] === 'close') {
          await c.closedByServer();
          continue;
        }
        c.write('0\r\n\r\n');
        c.write(getBase);
        const second = await c.response();
        assert.equal(second.status, 200, name);
      } finally {
        c.destroy();
      }
    }
  });
});

describe('a request refused while its body is still arriving (HTTP/2)', () => {
  let pki: TestPki;
  let server: RegistryServer;
  let session: ClientHttp2Session;
  before(async () => {
    pki = makeTestPki();
    const app = buildApp({
      registry: new Registry({ driver: new InMemoryDriver() }),
      logger: createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } }),
      access: new AllowAll(),
      secret: 'test-secret',
      prefix: '',
      host: '',
      relativeUrls: false,
      headers: {},
      deleteEnabled: true,
      readOnly: false,
      redirect: false,
      maxManifestBytes: 4 * 1024 * 1024,
      catalogMaxEntries: 1000,
      accessLog: false,
    });
    const tls = { certificate: pki.serverCert, key: pki.serverKey, clientcas: [], clientauth: 'verify-client-cert-if-given' as const, minimumtls: 'tls1.2' as const, ciphersuites: [] };
    server = await createRegistryServer(app, { tls, http2: true, maxHeaderSize: 16_384, headersTimeoutMs: 30_000, idleTimeoutMs: 60_000 }, createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } }));
    await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
    const { port } = server.server.address() as AddressInfo;
    session = http2Connect(`https://127.0.0.1:${port}`, { ca: readFileSync(pki.caCert), servername: 'localhost' });
  });
  after(async () => {
    session.close();
    await server.shutdown(0);
    rmSync(pki.dir, { recursive: true, force: true });
  });

  function exchange(headers: Record<string, string>, body?: Buffer, keepOpen = false): Promise<{ status: number; body: Buffer; headers: Record<string, unknown> }> {
    return new Promise((resolve, reject) => {
      const stream = session.request(headers);
      const parts: Buffer[] = [];
      let status = 0;
      let responseHeaders: Record<string, unknown> = {};
      stream.on('response', (h) => {
        status = Number(h[':status']);
        responseHeaders = h;
      });
      stream.on('data', (chunk: Buffer) => parts.push(chunk));
      stream.on('end', () => resolve({ status, body: Buffer.concat(parts), headers: responseHeaders }));
      stream.on('error', (err) => (status !== 0 ? resolve({ status, body: Buffer.concat(parts), headers: responseHeaders }) : reject(err instanceof Error ? err : new Error(String(err)))));
      if (body !== undefined) stream.write(body);
      if (!keepOpen) stream.end();
    });
  }

  it('a 413 ends the stream; the next requests on the same session, bodies included, are answered', async () => {
    // Past the limit and still open: more than the session's flow-control window (64 KiB by default).
    const refused = await exchange({ ':method': 'PUT', ':path': '/v2/h2/app/manifests/t', 'content-type': OCI }, Buffer.alloc(5 * 1024 * 1024, 32), true);
    assert.equal(refused.status, 413);
    assert.equal(refused.headers['connection'], undefined, 'no Connection header in HTTP/2');
    for (let i = 0; i < 3; i++) {
      const tooBig = await exchange({ ':method': 'PUT', ':path': '/v2/h2/app/manifests/t', 'content-type': OCI }, Buffer.alloc(5 * 1024 * 1024, 32));
      assert.equal(tooBig.status, 413);
    }
    const base = await exchange({ ':method': 'GET', ':path': '/v2/' });
    assert.equal(base.status, 200);
    const upload = await exchange({ ':method': 'POST', ':path': '/v2/h2/app/blobs/uploads/' });
    assert.equal(upload.status, 202);
  });
});
