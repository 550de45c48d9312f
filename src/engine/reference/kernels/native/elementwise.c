/*
 * Native element-wise steps of the reference engine, bit-identical to their JS definitions in
 * elementwise.ts (which the WASM and JS kernels run):
 * - RMSNorm: the sum of squares is the kernels' 4-lane dot product (f32, a rounded multiply then a
 *   rounded add, reduced as (l0 + l1) + (l2 + l3)); inv = 1 / sqrt(sum / n + eps) in double;
 *   dst = (src * inv) * w in double, rounded once to f32 (what the JS expression computes).
 * - RoPE: a * c - b * s and b * c + a * s in double from the caller's cos / sin (V8's Math.cos/sin,
 *   computed in JS: glibc's may differ in the last bit), rounded once to f32.
 * - Residual add: h + p in f32 (the JS sum of two f32 in double rounded once to f32 is exactly the
 *   f32 sum: double has more than 2 x 24 + 2 bits).
 * - SiLU-gated product: silu_mul of kernel-module.ts, operation for operation, with the kernels' exp.
 * Multiplies and adds stay separate (-ffp-contract=off; no FMA). Each call covers every row of a step,
 * so a layer makes a few calls whatever the batch.
 */
#include <math.h>
#include "lanes.h"

/* The kernels' dot(a, a) over n (a multiple of 4) values. */
PD_AVX512 static float sum_squares(const float *a, int n) {
  __m128 acc = _mm_setzero_ps();
  for (int k = 0; k < n; k += 4) {
    const __m128 v = _mm_loadu_ps(a + k);
    acc = _mm_add_ps(acc, _mm_mul_ps(v, v));
  }
  float l[4];
  _mm_storeu_ps(l, acc);
  return (l[0] + l[1]) + (l[2] + l[3]);
}

/* Rows r < rows: dst[dstOff + r*ldd ..] = RMSNorm(src[srcOff + r*lds ..]) of n values (a multiple of 4) with weight w. */
PD_AVX512 void pd_native_rms_norm(const float *src, int srcOff, int lds, const float *w, double eps, float *dst, int dstOff, int ldd, int n, int rows) {
  for (int r = 0; r < rows; r++) {
    const float *s = src + srcOff + (size_t)r * lds;
    float *d = dst + dstOff + (size_t)r * ldd;
    const double inv = 1.0 / sqrt((double)sum_squares(s, n) / n + eps);
    const __m512d vinv = _mm512_set1_pd(inv);
    int i = 0;
    for (; i + 8 <= n; i += 8) {
      const __m512d x = _mm512_cvtps_pd(_mm256_loadu_ps(s + i));
      _mm256_storeu_ps(d + i, _mm512_cvtpd_ps(_mm512_mul_pd(_mm512_mul_pd(x, vinv), _mm512_cvtps_pd(_mm256_loadu_ps(w + i)))));
    }
    for (; i < n; i++) d[i] = (float)((double)s[i] * inv * (double)w[i]);
  }
}

/*
 * Rows r < rows of x (row stride ld, from xOff): `heads` heads of headDim values each rotated by
 * row r's angles cos / sin [r * headDim/2 + i] (the Hugging Face rotate_half pairing i, i + headDim/2).
 */
PD_AVX512 void pd_native_rope(float *x, int xOff, int ld, int rows, int heads, int headDim, const double *cos, const double *sin) {
  const int half = headDim / 2;
  for (int r = 0; r < rows; r++) {
    const double *cr = cos + (size_t)r * half, *sr = sin + (size_t)r * half;
    for (int h = 0; h < heads; h++) {
      float *lo = x + xOff + (size_t)r * ld + (size_t)h * headDim, *hi = lo + half;
      int i = 0;
      for (; i + 8 <= half; i += 8) {
        const __m512d a = _mm512_cvtps_pd(_mm256_loadu_ps(lo + i)), b = _mm512_cvtps_pd(_mm256_loadu_ps(hi + i));
        const __m512d c = _mm512_loadu_pd(cr + i), s = _mm512_loadu_pd(sr + i);
        _mm256_storeu_ps(lo + i, _mm512_cvtpd_ps(_mm512_sub_pd(_mm512_mul_pd(a, c), _mm512_mul_pd(b, s))));
        _mm256_storeu_ps(hi + i, _mm512_cvtpd_ps(_mm512_add_pd(_mm512_mul_pd(b, c), _mm512_mul_pd(a, s))));
      }
      for (; i < half; i++) {
        const double a = lo[i], b = hi[i];
        lo[i] = (float)(a * cr[i] - b * sr[i]);
        hi[i] = (float)(b * cr[i] + a * sr[i]);
      }
    }
  }
}

/* Rows r < rows: h[hOff + r*ldh + i] += p[r*n + i] for i < n. */
PD_AVX512 void pd_native_add_rows(float *h, int hOff, int ldh, const float *p, int n, int rows) {
  for (int r = 0; r < rows; r++) {
    float *d = h + hOff + (size_t)r * ldh;
    const float *s = p + (size_t)r * n;
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(d + i, _mm512_add_ps(_mm512_loadu_ps(d + i), _mm512_loadu_ps(s + i)));
    for (; i < n; i++) d[i] = d[i] + s[i];
  }
}

/* g[i] = silu(g[i]) * u[i] for i < n (a multiple of 4): e = exp(-|g|), g * ((g >= 0 ? 1 : e) / (1 + e)) * u. */
PD_AVX512 void pd_native_silu_mul(float *g, const float *u, int n) {
  const __m512 one = _mm512_set1_ps(1.0f);
  for (int i = 0; i < n; i += 16) {
    const __mmask16 m = (__mmask16)(n - i >= 16 ? 0xffffu : (1u << (n - i)) - 1u);
    const __m512 gv = _mm512_maskz_loadu_ps(m, g + i);
    /* -|g| by setting the sign bit, as WASM's abs then neg (a zero stays -0) */
    const __m512 e = exp16(_mm512_castsi512_ps(_mm512_or_si512(_mm512_castps_si512(gv), _mm512_set1_epi32((int)0x80000000u))));
    const __m512 sel = _mm512_mask_blend_ps(_mm512_cmp_ps_mask(gv, _mm512_setzero_ps(), _CMP_GE_OQ), e, one);
    const __m512 s = _mm512_mul_ps(gv, _mm512_div_ps(sel, _mm512_add_ps(one, e)));
    _mm512_mask_storeu_ps(g + i, m, _mm512_mul_ps(s, _mm512_maskz_loadu_ps(m, u + i)));
  }
}
