/* Tests for the paths of src/backends/onnx/ops/pool.c, norm.c and resize.c that ONNX 1.12's
 * node test data does not exercise: LpPool and GlobalLpPool, LpNormalization (p = 1 and
 * 2), Upsample-7 (scales as an attribute), Upsample-9 linear, Resize-18's axes and
 * keep_aspect_ratio_policy, GroupNormalization (18: per-group, 21: per-channel affine)
 * and MaxRoiPool. Expected values worked out by hand from the spec formulas. And the
 * FP32 MaxPool fast paths (2x2 stride 2, and clamped tap rows) against the generic walk
 * that FP64 takes, with padding and ceil_mode. */
#include "test.h"

#include "onnx_test_util.h"

static inferd_tensor_t *x23(void)
{
    return tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 2, 3), TB_F32S(1, 2, 3, 4, 5, 6));
}

static void lp_pools(void **state)
{
    (void)state;
    tb_op_t o;
    inferd_tensor_t *y;
    inferd_err_t err;
    /* 2x2 windows: sqrt(1+4+16+25), sqrt(4+9+25+36). */
    tb_op_init(&o, 11, "LpPool");
    tb_op_input(&o, x23());
    tb_attr_ints(o.m, o.node, "kernel_shape", 2, TB_I64S(2, 2));
    tb_attr_int(o.m, o.node, "p", 2);
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 1, 2), TB_F32S(6.7823300f, 8.6023253f), 1e-6);
    inferd_tensor_unref(y);
    /* p = 1 over the whole plane: the sum of absolute values. */
    tb_op_init(&o, 2, "GlobalLpPool");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 2, 2), TB_F32S(1, -2, 3, -4)));
    tb_attr_int(o.m, o.node, "p", 1);
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 1, 1), TB_F32S(10), 1e-6);
    inferd_tensor_unref(y);
    /* Default p = 2: sqrt(91). */
    tb_op_init(&o, 2, "GlobalLpPool");
    tb_op_input(&o, x23());
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 1, 1), TB_F32S(9.5393920f), 1e-6);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

static void lp_normalization(void **state)
{
    (void)state;
    tb_op_t o;
    inferd_tensor_t *y;
    inferd_err_t err;
    tb_op_init(&o, 1, "LpNormalization");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_F32S(1, -3, 2, 2)));
    tb_attr_int(o.m, o.node, "axis", 1);
    tb_attr_int(o.m, o.node, "p", 1);
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_F32S(0.25f, -0.75f, 0.5f, 0.5f), 1e-6);
    inferd_tensor_unref(y);
    /* Default axis -1 and p 2; along axis 0 this time through a [2,1] input. */
    tb_op_init(&o, 1, "LpNormalization");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 1), TB_F32S(3, 4)));
    tb_attr_int(o.m, o.node, "axis", 0);
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 1), TB_F32S(0.6f, 0.8f), 1e-6);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

static void upsample(void **state)
{
    (void)state;
    tb_op_t o;
    inferd_tensor_t *y;
    inferd_err_t err;
    tb_op_init(&o, 7, "Upsample");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 2, 2), TB_F32S(1, 2, 3, 4)));
    tb_attr_floats(o.m, o.node, "scales", 4, TB_F32S(1, 1, 2, 2));
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 4, 4),
              TB_F32S(1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4), 0);
    inferd_tensor_unref(y);
    /* Linear, asymmetric: x = o / 2, the last column clamps to the edge. */
    tb_op_init(&o, 9, "Upsample");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 1, 2), TB_F32S(1, 3)));
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(4), TB_F32S(1, 1, 1, 2)));
    tb_attr_string(o.m, o.node, "mode", "linear");
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 1, 4), TB_F32S(1, 2, 3, 3), 1e-6);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

static void resize18_axes_and_aspect(void **state)
{
    (void)state;
    tb_op_t o;
    inferd_tensor_t *y;
    inferd_err_t err;
    /* scales for axis 3 only: each column doubled (half_pixel, round_prefer_floor). */
    tb_op_init(&o, 18, "Resize");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 2, 2), TB_F32S(1, 2, 3, 4)));
    tb_op_skip(&o);
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(1), TB_F32S(2)));
    tb_attr_ints(o.m, o.node, "axes", 1, TB_I64S(3));
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 2, 4), TB_F32S(1, 1, 2, 2, 3, 3, 4, 4), 0);
    inferd_tensor_unref(y);
    /* sizes [4, 3] on axes 2 and 3 want scales 2 and 1.5; not_smaller takes 2 for both. */
    tb_op_init(&o, 18, "Resize");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 2, 2), TB_F32S(1, 2, 3, 4)));
    tb_op_skip(&o);
    tb_op_skip(&o);
    tb_op_const(&o, tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(2), TB_I64S(4, 3)));
    tb_attr_ints(o.m, o.node, "axes", 2, TB_I64S(2, 3));
    tb_attr_string(o.m, o.node, "keep_aspect_ratio_policy", "not_smaller");
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 4, 4),
              TB_F32S(1, 1, 2, 2, 1, 1, 2, 2, 3, 3, 4, 4, 3, 3, 4, 4), 0);
    inferd_tensor_unref(y);
    /* Antialiased linear downsampling is refused at load, not computed wrongly. */
    tb_op_init(&o, 18, "Resize");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 2, 2), TB_F32S(1, 2, 3, 4)));
    tb_op_skip(&o);
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(4), TB_F32S(1, 1, 0.5f, 0.5f)));
    tb_attr_string(o.m, o.node, "mode", "linear");
    tb_attr_int(o.m, o.node, "antialias", 1);
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_E_UNSUPPORTED);
    tb_expect_msg(&err, "antialias");
    assert_null(y);
    assert_no_live_tensors();
}

