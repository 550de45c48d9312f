/**
 * Synthetic prompts from a seed. Decisions:
 * - Prompts are token ids drawn uniformly from the model's vocabulary and sent as `input_ids`, so the
 *   prompt length is exact (no tokenizer round trip) and any model works, including engines without
 *   a tokenizer.
 * - Lengths are uniform in an inclusive range: `--input-len 256 --random-range-ratio 0.5` means
 *   [128, 256] as in SGLang's bench_serving, and `--input-len 128-256` says the same directly.
 * - The prefill-heavy mix (`--dataset mix`): each request is, with probability `--long-fraction`, a
 *   long prompt with a short output (prefill work) and otherwise a short prompt with a long output
 *   (decode work), so long prompts keep arriving while short ones decode: the load under which a
 *   colocated node's prefills stall its decodes.
 * - One seeded stream per dataset, independent of the arrival stream: the same seed gives the same
 *   prompts whatever the request rate.
 */
import { Prng } from '../../src/random/prng.js';
import type { BenchPrompt, LengthRange, PromptKind } from './dataset.js';

export interface RandomSpec {
  input: LengthRange;
  output: LengthRange;
}

export interface MixSpec {
  short: RandomSpec;
  long: RandomSpec;
  /** Probability that a request is long, in [0, 1]. */
  longFraction: number;
}

function lengthIn(rng: Prng, range: LengthRange): number {
  return range.min + Math.floor(rng.nextFloat() * (range.max - range.min + 1));
}

function randomPrompt(rng: Prng, spec: RandomSpec, vocabSize: number, kind: PromptKind): BenchPrompt {
  const inputLen = lengthIn(rng, spec.input);
  const outputLen = lengthIn(rng, spec.output);
  const inputIds = new Array<number>(inputLen);
  for (let i = 0; i < inputLen; i++) inputIds[i] = rng.nextUint32() % vocabSize;
  return { kind, input: { inputIds }, inputLen, outputLen };
}

export function randomDataset(count: number, spec: RandomSpec, vocabSize: number, seed: number): BenchPrompt[] {
  const rng = new Prng(seed, 'pd-bench-random-dataset');
  return Array.from({ length: count }, () => randomPrompt(rng, spec, vocabSize, 'random'));
}

export function mixDataset(count: number, spec: MixSpec, vocabSize: number, seed: number): BenchPrompt[] {
  const rng = new Prng(seed, 'pd-bench-mix-dataset');
  return Array.from({ length: count }, () => (rng.nextFloat() < spec.longFraction ? randomPrompt(rng, spec.long, vocabSize, 'long') : randomPrompt(rng, spec.short, vocabSize, 'short')));
}

/** `[round(n * ratio), n]`, at least 1: bench_serving's --random-range-ratio. */
export function rangeFromRatio(n: number, ratio: number): LengthRange {
  return { min: Math.max(1, Math.round(n * ratio)), max: n };
}
