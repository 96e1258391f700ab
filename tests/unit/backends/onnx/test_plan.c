/* Tests for src/backends/onnx/plan.c and the planned path of exec.c: the arena of a
 * chain is smaller than its intermediates added up, a plan is made by the first run with
 * given shapes and reused by later ones (one per signature, bounded cache, shared by
 * threads), the arena kept between runs, the first run's large intermediates in pages of
 * their own, elementwise outputs written in place over a dying input, a Conv with a fused
 * residual Add written over its residual (a smaller arena), graph outputs never
 * live in the arena, a data-dependent shape larger than
 * planned gets its own buffer, the fused-activation fallback, and every conformance case
 * in tests/conformance/passing.txt gives bit-identical outputs with and without a plan. */
#include "test.h"

#include <math.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/onnx/graph.h"
#include "backends/onnx/passes.h"
#include "core/alloc.h"
#include "onnx_test_util.h"

#define CONFORMANCE_DATA "/usr/share/libonnx-testdata/data"

static inferd_onnx_graph_t *load(tb_model_t *m)
{
    inferd_err_t err = {0};
    inferd_onnx_graph_t *g = NULL;
    if (inferd_onnx_graph_load(tb_write(m), &g, &err) != INFERD_OK)
        fail_msg("load: %s", err.msg);
    return g;
}

static inferd_tensor_t *run1(inferd_onnx_graph_t *g, inferd_tensor_t *x)
{
    inferd_tensor_t *in[1] = {x}, *y = NULL;
    inferd_err_t err = {0};
    if (inferd_onnx_graph_run(NULL, g, in, &y, &err) != INFERD_OK)
        fail_msg("run: %s", err.msg);
    return y;
}

static void expect_equal(const inferd_tensor_t *a, const inferd_tensor_t *b)
{
    assert_int_equal(a->dtype, b->dtype);
    assert_int_equal(a->ndim, b->ndim);
    for (int d = 0; d < a->ndim; d++)
        assert_int_equal(a->dims[d], b->dims[d]);
    assert_int_equal(a->nbytes, b->nbytes);
    assert_memory_equal(a->data, b->data, a->nbytes);
}

/* x [N,256] -> Relu -> Neg -> Sigmoid -> Neg -> Tanh = y: four 1 KiB intermediates per
 * row, each elementwise op writing over its input's block (in place). */
static tb_model_t *chain_model(void)
{
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 2, TB_DIMS(-1, 256));
    tb_node(m, "Relu", "a", "x", "h1");
    tb_node(m, "Neg", "b", "h1", "h2");
    tb_node(m, "Sigmoid", "c", "h2", "h3");
    tb_node(m, "Neg", "d", "h3", "h4");
    tb_node(m, "Tanh", "e", "h4", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    return m;
}

/* The same length of chain through Softmax, which cannot run in place: two of the four
 * intermediates are live at once. */
static tb_model_t *softmax_chain_model(void)
{
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 2, TB_DIMS(-1, 256));
    tb_node(m, "Softmax", "a", "x", "h1");
    tb_node(m, "Softmax", "b", "h1", "h2");
    tb_node(m, "Softmax", "c", "h2", "h3");
    tb_node(m, "Softmax", "d", "h3", "h4");
    tb_node(m, "Softmax", "e", "h4", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    return m;
}

static inferd_tensor_t *ramp(int64_t rows, int64_t cols, float scale)
{
    inferd_tensor_t *t = tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(rows, cols), NULL);
    float *p = t->data;
    for (int64_t i = 0; i < rows * cols; i++)
        p[i] = scale * (float)((i % 17) - 8);
    return t;
}

