/* The "onnx" backend: the embedded engine behind the backend vtable (inferd/backend.h).
 * load parses the model into a graph (load.c, graph.c), describe reports the graph's
 * model inputs and outputs, execute runs the graph (exec.c), unload frees it. The state
 * is read-only after load, so execute may run on several threads at once. */
#include "backends/onnx/onnx_backend.h"

#include <stdlib.h>
#include <string.h>

#include "backends/onnx/graph.h"
#include "core/alloc.h"
#include "core/pool.h"

typedef struct onnx_state {
    inferd_onnx_graph_t *graph;
    inferd_backend_io_t *inputs; /* names point into graph values */
    size_t n_inputs;
    inferd_backend_io_t *outputs;
    size_t n_outputs;
    int intra_op_threads; /* threads per operator, caller included; 0 = the whole pool */
} onnx_state_t;

/* The model config parameter intra_op_thread_count (the name ONNX Runtime's Triton
 * backend uses): an integer 0..1024, 0 or absent meaning no limit of the model's own. */
static inferd_status_t intra_op_threads(const inferd_backend_params_t *params, int *out,
                                        inferd_err_t *err)
{
    *out = 0;
    for (size_t i = 0; params && i < params->count; i++) {
        if (strcmp(params->keys[i], "intra_op_thread_count") != 0)
            continue;
        char *end;
        long v = strtol(params->values[i], &end, 10);
        if (end == params->values[i] || *end || v < 0 || v > 1024)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "parameter intra_op_thread_count must be an integer 0..1024, "
                                  "got '%s'",
                                  params->values[i]);
        *out = (int)v;
    }
    return INFERD_OK;
}

static void fill_io(inferd_backend_io_t *io, const inferd_onnx_value_t *v)
{
    io->name = v->name;
    io->dtype = v->dtype;
    io->ndim = v->ndim;
    for (int d = 0; d < INFERD_MAX_DIMS; d++)
        io->dims[d] = d < v->ndim ? v->dims[d] : -1;
    /* An output that is a constant has a known shape even when undeclared. */
    if (v->ndim < 0 && v->constant) {
        io->ndim = v->constant->ndim;
        memcpy(io->dims, v->constant->dims, sizeof(io->dims));
    }
}

static inferd_status_t onnx_load(const char *model_path, const inferd_backend_params_t *params,
                                 void **state, inferd_err_t *err)
{
    *state = NULL;
    int threads;
    if (intra_op_threads(params, &threads, err) != INFERD_OK) {
        inferd_err_prefix(err, "model '%s'", model_path);
        return err ? err->code : INFERD_E_INVALID_ARG;
    }
    inferd_onnx_graph_t *g;
    if (inferd_onnx_graph_load(model_path, &g, err) != INFERD_OK) {
        inferd_err_prefix(err, "model '%s'", model_path);
        return err ? err->code : INFERD_E_INVALID_ARG;
    }
    onnx_state_t *s = inferd_xcalloc(1, sizeof(*s));
    s->graph = g;
    s->intra_op_threads = threads;
    s->n_inputs = (size_t)g->n_inputs;
    s->inputs = inferd_xcalloc(s->n_inputs + 1, sizeof(*s->inputs));
    for (size_t i = 0; i < s->n_inputs; i++)
        fill_io(&s->inputs[i], &g->values[g->inputs[i]]);
    s->n_outputs = (size_t)g->n_outputs;
    s->outputs = inferd_xcalloc(s->n_outputs + 1, sizeof(*s->outputs));
    for (size_t i = 0; i < s->n_outputs; i++)
        fill_io(&s->outputs[i], &g->values[g->outputs[i]]);
    *state = s;
    return INFERD_OK;
}

static void onnx_describe(void *state, const inferd_backend_io_t **inputs, size_t *n_inputs,
                          const inferd_backend_io_t **outputs, size_t *n_outputs)
{
    const onnx_state_t *s = state;
    *inputs = s->inputs;
    *n_inputs = s->n_inputs;
    *outputs = s->outputs;
    *n_outputs = s->n_outputs;
}

static inferd_status_t onnx_execute(inferd_ctx_t *ctx, void *state, inferd_tensor_t *const *inputs,
                                    inferd_tensor_t **outputs, inferd_err_t *err)
{
    const onnx_state_t *s = state;
    /* Kernels read the budget from the running thread (core/pool.h). */
    int prev = inferd_pool_budget();
    inferd_pool_set_budget(s->intra_op_threads);
    inferd_status_t rc = inferd_onnx_graph_run(ctx, s->graph, inputs, outputs, err);
    inferd_pool_set_budget(prev);
    return rc;
}

static void onnx_unload(void *state)
{
    onnx_state_t *s = state;
    if (!s)
        return;
    inferd_onnx_graph_destroy(s->graph);
    inferd_free(s->inputs);
    inferd_free(s->outputs);
    inferd_free(s);
}

const inferd_backend_vtable_t inferd_onnx_backend_vtable = {
    .abi_version = INFERD_BACKEND_ABI_VERSION,
    .name = "onnx",
    .load = onnx_load,
    .describe = onnx_describe,
    .execute = onnx_execute,
    .unload = onnx_unload,
};
