// HtpasswdFile: loading, verifying (one bcrypt comparison per check, known user or not), the cache, and reloading.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rename, rm, unlink, writeFile, mkdir } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { HtpasswdFile, type HtpasswdFileOptions } from '../../src/auth/htpasswd/htpasswd-file.js';
import { compareBcrypt, hashPassword } from '../../src/auth/htpasswd/hash.js';
import { bcryptCost } from '../../src/auth/htpasswd/parse.js';
import { createLogger } from '../../src/log/logger.js';

/** A compare that records each hash it was asked about, then really compares. */
function countingCompare(): { calls: string[]; compare: (password: string, hash: string) => Promise<boolean> } {
  const calls: string[] = [];
  return {
    calls,
    compare: async (password, hash) => {
      calls.push(hash);
      return compareBcrypt(password, hash);
    },
  };
}

function testLogger(): { logs: string[]; logger: ReturnType<typeof createLogger> } {
  const logs: string[] = [];
  return { logs, logger: createLogger({ level: 'debug', formatter: 'json', destination: { write: (l: string) => logs.push(l) } }) };
}

async function until(condition: () => boolean | Promise<boolean>, what: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

describe('HtpasswdFile', () => {
  const dirs: string[] = [];
  const files: HtpasswdFile[] = [];
  after(async () => {
    for (const f of files) f.close();
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });

  let alice = '';
  let bob = '';
  let bob6 = '';
  async function fixture(): Promise<{ dir: string; path: string }> {
    if (alice === '') [alice, bob, bob6] = await Promise.all([hashPassword('alice-pw', 4), hashPassword('bob-pw', 4), hashPassword('bob-new', 5)]);
    const dir = await mkdtemp(join(tmpdir(), 'berth-htpasswd-'));
    dirs.push(dir);
    const path = join(dir, 'htpasswd');
    await writeFile(path, `# users\nalice:${alice}\nbob:${bob}\nmallory:$apr1$r7LQ61tz$j8A26v/8YaBPsyPWvXXXl.\n`);
    return { dir, path };
  }
  async function openFile(options: Omit<HtpasswdFileOptions, 'logger'> & { logger?: HtpasswdFileOptions['logger'] }): Promise<HtpasswdFile> {
    const file = await HtpasswdFile.open({ logger: testLogger().logger, ...options });
    files.push(file);
    return file;
  }

  it('fails to open a missing file with a message naming the path', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'berth-htpasswd-'));
    dirs.push(dir);
    const missing = join(dir, 'nope');
    await assert.rejects(HtpasswdFile.open({ path: missing, logger: testLogger().logger }), (err: Error) => {
      assert.equal(err.message, `htpasswd: cannot read ${missing} (auth.htpasswd.path): no such file or directory`);
      return true;
    });
    await assert.rejects(HtpasswdFile.open({ path: dir, logger: testLogger().logger }), /cannot read .*: is a directory/);
  });

  it('loads bcrypt users and logs each refused entry with its user and line', async () => {
    const { path } = await fixture();
    const { logs, logger } = testLogger();
    const file = await openFile({ path, logger, watch: false });
    assert.deepEqual(file.users(), ['alice', 'bob']);
    assert.equal(file.has('mallory'), false);
    const warning = logs.map((l) => JSON.parse(l) as Record<string, unknown>).find((l) => l['user'] === 'mallory');
    assert.ok(warning, logs.join(''));
    assert.equal(warning['level'], 'warning');
    assert.equal(warning['line'], 4);
    assert.match(String(warning['msg']), /mallory.*Apache MD5.*only bcrypt/);
  });

  it('performs exactly one bcrypt comparison per check, of the usual cost for an unknown user', async () => {
    const { path } = await fixture();
    const counting = countingCompare();
    const file = await openFile({ path, watch: false, compare: counting.compare, cache: false });
    assert.equal(await file.verify('alice', 'alice-pw'), true);
    assert.equal(await file.verify('alice', 'wrong'), false);
    assert.equal(await file.verify('nobody', 'alice-pw'), false);
    assert.equal(await file.verify('mallory', 'x'), false, 'a refused entry is an unknown user');
    assert.equal(await file.verify('', ''), false);
    assert.equal(counting.calls.length, 5);
    assert.equal(counting.calls[0], alice);
    for (const hash of counting.calls.slice(2)) {
      assert.notEqual(hash, alice);
      assert.notEqual(hash, bob);
      assert.equal(bcryptCost(hash), 4, 'the dummy hash has the cost of the real entries');
    }
  });

  it('remembers successful verifications, never failures, and forgets on reload', async () => {
    const { path } = await fixture();
    const counting = countingCompare();
    let now = 0;
    const file = await openFile({ path, watch: false, compare: counting.compare, now: () => now, recheckMs: 1000 });
    assert.equal(await file.verify('alice', 'alice-pw'), true);
    assert.equal(await file.verify('alice', 'alice-pw'), true);
    assert.equal(counting.calls.length, 1, 'the second check was answered from the cache');
    assert.equal(await file.verify('alice', 'wrong'), false);
    assert.equal(await file.verify('alice', 'wrong'), false);
    assert.equal(counting.calls.length, 3, 'failures always cost a comparison');
    now += 59_000;
    assert.equal(await file.verify('alice', 'alice-pw'), true);
    assert.equal(counting.calls.length, 3);
    now += 1_000;
    assert.equal(await file.verify('alice', 'alice-pw'), true);
    assert.equal(counting.calls.length, 4, 'expired after 60 s');
    await writeFile(path, `alice:${alice}\n`);
    assert.equal(await file.reload(), true);
    assert.equal(await file.verify('alice', 'alice-pw'), true);
    assert.equal(counting.calls.length, 5, 'the reload emptied the cache');
  });

  it('re-reads the file when the directory watch reports a change (in place and by rename)', async () => {
    const { dir, path } = await fixture();
    const { logs, logger } = testLogger();
    const file = await openFile({ path, logger, debounceMs: 10, recheckMs: 3_600_000 });
    await writeFile(path, `alice:${alice}\nbob:${bob6}\n`);
    await until(async () => file.users().length === 2 && !(await file.verify('bob', 'bob-pw')) && (await file.verify('bob', 'bob-new')), 'the in-place change');
    const temp = join(dir, '.htpasswd.tmp');
    await writeFile(temp, `carol:${alice}\n`);
    await rename(temp, path);
    await until(() => file.has('carol') && !file.has('alice'), 'the renamed file');
    assert.ok(logs.some((l) => l.includes('htpasswd file reloaded')));
  });

  it('notices a change on verify when watching is off (stat on each check when due)', async () => {
    const { path } = await fixture();
    let now = 0;
    const file = await openFile({ path, watch: false, recheckMs: 1000, now: () => now });
    await writeFile(path, `alice:${alice}\ncarol:${bob}\n`);
    assert.equal(await file.verify('carol', 'bob-pw'), false, 'not yet due: still the old file');
    now += 1000;
    assert.equal(await file.verify('carol', 'bob-pw'), true);
    assert.equal(file.has('bob'), false);
  });

  it('keeps the last good version when the file disappears, logs once, and recovers', async () => {
    const { path } = await fixture();
    const { logs, logger } = testLogger();
    const file = await openFile({ path, logger, watch: false, recheckMs: 0 });
    await unlink(path);
    assert.equal(await file.verify('alice', 'alice-pw'), true);
    assert.equal(await file.verify('bob', 'bob-pw'), true);
    assert.equal(await file.reload(), false);
    const errors = logs.filter((l) => l.includes('cannot re-read the htpasswd file'));
    assert.equal(errors.length, 1, 'one log line per distinct failure');
    assert.match(errors[0] ?? '', /no such file or directory/);
    await writeFile(path, `dave:${bob}\n`);
    assert.equal(await file.verify('dave', 'bob-pw'), true);
    assert.deepEqual(file.users(), ['dave']);
    assert.ok(logs.some((l) => l.includes('htpasswd file readable again')));
  });

  it('a rewrite with the same content is not a reload', async () => {
    const { path } = await fixture();
    const { logs, logger } = testLogger();
    const file = await openFile({ path, logger, watch: false });
    const before = logs.length;
    assert.equal(await file.reload(), false);
    assert.equal(logs.length, before);
  });

  it('close stops watching', async () => {
    const { path } = await fixture();
    const file = await openFile({ path, debounceMs: 10, recheckMs: 0 });
    file.close();
    await writeFile(path, `carol:${alice}\n`);
    // Proves a reload does NOT happen, and a closed file has no event to wait on: 20 debounce periods.
    await sleep(200);
    assert.equal(file.has('carol'), false);
    assert.equal(await file.verify('alice', 'alice-pw'), true, 'verify keeps working after close');
  });

  it('watches the directory even when the file is reached through a path in a subdirectory', async () => {
    const { dir } = await fixture();
    const sub = join(dir, 'auth');
    await mkdir(sub);
    const path = join(sub, 'htpasswd');
    await writeFile(path, `alice:${alice}\n`);
    const file = await openFile({ path, debounceMs: 10, recheckMs: 3_600_000 });
    await writeFile(path, `alice:${alice}\nerin:${bob}\n`);
    await until(() => file.has('erin'), 'the change');
  });
});
