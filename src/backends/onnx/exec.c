/* The executor: runs a finalized graph once on a set of input tensors.
 *
 * All per-run state (the tensor of every value, remaining use counts, scratch arrays)
 * lives in one allocation owned by the call, so any number of threads may run the same
 * graph at once. Each scheduled node goes through reshape (output shapes from the actual
 * inputs), output allocation (INFERD_OWNER_ARENA tensors, or a view of input 0 for alias
 * ops), and compute. A value is released as soon as its last reader has run; graph
 * outputs are kept to the end. The request context is checked before every node, and
 * ctx->current_op names the running node for the crash report and /debug.
 *
 * Memory: when the graph has a plan for the inputs' shapes (plan.c), the run allocates
 * one arena of the planned peak and each planned intermediate is a view at its offset;
 * anything unplanned, or larger than planned, is its own INFERD_OWNER_ARENA tensor. A run
 * without a plan records the sizes it saw so that the next run with these shapes has
 * one. A node with a fused activation (node->epilogue) that its kernel does not apply
 * gets it applied here, in place, after compute. */
#include "backends/onnx/graph.h"

#include <string.h>

#include "backends/onnx/kernels/simd_f32.h"
#include "backends/onnx/ops/ops.h"
#include "backends/onnx/passes.h"
#include "core/alloc.h"
#include "core/pool.h"

static inferd_status_t check_inputs(const inferd_onnx_graph_t *g, inferd_tensor_t *const *inputs,
                                    inferd_err_t *err)
{
    for (int i = 0; i < g->n_inputs; i++) {
        const inferd_onnx_value_t *v = &g->values[g->inputs[i]];
        const inferd_tensor_t *t = inputs[i];
        if (!t)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "input '%s' is missing", v->name);
        if (t->dtype != v->dtype)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "input '%s': expected %s, got %s",
                                  v->name, inferd_dtype_name(v->dtype),
                                  inferd_dtype_name(t->dtype));
        if (v->ndim < 0)
            continue;
        char want[160], got[160];
        if (t->ndim != v->ndim)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "input '%s': expected rank %d, got shape %s", v->name, v->ndim,
                                  inferd_onnx_dims_str(t->dims, t->ndim, got, sizeof(got)));
        for (int d = 0; d < v->ndim; d++)
            if (v->dims[d] >= 0 && t->dims[d] != v->dims[d])
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "input '%s': expected shape %s, got %s", v->name,
                                      inferd_onnx_dims_str(v->dims, v->ndim, want, sizeof(want)),
                                      inferd_onnx_dims_str(t->dims, t->ndim, got, sizeof(got)));
    }
    return INFERD_OK;
}

/* Per-run state, carved from one allocation. */
typedef struct run {
    inferd_tensor_t **vals;      /* tensor of each non-constant value, or NULL */
    int *uses;                   /* remaining readers per value */
    inferd_tensor_t **in;        /* current node's inputs */
    inferd_tensor_t **out;       /* current node's outputs */
    inferd_onnx_shape_t *shapes; /* current node's output shapes */
    void *block;
    const inferd_onnx_plan_t *plan; /* NULL: allocate per output */
    inferd_tensor_t *arena;         /* the plan's buffer for this run */
    size_t *record;                 /* without a plan: bytes each value took, or NULL */
} run_t;

static bool run_init(run_t *r, const inferd_onnx_graph_t *g)
{
    size_t nv = (size_t)g->n_values, ni = (size_t)g->max_node_inputs + 1,
           no = (size_t)g->max_node_outputs + 1;
    size_t sz = nv * sizeof(inferd_tensor_t *) + ni * sizeof(inferd_tensor_t *) +
                no * sizeof(inferd_tensor_t *) + no * sizeof(inferd_onnx_shape_t) +
                nv * sizeof(int);
    char *p = inferd_calloc(1, sz);
    if (!p)
        return false;
    r->block = p;
    r->plan = NULL;
    r->arena = NULL;
    r->record = NULL;
    /* Pointer and int64 arrays first keeps every sub-array aligned. */
    r->shapes = (inferd_onnx_shape_t *)p;
    p += no * sizeof(inferd_onnx_shape_t);
    r->vals = (inferd_tensor_t **)p;
    p += nv * sizeof(inferd_tensor_t *);
    r->in = (inferd_tensor_t **)p;
    p += ni * sizeof(inferd_tensor_t *);
    r->out = (inferd_tensor_t **)p;
    p += no * sizeof(inferd_tensor_t *);
    r->uses = (int *)p;
    for (int v = 0; v < g->n_values; v++)
        r->uses[v] = g->values[v].uses;
    return true;
}

