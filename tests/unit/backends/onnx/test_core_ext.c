/* Tests for the engine-core additions the conformance work needed:
 * inferd_onnx_tensor_decode (load.c), nodes whose output 0 is omitted (graph.c), BYTES
 * outputs sized by reshape (exec.c, through Cast to STRING), subgraphs that capture outer
 * values and nodes that produce their own outputs (load.c, graph.c, exec.c, through If
 * and Loop), and the shared helpers of ops/common.c (load/store as double, dtype
 * numbers, broadcast copy). */
#include "test.h"

#include <math.h>
#include <string.h>

#include "backends/onnx/graph.h"
#include "backends/onnx/ops/ops.h"
#include "onnx_test_util.h"

static void tensor_decode_round_trip(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    Onnx__TensorProto *tp =
        tb_tensor(m, "t", TB_F32, 2, TB_DIMS(2, 2), TB_F32S(1, -2, 3.5f, 0), TB_TYPED);
    size_t len = onnx__tensor_proto__get_packed_size(tp);
    uint8_t *buf = test_malloc(len + 1);
    onnx__tensor_proto__pack(tp, buf);
    inferd_tensor_t *t = NULL;
    inferd_err_t err;
    assert_int_equal(inferd_onnx_tensor_decode(buf, len, &t, &err), INFERD_OK);
    tb_expect(t, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_F32S(1, -2, 3.5f, 0), 0);
    inferd_tensor_unref(t);
    /* Bytes that are not a TensorProto, and a payload that does not fit the shape. */
    static const uint8_t junk[] = {0xff, 0xff, 0xff, 0xff};
    t = NULL;
    assert_int_equal(inferd_onnx_tensor_decode(junk, sizeof(junk), &t, &err), INFERD_E_INVALID_ARG);
    assert_null(t);
    tp->dims[0] = 3;
    len = onnx__tensor_proto__get_packed_size(tp);
    onnx__tensor_proto__pack(tp, buf);
    assert_int_equal(inferd_onnx_tensor_decode(buf, len, &t, &err), INFERD_E_INVALID_ARG);
    assert_null(t);
    tb_expect_msg(&err, "float_data holds 4 values, the shape needs 6");
    test_free(buf);
    tb_free(m);
    assert_no_live_tensors();
}

