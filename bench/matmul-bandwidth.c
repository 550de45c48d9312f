/*
 * Micro-benchmark (not a test): the native bf16 matrix-vector kernel's weight bandwidth at decode
 * batch 1 against a plain read of the same bytes, on `small`'s per-token matrices (SmolLM2-135M:
 * 30 layers of q, k, v, o, gate, up, down and the 49152 x 576 lm_head, 269 MB of bf16 per token),
 * so the gap between the kernel and what one thread can read from this machine's memory is measured
 * in one run. The plain read sums the bytes with eight independent 512-bit streams of adds (no
 * order to keep), prefetching READ_PREFETCH_BYTES ahead as the kernel does (matmul.c's
 * PREFETCH_BYTES): the fastest one-thread read tried here (2026-12-07, HUGE=1, GB/s: no prefetch
 * 34-35, 4 KiB 36, 16 KiB 38, 64 KiB 38-39).
 *
 * Build and run from the package root (the flags of native/build.sh):
 *   gcc -O2 -ffp-contract=off -fno-fast-math -o /tmp/matmul-bandwidth bench/matmul-bandwidth.c && /tmp/matmul-bandwidth
 */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/mman.h>
#include "../src/engine/reference/kernels/native/matmul.c"

#define LAYERS 30
#define HIDDEN 576
#define INTER 1536
#define VOCAB 49152
/* Passes over all the weights per figure; the best of them is reported (the machine is shared). */
#define PASSES 12
#define READ_PREFETCH_BYTES 65536

static double now(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

PD_AVX512 static float plain_read(const void *p, size_t bytes) {
  const __m512 *v = (const __m512 *)p;
  __m512 a[8];
  for (int i = 0; i < 8; i++) a[i] = _mm512_setzero_ps();
  size_t n = bytes / 64;
  for (size_t i = 0; i + 8 <= n; i += 8) {
    for (int j = 0; j < 8; j++) {
      _mm_prefetch((const char *)(v + i + j) + READ_PREFETCH_BYTES, _MM_HINT_T0);
      a[j] = _mm512_add_ps(a[j], _mm512_loadu_ps((const float *)(v + i + j)));
    }
  }
  for (int i = 1; i < 8; i++) a[0] = _mm512_add_ps(a[0], a[i]);
  return _mm512_reduce_add_ps(a[0]);
}

struct matrix { int rows, n; size_t at; };

int main(void) {
  struct matrix m[LAYERS * 7 + 1];
  int count = 0;
  size_t total = 0;
  for (int l = 0; l < LAYERS; l++) {
    const int shape[7][2] = {{HIDDEN, HIDDEN}, {192, HIDDEN}, {192, HIDDEN}, {HIDDEN, HIDDEN}, {INTER, HIDDEN}, {INTER, HIDDEN}, {HIDDEN, INTER}};
    for (int i = 0; i < 7; i++) {
      m[count++] = (struct matrix){shape[i][0], shape[i][1], total};
      total += (size_t)shape[i][0] * shape[i][1] * 2;
    }
  }
  m[count++] = (struct matrix){VOCAB, HIDDEN, total};
  total += (size_t)VOCAB * HIDDEN * 2;
  uint16_t *w = mmap(NULL, total, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (getenv("HUGE")) madvise(w, total, MADV_HUGEPAGE);
  for (size_t i = 0; i < total / 2; i++) w[i] = (uint16_t)(0x3c00 + (i * 2654435761u >> 20) % 256);
  float *x = aligned_alloc(64, INTER * 4), *y = aligned_alloc(64, VOCAB * 4);
  for (int i = 0; i < INTER; i++) x[i] = (float)(i % 7) * 0.01f;
  double bestK = 1e9, bestR = 1e9;
  float sink = 0;
  for (int p = 0; p < PASSES; p++) {
    double t0 = now();
    for (int i = 0; i < count; i++) pd_native_matmul((const char *)w + m[i].at, DT_BF16, x, y, m[i].rows, 1, m[i].n, m[i].rows);
    double t1 = now();
    sink += plain_read(w, total);
    double t2 = now();
    if (t1 - t0 < bestK) bestK = t1 - t0;
    if (t2 - t1 < bestR) bestR = t2 - t1;
    sink += y[p];
  }
  printf("%.0f MB of bf16 weights per token: matmul %.1f GB/s (%.2f ms), plain read %.1f GB/s (%.2f ms): %.2f x  [%g]\n",
         total / 1e6, total / bestK / 1e9, bestK * 1e3, total / bestR / 1e9, bestR * 1e3, bestR / bestK, sink == 12345 ? 1.0 : 0.0);
  return 0;
}
