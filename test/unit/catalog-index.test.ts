/**
 * Issue 10 item 6: the catalog index never drops a repository that exists, and its staleness is
 * bounded; issue 14: a deleted repository leaves it (at once here, on the next walk or shared-store
 * read elsewhere).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CatalogIndex, type SharedCatalog } from '../../src/storage/catalog.js';
import { InMemoryDriver } from '../../src/storage/driver/inmemory/inmemory.js';
import { catalogSettings } from '../../src/storage/catalog-settings.js';
import { parseConfig } from '../../src/config/load.js';

const LINK = `_layers/sha256/${'a'.repeat(64)}/link`;

async function createRepository(driver: InMemoryDriver, name: string): Promise<void> {
  await driver.putContent(`/docker/registry/v2/repositories/${name}/${LINK}`, Buffer.from('x'));
}

/**
 * An in-memory driver whose listings of paths containing `holdBelow` wait for `release()` while
 * `held`, and which counts them.
 */
class GatedDriver extends InMemoryDriver {
  held = false;
  holdBelow = '/';
  lists = 0;
  waiting = 0;
  #gate: Promise<void> = Promise.resolve();
  #open: () => void = () => undefined;
  hold(): void {
    this.held = true;
    this.#gate = new Promise((resolve) => {
      this.#open = resolve;
    });
  }
  release(): void {
    this.held = false;
    this.#open();
  }
  override async list(path: string, signal?: AbortSignal): Promise<string[]> {
    this.lists++;
    if (this.held && path.includes(this.holdBelow)) {
      this.waiting++;
      await this.#gate;
      this.waiting--;
    }
    return super.list(path, signal);
  }
}

describe('catalog index', () => {
  it('keeps the repositories added while the first walk runs', async () => {
    const driver = new GatedDriver();
    for (let i = 0; i < 20; i++) await createRepository(driver, `old/r${i}`);
    const index = new CatalogIndex(driver);
    // The walk has listed the root, and is stuck below `old/`: a repository created now is not in
    // its listings, so only add() can tell the index about it.
    driver.holdBelow = '/old/';
    driver.hold();
    const first = index.page(undefined, undefined);
    while (driver.waiting === 0) await new Promise((r) => setImmediate(r));
    const added = Array.from({ length: 60 }, (_, i) => `new/r${i}`);
    for (const name of added) {
      await createRepository(driver, name);
      assert.equal(await index.add(name), true, name);
      assert.equal(await index.add(name), false, `${name} twice`);
    }
    driver.release();
    const items = (await first).items;
    const missing = added.filter((n) => !items.includes(n));
    assert.deepEqual(missing, []);
    assert.equal(items.length, 80);
    assert.equal((await index.page(undefined, undefined)).items.length, 80, 'and the next page');
  });

  it('never serves a walk older than maxStaleMs: the page waits for a new walk', async () => {
    const driver = new GatedDriver();
    await createRepository(driver, 'a');
    let now = 0;
    const index = new CatalogIndex(driver, { refreshMs: 1_000, maxStaleMs: 5_000, now: () => now });
    assert.deepEqual((await index.page(undefined, undefined)).items, ['a']);
    await createRepository(driver, 'b'); // another replica's repository
    now = 500;
    assert.deepEqual((await index.page(undefined, undefined)).items, ['a'], 'fresh enough: served from memory');
    const before = driver.lists;
    now = 5_001;
    assert.deepEqual((await index.page(undefined, undefined)).items, ['a', 'b'], 'older than maxStaleMs: walked first');
    assert.ok(driver.lists > before);
  });

  it('follows a shared store instead of walking, and seeds it once when empty', async () => {
    const driver = new GatedDriver();
    await createRepository(driver, 'walked');
    const store = new MemorySharedCatalog();
    const a = new CatalogIndex(driver, { shared: store });
    const b = new CatalogIndex(driver, { shared: store });
    assert.deepEqual((await a.page(undefined, undefined)).items, ['walked']);
    assert.equal(store.seeds, 1);
    const walks = driver.lists;
    assert.deepEqual((await b.page(undefined, undefined)).items, ['walked'], 'b reads the store');
    assert.equal(driver.lists, walks, 'b did not walk');
    await a.add('from/a');
    assert.deepEqual((await b.page(undefined, undefined)).items, ['from/a', 'walked'], 'exact on the next page');
  });

  it('falls back to walking when the shared store fails, and records the names it could not share later', async () => {
    const driver = new GatedDriver();
    await createRepository(driver, 'walked');
    const store = new MemorySharedCatalog();
    const errors: unknown[] = [];
    let now = 0;
    const a = new CatalogIndex(driver, { shared: store, now: () => now, onSharedError: (err) => errors.push(err) });
    await a.page(undefined, undefined);
    store.down = true;
    await createRepository(driver, 'while/down'); // add() follows a write to storage
    assert.equal(await a.add('while/down'), true);
    await createRepository(driver, 'other/replica');
    now = 60_001;
    assert.deepEqual((await a.page(undefined, undefined)).items, ['other/replica', 'walked', 'while/down'], 'a walk, never a failure');
    assert.ok(errors.length > 0);
    store.down = false;
    now += 10_000;
    await a.page(undefined, undefined);
    assert.ok(store.names.has('while/down'), 'recorded once the store answers');
  });
});

