/* Tests for src/backends/onnx/ops/spatial.c: the window geometry shared by Conv and the
 * pools. Output sizes and pads for explicit pads, SAME_UPPER/SAME_LOWER (where the odd
 * pad goes), VALID, dilation, ceil_mode (including the rule that drops a last window
 * starting in the end padding), and the errors for mismatched attribute lengths, kernels
 * larger than the input and kernels beyond INFERD_ONNX_MAX_WINDOW. Expected values
 * worked out from the ONNX spec formulas. */
#include "test.h"

#include <string.h>

#include "backends/onnx/ops/spatial.h"

/* A 1-D window over an input of size `in` with kernel k and stride s. */
static inferd_onnx_spatial_t sp1(int64_t k, int64_t s, inferd_onnx_auto_pad_t ap)
{
    inferd_onnx_spatial_t sp;
    memset(&sp, 0, sizeof(sp));
    sp.n_kernel = 1;
    sp.kernel[0] = k;
    sp.n_strides = 1;
    sp.strides[0] = s;
    sp.auto_pad = ap;
    return sp;
}

static void check1(const inferd_onnx_spatial_t *sp, int64_t in, int64_t out, int64_t pb, int64_t pe)
{
    inferd_onnx_window_t w;
    inferd_err_t err;
    if (inferd_onnx_window_make(sp, 1, &in, NULL, &w, &err) != INFERD_OK)
        fail_msg("window_make failed: %s", err.msg);
    assert_int_equal(w.out[0], out);
    assert_int_equal(w.pb[0], pb);
    assert_int_equal(w.pe[0], pe);
}

static void explicit_pads(void **state)
{
    (void)state;
    inferd_onnx_spatial_t sp = sp1(3, 2, INFERD_ONNX_AUTO_PAD_NOTSET);
    check1(&sp, 5, 2, 0, 0); /* (5 - 3) / 2 + 1 */
    sp.n_pads = 2;
    sp.pads[0] = 1;
    sp.pads[1] = 0;
    check1(&sp, 5, 2, 1, 0); /* (5 + 1 - 3) / 2 + 1, floored */
    sp.pads[1] = 1;
    check1(&sp, 5, 3, 1, 1);
}

static void same_padding_puts_the_odd_pixel_right(void **state)
{
    (void)state;
    /* in 4, k 3, s 2: out ceil(4/2) = 2, total pad (2-1)*2 + 3 - 4 = 1. */
    inferd_onnx_spatial_t sp = sp1(3, 2, INFERD_ONNX_AUTO_PAD_SAME_UPPER);
    check1(&sp, 4, 2, 0, 1);
    sp.auto_pad = INFERD_ONNX_AUTO_PAD_SAME_LOWER;
    check1(&sp, 4, 2, 1, 0);
    /* Even total splits evenly: in 5, out 3, total 2. */
    check1(&sp, 5, 3, 1, 1);
    /* Stride 1 keeps the size. */
    sp = sp1(3, 1, INFERD_ONNX_AUTO_PAD_SAME_UPPER);
    check1(&sp, 7, 7, 1, 1);
    /* A kernel smaller than the stride needs no pad (never negative). */
    sp = sp1(1, 3, INFERD_ONNX_AUTO_PAD_SAME_UPPER);
    check1(&sp, 7, 3, 0, 0);
}

static void valid_and_dilation(void **state)
{
    (void)state;
    inferd_onnx_spatial_t sp = sp1(3, 2, INFERD_ONNX_AUTO_PAD_VALID);
    sp.n_pads = 2;
    sp.pads[0] = sp.pads[1] = 4; /* ignored under VALID */
    check1(&sp, 5, 2, 0, 0);
    sp.n_dilations = 1;
    sp.dilations[0] = 2; /* extent 5 */
    check1(&sp, 5, 1, 0, 0);
    sp.auto_pad = INFERD_ONNX_AUTO_PAD_NOTSET;
    sp.n_pads = 0;
    sp.strides[0] = 1;
    check1(&sp, 7, 3, 0, 0);
}

static void ceil_mode(void **state)
{
    (void)state;
    inferd_onnx_spatial_t sp = sp1(3, 2, INFERD_ONNX_AUTO_PAD_NOTSET);
    sp.ceil_mode = true;
    check1(&sp, 4, 2, 0, 0); /* floor would give 1 */
    /* in 3, k 2, s 2, pads 1/1: ceil gives 3 windows, but the third would start at
     * padded position 4 = in + pad_begin, entirely in the end pad: dropped. */
    sp = sp1(2, 2, INFERD_ONNX_AUTO_PAD_NOTSET);
    sp.ceil_mode = true;
    sp.n_pads = 2;
    sp.pads[0] = sp.pads[1] = 1;
    check1(&sp, 3, 2, 1, 1);
}

static void errors(void **state)
{
    (void)state;
    inferd_onnx_window_t w;
    inferd_err_t err;
    int64_t in2[2] = {5, 5};
    inferd_onnx_spatial_t sp = sp1(3, 1, INFERD_ONNX_AUTO_PAD_NOTSET);
    /* kernel_shape has one value, the input two spatial dims. */
    assert_int_equal(inferd_onnx_window_make(&sp, 2, in2, NULL, &w, &err), INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "kernel_shape has 1 values"));
    /* An explicit kernel fixes that, but strides still has the wrong length. */
    int64_t k2[2] = {3, 3};
    assert_int_equal(inferd_onnx_window_make(&sp, 2, in2, k2, &w, &err), INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "'strides' has 1 values"));
    /* A kernel larger than the input. */
    int64_t in1 = 2;
    assert_int_equal(inferd_onnx_window_make(&sp, 1, &in1, NULL, &w, &err), INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "smaller than the kernel"));
    /* A kernel (from W's dims) beyond the cap, before any size arithmetic. */
    int64_t kbig = INFERD_ONNX_MAX_WINDOW + 1, in_big = (int64_t)1 << 30;
    sp.n_strides = 0;
    assert_int_equal(inferd_onnx_window_make(&sp, 1, &in_big, &kbig, &w, &err),
                     INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "too large"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(explicit_pads),
        cmocka_unit_test(same_padding_puts_the_odd_pixel_right),
        cmocka_unit_test(valid_and_dilation),
        cmocka_unit_test(ceil_mode),
        cmocka_unit_test(errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
