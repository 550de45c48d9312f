/**
 * Quick transfer benchmark: 64 MiB as 64 runs of 1 MiB (scattered destinations, so nothing
 * coalesces) through the transfer actor, for tcp and shm, next to a baseline in the same run:
 * - tcp: one plain socket over loopback (64 x 1 MiB writes; the receiver, a worker thread, only
 *   counts bytes), the ceiling for a single stream;
 * - shm: the same 64 copies done directly with Buffer.copy and with Uint8Array.set (memcpy).
 *
 * Decisions: both actor ends live in this process (receiver and sender actors are worker threads; the
 * main thread only posts requests), which on loopback costs the same cores as two processes; each
 * figure is the best and the median of REPEATS timed rounds after one warm-up, wall time on the
 * caller (message hops included); GB/s is 1e9 B/s. The main thread's event-loop delay during the
 * actor rounds shows it stays free. Run: node dist/bench/transfer-quick.js
 */
import { once } from 'node:events';
import { connect } from 'node:net';
import { type IntervalHistogram, monitorEventLoopDelay, performance } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { TransferActorClient } from '../actors/transfer/transfer-actor-client.js';
import { gqaLayout } from '../src/kv/layout.js';
import { KvPool } from '../src/kv/pool.js';
import type { PageRun } from '../src/transfer/kv-transfer.js';
import { createShmKvPool } from '../src/transfer/shm/shm-kv-pool.js';

const MIB = 1 << 20;
const PAGES = 64;
const REPEATS = 5;
const LAYOUT = gqaLayout(16, 8, 128, 'float16', 16); // 1 MiB pages
const RUNS: PageRun[] = Array.from({ length: PAGES }, (_, i) => ({ src: i, dst: (i * 37) % PAGES, count: 1 }));
const BYTES = PAGES * MIB;

interface Figure {
  name: string;
  best: number;
  median: number;
  /** Actor rounds: the main thread's event-loop delay while they ran. */
  loop?: IntervalHistogram;
}

async function rounds(name: string, round: () => Promise<void>): Promise<Figure> {
  await round();
  const gbps: number[] = [];
  for (let i = 0; i < REPEATS; i++) {
    const t0 = performance.now();
    await round();
    gbps.push(BYTES / ((performance.now() - t0) / 1000) / 1e9);
  }
  gbps.sort((a, b) => a - b);
  return { name, best: gbps[gbps.length - 1], median: gbps[gbps.length >> 1] };
}

async function actorRounds(backend: 'tcp' | 'shm', src: KvPool, dst: KvPool): Promise<Figure> {
  const rx = await TransferActorClient.start(backend, dst, 'warn');
  const tx = await TransferActorClient.start(backend, src, 'warn');
  const loop = monitorEventLoopDelay({ resolution: 1 });
  try {
    await tx.connect('rx', await rx.listen('127.0.0.1'));
    loop.enable();
    const figure = await rounds(`${backend} through the transfer actor`, async () => {
      await tx.write('rx', RUNS, 30_000);
    });
    return { ...figure, loop };
  } finally {
    loop.disable();
    await tx.close();
    await rx.close();
  }
}

/** A worker thread that accepts one connection, counts `BYTES`, answers one byte, and repeats. */
const SINK = `
const { parentPort, workerData } = require('node:worker_threads');
const server = require('node:net').createServer({ noDelay: true }, (s) => {
  let n = 0;
  s.on('data', (c) => { n += c.length; if (n === workerData) { n = 0; s.write('k'); } });
});
server.listen(0, '127.0.0.1', () => parentPort.postMessage(server.address().port));
parentPort.on('message', () => server.close(() => process.exit(0)));
`;

async function plainSocketRounds(src: KvPool): Promise<Figure> {
  const sink = new Worker(SINK, { eval: true, workerData: BYTES });
  const [port] = (await once(sink, 'message')) as [number];
  const socket = connect({ port, host: '127.0.0.1', noDelay: true });
  await once(socket, 'connect');
  const pieces = RUNS.map((r) => Buffer.from(src.buffer, r.src * MIB, MIB));
  try {
    return await rounds('tcp plain single-stream socket', async () => {
      const ack = once(socket, 'data');
      for (const p of pieces) if (!socket.write(p)) await once(socket, 'drain');
      await ack;
    });
  } finally {
    socket.destroy();
    sink.postMessage('stop');
    await once(sink, 'exit');
  }
}

async function copyRounds(name: string, copy: (from: number, to: number) => void): Promise<Figure> {
  return rounds(name, async () => {
    for (const r of RUNS) copy(r.src * MIB, r.dst * MIB);
  });
}

async function main(): Promise<void> {
  const src = new KvPool(LAYOUT, PAGES);
  new Uint8Array(src.buffer).fill(7);
  const figures: Figure[] = [];

  const tcpDst = new KvPool(LAYOUT, PAGES);
  figures.push(await actorRounds('tcp', src, tcpDst));
  figures.push(await plainSocketRounds(src));

  const { pool: shmDst, region } = createShmKvPool(LAYOUT, PAGES);
  try {
    figures.push(await actorRounds('shm', src, shmDst));
    const from = Buffer.from(src.buffer);
    const to = Buffer.from(shmDst.buffer);
    figures.push(await copyRounds('shm baseline: Buffer.copy on one thread', (a, b) => from.copy(to, b, a, a + MIB)));
    figures.push(await copyRounds('shm baseline: Uint8Array.set on one thread', (a, b) => to.set(from.subarray(a, a + MIB), b)));
  } finally {
    region.unlink();
    region.close();
  }

  console.log(`64 MiB as ${PAGES} runs of 1 MiB, ${REPEATS} rounds after a warm-up (GB/s = 1e9 B/s)`);
  const ms = (ns: number): string => (ns / 1e6).toFixed(1);
  for (const f of figures) {
    const loop = f.loop ? `   main-thread event-loop delay p50 ${ms(f.loop.percentile(50))} / p99 ${ms(f.loop.percentile(99))} / max ${ms(f.loop.max)} ms` : '';
    console.log(`  ${f.name.padEnd(44)} best ${f.best.toFixed(2)} GB/s   median ${f.median.toFixed(2)} GB/s${loop}`);
  }
}

await main();
