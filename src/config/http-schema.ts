/** The `http` section: the listener, TLS, response headers, the debug listener. */
import { z } from 'zod';
import { booleanField, durationField, enumField, integerField, headersField as headerMap, isHttpUrl as isAbsoluteHttpUrl, looseSection, optionalSection, requiredString, section, stringField, stringListField, toStringList } from '../config-fields/fields.js';
import type { KeyDocs } from '../config-fields/schema-tree.js';
import { rateLimitSchema } from '../ratelimit/schema.js';

/** TLS versions accepted by `http.tls.minimumtls`. */
export const TLS_VERSIONS = ['tls1.0', 'tls1.1', 'tls1.2', 'tls1.3'] as const;

/** The cipher suite names Distribution accepts in `http.tls.ciphersuites` (Go's names). */
export const TLS_CIPHER_SUITES = [
  'TLS_RSA_WITH_RC4_128_SHA',
  'TLS_RSA_WITH_3DES_EDE_CBC_SHA',
  'TLS_RSA_WITH_AES_128_CBC_SHA',
  'TLS_RSA_WITH_AES_256_CBC_SHA',
  'TLS_RSA_WITH_AES_128_CBC_SHA256',
  'TLS_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_RC4_128_SHA',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA',
  'TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA',
  'TLS_ECDHE_RSA_WITH_RC4_128_SHA',
  'TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA',
  'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA',
  'TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA',
  'TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256',
  'TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384',
  'TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256',
  'TLS_AES_128_GCM_SHA256',
  'TLS_AES_256_GCM_SHA384',
  'TLS_CHACHA20_POLY1305_SHA256',
] as const;

/** Client certificate modes of `http.tls.clientauth` (Go's tls.ClientAuthType names, as Distribution spells them). */
export const TLS_CLIENT_AUTH_MODES = ['request-client-cert', 'require-any-client-cert', 'verify-client-cert-if-given', 'require-and-verify-client-cert'] as const;

/** Sent on every response unless http.headers is set: browsers must not sniff blobs as HTML. */
const defaultHeaders = (): Record<string, string[]> => ({ 'X-Content-Type-Options': ['nosniff'] });

const headersField = headerMap(defaultHeaders);

function normalizePrefix(prefix: string): string {
  const segments = prefix.split('/').filter((s) => s !== '');
  return segments.length === 0 ? '' : `/${segments.join('/')}`;
}

/** `http.host` may be empty (derive URLs from requests) or an absolute http(s) URL. */
function isHttpUrl(value: string): boolean {
  return value === '' || isAbsoluteHttpUrl(value);
}

const tlsSchema = optionalSection({
  certificate: stringField(''),
  key: stringField(''),
  clientcas: stringListField(),
  clientauth: enumField(TLS_CLIENT_AUTH_MODES, 'require-and-verify-client-cert'),
  minimumtls: enumField(TLS_VERSIONS, 'tls1.2'),
  ciphersuites: z.preprocess(toStringList, z.array(z.enum(TLS_CIPHER_SUITES)).default(() => [])),
  letsencrypt: looseSection(),
}).check(
  z.superRefine((tls, ctx) => {
    if (tls === undefined) return;
    // Berth serves the certificate it is given; letsencrypt is accepted (Distribution ignores it too once a
    // certificate is set) but certificates are not obtained from Let's Encrypt.
    const hint = tls.letsencrypt !== undefined ? " (Berth does not obtain certificates from Let's Encrypt)" : '';
    if (tls.certificate === '') ctx.addIssue({ code: 'custom', path: ['certificate'], message: `required when http.tls is set${hint}` });
    if (tls.key === '') ctx.addIssue({ code: 'custom', path: ['key'], message: `required when http.tls is set${hint}` });
  }),
);

