// Shared fixtures of the garbage-collection tests: registries over each driver, and pushes through the
// storage service (the same calls the HTTP handlers make), as Distribution's garbagecollect_test.go does.
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Registry } from '../../src/storage/registry.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import { FilesystemDriver } from '../../src/storage/driver/filesystem/filesystem.js';
import type { StorageDriver } from '../../src/storage/driver/driver.js';
import { createLogger } from '../../src/log/logger.js';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import type { ManifestReference, RepositoryName, Tag } from '../../src/oci/reference.js';
import { MediaType } from '../../src/oci/media-types.js';
import { listBlobs } from '../../src/gc/scan.js';
import { createS3Driver, parseS3Parameters } from '../../src/storage/driver/s3/s3.js';
import { createAzureDriver, parseAzureParameters } from '../../src/storage/driver/azure/azure.js';
import { createTestBucket, ensureCeph, removeTestBucket } from '../helpers/ceph.js';
import { startAzurite, type AzuriteHandle } from '../helpers/azurite.js';

export const silent = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });

export type DriverKind = 'inmemory' | 'filesystem' | 's3' | 'azure';
/** Every driver: S3 runs against the Ceph RGW of scripts/ceph.sh, Azure against Azurite (both started on demand). */
export const DRIVER_KINDS: readonly DriverKind[] = ['inmemory', 'filesystem', 's3', 'azure'];

let azurite: Promise<AzuriteHandle> | undefined;

/**
 * A driver of `kind` on fresh, empty storage (a temp directory, a new bucket, a new container) and how
 * to clean it up. Call stopServices() in an `after` hook of a file that used Azure.
 */
export async function makeDriver(kind: DriverKind, clock?: () => Date): Promise<{ driver: StorageDriver; cleanup: () => Promise<void> }> {
  switch (kind) {
    case 'inmemory':
      return { driver: new InMemoryDriver(clock !== undefined ? { now: clock } : {}), cleanup: async () => undefined };
    case 'filesystem': {
      const dir = await mkdtemp(join(tmpdir(), 'berth-gc-'));
      return { driver: new FilesystemDriver({ rootdirectory: dir }), cleanup: () => rm(dir, { recursive: true, force: true }) };
    }
    case 's3': {
      const s3 = await ensureCeph();
      const bucket = await createTestBucket('berth-gc');
      const driver = await createS3Driver(
        parseS3Parameters({ accesskey: s3.accessKey, secretkey: s3.secretKey, region: s3.region, regionendpoint: s3.endpoint, forcepathstyle: true, bucket, rootdirectory: '/registry' }),
      );
      return {
        driver,
        cleanup: async () => {
          driver.destroy();
          await removeTestBucket(bucket);
        },
      };
    }
    case 'azure': {
      azurite ??= startAzurite();
      const handle = await azurite;
      const driver = await createAzureDriver(
        parseAzureParameters({
          accountname: handle.accountName,
          accountkey: handle.accountKey,
          serviceurl: handle.endpoint,
          container: `berth-gc-${randomBytes(6).toString('hex')}`,
        }),
      );
      return { driver, cleanup: async () => undefined };
    }
  }
}

/** Stops what makeDriver started for this process (Azurite; the Ceph cluster is scripts/ceph.sh's to stop). */
export async function stopServices(): Promise<void> {
  const running = azurite;
  azurite = undefined;
  if (running !== undefined) await (await running).stop();
}

export function repo(name: string): RepositoryName {
  return name as RepositoryName;
}

/** A descriptor as manifests carry it. */
export interface Desc {
  readonly mediaType: string;
  readonly digest: Digest;
  readonly size: number;
}

