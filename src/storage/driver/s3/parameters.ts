/**
 * The `storage.s3` section: Distribution's keys (its `s3aws` driver). Its schema is part of the one
 * configuration tree (config/schema.ts plugs it in as `storage.s3`), so the parameters are checked
 * once, when the configuration loads, and the driver receives them typed as {@link S3Parameters}.
 * Pure (no AWS SDK). A key is added in three places: the shape below (with its `doc`), S3Parameters,
 * and toParameters; then `node scripts/gen-config-docs.js` updates docs/configuration.md.
 * Each key's meaning, default and limits are in its `doc` below (and so in docs/configuration.md).
 * Numbers may be given as strings ("10485760"), booleans as strings ("true", "1", "yes").
 */
import { z } from 'zod';

import { booleanField, durationField, enumField, integerField, isHttpUrl, optionalString, requiredString, unsetIfEmpty } from '../../../config-fields/fields.js';
import { parseSection } from '../../../config-fields/issues.js';
import type { KeyDocs } from '../../../config-fields/schema-tree.js';
import { DEFAULT_REQUEST_TIMEOUT_MS } from '../request-timeout.js';

const MiB = 1024 * 1024;
/** The smallest part S3 accepts in a multipart upload, except the last one. */
export const MIN_PART_SIZE = 5 * MiB;
/** The largest part (and the largest single UploadPartCopy range) S3 accepts. */
export const MAX_PART_SIZE = 5 * 1024 * MiB;
/** Distribution's default `chunksize`: the part size of multipart uploads. */
export const DEFAULT_CHUNK_SIZE = 2 * MIN_PART_SIZE;
/** Distribution's default `multipartcopychunksize` (empirically the fastest, it says). */
export const DEFAULT_MULTIPART_COPY_CHUNK_SIZE = 32 * MiB;
/** Distribution's default `multipartcopymaxconcurrency`. */
export const DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY = 100;
/** Distribution's default `multipartcopythresholdsize`: larger objects are copied in parts. */
export const DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE = 32 * MiB;

/** The key path of the section, prefixed to every message. */
const SECTION = ['storage', 's3'] as const;

/** The storage classes Distribution accepts (all instant-retrieval); NONE sends none. */
export const S3_STORAGE_CLASSES = [
  'NONE',
  'STANDARD',
  'REDUCED_REDUNDANCY',
  'STANDARD_IA',
  'ONEZONE_IA',
  'INTELLIGENT_TIERING',
  'OUTPOSTS',
  'GLACIER_IR',
  'EXPRESS_ONEZONE',
] as const;

/** The canned ACLs Distribution accepts for `objectacl`. */
export const S3_OBJECT_ACLS = [
  'private',
  'public-read',
  'public-read-write',
  'authenticated-read',
  'aws-exec-read',
  'bucket-owner-read',
  'bucket-owner-full-control',
] as const;

/** A storage class the driver sends (NONE is represented by `undefined`). */
export type S3StorageClass = Exclude<(typeof S3_STORAGE_CLASSES)[number], 'NONE'>;
/** A canned object ACL. */
export type S3ObjectAcl = (typeof S3_OBJECT_ACLS)[number];

/** The validated `storage.s3` section. Frozen. */
export interface S3Parameters {
  /** Static credentials, or undefined for the SDK's default credential chain. */
  readonly credentials: { readonly accessKeyId: string; readonly secretAccessKey: string; readonly sessionToken?: string } | undefined;
  readonly region: string;
  /** The endpoint URL with its scheme, or undefined for Amazon S3's own endpoints. */
  readonly endpoint: string | undefined;
  readonly forcePathStyle: boolean;
  readonly accelerate: boolean;
  readonly useDualstack: boolean;
  readonly useFips: boolean;
  readonly bucket: string;
  /** As configured; the driver trims its slashes when it builds keys, as Distribution does. */
  readonly rootdirectory: string;
  readonly encrypt: boolean;
  /** The KMS key for SSE-KMS, or undefined (also when `encrypt` is off). */
  readonly keyId: string | undefined;
  readonly secure: boolean;
  readonly skipVerify: boolean;
  readonly chunkSize: number;
  readonly multipartCopyChunkSize: number;
  readonly multipartCopyMaxConcurrency: number;
  readonly multipartCopyThresholdSize: number;
  /** Undefined when configured as NONE. */
  readonly storageClass: S3StorageClass | undefined;
  readonly objectAcl: S3ObjectAcl;
  readonly userAgent: string | undefined;
  /** Distribution's `loglevel`, lower-cased (`off` when unset); informational. */
  readonly logLevel: string;
  /** `requesttimeout` (Berth extension): a request that hears nothing for this long fails (503 UNAVAILABLE), and is not retried. */
  readonly requestTimeoutMs: number;
}

const flag = (defaultValue: boolean) => booleanField(defaultValue, { strconv: true });
const size = (defaultValue: number, min: number, max: number) => integerField(defaultValue, min, max, { fromString: true });
const mib = (bytes: number): string => `\`${bytes}\` (${bytes / MiB} MiB)`;

