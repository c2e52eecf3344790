/**
 * TEST-ONLY STAND-IN for the management API (/berth/v1, issue #14, being built on branch `mgmt`), until it
 * is merged. It answers the browser's /berth/v1 requests inside Playwright (context.route) by computing the
 * contract's JSON from the real Berth's OCI API (/v2), called with the browser's own credentials (its
 * session cookie, CSRF token and UI header), so the real access policies decide what it sees. Everything
 * else the UI does (its page, login, session, /v2 deletes) goes to the real Berth untouched.
 *
 * Once Berth itself answers /berth/v1 (probed at install: anything but the app's "no such endpoint" 404),
 * nothing is installed and the tests run against the real API. Delete this file then.
 *
 * Known differences from the contract: pushedAt and pulledAt are null (the OCI API does not know them),
 * `sort=pushed` sorts by name, repository sizes count each distinct blob and manifest once, quotas are [].
 */
import type { BrowserContext, Route } from 'playwright-core';

const ACCEPT = [
  'application/vnd.oci.image.index.v1+json',
  'application/vnd.oci.image.manifest.v1+json',
  'application/vnd.docker.distribution.manifest.list.v2+json',
  'application/vnd.docker.distribution.manifest.v2+json',
].join(', ');

const FORWARDED = ['cookie', 'authorization', 'x-berth-ui', 'x-berth-csrf'];

/** A /v2 failure, passed on to the browser as it came. */
class Upstream extends Error {
  constructor(
    readonly status: number,
    readonly body: string,
  ) {
    super(`upstream ${status}`);
  }
}

interface Json {
  [key: string]: unknown;
}

/** True when the Berth at `base` serves the management API itself. */
export async function hasManagementApi(base: string): Promise<boolean> {
  const res = await fetch(`${base}/berth/v1/usage`);
  const text = await res.text();
  return !(res.status === 404 && text.includes('no such endpoint'));
}

/**
 * Answers /berth/v1 in every page of `context` from the Berth at `base`, unless it has the API itself.
 * `filterByPull`: list only repositories the caller may pull (one /v2 request per repository).
 * Resolves with true when the stand-in was installed.
 */
export async function installManagementApiFake(context: BrowserContext, base: string, options: { filterByPull: boolean }): Promise<boolean> {
  if (await hasManagementApi(base)) return false;
  await context.route(
    (url) => url.pathname.startsWith('/berth/v1/'),
    async (route) => {
      const headers = await forwardedHeaders(context, route);
      const api = new V2(base, headers);
      try {
        const answer = await answerRequest(api, route.request().method(), new URL(route.request().url()), options.filterByPull);
        await route.fulfill({ status: answer.status, headers: { 'content-type': 'application/json', ...answer.headers }, body: JSON.stringify(answer.body) });
      } catch (err) {
        if (err instanceof Upstream) await route.fulfill({ status: err.status, headers: { 'content-type': 'application/json' }, body: err.body });
        else await route.fulfill({ status: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ errors: [{ code: 'UNKNOWN', message: String(err) }] }) });
      }
    },
  );
  return true;
}

async function forwardedHeaders(context: BrowserContext, route: Route): Promise<Record<string, string>> {
  const all = await route.request().allHeaders();
  const out: Record<string, string> = {};
  for (const name of FORWARDED) if (all[name] !== undefined) out[name] = all[name];
  if (out['cookie'] === undefined) {
    const cookies = await context.cookies(route.request().url());
    if (cookies.length > 0) out['cookie'] = cookies.map((c) => `${c.name}=${c.value}`).join('; ');
  }
  return out;
}

/** The OCI API of the real Berth, with the browser's credentials. */
class V2 {
  constructor(
    readonly base: string,
    readonly headers: Record<string, string>,
  ) {}

  async get(path: string, accept = 'application/json', method = 'GET'): Promise<Response> {
    const res = await fetch(`${this.base}${path}`, { method, headers: { ...this.headers, accept } });
    if (!res.ok) throw new Upstream(res.status, await res.text());
    return res;
  }

  async json(path: string): Promise<Json> {
    return (await (await this.get(path)).json()) as Json;
  }

