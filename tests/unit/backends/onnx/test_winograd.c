/* Tests for src/backends/onnx/kernels/winograd.c: F(4x4, 3x3) against a direct
 * convolution in double on channel counts below, at and above the 16-lane blocks, odd
 * image sizes (partial edge tiles), symmetric, asymmetric and no padding, with and
 * without bias, every fused activation, on every code path the CPU has; a fused residual
 * added in the output transform, apart from Y and in Y itself; the batching
 * guarantee: an image's outputs are bit-identical run alone, inside a batch, and split
 * over two threads; and allocation failures. */
#include "test.h"
#include "test_rand.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "backends/onnx/kernels/scratch.h"
#include "backends/onnx/kernels/winograd.h"
#include "core/alloc.h"
#include "core/pool.h"

typedef struct wcase {
    int64_t n, c, m, h, w;
    int64_t pt, pl, pb, pr; /* pads: top, left, bottom, right */
    bool bias;
    inferd_onnx_act_kind_t act;
} wcase_t;

static uint32_t rng = 777;

static inferd_onnx_act_t act_of(inferd_onnx_act_kind_t k)
{
    inferd_onnx_act_t a = {.kind = k};
    if (k == INFERD_ONNX_ACT_LEAKY_RELU)
        a.alpha = 0.1f;
    if (k == INFERD_ONNX_ACT_CLIP) {
        a.alpha = -0.5f;
        a.beta = 0.75f;
    }
    if (k == INFERD_ONNX_ACT_HARD_SIGMOID) {
        a.alpha = 0.2f;
        a.beta = 0.5f;
    }
    return a;
}

static double act_ref(inferd_onnx_act_t a, double v)
{
    switch (a.kind) {
    case INFERD_ONNX_ACT_RELU: return v > 0 ? v : 0;
    case INFERD_ONNX_ACT_LEAKY_RELU: return v < 0 ? a.alpha * v : v;
    case INFERD_ONNX_ACT_CLIP: return v < a.alpha ? a.alpha : v > a.beta ? a.beta : v;
    case INFERD_ONNX_ACT_SIGMOID: return 1 / (1 + exp(-v));
    case INFERD_ONNX_ACT_TANH: return tanh(v);
    case INFERD_ONNX_ACT_HARD_SIGMOID: {
        double r = a.alpha * v + a.beta;
        return r < 0 ? 0 : r > 1 ? 1 : r;
    }
    default: return v;
    }
}

static int64_t out_h(const wcase_t *k)
{
    return k->h + k->pt + k->pb - 2;
}

static int64_t out_w(const wcase_t *k)
{
    return k->w + k->pl + k->pr - 2;
}

/* Runs the case on images [n0, n0 + n) of x with max_threads. */
static void run(const inferd_wino_t *wino, const wcase_t *k, const float *x, const float *b,
                int64_t n0, int64_t n, int threads, float *y)
{
    inferd_wino_conv_t cv = {.x = x + n0 * k->c * k->h * k->w,
                             .n = n,
                             .ih = k->h,
                             .iw = k->w,
                             .pad_top = k->pt,
                             .pad_left = k->pl,
                             .oh = out_h(k),
                             .ow = out_w(k),
                             .bias = b,
                             .act = act_of(k->act),
                             .y = y,
                             .max_threads = threads};
    assert_true(inferd_wino_run(wino, &cv));
}

static void check_case(const wcase_t *k)
{
    int64_t oh = out_h(k), ow = out_w(k);
    int64_t nx = k->n * k->c * k->h * k->w, ny = k->n * k->m * oh * ow;
    float *x = test_rand_buf(&rng, nx), *wt = test_rand_buf(&rng, k->m * k->c * 9),
          *b = test_rand_buf(&rng, k->m);
    float *y = test_rand_buf(&rng, ny); /* garbage: every element must be written */
    inferd_wino_t *wino = inferd_wino_create(wt, k->m, k->c, INFERD_OWNER_MODEL);
    assert_non_null(wino);
    run(wino, k, x, k->bias ? b : NULL, 0, k->n, 1, y);
    inferd_onnx_act_t act = act_of(k->act);
    for (int64_t n = 0; n < k->n; n++)
        for (int64_t mo = 0; mo < k->m; mo++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    double acc = k->bias ? b[mo] : 0, mag = fabs(acc);
                    for (int64_t ci = 0; ci < k->c; ci++)
                        for (int ky = 0; ky < 3; ky++)
                            for (int kx = 0; kx < 3; kx++) {
                                int64_t iy = oy - k->pt + ky, ix = ox - k->pl + kx;
                                if (iy < 0 || iy >= k->h || ix < 0 || ix >= k->w)
                                    continue;
                                double t = (double)x[((n * k->c + ci) * k->h + iy) * k->w + ix] *
                                           wt[((mo * k->c + ci) * 3 + ky) * 3 + kx];
                                acc += t;
                                mag += fabs(t);
                            }
                    double want = act_ref(act, acc);
                    double got = y[((n * k->m + mo) * oh + oy) * ow + ox];
                    /* Winograd's rounding grows with the magnitude of the terms, not of
                     * their sum; every activation here is 1-Lipschitz or flatter. */
                    double lim = 2e-5 * mag + 1e-6;
                    if (!(fabs(got - want) <= lim))
                        fail_msg("n=%lld m=%lld (%lld,%lld): got %.9g want %.9g (lim %.3g)",
                                 (long long)n, (long long)mo, (long long)oy, (long long)ox, got,
                                 want, lim);
                }
    inferd_wino_destroy(wino);
    inferd_free(x);
    inferd_free(wt);
    inferd_free(b);
    inferd_free(y);
}