export const httpSchema = section({
  addr: stringField(''),
  net: enumField(['tcp', 'unix'], 'tcp'),
  prefix: stringField('').transform(normalizePrefix),
  host: stringField('').refine(isHttpUrl, { message: 'must be an absolute http:// or https:// URL' }),
  secret: stringField(''),
  relativeurls: booleanField(false),
  draintimeout: durationField(0),
  /** Berth only: upload requests streaming a body at once; more get 429 (docs/memory.md). */
  maxuploads: integerField(512, 1),
  headers: headersField,
  tls: tlsSchema,
  debug: optionalSection({
    addr: requiredString(),
    prometheus: section({ enabled: booleanField(false), path: stringField('/metrics', { emptyMeansDefault: true }) }),
  }),
  http2: section({ disabled: booleanField(false) }),
  /** Berth only: registry processes behind one socket (node:cluster); `auto` is one per core. */
  workers: z
    .unknown()
    .optional()
    .transform((value, ctx): number | 'auto' => {
      if (value === undefined) return 1;
      if (value === 'auto' || (typeof value === 'number' && Number.isInteger(value) && value >= 1 && value <= 256)) return value;
      ctx.addIssue({ code: 'custom', message: 'must be a whole number from 1 to 256, or auto' });
      return z.NEVER;
    }),
  h2c: section({ enabled: booleanField(false) }),
  /** Berth only: per-client request rate limits (src/ratelimit/schema.ts). */
  ratelimit: rateLimitSchema,
})
  .check(
    z.superRefine((http, ctx) => {
      if (http.net === 'unix' && http.addr === '') ctx.addIssue({ code: 'custom', path: ['addr'], message: 'a socket path is required when http.net is unix' });
    }),
  )
  // Go leaves an empty addr to net/http, which listens on :https with TLS and :http without; Distribution's
  // documented default port is 5000, so an unset addr is :5000, or :443 once TLS is configured.
  .transform((http) => ({ ...http, addr: http.addr !== '' ? http.addr : http.tls !== undefined ? ':443' : ':5000' }));

