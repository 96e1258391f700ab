/* Quantization: QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear, MatMulInteger and
 * QLinearMatMul (QLinearConv and ConvInteger live in conv.c with the other convolutions).
 *
 * The 8-bit types are UINT8 and INT8 throughout; scales are FP32. Quantization rounds half
 * to even (nearbyint in the default rounding mode) and saturates. Integer products
 * accumulate exactly in int32 after subtracting the zero points, so the only rounding is
 * the final requantization. Per-axis scales and zero points (opset 13) are 1-D tensors
 * along `axis`. */
#include "backends/onnx/ops/ops.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

static inferd_status_t fail(inferd_err_t *err)
{
    return err ? err->code : INFERD_E_INVALID_ARG;
}

static bool is_q8(inferd_dtype_t t)
{
    return t == INFERD_DTYPE_UINT8 || t == INFERD_DTYPE_INT8;
}

static int32_t q_get(const inferd_tensor_t *t, int64_t i)
{
    switch (t->dtype) {
    case INFERD_DTYPE_UINT8: return ((const uint8_t *)t->data)[i];
    case INFERD_DTYPE_INT8: return ((const int8_t *)t->data)[i];
    case INFERD_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    default: return 0;
    }
}

static double f_get(const inferd_tensor_t *t, int64_t i)
{
    switch (t->dtype) {
    case INFERD_DTYPE_FP32: return ((const float *)t->data)[i];
    case INFERD_DTYPE_FP64: return ((const double *)t->data)[i];
    case INFERD_DTYPE_FP16: return inferd_fp16_to_fp32(((const uint16_t *)t->data)[i]);
    case INFERD_DTYPE_INT32: return ((const int32_t *)t->data)[i];
    default: return 0;
    }
}

/* Rounds half to even and saturates into the 8-bit type of t, then stores at i. */
static void q_put(inferd_tensor_t *t, int64_t i, double v)
{
    double r = nearbyint(v);
    if (t->dtype == INFERD_DTYPE_UINT8) {
        ((uint8_t *)t->data)[i] = (uint8_t)(r < 0 ? 0 : (r > 255 ? 255 : r));
    } else if (t->dtype == INFERD_DTYPE_INT8) {
        ((int8_t *)t->data)[i] = (int8_t)(r < -128 ? -128 : (r > 127 ? 127 : r));
    } else if (t->dtype == INFERD_DTYPE_INT32) {
        ((int32_t *)t->data)[i] =
            (int32_t)(r < (double)INT32_MIN ? INT32_MIN : (r > (double)INT32_MAX ? INT32_MAX : r));
    }
}

static void f_put(inferd_tensor_t *t, int64_t i, double v)
{
    if (t->dtype == INFERD_DTYPE_FP32)
        ((float *)t->data)[i] = (float)v;
    else if (t->dtype == INFERD_DTYPE_FP64)
        ((double *)t->data)[i] = v;
    else if (t->dtype == INFERD_DTYPE_FP16)
        ((uint16_t *)t->data)[i] = inferd_fp32_to_fp16((float)v);
}

static inferd_status_t same_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_onnx_shape_t *out, inferd_err_t *err)
{
    (void)node;
    (void)err;
    inferd_onnx_shape_of(in[0], &out[0]);
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* QuantizeLinear / DequantizeLinear                                                    */

typedef struct qdq_data {
    int64_t axis;
} qdq_data_t;

/* Element i's position along the quantization axis, or 0 for per-tensor parameters. */
static inferd_status_t qdq_layout(const qdq_data_t *d, const inferd_tensor_t *x,
                                  const inferd_tensor_t *scale, const inferd_tensor_t *zp,
                                  int64_t *inner, int64_t *len, inferd_err_t *err)
{
    uint64_t n = inferd_tensor_numel(scale);
    *inner = 1;
    *len = 1;
    if (scale->ndim == 0 || n == 1) {
        if (zp && inferd_tensor_numel(zp) != 1)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "zero point must match the scale");
        return INFERD_OK;
    }
    int axis;
    if (inferd_onnx_axis(d->axis, x->ndim, &axis, err) != INFERD_OK)
        return fail(err);
    if (scale->ndim != 1 || (int64_t)n != x->dims[axis] || (zp && inferd_tensor_numel(zp) != n))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "per-axis scale must have %lld values",
                              (long long)x->dims[axis]);
    *inner = inferd_onnx_dims_prod(x->dims, axis + 1, x->ndim);
    *len = n;
    return INFERD_OK;
}

