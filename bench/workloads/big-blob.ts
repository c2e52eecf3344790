/**
 * The big layer: push and pull of one large blob with skopeo (from an OCI layout built once)
 * and with a plain HTTP client (monolithic PUT, chunked PATCH, GET hashed on arrival), a pull
 * with curl, plus the server's peak RSS during the pushes and its CPU seconds per GiB pushed
 * and pulled. Right before the monolithic push, `dd conv=fdatasync` writes as many bytes into
 * the registry's storage directory: the disk's ceiling for that push (`disk.dd`), in the same run.
 *
 * Every measurement starts the registry on fresh storage, and every HTTP push sends new
 * content, so nothing is ever already there (skopeo would otherwise skip or mount the blob).
 */
import { mkdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { figure, type Kind, type RunValues } from '../figures.js';
import { pullVerified, pushChunked, pushMonolithic } from '../http.js';
import { timed } from '../pool.js';
import { curlPull, ddWrite } from '../transfer-tools.js';
import { formatBytes, megabytesPerSecond } from '../units.js';
import { clockTicks, cpuSeconds, peakRssBytes, settleDisk } from '../proc.js';
import { withTarget, type Target } from '../servers.js';
import type { Workload, WorkloadContext } from './workload.js';
import { buildImageLayout, type ImageLayout } from '../../test/helpers/images.js';
import { copyFromRegistry, copyToRegistry } from '../../test/helpers/skopeo.js';
import { digestOfBlocks, generatedBlocks, randomBase } from '../../test/helpers/streams.js';

const GiB = 1024 * 1024 * 1024;

/** The big-layer workload (figures `big.*`). */
export function bigBlobWorkload(ctx: WorkloadContext): Workload {
  const { sizes } = ctx.options;
  const size = sizes.bigLayerBytes;
  const what = formatBytes(size);
  const f = {
    skopeoPush: figure('big.push.skopeo', `push ${what} layer, skopeo`, 'MB/s', 'higher'),
    skopeoPull: figure('big.pull.skopeo', `pull ${what} layer, skopeo`, 'MB/s', 'higher'),
    monolithic: figure('big.push.monolithic', `push ${what} blob, HTTP POST + PUT`, 'MB/s', 'higher'),
    chunked: figure('big.push.chunked', `push ${what} blob, HTTP PATCH ${formatBytes(sizes.chunkBytes)} chunks`, 'MB/s', 'higher'),
    get: figure('big.pull.get', `pull ${what} blob, HTTP GET`, 'MB/s', 'higher'),
    curl: figure('big.pull.curl', `pull ${what} blob, curl`, 'MB/s', 'higher'),
    dd: figure('disk.dd', `disk write ${what}, dd conv=fdatasync (ceiling)`, 'MB/s', 'higher'),
    rss: figure('big.rss', 'server peak RSS during big pushes', 'MiB', 'lower'),
    cpuPush: figure('big.cpu.push', 'server CPU per GiB pushed', 'CPU s/GiB', 'lower'),
    cpuPull: figure('big.cpu.pull', 'server CPU per GiB pulled', 'CPU s/GiB', 'lower'),
  };
  const dir = join(ctx.workDir, 'big');
  const ticks = clockTicks();
  const resources = ctx.wants(f.rss) || ctx.wants(f.cpuPush) || ctx.wants(f.cpuPull);
  const useHttp = resources || [f.monolithic, f.chunked, f.get, f.curl, f.dd].some((x) => ctx.wants(x));
  const useSkopeo = resources || ctx.wants(f.skopeoPush) || ctx.wants(f.skopeoPull);
  let layout: ImageLayout | undefined;

  /** What a push step leaves: the bytes it pushed, and the matching pull (resolving with the bytes pulled). */
  interface Pushed {
    readonly bytes: number;
    pull(): Promise<number>;
  }

  /**
   * Pushes by HTTP both ways (monolithic, chunked; dd first); the pull GETs the monolithic blob
   * back, hashed, then once more with curl.
   */
  async function httpPushes(target: Target, values: RunValues): Promise<Pushed> {
    const monoBase = randomBase();
    const monoDigest = digestOfBlocks(generatedBlocks(size, monoBase));
    settleDisk();
    const dd = await ddWrite(join(target.dataDir, 'dd.bin'), Math.ceil(size / (1024 * 1024)));
    values.set(f.dd.id, dd.rate / 1e6);
    settleDisk();
    const seconds = await timed(() => pushMonolithic(target.url, 'big/monolithic', generatedBlocks(size, monoBase), size, monoDigest));
    values.set(f.monolithic.id, megabytesPerSecond(size, seconds));

    const chunkBase = randomBase();
    const chunkDigest = digestOfBlocks(generatedBlocks(size, chunkBase));
    settleDisk();
    const chunkSeconds = await timed(() => pushChunked(target.url, 'big/chunked', generatedBlocks(size, chunkBase), sizes.chunkBytes, chunkDigest));
    values.set(f.chunked.id, megabytesPerSecond(size, chunkSeconds));

    const pull = async (): Promise<number> => {
      settleDisk();
      const getSeconds = await timed(() => pullVerified(target.url, 'big/monolithic', monoDigest, size));
      values.set(f.get.id, megabytesPerSecond(size, getSeconds));
      settleDisk();
      const curl = await curlPull(`${target.url}/v2/big/monolithic/blobs/${monoDigest}`, size);
      values.set(f.curl.id, curl.rate / 1e6);
      return 2 * size;
    };
    return { bytes: 2 * size, pull };
  }

  /** Pushes the layout with skopeo; the pull copies the image back into a fresh layout. */
  async function skopeoPush(target: Target, values: RunValues, scratch: string): Promise<Pushed> {
    if (layout === undefined) throw new Error('big layer layout was not prepared');
    const image = layout;
    const layerBytes = image.layers.reduce((sum, l) => sum + l.size, 0);
    const ref = `${target.host}/big/skopeo:latest`;
    settleDisk();
    const seconds = await timed(() => copyToRegistry(image.layoutDir, ref, { timeoutMs: 600_000 }));
    values.set(f.skopeoPush.id, megabytesPerSecond(layerBytes, seconds));
    const pull = async (): Promise<number> => {
      const dest = join(scratch, 'pulled');
      settleDisk();
      const pullSeconds = await timed(() => copyFromRegistry(ref, dest, { timeoutMs: 600_000 }));
      values.set(f.skopeoPull.id, megabytesPerSecond(layerBytes, pullSeconds));
      await rm(dest, { recursive: true, force: true });
      return layerBytes;
    };
    return { bytes: layerBytes, pull };
  }

  return {
    name: 'big layer',
    figures: Object.values(f),
    async prepare() {
      if (!useSkopeo) return;
      ctx.log(`building an OCI layout with a ${what} layer`);
      await mkdir(dir, { recursive: true });
      layout = await buildImageLayout(join(dir, 'layout'), { layers: 1, layerSize: size, filesPerLayer: 1, ref: 'latest' });
    },
    async measure(kind: Kind, run: number) {
      const values: RunValues = new Map();
      const scratch = join(dir, `${kind}-${run}`);
      const dataDir = join(scratch, 'data');
      try {
        await withTarget(kind, { dataDir, cpuProfDir: ctx.options.cpuProfDir, berthWorkers: ctx.options.berthWorkers }, async (target) => {
          const cpuStart = cpuSeconds(target.pid, ticks);
          const pushes: Pushed[] = [];
          if (useHttp) pushes.push(await httpPushes(target, values));
          if (useSkopeo) pushes.push(await skopeoPush(target, values, scratch));
          values.set(f.rss.id, peakRssBytes(target.pid) / (1024 * 1024));
          const cpuPushed = cpuSeconds(target.pid, ticks);
          const pushed = pushes.reduce((sum, p) => sum + p.bytes, 0);
          values.set(f.cpuPush.id, (cpuPushed - cpuStart) / (pushed / GiB));
          let pulled = 0;
          for (const p of pushes) pulled += await p.pull();
          values.set(f.cpuPull.id, (cpuSeconds(target.pid, ticks) - cpuPushed) / (pulled / GiB));
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
