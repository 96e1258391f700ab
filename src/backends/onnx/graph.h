/* The engine's graph IR: what a loaded ONNX model becomes once the protobuf is gone.
 *
 * A graph is an array of values (every named tensor: model inputs, constants, node
 * outputs) and an array of nodes in topological order. Each node is bound at load to an
 * operator from the registry (ops/ops.h) and to a compute kernel for its dtypes, with its
 * attributes already parsed into op_data. Every value's dtype is known after load; shapes
 * are computed per run from the actual inputs (the reshape step of each op).
 *
 * A loaded graph is immutable, so any number of threads may run it at once
 * (inferd_onnx_graph_run keeps all per-run state on its own). Constants (initializers and
 * the outputs of Constant nodes) are shared read-only tensors charged to
 * INFERD_OWNER_MODEL.
 *
 * The one mutable part is the cache of memory plans (plans), which has its own lock.
 *
 * Files: load.c (protobuf -> IR), graph.c (sorting, operator binding, type propagation),
 * passes.c (graph passes at load), attr.c (attribute accessors for ops), exec.c (the
 * executor), plan.c (memory plans). */
#ifndef INFERD_BACKENDS_ONNX_GRAPH_H
#define INFERD_BACKENDS_ONNX_GRAPH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inferd/context.h"
#include "inferd/status.h"
#include "inferd/tensor.h"

/* Rank and dims of a run-time tensor, as computed by an op's reshape step. */
typedef struct inferd_onnx_shape {
    int ndim;
    int64_t dims[INFERD_MAX_DIMS];
    size_t nbytes; /* BYTES outputs only: the serialized size reshape computed */
} inferd_onnx_shape_t;

typedef enum {
    INFERD_ONNX_ATTR_OTHER = 0, /* graphs, sparse tensors, type protos: kept only by name */
    INFERD_ONNX_ATTR_FLOAT,
    INFERD_ONNX_ATTR_INT,
    INFERD_ONNX_ATTR_STRING,
    INFERD_ONNX_ATTR_TENSOR,
    INFERD_ONNX_ATTR_FLOATS,
    INFERD_ONNX_ATTR_INTS,
    INFERD_ONNX_ATTR_STRINGS,
    INFERD_ONNX_ATTR_GRAPH, /* a subgraph (If, Loop, Scan bodies) */
} inferd_onnx_attr_type_t;

/* One node attribute copied out of the protobuf. Lives only until the node's op has
 * parsed it (see inferd_onnx_op_t.init); kernels never read attributes. */
typedef struct inferd_onnx_attr {
    char *name;
    inferd_onnx_attr_type_t type;
    float f;                     /* FLOAT */
    int64_t i;                   /* INT */
    char *s;                     /* STRING: NUL-terminated copy (may contain NULs; see s_len) */
    size_t s_len;                /* STRING: length without the terminator */
    size_t n;                    /* FLOATS / INTS / STRINGS: element count */
    float *floats;               /* FLOATS */
    int64_t *ints;               /* INTS */
    char **strings;              /* STRINGS: NUL-terminated copies */
    size_t *string_lens;         /* STRINGS: lengths */
    inferd_tensor_t *t;          /* TENSOR: owned reference, INFERD_OWNER_MODEL */
    struct inferd_onnx_graph *g; /* GRAPH: owned until an op's init takes it (sets NULL) */
} inferd_onnx_attr_t;

/* A named tensor in the graph. */
typedef struct inferd_onnx_value {
    char *name;
    inferd_dtype_t dtype;          /* element type; known for every used value after load */
    int ndim;                      /* declared rank (inputs/outputs only); -1 if unknown */
    int64_t dims[INFERD_MAX_DIMS]; /* declared dims; -1 for a symbolic or unknown dim */
    inferd_dtype_t declared_dtype; /* type the model declares (INVALID if none) */
    inferd_tensor_t *constant;     /* initializer or load-time output; owned reference */
    int input_index;               /* position among model inputs, or -1 */
    int producer;                  /* index of the producing node, or -1 */
    bool is_output;                /* a graph output: kept until the end of a run */
    int uses;                      /* input slots of scheduled nodes that read it */
} inferd_onnx_value_t;

