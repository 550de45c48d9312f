/**
 * The tcp backend between two processes: the receiver is a child process (receiver-process.ts), the
 * sender the transfer actor on a worker thread of this process. Pages land intact at scattered
 * destinations, writes in flight on one connection land in order, bad runs and bad frames are refused
 * with nothing written while the receiver keeps serving, and a receiver killed mid-write fails the
 * pending write at once instead of at its timeout.
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { randomBytes } from 'node:crypto';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { TransferActorClient } from '../../actors/transfer/transfer-actor-client.js';
import { gqaLayout, type KvLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { withTimeout } from '../../src/node/timeout.js';
import { coalescePages, type KvEndpoint } from '../../src/transfer/kv-transfer.js';
import { TcpKvManager } from '../../src/transfer/tcp/tcp-kv-manager.js';
import { decodeHead, encodeWithToken, encodeWrite, HEAD_BYTES, Kind, TOKEN_BYTES } from '../../src/transfer/tcp/wire.js';
import { assertScatterLanded, fillRandom, pageDigests, SCATTER, zeroDigest } from './pages.js';
import { Receiver } from './receiver.js';

/** 840-byte pages: not a power of two, so chunk and run boundaries fall anywhere. */
const LAYOUT = gqaLayout(3, 1, 5, 'float32', 7);
const RX_PAGES = 48;

async function withLink(
  layout: KvLayout,
  rxPages: number,
  txPages: number,
  body: (rx: Receiver, tx: TransferActorClient, src: KvPool) => Promise<void>,
): Promise<void> {
  const rx = await Receiver.start('tcp', layout, rxPages);
  let tx: TransferActorClient | undefined;
  try {
    const src = new KvPool(layout, txPages);
    fillRandom(src);
    tx = await TransferActorClient.start('tcp', src, 'error');
    await tx.connect('rx', rx.endpoint);
    await body(rx, tx, src);
  } finally {
    await tx?.close();
    await rx.stop();
  }
}

/** A raw connection to a receiver; `closed` resolves with every byte it sent back once it closes. */
function rawConnection(endpoint: KvEndpoint): { socket: Socket; closed: Promise<Buffer> } {
  if (endpoint.backend !== 'tcp') throw new Error('not a tcp endpoint');
  return collectUntilClosed(connect(endpoint.port, endpoint.host));
}

function collectUntilClosed(socket: Socket): { socket: Socket; closed: Promise<Buffer> } {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.on('error', () => {});
  const closed = withTimeout(once(socket, 'close'), 10_000, 'receiver closing a refused connection').then(() => Buffer.concat(chunks));
  return { socket, closed };
}

/**
 * A sender that skips its own checks: says HELLO on a raw control connection and returns the data
 * connection the receiver dials back (its WELCOME already read); `closed` as for rawConnection.
 */
async function rawLink(endpoint: KvEndpoint, pageBytes: number): Promise<{ socket: Socket; closed: Promise<Buffer> }> {
  if (endpoint.backend !== 'tcp') throw new Error('not a tcp endpoint');
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const token = randomBytes(TOKEN_BYTES);
  const control = connect(endpoint.port, endpoint.host);
  control.on('error', () => {});
  control.write(encodeWithToken(Kind.Hello, pageBytes, (listener.address() as AddressInfo).port, token));
  try {
    const [data] = (await withTimeout(once(listener, 'connection'), 10_000, 'receiver dialing back')) as [Socket];
    const [welcome] = (await withTimeout(once(data, 'data'), 10_000, 'WELCOME')) as [Buffer];
    assert.equal(decodeHead(welcome).kind, Kind.Welcome);
    assert.deepEqual(welcome.subarray(HEAD_BYTES, HEAD_BYTES + TOKEN_BYTES), token);
    return collectUntilClosed(data);
  } finally {
    listener.close();
    control.end();
  }
}

/** The REFUSED message in what a receiver sent (after an optional WELCOME). */
function refusal(bytes: Buffer): string {
  for (let at = 0; at + HEAD_BYTES <= bytes.length; at += HEAD_BYTES) {
    if (bytes.readUInt16LE(at + 6) === Kind.Refused) return bytes.toString('utf8', at + HEAD_BYTES, at + HEAD_BYTES + bytes.readUInt32LE(at + 8));
  }
  throw new Error(`no REFUSED frame in ${bytes.length} bytes`);
}

test('tcp: pages reach scattered destinations intact across processes; untouched pages stay zero', async () => {
  await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
    const runs = coalescePages(SCATTER.src, SCATTER.dst);
    // three writes in flight at once on the one connection
    const results = await Promise.all([runs.slice(0, 2), runs.slice(2, 5), runs.slice(5)].map((w) => tx.write('rx', w, 10_000)));
    assert.equal(results.reduce((n, r) => n + r.bytes, 0), SCATTER.src.length * src.pageBytes);
    assert.equal(results.reduce((n, r) => n + r.runs, 0), runs.length);
    assertScatterLanded(await rx.digests(), src, RX_PAGES);
  });
});