static void arena_release(void *ctx, void *data)
{
    (void)ctx;
    inferd_onnx_arena_give(data);
}

/* Uses the graph's plan for these input shapes (one arena allocation), or prepares to
 * record one. Best effort: without memory for either the run allocates per output. */
static void run_plan(run_t *r, const inferd_onnx_graph_t *g, inferd_tensor_t *const *inputs)
{
    if (!inferd_onnx_planning_enabled())
        return;
    r->plan = inferd_onnx_plan_get(g, inputs);
    if (!r->plan) {
        r->record = inferd_calloc((size_t)g->n_values + 1, sizeof(size_t));
        return;
    }
    if (r->plan->peak == 0)
        return;
    void *buf = inferd_onnx_arena_take(g, r->plan->peak);
    int64_t dims[1] = {(int64_t)r->plan->peak};
    r->arena = buf ? inferd_tensor_wrap(INFERD_DTYPE_UINT8, dims, 1, buf, r->plan->peak,
                                        arena_release, NULL, INFERD_OWNER_ARENA, NULL)
                   : NULL;
    if (!r->arena) {
        inferd_onnx_arena_give(buf);
        inferd_onnx_plan_put(g, r->plan);
        r->plan = NULL;
    }
}

static void run_deinit(run_t *r, const inferd_onnx_graph_t *g)
{
    for (int v = 0; v < g->n_values; v++)
        inferd_tensor_unref(r->vals[v]);
    inferd_tensor_unref(r->arena);
    inferd_onnx_plan_put(g, r->plan);
    inferd_free(r->record);
    inferd_free(r->block);
}

static void zero_range(void *arg, int64_t lo, int64_t hi)
{
    memset((char *)arg + lo, 0, (size_t)(hi - lo));
}

/* Zeroes an arena view, a large one over the intra-op pool. */
static void zero_bytes(void *p, size_t n)
{
    inferd_pool_for_range((int64_t)n, INFERD_ONNX_PAR_GRAIN * (int64_t)sizeof(float), 64,
                          zero_range, p);
}

/* Whether node n's kernel writes every element of its output j of type dt, so that the
 * output need not be zeroed first: output 0 in FP32 of these default-domain ops, whose
 * kernels (ops/conv.c on every path, gemm.c, binary.c, softmax.c, norm.c, movement.c,
 * unary.c, activation.c, pool.c) write each element. Zeroing what they then overwrite
 * was a tenth of a transformer's run. Every other output is zeroed, as
 * inferd_tensor_create's are. (Checked by filling these outputs with NaN instead: the
 * conformance suite and the engine benchmark's comparison with ONNX Runtime still pass.) */
static bool writes_every_element(const inferd_onnx_node_t *n, int j, inferd_dtype_t dt)
{
    static const char *const ops[] = {
        "Conv",
        "MatMul",
        "Gemm",
        "Add",
        "Sub",
        "Mul",
        "Div",
        "Softmax",
        "Erf",
        "Relu",
        "MaxPool",
        "AveragePool",
        "GlobalAveragePool",
        "Transpose",
        "LayerNormalization",
    };
    if (j != 0 || dt != INFERD_DTYPE_FP32 || n->domain[0] != '\0')
        return false;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(n->op_type, ops[i]) == 0)
            return true;
    return false;
}

/* The planned view for output value v of shape s, or NULL when v is not planned or
 * came out larger than planned. Zeroed unless `zero` is false (the kernel writes every
 * element). */
