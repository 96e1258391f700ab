/* Tests for src/backends/onnx/ops/conv.c against a plain double-precision convolution
 * written here: the Winograd F(4x4, 3x3) path (constant 3x3 weights, enough channels, odd
 * image sizes so that edge tiles are partial, symmetric and asymmetric pads), the same
 * layer with W fed at run time (im2col), depthwise with a channel multiplier and stride,
 * grouped and dilated windows, the pointwise shortcut, and the 2-D fast path that unrolls
 * into GEMM panels (both of its code paths: odd sizes, padding, strides 1 and 2,
 * dilation, one-channel images, and the shapes it hands back to the generic path), and
 * the same cases with the direct kernel for small stride-1 windows taking its share. Then
 * the batching guarantee on a small CNN (Conv + Relu fused, residual Add + Relu fused,
 * MaxPool, Softmax): a batch's outputs, on one thread and split over two, are
 * bit-identical to each image run alone. And a Winograd Conv with a fused residual Add
 * written in place, left without scratch memory: it fails cleanly rather than fall back
 * to im2col over a residual it may have overwritten. */
#include "test.h"

#include <math.h>
#include <string.h>

#include "backends/onnx/kernels/conv_direct.h"
#include "backends/onnx/kernels/conv_im2col.h"
#include "backends/onnx/kernels/scratch.h"
#include "backends/onnx/kernels/winograd.h"
#include "core/pool.h"
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
    /* Winograd F(4x4, 3x3) rounds relative to the terms' magnitude, not the sum's (here
     * sums of up to 1161 terms of magnitude up to 1), so its bound is looser. */
    bool wino =
        cc->w_const && cc->k == 3 && cc->stride == 1 && cc->dil == 1 && cc->group == 1 && cg >= 16;
    tb_expect(out, INFERD_DTYPE_FP32, 4, TB_DIMS(cc->n, cc->m, oh, ow), y, wino ? 1e-3 : 1e-4);
    assert_int_equal(inferd_tensor_numel(out), ny);
    inferd_tensor_unref(out);
    assert_no_live_tensors();
}

