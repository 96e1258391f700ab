/* Tests for src/backends/onnx/ops/binary.c: Add, Sub, Mul, Div with numpy broadcasting,
 * the legacy broadcast attributes of opset 6, integer wrap-around and truncating
 * division, and shape errors. Expected values come from numpy (float) or by hand (int). */
#include "test.h"

#include <stdint.h>

#include "onnx_test_util.h"

/* Runs op(a, b) at opset and checks the result. */
static void check(int64_t opset, const char *op, inferd_tensor_t *a, inferd_tensor_t *b,
                  inferd_dtype_t dt, int ndim, const int64_t *dims, const void *want)
{
    tb_op_t o;
    tb_op_init(&o, opset, op);
    tb_op_input(&o, a);
    tb_op_input(&o, b);
    inferd_tensor_t *y;
    inferd_err_t err;
    if (tb_op_run(&o, &y, &err) != INFERD_OK)
        fail_msg("%s failed: %s", op, err.msg);
    tb_expect(y, dt, ndim, dims, want, 1e-6);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

#define F32(nd, d, ...) tb_t(INFERD_DTYPE_FP32, nd, d, TB_F32S(__VA_ARGS__))

static void float_same_shape_and_row_broadcast(void **state)
{
    (void)state;
    check(14, "Add", F32(2, TB_DIMS(2, 3), 1, 2, 3, 4, 5, 6),
          F32(2, TB_DIMS(2, 3), 0.5f, -1, 2, 10, 20, 30), INFERD_DTYPE_FP32, 2, TB_DIMS(2, 3),
          TB_F32S(1.5f, 1, 5, 14, 25, 36));
    check(13, "Sub", F32(2, TB_DIMS(2, 3), 1, 2, 3, 4, 5, 6), F32(1, TB_DIMS(3), 1, 2, 3),
          INFERD_DTYPE_FP32, 2, TB_DIMS(2, 3), TB_F32S(0, 0, 0, 3, 3, 3));
    /* The row on the left: b - a. */
    check(7, "Sub", F32(1, TB_DIMS(3), 1, 2, 3), F32(2, TB_DIMS(2, 3), 1, 2, 3, 4, 5, 6),
          INFERD_DTYPE_FP32, 2, TB_DIMS(2, 3), TB_F32S(0, 0, 0, -3, -3, -3));
}

static void float_broadcast_both_ways(void **state)
{
    (void)state;
    /* [2,1,3] * [4,1] -> [2,4,3] */
    check(13, "Mul", F32(3, TB_DIMS(2, 1, 3), 1.5f, -2, 3, 0.25f, 4, -8),
          F32(2, TB_DIMS(4, 1), 1, -2, 0.5f, 3), INFERD_DTYPE_FP32, 3, TB_DIMS(2, 4, 3),
          TB_F32S(1.5f, -2, 3, -3, 4, -6, 0.75f, -1, 1.5f, 4.5f, -6, 9, 0.25f, 4, -8, -0.5f, -8, 16,
                  0.125f, 2, -4, 0.75f, 12, -24));
    /* [3,1,2] * [1,4,1] -> [3,4,2]: broadcasting in the middle and on both ends. */
    check(13, "Mul", F32(3, TB_DIMS(3, 1, 2), 0.5f, 1.5f, 2.5f, 3.5f, 4.5f, 5.5f),
          F32(3, TB_DIMS(1, 4, 1), 1, 2, 3, 4), INFERD_DTYPE_FP32, 3, TB_DIMS(3, 4, 2),
          TB_F32S(0.5f, 1.5f, 1, 3, 1.5f, 4.5f, 2, 6, 2.5f, 3.5f, 5, 7, 7.5f, 10.5f, 10, 14, 4.5f,
                  5.5f, 9, 11, 13.5f, 16.5f, 18, 22));
    /* An empty dim broadcasts to empty. */
    check(13, "Add", tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(0, 3), NULL), F32(1, TB_DIMS(3), 1, 2, 3),
          INFERD_DTYPE_FP32, 2, TB_DIMS(0, 3), NULL);
}

static void double_divide_by_scalar(void **state)
{
    (void)state;
    check(13, "Div", tb_t(INFERD_DTYPE_FP64, 2, TB_DIMS(2, 2), TB_F64S(1, 2, 3, -5)),
          tb_t(INFERD_DTYPE_FP64, 0, NULL, TB_F64S(4)), INFERD_DTYPE_FP64, 2, TB_DIMS(2, 2),
          TB_F64S(0.25, 0.5, 0.75, -1.25));
}

static void same_input_twice(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "Mul");
    tb_op_input(&o, F32(1, TB_DIMS(3), -2, 3, 0.5f));
    o.node->input[o.node->n_input++] = o.node->input[0]; /* Mul(i0, i0) */
    inferd_tensor_t *y;
    inferd_err_t err;
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 1, TB_DIMS(3), TB_F32S(4, 9, 0.25f), 0);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

