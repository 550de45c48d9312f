/**
 * Page runs: coalescing page lists into runs (a run only where pages are adjacent on BOTH sides) and
 * the bounds checks every backend applies before moving a byte.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalescePages } from '../../src/transfer/kv-transfer.js';
import { checkRuns, runProblem } from '../../src/transfer/run-bounds.js';
import { SCATTER } from './pages.js';

test('pages adjacent on both sides merge into one run', () => {
  assert.deepEqual(coalescePages([3, 4, 5], [10, 11, 12]), [{ src: 3, dst: 10, count: 3 }]);
});

test('pages adjacent on one side only stay separate runs', () => {
  assert.deepEqual(coalescePages([3, 4], [10, 12]), [
    { src: 3, dst: 10, count: 1 },
    { src: 4, dst: 12, count: 1 },
  ]);
  assert.deepEqual(coalescePages([3, 5], [10, 11]), [
    { src: 3, dst: 10, count: 1 },
    { src: 5, dst: 11, count: 1 },
  ]);
  // descending neighbours are not a run either
  assert.equal(coalescePages([4, 3], [11, 10]).length, 2);
});

test('the test scatter coalesces to the runs it was built for', () => {
  assert.deepEqual(coalescePages(SCATTER.src, SCATTER.dst), [
    { src: 2, dst: 30, count: 3 },
    { src: 7, dst: 5, count: 1 },
    { src: 9, dst: 12, count: 1 },
    { src: 10, dst: 14, count: 1 },
    { src: 15, dst: 20, count: 1 },
    { src: 17, dst: 21, count: 1 },
    { src: 20, dst: 40, count: 4 },
  ]);
});

test('page lists of different lengths are refused', () => {
  assert.throws(() => coalescePages([1, 2], [1]), /2 source pages vs 1 destination pages/);
});

test('runs outside either pool, empty or fractional are refused, naming the side', () => {
  assert.equal(runProblem(0, 4, 4), null);
  assert.match(runProblem(1, 4, 4)!, /pages \[1, 5\) exceed the pool of 4 pages/);
  assert.match(runProblem(-1, 1, 4)!, /not a page id/);
  assert.match(runProblem(0, 0, 4)!, /not a positive integer/);
  assert.match(runProblem(0.5, 1, 4)!, /not a page id/);
  assert.equal(checkRuns([{ src: 0, dst: 6, count: 2 }, { src: 2, dst: 0, count: 1 }], 3, 8), 3);
  assert.throws(() => checkRuns([{ src: 0, dst: 0, count: 1 }, { src: 2, dst: 0, count: 2 }], 3, 8), /bad run 1 .*local pages \[2, 4\)/);
  assert.throws(() => checkRuns([{ src: 0, dst: 7, count: 2 }], 3, 8), /bad run 0 .*peer pages \[7, 9\)/);
});
