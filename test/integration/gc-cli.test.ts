// `berth garbage-collect` (driven in process, with captured output) and the storage.gc schema.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { garbageCollectCommand, formatBytes, formatProgress, formatSummary } from '../../src/cli/garbage-collect.js';
import { gcSchema, onlineGcSettings } from '../../src/gc/schema.js';
import { Registry } from '../../src/storage/registry.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';
import type { Digest } from '../../src/oci/digest.js';
import { startRedis } from '../helpers/redis.js';
import { connectRedis } from '../../src/cache/redis-client.js';
import { RedisBlobDescriptorCache } from '../../src/cache/redis-blob-descriptor-cache.js';
import { allBlobs, allRevisions, pushImage, repo, silent as silentLogger, storageSnapshot, uploadBlob } from './gc-fixtures.js';

function capture(): { io: { stdout: { write(t: string): boolean }; stderr: { write(t: string): boolean } }; out: () => string; err: () => string } {
  let out = '';
  let err = '';
  return {
    io: {
      stdout: { write: (t: string) => ((out += t), true) },
      stderr: { write: (t: string) => ((err += t), true) },
    },
    out: () => out,
    err: () => err,
  };
}

describe('berth garbage-collect', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  async function registryWithGarbage(): Promise<{ config: string; driver: FilesystemDriver; registry: Registry; orphan: string; untagged: string }> {
    const dir = await mkdtemp(join(tmpdir(), 'berth-gc-cli-'));
    dirs.push(dir);
    const root = join(dir, 'data');
    const config = join(dir, 'config.yml');
    await writeFile(config, `version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: ${root}\n`);
    const driver = new FilesystemDriver({ rootdirectory: root });
    const registry = new Registry({ driver });
    await pushImage(registry, repo('cli/app'), { tag: 'v1' });
    const untagged = await pushImage(registry, repo('cli/app'));
    const orphan = await uploadBlob(registry, repo('cli/app'));
    return { config, driver, registry, orphan: orphan.digest, untagged: untagged.manifest.digest };
  }

  it('--dry-run reports and changes nothing; a real run deletes and prints the same numbers', async () => {
    const { config, driver } = await registryWithGarbage();
    const before = await storageSnapshot(driver);
    const dry = capture();
    assert.equal(await garbageCollectCommand(['--dry-run', config], {}, dry.io), 0, dry.err());
    assert.deepEqual(await storageSnapshot(driver), before);
    assert.match(dry.out(), /^dry run: nothing was changed in \d+\.\ds$/m);
    assert.match(dry.out(), /^repositories: 1$/m);
    assert.match(dry.out(), /^manifests: 2 kept, would delete 0$/m);
    assert.match(dry.out(), /^blobs: 8 kept, would delete 1 \(256 B to free\)$/m);
    assert.match(dry.out(), /^layer links: would delete 1$/m);
    assert.match(dry.err(), /blob eligible for deletion/);

    const real = capture();
    assert.equal(await garbageCollectCommand([config], {}, real.io), 0, real.err());
    assert.match(real.out(), /^garbage collection finished in/m);
    assert.match(real.out(), /^blobs: 8 kept, deleted 1 \(256 B freed\)$/m);
    assert.equal((await allBlobs(driver)).size, 8);
  });

  it('-m deletes untagged manifests; -q prints only the summary; the path may come from REGISTRY_CONFIGURATION_PATH', async () => {
    const { config, driver, registry, untagged } = await registryWithGarbage();
    const run = capture();
    assert.equal(await garbageCollectCommand(['-mq'], { REGISTRY_CONFIGURATION_PATH: config }, run.io), 0, run.err());
    assert.equal(run.err(), '');
    assert.match(run.out(), /^manifests: 1 kept, deleted 1$/m);
    assert.match(run.out(), /^blobs: 4 kept, deleted 5 /m);
    assert.ok(!(await allRevisions(registry, repo('cli/app'))).has(untagged as Digest));
    assert.equal((await allBlobs(driver)).size, 4);
  });

  it('invalidates the shared redis blob descriptor cache for what it deletes', async () => {
    const { config, driver, orphan } = await registryWithGarbage();
    const redis = await startRedis();
    const client = await connectRedis(
      { addr: redis.addr, addrs: [], username: '', password: '', db: 0, dialtimeout: 1000, readtimeout: 500, writetimeout: 500, tls: { enabled: false, certificate: '', key: '', clientcas: [], insecureskipverify: false }, ttl: 60_000 },
      silentLogger,
    );
    try {
      const replica = new Registry({ driver, blobDescriptorCache: new RedisBlobDescriptorCache(client, 60_000, silentLogger) });
      await replica.repository(repo('cli/app')).blobs.stat(orphan as Digest);
      assert.notEqual(await client.get(`berth:blob:${orphan}`), null, 'a replica cached it');
      await writeFile(config, `${await readFile(config, 'utf8')}  cache:\n    blobdescriptor: redis\nredis:\n  addr: ${redis.addr}\n`);
      const run = capture();
      assert.equal(await garbageCollectCommand(['-q', config], {}, run.io), 0, run.err());
      assert.equal(await client.get(`berth:blob:${orphan}`), null, 'invalidated');
      await assert.rejects(replica.repository(repo('cli/app')).blobs.stat(orphan as Digest));
    } finally {
      client.disconnect();
      await redis.stop();
    }
  });

  it('exits 2 on usage errors and 1 on a bad configuration', async () => {
    const { config } = await registryWithGarbage();
    for (const args of [['--frobnicate', config], ['--dry-run=yes', config], [config, config], []]) {
      const run = capture();
      assert.equal(await garbageCollectCommand(args, {}, run.io), 2, args.join(' '));
      assert.match(run.err(), /Usage: berth garbage-collect/);
    }
    const help = capture();
    assert.equal(await garbageCollectCommand(['--help'], {}, help.io), 0);
    assert.match(help.out(), /--delete-untagged/);

    const dir = await mkdtemp(join(tmpdir(), 'berth-gc-cli-bad-'));
    dirs.push(dir);
    const bad = join(dir, 'bad.yml');
    await writeFile(bad, 'version: 0.1\nstorage:\n  filesystem:\n    rootdirectory: /x\n  gc: {enabled: maybe}\n  bogus: 1\n');
    const run = capture();
    assert.equal(await garbageCollectCommand([bad], {}, run.io), 1);
    assert.match(run.err(), /berth garbage-collect: config: storage/);
    const missing = capture();
    assert.equal(await garbageCollectCommand([join(dir, 'nope.yml')], {}, missing.io), 1);
    assert.match(missing.err(), /cannot read the configuration file/);
  });

  it('formats progress, summaries and sizes', () => {
    assert.equal(
      formatProgress({ phase: 'mark', repositories: 12, manifestsMarked: 340, blobsScanned: 0, blobsDeleted: 0 }),
      'garbage-collect mark: 12 repositories scanned, 340 manifests marked, 0 blobs checked, 0 blobs swept',
    );
    assert.equal(formatBytes(512), '512 B');
    assert.equal(formatBytes(1536), '1.5 KiB');
    assert.equal(formatBytes(3 * 1024 ** 3), '3.0 GiB');
    const text = formatSummary({ repositories: 2, manifests: { kept: 3, deleted: 1 }, blobs: { kept: 9, deleted: 4 }, bytesFreed: 2048, layerLinksDeleted: 2, durationMs: 1500 }, false);
    assert.equal(text, 'garbage collection finished in 1.5s\nrepositories: 2\nmanifests: 3 kept, deleted 1\nblobs: 9 kept, deleted 4 (2.0 KiB freed)\nlayer links: deleted 2\n');
  });
});

