/* Tests for src/backends/onnx/load.c and backend.c: a 2-layer MLP end to end, initializers
 * in raw_data, in every typed field and in external files (with the path checks), graph
 * inputs that are initializers, describe(), and corrupt or missing files. */
#include "test.h"

#include <string.h>

#include "onnx_test_util.h"

static void run_mlp(tb_mode_t mode)
{
    tb_model_t *m = tb_model(13);
    tb_build_mlp(m, mode);
    inferd_tensor_t *in[1] = {tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 4), TB_MLP_X)};
    inferd_tensor_t *out[2] = {NULL, NULL};
    inferd_err_t err;
    inferd_status_t rc = tb_run(m, in, 1, out, 2, &err);
    if (rc != INFERD_OK)
        fail_msg("run failed: %s", err.msg);
    tb_expect(out[0], INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_MLP_PROBS, 1e-5);
    tb_expect(out[1], INFERD_DTYPE_INT64, 1, TB_DIMS(2), TB_MLP_CLS, 0);
    /* Outputs are engine intermediates handed to the caller. */
    assert_int_equal(out[0]->owner, INFERD_OWNER_ARENA);
    inferd_tensor_unref(out[0]);
    inferd_tensor_unref(out[1]);
    tb_free(m);
    assert_no_live_tensors();
}

static void mlp_raw_weights(void **state)
{
    (void)state;
    run_mlp(TB_RAW);
}

static void mlp_typed_weights(void **state)
{
    (void)state;
    run_mlp(TB_TYPED);
}

static void mlp_external_weights(void **state)
{
    (void)state;
    run_mlp(TB_EXTERNAL);
}

static void mlp_describe_and_rerun(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_build_mlp(m, TB_RAW);
    void *st;
    inferd_err_t err;
    assert_int_equal(tb_load(m, &st, &err), INFERD_OK);
    const inferd_backend_io_t *ins, *outs;
    size_t ni, no;
    inferd_onnx_backend_vtable.describe(st, &ins, &ni, &outs, &no);
    assert_int_equal(ni, 1);
    assert_string_equal(ins[0].name, "x");
    assert_int_equal(ins[0].dtype, INFERD_DTYPE_FP32);
    assert_int_equal(ins[0].ndim, 2);
    assert_int_equal(ins[0].dims[0], -1);
    assert_int_equal(ins[0].dims[1], 4);
    assert_int_equal(no, 2);
    assert_string_equal(outs[0].name, "probs");
    assert_int_equal(outs[0].dtype, INFERD_DTYPE_FP32);
    assert_int_equal(outs[0].ndim, 2);
    assert_int_equal(outs[0].dims[0], -1);
    assert_int_equal(outs[0].dims[1], 2);
    assert_string_equal(outs[1].name, "cls");
    assert_int_equal(outs[1].dtype, INFERD_DTYPE_INT64);
    /* Weights are charged to the model while it is loaded: 4 initializers and the two
     * weight matrices packed for the matrix-product kernel. */
    inferd_tensor_stats_t stats;
    inferd_tensor_stats(&stats);
    assert_int_equal(stats.count[INFERD_OWNER_MODEL], 6);
    assert_int_equal(stats.count[INFERD_OWNER_ARENA], 0);

    /* A batch of one (the second row of the fixture), twice: runs leave no state. */
    for (int i = 0; i < 2; i++) {
        inferd_tensor_t *x = tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(1, 4), TB_MLP_X + 4);
        inferd_tensor_t *out[2];
        inferd_ctx_t ctx;
        inferd_ctx_init(&ctx);
        assert_int_equal(inferd_onnx_backend_vtable.execute(&ctx, st, &x, out, &err), INFERD_OK);
        tb_expect(out[0], INFERD_DTYPE_FP32, 2, TB_DIMS(1, 2), TB_MLP_PROBS + 2, 1e-5);
        tb_expect(out[1], INFERD_DTYPE_INT64, 1, TB_DIMS(1), TB_MLP_CLS + 1, 0);
        inferd_tensor_unref(x);
        inferd_tensor_unref(out[0]);
        inferd_tensor_unref(out[1]);
        inferd_tensor_stats(&stats);
        assert_int_equal(stats.count[INFERD_OWNER_ARENA], 0);
        assert_int_equal(stats.count[INFERD_OWNER_REQUEST], 0);
    }
    inferd_onnx_backend_vtable.unload(st);
    tb_free(m);
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Initializer encodings                                                                */

