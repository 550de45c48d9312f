/**
 * One rank's part of a forward step (the whole step when `--tp 1`): the layer loop of the Llama
 * decoder over the rank's slice of the weights (tensor-parallel/tp-plan.ts), reading and writing the
 * step's buffers (workspace.ts) and the KV pool. The calling thread runs rank 0; with `--tp N` worker
 * threads run ranks 1..N-1 with this same code, and `sync` is the barrier between phases whose
 * inputs other ranks write (Q and K/V before an evenly split attention, gathered attention output,
 * residual stream, MLP activation, logits); with one rank it does nothing.
 *
 * Every output value is computed by exactly one rank with the same kernel call shape as with one
 * rank (a whole dot product in the kernels' order; element-wise math per element), so the results do
 * not depend on N. Norms are recomputed by every rank (cheap next to the matmuls, and it saves a
 * barrier per norm). Every step of a layer is one kernel call over all the step's rows (the native
 * kernel's are C calls, so a layer makes a fixed number of them whatever the batch).
 */
import type { KvLayout } from '../../kv/layout.js';
import type { LlamaConfig } from '../../model/types.js';
import { AttentionCall } from './kernels/attention-call.js';
import type { Kernels } from './kernels/kernels.js';
import type { WeightMatrix } from './kernels/weight-storage.js';
import { Rope } from './rope.js';
import type { StepItem, StepPlan } from './step-plan.js';
import type { RankSlice } from './tensor-parallel/tp-plan.js';
import type { StepBuffers } from './workspace.js';

/** A rank's rows of one layer's matrices, in kernel memory, plus the (whole) norm weights. */
export interface ShardLayer {
  inputNorm: Float32Array;
  postNorm: Float32Array;
  q: WeightMatrix;
  k: WeightMatrix;
  v: WeightMatrix;
  o: WeightMatrix;
  gate: WeightMatrix;
  up: WeightMatrix;
  down: WeightMatrix;
}

export interface ShardWeights {
  layers: ShardLayer[];
  finalNorm: Float32Array;
  /** The rank's vocab rows of lm_head. */
  lmHead: WeightMatrix;
}

/** Where the KV pool is and how attention reads it. */
export interface ShardPool {
  layout: KvLayout;
  /** The whole pool as f32. */
  kv: Float32Array;
  pageFloats: number;
  /** Whether the kernels read `kv` directly (else each item's pages of a layer are copied first). */
  inPlace: boolean;
}

const pad4 = (n: number): number => Math.ceil(n / 4) * 4;

/**
 * With `--tp`, steps of at least this many rows split attention evenly over the ranks instead of by
 * KV head: a rank owns whole KV heads, which split unevenly when N does not divide them (SmolLM2's
 * 3 over 2 ranks: the rank with one head waited 117-153 ms of a 600 ms 512-token prefill at the
 * barriers, 56-75 ms with this; what remains is its share of the Q/K/V matmuls). It costs one more
 * barrier per layer, which a decode batch's few short attention calls would not pay back.
 */
export const BALANCED_ATTENTION_MIN_ROWS = 16;

export class Shard {
  private readonly rope: Rope;
  /** The attention calls' record: bound to the step's buffers in `run`, its page table filled per item and layer. */
  private readonly call: AttentionCall;

  constructor(
    private readonly config: LlamaConfig,
    private readonly slice: RankSlice,
    private readonly kernels: Kernels,
    private readonly w: ShardWeights,
    private readonly pool: ShardPool,
    private readonly sync: () => void,
  ) {
    const { numHeads, numKvHeads, headDim } = config;
    const kvDim = numKvHeads * headDim;
    this.rope = new Rope(headDim, config.ropeTheta);
    const geometry = { pageSize: pool.layout.pageSize, tokenStride: 2 * kvDim, vOffset: kvDim, headDim, scale: Math.fround(1 / Math.sqrt(headDim)) };
    // the query heads of one KV head per call (a rank owns whole groups), which shares the K/V loads
    this.call = new AttentionCall(geometry, numHeads / numKvHeads);
  }

  /** Runs the step; on return (after the last barrier) every rank's logits are in `b.logits`. */
  run(plan: StepPlan, b: StepBuffers): void {
    const { hiddenSize: H, vocabSize: V, rmsNormEps: eps } = this.config;
    const { cos, sin } = this.rope.angles(plan.positions);
    const c = this.call;
    c.q = b.q;
    c.out = b.attn;
    c.scratch = b.scratch;
    c.usePages(this.pool.inPlace ? this.pool.kv : b.gather, b.table);
    this.w.layers.forEach((layer, l) => this.layer(l, layer, plan, b, cos, sin));
    const rows = plan.logitRows.length;
    for (let i = 0; i < rows; i++) this.kernels.rmsNorm(b.h, plan.logitRows[i] * H, H, this.w.finalNorm, eps, b.xf, i * H, H, H, 1);
    const [v0, v1] = this.slice.vocab;
    if (rows > 0) this.kernels.matmul(this.w.lmHead, b.xf, b.logits.subarray(v0), v1 - v0, rows, H, V);
    this.sync();
  }

