import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { assertStatus, errorCode, pushBlob, randomBlob } from '../helpers/oci-client.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';
import type { RangeSource } from '../../src/storage/driver/driver.js';
import { HtpasswdAccessController } from '../../src/auth/htpasswd/controller.js';
import { hashPassword } from '../../src/auth/htpasswd/hash.js';
import { createLogger } from '../../src/log/logger.js';

/**
 * A filesystem driver on which a blob's data file is removed for real just before it is opened:
 * what online garbage collection, or another replica's, does between a GET's stat and its read.
 */
class VanishingDriver extends FilesystemDriver {
  readonly vanish = new Set<string>();
  override async openRange(path: string, offset: number, length: number, signal?: AbortSignal): Promise<RangeSource> {
    if (this.vanish.has(path)) await rm(join(this.rootdirectory, path));
    return super.openRange(path, offset, length, signal);
  }
}

const blobDataPath = (digest: string): string => `/docker/registry/v2/blobs/sha256/${digest.slice(7, 9)}/${digest.slice(7)}/data`;

describe('error responses keep no header of the response they replace', () => {
  let dir: string;
  let driver: VanishingDriver;
  let r: TestRegistry;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'berth-error-headers-'));
    driver = new VanishingDriver({ rootdirectory: join(dir, 'storage') });
    r = await startTestRegistry({ driver, headers: { 'X-Content-Type-Options': ['nosniff'], 'Strict-Transport-Security': ['max-age=63072000'] } });
  });
  after(async () => {
    await r.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('a blob gone between stat and read is a 404 without ETag, Docker-Content-Digest or a year of Cache-Control', async () => {
    const blob = randomBlob(4096);
    assertStatus(await pushBlob(r.url, 'gone/blob', blob.data), 201);
    driver.vanish.add(blobDataPath(blob.digest));
    const variants: Array<Record<string, string>> = [{}, { Range: 'bytes=0-99' }];
    for (const headers of variants) {
      const res = await fetch(`${r.url}/v2/gone/blob/blobs/${blob.digest}`, { headers });
      assert.equal(res.status, 404, JSON.stringify(headers));
      assert.equal(await errorCode(res), 'BLOB_UNKNOWN');
      for (const stale of ['etag', 'docker-content-digest', 'cache-control', 'accept-ranges', 'content-range']) {
        assert.equal(res.headers.get(stale), null, `${stale} on the 404 (${JSON.stringify(headers)})`);
      }
      assert.equal(res.headers.get('content-type'), 'application/json; charset=utf-8');
      // What every response carries stays.
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
      assert.equal(res.headers.get('x-content-type-options'), 'nosniff');
      assert.equal(res.headers.get('strict-transport-security'), 'max-age=63072000');
    }
  });

  it("an error's own headers are sent (Allow on 405, Content-Range on 416)", async () => {
    const notAllowed = await fetch(`${r.url}/v2/gone/blob/tags/list`, { method: 'PUT' });
    assert.equal(notAllowed.status, 405);
    assert.ok((notAllowed.headers.get('allow') ?? '').includes('GET'));
    const blob = randomBlob(100);
    assertStatus(await pushBlob(r.url, 'gone/range', blob.data), 201);
    const unsatisfiable = await fetch(`${r.url}/v2/gone/range/blobs/${blob.digest}`, { headers: { Range: 'bytes=500-600' } });
    assert.equal(unsatisfiable.status, 416);
    assert.equal(unsatisfiable.headers.get('content-range'), 'bytes */100');
    assert.equal(unsatisfiable.headers.get('cache-control'), null);
    assert.equal(unsatisfiable.headers.get('etag'), null);
  });
});

describe('a 401 keeps its challenge', () => {
  it('WWW-Authenticate survives the renderer', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-error-headers-auth-'));
    const file = join(dir, 'htpasswd');
    await writeFile(file, `alice:${await hashPassword('alicepass', 4)}\n`);
    const controller = await HtpasswdAccessController.create({
      realm: 'Registry Realm',
      path: file,
      logger: createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } }),
      limits: { perAddress: 0, perUser: 0 },
    });
    const r = await startTestRegistry({ access: controller });
    try {
      const res = await fetch(`${r.url}/v2/any/blobs/sha256:${'0'.repeat(64)}`);
      assert.equal(res.status, 401);
      assert.equal(res.headers.get('www-authenticate'), 'Basic realm="Registry Realm"');
      assert.equal(res.headers.get('docker-distribution-api-version'), 'registry/2.0');
    } finally {
      controller.close();
      await r.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
