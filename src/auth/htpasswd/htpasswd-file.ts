/**
 * An htpasswd file kept in memory and in step with the disk, and the one place passwords are checked.
 *
 * Reloading: the directory is watched (a watch on the directory, not the file, survives editors and tools
 * that replace the file by renaming, and Kubernetes Secret volumes that swap a `..data` symlink), and each
 * event schedules a debounced re-read. Because watches are not reliable everywhere (network filesystems,
 * some container runtimes), verify() also stats the file at most once per `recheckMs` and re-reads it when
 * its inode, size, mtime or ctime changed. A re-read that fails (file missing, unreadable) keeps the last
 * good version and logs once per distinct failure.
 */
import { createHash } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../../log/logger.js';
import { compareBcrypt, DEFAULT_BCRYPT_COST, unmatchableHash, type BcryptCompare } from './hash.js';
import { CredentialCache, type CredentialCacheOptions } from './credential-cache.js';
import { parseHtpasswd, type HtpasswdEntry, type HtpasswdProblem } from './parse.js';

/** How an HtpasswdFile is opened. Only `path` and `logger` are required. */
export interface HtpasswdFileOptions {
  readonly path: string;
  readonly logger: Logger;
  /** The bcrypt comparison (default bcryptjs); tests inject a counting one. */
  readonly compare?: BcryptCompare;
  /** The successful-verification cache, or false to verify every request with bcrypt. */
  readonly cache?: CredentialCacheOptions | false;
  /** Watch the directory for changes (default true). */
  readonly watch?: boolean;
  /** verify() stats the file at most this often (default 1000 ms); 0 stats on every call. */
  readonly recheckMs?: number;
  /** Delay between a watch event and the re-read, so a burst of events makes one reload (default 100 ms). */
  readonly debounceMs?: number;
  /** The clock (default Date.now). */
  readonly now?: () => number;
}

interface Loaded {
  readonly entries: ReadonlyMap<string, HtpasswdEntry>;
  /** inode, size, mtime and ctime of what was read: a change means the file must be re-read. */
  readonly signature: string;
  /** SHA-256 of the text: a re-read with the same digest changes nothing. */
  readonly digest: string;
  /** What an unknown user is compared against: the most common cost of the file's entries. */
  readonly unknownUserHash: string;
  /** The lines left out, logged when this version is applied. */
  readonly problems: readonly HtpasswdProblem[];
}

/**
 * A loaded htpasswd file. Create with {@link HtpasswdFile.open}; call {@link HtpasswdFile.close} to stop
 * watching.
 */
export class HtpasswdFile {
  readonly path: string;
  private readonly logger: Logger;
  private readonly compare: BcryptCompare;
  private readonly cache: CredentialCache | undefined;
  private readonly recheckMs: number;
  private readonly debounceMs: number;
  private readonly now: () => number;
  private loaded: Loaded;
  private lastCheck: number;
  private checking: Promise<void> | undefined;
  private lastFailure: string | undefined;
  private watcher: FSWatcher | undefined;
  private debounce: NodeJS.Timeout | undefined;
  private closed = false;

  private constructor(options: HtpasswdFileOptions, loaded: Loaded) {
    this.path = options.path;
    this.logger = options.logger;
    this.compare = options.compare ?? compareBcrypt;
    this.now = options.now ?? Date.now;
    this.cache = options.cache === false ? undefined : new CredentialCache({ now: this.now, ...options.cache });
    this.recheckMs = options.recheckMs ?? 1000;
    this.debounceMs = options.debounceMs ?? 100;
    this.loaded = loaded;
    this.lastCheck = this.now();
  }