static void winograd_matches_reference(void **state)
{
    (void)state;
    /* n c h w m k group stride dil pads w_const; 16+ input channels qualify. */
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

/* The panel path: group 1, 2-D, column stride 1 or 2, output rows of 4 or more. */
static void panel_cases(void)
{
    /* n c h w m k group stride dil pads w_const */
    check(&(conv_case_t){3, 1, 28, 28, 6, 5, 1, 1, 1, {2, 2, 2, 2}, true}); /* LeNet's first */
    check(&(conv_case_t){2, 6, 14, 14, 16, 5, 1, 1, 1, {0, 0, 0, 0}, true});
    check(&(conv_case_t){2, 5, 13, 11, 7, 3, 1, 1, 1, {1, 0, 2, 1}, true});  /* asymmetric */
    check(&(conv_case_t){2, 3, 17, 19, 9, 3, 1, 2, 1, {1, 1, 1, 1}, true});  /* stride 2 */
    check(&(conv_case_t){1, 4, 16, 15, 5, 3, 1, 2, 1, {0, 1, 1, 0}, false}); /* W at run time */
    check(&(conv_case_t){1, 4, 12, 13, 6, 3, 1, 1, 2, {2, 2, 2, 2}, true});  /* dilation 2 */
    check(&(conv_case_t){2, 8, 9, 9, 16, 1, 1, 2, 1, {0, 0, 0, 0}, true});   /* 1x1 stride 2 */
    check(&(conv_case_t){1, 2, 6, 6, 3, 7, 1, 1, 1, {3, 3, 3, 3}, true});    /* pads > half */
    /* Handed back to the generic im2col: output rows under 4, column stride 3. */
    check(&(conv_case_t){2, 3, 7, 5, 4, 3, 1, 2, 1, {0, 0, 0, 0}, true});
    check(&(conv_case_t){1, 3, 11, 11, 4, 3, 1, 3, 1, {1, 1, 1, 1}, true});
}

/* With the direct kernel off, so that the stride-1 cases it would take unroll too. */
static void panel_path_matches_reference(void **state)
{
    (void)state;
    inferd_conv_direct_enable(false);
    panel_cases();
    inferd_conv_direct_enable(true);
}

static void portable_panel_path_matches_reference(void **state)
{
    (void)state;
    inferd_conv_direct_enable(false);
    assert_true(inferd_conv_im2col_set_portable(true));
    panel_cases();
    inferd_conv_im2col_set_portable(false); /* back to the CPU's best (fails without AVX-512) */
    inferd_conv_direct_enable(true);
}

/* The same cases with the direct kernel on (kernels/conv_direct.c takes the stride-1
 * ones on an AVX-512 CPU). */
static void direct_path_matches_reference(void **state)
{
    (void)state;
    panel_cases();
}

/* x [N,2,12,12] -> Conv 3x3 pad 1 (4 ch) -> Relu = h -> Conv 3x3 pad 1 -> Add h -> Relu
 * -> MaxPool 2x2 s2 -> Conv 1x1 stride 1 (3 ch) -> Softmax(axis -1) = y [N,3,6,6]. The
 * Relus fuse into the first Conv and the Add. */
static tb_model_t *small_cnn(void)
{
    static float w1[4 * 2 * 9], w2[4 * 4 * 9], w3[3 * 4], b1[4], b2[4], b3[3];
    fill(w1, 72, 5);
    fill(w2, 144, 6);
    fill(w3, 12, 7);
    fill(b1, 4, 8);
    fill(b2, 4, 9);
    fill(b3, 3, 10);
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 4, TB_DIMS(-1, 2, 12, 12));
    tb_output(m, "y", TB_F32, 4, TB_DIMS(-1, 3, 6, 6));
    tb_initializer(m, "w1", TB_F32, 4, TB_DIMS(4, 2, 3, 3), w1, TB_RAW);
    tb_initializer(m, "w2", TB_F32, 4, TB_DIMS(4, 4, 3, 3), w2, TB_RAW);
    tb_initializer(m, "w3", TB_F32, 4, TB_DIMS(3, 4, 1, 1), w3, TB_RAW);
    tb_initializer(m, "b1", TB_F32, 1, TB_DIMS(4), b1, TB_RAW);
    tb_initializer(m, "b2", TB_F32, 1, TB_DIMS(4), b2, TB_RAW);
    tb_initializer(m, "b3", TB_F32, 1, TB_DIMS(3), b3, TB_RAW);
    Onnx__NodeProto *n = tb_node(m, "Conv", "c1", "x,w1,b1", "c1o");
    tb_attr_ints(m, n, "pads", 4, TB_I64S(1, 1, 1, 1));
    tb_node(m, "Relu", "r1", "c1o", "h");
    n = tb_node(m, "Conv", "c2", "h,w2,b2", "c2o");
    tb_attr_ints(m, n, "pads", 4, TB_I64S(1, 1, 1, 1));
    tb_node(m, "Add", "add", "c2o,h", "s");
    tb_node(m, "Relu", "r2", "s", "sr");
    n = tb_node(m, "MaxPool", "pool", "sr", "p");
    tb_attr_ints(m, n, "kernel_shape", 2, TB_I64S(2, 2));
    tb_attr_ints(m, n, "strides", 2, TB_I64S(2, 2));
    tb_node(m, "Conv", "c3", "p,w3,b3", "c3o");
    n = tb_node(m, "Softmax", "sm", "c3o", "y");
    tb_attr_int(m, n, "axis", -1);
    return m;
}

static inferd_tensor_t *run_cnn(const float *x, int n)
{
    tb_model_t *m = small_cnn();
    inferd_tensor_t *in = tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(n, 2, 12, 12), x);
    inferd_tensor_t *out = NULL;
    inferd_err_t err;
    if (tb_run(m, &in, 1, &out, 1, &err) != INFERD_OK)
        fail_msg("small CNN failed: %s", err.msg);
    tb_free(m);
    return out;
}

/* The batch runs on `threads` threads (an intra-op pool of threads - 1 workers, so the
 * convolutions split the batch by images), the single images on one. */
static void check_batch(int threads)
{
    enum { N = 5, IMG = 2 * 12 * 12, OUT = 3 * 6 * 6 };
    inferd_pool_t *pool = NULL;
    inferd_err_t perr;
    if (threads > 1) {
        assert_int_equal(inferd_pool_create(threads - 1, &pool, &perr), INFERD_OK);
        inferd_pool_set_default(pool);
    }
    static float x[N * IMG];
    for (int i = 0; i < N * IMG; i++)
        x[i] = (float)sin(i * 0.37) * 2.0f; /* both signs, so the Relus clip */
    inferd_tensor_t *all = run_cnn(x, N);
    inferd_pool_set_default(NULL);
    inferd_pool_destroy(pool);
    assert_int_equal(inferd_tensor_numel(all), N * OUT);
    const float *ya = all->data;
    for (int i = 0; i < N; i++) {
        inferd_tensor_t *one = run_cnn(x + i * IMG, 1);
        assert_int_equal(inferd_tensor_numel(one), OUT);
        /* Bitwise: the batching guarantee, not closeness. */
        assert_memory_equal(one->data, ya + i * OUT, OUT * sizeof(float));
        inferd_tensor_unref(one);
    }
    /* Softmax rows sum to 1: the values are real, not an all-zero agreement. */
    float sum = 0.0f;
    for (int j = 0; j < 6; j++)
        sum += ya[j];
    assert_float_equal(sum, 1.0f, 1e-5);
    inferd_tensor_unref(all);
    assert_no_live_tensors();
}

