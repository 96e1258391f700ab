/* Tests for src/backends/onnx/graph.c and ops/registry.c: operator binding by (domain,
 * op_type, opset), load-time errors (unsupported operator, opset, dtype or domain, cycles,
 * undefined values, bad arity, type mismatches), topological sorting of unsorted files,
 * and Constant folding. */
#include "test.h"

#include <string.h>

#include "backends/onnx/ops/ops.h"
#include "onnx_test_util.h"

static void expect_load_error(tb_model_t *m, inferd_status_t code, const char *needle)
{
    void *st = NULL;
    inferd_err_t err;
    inferd_status_t rc = tb_load(m, &st, &err);
    if (rc != code)
        fail_msg("load returned %s (%s), want %s", inferd_status_name(rc), err.msg,
                 inferd_status_name(code));
    assert_null(st);
    tb_expect_msg(&err, needle);
    tb_free(m);
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Registry                                                                             */

static void registry_picks_newest_version_not_above_opset(void **state)
{
    (void)state;
    assert_int_equal(inferd_onnx_op_find("", "Softmax", 1)->since_version, 1);
    assert_int_equal(inferd_onnx_op_find("", "Softmax", 10)->since_version, 1);
    assert_int_equal(inferd_onnx_op_find("", "Softmax", 12)->since_version, 11);
    assert_int_equal(inferd_onnx_op_find("ai.onnx", "Softmax", 13)->since_version, 13);
    assert_int_equal(inferd_onnx_op_find("", "Softmax", 17)->since_version, 13);
    assert_int_equal(inferd_onnx_op_find("", "Reshape", 4)->since_version, 1);
    assert_int_equal(inferd_onnx_op_find("", "Reshape", 5)->since_version, 5);
    assert_null(inferd_onnx_op_find("", "Cast", 5));
    assert_null(inferd_onnx_op_find("", "NoSuchOp", 17));
    assert_null(inferd_onnx_op_find("com.example", "Softmax", 13));
}

typedef struct want_op {
    const char *op_type;
    int versions[8];
} want_op_t;

/* Every operator version this first cut promises (ONNX 1.12 changelog since_versions). */
static const want_op_t want_ops[] = {
    {"Gemm", {1, 6, 7, 9, 11, 13}},
    {"MatMul", {1, 9, 13}},
    {"Add", {1, 6, 7, 13, 14}},
    {"Sub", {1, 6, 7, 13, 14}},
    {"Mul", {1, 6, 7, 13, 14}},
    {"Div", {1, 6, 7, 13, 14}},
    {"Relu", {1, 6, 13, 14}},
    {"Sigmoid", {1, 6, 13}},
    {"Tanh", {1, 6, 13}},
    {"Softmax", {1, 11, 13}},
    {"LogSoftmax", {1, 11, 13}},
    {"Identity", {1, 13, 14, 16}},
    {"Constant", {1, 9, 11, 12, 13}},
    {"Reshape", {1, 5, 13, 14}},
    {"Flatten", {1, 9, 11, 13}},
    {"Transpose", {1, 13}},
    {"Concat", {1, 4, 11, 13}},
    {"Cast", {6, 9, 13}},
    {"Shape", {1, 13, 15}},
    {"Gather", {1, 11, 13}},
    {"Squeeze", {1, 11, 13}},
    {"Unsqueeze", {1, 11, 13}},
    {"ArgMax", {1, 11, 12, 13}},
    /* CNN, normalization, pooling, resize, recurrent, quantization, Einsum. */
    {"Conv", {1, 11}},
    {"ConvTranspose", {1, 11}},
    {"ConvInteger", {10}},
    {"QLinearConv", {10}},
    {"MaxPool", {1, 8, 10, 11, 12}},
    {"AveragePool", {1, 7, 10, 11, 19}},
    {"LpPool", {1, 2, 11, 18}},
    {"GlobalMaxPool", {1}},
    {"GlobalAveragePool", {1}},
    {"GlobalLpPool", {1, 2}},
    {"MaxUnpool", {9, 11}},
    {"BatchNormalization", {1, 6, 7, 9, 14, 15}},
    {"InstanceNormalization", {1, 6}},
    {"GroupNormalization", {18, 21}},
    {"LayerNormalization", {17}},
    {"LRN", {1, 13}},
    {"MeanVarianceNormalization", {9, 13}},
    {"LpNormalization", {1}},
    {"Resize", {10, 11, 13, 18, 19}},
    {"Upsample", {7, 9}},
    {"RNN", {7, 14}},
    {"GRU", {7, 14}},
    {"LSTM", {7, 14}},
    {"QuantizeLinear", {10, 13, 19}},
    {"DequantizeLinear", {10, 13, 19}},
    {"DynamicQuantizeLinear", {11}},
    {"MatMulInteger", {10}},
    {"QLinearMatMul", {10}},
    {"Einsum", {12}},
    {"RoiAlign", {10, 16}},
    {"MaxRoiPool", {1}},
    {"GridSample", {16, 20}},
    {"NonMaxSuppression", {10, 11}},
    /* Elementwise math and logic, reductions, tensor manipulation, indexing, losses,
     * strings, signal processing, control flow, sequences. */
    {"If", {1, 11, 13, 16}},
    {"Loop", {1, 11, 13, 16}},
    {"Scan", {8, 9, 11, 16}},
    {"SequenceEmpty", {11}},
    {"SequenceConstruct", {11}},
    {"SequenceInsert", {11}},
    {"SequenceAt", {11}},
    {"SequenceErase", {11}},
    {"SequenceLength", {11}},
    {"ConcatFromSequence", {11}},
    {"SplitToSequence", {11}},
    {"Clip", {1, 6, 11, 12, 13}},
    {"Abs", {1, 6, 13}},
    {"Neg", {1, 6, 13}},
    {"Exp", {1, 6, 13}},
    {"Log", {1, 6, 13}},
    {"Sqrt", {1, 6, 13}},
    {"Reciprocal", {1, 6, 13}},
    {"Floor", {1, 6, 13}},
    {"Ceil", {1, 6, 13}},
    {"Round", {11}},
    {"Sign", {9, 13}},
    {"Sin", {7}},
    {"Cos", {7}},
    {"Tan", {7}},
    {"Asin", {7}},
    {"Acos", {7}},
    {"Atan", {7}},
    {"Sinh", {9}},
    {"Cosh", {9}},
    {"Asinh", {9}},
    {"Acosh", {9}},
    {"Atanh", {9}},
    {"Erf", {9, 13}},
    {"IsNaN", {9, 13}},
    {"IsInf", {10}},
    {"Not", {1}},
    {"LeakyRelu", {1, 6, 16}},
    {"Elu", {1, 6}},
    {"Selu", {1, 6}},
    {"Celu", {12}},
    {"HardSigmoid", {1, 6}},
    {"HardSwish", {14}},
    {"Softplus", {1}},
    {"Softsign", {1}},
    {"ThresholdedRelu", {10}},
    {"Mish", {18}},
    {"Shrink", {9}},
    {"Where", {9, 16}},
    {"Equal", {1, 7, 11, 13}},
    {"Less", {1, 7, 9, 13}},
    {"LessOrEqual", {12, 16}},
    {"Greater", {1, 7, 9, 13}},
    {"GreaterOrEqual", {12, 16}},
    {"And", {1, 7}},
    {"Or", {1, 7}},
    {"Xor", {1, 7}},
    {"BitShift", {11}},
    {"BitwiseAnd", {18}},
    {"BitwiseOr", {18}},
    {"BitwiseXor", {18}},
    {"Mod", {10, 13}},
    {"Pow", {1, 7, 12, 13, 15}},
    {"PRelu", {1, 6, 7, 9, 16}},
    {"Max", {1, 6, 8, 12, 13}},
    {"Min", {1, 6, 8, 12, 13}},
    {"Sum", {1, 6, 8, 13}},
    {"Mean", {1, 6, 8, 13}},
    {"ArgMin", {1, 11, 12, 13}},
    {"ReduceSum", {1, 11, 13}},
    {"ReduceMax", {1, 11, 12, 13, 18}},
    {"ReduceMin", {1, 11, 12, 13, 18}},
    {"ReduceMean", {1, 11, 13, 18}},
    {"ReduceProd", {1, 11, 13, 18}},
    {"ReduceL1", {1, 11, 13, 18}},
    {"ReduceL2", {1, 11, 13, 18}},
    {"ReduceLogSum", {1, 11, 13, 18}},
    {"ReduceLogSumExp", {1, 11, 13, 18}},
    {"ReduceSumSquare", {1, 11, 13, 18}},
    {"Size", {1, 13}},
    {"Expand", {8, 13}},
    {"Tile", {6, 13}},
    {"Slice", {1, 10, 11, 13}},
    {"Pad", {1, 2, 11, 13, 18}},
    {"Split", {1, 2, 11, 13, 18}},
    {"Range", {11}},
    {"ConstantOfShape", {9}},
    {"EyeLike", {9}},
    {"Trilu", {14}},
    {"CumSum", {11, 14}},
    {"NonZero", {9, 13}},
    {"Compress", {9, 11}},
    {"OneHot", {9, 11}},
    {"TopK", {1, 10, 11}},
    {"Unique", {11}},
    {"ReverseSequence", {10}},
    {"Dropout", {1, 6, 7, 10, 12, 13}},
    {"GatherElements", {11, 13}},
    {"Scatter", {9}},
    {"ScatterElements", {11, 13, 16, 18}},
    {"GatherND", {11, 12, 13}},
    {"ScatterND", {11, 13, 16, 18}},
    {"DepthToSpace", {1, 11, 13}},
    {"SpaceToDepth", {1, 13}},
    {"NegativeLogLikelihoodLoss", {12, 13}},
    {"SoftmaxCrossEntropyLoss", {12, 13}},
    {"Det", {11}},
    {"TfIdfVectorizer", {9}},
    {"StringNormalizer", {10}},
    {"HannWindow", {17}},
    {"HammingWindow", {17}},
    {"BlackmanWindow", {17}},
    {"DFT", {17}},
    {"STFT", {17}},
    {"MelWeightMatrix", {17}},
    {"Hardmax", {1, 11, 13}},
    {"CastLike", {15}},
};

/* The training operators, version 1 of the ai.onnx.preview.training domain. */
static const char *const want_training_ops[] = {"Adagrad", "Momentum", "Adam", "Gradient"};

static void count_op(const inferd_onnx_op_t *op, void *arg)
{
    /* Test builds also register inferd.test::Fault (ops/testfault.c): not a promise. */
    if (strcmp(op->domain, "inferd.test") != 0)
        (*(int *)arg)++;
}

static void registry_has_every_promised_version(void **state)
{
    (void)state;
    int promised = 0;
    for (size_t i = 0; i < sizeof(want_ops) / sizeof(want_ops[0]); i++) {
        for (int j = 0; want_ops[i].versions[j]; j++, promised++) {
            const inferd_onnx_op_t *op =
                inferd_onnx_op_find("", want_ops[i].op_type, want_ops[i].versions[j]);
            if (!op || op->since_version != want_ops[i].versions[j])
                fail_msg("%s-%d is not registered", want_ops[i].op_type, want_ops[i].versions[j]);
        }
    }
    for (size_t i = 0; i < sizeof(want_training_ops) / sizeof(want_training_ops[0]);
         i++, promised++)
        if (!inferd_onnx_op_find("ai.onnx.preview.training", want_training_ops[i], 1))
            fail_msg("%s-1 (training) is not registered", want_training_ops[i]);
    int registered = 0;
    inferd_onnx_op_foreach(count_op, &registered);
    assert_int_equal(registered, promised);
}

/* ------------------------------------------------------------------------------------ */
/* Load-time errors                                                                     */

static void unsupported_operator_names_node(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    tb_node(m, "Relu", "n1", "x", "a");
    tb_node(m, "Foo", "n3", "a", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    expect_load_error(m, INFERD_E_UNSUPPORTED,
                      "unsupported operator 'Foo' (domain '', opset 13) at node 'n3'");
}

static void unsupported_opset_names_it(void **state)
{
    (void)state;
    /* Cast-1 named the target type with a string: not implemented. */
    tb_model_t *m = tb_model(5);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    Onnx__NodeProto *n = tb_node(m, "Cast", "c", "x", "y");
    tb_attr_int(m, n, "to", TB_I64);
    tb_output(m, "y", TB_I64, -1, NULL);
    expect_load_error(m, INFERD_E_UNSUPPORTED,
                      "unsupported operator 'Cast' (domain '', opset 5) at node 'c'");
}

static void unsupported_dtype_fails_load(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(14);
    tb_input(m, "a", TB_F16, 1, TB_DIMS(2));
    tb_input(m, "b", TB_F16, 1, TB_DIMS(2));
    tb_node(m, "Add", "add16", "a,b", "y");
    tb_output(m, "y", TB_F16, -1, NULL);
    expect_load_error(m, INFERD_E_UNSUPPORTED,
                      "node 'add16' (Add, opset 14): no kernel for input 0 of type FP16");
}

static void unknown_domain(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    Onnx__NodeProto *n = tb_node(m, "Gelu", "g", "x", "y");
    tb_node_domain(m, n, "com.example");
    tb_output(m, "y", TB_F32, -1, NULL);
    expect_load_error(m, INFERD_E_UNSUPPORTED, "in domain 'com.example', which the model does not");

    m = tb_model(13);
    tb_opset(m, "com.example", 1);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    n = tb_node(m, "Gelu", "g", "x", "y");
    tb_node_domain(m, n, "com.example");
    tb_output(m, "y", TB_F32, -1, NULL);
    expect_load_error(m, INFERD_E_UNSUPPORTED,
                      "unsupported operator 'Gelu' (domain 'com.example', opset 1) at node 'g'");
}

static void cycle_is_rejected(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    tb_node(m, "Add", "p", "x,b", "a");
    tb_node(m, "Relu", "q", "a", "b");
    tb_node(m, "Relu", "r", "a", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    expect_load_error(m, INFERD_E_INVALID_ARG, "the graph has a cycle: node 'p' (Add)");

    m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    tb_node(m, "Add", "self", "x,y", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    expect_load_error(m, INFERD_E_INVALID_ARG, "cycle");
}

static void undefined_and_duplicate_values(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    tb_node(m, "Add", "add", "x,nope", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    expect_load_error(m, INFERD_E_INVALID_ARG,
                      "node 'add' (Add) reads 'nope', which no input, initializer or node");

    m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    tb_node(m, "Relu", "r1", "x", "y");
    tb_node(m, "Relu", "r2", "x", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    expect_load_error(m, INFERD_E_INVALID_ARG, "value 'y' (output of node 'r2') is defined twice");

    m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    tb_node(m, "Relu", "r1", "x", "y");
    tb_output(m, "z", TB_F32, -1, NULL);
    expect_load_error(m, INFERD_E_INVALID_ARG, "graph output 'z' is not produced");
}

static void arity_and_type_errors(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    tb_node(m, "Add", "add", "x,x,x", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    expect_load_error(m, INFERD_E_INVALID_ARG, "node 'add' (Add, opset 13) has 3 inputs");

    m = tb_model(13);
    tb_input(m, "a", TB_F32, 1, TB_DIMS(2));
    tb_input(m, "b", TB_I64, 1, TB_DIMS(2));
    tb_node(m, "Add", "add", "a,b", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    expect_load_error(m, INFERD_E_INVALID_ARG, "Add inputs differ in type (FP32 and INT64)");

    m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    tb_node(m, "Relu", "r", "x", "y");
    tb_output(m, "y", TB_I64, -1, NULL);
    expect_load_error(m, INFERD_E_INVALID_ARG, "output 'y' is declared INT64 but node 'r'");

    m = tb_model(13);
    tb_input(m, "x", 0, -1, NULL);
    tb_output(m, "x", 0, -1, NULL);
    expect_load_error(m, INFERD_E_INVALID_ARG, "input 'x' declares no element type");

    /* A sequence-typed input. */
    m = tb_model(13);
    Onnx__ValueInfoProto *vi = tb_input(m, "x", TB_F32, -1, NULL);
    Onnx__TypeProto__Sequence *seq = tb_alloc(m, sizeof(*seq));
    onnx__type_proto__sequence__init(seq);
    vi->type->value_case = ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE;
    vi->type->sequence_type = seq;
    tb_output(m, "x", 0, -1, NULL);
    expect_load_error(m, INFERD_E_UNSUPPORTED, "input 'x' is not a tensor");
}

/* ------------------------------------------------------------------------------------ */
/* What loads                                                                           */

static void unsorted_nodes_are_sorted(void **state)
{
    (void)state;
    /* y = relu(x) * 2 - 1, written consumers first. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(3));
    tb_initializer(m, "two", TB_F32, 0, NULL, TB_F32S(2), TB_RAW);
    tb_initializer(m, "one", TB_F32, 0, NULL, TB_F32S(1), TB_RAW);
    tb_node(m, "Sub", "s", "d,one", "y");
    tb_node(m, "Mul", "m", "r,two", "d");
    tb_node(m, "Relu", "r", "x", "r");
    tb_output(m, "y", TB_F32, 1, TB_DIMS(3));
    inferd_tensor_t *in[1] = {tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(3), TB_F32S(-1, 0.5f, 3))};
    inferd_tensor_t *out[1];
    inferd_err_t err;
    assert_int_equal(tb_run(m, in, 1, out, 1, &err), INFERD_OK);
    tb_expect(out[0], INFERD_DTYPE_FP32, 1, TB_DIMS(3), TB_F32S(-1, 0, 5), 0);
    inferd_tensor_unref(out[0]);
    tb_free(m);
    assert_no_live_tensors();
}

static void ai_onnx_domain_and_missing_opset_import(void **state)
{
    (void)state;
    /* "ai.onnx" on both the import and the node is the default domain. */
    tb_model_t *m = tb_model(0);
    tb_opset(m, "ai.onnx", 13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    Onnx__NodeProto *n = tb_node(m, "Relu", NULL, "x", "y");
    tb_node_domain(m, n, "ai.onnx");
    tb_output(m, "y", TB_F32, -1, NULL);
    inferd_tensor_t *in[1] = {tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(-1, 1))};
    inferd_tensor_t *out[1];
    inferd_err_t err;
    assert_int_equal(tb_run(m, in, 1, out, 1, &err), INFERD_OK);
    tb_expect(out[0], INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(0, 1), 0);
    inferd_tensor_unref(out[0]);
    tb_free(m);

    /* No opset_import at all (IR < 3) means opset 1: Relu-1 exists, Cast-6 does not. */
    m = tb_model(0);
    tb_ir_version(m, 2);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    n = tb_node(m, "Cast", "c", "x", "y");
    tb_attr_int(m, n, "to", TB_I64);
    tb_output(m, "y", TB_I64, -1, NULL);
    expect_load_error(m, INFERD_E_UNSUPPORTED, "(domain '', opset 1) at node 'c'");
}

static void constant_is_folded_and_shared(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    Onnx__NodeProto *c = tb_node(m, "Constant", "k", "", "kv");
    tb_attr_floats(m, c, "value_floats", 2, TB_F32S(10, 20));
    tb_node(m, "Add", "add", "x,kv", "y");
    tb_output(m, "y", TB_F32, 1, TB_DIMS(2));
    tb_output(m, "kv", TB_F32, -1, NULL);
    void *st;
    inferd_err_t err;
    assert_int_equal(tb_load(m, &st, &err), INFERD_OK);
    /* The constant's shape is known at load even though the model declares none. */
    const inferd_backend_io_t *ins, *outs;
    size_t ni, no;
    inferd_onnx_backend_vtable.describe(st, &ins, &ni, &outs, &no);
    assert_int_equal(outs[1].ndim, 1);
    assert_int_equal(outs[1].dims[0], 2);
    inferd_tensor_stats_t s;
    inferd_tensor_stats(&s);
    assert_int_equal(s.count[INFERD_OWNER_MODEL], 1);
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(1, 2));
    inferd_tensor_t *out[2];
    assert_int_equal(inferd_onnx_backend_vtable.execute(NULL, st, &x, out, &err), INFERD_OK);
    tb_expect(out[0], INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(11, 22), 0);
    tb_expect(out[1], INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(10, 20), 0);
    assert_int_equal(out[1]->owner, INFERD_OWNER_MODEL);
    inferd_tensor_unref(x);
    inferd_tensor_unref(out[0]);
    /* The caller's reference outlives the model. */
    inferd_onnx_backend_vtable.unload(st);
    tb_expect(out[1], INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(10, 20), 0);
    inferd_tensor_unref(out[1]);
    tb_free(m);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(registry_picks_newest_version_not_above_opset),
        cmocka_unit_test(registry_has_every_promised_version),
        cmocka_unit_test(unsupported_operator_names_node),
        cmocka_unit_test(unsupported_opset_names_it),
        cmocka_unit_test(unsupported_dtype_fails_load),
        cmocka_unit_test(unknown_domain),
        cmocka_unit_test(cycle_is_rejected),
        cmocka_unit_test(undefined_and_duplicate_values),
        cmocka_unit_test(arity_and_type_errors),
        cmocka_unit_test(unsorted_nodes_are_sorted),
        cmocka_unit_test(ai_onnx_domain_and_missing_opset_import),
        cmocka_unit_test(constant_is_folded_and_shared),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
