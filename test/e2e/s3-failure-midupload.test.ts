import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { ListMultipartUploadsCommand, ListPartsCommand } from '@aws-sdk/client-s3';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { createTestBucket, ensureCeph, removeTestBucket, s3Client, type CephS3 } from '../helpers/ceph.js';
import { RawConnection, rawErrorCode } from '../helpers/raw-http.js';
import { until } from '../helpers/wait.js';
import { createS3Driver, parseS3Parameters, type S3Driver } from '../../src/storage/driver/s3/s3.js';

const MiB = 1024 * 1024;

/** A TCP relay in front of RGW that can be cut: the S3 endpoint going away mid-upload, for real. */
async function startRelay(target: URL): Promise<{ endpoint: string; cut: () => Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const upstream = connect(Number(target.port), target.hostname);
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.once('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.pipe(upstream);
    upstream.pipe(client);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    endpoint: `http://127.0.0.1:${port}`,
    cut: async () => {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      for (const s of sockets) s.destroy();
      await closed;
    },
  };
}

describe('S3 (Ceph RGW) failing in the middle of an upload', () => {
  let s3: CephS3;
  let bucket: string;
  let driver: S3Driver;
  let relay: { endpoint: string; cut: () => Promise<void> };
  let r: TestRegistry;
  before(async () => {
    s3 = await ensureCeph();
    bucket = await createTestBucket();
    relay = await startRelay(new URL(s3.endpoint));
    driver = await createS3Driver(parseS3Parameters({
      accesskey: s3.accessKey,
      secretkey: s3.secretKey,
      region: s3.region,
      regionendpoint: relay.endpoint,
      forcepathstyle: true,
      bucket,
      chunksize: 5 * MiB,
    }));
    r = await startTestRegistry({ driver });
  });
  after(async () => {
    await r.close();
    driver.destroy();
    await relay.cut();
    await removeTestBucket(bucket);
  });

  it('answers 500 with Connection: close and closes, instead of leaving the connection waiting', async () => {
    const start = await fetch(`${r.url}/v2/s3fail/blob/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const location = new URL(start.headers.get('location') ?? '', r.url);
    const c = await RawConnection.open(r.url);
    const direct = s3Client(s3);
    try {
      c.write(`PATCH ${location.pathname}${location.search} HTTP/1.1\r\nHost: registry\r\nContent-Type: application/octet-stream\r\nContent-Length: ${256 * MiB}\r\n\r\n`);
      for (let i = 0; i < 8; i++) c.write(Buffer.alloc(MiB, i));
      // Wait for the fact that RGW holds a part of this upload, then take RGW away.
      await until('a part of the upload stored in RGW', async () => {
        const uploads = (await direct.send(new ListMultipartUploadsCommand({ Bucket: bucket }))).Uploads ?? [];
        for (const u of uploads) {
          const parts = await direct.send(new ListPartsCommand({ Bucket: bucket, Key: u.Key, UploadId: u.UploadId }));
          if ((parts.Parts ?? []).length > 0) return true;
        }
        return false;
      });
      await relay.cut();
      // More of the body: the next part cannot reach S3.
      for (let i = 0; i < 8; i++) c.write(Buffer.alloc(MiB, i));
      const first = await c.response();
      // The next part finds RGW gone: refused (503 UNAVAILABLE, storage.s3's "cannot connect") or
      // reset on a kept-alive socket (500 UNKNOWN), depending on which socket the SDK picks.
      const code = rawErrorCode(first);
      assert.ok((first.status === 503 && code === 'UNAVAILABLE') || (first.status === 500 && code === 'UNKNOWN'), `status ${first.status} ${code ?? ''}`);
      assert.equal(first.headers['connection'], 'close');
      await c.closedByServer();
    } finally {
      c.destroy();
      direct.destroy();
    }
    assert.ok(r.logs.some((l) => /"level":"(error|warning)"/.test(l) && /ECONNREFUSED|ECONNRESET|EPIPE|socket hang up|cannot connect/.test(l)), `the cause is logged:\n${r.logs.slice(-6).join("\n")}`);
    assert.equal((await fetch(`${r.url}/v2/`)).status, 200, 'the registry keeps serving');
  });
});
