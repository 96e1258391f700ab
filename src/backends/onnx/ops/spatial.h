/* Window geometry shared by the convolution and pooling families (conv.c, pool.c).
 *
 * Conv, ConvTranspose and the pools all slide a kernel over the spatial dims of an
 * [N, C, D1, ..., Dk] tensor with the same attributes: kernel_shape, strides, dilations,
 * pads (all begins, then all ends) and auto_pad. inferd_onnx_spatial_parse reads them once
 * at load; inferd_onnx_window_make turns them into per-dim sizes and explicit pads for one
 * run's input shape, resolving SAME_UPPER/SAME_LOWER/VALID and ceil_mode. */
#ifndef INFERD_BACKENDS_ONNX_OPS_SPATIAL_H
#define INFERD_BACKENDS_ONNX_OPS_SPATIAL_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/onnx/graph.h"

#define INFERD_ONNX_MAX_SPATIAL (INFERD_MAX_DIMS - 2)

/* Largest kernel size, stride, dilation or pad accepted (2^20): products of these with
 * any tensor dim stay far inside int64_t. */
#define INFERD_ONNX_MAX_WINDOW ((int64_t)1 << 20)

typedef enum {
    INFERD_ONNX_AUTO_PAD_NOTSET = 0,
    INFERD_ONNX_AUTO_PAD_SAME_UPPER,
    INFERD_ONNX_AUTO_PAD_SAME_LOWER,
    INFERD_ONNX_AUTO_PAD_VALID,
} inferd_onnx_auto_pad_t;

/* The window attributes as given; a count of 0 means the attribute was absent. */
typedef struct inferd_onnx_spatial {
    int n_kernel, n_strides, n_dilations, n_pads;
    int64_t kernel[INFERD_ONNX_MAX_SPATIAL];
    int64_t strides[INFERD_ONNX_MAX_SPATIAL];
    int64_t dilations[INFERD_ONNX_MAX_SPATIAL];
    int64_t pads[2 * INFERD_ONNX_MAX_SPATIAL]; /* begins then ends, as in ONNX */
    inferd_onnx_auto_pad_t auto_pad;
    bool ceil_mode; /* pools only: round the output size up */
} inferd_onnx_spatial_t;

/* One run's geometry: nsp spatial dims with their resolved sizes and pads. */
typedef struct inferd_onnx_window {
    int nsp;
    int64_t in[INFERD_ONNX_MAX_SPATIAL];  /* input spatial dims */
    int64_t out[INFERD_ONNX_MAX_SPATIAL]; /* output spatial dims */
    int64_t k[INFERD_ONNX_MAX_SPATIAL];   /* kernel size (undilated) */
    int64_t s[INFERD_ONNX_MAX_SPATIAL];   /* stride */
    int64_t d[INFERD_ONNX_MAX_SPATIAL];   /* dilation */
    int64_t pb[INFERD_ONNX_MAX_SPATIAL];  /* pad before */
    int64_t pe[INFERD_ONNX_MAX_SPATIAL];  /* pad after */
} inferd_onnx_window_t;

/* Reads kernel_shape, strides, dilations, pads, auto_pad and ceil_mode from the node into
 * *sp. Fails with INVALID_ARG on a bad value (more than INFERD_ONNX_MAX_SPATIAL dims, a
 * non-positive stride or dilation, a negative pad, any of them above
 * INFERD_ONNX_MAX_WINDOW, an unknown auto_pad). Runs at load. */
inferd_status_t inferd_onnx_spatial_parse(const inferd_onnx_node_t *node, inferd_onnx_spatial_t *sp,
                                          inferd_err_t *err);

/* Resolves the window for nsp spatial input dims in_sp. kernel gives the kernel size (NULL:
 * use kernel_shape, which must then be present). Output sizes follow the Conv/Pool rules:
 * floor (or ceil with ceil_mode, dropping a last window that would start in the end pad)
 * for explicit pads, ceil(in / stride) for SAME_*, and no padding for VALID. Fails with
 * INVALID_ARG when an attribute's length disagrees with nsp or the output would be empty
 * or negative. Any thread. */
inferd_status_t inferd_onnx_window_make(const inferd_onnx_spatial_t *sp, int nsp,
                                        const int64_t *in_sp, const int64_t *kernel,
                                        inferd_onnx_window_t *w, inferd_err_t *err);

#endif
