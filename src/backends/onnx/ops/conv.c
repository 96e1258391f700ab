/* Convolutions: Conv, ConvTranspose, ConvInteger and QLinearConv, in 1 to 6 spatial dims.
 *
 * Conv lowers each (batch, group) to one GEMM: im2col unrolls the input windows into a
 * [C/group * prod(kernel), prod(out)] matrix and the engine's row-stable GEMM
 * (kernels/sgemm.c) computes act(weights * columns + bias), the fused activation included,
 * so an image's outputs do not depend on its batch. The column buffer is allocated once per
 * call and reused across batches and groups; a 1x1 kernel with unit stride and no padding
 * skips it and reads the input directly. 2-D windows (the hot case) are unrolled straight
 * into the GEMM's packed panels (kernels/conv_im2col.c), and a group-1 batch is split by
 * images over the intra-op pool; depthwise 2-D convolutions (one input channel per group)
 * skip the GEMM and accumulate shifted rows directly. A group-1, stride-1, undilated 3x3
 * Conv with constant weights and 16+ input channels runs as Winograd F(4x4, 3x3) instead
 * (kernels/winograd.c: a quarter of the multiplies, vectorized transforms, bias and the
 * fused activation in the output transform, the same row-stable GEMM). ConvTranspose is the
 * adjoint: a GEMM with the transposed weights produces columns that col2im scatters (adds) into the
 * output. The integer convolutions subtract the zero points while unrolling, accumulate exactly in
 * int32 and, for QLinearConv, requantize per output channel.
 *
 * A residual Add fused in by the graph passes (input 3, S) is the GEMM's or the Winograd
 * output transform's addend D, read just before each output element is written, so the
 * output may be S's own block (the memory planner's in-place rule).
 *
 * The column buffers are the only allocations kernels make here (refused, not wrapped,
 * when their size overflows); the memory planner will hand out scratch instead once it
 * exists. Conv and ConvTranspose are FP32; the integer ones take UINT8/INT8. */
#include "backends/onnx/ops/ops.h"

#include <limits.h>
#include <math.h>
#include <stdatomic.h>
#include <string.h>

#include "backends/onnx/kernels/conv_direct.h"
#include "backends/onnx/kernels/conv_im2col.h"
#include "backends/onnx/kernels/scratch.h"
#include "backends/onnx/kernels/sgemm.h"
#include "backends/onnx/kernels/simd_f32.h"
#include "backends/onnx/kernels/winograd.h"
#include "backends/onnx/ops/spatial.h"
#include "core/alloc.h"
#include "core/pool.h"

typedef struct conv_data {
    inferd_onnx_spatial_t sp;
    int64_t group;
    /* ConvTranspose only */
    int n_output_padding, n_output_shape;
    int64_t output_padding[INFERD_ONNX_MAX_SPATIAL];
    int64_t output_shape[INFERD_MAX_DIMS];
    /* Conv with a constant 3x3 W, group 1, unit strides and dilations: W transformed for
     * Winograd F(4x4, 3x3) at load (NULL when not applicable); freed with this struct. */
    inferd_wino_t *wino;
    /* Conv with a constant W the direct kernel may take: W in its layout, made at load
     * (kernels/conv_direct.h; NULL otherwise: packed per call if the kernel runs). */
    inferd_tensor_t *direct_w;
    /* Conv: the im2col segment table of the first 2-D window the node ran with (a table
     * depends on the window only; building it was about 30 % of a small convolution's
     * time). Published once, then read-only; other windows build theirs per call. */
    _Atomic(struct conv_table *) table;
} conv_data_t;

typedef struct conv_table {
    inferd_onnx_window_t w;
    inferd_conv_seg_t segs[];
} conv_table_t;

static bool same_window(const inferd_onnx_window_t *a, const inferd_onnx_window_t *b)
{
    if (a->nsp != b->nsp)
        return false;
    for (int i = 0; i < a->nsp; i++)
        if (a->in[i] != b->in[i] || a->out[i] != b->out[i] || a->k[i] != b->k[i] ||
            a->s[i] != b->s[i] || a->d[i] != b->d[i] || a->pb[i] != b->pb[i] ||
            a->pe[i] != b->pe[i])
            return false;
    return true;
}

/* The node's cached segment table for w, made on first use; NULL when the node's table
 * is for another window or memory is short (the caller then builds one per call). The
 * cache is the one member of the shared, otherwise read-only op data that changes, once,
 * atomically. */
static const inferd_conv_seg_t *cached_table(const conv_data_t *cd, const inferd_onnx_window_t *w)
{
    conv_data_t *d = (conv_data_t *)cd;
    conv_table_t *t = atomic_load_explicit(&d->table, memory_order_acquire);
    if (!t) {
        size_t n = sizeof(*t) + (size_t)inferd_conv_im2col_table_size(w) * sizeof(t->segs[0]);
        conv_table_t *mine = inferd_malloc(n);
        if (!mine)
            return NULL;
        mine->w = *w;
        inferd_conv_im2col_table(w, mine->segs);
        if (atomic_compare_exchange_strong_explicit(&d->table, &t, mine, memory_order_acq_rel,
                                                    memory_order_acquire))
            t = mine;
        else
            inferd_free(mine); /* another run published first: t is theirs */
    }
    return same_window(&t->w, w) ? t->segs : NULL;
}

static inferd_status_t fail(inferd_err_t *err)
{
    return err ? err->code : INFERD_E_INVALID_ARG;
}

/* A scratch buffer of a * b elements of elem bytes plus extra bytes (at least one byte)
 * from the thread's kernel scratch (kernels/scratch.h), its size in *bytes for
 * inferd_scratch_put; NULL when that count overflows or memory runs out. */
static void *scratch_alloc(int64_t a, int64_t b, size_t elem, size_t extra, size_t *bytes)
{
    size_t n;
    if (a < 0 || b < 0 || __builtin_mul_overflow((size_t)a, (size_t)b, &n) ||
        __builtin_mul_overflow(n, elem, &n) || __builtin_add_overflow(n, extra + 1, &n))
        return NULL;
    *bytes = n;
    return inferd_scratch_get(n);
}

/* ------------------------------------------------------------------------------------ */
/* im2col / col2im                                                                      */

/* Decodes a flat index over the dims of w->out (or w->k) into a multi-index. */
static void unflatten(int64_t idx, const int64_t *dims, int n, int64_t *out)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = idx % dims[i];
        idx /= dims[i];
    }
}

/* Unrolls channels [0, c) of x (each prod(w->in) elements) into col, one row per (channel,
 * kernel offset) and one column per output position. Out-of-image taps read zero. The
 * innermost output dim is the inner loop so that the common stride-1 row is a straight
 * copy. */