static void omitted_output_zero(void **state)
{
    (void)state;
    /* TopK with only its indices output wired: output 0 is the empty name. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(4));
    tb_initializer(m, "k", TB_I64, 1, TB_DIMS(1), TB_I64S(2), TB_RAW);
    tb_node(m, "TopK", "top", "x,k", ",i");
    tb_output(m, "i", TB_I64, -1, NULL);
    inferd_tensor_t *in[1] = {tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(4), TB_F32S(1, 9, 3, 7))};
    inferd_tensor_t *out[1] = {NULL};
    inferd_err_t err;
    assert_int_equal(tb_run(m, in, 1, out, 1, &err), INFERD_OK);
    tb_expect(out[0], INFERD_DTYPE_INT64, 1, TB_DIMS(2), TB_I64S(1, 3), 0);
    inferd_tensor_unref(out[0]);
    tb_free(m);
    assert_no_live_tensors();
}

static void node_without_outputs_fails(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(4));
    tb_node(m, "Relu", "r", "x", "");
    tb_output(m, "x", TB_F32, -1, NULL);
    void *st = NULL;
    inferd_err_t err;
    assert_int_equal(tb_load(m, &st, &err), INFERD_E_INVALID_ARG);
    tb_expect_msg(&err, "has no outputs");
    tb_free(m);
    assert_no_live_tensors();
}

static void bytes_output_sized_by_reshape(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "Cast");
    tb_attr_int(o.m, o.node, "to", TB_STR);
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(3), TB_F32S(1.5f, -2, 0.1f)));
    inferd_tensor_t *y = NULL;
    inferd_err_t err;
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    assert_int_equal(y->dtype, INFERD_DTYPE_BYTES);
    /* numpy's str(): shortest round trip, a ".0" on integral values. */
    static const uint8_t want[] = {3,   0,   0,   0,   '1', '.', '5', 4, 0,   0,   0,
                                   '-', '2', '.', '0', 3,   0,   0,   0, '0', '.', '1'};
    assert_int_equal(y->nbytes, sizeof(want));
    assert_memory_equal(y->data, want, sizeof(want));
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

/* If whose branches read the outer input x and the outer initializer one. */
static void if_branches_capture_outer_values(void **state)
{
    (void)state;
    for (int c = 0; c < 2; c++) {
        tb_model_t *then_b = tb_model(13), *else_b = tb_model(13);
        tb_node(then_b, "Add", "plus", "x,one", "yt");
        tb_output(then_b, "yt", TB_F32, -1, NULL);
        tb_node(else_b, "Neg", "minus", "x", "ye");
        tb_output(else_b, "ye", TB_F32, -1, NULL);
        tb_model_t *m = tb_model(13);
        tb_input(m, "cond", TB_BOOL, 0, NULL);
        tb_input(m, "x", TB_F32, 1, TB_DIMS(3));
        tb_initializer(m, "one", TB_F32, 1, TB_DIMS(1), TB_F32S(1), TB_RAW);
        Onnx__NodeProto *n = tb_node(m, "If", "if", "cond", "y");
        tb_attr_graph(m, n, "then_branch", tb_graph(then_b));
        tb_attr_graph(m, n, "else_branch", tb_graph(else_b));
        tb_output(m, "y", TB_F32, -1, NULL);
        uint8_t cond = (uint8_t)c;
        inferd_tensor_t *in[2] = {tb_t(INFERD_DTYPE_BOOL, 0, NULL, &cond),
                                  tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(3), TB_F32S(1, -2, 5))};
        inferd_tensor_t *out[1] = {NULL};
        inferd_err_t err;
        assert_int_equal(tb_run(m, in, 2, out, 1, &err), INFERD_OK);
        if (c)
            tb_expect(out[0], INFERD_DTYPE_FP32, 1, TB_DIMS(3), TB_F32S(2, -1, 6), 0);
        else
            tb_expect(out[0], INFERD_DTYPE_FP32, 1, TB_DIMS(3), TB_F32S(-1, 2, -5), 0);
        inferd_tensor_unref(out[0]);
        tb_free(m);
        tb_free(then_b);
        tb_free(else_b);
    }
    assert_no_live_tensors();
}

/* Loop M=3 times: s += x (x captured), cond passed through, s stacked as a scan output. */
static void loop_with_capture_and_scan_output(void **state)
{
    (void)state;
    tb_model_t *body = tb_model(13);
    tb_input(body, "i", TB_I64, 0, NULL);
    tb_input(body, "c_in", TB_BOOL, 0, NULL);
    tb_input(body, "s_in", TB_F32, 1, TB_DIMS(2));
    tb_node(body, "Identity", "keep", "c_in", "c_out");
    tb_node(body, "Add", "acc", "s_in,x", "s_out");
    tb_node(body, "Identity", "copy", "s_out", "scan");
    tb_output(body, "c_out", TB_BOOL, -1, NULL);
    tb_output(body, "s_out", TB_F32, -1, NULL);
    tb_output(body, "scan", TB_F32, -1, NULL);
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    tb_initializer(m, "M", TB_I64, 0, NULL, TB_I64S(3), TB_RAW);
    tb_initializer(m, "s0", TB_F32, 1, TB_DIMS(2), TB_F32S(0, 10), TB_RAW);
    Onnx__NodeProto *n = tb_node(m, "Loop", "loop", "M,,s0", "s,all");
    tb_attr_graph(m, n, "body", tb_graph(body));
    tb_output(m, "s", TB_F32, -1, NULL);
    tb_output(m, "all", TB_F32, -1, NULL);
    inferd_tensor_t *in[1] = {tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(1, 2))};
    inferd_tensor_t *out[2] = {NULL, NULL};
    inferd_err_t err;
    assert_int_equal(tb_run(m, in, 1, out, 2, &err), INFERD_OK);
    tb_expect(out[0], INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(3, 16), 0);
    tb_expect(out[1], INFERD_DTYPE_FP32, 2, TB_DIMS(3, 2), TB_F32S(1, 12, 2, 14, 3, 16), 0);
    inferd_tensor_unref(out[0]);
    inferd_tensor_unref(out[1]);
    tb_free(m);
    tb_free(body);
    assert_no_live_tensors();
}

