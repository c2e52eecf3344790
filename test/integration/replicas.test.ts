import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import type { Readable } from 'node:stream';
import { startTestRegistry } from '../helpers/app.js';
import { randomBlob, resolve, sha256 } from '../helpers/oci-client.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';

/** An in-memory driver that counts the bytes read back through reader(). */
class CountingDriver extends InMemoryDriver {
  bytesRead = 0;
  override async reader(path: string, offset?: number, signal?: AbortSignal): Promise<Readable> {
    const stream = await super.reader(path, offset, signal);
    stream.on('data', (c: Buffer) => {
      this.bytesRead += c.byteLength;
    });
    return stream;
  }
}

describe('replicas sharing storage and the secret', () => {
  it('continue each other\'s chunked uploads; hash state catches up by reading only the missed chunks', async () => {
    const driver = new CountingDriver();
    const replicas = [await startTestRegistry({ driver }), await startTestRegistry({ driver }), await startTestRegistry({ driver })];
    try {
      const chunkSize = 256 * 1024;
      const chunks = 12;
      const { data, digest } = randomBlob(chunkSize * chunks);
      const first = replicas[0];
      assert.ok(first);
      const start = await fetch(`${first.url}/v2/hop/blob/blobs/uploads/`, { method: 'POST' });
      assert.equal(start.status, 202);
      let location = resolve(first.url, start.headers.get('location'));
      for (let i = 0; i < chunks; i++) {
        // Round-robin: every chunk lands on another replica than the one before.
        const replica = replicas[i % replicas.length];
        assert.ok(replica);
        const url = new URL(location);
        const target = `${replica.url}${url.pathname}${url.search}`;
        const res = await fetch(target, {
          method: 'PATCH',
          headers: { 'Content-Range': `${i * chunkSize}-${(i + 1) * chunkSize - 1}`, 'Content-Type': 'application/octet-stream' },
          body: data.subarray(i * chunkSize, (i + 1) * chunkSize),
        });
        assert.equal(res.status, 202, await res.text());
        location = resolve(replica.url, res.headers.get('location'));
      }
      const last = replicas[chunks % replicas.length];
      assert.ok(last);
      const url = new URL(location);
      const put = await fetch(`${last.url}${url.pathname}${url.search}&digest=${digest}`, { method: 'PUT' });
      assert.equal(put.status, 201, await put.text());
      for (const replica of replicas) {
        const get = await fetch(`${replica.url}/v2/hop/blob/blobs/${digest}`);
        assert.equal(sha256(Buffer.from(await get.arrayBuffer())), digest);
      }
      // Each replica re-reads only what it missed: well under the quadratic cost of re-hashing
      // the whole prefix at every hop (which would be about chunks/2 times the blob).
      const blobBytes = data.byteLength * replicas.length; // the three verification GETs above
      const catchUpBytes = driver.bytesRead - blobBytes;
      assert.ok(catchUpBytes <= data.byteLength * 2, `catch-up read ${catchUpBytes} bytes for a ${data.byteLength} byte blob`);
    } finally {
      for (const r of replicas) await r.close();
    }
  });
});
