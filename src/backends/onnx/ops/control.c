/* Control flow: If (1, 11, 13, 16), Loop (1, 11, 13, 16) and Scan (8, 9, 11, 16) over
 * tensors (sequence- and optional-typed loop state is not supported).
 *
 * The loader builds each body attribute as a subgraph whose inputs are its own formal
 * inputs followed by the outer values it reads (captures); the node lists those outer
 * values as implicit inputs (graph.h). init takes the bodies out of the attributes,
 * sets the captured values' dtypes from the node's inputs and finalizes each body, so
 * nested control flow resolves from the outside in. Output shapes are only known by
 * running, so these ops have a `run` function instead of reshape + compute: a body runs
 * through inferd_onnx_graph_run (with the request context, so cancellation and deadlines
 * stop a long loop between iterations), and scan outputs are stacked once the
 * iteration count is known. */
#include "backends/onnx/ops/ops.h"

#include <string.h>

#include "core/alloc.h"

/* One body and where its captures come from among the node's inputs. */
typedef struct body {
    inferd_onnx_graph_t *g;
    int n_formal; /* the body's own inputs (before the captures) */
    int *slots;   /* per capture: the node input slot holding the outer value */
} body_t;

typedef struct cf_data {
    body_t a, b;   /* If: then, else; Loop/Scan: the body in a */
    int n_scan_in; /* Scan: num_scan_inputs */
    bool scan_v8;  /* Scan 8: batch dim first, optional sequence_lens input */
    int64_t in_axes[INFERD_MAX_DIMS * 4], in_dirs[INFERD_MAX_DIMS * 4];
    int64_t out_axes[INFERD_MAX_DIMS * 4], out_dirs[INFERD_MAX_DIMS * 4];
} cf_data_t;

#define MAX_SCAN_IO (INFERD_MAX_DIMS * 4)

static void cf_free(void *p)
{
    cf_data_t *d = p;
    if (!d)
        return;
    inferd_onnx_graph_destroy(d->a.g);
    inferd_onnx_graph_destroy(d->b.g);
    inferd_free(d->a.slots);
    inferd_free(d->b.slots);
    inferd_free(d);
}

static int n_explicit(const inferd_onnx_node_t *node)
{
    return node->n_inputs - node->n_implicit;
}

/* Takes the GRAPH attribute `name` out of the node and finalizes it: formal input i gets
 * formal[i] when the body does not declare a type, captures get the outer values'. */
static inferd_status_t take_body(inferd_onnx_init_t *ic, const char *name,
                                 const inferd_dtype_t *formal, int n_formal, body_t *b,
                                 inferd_err_t *err)
{
    inferd_onnx_attr_t *a = (inferd_onnx_attr_t *)inferd_onnx_attr_find(ic->node, name);
    if (!a || a->type != INFERD_ONNX_ATTR_GRAPH || !a->g)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "attribute '%s' must be a graph", name);
    b->g = a->g;
    a->g = NULL;
    inferd_onnx_graph_t *g = b->g;
    b->n_formal = g->n_inputs - g->n_captures;
    if (b->n_formal != n_formal)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "body '%s' takes %d inputs, expected %d",
                              name, b->n_formal, n_formal);
    for (int i = 0; i < n_formal; i++) {
        inferd_onnx_value_t *v = &g->values[g->inputs[i]];
        if (v->dtype == INFERD_DTYPE_INVALID)
            v->dtype = formal[i];
    }
    b->slots = inferd_xcalloc((size_t)g->n_captures + 1, sizeof(int));
    const inferd_onnx_node_t *node = ic->node;
    for (int k = 0; k < g->n_captures; k++) {
        int slot = -1;
        for (int j = n_explicit(node); j < node->n_inputs && slot < 0; j++)
            if (node->inputs[j] == g->captures[k])
                slot = j;
        if (slot < 0)
            return inferd_err_set(err, INFERD_E_INTERNAL, "capture %d of '%s' is not wired", k,
                                  name);
        b->slots[k] = slot;
        g->values[g->inputs[b->n_formal + k]].dtype = ic->in_types[slot];
    }
    if (inferd_onnx_graph_finalize(g, err) != INFERD_OK) {
        inferd_err_prefix(err, "body '%s'", name);
        return err ? err->code : INFERD_E_INVALID_ARG;
    }
    return INFERD_OK;
}

static inferd_dtype_t body_out_type(const body_t *b, int j)
{
    return b->g->values[b->g->outputs[j]].dtype;
}

