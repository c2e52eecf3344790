/**
 * Webhook notifications end to end: a real registry process with `notifications.endpoints`, the
 * real skopeo client, and a test receiver. Checks the events of a push, an inspect, a pull, a push of
 * an image whose blobs exist, a mount and a delete, in order and in Distribution's JSON; and that
 * events queued while the receiver was down arrive once it is back on the same port.
 *
 * BERTH_E2E_TARGET=distribution runs it against Distribution (validating the test itself). Against
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtemp, rm } from 'node:fs/promises';
import type { Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';

import type { RegistryEvent } from '../../src/notifications/event.js';
import { buildImageLayout, type ImageLayout } from '../helpers/images.js';
import { e2eTarget, startBerth, startDistribution, type RegistryHandle } from '../helpers/registries.js';
import { freePort } from '../helpers/ports.js';
import { copyFromRegistry, copyToRegistry, deleteImage, inspect } from '../helpers/skopeo.js';

const target = e2eTarget();
const V1 = 'application/vnd.docker.distribution.events.v1+json';

interface Delivery {
  readonly headers: IncomingHttpHeaders;
  readonly events: RegistryEvent[];
}

/** Collects deliveries; `up` false makes it refuse connections (it is closed) until started again. */
class Receiver {
  readonly deliveries: Delivery[] = [];
  #server: Server | undefined;
  #sockets = new Set<Socket>();
  constructor(readonly port: number) {}

  get events(): RegistryEvent[] {
    return this.deliveries.flatMap((d) => d.events);
  }

