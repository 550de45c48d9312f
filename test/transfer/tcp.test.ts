/**
 * The tcp backend between two processes: the receiver is a child process (receiver-process.ts), the
 * sender the transfer actor on a worker thread of this process. Pages land intact at scattered
 * destinations, writes in flight on one connection land in order, bad runs and bad frames are refused
 * with nothing written while the receiver keeps serving, and a receiver killed mid-write fails the
 * pending write at once instead of at its timeout. Trust: a sender without the cluster secret lands
 * nothing; a write outside its room's grant, after the room's release, or the rest of a write under
 * way when its room is released lands nothing and fails alone (NACK) while the link and the other
 * rooms on it carry on (a release whose write's sender went silent mid-write cuts that connection
 * within a bound instead); a bad frame refuses the connection; unproven connections are timed out and
 * capped. The sender's data socket gets the send buffer it asked for (as the kernel reports it).
 */
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes, randomFillSync } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { connect, createServer, type AddressInfo, type Socket } from 'node:net';
import { test } from 'node:test';
import { TransferActorClient } from '../../actors/transfer/transfer-actor-client.js';
import { defaultTransferConfig } from '../../src/transfer/backends.js';
import type { TcpEndpoint } from '../../src/transfer/tcp/endpoint.js';
import { gqaLayout, type KvLayout } from '../../src/kv/layout.js';
import { KvPool } from '../../src/kv/pool.js';
import { withTimeout } from '../../src/util/timeout.js';
import { deriveKey, loadClusterSecret } from '../../src/security/cluster-secret.js';
import { coalescePages, type KvEndpoint, type KvSender } from '../../src/transfer/kv-transfer.js';
import { helloProof } from '../../src/transfer/tcp/link-proof.js';
import { DEFAULT_SEND_BUFFER_BYTES } from '../../src/transfer/tcp/send-buffer.js';
import { TcpKvManager, type TcpKvOptions } from '../../src/transfer/tcp/tcp-kv-manager.js';
import type { TcpKvSender } from '../../src/transfer/tcp/tcp-sender.js';
import { CHALLENGE_BYTES, decodeHead, encodeHead, encodeWithBody, encodeWrite, HEAD_BYTES, Kind, TOKEN_BYTES, WELCOME_BODY_BYTES, writerBytes } from '../../src/transfer/tcp/wire.js';
import { allPages, TEST_ROOM, TEST_WRITER } from './grant.js';
import { assertScatterLanded, fillRandom, pageDigests, SCATTER, zeroDigest } from './pages.js';
import { Receiver } from './receiver.js';

/** 840-byte pages: not a power of two, so chunk and run boundaries fall anywhere. */
const LAYOUT = gqaLayout(3, 1, 5, 'float32', 7);
const RX_PAGES = 48;
/** The key every process of this host's test cluster derives (the default secret). */
const LINK_KEY = deriveKey(loadClusterSecret(null).key, 'tcp-kv');

/** A receiver process whose whole pool is granted to TEST_ROOM for TEST_WRITER, and a sender actor linked to it. */
async function withLink(
  layout: KvLayout,
  rxPages: number,
  txPages: number,
  body: (rx: Receiver, tx: TransferActorClient, src: KvPool) => Promise<void>,
): Promise<void> {
  const rx = await Receiver.start('tcp', layout, rxPages);
  let tx: TransferActorClient | undefined;
  try {
    await rx.grant(TEST_ROOM, TEST_WRITER, allPages(rxPages));
    const src = new KvPool(layout, txPages);
    fillRandom(src);
    tx = await TransferActorClient.start(defaultTransferConfig('tcp'), src, 'error');
    await tx.connect('rx', rx.endpoint, TEST_WRITER);
    await body(rx, tx, src);
  } finally {
    await tx?.close();
    await rx.stop();
  }
}

/**
 * A raw connection: `received` is every byte the receiver sent so far, `closed` resolves with all of
 * them once it closes.
 */
interface RawConnection {
  socket: Socket;
  received: () => Buffer;
  closed: Promise<Buffer>;
}

/** A tcp receiver's address. */
function tcpAddress(endpoint: KvEndpoint): TcpEndpoint {
  if (endpoint.backend !== 'tcp') throw new Error('not a tcp endpoint');
  return endpoint as TcpEndpoint;
}