  /**
   * Reads and parses the file, logs a warning for each line left out, and starts watching.
   * Rejects with an Error naming the path when the file is missing or unreadable (a start-up failure).
   */
  static async open(options: HtpasswdFileOptions): Promise<HtpasswdFile> {
    let loaded: Loaded;
    try {
      loaded = await readHtpasswd(options.path);
    } catch (err) {
      throw new Error(`htpasswd: cannot read ${options.path} (auth.htpasswd.path): ${describeFsError(err)}`, { cause: err });
    }
    const file = new HtpasswdFile(options, loaded);
    logProblems(options.logger, options.path, loaded.problems);
    if (loaded.entries.size === 0) options.logger.warn({ path: options.path }, 'htpasswd file has no usable users: every login will fail');
    else options.logger.info({ path: options.path, users: loaded.entries.size }, 'htpasswd file loaded');
    if (options.watch !== false) file.startWatching();
    return file;
  }

  /** The users with a usable (bcrypt) entry, in file order. */
  users(): string[] {
    return [...this.loaded.entries.keys()];
  }

  /** True when `user` has a usable entry. */
  has(user: string): boolean {
    return this.loaded.entries.has(user);
  }

  /**
   * Checks a user's password. Always performs one bcrypt comparison unless these exact credentials were
   * verified recently (see CredentialCache): an unknown user is compared against an unmatchable hash of the
   * file's usual cost, so the answer takes as long whether the user exists or not. `beforeCheck` runs just
   * before that comparison (never for cached credentials) and returns what to call after it; what it throws
   * rejects verify(), which otherwise never rejects.
   */
  async verify(user: string, password: string, beforeCheck?: () => () => void): Promise<boolean> {
    await this.recheckIfDue();
    const entry = this.loaded.entries.get(user);
    if (entry !== undefined && this.cache?.has(user, entry.hash, password) === true) return true;
    const done = beforeCheck?.();
    let ok: boolean;
    try {
      ok = await this.compare(password, entry?.hash ?? this.loaded.unknownUserHash);
    } finally {
      done?.();
    }
    if (entry === undefined || !ok) return false;
    this.cache?.add(user, entry.hash, password);
    return true;
  }

  /**
   * Re-reads the file now, whatever its stat says. Resolves true when new content was applied, false when
   * it was unchanged or could not be read (the last good version stays, and the failure is logged).
   */
  async reload(): Promise<boolean> {
    return this.serialize(() => this.readAndApply());
  }

  /** Re-reads the file if its stat changed since it was read; resolves when done. */
  async refresh(): Promise<void> {
    await this.serialize(async () => {
      this.lastCheck = this.now();
      let signature: string;
      try {
        signature = signatureOf(await stat(this.path));
      } catch (err) {
        this.failed(err);
        return false;
      }
      if (signature === this.loaded.signature && this.lastFailure === undefined) return false;
      return this.readAndApply();
    });
  }

  /** Stops watching. verify() keeps working with what was last loaded (and stops re-reading). */
  close(): void {
    this.closed = true;
    if (this.debounce !== undefined) clearTimeout(this.debounce);
    this.debounce = undefined;
    this.watcher?.close();
    this.watcher = undefined;
  }

  private async recheckIfDue(): Promise<void> {
    if (this.closed) return;
    if (this.checking !== undefined) {
      await this.checking;
      return;
    }
    if (this.now() - this.lastCheck < this.recheckMs) return;
    await this.refresh();
  }

  /** Runs one check or reload at a time; a call made while one runs waits for it and then runs its own. */
  private async serialize(task: () => Promise<boolean>): Promise<boolean> {
    while (this.checking !== undefined) await this.checking;
    let result = false;
    const run = task().then((r) => {
      result = r;
    });
    this.checking = run;
    try {
      await run;
    } finally {
      this.checking = undefined;
    }
    return result;
  }

