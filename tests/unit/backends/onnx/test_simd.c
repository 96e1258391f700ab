/* Tests for src/backends/onnx/kernels/simd_f32.c: exp and erf against libm in double
 * over the float range and at the special values, softmax rows against a double
 * reference (odd lengths, so the scalar tail runs), the row statistics, the binary loops
 * and activations bit for bit against the plain scalar expressions, the MaxPool row
 * maximum at strides 1 and 2 with NaN, the 2x2 stride-2 pool, and position independence: an
 * element's result does not depend on whether it lands in the vector body or the scalar tail. */
#include "test.h"

#include <math.h>
#include <string.h>

#include "backends/onnx/kernels/simd_f32.h"
#include "backends/onnx/passes.h"

#define N 1003 /* not a multiple of any vector width */

static float xs[N], ys[N];

static void fill_range(float lo, float hi)
{
    for (int i = 0; i < N; i++)
        xs[i] = lo + (hi - lo) * (float)i / (float)(N - 1);
}

static void exp_matches_libm(void **state)
{
    (void)state;
    fill_range(-103.0f, 88.5f);
    inferd_simd_exp(xs, ys, N);
    for (int i = 0; i < N; i++) {
        double want = exp((double)xs[i]);
        double tol = want < 1.2e-38 ? 1e-44 : want * 4e-7; /* a few ulp; subnormals absolute */
        if (fabs(ys[i] - want) > tol)
            fail_msg("exp(%g) = %g, want %g", xs[i], ys[i], want);
    }
    float sp[] = {0.0f, -0.0f, 1.0f, -1000.0f, 1000.0f, INFINITY, -INFINITY, NAN};
    float out[8];
    inferd_simd_exp(sp, out, 8);
    assert_true(out[0] == 1.0f && out[1] == 1.0f);
    assert_float_equal(out[2], 2.7182817f, 1e-6);
    assert_true(out[3] == 0.0f && out[6] == 0.0f);
    assert_true(isinf(out[4]) && out[4] > 0 && isinf(out[5]));
    assert_true(isnan(out[7]));
}

static void erf_matches_libm(void **state)
{
    (void)state;
    fill_range(-6.0f, 6.0f);
    inferd_simd_erf(xs, ys, N);
    for (int i = 0; i < N; i++) {
        double want = erf((double)xs[i]);
        if (fabs(ys[i] - want) > 2e-7 + 1e-6 * fabs(want))
            fail_msg("erf(%g) = %.9g, want %.9g", xs[i], ys[i], want);
    }
    /* Small arguments keep their relative accuracy (the Taylor branch). */
    fill_range(-1e-3f, 1e-3f);
    inferd_simd_erf(xs, ys, N);
    for (int i = 0; i < N; i++) {
        double want = erf((double)xs[i]);
        if (fabs(ys[i] - want) > 1e-6 * fabs(want) + 1e-12)
            fail_msg("erf(%g) = %.9g, want %.9g", xs[i], ys[i], want);
    }
    float sp[] = {INFINITY, -INFINITY, NAN, 0.0f};
    float out[4];
    inferd_simd_erf(sp, out, 4);
    assert_true(out[0] == 1.0f && out[1] == -1.0f && isnan(out[2]) && out[3] == 0.0f);
}

static void softmax_rows_match_reference(void **state)
{
    (void)state;
    const int lens[] = {1, 7, 16, 33, 129};
    for (size_t t = 0; t < sizeof(lens) / sizeof(lens[0]); t++) {
        int n = lens[t];
        for (int i = 0; i < n; i++)
            xs[i] = (float)sin(i * 1.3 + t) * 20.0f;
        for (int lg = 0; lg < 2; lg++) {
            inferd_simd_softmax_row(xs, ys, n, lg);
            double mx = -INFINITY, sum = 0;
            for (int i = 0; i < n; i++)
                mx = xs[i] > mx ? xs[i] : mx;
            for (int i = 0; i < n; i++)
                sum += exp(xs[i] - mx);
            for (int i = 0; i < n; i++) {
                double want = lg ? xs[i] - mx - log(sum) : exp(xs[i] - mx) / sum;
                if (fabs(ys[i] - want) > 1e-6 + 1e-5 * fabs(want))
                    fail_msg("n %d log %d [%d] = %g, want %g", n, lg, i, ys[i], want);
            }
        }
        /* In place gives the same bits. */
        float copy[129];
        inferd_simd_softmax_row(xs, ys, n, false);
        memcpy(copy, xs, (size_t)n * sizeof(float));
        inferd_simd_softmax_row(copy, copy, n, false);
        assert_memory_equal(copy, ys, (size_t)n * sizeof(float));
    }
}

static void row_statistics(void **state)
{
    (void)state;
    double s = 0, sq = 0;
    for (int i = 0; i < N; i++) {
        xs[i] = (float)cos(i * 0.7) + 3.0f;
        s += xs[i];
    }
    float m = (float)(s / N);
    for (int i = 0; i < N; i++)
        sq += ((double)xs[i] - m) * ((double)xs[i] - m);
    assert_float_equal(inferd_simd_sum(xs, N), s, 1e-3);
    assert_float_equal(inferd_simd_sqdev(xs, N, m), sq, 1e-3);
    assert_float_equal(inferd_simd_sum(xs, 0), 0.0f, 0);
    float sc[N], b[N];
    for (int i = 0; i < N; i++) {
        sc[i] = 0.5f + (float)i / N;
        b[i] = (float)i;
    }
    inferd_simd_norm_row(xs, ys, N, m, 2.0f, sc, b);
    for (int i = 0; i < N; i++)
        assert_true(ys[i] == (xs[i] - m) * 2.0f * sc[i] + b[i]);
    inferd_simd_norm_row(xs, ys, N, m, 2.0f, sc, NULL);
    for (int i = 0; i < N; i++)
        assert_true(ys[i] == (xs[i] - m) * 2.0f * sc[i]);
}