static void chain_arena_is_smaller_than_its_intermediates(void **state)
{
    (void)state;
    for (int in_place = 1; in_place >= 0; in_place--) {
        tb_model_t *m = in_place ? chain_model() : softmax_chain_model();
        inferd_onnx_graph_t *g = load(m);
        inferd_tensor_t *x = ramp(2, 256, 0.25f);
        inferd_onnx_plan_info_t info;
        assert_false(inferd_onnx_graph_plan_info(g, &x, &info)); /* no run yet */
        inferd_tensor_t *y1 = run1(g, x);
        assert_true(inferd_onnx_graph_plan_info(g, &x, &info));
        assert_int_equal(info.n_planned, 4);
        assert_int_equal(info.total_bytes, 4 * 2048);
        assert_int_equal(info.peak_bytes, (in_place ? 1 : 2) * 2048);
        /* Planned runs give the same bits, and keep doing so; the arena is the one
         * allocation besides the output, so at most peak + output bytes are live. */
        for (int i = 0; i < 3; i++) {
            inferd_tensor_stats_t st;
            inferd_tensor_stats(&st);
            int64_t before = st.bytes[INFERD_OWNER_ARENA]; /* y1 */
            inferd_tensor_peak_reset();
            inferd_tensor_t *y2 = run1(g, x);
            inferd_tensor_stats(&st);
            assert_true(st.peak_bytes[INFERD_OWNER_ARENA] - before <=
                        (int64_t)(info.peak_bytes + 2048));
            expect_equal(y1, y2);
            inferd_tensor_unref(y2);
        }
        inferd_tensor_unref(y1);
        inferd_tensor_unref(x);
        inferd_onnx_graph_destroy(g);
        tb_free(m);
    }
    assert_no_live_tensors();
}

static void in_place_needs_the_same_shape(void **state)
{
    (void)state;
    /* h = Neg(x) [N,4] dies in Add(h, b): the sum may take h's block. The planning run
     * has b [N,4]; a later run with the same input shapes cannot differ, but the
     * executor still checks, so the result is right either way. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 2, TB_DIMS(-1, 4));
    tb_input(m, "b", TB_F32, 2, TB_DIMS(-1, 4));
    tb_node(m, "Neg", "n", "x", "h");
    tb_node(m, "Add", "add", "h,b", "s");
    tb_node(m, "Relu", "r", "s", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    inferd_onnx_graph_t *g = load(m);
    inferd_tensor_t *in[2] = {ramp(3, 4, 1.0f), ramp(3, 4, 0.5f)}, *y[3];
    inferd_err_t err = {0};
    for (int i = 0; i < 3; i++)
        assert_int_equal(inferd_onnx_graph_run(NULL, g, in, &y[i], &err), INFERD_OK);
    inferd_onnx_plan_info_t info;
    assert_true(inferd_onnx_graph_plan_info(g, in, &info));
    assert_int_equal(info.peak_bytes, 64); /* h and s share one 48-byte block */
    const float *px = in[0]->data, *pb = in[1]->data, *py = y[2]->data;
    for (int k = 0; k < 12; k++) {
        float want = -px[k] + pb[k];
        assert_true(py[k] == (want > 0 ? want : 0));
    }
    for (int i = 1; i < 3; i++)
        expect_equal(y[0], y[i]);
    for (int i = 0; i < 3; i++)
        inferd_tensor_unref(y[i]);
    inferd_tensor_unref(in[0]);
    inferd_tensor_unref(in[1]);
    inferd_onnx_graph_destroy(g);
    tb_free(m);
    assert_no_live_tensors();
}

/* A ResNet block, h0 = Relu(x); h = Relu(Add(Conv2(Relu(Conv1(h0))), h0)); y =
 * GlobalAveragePool(h): unfused, h0, Relu(Conv1) and Conv2's output are live while Conv2
 * runs; fused, Conv2 adds h0 and writes over it, so the arena holds two blocks, not
 * three. Planned runs give the unplanned run's bits, and the unfused graph's. */
