// Events, envelopes, the event bridge, the bounded queue and the notifications config section: pure parts.
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { describe, it } from 'node:test';

import { parseManifest } from '../../src/oci/manifest.js';
import { BoundedQueue } from '../../src/notifications/bounded-queue.js';
import { DELIVERY_DEFAULTS, ENDPOINT_DEFAULTS } from '../../src/notifications/endpoint.js';
import { EventBridge, manifestReferences } from '../../src/notifications/bridge.js';
import {
  EVENTS_MEDIA_TYPE,
  buildEvent,
  requestRecord,
  serializeEnvelope,
  sourceRecord,
  type RegistryEvent,
  type RequestRecord,
} from '../../src/notifications/event.js';
import { notificationsSchema } from '../../src/notifications/schema.js';
import type { EventSink } from '../../src/notifications/sink.js';

const DIGEST = 'sha256:fea8895f450959fa676bcc1df0611ea93823a735a01205fd8622846041d0c7cf';
const LAYER = 'sha256:c3b3692957d439ac1928219a83fac91e7bf96c153725526874673ae1f2023f8d';
const CLOCK = { now: () => new Date('2016-03-09T22:44:26.402Z'), newId: () => '320678d8-ca14-430f-8bb6-4ca139cd83f7' };
const REQUEST: RequestRecord = { id: 'req-1', addr: '192.168.64.11:42961', host: '192.168.100.227:5000', method: 'GET', useragent: 'curl/7.38.0' };
const SOURCE = { addr: 'xtal.local:5000', instanceID: 'a53db899-3b4b-4a62-a067-8dd013beaca4' };

class CollectingSink implements EventSink {
  readonly events: RegistryEvent[] = [];
  emit(event: RegistryEvent): void {
    this.events.push(event);
  }
}

