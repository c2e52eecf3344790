import { addAbortSignal, Readable } from 'node:stream';

import { isValidPath, type FileInfo, type FileWriter, type StorageDriver } from '../driver.js';
import { InvalidOffsetError, InvalidPathError, PathNotFoundError, StorageDriverError } from '../errors.js';
import { WriterState } from '../writer-state.js';

/** The largest slice a reader pushes at once. */
const READ_CHUNK = 1024 * 1024;

/** A file's content is immutable once stored: updates replace the whole node, so readers can keep a snapshot. */
interface MemoryFile {
  readonly kind: 'file';
  readonly chunks: readonly Buffer[];
  readonly size: number;
  readonly modTime: Date;
}

interface MemoryDir {
  readonly kind: 'dir';
  readonly children: Map<string, MemoryNode>;
  modTime: Date;
}

type MemoryNode = MemoryFile | MemoryDir;

/** Options of the in-memory driver. */
export interface InMemoryDriverOptions {
  /** The clock for modification times (default: the system clock). */
  readonly now?: () => Date;
}

/**
 * A StorageDriver holding everything in process memory, for tests and throw-away registries.
 *
 * Same semantics as the other drivers, with these specifics:
 * - Directories are implicit: one exists exactly while some file is below it, so deleting or
 *   moving away the last file of a directory removes the directory too.
 * - Files are kept as lists of chunks (never re-concatenated on write), and every stored byte is
 *   a private copy: callers may reuse the buffers they pass in or get back.
 * - A writer's content becomes visible at its path on commit() or close(); cancel() removes the
 *   file at the path. Readers read a snapshot taken when reader() resolves.
 */
export class InMemoryDriver implements StorageDriver {
  readonly name = 'inmemory';
  readonly #now: () => Date;
  readonly #root: MemoryDir;

  constructor(options: InMemoryDriverOptions = {}) {
    this.#now = options.now ?? (() => new Date());
    this.#root = { kind: 'dir', children: new Map(), modTime: this.#now() };
  }

  async getContent(path: string, signal?: AbortSignal): Promise<Buffer> {
    const file = this.#file(path, this.#segments(path));
    signal?.throwIfAborted();
    return Buffer.concat(file.chunks, file.size);
  }

  async putContent(path: string, data: Uint8Array, signal?: AbortSignal): Promise<void> {
    const segments = this.#segments(path);
    signal?.throwIfAborted();
    const chunks = data.byteLength === 0 ? [] : [Buffer.from(data)]; // Buffer.from copies a view
    this.#store(path, segments, chunks, data.byteLength);
  }

  async reader(path: string, offset = 0, signal?: AbortSignal): Promise<Readable> {
    const file = this.#file(path, this.#segments(path));
    if (!Number.isSafeInteger(offset) || offset < 0 || offset > file.size) {
      throw new InvalidOffsetError(this.name, path, offset);
    }
    signal?.throwIfAborted();
    const stream = Readable.from(slices(file.chunks, offset), { objectMode: false });
    return signal ? addAbortSignal(signal, stream) : stream;
  }

