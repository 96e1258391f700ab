/* Tests for src/backends/onnx/kernels/conv_direct.c: against a scalar convolution written
 * here with the very operations the kernel promises (per output: fmaf over input
 * channels, kernel rows, kernel columns from zero, padding read as zero, then + bias, then
 * + S), so equality is bitwise; over channel counts that exercise every channel block,
 * rows narrower and wider than a vector, more output rows than a task's buffer holds,
 * symmetric, asymmetric and no padding, and a fused residual S apart and in place; the
 * batching guarantee (an image alone, in a batch and split over two threads gives the
 * same bits); the engine's Conv giving the same bits through this kernel and through
 * im2col + GEMM; a constant W packed once at load; which windows it takes; and running
 * out of scratch memory. */
#include "test.h"
#include "test_rand.h"

#include <math.h>
#include <string.h>

#include "backends/onnx/graph.h"
#include "backends/onnx/kernels/conv_direct.h"
#include "backends/onnx/kernels/scratch.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "onnx_test_util.h"

typedef struct dcase {
    int64_t n, c, h, w, m, kh, kw;
    int64_t pt, pl, pb, pr;
    bool bias;
} dcase_t;

static uint32_t rng = 4242;

static inferd_onnx_window_t window(const dcase_t *k)
{
    inferd_onnx_window_t w = {.nsp = 2,
                              .in = {k->h, k->w},
                              .k = {k->kh, k->kw},
                              .s = {1, 1},
                              .d = {1, 1},
                              .pb = {k->pt, k->pl},
                              .pe = {k->pb, k->pr}};
    w.out[0] = k->h + k->pt + k->pb - k->kh + 1;
    w.out[1] = k->w + k->pl + k->pr - k->kw + 1;
    return w;
}

static void reference(const dcase_t *k, const float *x, const float *wt, const float *b, float *y)
{
    inferd_onnx_window_t w = window(k);
    int64_t oh = w.out[0], ow = w.out[1];
    for (int64_t n = 0; n < k->n; n++)
        for (int64_t m = 0; m < k->m; m++)
            for (int64_t oy = 0; oy < oh; oy++)
                for (int64_t ox = 0; ox < ow; ox++) {
                    float acc = 0.0f;
                    for (int64_t c = 0; c < k->c; c++)
                        for (int64_t ky = 0; ky < k->kh; ky++)
                            for (int64_t kx = 0; kx < k->kw; kx++) {
                                int64_t iy = oy + ky - k->pt, ix = ox + kx - k->pl;
                                float xv = iy >= 0 && iy < k->h && ix >= 0 && ix < k->w
                                               ? x[((n * k->c + c) * k->h + iy) * k->w + ix]
                                               : 0.0f;
                                acc = fmaf(wt[((m * k->c + c) * k->kh + ky) * k->kw + kx], xv, acc);
                            }
                    y[((n * k->m + m) * oh + oy) * ow + ox] = b ? acc + b[m] : acc;
                }
}

/* res: 0 none, 1 a residual S apart from Y, 2 S in Y's own buffer (written over). */
static void check_case_res(const dcase_t *k, int res)
{
    inferd_onnx_window_t w = window(k);
    assert_true(inferd_conv_direct_fits(&w, k->c));
    int64_t ny = k->n * k->m * w.out[0] * w.out[1];
    float *x = test_rand_buf(&rng, k->n * k->c * k->h * k->w),
          *wt = test_rand_buf(&rng, k->m * k->c * k->kh * k->kw);
    float *b = k->bias ? test_rand_buf(&rng, k->m) : NULL;
    float *want = test_rand_buf(&rng, ny), *got = test_rand_buf(&rng, ny),
          *sum = test_rand_buf(&rng, ny);
    reference(k, x, wt, b, want);
    for (int64_t i = 0; res && i < ny; i++)
        want[i] = want[i] + sum[i]; /* acc + bias, rounded, then + S */
    if (res == 2)
        memcpy(got, sum, (size_t)ny * sizeof(float));
    assert_true(inferd_conv_direct(x, k->n, k->c, &w, wt, NULL, k->m, b,
                                   res == 1   ? sum
                                   : res == 2 ? got
                                              : NULL,
                                   false, got));
    inferd_free(sum);
    if (memcmp(want, got, (size_t)ny * sizeof(float)) != 0)
        fail_msg("c %lld m %lld %lldx%lld k %lldx%lld: not bit-identical", (long long)k->c,
                 (long long)k->m, (long long)k->h, (long long)k->w, (long long)k->kh,
                 (long long)k->kw);
    inferd_free(x);
    inferd_free(wt);
    inferd_free(b);
    inferd_free(want);
    inferd_free(got);
}