/* A model whose only output is the initializer "c" itself. */
static void check_initializer(int elem_type, inferd_dtype_t dt, int ndim, const int64_t *dims,
                              const void *data, tb_mode_t mode)
{
    tb_model_t *m = tb_model(13);
    tb_initializer(m, "c", elem_type, ndim, dims, data, mode);
    tb_output(m, "c", elem_type, -1, NULL);
    inferd_tensor_t *out[1] = {NULL};
    inferd_err_t err;
    inferd_status_t rc = tb_run(m, NULL, 0, out, 1, &err);
    if (rc != INFERD_OK)
        fail_msg("elem type %d: %s", elem_type, err.msg);
    tb_expect(out[0], dt, ndim, dims, data, 0);
    /* An initializer output is the model's tensor, handed out as an extra reference. */
    assert_int_equal(out[0]->owner, INFERD_OWNER_MODEL);
    inferd_tensor_unref(out[0]);
    tb_free(m);
    assert_no_live_tensors();
}

static void initializers_in_typed_and_raw_fields(void **state)
{
    (void)state;
    static const float f32[3] = {1.5f, -2.25f, 3e-8f};
    static const double f64[3] = {1e300, -0.5, 3.0};
    static const int64_t i64[3] = {INT64_MIN, -1, INT64_MAX};
    static const int32_t i32[3] = {INT32_MIN, -7, INT32_MAX};
    static const int16_t i16[3] = {-32768, 5, 32767};
    static const int8_t i8[3] = {-128, 0, 127};
    static const uint8_t u8[3] = {0, 200, 255};
    static const uint16_t u16[3] = {0, 40000, 65535};
    static const uint32_t u32[3] = {0, 3000000000u, 4294967295u};
    static const uint64_t u64[3] = {0, 1ull << 63, UINT64_MAX};
    static const uint8_t b[3] = {1, 0, 1};
    static const uint16_t f16[3] = {0x3c00, 0xc000, 0x7bff};  /* 1, -2, 65504 */
    static const uint16_t bf16[3] = {0x3f80, 0xc040, 0x0000}; /* 1, -3, 0 */
    const tb_mode_t modes[2] = {TB_TYPED, TB_RAW};
    for (int i = 0; i < 2; i++) {
        tb_mode_t md = modes[i];
        check_initializer(TB_F32, INFERD_DTYPE_FP32, 1, TB_DIMS(3), f32, md);
        check_initializer(TB_F64, INFERD_DTYPE_FP64, 1, TB_DIMS(3), f64, md);
        check_initializer(TB_I64, INFERD_DTYPE_INT64, 1, TB_DIMS(3), i64, md);
        check_initializer(TB_I32, INFERD_DTYPE_INT32, 1, TB_DIMS(3), i32, md);
        check_initializer(TB_I16, INFERD_DTYPE_INT16, 1, TB_DIMS(3), i16, md);
        check_initializer(TB_I8, INFERD_DTYPE_INT8, 1, TB_DIMS(3), i8, md);
        check_initializer(TB_U8, INFERD_DTYPE_UINT8, 1, TB_DIMS(3), u8, md);
        check_initializer(TB_U16, INFERD_DTYPE_UINT16, 1, TB_DIMS(3), u16, md);
        check_initializer(TB_U32, INFERD_DTYPE_UINT32, 1, TB_DIMS(3), u32, md);
        check_initializer(TB_U64, INFERD_DTYPE_UINT64, 1, TB_DIMS(3), u64, md);
        check_initializer(TB_BOOL, INFERD_DTYPE_BOOL, 1, TB_DIMS(3), b, md);
        check_initializer(TB_F16, INFERD_DTYPE_FP16, 1, TB_DIMS(3), f16, md);
        check_initializer(TB_BF16, INFERD_DTYPE_BF16, 1, TB_DIMS(3), bf16, md);
    }
    /* A 2x2 and a scalar. */
    check_initializer(TB_F32, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_F32S(1, 2, 3, 4), TB_RAW);
    check_initializer(TB_I64, INFERD_DTYPE_INT64, 0, NULL, TB_I64S(42), TB_TYPED);
}

