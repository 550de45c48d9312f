/**
 * The inline verbs of the bindings (port query through `verbs_context`, poll / notify / post through
 * `context->ops`) against fake-provider.c: a context, CQ and QP laid out by the C compiler whose
 * function pointers record what they are given. Checks the calls go through the right slots with the
 * right arguments, the work-request chains and completions are encoded/decoded as C sees them, and
 * failures name the call and errno. (Real devices: the Soft-RoCE smoke test.)
 */
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import koffi from 'koffi';
import { LINK_LAYER, PORT_STATE, SEND_FLAGS, WC_OPCODE, WC_STATUS, WR_OPCODE } from '../../native/verbs/constants.js';
import { CompletionQueue } from '../../native/verbs/completion-queue.js';
import { Context } from '../../native/verbs/context.js';
import { PostError } from '../../native/verbs/errors.js';
import { ProtectionDomain } from '../../native/verbs/protection-domain.js';
import { QueuePair } from '../../native/verbs/queue-pair.js';
import { completionStatusName } from '../../native/verbs/work-completions.js';
import type { RdmaWrite } from '../../native/verbs/work-requests.js';
import { CBuild } from './c-compiler.js';

interface Fake {
  context: bigint;
  cq: bigint;
  qp: bigint;
  arrange(failAt: number, completions: number): void;
  sent(): bigint[][];
  lastSolicited(): number;
  queryPortLen(): number;
}

function loadFake(path: string): Fake {
  const lib = koffi.load(path);
  const count = lib.func('int fake_sent_count(void)');
  const row = lib.func('void fake_sent(int i, void *out)');
  return {
    context: lib.func('void *fake_context(void)')(),
    cq: lib.func('void *fake_cq(void)')(),
    qp: lib.func('void *fake_qp(void)')(),
    arrange: lib.func('void fake_arrange(int fail_at, int completions)'),
    sent: () =>
      Array.from({ length: count() as number }, (_, i) => {
        const out = new BigUint64Array(12);
        row(i, out);
        return [...out];
      }),
    lastSolicited: lib.func('int fake_last_solicited(void)'),
    queryPortLen: lib.func('int fake_query_port_len(void)'),
  };
}