/** Uploads `data` into repository `name` (session, one chunk, complete, link): a client's monolithic push. */
export async function uploadBlob(registry: Registry, name: RepositoryName, data: Buffer = randomBytes(256)): Promise<Desc> {
  const uploads = registry.repository(name).uploads;
  const session = await uploads.start();
  await uploads.append(session.uuid, [data]);
  const digest = digestOf(data);
  await uploads.commit(session.uuid, digest);
  return { mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip', digest, size: data.byteLength };
}

/** A pushed image: its manifest descriptor and what it references. */
export interface Image {
  readonly manifest: Desc;
  readonly config: Desc;
  readonly layers: readonly Desc[];
  /** config and layers */
  readonly blobs: readonly Digest[];
}

/**
 * Pushes an image manifest into `name`: a fresh config, `layers` fresh random layers (or the given
 * existing ones, which must be linked in `name`), tagged when `tag` is given, else pushed by digest.
 */
export async function pushImage(
  registry: Registry,
  name: RepositoryName,
  options: { layers?: number | readonly Desc[]; tag?: string; subject?: Desc; artifactType?: string } = {},
): Promise<Image> {
  const config = await uploadBlob(registry, name, Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', nonce: randomBytes(8).toString('hex') })));
  const configDesc: Desc = { ...config, mediaType: 'application/vnd.oci.image.config.v1+json' };
  const layers: Desc[] = [];
  if (typeof options.layers === 'object') layers.push(...options.layers);
  else for (let i = 0; i < (options.layers ?? 2); i++) layers.push(await uploadBlob(registry, name));
  const manifest: Record<string, unknown> = { schemaVersion: 2, mediaType: MediaType.OciManifest, config: configDesc, layers };
  if (options.subject !== undefined) manifest['subject'] = options.subject;
  if (options.artifactType !== undefined) manifest['artifactType'] = options.artifactType;
  const body = Buffer.from(JSON.stringify(manifest));
  const digest = digestOf(body);
  const ref = options.tag !== undefined ? { kind: 'tag' as const, tag: options.tag as Tag } : { kind: 'digest' as const, digest };
  await registry.repository(name).manifests.put({ body, contentType: MediaType.OciManifest, ...putTarget(ref) });
  return { manifest: { mediaType: MediaType.OciManifest, digest, size: body.byteLength }, config: configDesc, layers, blobs: [configDesc.digest, ...layers.map((l) => l.digest)] };
}

/** Pushes an index of `children` (already in `name`), by tag or digest. */
export async function pushIndex(registry: Registry, name: RepositoryName, children: readonly Desc[], tag?: string): Promise<Desc> {
  const body = Buffer.from(JSON.stringify({ schemaVersion: 2, mediaType: MediaType.OciIndex, manifests: children }));
  const digest = digestOf(body);
  const ref = tag !== undefined ? { kind: 'tag' as const, tag: tag as Tag } : { kind: 'digest' as const, digest };
  await registry.repository(name).manifests.put({ body, contentType: MediaType.OciIndex, ...putTarget(ref) });
  return { mediaType: MediaType.OciIndex, digest, size: body.byteLength };
}

/** Every blob digest under blobs/. */
export async function allBlobs(driver: StorageDriver): Promise<Set<Digest>> {
  return new Set((await listBlobs(driver)).map((b) => b.digest));
}

/** Every manifest revision of a repository. */
export async function allRevisions(registry: Registry, name: RepositoryName): Promise<Set<Digest>> {
  const out = new Set<Digest>();
  for (const d of await registry.repository(name).manifests.enumerate()) {
    if (await registry.revisions.has(name, d)) out.add(d);
  }
  return out;
}

/** Every file in storage with its content: to prove a dry run changed nothing. */
export async function storageSnapshot(driver: StorageDriver): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  try {
    for await (const entry of driver.walk('/')) {
      if (!entry.isDir) out.set(entry.path, (await driver.getContent(entry.path)).toString('base64'));
    }
  } catch {
    // an empty storage
  }
  return out;
}

/** A manifest reference as a push's digest or tags. */
export function putTarget(ref: ManifestReference): { digest?: Digest; tags: Tag[] } {
  return ref.kind === 'tag' ? { tags: [ref.tag] } : { digest: ref.digest, tags: [] };
}
