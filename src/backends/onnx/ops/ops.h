/* Operators: the registry interface and helpers shared by the op families.
 *
 * An operator version is one inferd_onnx_op_t: {domain, op_type, since_version, arity,
 * init, reshape}. Each op family (one .c file under ops/) exports a table of them and
 * registry.c lists the tables. At load a node binds to the entry with the newest
 * since_version not above the model's opset for the node's domain, so registering
 * versions 1, 11 and 13 of Softmax covers opsets 1-10, 11-12 and 13 onwards. A version
 * whose semantics the engine does not implement is simply not registered, and a node
 * that needs it fails the load.
 *
 * init runs once per node at load: it parses attributes into node->op_data, checks the
 * input dtypes, sets the output dtypes, and binds node->compute to the kernel for those
 * dtypes (or sets node->alias for ops whose output is a view of input 0). It may also
 * produce an output at load (Constant). reshape runs per execution and computes output
 * shapes from the actual inputs; compute then fills the outputs. Keeping the two apart
 * lets a later static shape pass and memory planner call reshape without computing. */
#ifndef INFERD_BACKENDS_ONNX_OPS_H
#define INFERD_BACKENDS_ONNX_OPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/onnx/graph.h"

/* What init gets to see and set for one node. */
typedef struct inferd_onnx_init {
    inferd_onnx_node_t *node;
    const inferd_dtype_t *in_types;    /* per input slot; INVALID for an omitted input */
    inferd_tensor_t *const *in_consts; /* per input slot; the tensor when it is a constant */
    inferd_dtype_t *out_types;         /* init sets each present output's dtype */
    inferd_tensor_t **out_consts;      /* init may set an output computed at load (owned) */
    const inferd_onnx_graph_t *graph;  /* the node's graph (Gradient reads the forward part) */
} inferd_onnx_init_t;

typedef inferd_status_t (*inferd_onnx_init_fn)(inferd_onnx_init_t *ic, inferd_err_t *err);

struct inferd_onnx_op {
    const char *domain; /* "" for ai.onnx */
    const char *op_type;
    int since_version;
    int min_inputs, max_inputs; /* arity checked at load before init */
    int n_outputs;              /* outputs the op can produce (all ops here have one) */
    inferd_onnx_init_fn init;
    inferd_onnx_reshape_fn reshape;
};

/* Finds the registered version of (domain, op_type) with the newest since_version <=
 * opset; NULL when there is none. domain "" and "ai.onnx" are the same. Thread: any. */
const inferd_onnx_op_t *inferd_onnx_op_find(const char *domain, const char *op_type, int64_t opset);

/* Calls fn for every registered operator version (for docs and tests). */
void inferd_onnx_op_foreach(void (*fn)(const inferd_onnx_op_t *op, void *arg), void *arg);