/* A body that reads a name no enclosing graph defines fails the load, naming it. */
static void undefined_capture_fails(void **state)
{
    (void)state;
    tb_model_t *br = tb_model(13);
    tb_node(br, "Neg", "minus", "nowhere", "yb");
    tb_output(br, "yb", TB_F32, -1, NULL);
    tb_model_t *m = tb_model(13);
    tb_input(m, "cond", TB_BOOL, 0, NULL);
    Onnx__NodeProto *n = tb_node(m, "If", "if", "cond", "y");
    tb_attr_graph(m, n, "then_branch", tb_graph(br));
    tb_attr_graph(m, n, "else_branch", tb_graph(br));
    tb_output(m, "y", TB_F32, -1, NULL);
    void *st = NULL;
    inferd_err_t err;
    assert_int_equal(tb_load(m, &st, &err), INFERD_E_INVALID_ARG);
    tb_expect_msg(&err, "reads 'nowhere'");
    tb_free(m);
    tb_free(br);
    assert_no_live_tensors();
}

static void common_helpers(void **state)
{
    (void)state;
    uint16_t h[1];
    inferd_onnx_store_f64(h, INFERD_DTYPE_FP16, 0, 0.5);
    assert_true(inferd_onnx_load_f64(h, INFERD_DTYPE_FP16, 0) == 0.5);
    int8_t i8[1];
    inferd_onnx_store_f64(i8, INFERD_DTYPE_INT8, 0, -3.9);
    assert_int_equal(i8[0], -3); /* truncates toward zero */
    uint64_t u[1];
    inferd_onnx_store_f64(u, INFERD_DTYPE_UINT64, 0, 1e19);
    assert_true(u[0] == 10000000000000000000ull);
    int64_t i64[1];
    inferd_onnx_store_f64(i64, INFERD_DTYPE_INT64, 0, NAN);
    assert_int_equal(i64[0], 0);
    assert_int_equal(inferd_onnx_dtype_from_enum(16), INFERD_DTYPE_BF16);
    assert_int_equal(inferd_onnx_dtype_from_enum(99), INFERD_DTYPE_INVALID);

    inferd_tensor_t *src = tb_t(INFERD_DTYPE_INT32, 2, TB_DIMS(2, 1), TB_I32S(4, 5));
    inferd_err_t err;
    inferd_tensor_t *dst =
        inferd_tensor_create(INFERD_DTYPE_INT32, TB_DIMS(2, 3), 2, 0, INFERD_OWNER_ARENA, &err);
    inferd_onnx_bcast_copy(src, dst);
    tb_expect(dst, INFERD_DTYPE_INT32, 2, TB_DIMS(2, 3), TB_I32S(4, 4, 4, 5, 5, 5), 0);
    inferd_tensor_unref(src);
    inferd_tensor_unref(dst);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tensor_decode_round_trip),
        cmocka_unit_test(omitted_output_zero),
        cmocka_unit_test(node_without_outputs_fails),
        cmocka_unit_test(bytes_output_sized_by_reshape),
        cmocka_unit_test(if_branches_capture_outer_values),
        cmocka_unit_test(loop_with_capture_and_scan_output),
        cmocka_unit_test(undefined_capture_fails),
        cmocka_unit_test(common_helpers),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
