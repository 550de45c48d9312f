/**
 * Bounds checks for page runs, shared by every backend's sender and the tcp receiver: a run must be
 * whole pages inside the pool on its side. Senders check all runs before moving a byte, so a bad
 * write is refused without touching the peer's pool.
 */
import type { PageRun } from './kv-transfer.js';

/** Why `count` pages from `start` do not fit a pool of `numPages`, or null if they do. */
export function runProblem(start: number, count: number, numPages: number): string | null {
  if (!Number.isSafeInteger(start) || start < 0) return `page ${start} is not a page id`;
  if (!Number.isSafeInteger(count) || count < 1) return `page count ${count} is not a positive integer`;
  if (start + count > numPages) return `pages [${start}, ${start + count}) exceed the pool of ${numPages} pages`;
  return null;
}

/** Checks every run against both pools; returns the pages they move. Throws naming the first bad run. */
export function checkRuns(runs: readonly PageRun[], srcPages: number, dstPages: number): number {
  let pages = 0;
  for (let i = 0; i < runs.length; i++) {
    const r = runs[i];
    const src = runProblem(r.src, r.count, srcPages);
    const dst = runProblem(r.dst, r.count, dstPages);
    if (src || dst) throw new Error(`bad run ${i} (src ${r.src}, dst ${r.dst}, count ${r.count}): ${src ? `local ${src}` : `peer ${dst}`}`);
    pages += r.count;
  }
  return pages;
}
