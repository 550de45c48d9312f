/**
 * Size checks of the WASM and native kernels' arguments, made once per call by WasmKernels before it
 * runs either kernel (NativeKernels inherits them). Neither kernel bounds-checks inside: C would read or
 * write past an array silently, and WASM only traps outside its whole memory (which also holds the
 * weights, the pool and the other buffers), so a wrong size must be refused here, naming the call.
 * Every check is O(1) per call: attention's page table, the one argument whose check grows with the
 * call, is checked entry by entry as it is written (attention-call.ts), once per item and layer.
 */
import type { AttentionCall } from './attention-call.js';
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

/**
 * O(1): the page table's entries were checked as they were written (AttentionCall.setPage), so a call
 * only has to stay within the validated entries and keep its K and V rows inside one slot.
 */
export function checkAttend(c: AttentionCall): void {
  const { headDim, heads, nPos, qOff, kOff, outOff } = c;
  const span = heads * headDim;
  if (qOff < 0 || outOff < 0 || nPos < 0 || headDim % 4 !== 0 || c.q.length < qOff + span || c.out.length < outOff + span || c.scratch.length < heads * (Math.ceil(nPos / 4) * 4) + nPos) {
    throw new Error(`attend: a negative offset or count, arrays too short for ${heads} heads of ${headDim} over ${nPos} positions, or headDim not a multiple of 4`);
  }
  if (nPos > c.pages * c.pageSize) throw new Error(`attend: ${nPos} positions need more than the ${c.pages} page table entries set (${c.pageSize} positions each)`);
  if (kOff < 0 || kOff + c.vOffset + headDim > c.tokenStride) throw new Error(`attend: K offset ${kOff} puts a K or V row outside its slot (${c.tokenStride} values)`);
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
