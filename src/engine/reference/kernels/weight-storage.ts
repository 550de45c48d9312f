/**
 * How a weight matrix is stored in kernel memory: as f32, or as bf16 / f16 when every value of the
 * matrix is exactly one of those (always true of a bf16 or f16 checkpoint, which the loader widens
 * to f32). The WASM kernel widens 16-bit weights exactly as it loads them (bf16: a 16-bit shift;
 * f16: a rebias by multiplication with 2^112, exact for normals and subnormals), so results are
 * bit-identical to f32 storage while decode reads half the weight bytes.
 *
 * Decisions: the choice is per matrix and automatic (it is lossless by construction, so no flag is
 * needed); bf16 is preferred when both fit (the cheaper widening); f16 needs every value finite (the
 * kernel's widening maps f16 infinities/NaN to finite values).
 */
import { bf16ToF32, f16ToF32, f32ToF16 } from '../../../model/half-float.js';
import { unpackRows } from './weight-packing.js';

export type WeightDtype = 'f32' | 'bf16' | 'f16';

/** `narrowest`: the smallest exact dtype per matrix; `f32`: always f32 (a benchmark's reference). */
export type WeightStorage = 'narrowest' | 'f32';

/** A weight matrix [out, in] in kernel memory. */
export interface WeightMatrix {
  readonly dtype: WeightDtype;
  /** Laid out as weight-packing.ts describes (the WASM kernel's), else row-major. */
  readonly packed: boolean;
  /** f32 values, or the bit patterns of bf16 / f16 values. */
  readonly data: Float32Array | Uint16Array;
}

/** The smallest dtype holding every value of `a` exactly, and the 16-bit patterns when not f32. */
export function narrowest(a: Float32Array): { dtype: WeightDtype; bits: Uint16Array | null } {
  const u32 = new Uint32Array(a.buffer, a.byteOffset, a.length);
  let bf16 = true;
  for (let i = 0; i < u32.length && bf16; i++) bf16 = (u32[i] & 0xffff) === 0;
  if (bf16) return { dtype: 'bf16', bits: Uint16Array.from(u32, (x) => x >>> 16) };
  const bits = new Uint16Array(a.length);
  f32ToF16(a, bits);
  const back = new Float32Array(a.length);
  f16ToF32(bits, back);
  for (let i = 0; i < a.length; i++) {
    if (back[i] !== a[i] || !Number.isFinite(a[i]) || Object.is(back[i], -0) !== Object.is(a[i], -0)) return { dtype: 'f32', bits: null };
  }
  return { dtype: 'f16', bits };
}

/** Row-major 16-bit patterns of rows read from a packed matrix (grown as needed; one row per token on the embedding path). */
let unpacked = new Uint16Array(0);

/** dst[dstOff ..] = rows [row, row + count) of `w` (width n) as f32 (exact). */
export function readRows(w: WeightMatrix, row: number, count: number, n: number, dst: Float32Array, dstOff = 0): void {
  const [a, z] = [row * n, (row + count) * n];
  if (w.dtype === 'f32') {
    if (w.packed) unpackRows(w.data, w.data.length / n, n, row, count, dst, dstOff);
    else dst.set((w.data as Float32Array).subarray(a, z), dstOff);
    return;
  }
  let bits = (w.data as Uint16Array).subarray(a, z);
  if (w.packed) {
    if (unpacked.length < z - a) unpacked = new Uint16Array(z - a);
    bits = unpacked.subarray(0, z - a);
    unpackRows(w.data, w.data.length / n, n, row, count, bits, 0);
  }
  (w.dtype === 'bf16' ? bf16ToF32 : f16ToF32)(bits, dst.subarray(dstOff, dstOff + z - a));
}