static void integer_semantics(void **state)
{
    (void)state;
    /* Division truncates toward zero; INT32_MIN / -1 wraps instead of trapping. */
    check(13, "Div", tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(5), TB_I32S(7, -7, 7, -7, INT32_MIN)),
          tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(5), TB_I32S(2, 2, -2, -2, -1)), INFERD_DTYPE_INT32, 1,
          TB_DIMS(5), TB_I32S(3, -3, -3, 3, INT32_MIN));
    check(13, "Div", tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(2), TB_I64S(-9, 9)),
          tb_t(INFERD_DTYPE_INT64, 0, NULL, TB_I64S(4)), INFERD_DTYPE_INT64, 1, TB_DIMS(2),
          TB_I64S(-2, 2));
    /* Signed overflow wraps (two's complement), it is not undefined behaviour here. */
    check(13, "Add", tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(2), TB_I64S(INT64_MAX, -1)),
          tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(2), TB_I64S(1, 1)), INFERD_DTYPE_INT64, 1, TB_DIMS(2),
          TB_I64S(INT64_MIN, 0));
    check(13, "Mul", tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(2), TB_I32S(65536, -3)),
          tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(2), TB_I32S(65536, 7)), INFERD_DTYPE_INT32, 1,
          TB_DIMS(2), TB_I32S(0, -21));
    check(14, "Sub", tb_t(INFERD_DTYPE_UINT8, 1, TB_DIMS(2), (uint8_t[]){1, 200}),
          tb_t(INFERD_DTYPE_UINT8, 1, TB_DIMS(2), (uint8_t[]){2, 100}), INFERD_DTYPE_UINT8, 1,
          TB_DIMS(2), (uint8_t[]){255, 100});
    check(14, "Mul", tb_t(INFERD_DTYPE_UINT16, 1, TB_DIMS(1), (uint16_t[]){65535}),
          tb_t(INFERD_DTYPE_UINT16, 1, TB_DIMS(1), (uint16_t[]){65535}), INFERD_DTYPE_UINT16, 1,
          TB_DIMS(1), (uint16_t[]){1});
}

static void legacy_broadcast_attributes(void **state)
{
    (void)state;
    /* Opset 6, broadcast=1, axis=1: B [3] lines up with A's dim 1. */
    tb_op_t o;
    tb_op_init(&o, 6, "Add");
    float x[24];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(2, 3, 4), x));
    tb_op_input(&o, F32(1, TB_DIMS(3), 10, 20, 30));
    tb_attr_int(o.m, o.node, "broadcast", 1);
    tb_attr_int(o.m, o.node, "axis", 1);
    inferd_tensor_t *y;
    inferd_err_t err;
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 3, TB_DIMS(2, 3, 4),
              TB_F32S(10, 11, 12, 13, 24, 25, 26, 27, 38, 39, 40, 41, 22, 23, 24, 25, 36, 37, 38,
                      39, 50, 51, 52, 53),
              0);
    inferd_tensor_unref(y);

    /* Without axis, B lines up with A's trailing dims. */
    tb_op_init(&o, 6, "Mul");
    tb_op_input(&o, F32(2, TB_DIMS(2, 3), 1, 2, 3, 4, 5, 6));
    tb_op_input(&o, F32(1, TB_DIMS(3), 1, 0, -1));
    tb_attr_int(o.m, o.node, "broadcast", 1);
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 3), TB_F32S(1, 0, -3, 4, 0, -6), 0);
    inferd_tensor_unref(y);

    /* Without broadcast=1 the shapes must be equal, even where numpy would broadcast. */
    tb_op_init(&o, 6, "Add");
    tb_op_input(&o, F32(2, TB_DIMS(2, 3), 1, 2, 3, 4, 5, 6));
    tb_op_input(&o, F32(1, TB_DIMS(3), 1, 2, 3));
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_E_INVALID_ARG);
    tb_expect_msg(&err, "shapes [2,3] and [3] differ and broadcast is not set");
    assert_no_live_tensors();
}

static void errors(void **state)
{
    (void)state;
    tb_op_t o;
    inferd_tensor_t *y;
    inferd_err_t err;
    tb_op_init(&o, 14, "Add");
    tb_op_input(&o, F32(2, TB_DIMS(2, 3), 1, 2, 3, 4, 5, 6));
    tb_op_input(&o, F32(1, TB_DIMS(2), 1, 2));
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_E_INVALID_ARG);
    tb_expect_msg(&err, "shapes [2,3] and [2] cannot be broadcast");
    assert_null(y);

    tb_op_init(&o, 14, "Div");
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(2), TB_I32S(1, 2)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(2), TB_I32S(1, 0)));
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_E_INVALID_ARG);
    tb_expect_msg(&err, "integer division by zero");

    tb_op_init(&o, 14, "Add");
    tb_op_input(&o, tb_t(INFERD_DTYPE_BOOL, 1, TB_DIMS(2), NULL));
    tb_op_input(&o, tb_t(INFERD_DTYPE_BOOL, 1, TB_DIMS(2), NULL));
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_E_UNSUPPORTED);
    tb_expect_msg(&err, "no kernel for input 0 of type BOOL");
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(float_same_shape_and_row_broadcast),
        cmocka_unit_test(float_broadcast_both_ways),
        cmocka_unit_test(double_divide_by_scalar),
        cmocka_unit_test(same_input_twice),
        cmocka_unit_test(integer_semantics),
        cmocka_unit_test(legacy_broadcast_attributes),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
