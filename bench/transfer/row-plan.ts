/**
 * Which pages each write of one benchmark row moves, and what the receiver must hold afterwards.
 *
 * Decisions:
 * - Writes rotate over destination slots (one slot = one write's pages in the receiver's pool) and
 *   over one more source slot than that, so consecutive writes to a slot carry different bytes: the
 *   check after the row then proves the last write to each slot landed, not merely some write.
 *   Slots are as many as writes in flight (bounded by `maxPoolBytes`), so writes in flight never share
 *   a destination.
 * - `contiguous`: a write is one run. `scattered`: page j of a write goes to a seeded random
 *   permutation of its slot's pages, so nearly no two pages coalesce (the runs a write has are
 *   reported), as with a decode pool's free list after a while.
 * - The expected bytes of a destination slot are digested from the source pool in destination order,
 *   so the receiver digests its slot as one contiguous range.
 */
import { createHash } from 'node:crypto';
import { coalescePages, type PageRun, type PoolRegion } from '../../src/transfer/kv-transfer.js';
import type { PageRange } from './protocol.js';

export const PATTERNS = ['contiguous', 'scattered'] as const;
export type Pattern = (typeof PATTERNS)[number];

export class RowPlan {
  readonly pages: number;
  readonly dstSlots: number;
  readonly srcSlots: number;
  readonly runsPerWrite: number;
  /** position j of a write -> page offset in its destination slot, and the inverse. */
  private readonly dstOffset: Uint32Array;
  private readonly srcOfDst: Uint32Array;
  private readonly baseRuns: PageRun[];
  private readonly runsByWrite = new Map<number, PageRun[]>();

  constructor(readonly size: number, readonly pageBytes: number, readonly pattern: Pattern, concurrency: number, maxPoolBytes: number) {
    this.pages = size / pageBytes;
    this.dstSlots = Math.max(1, Math.min(concurrency, Math.floor(maxPoolBytes / size)));
    this.srcSlots = this.dstSlots + 1;
    this.dstOffset = pattern === 'contiguous' ? identity(this.pages) : shuffled(this.pages);
    this.srcOfDst = new Uint32Array(this.pages);
    for (let j = 0; j < this.pages; j++) this.srcOfDst[this.dstOffset[j]] = j;
    this.baseRuns = coalescePages(identity(this.pages), this.dstOffset);
    this.runsPerWrite = this.baseRuns.length;
  }

  srcSlot(write: number): number {
    return write % this.srcSlots;
  }

  dstSlot(write: number): number {
    return write % this.dstSlots;
  }

  /** The runs of write number `write` (made once per slot pair, then reused). */
  runs(write: number): PageRun[] {
    const src = this.srcSlot(write);
    const dst = this.dstSlot(write);
    const key = src * this.dstSlots + dst;
    let runs = this.runsByWrite.get(key);
    if (!runs) {
      const s = src * this.pages;
      const d = dst * this.pages;
      runs = this.baseRuns.map((r) => ({ src: r.src + s, dst: r.dst + d, count: r.count }));
      this.runsByWrite.set(key, runs);
    }
    return runs;
  }

  dstRange(dstSlot: number): PageRange {
    return { start: dstSlot * this.pages, count: this.pages };
  }

  /** SHA-256 of what destination slot holds after a write from `srcSlot`, read from the source pool. */
  expectedDigest(src: PoolRegion, srcSlot: number): string {
    const hash = createHash('sha256');
    const base = srcSlot * this.pages;
    for (let q = 0; q < this.pages; q++) hash.update(new Uint8Array(src.buffer, (base + this.srcOfDst[q]) * this.pageBytes, this.pageBytes));
    return hash.digest('hex');
  }
}

/** SHA-256 of a page range of a pool (the receiver's side of the check). */
export function rangeDigest(pool: PoolRegion, range: PageRange): string {
  const hash = createHash('sha256');
  const end = (range.start + range.count) * pool.pageBytes;
  const step = 1 << 26;
  for (let at = range.start * pool.pageBytes; at < end; at += step) hash.update(new Uint8Array(pool.buffer, at, Math.min(step, end - at)));
  return hash.digest('hex');
}

/** Fills a pool with pseudo-random bytes (xorshift32: fast, and no two pages alike). */
export function fillPseudoRandom(pool: PoolRegion): void {
  const words = new Uint32Array(pool.buffer, 0, Math.floor((pool.numPages * pool.pageBytes) / 4));
  let x = 0x9e3779b9;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x;
  }
}

function identity(n: number): Uint32Array {
  const a = new Uint32Array(n);
  for (let i = 0; i < n; i++) a[i] = i;
  return a;
}

/** A seeded Fisher-Yates shuffle of 0..n-1 (the same permutation on every run). */
function shuffled(n: number): Uint32Array {
  const a = identity(n);
  let x = 0x2545f491;
  for (let i = n - 1; i > 0; i--) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    const j = (x >>> 0) % (i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
  return a;
}
