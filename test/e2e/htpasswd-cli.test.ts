// `berth htpasswd` as a process, cross-checked with Apache's htpasswd (Debian apache2-utils) in both directions.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { repoRoot } from '../helpers/registries.js';
import { runCommand, type CommandResult } from '../helpers/processes.js';
import { HtpasswdFile } from '../../src/auth/htpasswd/htpasswd-file.js';
import { createLogger } from '../../src/log/logger.js';

const BERTH = join(repoRoot, 'bin', 'berth.js');

type Result = CommandResult;

const exec = (command: string, args: readonly string[], stdin = ''): Promise<Result> => runCommand(command, args, { stdin, cwd: repoRoot });

const berth = (args: readonly string[], stdin = ''): Promise<Result> => exec(process.execPath, [BERTH, 'htpasswd', ...args], stdin);
const apache = (args: readonly string[], stdin = ''): Promise<Result> => exec('htpasswd', args, stdin);

describe('berth htpasswd (process) against Apache htpasswd', { timeout: 120_000 }, () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  async function tempDir(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'berth-htpasswd-e2e-'));
    dirs.push(d);
    return d;
  }

  it('the seed tutorial line: `berth htpasswd -Bbn admin password` is verified by `htpasswd -vb`', async () => {
    const dir = await tempDir();
    const res = await berth(['-Bbn', 'admin', 'password']);
    assert.equal(res.code, 0, res.stderr);
    assert.match(res.stdout, /^admin:\$2y\$10\$[./A-Za-z0-9]{53}\n$/);
    const file = join(dir, 'htpasswd');
    await writeFile(file, res.stdout);
    const ok = await apache(['-vb', file, 'admin', 'password']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /Password for user admin correct/);
    assert.equal((await apache(['-vb', file, 'admin', 'wrong'])).code, 3);
  });

  it('berth verifies lines made by `htpasswd -Bbn` (and refuses a wrong password with exit 3)', async () => {
    const dir = await tempDir();
    const made = await apache(['-Bbn', 'bob', 's3cret']);
    assert.equal(made.code, 0);
    const file = join(dir, 'htpasswd');
    await writeFile(file, made.stdout); // Apache adds a blank line: still a valid file
    const ok = await berth(['-vb', file, 'bob', 's3cret']);
    assert.deepEqual([ok.code, ok.stderr], [0, 'Password for user bob correct.\n']);
    const wrong = await berth(['-vb', file, 'bob', 'nope']);
    assert.equal(wrong.code, 3);
  });

  it('-c creates, both tools add users to one file, each verifies the other, -D removes', async () => {
    const dir = await tempDir();
    const file = join(dir, 'htpasswd');
    assert.equal((await berth(['-cb', '-C', '5', file, 'alice', 'alice-pw'])).code, 0);
    assert.equal((await apache(['-Bb', file, 'bob', 'bob-pw'])).code, 0);
    assert.equal((await berth(['-bC12', file, 'carol', 'carol-pw'])).code, 0);
    assert.equal((await apache(['-vb', file, 'alice', 'alice-pw'])).code, 0);
    assert.equal((await apache(['-vb', file, 'carol', 'carol-pw'])).code, 0, 'cost 12 from berth');
    assert.equal((await berth(['-vb', file, 'bob', 'bob-pw'])).code, 0);

    // Apache updates a berth user; berth updates an Apache user.
    assert.equal((await apache(['-Bb', file, 'alice', 'alice-2'])).code, 0);
    assert.equal((await berth(['-b', file, 'bob', 'bob-2'])).code, 0);
    assert.equal((await berth(['-vb', file, 'alice', 'alice-2'])).code, 0);
    assert.equal((await apache(['-vb', file, 'bob', 'bob-2'])).code, 0);

    const deleted = await berth(['-D', file, 'bob']);
    assert.deepEqual([deleted.code, deleted.stderr], [0, 'Deleting password for user bob\n']);
    assert.equal((await apache(['-vb', file, 'bob', 'bob-2'])).code, 6, 'Apache: user not found');
    assert.equal((await apache(['-D', file, 'carol'])).code, 0);
    assert.equal((await berth(['-vb', file, 'carol', 'carol-pw'])).code, 6);
    assert.deepEqual(
      (await readFile(file, 'utf8'))
        .split('\n')
        .filter((l) => l !== '')
        .map((l) => l.split(':')[0]),
      ['alice'],
    );
  });

  it('-i reads the password from stdin; Apache verifies it; the server-side loader accepts the file', async () => {
    const dir = await tempDir();
    const file = join(dir, 'htpasswd');
    const created = await berth(['-ciC4', file, 'robot'], 'from-stdin\n');
    assert.equal(created.code, 0, created.stderr);
    assert.equal((await apache(['-vb', file, 'robot', 'from-stdin'])).code, 0);
    assert.equal((await apache(['-Bb', file, 'human', 'typed'])).code, 0);
    const verifiedFromStdin = await berth(['-vi', file, 'human'], 'typed\n');
    assert.equal(verifiedFromStdin.code, 0, verifiedFromStdin.stderr);

    const logger = createLogger({ level: 'error', formatter: 'json', destination: { write: () => undefined } });
    const loaded = await HtpasswdFile.open({ path: file, logger, watch: false });
    try {
      assert.deepEqual(loaded.users(), ['robot', 'human']);
      assert.equal(await loaded.verify('robot', 'from-stdin'), true);
      assert.equal(await loaded.verify('human', 'typed'), true);
    } finally {
      loaded.close();
    }
  });

  it('without -b or -i, a non-terminal stdin gives the password twice (as Apache reads it)', async () => {
    const viaBerth = await berth(['-nC4', 'u'], 'pw\npw\n');
    assert.equal(viaBerth.code, 0, viaBerth.stderr);
    const dir = await tempDir();
    const file = join(dir, 'htpasswd');
    await writeFile(file, viaBerth.stdout);
    assert.equal((await apache(['-vb', file, 'u', 'pw'])).code, 0);
    assert.equal((await berth(['-nC4', 'u'], 'pw\nother\n')).code, 3);
  });

  it('exit codes match Apache for the same mistakes', async () => {
    const dir = await tempDir();
    const missing = join(dir, 'missing');
    const cases: Array<readonly string[]> = [
      ['-Bb', missing, 'u', 'p'], // 1: cannot modify a missing file
      ['-Bbn', 'u'], // 2: usage
      ['-Bcn', 'u'], // 2: conflicting modes
      ['-Bbn', 'a:b', 'p'], // 6: illegal user name
      ['-Bbn', 'u'.repeat(256), 'p'], // 5: too long
    ];
    for (const args of cases) {
      const [a, b] = await Promise.all([apache(args), berth(args)]);
      assert.equal(b.code, a.code, `${args.join(' ').slice(0, 40)}: berth ${b.code} (${b.stderr.split('\n')[0]}), apache ${a.code}`);
    }
    const bad = join(dir, 'bad');
    await writeFile(bad, 'alice:x\nnot a password line\n');
    assert.equal((await berth(['-Bb', bad, 'bob', 'p'])).code, (await apache(['-Bb', bad, 'bob', 'p'])).code, 'invalid file: 7');
  });

  it('`berth help` mentions the htpasswd command', async () => {
    const res = await exec(process.execPath, [BERTH, 'help']);
    assert.equal(res.code, 0);
    assert.match(res.stdout, /htpasswd/);
  });
});
