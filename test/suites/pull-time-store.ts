// The suite every PullTimeStore passes: merges keep the later time whatever the order, repositories are
// apart, forget removes what it names, and a recorder flushing into the store reads back its pulls.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import { PullTimeRecorder, type PullTimeStore } from '../../src/lifecycle/pull-times.js';

/** What a store's test file hands the suite: a fresh store (a second one sharing its data, when the store is shared) and how to dispose of it. */
export interface PullTimeStoreUnderTest {
  store: PullTimeStore;
  /** Another store over the same data (another replica), or undefined for a store that shares nothing. */
  sibling?: PullTimeStore;
  cleanup: () => Promise<void>;
}

const dg = (name: string): Digest => digestOf(Buffer.from(name));
const [A, B, C] = [dg('a'), dg('b'), dg('c')];

export function pullTimeStoreSuite(name: string, make: () => Promise<PullTimeStoreUnderTest>): void {
  describe(`PullTimeStore conformance: ${name}`, () => {
    let store: PullTimeStore;
    let sibling: PullTimeStore | undefined;
    let cleanup: (() => Promise<void>) | undefined;
    // Repository names of their own, so a shared server's data from other runs does not matter.
    const run = randomBytes(4).toString('hex');
    const repo = (n: string): string => `suite-${run}/${n}`;

    before(async () => {
      ({ store, sibling, cleanup } = await make());
    });
    after(async () => {
      await cleanup?.();
    });

    it('reads nothing for a repository never pulled', async () => {
      assert.deepEqual(await store.read(repo('empty')), new Map());
    });

    it('keeps the later of the stored and the merged time, in any order', async () => {
      const r = repo('order');
      await store.merge([{ repository: r, digest: A, at: 2000 }]);
      await store.merge([{ repository: r, digest: A, at: 1000 }, { repository: r, digest: B, at: 500 }]);
      await store.merge([{ repository: r, digest: B, at: 700 }]);
      assert.deepEqual(await store.read(r), new Map([[A, 2000], [B, 700]]));
    });

    it('keeps the later time within one batch, and keeps repositories apart', async () => {
      const [r1, r2] = [repo('one'), repo('two')];
      await store.merge([
        { repository: r1, digest: A, at: 10 },
        { repository: r1, digest: A, at: 30 },
        { repository: r1, digest: A, at: 20 },
        { repository: r2, digest: A, at: 99 },
      ]);
      assert.deepEqual(await store.read(r1), new Map([[A, 30]]));
      assert.deepEqual(await store.read(r2), new Map([[A, 99]]));
    });

    it('merges large batches', async () => {
      const r = repo('large');
      const entries = Array.from({ length: 1234 }, (_, i) => ({ repository: r, digest: dg(`m${i}`), at: 1_700_000_000_000 + i }));
      await store.merge(entries);
      const times = await store.read(r);
      assert.equal(times.size, 1234);
      assert.equal(times.get(dg('m1233')), 1_700_000_000_000 + 1233);
    });

    it('forgets the manifests named, or the whole repository', async () => {
      const r = repo('forget');
      await store.merge([{ repository: r, digest: A, at: 1 }, { repository: r, digest: B, at: 2 }, { repository: r, digest: C, at: 3 }]);
      await store.forget(r, [A]);
      await store.forget(r, []);
      assert.deepEqual(await store.read(r), new Map([[B, 2], [C, 3]]));
      await store.forget(r);
      assert.deepEqual(await store.read(r), new Map());
      await store.forget(repo('never-there'));
    });

    it('is what a recorder flushes to', async () => {
      const r = repo('recorder');
      const recorder = new PullTimeRecorder({ store, now: () => 5000 });
      recorder.record(r, A);
      recorder.record(r, B, 6000);
      await recorder.close();
      assert.deepEqual(await store.read(r), new Map([[A, 5000], [B, 6000]]));
    });

    it('is shared with a sibling store when it has one (another replica sees the pulls)', async (t) => {
      if (sibling === undefined) {
        t.skip(`${name} shares nothing`);
        return;
      }
      const r = repo('shared');
      await store.merge([{ repository: r, digest: A, at: 100 }]);
      await sibling.merge([{ repository: r, digest: A, at: 50 }, { repository: r, digest: B, at: 60 }]);
      assert.deepEqual(await sibling.read(r), new Map([[A, 100], [B, 60]]));
      assert.deepEqual(await store.read(r), new Map([[A, 100], [B, 60]]));
    });
  });
}