static void residual_conv_writes_over_its_residual(void **state)
{
    (void)state;
    enum { C = 16, HW = 8, N = 2, S = N * C * HW * HW * 4 };
    tb_model_t *m = tb_model(13);
    static float w1[C * C * 9], w2[C * C * 9];
    for (int i = 0; i < C * C * 9; i++) {
        w1[i] = (float)sin(i * 0.61) * 0.2f;
        w2[i] = (float)cos(i * 0.37) * 0.2f;
    }
    tb_input(m, "x", TB_F32, 4, TB_DIMS(-1, C, HW, HW));
    tb_initializer(m, "W1", TB_F32, 4, TB_DIMS(C, C, 3, 3), w1, TB_RAW);
    tb_initializer(m, "W2", TB_F32, 4, TB_DIMS(C, C, 3, 3), w2, TB_RAW);
    tb_node(m, "Relu", "r0", "x", "h0");
    Onnx__NodeProto *n = tb_node(m, "Conv", "c1", "h0,W1", "y1");
    tb_attr_ints(m, n, "pads", 4, TB_I64S(1, 1, 1, 1));
    tb_node(m, "Relu", "r1", "y1", "a1");
    n = tb_node(m, "Conv", "c2", "a1,W2", "y2");
    tb_attr_ints(m, n, "pads", 4, TB_I64S(1, 1, 1, 1));
    tb_node(m, "Add", "add", "y2,h0", "s");
    tb_node(m, "Relu", "r2", "s", "h");
    tb_node(m, "GlobalAveragePool", "gap", "h", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    inferd_onnx_graph_t *g[2];
    inferd_onnx_set_passes(false);
    g[0] = load(m);
    inferd_onnx_set_passes(true);
    g[1] = load(m);
    assert_int_equal(g[1]->pass_stats.conv_add, 1);
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(N, C, HW, HW), NULL);
    for (int i = 0; i < S / 4; i++)
        ((float *)x->data)[i] = (float)sin(i * 0.13);
    inferd_onnx_plan_info_t info[2];
    inferd_tensor_t *y[2][3];
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 3; i++) /* the first run records the plan, the others use it */
            y[k][i] = run1(g[k], x);
        assert_true(inferd_onnx_graph_plan_info(g[k], &x, &info[k]));
    }
    assert_int_equal(info[0].peak_bytes, 3 * S);
    assert_int_equal(info[1].peak_bytes, 2 * S);
    assert_true(info[1].peak_bytes < info[0].peak_bytes);
    for (int k = 0; k < 2; k++)
        for (int i = 0; i < 3; i++)
            expect_equal(y[0][0], y[k][i]);
    for (int k = 0; k < 2; k++) {
        for (int i = 0; i < 3; i++)
            inferd_tensor_unref(y[k][i]);
        inferd_onnx_graph_destroy(g[k]);
    }
    inferd_tensor_unref(x);
    tb_free(m);
    assert_no_live_tensors();
}

static void one_plan_per_signature(void **state)
{
    (void)state;
    tb_model_t *m = chain_model();
    inferd_onnx_graph_t *g = load(m);
    inferd_onnx_plan_info_t info;
    for (int64_t rows = 1; rows <= 3; rows++) {
        inferd_tensor_t *x = ramp(rows, 256, 0.5f);
        inferd_tensor_t *y1 = run1(g, x), *y2 = run1(g, x);
        expect_equal(y1, y2);
        assert_true(inferd_onnx_graph_plan_info(g, &x, &info));
        assert_int_equal(info.peak_bytes, (size_t)(1024 * rows)); /* in place */
        inferd_tensor_unref(y1);
        inferd_tensor_unref(y2);
        inferd_tensor_unref(x);
    }
    /* The earlier signatures are still cached. */
    inferd_tensor_t *x = ramp(1, 256, 0.5f);
    assert_true(inferd_onnx_graph_plan_info(g, &x, &info));
    assert_int_equal(info.peak_bytes, 1024);
    inferd_tensor_unref(x);
    /* Planning off: runs allocate per output and no plan is found. */
    inferd_onnx_set_planning(false);
    x = ramp(1, 256, 0.5f);
    assert_false(inferd_onnx_graph_plan_info(g, &x, &info));
    inferd_tensor_unref(run1(g, x));
    inferd_onnx_set_planning(true);
    inferd_tensor_unref(x);
    inferd_onnx_graph_destroy(g);
    tb_free(m);
    assert_no_live_tensors();
}