/* Runs a body on formal inputs plus the node's captured inputs; outs get new refs. */
static inferd_status_t run_body(const body_t *b, inferd_ctx_t *ctx, inferd_tensor_t *const *formal,
                                inferd_tensor_t *const *node_in, inferd_tensor_t **outs,
                                inferd_err_t *err)
{
    const inferd_onnx_graph_t *g = b->g;
    inferd_tensor_t *stack_in[32];
    inferd_tensor_t **ins =
        g->n_inputs <= 32 ? stack_in : inferd_malloc((size_t)g->n_inputs * sizeof(*ins));
    if (!ins)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "body inputs");
    for (int i = 0; i < b->n_formal; i++)
        ins[i] = formal[i];
    for (int k = 0; k < g->n_captures; k++)
        ins[b->n_formal + k] = node_in[b->slots[k]];
    inferd_status_t rc = inferd_onnx_graph_run(ctx, g, ins, outs, err);
    if (ins != stack_in)
        inferd_free(ins);
    return rc;
}

static inferd_tensor_t *scalar(inferd_dtype_t dt, const void *v, inferd_err_t *err)
{
    inferd_tensor_t *t = inferd_tensor_create(dt, NULL, 0, 0, INFERD_OWNER_ARENA, err);
    if (t)
        memcpy(t->data, v, inferd_dtype_size(dt));
    return t;
}

static bool read_bool(const inferd_tensor_t *t)
{
    return t && inferd_tensor_numel(t) >= 1 && ((const uint8_t *)t->data)[0] != 0;
}

/* x[..., idx, ...] along axis as a new tensor without that axis. */
static inferd_tensor_t *slice_at(const inferd_tensor_t *x, int axis, int64_t idx, inferd_err_t *err)
{
    int64_t dims[INFERD_MAX_DIMS];
    int nd = 0;
    for (int i = 0; i < x->ndim; i++)
        if (i != axis)
            dims[nd++] = x->dims[i];
    inferd_tensor_t *t = inferd_tensor_create(x->dtype, dims, nd, 0, INFERD_OWNER_ARENA, err);
    if (!t)
        return NULL;
    size_t es = inferd_dtype_size(x->dtype);
    int64_t outer = inferd_onnx_dims_prod(x->dims, 0, axis), n = x->dims[axis],
            inner = inferd_onnx_dims_prod(x->dims, axis + 1, x->ndim);
    size_t chunk = (size_t)inner * es;
    for (int64_t o = 0; chunk && o < outer; o++)
        memcpy((char *)t->data + (size_t)o * chunk,
               (const char *)x->data + (size_t)(o * n + idx) * chunk, chunk);
    return t;
}

/* Stacks count pieces of equal shape along a new axis (piece t at position pos[t]). */
static inferd_tensor_t *stack(inferd_tensor_t *const *pieces, int64_t count, int axis, bool reverse,
                              inferd_dtype_t dt, inferd_err_t *err)
{
    int64_t dims[INFERD_MAX_DIMS];
    if (count == 0) {
        dims[0] = 0;
        return inferd_tensor_create(dt, dims, 1, 0, INFERD_OWNER_ARENA, err);
    }
    const inferd_tensor_t *p0 = pieces[0];
    if (p0->ndim + 1 > INFERD_MAX_DIMS || axis < 0 || axis > p0->ndim) {
        inferd_err_set(err, INFERD_E_INVALID_ARG, "cannot stack along axis %d", axis);
        return NULL;
    }
    for (int64_t t = 1; t < count; t++)
        if (pieces[t]->ndim != p0->ndim ||
            memcmp(pieces[t]->dims, p0->dims, (size_t)p0->ndim * sizeof(int64_t)) != 0) {
            inferd_err_set(err, INFERD_E_INVALID_ARG,
                           "scan output shapes differ between iterations");
            return NULL;
        }
    for (int i = 0, j = 0; i <= p0->ndim; i++)
        dims[i] = i == axis ? count : p0->dims[j++];
    inferd_tensor_t *out = inferd_tensor_create(dt, dims, p0->ndim + 1, 0, INFERD_OWNER_ARENA, err);
    if (!out)
        return NULL;
    size_t es = inferd_dtype_size(dt);
    int64_t outer = inferd_onnx_dims_prod(p0->dims, 0, axis),
            inner = inferd_onnx_dims_prod(p0->dims, axis, p0->ndim);
    size_t chunk = (size_t)inner * es;
    for (int64_t t = 0; t < count; t++) {
        int64_t at = reverse ? count - 1 - t : t;
        for (int64_t o = 0; chunk && o < outer; o++)
            memcpy((char *)out->data + (size_t)(o * count + at) * chunk,
                   (const char *)pieces[t]->data + (size_t)o * chunk, chunk);
    }
    return out;
}

