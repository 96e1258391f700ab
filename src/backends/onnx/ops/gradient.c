/* Gradient (ai.onnx.preview.training, opset 1): the derivatives of the graph value `y`
 * with respect to the values named in `xs`, which are the node's inputs.
 *
 * init collects the forward nodes that lie between the xs and y (in the graph's order)
 * and accepts them only when every one is an elementwise Add, Sub, Mul, Div, Neg or
 * Identity whose other operands are xs, constants or earlier path values. A run
 * re-evaluates that path in double from the node's inputs, seeds dy = 1 and propagates
 * backwards, summing a gradient over the dims its operand was broadcast along. This is
 * reverse-mode differentiation for the small arithmetic graphs the operator is used with
 * in tests and exports; anything else fails the load with UNSUPPORTED. */
#include "backends/onnx/ops/ops.h"

#include <string.h>

#include "core/alloc.h"

typedef enum { G_ADD, G_SUB, G_MUL, G_DIV, G_NEG, G_ID } gop_t;

typedef struct gstep {
    gop_t op;
    int in[2]; /* graph value indices (in[1] = -1 for unary) */
    int out;
} gstep_t;

typedef struct grad_data {
    const inferd_onnx_graph_t *graph; /* for constants; outlives the node */
    int n_steps;
    gstep_t *steps;
    int n_x;
    int *xs; /* value index per x (= the node's inputs) */
    int y;
} grad_data_t;

/* A value during a run: shape and data in double. */
typedef struct gval {
    int ndim;
    int64_t dims[INFERD_MAX_DIMS];
    double *v, *g; /* value, accumulated gradient (NULL until needed) */
    uint64_t n;
} gval_t;

static void grad_free(void *p)
{
    grad_data_t *d = p;
    if (!d)
        return;
    inferd_free(d->steps);
    inferd_free(d->xs);
    inferd_free(d);
}

static inferd_status_t no_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_onnx_shape_t *out, inferd_err_t *err)
{
    return inferd_err_set(err, INFERD_E_INTERNAL, "Gradient has no static reshape");
}

static int value_named(const inferd_onnx_graph_t *g, const char *name)
{
    for (int i = 0; i < g->n_values; i++)
        if (strcmp(g->values[i].name, name) == 0)
            return i;
    return -1;
}

/* Offset in a (broadcast into out's shape) for out's flat index i. */
static uint64_t bcast_index(const gval_t *a, const gval_t *out, uint64_t i)
{
    uint64_t off = 0, stride = 1;
    for (int k = out->ndim - 1; k >= 0; k--) {
        uint64_t c = i % (uint64_t)out->dims[k];
        i /= (uint64_t)out->dims[k];
        int ka = k - (out->ndim - a->ndim);
        if (ka < 0)
            continue;
        if (a->dims[ka] != 1)
            off += c * stride;
        stride *= (uint64_t)a->dims[ka];
    }
    return off;
}

static bool gval_set(gval_t *v, const inferd_onnx_shape_t *s)
{
    v->ndim = s->ndim;
    memcpy(v->dims, s->dims, sizeof(v->dims));
    v->n = (uint64_t)inferd_onnx_dims_prod(s->dims, 0, s->ndim);
    v->v = inferd_calloc(v->n + 1, sizeof(double));
    v->g = inferd_calloc(v->n + 1, sizeof(double));
    return v->v && v->g;
}

static inferd_status_t load_value(gval_t *v, const inferd_tensor_t *t, inferd_err_t *err)
{
    inferd_onnx_shape_t s;
    inferd_onnx_shape_of(t, &s);
    if (!gval_set(v, &s))
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "Gradient scratch");
    for (uint64_t i = 0; i < v->n; i++)
        v->v[i] = inferd_onnx_load_f64(t->data, t->dtype, i);
    return INFERD_OK;
}

