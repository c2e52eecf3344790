/**
 * A real client through the token flow: skopeo pushes, inspects and pulls against the registry app
 * (in this process, on 127.0.0.1; over plain HTTP, and over TLS with certificate verification on)
 * with a TokenAccessController, getting its tokens from the test token server with `--creds`;
 * without them, or with a wrong password, it fails. Skipped when skopeo is not installed.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import type { RequestListener } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createTokenAccessController } from '../../src/auth/token/controller.js';
import { tokenConfigSchema } from '../../src/auth/token/schema.js';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { makeTestPki } from '../helpers/certs.js';
import { buildImageLayout, readLayoutRef, verifyLayoutBlobs } from '../helpers/images.js';
import { skopeo, SkopeoError } from '../helpers/skopeo.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

function hasSkopeo(): boolean {
  try {
    execFileSync('skopeo', ['--version'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

const skip = hasSkopeo() ? false : 'skopeo is not installed';

describe('skopeo through token authentication', { skip, timeout: 300_000 }, () => {
  let issuer: TokenIssuer;
  let registry: TestRegistry;
  let work: string;
  let authfile: string;

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-token-skopeo-'));
    // An empty auth file, so no credentials stored for this user leak into the runs.
    authfile = join(work, 'auth.json');
    await writeFile(authfile, '{}');
    issuer = await startTokenIssuer({ users: { alice: 'wonderland', bob: 'builder' }, acl: (user) => (user === 'alice' ? ['pull', 'push'] : user === 'bob' ? ['pull'] : []) });
    registry = await startTestRegistry({ access: await createTokenAccessController(tokenConfigSchema.parse(issuer.config())) });
  });
  after(async () => {
    await registry?.close();
    await issuer?.close();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  const host = (): string => new URL(registry.url).host;

  it('pushes with --dest-creds, inspects and pulls with --creds; refuses without them', async () => {
    const layout = await buildImageLayout(join(work, 'src'), { layers: 2, layerSize: 16 * 1024 });
    const ref = `docker://${host()}/e2e/token:latest`;

    await skopeo(['copy', '--authfile', authfile, '--dest-tls-verify=false', '--dest-creds', 'alice:wonderland', `oci:${layout.layoutDir}:latest`, ref]);
    // skopeo asked the token server for the push scope, as alice.
    const pushes = issuer.requests.filter((r) => r.scopes.some((s) => s.includes('e2e/token') && s.includes('push')));
    assert.ok(pushes.length > 0, `no push-scoped token request in ${JSON.stringify(issuer.requests)}`);
    assert.ok(pushes.every((r) => r.user === 'alice' && r.status === 200));

    const inspected = JSON.parse(await skopeo(['inspect', '--authfile', authfile, '--tls-verify=false', '--creds', 'bob:builder', '--raw', ref])) as { layers: unknown[] };
    assert.equal(inspected.layers.length, 2);

    const dest = join(work, 'dest');
    await skopeo(['copy', '--authfile', authfile, '--src-tls-verify=false', '--src-creds', 'bob:builder', '--preserve-digests', ref, `oci:${dest}:latest`]);
    assert.equal((await readLayoutRef(dest, 'latest')).digest, layout.digest);
    assert.ok((await verifyLayoutBlobs(dest)).length >= 4);

    // No credentials: the anonymous token grants nothing, so the registry keeps refusing.
    await assert.rejects(skopeo(['inspect', '--authfile', authfile, '--tls-verify=false', '--raw', ref]), (err: unknown) => {
      assert.ok(err instanceof SkopeoError);
      assert.match(err.stderr, /unauthorized|authentication required|denied/i);
      return true;
    });
    // A wrong password: the token server refuses.
    await assert.rejects(skopeo(['inspect', '--authfile', authfile, '--tls-verify=false', '--creds', 'alice:guess', '--raw', ref]), SkopeoError);
    // bob may pull but not push.
    await assert.rejects(
      skopeo(['copy', '--authfile', authfile, '--dest-tls-verify=false', '--dest-creds', 'bob:builder', `oci:${layout.layoutDir}:latest`, `docker://${host()}/e2e/bob:latest`]),
      SkopeoError,
    );
  });

  it('over TLS (verified with --dest-cert-dir): push with --dest-creds, pull with --src-creds', async () => {
    // The same app, served over HTTPS with a certificate for 127.0.0.1 issued by a test CA.
    const pki = makeTestPki();
    const certDir = join(work, 'certs.d');
    await mkdir(certDir);
    await copyFile(pki.caCert, join(certDir, 'ca.crt'));
    const handler = registry.server.listeners('request')[0] as RequestListener;
    const server: HttpsServer = createHttpsServer({ cert: await readFile(pki.serverCert), key: await readFile(pki.serverKey) }, handler);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      const tlsHost = `127.0.0.1:${(server.address() as AddressInfo).port}`;
      const layout = await buildImageLayout(join(work, 'tls-src'), { layers: 1, layerSize: 8 * 1024 });
      const ref = `docker://${tlsHost}/e2e/tls:v1`;
      await skopeo(['copy', '--authfile', authfile, '--dest-cert-dir', certDir, '--dest-creds', 'alice:wonderland', `oci:${layout.layoutDir}:latest`, ref]);
      const dest = join(work, 'tls-dest');
      await skopeo(['copy', '--authfile', authfile, '--src-cert-dir', certDir, '--src-creds', 'bob:builder', '--preserve-digests', ref, `oci:${dest}:v1`]);
      assert.equal((await readLayoutRef(dest, 'v1')).digest, layout.digest);
      await assert.rejects(skopeo(['inspect', '--authfile', authfile, '--cert-dir', certDir, '--raw', ref]), SkopeoError);
    } finally {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await rm(pki.dir, { recursive: true, force: true });
    }
  });
});