/* Tables exported by the op families (registry.c lists them). */
extern const inferd_onnx_op_t inferd_onnx_ops_activation[];
extern const size_t inferd_onnx_ops_activation_count;
extern const inferd_onnx_op_t inferd_onnx_ops_binary[];
extern const size_t inferd_onnx_ops_binary_count;
extern const inferd_onnx_op_t inferd_onnx_ops_cast[];
extern const size_t inferd_onnx_ops_cast_count;
extern const inferd_onnx_op_t inferd_onnx_ops_constant[];
extern const size_t inferd_onnx_ops_constant_count;
extern const inferd_onnx_op_t inferd_onnx_ops_gemm[];
extern const size_t inferd_onnx_ops_gemm_count;
extern const inferd_onnx_op_t inferd_onnx_ops_movement[];
extern const size_t inferd_onnx_ops_movement_count;
extern const inferd_onnx_op_t inferd_onnx_ops_reduce[];
extern const size_t inferd_onnx_ops_reduce_count;
extern const inferd_onnx_op_t inferd_onnx_ops_shape[];
extern const size_t inferd_onnx_ops_shape_count;
extern const inferd_onnx_op_t inferd_onnx_ops_softmax[];
extern const size_t inferd_onnx_ops_softmax_count;
extern const inferd_onnx_op_t inferd_onnx_ops_conv[];
extern const size_t inferd_onnx_ops_conv_count;
extern const inferd_onnx_op_t inferd_onnx_ops_pool[];
extern const size_t inferd_onnx_ops_pool_count;
extern const inferd_onnx_op_t inferd_onnx_ops_norm[];
extern const size_t inferd_onnx_ops_norm_count;
extern const inferd_onnx_op_t inferd_onnx_ops_resize[];
extern const size_t inferd_onnx_ops_resize_count;
extern const inferd_onnx_op_t inferd_onnx_ops_rnn[];
extern const size_t inferd_onnx_ops_rnn_count;
extern const inferd_onnx_op_t inferd_onnx_ops_quant[];
extern const size_t inferd_onnx_ops_quant_count;
extern const inferd_onnx_op_t inferd_onnx_ops_einsum[];
extern const size_t inferd_onnx_ops_einsum_count;
extern const inferd_onnx_op_t inferd_onnx_ops_roialign[];
extern const size_t inferd_onnx_ops_roialign_count;
extern const inferd_onnx_op_t inferd_onnx_ops_gridsample[];
extern const size_t inferd_onnx_ops_gridsample_count;
extern const inferd_onnx_op_t inferd_onnx_ops_nms[];
extern const size_t inferd_onnx_ops_nms_count;
extern const inferd_onnx_op_t inferd_onnx_ops_unary[];
extern const size_t inferd_onnx_ops_unary_count;
extern const inferd_onnx_op_t inferd_onnx_ops_elementwise[];
extern const size_t inferd_onnx_ops_elementwise_count;
extern const inferd_onnx_op_t inferd_onnx_ops_tensor[];
extern const size_t inferd_onnx_ops_tensor_count;
extern const inferd_onnx_op_t inferd_onnx_ops_indexing[];
extern const size_t inferd_onnx_ops_indexing_count;
extern const inferd_onnx_op_t inferd_onnx_ops_loss[];
extern const size_t inferd_onnx_ops_loss_count;
extern const inferd_onnx_op_t inferd_onnx_ops_linalg[];
extern const size_t inferd_onnx_ops_linalg_count;
extern const inferd_onnx_op_t inferd_onnx_ops_string[];
extern const size_t inferd_onnx_ops_string_count;
extern const inferd_onnx_op_t inferd_onnx_ops_training[];
extern const size_t inferd_onnx_ops_training_count;
extern const inferd_onnx_op_t inferd_onnx_ops_signal[];
extern const size_t inferd_onnx_ops_signal_count;
extern const inferd_onnx_op_t inferd_onnx_ops_control[];
extern const size_t inferd_onnx_ops_control_count;
extern const inferd_onnx_op_t inferd_onnx_ops_sequence[];
extern const size_t inferd_onnx_ops_sequence_count;
extern const inferd_onnx_op_t inferd_onnx_ops_gradient[];
extern const size_t inferd_onnx_ops_gradient_count;
#ifdef INFERD_TEST_FAULTS
extern const inferd_onnx_op_t inferd_onnx_ops_testfault[]; /* test builds only */
extern const size_t inferd_onnx_ops_testfault_count;
#endif

/* ------------------------------------------------------------------------------------ */
/* Helpers (common.c). None allocates; all may run on any thread.                       */

/* Copies a tensor's rank and dims into a shape. */
void inferd_onnx_shape_of(const inferd_tensor_t *t, inferd_onnx_shape_t *s);

/* Product of dims[from..to-1] (1 for an empty range). */
int64_t inferd_onnx_dims_prod(const int64_t *dims, int from, int to);

/* Formats dims as "[2,3,4]" into buf (always NUL-terminated); returns buf. */
const char *inferd_onnx_dims_str(const int64_t *dims, int ndim, char *buf, size_t size);

/* Normalizes axis into [0, rank) (accepting [-rank, rank)); INVALID_ARG otherwise. */
inferd_status_t inferd_onnx_axis(int64_t axis, int rank, int *out, inferd_err_t *err);

/* Multidirectional (numpy) broadcast of two shapes; INVALID_ARG naming both shapes when
 * they do not broadcast. */
