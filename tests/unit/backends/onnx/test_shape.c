/* Tests for src/backends/onnx/ops/shape.c: Identity, Reshape (0, -1, allowzero, the
 * opset-1 attribute form), Flatten, Squeeze and Unsqueeze (axes as attribute and as
 * input, negative axes), and Shape (start/end from opset 15). All but Shape must return
 * views that share the input's data. */
#include "test.h"

#include "onnx_test_util.h"

static float data24[24];

static inferd_tensor_t *x234(void)
{
    for (int i = 0; i < 24; i++)
        data24[i] = (float)i;
    return tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(2, 3, 4), data24);
}

/* Runs o (whose input 0 is x, referenced by the caller too) and checks the output is a
 * view of x with the given shape. */
static void expect_view(tb_op_t *o, inferd_tensor_t *x, int ndim, const int64_t *dims)
{
    inferd_tensor_t *y;
    inferd_err_t err;
    if (tb_op_run(o, &y, &err) != INFERD_OK)
        fail_msg("run failed: %s", err.msg);
    assert_ptr_equal(y->data, x->data);
    assert_int_equal(y->nbytes, x->nbytes);
    tb_expect(y, x->dtype, ndim, dims, x->data, 0);
    inferd_tensor_unref(y);
    inferd_tensor_unref(x);
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

static void identity(void **state)
{
    (void)state;
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(3), TB_I64S(1, 2, 3));
    tb_op_t o;
    tb_op_init(&o, 16, "Identity");
    tb_op_input(&o, inferd_tensor_ref(x));
    expect_view(&o, x, 1, TB_DIMS(3));
}

static void reshape(void **state)
{
    (void)state;
    tb_op_t o;
    inferd_tensor_t *x = x234();
    /* 0 copies the input's dim 1; -1 takes what is left. */
    tb_op_init(&o, 14, "Reshape");
    tb_op_input(&o, inferd_tensor_ref(x));
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(3), TB_I64S(4, 0, -1)));
    expect_view(&o, x, 3, TB_DIMS(4, 3, 2));

    x = x234();
    tb_op_init(&o, 13, "Reshape");
    tb_op_input(&o, inferd_tensor_ref(x));
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(1), TB_I64S(-1)));
    expect_view(&o, x, 1, TB_DIMS(24));

    /* Opset 1: the shape is an attribute. */
    x = x234();
    tb_op_init(&o, 1, "Reshape");
    tb_op_input(&o, inferd_tensor_ref(x));
    tb_attr_ints(o.m, o.node, "shape", 2, TB_I64S(6, 4));
    expect_view(&o, x, 2, TB_DIMS(6, 4));

    /* allowzero: a 0 is a real zero-sized dim. */
    x = tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(0, 3), NULL);
    tb_op_init(&o, 14, "Reshape");
    tb_op_input(&o, inferd_tensor_ref(x));
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(3), TB_I64S(3, 0, 5)));
    tb_attr_int(o.m, o.node, "allowzero", 1);
    expect_view(&o, x, 3, TB_DIMS(3, 0, 5));
}

static void reshape_errors(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 14, "Reshape");
    tb_op_input(&o, x234());
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(2), TB_I64S(5, 5)));
    expect_err(&o, INFERD_E_INVALID_ARG, "cannot reshape [2,3,4] to [5,5]");

    tb_op_init(&o, 14, "Reshape");
    tb_op_input(&o, x234());
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(2), TB_I64S(-1, -1)));
    expect_err(&o, INFERD_E_INVALID_ARG, "more than one -1");

    tb_op_init(&o, 14, "Reshape");
    tb_op_input(&o, x234());
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(2), TB_I64S(-1, 5)));
    expect_err(&o, INFERD_E_INVALID_ARG, "cannot reshape [2,3,4] to [-1,5]");

    tb_op_init(&o, 14, "Reshape");
    tb_op_input(&o, x234());
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(5), TB_I64S(1, 1, 1, 0, 24)));
    expect_err(&o, INFERD_E_INVALID_ARG, "copies dimension 3 of [2,3,4], which has none");

    tb_op_init(&o, 14, "Reshape");
    tb_op_input(&o, x234());
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(1), TB_I32S(24)));
    expect_err(&o, INFERD_E_INVALID_ARG, "the shape input must be INT64, got INT32");
}

static void flatten(void **state)
{
    (void)state;
    const int64_t axes[5] = {0, 2, -1, 3, 1};
    const int64_t want[5][2] = {{1, 24}, {6, 4}, {6, 4}, {24, 1}, {2, 12}};
    for (int i = 0; i < 5; i++) {
        inferd_tensor_t *x = x234();
        tb_op_t o;
        tb_op_init(&o, 13, "Flatten");
        tb_op_input(&o, inferd_tensor_ref(x));
        if (i < 4)
            tb_attr_int(o.m, o.node, "axis", axes[i]); /* the last case uses the default */
        expect_view(&o, x, 2, want[i]);
    }
    tb_op_t o;
    tb_op_init(&o, 13, "Flatten");
    tb_op_input(&o, x234());
    tb_attr_int(o.m, o.node, "axis", 4);
    expect_err(&o, INFERD_E_INVALID_ARG, "axis 4 is out of range for rank 3");
}