  async writer(path: string, append: boolean, signal?: AbortSignal): Promise<FileWriter> {
    const segments = this.#segments(path);
    signal?.throwIfAborted();
    this.#assertCanHoldFile(path, segments);
    const existing = append ? this.#lookup(segments) : undefined;
    const base = existing?.kind === 'file' ? existing : undefined;
    return new InMemoryFileWriter(this.name, path, [...(base?.chunks ?? [])], base?.size ?? 0, signal, {
      publish: (chunks, size) => this.#store(path, segments, chunks, size),
      discard: () => {
        if (this.#lookup(segments)?.kind === 'file') this.#detach(segments);
      },
    });
  }

  async stat(path: string, signal?: AbortSignal): Promise<FileInfo> {
    const node = this.#lookup(this.#segments(path));
    signal?.throwIfAborted();
    if (node === undefined) throw new PathNotFoundError(this.name, path);
    return toFileInfo(path, node);
  }

  async list(path: string, signal?: AbortSignal): Promise<string[]> {
    const dir = this.#dir(path, this.#segments(path));
    signal?.throwIfAborted();
    return [...dir.children.keys()].map((name) => childPath(path, name));
  }

  async move(from: string, to: string, signal?: AbortSignal): Promise<void> {
    const source = this.#segments(from);
    const target = this.#segments(to);
    signal?.throwIfAborted();
    const node = this.#lookup(source);
    if (node === undefined) throw new PathNotFoundError(this.name, from);
    if (from === to) return;
    if (from === '/' || to === '/' || to.startsWith(`${from}/`)) {
      throw new StorageDriverError(this.name, `${this.name}: cannot move ${from} to ${to}`);
    }
    if (node.kind === 'dir' && this.#lookup(target) !== undefined) {
      // As rename(2): a directory may only replace an empty directory, and here none is empty.
      throw new StorageDriverError(this.name, `${this.name}: cannot move directory ${from} onto existing ${to}`);
    }
    this.#assertCanHoldFile(to, target);
    // Everything is checked, so detaching cannot lose the node.
    this.#detach(source);
    this.#attach(target, node);
  }

  async delete(path: string, signal?: AbortSignal): Promise<void> {
    const segments = this.#segments(path);
    signal?.throwIfAborted();
    if (segments.length === 0) {
      this.#root.children.clear();
      this.#root.modTime = this.#now();
      return;
    }
    if (this.#detach(segments) === undefined) throw new PathNotFoundError(this.name, path);
  }

  async redirectUrl(path: string, _method: 'GET' | 'HEAD'): Promise<string | undefined> {
    this.#segments(path);
    return undefined;
  }

  async *walk(path: string, signal?: AbortSignal): AsyncGenerator<FileInfo> {
    const dir = this.#dir(path, this.#segments(path));
    yield* walkDir(path, dir, signal);
  }

  /** Nothing to release; the content stays (a closed in-memory driver is simply dropped). */
  async close(): Promise<void> {}

  /** Validates a path and splits it into segments ([] for the root). */
  #segments(path: string): string[] {
    if (!isValidPath(path)) throw new InvalidPathError(this.name, path);
    return path === '/' ? [] : path.slice(1).split('/');
  }

  #lookup(segments: readonly string[]): MemoryNode | undefined {
    let node: MemoryNode = this.#root;
    for (const segment of segments) {
      if (node.kind !== 'dir') return undefined;
      const child: MemoryNode | undefined = node.children.get(segment);
      if (child === undefined) return undefined;
      node = child;
    }
    return node;
  }

  #file(path: string, segments: readonly string[]): MemoryFile {
    const node = this.#lookup(segments);
    if (node?.kind !== 'file') throw new PathNotFoundError(this.name, path);
    return node;
  }

  #dir(path: string, segments: readonly string[]): MemoryDir {
    const node = this.#lookup(segments);
    if (node?.kind !== 'dir') throw new PathNotFoundError(this.name, path);
    return node;
  }

  /** Throws unless a file may be stored at `path`: no ancestor is a file and `path` is not a directory. */
  #assertCanHoldFile(path: string, segments: readonly string[]): void {
    if (segments.length === 0) throw new StorageDriverError(this.name, `${this.name}: ${path} is a directory`);
    let dir = this.#root;
    for (const [index, segment] of segments.entries()) {
      const child = dir.children.get(segment);
      if (child === undefined) return;
      if (index === segments.length - 1) {
        if (child.kind === 'dir') throw new StorageDriverError(this.name, `${this.name}: ${path} is a directory`);
        return;
      }
      if (child.kind === 'file') {
        const file = `/${segments.slice(0, index + 1).join('/')}`;
        throw new StorageDriverError(this.name, `${this.name}: cannot write ${path}: ${file} is a file`);
      }
      dir = child;
    }
  }

  #store(path: string, segments: readonly string[], chunks: readonly Buffer[], size: number): void {
    this.#assertCanHoldFile(path, segments);
    this.#attach(segments, { kind: 'file', chunks, size, modTime: this.#now() });
  }

  /** Puts `node` at `segments`, creating parents; the caller has checked for conflicts. */
  #attach(segments: readonly string[], node: MemoryNode): void {
    const name = segments.at(-1);
    if (name === undefined) throw new StorageDriverError(this.name, `${this.name}: cannot replace the root`);
    const now = this.#now();
    let dir = this.#root;
    for (const segment of segments.slice(0, -1)) {
      let child = dir.children.get(segment);
      if (child === undefined) {
        child = { kind: 'dir', children: new Map(), modTime: now };
        dir.children.set(segment, child);
        dir.modTime = now;
      }
      if (child.kind !== 'dir') throw new StorageDriverError(this.name, `${this.name}: ${segment} is a file`);
      dir = child;
    }
    dir.children.set(name, node);
    dir.modTime = now;
  }

  /** Removes the node at `segments` and every directory left empty above it; returns the node. */
  #detach(segments: readonly string[]): MemoryNode | undefined {
    const dirs: MemoryDir[] = [this.#root];
    for (const segment of segments.slice(0, -1)) {
      const next = dirs.at(-1)?.children.get(segment);
      if (next?.kind !== 'dir') return undefined;
      dirs.push(next);
    }
    const name = segments.at(-1);
    const parent = dirs.at(-1);
    if (name === undefined || parent === undefined) return undefined;
    const node = parent.children.get(name);
    if (node === undefined) return undefined;
    const now = this.#now();
    parent.children.delete(name);
    parent.modTime = now;
    // dirs[i] is the directory named segments[i - 1] inside dirs[i - 1].
    for (let i = dirs.length - 1; i > 0; i--) {
      const dir = dirs[i];
      const above = dirs[i - 1];
      const dirName = segments[i - 1];
      if (dir === undefined || above === undefined || dirName === undefined || dir.children.size > 0) break;
      above.children.delete(dirName);
      above.modTime = now;
    }
    return node;
  }
}

