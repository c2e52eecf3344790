/** File-system helpers of the filesystem driver: atomic placement, parents on demand, FileInfo from Stats. */
import { randomUUID } from 'node:crypto';
import type { Stats } from 'node:fs';
import * as fsp from 'node:fs/promises';
import { dirname, join } from 'node:path';

import type { FileInfo } from '../driver.js';

/** Where putContent stages its temp files: beside the layout, never inside it, so Distribution never lists them. */
export const TEMP_DIR = '.berth-tmp';
// Same modes as Distribution (0o777 / 0o666); the process umask trims them.
export const DIR_MODE = 0o777;
export const FILE_MODE = 0o666;

/**
 * Runs `work` (a write into `dir`); when it fails with ENOENT, creates `dir` and its parents and
 * runs it once more. A write into an existing directory (the common case) costs no mkdir.
 */
export async function withParents<T>(dir: string, work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (err) {
    if (!hasCode(err, 'ENOENT')) throw err;
  }
  await makeDirectory(dir);
  return work();
}

/**
 * `mkdir -p`. Node's recursive mkdir reports ENOENT when a directory cannot be created for
 * another reason (seen: ENOSPC when the file system has no inode left), which would read as
 * "not found" and hide a full disk; then the directories are made one at a time to surface the
 * real error.
 */
export async function makeDirectory(dir: string): Promise<void> {
  try {
    await fsp.mkdir(dir, { recursive: true, mode: DIR_MODE });
    return;
  } catch (err) {
    if (!hasCode(err, 'ENOENT')) throw err;
    throw (await mkdirError(dir)) ?? err;
  }
}

/** The error of the first directory of `dir`'s missing ancestors that cannot be created, if any. */
async function mkdirError(dir: string): Promise<unknown> {
  const missing: string[] = [];
  for (let d = dir; ; d = dirname(d)) {
    const exists = await fsp.stat(d).then(
      () => true,
      () => false,
    );
    if (exists) break;
    missing.unshift(d);
    if (dirname(d) === d) break;
  }
  for (const d of missing) {
    try {
      await fsp.mkdir(d, { mode: DIR_MODE });
    } catch (err) {
      if (!hasCode(err, 'EEXIST')) return err;
    }
  }
  return undefined;
}

/**
 * rename(2) `temp` over `target`. When the layout spans file systems (a sub-directory of the root
 * is a mount point) rename fails with EXDEV; then the data is staged beside the target instead,
 * which keeps the replacement atomic at the cost of a hidden file in the layout while it runs.
 */
export async function renameInto(temp: string, target: string): Promise<void> {
  try {
    await fsp.rename(temp, target);
    return;
  } catch (err) {
    if (!hasCode(err, 'EXDEV')) throw err;
  }
  const sibling = join(dirname(target), `.${TEMP_DIR}-${randomUUID()}`);
  try {
    await fsp.copyFile(temp, sibling);
    await fsp.rename(sibling, target);
  } catch (err) {
    // The temp file stays for the caller (to retry, or to remove).
    await fsp.rm(sibling, { force: true }).catch(() => undefined);
    throw err;
  }
  await fsp.rm(temp, { force: true }).catch(() => undefined);
}

/**
 * `dirVersions`: directories get a version (their inode and mtime) only on local disks
 * (syncmetadata): a network file system's mtimes come from the server's clock, whose skew would
 * defeat LinkCache.sortedNames' rule that a version settled 3 s ago is trusted.
 */
export function toFileInfo(path: string, stats: Stats, dirVersions: boolean): FileInfo {
  // A directory's mtime changes when an entry is added or removed (to the clock tick: see LinkCache.sortedNames).
  if (stats.isDirectory()) {
    const info = { path, size: 0, modTime: stats.mtime, isDir: true };
    return dirVersions ? { ...info, version: `${stats.ino}:${stats.mtimeMs}` } : info;
  }
  // A write renames a new file into place, so the inode changes; the sub-millisecond mtime covers inode reuse.
  return { path, size: stats.size, modTime: stats.mtime, isDir: false, version: `${stats.ino}:${stats.mtimeMs}:${stats.size}` };
}

export function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}

/** Sorts names by their UTF-8 bytes, the order Distribution's drivers (and object stores) use. */
export function sortBytewise(names: string[]): string[] {
  return names
    .map((name) => ({ name, key: Buffer.from(name) }))
    .sort((a, b) => Buffer.compare(a.key, b.key))
    .map((entry) => entry.name);
}

export function hasCode(err: unknown, ...codes: string[]): boolean {
  if (typeof err !== 'object' || err === null || !('code' in err)) return false;
  const code: unknown = err.code;
  return typeof code === 'string' && codes.includes(code);
}