  async catalog(): Promise<string[]> {
    const names: string[] = [];
    let last = '';
    for (;;) {
      const page = (await this.json(`/v2/_catalog?n=1000${last === '' ? '' : `&last=${encodeURIComponent(last)}`}`))['repositories'] as string[];
      names.push(...page);
      if (page.length < 1000) return names;
      last = page.at(-1) ?? '';
    }
  }

  async tags(name: string): Promise<string[]> {
    try {
      return ((await this.json(`/v2/${name}/tags/list`))['tags'] as string[] | null) ?? [];
    } catch (err) {
      if (err instanceof Upstream && err.status === 404) return [];
      throw err;
    }
  }

  async manifest(name: string, reference: string): Promise<{ digest: string; mediaType: string; size: number; body: Json }> {
    const res = await this.get(`/v2/${name}/manifests/${reference}`, ACCEPT);
    const bytes = Buffer.from(await res.arrayBuffer());
    const body = JSON.parse(bytes.toString('utf8')) as Json;
    return { digest: res.headers.get('docker-content-digest') ?? '', mediaType: (body['mediaType'] as string | undefined) ?? res.headers.get('content-type') ?? '', size: bytes.byteLength, body };
  }

  async blob(name: string, digest: string): Promise<Json> {
    return (await (await this.get(`/v2/${name}/blobs/${digest}`, '*/*')).json()) as Json;
  }

  async del(path: string): Promise<void> {
    const res = await fetch(`${this.base}${path}`, { method: 'DELETE', headers: this.headers });
    if (!res.ok) throw new Upstream(res.status, await res.text());
  }
}

type Answer = { status: number; body: unknown; headers?: Record<string, string> };

async function answerRequest(api: V2, method: string, url: URL, filterByPull: boolean): Promise<Answer> {
  const path = decodeURIComponent(url.pathname.slice('/berth/v1/'.length));
  if (path === 'usage') return { status: 200, body: await usage(api) };
  if (path === 'repositories') return repositories(api, url.searchParams, filterByPull);
  const m = /^repositories\/(.+?)(?:\/(tags)|\/manifests\/([^/]+))?$/.exec(path);
  if (m === null || m[1] === undefined) return { status: 404, body: { errors: [{ code: 'NAME_UNKNOWN', message: 'no such endpoint' }] } };
  const name = m[1];
  if (m[2] === 'tags') return { status: 200, body: { tags: await tagInfos(api, name, url.searchParams.get('sort') ?? 'pushed') } };
  if (m[3] !== undefined) return { status: 200, body: await manifestInfo(api, name, m[3]) };
  if (method === 'DELETE') {
    for (const tag of await api.tags(name)) {
      const { digest } = await api.manifest(name, tag).catch(() => ({ digest: '' }));
      if (digest !== '') await api.del(`/v2/${name}/manifests/${digest}`).catch(() => undefined);
    }
    return { status: 202, body: {} };
  }
  return { status: 200, body: await summary(api, name) };
}

async function repositories(api: V2, params: URLSearchParams, filterByPull: boolean): Promise<Answer> {
  const n = Math.max(1, Math.min(1000, Number(params.get('n') ?? 100)));
  const last = params.get('last') ?? '';
  const q = params.get('q') ?? '';
  let names = (await api.catalog()).filter((name) => name.includes(q) && name > last);
  if (filterByPull) names = await filterAsync(names, async (name) => api.get(`/v2/${name}/tags/list`).then(() => true, () => false));
  const page = names.slice(0, n);
  const out = await Promise.all(page.map((name) => summary(api, name)));
  const headers: Record<string, string> = {};
  if (names.length > n) headers['link'] = `</berth/v1/repositories?n=${n}&last=${encodeURIComponent(page.at(-1) ?? '')}${q === '' ? '' : `&q=${encodeURIComponent(q)}`}>; rel="next"`;
  return { status: 200, body: { repositories: out }, headers };
}

async function filterAsync<T>(items: T[], keep: (item: T) => Promise<boolean>): Promise<T[]> {
  const flags = await Promise.all(items.map(keep));
  return items.filter((_, i) => flags[i] === true);
}

