/* Tests for src/backends/onnx/kernels/sgemm.c: results against a double-precision
 * reference on shapes that hit every tile edge, prepacked and unpacked B, transposes,
 * alpha/beta/C broadcasts, fused activations, the residual addend D (also in place over
 * Y, across K blocks); and row stability: a row's bits do not
 * depend on how many rows share the call, on the tile it lands in, or on the thread
 * split, on every code path this CPU has. */
#include "test.h"
#include "test_rand.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/onnx/kernels/sgemm.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "core/thread.h"

static const inferd_sgemm_path_t all_paths[] = {INFERD_SGEMM_PORTABLE, INFERD_SGEMM_AVX2,
                                                INFERD_SGEMM_AVX512};

static uint32_t rng = 12345;

/* Back to the best path this CPU has. */
static void restore_path(void)
{
    if (!inferd_sgemm_set_path(INFERD_SGEMM_AVX512) && !inferd_sgemm_set_path(INFERD_SGEMM_AVX2))
        inferd_sgemm_set_path(INFERD_SGEMM_PORTABLE);
}

/* op(A)[i,p] and op(B)[p,j] for stored A/B. */
static double at(const float *a, bool t, int64_t ld, int64_t r, int64_t c)
{
    return t ? a[c * ld + r] : a[r * ld + c];
}

/* Checks y against alpha * op(A) op(B) + beta * C (C full [m,n] or absent). */
static void check_ref(const float *y, bool ta, bool tb, int64_t m, int64_t n, int64_t k,
                      float alpha, const float *a, int64_t lda, const float *b, int64_t ldb,
                      float beta, const float *c)
{
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = 0, mag = 0;
            for (int64_t p = 0; p < k; p++) {
                double t = at(a, ta, lda, i, p) * at(b, tb, ldb, p, j);
                s += t;
                mag += fabs(t);
            }
            double want = alpha * s + (c ? beta * c[i * n + j] : 0);
            double tol = 1e-5 * (fabs(alpha) * mag + (c ? fabs(beta * c[i * n + j]) : 0)) + 1e-6;
            if (fabs(y[i * n + j] - want) > tol)
                fail_msg("m=%lld n=%lld k=%lld ta=%d tb=%d: y[%lld,%lld]=%.9g want %.9g",
                         (long long)m, (long long)n, (long long)k, ta, tb, (long long)i,
                         (long long)j, y[i * n + j], want);
        }
}

static void against_reference(void **state)
{
    (void)state;
    static const int64_t sizes[] = {1, 15, 16, 17, 33, 7};
    for (size_t pi = 0; pi < sizeof(all_paths) / sizeof(all_paths[0]); pi++) {
        if (!inferd_sgemm_set_path(all_paths[pi]))
            continue;
        for (size_t mi = 0; mi < 6; mi++)
            for (size_t ni = 0; ni < 6; ni++)
                for (size_t ki = 0; ki < 6; ki++) {
                    int64_t m = sizes[mi], n = sizes[ni], k = sizes[ki];
                    int variant = (int)((mi + ni + ki) % 4);
                    bool ta = variant & 1, tb = variant & 2;
                    float alpha = variant == 1 ? 0.5f : 1.0f;
                    float beta = variant == 2 ? -2.0f : 1.0f;
                    float *a = test_rand_buf(&rng, m * k), *b = test_rand_buf(&rng, k * n),
                          *c = test_rand_buf(&rng, m * n);
                    float *y = inferd_xmalloc((size_t)(m * n) * sizeof(float));
                    int64_t lda = ta ? m : k, ldb = tb ? k : n;
                    /* Unpacked B, with C as an addend. */
                    inferd_sgemm_job_t j = {.m = m,
                                            .n = n,
                                            .k = k,
                                            .trans_a = ta,
                                            .a = a,
                                            .lda = lda,
                                            .b = b,
                                            .ldb = ldb,
                                            .trans_b = tb,
                                            .y = y,
                                            .ldy = n,
                                            .alpha = alpha,
                                            .beta = beta,
                                            .c = c,
                                            .c_rs = n,
                                            .c_cs = 1,
                                            .max_threads = 1};
                    assert_true(inferd_sgemm_run(&j));
                    check_ref(y, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c);
                    /* Prepacked B, no C: Y = alpha * op(A) op(B) through the wrapper's
                     * semantics must match too. */
                    inferd_sgemm_pack_t *pk =
                        inferd_sgemm_pack_create(tb, n, k, b, ldb, INFERD_OWNER_MODEL);
                    assert_non_null(pk);
                    float *y2 = inferd_xmalloc((size_t)(m * n) * sizeof(float));
                    j.pack = pk;
                    j.c = NULL;
                    j.y = y2;
                    assert_true(inferd_sgemm_run(&j));
                    check_ref(y2, ta, tb, m, n, k, alpha, a, lda, b, ldb, 0, NULL);
                    /* The legacy entry point: beta scales Y in place. */
                    memcpy(y, c, (size_t)(m * n) * sizeof(float));
                    assert_true(inferd_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, y));
                    check_ref(y, ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, c);
                    inferd_sgemm_pack_destroy(pk);
                    inferd_free(a);
                    inferd_free(b);
                    inferd_free(c);
                    inferd_free(y);
                    inferd_free(y2);
                }
    }
    restore_path();
    assert_no_live_tensors();
}

