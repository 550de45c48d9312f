/**
 * Parallel shm copy (src/transfer/shm/parallel-copy.ts): a large write split across copy workers
 * lands every byte, through the transfer actor, into a decode pool in another process; each worker
 * writes its own share through the sender's mapping of the pool (none maps it again); a dead copy worker, or a share that fails,
 * fails the write (KvLinkError, the link is dropped) instead of hanging it.
 */
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { test } from 'node:test';
import { TransferActorClient } from '../../actors/transfer/transfer-actor-client.js';
import { gqaLayout, pageBytes } from '../../src/kv/layout.js';
import { openShmRegion } from '../../native/shm-region.js';
import { KvPool } from '../../src/kv/pool.js';
import { coalescePages, type PageRun } from '../../src/transfer/kv-transfer.js';
import { KvLinkError } from '../../src/transfer/link-error.js';
import { areaOf, copyBytes, SEGMENT_FIELDS, splitRuns } from '../../src/transfer/shm/copy-segments.js';
import { createShmKvPool } from '../../src/transfer/shm/shm-kv-pool.js';
import { ShmKvManager } from '../../src/transfer/shm/shm-kv-manager.js';
import { MIN_PARALLEL_BYTES, ParallelCopy } from '../../src/transfer/shm/parallel-copy.js';
import { SHM_BACKEND } from '../../src/transfer/shm/descriptor.js';
import type { ShmEndpoint } from '../../src/transfer/shm/endpoint.js';
import { TEST_ROOM, TEST_WRITER } from './grant.js';
import { assertScatterLanded, fillRandom, SCATTER } from './pages.js';
import { Receiver } from './receiver.js';

/** 4 layers x 2 x 8 heads x 128 x 4 B x 16 tokens: 512 KiB pages, so SCATTER's 12 pages (6 MiB) are split. */
const LAYOUT = gqaLayout(4, 8, 128, 'float32', 16);
const RX_PAGES = 48;
const LONG_MS = 600_000;

test('splitRuns: equal 4 KiB-aligned shares, in run order, that cover every byte once, cutting inside runs', () => {
  const pageBytes = 12_288;
  const runs: PageRun[] = [{ src: 5, dst: 0, count: 3 }, { src: 0, dst: 9, count: 1 }, { src: 20, dst: 4, count: 6 }];
  const shares = splitRuns(runs, pageBytes, 3);
  assert.equal(shares.length, 3);
  const bytes = shares.map((s) => s.reduce((n, _, i) => (i % SEGMENT_FIELDS === 2 ? n + s[i] : n), 0));
  assert.deepEqual(bytes, [40_960, 40_960, 40_960], '10 pages of 12 KiB in three 40 KiB shares');
  // Concatenated, the segments walk the runs byte by byte.
  const flat = shares.flat();
  const walked: number[] = [];
  for (let i = 0; i < flat.length; i += SEGMENT_FIELDS) walked.push(flat[i], flat[i + 1], flat[i + 2]);
  let at = 0;
  for (const r of runs) {
    let src = r.src * pageBytes;
    let dst = r.dst * pageBytes;
    let left = r.count * pageBytes;
    while (left > 0) {
      assert.equal(walked[at], src, `segment ${at / 3} source`);
      assert.equal(walked[at + 1], dst, `segment ${at / 3} destination`);
      const n = walked[at + 2];
      src += n;
      dst += n;
      left -= n;
      at += 3;
    }
    assert.equal(left, 0, 'no segment crosses a run');
  }
  assert.equal(at, walked.length);
  assert.deepEqual(splitRuns([{ src: 0, dst: 0, count: 1 }], 4096, 4), [[0, 0, 4096]], 'fewer bytes than shares: one share');
});

test('copyBytes: memcpy by address between two buffers, at offsets; a range that leaves either one throws and copies nothing', () => {
  const src = Buffer.from(new SharedArrayBuffer(64 * 1024));
  for (let i = 0; i < src.length; i++) src[i] = (i * 7 + 3) & 0xff;
  const dst = Buffer.from(new SharedArrayBuffer(32 * 1024));
  const [from, to] = [areaOf(src.buffer), areaOf(dst.buffer)];
  copyBytes(to, 1000, from, 40_000, 20_000);
  assert.ok(dst.subarray(1000, 21_000).equals(src.subarray(40_000, 60_000)), 'the bytes landed where asked');
  assert.equal(dst.subarray(0, 1000).every((b) => b === 0) && dst.subarray(21_000).every((b) => b === 0), true, 'nothing else was written');
  const before = Buffer.from(dst);
  for (const [dstAt, srcAt, bytes] of [[32 * 1024 - 100, 0, 101], [0, 64 * 1024 - 10, 11], [-1, 0, 10], [0, -4096, 4096], [0, 0, -1], [0, 0, Number.NaN]]) {
    assert.throws(() => copyBytes(to, dstAt, from, srcAt, bytes), /^RangeError: copy of .* leaves its memory/, `dst ${dstAt}, src ${srcAt}, ${bytes} B`);
  }
  assert.ok(dst.equals(before), 'a refused copy wrote nothing');
});

test('--shm-copy-threads: 1-16 threads; anything else is refused naming the flag', () => {
  const [flag] = SHM_BACKEND.flags;
  assert.equal(flag.name, 'shm-copy-threads');
  assert.deepEqual(flag.apply(SHM_BACKEND.defaults, '3', '--shm-copy-threads'), { copyThreads: 3 });
  for (const bad of ['0', '17', '2.5', 'two', '']) assert.throws(() => flag.apply(SHM_BACKEND.defaults, bad, '--shm-copy-threads'), /^Error: --shm-copy-threads must be an integer from 1 to 16/, bad);
  assert.equal(SHM_BACKEND.defaults.copyThreads, 1, 'off by default: no host measured so far gains from it');
});