describe('inline verbs through the provider function pointers', () => {
  const build = new CBuild();
  let fake: Fake;
  let context: Context;
  let cq: CompletionQueue;
  let qp: QueuePair;

  before(() => {
    fake = loadFake(build.compile('fake-provider.c', 'fake-provider.so', ['-shared', '-fPIC']));
    // Wrapped, never destroyed: destroying would hand the fakes to the real libibverbs.
    context = new Context(fake.context, 'fake0');
    cq = new CompletionQueue(context, fake.cq, null);
    qp = new QueuePair(new ProtectionDomain(context, 1n), fake.qp, { maxSendWr: 64, maxRecvWr: 64, maxInlineData: 0 });
  });
  after(() => build.remove());

  test('ibv_query_port goes through verbs_context->query_port with sizeof(struct ibv_port_attr)', () => {
    const port = context.queryPort(1);
    assert.equal(fake.queryPortLen(), 52);
    assert.deepEqual(port, {
      state: PORT_STATE.IBV_PORT_ACTIVE,
      maxMtu: 5,
      activeMtu: 3,
      gidTableLength: 4,
      lid: 0x2a,
      activeWidth: 2,
      activeSpeed: 128,
      physState: 5,
      linkLayer: LINK_LAYER.IBV_LINK_LAYER_ETHERNET,
    });
    assert.throws(() => context.queryPort(2), { name: 'VerbsError', code: 'EINVAL', message: 'ibv_query_port(fake0, port 2) failed: Invalid argument (EINVAL)' });
  });

  test('wrapping reads the C objects: CQ size and QP number', () => {
    assert.equal(cq.entries, 255);
    assert.equal(qp.qpNum, 0x123456);
  });

  test('ibv_post_send gets a chain of RDMA WRITEs exactly as given, immediate data in network order', () => {
    fake.arrange(-1, 0);
    // More than the initial scratch room, so the chain is also re-laid out in grown memory.
    const writes: RdmaWrite[] = Array.from({ length: 40 }, (_, i) => ({
      wrId: 2 ** 40 + i,
      localAddr: 0x7f00_0000_0000n + BigInt(i * 65536),
      length: 65536 + i,
      lkey: 0x1000 + i,
      remoteAddr: 0x5500_0000_0000n + BigInt(i * 4096),
      rkey: 0xabc0_0000 + i,
      ...(i === 39 ? { imm: 0xfedc_ba98 } : {}),
      signaled: i % 8 === 7,
    }));
    qp.postWrites(writes);
    const sent = fake.sent();
    assert.equal(sent.length, 40);
    sent.forEach((row, i) => {
      const w = writes[i];
      assert.deepEqual(row, [
        1n, 1n, BigInt(w.wrId),
        BigInt(i === 39 ? WR_OPCODE.IBV_WR_RDMA_WRITE_WITH_IMM : WR_OPCODE.IBV_WR_RDMA_WRITE),
        BigInt(w.signaled ? SEND_FLAGS.IBV_SEND_SIGNALED : 0),
        i === 39 ? 0xfedc_ba98n : 0n,
        w.remoteAddr, BigInt(w.rkey), 1n, w.localAddr, BigInt(w.length), BigInt(w.lkey),
      ], `write ${i}`);
    });
  });

  test('a refused work request fails with a PostError saying how many were posted', () => {
    fake.arrange(2, 0);
    const write = (wrId: number): RdmaWrite => ({ wrId, localAddr: 1n, length: 1, lkey: 1, remoteAddr: 2n, rkey: 2 });
    assert.throws(() => qp.postWrites([write(1), write(2), write(3), write(4)]), (err: unknown) => {
      assert.ok(err instanceof PostError);
      assert.equal(err.posted, 2);
      assert.equal(err.code, 'ENOMEM');
      assert.equal(err.message, 'ibv_post_send(fake0, QP 1193046) failed at work request 3 of 4: Cannot allocate memory (ENOMEM)');
      return true;
    });
    assert.deepEqual(fake.sent().map((row) => row[2]), [1n, 2n]);
  });

  test('ibv_post_recv gets buffer-less receives with the given ids', () => {
    fake.arrange(-1, 0);
    qp.postReceives([7, 2 ** 52]);
    assert.deepEqual(fake.sent().map((row) => [row[0], row[1], row[2], row[8]]), [[2n, 1n, 7n, 0n], [2n, 1n, 2n ** 52n, 0n]]);
    fake.arrange(0, 0);
    assert.throws(() => qp.postReceives([1]), { name: 'PostError', posted: 0 });
  });

  test('ibv_poll_cq fills struct ibv_wc entries that decode field for field', () => {
    fake.arrange(-1, 3);
    const first = cq.poll(2);
    assert.deepEqual(first, [
      { wrId: 2 ** 32, status: WC_STATUS.IBV_WC_SUCCESS, opcode: WC_OPCODE.IBV_WC_RECV_RDMA_WITH_IMM, byteLen: 0, imm: 0xc0ffee00, qpNum: 0x123456, vendorErr: 0 },
      { wrId: 2 ** 32 + 1, status: WC_STATUS.IBV_WC_REM_ACCESS_ERR, opcode: WC_OPCODE.IBV_WC_RDMA_WRITE, byteLen: 4096, imm: undefined, qpNum: 0x123456, vendorErr: 0x81 },
    ]);
    assert.equal(completionStatusName(first[1].status), 'IBV_WC_REM_ACCESS_ERR');
    assert.deepEqual(cq.poll(64).map((wc) => [wc.wrId, wc.imm]), [[2 ** 32 + 2, 0xc0ffee02]]);
    assert.deepEqual(cq.poll(), []);
    fake.arrange(-1, -1);
    assert.throws(() => cq.poll(), { name: 'VerbsError', message: 'ibv_poll_cq(fake0) failed (returned -1)' });
  });

  test('ibv_req_notify_cq passes solicited_only', () => {
    cq.requestNotify(true);
    assert.equal(fake.lastSolicited(), 1);
    cq.requestNotify();
    assert.equal(fake.lastSolicited(), 0);
  });
});
