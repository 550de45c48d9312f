/**
 * Page helpers for the transfer tests: random source pages, per-page digests (what the receiver
 * reports back across the process boundary), and a scattered page mapping that has runs adjacent on
 * both sides as well as pages adjacent on one side only.
 */
import assert from 'node:assert/strict';
import { createHash, randomFillSync } from 'node:crypto';
import type { PoolRegion } from '../../src/transfer/kv-transfer.js';

export function fillRandom(pool: PoolRegion): void {
  randomFillSync(new Uint8Array(pool.buffer, 0, pool.numPages * pool.pageBytes));
}

export function pageDigests(pool: PoolRegion): string[] {
  const out: string[] = [];
  for (let p = 0; p < pool.numPages; p++) out.push(createHash('sha256').update(new Uint8Array(pool.buffer, p * pool.pageBytes, pool.pageBytes)).digest('hex'));
  return out;
}

export function zeroDigest(pageBytes: number): string {
  return createHash('sha256').update(new Uint8Array(pageBytes)).digest('hex');
}

/**
 * Source pages -> destination pages: src 2,3,4 -> 30,31,32 (one run), 7 -> 5, 9,10 -> 12,14 (adjacent
 * on the source only), 15,17 -> 20,21 (adjacent on the destination only), 20..23 -> 40..43 (one run).
 */
export const SCATTER = {
  src: [2, 3, 4, 7, 9, 10, 15, 17, 20, 21, 22, 23],
  dst: [30, 31, 32, 5, 12, 14, 20, 21, 40, 41, 42, 43],
};

/** Every destination page of SCATTER holds its source page's bytes; every other page is still zero. */
export function assertScatterLanded(got: readonly string[], src: PoolRegion, receiverPages: number): void {
  const want = pageDigests(src);
  const zero = zeroDigest(src.pageBytes);
  for (let p = 0; p < receiverPages; p++) {
    const i = SCATTER.dst.indexOf(p);
    assert.equal(got[p], i < 0 ? zero : want[SCATTER.src[i]], `destination page ${p}`);
  }
}
