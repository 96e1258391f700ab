/* Tests for src/backends/onnx/ops/gemm.c: Gemm with alpha/beta, transposes and every C
 * broadcast, the single-row and single-column (sgemv) paths, FP64; MatMul with 1-D
 * promotion, batches with and without broadcasting, integers, empty K, and shape errors.
 * Expected values come from numpy. */
#include "test.h"

#include <math.h>

#include "onnx_test_util.h"

#include "backends/onnx/kernels/sgemm.h"
#include "backends/onnx/onnx_backend.h"
#include "core/pool.h"

#define F32(nd, d, ...) tb_t(INFERD_DTYPE_FP32, nd, d, TB_F32S(__VA_ARGS__))
#define A23 F32(2, TB_DIMS(2, 3), 1, 2, 3, 4, 5, 6)
#define B34 F32(2, TB_DIMS(3, 4), 1, 0, -1, 2, 0.5f, 1, 1, -1, 2, -2, 0, 1)

static void expect_ok(tb_op_t *o, inferd_dtype_t dt, int ndim, const int64_t *dims,
                      const void *want, double tol)
{
    inferd_tensor_t *y;
    inferd_err_t err;
    if (tb_op_run(o, &y, &err) != INFERD_OK)
        fail_msg("run failed: %s", err.msg);
    tb_expect(y, dt, ndim, dims, want, tol);
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

/* ------------------------------------------------------------------------------------ */
/* Gemm                                                                                 */

static void gemm_alpha_beta_row_bias(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "Gemm");
    tb_op_input(&o, A23);
    tb_op_const(&o, B34);
    tb_op_const(&o, F32(1, TB_DIMS(4), 1, 2, 3, 4));
    tb_attr_float(o.m, o.node, "alpha", 0.5f);
    tb_attr_float(o.m, o.node, "beta", 2.0f);
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 4),
              TB_F32S(6, 2, 6.5f, 9.5f, 11.25f, 0.5f, 6.5f, 12.5f), 1e-6);
}

static void gemm_transposes_and_column_bias(void **state)
{
    (void)state;
    /* A stored [3,2] with transA, B stored [4,3] with transB; C [2,1]. */
    tb_op_t o;
    tb_op_init(&o, 11, "Gemm");
    tb_op_input(&o, F32(2, TB_DIMS(3, 2), 1, 4, 2, 5, 3, 6));
    tb_op_input(&o, F32(2, TB_DIMS(4, 3), 1, 0.5f, 2, 0, 1, -2, -1, 1, 0, 2, -1, 1));
    tb_op_input(&o, F32(2, TB_DIMS(2, 1), 10, 20));
    tb_attr_int(o.m, o.node, "transA", 1);
    tb_attr_int(o.m, o.node, "transB", 1);
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 4), TB_F32S(18, 6, 11, 13, 38.5f, 13, 21, 29),
              1e-6);
}

static void gemm_scalar_full_and_missing_c(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "Gemm");
    tb_op_input(&o, A23);
    tb_op_input(&o, B34);
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 0, NULL, TB_F32S(3)));
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 4), TB_F32S(11, -1, 4, 6, 21.5f, -4, 4, 12),
              1e-6);

    tb_op_init(&o, 13, "Gemm");
    tb_op_input(&o, A23);
    tb_op_input(&o, B34);
    tb_op_input(&o, F32(2, TB_DIMS(2, 4), 1, 1, 1, 1, 2, 2, 2, 2));
    tb_attr_float(o.m, o.node, "beta", -1.0f);
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 4), TB_F32S(7, -5, 0, 2, 16.5f, -9, -1, 7),
              1e-6);

    /* Opset 11 makes C optional. */
    tb_op_init(&o, 11, "Gemm");
    tb_op_input(&o, A23);
    tb_op_input(&o, B34);
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 4), TB_F32S(8, -4, 1, 3, 18.5f, -7, 1, 9), 1e-6);
}