/* The legacy form Y = alpha * A B + beta * Y with K long enough to be cut into blocks
 * (which must not be, since the partial sums would land on C). */
static void beta_y_with_long_k(void **state)
{
    (void)state;
    const int64_t m = 20, n = 40, k = 600;
    float *a = test_rand_buf(&rng, m * k), *b = test_rand_buf(&rng, k * n),
          *c = test_rand_buf(&rng, m * n);
    float *y = inferd_xmalloc((size_t)(m * n) * sizeof(float));
    for (size_t pi = 0; pi < sizeof(all_paths) / sizeof(all_paths[0]); pi++) {
        if (!inferd_sgemm_set_path(all_paths[pi]))
            continue;
        memcpy(y, c, (size_t)(m * n) * sizeof(float));
        assert_true(inferd_sgemm(false, false, m, n, k, 1.0f, a, k, b, n, 0.5f, y));
        check_ref(y, false, false, m, n, k, 1.0f, a, k, b, n, 0.5f, c);
    }
    restore_path();
    inferd_free(a);
    inferd_free(b);
    inferd_free(c);
    inferd_free(y);
}

/* A given transposed gives the same bits as A given as is, whether the kernel copies it
 * into row blocks (wide N) or reads it in place (narrow N). */
static void transposed_a_same_bits(void **state)
{
    (void)state;
    static const int64_t ns[] = {40, 100, 300};
    const int64_t m = 20, k = 300;
    float *a = test_rand_buf(&rng, m * k), *at = inferd_xmalloc((size_t)(m * k) * sizeof(float));
    for (int64_t i = 0; i < m; i++)
        for (int64_t p = 0; p < k; p++)
            at[p * m + i] = a[i * k + p];
    for (size_t pi = 0; pi < sizeof(all_paths) / sizeof(all_paths[0]); pi++) {
        if (!inferd_sgemm_set_path(all_paths[pi]))
            continue;
        for (size_t ni = 0; ni < 3; ni++) {
            int64_t n = ns[ni];
            float *b = test_rand_buf(&rng, k * n),
                  *y1 = inferd_xmalloc((size_t)(m * n) * sizeof(float));
            float *y2 = inferd_xmalloc((size_t)(m * n) * sizeof(float));
            assert_true(inferd_sgemm(false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, y1));
            assert_true(inferd_sgemm(true, false, m, n, k, 1.0f, at, m, b, n, 0.0f, y2));
            assert_memory_equal(y1, y2, (size_t)(m * n) * sizeof(float));
            check_ref(y2, true, false, m, n, k, 1.0f, at, m, b, n, 0, NULL);
            inferd_free(b);
            inferd_free(y1);
            inferd_free(y2);
        }
    }
    restore_path();
    inferd_free(a);
    inferd_free(at);
}

/* K lengths around the K block (256): a batch (K cut into blocks, A read in place), each
 * row alone (no blocks) and the batch with A given transposed (copied into row blocks)
 * give the same bits, on every path. */