static const inferd_sgemm_path_t all_paths[] = {INFERD_SGEMM_PORTABLE, INFERD_SGEMM_AVX2,
                                                INFERD_SGEMM_AVX512};

/* Back to the best path this CPU has. */
static void restore_path(void)
{
    if (!inferd_sgemm_set_path(INFERD_SGEMM_AVX512) && !inferd_sgemm_set_path(INFERD_SGEMM_AVX2))
        inferd_sgemm_set_path(INFERD_SGEMM_PORTABLE);
}

/* On every code path this CPU has (the transforms follow the GEMM's). */
static void matches_direct_convolution(void **state)
{
    (void)state;
    for (size_t pi = 0; pi < sizeof(all_paths) / sizeof(all_paths[0]); pi++) {
        if (!inferd_sgemm_set_path(all_paths[pi]))
            continue;
        /* n c m h w pt pl pb pr bias act */
        check_case(&(wcase_t){1, 1, 1, 3, 3, 0, 0, 0, 0, false, INFERD_ONNX_ACT_NONE});
        check_case(&(wcase_t){1, 1, 1, 1, 1, 1, 1, 1, 1, true, INFERD_ONNX_ACT_NONE});
        check_case(&(wcase_t){2, 3, 5, 7, 9, 1, 1, 1, 1, true, INFERD_ONNX_ACT_RELU});
        check_case(&(wcase_t){1, 16, 16, 8, 8, 1, 1, 1, 1, true, INFERD_ONNX_ACT_NONE});
        check_case(&(wcase_t){2, 17, 33, 11, 13, 0, 1, 2, 0, true, INFERD_ONNX_ACT_LEAKY_RELU});
        check_case(&(wcase_t){1, 32, 32, 32, 32, 1, 1, 1, 1, true, INFERD_ONNX_ACT_RELU});
        check_case(&(wcase_t){3, 64, 20, 6, 5, 1, 1, 1, 1, false, INFERD_ONNX_ACT_CLIP});
        check_case(&(wcase_t){1, 130, 128, 9, 10, 1, 1, 1, 1, true, INFERD_ONNX_ACT_SIGMOID});
        check_case(&(wcase_t){2, 5, 7, 14, 15, 2, 0, 0, 2, true, INFERD_ONNX_ACT_TANH});
        check_case(&(wcase_t){1, 8, 9, 10, 6, 0, 0, 0, 0, true, INFERD_ONNX_ACT_HARD_SIGMOID});
    }
    restore_path();
}

/* A residual R in the output transform: Y = act(conv + bias + R) is bitwise
 * act((conv + bias) + R) of the unfused run, on every path, for every activation, with
 * R apart from Y and R in Y itself (written over), on one thread and on two. */
