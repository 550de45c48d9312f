/**
 * The bindings on a real RDMA device (the Soft-RoCE VM's rxe0: `bash softroce/run.sh -- node --test
 * dist/test/verbs/rdma-loopback.test.js`): discovery and selection, then two RC queue pairs on the
 * device connected to each other through the RoCE v2 GID, RDMA WRITEs and a WRITE WITH IMM from one
 * registered SharedArrayBuffer into another, completions by polling and through the completion
 * channel, a remote access error, and a close that gives every kernel object back (counted with
 * `rdma resource show`). Outside the VM (SOFTROCE_GUEST unset) the tests are skipped with that reason.
 */
import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { describe, test } from 'node:test';
import koffi from 'koffi';
import {
  completionStatusName,
  QP_STATE,
  WC_OPCODE,
  WC_STATUS,
  type CompletionQueue,
  type WorkCompletion,
} from '../../native/verbs/index.js';
import { discoverPorts } from '../../src/transfer/verbs/discover-ports.js';
import { selectDevices } from '../../src/transfer/verbs/select-devices.js';
import { DEVICE, GID_INDEX, IP, kernelObjects, openDevice, skipOutsideVm } from './rxe-device.js';

/** Bounds a poll loop so a lost completion fails the test instead of hanging it; never asserted on. */
const POLL_LIMIT_MS = 10_000;

/** Polls until `count` completions arrived (or the bound passes). */
function pollFor(cq: CompletionQueue, count: number): WorkCompletion[] {
  const got: WorkCompletion[] = [];
  const until = Date.now() + POLL_LIMIT_MS;
  while (got.length < count && Date.now() < until) got.push(...cq.poll(count - got.length));
  assert.equal(got.length, count, `completions within ${POLL_LIMIT_MS} ms`);
  return got;
}

describe(`verbs on ${DEVICE}`, { skip: skipOutsideVm }, () => {
  test('discovery reports the ACTIVE RoCE port and selection picks it with its RoCE v2 IPv4-mapped GID', () => {
    const ports = discoverPorts().filter((p) => p.device === DEVICE);
    assert.equal(ports.length, 1);
    const [port] = ports;
    assert.equal(port.state, 'ACTIVE');
    assert.equal(port.linkLayer, 'Ethernet');
    assert.notEqual(port.rate, null, `speed ${port.activeSpeed} width ${port.activeWidth}`);
    const selection = selectDevices(ports);
    assert.equal(selection.ibDevices, DEVICE);
    assert.deepEqual([selection.chosen[0].gid?.index, selection.chosen[0].gid?.type, selection.chosen[0].gid?.ipv4], [GID_INDEX, 'RoCE v2', IP]);
  });

  test('loopback RC: WRITEs and a WRITE WITH IMM land in the peer region; close frees every object', () => {
    const before = kernelObjects();
    const context = openDevice();
    try {
      const port = context.queryPort(1);
      const gid = context.queryGid(1, GID_INDEX);
      assert.ok(gid);
      const pd = context.allocProtectionDomain();
      const bytes = 1 << 20;
      const src = new SharedArrayBuffer(bytes);
      const dst = new SharedArrayBuffer(bytes);
      randomFillSync(new Uint8Array(src));
      const srcMr = pd.registerMemory(src);
      const dstMr = pd.registerMemory(dst);
      assert.equal(srcMr.length, bytes);
      assert.equal(srcMr.addr, koffi.address(new Uint8Array(src)), 'the region starts at the buffer');
      const channel = context.createCompletionChannel();
      const sendCq = context.createCompletionQueue({ entries: 64 });
      const recvCq = context.createCompletionQueue({ entries: 64, channel });
      const a = pd.createQueuePair({ sendCq, recvCq: sendCq, maxSendWr: 32, maxRecvWr: 4 });
      const b = pd.createQueuePair({ sendCq, recvCq, maxSendWr: 4, maxRecvWr: 32 });
      const path = { port: 1, sgidIndex: GID_INDEX, mtu: port.activeMtu };
      a.connect({ ...path, psn: 100 }, { qpNum: b.qpNum, psn: 200, gid: gid.gid, lid: port.lid });
      b.connect({ ...path, psn: 200 }, { qpNum: a.qpNum, psn: 100, gid: gid.gid, lid: port.lid });
      assert.deepEqual([a.state, b.state], [QP_STATE.IBV_QPS_RTS, QP_STATE.IBV_QPS_RTS]);
      const opened = kernelObjects();
      for (const [kind, added] of Object.entries({ pd: 1, cq: 2, qp: 2, mr: 2 })) assert.equal(opened[kind] - before[kind], added, kind);

      b.postReceives([77]);
      recvCq.requestNotify();
      const chunk = bytes / 4;
      a.postWrites(
        [0, 1, 2, 3].map((i) => ({
          wrId: 10 + i,
          localAddr: srcMr.addr + BigInt(i * chunk),
          length: chunk,
          lkey: srcMr.lkey,
          remoteAddr: dstMr.addr + BigInt(i * chunk),
          rkey: dstMr.rkey,
          ...(i === 3 ? { imm: 0xabcdef01, signaled: true } : {}),
        })),
      );
      const [sent] = pollFor(sendCq, 1);
      assert.deepEqual([completionStatusName(sent.status), sent.wrId, sent.opcode], ['IBV_WC_SUCCESS', 13, WC_OPCODE.IBV_WC_RDMA_WRITE]);
      assert.equal(channel.waitForEvent(), recvCq);
      recvCq.ackEvents();
      const [received] = pollFor(recvCq, 1);
      assert.deepEqual(
        [completionStatusName(received.status), received.wrId, received.opcode, received.imm, received.qpNum],
        ['IBV_WC_SUCCESS', 77, WC_OPCODE.IBV_WC_RECV_RDMA_WITH_IMM, 0xabcdef01, b.qpNum],
      );
      assert.ok(Buffer.from(dst).equals(Buffer.from(src)), 'destination region equals the source');

      a.postWrites([{ wrId: 99, localAddr: srcMr.addr, length: 64, lkey: srcMr.lkey, remoteAddr: dstMr.addr, rkey: dstMr.rkey ^ 0x5a5a5a, signaled: true }]);
      const [refused] = pollFor(sendCq, 1);
      assert.equal(refused.wrId, 99);
      assert.equal(completionStatusName(refused.status), completionStatusName(WC_STATUS.IBV_WC_REM_ACCESS_ERR));
    } finally {
      context.close();
    }
    assert.deepEqual(kernelObjects(), before);
  });
});
