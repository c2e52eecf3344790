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
import { bcryptCost, describeHashKind } from '../auth/htpasswd/parse.js';
import { deleteUser, findUserHash, firstInvalidLine, setUserHash } from '../auth/htpasswd/edit.js';
import { BCRYPT_MAX_PASSWORD_BYTES, CLI_MAX_COST, CLI_MIN_COST, compareBcrypt, DEFAULT_BCRYPT_COST, hashPassword } from '../auth/htpasswd/hash.js';
import { describeFsError } from '../auth/htpasswd/htpasswd-file.js';
import { HTPASSWD_EXIT, HtpasswdFailure, MAX_PASSWORD_BYTES, checkPassword, parseHtpasswdArgs, type HtpasswdOptions } from './htpasswd-args.js';

export { HTPASSWD_EXIT } from './htpasswd-args.js';

/** Where `berth htpasswd` reads and writes: the process's streams, or stand-ins in tests. */
export interface HtpasswdIo {
  readonly stdin: NodeJS.ReadableStream & { readonly isTTY?: boolean; setRawMode?(mode: boolean): unknown };
  readonly stdout: { write(chunk: string): unknown };
  readonly stderr: { write(chunk: string): unknown };
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

const MAX_STDIN_BYTES = 64 * 1024;

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

async function run(o: HtpasswdOptions, io: HtpasswdIo, input: PasswordInput): Promise<number> {
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
