/**
 * A same-run comparison measured in alternated rounds: each round measures one side, then the other,
 * back to back, phase by phase; the ratio reported is the median of the per-round ratios, with their
 * range.
 *
 * Why: this VM's memory bandwidth moves by up to 1.6 x within minutes (llama.cpp's own bf16 decode at
 * batch 1 measured 48.9 to 79.3 tok/s across runs), so a ratio of two figures taken minutes apart
 * reads mostly the VM's swing. Two measurements seconds apart see nearly the same machine, and the
 * median over rounds drops a round that a neighbour's burst hit.
 *
 * Decisions: the side that goes first flips every round, so neither side always runs right after the
 * other (on the caches and frequency the other left); each side's figure is the median of its own
 * rounds (printed as today's tok/s), the ratio the median of the rounds' ratios (not the ratio of the
 * medians: each round's pair shares a moment of the machine).
 */
import { median } from './stats.js';

/** Rounds per comparison: five put a single disturbed round (or two) outside the median. */
export const ROUNDS = 5;

/** The two sides in the order round `round` measures them: `first` on even rounds, `second` first on odd ones. */
export function sidesInOrder<T>(round: number, first: T, second: T): [T, T] {
  return round % 2 === 0 ? [first, second] : [second, first];
}

export interface RoundsSummary {
  /** Median over rounds of the measured side's figure. */
  measured: number;
  /** Median over rounds of the reference's figure. */
  reference: number;
  /** Median of the per-round ratios measured / reference. */
  ratio: number;
  ratioMin: number;
  ratioMax: number;
  /** measured / reference of each round, in round order. */
  roundRatios: number[];
}

/** The summary of per-round figures (higher is better on both sides; the arrays have one entry per round). */
export function summarizeRounds(measured: readonly number[], reference: readonly number[]): RoundsSummary {
  if (measured.length !== reference.length || measured.length === 0) throw new Error(`summarizeRounds: ${measured.length} measured against ${reference.length} reference rounds`);
  const roundRatios = measured.map((m, i) => m / reference[i]);
  return {
    measured: median(measured),
    reference: median(reference),
    ratio: median(roundRatios),
    ratioMin: Math.min(...roundRatios),
    ratioMax: Math.max(...roundRatios),
    roundRatios,
  };
}