describe('buildEvent', () => {
  it("produces Distribution's JSON for a manifest pull (docs/content/about/notifications.md)", () => {
    const event = buildEvent(
      {
        action: 'pull',
        target: {
          mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
          digest: DIGEST,
          size: 708,
          repository: 'hello-world',
          url: `http://192.168.100.227:5000/v2/hello-world/manifests/${DIGEST}`,
          tag: 'latest',
        },
        request: REQUEST,
        actor: {},
        source: SOURCE,
      },
      CLOCK,
    );
    assert.deepEqual(JSON.parse(JSON.stringify(event)), {
      id: '320678d8-ca14-430f-8bb6-4ca139cd83f7',
      timestamp: '2016-03-09T22:44:26.402Z',
      action: 'pull',
      target: {
        mediaType: 'application/vnd.docker.distribution.manifest.v2+json',
        digest: DIGEST,
        size: 708,
        length: 708,
        repository: 'hello-world',
        url: `http://192.168.100.227:5000/v2/hello-world/manifests/${DIGEST}`,
        tag: 'latest',
      },
      request: { id: 'req-1', addr: '192.168.64.11:42961', host: '192.168.100.227:5000', method: 'GET', useragent: 'curl/7.38.0' },
      actor: {},
      source: { addr: 'xtal.local:5000', instanceID: 'a53db899-3b4b-4a62-a067-8dd013beaca4' },
    });
  });

  it('omits empty fields as omitempty does, but keeps request id, method and useragent', () => {
    const event = buildEvent(
      { action: 'delete', target: { repository: 'library/test', digest: DIGEST, tag: '', size: 0, references: [] }, request: { id: '', method: 'DELETE', useragent: '' }, source: {} },
      CLOCK,
    );
    assert.deepEqual(event.target, { digest: DIGEST, repository: 'library/test' });
    assert.deepEqual(event.request, { id: '', method: 'DELETE', useragent: '' });
    assert.deepEqual(event.actor, {});
    assert.deepEqual(event.source, {});
    assert.deepEqual(Object.keys(event), ['id', 'timestamp', 'action', 'target', 'request', 'actor', 'source']);
  });

  it('generates a fresh UUID and the current time by default', () => {
    const a = buildEvent({ action: 'push', target: {}, request: REQUEST, source: SOURCE });
    const b = buildEvent({ action: 'push', target: {}, request: REQUEST, source: SOURCE });
    assert.match(a.id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
    assert.notEqual(a.id, b.id);
    assert.ok(Math.abs(Date.parse(a.timestamp) - Date.now()) < 5000);
  });

  it('serializes an envelope of events, with the v1 media type', () => {
    const events = [1, 2].map((n) => buildEvent({ action: 'push', target: { repository: `r${n}` }, request: REQUEST, source: SOURCE }, CLOCK));
    const body = JSON.parse(serializeEnvelope(events)) as { events: Array<{ target: { repository: string } }> };
    assert.deepEqual(
      body.events.map((e) => e.target.repository),
      ['r1', 'r2'],
    );
    assert.equal(EVENTS_MEDIA_TYPE, 'application/vnd.docker.distribution.events.v1+json');
  });
});

describe('requestRecord and sourceRecord', () => {
  const socket = { remoteAddress: '10.0.0.7', remotePort: 51234 };
  const cases: Array<[string, Record<string, string>, { remoteAddress?: string; remotePort?: number }, string]> = [
    ['the socket peer', {}, socket, '10.0.0.7:51234'],
    ['an IPv6 peer, bracketed', {}, { remoteAddress: '::1', remotePort: 80 }, '[::1]:80'],
    ['the first X-Forwarded-For entry', { 'x-forwarded-for': '203.0.113.9, 10.0.0.1' }, socket, '203.0.113.9'],
    ['X-Real-Ip', { 'x-real-ip': '198.51.100.2' }, socket, '198.51.100.2'],
  ];
  for (const [what, headers, peer, addr] of cases) {
    it(`takes the client address from ${what}`, () => {
      const record = requestRecord({ method: 'PUT', headers: { host: 'registry:5000', 'user-agent': 'skopeo/1.14', ...headers }, socket: peer }, 'id-1');
      assert.deepEqual(record, { id: 'id-1', addr, host: 'registry:5000', method: 'PUT', useragent: 'skopeo/1.14' });
    });
  }

  it('keeps useragent even when the client sent none', () => {
    assert.deepEqual(requestRecord({ method: 'GET', headers: {} }, 'x'), { id: 'x', method: 'GET', useragent: '' });
  });

  it('names the source by host name and the port of http.addr', () => {
    assert.deepEqual(sourceRecord(':5000', 'inst', 'node-a'), { addr: 'node-a:5000', instanceID: 'inst' });
    assert.deepEqual(sourceRecord('0.0.0.0:443', 'inst', 'node-a'), { addr: 'node-a:443', instanceID: 'inst' });
    assert.deepEqual(sourceRecord('/run/berth.sock', 'inst', 'node-a'), { addr: '/run/berth.sock', instanceID: 'inst' });
  });
});

describe('EventBridge', () => {
  const req = { method: 'PUT', headers: { host: 'registry.local', 'user-agent': 'test/0.1' }, socket: { remoteAddress: '127.0.0.1', remotePort: 4000 } };
  const urlFor = (path: string): string => `https://registry.local${path}`;

  function bridge(includeReferences: boolean): { sink: CollectingSink; bridge: EventBridge } {
    const sink = new CollectingSink();
    return { sink, bridge: new EventBridge({ sink, source: SOURCE, includeReferences, clock: CLOCK }) };
  }

  it("builds push, pull, mount and delete events like Distribution's bridge", () => {
    const { sink, bridge: b } = bridge(false);
    const events = b.forRequest(req, { actor: 'alice', urlFor, requestId: 'r-1' });
    events.blobPushed('library/test', { digest: LAYER, size: 2 });
    events.manifestPushed('library/test', { digest: DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 708, tag: 'latest' });
    events.blobMounted('other/repo', { digest: LAYER, size: 2 }, 'library/test');
    events.manifestPulled('library/test', { digest: DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: 708 });
    events.blobPulled('library/test', { digest: LAYER, size: 2 });
    events.manifestDeleted('library/test', DIGEST);
    events.tagDeleted('library/test', 'latest');
    events.blobDeleted('library/test', LAYER);

    assert.deepEqual(
      sink.events.map((e) => [e.action, e.target]),
      [
        ['push', { mediaType: 'application/octet-stream', digest: LAYER, size: 2, length: 2, repository: 'library/test', url: `https://registry.local/v2/library/test/blobs/${LAYER}` }],
        [
          'push',
          {
            mediaType: 'application/vnd.oci.image.manifest.v1+json',
            digest: DIGEST,
            size: 708,
            length: 708,
            repository: 'library/test',
            url: `https://registry.local/v2/library/test/manifests/${DIGEST}`,
            tag: 'latest',
          },
        ],
        [
          'mount',
          {
            mediaType: 'application/octet-stream',
            digest: LAYER,
            size: 2,
            length: 2,
            repository: 'other/repo',
            fromRepository: 'library/test',
            url: `https://registry.local/v2/other/repo/blobs/${LAYER}`,
          },
        ],
        [
          'pull',
          { mediaType: 'application/vnd.oci.image.manifest.v1+json', digest: DIGEST, size: 708, length: 708, repository: 'library/test', url: `https://registry.local/v2/library/test/manifests/${DIGEST}` },
        ],
        ['pull', { mediaType: 'application/octet-stream', digest: LAYER, size: 2, length: 2, repository: 'library/test', url: `https://registry.local/v2/library/test/blobs/${LAYER}` }],
        ['delete', { digest: DIGEST, repository: 'library/test' }],
        ['delete', { repository: 'library/test', tag: 'latest' }],
        ['delete', { digest: LAYER, repository: 'library/test' }],
      ],
    );
    for (const e of sink.events) {
      assert.deepEqual(e.request, { id: 'r-1', addr: '127.0.0.1:4000', host: 'registry.local', method: 'PUT', useragent: 'test/0.1' });
      assert.deepEqual(e.actor, { name: 'alice' });
      assert.deepEqual(e.source, SOURCE);
    }
  });

  it('shares one generated request id between the events of a request, and not across requests', () => {
    const { sink, bridge: b } = bridge(false);
    const first = b.forRequest(req, { urlFor });
    first.manifestDeleted('r', DIGEST);
    first.tagDeleted('r', 'a');
    b.forRequest(req, { urlFor }).tagDeleted('r', 'b');
    const [a, c, d] = sink.events.map((e) => e.request.id);
    assert.equal(a, c);
    assert.notEqual(a, d);
    assert.deepEqual(sink.events[0]?.actor, {});
  });

  const manifestBody = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: { mediaType: 'application/vnd.oci.image.config.v1+json', digest: DIGEST, size: 7 },
      layers: [{ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: LAYER, size: 32, annotations: { a: 'b' } }],
    }),
  );

  it('adds references to manifest events only with includereferences, computing them lazily', () => {
    let computed = 0;
    const references = (): ReturnType<typeof manifestReferences> => {
      computed++;
      return manifestReferences(parseManifest(manifestBody, 'application/vnd.oci.image.manifest.v1+json'));
    };
    const info = { digest: DIGEST, mediaType: 'application/vnd.oci.image.manifest.v1+json', size: manifestBody.byteLength, references };

    const off = bridge(false);
    off.bridge.forRequest(req, { urlFor }).manifestPushed('r', info);
    assert.equal(off.sink.events[0]?.target.references, undefined);
    assert.equal(computed, 0, 'not computed when the option is off');

    const on = bridge(true);
    on.bridge.forRequest(req, { urlFor }).manifestPushed('r', info);
    assert.equal(computed, 1);
    assert.deepEqual(on.sink.events[0]?.target.references, [
      { mediaType: 'application/vnd.oci.image.config.v1+json', digest: DIGEST, size: 7 },
      { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: LAYER, size: 32, annotations: { a: 'b' } },
    ]);
  });

  it('never throws into the handler: a failing urlFor loses the event, failing references only the references', () => {
    const { sink, bridge: b } = bridge(true);
    const broken = b.forRequest(req, {
      urlFor: () => {
        throw new Error('boom');
      },
    });
    assert.doesNotThrow(() => broken.blobPulled('r', { digest: LAYER, size: 1 }));
    assert.equal(sink.events.length, 0);
    b.forRequest(req, { urlFor }).manifestPulled('r', {
      digest: DIGEST,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      size: 1,
      references: () => {
        throw new Error('unparseable');
      },
    });
    assert.equal(sink.events.length, 1);
    assert.equal(sink.events[0]?.target.references, undefined);
  });
});

