/**
 * The streaming cache fill against the filesystem driver and the real BlobStore: the client gets the
 * bytes while they are stored, the blob is visible only once its digest verified, and a mismatch, an
 * abort or a failing upstream leaves nothing visible and no temporary data; a client that goes away or
 * stalls is dropped while the fill completes; a 50 MB blob through a slow client stays in bounded memory;
 * and a blob from a real Distribution, through the upstream client, fills the cache.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Digest } from '../../src/oci/digest.js';
import { OciError } from '../../src/oci/errors.js';
import type { RepositoryName } from '../../src/oci/reference.js';
import { fillBlob, FillMismatchError, type FillBlobs, type FillDriver } from '../../src/proxy/fill.js';
import { createUpstreamClient } from '../../src/proxy/upstream-client.js';
import { BlobStore, InMemoryBlobDescriptorCache } from '../../src/storage/blob-store.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';
import { pushImage } from '../helpers/oci-client.js';
import { startDistribution, type RegistryHandle } from '../helpers/registries.js';
import { generatedBlocks, randomBase } from '../helpers/streams.js';

const repo = 'dockerhub/library/app' as RepositoryName;

function sha256(chunks: readonly Buffer[]): Digest {
  const h = createHash('sha256');
  for (const c of chunks) h.update(c);
  return `sha256:${h.digest('hex')}` as Digest;
}

/** A sink that keeps what it receives, optionally slowly (each write takes `delayMs`). */
class Collector extends Writable {
  readonly chunks: Buffer[] = [];
  received = 0;
  constructor(
    private readonly delayMs = 0,
    highWaterMark = 64 * 1024,
    private readonly keep = true,
  ) {
    super({ highWaterMark });
  }
  override _write(chunk: Buffer, _enc: BufferEncoding, done: (err?: Error | null) => void): void {
    this.received += chunk.length;
    if (this.keep) this.chunks.push(chunk);
    if (this.delayMs > 0) setTimeout(done, this.delayMs);
    else done();
  }
}

/** A sink that never takes a byte after the first write. */
class Stalled extends Writable {
  constructor() {
    super({ highWaterMark: 1 });
  }
  override _write(): void {
    // never calls back
  }
}

