/* Graph passes at load: rewrites that keep a graph's results (up to the float rounding of
 * a folded BatchNormalization) while making it cheaper to run.
 *
 * - Constant folding runs inside finalization, right after each node's init, so a node's
 *   result is a constant by the time its consumers are initialized: a node whose inputs
 *   are all constants is computed once with its own kernel, and Shape/Size of a graph
 *   input whose declared dims are all fixed become constants too (the run checks inputs
 *   against those dims). That collapses the Shape -> Gather -> Unsqueeze -> Concat ->
 *   Reshape plumbing of exports with fixed shapes; a symbolic dim keeps it at run time.
 * - After every node is initialized: Identity/Dropout/Cast elimination,
 *   Conv+BatchNormalization folding, MatMul+Add(bias) -> Gemm, Conv+Add(residual) -> Conv
 *   with the addend as input 3 (bit-identical; the planner may then write the output over
 *   the addend), activation fusion into Gemm/MatMul/Conv/Add (the node's epilogue), and
 *   removal of dead and folded nodes with the constants only they read.
 *
 * A rewritten node runs its op's init again (inferd_onnx_node_reinit) so its kernel
 * binding sees the new inputs and epilogue. Values read by control-flow bodies are
 * implicit inputs of their node, so they count as uses like any other. */
#include <float.h>
#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "backends/onnx/ops/ops.h"
#include "backends/onnx/passes.h"
#include "core/alloc.h"
#include "obs/log.h"

/* The most a folded node may produce: folding moves per-run work to load, but not at any
 * memory price. */
#define FOLD_MAX_BYTES ((uint64_t)64 << 20)

/* On unless INFERD_ONNX_PASSES=0 (for side-by-side measurements) or switched off. */
static atomic_int passes_on = -1;

void inferd_onnx_set_passes(bool on)
{
    atomic_store(&passes_on, on);
}

bool inferd_onnx_passes_enabled(void)
{
    int on = atomic_load(&passes_on);
    if (on < 0) {
        const char *e = getenv("INFERD_ONNX_PASSES");
        on = !(e && strcmp(e, "0") == 0);
        atomic_store(&passes_on, on);
    }
    return on;
}

static bool is(const inferd_onnx_node_t *n, const char *op_type)
{
    return n->domain[0] == '\0' && strcmp(n->op_type, op_type) == 0;
}

/* ------------------------------------------------------------------------------------ */
/* Constant folding                                                                     */

/* Ops whose result is not a function of their inputs. */
static bool is_random(const inferd_onnx_node_t *n)
{
    static const char *const ops[] = {
        "RandomNormal", "RandomUniform", "RandomNormalLike", "RandomUniformLike",
        "Multinomial",  "Bernoulli",     "Dropout"};
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(n->op_type, ops[i]) == 0)
            return true;
    return false;
}

/* Shape or Size of a graph input with fixed declared dims. */
static bool fold_static_shape(inferd_onnx_graph_t *g, inferd_onnx_node_t *n)
{
    bool shape = is(n, "Shape"), size = is(n, "Size");
    if ((!shape && !size) || n->n_outputs < 1 || n->outputs[0] < 0 || n->inputs[0] < 0)
        return false;
    const inferd_onnx_value_t *x = &g->values[n->inputs[0]];
    inferd_onnx_value_t *y = &g->values[n->outputs[0]];
    if (x->input_index < 0 || x->ndim < 0 || y->dtype != INFERD_DTYPE_INT64)
        return false;
    for (int d = 0; d < x->ndim; d++)
        if (x->dims[d] < 0)
            return false;
    int64_t vals[INFERD_MAX_DIMS];
    int count = 0;
    if (shape) {
        int64_t start = 0, end = x->ndim;
        if (n->opset >= 15 && (inferd_onnx_attr_int(n, "start", 0, &start, NULL) != INFERD_OK ||
                               inferd_onnx_attr_int(n, "end", x->ndim, &end, NULL) != INFERD_OK))
            return false;
        if (start < 0)
            start += x->ndim;
        if (end < 0)
            end += x->ndim;
        start = start < 0 ? 0 : start > x->ndim ? x->ndim : start;
        end = end < 0 ? 0 : end > x->ndim ? x->ndim : end;
        for (int64_t d = start; d < end; d++)
            vals[count++] = x->dims[d];
    } else {
        vals[0] = inferd_onnx_dims_prod(x->dims, 0, x->ndim);
    }
    int64_t dims[1] = {count};
    inferd_tensor_t *t =
        inferd_tensor_create(INFERD_DTYPE_INT64, dims, shape ? 1 : 0, 0, INFERD_OWNER_MODEL, NULL);
    if (!t)
        return false;
    if (t->nbytes)
        memcpy(t->data, vals, t->nbytes);
    y->constant = t;
    n->folded = true;
    return true;
}