test('tcp: runs read partly through staging, partly straight into the pool, land intact (one write and pipelined writes)', async () => {
  // 308,400-byte pages, larger than the receiver's staging buffer: a run's first bytes come with its
  // write's head through staging, the rest straight into the pool, a short tail through staging again
  const layout = gqaLayout(5, 2, 257, 'float32', 15);
  await withLink(layout, RX_PAGES, 24, async (rx, tx, src) => {
    const runs = coalescePages(SCATTER.src, SCATTER.dst);
    await tx.write('rx', runs, 10_000); // one write, every run
    assertScatterLanded(await rx.digests(), src, RX_PAGES);
    fillRandom(src); // new bytes: the second round must land them, not find the first round's
    await Promise.all(runs.map((r) => tx.write('rx', [r], 10_000))); // a write per run, all in flight
    assertScatterLanded(await rx.digests(), src, RX_PAGES);
  });
});

test('tcp: writes in flight on one connection land and settle in order', async () => {
  await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
    const settled: number[] = [];
    // every write overwrites destination page 0 (and 1..2); the last one issued must win
    await Promise.all(Array.from({ length: 12 }, (_, i) => tx.write('rx', [{ src: i, dst: 0, count: 3 }], 10_000).then(() => settled.push(i))));
    assert.deepEqual(settled, [...settled].sort((a, b) => a - b));
    const want = pageDigests(src);
    const got = await rx.digests();
    assert.deepEqual(got.slice(0, 3), want.slice(11, 14));
  });
});

test('tcp: bad runs are refused with nothing written, by the sender and by the receiver', async () => {
  await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
    await assert.rejects(tx.write('rx', [{ src: 0, dst: RX_PAGES - 1, count: 2 }], 10_000), /peer pages \[47, 49\) exceed the pool of 48 pages/);
    await assert.rejects(tx.write('rx', [{ src: 23, dst: 0, count: 2 }], 10_000), /local pages \[23, 25\) exceed the pool of 24 pages/);

    // a sender that skips its own checks: the receiver refuses before taking a byte
    const raw = await rawLink(rx.endpoint, src.pageBytes);
    raw.socket.write(encodeWrite(7, [{ src: 0, dst: 3, count: 1 }, { src: 0, dst: RX_PAGES - 1, count: 2 }]));
    raw.socket.write(Buffer.alloc(3 * src.pageBytes, 0xff));
    assert.match(refusal(await raw.closed), /write 7, run 1: pages \[47, 49\) exceed the pool of 48 pages/);

    // the actor's link survived its refused writes
    await tx.write('rx', [{ src: 5, dst: 9, count: 1 }], 10_000);
    const got = await rx.digests();
    const zero = zeroDigest(src.pageBytes);
    got.forEach((d, p) => assert.equal(d, p === 9 ? pageDigests(src)[5] : zero, `page ${p}`));
  });
});

test('tcp: a garbage frame or a mismatched page size closes that connection; the receiver keeps serving', async () => {
  await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
    const garbage = rawConnection(rx.endpoint);
    garbage.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: pd-node\r\n\r\n'));
    assert.match(refusal(await garbage.closed), /not a pd-node KV frame/);

    const other = new TcpKvManager();
    const wrongPages = { buffer: new SharedArrayBuffer(4 * 512), pageBytes: 512, numPages: 4 };
    await assert.rejects(other.connect(rx.endpoint, wrongPages), /refused: page size mismatch: the sender's pages are 512 B, this pool's are 840 B/);

    const r = await tx.write('rx', [{ src: 1, dst: 2, count: 2 }], 10_000);
    assert.equal(r.bytes, 2 * src.pageBytes);
    assert.deepEqual((await rx.digests()).slice(2, 4), pageDigests(src).slice(1, 3));
  });
});

test('tcp: a receiver killed mid-write fails the pending write at once, not at its timeout', async (t) => {
  const big = gqaLayout(16, 8, 128, 'float16', 16); // 1 MiB pages
  await withLink(big, 32, 32, async (rx, tx) => {
    rx.child.kill('SIGSTOP'); // the receiver stops reading: the write stays in flight
    const write = tx.write('rx', [{ src: 0, dst: 0, count: 32 }], 30_000);
    const outcome = write.then(
      () => null,
      (err: Error) => err,
    );
    await new Promise((resolve) => setTimeout(resolve, 300));
    const killedAt = performance.now();
    await rx.kill();
    const err = await outcome;
    t.diagnostic(`write rejected ${(performance.now() - killedAt).toFixed(1)} ms after the receiver was killed`);
    assert.ok(err, 'the write to a killed receiver must fail');
    assert.doesNotMatch(err.message, /timed out/);
    assert.match(err.message, /tcp KV link to 127\.0\.0\.1:\d+: (link failed|the receiver closed)/);
    // the link is retired: the next write says so instead of hanging
    await assert.rejects(tx.write('rx', [{ src: 0, dst: 0, count: 1 }], 5_000), /no KV link to peer rx/);
  });
});
