/* Graph finalization: turns the IR that load.c filled in from the file into a runnable
 * graph. Every node is bound to an operator version from the registry (so an unsupported
 * operator fails the load, naming the node), nodes are sorted topologically (a cycle
 * fails the load), dtypes are propagated from inputs and initializers through each op's
 * init, nodes whose outputs init computed at load (Constant) are folded away, and the
 * executor's use counts are set. */
#include "backends/onnx/graph.h"

#include <stdio.h>
#include <string.h>

#include "backends/onnx/ops/ops.h"
#include "backends/onnx/passes.h"
#include "core/alloc.h"

int64_t inferd_onnx_graph_opset(const inferd_onnx_graph_t *g, const char *domain)
{
    if (strcmp(domain, "ai.onnx") == 0)
        domain = "";
    for (int i = 0; i < g->n_opsets; i++)
        if (strcmp(g->opsets[i].domain, domain) == 0)
            return g->opsets[i].version;
    return -1;
}

/* ------------------------------------------------------------------------------------ */
/* Operator binding                                                                     */

static inferd_status_t bind_op(const inferd_onnx_graph_t *g, inferd_onnx_node_t *n,
                               inferd_err_t *err)
{
    n->opset = inferd_onnx_graph_opset(g, n->domain);
    if (n->opset < 0)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED,
                              "node '%s' (%s) is in domain '%s', which the model does not "
                              "import",
                              n->label, n->op_type, n->domain);
    n->op = inferd_onnx_op_find(n->domain, n->op_type, n->opset);
    if (!n->op)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED,
                              "unsupported operator '%s' (domain '%s', opset %lld) at node '%s'",
                              n->op_type, n->domain, (long long)n->opset, n->label);
    const inferd_onnx_op_t *op = n->op;
    /* Implicit inputs (captured by subgraphs) do not count against the arity. */
    int n_in = n->n_inputs - n->n_implicit;
    if (n_in < op->min_inputs || (op->max_inputs >= 0 && n_in > op->max_inputs)) {
        if (op->max_inputs < 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "node '%s' (%s, opset %lld) has %d inputs, the operator "
                                  "takes at least %d",
                                  n->label, n->op_type, (long long)n->opset, n_in, op->min_inputs);
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "node '%s' (%s, opset %lld) has %d inputs, the operator takes "
                              "%d to %d",
                              n->label, n->op_type, (long long)n->opset, n_in, op->min_inputs,
                              op->max_inputs);
    }
    for (int i = 0; i < op->min_inputs; i++)
        if (n->inputs[i] < 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "node '%s' (%s): input %d is required",
                                  n->label, n->op_type, i);
    /* Optional outputs may be omitted with an empty name, output 0 included (RNN's Y
     * when only Y_h is wanted); at least one must be present. */
    int present = 0;
    for (int j = 0; j < n->n_outputs; j++)
        present += n->outputs[j] >= 0;
    if (n->n_outputs > op->n_outputs)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "node '%s' (%s) has %d outputs, the operator produces at most %d",
                              n->label, n->op_type, n->n_outputs, op->n_outputs);
    if (present == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "node '%s' (%s) has no outputs", n->label,
                              n->op_type);
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Topological sort                                                                     */

/* A min-heap of node indices, so that among ready nodes the earliest in the file runs
 * first: a file that is already sorted keeps its order. */
typedef struct heap {
    int *a;
    int n;
} heap_t;

static void heap_push(heap_t *h, int v)
{
    int i = h->n++;
    h->a[i] = v;
    while (i > 0 && h->a[(i - 1) / 2] > h->a[i]) {
        int p = (i - 1) / 2, t = h->a[p];
        h->a[p] = h->a[i];
        h->a[i] = t;
        i = p;
    }
}