/* A growable list of tensor references. */
typedef struct tlist {
    inferd_tensor_t **t;
    int64_t n;
    size_t cap;
} tlist_t;

static void tlist_push(tlist_t *l, inferd_tensor_t *t)
{
    l->t = inferd_xgrow(l->t, sizeof(*l->t), (size_t)l->n + 1, &l->cap);
    l->t[l->n++] = t;
}

static void tlist_clear(tlist_t *l)
{
    for (int64_t i = 0; i < l->n; i++)
        inferd_tensor_unref(l->t[i]);
    inferd_free(l->t);
    memset(l, 0, sizeof(*l));
}

static inferd_status_t no_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_onnx_shape_t *out, inferd_err_t *err)
{
    return inferd_err_set(err, INFERD_E_INTERNAL, "%s has no static reshape", node->op_type);
}

/* ------------------------------------------------------------------------------------ */
/* If                                                                                   */

static inferd_status_t if_run(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                              inferd_tensor_t *const *in, inferd_tensor_t **out, inferd_err_t *err)
{
    const cf_data_t *d = node->op_data;
    const body_t *b = read_bool(in[0]) ? &d->a : &d->b;
    if (b->g->n_outputs != node->n_outputs)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "branch has %d outputs, the node %d",
                              b->g->n_outputs, node->n_outputs);
    return run_body(b, ctx, NULL, in, out, err);
}

static inferd_status_t if_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (ic->in_types[0] != INFERD_DTYPE_BOOL)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "If condition must be BOOL");
    cf_data_t *d = inferd_xcalloc(1, sizeof(*d));
    ic->node->op_data = d;
    ic->node->free_op_data = cf_free;
    if (take_body(ic, "then_branch", NULL, 0, &d->a, err) != INFERD_OK ||
        take_body(ic, "else_branch", NULL, 0, &d->b, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (d->a.g->n_outputs != ic->node->n_outputs || d->b.g->n_outputs != ic->node->n_outputs)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "the branches must have as many outputs as the node");
    for (int j = 0; j < ic->node->n_outputs; j++) {
        if (body_out_type(&d->a, j) != body_out_type(&d->b, j))
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "branches differ in output %d's type",
                                  j);
        ic->out_types[j] = body_out_type(&d->a, j);
    }
    ic->node->run = if_run;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Loop                                                                                 */

