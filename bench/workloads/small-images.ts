/**
 * Many small images pushed at once, as a CI fleet does: `smallImages` images of `smallLayers`
 * layers each, pushed to their own repositories by `smallConcurrency` concurrent skopeo
 * processes. Each measurement builds new images (new digests, so nothing is skipped or
 * mounted) before the clock starts, and uses a fresh registry.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { figure, type Kind, type RunValues } from '../figures.js';
import { forEachConcurrently, timed } from '../pool.js';
import { formatBytes } from '../units.js';
import { withTarget } from '../servers.js';
import { settleDisk } from '../proc.js';
import type { Workload, WorkloadContext } from './workload.js';
import { buildImageLayout } from '../../test/helpers/images.js';
import { copyToRegistry } from '../../test/helpers/skopeo.js';

/** The small-images workload (figure `small.push`). */
export function smallImagesWorkload(ctx: WorkloadContext): Workload {
  const { sizes } = ctx.options;
  const push = figure(
    'small.push',
    `push ${sizes.smallImages} images (${sizes.smallLayers} x ${formatBytes(sizes.smallLayerBytes)} layers), ${sizes.smallConcurrency} skopeo at once`,
    's',
    'lower',
  );
  const dir = join(ctx.workDir, 'small');

  return {
    name: 'small images',
    figures: [push],
    async prepare() {},
    async measure(kind: Kind, run: number) {
      const scratch = join(dir, `${kind}-${run}`);
      const values: RunValues = new Map();
      try {
        const layouts: string[] = [];
        for (let i = 0; i < sizes.smallImages; i++) {
          const layoutDir = join(scratch, 'layouts', `img-${i}`);
          await buildImageLayout(layoutDir, { layers: sizes.smallLayers, layerSize: sizes.smallLayerBytes });
          layouts.push(layoutDir);
        }
        await withTarget(kind, { dataDir: join(scratch, 'data'), cpuProfDir: ctx.options.cpuProfDir, berthWorkers: ctx.options.berthWorkers }, async (target) => {
          settleDisk();
          const seconds = await timed(() =>
            forEachConcurrently(layouts, sizes.smallConcurrency, async (layoutDir, i) => {
              await copyToRegistry(layoutDir, `${target.host}/small/img-${i}:latest`);
            }),
          );
          values.set(push.id, seconds);
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
