/* Tests for src/backends/onnx/passes.c: constant folding (including the Shape -> Gather
 * -> Unsqueeze -> Concat -> Reshape plumbing with fixed and with symbolic dims),
 * Conv+BatchNormalization folding, MatMul+Add -> Gemm, Conv+Add (a residual) fusion on every
 * convolution path and where it must not fire, activation fusion (each kind, into
 * Conv and into an Add, and where it must not fire), Identity/Dropout/Cast elimination,
 * dead node removal, values captured by an If body, and a kernel error during folding.
 *
 * Each model is loaded twice, with the passes and without, and both graphs run on the
 * same inputs: the rewritten graph must have the expected nodes and the same results. */
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "backends/onnx/graph.h"
#include "backends/onnx/kernels/sgemm.h"
#include "core/pool.h"
#include "onnx_test_util.h"

typedef struct pair {
    inferd_onnx_graph_t *opt, *plain; /* with and without the passes */
} pair_t;

static pair_t load_pair(tb_model_t *m)
{
    const char *path = tb_write(m);
    pair_t p = {NULL, NULL};
    inferd_err_t err = {0};
    inferd_onnx_set_passes(true);
    if (inferd_onnx_graph_load(path, &p.opt, &err) != INFERD_OK)
        fail_msg("load: %s", err.msg);
    inferd_onnx_set_passes(false);
    inferd_status_t rc = inferd_onnx_graph_load(path, &p.plain, &err);
    inferd_onnx_set_passes(true);
    if (rc != INFERD_OK)
        fail_msg("load without passes: %s", err.msg);
    return p;
}

static void free_pair(pair_t *p)
{
    inferd_onnx_graph_destroy(p->opt);
    inferd_onnx_graph_destroy(p->plain);
}

static int count_op(const inferd_onnx_graph_t *g, const char *op_type)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += strcmp(g->nodes[i].op_type, op_type) == 0 && !g->nodes[i].folded;
    return n;
}

static int scheduled(const inferd_onnx_graph_t *g)
{
    int n = 0;
    for (int i = 0; i < g->n_nodes; i++)
        n += !g->nodes[i].folded;
    return n;
}

/* Runs both graphs on x (borrowed) and asserts the single FP32 outputs agree within rel
 * (relative to max(1, |value|)). */
static void expect_same(pair_t *p, inferd_tensor_t *x, double rel)
{
    inferd_tensor_t *in[1] = {x}, *a = NULL, *b = NULL;
    inferd_err_t err = {0};
    if (inferd_onnx_graph_run(NULL, p->opt, in, &a, &err) != INFERD_OK)
        fail_msg("run: %s", err.msg);
    if (inferd_onnx_graph_run(NULL, p->plain, in, &b, &err) != INFERD_OK)
        fail_msg("run without passes: %s", err.msg);
    assert_int_equal(a->ndim, b->ndim);
    for (int d = 0; d < a->ndim; d++)
        assert_int_equal(a->dims[d], b->dims[d]);
    assert_int_equal(a->nbytes, b->nbytes);
    const float *fa = a->data, *fb = b->data;
    for (uint64_t i = 0; i < inferd_tensor_numel(a); i++) {
        double tol = rel * fmax(1.0, fabs(fb[i]));
        if (!(fabs((double)fa[i] - fb[i]) <= tol))
            fail_msg("element %llu: %g with passes, %g without", (unsigned long long)i, fa[i],
                     fb[i]);
    }
    inferd_tensor_unref(a);
    inferd_tensor_unref(b);
}

/* Deterministic pseudo-random values in [-1, 1). */
static void fill(float *v, size_t n, uint32_t seed)
{
    for (size_t i = 0; i < n; i++) {
        seed = seed * 1664525u + 1013904223u;
        v[i] = (float)((seed >> 8) & 0xffff) / 32768.0f - 1.0f;
    }
}

static inferd_tensor_t *random_input(int ndim, const int64_t *dims, uint32_t seed)
{
    inferd_tensor_t *t = tb_t(INFERD_DTYPE_FP32, ndim, dims, NULL);
    fill(t->data, inferd_tensor_numel(t), seed);
    return t;
}

/* ------------------------------------------------------------------------------------ */
/* Conv + BatchNormalization                                                            */

static void conv_model(tb_model_t *m, bool bias)
{
    float w[3 * 2 * 3 * 3], b[3];
    fill(w, 54, 7);
    fill(b, 3, 8);
    tb_input(m, "x", TB_F32, 4, TB_DIMS(-1, 2, 5, 5));
    tb_initializer(m, "W", TB_F32, 4, TB_DIMS(3, 2, 3, 3), w, TB_RAW);
    if (bias)
        tb_initializer(m, "B", TB_F32, 1, TB_DIMS(3), b, TB_RAW);
    Onnx__NodeProto *c = tb_node(m, "Conv", "conv", bias ? "x,W,B" : "x,W", "c");
    tb_attr_ints(m, c, "pads", 4, TB_I64S(1, 1, 1, 1));
}

