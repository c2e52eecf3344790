import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { matchRoute } from '../../src/http/router.js';
import { requiredAccess } from '../../src/auth/access.js';
import { parseListenAddress } from '../../src/http/listen-address.js';
import { UploadStateCodec } from '../../src/http/upload-state.js';
import { compareBytes } from '../../src/storage/catalog.js';
import { pageAfter } from '../../src/storage/catalog.js';
import { formatText } from '../../src/log/logger.js';
import { Lru } from '../../src/storage/lru.js';
import { CatalogIndex, compareRepositoryNames } from '../../src/storage/catalog.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('matchRoute', () => {
  const cases: Array<[string, unknown]> = [
    ['/', { kind: 'root' }],
    ['/v2/', { kind: 'base' }],
    ['/v2', { kind: 'base' }],
    ['/v2/_catalog', { kind: 'catalog' }],
    ['/v2/a/b/tags/list', { kind: 'tags', name: 'a/b' }],
    ['/v2/a/b/manifests/latest', { kind: 'manifest', name: 'a/b', reference: 'latest' }],
    [`/v2/a/manifests/${D}`, { kind: 'manifest', name: 'a', reference: D }],
    [`/v2/a/blobs/${D}`, { kind: 'blob', name: 'a', reference: D }],
    [`/v2/a/blobs/sha256%3A${'a'.repeat(64)}`, { kind: 'blob', name: 'a', reference: D }],
    ['/v2/a/blobs/uploads/', { kind: 'uploads', name: 'a' }],
    ['/v2/a/blobs/uploads', { kind: 'uploads', name: 'a' }],
    ['/v2/a/blobs/uploads/1234', { kind: 'upload', name: 'a', reference: '1234' }],
    [`/v2/a/referrers/${D}`, { kind: 'referrers', name: 'a', reference: D }],
    ['/v2/tags/list', undefined],
    ['/v3/', undefined],
    ['/v2/a/blobs/%zz', undefined],
    ['/v2/a/unknown', undefined],
    // The management API (issue 14): the name is what precedes the fixed suffix, as for /v2.
    ['/berth/v1/repositories', { kind: 'mgmt-repositories' }],
    ['/berth/v1/repositories/', { kind: 'mgmt-repositories' }],
    ['/berth/v1/usage', { kind: 'mgmt-usage' }],
    ['/berth/v1/repositories/a', { kind: 'mgmt-repository', name: 'a' }],
    ['/berth/v1/repositories/a/b/c', { kind: 'mgmt-repository', name: 'a/b/c' }],
    ['/berth/v1/repositories/a/b/c/', { kind: 'mgmt-repository', name: 'a/b/c' }],
    ['/berth/v1/repositories/a/b/c/tags', { kind: 'mgmt-tags', name: 'a/b/c' }],
    [`/berth/v1/repositories/a/b/manifests/${D}`, { kind: 'mgmt-manifest', name: 'a/b', reference: D }],
    ['/berth/v1/repositories/a/manifests/latest', { kind: 'mgmt-manifest', name: 'a', reference: 'latest' }],
    ['/berth/v1/repositories/a/manifests', { kind: 'mgmt-repository', name: 'a/manifests' }],
    ['/berth/v1/repositories/tags', { kind: 'mgmt-repository', name: 'tags' }],
    ['/berth/v1/repositories/a%2Fb/tags', { kind: 'mgmt-tags', name: 'a/b' }],
    ['/berth/v1/repositories/%zz', undefined],
    ['/berth/v1/other', undefined],
    ['/berth/v2/repositories', undefined],
  ];
  for (const [path, expected] of cases) {
    it(path, () => assert.deepEqual(matchRoute(path), expected));
  }
});

