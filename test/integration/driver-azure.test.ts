import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';

import { BlobServiceClient, StorageSharedKeyCredential, type ContainerClient } from '@azure/storage-blob';

import { ConfigError } from '../../src/config-fields/config-error.js';
import { SharedKeySigner, createAzureClients } from '../../src/storage/driver/azure/auth.js';
import { BlobLayout, compareWalkOrder, inWalkOrder, type ListedBlob } from '../../src/storage/driver/azure/layout.js';
import { AzureDriver, createAzureDriver, parseAzureParameters, type AzureParameters } from '../../src/storage/driver/azure/azure.js';
import { PathNotFoundError, StorageDriverError } from '../../src/storage/driver/errors.js';
import { startTestRegistry } from '../helpers/app.js';
import { startAzurite, type AzuriteHandle } from '../helpers/azurite.js';
import { storageDriverSuite } from '../suites/storage-driver.js';

const MiB = 1024 * 1024;

/** Array.fromAsync, which Node 20 lacks. */
async function collect<T, U>(items: AsyncIterable<T>, map: (item: T) => U): Promise<U[]> {
  const out: U[] = [];
  for await (const item of items) out.push(map(item));
  return out;
}

describe('AzureDriver against Azurite', () => {
  let azurite: AzuriteHandle | undefined;
  let service: BlobServiceClient;

  before(async () => {
    // No skip: without Azurite every test below fails, with Azurite's output in the message.
    azurite = await startAzurite();
    service = new BlobServiceClient(azurite.endpoint, new StorageSharedKeyCredential(azurite.accountName, azurite.accountKey));
  });

  after(async () => {
    await azurite?.stop();
  });

  /** Distribution-style parameters for the running Azurite. */
  function params(extra: Record<string, unknown> = {}): AzureParameters {
    assert.ok(azurite, 'Azurite is running');
    return parseAzureParameters({ accountname: azurite.accountName, accountkey: azurite.accountKey, serviceurl: azurite.endpoint, ...extra });
  }

  /** A driver with a small block size, sharing the container of `container`. */
  function smallBlockDriver(container: ContainerClient, rootdirectory: string, blockSize: number, stageConcurrency: number): AzureDriver {
    return new AzureDriver({ container, signer: new SharedKeySigner(), rootdirectory, blockSize, stageConcurrency });
  }

  storageDriverSuite('azure (Azurite)', async () => ({
    driver: await createAzureDriver(params({ container: 'berth-suite', rootdirectory: '/suite-root/' })),
    cleanup: async () => undefined,
  }));

  // The same suite with tiny blocks staged four at a time, so every writer test spans many blocks.
  storageDriverSuite('azure (Azurite, 64 KiB blocks)', async () => {
    const container = service.getContainerClient('berth-suite-small');
    await container.createIfNotExists();
    return { driver: smallBlockDriver(container, 'small', 64 * 1024, 4), cleanup: async () => undefined };
  });

  describe('Azure specifics', () => {
    it('reads back a 20 MiB file written in several sessions, each by a new driver instance', async () => {
      const config = params({ container: 'berth-sessions', rootdirectory: 'sessions' });
      const path = '/docker/registry/v2/repositories/big/_uploads/u1/data';
      const sessions = [3 * MiB + 1, 7 * MiB - 5, 1, 4 * MiB + 123, 20 * MiB - (3 * MiB + 1) - (7 * MiB - 5) - 1 - (4 * MiB + 123)];
      const data = randomBytes(20 * MiB);
      let offset = 0;
      for (const [index, length] of sessions.entries()) {
        const driver = await createAzureDriver(config);
        const writer = await driver.writer(path, index > 0);
        assert.equal(writer.size, offset, `session ${index} continues at ${offset}`);
        // Odd chunk sizes, so blocks and chunks never line up.
        for (let at = offset; at < offset + length; ) {
          const end = Math.min(offset + length, at + 1 + ((at * 7919) % (3 * MiB)));
          await writer.write(data.subarray(at, end));
          at = end;
        }
        offset += length;
        if (index < sessions.length - 1) {
          await writer.close();
          assert.equal((await driver.stat(path)).size, offset, `size after session ${index}`);
        } else {
          await writer.commit();
        }
      }
      const reader = await createAzureDriver(config);
      assert.equal((await reader.stat(path)).size, data.length);
      const hash = createHash('sha256');
      for await (const chunk of await reader.reader(path)) hash.update(chunk as Buffer);
      assert.equal(hash.digest('hex'), createHash('sha256').update(data).digest('hex'));
      const tail = Buffer.concat(await collect(await reader.reader(path, 17 * MiB + 3), (c) => c as Buffer));
      assert.ok(tail.equals(data.subarray(17 * MiB + 3)), 'ranged read of the tail');

      // The blob is a block blob whose committed blocks are this driver's: equal-length ids.
      const blocks = await service.getContainerClient('berth-sessions').getBlockBlobClient(reader.blobName(path)).getBlockList('all');
      assert.equal(blocks.uncommittedBlocks?.length ?? 0, 0, 'nothing left uncommitted');
      const ids = (blocks.committedBlocks ?? []).map((block) => block.name);
      assert.ok(ids.length >= 6, `${ids.length} blocks`);
      assert.equal(new Set(ids).size, ids.length, 'block ids are unique');
      assert.equal(new Set(ids.map((id) => id.length)).size, 1, 'block ids are equally long');

      await reader.move(path, '/docker/registry/v2/blobs/sha256/ab/abcd/data');
      assert.equal((await reader.stat('/docker/registry/v2/blobs/sha256/ab/abcd/data')).size, data.length);
      await reader.delete('/docker');
    });

    it('gives a redirect URL: a read-only SAS valid for about 20 minutes, that plain fetch follows', async () => {
      const driver = await createAzureDriver(params({ container: 'berth-redirect' }));
      const content = randomBytes(100_000);
      await driver.putContent('/docker/registry/v2/blobs/sha256/12/1234/data', content);
      const url = await driver.redirectUrl('/docker/registry/v2/blobs/sha256/12/1234/data', 'GET');
      assert.ok(url !== undefined, 'a URL');
      const parsed = new URL(url);
      assert.equal(parsed.pathname, '/devstoreaccount1/berth-redirect/docker/registry/v2/blobs/sha256/12/1234/data');
      assert.equal(parsed.searchParams.get('sp'), 'r');
      const expiresIn = new Date(parsed.searchParams.get('se') ?? '').getTime() - Date.now();
      assert.ok(expiresIn > 18 * 60_000 && expiresIn <= 20 * 60_000 + 5_000, `expires in ${expiresIn} ms`);

      const get = await fetch(url);
      assert.equal(get.status, 200);
      assert.ok(Buffer.from(await get.arrayBuffer()).equals(content));
      const head = await fetch(url, { method: 'HEAD' });
      assert.equal(head.status, 200);
      assert.equal(head.headers.get('content-length'), String(content.length));
      const ranged = await fetch(url, { headers: { range: 'bytes=10-19' } });
      assert.equal(ranged.status, 206);
      assert.ok(Buffer.from(await ranged.arrayBuffer()).equals(content.subarray(10, 20)));

      const put = await fetch(url, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'overwrite' });
      await put.arrayBuffer();
      assert.equal(put.status, 403, 'the SAS does not allow writes');
      const forged = new URL(url);
      forged.searchParams.set('sp', 'rw');
      const tampered = await fetch(forged, { method: 'PUT', headers: { 'x-ms-blob-type': 'BlockBlob' }, body: 'overwrite' });
      await tampered.arrayBuffer();
      assert.equal(tampered.status, 403, 'a tampered SAS is refused');
      assert.ok((await driver.getContent('/docker/registry/v2/blobs/sha256/12/1234/data')).equals(content));
      await driver.delete('/docker');
    });

    it('lays blobs out as Distribution does: <rootdirectory without outer slashes>/<path>', async () => {
      const container = service.getContainerClient('berth-layout');
      const cases: Array<[string, string]> = [
        ['', 'docker/registry/v2/repositories/r/_layers/x/link'],
        ['/', 'docker/registry/v2/repositories/r/_layers/x/link'],
        ['registry', 'registry/docker/registry/v2/repositories/r/_layers/x/link'],
        ['/registry/', 'registry/docker/registry/v2/repositories/r/_layers/x/link'],
        ['/a/b//', 'a/b/docker/registry/v2/repositories/r/_layers/x/link'],
      ];
      for (const [rootdirectory, expected] of cases) {
        const driver = await createAzureDriver(params({ container: 'berth-layout', rootdirectory }));
        await driver.putContent('/docker/registry/v2/repositories/r/_layers/x/link', Buffer.from('sha256:abc'));
        const names = await collect(container.listBlobsFlat(), (item) => item.name);
        assert.deepEqual(names, [expected], `rootdirectory ${JSON.stringify(rootdirectory)}`);
        assert.equal(driver.blobName('/docker/registry/v2/repositories/r/_layers/x/link'), expected);
        await driver.delete('/docker');
        assert.deepEqual(await collect(container.listBlobsFlat(), (item) => item.name), []);
      }
    });

    it('serves what Distribution wrote: its append blobs are read, listed, replaced and moved over', async () => {
      const container = service.getContainerClient('berth-distribution');
      await container.createIfNotExists();
      // Distribution 3 writes every file as an append blob.
      const link = container.getAppendBlobClient('reg/docker/registry/v2/repositories/app/_manifests/tags/latest/current/link');
      await link.create();
      await link.appendBlock(Buffer.from('sha256:1111'), 11);
      const driver = await createAzureDriver(params({ container: 'berth-distribution', rootdirectory: '/reg' }));
      const linkPath = '/docker/registry/v2/repositories/app/_manifests/tags/latest/current/link';
      assert.equal((await driver.getContent(linkPath)).toString(), 'sha256:1111');
      assert.deepEqual(await driver.list('/docker/registry/v2/repositories/app/_manifests/tags'), ['/docker/registry/v2/repositories/app/_manifests/tags/latest']);
      await driver.putContent(linkPath, Buffer.from('sha256:2222'));
      assert.equal((await driver.getContent(linkPath)).toString(), 'sha256:2222');

      const other = container.getAppendBlobClient('reg/docker/registry/v2/blobs/sha256/22/2222/data');
      await other.create();
      await other.appendBlock(Buffer.from('old'), 3);
      await driver.putContent('/upload', Buffer.from('new content'));
      await driver.move('/upload', '/docker/registry/v2/blobs/sha256/22/2222/data');
      assert.equal((await driver.getContent('/docker/registry/v2/blobs/sha256/22/2222/data')).toString(), 'new content');
      // An upload Distribution started (an append blob) cannot be continued: a clear error.
      const upload = container.getAppendBlobClient('reg/docker/registry/v2/repositories/app/_uploads/v/data');
      await upload.create();
      await assert.rejects(driver.writer('/docker/registry/v2/repositories/app/_uploads/v/data', true), /not a block blob/);
      await driver.delete('/');
      assert.deepEqual(await collect(container.listBlobsFlat(), (item) => item.name), []);
    });

    it('appends to content written in one Put Blob by staging it again as blocks', async () => {
      const driver = await createAzureDriver(params({ container: 'berth-restage' }));
      const first = randomBytes(MiB + 7);
      await driver.putContent('/file', first);
      const writer = await driver.writer('/file', true);
      assert.equal(writer.size, first.length);
      const second = randomBytes(5000);
      await writer.write(second);
      await writer.close();
      assert.ok((await driver.getContent('/file')).equals(Buffer.concat([first, second])));
      await driver.delete('/file');
    });

    it('refuses to commit over content another session committed meanwhile', async () => {
      const driver = await createAzureDriver(params({ container: 'berth-conflict' }));
      const start = await driver.writer('/upload', false);
      await start.write(Buffer.from('base'));
      await start.close();
      const one = await driver.writer('/upload', true);
      const two = await driver.writer('/upload', true);
      await one.write(Buffer.from('-one'));
      await two.write(Buffer.from('-two'));
      await one.close();
      await assert.rejects(two.close(), /changed by another writer/);
      assert.equal((await driver.getContent('/upload')).toString(), 'base-one');

      const fresh1 = await driver.writer('/fresh', true);
      const fresh2 = await driver.writer('/fresh', true);
      await fresh1.write(Buffer.from('1'));
      await fresh2.write(Buffer.from('2'));
      await fresh1.close();
      await assert.rejects(fresh2.commit(), /changed by another writer/);
      assert.equal((await driver.getContent('/fresh')).toString(), '1');
      await driver.delete('/upload');
      await driver.delete('/fresh');
    });

    it('keeps what was staged when the request aborts mid-write, and cancel() leaves nothing', async () => {
      const container = service.getContainerClient('berth-abort');
      await container.createIfNotExists();
      const driver = smallBlockDriver(container, '', 1000, 2);
      const controller = new AbortController();
      const writer = await driver.writer('/upload', false, controller.signal);
      const data = randomBytes(10_500);
      await writer.write(data.subarray(0, 5000));
      controller.abort();
      await assert.rejects(writer.write(data.subarray(5000)));
      await writer.close().catch(() => undefined);
      const kept = await driver.getContent('/upload');
      assert.ok(kept.length <= 5000 && kept.length % 1000 === 0, `kept ${kept.length} bytes in whole blocks`);
      assert.ok(kept.equals(data.subarray(0, kept.length)));

      const resumed = await driver.writer('/upload', true);
      assert.equal(resumed.size, kept.length);
      await resumed.write(data.subarray(kept.length));
      await resumed.commit();
      assert.ok((await driver.getContent('/upload')).equals(data));

      const cancelled = await driver.writer('/upload', true);
      await cancelled.write(randomBytes(4321));
      await cancelled.cancel();
      await assert.rejects(driver.stat('/upload'), PathNotFoundError);
      const all = await container.getBlockBlobClient('upload').getBlockList('all').catch((err: unknown) => err);
      assert.ok(all instanceof Error, 'no blob, not even uncommitted blocks');
    });

    it('backs a registry: a chunked push lands as one blob, a pull is redirected to Azure', async () => {
      const driver = await createAzureDriver(params({ container: 'berth-registry', rootdirectory: '/registry' }));
      const registry = await startTestRegistry({ driver });
      try {
        const blob = randomBytes(6 * MiB + 321);
        const digest = `sha256:${createHash('sha256').update(blob).digest('hex')}`;
        let response = await fetch(`${registry.url}/v2/azure/test/blobs/uploads/`, { method: 'POST' });
        assert.equal(response.status, 202);
        let location = new URL(response.headers.get('location') ?? '', registry.url);
        for (const [start, end] of [[0, 2 * MiB], [2 * MiB, 6 * MiB + 321]] as const) {
          response = await fetch(location, {
            method: 'PATCH',
            headers: { 'content-type': 'application/octet-stream', 'content-range': `${start}-${end - 1}` },
            body: blob.subarray(start, end),
          });
          assert.equal(response.status, 202, await response.text());
          location = new URL(response.headers.get('location') ?? '', registry.url);
        }
        location.searchParams.set('digest', digest);
        response = await fetch(location, { method: 'PUT' });
        assert.equal(response.status, 201, await response.text());

        const hex = digest.slice('sha256:'.length);
        const names = await collect(service.getContainerClient('berth-registry').listBlobsFlat(), (item) => item.name);
        assert.deepEqual(names, [`registry/docker/registry/v2/blobs/sha256/${hex.slice(0, 2)}/${hex}/data`, `registry/docker/registry/v2/repositories/azure/test/_layers/sha256/${hex}/link`]);

        response = await fetch(`${registry.url}/v2/azure/test/blobs/${digest}`, { redirect: 'manual' });
        await response.arrayBuffer();
        assert.equal(response.status, 307);
        const redirected = response.headers.get('location') ?? '';
        assert.ok(redirected.startsWith(`${azurite?.endpoint}/berth-registry/registry/docker/registry/v2/blobs/`), redirected);
        const pulled = await fetch(`${registry.url}/v2/azure/test/blobs/${digest}`);
        assert.equal(pulled.status, 200);
        assert.ok(Buffer.from(await pulled.arrayBuffer()).equals(blob), 'fetch followed the redirect to the content');
      } finally {
        await registry.close();
        await driver.delete('/');
      }
    });

    it('creates the container when missing, and works from a connection string', async () => {
      assert.ok(azurite);
      const name = `berth-created-${randomBytes(4).toString('hex')}`;
      assert.equal(await service.getContainerClient(name).exists(), false);
      const driver = await createAzureDriver(parseAzureParameters({ connectionstring: azurite.connectionString, container: name }));
      assert.equal(await service.getContainerClient(name).exists(), true);
      await driver.putContent('/x', Buffer.from('via connection string'));
      assert.equal((await driver.getContent('/x')).toString(), 'via connection string');
      const url = await driver.redirectUrl('/x', 'GET');
      assert.ok(url !== undefined);
      assert.equal(await (await fetch(url)).text(), 'via connection string');
      await driver.delete('/x');
      await service.getContainerClient(name).delete();
    });

    it('fails to start with the cause when Azure refuses the credentials', async () => {
      await assert.rejects(
        createAzureDriver(params({ container: 'berth-refused', accountkey: Buffer.from('wrong key').toString('base64') })),
        (err: unknown) => err instanceof StorageDriverError && /berth-refused/.test(err.message) && /403|authenticate/i.test(err.message),
      );
    });
  });
});