describe('BoundedQueue', () => {
  it('is first-in first-out across the ring boundary', () => {
    const q = new BoundedQueue<number>(3);
    q.push(1);
    q.push(2);
    assert.deepEqual(q.take(1), [1]);
    q.push(3);
    q.push(4);
    assert.equal(q.length, 3);
    assert.deepEqual(q.take(10), [2, 3, 4]);
    assert.equal(q.length, 0);
    assert.deepEqual(q.take(1), []);
  });

  it('drops the oldest item when full and returns it', () => {
    const q = new BoundedQueue<number>(2);
    assert.equal(q.push(1), undefined);
    assert.equal(q.push(2), undefined);
    assert.deepEqual(q.push(3), { dropped: 1 });
    assert.deepEqual(q.push(4), { dropped: 2 });
    assert.deepEqual(q.take(5), [3, 4]);
    q.push(5);
    assert.equal(q.clear(), 1);
    assert.equal(q.length, 0);
  });

  it('refuses a capacity below 1', () => {
    assert.throws(() => new BoundedQueue(0), RangeError);
  });
});

describe('notificationsSchema', () => {
  it('defaults to no endpoints and no references', () => {
    for (const input of [undefined, null, {}]) {
      assert.deepEqual(notificationsSchema.parse(input), { events: { includereferences: false }, endpoints: [] });
    }
  });

  it("parses Distribution's documented example, with Distribution's defaults", () => {
    const parsed = notificationsSchema.parse({
      events: { includereferences: 'yes' },
      endpoints: [
        { name: 'alistener', url: 'https://mylistener.example.com/event', headers: { Authorization: ['Bearer <your token, if needed>'] }, timeout: '500ms', threshold: 5, backoff: '1s' },
        { name: 'quiet', url: 'http://hook.local/', ignoredmediatypes: 'application/octet-stream', ignore: { mediatypes: ['x/y'], actions: ['pull', 'mount'] } },
        { name: 'off', disabled: true },
      ],
    });
    assert.equal(parsed.events.includereferences, true);
    assert.deepEqual(parsed.endpoints[0], {
      name: 'alistener',
      disabled: false,
      url: 'https://mylistener.example.com/event',
      headers: { Authorization: ['Bearer <your token, if needed>'] },
      timeout: 500,
      threshold: 5,
      backoff: 1000,
      ignoredmediatypes: [],
      ignore: { mediatypes: [], actions: [] },
    });
    assert.deepEqual(parsed.endpoints[1], {
      name: 'quiet',
      disabled: false,
      url: 'http://hook.local/',
      headers: {},
      timeout: 1000,
      threshold: 10,
      backoff: 1000,
      ignoredmediatypes: ['application/octet-stream'],
      ignore: { mediatypes: ['x/y'], actions: ['pull', 'mount'] },
    });
    assert.equal(parsed.endpoints[2]?.disabled, true);
  });

  it('treats zero or negative timeout, threshold and backoff as the defaults, and a scalar header as a list', () => {
    const [e] = notificationsSchema.parse({ endpoints: [{ name: 'a', url: 'http://a/', timeout: 0, threshold: -1, backoff: '0s', headers: { 'X-Token': 'abc' } }] }).endpoints;
    assert.equal(e?.timeout, 1000);
    assert.equal(e?.threshold, 10);
    assert.equal(e?.backoff, 1000);
    assert.deepEqual(e?.headers, { 'X-Token': ['abc'] });
  });

  const bad: Array<[string, unknown, string]> = [
    ['a missing url', { endpoints: [{ name: 'a' }] }, 'endpoints.0.url'],
    ['a relative url', { endpoints: [{ name: 'a', url: '/hook' }] }, 'endpoints.0.url'],
    ['a missing name', { endpoints: [{ url: 'http://a/' }] }, 'endpoints.0.name'],
    ['an unknown action', { endpoints: [{ name: 'a', url: 'http://a/', ignore: { actions: ['pul'] } }] }, 'endpoints.0.ignore.actions.0'],
    ['a bad duration', { endpoints: [{ name: 'a', url: 'http://a/', timeout: '5 seconds' }] }, 'endpoints.0.timeout'],
    ['an unknown key', { endpoints: [{ name: 'a', url: 'http://a/', retries: 3 }] }, 'endpoints.0'],
    ['duplicate names', { endpoints: [{ name: 'a', url: 'http://a/' }, { name: 'a', url: 'http://b/' }] }, 'endpoints.1.name'],
    ['a header with a newline', { endpoints: [{ name: 'a', url: 'http://a/', headers: { X: 'a\nb' } }] }, 'endpoints.0.headers.X.0'],
  ];
  for (const [what, input, path] of bad) {
    it(`refuses ${what}, naming ${path}`, () => {
      const result = notificationsSchema.safeParse(input);
      assert.equal(result.success, false);
      const paths = result.error?.issues.map((i) => i.path.join('.')) ?? [];
      assert.ok(paths.includes(path), `issues at ${paths.join(', ')}`);
    });
  }
});