static void string_initializer(void **state)
{
    (void)state;
    static const char *const strs[2] = {"ab", ""};
    static const uint8_t want[10] = {2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0};
    tb_model_t *m = tb_model(13);
    tb_initializer(m, "s", TB_STR, 1, TB_DIMS(2), strs, TB_TYPED);
    tb_node(m, "Identity", "id", "s", "y");
    tb_output(m, "y", TB_STR, -1, NULL);
    inferd_tensor_t *out[1];
    inferd_err_t err;
    assert_int_equal(tb_run(m, NULL, 0, out, 1, &err), INFERD_OK);
    assert_int_equal(out[0]->dtype, INFERD_DTYPE_BYTES);
    assert_int_equal(out[0]->nbytes, sizeof(want));
    assert_memory_equal(out[0]->data, want, sizeof(want));
    inferd_tensor_unref(out[0]);
    tb_free(m);
    assert_no_live_tensors();
}

static void expect_load_error(tb_model_t *m, inferd_status_t code, const char *needle)
{
    void *st = NULL;
    inferd_err_t err;
    inferd_status_t rc = tb_load(m, &st, &err);
    if (rc != code)
        fail_msg("load returned %s (%s), want %s", inferd_status_name(rc), err.msg,
                 inferd_status_name(code));
    assert_null(st);
    tb_expect_msg(&err, needle);
    tb_free(m);
    assert_no_live_tensors();
}

static void initializer_size_mismatch(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    Onnx__TensorProto *t = tb_initializer(m, "w", TB_F32, 1, TB_DIMS(3), TB_F32S(1, 2, 3), TB_RAW);
    t->raw_data.len = 8; /* one float short */
    tb_output(m, "w", TB_F32, -1, NULL);
    expect_load_error(m, INFERD_E_INVALID_ARG, "initializer 'w': raw_data holds 8 bytes");

    m = tb_model(13);
    t = tb_initializer(m, "w", TB_I64, 1, TB_DIMS(3), TB_I64S(1, 2, 3), TB_TYPED);
    t->n_int64_data = 2;
    tb_output(m, "w", TB_I64, -1, NULL);
    expect_load_error(m, INFERD_E_INVALID_ARG, "int64_data holds 2 values, the shape needs 3");

    m = tb_model(13);
    t = tb_initializer(m, "w", TB_F32, 1, TB_DIMS(1), TB_F32S(1), TB_RAW);
    t->data_type = 14; /* COMPLEX64 */
    tb_output(m, "w", TB_F32, -1, NULL);
    expect_load_error(m, INFERD_E_UNSUPPORTED, "unsupported element type 14");
}

/* ------------------------------------------------------------------------------------ */
/* External data                                                                        */

static void external_data_at_offsets(void **state)
{
    (void)state;
    /* Two tensors in one file: the second starts at a non-zero offset. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    tb_initializer(m, "a", TB_F32, 1, TB_DIMS(2), TB_F32S(10, 20), TB_EXTERNAL);
    tb_initializer(m, "b", TB_F32, 1, TB_DIMS(2), TB_F32S(0.5f, 0.25f), TB_EXTERNAL);
    tb_node(m, "Add", "add", "x,a", "s");
    tb_node(m, "Mul", "mul", "s,b", "y");
    tb_output(m, "y", TB_F32, 1, TB_DIMS(2));
    inferd_tensor_t *in[1] = {tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(2, 4))};
    inferd_tensor_t *out[1];
    inferd_err_t err;
    assert_int_equal(tb_run(m, in, 1, out, 1, &err), INFERD_OK);
    tb_expect(out[0], INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(6, 6), 0);
    inferd_tensor_unref(out[0]);
    tb_free(m);
    assert_no_live_tensors();
}

static tb_model_t *external_model(const char *location, const char *offset, const char *length)
{
    tb_model_t *m = tb_model(13);
    Onnx__TensorProto *t =
        tb_initializer(m, "w", TB_F32, 1, TB_DIMS(2), TB_F32S(1, 2), TB_EXTERNAL);
    /* Entries are location, offset, length (see tb_tensor). */
    if (location)
        t->external_data[0]->value = (char *)location;
    if (offset)
        t->external_data[1]->value = (char *)offset;
    if (length)
        t->external_data[2]->value = (char *)length;
    tb_output(m, "w", TB_F32, -1, NULL);
    return m;
}