static inferd_status_t quantize(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                inferd_tensor_t *const *out, inferd_err_t *err)
{
    int64_t inner, len;
    if (qdq_layout(node->op_data, in[0], in[1], in[2], &inner, &len, err) != INFERD_OK)
        return fail(err);
    int64_t n = (int64_t)inferd_tensor_numel(in[0]);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (i / inner) % len;
        double zp = in[2] ? q_get(in[2], c) : 0;
        /* Divide in float as the reference does: a double quotient can land on the other
         * side of a .5 boundary. */
        double q = nearbyintf((float)f_get(in[0], i) / (float)f_get(in[1], c));
        q_put(out[0], i, q + zp);
    }
    return INFERD_OK;
}

static inferd_status_t dequantize(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_tensor_t *const *out, inferd_err_t *err)
{
    int64_t inner, len;
    if (qdq_layout(node->op_data, in[0], in[1], in[2], &inner, &len, err) != INFERD_OK)
        return fail(err);
    int64_t n = (int64_t)inferd_tensor_numel(in[0]);
    for (int64_t i = 0; i < n; i++) {
        int64_t c = (i / inner) % len;
        int32_t zp = in[2] ? q_get(in[2], c) : 0;
        f_put(out[0], i, (double)((int64_t)q_get(in[0], i) - zp) * f_get(in[1], c));
    }
    return INFERD_OK;
}

static inferd_status_t qdq_parse(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    qdq_data_t d;
    if (inferd_onnx_attr_int(ic->node, "axis", 1, &d.axis, err) != INFERD_OK)
        return fail(err);
    qdq_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    return INFERD_OK;
}

static inferd_status_t quantize_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t t = ic->in_types[0];
    if (t != INFERD_DTYPE_FP32 && t != INFERD_DTYPE_INT32 && t != INFERD_DTYPE_FP16 &&
        t != INFERD_DTYPE_FP64)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    inferd_dtype_t zt = ic->in_types[2];
    if (zt != INFERD_DTYPE_INVALID && !is_q8(zt))
        return inferd_onnx_unsupported_dtype(ic, 2, err);
    if (qdq_parse(ic, err) != INFERD_OK)
        return fail(err);
    ic->node->compute = quantize;
    ic->out_types[0] = zt == INFERD_DTYPE_INVALID ? INFERD_DTYPE_UINT8 : zt;
    return INFERD_OK;
}

static inferd_status_t dequantize_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t t = ic->in_types[0];
    if (!is_q8(t) && t != INFERD_DTYPE_INT32)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (ic->in_types[1] != INFERD_DTYPE_FP32)
        return inferd_onnx_unsupported_dtype(ic, 1, err);
    if (qdq_parse(ic, err) != INFERD_OK)
        return fail(err);
    ic->node->compute = dequantize;
    ic->out_types[0] = INFERD_DTYPE_FP32;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* DynamicQuantizeLinear                                                                */

static inferd_status_t dql_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    (void)node;
    (void)err;
    inferd_onnx_shape_of(in[0], &out[0]);
    out[1].ndim = 0;
    out[2].ndim = 0;
    return INFERD_OK;
}

static inferd_status_t dql_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    (void)node;
    (void)err;
    const float *x = in[0]->data;
    int64_t n = (int64_t)inferd_tensor_numel(in[0]);
    /* The range always includes 0 so that zero is exactly representable. */
    float lo = 0, hi = 0;
    for (int64_t i = 0; i < n; i++) {
        lo = x[i] < lo ? x[i] : lo;
        hi = x[i] > hi ? x[i] : hi;
    }
    float scale = (hi - lo) / 255.0f;
    float zpf = scale != 0 ? nearbyintf(0.0f - lo / scale) : 0.0f;
    zpf = zpf < 0 ? 0 : (zpf > 255 ? 255 : zpf);
    uint8_t *y = out[0]->data;
    for (int64_t i = 0; i < n; i++) {
        float q = scale != 0 ? nearbyintf(x[i] / scale) + zpf : zpf;
        y[i] = (uint8_t)(q < 0 ? 0 : (q > 255 ? 255 : q));
    }
    if (out[1])
        *(float *)out[1]->data = scale;
    if (out[2])
        *(uint8_t *)out[2]->data = (uint8_t)zpf;
    return INFERD_OK;
}

