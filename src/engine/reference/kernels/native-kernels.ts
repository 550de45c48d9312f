/**
 * The native kernels: the WASM kernels (same memory, same packed weights, same attention and SwiGLU)
 * with matmul in C (native/matmul.c, AVX-512), bit-identical to both other kernels.
 *
 * Decisions: a subclass of WasmKernels, so everything that holds for the WASM kernel (weights and
 * pool in its shared memory, `--tp` rank threads working in it) holds unchanged; only matmul, 78 %
 * of a prefill on the WASM kernel, moves to C, where 512-bit registers do four WASM vectors' work
 * per instruction in the same lane order. C trusts its sizes, so matmul checks them against the
 * arrays first (an overrun would corrupt memory silently, where WASM would trap).
 */
import type { KernelKind } from './kernels.js';
import { nativeKernelLibrary, type NativeKernelLibrary } from './native-library.js';
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
    if (n % 4 !== 0 || w.data.length < nOut * n || x.length < nRows * n || ldy < nOut || (nRows > 0 && y.length < (nRows - 1) * ldy + nOut)) {
      throw new Error(`native matmul: arrays too short for ${nOut}x${n} by ${nRows} rows (ldy ${ldy}) or n not a multiple of 4`);
    }
    this.lib.matmul(w.data, w.dtype, x, y, nOut, nRows, n, ldy);
  }
}
