/**
 * The tutorial our users follow with Distribution (shared/seed), step by step against Berth:
 * configure with REGISTRY_* variables, a self-signed certificate made with the tutorial's openssl
 * command, an htpasswd file made with `berth htpasswd -Bbn admin password`, log in, push, pull.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'node:https';
import { readFileSync } from 'node:fs';
import { freePort } from '../helpers/ports.js';
import { startServer, type ServerHandle } from '../helpers/processes.js';
import { repoRoot } from '../helpers/registries.js';
import { makeSelfSigned } from '../helpers/certs.js';
import { buildImageLayout, verifyLayoutBlobs } from '../helpers/images.js';
import { skopeo } from '../helpers/skopeo.js';

const BERTH = join(repoRoot, 'bin', 'berth.js');

function curlInsecure(url: string): { status: number; stderr: string } {
  const res = spawnSync('curl', ['-k', '-s', '-o', '/dev/null', '-w', '%{http_code}', url], { encoding: 'utf8', timeout: 10_000 });
  return { status: Number(res.stdout), stderr: res.stderr };
}

describe('the seed tutorial, step by step', { timeout: 180_000 }, () => {
  let root: string;
  before(() => {
    root = mkdtempSync(join(tmpdir(), 'berth-seed-'));
    mkdirSync(join(root, 'certs'));
    mkdirSync(join(root, 'auth'));
  });
  after(() => {
    rmSync(root, { recursive: true, force: true });
  });

  it('step 1: configure with REGISTRY_LOG_LEVEL=debug and REGISTRY_HTTP_SECRET; the logs show debug lines', async () => {
    const port = await freePort();
    const server = await startServer({
      name: 'berth-seed-1',
      command: process.execPath,
      args: [BERTH, 'serve'],
      cwd: root,
      env: { REGISTRY_LOG_LEVEL: 'debug', REGISTRY_HTTP_SECRET: 'abcdef12345', REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(root, 'data') },
      readyUrl: `http://127.0.0.1:${port}/v2/`,
    });
    try {
      await fetch(`http://127.0.0.1:${port}/v2/`);
      // The log lines may reach the pipe a moment after the socket accepts connections: poll, bounded.
      for (const deadline = Date.now() + 30_000; !/listening on/.test(server.output()) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
      const out = server.output();
      assert.match(out, /level=debug/);
      assert.match(out, /level=info msg="listening on 127\.0\.0\.1:\d+"/);
      assert.ok(!out.includes('No HTTP secret provided'), 'the secret from the environment is used');
    } finally {
      await server.stop();
    }
  });

  let server: ServerHandle | undefined;
  let port = 0;
  let cert = '';

  it('steps 2-3: a self-signed certificate from the tutorial\'s openssl command; curl -k https:// answers 200', async () => {
    ({ cert } = makeSelfSigned(join(root, 'certs')));
    port = await freePort();
    const key = join(root, 'certs', 'domain.key');
    const tlsServer = await startServer({
      name: 'berth-seed-tls',
      command: process.execPath,
      args: [BERTH, 'serve'],
      cwd: root,
      env: { REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`, REGISTRY_HTTP_TLS_CERTIFICATE: cert, REGISTRY_HTTP_TLS_KEY: key, REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(root, 'data') },
      readyUrl: `https://127.0.0.1:${port}/`,
      ready: async () => curlInsecure(`https://localhost:${port}/`).status === 200,
    });
    try {
      assert.equal(curlInsecure(`https://localhost:${port}/`).status, 200);
      // The log line may reach the pipe a moment after the socket accepts connections.
      for (const deadline = Date.now() + 30_000; !/listening on/.test(tlsServer.output()) && Date.now() < deadline; ) await new Promise((r) => setTimeout(r, 20));
      assert.match(tlsServer.output(), /listening on 127\.0\.0\.1:\d+, tls/);
      assert.match(tlsServer.output(), /No HTTP secret provided - generated random secret/);
    } finally {
      await tlsServer.stop();
    }
  });

  it('step 4: berth htpasswd -Bbn admin password > auth/htpasswd, which Apache htpasswd verifies', () => {
    const line = execFileSync(process.execPath, [BERTH, 'htpasswd', '-Bbn', 'admin', 'password'], { encoding: 'utf8' });
    assert.match(line, /^admin:\$2y\$/);
    writeFileSync(join(root, 'auth', 'htpasswd'), line);
    const verify = spawnSync('htpasswd', ['-vb', join(root, 'auth', 'htpasswd'), 'admin', 'password'], { encoding: 'utf8' });
    assert.equal(verify.status, 0, verify.stderr);
  });

  it('step 5: TLS + htpasswd from REGISTRY_AUTH*; login, push and pull work with credentials and fail without', async () => {
    port = await freePort();
    const key = join(root, 'certs', 'domain.key');
    const ca = readFileSync(cert);
    server = await startServer({
      name: 'berth-seed-auth',
      command: process.execPath,
      args: [BERTH, 'serve'],
      cwd: root,
      env: {
        REGISTRY_HTTP_ADDR: `127.0.0.1:${port}`,
        REGISTRY_AUTH: 'htpasswd',
        REGISTRY_AUTH_HTPASSWD_PATH: join(root, 'auth', 'htpasswd'),
        REGISTRY_AUTH_HTPASSWD_REALM: 'Registry Realm',
        REGISTRY_HTTP_TLS_CERTIFICATE: cert,
        REGISTRY_HTTP_TLS_KEY: key,
        REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY: join(root, 'data'),
      },
      readyUrl: `https://127.0.0.1:${port}/`,
      ready: () =>
        new Promise((resolve) => {
          const req = request(`https://localhost:${port}/v2/`, { ca }, (res) => {
            res.resume();
            resolve(res.statusCode === 401);
          });
          req.on('error', () => resolve(false));
          req.end();
        }),
    });
    // README step 4, verbatim: `mkdir -p trust && cp certs/domain.crt trust/ca.crt`.
    const certDir = join(root, 'trust');
    mkdirSync(certDir, { recursive: true });
    copyFileSync(cert, join(certDir, 'ca.crt'));
    const authFile = join(root, 'auth.json');
    const host = `localhost:${port}`;

    // The trap README step 4 warns about: certs/ holds domain.key, so skopeo wants a client certificate.
    const keyFolder = spawnSync('skopeo', ['login', '--authfile', authFile, '--cert-dir', join(root, 'certs'), '-u', 'admin', '-p', 'password', host], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(keyFolder.status, 0);
    assert.match(keyFolder.stderr, /missing client certificate domain\.cert for key domain\.key/);

    // Without trusting the certificate: x509 error, as the tutorial shows.
    const untrusted = spawnSync('skopeo', ['login', '--authfile', authFile, '-u', 'admin', '-p', 'password', host], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(untrusted.status, 0);
    assert.match(untrusted.stderr, /certificate|x509/);

    // A wrong password is refused; the right one logs in.
    const wrong = spawnSync('skopeo', ['login', '--authfile', authFile, '--cert-dir', certDir, '-u', 'admin', '-p', 'nope', host], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(wrong.status, 0);
    const login = spawnSync('skopeo', ['login', '--authfile', authFile, '--cert-dir', certDir, '-u', 'admin', '-p', 'password', host], { encoding: 'utf8', timeout: 30_000 });
    assert.equal(login.status, 0, login.stderr);
    assert.match(login.stdout, /Login Succeeded/);

    // Push and pull with the stored login.
    const layout = await buildImageLayout(join(root, 'layout'), { layers: 2 });
    await skopeo(['copy', '--authfile', authFile, '--dest-cert-dir', certDir, `oci:${layout.layoutDir}:${layout.ref}`, `docker://${host}/ubuntu:latest`]);
    const pulled = join(root, 'pulled');
    await skopeo(['copy', '--authfile', authFile, '--src-cert-dir', certDir, `docker://${host}/ubuntu:latest`, `oci:${pulled}:latest`]);
    await verifyLayoutBlobs(pulled);
    const raw = await skopeo(['inspect', '--raw', '--authfile', authFile, '--cert-dir', certDir, `docker://${host}/ubuntu:latest`]);
    assert.ok(raw.includes(layout.layers[0]?.digest ?? 'missing'));

    // Without credentials the pull fails.
    const anonymous = spawnSync('skopeo', ['--insecure-policy', 'inspect', '--authfile', join(root, 'none.json'), '--cert-dir', certDir, `docker://${host}/ubuntu:latest`], { encoding: 'utf8', timeout: 30_000 });
    assert.notEqual(anonymous.status, 0);
    assert.match(anonymous.stderr, /unauthorized|authentication required/i);
    await server.stop();
  });
});
