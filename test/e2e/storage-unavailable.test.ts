/**
 * A storage backend that stops answering (issue 10, item 8): a TCP proxy in front of the real
 * store (Ceph RGW for S3, Azurite for Azure) stops forwarding, as a SIGSTOPped server would. With
 * `requesttimeout: 1s`, pulls and pushes get a clean 503 UNAVAILABLE with Retry-After within the
 * timeout plus slack (before: the SDK's 120 s, then retries), and the registry serves again as
 * soon as the store does.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { ensureCeph, createTestBucket, removeTestBucket, s3StorageYaml } from '../helpers/ceph.js';
import { startAzurite, type AzuriteHandle } from '../helpers/azurite.js';
import { startFreezingProxy, type FreezingProxy } from '../helpers/freezing-proxy.js';
import { startBerth, type RegistryHandle } from '../helpers/registries.js';
import { freePort } from '../helpers/ports.js';
import { pushImage, randomBlob } from '../helpers/oci-client.js';

const TIMEOUT_MS = 1000;
/** Slack over the timeout: one silent store call fails the request; the rest is local work. */
const BOUND_MS = TIMEOUT_MS + 4000;

async function expectUnavailable(what: string, request: () => Promise<Response>): Promise<void> {
  const start = performance.now();
  const res = await request();
  const ms = performance.now() - start;
  const body = await res.text();
  assert.equal(res.status, 503, `${what}: ${res.status} ${body}`);
  assert.ok(ms < BOUND_MS, `${what} took ${ms.toFixed(0)} ms (bound ${BOUND_MS} ms)`);
  console.log(`storage-unavailable: ${what}: 503 in ${ms.toFixed(0)} ms`);
  assert.ok(res.headers.get('retry-after') !== null, `${what}: Retry-After`);
  if (res.status === 503 && what.startsWith('HEAD')) return; // no body on HEAD
  assert.equal((JSON.parse(body) as { errors: Array<{ code: string }> }).errors[0]?.code, 'UNAVAILABLE', body);
}

function berthConfig(port: number, storageYaml: string): string {
  return `version: 0.1
log: { level: warn, accesslog: { disabled: true } }
storage:
${storageYaml}
  delete: { enabled: true }
  redirect: { disable: true }
http: { addr: "127.0.0.1:${port}", secret: storage-unavailable }
`;
}

function frozenStoreTests(state: () => { berth: RegistryHandle; proxy: FreezingProxy }): void {
  it('answers 503 UNAVAILABLE within the request timeout while the store is frozen, and serves again after', async () => {
    const { berth, proxy } = state();
    const image = await pushImage(berth.url, 'frozen/app', 'v1', { layers: 1, layerSize: 2048 });
    const layer = image.blobs[1] as string;
    proxy.freeze();
    try {
      await expectUnavailable('HEAD blob', () => fetch(`${berth.url}/v2/frozen/app/blobs/${layer}`, { method: 'HEAD' }));
      await expectUnavailable('GET blob', () => fetch(`${berth.url}/v2/frozen/app/blobs/${layer}`));
      await expectUnavailable('GET manifest', () => fetch(`${berth.url}/v2/frozen/app/manifests/v1`, { headers: { Accept: 'application/vnd.oci.image.manifest.v1+json' } }));
      const blob = randomBlob(1024);
      await expectUnavailable('POST upload (monolithic)', () =>
        fetch(`${berth.url}/v2/frozen/app/blobs/uploads/?digest=${blob.digest}`, { method: 'POST', headers: { 'Content-Type': 'application/octet-stream' }, body: blob.data }),
      );
    } finally {
      proxy.thaw();
    }
    const res = await fetch(`${berth.url}/v2/frozen/app/blobs/${layer}`);
    assert.equal(res.status, 200);
    assert.equal((await res.arrayBuffer()).byteLength, 2048);
    await pushImage(berth.url, 'frozen/app', 'v2', { layers: 1, layerSize: 1024 });
  });
}

describe('S3 (Ceph RGW) that stops answering', { timeout: 8 * 60_000 }, () => {
  let bucket: string;
  let proxy: FreezingProxy;
  let berth: RegistryHandle;
  before(async () => {
    const s3 = await ensureCeph();
    bucket = await createTestBucket('berth-frozen');
    proxy = await startFreezingProxy(new URL(s3.endpoint).host);
    const port = await freePort();
    const storage = s3StorageYaml({ ...s3, endpoint: `http://${proxy.host}` }, bucket, ['rootdirectory: /registry', `requesttimeout: ${TIMEOUT_MS}ms`]);
    berth = await startBerth({ port, configYaml: berthConfig(port, storage) });
  });
  after(async () => {
    await berth?.stop();
    await proxy?.close();
    if (bucket !== undefined) await removeTestBucket(bucket).catch(() => undefined);
  });
  frozenStoreTests(() => ({ berth, proxy }));
});

describe('Azure (Azurite) that stops answering', { timeout: 3 * 60_000 }, () => {
  let azurite: AzuriteHandle;
  let proxy: FreezingProxy;
  let berth: RegistryHandle;
  before(async () => {
    azurite = await startAzurite();
    const endpoint = new URL(azurite.endpoint);
    proxy = await startFreezingProxy(endpoint.host);
    const port = await freePort();
    const storage = [
      '  azure:',
      `    accountname: ${azurite.accountName}`,
      `    accountkey: ${azurite.accountKey}`,
      `    serviceurl: http://${proxy.host}${endpoint.pathname}`,
      '    container: frozen',
      `    requesttimeout: ${TIMEOUT_MS}ms`,
    ].join('\n');
    berth = await startBerth({ port, configYaml: berthConfig(port, storage) });
  });
  after(async () => {
    await berth?.stop();
    await proxy?.close();
    await azurite?.stop();
  });
  frozenStoreTests(() => ({ berth, proxy }));
});
