/**
 * A device's completion poller worker on a real RDMA device (the Soft-RoCE VM's rxe0): a loopback RC
 * pair completes on one CQ owned by the poller; selectively signaled RDMA WRITEs come back to the
 * lane that posted them, in order, through the ring; an idle poller sleeps on the completion channel
 * (its thread burns no CPU, and a later completion wakes it through the channel); an error completion
 * reaches its lane with its status; stopping the poller lets the CQ be destroyed and every kernel
 * object goes back. Outside the VM (SOFTROCE_GUEST unset) it is skipped.
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { DevicePoller, type LaneHandler } from '../../src/transfer/verbs/poller/device-poller.js';
import { completionStatusName, type MemoryRegion, type QueuePair } from '../../native/verbs/index.js';
import { withTimeout } from '../../src/util/timeout.js';
import { GID_INDEX, kernelObjects, openDevice, skipOutsideVm } from './rxe-device.js';

const WORD = 2 ** 32;
const BYTES = 1 << 20;
/** Bounds each wait for completions, so a lost one fails the test instead of hanging it. */
const WAIT_MS = 10_000;

/** A lane handler that records completions and resolves once `seq` has completed. */
class Recorder implements LaneHandler {
  readonly seen: { seq: number; status: string }[] = [];
  lostReason: string | null = null;
  private waiter: { seq: number; resolve: () => void } | null = null;

  complete(seq: number, status: number): void {
    this.seen.push({ seq, status: completionStatusName(status) });
    if (this.waiter && seq >= this.waiter.seq) this.waiter.resolve();
  }

  lost(reason: string): void {
    this.lostReason = reason;
  }

  until(seq: number): Promise<void> {
    if (this.seen.some((c) => c.seq >= seq)) return Promise.resolve();
    return withTimeout(new Promise<void>((resolve) => (this.waiter = { seq, resolve })), WAIT_MS, `completion of request ${seq}`);
  }
}

function writes(lane: number, from: number, count: number, src: MemoryRegion, dst: MemoryRegion, signalEvery: number, rkey = dst.rkey) {
  const chunk = BYTES / count;
  return Array.from({ length: count }, (_, i) => ({
    wrId: lane * WORD + from + i,
    localAddr: src.addr + BigInt(i * chunk),
    length: chunk,
    lkey: src.lkey,
    remoteAddr: dst.addr + BigInt(i * chunk),
    rkey,
    signaled: (from + i) % signalEvery === 0 || i === count - 1,
  }));
}

describe('device completion poller on rxe0', { skip: skipOutsideVm }, () => {
  test('completions reach their lane in order; idle it sleeps on the channel; stop frees everything', async () => {
    const before = kernelObjects();
    const context = openDevice();
    let poller: DevicePoller | undefined;
    try {
      const port = context.queryPort(1);
      const gid = context.queryGid(1, GID_INDEX);
      assert.ok(gid);
      const pd = context.allocProtectionDomain();
      const src = new SharedArrayBuffer(BYTES);
      const dst = new SharedArrayBuffer(BYTES);
      randomFillSync(new Uint8Array(src));
      const srcMr = pd.registerMemory(src);
      const dstMr = pd.registerMemory(dst);
      const channel = context.createCompletionChannel();
      const cq = context.createCompletionQueue({ entries: 256, channel });
      poller = await DevicePoller.start(cq);
      const a: QueuePair = pd.createQueuePair({ sendCq: cq, recvCq: cq, maxSendWr: 128, maxRecvWr: 1 });
      const b: QueuePair = pd.createQueuePair({ sendCq: cq, recvCq: cq, maxSendWr: 1, maxRecvWr: 1 });
      const path = { port: 1, sgidIndex: GID_INDEX, mtu: port.activeMtu };
      a.connect({ ...path, psn: 1 }, { qpNum: b.qpNum, psn: 2, gid: gid.gid, lid: port.lid });
      b.connect({ ...path, psn: 2 }, { qpNum: a.qpNum, psn: 1, gid: gid.gid, lid: port.lid });
      const lane = new Recorder();
      const other = new Recorder();
      const id = poller.register(lane);
      poller.register(other);

      // 64 writes, every 16th signaled (and the last): 4 completions, in order, for this lane only.
      a.postWrites(writes(id, 1, 64, srcMr, dstMr, 16));
      await lane.until(64);
      assert.deepEqual(lane.seen, [16, 32, 48, 64].map((seq) => ({ seq, status: 'IBV_WC_SUCCESS' })));
      assert.equal(other.seen.length, 0);
      assert.ok(Buffer.from(dst).equals(Buffer.from(src)), 'every byte landed');

      // Idle: the poller sleeps in poll(2); the process burns (almost) no CPU.
      await new Promise((r) => setTimeout(r, 300));
      const idleFrom = poller.counters();
      const cpuFrom = process.cpuUsage();
      await new Promise((r) => setTimeout(r, 1000));
      const cpu = process.cpuUsage(cpuFrom);
      const idleTo = poller.counters();
      assert.ok(cpu.user + cpu.system < 200_000, `idle CPU ${(cpu.user + cpu.system) / 1000} ms in 1 s`);
      assert.ok(idleTo.sleeps - idleFrom.sleeps <= 2, `sleeps while idle: ${idleTo.sleeps - idleFrom.sleeps}`);

      // A completion wakes it through the channel.
      a.postWrites(writes(id, 65, 1, srcMr, dstMr, 1));
      await lane.until(65);
      const woken = poller.counters();
      assert.ok(woken.events > idleTo.events, `channel events ${idleTo.events} -> ${woken.events}`);
      assert.equal(woken.acked, woken.events, 'every event acknowledged');

      // An error completion reaches the lane with its status.
      a.postWrites(writes(id, 66, 1, srcMr, dstMr, 1, dstMr.rkey ^ 0x5a5a5a));
      await lane.until(66);
      assert.equal(lane.seen.at(-1)?.status, 'IBV_WC_REM_ACCESS_ERR');
      assert.equal(lane.lostReason, null);

      await withTimeout(poller.stop(), WAIT_MS, 'poller stop');
      poller = undefined;
    } finally {
      await poller?.stop();
      context.close(); // destroys the QPs, then the CQ (which would hang on unacknowledged events)
    }
    assert.deepEqual(kernelObjects(), before);
  });
});