bool inferd_onnx_passes_fold(inferd_onnx_graph_t *g, inferd_onnx_node_t *n)
{
    if (n->folded || n->run || n->n_implicit || !n->op || n->n_inputs == 0 || n->domain[0] ||
        is_random(n))
        return false;
    if (fold_static_shape(g, n)) {
        g->pass_stats.folded++;
        return true;
    }
    if (!n->compute && !n->alias)
        return false;
    for (int j = 0; j < n->n_inputs; j++) {
        int v = n->inputs[j];
        if (v >= 0 && (!g->values[v].constant || INFERD_ONNX_IS_SEQ(g->values[v].dtype)))
            return false;
    }
    for (int j = 0; j < n->n_outputs; j++)
        if (n->outputs[j] >= 0 && INFERD_ONNX_IS_SEQ(g->values[n->outputs[j]].dtype))
            return false;
    int slots = n->op->max_inputs > n->n_inputs ? n->op->max_inputs : n->n_inputs;
    inferd_tensor_t **in = inferd_xcalloc((size_t)slots + 1, sizeof(*in));
    /* reshape may fill every output the op can produce, named or not. */
    int outs = n->op->n_outputs > n->n_outputs ? n->op->n_outputs : n->n_outputs;
    inferd_tensor_t **out = inferd_xcalloc((size_t)outs, sizeof(*out));
    inferd_onnx_shape_t *shapes = inferd_xcalloc((size_t)outs, sizeof(*shapes));
    for (int j = 0; j < n->n_inputs; j++)
        in[j] = n->inputs[j] >= 0 ? g->values[n->inputs[j]].constant : NULL;
    inferd_err_t e = {0};
    bool ok = n->op->reshape(n, in, shapes, &e) == INFERD_OK;
    uint64_t total = 0;
    for (int j = 0; ok && j < n->n_outputs; j++) {
        int v = n->outputs[j];
        if (v < 0)
            continue;
        inferd_dtype_t dt = g->values[v].dtype;
        uint64_t numel;
        if (inferd_shape_numel(shapes[j].dims, shapes[j].ndim, FOLD_MAX_BYTES, &numel, NULL) !=
            INFERD_OK) {
            ok = false;
            break;
        }
        total += dt == INFERD_DTYPE_BYTES ? shapes[j].nbytes : numel * inferd_dtype_size(dt);
        ok = total <= FOLD_MAX_BYTES;
    }
    for (int j = 0; ok && j < n->n_outputs; j++) {
        int v = n->outputs[j];
        if (v < 0)
            continue;
        const inferd_onnx_shape_t *s = &shapes[j];
        inferd_dtype_t dt = g->values[v].dtype;
        if (n->alias && j == 0)
            out[j] = inferd_tensor_view(in[0], 0, dt, s->dims, s->ndim, in[0]->nbytes, NULL);
        else
            out[j] =
                inferd_tensor_create(dt, s->dims, s->ndim, dt == INFERD_DTYPE_BYTES ? s->nbytes : 0,
                                     INFERD_OWNER_MODEL, NULL);
        ok = out[j] != NULL;
    }
    if (ok && n->compute)
        ok = n->compute(n, in, out, &e) == INFERD_OK;
    for (int j = 0; j < n->n_outputs; j++) {
        if (ok && n->outputs[j] >= 0)
            g->values[n->outputs[j]].constant = out[j];
        else
            inferd_tensor_unref(out[j]);
    }
    if (ok) {
        n->folded = true;
        g->pass_stats.folded++;
    }
    inferd_free(in);
    inferd_free(out);
    inferd_free(shapes);
    return ok;
}

/* ------------------------------------------------------------------------------------ */
/* Structural passes                                                                    */

typedef struct pass {
    inferd_onnx_graph_t *g;
    bool *dead; /* per node: removed by a pass */
    int *uses;  /* per value: input slots of live, unfolded nodes that read it */
} pass_t;

