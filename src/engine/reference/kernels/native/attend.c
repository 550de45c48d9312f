/*
 * Native paged attention of the reference engine, bit-identical to the WASM kernel's attend_h*
 * (kernel-module.ts) and its JS twin, per query head:
 *   score_j = dot(q, K_j) * scale (the kernels' 4-lane dot product), m = max_j score_j (WASM f32.max);
 *   e_j = exp(score_j - m) with the kernels' exp (expLanes: the same f32 operations in the same order);
 *   sum = e_0 + e_1 + ... in position order; out = (sum_j e_j * V_j, in position order) / sum.
 * Multiplies and adds stay separate (-ffp-contract=off; no FMA).
 *
 * Decisions:
 * - Heads of one KV group go 4 at a time. Scores: one 512-bit accumulator per position holds the four
 *   heads' lane accumulators in its quarters (the query quads transposed once per call), a K quad is
 *   broadcast to all quarters by a plain load, and 4 positions run side by side (4 independent add
 *   chains); the quarters reduce with the matmul's shuffles.
 * - exp runs 16 scores per register; the sum is a scalar chain per head in position order, taken
 *   inside the first weighted-sum pass so that it overlaps the vector work.
 * - Weighted sums: 16 dimensions per register, 4 registers (64 dimensions) x 4 heads of accumulators
 *   per pass over the positions; each V register is loaded once for all heads; partial 16-blocks
 *   (headDim a multiple of 4) use masked loads and stores.
 * - K and V rows are prefetched PREFETCH positions ahead. At decode the KV rows come from memory
 *   (the weights streamed through the cache since the last step) and sit a token record apart in
 *   the pages, where the hardware prefetcher does not run ahead of them: this halved attention's
 *   share of a `small` decode step (7.4-7.7 % -> 3.7-4.1 %, perf, 2026-12-07; 8 positions ahead
 *   4.2-5.3 %). A prefetch changes no result.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include "lanes.h"

/* Heads computed together (quarters of a register). */
#define HEADS 4
/* Positions whose scores run side by side. */
#define POS_TILE 4
/* 16-dimension blocks of a weighted-sum pass (4 heads x 4 blocks = 16 accumulators). */
#define BLOCKS 4
/* Positions ahead whose K and V rows are prefetched. */
#define PREFETCH 16
/* Largest head dimension (the transposed queries live on the stack: 4 x 512 floats = 8 KiB). */
#define MAX_HEAD_DIM 512

/* WASM f32.max (and Math.max): NaN if either is NaN, +0 for max(-0, +0). */
static inline float wasm_max(float a, float b) {
  if (a != a) return a;
  if (b != b) return b;
  if (a == b) {
    uint32_t ua, ub;
    memcpy(&ua, &a, 4);
    memcpy(&ub, &b, 4);
    ua &= ub;
    memcpy(&a, &ua, 4);
    return a;
  }
  return a > b ? a : b;
}

/* Mask of the first `lanes` (0..16) lanes. */
static inline __mmask16 first_lanes(int lanes) {
  return (__mmask16)((1u << lanes) - 1u);
}

/*
 * hc (1..4, a constant where inlined) heads: queries q + h*headDim, results out + h*headDim, scores
 * at scores + h*pad, K rows at kv + rows[j] (V rows vOff further).
 */