static inferd_status_t grad_run(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                                inferd_tensor_t *const *in, inferd_tensor_t **out,
                                inferd_err_t *err)
{
    const grad_data_t *d = node->op_data;
    const inferd_onnx_graph_t *g = d->graph;
    gval_t *vals = inferd_calloc((size_t)g->n_values + 1, sizeof(*vals));
    if (!vals)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "Gradient scratch");
    inferd_status_t rc = INFERD_OK;
    for (int i = 0; i < d->n_x && rc == INFERD_OK; i++)
        rc = load_value(&vals[d->xs[i]], in[i], err);
    /* Forward. */
    for (int s = 0; s < d->n_steps && rc == INFERD_OK; s++) {
        const gstep_t *st = &d->steps[s];
        gval_t *a = &vals[st->in[0]], *b = st->in[1] >= 0 ? &vals[st->in[1]] : NULL;
        for (int k = 0; k < 2 && rc == INFERD_OK; k++) {
            int v = st->in[k];
            if (v >= 0 && !vals[v].v)
                rc = g->values[v].constant
                         ? load_value(&vals[v], g->values[v].constant, err)
                         : inferd_err_set(err, INFERD_E_INVALID_ARG,
                                          "Gradient cannot see value '%s'", g->values[v].name);
        }
        if (rc != INFERD_OK)
            break;
        inferd_onnx_shape_t sa = {.ndim = a->ndim}, so;
        memcpy(sa.dims, a->dims, sizeof(sa.dims));
        so = sa;
        if (b) {
            inferd_onnx_shape_t sb = {.ndim = b->ndim};
            memcpy(sb.dims, b->dims, sizeof(sb.dims));
            if ((rc = inferd_onnx_broadcast(&sa, &sb, &so, err)) != INFERD_OK)
                break;
        }
        gval_t *o = &vals[st->out];
        if (!gval_set(o, &so)) {
            rc = inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "Gradient scratch");
            break;
        }
        for (uint64_t i = 0; i < o->n; i++) {
            double x = a->v[bcast_index(a, o, i)], y = b ? b->v[bcast_index(b, o, i)] : 0;
            switch (st->op) {
            case G_ADD: o->v[i] = x + y; break;
            case G_SUB: o->v[i] = x - y; break;
            case G_MUL: o->v[i] = x * y; break;
            case G_DIV: o->v[i] = x / y; break;
            case G_NEG: o->v[i] = -x; break;
            case G_ID: o->v[i] = x; break;
            }
        }
    }
    /* Backward from dy = 1. */
    if (rc == INFERD_OK && !vals[d->y].v)
        rc = inferd_err_set(err, INFERD_E_INTERNAL, "y was not computed");
    if (rc == INFERD_OK)
        for (uint64_t i = 0; i < vals[d->y].n; i++)
            vals[d->y].g[i] = 1.0;
    for (int s = d->n_steps - 1; s >= 0 && rc == INFERD_OK; s--) {
        const gstep_t *st = &d->steps[s];
        gval_t *o = &vals[st->out], *a = &vals[st->in[0]];
        gval_t *b = st->in[1] >= 0 ? &vals[st->in[1]] : NULL;
        for (uint64_t i = 0; i < o->n; i++) {
            uint64_t ia = bcast_index(a, o, i), ib = b ? bcast_index(b, o, i) : 0;
            double go = o->g[i], x = a->v[ia], y = b ? b->v[ib] : 0;
            switch (st->op) {
            case G_ADD:
                a->g[ia] += go;
                b->g[ib] += go;
                break;
            case G_SUB:
                a->g[ia] += go;
                b->g[ib] -= go;
                break;
            case G_MUL:
                a->g[ia] += go * y;
                b->g[ib] += go * x;
                break;
            case G_DIV:
                a->g[ia] += go / y;
                b->g[ib] -= go * x / (y * y);
                break;
            case G_NEG: a->g[ia] -= go; break;
            case G_ID: a->g[ia] += go; break;
            }
        }
    }
    for (int i = 0; i < d->n_x && rc == INFERD_OK; i++) {
        if (i >= node->n_outputs || node->outputs[i] < 0)
            continue;
        out[i] = inferd_tensor_create(in[i]->dtype, in[i]->dims, in[i]->ndim, 0, INFERD_OWNER_ARENA,
                                      err);
        if (!out[i]) {
            rc = err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
            break;
        }
        const gval_t *x = &vals[d->xs[i]];
        for (uint64_t k = 0; k < x->n; k++)
            inferd_onnx_store_f64(out[i]->data, out[i]->dtype, k, x->g[k]);
    }
    if (rc != INFERD_OK)
        for (int i = 0; i < node->n_outputs; i++) {
            inferd_tensor_unref(out[i]);
            out[i] = NULL;
        }
    for (int v = 0; v < g->n_values; v++) {
        inferd_free(vals[v].v);
        inferd_free(vals[v].g);
    }
    inferd_free(vals);
    return rc;
}

