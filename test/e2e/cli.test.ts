import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { runCommand, startServer, type CommandResult } from '../helpers/processes.js';
import { repoRoot, startBerth } from '../helpers/registries.js';
import { streamRequest } from '../helpers/streams.js';
import { pushImage } from '../helpers/oci-client.js';
import { until, uploadedBytes } from '../helpers/wait.js';

const BERTH = join(repoRoot, 'bin', 'berth.js');

/** Runs the CLI to completion (with a timeout) and returns its exit code and output. */
function runCli(args: string[], env: Record<string, string> = {}, timeoutMs = 10_000): Promise<CommandResult> {
  return runCommand(process.execPath, [BERTH, ...args], { env, cwd: repoRoot, timeoutMs });
}

describe('the berth command', { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  async function tempDir(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'berth-cli-'));
    dirs.push(d);
    return d;
  }

  it('--version and help print and exit 0; an unknown command exits 2', async () => {
    const version = await runCli(['--version']);
    assert.equal(version.code, 0);
    assert.match(version.stdout, /^berth \d+\.\d+\.\d+/);
    const help = await runCli(['help']);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /berth serve/);
    const unknown = await runCli(['frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /unknown command/);
  });

  it('a wrong key or value fails start-up with the key path and a non-zero exit', async () => {
    const dir = await tempDir();
    const config = join(dir, 'bad.yml');
    await writeFile(config, 'version: 0.1\nstorage:\n  inmemory: {}\nhttp:\n  adress: ":5000"\n');
    const res = await runCli(['serve', config]);
    assert.notEqual(res.code, 0);
    assert.match(res.stderr, /http/);
    assert.match(res.stderr, /adress/);
    const missing = await runCli(['serve', join(dir, 'nope.yml')]);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /nope\.yml/);
  });

  it('serves with only REGISTRY_* variables: inmemory storage, address, JSON logs, an access log line', async () => {
    const port = await freePort();
    const server = await startServer({
      name: 'berth-env',
      command: process.execPath,
      args: [BERTH, 'serve'],
      cwd: await tempDir(),
      env: { REGISTRY_STORAGE: 'inmemory', REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`, REGISTRY_LOG_FORMATTER: 'json', REGISTRY_LOG_LEVEL: 'debug', REGISTRY_HTTP_SECRET: 'abcdef12345' },
      readyUrl: `http://127.0.0.1:${port}/v2/`,
    });
    try {
      await pushImage(server.url, 'env/only', 'v1');
      assert.equal((await fetch(`${server.url}/v2/env/only/manifests/v1`)).status, 200);
      // The access log line is written as the response completes, and may reach the pipe a moment later.
      await until('the access log line of the manifest request', () => server.output().includes('/v2/env/only/manifests/v1'));
      const lines = server.output().trim().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>);
      assert.ok(lines.some((l) => typeof l['msg'] === 'string' && l['msg'].startsWith('listening on 127.0.0.1:')));
      const access = lines.find((l) => l['msg'] === 'response completed' && JSON.stringify(l).includes('/v2/env/only/manifests/v1'));
      assert.ok(access, 'an access log line for the manifest request');
      assert.ok(!server.output().includes('abcdef12345'), 'the secret never appears in logs');
      assert.ok(!server.output().includes('No HTTP secret provided'));
    } finally {
      await server.stop();
    }
  });

  it('with no configuration at all, stores under ./data and warns about the generated secret', async () => {
    const cwd = await tempDir();
    const port = await freePort();
    const server = await startServer({
      name: 'berth-default',
      command: process.execPath,
      args: [BERTH, 'serve'],
      cwd,
      env: { REGISTRY_HTTP_ADDR: `127.0.0.1:${port}` },
      readyUrl: `http://127.0.0.1:${port}/v2/`,
    });
    try {
      await pushImage(server.url, 'default/data', 'v1');
      assert.ok((await stat(join(cwd, 'data', 'docker', 'registry', 'v2', 'repositories', 'default', 'data', '_manifests'))).isDirectory());
      assert.match(server.output(), /level=warning msg="No HTTP secret provided/);
    } finally {
      await server.stop();
    }
  });

  it('SIGTERM lets an upload in flight finish within http.draintimeout, then exits 0', async () => {
    const dir = await tempDir();
    const port = await freePort();
    const berth = await startBerth({
      port,
      configYaml: `version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: ${dir}\nhttp:\n  addr: 127.0.0.1:${port}\n  draintimeout: 10s\n  secret: s\n`,
    });
    const started = await streamRequest(`${berth.url}/v2/drain/blobs/uploads/`, 'POST', { 'Content-Length': '0' });
    const location = new URL(String(started.headers['location']), berth.url).toString();
    const { createHash } = await import('node:crypto');
    const chunk = Buffer.alloc(1024 * 1024, 7);
    const total = 8;
    const h = createHash('sha256');
    for (let i = 0; i < total; i++) h.update(chunk);
    const digest = `sha256:${h.digest('hex')}`;
    // A slow client: one MiB every 100 ms; SIGTERM arrives in the middle.
    async function* slow(): AsyncGenerator<Buffer> {
      for (let i = 0; i < total; i++) {
        yield chunk;
        await new Promise((r) => setTimeout(r, 100));
      }
    }
    const { request } = await import('node:http');
    const upload = new Promise<number>((resolve, reject) => {
      const req = request(`${location}&digest=${digest}`, { method: 'PUT', headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(total * chunk.length) } }, (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
      });
      req.on('error', reject);
      void (async () => {
        for await (const c of slow()) req.write(c);
        req.end();
      })();
    });
    // SIGTERM once the server has stored part of the upload: in flight for certain, whatever the speed.
    await until('the first MiB of the upload to be stored', async () => (await uploadedBytes(dir, 'drain')) >= 1024 * 1024);
    const stopped = berth.stop('SIGTERM', 20_000);
    assert.equal(await upload, 201);
    assert.equal(await stopped, 0);
  });
});