static inferd_tensor_t *planned_output(run_t *r, int v, inferd_dtype_t dt,
                                       const inferd_onnx_shape_t *s, bool zero)
{
    if (!r->arena || r->plan->size[v] == 0)
        return NULL;
    uint64_t numel;
    if (inferd_shape_numel(s->dims, s->ndim, UINT64_MAX / 16, &numel, NULL) != INFERD_OK)
        return NULL;
    uint64_t nbytes = numel * inferd_dtype_size(dt);
    if (nbytes > r->plan->size[v])
        return NULL;
    char *at = (char *)r->arena->data + r->plan->offset[v];
    int u = r->plan->src[v];
    if (u >= 0) {
        /* In place over input u: only when u is there, with this very shape (an
         * elementwise kernel then reads each element before overwriting it). */
        const inferd_tensor_t *tu = r->vals[u];
        if (!tu || tu->data != at || tu->dtype != dt || tu->ndim != s->ndim ||
            memcmp(tu->dims, s->dims, (size_t)s->ndim * sizeof(int64_t)) != 0)
            return NULL;
    }
    inferd_tensor_t *t =
        inferd_tensor_view(r->arena, r->plan->offset[v], dt, s->dims, s->ndim, nbytes, NULL);
    /* Kernels may rely on zeroed outputs, as inferd_tensor_create gives them. */
    if (t && t->nbytes && u < 0 && zero)
        zero_bytes(t->data, t->nbytes);
    return t;
}

static void pages_release(void *ctx, void *data)
{
    inferd_pages_free(data, (size_t)(uintptr_t)ctx);
}

/* Intermediates at least this large get pages of their own in a run without a plan. */
#define RECORD_PAGES_MIN ((size_t)64 << 10)

/* A large intermediate of a run without a plan (the first with new shapes): its own pages,
 * returned to the system when it dies. From malloc's heap it would stay resident after the
 * run, beside the arena that later runs allocate: twice the memory for good. NULL when v
 * is not such a value (or on failure: the caller then allocates as usual). */
static inferd_tensor_t *recording_output(const run_t *r, const inferd_onnx_graph_t *g, int v,
                                         inferd_dtype_t dt, const inferd_onnx_shape_t *s)
{
    uint64_t numel;
    if (!r->record || dt == INFERD_DTYPE_BYTES || INFERD_ONNX_IS_SEQ(dt) ||
        g->values[v].is_output ||
        inferd_shape_numel(s->dims, s->ndim, UINT64_MAX / 16, &numel, NULL) != INFERD_OK)
        return NULL;
    size_t nbytes = (size_t)(numel * inferd_dtype_size(dt));
    if (nbytes < RECORD_PAGES_MIN)
        return NULL;
    void *data = inferd_pages_alloc(nbytes);
    if (!data)
        return NULL;
    inferd_tensor_t *t = inferd_tensor_wrap(dt, s->dims, s->ndim, data, nbytes, pages_release,
                                            (void *)(uintptr_t)nbytes, INFERD_OWNER_ARENA, NULL);
    if (!t)
        inferd_pages_free(data, nbytes);
    return t;
}

/* Output 0 of n written over one of its inputs in a run without a plan, as a planned run
 * does: an input that dies here, of the output's very type and shape, that nothing else
 * holds (no view, not a graph input or output). The first run with new shapes then needs
 * no more memory than the plan it records. NULL when no input qualifies. */
static inferd_tensor_t *unplanned_in_place(const run_t *r, const inferd_onnx_graph_t *g,
                                           const inferd_onnx_node_t *n, inferd_dtype_t dt,
                                           const inferd_onnx_shape_t *s)
{
    if (dt == INFERD_DTYPE_BYTES || INFERD_ONNX_IS_SEQ(dt))
        return NULL;
    for (int j = 0; j < n->n_inputs; j++) {
        int u = n->inputs[j];
        inferd_tensor_t *t = u >= 0 ? r->vals[u] : NULL;
        if (!t || r->uses[u] != 1 || g->values[u].is_output || !inferd_tensor_is_sole_owner(t) ||
            t->dtype != dt || t->ndim != s->ndim ||
            memcmp(t->dims, s->dims, (size_t)s->ndim * sizeof(int64_t)) != 0 ||
            !inferd_onnx_inplace_input(n, j))
            continue;
        return inferd_tensor_ref(t);
    }
    return NULL;
}

static inferd_tensor_t *value_tensor(const run_t *r, const inferd_onnx_graph_t *g, int v)
{
    return g->values[v].constant ? g->values[v].constant : r->vals[v];
}