#define IM2COL(name, T)                                                                            \
    static void name(const T *x, int64_t c, const inferd_onnx_window_t *w, T *col)                 \
    {                                                                                              \
        int n = w->nsp, last = n - 1;                                                              \
        int64_t in_size = inferd_onnx_dims_prod(w->in, 0, n);                                      \
        int64_t kk_n = inferd_onnx_dims_prod(w->k, 0, n);                                          \
        int64_t outer = inferd_onnx_dims_prod(w->out, 0, last), ow_n = w->out[last];               \
        int64_t kidx[INFERD_ONNX_MAX_SPATIAL], oidx[INFERD_ONNX_MAX_SPATIAL];                      \
        for (int64_t ch = 0; ch < c; ch++) {                                                       \
            const T *xc = x + ch * in_size;                                                        \
            for (int64_t kk = 0; kk < kk_n; kk++) {                                                \
                unflatten(kk, w->k, n, kidx);                                                      \
                T *row = col + (ch * kk_n + kk) * outer * ow_n;                                    \
                int64_t kl = kidx[last] * w->d[last] - w->pb[last];                                \
                for (int64_t o = 0; o < outer; o++) {                                              \
                    unflatten(o, w->out, last, oidx);                                              \
                    int64_t base = 0;                                                              \
                    bool inside = true;                                                            \
                    for (int i = 0; i < last; i++) {                                               \
                        int64_t p = oidx[i] * w->s[i] - w->pb[i] + kidx[i] * w->d[i];              \
                        if (p < 0 || p >= w->in[i]) {                                              \
                            inside = false;                                                        \
                            break;                                                                 \
                        }                                                                          \
                        base = base * w->in[i] + p;                                                \
                    }                                                                              \
                    T *dst = row + o * ow_n;                                                       \
                    if (!inside) {                                                                 \
                        memset(dst, 0, (size_t)ow_n * sizeof(T));                                  \
                        continue;                                                                  \
                    }                                                                              \
                    const T *src = xc + base * w->in[last];                                        \
                    int64_t sl = w->s[last], il = w->in[last];                                     \
                    for (int64_t ow = 0; ow < ow_n; ow++) {                                        \
                        int64_t p = ow * sl + kl;                                                  \
                        dst[ow] = (p >= 0 && p < il) ? src[p] : (T)0;                              \
                    }                                                                              \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
    }

IM2COL(im2col_f32, float)
IM2COL(im2col_i32, int32_t)

/* The range [*lo, *hi) of output columns ow whose input column ow * s + off falls inside
 * [0, w); outside it a tap reads padding. */
static void valid_cols(int64_t off, int64_t s, int64_t w, int64_t ow_n, int64_t *lo, int64_t *hi)
{
    int64_t l = off >= 0 ? 0 : (-off + s - 1) / s;
    int64_t h = w - off <= 0 ? 0 : (w - off + s - 1) / s;
    l = l < ow_n ? l : ow_n;
    h = h < ow_n ? h : ow_n;
    *lo = l;
    *hi = h > l ? h : l;
}

/* dst[i] += a * src[i]. Unrolled by eight with restrict pointers so that the -O2 SLP
 * vectorizer turns each block into SIMD code without a runtime alias check. */
static void axpy_f32(float *restrict dst, const float *restrict src, float a, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        dst[i + 0] += a * src[i + 0];
        dst[i + 1] += a * src[i + 1];
        dst[i + 2] += a * src[i + 2];
        dst[i + 3] += a * src[i + 3];
        dst[i + 4] += a * src[i + 4];
        dst[i + 5] += a * src[i + 5];
        dst[i + 6] += a * src[i + 6];
        dst[i + 7] += a * src[i + 7];
    }
    for (; i < n; i++)
        dst[i] += a * src[i];
}

/* Depthwise 2-D convolution (one input channel per group): each output plane accumulates
 * weight * shifted input rows directly, with no column buffer. y must hold the bias. */
static void depthwise_2d_f32(const float *x, const float *wt, const inferd_onnx_window_t *w,
                             float *y)
{
    int64_t ih_n = w->in[0], iw_n = w->in[1], oh_n = w->out[0], ow_n = w->out[1];
    int64_t kh_n = w->k[0], kw_n = w->k[1], sw = w->s[1];
    for (int64_t kh = 0; kh < kh_n; kh++) {
        for (int64_t kw = 0; kw < kw_n; kw++) {
            float wv = wt[kh * kw_n + kw];
            int64_t off_w = kw * w->d[1] - w->pb[1], lo, hi;
            valid_cols(off_w, sw, iw_n, ow_n, &lo, &hi);
            for (int64_t oh = 0; oh < oh_n; oh++) {
                int64_t ih = oh * w->s[0] - w->pb[0] + kh * w->d[0];
                if (ih < 0 || ih >= ih_n)
                    continue;
                const float *src = x + ih * iw_n;
                float *dst = y + oh * ow_n;
                if (sw == 1) {
                    axpy_f32(dst + lo, src + lo + off_w, wv, hi - lo);
                } else if (sw == 2 && hi - lo <= 512) {
                    /* Stride 2 (MobileNet's downsampling layers): gather the even
                     * columns once so the multiply-add runs on contiguous data. */
                    float tmp[512];
                    for (int64_t ow = lo; ow < hi; ow++)
                        tmp[ow - lo] = src[ow * 2 + off_w];
                    axpy_f32(dst + lo, tmp, wv, hi - lo);
                } else {
                    for (int64_t ow = lo; ow < hi; ow++)
                        dst[ow] += wv * src[ow * sw + off_w];
                }
            }
        }
    }
}

/* The adjoint of im2col for ConvTranspose: col has one row per (output channel, kernel
 * offset) and one column per *input* position (w->in); each value is added to the output
 * position it maps to (w->out, the transposed conv's output). */
static void col2im_f32(const float *col, int64_t c, const inferd_onnx_window_t *w, float *y)
{
    int n = w->nsp;
    int64_t out_size = inferd_onnx_dims_prod(w->out, 0, n);
    int64_t in_size = inferd_onnx_dims_prod(w->in, 0, n);
    int64_t kk_n = inferd_onnx_dims_prod(w->k, 0, n);
    int64_t kidx[INFERD_ONNX_MAX_SPATIAL], iidx[INFERD_ONNX_MAX_SPATIAL];
    for (int64_t ch = 0; ch < c; ch++) {
        float *yc = y + ch * out_size;
        for (int64_t kk = 0; kk < kk_n; kk++) {
            unflatten(kk, w->k, n, kidx);
            const float *row = col + (ch * kk_n + kk) * in_size;
            for (int64_t i = 0; i < in_size; i++) {
                unflatten(i, w->in, n, iidx);
                int64_t off = 0;
                bool inside = true;
                for (int d = 0; d < n; d++) {
                    int64_t p = iidx[d] * w->s[d] - w->pb[d] + kidx[d] * w->d[d];
                    if (p < 0 || p >= w->out[d]) {
                        inside = false;
                        break;
                    }
                    off = off * w->out[d] + p;
                }
                if (inside)
                    yc[off] += row[i];
            }
        }
    }
}

/* col2im for 2-D windows: each (channel, kh, kw) row of col adds into the output rows it
 * maps to, over the clamped range of input columns whose target is inside the image. */
static void col2im_2d_f32(const float *col, int64_t c, const inferd_onnx_window_t *w, float *y)
{
    int64_t ih_n = w->in[0], iw_n = w->in[1], oh_n = w->out[0], ow_n = w->out[1];
    int64_t kh_n = w->k[0], kw_n = w->k[1], sw = w->s[1];
    for (int64_t ch = 0; ch < c; ch++) {
        float *yc = y + ch * oh_n * ow_n;
        for (int64_t kh = 0; kh < kh_n; kh++) {
            for (int64_t kw = 0; kw < kw_n; kw++) {
                const float *row = col + ((ch * kh_n + kh) * kw_n + kw) * ih_n * iw_n;
                int64_t off_w = kw * w->d[1] - w->pb[1], lo, hi;
                valid_cols(off_w, sw, ow_n, iw_n, &lo, &hi);
                for (int64_t ih = 0; ih < ih_n; ih++) {
                    int64_t oh = ih * w->s[0] - w->pb[0] + kh * w->d[0];
                    if (oh < 0 || oh >= oh_n)
                        continue;
                    float *dst = yc + oh * ow_n;
                    const float *src = row + ih * iw_n;
                    if (sw == 1) {
                        for (int64_t iw = lo; iw < hi; iw++)
                            dst[iw + off_w] += src[iw];
                    } else {
                        for (int64_t iw = lo; iw < hi; iw++)
                            dst[iw * sw + off_w] += src[iw];
                    }
                }
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Shapes                                                                               */

/* Geometry of a Conv-like node: X [N, C, in...], W [M, C/group, k...]. */
typedef struct conv_geom {
    int64_t n, c, m, group;
    inferd_onnx_window_t w;
} conv_geom_t;

static inferd_status_t conv_geom(const conv_data_t *d, const inferd_tensor_t *x,
                                 const inferd_tensor_t *wt, conv_geom_t *g, inferd_err_t *err)
{
    char sx[128], sw[128];
    if (x->ndim < 3 || wt->ndim != x->ndim)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "X %s and W %s must have the same rank, at least 3",
                              inferd_onnx_dims_str(x->dims, x->ndim, sx, sizeof(sx)),
                              inferd_onnx_dims_str(wt->dims, wt->ndim, sw, sizeof(sw)));
    g->n = x->dims[0];
    g->c = x->dims[1];
    g->m = wt->dims[0];
    g->group = d->group;
    if (g->group <= 0 || g->c % g->group || g->m % g->group || wt->dims[1] != g->c / g->group)
        return inferd_err_set(
            err, INFERD_E_INVALID_ARG, "X %s and W %s do not match with group=%lld",
            inferd_onnx_dims_str(x->dims, x->ndim, sx, sizeof(sx)),
            inferd_onnx_dims_str(wt->dims, wt->ndim, sw, sizeof(sw)), (long long)g->group);
    int nsp = x->ndim - 2;
    for (int i = 0; i < d->sp.n_kernel && i < nsp; i++)
        if (d->sp.kernel[i] != wt->dims[2 + i])
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "kernel_shape disagrees with W %s",
                                  inferd_onnx_dims_str(wt->dims, wt->ndim, sw, sizeof(sw)));
    return inferd_onnx_window_make(&d->sp, nsp, x->dims + 2, wt->dims + 2, &g->w, err);
}

static inferd_status_t check_bias(const inferd_tensor_t *b, int64_t m, inferd_err_t *err)
{
    if (b && (b->ndim != 1 || b->dims[0] != m))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "bias must be 1-D of %lld values",
                              (long long)m);
    return INFERD_OK;
}

static inferd_status_t conv_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_onnx_shape_t *out, inferd_err_t *err)
{
    conv_geom_t g;
    if (conv_geom(node->op_data, in[0], in[1], &g, err) != INFERD_OK)
        return fail(err);
    out[0].ndim = in[0]->ndim;
    out[0].dims[0] = g.n;
    out[0].dims[1] = g.m;
    memcpy(out[0].dims + 2, g.w.out, (size_t)g.w.nsp * sizeof(int64_t));
    if (node->residual && in[3]) {
        /* The fused Add's shape: the two broadcast, as the Add node would have. */
        inferd_onnx_shape_t c = out[0], s;
        inferd_onnx_shape_of(in[3], &s);
        return inferd_onnx_broadcast(&c, &s, &out[0], err);
    }
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Conv (FP32)                                                                          */

static bool is_pointwise(const inferd_onnx_window_t *w)
{
    for (int i = 0; i < w->nsp; i++)
        if (w->k[i] != 1 || w->s[i] != 1 || w->pb[i] != 0 || w->pe[i] != 0)
            return false;
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* Winograd F(4x4, 3x3) (kernels/winograd.c)                                            */

static void conv_data_free(void *data)
{
    conv_data_t *d = data;
    if (d) {
        inferd_wino_destroy(d->wino);
        inferd_tensor_unref(d->direct_w);
        inferd_free(atomic_load(&d->table));
    }
    inferd_free(d);
}

/* Input channels from which Winograd is used (see wino_worth_it). */
#define WINO_MIN_C 16

/* A constant FP32 W [m, c, kh, kw] of a group-1 Conv with unit strides and dilations (what
 * Winograd and the direct kernel need), or NULL. */
static const inferd_tensor_t *unit_stride_weights(const inferd_onnx_init_t *ic,
                                                  const conv_data_t *d)
{
    const inferd_tensor_t *wt = ic->in_consts[1];
    if (!wt || wt->dtype != INFERD_DTYPE_FP32 || wt->ndim != 4 || d->group != 1)
        return NULL;
    for (int i = 0; i < d->sp.n_strides; i++)
        if (d->sp.strides[i] != 1)
            return NULL;
    for (int i = 0; i < d->sp.n_dilations; i++)
        if (d->sp.dilations[i] != 1)
            return NULL;
    return wt;
}

/* The Winograd weights when the node qualifies (a constant 3x3 W with at least WINO_MIN_C
 * input channels, group 1, unit strides and dilations); NULL when it does not or the
 * memory is not there, and the node then uses the other paths. */
static inferd_wino_t *wino_prepare(const inferd_onnx_init_t *ic, const conv_data_t *d)
{
    const inferd_tensor_t *wt = unit_stride_weights(ic, d);
    if (!wt || wt->dims[2] != 3 || wt->dims[3] != 3 || wt->dims[1] < WINO_MIN_C)
        return NULL;
    return inferd_wino_create(wt->data, wt->dims[0], wt->dims[1], INFERD_OWNER_MODEL);
}

/* W packed once for the direct kernel when it may take the node (kernels/conv_direct.h:
 * a window of more than one tap, few enough taps), charged to the model; NULL otherwise
 * or without the memory (the kernel then packs per call). */
static inferd_tensor_t *direct_prepare(const inferd_onnx_init_t *ic, const conv_data_t *d)
{
    const inferd_tensor_t *wt = unit_stride_weights(ic, d);
    if (!wt || wt->dims[2] * wt->dims[3] < 2 ||
        !inferd_conv_direct_may_fit(wt->dims[1], wt->dims[2], wt->dims[3]))
        return NULL;
    int64_t kdim = wt->dims[1] * wt->dims[2] * wt->dims[3];
    inferd_tensor_t *p = inferd_tensor_create(INFERD_DTYPE_FP32, (int64_t[]){kdim, wt->dims[0]}, 2,
                                              0, INFERD_OWNER_MODEL, NULL);
    if (p)
        inferd_conv_direct_pack(wt->data, wt->dims[0], kdim, p->data);
    return p;
}

/* The transforms run 16 input channels per vector, so below 16 channels most lanes are
 * padding. Measured here (one 3x3 pad-1 Conv + Relu, 1 thread, batch 1 / batch 8, ms,
 * im2col -> Winograd): C=M=16 on 32x32 0.064 -> 0.039 / 0.87 -> 0.32; 32 on 32x32
 * 0.22 -> 0.096 / 1.75 -> 0.79; 64 on 16x16 0.19 -> 0.072 / 2.0 -> 0.57; 128 on 8x8
 * 0.18 -> 0.061 / 1.5 -> 0.51; 128 on 4x4 (one tile) 0.048 -> 0.036 / 0.35 -> 0.15;
 * 16 on 8x8 0.0045 -> 0.0045 / 0.031 -> 0.022; 64 -> 8 on 16x16 0.043 -> 0.043 / 0.28 ->
 * 0.22; but C=3 -> 32 on 64x64 (batch 8) 0.93 -> 2.0, 8 -> 8 on 32x32 0.31 -> 0.38 and
 * 1 -> 8 on 28x28 0.03 -> 0.29. So: 16 or more input channels, whatever the plane. The
 * rule never looks at the batch, so every image of a batch gets the same arithmetic. */
static bool wino_worth_it(const conv_data_t *d, const conv_geom_t *g)
{
    return g->group == 1 && g->w.nsp == 2 && g->m == d->wino->m && g->c == d->wino->c &&
           g->c >= WINO_MIN_C;
}

static inferd_status_t wino_conv(const inferd_onnx_node_t *node, const conv_geom_t *g,
                                 const float *x, const float *bias, const float *res, float *y,
                                 inferd_err_t *err)
{
    const conv_data_t *d = node->op_data;
    inferd_wino_conv_t cv = {.x = x,
                             .n = g->n,
                             .ih = g->w.in[0],
                             .iw = g->w.in[1],
                             .pad_top = g->w.pb[0],
                             .pad_left = g->w.pb[1],
                             .oh = g->w.out[0],
                             .ow = g->w.out[1],
                             .bias = bias,
                             .res = res,
                             .act = node->epilogue,
                             .y = y};
    if (!inferd_wino_run(d->wino, &cv))
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory for Winograd");
    return INFERD_OK;
}

/* One image's product split by output channels (rows of W) over the intra-op pool, for
 * products the GEMM would not split itself (too few column groups: small output planes).
 * Every element is one k-ascending sum on any row split, so the result does not depend on
 * it. */
static bool conv_sgemm(const inferd_sgemm_job_t *job)
{
    inferd_pool_t *pool = inferd_pool_default();
    int64_t threads = inferd_pool_budget();
    if (pool && threads <= 0)
        threads = inferd_pool_workers(pool) + 1;
    int64_t work = job->m * job->n * job->k;
    /* At least 2^18 multiply-adds per part (the GEMM's own threshold) and 6 rows (its
     * row block). */
    if (!pool || threads < 2 || job->trans_a || job->m < 12 || work < (2ll << 18) ||
        inferd_sgemm_threads(job->m, job->n, job->k, 0) >= threads)
        return inferd_sgemm_run(job);
    return inferd_sgemm_run_rows(job, (1ll << 18) / (job->n * job->k) + 1);
}

/* A batch of a group-1 2-D convolution on the panel path, split by images over the
 * intra-op pool: each task unrolls and multiplies its own images in its own panels, with
 * the GEMM on that task's thread only. An image's arithmetic is the same as on one
 * thread, so the outputs do not depend on the split. */
typedef struct conv_par {
    const inferd_onnx_node_t *node;
    const conv_geom_t *g;
    const float *x, *wt, *bias;
    const float *res; /* fused residual, shaped as y, or NULL */
    float *y;
    const inferd_conv_seg_t *table;
    float *panels; /* per task: task * per */
    int64_t kdim, per, n_tasks;
    atomic_bool failed;
} conv_par_t;

static void conv_par_task(void *arg, int64_t task)
{
    conv_par_t *p = arg;
    const conv_geom_t *g = p->g;
    const inferd_onnx_window_t *w = &g->w;
    int64_t in_size = w->in[0] * w->in[1], out_size = w->out[0] * w->out[1];
    float *panels = p->panels + task * p->per;
    inferd_sgemm_pack_t pack = {.n = out_size,
                                .k = p->kdim,
                                .n_panels =
                                    (out_size + INFERD_SGEMM_PANEL - 1) / INFERD_SGEMM_PANEL,
                                .panels = panels};
    for (int64_t n = g->n * task / p->n_tasks; n < g->n * (task + 1) / p->n_tasks; n++) {
        inferd_conv_im2col_panels(p->x + n * g->c * in_size, g->c, w, p->table, panels);
        inferd_sgemm_job_t job = {.m = g->m,
                                  .n = out_size,
                                  .k = p->kdim,
                                  .a = p->wt,
                                  .lda = p->kdim,
                                  .pack = &pack,
                                  .y = p->y + n * g->m * out_size,
                                  .ldy = out_size,
                                  .alpha = 1.0f,
                                  .beta = 1.0f,
                                  .c = p->bias,
                                  .c_rs = 1,
                                  .c_cs = 0,
                                  .d = p->res ? p->res + n * g->m * out_size : NULL,
                                  .d_rs = out_size,
                                  .act = p->node->epilogue,
                                  .max_threads = 1};
        if (!inferd_sgemm_run(&job))
            atomic_store(&p->failed, true);
    }
}

/* Threads a batch of n images may use (the calling thread's intra-op budget), 1 when
 * there is no pool. */
static int64_t conv_threads(int64_t n)
{
    inferd_pool_t *pool = inferd_pool_default();
    if (!pool || n < 2)
        return 1;
    int64_t t = inferd_pool_budget();
    if (t <= 0)
        t = inferd_pool_workers(pool) + 1;
    return t < n ? t : n;
}

static inferd_status_t conv_par_f32(const inferd_onnx_node_t *node, const conv_geom_t *g,
                                    const float *x, const float *wt, const float *bias,
                                    const float *res, float *y, int64_t kdim, int64_t threads,
                                    inferd_err_t *err)
{
    const inferd_onnx_window_t *w = &g->w;
    int64_t out_size = w->out[0] * w->out[1];
    /* A multiple of 16 floats: every task's panels stay 64-byte aligned. */
    int64_t per =
        (out_size + INFERD_SGEMM_PANEL - 1) / INFERD_SGEMM_PANEL * INFERD_SGEMM_PANEL * kdim;
    /* Up to four tasks per thread (handed out as threads come free, so a helper that
     * starts late is not waited for) while their panels stay within 256 KiB; each task
     * still has its own panels, and each image is one task's. */
    int64_t n_tasks = (1 << 16) / (per > 0 ? per : 1);
    if (n_tasks > threads * 4)
        n_tasks = threads * 4;
    if (n_tasks > g->n)
        n_tasks = g->n;
    if (n_tasks < threads)
        n_tasks = threads;
    int64_t segs = inferd_conv_im2col_table_size(w);
    size_t buf_bytes = 0;
    float *buf =
        scratch_alloc(n_tasks, per, sizeof(float),
                      16 * sizeof(float) + (size_t)segs * sizeof(inferd_conv_seg_t), &buf_bytes);
    if (!buf)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED,
                              "out of memory for the im2col buffer");
    conv_par_t p = {.node = node,
                    .g = g,
                    .x = x,
                    .wt = wt,
                    .bias = bias,
                    .res = res,
                    .y = y,
                    .panels = (float *)(((uintptr_t)buf + 63) & ~(uintptr_t)63),
                    .kdim = kdim,
                    .per = per,
                    .n_tasks = n_tasks};
    p.table = cached_table(node->op_data, w);
    if (!p.table) {
        inferd_conv_seg_t *table = (inferd_conv_seg_t *)(p.panels + n_tasks * per);
        inferd_conv_im2col_table(w, table);
        p.table = table;
    }
    atomic_init(&p.failed, false);
    inferd_pool_parallel_for(inferd_pool_default(), n_tasks, (int)threads, conv_par_task, &p);
    inferd_scratch_put(buf, buf_bytes);
    if (atomic_load(&p.failed))
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED,
                              "out of memory for the convolution");
    return INFERD_OK;
}

static inferd_status_t conv_f32(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                inferd_tensor_t *const *out, inferd_err_t *err);

/* A fused residual the kernels cannot take in their epilogue (a shape other than the
 * convolution's, known only at run time, or the depthwise path, which writes Y before
 * it is done): the convolution alone into scratch, then out = act(conv + S) with the
 * Add's broadcasting, the operations the Add and activation nodes would have applied. */
static inferd_status_t conv_residual_apart(const inferd_onnx_node_t *node,
                                           inferd_tensor_t *const *in, inferd_tensor_t *out,
                                           inferd_err_t *err)
{
    inferd_onnx_node_t plain = *node;
    plain.residual = false;
    plain.epilogue = (inferd_onnx_act_t){0};
    inferd_onnx_shape_t cs, ss, os;
    if (conv_reshape(&plain, in, &cs, err) != INFERD_OK)
        return fail(err);
    inferd_tensor_t *tmp =
        inferd_tensor_create(INFERD_DTYPE_FP32, cs.dims, cs.ndim, 0, INFERD_OWNER_ARENA, err);
    if (!tmp)
        return fail(err);
    inferd_tensor_t *const tmp_out[1] = {tmp};
    inferd_status_t rc = conv_f32(&plain, in, tmp_out, err);
    if (rc == INFERD_OK) {
        inferd_onnx_shape_of(in[3], &ss);
        inferd_onnx_shape_of(out, &os);
        inferd_onnx_bcast_t w;
        inferd_onnx_bcast_init(&w, &cs, &ss, &os);
        const float *a = tmp->data, *b = in[3]->data;
        float *y = out->data;
        for (int64_t row = 0; row < w.rows; row++) {
            float *yr = y + row * w.inner;
            for (int64_t i = 0; i < w.inner; i++)
                yr[i] = a[w.off_a + i * w.inner_sa] + b[w.off_b + i * w.inner_sb];
            inferd_onnx_bcast_next(&w);
        }
        inferd_simd_act(&node->epilogue, y, (size_t)(w.rows * w.inner));
    }
    inferd_tensor_unref(tmp);
    return rc;
}

static inferd_status_t conv_f32(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                inferd_tensor_t *const *out, inferd_err_t *err)
{
    conv_geom_t g;
    if (conv_geom(node->op_data, in[0], in[1], &g, err) != INFERD_OK ||
        check_bias(in[2], g.m, err) != INFERD_OK)
        return fail(err);
    const inferd_onnx_window_t *w = &g.w;
    int64_t cg = g.c / g.group, mg = g.m / g.group;
    int64_t in_size = inferd_onnx_dims_prod(w->in, 0, w->nsp);
    int64_t out_size = inferd_onnx_dims_prod(w->out, 0, w->nsp);
    int64_t kdim = cg * inferd_onnx_dims_prod(w->k, 0, w->nsp);
    if (mg > INT_MAX || out_size > INT_MAX || kdim > INT_MAX)
        return inferd_err_set(err, INFERD_E_TOO_LARGE, "convolution too large");
    const float *x = in[0]->data, *wt = in[1]->data;
    const float *bias = in[2] ? in[2]->data : NULL;
    float *y = out[0]->data;
    bool direct = is_pointwise(w);
    /* One input channel per group of several groups (depthwise, any multiplier): a direct
     * kernel beats im2col + a one-row GEMM by a wide margin. A group-1 convolution of a
     * one-channel image (LeNet's first layer) is one GEMM with M rows instead. */
    bool depthwise = cg == 1 && g.group > 1 && w->nsp == 2 && !direct;
    /* A fused residual Add (node->residual): S at input 3 goes into the GEMM's or the
     * Winograd output transform's epilogue when it has the convolution's very shape;
     * otherwise it is added apart, after the convolution. */
    const float *res = NULL;
    if (node->residual && in[3]) {
        const inferd_tensor_t *s = in[3];
        bool same = s->dtype == INFERD_DTYPE_FP32 && s->ndim == out[0]->ndim &&
                    out[0]->dims[0] == g.n && out[0]->dims[1] == g.m &&
                    memcmp(out[0]->dims + 2, w->out, (size_t)w->nsp * sizeof(int64_t)) == 0 &&
                    memcmp(s->dims, out[0]->dims, (size_t)s->ndim * sizeof(int64_t)) == 0;
        if (!same || depthwise || kdim == 0)
            return conv_residual_apart(node, in, out[0], err);
        res = s->data;
    }
    if (out_size == 0 || g.n == 0)
        return INFERD_OK;
    const conv_data_t *cd = node->op_data;
    if (cd->wino && wino_worth_it(cd, &g)) {
        inferd_status_t rc = wino_conv(node, &g, x, bias, res, y, err);
        /* Out of scratch memory: fall back to im2col, whose buffer may still fit, unless
         * Y (partly written) is the residual's own block. */
        if (rc != INFERD_E_RESOURCE_EXHAUSTED || (res && res == y))
            return rc;
        inferd_err_clear(err);
    }
    /* Small windows over few channels: computed straight from the input rows, without
     * the unroll that would cost more than the product (kernels/conv_direct.h). */
    if (g.group == 1 && !direct && inferd_conv_direct_fits(w, g.c)) {
        bool relu = node->epilogue.kind == INFERD_ONNX_ACT_RELU;
        /* Packed at load from the constant W (the only W such a node runs with). */
        const float *packed =
            cd->direct_w && cd->direct_w->dims[0] == kdim && cd->direct_w->dims[1] == g.m
                ? cd->direct_w->data
                : NULL;
        if (inferd_conv_direct(x, g.n, g.c, w, wt, packed, g.m, bias, res, relu, y)) {
            if (!relu)
                inferd_simd_act(&node->epilogue, y, g.n * g.m * out_size);
            return INFERD_OK;
        }
        /* Out of scratch memory: im2col's may still fit, unless Y (partly written) is
         * the residual's own block. */
        if (res && res == y)
            return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED,
                                  "out of memory for the direct convolution");
    }
    /* 2-D windows are unrolled straight into the GEMM's panel layout (kernels/conv_im2col.c),
     * other ranks into a row-major column matrix. */
    bool panels = !direct && !depthwise && kdim > 0 && inferd_conv_im2col_fits(w);
    int64_t n_tasks = panels && g.group == 1 ? conv_threads(g.n) : 1;
    /* Images in parallel need one image's panels per thread; above 256 KiB in all, one
     * image at a time with the GEMM's columns split over the threads was as fast (ResNet
     * stride-2 layers at batch 8 on 2 threads, measured side by side) and keeps the
     * scratch resident on each thread to one image's. */
    int64_t per_image = (out_size + INFERD_SGEMM_PANEL - 1) / INFERD_SGEMM_PANEL *
                        INFERD_SGEMM_PANEL * kdim * (int64_t)sizeof(float);
    if (n_tasks > 1 && per_image > (int64_t)(256 << 10) / n_tasks)
        n_tasks = 1;
    if (n_tasks > 1)
        return conv_par_f32(node, &g, x, wt, bias, res, y, kdim, n_tasks, err);
    int64_t n_panels = (out_size + INFERD_SGEMM_PANEL - 1) / INFERD_SGEMM_PANEL;
    float *col = NULL;
    size_t col_bytes = 0;
    const inferd_conv_seg_t *table = NULL;
    inferd_sgemm_pack_t pack = {.n = out_size, .k = kdim, .n_panels = n_panels};
    if (panels) {
        /* The panels, 64-byte aligned, then the segment table. */
        int64_t segs = inferd_conv_im2col_table_size(w);
        col = scratch_alloc(kdim * n_panels, INFERD_SGEMM_PANEL, sizeof(float),
                            16 * sizeof(float) + (size_t)segs * sizeof(inferd_conv_seg_t),
                            &col_bytes);
        if (col) {
            pack.panels = (float *)(((uintptr_t)col + 63) & ~(uintptr_t)63);
            table = cached_table(cd, w);
            if (!table) {
                inferd_conv_seg_t *own =
                    (inferd_conv_seg_t *)(pack.panels + n_panels * INFERD_SGEMM_PANEL * kdim);
                inferd_conv_im2col_table(w, own);
                table = own;
            }
        }
    } else if (!direct && !depthwise && kdim > 0) {
        col = scratch_alloc(kdim, out_size, sizeof(float), 0, &col_bytes);
    }
    if ((panels || (!direct && !depthwise && kdim > 0)) && !col)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED,
                              "out of memory for the im2col buffer");
    for (int64_t n = 0; n < g.n; n++) {
        for (int64_t gi = 0; gi < g.group; gi++) {
            const float *xg = x + (n * g.c + gi * cg) * in_size;
            float *yg = y + (n * g.m + gi * mg) * out_size;
            const float *src = xg;
            if (!depthwise && kdim > 0) {
                if (panels)
                    inferd_conv_im2col_panels(xg, cg, w, table, pack.panels);
                else if (!direct)
                    im2col_f32(xg, cg, w, col);
                if (!direct && !panels)
                    src = col;
                /* Y = act(W * columns + bias): every element is one k-ascending sum on
                 * every path of the engine's GEMM, so an image's outputs do not depend on
                 * the rest of the batch. */
                inferd_sgemm_job_t job = {.m = mg,
                                          .n = out_size,
                                          .k = kdim,
                                          .a = wt + gi * mg * kdim,
                                          .lda = kdim,
                                          .pack = panels ? &pack : NULL,
                                          .b = src,
                                          .ldb = out_size,
                                          .y = yg,
                                          .ldy = out_size,
                                          .alpha = 1.0f,
                                          .beta = 1.0f,
                                          .c = bias ? bias + gi * mg : NULL,
                                          .c_rs = 1,
                                          .c_cs = 0,
                                          .d = res ? res + (n * g.m + gi * mg) * out_size : NULL,
                                          .d_rs = out_size,
                                          .act = node->epilogue};
                conv_sgemm(&job);
                continue;
            }
            /* Depthwise, or no kernel elements: the bias, then the windows. */
            for (int64_t m = 0; m < mg; m++) {
                float b = bias ? bias[gi * mg + m] : 0.0f;
                for (int64_t i = 0; i < out_size; i++)
                    yg[m * out_size + i] = b;
            }
            const float *wg = wt + gi * mg * kdim;
            if (kdim > 0)
                for (int64_t m = 0; m < mg; m++)
                    depthwise_2d_f32(xg, wg + m * kdim, w, yg + m * out_size);
            /* The fused activation (node->epilogue), which the GEMM path applies itself. */
            inferd_simd_act(&node->epilogue, yg, mg * out_size);
        }
    }
    inferd_scratch_put(col, col_bytes);
    return INFERD_OK;
}