typedef struct inferd_onnx_node inferd_onnx_node_t;
typedef struct inferd_onnx_op inferd_onnx_op_t;

/* An activation fused into the node that produces its input (graph pass at load): the
 * node's output 0 is the activation's output. A kernel that applies it in its own output
 * pass (while the tile is in cache) sets epilogue_done in the node at bind time; otherwise
 * the executor applies it in place after compute. */
typedef enum {
    INFERD_ONNX_ACT_NONE = 0,
    INFERD_ONNX_ACT_RELU,
    INFERD_ONNX_ACT_LEAKY_RELU, /* alpha */
    INFERD_ONNX_ACT_CLIP,       /* alpha = min, beta = max */
    INFERD_ONNX_ACT_SIGMOID,
    INFERD_ONNX_ACT_TANH,
    INFERD_ONNX_ACT_HARD_SIGMOID, /* alpha, beta */
} inferd_onnx_act_kind_t;

typedef struct inferd_onnx_act {
    inferd_onnx_act_kind_t kind;
    float alpha, beta;
} inferd_onnx_act_t;

/* Computes a node's output shapes from its actual inputs (in[i] is NULL for an omitted
 * optional input). Never allocates tensors; fails with INVALID_ARG on a shape the op
 * cannot take. */
typedef inferd_status_t (*inferd_onnx_reshape_fn)(const inferd_onnx_node_t *node,
                                                  inferd_tensor_t *const *in,
                                                  inferd_onnx_shape_t *out, inferd_err_t *err);

/* Fills the node's outputs, which the executor allocated with the shapes reshape gave
 * and the dtypes fixed at load. Does not allocate. */
typedef inferd_status_t (*inferd_onnx_compute_fn)(const inferd_onnx_node_t *node,
                                                  inferd_tensor_t *const *in,
                                                  inferd_tensor_t *const *out, inferd_err_t *err);

/* Runs a node whose output shapes are only known by running it (control flow): fills
 * out[j] with a new reference for every output, taking the place of reshape, output
 * allocation and compute. ctx may be NULL. */
typedef inferd_status_t (*inferd_onnx_run_fn)(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                                              inferd_tensor_t *const *in, inferd_tensor_t **out,
                                              inferd_err_t *err);

struct inferd_onnx_node {
    char *name; /* as in the model; may be empty */
    char *op_type;
    char *domain;  /* "" for the default domain (ai.onnx) */
    char *label;     /* name, or op_type when unnamed: for messages */
    char *run_label; /* "op_type/name", or op_type when unnamed: ctx->current_op (set at
                      * finalize, after the passes) */
    int64_t opset; /* the model's opset for the node's domain */
    int n_inputs;
    int *inputs; /* value indices; -1 for an omitted optional input */
    int n_outputs;
    int *outputs; /* value indices; -1 for an omitted optional output */
    int n_attrs;
    inferd_onnx_attr_t *attrs;      /* freed once the op has parsed them */
    const inferd_onnx_op_t *op;     /* bound at load */
    void *op_data;                  /* the op's parsed attributes; freed with inferd_free */
    inferd_onnx_compute_fn compute; /* kernel bound to the node's dtypes at load */
    bool alias;                     /* output 0 is a view of input 0 with a new shape */
    bool folded;                    /* every output was computed at load: not scheduled */
    int n_implicit;         /* trailing inputs that are outer values its subgraphs capture */
    inferd_onnx_run_fn run; /* (optional) produces the outputs itself */
    void (*free_op_data)(void *data); /* (optional) frees op_data instead of inferd_free */
    inferd_onnx_act_t epilogue;       /* fused activation on output 0 (float only); NONE if none */
    bool epilogue_done;               /* the kernel applies epilogue itself */
    /* Conv only: a residual Add fused in (graph pass): input 3 is the addend S (B, input
     * 2, may be absent), output = act(conv + B + S), S added before the epilogue. */
    bool residual;
};

