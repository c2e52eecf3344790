// The registry's APIs as the UI calls them: the management API (/berth/v1) and the OCI API (/v2), with
// the session cookie as credentials and the CSRF token on every change. Failures become ApiErrors whose
// message is fit to show.

/** Where the UI and the APIs are (filled into index.html by the server). */
export const settings = {
  base: document.querySelector<HTMLMetaElement>('meta[name="berth-ui-base"]')?.content ?? '/ui',
  api: document.querySelector<HTMLMetaElement>('meta[name="berth-api-prefix"]')?.content ?? '',
};

export interface RepositorySummary {
  name: string;
  tags: number;
  size: number;
}

export interface TagInfo {
  name: string;
  digest: string;
  mediaType: string;
  size: number;
  platforms: string[];
  pushedAt: string | null;
  pulledAt: string | null;
}

export interface Descriptor {
  digest: string;
  mediaType: string;
  size: number;
  annotations?: Record<string, string>;
  platform?: string | { os?: string; architecture?: string; variant?: string };
}

export interface ManifestInfo {
  mediaType: string;
  size: number;
  layers?: Descriptor[];
  config?: {
    created?: string | null;
    entrypoint?: string[] | null;
    cmd?: string[] | null;
    env?: string[] | null;
    labels?: Record<string, string> | null;
    history?: Array<{ created?: string; created_by?: string; comment?: string; empty_layer?: boolean }> | null;
  } | null;
  children?: Descriptor[];
  referrers?: Record<string, Descriptor[]>;
}

/** A manifest's summary as `GET /berth/v1/repositories/<name>/manifests/<digest>` answers (docs/management-api.md). */
export interface ManifestSummary {
  mediaType: string;
  size: number;
  layers?: Descriptor[];
  config?: {
    created?: string;
    entrypoint?: string[];
    cmd?: string[];
    env?: string[];
    labels?: Record<string, string>;
    history?: Array<{ created?: string; createdBy?: string; comment?: string; emptyLayer?: boolean }>;
  };
  manifests?: Descriptor[];
  referrers?: Array<{ artifactType: string; manifests: Descriptor[] }>;
}

/** The page's view of a summary: children, referrers by artifact type, history in the image config's words. */
export function manifestInfo(s: ManifestSummary): ManifestInfo {
  const referrers: Record<string, Descriptor[]> = {};
  for (const group of s.referrers ?? []) referrers[group.artifactType] = group.manifests;
  const info: ManifestInfo = { mediaType: s.mediaType, size: s.size, referrers };
  if (s.layers !== undefined) info.layers = s.layers;
  if (s.manifests !== undefined) info.children = s.manifests;
  if (s.config !== undefined) {
    const { history, ...rest } = s.config;
    info.config = { ...rest, history: (history ?? []).map((h) => ({ created: h.created, created_by: h.createdBy, comment: h.comment, empty_layer: h.emptyLayer })) };
  }
  return info;
}

export interface Usage {
  quotas: Array<{ repositories: string[]; limit: number; used: number }>;
  total: number;
}

export interface SessionInfo {
  user: string | null;
  csrf: string | null;
  auth: 'htpasswd' | 'token' | 'none';
  deleteEnabled: boolean;
  canDelete?: boolean;
}

/** A failed request, with a message for people. */
export class ApiError extends Error {
  constructor(
    message: string,
    readonly status: number,
    readonly code: string,
  ) {
    super(message);
  }
}

let csrf: string | null = null;

/** Remembers the session's CSRF token for the changes that follow. */
export function setCsrf(token: string | null): void {
  csrf = token;
}

/** A repository name as a path: each segment encoded, the slashes kept. */
export function namePath(name: string): string {
  return name.split('/').map(encodeURIComponent).join('/');
}

const STATUS_TEXT: Record<number, string> = {
  401: 'You need to log in to see this.',
  403: 'Your account is not allowed to do this.',
  404: 'Not found.',
  405: 'The registry does not allow this (deletion may be disabled).',
  429: 'Too many requests: try again in a moment.',
};

async function failure(res: Response): Promise<ApiError> {
  let code = 'UNKNOWN';
  let detail = '';
  try {
    const body = (await res.json()) as { errors?: Array<{ code?: string; message?: string }> };
    code = body.errors?.[0]?.code ?? code;
    detail = body.errors?.[0]?.message ?? '';
  } catch {
    // Not an OCI error body (a proxy's page): the status says enough.
  }
  const text = STATUS_TEXT[res.status] ?? `The registry answered ${res.status}${res.statusText !== '' ? ` ${res.statusText}` : ''}.`;
  return new ApiError(detail !== '' ? `${text} (${code}: ${detail})` : text, res.status, code);
}

/** One request to the registry; rejects with an ApiError. */
export async function request(method: string, path: string, body?: unknown): Promise<Response> {
  const headers: Record<string, string> = { 'X-Berth-UI': '1', Accept: 'application/json' };
  if (method !== 'GET' && method !== 'HEAD' && csrf !== null) headers['X-Berth-CSRF'] = csrf;
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  let res: Response;
  try {
    res = await fetch(path, { method, headers, credentials: 'same-origin', ...(body !== undefined ? { body: JSON.stringify(body) } : {}) });
  } catch (err) {
    throw new ApiError(`The registry could not be reached (${err instanceof Error ? err.message : String(err)}).`, 0, 'NETWORK');
  }
  if (!res.ok) throw await failure(res);
  return res;
}

/** GET of JSON from the management API. */
export async function getJson<T>(path: string): Promise<{ value: T; next: string | null }> {
  const res = await request('GET', `${settings.api}/berth/v1/${path}`);
  return { value: (await res.json()) as T, next: nextLast(res.headers.get('Link')) };
}

/** The `last` parameter of a `Link: <...>; rel="next"` header, or null. */
export function nextLast(link: string | null): string | null {
  const match = link === null ? null : /<([^>]*)>\s*;\s*rel="?next"?/.exec(link);
  if (match === null || match[1] === undefined) return null;
  return new URL(match[1], location.href).searchParams.get('last');
}

export function session(repository?: string): Promise<SessionInfo> {
  const query = repository === undefined ? '' : `?repository=${encodeURIComponent(repository)}`;
  return request('GET', `${settings.base}/api/session${query}`).then((r) => r.json() as Promise<SessionInfo>);
}

export function login(user: string, password: string): Promise<{ user: string; csrf: string }> {
  return request('POST', `${settings.base}/api/login`, { user, password }).then((r) => r.json() as Promise<{ user: string; csrf: string }>);
}

export async function logout(): Promise<void> {
  await request('POST', `${settings.base}/api/logout`);
  csrf = null;
}

/** Deletes a tag or a manifest through the OCI API. */
export async function deleteManifest(name: string, reference: string): Promise<void> {
  await request('DELETE', `${settings.api}/v2/${namePath(name)}/manifests/${encodeURIComponent(reference)}`);
}

export async function deleteRepository(name: string): Promise<void> {
  await request('DELETE', `${settings.api}/berth/v1/repositories/${namePath(name)}`);
}
