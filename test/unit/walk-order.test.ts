import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { compareWalkOrder, inWalkOrder } from '../../src/storage/driver/walk-order.js';
import { compareRepositoryNames } from '../../src/storage/catalog.js';

async function* listed(names: readonly string[]): AsyncGenerator<string> {
  yield* names;
}

async function collect(names: readonly string[]): Promise<string[]> {
  const out: string[] = [];
  for await (const name of inWalkOrder(listed(names), (n) => n)) out.push(name);
  return out;
}

/** A deterministic pseudo-random generator (mulberry32), so a failure reproduces. */
function random(seed: number): () => number {
  let a = seed;
  return () => {
    a = (a + 0x6d2b79f5) | 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('walk order', () => {
  it('sorts / before every other character, a directory right before its children', () => {
    const names = ['a.x', 'a-y', 'a/b/2', 'a', 'a/1'];
    assert.deepEqual([...names].sort(compareWalkOrder), ['a', 'a/1', 'a/b/2', 'a-y', 'a.x']);
  });

  it('is UTF-8 byte order beyond ASCII (characters above U+FFFF after U+E000..U+FFFF)', () => {
    const names = ['\u{1F600}', '\uFFFD', 'z', '\u00e9'];
    const bytewise = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    assert.deepEqual([...names].sort(compareWalkOrder), bytewise);
  });

  it('agrees with the catalog order of repository names', () => {
    const names = ['a', 'a/b', 'a-c', 'a.d/e', 'b', 'a/b-c', 'a/b/c', 'a_b', '0a'];
    assert.deepEqual([...names].sort(compareWalkOrder), [...names].sort(compareRepositoryNames));
  });

  it('re-sorts a byte-ordered listing as it streams, the same as sorting it whole', async () => {
    const next = random(9);
    const alphabet = ['a', 'b', '-', '.', '/', '0'];
    for (let round = 0; round < 200; round++) {
      const names = new Set<string>();
      const count = 1 + Math.floor(next() * 30);
      while (names.size < count) {
        let name = '';
        const length = 1 + Math.floor(next() * 6);
        for (let i = 0; i < length; i++) name += alphabet[Math.floor(next() * alphabet.length)];
        names.add(name);
      }
      const listing = [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
      assert.deepEqual(await collect(listing), [...names].sort(compareWalkOrder), listing.join(' '));
    }
  });

  it('keeps the listing order of equal names', async () => {
    const items = [{ name: 'a-b', n: 1 }, { name: 'a-b', n: 2 }, { name: 'a/c', n: 3 }];
    const out: number[] = [];
    for await (const item of inWalkOrder((async function* () { yield* items; })(), (i) => i.name)) out.push(item.n);
    assert.deepEqual(out, [3, 1, 2]);
  });
});
