/*
 * Native matmul of the reference engine, bit-identical to the WASM kernel (kernel-module.ts) and its
 * JS twin: y[r*ldy + o] = dot(weight row o, x row r) with four lane accumulators, lane l summing
 * w[k]*x[k] for k = l, l+4, ... in increasing k (a rounded multiply, then a rounded add: no FMA; the
 * build passes -ffp-contract=off and never -ffast-math), reduced as (l0 + l1) + (l2 + l3).
 *
 * Decisions:
 * - Weights are in the WASM kernel's packed layout (weight-packing.ts): groups of 4 rows, column quad
 *   by column quad. One 512-bit register holds a full group's quad, each 128-bit quarter one row's
 *   four lanes, so one multiply and one add do the work of four WASM ones in the WASM lane order.
 *   f32 quads load as they are; a bf16 / f16 quad (32 bytes, rows interleaved in pairs) is reordered
 *   into that layout by one word permute, bf16 landing in the high halves of the 32-bit lanes
 *   (widened exactly, as the WASM shift does), f16 in the low 16 words for vcvtph2ps (exact for the
 *   finite values weight-storage.ts admits; the WASM rebias gives the same values).
 * - Register tile: MG groups x MT activation rows (4 x 6: 24 accumulators, 4 weights and 1 broadcast
 *   activation quad of the 32 registers). Groups are the outer loop, so each weight byte comes from
 *   memory once per call and the activation rows stream from cache; each weight register is reused
 *   for MT rows and each broadcast activation quad for MG groups.
 * - The last partial group (nOut % 4 rows, laid out differently) runs a scalar loop in the same order.
 * - AVX-512 F + BW only (__builtin_cpu_supports at run time); without it pd_native_isa()
 *   returns 0 and the engine keeps the WASM kernel.
 */
#include <stdint.h>
#include <string.h>
#include "lanes.h"

#define PACK_ROWS 4
/*
 * Groups and activation rows of the register tile (see the header). On `small`'s shapes at 512 rows,
 * bf16: 4 x 6 gave 146-153 GFLOP/s, 3 x 8 135-152, 2 x 12 132-146, 2 x 14 81-143 (spills).
 */
#define MG 4
#define MT 6
/*
 * Below FEW_ROWS activation rows (decode) a tile takes one group, so the weights stream from memory as
 * one sequential run: two groups at once are two streams 4n elements apart, and at one row they read
 * 15-19 GB/s against 30-40 for one stream (a 49152 x 576 matrix, out of cache).
 */
#define FEW_ROWS 4
/*
 * Activation rows per pass over the weights: the rows' x block stays in L2 (48 x 1536 floats, down_proj
 * of `small`, is 288 KiB) while the groups stream past it, instead of every group pair reading all
 * rows from L3; the weights are re-read once per block, from L3 (a layer's matrices are 1-4 MiB).
 * Measured on `small`'s shapes at 512 rows, bf16: 125-145 GFLOP/s against 108-132 without blocks.
 */
#define ROW_BLOCK 48
/*
 * How far ahead of its loads a tile prefetches each group's weights. At one activation row a bf16
 * quad is 32 bytes per dependent add (the lane order allows no other chain), too few loads in
 * flight for the hardware prefetcher alone to keep memory busy: decode b1 of `small` bf16 streamed
 * its weights at about 30 GB/s in the engine. Measured here (2-core EPYC VM, `small`, ms per token,
 * alternated builds): bf16 b1 10.1-10.4 without, 8.0-8.5 at 4 KiB, 7.4-7.8 at 8 KiB, 7.3-7.6 at
 * 16 KiB, 7.4-7.9 at 32 KiB; bf16 b8 3.3 -> 2.1, f32 b8 4.5 -> 3.8; f32 b1 (64 bytes per add) and
 * prefill 1,024 unchanged. T0 beat T1, T2 and NTA. Prefetches never fault, so running past a
 * matrix's end is harmless, and every tile prefetches: a run-time test for the first row tile in
 * the inner loop cost decode b1 more than the redundant prefetches of later tiles (hits in cache).
 */
#define PREFETCH_BYTES 16384

enum { DT_F32 = 0, DT_BF16 = 1, DT_F16 = 2 };

/* 1: the AVX-512 kernels (matmul and attention) can run on this CPU, else 0. */
int pd_native_isa(void) {
  __builtin_cpu_init();
  return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") ? 1 : 0;
}