static inferd_status_t conv_parse(inferd_onnx_init_t *ic, conv_data_t *d, inferd_err_t *err)
{
    memset(d, 0, sizeof(*d));
    if (inferd_onnx_spatial_parse(ic->node, &d->sp, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "group", 1, &d->group, err) != INFERD_OK)
        return fail(err);
    if (d->group <= 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "group must be positive");
    return INFERD_OK;
}

static void set_data(inferd_onnx_init_t *ic, const conv_data_t *d)
{
    conv_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = *d;
    ic->node->op_data = p;
    ic->node->free_op_data = conv_data_free;
}

static inferd_status_t conv_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t t = ic->in_types[0];
    if (t != INFERD_DTYPE_FP32)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (ic->in_types[1] != t || (ic->in_types[2] != INFERD_DTYPE_INVALID && ic->in_types[2] != t) ||
        (ic->node->residual && ic->in_types[3] != t))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Conv inputs differ in type");
    conv_data_t d;
    if (conv_parse(ic, &d, err) != INFERD_OK)
        return fail(err);
    d.wino = wino_prepare(ic, &d);
    d.direct_w = d.wino ? NULL : direct_prepare(ic, &d);
    set_data(ic, &d);
    ic->node->compute = conv_f32;
    ic->node->epilogue_done = true; /* conv_f32 applies node->epilogue on every path */
    ic->out_types[0] = t;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* ConvTranspose (FP32)                                                                 */

