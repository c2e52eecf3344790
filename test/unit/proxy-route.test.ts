// routeRequest: which requests go to an upstream (as which name, cached where) and which are hosted.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseConfig } from '../../src/config/load.js';
import { OciError } from '../../src/oci/errors.js';
import type { RepositoryName } from '../../src/oci/reference.js';
import { routeRequest } from '../../src/proxy/route.js';
import { proxyUpstreams } from '../../src/proxy/schema.js';

const upstreamsOf = (proxy: unknown) => proxyUpstreams(parseConfig({ version: '0.1', storage: { inmemory: {} }, proxy }).proxy);

const several = upstreamsOf({
  upstreams: [
    { name: 'dockerhub', url: 'https://registry-1.docker.io', namespaces: ['docker.io', 'index.docker.io'] },
    { name: 'quay', url: 'https://quay.io', namespaces: ['quay.io'], prefix: 'mirrors/quay' },
    { name: 'internal', url: 'https://registry.corp.example:5000', namespaces: ['registry.corp.example:5000'] },
  ],
});

/** The route as a short tuple: [kind, upstream name, upstreamName, localName]. */
function route(name: string, ns?: string, upstreams = several): readonly unknown[] {
  const r = routeRequest(upstreams, name as RepositoryName, ns);
  if (r.kind === 'hosted') return ['hosted', r.localName];
  if (r.kind === 'reserved') return ['reserved', r.upstream.name];
  return ['upstream', r.upstream.name, r.upstreamName, r.localName];
}

describe('routeRequest', () => {
  const cases: ReadonlyArray<readonly [string, string, string | undefined, readonly unknown[]]> = [
    ['a name outside every prefix, no ns: hosted', 'team/app', undefined, ['hosted', 'team/app']],
    ['an empty ns is no ns', 'team/app', '', ['hosted', 'team/app']],
    ['a bare name outside the prefixes: hosted', 'alpine', undefined, ['hosted', 'alpine']],
    ['ns=docker.io: the name as Docker Hub knows it', 'library/alpine', 'docker.io', ['upstream', 'dockerhub', 'library/alpine', 'dockerhub/library/alpine']],
    ['ns is case-insensitive', 'library/alpine', 'Docker.IO', ['upstream', 'dockerhub', 'library/alpine', 'dockerhub/library/alpine']],
    ['the other namespace of the same upstream', 'bitnami/redis', 'index.docker.io', ['upstream', 'dockerhub', 'bitnami/redis', 'dockerhub/bitnami/redis']],
    ['ns with a bare Docker Hub name gets library/', 'alpine', 'docker.io', ['upstream', 'dockerhub', 'library/alpine', 'dockerhub/library/alpine']],
    ['the prefix path with a bare name: the same cached repository', 'dockerhub/alpine', undefined, ['upstream', 'dockerhub', 'library/alpine', 'dockerhub/library/alpine']],
    ['the prefix path with library/: the same again', 'dockerhub/library/alpine', undefined, ['upstream', 'dockerhub', 'library/alpine', 'dockerhub/library/alpine']],
    ['a multi-component prefix', 'mirrors/quay/prometheus/node-exporter', undefined, ['upstream', 'quay', 'prometheus/node-exporter', 'mirrors/quay/prometheus/node-exporter']],
    ['no library/ for an upstream that is not Docker Hub', 'mirrors/quay/busybox', undefined, ['upstream', 'quay', 'busybox', 'mirrors/quay/busybox']],
    ['a namespace with a port', 'team/app', 'registry.corp.example:5000', ['upstream', 'internal', 'team/app', 'internal/team/app']],
    ['ns wins over a prefix in the name (the name is the upstream\'s)', 'dockerhub/x', 'quay.io', ['upstream', 'quay', 'dockerhub/x', 'mirrors/quay/dockerhub/x']],
    ['an unconfigured ns is ignored: never a host to dial', 'library/alpine', 'evil.example', ['hosted', 'library/alpine']],
    ['an unconfigured ns with a prefixed name: the prefix', 'dockerhub/alpine', '127.0.0.1:22', ['upstream', 'dockerhub', 'library/alpine', 'dockerhub/library/alpine']],
    ['a name that only starts like a prefix: hosted', 'dockerhubx/alpine', undefined, ['hosted', 'dockerhubx/alpine']],
    ['a partial multi-component prefix: hosted', 'mirrors/other', undefined, ['hosted', 'mirrors/other']],
    ['the prefix itself: reserved', 'dockerhub', undefined, ['reserved', 'dockerhub']],
    ['a multi-component prefix itself: reserved', 'mirrors/quay', undefined, ['reserved', 'quay']],
  ];
  for (const [name, repo, ns, want] of cases) it(name, () => assert.deepEqual(route(repo, ns), want));

  it("Distribution's form: every name is the remote's, ns ignored, library/ for Docker Hub", () => {
    const hub = upstreamsOf({ remoteurl: 'https://registry-1.docker.io' });
    assert.deepEqual(route('alpine', undefined, hub), ['upstream', 'remote', 'library/alpine', 'library/alpine']);
    assert.deepEqual(route('library/alpine', 'quay.io', hub), ['upstream', 'remote', 'library/alpine', 'library/alpine']);
    const other = upstreamsOf({ remoteurl: 'http://mirror.local:5000' });
    assert.deepEqual(route('alpine', undefined, other), ['upstream', 'remote', 'alpine', 'alpine']);
  });

  it('no proxy: everything is hosted', () => {
    assert.deepEqual(route('library/alpine', 'docker.io', []), ['hosted', 'library/alpine']);
  });

  it('a cached name too long for the limit is NAME_INVALID', () => {
    const long = `a/${'b'.repeat(250)}`;
    assert.deepEqual(route(long), ['hosted', long]);
    assert.throws(() => routeRequest(several, long as RepositoryName, 'docker.io'), (err: unknown) => err instanceof OciError && err.code === 'NAME_INVALID');
  });
});