static void k_block_edges_same_bits(void **state)
{
    (void)state;
    static const int64_t ks[] = {255, 256, 257, 512, 513};
    const int64_t m = 13, n = 300;
    for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
        int64_t k = ks[ki];
        float *a = test_rand_buf(&rng, m * k), *b = test_rand_buf(&rng, k * n);
        float *at = inferd_xmalloc((size_t)(m * k) * sizeof(float));
        float *full = inferd_xmalloc((size_t)(m * n) * sizeof(float));
        float *part = inferd_xmalloc((size_t)(m * n) * sizeof(float));
        for (int64_t i = 0; i < m; i++)
            for (int64_t p = 0; p < k; p++)
                at[p * m + i] = a[i * k + p];
        for (size_t pi = 0; pi < sizeof(all_paths) / sizeof(all_paths[0]); pi++) {
            if (!inferd_sgemm_set_path(all_paths[pi]))
                continue;
            assert_true(inferd_sgemm(false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, full));
            check_ref(full, false, false, m, n, k, 1.0f, a, k, b, n, 0, NULL);
            for (int64_t i = 0; i < m; i++) {
                assert_true(
                    inferd_sgemm(false, false, 1, n, k, 1.0f, a + i * k, k, b, n, 0.0f, part));
                assert_memory_equal(part, full + i * n, (size_t)n * sizeof(float));
            }
            assert_true(inferd_sgemm(true, false, m, n, k, 1.0f, at, m, b, n, 0.0f, part));
            assert_memory_equal(part, full, (size_t)(m * n) * sizeof(float));
        }
        inferd_free(a);
        inferd_free(b);
        inferd_free(at);
        inferd_free(full);
        inferd_free(part);
    }
    restore_path();
}

/* Runs rows [i0, i0+m) of A (row-major [*, k]) against B, into y [m, n]. */
static void run_rows(const float *a, int64_t i0, int64_t m, int64_t n, int64_t k,
                     const inferd_sgemm_pack_t *pk, const float *b, const float *bias,
                     inferd_onnx_act_t act, int threads, float *y)
{
    inferd_sgemm_job_t j = {.m = m,
                            .n = n,
                            .k = k,
                            .a = a + i0 * k,
                            .lda = k,
                            .pack = pk,
                            .b = b,
                            .ldb = n,
                            .y = y,
                            .ldy = n,
                            .alpha = 0.75f,
                            .beta = 1.0f,
                            .c = bias,
                            .c_rs = 0,
                            .c_cs = 1,
                            .act = act,
                            .max_threads = threads};
    assert_true(inferd_sgemm_run(&j));
}

static void row_stability(void **state)
{
    (void)state;
    /* A product large enough to be split over 2 threads. */
    const int64_t M = 64, N = 1000, K = 300;
    inferd_pool_t *pool;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(1, &pool, &err), INFERD_OK);
    inferd_pool_set_default(pool);
    float *a = test_rand_buf(&rng, M * K), *b = test_rand_buf(&rng, K * N),
          *bias = test_rand_buf(&rng, N);
    float *full = inferd_xmalloc((size_t)(M * N) * sizeof(float));
    float *part = inferd_xmalloc((size_t)(M * N) * sizeof(float));
    inferd_sgemm_pack_t *pk = inferd_sgemm_pack_create(false, N, K, b, N, INFERD_OWNER_MODEL);
    inferd_onnx_act_t act = {INFERD_ONNX_ACT_RELU, 0, 0};
    int checked = 0;
    for (size_t pi = 0; pi < sizeof(all_paths) / sizeof(all_paths[0]); pi++) {
        if (!inferd_sgemm_set_path(all_paths[pi]))
            continue;
        checked++;
        for (int packed = 0; packed < 2; packed++) {
            const inferd_sgemm_pack_t *p = packed ? pk : NULL;
            run_rows(a, 0, M, N, K, p, b, bias, act, 1, full);
            /* Every row alone (the GEMV tiles), and in blocks of odd sizes at odd offsets
             * (edge tiles of every height). */
            for (int64_t i = 0; i < M; i++) {
                run_rows(a, i, 1, N, K, p, b, bias, act, 1, part);
                assert_memory_equal(part, full + i * N, (size_t)N * sizeof(float));
            }
            for (int64_t i0 = 0, m = 5; i0 < M; i0 += m, m = m + 2) {
                int64_t mm = i0 + m > M ? M - i0 : m;
                run_rows(a, i0, mm, N, K, p, b, bias, act, 1, part);
                assert_memory_equal(part, full + i0 * N, (size_t)(mm * N) * sizeof(float));
            }
            /* Two threads (the pool's worker and this one). */
            run_rows(a, 0, M, N, K, p, b, bias, act, 2, part);
            assert_memory_equal(part, full, (size_t)(M * N) * sizeof(float));
            /* Packed and unpacked B give the same bits. */
            if (packed) {
                run_rows(a, 0, M, N, K, NULL, b, bias, act, 1, part);
                assert_memory_equal(part, full, (size_t)(M * N) * sizeof(float));
            }
        }
    }
    assert_true(checked >= 1);
    restore_path();
    inferd_pool_set_default(NULL);
    inferd_pool_destroy(pool);
    inferd_sgemm_pack_destroy(pk);
    inferd_free(a);
    inferd_free(b);
    inferd_free(bias);
    inferd_free(full);
    inferd_free(part);
    assert_no_live_tensors();
}

