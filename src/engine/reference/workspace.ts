/**
 * Activation buffers of one forward step, carved out of one kernel-memory block that is reused across
 * steps and replaced by a larger one (at least twice the size) when a step needs more, so steady-state
 * steps allocate nothing in kernel memory. Every buffer starts on a 16-byte boundary.
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
}

export interface StepShape {
  tokens: number;
  logitRows: number;
  /** Most pages and positions any item of the step attends over. */
  maxPages: number;
  maxPositions: number;
  /** Whether attention needs a buffer to copy one layer of an item's pages into. */
  gather: boolean;
}

export interface StepBuffers {
  /** Residual stream [tokens, hidden]. */
  h: Float32Array;
  /** Normed input of a matmul [tokens, hidden]. */
  xn: Float32Array;
  q: Float32Array;
  k: Float32Array;
  v: Float32Array;
  /** Attention output [tokens, qDim]. */
  attn: Float32Array;
  /** O / down projection output [tokens, hidden]. */
  proj: Float32Array;
  gate: Float32Array;
  up: Float32Array;
  /** Final-normed rows that need logits [logitRows, hidden]. */
  xf: Float32Array;
  logits: Float32Array;
  /** Attention scratch (scores and K row addresses). */
  scratch: Float32Array;
  gather: Float32Array;
  /** Attention page table: f32 offset of each page's layer slice in the attended array. */
  table: Int32Array;
}

const pad = (n: number): number => Math.ceil(n / 4) * 4;

export class Workspace {
  private block: Float32Array;

  constructor(private readonly kernels: Kernels, private readonly d: ModelDims) {
    this.block = kernels.alloc(0);
  }

  buffers(s: StepShape): StepBuffers {
    const { hidden, qDim, kvDim, intermediate, vocab, layerPageFloats } = this.d;
    const t = s.tokens;
    const sizes = {
      h: t * hidden, xn: t * hidden, q: t * qDim, k: t * kvDim, v: t * kvDim, attn: t * qDim, proj: t * hidden,
      gate: t * intermediate, up: t * intermediate, xf: s.logitRows * hidden, logits: s.logitRows * vocab,
      scratch: 2 * s.maxPositions + 4, gather: s.gather ? s.maxPages * layerPageFloats : 0, table: s.maxPages,
    };
    const total = Object.values(sizes).reduce((a, n) => a + pad(n), 0);
    if (total > this.block.length) this.block = this.kernels.alloc(Math.max(total, 2 * this.block.length));
    let at = 0;
    const take = (n: number): Float32Array => {
      const view = this.block.subarray(at, at + n);
      at += pad(n);
      return view;
    };
    const f = Object.fromEntries(Object.entries(sizes).map(([name, n]) => [name, take(n)])) as Record<keyof typeof sizes, Float32Array>;
    return { ...f, table: new Int32Array(f.table.buffer, f.table.byteOffset, f.table.length) };
  }
}