static void gemm_vector_paths(void **state)
{
    (void)state;
    /* M = 1, both layouts of B (sgemv, transposed and not). */
    tb_op_t o;
    tb_op_init(&o, 13, "Gemm");
    tb_op_input(&o, F32(2, TB_DIMS(1, 3), 1, -1, 2));
    tb_op_const(&o, B34);
    tb_op_const(&o, F32(1, TB_DIMS(4), 1, 2, 3, 4));
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(1, 4), TB_F32S(5.5f, -3, 1, 9), 1e-6);

    tb_op_init(&o, 13, "Gemm");
    tb_op_input(&o, F32(2, TB_DIMS(1, 3), 1, -1, 2));
    tb_op_const(&o, F32(2, TB_DIMS(4, 3), 1, 0.5f, 2, 0, 1, -2, -1, 1, 0, 2, -1, 1));
    tb_op_const(&o, F32(1, TB_DIMS(4), 1, 2, 3, 4));
    tb_attr_int(o.m, o.node, "transB", 1);
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(1, 4), TB_F32S(5.5f, -3, 1, 9), 1e-6);

    /* N = 1, with A transposed. */
    tb_op_init(&o, 13, "Gemm");
    tb_op_input(&o, F32(2, TB_DIMS(3, 2), 1, 4, 2, 5, 3, 6));
    tb_op_input(&o, F32(2, TB_DIMS(3, 1), 1, 2, 3));
    tb_attr_int(o.m, o.node, "transA", 1);
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 1), TB_F32S(14, 32), 1e-6);
}

/* Runs the op and returns its output (the caller unrefs). */
static inferd_tensor_t *run_ok(tb_op_t *o)
{
    inferd_tensor_t *y;
    inferd_err_t err;
    if (tb_op_run(o, &y, &err) != INFERD_OK)
        fail_msg("run failed: %s", err.msg);
    return y;
}

/* A constant B is packed at load; the result is bit-identical to B given as an input
 * (read or packed per run), for Gemm with transB and a bias row, and for MatMul. */
static void prepacked_weights_match_inputs(void **state)
{
    (void)state;
    enum { M = 5, K = 40, N = 35 };
    static float a[M * K], b[K * N], bias[N];
    for (int i = 0; i < M * K; i++)
        a[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int i = 0; i < K * N; i++)
        b[i] = (float)((i * 53) % 97) / 48.0f - 1.0f;
    for (int i = 0; i < N; i++)
        bias[i] = (float)i / 7.0f;
    for (int op = 0; op < 2; op++) {
        inferd_tensor_t *y[2];
        for (int packed = 0; packed < 2; packed++) {
            tb_op_t o;
            tb_op_init(&o, 13, op ? "MatMul" : "Gemm");
            tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(M, K), a));
            /* Gemm reads B as [N, K] with transB; MatMul as [K, N]. */
            inferd_tensor_t *bt = tb_t(INFERD_DTYPE_FP32, 2, op ? TB_DIMS(K, N) : TB_DIMS(N, K), b);
            if (packed)
                tb_op_const(&o, bt);
            else
                tb_op_input(&o, bt);
            if (!op) {
                tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(N), bias));
                tb_attr_int(o.m, o.node, "transB", 1);
                tb_attr_float(o.m, o.node, "alpha", 0.5f);
            }
            y[packed] = run_ok(&o);
        }
        assert_int_equal(y[0]->nbytes, (size_t)M * N * sizeof(float));
        assert_memory_equal(y[0]->data, y[1]->data, y[0]->nbytes);
        /* And it is the product: spot-check one element against a double sum. */
        double s = 0;
        for (int p = 0; p < K; p++)
            s += (double)a[2 * K + p] * (op ? b[p * N + 7] : b[7 * K + p]);
        if (!op)
            s = 0.5 * s + bias[7];
        assert_true(fabs(((float *)y[0]->data)[2 * N + 7] - s) < 1e-4);
        inferd_tensor_unref(y[0]);
        inferd_tensor_unref(y[1]);
    }
    assert_no_live_tensors();
}

/* The model config parameter intra_op_thread_count: checked at load, and a run with a
 * pool gives the same bits as the product without one; the thread budget is restored. */