static void external_data_errors(void **state)
{
    (void)state;
    expect_load_error(external_model("/etc/passwd", NULL, NULL), INFERD_E_INVALID_ARG,
                      "is not a relative path inside the model directory");
    expect_load_error(external_model("../weights.bin", NULL, NULL), INFERD_E_INVALID_ARG,
                      "'../weights.bin' is not a relative path");
    expect_load_error(external_model("sub/../../x", NULL, NULL), INFERD_E_INVALID_ARG,
                      "is not a relative path");
    expect_load_error(external_model("missing.bin", NULL, NULL), INFERD_E_INVALID_ARG,
                      "cannot open external data 'missing.bin'");
    expect_load_error(external_model(NULL, "4", NULL), INFERD_E_INVALID_ARG,
                      "has 8 bytes, 8 needed at offset 4");
    expect_load_error(external_model(NULL, "x1", NULL), INFERD_E_INVALID_ARG,
                      "bad external data offset 'x1'");
    expect_load_error(external_model(NULL, NULL, "4"), INFERD_E_INVALID_ARG,
                      "external data length 4 does not match the 8 bytes");
}

/* ------------------------------------------------------------------------------------ */
/* Graph inputs that are initializers, outputs that are inputs                          */

static void input_that_is_initializer_is_constant(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_ir_version(m, 3); /* IR 3 listed initializers among the inputs */
    tb_input(m, "x", TB_F32, 1, TB_DIMS(2));
    tb_input(m, "w", TB_F32, 1, TB_DIMS(2));
    tb_initializer(m, "w", TB_F32, 1, TB_DIMS(2), TB_F32S(3, -1), TB_RAW);
    tb_node(m, "Mul", NULL, "x,w", "y");
    tb_output(m, "y", TB_F32, 1, TB_DIMS(2));
    void *st;
    inferd_err_t err;
    assert_int_equal(tb_load(m, &st, &err), INFERD_OK);
    const inferd_backend_io_t *ins, *outs;
    size_t ni, no;
    inferd_onnx_backend_vtable.describe(st, &ins, &ni, &outs, &no);
    assert_int_equal(ni, 1);
    assert_string_equal(ins[0].name, "x");
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(2, 5));
    inferd_tensor_t *y;
    assert_int_equal(inferd_onnx_backend_vtable.execute(NULL, st, &x, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 1, TB_DIMS(2), TB_F32S(6, -5), 0);
    inferd_tensor_unref(x);
    inferd_tensor_unref(y);
    inferd_onnx_backend_vtable.unload(st);
    tb_free(m);
    assert_no_live_tensors();
}

static void output_that_is_input(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_I64, 1, TB_DIMS(-1));
    tb_output(m, "x", TB_I64, 1, TB_DIMS(-1));
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_INT64, 1, TB_DIMS(3), TB_I64S(1, 2, 3));
    inferd_tensor_t *in[1] = {inferd_tensor_ref(x)};
    inferd_tensor_t *out[1];
    inferd_err_t err;
    assert_int_equal(tb_run(m, in, 1, out, 1, &err), INFERD_OK);
    assert_ptr_equal(out[0], x); /* the same tensor, one more reference */
    inferd_tensor_unref(out[0]);
    inferd_tensor_unref(x);
    tb_free(m);
    assert_no_live_tensors();
}