/* Geometry of ConvTranspose: X [N, C, in...], W [C, M/group, k...] gives Y [N, M, out...].
 * The window is expressed from the output's point of view: w.in holds the input dims and
 * w.out the (larger) output dims, so col2im maps input positions to output positions. */
static inferd_status_t convt_geom(const conv_data_t *d, const inferd_tensor_t *x,
                                  const inferd_tensor_t *wt, conv_geom_t *g, inferd_err_t *err)
{
    char sx[128], sw[128];
    if (x->ndim < 3 || wt->ndim != x->ndim)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "X %s and W %s must have the same rank, at least 3",
                              inferd_onnx_dims_str(x->dims, x->ndim, sx, sizeof(sx)),
                              inferd_onnx_dims_str(wt->dims, wt->ndim, sw, sizeof(sw)));
    int nsp = x->ndim - 2;
    g->n = x->dims[0];
    g->c = x->dims[1];
    g->group = d->group;
    g->m = wt->dims[1] * d->group;
    if (wt->dims[0] != g->c || g->c % g->group)
        return inferd_err_set(
            err, INFERD_E_INVALID_ARG, "X %s and W %s do not match with group=%lld",
            inferd_onnx_dims_str(x->dims, x->ndim, sx, sizeof(sx)),
            inferd_onnx_dims_str(wt->dims, wt->ndim, sw, sizeof(sw)), (long long)g->group);
    const inferd_onnx_spatial_t *sp = &d->sp;
    if ((sp->n_strides && sp->n_strides != nsp) || (sp->n_dilations && sp->n_dilations != nsp) ||
        (sp->n_pads && sp->n_pads != 2 * nsp) ||
        (d->n_output_padding && d->n_output_padding != nsp))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "attribute lengths disagree with %d spatial dims", nsp);
    inferd_onnx_window_t *w = &g->w;
    w->nsp = nsp;
    for (int i = 0; i < nsp; i++) {
        w->in[i] = x->dims[2 + i];
        w->k[i] = wt->dims[2 + i];
        w->s[i] = sp->n_strides ? sp->strides[i] : 1;
        w->d[i] = sp->n_dilations ? sp->dilations[i] : 1;
        int64_t opad = d->n_output_padding ? d->output_padding[i] : 0;
        if (w->k[i] > INFERD_ONNX_MAX_WINDOW || opad < 0 || opad > INFERD_ONNX_MAX_WINDOW ||
            w->in[i] > ((int64_t)1 << 40))
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "kernel or output_padding too large");
        int64_t full = w->s[i] * (w->in[i] - 1) + opad + (w->k[i] - 1) * w->d[i] + 1;
        bool have_shape = d->n_output_shape > 0;
        if (have_shape || sp->auto_pad == INFERD_ONNX_AUTO_PAD_SAME_UPPER ||
            sp->auto_pad == INFERD_ONNX_AUTO_PAD_SAME_LOWER) {
            int64_t target =
                have_shape ? d->output_shape[d->n_output_shape - nsp + i] : w->in[i] * w->s[i];
            int64_t total = full - target;
            if (total < 0)
                total = 0;
            /* The spec puts the odd pad at the start unless auto_pad is SAME_UPPER. */
            if (sp->auto_pad == INFERD_ONNX_AUTO_PAD_SAME_UPPER) {
                w->pb[i] = total / 2;
                w->pe[i] = total - w->pb[i];
            } else {
                w->pe[i] = total / 2;
                w->pb[i] = total - w->pe[i];
            }
            w->out[i] = target;
        } else {
            w->pb[i] = sp->n_pads && sp->auto_pad != INFERD_ONNX_AUTO_PAD_VALID ? sp->pads[i] : 0;
            w->pe[i] =
                sp->n_pads && sp->auto_pad != INFERD_ONNX_AUTO_PAD_VALID ? sp->pads[i + nsp] : 0;
            w->out[i] = full - w->pb[i] - w->pe[i];
        }
        if (w->out[i] < 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "negative output size");
    }
    if (d->n_output_shape && d->n_output_shape < nsp)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "output_shape has %d values",
                              d->n_output_shape);
    return INFERD_OK;
}

