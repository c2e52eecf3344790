/**
 * `berth htpasswd`: Apache's htpasswd for the bcrypt-only files Berth reads, so operators need neither
 * apache2-utils nor an old registry image. Same flags (bcrypt ones), same messages, same exit codes:
 *
 *   0 success; 1 a file (or standard input) could not be read or written; 2 command-line syntax (including a
 *   -C cost outside 4–17, where Apache says 3); 3 the retyped password differs, or -v found the wrong password;
 *   4 interrupted at a prompt; 5 user name or password too long; 6 bad user name, or -v on an unknown user;
 *   7 the file is not an htpasswd file.
 *
 * Differences on purpose: bcrypt is the only algorithm (-B is the default; -m -2 -5 -d -s -p -r are
 * refused), the default cost is 10 rather than Apache's 5, `-n` prints no trailing blank line, and files are
 * written atomically (a temporary file renamed into place; mode and, as root, owner kept).
 */
import { randomBytes } from 'node:crypto';
import { chmod, chown, open, readFile, realpath, rename, stat, unlink } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { parseArgs } from 'node:util';
import { bcryptCost, describeHashKind } from '../auth/htpasswd/parse.js';
import { deleteUser, findUserHash, firstInvalidLine, setUserHash } from '../auth/htpasswd/edit.js';
import { BCRYPT_MAX_PASSWORD_BYTES, CLI_MAX_COST, CLI_MIN_COST, compareBcrypt, DEFAULT_BCRYPT_COST, hashPassword } from '../auth/htpasswd/hash.js';
import { describeFsError } from '../auth/htpasswd/htpasswd-file.js';

/** Where `berth htpasswd` reads and writes: the process's streams, or stand-ins in tests. */
export interface HtpasswdIo {
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
}

/** Exit codes, as Apache's htpasswd documents them. */
export const HTPASSWD_EXIT = {
  OK: 0,
  FILE: 1,
  SYNTAX: 2,
  MISMATCH: 3,
  INTERRUPTED: 4,
  OVERFLOW: 5,
  BAD_USER: 6,
  INVALID_FILE: 7,
} as const;

/** Says which argument is missing or extra (`-Bbn admin`: the password). */
function missingArguments(got: number, expected: number, o: { display: boolean; batch: boolean }): string {
  if (got > expected) return `too many arguments (expected ${expected})`;
  const names = [...(o.display ? [] : ['the password file']), 'a user name', ...(o.batch ? ['the password (-b takes it after the user name)'] : [])];
  return `missing ${names.slice(got).join(', then ')}`;
}

/** The usage text, printed with exit 2 on a syntax error. */
export const HTPASSWD_USAGE = `Usage:
\tberth htpasswd [-ciBDv] [-C cost] passwordfile username
\tberth htpasswd -b[cBDv] [-C cost] passwordfile username password

\tberth htpasswd -n[iB] [-C cost] username
\tberth htpasswd -nb[B] [-C cost] username password
 -c  Create a new file (replacing an existing one).
 -n  Don't update file; display results on stdout.
 -b  Use the password from the command line rather than prompting for it.
 -i  Read password from stdin without verification (for script usage).
 -B  Force bcrypt hashing of the password (the default and only algorithm).
 -C  Set the computing time used for the bcrypt algorithm
     (higher is more secure but slower, default: ${DEFAULT_BCRYPT_COST}, valid: ${CLI_MIN_COST} to ${CLI_MAX_COST}).
 -D  Delete the specified user.
 -v  Verify password for the specified user.
`;

const MAX_USER_BYTES = 255;
const MAX_PASSWORD_BYTES = 255;
const MAX_STDIN_BYTES = 64 * 1024;

interface Options {
  create: boolean;
  display: boolean;
  batch: boolean;
  stdin: boolean;
  delete: boolean;
  verify: boolean;
  cost: number;
  file?: string;
  user: string;
  password?: string;
}

/** A failure with its exit code and the message for standard error. */
class HtpasswdFailure extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
    readonly usage = false,
  ) {
    super(message);
  }
}

/** The io of the running process. */
export function processHtpasswdIo(): HtpasswdIo {
  return { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr };
}

/**
 * Runs `berth htpasswd <args>`; resolves with the exit code (never rejects). Messages go to io.stderr
 * (`Adding password for user alice`, ...), the `-n` line to io.stdout.
 */
