/* Tests for src/backends/onnx/ops/conv.c against a plain double-precision convolution
 * written here: the Winograd F(2x2, 3x3) path (constant 3x3 weights, enough channels, odd
 * image sizes so that edge tiles are partial, symmetric and asymmetric pads), the same
 * layer with W fed at run time (im2col), depthwise with a channel multiplier and stride,
 * grouped and dilated windows, and the pointwise shortcut. */
#include "test.h"

#include <math.h>
#include <string.h>

#include "onnx_test_util.h"

typedef struct conv_case {
    int n, c, h, w, m, k, group, stride, dil;
    int pads[4]; /* top, left, bottom, right */
    bool w_const;
} conv_case_t;

static void fill(float *v, int n, int seed)
{
    for (int i = 0; i < n; i++)
        v[i] = (float)((i * 31 + seed * 17) % 29 - 14) / 14.0f;
}

static void check(const conv_case_t *cc)
{
    int cg = cc->c / cc->group, mg = cc->m / cc->group;
    int oh = (cc->h + cc->pads[0] + cc->pads[2] - (cc->k - 1) * cc->dil - 1) / cc->stride + 1;
    int ow = (cc->w + cc->pads[1] + cc->pads[3] - (cc->k - 1) * cc->dil - 1) / cc->stride + 1;
    int nx = cc->n * cc->c * cc->h * cc->w, nw = cc->m * cg * cc->k * cc->k;
    int ny = cc->n * cc->m * oh * ow;
    static float x[60000], wt[160000], b[256], y[60000];
    fill(x, nx, 1);
    fill(wt, nw, 2);
    fill(b, cc->m, 3);
    for (int n = 0; n < cc->n; n++)
        for (int mo = 0; mo < cc->m; mo++)
            for (int oy = 0; oy < oh; oy++)
                for (int ox = 0; ox < ow; ox++) {
                    int g = mo / mg;
                    double acc = b[mo];
                    for (int ci = 0; ci < cg; ci++)
                        for (int ky = 0; ky < cc->k; ky++)
                            for (int kx = 0; kx < cc->k; kx++) {
                                int iy = oy * cc->stride - cc->pads[0] + ky * cc->dil;
                                int ix = ox * cc->stride - cc->pads[1] + kx * cc->dil;
                                if (iy < 0 || iy >= cc->h || ix < 0 || ix >= cc->w)
                                    continue;
                                int c = g * cg + ci;
                                acc += (double)x[((n * cc->c + c) * cc->h + iy) * cc->w + ix] *
                                       wt[((mo * cg + ci) * cc->k + ky) * cc->k + kx];
                            }
                    y[((n * cc->m + mo) * oh + oy) * ow + ox] = (float)acc;
                }
    tb_op_t o;
    tb_op_init(&o, 11, "Conv");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(cc->n, cc->c, cc->h, cc->w), x));
    inferd_tensor_t *wtt = tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(cc->m, cg, cc->k, cc->k), wt);
    if (cc->w_const)
        tb_op_const(&o, wtt);
    else
        tb_op_input(&o, wtt);
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(cc->m), b));
    tb_attr_int(o.m, o.node, "group", cc->group);
    tb_attr_ints(o.m, o.node, "strides", 2, TB_I64S(cc->stride, cc->stride));
    tb_attr_ints(o.m, o.node, "dilations", 2, TB_I64S(cc->dil, cc->dil));
    tb_attr_ints(o.m, o.node, "pads", 4,
                 TB_I64S(cc->pads[0], cc->pads[1], cc->pads[2], cc->pads[3]));
    inferd_tensor_t *out;
    inferd_err_t err;
    if (tb_op_run(&o, &out, &err) != INFERD_OK)
        fail_msg("Conv failed: %s", err.msg);
    tb_expect(out, INFERD_DTYPE_FP32, 4, TB_DIMS(cc->n, cc->m, oh, ow), y, 1e-4);
    assert_int_equal(inferd_tensor_numel(out), ny);
    inferd_tensor_unref(out);
    assert_no_live_tensors();
}

static void winograd_matches_reference(void **state)
{
    (void)state;
    /* n c h w m k group stride dil pads w_const; 128+ channels and 49+ tiles qualify. */
    check(&(conv_case_t){2, 128, 15, 13, 130, 3, 1, 1, 1, {1, 1, 1, 1}, true});
    check(&(conv_case_t){1, 129, 16, 17, 128, 3, 1, 1, 1, {0, 1, 1, 0}, true});
    check(&(conv_case_t){1, 128, 16, 16, 128, 3, 1, 1, 1, {0, 0, 0, 0}, true});
    /* The same layer with W as a run-time input goes through im2col. */
    check(&(conv_case_t){2, 128, 15, 13, 130, 3, 1, 1, 1, {1, 1, 1, 1}, false});
}

static void other_paths_match_reference(void **state)
{
    (void)state;
    /* Depthwise with multiplier 2, stride 2; grouped and dilated; pointwise; small. */
    check(&(conv_case_t){2, 6, 9, 8, 12, 3, 6, 2, 1, {1, 1, 1, 1}, true});
    check(&(conv_case_t){1, 8, 10, 9, 4, 3, 2, 1, 2, {2, 1, 0, 2}, true});
    check(&(conv_case_t){2, 8, 5, 6, 5, 1, 1, 1, 1, {0, 0, 0, 0}, true});
    check(&(conv_case_t){1, 3, 7, 7, 4, 5, 1, 2, 1, {2, 2, 2, 2}, true});
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(winograd_matches_reference),
        cmocka_unit_test(other_paths_match_reference),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
