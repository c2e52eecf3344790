/**
 * Request rates of the read endpoints a cluster hammers: `GET /v2/`, manifest GET by tag and by
 * digest, blob HEAD, blob GET, tags list, catalog; each a load of `connections` connections,
 * reporting requests/s and p99 latency. GETs are loaded with wrk (`wrkSeconds` after a
 * `wrkWarmupSeconds` warm-up), HEAD with autocannon (`loadSeconds`), which wrk 4.1 cannot send.
 *
 * Every measurement first loads the ceiling server (ceiling.ts) the same two ways, GET with wrk
 * and HEAD with autocannon, before the registry starts: the ceiling each figure is a fraction
 * of (limits.ts), measured in the same run, minutes apart at most.
 *
 * Each measurement populates a fresh registry identically through the API first: one
 * repository holding the image (a `rateBlobBytes` layer) under `rateTags` + 1 tags, and
 * `rateRepos` more repositories with the same image mounted in.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { withCeiling } from '../ceiling.js';
import { rateFigures, type Figure, type Kind, type RunValues } from '../figures.js';
import { fetchOk, mountBlob, pushBytes, putManifest } from '../http.js';
import { describeLoad, runLoad } from '../load.js';
import { describeWrk, runWrk } from '../wrk.js';
import { forEachConcurrently } from '../pool.js';
import { formatBytes, formatCount } from '../units.js';
import { withTarget, type Target } from '../servers.js';
import { MANIFEST_ACCEPT, OCI_MANIFEST, tinyImage, type TinyImage } from './content.js';
import type { Workload, WorkloadContext } from './workload.js';

const REPO = 'bench/app';

/** One load: its figures, and the request with the check its answer must pass first. */
interface Endpoint {
  /** Its figures; their `tool` says which client loads it (wrk for GET, autocannon for HEAD). */
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

/**
 * The request-rate workload (figures `ceiling.*`, `ceiling-head.*`, `base.*`, `manifest-get.*`,
 * `manifest-digest.*`, `blob-head.*`, `blob-get.*`, `tags-list.*`, `catalog.*`).
 */
export function requestsWorkload(ctx: WorkloadContext): Workload {
  const { sizes } = ctx.options;
  const dir = join(ctx.workDir, 'requests');
  let image: TinyImage | undefined;
  const tags = ['latest', ...Array.from({ length: sizes.rateTags }, (_, i) => `t-${String(i).padStart(4, '0')}`)];
  const repos = Array.from({ length: sizes.rateRepos }, (_, i) => `bench/repo-${String(i).padStart(4, '0')}`);

  const figs = {
    ceiling: rateFigures('ceiling', 'trivial Node server, 1.5 KiB (ceiling)', 'wrk'),
    ceilingHead: rateFigures('ceiling-head', 'trivial Node server, HEAD (ceiling)', 'autocannon'),
    base: rateFigures('base', 'GET /v2/', 'wrk'),
    manifest: rateFigures('manifest-get', 'manifest GET by tag', 'wrk'),
    manifestDigest: rateFigures('manifest-digest', 'manifest GET by digest', 'wrk'),
    head: rateFigures('blob-head', 'blob HEAD', 'autocannon'),
    get: rateFigures('blob-get', `blob GET ${formatBytes(sizes.rateBlobBytes)}`, 'wrk'),
    tags: rateFigures('tags-list', `tags list (${formatCount(tags.length)} tags)`, 'wrk'),
    catalog: rateFigures('catalog', `catalog n=${sizes.catalogPage} (${formatCount(repos.length + 1)} repos)`, 'wrk'),
  };
  const figures = Object.values(figs).flatMap((e) => [e.rps, e.p99]);

  /** The ceiling server's loads: any path answers its 1.5 KiB. */
  const ceilingEndpoints: Endpoint[] = [
    {
      figures: figs.ceiling,
      method: 'GET',
      path: '/v2/',
      headers: { Accept: MANIFEST_ACCEPT },
      verify: (body) => expect('ceiling body bytes', body.byteLength, 1536),
    },
    {
      figures: figs.ceilingHead,
      method: 'HEAD',
      path: '/v2/',
      headers: {},
      verify: (_body, headers) => expect('ceiling HEAD Content-Length', headers.get('content-length'), '1536'),
    },
  ];

  const endpoints = (img: TinyImage): Endpoint[] => [
    {
      figures: figs.base,
      method: 'GET',
      path: '/v2/',
      headers: {},
      verify: (_body, headers) => expect('GET /v2/ API version', headers.get('docker-distribution-api-version'), 'registry/2.0'),
    },
    {
      figures: figs.manifest,
      method: 'GET',
      path: `/v2/${REPO}/manifests/latest`,
      headers: { Accept: MANIFEST_ACCEPT },
      verify: (_body, headers) => expect('manifest GET digest', headers.get('docker-content-digest'), img.manifest.digest),
    },
    {
      figures: figs.manifestDigest,
      method: 'GET',
      path: `/v2/${REPO}/manifests/${img.manifest.digest}`,
      headers: { Accept: MANIFEST_ACCEPT },
      verify: (body) => expect('manifest GET by digest body', body.equals(img.manifest.bytes), true),
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

  /** Checks each endpoint's answer once, then loads it with its figures' tool. */
  async function loadAll(base: string, list: readonly Endpoint[], values: RunValues): Promise<void> {
    for (const endpoint of list) {
      const { body, headers } = await fetchOk(base, endpoint.path, { method: endpoint.method, headers: endpoint.headers });
      endpoint.verify(body, headers);
      const { rps, p99 } = endpoint.figures;
      if (rps.tool === 'wrk') {
        if (endpoint.method !== 'GET') throw new Error(`${rps.label}: wrk 4.1 only loads GET`);
        const result = await runWrk({
          url: `${base}${endpoint.path}`,
          headers: endpoint.headers,
          threads: sizes.wrkThreads,
          connections: sizes.connections,
          seconds: sizes.wrkSeconds,
          warmupSeconds: sizes.wrkWarmupSeconds,
        });
        ctx.log(describeWrk(rps.label, result));
        values.set(rps.id, result.rps);
        values.set(p99.id, result.p99);
      } else {
        const result = await runLoad({
          url: `${base}${endpoint.path}`,
          method: endpoint.method,
          headers: endpoint.headers,
          connections: sizes.connections,
          seconds: sizes.loadSeconds,
          warmupSeconds: sizes.warmupSeconds,
        });
        ctx.log(describeLoad(rps.label, result));
        values.set(rps.id, result.rps);
        values.set(p99.id, result.p99);
      }
    }
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
      const wanted = (list: readonly Endpoint[]): Endpoint[] => list.filter((e) => ctx.wants(e.figures.rps) || ctx.wants(e.figures.p99));
      const ceilings = wanted(ceilingEndpoints);
      if (ceilings.length > 0) await withCeiling(async (ceiling) => loadAll(ceiling.url, ceilings, values));
      const scratch = join(dir, `${kind}-${run}`);
      try {
        await withTarget(kind, { dataDir: join(scratch, 'data'), cpuProfDir: ctx.options.cpuProfDir, berthWorkers: ctx.options.berthWorkers }, async (target) => {
          await populate(target, img);
          await loadAll(target.url, wanted(endpoints(img)), values);
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
