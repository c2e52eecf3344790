/**
 * A client of one upstream registry (the Distribution API), for the pull-through cache: resolve a
 * manifest (HEAD), fetch one (GET, its digest checked), open a blob stream (GET, redirects to storage
 * followed, as Docker Hub's blobs redirect to a CDN).
 *
 * Authentication: a request goes out with what the upstream last asked for (a cached Bearer token for
 * the repository's pull scope, or Basic credentials); on 401 the WWW-Authenticate challenge decides:
 * Basic → the configured credentials; Bearer realm/service/scope → a token from the realm (with the
 * credentials as Basic when configured, anonymous otherwise), cached per scope until `expires_in` less a
 * margin; then the request is retried once. Credentials and tokens never appear in errors or logs.
 *
 * Failures are UpstreamErrors (not-found, unauthorized, unavailable, invalid); an aborted `signal`
 * rejects with the signal's reason instead. Connect and header timeouts are a few seconds, so an
 * unreachable upstream fails fast rather than holding the client's request.
 */
import { readFile } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { rootCertificates } from 'node:tls';
import type { Dispatcher } from 'undici';
import { digestAlgorithm, digestOf, DIGEST_ALGORITHMS, isDigest, type Digest, type DigestAlgorithm } from '../oci/digest.js';
import { MANIFEST_MEDIA_TYPES } from '../oci/media-types.js';
import type { RepositoryName } from '../oci/reference.js';
import { parseChallenges, type Challenge } from './challenge.js';
import { abortReason } from './coalesce.js';
import type { Upstream } from './schema.js';
import { TokenCache } from './token-cache.js';
import { Agent, request } from './undici-agent.js';
import { UpstreamError } from './upstream-error.js';

/** The largest manifest accepted from an upstream (what Berth accepts in a push). */
export const MAX_UPSTREAM_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Redirects followed for one blob (Docker Hub uses one). */
const MAX_REDIRECTS = 5;

/** Timeouts of a client, in ms. */
export interface UpstreamTimeouts {
  /** TCP and TLS connection set-up. Default 5 s. */
  readonly connect: number;
  /** From sending a request to the response's headers. Default 5 s. */
  readonly headers: number;
  /** Between two chunks of a body. Default 30 s. */
  readonly body: number;
}

export const DEFAULT_UPSTREAM_TIMEOUTS: UpstreamTimeouts = { connect: 5_000, headers: 5_000, body: 30_000 };

/** Options of {@link createUpstreamClient}. */
export interface UpstreamClientOptions {
  readonly timeouts?: Partial<UpstreamTimeouts>;
  /** The clock (ms) the token cache reads. */
  readonly now?: () => number;
  /** The User-Agent sent upstream. */
  readonly userAgent?: string;
}

/** What a HEAD of a manifest tells. */
export interface ManifestDescriptor {
  readonly digest: Digest;
  readonly mediaType: string;
  readonly size: number;
}

/** A manifest as the upstream served it. */
export interface UpstreamManifest extends ManifestDescriptor {
  readonly bytes: Buffer;
}

/** An open blob: its size when the upstream said it, and the bytes (destroy it to stop early). */
export interface UpstreamBlob {
  readonly size: number | undefined;
  readonly stream: Readable;
}

/** The operations the cache needs of an upstream. */
export interface UpstreamRegistry {
  readonly upstream: Upstream;
  /** HEAD a manifest by tag or digest, with `accept` forwarded (the default: every manifest type Berth stores). */
  resolveManifest(name: RepositoryName, reference: string, accept?: readonly string[], signal?: AbortSignal): Promise<ManifestDescriptor>;
  /** GET a manifest; its bytes hash to the digest it was served with (and to `reference`, when that is a digest). */
  getManifest(name: RepositoryName, reference: string, accept?: readonly string[], signal?: AbortSignal): Promise<UpstreamManifest>;
  /** GET a blob, following redirects; the caller verifies the digest of what it reads (see fill.ts). */
  openBlob(name: RepositoryName, digest: Digest, signal?: AbortSignal): Promise<UpstreamBlob>;
  /** Closes the connections. */
  close(): Promise<void>;
}

/** Builds the client of `upstream`, reading its `ca` file when set. */
export async function createUpstreamClient(upstream: Upstream, options: UpstreamClientOptions = {}): Promise<UpstreamRegistry> {
  const timeouts = { ...DEFAULT_UPSTREAM_TIMEOUTS, ...options.timeouts };
  // `ca` replaces Node's trust store, so the public roots go in beside the configured ones (a CDN redirect uses them).
  const ca = upstream.ca === undefined ? undefined : [...rootCertificates, await readFile(upstream.ca, 'utf8')];
  const agent = new Agent({
    connect: { timeout: timeouts.connect, ...(ca !== undefined ? { ca } : {}), ...(upstream.insecure ? { rejectUnauthorized: false } : {}) },
    headersTimeout: timeouts.headers,
    bodyTimeout: timeouts.body,
  });
  return new UpstreamClient(upstream, agent, new TokenCache(options.now), options.userAgent ?? 'berth');
}