describe('fillBlob (filesystem driver)', { timeout: 120_000 }, () => {
  let root: string;
  let driver: FilesystemDriver;
  let blobs: BlobStore;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'berth-fill-'));
    driver = new FilesystemDriver({ rootdirectory: root });
    blobs = new BlobStore(driver, new InMemoryBlobDescriptorCache());
  });
  after(async () => {
    await driver?.close();
    if (root !== undefined) await rm(root, { recursive: true, force: true });
  });

  it('the storage services satisfy the interfaces the fill declares', () => {
    const d: FillDriver = driver;
    const b: FillBlobs = blobs;
    assert.ok(d !== undefined && b !== undefined);
  });

  /** Files (not directories) under the repository's uploads and the driver's root, other than committed blobs. */
  async function leftovers(): Promise<string[]> {
    const all = (await readdir(root, { recursive: true, withFileTypes: true })).filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(root.length));
    return all.filter((p) => !/\/docker\/registry\/v2\/blobs\/sha256\/[0-9a-f]{2}\/[0-9a-f]{64}\/data$/.test(p));
  }

  async function visible(digest: Digest): Promise<boolean> {
    try {
      await blobs.stat(digest);
      return true;
    } catch (err) {
      if (err instanceof OciError && err.code === 'BLOB_UNKNOWN') return false;
      throw err;
    }
  }

  const chunksOf = (n: number, size = 256 * 1024): Buffer[] => [...generatedBlocks(n * size, randomBase(size))];

  it('streams to the client while storing; visible after, no upload left', async () => {
    const chunks = chunksOf(12);
    const digest = sha256(chunks);
    const sink = new Collector();
    const result = await fillBlob(driver, blobs, { repository: repo, digest, size: 12 * 256 * 1024, source: Readable.from(chunks), sink });
    assert.deepEqual(result, { digest, size: 12 * 256 * 1024, clientDropped: false });
    assert.equal(sha256(sink.chunks), digest);
    assert.ok(sink.writableFinished, 'the response ended');
    assert.ok(await visible(digest));
    const stored: Buffer[] = [];
    for await (const c of await blobs.open(digest)) stored.push(c as Buffer);
    assert.equal(sha256(stored), digest);
    assert.deepEqual(await leftovers(), []);
  });

  it('the client has bytes before the upstream has sent them all', async () => {
    const chunks = chunksOf(4);
    const digest = sha256(chunks);
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    async function* slowUpstream(): AsyncGenerator<Buffer> {
      yield chunks[0] as Buffer;
      yield chunks[1] as Buffer;
      await gate;
      yield chunks[2] as Buffer;
      yield chunks[3] as Buffer;
    }
    const sink = new Collector();
    const filling = fillBlob(driver, blobs, { repository: repo, digest, size: undefined, source: Readable.from(slowUpstream()), sink });
    while (sink.received === 0) await sleep(5);
    assert.ok(sink.received > 0 && !(await visible(digest)), 'first bytes out, blob not yet visible');
    release();
    await filling;
    assert.ok(await visible(digest));
  });

  it('a digest mismatch: nothing visible, nothing left, and the client never gets the whole body', async () => {
    const chunks = chunksOf(8);
    const wrong = `sha256:${'3'.repeat(64)}` as Digest;
    const sink = new Collector();
    const errors: unknown[] = [];
    sink.on('error', (e) => errors.push(e));
    await assert.rejects(
      fillBlob(driver, blobs, { repository: repo, digest: wrong, size: 8 * 256 * 1024, source: Readable.from(chunks), sink, onCleanupError: (e) => assert.fail(String(e)) }),
      (err: unknown) => err instanceof FillMismatchError && err.kind === 'digest',
    );
    assert.ok(!(await visible(wrong)));
    assert.ok(!(await visible(sha256(chunks))), 'not under its real digest either');
    assert.deepEqual(await leftovers(), []);
    assert.ok(sink.destroyed && errors.length === 1, 'the response is destroyed, not ended');
    assert.ok(sink.received < 8 * 256 * 1024, `the last chunk was held back (${sink.received})`);
  });

  it('more bytes than announced: stopped at once; fewer: refused', async () => {
    const chunks = chunksOf(8);
    const digest = sha256(chunks);
    await assert.rejects(fillBlob(driver, blobs, { repository: repo, digest, size: 1000, source: Readable.from(chunks) }), (err: unknown) => err instanceof FillMismatchError && err.kind === 'size');
    await assert.rejects(fillBlob(driver, blobs, { repository: repo, digest, size: 9 * 256 * 1024, source: Readable.from(chunks) }), (err: unknown) => err instanceof FillMismatchError && err.kind === 'size');
    assert.ok(!(await visible(digest)));
    assert.deepEqual(await leftovers(), []);
  });

  it('an abort mid-stream: rejects with the reason, nothing visible, nothing left', async () => {
    const chunks = chunksOf(16);
    const digest = sha256(chunks);
    const controller = new AbortController();
    async function* upstream(): AsyncGenerator<Buffer> {
      for (const [i, c] of chunks.entries()) {
        if (i === 4) controller.abort(new Error('shutting down'));
        yield c;
        await sleep(1);
      }
    }
    const sink = new Collector();
    sink.on('error', () => undefined);
    await assert.rejects(fillBlob(driver, blobs, { repository: repo, digest, size: undefined, source: Readable.from(upstream()), sink, signal: controller.signal }), /shutting down/);
    assert.ok(!(await visible(digest)));
    assert.deepEqual(await leftovers(), []);
    assert.ok(sink.destroyed);
  });

  it('the upstream failing mid-body: its error, nothing visible, nothing left', async () => {
    const chunks = chunksOf(6);
    const digest = sha256(chunks);
    async function* upstream(): AsyncGenerator<Buffer> {
      yield chunks[0] as Buffer;
      yield chunks[1] as Buffer;
      throw Object.assign(new Error('other side closed'), { code: 'UND_ERR_SOCKET' });
    }
    const sink = new Collector();
    sink.on('error', () => undefined);
    await assert.rejects(fillBlob(driver, blobs, { repository: repo, digest, size: undefined, source: Readable.from(upstream()), sink }), /other side closed/);
    assert.ok(sink.destroyed);
    assert.ok(!(await visible(digest)));
    assert.deepEqual(await leftovers(), []);
  });

  it('a client that goes away is dropped; the fill completes', async () => {
    const chunks = chunksOf(12);
    const digest = sha256(chunks);
    const sink = new Collector(2);
    sink.on('error', () => undefined);
    setTimeout(() => sink.destroy(), 5);
    const result = await fillBlob(driver, blobs, { repository: repo, digest, size: undefined, source: Readable.from(chunks), sink });
    assert.equal(result.clientDropped, true);
    assert.ok(await visible(digest));
    assert.deepEqual(await leftovers(), []);
  });

  it('a client that stalls is dropped after clientStallMs; the fill completes', async () => {
    const chunks = chunksOf(4);
    const digest = sha256(chunks);
    const sink = new Stalled();
    sink.on('error', () => undefined);
    const started = Date.now();
    const result = await fillBlob(driver, blobs, { repository: repo, digest, size: undefined, source: Readable.from(chunks), sink, clientStallMs: 200 });
    assert.equal(result.clientDropped, true);
    assert.ok(Date.now() - started < 2_000);
    assert.ok(sink.destroyed);
    assert.ok(await visible(digest));
  });

  it('an already stored blob: the fill still verifies and serves, and removes its copy', async () => {
    const chunks = chunksOf(2);
    const digest = sha256(chunks);
    await fillBlob(driver, blobs, { repository: repo, digest, size: undefined, source: Readable.from(chunks) });
    const sink = new Collector();
    await fillBlob(driver, blobs, { repository: repo, digest, size: undefined, source: Readable.from(chunks), sink });
    assert.equal(sha256(sink.chunks), digest);
    assert.deepEqual(await leftovers(), []);
  });

  it('50 MB through a slow client in bounded memory', async () => {
    const total = 50 * 1024 * 1024;
    const base = randomBase(1024 * 1024);
    const h = createHash('sha256');
    for (const b of generatedBlocks(total, base)) h.update(b);
    const digest = `sha256:${h.digest('hex')}` as Digest;
    // The upstream as fast as it can be, in 64 KiB chunks (as a socket gives them); the client 2 ms per chunk.
    async function* upstream(): AsyncGenerator<Buffer> {
      for (const block of generatedBlocks(total, base)) for (let o = 0; o < block.length; o += 64 * 1024) yield block.subarray(o, o + 64 * 1024);
    }
    // The client takes 64 KiB a millisecond at best: slower than the upstream, so an unbounded fill would queue the blob in it.
    const sink = new Collector(1, 64 * 1024, false);
    let queuedPeak = 0;
    const original = sink._write.bind(sink);
    sink._write = (chunk: Buffer, enc: BufferEncoding, done: (err?: Error | null) => void): void => {
      queuedPeak = Math.max(queuedPeak, sink.writableLength);
      original(chunk, enc, done);
    };
    const baseline = process.memoryUsage().arrayBuffers;
    let peak = 0;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().arrayBuffers - baseline)), 5);
    try {
      const result = await fillBlob(driver, blobs, { repository: repo, digest, size: total, source: Readable.from(upstream()), sink });
      assert.equal(result.size, total);
    } finally {
      clearInterval(sampler);
    }
    assert.equal(sink.received, total);
    // At most the sink's high-water mark plus the chunk that crossed it waits for the client...
    assert.ok(queuedPeak <= 2 * 64 * 1024, `${queuedPeak} bytes queued for the client`);
    // ...and the process's buffers (garbage of the generator included) stay far below the blob's size.
    assert.ok(peak < 32 * 1024 * 1024, `external memory grew by ${(peak / 1048576).toFixed(1)} MiB while streaming 50 MiB`);
    assert.ok(await visible(digest));
    assert.equal((await blobs.stat(digest)).size, total);
  });
});

