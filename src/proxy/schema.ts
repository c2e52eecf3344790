/**
 * The `proxy` configuration section: the pull-through cache. Two forms, never both in one file.
 *
 * Distribution's, unchanged: the whole registry is a read-only cache of one upstream.
 *
 *   proxy:
 *     remoteurl: https://registry-1.docker.io
 *     username: alice          # optional
 *     password: secret         # optional, never logged
 *     ttl: 168h                # Distribution: how long cached content is kept (0: for ever)
 *
 * Berth's: several upstreams beside hosted repositories.
 *
 *   proxy:
 *     upstreams:
 *       - name: dockerhub                            # required, unique: names it in logs and metrics
 *         url: https://registry-1.docker.io          # required, http(s), no credentials in it
 *         namespaces: [docker.io, index.docker.io]   # ?ns=<one of these> routes here (lookup keys, never dialled)
 *         prefix: dockerhub                          # /v2/dockerhub/<name>/... routes here; default: the name
 *         username: ...                              # optional: Basic, or the token flow the upstream asks for
 *         password: ...
 *         ttl: 1h                                    # how long a tag's resolution is trusted
 *         ca: /etc/berth/upstream-ca.pem             # optional: PEM CA certificates trusted for this upstream
 *         insecure: false                            # true: do not verify the upstream's certificate
 *
 * Plugged into the root schema as `proxy: proxySchema`; {@link proxyUpstreams} turns either form into the
 * one list the rest of the proxy is written against. Written with the field helpers of config-fields/.
 */
import { z } from 'zod';
import { booleanField, durationField, isHttpUrl, isPlainObject, listField, optionalDuration, optionalString, requiredString, section, stringField, stringListField } from '../config-fields/fields.js';
import type { KeyDocs } from '../config-fields/schema-tree.js';
import { isRepositoryName, MAX_NAME_LENGTH } from '../oci/reference.js';

/** Distribution's default `proxy.ttl` (the age at which it deletes cached content): 7 days. */
export const DISTRIBUTION_PROXY_TTL_MS = 168 * 3600_000;

/** Berth's default `proxy.upstreams[].ttl`: a tag is asked of the upstream again after an hour. */
export const DEFAULT_UPSTREAM_TTL_MS = 3600_000;

/** The name the remoteurl form's one upstream gets in logs and metrics. */
export const REMOTE_UPSTREAM_NAME = 'remote';

/** An upstream's name: a label for logs and metrics (and the default prefix). */
const NAME = /^[a-z0-9]+(?:[._-][a-z0-9]+)*$/;
/** A namespace as containerd and CRI-O send it in `ns`: a registry host, with an optional port. */
const NAMESPACE = /^(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?(?:\.[a-z0-9](?:[a-z0-9-]*[a-z0-9])?)*|\[[0-9a-f:.]+\])(?::\d{1,5})?$/;

/** An http(s) URL without credentials (they go in username/password, which are never logged). */
function upstreamUrlField(what: string) {
  return requiredString(what).check(
    z.superRefine((url, ctx) => {
      // The value is never echoed: it may carry credentials.
      if (!isHttpUrl(url)) ctx.addIssue({ code: 'custom', message: 'must be an absolute http:// or https:// URL' });
      else if (hasUserinfo(url)) ctx.addIssue({ code: 'custom', message: 'must not carry credentials; set username and password instead' });
      else if (hasQueryOrFragment(url)) ctx.addIssue({ code: 'custom', message: 'must not have a query or a fragment' });
    }),
  );
}

function hasUserinfo(url: string): boolean {
  const parsed = new URL(url);
  return parsed.username !== '' || parsed.password !== '';
}

function hasQueryOrFragment(url: string): boolean {
  const parsed = new URL(url);
  return parsed.search !== '' || parsed.hash !== '' || url.includes('?') || url.includes('#');
}

const upstreamSchema = section({
  name: requiredString('the upstream name').check(
    z.superRefine((name, ctx) => {
      if (!NAME.test(name)) ctx.addIssue({ code: 'custom', message: 'must be lowercase letters and digits, separated by single ".", "_" or "-"' });
    }),
  ),
  url: upstreamUrlField('the upstream URL'),
  namespaces: stringListField().transform((list) => list.map((ns) => ns.toLowerCase())).check(
    z.superRefine((list, ctx) => {
      list.forEach((ns, i) => {
        if (!NAMESPACE.test(ns)) ctx.addIssue({ code: 'custom', path: [i], message: `${JSON.stringify(ns)} is not a registry host (host or host:port)` });
      });
    }),
  ),
  prefix: optionalString().check(
    z.superRefine((prefix, ctx) => {
      if (prefix !== undefined && !isRepositoryName(prefix)) {
        ctx.addIssue({ code: 'custom', message: `${JSON.stringify(prefix)} is not a repository name path (components of lowercase letters and digits, separated by "/")` });
      } else if (prefix !== undefined && prefix.length > MAX_NAME_LENGTH - 2) {
        ctx.addIssue({ code: 'custom', message: 'is too long to leave room for a repository name below it' });
      }
    }),
  ),
  username: stringField(''),
  password: stringField(''),
  ttl: durationField(DEFAULT_UPSTREAM_TTL_MS, { examples: '5m, 1h or 24h' }),
  ca: optionalString(),
  insecure: booleanField(false),
});