type Headers = Record<string, string>;
type Response = Dispatcher.ResponseData;

class UpstreamClient implements UpstreamRegistry {
  /** What the upstream asked for last: requests start with it, so most need no 401 round trip. */
  #challenge: Challenge | undefined;

  constructor(
    readonly upstream: Upstream,
    private readonly agent: Agent,
    private readonly tokens: TokenCache,
    private readonly userAgent: string,
  ) {}

  async resolveManifest(name: RepositoryName, reference: string, accept?: readonly string[], signal?: AbortSignal): Promise<ManifestDescriptor> {
    const res = await this.send('HEAD', name, `/v2/${name}/manifests/${reference}`, { Accept: acceptHeader(accept) }, signal);
    await res.body.dump();
    this.expectOk(res, `manifest ${name}:${reference}`);
    const digest = headerOf(res, 'docker-content-digest');
    const size = Number(headerOf(res, 'content-length'));
    const mediaType = headerOf(res, 'content-type');
    // A registry that does not say the digest on HEAD: GET it and compute it.
    if (digest === undefined || !isDigest(digest) || !Number.isSafeInteger(size) || mediaType === undefined) {
      const { bytes: _bytes, ...descriptor } = await this.getManifest(name, reference, accept, signal);
      return descriptor;
    }
    if (isDigest(reference) && digest !== reference) throw this.invalid(`manifest ${name}@${reference} was served as ${digest}`);
    return { digest, mediaType: mediaTypeOf(mediaType), size };
  }

  async getManifest(name: RepositoryName, reference: string, accept?: readonly string[], signal?: AbortSignal): Promise<UpstreamManifest> {
    const res = await this.send('GET', name, `/v2/${name}/manifests/${reference}`, { Accept: acceptHeader(accept) }, signal);
    if (res.statusCode !== 200) await res.body.dump();
    this.expectOk(res, `manifest ${name}:${reference}`);
    const declared = Number(headerOf(res, 'content-length') ?? '0');
    if (declared > MAX_UPSTREAM_MANIFEST_BYTES) {
      res.body.destroy();
      throw this.invalid(`manifest ${name}:${reference} is ${declared} bytes, more than ${MAX_UPSTREAM_MANIFEST_BYTES}`);
    }
    const bytes = await this.readLimited(res, MAX_UPSTREAM_MANIFEST_BYTES, `manifest ${name}:${reference}`, signal);
    const served = headerOf(res, 'docker-content-digest');
    const wanted = isDigest(reference) ? reference : served !== undefined && isDigest(served) ? served : undefined;
    if (served !== undefined && !isDigest(served)) throw this.invalid(`manifest ${name}:${reference} came with a malformed Docker-Content-Digest`);
    let digest: Digest;
    if (wanted === undefined) {
      digest = digestOf(bytes);
    } else {
      digest = digestOf(bytes, algorithmOf(wanted));
      if (digest !== wanted) throw this.invalid(`manifest ${name}:${reference} does not hash to ${wanted} (got ${digest})`);
      if (served !== undefined && served !== wanted) throw this.invalid(`manifest ${name}@${reference} was served as ${served}`);
    }
    return { digest, mediaType: mediaTypeOf(headerOf(res, 'content-type') ?? mediaTypeInBody(bytes)), size: bytes.length, bytes };
  }