interface WriterSink {
  publish(chunks: readonly Buffer[], size: number): void;
  discard(): void;
}

/** Collects chunks privately and publishes them as a new file node on close() or commit(). */
class InMemoryFileWriter implements FileWriter {
  readonly #state: WriterState;
  readonly #chunks: Buffer[];
  readonly #signal: AbortSignal | undefined;
  readonly #sink: WriterSink;
  #size: number;

  constructor(driver: string, path: string, chunks: Buffer[], size: number, signal: AbortSignal | undefined, sink: WriterSink) {
    this.#state = new WriterState(driver, path);
    this.#chunks = chunks;
    this.#size = size;
    this.#signal = signal;
    this.#sink = sink;
  }

  get size(): number {
    return this.#size;
  }

  async write(chunk: Uint8Array): Promise<void> {
    this.#state.assertOpen('write to');
    this.#signal?.throwIfAborted();
    if (chunk.byteLength === 0) return;
    this.#chunks.push(Buffer.from(chunk)); // a copy: the caller may reuse its buffer
    this.#size += chunk.byteLength;
  }

  async close(): Promise<void> {
    if (!this.#state.close()) return;
    this.#sink.publish(this.#chunks, this.#size);
  }

  async commit(): Promise<void> {
    this.#state.commit();
    this.#sink.publish(this.#chunks, this.#size);
  }

  async cancel(): Promise<void> {
    this.#state.cancel();
    this.#sink.discard();
  }
}

/** Yields the bytes of `chunks` from `offset` in slices of at most READ_CHUNK, without copying. */
function* slices(chunks: readonly Buffer[], offset: number): Generator<Buffer> {
  let skip = offset;
  for (const chunk of chunks) {
    if (skip >= chunk.byteLength) {
      skip -= chunk.byteLength;
      continue;
    }
    for (let start = skip; start < chunk.byteLength; start += READ_CHUNK) {
      yield chunk.subarray(start, Math.min(chunk.byteLength, start + READ_CHUNK));
    }
    skip = 0;
  }
}

async function* walkDir(path: string, dir: MemoryDir, signal: AbortSignal | undefined): AsyncGenerator<FileInfo> {
  // Names are validated path segments (ASCII), so code-unit order is byte order.
  const entries = [...dir.children.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  for (const [name, node] of entries) {
    signal?.throwIfAborted();
    const child = childPath(path, name);
    yield toFileInfo(child, node);
    if (node.kind === 'dir') yield* walkDir(child, node, signal);
  }
}

function toFileInfo(path: string, node: MemoryNode): FileInfo {
  return node.kind === 'file'
    ? { path, size: node.size, modTime: node.modTime, isDir: false }
    : { path, size: 0, modTime: node.modTime, isDir: true };
}

function childPath(parent: string, name: string): string {
  return parent === '/' ? `/${name}` : `${parent}/${name}`;
}