static int heap_pop(heap_t *h)
{
    int top = h->a[0];
    h->a[0] = h->a[--h->n];
    for (int i = 0;;) {
        int l = 2 * i + 1, r = l + 1, m = i;
        if (l < h->n && h->a[l] < h->a[m])
            m = l;
        if (r < h->n && h->a[r] < h->a[m])
            m = r;
        if (m == i)
            break;
        int t = h->a[m];
        h->a[m] = h->a[i];
        h->a[i] = t;
        i = m;
    }
    return top;
}

static inferd_status_t sort_nodes(inferd_onnx_graph_t *g, inferd_err_t *err)
{
    int n = g->n_nodes;
    if (n == 0)
        return INFERD_OK;
    /* Edges producer -> consumer as compressed rows, one per input slot. */
    int *pending = inferd_xcalloc((size_t)n, sizeof(int));
    int *start = inferd_xcalloc((size_t)n + 1, sizeof(int));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < g->nodes[i].n_inputs; j++) {
            int v = g->nodes[i].inputs[j];
            if (v >= 0 && g->values[v].producer >= 0) {
                pending[i]++;
                start[g->values[v].producer + 1]++;
            }
        }
    for (int i = 0; i < n; i++)
        start[i + 1] += start[i];
    int *edges = inferd_xcalloc((size_t)start[n] + 1, sizeof(int));
    int *fill = inferd_xcalloc((size_t)n, sizeof(int));
    for (int i = 0; i < n; i++)
        for (int j = 0; j < g->nodes[i].n_inputs; j++) {
            int v = g->nodes[i].inputs[j];
            if (v >= 0 && g->values[v].producer >= 0) {
                int p = g->values[v].producer;
                edges[start[p] + fill[p]++] = i;
            }
        }
    heap_t h = {inferd_xcalloc((size_t)n, sizeof(int)), 0};
    int *order = inferd_xcalloc((size_t)n, sizeof(int));
    int done = 0;
    for (int i = 0; i < n; i++)
        if (pending[i] == 0)
            heap_push(&h, i);
    while (h.n > 0) {
        int i = heap_pop(&h);
        order[done++] = i;
        for (int e = start[i]; e < start[i + 1]; e++)
            if (--pending[edges[e]] == 0)
                heap_push(&h, edges[e]);
    }
    inferd_status_t rc = INFERD_OK;
    if (done < n) {
        for (int i = 0; i < n; i++)
            if (pending[i] > 0) {
                rc = inferd_err_set(err, INFERD_E_INVALID_ARG,
                                    "the graph has a cycle: node '%s' (%s) depends on its own "
                                    "output",
                                    g->nodes[i].label, g->nodes[i].op_type);
                break;
            }
    } else {
        inferd_onnx_node_t *sorted = inferd_xcalloc((size_t)n, sizeof(*sorted));
        for (int k = 0; k < n; k++)
            sorted[k] = g->nodes[order[k]];
        inferd_free(g->nodes);
        g->nodes = sorted;
        for (int k = 0; k < n; k++)
            for (int j = 0; j < sorted[k].n_outputs; j++)
                if (sorted[k].outputs[j] >= 0)
                    g->values[sorted[k].outputs[j]].producer = k;
    }
    inferd_free(pending);
    inferd_free(start);
    inferd_free(edges);
    inferd_free(fill);
    inferd_free(h.a);
    inferd_free(order);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Per-node init and type propagation                                                   */

static void free_attrs(inferd_onnx_node_t *n)
{
    for (int i = 0; i < n->n_attrs; i++)
        inferd_onnx_attr_clear(&n->attrs[i]);
    inferd_free(n->attrs);
    n->attrs = NULL;
    n->n_attrs = 0;
}

/* Input slots the executor provides for a node: its inputs, padded with NULLs up to
 * the op's maximum arity. */
static int input_slots(const inferd_onnx_node_t *n)
{
    return n->op->max_inputs > n->n_inputs ? n->op->max_inputs : n->n_inputs;
}