/** A SharedCatalog in memory, with the Redis implementation's contract. */
class MemorySharedCatalog implements SharedCatalog {
  readonly names = new Map<string, number>();
  seq = 0;
  seeded = false;
  seeds = 0;
  down = false;
  #inflight: Array<Promise<unknown>> = [];
  async settled(): Promise<void> {
    await Promise.allSettled(this.#inflight);
  }
  #check(): void {
    if (this.down) throw new Error('store down');
  }
  readonly removed = new Map<string, number>();
  async changes(since: number): Promise<{ names: string[]; seq: number; reset: boolean; removed: string[] } | undefined> {
    this.#check();
    if (!this.seeded) return undefined;
    const after = (m: Map<string, number>): string[] => [...m].filter(([, s]) => s > since).map(([n]) => n);
    return { names: after(this.names), seq: this.seq, reset: false, removed: after(this.removed) };
  }
  async remove(names: readonly string[]): Promise<void> {
    this.#check();
    for (const n of names) {
      this.names.delete(n);
      this.removed.set(n, ++this.seq);
    }
  }
  add(names: readonly string[]): Promise<void> {
    const p = (async () => {
      this.#check();
      for (const n of names) {
        if (this.names.has(n)) continue;
        this.names.set(n, ++this.seq);
        this.removed.delete(n);
      }
    })();
    this.#inflight.push(p.catch(() => undefined));
    return p;
  }
  async seed(walk: () => Promise<readonly string[]>): Promise<boolean> {
    this.#check();
    this.seeds++;
    await this.add(await walk());
    this.seeded = true;
    return true;
  }
}

