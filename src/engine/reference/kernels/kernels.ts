/**
 * The compute kernels the reference engine runs on: matmul, paged attention, the SwiGLU activation and the element-wise steps
 * of a layer (RMSNorm, RoPE rotation, residual add). Three implementations (native C over the WASM kernels, WebAssembly SIMD,
 * plain JS; the element-wise steps are shared JS code, elementwise.ts, except in C) produce bit-identical results, so the
 * engine output does not depend on the kernel.
 *
 * Arrays are passed as typed-array views; the WASM kernel requires views it allocated (`alloc`,
 * `adopt`) or buffers it `canRead`, and uses their byteOffset as the address.
 */

import type { AttentionCall } from './attention-call.js';
import type { WeightMatrix, WeightStorage } from './weight-storage.js';

export type KernelKind = 'native' | 'wasm' | 'js';

export interface Kernels {
  readonly kind: KernelKind;
  /** A zeroed f32 array the kernel can read and write. */
  alloc(length: number): Float32Array;
  /** An array with the contents of `a` that the kernel can read (a copy, or `a` itself). */
  adopt(a: Float32Array): Float32Array;
  /** A weight matrix with the values of `a` ([rows, n] row-major), stored as `storage` allows (weight-storage.ts). */
  adoptWeights(a: Float32Array, storage: WeightStorage, rows: number): WeightMatrix;
  /** Whether views on `buffer` can be passed to the kernel directly. */
  canRead(buffer: ArrayBufferLike): boolean;
  /**
   * y[r*ldy + o] = dot(w row o, x row r) for o < nOut, r < nRows; w is [nOut, n], x is [nRows, n],
   * n a multiple of 4, ldy (default nOut) the row stride of y, so a rank of `--tp` can write its
   * columns of a shared output. Each weight row is read once per call, whatever nRows.
   */
  matmul(w: WeightMatrix, x: Float32Array, y: Float32Array, nOut: number, nRows: number, n: number, ldy?: number): void;
  /** gate[i] = silu(gate[i]) * up[i] for i < n (a multiple of 4), with the kernels' exp. */
  siluMul(gate: Float32Array, up: Float32Array, n: number): void;
  /** RMSNorm of `rows` rows of n values (a multiple of 4): elementwise.ts rmsNormRows. */
  rmsNorm(src: Float32Array, srcOff: number, lds: number, weight: Float32Array, eps: number, dst: Float32Array, dstOff: number, ldd: number, n: number, rows: number): void;
  /** RoPE rotation of `heads` heads in each of `rows` rows by the rows' cos / sin (rope.ts): elementwise.ts ropeRows. */
  rope(x: Float32Array, xOff: number, ld: number, rows: number, heads: number, headDim: number, cos: Float64Array, sin: Float64Array): void;
  /** h[hOff + r*ldh + i] += p[r*n + i] for i < n, r < rows: elementwise.ts addRows. */
  addRows(h: Float32Array, hOff: number, ldh: number, p: Float32Array, n: number, rows: number): void;
  /**
   * Causal attention of `c.heads` query heads that share one KV head over positions [0, c.nPos): head
   * i's query is q[qOff + i*headDim .. +headDim), its result goes to out[outOff + i*headDim .. +headDim);
   * position j's K row starts at kv[table[floor(j/pageSize)] + kOff + (j % pageSize)*tokenStride], its
   * V row vOffset further (all fields of `c`, attention-call.ts, whose `setPage` validated the table).
   * `scratch` holds at least heads * ceil(nPos/4)*4 + nPos values. Each head's result is the same
   * whatever `heads` (the kernel only shares the K/V loads).
   */
  attend(c: AttentionCall): void;
}