static inferd_status_t convt_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_onnx_shape_t *out, inferd_err_t *err)
{
    conv_geom_t g;
    if (convt_geom(node->op_data, in[0], in[1], &g, err) != INFERD_OK)
        return fail(err);
    out[0].ndim = in[0]->ndim;
    out[0].dims[0] = g.n;
    out[0].dims[1] = g.m;
    memcpy(out[0].dims + 2, g.w.out, (size_t)g.w.nsp * sizeof(int64_t));
    return INFERD_OK;
}

static inferd_status_t convt_f32(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                 inferd_tensor_t *const *out, inferd_err_t *err)
{
    conv_geom_t g;
    if (convt_geom(node->op_data, in[0], in[1], &g, err) != INFERD_OK ||
        check_bias(in[2], g.m, err) != INFERD_OK)
        return fail(err);
    const inferd_onnx_window_t *w = &g.w;
    int64_t cg = g.c / g.group, mg = g.m / g.group;
    int64_t in_size = inferd_onnx_dims_prod(w->in, 0, w->nsp);
    int64_t out_size = inferd_onnx_dims_prod(w->out, 0, w->nsp);
    int64_t rows = mg * inferd_onnx_dims_prod(w->k, 0, w->nsp);
    if (rows > INT_MAX || in_size > INT_MAX || cg > INT_MAX)
        return inferd_err_set(err, INFERD_E_TOO_LARGE, "convolution too large");
    const float *x = in[0]->data, *wt = in[1]->data;
    const float *bias = in[2] ? in[2]->data : NULL;
    float *y = out[0]->data;
    int64_t total = g.n * g.m * out_size;
    for (int64_t i = 0; i < total; i++)
        y[i] = bias ? bias[(i / out_size) % g.m] : 0.0f;
    if (rows == 0 || in_size == 0 || cg == 0)
        return INFERD_OK;
    size_t col_bytes = 0;
    float *col = scratch_alloc(rows, in_size, sizeof(float), 0, &col_bytes);
    if (!col)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory for columns");
    for (int64_t n = 0; n < g.n; n++) {
        for (int64_t gi = 0; gi < g.group; gi++) {
            const float *xg = x + (n * g.c + gi * cg) * in_size;
            const float *wg = wt + gi * cg * rows;
            /* col[rows, in] = Wg^T [rows, cg] * Xg [cg, in] */
            inferd_sgemm(true, false, rows, in_size, cg, 1.0f, wg, rows, xg, in_size, 0.0f, col);
            if (w->nsp == 2)
                col2im_2d_f32(col, mg, w, y + (n * g.m + gi * mg) * out_size);
            else
                col2im_f32(col, mg, w, y + (n * g.m + gi * mg) * out_size);
        }
    }
    inferd_scratch_put(col, col_bytes);
    return INFERD_OK;
}