/** What docs/configuration.md says of each key of `http` (relative key paths). */
export const httpKeyDocs: KeyDocs = {
  addr: { type: 'string', default: '`:5000`', text: 'Listening address: `HOST:PORT` for tcp, a socket path for unix. Empty or unset means `:5000`, or `:443` when `http.tls` is configured.' },
  net: { type: '`tcp` \\| `unix`', default: '`tcp`', text: 'Network of the listener. With `unix`, `http.addr` must be set.' },
  prefix: { type: 'string', default: '`""`', text: 'Path the registry is served under, before `/v2`. Normalised to one leading slash and no trailing slash (`registry/` becomes `/registry`; `/` becomes `""`).' },
  host: { type: 'string', default: '`""`', text: 'Externally reachable URL of the registry (absolute `http://` or `https://`), used to build URLs in responses. Empty: derived from each request.' },
  secret: { type: 'string', default: '`""`', text: 'Secret that signs upload state given to clients. Must be the same on all replicas behind a load balancer. Empty: a random secret is generated at start (with a warning).' },
  relativeurls: { type: 'boolean', default: '`false`', text: 'Return relative URLs in `Location` headers.' },
  draintimeout: { type: 'duration', default: '`0s`', text: 'On shutdown, how long to wait for requests in flight.' },
  maxuploads: { type: 'integer ≥ 1', default: '`512`', text: 'Upload requests (PATCH, PUT, POST with a body) that may stream data into this process at once; more get 429 `TOOMANYREQUESTS` with `Retry-After` before their body is read. Berth extension, see [memory.md](memory.md).' },
  headers: { type: 'map of name to list of strings', default: '`{X-Content-Type-Options: [nosniff]}`', text: 'Headers added to every response. Names keep their case and must be valid header names; a single string is a one-value list. Setting the map replaces the default.' },
  'tls.certificate': { type: 'string', default: '— (required with `tls`)', text: 'PEM certificate (chain) file.' },
  'tls.key': { type: 'string', default: '— (required with `tls`)', text: 'PEM private key file.' },
  'tls.clientcas': { type: 'list', default: '`[]`', text: 'CA files for client certificate authentication.' },
  'tls.clientauth': { type: '`request-client-cert` \\| `require-any-client-cert` \\| `verify-client-cert-if-given` \\| `require-and-verify-client-cert`', default: '`require-and-verify-client-cert`', text: 'Client certificate mode, when `clientcas` is set.' },
  'tls.minimumtls': { type: '`tls1.0` \\| `tls1.1` \\| `tls1.2` \\| `tls1.3`', default: '`tls1.2`', text: 'Lowest TLS version accepted.' },
  'tls.ciphersuites': { type: 'list of Go cipher suite names', default: '`[]` (the defaults)', text: 'Allowed cipher suites (e.g. `TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256`); names are checked against Distribution\'s list.' },
  'tls.letsencrypt': { type: 'map', default: '—', text: 'Distribution\'s Let\'s Encrypt settings; accepted, but Berth does not obtain certificates, so `certificate` and `key` are still required.' },
  'debug.addr': { type: 'string', default: '— (required with `debug`)', text: 'Address of the diagnostics listener (keep it private).' },
  'debug.prometheus.enabled': { type: 'boolean', default: '`false`', text: 'Serve Prometheus metrics on the debug listener.' },
  'debug.prometheus.path': { type: 'string', default: '`/metrics`', text: 'Path of the metrics endpoint.' },
  'http2.disabled': { type: 'boolean', default: '`false`', text: 'Disable HTTP/2 over TLS.' },
  workers: { type: 'integer 1–256 \\| `auto`', default: '`1`', text: 'Berth only. Registry processes serving one listening socket (Node\'s `cluster`); `auto` is one per core. Workers share the HTTP secret (generated once by the primary when none is set), tell each other about new repositories, and the debug server (in worker 0, with upload purging) reports every worker\'s metrics summed. Each worker holds its own caches and ~70 MiB of memory at rest.' },
  'h2c.enabled': { type: 'boolean', default: '`false`', text: 'Allow HTTP/2 over cleartext.' },
  'ratelimit.enabled': { type: 'boolean', default: '`false`', text: 'Berth only: per-client request rate limits; a request over its budget gets `429 TOOMANYREQUESTS` with `Retry-After`. Off by default, as in Distribution. See [hardening](hardening.md#request-rate-limits).' },
  'ratelimit.reads.rate': { type: 'number', default: '`50`', text: 'Requests per second each client may make with `GET`, `HEAD` (and any other method that is not a write), on average. Fractions are allowed (`0.5`); `0`: reads are not limited.' },
  'ratelimit.reads.burst': { type: 'integer ≥ 1', default: '`300`', text: 'Reads a client may make at once after being idle (the bucket\'s size).' },
  'ratelimit.writes.rate': { type: 'number', default: '`10`', text: 'Requests per second each client may make with `POST`, `PUT`, `PATCH`, `DELETE`; `0`: writes are not limited.' },
  'ratelimit.writes.burst': { type: 'integer ≥ 1', default: '`100`', text: 'Writes a client may make at once after being idle.' },
  'ratelimit.key': { type: '`address` \\| `user`', default: '`address`', text: 'Who a budget belongs to: the client address, or the authenticated user name (anonymous requests by address; counted after authentication).' },
  'ratelimit.exempt': { type: 'list of paths', default: '`[/, /v2/]`', text: 'Paths (after `http.prefix`, without the query) never limited: load-balancer and liveness probes. A trailing slash does not matter. `[]` exempts nothing.' },
  'ratelimit.trustedproxies': { type: 'list of addresses or CIDR blocks', default: '`[]`', text: 'Peers whose `X-Forwarded-For` is believed: with a trusted peer, the client is the rightmost address of the header that is not itself trusted. Empty: the TCP peer is the client.' },
  'ratelimit.ipv6prefix': { type: 'integer 1–128', default: '`64`', text: 'IPv6 clients are keyed by this many leading bits of their address (one host usually has a whole /64). `128`: each address.' },
  'ratelimit.maxclients': { type: 'integer ≥ 1', default: '`10000`', text: 'Clients tracked by the in-process store; beyond it the least recently seen is forgotten (its bucket starts full again).' },
  'ratelimit.store': { type: '`auto` \\| `inmemory` \\| `redis`', default: '`auto`', text: 'Where buckets live: `auto` uses Redis when the `redis` section is set (one budget shared by every replica), else this process. `redis` without a `redis` section stops start-up.' },
  'ratelimit.redistimeout': { type: 'duration', default: '`50ms`', text: 'The longest a decision waits for Redis; after it (or any Redis error) the request is allowed and Redis is not asked for a second.' },
};
