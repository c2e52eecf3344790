/** Pushing known content for the management API's tests, with the sizes it must report. */
import { randomBytes } from 'node:crypto';
import { assertStatus, pushBlob, sha256 } from './oci-client.js';

export const OCI_MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
export const OCI_INDEX = 'application/vnd.oci.image.index.v1+json';
export const OCI_CONFIG = 'application/vnd.oci.image.config.v1+json';
export const OCI_LAYER = 'application/vnd.oci.image.layer.v1.tar+gzip';

export interface PushedContent {
  readonly digest: string;
  readonly body: Buffer;
  /** Every digest of the content (manifest, config, layers; children's for an index) and its size. */
  readonly sizes: ReadonlyMap<string, number>;
}

/** Deduplicated bytes of several pushes (each digest once). */
export function dedupSize(...contents: readonly PushedContent[]): number {
  const all = new Map<string, number>();
  for (const c of contents) for (const [d, s] of c.sizes) all.set(d, s);
  let total = 0;
  for (const s of all.values()) total += s;
  return total;
}

async function putManifest(base: string, name: string, reference: string, mediaType: string, manifest: unknown): Promise<Buffer> {
  const body = Buffer.from(JSON.stringify(manifest));
  assertStatus(await fetch(`${base}/v2/${name}/manifests/${reference}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body }), 201);
  return body;
}

/**
 * An image with an image config (`config` merged into a minimal one) and `layers` layers of the
 * given sizes (or reused blobs), tagged `reference` (or by digest when it is one).
 */
export async function pushConfiguredImage(
  base: string,
  name: string,
  reference: string,
  options: { config?: Record<string, unknown>; layers?: ReadonlyArray<number | Buffer>; subject?: { digest: string; size: number; mediaType: string }; artifactType?: string; configMediaType?: string } = {},
): Promise<PushedContent> {
  const configJson = { architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex'), ...options.config };
  const config = Buffer.from(JSON.stringify(configJson));
  assertStatus(await pushBlob(base, name, config), 201);
  const sizes = new Map<string, number>([[sha256(config), config.byteLength]]);
  const layers: Array<{ mediaType: string; digest: string; size: number }> = [];
  for (const spec of options.layers ?? [1000]) {
    const data = typeof spec === 'number' ? randomBytes(spec) : spec;
    assertStatus(await pushBlob(base, name, data), 201);
    layers.push({ mediaType: OCI_LAYER, digest: sha256(data), size: data.byteLength });
    sizes.set(sha256(data), data.byteLength);
  }
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType: OCI_MANIFEST,
    config: { mediaType: options.configMediaType ?? OCI_CONFIG, digest: sha256(config), size: config.byteLength },
    layers,
  };
  if (options.subject !== undefined) manifest['subject'] = options.subject;
  if (options.artifactType !== undefined) manifest['artifactType'] = options.artifactType;
  const body = await putManifest(base, name, reference, OCI_MANIFEST, manifest);
  sizes.set(sha256(body), body.byteLength);
  return { digest: sha256(body), body, sizes };
}

/** An index over `children` (pushed by digest) with their platforms, tagged `reference`. */
export async function pushIndex(base: string, name: string, reference: string, children: ReadonlyArray<{ content: PushedContent; platform: Record<string, string> }>): Promise<PushedContent> {
  const index = {
    schemaVersion: 2,
    mediaType: OCI_INDEX,
    manifests: children.map((c) => ({ mediaType: OCI_MANIFEST, digest: c.content.digest, size: c.content.body.byteLength, platform: c.platform })),
  };
  const body = await putManifest(base, name, reference, OCI_INDEX, index);
  const sizes = new Map<string, number>([[sha256(body), body.byteLength]]);
  for (const c of children) for (const [d, s] of c.content.sizes) sizes.set(d, s);
  return { digest: sha256(body), body, sizes };
}

/** A JSON GET that must answer `status`. */
export async function getJson<T>(url: string, status = 200, headers: Record<string, string> = {}): Promise<{ body: T; res: Response }> {
  const res = await fetch(url, { headers });
  const text = await res.text();
  if (res.status !== status) throw new Error(`GET ${url}: ${res.status} (expected ${status}) ${text}`);
  return { body: JSON.parse(text) as T, res };
}

/** The URL of a `Link: <url>; rel="next"` header, resolved against `base`. */
export function nextUrl(res: Response, base: string): string | undefined {
  const link = res.headers.get('link');
  const m = link === null ? null : /^<([^>]+)>; rel="next"$/.exec(link);
  return m === null ? undefined : new URL(m[1] as string, base).toString();
}
