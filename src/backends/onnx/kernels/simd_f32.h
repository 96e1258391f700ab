/* Vectorized float32 loops for the engine's elementwise, activation, softmax and
 * normalization kernels.
 *
 * Each function is compiled for AVX-512, AVX2 and baseline x86-64 and the loader picks the
 * best the CPU has (GCC target clones), so the build needs no -m flags. The file is built
 * at -O3 with -ffp-contract=off: every element gets the same IEEE operations in the
 * vector body and in the scalar tail, so a value does not depend on where it falls in the
 * loop (the batching guarantee: a request's outputs are the same alone or batched).
 * Reductions (row sums and maxima) use 16 fixed lanes combined in a fixed order, so a
 * row's result depends only on that row. */
#ifndef INFERD_BACKENDS_ONNX_KERNELS_SIMD_F32_H
#define INFERD_BACKENDS_ONNX_KERNELS_SIMD_F32_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/onnx/graph.h"

/* Work (in float values) below which an operator stays on the calling thread: from about
 * twice this the engine's loops split over the intra-op pool (core/pool.h). */
#define INFERD_ONNX_PAR_GRAIN 16384

/* Applies a fused activation in place: RELU, LEAKY_RELU and CLIP vectorized (the same
 * expressions as inferd_onnx_act_apply), the others through inferd_onnx_act_apply. */
void inferd_simd_act(const inferd_onnx_act_t *a, float *x, int64_t n);

/* o[i] = a[i * sa] op b[i * sb] for n elements, sa and sb each 1 (walk) or 0 (repeat
 * element 0). o may alias a or b exactly. */
void inferd_simd_add(const float *a, int64_t sa, const float *b, int64_t sb, float *o, int64_t n);
void inferd_simd_sub(const float *a, int64_t sa, const float *b, int64_t sb, float *o, int64_t n);
void inferd_simd_mul(const float *a, int64_t sa, const float *b, int64_t sb, float *o, int64_t n);
void inferd_simd_div(const float *a, int64_t sa, const float *b, int64_t sb, float *o, int64_t n);

/* y[i] = e^x[i], to within a few ulp (subnormal results included; 0 below -103.97, inf
 * above 88.72; NaN stays NaN). y may be x. */
void inferd_simd_exp(const float *x, float *y, int64_t n);

/* y[i] = erf(x[i]), to within 2e-7 absolute and 1e-6 relative. y may be x. */
void inferd_simd_erf(const float *x, float *y, int64_t n);

/* Softmax (or LogSoftmax when log) of one contiguous row of n > 0 values. y may be x. */
void inferd_simd_softmax_row(const float *x, float *y, int64_t n, bool log);

/* Sum and sum of squared deviations from mean of a contiguous row, in 16 lanes. */
float inferd_simd_sum(const float *x, int64_t n);
float inferd_simd_sqdev(const float *x, int64_t n, float mean);

/* y[i] = (x[i] - mean) * inv * s[i] + b[i] (b may be NULL: no addend). */
void inferd_simd_norm_row(const float *x, float *y, int64_t n, float mean, float inv,
                          const float *s, const float *b);

/* out[i] = x[i * stride] > out[i] ? x[i * stride] : out[i] for n outputs (MaxPool rows;
 * a NaN never replaces a value). */
void inferd_simd_max_strided(float *out, const float *x, int64_t stride, int64_t n);

/* MaxPool with a 2x2 window and stride 2, no padding or dilation, every window inside
 * the image: planes [ih_n, iw_n] -> [oh_n, ow_n], taps taken in row-major order with the
 * rule above (a NaN never wins; -inf when every tap is NaN). */
void inferd_simd_maxpool2x2(const float *x, int64_t ih_n, int64_t iw_n, float *y, int64_t oh_n,
                            int64_t ow_n, int64_t planes);

#endif