export async function htpasswdCommand(args: readonly string[], io: HtpasswdIo = processHtpasswdIo()): Promise<number> {
  const input = new PasswordInput(io);
  try {
    const options = parseHtpasswdArgs(args);
    return await run(options, io, input);
  } catch (err) {
    if (err instanceof HtpasswdFailure) {
      if (err.message !== '') io.stderr.write(`berth htpasswd: ${err.message}\n`);
      if (err.usage) io.stderr.write(HTPASSWD_USAGE);
      return err.exitCode;
    }
    io.stderr.write(`berth htpasswd: ${err instanceof Error ? err.message : String(err)}\n`);
    return HTPASSWD_EXIT.FILE;
  } finally {
    input.close();
  }
}

/** Apache's flags, for node:util's parseArgs (long names are ours: the command line takes none). */
const HTPASSWD_OPTIONS = {
  create: { type: 'boolean', short: 'c' },
  display: { type: 'boolean', short: 'n' },
  batch: { type: 'boolean', short: 'b' },
  stdin: { type: 'boolean', short: 'i' },
  bcrypt: { type: 'boolean', short: 'B' },
  delete: { type: 'boolean', short: 'D' },
  verify: { type: 'boolean', short: 'v' },
  cost: { type: 'string', short: 'C' },
} as const;

/**
 * Parses the command line like Apache's (apr_getopt): flags first, combinable, `-C cost` or `-Ccost`,
 * `--` ends them. The first operand ends the flags too: what follows is an operand even when it starts
 * with `-` (a password), so only the tokens before it count.
 */
function parseHtpasswdArgs(args: readonly string[]): Options {
  const o: Omit<Options, 'user'> = { create: false, display: false, batch: false, stdin: false, delete: false, verify: false, cost: DEFAULT_BCRYPT_COST };
  const { tokens } = parseArgs({ args: [...args], options: HTPASSWD_OPTIONS, strict: false, allowPositionals: true, tokens: true });
  let operands = args.length;
  for (const token of tokens) {
    if (token.kind !== 'option') {
      operands = token.kind === 'positional' ? token.index : token.index + 1;
      break;
    }
    // A long option is not one of Apache's: apr_getopt reads `--x` as the flag `-`.
    const flag = token.rawName.startsWith('--') ? '-' : token.rawName.slice(1);
    switch (flag) {
      case 'c':
        o.create = true;
        break;
      case 'n':
        o.display = true;
        break;
      case 'b':
        o.batch = true;
        break;
      case 'i':
        o.stdin = true;
        break;
      case 'B':
        break;
      case 'D':
        o.delete = true;
        break;
      case 'v':
        o.verify = true;
        break;
      case 'C':
        if (token.value === undefined) throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, 'option -C needs an argument', true);
        o.cost = parseCost(token.value);
        break;
      case 'm':
      case '2':
      case '5':
      case 'd':
      case 's':
      case 'p':
      case 'r':
        throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, `-${flag} is not supported: Berth reads bcrypt entries only (-B, the default)`, true);
      default:
        throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, `illegal option -- ${flag}`, true);
    }
  }
  const modes = [o.create, o.display, o.verify, o.delete].filter(Boolean).length;
  if (modes > 1) throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, 'only one of -c -n -v -D may be specified');
  if (o.batch && o.stdin) throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, '-b and -i cannot be combined', true);
  const positional = args.slice(operands);
  const expected = (o.display ? 1 : 2) + (o.batch ? 1 : 0);
  if (positional.length !== expected) throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, missingArguments(positional.length, expected, o), true);
  const [first, second, third] = positional as [string, string | undefined, string | undefined];
  const options: Options = o.display ? { ...o, user: first, password: o.batch ? second : undefined } : { ...o, file: first, user: second ?? '', password: o.batch ? third : undefined };
  checkUser(options.user);
  if (options.password !== undefined) checkPassword(options.password);
  return options;
}

function parseCost(value: string): number {
  if (!/^\d+$/.test(value)) throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, 'argument to -C must be a positive integer');
  const cost = Number(value);
  if (cost < CLI_MIN_COST || cost > CLI_MAX_COST) throw new HtpasswdFailure(HTPASSWD_EXIT.SYNTAX, `bcrypt cost must be between ${CLI_MIN_COST} and ${CLI_MAX_COST}, got ${value}`);
  return cost;
}

function checkUser(user: string): void {
  if (Buffer.byteLength(user) > MAX_USER_BYTES) throw new HtpasswdFailure(HTPASSWD_EXIT.OVERFLOW, `username too long (> ${MAX_USER_BYTES})`);
  if (user.includes(':')) throw new HtpasswdFailure(HTPASSWD_EXIT.BAD_USER, "username contains illegal character ':'");
  if (user === '') throw new HtpasswdFailure(HTPASSWD_EXIT.BAD_USER, 'username must not be empty (clients treat an empty name as anonymous)');
  if (/[\0-\x1f\x7f]/.test(user)) throw new HtpasswdFailure(HTPASSWD_EXIT.BAD_USER, 'username contains a control character');
}