static inferd_status_t init_node(inferd_onnx_graph_t *g, inferd_onnx_node_t *n, inferd_err_t *err)
{
    size_t ni = (size_t)n->n_inputs, no = (size_t)n->n_outputs;
    /* Slots up to the op's maximum arity exist (INVALID/NULL), so an op may look at an
     * optional input without checking n_inputs. */
    size_t slots = (size_t)input_slots(n);
    inferd_dtype_t *in_types = inferd_xcalloc(slots + 1, sizeof(*in_types));
    inferd_tensor_t **in_consts = inferd_xcalloc(slots + 1, sizeof(*in_consts));
    inferd_dtype_t *out_types = inferd_xcalloc(no, sizeof(*out_types));
    inferd_tensor_t **out_consts = inferd_xcalloc(no, sizeof(*out_consts));
    for (size_t i = 0; i < ni; i++) {
        int v = n->inputs[i];
        in_types[i] = v >= 0 ? g->values[v].dtype : INFERD_DTYPE_INVALID;
        in_consts[i] = v >= 0 ? g->values[v].constant : NULL;
    }
    inferd_onnx_init_t ic = {n, in_types, in_consts, out_types, out_consts, g};
    inferd_status_t rc = n->op->init(&ic, err);
    if (rc != INFERD_OK) {
        inferd_err_prefix(err, "node '%s' (%s, opset %lld)", n->label, n->op_type,
                          (long long)n->opset);
        goto out;
    }
    int n_const = 0, n_present = 0;
    for (size_t j = 0; j < no; j++) {
        int v = n->outputs[j];
        if (v < 0)
            continue;
        n_present++;
        n_const += out_consts[j] != NULL;
        inferd_onnx_value_t *val = &g->values[v];
        if (out_types[j] == INFERD_DTYPE_INVALID) {
            rc = inferd_err_set(err, INFERD_E_INTERNAL, "node '%s' (%s): output %zu has no type",
                                n->label, n->op_type, j);
            goto out;
        }
        if (val->declared_dtype != INFERD_DTYPE_INVALID && val->declared_dtype != out_types[j]) {
            rc = inferd_err_set(err, INFERD_E_INVALID_ARG,
                                "output '%s' is declared %s but node '%s' (%s) produces %s",
                                val->name, inferd_dtype_name(val->declared_dtype), n->label,
                                n->op_type, inferd_dtype_name(out_types[j]));
            goto out;
        }
        val->dtype = out_types[j];
    }
    if (n_const && n_const != n_present) {
        rc = inferd_err_set(err, INFERD_E_INTERNAL, "node '%s' (%s) folded only some outputs",
                            n->label, n->op_type);
        goto out;
    }
    if (n_const) {
        n->folded = true;
        for (size_t j = 0; j < no; j++) {
            if (n->outputs[j] >= 0) {
                g->values[n->outputs[j]].constant = out_consts[j];
                out_consts[j] = NULL;
            }
        }
    } else if (!n->alias && !n->compute && !n->run) {
        rc = inferd_err_set(err, INFERD_E_INTERNAL, "node '%s' (%s) has no kernel", n->label,
                            n->op_type);
    }
out:
    for (size_t j = 0; j < no; j++)
        inferd_tensor_unref(out_consts[j]);
    inferd_free(in_types);
    inferd_free(in_consts);
    inferd_free(out_types);
    inferd_free(out_consts);
    return rc;
}

inferd_status_t inferd_onnx_node_reinit(inferd_onnx_graph_t *g, inferd_onnx_node_t *n,
                                        inferd_err_t *err)
{
    if (n->free_op_data)
        n->free_op_data(n->op_data);
    else
        inferd_free(n->op_data);
    n->op_data = NULL;
    n->free_op_data = NULL;
    n->compute = NULL;
    n->alias = false;
    n->run = NULL;
    n->epilogue_done = false;
    return init_node(g, n, err);
}