/** A raw connection to a receiver. */
function rawConnection(endpoint: KvEndpoint): RawConnection {
  const { host, port } = tcpAddress(endpoint);
  return collectUntilClosed(connect(port, host));
}

function collectUntilClosed(socket: Socket): RawConnection {
  const chunks: Buffer[] = [];
  socket.on('data', (c: Buffer) => chunks.push(c));
  socket.resume(); // readBytes may have paused it
  socket.on('error', () => {});
  const received = (): Buffer => Buffer.concat(chunks);
  const closed = withTimeout(once(socket, 'close'), 10_000, 'receiver closing a refused connection').then(received);
  return { socket, received, closed };
}

/** A frame a receiver sent on a data connection: kind, a, and the text of a NACK or REFUSED. */
interface DataFrame {
  kind: Kind;
  a: number;
  text: string;
}

function dataFrames(bytes: Buffer): DataFrame[] {
  const out: DataFrame[] = [];
  for (let at = 0; at + HEAD_BYTES <= bytes.length; ) {
    const { kind, a, b } = decodeHead(bytes.subarray(at));
    const textBytes = kind === Kind.Nack ? b : kind === Kind.Refused ? a : 0;
    if (at + HEAD_BYTES + textBytes > bytes.length) break;
    out.push({ kind, a, text: bytes.toString('utf8', at + HEAD_BYTES, at + HEAD_BYTES + textBytes) });
    at += HEAD_BYTES + textBytes;
  }
  return out;
}

