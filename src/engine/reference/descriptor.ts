/**
 * The reference engine's descriptor (src/engine/descriptor.ts): the Llama transformer of
 * --model-path on the CPU. Decisions:
 * - Config: `kernel`, the kernels (native C matmul over the WASM kernels, WASM SIMD, or plain JS;
 *   bit-identical results); native by default, the WASM kernel where it cannot run (the engine says why).
 * - With the native or WASM kernel the pool lives in the kernel's memory, so attention reads pages in place.
 * - Default pool: 256 MiB of KV, at most 65,536 tokens, but always one full context, so any
 *   request the model accepts fits alone.
 */
import { bytesPerToken, gqaLayout, type KvLayout } from '../../kv/layout.js';
import { modelFingerprint } from '../../model/fingerprint.js';
import { heldBytes } from '../../model/held-bytes.js';
import { loadModel } from '../../model/load-model.js';
import { oneOfNames, type EngineDescriptor } from '../descriptor.js';
import type { KernelKind } from './kernels/kernels.js';
import { createWasmKvPool } from './kernels/wasm-arena.js';
import { ReferenceEngine } from './llama-engine.js';

const KERNELS: readonly KernelKind[] = ['native', 'wasm', 'js'];
const POOL_BYTES = 256 * 1024 * 1024;
const POOL_MAX_TOKENS = 65536;
/**
 * A pool in WASM memory (the WASM kernel) shares the wasm32 limit of 4 GiB with the kernel's
 * scratch; 3 GiB leaves it a quarter.
 */
const WASM_POOL_MAX_BYTES = 3 * 1024 * 1024 * 1024;
/** The model name when neither --served-model-name nor --model-path is given (the built-in model). */
const DEFAULT_MODEL_NAME = 'pd-node/tiny';

export type ReferenceConfig = { readonly kernel: KernelKind };

export const referenceEngine: EngineDescriptor<ReferenceConfig> = {
  name: 'reference',
  summary: 'reference runs the Llama transformer of --model-path',
  flags: [
    {
      name: 'kernel',
      field: 'kernel',
      describe: `Reference engine: kernels (${KERNELS.join(', ')}); results are bit-identical. native (C, AVX-512) falls back to wasm where the CPU or the build lacks it.`,
      defaultText: 'native',
      parse: (f, raw) => oneOfNames(f, raw, KERNELS),
    },
  ],
  poolDefault: 'reference: 256 MiB of KV (at most 65,536 tokens) but at least one context',
  config: (given) => ({ kernel: (given.kernel as KernelKind | undefined) ?? 'native' }),
  load(config, ctx) {
    const { config: model, weights, tokenizer } = loadModel(ctx.modelDir, { tokenizerDir: ctx.tokenizerDir });
    const layout = gqaLayout(model.numLayers, model.numKvHeads, model.headDim, 'float32', ctx.pageSize);
    const contextLength = model.maxPositionEmbeddings;
    return {
      layout,
      contextLength,
      tokenizer,
      identity: {
        modelPath: ctx.modelDir,
        servedModelName: ctx.modelPath ?? DEFAULT_MODEL_NAME,
        numLayers: model.numLayers,
        hiddenSize: model.hiddenSize,
        fingerprint: modelFingerprint(ctx.modelDir, ctx.tokenizerDir),
      },
      defaultPoolTokens: Math.max(contextLength, Math.min(POOL_MAX_TOKENS, Math.floor(POOL_BYTES / bytesPerToken(layout)))),
      weightBytes: heldBytes(weights),
      poolMemory: config.kernel !== 'js' ? (l: KvLayout, pages: number) => createWasmKvPool(l, pages) : undefined,
      maxPoolBytes: config.kernel !== 'js' ? WASM_POOL_MAX_BYTES : undefined,
      create(pool) {
        const engine = new ReferenceEngine(model, weights, pool, { kernel: config.kernel, tp: ctx.tpSize, warn: ctx.warn });
        return { engine, logFields: { kernel: engine.kernel, attentionInPlace: engine.attentionInPlace, tp: engine.tp, weightDtypes: engine.weightDtypes, hugePages: engine.hugePages } };
      },
    };
  },
};
