/* Test support for the ONNX engine: builds ModelProto messages in C with the protobuf-c
 * API (so tests need no model files in the tree), writes them into a per-model temporary
 * directory, loads and runs them through the backend vtable, and compares tensors.
 *
 * Everything a builder allocates belongs to it and goes away with tb_free, which also
 * removes the temporary directory. Helpers fail the running cmocka test on misuse. */
#ifndef INFERD_TEST_ONNX_UTIL_H
#define INFERD_TEST_ONNX_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/onnx/onnx_backend.h"
#include "inferd/tensor.h"
#include "onnx.pb-c.h"

/* ONNX TensorProto.DataType values. */
enum {
    TB_F32 = 1,
    TB_U8 = 2,
    TB_I8 = 3,
    TB_U16 = 4,
    TB_I16 = 5,
    TB_I32 = 6,
    TB_I64 = 7,
    TB_STR = 8,
    TB_BOOL = 9,
    TB_F16 = 10,
    TB_F64 = 11,
    TB_U32 = 12,
    TB_U64 = 13,
    TB_BF16 = 16,
};

/* How an initializer stores its data. */
typedef enum { TB_RAW, TB_TYPED, TB_EXTERNAL } tb_mode_t;

#define TB_DIMS(...) ((const int64_t[]){__VA_ARGS__})
#define TB_F32S(...) ((const float[]){__VA_ARGS__})
#define TB_F64S(...) ((const double[]){__VA_ARGS__})
#define TB_I64S(...) ((const int64_t[]){__VA_ARGS__})
#define TB_I32S(...) ((const int32_t[]){__VA_ARGS__})

typedef struct tb_model tb_model_t;

/* A new model importing the default domain at opset (no opset_import at all if opset is
 * 0), IR version 8, with a fresh temporary directory. */
tb_model_t *tb_model(int64_t opset);
void tb_opset(tb_model_t *m, const char *domain, int64_t version);
void tb_ir_version(tb_model_t *m, int64_t v);
const char *tb_dir(const tb_model_t *m);

/* Graph inputs and outputs (returned for tests that tamper with them). ndim -1 declares
 * no shape; a negative dim is symbolic. elem_type 0 declares no type at all. */
Onnx__ValueInfoProto *tb_input(tb_model_t *m, const char *name, int elem_type, int ndim,
                               const int64_t *dims);
Onnx__ValueInfoProto *tb_output(tb_model_t *m, const char *name, int elem_type, int ndim,
                                const int64_t *dims);

/* A TensorProto with data in the given mode (TB_EXTERNAL appends the bytes to
 * "weights.bin" in the model directory). For TB_STR, data is a const char *const *. The
 * tensor belongs to m; tb_initializer also adds it to the graph. */
Onnx__TensorProto *tb_tensor(tb_model_t *m, const char *name, int elem_type, int ndim,
                             const int64_t *dims, const void *data, tb_mode_t mode);
Onnx__TensorProto *tb_initializer(tb_model_t *m, const char *name, int elem_type, int ndim,
                                  const int64_t *dims, const void *data, tb_mode_t mode);

/* A node; inputs and outputs are comma-separated names ("a,,c" leaves input 1 out). */
Onnx__NodeProto *tb_node(tb_model_t *m, const char *op_type, const char *name, const char *inputs,
                         const char *outputs);
void tb_node_domain(tb_model_t *m, Onnx__NodeProto *n, const char *domain);
void tb_attr_int(tb_model_t *m, Onnx__NodeProto *n, const char *name, int64_t v);
void tb_attr_float(tb_model_t *m, Onnx__NodeProto *n, const char *name, float v);
void tb_attr_ints(tb_model_t *m, Onnx__NodeProto *n, const char *name, size_t count,
                  const int64_t *v);
void tb_attr_floats(tb_model_t *m, Onnx__NodeProto *n, const char *name, size_t count,
                    const float *v);
