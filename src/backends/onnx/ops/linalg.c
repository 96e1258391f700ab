/* Linear algebra beyond Gemm/MatMul: Det (opset 11), the determinant of each trailing
 * [M, M] matrix of an FP32, FP64 or FP16 tensor [..., M, M], by LU decomposition with
 * partial pivoting in double. */
#include "backends/onnx/ops/ops.h"

#include <math.h>

#include "core/alloc.h"

static inferd_status_t det_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    if (x->ndim < 2 || x->dims[x->ndim - 1] != x->dims[x->ndim - 2])
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Det needs square matrices [..., M, M]");
    out[0].ndim = x->ndim - 2;
    for (int i = 0; i < out[0].ndim; i++)
        out[0].dims[i] = x->dims[i];
    return INFERD_OK;
}

/* Determinant of the m x m matrix in a (destroyed). */
static double lu_det(double *a, int64_t m)
{
    double det = 1;
    for (int64_t c = 0; c < m; c++) {
        int64_t p = c;
        for (int64_t r = c + 1; r < m; r++)
            if (fabs(a[r * m + c]) > fabs(a[p * m + c]))
                p = r;
        if (a[p * m + c] == 0)
            return 0;
        if (p != c) {
            for (int64_t k = 0; k < m; k++) {
                double t = a[c * m + k];
                a[c * m + k] = a[p * m + k];
                a[p * m + k] = t;
            }
            det = -det;
        }
        double piv = a[c * m + c];
        det *= piv;
        for (int64_t r = c + 1; r < m; r++) {
            double f = a[r * m + c] / piv;
            for (int64_t k = c; k < m; k++)
                a[r * m + k] -= f * a[c * m + k];
        }
    }
    return det;
}

static inferd_status_t det_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    int64_t m = x->dims[x->ndim - 1];
    uint64_t mats = inferd_tensor_numel(out[0]);
    /* Scratch for one matrix; the memory planner will provide this once it exists. */
    double *a = inferd_malloc((size_t)(m * m + 1) * sizeof(double));
    if (!a)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "Det scratch");
    for (uint64_t k = 0; k < mats; k++) {
        for (int64_t i = 0; i < m * m; i++)
            a[i] = inferd_onnx_load_f64(x->data, x->dtype, k * (uint64_t)(m * m) + (uint64_t)i);
        inferd_onnx_store_f64(out[0]->data, out[0]->dtype, k, lu_det(a, m));
    }
    inferd_free(a);
    return INFERD_OK;
}

static inferd_status_t det_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    if (dt != INFERD_DTYPE_FP32 && dt != INFERD_DTYPE_FP64 && dt != INFERD_DTYPE_FP16)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    ic->node->compute = det_compute;
    ic->out_types[0] = dt;
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_linalg[] = {
    {"", "Det", 11, 1, 1, 1, det_init, det_reshape},
};
const size_t inferd_onnx_ops_linalg_count =
    sizeof(inferd_onnx_ops_linalg) / sizeof(inferd_onnx_ops_linalg[0]);