inferd_status_t inferd_onnx_broadcast(const inferd_onnx_shape_t *a, const inferd_onnx_shape_t *b,
                                      inferd_onnx_shape_t *out, inferd_err_t *err);

/* Reads a 0-D or 1-D INT64 or INT32 tensor's values into out (at most max). Fails with
 * INVALID_ARG naming what (e.g. "axes") when the tensor is not such a tensor or holds
 * more than max values. */
inferd_status_t inferd_onnx_read_ints(const inferd_tensor_t *t, const char *what, int64_t *out,
                                      int max, int *n, inferd_err_t *err);

/* Error for an input dtype that the node's op has no kernel for. */
inferd_status_t inferd_onnx_unsupported_dtype(const inferd_onnx_init_t *ic, int slot,
                                              inferd_err_t *err);

/* Element i of a numeric (or BOOL) array of type dt, as a double: the slow, general path
 * for ops whose kernels do not need to be fast. Integers beyond 2^53 round. */
double inferd_onnx_load_f64(const void *data, inferd_dtype_t dt, uint64_t i);

/* Stores v as element i of a numeric (or BOOL) array of type dt: floats round to
 * nearest (FP16/BF16 to nearest even), integers truncate toward zero and wrap. */
void inferd_onnx_store_f64(void *data, inferd_dtype_t dt, uint64_t i, double v);

/* The dtype for an ONNX TensorProto.DataType number (attributes such as Cast's `to`);
 * INVALID for types the engine lacks. */
inferd_dtype_t inferd_onnx_dtype_from_enum(int64_t t);

/* Copies src into dst, broadcasting src's shape to dst's (same dtype, fixed size). */
void inferd_onnx_bcast_copy(const inferd_tensor_t *src, inferd_tensor_t *dst);

/* Sequence values (ops/sequence.c) exist only inside a graph. Their value dtype is this
 * engine-private code above every real dtype, so no tensor kernel accepts one, and it
 * names the element type: INFERD_ONNX_SEQ(elem). */
#define INFERD_ONNX_SEQ(elem) ((inferd_dtype_t)(INFERD_DTYPE_COUNT_ + (int)(elem)))
#define INFERD_ONNX_IS_SEQ(dt) ((int)(dt) > INFERD_DTYPE_COUNT_)
#define INFERD_ONNX_SEQ_ELEM(dt) ((inferd_dtype_t)((int)(dt)-INFERD_DTYPE_COUNT_))

bool inferd_onnx_dtype_is_float(inferd_dtype_t dt); /* FP16, BF16, FP32, FP64 */
bool inferd_onnx_dtype_is_int(inferd_dtype_t dt);   /* signed or unsigned integer */

/* A strided walk over two inputs broadcast to one output, for elementwise kernels.
 * After inferd_onnx_bcast_init the output is walked as `outer` rows of `inner`
 * contiguous elements; inferd_onnx_bcast_next gives each row's input offsets. Adjacent
 * dims that walk the same way in both inputs are merged, so the common cases (same
 * shape, scalar, row vector) become one or a few long rows. */
typedef struct inferd_onnx_bcast {
    int ndim;                      /* merged outer dims (excluding the inner one) */
    int64_t dims[INFERD_MAX_DIMS]; /* merged outer dims */
    int64_t sa[INFERD_MAX_DIMS];   /* element strides of a per merged outer dim */
    int64_t sb[INFERD_MAX_DIMS];
    int64_t idx[INFERD_MAX_DIMS]; /* walk position */
    int64_t inner;                /* length of each row */
    int64_t inner_sa, inner_sb;   /* 0 (broadcast) or 1 */
    int64_t rows;                 /* number of rows */
    int64_t off_a, off_b;         /* current row's offsets in elements */
} inferd_onnx_bcast_t;

/* Prepares a walk for inputs of shapes a and b (already known to broadcast to out). */
void inferd_onnx_bcast_init(inferd_onnx_bcast_t *w, const inferd_onnx_shape_t *a,
                            const inferd_onnx_shape_t *b, const inferd_onnx_shape_t *out);

/* Advances to the next row (call after processing the row at off_a/off_b). */
void inferd_onnx_bcast_next(inferd_onnx_bcast_t *w);

#endif
