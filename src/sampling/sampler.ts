import type { SamplingParams } from './params.js';
import type { Prng } from '../random/prng.js';

/**
 * Token sampling over one row of logits. One Sampler per scheduler: its scratch buffers are sized to
 * the vocabulary once, so sampling a token allocates nothing.
 *
 * Order of the filters (as in SGLang): temperature, then top-k, top-p and min-p on the resulting
 * probabilities, then a draw. Ties keep the lower token id so greedy output is deterministic.
 */
export class Sampler {
  private readonly probs: Float64Array;
  private readonly order: Int32Array;

  constructor(readonly vocabSize: number) {
    this.probs = new Float64Array(vocabSize);
    this.order = new Int32Array(vocabSize);
  }

  sample(logits: Float32Array, p: SamplingParams, rng: Prng): number {
    if (p.temperature === 0 || p.topK === 1) return argmax(logits);
    const n = this.vocabSize;
    const probs = this.probs;
    let max = -Infinity;
    for (let i = 0; i < n; i++) if (logits[i] > max) max = logits[i];
    let sum = 0;
    for (let i = 0; i < n; i++) {
      const e = Math.exp((logits[i] - max) / p.temperature);
      probs[i] = e;
      sum += e;
    }
    const needsOrder = p.topK > 1 || p.topP < 1;
    if (!needsOrder) {
      if (p.minP > 0) applyMinP(probs, n, p.minP);
      return drawUnordered(probs, n, rng.nextFloat());
    }
    // Candidates sorted by probability (desc), ties by id; top-k limits the sort work.
    const k = p.topK > 1 ? Math.min(p.topK, n) : n;
    const count = this.topCandidates(k);
    let kept = count;
    if (p.topP < 1) {
      let cum = 0;
      for (let j = 0; j < count; j++) {
        cum += probs[this.order[j]] / sum;
        if (cum >= p.topP) {
          kept = j + 1;
          break;
        }
      }
    }
    if (p.minP > 0) {
      const floor = p.minP * probs[this.order[0]];
      let j = 1;
      while (j < kept && probs[this.order[j]] >= floor) j++;
      kept = j;
    }
    let keptSum = 0;
    for (let j = 0; j < kept; j++) keptSum += probs[this.order[j]];
    let u = rng.nextFloat() * keptSum;
    for (let j = 0; j < kept; j++) {
      u -= probs[this.order[j]];
      if (u < 0) return this.order[j];
    }
    return this.order[kept - 1];
  }

  /** Fills `order[0..k)` with the k most probable ids, best first; returns k. */
  private topCandidates(k: number): number {
    const probs = this.probs;
    const order = this.order;
    const n = this.vocabSize;
    if (k === n) {
      for (let i = 0; i < n; i++) order[i] = i;
      order.sort((a, b) => probs[b] - probs[a] || a - b);
      return n;
    }
    // Insertion into a sorted prefix of length k: O(n*k) worst case, fine for the usual small k.
    let len = 0;
    for (let i = 0; i < n; i++) {
      const v = probs[i];
      if (len === k && v <= probs[order[k - 1]]) continue;
      let j = len < k ? len++ : k - 1;
      while (j > 0 && probs[order[j - 1]] < v) {
        order[j] = order[j - 1];
        j--;
      }
      order[j] = i;
    }
    return len;
  }
}

/** Random numbers one sampled token consumes (PD decode replays prefill's draws to stay in step). */
export function drawsPerToken(p: SamplingParams): number {
  return p.temperature === 0 || p.topK === 1 ? 0 : 1;
}

export function argmax(logits: Float32Array): number {
  let best = 0;
  for (let i = 1; i < logits.length; i++) if (logits[i] > logits[best]) best = i;
  return best;
}

function applyMinP(probs: Float64Array, n: number, minP: number): void {
  let max = 0;
  for (let i = 0; i < n; i++) if (probs[i] > max) max = probs[i];
  const floor = minP * max;
  for (let i = 0; i < n; i++) if (probs[i] < floor) probs[i] = 0;
}

function drawUnordered(probs: Float64Array, n: number, u01: number): number {
  let total = 0;
  for (let i = 0; i < n; i++) total += probs[i];
  let u = u01 * total;
  let last = 0;
  for (let i = 0; i < n; i++) {
    if (probs[i] === 0) continue;
    last = i;
    u -= probs[i];
    if (u < 0) return i;
  }
  return last;
}