static void squeeze(void **state)
{
    (void)state;
    tb_op_t o;
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, 3, 1, 2), NULL);
    tb_op_init(&o, 13, "Squeeze");
    tb_op_input(&o, inferd_tensor_ref(x));
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(1), TB_I64S(-2)));
    expect_view(&o, x, 3, TB_DIMS(1, 3, 2));

    x = tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, 3, 1, 2), NULL);
    tb_op_init(&o, 11, "Squeeze");
    tb_op_input(&o, inferd_tensor_ref(x));
    tb_attr_ints(o.m, o.node, "axes", 2, TB_I64S(0, 2));
    expect_view(&o, x, 2, TB_DIMS(3, 2));

    /* No axes: every 1 goes. */
    x = tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, 3, 1, 2), NULL);
    tb_op_init(&o, 13, "Squeeze");
    tb_op_input(&o, inferd_tensor_ref(x));
    expect_view(&o, x, 2, TB_DIMS(3, 2));

    tb_op_init(&o, 13, "Squeeze");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, 3, 1, 2), NULL));
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(1), TB_I64S(1)));
    expect_err(&o, INFERD_E_INVALID_ARG, "cannot squeeze axis 1 of [1,3,1,2]");
}

static void unsqueeze(void **state)
{
    (void)state;
    tb_op_t o;
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_INT32, 2, TB_DIMS(3, 4), NULL);
    tb_op_init(&o, 13, "Unsqueeze");
    tb_op_input(&o, inferd_tensor_ref(x));
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(2), TB_I64S(0, -1)));
    expect_view(&o, x, 4, TB_DIMS(1, 3, 4, 1));

    x = tb_t(INFERD_DTYPE_INT32, 2, TB_DIMS(3, 4), NULL);
    tb_op_init(&o, 11, "Unsqueeze");
    tb_op_input(&o, inferd_tensor_ref(x));
    tb_attr_ints(o.m, o.node, "axes", 1, TB_I64S(1));
    expect_view(&o, x, 3, TB_DIMS(3, 1, 4));

    /* A scalar becomes a 1-element vector. */
    x = tb_t(INFERD_DTYPE_INT64, 0, NULL, TB_I64S(7));
    tb_op_init(&o, 13, "Unsqueeze");
    tb_op_input(&o, inferd_tensor_ref(x));
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(1), TB_I64S(0)));
    expect_view(&o, x, 1, TB_DIMS(1));

    tb_op_init(&o, 13, "Unsqueeze");
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT32, 2, TB_DIMS(3, 4), NULL));
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(2), TB_I64S(1, -3)));
    expect_err(&o, INFERD_E_INVALID_ARG, "axis -3 is repeated");

    tb_op_init(&o, 11, "Unsqueeze");
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT32, 2, TB_DIMS(3, 4), NULL));
    expect_err(&o, INFERD_E_INVALID_ARG, "attribute 'axes' is required");
}

static void check_shape(int64_t opset, inferd_tensor_t *x, bool has_start, int64_t start,
                        bool has_end, int64_t end, int64_t n, const int64_t *want)
{
    tb_op_t o;
    tb_op_init(&o, opset, "Shape");
    tb_op_input(&o, x);
    if (has_start)
        tb_attr_int(o.m, o.node, "start", start);
    if (has_end)
        tb_attr_int(o.m, o.node, "end", end);
    inferd_tensor_t *y;
    inferd_err_t err;
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_INT64, 1, &n, want, 0);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

static void shape(void **state)
{
    (void)state;
    check_shape(13, x234(), false, 0, false, 0, 3, TB_I64S(2, 3, 4));
    check_shape(15, x234(), true, 1, false, 0, 2, TB_I64S(3, 4));
    check_shape(15, x234(), true, -1, false, 0, 1, TB_I64S(4));
    check_shape(15, x234(), false, 0, true, -1, 2, TB_I64S(2, 3));
    check_shape(15, x234(), true, -10, true, 10, 3, TB_I64S(2, 3, 4)); /* clamped */
    check_shape(15, x234(), true, 2, true, 1, 0, NULL);                /* empty */
    check_shape(13, tb_t(INFERD_DTYPE_BOOL, 0, NULL, NULL), false, 0, false, 0, 0, NULL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(identity), cmocka_unit_test(reshape), cmocka_unit_test(reshape_errors),
        cmocka_unit_test(flatten),  cmocka_unit_test(squeeze), cmocka_unit_test(unsqueeze),
        cmocka_unit_test(shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