const s3Shape = {
  accesskey: optionalString(),
  secretkey: optionalString(),
  sessiontoken: optionalString(),
  region: optionalString(),
  regionendpoint: optionalString(),
  forcepathstyle: flag(false),
  accelerate: flag(false),
  usedualstack: flag(false),
  usefipsendpoint: flag(false),
  bucket: requiredString(),
  rootdirectory: optionalString(),
  encrypt: flag(false),
  keyid: optionalString(),
  secure: flag(true),
  skipverify: flag(false),
  v4auth: flag(true),
  chunksize: size(DEFAULT_CHUNK_SIZE, MIN_PART_SIZE, MAX_PART_SIZE),
  multipartcopychunksize: size(DEFAULT_MULTIPART_COPY_CHUNK_SIZE, MIN_PART_SIZE, MAX_PART_SIZE),
  multipartcopymaxconcurrency: size(DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY, 1, Number.MAX_SAFE_INTEGER),
  multipartcopythresholdsize: size(DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE, 0, MAX_PART_SIZE),
  storageclass: enumField(S3_STORAGE_CLASSES, 'STANDARD', { normalise: (text) => text.toUpperCase() }),
  objectacl: enumField(S3_OBJECT_ACLS, 'private', { normalise: (text) => text }),
  useragent: optionalString(),
  loglevel: z.preprocess((v) => (v === false ? undefined : unsetIfEmpty(v)), z.string().optional()),
  requesttimeout: durationField(DEFAULT_REQUEST_TIMEOUT_MS, { bound: 'positive', examples: '10s or 30s', emptyIsUnset: true }),
};

type ParsedSection = z.output<z.ZodObject<typeof s3Shape>>;

/** Settings that are wrong together: missing halves of credentials, a region, an endpoint that is no URL. */
function checkSection(p: ParsedSection, ctx: z.RefinementCtx): void {
  const issue = (key: string, message: string): void => ctx.addIssue({ code: 'custom', path: [key], message });
  if ((p.accesskey === undefined) !== (p.secretkey === undefined)) {
    issue(p.accesskey === undefined ? 'accesskey' : 'secretkey', 'set both accesskey and secretkey, or neither (to use the default credential chain)');
  }
  if (p.sessiontoken !== undefined && p.accesskey === undefined) issue('sessiontoken', 'needs accesskey and secretkey');
  const endpoint = endpointOf(p);
  if (p.regionendpoint !== undefined && (endpoint === undefined || !isHttpUrl(endpoint))) {
    issue('regionendpoint', `expected an http or https URL or host[:port], got ${JSON.stringify(p.regionendpoint)}`);
  } else if (p.regionendpoint === undefined && p.region === undefined) {
    issue('region', 'required (unless regionendpoint is set)');
  }
  if (!p.v4auth && (endpoint === undefined || endpoint.includes('amazonaws.com'))) issue('v4auth', 'on Amazon S3 only v4 authentication is possible');
}

/** The endpoint URL: `regionendpoint` with its scheme, or `secure`'s when it has none. */
function endpointOf(p: ParsedSection): string | undefined {
  if (p.regionendpoint === undefined) return undefined;
  return /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(p.regionendpoint) ? p.regionendpoint : `${p.secure ? 'https' : 'http'}://${p.regionendpoint}`;
}

function toParameters(p: ParsedSection): S3Parameters {
  const credentials =
    p.accesskey !== undefined && p.secretkey !== undefined
      ? Object.freeze({ accessKeyId: p.accesskey, secretAccessKey: p.secretkey, ...(p.sessiontoken !== undefined ? { sessionToken: p.sessiontoken } : {}) })
      : undefined;
  return Object.freeze({
    credentials,
    region: p.region ?? 'us-east-1',
    endpoint: endpointOf(p),
    forcePathStyle: p.forcepathstyle,
    accelerate: p.accelerate,
    useDualstack: p.usedualstack,
    useFips: p.usefipsendpoint,
    bucket: p.bucket,
    rootdirectory: p.rootdirectory ?? '',
    encrypt: p.encrypt,
    keyId: p.encrypt ? p.keyid : undefined,
    secure: p.secure,
    skipVerify: p.skipverify,
    chunkSize: p.chunksize,
    multipartCopyChunkSize: p.multipartcopychunksize,
    multipartCopyMaxConcurrency: p.multipartcopymaxconcurrency,
    multipartCopyThresholdSize: p.multipartcopythresholdsize,
    storageClass: p.storageclass === 'NONE' ? undefined : p.storageclass,
    objectAcl: p.objectacl,
    userAgent: p.useragent,
    logLevel: (p.loglevel ?? 'off').toLowerCase(),
    requestTimeoutMs: p.requesttimeout,
  });
}

/**
 * The schema of `storage.s3` (null or '' is an empty mapping, so the missing bucket is reported).
 * Output: frozen {@link S3Parameters}. Every problem of shape and type at once, or, when the shape
 * is right, every missing or conflicting setting, each at its key.
 */
