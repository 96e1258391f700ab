/* Tests for src/backends/onnx/ops/constant.c: every value attribute (tensor, float(s),
 * int(s), string(s)), and the load errors for none, two, or sparse_value. */
#include "test.h"

#include "onnx_test_util.h"

static void expect_constant(tb_op_t *o, inferd_dtype_t dt, int ndim, const int64_t *dims,
                            const void *want)
{
    inferd_tensor_t *y;
    inferd_err_t err;
    if (tb_op_run(o, &y, &err) != INFERD_OK)
        fail_msg("run failed: %s", err.msg);
    tb_expect(y, dt, ndim, dims, want, 0);
    assert_int_equal(y->owner, INFERD_OWNER_MODEL);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

static void numeric_values(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 9, "Constant");
    Onnx__TensorProto *t =
        tb_tensor(o.m, "", TB_F32, 2, TB_DIMS(2, 2), TB_F32S(1, 2, 3, 4), TB_RAW);
    tb_attr_tensor(o.m, o.node, "value", t);
    expect_constant(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_F32S(1, 2, 3, 4));

    tb_op_init(&o, 13, "Constant");
    t = tb_tensor(o.m, "", TB_I32, 1, TB_DIMS(3), TB_I32S(-1, 0, 1), TB_TYPED);
    tb_attr_tensor(o.m, o.node, "value", t);
    expect_constant(&o, INFERD_DTYPE_INT32, 1, TB_DIMS(3), TB_I32S(-1, 0, 1));

    tb_op_init(&o, 12, "Constant");
    tb_attr_float(o.m, o.node, "value_float", 2.5f);
    expect_constant(&o, INFERD_DTYPE_FP32, 0, NULL, TB_F32S(2.5f));

    tb_op_init(&o, 13, "Constant");
    tb_attr_floats(o.m, o.node, "value_floats", 2, TB_F32S(-1, 0.5f));
    expect_constant(&o, INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(-1, 0.5f));

    tb_op_init(&o, 13, "Constant");
    tb_attr_int(o.m, o.node, "value_int", -7);
    expect_constant(&o, INFERD_DTYPE_INT64, 0, NULL, TB_I64S(-7));

    tb_op_init(&o, 13, "Constant");
    tb_attr_ints(o.m, o.node, "value_ints", 3, TB_I64S(4, 5, 6));
    expect_constant(&o, INFERD_DTYPE_INT64, 1, TB_DIMS(3), TB_I64S(4, 5, 6));
}

static void string_values(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "Constant");
    tb_attr_string(o.m, o.node, "value_string", "hey");
    inferd_tensor_t *y;
    inferd_err_t err;
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    assert_int_equal(y->dtype, INFERD_DTYPE_BYTES);
    assert_int_equal(y->ndim, 0);
    assert_int_equal(y->nbytes, 7);
    assert_memory_equal(y->data, "\x03\x00\x00\x00hey", 7);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

static void expect_err(tb_op_t *o, inferd_status_t code, const char *needle)
{
    inferd_tensor_t *y;
    inferd_err_t err;
    assert_int_equal(tb_op_run(o, &y, &err), code);
    assert_null(y);
    tb_expect_msg(&err, needle);
    assert_no_live_tensors();
}

static void errors(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "Constant");
    expect_err(&o, INFERD_E_INVALID_ARG, "exactly one value attribute is required, found 0");

    tb_op_init(&o, 13, "Constant");
    tb_attr_int(o.m, o.node, "value_int", 1);
    tb_attr_float(o.m, o.node, "value_float", 1);
    expect_err(&o, INFERD_E_INVALID_ARG, "found 2");

    tb_op_init(&o, 13, "Constant");
    tb_attr_float(o.m, o.node, "value_int", 1);
    expect_err(&o, INFERD_E_INVALID_ARG, "attribute 'value_int' has the wrong type");

    tb_op_init(&o, 13, "Constant");
    tb_attr_int(o.m, o.node, "sparse_value", 0);
    expect_err(&o, INFERD_E_UNSUPPORTED, "sparse_value is not supported");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(numeric_values),
        cmocka_unit_test(string_values),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
