#!/usr/bin/env node
// Rewrites the reference tables of docs/configuration.md from the configuration schema's key docs
// (src/config/reference.ts). Run after a build: `npm run build && node scripts/gen-config-docs.js`.
// With --check, changes nothing and exits 1 when the file is not what the generator writes.
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
const file = `${root}docs/configuration.md`;
let renderConfigReference;
try {
  ({ renderConfigReference } = await import(`${root}dist/src/config/reference.js`));
} catch (err) {
  console.error(`cannot load dist/src/config/reference.js (run "npm run build" first): ${err.message}`);
  process.exit(2);
}
const current = readFileSync(file, 'utf8');
let next;
try {
  next = renderConfigReference(current);
} catch (err) {
  console.error(err.message);
  process.exit(1);
}
if (process.argv.includes('--check')) {
  if (next !== current) {
    console.error('docs/configuration.md is out of date: run "npm run build && node scripts/gen-config-docs.js"');
    process.exit(1);
  }
} else if (next !== current) {
  writeFileSync(file, next);
  console.log('docs/configuration.md: reference tables updated');
} else {
  console.log('docs/configuration.md: up to date');
}