describe('storage.gc schema', () => {
  it('defaults to off, 24h interval, 1h delay', () => {
    assert.deepEqual(gcSchema.parse(undefined), { enabled: false, interval: 24 * 3600_000, delay: 3600_000, deleteuntagged: false });
    assert.deepEqual(gcSchema.parse(null), gcSchema.parse({}));
  });

  it('parses Go durations and YAML 1.1 booleans', () => {
    const parsed = gcSchema.parse({ enabled: 'yes', interval: '6h', delay: '90m', deleteuntagged: true });
    assert.deepEqual(parsed, { enabled: true, interval: 6 * 3600_000, delay: 90 * 60_000, deleteuntagged: true });
    assert.deepEqual(onlineGcSettings(parsed), { enabled: true, interval: 6 * 3600_000, delay: 90 * 60_000, deleteUntagged: true });
  });

  it('refuses a delay under a minute, a bad duration, and unknown keys', () => {
    const issues = (value: unknown) => {
      const result = gcSchema.safeParse(value);
      return result.success ? [] : result.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`);
    };
    assert.match(issues({ delay: '30s' }).join('\n'), /delay: must be at least 1m/);
    assert.match(issues({ interval: '7d' }).join('\n'), /interval: .*expected a duration/);
    assert.equal(issues({ enable: true }).length, 1);
  });
});

describe('docs/garbage-collection.md', () => {
  const doc = readFileSync(new URL('../../../docs/garbage-collection.md', import.meta.url), 'utf8');

  it('shows every storage.gc key with its default', () => {
    const block = /```yaml\nstorage:\n {2}gc:\n([\s\S]*?)```/.exec(doc)?.[1] ?? '';
    const shown = Object.fromEntries([...block.matchAll(/^ {4}([a-z]+): (\S+)/gm)].map((m) => [m[1] ?? '', m[2] ?? ''] as const));
    const defaults = gcSchema.parse({});
    assert.deepEqual(Object.keys(shown).sort(), Object.keys(defaults).sort());
    for (const key of Object.keys(shown)) {
      const documented = new RegExp(`${key}: \\S+ +# .*\\(default ([^,)]+)`).exec(block)?.[1];
      assert.ok(documented !== undefined, `${key} documents its default`);
    }
    assert.match(block, /default 24h/);
    assert.match(block, /default 1h, at least 1m/);
  });

  it('documents every flag of the command', async () => {
    const help = capture();
    await garbageCollectCommand(['--help'], {}, help.io);
    for (const flag of help.out().match(/--[a-z-]+/g) ?? []) {
      if (flag === '--help') continue;
      assert.ok(doc.includes(`\`${flag}\``), `${flag} is documented`);
    }
  });
});

