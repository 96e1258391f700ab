/* Pooling: MaxPool (with the optional Indices output), AveragePool, LpPool, their Global
 * forms, and MaxUnpool, over 1 to 6 spatial dims of an [N, C, D1, ...] tensor.
 *
 * Every pool walks each output position's window with the geometry from spatial.h, so
 * strides, dilations, explicit or automatic pads and ceil_mode behave the same in all of
 * them. Padding never contributes a value: MaxPool ignores it, AveragePool counts it in the
 * divisor only with count_include_pad, LpPool treats it as zero. MaxPool's Indices are
 * flat offsets into X (row-major, or column-major over the spatial dims with
 * storage_order=1), which is what MaxUnpool consumes. FP32 global pools and 2-D MaxPool /
 * AveragePool without Indices take a fast path that clamps window ranges instead of
 * testing each tap. */
#include "backends/onnx/ops/ops.h"

#include "backends/onnx/kernels/simd_f32.h"

#include <float.h>
#include <math.h>
#include <string.h>

#include "backends/onnx/ops/spatial.h"
#include "core/alloc.h"
#include "core/pool.h"

typedef enum { POOL_MAX, POOL_AVG, POOL_LP } pool_kind_t;

typedef struct pool_data {
    inferd_onnx_spatial_t sp;
    pool_kind_t kind;
    bool global;
    bool count_include_pad;
    int64_t storage_order;
    float p; /* LpPool */
} pool_data_t;

static inferd_status_t fail(inferd_err_t *err)
{
    return err ? err->code : INFERD_E_INVALID_ARG;
}

static inferd_status_t pool_window(const pool_data_t *d, const inferd_tensor_t *x,
                                   inferd_onnx_window_t *w, inferd_err_t *err)
{
    if (x->ndim < 3)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "input must have rank >= 3, got %d",
                              x->ndim);
    int nsp = x->ndim - 2;
    if (d->global) {
        /* One window covering the whole image. */
        inferd_onnx_spatial_t sp;
        memset(&sp, 0, sizeof(sp));
        return inferd_onnx_window_make(&sp, nsp, x->dims + 2, x->dims + 2, w, err);
    }
    return inferd_onnx_window_make(&d->sp, nsp, x->dims + 2, NULL, w, err);
}

static inferd_status_t pool_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_onnx_shape_t *out, inferd_err_t *err)
{
    inferd_onnx_window_t w;
    if (pool_window(node->op_data, in[0], &w, err) != INFERD_OK)
        return fail(err);
    out[0].ndim = in[0]->ndim;
    out[0].dims[0] = in[0]->dims[0];
    out[0].dims[1] = in[0]->dims[1];
    memcpy(out[0].dims + 2, w.out, (size_t)w.nsp * sizeof(int64_t));
    out[1] = out[0];
    return INFERD_OK;
}

static void unflatten(int64_t idx, const int64_t *dims, int n, int64_t *out)
{
    for (int i = n - 1; i >= 0; i--) {
        out[i] = idx % dims[i];
        idx /= dims[i];
    }
}

/* Visits one output position's window: calls the body for each in-image tap with `off`
 * (row-major offset within the plane) and `cm` (column-major offset), and counts the taps
 * inside the padded extent in `padded`. */
#define WINDOW_WALK(w, oidx, BODY)                                                                 \
    do {                                                                                           \
        int64_t kidx_[INFERD_ONNX_MAX_SPATIAL];                                                    \
        int64_t kn_ = inferd_onnx_dims_prod((w)->k, 0, (w)->nsp);                                  \
        for (int64_t kk_ = 0; kk_ < kn_; kk_++) {                                                  \
            unflatten(kk_, (w)->k, (w)->nsp, kidx_);                                               \
            int64_t off = 0, cm = 0, cmul_ = 1;                                                    \
            bool in_img_ = true, in_pad_ = true;                                                   \
            for (int d_ = 0; d_ < (w)->nsp; d_++) {                                                \
                int64_t p_ = (oidx)[d_] * (w)->s[d_] - (w)->pb[d_] + kidx_[d_] * (w)->d[d_];       \
                if (p_ < -(w)->pb[d_] || p_ >= (w)->in[d_] + (w)->pe[d_])                          \
                    in_pad_ = false;                                                               \
                if (p_ < 0 || p_ >= (w)->in[d_])                                                   \
                    in_img_ = false;                                                               \
                off = off * (w)->in[d_] + p_;                                                      \
                cm += p_ * cmul_;                                                                  \
                cmul_ *= (w)->in[d_];                                                              \
            }                                                                                      \
            if (in_pad_)                                                                           \
                padded++;                                                                          \
            (void)cm; /* only MaxPool's Indices with storage_order reads it */                     \
            if (in_img_) {                                                                         \
                BODY;                                                                              \
            }                                                                                      \
        }                                                                                          \
    } while (0)

