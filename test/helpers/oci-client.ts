import { createHash, randomBytes } from 'node:crypto';

/** A minimal registry client for tests: the requests real clients make, spelled out. */
export function sha256(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

export function randomBlob(size: number): { data: Buffer; digest: string } {
  const data = randomBytes(size);
  return { data, digest: sha256(data) };
}

/** Uploads a blob with POST + PUT (monolithic, in the PUT body). Returns the PUT response. */
export async function pushBlob(base: string, name: string, data: Buffer, digest = sha256(data)): Promise<Response> {
  const start = await fetch(`${base}/v2/${name}/blobs/uploads/`, { method: 'POST' });
  if (start.status !== 202) throw new Error(`POST upload: ${start.status} ${await start.text()}`);
  const location = resolve(base, start.headers.get('location'));
  const sep = location.includes('?') ? '&' : '?';
  return fetch(`${location}${sep}digest=${encodeURIComponent(digest)}`, {
    method: 'PUT',
    headers: { 'Content-Type': 'application/octet-stream', 'Content-Length': String(data.byteLength) },
    body: data,
  });
}

/** Pushes an image manifest referencing a fresh config and layers; returns its digest and body. */
export async function pushImage(
  base: string,
  name: string,
  reference: string,
  options: { layers?: number; layerSize?: number; mediaType?: string; subject?: { digest: string; size: number; mediaType: string }; artifactType?: string } = {},
): Promise<{ digest: string; body: Buffer; blobs: string[] }> {
  const config = Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] }, nonce: randomBytes(8).toString('hex') }));
  const configDigest = sha256(config);
  assertStatus(await pushBlob(base, name, config), 201);
  const layers: Array<{ mediaType: string; digest: string; size: number }> = [];
  for (let i = 0; i < (options.layers ?? 1); i++) {
    const layer = randomBlob(options.layerSize ?? 1024);
    assertStatus(await pushBlob(base, name, layer.data), 201);
    layers.push({ mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest: layer.digest, size: layer.data.byteLength });
  }
  const mediaType = options.mediaType ?? 'application/vnd.oci.image.manifest.v1+json';
  const manifest: Record<string, unknown> = {
    schemaVersion: 2,
    mediaType,
    config: { mediaType: mediaType.includes('docker') ? 'application/vnd.docker.container.image.v1+json' : 'application/vnd.oci.image.config.v1+json', digest: configDigest, size: config.byteLength },
    layers,
  };
  if (options.subject !== undefined) manifest['subject'] = options.subject;
  if (options.artifactType !== undefined) manifest['artifactType'] = options.artifactType;
  const body = Buffer.from(JSON.stringify(manifest));
  const put = await fetch(`${base}/v2/${name}/manifests/${reference}`, { method: 'PUT', headers: { 'Content-Type': mediaType }, body });
  assertStatus(put, 201);
  return { digest: sha256(body), body, blobs: [configDigest, ...layers.map((l) => l.digest)] };
}

export function resolve(base: string, location: string | null): string {
  if (location === null) throw new Error('no Location header');
  return new URL(location, base).toString();
}

export function assertStatus(res: Response, status: number): void {
  if (res.status !== status) throw new Error(`${res.url}: expected ${status}, got ${res.status}`);
}

/** The first error code of an OCI error body. */
export async function errorCode(res: Response): Promise<string | undefined> {
  const body = (await res.json()) as { errors?: Array<{ code?: string }> };
  return body.errors?.[0]?.code;
}
