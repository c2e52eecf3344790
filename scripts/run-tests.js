#!/usr/bin/env node
// Runs the compiled test files (dist/test/**/*.test.js) with node:test and the spec reporter.
// Usage: node scripts/run-tests.js [substring-filter ...]
// BERTH_TEST_CONCURRENCY sets how many files run at once (default 2).
import { run } from 'node:test';
import { spec } from 'node:test/reporters';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, relative } from 'node:path';
import { spawnSync } from 'node:child_process';

const root = new URL('..', import.meta.url).pathname;
const testRoot = join(root, 'dist', 'test');

function collect(dir) {
  const out = [];
  for (const entry of readdirSync(dir).sort()) {
    const full = join(dir, entry);
    if (statSync(full).isDirectory()) out.push(...collect(full));
    else if (entry.endsWith('.test.js')) out.push(full);
  }
  return out;
}

let files;
try {
  files = collect(testRoot);
} catch {
  console.error(`no compiled tests under ${testRoot}: run "npm run build" first`);
  process.exit(1);
}
// A compiled test whose source is gone (deleted or moved since the last build) must not run:
// `npm test` empties dist/ first; a focused run after a plain build skips it and says so.
const stale = files.filter((f) => !existsSync(join(root, relative(join(root, 'dist'), f)).replace(/\.js$/, '.ts')));
if (stale.length > 0) {
  console.error(`skipping ${stale.length} compiled test(s) without a source file (run "npm run clean && npm run build"):`);
  for (const f of stale) console.error(`  ${relative(root, f)}`);
  files = files.filter((f) => !stale.includes(f));
}
const filters = process.argv.slice(2);
if (filters.length > 0) files = files.filter((f) => filters.some((flt) => relative(testRoot, f).includes(flt)));
if (files.length === 0) {
  console.error('no test files matched');
  process.exit(1);
}

const concurrency = Number(process.env.BERTH_TEST_CONCURRENCY ?? 2);
// The AWS SDK warns once per process that future releases need Node 22; Berth runs on 20 and later.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

// Files that move gigabytes run alone, after the others: beside other tests they would starve
// the shared Ceph cluster and the disk, and measure nothing useful.
const HEAVY = /large-blob/;
const phases = [files.filter((f) => !HEAVY.test(f)), files.filter((f) => HEAVY.test(f))].filter((p) => p.length > 0);

let failed = 0;
let passed = 0;
const stopCeph = () => spawnSync('bash', [join(root, 'scripts', 'ceph.sh'), 'stop', '--if-started-by', 'tests'], { stdio: 'ignore' });
for (const [i, phase] of phases.entries()) {
  // Ceph's in-memory OSD frees deleted data only lazily: the heavy phase gets a fresh cluster.
  if (i > 0) stopCeph();
  await new Promise((resolve) => {
    const stream = run({ files: phase, concurrency: i === 0 ? concurrency : 1, timeout: 10 * 60 * 1000 });
    stream.on('test:fail', (data) => {
      if (data.details?.type !== 'suite') failed++;
    });
    stream.on('test:pass', (data) => {
      if (data.details?.type !== 'suite' && !data.skip && !data.todo) passed++;
    });
    stream.compose(spec).pipe(process.stdout, { end: false });
    stream.on('end', resolve);
  });
}
// Stop the Ceph cluster the S3 tests started (a developer's own cluster is left alone).
stopCeph();
// node:test prints its own summary per phase; this plain line is for tools that read only the last lines.
process.stdout.write(`\n${passed} passed, ${failed} failed\n`);
process.exitCode = failed > 0 ? 1 : 0;