static void check_case(const dcase_t *k)
{
    check_case_res(k, 0);
}

static void matches_reference_bitwise(void **state)
{
    (void)state;
    if (!__builtin_cpu_supports("avx512f"))
        skip(); /* the kernel is AVX-512 only; inferd_conv_direct_fits is false here */
    /* n c h w m kh kw pads(t l b r) bias */
    check_case(&(dcase_t){2, 1, 28, 28, 6, 5, 5, 2, 2, 2, 2, true});  /* LeNet's first */
    check_case(&(dcase_t){2, 6, 14, 14, 16, 5, 5, 0, 0, 0, 0, true}); /* LeNet's second */
    /* Every channel block, rows of one vector and of two (with a masked tail). */
    for (int64_t m = 1; m <= 19; m += 3) {
        check_case(&(dcase_t){1, 3, 9, 12, m, 3, 3, 1, 1, 1, 1, m % 2 == 0});
        check_case(&(dcase_t){1, 2, 7, 37, m, 3, 2, 0, 1, 2, 0, true});
    }
    /* More output rows than a task's buffer holds (32), asymmetric pads, no padding. */
    check_case(&(dcase_t){1, 2, 70, 9, 5, 3, 3, 2, 0, 1, 1, true});
    check_case(&(dcase_t){3, 4, 12, 20, 7, 1, 5, 0, 2, 0, 2, false});
    /* A fused residual Add's S, apart and written over in place. */
    for (int res = 1; res <= 2; res++) {
        check_case_res(&(dcase_t){2, 6, 14, 14, 16, 5, 5, 2, 2, 2, 2, true}, res);
        check_case_res(&(dcase_t){1, 3, 9, 37, 11, 3, 3, 1, 1, 1, 1, false}, res);
    }
}

/* An image's outputs are the same bits alone, inside a batch, and with the batch split
 * over two threads. */
static void batch_and_threads_do_not_change_bits(void **state)
{
    (void)state;
    if (!__builtin_cpu_supports("avx512f"))
        skip();
    const dcase_t k = {5, 3, 40, 30, 10, 5, 5, 2, 2, 2, 2, true};
    inferd_onnx_window_t w = window(&k);
    int64_t img = k.c * k.h * k.w, out = k.m * w.out[0] * w.out[1];
    float *x = test_rand_buf(&rng, k.n * img), *wt = test_rand_buf(&rng, k.m * k.c * 25),
          *b = test_rand_buf(&rng, k.m);
    float *one = test_rand_buf(&rng, k.n * out), *all = test_rand_buf(&rng, k.n * out),
          *two = test_rand_buf(&rng, k.n * out);
    for (int64_t i = 0; i < k.n; i++)
        assert_true(inferd_conv_direct(x + i * img, 1, k.c, &w, wt, NULL, k.m, b, NULL, true,
                                       one + i * out));
    assert_true(inferd_conv_direct(x, k.n, k.c, &w, wt, NULL, k.m, b, NULL, true, all));
    inferd_pool_t *pool = NULL;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(1, &pool, &err), INFERD_OK);
    inferd_pool_set_default(pool);
    assert_true(inferd_conv_direct(x, k.n, k.c, &w, wt, NULL, k.m, b, NULL, true, two));
    inferd_pool_set_default(NULL);
    inferd_pool_destroy(pool);
    assert_memory_equal(one, all, (size_t)(k.n * out) * sizeof(float));
    assert_memory_equal(one, two, (size_t)(k.n * out) * sizeof(float));
    float *bufs[] = {x, wt, b, one, all, two};
    for (size_t i = 0; i < sizeof(bufs) / sizeof(bufs[0]); i++)
        inferd_free(bufs[i]);
}