/** The data frames `raw` received once there are `n` of them (fails after 10 s). */
async function framesOf(raw: RawConnection, n: number): Promise<DataFrame[]> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const frames = dataFrames(raw.received());
    if (frames.length >= n) return frames;
    if (Date.now() > deadline) throw new Error(`${frames.length} frames after 10 s, expected ${n}: ${JSON.stringify(frames)}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

/**
 * A sender that skips its own checks: reads the receiver's challenge on a raw control connection,
 * says HELLO proved with `key` as `writer`, and returns the data connection the receiver dials back
 * (its WELCOME already read); `closed` as for rawConnection.
 */
async function rawLink(endpoint: KvEndpoint, pageBytes: number, writer = TEST_WRITER, key = LINK_KEY): Promise<RawConnection> {
  const { host, port: peerPort } = tcpAddress(endpoint);
  const listener = createServer();
  await new Promise<void>((resolve) => listener.listen(0, '127.0.0.1', resolve));
  const port = (listener.address() as AddressInfo).port;
  const token = randomBytes(TOKEN_BYTES);
  const control = connect(peerPort, host);
  control.on('error', () => {});
  try {
    const challenge = await readBytes(control, HEAD_BYTES + CHALLENGE_BYTES, 'CHALLENGE');
    assert.equal(decodeHead(challenge).kind, Kind.Challenge);
    const w = writerBytes(writer);
    const proof = helloProof(key, challenge.subarray(HEAD_BYTES), pageBytes, port, token, w);
    control.write(encodeWithBody(Kind.Hello, pageBytes, port, [token, w, proof]));
    const [data] = (await withTimeout(once(listener, 'connection'), 10_000, 'receiver dialing back')) as [Socket];
    const welcome = await readBytes(data, HEAD_BYTES + WELCOME_BODY_BYTES, 'WELCOME');
    assert.equal(decodeHead(welcome).kind, Kind.Welcome);
    assert.deepEqual(welcome.subarray(HEAD_BYTES, HEAD_BYTES + TOKEN_BYTES), token);
    return collectUntilClosed(data);
  } finally {
    listener.close();
    control.end();
  }
}

/** Exactly `n` bytes from `socket` (paused afterwards; nothing beyond them is consumed). */
async function readBytes(socket: Socket, n: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let have = 0;
  const done = new Promise<Buffer>((resolve) => {
    const onData = (c: Buffer): void => {
      chunks.push(c);
      have += c.length;
      if (have < n) return;
      socket.off('data', onData);
      socket.pause();
      const all = Buffer.concat(chunks);
      if (all.length > n) socket.unshift(all.subarray(n));
      resolve(all.subarray(0, n));
    };
    socket.on('data', onData);
  });
  return withTimeout(done, 10_000, what);
}

/** The REFUSED message in what a receiver sent (after a CHALLENGE or a WELCOME, say). */
function refusal(bytes: Buffer): string {
  for (let at = 0; at + HEAD_BYTES <= bytes.length; ) {
    const kind = bytes.readUInt16LE(at + 6);
    if (kind === Kind.Refused) return bytes.toString('utf8', at + HEAD_BYTES, at + HEAD_BYTES + bytes.readUInt32LE(at + 8));
    at += HEAD_BYTES + (kind === Kind.Challenge ? CHALLENGE_BYTES : kind === Kind.Welcome ? WELCOME_BODY_BYTES : 0);
  }
  throw new Error(`no REFUSED frame in ${bytes.length} bytes`);
}

/** A tcp manager of this process (a receiver in-process, or a sender with its own key). */
function manager(options: Partial<TcpKvOptions> = {}): TcpKvManager {
  return new TcpKvManager({ connectTimeoutMs: 5_000, onRefuse: () => {}, linkKey: LINK_KEY, sendBufferBytes: DEFAULT_SEND_BUFFER_BYTES, warn: () => {}, ...options });
}

test('tcp: pages reach scattered destinations intact across processes; untouched pages stay zero', async () => {
  await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
    const runs = coalescePages(SCATTER.src, SCATTER.dst);
    // three writes in flight at once on the one connection
    const results = await Promise.all([runs.slice(0, 2), runs.slice(2, 5), runs.slice(5)].map((w) => tx.write('rx', TEST_WRITER, w, 10_000, TEST_ROOM)));
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
    await tx.write('rx', TEST_WRITER, runs, 10_000, TEST_ROOM); // one write, every run
    assertScatterLanded(await rx.digests(), src, RX_PAGES);
    fillRandom(src); // new bytes: the second round must land them, not find the first round's
    await Promise.all(runs.map((r) => tx.write('rx', TEST_WRITER, [r], 10_000, TEST_ROOM))); // a write per run, all in flight
    assertScatterLanded(await rx.digests(), src, RX_PAGES);
  });
});

test('tcp: writes in flight on one connection land and settle in order', async () => {
  await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
    const settled: number[] = [];
    // every write overwrites destination page 0 (and 1..2); the last one issued must win
    await Promise.all(Array.from({ length: 12 }, (_, i) => tx.write('rx', TEST_WRITER, [{ src: i, dst: 0, count: 3 }], 10_000, TEST_ROOM).then(() => settled.push(i))));
    assert.deepEqual(settled, [...settled].sort((a, b) => a - b));
    const want = pageDigests(src);
    const got = await rx.digests();
    assert.deepEqual(got.slice(0, 3), want.slice(11, 14));
  });
});

test('tcp: bad runs are refused with nothing written, by the sender and by the receiver', async () => {
  await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
    await assert.rejects(tx.write('rx', TEST_WRITER, [{ src: 0, dst: RX_PAGES - 1, count: 2 }], 10_000, TEST_ROOM), /peer pages \[47, 49\) exceed the pool of 48 pages/);
    await assert.rejects(tx.write('rx', TEST_WRITER, [{ src: 23, dst: 0, count: 2 }], 10_000, TEST_ROOM), /local pages \[23, 25\) exceed the pool of 24 pages/);

    // a sender that skips its own checks: the receiver refuses before taking a byte
    const raw = await rawLink(rx.endpoint, src.pageBytes);
    raw.socket.write(encodeWrite(7, TEST_ROOM, [{ src: 0, dst: 3, count: 1 }, { src: 0, dst: RX_PAGES - 1, count: 2 }]));
    raw.socket.write(Buffer.alloc(3 * src.pageBytes, 0xff));
    assert.match(refusal(await raw.closed), /write 7, run 1: pages \[47, 49\) exceed the pool of 48 pages/);

    // the actor's link survived its refused writes
    await tx.write('rx', TEST_WRITER, [{ src: 5, dst: 9, count: 1 }], 10_000, TEST_ROOM);
    const got = await rx.digests();
    const zero = zeroDigest(src.pageBytes);
    got.forEach((d, p) => assert.equal(d, p === 9 ? pageDigests(src)[5] : zero, `page ${p}`));
  });
});

test('tcp: a garbage frame (control or data connection) or a mismatched page size closes that connection; the receiver keeps serving', async () => {
  await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
    const garbage = rawConnection(rx.endpoint);
    garbage.socket.write(Buffer.from('GET / HTTP/1.1\r\nHost: pd-node\r\n\r\n'));
    assert.match(refusal(await garbage.closed), /not a pd-node KV frame/);

    // on a proved data connection too: garbage, or a frame of a kind a sender never sends
    const before = await rx.digests();
    const data = await rawLink(rx.endpoint, src.pageBytes);
    data.socket.write(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n\r\n'), Buffer.alloc(src.pageBytes, 0xee)]));
    assert.match(refusal(await data.closed), /not a pd-node KV frame/);
    const wrongKind = await rawLink(rx.endpoint, src.pageBytes);
    wrongKind.socket.write(encodeHead(Kind.Ack, 0, 0));
    assert.match(refusal(await wrongKind.closed), /expected WRITE, got frame kind 4/);
    assert.deepEqual(await rx.digests(), before);

    const wrongPages = { buffer: new SharedArrayBuffer(4 * 512), pageBytes: 512, numPages: 4 };
    await assert.rejects(manager().connect(rx.endpoint, wrongPages, TEST_WRITER), /refused: page size mismatch: the sender's pages are 512 B, this pool's are 840 B/);

    const r = await tx.write('rx', TEST_WRITER, [{ src: 1, dst: 2, count: 2 }], 10_000, TEST_ROOM);
    assert.equal(r.bytes, 2 * src.pageBytes);
    assert.deepEqual((await rx.digests()).slice(2, 4), pageDigests(src).slice(1, 3));
  });
});

test('tcp: a receiver killed mid-write fails the pending write at once, not at its timeout', async (t) => {
  const big = gqaLayout(16, 8, 128, 'float16', 16); // 1 MiB pages
  await withLink(big, 32, 32, async (rx, tx) => {
    rx.child.kill('SIGSTOP'); // the receiver stops reading: the write stays in flight
    const write = tx.write('rx', TEST_WRITER, [{ src: 0, dst: 0, count: 32 }], 30_000, TEST_ROOM);
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
    await assert.rejects(tx.write('rx', TEST_WRITER, [{ src: 0, dst: 0, count: 1 }], 5_000, TEST_ROOM), /no KV link to peer rx/);
  });
});

test('tcp: a sender without the cluster secret is refused before any byte lands; a WELCOME without the proof is not taken', async () => {
  await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
    const before = await rx.digests();
    const stranger = manager({ linkKey: randomBytes(32) });
    await assert.rejects(stranger.connect(rx.endpoint, src, TEST_WRITER), /refused: HELLO proof does not match: the sender does not hold this cluster's secret/);
    // a raw stranger: a HELLO with a wrong proof followed at once by a WRITE of granted pages
    const raw = rawConnection(rx.endpoint);
    await readBytes(raw.socket, HEAD_BYTES + CHALLENGE_BYTES, 'CHALLENGE');
    raw.socket.resume();
    const w = writerBytes(TEST_WRITER);
    raw.socket.write(encodeWithBody(Kind.Hello, src.pageBytes, 1, [randomBytes(TOKEN_BYTES), w, randomBytes(32)]));
    raw.socket.write(Buffer.concat([encodeWrite(0, TEST_ROOM, [{ src: 0, dst: 0, count: 4 }]), Buffer.alloc(4 * src.pageBytes, 0xee)]));
    assert.match(refusal(await raw.closed), /HELLO proof does not match/);
    assert.deepEqual(await rx.digests(), before, 'no byte of a stranger landed');

    // the other way round: a fake receiver that answers the HELLO by dialing back without the key
    const fake = createServer((control) => {
      control.on('error', () => {});
      control.write(encodeWithBody(Kind.Challenge, 0, 0, [randomBytes(CHALLENGE_BYTES)]));
      void readBytes(control, HEAD_BYTES + TOKEN_BYTES + 16 + 32, 'HELLO').then((hello) => {
        const { b: port } = decodeHead(hello);
        const data = connect(port, '127.0.0.1');
        data.on('error', () => {});
        data.write(encodeWithBody(Kind.Welcome, RX_PAGES, src.pageBytes, [hello.subarray(HEAD_BYTES, HEAD_BYTES + TOKEN_BYTES), randomBytes(32)]));
      }, () => control.destroy());
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    try {
      const fakeEndpoint: TcpEndpoint = { backend: 'tcp', host: '127.0.0.1', port: (fake.address() as AddressInfo).port };
      await assert.rejects(manager({ connectTimeoutMs: 1_000 }).connect(fakeEndpoint, src, TEST_WRITER), /tcp KV connect to 127\.0\.0\.1:\d+ timed out/);
    } finally {
      fake.close();
    }
    // the real link was not disturbed
    await tx.write('rx', TEST_WRITER, [{ src: 3, dst: 3, count: 1 }], 10_000, TEST_ROOM);
  });
});

test('tcp: a write outside its room\'s grant, of another writer, or after the release fails alone with nothing written; the link carries on', async () => {
  const refusals: string[] = [];
  await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx, src) => {
    await rx.grant('8', TEST_WRITER, [10, 11, 12, 13]);
    await rx.grant('9', '0'.repeat(32), [20, 21]);
    const before = await rx.digests();
    // no connect between the writes: a NACK does not retire the link (the actor answers "no KV link" if it did)
    await assert.rejects(tx.write('rx', TEST_WRITER, [{ src: 0, dst: 12, count: 3 }], 10_000, '8'), /write \d+ of room 8 refused: run 0: page 14 is not granted to room 8/);
    await assert.rejects(tx.write('rx', TEST_WRITER, [{ src: 0, dst: 20, count: 1 }], 10_000, '9'), /write \d+ of room 9 refused: room 9 is granted to another writer/);
    assert.deepEqual(await rx.digests(), before, 'no refused byte landed');

    // inside the grant it lands on the same link; after the release the same write is refused, and the link still serves room 7
    await tx.write('rx', TEST_WRITER, [{ src: 1, dst: 10, count: 4 }], 10_000, '8');
    const landed = await rx.digests();
    assert.deepEqual(landed.slice(10, 14), pageDigests(src).slice(1, 5));
    assert.equal(await rx.release('8', 'confirmed'), true);
    await assert.rejects(tx.write('rx', TEST_WRITER, [{ src: 5, dst: 10, count: 4 }], 10_000, '8'), /write \d+ of room 8 refused: room 8 has no grant \(never granted, or released\)/);
    assert.deepEqual(await rx.digests(), landed, 'nothing landed after the release');
    await tx.write('rx', TEST_WRITER, [{ src: 6, dst: 30, count: 2 }], 10_000, TEST_ROOM);
    assert.deepEqual((await rx.digests()).slice(30, 32), pageDigests(src).slice(6, 8));
  });

  // raw: the refused write's bytes are read and dropped, it is NACKed, and the next frame on the same connection is taken
  const pool = new KvPool(LAYOUT, 8);
  const receiver = await manager({ onRefuse: (r) => refusals.push(r) }).listen(pool, '127.0.0.1');
  try {
    receiver.grant(TEST_ROOM, TEST_WRITER, [4, 5]);
    const raw = await rawLink(receiver.endpoint, pool.pageBytes);
    raw.socket.write(Buffer.concat([encodeWrite(1, '12', [{ src: 0, dst: 0, count: 2 }]), Buffer.alloc(2 * pool.pageBytes, 0xab)]));
    raw.socket.write(Buffer.concat([encodeWrite(2, TEST_ROOM, [{ src: 0, dst: 3, count: 2 }]), Buffer.alloc(2 * pool.pageBytes, 0xab)]));
    raw.socket.write(Buffer.concat([encodeWrite(3, TEST_ROOM, [{ src: 0, dst: 4, count: 2 }]), Buffer.alloc(2 * pool.pageBytes, 0xcd)]));
    const frames = await framesOf(raw, 3);
    assert.deepEqual(frames, [
      { kind: Kind.Nack, a: 1, text: 'room 12 has no grant (never granted, or released)' },
      { kind: Kind.Nack, a: 2, text: 'run 0: page 3 is not granted to room 7' },
      { kind: Kind.Ack, a: 3, text: '' },
    ]);
    const got = pageDigests(pool);
    const zero = zeroDigest(pool.pageBytes);
    const cd = createHash('sha256').update(Buffer.alloc(pool.pageBytes, 0xcd)).digest('hex');
    assert.deepEqual(got, [zero, zero, zero, zero, cd, cd, zero, zero]);
    assert.equal(raw.socket.destroyed, false, 'the connection stays');
    raw.socket.destroy();
    // logged once for the peer, not per refused write
    assert.equal(refusals.filter((r) => /refused a write/.test(r)).length, 1, refusals.join('\n'));
  } finally {
    await receiver.close();
  }
});

test('tcp: release(unconfirmed) during a write drops the rest of it and NACKs it; the connection goes on with the next write', async () => {
  const rx = await Receiver.start('tcp', LAYOUT, RX_PAGES);
  try {
    await rx.grant(TEST_ROOM, TEST_WRITER, allPages(8));
    await rx.grant('8', TEST_WRITER, [20]);
    const pageBytes = 840;
    const raw = await rawLink(rx.endpoint, pageBytes);
    // the write's head and its first 3 of 8 pages; the rest is held back
    raw.socket.write(encodeWrite(1, TEST_ROOM, [{ src: 0, dst: 0, count: 8 }]));
    raw.socket.write(Buffer.alloc(3 * pageBytes, 0xab));
    const marked = createHash('sha256').update(Buffer.alloc(pageBytes, 0xab)).digest('hex');
    const zero = zeroDigest(pageBytes);
    const deadline = Date.now() + 10_000;
    let got = await rx.digests();
    while (got[2] !== marked && Date.now() < deadline) got = await rx.digests();
    assert.deepEqual(got.slice(0, 8), [marked, marked, marked, zero, zero, zero, zero, zero], 'the write is mid-way: 3 pages in, 5 to come');
    assert.equal(await rx.release(TEST_ROOM, 'unconfirmed'), true);
    raw.socket.write(Buffer.alloc(5 * pageBytes, 0xcd)); // the rest arrives after the release
    raw.socket.write(Buffer.concat([encodeWrite(2, '8', [{ src: 0, dst: 20, count: 1 }]), Buffer.alloc(pageBytes, 0xef)]));
    assert.deepEqual(await framesOf(raw, 2), [
      { kind: Kind.Nack, a: 1, text: 'room 7 was released while this write was being read' },
      { kind: Kind.Ack, a: 2, text: '' },
    ]);
    const after = await rx.digests();
    assert.deepEqual(after.slice(0, 8), got.slice(0, 8), 'no byte after the release landed');
    assert.equal(after[20], createHash('sha256').update(Buffer.alloc(pageBytes, 0xef)).digest('hex'), 'the next write on the connection landed');
    assert.equal(raw.socket.destroyed, false);
    raw.socket.destroy();
  } finally {
    await rx.stop();
  }
});

test('tcp: cancelling one room mid-write fails that write alone: the other room on the link is served before, behind and after it, over one connection', async () => {
  const big = gqaLayout(16, 8, 128, 'float16', 16); // 1 MiB pages
  const A = '21'; // 64 pages: far more than one read, so the release finds it mid-way
  const B = '22';
  const refusals: string[] = [];
  const rxPool = new KvPool(big, 80);
  const receiver = await manager({ onRefuse: (r) => refusals.push(r) }).listen(rxPool, '127.0.0.1');
  const rxPort = tcpAddress(receiver.endpoint).port;
  // the sender reaches the receiver through this relay, which counts the links (control connections) it carries
  let links = 0;
  const relayed = new Set<Socket>();
  const relay = createServer((down) => {
    links++;
    const up = connect(rxPort, '127.0.0.1');
    for (const s of [down, up]) {
      relayed.add(s);
      s.on('error', () => {});
      s.on('close', () => (s === down ? up : down).destroy());
    }
    down.pipe(up).pipe(down);
  });
  await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
  const src = new KvPool(big, 80);
  const pb = src.pageBytes;
  new Uint8Array(src.buffer, 0, 64 * pb).fill(0xa5);
  randomFillSync(new Uint8Array(src.buffer, 64 * pb, 16 * pb));
  let tx: TransferActorClient | undefined;
  try {
    receiver.grant(A, TEST_WRITER, allPages(64));
    receiver.grant(B, TEST_WRITER, allPages(80).slice(64));
    tx = await TransferActorClient.start(defaultTransferConfig('tcp'), src, 'error');
    const viaRelay: TcpEndpoint = { backend: 'tcp', host: '127.0.0.1', port: (relay.address() as AddressInfo).port };
    await tx.connect('rx', viaRelay, TEST_WRITER);
    await tx.write('rx', TEST_WRITER, [{ src: 64, dst: 64, count: 4 }], 30_000, B);

    const a = tx.write('rx', TEST_WRITER, [{ src: 0, dst: 0, count: 64 }], 60_000, A).then(() => null, (err: Error) => err);
    const behind = tx.write('rx', TEST_WRITER, [{ src: 68, dst: 68, count: 4 }], 60_000, B); // pipelined behind A
    // this thread is the receiver's: it reads between these checks, never during them
    const rxBytes = new Uint8Array(rxPool.buffer);
    const deadline = Date.now() + 30_000;
    while (rxBytes[pb - 1] !== 0xa5 && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(await receiver.release(A, 'unconfirmed'), true);
    const atRelease = pageDigests({ buffer: rxPool.buffer, pageBytes: pb, numPages: 64 });
    const full = createHash('sha256').update(Buffer.alloc(pb, 0xa5)).digest('hex');
    assert.equal(atRelease[0], full, 'A was under way: its first page had landed');
    assert.equal(atRelease[63], zeroDigest(pb), 'A was under way: its last page had not');

    const err = await a;
    assert.ok(err, 'the released write must fail');
    assert.match(err.message, /write \d+ of room 21 refused: room 21 was released while this write was being read/);
    await behind;
    await tx.write('rx', TEST_WRITER, [{ src: 72, dst: 72, count: 8 }], 30_000, B); // no connect: the link was not retired
    assert.deepEqual(pageDigests({ buffer: rxPool.buffer, pageBytes: pb, numPages: 64 }), atRelease, 'no byte of A landed after the release');
    assert.deepEqual(pageDigests(rxPool).slice(64), pageDigests(src).slice(64), 'every write of B landed');
    assert.equal(links, 1, 'one link throughout');
    assert.equal(refusals.filter((r) => /refused a write/.test(r)).length, 1, refusals.join('\n'));
  } finally {
    await tx?.close();
    relay.close();
    for (const s of relayed) s.destroy();
    await receiver.close();
  }
});

test('tcp: release(unconfirmed) of a write whose sender went silent mid-write cuts that connection within its bound', async () => {
  const big = gqaLayout(16, 8, 128, 'float16', 16); // 1 MiB pages: the rest of the run is read straight into the pool
  const pool = new KvPool(big, 4);
  const receiver = await manager().listen(pool, '127.0.0.1');
  try {
    receiver.grant(TEST_ROOM, TEST_WRITER, allPages(4));
    const raw = await rawLink(receiver.endpoint, pool.pageBytes);
    const sent = 200 * 1024;
    raw.socket.write(Buffer.concat([encodeWrite(1, TEST_ROOM, [{ src: 0, dst: 0, count: 4 }]), Buffer.alloc(sent, 0xab)]));
    const bytes = new Uint8Array(pool.buffer);
    const deadline = Date.now() + 10_000;
    while (bytes[sent - 1] !== 0xab && Date.now() < deadline) await new Promise((resolve) => setImmediate(resolve));
    assert.equal(bytes[sent - 1], 0xab, 'the write is under way');
    // nothing more comes: the read already aimed at the pool never happens, so the release cuts the connection
    const started = performance.now();
    assert.equal(await receiver.release(TEST_ROOM, 'unconfirmed'), true);
    assert.ok(performance.now() - started < 5_000, 'bounded');
    const atRelease = pageDigests(pool);
    assert.equal(dataFrames(await raw.closed).length, 0, 'cut, not answered');
    assert.deepEqual(pageDigests(pool), atRelease);
  } finally {
    await receiver.close();
  }
});

/** The send buffers (skmem tb) of this process's established TCP sockets, as the kernel reports them (ss, iproute2). */
function sendBuffersOfThisProcess(): number[] {
  const lines = execFileSync('ss', ['-tnmpH', 'state', 'established'], { encoding: 'utf8' }).split('\n');
  const sizes: number[] = [];
  lines.forEach((line, i) => {
    const skmem = /tb(\d+)/.exec(line.includes('skmem:') ? line : (lines[i + 1] ?? ''));
    if (line.includes(`pid=${process.pid},`) && skmem) sizes.push(Number(skmem[1]));
  });
  return sizes;
}

test('tcp: a sender asks for --tcp-send-buffer on its data socket and the kernel holds it to that; 0 leaves it to autotuning', async () => {
  const pool = new KvPool(LAYOUT, 8);
  const receiver = await manager().listen(pool, '127.0.0.1');
  receiver.grant(TEST_ROOM, TEST_WRITER, allPages(8));
  const src = new KvPool(LAYOUT, 8);
  fillRandom(src);
  // Linux grants twice what is asked, capped at net.core.wmem_max: an odd size no autotuned socket has
  const asked = 100_003;
  const granted = 2 * Math.min(asked, Number(readFileSync('/proc/sys/net/core/wmem_max', 'utf8')));
  try {
    const sized = (await manager({ sendBufferBytes: asked }).connect(receiver.endpoint, src, TEST_WRITER)) as TcpKvSender;
    assert.deepEqual(sized.sendBuffer, { bytes: granted });
    assert.ok(sendBuffersOfThisProcess().includes(granted), `a socket of this process has a ${granted}-byte send buffer: ${sendBuffersOfThisProcess().join(' ')}`);
    await sized.write([{ src: 0, dst: 0, count: 8 }], 5_000, TEST_ROOM);
    await sized.close();
    for (const deadline = Date.now() + 5_000; sendBuffersOfThisProcess().includes(granted) && Date.now() < deadline; ) await new Promise((resolve) => setTimeout(resolve, 50));
    const autotuned = (await manager({ sendBufferBytes: 0 }).connect(receiver.endpoint, src, TEST_WRITER)) as TcpKvSender;
    assert.equal(autotuned.sendBuffer, null);
    assert.ok(!sendBuffersOfThisProcess().includes(granted), 'no socket of this process has the sized buffer once that link closed');
    await autotuned.write([{ src: 0, dst: 0, count: 8 }], 5_000, TEST_ROOM);
    await autotuned.close();
    assert.deepEqual(pageDigests(pool), pageDigests(src));
  } finally {
    await receiver.close();
  }
});

test('tcp: cutWriter destroys the writer\'s link and drops its grants', async () => {
  await withLink(LAYOUT, RX_PAGES, 24, async (rx, tx) => {
    await tx.write('rx', TEST_WRITER, [{ src: 0, dst: 0, count: 1 }], 10_000, TEST_ROOM);
    assert.equal(await rx.cutWriter(TEST_WRITER), true);
    await assert.rejects(tx.write('rx', TEST_WRITER, [{ src: 1, dst: 1, count: 1 }], 10_000, TEST_ROOM), /tcp KV link to 127\.0\.0\.1:\d+: (link failed|the receiver closed)|no KV link to peer rx/);
    // the writer comes back (a stopped process resumed): it links again but may write nothing
    await tx.connect('rx', rx.endpoint, TEST_WRITER);
    await assert.rejects(tx.write('rx', TEST_WRITER, [{ src: 1, dst: 1, count: 1 }], 10_000, TEST_ROOM), /room 7 has no grant/);
  });
});

test('tcp: unproven connections are timed out and capped; the cap is logged once; a real sender still links', async () => {
  const refusals: string[] = [];
  const limits = { handshakeMs: 500, maxUnproven: 4, maxConnections: 16 };
  const pool = new KvPool(LAYOUT, 8);
  const receiver = await manager({ onRefuse: (r) => refusals.push(r), receiverLimits: limits }).listen(pool, '127.0.0.1');
  const idle = Array.from({ length: 4 }, () => rawConnection(receiver.endpoint));
  try {
    await Promise.all(idle.map((c) => readBytes(c.socket, HEAD_BYTES + CHALLENGE_BYTES, 'CHALLENGE')));
    idle.forEach((c) => c.socket.resume());
    // beyond the cap: destroyed on accept, nothing sent
    const over = [rawConnection(receiver.endpoint), rawConnection(receiver.endpoint)];
    for (const c of over) assert.equal((await c.closed).length, 0);
    assert.equal(refusals.filter((r) => /have not proved the cluster secret yet \(cap 4\)/.test(r)).length, 1, refusals.join('\n'));
    // the idle ones are gone after the handshake timeout, each told why
    const started = performance.now();
    for (const c of idle) assert.match(refusal(await c.closed), /no valid HELLO within 0.5 s/);
    assert.ok(performance.now() - started < 5_000);
    // the receiver counts a connection until its own side closed (just after ours): retry briefly
    const src = new KvPool(LAYOUT, 8);
    const linked = async (tries: number): Promise<KvSender> => {
      try {
        return await manager().connect(receiver.endpoint, src, TEST_WRITER);
      } catch (err) {
        if (tries === 0) throw err;
        await new Promise((resolve) => setTimeout(resolve, 100));
        return linked(tries - 1);
      }
    };
    const sender = await linked(20);
    receiver.grant(TEST_ROOM, TEST_WRITER, [0]);
    await sender.write([{ src: 0, dst: 0, count: 1 }], 5_000, TEST_ROOM);
    await sender.close();
  } finally {
    for (const c of idle) c.socket.destroy();
    await receiver.close();
  }
});
