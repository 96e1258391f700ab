/* Elementwise activations: Relu, Sigmoid, Tanh. The output has the input's shape and
 * type. Kernels: FP32 and FP64 for all three, plus signed integers for Relu (opset 14
 * added them). The opset-1 versions differ only by the obsolete consumed_inputs hint. */
#include "backends/onnx/ops/ops.h"

#include <math.h>

static inferd_status_t same_shape_reshape(const inferd_onnx_node_t *node,
                                          inferd_tensor_t *const *in, inferd_onnx_shape_t *out,
                                          inferd_err_t *err)
{
    inferd_onnx_shape_of(in[0], &out[0]);
    return INFERD_OK;
}

#define UNARY_KERNEL(name, T, EXPR)                                                                \
    static inferd_status_t name(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,        \
                                inferd_tensor_t *const *out, inferd_err_t *err)                    \
    {                                                                                              \
        const T *src = in[0]->data;                                                                \
        T *dst = out[0]->data;                                                                     \
        uint64_t n = inferd_tensor_numel(in[0]);                                                   \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            T x = src[i];                                                                          \
            dst[i] = (EXPR);                                                                       \
        }                                                                                          \
        return INFERD_OK;                                                                          \
    }

UNARY_KERNEL(relu_f32, float, x > 0.0f ? x : 0.0f)
UNARY_KERNEL(relu_f64, double, x > 0.0 ? x : 0.0)
UNARY_KERNEL(relu_i8, int8_t, x > 0 ? x : 0)
UNARY_KERNEL(relu_i16, int16_t, x > 0 ? x : 0)
UNARY_KERNEL(relu_i32, int32_t, x > 0 ? x : 0)
UNARY_KERNEL(relu_i64, int64_t, x > 0 ? x : 0)
/* Written so that a large negative x gives exp -> inf and a result of 0, not NaN. */
UNARY_KERNEL(sigmoid_f32, float, 1.0f / (1.0f + expf(-x)))
UNARY_KERNEL(sigmoid_f64, double, 1.0 / (1.0 + exp(-x)))
UNARY_KERNEL(tanh_f32, float, tanhf(x))
UNARY_KERNEL(tanh_f64, double, tanh(x))

static inferd_status_t bind(inferd_onnx_init_t *ic, inferd_onnx_compute_fn fn, inferd_err_t *err)
{
    if (!fn)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    ic->node->compute = fn;
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

static inferd_status_t relu_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    switch (ic->in_types[0]) {
    case INFERD_DTYPE_FP32: return bind(ic, relu_f32, err);
    case INFERD_DTYPE_FP64: return bind(ic, relu_f64, err);
    case INFERD_DTYPE_INT8: return bind(ic, relu_i8, err);
    case INFERD_DTYPE_INT16: return bind(ic, relu_i16, err);
    case INFERD_DTYPE_INT32: return bind(ic, relu_i32, err);
    case INFERD_DTYPE_INT64: return bind(ic, relu_i64, err);
    default: return bind(ic, NULL, err);
    }
}

static inferd_status_t sigmoid_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    switch (ic->in_types[0]) {
    case INFERD_DTYPE_FP32: return bind(ic, sigmoid_f32, err);
    case INFERD_DTYPE_FP64: return bind(ic, sigmoid_f64, err);
    default: return bind(ic, NULL, err);
    }
}

static inferd_status_t tanh_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    switch (ic->in_types[0]) {
    case INFERD_DTYPE_FP32: return bind(ic, tanh_f32, err);
    case INFERD_DTYPE_FP64: return bind(ic, tanh_f64, err);
    default: return bind(ic, NULL, err);
    }
}

const inferd_onnx_op_t inferd_onnx_ops_activation[] = {
    {"", "Relu", 1, 1, 1, 1, relu_init, same_shape_reshape},
    {"", "Relu", 6, 1, 1, 1, relu_init, same_shape_reshape},
    {"", "Relu", 13, 1, 1, 1, relu_init, same_shape_reshape},
    {"", "Relu", 14, 1, 1, 1, relu_init, same_shape_reshape},
    {"", "Sigmoid", 1, 1, 1, 1, sigmoid_init, same_shape_reshape},
    {"", "Sigmoid", 6, 1, 1, 1, sigmoid_init, same_shape_reshape},
    {"", "Sigmoid", 13, 1, 1, 1, sigmoid_init, same_shape_reshape},
    {"", "Tanh", 1, 1, 1, 1, tanh_init, same_shape_reshape},
    {"", "Tanh", 6, 1, 1, 1, tanh_init, same_shape_reshape},
    {"", "Tanh", 13, 1, 1, 1, tanh_init, same_shape_reshape},
};
const size_t inferd_onnx_ops_activation_count =
    sizeof(inferd_onnx_ops_activation) / sizeof(inferd_onnx_ops_activation[0]);
