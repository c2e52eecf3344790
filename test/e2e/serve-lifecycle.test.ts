/**
 * `berth serve` as newcomers start it: under a wrapper (`npm start`, `npx berth serve`) that a service
 * manager stops with SIGTERM, and with a mistyped REGISTRY_* variable.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { repoRoot } from '../helpers/registries.js';

const BERTH = join(repoRoot, 'bin', 'berth.js');

/** Polls `check` until it holds, up to a generous deadline. */
async function until(what: string, check: () => boolean | Promise<boolean>, deadlineMs = 30_000): Promise<void> {
  const started = Date.now();
  while (!(await check())) {
    if (Date.now() - started > deadlineMs) throw new Error(`${what}: not within ${deadlineMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

describe('berth serve under a wrapper', { timeout: 120_000 }, () => {
  it('stops when the wrapper that started it exits on SIGTERM without passing it on (npm start under systemd)', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-wrapper-'));
    const port = await freePort();
    // A wrapper like npm's: starts the server, and on SIGTERM exits at once, leaving its child behind.
    const wrapperCode = `
      const { spawn } = require('node:child_process');
      const child = spawn(process.execPath, [${JSON.stringify(BERTH)}, 'serve'], { stdio: ['ignore', 'inherit', 'inherit'] });
      console.log('child ' + child.pid);
      process.on('SIGTERM', () => process.exit(143));
      setInterval(() => {}, 1000);
    `;
    const wrapper = spawn(process.execPath, ['-e', wrapperCode], {
      cwd: dir,
      env: { ...process.env, REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(dir, 'data'), REGISTRY_HTTP_SECRET: 's' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    wrapper.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    wrapper.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    try {
      await until('the server answers', async () => (await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status, () => 0)) === 200);
      const childPid = Number(/child (\d+)/.exec(out)?.[1]);
      assert.ok(childPid > 0 && alive(childPid));
      wrapper.kill('SIGTERM');
      await until('the orphaned server exits', () => !alive(childPid));
      assert.equal(await fetch(`http://127.0.0.1:${port}/v2/`).then((r) => r.status, () => 0), 0, 'nothing listens any more');
      assert.match(out, /shutting down/);
    } finally {
      wrapper.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('warns about a REGISTRY_* variable that names no configuration key, and keeps Kubernetes service variables quiet', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'berth-env-typo-'));
    const port = await freePort();
    const server = spawn(process.execPath, [BERTH, 'serve'], {
      cwd: dir,
      env: { ...process.env, REGISTRY_STORGE: 'inmemory', REGISTRY_SERVICE_HOST: '10.0.0.1', REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`, REGISTRY_HTTP_SECRET: 's' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    server.stdout.setEncoding('utf8').on('data', (c: string) => (out += c));
    server.stderr.setEncoding('utf8').on('data', (c: string) => (out += c));
    try {
      await until('the warning is logged', () => out.includes('Ignoring unrecognized environment variable REGISTRY_STORGE'));
      assert.match(out, /level=warning msg="Ignoring unrecognized environment variable REGISTRY_STORGE/);
      assert.match(out, /using the built-in default configuration/);
      assert.match(out, /storing data under .*\/data \(filesystem driver\)/);
      assert.doesNotMatch(out, /REGISTRY_SERVICE_HOST/);
    } finally {
      server.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