const proxyShape = {
  remoteurl: z.preprocess((value) => (value === '' || value === null ? undefined : value), upstreamUrlField('the remote registry URL').optional()),
  username: stringField(''),
  password: stringField(''),
  ttl: optionalDuration({ examples: '24h or 168h' }),
  upstreams: listField(upstreamSchema),
};

/** The parsed section, before {@link proxyUpstreams}. */
type ProxySection = z.output<z.ZodObject<typeof proxyShape>>;

/** Absent, null, '' and an empty mapping all mean no proxy, as for the sections Berth does not implement. */
function unsetIfEmptySection(value: unknown): unknown {
  if (value === null || value === '') return undefined;
  return isPlainObject(value) && Object.keys(value).length === 0 ? undefined : value;
}

/** The `proxy` section; undefined when absent, null, '' or empty. */
export const proxySchema = z.preprocess(unsetIfEmptySection, z.strictObject(proxyShape).optional()).check(z.superRefine(checkProxy));

/** The parsed `proxy` section (undefined: the registry caches nothing). */
export type ProxyConfig = ProxySection | undefined;

/** Checks that span the section: one form only, unique names, prefixes and namespaces. */
function checkProxy(proxy: ProxySection | undefined, ctx: z.RefinementCtx): void {
  if (proxy === undefined) return;
  const { remoteurl, upstreams } = proxy;
  if (remoteurl !== undefined && upstreams.length > 0) {
    ctx.addIssue({ code: 'custom', path: ['upstreams'], message: 'cannot be combined with proxy.remoteurl (remoteurl makes the whole registry a cache of one upstream)' });
  }
  if (remoteurl === undefined && upstreams.length === 0) {
    ctx.addIssue({ code: 'custom', message: 'set proxy.remoteurl (the whole registry caches one upstream) or proxy.upstreams' });
  }
  if (remoteurl === undefined) {
    for (const key of ['username', 'password'] as const) {
      if (proxy[key] !== '') ctx.addIssue({ code: 'custom', path: [key], message: 'applies to proxy.remoteurl; give each upstream its own under proxy.upstreams' });
    }
    if (proxy.ttl !== undefined) ctx.addIssue({ code: 'custom', path: ['ttl'], message: 'applies to proxy.remoteurl; give each upstream its own under proxy.upstreams' });
  }
  const names = new Map<string, number>();
  const prefixes: Array<{ prefix: string; index: number }> = [];
  const namespaces = new Map<string, number>();
  upstreams.forEach((upstream, i) => {
    const other = names.get(upstream.name);
    if (other !== undefined) ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'name'], message: `duplicate upstream name ${JSON.stringify(upstream.name)} (also upstreams[${other}])` });
    else names.set(upstream.name, i);
    const prefix = upstream.prefix ?? upstream.name;
    for (const seen of prefixes) {
      if (seen.prefix === prefix || seen.prefix.startsWith(`${prefix}/`) || prefix.startsWith(`${seen.prefix}/`)) {
        ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'prefix'], message: `prefix ${JSON.stringify(prefix)} overlaps the prefix ${JSON.stringify(seen.prefix)} of upstreams[${seen.index}]` });
      }
    }
    prefixes.push({ prefix, index: i });
    upstream.namespaces.forEach((ns, j) => {
      const owner = namespaces.get(ns);
      if (owner !== undefined && owner !== i) ctx.addIssue({ code: 'custom', path: ['upstreams', i, 'namespaces', j], message: `namespace ${JSON.stringify(ns)} is already routed to upstreams[${owner}]` });
      else namespaces.set(ns, i);
    });
  });
}

