/**
 * How the verbs sender cuts a write into RDMA WRITEs: one request per coalesced run on one device,
 * runs split at the message size limit, and large writes striped evenly across devices.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { coalescePages } from '../../src/transfer/kv-transfer.js';
import { MIN_STRIPE_BYTES, stripeRuns } from '../../src/transfer/verbs/stripe-plan.js';

test('one device: one request per run, byte offsets of the pages on both sides', () => {
  const runs = coalescePages([2, 3, 4, 7], [30, 31, 32, 5]);
  assert.deepEqual(stripeRuns(runs, 100, 1), [[{ src: 200, dst: 3000, length: 300 }, { src: 700, dst: 500, length: 100 }]]);
});

test('a run longer than the message size limit is split at it', () => {
  assert.deepEqual(stripeRuns([{ src: 0, dst: 10, count: 5 }], 100, 1, 200), [[{ src: 0, dst: 1000, length: 200 }, { src: 200, dst: 1200, length: 200 }, { src: 400, dst: 1400, length: 100 }]]);
});

test('a large write is striped evenly across devices; a small one is not split', () => {
  const page = 1 << 20;
  const plan = stripeRuns([{ src: 0, dst: 0, count: 64 }], page, 4);
  assert.deepEqual(plan.map((lane) => lane.reduce((n, p) => n + p.length, 0)), [16 * page, 16 * page, 16 * page, 16 * page]);
  const small = stripeRuns([{ src: 0, dst: 0, count: 1 }], MIN_STRIPE_BYTES, 4);
  assert.deepEqual(small.map((lane) => lane.length), [1, 0, 0, 0]);
});
