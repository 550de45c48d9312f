/**
 * Plain JS kernels, bit-identical to the WebAssembly SIMD kernels of kernel-module.ts: the same four
 * lane accumulators, the same lane reduction, the same exp, with Math.fround after every f32
 * operation (a product or sum of two f32 values computed in f64 and rounded once equals the f32
 * operation, so fround reproduces it exactly). Used when WebAssembly SIMD is unavailable, as the
 * readable statement of the kernels' order (the dot product's is dot-f32.ts).
 */
import type { AttentionCall } from './attention-call.js';
import { dotF32 } from './dot-f32.js';
import { addRows, rmsNormRows, ropeRows } from './elementwise.js';
import { EXP } from './kernel-module.js';
import type { Kernels } from './kernels.js';
import type { WeightMatrix } from './weight-storage.js';

const fr = Math.fround;

const MIN_ARG = fr(EXP.minArg);
const LOG2E = fr(EXP.log2e);
const LN2_HI = fr(EXP.ln2Hi);
const LN2_LO = fr(EXP.ln2Lo);
const POLY = EXP.poly.map(fr);

/** The WASM kernel's exp, step by step (argument x <= 0). */
export function expF32(x: number): number {
  if (x < MIN_ARG) return 0;
  const t = Math.floor(fr(fr(x * LOG2E) + 0.5));
  const r = fr(fr(x - fr(t * LN2_HI)) - fr(t * LN2_LO));
  let p = POLY[0];
  for (let i = 1; i < POLY.length; i++) p = fr(fr(p * r) + POLY[i]);
  return fr(p * 2 ** t);
}

/** silu(g) = g * sigmoid(g) as the WASM kernel computes it: e = exp(-|g|), g * (g >= 0 ? 1 : e) / (1 + e). */
export function siluF32(g: number): number {
  const e = expF32(-Math.abs(g));
  return fr(g * fr((g >= 0 ? 1 : e) / fr(1 + e)));
}

/** Where position j's K row starts in `c.kv`. */
function kRow(c: AttentionCall, j: number): number {
  return c.table[Math.floor(j / c.pageSize)] + c.kOff + (j % c.pageSize) * c.tokenStride;
}

export class JsKernels implements Kernels {
  readonly kind = 'js';

  alloc(length: number): Float32Array {
    return new Float32Array(length);
  }

  adopt(a: Float32Array): Float32Array {
    return a;
  }

  /** Always f32: this kernel computes on f32 arrays (16-bit storage is the WASM kernel's). */
  adoptWeights(a: Float32Array): WeightMatrix {
    return { dtype: 'f32', packed: false, data: a };
  }

  canRead(): boolean {
    return true;
  }

  matmul(weights: WeightMatrix, x: Float32Array, y: Float32Array, nOut: number, nRows: number, n: number, ldy = nOut): void {
    const w = weights.data as Float32Array;
    for (let o = 0; o < nOut; o++) {
      const wo = o * n;
      for (let r = 0; r < nRows; r++) y[r * ldy + o] = dotF32(w, wo, x, r * n, n);
    }
  }

  siluMul(gate: Float32Array, up: Float32Array, n: number): void {
    for (let i = 0; i < n; i++) gate[i] = fr(siluF32(gate[i]) * up[i]);
  }

  rmsNorm(src: Float32Array, srcOff: number, lds: number, weight: Float32Array, eps: number, dst: Float32Array, dstOff: number, ldd: number, n: number, rows: number): void {
    rmsNormRows(src, srcOff, lds, weight, eps, dst, dstOff, ldd, n, rows);
  }

  rope(x: Float32Array, xOff: number, ld: number, rows: number, heads: number, headDim: number, cos: Float64Array, sin: Float64Array): void {
    ropeRows(x, xOff, ld, rows, heads, headDim, cos, sin);
  }

  addRows(h: Float32Array, hOff: number, ldh: number, p: Float32Array, n: number, rows: number): void {
    addRows(h, hOff, ldh, p, n, rows);
  }

  attend(c: AttentionCall): void {
    const { q, kv, out, heads, nPos, headDim, vOffset, scale } = c;
    const scores = c.scratch;
    // Head by head, each in the kernels' order (kernel-module.ts); the WASM kernel follows it for each of its heads.
    for (let h = 0; h < heads; h++) {
      const qh = c.qOff + h * headDim;
      const oh = c.outOff + h * headDim;
      let m = -Infinity;
      for (let j = 0; j < nPos; j++) {
        const s = fr(dotF32(q, qh, kv, kRow(c, j), headDim) * scale);
        scores[j] = s;
        m = Math.max(m, s);
      }
      let sum = 0;
      for (let j = 0; j < nPos; j++) {
        const e = expF32(fr(scores[j] - m));
        scores[j] = e;
        sum = fr(sum + e);
      }
      out.fill(0, oh, oh + headDim);
      for (let j = 0; j < nPos; j++) {
        const p = scores[j];
        const v = kRow(c, j) + vOffset;
        for (let d = 0; d < headDim; d++) out[oh + d] = fr(out[oh + d] + fr(p * kv[v + d]));
      }
      for (let d = 0; d < headDim; d++) out[oh + d] = fr(out[oh + d] / sum);
    }
  }
}