export const s3ParametersSchema = z.preprocess((value) => unsetIfEmpty(value) ?? {}, z.strictObject(s3Shape).check(z.superRefine(checkSection)).transform(toParameters));

/**
 * Validates a `storage.s3` section on its own (as the configuration does when it loads), for tests and
 * tools that build a driver directly. Throws a ConfigError whose lines name the key, e.g.
 * `config: storage.s3.chunksize: must be at least 5242880`.
 */
export function parseS3Parameters(params: unknown): S3Parameters {
  return parseSection(s3ParametersSchema, SECTION, params);
}

/** What docs/configuration.md says of each key (config/schema.ts puts it under `storage.s3`). */
export const s3KeyDocs: KeyDocs = {
  accesskey: { type: 'string', default: '—', text: 'Access key ID of static credentials. With `secretkey`; both unset means the SDK\'s default credential chain (environment, shared files, web identity, ECS/EC2 instance roles).' },
  secretkey: { type: 'string', default: '—', text: 'Secret access key of static credentials (never logged).' },
  sessiontoken: { type: 'string', default: '—', text: 'Session token of temporary credentials; needs `accesskey` and `secretkey`.' },
  region: { type: 'string', default: '`us-east-1` with `regionendpoint`', text: 'AWS region of the bucket; required unless `regionendpoint` is set.' },
  regionendpoint: { type: 'string', default: '—', text: 'Endpoint of an S3-compatible store (`http://127.0.0.1:7480`, `minio:9000`); without a scheme, `secure` picks https or http.' },
  forcepathstyle: { type: 'boolean', default: '`false`', text: 'Path-style addressing (`endpoint/bucket/key`), which most S3-compatible stores need.' },
  accelerate: { type: 'boolean', default: '`false`', text: 'Use S3 Transfer Acceleration endpoints.' },
  usedualstack: { type: 'boolean', default: '`false`', text: 'Use dual-stack (IPv4 and IPv6) endpoints.' },
  usefipsendpoint: { type: 'boolean', default: '`false`', text: 'Use FIPS endpoints.' },
  bucket: { type: 'string', default: 'required', text: 'The bucket holding everything; it must exist.' },
  rootdirectory: { type: 'string', default: '`""`', text: 'Key prefix of everything the registry stores (slashes around it are ignored, as in Distribution).' },
  encrypt: { type: 'boolean', default: '`false`', text: 'Server-side encryption: SSE-KMS with `keyid`, else AES256.' },
  keyid: { type: 'string', default: '—', text: 'KMS key for SSE-KMS; used only with `encrypt: true`.' },
  secure: { type: 'boolean', default: '`true`', text: 'Use https for a `regionendpoint` given without a scheme.' },
  skipverify: { type: 'boolean', default: '`false`', text: 'Do not verify TLS certificates (testing only).' },
  v4auth: { type: 'boolean', default: '`true`', text: 'Accepted for compatibility: requests are always signed with SigV4; `false` is refused on Amazon endpoints (as Distribution does) and ignored elsewhere.' },
  chunksize: { type: 'integer, 5 MiB to 5 GiB', default: mib(DEFAULT_CHUNK_SIZE), text: 'Part size of multipart uploads, in bytes.' },
  multipartcopychunksize: { type: 'integer, 5 MiB to 5 GiB', default: mib(DEFAULT_MULTIPART_COPY_CHUNK_SIZE), text: 'Range size of the UploadPartCopy requests that move large objects.' },
  multipartcopymaxconcurrency: { type: 'integer ≥ 1', default: `\`${DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY}\``, text: 'UploadPartCopy requests in flight for one move.' },
  multipartcopythresholdsize: { type: 'integer, 0 to 5 GiB', default: mib(DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE), text: 'Objects above this size are moved with concurrent UploadPartCopy requests; smaller ones with one CopyObject.' },
  storageclass: { type: S3_STORAGE_CLASSES.map((c) => `\`${c}\``).join(' \\| '), default: '`STANDARD`', text: 'Storage class of stored objects (case-insensitive); `NONE` sends no storage class, for stores that reject the header.' },
  objectacl: { type: 'canned ACL name', default: '`private`', text: `Canned ACL of stored objects: ${S3_OBJECT_ACLS.map((a) => `\`${a}\``).join(', ')}.` },
  useragent: { type: 'string', default: '—', text: 'Appended to the SDK\'s user agent.' },
  loglevel: { type: 'string', default: '`off`', text: 'Accepted for compatibility (Distribution\'s aws-sdk-go levels); the SDK\'s own logging stays off.' },
  requesttimeout: { type: 'duration', default: '`30s`', text: 'A request to the store that receives no byte, in either direction, for this long fails without retries and the client gets 503 `UNAVAILABLE` with `Retry-After` (instead of waiting minutes for a store that stopped answering). Berth extension, see [memory.md](memory.md).' },
};
