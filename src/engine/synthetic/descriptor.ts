/**
 * The synthetic engine's descriptor (src/engine/descriptor.ts): no weights, the KV sizes and
 * roofline step times of a real model shape on a modelled GPU; the model directory (--model-path,
 * default: the built-in tiny model's) only provides the tokenizer. Decisions:
 * - Config: `modelShape` (required: there is no sensible default size) and `gpu` (default h100).
 * - The fingerprint hashes the shape and the tokenizer (src/model/fingerprint.ts), so nodes of
 *   different shapes refuse each other; the GPU is not part of it (mixed clusters work).
 * - Default pool: 16,384 tokens (four 4k-token requests), at most 2 GiB of KV. A shape's context
 *   (128k tokens of 128 KiB for Llama-3.1-8B = 16 GiB) would not fit a host, so longer requests
 *   are refused naming --max-total-tokens.
 */
import { bytesPerToken } from '../../kv/layout.js';
import { syntheticFingerprint } from '../../model/fingerprint.js';
import { HfTokenizer } from '../../model/tokenizer.js';
import { oneOfNames, type EngineDescriptor } from '../descriptor.js';
import { GPU_NAMES, gpuGroup, MAX_GPU_COUNT, parseGpu, type GpuSpec } from './gpus.js';
import { findModelShape, MODEL_SHAPE_NAMES, shapeLayout } from './model-shapes.js';
import { SyntheticEngine } from './synthetic-engine.js';

const POOL_BYTES = 2 * 1024 * 1024 * 1024;
const POOL_MAX_TOKENS = 16384;
const DEFAULT_GPU = 'h100';

export type SyntheticConfig = { readonly modelShape: string; readonly gpu: string };

export const syntheticEngine: EngineDescriptor<SyntheticConfig> = {
  name: 'synthetic',
  summary:
    "synthetic does no math, writing KV of --model-shape's real size (verified by decode nodes) and taking its roofline step times on --gpu, with the tokenizer of --model-path (default: the built-in tiny model's), so input_ids must be below that vocabulary",
  flags: [
    {
      name: 'model-shape',
      field: 'modelShape',
      describe: `Synthetic engine: the model whose KV sizes and step times it takes (${MODEL_SHAPE_NAMES.join(', ')}).`,
      defaultText: 'none (required with --engine synthetic)',
      parse: (f, raw) => oneOfNames(f, raw, MODEL_SHAPE_NAMES),
    },
    {
      name: 'gpu',
      field: 'gpu',
      describe: `Synthetic engine: the GPU its roofline models (${GPU_NAMES.join(', ')}), or COUNTxNAME for an ideal tensor-parallel group (8xh100).`,
      defaultText: DEFAULT_GPU,
      parse: (f, raw) => {
        if (!parseGpu(raw)) throw new Error(`${f} must be one of ${GPU_NAMES.join(', ')}, optionally as COUNTxNAME with COUNT 1-${MAX_GPU_COUNT} (got "${raw}")`);
        return raw;
      },
    },
  ],
  poolDefault: 'synthetic: 16,384 tokens, at most 2 GiB of KV',
  config(given) {
    if (typeof given.modelShape !== 'string') throw new Error(`--engine synthetic needs --model-shape (one of ${MODEL_SHAPE_NAMES.join(', ')})`);
    return { modelShape: given.modelShape, gpu: (given.gpu as string | undefined) ?? DEFAULT_GPU };
  },
  checkTp(config, tp) {
    groupOf(config, tp);
  },
  load(config, ctx) {
    // Both checked by the flags' parsers before the config got here.
    const shape = findModelShape(config.modelShape)!;
    const gpu = groupOf(config, ctx.tpSize);
    const tokenizer = HfTokenizer.fromDir(ctx.tokenizerDir);
    const layout = shapeLayout(shape, ctx.pageSize);
    const name = `synthetic/${shape.name}`;
    return {
      layout,
      contextLength: shape.contextLength,
      tokenizer,
      identity: { modelPath: name, servedModelName: name, numLayers: shape.numLayers, hiddenSize: shape.hiddenSize, fingerprint: syntheticFingerprint(shape, ctx.tokenizerDir) },
      defaultPoolTokens: Math.min(POOL_MAX_TOKENS, Math.floor(POOL_BYTES / bytesPerToken(layout))),
      // No weights: --mem-fraction-static gives the pool the whole fraction.
      weightBytes: 0,
      create(pool) {
        const outputTokenIds: number[] = [];
        for (let id = 0; id < tokenizer.vocabSize; id++) if (!tokenizer.isSpecial(id)) outputTokenIds.push(id);
        const engine = new SyntheticEngine(pool, { shape, gpu, vocabSize: tokenizer.vocabSize, outputTokenIds, warn: ctx.warn });
        return { engine, logFields: { modelShape: shape.name, gpu: gpu.name, tokenizer: ctx.tokenizerDir } };
      },
    };
  },
};

/** `--gpu` with `--tp N`: N GPUs (a bare NAME becomes NxNAME; a COUNTxNAME must agree). */
function groupOf(config: SyntheticConfig, tp: number): GpuSpec {
  const group = gpuGroup(config.gpu, tp);
  if (typeof group === 'string') throw new Error(group);
  // The flag's parser accepted the name.
  return group!;
}