static void conv_bn_is_folded(void **state)
{
    (void)state;
    for (int bias = 0; bias < 2; bias++) {
        tb_model_t *m = tb_model(13);
        conv_model(m, bias);
        tb_initializer(m, "scale", TB_F32, 1, TB_DIMS(3), TB_F32S(1.5f, -0.5f, 2.0f), TB_RAW);
        tb_initializer(m, "shift", TB_F32, 1, TB_DIMS(3), TB_F32S(0.1f, 0.2f, -0.3f), TB_RAW);
        tb_initializer(m, "mean", TB_F32, 1, TB_DIMS(3), TB_F32S(0.3f, -0.2f, 0.05f), TB_RAW);
        tb_initializer(m, "var", TB_F32, 1, TB_DIMS(3), TB_F32S(0.5f, 2.0f, 0.9f), TB_RAW);
        Onnx__NodeProto *bn = tb_node(m, "BatchNormalization", "bn", "c,scale,shift,mean,var", "y");
        tb_attr_float(m, bn, "epsilon", 1e-3f);
        tb_output(m, "y", TB_F32, -1, NULL);
        pair_t p = load_pair(m);
        assert_int_equal(scheduled(p.plain), 2);
        assert_int_equal(scheduled(p.opt), 1);
        assert_int_equal(count_op(p.opt, "Conv"), 1);
        assert_int_equal(p.opt->pass_stats.conv_bn, 1);
        inferd_tensor_t *x = random_input(4, TB_DIMS(2, 2, 5, 5), 3);
        expect_same(&p, x, 1e-5);
        inferd_tensor_unref(x);
        free_pair(&p);
        tb_free(m);
    }
    assert_no_live_tensors();
}