/* The arena outlives the run: later runs reuse it, a larger shape replaces it, a smaller
 * one fits in it, and two runs at once each get one. */
static void arena_is_kept_between_runs(void **state)
{
    (void)state;
    tb_model_t *m = softmax_chain_model();
    inferd_onnx_graph_t *g = load(m);
    inferd_onnx_plan_info_t info;
    inferd_tensor_t *x = ramp(4, 256, 0.5f);
    inferd_tensor_unref(run1(g, x)); /* records the plan: no arena yet */
    assert_int_equal(inferd_onnx_arena_cached_bytes(g), 0);
    assert_true(inferd_onnx_graph_plan_info(g, &x, &info));
    for (int i = 0; i < 3; i++) {
        inferd_tensor_unref(run1(g, x));
        assert_int_equal(inferd_onnx_arena_cached_bytes(g), info.peak_bytes);
    }
    inferd_tensor_t *big = ramp(16, 256, 0.5f), *small = ramp(2, 256, 0.5f);
    inferd_tensor_unref(run1(g, big));
    inferd_tensor_unref(run1(g, big));
    inferd_onnx_plan_info_t big_info;
    assert_true(inferd_onnx_graph_plan_info(g, &big, &big_info));
    assert_true(big_info.peak_bytes > info.peak_bytes);
    assert_int_equal(inferd_onnx_arena_cached_bytes(g), big_info.peak_bytes); /* replaced */
    inferd_tensor_t *y1 = run1(g, x), *y2 = run1(g, small);
    inferd_tensor_unref(run1(g, small));
    assert_int_equal(inferd_onnx_arena_cached_bytes(g), big_info.peak_bytes); /* reused */
    /* A reused arena holds an earlier run's values: the results do not depend on them. */
    inferd_onnx_set_planning(false);
    inferd_tensor_t *w1 = run1(g, x), *w2 = run1(g, small);
    inferd_onnx_set_planning(true);
    expect_equal(y1, w1);
    expect_equal(y2, w2);
    /* Two arenas taken at once are distinct, and both are kept when given back. */
    void *a = inferd_onnx_arena_take(g, 100), *b = inferd_onnx_arena_take(g, 100);
    assert_non_null(a);
    assert_non_null(b);
    assert_ptr_not_equal(a, b);
    assert_int_equal((uintptr_t)a % 64, 0);
    assert_int_equal((uintptr_t)b % 64, 0);
    memset(a, 1, 100);
    memset(b, 2, 100);
    inferd_onnx_arena_give(a);
    inferd_onnx_arena_give(b);
    assert_int_equal(inferd_onnx_arena_cached_bytes(g), big_info.peak_bytes + 100);
    /* A take gets the smallest kept arena that fits (the big one for 1000 bytes) or, when
     * none does, drops the largest that does not (the 100-byte ones); at most four are
     * kept, the smallest go. */
    void *t[6];
    for (int i = 0; i < 6; i++)
        t[i] = inferd_onnx_arena_take(g, (size_t)(1000 + i));
    assert_int_equal(inferd_onnx_arena_cached_bytes(g), 0);
    for (int i = 0; i < 6; i++)
        inferd_onnx_arena_give(t[i]);
    assert_int_equal(inferd_onnx_arena_cached_bytes(g), big_info.peak_bytes + 1003 + 1004 + 1005);
    inferd_onnx_arena_give(NULL);
    for (inferd_tensor_t **v = (inferd_tensor_t *[]){y1, y2, w1, w2, x, big, small, NULL}; *v; v++)
        inferd_tensor_unref(*v);
    inferd_onnx_graph_destroy(g); /* frees the kept arenas (LeakSanitizer checks) */
    tb_free(m);
    assert_no_live_tensors();
}

/* The first run's large intermediates get pages of their own; without them it allocates
 * as usual and computes the same. (The test links with --wrap=inferd_pages_alloc.) */
void *__real_inferd_pages_alloc(size_t n);
void *__wrap_inferd_pages_alloc(size_t n);
static int pages_calls;
static bool pages_fail;