typedef struct inferd_onnx_opset {
    char *domain; /* "" for ai.onnx */
    int64_t version;
} inferd_onnx_opset_t;

/* What the graph passes did at load, for the log and tests. */
typedef struct inferd_onnx_pass_stats {
    int folded;   /* nodes computed at load (constant folding, static Shape/Size) */
    int conv_bn;  /* BatchNormalization folded into the preceding Conv */
    int gemm;     /* MatMul + Add(bias) rewritten into Gemm */
    int fused;    /* activations fused into the producing Gemm/MatMul/Conv */
    int conv_add; /* residual Adds fused into the Conv producing one of their inputs */
    int removed;  /* Identity/Dropout/Cast eliminated, dead nodes removed */
} inferd_onnx_pass_stats_t;

typedef struct inferd_onnx_graph {
    char *path; /* the model file, for messages */
    int64_t ir_version;
    int n_values;
    inferd_onnx_value_t *values;
    int n_nodes;
    inferd_onnx_node_t *nodes; /* topological order after inferd_onnx_graph_finalize */
    int n_inputs;
    int *inputs; /* value indices of model inputs (initializers excluded) */
    int n_outputs;
    int *outputs; /* value indices of graph outputs */
    int n_opsets;
    inferd_onnx_opset_t *opsets;
    int max_node_inputs; /* input slots per node, padded to the op's arity */
    int max_node_outputs;
    /* Subgraphs only: inputs[n_inputs - n_captures ..] are values of enclosing graphs the
     * body reads; captures[k] is the enclosing graph's value index for the k-th. */
    int n_captures;
    int *captures;
    /* Memory plans per input-shape signature (plan.c): mutable behind its own lock, so
     * a const graph can cache them while several runs share it. */
    struct inferd_onnx_plans *plans;
    inferd_onnx_pass_stats_t pass_stats; /* what the graph passes (passes.c) did at load */
} inferd_onnx_graph_t;

/* Loads the ONNX model file at path into a new graph (*out, caller owns, free with
 * inferd_onnx_graph_destroy). Initializers and external data are read into
 * INFERD_OWNER_MODEL tensors and the protobuf is freed before returning. Runs on the
 * loading thread. Errors: NOT_FOUND (no file), INVALID_ARG (corrupt or inconsistent
 * model), UNSUPPORTED (operator, opset, dtype or feature the engine lacks),
 * RESOURCE_EXHAUSTED; the message names the offending node, value or file. */
inferd_status_t inferd_onnx_graph_load(const char *path, inferd_onnx_graph_t **out,
                                       inferd_err_t *err);

/* The same from a serialized ModelProto in memory (len bytes at buf, which the caller
 * keeps). path names the model in messages, and its directory is where external data is
 * looked up. */
inferd_status_t inferd_onnx_graph_load_buffer(const uint8_t *buf, size_t len, const char *path,
                                              inferd_onnx_graph_t **out, inferd_err_t *err);

/* Decodes one serialized TensorProto (the input_N.pb / output_N.pb files of ONNX test
 * data sets) into a new tensor charged to INFERD_OWNER_MODEL (*out, caller owns). The
 * same checks as for initializers apply; external data is refused. Thread: any. Errors:
 * INVALID_ARG (not a TensorProto, payload and shape disagree), UNSUPPORTED (element
 * type, segments), TOO_LARGE, RESOURCE_EXHAUSTED. */
inferd_status_t inferd_onnx_tensor_decode(const uint8_t *buf, size_t len, inferd_tensor_t **out,
                                          inferd_err_t *err);

/* Completes a graph that load.c filled in (values, nodes in file order, inputs, outputs,
 * opsets): sorts nodes topologically, binds each to an operator and kernel, propagates
 * dtypes, folds load-time outputs and counts uses. Fails with INVALID_ARG (cycle,
 * undefined value, bad attribute) or UNSUPPORTED (no operator for the node). */
