/* Tests for src/backends/onnx/ops/activation.c: Relu, Sigmoid, Tanh on floats, Relu on
 * integers (opset 14), extreme inputs, and a dtype without a kernel. Expected values come
 * from numpy. */
#include "test.h"

#include "onnx_test_util.h"

static void check(int64_t opset, const char *op, inferd_tensor_t *x, inferd_dtype_t dt,
                  const void *want, double tol)
{
    int ndim = x->ndim;
    int64_t dims[INFERD_MAX_DIMS];
    for (int i = 0; i < ndim; i++)
        dims[i] = x->dims[i];
    tb_op_t o;
    tb_op_init(&o, opset, op);
    tb_op_input(&o, x);
    inferd_tensor_t *y;
    inferd_err_t err;
    if (tb_op_run(&o, &y, &err) != INFERD_OK)
        fail_msg("%s failed: %s", op, err.msg);
    tb_expect(y, dt, ndim, dims, want, tol);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

#define XS -100.0f, -1.0f, 0.0f, 1.0f, 100.0f, -0.5f

static void relu(void **state)
{
    (void)state;
    check(13, "Relu", tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 3), TB_F32S(XS)), INFERD_DTYPE_FP32,
          TB_F32S(0, 0, 0, 1, 100, 0), 0);
    check(6, "Relu", tb_t(INFERD_DTYPE_FP64, 1, TB_DIMS(3), TB_F64S(-1e300, 0, 2.5)),
          INFERD_DTYPE_FP64, TB_F64S(0, 0, 2.5), 0);
    check(14, "Relu", tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(3), TB_I32S(INT32_MIN, 0, 7)),
          INFERD_DTYPE_INT32, TB_I32S(0, 0, 7), 0);
    check(14, "Relu", tb_t(INFERD_DTYPE_INT64, 0, NULL, TB_I64S(-5)), INFERD_DTYPE_INT64,
          TB_I64S(0), 0);
}

static void sigmoid(void **state)
{
    (void)state;
    /* Large magnitudes must saturate towards 0 and 1, never produce NaN. */
    check(13, "Sigmoid", tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(6), TB_F32S(XS)), INFERD_DTYPE_FP32,
          TB_F32S(3.78350585e-44f, 0.268941432f, 0.5f, 0.731058598f, 1, 0.377540678f), 1e-6);
    check(6, "Sigmoid", tb_t(INFERD_DTYPE_FP64, 1, TB_DIMS(2), TB_F64S(0, 2)), INFERD_DTYPE_FP64,
          TB_F64S(0.5, 0.8807970779778825), 1e-12);
}

static void tanh_op(void **state)
{
    (void)state;
    check(13, "Tanh", tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(6), TB_F32S(XS)), INFERD_DTYPE_FP32,
          TB_F32S(-1, -0.761594176f, 0, 0.761594176f, 1, -0.462117195f), 1e-6);
    check(1, "Tanh", tb_t(INFERD_DTYPE_FP64, 1, TB_DIMS(6), TB_F64S(XS)), INFERD_DTYPE_FP64,
          TB_F64S(-1.0, -0.7615941559557649, 0.0, 0.7615941559557649, 1.0, -0.46211715726000974),
          1e-12);
}

static void unsupported_dtype(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "Sigmoid");
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(1), NULL));
    inferd_tensor_t *y;
    inferd_err_t err;
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_E_UNSUPPORTED);
    tb_expect_msg(&err, "(Sigmoid, opset 13): no kernel for input 0 of type INT32");
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(relu),
        cmocka_unit_test(sigmoid),
        cmocka_unit_test(tanh_op),
        cmocka_unit_test(unsupported_dtype),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
