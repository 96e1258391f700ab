/* Softmax, LogSoftmax and Hardmax.
 *
 * Before opset 13 the input is coerced to 2-D at `axis` (default 1): dims before the axis
 * form the rows and everything from the axis on is normalized together. From opset 13
 * the op normalizes along the single dimension `axis` (default -1). Both are the same
 * kernel over an (outer, n, inner) view of the data: the 2-D form is inner = 1. The max
 * is subtracted first so exp never overflows. Kernels: FP32, FP64. Hardmax (same axis
 * rules) writes 1 at the first maximum of each normalized group and 0 elsewhere, for
 * FP32, FP64 and FP16. */
#include "backends/onnx/ops/ops.h"

#include "backends/onnx/kernels/simd_f32.h"

#include <math.h>

#include "core/alloc.h"
#include "core/pool.h"

typedef struct softmax_data {
    int64_t axis;
    bool coerce_2d; /* opset < 13 */
    bool log;
} softmax_data_t;

/* The (outer, n, inner) split of the input for this node's axis semantics. */
static inferd_status_t split(const softmax_data_t *d, const inferd_tensor_t *x, int64_t *outer,
                             int64_t *n, int64_t *inner, inferd_err_t *err)
{
    int r = x->ndim;
    int axis;
    if (d->coerce_2d) {
        /* The 2-D coercion accepts axis == rank (every dim in the rows). */
        if (d->axis < -r || d->axis > r)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "axis %lld is out of range for rank %d", (long long)d->axis, r);
        axis = (int)(d->axis < 0 ? d->axis + r : d->axis);
        *outer = inferd_onnx_dims_prod(x->dims, 0, axis);
        *n = inferd_onnx_dims_prod(x->dims, axis, r);
        *inner = 1;
        return INFERD_OK;
    }
    if (inferd_onnx_axis(d->axis, r, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    *outer = inferd_onnx_dims_prod(x->dims, 0, axis);
    *n = x->dims[axis];
    *inner = inferd_onnx_dims_prod(x->dims, axis + 1, r);
    return INFERD_OK;
}

static inferd_status_t softmax_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                       inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int64_t outer, n, inner;
    if (split(node->op_data, in[0], &outer, &n, &inner, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    inferd_onnx_shape_of(in[0], &out[0]);
    return INFERD_OK;
}

#define SOFTMAX_KERNEL(name, T, EXP, LOG)                                                          \
    static inferd_status_t name(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,        \
                                inferd_tensor_t *const *out, inferd_err_t *err)                    \
    {                                                                                              \
        const softmax_data_t *d = node->op_data;                                                   \
        int64_t outer, n, inner;                                                                   \
        if (split(d, in[0], &outer, &n, &inner, err) != INFERD_OK)                                 \
            return err ? err->code : INFERD_E_INVALID_ARG;                                         \
        for (int64_t o = 0; o < outer; o++) {                                                      \
            for (int64_t k = 0; k < inner; k++) {                                                  \
                const T *x = (const T *)in[0]->data + o * n * inner + k;                           \
                T *y = (T *)out[0]->data + o * n * inner + k;                                      \
                T mx = -INFINITY;                                                                  \
                for (int64_t i = 0; i < n; i++)                                                    \
                    if (x[i * inner] > mx)                                                         \
                        mx = x[i * inner];                                                         \
                T sum = 0;                                                                         \
                for (int64_t i = 0; i < n; i++) {                                                  \
                    T e = EXP(x[i * inner] - mx);                                                  \
                    sum += e;                                                                      \
                    if (!d->log)                                                                   \
                        y[i * inner] = e;                                                          \
                }                                                                                  \
                if (d->log) {                                                                      \
                    T lse = mx + LOG(sum);                                                         \
                    for (int64_t i = 0; i < n; i++)                                                \
                        y[i * inner] = x[i * inner] - lse;                                         \
                } else {                                                                           \
                    T inv = (T)1 / sum;                                                            \
                    for (int64_t i = 0; i < n; i++)                                                \
                        y[i * inner] *= inv;                                                       \
                }                                                                                  \
            }                                                                                      \
        }                                                                                          \
        return INFERD_OK;                                                                          \
    }

SOFTMAX_KERNEL(softmax_any_f32, float, expf, logf)

typedef struct softmax_rows {
    const float *x;
    float *y;
    int64_t n;
    bool log;
} softmax_rows_t;

static void softmax_rows_task(void *arg, int64_t lo, int64_t hi)
{
    const softmax_rows_t *r = arg;
    for (int64_t o = lo; o < hi; o++)
        inferd_simd_softmax_row(r->x + o * r->n, r->y + o * r->n, r->n, r->log);
}

/* The common case, softmax over the last axis: contiguous rows on the vectorized loop,
 * split by rows over the intra-op pool when there are enough (a row's result depends on
 * that row only, so not on the split). */
static inferd_status_t softmax_f32(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    const softmax_data_t *d = node->op_data;
    int64_t outer, n, inner;
    if (split(d, in[0], &outer, &n, &inner, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (inner != 1 || n == 0)
        return softmax_any_f32(node, in, out, err);
    softmax_rows_t r = {.x = in[0]->data, .y = out[0]->data, .n = n, .log = d->log};
    /* A value costs an exponential and three passes, several elementwise ops' worth: a
     * quarter of their grain (attention's rows of 64 at batch 8 then split in 8). */
    int64_t grain = (INFERD_ONNX_PAR_GRAIN / 4 + n - 1) / n;
    inferd_pool_for_range(outer, grain, 1, softmax_rows_task, &r);
    return INFERD_OK;
}
SOFTMAX_KERNEL(softmax_f64, double, exp, log)

static inferd_status_t init_common(inferd_onnx_init_t *ic, bool log, inferd_err_t *err)
{
    inferd_onnx_compute_fn fn = NULL;
    if (ic->in_types[0] == INFERD_DTYPE_FP32)
        fn = softmax_f32;
    else if (ic->in_types[0] == INFERD_DTYPE_FP64)
        fn = softmax_f64;
    else
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    softmax_data_t d = {.coerce_2d = ic->node->opset < 13, .log = log};
    if (inferd_onnx_attr_int(ic->node, "axis", d.coerce_2d ? 1 : -1, &d.axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    softmax_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = fn;
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

static inferd_status_t hardmax_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                       inferd_tensor_t *const *out, inferd_err_t *err)
{
    int64_t outer, n, inner;
    if (split(node->op_data, in[0], &outer, &n, &inner, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    inferd_dtype_t dt = in[0]->dtype;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            uint64_t base = (uint64_t)(o * n * inner + k);
            int64_t at = 0;
            double best = n ? inferd_onnx_load_f64(in[0]->data, dt, base) : 0;
            for (int64_t i = 1; i < n; i++) {
                double v = inferd_onnx_load_f64(in[0]->data, dt, base + (uint64_t)(i * inner));
                if (v > best) {
                    best = v;
                    at = i;
                }
            }
            for (int64_t i = 0; i < n; i++)
                inferd_onnx_store_f64(out[0]->data, dt, base + (uint64_t)(i * inner),
                                      i == at ? 1.0 : 0.0);
        }
    return INFERD_OK;
}

static inferd_status_t hardmax_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    if (dt != INFERD_DTYPE_FP32 && dt != INFERD_DTYPE_FP64 && dt != INFERD_DTYPE_FP16)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    softmax_data_t d = {.coerce_2d = ic->node->opset < 13};
    if (inferd_onnx_attr_int(ic->node, "axis", d.coerce_2d ? 1 : -1, &d.axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    softmax_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = hardmax_compute;
    ic->out_types[0] = dt;
    return INFERD_OK;
}

static inferd_status_t softmax_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return init_common(ic, false, err);
}

static inferd_status_t logsoftmax_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return init_common(ic, true, err);
}

const inferd_onnx_op_t inferd_onnx_ops_softmax[] = {
    {"", "Softmax", 1, 1, 1, 1, softmax_init, softmax_reshape},
    {"", "Softmax", 11, 1, 1, 1, softmax_init, softmax_reshape},
    {"", "Softmax", 13, 1, 1, 1, softmax_init, softmax_reshape},
    {"", "LogSoftmax", 1, 1, 1, 1, logsoftmax_init, softmax_reshape},
    {"", "LogSoftmax", 11, 1, 1, 1, logsoftmax_init, softmax_reshape},
    {"", "LogSoftmax", 13, 1, 1, 1, logsoftmax_init, softmax_reshape},
    {"", "Hardmax", 1, 1, 1, 1, hardmax_init, softmax_reshape},
    {"", "Hardmax", 11, 1, 1, 1, hardmax_init, softmax_reshape},
    {"", "Hardmax", 13, 1, 1, 1, hardmax_init, softmax_reshape},
};
const size_t inferd_onnx_ops_softmax_count =
    sizeof(inferd_onnx_ops_softmax) / sizeof(inferd_onnx_ops_softmax[0]);
