#!/usr/bin/env node
// Regenerates README.md's performance table (between the bench:begin and bench:end markers)
// from the latest committed full-run results file in bench/results/ (see bench/readme-table.ts).
// Usage: node scripts/bench-table.js [--check] [--results bench/results/FILE.json]
//   --check    write nothing; exit 1 when README.md differs from what would be generated
//   --results  use this file instead of the latest committed full run
// Exits 1, with the reason, when the results are marked noisy or the markers are missing.
// Needs the build (npm run build): it runs the compiled dist/bench/readme-table.js.
import { readFileSync, writeFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs } from 'node:util';

const root = new URL('..', import.meta.url).pathname;
let table;
try {
  table = await import(new URL('../dist/bench/readme-table.js', import.meta.url).href);
} catch (err) {
  console.error(`cannot load dist/bench/readme-table.js (run "npm run build" first): ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
}

const { values } = parseArgs({ options: { check: { type: 'boolean' }, results: { type: 'string' } }, strict: true });
const readmePath = join(root, 'README.md');
try {
  let file;
  let results;
  if (values.results !== undefined) {
    file = relative(root, join(process.cwd(), values.results));
    results = table.parseResults(JSON.parse(readFileSync(join(root, file), 'utf8')));
  } else {
    ({ file, results } = table.latestFullRun(root));
  }
  const readme = readFileSync(readmePath, 'utf8');
  const updated = table.replaceBetweenMarkers(readme, table.renderReadmeTable(results, file));
  if (values.check) {
    if (updated !== readme) {
      console.error(`README.md's performance table is not what ${file} generates: run node scripts/bench-table.js`);
      process.exit(1);
    }
    console.log(`README.md's performance table matches ${file}`);
  } else {
    writeFileSync(readmePath, updated);
    console.log(`README.md's performance table ${updated === readme ? 'already matched' : 'regenerated from'} ${file}`);
  }
} catch (err) {
  console.error(err instanceof Error ? err.message : String(err));
  process.exit(1);
}
