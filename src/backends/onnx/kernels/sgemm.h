/* Row-stable single-precision matrix product for the engine's Gemm, MatMul and Conv.
 *
 * Every output element is accumulated over k in ascending order with the same sequence of
 * operations whatever the number of rows, the tile the row lands in, or how the work is
 * split over threads, so one row's result does not depend on the other rows. That is
 * what lets the dynamic batcher promise that a batched request gets bit-identical answers
 * to the same request run alone (BLAS libraries pick different kernels, and so different
 * rounding, for 1 row and for many). Per element, on every path:
 *
 *   acc = 0; for k ascending: acc = acc + A[i,k] * B[k,j]   (one FMA on AVX2 / AVX-512)
 *   v = acc; if alpha != 1: v = alpha * v; if C: v = v + (beta * C[i,j]);
 *   if D: v = v + D[i,j]; v = act(v)
 *
 * B may be packed once (weights, at model load) into 16-column panels, K-contiguous,
 * zero-padded and 64-byte aligned; the kernels read an unpacked row-major B directly.
 * The code path (AVX-512, AVX2+FMA, portable) is chosen once at run time from the CPU. */
#ifndef INFERD_BACKENDS_ONNX_KERNELS_SGEMM_H
#define INFERD_BACKENDS_ONNX_KERNELS_SGEMM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/onnx/graph.h"

/* Columns per packed panel. */
#define INFERD_SGEMM_PANEL 16

/* B packed into panels: panel p holds columns 16p..16p+15 of op(B) for k = 0..K-1, one
 * 16-float row per k. Read-only once built, so any number of threads may use it. */
typedef struct inferd_sgemm_pack {
    int64_t n, k;
    int64_t n_panels;
    float *panels;         /* 64-byte aligned, inside t */
    inferd_tensor_t *_mem; /* the storage, charged to the owner given at creation */
} inferd_sgemm_pack_t;

/* Packs op(B) (B stored [k, n] with row length ldb, or [n, k] when trans_b) into a new
 * pack whose memory is a tensor charged to owner (INFERD_OWNER_MODEL for weights, so
 * it appears on /debug/tensors). Returns NULL when the allocation fails. */
inferd_sgemm_pack_t *inferd_sgemm_pack_create(bool trans_b, int64_t n, int64_t k, const float *b,
                                              int64_t ldb, inferd_owner_t owner);

/* Frees a pack. NULL does nothing. */
void inferd_sgemm_pack_destroy(inferd_sgemm_pack_t *p);

/* One product Y = act(alpha * op(A) * op(B) + beta * C + D), row-major. */
typedef struct inferd_sgemm_job {
    int64_t m, n, k;
    bool trans_a; /* A stored [k, m] */
    const float *a;
    int64_t lda;                     /* stored row length of A */
    const inferd_sgemm_pack_t *pack; /* B prepacked; when NULL, b/ldb/trans_b are used */
    const float *b;
    int64_t ldb;
    bool trans_b; /* B stored [n, k] (packed per call) */
    float *y;
    int64_t ldy; /* row length of Y (>= n) */
    float alpha;
    float beta; /* scales C; ignored without C */
    /* Optional addend: element (i, j) at c[i * c_rs + j * c_cs], c_cs 0 or 1; a stride 0
     * broadcasts (a bias row: c_rs = 0, c_cs = 1). c may point into y (slower: no K
     * blocks). */
    const float *c;
    int64_t c_rs, c_cs;
    /* Optional full-matrix addend (a fused residual Add), added after C: element (i, j)
     * at d[i * d_rs + j]. d may be y itself (same elements, d_rs = ldy): each element is
     * read before it is written. */
    const float *d;
    int64_t d_rs;
    inferd_onnx_act_t act;
    int max_threads; /* 0: the calling thread's intra-op budget (core/pool.h); 1: none */
} inferd_sgemm_job_t;

/* Runs the job. Splits the columns over the default intra-op pool when the product is
 * large enough (each element is still computed by one thread). Allocates scratch to copy
 * A into row blocks and to pack a transposed B that is not prepacked; without that
 * memory it reads A and B where they are (slowly, for B), so it always succeeds and
 * returns true (a bool for callers written against a fallible version). Thread-safe. */
bool inferd_sgemm_run(const inferd_sgemm_job_t *job);

/* Runs the job split by rows of op(A) and Y over the default intra-op pool instead of by
 * columns: chunks of at least grain rows (multiples of 6, the tiles' row block) handed out
 * as threads come free, each chunk one single-thread product. Every element is still one
 * k-ascending sum, so the split does not change the result. For products with too few
 * columns for the GEMM's own split; A must not be transposed. Returns what
 * inferd_sgemm_run returns (true). */
bool inferd_sgemm_run_rows(const inferd_sgemm_job_t *job, int64_t grain);

/* Threads inferd_sgemm_run would use for an m x n x k product with this max_threads on
 * the calling thread (1 without a default pool). Lets a caller with another single-thread
 * kernel pick the faster one. */
int inferd_sgemm_threads(int64_t m, int64_t n, int64_t k, int max_threads);

/* Y[m,n] = alpha * op(A) * op(B) + beta * Y (Y's row length n): inferd_sgemm_run with Y
 * as C. */
bool inferd_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *y);

/* Applies act to x (the scalar form every path uses for SIGMOID and TANH, and the
 * portable path for all). */
float inferd_sgemm_act(inferd_onnx_act_t act, float x);

/* Code paths, best last. */
typedef enum {
    INFERD_SGEMM_PORTABLE = 0,
    INFERD_SGEMM_AVX2,
    INFERD_SGEMM_AVX512,
} inferd_sgemm_path_t;

/* Name of the code path in use ("avx512", "avx2" or "portable"), for logs and tests. */
const char *inferd_sgemm_path(void);

/* Tests and benchmarks: forces a path (false, nothing changed, if the CPU lacks it).
 * Not for concurrent use with running products. */
bool inferd_sgemm_set_path(inferd_sgemm_path_t path);

#endif
