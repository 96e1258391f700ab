/* Loss operators: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss (opsets 12, 13).
 *
 * Input is [N, C, d1...] scores, target [N, d1...] INT32/INT64 class indices, and an
 * optional per-class weight [C]. A target equal to ignore_index contributes neither loss
 * nor weight. reduction "none" gives the per-element loss of the target's shape, "sum"
 * its sum and "mean" (the default) the sum divided by the total weight of the counted
 * elements. SoftmaxCrossEntropyLoss is NLL over log_softmax(scores, axis=1) and can also
 * return that log-probability tensor. Computation is in double for every float type. */
#include "backends/onnx/ops/ops.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

typedef enum { LOSS_NONE, LOSS_SUM, LOSS_MEAN } loss_reduction_t;

typedef struct loss_data {
    loss_reduction_t reduction;
    int64_t ignore_index;
    bool has_ignore;
    bool softmax; /* SoftmaxCrossEntropyLoss */
} loss_data_t;

static inferd_status_t loss_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const loss_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *t = in[1];
    if (x->ndim < 2 || t->ndim != x->ndim - 1 || t->dims[0] != x->dims[0] ||
        memcmp(t->dims + 1, x->dims + 2, (size_t)(t->ndim - 1) * sizeof(int64_t)) != 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "target must have the input's shape without dim 1");
    if (in[2] && (in[2]->ndim != 1 || in[2]->dims[0] != x->dims[1]))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "weight must be [C]");
    if (d->reduction == LOSS_NONE)
        inferd_onnx_shape_of(t, &out[0]);
    else
        out[0].ndim = 0;
    if (node->n_outputs > 1)
        inferd_onnx_shape_of(x, &out[1]);
    return INFERD_OK;
}

static int64_t load_target(const inferd_tensor_t *t, uint64_t i)
{
    return t->dtype == INFERD_DTYPE_INT32 ? ((const int32_t *)t->data)[i]
                                          : ((const int64_t *)t->data)[i];
}

static inferd_status_t loss_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_tensor_t *const *out, inferd_err_t *err)
{
    const loss_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *t = in[1], *w = in[2];
    inferd_dtype_t dt = x->dtype;
    int64_t N = x->dims[0], C = x->dims[1], D = inferd_onnx_dims_prod(x->dims, 2, x->ndim);
    inferd_tensor_t *lp_out = node->n_outputs > 1 ? out[1] : NULL;
    double total = 0, wsum = 0;
    for (int64_t n = 0; n < N; n++)
        for (int64_t k = 0; k < D; k++) {
            /* log_softmax over the classes at (n, k), when the op has it. */
            double ls = 0;
            if (d->softmax) {
                double m = -INFINITY, s = 0;
                for (int64_t c = 0; c < C; c++) {
                    double v = inferd_onnx_load_f64(x->data, dt, (uint64_t)((n * C + c) * D + k));
                    m = v > m ? v : m;
                }
                for (int64_t c = 0; c < C; c++)
                    s +=
                        exp(inferd_onnx_load_f64(x->data, dt, (uint64_t)((n * C + c) * D + k)) - m);
                ls = m + log(s);
                for (int64_t c = 0; lp_out && c < C; c++) {
                    uint64_t at = (uint64_t)((n * C + c) * D + k);
                    inferd_onnx_store_f64(lp_out->data, dt, at,
                                          inferd_onnx_load_f64(x->data, dt, at) - ls);
                }
            }
            uint64_t ti = (uint64_t)(n * D + k);
            int64_t c = load_target(t, ti);
            double l = 0, wt = 0;
            if (!(d->has_ignore && c == d->ignore_index)) {
                if (c < 0 || c >= C)
                    return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                          "target %lld is out of range for %lld classes",
                                          (long long)c, (long long)C);
                wt = w ? inferd_onnx_load_f64(w->data, w->dtype, (uint64_t)c) : 1.0;
                double lp = inferd_onnx_load_f64(x->data, dt, (uint64_t)((n * C + c) * D + k)) - ls;
                l = -lp * wt;
            }
            if (d->reduction == LOSS_NONE)
                inferd_onnx_store_f64(out[0]->data, dt, ti, l);
            total += l;
            wsum += wt;
        }
    if (d->reduction == LOSS_SUM)
        inferd_onnx_store_f64(out[0]->data, dt, 0, total);
    else if (d->reduction == LOSS_MEAN)
        inferd_onnx_store_f64(out[0]->data, dt, 0, wsum != 0 ? total / wsum : 0.0);
    return INFERD_OK;
}

static inferd_status_t loss_init(inferd_onnx_init_t *ic, bool softmax, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    if (dt != INFERD_DTYPE_FP32 && dt != INFERD_DTYPE_FP64 && dt != INFERD_DTYPE_FP16 &&
        dt != INFERD_DTYPE_BF16)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (ic->in_types[1] != INFERD_DTYPE_INT32 && ic->in_types[1] != INFERD_DTYPE_INT64)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "target must be INT32 or INT64");
    loss_data_t d = {.softmax = softmax};
    const inferd_onnx_attr_t *r = inferd_onnx_attr_find(ic->node, "reduction");
    const char *red = r && r->type == INFERD_ONNX_ATTR_STRING ? r->s : "mean";
    if (strcmp(red, "none") == 0)
        d.reduction = LOSS_NONE;
    else if (strcmp(red, "sum") == 0)
        d.reduction = LOSS_SUM;
    else if (strcmp(red, "mean") == 0)
        d.reduction = LOSS_MEAN;
    else
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown reduction '%s'", red);
    d.has_ignore = inferd_onnx_attr_find(ic->node, "ignore_index") != NULL;
    if (inferd_onnx_attr_int(ic->node, "ignore_index", 0, &d.ignore_index, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    loss_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = loss_compute;
    ic->out_types[0] = dt;
    if (ic->node->n_outputs > 1)
        ic->out_types[1] = dt;
    return INFERD_OK;
}

static inferd_status_t nll_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return loss_init(ic, false, err);
}

static inferd_status_t sce_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return loss_init(ic, true, err);
}

const inferd_onnx_op_t inferd_onnx_ops_loss[] = {
    {"", "NegativeLogLikelihoodLoss", 12, 2, 3, 1, nll_init, loss_reshape},
    {"", "NegativeLogLikelihoodLoss", 13, 2, 3, 1, nll_init, loss_reshape},
    {"", "SoftmaxCrossEntropyLoss", 12, 2, 3, 2, sce_init, loss_reshape},
    {"", "SoftmaxCrossEntropyLoss", 13, 2, 3, 2, sce_init, loss_reshape},
};
const size_t inferd_onnx_ops_loss_count =
    sizeof(inferd_onnx_ops_loss) / sizeof(inferd_onnx_ops_loss[0]);