inferd_status_t inferd_onnx_graph_finalize(inferd_onnx_graph_t *g, inferd_err_t *err)
{
    /* Bind operators in file order first, so that an unsupported operator is what a user
     * hears about even when the graph has other problems. */
    for (int i = 0; i < g->n_nodes; i++)
        if (bind_op(g, &g->nodes[i], err) != INFERD_OK)
            return err ? err->code : INFERD_E_UNSUPPORTED;
    if (sort_nodes(g, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    /* Attributes stay until the passes are done (a rewritten node's init reads them). */
    bool passes = inferd_onnx_passes_enabled();
    for (int i = 0; i < g->n_nodes; i++) {
        /* Gradient keeps indices into this graph's nodes: leave such graphs as written. */
        if (strcmp(g->nodes[i].op_type, "Gradient") == 0)
            passes = false;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        if (init_node(g, &g->nodes[i], err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        if (passes && !g->nodes[i].folded)
            inferd_onnx_passes_fold(g, &g->nodes[i]);
    }
    if (passes && inferd_onnx_passes_run(g, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    for (int i = 0; i < g->n_nodes; i++)
        free_attrs(&g->nodes[i]);
    if (!g->plans)
        g->plans = inferd_onnx_plans_new();

    for (int i = 0; i < g->n_nodes; i++) {
        inferd_onnx_node_t *n = &g->nodes[i];
        if (n->folded)
            continue;
        /* After the passes, which may have rewritten op_type (MatMul + Add -> Gemm). */
        inferd_free(n->run_label);
        size_t len = strlen(n->op_type) + 1 + strlen(n->name) + 1;
        n->run_label = inferd_xmalloc(len);
        if (*n->name)
            snprintf(n->run_label, len, "%s/%s", n->op_type, n->name);
        else
            snprintf(n->run_label, len, "%s", n->op_type);
        if (input_slots(n) > g->max_node_inputs)
            g->max_node_inputs = input_slots(n);
        /* An op's reshape may fill every output it can produce (LayerNormalization's
         * Mean and InvStdDev), not only those the node names. */
        int outs = n->op->n_outputs > n->n_outputs ? n->op->n_outputs : n->n_outputs;
        if (outs > g->max_node_outputs)
            g->max_node_outputs = outs;
        for (int j = 0; j < n->n_inputs; j++) {
            int v = n->inputs[j];
            if (v >= 0 && !g->values[v].constant)
                g->values[v].uses++;
        }
    }
    for (int j = 0; j < g->n_outputs; j++) {
        inferd_onnx_value_t *v = &g->values[g->outputs[j]];
        if (v->dtype == INFERD_DTYPE_INVALID)
            return inferd_err_set(err, INFERD_E_INTERNAL, "output '%s' has no type", v->name);
    }
    return INFERD_OK;
}

void inferd_onnx_node_clear(inferd_onnx_node_t *n)
{
    inferd_free(n->name);
    inferd_free(n->op_type);
    inferd_free(n->domain);
    inferd_free(n->label);
    inferd_free(n->run_label);
    inferd_free(n->inputs);
    inferd_free(n->outputs);
    free_attrs(n);
    if (n->free_op_data)
        n->free_op_data(n->op_data);
    else
        inferd_free(n->op_data);
    memset(n, 0, sizeof(*n));
}

void inferd_onnx_graph_destroy(inferd_onnx_graph_t *g)
{
    if (!g)
        return;
    for (int i = 0; i < g->n_values; i++) {
        inferd_free(g->values[i].name);
        inferd_tensor_unref(g->values[i].constant);
    }
    inferd_free(g->values);
    for (int i = 0; i < g->n_nodes; i++)
        inferd_onnx_node_clear(&g->nodes[i]);
    inferd_onnx_plans_free(g->plans);
    inferd_free(g->captures);
    inferd_free(g->nodes);
    inferd_free(g->inputs);
    inferd_free(g->outputs);
    for (int i = 0; i < g->n_opsets; i++)
        inferd_free(g->opsets[i].domain);
    inferd_free(g->opsets);
    inferd_free(g->path);
    inferd_free(g);
}
