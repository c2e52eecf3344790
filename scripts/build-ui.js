#!/usr/bin/env node
// Builds the web UI into dist/ui after `tsc -p ui/tsconfig.json` compiled ui/src to dist/ui-build:
// every file gets a content hash in its name (app.3f2a9c1b7d.js, served as immutable), the modules'
// imports are rewritten to the hashed names (leaves first, so a change anywhere renames every module
// that imports it), and index.html (served no-cache) points at them. No bundler: the browser loads
// the few ES modules itself. Prints the size of what a first visit downloads.
import { createHash } from 'node:crypto';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

const root = fileURLToPath(new URL('..', import.meta.url));
const compiled = join(root, 'dist', 'ui-build');
const out = join(root, 'dist', 'ui');
const IMPORT = /(\bfrom\s*|\bimport\s*\(?\s*)'\.\/([a-z0-9-]+)\.js'/g;

const hashOf = (data) => createHash('sha256').update(data).digest('hex').slice(0, 10);
const hashed = (name, data) => name.replace(/\.([a-z]+)$/, `.${hashOf(data)}.$1`);

rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, 'assets'), { recursive: true });
const files = new Map(); // source name -> { name, data }

const sources = new Map(readdirSync(compiled).filter((f) => f.endsWith('.js')).map((f) => [f.slice(0, -3), readFileSync(join(compiled, f), 'utf8')]));
function emitModule(base, path = []) {
  if (files.has(`${base}.js`)) return files.get(`${base}.js`).name;
  if (path.includes(base)) throw new Error(`build-ui: import cycle ${[...path, base].join(' -> ')}`);
  const text = sources.get(base);
  if (text === undefined) throw new Error(`build-ui: ${path.at(-1)} imports ./${base}.js, which was not compiled`);
  const code = text.replace(IMPORT, (_m, lead, dep) => `${lead}'./${emitModule(dep, [...path, base])}'`).replace(/\n\/\/# sourceMappingURL=.*$/, '\n');
  const name = hashed(`${base}.js`, code);
  files.set(`${base}.js`, { name, data: Buffer.from(code) });
  return name;
}
emitModule('main');
for (const asset of ['style.css', 'icon.svg']) {
  const data = readFileSync(join(root, 'ui', asset));
  files.set(asset, { name: hashed(asset, data), data });
}
let html = readFileSync(join(root, 'ui', 'index.html'), 'utf8');
for (const [source, { name, data }] of files) {
  writeFileSync(join(out, 'assets', name), data);
  html = html.replaceAll(`%BERTH_UI_BASE%/assets/${source}"`, `%BERTH_UI_BASE%/assets/${name}"`);
}
writeFileSync(join(out, 'index.html'), html);

const all = [Buffer.from(html), ...[...files.values()].map((f) => f.data)];
const raw = all.reduce((n, b) => n + b.byteLength, 0);
const gz = all.reduce((n, b) => n + gzipSync(b, { level: 9 }).byteLength, 0);
const js = [...files.values()].filter((f) => f.name.endsWith('.js')).reduce((n, f) => n + f.data.byteLength, 0);
console.log(`build-ui: dist/ui: ${files.size + 1} files, ${(raw / 1024).toFixed(1)} KiB (${(js / 1024).toFixed(1)} KiB of JavaScript), ${(gz / 1024).toFixed(1)} KiB gzipped`);
