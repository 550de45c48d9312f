/**
 * How `--tp N` splits the reference engine's model over N ranks (threads), and the check of N.
 *
 * Decisions (bit-identity with `--tp 1` is the contract, so no dot product is ever split):
 * - Attention: rank r owns a contiguous block of KV heads and the query heads of their GQA groups:
 *   its rows of q/k/v (column-parallel, whole dot products over hidden), its RoPE, its slice of each
 *   K/V row in the pool. Q is one shared buffer; a step of many rows (a prefill chunk) then splits the
 *   attention calls, one per (row, KV head), evenly over the ranks after one more barrier, while a
 *   decode step attends each rank's own heads (shard.ts, BALANCED_ATTENTION_MIN_ROWS).
 * - o_proj and down_proj are split by OUTPUT rows (a block of hidden dimensions per rank) over the
 *   full gathered input, not by input columns with an all-reduce: on shared memory an all-gather costs
 *   the same barriers as an all-reduce, and every output is then one whole dot product in the
 *   kernels' fixed order, so `--tp 1` keeps today's summation order and results, and so do PD peers
 *   with a different `--tp`. Each rank still holds 1/N of every matrix.
 * - MLP: rank r owns a block of intermediate columns (gate/up rows); lm_head is split by vocab rows.
 * - Each rank owns whole GQA groups, so N may not exceed the KV heads. N need not divide them (nor
 *   the intermediate size): blocks then differ by a group (or a row) between ranks, e.g. SmolLM2's 3
 *   KV heads over 2 ranks as 2 + 1. SGLang asks N to divide the heads and replicates KV heads when
 *   N exceeds them; here an uneven split costs some balance in the Q/K/V matmuls (prefill's attention
 *   is split evenly regardless; the MLP and projections split evenly) but lets `--tp 2` run shapes like SmolLM2's.
 */
import type { LlamaConfig } from '../../../model/types.js';

/** Most ranks: one thread each; far more than the cores of any host this engine is meant for. */
export const MAX_TP = 64;

/** [start, end) of rank r's block when `n` rows are split over `tp` ranks (sizes differ by at most 1). */
export function block(n: number, tp: number, r: number): [number, number] {
  return [Math.floor((n * r) / tp), Math.floor((n * (r + 1)) / tp)];
}

/** One rank's share, in rows of each matrix. */
export interface RankSlice {
  readonly rank: number;
  readonly tp: number;
  /** Query heads [h0, h1) and KV heads [kv0, kv1). */
  readonly heads: readonly [number, number];
  readonly kvHeads: readonly [number, number];
  /** Intermediate (MLP) columns. */
  readonly inter: readonly [number, number];
  /** Hidden dimensions of the o_proj and down_proj outputs. */
  readonly hidden: readonly [number, number];
  /** lm_head rows (vocab ids). */
  readonly vocab: readonly [number, number];
}

/** Why `tp` cannot split `c`, naming the flag, or null when it can. */
export function tpProblem(c: LlamaConfig, tp: number): string | null {
  if (!Number.isInteger(tp) || tp < 1 || tp > MAX_TP) return `--tp must be an integer from 1 to ${MAX_TP} (got ${tp})`;
  if (tp > c.numKvHeads) return `--tp ${tp} exceeds the model's ${c.numKvHeads} KV heads (each rank owns whole KV heads and their query heads)`;
  return null;
}

export function rankSlice(c: LlamaConfig, tp: number, rank: number): RankSlice {
  const kvHeads = block(c.numKvHeads, tp, rank);
  const group = c.numHeads / c.numKvHeads;
  return {
    rank,
    tp,
    kvHeads,
    heads: [kvHeads[0] * group, kvHeads[1] * group],
    inter: block(c.intermediateSize, tp, rank),
    hidden: block(c.hiddenSize, tp, rank),
    vocab: block(c.vocabSize, tp, rank),
  };
}
