/**
 * The native kernel library (native/matmul.c and attend.c, compiled by native/build.sh into dist/
 * next to this file) through koffi, as native/libc.ts loads libc.
 *
 * Decisions:
 * - Loaded on first use; `nativeKernelProblem()` says why it cannot be used (not 64-bit Linux on
 *   x86-64, library not built, CPU without AVX-512 F/BW) so the engine can fall back to the WASM
 *   kernel and say why, once per engine.
 * - Arrays are passed as typed arrays: koffi hands C the address of their bytes (a WebAssembly
 *   memory's SharedArrayBuffer included, which never moves, so a `--tp` rank thread's views work
 *   too) without copying.
 */
import koffi, { type LibraryHandle } from 'koffi';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { WeightDtype } from './weight-storage.js';

const LIBRARY = fileURLToPath(new URL('./native/libpd-kernels.so', import.meta.url));

/** The dtype codes of matmul.c. */
const DTYPE_CODE: Record<WeightDtype, number> = { f32: 0, bf16: 1, f16: 2 };

export interface NativeKernelLibrary {
  /** pd_native_matmul of matmul.c: w packed (weight-packing.ts), n a multiple of 4; the caller checks the bounds. */
  matmul(w: Float32Array | Uint16Array, dtype: WeightDtype, x: Float32Array, y: Float32Array, nOut: number, nRows: number, n: number, ldy: number): void;
  /** pd_native_attend of attend.c (offsets in f32 elements; headDim a multiple of 4 up to NATIVE_MAX_HEAD_DIM); the caller checks the bounds. */
  attend(
    q: Float32Array, qOff: number, kv: Float32Array, table: Int32Array, nPos: number, kOff: number, pageSize: number, stride: number, vOff: number,
    headDim: number, scale: number, scratch: Float32Array, out: Float32Array, outOff: number, heads: number,
  ): void;
}

/** MAX_HEAD_DIM of attend.c. */
export const NATIVE_MAX_HEAD_DIM = 512;

let library: NativeKernelLibrary | undefined;
let problem: string | null | undefined;

function load(): string | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return `the native kernels are built for Linux on x86-64 (this is ${process.platform}/${process.arch})`;
  if (!existsSync(LIBRARY)) return `${LIBRARY} is missing: run \`npm run build\` with gcc installed`;
  try {
    return bind(koffi.load(LIBRARY));
  } catch (err) {
    // A library that exists but does not load (another libc, a partial build): WASM, saying why.
    return `cannot load ${LIBRARY}: ${(err as Error).message} (rebuild it with \`npm run build\`)`;
  }
}

function bind(lib: LibraryHandle): string | null {
  const isa = lib.func('int pd_native_isa(void)') as () => number;
  if (isa() !== 1) return 'this CPU lacks AVX-512 F/BW, which the native kernels need';
  const matmul = lib.func('void pd_native_matmul(const void *w, int dtype, const float *x, float *y, int nOut, int nRows, int n, int ldy)') as (
    w: Float32Array | Uint16Array, dtype: number, x: Float32Array, y: Float32Array, nOut: number, nRows: number, n: number, ldy: number,
  ) => void;
  const attend = lib.func(
    'void pd_native_attend(const float *q, int qOff, const float *kv, const int32_t *table, int nPos, int kOff, int pageSize, int stride, int vOff, int headDim, float scale, float *scratch, float *out, int outOff, int heads)',
  ) as NativeKernelLibrary['attend'];
  library = { matmul: (w, dtype, x, y, nOut, nRows, n, ldy) => matmul(w, DTYPE_CODE[dtype], x, y, nOut, nRows, n, ldy), attend };
  return null;
}

/** Why the native kernels cannot run here, or null when they can (loads the library on first call). */
export function nativeKernelProblem(): string | null {
  problem ??= load();
  return problem;
}

/** The library; throws with the reason where it cannot run. */
export function nativeKernelLibrary(): NativeKernelLibrary {
  const why = nativeKernelProblem();
  if (why !== null || !library) throw new Error(`native kernels unavailable: ${why}`);
  return library;
}
