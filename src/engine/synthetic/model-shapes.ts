/**
 * Shapes of real models for the synthetic engine: what decides their KV size per token and their
 * step time (layers, attention geometry, parameter counts), none of their weights.
 *
 * Decisions:
 * - KV is bfloat16 (2 bytes per entry), as these models are served. GQA models keep K and V per KV
 *   head and layer (`gqaLayout`); DeepSeek-V3's MLA keeps one 576-value latent (512 compressed KV +
 *   64 RoPE) per layer (`mlaLayout`): 61 x 576 x 2 = 70,272 B per token.
 * - Llama-architecture shapes (Llama, Qwen2.5, Mixtral) have their parameter counts derived from the
 *   dimensions of their config.json (q/k/v/o, the gated MLP per expert, the embedding and an untied
 *   lm_head; norms and routers are too small to matter): the derived totals match the published ones
 *   (8.03B, 70.6B, 7.6B, 46.7B). DeepSeek-V3's MLA and expert layout do not fit that template, so it
 *   carries its published figures: 671B total, 37B active, 256 routed experts of which 8 per token.
 * - Parameters are split the way a step reads them: `dense` are the matmul weights every token uses
 *   (attention, shared experts, dense MLPs, lm_head), `experts` the routed ones (each token uses
 *   `perToken` of `count`); the input embedding is a row lookup, counted in `total` only.
 * - `attention` is the per-layer geometry that sets attention FLOPs: MLA is counted in its absorbed
 *   form (128 heads score over the 576-wide latent and sum 512-wide values), as decode kernels run it.
 * - Weights are 2 bytes per parameter (bf16), except DeepSeek-V3's 1 (its checkpoint is FP8).
 * - `vocabSize` is the real vocabulary (lm_head cost); the engine's logits use the tokenizer's.
 */
import { gqaLayout, mlaLayout, type KvLayout } from '../../kv/layout.js';

export interface ExpertParams {
  /** Routed experts per MoE layer. */
  count: number;
  /** Experts each token is routed to. */
  perToken: number;
  /** Parameters of one expert index summed over every MoE layer. */
  paramsEach: number;
}

export interface ModelShape {
  readonly name: string;
  /** The Hugging Face model this is the shape of. */
  readonly hfName: string;
  readonly numLayers: number;
  readonly hiddenSize: number;
  readonly vocabSize: number;
  readonly contextLength: number;
  readonly kv: { kind: 'gqa'; kvHeads: number; headDim: number } | { kind: 'mla'; latentDim: number };
  /** Per layer: query heads and the widths they score (q.k) and sum (values) over. */
  readonly attention: { heads: number; qkDim: number; vDim: number };
  readonly params: { total: number; dense: number; lmHead: number; experts: ExpertParams | null };
  readonly weightBytesPerParam: number;
}

interface LlamaDims {
  name: string;
  hfName: string;
  layers: number;
  hidden: number;
  heads: number;
  kvHeads: number;
  headDim: number;
  intermediate: number;
  vocab: number;
  context: number;
  experts?: { count: number; perToken: number };
}

function llamaShape(d: LlamaDims): ModelShape {
  const attention = d.hidden * d.heads * d.headDim * 2 + d.hidden * d.kvHeads * d.headDim * 2;
  const mlp = 3 * d.hidden * d.intermediate;
  const lmHead = d.vocab * d.hidden;
  const expertCount = d.experts?.count ?? 1;
  const dense = d.layers * (attention + (d.experts ? 0 : mlp)) + lmHead;
  const experts = d.experts ? { ...d.experts, paramsEach: d.layers * mlp } : null;
  return {
    name: d.name,
    hfName: d.hfName,
    numLayers: d.layers,
    hiddenSize: d.hidden,
    vocabSize: d.vocab,
    contextLength: d.context,
    kv: { kind: 'gqa', kvHeads: d.kvHeads, headDim: d.headDim },
    attention: { heads: d.heads, qkDim: d.headDim, vDim: d.headDim },
    params: { total: d.layers * (attention + expertCount * mlp) + 2 * lmHead, dense, lmHead, experts },
    weightBytesPerParam: 2,
  };
}

const DEEPSEEK_V3_TOTAL = 671e9;
const DEEPSEEK_V3_ACTIVE = 37e9;
const DEEPSEEK_V3_EXPERTS = { count: 256, perToken: 8 };
// total = dense + count * each and active = dense + perToken * each, so:
const DEEPSEEK_V3_EXPERT_EACH = (DEEPSEEK_V3_TOTAL - DEEPSEEK_V3_ACTIVE) / (DEEPSEEK_V3_EXPERTS.count - DEEPSEEK_V3_EXPERTS.perToken);

const SHAPES: readonly ModelShape[] = [
  {
    name: 'deepseek-v3',
    hfName: 'deepseek-ai/DeepSeek-V3',
    numLayers: 61,
    hiddenSize: 7168,
    vocabSize: 129280,
    contextLength: 163840,
    kv: { kind: 'mla', latentDim: 512 + 64 },
    attention: { heads: 128, qkDim: 512 + 64, vDim: 512 },
    params: {
      total: DEEPSEEK_V3_TOTAL,
      dense: DEEPSEEK_V3_ACTIVE - DEEPSEEK_V3_EXPERTS.perToken * DEEPSEEK_V3_EXPERT_EACH,
      lmHead: 129280 * 7168,
      experts: { ...DEEPSEEK_V3_EXPERTS, paramsEach: DEEPSEEK_V3_EXPERT_EACH },
    },
    weightBytesPerParam: 1,
  },
  llamaShape({ name: 'llama-3.1-8b', hfName: 'meta-llama/Llama-3.1-8B', layers: 32, hidden: 4096, heads: 32, kvHeads: 8, headDim: 128, intermediate: 14336, vocab: 128256, context: 131072 }),
  llamaShape({ name: 'llama-3.1-70b', hfName: 'meta-llama/Llama-3.1-70B', layers: 80, hidden: 8192, heads: 64, kvHeads: 8, headDim: 128, intermediate: 28672, vocab: 128256, context: 131072 }),
  llamaShape({ name: 'qwen2.5-7b', hfName: 'Qwen/Qwen2.5-7B', layers: 28, hidden: 3584, heads: 28, kvHeads: 4, headDim: 128, intermediate: 18944, vocab: 152064, context: 32768 }),
  llamaShape({
    name: 'mixtral-8x7b', hfName: 'mistralai/Mixtral-8x7B-v0.1', layers: 32, hidden: 4096, heads: 32, kvHeads: 8, headDim: 128, intermediate: 14336, vocab: 32000, context: 32768,
    experts: { count: 8, perToken: 2 },
  }),
];

export const MODEL_SHAPE_NAMES: readonly string[] = SHAPES.map((s) => s.name);

/** The shape called `name`, or null. */
export function findModelShape(name: string): ModelShape | null {
  return SHAPES.find((s) => s.name === name) ?? null;
}

/** Parameters one token's forward pass multiplies with (dense matmul weights + its routed experts). */
export function activeParams(shape: ModelShape): number {
  const e = shape.params.experts;
  return shape.params.dense + (e ? e.perToken * e.paramsEach : 0);
}

/** The shape's KV layout in the pool: bfloat16 entries, `pageSize` tokens per page. */
export function shapeLayout(shape: ModelShape, pageSize: number): KvLayout {
  return shape.kv.kind === 'mla'
    ? mlaLayout(shape.numLayers, shape.kv.latentDim, 'bfloat16', pageSize)
    : gqaLayout(shape.numLayers, shape.kv.kvHeads, shape.kv.headDim, 'bfloat16', pageSize);
}