static bool live(const pass_t *p, int i)
{
    return !p->dead[i] && !p->g->nodes[i].folded;
}

static void count_uses(pass_t *p)
{
    inferd_onnx_graph_t *g = p->g;
    memset(p->uses, 0, (size_t)g->n_values * sizeof(int));
    for (int i = 0; i < g->n_nodes; i++) {
        if (!live(p, i))
            continue;
        for (int j = 0; j < g->nodes[i].n_inputs; j++)
            if (g->nodes[i].inputs[j] >= 0)
                p->uses[g->nodes[i].inputs[j]]++;
    }
}

/* v is an intermediate that only node `reader` reads (so it may disappear into it). */
static bool private_to_one(const pass_t *p, int v)
{
    const inferd_onnx_value_t *val = &p->g->values[v];
    return p->uses[v] == 1 && !val->is_output && !val->constant && val->input_index < 0;
}

/* Outputs of n other than output 0 are absent or unread. */
static bool only_output0(const pass_t *p, const inferd_onnx_node_t *n)
{
    for (int j = 1; j < n->n_outputs; j++) {
        int v = n->outputs[j];
        if (v >= 0 && (p->uses[v] || p->g->values[v].is_output))
            return false;
    }
    return n->outputs[0] >= 0;
}

static const inferd_tensor_t *const_f32(const inferd_onnx_graph_t *g, const inferd_onnx_node_t *n,
                                        int slot)
{
    if (slot >= n->n_inputs || n->inputs[slot] < 0)
        return NULL;
    const inferd_tensor_t *t = g->values[n->inputs[slot]].constant;
    return t && t->dtype == INFERD_DTYPE_FP32 ? t : NULL;
}

/* Node k (the producer of value `from`) now produces `to` instead: the node that
 * produced `to` is gone. */
static void move_output(inferd_onnx_graph_t *g, int k, int from, int to)
{
    inferd_onnx_node_t *n = &g->nodes[k];
    for (int j = 0; j < n->n_outputs; j++)
        if (n->outputs[j] == from)
            n->outputs[j] = to;
    g->values[to].producer = k;
    g->values[from].producer = -1;
}

/* A new FP32 constant value (the graph owns t). */
static int add_constant(inferd_onnx_graph_t *g, const char *base, const char *suffix,
                        inferd_tensor_t *t)
{
    g->values = inferd_xrealloc(g->values, ((size_t)g->n_values + 1) * sizeof(*g->values));
    inferd_onnx_value_t *v = &g->values[g->n_values];
    memset(v, 0, sizeof(*v));
    size_t len = strlen(base) + strlen(suffix) + 1;
    v->name = inferd_xcalloc(len, 1);
    memcpy(v->name, base, strlen(base));
    memcpy(v->name + strlen(base), suffix, strlen(suffix));
    v->dtype = t->dtype;
    v->ndim = -1;
    v->declared_dtype = INFERD_DTYPE_INVALID;
    v->constant = t;
    v->input_index = -1;
    v->producer = -1;
    return g->n_values++;
}

/* Identity, a Cast to the input's own type, and a Dropout that can never train (their
 * init made them aliases), whose output is not a graph output: readers read the input
 * instead. */
static void eliminate_identities(pass_t *p)
{
    inferd_onnx_graph_t *g = p->g;
    for (int i = 0; i < g->n_nodes; i++) {
        inferd_onnx_node_t *n = &g->nodes[i];
        if (!live(p, i) || !n->alias ||
            !(is(n, "Identity") || is(n, "Dropout") || is(n, "Cast") || is(n, "CastLike")))
            continue;
        int x = n->inputs[0], y = n->outputs[0];
        if (x < 0 || !only_output0(p, n) || g->values[y].is_output ||
            g->values[x].dtype != g->values[y].dtype)
            continue;
        for (int k = 0; k < g->n_nodes; k++) {
            if (!live(p, k))
                continue;
            for (int j = 0; j < g->nodes[k].n_inputs; j++)
                if (g->nodes[k].inputs[j] == y)
                    g->nodes[k].inputs[j] = x;
        }
        p->dead[i] = true;
        g->values[y].producer = -1;
        g->pass_stats.removed++;
    }
}

