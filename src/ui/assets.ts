/**
 * The UI's static files, read once from the build output (dist/ui: index.html and assets/, written by
 * scripts/build-ui.js) into memory. Requests are answered from that map only, by exact name, so no request
 * path ever reaches the file system: there is nothing to traverse.
 */
import { readdir, readFile } from 'node:fs/promises';
import { createHash } from 'node:crypto';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** Where `npm run build` writes the UI (this file is compiled to dist/src/ui/). */
export const DEFAULT_UI_DIR = fileURLToPath(new URL('../../ui/', import.meta.url));

const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
};

/** A hashed name (`app.3f2a9c1b7d.js`): its content never changes, so caches may keep it for good. */
const HASHED = /\.[0-9a-f]{10}\.[a-z]+$/;

/** One file, ready to send. */
export interface Asset {
  readonly body: Buffer;
  readonly contentType: string;
  readonly cacheControl: string;
  readonly etag: string;
}

/** The UI's files by name relative to the UI root (`index.html`, `assets/app.3f2a9c1b7d.js`). */
export type AssetMap = ReadonlyMap<string, Asset>;

/** What index.html is filled in with: where the UI and the APIs are. */
export interface PageSettings {
  /** `ui.path`, e.g. `/ui`. */
  readonly base: string;
  /** `http.prefix` ('' or `/registry`), before `/v2` and `/berth/v1`. */
  readonly apiPrefix: string;
}

/**
 * Loads the UI's files. Resolves with an empty map when the directory is missing (not built): the UI then
 * answers 503 saying so, and the registry still starts.
 */
export async function loadAssets(dir: string, page: PageSettings): Promise<AssetMap> {
  const out = new Map<string, Asset>();
  let index: string;
  try {
    index = await readFile(join(dir, 'index.html'), 'utf8');
  } catch {
    return out;
  }
  const html = index.replaceAll('%BERTH_UI_BASE%', escapeAttribute(page.base)).replaceAll('%BERTH_API_PREFIX%', escapeAttribute(page.apiPrefix));
  out.set('index.html', asset(Buffer.from(html), '.html', 'no-cache'));
  const names = await readdir(join(dir, 'assets')).catch(() => []);
  for (const name of names) {
    const type = extname(name);
    if (CONTENT_TYPES[type] === undefined) continue;
    const body = await readFile(join(dir, 'assets', name));
    out.set(`assets/${name}`, asset(body, type, HASHED.test(name) ? 'public, max-age=31536000, immutable' : 'no-cache'));
  }
  return out;
}

function asset(body: Buffer, type: string, cacheControl: string): Asset {
  const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`;
  return { body, contentType: CONTENT_TYPES[type] ?? 'application/octet-stream', cacheControl, etag };
}

function escapeAttribute(value: string): string {
  return value.replace(/[&"<>]/g, (c) => `&#${c.charCodeAt(0)};`);
}