static void conv_bn_not_folded_when_conv_output_is_shared(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    conv_model(m, true);
    tb_initializer(m, "one", TB_F32, 1, TB_DIMS(3), TB_F32S(1, 1, 1), TB_RAW);
    tb_initializer(m, "zero", TB_F32, 1, TB_DIMS(3), TB_F32S(0, 0, 0), TB_RAW);
    tb_node(m, "BatchNormalization", "bn", "c,one,zero,zero,one", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    tb_output(m, "c", TB_F32, -1, NULL); /* the conv output is a graph output too */
    pair_t p = load_pair(m);
    assert_int_equal(scheduled(p.opt), 2);
    assert_int_equal(p.opt->pass_stats.conv_bn, 0);
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Conv + Add (residual)                                                                */

/* Runs both graphs on the inputs twice (the second run is planned: the fused Conv may
 * write over its residual's block) and asserts every run's single output is bitwise the
 * unfused graph's. */
static void expect_bitwise(pair_t *p, inferd_tensor_t **in)
{
    inferd_err_t err = {0};
    inferd_tensor_t *b = NULL;
    if (inferd_onnx_graph_run(NULL, p->plain, in, &b, &err) != INFERD_OK)
        fail_msg("run without passes: %s", err.msg);
    for (int run = 0; run < 2; run++) {
        inferd_tensor_t *a = NULL;
        if (inferd_onnx_graph_run(NULL, p->opt, in, &a, &err) != INFERD_OK)
            fail_msg("run: %s", err.msg);
        assert_int_equal(a->ndim, b->ndim);
        assert_memory_equal(a->dims, b->dims, (size_t)a->ndim * sizeof(int64_t));
        assert_int_equal(a->nbytes, b->nbytes);
        assert_memory_equal(a->data, b->data, a->nbytes);
        inferd_tensor_unref(a);
    }
    inferd_tensor_unref(b);
}

typedef struct res_cfg {
    int64_t c, k; /* channels (in = out), kernel size */
    int nsp;      /* spatial dims: 1 or 2 */
    bool bias, relu;
    bool s_conv; /* S is a 1x1 Conv's output (else the Relu output h0) */
    bool swap;   /* Add(S, y) */
} res_cfg_t;

/* A ResNet block: h0 = Relu(x); y = Conv2(Relu(Conv1(h0))); out = [Relu](Add(y, S)) with
 * S = h0 or a 1x1 Conv of h0. */
static void residual_model(tb_model_t *m, const res_cfg_t *r)
{
    int64_t c = r->c, k = r->k, nw = c * c * (r->nsp == 2 ? k * k : k);
    float *w1 = tb_alloc(m, (size_t)nw * sizeof(float)), *w2 = tb_alloc(m, (size_t)nw * 4);
    float *ws = tb_alloc(m, (size_t)(c * c) * sizeof(float)), *b = tb_alloc(m, (size_t)c * 4);
    fill(w1, (size_t)nw, 21);
    fill(w2, (size_t)nw, 22);
    fill(ws, (size_t)(c * c), 23);
    fill(b, (size_t)c, 24);
    if (r->nsp == 2) {
        tb_input(m, "x", TB_F32, 4, TB_DIMS(-1, c, -1, -1));
        tb_initializer(m, "W1", TB_F32, 4, TB_DIMS(c, c, k, k), w1, TB_RAW);
        tb_initializer(m, "W2", TB_F32, 4, TB_DIMS(c, c, k, k), w2, TB_RAW);
        tb_initializer(m, "Ws", TB_F32, 4, TB_DIMS(c, c, 1, 1), ws, TB_RAW);
    } else {
        tb_input(m, "x", TB_F32, 3, TB_DIMS(-1, c, -1));
        tb_initializer(m, "W1", TB_F32, 3, TB_DIMS(c, c, k), w1, TB_RAW);
        tb_initializer(m, "W2", TB_F32, 3, TB_DIMS(c, c, k), w2, TB_RAW);
        tb_initializer(m, "Ws", TB_F32, 3, TB_DIMS(c, c, 1), ws, TB_RAW);
    }
    tb_initializer(m, "B2", TB_F32, 1, TB_DIMS(c), b, TB_RAW);
    int64_t pad = k / 2;
    tb_node(m, "Relu", "relu0", "x", "h0");
    Onnx__NodeProto *n = tb_node(m, "Conv", "conv1", "h0,W1", "y1");
    tb_attr_ints(m, n, "pads", (size_t)(2 * r->nsp), TB_I64S(pad, pad, pad, pad));
    tb_node(m, "Relu", "relu1", "y1", "r1");
    n = tb_node(m, "Conv", "conv2", r->bias ? "r1,W2,B2" : "r1,W2", "y2");
    tb_attr_ints(m, n, "pads", (size_t)(2 * r->nsp), TB_I64S(pad, pad, pad, pad));
    const char *s = "h0";
    if (r->s_conv) {
        tb_node(m, "Conv", "short", "h0,Ws", "sc");
        s = "sc";
    }
    char ins[16];
    snprintf(ins, sizeof(ins), r->swap ? "%s,y2" : "y2,%s", s);
    tb_node(m, "Add", "add", ins, r->relu ? "a" : "out");
    if (r->relu)
        tb_node(m, "Relu", "relu2", "a", "out");
    tb_output(m, "out", TB_F32, -1, NULL);
}

/* Every GEMM code path there is on this CPU (Winograd's transforms follow it). */
static const inferd_sgemm_path_t all_paths[] = {INFERD_SGEMM_PORTABLE, INFERD_SGEMM_AVX2,
                                                INFERD_SGEMM_AVX512};

static void check_residual(const res_cfg_t *r, int64_t batch, const int64_t *sp)
{
    tb_model_t *m = tb_model(13);
    residual_model(m, r);
    pair_t p = load_pair(m);
    assert_int_equal(p.opt->pass_stats.conv_add, 1);
    assert_int_equal(count_op(p.opt, "Add"), 0);
    /* Relu1 into Conv1, the Add into Conv2, Relu2 after it. */
    assert_int_equal(scheduled(p.opt), scheduled(p.plain) - 2 - (r->relu ? 1 : 0));
    int fused = -1;
    for (int i = 0; i < p.opt->n_nodes; i++)
        if (p.opt->nodes[i].residual)
            fused = i;
    assert_true(fused >= 0);
    assert_int_equal(p.opt->nodes[fused].n_inputs, 4);
    assert_int_equal(p.opt->nodes[fused].inputs[2] >= 0, r->bias && !r->swap);
    assert_int_equal(p.opt->nodes[fused].epilogue.kind,
                     r->relu ? INFERD_ONNX_ACT_RELU : INFERD_ONNX_ACT_NONE);
    int64_t dims[4] = {batch, r->c, sp[0], sp[1]};
    inferd_tensor_t *x = random_input(2 + r->nsp, dims, 5);
    const char *was = inferd_sgemm_path();
    for (size_t q = 0; q < sizeof(all_paths) / sizeof(all_paths[0]); q++) {
        if (!inferd_sgemm_set_path(all_paths[q]))
            continue;
        expect_bitwise(&p, &x);
    }
    inferd_sgemm_set_path(strcmp(was, "avx512") == 0 ? INFERD_SGEMM_AVX512
                          : strcmp(was, "avx2") == 0 ? INFERD_SGEMM_AVX2
                                                     : INFERD_SGEMM_PORTABLE);
    inferd_tensor_unref(x);
    free_pair(&p);
    tb_free(m);
}

/* Each convolution path, with and without bias and the trailing Relu, S from a Relu or
 * from a Conv (then the Add's other order makes the 1x1 shortcut the fused Conv). */
static void conv_add_fuses_bitwise_on_every_path(void **state)
{
    (void)state;
    for (int v = 0; v < 8; v++) {
        bool bias = v & 1, relu = v & 2, s_conv = v & 4;
        /* im2col panels, one image; a 7x5 plane: partial panels */
        check_residual(&(res_cfg_t){4, 3, 2, bias, relu, s_conv, false}, 1, TB_DIMS(7, 5));
        /* Winograd: 16 channels, stride 1, 3x3, edge tiles and a batch */
        check_residual(&(res_cfg_t){16, 3, 2, bias, relu, s_conv, false}, 2, TB_DIMS(9, 7));
        /* pointwise 1x1 (no columns), GEMM rows > the row block */
        check_residual(&(res_cfg_t){8, 1, 2, bias, relu, s_conv, s_conv}, 1, TB_DIMS(6, 6));
        /* 1-D: row-major columns */
        check_residual(&(res_cfg_t){4, 3, 1, bias, relu, s_conv, false}, 2, TB_DIMS(11, 1));
    }
    /* A batch split by images over the pool (conv_par_f32). */
    inferd_pool_t *pool = NULL;
    inferd_err_t perr;
    assert_int_equal(inferd_pool_create(1, &pool, &perr), INFERD_OK);
    inferd_pool_set_default(pool);
    for (int v = 0; v < 4; v++)
        check_residual(&(res_cfg_t){4, 3, 2, v & 1, v & 2, false, false}, 5, TB_DIMS(8, 8));
    inferd_pool_set_default(NULL);
    inferd_pool_destroy(pool);
    assert_no_live_tensors();
}

/* The Add stays: S a graph input, S the Conv's own input, a Conv output read twice, S of
 * another rank. */
static void conv_add_not_fused(void **state)
{
    (void)state;
    for (int v = 0; v < 4; v++) {
        tb_model_t *m = tb_model(13);
        float w[4 * 4 * 9];
        fill(w, 4 * 4 * 9, 31);
        tb_input(m, "x", TB_F32, 4, TB_DIMS(1, 4, 5, 5));
        tb_input(m, "s", TB_F32, v == 3 ? 3 : 4, v == 3 ? TB_DIMS(4, 1, 1) : TB_DIMS(1, 4, 5, 5));
        tb_initializer(m, "W", TB_F32, 4, TB_DIMS(4, 4, 3, 3), w, TB_RAW);
        tb_node(m, "Relu", "r", "x", "h");
        tb_node(m, "Relu", "rs", "s", "sr");
        Onnx__NodeProto *n = tb_node(m, "Conv", "conv", "h,W", "y");
        tb_attr_ints(m, n, "pads", 4, TB_I64S(1, 1, 1, 1));
        const char *other = v == 0 ? "s" : v == 1 ? "h" : "sr";
        char ins[16];
        snprintf(ins, sizeof(ins), "y,%s", other);
        tb_node(m, "Add", "add", ins, "out");
        tb_output(m, "out", TB_F32, -1, NULL);
        if (v == 2)
            tb_output(m, "y", TB_F32, -1, NULL); /* the Conv output is read twice */
        pair_t p = load_pair(m);
        assert_int_equal(p.opt->pass_stats.conv_add, 0);
        assert_int_equal(count_op(p.opt, "Add"), 1);
        free_pair(&p);
        tb_free(m);
    }
    assert_no_live_tensors();
}

/* S read by a later node too: fused, but its block is not written over (the last Add
 * still reads the original S). */
static void conv_add_with_a_shared_residual(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    float w[16 * 16 * 9];
    fill(w, 16 * 16 * 9, 41);
    tb_input(m, "x", TB_F32, 4, TB_DIMS(-1, 16, -1, -1));
    tb_initializer(m, "W", TB_F32, 4, TB_DIMS(16, 16, 3, 3), w, TB_RAW);
    tb_node(m, "Relu", "r0", "x", "h0");
    tb_node(m, "Sigmoid", "sg", "h0", "t");
    Onnx__NodeProto *n = tb_node(m, "Conv", "conv", "t,W", "y");
    tb_attr_ints(m, n, "pads", 4, TB_I64S(1, 1, 1, 1));
    tb_node(m, "Add", "add", "y,h0", "a");
    tb_node(m, "Relu", "r1", "a", "o1");
    tb_node(m, "Add", "add2", "o1,h0", "out");
    tb_output(m, "out", TB_F32, -1, NULL);
    pair_t p = load_pair(m);
    assert_int_equal(p.opt->pass_stats.conv_add, 1);
    assert_int_equal(count_op(p.opt, "Add"), 1);
    inferd_tensor_t *x = random_input(4, TB_DIMS(2, 16, 6, 6), 9);
    expect_bitwise(&p, &x);
    inferd_tensor_unref(x);
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

/* S whose shape turns out at run time to differ (it broadcasts, either way): the fused
 * Conv adds it apart, with the Add's broadcasting, and the output is still the unfused
 * graph's, bit for bit. */
static void conv_add_broadcast_at_run_time(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    float w[4 * 4 * 9];
    fill(w, 4 * 4 * 9, 51);
    tb_input(m, "x", TB_F32, 4, TB_DIMS(-1, 4, -1, -1));
    tb_input(m, "s", TB_F32, 4, TB_DIMS(-1, 4, -1, -1));
    tb_initializer(m, "W", TB_F32, 4, TB_DIMS(4, 4, 3, 3), w, TB_RAW);
    tb_node(m, "Relu", "rs", "s", "sr");
    Onnx__NodeProto *n = tb_node(m, "Conv", "conv", "x,W", "y");
    tb_attr_ints(m, n, "pads", 4, TB_I64S(1, 1, 1, 1));
    tb_node(m, "Add", "add", "y,sr", "a");
    tb_node(m, "Relu", "r1", "a", "out");
    tb_output(m, "out", TB_F32, -1, NULL);
    pair_t p = load_pair(m);
    assert_int_equal(p.opt->pass_stats.conv_add, 1);
    const int64_t *shapes[3][2] = {
        {TB_DIMS(1, 4, 5, 5), TB_DIMS(1, 4, 1, 1)}, /* S smaller: [1, C, 1, 1] */
        {TB_DIMS(1, 4, 5, 5), TB_DIMS(3, 4, 5, 5)}, /* S larger: the batch broadcasts */
        {TB_DIMS(2, 4, 5, 5), TB_DIMS(2, 4, 5, 5)}, /* the same: in the epilogue */
    };
    for (int i = 0; i < 3; i++) {
        inferd_tensor_t *in[2] = {random_input(4, shapes[i][0], 61),
                                  random_input(4, shapes[i][1], 62)};
        expect_bitwise(&p, in);
        inferd_tensor_unref(in[0]);
        inferd_tensor_unref(in[1]);
    }
    /* S that does not broadcast: the Add's error, from the fused Conv. */
    inferd_tensor_t *in[2] = {random_input(4, TB_DIMS(1, 4, 5, 5), 1),
                              random_input(4, TB_DIMS(1, 4, 3, 5), 2)};
    inferd_tensor_t *y = NULL;
    inferd_err_t err = {0};
    assert_int_equal(inferd_onnx_graph_run(NULL, p.opt, in, &y, &err), INFERD_E_INVALID_ARG);
    assert_null(y);
    inferd_tensor_unref(in[0]);
    inferd_tensor_unref(in[1]);
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* MatMul + Add -> Gemm, activation fusion                                              */

static void matmul_add_relu_becomes_one_gemm(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    float w[4 * 3];
    fill(w, 12, 11);
    tb_input(m, "x", TB_F32, 2, TB_DIMS(-1, 4));
    tb_initializer(m, "W", TB_F32, 2, TB_DIMS(4, 3), w, TB_RAW);
    tb_initializer(m, "b", TB_F32, 1, TB_DIMS(3), TB_F32S(0.5f, -0.25f, 0.125f), TB_RAW);
    tb_node(m, "MatMul", "mm", "x,W", "xw");
    tb_node(m, "Add", "add", "b,xw", "pre"); /* bias first: Add is commutative */
    tb_node(m, "Relu", "relu", "pre", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    pair_t p = load_pair(m);
    assert_int_equal(scheduled(p.plain), 3);
    assert_int_equal(scheduled(p.opt), 1);
    assert_int_equal(count_op(p.opt, "Gemm"), 1);
    assert_int_equal(p.opt->nodes[0].epilogue.kind, INFERD_ONNX_ACT_RELU);
    assert_int_equal(p.opt->pass_stats.gemm, 1);
    assert_int_equal(p.opt->pass_stats.fused, 1);
    for (int64_t batch = 1; batch <= 5; batch += 4) {
        inferd_tensor_t *x = random_input(2, TB_DIMS(batch, 4), (uint32_t)batch);
        expect_same(&p, x, 1e-6);
        inferd_tensor_unref(x);
    }
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

static void matmul_after_a_reshape_to_2d_becomes_gemm(void **state)
{
    (void)state;
    /* x of unknown rank, reshaped to [-1, 2] by a constant shape: A is 2-D. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, -1, NULL);
    tb_initializer(m, "shape", TB_I64, 1, TB_DIMS(2), TB_I64S(-1, 2), TB_RAW);
    tb_initializer(m, "W", TB_F32, 2, TB_DIMS(2, 3), TB_F32S(1, 2, 3, 4, 5, 6), TB_RAW);
    tb_initializer(m, "b", TB_F32, 2, TB_DIMS(1, 3), TB_F32S(0.5f, 0, -0.5f), TB_RAW);
    tb_node(m, "Reshape", "r", "x,shape", "x2");
    tb_node(m, "MatMul", "mm", "x2,W", "xw");
    tb_node(m, "Add", "add", "xw,b", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    pair_t p = load_pair(m);
    assert_int_equal(count_op(p.opt, "Gemm"), 1);
    assert_int_equal(scheduled(p.opt), 2);
    inferd_tensor_t *x = random_input(3, TB_DIMS(2, 2, 2), 4);
    expect_same(&p, x, 1e-6);
    inferd_tensor_unref(x);
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

static void matmul_with_unknown_rank_stays(void **state)
{
    (void)state;
    /* A of unknown rank (no declared shape): MatMul may be batched, so no Gemm. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, -1, NULL);
    tb_initializer(m, "W", TB_F32, 2, TB_DIMS(2, 2), TB_F32S(1, 2, 3, 4), TB_RAW);
    tb_initializer(m, "b", TB_F32, 1, TB_DIMS(2), TB_F32S(1, 1), TB_RAW);
    tb_node(m, "MatMul", "mm", "x,W", "xw");
    tb_node(m, "Add", "add", "xw,b", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    pair_t p = load_pair(m);
    assert_int_equal(count_op(p.opt, "MatMul"), 1);
    assert_int_equal(count_op(p.opt, "Add"), 1);
    inferd_tensor_t *x = random_input(3, TB_DIMS(2, 3, 2), 5);
    expect_same(&p, x, 0);
    inferd_tensor_unref(x);
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

typedef struct act_case {
    const char *op;
    inferd_onnx_act_kind_t kind;
    float alpha, beta; /* attributes (LeakyRelu, HardSigmoid) or Clip bounds */
} act_case_t;

static void each_activation_fuses_into_conv(void **state)
{
    (void)state;
    static const act_case_t cases[] = {
        {"Relu", INFERD_ONNX_ACT_RELU, 0, 0},
        {"Sigmoid", INFERD_ONNX_ACT_SIGMOID, 0, 0},
        {"Tanh", INFERD_ONNX_ACT_TANH, 0, 0},
        {"LeakyRelu", INFERD_ONNX_ACT_LEAKY_RELU, 0.2f, 0},
        {"HardSigmoid", INFERD_ONNX_ACT_HARD_SIGMOID, 0.3f, 0.4f},
        {"Clip", INFERD_ONNX_ACT_CLIP, -0.5f, 0.75f},
    };
    for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
        const act_case_t *c = &cases[k];
        tb_model_t *m = tb_model(13);
        conv_model(m, true);
        Onnx__NodeProto *a;
        if (strcmp(c->op, "Clip") == 0) {
            tb_initializer(m, "lo", TB_F32, 0, NULL, &c->alpha, TB_RAW);
            tb_initializer(m, "hi", TB_F32, 0, NULL, &c->beta, TB_RAW);
            a = tb_node(m, "Clip", "act", "c,lo,hi", "y");
        } else {
            a = tb_node(m, c->op, "act", "c", "y");
        }
        if (c->kind == INFERD_ONNX_ACT_LEAKY_RELU || c->kind == INFERD_ONNX_ACT_HARD_SIGMOID)
            tb_attr_float(m, a, "alpha", c->alpha);
        if (c->kind == INFERD_ONNX_ACT_HARD_SIGMOID)
            tb_attr_float(m, a, "beta", c->beta);
        tb_output(m, "y", TB_F32, -1, NULL);
        pair_t p = load_pair(m);
        assert_int_equal(scheduled(p.opt), 1);
        assert_int_equal(p.opt->nodes[0].epilogue.kind, c->kind);
        assert_true(p.opt->nodes[0].epilogue.alpha == c->alpha);
        if (c->kind != INFERD_ONNX_ACT_LEAKY_RELU)
            assert_true(p.opt->nodes[0].epilogue.beta == c->beta || c->beta == 0);
        inferd_tensor_t *x = random_input(4, TB_DIMS(1, 2, 5, 5), (uint32_t)k + 20);
        expect_same(&p, x, 1e-6);
        inferd_tensor_unref(x);
        free_pair(&p);
        tb_free(m);
    }
    assert_no_live_tensors();
}

static void activation_fuses_into_a_residual_add(void **state)
{
    (void)state;
    /* The Sigmoid is applied once after the Add (by its kernel or by the executor):
     * twice would change every value. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 2, TB_DIMS(-1, 3));
    tb_node(m, "Neg", "n", "x", "a");
    tb_node(m, "Add", "add", "a,x", "s");  /* s = 0 */
    tb_node(m, "Add", "add2", "s,x", "t"); /* t = x */
    tb_node(m, "Sigmoid", "sig", "t", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    pair_t p = load_pair(m);
    assert_int_equal(scheduled(p.opt), 3);
    assert_int_equal(p.opt->nodes[2].epilogue.kind, INFERD_ONNX_ACT_SIGMOID);
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(1, 3), TB_F32S(0, 2, -1));
    expect_same(&p, x, 0);
    inferd_tensor_t *in[1] = {x}, *y = NULL;
    inferd_err_t err = {0};
    assert_int_equal(inferd_onnx_graph_run(NULL, p.opt, in, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 2, TB_DIMS(1, 3),
              TB_F32S(0.5f, 1 / (1 + expf(-2.0f)), 1 / (1 + expf(1.0f))), 1e-7);
    inferd_tensor_unref(y);
    inferd_tensor_unref(x);
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

static void fusion_needs_a_private_output(void **state)
{
    (void)state;
    /* The Gemm's output is read by Relu and by Sigmoid: neither may fuse. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 2, TB_DIMS(-1, 2));
    tb_initializer(m, "W", TB_F32, 2, TB_DIMS(2, 2), TB_F32S(1, -2, 3, -4), TB_RAW);
    tb_node(m, "Gemm", "g", "x,W", "h");
    tb_node(m, "Relu", "r", "h", "a");
    tb_node(m, "Sigmoid", "s", "h", "b");
    tb_node(m, "Add", "add", "a,b", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    pair_t p = load_pair(m);
    assert_int_equal(scheduled(p.opt), 4);
    assert_int_equal(p.opt->pass_stats.fused, 0);
    free_pair(&p);
    tb_free(m);

    /* A Clip with a bound computed at run time is not an epilogue either. */
    m = tb_model(13);
    tb_input(m, "x", TB_F32, 2, TB_DIMS(-1, 2));
    tb_input(m, "lo", TB_F32, 0, NULL);
    tb_initializer(m, "W", TB_F32, 2, TB_DIMS(2, 2), TB_F32S(1, -2, 3, -4), TB_RAW);
    tb_node(m, "Gemm", "g", "x,W", "h");
    tb_node(m, "Clip", "c", "h,lo", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    p = load_pair(m);
    assert_int_equal(scheduled(p.opt), 2);
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Identity/Dropout/Cast elimination, dead nodes                                        */

static void identity_dropout_cast_and_dead_nodes_removed(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 2, TB_DIMS(-1, 3));
    tb_node(m, "Identity", "id", "x", "a");
    tb_node(m, "Dropout", "drop", "a", "b");
    Onnx__NodeProto *c = tb_node(m, "Cast", "cast", "b", "bc"); /* FP32 to FP32 */
    tb_attr_int(m, c, "to", TB_F32);
    tb_node(m, "Neg", "neg", "bc", "y");
    tb_node(m, "Exp", "unused", "a", "e"); /* nothing reads e */
    tb_node(m, "Sqrt", "unused2", "e", "f");
    tb_output(m, "y", TB_F32, -1, NULL);
    pair_t p = load_pair(m);
    assert_int_equal(scheduled(p.plain), 6);
    assert_int_equal(scheduled(p.opt), 1);
    assert_int_equal(p.opt->n_nodes, 1);
    assert_string_equal(p.opt->nodes[0].op_type, "Neg");
    assert_int_equal(p.opt->pass_stats.removed, 5);
    inferd_tensor_t *x = random_input(2, TB_DIMS(2, 3), 9);
    expect_same(&p, x, 0);
    inferd_tensor_unref(x);
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

static void identity_feeding_an_output_stays(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    tb_node(m, "Relu", "r", "x", "a");
    tb_node(m, "Identity", "id", "a", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    pair_t p = load_pair(m);
    assert_int_equal(scheduled(p.opt), 2);
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

/* An If body reads an outer value made by an Identity and a Relu: the captured values
 * are rewired, never dropped. */
static void values_captured_by_a_body_survive(void **state)
{
    (void)state;
    tb_model_t *then_b = tb_model(13);
    tb_node(then_b, "Neg", "tn", "r", "t_out");
    tb_output(then_b, "t_out", TB_F32, -1, NULL);
    tb_model_t *else_b = tb_model(13);
    tb_node(else_b, "Identity", "en", "r", "e_out");
    tb_output(else_b, "e_out", TB_F32, -1, NULL);
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(3));
    tb_input(m, "c", TB_BOOL, 0, NULL);
    tb_node(m, "Identity", "id", "x", "xi");
    tb_node(m, "Relu", "relu", "xi", "r");
    Onnx__NodeProto *n = tb_node(m, "If", "if", "c", "y");
    tb_attr_graph(m, n, "then_branch", tb_graph(then_b));
    tb_attr_graph(m, n, "else_branch", tb_graph(else_b));
    tb_output(m, "y", TB_F32, -1, NULL);
    inferd_err_t err = {0};
    inferd_onnx_graph_t *g = NULL;
    if (inferd_onnx_graph_load(tb_write(m), &g, &err) != INFERD_OK)
        fail_msg("load: %s", err.msg);
    assert_int_equal(scheduled(g), 2); /* the Identity is gone */
    for (int cond = 0; cond < 2; cond++) {
        const uint8_t cv = (uint8_t)cond;
        inferd_tensor_t *in[2] = {tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(3), TB_F32S(-1, 2, 3)),
                                  tb_t(INFERD_DTYPE_BOOL, 0, NULL, &cv)};
        inferd_tensor_t *y = NULL;
        if (inferd_onnx_graph_run(NULL, g, in, &y, &err) != INFERD_OK)
            fail_msg("run: %s", err.msg);
        tb_expect(y, INFERD_DTYPE_FP32, 1, TB_DIMS(3), cond ? TB_F32S(0, -2, -3) : TB_F32S(0, 2, 3),
                  0);
        inferd_tensor_unref(y);
        inferd_tensor_unref(in[0]);
        inferd_tensor_unref(in[1]);
    }
    inferd_onnx_graph_destroy(g);
    tb_free(m);
    tb_free(then_b);
    tb_free(else_b);
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Constant folding                                                                     */

/* x -> Shape -> Gather(0) -> Unsqueeze -> Concat([-1]) -> Reshape(x): [N, 12]. */
static void shape_plumbing(tb_model_t *m, int64_t batch)
{
    tb_input(m, "x", TB_F32, 3, TB_DIMS(batch, 3, 4));
    tb_initializer(m, "zero", TB_I64, 0, NULL, TB_I64S(0), TB_RAW);
    tb_initializer(m, "axes", TB_I64, 1, TB_DIMS(1), TB_I64S(0), TB_RAW);
    tb_initializer(m, "rest", TB_I64, 1, TB_DIMS(1), TB_I64S(-1), TB_RAW);
    tb_node(m, "Shape", "shape", "x", "s");
    tb_node(m, "Gather", "gather", "s,zero", "n");
    tb_node(m, "Unsqueeze", "unsq", "n,axes", "n1");
    Onnx__NodeProto *c = tb_node(m, "Concat", "concat", "n1,rest", "target");
    tb_attr_int(m, c, "axis", 0);
    tb_node(m, "Reshape", "reshape", "x,target", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
}

static void shape_plumbing_folds_with_fixed_dims(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    shape_plumbing(m, 2);
    pair_t p = load_pair(m);
    assert_int_equal(scheduled(p.plain), 5);
    assert_int_equal(scheduled(p.opt), 1);
    assert_int_equal(p.opt->pass_stats.folded, 4);
    assert_string_equal(p.opt->nodes[0].op_type, "Reshape");
    inferd_tensor_t *x = random_input(3, TB_DIMS(2, 3, 4), 1);
    expect_same(&p, x, 0);
    inferd_tensor_unref(x);
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

static void shape_plumbing_stays_with_a_symbolic_batch(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    shape_plumbing(m, -1);
    pair_t p = load_pair(m);
    assert_int_equal(scheduled(p.opt), 5);
    assert_int_equal(p.opt->pass_stats.folded, 0);
    for (int64_t batch = 1; batch <= 3; batch += 2) {
        inferd_tensor_t *x = random_input(3, TB_DIMS(batch, 3, 4), (uint32_t)batch);
        expect_same(&p, x, 0);
        inferd_tensor_unref(x);
    }
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

static void constant_subexpression_folds_and_its_inputs_go(void **state)
{
    (void)state;
    /* y = x * (Transpose(Wt) + 1): the constant branch is computed at load, and Wt is
     * dropped because no remaining node reads it. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 2, TB_DIMS(-1, 2));
    tb_initializer(m, "Wt", TB_F32, 2, TB_DIMS(2, 2), TB_F32S(1, 2, 3, 4), TB_RAW);
    tb_initializer(m, "one", TB_F32, 0, NULL, TB_F32S(1), TB_RAW);
    tb_node(m, "Transpose", "t", "Wt", "w");
    tb_node(m, "Add", "a", "w,one", "w1");
    tb_node(m, "Mul", "mul", "x,w1", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    pair_t p = load_pair(m);
    assert_int_equal(scheduled(p.opt), 1);
    assert_int_equal(p.opt->pass_stats.folded, 2);
    for (int v = 0; v < p.opt->n_values; v++)
        if (strcmp(p.opt->values[v].name, "Wt") == 0 || strcmp(p.opt->values[v].name, "w") == 0)
            assert_null(p.opt->values[v].constant);
    inferd_tensor_t *in[1] = {tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(1, 2), TB_F32S(10, 100))}, *y;
    inferd_err_t err = {0};
    assert_int_equal(inferd_onnx_graph_run(NULL, p.opt, in, &y, &err), INFERD_OK);
    /* Transpose([[1,2],[3,4]]) + 1 = [[2,4],[3,5]]; x broadcasts over rows. */
    tb_expect(y, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_F32S(20, 400, 30, 500), 0);
    inferd_tensor_unref(y);
    inferd_tensor_unref(in[0]);
    free_pair(&p);
    tb_free(m);
    assert_no_live_tensors();
}

static void folding_error_is_left_to_the_run(void **state)
{
    (void)state;
    /* An integer division by a constant zero fails when folded: the load still
     * succeeds and the run reports the error as it always did. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_I32, 1, TB_DIMS(1));
    tb_initializer(m, "a", TB_I32, 1, TB_DIMS(1), TB_I32S(7), TB_RAW);
    tb_initializer(m, "z", TB_I32, 1, TB_DIMS(1), TB_I32S(0), TB_RAW);
    tb_node(m, "Div", "div", "a,z", "q");
    tb_node(m, "Add", "add", "x,q", "y");
    tb_output(m, "y", TB_I32, -1, NULL);
    inferd_err_t err = {0};
    inferd_onnx_graph_t *g = NULL;
    if (inferd_onnx_graph_load(tb_write(m), &g, &err) != INFERD_OK)
        fail_msg("load: %s", err.msg);
    assert_int_equal(g->pass_stats.folded, 0);
    inferd_tensor_t *in[1] = {tb_t(INFERD_DTYPE_INT32, 1, TB_DIMS(1), TB_I32S(1))}, *y = NULL;
    assert_int_equal(inferd_onnx_graph_run(NULL, g, in, &y, &err), INFERD_E_INVALID_ARG);
    assert_null(y);
    tb_expect_msg(&err, "node 'div' (Div)");
    inferd_tensor_unref(in[0]);
    inferd_onnx_graph_destroy(g);
    tb_free(m);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(conv_bn_is_folded),
        cmocka_unit_test(conv_bn_not_folded_when_conv_output_is_shared),
        cmocka_unit_test(conv_add_fuses_bitwise_on_every_path),
        cmocka_unit_test(conv_add_not_fused),
        cmocka_unit_test(conv_add_with_a_shared_residual),
        cmocka_unit_test(conv_add_broadcast_at_run_time),
        cmocka_unit_test(matmul_add_relu_becomes_one_gemm),
        cmocka_unit_test(matmul_after_a_reshape_to_2d_becomes_gemm),
        cmocka_unit_test(matmul_with_unknown_rank_stays),
        cmocka_unit_test(each_activation_fuses_into_conv),
        cmocka_unit_test(activation_fuses_into_a_residual_add),
        cmocka_unit_test(fusion_needs_a_private_output),
        cmocka_unit_test(identity_dropout_cast_and_dead_nodes_removed),
        cmocka_unit_test(identity_feeding_an_output_stays),
        cmocka_unit_test(values_captured_by_a_body_survive),
        cmocka_unit_test(shape_plumbing_folds_with_fixed_dims),
        cmocka_unit_test(shape_plumbing_stays_with_a_symbolic_batch),
        cmocka_unit_test(constant_subexpression_folds_and_its_inputs_go),
        cmocka_unit_test(folding_error_is_left_to_the_run),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
