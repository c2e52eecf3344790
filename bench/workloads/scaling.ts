/**
 * How listings scale with the number of repositories: at each of `scaleRepos` repository
 * counts, the catalog's first page (`n=catalogPage`) and the tags list of a repository with
 * `scaleTags` tags under load, and the time of a full catalog walk (`n=walkPage`, following
 * the Link headers to the end).
 *
 * The storage is written directly on disk once per repository count (see scaling-layout.ts)
 * and only read by the measurements, so both registries and every run use the same
 * directory: identical files, and half the (slow) writing.
 */
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { figure, median, rateFigures, type Kind, type RunValues } from '../figures.js';
import { fetchOk, walkCatalog } from '../http.js';
import { describeLoad, runLoad } from '../load.js';
import { formatCount } from '../units.js';
import { withTarget, type Target } from '../servers.js';
import { writeScalingLayout, type ScalingLayout } from './scaling-layout.js';
import type { Workload, WorkloadContext } from './workload.js';

/** The catalog-scaling workload (figures `scale.*@<repos>`). */
export function scalingWorkload(ctx: WorkloadContext): Workload {
  const { sizes } = ctx.options;
  const dir = join(ctx.workDir, 'scale');
  const tagsLabel = formatCount(sizes.scaleTags);
  const levels = sizes.scaleRepos.map((repos) => {
    const at = `${formatCount(repos)} repos`;
    return {
      repos,
      page: rateFigures(`scale.catalog-page@${repos}`, `catalog first page n=${sizes.catalogPage}, ${at}`),
      walk: figure(`scale.catalog-walk@${repos}`, `catalog full walk n=${sizes.walkPage}, ${at}`, 'ms', 'lower'),
      tags: rateFigures(`scale.tags-list@${repos}`, `tags list (${tagsLabel} tags), ${at}`),
    };
  });
  type Level = (typeof levels)[number];
  const wanted = (l: Level): boolean => [l.page.rps, l.page.p99, l.walk, l.tags.rps, l.tags.p99].some((f) => ctx.wants(f));
  const dataDir = (repos: number): string => join(dir, `repos-${repos}`);
  const layouts = new Map<number, ScalingLayout>();

  /** Median time of full walks repeated for `walkBudgetSeconds` (at least one), each checked complete. */
  async function timeWalks(target: Target, layout: ScalingLayout): Promise<number> {
    const times: number[] = [];
    const deadline = performance.now() + sizes.walkBudgetSeconds * 1000;
    do {
      const start = performance.now();
      const walked = await walkCatalog(target.url, sizes.walkPage);
      times.push(performance.now() - start);
      if (walked.repositories !== layout.repositories.length) {
        throw new Error(`catalog walk listed ${walked.repositories} repositories, expected ${layout.repositories.length}`);
      }
    } while (performance.now() < deadline && times.length < 20);
    return median(times);
  }

  async function measureLevel(target: Target, level: Level, layout: ScalingLayout, values: RunValues): Promise<void> {
    if (ctx.wants(level.walk)) values.set(level.walk.id, await timeWalks(target, layout));
    const loads = [
      { figures: level.page, path: `/v2/_catalog?n=${sizes.catalogPage}`, count: 'repositories', expected: Math.min(sizes.catalogPage, layout.repositories.length) },
      { figures: level.tags, path: `/v2/${layout.tagsRepository}/tags/list`, count: 'tags', expected: sizes.scaleTags },
    ] as const;
    for (const load of loads) {
      if (!ctx.wants(load.figures.rps) && !ctx.wants(load.figures.p99)) continue;
      const { body } = await fetchOk(target.url, load.path);
      const listed = (JSON.parse(body.toString()) as Record<string, unknown>)[load.count];
      if (!Array.isArray(listed) || listed.length !== load.expected) {
        throw new Error(`${load.path}: expected ${load.expected} ${load.count}, got ${Array.isArray(listed) ? listed.length : 'none'}`);
      }
      const result = await runLoad({
        url: `${target.url}${load.path}`,
        connections: sizes.connections,
        seconds: sizes.scaleLoadSeconds,
        warmupSeconds: sizes.warmupSeconds,
      });
      ctx.log(describeLoad(load.figures.rps.label, result));
      values.set(load.figures.rps.id, result.rps);
      values.set(load.figures.p99.id, result.p99);
    }
  }

  return {
    name: 'catalog scaling',
    figures: levels.flatMap((l) => [l.page.rps, l.page.p99, l.walk, l.tags.rps, l.tags.p99]),
    async prepare() {
      for (const level of levels.filter(wanted)) {
        ctx.log(`writing storage with ${formatCount(level.repos)} repositories and a ${tagsLabel}-tag repository`);
        layouts.set(level.repos, await writeScalingLayout(dataDir(level.repos), level.repos, sizes.scaleTags));
      }
    },
    async measure(kind: Kind) {
      const values: RunValues = new Map();
      for (const level of levels.filter(wanted)) {
        const layout = layouts.get(level.repos);
        if (layout === undefined) throw new Error(`storage with ${level.repos} repositories was not prepared`);
        await withTarget(kind, { dataDir: dataDir(level.repos), cpuProfDir: ctx.options.cpuProfDir, berthWorkers: ctx.options.berthWorkers }, (target) =>
          measureLevel(target, level, layout, values),
        );
      }
      return values;
    },
    async dispose() {
      await rm(dir, { recursive: true, force: true });
    },
  };
}
