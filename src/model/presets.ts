/**
 * Shapes of the models pd-node generates for tests, demos and benchmarks (random weights).
 *
 * Decisions:
 * - `tiny` is sized for fast tests: 2 layers, GQA (4 query heads over 2 KV heads) so grouped attention
 *   is exercised, an intermediate size that is not a multiple of 8 or 16 to catch kernels assuming one,
 *   and vocab 512 = 3 special tokens + 256 bytes + 253 merges.
 * - `small` has the exact shape of SmolLM2-135M, a real model whose checkpoint the same loader reads,
 *   so benchmark numbers are those of a model people run.
 * - `small` ties embeddings like SmolLM2; `tiny` does not: with random weights a tied lm_head mostly
 *   predicts the input token again, and repetitive output would make output-equality tests weak.
 *   (The loader and engine handle both.) BOS is <|endoftext|>; EOS ids are <|endoftext|> and <|im_end|>, so ChatML
 *   conversations stop at the end of the assistant turn.
 * - The default on-disk dtype is float32 for tiny (exact, tiny files) and bfloat16 for small (like
 *   SmolLM2's checkpoint, half the bytes to write and read).
 */
import { BPE_SPECIAL_TOKENS, END_OF_TEXT, IM_END } from './bpe-trainer.js';
import type { StorageDtype } from './tensor-read.js';
import type { LlamaConfig } from './types.js';

export const PRESET_NAMES = ['tiny', 'tiny-8kv', 'small'] as const;
export type PresetName = (typeof PRESET_NAMES)[number];

const BOS_TOKEN_ID = BPE_SPECIAL_TOKENS.indexOf(END_OF_TEXT);
const EOS_TOKEN_IDS = [BPE_SPECIAL_TOKENS.indexOf(END_OF_TEXT), BPE_SPECIAL_TOKENS.indexOf(IM_END)];

const TINY: LlamaConfig = {
  vocabSize: 512,
  hiddenSize: 64,
  intermediateSize: 172,
  numLayers: 2,
  numHeads: 4,
  numKvHeads: 2,
  headDim: 16,
  maxPositionEmbeddings: 2048,
  rmsNormEps: 1e-5,
  ropeTheta: 10000,
  tieWordEmbeddings: false,
  bosTokenId: BOS_TOKEN_ID,
  eosTokenIds: EOS_TOKEN_IDS,
  torchDtype: 'float32' satisfies StorageDtype,
};

const PRESETS: Record<PresetName, LlamaConfig> = {
  tiny: TINY,
  // The tiny model with 8 KV heads: `--tp 8` (SGLang's seed command lines) can split it.
  'tiny-8kv': { ...TINY, hiddenSize: 128, intermediateSize: 256, numHeads: 8, numKvHeads: 8 },
  small: {
    vocabSize: 49152,
    hiddenSize: 576,
    intermediateSize: 1536,
    numLayers: 30,
    numHeads: 9,
    numKvHeads: 3,
    headDim: 64,
    maxPositionEmbeddings: 8192,
    rmsNormEps: 1e-5,
    ropeTheta: 100000,
    tieWordEmbeddings: true,
    bosTokenId: BOS_TOKEN_ID,
    eosTokenIds: EOS_TOKEN_IDS,
    torchDtype: 'bfloat16' satisfies StorageDtype,
  },
};

function isPresetName(name: string): name is PresetName {
  return (PRESET_NAMES as readonly string[]).includes(name);
}

/** The preset's config; its `torchDtype` is the preset's default on-disk dtype. */
export function presetConfig(name: string): LlamaConfig {
  if (!isPresetName(name)) throw new Error(`unknown model preset ${JSON.stringify(name)} (known: ${PRESET_NAMES.join(', ')})`);
  return { ...PRESETS[name], eosTokenIds: [...PRESETS[name].eosTokenIds] };
}
