/**
 * The native kernels: the WASM kernels (same memory, same packed weights, same SwiGLU) with matmul
 * and attention in C (native/matmul.c, native/attend.c, AVX-512), bit-identical to both other kernels.
 *
 * Decisions: a subclass of WasmKernels, so everything that holds for the WASM kernel (weights and
 * pool in its shared memory, `--tp` rank threads working in it) holds unchanged; matmul and attention,
 * 78 % and 15 % of a prefill on the WASM kernel, move to C, where 512-bit registers do four WASM
 * vectors' work per instruction in the same lane order. C trusts its sizes, so each call checks them
 * against the arrays first, the page table's entries included (an overrun would read or corrupt
 * memory silently, where WASM would trap). A head dimension above
 * NATIVE_MAX_HEAD_DIM runs the WASM attention.
 */
import type { AttentionGeometry, KernelKind } from './kernels.js';
import { NATIVE_MAX_HEAD_DIM, nativeKernelLibrary, type NativeKernelLibrary } from './native-library.js';
import type { WasmArena } from './wasm-arena.js';
import { WasmKernels } from './wasm-kernels.js';
import type { WeightMatrix } from './weight-storage.js';

export class NativeKernels extends WasmKernels {
  override readonly kind: KernelKind = 'native';
  private readonly lib: NativeKernelLibrary;

  /** Throws where the native library cannot run (native-library.ts says why). */
  constructor(arena: WasmArena) {
    super(arena);
    this.lib = nativeKernelLibrary();
  }

  override matmul(w: WeightMatrix, x: Float32Array, y: Float32Array, nOut: number, nRows: number, n: number, ldy = nOut): void {
    if (!w.packed) throw new Error('native matmul needs weights it adopted (packed)');
    const width = w.dtype === 'f32' ? 4 : 2;
    if (n % 4 !== 0 || w.data.BYTES_PER_ELEMENT !== width || w.data.length < nOut * n || x.length < nRows * n || ldy < nOut || (nRows > 0 && y.length < (nRows - 1) * ldy + nOut)) {
      throw new Error(`native matmul: arrays too short for ${nOut}x${n} by ${nRows} rows (ldy ${ldy}) or n not a multiple of 4`);
    }
    this.lib.matmul(w.data, w.dtype, x, y, nOut, nRows, n, ldy);
  }

  override attend(
    g: AttentionGeometry,
    q: Float32Array,
    qOff: number,
    kv: Float32Array,
    table: Int32Array,
    nPos: number,
    kOff: number,
    scratch: Float32Array,
    out: Float32Array,
    outOff: number,
    heads: number,
  ): void {
    const { headDim } = g;
    if (headDim > NATIVE_MAX_HEAD_DIM) {
      super.attend(g, q, qOff, kv, table, nPos, kOff, scratch, out, outOff, heads);
      return;
    }
    const span = heads * headDim;
    if (qOff < 0 || outOff < 0 || kOff < 0 || headDim % 4 !== 0 || q.length < qOff + span || out.length < outOff + span || scratch.length < heads * (Math.ceil(nPos / 4) * 4) + nPos || table.length < Math.ceil(nPos / g.pageSize)) {
      throw new Error(`native attend: a negative offset, arrays too short for ${heads} heads of ${headDim} over ${nPos} positions, or headDim not a multiple of 4`);
    }
    // Every page the table names must lie inside `kv`: C would read past it where WASM traps.
    const pages = Math.ceil(nPos / g.pageSize);
    const reach = kOff + (g.pageSize - 1) * g.tokenStride + g.vOffset + headDim;
    for (let p = 0; p < pages; p++) {
      const base = table[p];
      if (base < 0 || base + reach > kv.length) throw new Error(`native attend: page table entry ${p} (${base}) is outside the KV array (${kv.length} values)`);
    }
    this.lib.attend(q, qOff, kv, table, nPos, kOff, g.pageSize, g.tokenStride, g.vOffset, headDim, g.scale, scratch, out, outOff, heads);
  }
}
