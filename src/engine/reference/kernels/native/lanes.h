/*
 * Shared by the native kernels: the kernels' lane reduction on 512-bit registers whose 128-bit
 * quarters each hold one dot product's four lane accumulators (kernel-module.ts: the result is
 * (l0 + l1) + (l2 + l3), the same bits whichever operand comes first, since f32 addition commutes).
 */
#ifndef PD_NATIVE_LANES_H
#define PD_NATIVE_LANES_H
#include <immintrin.h>

#define PD_AVX512 __attribute__((target("avx512f,avx512bw")))

/* Lane 4i of the result: (l0 + l1) + (l2 + l3) of quarter i of acc. */
PD_AVX512 __attribute__((always_inline)) static inline __m512 pd_reduce_quarters(__m512 acc) {
  __m512 s = _mm512_add_ps(acc, _mm512_permute_ps(acc, 0xB1)); /* lanes: l0+l1, l1+l0, l2+l3, l3+l2 */
  return _mm512_add_ps(s, _mm512_permute_ps(s, 0x4E));        /* lane 0: (l0+l1) + (l2+l3) */
}

/* The four quarter results (lanes 0, 4, 8, 12) packed into one 128-bit vector. */
PD_AVX512 __attribute__((always_inline)) static inline __m128 pd_quarter_results(__m512 v) {
  return _mm512_castps512_ps128(_mm512_maskz_compress_ps(0x1111, v));
}

/* The kernels' exp of 16 lanes (each <= 0): expLanes of kernel-module.ts, operation for operation. */
PD_AVX512 __attribute__((always_inline)) static inline __m512 exp16(__m512 x) {
  const __m512 t = _mm512_roundscale_ps(_mm512_add_ps(_mm512_mul_ps(x, _mm512_set1_ps((float)1.4426950408889634)), _mm512_set1_ps(0.5f)), _MM_FROUND_TO_NEG_INF | _MM_FROUND_NO_EXC);
  const __m512 r = _mm512_sub_ps(_mm512_sub_ps(x, _mm512_mul_ps(t, _mm512_set1_ps(0.693359375f))), _mm512_mul_ps(t, _mm512_set1_ps((float)-2.12194440e-4)));
  static const double poly[] = {1.0 / 720, 1.0 / 120, 1.0 / 24, 1.0 / 6, 1.0 / 2, 1, 1};
  __m512 e = _mm512_set1_ps((float)poly[0]);
#pragma GCC unroll 8
  for (int i = 1; i < 7; i++) e = _mm512_add_ps(_mm512_mul_ps(e, r), _mm512_set1_ps((float)poly[i]));
  const __m512i bits = _mm512_slli_epi32(_mm512_add_epi32(_mm512_cvttps_epi32(t), _mm512_set1_epi32(127)), 23);
  e = _mm512_mul_ps(e, _mm512_castsi512_ps(bits));
  return _mm512_maskz_mov_ps(~_mm512_cmp_ps_mask(x, _mm512_set1_ps((float)-87.3), _CMP_LT_OQ), e);
}

#endif