  private async readAndApply(): Promise<boolean> {
    if (this.closed) return false;
    let next: Loaded;
    try {
      next = await readHtpasswd(this.path);
    } catch (err) {
      this.failed(err);
      return false;
    }
    this.lastCheck = this.now();
    if (this.lastFailure !== undefined) {
      this.logger.info({ path: this.path }, 'htpasswd file readable again');
      this.lastFailure = undefined;
    }
    if (next.digest === this.loaded.digest) {
      this.loaded = { ...this.loaded, signature: next.signature };
      return false;
    }
    this.loaded = next;
    this.cache?.clear();
    logProblems(this.logger, this.path, next.problems);
    this.logger.info({ path: this.path, users: next.entries.size }, 'htpasswd file reloaded');
    return true;
  }

  private failed(err: unknown): void {
    const reason = describeFsError(err);
    if (reason === this.lastFailure) return;
    this.lastFailure = reason;
    this.logger.error({ path: this.path, reason, users: this.loaded.entries.size }, 'cannot re-read the htpasswd file; keeping the users loaded before');
  }

  private startWatching(): void {
    try {
      this.watcher = watch(dirname(this.path), { persistent: false }, () => this.scheduleReload());
    } catch (err) {
      this.logger.warn({ path: this.path, reason: describeFsError(err) }, 'cannot watch the htpasswd directory; changes are picked up when requests arrive');
      return;
    }
    this.watcher.on('error', (err: unknown) => {
      this.logger.warn({ path: this.path, reason: describeFsError(err) }, 'stopped watching the htpasswd directory; changes are picked up when requests arrive');
      this.watcher?.close();
      this.watcher = undefined;
    });
  }

  private scheduleReload(): void {
    if (this.closed || this.debounce !== undefined) return;
    this.debounce = setTimeout(() => {
      this.debounce = undefined;
      // Any event in the directory (the file itself, a temporary file renamed onto it, a Kubernetes ..data
      // swap) re-reads the file; an unchanged digest makes it a no-op.
      this.reload().catch((err: unknown) => this.failed(err));
    }, this.debounceMs);
    this.debounce.unref();
  }
}

function logProblems(logger: Logger, path: string, problems: readonly HtpasswdProblem[]): void {
  for (const problem of problems) {
    logger.warn({ path, line: problem.line, user: problem.user }, `htpasswd entry ignored: ${problem.message}`);
  }
}

async function readHtpasswd(path: string): Promise<Loaded> {
  const handle = await open(path, 'r');
  let text: string;
  let signature: string;
  try {
    signature = signatureOf(await handle.stat());
    text = await handle.readFile('utf8');
  } finally {
    await handle.close();
  }
  const parsed = parseHtpasswd(text);
  return {
    entries: parsed.entries,
    signature,
    digest: createHash('sha256').update(text).digest('base64'),
    unknownUserHash: unmatchableHash(usualCost(parsed.entries)),
    problems: parsed.problems,
  };
}

/** The most common cost among the entries (the higher one on a tie); the default for an empty file. */
function usualCost(entries: ReadonlyMap<string, HtpasswdEntry>): number {
  const counts = new Map<number, number>();
  for (const e of entries.values()) counts.set(e.cost, (counts.get(e.cost) ?? 0) + 1);
  let best = DEFAULT_BCRYPT_COST;
  let bestCount = 0;
  for (const [cost, count] of counts) {
    if (count > bestCount || (count === bestCount && cost > best)) {
      best = cost;
      bestCount = count;
    }
  }
  return best;
}

function signatureOf(st: { ino: number; size: number; mtimeMs: number; ctimeMs: number }): string {
  return `${st.ino}:${st.size}:${st.mtimeMs}:${st.ctimeMs}`;
}

/** A file system error as a short phrase: "no such file or directory", "permission denied", ... */
export function describeFsError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  switch (code) {
    case 'ENOENT':
      return 'no such file or directory';
    case 'EACCES':
    case 'EPERM':
      return 'permission denied';
    case 'EISDIR':
      return 'is a directory';
    case 'ENOTDIR':
      return 'a parent is not a directory';
    default:
      return err instanceof Error ? err.message : String(err);
  }
}
