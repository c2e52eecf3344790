/**
 * Request rates of the read endpoints a cluster hammers: manifest GET by tag, blob HEAD, blob
 * GET, tags list, catalog; each a load of `connections` connections for `loadSeconds`,
 * reporting requests/s and p99 latency.
 *
 * Each measurement populates a fresh registry identically through the API first: one
 * repository holding the image (a `rateBlobBytes` layer) under `rateTags` + 1 tags, and
 * `rateRepos` more repositories with the same image mounted in.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { rateFigures, type Figure, type Kind, type RunValues } from '../figures.js';
import { fetchOk, mountBlob, pushBytes, putManifest } from '../http.js';
import { describeLoad, runLoad, type LoadSpec } from '../load.js';
import { forEachConcurrently } from '../pool.js';
import { formatBytes, formatCount } from '../units.js';
import { withTarget, type Target } from '../servers.js';
import { MANIFEST_ACCEPT, OCI_MANIFEST, tinyImage, type TinyImage } from './content.js';
import type { Workload, WorkloadContext } from './workload.js';

const REPO = 'bench/app';

/** One load: its figures, and the request with the check its answer must pass first. */
interface Endpoint {
  readonly figures: { rps: Figure; p99: Figure };
  readonly method: 'GET' | 'HEAD';
  readonly path: string;
  readonly headers: Record<string, string>;
  /** Throws when the one checked answer is wrong (wrong digest, size, count). */
  verify(body: Buffer, headers: Headers): void;
}

function expect(what: string, actual: unknown, expected: unknown): void {
  if (actual !== expected) throw new Error(`${what}: expected ${String(expected)}, got ${String(actual)}`);
}

/** The request-rate workload (figures `manifest-get.*`, `blob-head.*`, `blob-get.*`, `tags-list.*`, `catalog.*`). */
export function requestsWorkload(ctx: WorkloadContext): Workload {
  const { sizes } = ctx.options;
  const dir = join(ctx.workDir, 'requests');
  let image: TinyImage | undefined;
  const tags = ['latest', ...Array.from({ length: sizes.rateTags }, (_, i) => `t-${String(i).padStart(4, '0')}`)];
  const repos = Array.from({ length: sizes.rateRepos }, (_, i) => `bench/repo-${String(i).padStart(4, '0')}`);

  const figs = {
    manifest: rateFigures('manifest-get', 'manifest GET by tag'),
    head: rateFigures('blob-head', 'blob HEAD'),
    get: rateFigures('blob-get', `blob GET ${formatBytes(sizes.rateBlobBytes)}`),
    tags: rateFigures('tags-list', `tags list (${formatCount(tags.length)} tags)`),
    catalog: rateFigures('catalog', `catalog n=${sizes.catalogPage} (${formatCount(repos.length + 1)} repos)`),
  };
  const figures = Object.values(figs).flatMap((e) => [e.rps, e.p99]);

  const endpoints = (img: TinyImage): Endpoint[] => [
    {
      figures: figs.manifest,
      method: 'GET',
      path: `/v2/${REPO}/manifests/latest`,
      headers: { Accept: MANIFEST_ACCEPT },
      verify: (_body, headers) => expect('manifest GET digest', headers.get('docker-content-digest'), img.manifest.digest),
    },
    {
      figures: figs.head,
      method: 'HEAD',
      path: `/v2/${REPO}/blobs/${img.layer.digest}`,
      headers: {},
      verify: (_body, headers) => expect('blob HEAD Content-Length', headers.get('content-length'), String(img.layer.bytes.byteLength)),
    },
    {
      figures: figs.get,
      method: 'GET',
      path: `/v2/${REPO}/blobs/${img.layer.digest}`,
      headers: {},
      verify: (body) => expect('blob GET body', body.equals(img.layer.bytes), true),
    },
    {
      figures: figs.tags,
      method: 'GET',
      path: `/v2/${REPO}/tags/list`,
      headers: {},
      verify: (body) => expect('tags listed', (JSON.parse(body.toString()) as { tags: unknown[] }).tags.length, tags.length),
    },
    {
      figures: figs.catalog,
      method: 'GET',
      path: `/v2/_catalog?n=${sizes.catalogPage}`,
      headers: {},
      verify: (body) =>
        expect(
          'repositories listed',
          (JSON.parse(body.toString()) as { repositories: unknown[] }).repositories.length,
          Math.min(sizes.catalogPage, repos.length + 1),
        ),
    },
  ];

  async function populate(target: Target, img: TinyImage): Promise<void> {
    await pushBytes(target.url, REPO, img.layer.bytes, img.layer.digest);
    await pushBytes(target.url, REPO, img.config.bytes, img.config.digest);
    for (const tag of tags) await putManifest(target.url, REPO, tag, img.manifest.bytes, OCI_MANIFEST);
    await forEachConcurrently(repos, 8, async (repo) => {
      await mountBlob(target.url, repo, REPO, img.layer.digest);
      await mountBlob(target.url, repo, REPO, img.config.digest);
      await putManifest(target.url, repo, 'latest', img.manifest.bytes, OCI_MANIFEST);
    });
  }

  return {
    name: 'request rates',
    figures,
    async prepare() {
      image = tinyImage(sizes.rateBlobBytes);
    },
    async measure(kind: Kind, run: number) {
      const img = image;
      if (img === undefined) throw new Error('request-rate content was not prepared');
      const values: RunValues = new Map();
      const scratch = join(dir, `${kind}-${run}`);
      try {
        await withTarget(kind, { dataDir: join(scratch, 'data'), cpuProfDir: ctx.options.cpuProfDir, berthWorkers: ctx.options.berthWorkers }, async (target) => {
          await populate(target, img);
          for (const endpoint of endpoints(img)) {
            if (!ctx.wants(endpoint.figures.rps) && !ctx.wants(endpoint.figures.p99)) continue;
            const { body, headers } = await fetchOk(target.url, endpoint.path, { method: endpoint.method, headers: endpoint.headers });
            endpoint.verify(body, headers);
            const spec: LoadSpec = {
              url: `${target.url}${endpoint.path}`,
              method: endpoint.method,
              headers: endpoint.headers,
              connections: sizes.connections,
              seconds: sizes.loadSeconds,
              warmupSeconds: sizes.warmupSeconds,
            };
            const result = await runLoad(spec);
            ctx.log(describeLoad(endpoint.figures.rps.label, result));
            values.set(endpoint.figures.rps.id, result.rps);
            values.set(endpoint.figures.p99.id, result.p99);
          }
        });
      } finally {
        await rm(scratch, { recursive: true, force: true });
      }
      return values;
    },
    async dispose() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