PD_AVX512 __attribute__((always_inline)) static inline void attend_heads(const float *q, const float *kv, const int32_t *rows, int nPos, int vOff, int headDim,
                                                                        float scale, float *scores, int pad, float *out, int hc) {
  const int quads = headDim / 4;
  float qt[4 * MAX_HEAD_DIM];
  /* qt quad c = [head 0 quad c, head 1 quad c, head 2 quad c, head 3 quad c] (zeros past hc) */
  for (int c = 0; c < quads; c++) {
    for (int h = 0; h < HEADS; h++) {
      for (int l = 0; l < 4; l++) qt[16 * c + 4 * h + l] = h < hc ? q[h * headDim + 4 * c + l] : 0.0f;
    }
  }
  const __m128 vscale = _mm_set1_ps(scale);
  /*
   * Running maxima: 4 lanes per head over the tiles, then the scalar tail. max is taken in another
   * order than WASM's, which can only change the sign of a zero maximum, and m enters nothing but
   * score - m, where a zero's sign changes no exp result (exp(+-0) = 1, s - (+-0) = s otherwise).
   */
  __m128 mv[HEADS];
#pragma GCC unroll 4
  for (int h = 0; h < HEADS; h++) mv[h] = _mm_set1_ps(-INFINITY);
  int j = 0;
  for (; j + POS_TILE <= nPos; j += POS_TILE) {
    __m512 acc[POS_TILE];
    const float *k[POS_TILE];
#pragma GCC unroll 4
    for (int p = 0; p < POS_TILE; p++) {
      acc[p] = _mm512_setzero_ps();
      k[p] = kv + rows[j + p];
      if (j + PREFETCH + p < nPos) {
        const char *n = (const char *)(kv + rows[j + PREFETCH + p]);
        for (int c = 0; c < headDim * 4; c += 64) _mm_prefetch(n + c, _MM_HINT_T0);
      }
    }
    for (int c = 0; c < quads; c++) {
      const __m512 qv = _mm512_loadu_ps(qt + 16 * c);
#pragma GCC unroll 4
      for (int p = 0; p < POS_TILE; p++) acc[p] = _mm512_add_ps(acc[p], _mm512_mul_ps(qv, _mm512_broadcast_f32x4(_mm_loadu_ps(k[p] + 4 * c))));
    }
    /* r[p] lane h = head h's sum at position j + p; transposed, lane p of r[h] */
    __m128 r[POS_TILE];
#pragma GCC unroll 4
    for (int p = 0; p < POS_TILE; p++) r[p] = pd_quarter_results(pd_reduce_quarters(acc[p]));
    _MM_TRANSPOSE4_PS(r[0], r[1], r[2], r[3]);
#pragma GCC unroll 4
    for (int h = 0; h < hc; h++) {
      const __m128 sc = _mm_mul_ps(r[h], vscale);
      _mm_storeu_ps(scores + h * pad + j, sc);
      mv[h] = _mm_max_ps(mv[h], sc);
    }
  }
  float m[HEADS];
  float res[4];
#pragma GCC unroll 4
  for (int h = 0; h < hc; h++) {
    _mm_storeu_ps(res, mv[h]);
    m[h] = wasm_max(wasm_max(res[0], res[1]), wasm_max(res[2], res[3]));
  }
  for (; j < nPos; j++) {
    __m512 acc = _mm512_setzero_ps();
    const float *k = kv + rows[j];
    for (int c = 0; c < quads; c++) acc = _mm512_add_ps(acc, _mm512_mul_ps(_mm512_loadu_ps(qt + 16 * c), _mm512_broadcast_f32x4(_mm_loadu_ps(k + 4 * c))));
    _mm_storeu_ps(res, _mm_mul_ps(pd_quarter_results(pd_reduce_quarters(acc)), vscale));
#pragma GCC unroll 4
    for (int h = 0; h < hc; h++) {
      scores[h * pad + j] = res[h];
      m[h] = wasm_max(m[h], res[h]);
    }
  }
  /* e_j = exp(score_j - m); their sum is taken in position order during the first weighted-sum pass */
  float sum[HEADS];
#pragma GCC unroll 4
  for (int h = 0; h < hc; h++) {
    float *s = scores + h * pad;
    const __m512 mvh = _mm512_set1_ps(m[h]);
    for (int i = 0; i < nPos; i += 16) {
      const __mmask16 mask = first_lanes(nPos - i < 16 ? nPos - i : 16);
      _mm512_mask_storeu_ps(s + i, mask, exp16(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, s + i), mvh)));
    }
    sum[h] = 0.0f;
  }
  /*
   * out = (sum_j e_j * V_j) / sum, BLOCKS x 16 dimensions per pass. The first pass also adds up sum
   * (a serial chain of scalar adds, one per position and head, which runs alongside the vector work
   * instead of in a loop of its own).
   */
  for (int d0 = 0; d0 < headDim; d0 += 16 * BLOCKS) {
    __mmask16 mask[BLOCKS];
#pragma GCC unroll 4
    for (int b = 0; b < BLOCKS; b++) {
      const int left = headDim - d0 - 16 * b;
      mask[b] = first_lanes(left <= 0 ? 0 : left < 16 ? left : 16);
    }
    __m512 acc[HEADS][BLOCKS];
#pragma GCC unroll 4
    for (int h = 0; h < hc; h++) {
#pragma GCC unroll 4
      for (int b = 0; b < BLOCKS; b++) acc[h][b] = _mm512_setzero_ps();
    }
    const int first = d0 == 0;
    for (int i = 0; i < nPos; i++) {
      const float *v = kv + rows[i] + vOff + d0;
      if (i + PREFETCH < nPos) {
        const char *n = (const char *)(kv + rows[i + PREFETCH] + vOff + d0);
        for (int c = 0; c < 64 * BLOCKS && c < (headDim - d0) * 4; c += 64) _mm_prefetch(n + c, _MM_HINT_T0);
      }
      __m512 vv[BLOCKS];
#pragma GCC unroll 4
      for (int b = 0; b < BLOCKS; b++) vv[b] = _mm512_maskz_loadu_ps(mask[b], v + 16 * b);
#pragma GCC unroll 4
      for (int h = 0; h < hc; h++) {
        const float e = scores[h * pad + i];
        if (first) sum[h] = sum[h] + e;
        const __m512 p = _mm512_set1_ps(e);
#pragma GCC unroll 4
        for (int b = 0; b < BLOCKS; b++) acc[h][b] = _mm512_add_ps(acc[h][b], _mm512_mul_ps(p, vv[b]));
      }
    }
#pragma GCC unroll 4
    for (int h = 0; h < hc; h++) {
      const __m512 sv = _mm512_set1_ps(sum[h]);
#pragma GCC unroll 4
      for (int b = 0; b < BLOCKS; b++) _mm512_mask_storeu_ps(out + h * headDim + d0 + 16 * b, mask[b], _mm512_div_ps(acc[h][b], sv));
    }
  }
}