/* FP32 fast paths for the shapes CNNs use: a global pool is a plain reduction over each
 * plane, and a 2-D window clamps its row and column ranges once instead of testing every
 * tap. Planes are independent, so a large input splits by whole planes over the intra-op
 * pool: a plane's reduction is never split, and the result does not depend on the thread
 * count. */
typedef struct pool_fast {
    const pool_data_t *d;
    const inferd_onnx_window_t *w;
    const float *x;
    float *y;
} pool_fast_t;

static void pool_fast_planes(void *arg, int64_t lo, int64_t hi)
{
    const pool_fast_t *f = arg;
    const pool_data_t *d = f->d;
    const inferd_onnx_window_t *w = f->w;
    const float *xv = f->x;
    float *yv = f->y;
    bool is_max = d->kind == POOL_MAX;
    if (d->global) {
        int64_t n = inferd_onnx_dims_prod(w->in, 0, w->nsp);
        for (int64_t pl = lo; pl < hi; pl++) {
            const float *xp = xv + pl * n;
            if (is_max) {
                float m = -INFINITY;
                for (int64_t i = 0; i < n; i++)
                    m = xp[i] > m ? xp[i] : m;
                yv[pl] = m;
            } else {
                double acc = 0;
                for (int64_t i = 0; i < n; i++)
                    acc += xp[i];
                yv[pl] = (float)(acc / (double)n);
            }
        }
        return;
    }
    int64_t ih_n = w->in[0], iw_n = w->in[1], oh_n = w->out[0], ow_n = w->out[1];
    if (is_max) {
        /* Each output row is the running maximum of the tap rows it covers, over the
         * clamped range of columns whose tap is inside the image: a vectorized loop per
         * (row, tap) instead of a bounds test per tap. (Every NaN loses, as below.) */
        int64_t sw = w->s[1];
        for (int64_t pl = lo; pl < hi; pl++) {
            const float *xp = xv + pl * ih_n * iw_n;
            for (int64_t oh = 0; oh < oh_n; oh++) {
                float *yr = yv + (pl * oh_n + oh) * ow_n;
                for (int64_t ow = 0; ow < ow_n; ow++)
                    yr[ow] = -INFINITY;
                for (int64_t kh = 0; kh < w->k[0]; kh++) {
                    int64_t ih = oh * w->s[0] - w->pb[0] + kh * w->d[0];
                    if (ih < 0 || ih >= ih_n)
                        continue;
                    for (int64_t kw = 0; kw < w->k[1]; kw++) {
                        /* columns ow with 0 <= ow * sw + off < iw_n */
                        int64_t off = kw * w->d[1] - w->pb[1];
                        int64_t c0 = off >= 0 ? 0 : (-off + sw - 1) / sw;
                        int64_t c1 = iw_n - off <= 0 ? 0 : (iw_n - off + sw - 1) / sw;
                        c1 = c1 < ow_n ? c1 : ow_n;
                        if (c1 > c0)
                            inferd_simd_max_strided(yr + c0, xp + ih * iw_n + c0 * sw + off, sw,
                                                    c1 - c0);
                    }
                }
            }
        }
        return;
    }
    for (int64_t pl = lo; pl < hi; pl++) {
        const float *xp = xv + pl * ih_n * iw_n;
        float *yp = yv + pl * oh_n * ow_n;
        for (int64_t oh = 0; oh < oh_n; oh++) {
            int64_t h0 = oh * w->s[0] - w->pb[0];
            for (int64_t ow = 0; ow < ow_n; ow++) {
                int64_t w0 = ow * w->s[1] - w->pb[1];
                float m = -INFINITY;
                double acc = 0;
                int64_t count = 0, padded = 0;
                for (int64_t kh = 0; kh < w->k[0]; kh++) {
                    int64_t ih = h0 + kh * w->d[0];
                    bool row_in_pad = ih >= -w->pb[0] && ih < ih_n + w->pe[0];
                    for (int64_t kw = 0; kw < w->k[1]; kw++) {
                        int64_t iw = w0 + kw * w->d[1];
                        if (row_in_pad && iw >= -w->pb[1] && iw < iw_n + w->pe[1])
                            padded++;
                        if (ih < 0 || ih >= ih_n || iw < 0 || iw >= iw_n)
                            continue;
                        float v = xp[ih * iw_n + iw];
                        m = v > m ? v : m;
                        acc += v;
                        count++;
                    }
                }
                if (is_max) {
                    yp[oh * ow_n + ow] = m;
                } else {
                    int64_t div = d->count_include_pad ? padded : count;
                    yp[oh * ow_n + ow] = (float)(div ? acc / (double)div : 0.0);
                }
            }
        }
    }
}

