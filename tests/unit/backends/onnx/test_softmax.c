/* Tests for src/backends/onnx/ops/softmax.c: Softmax and LogSoftmax per axis (opset 13)
 * and with the 2-D coercion of opsets 1 and 11, numerical stability, FP64, and a bad
 * axis. Expected values come from numpy. */
#include "test.h"

#include "onnx_test_util.h"

static inferd_status_t run(int64_t opset, const char *op, inferd_tensor_t *x, bool has_axis,
                           int64_t axis, inferd_tensor_t **y, inferd_err_t *err)
{
    tb_op_t o;
    tb_op_init(&o, opset, op);
    tb_op_input(&o, x);
    if (has_axis)
        tb_attr_int(o.m, o.node, "axis", axis);
    return tb_op_run(&o, y, err);
}

static void check(int64_t opset, const char *op, inferd_tensor_t *x, bool has_axis, int64_t axis,
                  const void *want, double tol)
{
    inferd_dtype_t dt = x->dtype;
    int ndim = x->ndim;
    int64_t dims[INFERD_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        dims[i] = x->dims[i];
    inferd_tensor_t *y;
    inferd_err_t err;
    if (run(opset, op, x, has_axis, axis, &y, &err) != INFERD_OK)
        fail_msg("%s failed: %s", op, err.msg);
    tb_expect(y, dt, ndim, dims, want, tol);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

#define S23 tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 3), TB_F32S(1, 2, 3, -1, 0, 5))
#define T232                                                                                       \
    tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(2, 3, 2), TB_F32S(1, 2, 3, 4, 5, 6, -1, 0, 1, 2, 3, 10))

static void softmax_per_axis(void **state)
{
    (void)state;
    const float last[6] = {0.0900305733f,  0.244728476f,   0.665240943f,
                           0.00245611486f, 0.00667641265f, 0.990867496f};
    check(13, "Softmax", S23, false, 0, last, 1e-6); /* default axis -1 */
    check(13, "Softmax", S23, true, 1, last, 1e-6);
    check(
        13, "Softmax", S23, true, 0,
        TB_F32S(0.880797088f, 0.880797088f, 0.119202919f, 0.119202919f, 0.119202919f, 0.880797088f),
        1e-6);
    /* The middle axis of [2,3,2]: strided rows. */
    check(13, "Softmax", T232, true, -2,
          TB_F32S(0.0158762392f, 0.0158762392f, 0.117310427f, 0.117310427f, 0.866813362f,
                  0.866813362f, 0.0158762392f, 4.53826469e-05f, 0.117310427f, 0.000335334917f,
                  0.866813362f, 0.999619305f),
          1e-6);
}

static void softmax_coerced_2d_before_13(void **state)
{
    (void)state;
    /* Opset 11, axis 1 on [2,3,2]: each of the 2 rows of 6 is normalized as a whole. */
    const float coerced[12] = {0.00426977873f,  0.0116064614f,   0.0315496325f,   0.0857607946f,
                               0.233122006f,    0.633691311f,    1.66778045e-05f, 4.53349712e-05f,
                               0.000123233229f, 0.000334982644f, 0.000910577248f, 0.998569191f};
    check(11, "Softmax", T232, true, 1, coerced, 1e-6);
    check(1, "Softmax", T232, false, 0, coerced, 1e-6); /* default axis 1 */
}

static void softmax_is_stable_and_double(void **state)
{
    (void)state;
    check(13, "Softmax", tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(1, 3), TB_F32S(1000, 1001, 1002)),
          false, 0, TB_F32S(0.0900305733f, 0.244728476f, 0.665240943f), 1e-6);
    check(13, "Softmax", tb_t(INFERD_DTYPE_FP64, 2, TB_DIMS(2, 3), TB_F64S(1, 2, 3, -1, 0, 5)),
          false, 0,
          TB_F64S(0.09003057317038043, 0.24472847105479767, 0.6652409557748218,
                  0.0024561149044509535, 0.006676412513376451, 0.9908674725821726),
          1e-12);
}

static void log_softmax(void **state)
{
    (void)state;
    check(13, "LogSoftmax", S23, false, 0,
          TB_F32S(-2.40760589f, -1.40760601f, -0.407605976f, -6.00917435f, -5.00917435f,
                  -0.00917448476f),
          1e-6);
    check(11, "LogSoftmax", T232, true, 1,
          TB_F32S(-5.45619345f, -4.45619345f, -3.45619321f, -2.45619321f, -1.45619333f,
                  -0.456193328f, -11.0014315f, -10.0014315f, -9.00143147f, -8.00143147f,
                  -7.00143194f, -0.00143183046f),
          1e-6);
}

static void bad_axis(void **state)
{
    (void)state;
    inferd_tensor_t *y;
    inferd_err_t err;
    assert_int_equal(run(13, "Softmax", S23, true, 2, &y, &err), INFERD_E_INVALID_ARG);
    tb_expect_msg(&err, "axis 2 is out of range for rank 2");
    assert_int_equal(run(13, "LogSoftmax", S23, true, -3, &y, &err), INFERD_E_INVALID_ARG);
    assert_null(y);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(softmax_per_axis),
        cmocka_unit_test(softmax_coerced_2d_before_13),
        cmocka_unit_test(softmax_is_stable_and_double),
        cmocka_unit_test(log_softmax),
        cmocka_unit_test(bad_axis),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
