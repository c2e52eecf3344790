/**
 * Pure helpers of the Azure driver: where a driver path lives in the container, and how a flat
 * blob listing becomes the order walk() promises. No I/O, no SDK.
 */
import { isValidPath } from './driver.js';

/**
 * Maps driver paths to blob names exactly as Distribution's azure driver does
 * (`strings.TrimLeft(strings.TrimRight(rootdirectory, "/") + path, "/")`): driver path
 * "/docker/registry/v2/x" with rootdirectory "/registry/" is the blob "registry/docker/registry/v2/x",
 * and with no rootdirectory the blob "docker/registry/v2/x". Directories are virtual: the
 * prefix `<name>/` of the blobs below them.
 */
export class BlobLayout {
  /** '' or the root directory without its outer slashes, plus '/'. Every blob of the driver starts with it. */
  readonly prefix: string;

  constructor(rootdirectory: string) {
    const trimmed = rootdirectory.replace(/^\/+/, '').replace(/\/+$/, '');
    this.prefix = trimmed === '' ? '' : `${trimmed}/`;
  }

  /** The blob name of a valid driver path other than "/". */
  blobName(path: string): string {
    return this.prefix + path.slice(1);
  }

  /** The name prefix shared by every blob below the directory `path` (the root prefix for "/"). */
  dirPrefix(path: string): string {
    return path === '/' ? this.prefix : `${this.blobName(path)}/`;
  }

  /**
   * The driver path of a blob (or of a virtual directory, given without its trailing '/'), or
   * undefined for a name outside the root or one that is no valid driver path (written by
   * another tool, e.g. with a space or a double slash): the driver never hands those out.
   */
  pathOf(name: string): string | undefined {
    if (!name.startsWith(this.prefix)) return undefined;
    const path = `/${name.slice(this.prefix.length)}`;
    return path !== '/' && isValidPath(path) ? path : undefined;
  }
}

/** A blob of a flat listing, named relative to the directory being walked (no leading '/'). */
export interface ListedBlob {
  readonly name: string;
  readonly size: number;
  readonly modTime: Date;
}

/** A file or directory in walk order, named relative to the directory being walked. */
export interface WalkEntry {
  readonly name: string;
  readonly isDir: boolean;
  readonly size: number;
  readonly modTime: Date;
}

const SLASH = 0x2f;

/**
 * Compares two relative names in walk order: depth first, a directory right before its
 * children, siblings in byte-wise order. That is byte-wise order with '/' sorting before every
 * other character (segment by segment): "a" < "a/1" < "a/b/2" < "a-y" < "a.x", whereas a flat
 * listing, ordered by the plain bytes, gives "a-y" < "a.x/4" < "a/1".
 * (Names are ASCII here: code units order like UTF-8 bytes.)
 */
export function compareWalkOrder(a: string, b: string): number {
  const length = Math.min(a.length, b.length);
  for (let i = 0; i < length; i++) {
    const x = a.charCodeAt(i);
    const y = b.charCodeAt(i);
    if (x === y) continue;
    if (x === SLASH) return -1;
    if (y === SLASH) return 1;
    return x - y;
  }
  return a.length - b.length;
}

/**
 * Turns a flat listing (blob names in byte-wise order, as Azure returns them) into walk order,
 * adding each virtual directory once, right before its first child, with that child's modTime.
 *
 * It streams with a small buffer rather than sorting everything: an entry is released as soon as
 * nothing still to come can sort before it. The two orders differ only where a name continues with
 * a character below '/' ('-' or '.' among valid path characters) while a sibling directory has
 * the same stem ("a-y", "a.x/…" list before "a/…" but walk after it), so the listing's next name
 * `n` bounds what may still come: nothing below `n` cut at its first such character. The buffer
 * holds only those look-alike siblings, e.g. the repositories "x-y/…" until "x/…" has passed.
 */
export async function* inWalkOrder(listing: AsyncIterable<ListedBlob>): AsyncGenerator<WalkEntry> {
  const pending: WalkEntry[] = [];
  let open: string[] = [];
  for await (const blob of listing) {
    const dirs = parentChain(blob.name);
    let common = 0;
    while (common < open.length && common < dirs.length && open[common] === dirs[common]) common++;
    for (const dir of dirs.slice(common)) insertSorted(pending, { name: dir, isDir: true, size: 0, modTime: blob.modTime });
    insertSorted(pending, { name: blob.name, isDir: false, size: blob.size, modTime: blob.modTime });
    open = dirs;
    const bound = releaseBound(blob.name);
    let release = 0;
    while (release < pending.length && compareWalkOrder((pending[release] as WalkEntry).name, bound) < 0) release++;
    if (release > 0) yield* pending.splice(0, release);
  }
  yield* pending;
}

/** The directories a name lies in, outermost first: "a/b/c" → ["a", "a/b"]. */
function parentChain(name: string): string[] {
  const out: string[] = [];
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) out.push(name.slice(0, i));
  return out;
}

/**
 * Every name listed after `name` sorts, in walk order, at or after the result: `name` cut before
 * its first character below '/', or `name` itself when it has none.
 */
function releaseBound(name: string): string {
  for (let i = 0; i < name.length; i++) {
    if (name.charCodeAt(i) < SLASH) return name.slice(0, i);
  }
  return name;
}

function insertSorted(entries: WalkEntry[], entry: WalkEntry): void {
  let low = 0;
  let high = entries.length;
  while (low < high) {
    const mid = (low + high) >>> 1;
    if (compareWalkOrder((entries[mid] as WalkEntry).name, entry.name) <= 0) low = mid + 1;
    else high = mid;
  }
  entries.splice(low, 0, entry);
}
