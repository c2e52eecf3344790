import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import type { Readable } from 'node:stream';
import { after, before, describe, it } from 'node:test';

import {
  AbortMultipartUploadCommand,
  CreateMultipartUploadCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListMultipartUploadsCommand,
  ListPartsCommand,
  PutObjectCommand,
  UploadPartCommand,
  type S3Client,
} from '@aws-sdk/client-s3';

import { ConfigError } from '../../src/config-fields/config-error.js';
import { opensRanges, purgesAbandonedWriters } from '../../src/storage/driver/driver.js';
import { PathNotFoundError } from '../../src/storage/driver/errors.js';
import { instrumentDriver } from '../../src/metrics/instrument-driver.js';
import { RegistryMetrics } from '../../src/metrics/metrics.js';
import { createS3Driver, parseS3Parameters, S3Driver, type S3Parameters } from '../../src/storage/driver/s3/s3.js';
import { planCopyRanges } from '../../src/storage/driver/s3/multipart.js';
import { inWalkOrder, withDirectories, type ListedObject } from '../../src/storage/driver/s3/walk.js';
import { createTestBucket, ensureCeph, removeTestBucket, s3Client, type CephS3 } from '../helpers/ceph.js';
import { storageDriverSuite } from '../suites/storage-driver.js';

const MiB = 1024 * 1024;

/** The driver parameters for the test cluster, as they would appear under `storage.s3`. */
function params(s3: CephS3, bucket: string, extra: Record<string, unknown> = {}): S3Parameters {
  return parseS3Parameters({
    accesskey: s3.accessKey,
    secretkey: s3.secretKey,
    region: s3.region,
    regionendpoint: s3.endpoint,
    forcepathstyle: true,
    bucket,
    ...extra,
  });
}

/** Fails the run when a test left a multipart upload behind in the bucket. */
async function assertNoUploads(s3: CephS3, bucket: string): Promise<void> {
  const client = s3Client(s3);
  try {
    const page = await client.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.deepEqual((page.Uploads ?? []).map((u) => u.Key), [], 'multipart uploads left in progress');
  } finally {
    client.destroy();
  }
}

// The shared suite, twice: Distribution's defaults under a root directory, and a bucket without
// root directory where the smallest parts and a tiny copy threshold put every write and move
// through multipart uploads and UploadPartCopy.
storageDriverSuite('s3 (Ceph RGW, defaults, rootdirectory)', async () => {
  const s3 = await ensureCeph();
  const bucket = await createTestBucket();
  const driver = await createS3Driver(params(s3, bucket, { rootdirectory: '/suite/root/' }));
  return {
    driver,
    cleanup: async () => {
      driver.destroy();
      await assertNoUploads(s3, bucket);
      await removeTestBucket(bucket);
    },
  };
});

storageDriverSuite('s3 (Ceph RGW, 5 MiB parts, multipart copy)', async () => {
  const s3 = await ensureCeph();
  const bucket = await createTestBucket();
  const driver = await createS3Driver(
    params(s3, bucket, { chunksize: 5 * MiB, multipartcopythresholdsize: MiB, multipartcopychunksize: 5 * MiB, multipartcopymaxconcurrency: 2 }),
  );
  return {
    driver,
    cleanup: async () => {
      driver.destroy();
      await assertNoUploads(s3, bucket);
      await removeTestBucket(bucket);
    },
  };
});