function checkPassword(password: string): void {
  if (Buffer.byteLength(password) > MAX_PASSWORD_BYTES) throw new HtpasswdFailure(HTPASSWD_EXIT.OVERFLOW, `password too long (> ${MAX_PASSWORD_BYTES})`);
}

async function run(o: Options, io: HtpasswdIo, input: PasswordInput): Promise<number> {
  // Read (and check) the file before asking for a password, so nobody types one for nothing.
  let text = '';
  if (o.file !== undefined && !o.create) {
    text = await readExisting(o.file);
    if (!o.verify) {
      const bad = firstInvalidLine(text);
      if (bad !== undefined) throw new HtpasswdFailure(HTPASSWD_EXIT.INVALID_FILE, `The file ${o.file} does not appear to be a valid htpasswd file (line ${bad}).`);
    }
  }

  if (o.delete) {
    const file = o.file as string;
    const result = deleteUser(text, o.user);
    if (!result.deleted) {
      io.stderr.write(`User ${o.user} not found\n`);
      return HTPASSWD_EXIT.OK;
    }
    await writeAtomically(file, result.text, false);
    io.stderr.write(`Deleting password for user ${o.user}\n`);
    return HTPASSWD_EXIT.OK;
  }

  if (o.verify) {
    const hash = findUserHash(text, o.user);
    if (hash === undefined) throw new HtpasswdFailure(HTPASSWD_EXIT.BAD_USER, `User ${o.user} not found`);
    const password = o.password ?? (await input.read(o.stdin ? undefined : 'Enter password: ', false));
    if (bcryptCost(hash) === undefined) {
      throw new HtpasswdFailure(HTPASSWD_EXIT.MISMATCH, `user ${o.user} has a ${describeHashKind(hash)} hash, which Berth cannot verify (only bcrypt)`);
    }
    if (!(await compareBcrypt(password, hash))) throw new HtpasswdFailure(HTPASSWD_EXIT.MISMATCH, 'password verification failed');
    io.stderr.write(`Password for user ${o.user} correct.\n`);
    return HTPASSWD_EXIT.OK;
  }

  const password = o.password ?? (await input.read(o.stdin ? undefined : 'New password: ', !o.stdin));
  if (Buffer.byteLength(password) > BCRYPT_MAX_PASSWORD_BYTES) {
    io.stderr.write(`berth htpasswd: warning: bcrypt uses only the first ${BCRYPT_MAX_PASSWORD_BYTES} bytes of a password\n`);
  }
  if (password === '') io.stderr.write('berth htpasswd: warning: the password is empty\n');
  const hash = await hashPassword(password, o.cost);

  if (o.display) {
    io.stdout.write(`${o.user}:${hash}\n`);
    return HTPASSWD_EXIT.OK;
  }
  const file = o.file as string;
  const result = setUserHash(o.create ? '' : text, o.user, hash);
  await writeAtomically(file, result.text, o.create);
  io.stderr.write(`${result.updated ? 'Updating' : 'Adding'} password for user ${o.user}\n`);
  return HTPASSWD_EXIT.OK;
}

