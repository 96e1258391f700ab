/* Tests for src/backends/onnx/ops/movement.c: Transpose (default and explicit perm, 1-
 * and 8-byte elements), Concat (axes, negative axis, empty inputs, mismatches) and Gather
 * (axes, negative and scalar indices, INT32 indices, out-of-range indices). Expected
 * values come from numpy (np.transpose, np.concatenate, np.take). */
#include "test.h"

#include "onnx_test_util.h"

static void expect_ok(tb_op_t *o, inferd_dtype_t dt, int ndim, const int64_t *dims,
                      const void *want)
{
    inferd_tensor_t *y;
    inferd_err_t err;
    if (tb_op_run(o, &y, &err) != INFERD_OK)
        fail_msg("run failed: %s", err.msg);
    tb_expect(y, dt, ndim, dims, want, 0);
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

static inferd_tensor_t *i64_234(void)
{
    int64_t v[24];
    for (int i = 0; i < 24; i++)
        v[i] = i;
    return tb_t(INFERD_DTYPE_INT64, 3, TB_DIMS(2, 3, 4), v);
}

static void transpose(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "Transpose");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 3), TB_F32S(1, 2, 3, 4, 5, 6)));
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(3, 2), TB_F32S(1, 4, 2, 5, 3, 6));

    tb_op_init(&o, 1, "Transpose");
    tb_op_input(&o, i64_234());
    tb_attr_ints(o.m, o.node, "perm", 3, TB_I64S(1, 2, 0));
    expect_ok(&o, INFERD_DTYPE_INT64, 3, TB_DIMS(3, 4, 2),
              TB_I64S(0, 12, 1, 13, 2, 14, 3, 15, 4, 16, 5, 17, 6, 18, 7, 19, 8, 20, 9, 21, 10, 22,
                      11, 23));

    tb_op_init(&o, 13, "Transpose");
    tb_op_input(&o, tb_t(INFERD_DTYPE_UINT8, 3, TB_DIMS(2, 2, 2),
                         ((const uint8_t[]){0, 1, 2, 3, 4, 5, 6, 7})));
    tb_attr_ints(o.m, o.node, "perm", 3, TB_I64S(2, 0, 1));
    expect_ok(&o, INFERD_DTYPE_UINT8, 3, TB_DIMS(2, 2, 2),
              ((const uint8_t[]){0, 2, 4, 6, 1, 3, 5, 7}));

    tb_op_init(&o, 13, "Transpose");
    tb_op_input(&o, i64_234());
    tb_attr_ints(o.m, o.node, "perm", 2, TB_I64S(1, 0));
    expect_err(&o, INFERD_E_INVALID_ARG, "perm has 2 entries but the input has rank 3");

    tb_op_init(&o, 13, "Transpose");
    tb_op_input(&o, i64_234());
    tb_attr_ints(o.m, o.node, "perm", 3, TB_I64S(0, 0, 1));
    expect_err(&o, INFERD_E_INVALID_ARG, "perm is not a permutation");
}

static void concat(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "Concat");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(1, 2), TB_F32S(1, 2)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_F32S(3, 4, 5, 6)));
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(0, 2), NULL));
    tb_attr_int(o.m, o.node, "axis", 0);
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(3, 2), TB_F32S(1, 2, 3, 4, 5, 6));

    tb_op_init(&o, 11, "Concat");
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT64, 2, TB_DIMS(2, 1), TB_I64S(1, 2)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT64, 2, TB_DIMS(2, 3), TB_I64S(3, 4, 5, 6, 7, 8)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT64, 2, TB_DIMS(2, 2), TB_I64S(9, 10, 11, 12)));
    tb_attr_int(o.m, o.node, "axis", -1);
    expect_ok(&o, INFERD_DTYPE_INT64, 2, TB_DIMS(2, 6),
              TB_I64S(1, 3, 4, 5, 9, 10, 2, 6, 7, 8, 11, 12));

    /* Opset 1 defaults to axis 1. */
    tb_op_init(&o, 1, "Concat");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(1, 1), TB_F32S(1)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(1, 2), TB_F32S(2, 3)));
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(1, 3), TB_F32S(1, 2, 3));

    tb_op_init(&o, 13, "Concat");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), NULL));
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(3, 3), NULL));
    tb_attr_int(o.m, o.node, "axis", 0);
    expect_err(&o, INFERD_E_INVALID_ARG,
               "input 1 [3,3] does not match input 0 [2,2] outside axis 0");

    tb_op_init(&o, 13, "Concat");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(2), NULL));
    expect_err(&o, INFERD_E_INVALID_ARG, "attribute 'axis' is required");
}

static void gather(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "Gather");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(3, 2), TB_F32S(1, 2, 3, 4, 5, 6)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT64, 2, TB_DIMS(2, 2), TB_I64S(0, 2, 1, -1)));
    expect_ok(&o, INFERD_DTYPE_FP32, 3, TB_DIMS(2, 2, 2), TB_F32S(1, 2, 5, 6, 3, 4, 5, 6));

    /* A scalar index drops the axis. */
    tb_op_init(&o, 11, "Gather");
    tb_op_input(&o, i64_234());
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT32, 0, NULL, TB_I32S(1)));
    tb_attr_int(o.m, o.node, "axis", 1);
    expect_ok(&o, INFERD_DTYPE_INT64, 2, TB_DIMS(2, 4), TB_I64S(4, 5, 6, 7, 16, 17, 18, 19));

    tb_op_init(&o, 13, "Gather");
    tb_op_input(&o, i64_234());
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(2), TB_I32S(3, 0)));
    tb_attr_int(o.m, o.node, "axis", -1);
    expect_ok(&o, INFERD_DTYPE_INT64, 3, TB_DIMS(2, 3, 2),
              TB_I64S(3, 0, 7, 4, 11, 8, 15, 12, 19, 16, 23, 20));

    tb_op_init(&o, 1, "Gather");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(3, 2), TB_F32S(1, 2, 3, 4, 5, 6)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(1), TB_I64S(2)));
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(1, 2), TB_F32S(5, 6));

    tb_op_init(&o, 13, "Gather");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(3, 2), NULL));
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(2), TB_I64S(1, -4)));
    expect_err(&o, INFERD_E_INVALID_ARG, "index -4 is out of range for axis 0 of size 3");

    tb_op_init(&o, 13, "Gather");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(3, 2), NULL));
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(1), NULL));
    expect_err(&o, INFERD_E_INVALID_ARG, "indices must be INT32 or INT64, got FP32");

    tb_op_init(&o, 13, "Gather");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(3, 2), NULL));
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(1), TB_I64S(0)));
    tb_attr_int(o.m, o.node, "axis", 2);
    expect_err(&o, INFERD_E_INVALID_ARG, "axis 2 is out of range for rank 2");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(transpose),
        cmocka_unit_test(concat),
        cmocka_unit_test(gather),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
