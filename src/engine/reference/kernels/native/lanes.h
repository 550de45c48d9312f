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

#endif