static inferd_status_t grad_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    const inferd_onnx_node_t *node = ic->node;
    const inferd_onnx_graph_t *g = ic->graph;
    const inferd_onnx_attr_t *xa = inferd_onnx_attr_find(node, "xs");
    const inferd_onnx_attr_t *ya = inferd_onnx_attr_find(node, "y");
    if (!g || !xa || xa->type != INFERD_ONNX_ATTR_STRINGS || !ya ||
        ya->type != INFERD_ONNX_ATTR_STRING)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Gradient needs attributes xs and y");
    if ((int)xa->n != node->n_inputs || node->n_outputs > (int)xa->n)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Gradient's inputs must be its xs");
    grad_data_t *d = inferd_xcalloc(1, sizeof(*d));
    ic->node->op_data = d;
    ic->node->free_op_data = grad_free;
    d->graph = g;
    d->n_x = (int)xa->n;
    d->xs = inferd_xcalloc(xa->n + 1, sizeof(int));
    for (size_t i = 0; i < xa->n; i++) {
        d->xs[i] = value_named(g, xa->strings[i]);
        if (d->xs[i] < 0 || d->xs[i] != node->inputs[i])
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "x '%s' is not input %zu",
                                  xa->strings[i], i);
        inferd_dtype_t dt = ic->in_types[i];
        if (dt != INFERD_DTYPE_FP32 && dt != INFERD_DTYPE_FP64)
            return inferd_onnx_unsupported_dtype(ic, (int)i, err);
        if ((int)i < node->n_outputs)
            ic->out_types[i] = dt;
    }
    d->y = value_named(g, ya->s);
    if (d->y < 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "y '%s' is not in the graph", ya->s);
    /* Mark what y depends on, walking producers back from y. */
    bool *need = inferd_xcalloc((size_t)g->n_nodes + 1, sizeof(bool));
    int *stack = inferd_xcalloc((size_t)g->n_values + 1, sizeof(int));
    bool *seen = inferd_xcalloc((size_t)g->n_values + 1, sizeof(bool));
    int top = 0;
    stack[top++] = d->y;
    seen[d->y] = true;
    inferd_status_t rc = INFERD_OK;
    while (top > 0) {
        int v = stack[--top];
        bool is_x = false;
        for (int i = 0; i < d->n_x; i++)
            is_x = is_x || d->xs[i] == v;
        int p = g->values[v].producer;
        if (is_x || p < 0 || g->values[v].constant)
            continue;
        need[p] = true;
        for (int j = 0; j < g->nodes[p].n_inputs; j++) {
            int u = g->nodes[p].inputs[j];
            if (u >= 0 && !seen[u]) {
                seen[u] = true;
                stack[top++] = u;
            }
        }
    }
    d->steps = inferd_xcalloc((size_t)g->n_nodes + 1, sizeof(*d->steps));
    for (int k = 0; k < g->n_nodes && rc == INFERD_OK; k++) {
        if (!need[k])
            continue;
        const inferd_onnx_node_t *n = &g->nodes[k];
        static const struct {
            const char *name;
            gop_t op;
            int arity;
        } known[] = {{"Add", G_ADD, 2}, {"Sub", G_SUB, 2}, {"Mul", G_MUL, 2},
                     {"Div", G_DIV, 2}, {"Neg", G_NEG, 1}, {"Identity", G_ID, 1}};
        int which = -1;
        for (size_t q = 0; q < sizeof(known) / sizeof(known[0]); q++)
            if (strcmp(n->op_type, known[q].name) == 0 && n->n_inputs == known[q].arity &&
                n->domain[0] == '\0')
                which = (int)q;
        if (which < 0) {
            rc = inferd_err_set(err, INFERD_E_UNSUPPORTED,
                                "Gradient cannot differentiate node '%s' (%s)", n->label,
                                n->op_type);
            break;
        }
        gstep_t *st = &d->steps[d->n_steps++];
        st->op = known[which].op;
        st->in[0] = n->inputs[0];
        st->in[1] = known[which].arity == 2 ? n->inputs[1] : -1;
        st->out = n->outputs[0];
    }
    inferd_free(need);
    inferd_free(stack);
    inferd_free(seen);
    if (rc != INFERD_OK)
        return rc;
    ic->node->run = grad_run;
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_gradient[] = {
    {"ai.onnx.preview.training", "Gradient", 1, 1, -1, 64, grad_init, no_reshape},
};
const size_t inferd_onnx_ops_gradient_count =
    sizeof(inferd_onnx_ops_gradient) / sizeof(inferd_onnx_ops_gradient[0]);