/* Allocates the node's outputs (or the alias view) for the shapes reshape computed. */
static inferd_status_t make_outputs(run_t *r, const inferd_onnx_graph_t *g,
                                    const inferd_onnx_node_t *n, inferd_err_t *err)
{
    for (int j = 0; j < n->n_outputs; j++) {
        int v = n->outputs[j];
        if (v < 0)
            continue;
        const inferd_onnx_shape_t *s = &r->shapes[j];
        inferd_dtype_t dt = g->values[v].dtype;
        if (n->alias && j == 0) {
            inferd_tensor_t *src = r->in[0];
            uint64_t numel = 1;
            for (int d = 0; d < s->ndim; d++)
                numel *= (uint64_t)s->dims[d];
            if (dt != INFERD_DTYPE_BYTES && numel * inferd_dtype_size(dt) != src->nbytes)
                return inferd_err_set(err, INFERD_E_INTERNAL,
                                      "view of %llu elements over %zu bytes",
                                      (unsigned long long)numel, src->nbytes);
            r->out[j] = inferd_tensor_view(src, 0, dt, s->dims, s->ndim, src->nbytes, err);
        } else if (!(r->out[j] = planned_output(r, v, dt, s, !writes_every_element(n, j, dt))) &&
                   !(j == 0 && !r->arena && (r->out[j] = unplanned_in_place(r, g, n, dt, s))) &&
                   !(r->out[j] = recording_output(r, g, v, dt, s))) {
            /* A BYTES output's size depends on its strings: reshape worked it out. */
            r->out[j] =
                inferd_tensor_create(dt, s->dims, s->ndim, dt == INFERD_DTYPE_BYTES ? s->nbytes : 0,
                                     INFERD_OWNER_ARENA, err);
        }
        if (!r->out[j])
            return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    }
    return INFERD_OK;
}

static inferd_status_t run_node(run_t *r, const inferd_onnx_graph_t *g, const inferd_onnx_node_t *n,
                                inferd_ctx_t *ctx, inferd_err_t *err)
{
    for (int j = 0; j < n->n_inputs; j++) {
        int v = n->inputs[j];
        r->in[j] = v >= 0 ? value_tensor(r, g, v) : NULL;
        if (v >= 0 && !r->in[j])
            return inferd_err_set(err, INFERD_E_INTERNAL, "value '%s' was released too early",
                                  g->values[v].name);
    }
    /* Optional inputs the node leaves out read as NULL up to the op's arity. */
    for (int j = n->n_inputs; j < g->max_node_inputs; j++)
        r->in[j] = NULL;
    for (int j = 0; j < g->max_node_outputs; j++) {
        r->out[j] = NULL;
        memset(&r->shapes[j], 0, sizeof(r->shapes[j]));
    }
    inferd_status_t rc;
    if (n->run) {
        rc = n->run(n, ctx, r->in, r->out, err);
    } else {
        rc = n->op->reshape(n, r->in, r->shapes, err);
        if (rc == INFERD_OK)
            rc = make_outputs(r, g, n, err);
        if (rc == INFERD_OK && n->compute)
            rc = n->compute(n, r->in, r->out, err);
        if (rc == INFERD_OK && n->epilogue.kind != INFERD_ONNX_ACT_NONE && !n->epilogue_done &&
            r->out[0] && r->out[0]->dtype == INFERD_DTYPE_FP32)
            inferd_onnx_act_apply(&n->epilogue, r->out[0]->data, inferd_tensor_numel(r->out[0]));
    }
    for (int j = 0; rc == INFERD_OK && j < n->n_outputs; j++)
        if (n->outputs[j] >= 0 && !r->out[j])
            rc = inferd_err_set(err, INFERD_E_INTERNAL, "output %d was not produced", j);
    for (int j = 0; j < n->n_outputs; j++) {
        int v = n->outputs[j];
        if (rc == INFERD_OK && v >= 0 && r->record && r->out[j])
            r->record[v] = r->out[j]->nbytes;
        if (rc != INFERD_OK || v < 0 || (g->values[v].uses == 0 && !g->values[v].is_output)) {
            /* Failed, or an output nobody reads (e.g. an unused optional output). */
            inferd_tensor_unref(r->out[j]);
        } else {
            r->vals[v] = r->out[j];
        }
        r->out[j] = NULL;
    }
    if (rc != INFERD_OK)
        inferd_err_prefix(err, "node '%s' (%s)", n->label, n->op_type);
    return rc;
}

