/**
 * The pull-through cache's upstream client against real registries: CNCF Distribution 2.8 with htpasswd
 * (Basic), and Berth with token authentication (the Docker token flow, anonymous and with credentials,
 * tokens cached per scope). A small in-process server stands in for what neither does on demand: a
 * redirect to storage on another origin, a wrong Docker-Content-Digest, 429/5xx, and silence.
 * Skipped when the docker-registry binary is missing (the Distribution part only). The tests push with
 * the global fetch after the client module is loaded: loading undici must leave global fetch working.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { createServer as createTcpServer, type Server as TcpServer, type Socket } from 'node:net';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { text } from 'node:stream/consumers';
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { createTokenAccessController } from '../../src/auth/token/controller.js';
import { tokenConfigSchema } from '../../src/auth/token/schema.js';
import { hashPassword } from '../../src/auth/htpasswd/hash.js';
import type { Digest } from '../../src/oci/digest.js';
import type { RepositoryName } from '../../src/oci/reference.js';
import type { Upstream } from '../../src/proxy/schema.js';
import { createUpstreamClient, DEFAULT_UPSTREAM_TIMEOUTS, type UpstreamClientOptions, type UpstreamRegistry } from '../../src/proxy/upstream-client.js';
import { UpstreamError, type UpstreamErrorKind } from '../../src/proxy/upstream-error.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import { startTestRegistry, type TestRegistry } from '../helpers/app.js';
import { pushImage } from '../helpers/oci-client.js';
import { freePort } from '../helpers/ports.js';
import { startDistribution, type RegistryHandle } from '../helpers/registries.js';
import { startTokenIssuer, type TokenIssuer } from '../helpers/token-issuer.js';

const name = (n: string): RepositoryName => n as RepositoryName;

function upstreamAt(url: string, credentials?: { username: string; password: string }): Upstream {
  return { name: 'test', url, namespaces: [], prefix: 'test', credentials, tagTtl: 0, contentTtl: 0, ca: undefined, insecure: false, dockerHub: false };
}

async function client(url: string, credentials?: { username: string; password: string }, options?: UpstreamClientOptions): Promise<UpstreamRegistry> {
  return createUpstreamClient(upstreamAt(url, credentials), options);
}

async function sha256Of(stream: Readable): Promise<string> {
  const hash = createHash('sha256');
  for await (const chunk of stream as AsyncIterable<Buffer>) hash.update(chunk);
  return `sha256:${hash.digest('hex')}`;
}

async function rejectsWith(promise: Promise<unknown>, kind: UpstreamErrorKind, message?: RegExp): Promise<UpstreamError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  assert.ok(caught instanceof UpstreamError, `expected an UpstreamError (${kind}), got ${String(caught)}`);
  assert.equal(caught.kind, kind, caught.message);
  if (message !== undefined) assert.match(caught.message, message);
  return caught;
}

const hasDistribution = existsSync('/usr/bin/docker-registry');

describe('upstream client against Distribution 2.8 with htpasswd', { skip: hasDistribution ? false : 'docker-registry is not installed', timeout: 120_000 }, () => {
  let work: string;
  let open: RegistryHandle;
  let locked: RegistryHandle;
  let image: { digest: string; body: Buffer; blobs: string[] };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-proxy-dist-'));
    const root = join(work, 'data');
    const htpasswd = join(work, 'htpasswd');
    await writeFile(htpasswd, `alice:${await hashPassword('wonderland', 5)}\n`);
    // One storage, two servers: an open one to push through, and the upstream under test with htpasswd.
    open = await startDistribution({ rootdirectory: root });
    const port = await freePort();
    locked = await startDistribution({
      rootdirectory: root,
      port,
      extraYaml: `auth:\n  htpasswd:\n    realm: Registry Realm\n    path: ${htpasswd}\n`,
      ready: async () => (await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => undefined))?.status === 401,
    });
    image = await pushImage(open.url, 'team/app', 'v1', { layers: 2, layerSize: 64 * 1024 });
  });
  after(async () => {
    await locked?.stop();
    await open?.stop();
    if (work !== undefined) await rm(work, { recursive: true, force: true });
  });

  it('resolves, gets and streams with Basic credentials', async () => {
    const c = await client(locked.url, { username: 'alice', password: 'wonderland' });
    try {
      const resolved = await c.resolveManifest(name('team/app'), 'v1');
      assert.deepEqual(resolved, { digest: image.digest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: image.body.length });
      const manifest = await c.getManifest(name('team/app'), 'v1');
      assert.equal(manifest.digest, image.digest);
      assert.ok(manifest.bytes.equals(image.body));
      const byDigest = await c.getManifest(name('team/app'), image.digest);
      assert.equal(byDigest.digest, image.digest);
      for (const digest of image.blobs) {
        const blob = await c.openBlob(name('team/app'), digest as Digest);
        assert.equal(await sha256Of(blob.stream), digest);
      }
      const layer = await c.openBlob(name('team/app'), image.blobs[1] as Digest);
      assert.equal(layer.size, 64 * 1024);
      layer.stream.destroy();
    } finally {
      await c.close();
    }
  });

  it('without credentials, or with a wrong password: unauthorized, the password never in the message', async () => {
    const anonymous = await client(locked.url);
    const wrong = await client(locked.url, { username: 'alice', password: 'Hunter2' });
    try {
      await rejectsWith(anonymous.resolveManifest(name('team/app'), 'v1'), 'unauthorized', /no credentials configured/);
      const err = await rejectsWith(wrong.getManifest(name('team/app'), 'v1'), 'unauthorized');
      assert.doesNotMatch(`${err.message} ${String(err.cause)}`, /Hunter2|YWxpY2U6SHVudGVyMg/);
    } finally {
      await anonymous.close();
      await wrong.close();
    }
  });

  it('an unknown tag, manifest digest or blob: not-found', async () => {
    const c = await client(locked.url, { username: 'alice', password: 'wonderland' });
    try {
      await rejectsWith(c.resolveManifest(name('team/app'), 'nope'), 'not-found');
      await rejectsWith(c.getManifest(name('team/app'), `sha256:${'0'.repeat(64)}`), 'not-found');
      await rejectsWith(c.openBlob(name('team/app'), `sha256:${'1'.repeat(64)}` as Digest), 'not-found');
      await rejectsWith(c.resolveManifest(name('nobody/here'), 'v1'), 'not-found');
    } finally {
      await c.close();
    }
  });
});

describe('upstream client against Berth with token authentication', { timeout: 60_000 }, () => {
  let issuer: TokenIssuer;
  let open: TestRegistry;
  let locked: TestRegistry;
  let publicImage: { digest: string; body: Buffer; blobs: string[] };
  let privateImage: { digest: string; body: Buffer; blobs: string[] };

  before(async () => {
    // Anonymous users may pull public/*; alice may pull anything.
    issuer = await startTokenIssuer({
      users: { alice: 'wonderland' },
      acl: (user, scope) => (user === 'alice' ? ['pull'] : scope.name.startsWith('public/') ? ['pull'] : []),
    });
    const driver = new InMemoryDriver();
    open = await startTestRegistry({ driver });
    locked = await startTestRegistry({ driver, access: await createTokenAccessController(tokenConfigSchema.parse(issuer.config())) });
    publicImage = await pushImage(open.url, 'public/app', 'latest', { layers: 1, layerSize: 32 * 1024 });
    privateImage = await pushImage(open.url, 'private/app', 'latest', { layers: 1, layerSize: 32 * 1024 });
  });
  after(async () => {
    await locked?.close();
    await open?.close();
    await issuer?.close();
  });

  it('anonymous: a token for a public image, then the token is reused until it expires', async () => {
    const c = await client(locked.url);
    try {
      const before = issuer.requests.length;
      assert.equal((await c.resolveManifest(name('public/app'), 'latest')).digest, publicImage.digest);
      const asked = issuer.requests.slice(before);
      assert.equal(asked.length, 1);
      assert.deepEqual([asked[0]?.user, asked[0]?.service, asked[0]?.scopes], [undefined, issuer.service, ['repository:public/app:pull']]);
      const manifest = await c.getManifest(name('public/app'), 'latest');
      assert.ok(manifest.bytes.equals(publicImage.body));
      const blob = await c.openBlob(name('public/app'), publicImage.blobs[1] as Digest);
      assert.equal(await sha256Of(blob.stream), publicImage.blobs[1]);
      assert.equal(issuer.requests.length, before + 1, 'one token served the HEAD, the GET and the blob');
    } finally {
      await c.close();
    }
  });

  it('anonymous: a private image is unauthorized', async () => {
    const c = await client(locked.url);
    try {
      await rejectsWith(c.resolveManifest(name('private/app'), 'latest'), 'unauthorized');
    } finally {
      await c.close();
    }
  });

  it('with credentials: the token is fetched with Basic, one per scope', async () => {
    const c = await client(locked.url, { username: 'alice', password: 'wonderland' });
    try {
      const before = issuer.requests.length;
      assert.equal((await c.resolveManifest(name('private/app'), 'latest')).digest, privateImage.digest);
      assert.equal((await c.resolveManifest(name('private/app'), 'latest')).digest, privateImage.digest);
      assert.equal((await c.resolveManifest(name('public/app'), 'latest')).digest, publicImage.digest);
      // Back to the first repository after another one: its token is still cached.
      assert.equal((await c.resolveManifest(name('private/app'), 'latest')).digest, privateImage.digest);
      const asked = issuer.requests.slice(before);
      assert.deepEqual(
        asked.map((r) => [r.user, r.status, r.scopes]),
        [
          ['alice', 200, ['repository:private/app:pull']],
          ['alice', 200, ['repository:public/app:pull']],
        ],
      );
    } finally {
      await c.close();
    }
  });

  it('a wrong password: the token service refuses, unauthorized', async () => {
    const c = await client(locked.url, { username: 'alice', password: 'Hunter2' });
    try {
      const err = await rejectsWith(c.resolveManifest(name('private/app'), 'latest'), 'unauthorized', /token service refused the configured credentials/);
      assert.doesNotMatch(err.message, /Hunter2/);
    } finally {
      await c.close();
    }
  });

  it('an expired token is fetched again', async () => {
    let now = Date.now();
    const c = await client(locked.url, undefined, { now: () => now });
    try {
      await c.resolveManifest(name('public/app'), 'latest');
      const before = issuer.requests.length;
      await c.resolveManifest(name('public/app'), 'latest');
      assert.equal(issuer.requests.length, before, 'cached');
      now += 300_000; // the issuer's lifetime
      await c.resolveManifest(name('public/app'), 'latest');
      assert.equal(issuer.requests.length, before + 1, 'fetched again');
    } finally {
      await c.close();
    }
  });
});

/** What the stand-in upstream saw of each request. */
interface Seen {
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
}

