/**
 * Pure helpers of the Azure driver: where a driver path lives in the container, and how a flat
 * blob listing becomes the order walk() promises (with walk-order.ts). No I/O, no SDK.
 */
import { isValidPath } from '../driver.js';
import { inWalkOrder as reorder } from '../walk-order.js';

export { compareWalkOrder } from '../walk-order.js';

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

/**
 * Turns a flat listing (blob names in byte-wise order, as Azure returns them) into walk order
 * (walk-order.ts), adding each virtual directory once, right before its first child, with the
 * modTime of the first blob listed below it.
 */
export function inWalkOrder(listing: AsyncIterable<ListedBlob>): AsyncGenerator<WalkEntry> {
  return reorder(withDirectories(listing), (entry) => entry.name);
}

/** The listing's blobs as walk entries, each preceded by the directories it opens, in listing order. */
async function* withDirectories(listing: AsyncIterable<ListedBlob>): AsyncGenerator<WalkEntry> {
  let open: string[] = [];
  for await (const blob of listing) {
    const dirs = parentChain(blob.name);
    let common = 0;
    while (common < open.length && common < dirs.length && open[common] === dirs[common]) common++;
    for (const dir of dirs.slice(common)) yield { name: dir, isDir: true, size: 0, modTime: blob.modTime };
    yield { name: blob.name, isDir: false, size: blob.size, modTime: blob.modTime };
    open = dirs;
  }
}

/** The directories a name lies in, outermost first: "a/b/c" → ["a", "a/b"]. */
function parentChain(name: string): string[] {
  const out: string[] = [];
  for (let i = name.indexOf('/'); i !== -1; i = name.indexOf('/', i + 1)) out.push(name.slice(0, i));
  return out;
}
