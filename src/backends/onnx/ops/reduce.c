/* Reductions.
 *
 * ArgMax / ArgMin: the INT64 index of the largest (smallest) element along `axis`
 * (default 0), keeping the axis as size 1 when keepdims (default 1). Ties go to the first
 * index, or to the last with select_last_index=1 (opset 12). Versions 1, 11 (negative
 * axis), 12, 13. Kernels: FP32, FP64, FP16 and every integer type, over an
 * (outer, n, inner) view of the input.
 *
 * Reduce{Sum,Mean,Max,Min,Prod,L1,L2,LogSum,LogSumExp,SumSquare}: over the `axes`
 * (attribute; an optional INT64 input from ReduceSum 13 and the others' 18, read per run
 * so it need not be constant), all axes when none are given, or nothing at all when
 * noop_with_empty_axes=1. Each output element is accumulated on its own (kept dims
 * walked outside, reduced dims inside), so no scratch memory is needed: floats in
 * double, integers in int64 with wrapping (Sum, Prod, Max, Min, L1, SumSquare, Mean
 * truncating) or through double (L2, LogSum, LogSumExp). An empty reduction gives the
 * operation's identity (0, 1, -inf for Max and LogSum*, +inf for Min, NaN for Mean). */
#include "backends/onnx/ops/ops.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

typedef void (*argmax_fn)(const void *x, int64_t *y, int64_t outer, int64_t n, int64_t inner,
                          bool last);

typedef struct argmax_data {
    argmax_fn fn;
    int64_t axis;
    bool keepdims;
    bool last;
} argmax_data_t;

#define ARGMAX_KERNEL(name, T, BETTER)                                                             \
    static void name(const void *px, int64_t *y, int64_t outer, int64_t n, int64_t inner,          \
                     bool last)                                                                    \
    {                                                                                              \
        const T *x = px;                                                                           \
        for (int64_t o = 0; o < outer; o++) {                                                      \
            for (int64_t k = 0; k < inner; k++) {                                                  \
                const T *row = x + o * n * inner + k;                                              \
                double best = (double)LOADV(row[0]);                                               \
                int64_t at = 0;                                                                    \
                for (int64_t i = 1; i < n; i++) {                                                  \
                    double v = (double)LOADV(row[i * inner]);                                      \
                    if (v BETTER best || (last && v == best)) {                                    \
                        best = v;                                                                  \
                        at = i;                                                                    \
                    }                                                                              \
                }                                                                                  \
                y[o * inner + k] = at;                                                             \
            }                                                                                      \
        }                                                                                          \
    }

