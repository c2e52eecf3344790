import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureCeph, createTestBucket, removeTestBucket, s3StorageYaml } from '../helpers/ceph.js';
import { startBerth, type RegistryHandle } from '../helpers/registries.js';
import { freePort } from '../helpers/ports.js';
import { digestOfBlocks, generatedBlocks, peakRss, randomBase, streamRequest } from '../helpers/streams.js';

const SIZE = 1024 * 1024 * 1024;
const CHUNK = 64 * 1024 * 1024;
// Two multipart parts in flight per writer (2 × 16 MiB) come on top of the filesystem budget.
const RSS_BUDGET = 256 * 1024 * 1024;

describe('a 1 GiB push to S3 (Ceph RGW) in bounded memory', { timeout: 10 * 60_000 }, () => {
  let berth: RegistryHandle;
  let bucket: string;
  before(async () => {
    const s3 = await ensureCeph();
    bucket = await createTestBucket('berth-large');
    const port = await freePort();
    // A part size that divides the client's 64 MiB chunks: each PATCH then ends on a part
    // boundary and continues without a server-side copy (see the S3 driver's append).
    berth = await startBerth({
      port,
      configYaml: `version: 0.1
log:
  level: warn
  accesslog:
    disabled: true
storage:
${s3StorageYaml(s3, bucket, ['chunksize: 16777216'])}
  redirect:
    disable: true
http:
  addr: 127.0.0.1:${port}
  secret: s
`,
    });
  });
  after(async () => {
    await berth?.stop();
    if (bucket !== undefined) await removeTestBucket(bucket).catch(() => undefined);
  });

  it('pushes in 64 MiB chunks and pulls back with the same digest; peak RSS stays under 256 MiB', async (t) => {
    const base = randomBase();
    const digest = digestOfBlocks(generatedBlocks(SIZE, base));
    const started = await streamRequest(`${berth.url}/v2/large/s3/blobs/uploads/`, 'POST', { 'Content-Length': '0' });
    assert.equal(started.status, 202);
    let location = new URL(String(started.headers['location']), berth.url).toString();
    let offset = 0;
    let pending: Buffer[] = [];
    let pendingBytes = 0;
    const t0 = performance.now();
    const send = async (): Promise<void> => {
      const res = await streamRequest(location, 'PATCH', { 'Content-Range': `${offset}-${offset + pendingBytes - 1}`, 'Content-Length': String(pendingBytes) }, pending);
      assert.equal(res.status, 202, res.body.toString());
      offset += pendingBytes;
      location = new URL(String(res.headers['location']), berth.url).toString();
      pending = [];
      pendingBytes = 0;
    };
    for (const block of generatedBlocks(SIZE, base)) {
      pending.push(block);
      pendingBytes += block.byteLength;
      if (pendingBytes >= CHUNK) await send();
    }
    if (pendingBytes > 0) await send();
    const put = await streamRequest(`${location}&digest=${digest}`, 'PUT', { 'Content-Length': '0' });
    assert.equal(put.status, 201, put.body.toString());
    const pushSeconds = (performance.now() - t0) / 1000;
    const t1 = performance.now();
    const pulled = await streamRequest(`${berth.url}/v2/large/s3/blobs/${digest}`, 'GET', {}, undefined, { hashBody: true });
    const pullSeconds = (performance.now() - t1) / 1000;
    assert.equal(pulled.status, 200);
    assert.equal(pulled.digest, digest);
    const rss = peakRss(berth.pid);
    t.diagnostic(`push ${(1024 / pushSeconds).toFixed(0)} MiB/s, pull ${(1024 / pullSeconds).toFixed(0)} MiB/s, server peak RSS ${Math.round(rss / 1048576)} MiB`);
    assert.ok(rss < RSS_BUDGET, `server peak RSS ${Math.round(rss / 1048576)} MiB`);
  });
});