void tb_attr_string(tb_model_t *m, Onnx__NodeProto *n, const char *name, const char *v);
void tb_attr_tensor(tb_model_t *m, Onnx__NodeProto *n, const char *name, Onnx__TensorProto *t);
/* A GRAPH attribute (a control-flow body). g stays owned by whoever built it (typically
 * another builder's tb_graph), which must outlive m's tb_write/tb_run. */
void tb_attr_graph(tb_model_t *m, Onnx__NodeProto *n, const char *name, Onnx__GraphProto *g);

/* The builder's graph, to use as another model's subgraph (see tb_attr_graph). */
Onnx__GraphProto *tb_graph(tb_model_t *m);

/* The serialized model (owned by m) and the path it was written to (owned by m). */
const uint8_t *tb_pack(tb_model_t *m, size_t *len);
const char *tb_write(tb_model_t *m);

/* Writes bytes to a file in the model directory; returns its path (owned by m). */
const char *tb_write_file(tb_model_t *m, const char *name, const void *data, size_t len);

/* Allocates n zeroed bytes owned by m (for tests that tamper with messages). */
void *tb_alloc(tb_model_t *m, size_t n);

/* Frees the builder and removes its directory. */
void tb_free(tb_model_t *m);

/* Writes and loads the model through the vtable. */
inferd_status_t tb_load(tb_model_t *m, void **state, inferd_err_t *err);

/* Loads m, runs it once (inputs are unref'd by the helper, whatever happens), unloads.
 * On success outputs[] hold new references; the status is the load's or the run's. */
inferd_status_t tb_run(tb_model_t *m, inferd_tensor_t **inputs, size_t n_inputs,
                       inferd_tensor_t **outputs, size_t n_outputs, inferd_err_t *err);

/* A REQUEST-owned tensor holding a copy of data (numel * element size bytes). */
inferd_tensor_t *tb_t(inferd_dtype_t dt, int ndim, const int64_t *dims, const void *data);

/* Asserts dtype, shape and values (floats within tol, relative to max(1, |want|); other
 * dtypes bytewise). */
void tb_expect(const inferd_tensor_t *t, inferd_dtype_t dt, int ndim, const int64_t *dims,
               const void *want, double tol);

/* The shared 2-layer MLP fixture: x [N,4] -> MatMul W1 [4,3] -> Add b1 -> Relu ->
 * Gemm(W2 [2,3], b2, transB=1) -> Softmax(axis 1) = "probs" [N,2], and ArgMax(axis 1,
 * keepdims 0) = "cls" [N]. Weights are stored in w_mode (b1 always in typed fields).
 * TB_MLP_X is a [2,4] input whose expected outputs are TB_MLP_PROBS and TB_MLP_CLS
 * (computed with numpy). */
void tb_build_mlp(tb_model_t *m, tb_mode_t w_mode);
extern const float TB_MLP_X[8];
extern const float TB_MLP_PROBS[4];
extern const int64_t TB_MLP_CLS[2];

/* One-node models for operator tests: inputs are added in order (as graph inputs typed
 * like the tensor, with the tensor's rank and symbolic dims, or as initializers), the
 * node's single output "y" is declared without a type, attributes go on o->node. */
typedef struct tb_op {
    tb_model_t *m;
    Onnx__NodeProto *node;
    size_t n_in;
    inferd_tensor_t *in[16];
} tb_op_t;

void tb_op_init(tb_op_t *o, int64_t opset, const char *op_type);
/* A graph input fed with t at run time (takes ownership). */
void tb_op_input(tb_op_t *o, inferd_tensor_t *t);
/* An initializer holding t's values in raw_data (takes ownership). */
void tb_op_const(tb_op_t *o, inferd_tensor_t *t);
/* An omitted optional input. */
void tb_op_skip(tb_op_t *o);
/* Loads and runs the model once, then frees it: *y is the output or NULL. */
inferd_status_t tb_op_run(tb_op_t *o, inferd_tensor_t **y, inferd_err_t *err);
/* The ONNX element type for an inferd dtype. */
int tb_elem_type(inferd_dtype_t dt);

/* Asserts that msg contains needle. */
void tb_expect_msg(const inferd_err_t *err, const char *needle);

#endif
