/**
 * The verbs poller's completion ring between two real threads: a producer worker pushes more
 * completions than the ring holds, in uneven batches, past the int32 wrap of the counters; the
 * consumer on this thread (sleeping in Atomics.waitAsync between batches) gets every one, in order,
 * with its four words intact. Also: a stop request wakes a consumer that is waiting.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { CompletionRing } from '../../src/transfer/verbs/poller/completion-ring.js';
import { withTimeout } from '../../src/util/timeout.js';

const RING_URL = new URL('../../src/transfer/verbs/poller/completion-ring.js', import.meta.url).href;
/** Bounds each wait for the other thread, so a lost wake-up fails the test instead of hanging it. */
const WAIT_MS = 10_000;

/** A producer thread: `total` completions in batches of 1..7; lane = i % 5, seq = i, status = i % 3, vendor = ~i. */
function producer(ring: CompletionRing, total: number, startAt: number): Worker {
  const code = `
    const { workerData } = await import('node:worker_threads');
    const { CompletionRing } = await import(${JSON.stringify(RING_URL)});
    const ring = CompletionRing.attach(workerData.buffer);
    let i = 0;
    while (i < workerData.total) {
      const batch = Math.min(1 + (i % 7), workerData.total - i);
      while (ring.free() < batch) ring.waitForSpace(5);
      for (let k = 0; k < batch; k++, i++) ring.push(i % 5, i, i % 3, ~i >>> 0);
      ring.publish();
    }
  `;
  // Counters start just below the int32 wrap, so the run crosses it.
  new Int32Array(ring.buffer, 0, 2).fill(startAt);
  return new Worker(code, { eval: true, workerData: { buffer: ring.buffer, total } });
}

test('every completion crosses the ring once, in order, across the counter wrap', async () => {
  const ring = CompletionRing.create(6);
  assert.equal(ring.capacity, 8, 'rounded up to a power of two');
  const total = 20_000;
  const worker = producer(ring, total, 2 ** 31 - 1000);
  const exited = once(worker, 'exit');
  let next = 0;
  const sink = (lane: number, seq: number, status: number, vendorErr: number): void => {
    assert.deepEqual([lane, seq, status, vendorErr], [next % 5, next, next % 3, ~next >>> 0]);
    next++;
  };
  try {
    while (next < total) {
      ring.drain(sink);
      if (next < total) await withTimeout(ring.published(), WAIT_MS, `completion ${next}`);
    }
    assert.equal(next, total);
    assert.equal(ring.drain(sink), 0, 'nothing extra');
    await withTimeout(exited, WAIT_MS, 'producer exit');
  } finally {
    await worker.terminate(); // a failed test leaves the producer waiting for space
  }
});

test('a stop request wakes a consumer waiting for completions', async () => {
  const ring = CompletionRing.create(4);
  let woken = false;
  const waiting = ring.published().then(() => (woken = true));
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(woken, false, 'nothing published: the consumer waits');
  ring.requestStop();
  await withTimeout(waiting, WAIT_MS, 'consumer woken by the stop request');
  assert.equal(ring.stopRequested, true);
});