static void intra_op_thread_count_parameter(void **state)
{
    (void)state;
    enum { M = 8, K = 300, N = 600 }; /* large enough to be split over 2 threads */
    static float a[M * K], b[K * N];
    for (int i = 0; i < M * K; i++)
        a[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int i = 0; i < K * N; i++)
        b[i] = (float)((i * 53) % 97) / 48.0f - 1.0f;
    inferd_pool_t *pool;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(1, &pool, &err), INFERD_OK);
    static const char *const bad[] = {"two", "-1", "", "5000"};
    inferd_tensor_t *y[2] = {NULL, NULL};
    for (int i = 0; i < 6; i++) {
        tb_op_t o;
        tb_op_init(&o, 13, "MatMul");
        tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(M, K), a));
        tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(K, N), b));
        const char *key = "intra_op_thread_count";
        const char *val = i < 4 ? bad[i] : i == 4 ? "1" : "2";
        inferd_backend_params_t params = {&key, &val, 1};
        void *st = NULL;
        inferd_status_t rc = inferd_onnx_backend_vtable.load(tb_write(o.m), &params, &st, &err);
        if (i < 4) {
            assert_int_equal(rc, INFERD_E_INVALID_ARG);
            tb_expect_msg(&err, "intra_op_thread_count");
        } else {
            assert_int_equal(rc, INFERD_OK);
            inferd_pool_set_default(i == 5 ? pool : NULL);
            inferd_ctx_t ctx;
            inferd_ctx_init(&ctx);
            assert_int_equal(inferd_onnx_backend_vtable.execute(&ctx, st, o.in, &y[i - 4], &err),
                             INFERD_OK);
            assert_int_equal(inferd_pool_budget(), 0);
            inferd_pool_set_default(NULL);
            inferd_onnx_backend_vtable.unload(st);
        }
        for (size_t j = 0; j < o.n_in; j++)
            inferd_tensor_unref(o.in[j]);
        tb_free(o.m);
    }
    assert_memory_equal(y[0]->data, y[1]->data, y[0]->nbytes);
    inferd_tensor_unref(y[0]);
    inferd_tensor_unref(y[1]);
    inferd_pool_destroy(pool);
    assert_no_live_tensors();
}

/* Conv's im2col product moves to the engine's kernel when it can use the intra-op pool:
 * the same convolution with and without a pool agrees (OpenBLAS vs the kernel). */
static void conv_product_on_the_pool(void **state)
{
    (void)state;
    enum { C = 16, HW = 36, M = 32, KS = 5 }; /* 5x5: not a Winograd case */
    static float x[C * HW * HW], w[M * C * KS * KS], bias[M];
    for (int i = 0; i < C * HW * HW; i++)
        x[i] = (float)((i * 37) % 101) / 50.0f - 1.0f;
    for (int i = 0; i < M * C * KS * KS; i++)
        w[i] = (float)((i * 53) % 97) / 480.0f - 0.1f;
    for (int i = 0; i < M; i++)
        bias[i] = (float)i / 8.0f;
    inferd_pool_t *pool;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(1, &pool, &err), INFERD_OK);
    inferd_tensor_t *y[2];
    for (int pooled = 0; pooled < 2; pooled++) {
        inferd_pool_set_default(pooled ? pool : NULL);
        tb_op_t o;
        tb_op_init(&o, 13, "Conv");
        tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(1, C, HW, HW), x));
        tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(M, C, KS, KS), w));
        tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(M), bias));
        y[pooled] = run_ok(&o);
    }
    inferd_pool_set_default(NULL);
    const int out = HW - KS + 1;
    assert_int_equal(y[1]->nbytes, (size_t)M * out * out * sizeof(float));
    assert_true(inferd_sgemm_threads(M, out * out, C * KS * KS, 2) == 1); /* no default pool */
    const float *a = y[0]->data, *b = y[1]->data;
    for (int i = 0; i < M * out * out; i++)
        if (fabsf(a[i] - b[i]) > 1e-4f * (1.0f + fabsf(a[i])))
            fail_msg("element %d: %.7g (BLAS) vs %.7g (pool)", i, a[i], b[i]);
    inferd_tensor_unref(y[0]);
    inferd_tensor_unref(y[1]);
    inferd_pool_destroy(pool);
    assert_no_live_tensors();
}

static void gemm_double(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 9, "Gemm");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP64, 2, TB_DIMS(2, 3), TB_F64S(1, 2, 3, 4, 5, 6)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP64, 2, TB_DIMS(3, 4),
                         TB_F64S(1, 0, -1, 2, 0.5, 1, 1, -1, 2, -2, 0, 1)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP64, 1, TB_DIMS(4), TB_F64S(1, 2, 3, 4)));
    tb_attr_float(o.m, o.node, "alpha", 0.5f);
    tb_attr_float(o.m, o.node, "beta", 2.0f);
    expect_ok(&o, INFERD_DTYPE_FP64, 2, TB_DIMS(2, 4),
              TB_F64S(6, 2, 6.5, 9.5, 11.25, 0.5, 6.5, 12.5), 1e-12);
}

