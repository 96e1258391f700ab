/* Row-stable single-precision matrix product for the engine's Gemm and MatMul.
 *
 * Every output element is accumulated over k in ascending order with the same sequence of
 * operations whatever the number of rows, so one row's result does not depend on the other
 * rows. That is what lets the dynamic batcher promise that a batched request gets
 * bit-identical answers to the same request run alone (BLAS libraries pick different
 * kernels, and so different rounding, for 1 row and for many). */
#ifndef INFERD_BACKENDS_ONNX_KERNELS_SGEMM_H
#define INFERD_BACKENDS_ONNX_KERNELS_SGEMM_H

#include <stdbool.h>
#include <stdint.h>

/* Y[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * Y, row-major; lda and ldb are the
 * stored row lengths of A and B, Y's row length is n. When beta is 0, Y is only written.
 * Thread-safe; allocates only when A is transposed (a copy of m x k floats), and returns
 * false if that allocation fails. */
bool inferd_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *y);

/* Name of the code path chosen for this CPU ("avx512" or "portable"), for logs and tests. */
const char *inferd_sgemm_path(void);

#endif
