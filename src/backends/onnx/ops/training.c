/* Optimizer operators of the ai.onnx.preview.training domain (opset 1): Adagrad,
 * Momentum (standard and Nesterov) and Adam.
 *
 * Each takes the learning rate R and update count T (scalars) and then, for n tensors
 * being optimized, n X's, n gradients G, and the optimizer's state tensors (Adagrad: H;
 * Momentum: V; Adam: V, H), and returns the updated X's followed by the updated states,
 * group by group. Inference servers see these only in test suites and training exports;
 * the kernels are straightforward loops in double over FP32 or FP64 tensors. */
#include "backends/onnx/ops/ops.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

typedef enum { OPT_ADAGRAD, OPT_MOMENTUM, OPT_ADAM } opt_kind_t;

typedef struct opt_data {
    opt_kind_t kind;
    int n_state;        /* state tensors per X: 1 (H or V) or 2 (Adam's V, H) */
    float decay_factor; /* Adagrad */
    float epsilon;      /* Adagrad, Adam */
    float norm_coefficient;
    float norm_coefficient_post; /* Adam */
    float alpha, beta;           /* Momentum, Adam */
    bool nesterov;               /* Momentum */
} opt_data_t;

/* Tensors being optimized: (inputs - 2) / (2 + n_state). */
static int opt_count(const inferd_onnx_node_t *node, const opt_data_t *d)
{
    return (node->n_inputs - 2) / (2 + d->n_state);
}

static inferd_status_t opt_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const opt_data_t *d = node->op_data;
    int n = opt_count(node, d);
    for (int g = 0; g < 1 + d->n_state; g++)
        for (int i = 0; i < n; i++) {
            int slot = g * n + i;
            if (slot >= node->n_outputs)
                continue;
            /* Output group 0 is the X's (input group 0); group k the k-th state. */
            int src = 2 + (g == 0 ? 0 : 1 + g) * n + i;
            inferd_onnx_shape_of(in[src], &out[slot]);
        }
    return INFERD_OK;
}

static inferd_status_t opt_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    const opt_data_t *d = node->op_data;
    int n = opt_count(node, d);
    double r = inferd_onnx_load_f64(in[0]->data, in[0]->dtype, 0);
    double t = inferd_onnx_load_f64(in[1]->data, in[1]->dtype, 0);
    for (int i = 0; i < n; i++) {
        const inferd_tensor_t *x = in[2 + i], *g = in[2 + n + i];
        const inferd_tensor_t *s1 = in[2 + 2 * n + i];
        const inferd_tensor_t *s2 = d->n_state > 1 ? in[2 + 3 * n + i] : NULL;
        inferd_tensor_t *xo = out[i];
        inferd_tensor_t *s1o = node->n_outputs > n + i ? out[n + i] : NULL;
        inferd_tensor_t *s2o =
            d->n_state > 1 && node->n_outputs > 2 * n + i ? out[2 * n + i] : NULL;
        uint64_t m = inferd_tensor_numel(x);
        if (inferd_tensor_numel(g) != m || inferd_tensor_numel(s1) != m ||
            (s2 && inferd_tensor_numel(s2) != m))
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "X, G and state shapes differ");
        inferd_dtype_t dt = x->dtype;
        for (uint64_t k = 0; k < m; k++) {
            double xv = inferd_onnx_load_f64(x->data, dt, k);
            double gr = d->norm_coefficient * xv + inferd_onnx_load_f64(g->data, g->dtype, k);
            double a = inferd_onnx_load_f64(s1->data, s1->dtype, k), xn = xv, an = a, bn = 0;
            switch (d->kind) {
            case OPT_ADAGRAD: {
                double rate = r / (1 + t * d->decay_factor);
                an = a + gr * gr;
                xn = xv - rate * gr / (sqrt(an) + d->epsilon);
                break;
            }
            case OPT_MOMENTUM: {
                double beta = t > 0 ? d->beta : 1.0;
                an = d->alpha * a + beta * gr;
                xn = d->nesterov ? xv - r * (gr + d->alpha * an) : xv - r * an;
                break;
            }
            case OPT_ADAM: {
                double h = inferd_onnx_load_f64(s2->data, s2->dtype, k);
                an = d->alpha * a + (1 - d->alpha) * gr;
                bn = d->beta * h + (1 - d->beta) * gr * gr;
                double rate = t > 0 ? r * sqrt(1 - pow(d->beta, t)) / (1 - pow(d->alpha, t)) : r;
                xn = (xv - rate * an / (sqrt(bn) + d->epsilon)) * (1 - d->norm_coefficient_post);
                break;
            }
            }
            if (xo)
                inferd_onnx_store_f64(xo->data, dt, k, xn);
            if (s1o)
                inferd_onnx_store_f64(s1o->data, s1o->dtype, k, an);
            if (s2o)
                inferd_onnx_store_f64(s2o->data, s2o->dtype, k, bn);
        }
    }
    return INFERD_OK;
}