/* Elements compare as double: exact for every type but 64-bit integers beyond 2^53. */
#define LOADV(x) (x)
#define ARG_KERNELS(kind, CMP)                                                                     \
    ARGMAX_KERNEL(kind##_f32, float, CMP)                                                          \
    ARGMAX_KERNEL(kind##_f64, double, CMP)                                                         \
    ARGMAX_KERNEL(kind##_i8, int8_t, CMP)                                                          \
    ARGMAX_KERNEL(kind##_i16, int16_t, CMP)                                                        \
    ARGMAX_KERNEL(kind##_i32, int32_t, CMP)                                                        \
    ARGMAX_KERNEL(kind##_i64, int64_t, CMP)                                                        \
    ARGMAX_KERNEL(kind##_u8, uint8_t, CMP)                                                         \
    ARGMAX_KERNEL(kind##_u16, uint16_t, CMP)                                                       \
    ARGMAX_KERNEL(kind##_u32, uint32_t, CMP)                                                       \
    ARGMAX_KERNEL(kind##_u64, uint64_t, CMP)
ARG_KERNELS(argmax, >)
ARG_KERNELS(argmin, <)
#undef LOADV
#define LOADV(x) inferd_fp16_to_fp32(x)
ARGMAX_KERNEL(argmax_f16, uint16_t, >)
ARGMAX_KERNEL(argmin_f16, uint16_t, <)
#undef LOADV

static inferd_status_t argmax_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const argmax_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    int axis;
    if (inferd_onnx_axis(d->axis, x->ndim, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (x->dims[axis] == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "cannot take ArgMax over empty axis %d",
                              axis);
    out[0].ndim = 0;
    for (int i = 0; i < x->ndim; i++) {
        if (i != axis)
            out[0].dims[out[0].ndim++] = x->dims[i];
        else if (d->keepdims)
            out[0].dims[out[0].ndim++] = 1;
    }
    return INFERD_OK;
}

static inferd_status_t argmax_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const argmax_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    int axis;
    if (inferd_onnx_axis(d->axis, x->ndim, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    d->fn(x->data, out[0]->data, inferd_onnx_dims_prod(x->dims, 0, axis), x->dims[axis],
          inferd_onnx_dims_prod(x->dims, axis + 1, x->ndim), d->last);
    return INFERD_OK;
}

#define ARG_TABLE(kind)                                                                            \
    {                                                                                              \
        [INFERD_DTYPE_FP32] = kind##_f32, [INFERD_DTYPE_FP64] = kind##_f64,                        \
        [INFERD_DTYPE_FP16] = kind##_f16, [INFERD_DTYPE_INT8] = kind##_i8,                         \
        [INFERD_DTYPE_INT16] = kind##_i16, [INFERD_DTYPE_INT32] = kind##_i32,                      \
        [INFERD_DTYPE_INT64] = kind##_i64, [INFERD_DTYPE_UINT8] = kind##_u8,                       \
        [INFERD_DTYPE_UINT16] = kind##_u16, [INFERD_DTYPE_UINT32] = kind##_u32,                    \
        [INFERD_DTYPE_UINT64] = kind##_u64                                                         \
    }

static inferd_status_t arg_init(inferd_onnx_init_t *ic, bool min, inferd_err_t *err)
{
    static const argmax_fn max_fns[INFERD_DTYPE_COUNT_] = ARG_TABLE(argmax);
    static const argmax_fn min_fns[INFERD_DTYPE_COUNT_] = ARG_TABLE(argmin);
    argmax_data_t d = {0};
    inferd_dtype_t dt = ic->in_types[0];
    if (dt > INFERD_DTYPE_INVALID && dt < INFERD_DTYPE_COUNT_)
        d.fn = min ? min_fns[dt] : max_fns[dt];
    if (!d.fn)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    int64_t keepdims, last = 0;
    if (inferd_onnx_attr_int(ic->node, "axis", 0, &d.axis, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "keepdims", 1, &keepdims, err) != INFERD_OK ||
        (ic->node->opset >= 12 &&
         inferd_onnx_attr_int(ic->node, "select_last_index", 0, &last, err) != INFERD_OK))
        return err ? err->code : INFERD_E_INVALID_ARG;
    d.keepdims = keepdims != 0;
    d.last = last != 0;
    argmax_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = argmax_compute;
    ic->out_types[0] = INFERD_DTYPE_INT64;
    return INFERD_OK;
}

static inferd_status_t argmax_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return arg_init(ic, false, err);
}

static inferd_status_t argmin_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return arg_init(ic, true, err);
}

/* ------------------------------------------------------------------------------------ */
/* Reduce*                                                                              */

typedef enum {
    RED_SUM,
    RED_MEAN,
    RED_MAX,
    RED_MIN,
    RED_PROD,
    RED_L1,
    RED_L2,
    RED_LOG_SUM,
    RED_LOG_SUM_EXP,
    RED_SUM_SQUARE,
} red_kind_t;

typedef struct reduce_data {
    red_kind_t kind;
    bool keepdims;
    bool noop_empty; /* noop_with_empty_axes */
    bool axes_input; /* this version takes axes as input 1 */
    int n_axes;      /* attribute axes; -1 when the attribute is absent */
    int64_t axes[INFERD_MAX_DIMS];
} reduce_data_t;

/* Which dims of x the node reduces (mask[d]); false when it reduces nothing at all. */
static inferd_status_t reduce_mask(const reduce_data_t *d, inferd_tensor_t *const *in, bool *mask,
                                   bool *any, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    int64_t axes[INFERD_MAX_DIMS];
    int n = d->n_axes;
    if (n > 0)
        memcpy(axes, d->axes, (size_t)n * sizeof(int64_t));
    if (d->axes_input) {
        n = -1;
        if (in[1] &&
            inferd_onnx_read_ints(in[1], "axes", axes, INFERD_MAX_DIMS, &n, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
    }
    memset(mask, 0, INFERD_MAX_DIMS * sizeof(bool));
    if (n <= 0) {
        *any = !d->noop_empty;
        for (int i = 0; i < x->ndim; i++)
            mask[i] = *any;
        return INFERD_OK;
    }
    *any = true;
    for (int i = 0; i < n; i++) {
        int a;
        if (inferd_onnx_axis(axes[i], x->ndim, &a, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        mask[a] = true;
    }
    return INFERD_OK;
}

static inferd_status_t reduce_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const reduce_data_t *d = node->op_data;
    bool mask[INFERD_MAX_DIMS], any;
    if (reduce_mask(d, in, mask, &any, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0].ndim = 0;
    for (int i = 0; i < in[0]->ndim; i++) {
        if (!mask[i])
            out[0].dims[out[0].ndim++] = in[0]->dims[i];
        else if (d->keepdims)
            out[0].dims[out[0].ndim++] = 1;
    }
    return INFERD_OK;
}

/* A walk over a set of dims of x: sizes and element strides, innermost last. */
typedef struct dim_walk {
    int n;
    int64_t size[INFERD_MAX_DIMS], stride[INFERD_MAX_DIMS], idx[INFERD_MAX_DIMS];
    int64_t off;
} dim_walk_t;

static void walk_next(dim_walk_t *w)
{
    for (int i = w->n - 1; i >= 0; i--) {
        w->idx[i]++;
        w->off += w->stride[i];
        if (w->idx[i] < w->size[i])
            return;
        w->off -= w->stride[i] * w->size[i];
        w->idx[i] = 0;
    }
}

static double reduce_float(red_kind_t kind, const void *x, inferd_dtype_t dt, dim_walk_t *r,
                           int64_t base, int64_t count)
{
    double acc;
    switch (kind) {
    case RED_PROD: acc = 1; break;
    case RED_MAX:
    case RED_LOG_SUM_EXP: acc = -INFINITY; break;
    case RED_MIN: acc = INFINITY; break;
    default: acc = 0; break;
    }
    r->off = 0;
    memset(r->idx, 0, sizeof(r->idx));
    for (int64_t i = 0; i < count; i++, walk_next(r)) {
        double v = inferd_onnx_load_f64(x, dt, (uint64_t)(base + r->off));
        switch (kind) {
        case RED_SUM:
        case RED_MEAN:
        case RED_LOG_SUM: acc += v; break;
        case RED_MAX: acc = v > acc || v != v ? v : acc; break;
        case RED_MIN: acc = v < acc || v != v ? v : acc; break;
        case RED_PROD: acc *= v; break;
        case RED_L1: acc += fabs(v); break;
        case RED_L2:
        case RED_SUM_SQUARE: acc += v * v; break;
        case RED_LOG_SUM_EXP: acc = v > acc || v != v ? v : acc; break; /* pass 1: max */
        }
    }
    switch (kind) {
    case RED_MEAN: return count ? acc / (double)count : NAN;
    case RED_L2: return sqrt(acc);
    case RED_LOG_SUM: return log(acc);
    case RED_LOG_SUM_EXP: {
        if (!count || isinf(acc))
            return count ? acc : -INFINITY;
        double m = acc, s = 0;
        r->off = 0;
        memset(r->idx, 0, sizeof(r->idx));
        for (int64_t i = 0; i < count; i++, walk_next(r))
            s += exp(inferd_onnx_load_f64(x, dt, (uint64_t)(base + r->off)) - m);
        return m + log(s);
    }
    default: return acc;
    }
}

static int64_t load_i64(const void *x, inferd_dtype_t dt, int64_t i)
{
    switch (dt) {
    case INFERD_DTYPE_INT8: return ((const int8_t *)x)[i];
    case INFERD_DTYPE_INT16: return ((const int16_t *)x)[i];
    case INFERD_DTYPE_INT32: return ((const int32_t *)x)[i];
    case INFERD_DTYPE_INT64: return ((const int64_t *)x)[i];
    case INFERD_DTYPE_UINT8: return ((const uint8_t *)x)[i];
    case INFERD_DTYPE_UINT16: return ((const uint16_t *)x)[i];
    case INFERD_DTYPE_UINT32: return ((const uint32_t *)x)[i];
    default: return (int64_t)((const uint64_t *)x)[i];
    }
}

static void store_i64(void *y, inferd_dtype_t dt, int64_t i, int64_t v)
{
    switch (dt) {
    case INFERD_DTYPE_INT8: ((int8_t *)y)[i] = (int8_t)v; break;
    case INFERD_DTYPE_INT16: ((int16_t *)y)[i] = (int16_t)v; break;
    case INFERD_DTYPE_INT32: ((int32_t *)y)[i] = (int32_t)v; break;
    case INFERD_DTYPE_INT64: ((int64_t *)y)[i] = v; break;
    case INFERD_DTYPE_UINT8: ((uint8_t *)y)[i] = (uint8_t)v; break;
    case INFERD_DTYPE_UINT16: ((uint16_t *)y)[i] = (uint16_t)v; break;
    case INFERD_DTYPE_UINT32: ((uint32_t *)y)[i] = (uint32_t)v; break;
    default: ((uint64_t *)y)[i] = (uint64_t)v; break;
    }
}

/* Integer reductions that stay exact in 64 bits (wrapping); false for the others. */
static bool reduce_int(red_kind_t kind, const void *x, inferd_dtype_t dt, dim_walk_t *r,
                       int64_t base, int64_t count, int64_t *out)
{
    bool is_unsigned = dt == INFERD_DTYPE_UINT8 || dt == INFERD_DTYPE_UINT16 ||
                       dt == INFERD_DTYPE_UINT32 || dt == INFERD_DTYPE_UINT64;
    uint64_t acc = kind == RED_PROD ? 1 : 0;
    int64_t best = 0;
    switch (kind) {
    case RED_SUM:
    case RED_MEAN:
    case RED_PROD:
    case RED_L1:
    case RED_SUM_SQUARE:
    case RED_MAX:
    case RED_MIN: break;
    default: return false;
    }
    r->off = 0;
    memset(r->idx, 0, sizeof(r->idx));
    for (int64_t i = 0; i < count; i++, walk_next(r)) {
        int64_t v = load_i64(x, dt, base + r->off);
        switch (kind) {
        case RED_SUM:
        case RED_MEAN: acc += (uint64_t)v; break;
        case RED_PROD: acc *= (uint64_t)v; break;
        case RED_L1: acc += v < 0 && !is_unsigned ? 0 - (uint64_t)v : (uint64_t)v; break;
        case RED_SUM_SQUARE: acc += (uint64_t)v * (uint64_t)v; break;
        case RED_MAX:
            if (i == 0 || (is_unsigned ? (uint64_t)v > (uint64_t)best : v > best))
                best = v;
            break;
        case RED_MIN:
            if (i == 0 || (is_unsigned ? (uint64_t)v < (uint64_t)best : v < best))
                best = v;
            break;
        default: break;
        }
    }
    if (kind == RED_MAX || kind == RED_MIN)
        *out = best;
    else if (kind == RED_MEAN)
        *out = count ? (is_unsigned ? (int64_t)(acc / (uint64_t)count) : (int64_t)acc / count) : 0;
    else
        *out = (int64_t)acc;
    return true;
}

static inferd_status_t reduce_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const reduce_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    bool mask[INFERD_MAX_DIMS], any;
    if (reduce_mask(d, in, mask, &any, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    inferd_dtype_t dt = x->dtype;
    bool is_float = inferd_onnx_dtype_is_float(dt);
    /* Kept dims walk the output in order; reduced dims are summed inside. With no axes
     * to reduce (noop) every dim is kept and each output is one input element. */
    dim_walk_t kept = {0}, red = {0};
    int64_t stride = 1, count = 1, n_out = 1;
    for (int i = x->ndim - 1; i >= 0; i--) {
        dim_walk_t *w = mask[i] && any ? &red : &kept;
        memmove(&w->size[1], &w->size[0], (size_t)w->n * sizeof(int64_t));
        memmove(&w->stride[1], &w->stride[0], (size_t)w->n * sizeof(int64_t));
        w->size[0] = x->dims[i];
        w->stride[0] = stride;
        w->n++;
        stride *= x->dims[i];
        if (w == &red)
            count *= x->dims[i];
        else
            n_out *= x->dims[i];
    }
    /* FP32 reduced over trailing dims (LayerNorm-style means and variances): each
     * output is one contiguous run, read without the general walk. */
    bool trailing = red.n > 0 && dt == INFERD_DTYPE_FP32 && red.stride[red.n - 1] == 1 &&
                    red.n + kept.n == x->ndim;
    for (int i = 0; trailing && i < red.n; i++)
        trailing = mask[x->ndim - red.n + i];
    if (trailing && (d->kind == RED_SUM || d->kind == RED_MEAN || d->kind == RED_SUM_SQUARE ||
                     d->kind == RED_L2 || d->kind == RED_L1)) {
        const float *src = x->data;
        float *dst = out[0]->data;
        for (int64_t o = 0; o < n_out; o++) {
            const float *row = src + o * count;
            double acc = 0;
            for (int64_t i = 0; i < count; i++) {
                double v = row[i];
                acc += d->kind == RED_SUM_SQUARE || d->kind == RED_L2 ? v * v
                       : d->kind == RED_L1                            ? fabs(v)
                                                                      : v;
            }
            if (d->kind == RED_MEAN)
                acc = count ? acc / (double)count : NAN;
            else if (d->kind == RED_L2)
                acc = sqrt(acc);
            dst[o] = (float)acc;
        }
        return INFERD_OK;
    }
    for (int64_t o = 0; o < n_out; o++, walk_next(&kept)) {
        int64_t iv;
        if (!is_float && reduce_int(d->kind, x->data, dt, &red, kept.off, count, &iv))
            store_i64(out[0]->data, dt, o, iv);
        else
            inferd_onnx_store_f64(out[0]->data, dt, (uint64_t)o,
                                  reduce_float(d->kind, x->data, dt, &red, kept.off, count));
    }
    return INFERD_OK;
}

static inferd_status_t reduce_init(inferd_onnx_init_t *ic, red_kind_t kind, int input_since,
                                   inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    if (!(inferd_onnx_dtype_is_int(dt) || dt == INFERD_DTYPE_FP32 || dt == INFERD_DTYPE_FP64 ||
          dt == INFERD_DTYPE_FP16 || dt == INFERD_DTYPE_BF16))
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    reduce_data_t d = {.kind = kind, .n_axes = -1};
    d.axes_input = ic->node->opset >= input_since;
    int64_t keepdims, noop = 0;
    if (inferd_onnx_attr_int(ic->node, "keepdims", 1, &keepdims, err) != INFERD_OK ||
        (d.axes_input &&
         inferd_onnx_attr_int(ic->node, "noop_with_empty_axes", 0, &noop, err) != INFERD_OK))
        return err ? err->code : INFERD_E_INVALID_ARG;
    d.keepdims = keepdims != 0;
    d.noop_empty = noop != 0;
    if (!d.axes_input) {
        const int64_t *axes;
        size_t n;
        bool present;
        if (inferd_onnx_attr_ints(ic->node, "axes", &axes, &n, &present, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        if (n > INFERD_MAX_DIMS)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "too many axes (%zu)", n);
        if (present) {
            d.n_axes = (int)n;
            memcpy(d.axes, axes, n * sizeof(int64_t));
        }
    }
    reduce_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = reduce_compute;
    ic->out_types[0] = dt;
    return INFERD_OK;
}

#define REDUCE_INIT(name, kind, since)                                                             \
    static inferd_status_t name##_init(inferd_onnx_init_t *ic, inferd_err_t *err)                  \
    {                                                                                              \
        return reduce_init(ic, kind, since, err);                                                  \
    }

REDUCE_INIT(reduce_sum, RED_SUM, 13)
REDUCE_INIT(reduce_mean, RED_MEAN, 18)
REDUCE_INIT(reduce_max, RED_MAX, 18)
REDUCE_INIT(reduce_min, RED_MIN, 18)
REDUCE_INIT(reduce_prod, RED_PROD, 18)
REDUCE_INIT(reduce_l1, RED_L1, 18)
REDUCE_INIT(reduce_l2, RED_L2, 18)
REDUCE_INIT(reduce_log_sum, RED_LOG_SUM, 18)
REDUCE_INIT(reduce_log_sum_exp, RED_LOG_SUM_EXP, 18)
REDUCE_INIT(reduce_sum_square, RED_SUM_SQUARE, 18)

#define RED_ATTR(name, ver, init)                                                                  \
    {                                                                                              \
        "", name, ver, 1, 1, 1, init, reduce_reshape                                               \
    }
#define RED_INPUT(name, ver, init)                                                                 \
    {                                                                                              \
        "", name, ver, 1, 2, 1, init, reduce_reshape                                               \
    }
#define RED_VERSIONS(name, init)                                                                   \
    RED_ATTR(name, 1, init), RED_ATTR(name, 11, init), RED_ATTR(name, 13, init),                   \
        RED_INPUT(name, 18, init)

const inferd_onnx_op_t inferd_onnx_ops_reduce[] = {
    {"", "ArgMax", 1, 1, 1, 1, argmax_init, argmax_reshape},
    {"", "ArgMax", 11, 1, 1, 1, argmax_init, argmax_reshape},
    {"", "ArgMax", 12, 1, 1, 1, argmax_init, argmax_reshape},
    {"", "ArgMax", 13, 1, 1, 1, argmax_init, argmax_reshape},
    {"", "ArgMin", 1, 1, 1, 1, argmin_init, argmax_reshape},
    {"", "ArgMin", 11, 1, 1, 1, argmin_init, argmax_reshape},
    {"", "ArgMin", 12, 1, 1, 1, argmin_init, argmax_reshape},
    {"", "ArgMin", 13, 1, 1, 1, argmin_init, argmax_reshape},
    RED_ATTR("ReduceSum", 1, reduce_sum_init),
    RED_ATTR("ReduceSum", 11, reduce_sum_init),
    RED_INPUT("ReduceSum", 13, reduce_sum_init),
    RED_VERSIONS("ReduceMean", reduce_mean_init),
    RED_VERSIONS("ReduceMax", reduce_max_init),
    RED_ATTR("ReduceMax", 12, reduce_max_init),
    RED_VERSIONS("ReduceMin", reduce_min_init),
    RED_ATTR("ReduceMin", 12, reduce_min_init),
    RED_VERSIONS("ReduceProd", reduce_prod_init),
    RED_VERSIONS("ReduceL1", reduce_l1_init),
    RED_VERSIONS("ReduceL2", reduce_l2_init),
    RED_VERSIONS("ReduceLogSum", reduce_log_sum_init),
    RED_VERSIONS("ReduceLogSumExp", reduce_log_sum_exp_init),
    RED_VERSIONS("ReduceSumSquare", reduce_sum_square_init),
};
const size_t inferd_onnx_ops_reduce_count =
    sizeof(inferd_onnx_ops_reduce) / sizeof(inferd_onnx_ops_reduce[0]);