describe('requiredAccess', () => {
  const q = (s = '') => new URLSearchParams(s);
  const cases: Array<[string, string, string, string[]]> = [
    ['GET manifest', 'GET', '/v2/a/manifests/x', ['repository:a:pull']],
    ['HEAD blob', 'HEAD', `/v2/a/blobs/${D}`, ['repository:a:pull']],
    ['PUT manifest', 'PUT', '/v2/a/manifests/x', ['repository:a:pull', 'repository:a:push']],
    ['PATCH upload', 'PATCH', '/v2/a/blobs/uploads/u', ['repository:a:pull', 'repository:a:push']],
    ['DELETE manifest', 'DELETE', '/v2/a/manifests/x', ['repository:a:delete']],
    ['catalog', 'GET', '/v2/_catalog', ['registry:catalog:*']],
    ['base', 'GET', '/v2/', []],
    ['management: every repository', 'GET', '/berth/v1/repositories', ['registry:catalog:*']],
    ['management: usage', 'GET', '/berth/v1/usage', ['registry:catalog:*']],
    ['management: one repository', 'GET', '/berth/v1/repositories/a/b', ['repository:a/b:pull']],
    ['management: tags', 'GET', '/berth/v1/repositories/a/b/tags', ['repository:a/b:pull']],
    ['management: a manifest', 'HEAD', `/berth/v1/repositories/a/manifests/${D}`, ['repository:a:pull']],
    ['management: delete a repository', 'DELETE', '/berth/v1/repositories/a/b', ['repository:a/b:delete']],
  ];
  for (const [label, method, path, expected] of cases) {
    it(label, () => {
      const route = matchRoute(path);
      assert.ok(route);
      assert.deepEqual(requiredAccess(route, method, q()).map((a) => `${a.type}:${a.name}:${a.action}`), expected);
    });
  }
  it('a mount also pulls from the source repository', () => {
    const route = matchRoute('/v2/dst/blobs/uploads/');
    assert.ok(route);
    assert.deepEqual(
      requiredAccess(route, 'POST', q(`mount=${D}&from=src`)).map((a) => `${a.name}:${a.action}`),
      ['dst:pull', 'dst:push', 'src:pull'],
    );
  });
});

describe('parseListenAddress', () => {
  const cases: Array<[string, unknown]> = [
    [':5000', { kind: 'tcp', port: 5000 }],
    ['0.0.0.0:443', { kind: 'tcp', host: '0.0.0.0', port: 443 }],
    ['[::1]:5000', { kind: 'tcp', host: '::1', port: 5000 }],
    ['localhost:80', { kind: 'tcp', host: 'localhost', port: 80 }],
  ];
  for (const [addr, expected] of cases) it(addr, () => assert.deepEqual(parseListenAddress(addr), expected));
  for (const bad of ['5000', 'host', ':99999', '::1:5000']) {
    it(`rejects ${bad}`, () => assert.throws(() => parseListenAddress(bad), /http\.addr/));
  }
});

describe('upload state', () => {
  it('round-trips and rejects tampering or another secret', () => {
    const codec = new UploadStateCodec('s3cret');
    const state = { name: 'a/b', uuid: 'u', offset: 42, startedAt: '2026-01-01T00:00:00.000Z', subject: 'alice' };
    const token = codec.encode(state);
    assert.deepEqual(codec.decode(token), state);
    assert.equal(new UploadStateCodec('other').decode(token), undefined);
    assert.equal(codec.decode(token.slice(1)), undefined);
    assert.equal(codec.decode('nodot'), undefined);
  });
});

describe('pageAfter', () => {
  const items = ['a', 'b', 'c', 'd'];
  const cases: Array<[number | undefined, string | undefined, unknown]> = [
    [undefined, undefined, { items }],
    [2, undefined, { items: ['a', 'b'], next: 'b' }],
    [2, 'b', { items: ['c', 'd'] }],
    [2, 'bb', { items: ['c', 'd'] }],
    [10, undefined, { items }],
    [0, undefined, { items: [] }],
    [1, 'd', { items: [] }],
  ];
  for (const [n, last, expected] of cases) it(`n=${n} last=${last}`, () => assert.deepEqual(pageAfter(items, n, last, compareBytes), expected));
});

