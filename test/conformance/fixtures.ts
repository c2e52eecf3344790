import { createHash, randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import { MT } from './http.js';

/**
 * The conformance test data: what the OCI suite pushes, rebuilt here. Two families:
 * - `classicData()`: the fixed set of the Ginkgo-era suite (configs, one layer, image manifests
 *   with `data` and unknown descriptor fields, chunked blob halves, artifacts with a subject,
 *   an index with a subject), used by the pull / push / discovery / management workflows;
 * - `DataSet`: the generator of the current suite, which builds images, indexes and artifacts
 *   and records what the registry must answer for each (tags, manifests, blobs, referrers).
 */

export type Algorithm = 'sha256' | 'sha512';

export function digestOf(data: Uint8Array | string, algorithm: Algorithm = 'sha256'): string {
  return `${algorithm}:${createHash(algorithm).update(data).digest('hex')}`;
}

/** The well-known digest of `{}`, which the spec fixes for the empty descriptor. */
export const EMPTY_JSON_DIGEST = 'sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a';

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
  urls?: string[];
  data?: string;
  platform?: Platform;
  [extra: string]: unknown;
}

export interface Platform {
  os: string;
  architecture: string;
  variant?: string;
}

/** A one-file ustar archive (what an image layer is), built by hand to stay dependency-free. */
export function tarOneFile(name: string, content: Buffer): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0, 100, 'utf8');
  header.write('0000644\0', 100, 'ascii');
  header.write('0000000\0', 108, 'ascii');
  header.write('0000000\0', 116, 'ascii');
  header.write(`${content.byteLength.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  header.write('00000000000\0', 136, 'ascii');
  header.fill(0x20, 148, 156);
  header.write('0', 156, 'ascii');
  header.write('ustar\0', 257, 'ascii');
  header.write('00', 263, 'ascii');
  let sum = 0;
  for (const byte of header) sum += byte;
  header.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  const padding = Buffer.alloc((512 - (content.byteLength % 512)) % 512);
  return Buffer.concat([header, content, padding, Buffer.alloc(1024)]);
}

function randomText(length: number): string {
  const alphabet = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-';
  const bytes = randomBytes(length);
  let out = '';
  for (const byte of bytes) out += alphabet[byte % alphabet.length];
  return out;
}

/** A blob with its digest and size, as pushed. */
export interface Blob {
  readonly bytes: Buffer;
  readonly digest: string;
  readonly size: number;
}

export function blobOf(bytes: Buffer | string, algorithm: Algorithm = 'sha256'): Blob {
  const buf = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  return { bytes: buf, digest: digestOf(buf, algorithm), size: buf.byteLength };
}

export function randomBlobOf(size: number, algorithm: Algorithm = 'sha256'): Blob {
  return blobOf(randomBytes(size), algorithm);
}

// ---------------------------------------------------------------------------------------------
// The classic data set.

/** Everything the Ginkgo-era workflows push, built once per run with fresh random content. */
export interface ClassicData {
  /** One config per workflow (pull, push, discovery, management, referrers) so digests never collide. */
  configs: Blob[];
  layer: Blob;
  /** manifests[i] uses configs[i] and the layer; its config descriptor carries `data` and an unknown field. */
  manifests: Blob[];
  /** An image manifest with no layers and no mediaType field. */
  emptyLayerManifest: Blob;
  /** Pushed in one PATCH (streamed). */
  blobA: Blob;
  /** Pushed in two chunks. */
  blobB: Blob & { chunk1: Buffer; chunk2: Buffer };
  emptyJson: Blob;
  refBlobA: Blob;
  refBlobB: Blob;
  artifactTypeA: string;
  artifactTypeB: string;
  artifactTypeIndex: string;
  annotationKey: string;
  /** Referrers of manifests[4] (A/B by config media type, A/B by artifactType) and of manifests[3] (C). */
  refs: { aConfig: Blob; bConfig: Blob; aLayer: Blob; bLayer: Blob; cLayer: Blob; index: Blob };
  /** annotation value per referrer digest. */
  annotationOf: Map<string, string>;
  /** sha256("hello world"), a digest nothing is ever pushed under. */
  dummyDigest: string;
}

const pretty = (value: unknown): Buffer => Buffer.from(JSON.stringify(value, null, '\t'));

/** A descriptor as the suite's Go structs marshal it: with an unknown field the registry must keep. */
function classicDescriptor(mediaType: string, blob: Blob, extra: Record<string, unknown> = {}): Descriptor {
  return { mediaType, digest: blob.digest, size: blob.size, ...extra, newUnspecifiedField: null };
}

export function classicData(): ClassicData {
  const configs: Blob[] = [];
  for (let i = 0; i < 5; i++) {
    configs.push(blobOf(pretty({ author: randomText(16), architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } })));
  }
  const layer = blobOf(gzipSync(tarOneFile('test.txt', Buffer.from('conformance layer contents, for Berth\n'))));
  const layerDesc = classicDescriptor(MT.layerGzip, layer);
  const manifests = configs.map((config) =>
    blobOf(
      pretty({
        schemaVersion: 2,
        mediaType: MT.manifest,
        config: {
          mediaType: MT.config,
          digest: config.digest,
          size: config.size,
          data: config.bytes.toString('base64'),
          newUnspecifiedField: Buffer.from('hello world').toString('base64'),
        },
        layers: [layerDesc],
      }),
    ),
  );
  const config1 = configs[1] as Blob;
  const emptyLayerManifest = blobOf(
    pretty({
      schemaVersion: 2,
      config: { mediaType: MT.config, digest: config1.digest, size: config1.size, data: config1.bytes.toString('base64'), newUnspecifiedField: Buffer.from('hello world').toString('base64') },
      layers: [],
    }),
  );
  const blobA = randomBlobOf(42);
  const b = randomBlobOf(42);
  const half = 42 / 2 + 1;
  const blobB = { ...b, chunk1: b.bytes.subarray(0, half), chunk2: b.bytes.subarray(half) };
  const emptyJson = blobOf('{}');
  const refBlobA = blobOf('Berth conformance: referrer blob A');
  const refBlobB = blobOf('Berth conformance: referrer blob B, pushed after its subject');
  const artifactTypeA = 'application/vnd.berth.conformance.type-a';
  const artifactTypeB = 'application/vnd.berth.conformance.type-b';
  const artifactTypeIndex = 'application/vnd.berth.conformance.index';
  const annotationKey = 'org.opencontainers.conformance.test';
  const annotationOf = new Map<string, string>();
  const subject4 = classicDescriptor(MT.manifest, manifests[4] as Blob);
  const subject3 = classicDescriptor(MT.manifest, manifests[3] as Blob);
  const emptyDesc = classicDescriptor(MT.empty, emptyJson);
  const referrer = (body: Record<string, unknown>, annotation?: string): Blob => {
    const doc = annotation === undefined ? body : { ...body, annotations: { [annotationKey]: annotation } };
    const blob = blobOf(pretty(doc));
    if (annotation !== undefined) annotationOf.set(blob.digest, annotation);
    return blob;
  };
  // artifactType carried by the config's media type
  const aConfig = referrer({ schemaVersion: 2, mediaType: MT.manifest, config: classicDescriptor(artifactTypeA, refBlobA), layers: [emptyDesc], subject: subject4 }, 'config artifact a');
  const bConfig = referrer({ schemaVersion: 2, mediaType: MT.manifest, config: classicDescriptor(artifactTypeB, refBlobB), layers: [emptyDesc], subject: subject4 }, 'config artifact b');
  // artifactType field with the empty config
  const aLayer = referrer({ schemaVersion: 2, mediaType: MT.manifest, artifactType: artifactTypeA, config: emptyDesc, layers: [classicDescriptor(artifactTypeA, refBlobA)], subject: subject4 }, 'layer artifact a');
  const bLayer = referrer({ schemaVersion: 2, mediaType: MT.manifest, artifactType: artifactTypeB, config: emptyDesc, layers: [classicDescriptor(artifactTypeB, refBlobB)], subject: subject4 }, 'layer artifact b');
  // same shape as bLayer, but its subject is never pushed
  const cLayer = referrer({ schemaVersion: 2, mediaType: MT.manifest, artifactType: artifactTypeB, config: emptyDesc, layers: [classicDescriptor(artifactTypeB, refBlobB)], subject: subject3 });
  const index = referrer(
    {
      schemaVersion: 2,
      mediaType: MT.index,
      artifactType: artifactTypeIndex,
      manifests: [classicDescriptor(MT.manifest, aConfig), classicDescriptor(MT.manifest, aLayer)],
      subject: subject4,
    },
    'index artifact',
  );
  return {
    configs,
    layer,
    manifests,
    emptyLayerManifest,
    blobA,
    blobB,
    emptyJson,
    refBlobA,
    refBlobB,
    artifactTypeA,
    artifactTypeB,
    artifactTypeIndex,
    annotationKey,
    refs: { aConfig, bConfig, aLayer, bLayer, cLayer, index },
    annotationOf,
    dummyDigest: digestOf('hello world'),
  };
}

// ---------------------------------------------------------------------------------------------
// The generator of the current suite.

export const EXAMPLE_TYPE_1 = 'application/vnd.example.berth.conformance.v1';
export const EXAMPLE_TYPE_2 = 'application/vnd.example.berth.conformance.v2';

export interface GenOptions {
  algorithm?: Algorithm;
  tag?: string;
  artifactType?: string;
  annotations?: Record<string, string>;
  /** Adds one more annotation with a random key and value, so otherwise equal artifacts differ. */
  uniqueAnnotation?: boolean;
  subject?: Descriptor;
  configMediaType?: string;
  configBytes?: Buffer;
  layerCount?: number;
  layerMediaType?: string;
  layerBytes?: Buffer;
  compress?: boolean;
  platform?: Platform;
  platforms?: Platform[];
  /** Embed each descriptor's content in its `data` field. */
  setData?: boolean;
  /** Add unknown top-level fields to manifests and configs. */
  extraField?: boolean;
}

/**
 * One data set: blobs and manifests in push order, the tags to set, and for each subject the
 * referrer descriptors the registry must list (digest, media type, size, artifactType, annotations).
 */
export class DataSet {
  readonly blobs = new Map<string, Buffer>();
  readonly descriptors = new Map<string, Descriptor>();
  readonly manifests = new Map<string, Buffer>();
  /** Manifests in push order (children before the indexes that list them). */
  readonly order: string[] = [];
  readonly tags = new Map<string, string>();
  readonly referrers = new Map<string, Descriptor[]>();
  /** Manifests the registry must refuse with 400 (their digest does not match their bytes). */
  readonly badDigest = new Set<string>();

  constructor(
    readonly name: string,
    readonly description: string,
  ) {}

  private record(bytes: Buffer, mediaType: string, o: GenOptions): Descriptor {
    const digest = digestOf(bytes, o.algorithm ?? 'sha256');
    this.blobs.set(digest, bytes);
    const d: Descriptor = { mediaType, digest, size: bytes.byteLength };
    if (o.setData === true) d.data = bytes.toString('base64');
    this.descriptors.set(digest, d);
    return d;
  }

  blob(bytes: Buffer, mediaType: string, o: GenOptions = {}): Descriptor {
    return this.record(bytes, mediaType, o);
  }

  /** A tar layer (gzip unless `compress: false`); returns its descriptor and its uncompressed digest. */
  layer(n: number, o: GenOptions = {}): { desc: Descriptor; diffId: string } {
    const text = `Conformance test file number ${n}.\nA random token: ${randomText(24)}\n`;
    const tar = tarOneFile(`./conformance-${n}.txt`, Buffer.from(text));
    const gzip = o.compress !== false;
    const body = gzip ? gzipSync(tar) : tar;
    const desc = this.record(body, gzip ? MT.layerGzip : MT.layerTar, o);
    return { desc, diffId: digestOf(tar, o.algorithm ?? 'sha256') };
  }

  config(platform: Platform, diffIds: string[], o: GenOptions = {}): Descriptor {
    const doc: Record<string, unknown> = { author: 'Berth conformance suite', architecture: platform.architecture, os: platform.os, rootfs: { type: 'layers', diff_ids: diffIds } };
    if (o.extraField === true) doc[`x-berth-${randomText(8)}`] = randomText(12);
    return this.record(Buffer.from(JSON.stringify(doc)), MT.config, o);
  }

  private annotationsFor(o: GenOptions): Record<string, string> | undefined {
    if (o.uniqueAnnotation !== true) return o.annotations;
    return { ...(o.annotations ?? {}), [`org.example.${randomText(10).toLowerCase()}`]: randomText(16) };
  }

  private addManifest(doc: Record<string, unknown>, mediaType: string, o: GenOptions): Descriptor {
    if (o.extraField === true) doc[`x-berth-${randomText(8)}`] = { nested: randomText(6) };
    const body = Buffer.from(JSON.stringify(doc));
    const digest = digestOf(body, o.algorithm ?? 'sha256');
    this.manifests.set(digest, body);
    this.order.push(digest);
    const d: Descriptor = { mediaType, digest, size: body.byteLength };
    if (o.setData === true) d.data = body.toString('base64');
    this.descriptors.set(digest, d);
    if (o.subject !== undefined) {
      const artifactType = (doc['artifactType'] as string | undefined) ?? (doc['config'] as Descriptor | undefined)?.mediaType;
      const entry: Descriptor = { mediaType, digest, size: body.byteLength };
      if (artifactType !== undefined) entry.artifactType = artifactType;
      const annotations = doc['annotations'] as Record<string, string> | undefined;
      if (annotations !== undefined) entry.annotations = annotations;
      const list = this.referrers.get(o.subject.digest) ?? [];
      list.push(entry);
      this.referrers.set(o.subject.digest, list);
    }
    if (o.tag !== undefined) this.tags.set(o.tag, digest);
    return d;
  }

  manifest(config: Descriptor, layers: Descriptor[], o: GenOptions = {}): Descriptor {
    const doc: Record<string, unknown> = { schemaVersion: 2, mediaType: MT.manifest };
    if (o.artifactType !== undefined) doc['artifactType'] = o.artifactType;
    doc['config'] = config;
    doc['layers'] = layers;
    if (o.subject !== undefined) doc['subject'] = o.subject;
    const annotations = this.annotationsFor(o);
    if (annotations !== undefined) doc['annotations'] = annotations;
    return this.addManifest(doc, MT.manifest, o);
  }

  /** An image (layers, config, manifest) or, with a non-layer layerMediaType, an artifact. */
  image(o: GenOptions = {}): Descriptor {
    const count = o.layerCount ?? 2;
    const layers: Descriptor[] = [];
    const diffIds: string[] = [];
    for (let n = 0; n < count; n++) {
      if (o.layerMediaType === undefined || o.layerMediaType.startsWith('application/vnd.oci.image.layer.v1.')) {
        const { desc, diffId } = this.layer(n, o);
        layers.push(desc);
        diffIds.push(diffId);
      } else {
        layers.push(this.record(o.layerBytes ?? randomBytes(2048), o.layerMediaType, o));
      }
    }
    const config =
      o.configMediaType === undefined || o.configMediaType === MT.config
        ? this.config(o.platform ?? { os: 'linux', architecture: 'amd64' }, diffIds, o)
        : this.record(o.configBytes ?? Buffer.from('{}'), o.configMediaType, o);
    return this.manifest(config, layers, o);
  }

  index(children: Array<{ desc: Descriptor; platform?: Platform }>, o: GenOptions = {}): Descriptor {
    const doc: Record<string, unknown> = { schemaVersion: 2, mediaType: MT.index };
    if (o.artifactType !== undefined) doc['artifactType'] = o.artifactType;
    doc['manifests'] = children.map(({ desc, platform }) => (platform === undefined ? { ...desc } : { ...desc, platform }));
    if (o.subject !== undefined) doc['subject'] = o.subject;
    const annotations = this.annotationsFor(o);
    if (annotations !== undefined) doc['annotations'] = annotations;
    return this.addManifest(doc, MT.index, o);
  }

  /** An index over one image per platform; every option (subject included) also applies to the images. */
  indexOfImages(o: GenOptions = {}): Descriptor {
    const platforms = o.platforms ?? [
      { os: 'linux', architecture: 'amd64' },
      { os: 'linux', architecture: 'arm64' },
    ];
    const { tag: _tag, ...childOptions } = o;
    const children = platforms.map((platform) => ({ desc: this.image({ ...childOptions, platform }), platform }));
    return this.index(children, o);
  }
}

/** The data sets of the current suite with its default (spec 1.1) configuration. */
export function generatedDataSets(): DataSet[] {
  const sets: DataSet[] = [];
  const add = (name: string, description: string, build: (d: DataSet) => void): void => {
    const d = new DataSet(name, description);
    build(d);
    sets.push(d);
  };
  add('image', 'Image', (d) => d.image({ tag: 'image' }));
  add('image-uncompressed', 'Image Uncompressed', (d) => d.image({ tag: 'image-uncompressed', compress: false }));
  add('large-manifest', 'Image with Large Manifest', (d) => {
    const annotations: Record<string, string> = {};
    for (let i = 0; i < 390; i++) annotations[`large-annotation-${i}`] = 'A'.repeat(10000);
    d.image({ tag: 'large-manifest', annotations });
  });
  add('index', 'Index', (d) => d.indexOfImages({ tag: 'index' }));
  add('nested-index', 'Nested Index', (d) => {
    const first = d.indexOfImages();
    const second = d.indexOfImages();
    d.index([{ desc: first }, { desc: second }], { tag: 'index-of-index' });
  });
  add('empty-index', 'Empty Index', (d) => d.indexOfImages({ tag: 'index', platforms: [] }));
  add('artifact', 'Artifact', (d) =>
    d.image({ tag: 'artifact', artifactType: EXAMPLE_TYPE_1, configMediaType: MT.empty, configBytes: Buffer.from('{}'), layerCount: 1, layerMediaType: EXAMPLE_TYPE_1 }),
  );
  add('artifact-index', 'Artifact Index', (d) =>
    d.indexOfImages({ tag: 'artifact-index', artifactType: EXAMPLE_TYPE_1, configMediaType: MT.empty, configBytes: Buffer.from('{}'), layerCount: 1, layerMediaType: EXAMPLE_TYPE_1 }),
  );
  add('artifact-without-layers', 'Artifact without Layers', (d) =>
    d.image({ tag: 'artifact-without-layers', artifactType: EXAMPLE_TYPE_1, configMediaType: MT.empty, configBytes: Buffer.from('{}'), layerCount: 1, layerBytes: Buffer.from('{}'), layerMediaType: MT.empty }),
  );
  add('artifacts-with-subject', 'Artifacts with Subject', (d) => {
    const subject = d.image({ tag: 'image' });
    d.image({ subject });
    const common = { annotations: { 'org.opencontainers.conformance': 'hello conformance test' }, uniqueAnnotation: true, configMediaType: MT.empty, configBytes: Buffer.from('{}'), layerCount: 1, subject };
    d.image({ ...common, artifactType: EXAMPLE_TYPE_1, layerMediaType: EXAMPLE_TYPE_1, tag: 'tagged-artifact1' });
    d.image({ ...common, artifactType: EXAMPLE_TYPE_2, layerMediaType: MT.octet, tag: 'tagged-artifact2' });
  });
  add('index-with-subject', 'Index with Subject', (d) => {
    const subject = d.indexOfImages({ tag: 'index' });
    d.indexOfImages({
      artifactType: EXAMPLE_TYPE_1,
      annotations: { 'org.opencontainers.conformance': 'hello conformance test' },
      uniqueAnnotation: true,
      configMediaType: MT.empty,
      configBytes: Buffer.from('{}'),
      layerCount: 1,
      layerMediaType: EXAMPLE_TYPE_1,
      subject,
      tag: 'tagged-artifact',
    });
  });
  add('missing-subject', 'Missing Subject', (d) => {
    const subject: Descriptor = { mediaType: MT.manifest, size: 123, digest: digestOf('missing content') };
    d.image({
      artifactType: EXAMPLE_TYPE_1,
      annotations: { 'org.opencontainers.conformance': 'hello conformance test' },
      uniqueAnnotation: true,
      configMediaType: MT.empty,
      configBytes: Buffer.from('{}'),
      layerCount: 1,
      layerMediaType: EXAMPLE_TYPE_1,
      subject,
      tag: 'tagged-artifact',
    });
  });
  add('data-field', 'Data Field', (d) => d.image({ tag: 'data-field', setData: true }));
  add('non-distributable-layers', 'Non-distributable Layers', (d) => {
    // Two foreign layers that are never pushed (clients fetch them from their URLs), one normal layer.
    const foreign = (mediaType: string, size: number): Descriptor => {
      const digest = digestOf(randomBytes(256));
      return { mediaType, digest, size, urls: [`https://store.example.com/blobs/sha256/${digest.slice('sha256:'.length)}`] };
    };
    const gz = foreign(MT.layerNondistGzip, 123456);
    const tar = foreign(MT.layerNondistTar, 12345);
    const normal = d.layer(1);
    const config = d.config({ os: 'linux', architecture: 'amd64' }, [digestOf(randomBytes(256)), tar.digest, normal.diffId]);
    d.manifest(config, [gz, tar, normal.desc], { tag: 'non-distributable-image' });
  });
  add('custom-fields', 'Custom Fields', (d) => d.indexOfImages({ tag: 'custom-fields', extraField: true }));
  add('no-layers', 'No Layers', (d) => d.image({ tag: 'no-layers', layerCount: 0 }));
  add('sha512', 'Digest Algorithm sha512', (d) => d.indexOfImages({ algorithm: 'sha512' }));
  add('bad-digest-image', 'Bad Digest Image', (d) => {
    const good = d.image();
    // two trailing spaces: still valid JSON, but no longer the bytes the digest names
    const body = d.manifests.get(good.digest) as Buffer;
    d.manifests.set(good.digest, Buffer.concat([body, Buffer.from('  ')]));
    d.badDigest.add(good.digest);
  });
  return sets;
}