/* bf16 / f16 bits to f32, exactly (f16: finite values only, as stored). */
static float widen(int dtype, uint16_t h) {
  uint32_t u;
  float f;
  if (dtype == DT_BF16) {
    u = (uint32_t)h << 16;
  } else {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, mag = h & 0x7fff;
    if (mag == 0) {
      u = sign;
    } else if (mag < 0x400) { /* subnormal: mag * 2^-24, exact in f32 */
      f = (float)mag * 0x1p-24f;
      memcpy(&u, &f, 4);
      u |= sign;
    } else {
      u = sign | ((mag + ((127 - 15) << 10)) << 13);
    }
  }
  memcpy(&f, &u, 4);
  return f;
}

/* Weight (row i of a group of g rows, column k) from the group's packed data at w (weight-packing.ts). */
static float packed_weight(const void *w, int dtype, int g, int n, int i, int k) {
  size_t chunk = (size_t)(k >> 2) * 4 * g;
  int lane = k & 3;
  if (dtype == DT_F32) return ((const float *)w)[chunk + 4 * i + lane];
  int paired = i < (g & ~1);
  size_t at = paired ? chunk + (i >> 1) * 8 + 2 * lane + (i & 1) : chunk + 4 * i + lane;
  (void)n;
  return widen(dtype, ((const uint16_t *)w)[at]);
}

/* The g < 4 rows of a partial group (outputs o0 .. o0+g-1), every activation row, one value at a time in the kernels' order. */
static void matmul_scalar_group(const void *w, int dtype, int g, const float *x, float *y, int o0, int nRows, int n, int ldy) {
  for (int i = 0; i < g; i++) {
    for (int r = 0; r < nRows; r++) {
      const float *xr = x + (size_t)r * n;
      float l[4] = {0.0f, 0.0f, 0.0f, 0.0f};
      for (int k = 0; k < n; k += 4) {
        for (int j = 0; j < 4; j++) {
          float p = packed_weight(w, dtype, g, n, i, k + j) * xr[k + j];
          l[j] = l[j] + p;
        }
      }
      y[(size_t)r * ldy + o0 + i] = (l[0] + l[1]) + (l[2] + l[3]);
    }
  }
}

/* Word permutation of a 16-bit quad (4 rows, pairs interleaved) into row-major order: word 4i + l = row i, lane l. */
#define PAIR_WORD(i, l) (((i) >> 1) * 8 + 2 * (l) + ((i) & 1))

PD_AVX512 static inline __m512i word_index(int dtype) {
  /* bf16: row i lane l goes to the high word of dword 4i + l (word 8i + 2l + 1); f16: to word 4i + l. */
  short idx[32];
  for (int j = 0; j < 32; j++) idx[j] = 0;
  for (int i = 0; i < 4; i++) {
    for (int l = 0; l < 4; l++) {
      if (dtype == DT_BF16) idx[8 * i + 2 * l + 1] = (short)PAIR_WORD(i, l);
      else idx[4 * i + l] = (short)PAIR_WORD(i, l);
    }
  }
  return _mm512_loadu_si512(idx);
}

/* One full group's quad c as f32, row i in quarter i. */
PD_AVX512 __attribute__((always_inline)) static inline __m512 load_quad(const void *w, int dtype, size_t c, __m512i index) {
  if (dtype == DT_F32) return _mm512_loadu_ps((const float *)w + c * 16);
  __m512i raw = _mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)((const uint16_t *)w + c * 16)));
  if (dtype == DT_BF16) return _mm512_castsi512_ps(_mm512_maskz_permutexvar_epi16(0xAAAAAAAAu, index, raw));
  return _mm512_cvtph_ps(_mm512_castsi512_si256(_mm512_permutexvar_epi16(index, raw)));
}

/* Stores (l0 + l1) + (l2 + l3) of each quarter (row i of the group) to out[0..3]. */
PD_AVX512 __attribute__((always_inline)) static inline void store_rows(__m512 acc, float *out) {
  _mm_storeu_ps(out, pd_quarter_results(pd_reduce_quarters(acc)));
}

/*
 * mg full groups from w (group stride gstride elements) x mt activation rows from x: outputs
 * o0 .. o0 + 4*mg - 1 of rows r .. r + mt - 1. mg and mt are constants where inlined.
 */