/* Conv -> BatchNormalization (inference) with constant FP32 parameters and weights: the
 * BN is folded into new weights and bias, s = scale / sqrt(var + eps), W' = W * s per
 * output channel, b' = (b - mean) * s + B. */
static inferd_status_t fold_conv_bn(pass_t *p, inferd_err_t *err)
{
    inferd_onnx_graph_t *g = p->g;
    for (int i = 0; i < g->n_nodes; i++) {
        inferd_onnx_node_t *bn = &g->nodes[i];
        if (!live(p, i) || !is(bn, "BatchNormalization") || bn->n_inputs != 5 ||
            !only_output0(p, bn))
            continue;
        int64_t training = 0, spatial = 1;
        float eps = 1e-5f;
        if (inferd_onnx_attr_int(bn, "training_mode", 0, &training, NULL) != INFERD_OK ||
            inferd_onnx_attr_int(bn, "spatial", 1, &spatial, NULL) != INFERD_OK ||
            inferd_onnx_attr_float(bn, "epsilon", 1e-5f, &eps, NULL) != INFERD_OK || training ||
            (bn->opset < 9 && spatial != 1))
            continue;
        int x = bn->inputs[0];
        if (x < 0 || !private_to_one(p, x) || g->values[x].producer < 0)
            continue;
        int k = g->values[x].producer;
        inferd_onnx_node_t *conv = &g->nodes[k];
        if (!live(p, k) || !is(conv, "Conv") || conv->outputs[0] != x ||
            conv->epilogue.kind != INFERD_ONNX_ACT_NONE)
            continue;
        const inferd_tensor_t *w = const_f32(g, conv, 1), *b = const_f32(g, conv, 2);
        if (!w || w->ndim < 3 || (conv->n_inputs > 2 && conv->inputs[2] >= 0 && !b))
            continue;
        int64_t m = w->dims[0];
        const inferd_tensor_t *prm[4];
        bool ok = true;
        for (int j = 0; j < 4; j++) {
            prm[j] = const_f32(g, bn, j + 1);
            ok = ok && prm[j] && prm[j]->ndim == 1 && prm[j]->dims[0] == m;
        }
        if (!ok || (b && (b->ndim != 1 || b->dims[0] != m)))
            continue;
        const float *scale = prm[0]->data, *shift = prm[1]->data, *mean = prm[2]->data,
                    *var = prm[3]->data;
        inferd_tensor_t *w2 =
            inferd_tensor_create(INFERD_DTYPE_FP32, w->dims, w->ndim, 0, INFERD_OWNER_MODEL, err);
        inferd_tensor_t *b2 =
            w2 ? inferd_tensor_create(INFERD_DTYPE_FP32, &m, 1, 0, INFERD_OWNER_MODEL, err) : NULL;
        if (!b2) {
            inferd_tensor_unref(w2);
            return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
        }
        uint64_t per = inferd_tensor_numel(w) / (uint64_t)(m ? m : 1);
        for (int64_t c = 0; c < m; c++) {
            double s = (double)scale[c] / sqrt((double)var[c] + (double)eps);
            for (uint64_t e = 0; e < per; e++)
                ((float *)w2->data)[(uint64_t)c * per + e] =
                    (float)((double)((const float *)w->data)[(uint64_t)c * per + e] * s);
            double bias = b ? (double)((const float *)b->data)[c] : 0.0;
            ((float *)b2->data)[c] = (float)((bias - (double)mean[c]) * s + (double)shift[c]);
        }
        const char *base = g->values[bn->outputs[0]].name;
        int vw = add_constant(g, base, "/conv_bn_W", w2);
        int vb = add_constant(g, base, "/conv_bn_B", b2);
        conv = &g->nodes[k]; /* (nodes did not move; values did) */
        if (conv->n_inputs < 3) {
            conv->inputs = inferd_xrealloc(conv->inputs, 3 * sizeof(int));
            conv->n_inputs = 3;
        }
        conv->inputs[1] = vw;
        conv->inputs[2] = vb;
        move_output(g, k, x, bn->outputs[0]);
        p->dead[i] = true;
        g->pass_stats.conv_bn++;
        if (inferd_onnx_node_reinit(g, conv, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INTERNAL;
    }
    return INFERD_OK;
}

/* Ranks known at load: constants, declared graph inputs, and what a few ops make of
 * them (enough for MLP-style graphs). -1 when unknown. */
static void static_ranks(const pass_t *p, int *rank)
{
    const inferd_onnx_graph_t *g = p->g;
    for (int v = 0; v < g->n_values; v++) {
        const inferd_onnx_value_t *val = &g->values[v];
        rank[v] = val->constant ? val->constant->ndim : val->input_index >= 0 ? val->ndim : -1;
    }
    static const char *const same[] = {"Relu", "Sigmoid",     "Tanh",    "LeakyRelu", "Clip",
                                       "Elu",  "HardSigmoid", "Softmax", "Identity",  "Dropout",
                                       "Cast", "Erf",         "Softplus"};
    for (int i = 0; i < g->n_nodes; i++) {
        const inferd_onnx_node_t *n = &g->nodes[i];
        if (!live(p, i) || n->n_inputs < 1 || n->outputs[0] < 0 || n->domain[0])
            continue;
        int r = -1, a = n->inputs[0] >= 0 ? rank[n->inputs[0]] : -1;
        int b = n->n_inputs > 1 && n->inputs[1] >= 0 ? rank[n->inputs[1]] : -1;
        const inferd_tensor_t *shape =
            n->n_inputs > 1 && n->inputs[1] >= 0 ? g->values[n->inputs[1]].constant : NULL;
        if (is(n, "Gemm") || is(n, "Flatten"))
            r = 2;
        else if (is(n, "Reshape") && shape && shape->ndim == 1)
            r = (int)shape->dims[0];
        else if (is(n, "Transpose"))
            r = a;
        else if (is(n, "MatMul") && a == 2 && b == 2)
            r = 2;
        else if ((is(n, "Add") || is(n, "Sub") || is(n, "Mul") || is(n, "Div")) && a >= 0 && b >= 0)
            r = a > b ? a : b;
        else
            for (size_t k = 0; k < sizeof(same) / sizeof(same[0]); k++)
                if (is(n, same[k]))
                    r = a;
        if (r >= 0 && n->n_outputs >= 1)
            rank[n->outputs[0]] = r;
    }
}

/* Node i is a live Add of two given inputs with one FP32 output: what the Add fusions
 * start from. */
static bool fp32_add(const pass_t *p, int i)
{
    const inferd_onnx_node_t *add = &p->g->nodes[i];
    return live(p, i) && is(add, "Add") && add->n_inputs == 2 && add->inputs[0] >= 0 &&
           add->inputs[1] >= 0 && add->n_outputs == 1 && add->outputs[0] >= 0 &&
           p->g->values[add->outputs[0]].dtype == INFERD_DTYPE_FP32;
}

/* MatMul(A 2-D, B constant 2-D [K,N]) -> Add(constant bias [N] or [1,N]) becomes one
 * Gemm with C = bias. */
static inferd_status_t matmul_add_to_gemm(pass_t *p, inferd_err_t *err)
{
    inferd_onnx_graph_t *g = p->g;
    int *rank = inferd_xcalloc((size_t)g->n_values + 1, sizeof(int));
    static_ranks(p, rank);
    inferd_status_t rc = INFERD_OK;
    for (int i = 0; i < g->n_nodes && rc == INFERD_OK; i++) {
        inferd_onnx_node_t *add = &g->nodes[i];
        if (!fp32_add(p, i))
            continue;
        for (int side = 0; side < 2; side++) {
            int m = add->inputs[side], c = add->inputs[1 - side];
            int k = g->values[m].producer;
            if (!private_to_one(p, m) || k < 0 || !live(p, k) || !is(&g->nodes[k], "MatMul"))
                continue;
            inferd_onnx_node_t *mm = &g->nodes[k];
            const inferd_tensor_t *bw = const_f32(g, mm, 1), *bias = g->values[c].constant;
            int a = mm->inputs[0];
            if (!bw || bw->ndim != 2 || rank[a] != 2 || g->values[a].dtype != INFERD_DTYPE_FP32 ||
                !bias || bias->dtype != INFERD_DTYPE_FP32)
                continue;
            int64_t n = bw->dims[1];
            if (!((bias->ndim == 1 && bias->dims[0] == n) ||
                  (bias->ndim == 2 && bias->dims[0] == 1 && bias->dims[1] == n)))
                continue;
            const inferd_onnx_op_t *gemm = inferd_onnx_op_find("", "Gemm", mm->opset);
            if (!gemm || gemm->since_version < 7)
                continue;
            inferd_free(mm->op_type);
            mm->op_type = inferd_xstrdup("Gemm");
            mm->op = gemm;
            mm->inputs = inferd_xrealloc(mm->inputs, 3 * sizeof(int));
            mm->n_inputs = 3;
            mm->inputs[2] = c;
            move_output(g, k, m, add->outputs[0]);
            p->dead[i] = true;
            g->pass_stats.gemm++;
            if (inferd_onnx_node_reinit(g, mm, err) != INFERD_OK)
                rc = err ? err->code : INFERD_E_INTERNAL;
            break;
        }
    }
    inferd_free(rank);
    return rc;
}

/* Add(Conv(X, W, B), S), or Add(S, Conv(...)), FP32, where the Conv's output is read by
 * this Add only: the Conv takes S as input 3 (node->residual) and computes
 * act(conv + B + S) in its epilogue (the same roundings as the two nodes, in the same
 * order), and the Add goes away. The Conv moves to the Add's place in the node order (its
 * inputs are ready there, S may not be where the Conv was), so the memory planner can let
 * its output take over S's block when S dies there: one full-size activation fewer live
 * in a ResNet block. S must be an intermediate other than X (a graph input or a constant
 * can never be overwritten, so those are left to the Add), W a constant and group 1 (the
 * kernels with the epilogue; depthwise writes Y early), and S's rank, where known at load,
 * the Conv's. Dims are mostly not known at load: the Conv checks S's shape at run time and
 * adds it apart, broadcasting, when it differs (then nothing is written in place). */
static inferd_status_t fuse_conv_add(pass_t *p, inferd_err_t *err)
{
    inferd_onnx_graph_t *g = p->g;
    int *rank = inferd_xcalloc((size_t)g->n_values + 1, sizeof(int));
    static_ranks(p, rank);
    inferd_status_t rc = INFERD_OK;
    for (int i = 0; i < g->n_nodes && rc == INFERD_OK; i++) {
        inferd_onnx_node_t *add = &g->nodes[i];
        if (!fp32_add(p, i) || add->epilogue.kind != INFERD_ONNX_ACT_NONE)
            continue;
        for (int side = 0; side < 2; side++) {
            int y = add->inputs[side], sv = add->inputs[1 - side];
            int k = g->values[y].producer;
            const inferd_onnx_value_t *s = &g->values[sv];
            if (y == sv || !private_to_one(p, y) || k < 0 || k >= i || !live(p, k) || s->constant ||
                s->input_index >= 0 || s->dtype != INFERD_DTYPE_FP32)
                continue;
            inferd_onnx_node_t *conv = &g->nodes[k];
            int64_t group = 1;
            if (!is(conv, "Conv") || !conv->compute || conv->outputs[0] != y ||
                !only_output0(p, conv) || conv->residual ||
                conv->epilogue.kind != INFERD_ONNX_ACT_NONE || conv->inputs[0] == sv ||
                (conv->n_inputs > 2 && conv->inputs[2] == sv) || !const_f32(g, conv, 1) ||
                inferd_onnx_attr_int(conv, "group", 1, &group, NULL) != INFERD_OK || group != 1 ||
                (rank[sv] >= 0 && rank[sv] != g->values[conv->inputs[1]].constant->ndim))
                continue;
            conv->inputs = inferd_xrealloc(conv->inputs, 4 * sizeof(int));
            for (int j = conv->n_inputs; j < 3; j++)
                conv->inputs[j] = -1;
            conv->inputs[3] = sv;
            conv->n_inputs = 4;
            conv->residual = true;
            move_output(g, k, y, add->outputs[0]);
            /* The Conv takes the Add's slot; the Add (dead) takes the Conv's. */
            inferd_onnx_node_t tmp = g->nodes[k];
            g->nodes[k] = g->nodes[i];
            g->nodes[i] = tmp;
            p->dead[k] = true;
            g->values[g->nodes[i].outputs[0]].producer = i;
            p->uses[y]--;
            g->pass_stats.conv_add++;
            if (inferd_onnx_node_reinit(g, &g->nodes[i], err) != INFERD_OK)
                rc = err ? err->code : INFERD_E_INTERNAL;
            break;
        }
    }
    inferd_free(rank);
    return rc;
}

/* The activation node n as an epilogue, if it is one the executor and kernels know. */
static bool activation_of(const inferd_onnx_graph_t *g, const inferd_onnx_node_t *n,
                          inferd_onnx_act_t *a)
{
    memset(a, 0, sizeof(*a));
    if (n->domain[0] || n->n_inputs < 1)
        return false;
    if (is(n, "Relu")) {
        a->kind = INFERD_ONNX_ACT_RELU;
    } else if (is(n, "Sigmoid")) {
        a->kind = INFERD_ONNX_ACT_SIGMOID;
    } else if (is(n, "Tanh")) {
        a->kind = INFERD_ONNX_ACT_TANH;
    } else if (is(n, "LeakyRelu")) {
        a->kind = INFERD_ONNX_ACT_LEAKY_RELU;
        return inferd_onnx_attr_float(n, "alpha", 0.01f, &a->alpha, NULL) == INFERD_OK;
    } else if (is(n, "HardSigmoid")) {
        a->kind = INFERD_ONNX_ACT_HARD_SIGMOID;
        return inferd_onnx_attr_float(n, "alpha", 0.2f, &a->alpha, NULL) == INFERD_OK &&
               inferd_onnx_attr_float(n, "beta", 0.5f, &a->beta, NULL) == INFERD_OK;
    } else if (is(n, "Clip")) {
        a->kind = INFERD_ONNX_ACT_CLIP;
        if (n->opset < 11)
            return inferd_onnx_attr_float(n, "min", -FLT_MAX, &a->alpha, NULL) == INFERD_OK &&
                   inferd_onnx_attr_float(n, "max", FLT_MAX, &a->beta, NULL) == INFERD_OK;
        a->alpha = -INFINITY;
        a->beta = INFINITY;
        for (int j = 1; j <= 2 && j < n->n_inputs; j++) {
            if (n->inputs[j] < 0)
                continue;
            const inferd_tensor_t *t = const_f32(g, n, j);
            if (!t || inferd_tensor_numel(t) != 1)
                return false;
            *(j == 1 ? &a->alpha : &a->beta) = *(const float *)t->data;
        }
    } else {
        return false;
    }
    return true;
}

/* Gemm/MatMul/Conv, or an Add (the residual Add + Relu of ResNets), with an FP32 output
 * only an activation reads: the activation becomes the node's epilogue and its node goes
 * away. */
static inferd_status_t fuse_activations(pass_t *p, inferd_err_t *err)
{
    inferd_onnx_graph_t *g = p->g;
    for (int i = 0; i < g->n_nodes; i++) {
        inferd_onnx_node_t *act = &g->nodes[i];
        inferd_onnx_act_t a;
        if (!live(p, i) || !activation_of(g, act, &a) || !only_output0(p, act))
            continue;
        int x = act->inputs[0], k = x >= 0 ? g->values[x].producer : -1;
        if (k < 0 || !live(p, k) || !private_to_one(p, x) ||
            g->values[x].dtype != INFERD_DTYPE_FP32)
            continue;
        inferd_onnx_node_t *prod = &g->nodes[k];
        if (!(is(prod, "Gemm") || is(prod, "MatMul") || is(prod, "Conv") || is(prod, "Add")) ||
            prod->outputs[0] != x || prod->epilogue.kind != INFERD_ONNX_ACT_NONE || !prod->compute)
            continue;
        prod->epilogue = a;
        move_output(g, k, x, act->outputs[0]);
        p->dead[i] = true;
        g->pass_stats.fused++;
        if (inferd_onnx_node_reinit(g, prod, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INTERNAL;
    }
    return INFERD_OK;
}

/* Nodes no graph output depends on, and folded nodes, leave the node list; constants no
 * remaining node reads are dropped. */
static void remove_dead(pass_t *p)
{
    inferd_onnx_graph_t *g = p->g;
    bool *need = inferd_xcalloc((size_t)g->n_values + 1, sizeof(bool));
    for (int j = 0; j < g->n_outputs; j++)
        need[g->outputs[j]] = true;
    for (int i = g->n_nodes - 1; i >= 0; i--) {
        inferd_onnx_node_t *n = &g->nodes[i];
        if (!live(p, i))
            continue;
        bool wanted = false;
        for (int j = 0; j < n->n_outputs && !wanted; j++)
            wanted = n->outputs[j] >= 0 && need[n->outputs[j]];
        if (!wanted) {
            p->dead[i] = true;
            g->pass_stats.removed++;
            continue;
        }
        for (int j = 0; j < n->n_inputs; j++)
            if (n->inputs[j] >= 0)
                need[n->inputs[j]] = true;
    }
    int kept = 0;
    for (int i = 0; i < g->n_nodes; i++) {
        if (!live(p, i)) {
            inferd_onnx_node_clear(&g->nodes[i]);
            continue;
        }
        g->nodes[kept++] = g->nodes[i];
    }
    g->n_nodes = kept;
    for (int v = 0; v < g->n_values; v++)
        g->values[v].producer = -1;
    for (int i = 0; i < g->n_nodes; i++)
        for (int j = 0; j < g->nodes[i].n_outputs; j++)
            if (g->nodes[i].outputs[j] >= 0)
                g->values[g->nodes[i].outputs[j]].producer = i;
    for (int v = 0; v < g->n_values; v++) {
        inferd_onnx_value_t *val = &g->values[v];
        if (val->constant && !need[v] && !val->is_output && val->input_index < 0) {
            inferd_tensor_unref(val->constant);
            val->constant = NULL;
        }
    }
    inferd_free(need);
}

inferd_status_t inferd_onnx_passes_run(inferd_onnx_graph_t *g, inferd_err_t *err)
{
    pass_t p = {g, inferd_xcalloc((size_t)g->n_nodes + 1, sizeof(bool)), NULL};
    /* add_constant grows g->values: size the use counts for what the passes may add. */
    p.uses = inferd_xcalloc((size_t)g->n_values + 2 * (size_t)g->n_nodes + 1, sizeof(int));
    inferd_status_t rc = INFERD_OK;
    count_uses(&p);
    eliminate_identities(&p);
    count_uses(&p);
    rc = fold_conv_bn(&p, err);
    if (rc == INFERD_OK) {
        count_uses(&p);
        rc = matmul_add_to_gemm(&p, err);
    }
    if (rc == INFERD_OK) {
        count_uses(&p);
        rc = fuse_conv_add(&p, err);
    }
    if (rc == INFERD_OK) {
        count_uses(&p);
        rc = fuse_activations(&p, err);
    }
    if (rc == INFERD_OK)
        remove_dead(&p);
    inferd_free(p.dead);
    inferd_free(p.uses);
    const inferd_onnx_pass_stats_t *s = &g->pass_stats;
    if (rc == INFERD_OK &&
        (s->folded || s->conv_bn || s->gemm || s->conv_add || s->fused || s->removed) &&
        inferd_log_enabled(INFERD_LOG_VERBOSE))
        inferd_log(INFERD_LOG_VERBOSE,
                   "onnx passes (%s): folded %d, %d conv+bn, %d matmul+add->gemm, %d "
                   "conv+add, fused %d activations, removed %d",
                   g->path ? g->path : "subgraph", s->folded, s->conv_bn, s->gemm, s->conv_add,
                   s->fused, s->removed);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Epilogues                                                                            */

/* The same expressions as the standalone kernels (activation.c, unary.c), so a fused
 * activation gives the same values. */
void inferd_onnx_act_apply(const inferd_onnx_act_t *a, float *x, size_t n)
{
    const float al = a->alpha, be = a->beta;
    switch (a->kind) {
    case INFERD_ONNX_ACT_NONE: break;
    case INFERD_ONNX_ACT_RELU:
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        break;
    case INFERD_ONNX_ACT_LEAKY_RELU:
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] < 0 ? al * x[i] : x[i];
        break;
    case INFERD_ONNX_ACT_CLIP:
        for (size_t i = 0; i < n; i++)
            x[i] = x[i] < al ? al : x[i] > be ? be : x[i];
        break;
    case INFERD_ONNX_ACT_SIGMOID:
        for (size_t i = 0; i < n; i++)
            x[i] = 1.0f / (1.0f + expf(-x[i]));
        break;
    case INFERD_ONNX_ACT_TANH:
        for (size_t i = 0; i < n; i++)
            x[i] = tanhf(x[i]);
        break;
    case INFERD_ONNX_ACT_HARD_SIGMOID:
        for (size_t i = 0; i < n; i++)
            x[i] = (float)fmax(0.0f, fmin(1.0f, al * x[i] + be));
        break;
    }
}
