/**
 * Size checks of the WASM and native kernels' arguments, made once per call by WasmKernels before it
 * runs either kernel (NativeKernels inherits them). Neither kernel bounds-checks inside: C would read or
 * write past an array silently, and WASM only traps outside its whole memory (which also holds the
 * weights, the pool and the other buffers), so a wrong size must be refused here, naming the call.
 */
import type { AttentionGeometry } from './kernels.js';
import type { WeightMatrix } from './weight-storage.js';

/** Whether rows r < rows of n values at off + r*ld lie inside an array of `length` values. */
function rowsFit(length: number, off: number, ld: number, n: number, rows: number): boolean {
  return off >= 0 && ld >= n && (rows === 0 || off + (rows - 1) * ld + n <= length);
}

export function checkMatmul(w: WeightMatrix, x: Float32Array, y: Float32Array, nOut: number, nRows: number, n: number, ldy: number): void {
  if (!w.packed) throw new Error('matmul needs weights the kernel adopted (packed)');
  const width = w.dtype === 'f32' ? 4 : 2;
  if (n % 4 !== 0 || w.data.BYTES_PER_ELEMENT !== width || w.data.length < nOut * n || x.length < nRows * n || !rowsFit(y.length, 0, ldy, nOut, nRows)) {
    throw new Error(`matmul: arrays too short for ${nOut}x${n} by ${nRows} rows (ldy ${ldy}) or n not a multiple of 4`);
  }
}

export function checkAttend(
  g: AttentionGeometry, q: Float32Array, qOff: number, kv: Float32Array, table: Int32Array, nPos: number, kOff: number, scratch: Float32Array,
  out: Float32Array, outOff: number, heads: number,
): void {
  const { headDim } = g;
  const span = heads * headDim;
  if (qOff < 0 || outOff < 0 || kOff < 0 || headDim % 4 !== 0 || q.length < qOff + span || out.length < outOff + span || scratch.length < heads * (Math.ceil(nPos / 4) * 4) + nPos || table.length < Math.ceil(nPos / g.pageSize)) {
    throw new Error(`attend: a negative offset, arrays too short for ${heads} heads of ${headDim} over ${nPos} positions, or headDim not a multiple of 4`);
  }
  // Every page the table names must lie inside `kv`.
  const pages = Math.ceil(nPos / g.pageSize);
  const reach = kOff + (g.pageSize - 1) * g.tokenStride + g.vOffset + headDim;
  for (let p = 0; p < pages; p++) {
    const base = table[p];
    if (base < 0 || base + reach > kv.length) throw new Error(`attend: page table entry ${p} (${base}) is outside the KV array (${kv.length} values)`);
  }
}

export function checkRmsNorm(src: Float32Array, srcOff: number, lds: number, weight: Float32Array, dst: Float32Array, dstOff: number, ldd: number, n: number, rows: number): void {
  if (n % 4 !== 0 || weight.length < n || !rowsFit(src.length, srcOff, lds, n, rows) || !rowsFit(dst.length, dstOff, ldd, n, rows)) {
    throw new Error(`rmsNorm: arrays too short for ${rows} rows of ${n} or n not a multiple of 4`);
  }
}

export function checkRope(x: Float32Array, xOff: number, ld: number, rows: number, heads: number, headDim: number, cos: Float64Array, sin: Float64Array): void {
  if (headDim % 2 !== 0 || !rowsFit(x.length, xOff, ld, heads * headDim, rows) || cos.length < (rows * headDim) / 2 || sin.length < (rows * headDim) / 2) {
    throw new Error(`rope: arrays too short for ${rows} rows of ${heads} heads of ${headDim} or an odd head dimension`);
  }
}

export function checkAddRows(h: Float32Array, hOff: number, ldh: number, p: Float32Array, n: number, rows: number): void {
  if (!rowsFit(h.length, hOff, ldh, n, rows) || p.length < n * rows) throw new Error(`addRows: arrays too short for ${rows} rows of ${n}`);
}

export function checkSiluMul(gate: Float32Array, up: Float32Array, n: number): void {
  if (n % 4 !== 0 || n < 0 || gate.length < n || up.length < n) throw new Error(`siluMul: arrays too short for ${n} values or n not a multiple of 4`);
}
