/**
 * `http.workers: 2`: one primary and two registry processes behind one socket. Connections are
 * dealt round-robin to the workers, so fresh connections reach both: an upload continues across
 * workers (the primary's generated secret is shared), a new repository is in every worker's
 * catalog at once (and a deleted one leaves every worker's at once), the debug server counts every worker's requests, a killed worker is replaced,
 * and SIGTERM to the primary stops them all.
 */
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { Agent, request } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, before, describe, it } from 'node:test';
import { stringify } from 'yaml';

import { buildImageLayout } from '../helpers/images.js';
import { freePort } from '../helpers/ports.js';
import { startBerth, type RegistryHandle } from '../helpers/registries.js';
import { copyFromRegistry, copyToRegistry } from '../helpers/skopeo.js';

interface Reply {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

/**
 * One request on a connection of its own (no keep-alive pool), so that it may reach any worker;
 * or, with `agent`, on that agent's connections.
 */
function fresh(url: string, method = 'GET', body?: Buffer, headers: Record<string, string> = {}, agent?: Agent): Promise<Reply> {
  const connection = agent === undefined ? { connection: 'close' } : {};
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: agent ?? false, headers: { ...connection, ...headers } }, (res) => {
      const parts: Buffer[] = [];
      res.on('data', (c: Buffer) => parts.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }));
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

/** The pids whose parent is `pid` (from /proc: procps is not always installed). */
function childrenOf(pid: number): number[] {
  const out: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Fields after the command (in parentheses): state, ppid, ...
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === pid) out.push(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return out.sort((a, b) => a - b);
}

async function waitFor<T>(what: string, probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(100);
  }
}

