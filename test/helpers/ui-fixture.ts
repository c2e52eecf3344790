/**
 * The registry the UI tests look at: a real `berth serve` (htpasswd users and access policies, deletes
 * enabled) holding images pushed with skopeo (a single image under two tags, a multi-arch index, a private
 * image) and two referrers of one image (an SBOM and a signature, pushed over the OCI API since skopeo 1.9
 * cannot push artifacts).
 *
 *   admin  (group admins): everything, and the catalog
 *   alice: pull, push, delete team-a/**; pull public/**; the catalog
 *   anonymous: pull public/**; the catalog
 */
import { execFileSync } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { buildImageLayout, buildIndexLayout, sha256, type Descriptor, type ImageLayout, type IndexLayout } from './images.js';
import { freePort } from './ports.js';
import { repoRoot, startBerth, HTTP_SECRET, type RegistryHandle } from './registries.js';
import { copyToRegistry } from './skopeo.js';

export const USERS = { admin: 'admin-secret-pw', alice: 'alice-secret-pw' } as const;

/** What the fixture holds. */
export interface UiFixture {
  readonly berth: RegistryHandle;
  /** `http://127.0.0.1:PORT`. */
  readonly base: string;
  /** public/hello:1.0 (with the referrers) and public/hello:latest. */
  readonly hello: ImageLayout;
  readonly helloLatest: ImageLayout;
  /** team-a/app:v1, linux/amd64 and linux/arm64/v8. */
  readonly app: IndexLayout;
  readonly secret: ImageLayout;
  readonly sbom: string;
  readonly signature: string;
}

export const SBOM_TYPE = 'application/spdx+json';
export const SIGNATURE_TYPE = 'application/vnd.dev.cosign.artifact.sig.v1+json';

function policies(): unknown {
  return {
    default: 'deny',
    groups: { admins: ['admin'] },
    rules: [
      { groups: ['admins'], repositories: ['**'], actions: ['*'], catalog: true, effect: 'allow' },
      { users: ['alice'], repositories: ['team-a/**'], actions: ['*'], effect: 'allow' },
      { anonymous: true, authenticated: true, repositories: ['public/**'], actions: ['pull'], catalog: true, effect: 'allow' },
    ],
  };
}

/** The HTTP Basic header of a fixture user. */
export function basic(user: keyof typeof USERS): string {
  return `Basic ${Buffer.from(`${user}:${USERS[user]}`).toString('base64')}`;
}

/** Starts Berth under `work` and pushes the images; stop `berth` when done. */
export async function startUiFixture(work: string): Promise<UiFixture> {
  const htpasswd = join(work, 'htpasswd');
  const lines = Object.entries(USERS).map(([u, p]) => execFileSync(process.execPath, [join(repoRoot, 'bin', 'berth.js'), 'htpasswd', '-Bbn', '-C', '4', u, p], { encoding: 'utf8' }).trim());
  await writeFile(htpasswd, `${lines.join('\n')}\n`);
  const port = await freePort();
  const config = {
    version: 0.1,
    log: { level: 'warn', accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(work, 'storage') }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, secret: HTTP_SECRET },
    auth: { htpasswd: { realm: 'Berth', path: htpasswd }, policies: policies() },
  };
  // GET /v2/ answers 401 here: readiness is the UI's page.
  const berth = await startBerth({ port, configYaml: stringify(config), ready: async () => (await fetch(`http://127.0.0.1:${port}/ui/`).catch(() => undefined))?.status === 200 });
  const base = `http://${berth.host}`;
  const creds = `admin:${USERS.admin}`;
  const hello = await buildImageLayout(join(work, 'hello'), { seed: 'hello', layers: 2, layerSize: 96 * 1024 });
  const helloLatest = await buildImageLayout(join(work, 'hello-latest'), { seed: 'hello-latest', layers: 1 });
  const app = await buildIndexLayout(join(work, 'app'), { seed: 'app' });
  const secret = await buildImageLayout(join(work, 'secret'), { seed: 'secret', layers: 1 });
  await copyToRegistry(hello.layoutDir, `${berth.host}/public/hello:1.0`, { destCreds: creds });
  await copyToRegistry(helloLatest.layoutDir, `${berth.host}/public/hello:latest`, { destCreds: creds });
  await copyToRegistry(app.layoutDir, `${berth.host}/team-a/app:v1`, { destCreds: creds, all: true });
  await copyToRegistry(secret.layoutDir, `${berth.host}/team-b/secret:v1`, { destCreds: creds });
  const sbom = await pushArtifact(base, 'public/hello', hello.manifest, SBOM_TYPE, '{"spdxVersion":"SPDX-2.3","name":"hello"}');
  const signature = await pushArtifact(base, 'public/hello', hello.manifest, SIGNATURE_TYPE, 'signature bytes');
  return { berth, base, hello, helloLatest, app, secret, sbom, signature };
}

async function pushBlob(base: string, name: string, data: Buffer): Promise<string> {
  const digest = sha256(data);
  const res = await fetch(`${base}/v2/${name}/blobs/uploads/?digest=${digest}`, { method: 'POST', headers: { authorization: basic('admin'), 'content-type': 'application/octet-stream' }, body: data });
  if (res.status !== 201) throw new Error(`push blob to ${name}: ${res.status} ${await res.text()}`);
  return digest;
}

/** Pushes an artifact manifest whose subject is `subject`; resolves with its digest. */
export async function pushArtifact(base: string, name: string, subject: Descriptor, artifactType: string, content: string): Promise<string> {
  const empty = Buffer.from('{}');
  const layer = Buffer.from(content);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType,
      config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: await pushBlob(base, name, empty), size: empty.byteLength },
      layers: [{ mediaType: artifactType, digest: await pushBlob(base, name, layer), size: layer.byteLength }],
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      annotations: { 'org.opencontainers.image.created': '2026-01-02T03:04:05Z' },
    }),
  );
  const digest = sha256(manifest);
  const res = await fetch(`${base}/v2/${name}/manifests/${digest}`, { method: 'PUT', headers: { authorization: basic('admin'), 'content-type': 'application/vnd.oci.image.manifest.v1+json' }, body: manifest });
  if (res.status !== 201) throw new Error(`push artifact: ${res.status} ${await res.text()}`);
  return digest;
}