static inferd_status_t convt_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t t = ic->in_types[0];
    if (t != INFERD_DTYPE_FP32)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (ic->in_types[1] != t || (ic->in_types[2] != INFERD_DTYPE_INVALID && ic->in_types[2] != t))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "ConvTranspose inputs differ in type");
    conv_data_t d;
    if (conv_parse(ic, &d, err) != INFERD_OK)
        return fail(err);
    const int64_t *v;
    size_t n;
    bool present;
    if (inferd_onnx_attr_ints(ic->node, "output_padding", &v, &n, &present, err) != INFERD_OK)
        return fail(err);
    if (present) {
        if (n > INFERD_ONNX_MAX_SPATIAL)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "output_padding too long");
        memcpy(d.output_padding, v, n * sizeof(int64_t));
        d.n_output_padding = (int)n;
    }
    if (inferd_onnx_attr_ints(ic->node, "output_shape", &v, &n, &present, err) != INFERD_OK)
        return fail(err);
    if (present) {
        if (n > INFERD_MAX_DIMS)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "output_shape too long");
        memcpy(d.output_shape, v, n * sizeof(int64_t));
        d.n_output_shape = (int)n;
    }
    set_data(ic, &d);
    ic->node->compute = convt_f32;
    ic->out_types[0] = t;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* ConvInteger and QLinearConv                                                          */

