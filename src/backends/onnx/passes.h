/* Engine-internal interfaces between finalization (graph.c), the graph passes
 * (passes.c), the memory planner (plan.c) and the executor (exec.c). */
#ifndef INFERD_BACKENDS_ONNX_PASSES_H
#define INFERD_BACKENDS_ONNX_PASSES_H

#include <stdbool.h>
#include <stddef.h>

#include "backends/onnx/graph.h"

/* ---- graph.c ---- */

/* Runs the op's init on n again after a pass rewired it (n->op already set): frees the
 * old op_data, clears the kernel binding, keeps the attributes. */
inferd_status_t inferd_onnx_node_reinit(inferd_onnx_graph_t *g, inferd_onnx_node_t *n,
                                        inferd_err_t *err);

/* Frees everything a node owns (not the struct). */
void inferd_onnx_node_clear(inferd_onnx_node_t *n);

/* ---- passes.c ---- */

bool inferd_onnx_passes_enabled(void);

/* Constant folding of one node right after its init, so later nodes' init see the
 * result as a constant: a deterministic node whose inputs are all constants is computed
 * now (bounded size); Shape and Size of a graph input with fixed dims too. Errors in the
 * kernel leave the node to fail at run time as before. Returns true when n was folded. */
bool inferd_onnx_passes_fold(inferd_onnx_graph_t *g, inferd_onnx_node_t *n);

/* The structural passes after every node is initialized: Identity/Dropout/Cast
 * elimination, Conv+BatchNormalization folding, MatMul+Add -> Gemm, activation fusion,
 * then dead and folded node removal (compacts g->nodes). Fails only when a rewritten
 * node's init does. */
inferd_status_t inferd_onnx_passes_run(inferd_onnx_graph_t *g, inferd_err_t *err);

/* Applies a fused activation in place to n FP32 values. */
void inferd_onnx_act_apply(const inferd_onnx_act_t *a, float *x, size_t n);

/* ---- plan.c ---- */

/* One immutable plan: per value, its arena offset and planned size (size 0: not in the
 * arena), and for an in-place output the input it overwrites. */
typedef struct inferd_onnx_plan {
    size_t peak;
    size_t total;
    int n_planned;
    size_t *offset;
    size_t *size;
    int *src; /* per value: the input whose block it takes over (in place), or -1 */
    /* private */
    int refs;
    int n_sig;
    int64_t *sig;
} inferd_onnx_plan_t;

struct inferd_onnx_plans *inferd_onnx_plans_new(void);
void inferd_onnx_plans_free(struct inferd_onnx_plans *p);
bool inferd_onnx_planning_enabled(void);

/* The plan for the inputs' shapes with a reference (release with inferd_onnx_plan_put),
 * or NULL when there is none yet. */
const inferd_onnx_plan_t *inferd_onnx_plan_get(const inferd_onnx_graph_t *g,
                                               inferd_tensor_t *const *inputs);
void inferd_onnx_plan_put(const inferd_onnx_graph_t *g, const inferd_onnx_plan_t *p);

/* Whether node n's kernel may write its one output over its input j (of the same shape
 * and type): it reads each element of that input before writing the output's element. */
bool inferd_onnx_inplace_input(const inferd_onnx_node_t *n, int j);

/* A 64-byte aligned buffer of at least bytes for one run's arena: a free one the graph
 * kept from an earlier run when one is large enough, else a new one. NULL when out of
 * memory. Give it back with inferd_onnx_arena_give (any thread; the graph must still
 * exist). Thread: any. */
void *inferd_onnx_arena_take(const inferd_onnx_graph_t *g, size_t bytes);
void inferd_onnx_arena_give(void *data);

/* Bytes of the free arenas the graph keeps (for tests and /debug reports). */
size_t inferd_onnx_arena_cached_bytes(const inferd_onnx_graph_t *g);

/* Builds and caches the plan for the inputs' shapes from the byte sizes one complete run
 * produced (nbytes[v] per value; 0 for values not produced). Best effort: does nothing
 * on allocation failure. */
void inferd_onnx_plan_record(const inferd_onnx_graph_t *g, inferd_tensor_t *const *inputs,
                             const size_t *nbytes);

#endif
