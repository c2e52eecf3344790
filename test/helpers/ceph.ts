import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { fileURLToPath } from 'node:url';

import {
  AbortMultipartUploadCommand,
  CreateBucketCommand,
  DeleteBucketCommand,
  DeleteObjectsCommand,
  ListBucketsCommand,
  ListMultipartUploadsCommand,
  ListObjectsV2Command,
  S3Client,
} from '@aws-sdk/client-s3';

/** Where and how to reach the test cluster's S3 endpoint (what `scripts/ceph.sh env` prints). */
export interface CephS3 {
  /** `http://127.0.0.1:PORT`: path-style addressing only. */
  readonly endpoint: string;
  readonly accessKey: string;
  readonly secretKey: string;
  readonly region: string;
}

const root = fileURLToPath(new URL('../../../', import.meta.url));
const SCRIPT = `${root}scripts/ceph.sh`;
/** The script gives up after BERTH_CEPH_TIMEOUT (120 s) and may first wait for another file's start. */
const START_TIMEOUT_MS = 6 * 60_000;

// One start per test process; each test file runs in its own process and the script itself makes
// concurrent starts from several files share one cluster (it locks, then reuses a healthy one).
let started: Promise<CephS3> | undefined;

/**
 * Makes sure the single-node Ceph cluster of `scripts/ceph.sh` runs (starting it, or reusing the
 * one another test file or a developer started) and resolves with its S3 endpoint and keys, once
 * an authenticated request succeeds.
 *
 * Rejects, with the script's whole output (which includes the daemons' logs on failure), when the
 * cluster cannot start: tests that need S3 fail rather than skip. A cluster this starts is
 * marked as started by the tests, so `scripts/ceph.sh stop --if-started-by tests` at the end of
 * a run removes it and leaves a developer's own cluster alone.
 */
export function ensureCeph(): Promise<CephS3> {
  started ??= startCeph().catch((err: unknown) => {
    started = undefined;
    throw err;
  });
  return started;
}

async function startCeph(): Promise<CephS3> {
  const { code, stdout, stderr } = await run('bash', [SCRIPT, 'start'], {
    ...process.env,
    BERTH_CEPH_STARTED_BY: process.env['BERTH_CEPH_STARTED_BY'] ?? 'tests',
  });
  const output = `--- stdout ---\n${stdout}--- stderr ---\n${stderr}--- end ---`;
  if (code !== 0) throw new Error(`scripts/ceph.sh start failed (exit ${String(code)}): Ceph RGW is needed by this test\n${output}`);
  const env = new Map<string, string>();
  for (const line of stdout.split('\n')) {
    const match = /^(BERTH_S3_[A-Z_]+)=(.*)$/.exec(line.trim());
    if (match !== null) env.set(match[1] as string, match[2] as string);
  }
  const get = (name: string): string => {
    const value = env.get(name);
    if (value === undefined || value === '') throw new Error(`scripts/ceph.sh start did not print ${name}\n${output}`);
    return value;
  };
  const s3: CephS3 = {
    endpoint: get('BERTH_S3_ENDPOINT'),
    accessKey: get('BERTH_S3_ACCESS_KEY'),
    secretKey: get('BERTH_S3_SECRET_KEY'),
    region: get('BERTH_S3_REGION'),
  };
  const client = s3Client(s3);
  try {
    await client.send(new ListBucketsCommand({}), { abortSignal: AbortSignal.timeout(30_000) });
  } catch (err) {
    throw new Error(`Ceph RGW at ${s3.endpoint} refuses the test user's requests: ${err instanceof Error ? err.message : String(err)}\n${output}`, {
      cause: err,
    });
  } finally {
    client.destroy();
  }
  return s3;
}

/** An SDK client for the test cluster (path-style, the test user's keys). Destroy it when done. */
export function s3Client(s3: CephS3): S3Client {
  return new S3Client({
    endpoint: s3.endpoint,
    region: s3.region,
    forcePathStyle: true,
    credentials: { accessKeyId: s3.accessKey, secretAccessKey: s3.secretKey },
    requestChecksumCalculation: 'WHEN_REQUIRED',
    responseChecksumValidation: 'WHEN_REQUIRED',
  });
}

/**
 * Creates a bucket with a unique name (`berth-test-<hex>`) on the test cluster and resolves with
 * its name. Starts the cluster when needed.
 */
export async function createTestBucket(prefix = 'berth-test'): Promise<string> {
  const s3 = await ensureCeph();
  const bucket = `${prefix}-${randomBytes(6).toString('hex')}`;
  const client = s3Client(s3);
  try {
    await client.send(new CreateBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
  return bucket;
}

/** Empties a test bucket (objects and multipart uploads) and deletes it. */
export async function removeTestBucket(bucket: string): Promise<void> {
  const s3 = await ensureCeph();
  const client = s3Client(s3);
  try {
    for (;;) {
      const page = await client.send(new ListObjectsV2Command({ Bucket: bucket, MaxKeys: 1000 }));
      const keys = (page.Contents ?? []).flatMap((o) => (o.Key !== undefined ? [{ Key: o.Key }] : []));
      if (keys.length === 0) break;
      await client.send(new DeleteObjectsCommand({ Bucket: bucket, Delete: { Objects: keys, Quiet: true } }));
    }
    for (;;) {
      const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
      const uploads = page.Uploads ?? [];
      if (uploads.length === 0) break;
      for (const upload of uploads) {
        await client.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: upload.Key, UploadId: upload.UploadId }));
      }
    }
    await client.send(new DeleteBucketCommand({ Bucket: bucket }));
  } finally {
    client.destroy();
  }
}

function run(command: string, args: readonly string[], env: NodeJS.ProcessEnv): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk));
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    const timer = setTimeout(() => child.kill('SIGKILL'), START_TIMEOUT_MS);
    child.once('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run ${command} ${args.join(' ')}: ${err.message}`, { cause: err }));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/**
 * The `storage.s3` lines of a Berth (or Distribution) config for the test cluster, indented for
 * a `storage:` section; `extra` lines (e.g. `chunksize: 5242880`) go in the same mapping.
 */
export function s3StorageYaml(s3: CephS3, bucket: string, extra: readonly string[] = []): string {
  return [
    '  s3:',
    `    accesskey: ${s3.accessKey}`,
    `    secretkey: ${s3.secretKey}`,
    `    region: ${s3.region}`,
    `    regionendpoint: ${s3.endpoint}`,
    '    forcepathstyle: true',
    `    bucket: ${bucket}`,
    ...extra.map((line) => `    ${line}`),
  ].join('\n');
}