describe('parseAzureParameters', () => {
  const base = { accountname: 'acct', accountkey: 'a2V5', container: 'registry' };

  it('applies Distribution’s defaults', () => {
    const parsed = parseAzureParameters(base);
    assert.deepEqual(parsed, {
      container: 'registry',
      rootdirectory: '',
      auth: { kind: 'shared_key', accountName: 'acct', accountKey: 'a2V5', serviceUrl: 'https://acct.blob.core.windows.net' },
      copyStatusPollMaxRetry: 5,
      copyStatusPollDelayMs: 100,
      requestTimeoutMs: 30_000,
    } satisfies AzureParameters);
    assert.ok(Object.isFrozen(parsed));
  });

  const valid: Array<[string, Record<string, unknown>, Partial<AzureParameters>]> = [
    ['realm', { ...base, realm: 'core.chinacloudapi.cn' }, { auth: { kind: 'shared_key', accountName: 'acct', accountKey: 'a2V5', serviceUrl: 'https://acct.blob.core.chinacloudapi.cn' } }],
    ['serviceurl (trailing slash dropped)', { ...base, serviceurl: 'http://127.0.0.1:10000/devstoreaccount1/' }, { auth: { kind: 'shared_key', accountName: 'acct', accountKey: 'a2V5', serviceUrl: 'http://127.0.0.1:10000/devstoreaccount1' } }],
    ['connectionstring', { container: 'registry', connectionstring: 'UseDevelopmentStorage=true' }, { auth: { kind: 'connectionstring', connectionString: 'UseDevelopmentStorage=true' } }],
    ['rootdirectory', { ...base, rootdirectory: '/registry/' }, { rootdirectory: '/registry/' }],
    ['copy polling', { ...base, copy_status_poll_max_retry: -1, copy_status_poll_delay: '1s' }, { copyStatusPollMaxRetry: -1, copyStatusPollDelayMs: 1000 }],
    ['a request timeout', { ...base, requesttimeout: '2500ms' }, { requestTimeoutMs: 2500 }],
    ['copy polling, newer names', { ...base, max_retries: 2, retry_delay: '250ms' }, { copyStatusPollMaxRetry: 2, copyStatusPollDelayMs: 250 }],
    ['a number where a string goes (from REGISTRY_* overrides)', { ...base, accountname: 12345 }, { auth: { kind: 'shared_key', accountName: '12345', accountKey: 'a2V5', serviceUrl: 'https://12345.blob.core.windows.net' } }],
    ['null means unset', { ...base, realm: null, rootdirectory: null }, { rootdirectory: '' }],
    ['no key: the default credential chain, as in Distribution', { accountname: 'acct', container: 'registry' }, { auth: { kind: 'default_credentials', accountName: 'acct', serviceUrl: 'https://acct.blob.core.windows.net' } }],
    ['credentials default (Distribution 3.0’s spelling)', { accountname: 'acct', container: 'registry', credentials: { type: 'default' } }, { auth: { kind: 'default_credentials', accountName: 'acct', serviceUrl: 'https://acct.blob.core.windows.net' } }],
    [
      'credentials client_secret',
      { accountname: 'acct', container: 'registry', credentials: { type: 'client_secret', clientid: 'c', tenantid: 't', secret: 's' } },
      { auth: { kind: 'client_secret', accountName: 'acct', serviceUrl: 'https://acct.blob.core.windows.net', clientId: 'c', tenantId: 't', secret: 's' } },
    ],
    ['credentials shared_key', { ...base, credentials: { type: 'shared_key' } }, { auth: { kind: 'shared_key', accountName: 'acct', accountKey: 'a2V5', serviceUrl: 'https://acct.blob.core.windows.net' } }],
  ];
  for (const [name, input, expected] of valid) {
    it(`accepts ${name}`, () => {
      const parsed = parseAzureParameters(input);
      for (const [key, value] of Object.entries(expected)) assert.deepEqual(parsed[key as keyof AzureParameters], value, key);
    });
  }

  const invalid: Array<[string, unknown, string[]]> = [
    ['nothing', undefined, ['config: storage.azure.container: required']],
    ['no container, no account', {}, ['config: storage.azure.container: required']],
    ['no account', { container: 'registry' }, ['config: storage.azure.accountname: required (or set connectionstring)']],
    ['a list', ['x'], ['config: storage.azure: expected mapping, got list']],
    ['an empty container', { ...base, container: '' }, ['config: storage.azure.container: required']],
    [
      'a container name Azure refuses',
      { ...base, container: 'My_Registry' },
      ['config: storage.azure.container: must be 3-63 characters of lower-case letters, digits and single hyphens, starting and ending with a letter or digit'],
    ],
    ['a misspelt key', { ...base, acountkey: 'x' }, ['config: storage.azure.acountkey: unknown key (did you mean "accountkey"?)']],
    ['an unknown key', { ...base, key: 'x' }, ['config: storage.azure.key: unknown key (known keys: accountname, accountkey, container, realm, rootdirectory, serviceurl, connectionstring, credentials, copy_status_poll_max_retry, copy_status_poll_delay, max_retries, retry_delay, requesttimeout)']],
    ['a request timeout that is not a duration', { ...base, requesttimeout: 'soon' }, ['config: storage.azure.requesttimeout: invalid duration "soon"; expected a duration such as 10s or 30s']],
    ['a request timeout of zero', { ...base, requesttimeout: '0s' }, ['config: storage.azure.requesttimeout: must be a positive duration']],
    ['an unknown credentials key', { ...base, credentials: { type: 'shared_key', password: 'x' } }, ['config: storage.azure.credentials.password: unknown key (known keys: type, clientid, tenantid, secret)']],
    ['an unknown credentials type', { ...base, credentials: { type: 'managed_identity' } }, ['config: storage.azure.credentials.type: expected one of shared_key, client_secret, default_credentials, got string "managed_identity"']],
    [
      'client_secret without its fields',
      { accountname: 'acct', container: 'registry', credentials: { type: 'client_secret', clientid: 'c' } },
      ['config: storage.azure.credentials.tenantid: required with credentials.type client_secret', 'config: storage.azure.credentials.secret: required with credentials.type client_secret'],
    ],
    ['shared_key without a key', { accountname: 'acct', container: 'registry', credentials: { type: 'shared_key' } }, ['config: storage.azure.accountkey: required with credentials.type shared_key']],
    ['a serviceurl that is no URL', { ...base, serviceurl: 'localhost:10000' }, ['config: storage.azure.serviceurl: expected an http or https URL, got "localhost:10000"']],
    ['both endpoints', { container: 'registry', connectionstring: 'UseDevelopmentStorage=true', serviceurl: 'http://x' }, ['config: storage.azure.serviceurl: set either connectionstring or serviceurl, not both']],
    ['a connection string that is none', { container: 'registry', connectionstring: 'hello' }, ['config: storage.azure.connectionstring: expected an Azure Storage connection string (AccountName=...;AccountKey=... or BlobEndpoint=...;SharedAccessSignature=...)']],
    ['a bad delay', { ...base, copy_status_poll_delay: '5 minutes' }, [
        'config: storage.azure.copy_status_poll_delay: unknown unit " minutes" in duration "5 minutes" (units: ns, us, ms, s, m, h); expected a duration such as 100ms or 1s',
      ]],
    ['a bad retry count', { ...base, copy_status_poll_max_retry: -2 }, ['config: storage.azure.copy_status_poll_max_retry: must be at least -1']],
    ['old and new names together', { ...base, max_retries: 1, copy_status_poll_max_retry: 1 }, ['config: storage.azure.max_retries: set either copy_status_poll_max_retry or max_retries (its newer name), not both']],
  ];
  for (const [name, input, messages] of invalid) {
    it(`refuses ${name}, naming the key`, () => {
      assert.throws(
        () => parseAzureParameters(input),
        (err: unknown) => {
          assert.ok(err instanceof ConfigError, String(err));
          assert.deepEqual(err.message.split('\n'), messages);
          return true;
        },
      );
    });
  }
});

