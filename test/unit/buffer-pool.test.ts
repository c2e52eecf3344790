import assert from 'node:assert/strict';
import { describe, it } from 'node:test';

import { BufferPool } from '../../src/storage/buffer-pool.js';

describe('BufferPool', () => {
  it('hands back the buffers given to it, newest first, and makes new ones when empty', () => {
    const pool = new BufferPool(1024, 2);
    const a = pool.take();
    const b = pool.take();
    assert.equal(a.byteLength, 1024);
    assert.notEqual(a, b);
    pool.give(a);
    pool.give(b);
    assert.equal(pool.idle, 2);
    assert.equal(pool.take(), b);
    assert.equal(pool.take(), a);
    assert.equal(pool.idle, 0);
    assert.notEqual(pool.take(), a, 'an empty pool allocates');
  });

  it('keeps at most `keep` idle buffers and refuses buffers of another size', () => {
    const pool = new BufferPool(16, 1);
    pool.give(Buffer.alloc(16));
    pool.give(Buffer.alloc(16));
    assert.equal(pool.idle, 1);
    const other = new BufferPool(16, 4);
    other.give(Buffer.alloc(8));
    assert.equal(other.idle, 0);
  });
});

describe('BufferPool idle release', () => {
  it('drops its idle buffers once unused for idleMs, and not while in use', () => {
    let now = 0;
    const pool = new BufferPool(16, 4, 1000, () => now);
    const a = pool.take();
    const b = pool.take();
    pool.give(a);
    now = 900;
    assert.equal(pool.trim(), false, 'used 900 ms ago: kept');
    pool.give(b);
    now = 1800;
    assert.equal(pool.trim(), false, 'given back 900 ms ago: kept');
    assert.equal(pool.idle, 2);
    now = 1900;
    assert.equal(pool.trim(), true);
    assert.equal(pool.idle, 0, 'released after 1000 ms unused');
  });

  it('releases them by itself, with a timer that does not keep the process alive', async () => {
    const pool = new BufferPool(16, 4, 20);
    pool.give(pool.take());
    assert.equal(pool.idle, 1);
    const deadline = Date.now() + 10_000;
    while (pool.idle > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    assert.equal(pool.idle, 0);
  });
});