/* Returns false when the node is not such a case (the generic walk then runs). */
static bool pool_fast_f32(const pool_data_t *d, const inferd_onnx_window_t *w,
                          const inferd_tensor_t *x, inferd_tensor_t *y, bool want_indices)
{
    if (x->dtype != INFERD_DTYPE_FP32 || want_indices || d->kind == POOL_LP)
        return false;
    int64_t planes = x->dims[0] * x->dims[1];
    /* Work per plane, in values read; a global average's double sum is one dependent add
     * per value, several times an elementwise op's cost per value. */
    int64_t per = inferd_onnx_dims_prod(w->in, 0, w->nsp) * (d->kind == POOL_AVG ? 8 : 1);
    if (!d->global) {
        if (w->nsp != 2)
            return false;
        int64_t ih_n = w->in[0], iw_n = w->in[1], oh_n = w->out[0], ow_n = w->out[1];
        if (d->kind == POOL_MAX && w->k[0] == 2 && w->k[1] == 2 && w->s[0] == 2 && w->s[1] == 2 &&
            w->d[0] == 1 && w->d[1] == 1 && w->pb[0] == 0 && w->pb[1] == 0 && 2 * oh_n <= ih_n &&
            2 * ow_n <= iw_n) {
            /* LeNet's and VGG's pooling: one vectorized pass over all planes. */
            inferd_simd_maxpool2x2(x->data, ih_n, iw_n, y->data, oh_n, ow_n, planes);
            return true;
        }
        per = oh_n * ow_n * w->k[0] * w->k[1];
    }
    pool_fast_t f = {.d = d, .w = w, .x = x->data, .y = y->data};
    per = per > 0 ? per : 1;
    inferd_pool_for_range(planes, (INFERD_ONNX_PAR_GRAIN + per - 1) / per, 1, pool_fast_planes, &f);
    return true;
}

#define MAXPOOL_KERNEL(name, T, LOWEST)                                                            \
    static inferd_status_t name(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,        \
                                inferd_tensor_t *const *out, inferd_err_t *err)                    \
    {                                                                                              \
        const pool_data_t *d = node->op_data;                                                      \
        inferd_onnx_window_t w;                                                                    \
        if (pool_window(d, in[0], &w, err) != INFERD_OK)                                           \
            return fail(err);                                                                      \
        int64_t planes = in[0]->dims[0] * in[0]->dims[1];                                          \
        int64_t in_size = inferd_onnx_dims_prod(w.in, 0, w.nsp);                                   \
        int64_t out_size = inferd_onnx_dims_prod(w.out, 0, w.nsp);                                 \
        const T *x = in[0]->data;                                                                  \
        T *y = out[0]->data;                                                                       \
        int64_t *ind = out[1] ? out[1]->data : NULL;                                               \
        if (pool_fast_f32(d, &w, in[0], out[0], ind != NULL))                                      \
            return INFERD_OK;                                                                      \
        int64_t oidx[INFERD_ONNX_MAX_SPATIAL];                                                     \
        for (int64_t pl = 0; pl < planes; pl++) {                                                  \
            const T *xp = x + pl * in_size;                                                        \
            for (int64_t o = 0; o < out_size; o++) {                                               \
                unflatten(o, w.out, w.nsp, oidx);                                                  \
                T best = LOWEST;                                                                   \
                int64_t at = -1, padded = 0;                                                       \
                WINDOW_WALK(&w, oidx, {                                                            \
                    if (at < 0 || xp[off] > best) {                                                \
                        best = xp[off];                                                            \
                        at = d->storage_order ? cm : off;                                          \
                    }                                                                              \
                });                                                                                \
                (void)padded;                                                                      \
                y[pl * out_size + o] = best;                                                       \
                if (ind)                                                                           \
                    ind[pl * out_size + o] = at < 0 ? -1 : pl * in_size + at;                      \
            }                                                                                      \
        }                                                                                          \
        return INFERD_OK;                                                                          \
    }

