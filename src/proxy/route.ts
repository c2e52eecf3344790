/**
 * Which registry answers a repository request: a hosted repository, or an upstream through the cache.
 * Pure: the wrapper of the storage services asks it once per request, with the repository name of the
 * URL and the `ns` query parameter containerd (hosts.toml) and CRI-O send when Berth mirrors a registry.
 *
 * Rules, in order:
 * 1. the remoteurl form (an upstream whose prefix is ''): every name is the upstream's;
 * 2. `ns` naming a configured namespace: the name is as that upstream knows it (`library/alpine`);
 *    `ns` is only ever a lookup key among configured namespaces, never a host to dial, and an
 *    unconfigured `ns` is ignored (as Distribution ignores the parameter);
 * 3. a name below a configured prefix (`dockerhub/library/alpine`): the upstream of that prefix, as the
 *    rest of the name;
 * 4. the prefix itself (`dockerhub`) names no repository of either kind: reserved;
 * 5. anything else is hosted (push and pull).
 *
 * One upstream repository is one cached repository: the local name is always `<prefix>/<upstream name>`,
 * so `/v2/library/alpine?ns=docker.io`, `/v2/dockerhub/library/alpine` and `/v2/dockerhub/alpine` (a
 * bare Docker Hub name, which gets `library/`) all read and fill `dockerhub/library/alpine`.
 */
import { OciError } from '../oci/errors.js';
import { isRepositoryName, MAX_NAME_LENGTH, type RepositoryName } from '../oci/reference.js';
import type { Upstream } from './schema.js';

/** Where a request for a repository goes. */
export type Route =
  | { readonly kind: 'hosted'; readonly localName: RepositoryName }
  | {
      readonly kind: 'upstream';
      readonly upstream: Upstream;
      /** The repository as the upstream knows it (`library/alpine`). */
      readonly upstreamName: RepositoryName;
      /** Where its content is cached here (`dockerhub/library/alpine`). */
      readonly localName: RepositoryName;
    }
  /** A configured prefix by itself: no repository (pulls are NAME_UNKNOWN, pushes UNSUPPORTED). */
  | { readonly kind: 'reserved'; readonly upstream: Upstream };

/**
 * Routes a request for repository `name` (already a valid repository name) carrying `ns` (the query
 * parameter, undefined or '' when absent) among `upstreams` (from proxyUpstreams, in configuration order).
 * Throws NAME_INVALID when the cached name would exceed the name length limit.
 */
export function routeRequest(upstreams: readonly Upstream[], name: RepositoryName, ns: string | undefined): Route {
  const whole = upstreams.find((u) => u.prefix === '');
  if (whole !== undefined) return toUpstream(whole, name);
  if (ns !== undefined && ns !== '') {
    const wanted = ns.toLowerCase();
    const byNamespace = upstreams.find((u) => u.namespaces.includes(wanted));
    if (byNamespace !== undefined) return toUpstream(byNamespace, name);
  }
  for (const upstream of upstreams) {
    if (name === upstream.prefix) return { kind: 'reserved', upstream };
    if (name.startsWith(`${upstream.prefix}/`)) return toUpstream(upstream, name.slice(upstream.prefix.length + 1) as RepositoryName);
  }
  return { kind: 'hosted', localName: name };
}

/** The route of `name` (as the upstream knows it, before Docker Hub's `library/`) through `upstream`. */
function toUpstream(upstream: Upstream, name: RepositoryName): Route {
  const upstreamName = upstreamNameOf(upstream, name);
  const local = upstream.prefix === '' ? upstreamName : `${upstream.prefix}/${upstreamName}`;
  if (local.length > MAX_NAME_LENGTH || !isRepositoryName(local)) {
    throw new OciError('NAME_INVALID', { message: `repository name too long once cached as ${upstream.prefix}/...`, detail: { name: name.slice(0, 300) } });
  }
  return { kind: 'upstream', upstream, upstreamName, localName: local };
}

/** `name` as the upstream knows it: Docker Hub keeps its one-component (official) images under `library/`. */
export function upstreamNameOf(upstream: Upstream, name: RepositoryName): RepositoryName {
  return upstream.dockerHub && !name.includes('/') ? (`library/${name}` as RepositoryName) : name;
}