describe('createAzureClients', () => {
  it('builds token-credential clients for Distribution’s credentials types, without I/O', async () => {
    for (const credentials of [{ type: 'default_credentials' }, { type: 'client_secret', clientid: 'c', tenantid: 't', secret: 's' }]) {
      const { container, signer } = await createAzureClients(parseAzureParameters({ accountname: 'acct', container: 'registry', credentials }));
      assert.equal(container.url, 'https://acct.blob.core.windows.net/registry');
      assert.ok(!(signer instanceof SharedKeySigner), 'URLs are signed with user delegation keys');
    }
  });
});

describe('Azure blob layout and walk order (pure)', () => {
  it('maps paths to blob names and back', () => {
    const layout = new BlobLayout('/root/');
    assert.equal(layout.blobName('/a/b'), 'root/a/b');
    assert.equal(layout.dirPrefix('/'), 'root/');
    assert.equal(layout.dirPrefix('/a'), 'root/a/');
    assert.equal(layout.pathOf('root/a/b'), '/a/b');
    assert.equal(layout.pathOf('other/a'), undefined);
    assert.equal(layout.pathOf('root/a//b'), undefined);
    assert.equal(layout.pathOf('root/with space'), undefined);
    assert.equal(new BlobLayout('').blobName('/a'), 'a');
  });

  it('orders names depth first, "/" before every other character', () => {
    const names = ['b', 'a/b/c/3', 'a/1', 'a.x/4', 'a-y', 'a/b/2', '_x', 'B', '0', 'a'];
    assert.deepEqual([...names].sort(compareWalkOrder), ['0', 'B', '_x', 'a', 'a/1', 'a/b/2', 'a/b/c/3', 'a-y', 'a.x/4', 'b']);
  });

  async function walked(names: string[]): Promise<string[]> {
    const flat = [...names].sort(); // what Azure lists: plain code-unit order
    async function* listing(): AsyncGenerator<ListedBlob> {
      for (const name of flat) yield { name, size: name.length, modTime: new Date(0) };
    }
    return collect(inWalkOrder(listing()), (entry) => (entry.isDir ? `${entry.name}/` : entry.name));
  }

  /** The walk order computed the slow way: every file and directory, sorted. */
  function expectedWalk(names: string[]): string[] {
    const dirs = new Set<string>();
    for (const name of names) for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) dirs.add(name.slice(0, i));
    const entries = [...names.map((name) => ({ name, dir: false })), ...[...dirs].map((name) => ({ name, dir: true }))];
    entries.sort((a, b) => compareWalkOrder(a.name, b.name) || Number(b.dir) - Number(a.dir));
    return entries.map((entry) => (entry.dir ? `${entry.name}/` : entry.name));
  }

  it('turns a flat listing into walk order with the directories in place', async () => {
    assert.deepEqual(await walked(['b', 'a/b/c/3', 'a/1', 'a.x/4', 'a-y', 'a/b/2', '_x', 'B', '0']), [
      '0', 'B', '_x', 'a/', 'a/1', 'a/b/', 'a/b/2', 'a/b/c/', 'a/b/c/3', 'a-y', 'a.x/', 'a.x/4', 'b',
    ]);
    assert.deepEqual(await walked([]), []);
  });

  it('agrees with a full sort on random trees of look-alike names', async () => {
    const alphabet = ['a', 'b', '-', '.', '_', 'A', '0'];
    let seed = 42;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) % 2 ** 31;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      const names = new Set<string>();
      const count = 1 + random(25);
      while (names.size < count) {
        const depth = 1 + random(4);
        const segments = Array.from({ length: depth }, () => Array.from({ length: 1 + random(3) }, () => alphabet[random(alphabet.length)]).join(''));
        names.add(segments.join('/'));
      }
      // A name cannot be both a file and a directory in a real tree.
      const files = [...names].filter((name) => ![...names].some((other) => other.startsWith(`${name}/`)));
      assert.deepEqual(await walked(files), expectedWalk(files), JSON.stringify(files));
    }
  });

  it('buffers only look-alike siblings, not the whole listing', async () => {
    const names = Array.from({ length: 10_000 }, (_, i) => `blobs/sha256/${String(i % 256).padStart(3, '0')}/${String(i).padStart(6, '0')}/data`).sort();
    let listed = 0;
    let released = 0;
    let maxHeld = 0;
    async function* listing(): AsyncGenerator<ListedBlob> {
      for (const name of names) {
        listed++;
        maxHeld = Math.max(maxHeld, listed - released);
        yield { name, size: 1, modTime: new Date(0) };
      }
    }
    for await (const entry of inWalkOrder(listing())) if (!entry.isDir) released++;
    assert.equal(released, names.length);
    assert.ok(maxHeld <= 2, `held ${maxHeld} files`);
  });
});
