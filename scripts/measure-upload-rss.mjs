#!/usr/bin/env node
/**
 * Measures the server's resident memory (VmRSS) around concurrent blob uploads: a fresh
 * `node bin/berth.js serve` on filesystem storage in a temporary directory, a few requests, then
 * N uploads of S MiB at once (monolithic POST ?digest=, streamed), sampled every 100 ms, then
 * the RSS some seconds after the last one ended. Needs a build (npx tsc -p tsconfig.json).
 *
 *   node scripts/measure-upload-rss.mjs [--uploads 100] [--mib 100] [--settle 15] [-- extra node flags]
 *
 * Prints one JSON line: {rest, peak, after, uploads, mib, seconds, statuses}. RSS in MiB.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';

const { values, positionals } = parseArgs({
  options: { uploads: { type: 'string', default: '100' }, mib: { type: 'string', default: '100' }, settle: { type: 'string', default: '15' } },
  allowPositionals: true,
});
const uploads = Number(values.uploads);
const mib = Number(values.mib);
const settleSeconds = Number(values.settle);
// BERTH_ROOT: measure another checkout (built) with this script, e.g. to compare with main.
const root = process.env.BERTH_ROOT ?? fileURLToPath(new URL('..', import.meta.url));

const freePort = () =>
  new Promise((resolve) => {
    const s = createServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });

async function rssMiB(pid) {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)[1]) / 1024;
}

const dir = await mkdtemp(join(tmpdir(), 'berth-rss-'));
const port = await freePort();
const config = join(dir, 'config.yml');
await writeFile(config, `version: 0.1\nlog: { level: warn, accesslog: { disabled: true } }\nstorage: { filesystem: { rootdirectory: ${JSON.stringify(join(dir, 'data'))} } }\nhttp: { addr: "127.0.0.1:${port}", secret: measure${uploads > 512 ? `, maxuploads: ${uploads}` : ''} }\n`);
const server = spawn(process.execPath, [...positionals, join(root, 'bin', 'berth.js'), 'serve', config], { stdio: ['ignore', 'inherit', 'inherit'] });
const base = `http://127.0.0.1:${port}`;
try {
  for (let i = 0; ; i++) {
    if ((await fetch(`${base}/v2/`).then((r) => r.status, () => 0)) === 200) break;
    if (i > 200) throw new Error('the server did not start');
    await new Promise((r) => setTimeout(r, 50));
  }
  for (let i = 0; i < 5; i++) await (await fetch(`${base}/v2/`)).arrayBuffer();
  await new Promise((r) => setTimeout(r, 1000));
  const rest = await rssMiB(server.pid);

  const chunk = Buffer.alloc(1024 * 1024);
  for (let i = 0; i < chunk.length; i++) chunk[i] = (i * 31) & 0xff;
  const hash = createHash('sha256');
  for (let i = 0; i < mib; i++) hash.update(chunk);
  const digest = `sha256:${hash.digest('hex')}`;

  let peak = rest;
  let sampling = true;
  const sampler = (async () => {
    while (sampling) {
      peak = Math.max(peak, await rssMiB(server.pid));
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  const upload = () =>
    new Promise((resolve, reject) => {
      const req = request(`${base}/v2/measure/repo/blobs/uploads/?digest=${digest}`, {
        method: 'POST',
        headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(mib * chunk.length) },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode));
      });
      req.on('error', reject);
      let sent = 0;
      const pump = () => {
        while (sent < mib) {
          sent++;
          if (!req.write(chunk)) return void req.once('drain', pump);
        }
        req.end();
      };
      pump();
    });
  const started = Date.now();
  const statuses = {};
  for (const status of await Promise.all(Array.from({ length: uploads }, upload))) statuses[status] = (statuses[status] ?? 0) + 1;
  const seconds = (Date.now() - started) / 1000;
  await new Promise((r) => setTimeout(r, settleSeconds * 1000));
  sampling = false;
  await sampler;
  const after = await rssMiB(server.pid);
  const round = (n) => Math.round(n * 10) / 10;
  console.log(JSON.stringify({ rest: round(rest), peak: round(peak), after: round(after), uploads, mib, seconds, statuses, flags: positionals }));
} finally {
  server.kill('SIGTERM');
  await new Promise((r) => server.once('exit', r));
  await rm(dir, { recursive: true, force: true });
}
