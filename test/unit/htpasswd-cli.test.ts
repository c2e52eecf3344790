// berth htpasswd, called in-process with stand-in streams: flags, prompts, files, messages and exit codes.
import { describe, it, after } from 'node:test';
import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { chmod, mkdtemp, readFile, readdir, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { htpasswdCommand, HTPASSWD_USAGE, type HtpasswdIo } from '../../src/cli/htpasswd.js';
import { compareBcrypt, hashPassword } from '../../src/auth/htpasswd/hash.js';
import { parseHtpasswd } from '../../src/auth/htpasswd/parse.js';

interface Run {
  code: number;
  stdout: string;
  stderr: string;
  rawModes: boolean[];
}

/** Runs the command; `input` is written to stdin (then closed unless `keepOpen`); `tty` makes stdin a terminal. */
async function run(args: string[], input: string[] = [], options: { tty?: boolean; keepOpen?: boolean } = {}): Promise<Run> {
  let stdout = '';
  let stderr = '';
  const rawModes: boolean[] = [];
  const stdin = new PassThrough() as PassThrough & { isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  if (options.tty === true) {
    stdin.isTTY = true;
    stdin.setRawMode = (mode: boolean) => rawModes.push(mode);
  }
  const io: HtpasswdIo = { stdin, stdout: { write: (s: string) => (stdout += s) }, stderr: { write: (s: string) => (stderr += s) } };
  const pending = htpasswdCommand(args, io);
  for (const chunk of input) {
    await new Promise((r) => setImmediate(r));
    stdin.write(chunk);
  }
  if (options.keepOpen !== true) stdin.end();
  const code = await pending;
  return { code, stdout, stderr, rawModes };
}

const LINE = /^([^:\n]+):(\$2y\$(\d\d)\$[./A-Za-z0-9]{53})\n$/;

describe('berth htpasswd', () => {
  const dirs: string[] = [];
  after(async () => {
    for (const d of dirs) await rm(d, { recursive: true, force: true });
  });
  async function tempDir(): Promise<string> {
    const d = await mkdtemp(join(tmpdir(), 'berth-htpasswd-cli-'));
    dirs.push(d);
    return d;
  }

  it('-Bbn prints a $2y$ line at the default cost 10 and writes nothing else to stdout', async () => {
    const res = await run(['-Bbn', 'admin', 'password']);
    assert.equal(res.code, 0, res.stderr);
    const m = LINE.exec(res.stdout);
    assert.ok(m, res.stdout);
    assert.equal(m[1], 'admin');
    assert.equal(m[3], '10');
    assert.equal(await compareBcrypt('password', m[2] ?? ''), true);
    assert.equal(res.stderr, '');
  });

  it('-C sets the cost, as a separate argument or attached; -B is optional', async () => {
    for (const args of [['-bn', '-C', '4', 'a', 'p'], ['-C4', '-bn', 'a', 'p'], ['-bnC', '5', 'a', 'p'], ['-nbBC4', 'a', 'p'], ['-B', '-b', '-n', 'a', 'p']]) {
      const res = await run(args);
      assert.equal(res.code, 0, `${args.join(' ')}: ${res.stderr}`);
      assert.match(res.stdout, /^a:\$2y\$(04|05|10)\$/, args.join(' '));
    }
  });

  it('a password that starts with "-" after the user name is a password; "--" ends the flags', async () => {
    const res = await run(['-bnC4', 'a', '-p']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(await compareBcrypt('-p', LINE.exec(res.stdout)?.[2] ?? ''), true);
    const dash = await run(['-bnC4', '--', '-user', 'pw']);
    assert.equal(dash.code, 0, dash.stderr);
    assert.match(dash.stdout, /^-user:/);
  });

  it('-c creates a file, -b adds and updates users keeping the other lines, atomically', async () => {
    const dir = await tempDir();
    const file = join(dir, 'htpasswd');
    let res = await run(['-cbC4', file, 'alice', 'one']);
    assert.deepEqual([res.code, res.stderr], [0, 'Adding password for user alice\n']);
    await writeFile(file, `# team\n${await readFile(file, 'utf8')}dave:$apr1$x$y\n`);
    res = await run(['-bC4', file, 'bob', 'two']);
    assert.deepEqual([res.code, res.stderr], [0, 'Adding password for user bob\n']);
    res = await run(['-bC4', file, 'alice', 'three']);
    assert.deepEqual([res.code, res.stderr], [0, 'Updating password for user alice\n']);
    const text = await readFile(file, 'utf8');
    const lines = text.split('\n');
    assert.equal(lines[0], '# team');
    assert.match(lines[1] ?? '', /^alice:\$2y\$04\$/);
    assert.equal(lines[2], 'dave:$apr1$x$y');
    assert.match(lines[3] ?? '', /^bob:\$2y\$04\$/);
    assert.equal(lines[4], '');
    const { entries } = parseHtpasswd(text);
    assert.equal(await compareBcrypt('three', entries.get('alice')?.hash ?? ''), true);
    assert.equal(await compareBcrypt('two', entries.get('bob')?.hash ?? ''), true);
    assert.deepEqual(await readdir(dir), ['htpasswd'], 'no temporary file left behind');
  });

  it('-c replaces an existing file (as Apache does)', async () => {
    const dir = await tempDir();
    const file = join(dir, 'htpasswd');
    await writeFile(file, 'old:$2y$04$xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n');
    const res = await run(['-cbC4', file, 'new', 'pw']);
    assert.equal(res.code, 0);
    assert.deepEqual([...parseHtpasswd(await readFile(file, 'utf8')).entries.keys()], ['new']);
  });

  it('keeps the mode of an existing file, and writes through a symbolic link', async () => {
    const dir = await tempDir();
    const real = join(dir, 'real');
    const link = join(dir, 'link');
    await writeFile(real, '');
    await chmod(real, 0o640);
    await symlink(real, link);
    const res = await run(['-bC4', link, 'alice', 'pw']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal((await stat(real)).mode & 0o777, 0o640);
    assert.match(await readFile(real, 'utf8'), /^alice:/);
    assert.deepEqual((await readdir(dir)).sort(), ['link', 'real']);
  });

  it('-D deletes a user (exit 0 also when absent, as Apache)', async () => {
    const dir = await tempDir();
    const file = join(dir, 'htpasswd');
    await writeFile(file, `alice:${await hashPassword('a', 4)}\nbob:${await hashPassword('b', 4)}\n`);
    let res = await run(['-D', file, 'alice']);
    assert.deepEqual([res.code, res.stderr], [0, 'Deleting password for user alice\n']);
    assert.deepEqual([...parseHtpasswd(await readFile(file, 'utf8')).entries.keys()], ['bob']);
    res = await run(['-D', file, 'alice']);
    assert.deepEqual([res.code, res.stderr], [0, 'User alice not found\n']);
    res = await run(['-Db', file, 'bob', 'ignored']);
    assert.equal(res.code, 0);
    assert.equal(await readFile(file, 'utf8'), '');
  });

  it('-v verifies: 0 when right, 3 when wrong, 6 for an unknown user, 3 for a non-bcrypt entry', async () => {
    const dir = await tempDir();
    const file = join(dir, 'htpasswd');
    await writeFile(file, `alice:${await hashPassword('right', 4)}\ndave:$apr1$r7LQ61tz$j8A26v/8YaBPsyPWvXXXl.\n`);
    let res = await run(['-vb', file, 'alice', 'right']);
    assert.deepEqual([res.code, res.stderr], [0, 'Password for user alice correct.\n']);
    res = await run(['-vb', file, 'alice', 'wrong']);
    assert.deepEqual([res.code, res.stderr], [3, 'berth htpasswd: password verification failed\n']);
    res = await run(['-vb', file, 'nobody', 'x']);
    assert.deepEqual([res.code, res.stderr], [6, 'berth htpasswd: User nobody not found\n']);
    res = await run(['-vb', file, 'dave', 'x']);
    assert.equal(res.code, 3);
    assert.match(res.stderr, /Apache MD5/);
    res = await run(['-vi', file, 'alice'], ['right\n']);
    assert.equal(res.code, 0, res.stderr);
  });

  it('-i reads one line from stdin (CRLF trimmed), without a prompt or a second line', async () => {
    const res = await run(['-niC4', 'alice'], ['s3cret\r\n', 'ignored\n']);
    assert.equal(res.code, 0, res.stderr);
    assert.equal(res.stderr, '');
    assert.equal(await compareBcrypt('s3cret', LINE.exec(res.stdout)?.[2] ?? ''), true);
    const noNewline = await run(['-niC4', 'alice'], ['last']);
    assert.equal(await compareBcrypt('last', LINE.exec(noNewline.stdout)?.[2] ?? ''), true);
    const empty = await run(['-niC4', 'alice']);
    assert.deepEqual([empty.code, empty.stderr], [1, 'berth htpasswd: no password on standard input\n']);
  });

  it('-i returns as soon as a line arrives, with stdin still open', async () => {
    const res = await run(['-niC4', 'alice'], ['pw\n'], { keepOpen: true });
    assert.equal(res.code, 0);
  });

  it('without -b or -i on a non-terminal, prompts and reads the password twice', async () => {
    const ok = await run(['-nC4', 'alice'], ['pw\n', 'pw\n']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(ok.stderr, 'New password: Re-type new password: ');
    const mismatch = await run(['-nC4', 'alice'], ['pw\n', 'other\n']);
    assert.deepEqual([mismatch.code, mismatch.stdout], [3, '']);
    assert.match(mismatch.stderr, /password verification error/);
  });

  it('on a terminal, reads without echo in raw mode; Backspace edits; Ctrl-C exits 4', async () => {
    const ok = await run(['-nC4', 'alice'], ['pa', 'x\u007fss\r', 'pass\r'], { tty: true });
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(await compareBcrypt('pass', LINE.exec(ok.stdout)?.[2] ?? ''), true);
    assert.equal(ok.stderr, 'New password: \nRe-type new password: \n', 'nothing typed is echoed');
    assert.equal(ok.rawModes[0], true);
    assert.equal(ok.rawModes.at(-1), false, 'raw mode is switched off at the end');
    const interrupted = await run(['-nC4', 'alice'], ['pa\u0003'], { tty: true, keepOpen: true });
    assert.equal(interrupted.code, 4);
    assert.equal(interrupted.stdout, '');
    assert.equal(interrupted.rawModes.at(-1), false);
  });

  const errors: Array<[string, string[], number, RegExp]> = [
    ['no arguments', [], 2, /^berth htpasswd: missing the password file, then a user name\nUsage:/],
    ['too few arguments', ['-b', 'file', 'user'], 2, /missing the password \(-b takes it after the user name\)\nUsage:/],
    ['-Bbn without the password', ['-Bbn', 'admin'], 2, /missing the password \(-b takes it after the user name\)/],
    ['too many arguments', ['-bn', 'user', 'pw', 'extra'], 2, /Usage:/],
    ['an unknown flag', ['-x', 'f', 'u'], 2, /illegal option -- x/],
    ['a long option (apr_getopt reads the flag "-")', ['--create', 'f', 'u'], 2, /illegal option -- -\n/],
    ['-C taking the next flag as its value', ['-C', '-b', 'f', 'u', 'p'], 2, /argument to -C must be a positive integer/],
    ['MD5', ['-mbn', 'u', 'p'], 2, /-m is not supported: Berth reads bcrypt entries only/],
    ['plain text', ['-pbn', 'u', 'p'], 2, /-p is not supported/],
    ['SHA-512 rounds', ['-5', '-r', '5000', '-bn', 'u', 'p'], 2, /-5 is not supported/],
    ['-c with -n', ['-cn', 'u'], 2, /only one of -c -n -v -D may be specified/],
    ['-D with -v', ['-Dv', 'f', 'u'], 2, /only one of -c -n -v -D/],
    ['-b with -i', ['-bi', 'f', 'u', 'p'], 2, /-b and -i cannot be combined/],
    ['-C without a value', ['-bn', 'u', 'p', '-C'], 2, /Usage:/],
    ['-C at the end of the flags', ['-bnC'], 2, /option -C needs an argument/],
    ['-C not a number', ['-C', 'x', '-bn', 'u', 'p'], 2, /argument to -C must be a positive integer/],
    ['-C too small', ['-C', '3', '-bn', 'u', 'p'], 2, /bcrypt cost must be between 4 and 17, got 3/],
    ['-C too large', ['-C', '18', '-bn', 'u', 'p'], 2, /between 4 and 17/],
    ['a colon in the user', ['-bn', 'a:b', 'p'], 6, /username contains illegal character ':'/],
    ['an empty user', ['-bn', '', 'p'], 6, /username must not be empty/],
    ['a newline in the user', ['-bn', 'a\nb', 'p'], 6, /control character/],
    ['a long user', ['-bn', 'u'.repeat(256), 'p'], 5, /username too long \(> 255\)/],
    ['a long password', ['-bn', 'u', 'p'.repeat(256)], 5, /password too long \(> 255\)/],
  ];
  for (const [name, args, code, message] of errors) {
    it(`exits ${code} for ${name}`, async () => {
      const res = await run(args);
      assert.equal(res.code, code, res.stderr);
      assert.match(res.stderr, message);
      assert.equal(res.stdout, '');
    });
  }

  it('prints the usage with the syntax errors that call for it', async () => {
    const res = await run(['-x']);
    assert.ok(res.stderr.endsWith(HTPASSWD_USAGE));
  });

  it('file problems: a missing file without -c (1), an uncreatable file (1), an invalid file (7)', async () => {
    const dir = await tempDir();
    let res = await run(['-b', join(dir, 'nope'), 'u', 'p']);
    assert.deepEqual([res.code, res.stderr], [1, `berth htpasswd: cannot modify file ${join(dir, 'nope')}; use '-c' to create it\n`]);
    res = await run(['-cbC4', join(dir, 'no', 'such', 'dir'), 'u', 'p']);
    assert.equal(res.code, 1);
    assert.match(res.stderr, /cannot create file .*no such file or directory/);
    const bad = join(dir, 'bad');
    await writeFile(bad, 'alice:x\nnot a password line\n');
    res = await run(['-bC4', bad, 'bob', 'p']);
    assert.equal(res.code, 7);
    assert.match(res.stderr, /does not appear to be a valid htpasswd file \(line 2\)/);
    assert.equal(await readFile(bad, 'utf8'), 'alice:x\nnot a password line\n', 'left untouched');
    res = await run(['-D', bad, 'alice']);
    assert.equal(res.code, 7);
  });

  it('warns about passwords bcrypt truncates and empty passwords', async () => {
    const long = await run(['-bnC4', 'u', 'x'.repeat(73)]);
    assert.equal(long.code, 0);
    assert.match(long.stderr, /only the first 72 bytes/);
    const empty = await run(['-bnC4', 'u', '']);
    assert.equal(empty.code, 0);
    assert.match(empty.stderr, /the password is empty/);
  });
});
