import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { readFileSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:https';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { createRegistryServer, type RegistryServer } from '../../src/http/server.js';
import type { App } from '../../src/http/app.js';
import type { TlsSettings } from '../../src/http/tls.js';
import { createLogger } from '../../src/log/logger.js';
import { makeTestPki, type TestPki } from '../helpers/certs.js';

interface Outcome {
  status?: number;
  error?: string;
}

/** One HTTPS GET over a fresh TLS connection (no agent: every call is its own handshake). */
function get(port: number, options: { ca: Buffer; cert?: Buffer; key?: Buffer }): Promise<Outcome> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/v2/', servername: 'localhost', agent: false, timeout: 10_000, ...options }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0 }));
    });
    req.on('error', (err) => resolve({ error: (err as NodeJS.ErrnoException).code ?? err.message }));
    req.end();
  });
}

const ok: App = {
  handle: (_req, res) => {
    res.statusCode = 200;
    res.end('{}');
  },
  inFlight: () => 0,
};

describe('http.tls.clientauth over real TLS sockets', () => {
  let pki: TestPki;
  let material: Record<'good' | 'foreign' | 'selfSigned' | 'expired', { cert: Buffer; key: Buffer }>;
  let ca: Buffer;
  const logs: string[] = [];
  const logger = createLogger({ level: 'info', formatter: 'json', destination: { write: (l: string) => logs.push(l) } });

  before(() => {
    pki = makeTestPki();
    const openssl = (args: string[]): void => {
      execFileSync('openssl', args, { cwd: pki.dir, stdio: ['ignore', 'ignore', 'pipe'] });
    };
    writeFileSync(join(pki.dir, 'client.ext'), 'extendedKeyUsage=clientAuth\n');
    openssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-days', '1', '-subj', '/CN=self-signed', '-keyout', 'self.key', '-out', 'self.crt']);
    // Signed by the client CA, but its notAfter is a day before its notBefore: expired.
    openssl(['req', '-newkey', 'rsa:2048', '-nodes', '-sha256', '-subj', '/CN=expired', '-keyout', 'expired.key', '-out', 'expired.csr']);
    openssl(['x509', '-req', '-in', 'expired.csr', '-CA', pki.clientCaCert, '-CAkey', join(pki.dir, 'client-ca.key'), '-CAcreateserial', '-days', '-1', '-sha256', '-extfile', 'client.ext', '-out', 'expired.crt']);
    const pair = (cert: string, key: string): { cert: Buffer; key: Buffer } => ({ cert: readFileSync(cert), key: readFileSync(key) });
    material = {
      good: pair(pki.clientCert, pki.clientKey),
      // The server's certificate is from the server CA, not the client CA.
      foreign: pair(pki.serverCert, pki.serverKey),
      selfSigned: pair(join(pki.dir, 'self.crt'), join(pki.dir, 'self.key')),
      expired: pair(join(pki.dir, 'expired.crt'), join(pki.dir, 'expired.key')),
    };
    ca = readFileSync(pki.caCert);
  });
  after(() => {
    rmSync(pki.dir, { recursive: true, force: true });
  });

  async function serve(clientauth: TlsSettings['clientauth'], http2: boolean): Promise<{ port: number; server: RegistryServer }> {
    const tls: TlsSettings = { certificate: pki.serverCert, key: pki.serverKey, clientcas: [pki.clientCaCert], clientauth, minimumtls: 'tls1.2', ciphersuites: [] };
    const server = await createRegistryServer(ok, { tls, http2, maxHeaderSize: 16_384, headersTimeoutMs: 10_000, idleTimeoutMs: 10_000 }, logger);
    await new Promise<void>((resolve) => server.server.listen(0, '127.0.0.1', resolve));
    return { port: (server.server.address() as AddressInfo).port, server };
  }

  for (const http2 of [false, true]) {
    describe(`verify-client-cert-if-given (${http2 ? 'HTTP/2 server' : 'HTTPS server'})`, () => {
      let port = 0;
      let server: RegistryServer;
      before(async () => {
        ({ port, server } = await serve('verify-client-cert-if-given', http2));
      });
      after(async () => {
        await server.shutdown(0);
      });
      it('lets in a client without a certificate and one with a certificate from the client CA', async () => {
        assert.deepEqual(await get(port, { ca }), { status: 200 });
        assert.deepEqual(await get(port, { ca, ...material.good }), { status: 200 });
      });
      for (const name of ['foreign', 'selfSigned', 'expired'] as const) {
        it(`refuses a ${name} client certificate (no response)`, async () => {
          const outcome = await get(port, { ca, ...material[name] });
          assert.equal(outcome.status, undefined, `a ${name} certificate must get no response`);
          assert.ok(outcome.error !== undefined);
        });
      }
    });
  }

  it('request-client-cert still asks for a certificate without verifying it', async () => {
    const { port, server } = await serve('request-client-cert', false);
    try {
      assert.deepEqual(await get(port, { ca, ...material.selfSigned }), { status: 200 });
      assert.deepEqual(await get(port, { ca }), { status: 200 });
    } finally {
      await server.shutdown(0);
    }
  });

  it('require-and-verify-client-cert refuses no certificate and a foreign one', async () => {
    const { port, server } = await serve('require-and-verify-client-cert', false);
    try {
      assert.equal((await get(port, { ca })).status, undefined);
      assert.equal((await get(port, { ca, ...material.foreign })).status, undefined);
      assert.deepEqual(await get(port, { ca, ...material.good }), { status: 200 });
    } finally {
      await server.shutdown(0);
    }
  });
});