static void describe_without_shapes(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_input(m, "x", TB_F64, -1, NULL);
    tb_node(m, "Relu", NULL, "x", "y");
    tb_output(m, "y", 0, -1, NULL); /* no declared type: inferred from the graph */
    void *st;
    inferd_err_t err;
    assert_int_equal(tb_load(m, &st, &err), INFERD_OK);
    const inferd_backend_io_t *ins, *outs;
    size_t ni, no;
    inferd_onnx_backend_vtable.describe(st, &ins, &ni, &outs, &no);
    assert_int_equal(ins[0].ndim, -1);
    assert_int_equal(ins[0].dtype, INFERD_DTYPE_FP64);
    assert_int_equal(outs[0].ndim, -1);
    assert_int_equal(outs[0].dtype, INFERD_DTYPE_FP64);
    inferd_onnx_backend_vtable.unload(st);
    tb_free(m);
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Broken files                                                                         */

static void missing_file(void **state)
{
    (void)state;
    void *st = NULL;
    inferd_err_t err;
    assert_int_equal(inferd_onnx_backend_vtable.load("/nonexistent/model.onnx", NULL, &st, &err),
                     INFERD_E_NOT_FOUND);
    assert_null(st);
    tb_expect_msg(&err, "/nonexistent/model.onnx");
    assert_no_live_tensors();
}

static void corrupt_files(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_build_mlp(m, TB_RAW);
    size_t len;
    const uint8_t *good = tb_pack(m, &len);
    uint8_t *bad = test_malloc(len);

    /* Garbage: not a protobuf at all. */
    void *st = NULL;
    inferd_err_t err;
    const char *path = tb_write_file(m, "garbage.onnx", "\xff\xff\xff\xff\x0f garbage", 14);
    assert_int_equal(inferd_onnx_backend_vtable.load(path, NULL, &st, &err), INFERD_E_INVALID_ARG);
    tb_expect_msg(&err, "not a valid ONNX model");

    /* An empty file is an empty ModelProto: no graph. */
    path = tb_write_file(m, "empty.onnx", "", 0);
    assert_int_equal(inferd_onnx_backend_vtable.load(path, NULL, &st, &err), INFERD_E_INVALID_ARG);
    tb_expect_msg(&err, "no graph");

    /* Every truncation and a sweep of single-byte corruptions must fail cleanly or load a
     * model that runs (a flipped byte may land in a float). */
    for (size_t cut = 0; cut < len; cut += (cut < 64 ? 1 : 7)) {
        path = tb_write_file(m, "cut.onnx", good, cut);
        st = NULL;
        inferd_status_t rc = inferd_onnx_backend_vtable.load(path, NULL, &st, &err);
        assert_int_not_equal(rc, INFERD_OK);
        assert_null(st);
        assert_no_live_tensors();
    }
    for (size_t at = 0; at < len; at += 3) {
        memcpy(bad, good, len);
        bad[at] ^= 0x5a;
        path = tb_write_file(m, "flip.onnx", bad, len);
        st = NULL;
        if (inferd_onnx_backend_vtable.load(path, NULL, &st, &err) == INFERD_OK) {
            const inferd_backend_io_t *ins, *outs;
            size_t ni, no;
            inferd_onnx_backend_vtable.describe(st, &ins, &ni, &outs, &no);
            inferd_onnx_backend_vtable.unload(st);
        }
        assert_no_live_tensors();
    }
    test_free(bad);
    tb_free(m);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(mlp_raw_weights),
        cmocka_unit_test(mlp_typed_weights),
        cmocka_unit_test(mlp_external_weights),
        cmocka_unit_test(mlp_describe_and_rerun),
        cmocka_unit_test(initializers_in_typed_and_raw_fields),
        cmocka_unit_test(string_initializer),
        cmocka_unit_test(initializer_size_mismatch),
        cmocka_unit_test(external_data_at_offsets),
        cmocka_unit_test(external_data_errors),
        cmocka_unit_test(input_that_is_initializer_is_constant),
        cmocka_unit_test(output_that_is_input),
        cmocka_unit_test(describe_without_shapes),
        cmocka_unit_test(missing_file),
        cmocka_unit_test(corrupt_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