test('shm, 3 copy threads: a write split across them lands every byte in scattered pages of another process, untouched pages stay zero', async () => {
  assert.ok(SCATTER.src.length * pageBytes(LAYOUT) >= MIN_PARALLEL_BYTES, 'the write is large enough to be split');
  const rx = await Receiver.start('shm', LAYOUT, RX_PAGES);
  let tx: TransferActorClient | undefined;
  try {
    const src = new KvPool(LAYOUT, 24);
    fillRandom(src);
    tx = await TransferActorClient.start({ backend: 'shm', settings: { copyThreads: 3 } }, src, 'error');
    await tx.connect('rx', rx.endpoint, TEST_WRITER);
    const runs = coalescePages(SCATTER.src, SCATTER.dst);
    const r = await tx.write('rx', TEST_WRITER, runs, LONG_MS, TEST_ROOM);
    assert.equal(r.bytes, SCATTER.src.length * src.pageBytes);
    assertScatterLanded(await rx.digests(), src, RX_PAGES);
  } finally {
    await tx?.close();
    await rx.stop();
  }
});

/** A decode pool of this process, the sender's mapping of it, and copy workers writing through that; always cleaned up. */
async function withCopier(threads: number, body: (copier: ParallelCopy, dst: KvPool, src: KvPool) => Promise<void>): Promise<void> {
  const { pool: dst, region } = createShmKvPool(LAYOUT, RX_PAGES);
  const receiver = await new ShmKvManager(() => {}).listen(dst);
  const peer = receiver.endpoint as ShmEndpoint;
  const mappings = (): number => readFileSync('/proc/self/maps', 'utf8').split('\n').filter((l) => l.endsWith(`/dev/shm${peer.name}`)).length;
  const sender = openShmRegion(peer.name, peer.bytes);
  const own = mappings();
  let copier: ParallelCopy | null = null;
  try {
    const src = new KvPool(LAYOUT, 24);
    fillRandom(src);
    copier = await ParallelCopy.start({ name: peer.name, address: sender.address, bytes: sender.bytes }, src.buffer, threads);
    assert.ok(copier, 'copy workers started');
    assert.equal(copier.workers.length, threads - 1);
    assert.equal(mappings(), own, 'the workers map nothing of their own');
    await body(copier, dst, src);
  } finally {
    await copier?.close();
    // However the workers ended (stopped, terminated, crashed), none is left to write through the mapping.
    assert.ok(copier === null || copier.workers.every((w) => w.worker.threadId === -1), 'every worker exited before the mapping is released');
    sender.close();
    await receiver.close();
    region.unlink();
    region.close();
  }
}

const pageOf = (pool: KvPool, p: number): Buffer => Buffer.from(pool.buffer, p * pool.pageBytes, pool.pageBytes);

test('parallel copy: each worker writes its share through the sender\'s mapping of the pool; the calling thread copies the last share', async () => {
  await withCopier(3, async (copier, dst, src) => {
    // The calling thread's share goes to a decoy buffer: what reaches the pool was written by the workers.
    const decoy = new SharedArrayBuffer(dst.buffer.byteLength);
    await copier.copy(areaOf(decoy), [{ src: 0, dst: 0, count: 12 }], src.pageBytes, LONG_MS);
    for (let p = 0; p < 12; p++) {
      const byWorker = p < 8;
      assert.ok(pageOf(dst, p).equals(pageOf(src, p)) === byWorker, `page ${p} in the pool: ${byWorker ? 'a worker copied it' : 'not there, the caller copied it elsewhere'}`);
      assert.ok(Buffer.from(decoy, p * src.pageBytes, src.pageBytes).equals(pageOf(src, p)) === !byWorker, `page ${p} in the decoy buffer`);
    }
  });
});

test('parallel copy: a killed copy worker fails the write (KvLinkError naming its exit) instead of hanging it, and every later write', async () => {
  await withCopier(3, async (copier, dst, src) => {
    void copier.workers[0].worker.terminate();
    await assert.rejects(copier.copy(areaOf(dst.buffer), [{ src: 0, dst: 0, count: 12 }], src.pageBytes, LONG_MS), (err: unknown) => err instanceof KvLinkError && /shm copy worker 1 .* exited with code/.test((err as Error).message));
    await assert.rejects(copier.copy(areaOf(dst.buffer), [{ src: 0, dst: 0, count: 12 }], src.pageBytes, LONG_MS), (err: unknown) => err instanceof KvLinkError && /shm copy workers unusable: shm copy worker 1 .* exited/.test((err as Error).message));
  });
});

test('parallel copy: a share that fails in a worker fails the write and the link', async () => {
  await withCopier(2, async (copier, dst, src) => {
    // The first share (a worker's) points past the pool; the second (this thread's) is fine.
    const runs: PageRun[] = [{ src: 0, dst: RX_PAGES + 100, count: 4 }, { src: 4, dst: 4, count: 4 }];
    await assert.rejects(copier.copy(areaOf(dst.buffer), runs, src.pageBytes, LONG_MS), (err: unknown) => err instanceof KvLinkError && /shm copy failed/.test((err as Error).message));
    assert.ok(pageOf(dst, 4).equals(pageOf(src, 4)), 'the share that could be copied was (it is why the write waits for every share before failing)');
    await assert.rejects(copier.copy(areaOf(dst.buffer), [{ src: 4, dst: 4, count: 8 }], src.pageBytes, LONG_MS), /shm copy workers unusable: shm copy failed/);
  });
});