describe('S3Driver on Ceph RGW', () => {
  let s3: CephS3;
  let bucket: string;
  let raw: S3Client;
  const drivers: S3Driver[] = [];

  /** A fresh driver (its own SDK client, as another process would have) on the test bucket. */
  async function newDriver(extra: Record<string, unknown> = {}): Promise<S3Driver> {
    const driver = await createS3Driver(params(s3, bucket, { rootdirectory: 'registry', chunksize: 5 * MiB, ...extra }));
    drivers.push(driver);
    return driver;
  }

  before(async () => {
    s3 = await ensureCeph();
    bucket = await createTestBucket();
    raw = s3Client(s3);
  });

  after(async () => {
    for (const driver of drivers) driver.destroy();
    raw?.destroy();
    if (bucket !== undefined) await removeTestBucket(bucket);
  });

  it('lays keys out as Distribution does: <rootdirectory>/<path without its leading slash>', async () => {
    const driver = await newDriver({ rootdirectory: '/registry/' });
    assert.equal(driver.objectKey('/docker/registry/v2/x'), 'registry/docker/registry/v2/x');
    await driver.putContent('/docker/registry/v2/x', Buffer.from('written by Berth'));
    const object = await raw.send(new GetObjectCommand({ Bucket: bucket, Key: 'registry/docker/registry/v2/x' }));
    assert.equal(await object.Body?.transformToString(), 'written by Berth');

    // An object Distribution wrote is a file of the driver.
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: 'registry/docker/registry/v2/blobs/sha256/ab/abc/data', Body: 'by Distribution' }));
    assert.equal((await driver.getContent('/docker/registry/v2/blobs/sha256/ab/abc/data')).toString(), 'by Distribution');
    assert.deepEqual(await driver.list('/docker/registry/v2/blobs/sha256/ab'), ['/docker/registry/v2/blobs/sha256/ab/abc']);

    const bare = await createS3Driver(params(s3, bucket));
    drivers.push(bare);
    assert.equal(bare.objectKey('/docker/registry/v2/x'), 'docker/registry/v2/x');
    assert.equal((await bare.getContent('/registry/docker/registry/v2/x')).toString(), 'written by Berth');
    await driver.delete('/docker');
  });

  it('writes a 25 MiB file across writer sessions of separate driver instances, then reads it back', async () => {
    const path = '/docker/registry/v2/repositories/r/_uploads/u1/data';
    // Session ends that leave a last part below 5 MiB (continued by re-uploading it), at or above
    // 5 MiB, and exactly on a part boundary; single bytes; a session that writes nothing.
    const sessions = [3 * MiB + 7, 1, 6 * MiB, 0, 4 * MiB - 8, 5 * MiB, 1, 7 * MiB - 1];
    const total = sessions.reduce((a, b) => a + b, 0);
    assert.equal(total, 25 * MiB);
    const data = randomBytes(total);
    let offset = 0;
    for (const [index, length] of sessions.entries()) {
      const driver = await newDriver();
      const writer = await driver.writer(path, index > 0);
      assert.equal(writer.size, offset, `size when session ${index} opens`);
      // Write in uneven pieces, as HTTP bodies arrive.
      for (let at = offset; at < offset + length; ) {
        const piece = Math.min(offset + length - at, 1 + ((at * 7919) % (2 * MiB)));
        await writer.write(data.subarray(at, at + piece));
        at += piece;
      }
      offset += length;
      assert.equal(writer.size, offset, `size after session ${index}`);
      if (index < sessions.length - 1) await writer.close();
      else await writer.commit();
    }
    const reader = await newDriver();
    assert.equal((await reader.stat(path)).size, total);
    assert.equal(sha256(await readAll(await reader.reader(path))), sha256(data));
    assert.ok((await readAll(await reader.reader(path, 20 * MiB + 3))).equals(data.subarray(20 * MiB + 3)));
    await reader.delete('/docker');
    await assertNoUploads(s3, bucket);
  });

  it('uploads parts while data arrives, not at close()', async () => {
    const driver = await newDriver();
    const path = '/streaming/data';
    const writer = await driver.writer(path, false);
    for (let i = 0; i < 12; i++) await writer.write(randomBytes(MiB));
    const uploads = await raw.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: driver.objectKey(path) }));
    const upload = uploads.Uploads?.[0];
    assert.ok(upload?.UploadId !== undefined, 'an upload is in progress');
    const parts = await raw.send(new ListPartsCommand({ Bucket: bucket, Key: driver.objectKey(path), UploadId: upload.UploadId }));
    assert.ok((parts.Parts ?? []).length >= 1, 'at least one 5 MiB part is stored before close()');
    assert.ok((parts.Parts ?? []).every((p) => p.Size === 5 * MiB));
    await writer.cancel();
    await assertNoUploads(s3, bucket);
  });

  it('refuses writes once its signal aborted, and close() keeps what was accepted', async () => {
    const driver = await newDriver();
    const controller = new AbortController();
    const writer = await driver.writer('/aborted/data', false, controller.signal);
    await writer.write(Buffer.from('accepted'));
    controller.abort();
    await assert.rejects(writer.write(Buffer.from('refused')), { name: 'AbortError' });
    await writer.close();
    const again = await driver.writer('/aborted/data', true);
    assert.equal(again.size, 'accepted'.length);
    await again.cancel();
    await assertNoUploads(s3, bucket);
  });

  it('continues an upload left by Distribution (a last part below 5 MiB)', async () => {
    const driver = await newDriver();
    const path = '/distribution/_uploads/u/data';
    const key = driver.objectKey(path);
    const first = randomBytes(5 * MiB);
    const tail = randomBytes(1000);
    const created = await raw.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const uploadId = created.UploadId as string;
    await raw.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 1, Body: first }));
    await raw.send(new UploadPartCommand({ Bucket: bucket, Key: key, UploadId: uploadId, PartNumber: 2, Body: tail }));
    const more = randomBytes(2 * MiB);
    const writer = await driver.writer(path, true);
    assert.equal(writer.size, first.length + tail.length);
    await writer.write(more);
    await writer.commit();
    assert.equal(sha256(await driver.getContent(path)), sha256(Buffer.concat([first, tail, more])));
    await driver.delete('/distribution');
    await assertNoUploads(s3, bucket);
  });

  it('recovers from a process that died while re-uploading the content into a new upload', async () => {
    const driver = await newDriver();
    const path = '/crash/data';
    const key = driver.objectKey(path);
    // The state after "complete the old upload, start a new one" and nothing more.
    const content = randomBytes(6 * MiB);
    await raw.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: content }));
    await raw.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: key }));
    const writer = await driver.writer(path, true);
    assert.equal(writer.size, content.length);
    await writer.write(Buffer.from('more'));
    await writer.commit();
    assert.equal(sha256(await driver.getContent(path)), sha256(Buffer.concat([content, Buffer.from('more')])));
    await driver.delete('/crash');
    await assertNoUploads(s3, bucket);
  });

  it('appends to a committed object', async () => {
    const driver = await newDriver();
    for (const size of [10, 6 * MiB]) {
      const path = `/committed/${size}`;
      const content = randomBytes(size);
      await driver.putContent(path, content);
      const writer = await driver.writer(path, true);
      assert.equal(writer.size, size);
      await writer.write(Buffer.from('appended'));
      await writer.commit();
      assert.equal(sha256(await driver.getContent(path)), sha256(Buffer.concat([content, Buffer.from('appended')])));
    }
    await driver.delete('/committed');
    await assertNoUploads(s3, bucket);
  });

  it('moves a file above multipartcopythresholdsize with a multipart copy', async () => {
    const driver = await newDriver({ multipartcopythresholdsize: 5 * MiB, multipartcopychunksize: 5 * MiB, multipartcopymaxconcurrency: 3 });
    const data = randomBytes(17 * MiB + 5);
    await driver.putContent('/copy/from', data);
    await driver.move('/copy/from', '/copy/to');
    assert.equal(sha256(await driver.getContent('/copy/to')), sha256(data));
    await assert.rejects(driver.stat('/copy/from'), PathNotFoundError);
    // A multipart object's ETag is "<md5 of the part md5s>-<parts>": 4 parts of 5 MiB or less.
    const head = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: driver.objectKey('/copy/to') }));
    assert.match(head.ETag ?? '', /-4"?$/);
    // At or below the threshold: one CopyObject (a plain ETag).
    await driver.putContent('/copy/small', data.subarray(0, 5 * MiB));
    await driver.move('/copy/small', '/copy/small-to');
    const small = await raw.send(new HeadObjectCommand({ Bucket: bucket, Key: driver.objectKey('/copy/small-to') }));
    assert.doesNotMatch(small.ETag ?? '', /-\d+"?$/);
    await driver.delete('/copy');
  });

  it('presigns GET and HEAD URLs that plain fetch can use, and that fail when tampered with', async () => {
    const driver = await newDriver();
    const data = randomBytes(100_000);
    await driver.putContent('/presigned/blob', data);
    const url = await driver.redirectUrl('/presigned/blob', 'GET');
    assert.ok(url !== undefined && url.startsWith(`${s3.endpoint}/${bucket}/registry/presigned/blob?`), url);
    assert.match(url, /X-Amz-Expires=1200/);
    const got = await fetch(url);
    assert.equal(got.status, 200);
    assert.ok(Buffer.from(await got.arrayBuffer()).equals(data));
    const headUrl = await driver.redirectUrl('/presigned/blob', 'HEAD');
    assert.ok(headUrl !== undefined);
    const head = await fetch(headUrl, { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.headers.get('content-length'), String(data.length));
    const tampered = await fetch(url.replace('/presigned/blob?', '/presigned/other?'));
    await tampered.arrayBuffer();
    assert.equal(tampered.status, 403);
    await driver.delete('/presigned');
  });

  it('aborts abandoned multipart uploads under its root on purgeUploads(), and only those', async () => {
    const driver = await newDriver();
    const writer = await driver.writer('/purge/_uploads/a/data', false);
    await writer.write(randomBytes(1000));
    await writer.close();
    // Outside the root directory: not the driver's to purge.
    const outside = await raw.send(new CreateMultipartUploadCommand({ Bucket: bucket, Key: 'elsewhere/data' }));
    assert.deepEqual(await driver.purgeUploads(new Date(Date.now() - 3600_000)), [], 'nothing is an hour old');
    const key = driver.objectKey('/purge/_uploads/a/data');
    assert.deepEqual(await driver.purgeUploads(new Date(Date.now() + 60_000), { dryRun: true }), [key], 'a dry run names it');
    assert.equal((await driver.writer('/purge/_uploads/a/data', true)).size, 1000, 'the young upload is intact');
    assert.deepEqual(await driver.purgeUploads(new Date(Date.now() + 60_000)), [key]);
    assert.equal((await driver.writer('/purge/_uploads/a/data', true)).size, 0, 'the upload is gone');
    const left = await raw.send(new ListMultipartUploadsCommand({ Bucket: bucket }));
    assert.deepEqual(
      (left.Uploads ?? []).map((u) => u.Key),
      ['elsewhere/data'],
    );
    await raw.send(new AbortMultipartUploadCommand({ Bucket: bucket, Key: 'elsewhere/data', UploadId: outside.UploadId }));
  });

  it('keeps purgeUploads() behind the metrics wrapper berth serve puts around every driver', async () => {
    const wrapped = instrumentDriver(await newDriver(), new RegistryMetrics({ processMetrics: false }));
    assert.equal(opensRanges(wrapped), false, 'no local files to send');
    assert.ok(purgesAbandonedWriters(wrapped), 'upload purging must still reach the multipart uploads');
    const writer = await wrapped.writer('/wrapped/_uploads/a/data', false);
    await writer.write(randomBytes(100));
    await writer.close();
    const purged = await wrapped.purgeUploads(new Date(Date.now() + 60_000));
    assert.equal(purged.length, 1);
    assert.match(purged[0] ?? '', /wrapped\/_uploads\/a\/data$/);
  });

  it('aborts the uploads in progress below a path it deletes', async () => {
    const driver = await newDriver();
    await driver.putContent('/del/_uploads/u/startedat', Buffer.from('now'));
    const writer = await driver.writer('/del/_uploads/u/data', false);
    await writer.write(randomBytes(10));
    await writer.close();
    await driver.delete('/del/_uploads/u');
    await assertNoUploads(s3, bucket);
    await assert.rejects(driver.stat('/del'), PathNotFoundError);
    // Only an upload in progress at the path: deleted too, not "not found".
    const lone = await driver.writer('/lone/data', false);
    await lone.write(Buffer.from('x'));
    await lone.close();
    await driver.delete('/lone/data');
    await assertNoUploads(s3, bucket);
    await assert.rejects(driver.delete('/lone/data'), PathNotFoundError);
  });

  it('pages list, walk and delete through more than 1000 keys', async () => {
    const driver = await newDriver();
    const names = Array.from({ length: 1105 }, (_, i) => `f${String(i).padStart(4, '0')}`);
    for (let i = 0; i < names.length; i += 100) {
      await Promise.all(names.slice(i, i + 100).map((name) => driver.putContent(`/many/${name}`, Buffer.from(name))));
    }
    await driver.putContent('/many-other/keep', Buffer.from('keep'));
    assert.equal((await driver.list('/many')).length, names.length);
    let walked = 0;
    for await (const info of driver.walk('/many')) {
      assert.equal(info.path, `/many/${names[walked]}`);
      walked++;
    }
    assert.equal(walked, names.length);
    await driver.delete('/many');
    await assert.rejects(driver.stat('/many'), PathNotFoundError);
    assert.equal((await driver.getContent('/many-other/keep')).toString(), 'keep');
    await driver.delete('/many-other');
  });

  it('says clearly when the bucket does not exist', async () => {
    await assert.rejects(createS3Driver(params(s3, `${bucket}-missing`)), /bucket "[^"]+-missing" does not exist/);
  });
});