/*
 * Attention of `heads` query heads sharing one KV head over positions [0, nPos) (the Kernels.attend
 * contract of kernels.ts; all offsets in f32 elements): head i's query at q + qOff + i*headDim, its
 * result to out + outOff + i*headDim; position j's K row at kv + table[j / pageSize] + kOff + (j % pageSize)*stride,
 * its V row vOff further. scratch holds heads*pad4(nPos) + nPos floats (scores, then the row
 * offsets as 32-bit integers: kv has fewer than 2^31 floats, being in a wasm32 memory). headDim a multiple of 4, at most MAX_HEAD_DIM (the caller checks).
 */
PD_AVX512 void pd_native_attend(const float *q, int qOff, const float *kv, const int32_t *table, int nPos, int kOff, int pageSize, int stride, int vOff,
                      int headDim, float scale, float *scratch, float *out, int outOff, int heads) {
  if (nPos <= 0) return;
  const int pad = (nPos + 3) & ~3;
  int32_t *rows = (int32_t *)(void *)(scratch + (size_t)heads * pad);
  /* page by page, 16 slots per store */
  const __m512i iota = _mm512_set_epi32(15, 14, 13, 12, 11, 10, 9, 8, 7, 6, 5, 4, 3, 2, 1, 0);
  for (int j0 = 0, page = 0; j0 < nPos; j0 += pageSize, page++) {
    const int base = table[page] + kOff, slots = nPos - j0 < pageSize ? nPos - j0 : pageSize;
    for (int s = 0; s < slots; s += 16) {
      const __m512i slot = _mm512_add_epi32(iota, _mm512_set1_epi32(s));
      const __m512i row = _mm512_add_epi32(_mm512_set1_epi32(base), _mm512_mullo_epi32(slot, _mm512_set1_epi32(stride)));
      _mm512_mask_storeu_epi32(rows + j0 + s, first_lanes(slots - s < 16 ? slots - s : 16), row);
    }
  }
  for (int h = 0; h < heads; h += HEADS) {
    const int hc = heads - h < HEADS ? heads - h : HEADS;
    const float *qh = q + qOff + (size_t)h * headDim;
    float *sh = scratch + (size_t)h * pad, *oh = out + outOff + (size_t)h * headDim;
    switch (hc) {
#define HEADS_CASE(n) case n: attend_heads(qh, kv, rows, nPos, vOff, headDim, scale, sh, pad, oh, n); break;
      HEADS_CASE(1) HEADS_CASE(2) HEADS_CASE(3) HEADS_CASE(4)
#undef HEADS_CASE
      default: break;
    }
  }
}
