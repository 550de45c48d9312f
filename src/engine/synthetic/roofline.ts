/**
 * Roofline step time of a model shape on a GPU: a forward step takes
 *
 *   time = max(flops / peakFlops, bytes / hbmBandwidth)
 *
 * over the whole batch (T tokens, of which R need logits), with
 *
 *   flops = 2 * (activeParams - lmHead) * T + 2 * lmHead * R                 (matmuls)
 *         + 2 * layers * heads * (qkDim + vDim) * sum over tokens of context  (attention: q.k and p.v)
 *   bytes = weightBytesPerParam * (dense + experts * paramsEach * touched(T)) (weights, read once per step)
 *         + kvBytesPerToken * sum over items of (context read + tokens written)
 *
 * where a token at position p attends over p + 1 positions, and with routed experts a step reads
 * only the experts its tokens were routed to: with uniform routing, touched(T) = 1 - (1 - k/E)^T of
 * them. Decisions: no kernel efficiency factor and no launch overhead (an ideal GPU; real ones
 * reach 50-80% of these figures); the input embedding is a row lookup and costs nothing; attention
 * reads each item's KV once per step (flash attention over a whole chunk).
 */
import type { ForwardItem } from '../engine.js';
import { bytesPerToken } from '../../kv/layout.js';
import type { GpuSpec } from './gpus.js';
import { activeParams, shapeLayout, type ModelShape } from './model-shapes.js';

export interface StepCost {
  flops: number;
  bytes: number;
  seconds: number;
}

/** What the roofline needs of a forward item. */
export type CostedItem = Pick<ForwardItem, 'startPos' | 'logits'> & { tokens: { length: number } };

export class Roofline {
  private readonly matmulFlopsPerToken: number;
  private readonly lmHeadFlopsPerRow: number;
  private readonly attentionFlopsPerContext: number;
  private readonly denseWeightBytes: number;
  private readonly expertWeightBytes: number;
  private readonly expertMissRate: number;
  private readonly kvBytesPerToken: number;

  constructor(shape: ModelShape, private readonly gpu: GpuSpec) {
    const { params, attention } = shape;
    this.matmulFlopsPerToken = 2 * (activeParams(shape) - params.lmHead);
    this.lmHeadFlopsPerRow = 2 * params.lmHead;
    this.attentionFlopsPerContext = 2 * shape.numLayers * attention.heads * (attention.qkDim + attention.vDim);
    this.denseWeightBytes = shape.weightBytesPerParam * params.dense;
    const e = params.experts;
    this.expertWeightBytes = e ? shape.weightBytesPerParam * e.count * e.paramsEach : 0;
    this.expertMissRate = e ? 1 - e.perToken / e.count : 1;
    this.kvBytesPerToken = bytesPerToken(shapeLayout(shape, 1));
  }

  cost(items: readonly CostedItem[]): StepCost {
    let tokens = 0;
    let logitRows = 0;
    let contexts = 0;
    let kvTokens = 0;
    for (const it of items) {
      const n = it.tokens.length;
      const s = it.startPos;
      tokens += n;
      logitRows += it.logits === 'all' ? n : it.logits === 'last' ? 1 : 0;
      // sum over p in [s, s + n) of (p + 1)
      contexts += n * s + (n * (n + 1)) / 2;
      kvTokens += s + 2 * n;
    }
    if (tokens === 0) return { flops: 0, bytes: 0, seconds: 0 };
    const flops = this.matmulFlopsPerToken * tokens + this.lmHeadFlopsPerRow * logitRows + this.attentionFlopsPerContext * contexts;
    const touched = 1 - this.expertMissRate ** tokens;
    const bytes = this.denseWeightBytes + this.expertWeightBytes * touched + this.kvBytesPerToken * kvTokens;
    return { flops, bytes, seconds: Math.max(flops / this.gpu.peakFlops, bytes / this.gpu.hbmBandwidth) };
  }
}
