/**
 * How one `write` of page runs becomes RDMA WRITEs: byte ranges (pool offsets on both sides), split
 * so no request exceeds the message size limit, and striped across the link's lanes (one per device).
 *
 * Decisions:
 * - One request per coalesced run while it fits: the fewest work requests.
 * - With several lanes, runs are cut into pieces of about total / lanes bytes (never below
 *   MIN_STRIPE_BYTES, where the split costs more than the parallel devices gain) and each piece goes
 *   to the lane with the fewest bytes so far, so all devices finish at about the same time.
 * - MAX_MESSAGE_BYTES is 1 GiB: below the 2^31 B `max_msg_sz` of RC on current NICs and rxe.
 */
import type { PageRun } from '../kv-transfer.js';

export const MAX_MESSAGE_BYTES = 1 << 30;
export const MIN_STRIPE_BYTES = 256 * 1024;

/** `length` bytes from local pool offset `src` to remote pool offset `dst`. */
export interface WritePiece {
  src: number;
  dst: number;
  length: number;
}

/** The pieces of `runs` per lane, in run order within each lane. */
export function stripeRuns(runs: readonly PageRun[], pageBytes: number, lanes: number, maxMessageBytes = MAX_MESSAGE_BYTES): WritePiece[][] {
  if (lanes < 1) throw new RangeError(`a link has at least one lane (got ${lanes})`);
  const total = runs.reduce((n, r) => n + r.count * pageBytes, 0);
  const piece = lanes === 1 ? maxMessageBytes : Math.min(maxMessageBytes, Math.max(MIN_STRIPE_BYTES, Math.ceil(total / lanes)));
  const plan: WritePiece[][] = Array.from({ length: lanes }, () => []);
  const load = new Array<number>(lanes).fill(0);
  for (const run of runs) {
    const bytes = run.count * pageBytes;
    for (let at = 0; at < bytes; at += piece) {
      const length = Math.min(piece, bytes - at);
      const lane = load.indexOf(Math.min(...load));
      plan[lane].push({ src: run.src * pageBytes + at, dst: run.dst * pageBytes + at, length });
      load[lane] += length;
    }
  }
  return plan;
}
