/**
 * Worker-thread entry of one RDMA device's completion poller: it owns polling the device's CQ and
 * hands completions to the transfer actor through the shared ring, so no other thread polls verbs.
 *
 * The loop: poll the CQ; while completions come, publish them and keep polling; after `spinMs`
 * without one, arm the CQ (`ibv_req_notify_cq`), poll once more (a completion may have arrived
 * before the arm), then sleep in poll(2) on the completion channel's fd and the wake eventfd. An
 * idle device therefore costs no CPU, and a busy one pays no wake-up latency.
 *
 * Decisions:
 * - poll(2) on the channel fd instead of `ibv_get_cq_event` alone: a thread blocked in
 *   `ibv_get_cq_event` can be woken by nothing but a completion, so it could never be stopped.
 *   The event is taken only once the fd is readable, and acknowledged at once (the counts go into
 *   the ring's header, so the owner can acknowledge what a poller that died left over:
 *   `ibv_destroy_cq` waits for every event to be acknowledged).
 * - Nothing is allocated or logged inside the loop; errors end the loop and are posted as `failed`.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { performance } from 'node:perf_hooks';
import { eventFdDrain, PollSet } from '../../../../native/libc.js';
import { CqPollHandle } from '../../../../native/verbs/cq-poll-handle.js';
import { WC, WC_BYTES } from '../../../../native/verbs/work-completions.js';
import { CompletionRing } from './completion-ring.js';
import type { PollerMessage, PollerWorkerData } from './protocol.js';

/** Completions read per ibv_poll_cq. */
const BATCH = 64;

const port = parentPort;
if (!port) throw new Error('poller-worker must run in a worker thread');
const data = workerData as PollerWorkerData;
const post = (msg: PollerMessage): void => port.postMessage(msg);

function run(cq: CqPollHandle, ring: CompletionRing, wait: PollSet): void {
  const view = cq.view;
  let busyUntil = 0;
  /** Reads one batch into the ring; returns how many completions it moved. */
  const harvest = (): number => {
    const n = cq.poll(ring.free());
    for (let i = 0, at = 0; i < n; i++, at += WC_BYTES) {
      ring.push(view.getUint32(at + WC.wrId + 4, true), view.getUint32(at + WC.wrId, true), view.getInt32(at + WC.status, true), view.getUint32(at + WC.vendorErr, true));
    }
    ring.publish();
    return n;
  };
  while (!ring.stopRequested) {
    if (ring.free() === 0) {
      ring.waitForSpace(1);
      continue;
    }
    if (harvest() > 0) {
      busyUntil = performance.now() + data.spinMs;
      continue;
    }
    if (performance.now() < busyUntil) continue;
    cq.arm();
    if (harvest() > 0) continue;
    ring.count('sleeps');
    wait.wait(data.sleepMs);
    if (wait.readable(0)) {
      cq.takeEvent();
      ring.count('events');
      cq.ack(1);
      ring.count('acked');
    }
    if (wait.readable(1)) eventFdDrain(data.wakeFd);
  }
}

function main(): void {
  try {
    const cq = new CqPollHandle(data.handles, BATCH);
    const ring = CompletionRing.attach(data.ring);
    const wait = new PollSet([data.handles.channelFd, data.wakeFd]);
    post({ type: 'started' });
    run(cq, ring, wait);
  } catch (err) {
    post({ type: 'failed', message: (err as Error).message });
  }
}

main();
