/**
 * The element-wise steps of a layer as the JS and WASM kernels run them (the native kernel runs
 * native/elementwise.c, bit-identical): RMSNorm, RoPE rotation and the residual add, each over every
 * row of a step in one call.
 *
 * Decisions: per element in f64, rounded once to f32 on store (deterministic, the same on every
 * host); the RMSNorm sum of squares is a dot product in the kernels' fixed order (dotF32), so it does
 * not depend on the batch; RoPE takes the angles' cos / sin from the caller (rope.ts, V8's Math.cos /
 * sin), so no kernel computes a transcendental function of its own there.
 */
import { dotF32 } from './dot-f32.js';

/**
 * Rows r < rows: dst[dstOff + r*ldd ..] = src row * w / sqrt(mean(src row^2) + eps) over n values
 * (Hugging Face LlamaRMSNorm), src rows at srcOff + r*lds.
 */
export function rmsNormRows(src: Float32Array, srcOff: number, lds: number, weight: Float32Array, eps: number, dst: Float32Array, dstOff: number, ldd: number, n: number, rows: number): void {
  for (let r = 0; r < rows; r++) {
    const s = srcOff + r * lds;
    const d = dstOff + r * ldd;
    const inv = 1 / Math.sqrt(dotF32(src, s, src, s, n) / n + eps);
    for (let i = 0; i < n; i++) dst[d + i] = src[s + i] * inv * weight[i];
  }
}

/**
 * Rows r < rows of x (row stride ld, from xOff): `heads` consecutive heads rotated by row r's angles
 * (cos / sin at r * headDim/2 + i pair dimension i with i + headDim/2, the `rotate_half` convention).
 */
export function ropeRows(x: Float32Array, xOff: number, ld: number, rows: number, heads: number, headDim: number, cos: Float64Array, sin: Float64Array): void {
  const half = headDim / 2;
  for (let r = 0; r < rows; r++) {
    for (let h = 0; h < heads; h++) {
      const base = xOff + r * ld + h * headDim;
      for (let i = 0; i < half; i++) {
        const c = cos[r * half + i];
        const s = sin[r * half + i];
        const a = x[base + i];
        const b = x[base + i + half];
        x[base + i] = a * c - b * s;
        x[base + i + half] = b * c + a * s;
      }
    }
  }
}

/** Rows r < rows: h[hOff + r*ldh + i] += p[r*n + i] for i < n. */
export function addRows(h: Float32Array, hOff: number, ldh: number, p: Float32Array, n: number, rows: number): void {
  for (let r = 0; r < rows; r++) {
    const d = hOff + r * ldh;
    const s = r * n;
    for (let i = 0; i < n; i++) h[d + i] += p[s + i];
  }
}
