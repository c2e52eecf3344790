import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startTestRegistry } from '../helpers/app.js';
import { FailingDriver } from '../helpers/failing-driver.js';
import { errorCode } from '../helpers/oci-client.js';

describe('storage failing in the middle of a request', () => {
  it('answers 500 UNKNOWN without internal details, keeps serving, and logs the cause', async () => {
    const driver = new FailingDriver();
    const r = await startTestRegistry({ driver });
    try {
      const start = await fetch(`${r.url}/v2/fail/blob/blobs/uploads/`, { method: 'POST' });
      const location = new URL(start.headers.get('location') ?? '', r.url).toString();
      driver.failAfter = 2 * 1024 * 1024;
      // A large body that is still arriving when storage fails.
      const status = await new Promise<number>((resolve) => {
        const req = request(location, { method: 'PATCH', headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(32 * 1024 * 1024) } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.on('error', () => resolve(-1));
        const chunk = Buffer.alloc(1024 * 1024, 3);
        let sent = 0;
        const pump = (): void => {
          while (sent < 32) {
            sent++;
            if (!req.write(chunk)) {
              req.once('drain', pump);
              return;
            }
          }
          req.end();
        };
        pump();
      });
      assert.ok(status === 500 || status === -1, `status ${status}`);
      // No wait here: what follows needs nothing from the failed request but that it was answered (or cut).
      driver.failAfter = Number.POSITIVE_INFINITY;
      const res = await fetch(`${r.url}/v2/fail/blob/blobs/uploads/`, { method: 'POST' });
      assert.equal(res.status, 202, 'the server keeps serving');
      driver.failAfter = 0;
      const failed = await fetch(`${r.url}/v2/fail/blob/blobs/uploads/?digest=sha256:${'0'.repeat(64)}`, { method: 'POST', body: Buffer.alloc(10) });
      assert.equal(failed.status, 500);
      const text = await failed.text();
      assert.ok(!text.includes('ECONNREFUSED'), 'internal details stay in the log');
      assert.equal(await errorCode(new Response(text)), 'UNKNOWN');
      assert.ok(r.logs.some((l) => l.includes('ECONNREFUSED')), 'the cause is logged');
    } finally {
      await r.close();
    }
  });
});