describe('catalog index: deleted repositories', () => {
  async function deleteRepository(driver: InMemoryDriver, name: string): Promise<void> {
    await driver.delete(`/docker/registry/v2/repositories/${name}`);
  }

  it('drops a repository this process deleted at once, and one another replica deleted with the next walk', async () => {
    const driver = new GatedDriver();
    for (const name of ['a', 'b', 'c']) await createRepository(driver, name);
    let now = 0;
    const index = new CatalogIndex(driver, { refreshMs: 1_000, maxStaleMs: 5_000, now: () => now });
    assert.deepEqual((await index.page(undefined, undefined)).items, ['a', 'b', 'c']);
    await deleteRepository(driver, 'a');
    assert.equal(await index.remove('a'), true);
    assert.equal(await index.remove('a'), false, 'twice');
    assert.deepEqual((await index.page(undefined, undefined)).items, ['b', 'c']);
    await deleteRepository(driver, 'b'); // another replica, no shared store
    now = 500;
    assert.deepEqual((await index.page(undefined, undefined)).items, ['b', 'c'], 'not walked yet');
    now = 5_001;
    assert.deepEqual((await index.page(undefined, undefined)).items, ['c'], 'the walk replaces the index');
  });

  it('keeps what was added and removed while a walk ran over the walk\'s result', async () => {
    const driver = new GatedDriver();
    for (const name of ['old/a', 'old/b']) await createRepository(driver, name);
    const index = new CatalogIndex(driver);
    assert.deepEqual((await index.page(undefined, undefined)).items, ['old/a', 'old/b']);
    driver.holdBelow = '/old';
    driver.hold();
    const walk = index.refresh();
    while (driver.waiting === 0) await new Promise((r) => setImmediate(r));
    // The walk listed the root before these: it would find old/a and miss new/c.
    await deleteRepository(driver, 'old/a');
    await index.remove('old/a');
    await createRepository(driver, 'new/c');
    await index.add('new/c');
    index.forget('old/b'); // another worker deleted it
    driver.release();
    await walk;
    assert.deepEqual((await index.page(undefined, undefined)).items, ['new/c']);
  });

  it('shares deletions through the shared store: the other index drops the name on its next page', async () => {
    const driver = new GatedDriver();
    for (const name of ['x', 'y']) await createRepository(driver, name);
    const store = new MemorySharedCatalog();
    const a = new CatalogIndex(driver, { shared: store });
    const b = new CatalogIndex(driver, { shared: store });
    assert.deepEqual((await a.page(undefined, undefined)).items, ['x', 'y']);
    assert.deepEqual((await b.page(undefined, undefined)).items, ['x', 'y']);
    await deleteRepository(driver, 'x');
    await a.remove('x');
    assert.deepEqual((await b.page(undefined, undefined)).items, ['y']);
    await createRepository(driver, 'x');
    await b.add('x');
    assert.deepEqual((await a.page(undefined, undefined)).items, ['x', 'y'], 'pushed again: listed again');
  });

  it('records a deletion the shared store missed once it answers', async () => {
    const driver = new GatedDriver();
    for (const name of ['p', 'q']) await createRepository(driver, name);
    const store = new MemorySharedCatalog();
    let now = 0;
    const a = new CatalogIndex(driver, { shared: store, now: () => now, onSharedError: () => undefined });
    const b = new CatalogIndex(driver, { shared: store, now: () => now });
    await a.page(undefined, undefined);
    await b.page(undefined, undefined);
    store.down = true;
    await deleteRepository(driver, 'p');
    await a.remove('p');
    store.down = false;
    now += 10_000;
    await a.page(undefined, undefined);
    assert.deepEqual((await b.page(undefined, undefined)).items, ['q']);
  });
});

describe('catalog settings', () => {
  // Through the configuration schema, as serve reads them.
  const parse = (section: Record<string, unknown> | undefined) => catalogSettings(parseConfig({ version: '0.1', storage: { inmemory: null }, ...(section === undefined ? {} : { catalog: section }) }).catalog);
  const cases: Array<{ name: string; section: Record<string, unknown> | undefined; want?: Partial<ReturnType<typeof catalogSettings>>; error?: RegExp }> = [
    { name: 'defaults', section: undefined, want: { maxEntries: 1000, refreshMs: 10_000, maxStaleMs: 60_000, redis: true } },
    { name: 'every key', section: { maxentries: 50, refresh: '2s', maxstale: '1m', redis: false }, want: { maxEntries: 50, refreshMs: 2_000, maxStaleMs: 60_000, redis: false } },
    { name: 'an unknown key is refused, naming the one meant', section: { maxentires: 5 }, error: /catalog\.maxentires: unknown key \(did you mean "maxentries"\?\)/ },
    { name: 'a duration without unit', section: { refresh: '10' }, error: /catalog\.refresh/ },
    { name: 'a non-positive duration', section: { maxstale: '0s' }, error: /catalog\.maxstale/ },
    { name: 'maxstale shorter than refresh', section: { refresh: '1m', maxstale: '10s' }, error: /catalog\.maxstale: must not be shorter than catalog\.refresh/ },
    { name: 'a bad boolean', section: { redis: 'maybe' }, error: /catalog\.redis/ },
  ];
  for (const c of cases) {
    it(c.name, () => {
      if (c.error !== undefined) {
        assert.throws(() => parse(c.section), c.error);
        return;
      }
      const got = parse(c.section);
      for (const [key, value] of Object.entries(c.want ?? {})) assert.deepEqual(got[key as keyof typeof got], value, key);
    });
  }
});