void *__wrap_inferd_pages_alloc(size_t n)
{
    pages_calls++;
    return pages_fail ? NULL : __real_inferd_pages_alloc(n);
}

static void first_run_intermediates_use_pages(void **state)
{
    (void)state;
    tb_model_t *m = softmax_chain_model();
    inferd_tensor_t *x = ramp(128, 256, 0.25f); /* 128 KiB per intermediate */
    inferd_tensor_t *y[2];
    for (int fail = 0; fail < 2; fail++) {
        inferd_onnx_graph_t *g = load(m);
        pages_calls = 0;
        pages_fail = fail;
        y[fail] = run1(g, x);
        assert_int_equal(pages_calls, 4); /* the four intermediates, not the output */
        pages_calls = 0;
        inferd_tensor_t *again = run1(g, x); /* planned: the arena instead */
        assert_int_equal(pages_calls, 0);
        expect_equal(y[fail], again);
        inferd_tensor_unref(again);
        inferd_onnx_graph_destroy(g);
    }
    pages_fail = false;
    expect_equal(y[0], y[1]);
    /* Small intermediates stay with malloc. */
    inferd_onnx_graph_t *g = load(m);
    inferd_tensor_t *x2 = ramp(2, 256, 0.25f);
    pages_calls = 0;
    inferd_tensor_unref(run1(g, x2));
    assert_int_equal(pages_calls, 0);
    inferd_tensor_unref(x2);
    inferd_onnx_graph_destroy(g);
    inferd_tensor_unref(y[0]);
    inferd_tensor_unref(y[1]);
    inferd_tensor_unref(x);
    tb_free(m);
    assert_no_live_tensors();
}

static void outputs_outlive_the_arena(void **state)
{
    (void)state;
    /* y is a Reshape (a view) of an intermediate, and z an intermediate read by a later
     * node and also a graph output: neither may live in the arena, which the next run
     * overwrites. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 2, TB_DIMS(-1, 4));
    tb_initializer(m, "shape", TB_I64, 1, TB_DIMS(1), TB_I64S(-1), TB_RAW);
    tb_node(m, "Neg", "a", "x", "h");
    tb_node(m, "Reshape", "r", "h,shape", "y");
    tb_node(m, "Exp", "b", "x", "z");
    tb_node(m, "Sqrt", "c", "z", "w");
    tb_node(m, "Add", "d", "w,x", "v");
    tb_output(m, "y", TB_F32, -1, NULL);
    tb_output(m, "z", TB_F32, -1, NULL);
    tb_output(m, "v", TB_F32, -1, NULL);
    inferd_onnx_graph_t *g = load(m);
    inferd_tensor_t *x = ramp(2, 4, 1.0f);
    inferd_tensor_t *first[3], *second[3], *third[3];
    inferd_err_t err = {0};
    assert_int_equal(inferd_onnx_graph_run(NULL, g, &x, first, &err), INFERD_OK);
    assert_int_equal(inferd_onnx_graph_run(NULL, g, &x, second, &err), INFERD_OK);
    inferd_onnx_plan_info_t info;
    assert_true(inferd_onnx_graph_plan_info(g, &x, &info));
    assert_int_equal(info.n_planned, 1); /* only w */
    inferd_tensor_t *x2 = ramp(2, 4, -3.0f);
    assert_int_equal(inferd_onnx_graph_run(NULL, g, &x2, third, &err), INFERD_OK);
    for (int j = 0; j < 3; j++) {
        expect_equal(first[j], second[j]);
        inferd_tensor_unref(first[j]);
        inferd_tensor_unref(second[j]);
        inferd_tensor_unref(third[j]);
    }
    inferd_tensor_unref(x);
    inferd_tensor_unref(x2);
    inferd_onnx_graph_destroy(g);
    tb_free(m);
    assert_no_live_tensors();
}

