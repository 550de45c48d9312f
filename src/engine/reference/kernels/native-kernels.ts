/**
 * The native kernels: the WASM kernels (same memory, same packed weights) with matmul, attention,
 * the SwiGLU activation and the element-wise steps (RMSNorm, RoPE rotation, residual add) in C
 * (native/matmul.c, attend.c, elementwise.c, AVX-512), bit-identical to both other kernels.
 *
 * Decisions: a subclass of WasmKernels, so everything that holds for the WASM kernel (weights and
 * pool in its shared memory, `--tp` rank threads working in it) holds unchanged, and its size checks
 * (bounds.ts) run before every native call (C trusts its sizes); only the `run*` steps are replaced.
 * Matmul and attention were 78 % and 15 % of a prefill on the WASM kernel; the element-wise steps,
 * 13 % of a native bf16 prefill while they ran in JS, followed. A head dimension above
 * NATIVE_MAX_HEAD_DIM runs the WASM attention.
 */
import type { AttentionCall } from './attention-call.js';
import type { KernelKind } from './kernels.js';
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

  protected override runMatmul(w: WeightMatrix, x: Float32Array, y: Float32Array, nOut: number, nRows: number, n: number, ldy: number): void {
    this.lib.matmul(w.data, w.dtype, x, y, nOut, nRows, n, ldy);
  }

  protected override runSiluMul(gate: Float32Array, up: Float32Array, n: number): void {
    this.lib.siluMul(gate, up, n);
  }

  protected override runRmsNorm(src: Float32Array, srcOff: number, lds: number, weight: Float32Array, eps: number, dst: Float32Array, dstOff: number, ldd: number, n: number, rows: number): void {
    this.lib.rmsNorm(src, srcOff, lds, weight, eps, dst, dstOff, ldd, n, rows);
  }

  protected override runRope(x: Float32Array, xOff: number, ld: number, rows: number, heads: number, headDim: number, cos: Float64Array, sin: Float64Array): void {
    this.lib.rope(x, xOff, ld, rows, heads, headDim, cos, sin);
  }

  protected override runAddRows(h: Float32Array, hOff: number, ldh: number, p: Float32Array, n: number, rows: number): void {
    this.lib.addRows(h, hOff, ldh, p, n, rows);
  }

  protected override runAttend(c: AttentionCall): void {
    if (c.headDim > NATIVE_MAX_HEAD_DIM) super.runAttend(c);
    else this.lib.attend(c);
  }
}
