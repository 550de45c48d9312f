/**
 * RMSNorm of one row: dst = src * w / sqrt(mean(src^2) + eps) (Hugging Face LlamaRMSNorm).
 * The sum of squares is a dot product in the kernels' fixed order (dotF32), so it does not depend on
 * the batch; the rest is per element, in f64 rounded once to f32 on store (deterministic, and the same
 * code whichever kernel the engine uses).
 */
import { dotF32 } from './kernels/js-kernels.js';

export function rmsNorm(src: Float32Array, srcOff: number, weight: Float32Array, eps: number, dst: Float32Array, dstOff: number, n: number): void {
  const inv = 1 / Math.sqrt(dotF32(src, srcOff, src, srcOff, n) / n + eps);
  for (let i = 0; i < n; i++) dst[dstOff + i] = src[srcOff + i] * inv * weight[i];
}
