/**
 * Random Llama models in memory for the engine tests and the engine benchmark: a seeded PRNG
 * (mulberry32) so every run builds the same weights, and no model files.
 * Weights are uniform with variance 1/fan_in so activations keep a sane scale through the layers.
 */
import type { ForwardItem } from '../../src/engine/engine.js';
import { presetConfig } from '../../src/model/presets.js';
import type { LayerWeights, LlamaConfig, ModelWeights } from '../../src/model/types.js';

/** Uniform [0, 1) generator, deterministic for a seed. */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * The engine tests' tiny shape: the `tiny` preset's layers and heads (page size is the pool's business,
 * not the config's), with a vocabulary and context of their own, tied embeddings and no special tokens.
 */
export function tinyConfig(overrides: Partial<LlamaConfig> = {}): LlamaConfig {
  return {
    ...presetConfig('tiny'),
    vocabSize: 300,
    maxPositionEmbeddings: 256,
    tieWordEmbeddings: true,
    bosTokenId: null,
    eosTokenIds: [],
    ...overrides,
  };
}

/** Values uniform in [center - halfWidth, center + halfWidth). */
function uniform(rand: () => number, n: number, halfWidth: number, center = 0): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = center + (2 * rand() - 1) * halfWidth;
  return a;
}

export function randomWeights(c: LlamaConfig, seed: number): ModelWeights {
  const rand = prng(seed);
  const { hiddenSize: h, intermediateSize: inter, vocabSize: vocab } = c;
  const q = c.numHeads * c.headDim;
  const kv = c.numKvHeads * c.headDim;
  // variance of U(-a, a) is a^2/3: a = sqrt(3 / fanIn) gives 1/fanIn
  const matrix = (rows: number, cols: number): Float32Array => uniform(rand, rows * cols, Math.sqrt(3 / cols));
  const norm = (): Float32Array => uniform(rand, h, 0.2, 1);
  const embed = uniform(rand, vocab * h, 1);
  const layers: LayerWeights[] = Array.from({ length: c.numLayers }, () => ({
    inputNorm: norm(),
    q: matrix(q, h),
    k: matrix(kv, h),
    v: matrix(kv, h),
    o: matrix(h, q),
    postNorm: norm(),
    gate: matrix(inter, h),
    up: matrix(inter, h),
    down: matrix(h, inter),
  }));
  return { embed, layers, finalNorm: norm(), lmHead: c.tieWordEmbeddings ? embed : matrix(vocab, h) };
}

/** `n` random token ids below `vocab`. */
export function randomTokens(rand: () => number, n: number, vocab: number): Int32Array {
  return Int32Array.from({ length: n }, () => Math.floor(rand() * vocab));
}

/** A prefill/decode item: `tokens` at `startPos`, logits of the last token. */
export function item(tokens: Int32Array, startPos: number, pageTable: Int32Array, logits: ForwardItem['logits'] = 'last'): ForwardItem {
  return { tokens, startPos, pageTable, logits };
}