async function readExisting(file: string): Promise<string> {
  try {
    return await readFile(file, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') throw new HtpasswdFailure(HTPASSWD_EXIT.FILE, `cannot modify file ${file}; use '-c' to create it`);
    throw new HtpasswdFailure(HTPASSWD_EXIT.FILE, `cannot read file ${file}: ${describeFsError(err)}`);
  }
}

/**
 * Replaces `file` with `text` atomically: a temporary file in the same directory, flushed, then renamed over
 * the target (through a symbolic link to what it points at). An existing file's mode is kept, and its owner
 * when running as root.
 */
async function writeAtomically(file: string, text: string, creating: boolean): Promise<void> {
  let target = file;
  let previous: { mode: number; uid: number; gid: number } | undefined;
  try {
    target = await realpath(file);
    const st = await stat(target);
    previous = { mode: st.mode & 0o7777, uid: st.uid, gid: st.gid };
  } catch {
    // A new file.
  }
  const temp = join(dirname(target), `.${basename(target)}.${randomBytes(6).toString('hex')}.tmp`);
  try {
    const handle = await open(temp, 'wx', previous?.mode ?? 0o644);
    try {
      await handle.writeFile(text);
      await handle.sync();
    } finally {
      await handle.close();
    }
    if (previous !== undefined) {
      await chmod(temp, previous.mode);
      if (process.getuid?.() === 0) await chown(temp, previous.uid, previous.gid).catch(() => undefined);
    }
    await rename(temp, target);
  } catch (err) {
    await unlink(temp).catch(() => undefined);
    throw new HtpasswdFailure(HTPASSWD_EXIT.FILE, `cannot ${creating || previous === undefined ? 'create' : 'modify'} file ${file}: ${describeFsError(err)}`);
  }
}

/**
 * Passwords from standard input. On a terminal, prompts on stderr and reads without echo (Ctrl-C exits 4);
 * otherwise reads lines. `confirm` asks twice and exits 3 when the two differ. A prompt of undefined reads
 * one line silently (-i).
 */
class PasswordInput {
  private buffer = '';
  private ended = false;
  private error: Error | undefined;
  private wake: (() => void) | undefined;
  private listening = false;
  private readonly onData = (chunk: string | Buffer): void => {
    this.buffer += typeof chunk === 'string' ? chunk : chunk.toString('utf8');
    this.wake?.();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.wake?.();
  };
  private readonly onError = (err: Error): void => {
    this.error = err;
    this.wake?.();
  };

  constructor(private readonly io: HtpasswdIo) {}

  async read(prompt: string | undefined, confirm: boolean): Promise<string> {
    const first = await this.readOne(prompt);
    if (confirm) {
      const second = await this.readOne('Re-type new password: ');
      if (first !== second) throw new HtpasswdFailure(HTPASSWD_EXIT.MISMATCH, 'password verification error');
    }
    checkPassword(first);
    return first;
  }

  close(): void {
    if (!this.listening) return;
    const stdin = this.io.stdin;
    stdin.removeListener('data', this.onData);
    stdin.removeListener('end', this.onEnd);
    stdin.removeListener('error', this.onError);
    if (stdin.isTTY === true) stdin.setRawMode?.(false);
    stdin.pause();
    this.listening = false;
  }

  private async readOne(prompt: string | undefined): Promise<string> {
    const tty = this.io.stdin.isTTY === true && typeof this.io.stdin.setRawMode === 'function';
    if (prompt !== undefined) this.io.stderr.write(prompt);
    this.listen(tty && prompt !== undefined);
    const line = tty && prompt !== undefined ? await this.readHidden() : await this.readLine();
    if (line === undefined) throw new HtpasswdFailure(HTPASSWD_EXIT.FILE, 'no password on standard input');
    return line;
  }

  private listen(raw: boolean): void {
    const stdin = this.io.stdin;
    if (raw) stdin.setRawMode?.(true);
    if (this.listening) return;
    this.listening = true;
    stdin.setEncoding('utf8');
    stdin.on('data', this.onData);
    stdin.on('end', this.onEnd);
    stdin.on('error', this.onError);
    stdin.resume();
  }

  private async waitForInput(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.wake = resolve;
    });
    this.wake = undefined;
  }

  private async readLine(): Promise<string | undefined> {
    for (;;) {
      const nl = this.buffer.indexOf('\n');
      if (nl !== -1) {
        const line = this.buffer.slice(0, nl);
        this.buffer = this.buffer.slice(nl + 1);
        return line.endsWith('\r') ? line.slice(0, -1) : line;
      }
      if (this.buffer.length > MAX_STDIN_BYTES) throw new HtpasswdFailure(HTPASSWD_EXIT.OVERFLOW, `password too long (> ${MAX_PASSWORD_BYTES})`);
      if (this.error !== undefined) throw new HtpasswdFailure(HTPASSWD_EXIT.FILE, `cannot read standard input: ${this.error.message}`);
      if (this.ended) {
        if (this.buffer === '') return undefined;
        const rest = this.buffer;
        this.buffer = '';
        return rest;
      }
      await this.waitForInput();
    }
  }

  /** Reads keystrokes in raw mode until Enter: no echo, Backspace edits, Ctrl-C interrupts, Ctrl-D ends. */
  private async readHidden(): Promise<string> {
    let line = '';
    try {
      for (;;) {
        while (this.buffer.length > 0) {
          const ch = String.fromCodePoint(this.buffer.codePointAt(0) ?? 0);
          this.buffer = this.buffer.slice(ch.length);
          if (ch === '\r' || ch === '\n' || ch === '\u0004') return line;
          if (ch === '\u0003') throw new HtpasswdFailure(HTPASSWD_EXIT.INTERRUPTED, 'interrupted');
          if (ch === '\u007f' || ch === '\b') line = [...line].slice(0, -1).join('');
          else line += ch;
          if (Buffer.byteLength(line) > MAX_PASSWORD_BYTES) throw new HtpasswdFailure(HTPASSWD_EXIT.OVERFLOW, `password too long (> ${MAX_PASSWORD_BYTES})`);
        }
        if (this.ended || this.error !== undefined) return line;
        await this.waitForInput();
      }
    } finally {
      this.io.stdin.setRawMode?.(false);
      this.io.stderr.write('\n');
    }
  }
}
