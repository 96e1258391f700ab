/* Reductions. For now ArgMax: the INT64 index of the largest element along `axis`
 * (default 0), keeping the axis as size 1 when keepdims (default 1). Ties go to the first
 * index, or to the last with select_last_index=1 (opset 12). Versions 1, 11 (negative
 * axis), 12, 13. Kernels: FP32, FP64 and every integer type. The reduce loop is shared
 * with the Reduce* family to come: an (outer, n, inner) view of the input. */
#include "backends/onnx/ops/ops.h"

#include "core/alloc.h"

typedef void (*argmax_fn)(const void *x, int64_t *y, int64_t outer, int64_t n, int64_t inner,
                          bool last);

typedef struct argmax_data {
    argmax_fn fn;
    int64_t axis;
    bool keepdims;
    bool last;
} argmax_data_t;

#define ARGMAX_KERNEL(name, T)                                                                     \
    static void name(const void *px, int64_t *y, int64_t outer, int64_t n, int64_t inner,          \
                     bool last)                                                                    \
    {                                                                                              \
        const T *x = px;                                                                           \
        for (int64_t o = 0; o < outer; o++) {                                                      \
            for (int64_t k = 0; k < inner; k++) {                                                  \
                const T *row = x + o * n * inner + k;                                              \
                T best = row[0];                                                                   \
                int64_t at = 0;                                                                    \
                for (int64_t i = 1; i < n; i++) {                                                  \
                    T v = row[i * inner];                                                          \
                    if (v > best || (last && v == best)) {                                         \
                        best = v;                                                                  \
                        at = i;                                                                    \
                    }                                                                              \
                }                                                                                  \
                y[o * inner + k] = at;                                                             \
            }                                                                                      \
        }                                                                                          \
    }

ARGMAX_KERNEL(argmax_f32, float)
ARGMAX_KERNEL(argmax_f64, double)
ARGMAX_KERNEL(argmax_i8, int8_t)
ARGMAX_KERNEL(argmax_i16, int16_t)
ARGMAX_KERNEL(argmax_i32, int32_t)
ARGMAX_KERNEL(argmax_i64, int64_t)
ARGMAX_KERNEL(argmax_u8, uint8_t)
ARGMAX_KERNEL(argmax_u16, uint16_t)
ARGMAX_KERNEL(argmax_u32, uint32_t)
ARGMAX_KERNEL(argmax_u64, uint64_t)

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

static inferd_status_t argmax_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    argmax_data_t d = {0};
    switch (ic->in_types[0]) {
    case INFERD_DTYPE_FP32: d.fn = argmax_f32; break;
    case INFERD_DTYPE_FP64: d.fn = argmax_f64; break;
    case INFERD_DTYPE_INT8: d.fn = argmax_i8; break;
    case INFERD_DTYPE_INT16: d.fn = argmax_i16; break;
    case INFERD_DTYPE_INT32: d.fn = argmax_i32; break;
    case INFERD_DTYPE_INT64: d.fn = argmax_i64; break;
    case INFERD_DTYPE_UINT8: d.fn = argmax_u8; break;
    case INFERD_DTYPE_UINT16: d.fn = argmax_u16; break;
    case INFERD_DTYPE_UINT32: d.fn = argmax_u32; break;
    case INFERD_DTYPE_UINT64: d.fn = argmax_u64; break;
    default: return inferd_onnx_unsupported_dtype(ic, 0, err);
    }
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

const inferd_onnx_op_t inferd_onnx_ops_reduce[] = {
    {"", "ArgMax", 1, 1, 1, 1, argmax_init, argmax_reshape},
    {"", "ArgMax", 11, 1, 1, 1, argmax_init, argmax_reshape},
    {"", "ArgMax", 12, 1, 1, 1, argmax_init, argmax_reshape},
    {"", "ArgMax", 13, 1, 1, 1, argmax_init, argmax_reshape},
};
const size_t inferd_onnx_ops_reduce_count =
    sizeof(inferd_onnx_ops_reduce) / sizeof(inferd_onnx_ops_reduce[0]);
