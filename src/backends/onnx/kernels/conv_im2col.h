/* im2col for 2-D convolutions, written straight into the engine GEMM's packed-B layout
 * (kernels/sgemm.h), so Conv's GEMM reads the unrolled input without another copy. Built
 * with an AVX-512 path chosen at run time and a portable one. It only moves values, so
 * the result is exact whatever the path. */
#ifndef INFERD_BACKENDS_ONNX_KERNELS_CONV_IM2COL_H
#define INFERD_BACKENDS_ONNX_KERNELS_CONV_IM2COL_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/onnx/ops/spatial.h"

/* Output-row segments a panel of 16 pixels can span (output rows of at least 4). */
#define INFERD_CONV_IM2COL_SEGS 5

/* One segment of one (tap, panel): lanes whose mask bit s * lane is set read input
 * position base + s * lane of the channel plane (s: the column stride). A (tap, panel)'s
 * segments that read something come first; a zero mask ends the list. */
typedef struct inferd_conv_seg {
    int32_t base;
    uint32_t mask;
} inferd_conv_seg_t;

/* Whether the window is one inferd_conv_im2col_panels handles: 2-D, column stride 1 or
 * 2, output rows of at least 4, input planes under 2^30 values. */
bool inferd_conv_im2col_fits(const inferd_onnx_window_t *w);

/* Entries in the window's segment table. */
int64_t inferd_conv_im2col_table_size(const inferd_onnx_window_t *w);

/* Builds the segment table of a window that fits (once per call; it serves every image
 * and channel). */
void inferd_conv_im2col_table(const inferd_onnx_window_t *w, inferd_conv_seg_t *table);

/* Unrolls channels [0, c) of the image x (each w->in[0] * w->in[1] floats) for the 2-D
 * window w into panels: the [c * kh * kw, oh * ow] matrix (out-of-image taps read zero)
 * with panel p holding columns 16p..16p+15, one 16-float row per matrix row, padding
 * columns zero. */
void inferd_conv_im2col_panels(const float *x, int64_t c, const inferd_onnx_window_t *w,
                               const inferd_conv_seg_t *table, float *panels);

/* Tests: the portable path (true) or the AVX-512 one (false; refused, returning false,
 * when the CPU lacks it). Not for use while convolutions run. */
bool inferd_conv_im2col_set_portable(bool portable);

#endif
