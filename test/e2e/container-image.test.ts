/**
 * Berth as a container image: `npm run image` (scripts/build-image.js) builds it with no image
 * registry, then the seed tutorial runs against the container with podman exactly as its users
 * run registry:2: -e REGISTRY_* settings and `podman logs`, `--entrypoint htpasswd`, TLS on 443
 * with mounted certificates, htpasswd auth, login with the CA, push, pull, stop and start keeping
 * the data. The image also publishes itself into a running Berth and comes back by digest.
 *
 * podman runs containers here with runc and explicit ulimits (shared/notes/backing-services.md).
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { repoRoot } from '../helpers/registries.js';
import { makeSelfSigned } from '../helpers/certs.js';
import { runCommand, type CommandResult } from '../helpers/processes.js';

const RUN_FLAGS = ['--runtime', 'runc', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'];

describe('the container image, through the seed tutorial with podman', { timeout: 10 * 60_000 }, () => {
  let work = '';
  let store: string[] = [];
  const containers: string[] = [];

  const must = async (command: string, args: readonly string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<CommandResult> => {
    const res = await runCommand(command, args, { timeoutMs: options.timeoutMs ?? 120_000, ...(options.stdin !== undefined ? { stdin: options.stdin } : {}) });
    assert.equal(res.code, 0, `${command} ${args.join(' ')} failed (${String(res.code)}):\n${res.stdout}\n${res.stderr}`);
    return res;
  };
  const podman = (args: readonly string[], options: { stdin?: string; timeoutMs?: number } = {}): Promise<CommandResult> => must('podman', [...store, ...args], options);
  const run = async (name: string, args: readonly string[]): Promise<string> => {
    containers.push(name);
    return (await podman(['run', ...RUN_FLAGS, '-d', '--name', name, ...args])).stdout.trim();
  };
  /** Polls until the URL answers; resolves with the milliseconds that took (bounded by the deadline). */
  const waitReady = async (url: string, extra: readonly string[] = []): Promise<number> => {
    const started = Date.now();
    for (;;) {
      const res = await runCommand('curl', ['-s', '-o', '/dev/null', '-w', '%{http_code}', ...extra, url], { timeoutMs: 10_000 });
      if (res.stdout === '200' || res.stdout === '401') return Date.now() - started;
      if (Date.now() - started > 60_000) throw new Error(`${url} not ready after 60 s (last: ${res.stdout} ${res.stderr})`);
      await new Promise((r) => setTimeout(r, 100));
    }
  };

  before(async () => {
    for (const tool of ['podman', 'skopeo', 'runc', 'curl', 'openssl', 'htpasswd']) {
      const found = await runCommand('sh', ['-c', `command -v ${tool}`], { timeoutMs: 10_000 });
      assert.equal(found.code, 0, `${tool} is required by this test (scripts/ensure-test-deps.sh installs it)`);
    }
    work = mkdtempSync(join(tmpdir(), 'berth-image-'));
    store = ['--root', join(work, 'storage'), '--runroot', join(work, 'run'), '--storage-driver', 'vfs'];
    const built = await must(process.execPath, [join(repoRoot, 'scripts', 'build-image.js'), '--out', join(work, 'berth-image.oci.tar'), '--podman-root', join(work, 'storage'), '--podman-runroot', join(work, 'run'), '--storage-driver', 'vfs'], { timeoutMs: 300_000 });
    const size = /layers ([\d.]+) MB compressed/.exec(built.stdout);
    assert.ok(size !== null, built.stdout);
    console.log(`# image: ${size[0]}`);
    assert.ok(Number(size[1]) <= 60, `the image's layers must stay within 60 MB compressed (${size[1]} MB)`);
  });

  after(async () => {
    for (const name of containers) await runCommand('podman', [...store, 'rm', '-f', '-t', '0', name], { timeoutMs: 60_000 });
    if (work !== '') rmSync(work, { recursive: true, force: true });
  });

  it('the image config matches the Containerfile: entry point, command, port, volume', async () => {
    const inspect = JSON.parse((await podman(['image', 'inspect', 'localhost/berth:latest'])).stdout) as Array<{ Config: { Entrypoint: string[]; Cmd: string[]; ExposedPorts: Record<string, unknown>; Volumes: Record<string, unknown>; Env: string[] } }>;
    const config = inspect[0]?.Config;
    assert.ok(config !== undefined);
    const containerfile = readFileSync(join(repoRoot, 'Containerfile'), 'utf8');
    const jsonLine = (instruction: string): unknown => JSON.parse(new RegExp(`^${instruction} (\\[.*\\])$`, 'm').exec(containerfile)?.[1] ?? 'null');
    assert.deepEqual(config.Entrypoint, jsonLine('ENTRYPOINT'));
    assert.deepEqual(config.Cmd, jsonLine('CMD'));
    assert.ok('5000/tcp' in config.ExposedPorts);
    assert.match(containerfile, /^EXPOSE 5000$/m);
    assert.ok('/var/lib/registry' in config.Volumes);
    for (const env of config.Env.filter((e) => !e.startsWith('PATH='))) assert.ok(containerfile.includes(env), `Containerfile sets ${env}`);
  });

  it('`--entrypoint htpasswd -Bbn admin password` prints a line Apache\'s htpasswd accepts', async () => {
    const res = await podman(['run', ...RUN_FLAGS, '--rm', '--entrypoint', 'htpasswd', 'localhost/berth', '-Bbn', 'admin', 'password']);
    mkdirSync(join(work, 'auth'));
    writeFileSync(join(work, 'auth', 'htpasswd'), res.stdout);
    assert.match(res.stdout, /^admin:\$2y\$/);
    await must('htpasswd', ['-vb', join(work, 'auth', 'htpasswd'), 'admin', 'password']);
  });

  let plainPort = 0;
  it('run -d -p 5000 with REGISTRY_LOG_LEVEL=debug and REGISTRY_HTTP_SECRET: ready within a second, debug lines in `podman logs`', async () => {
    plainPort = await freePort();
    await run('registry', ['-p', `127.0.0.1:${plainPort}:5000`, '-e', 'REGISTRY_LOG_LEVEL=debug', '-e', 'REGISTRY_HTTP_SECRET=abcdef12345', 'localhost/berth']);
    const ms = await waitReady(`http://127.0.0.1:${plainPort}/v2/`);
    console.log(`# container start to ready (podman run returned, then GET /v2/): ${ms} ms`);
    const logs = await podman(['logs', 'registry']);
    const out = logs.stdout + logs.stderr;
    assert.match(out, /level=debug/);
    assert.match(out, /listening on \[::\]:5000/);
    assert.match(out, /storing data under \/var\/lib\/registry/);
    assert.match(out, /using configuration file \/etc\/distribution\/config\.yml/);
    assert.match(out, /using inmemory blob descriptor cache/);
    assert.doesNotMatch(out, /No HTTP secret provided/);
  });

  let pushedDigest = '';
  it('Berth publishes its own image into the running container and pulls it back by digest', async () => {
    const ref = `127.0.0.1:${plainPort}/berth/berth:latest`;
    const storage = `containers-storage:[vfs@${join(work, 'storage')}+${join(work, 'run')}]localhost/berth:latest`;
    await must('skopeo', ['copy', '--quiet', '--dest-tls-verify=false', storage, `docker://${ref}`]);
    pushedDigest = (await must('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://${ref}`])).stdout.trim();
    assert.match(pushedDigest, /^sha256:[0-9a-f]{64}$/);
    const back = join(work, 'pulled');
    await must('skopeo', ['copy', '--quiet', '--src-tls-verify=false', `docker://127.0.0.1:${plainPort}/berth/berth@${pushedDigest}`, `oci:${back}:pulled`]);
    const index = JSON.parse(readFileSync(join(back, 'index.json'), 'utf8')) as { manifests: Array<{ digest: string }> };
    assert.equal(index.manifests[0]?.digest, pushedDigest);
  });

  it('`podman stop` returns within seconds (SIGTERM drains), `podman start` keeps the data', async () => {
    const started = Date.now();
    await podman(['stop', '-t', '10', 'registry']);
    const stopMs = Date.now() - started;
    console.log(`# podman stop: ${stopMs} ms`);
    assert.ok(stopMs < 8000, `stop took ${stopMs} ms: SIGTERM was not handled (podman kills after 10 s)`);
    const state = JSON.parse((await podman(['inspect', 'registry'])).stdout) as Array<{ State: { ExitCode: number } }>;
    assert.equal(state[0]?.State.ExitCode, 0, 'a graceful stop exits 0');
    await podman(['start', 'registry']);
    await waitReady(`http://127.0.0.1:${plainPort}/v2/`);
    const digest = (await must('skopeo', ['inspect', '--tls-verify=false', '--format', '{{.Digest}}', `docker://127.0.0.1:${plainPort}/berth/berth:latest`])).stdout.trim();
    assert.equal(digest, pushedDigest);
  });

  it('TLS on 443 with REGISTRY_HTTP_ADDR= and mounted certificates, htpasswd auth, podman login with the CA, push, pull', async () => {
    const certs = join(work, 'certs');
    mkdirSync(certs);
    makeSelfSigned(certs, 2048);
    // Clients trust the certificate from a folder of its own: a --cert-dir holding domain.key wants a client certificate.
    const trust = join(work, 'trust');
    mkdirSync(trust);
    writeFileSync(join(trust, 'ca.crt'), readFileSync(join(certs, 'domain.crt')));
    const port = await freePort();
    await run('registry-tls', [
      '-p', `127.0.0.1:${port}:443`,
      '-v', `${certs}:/certs`,
      '-v', `${join(work, 'auth')}:/auth`,
      '-e', 'REGISTRY_HTTP_ADDR=',
      '-e', 'REGISTRY_HTTP_TLS_CERTIFICATE=/certs/domain.crt',
      '-e', 'REGISTRY_HTTP_TLS_KEY=/certs/domain.key',
      '-e', 'REGISTRY_AUTH=htpasswd',
      '-e', 'REGISTRY_AUTH_HTPASSWD_REALM=Registry Realm',
      '-e', 'REGISTRY_AUTH_HTPASSWD_PATH=/auth/htpasswd',
      'localhost/berth',
    ]);
    await waitReady(`https://localhost:${port}/v2/`, ['--cacert', join(trust, 'ca.crt')]);
    const logs = await podman(['logs', 'registry-tls']);
    assert.match(logs.stdout + logs.stderr, /listening on \[::\]:443, tls/);
    const host = `localhost:${port}`;
    const authfile = join(work, 'auth.json');
    const refused = await runCommand('podman', [...store, 'push', '--cert-dir', trust, '--authfile', join(work, 'none.json'), 'localhost/berth:latest', `${host}/berth:tls`], { timeoutMs: 120_000 });
    assert.notEqual(refused.code, 0, 'a push without credentials is refused');
    await podman(['login', '--cert-dir', trust, '--authfile', authfile, '-u', 'admin', '--password-stdin', host], { stdin: 'password\n' });
    await podman(['push', '--quiet', '--cert-dir', trust, '--authfile', authfile, 'localhost/berth:latest', `${host}/berth:tls`], { timeoutMs: 300_000 });
    // Pulled by another podman (its own storage), as a second machine would.
    const other = ['--root', join(work, 'storage-2'), '--runroot', join(work, 'run-2'), '--storage-driver', 'vfs'];
    await must('podman', [...other, 'pull', '--quiet', '--cert-dir', trust, '--authfile', authfile, `${host}/berth:tls`], { timeoutMs: 300_000 });
    const pulled = await must('podman', [...other, 'run', ...RUN_FLAGS, '--rm', '--entrypoint', 'htpasswd', `${host}/berth:tls`, '-Bbn', 'u', 'p']);
    assert.match(pulled.stdout, /^u:\$2y\$/, 'the pulled image runs');
  });
});