static void binary_and_activations_are_exact(void **state)
{
    (void)state;
    static float a[N], b[N], o[N];
    for (int i = 0; i < N; i++) {
        a[i] = (float)sin(i) * 3.0f;
        b[i] = (float)cos(i * 0.3) + 1.5f;
    }
    inferd_simd_div(a, 1, b, 1, o, N);
    for (int i = 0; i < N; i++)
        assert_true(o[i] == a[i] / b[i]);
    inferd_simd_sub(a, 1, b, 0, o, N);
    for (int i = 0; i < N; i++)
        assert_true(o[i] == a[i] - b[0]);
    inferd_simd_mul(a, 0, b, 1, o, N);
    for (int i = 0; i < N; i++)
        assert_true(o[i] == a[0] * b[i]);
    inferd_simd_add(a, 0, b, 0, o, N);
    for (int i = 0; i < N; i++)
        assert_true(o[i] == a[0] + b[0]);
    const inferd_onnx_act_t acts[] = {{INFERD_ONNX_ACT_RELU, 0, 0},
                                      {INFERD_ONNX_ACT_LEAKY_RELU, 0.1f, 0},
                                      {INFERD_ONNX_ACT_CLIP, -0.5f, 1.5f},
                                      {INFERD_ONNX_ACT_SIGMOID, 0, 0}};
    for (size_t t = 0; t < sizeof(acts) / sizeof(acts[0]); t++) {
        memcpy(o, a, sizeof(a));
        memcpy(b, a, sizeof(a));
        inferd_simd_act(&acts[t], o, N);
        inferd_onnx_act_apply(&acts[t], b, N);
        assert_memory_equal(o, b, sizeof(a));
    }
}

static void max_rows(void **state)
{
    (void)state;
    float out[8], x[16];
    for (int i = 0; i < 16; i++)
        x[i] = (float)((i * 7) % 11) - 5.0f;
    x[4] = NAN;
    for (int i = 0; i < 8; i++)
        out[i] = 0.5f;
    inferd_simd_max_strided(out, x, 2, 8);
    for (int i = 0; i < 8; i++) {
        float v = x[2 * i] > 0.5f ? x[2 * i] : 0.5f;
        assert_true(out[i] == v); /* out[2] keeps 0.5: NaN never wins */
    }
    inferd_simd_max_strided(out, x + 1, 1, 8);
    for (int i = 0; i < 8; i++)
        assert_false(isnan(out[i]));
}

/* 2x2 stride-2 MaxPool against the running maximum written out, on odd planes (the last
 * row and column are not covered), with NaN and signed zeros in the taps. */
static void maxpool_2x2(void **state)
{
    (void)state;
    enum { P = 3, IH = 7, IW = 37, OH = 3, OW = 18 };
    static float x[P * IH * IW], y[P * OH * OW];
    for (int i = 0; i < P * IH * IW; i++)
        x[i] = (float)((i * 13) % 17) - 8.0f;
    x[0] = NAN;
    x[IW] = -0.0f;
    x[1] = 0.0f;
    x[IW + 1] = NAN;
    x[4] = NAN;
    x[5] = NAN;
    x[IW + 4] = NAN;
    x[IW + 5] = NAN;
    inferd_simd_maxpool2x2(x, IH, IW, y, OH, OW, P);
    for (int p = 0; p < P; p++)
        for (int oh = 0; oh < OH; oh++)
            for (int ow = 0; ow < OW; ow++) {
                float m = -INFINITY;
                for (int kh = 0; kh < 2; kh++)
                    for (int kw = 0; kw < 2; kw++) {
                        float v = x[(p * IH + 2 * oh + kh) * IW + 2 * ow + kw];
                        m = v > m ? v : m;
                    }
                float got = y[(p * OH + oh) * OW + ow];
                assert_memory_equal(&got, &m, sizeof(float));
            }
    assert_true(y[0] == 0.0f && !signbit(y[0])); /* NaN and -0 lose to the first +0 */
    assert_true(isinf(y[2]) && y[2] < 0);        /* all four taps NaN */
}

/* The value at index i is the same for every loop length: vector body or scalar tail. */
static void results_do_not_depend_on_position(void **state)
{
    (void)state;
    fill_range(-5.0f, 5.0f);
    static float full[N], part[N];
    inferd_simd_erf(xs, full, N);
    for (int start = 0; start < 40; start++) {
        inferd_simd_erf(xs + start, part, N - start);
        assert_memory_equal(part, full + start, (size_t)(N - start) * sizeof(float));
    }
    inferd_simd_exp(xs, full, N);
    for (int start = 0; start < 40; start++) {
        inferd_simd_exp(xs + start, part, 37);
        assert_memory_equal(part, full + start, 37 * sizeof(float));
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(exp_matches_libm),
        cmocka_unit_test(erf_matches_libm),
        cmocka_unit_test(softmax_rows_match_reference),
        cmocka_unit_test(row_statistics),
        cmocka_unit_test(binary_and_activations_are_exact),
        cmocka_unit_test(max_rows),
        cmocka_unit_test(maxpool_2x2),
        cmocka_unit_test(results_do_not_depend_on_position),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