static void gemm_errors(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "Gemm");
    tb_op_input(&o, A23);
    tb_op_input(&o, A23);
    expect_err(&o, INFERD_E_INVALID_ARG,
               "A [2,3] (transA=0) and B [2,3] (transB=0) have inner dimensions 3 and 2");

    tb_op_init(&o, 13, "Gemm");
    tb_op_input(&o, A23);
    tb_op_input(&o, B34);
    tb_op_input(&o, F32(1, TB_DIMS(3), 1, 2, 3));
    expect_err(&o, INFERD_E_INVALID_ARG, "C [3] does not broadcast to [2,4]");

    tb_op_init(&o, 13, "Gemm");
    tb_op_input(&o, F32(1, TB_DIMS(3), 1, 2, 3));
    tb_op_input(&o, B34);
    expect_err(&o, INFERD_E_INVALID_ARG, "must both be 2-D");

    /* Before opset 11, C is required: a load error. */
    tb_op_init(&o, 9, "Gemm");
    tb_op_input(&o, A23);
    tb_op_input(&o, B34);
    expect_err(&o, INFERD_E_INVALID_ARG, "has 2 inputs, the operator takes 3 to 3");
}

/* ------------------------------------------------------------------------------------ */
/* MatMul                                                                               */

static void matmul_vectors(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "MatMul");
    tb_op_input(&o, F32(1, TB_DIMS(3), 1, -1, 2));
    tb_op_input(&o, B34);
    expect_ok(&o, INFERD_DTYPE_FP32, 1, TB_DIMS(4), TB_F32S(4.5f, -5, -2, 5), 1e-6);

    tb_op_init(&o, 13, "MatMul");
    tb_op_input(&o, A23);
    tb_op_input(&o, F32(1, TB_DIMS(3), 1, 2, 3));
    expect_ok(&o, INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(14, 32), 1e-6);

    tb_op_init(&o, 13, "MatMul");
    tb_op_input(&o, F32(1, TB_DIMS(3), 1, 2, 3));
    tb_op_input(&o, F32(1, TB_DIMS(3), 4, 5, 6));
    expect_ok(&o, INFERD_DTYPE_FP32, 0, NULL, TB_F32S(32), 1e-6);
}

static void matmul_matrices(void **state)
{
    (void)state;
    float a[35], b[42];
    for (int i = 0; i < 35; i++)
        a[i] = (float)i * 0.1f - 1.3f;
    /* numpy: np.cos(np.arange(42, dtype=np.float32)) */
    static const float cosines[42] = {
        1.0f,          0.540302277f, -0.416146815f, -0.989992499f,  -0.653643608f, 0.28366217f,
        0.960170269f,  0.753902256f, -0.145500034f, -0.91113025f,   -0.839071512f, 0.00442569796f,
        0.843853951f,  0.907446802f, 0.136737227f,  -0.759687901f,  -0.957659483f, -0.275163352f,
        0.660316706f,  0.988704622f, 0.408082068f,  -0.547729254f,  -0.99996084f,  -0.53283304f,
        0.424179018f,  0.991202831f, 0.64691937f,   -0.292138815f,  -0.962605894f, -0.748057544f,
        0.154251456f,  0.914742351f, 0.83422333f,   -0.0132767474f, -0.848570287f, -0.903692186f,
        -0.127963692f, 0.765414059f, 0.955073655f,  0.266642928f,   -0.666938066f, -0.987339258f};
    for (int i = 0; i < 42; i++)
        b[i] = cosines[i];
    tb_op_t o;
    tb_op_init(&o, 13, "MatMul");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(5, 7), a));
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(7, 6), b));
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(5, 6),
              TB_F32S(-4.45634794f, -5.75363827f, -1.76105964f, 3.85062861f, 5.92206669f,
                      2.54878378f, -1.71598232f, -1.650437f, -0.0674873739f, 1.57750976f,
                      1.77215171f, 0.337485522f, 1.02438295f, 2.45276356f, 1.62608469f,
                      -0.695609033f, -2.37776303f, -1.87381268f, 3.76474857f, 6.55596447f,
                      3.31965685f, -2.96872807f, -6.52767754f, -4.08511114f, 6.50511312f,
                      10.6591644f, 5.01322889f, -5.24184656f, -10.6775923f, -6.29640913f),
              1e-5);
}

