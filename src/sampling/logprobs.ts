import type { TokenLogprob } from '../generation/output.js';

/**
 * Log-probabilities of one logits row (model distribution, before temperature), in float64.
 * `logsumexp` is computed once per row and reused for the chosen token and the top-n list.
 */
export function rowLogsumexp(logits: Float32Array, offset: number, vocab: number): number {
  let max = -Infinity;
  for (let i = 0; i < vocab; i++) if (logits[offset + i] > max) max = logits[offset + i];
  let sum = 0;
  for (let i = 0; i < vocab; i++) sum += Math.exp(logits[offset + i] - max);
  return max + Math.log(sum);
}

/** The `n` most likely tokens of a row as [logprob, id, null], best first (ties: lower id first). */
export function topLogprobs(logits: Float32Array, offset: number, vocab: number, n: number, lse: number): TokenLogprob[] {
  const ids: number[] = [];
  for (let i = 0; i < vocab; i++) {
    const v = logits[offset + i];
    if (ids.length === n && v <= logits[offset + ids[n - 1]]) continue;
    let j = ids.length < n ? ids.push(i) - 1 : n - 1;
    while (j > 0 && logits[offset + ids[j - 1]] < v) {
      ids[j] = ids[j - 1];
      j--;
    }
    ids[j] = i;
  }
  return ids.map((id) => [logits[offset + id] - lse, id, null]);
}