/* The engine's Conv (bias, fused Relu) gives the same bits through this kernel as through
 * im2col + GEMM, which accumulates in the same order. */
static inferd_tensor_t *run_conv(const float *x, const float *wt, const float *b, bool relu)
{
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 4, TB_DIMS(-1, 3, 20, 21));
    tb_output(m, "y", TB_F32, 4, TB_DIMS(-1, 8, 20, 21));
    tb_initializer(m, "w", TB_F32, 4, TB_DIMS(8, 3, 5, 5), wt, TB_RAW);
    tb_initializer(m, "b", TB_F32, 1, TB_DIMS(8), b, TB_RAW);
    Onnx__NodeProto *n = tb_node(m, "Conv", "conv", "x,w,b", relu ? "c" : "y");
    tb_attr_ints(m, n, "pads", 4, TB_I64S(2, 2, 2, 2));
    if (relu)
        tb_node(m, "Relu", "relu", "c", "y");
    inferd_tensor_t *in = tb_t(INFERD_DTYPE_FP32, 4, TB_DIMS(2, 3, 20, 21), x), *out = NULL;
    inferd_err_t err;
    if (tb_run(m, &in, 1, &out, 1, &err) != INFERD_OK)
        fail_msg("Conv failed: %s", err.msg);
    tb_free(m);
    return out;
}

static void engine_conv_same_bits_as_im2col(void **state)
{
    (void)state;
    if (!__builtin_cpu_supports("avx512f"))
        skip();
    float *x = test_rand_buf(&rng, 2 * 3 * 20 * 21), *wt = test_rand_buf(&rng, 8 * 3 * 25),
          *b = test_rand_buf(&rng, 8);
    for (int relu = 0; relu < 2; relu++) {
        inferd_tensor_t *direct = run_conv(x, wt, b, relu);
        inferd_conv_direct_enable(false);
        inferd_tensor_t *gemm = run_conv(x, wt, b, relu);
        inferd_conv_direct_enable(true);
        assert_int_equal(direct->nbytes, gemm->nbytes);
        assert_memory_equal(direct->data, gemm->data, direct->nbytes);
        if (relu) {
            const float *p = direct->data;
            int zeros = 0;
            for (size_t i = 0; i < direct->nbytes / sizeof(float); i++)
                zeros += p[i] == 0.0f;
            assert_true(zeros > 0); /* the Relu ran */
        }
        inferd_tensor_unref(direct);
        inferd_tensor_unref(gemm);
    }
    inferd_free(x);
    inferd_free(wt);
    inferd_free(b);
    assert_no_live_tensors();
}

/* A constant W is packed for the kernel once, at load, and charged to the model. */
static int64_t model_bytes_after_load(const float *wt, const float *b)
{
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 4, TB_DIMS(-1, 3, 20, 21));
    tb_output(m, "y", TB_F32, 4, TB_DIMS(-1, 8, 20, 21));
    tb_initializer(m, "w", TB_F32, 4, TB_DIMS(8, 3, 5, 5), wt, TB_RAW);
    tb_initializer(m, "b", TB_F32, 1, TB_DIMS(8), b, TB_RAW);
    Onnx__NodeProto *n = tb_node(m, "Conv", "conv", "x,w,b", "y");
    tb_attr_ints(m, n, "pads", 4, TB_I64S(2, 2, 2, 2));
    inferd_err_t err = {0};
    inferd_onnx_graph_t *g = NULL;
    if (inferd_onnx_graph_load(tb_write(m), &g, &err) != INFERD_OK)
        fail_msg("load: %s", err.msg);
    inferd_tensor_stats_t st;
    inferd_tensor_stats(&st);
    inferd_onnx_graph_destroy(g);
    tb_free(m);
    return st.bytes[INFERD_OWNER_MODEL];
}