  async openBlob(name: RepositoryName, digest: Digest, signal?: AbortSignal): Promise<UpstreamBlob> {
    let res = await this.send('GET', name, `/v2/${name}/blobs/${digest}`, {}, signal);
    let url = new URL(`${this.upstream.url}/v2/${name}/blobs/${digest}`);
    for (let hops = 0; isRedirect(res.statusCode); hops++) {
      await res.body.dump();
      const location = headerOf(res, 'location');
      if (location === undefined || hops >= MAX_REDIRECTS) throw this.invalid(`blob ${name}@${digest}: ${location === undefined ? 'a redirect without Location' : 'too many redirects'}`, res.statusCode);
      url = new URL(location, url);
      // Storage URLs are presigned: they get no credentials of ours (another origin never does).
      res = await this.dispatch('GET', url, { 'User-Agent': this.userAgent }, signal);
    }
    if (res.statusCode !== 200) await res.body.dump();
    this.expectOk(res, `blob ${name}@${digest}`);
    const length = headerOf(res, 'content-length');
    const size = length === undefined ? undefined : Number(length);
    return { size: size !== undefined && Number.isSafeInteger(size) ? size : undefined, stream: res.body };
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  // -------------------------------------------------------------------------------------------------------------
  // Requests and authentication

  /** Sends a request to the upstream for repository `name`, authenticating as it asks, with one retry after a 401. */
  private async send(method: 'GET' | 'HEAD', name: RepositoryName, path: string, headers: Headers, signal: AbortSignal | undefined): Promise<Response> {
    const url = new URL(`${this.upstream.url}${path}`);
    const scope = `repository:${name}:pull`;
    const first = await this.dispatch(method, url, { ...headers, 'User-Agent': this.userAgent, ...this.knownAuthorization(scope) }, signal);
    if (first.statusCode !== 401) return first;
    await first.body.dump();
    const challenges = parseChallenges(first.headers['www-authenticate']);
    const bearer = challenges.find((c) => c.scheme === 'bearer' && c.params['realm'] !== undefined);
    const basic = challenges.find((c) => c.scheme === 'basic');
    let authorization: string;
    if (bearer !== undefined) {
      this.#challenge = bearer;
      const key = tokenKey(bearer, scope);
      this.tokens.delete(key); // refused if we sent it
      authorization = `Bearer ${await this.fetchToken(bearer, scope, signal)}`;
    } else if (basic !== undefined && this.upstream.credentials !== undefined) {
      this.#challenge = basic;
      authorization = this.basic();
    } else {
      throw new UpstreamError('unauthorized', this.upstream.name, `${method} ${path}: 401${basic !== undefined ? ' (Basic, and no credentials configured)' : ''}`, { status: 401 });
    }
    const second = await this.dispatch(method, url, { ...headers, 'User-Agent': this.userAgent, Authorization: authorization }, signal);
    if (second.statusCode === 401) {
      await second.body.dump();
      if (bearer !== undefined) this.tokens.delete(tokenKey(bearer, scope));
      throw new UpstreamError('unauthorized', this.upstream.name, `${method} ${path}: 401 with ${bearer !== undefined ? 'a token' : 'the configured credentials'}`, { status: 401 });
    }
    return second;
  }

  /** The Authorization header for what the upstream asked for before, when we have it. */
  private knownAuthorization(scope: string): Headers {
    const challenge = this.#challenge;
    if (challenge?.scheme === 'basic' && this.upstream.credentials !== undefined) return { Authorization: this.basic() };
    if (challenge?.scheme === 'bearer') {
      const token = this.tokens.get(tokenKey(challenge, scope));
      if (token !== undefined) return { Authorization: `Bearer ${token}` };
    }
    return {};
  }

  private basic(): string {
    const { username, password } = this.upstream.credentials ?? { username: '', password: '' };
    return `Basic ${Buffer.from(`${username}:${password}`).toString('base64')}`;
  }

  /** A token from the challenge's realm for `scope` (the challenge's own scope when it names one). */
  private async fetchToken(challenge: Challenge, scope: string, signal: AbortSignal | undefined): Promise<string> {
    const realm = challenge.params['realm'] ?? '';
    let url: URL;
    try {
      url = new URL(realm);
    } catch {
      throw this.invalid('the token realm is not a URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw this.invalid('the token realm is not an http(s) URL');
    const service = challenge.params['service'];
    if (service !== undefined) url.searchParams.set('service', service);
    url.searchParams.append('scope', challenge.params['scope'] ?? scope);
    const headers: Headers = { 'User-Agent': this.userAgent, Accept: 'application/json' };
    if (this.upstream.credentials !== undefined) headers['Authorization'] = this.basic();
    const res = await this.dispatch('GET', url, headers, signal);
    if (res.statusCode === 401 || res.statusCode === 403) {
      await res.body.dump();
      throw new UpstreamError('unauthorized', this.upstream.name, `the token service refused ${this.upstream.credentials !== undefined ? 'the configured credentials' : 'anonymous access'} (${res.statusCode})`, { status: res.statusCode });
    }
    if (res.statusCode !== 200) {
      await res.body.dump();
      throw this.statusError(res.statusCode, 'token request');
    }
    let body: unknown;
    try {
      body = JSON.parse((await this.readLimited(res, 1024 * 1024, 'token response', signal)).toString('utf8'));
    } catch (err) {
      if (err instanceof UpstreamError || signal?.aborted === true) throw err;
      throw this.invalid('the token service answered no JSON');
    }
    const fields = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const token = typeof fields['token'] === 'string' && fields['token'] !== '' ? fields['token'] : fields['access_token'];
    if (typeof token !== 'string' || token === '') throw this.invalid('the token service answered no token');
    const expiresIn = typeof fields['expires_in'] === 'number' ? fields['expires_in'] : undefined;
    this.tokens.set(tokenKey(challenge, scope), token, expiresIn);
    return token;
  }

  /** One HTTP exchange; network failures become `unavailable`, an abort rejects with the signal's reason. */
  private async dispatch(method: 'GET' | 'HEAD', url: URL, headers: Headers, signal: AbortSignal | undefined): Promise<Response> {
    try {
      return await request(this.agent, { origin: url.origin, path: `${url.pathname}${url.search}`, method, headers, signal: signal ?? null });
    } catch (err) {
      if (signal?.aborted === true) throw abortReason(signal);
      throw new UpstreamError('unavailable', this.upstream.name, `${method} ${url.origin}${url.pathname}: ${describeNetworkError(err)}`, { cause: err });
    }
  }

  /** The body, at most `limit` bytes. */
  private async readLimited(res: Response, limit: number, what: string, signal: AbortSignal | undefined): Promise<Buffer> {
    const chunks: Buffer[] = [];
    let total = 0;
    try {
      for await (const chunk of res.body as AsyncIterable<Buffer>) {
        total += chunk.length;
        if (total > limit) {
          res.body.destroy();
          throw this.invalid(`${what} is larger than ${limit} bytes`);
        }
        chunks.push(chunk);
      }
    } catch (err) {
      if (err instanceof UpstreamError) throw err;
      if (signal?.aborted === true) throw abortReason(signal);
      throw new UpstreamError('unavailable', this.upstream.name, `${what}: ${describeNetworkError(err)}`, { cause: err });
    }
    return Buffer.concat(chunks);
  }

  private expectOk(res: Response, what: string): void {
    if (res.statusCode === 200) return;
    if (res.statusCode === 404) throw new UpstreamError('not-found', this.upstream.name, `${what}: not found`, { status: 404 });
    if (res.statusCode === 401 || res.statusCode === 403) throw new UpstreamError('unauthorized', this.upstream.name, `${what}: ${res.statusCode}`, { status: res.statusCode });
    throw this.statusError(res.statusCode, what);
  }

  private statusError(status: number, what: string): UpstreamError {
    const kind = status === 429 || status >= 500 ? 'unavailable' : 'invalid';
    return new UpstreamError(kind, this.upstream.name, `${what}: answered ${status}`, { status });
  }

  private invalid(message: string, status?: number): UpstreamError {
    return new UpstreamError('invalid', this.upstream.name, message, status === undefined ? {} : { status });
  }
}

/**
 * The token cache key: one token per realm, service and the scope we pull with. Not the challenge's own
 * scope, which names the repository of the request that got it, while the remembered challenge serves
 * the next request, for any repository.
 */
function tokenKey(challenge: Challenge, scope: string): string {
  return `${challenge.params['realm'] ?? ''}\n${challenge.params['service'] ?? ''}\n${scope}`;
}

function acceptHeader(accept: readonly string[] | undefined): string {
  return (accept !== undefined && accept.length > 0 ? accept : MANIFEST_MEDIA_TYPES).join(', ');
}

function headerOf(res: Response, name: string): string | undefined {
  const value = res.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The media type without parameters (`; charset=utf-8`). */
function mediaTypeOf(contentType: string): string {
  return (contentType.split(';')[0] ?? '').trim();
}

function mediaTypeInBody(bytes: Buffer): string {
  try {
    const parsed: unknown = JSON.parse(bytes.toString('utf8'));
    if (typeof parsed === 'object' && parsed !== null && typeof (parsed as { mediaType?: unknown }).mediaType === 'string') return (parsed as { mediaType: string }).mediaType;
  } catch {
    // not JSON: the caller's manifest parsing reports it
  }
  return 'application/octet-stream';
}

function algorithmOf(digest: Digest): DigestAlgorithm {
  const algorithm = digestAlgorithm(digest);
  return Object.hasOwn(DIGEST_ALGORITHMS, algorithm) ? algorithm : 'sha256';
}

function isRedirect(status: number): boolean {
  return status === 301 || status === 302 || status === 303 || status === 307 || status === 308;
}

/** A short, credential-free description of a network failure (its code, and undici's or the system's message). */
function describeNetworkError(err: unknown): string {
  if (err instanceof Error) {
    const code = (err as { code?: unknown }).code;
    return typeof code === 'string' ? `${code}: ${err.message}` : err.message;
  }
  return String(err);
}