MAXPOOL_KERNEL(maxpool_f32, float, -INFINITY)
MAXPOOL_KERNEL(maxpool_f64, double, -INFINITY)
MAXPOOL_KERNEL(maxpool_u8, uint8_t, 0)
MAXPOOL_KERNEL(maxpool_i8, int8_t, INT8_MIN)

/* AveragePool and LpPool, accumulating in double. */
#define AVGPOOL_KERNEL(name, T)                                                                    \
    static inferd_status_t name(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,        \
                                inferd_tensor_t *const *out, inferd_err_t *err)                    \
    {                                                                                              \
        const pool_data_t *d = node->op_data;                                                      \
        inferd_onnx_window_t w;                                                                    \
        if (pool_window(d, in[0], &w, err) != INFERD_OK)                                           \
            return fail(err);                                                                      \
        int64_t planes = in[0]->dims[0] * in[0]->dims[1];                                          \
        int64_t in_size = inferd_onnx_dims_prod(w.in, 0, w.nsp);                                   \
        int64_t out_size = inferd_onnx_dims_prod(w.out, 0, w.nsp);                                 \
        const T *x = in[0]->data;                                                                  \
        T *y = out[0]->data;                                                                       \
        if (pool_fast_f32(d, &w, in[0], out[0], false))                                            \
            return INFERD_OK;                                                                      \
        int64_t oidx[INFERD_ONNX_MAX_SPATIAL];                                                     \
        double p = d->p;                                                                           \
        for (int64_t pl = 0; pl < planes; pl++) {                                                  \
            const T *xp = x + pl * in_size;                                                        \
            for (int64_t o = 0; o < out_size; o++) {                                               \
                unflatten(o, w.out, w.nsp, oidx);                                                  \
                double acc = 0;                                                                    \
                int64_t padded = 0, count = 0;                                                     \
                if (d->kind == POOL_AVG) {                                                         \
                    WINDOW_WALK(&w, oidx, {                                                        \
                        acc += (double)xp[off];                                                    \
                        count++;                                                                   \
                    });                                                                            \
                    int64_t div = d->count_include_pad ? padded : count;                           \
                    y[pl * out_size + o] = (T)(div ? acc / (double)div : 0.0);                     \
                } else {                                                                           \
                    WINDOW_WALK(&w, oidx, { acc += pow(fabs((double)xp[off]), p); });              \
                    y[pl * out_size + o] = (T)pow(acc, 1.0 / p);                                   \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        return INFERD_OK;                                                                          \
    }

AVGPOOL_KERNEL(avgpool_f32, float)
AVGPOOL_KERNEL(avgpool_f64, double)

static inferd_status_t pool_init_common(inferd_onnx_init_t *ic, pool_kind_t kind, bool global,
                                        inferd_err_t *err)
{
    pool_data_t d;
    memset(&d, 0, sizeof(d));
    d.kind = kind;
    d.global = global;
    d.p = 2.0f;
    if (!global) {
        if (inferd_onnx_spatial_parse(ic->node, &d.sp, err) != INFERD_OK)
            return fail(err);
        if (d.sp.n_kernel == 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "kernel_shape is required");
        if (ic->node->opset < 10 && d.sp.n_dilations)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "dilations need opset 10");
    }
    int64_t cip = 0;
    if (inferd_onnx_attr_int(ic->node, "count_include_pad", 0, &cip, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "storage_order", 0, &d.storage_order, err) != INFERD_OK)
        return fail(err);
    d.count_include_pad = cip != 0;
    if (kind == POOL_LP) {
        const inferd_onnx_attr_t *a = inferd_onnx_attr_find(ic->node, "p");
        /* p is a FLOAT before opset 2 and an INT after. */
        if (a && a->type == INFERD_ONNX_ATTR_INT)
            d.p = (float)a->i;
        else if (a && a->type == INFERD_ONNX_ATTR_FLOAT)
            d.p = a->f;
        if (d.p <= 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "p must be positive");
    }
    inferd_dtype_t t = ic->in_types[0];
    inferd_onnx_compute_fn fn = NULL;
    if (kind == POOL_MAX) {
        switch (t) {
        case INFERD_DTYPE_FP32: fn = maxpool_f32; break;
        case INFERD_DTYPE_FP64: fn = maxpool_f64; break;
        case INFERD_DTYPE_UINT8: fn = maxpool_u8; break;
        case INFERD_DTYPE_INT8: fn = maxpool_i8; break;
        default: break;
        }
    } else {
        fn = t == INFERD_DTYPE_FP32 ? avgpool_f32 : t == INFERD_DTYPE_FP64 ? avgpool_f64 : NULL;
    }
    if (!fn)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    pool_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = fn;
    ic->out_types[0] = t;
    if (ic->node->n_outputs > 1)
        ic->out_types[1] = INFERD_DTYPE_INT64;
    return INFERD_OK;
}

static inferd_status_t maxpool_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return pool_init_common(ic, POOL_MAX, false, err);
}

static inferd_status_t avgpool_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return pool_init_common(ic, POOL_AVG, false, err);
}

