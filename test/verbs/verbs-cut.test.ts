/**
 * Cutting a verbs writer on a real RDMA device (the Soft-RoCE VM's rxe0): the receiver makes queue
 * pairs only for writers it granted a room; `cutWriter` moves that writer's queue pairs to the error
 * state and destroys them, so a WRITE posted after the cut fails and no byte of it lands in the
 * pool, while another writer's link is untouched and the cut token is refused from then on.
 * Receiver and senders are managers in this process, so a write can be posted in the same tick as
 * the cut, before the sender can hear that its exchange connection closed: what stops its bytes is
 * then the receiver's queue pair, nothing else. Outside the VM (SOFTROCE_GUEST unset) it is skipped.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { describe, test } from 'node:test';
import { gqaLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { VerbsKvManager } from '../../src/transfer/verbs/verbs-kv-manager.js';
import { fillRandom, pageDigests, zeroDigest } from '../transfer/pages.js';
import { kernelObjects, skipOutsideVm } from './rxe-device.js';

const LAYOUT = gqaLayout(3, 1, 5, 'float32', 7); // 840-byte pages
const RX_PAGES = 32;
const newWriter = (): string => randomBytes(16).toString('hex');

describe('verbs cutWriter on rxe0', { skip: skipOutsideVm }, () => {
  test('after cutWriter a write from that writer fails and none of its bytes lands; other writers go on; the token is refused', async (t) => {
    const refusals: string[] = [];
    const rxManager = new VerbsKvManager({ connectTimeoutMs: 10_000, onRefuse: (r) => refusals.push(r) });
    const txManager = new VerbsKvManager({ connectTimeoutMs: 10_000, onRefuse: () => {} });
    const rxPool = new KvPool(LAYOUT, RX_PAGES);
    const src = new KvPool(LAYOUT, 16);
    fillRandom(src);
    const want = pageDigests(src);
    const zero = zeroDigest(src.pageBytes);
    try {
      const receiver = await rxManager.listen(rxPool, '127.0.0.1');
      const cut = newWriter();
      const kept = newWriter();
      await assert.rejects(txManager.connect(receiver.endpoint, src, newWriter()), /refused: writer [0-9a-f]{32} holds no grant here/);
      receiver.grant('1', cut, [0, 1, 8, 9, 10, 11]);
      receiver.grant('2', kept, [16, 17]);
      const a = await txManager.connect(receiver.endpoint, src, cut);
      const b = await txManager.connect(receiver.endpoint, src, kept);
      await a.write([{ src: 0, dst: 0, count: 2 }], 10_000, '1');
      assert.deepEqual(pageDigests(rxPool).slice(0, 2), want.slice(0, 2), 'the writer wrote before the cut');
      const qpsBefore = kernelObjects().qp;

      const cutting = receiver.cutWriter(cut);
      // Posted in the same tick: the sender has not yet heard its exchange connection close.
      const late = Promise.resolve(a.write([{ src: 4, dst: 8, count: 4 }], 20_000, '1'));
      assert.equal(await cutting, true);
      const lateError = await late.then(() => null, (err: Error) => err);
      t.diagnostic(`the late write failed with: ${lateError?.message}`);
      await assert.rejects(late, /verbs KV link to 127\.0\.0\.1:\d+: (.*RDMA WRITE failed with IBV_WC_\w+|the receiver closed the exchange connection)/);
      assert.deepEqual(pageDigests(rxPool).slice(8, 12), [zero, zero, zero, zero], 'no byte of the late write landed');
      assert.ok(kernelObjects().qp < qpsBefore, `the cut writer's receive-side QP is destroyed (${qpsBefore} -> ${kernelObjects().qp})`);

      await b.write([{ src: 6, dst: 16, count: 2 }], 10_000, '2');
      assert.deepEqual(pageDigests(rxPool).slice(16, 18), want.slice(6, 8), 'the other writer is untouched');
      receiver.grant('3', cut, [20]); // a grant cannot revive a cut token
      await assert.rejects(txManager.connect(receiver.endpoint, src, cut), /refused: writer [0-9a-f]{32} was cut \(declared lost\)/);
      assert.ok(refusals.some((r) => /holds no grant here/.test(r)) && refusals.some((r) => /was cut/.test(r)), refusals.join('\n'));
      await Promise.all([a.close(), b.close()]);
      await receiver.close();
    } finally {
      await txManager.close();
      await rxManager.close();
    }
  });
});
