/* Tests for src/backends/onnx/ops/cast.c: float to integer truncation, integer narrowing,
 * FP16/BF16 rounding, BOOL both ways, 64-bit corner values, same-type casts as views, and
 * targets without a kernel. FP16 bit patterns come from numpy; the rest by hand. */
#include "test.h"

#include <math.h>

#include "onnx_test_util.h"

static void check(int64_t opset, inferd_tensor_t *x, int to, inferd_dtype_t dt, const void *want)
{
    int64_t n = x->ndim ? x->dims[0] : 1;
    int ndim = x->ndim;
    tb_op_t o;
    tb_op_init(&o, opset, "Cast");
    tb_op_input(&o, x);
    tb_attr_int(o.m, o.node, "to", to);
    inferd_tensor_t *y;
    inferd_err_t err;
    if (tb_op_run(&o, &y, &err) != INFERD_OK)
        fail_msg("Cast failed: %s", err.msg);
    tb_expect(y, dt, ndim, &n, want, 0);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

#define T1(dt, n, ...) tb_t(dt, 1, TB_DIMS(n), (__VA_ARGS__))

static void float_to_int_truncates(void **state)
{
    (void)state;
    check(13, T1(INFERD_DTYPE_FP32, 6, TB_F32S(1.9f, -1.9f, 2.5f, -0.5f, 0, 100.99f)), TB_I32,
          INFERD_DTYPE_INT32, TB_I32S(1, -1, 2, 0, 0, 100));
    check(13, T1(INFERD_DTYPE_FP64, 3, TB_F64S(-3e9, 4.99, -0.0)), TB_I64, INFERD_DTYPE_INT64,
          TB_I64S(-3000000000LL, 4, 0));
    /* Beyond int64 but inside uint64. */
    check(13, T1(INFERD_DTYPE_FP64, 3, TB_F64S(1e19, 3.7, 0)), TB_U64, INFERD_DTYPE_UINT64,
          ((const uint64_t[]){10000000000000000000ull, 3, 0}));
}

static void integer_conversions(void **state)
{
    (void)state;
    check(13, T1(INFERD_DTYPE_INT32, 4, TB_I32S(-1, 256, 255, 128)), TB_U8, INFERD_DTYPE_UINT8,
          ((const uint8_t[]){255, 0, 255, 128}));
    check(9, T1(INFERD_DTYPE_INT8, 2, ((const int8_t[]){-128, 127})), TB_I16, INFERD_DTYPE_INT16,
          ((const int16_t[]){-128, 127}));
    check(6, T1(INFERD_DTYPE_INT64, 3, TB_I64S(-3, 16777217, 0)), TB_F32, INFERD_DTYPE_FP32,
          TB_F32S(-3, 16777216, 0));
    check(13, T1(INFERD_DTYPE_UINT64, 1, ((const uint64_t[]){UINT64_MAX})), TB_F64,
          INFERD_DTYPE_FP64, TB_F64S(18446744073709551616.0));
    check(13, T1(INFERD_DTYPE_FP64, 1, TB_F64S(0.1)), TB_F32, INFERD_DTYPE_FP32, TB_F32S(0.1f));
}

static void half_precision(void **state)
{
    (void)state;
    /* 1e-8 underflows to 0; 70000 overflows to inf. */
    check(13, T1(INFERD_DTYPE_FP32, 6, TB_F32S(1.0f, -2.0f, 65504, 1e-8f, 0.1f, 70000)), TB_F16,
          INFERD_DTYPE_FP16, ((const uint16_t[]){0x3c00, 0xc000, 0x7bff, 0x0, 0x2e66, 0x7c00}));
    check(13,
          T1(INFERD_DTYPE_FP16, 5, ((const uint16_t[]){0x3c00, 0xc000, 0x7bff, 0x0001, 0x7c00})),
          TB_F32, INFERD_DTYPE_FP32, TB_F32S(1, -2, 65504, 5.96046448e-08f, INFINITY));
    /* Cast to BF16 truncates, as ONNX's reference and test data do: 1.01171875 (0x3f81c000)
     * becomes 0x3f81 where rounding would give 0x3f82. */
    check(13, T1(INFERD_DTYPE_FP32, 5, TB_F32S(1.0f, -3.0f, 3.14159f, 1.00390625f, 1.01171875f)),
          TB_BF16, INFERD_DTYPE_BF16, ((const uint16_t[]){0x3f80, 0xc040, 0x4049, 0x3f80, 0x3f81}));
    check(13, T1(INFERD_DTYPE_BF16, 2, ((const uint16_t[]){0x3f80, 0xc040})), TB_F64,
          INFERD_DTYPE_FP64, TB_F64S(1.0, -3.0));
}

static void booleans(void **state)
{
    (void)state;
    check(13, T1(INFERD_DTYPE_FP32, 5, TB_F32S(0, -0.0f, 0.5f, NAN, -2)), TB_BOOL,
          INFERD_DTYPE_BOOL, ((const uint8_t[]){0, 0, 1, 1, 1}));
    check(13, T1(INFERD_DTYPE_BOOL, 2, ((const uint8_t[]){1, 0})), TB_F32, INFERD_DTYPE_FP32,
          TB_F32S(1, 0));
    check(13, T1(INFERD_DTYPE_BOOL, 2, ((const uint8_t[]){1, 0})), TB_I64, INFERD_DTYPE_INT64,
          TB_I64S(1, 0));
    check(13, T1(INFERD_DTYPE_INT64, 3, TB_I64S(0, -5, 1LL << 40)), TB_BOOL, INFERD_DTYPE_BOOL,
          ((const uint8_t[]){0, 1, 1}));
}

static void same_type_is_a_view(void **state)
{
    (void)state;
    inferd_tensor_t *x = T1(INFERD_DTYPE_FP32, 2, TB_F32S(1.5f, 2.5f));
    tb_op_t o;
    tb_op_init(&o, 13, "Cast");
    tb_op_input(&o, inferd_tensor_ref(x));
    tb_attr_int(o.m, o.node, "to", TB_F32);
    inferd_tensor_t *y;
    inferd_err_t err;
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    assert_ptr_equal(y->data, x->data);
    tb_expect(y, INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(1.5f, 2.5f), 0);
    inferd_tensor_unref(y);
    inferd_tensor_unref(x);
    assert_no_live_tensors();
}

static void unsupported_targets(void **state)
{
    (void)state;
    tb_op_t o;
    inferd_tensor_t *y;
    inferd_err_t err;
    /* Numbers cast to STRING (see test_core_ext.c), but BF16 has no text form here. */
    tb_op_init(&o, 13, "Cast");
    tb_op_input(&o, T1(INFERD_DTYPE_BF16, 1, ((const uint16_t[]){0x3f80})));
    tb_attr_int(o.m, o.node, "to", TB_STR);
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_E_UNSUPPORTED);
    tb_expect_msg(&err, "no cast from BF16 to BYTES");

    tb_op_init(&o, 13, "Cast");
    tb_op_input(&o, T1(INFERD_DTYPE_FP32, 1, TB_F32S(1)));
    tb_attr_int(o.m, o.node, "to", 99);
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_E_UNSUPPORTED);
    tb_expect_msg(&err, "unsupported target type 99");

    tb_op_init(&o, 13, "Cast");
    tb_op_input(&o, T1(INFERD_DTYPE_FP32, 1, TB_F32S(1)));
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_E_INVALID_ARG);
    tb_expect_msg(&err, "attribute 'to' is required");
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(float_to_int_truncates), cmocka_unit_test(integer_conversions),
        cmocka_unit_test(half_precision),         cmocka_unit_test(booleans),
        cmocka_unit_test(same_type_is_a_view),    cmocka_unit_test(unsupported_targets),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