static void weights_packed_once_at_load(void **state)
{
    (void)state;
    if (!__builtin_cpu_supports("avx512f"))
        skip();
    float *wt = test_rand_buf(&rng, 8 * 3 * 25), *b = test_rand_buf(&rng, 8);
    int64_t with = model_bytes_after_load(wt, b);
    inferd_conv_direct_enable(false);
    int64_t without = model_bytes_after_load(wt, b);
    inferd_conv_direct_enable(true);
    assert_int_equal(with - without, 8 * 3 * 25 * (int64_t)sizeof(float));
    inferd_free(wt);
    inferd_free(b);
    assert_no_live_tensors();
}

static void takes_only_its_windows(void **state)
{
    (void)state;
    const dcase_t k = {1, 3, 20, 20, 4, 5, 5, 2, 2, 2, 2, true};
    inferd_onnx_window_t w = window(&k);
    assert_int_equal(inferd_conv_direct_fits(&w, 3), __builtin_cpu_supports("avx512f") != 0);
    inferd_onnx_window_t s = w;
    s.s[1] = 2;
    assert_false(inferd_conv_direct_fits(&s, 3)); /* strided */
    s = w;
    s.d[0] = 2;
    assert_false(inferd_conv_direct_fits(&s, 3));  /* dilated */
    assert_false(inferd_conv_direct_fits(&w, 21)); /* 21 * 25 = 525 taps: im2col's */
    s = w;
    s.out[1] = 7;
    assert_false(inferd_conv_direct_fits(&s, 3)); /* rows under 8 pixels */
    s = w;
    s.nsp = 1;
    assert_false(inferd_conv_direct_fits(&s, 3));
    inferd_conv_direct_enable(false);
    assert_false(inferd_conv_direct_fits(&w, 3));
    inferd_conv_direct_enable(true);
}

/* The test links with --wrap=inferd_pages_alloc: without scratch the kernel says so. */
void *__real_inferd_pages_alloc(size_t n);
void *__wrap_inferd_pages_alloc(size_t n);
static bool pages_fail;

void *__wrap_inferd_pages_alloc(size_t n)
{
    return pages_fail ? NULL : __real_inferd_pages_alloc(n);
}

static void out_of_scratch(void **state)
{
    (void)state;
    if (!__builtin_cpu_supports("avx512f"))
        skip();
    const dcase_t k = {1, 2, 10, 10, 3, 3, 3, 1, 1, 1, 1, true};
    inferd_onnx_window_t w = window(&k);
    float *x = test_rand_buf(&rng, 200), *wt = test_rand_buf(&rng, 54), *b = test_rand_buf(&rng, 3),
          *y = test_rand_buf(&rng, 300);
    inferd_scratch_release();
    pages_fail = true;
    assert_false(inferd_conv_direct(x, 1, 2, &w, wt, NULL, 3, b, NULL, false, y));
    pages_fail = false;
    assert_true(inferd_conv_direct(x, 1, 2, &w, wt, NULL, 3, b, NULL, false, y));
    assert_true(
        inferd_conv_direct(x, 0, 2, &w, wt, NULL, 3, b, NULL, false, y)); /* nothing to do */
    inferd_scratch_release();
    inferd_free(x);
    inferd_free(wt);
    inferd_free(b);
    inferd_free(y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(matches_reference_bitwise),
        cmocka_unit_test(batch_and_threads_do_not_change_bits),
        cmocka_unit_test(engine_conv_same_bits_as_im2col),
        cmocka_unit_test(weights_packed_once_at_load),
        cmocka_unit_test(takes_only_its_windows),
        cmocka_unit_test(out_of_scratch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
