/**
 * How long the management API takes over many repositories (issue 14): writes N repositories in
 * Distribution's layout on a local disk (each an image of a config, a layer shared by all and one
 * of its own, tagged twice), then times `GET /berth/v1/repositories?n=100` cold (first catalog
 * walk, every manifest read), warm, on a page not read before, filtered with `q`, and
 * `GET /berth/v1/usage`. Usage: node dist/bench/management-api.js [repositories=10000]
 */
import { createHash, randomBytes } from 'node:crypto';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { startTestRegistry } from '../test/helpers/app.js';
import { FilesystemDriver } from '../src/storage/driver/filesystem/filesystem.js';

const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');

async function put(path: string, data: Buffer | string): Promise<void> {
  await mkdir(dirname(path), { recursive: true });
  await writeFile(path, data);
}

async function writeRepository(v2: string, name: string, shared: { hex: string; size: number }): Promise<void> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, name }));
  const layer = randomBytes(512);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: `sha256:${sha(config)}`, size: config.length },
      layers: [
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${shared.hex}`, size: shared.size },
        { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: `sha256:${sha(layer)}`, size: layer.length },
      ],
    }),
  );
  const repo = join(v2, 'repositories', name);
  const writes: Array<Promise<void>> = [];
  for (const blob of [config, layer, manifest]) {
    const hex = sha(blob);
    writes.push(put(join(v2, 'blobs/sha256', hex.slice(0, 2), hex, 'data'), blob));
  }
  for (const hex of [sha(config), shared.hex, sha(layer), sha(manifest)]) writes.push(put(join(repo, '_layers/sha256', hex, 'link'), `sha256:${hex}`));
  const m = sha(manifest);
  writes.push(put(join(repo, '_manifests/revisions/sha256', m, 'link'), `sha256:${m}`));
  for (const tag of ['latest', 'v1']) {
    writes.push(put(join(repo, '_manifests/tags', tag, 'current/link'), `sha256:${m}`));
    writes.push(put(join(repo, '_manifests/tags', tag, 'index/sha256', m, 'link'), `sha256:${m}`));
  }
  await Promise.all(writes);
}

async function time(label: string, url: string): Promise<void> {
  const started = performance.now();
  const res = await fetch(url);
  const body = (await res.json()) as { repositories?: unknown[]; total?: number };
  const ms = performance.now() - started;
  const what = body.repositories !== undefined ? `${body.repositories.length} repositories` : `total ${body.total ?? '?'} bytes`;
  console.log(`${label.padEnd(44)} ${res.status} ${what.padEnd(20)} ${ms.toFixed(1)} ms`);
}

async function main(): Promise<void> {
  const count = Number(process.argv[2] ?? 10_000);
  const root = await mkdtemp(join(tmpdir(), 'berth-bench-mgmt-'));
  const v2 = join(root, 'docker/registry/v2');
  const sharedLayer = randomBytes(4096);
  const shared = { hex: sha(sharedLayer), size: sharedLayer.length };
  await put(join(v2, 'blobs/sha256', shared.hex.slice(0, 2), shared.hex, 'data'), sharedLayer);
  const started = performance.now();
  const names = Array.from({ length: count }, (_, i) => `org${String(i % 100).padStart(2, '0')}/app${String(i).padStart(5, '0')}`);
  for (let i = 0; i < names.length; i += 64) await Promise.all(names.slice(i, i + 64).map((n) => writeRepository(v2, n, shared)));
  console.log(`wrote ${count} repositories in ${((performance.now() - started) / 1000).toFixed(1)} s`);
  const r = await startTestRegistry({ driver: new FilesystemDriver({ rootdirectory: root }), accessLog: false });
  try {
    const base = `${r.url}/berth/v1`;
    await time('repositories?n=100 (cold: walk + manifests)', `${base}/repositories?n=100`);
    await time('repositories?n=100 (warm)', `${base}/repositories?n=100`);
    await time('repositories?n=100 (warm, again)', `${base}/repositories?n=100`);
    await time('repositories?n=100&last=<middle> (first read)', `${base}/repositories?n=100&last=${encodeURIComponent(names[Math.floor(count / 2)] ?? '')}`);
    await time('repositories?n=100&last=<middle> (warm)', `${base}/repositories?n=100&last=${encodeURIComponent(names[Math.floor(count / 2)] ?? '')}`);
    await time('repositories?q=app0999&n=100', `${base}/repositories?q=app0999&n=100`);
    await time('repositories?q=org42/&n=100', `${base}/repositories?q=org42/&n=100`);
    await time('usage (cold for most repositories)', `${base}/usage`);
    await time('usage (warm)', `${base}/usage`);
  } finally {
    await r.close();
    await rm(root, { recursive: true, force: true });
  }
}

await main();