describe('fillBlob from a real Distribution through the upstream client', { skip: existsSync('/usr/bin/docker-registry') ? false : 'docker-registry is not installed', timeout: 120_000 }, () => {
  let work: string;
  let upstream: RegistryHandle;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-fill-dist-'));
    upstream = await startDistribution({ rootdirectory: join(work, 'upstream') });
  });
  after(async () => {
    await upstream?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('caches a 4 MiB layer while streaming it', async () => {
    const image = await pushImage(upstream.url, 'library/app', 'v1', { layers: 1, layerSize: 4 * 1024 * 1024 });
    const layer = image.blobs[1] as Digest;
    const client = await createUpstreamClient({ name: 'dist', url: upstream.url, namespaces: [], prefix: 'dist', credentials: undefined, tagTtl: 0, contentTtl: 0, ca: undefined, insecure: false, dockerHub: false });
    const driver = new FilesystemDriver({ rootdirectory: join(work, 'cache') });
    const blobs = new BlobStore(driver, new InMemoryBlobDescriptorCache());
    try {
      const opened = await client.openBlob('library/app' as RepositoryName, layer);
      const sink = new Collector();
      const result = await fillBlob(driver, blobs, { repository: 'dist/library/app' as RepositoryName, digest: layer, size: opened.size, source: opened.stream, sink });
      assert.equal(result.size, 4 * 1024 * 1024);
      assert.equal(sha256(sink.chunks), layer);
      assert.equal((await blobs.stat(layer)).size, 4 * 1024 * 1024);
    } finally {
      await client.close();
      await driver.close();
    }
  });
});