/* Reads element i of an 8-bit tensor as int32. */
static int32_t q_get(const inferd_tensor_t *t, int64_t i)
{
    if (t->dtype == INFERD_DTYPE_UINT8)
        return ((const uint8_t *)t->data)[i];
    return ((const int8_t *)t->data)[i];
}

/* A zero point: scalar or per channel (1-D of count); NULL reads as 0. */
static inferd_status_t zp_check(const inferd_tensor_t *zp, int64_t count, const char *what,
                                inferd_err_t *err)
{
    if (!zp)
        return INFERD_OK;
    uint64_t n = inferd_tensor_numel(zp);
    if (zp->ndim > 1 || (n != 1 && (int64_t)n != count))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s must be a scalar or have %lld values",
                              what, (long long)count);
    return INFERD_OK;
}

static int32_t zp_at(const inferd_tensor_t *zp, int64_t i)
{
    if (!zp)
        return 0;
    return q_get(zp, inferd_tensor_numel(zp) == 1 ? 0 : i);
}

static float scale_at(const inferd_tensor_t *s, int64_t i)
{
    const float *v = s->data;
    return inferd_tensor_numel(s) == 1 ? v[0] : v[i];
}

/* Exact integer convolution: acc[n, m, out] = sum (x - x_zp) * (w - w_zp[m]). The input is
 * first widened to int32 with its zero point removed, so padding reads as zero. */