static inferd_status_t loop_run(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                                inferd_tensor_t *const *in, inferd_tensor_t **out,
                                inferd_err_t *err)
{
    const cf_data_t *d = node->op_data;
    const body_t *b = &d->a;
    int n_carried = n_explicit(node) - 2;
    int n_scan = b->g->n_outputs - 1 - n_carried;
    int64_t max_trip = INT64_MAX;
    if (in[0]) {
        if (inferd_tensor_numel(in[0]) != 1 || in[0]->dtype != INFERD_DTYPE_INT64)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "M must be one INT64");
        max_trip = *(const int64_t *)in[0]->data;
    }
    bool cond = in[1] ? read_bool(in[1]) : true;
    inferd_tensor_t **state = inferd_xcalloc((size_t)(2 + n_carried + 1), sizeof(*state));
    inferd_tensor_t **body_out = inferd_xcalloc((size_t)b->g->n_outputs + 1, sizeof(*body_out));
    tlist_t *scans = inferd_xcalloc((size_t)n_scan + 1, sizeof(*scans));
    for (int i = 0; i < n_carried; i++)
        state[2 + i] = inferd_tensor_ref(in[2 + i]);
    inferd_status_t rc = INFERD_OK;
    for (int64_t it = 0; it < max_trip && cond && rc == INFERD_OK; it++) {
        if (ctx && (rc = inferd_ctx_check(ctx, err)) != INFERD_OK)
            break;
        uint8_t c = 1;
        state[0] = scalar(INFERD_DTYPE_INT64, &it, err);
        state[1] = scalar(INFERD_DTYPE_BOOL, &c, err);
        if (!state[0] || !state[1])
            rc = err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
        if (rc == INFERD_OK)
            rc = run_body(b, ctx, state, in, body_out, err);
        inferd_tensor_unref(state[0]);
        inferd_tensor_unref(state[1]);
        state[0] = state[1] = NULL;
        if (rc != INFERD_OK)
            break;
        cond = read_bool(body_out[0]);
        inferd_tensor_unref(body_out[0]);
        for (int i = 0; i < n_carried; i++) {
            inferd_tensor_unref(state[2 + i]);
            state[2 + i] = body_out[1 + i];
        }
        for (int k = 0; k < n_scan; k++)
            tlist_push(&scans[k], body_out[1 + n_carried + k]);
    }
    for (int k = 0; rc == INFERD_OK && k < n_scan; k++) {
        if (n_carried + k >= node->n_outputs)
            break;
        out[n_carried + k] =
            stack(scans[k].t, scans[k].n, 0, false, body_out_type(b, 1 + n_carried + k), err);
        if (!out[n_carried + k])
            rc = err ? err->code : INFERD_E_INVALID_ARG;
    }
    for (int i = 0; i < n_carried; i++) {
        if (rc == INFERD_OK && i < node->n_outputs)
            out[i] = state[2 + i];
        else
            inferd_tensor_unref(state[2 + i]);
    }
    if (rc != INFERD_OK)
        for (int j = 0; j < node->n_outputs; j++) {
            if (j < n_carried)
                continue; /* already dropped with state */
            inferd_tensor_unref(out[j]);
            out[j] = NULL;
        }
    if (rc != INFERD_OK)
        for (int j = 0; j < n_carried && j < node->n_outputs; j++)
            out[j] = NULL;
    for (int k = 0; k < n_scan; k++)
        tlist_clear(&scans[k]);
    inferd_free(scans);
    inferd_free(state);
    inferd_free(body_out);
    return rc;
}

