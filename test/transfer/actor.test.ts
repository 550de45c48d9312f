/**
 * The transfer actor's client: a real worker on both ends (receiver and sender actors in this
 * process) and the ways a call could hang or lie: a worker that never answers, one that dies with
 * calls pending, one that answers with the wrong reply, a backend that cannot start, a closed client;
 * and a reply that waited while this thread was busy past the call's bound (not a timeout).
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TransferActorClient } from '../../actors/transfer/transfer-actor-client.js';
import { gqaLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { defaultTransferConfig } from '../../src/transfer/backends.js';
import type { TcpEndpoint } from '../../src/transfer/tcp/endpoint.js';
import { TEST_ROOM, TEST_WRITER } from './grant.js';
import { fillRandom, pageDigests } from './pages.js';

const LAYOUT = gqaLayout(2, 2, 4, 'float16', 5); // 320-byte pages
const STUB = new URL('./stub-transfer-worker.js', import.meta.url);
/** An endpoint the stub worker never dials. */
const NOWHERE: TcpEndpoint = { backend: 'tcp', host: '127.0.0.1', port: 1 };

test('actor: a receiver actor and a sender actor move pages; connect is reused, closePeer retires the link', async () => {
  const dst = new KvPool(LAYOUT, 8);
  const src = new KvPool(LAYOUT, 8);
  fillRandom(src);
  const rx = await TransferActorClient.start(defaultTransferConfig('tcp'), dst, 'error');
  const tx = await TransferActorClient.start(defaultTransferConfig('tcp'), src, 'error');
  try {
    const endpoint = await rx.listen('127.0.0.1');
    await assert.rejects(rx.listen('127.0.0.1'), /already listening/);
    await rx.grant(TEST_ROOM, TEST_WRITER, [1, 2]);
    await Promise.all([tx.connect('d', endpoint, TEST_WRITER), tx.connect('d', endpoint, TEST_WRITER)]);
    await tx.connect('d', endpoint, TEST_WRITER);
    const r = await tx.write('d', TEST_WRITER, [{ src: 6, dst: 1, count: 2 }], 5_000, TEST_ROOM);
    assert.equal(r.bytes, 2 * src.pageBytes);
    assert.equal(r.runs, 1);
    assert.ok(r.ms >= 0);
    // the receiver actor wrote into this thread's SharedArrayBuffer
    assert.deepEqual(pageDigests(dst).slice(1, 3), pageDigests(src).slice(6, 8));
    // A new writer token (decode declared this node lost) means a new link; a room granted to the old
    // token cannot write through it: decode may have reused that room's pages.
    const renewed = 'cd'.repeat(16);
    await rx.grant('424242', renewed, [3]);
    await tx.connect('d', endpoint, renewed);
    await assert.rejects(tx.write('d', TEST_WRITER, [{ src: 0, dst: 1, count: 1 }], 5_000, TEST_ROOM), /replaced the writer token of this room's pages/);
    await tx.write('d', renewed, [{ src: 7, dst: 3, count: 1 }], 5_000, '424242');
    assert.deepEqual(pageDigests(dst)[3], pageDigests(src)[7]);
    await tx.closePeer('d');
    await assert.rejects(tx.write('d', TEST_WRITER, [{ src: 0, dst: 0, count: 1 }], 5_000, TEST_ROOM), /no KV link to peer d: connect first/);
  } finally {
    await tx.close();
    await rx.close();
  }
  await assert.rejects(tx.write('d', TEST_WRITER, [], 1_000, TEST_ROOM), /the transfer actor was closed/);
});

test('actor: start fails clearly for verbs without an RDMA device, for a pool it cannot share, and for shm over a pool not in shared memory', async () => {
  const pool = new KvPool(LAYOUT, 2);
  await assert.rejects(TransferActorClient.start(defaultTransferConfig('verbs'), pool, 'error'), /The verbs transfer backend needs an RDMA device; --disaggregation-transfer-backend tcp or shm work without RDMA/);
  const plain = { buffer: new ArrayBuffer(640), pageBytes: 320, numPages: 2 };
  await assert.rejects(TransferActorClient.start(defaultTransferConfig('tcp'), plain, 'error'), /a plain ArrayBuffer cannot be shared/);
  await assert.rejects(TransferActorClient.start(defaultTransferConfig('shm'), pool, 'error').then((c) => c.listen('127.0.0.1').finally(() => c.close())), /needs the decode pool in shared memory/);
});

test('actor: a call the worker never answers times out; a wrong reply is an error, not a result', async () => {
  const client = await TransferActorClient.start(defaultTransferConfig('tcp'), new KvPool(LAYOUT, 2), 'error', { workerUrl: STUB, callMs: 200, graceMs: 100 });
  try {
    await assert.rejects(client.grant(TEST_ROOM, TEST_WRITER, [0]), /transfer actor grant timed out after 0.2 s/);
    await assert.rejects(client.closePeer('x'), /protocol error: shut_down answered a request expecting peer_closed/);
  } finally {
    await client.close();
  }
});

test('actor: a reply that arrived while this thread was busy past the call bound is a success, not a timeout', async () => {
  const pool = new KvPool(LAYOUT, 2);
  const replied = new Int32Array(pool.buffer, 0, 1); // the stub sets it once its connect reply is queued
  const client = await TransferActorClient.start(defaultTransferConfig('tcp'), pool, 'error', { workerUrl: STUB, connectMs: 50, callMs: 200, graceMs: 0 });
  try {
    const connected = client.connect('p', NOWHERE, TEST_WRITER);
    // Like a long forward step on the scheduler's thread (a setImmediate): busy until the reply is
    // queued and the call's bound has passed; timers run before queued messages after it.
    setImmediate(() => {
      Atomics.wait(replied, 0, 0, 10_000);
      const until = Date.now() + 100;
      while (Date.now() < until);
    });
    await connected;
  } finally {
    await client.close();
  }
});

test('actor: a worker that dies rejects every pending call at once and every later one', async () => {
  const client = await TransferActorClient.start(defaultTransferConfig('tcp'), new KvPool(LAYOUT, 2), 'error', { workerUrl: STUB });
  try {
    await client.connect('p', NOWHERE, TEST_WRITER);
    const hung = client.grant(TEST_ROOM, TEST_WRITER, [0]); // never answered by the stub
    // Several writes in flight, as the actor takes them in one turn: the stub exits on the first.
    const writes = [0, 1, 2].map((page) => client.write('p', TEST_WRITER, [{ src: page, dst: page, count: 1 }], 60_000, TEST_ROOM));
    for (const write of writes) await assert.rejects(write, /transfer actor exited with code 3/);
    await assert.rejects(hung, /transfer actor exited with code 3/);
    await assert.rejects(client.connect('p', NOWHERE, TEST_WRITER), /transfer actor exited with code 3/);
  } finally {
    await client.close();
  }
});
