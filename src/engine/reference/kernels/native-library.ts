/**
 * The native kernel library (native/matmul.c, attend.c and elementwise.c, compiled by native/build.sh
 * into dist/ next to this file) through koffi, as native/libc.ts loads libc.
 *
 * Decisions:
 * - Also asks for transparent huge pages on a memory range (native/huge-pages.c; huge-pages.ts).
 * - Loaded on first use; `nativeKernelProblem()` says why it cannot be used, as a kind (tests skip on
 *   what a host cannot change, and fail on a broken build) and a reason, so the engine can fall back
 *   to the WASM kernel and say why, once per engine. A library build.sh chose not to build (no gcc,
 *   not x86-64) leaves a NOT-BUILT file saying why, which the reason repeats.
 * - Arrays are passed as typed arrays: koffi hands C the address of their bytes (a WebAssembly
 *   memory's SharedArrayBuffer included, which never moves, so a `--tp` rank thread's views work
 *   too) without copying.
 */
import koffi, { type LibraryHandle } from 'koffi';
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { AttentionCall } from './attention-call.js';
import type { WeightDtype } from './weight-storage.js';

const LIBRARY = fileURLToPath(new URL('./native/libpd-kernels.so', import.meta.url));
/** Written by build.sh instead of the library when it does not build it (its reason inside). */
const NOT_BUILT = fileURLToPath(new URL('./native/NOT-BUILT', import.meta.url));

/**
 * Why the native kernels cannot run: `platform` (not Linux on x86-64), `not-built` (build.sh skipped
 * the library, saying why), `cpu` (no AVX-512 F/BW), `missing` (neither library nor NOT-BUILT: the
 * build did not run or failed), `load` (the library does not load).
 */
export interface NativeProblem {
  readonly kind: 'platform' | 'not-built' | 'cpu' | 'missing' | 'load';
  readonly reason: string;
}

/** The dtype codes of matmul.c. */
const DTYPE_CODE: Record<WeightDtype, number> = { f32: 0, bf16: 1, f16: 2 };

export interface NativeKernelLibrary {
  /** pd_native_matmul of matmul.c: w packed (weight-packing.ts), n a multiple of 4; the caller checks the bounds. */
  matmul(w: Float32Array | Uint16Array, dtype: WeightDtype, x: Float32Array, y: Float32Array, nOut: number, nRows: number, n: number, ldy: number): void;
  /** pd_native_attend of attend.c with the call's fields (offsets in f32 elements; headDim a multiple of 4 up to NATIVE_MAX_HEAD_DIM); the caller checks the bounds. */
  attend(c: AttentionCall): void;
  /** The functions of elementwise.c (the Kernels contract of kernels.ts; the caller checks the bounds). */
  rmsNorm(src: Float32Array, srcOff: number, lds: number, weight: Float32Array, eps: number, dst: Float32Array, dstOff: number, ldd: number, n: number, rows: number): void;
  rope(x: Float32Array, xOff: number, ld: number, rows: number, heads: number, headDim: number, cos: Float64Array, sin: Float64Array): void;
  addRows(h: Float32Array, hOff: number, ldh: number, p: Float32Array, n: number, rows: number): void;
  siluMul(gate: Float32Array, up: Float32Array, n: number): void;
  /** pd_native_advise_huge_pages of huge-pages.c: 0 or madvise's errno, for `bytes` from `base`'s first byte. */
  adviseHugePages(base: Uint8Array, bytes: number): number;
}

/** MAX_HEAD_DIM of attend.c. */
export const NATIVE_MAX_HEAD_DIM = 512;

let library: NativeKernelLibrary | undefined;
let problem: NativeProblem | null | undefined;

function load(): NativeProblem | null {
  if (process.platform !== 'linux' || process.arch !== 'x64') return { kind: 'platform', reason: `the native kernels are built for Linux on x86-64 (this is ${process.platform}/${process.arch})` };
  if (!existsSync(LIBRARY)) {
    if (existsSync(NOT_BUILT)) return { kind: 'not-built', reason: `not built: ${readFileSync(NOT_BUILT, 'utf8').trim()}` };
    return { kind: 'missing', reason: `${LIBRARY} is missing: run \`npm run build\`` };
  }
  try {
    return bind(koffi.load(LIBRARY));
  } catch (err) {
    // A library that exists but does not load (another libc, a partial build): WASM, saying why.
    return { kind: 'load', reason: `cannot load ${LIBRARY}: ${(err as Error).message} (rebuild it with \`npm run build\`)` };
  }
}

function bind(lib: LibraryHandle): NativeProblem | null {
  const isa = lib.func('int pd_native_isa(void)') as () => number;
  if (isa() !== 1) return { kind: 'cpu', reason: 'this CPU lacks AVX-512 F/BW, which the native kernels need' };
  const matmul = lib.func('void pd_native_matmul(const void *w, int dtype, const float *x, float *y, int nOut, int nRows, int n, int ldy)') as (
    w: Float32Array | Uint16Array, dtype: number, x: Float32Array, y: Float32Array, nOut: number, nRows: number, n: number, ldy: number,
  ) => void;
  const attend = lib.func(
    'void pd_native_attend(const float *q, int qOff, const float *kv, const int32_t *table, int nPos, int kOff, int pageSize, int stride, int vOff, int headDim, float scale, float *scratch, float *out, int outOff, int heads)',
  );
  const rmsNorm = lib.func(
    'void pd_native_rms_norm(const float *src, int srcOff, int lds, const float *w, double eps, float *dst, int dstOff, int ldd, int n, int rows)',
  ) as NativeKernelLibrary['rmsNorm'];
  const rope = lib.func('void pd_native_rope(float *x, int xOff, int ld, int rows, int heads, int headDim, const double *cos, const double *sin)') as NativeKernelLibrary['rope'];
  const addRows = lib.func('void pd_native_add_rows(float *h, int hOff, int ldh, const float *p, int n, int rows)') as NativeKernelLibrary['addRows'];
  const siluMul = lib.func('void pd_native_silu_mul(float *g, const float *u, int n)') as NativeKernelLibrary['siluMul'];
  const adviseHugePages = lib.func('int pd_native_advise_huge_pages(void *base, uint64_t bytes)') as NativeKernelLibrary['adviseHugePages'];
  library = {
    matmul: (w, dtype, x, y, nOut, nRows, n, ldy) => matmul(w, DTYPE_CODE[dtype], x, y, nOut, nRows, n, ldy),
    attend: (c) => attend(c.q, c.qOff, c.kv, c.table, c.nPos, c.kOff, c.pageSize, c.tokenStride, c.vOffset, c.headDim, c.scale, c.scratch, c.out, c.outOff, c.heads),
    rmsNorm,
    rope,
    addRows,
    siluMul,
    adviseHugePages,
  };
  return null;
}

/** Why the native kernels cannot run here, or null when they can (loads the library on first call). */
export function nativeKernelProblem(): NativeProblem | null {
  problem ??= load();
  return problem;
}

/** The library; throws with the reason where it cannot run. */
export function nativeKernelLibrary(): NativeKernelLibrary {
  const why = nativeKernelProblem();
  if (why !== null || !library) throw new Error(`native kernels unavailable: ${why?.reason}`);
  return library;
}
