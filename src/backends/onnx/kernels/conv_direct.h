/* Direct 2-D convolution for small unrolled windows (LeNet-style layers: few input
 * channels, 5x5 kernels, narrow images), where unrolling the input for a GEMM (im2col)
 * writes and rereads more bytes than the product does arithmetic: on the benchmark LeNet
 * the unroll was a quarter of the run.
 *
 * Each output vector of 16 pixels accumulates over the input channels, kernel rows and
 * kernel columns in that order (k ascending, as the engine's GEMM orders an im2col
 * product), one FMA per tap, starting from zero; then the bias is added. So an output's
 * value depends on nothing but its own window: the same bits alone or in a batch, on any
 * thread count, and the same bits as the im2col path for finite values. AVX-512 only;
 * inferd_conv_direct_fits says false elsewhere and callers use im2col. */
#ifndef INFERD_BACKENDS_ONNX_KERNELS_CONV_DIRECT_H
#define INFERD_BACKENDS_ONNX_KERNELS_CONV_DIRECT_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/onnx/ops/spatial.h"

/* Whether the direct kernel takes a group-1 convolution with c input channels over the
 * window w: 2-D, stride 1, dilation 1, c * kh * kw at most 512, output rows of at least
 * 8 pixels, and a CPU with AVX-512 (unless switched off for tests). */
bool inferd_conv_direct_fits(const inferd_onnx_window_t *w, int64_t c);

/* Whether a window of kh x kw over c channels may qualify (its tap count, the CPU): the
 * part of inferd_conv_direct_fits known before the input's size, for packing W at load. */
bool inferd_conv_direct_may_fit(int64_t c, int64_t kh, int64_t kw);

/* W [m, kdim] (kdim = c * kh * kw) in the kernel's layout, [kdim, m], into out (kdim * m
 * floats): done once at load for a constant W. */
void inferd_conv_direct_pack(const float *wt, int64_t m, int64_t kdim, float *out);

/* Y = conv(X, W) + bias + S for n images of c channels, then Relu (x > 0 ? x : 0, as the
 * engine's) when relu: x [n, c, ih, iw]; wt [m, c, kh, kw], and packed, wt through
 * inferd_conv_direct_pack (NULL: packed per call); bias [m] or NULL; res (S, a fused
 * residual Add's other input) shaped as y, or NULL, and may be y itself (each element is
 * read just before that output element is written); y [n, m, oh, ow]. Splits rows over
 * the intra-op pool. Returns false only when memory for a per-call pack or the scratch (a
 * zero-padded copy of a few input rows per task) runs out. */
bool inferd_conv_direct(const float *x, int64_t n, int64_t c, const inferd_onnx_window_t *w,
                        const float *wt, const float *packed, int64_t m, const float *bias,
                        const float *res, bool relu, float *y);

/* Tests: false switches the direct kernel off (callers then use im2col), true back on
 * where the CPU allows. Not for use while convolutions run. */
void inferd_conv_direct_enable(bool on);

#endif