static inferd_status_t conv_int_acc(const conv_data_t *d, const inferd_tensor_t *x,
                                    const inferd_tensor_t *x_zp, const inferd_tensor_t *wt,
                                    const inferd_tensor_t *w_zp, int32_t *acc, conv_geom_t *g,
                                    inferd_err_t *err)
{
    if (conv_geom(d, x, wt, g, err) != INFERD_OK || zp_check(x_zp, 1, "x_zero_point", err) ||
        zp_check(w_zp, g->m, "w_zero_point", err))
        return fail(err);
    const inferd_onnx_window_t *w = &g->w;
    int64_t cg = g->c / g->group, mg = g->m / g->group;
    int64_t in_size = inferd_onnx_dims_prod(w->in, 0, w->nsp);
    int64_t out_size = inferd_onnx_dims_prod(w->out, 0, w->nsp);
    int64_t kdim = cg * inferd_onnx_dims_prod(w->k, 0, w->nsp);
    int64_t xn = (int64_t)inferd_tensor_numel(x);
    size_t xi_bytes = 0;
    int32_t *xi =
        scratch_alloc(kdim, out_size, sizeof(int32_t), (size_t)xn * sizeof(int32_t), &xi_bytes);
    if (!xi)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory for columns");
    int32_t *col = xi + xn;
    int32_t xz = zp_at(x_zp, 0);
    for (int64_t i = 0; i < xn; i++)
        xi[i] = q_get(x, i) - xz;
    for (int64_t n = 0; n < g->n; n++) {
        for (int64_t gi = 0; gi < g->group; gi++) {
            im2col_i32(xi + (n * g->c + gi * cg) * in_size, cg, w, col);
            for (int64_t m = 0; m < mg; m++) {
                int64_t oc = gi * mg + m;
                int32_t wz = zp_at(w_zp, oc);
                int32_t *dst = acc + (n * g->m + oc) * out_size;
                memset(dst, 0, (size_t)out_size * sizeof(int32_t));
                for (int64_t k = 0; k < kdim; k++) {
                    int32_t wv = q_get(wt, oc * kdim + k) - wz;
                    if (wv == 0)
                        continue;
                    const int32_t *cr = col + k * out_size;
                    for (int64_t o = 0; o < out_size; o++)
                        /* Each product fits; the sum wraps like int32 hardware
                         * accumulation instead of overflowing signed arithmetic. */
                        dst[o] = (int32_t)((uint32_t)dst[o] + (uint32_t)(wv * cr[o]));
                }
            }
        }
    }
    inferd_scratch_put(xi, xi_bytes);
    return INFERD_OK;
}

static inferd_status_t conv_integer(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_tensor_t *const *out, inferd_err_t *err)
{
    conv_geom_t g;
    return conv_int_acc(node->op_data, in[0], in[2], in[1], in[3], out[0]->data, &g, err);
}

static inferd_status_t conv_integer_reshape(const inferd_onnx_node_t *node,
                                            inferd_tensor_t *const *in, inferd_onnx_shape_t *out,
                                            inferd_err_t *err)
{
    return conv_reshape(node, in, out, err);
}

static bool is_q8(inferd_dtype_t t)
{
    return t == INFERD_DTYPE_UINT8 || t == INFERD_DTYPE_INT8;
}

static inferd_status_t conv_integer_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (!is_q8(ic->in_types[0]))
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (!is_q8(ic->in_types[1]))
        return inferd_onnx_unsupported_dtype(ic, 1, err);
    conv_data_t d;
    if (conv_parse(ic, &d, err) != INFERD_OK)
        return fail(err);
    set_data(ic, &d);
    ic->node->compute = conv_integer;
    ic->out_types[0] = INFERD_DTYPE_INT32;
    return INFERD_OK;
}

/* QLinearConv inputs: x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, [B]. */
static inferd_status_t qlinear_conv_reshape(const inferd_onnx_node_t *node,
                                            inferd_tensor_t *const *in, inferd_onnx_shape_t *out,
                                            inferd_err_t *err)
{
    inferd_tensor_t *const pair[2] = {in[0], in[3]};
    return conv_reshape(node, pair, out, err);
}

static inferd_status_t qlinear_conv(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_tensor_t *const *out, inferd_err_t *err)
{
    inferd_tensor_t *y = out[0];
    uint64_t total = inferd_tensor_numel(y);
    int32_t *acc = inferd_malloc(total * sizeof(int32_t) + 1);
    if (!acc)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory for accumulators");
    conv_geom_t g;
    inferd_status_t rc = conv_int_acc(node->op_data, in[0], in[2], in[3], in[5], acc, &g, err);
    if (rc == INFERD_OK && (zp_check(in[4], g.m, "w_scale", err) != INFERD_OK ||
                            check_bias(in[8], g.m, err) != INFERD_OK))
        rc = fail(err);
    if (rc != INFERD_OK) {
        inferd_free(acc);
        return rc;
    }
    int64_t out_size = inferd_onnx_dims_prod(g.w.out, 0, g.w.nsp);
    float xs = scale_at(in[1], 0), ys = scale_at(in[6], 0);
    int32_t yz = zp_at(in[7], 0);
    const int32_t *bias = in[8] ? in[8]->data : NULL;
    bool u8 = y->dtype == INFERD_DTYPE_UINT8;
    float lo = u8 ? 0.0f : -128.0f, hi = u8 ? 255.0f : 127.0f;
    for (uint64_t i = 0; i < total; i++) {
        int64_t m = (int64_t)(i / (uint64_t)out_size) % g.m;
        float mult = xs * scale_at(in[4], m) / ys;
        float v = nearbyintf((float)((int64_t)acc[i] + (bias ? bias[m] : 0)) * mult) + (float)yz;
        v = v < lo ? lo : (v > hi ? hi : v);
        if (u8)
            ((uint8_t *)y->data)[i] = (uint8_t)v;
        else
            ((int8_t *)y->data)[i] = (int8_t)v;
    }
    inferd_free(acc);
    return INFERD_OK;
}

static inferd_status_t qlinear_conv_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (!is_q8(ic->in_types[0]))
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (!is_q8(ic->in_types[3]))
        return inferd_onnx_unsupported_dtype(ic, 3, err);
    if (ic->in_types[1] != INFERD_DTYPE_FP32 || ic->in_types[4] != INFERD_DTYPE_FP32 ||
        ic->in_types[6] != INFERD_DTYPE_FP32)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "QLinearConv scales must be FP32");
    if (ic->in_types[8] != INFERD_DTYPE_INVALID && ic->in_types[8] != INFERD_DTYPE_INT32)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "QLinearConv bias must be INT32");
    conv_data_t d;
    if (conv_parse(ic, &d, err) != INFERD_OK)
        return fail(err);
    set_data(ic, &d);
    ic->node->compute = qlinear_conv;
    ic->out_types[0] = ic->in_types[7];
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_conv[] = {
    {"", "Conv", 1, 2, 3, 1, conv_init, conv_reshape},
    {"", "Conv", 11, 2, 3, 1, conv_init, conv_reshape},
    {"", "ConvTranspose", 1, 2, 3, 1, convt_init, convt_reshape},
    {"", "ConvTranspose", 11, 2, 3, 1, convt_init, convt_reshape},
    {"", "ConvInteger", 10, 2, 4, 1, conv_integer_init, conv_integer_reshape},
    {"", "QLinearConv", 10, 8, 9, 1, qlinear_conv_init, qlinear_conv_reshape},
};
const size_t inferd_onnx_ops_conv_count =
    sizeof(inferd_onnx_ops_conv) / sizeof(inferd_onnx_ops_conv[0]);
