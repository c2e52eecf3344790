/**
 * http.maxuploads (issue 10, item 7): nothing else limits how many uploads may stream into the
 * process at once, each holding buffers. Past the cap, an upload gets 429 TOOMANYREQUESTS with
 * Retry-After before its body is read; once a slot frees, uploads go through again.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request, type ClientRequest } from 'node:http';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { errorCode, pushBlob, randomBlob } from '../helpers/oci-client.js';
import { RegistryMetrics } from '../../src/metrics/metrics.js';
import { until } from '../helpers/wait.js';

describe('http.maxuploads', () => {
  let r: TestRegistry;
  const metrics = new RegistryMetrics({ processMetrics: false });
  before(async () => {
    r = await startTestRegistry({ maxUploads: 2, metrics });
  });
  after(async () => {
    await r.close();
  });

  const inProgress = async (): Promise<number> => {
    const text = await metrics.registry.getSingleMetricAsString('berth_uploads_in_progress');
    return Number(/^berth_uploads_in_progress (\S+)$/m.exec(text)?.[1] ?? NaN);
  };

  /** Starts an upload and streams the first bytes of its PATCH body, then stalls. */
  async function stalledPatch(): Promise<{ req: ClientRequest; done: Promise<number> }> {
    const start = await fetch(`${r.url}/v2/capped/repo/blobs/uploads/`, { method: 'POST' });
    assert.equal(start.status, 202);
    const location = new URL(start.headers.get('location') ?? '', r.url);
    const req = request(location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream', 'Transfer-Encoding': 'chunked' } });
    const done = new Promise<number>((resolve, reject) => {
      req.on('response', (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
    });
    req.write(Buffer.alloc(64 * 1024, 1));
    return { req, done };
  }

  it('answers 429 TOOMANYREQUESTS with Retry-After past the cap, and serves again once a slot frees', async () => {
    const stalled = [await stalledPatch(), await stalledPatch()];
    await until('both stalled uploads streaming', async () => (await inProgress()) === 2);

    const blob = randomBlob(1024);
    const refused = await pushBlob(r.url, 'capped/repo', blob.data);
    assert.equal(refused.status, 429);
    assert.equal(refused.headers.get('retry-after'), '5');
    assert.equal(await errorCode(refused), 'TOOMANYREQUESTS');
    assert.equal(await inProgress(), 2, 'the refused upload never counted as streaming');

    const first = stalled[0];
    assert.ok(first !== undefined);
    first.req.end();
    assert.equal(await first.done, 202);
    const accepted = await pushBlob(r.url, 'capped/repo', blob.data);
    assert.equal(accepted.status, 201, await accepted.text());

    const second = stalled[1];
    assert.ok(second !== undefined);
    second.req.end();
    assert.equal(await second.done, 202);
    await until('no upload streaming', async () => (await inProgress()) === 0);
  });
});