static void residual_in_output_transform(void **state)
{
    (void)state;
    inferd_pool_t *pool = NULL;
    inferd_err_t perr;
    assert_int_equal(inferd_pool_create(1, &pool, &perr), INFERD_OK);
    static const wcase_t cases[] = {
        /* n c m h w pt pl pb pr bias act */
        {2, 16, 16, 8, 8, 1, 1, 1, 1, true, INFERD_ONNX_ACT_RELU},
        {1, 17, 33, 11, 13, 1, 1, 1, 1, false, INFERD_ONNX_ACT_LEAKY_RELU},
        {3, 32, 20, 6, 5, 1, 1, 1, 1, true, INFERD_ONNX_ACT_CLIP},
        {1, 16, 32, 9, 10, 1, 1, 1, 1, true, INFERD_ONNX_ACT_SIGMOID},
        {2, 16, 16, 7, 9, 0, 0, 0, 0, true, INFERD_ONNX_ACT_NONE},
        {1, 16, 16, 12, 12, 1, 1, 1, 1, true, INFERD_ONNX_ACT_HARD_SIGMOID},
        {1, 24, 16, 16, 16, 1, 1, 1, 1, false, INFERD_ONNX_ACT_TANH},
    };
    for (size_t pi = 0; pi < sizeof(all_paths) / sizeof(all_paths[0]); pi++) {
        if (!inferd_sgemm_set_path(all_paths[pi]))
            continue;
        for (size_t ci = 0; ci < sizeof(cases) / sizeof(cases[0]); ci++) {
            const wcase_t *k = &cases[ci];
            int64_t ny = k->n * k->m * out_h(k) * out_w(k);
            float *x = test_rand_buf(&rng, k->n * k->c * k->h * k->w),
                  *wt = test_rand_buf(&rng, k->m * k->c * 9);
            float *b = test_rand_buf(&rng, k->m), *r = test_rand_buf(&rng, ny),
                  *plain = test_rand_buf(&rng, ny);
            float *fused = test_rand_buf(&rng, ny);
            inferd_wino_t *wino = inferd_wino_create(wt, k->m, k->c, INFERD_OWNER_MODEL);
            assert_non_null(wino);
            wcase_t bare = *k;
            bare.act = INFERD_ONNX_ACT_NONE;
            run(wino, &bare, x, k->bias ? b : NULL, 0, k->n, 1, plain);
            for (int v = 0; v < 4; v++) {
                bool in_y = v & 1;
                int threads = v & 2 ? 2 : 1;
                if (in_y)
                    memcpy(fused, r, (size_t)ny * sizeof(float));
                inferd_wino_conv_t cv = {.x = x,
                                         .n = k->n,
                                         .ih = k->h,
                                         .iw = k->w,
                                         .pad_top = k->pt,
                                         .pad_left = k->pl,
                                         .oh = out_h(k),
                                         .ow = out_w(k),
                                         .bias = k->bias ? b : NULL,
                                         .res = in_y ? fused : r,
                                         .act = act_of(k->act),
                                         .y = fused,
                                         .max_threads = threads};
                inferd_pool_set_default(threads > 1 ? pool : NULL);
                assert_true(inferd_wino_run(wino, &cv));
                inferd_pool_set_default(NULL);
                for (int64_t e = 0; e < ny; e++) {
                    float want = plain[e] + r[e];
                    want = inferd_sgemm_act(act_of(k->act), want);
                    if (memcmp(&want, &fused[e], sizeof(float)) != 0)
                        fail_msg("path %s case %zu v=%d elem %lld: %.9g want %.9g",
                                 inferd_sgemm_path(), ci, v, (long long)e, fused[e], want);
                }
            }
            inferd_wino_destroy(wino);
            inferd_free(x);
            inferd_free(wt);
            inferd_free(b);
            inferd_free(r);
            inferd_free(plain);
            inferd_free(fused);
        }
    }
    restore_path();
    inferd_pool_destroy(pool);
    assert_no_live_tensors();
}

/* Each image alone, on one thread, against the whole batch on one and on two threads, on
 * every code path. */
static void batch_and_threads_same_bits(void **state)
{
    (void)state;
    static const wcase_t cases[] = {
        {7, 32, 32, 16, 16, 1, 1, 1, 1, true, INFERD_ONNX_ACT_RELU},
        {5, 19, 40, 13, 11, 1, 0, 1, 2, true, INFERD_ONNX_ACT_NONE},
        {9, 128, 128, 8, 8, 1, 1, 1, 1, false, INFERD_ONNX_ACT_SIGMOID},
    };
    inferd_pool_t *pool;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(1, &pool, &err), INFERD_OK);
    for (size_t pi = 0; pi < sizeof(all_paths) / sizeof(all_paths[0]); pi++)
        for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
            if (!inferd_sgemm_set_path(all_paths[pi]))
                continue;
            const wcase_t *k = &cases[i];
            int64_t per = k->m * out_h(k) * out_w(k), ny = k->n * per;
            float *x = test_rand_buf(&rng, k->n * k->c * k->h * k->w),
                  *wt = test_rand_buf(&rng, k->m * k->c * 9);
            float *b = test_rand_buf(&rng, k->m), *alone = test_rand_buf(&rng, ny),
                  *one = test_rand_buf(&rng, ny), *two = test_rand_buf(&rng, ny);
            inferd_wino_t *wino = inferd_wino_create(wt, k->m, k->c, INFERD_OWNER_MODEL);
            assert_non_null(wino);
            for (int64_t n = 0; n < k->n; n++)
                run(wino, k, x, k->bias ? b : NULL, n, 1, 1, alone + n * per);
            run(wino, k, x, k->bias ? b : NULL, 0, k->n, 1, one);
            inferd_pool_set_default(pool);
            run(wino, k, x, k->bias ? b : NULL, 0, k->n, 2, two);
            inferd_pool_set_default(NULL);
            assert_memory_equal(alone, one, (size_t)ny * sizeof(float));
            assert_memory_equal(alone, two, (size_t)ny * sizeof(float));
            inferd_wino_destroy(wino);
            inferd_free(x);
            inferd_free(wt);
            inferd_free(b);
            inferd_free(alone);
            inferd_free(one);
            inferd_free(two);
        }
    inferd_pool_destroy(pool);
    restore_path();
}