static void matmul_batches(void **state)
{
    (void)state;
    /* [2,2,3] x [3,4]: B shared by every batch (one sgemm over 4 rows). */
    float a[12], ab[12], bb[18];
    for (int i = 0; i < 12; i++) {
        a[i] = (float)i * 0.5f;
        ab[i] = (float)i - 5;
    }
    for (int i = 0; i < 18; i++)
        bb[i] = (float)i * 0.25f;
    tb_op_t o;
    tb_op_init(&o, 13, "MatMul");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(2, 2, 3), a));
    tb_op_input(&o, B34);
    expect_ok(&o, INFERD_DTYPE_FP32, 3, TB_DIMS(2, 2, 4),
              TB_F32S(2.25f, -1.5f, 0.5f, 0.5f, 7.5f, -3, 0.5f, 3.5f, 12.75f, -4.5f, 0.5f, 6.5f, 18,
                      -6, 0.5f, 9.5f),
              1e-6);

    /* [2,1,2,3] x [3,3,2] -> [2,3,2,2]: batch dims broadcast both ways. */
    tb_op_init(&o, 13, "MatMul");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(2, 1, 2, 3), ab));
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(3, 3, 2), bb));
    expect_ok(&o, INFERD_DTYPE_FP32, 4, TB_DIMS(2, 3, 2, 2),
              TB_F32S(-5, -8, -0.5f, -1.25f, -23, -26, -5, -5.75f, -41, -44, -9.5f, -10.25f, 4,
                      5.5f, 8.5f, 12.25f, 13, 14.5f, 31, 34.75f, 22, 23.5f, 53.5f, 57.25f),
              1e-6);
}

static void matmul_integers_double_and_empty(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "MatMul");
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT64, 2, TB_DIMS(2, 2), TB_I64S(1, 2, 3, 4)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT64, 2, TB_DIMS(2, 2), TB_I64S(5, 6, 7, 8)));
    expect_ok(&o, INFERD_DTYPE_INT64, 2, TB_DIMS(2, 2), TB_I64S(19, 22, 43, 50), 0);

    tb_op_init(&o, 9, "MatMul");
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT32, 2, TB_DIMS(1, 2), TB_I32S(-1, 2)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_INT32, 2, TB_DIMS(2, 1), TB_I32S(3, 4)));
    expect_ok(&o, INFERD_DTYPE_INT32, 2, TB_DIMS(1, 1), TB_I32S(5), 0);

    tb_op_init(&o, 13, "MatMul");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP64, 2, TB_DIMS(2, 3), TB_F64S(1, 2, 3, 4, 5, 6)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP64, 1, TB_DIMS(3), TB_F64S(1, 2, 3)));
    expect_ok(&o, INFERD_DTYPE_FP64, 1, TB_DIMS(2), TB_F64S(14, 32), 0);

    /* K = 0: a [2,3] result of zeros. */
    tb_op_init(&o, 13, "MatMul");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 0), NULL));
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(0, 3), NULL));
    expect_ok(&o, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 3), TB_F32S(0, 0, 0, 0, 0, 0), 0);
}

static void matmul_errors(void **state)
{
    (void)state;
    tb_op_t o;
    tb_op_init(&o, 13, "MatMul");
    tb_op_input(&o, A23);
    tb_op_input(&o, A23);
    expect_err(&o, INFERD_E_INVALID_ARG, "A [2,3] and B [2,3] have inner dimensions 3 and 2");

    tb_op_init(&o, 13, "MatMul");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(2, 2, 3), NULL));
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(3, 3, 2), NULL));
    expect_err(&o, INFERD_E_INVALID_ARG, "batch dimensions of A [2,2,3] and B [3,3,2]");

    tb_op_init(&o, 13, "MatMul");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 0, NULL, TB_F32S(1)));
    tb_op_input(&o, A23);
    expect_err(&o, INFERD_E_INVALID_ARG, "rank >= 1");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gemm_alpha_beta_row_bias),
        cmocka_unit_test(gemm_transposes_and_column_bias),
        cmocka_unit_test(gemm_scalar_full_and_missing_c),
        cmocka_unit_test(gemm_vector_paths),
        cmocka_unit_test(prepacked_weights_match_inputs),
        cmocka_unit_test(intra_op_thread_count_parameter),
        cmocka_unit_test(conv_product_on_the_pool),
        cmocka_unit_test(gemm_double),
        cmocka_unit_test(gemm_errors),
        cmocka_unit_test(matmul_vectors),
        cmocka_unit_test(matmul_matrices),
        cmocka_unit_test(matmul_batches),
        cmocka_unit_test(matmul_integers_double_and_empty),
        cmocka_unit_test(matmul_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
