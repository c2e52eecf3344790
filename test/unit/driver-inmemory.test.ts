import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { PathNotFoundError, StorageDriverError } from '../../src/storage/driver/errors.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import { storageDriverSuite } from '../suites/storage-driver.js';

storageDriverSuite('inmemory', async () => ({ driver: new InMemoryDriver(), cleanup: async () => undefined }));

describe('InMemoryDriver', () => {
  it('keeps directories only while files are below them', async () => {
    const driver = new InMemoryDriver();
    await driver.putContent('/a/b/c/file', Buffer.from('x'));
    assert.equal((await driver.stat('/a/b')).isDir, true);
    await driver.delete('/a/b/c/file');
    await assert.rejects(driver.stat('/a'), PathNotFoundError);
    assert.deepEqual(await driver.list('/'), []);

    await driver.putContent('/from/deep/file', Buffer.from('x'));
    await driver.move('/from/deep/file', '/to/file');
    await assert.rejects(driver.stat('/from'), PathNotFoundError);
    assert.deepEqual(await driver.list('/'), ['/to']);
  });

  it('serves a reader the snapshot taken when it opened', async () => {
    const driver = new InMemoryDriver();
    await driver.putContent('/file', Buffer.from('old content'));
    const reader = await driver.reader('/file', 4);
    await driver.putContent('/file', Buffer.from('new'));
    await driver.delete('/file');
    const chunks: Buffer[] = [];
    for await (const chunk of reader) {
      assert.ok(Buffer.isBuffer(chunk));
      chunks.push(chunk);
    }
    assert.equal(Buffer.concat(chunks).toString(), 'content');
  });

  it('shows a writer its content at close(), for an append to continue', async () => {
    const driver = new InMemoryDriver();
    const first = await driver.writer('/upload', false);
    await first.write(Buffer.from('abc'));
    await assert.rejects(driver.getContent('/upload'), PathNotFoundError, 'nothing visible before close');
    await first.close();
    assert.equal((await driver.getContent('/upload')).toString(), 'abc');
    const second = await driver.writer('/upload', true);
    await second.write(Buffer.from('def'));
    await second.commit();
    assert.equal((await driver.getContent('/upload')).toString(), 'abcdef');
  });

  it('refuses a file where a directory is, or below a file, creating nothing', async () => {
    const driver = new InMemoryDriver();
    await driver.putContent('/dir/file', Buffer.from('x'));
    await assert.rejects(driver.putContent('/dir', Buffer.from('y')), StorageDriverError);
    await assert.rejects(driver.putContent('/dir/file/below/deeper', Buffer.from('y')), StorageDriverError);
    await assert.rejects(driver.move('/dir/file', '/dir/file/below'), StorageDriverError);
    const walked: string[] = [];
    for await (const info of driver.walk('/')) walked.push(info.path);
    assert.deepEqual(walked, ['/dir', '/dir/file']);
  });

  it('stamps modification times with the injected clock', async () => {
    const now = new Date('2024-01-02T03:04:05Z');
    const driver = new InMemoryDriver({ now: () => now });
    await driver.putContent('/a/file', Buffer.from('x'));
    assert.equal((await driver.stat('/a/file')).modTime.getTime(), now.getTime());
    assert.equal((await driver.stat('/a')).modTime.getTime(), now.getTime());
  });
});