async function summary(api: V2, name: string): Promise<{ name: string; tags: number; size: number }> {
  const tags = await api.tags(name);
  const seen = new Map<string, number>();
  for (const tag of tags) await collectSizes(api, name, tag, seen);
  return { name, tags: tags.length, size: [...seen.values()].reduce((a, b) => a + b, 0) };
}

/** Adds the sizes of a manifest, its config, layers and children to `seen` (by digest, once each). */
async function collectSizes(api: V2, name: string, reference: string, seen: Map<string, number>): Promise<number> {
  const m = await api.manifest(name, reference);
  let total = m.size;
  seen.set(m.digest, m.size);
  for (const child of (m.body['manifests'] as Json[] | undefined) ?? []) total += await collectSizes(api, name, child['digest'] as string, seen);
  for (const d of [m.body['config'] as Json | undefined, ...((m.body['layers'] as Json[] | undefined) ?? [])]) {
    if (d === undefined) continue;
    seen.set(d['digest'] as string, d['size'] as number);
    total += d['size'] as number;
  }
  return total;
}

async function platformsOf(api: V2, name: string, body: Json): Promise<string[]> {
  const children = body['manifests'] as Json[] | undefined;
  if (children !== undefined) return children.map((c) => platformText(c['platform'] as Json | undefined)).filter((p) => p !== '');
  const config = body['config'] as Json | undefined;
  if (config === undefined || !String(config['mediaType']).includes('config')) return [];
  return [platformText(await api.blob(name, config['digest'] as string))].filter((p) => p !== '');
}

function platformText(p: Json | undefined): string {
  if (p === undefined) return '';
  return [p['os'], p['architecture'], p['variant']].filter((x) => typeof x === 'string' && x !== '').join('/');
}

async function tagInfos(api: V2, name: string, _sort: string): Promise<Json[]> {
  const tags = (await api.tags(name)).sort();
  return Promise.all(
    tags.map(async (tag) => {
      const m = await api.manifest(name, tag);
      return { name: tag, digest: m.digest, mediaType: m.mediaType, size: await collectSizes(api, name, tag, new Map()), platforms: await platformsOf(api, name, m.body), pushedAt: null, pulledAt: null };
    }),
  );
}

async function manifestInfo(api: V2, name: string, digest: string): Promise<Json> {
  const m = await api.manifest(name, digest);
  const out: Json = { mediaType: m.mediaType, size: m.size, layers: m.body['layers'] ?? [], children: [], referrers: {} };
  const children = (m.body['manifests'] as Json[] | undefined) ?? [];
  out['children'] = children.map((c) => ({ digest: c['digest'], mediaType: c['mediaType'], size: c['size'], platform: platformText(c['platform'] as Json | undefined) }));
  const config = m.body['config'] as Json | undefined;
  if (config !== undefined && /image\.config|container\.image/.test(String(config['mediaType']))) {
    const c = await api.blob(name, config['digest'] as string);
    const inner = (c['config'] as Json | undefined) ?? {};
    out['config'] = { created: c['created'] ?? null, entrypoint: inner['Entrypoint'] ?? null, cmd: inner['Cmd'] ?? null, env: inner['Env'] ?? null, labels: inner['Labels'] ?? null, history: c['history'] ?? null };
  } else out['config'] = null;
  const referrers = ((await api.json(`/v2/${name}/referrers/${digest}`))['manifests'] as Json[] | undefined) ?? [];
  const grouped: Record<string, Json[]> = {};
  for (const r of referrers) (grouped[(r['artifactType'] as string | undefined) ?? 'unknown'] ??= []).push({ digest: r['digest'], mediaType: r['mediaType'], size: r['size'], annotations: r['annotations'] ?? {} });
  out['referrers'] = grouped;
  return out;
}

async function usage(api: V2): Promise<Json> {
  const names = await api.catalog();
  const sizes = await Promise.all(names.map((n) => summary(api, n).then((s) => s.size, () => 0)));
  return { quotas: [], total: sizes.reduce((a, b) => a + b, 0) };
}
