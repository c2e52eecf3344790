/**
 * The `storage.s3` section: Distribution's keys (its `s3aws` driver), validated once into
 * {@link S3Parameters}. Pure (no AWS SDK), so `config-check` can validate a file without loading it.
 *
 * Keys, with Distribution's names, defaults and limits:
 * - `accesskey`, `secretkey`: static credentials; both empty (or absent) means the SDK's default
 *   credential chain (environment, shared files, web identity, ECS/EC2 instance roles).
 *   `sessiontoken` goes with them for temporary credentials.
 * - `region`: required unless `regionendpoint` is set (then it defaults to `us-east-1`).
 * - `regionendpoint`: an S3-compatible endpoint (`http://127.0.0.1:7480`, `minio:9000`); without a
 *   scheme, `secure` picks https (default) or http.
 * - `forcepathstyle` (false), `accelerate` (false), `usedualstack` (false), `usefipsendpoint` (false).
 * - `bucket`: required; it must exist.
 * - `rootdirectory`: the key prefix of everything (slashes around it are ignored, as in Distribution).
 * - `encrypt` (false): server-side encryption, SSE-KMS with `keyid`, else AES256 (`keyid` alone does nothing).
 * - `secure` (true), `skipverify` (false: verify TLS certificates).
 * - `chunksize`: multipart upload part size, default 10 MiB, 5 MiB to 5 GiB.
 * - `multipartcopychunksize` (32 MiB, 5 MiB to 5 GiB), `multipartcopymaxconcurrency` (100, at least 1),
 *   `multipartcopythresholdsize` (32 MiB, 0 to 5 GiB): move() copies objects above the threshold
 *   with concurrent UploadPartCopy requests of that size.
 * - `storageclass` (STANDARD; NONE sends no storage class, for stores that reject the header),
 *   `objectacl` (private).
 * - `useragent`: appended to the SDK's user agent.
 * - Accepted for compatibility: `v4auth` (requests are always signed with SigV4; `false` is refused
 *   on Amazon endpoints as Distribution does, and ignored elsewhere), `loglevel` (Distribution's
 *   aws-sdk-go levels; the SDK's own logging stays off).
 * - `requesttimeout` (Berth extension, default 10s): a request to the store that receives no byte
 *   for this long fails, without retries, and the client gets 503 UNAVAILABLE with Retry-After
 *   (instead of waiting minutes for a store that stopped answering).
 * Numbers may be given as strings ("10485760"), booleans as strings ("true", "1", "yes").
 */
import { z } from 'zod';

import { ConfigError, formatKeyPath, type ConfigIssue } from '../../config/config-error.js';
import { configIssuesFromZod } from '../../config/issues.js';
import { DEFAULT_REQUEST_TIMEOUT_MS, requestTimeoutField } from './request-timeout.js';

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

function scalarToString(value: unknown): unknown {
  if (value === null) return undefined;
  return typeof value === 'number' || typeof value === 'boolean' ? String(value) : value;
}

/** An optional string; null and '' mean not set (as go-yaml leaves a Go string empty). */
const optionalString = () => z.preprocess((v) => (v === '' ? undefined : scalarToString(v)), z.string().optional());

// Go's strconv.ParseBool (what Distribution applies to strings) plus the YAML 1.1 words go-yaml reads as booleans.
const BOOLEAN_WORDS: Readonly<Record<string, boolean>> = Object.fromEntries([
  ...['1', 't', 'T', 'TRUE', 'true', 'True', 'y', 'Y', 'yes', 'Yes', 'YES', 'on', 'On', 'ON'].map((w) => [w, true] as const),
  ...['0', 'f', 'F', 'FALSE', 'false', 'False', 'n', 'N', 'no', 'No', 'NO', 'off', 'Off', 'OFF'].map((w) => [w, false] as const),
]);

const booleanField = () =>
  z.preprocess((value) => {
    if (value === null || value === '') return undefined;
    if (typeof value === 'string') return Object.hasOwn(BOOLEAN_WORDS, value) ? BOOLEAN_WORDS[value] : value;
    return value;
  }, z.boolean().optional());

/** An integer in [min, max]; a string of digits counts (Distribution scans `%d` from any scalar). */
const integerField = (min: number, max: number) =>
  z.preprocess(
    (value) => {
      if (value === null || value === '') return undefined;
      if (typeof value === 'string' && /^\s*[+-]?\d+\s*$/.test(value)) return Number(value);
      return value;
    },
    z.number().int().min(min).max(max).optional(),
  );

const enumField = <T extends readonly [string, ...string[]]>(values: T, normalise: (s: string) => string) =>
  z.preprocess((value) => (value === null || value === '' ? undefined : typeof value === 'string' ? normalise(value) : value), z.enum(values).optional());

const sectionSchema = z.strictObject({
  accesskey: optionalString(),
  secretkey: optionalString(),
  sessiontoken: optionalString(),
  region: optionalString(),
  regionendpoint: optionalString(),
  forcepathstyle: booleanField(),
  accelerate: booleanField(),
  usedualstack: booleanField(),
  usefipsendpoint: booleanField(),
  bucket: z.preprocess(scalarToString, z.string().min(1, { message: 'required' })),
  rootdirectory: optionalString(),
  encrypt: booleanField(),
  keyid: optionalString(),
  secure: booleanField(),
  skipverify: booleanField(),
  v4auth: booleanField(),
  chunksize: integerField(MIN_PART_SIZE, MAX_PART_SIZE),
  multipartcopychunksize: integerField(MIN_PART_SIZE, MAX_PART_SIZE),
  multipartcopymaxconcurrency: integerField(1, Number.MAX_SAFE_INTEGER),
  multipartcopythresholdsize: integerField(0, MAX_PART_SIZE),
  storageclass: enumField(S3_STORAGE_CLASSES, (s) => s.toUpperCase()),
  objectacl: enumField(S3_OBJECT_ACLS, (s) => s),
  useragent: optionalString(),
  loglevel: z.preprocess((v) => (v === false || v === null || v === '' ? undefined : v), z.string().optional()),
  requesttimeout: requestTimeoutField(),
});