static void batch_outputs_equal_single_runs(void **state)
{
    (void)state;
    check_batch(1);
}

static void batch_on_two_threads_equals_single_runs(void **state)
{
    (void)state;
    check_batch(2);
}

/* Scratch failure on demand: the test links with --wrap=inferd_pages_alloc. */
void *__real_inferd_pages_alloc(size_t n);
void *__wrap_inferd_pages_alloc(size_t n);
static bool pages_fail;

void *__wrap_inferd_pages_alloc(size_t n)
{
    return pages_fail ? NULL : __real_inferd_pages_alloc(n);
}

/* h0 = Relu(x); y = GlobalAveragePool(Relu(Conv2(Relu(Conv1(h0))) + h0)): Conv1 a 1x1
 * (a GEMM straight over h0, no scratch), Conv2 Winograd with the Add fused, writing over
 * h0 (which dies there) in the run that records the plan and in planned runs alike.
 * Without scratch Winograd cannot run, and Conv2 must not fall back to a path that would
 * read an h0 it may have half overwritten: a clean RESOURCE_EXHAUSTED, in both kinds of
 * run; with scratch back the runs agree. */
static void residual_in_place_without_winograd_scratch(void **state)
{
    (void)state;
    enum { C = 16 };
    static float w1[C * C], w2[C * C * 9];
    fill(w1, C * C, 1);
    fill(w2, C * C * 9, 2);
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 4, TB_DIMS(-1, C, 6, 6));
    tb_initializer(m, "W1", TB_F32, 4, TB_DIMS(C, C, 1, 1), w1, TB_RAW);
    tb_initializer(m, "W2", TB_F32, 4, TB_DIMS(C, C, 3, 3), w2, TB_RAW);
    tb_node(m, "Relu", "r0", "x", "h0");
    tb_node(m, "Conv", "c1", "h0,W1", "y1");
    tb_node(m, "Relu", "r1", "y1", "a1");
    Onnx__NodeProto *n = tb_node(m, "Conv", "c2", "a1,W2", "y2");
    tb_attr_ints(m, n, "pads", 4, TB_I64S(1, 1, 1, 1));
    tb_node(m, "Add", "add", "y2,h0", "s");
    tb_node(m, "Relu", "r2", "s", "h");
    tb_node(m, "GlobalAveragePool", "gap", "h", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    inferd_err_t err = {0};
    inferd_onnx_graph_t *g = NULL;
    if (inferd_onnx_graph_load(tb_write(m), &g, &err) != INFERD_OK)
        fail_msg("load: %s", err.msg);
    assert_int_equal(g->pass_stats.conv_add, 1);
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(2, C, 6, 6), NULL);
    fill(x->data, 2 * C * 36, 3);
    inferd_tensor_t *in[1] = {x}, *y[3] = {NULL, NULL, NULL};
    inferd_scratch_release();
    pages_fail = true;
    assert_int_equal(inferd_onnx_graph_run(NULL, g, in, &y[0], &err), INFERD_E_RESOURCE_EXHAUSTED);
    tb_expect_msg(&err, "Winograd");
    assert_null(y[0]);
    pages_fail = false;
    assert_int_equal(inferd_onnx_graph_run(NULL, g, in, &y[0], &err), INFERD_OK); /* records */
    assert_int_equal(inferd_onnx_graph_run(NULL, g, in, &y[1], &err), INFERD_OK); /* planned */
    assert_memory_equal(y[0]->data, y[1]->data, y[0]->nbytes);
    inferd_scratch_release();
    pages_fail = true;
    assert_int_equal(inferd_onnx_graph_run(NULL, g, in, &y[2], &err), INFERD_E_RESOURCE_EXHAUSTED);
    tb_expect_msg(&err, "Winograd");
    assert_null(y[2]);
    pages_fail = false;
    inferd_tensor_unref(y[0]);
    inferd_tensor_unref(y[1]);
    inferd_tensor_unref(x);
    inferd_onnx_graph_destroy(g);
    tb_free(m);
    inferd_scratch_release();
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(winograd_matches_reference),
        cmocka_unit_test(other_paths_match_reference),
        cmocka_unit_test(panel_path_matches_reference),
        cmocka_unit_test(portable_panel_path_matches_reference),
        cmocka_unit_test(direct_path_matches_reference),
        cmocka_unit_test(batch_outputs_equal_single_runs),
        cmocka_unit_test(batch_on_two_threads_equals_single_runs),
        cmocka_unit_test(residual_in_place_without_winograd_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