describe('http.workers: 2', { timeout: 5 * 60_000 }, () => {
  let work = '';
  let berth: RegistryHandle | undefined;
  let base = '';
  let debugBase = '';

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-e2e-workers-'));
    const port = await freePort();
    const debugPort = await freePort();
    base = `http://127.0.0.1:${port}`;
    debugBase = `http://127.0.0.1:${debugPort}`;
    berth = await startBerth({
      port,
      // No http.secret: the primary generates one for its workers.
      configYaml: stringify({
        version: 0.1,
        log: { level: 'info', accesslog: { disabled: true } },
        storage: { filesystem: { rootdirectory: join(work, 'data') }, delete: { enabled: true } },
        http: { addr: `127.0.0.1:${port}`, workers: 2, debug: { addr: `127.0.0.1:${debugPort}`, prometheus: { enabled: true } } },
      }),
    });
    await waitFor('two workers', () => (childrenOf(berth?.pid ?? 0).length === 2 ? true : undefined));
  });

  after(async () => {
    await berth?.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  it('continues an upload across workers with the secret the primary generated', async () => {
    const data = randomBytes(300_000);
    const digest = `sha256:${createHash('sha256').update(data).digest('hex')}`;
    // Each step on a new connection: round-robin sends consecutive ones to different workers.
    const started = await fresh(`${base}/v2/workers/upload/blobs/uploads/`, 'POST');
    assert.equal(started.status, 202);
    let location = new URL(String(started.headers['location']), base).toString();
    for (const [start, end] of [
      [0, 99_999],
      [100_000, 199_999],
      [200_000, 299_999],
    ] as const) {
      const patched = await fresh(location, 'PATCH', data.subarray(start, end + 1), { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end}` });
      assert.equal(patched.status, 202, patched.body.toString());
      location = new URL(String(patched.headers['location']), base).toString();
    }
    const put = await fresh(`${location}${location.includes('?') ? '&' : '?'}digest=${digest}`, 'PUT');
    assert.equal(put.status, 201, put.body.toString());
    const got = await fresh(`${base}/v2/workers/upload/blobs/${digest}`);
    assert.ok(got.body.equals(data));
  });

  it('puts a new repository in every worker’s catalog at once', async () => {
    // Build both workers' catalog indexes first, so neither can learn of the push by a rebuild.
    for (let i = 0; i < 4; i++) assert.equal((await fresh(`${base}/v2/_catalog`)).status, 200);
    // The whole push on one kept-alive connection, so one worker alone sees it.
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    try {
      const config = Buffer.from('{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}');
      const configDigest = `sha256:${createHash('sha256').update(config).digest('hex')}`;
      const blob = await fresh(`${base}/v2/workers/relayed/blobs/uploads/?digest=${configDigest}`, 'POST', config, { 'content-type': 'application/octet-stream' }, agent);
      assert.equal(blob.status, 201);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: 'application/vnd.oci.image.manifest.v1+json',
          config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.length },
          layers: [],
        }),
      );
      const put = await fresh(`${base}/v2/workers/relayed/manifests/v1`, 'PUT', manifest, { 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, agent);
      assert.equal(put.status, 201);
    } finally {
      agent.destroy();
    }
    for (let i = 0; i < 6; i++) {
      const catalog = JSON.parse((await fresh(`${base}/v2/_catalog`)).body.toString('utf8')) as { repositories: string[] };
      assert.ok(catalog.repositories.includes('workers/relayed'), `catalog request ${i} misses the new repository: ${JSON.stringify(catalog)}`);
    }
    // And through a real client.
    const layout = await buildImageLayout(join(work, 'layout'), { layers: 2, layerSize: 100_000 });
    await copyToRegistry(layout.layoutDir, `127.0.0.1:${new URL(base).port}/workers/fresh:v1`);
  });

  it('drops a repository deleted through one worker from every worker’s catalog at once', async () => {
    const deleted = await fresh(`${base}/berth/v1/repositories/workers/relayed`, 'DELETE');
    assert.equal(deleted.status, 202, deleted.body.toString());
    for (let i = 0; i < 6; i++) {
      const catalog = JSON.parse((await fresh(`${base}/v2/_catalog`)).body.toString('utf8')) as { repositories: string[] };
      assert.ok(!catalog.repositories.includes('workers/relayed'), `catalog request ${i} still lists the deleted repository: ${JSON.stringify(catalog)}`);
      assert.ok(catalog.repositories.includes('workers/fresh'));
    }
  });

  it('reports every worker’s requests in one /metrics', async () => {
    const before = await catalogRequests();
    for (let i = 0; i < 10; i++) await fresh(`${base}/v2/_catalog`);
    assert.equal((await catalogRequests()) - before, 10);
  });

  async function catalogRequests(): Promise<number> {
    const text = (await fresh(`${debugBase}/metrics`)).body.toString('utf8');
    const line = text.split('\n').find((l) => l.startsWith('berth_http_requests_total{route="catalog",method="GET",status="200"}'));
    return line === undefined ? 0 : Number(line.split(' ').pop());
  }

  it('replaces a worker that dies, and keeps serving meanwhile', async () => {
    const primary = berth?.pid ?? 0;
    const [victim, survivor] = childrenOf(primary);
    assert.ok(victim !== undefined && survivor !== undefined);
    process.kill(victim, 'SIGKILL');
    // Once the primary has seen the exit, the survivor takes every new connection. (A connection
    // the primary handed to the worker in the instant it died is lost with it: Node's round-robin
    // hand-off has no recovery for a worker that dies before taking it.)
    await waitFor('the primary to see the exit', () => (/worker exited unexpectedly/.test(berth?.output() ?? '') ? true : undefined));
    for (let i = 0; i < 4; i++) assert.equal((await fresh(`${base}/v2/`)).status, 200, 'the other worker serves meanwhile');
    const replaced = await waitFor('a replacement worker', () => {
      const now = childrenOf(primary);
      return now.length === 2 && !now.includes(victim) ? now : undefined;
    });
    assert.ok(replaced.includes(survivor));
    await copyFromRegistry(`127.0.0.1:${new URL(base).port}/workers/fresh:v1`, join(work, 'pulled'));
  });

  it('stops every worker on SIGTERM to the primary', async () => {
    const primary = berth?.pid ?? 0;
    const workers = childrenOf(primary);
    assert.equal(workers.length, 2);
    const code = await berth?.stop('SIGTERM', 20_000);
    assert.equal(code, 0);
    await waitFor('the workers to exit', () => (workers.every((pid) => !existsPid(pid)) ? true : undefined));
  });
});

function existsPid(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}
