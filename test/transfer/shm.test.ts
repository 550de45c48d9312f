/**
 * The shm backend between two processes: the receiver (decode pool in shared memory) is a child
 * process, the sender the transfer actor on a worker thread of this process, copying into its own
 * mapping of the child's pool. Also the libc layer's errors, the same-host check, a dead owner
 * failing writes (once the owner-check interval passed), and stale segments being swept.
 */
import assert from 'node:assert/strict';
import { existsSync, statSync, truncateSync } from 'node:fs';
import { test } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { TransferActorClient } from '../../actors/transfer/transfer-actor-client.js';
import { defaultTransferConfig } from '../../src/transfer/backends.js';
import { LibcError } from '../../native/libc.js';
import { newShmName, sweepStaleShmRegions } from '../../native/shm-names.js';
import { createShmRegion, openShmRegion, shmOwnerAlive } from '../../native/shm-region.js';
import { gqaLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { coalescePages } from '../../src/transfer/kv-transfer.js';
import { ShmKvManager } from '../../src/transfer/shm/shm-kv-manager.js';
import { OWNER_CHECK_MS } from '../../src/transfer/shm/shm-sender.js';
import { assertScatterLanded, fillRandom, pageDigests, SCATTER, zeroDigest } from './pages.js';
import { TEST_ROOM, TEST_WRITER } from './grant.js';
import { Receiver } from './receiver.js';

const LAYOUT = gqaLayout(3, 1, 5, 'float32', 7); // 840-byte pages
const RX_PAGES = 48;

async function withLink(body: (rx: Receiver, tx: TransferActorClient, src: KvPool) => Promise<void>): Promise<void> {
  const rx = await Receiver.start('shm', LAYOUT, RX_PAGES);
  let tx: TransferActorClient | undefined;
  try {
    const src = new KvPool(LAYOUT, 24);
    fillRandom(src);
    tx = await TransferActorClient.start(defaultTransferConfig('shm'), src, 'error');
    await tx.connect('rx', rx.endpoint, TEST_WRITER);
    await body(rx, tx, src);
  } finally {
    await tx?.close();
    await rx.stop();
  }
}

test('shm: pages reach scattered destinations intact across processes; untouched pages stay zero', async () => {
  await withLink(async (rx, tx, src) => {
    const runs = coalescePages(SCATTER.src, SCATTER.dst);
    const results = await Promise.all([runs.slice(0, 3), runs.slice(3)].map((w) => tx.write('rx', TEST_WRITER, w, 10_000, TEST_ROOM)));
    assert.equal(results.reduce((n, r) => n + r.bytes, 0), SCATTER.src.length * src.pageBytes);
    assertScatterLanded(await rx.digests(), src, RX_PAGES);
  });
});

test('shm: writes issued together each get their own reply; a bad one among them fails only itself', async () => {
  await withLink(async (rx, tx, src) => {
    // Issued in one turn, so the actor handles them in one turn and answers them in one message.
    // Write i copies i + 1 pages: the bytes each call resolves with say whose reply it got.
    const good = [0, 1, 2, 3].map((i) => ({ src: 2 * i, dst: 10 * i, count: i + 1 }));
    const calls = good.map((run) => tx.write('rx', TEST_WRITER, [run], 10_000, TEST_ROOM));
    const bad = tx.write('rx', TEST_WRITER, [{ src: 23, dst: 0, count: 2 }], 10_000, TEST_ROOM);
    calls.splice(2, 0, bad);
    const settled = await Promise.allSettled(calls);
    assert.equal(settled[2].status, 'rejected');
    assert.match(String((settled[2] as PromiseRejectedResult).reason), /local pages \[23, 25\) exceed the pool of 24 pages/);
    const bytes = settled.filter((s) => s !== settled[2]).map((s) => (s as PromiseFulfilledResult<{ bytes: number }>).value.bytes);
    assert.deepEqual(bytes, good.map((run) => run.count * src.pageBytes));
    const landed = await rx.digests();
    const sent = pageDigests(src);
    for (const run of good) for (let k = 0; k < run.count; k++) assert.equal(landed[run.dst + k], sent[run.src + k]);
    await tx.write('rx', TEST_WRITER, [{ src: 5, dst: 47, count: 1 }], 10_000, TEST_ROOM); // the link survived the bad write
    assert.equal((await rx.digests())[47], sent[5]);
  });
});

test('shm: bad runs are refused with nothing written', async () => {
  await withLink(async (rx, tx, src) => {
    // the first run is fine, the second is not: neither may be copied
    const bad = [{ src: 0, dst: 0, count: 1 }, { src: 1, dst: RX_PAGES - 1, count: 2 }];
    await assert.rejects(tx.write('rx', TEST_WRITER, bad, 10_000, TEST_ROOM), /bad run 1 .*peer pages \[47, 49\) exceed the pool of 48 pages/);
    await assert.rejects(tx.write('rx', TEST_WRITER, [{ src: 20, dst: 0, count: 5 }], 10_000, TEST_ROOM), /local pages \[20, 25\) exceed the pool of 24 pages/);
    const zero = zeroDigest(src.pageBytes);
    assert.ok((await rx.digests()).every((d) => d === zero), 'a refused write changed the pool');
    await tx.write('rx', TEST_WRITER, [{ src: 3, dst: 0, count: 1 }], 10_000, TEST_ROOM); // the link survived
    assert.equal((await rx.digests())[0], pageDigests(src)[3]);
  });
});

test('shm: a peer on another host is refused before anything is mapped', async () => {
  const rx = await Receiver.start('shm', LAYOUT, RX_PAGES);
  try {
    assert.equal(rx.endpoint.backend, 'shm');
    const elsewhere = { ...rx.endpoint, hostId: 'boot-00000000-0000-0000-0000-000000000000' };
    const pool = new KvPool(LAYOUT, 4);
    const manager = new ShmKvManager(() => {});
    await assert.rejects(manager.connect(elsewhere, pool, '0'.repeat(32)), /runs on another host .*use --disaggregation-transfer-backend tcp/);
    await assert.rejects(manager.listen(pool), /needs the decode pool in shared memory/);
  } finally {
    await rx.stop();
  }
});

test('shm: a killed receiver fails the first write after the owner-check interval, and its segment is swept', async () => {
  await withLink(async (rx, tx) => {
    await tx.write('rx', TEST_WRITER, [{ src: 0, dst: 0, count: 4 }], 10_000, TEST_ROOM);
    assert.equal(rx.endpoint.backend, 'shm');
    const name = rx.endpoint.name;
    assert.equal(shmOwnerAlive(name), true);
    await rx.kill();
    assert.equal(shmOwnerAlive(name), false);
    // The sender asks the owner once per interval, so the next write past it asks again (a margin: a
    // timer may fire up to a millisecond before performance.now() says the interval passed).
    await sleep(OWNER_CHECK_MS + 10);
    await assert.rejects(tx.write('rx', TEST_WRITER, [{ src: 0, dst: 4, count: 4 }], 30_000, TEST_ROOM), /shm KV link to \/pd-node-\d+-\w+: the decode process that owns the pool is gone/);
    assert.ok(existsSync(`/dev/shm${name}`), 'SIGKILL leaves the segment behind');
    assert.ok(sweepStaleShmRegions().includes(name));
    assert.equal(existsSync(`/dev/shm${name}`), false);
  });
});

test('shm regions: libc errors carry the errno name, sizes are checked, owners are tracked', () => {
  const name = newShmName();
  const region = createShmRegion(name, 3 * 4096 + 5);
  try {
    new Uint8Array(region.buffer)[region.bytes - 1] = 42;
    assert.throws(() => createShmRegion(name, 4096), (err: unknown) => err instanceof LibcError && err.code === 'EEXIST' && /shm_open\(.*\) failed: EEXIST \(File exists\)/.test(err.message));
    assert.throws(() => openShmRegion(name, 4096), /refusing shm object \/pd-node-\d+-\w+: holds 16389 B, its owner announced 8192 B \(4096 B header \+ 4096 B\)/);
    assert.throws(() => openShmRegion('/pd-node-0-000000000000', 4096), (err: unknown) => err instanceof LibcError && err.code === 'ENOENT');
    assert.throws(() => openShmRegion('/../etc/passwd', 4096), /bad shm object name/);
    const peer = openShmRegion(name, region.bytes);
    assert.equal(new Uint8Array(peer.buffer)[region.bytes - 1], 42, 'both mappings see the same memory');
    assert.equal(peer.ownerAlive(), true);
    assert.equal(statSync(`/dev/shm${name}`).mode & 0o7777, 0o600, 'private to the user');
    assert.equal(peer.intact(), true);
    new Uint8Array(peer.header).fill(7);
    assert.equal(new Uint8Array(region.buffer)[0], 0, 'the header page is not the body');
    truncateSync(`/dev/shm${name}`, region.bytes); // neither mapping is touched after this
    assert.equal(peer.intact(), false, 'a shrunken object is seen');
    region.close();
    assert.equal(peer.ownerAlive(), false, 'closing the region releases the owner lock');
    peer.close();
  } finally {
    region.close();
    region.unlink();
  }
  assert.equal(existsSync(`/dev/shm${name}`), false);
});