/* Drops the node's inputs whose last reader it was. */
static void release_inputs(run_t *r, const inferd_onnx_graph_t *g, const inferd_onnx_node_t *n)
{
    for (int j = 0; j < n->n_inputs; j++) {
        int v = n->inputs[j];
        if (v < 0 || g->values[v].constant)
            continue;
        if (--r->uses[v] == 0 && !g->values[v].is_output) {
            inferd_tensor_unref(r->vals[v]);
            r->vals[v] = NULL;
        }
    }
}

/* Writes the node's input shapes, e.g. "[1,64] [64,32]" ("-" for an omitted input), into
 * ctx->current_op_inputs for the crash report and /debug; truncated with "..." when they
 * do not fit. Runs per node, so it writes digits by hand rather than through snprintf. */
static void note_op_inputs(inferd_ctx_t *ctx, const run_t *r, const inferd_onnx_graph_t *g,
                           const inferd_onnx_node_t *n)
{
    char *buf = ctx->current_op_inputs;
    /* Below cap, one more dim (',' and up to 20 digits), ']' and "..." with its NUL fit. */
    const size_t cap = sizeof(ctx->current_op_inputs) - 26;
    size_t len = 0;
    for (int j = 0; j < n->n_inputs; j++) {
        if (len >= cap)
            goto truncated;
        const inferd_tensor_t *t = n->inputs[j] >= 0 ? value_tensor(r, g, n->inputs[j]) : NULL;
        if (j)
            buf[len++] = ' ';
        if (!t) {
            buf[len++] = '-';
            continue;
        }
        buf[len++] = '[';
        for (int d = 0; d < t->ndim; d++) {
            if (len >= cap)
                goto truncated;
            if (d)
                buf[len++] = ',';
            uint64_t v = t->dims[d] < 0 ? 0 : (uint64_t)t->dims[d];
            if (v < 10) {
                buf[len++] = (char)('0' + v);
            } else if (v < 100) {
                buf[len++] = (char)('0' + v / 10);
                buf[len++] = (char)('0' + v % 10);
            } else {
                char digits[20];
                int nd = 0;
                do {
                    digits[nd++] = (char)('0' + v % 10);
                    v /= 10;
                } while (v);
                while (nd)
                    buf[len++] = digits[--nd];
            }
        }
        buf[len++] = ']';
    }
    buf[len] = '\0';
    return;
truncated:
    memcpy(buf + len, "...", 4);
}

inferd_status_t inferd_onnx_graph_run(inferd_ctx_t *ctx, const inferd_onnx_graph_t *g,
                                      inferd_tensor_t *const *inputs, inferd_tensor_t **outputs,
                                      inferd_err_t *err)
{
    inferd_status_t rc = check_inputs(g, inputs, err);
    if (rc != INFERD_OK)
        return rc;
    run_t r;
    if (!run_init(&r, g))
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory starting a run");
    for (int i = 0; i < g->n_inputs; i++) {
        int v = g->inputs[i];
        r.vals[v] = inferd_tensor_ref(inputs[i]);
    }
    run_plan(&r, g, inputs);
    for (int i = 0; i < g->n_nodes && rc == INFERD_OK; i++) {
        const inferd_onnx_node_t *n = &g->nodes[i];
        if (n->folded)
            continue;
        if (ctx && (rc = inferd_ctx_check(ctx, err)) != INFERD_OK)
            break;
        if (ctx) {
            note_op_inputs(ctx, &r, g, n);
            atomic_store(&ctx->current_op, n->run_label);
        }
        rc = run_node(&r, g, n, ctx, err);
        if (ctx)
            atomic_store(&ctx->current_op, NULL);
        if (rc == INFERD_OK)
            release_inputs(&r, g, n);
    }
    if (rc == INFERD_OK) {
        for (int j = 0; j < g->n_outputs; j++) {
            if (!value_tensor(&r, g, g->outputs[j])) {
                rc = inferd_err_set(err, INFERD_E_INTERNAL, "output '%s' was not computed",
                                    g->values[g->outputs[j]].name);
                break;
            }
        }
    }
    if (rc == INFERD_OK)
        for (int j = 0; j < g->n_outputs; j++)
            outputs[j] = inferd_tensor_ref(value_tensor(&r, g, g->outputs[j]));
    if (rc == INFERD_OK && r.record)
        inferd_onnx_plan_record(g, inputs, r.record);
    run_deinit(&r, g);
    return rc;
}