/* A fused activation gives exactly act(unfused result), on every path; bias broadcast
 * by rows and by columns. */
static void epilogue(void **state)
{
    (void)state;
    const int64_t M = 9, N = 37, K = 20;
    float *a = test_rand_buf(&rng, M * K), *b = test_rand_buf(&rng, K * N),
          *rowb = test_rand_buf(&rng, N), *colb = test_rand_buf(&rng, M);
    float *plain = inferd_xmalloc((size_t)(M * N) * sizeof(float));
    float *fused = inferd_xmalloc((size_t)(M * N) * sizeof(float));
    static const inferd_onnx_act_t acts[] = {
        {INFERD_ONNX_ACT_RELU, 0, 0},         {INFERD_ONNX_ACT_LEAKY_RELU, 0.1f, 0},
        {INFERD_ONNX_ACT_CLIP, -0.5f, 0.25f}, {INFERD_ONNX_ACT_SIGMOID, 0, 0},
        {INFERD_ONNX_ACT_TANH, 0, 0},         {INFERD_ONNX_ACT_HARD_SIGMOID, 0.2f, 0.5f},
    };
    for (size_t pi = 0; pi < sizeof(all_paths) / sizeof(all_paths[0]); pi++) {
        if (!inferd_sgemm_set_path(all_paths[pi]))
            continue;
        for (int col = 0; col < 2; col++) {
            inferd_sgemm_job_t j = {.m = M,
                                    .n = N,
                                    .k = K,
                                    .a = a,
                                    .lda = K,
                                    .b = b,
                                    .ldb = N,
                                    .y = plain,
                                    .ldy = N,
                                    .alpha = 1.0f,
                                    .beta = 0.5f,
                                    .c = col ? colb : rowb,
                                    .c_rs = col ? 1 : 0,
                                    .c_cs = col ? 0 : 1,
                                    .max_threads = 1};
            assert_true(inferd_sgemm_run(&j));
            for (int64_t i = 0; i < M; i++)
                for (int64_t q = 0; q < N; q++) {
                    double s = 0;
                    for (int64_t p = 0; p < K; p++)
                        s += (double)a[i * K + p] * b[p * N + q];
                    s += 0.5 * (col ? colb[i] : rowb[q]);
                    assert_true(fabs(plain[i * N + q] - s) < 1e-4);
                }
            for (size_t ai = 0; ai < sizeof(acts) / sizeof(acts[0]); ai++) {
                j.y = fused;
                j.act = acts[ai];
                assert_true(inferd_sgemm_run(&j));
                j.y = plain;
                j.act.kind = INFERD_ONNX_ACT_NONE;
                for (int64_t e = 0; e < M * N; e++) {
                    float want = inferd_sgemm_act(acts[ai], plain[e]);
                    if (memcmp(&want, &fused[e], sizeof(float)) != 0)
                        fail_msg("path %s act %d elem %lld: %.9g want %.9g", inferd_sgemm_path(),
                                 (int)acts[ai].kind, (long long)e, fused[e], want);
                }
            }
        }
    }
    restore_path();
    inferd_free(a);
    inferd_free(b);
    inferd_free(rowb);
    inferd_free(colb);
    inferd_free(plain);
    inferd_free(fused);
}