inferd_status_t inferd_onnx_graph_finalize(inferd_onnx_graph_t *g, inferd_err_t *err);

/* Frees a graph and drops its constants. NULL does nothing. No run may be in progress. */
void inferd_onnx_graph_destroy(inferd_onnx_graph_t *g);

/* Frees one attribute's contents (not the struct). */
void inferd_onnx_attr_clear(inferd_onnx_attr_t *a);

/* The model's opset for domain ("" = ai.onnx), or -1 when the model does not import it. */
int64_t inferd_onnx_graph_opset(const inferd_onnx_graph_t *g, const char *domain);

/* Runs the graph once. inputs[i] is the i-th model input (borrowed); it is checked
 * against the declared dtype, rank and fixed dims. On success outputs[j] receives a new
 * reference for the j-th graph output (an intermediate charged to INFERD_OWNER_ARENA, or
 * a reference to an input or constant); on failure no output is set and nothing leaks.
 * ctx (may be NULL) is checked before each node, and ctx->current_op names the node
 * while it runs. Thread: any; several runs of one graph may overlap. Errors:
 * INVALID_ARG (bad input, shape mismatch inside the graph), CANCELLED,
 * DEADLINE_EXCEEDED, RESOURCE_EXHAUSTED. */
inferd_status_t inferd_onnx_graph_run(inferd_ctx_t *ctx, const inferd_onnx_graph_t *g,
                                      inferd_tensor_t *const *inputs, inferd_tensor_t **outputs,
                                      inferd_err_t *err);

/* The memory plan for one input-shape signature (plan.c): after the first run with a
 * given set of input shapes, every later run with the same shapes makes one arena
 * allocation of peak_bytes (INFERD_OWNER_ARENA) and places intermediates in it at offsets
 * assigned by liveness. Graph outputs and values that control-flow or sequence nodes hold
 * on to stay separate tensors. */
typedef struct inferd_onnx_plan_info {
    size_t peak_bytes;  /* the arena one run allocates */
    size_t total_bytes; /* the planned intermediates' sizes added up (no reuse) */
    int n_planned;      /* intermediates placed in the arena */
} inferd_onnx_plan_info_t;

/* Fills *out with the plan cached for the shapes of inputs (the graph's inputs, as for
 * inferd_onnx_graph_run) and returns true; false when no run with these shapes has
 * completed yet (run once first) or plans are off. The bench prints peak_bytes. Thread:
 * any. */
bool inferd_onnx_graph_plan_info(const inferd_onnx_graph_t *g, inferd_tensor_t *const *inputs,
                                 inferd_onnx_plan_info_t *out);

/* Process-wide switches for benchmarks and tests (both on by default): graph passes
 * apply to graphs loaded afterwards, planning to runs started afterwards. */
void inferd_onnx_set_passes(bool on);
void inferd_onnx_set_planning(bool on);

/* ------------------------------------------------------------------------------------ */
/* Attribute accessors (attr.c), for ops' init functions. A wrong attribute type fails  */
/* with INVALID_ARG naming the attribute.                                               */

/* The attribute called name, or NULL. */
const inferd_onnx_attr_t *inferd_onnx_attr_find(const inferd_onnx_node_t *node, const char *name);

/* An INT attribute, or def when absent. */
inferd_status_t inferd_onnx_attr_int(const inferd_onnx_node_t *node, const char *name, int64_t def,
                                     int64_t *out, inferd_err_t *err);

/* A FLOAT attribute, or def when absent. */
inferd_status_t inferd_onnx_attr_float(const inferd_onnx_node_t *node, const char *name, float def,
                                       float *out, inferd_err_t *err);

/* An INTS attribute: *vals points into the node (valid until its attributes are freed)
 * and *present tells whether it was given. */
inferd_status_t inferd_onnx_attr_ints(const inferd_onnx_node_t *node, const char *name,
                                      const int64_t **vals, size_t *n, bool *present,
                                      inferd_err_t *err);

#endif