static inferd_status_t loop_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    const inferd_onnx_node_t *node = ic->node;
    int n_carried = n_explicit(node) - 2;
    if (n_carried < 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Loop needs M and cond slots");
    cf_data_t *d = inferd_xcalloc(1, sizeof(*d));
    ic->node->op_data = d;
    ic->node->free_op_data = cf_free;
    inferd_dtype_t *formal = inferd_xcalloc((size_t)n_carried + 2, sizeof(*formal));
    formal[0] = INFERD_DTYPE_INT64;
    formal[1] = INFERD_DTYPE_BOOL;
    for (int i = 0; i < n_carried; i++)
        formal[2 + i] = ic->in_types[2 + i];
    inferd_status_t rc = take_body(ic, "body", formal, n_carried + 2, &d->a, err);
    inferd_free(formal);
    if (rc != INFERD_OK)
        return rc;
    const inferd_onnx_graph_t *g = d->a.g;
    if (g->n_outputs < 1 + n_carried || node->n_outputs > g->n_outputs - 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Loop body outputs do not match the node");
    for (int j = 0; j < node->n_outputs; j++)
        ic->out_types[j] = body_out_type(&d->a, 1 + j);
    ic->node->run = loop_run;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Scan                                                                                 */

/* One scan over states[n_states] and scans[n_in] (scan axes per d), producing
 * out[n_states + K]: final states, then stacked scan outputs. */
static inferd_status_t scan_once(const inferd_onnx_node_t *node, const cf_data_t *d,
                                 inferd_ctx_t *ctx, inferd_tensor_t *const *node_in,
                                 inferd_tensor_t *const *states_in, int n_states,
                                 inferd_tensor_t *const *scans_in, int n_in, int64_t len_limit,
                                 inferd_tensor_t **out, inferd_err_t *err)
{
    const body_t *b = &d->a;
    int n_out = b->g->n_outputs - n_states;
    int axes[MAX_SCAN_IO];
    int64_t T = -1;
    for (int i = 0; i < n_in; i++) {
        if (inferd_onnx_axis(d->in_axes[i], scans_in[i]->ndim, &axes[i], err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        int64_t len = scans_in[i]->dims[axes[i]];
        if (T >= 0 && len != T)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "scan inputs differ in length");
        T = len;
    }
    if (T < 0)
        T = 0;
    if (len_limit >= 0 && len_limit < T)
        T = len_limit;
    inferd_tensor_t **formal = inferd_xcalloc((size_t)(n_states + n_in) + 1, sizeof(*formal));
    inferd_tensor_t **body_out = inferd_xcalloc((size_t)b->g->n_outputs + 1, sizeof(*body_out));
    tlist_t *pieces = inferd_xcalloc((size_t)n_out + 1, sizeof(*pieces));
    for (int i = 0; i < n_states; i++)
        formal[i] = inferd_tensor_ref(states_in[i]);
    inferd_status_t rc = INFERD_OK;
    for (int64_t t = 0; t < T && rc == INFERD_OK; t++) {
        if (ctx && (rc = inferd_ctx_check(ctx, err)) != INFERD_OK)
            break;
        for (int i = 0; i < n_in && rc == INFERD_OK; i++) {
            int64_t at = d->in_dirs[i] ? T - 1 - t : t;
            formal[n_states + i] = slice_at(scans_in[i], axes[i], at, err);
            if (!formal[n_states + i])
                rc = err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
        }
        if (rc == INFERD_OK)
            rc = run_body(b, ctx, formal, node_in, body_out, err);
        for (int i = 0; i < n_in; i++) {
            inferd_tensor_unref(formal[n_states + i]);
            formal[n_states + i] = NULL;
        }
        if (rc != INFERD_OK)
            break;
        for (int i = 0; i < n_states; i++) {
            inferd_tensor_unref(formal[i]);
            formal[i] = body_out[i];
        }
        for (int k = 0; k < n_out; k++)
            tlist_push(&pieces[k], body_out[n_states + k]);
    }
    for (int k = 0; rc == INFERD_OK && k < n_out; k++) {
        int64_t axis = d->out_axes[k];
        int rank = pieces[k].n ? pieces[k].t[0]->ndim + 1 : 1;
        if (axis < 0)
            axis += rank;
        out[n_states + k] = stack(pieces[k].t, pieces[k].n, (int)axis, d->out_dirs[k] != 0,
                                  body_out_type(b, n_states + k), err);
        if (!out[n_states + k])
            rc = err ? err->code : INFERD_E_INVALID_ARG;
    }
    for (int i = 0; i < n_states; i++) {
        if (rc == INFERD_OK)
            out[i] = formal[i];
        else
            inferd_tensor_unref(formal[i]);
    }
    if (rc != INFERD_OK)
        for (int k = 0; k < n_out; k++) {
            inferd_tensor_unref(out[n_states + k]);
            out[n_states + k] = NULL;
        }
    for (int k = 0; k < n_out; k++)
        tlist_clear(&pieces[k]);
    inferd_free(pieces);
    inferd_free(formal);
    inferd_free(body_out);
    return rc;
}

static inferd_status_t scan_run(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                                inferd_tensor_t *const *in, inferd_tensor_t **out,
                                inferd_err_t *err)
{
    const cf_data_t *d = node->op_data;
    int first = d->scan_v8 ? 1 : 0;
    int n_all = n_explicit(node) - first;
    int n_in = d->n_scan_in, n_states = n_all - n_in;
    int n_body_out = d->a.g->n_outputs;
    inferd_tensor_t **results = inferd_xcalloc((size_t)n_body_out + 1, sizeof(*results));
    inferd_status_t rc = INFERD_OK;
    if (!d->scan_v8) {
        rc = scan_once(node, d, ctx, in, in, n_states, in + n_states, n_in, -1, results, err);
    } else {
        /* Scan 8: every input carries a batch dim first; scan each batch entry alone and
         * stack the results along a new dim 0. */
        int64_t batch = n_all ? in[first]->dims[0] : 0;
        tlist_t *per = inferd_xcalloc((size_t)n_body_out + 1, sizeof(*per));
        inferd_tensor_t **sl = inferd_xcalloc((size_t)n_all + 1, sizeof(*sl));
        for (int64_t bi = 0; bi < batch && rc == INFERD_OK; bi++) {
            for (int i = 0; i < n_all && rc == INFERD_OK; i++) {
                sl[i] = slice_at(in[first + i], 0, bi, err);
                if (!sl[i])
                    rc = err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
            }
            int64_t limit = -1;
            if (rc == INFERD_OK && in[0])
                limit = (int64_t)inferd_onnx_load_f64(in[0]->data, in[0]->dtype, (uint64_t)bi);
            if (rc == INFERD_OK)
                rc = scan_once(node, d, ctx, in, sl, n_states, sl + n_states, n_in, limit, results,
                               err);
            for (int i = 0; i < n_all; i++) {
                inferd_tensor_unref(sl[i]);
                sl[i] = NULL;
            }
            for (int j = 0; rc == INFERD_OK && j < n_body_out; j++) {
                tlist_push(&per[j], results[j]);
                results[j] = NULL;
            }
        }
        for (int j = 0; rc == INFERD_OK && j < n_body_out; j++) {
            results[j] = stack(per[j].t, per[j].n, 0, false,
                               per[j].n ? per[j].t[0]->dtype : body_out_type(&d->a, j), err);
            if (!results[j])
                rc = err ? err->code : INFERD_E_INVALID_ARG;
        }
        for (int j = 0; j < n_body_out; j++)
            tlist_clear(&per[j]);
        inferd_free(per);
        inferd_free(sl);
    }
    for (int j = 0; j < n_body_out; j++) {
        if (rc == INFERD_OK && j < node->n_outputs)
            out[j] = results[j];
        else
            inferd_tensor_unref(results[j]);
    }
    inferd_free(results);
    return rc;
}

static inferd_status_t read_axes(const inferd_onnx_node_t *node, const char *name, int n,
                                 int64_t *out, inferd_err_t *err)
{
    const int64_t *v;
    size_t cnt;
    bool present;
    if (inferd_onnx_attr_ints(node, name, &v, &cnt, &present, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    for (int i = 0; i < n; i++)
        out[i] = present && (size_t)i < cnt ? v[i] : 0;
    return INFERD_OK;
}

static inferd_status_t scan_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    const inferd_onnx_node_t *node = ic->node;
    cf_data_t *d = inferd_xcalloc(1, sizeof(*d));
    ic->node->op_data = d;
    ic->node->free_op_data = cf_free;
    d->scan_v8 = node->opset < 9;
    int64_t m;
    if (inferd_onnx_attr_int(node, "num_scan_inputs", 0, &m, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    int first = d->scan_v8 ? 1 : 0;
    int n_all = n_explicit(node) - first;
    if (m < 1 || m > n_all || n_all > MAX_SCAN_IO)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "num_scan_inputs %lld does not fit",
                              (long long)m);
    d->n_scan_in = (int)m;
    int n_states = n_all - (int)m;
    if (read_axes(node, d->scan_v8 ? "directions" : "scan_input_directions", (int)m, d->in_dirs,
                  err) != INFERD_OK ||
        read_axes(node, "scan_input_axes", (int)m, d->in_axes, err) != INFERD_OK ||
        read_axes(node, "scan_output_axes", MAX_SCAN_IO, d->out_axes, err) != INFERD_OK ||
        read_axes(node, "scan_output_directions", MAX_SCAN_IO, d->out_dirs, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    inferd_dtype_t formal[MAX_SCAN_IO];
    for (int i = 0; i < n_all; i++)
        formal[i] = ic->in_types[first + i];
    if (take_body(ic, "body", formal, n_all, &d->a, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (d->a.g->n_outputs < n_states || node->n_outputs > d->a.g->n_outputs ||
        d->a.g->n_outputs - n_states > MAX_SCAN_IO)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Scan body outputs do not match the node");
    for (int j = 0; j < node->n_outputs; j++)
        ic->out_types[j] = body_out_type(&d->a, j);
    ic->node->run = scan_run;
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_control[] = {
    {"", "If", 1, 1, 1, 64, if_init, no_reshape},
    {"", "If", 11, 1, 1, 64, if_init, no_reshape},
    {"", "If", 13, 1, 1, 64, if_init, no_reshape},
    {"", "If", 16, 1, 1, 64, if_init, no_reshape},
    /* M and cond may be left out with empty names: loop_init checks the count. */
    {"", "Loop", 1, 0, -1, 64, loop_init, no_reshape},
    {"", "Loop", 11, 0, -1, 64, loop_init, no_reshape},
    {"", "Loop", 13, 0, -1, 64, loop_init, no_reshape},
    {"", "Loop", 16, 0, -1, 64, loop_init, no_reshape},
    {"", "Scan", 8, 0, -1, 64, scan_init, no_reshape},
    {"", "Scan", 9, 1, -1, 64, scan_init, no_reshape},
    {"", "Scan", 11, 1, -1, 64, scan_init, no_reshape},
    {"", "Scan", 16, 1, -1, 64, scan_init, no_reshape},
};
const size_t inferd_onnx_ops_control_count =
    sizeof(inferd_onnx_ops_control) / sizeof(inferd_onnx_ops_control[0]);