describe('text log format', () => {
  it('writes nested fields as dotted keys', () => {
    const line = formatText(JSON.stringify({ level: 30, time: 't', msg: 'm', http: { request: { method: 'GET' }, response: { status: 200 } } }));
    assert.equal(line, 'time="t" level=info msg="m" http.request.method=GET http.response.status=200\n');
  });
  it('writes logrus-style lines', () => {
    const line = formatText(JSON.stringify({ level: 40, time: '2026-01-01T00:00:00.000Z', msg: 'hello world', service: 'registry', n: 3 }));
    assert.equal(line, 'time="2026-01-01T00:00:00.000Z" level=warning msg="hello world" service=registry n=3\n');
  });
  it('writes a message that is not a string as JSON, never [object Object]', () => {
    const line = formatText(JSON.stringify({ level: 30, time: 't', msg: { a: 1 } }));
    assert.equal(line, 'time="t" level=info msg="{\\"a\\":1}"\n');
  });
});

describe('Lru', () => {
  it('evicts the least recently used past capacity, by weight', () => {
    const lru = new Lru<string, number>(3);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    lru.get('a');
    lru.set('d', 4);
    assert.equal(lru.get('b'), undefined);
    assert.equal(lru.get('a'), 1);
    const weighted = new Lru<string, string>(10, (v) => v.length);
    weighted.set('x', '123456');
    weighted.set('y', '123456');
    assert.equal(weighted.get('x'), undefined);
    assert.equal(weighted.get('y'), '123456');
  });
  it('bounds entries and weight at once, reports both, and keeps nothing heavier than its capacity', () => {
    const lru = new Lru<string, string>(100, (v, k) => v.length + k.length, 3);
    for (const k of ['a', 'b', 'c', 'd']) lru.set(k, 'xxxx');
    assert.equal(lru.size, 3, 'at most 3 entries');
    assert.equal(lru.get('a'), undefined, 'the oldest went first');
    assert.equal(lru.weight, 15);
    lru.set('big', 'y'.repeat(98));
    assert.equal(lru.get('big'), undefined, 'heavier than the capacity: not kept');
    lru.set('e', 'z'.repeat(80));
    assert.ok(lru.weight <= 100, `weight ${lru.weight} within capacity`);
    assert.equal(lru.get('e'), 'z'.repeat(80));
    lru.deleteWhere((k) => k === 'e');
    assert.equal(lru.get('e'), undefined);
    const off = new Lru<string, string>(0);
    off.set('a', 'b');
    assert.equal(off.size, 0, 'capacity 0 keeps nothing');
  });
});

describe('catalog order and index', () => {
  it('sorts "/" before every other character, as Distribution does', () => {
    const names = ['a-c', 'a/b', 'a', 'b', 'a.b', 'a/b/c', 'a0'];
    assert.deepEqual([...names].sort(compareRepositoryNames), ['a', 'a/b', 'a/b/c', 'a-c', 'a.b', 'a0', 'b']);
  });
  it('pages with last and n, and learns new repositories without a walk', async () => {
    const driver = new InMemoryDriver();
    for (const name of ['x/one', 'x/two', 'y']) await driver.putContent(`/docker/registry/v2/repositories/${name}/_layers/sha256/${'a'.repeat(64)}/link`, Buffer.from('x'));
    let now = 0;
    const index = new CatalogIndex(driver, { refreshMs: 1000, now: () => now });
    assert.deepEqual(await index.page(2, undefined), { items: ['x/one', 'x/two'], next: 'x/two' });
    assert.deepEqual(await index.page(2, 'x/two'), { items: ['y'] });
    // add() follows a write to storage (a walk replaces the index with what storage holds).
    await driver.putContent(`/docker/registry/v2/repositories/x/three/_layers/sha256/${'a'.repeat(64)}/link`, Buffer.from('x'));
    await index.add('x/three');
    assert.deepEqual((await index.page(10, undefined)).items, ['x/one', 'x/three', 'x/two', 'y']);
    // A repository another replica made shows up after the refresh interval.
    await driver.putContent(`/docker/registry/v2/repositories/z/_manifests/tags/t/current/link`, Buffer.from('x'));
    assert.deepEqual((await index.page(10, undefined)).items, ['x/one', 'x/three', 'x/two', 'y']);
    now = 2000;
    await index.page(10, undefined);
    await index.refresh();
    assert.deepEqual((await index.page(10, undefined)).items, ['x/one', 'x/three', 'x/two', 'y', 'z']);
  });
});