  async start(): Promise<void> {
    const server = createServer((req, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        this.deliveries.push({ headers: req.headers, events: (JSON.parse(body) as { events: RegistryEvent[] }).events });
        res.writeHead(200).end();
      });
    });
    server.on('connection', (s: Socket) => {
      this.#sockets.add(s);
      s.once('close', () => this.#sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, '127.0.0.1', resolve);
    });
    this.#server = server;
  }

  async stop(): Promise<void> {
    const server = this.#server;
    this.#server = undefined;
    if (server === undefined) return;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of this.#sockets) s.destroy();
    });
  }

  /** Waits until `n` events arrived in total, then a little longer to catch unexpected extras. */
  async waitForEvents(n: number, ms = 60_000): Promise<RegistryEvent[]> {
    const deadline = Date.now() + ms;
    while (this.events.length < n) {
      if (Date.now() > deadline) throw new Error(`expected ${n} events, got ${this.events.length}: ${summary(this.events).join(' | ')}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    // Proves no extra event comes, and the registry has no event for "nothing more to send": a short grace.
    await new Promise((r) => setTimeout(r, 300));
    return this.events;
  }
}

/** `action method repository target`, for messages and order checks. */
function summary(events: readonly RegistryEvent[]): string[] {
  return events.map((e) => `${e.action} ${e.request.method} ${e.target.repository ?? ''} ${e.target.tag ?? e.target.digest?.slice(7, 19) ?? ''}`);
}

describe(`notifications e2e against ${target}`, { timeout: 5 * 60_000 }, () => {
  let work = '';
  let receiver: Receiver;
  let registry: RegistryHandle;
  let image: ImageLayout;
  let offset = 0;
  /** Events since the previous call. */
  const next = async (n: number): Promise<RegistryEvent[]> => {
    const all = await receiver.waitForEvents(offset + n);
    const out = all.slice(offset);
    offset = all.length;
    return out;
  };

  before(async () => {
    work = await mkdtemp(join(tmpdir(), 'berth-e2e-notify-'));
    receiver = new Receiver(await freePort());
    await receiver.start();
    const extraYaml = [
      'notifications:',
      '  endpoints:',
      '    - name: e2e',
      `      url: http://127.0.0.1:${receiver.port}/events`,
      '      headers:',
      '        Authorization: [Bearer e2e-token]',
      '      timeout: 2s',
      '      threshold: 3',
      '      backoff: 200ms',
    ].join('\n');
    const root = join(work, 'storage');
    if (target === 'distribution') {
      registry = await startDistribution({ rootdirectory: root, extraYaml });
    } else {
      const port = await freePort();
      const yaml = [
        'version: 0.1',
        'log: { level: warn, accesslog: { disabled: true } }',
        `storage: { filesystem: { rootdirectory: ${JSON.stringify(root)} }, delete: { enabled: true } }`,
        `http: { addr: "127.0.0.1:${port}", secret: e2e-secret }`,
        extraYaml,
      ].join('\n');
      registry = await startBerth({ port, configYaml: yaml });
    }
    image = await buildImageLayout(join(work, 'layout'), { layers: 2, layerSize: 4096 });
  });

  after(async () => {
    await registry?.stop();
    await receiver?.stop();
    if (work !== '') await rm(work, { recursive: true, force: true });
  });

  const name = `notify/app-${randomBytes(3).toString('hex')}`;
  const blobDigests = (): string[] => [image.config.digest, ...image.layers.map((l) => l.digest)].sort();

  it('push: one push per blob, then the manifest with its tag, in Distribution’s JSON', async () => {
    await copyToRegistry(image.layoutDir, `${registry.host}/${name}:v1`);
    const events = await next(4);
    assert.deepEqual(
      events.map((e) => e.action),
      ['push', 'push', 'push', 'push'],
      summary(events).join(' | '),
    );
    const blobs = events.slice(0, 3);
    const manifest = events[3];
    assert.deepEqual(blobs.map((e) => e.target.digest).sort(), blobDigests());
    for (const e of blobs) {
      assert.equal(e.target.mediaType, 'application/octet-stream');
      assert.equal(e.target.length, e.target.size);
      assert.equal(e.target.url, `http://${registry.host}/v2/${name}/blobs/${e.target.digest}`);
      assert.equal(e.request.method, 'PUT');
    }
    assert.deepEqual(manifest?.target, {
      mediaType: image.manifest.mediaType,
      size: image.manifest.size,
      digest: image.digest,
      length: image.manifest.size,
      repository: name,
      url: `http://${registry.host}/v2/${name}/manifests/${image.digest}`,
      tag: 'v1',
    });
    for (const e of events) {
      assert.match(e.id, /^[0-9a-f-]{36}$/);
      assert.ok(!Number.isNaN(Date.parse(e.timestamp)));
      assert.match(e.request.useragent, /skopeo/);
      assert.equal(e.request.host, registry.host);
      assert.match(e.request.addr ?? '', /^127\.0\.0\.1:\d+$/);
      assert.deepEqual(e.actor, {});
      assert.match(e.source.addr ?? '', new RegExp(`:${registry.host.split(':')[1]}$`));
      assert.ok((e.source.instanceID ?? '') !== '');
    }
    assert.equal(new Set(events.map((e) => e.id)).size, 4, 'every event has its own id');
    for (const d of receiver.deliveries) {
      assert.equal(d.headers['content-type'], V1);
      assert.equal(d.headers['authorization'], 'Bearer e2e-token');
    }
  });

  it('inspect and pull: the manifest (by tag), then the blobs fetched', async () => {
    await inspect(`${registry.host}/${name}:v1`);
    const inspected = await next(2);
    assert.deepEqual(summary(inspected), [`pull GET ${name} v1`, `pull GET ${name} ${image.config.digest.slice(7, 19)}`]);

    await copyFromRegistry(`${registry.host}/${name}:v1`, join(work, 'pulled'));
    const pulled = await next(4);
    assert.equal(pulled[0]?.target.tag, 'v1');
    assert.equal(pulled[0]?.target.digest, image.digest);
    assert.deepEqual(pulled.slice(1).map((e) => e.target.digest).sort(), blobDigests());
    assert.ok(pulled.every((e) => e.action === 'pull' && e.request.method === 'GET'));
  });

  it('push of an image whose blobs exist: HEAD checks are pulls, as in Distribution', async () => {
    await copyToRegistry(image.layoutDir, `${registry.host}/${name}:v2`);
    const events = await next(4);
    assert.deepEqual(
      events.slice(0, 3).map((e) => [e.action, e.request.method]),
      [
        ['pull', 'HEAD'],
        ['pull', 'HEAD'],
        ['pull', 'HEAD'],
      ],
    );
    assert.deepEqual(events.slice(0, 3).map((e) => e.target.digest).sort(), blobDigests());
    assert.deepEqual(summary(events.slice(3)), [`push PUT ${name} v2`]);
  });

  it('mount: a mount event naming the source repository', async () => {
    const other = `${name}-copy`;
    const res = await fetch(`http://${registry.host}/v2/${other}/blobs/uploads/?mount=${image.config.digest}&from=${name}`, { method: 'POST' });
    assert.equal(res.status, 201);
    const [mount] = await next(1);
    assert.equal(mount?.action, 'mount');
    assert.equal(mount?.request.method, 'POST');
    assert.deepEqual(mount?.target, {
      mediaType: 'application/octet-stream',
      size: image.config.size,
      digest: image.config.digest,
      length: image.config.size,
      repository: other,
      fromRepository: name,
      url: `http://${registry.host}/v2/${other}/blobs/${image.config.digest}`,
    });
  });

  it('delete: the manifest by digest, then each of its tags', async () => {
    await deleteImage(`${registry.host}/${name}:v1`);
    const events = await next(4);
    assert.deepEqual(summary(events.slice(0, 1)), [`pull GET ${name} v1`], 'skopeo reads the manifest first');
    assert.deepEqual(events[1]?.target, { digest: image.digest, repository: name });
    assert.equal(events[1]?.action, 'delete');
    assert.deepEqual(
      events.slice(2).map((e) => [e.action, e.request.method, e.target]).sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b))),
      [
        ['delete', 'DELETE', { repository: name, tag: 'v1' }],
        ['delete', 'DELETE', { repository: name, tag: 'v2' }],
      ],
    );
  });

  it('delivers events queued while the receiver was down once it is back on the same port', async () => {
    await receiver.stop();
    const later = await buildImageLayout(join(work, 'layout-later'), { layers: 1, layerSize: 1024 });
    await copyToRegistry(later.layoutDir, `${registry.host}/${name}:later`);
    // Gives delivery time to fail against the stopped receiver; what follows holds however many attempts
    // failed (none included), so a slow machine cannot make it fail.
    await new Promise((r) => setTimeout(r, 1000));
    await receiver.start();
    const events = await next(3);
    assert.deepEqual(summary(events.slice(2)), [`push PUT ${name} later`]);
    assert.deepEqual(events.slice(0, 2).map((e) => e.target.digest).sort(), [later.config.digest, ...later.layers.map((l) => l.digest)].sort());
  });
});
