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