static inferd_status_t opt_init(inferd_onnx_init_t *ic, opt_kind_t kind, inferd_err_t *err)
{
    const inferd_onnx_node_t *node = ic->node;
    opt_data_t d = {.kind = kind, .n_state = kind == OPT_ADAM ? 2 : 1};
    int per = 2 + d.n_state;
    if ((node->n_inputs - 2) % per != 0 || node->n_inputs < 2 + per)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%d inputs do not form groups of %d",
                              node->n_inputs - 2, per);
    int n = (node->n_inputs - 2) / per;
    if (node->n_outputs > n * (1 + d.n_state))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "too many outputs");
    for (int i = 2; i < node->n_inputs; i++)
        if (ic->in_types[i] != INFERD_DTYPE_FP32 && ic->in_types[i] != INFERD_DTYPE_FP64)
            return inferd_onnx_unsupported_dtype(ic, i, err);
    const char *mode = "standard";
    const inferd_onnx_attr_t *ma = inferd_onnx_attr_find(node, "mode");
    if (ma && ma->type == INFERD_ONNX_ATTR_STRING)
        mode = ma->s;
    d.nesterov = strcmp(mode, "nesterov") == 0;
    if (inferd_onnx_attr_float(node, "decay_factor", 0.0f, &d.decay_factor, err) != INFERD_OK ||
        inferd_onnx_attr_float(node, "epsilon", 1e-6f, &d.epsilon, err) != INFERD_OK ||
        inferd_onnx_attr_float(node, "norm_coefficient", 0.0f, &d.norm_coefficient, err) !=
            INFERD_OK ||
        inferd_onnx_attr_float(node, "norm_coefficient_post", 0.0f, &d.norm_coefficient_post,
                               err) != INFERD_OK ||
        inferd_onnx_attr_float(node, "alpha", kind == OPT_ADAM ? 0.9f : 0.0f, &d.alpha, err) !=
            INFERD_OK ||
        inferd_onnx_attr_float(node, "beta", kind == OPT_ADAM ? 0.999f : 0.0f, &d.beta, err) !=
            INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    for (int g = 0; g < 1 + d.n_state; g++)
        for (int i = 0; i < n; i++)
            if (g * n + i < node->n_outputs)
                ic->out_types[g * n + i] = ic->in_types[2 + (g == 0 ? 0 : 1 + g) * n + i];
    opt_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = opt_compute;
    return INFERD_OK;
}

static inferd_status_t adagrad_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return opt_init(ic, OPT_ADAGRAD, err);
}

static inferd_status_t momentum_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return opt_init(ic, OPT_MOMENTUM, err);
}

static inferd_status_t adam_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return opt_init(ic, OPT_ADAM, err);
}

#define TRAINING_DOMAIN "ai.onnx.preview.training"

const inferd_onnx_op_t inferd_onnx_ops_training[] = {
    {TRAINING_DOMAIN, "Adagrad", 1, 3, -1, 64, adagrad_init, opt_reshape},
    {TRAINING_DOMAIN, "Momentum", 1, 3, -1, 64, momentum_init, opt_reshape},
    {TRAINING_DOMAIN, "Adam", 1, 3, -1, 64, adam_init, opt_reshape},
};
const size_t inferd_onnx_ops_training_count =
    sizeof(inferd_onnx_ops_training) / sizeof(inferd_onnx_ops_training[0]);