static inferd_status_t dql_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (ic->in_types[0] != INFERD_DTYPE_FP32)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    ic->node->compute = dql_compute;
    ic->out_types[0] = INFERD_DTYPE_UINT8;
    if (ic->node->n_outputs > 1)
        ic->out_types[1] = INFERD_DTYPE_FP32;
    if (ic->node->n_outputs > 2)
        ic->out_types[2] = INFERD_DTYPE_UINT8;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* MatMulInteger and QLinearMatMul                                                      */

/* numpy.matmul shapes: 1-D operands are promoted and the added dim dropped again. */
typedef struct qmm_dims {
    int64_t m, n, k;
    inferd_onnx_shape_t a_batch, b_batch, out_batch, out;
} qmm_dims_t;

static inferd_status_t qmm_shape(const inferd_tensor_t *a, const inferd_tensor_t *b, qmm_dims_t *q,
                                 inferd_err_t *err)
{
    if (a->ndim < 1 || b->ndim < 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "operands must have rank >= 1");
    q->m = a->ndim == 1 ? 1 : a->dims[a->ndim - 2];
    q->k = a->dims[a->ndim - 1];
    int64_t kb = b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2];
    q->n = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
    if (q->k != kb)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "inner dimensions %lld and %lld differ",
                              (long long)q->k, (long long)kb);
    q->a_batch.ndim = a->ndim > 2 ? a->ndim - 2 : 0;
    memcpy(q->a_batch.dims, a->dims, (size_t)q->a_batch.ndim * sizeof(int64_t));
    q->b_batch.ndim = b->ndim > 2 ? b->ndim - 2 : 0;
    memcpy(q->b_batch.dims, b->dims, (size_t)q->b_batch.ndim * sizeof(int64_t));
    if (inferd_onnx_broadcast(&q->a_batch, &q->b_batch, &q->out_batch, err) != INFERD_OK)
        return fail(err);
    q->out = q->out_batch;
    if (a->ndim > 1)
        q->out.dims[q->out.ndim++] = q->m;
    if (b->ndim > 1)
        q->out.dims[q->out.ndim++] = q->n;
    return INFERD_OK;
}

/* Zero point of row i (A) or column j (B): scalar or 1-D per row/column. */
static int32_t zp_pick(const inferd_tensor_t *zp, int64_t i)
{
    if (!zp)
        return 0;
    return q_get(zp, inferd_tensor_numel(zp) == 1 ? 0 : i);
}

/* acc[batch, m, n] = sum_k (a - a_zp) * (b - b_zp), exactly. */
static inferd_status_t qmm_acc(const inferd_tensor_t *a, const inferd_tensor_t *a_zp,
                               const inferd_tensor_t *b, const inferd_tensor_t *b_zp, int32_t *acc,
                               qmm_dims_t *q, inferd_err_t *err)
{
    if (qmm_shape(a, b, q, err) != INFERD_OK)
        return fail(err);
    uint64_t azn = a_zp ? inferd_tensor_numel(a_zp) : 1, bzn = b_zp ? inferd_tensor_numel(b_zp) : 1;
    if ((azn != 1 && (int64_t)azn != q->m) || (bzn != 1 && (int64_t)bzn != q->n))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "zero points must be scalars or per row (A) / per column (B)");
    inferd_onnx_bcast_t w;
    inferd_onnx_bcast_init(&w, &q->a_batch, &q->b_batch, &q->out_batch);
    int64_t idx = 0, sa = q->m * q->k, sb = q->k * q->n, sy = q->m * q->n;
    for (int64_t row = 0; row < w.rows; row++) {
        for (int64_t it = 0; it < w.inner; it++, idx++) {
            int64_t ao = (w.off_a + it * w.inner_sa) * sa, bo = (w.off_b + it * w.inner_sb) * sb;
            int32_t *y = acc + idx * sy;
            for (int64_t i = 0; i < q->m; i++) {
                int32_t az = zp_pick(a_zp, i);
                for (int64_t j = 0; j < q->n; j++) {
                    int32_t bz = zp_pick(b_zp, j);
                    uint32_t s = 0; /* int32 accumulation that wraps rather than overflows */
                    for (int64_t p = 0; p < q->k; p++)
                        s += (uint32_t)((q_get(a, ao + i * q->k + p) - az) *
                                        (q_get(b, bo + p * q->n + j) - bz));
                    y[i * q->n + j] = (int32_t)s;
                }
            }
        }
        inferd_onnx_bcast_next(&w);
    }
    return INFERD_OK;
}