/** One upstream registry, from either form of the section: what routing and the upstream client use. */
export interface Upstream {
  /** Names it in logs and metrics (`remote` for the remoteurl form). */
  readonly name: string;
  /** The upstream's base URL, without a trailing slash (`https://registry-1.docker.io`). */
  readonly url: string;
  /** The `ns` values routed here, lowercase. */
  readonly namespaces: readonly string[];
  /** Where its repositories live locally (`dockerhub` → `dockerhub/<name>`); '' for the remoteurl form, where every name is the upstream's. */
  readonly prefix: string;
  /** Credentials for Basic or the token flow; undefined: anonymous. Never logged. */
  readonly credentials: { readonly username: string; readonly password: string } | undefined;
  /** How long a tag's resolution is trusted, in ms (0: ask the upstream every time, as Distribution does). */
  readonly tagTtl: number;
  /** Distribution's `proxy.ttl`: cached content older than this (ms) is deleted; 0 keeps it. Only the remoteurl form sets it. */
  readonly contentTtl: number;
  /** A PEM file of CA certificates trusted for this upstream, beside the system's. */
  readonly ca: string | undefined;
  /** Do not verify the upstream's TLS certificate. */
  readonly insecure: boolean;
  /** True when the upstream is Docker Hub, whose one-component names live under `library/`. */
  readonly dockerHub: boolean;
}

/** The hosts Docker Hub's registry API answers on (its `namespaces` in containerd's sense, plus the API host). */
const DOCKER_HUB_HOSTS: ReadonlySet<string> = new Set(['registry-1.docker.io', 'index.docker.io', 'docker.io', 'registry.hub.docker.com']);

function isDockerHub(url: string): boolean {
  return DOCKER_HUB_HOSTS.has(new URL(url).hostname.toLowerCase());
}

function credentials(username: string, password: string): Upstream['credentials'] {
  return username === '' && password === '' ? undefined : { username, password };
}

/**
 * The upstreams of a parsed `proxy` section, in configuration order: none without the section, one
 * whole-registry upstream (prefix '') for Distribution's remoteurl form.
 */
export function proxyUpstreams(proxy: ProxyConfig): readonly Upstream[] {
  if (proxy === undefined) return [];
  if (proxy.remoteurl !== undefined) {
    const url = proxy.remoteurl.replace(/\/+$/, '');
    return [
      {
        name: REMOTE_UPSTREAM_NAME,
        url,
        namespaces: [],
        prefix: '',
        credentials: credentials(proxy.username, proxy.password),
        tagTtl: 0,
        contentTtl: proxy.ttl ?? DISTRIBUTION_PROXY_TTL_MS,
        ca: undefined,
        insecure: false,
        dockerHub: isDockerHub(url),
      },
    ];
  }
  return proxy.upstreams.map((u) => {
    const url = u.url.replace(/\/+$/, '');
    return {
      name: u.name,
      url,
      namespaces: u.namespaces,
      prefix: u.prefix ?? u.name,
      credentials: credentials(u.username, u.password),
      tagTtl: u.ttl,
      contentTtl: 0,
      ca: u.ca,
      insecure: u.insecure,
      dockerHub: isDockerHub(url),
    };
  });
}

/** What docs/configuration.md says of each key of `proxy` (relative key paths). */
export const proxyKeyDocs: KeyDocs = {
  remoteurl: {
    type: 'http(s) URL',
    default: '—',
    text: "Distribution's form: the whole registry becomes a read-only cache of this registry (pushes are refused with `UNSUPPORTED`). Cannot be combined with `upstreams`. No credentials in the URL: use `username` and `password`. See [pull-through-cache.md](pull-through-cache.md).",
  },
  username: { type: 'string', default: '`""`', text: 'With `remoteurl`: the user name Berth logs in to the remote registry with (Basic, or the token flow it asks for). Empty: anonymous.' },
  password: { type: 'string', default: '`""`', text: 'With `remoteurl`: its password. Never logged.' },
  ttl: {
    type: 'duration',
    default: '`168h`',
    text: "With `remoteurl`: Distribution's expiry of cached content (`0`: kept for ever). Tags are asked of the remote on every pull, as Distribution does.",
  },
  upstreams: {
    type: 'list of upstreams',
    default: '`[]`',
    text:
      'Berth only: several upstream registries beside hosted repositories. Each: `name` (required, unique; lowercase letters, digits, `.`, `_`, `-`), ' +
      '`url` (required; `http://` or `https://`, no credentials), `namespaces` (list of registry hosts: a request carrying `?ns=<one of these>`, as containerd and CRI-O send, goes to this upstream; a lookup key, never dialled), ' +
      '`prefix` (default: the name; a repository name path: `/v2/<prefix>/<name>/...` goes to this upstream as `<name>`, and everything fetched through the upstream is stored as `<prefix>/<name>`; prefixes must not overlap), ' +
      '`username`, `password` (optional; never logged), `ttl` (`1h`: how long a tag\'s resolution is trusted before asking again), `ca` (a PEM file of CA certificates to trust for this upstream), `insecure` (`false`; `true`: do not verify its certificate). ' +
      'Names outside every prefix, asked without a configured `ns`, are hosted repositories.',
  },
};