static void data_dependent_shape_larger_than_planned(void **state)
{
    (void)state;
    /* NonZero's output size depends on the data: a run with more non-zeros than the
     * planning run must still be right. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(8));
    tb_node(m, "NonZero", "nz", "x", "idx");
    tb_node(m, "Neg", "neg", "idx", "nidx");
    tb_node(m, "Neg", "neg2", "nidx", "y");
    tb_output(m, "y", TB_I64, -1, NULL);
    inferd_onnx_graph_t *g = load(m);
    for (int round = 0; round < 2; round++) {
        inferd_tensor_t *few =
            tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(8), TB_F32S(0, 1, 0, 0, 0, 0, 0, 2));
        inferd_tensor_t *many =
            tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(8), TB_F32S(3, 1, 0, 4, 5, 0, 6, 2));
        inferd_tensor_t *y = run1(g, few);
        tb_expect(y, INFERD_DTYPE_INT64, 2, TB_DIMS(1, 2), TB_I64S(1, 7), 0);
        inferd_tensor_unref(y);
        y = run1(g, many);
        tb_expect(y, INFERD_DTYPE_INT64, 2, TB_DIMS(1, 6), TB_I64S(0, 1, 3, 4, 6, 7), 0);
        inferd_tensor_unref(y);
        inferd_tensor_unref(few);
        inferd_tensor_unref(many);
    }
    inferd_onnx_graph_destroy(g);
    tb_free(m);
    assert_no_live_tensors();
}

static void fused_activation_fallback_in_the_executor(void **state)
{
    (void)state;
    /* A node whose kernel knows nothing of epilogues (Neg) given one by hand: the
     * executor applies it after compute, once, planned or not. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 2, TB_DIMS(1, 4));
    tb_node(m, "Neg", "neg", "x", "h");
    tb_node(m, "Neg", "neg2", "h", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    inferd_onnx_graph_t *g = load(m);
    assert_int_equal(g->n_nodes, 2);
    g->nodes[0].epilogue = (inferd_onnx_act_t){INFERD_ONNX_ACT_SIGMOID, 0, 0};
    g->nodes[0].epilogue_done = false;
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(1, 4), TB_F32S(1, -2, 0, 4));
    const float want[4] = {-1 / (1 + expf(1.0f)), -1 / (1 + expf(-2.0f)), -0.5f,
                           -1 / (1 + expf(4.0f))};
    for (int i = 0; i < 3; i++) {
        inferd_tensor_t *y = run1(g, x);
        tb_expect(y, INFERD_DTYPE_FP32, 2, TB_DIMS(1, 4), want, 1e-7);
        inferd_tensor_unref(y);
    }
    inferd_tensor_unref(x);
    inferd_onnx_graph_destroy(g);
    tb_free(m);
    assert_no_live_tensors();
}

static void epilogue_kinds(void **state)
{
    (void)state;
    const float x[4] = {-2.0f, -0.25f, 0.5f, 3.0f};
    struct {
        inferd_onnx_act_t a;
        float want[4];
    } cases[] = {
        {{INFERD_ONNX_ACT_RELU, 0, 0}, {0, 0, 0.5f, 3}},
        {{INFERD_ONNX_ACT_LEAKY_RELU, 0.1f, 0}, {0.1f * -2.0f, 0.1f * -0.25f, 0.5f, 3}},
        {{INFERD_ONNX_ACT_CLIP, -1.0f, 1.0f}, {-1, -0.25f, 0.5f, 1}},
        {{INFERD_ONNX_ACT_SIGMOID, 0, 0},
         {1 / (1 + expf(2.0f)), 1 / (1 + expf(0.25f)), 1 / (1 + expf(-0.5f)),
          1 / (1 + expf(-3.0f))}},
        {{INFERD_ONNX_ACT_TANH, 0, 0}, {tanhf(-2.0f), tanhf(-0.25f), tanhf(0.5f), tanhf(3.0f)}},
        {{INFERD_ONNX_ACT_HARD_SIGMOID, 0.2f, 0.5f}, {0.1f, 0.45f, 0.6f, 1}},
        {{INFERD_ONNX_ACT_NONE, 0, 0}, {-2.0f, -0.25f, 0.5f, 3.0f}},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        float v[4];
        memcpy(v, x, sizeof(v));
        inferd_onnx_act_apply(&cases[k].a, v, 4);
        for (int i = 0; i < 4; i++)
            if (fabsf(v[i] - cases[k].want[i]) > 1e-6f)
                fail_msg("kind %d element %d: %g, want %g", (int)cases[k].a.kind, i, v[i],
                         cases[k].want[i]);
    }
}

/* Threads run one graph with more shapes than the cache holds, so plans are made,
 * shared and evicted while others use them. */
typedef struct worker {
    inferd_onnx_graph_t *g;
    int id;
    int failures;
} worker_t;

static void *worker_main(void *arg)
{
    worker_t *w = arg;
    for (int it = 0; it < 60; it++) {
        int64_t rows = 1 + (it * 7 + w->id * 3) % 100; /* 100 shapes, 64 plans cached */
        inferd_tensor_t *x = ramp(rows, 256, 0.125f);
        inferd_tensor_t *in[1] = {x}, *y = NULL;
        inferd_err_t err = {0};
        if (inferd_onnx_graph_run(NULL, w->g, in, &y, &err) != INFERD_OK) {
            w->failures++;
        } else {
            /* y = tanh(-sigmoid(-relu(x))) */
            const float *px = x->data, *py = y->data;
            for (int64_t i = 0; i < rows * 256; i++) {
                float r = px[i] > 0 ? px[i] : 0;
                float want = tanhf(-(1.0f / (1.0f + expf(r))));
                if (py[i] != want)
                    w->failures++;
            }
        }
        inferd_tensor_unref(y);
        inferd_tensor_unref(x);
    }
    return NULL;
}

static void threads_share_and_evict_plans(void **state)
{
    (void)state;
    tb_model_t *m = chain_model();
    inferd_onnx_graph_t *g = load(m);
    pthread_t t[4];
    worker_t w[4];
    for (int i = 0; i < 4; i++) {
        w[i] = (worker_t){g, i, 0};
        assert_int_equal(pthread_create(&t[i], NULL, worker_main, &w[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(t[i], NULL);
        assert_int_equal(w[i].failures, 0);
    }
    inferd_onnx_graph_destroy(g);
    tb_free(m);
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Every passing conformance case, unplanned then planned                               */

static inferd_tensor_t *read_pb(const char *path)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    long len = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = inferd_xmalloc((size_t)len + 1);
    size_t got = fread(buf, 1, (size_t)len, f);
    fclose(f);
    inferd_tensor_t *t = NULL;
    inferd_err_t err = {0};
    if (got != (size_t)len || inferd_onnx_tensor_decode(buf, got, &t, &err) != INFERD_OK)
        t = NULL;
    inferd_free(buf);
    return t;
}

static int count_inputs(const char *set_dir)
{
    int n = 0;
    char path[4400];
    for (;; n++) {
        snprintf(path, sizeof(path), "%s/input_%d.pb", set_dir, n);
        FILE *f = fopen(path, "rb");
        if (!f)
            return n;
        fclose(f);
    }
}

/* Returns 1 when the case ran twice with a plan the second time, 0 when it does not
 * apply (inputs not one-to-one with graph inputs, or a failing load). */
static int check_case(const char *name)
{
    char dir[4096], path[4200];
    snprintf(dir, sizeof(dir), "%s/%s", CONFORMANCE_DATA, name);
    snprintf(path, sizeof(path), "%s/model.onnx", dir);
    inferd_onnx_graph_t *g = NULL;
    inferd_err_t err = {0};
    if (inferd_onnx_graph_load(path, &g, &err) != INFERD_OK)
        fail_msg("%s: load: %s", name, err.msg);
    snprintf(path, sizeof(path), "%s/test_data_set_0", dir);
    int n_in = count_inputs(path);
    if (n_in != g->n_inputs) {
        inferd_onnx_graph_destroy(g);
        return 0;
    }
    inferd_tensor_t **in = inferd_xcalloc((size_t)n_in + 1, sizeof(*in));
    for (int i = 0; i < n_in; i++) {
        char f[4300];
        snprintf(f, sizeof(f), "%s/input_%d.pb", path, i);
        in[i] = read_pb(f);
        if (!in[i])
            fail_msg("%s: cannot read %s", name, f);
        if (g->values[g->inputs[i]].dtype == INFERD_DTYPE_BF16 &&
            in[i]->dtype == INFERD_DTYPE_UINT16)
            in[i]->dtype = INFERD_DTYPE_BF16;
    }
    int no = g->n_outputs;
    inferd_tensor_t **a = inferd_xcalloc((size_t)no + 1, sizeof(*a));
    inferd_tensor_t **b = inferd_xcalloc((size_t)no + 1, sizeof(*b));
    if (inferd_onnx_graph_run(NULL, g, in, a, &err) != INFERD_OK)
        fail_msg("%s: run: %s", name, err.msg);
    inferd_onnx_plan_info_t info;
    bool planned = inferd_onnx_graph_plan_info(g, in, &info);
    if (inferd_onnx_graph_run(NULL, g, in, b, &err) != INFERD_OK)
        fail_msg("%s: planned run: %s", name, err.msg);
    for (int j = 0; j < no; j++) {
        if (a[j]->nbytes != b[j]->nbytes || a[j]->ndim != b[j]->ndim ||
            memcmp(a[j]->dims, b[j]->dims, (size_t)a[j]->ndim * sizeof(int64_t)) != 0 ||
            (a[j]->nbytes && memcmp(a[j]->data, b[j]->data, a[j]->nbytes) != 0))
            fail_msg("%s: output %d differs between the unplanned and the planned run", name, j);
        inferd_tensor_unref(a[j]);
        inferd_tensor_unref(b[j]);
    }
    for (int i = 0; i < n_in; i++)
        inferd_tensor_unref(in[i]);
    inferd_free(in);
    inferd_free(a);
    inferd_free(b);
    inferd_onnx_graph_destroy(g);
    if (!planned)
        fail_msg("%s: no plan after a run", name);
    return 1;
}

/* Cases whose outputs are random draws (unseeded): two runs differ by design. */
static bool nondeterministic(const char *name)
{
    return strstr(name, "dropout") && (strstr(name, "training") || strstr(name, "random"));
}

static void conformance_cases_agree_with_and_without_plan(void **state)
{
    (void)state;
    FILE *f = fopen(INFERD_CONFORMANCE_LIST, "r");
    assert_non_null(f);
    char line[512];
    int checked = 0, listed = 0;
    while (fgets(line, sizeof(line), f)) {
        size_t l = strlen(line);
        while (l && (line[l - 1] == '\n' || line[l - 1] == '\r' || line[l - 1] == ' '))
            line[--l] = '\0';
        if (!l || line[0] == '#')
            continue;
        listed++;
        if (nondeterministic(line))
            continue;
        checked += check_case(line);
    }
    fclose(f);
    print_message("%d listed, %d checked\n", listed, checked);
    /* Nearly every case maps its data files one-to-one onto graph inputs. */
    assert_true(listed > 1000);
    assert_true(checked > 950);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(chain_arena_is_smaller_than_its_intermediates),
        cmocka_unit_test(in_place_needs_the_same_shape),
        cmocka_unit_test(residual_conv_writes_over_its_residual),
        cmocka_unit_test(one_plan_per_signature),
        cmocka_unit_test(arena_is_kept_between_runs),
        cmocka_unit_test(first_run_intermediates_use_pages),
        cmocka_unit_test(outputs_outlive_the_arena),
        cmocka_unit_test(data_dependent_shape_larger_than_planned),
        cmocka_unit_test(fused_activation_fallback_in_the_executor),
        cmocka_unit_test(epilogue_kinds),
        cmocka_unit_test(threads_share_and_evict_plans),
        cmocka_unit_test(conformance_cases_agree_with_and_without_plan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
