/**
 * The shm sender's parallel copy (src/transfer/shm/parallel-copy.ts) by thread count: one write of
 * each size through a real shm link (ShmKvManager.connect, copy workers included) into a decode pool
 * in shared memory, against one thread's memcpy of the same bytes into the same pool (the call the
 * link itself makes, src/transfer/shm/copy-segments.ts), interleaved in the same run (each round
 * times the link, then the copy). Reported per row:
 * p50 ms, GB/s, the copy's p50 in the same rounds, and link / copy. Sender and pool share this
 * process (the backend's threads are what is measured; pd-bench transfer has the cross-process view).
 *
 *   node dist/bench/shm-copy-threads.js [--sizes 16,64,256] [--threads 1,2,4] [--rounds 15]
 */
import { loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import { gqaLayout, pageBytes } from '../src/kv/layout.js';
import { KvPool } from '../src/kv/pool.js';
import { areaOf, copyBytes } from '../src/transfer/shm/copy-segments.js';
import { ShmKvManager } from '../src/transfer/shm/shm-kv-manager.js';
import { createShmKvPool } from '../src/transfer/shm/shm-kv-pool.js';
import { positiveIntegers } from './bench-flags.js';

const MiB = 1 << 20;
/** 2 MiB pages: Llama-3.1-8B's KV of 16 tokens (32 layers x 2 x 8 heads x 128 x bf16). */
const LAYOUT = gqaLayout(32, 8, 128, 'bfloat16', 16);
const WRITER = 'b'.repeat(32);
/** Generous: a 256 MiB write takes tens of ms even on a busy host. */
const WRITE_TIMEOUT_MS = 30_000;

const { values } = parseArgs({ options: { sizes: { type: 'string', default: '16,64,256' }, threads: { type: 'string', default: '1,2' }, rounds: { type: 'string', default: '15' } } });
const sizes = positiveIntegers('--sizes', values.sizes!);
const threadCounts = positiveIntegers('--threads', values.threads!);
const [rounds] = positiveIntegers('--rounds', values.rounds!);

const pages = Math.ceil((Math.max(...sizes) * MiB) / pageBytes(LAYOUT));
const { pool: dst, region } = createShmKvPool(LAYOUT, pages);
const src = new KvPool(LAYOUT, pages);
new Uint8Array(src.buffer).fill(0x5a);
new Uint8Array(dst.buffer).fill(1); // every page touched before timing
const p50 = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load0 = loadavg()[0];
const [from, to] = [areaOf(src.buffer), areaOf(dst.buffer)];
const receiver = await new ShmKvManager(() => {}).listen(dst);
const rows: Record<string, number>[] = [];
try {
  for (const threads of threadCounts) {
    const sender = await new ShmKvManager(() => {}, threads).connect(receiver.endpoint, src, WRITER);
    try {
      for (const size of sizes) {
        const count = Math.ceil((size * MiB) / src.pageBytes);
        const bytes = count * src.pageBytes;
        const link: number[] = [];
        const copy: number[] = [];
        for (let r = 0; r < rounds; r++) {
          let t = performance.now();
          await sender.write([{ src: 0, dst: 0, count }], WRITE_TIMEOUT_MS, 'bench');
          link.push(performance.now() - t);
          t = performance.now();
          copyBytes(to, 0, from, 0, bytes);
          copy.push(performance.now() - t);
        }
        if (!Buffer.from(dst.buffer, 0, bytes).equals(Buffer.from(src.buffer, 0, bytes))) throw new Error(`${threads} threads, ${size} MiB: the pool does not hold the written bytes`);
        rows.push({ threads, MiB: bytes / MiB, 'p50 ms': p50(link), 'GB/s': bytes / p50(link) / 1e6, 'copy p50 ms': p50(copy), 'copy GB/s': bytes / p50(copy) / 1e6, 'link / copy': p50(copy) / p50(link) });
      }
    } finally {
      await sender.close();
    }
  }
} finally {
  await receiver.close();
  region.unlink();
  region.close();
}
console.log(`shm parallel copy, ${rounds} rounds per row; load average ${load0.toFixed(2)} -> ${loadavg()[0].toFixed(2)}`);
console.table(rows.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, Number(v.toPrecision(3))]))));