  private layer(l: number, w: ShardLayer, plan: StepPlan, b: StepBuffers, cos: Float64Array, sin: Float64Array): void {
    const { hiddenSize: H, intermediateSize: I, numHeads, headDim, rmsNormEps: eps } = this.config;
    const s = this.slice;
    const T = plan.tokens;
    const heads = s.heads[1] - s.heads[0];
    const kvHeads = s.kvHeads[1] - s.kvHeads[0];
    const [qDim, qR, kvR, iR] = [numHeads * headDim, heads * headDim, kvHeads * headDim, s.inter[1] - s.inter[0]];
    const k = this.kernels;
    k.rmsNorm(b.h, 0, H, w.inputNorm, eps, b.xn, 0, H, H, T);
    // the rank's heads' columns of the (with --tp, shared) Q of every head
    const q0 = s.heads[0] * headDim;
    k.matmul(w.q, b.xn, b.q.subarray(q0), qR, T, H, qDim);
    k.matmul(w.k, b.xn, b.k, kvR, T, H);
    k.matmul(w.v, b.xn, b.v, kvR, T, H);
    k.rope(b.q, q0, qDim, T, heads, headDim, cos, sin);
    k.rope(b.k, 0, kvR, T, kvHeads, headDim, cos, sin);
    // Every item's new K/V goes into the pool before any attention reads it.
    for (const item of plan.items) this.writeKv(l, item, b, kvR);
    const balanced = s.tp > 1 && T >= BALANCED_ATTENTION_MIN_ROWS;
    if (balanced) this.sync(); // every head's Q and K/V, which any rank may now attend
    for (const item of plan.items) this.attention(l, item, b, qDim, balanced);
    this.sync(); // attention output of every head
    this.project(w.o, b.attn, qDim, b, T);
    this.sync(); // residual stream after attention
    k.rmsNorm(b.h, 0, H, w.postNorm, eps, b.xn, 0, H, H, T);
    k.matmul(w.gate, b.xn, b.gate, iR, T, H);
    k.matmul(w.up, b.xn, b.up, iR, T, H);
    k.siluMul(b.gate, b.up, pad4(T * iR));
    if (s.tp > 1) {
      for (let t = 0; t < T; t++) b.inter.set(b.gate.subarray(t * iR, t * iR + iR), t * I + s.inter[0]);
      this.sync(); // MLP activation of every column
    }
    this.project(w.down, b.inter, I, b, T);
    this.sync(); // residual stream after the MLP
  }

  /** h[:, hidden block] += x W^T for the rank's rows of an output projection W over input width n. */
  private project(wRows: WeightMatrix, x: Float32Array, n: number, b: StepBuffers, T: number): void {
    const H = this.config.hiddenSize;
    const [a, z] = this.slice.hidden;
    const hR = z - a;
    this.kernels.matmul(wRows, x, b.proj, hR, T, n);
    this.kernels.addRows(b.h, a, H, b.proj, hR, T);
  }

  /** f32 offset in the pool of (layer l, position pos) of an item: its K row; V follows after kvDim. */
  private slotOffset(item: StepItem, l: number, pos: number): number {
    const { pageSize, entriesPerToken } = this.pool.layout;
    return item.pageTable[Math.floor(pos / pageSize)] * this.pool.pageFloats + (l * pageSize + (pos % pageSize)) * entriesPerToken;
  }

  /** The rank's K/V heads of each token of `item` into the pool. */
  private writeKv(l: number, item: StepItem, b: StepBuffers, kvR: number): void {
    const kvDim = this.call.vOffset;
    const head0 = this.slice.kvHeads[0] * this.config.headDim;
    const kv = this.pool.kv;
    for (let t = 0; t < item.tokens; t++) {
      const at = this.slotOffset(item, l, item.startPos + t) + head0;
      const r = (item.row0 + t) * kvR;
      kv.set(b.k.subarray(r, r + kvR), at);
      kv.set(b.v.subarray(r, r + kvR), at + kvDim);
    }
  }

  /** `balanced`: this rank's share of every (row, KV head) pair (Q and K/V of every head are in place); else its own KV heads. */
  private attention(l: number, item: StepItem, b: StepBuffers, qDim: number, balanced: boolean): void {
    const { headDim } = this.config;
    const c = this.call;
    const pages = Math.ceil((item.startPos + item.tokens) / c.pageSize);
    const slice = c.pageSize * c.tokenStride;
    const { kv: pool, inPlace } = this.pool;
    // setPage checks each entry against the attended array once here, not on every call below
    for (let i = 0; i < pages; i++) {
      const src = this.slotOffset(item, l, i * c.pageSize);
      if (inPlace) {
        c.setPage(i, src);
      } else {
        b.gather.set(pool.subarray(src, src + slice), i * slice);
        c.setPage(i, i * slice);
      }
    }
    const group = c.heads;
    const { numKvHeads } = this.config;
    const { rank, tp } = this.slice;
    // balanced: every rank takes every tp-th (row, KV head) pair of the step, so neighbouring pairs
    // (about the same positions) go to different ranks; else the rank's own KV heads
    const [kv0, kv1] = balanced ? [0, numKvHeads] : this.slice.kvHeads;
    for (let t = 0; t < item.tokens; t++) {
      const row = item.row0 + t;
      c.nPos = item.startPos + t + 1;
      for (let kvHead = kv0; kvHead < kv1; kvHead++) {
        if (balanced && (row * numKvHeads + kvHead) % tp !== rank) continue;
        const h = kvHead * group;
        c.qOff = row * qDim + h * headDim;
        c.kOff = kvHead * headDim;
        c.outOff = row * qDim + h * headDim;
        this.kernels.attend(c);
      }
    }
  }
}
