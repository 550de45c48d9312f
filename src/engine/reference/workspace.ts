/**
 * Activation buffers of one forward step, carved out of one kernel-memory block that is reused across
 * steps and replaced by a larger one (at least twice the size) when a step needs more, so steady-state
 * steps allocate nothing in kernel memory. Every buffer starts on a 16-byte boundary and is padded to
 * a multiple of 4 values (kernels may touch the padding lanes).
 *
 * With `--tp N` the block holds the buffers every rank reads (the residual stream, the gathered
 * attention output and MLP activation, the logits, the step descriptor) followed by N sets of
 * per-rank buffers; `carve` is a pure function of the block and the step shape, so every rank's
 * thread finds the same layout from the few numbers rank 0 publishes.
 */
import type { Kernels } from './kernels/kernels.js';

export interface ModelDims {
  hidden: number;
  qDim: number;
  kvDim: number;
  intermediate: number;
  vocab: number;
  /** f32 values of one layer in one page (pageSize * entries per token). */
  layerPageFloats: number;
  tp: number;
  /** Query heads per KV head: the most heads one attention call computes (its scratch holds their scores). */
  groupHeads: number;
  /** Largest per-rank share of each split dimension (ranks may differ by a row). */
  rankKv: number;
  rankInter: number;
  rankHidden: number;
}

export interface StepShape {
  tokens: number;
  logitRows: number;
  /** Most pages and positions any item of the step attends over. */
  maxPages: number;
  maxPositions: number;
  /** Whether attention needs a buffer to copy one layer of an item's pages into. */
  gather: boolean;
  /** Int32 values of the step descriptor (step-plan.ts). */
  descInts: number;
}

export interface StepBuffers {
  /** Shared: residual stream [tokens, hidden]. */
  h: Float32Array;
  /** Shared: attention output of every head [tokens, qDim]. */
  attn: Float32Array;
  /** Shared: SwiGLU activation [tokens, intermediate] (tp 1: the rank's `gate` itself). */
  inter: Float32Array;
  /** Shared: logits [logitRows, vocab]. */
  logits: Float32Array;
  /** Shared: the step descriptor. */
  desc: Int32Array;
  /** Rank: normed input of a matmul [tokens, hidden]. */
  xn: Float32Array;
  /** Q of every head [tokens, qDim], each rank writing its heads' columns: shared with `--tp` (any rank may attend any head, shard.ts). */
  q: Float32Array;
  /** Rank: its KV heads' K and V [tokens, rankKv]. */
  k: Float32Array;
  v: Float32Array;
  /** Rank: its hidden block of the O / down projection [tokens, its hidden rows]. */
  proj: Float32Array;
  /** Rank: its intermediate columns [tokens, its columns]. */
  gate: Float32Array;
  up: Float32Array;
  /** Rank: final-normed rows that need logits [logitRows, hidden]. */
  xf: Float32Array;
  /** Rank: attention scratch (scores of a KV group's heads and K row addresses). */
  scratch: Float32Array;
  gather: Float32Array;
  /** Rank: attention page table: f32 offset of each page's layer slice in the attended array. */
  table: Int32Array;
}

const pad = (n: number): number => Math.ceil(n / 4) * 4;

function sharedSizes(d: ModelDims, s: StepShape): Record<'h' | 'attn' | 'inter' | 'logits' | 'desc' | 'qAll', number> {
  const t = s.tokens;
  const tp = d.tp > 1;
  return { h: t * d.hidden, attn: t * d.qDim, inter: tp ? t * d.intermediate : 0, logits: s.logitRows * d.vocab, desc: s.descInts, qAll: tp ? t * d.qDim : 0 };
}

function rankSizes(d: ModelDims, s: StepShape): Record<Exclude<keyof StepBuffers, keyof ReturnType<typeof sharedSizes>>, number> {
  const t = s.tokens;
  return {
    xn: t * d.hidden, q: d.tp > 1 ? 0 : t * d.qDim, k: t * d.rankKv, v: t * d.rankKv, proj: t * d.rankHidden, gate: t * d.rankInter, up: t * d.rankInter,
    xf: s.logitRows * d.hidden, scratch: d.groupHeads * pad(s.maxPositions) + s.maxPositions, gather: s.gather ? s.maxPages * d.layerPageFloats : 0, table: s.maxPages,
  };
}

const total = (sizes: Record<string, number>): number => Object.values(sizes).reduce((a, n) => a + pad(n), 0);

/** f32 values of the block a step of shape `s` needs (shared buffers and every rank's). */
export function blockFloats(d: ModelDims, s: StepShape): number {
  return total(sharedSizes(d, s)) + d.tp * total(rankSizes(d, s));
}

/** Rank `rank`'s view of a block laid out for `s` (see `blockFloats`). */
export function carve(block: Float32Array, d: ModelDims, s: StepShape, rank: number): StepBuffers {
  let at = 0;
  const take = <K extends string>(sizes: Record<K, number>): Record<K, Float32Array> => {
    const out = {} as Record<K, Float32Array>;
    for (const name of Object.keys(sizes) as K[]) {
      out[name] = block.subarray(at, at + pad(sizes[name]));
      at += pad(sizes[name]);
    }
    return out;
  };
  const shared = take(sharedSizes(d, s));
  const rs = rankSizes(d, s);
  at += rank * total(rs);
  const own = take(rs);
  const ints = (a: Float32Array): Int32Array => new Int32Array(a.buffer, a.byteOffset, a.length);
  const { qAll, ...rest } = shared;
  return { ...rest, ...own, inter: d.tp > 1 ? shared.inter : own.gate, q: d.tp > 1 ? qAll : own.q, desc: ints(shared.desc), table: ints(own.table) };
}

export class Workspace {
  private block: Float32Array;

  constructor(private readonly kernels: Kernels, private readonly d: ModelDims) {
    this.block = kernels.alloc(0);
  }

  /** The block for a step of shape `s` (grown if needed) and rank 0's buffers in it. */
  buffers(s: StepShape): { block: Float32Array; b: StepBuffers } {
    const need = blockFloats(this.d, s);
    if (need > this.block.length) this.block = this.kernels.alloc(Math.max(need, 2 * this.block.length));
    return { block: this.block, b: carve(this.block, this.d, s, 0) };
  }
}