static inferd_status_t lppool_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return pool_init_common(ic, POOL_LP, false, err);
}

static inferd_status_t global_maxpool_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return pool_init_common(ic, POOL_MAX, true, err);
}

static inferd_status_t global_avgpool_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return pool_init_common(ic, POOL_AVG, true, err);
}

static inferd_status_t global_lppool_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return pool_init_common(ic, POOL_LP, true, err);
}

/* ------------------------------------------------------------------------------------ */
/* MaxUnpool                                                                            */

/* The output shape MaxUnpool infers from the attributes, which is also the shape the
 * indices refer to when output_shape asks for a different one. */
static inferd_status_t unpool_default_shape(const pool_data_t *d, const inferd_tensor_t *x,
                                            inferd_onnx_shape_t *out, inferd_err_t *err)
{
    if (x->ndim < 3)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "X must have rank >= 3");
    int nsp = x->ndim - 2;
    if (d->sp.n_kernel != nsp || (d->sp.n_strides && d->sp.n_strides != nsp) ||
        (d->sp.n_pads && d->sp.n_pads != 2 * nsp))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "attributes disagree with %d spatial dims",
                              nsp);
    out->ndim = x->ndim;
    out->dims[0] = x->dims[0];
    out->dims[1] = x->dims[1];
    for (int i = 0; i < nsp; i++) {
        int64_t s = d->sp.n_strides ? d->sp.strides[i] : 1;
        int64_t pads = d->sp.n_pads ? d->sp.pads[i] + d->sp.pads[i + nsp] : 0;
        out->dims[2 + i] = (x->dims[2 + i] - 1) * s + d->sp.kernel[i] - pads;
        if (out->dims[2 + i] < 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "negative output size");
    }
    return INFERD_OK;
}

static inferd_status_t unpool_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    if (unpool_default_shape(node->op_data, in[0], &out[0], err) != INFERD_OK)
        return fail(err);
    if (in[2]) {
        int n;
        if (inferd_onnx_read_ints(in[2], "output_shape", out[0].dims, INFERD_MAX_DIMS, &n, err) !=
            INFERD_OK)
            return fail(err);
        if (n != in[0]->ndim)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "output_shape has %d values for rank %d", n, in[0]->ndim);
        for (int i = 0; i < n; i++)
            if (out[0].dims[i] < 0)
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "negative output_shape");
    }
    return INFERD_OK;
}