static void group_normalization(void **state)
{
    (void)state;
    tb_op_t o;
    inferd_tensor_t *y;
    inferd_err_t err;
    /* Two groups of two channels, one value each: group {1, 3} has mean 2, variance 1, so
     * (x - 2) / 1 = -1, 1; group {2, 6}: mean 4, variance 4, giving -1, 1. Opset 18 scales
     * per group: group 0 by 2 (+0), group 1 by 1 (+10). */
    tb_op_init(&o, 18, "GroupNormalization");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(1, 4, 1), TB_F32S(1, 3, 2, 6)));
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(2, 1)));
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(0, 10)));
    tb_attr_int(o.m, o.node, "num_groups", 2);
    tb_attr_float(o.m, o.node, "epsilon", 0);
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 3, TB_DIMS(1, 4, 1), TB_F32S(-2, 2, 9, 11), 1e-6);
    inferd_tensor_unref(y);
    /* Opset 21: per-channel scale and bias. */
    tb_op_init(&o, 21, "GroupNormalization");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(1, 4, 1), TB_F32S(1, 3, 2, 6)));
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(4), TB_F32S(1, 2, 3, 4)));
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(4), TB_F32S(0, 0, 0, 1)));
    tb_attr_int(o.m, o.node, "num_groups", 2);
    tb_attr_float(o.m, o.node, "epsilon", 0);
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 3, TB_DIMS(1, 4, 1), TB_F32S(-1, 2, -3, 5), 1e-6);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

static void max_roi_pool(void **state)
{
    (void)state;
    float x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)i; /* x[h][w] = 4h + w */
    tb_op_t o;
    tb_op_init(&o, 1, "MaxRoiPool");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 4, 4), x));
    /* The whole map in 2x2 bins (quadrant maxima), then a 2x2 box one pixel per bin. */
    tb_op_const(&o,
                tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 5), TB_F32S(0, 0, 0, 3, 3, 0, 1, 1, 2, 2)));
    tb_attr_ints(o.m, o.node, "pooled_shape", 2, TB_I64S(2, 2));
    inferd_tensor_t *y;
    inferd_err_t err;
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 4, TB_DIMS(2, 1, 2, 2), TB_F32S(5, 7, 13, 15, 5, 6, 9, 10), 0);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

/* One MaxPool on x [2,3,h,w] in FP32 and in FP64: the same values. (NaN is left out: the
 * FP32 fast paths let a NaN tap never win, the generic walk keeps a NaN first tap.) */
static void maxpool_both(int h, int w, int k, int s, int pad, bool ceil_mode)
{
    enum { MAXN = 2 * 3 * 15 * 15 };
    static float xf[MAXN];
    static double xd[MAXN];
    int n = 2 * 3 * h * w;
    for (int i = 0; i < n; i++) {
        xf[i] = (float)((i * 37) % 23) - 11.0f;
        xd[i] = xf[i];
    }
    inferd_tensor_t *y[2];
    for (int t = 0; t < 2; t++) {
        tb_op_t o;
        inferd_err_t err;
        tb_op_init(&o, 12, "MaxPool");
        tb_op_input(&o, t ? tb_t(INFERD_DTYPE_FP64, 4, TB_DIMS(2, 3, h, w), xd)
                          : tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(2, 3, h, w), xf));
        tb_attr_ints(o.m, o.node, "kernel_shape", 2, TB_I64S(k, k));
        tb_attr_ints(o.m, o.node, "strides", 2, TB_I64S(s, s));
        tb_attr_ints(o.m, o.node, "pads", 4, TB_I64S(pad, pad, pad, pad));
        tb_attr_int(o.m, o.node, "ceil_mode", ceil_mode);
        assert_int_equal(tb_op_run(&o, &y[t], &err), INFERD_OK);
    }
    uint64_t m = inferd_tensor_numel(y[0]);
    assert_int_equal(m, inferd_tensor_numel(y[1]));
    assert_true(m > 0);
    const float *a = y[0]->data;
    const double *b = y[1]->data;
    for (uint64_t i = 0; i < m; i++)
        if (!(a[i] == (float)b[i]))
            fail_msg("k %d s %d pad %d ceil %d [%llu]: %g vs %g", k, s, pad, ceil_mode,
                     (unsigned long long)i, a[i], b[i]);
    inferd_tensor_unref(y[0]);
    inferd_tensor_unref(y[1]);
}

static void maxpool_fast_paths_match_generic(void **state)
{
    (void)state;
    maxpool_both(14, 15, 2, 2, 0, false); /* the 2x2 pass; the last column is not covered */
    maxpool_both(15, 15, 2, 2, 0, true);  /* ceil_mode: edge windows hang out: row path */
    maxpool_both(13, 11, 3, 2, 1, false); /* padding, overlapping windows */
    maxpool_both(9, 10, 3, 1, 0, false);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(maxpool_fast_paths_match_generic),
        cmocka_unit_test(lp_pools),
        cmocka_unit_test(lp_normalization),
        cmocka_unit_test(upsample),
        cmocka_unit_test(resize18_axes_and_aspect),
        cmocka_unit_test(group_normalization),
        cmocka_unit_test(max_roi_pool),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
