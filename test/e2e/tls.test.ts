import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:https';
import { connect as http2Connect } from 'node:http2';
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { copyFileSync, mkdirSync, readFileSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { freePort } from '../helpers/ports.js';
import { startBerth, type RegistryHandle } from '../helpers/registries.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';
import { buildImageLayout } from '../helpers/images.js';
import { skopeo } from '../helpers/skopeo.js';

interface HttpsResult {
  status?: number;
  error?: string;
}

function httpsGet(url: string, options: { ca?: Buffer; cert?: Buffer; key?: Buffer; maxVersion?: 'TLSv1.1' | 'TLSv1.2' }): Promise<HttpsResult> {
  return new Promise((resolve) => {
    const req = request(url, { ...options, servername: 'localhost', timeout: 5000 }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end();
  });
}

function tlsConfig(port: number, pki: TestPki, extra = ''): string {
  return `version: 0.1
log:
  level: warn
storage:
  inmemory: {}
http:
  addr: 127.0.0.1:${port}
  secret: tls-test
  tls:
    certificate: ${pki.serverCert}
    key: ${pki.serverKey}
${extra}`;
}

describe('TLS', { timeout: 120_000 }, () => {
  let pki: TestPki;
  before(() => {
    pki = makeTestPki();
  });
  after(() => {
    rmSync(pki.dir, { recursive: true, force: true });
  });

  async function startTls(extra = ''): Promise<RegistryHandle & { httpsUrl: string }> {
    const port = await freePort();
    // Readiness is polled over plain HTTP by the helper; here we poll over TLS ourselves.
    const ca = readFileSync(pki.caCert);
    const clientAuth = extra.includes('clientcas') ? { cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) } : {};
    const berth = await startBerth({
      port,
      configYaml: tlsConfig(port, pki, extra),
      ready: async () => (await httpsGet(`https://127.0.0.1:${port}/v2/`, { ca, ...clientAuth })).status === 200,
    });
    return { ...berth, httpsUrl: `https://127.0.0.1:${port}` };
  }

  describe('server certificate', () => {
    let berth: RegistryHandle & { httpsUrl: string };
    before(async () => {
      berth = await startTls();
    });
    after(async () => {
      await berth.stop();
    });

    it('a client without the CA bundle is rejected; one with it gets in', async () => {
      const without = await httpsGet(`${berth.httpsUrl}/v2/`, {});
      assert.ok(without.error !== undefined, 'an untrusted certificate must fail verification');
      assert.match(without.error, /CERT|SELF_SIGNED|UNABLE/);
      const withCa = await httpsGet(`${berth.httpsUrl}/v2/`, { ca: readFileSync(pki.caCert) });
      assert.equal(withCa.status, 200);
    });

    it('a TLS 1.1 client is refused; TLS 1.2 works', () => {
      const s11 = spawnSync('openssl', ['s_client', '-connect', berth.host, '-tls1_1', '-cipher', 'DEFAULT@SECLEVEL=0'], { input: '', encoding: 'utf8', timeout: 10_000 });
      assert.notEqual(s11.status, 0, 'TLS 1.1 handshake must fail');
      const s12 = spawnSync('openssl', ['s_client', '-connect', berth.host, '-tls1_2', '-CAfile', pki.caCert], { input: '', encoding: 'utf8', timeout: 10_000 });
      assert.equal(s12.status, 0, s12.stderr);
      assert.match(s12.stdout, /Protocol\s*:\s*TLSv1\.2/);
    });

    it('speaks HTTP/2 to clients that ask for it', async () => {
      const session = http2Connect(berth.httpsUrl, { ca: readFileSync(pki.caCert), servername: 'localhost' });
      try {
        const status = await new Promise<number>((resolve, reject) => {
          const stream = session.request({ ':path': '/v2/', ':method': 'GET' });
          stream.on('response', (headers) => resolve(Number(headers[':status'])));
          stream.on('error', reject);
          stream.end();
        });
        assert.equal(status, 200);
        assert.equal(session.alpnProtocol, 'h2');
      } finally {
        session.close();
      }
    });

    it('serves a multi-MiB blob over HTTP/2, whole (to a slow reader) and by range, byte for byte', async () => {
      const blob = randomBytes(5 * 1024 * 1024 + 123);
      const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
      const session = http2Connect(berth.httpsUrl, { ca: readFileSync(pki.caCert), servername: 'localhost' });
      const exchange = (headers: Record<string, string>, body?: Buffer, slow = false): Promise<{ status: number; body: Buffer }> =>
        new Promise((resolve, reject) => {
          const stream = session.request(headers);
          const parts: Buffer[] = [];
          let status = 0;
          stream.on('response', (h) => {
            status = Number(h[':status']);
            if (slow) {
              // Let the server fill the flow-control window and wait for it to open again. The bytes are
              // checked whatever happened in these 300 ms: a slow server only tests the stall less, never fails it.
              stream.pause();
              setTimeout(() => stream.resume(), 300);
            }
          });
          stream.on('data', (chunk: Buffer) => parts.push(chunk));
          stream.on('end', () => resolve({ status, body: Buffer.concat(parts) }));
          stream.on('error', reject);
          stream.end(body);
        });
      try {
        const pushed = await exchange({ ':method': 'POST', ':path': `/v2/h2/blob/blobs/uploads/?digest=${digest}`, 'content-type': 'application/octet-stream' }, blob);
        assert.equal(pushed.status, 201);
        const whole = await exchange({ ':method': 'GET', ':path': `/v2/h2/blob/blobs/${digest}` }, undefined, true);
        assert.equal(whole.status, 200);
        assert.ok(whole.body.equals(blob), 'the whole blob arrives intact');
        const start = 1024 * 1024 - 10;
        const end = 3 * 1024 * 1024 + 5;
        const part = await exchange({ ':method': 'GET', ':path': `/v2/h2/blob/blobs/${digest}`, range: `bytes=${start}-${end}` });
        assert.equal(part.status, 206);
        assert.ok(part.body.equals(blob.subarray(start, end + 1)), 'the range arrives intact');
      } finally {
        session.close();
      }
    });

    it('skopeo pushes and pulls over TLS trusting the CA (HTTP/2 through Go)', async () => {
      const certDir = join(pki.dir, 'skopeo-certs');
      mkdirSync(certDir, { recursive: true });
      copyFileSync(pki.caCert, join(certDir, 'ca.crt'));
      const layout = await buildImageLayout(join(pki.dir, 'layout'), { layers: 2, layerSize: 200_000 });
      await skopeo(['copy', '--dest-cert-dir', certDir, `oci:${layout.layoutDir}:${layout.ref}`, `docker://localhost:${berth.host.split(':')[1]}/tls/image:v1`]);
      const raw = await skopeo(['inspect', '--raw', '--cert-dir', certDir, `docker://localhost:${berth.host.split(':')[1]}/tls/image:v1`]);
      assert.match(raw, /"layers"/);
      assert.ok(raw.includes(layout.layers[0]?.digest ?? 'missing'));
      const refused = spawnSync('skopeo', ['--insecure-policy', 'inspect', '--raw', `docker://localhost:${berth.host.split(':')[1]}/tls/image:v1`], { encoding: 'utf8', timeout: 30_000 });
      assert.notEqual(refused.status, 0, 'without the CA skopeo must refuse the certificate');
      assert.match(refused.stderr, /certificate/);
    });
  });

  describe('mutual TLS (http.tls.clientcas)', () => {
    let berth: RegistryHandle & { httpsUrl: string };
    before(async () => {
      berth = await startTls(`    clientcas:\n      - ${pki.clientCaCert}\n`);
    });
    after(async () => {
      await berth.stop();
    });
    it('a client certificate signed by a client CA gets in; none, or one from another CA, is refused', async () => {
      const ca = readFileSync(pki.caCert);
      const good = await httpsGet(`${berth.httpsUrl}/v2/`, { ca, cert: readFileSync(pki.clientCert), key: readFileSync(pki.clientKey) });
      assert.equal(good.status, 200);
      const none = await httpsGet(`${berth.httpsUrl}/v2/`, { ca });
      assert.equal(none.status, undefined, 'no client certificate must not get a response');
      assert.ok(none.error);
      // The server's own certificate is not from the client CA.
      const foreign = await httpsGet(`${berth.httpsUrl}/v2/`, { ca, cert: readFileSync(pki.serverCert), key: readFileSync(pki.serverKey) });
      assert.equal(foreign.status, undefined, 'a certificate from another CA must be refused');
    });
  });

  describe('certificate rotation', () => {
    it('serves a replaced certificate without a restart', async () => {
      const port = await freePort();
      const dir = join(pki.dir, 'rotate');
      mkdirSync(dir, { recursive: true });
      const cert = join(dir, 'tls.crt');
      const key = join(dir, 'tls.key');
      copyFileSync(pki.serverCert, cert);
      copyFileSync(pki.serverKey, key);
      const ca = readFileSync(pki.caCert);
      const config = `version: 0.1\nlog:\n  level: info\nstorage:\n  inmemory: {}\nhttp:\n  addr: 127.0.0.1:${port}\n  secret: s\n  tls:\n    certificate: ${cert}\n    key: ${key}\n`;
      const berth = await startBerth({ port, configYaml: config, ready: async () => (await httpsGet(`https://127.0.0.1:${port}/v2/`, { ca })).status === 200 });
      try {
        // A second PKI: its CA is not trusted until the files are swapped.
        const next = makeTestPki();
        const nextCa = readFileSync(next.caCert);
        assert.ok((await httpsGet(`https://127.0.0.1:${port}/v2/`, { ca: nextCa })).error, 'the new CA does not verify the old certificate');
        copyFileSync(next.serverKey, key);
        copyFileSync(next.serverCert, cert);
        const deadline = Date.now() + 60_000; // a bound on the poll (the reload is checked every 2 s)
        let status: number | undefined;
        while (Date.now() < deadline) {
          status = (await httpsGet(`https://127.0.0.1:${port}/v2/`, { ca: nextCa })).status;
          if (status === 200) break;
          await new Promise((r) => setTimeout(r, 250));
        }
        assert.equal(status, 200, 'the rotated certificate is served');
        assert.match(berth.output(), /reloaded TLS certificate/);
        rmSync(next.dir, { recursive: true, force: true });
      } finally {
        await berth.stop();
      }
    });
  });
});