PD_AVX512 __attribute__((always_inline)) static inline void tile(
    const void *w, int dtype, size_t gstride, int mg, int mt, const float *x, float *y, int o0, int r, int n, int ldy, __m512i index) {
  __m512 acc[MG][MT];
#pragma GCC unroll 4
  for (int g = 0; g < mg; g++) {
#pragma GCC unroll 16
    for (int t = 0; t < mt; t++) acc[g][t] = _mm512_setzero_ps();
  }
  const float *xr = x + (size_t)r * n;
  const char *wb = (const char *)w;
  size_t esize = dtype == DT_F32 ? 4 : 2;
  for (size_t c = 0; c < (size_t)n / 4; c++) {
    __m512 wv[MG];
#pragma GCC unroll 4
    for (int g = 0; g < mg; g++) {
      _mm_prefetch(wb + (g * gstride + c * 16) * esize + PREFETCH_BYTES, _MM_HINT_T0);
      wv[g] = load_quad(wb + g * gstride * esize, dtype, c, index);
    }
#pragma GCC unroll 16
    for (int t = 0; t < mt; t++) {
      __m512 xv = _mm512_broadcast_f32x4(_mm_loadu_ps(xr + (size_t)t * n + c * 4));
#pragma GCC unroll 4
      for (int g = 0; g < mg; g++) acc[g][t] = _mm512_add_ps(acc[g][t], _mm512_mul_ps(wv[g], xv));
    }
  }
#pragma GCC unroll 4
  for (int g = 0; g < mg; g++) {
#pragma GCC unroll 16
    for (int t = 0; t < mt; t++) store_rows(acc[g][t], y + (size_t)(r + t) * ldy + o0 + 4 * g);
  }
}

/* Tiles of mg groups (a constant where inlined) over every activation row, MT at a time then the remainder. */
PD_AVX512 __attribute__((always_inline)) static inline void groups_rows(
    const void *w, int dtype, size_t gstride, int mg, const float *x, float *y, int o0, int nRows, int n, int ldy, __m512i index) {
  int r = 0;
  for (; r + MT <= nRows; r += MT) tile(w, dtype, gstride, mg, MT, x, y, o0, r, n, ldy, index);
  switch (nRows - r) {
#define REST(m) case m: tile(w, dtype, gstride, mg, m, x, y, o0, r, n, ldy, index); break;
    REST(1) REST(2) REST(3) REST(4) REST(5) /* the rest is below MT = 6 */
#undef REST
    default: break;
  }
}

PD_AVX512 static void matmul_full_groups(
    const void *w, int dtype, const float *x, float *y, int fullGroups, int nRows, int n, int ldy) {
  __m512i index = dtype == DT_F32 ? _mm512_setzero_si512() : word_index(dtype);
  size_t gstride = (size_t)PACK_ROWS * n; /* elements per group */
  size_t esize = dtype == DT_F32 ? 4 : 2;
  for (int r0 = 0; r0 < nRows; r0 += ROW_BLOCK) {
    const int rows = nRows - r0 < ROW_BLOCK ? nRows - r0 : ROW_BLOCK;
    const float *xb = x + (size_t)r0 * n;
    float *yb = y + (size_t)r0 * ldy;
    int q = 0;
    if (rows >= FEW_ROWS) {
      for (; q + MG <= fullGroups; q += MG) groups_rows((const char *)w + q * gstride * esize, dtype, gstride, MG, xb, yb, q * PACK_ROWS, rows, n, ldy, index);
    }
    for (; q < fullGroups; q++) groups_rows((const char *)w + q * gstride * esize, dtype, gstride, 1, xb, yb, q * PACK_ROWS, rows, n, ldy, index);
  }
}

/*
 * y[r*ldy + o] = dot(weight row o, x row r) for o < nOut, r < nRows; w packed (weight-packing.ts) as
 * dtype (0 f32, 1 bf16, 2 f16); n a multiple of 4. Call only where pd_native_isa() is 1.
 */
void pd_native_matmul(const void *w, int dtype, const float *x, float *y, int nOut, int nRows, int n, int ldy) {
  int full = nOut / PACK_ROWS, tail = nOut % PACK_ROWS;
  if (nRows <= 0 || n <= 0) return;
  if (full > 0) matmul_full_groups(w, dtype, x, y, full, nRows, n, ldy);
  if (tail > 0) {
    size_t at = (size_t)full * PACK_ROWS * n * (dtype == DT_F32 ? 4 : 2);
    matmul_scalar_group((const char *)w + at, dtype, tail, x, y, full * PACK_ROWS, nRows, n, ldy);
  }
}
