import { test } from 'node:test';
import assert from 'node:assert/strict';
import { KvAllocator } from '../../src/kv/kv-allocator.js';

test('allocation is all-or-nothing and pages come back on release', () => {
  const a = new KvAllocator(10, 4);
  assert.equal(a.ensure('a', 9), true); // 3 pages
  assert.deepEqual([...a.table('a')], [0, 1, 2]);
  assert.equal(a.ensure('b', 30), false); // 8 pages > 7 free
  assert.equal(a.freePages, 7);
  assert.equal(a.table('b').length, 0);
  assert.equal(a.ensure('a', 12), true); // still 3 pages
  assert.equal(a.ensure('a', 13), true); // grows to 4
  assert.equal(a.freePages, 6);
  a.assertConsistent();
  a.release('a');
  a.release('a');
  a.release('never-existed');
  assert.equal(a.freePages, 10);
  assert.equal(a.tableCount, 0);
  a.assertConsistent();
});

test('a random mix of grow and release never loses or duplicates a page', () => {
  const a = new KvAllocator(64, 16);
  let seed = 7;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  const sizes = new Map<string, number>();
  for (let i = 0; i < 5000; i++) {
    const owner = `r${rand(12)}`;
    if (rand(4) === 0) {
      a.release(owner);
      sizes.delete(owner);
    } else {
      const want = (sizes.get(owner) ?? 0) + rand(40);
      if (a.ensure(owner, want)) sizes.set(owner, want);
      assert.ok(a.table(owner).length >= (sizes.has(owner) ? a.pagesFor(sizes.get(owner)!) : 0));
    }
    if (i % 250 === 0) a.assertConsistent();
  }
  for (const owner of sizes.keys()) a.release(owner);
  a.assertConsistent();
  assert.equal(a.freePages, 64);
});
