/**
 * The bytes of one shm write as segments, and how a thread copies its segments: shared by the
 * sender's own thread and its copy workers (parallel-copy.ts, copy-worker.ts).
 *
 * Decisions:
 * - A thread copies with libc's memcpy (native/libc.ts), by address, not with `Uint8Array.set`:
 *   the local pool is a SharedArrayBuffer, and V8 copies one with relaxed atomic word moves, at
 *   half of memcpy's speed while the bytes are in cache (33 against 65 GB/s for 1 MiB on the
 *   reference VM; the same at 16 MiB, where memory is the floor). The KV a prefill just computed
 *   is in cache. By address, a run needs no view either (V8 caps one at 4 GiB).
 * - memcpy checks nothing, so every copy is checked here against both areas first, whatever the
 *   caller checked (checkRuns): a wrong offset must be an error, never a write outside a pool.
 * - A segment is three numbers (local byte offset, peer byte offset, length) in a flat array: it
 *   crosses to a copy worker by postMessage as it is, and offsets beyond 2^32 (pools over 4 GiB)
 *   stay exact (doubles hold integers to 2^53).
 * - `splitRuns` cuts the runs into `shares` lists of equal bytes (to SPLIT_ALIGN), cutting inside a
 *   run where a share ends: the threads then finish together, whatever the runs' sizes.
 */
import { addressOf, copyMemory, exactAddress } from '../../../native/libc.js';
import type { PageRun } from '../kv-transfer.js';

/** Numbers per segment: local offset, peer offset, bytes. */
export const SEGMENT_FIELDS = 3;
/** Shares end on 4 KiB: whole memory pages per thread, so no two threads write one page's cache lines. */
const SPLIT_ALIGN = 4096;

/** Memory a copy reads or writes: its first byte's address (a number, see native/libc.ts) and its length. */
export interface CopyArea {
  readonly address: number;
  readonly bytes: number;
  /** The buffer whose memory it is, held so that it lives as long as the area (absent for a mapping: valid until unmapped). */
  readonly buffer?: ArrayBufferLike;
}

/** A buffer of this process as a copy area. */
export function areaOf(buffer: ArrayBufferLike): CopyArea {
  return { address: addressOf(buffer), bytes: buffer.byteLength, buffer };
}

/** External memory (a mapping's address and length) as a copy area (valid until it is unmapped). */
export function areaAt(address: bigint, bytes: number): CopyArea {
  return { address: exactAddress(address), bytes };
}

/** Copies `bytes` from byte `srcAt` of `src` to byte `dstAt` of `dst`; throws (copying nothing) if either range leaves its area. */
export function copyBytes(dst: CopyArea, dstAt: number, src: CopyArea, srcAt: number, bytes: number): void {
  if (!(bytes >= 0 && srcAt >= 0 && dstAt >= 0 && srcAt + bytes <= src.bytes && dstAt + bytes <= dst.bytes)) {
    throw new RangeError(`copy of ${bytes} B from ${srcAt} (of ${src.bytes}) to ${dstAt} (of ${dst.bytes}) leaves its memory`);
  }
  copyMemory(dst.address + dstAt, src.address + srcAt, bytes);
}

/** Copies every segment of a flat list (SEGMENT_FIELDS numbers each). */
export function copySegments(dst: CopyArea, src: CopyArea, segments: readonly number[]): void {
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