const KNOWN_KEYS = Object.keys(sectionSchema.shape);

/**
 * Validates the `storage.s3` section (`params`: the value under that key, from YAML and
 * REGISTRY_STORAGE_S3_* overrides). Throws a ConfigError whose lines name the key, e.g.
 * `config: storage.s3.chunksize: must be at least 5242880`: every problem of shape and type at
 * once, or, when the shape is right, every missing or conflicting setting.
 */
export function parseS3Parameters(params: unknown): S3Parameters {
  const input = params === null || params === undefined || params === '' ? {} : params;
  const parsed = sectionSchema.safeParse(input, { reportInput: true });
  if (!parsed.success) throw new ConfigError(issuesOf(parsed.error.issues));
  const p = parsed.data;
  const issues: ConfigIssue[] = [];
  const at = (key: string): string => formatKeyPath([...SECTION, key]);

  if ((p.accesskey === undefined) !== (p.secretkey === undefined)) {
    const missing = p.accesskey === undefined ? 'accesskey' : 'secretkey';
    issues.push({ path: at(missing), message: 'set both accesskey and secretkey, or neither (to use the default credential chain)' });
  }
  if (p.sessiontoken !== undefined && p.accesskey === undefined) {
    issues.push({ path: at('sessiontoken'), message: 'needs accesskey and secretkey' });
  }
  const secure = p.secure ?? true;
  let endpoint: string | undefined;
  if (p.regionendpoint !== undefined) {
    endpoint = /^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(p.regionendpoint) ? p.regionendpoint : `${secure ? 'https' : 'http'}://${p.regionendpoint}`;
    if (!isHttpUrl(endpoint)) {
      issues.push({ path: at('regionendpoint'), message: `expected an http or https URL or host[:port], got ${JSON.stringify(p.regionendpoint)}` });
    }
  } else if (p.region === undefined) {
    issues.push({ path: at('region'), message: 'required (unless regionendpoint is set)' });
  }
  if (p.v4auth === false && (endpoint === undefined || endpoint.includes('amazonaws.com'))) {
    issues.push({ path: at('v4auth'), message: 'on Amazon S3 only v4 authentication is possible' });
  }
  if (issues.length > 0) throw new ConfigError(issues);

  const storageClass = p.storageclass ?? 'STANDARD';
  const credentials =
    p.accesskey !== undefined && p.secretkey !== undefined
      ? Object.freeze({
          accessKeyId: p.accesskey,
          secretAccessKey: p.secretkey,
          ...(p.sessiontoken !== undefined ? { sessionToken: p.sessiontoken } : {}),
        })
      : undefined;
  return Object.freeze({
    credentials,
    region: p.region ?? 'us-east-1',
    endpoint,
    forcePathStyle: p.forcepathstyle ?? false,
    accelerate: p.accelerate ?? false,
    useDualstack: p.usedualstack ?? false,
    useFips: p.usefipsendpoint ?? false,
    bucket: p.bucket,
    rootdirectory: p.rootdirectory ?? '',
    encrypt: p.encrypt ?? false,
    keyId: p.encrypt === true ? p.keyid : undefined,
    secure,
    skipVerify: p.skipverify ?? false,
    chunkSize: p.chunksize ?? DEFAULT_CHUNK_SIZE,
    multipartCopyChunkSize: p.multipartcopychunksize ?? DEFAULT_MULTIPART_COPY_CHUNK_SIZE,
    multipartCopyMaxConcurrency: p.multipartcopymaxconcurrency ?? DEFAULT_MULTIPART_COPY_MAX_CONCURRENCY,
    multipartCopyThresholdSize: p.multipartcopythresholdsize ?? DEFAULT_MULTIPART_COPY_THRESHOLD_SIZE,
    storageClass: storageClass === 'NONE' ? undefined : storageClass,
    objectAcl: p.objectacl ?? 'private',
    userAgent: p.useragent,
    logLevel: (p.loglevel ?? 'off').toLowerCase(),
    requestTimeoutMs: p.requesttimeout ?? DEFAULT_REQUEST_TIMEOUT_MS,
  });
}

/** zod's issues as ConfigIssues under `storage.s3`, unknown keys with the list of known ones. */
function issuesOf(zodIssues: readonly z.core.$ZodIssue[]): ConfigIssue[] {
  const out: ConfigIssue[] = [];
  for (const issue of zodIssues) {
    if (issue.code === 'unrecognized_keys') {
      for (const key of issue.keys) {
        out.push({ path: formatKeyPath([...SECTION, ...issue.path, key]), message: `unknown key (known keys: ${KNOWN_KEYS.join(', ')})` });
      }
      continue;
    }
    const [converted] = configIssuesFromZod([{ ...issue, path: [...SECTION, ...issue.path] }]);
    if (converted !== undefined) out.push(converted);
  }
  return out;
}

function isHttpUrl(text: string): boolean {
  try {
    const url = new URL(text);
    return (url.protocol === 'http:' || url.protocol === 'https:') && url.hostname !== '';
  } catch {
    return false;
  }
}
