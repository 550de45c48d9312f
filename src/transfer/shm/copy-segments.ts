/**
 * The bytes of one shm write as segments, and how a thread copies its segments: shared by the
 * sender's own thread and its copy workers (parallel-copy.ts, copy-worker.ts).
 *
 * Decisions:
 * - A segment is three numbers (local byte offset, peer byte offset, length) in a flat array: it
 *   crosses to a copy worker by postMessage as it is, and offsets beyond 2^32 (pools over 4 GiB)
 *   stay exact (doubles hold integers to 2^53).
 * - `splitRuns` cuts the runs into `shares` lists of equal bytes (to SPLIT_ALIGN), cutting inside a
 *   run where a share ends: the threads then finish together, whatever the runs' sizes.
 */
import type { PageRun } from '../kv-transfer.js';
import { MAX_VIEW_BYTES } from '../pool-views.js';

/** Numbers per segment: local offset, peer offset, bytes. */
export const SEGMENT_FIELDS = 3;
/** Shares end on 4 KiB: whole memory pages per thread, so no two threads write one page's cache lines. */
const SPLIT_ALIGN = 4096;

/** Copies `bytes` from byte `srcAt` of `src` to byte `dstAt` of `dst`, in views of at most MAX_VIEW_BYTES. */
export function copyBytes(dst: ArrayBufferLike, dstAt: number, src: ArrayBufferLike, srcAt: number, bytes: number): void {
  for (let at = 0; at < bytes; at += MAX_VIEW_BYTES) {
    const n = Math.min(MAX_VIEW_BYTES, bytes - at);
    new Uint8Array(dst, dstAt + at, n).set(new Uint8Array(src, srcAt + at, n));
  }
}

/** Copies every segment of a flat list (SEGMENT_FIELDS numbers each). */
export function copySegments(dst: ArrayBufferLike, src: ArrayBufferLike, segments: readonly number[]): void {
  for (let i = 0; i < segments.length; i += SEGMENT_FIELDS) copyBytes(dst, segments[i + 1], src, segments[i], segments[i + 2]);
}

/** The runs' bytes as `shares` flat segment lists of (nearly) equal bytes, in run order; empty lists dropped. */
export function splitRuns(runs: readonly PageRun[], pageBytes: number, shares: number): number[][] {
  let total = 0;
  for (const r of runs) total += r.count * pageBytes;
  const share = Math.ceil(total / shares / SPLIT_ALIGN) * SPLIT_ALIGN;
  const lists: number[][] = [];
  let list: number[] = [];
  let room = share;
  for (const r of runs) {
    let src = r.src * pageBytes;
    let dst = r.dst * pageBytes;
    let left = r.count * pageBytes;
    while (left > 0) {
      const n = Math.min(left, room);
      list.push(src, dst, n);
      src += n;
      dst += n;
      left -= n;
      room -= n;
      if (room === 0) {
        lists.push(list);
        list = [];
        room = share;
      }
    }
  }
  if (list.length > 0) lists.push(list);
  return lists;
}