describe('upstream client: redirects, bad content, errors and timeouts', { timeout: 60_000 }, () => {
  let upstream: Server;
  let storage: Server;
  let silent: TcpServer;
  const sockets = new Set<Socket>();
  const seen: Seen[] = [];
  const storageSeen: Seen[] = [];
  let upstreamUrl: string;
  let storageUrl: string;
  let silentUrl: string;
  const blob = Buffer.from('layer bytes from the CDN');
  const blobDigest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
  const manifest = Buffer.from('{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json"}');
  const manifestDigest = `sha256:${createHash('sha256').update(manifest).digest('hex')}`;

  before(async () => {
    storage = createServer((req, res) => {
      storageSeen.push({ path: req.url ?? '', headers: req.headers });
      res.writeHead(200, { 'Content-Length': blob.length });
      res.end(blob);
    });
    await new Promise<void>((resolve) => storage.listen(0, '127.0.0.1', resolve));
    storageUrl = `http://127.0.0.1:${(storage.address() as AddressInfo).port}`;
    upstream = createServer((req, res) => {
      seen.push({ path: req.url ?? '', headers: req.headers });
      const url = req.url ?? '';
      if (req.headers.authorization !== 'Basic dTpw') {
        res.writeHead(401, { 'WWW-Authenticate': 'Basic realm="stand-in"' });
        res.end();
      } else if (url === `/v2/a/b/blobs/${blobDigest}`) {
        res.writeHead(307, { Location: `${storageUrl}/bucket/data?sig=abc` });
        res.end();
      } else if (url === '/v2/a/b/manifests/good') {
        res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json; charset=utf-8', 'Docker-Content-Digest': manifestDigest, 'Content-Length': manifest.length });
        res.end(req.method === 'HEAD' ? undefined : manifest);
      } else if (url === '/v2/a/b/manifests/lying') {
        res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json', 'Docker-Content-Digest': `sha256:${'2'.repeat(64)}` });
        res.end(manifest);
      } else if (url === '/v2/a/b/manifests/busy') {
        res.writeHead(429, { 'Retry-After': '1' });
        res.end();
      } else if (url === '/v2/a/b/manifests/broken') {
        res.writeHead(502);
        res.end();
      } else if (url === '/v2/a/b/manifests/huge') {
        res.writeHead(200, { 'Content-Type': 'application/vnd.oci.image.manifest.v1+json' });
        res.end(Buffer.alloc(5 * 1024 * 1024, 0x20));
      } else {
        res.writeHead(404);
        res.end();
      }
    });
    await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
    upstreamUrl = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
    // Accepts connections and never answers.
    silent = createTcpServer((socket) => {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    });
    await new Promise<void>((resolve) => silent.listen(0, '127.0.0.1', resolve));
    silentUrl = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
  });
  after(async () => {
    for (const s of sockets) s.destroy();
    upstream?.closeAllConnections();
    storage?.closeAllConnections();
    await Promise.all([upstream, storage, silent].map((s) => new Promise<void>((resolve) => (s === undefined ? resolve() : s.close(() => resolve())))));
  });

  const credentials = { username: 'u', password: 'p' };

  it('follows a blob redirect to storage, without our credentials', async () => {
    const c = await client(upstreamUrl, credentials);
    try {
      const opened = await c.openBlob(name('a/b'), blobDigest as Digest);
      assert.equal(opened.size, blob.length);
      assert.equal(await text(opened.stream), blob.toString());
      assert.equal(storageSeen.at(-1)?.path, '/bucket/data?sig=abc');
      assert.equal(storageSeen.at(-1)?.headers.authorization, undefined);
    } finally {
      await c.close();
    }
  });

  it("forwards the client's Accept, and returns the media type without parameters", async () => {
    const c = await client(upstreamUrl, credentials);
    try {
      const accept = ['application/vnd.oci.image.index.v1+json', 'application/vnd.oci.image.manifest.v1+json'];
      const resolved = await c.resolveManifest(name('a/b'), 'good', accept);
      assert.deepEqual(resolved, { digest: manifestDigest, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: manifest.length });
      assert.equal(seen.at(-1)?.headers.accept, accept.join(', '));
      await c.getManifest(name('a/b'), 'good');
      assert.match(String(seen.at(-1)?.headers.accept), /application\/vnd\.docker\.distribution\.manifest\.v2\+json/, 'the default Accept lists every manifest type');
    } finally {
      await c.close();
    }
  });

  it('content that does not hash to its Docker-Content-Digest, or a digest asked for: invalid', async () => {
    const c = await client(upstreamUrl, credentials);
    try {
      await rejectsWith(c.getManifest(name('a/b'), 'lying'), 'invalid', /does not hash to/);
      await rejectsWith(c.getManifest(name('a/b'), 'huge'), 'invalid', /larger than/);
    } finally {
      await c.close();
    }
  });

  it('429 and 5xx: unavailable, with the status', async () => {
    const c = await client(upstreamUrl, credentials);
    try {
      assert.equal((await rejectsWith(c.resolveManifest(name('a/b'), 'busy'), 'unavailable')).status, 429);
      assert.equal((await rejectsWith(c.getManifest(name('a/b'), 'broken'), 'unavailable')).status, 502);
    } finally {
      await c.close();
    }
  });

  it('a refused connection fails at once', async () => {
    const c = await client(`http://127.0.0.1:${await freePort()}`);
    try {
      const started = Date.now();
      const err = await rejectsWith(c.resolveManifest(name('a/b'), 'v1'), 'unavailable', /ECONNREFUSED/);
      assert.ok(Date.now() - started < 2_000, `${Date.now() - started} ms`);
      assert.ok(err.cause !== undefined, 'the cause is kept for the log');
    } finally {
      await c.close();
    }
  });

  it('an upstream that never answers fails within the header timeout', async () => {
    const c = await client(silentUrl, undefined, { timeouts: { headers: 1_000 } });
    try {
      const started = Date.now();
      await rejectsWith(c.resolveManifest(name('a/b'), 'v1'), 'unavailable', /UND_ERR_HEADERS_TIMEOUT/);
      const elapsed = Date.now() - started;
      assert.ok(elapsed >= 900 && elapsed < 3_000, `${elapsed} ms`);
      // And by default within seconds, never a hang: connect and headers are bounded at 5 s each.
      assert.ok(DEFAULT_UPSTREAM_TIMEOUTS.connect <= 5_000 && DEFAULT_UPSTREAM_TIMEOUTS.headers <= 5_000);
    } finally {
      await c.close();
    }
  });

  it('an aborted request rejects with the abort reason, not as unavailable', async () => {
    const c = await client(silentUrl);
    try {
      const controller = new AbortController();
      const pending = c.openBlob(name('a/b'), blobDigest as Digest, controller.signal);
      setTimeout(() => controller.abort(new Error('client went away')), 100);
      await assert.rejects(pending, /client went away/);
    } finally {
      await c.close();
    }
  });
});