/* Allocation failure on demand: the test links with --wrap for both allocators and for
 * inferd_pages_alloc (the scratch). */
void *__real_inferd_malloc(size_t n);
void *__real_inferd_calloc(size_t count, size_t size);
void *__real_inferd_pages_alloc(size_t n);
void *__wrap_inferd_malloc(size_t n);
void *__wrap_inferd_calloc(size_t count, size_t size);
void *__wrap_inferd_pages_alloc(size_t n);
static bool malloc_fails, calloc_fails, mmap_fails;

void *__wrap_inferd_pages_alloc(size_t n)
{
    return mmap_fails ? NULL : __real_inferd_pages_alloc(n);
}

void *__wrap_inferd_malloc(size_t n)
{
    return malloc_fails ? NULL : __real_inferd_malloc(n);
}

void *__wrap_inferd_calloc(size_t count, size_t size)
{
    return calloc_fails ? NULL : __real_inferd_calloc(count, size);
}

/* Without memory, creating the weights returns NULL and a run returns false, leaking
 * nothing; a thread's kept scratch is reused. */
static void out_of_memory(void **state)
{
    (void)state;
    const wcase_t k = {2, 20, 24, 9, 9, 1, 1, 1, 1, true, INFERD_ONNX_ACT_NONE};
    float *x = test_rand_buf(&rng, k.n * k.c * k.h * k.w), *wt = test_rand_buf(&rng, k.m * k.c * 9);
    float *b = test_rand_buf(&rng, k.m),
          *y = test_rand_buf(&rng, k.n * k.m * out_h(&k) * out_w(&k));
    for (int f = 0; f < 2; f++) {
        malloc_fails = f == 0;
        calloc_fails = f == 1;
        assert_null(inferd_wino_create(wt, k.m, k.c, INFERD_OWNER_MODEL));
        malloc_fails = calloc_fails = false;
    }
    inferd_wino_t *wino = inferd_wino_create(wt, k.m, k.c, INFERD_OWNER_MODEL);
    assert_non_null(wino);
    inferd_wino_conv_t cv = {.x = x,
                             .n = k.n,
                             .ih = k.h,
                             .iw = k.w,
                             .pad_top = 1,
                             .pad_left = 1,
                             .oh = out_h(&k),
                             .ow = out_w(&k),
                             .bias = b,
                             .y = y,
                             .max_threads = 1};
    for (int f = 0; f < 2; f++) {
        inferd_scratch_release(); /* earlier tests left this thread a buffer */
        mmap_fails = f == 0;
        calloc_fails = f == 1;
        bool ok = inferd_wino_run(wino, &cv);
        mmap_fails = calloc_fails = false;
        assert_false(ok);
    }
    assert_true(inferd_wino_run(wino, &cv));
    /* The thread kept its buffer: the next run maps nothing. */
    mmap_fails = true;
    bool ok = inferd_wino_run(wino, &cv);
    mmap_fails = false;
    assert_true(ok);
    inferd_scratch_release();
    inferd_wino_destroy(wino);
    assert_no_live_tensors();
    inferd_free(x);
    inferd_free(wt);
    inferd_free(b);
    inferd_free(y);
}

static void weights_accounted_and_rejected(void **state)
{
    (void)state;
    float w[9] = {0};
    assert_null(inferd_wino_create(w, 0, 1, INFERD_OWNER_MODEL));
    assert_null(inferd_wino_create(w, 1, 0, INFERD_OWNER_MODEL));
    inferd_wino_t *wino = inferd_wino_create(w, 1, 1, INFERD_OWNER_MODEL);
    assert_non_null(wino);
    inferd_tensor_stats_t st;
    inferd_tensor_stats(&st);
    /* 36 positions of one 16-column panel, one input channel */
    assert_true(st.total_bytes >= 36 * 16 * (int64_t)sizeof(float));
    inferd_wino_destroy(wino);
    inferd_wino_destroy(NULL);
    assert_no_live_tensors();
    assert_int_equal(inferd_wino_tiles(8, 8), 4);
    assert_int_equal(inferd_wino_tiles(9, 5), 6);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_direct_convolution),
        cmocka_unit_test(batch_and_threads_same_bits),
        cmocka_unit_test(residual_in_output_transform),
        cmocka_unit_test(weights_accounted_and_rejected),
        cmocka_unit_test(out_of_memory),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
