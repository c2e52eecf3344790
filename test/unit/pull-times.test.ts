// The pull-time recorder: record() is synchronous and never waits for the store, flushes batch the
// latest times and keep them when the store fails; the in-process store (and what a restart forgets).
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { digestOf, type Digest } from '../../src/oci/digest.js';
import { MemoryPullTimeStore, PullTimeRecorder, pulledAt, type PullTime, type PullTimeStore } from '../../src/lifecycle/pull-times.js';
import { pullTimeStoreSuite } from '../suites/pull-time-store.js';

const dg = (name: string): Digest => digestOf(Buffer.from(name));
const [A, B] = [dg('a'), dg('b')];

/** A store that records merges, and can be made to fail or to hang. */
class ScriptedStore implements PullTimeStore {
  readonly merges: PullTime[][] = [];
  mode: 'ok' | 'fail' | 'hang' = 'ok';
  readonly #inner = new MemoryPullTimeStore();

  merge(entries: readonly PullTime[]): Promise<void> {
    this.merges.push([...entries]);
    if (this.mode === 'fail') return Promise.reject(new Error('store down'));
    if (this.mode === 'hang') return new Promise(() => undefined);
    return this.#inner.merge(entries);
  }
  read(repository: string): Promise<Map<Digest, number>> {
    return this.#inner.read(repository);
  }
  forget(repository: string, digests?: readonly Digest[]): Promise<void> {
    return this.#inner.forget(repository, digests);
  }
}

pullTimeStoreSuite('memory', () => Promise.resolve({ store: new MemoryPullTimeStore(), cleanup: () => Promise.resolve() }));

describe('PullTimeRecorder', () => {
  it('records synchronously, touching no store until a flush, keeping the latest time per manifest', async () => {
    const store = new ScriptedStore();
    const recorder = new PullTimeRecorder({ store, now: () => 1000 });
    assert.equal(recorder.record('r', A), undefined);
    recorder.record('r', A, 3000);
    recorder.record('r', A, 2000);
    recorder.record('r', B);
    recorder.record('other', A, 1);
    assert.equal(store.merges.length, 0);
    assert.equal(recorder.pending, 3);
    await recorder.flush();
    assert.deepEqual(store.merges, [[{ repository: 'r', digest: A, at: 3000 }, { repository: 'r', digest: B, at: 1000 }, { repository: 'other', digest: A, at: 1 }]]);
    assert.equal(recorder.pending, 0);
    await recorder.flush();
    assert.equal(store.merges.length, 1, 'nothing recorded: no merge');
  });

  it('never waits for the store: pulls keep being recorded while a flush hangs', async () => {
    const store = new ScriptedStore();
    store.mode = 'hang';
    const recorder = new PullTimeRecorder({ store, now: () => 1 });
    recorder.record('r', A);
    void recorder.flush();
    await Promise.resolve();
    const started = process.hrtime.bigint();
    for (let i = 0; i < 10_000; i++) recorder.record('r', dg(`m${i % 100}`), i);
    const elapsedMs = Number(process.hrtime.bigint() - started) / 1e6;
    assert.equal(recorder.pending, 100);
    assert.equal(store.merges.length, 1);
    assert.ok(elapsedMs < 1000, `10000 records took ${elapsedMs} ms`);
  });

  it('keeps a failed flush\'s entries for the next one, merged with newer pulls', async () => {
    const store = new ScriptedStore();
    store.mode = 'fail';
    const recorder = new PullTimeRecorder({ store, now: () => 1 });
    recorder.record('r', A, 10);
    recorder.record('r', B, 10);
    await assert.rejects(recorder.flush(), /store down/);
    assert.equal(recorder.pending, 2);
    recorder.record('r', A, 20);
    store.mode = 'ok';
    await recorder.flush();
    assert.deepEqual(await store.read('r'), new Map([[A, 20], [B, 10]]));
  });

  it('does not overlap flushes: one called during another waits for it', async () => {
    let release = (): void => undefined;
    let inFlight = 0;
    let most = 0;
    const inner = new MemoryPullTimeStore();
    const store: PullTimeStore = {
      merge: async (entries) => {
        inFlight++;
        most = Math.max(most, inFlight);
        await new Promise<void>((r) => (release = r));
        inFlight--;
        await inner.merge(entries);
      },
      read: (r) => inner.read(r),
      forget: (r, d) => inner.forget(r, d),
    };
    const recorder = new PullTimeRecorder({ store });
    recorder.record('r', A, 1);
    const first = recorder.flush();
    recorder.record('r', B, 2);
    const second = recorder.flush();
    await new Promise((r) => setImmediate(r));
    release();
    await new Promise((r) => setImmediate(r));
    release();
    await Promise.all([first, second]);
    assert.equal(most, 1);
    assert.deepEqual(await inner.read('r'), new Map([[A, 1], [B, 2]]));
  });

  it('holds at most maxPending manifests between flushes and counts the pulls it drops', () => {
    const recorder = new PullTimeRecorder({ store: new ScriptedStore(), maxPending: 2, now: () => 1 });
    recorder.record('r', A);
    recorder.record('s', A);
    recorder.record('r', B);
    recorder.record('t', B);
    recorder.record('r', A, 5); // an update of a held pair is never dropped
    recorder.record('r', A, NaN); // nor is anything done with a time that is not one
    assert.deepEqual([recorder.pending, recorder.dropped], [2, 2]);
  });

  it('reads the store with its own unflushed pulls merged in', async () => {
    const store = new ScriptedStore();
    await store.merge([{ repository: 'r', digest: A, at: 50 }, { repository: 'r', digest: B, at: 50 }]);
    const recorder = new PullTimeRecorder({ store });
    recorder.record('r', A, 70);
    recorder.record('r', B, 10);
    assert.deepEqual(await recorder.read('r'), new Map([[A, 70], [B, 50]]));
  });

  it('flushes on its timer, and close() flushes what is left', async () => {
    const store = new ScriptedStore();
    const recorder = new PullTimeRecorder({ store, flushInterval: 20, now: () => 1 });
    recorder.start();
    recorder.record('r', A);
    const deadline = Date.now() + 5000;
    while (store.merges.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(store.merges.length, 1, 'the timer flushed');
    recorder.record('r', B);
    await recorder.close();
    assert.deepEqual(await store.read('r'), new Map([[A, 1], [B, 1]]));
  });

  it('reports a failed timed flush to onError', async () => {
    const store = new ScriptedStore();
    store.mode = 'fail';
    const errors: unknown[] = [];
    const recorder = new PullTimeRecorder({ store, flushInterval: 10, onError: (err) => errors.push(err) });
    recorder.record('r', A, 1);
    recorder.start();
    const deadline = Date.now() + 5000;
    while (errors.length === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    store.mode = 'ok';
    await recorder.close();
    assert.match(String(errors[0]), /store down/);
    assert.deepEqual(await store.read('r'), new Map([[A, 1]]));
  });

  it('after a restart without a shared store, every earlier pull is unknown: pulledAt is undefined', async () => {
    const before = new PullTimeRecorder({ store: new MemoryPullTimeStore() });
    before.record('r', A, 1000);
    await before.close();
    const after = new PullTimeRecorder({ store: new MemoryPullTimeStore() }); // a new process: a new store
    const times = await after.read('r');
    assert.equal(pulledAt(times, A), undefined);
    after.record('r', A, 2000);
    assert.deepEqual(pulledAt(await after.read('r'), A), new Date(2000));
  });
});