describe('parseS3Parameters', () => {
  const base = { bucket: 'b', region: 'us-east-1' };

  it("applies Distribution's defaults", () => {
    const p = parseS3Parameters(base);
    assert.equal(p.chunkSize, 10 * MiB);
    assert.equal(p.multipartCopyChunkSize, 32 * MiB);
    assert.equal(p.multipartCopyMaxConcurrency, 100);
    assert.equal(p.multipartCopyThresholdSize, 32 * MiB);
    assert.equal(p.storageClass, 'STANDARD');
    assert.equal(p.objectAcl, 'private');
    assert.equal(p.secure, true);
    assert.equal(p.credentials, undefined, 'no keys: the default credential chain');
    assert.equal(p.endpoint, undefined);
    assert.equal(p.rootdirectory, '');
    assert.ok(Object.isFrozen(p));
  });

  it('reads strings for numbers and booleans, and builds endpoints', () => {
    const p = parseS3Parameters({
      bucket: 'b',
      regionendpoint: 'minio:9000',
      secure: 'false',
      chunksize: '5242880',
      forcepathstyle: 'true',
      encrypt: true,
      keyid: 'key-1',
      storageclass: 'none',
      accesskey: 'a',
      secretkey: 's',
      v4auth: false,
      loglevel: 'Debug',
      useragent: 'berth-test',
    });
    assert.equal(p.endpoint, 'http://minio:9000');
    assert.equal(p.region, 'us-east-1');
    assert.equal(p.chunkSize, 5 * MiB);
    assert.equal(p.forcePathStyle, true);
    assert.equal(p.keyId, 'key-1');
    assert.equal(p.storageClass, undefined);
    assert.deepEqual(p.credentials, { accessKeyId: 'a', secretAccessKey: 's' });
    assert.equal(p.logLevel, 'debug');
    assert.equal(parseS3Parameters({ ...base, regionendpoint: 'https://s3.example:8443/' }).endpoint, 'https://s3.example:8443/');
    assert.equal(parseS3Parameters({ ...base, accesskey: '', secretkey: '' }).credentials, undefined);
    assert.equal(parseS3Parameters(base).requestTimeoutMs, 30_000, 'requesttimeout defaults to 30s');
    assert.equal(parseS3Parameters({ ...base, requesttimeout: '1m30s' }).requestTimeoutMs, 90_000);
  });

  const cases: Array<[string, unknown, RegExp]> = [
    ['chunk size below 5 MiB', { ...base, chunksize: 5 * MiB - 1 }, /^config: storage\.s3\.chunksize: must be at least 5242880$/m],
    ['chunk size not a number', { ...base, chunksize: 'big' }, /^config: storage\.s3\.chunksize: expected number, got string "big"$/m],
    ['copy chunk size too small', { ...base, multipartcopychunksize: 1024 }, /^config: storage\.s3\.multipartcopychunksize: must be at least 5242880$/m],
    ['copy concurrency 0', { ...base, multipartcopymaxconcurrency: 0 }, /^config: storage\.s3\.multipartcopymaxconcurrency: must be at least 1$/m],
    ['threshold above 5 GiB', { ...base, multipartcopythresholdsize: 6 * 1024 * MiB }, /^config: storage\.s3\.multipartcopythresholdsize: must be at most/m],
    ['no bucket', { region: 'us-east-1' }, /^config: storage\.s3\.bucket: required$/m],
    ['no region nor endpoint', { bucket: 'b' }, /^config: storage\.s3\.region: required \(unless regionendpoint is set\)$/m],
    ['access key without secret', { ...base, accesskey: 'a' }, /^config: storage\.s3\.secretkey: set both accesskey and secretkey/m],
    ['unknown storage class', { ...base, storageclass: 'GLACIER' }, /^config: storage\.s3\.storageclass: expected one of NONE, STANDARD/m],
    ['unknown ACL', { ...base, objectacl: 'everyone' }, /^config: storage\.s3\.objectacl: expected one of private/m],
    ['not a boolean', { ...base, secure: 'maybe' }, /^config: storage\.s3\.secure: expected boolean, got string "maybe"$/m],
    ['bad endpoint', { ...base, regionendpoint: 'ftp://x' }, /^config: storage\.s3\.regionendpoint: expected an http or https URL/m],
    ['v2 auth on Amazon', { ...base, v4auth: false }, /^config: storage\.s3\.v4auth: on Amazon S3 only v4 authentication is possible$/m],
    ['misspelt key', { ...base, chunksise: 1 }, /^config: storage\.s3\.chunksise: unknown key \(did you mean "chunksize"\?\)$/m],
    ['unknown key', { ...base, size: 1 }, /^config: storage\.s3\.size: unknown key \(known keys: accesskey, /m],
    ['a request timeout that is not a duration', { ...base, requesttimeout: 'soon' }, /^config: storage\.s3\.requesttimeout: .*soon/m],
    ['a request timeout of zero', { ...base, requesttimeout: 0 }, /^config: storage\.s3\.requesttimeout: /m],
    ['not a mapping', 'bucket', /^config: storage\.s3: expected mapping/m],
  ];
  for (const [name, input, message] of cases) {
    it(`rejects ${name}`, () => {
      assert.throws(
        () => parseS3Parameters(input),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }

  it('reports every problem at once', () => {
    assert.throws(() => parseS3Parameters({ chunksize: 1, storageclass: 'x' }), (err: unknown) => {
      assert.ok(err instanceof ConfigError);
      assert.deepEqual(
        err.issues.map((i) => i.path),
        ['storage.s3.bucket', 'storage.s3.chunksize', 'storage.s3.storageclass'],
      );
      return true;
    });
  });
});

describe('S3 walk order and copy ranges (pure)', () => {
  async function* from(keys: string[]): AsyncGenerator<ListedObject> {
    for (const rel of keys) yield { rel, size: rel.length, modTime: new Date(0) };
  }
  async function walk(keys: string[]): Promise<string[]> {
    const out: string[] = [];
    for await (const entry of withDirectories(inWalkOrder(from([...keys].sort(byteOrder))))) out.push(entry.isDir ? `${entry.rel}/` : entry.rel);
    return out;
  }

  it('turns byte-ordered keys into depth-first, lexical-per-directory order', async () => {
    assert.deepEqual(await walk(['b', 'a/b/c/3', 'a/1', 'a.x/4', 'a-y', 'a/b/2', '_x', 'B', '0']), [
      '0',
      'B',
      '_x',
      'a/',
      'a/1',
      'a/b/',
      'a/b/2',
      'a/b/c/',
      'a/b/c/3',
      'a-y',
      'a.x/',
      'a.x/4',
      'b',
    ]);
    assert.deepEqual(await walk(['r/x-y/1', 'r/x.z', 'r/x/a-b/c', 'r/x/a/d', 'r/x0']), [
      'r/',
      'r/x/',
      'r/x/a/',
      'r/x/a/d',
      'r/x/a-b/',
      'r/x/a-b/c',
      'r/x-y/',
      'r/x-y/1',
      'r/x.z',
      'r/x0',
    ]);
  });

  it('treats keys ending in "/" as directory markers', async () => {
    assert.deepEqual(await walk(['d/', 'd/e/', 'f']), ['d/', 'd/e/', 'f']);
  });

  it('splits copies into ranges S3 accepts', () => {
    assert.deepEqual(planCopyRanges(0, 5 * MiB, true), []);
    assert.deepEqual(planCopyRanges(12 * MiB, 5 * MiB, false), [
      { first: 0, last: 5 * MiB - 1 },
      { first: 5 * MiB, last: 10 * MiB - 1 },
      { first: 10 * MiB, last: 12 * MiB - 1 },
    ]);
    // Followed by more parts, every range must reach 5 MiB: the short tail joins the range before.
    assert.deepEqual(planCopyRanges(12 * MiB, 5 * MiB, true), [
      { first: 0, last: 5 * MiB - 1 },
      { first: 5 * MiB, last: 12 * MiB - 1 },
    ]);
    // Never more than 10,000 parts.
    assert.ok(planCopyRanges(100_000 * MiB, 5 * MiB, false).length <= 10_000);
  });
});

function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

function sha256(data: Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}