static inferd_status_t unpool_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0], *ind = in[1];
    inferd_tensor_t *y = out[0];
    inferd_onnx_shape_t def;
    if (unpool_default_shape(node->op_data, x, &def, err) != INFERD_OK)
        return fail(err);
    uint64_t n = inferd_tensor_numel(x);
    int64_t def_n = inferd_onnx_dims_prod(def.dims, 0, def.ndim);
    if (inferd_tensor_numel(ind) != n)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "I must have X's shape");
    size_t es = inferd_dtype_size(x->dtype);
    memset(y->data, 0, y->nbytes);
    const int64_t *iv = ind->data;
    int64_t idx[INFERD_MAX_DIMS];
    for (uint64_t i = 0; i < n; i++) {
        if (iv[i] < 0 || iv[i] >= def_n)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "index %lld is out of range",
                                  (long long)iv[i]);
        /* Indices address the default-shaped output; re-address them in Y's shape, where
         * a larger output_shape leaves the extra rows and columns zero. */
        unflatten(iv[i], def.dims, def.ndim, idx);
        int64_t off = 0;
        bool inside = true;
        for (int dd = 0; dd < y->ndim; dd++) {
            if (idx[dd] >= y->dims[dd])
                inside = false;
            off = off * y->dims[dd] + idx[dd];
        }
        if (inside)
            memcpy((char *)y->data + (size_t)off * es, (const char *)x->data + i * es, es);
    }
    return INFERD_OK;
}

static inferd_status_t unpool_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (ic->in_types[1] != INFERD_DTYPE_INT64)
        return inferd_onnx_unsupported_dtype(ic, 1, err);
    if (inferd_dtype_size(ic->in_types[0]) == 0)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    pool_data_t d;
    memset(&d, 0, sizeof(d));
    if (inferd_onnx_spatial_parse(ic->node, &d.sp, err) != INFERD_OK)
        return fail(err);
    pool_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = unpool_compute;
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_pool[] = {
    {"", "MaxPool", 1, 1, 1, 1, maxpool_init, pool_reshape},
    {"", "MaxPool", 8, 1, 1, 2, maxpool_init, pool_reshape},
    {"", "MaxPool", 10, 1, 1, 2, maxpool_init, pool_reshape},
    {"", "MaxPool", 11, 1, 1, 2, maxpool_init, pool_reshape},
    {"", "MaxPool", 12, 1, 1, 2, maxpool_init, pool_reshape},
    {"", "AveragePool", 1, 1, 1, 1, avgpool_init, pool_reshape},
    {"", "AveragePool", 7, 1, 1, 1, avgpool_init, pool_reshape},
    {"", "AveragePool", 10, 1, 1, 1, avgpool_init, pool_reshape},
    {"", "AveragePool", 11, 1, 1, 1, avgpool_init, pool_reshape},
    /* 19 adds dilations, which the window code handles for every pool. */
    {"", "AveragePool", 19, 1, 1, 1, avgpool_init, pool_reshape},
    {"", "LpPool", 1, 1, 1, 1, lppool_init, pool_reshape},
    {"", "LpPool", 2, 1, 1, 1, lppool_init, pool_reshape},
    {"", "LpPool", 11, 1, 1, 1, lppool_init, pool_reshape},
    {"", "LpPool", 18, 1, 1, 1, lppool_init, pool_reshape}, /* adds ceil_mode */
    {"", "GlobalMaxPool", 1, 1, 1, 1, global_maxpool_init, pool_reshape},
    {"", "GlobalAveragePool", 1, 1, 1, 1, global_avgpool_init, pool_reshape},
    {"", "GlobalLpPool", 1, 1, 1, 1, global_lppool_init, pool_reshape},
    {"", "GlobalLpPool", 2, 1, 1, 1, global_lppool_init, pool_reshape},
    {"", "MaxUnpool", 9, 2, 3, 1, unpool_init, unpool_reshape},
    {"", "MaxUnpool", 11, 2, 3, 1, unpool_init, unpool_reshape},
};
const size_t inferd_onnx_ops_pool_count =
    sizeof(inferd_onnx_ops_pool) / sizeof(inferd_onnx_ops_pool[0]);