/* A pack is charged to its owner and released by destroy; K = 0 works (Y = beta C). */
static void pack_accounting_and_empty_k(void **state)
{
    (void)state;
    float b[6] = {1, 2, 3, 4, 5, 6};
    inferd_sgemm_pack_t *pk = inferd_sgemm_pack_create(false, 3, 2, b, 3, INFERD_OWNER_MODEL);
    assert_non_null(pk);
    inferd_tensor_stats_t st;
    inferd_tensor_stats(&st);
    assert_int_equal(st.count[INFERD_OWNER_MODEL], 1);
    assert_true(st.bytes[INFERD_OWNER_MODEL] >= (int64_t)(2 * 16 * sizeof(float)));
    assert_int_equal((uintptr_t)pk->panels % 64, 0);
    assert_int_equal(pk->n_panels, 1);
    /* Padding columns are zero. */
    assert_true(pk->panels[3] == 0.0f && pk->panels[15] == 0.0f && pk->panels[16 + 2] == 6.0f);
    inferd_sgemm_pack_destroy(pk);
    inferd_sgemm_pack_destroy(NULL);
    assert_no_live_tensors();

    float y[4] = {1, 2, 3, 4}, c[4] = {1, 2, 3, 4};
    inferd_sgemm_job_t j = {.m = 2,
                            .n = 2,
                            .k = 0,
                            .a = NULL,
                            .lda = 0,
                            .b = NULL,
                            .ldb = 2,
                            .y = y,
                            .ldy = 2,
                            .alpha = 1.0f,
                            .beta = 3.0f,
                            .c = c,
                            .c_rs = 2,
                            .c_cs = 1};
    assert_true(inferd_sgemm_run(&j));
    assert_true(y[0] == 3.0f && y[3] == 12.0f);

    /* K = 0 with many rows and columns (the K-blocked paths) on every path. */
    enum { M = 20, N = 40 };
    static float big[M * N], bias[N];
    for (int q = 0; q < N; q++)
        bias[q] = (float)q;
    for (size_t pi = 0; pi < sizeof(all_paths) / sizeof(all_paths[0]); pi++) {
        if (!inferd_sgemm_set_path(all_paths[pi]))
            continue;
        for (int e = 0; e < M * N; e++)
            big[e] = -1.0f;
        inferd_sgemm_job_t jb = {.m = M,
                                 .n = N,
                                 .k = 0,
                                 .b = bias,
                                 .ldb = N,
                                 .y = big,
                                 .ldy = N,
                                 .alpha = 1.0f,
                                 .beta = 2.0f,
                                 .c = bias,
                                 .c_rs = 0,
                                 .c_cs = 1,
                                 .max_threads = 1};
        assert_true(inferd_sgemm_run(&jb));
        for (int e = 0; e < M * N; e++)
            assert_true(big[e] == 2.0f * (float)(e % N));
    }
    restore_path();
}

/* Allocation failure on demand: the test links with --wrap=inferd_calloc. */
void *__real_inferd_calloc(size_t count, size_t size);
void *__wrap_inferd_calloc(size_t count, size_t size);
static bool calloc_fails;

void *__wrap_inferd_calloc(size_t count, size_t size)
{
    return calloc_fails ? NULL : __real_inferd_calloc(count, size);
}

/* Without memory to pack a transposed B the product is still computed, correctly and,
 * on every path this CPU has, with the same bits as with the memory. */
static void transposed_b_without_memory(void **state)
{
    (void)state;
    enum { M = 7, N = 37, K = 300 };
    float *a = test_rand_buf(&rng, M * K), *b = test_rand_buf(&rng, N * K),
          *c = test_rand_buf(&rng, N);
    float y0[M * N], y1[M * N];
    for (size_t pi = 0; pi < sizeof(all_paths) / sizeof(all_paths[0]); pi++) {
        if (!inferd_sgemm_set_path(all_paths[pi]))
            continue;
        inferd_sgemm_job_t j = {.m = M,
                                .n = N,
                                .k = K,
                                .a = a,
                                .lda = K,
                                .b = b,
                                .ldb = K,
                                .trans_b = true,
                                .y = y0,
                                .ldy = N,
                                .alpha = 0.5f,
                                .beta = 2.0f,
                                .c = c,
                                .c_rs = 0,
                                .c_cs = 1,
                                .act = {.kind = INFERD_ONNX_ACT_RELU},
                                .max_threads = 1};
        assert_true(inferd_sgemm_run(&j));
        memset(y1, 0xff, sizeof(y1)); /* NaNs: every element must be written */
        j.y = y1;
        calloc_fails = true;
        bool ok = inferd_sgemm_run(&j);
        calloc_fails = false;
        assert_true(ok);
        if (all_paths[pi] != INFERD_SGEMM_PORTABLE) /* the portable tile has no FMA */
            assert_memory_equal(y0, y1, sizeof(y0));
        for (int e = 0; e < M * N; e++)
            assert_true(fabsf(y0[e] - y1[e]) <= 1e-4f * (1.0f + fabsf(y0[e])));
    }
    restore_path();
    inferd_free(a);
    inferd_free(b);
    inferd_free(c);
}

