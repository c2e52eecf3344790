/**
 * The debug listener of a real `berth serve` process: `/metrics` scraped while the registry serves
 * pushes and pulls, `/debug/health` following a `health.file` check, and `/debug/ready` turning 503
 * while the process drains on SIGTERM.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import { digestOf } from '../../src/oci/digest.js';
import { freePort } from '../helpers/ports.js';
import { startBerth, type RegistryHandle } from '../helpers/registries.js';


function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

async function eventually(predicate: () => Promise<boolean>, ms = 30_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('debug listener of berth serve', { timeout: 120_000 }, () => {
  let work = '';
  let flag = '';
  let registry: RegistryHandle;
  let debug = '';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-e2e-debug-'));
    flag = join(work, 'maintenance');
    const port = await freePort();
    const debugPort = await freePort();
    debug = `http://127.0.0.1:${debugPort}`;
    registry = await startBerth({
      port,
      configYaml: [
        'version: 0.1',
        'log: { level: warn, accesslog: { disabled: true } }',
        'storage: { inmemory: {}, delete: { enabled: true } }',
        `http: { addr: "127.0.0.1:${port}", secret: e2e, draintimeout: 3s, debug: { addr: "127.0.0.1:${debugPort}", prometheus: { enabled: true } } }`,
        'health:',
        '  storagedriver: { enabled: true, interval: 1s }',
        `  file: [{ file: ${JSON.stringify(flag)}, interval: 200ms }]`,
      ].join('\n'),
    });
  });

  after(async () => {
    await registry?.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  it('serves metrics whose counters move with traffic', async () => {
    const blob = Buffer.from('metrics e2e');
    const digest = digestOf(blob);
    assert.equal((await fetch(`${registry.url}/v2/e2e/blobs/uploads/?digest=${digest}`, { method: 'POST', body: blob })).status, 201);
    for (let i = 0; i < 2; i++) assert.equal(await (await fetch(`${registry.url}/v2/e2e/blobs/${digest}`)).text(), 'metrics e2e');
    const scrape = await fetch(`${debug}/metrics`);
    assert.equal(scrape.status, 200);
    const text = await scrape.text();
    assert.equal(sample(text, 'berth_http_requests_total{route="uploads",method="POST",status="201"}'), 1);
    assert.equal(sample(text, 'berth_http_requests_total{route="blob",method="GET",status="200"}'), 2);
    assert.ok((sample(text, 'berth_storage_action_duration_seconds_count{driver="inmemory",action="reader"}') ?? 0) >= 2);
    assert.ok((sample(text, 'berth_transferred_bytes_total{direction="pulled"}') ?? 0) >= 2 * blob.byteLength);
    assert.ok((sample(text, 'berth_transferred_bytes_total{direction="pushed"}') ?? 0) >= blob.byteLength);
    assert.match(text, /^process_cpu_seconds_total /m);
  });

  it('reports the storage driver and file checks at /debug/health and /debug/ready', async () => {
    assert.deepEqual(await (await fetch(`${debug}/debug/health`)).json(), {});
    const ready = (await (await fetch(`${debug}/debug/ready`)).json()) as { ready: boolean; checks: Record<string, unknown> };
    assert.equal(ready.ready, true);
    assert.deepEqual(Object.keys(ready.checks).sort(), [flag, 'storagedriver_inmemory'].sort());
    await writeFile(flag, '');
    await eventually(async () => (await fetch(`${debug}/debug/health`)).status === 503);
    assert.deepEqual(await (await fetch(`${debug}/debug/health`)).json(), { [flag]: 'file exists' });
    assert.equal((await fetch(`${registry.url}/v2/`)).status, 200, 'the API keeps serving while a check fails');
    await unlink(flag);
    await eventually(async () => (await fetch(`${debug}/debug/health`)).status === 200);
  });

  it('turns /debug/ready to 503 while draining on SIGTERM', async () => {
    // A slow upload (at most 10 s) keeps the drain going while readiness is checked.
    const abort = new AbortController();
    let chunks = 0;
    const body = new ReadableStream<Uint8Array>({
      async pull(controller) {
        await new Promise((r) => setTimeout(r, 200)); // pacing, so the upload outlasts the readiness checks
        if (++chunks > 50 || abort.signal.aborted) controller.close();
        else controller.enqueue(new Uint8Array(16));
      },
    });
    const slow = fetch(`${registry.url}/v2/e2e/blobs/uploads/?digest=${digestOf(Buffer.alloc(0))}`, {
      method: 'POST',
      body,
      duplex: 'half',
      signal: abort.signal,
    }).catch(() => undefined);
    await eventually(async () => sample(await (await fetch(`${debug}/metrics`)).text(), 'berth_uploads_in_progress') === 1);
    process.kill(registry.pid, 'SIGTERM');
    try {
      await eventually(async () => {
        const res = await fetch(`${debug}/debug/ready`).catch(() => undefined);
        return res?.status === 503;
      }, 3000);
    } finally {
      abort.abort();
      await slow;
    }
  });
});
