/**
 * The verbs backend on a real RDMA device (the Soft-RoCE VM's rxe0): the receiver is a child process
 * (test/transfer/receiver-process.ts with the verbs backend), the sender the transfer actor on a
 * worker thread of this process, so pages cross processes by RDMA WRITE. Pages land intact at
 * scattered destinations and large random mappings; writes on one link settle in order; bad runs and
 * a page-size mismatch are refused with nothing written; an error completion (a forged rkey) fails
 * that write with its status name and retires only that link; a receiver killed mid-transfer fails
 * the pending write long before its timeout. Also reports write throughput (compare with
 * softroce/ib-write-bw.sh in the same VM run). Outside the VM (SOFTROCE_GUEST unset) it is skipped.
 */
import assert from 'node:assert/strict';
import { monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { describe, test } from 'node:test';
import { TransferActorClient } from '../../actors/transfer/transfer-actor-client.js';
import { defaultTransferConfig } from '../../src/transfer/backends.js';
import { gqaLayout, type KvLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { coalescePages } from '../../src/transfer/kv-transfer.js';
import { VerbsKvManager } from '../../src/transfer/verbs/verbs-kv-manager.js';
import { allPages, TEST_ROOM, TEST_WRITER } from '../transfer/grant.js';
import { assertScatterLanded, fillRandom, pageDigests, SCATTER, zeroDigest } from '../transfer/pages.js';
import { Receiver } from '../transfer/receiver.js';
import { skipOutsideVm } from './rxe-device.js';

/** 840-byte pages: not a power of two, so run boundaries fall anywhere in the registered region. */
const LAYOUT = gqaLayout(3, 1, 5, 'float32', 7);
const RX_PAGES = 48;
/** 1 MiB pages, for throughput and the kill test. */
const BIG = gqaLayout(16, 8, 128, 'float16', 16);

async function withLink(layout: KvLayout, rxPages: number, txPages: number, body: (rx: Receiver, tx: TransferActorClient, src: KvPool) => Promise<void>): Promise<void> {
  const rx = await Receiver.start('verbs', layout, rxPages);
  let tx: TransferActorClient | undefined;
  try {
    const src = new KvPool(layout, txPages);
    fillRandom(src);
    tx = await TransferActorClient.start(defaultTransferConfig('verbs'), src, 'error');
    await rx.grant(TEST_ROOM, TEST_WRITER, allPages(rxPages)); // the receiver makes queue pairs only for granted writers
    await tx.connect('rx', rx.endpoint, TEST_WRITER);
    await body(rx, tx, src);
  } finally {
    await tx?.close();
    await rx.stop();
  }
}

/** A random permutation of 0..n-1 (Fisher-Yates). */
function shuffled(n: number): number[] {
  const a = Array.from({ length: n }, (_, i) => i);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [a[i], a[j]] = [a[j], a[i]];
  }
  return a;
}

describe('verbs KV transfer on rxe0', { skip: skipOutsideVm }, () => {
  test('pages reach scattered destinations intact across processes; untouched pages stay zero', async () => {
    await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
      assert.equal(rx.endpoint.backend, 'verbs');
      const runs = coalescePages(SCATTER.src, SCATTER.dst);
      const results = await Promise.all([runs.slice(0, 2), runs.slice(2, 5), runs.slice(5)].map((w) => tx.write('rx', TEST_WRITER, w, 10_000, TEST_ROOM)));
      assert.equal(results.reduce((n, r) => n + r.bytes, 0), SCATTER.src.length * src.pageBytes);
      assertScatterLanded(await rx.digests(), src, RX_PAGES);
    });
  });

  test('random pages to a random mapping: checksums equal on both sides, the rest zero', async () => {
    await withLink(LAYOUT, 512, 400, async (rx, tx, src) => {
      const srcIds = shuffled(400).slice(0, 300);
      const dstIds = shuffled(512).slice(0, 300);
      const runs = coalescePages(srcIds, dstIds);
      // more requests than the send queue holds (256), to exercise the bounded queue
      const r = await tx.write('rx', TEST_WRITER, runs, 20_000, TEST_ROOM);
      assert.equal(r.bytes, 300 * src.pageBytes);
      const want = pageDigests(src);
      const got = await rx.digests();
      const zero = zeroDigest(src.pageBytes);
      for (let p = 0; p < 512; p++) {
        const i = dstIds.indexOf(p);
        assert.equal(got[p], i < 0 ? zero : want[srcIds[i]], `destination page ${p}`);
      }
    });
  });

  test('writes in flight on one link land and settle in order', async () => {
    await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
      const settled: number[] = [];
      await Promise.all(Array.from({ length: 12 }, (_, i) => tx.write('rx', TEST_WRITER, [{ src: i, dst: 0, count: 3 }], 10_000, TEST_ROOM).then(() => settled.push(i))));
      assert.deepEqual(settled, [...settled].sort((a, b) => a - b));
      assert.deepEqual((await rx.digests()).slice(0, 3), pageDigests(src).slice(11, 14));
    });
  });

  test('bad runs and a page-size mismatch are refused with nothing written; the link keeps working', async () => {
    await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
      await assert.rejects(tx.write('rx', TEST_WRITER, [{ src: 0, dst: RX_PAGES - 1, count: 2 }], 10_000, TEST_ROOM), /peer pages \[47, 49\) exceed the pool of 48 pages/);
      await assert.rejects(tx.write('rx', TEST_WRITER, [{ src: 23, dst: 0, count: 2 }], 10_000, TEST_ROOM), /local pages \[23, 25\) exceed the pool of 24 pages/);
      const other = new VerbsKvManager({ connectTimeoutMs: 10_000, onRefuse: () => {} });
      const wrongPages = { buffer: new SharedArrayBuffer(4 * 512), pageBytes: 512, numPages: 4 };
      try {
        await assert.rejects(other.connect(rx.endpoint, wrongPages, TEST_WRITER), /refused: page size mismatch: the sender's pages are 512 B, this pool's are 840 B/);
      } finally {
        await other.close(); // stops its device's poller and frees the registration
      }
      await tx.write('rx', TEST_WRITER, [{ src: 5, dst: 9, count: 1 }], 10_000, TEST_ROOM);
      const zero = zeroDigest(src.pageBytes);
      (await rx.digests()).forEach((d, p) => assert.equal(d, p === 9 ? pageDigests(src)[5] : zero, `page ${p}`));
    });
  });

  test('an error completion fails the write with its verbs status and retires only that link', async () => {
    await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
      assert.equal(rx.endpoint.backend, 'verbs');
      if (rx.endpoint.backend !== 'verbs') return;
      const forged = { ...rx.endpoint, devices: rx.endpoint.devices.map((d) => ({ ...d, rkey: d.rkey ^ 0x5a5a5a })) };
      await tx.connect('forged', forged, TEST_WRITER);
      await assert.rejects(tx.write('forged', TEST_WRITER, [{ src: 0, dst: 0, count: 4 }], 10_000, TEST_ROOM), /RDMA WRITE failed with IBV_WC_REM_ACCESS_ERR/);
      await assert.rejects(tx.write('forged', TEST_WRITER, [{ src: 0, dst: 0, count: 1 }], 5_000, TEST_ROOM), /no KV link to peer forged/);
      // the other link to the same receiver is untouched, and a new connect builds a fresh link
      await tx.write('rx', TEST_WRITER, [{ src: 1, dst: 2, count: 1 }], 10_000, TEST_ROOM);
      await tx.connect('again', rx.endpoint, TEST_WRITER);
      await tx.write('again', TEST_WRITER, [{ src: 3, dst: 4, count: 1 }], 10_000, TEST_ROOM);
      const got = await rx.digests();
      const want = pageDigests(src);
      assert.deepEqual([got[2], got[4], got[0]], [want[1], want[3], zeroDigest(src.pageBytes)]);
    });
  });

  test('throughput of RDMA WRITEs through the transfer actor (64 MiB writes of 1 MiB pages)', async (t) => {
    await withLink(BIG, 64, 64, async (rx, tx, src) => {
      const pages = shuffled(64);
      await tx.write('rx', TEST_WRITER, coalescePages(pages, shuffled(64)), 30_000, TEST_ROOM); // warm-up: link and caches
      const rounds = 4;
      // this thread stands for the node's main thread: verbs runs in the actor's worker
      const delay = monitorEventLoopDelay({ resolution: 1 });
      delay.enable();
      const start = performance.now();
      for (let i = 0; i < rounds; i++) await tx.write('rx', TEST_WRITER, coalescePages(pages, pages), 30_000, TEST_ROOM);
      const s = (performance.now() - start) / 1000;
      delay.disable();
      t.diagnostic(`verbs write throughput: ${((rounds * 64) / s).toFixed(1)} MiB/s (${rounds} x 64 MiB in ${s.toFixed(2)} s)`);
      t.diagnostic(`main-thread event-loop delay during the writes: p99 ${(delay.percentile(99) / 1e6).toFixed(1)} ms, max ${(delay.max / 1e6).toFixed(1)} ms`);
      assert.deepEqual(await rx.digests(), pageDigests(src));
    });
  });

  test('a receiver killed mid-transfer fails the pending write at once, not at its timeout', async (t) => {
    await withLink(BIG, 64, 64, async (rx, tx) => {
      const runs = [{ src: 0, dst: 0, count: 64 }];
      let stop = false;
      let failure: Error | null = null;
      // back-to-back writes, so one is in flight whenever the receiver dies
      const writing = (async () => {
        while (!stop) await tx.write('rx', TEST_WRITER, runs, 60_000, TEST_ROOM);
      })().catch((err: Error) => (failure = err));
      await new Promise((resolve) => setTimeout(resolve, 500));
      const killedAt = performance.now();
      await rx.kill();
      await writing;
      stop = true;
      const ms = performance.now() - killedAt;
      t.diagnostic(`write rejected ${ms.toFixed(1)} ms after the receiver was killed: ${(failure as Error | null)?.message}`);
      assert.ok(failure, 'a write to a killed receiver must fail');
      assert.doesNotMatch((failure as Error).message, /timed out/);
      assert.match((failure as Error).message, /verbs KV link to 127\.0\.0\.1:\d+: (the receiver closed the exchange connection|exchange connection failed|.*RDMA WRITE failed with IBV_WC_\w+)/);
      await assert.rejects(tx.write('rx', TEST_WRITER, runs, 5_000, TEST_ROOM), /no KV link to peer rx/);
    });
  });
});