/* The residual addend D: Y = act(A B + bias + D) is bitwise act((A B + bias) + D) of the
 * unfused product, on every path, with K past the K block and M past the row block
 * (where K blocks keep partial sums in Y), prepacked and row-major B, D apart from Y
 * (a row stride of its own) and D in Y itself, the column split and the row split over
 * a pool. */
static void residual_addend(void **state)
{
    (void)state;
    const int64_t M = 13, N = 37, LDD = 41;
    static const int64_t ks[] = {5, 300, 600};
    inferd_pool_t *pool = NULL;
    inferd_err_t perr;
    assert_int_equal(inferd_pool_create(1, &pool, &perr), INFERD_OK);
    for (size_t pi = 0; pi < sizeof(all_paths) / sizeof(all_paths[0]); pi++) {
        if (!inferd_sgemm_set_path(all_paths[pi]))
            continue;
        for (size_t ki = 0; ki < sizeof(ks) / sizeof(ks[0]); ki++) {
            int64_t K = ks[ki];
            float *a = test_rand_buf(&rng, M * K), *b = test_rand_buf(&rng, K * N),
                  *bias = test_rand_buf(&rng, M);
            float *d = test_rand_buf(&rng, M * LDD), *plain = inferd_xmalloc((size_t)(M * N) * 4);
            float *fused = inferd_xmalloc((size_t)(M * N) * 4);
            inferd_sgemm_pack_t *pk =
                inferd_sgemm_pack_create(false, N, K, b, N, INFERD_OWNER_ARENA);
            for (int v = 0; v < 16; v++) {
                bool packed = v & 1, relu = v & 2, in_y = v & 4, split = v & 8;
                inferd_sgemm_job_t j = {.m = M,
                                        .n = N,
                                        .k = K,
                                        .a = a,
                                        .lda = K,
                                        .pack = packed ? pk : NULL,
                                        .b = b,
                                        .ldb = N,
                                        .y = plain,
                                        .ldy = N,
                                        .alpha = 1.0f,
                                        .beta = 1.0f,
                                        .c = bias,
                                        .c_rs = 1,
                                        .c_cs = 0,
                                        .max_threads = 1};
                assert_true(inferd_sgemm_run(&j));
                inferd_onnx_act_t act = {relu ? INFERD_ONNX_ACT_RELU : INFERD_ONNX_ACT_NONE, 0, 0};
                j.y = fused;
                j.act = act;
                j.d = d;
                j.d_rs = LDD;
                if (in_y) {
                    for (int64_t i = 0; i < M; i++)
                        memcpy(fused + i * N, d + i * LDD, (size_t)N * sizeof(float));
                    j.d = fused;
                    j.d_rs = N;
                }
                if (split) {
                    inferd_pool_set_default(pool);
                    if (v & 1) {
                        j.max_threads = 2; /* the GEMM's own column split */
                        assert_true(inferd_sgemm_run(&j));
                    } else {
                        assert_true(inferd_sgemm_run_rows(&j, 6));
                    }
                    inferd_pool_set_default(NULL);
                } else {
                    assert_true(inferd_sgemm_run(&j));
                }
                for (int64_t i = 0; i < M; i++)
                    for (int64_t q = 0; q < N; q++) {
                        float want = plain[i * N + q] + d[i * LDD + q];
                        want = inferd_sgemm_act(act, want);
                        if (memcmp(&want, &fused[i * N + q], sizeof(float)) != 0)
                            fail_msg("path %s k=%lld v=%d y[%lld,%lld]: %.9g want %.9g",
                                     inferd_sgemm_path(), (long long)K, v, (long long)i,
                                     (long long)q, fused[i * N + q], want);
                    }
            }
            inferd_sgemm_pack_destroy(pk);
            inferd_free(a);
            inferd_free(b);
            inferd_free(bias);
            inferd_free(d);
            inferd_free(plain);
            inferd_free(fused);
        }
    }
    restore_path();
    inferd_pool_destroy(pool);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(against_reference),
        cmocka_unit_test(beta_y_with_long_k),
        cmocka_unit_test(transposed_a_same_bits),
        cmocka_unit_test(k_block_edges_same_bits),
        cmocka_unit_test(row_stability),
        cmocka_unit_test(epilogue),
        cmocka_unit_test(residual_addend),
        cmocka_unit_test(pack_accounting_and_empty_k),
        cmocka_unit_test(transposed_b_without_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