static inferd_status_t mmi_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    (void)node;
    qmm_dims_t q;
    if (qmm_shape(in[0], in[1], &q, err) != INFERD_OK)
        return fail(err);
    out[0] = q.out;
    return INFERD_OK;
}

static inferd_status_t mmi_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    (void)node;
    qmm_dims_t q;
    return qmm_acc(in[0], in[2], in[1], in[3], out[0]->data, &q, err);
}

static inferd_status_t mmi_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    for (int i = 0; i < ic->node->n_inputs; i++)
        if (ic->in_types[i] != INFERD_DTYPE_INVALID && !is_q8(ic->in_types[i]))
            return inferd_onnx_unsupported_dtype(ic, i, err);
    ic->node->compute = mmi_compute;
    ic->out_types[0] = INFERD_DTYPE_INT32;
    return INFERD_OK;
}

/* QLinearMatMul inputs: a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp. */
static inferd_status_t qlmm_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_onnx_shape_t *out, inferd_err_t *err)
{
    (void)node;
    qmm_dims_t q;
    if (qmm_shape(in[0], in[3], &q, err) != INFERD_OK)
        return fail(err);
    out[0] = q.out;
    return INFERD_OK;
}

static inferd_status_t qlmm_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_tensor_t *const *out, inferd_err_t *err)
{
    (void)node;
    inferd_tensor_t *y = out[0];
    uint64_t total = inferd_tensor_numel(y);
    int32_t *acc = inferd_malloc(total * sizeof(int32_t) + 1);
    if (!acc)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");
    qmm_dims_t q;
    if (qmm_acc(in[0], in[2], in[3], in[5], acc, &q, err) != INFERD_OK) {
        inferd_free(acc);
        return fail(err);
    }
    uint64_t asn = inferd_tensor_numel(in[1]), bsn = inferd_tensor_numel(in[4]);
    double ys = f_get(in[6], 0);
    int32_t yz = q_get(in[7], 0);
    for (uint64_t e = 0; e < total; e++) {
        int64_t j = (int64_t)(e % (uint64_t)q.n), i = (int64_t)(e / (uint64_t)q.n) % q.m;
        double as = f_get(in[1], asn == 1 ? 0 : i), bs = f_get(in[4], bsn == 1 ? 0 : j);
        /* The reference computes the rescale in float. */
        float v = (float)acc[e] * (float)(as * bs / ys);
        q_put(y, (int64_t)e, (double)nearbyintf(v) + yz);
    }
    inferd_free(acc);
    return INFERD_OK;
}

static inferd_status_t qlmm_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    static const int q8_slots[] = {0, 2, 3, 5, 7};
    for (size_t i = 0; i < sizeof(q8_slots) / sizeof(q8_slots[0]); i++)
        if (!is_q8(ic->in_types[q8_slots[i]]))
            return inferd_onnx_unsupported_dtype(ic, q8_slots[i], err);
    if (ic->in_types[1] != INFERD_DTYPE_FP32 || ic->in_types[4] != INFERD_DTYPE_FP32 ||
        ic->in_types[6] != INFERD_DTYPE_FP32)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "QLinearMatMul scales must be FP32");
    ic->node->compute = qlmm_compute;
    ic->out_types[0] = ic->in_types[7];
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_quant[] = {
    {"", "QuantizeLinear", 10, 2, 3, 1, quantize_init, same_reshape},
    {"", "QuantizeLinear", 13, 2, 3, 1, quantize_init, same_reshape},
    /* 19 adds float8 types and `saturate` (float8 only): the 8-bit integer cases are
     * unchanged, and other types fail the dtype check. */
    {"", "QuantizeLinear", 19, 2, 3, 1, quantize_init, same_reshape},
    {"", "DequantizeLinear", 10, 2, 3, 1, dequantize_init, same_reshape},
    {"", "DequantizeLinear", 13, 2, 3, 1, dequantize_init, same_reshape},
    {"", "DequantizeLinear", 19, 2, 3, 1, dequantize_init, same_reshape},
    {"", "DynamicQuantizeLinear", 11, 1, 1, 3, dql_init, dql_reshape},
    {"", "MatMulInteger", 10, 2, 4, 1, mmi_init, mmi_reshape},
    {"", "QLinearMatMul", 10, 8, 8, 1, qlmm_init, qlmm_reshape},
};
const size_t inferd_onnx_ops_quant_count =
    sizeof(inferd_onnx_ops_quant) / sizeof(inferd_onnx_ops_quant[0]);