describe('docs/webhooks.md', () => {
  const docs = readFileSync(new URL('../../../docs/webhooks.md', import.meta.url), 'utf8');

  it('states the delivery limits and defaults the code uses', () => {
    assert.ok(docs.includes(`at most ${DELIVERY_DEFAULTS.queueSize} events`));
    assert.ok(docs.includes(`up to ${DELIVERY_DEFAULTS.batchSize}:`));
    assert.ok(docs.includes(`up to ${DELIVERY_DEFAULTS.maxBackoffMs / 1000} s`));
    assert.ok(docs.includes(`once every ${DELIVERY_DEFAULTS.dropLogIntervalMs / 1000} s`));
    assert.ok(docs.includes(`timeout: ${ENDPOINT_DEFAULTS.timeoutMs / 1000}s`));
    assert.ok(docs.includes(`threshold: ${ENDPOINT_DEFAULTS.threshold} `));
    assert.ok(docs.includes(`backoff: ${ENDPOINT_DEFAULTS.backoffMs / 1000}s`));
    assert.ok(docs.includes(EVENTS_MEDIA_TYPE));
  });

  it('shows an envelope the event builder would produce', () => {
    const json = /```json\n([\s\S]*?)```/.exec(docs)?.[1] ?? '';
    const example = (JSON.parse(json) as { events: RegistryEvent[] }).events[0];
    assert.ok(example !== undefined);
    const rebuilt = buildEvent({ ...example }, { now: () => new Date(example.timestamp), newId: () => example.id });
    assert.deepEqual(JSON.parse(JSON.stringify(rebuilt)), example);
  });
});
