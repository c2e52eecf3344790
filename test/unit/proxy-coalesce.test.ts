// SingleFlight: concurrent callers for one key share one run (its value or its error); the key is free after.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { SingleFlight, type ExclusiveLock } from '../../src/proxy/coalesce.js';

function deferred<T>(): { promise: Promise<T>; resolve: (v: T) => void; reject: (e: unknown) => void } {
  let resolve!: (v: T) => void;
  let reject!: (e: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

describe('SingleFlight', () => {
  it('N concurrent callers for one key: one run, one value', async () => {
    const joined: string[] = [];
    const flight = new SingleFlight({ onJoin: (k) => joined.push(k) });
    const gate = deferred<string>();
    let runs = 0;
    const work = (): Promise<string> => {
      runs++;
      return gate.promise;
    };
    const all = Array.from({ length: 10 }, () => flight.run('blob:a', work));
    assert.equal(flight.size, 1);
    gate.resolve('done');
    assert.deepEqual(await Promise.all(all), Array(10).fill('done'));
    assert.equal(runs, 1);
    assert.equal(joined.length, 9);
    assert.equal(flight.size, 0, 'the key is freed once settled');
  });

  it('shares the error too, and runs again afterwards', async () => {
    const flight = new SingleFlight();
    let runs = 0;
    const failing = async (): Promise<number> => {
      runs++;
      await new Promise((r) => setTimeout(r, 10));
      throw new Error('upstream down');
    };
    const results = await Promise.allSettled([flight.run('k', failing), flight.run('k', failing), flight.run('k', failing)]);
    assert.equal(runs, 1);
    for (const r of results) assert.equal(r.status === 'rejected' && (r.reason as Error).message, 'upstream down');
    assert.equal(await flight.run('k', async () => ++runs), 2, 'a later call runs anew');
  });

  it('a synchronous throw is a shared rejection, not an exception', async () => {
    const flight = new SingleFlight();
    const work = (): Promise<never> => {
      throw new Error('sync');
    };
    await assert.rejects(Promise.all([flight.run('k', work), flight.run('k', work)]), /sync/);
    assert.equal(flight.size, 0);
  });

  it('different keys do not wait for each other', async () => {
    const flight = new SingleFlight();
    const gate = deferred<string>();
    const slow = flight.run('a', () => gate.promise);
    assert.equal(await flight.run('b', async () => 'b'), 'b');
    gate.resolve('a');
    assert.equal(await slow, 'a');
  });

  it("an aborted waiter leaves; the shared run goes on for the others", async () => {
    const flight = new SingleFlight();
    const gate = deferred<string>();
    const controller = new AbortController();
    const first = flight.run('k', () => gate.promise);
    const leaving = flight.run('k', () => gate.promise, controller.signal);
    controller.abort(new Error('client went away'));
    await assert.rejects(leaving, /client went away/);
    gate.resolve('v');
    assert.equal(await first, 'v');
  });

  it('takes the cross-replica lock once per key, inside the sharing', async () => {
    const taken: string[] = [];
    const lock: ExclusiveLock = {
      withLock: async (key, work) => {
        taken.push(key);
        return work();
      },
    };
    const flight = new SingleFlight({ lock });
    await Promise.all([flight.run('k', async () => 1), flight.run('k', async () => 1), flight.run('j', async () => 2)]);
    assert.deepEqual(taken.sort(), ['j', 'k']);
  });
});
