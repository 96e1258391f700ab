/* Tests for src/backends/onnx/ops/reduce.c: ArgMax over each axis, keepdims, ties with
 * and without select_last_index, integer input, and empty or out-of-range axes. Expected
 * values come from numpy (np.argmax; last-index ties by hand). */
#include "test.h"

#include "onnx_test_util.h"

static inferd_tensor_t *a23(void)
{
    return tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 3), TB_F32S(1, 5, 5, 7, 2, 7));
}

static inferd_tensor_t *a232(void)
{
    return tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(2, 3, 2),
                TB_F32S(3, 1, 4, 1, 5, 9, 2, 6, 5, 3, 5, 8));
}

static void check(int64_t opset, inferd_tensor_t *x, int64_t axis, int keepdims, int last, int ndim,
                  const int64_t *dims, const int64_t *want)
{
    tb_op_t o;
    tb_op_init(&o, opset, "ArgMax");
    tb_op_input(&o, x);
    tb_attr_int(o.m, o.node, "axis", axis);
    if (keepdims >= 0)
        tb_attr_int(o.m, o.node, "keepdims", keepdims);
    if (last >= 0)
        tb_attr_int(o.m, o.node, "select_last_index", last);
    inferd_tensor_t *y;
    inferd_err_t err;
    if (tb_op_run(&o, &y, &err) != INFERD_OK)
        fail_msg("ArgMax failed: %s", err.msg);
    tb_expect(y, INFERD_DTYPE_INT64, ndim, dims, want, 0);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

static void argmax_axes_and_keepdims(void **state)
{
    (void)state;
    check(13, a23(), 1, -1, -1, 2, TB_DIMS(2, 1), TB_I64S(1, 0)); /* keepdims defaults to 1 */
    check(13, a23(), -1, 0, -1, 1, TB_DIMS(2), TB_I64S(1, 0));
    check(11, a232(), 1, 0, -1, 2, TB_DIMS(2, 2), TB_I64S(2, 2, 1, 2));
    check(1, a232(), 0, 0, -1, 2, TB_DIMS(3, 2), TB_I64S(0, 1, 1, 1, 0, 0));
    check(13, tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(4), TB_I32S(-5, 9, -2, 9)), 0, 1, -1, 1,
          TB_DIMS(1), TB_I64S(1));
}

static void argmax_ties(void **state)
{
    (void)state;
    /* Row 0 ties at 1 and 2, row 1 at 0 and 2. */
    check(12, a23(), 1, 0, 0, 1, TB_DIMS(2), TB_I64S(1, 0));
    check(12, a23(), 1, 0, 1, 1, TB_DIMS(2), TB_I64S(2, 2));
    check(13, tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(4), TB_I32S(-5, 9, -2, 9)), 0, 0, 1, 0, NULL,
          TB_I64S(3));
}

static void argmax_errors(void **state)
{
    (void)state;
    tb_op_t o;
    inferd_tensor_t *y;
    inferd_err_t err;
    tb_op_init(&o, 13, "ArgMax");
    tb_op_input(&o, a23());
    tb_attr_int(o.m, o.node, "axis", 2);
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_E_INVALID_ARG);
    tb_expect_msg(&err, "axis 2 is out of range for rank 2");

    tb_op_init(&o, 13, "ArgMax");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 0), NULL));
    tb_attr_int(o.m, o.node, "axis", 1);
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_E_INVALID_ARG);
    tb_expect_msg(&err, "cannot take ArgMax over empty axis 1");
    assert_null(y);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(argmax_axes_and_keepdims),
        cmocka_unit_test(argmax_ties),
        cmocka_unit_test(argmax_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
