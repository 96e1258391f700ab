/* Unit tests for server/http/v2_codec.c: JSON tensor data to tensors for every datatype
 * (flat, nested, rank 0, empty, count and range errors, wrong element types, huge shapes
 * refused before allocation), tensors back to JSON for every datatype, infer request
 * validation with a message that names the input, output or field at fault, the binary
 * tensor data extension (header length, blob layout, blobs as views of the body) and
 * classification (top-k strings, labels, ties, formatting, shapes). */
#include "test.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "server/http/v2_codec.h"

/* ------------------------------------------------------------------------------------ */
/* Helpers                                                                              */

static inferd_json_doc_t *parse(const char *text)
{
    inferd_json_doc_t *doc = NULL;
    inferd_err_t err = {0};
    if (inferd_json_parse(text, strlen(text), NULL, &doc, &err) != INFERD_OK)
        fail_msg("parse of '%s' failed: %s", text, err.msg);
    return doc;
}

/* Converts data_text for input "x"; returns the status and fills *out / err. */
static inferd_status_t convert(const char *data_text, inferd_dtype_t dt, const int64_t *shape,
                               int ndim, uint64_t max_elements, inferd_tensor_t **out,
                               inferd_err_t *err)
{
    inferd_json_doc_t *doc = parse(data_text);
    inferd_status_t st = inferd_v2_json_to_tensor("x", inferd_json_root(doc), dt, shape, ndim,
                                                  max_elements, out, err);
    inferd_json_doc_destroy(doc);
    if (st != INFERD_OK)
        assert_null(*out);
    return st;
}

/* Converts and expects success; checks the tensor's dtype, shape and bytes. */
static void expect_tensor(const char *data_text, inferd_dtype_t dt, const int64_t *shape, int ndim,
                          const void *bytes, size_t nbytes)
{
    inferd_tensor_t *t = NULL;
    inferd_err_t err = {0};
    if (convert(data_text, dt, shape, ndim, UINT64_MAX, &t, &err) != INFERD_OK)
        fail_msg("%s as %s: %s", data_text, inferd_dtype_name(dt), err.msg);
    assert_int_equal(t->dtype, dt);
    assert_int_equal(t->ndim, ndim);
    for (int i = 0; i < ndim; i++)
        assert_int_equal(t->dims[i], shape[i]);
    assert_int_equal(t->nbytes, nbytes);
    if (nbytes)
        assert_memory_equal(t->data, bytes, nbytes);
    assert_int_equal(t->owner, INFERD_OWNER_REQUEST);
    inferd_tensor_unref(t);
}

/* Converts and expects code with a message containing want. */
static void expect_convert_error(const char *data_text, inferd_dtype_t dt, const int64_t *shape,
                                 int ndim, uint64_t max_elements, inferd_status_t code,
                                 const char *want)
{
    inferd_tensor_t *t = NULL;
    inferd_err_t err = {0};
    inferd_status_t st = convert(data_text, dt, shape, ndim, max_elements, &t, &err);
    if (st != code)
        fail_msg("%s as %s: status %d (%s), want %d", data_text, inferd_dtype_name(dt), st, err.msg,
                 code);
    if (!strstr(err.msg, want))
        fail_msg("%s as %s: message '%s' lacks '%s'", data_text, inferd_dtype_name(dt), err.msg,
                 want);
    if (!strstr(err.msg, "input 'x'"))
        fail_msg("message '%s' does not name the input", err.msg);
}

/* JSON text of a tensor converted from data_text, compared with want. */
static void expect_round_json(const char *data_text, inferd_dtype_t dt, const int64_t *shape,
                              int ndim, const char *want)
{
    inferd_tensor_t *t = NULL;
    inferd_err_t err = {0};
    if (convert(data_text, dt, shape, ndim, UINT64_MAX, &t, &err) != INFERD_OK)
        fail_msg("%s as %s: %s", data_text, inferd_dtype_name(dt), err.msg);
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_v2_tensor_to_json(t, &b);
    assert_false(b.failed);
    if (strcmp(b.data, want) != 0)
        fail_msg("%s as %s wrote %s, want %s", data_text, inferd_dtype_name(dt), b.data, want);
    inferd_buf_deinit(&b);
    inferd_tensor_unref(t);
}

/* ------------------------------------------------------------------------------------ */
/* JSON -> tensor, each datatype                                                        */

static const int64_t S4[] = {4};
static const int64_t S22[] = {2, 2};
static const int64_t S3[] = {3};

static void bool_tensors(void **state)
{
    (void)state;
    const uint8_t want[] = {1, 0, 0, 1};
    expect_tensor("[true,false,false,true]", INFERD_DTYPE_BOOL, S4, 1, want, 4);
    expect_tensor("[[true,false],[false,true]]", INFERD_DTYPE_BOOL, S22, 2, want, 4);
    expect_convert_error("[true,1,false,true]", INFERD_DTYPE_BOOL, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 1: expected true or false, got 1");
    expect_convert_error("[true,false,\"true\",true]", INFERD_DTYPE_BOOL, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 2: expected true or false, got a string");
    expect_convert_error("[true,false,true,null]", INFERD_DTYPE_BOOL, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 3: expected true or false, got null");
    assert_no_live_tensors();
}

static void unsigned_tensors(void **state)
{
    (void)state;
    const uint8_t u8[] = {0, 1, 254, 255};
    expect_tensor("[0,1,254,255]", INFERD_DTYPE_UINT8, S4, 1, u8, sizeof(u8));
    expect_tensor("[[0,1],[254,2.55e2]]", INFERD_DTYPE_UINT8, S22, 2, u8, sizeof(u8));
    const uint16_t u16[] = {0, 1, 65534, 65535};
    expect_tensor("[0,1,65534,65535]", INFERD_DTYPE_UINT16, S4, 1, u16, sizeof(u16));
    const uint32_t u32[] = {0, 1, 4294967294u, 4294967295u};
    expect_tensor("[0,1.0,4294967294,4294967295]", INFERD_DTYPE_UINT32, S4, 1, u32, sizeof(u32));
    const uint64_t u64[] = {0, 9007199254740993ull, 18446744073709551614ull, UINT64_MAX};
    expect_tensor("[[0,9007199254740993],[18446744073709551614,18446744073709551615]]",
                  INFERD_DTYPE_UINT64, S22, 2, u64, sizeof(u64));

    expect_convert_error("[0,1,2,256]", INFERD_DTYPE_UINT8, S4, 1, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "element 3: expected an integer in [0, 255], got 256");
    expect_convert_error("[0,-1,2,3]", INFERD_DTYPE_UINT8, S4, 1, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "element 1: expected an integer in [0, 255], got -1");
    expect_convert_error("[0,1,65536,3]", INFERD_DTYPE_UINT16, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 2: expected an integer in [0, 65535]");
    expect_convert_error("[4294967296,1,2,3]", INFERD_DTYPE_UINT32, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 0: expected an integer in [0, 4294967295]");
    expect_convert_error("[1,18446744073709551616,2,3]", INFERD_DTYPE_UINT64, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG,
                         "element 1: expected an integer in [0, 18446744073709551615], got "
                         "18446744073709551616");
    expect_convert_error("[1,2,3,-1]", INFERD_DTYPE_UINT64, S4, 1, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "element 3");
    expect_convert_error("[1,2,3.5,4]", INFERD_DTYPE_UINT32, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "got 3.5");
    assert_no_live_tensors();
}

static void signed_tensors(void **state)
{
    (void)state;
    const int8_t i8[] = {-128, -1, 0, 127};
    expect_tensor("[-128,-1,0,127]", INFERD_DTYPE_INT8, S4, 1, i8, sizeof(i8));
    const int16_t i16[] = {-32768, -1, 0, 32767};
    expect_tensor("[[-32768,-1],[0,32767]]", INFERD_DTYPE_INT16, S22, 2, i16, sizeof(i16));
    const int32_t i32[] = {INT32_MIN, -1, 1000, INT32_MAX};
    expect_tensor("[-2147483648,-1,1e3,2147483647]", INFERD_DTYPE_INT32, S4, 1, i32, sizeof(i32));
    const int64_t i64[] = {INT64_MIN, -9007199254740993ll, 9007199254740993ll, INT64_MAX};
    expect_tensor("[-9223372036854775808,-9007199254740993,9007199254740993,"
                  "9223372036854775807]",
                  INFERD_DTYPE_INT64, S4, 1, i64, sizeof(i64));

    expect_convert_error("[1,2,3,300]", INFERD_DTYPE_INT8, S4, 1, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "input 'x': element 3: expected an integer in [-128, 127], got 300");
    expect_convert_error("[-129,2,3,4]", INFERD_DTYPE_INT8, S4, 1, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "element 0: expected an integer in [-128, 127], got -129");
    expect_convert_error("[1,32768,3,4]", INFERD_DTYPE_INT16, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 1: expected an integer in [-32768, 32767]");
    expect_convert_error("[1,2,2147483648,4]", INFERD_DTYPE_INT32, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 2: expected an integer in [-2147483648");
    expect_convert_error("[1,2,3,9223372036854775808]", INFERD_DTYPE_INT64, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG,
                         "element 3: expected an integer in [-9223372036854775808, "
                         "9223372036854775807], got 9223372036854775808");
    expect_convert_error("[-9223372036854775809,2,3,4]", INFERD_DTYPE_INT64, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "got -9223372036854775809");
    expect_convert_error("[1,2.5,3,4]", INFERD_DTYPE_INT32, S4, 1, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "element 1: expected an integer in [-2147483648, "
                         "2147483647], got 2.5");
    expect_convert_error("[1,2,NaN,4]", INFERD_DTYPE_INT64, S4, 1, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "element 2: expected an integer");
    expect_convert_error("[1,true,3,4]", INFERD_DTYPE_INT32, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG,
                         "element 1: expected an integer in [-2147483648, "
                         "2147483647], got true");
    expect_convert_error("[1,2,3,\"4\"]", INFERD_DTYPE_INT16, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 3: expected an integer");
    /* The element index counts leaves across nesting. */
    expect_convert_error("[[1,2],[3,1000]]", INFERD_DTYPE_INT8, S22, 2, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 3:");
    assert_no_live_tensors();
}

static void float_tensors(void **state)
{
    (void)state;
    const float f32[] = {0.1f, -2.0f, 3.0f, 1e-45f};
    expect_tensor("[0.1,-2,3,1e-45]", INFERD_DTYPE_FP32, S4, 1, f32, sizeof(f32));
    expect_tensor("[[0.10000000149011612,-2.0],[3e0,1.401298464324817e-45]]", INFERD_DTYPE_FP32,
                  S22, 2, f32, sizeof(f32));
    const double f64[] = {0.1, -2.0, 9007199254740993.0, 1e300};
    expect_tensor("[0.1,-2,9007199254740993,1e300]", INFERD_DTYPE_FP64, S4, 1, f64, sizeof(f64));

    /* NaN and the infinities, as bare tokens. */
    inferd_tensor_t *t = NULL;
    inferd_err_t err;
    assert_int_equal(
        convert("[NaN,Infinity,-Infinity,-0]", INFERD_DTYPE_FP32, S4, 1, 100, &t, &err), INFERD_OK);
    const float *f = t->data;
    assert_true(isnan(f[0]));
    assert_true(isinf(f[1]) && f[1] > 0);
    assert_true(isinf(f[2]) && f[2] < 0);
    assert_true(f[3] == 0 && signbit(f[3]));
    inferd_tensor_unref(t);
    assert_int_equal(
        convert("[NaN,Infinity,-Infinity,1e400]", INFERD_DTYPE_FP64, S4, 1, 100, &t, &err),
        INFERD_OK);
    const double *d = t->data;
    assert_true(isnan(d[0]) && isinf(d[1]) && isinf(d[2]) && d[2] < 0 && isinf(d[3]));
    inferd_tensor_unref(t);

    expect_convert_error("[1,\"2\",3,4]", INFERD_DTYPE_FP32, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 1: expected a number, got a string");
    expect_convert_error("[1,2,true,4]", INFERD_DTYPE_FP64, S4, 1, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "element 2: expected a number, got true");
    expect_convert_error("[1,2,3,null]", INFERD_DTYPE_FP32, S4, 1, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "element 3: expected a number, got null");
    expect_convert_error("[1,2,3,{}]", INFERD_DTYPE_FP32, S4, 1, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "element 3: expected a number, got an object");
    assert_no_live_tensors();
}

static void half_tensors(void **state)
{
    (void)state;
    const uint16_t fp16[] = {0x3c00, 0x3800, 0xc000, 0x7bff};
    expect_tensor("[1,0.5,-2,65504]", INFERD_DTYPE_FP16, S4, 1, fp16, sizeof(fp16));
    const uint16_t fp16b[] = {0x7c00, 0xfc00, 0x0001, 0x8000};
    expect_tensor("[[1e6,-Infinity],[5.960464477539063e-8,-0]]", INFERD_DTYPE_FP16, S22, 2, fp16b,
                  sizeof(fp16b));
    const uint16_t bf16[] = {0x3f80, 0x3f00, 0xc000, 0x7f80};
    expect_tensor("[1,0.5,-2,Infinity]", INFERD_DTYPE_BF16, S4, 1, bf16, sizeof(bf16));
    inferd_tensor_t *t = NULL;
    inferd_err_t err;
    assert_int_equal(convert("[NaN]", INFERD_DTYPE_FP16, S4, 0, 10, &t, &err), INFERD_OK);
    assert_true(isnan(inferd_fp16_to_fp32(*(uint16_t *)t->data)));
    inferd_tensor_unref(t);
    assert_int_equal(convert("NaN", INFERD_DTYPE_BF16, S4, 0, 10, &t, &err), INFERD_OK);
    assert_true(isnan(inferd_bf16_to_fp32(*(uint16_t *)t->data)));
    inferd_tensor_unref(t);
    expect_convert_error("[1,2,false,4]", INFERD_DTYPE_FP16, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 2: expected a number, got false");
    expect_convert_error("[1,2,3,\"x\"]", INFERD_DTYPE_BF16, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 3: expected a number, got a string");
    assert_no_live_tensors();
}

static void bytes_tensors(void **state)
{
    (void)state;
    const unsigned char want[] = {2, 0, 0,    0,    'a', 'b', 0, 0, 0,   0, 2,  0,
                                  0, 0, 0xc3, 0xa9, 3,   0,   0, 0, 'x', 0, 'y'};
    expect_tensor("[\"ab\",\"\",\"\\u00e9\",\"x\\u0000y\"]", INFERD_DTYPE_BYTES, S4, 1, want,
                  sizeof(want));
    expect_tensor("[[\"ab\",\"\"],[\"\xc3\xa9\",\"x\\u0000y\"]]", INFERD_DTYPE_BYTES, S22, 2, want,
                  sizeof(want));
    const unsigned char empty_strs[] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0};
    expect_tensor("[\"\",\"\",\"\"]", INFERD_DTYPE_BYTES, S3, 1, empty_strs, sizeof(empty_strs));
    expect_convert_error("[\"a\",1,\"b\",\"c\"]", INFERD_DTYPE_BYTES, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 1: expected a string, got 1");
    expect_convert_error("[\"a\",\"b\",\"c\",false]", INFERD_DTYPE_BYTES, S4, 1, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "element 3: expected a string, got false");
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Shapes and counts                                                                    */

static void rank0_and_empty(void **state)
{
    (void)state;
    const int32_t seven = 7;
    expect_tensor("7", INFERD_DTYPE_INT32, NULL, 0, &seven, 4);
    expect_tensor("[7]", INFERD_DTYPE_INT32, NULL, 0, &seven, 4);
    const unsigned char s[] = {1, 0, 0, 0, 'q'};
    expect_tensor("\"q\"", INFERD_DTYPE_BYTES, NULL, 0, s, sizeof(s));
    const uint8_t tr = 1;
    expect_tensor("true", INFERD_DTYPE_BOOL, NULL, 0, &tr, 1);
    expect_convert_error("[]", INFERD_DTYPE_INT32, NULL, 0, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "expected 1 elements for shape [], got 0");
    expect_convert_error("[1,2]", INFERD_DTYPE_INT32, NULL, 0, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "expected 1 elements for shape [], got 2");

    /* A zero dimension: no elements, no buffer. */
    const int64_t z[] = {0, 3};
    expect_tensor("[]", INFERD_DTYPE_FP32, z, 2, NULL, 0);
    expect_tensor("[]", INFERD_DTYPE_BYTES, z, 2, NULL, 0);
    const int64_t z2[] = {2, 0};
    expect_tensor("[[],[]]", INFERD_DTYPE_INT64, z2, 2, NULL, 0);
    expect_convert_error("[1]", INFERD_DTYPE_FP32, z, 2, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "expected 0 elements for shape [0,3], got 1");
    assert_no_live_tensors();
}

static void count_mismatch(void **state)
{
    (void)state;
    const int64_t s23[] = {2, 3};
    expect_convert_error("[1,2,3,4,5]", INFERD_DTYPE_FP32, s23, 2, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "input 'x': expected 6 elements for shape [2,3], got 5");
    expect_convert_error("[[1,2,3],[4,5,6],[7]]", INFERD_DTYPE_FP32, s23, 2, UINT64_MAX,
                         INFERD_E_INVALID_ARG, "expected 6 elements for shape [2,3], got 7");
    /* Only the count matters, not the nesting (as in Triton). */
    const float six[] = {1, 2, 3, 4, 5, 6};
    expect_tensor("[[1,2],[3,4],[5,6]]", INFERD_DTYPE_FP32, s23, 2, six, sizeof(six));
    expect_tensor("[1,[2,[3,[4,[5]]]],6]", INFERD_DTYPE_FP32, s23, 2, six, sizeof(six));
    /* Nesting far beyond any rank is refused. */
    char deep[200];
    memset(deep, '[', 65);
    deep[65] = '1';
    memset(deep + 66, ']', 65);
    deep[131] = '\0';
    expect_convert_error(deep, INFERD_DTYPE_FP32, NULL, 0, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "'data' is nested deeper than 64 arrays");
    deep[0] = ' ';
    deep[130] = ' ';
    const float one = 1;
    expect_tensor(deep, INFERD_DTYPE_FP32, NULL, 0, &one, sizeof(one));
    assert_no_live_tensors();
}

static void huge_shapes_rejected_before_allocation(void **state)
{
    (void)state;
    /* 10^12 elements of FP64 would be 8 TB: these must fail on the count, not on malloc. */
    const int64_t big[] = {1000000, 1000000};
    expect_convert_error("[1]", INFERD_DTYPE_FP64, big, 2, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "expected 1000000000000 elements for shape [1000000,1000000], got 1");
    expect_convert_error("[1]", INFERD_DTYPE_FP64, big, 2, (uint64_t)1 << 32, INFERD_E_TOO_LARGE,
                         "more than 4294967296 elements");
    const int64_t overflow[] = {(int64_t)1 << 62, 8};
    expect_convert_error("[1]", INFERD_DTYPE_INT8, overflow, 2, UINT64_MAX, INFERD_E_TOO_LARGE,
                         "input 'x'");
    const int64_t s10[] = {10};
    expect_convert_error("[1,2,3,4,5,6,7,8,9,10]", INFERD_DTYPE_INT32, s10, 1, 9,
                         INFERD_E_TOO_LARGE, "more than 9 elements");
    const int64_t neg[] = {-1};
    expect_convert_error("[]", INFERD_DTYPE_INT32, neg, 1, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "negative");
    expect_convert_error("[1]", INFERD_DTYPE_INVALID, s10, 1, UINT64_MAX, INFERD_E_INVALID_ARG,
                         "invalid datatype");
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Tensor -> JSON                                                                       */

static void tensor_to_json_every_type(void **state)
{
    (void)state;
    expect_round_json("[[true,false],[false,true]]", INFERD_DTYPE_BOOL, S22, 2,
                      "[true,false,false,true]");
    expect_round_json("[0,1,254,255]", INFERD_DTYPE_UINT8, S4, 1, "[0,1,254,255]");
    expect_round_json("[0,1,65534,65535]", INFERD_DTYPE_UINT16, S4, 1, "[0,1,65534,65535]");
    expect_round_json("[0,1,4294967294,4294967295]", INFERD_DTYPE_UINT32, S4, 1,
                      "[0,1,4294967294,4294967295]");
    expect_round_json("[0,9007199254740993,1e19,18446744073709551615]", INFERD_DTYPE_UINT64, S4, 1,
                      "[0,9007199254740993,10000000000000000000,18446744073709551615]");
    expect_round_json("[-128,-1,0,127]", INFERD_DTYPE_INT8, S4, 1, "[-128,-1,0,127]");
    expect_round_json("[-32768,-1,0,32767]", INFERD_DTYPE_INT16, S4, 1, "[-32768,-1,0,32767]");
    expect_round_json("[-2147483648,-1,0,2147483647]", INFERD_DTYPE_INT32, S4, 1,
                      "[-2147483648,-1,0,2147483647]");
    expect_round_json("[-9223372036854775808,-1,0,9223372036854775807]", INFERD_DTYPE_INT64, S4, 1,
                      "[-9223372036854775808,-1,0,9223372036854775807]");
    expect_round_json("[0.1,-0,NaN,Infinity]", INFERD_DTYPE_FP32, S4, 1, "[0.1,-0.0,NaN,Infinity]");
    expect_round_json("[-Infinity,3.4028235e38,1e-45,0.33333334]", INFERD_DTYPE_FP32, S4, 1,
                      "[-Infinity,3.4028235e38,1e-45,0.33333334]");
    expect_round_json("[0.1,1e300,NaN,-Infinity]", INFERD_DTYPE_FP64, S4, 1,
                      "[0.1,1e300,NaN,-Infinity]");
    expect_round_json("[1,0.5,-2,65504]", INFERD_DTYPE_FP16, S4, 1, "[1,0.5,-2,65504]");
    expect_round_json("[0.1,NaN,-Infinity,1e6]", INFERD_DTYPE_FP16, S4, 1,
                      "[0.099975586,NaN,-Infinity,Infinity]");
    expect_round_json("[1,0.5,-2,Infinity]", INFERD_DTYPE_BF16, S4, 1, "[1,0.5,-2,Infinity]");
    expect_round_json("[3.14159,NaN,1e-3,-0]", INFERD_DTYPE_BF16, S4, 1,
                      "[3.140625,NaN,0.0009994507,-0.0]");
    expect_round_json("[\"ab\",\"\",\"\\u00e9\",\"q\\\"\\n\"]", INFERD_DTYPE_BYTES, S4, 1,
                      "[\"ab\",\"\",\"\xc3\xa9\",\"q\\\"\\n\"]");
    expect_round_json("[]", INFERD_DTYPE_FP32, (const int64_t[]){0}, 1, "[]");
    expect_round_json("[]", INFERD_DTYPE_BYTES, (const int64_t[]){0}, 1, "[]");
    expect_round_json("5", INFERD_DTYPE_INT32, NULL, 0, "[5]");

    /* Every value written reads back through the codec to the same bits. */
    const int64_t n100[] = {100};
    inferd_tensor_t *t =
        inferd_tensor_create(INFERD_DTYPE_FP32, n100, 1, 0, INFERD_OWNER_REQUEST, NULL);
    float *f = t->data;
    srand(99);
    for (int i = 0; i < 100; i++)
        f[i] = (float)rand() / (float)RAND_MAX * 200.0f - 100.0f;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_v2_tensor_to_json(t, &b);
    inferd_tensor_t *back = NULL;
    assert_int_equal(convert(b.data, INFERD_DTYPE_FP32, n100, 1, 1000, &back, NULL), INFERD_OK);
    assert_memory_equal(back->data, t->data, 400);
    inferd_tensor_unref(back);
    inferd_tensor_unref(t);
    inferd_buf_deinit(&b);
    assert_no_live_tensors();
}

static void bytes_to_json_not_utf8(void **state)
{
    (void)state;
    const unsigned char raw[] = {3, 0,    0,    0, 'a', 0xff, 0x00, 2,    0,  0,
                                 0, 0xc3, 0xa9, 2, 0,   0,    0,    0xc3, '"'};
    const int64_t s[] = {3};
    inferd_tensor_t *t =
        inferd_tensor_create(INFERD_DTYPE_BYTES, s, 1, sizeof(raw), INFERD_OWNER_REQUEST, NULL);
    memcpy(t->data, raw, sizeof(raw));
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_v2_tensor_to_json(t, &b);
    assert_false(b.failed);
    assert_string_equal(b.data, "[\"a\\u00ff\\u0000\",\"\xc3\xa9\",\"\\u00c3\\\"\"]");
    /* The output is valid JSON. */
    inferd_json_doc_t *doc = parse(b.data);
    inferd_json_doc_destroy(doc);
    inferd_buf_deinit(&b);

    /* A malformed serialization fails the buffer instead of reading out of bounds. */
    ((unsigned char *)t->data)[0] = 200;
    inferd_buf_init(&b, 0);
    inferd_v2_tensor_to_json(t, &b);
    assert_true(b.failed);
    inferd_buf_deinit(&b);
    inferd_tensor_unref(t);
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Request parsing                                                                      */

static const inferd_v2_limits_t LIM = {.max_inputs = 8, .max_elements = 1000000};

static void expect_request_error(const char *body, inferd_status_t code, const char *want)
{
    inferd_json_doc_t *doc = parse(body);
    inferd_v2_request_t req;
    inferd_err_t err = {0};
    inferd_status_t st = inferd_v2_parse_request(doc, &LIM, &req, &err);
    if (st != code)
        fail_msg("%s: status %d (%s), want %d", body, st, err.msg, code);
    if (!strstr(err.msg, want))
        fail_msg("%s: message '%s' lacks '%s'", body, err.msg, want);
    inferd_json_doc_destroy(doc);
}

#define IN0 "{\"name\":\"INPUT0\",\"datatype\":\"FP32\",\"shape\":[2],\"data\":[1,2]}"

static void request_valid(void **state)
{
    (void)state;
    inferd_json_doc_t *doc =
        parse("{\"id\":\"req-1\",\"parameters\":{\"binary_data_output\":true,\"timeout\":5000,"
              "\"priority\":2,\"sequence_id\":\"s\",\"sequence_start\":true,\"custom\":\"v\","
              "\"other\":1.5},"
              "\"inputs\":[" IN0 ","
              "{\"name\":\"B\",\"datatype\":\"BYTES\",\"shape\":[1,3],"
              "\"parameters\":{\"binary_data_size\":15}},"
              "{\"name\":\"S\",\"datatype\":\"INT64\",\"shape\":[],\"parameters\":"
              "{\"shared_memory_region\":\"r0\",\"shared_memory_offset\":16,"
              "\"shared_memory_byte_size\":8,\"user\":\"x\"}}],"
              "\"outputs\":[{\"name\":\"OUT0\"},{\"name\":\"OUT1\",\"parameters\":{\"binary_data\":"
              "false,\"classification\":3}},{\"name\":\"OUT2\",\"parameters\":{"
              "\"shared_memory_region\":\"r1\",\"shared_memory_byte_size\":64}}],"
              "\"unknown_top_level\":{}}");
    inferd_v2_request_t req;
    inferd_err_t err = {0};
    if (inferd_v2_parse_request(doc, &LIM, &req, &err) != INFERD_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(req.id, "req-1");
    assert_int_equal(req.id_len, 5);
    assert_non_null(req.parameters);
    assert_true(req.binary_data_output);
    assert_true(req.has_timeout);
    assert_int_equal(req.timeout_us, 5000);
    assert_int_equal(req.n_inputs, 3);
    assert_string_equal(req.inputs[0].name, "INPUT0");
    assert_int_equal(req.inputs[0].datatype, INFERD_DTYPE_FP32);
    assert_int_equal(req.inputs[0].ndim, 1);
    assert_int_equal(req.inputs[0].shape[0], 2);
    assert_non_null(req.inputs[0].data);
    assert_null(req.inputs[0].parameters);
    assert_false(req.inputs[0].has_binary_data_size);
    assert_null(req.inputs[0].shm_region);
    assert_int_equal(req.inputs[1].datatype, INFERD_DTYPE_BYTES);
    assert_int_equal(req.inputs[1].ndim, 2);
    assert_null(req.inputs[1].data);
    assert_true(req.inputs[1].has_binary_data_size);
    assert_int_equal(req.inputs[1].binary_data_size, 15);
    assert_int_equal(req.inputs[2].ndim, 0);
    assert_string_equal(req.inputs[2].shm_region, "r0");
    assert_int_equal(req.inputs[2].shm_offset, 16);
    assert_int_equal(req.inputs[2].shm_byte_size, 8);
    assert_non_null(req.inputs[2].parameters);
    assert_true(req.has_outputs);
    assert_int_equal(req.n_outputs, 3);
    assert_string_equal(req.outputs[0].name, "OUT0");
    assert_false(req.outputs[0].has_binary_data);
    assert_int_equal(req.outputs[0].classification, 0);
    assert_true(req.outputs[1].has_binary_data);
    assert_false(req.outputs[1].binary_data);
    assert_int_equal(req.outputs[1].classification, 3);
    assert_string_equal(req.outputs[2].shm_region, "r1");
    assert_int_equal(req.outputs[2].shm_byte_size, 64);

    /* The data converts with the parsed shape. */
    inferd_tensor_t *t = NULL;
    assert_int_equal(inferd_v2_json_to_tensor(req.inputs[0].name, req.inputs[0].data,
                                              req.inputs[0].datatype, req.inputs[0].shape,
                                              req.inputs[0].ndim, LIM.max_elements, &t, &err),
                     INFERD_OK);
    assert_true(((float *)t->data)[1] == 2.0f);
    inferd_tensor_unref(t);
    inferd_json_doc_destroy(doc);

    /* Minimal request: no id, no parameters, no outputs; NULL limits mean defaults. */
    doc = parse("{\"inputs\":[" IN0 "]}");
    assert_int_equal(inferd_v2_parse_request(doc, NULL, &req, &err), INFERD_OK);
    assert_null(req.id);
    assert_null(req.parameters);
    assert_false(req.has_timeout);
    assert_false(req.has_outputs);
    assert_int_equal(req.n_outputs, 0);
    inferd_json_doc_destroy(doc);
    assert_no_live_tensors();
}

static void request_top_level_errors(void **state)
{
    (void)state;
    expect_request_error("[]", INFERD_E_INVALID_ARG, "request body must be a JSON object");
    expect_request_error("\"x\"", INFERD_E_INVALID_ARG, "request body must be a JSON object");
    expect_request_error("{\"id\":5,\"inputs\":[" IN0 "]}", INFERD_E_INVALID_ARG,
                         "'id' must be a string, got a number");
    expect_request_error("{}", INFERD_E_INVALID_ARG, "'inputs' is required");
    expect_request_error("{\"inputs\":{}}", INFERD_E_INVALID_ARG,
                         "'inputs' must be an array, got an object");
    expect_request_error("{\"inputs\":[]}", INFERD_E_INVALID_ARG, "'inputs' must not be empty");
    expect_request_error("{\"inputs\":[1]}", INFERD_E_INVALID_ARG,
                         "'inputs'[0] must be an object, got a number");
    expect_request_error("{\"inputs\":[" IN0 ",{\"datatype\":\"FP32\"}]}", INFERD_E_INVALID_ARG,
                         "'inputs'[1]: 'name' must be a string (missing)");
    expect_request_error("{\"inputs\":[{\"name\":7}]}", INFERD_E_INVALID_ARG,
                         "'inputs'[0]: 'name' must be a string, got a number");
    expect_request_error("{\"inputs\":[{\"name\":\"a\\u0000b\"}]}", INFERD_E_INVALID_ARG,
                         "'name' must not contain a NUL");
}

static void request_parameter_errors(void **state)
{
    (void)state;
    expect_request_error("{\"parameters\":[],\"inputs\":[" IN0 "]}", INFERD_E_INVALID_ARG,
                         "'parameters' must be an object, got an array");
    expect_request_error("{\"parameters\":{\"k\":{}},\"inputs\":[" IN0 "]}", INFERD_E_INVALID_ARG,
                         "parameter 'k' must be a string, number or boolean, got an object");
    expect_request_error("{\"parameters\":{\"k\":null},\"inputs\":[" IN0 "]}", INFERD_E_INVALID_ARG,
                         "parameter 'k' must be a string");
    expect_request_error("{\"parameters\":{\"binary_data_output\":1},\"inputs\":[" IN0 "]}",
                         INFERD_E_INVALID_ARG,
                         "parameter 'binary_data_output' must be a boolean, got a number");
    expect_request_error("{\"parameters\":{\"timeout\":-1},\"inputs\":[" IN0 "]}",
                         INFERD_E_INVALID_ARG,
                         "parameter 'timeout' must be a non-negative integer");
    expect_request_error("{\"parameters\":{\"timeout\":\"5\"},\"inputs\":[" IN0 "]}",
                         INFERD_E_INVALID_ARG, "parameter 'timeout'");
    expect_request_error("{\"parameters\":{\"priority\":1.5},\"inputs\":[" IN0 "]}",
                         INFERD_E_INVALID_ARG,
                         "parameter 'priority' must be a non-negative integer");
    expect_request_error("{\"parameters\":{\"sequence_id\":-3},\"inputs\":[" IN0 "]}",
                         INFERD_E_INVALID_ARG, "parameter 'sequence_id'");
    expect_request_error("{\"parameters\":{\"sequence_end\":\"yes\"},\"inputs\":[" IN0 "]}",
                         INFERD_E_INVALID_ARG, "parameter 'sequence_end' must be a boolean");
    expect_request_error("{\"parameters\":{\"triton_magic\":true},\"inputs\":[" IN0 "]}",
                         INFERD_E_INVALID_ARG, "parameter 'triton_magic' is not a known reserved");
}

static void request_input_errors(void **state)
{
    (void)state;
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"shape\":[1],\"data\":[1]}]}",
                         INFERD_E_INVALID_ARG, "input 'A': 'datatype' must be a string (missing)");
    expect_request_error(
        "{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP8\",\"shape\":[1],\"data\":[1]}]}",
        INFERD_E_INVALID_ARG, "input 'A': unknown datatype 'FP8'");
    expect_request_error(
        "{\"inputs\":[{\"name\":\"A\",\"datatype\":\"fp32\",\"shape\":[1],\"data\":[1]}]}",
        INFERD_E_INVALID_ARG, "unknown datatype 'fp32'");
    expect_request_error("{\"inputs\":[{\"name\":\"INPUT0\",\"datatype\":\"FP32\",\"data\":[1]}]}",
                         INFERD_E_INVALID_ARG,
                         "input 'INPUT0': 'shape' must be an array of non-negative integers");
    expect_request_error("{\"inputs\":[{\"name\":\"INPUT0\",\"datatype\":\"FP32\",\"shape\":3,"
                         "\"data\":[1]}]}",
                         INFERD_E_INVALID_ARG,
                         "input 'INPUT0': 'shape' must be an array of non-negative integers");
    expect_request_error("{\"inputs\":[{\"name\":\"INPUT0\",\"datatype\":\"FP32\",\"shape\":[2,-1],"
                         "\"data\":[1]}]}",
                         INFERD_E_INVALID_ARG,
                         "input 'INPUT0': 'shape' must be an array of non-negative integers");
    expect_request_error("{\"inputs\":[{\"name\":\"INPUT0\",\"datatype\":\"FP32\",\"shape\":[1.5],"
                         "\"data\":[1]}]}",
                         INFERD_E_INVALID_ARG, "'shape' must be an array of non-negative integers");
    expect_request_error(
        "{\"inputs\":[{\"name\":\"INPUT0\",\"datatype\":\"FP32\",\"shape\":[\"1\"],"
        "\"data\":[1]}]}",
        INFERD_E_INVALID_ARG, "'shape' must be an array of non-negative integers");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\","
                         "\"shape\":[1,1,1,1,1,1,1,1,1],\"data\":[1]}]}",
                         INFERD_E_INVALID_ARG,
                         "input 'A': 'shape' has 9 dimensions, more than the maximum of 8");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1001,1000],"
                         "\"data\":[1]}]}",
                         INFERD_E_TOO_LARGE,
                         "input 'A': shape [1001,1000] has more than 1000000 elements");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":"
                         "[9223372036854775807,9223372036854775807],\"data\":[1]}]}",
                         INFERD_E_TOO_LARGE, "input 'A': shape");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"data\":[1],\"parameters\":5}]}",
                         INFERD_E_INVALID_ARG, "input 'A': 'parameters' must be an object");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"parameters\":{\"binary_data_size\":-4}}]}",
                         INFERD_E_INVALID_ARG,
                         "input 'A': parameter 'binary_data_size' must be a non-negative integer");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"parameters\":{\"binary_data_size\":true}}]}",
                         INFERD_E_INVALID_ARG, "input 'A': parameter 'binary_data_size'");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"parameters\":{\"x\":[1]},\"data\":[1]}]}",
                         INFERD_E_INVALID_ARG,
                         "input 'A': parameter 'x' must be a string, number or boolean");
    /* Exactly one source of data. */
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1]}]}",
                         INFERD_E_INVALID_ARG,
                         "input 'A': must set exactly one of 'data', parameters.binary_data_size "
                         "and parameters.shared_memory_region (0 given)");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"data\":[1],\"parameters\":{\"binary_data_size\":4}}]}",
                         INFERD_E_INVALID_ARG, "input 'A': must set exactly one of");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"parameters\":{\"binary_data_size\":4,\"shared_memory_region\":\"r\","
                         "\"shared_memory_byte_size\":4}}]}",
                         INFERD_E_INVALID_ARG, "(2 given)");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"parameters\":{\"shared_memory_region\":\"r\"}}]}",
                         INFERD_E_INVALID_ARG,
                         "input 'A': parameter 'shared_memory_byte_size' is required");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"parameters\":{\"shared_memory_region\":1}}]}",
                         INFERD_E_INVALID_ARG,
                         "input 'A': parameter 'shared_memory_region' must be a string");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"parameters\":{\"shared_memory_region\":\"r\","
                         "\"shared_memory_byte_size\":4,\"shared_memory_offset\":-1}}]}",
                         INFERD_E_INVALID_ARG,
                         "input 'A': parameter 'shared_memory_offset' must be a non-negative");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"parameters\":{\"shared_memory_region\":\"r\","
                         "\"shared_memory_byte_size\":2.5}}]}",
                         INFERD_E_INVALID_ARG,
                         "input 'A': parameter 'shared_memory_byte_size' must be a non-negative");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"data\":{}}]}",
                         INFERD_E_INVALID_ARG, "input 'A': 'data' must be an array, got an object");
    expect_request_error("{\"inputs\":[{\"name\":\"A\",\"datatype\":\"FP32\",\"shape\":[1],"
                         "\"data\":null}]}",
                         INFERD_E_INVALID_ARG, "input 'A': 'data' must be an array, got null");
    /* Names. */
    expect_request_error("{\"inputs\":[" IN0 "," IN0 "]}", INFERD_E_INVALID_ARG,
                         "input 'INPUT0' appears more than once in 'inputs'");
    expect_request_error("{\"inputs\":[" IN0 "," IN0 "," IN0 "," IN0 "," IN0 "," IN0 "," IN0 "," IN0
                         "," IN0 "]}",
                         INFERD_E_INVALID_ARG, "request has 9 inputs, more than the limit of 8");
}

static void request_output_errors(void **state)
{
    (void)state;
#define REQ(outputs) "{\"inputs\":[" IN0 "],\"outputs\":" outputs "}"
    expect_request_error(REQ("{}"), INFERD_E_INVALID_ARG,
                         "'outputs' must be an array, got an object");
    expect_request_error(REQ("[\"OUT\"]"), INFERD_E_INVALID_ARG,
                         "'outputs'[0] must be an object, got a string");
    expect_request_error(REQ("[{\"name\":\"A\"},{}]"), INFERD_E_INVALID_ARG,
                         "'outputs'[1]: 'name' must be a string (missing)");
    expect_request_error(REQ("[{\"name\":\"A\"},{\"name\":\"A\"}]"), INFERD_E_INVALID_ARG,
                         "output 'A' appears more than once in 'outputs'");
    expect_request_error(REQ("[{\"name\":\"A\",\"parameters\":[]}]"), INFERD_E_INVALID_ARG,
                         "output 'A': 'parameters' must be an object, got an array");
    expect_request_error(REQ("[{\"name\":\"A\",\"parameters\":{\"binary_data\":\"yes\"}}]"),
                         INFERD_E_INVALID_ARG,
                         "output 'A': parameter 'binary_data' must be a boolean, got a string");
    expect_request_error(REQ("[{\"name\":\"A\",\"parameters\":{\"classification\":-2}}]"),
                         INFERD_E_INVALID_ARG,
                         "output 'A': parameter 'classification' must be a non-negative integer");
    expect_request_error(REQ("[{\"name\":\"A\",\"parameters\":{\"classification\":5e9}}]"),
                         INFERD_E_INVALID_ARG, "output 'A': parameter 'classification'");
    expect_request_error(REQ("[{\"name\":\"A\",\"parameters\":{\"shared_memory_region\":\"r\"}}]"),
                         INFERD_E_INVALID_ARG,
                         "output 'A': parameter 'shared_memory_byte_size' is required");
    expect_request_error(REQ("[{\"name\":\"A\",\"parameters\":{\"shared_memory_region\":\"r\","
                             "\"shared_memory_byte_size\":4,\"binary_data\":true}}]"),
                         INFERD_E_INVALID_ARG,
                         "output 'A': 'shared_memory_region' cannot be combined with "
                         "'binary_data'");
    expect_request_error(REQ("[{\"name\":\"A\",\"parameters\":{\"shared_memory_region\":\"r\","
                             "\"shared_memory_byte_size\":4,\"classification\":2}}]"),
                         INFERD_E_INVALID_ARG,
                         "output 'A': 'shared_memory_region' cannot be combined with "
                         "'classification'");
    expect_request_error(REQ("[{\"name\":\"A\",\"parameters\":{\"z\":{}}}]"), INFERD_E_INVALID_ARG,
                         "output 'A': parameter 'z' must be a string, number or boolean");
    expect_request_error(REQ("[{\"name\":\"1\"},{\"name\":\"2\"},{\"name\":\"3\"},{\"name\":\"4\"},"
                             "{\"name\":\"5\"},{\"name\":\"6\"},{\"name\":\"7\"},{\"name\":\"8\"},"
                             "{\"name\":\"9\"}]"),
                         INFERD_E_INVALID_ARG, "request has 9 outputs, more than the limit of 8");
#undef REQ

    /* An empty outputs array is accepted and recorded as given. */
    inferd_json_doc_t *doc = parse("{\"inputs\":[" IN0 "],\"outputs\":[]}");
    inferd_v2_request_t req;
    assert_int_equal(inferd_v2_parse_request(doc, &LIM, &req, NULL), INFERD_OK);
    assert_true(req.has_outputs);
    assert_int_equal(req.n_outputs, 0);
    inferd_json_doc_destroy(doc);
}

/* ------------------------------------------------------------------------------------ */
/* Binary tensor data                                                                   */

static void expect_err_has(inferd_status_t st, const inferd_err_t *err, const char *want)
{
    assert_int_equal(st, INFERD_E_INVALID_ARG);
    if (!strstr(err->msg, want))
        fail_msg("message '%s' lacks '%s'", err->msg, want);
}

static void header_length(void **state)
{
    (void)state;
    size_t n = 99;
    inferd_err_t err = {0};
    assert_int_equal(inferd_v2_parse_header_length("12", 20, &n, &err), INFERD_OK);
    assert_int_equal(n, 12);
    assert_int_equal(inferd_v2_parse_header_length("0", 20, &n, &err), INFERD_OK);
    assert_int_equal(n, 0);
    assert_int_equal(inferd_v2_parse_header_length("20", 20, &n, &err), INFERD_OK);
    assert_int_equal(n, 20);
    assert_int_equal(inferd_v2_parse_header_length(" 7 ", 20, &n, &err), INFERD_OK);
    assert_int_equal(n, 7);
    const char *not_int[] = {"", "abc", "1.5", "12x", "0x10", "-", " "};
    for (size_t i = 0; i < sizeof(not_int) / sizeof(*not_int); i++)
        expect_err_has(inferd_v2_parse_header_length(not_int[i], 20, &n, &err), &err,
                       "is not an integer");
    expect_err_has(inferd_v2_parse_header_length("-3", 20, &n, &err), &err, "negative");
    expect_err_has(inferd_v2_parse_header_length("21", 20, &n, &err), &err,
                   "greater than the request body");
    expect_err_has(inferd_v2_parse_header_length("99999999999999999999999", 20, &n, &err), &err,
                   "greater than the request body");
}

static void layout_binary(void **state)
{
    (void)state;
    inferd_v2_input_t in[3];
    memset(in, 0, sizeof(in));
    in[0] = (inferd_v2_input_t){.name = "a", .has_binary_data_size = true, .binary_data_size = 8};
    in[1] = (inferd_v2_input_t){.name = "b"}; /* JSON data: no blob */
    in[2] = (inferd_v2_input_t){.name = "c", .has_binary_data_size = true, .binary_data_size = 4};
    inferd_v2_request_t req = {.inputs = in, .n_inputs = 3};
    inferd_err_t err = {0};
    assert_int_equal(inferd_v2_layout_binary(&req, 12, &err), INFERD_OK);
    assert_int_equal(in[0].binary_offset, 0);
    assert_int_equal(in[2].binary_offset, 8);
    expect_err_has(inferd_v2_layout_binary(&req, 11, &err), &err, "input 'c'");
    expect_err_has(inferd_v2_layout_binary(&req, 11, &err), &err, "past the end");
    expect_err_has(inferd_v2_layout_binary(&req, 5, &err), &err, "input 'a'");
    expect_err_has(inferd_v2_layout_binary(&req, 13, &err), &err,
                   "unexpected additional input data");
    in[2].binary_data_size = UINT64_MAX; /* no wrap-around */
    expect_err_has(inferd_v2_layout_binary(&req, 12, &err), &err, "input 'c'");
}

/* A body tensor of n bytes whose data starts at an 8-byte aligned address. */
static inferd_tensor_t *make_body(const void *bytes, size_t n)
{
    int64_t d[1] = {(int64_t)n};
    inferd_tensor_t *t =
        inferd_tensor_create(INFERD_DTYPE_UINT8, d, 1, 0, INFERD_OWNER_REQUEST, NULL);
    assert_non_null(t);
    if (n)
        memcpy(t->data, bytes, n);
    return t;
}

static void binary_views(void **state)
{
    (void)state;
    float f[4] = {1.0f, -2.0f, 3.5f, 0.25f};
    unsigned char raw[1 + sizeof(f)];
    raw[0] = 0xaa;
    memcpy(raw + 1, f, sizeof(f));
    inferd_tensor_t *body = make_body(f, sizeof(f));
    int64_t shape[2] = {2, 2};
    inferd_tensor_t *t = NULL;
    size_t copied = 99;
    inferd_err_t err = {0};
    assert_int_equal(inferd_v2_binary_to_tensor("x", INFERD_DTYPE_FP32, shape, 2, UINT64_MAX, body,
                                                0, sizeof(f), &t, &copied, &err),
                     INFERD_OK);
    assert_int_equal(copied, 0);
    assert_ptr_equal(t->data, body->data); /* in place */
    assert_int_equal(t->dtype, INFERD_DTYPE_FP32);
    assert_int_equal(t->nbytes, 16);
    inferd_tensor_unref(body); /* the view keeps the body alive */
    assert_memory_equal(t->data, f, sizeof(f));
    inferd_tensor_unref(t);
    assert_no_live_tensors();

    /* A blob at an odd offset is copied, and the copy is reported. */
    body = make_body(raw, sizeof(raw));
    assert_int_equal(inferd_v2_binary_to_tensor("x", INFERD_DTYPE_FP32, shape, 2, UINT64_MAX, body,
                                                1, sizeof(f), &t, &copied, &err),
                     INFERD_OK);
    assert_int_equal(copied, 16);
    assert_ptr_not_equal(t->data, (char *)body->data + 1);
    assert_memory_equal(t->data, f, sizeof(f));
    inferd_tensor_unref(t);
    /* BYTES need no alignment: a view at any offset. */
    unsigned char bb[] = {0, 2, 0, 0, 0, 'h', 'i', 0, 0, 0, 0};
    inferd_tensor_unref(body);
    body = make_body(bb, sizeof(bb));
    int64_t two[1] = {2};
    assert_int_equal(inferd_v2_binary_to_tensor("s", INFERD_DTYPE_BYTES, two, 1, UINT64_MAX, body,
                                                1, 10, &t, &copied, &err),
                     INFERD_OK);
    assert_int_equal(copied, 0);
    assert_ptr_equal(t->data, (char *)body->data + 1);
    inferd_tensor_unref(t);
    inferd_tensor_unref(body);
    assert_no_live_tensors();
}

static void binary_size_errors(void **state)
{
    (void)state;
    unsigned char buf[32] = {0};
    inferd_tensor_t *body = make_body(buf, sizeof(buf));
    int64_t shape[2] = {1, 4};
    inferd_tensor_t *t = NULL;
    size_t copied;
    inferd_err_t err = {0};
    inferd_status_t st = inferd_v2_binary_to_tensor("x", INFERD_DTYPE_FP32, shape, 2, UINT64_MAX,
                                                    body, 0, 12, &t, &copied, &err);
    expect_err_has(st, &err, "input 'x': 12 bytes of tensor data");
    expect_err_has(st, &err, "16 bytes");
    assert_null(t);
    st = inferd_v2_binary_to_tensor("x", INFERD_DTYPE_FP32, shape, 2, UINT64_MAX, body, 24, 16, &t,
                                    &copied, &err);
    expect_err_has(st, &err, "past the end");
    /* The element limit holds for binary inputs too. */
    st = inferd_v2_binary_to_tensor("x", INFERD_DTYPE_FP32, shape, 2, 3, body, 0, 16, &t, &copied,
                                    &err);
    assert_int_equal(st, INFERD_E_TOO_LARGE);

    /* BYTES: every way a blob can disagree with its shape. */
    int64_t two[1] = {2};
    static const struct {
        unsigned char b[16];
        size_t n;
        const char *want;
    } bad[] = {
        {{100, 0, 0, 0, 'a', 'b', 'c'}, 7, "element 0: length 100 runs past the end"},
        {{1, 0, 0, 0, 'a', 1, 0}, 7, "element 1: its 4-byte length runs past the end"},
        {{1, 0, 0, 0, 'a', 1, 0, 0, 0, 'b', 'z'}, 11, "1 bytes left in the 11-byte blob"},
        {{0}, 0, "element 0: its 4-byte length"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        inferd_tensor_t *b2 = make_body(bad[i].b, bad[i].n);
        st = inferd_v2_binary_to_tensor("s", INFERD_DTYPE_BYTES, two, 1, UINT64_MAX, b2, 0,
                                        bad[i].n, &t, &copied, &err);
        expect_err_has(st, &err, bad[i].want);
        expect_err_has(st, &err, "input 's'");
        inferd_tensor_unref(b2);
    }
    inferd_tensor_unref(body);
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Classification                                                                       */

/* Checks that t is a BYTES tensor holding exactly the strings in want. */
static void expect_strings(const inferd_tensor_t *t, const char *const *want, size_t n)
{
    assert_int_equal(t->dtype, INFERD_DTYPE_BYTES);
    assert_int_equal(inferd_tensor_numel(t), n);
    assert_true(inferd_bytes_valid(t->data, t->nbytes, n));
    const unsigned char *p = t->data;
    for (size_t i = 0; i < n; i++) {
        uint32_t len =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        if (len != strlen(want[i]) || memcmp(p + 4, want[i], len) != 0)
            fail_msg("element %zu: got '%.*s', want '%s'", i, (int)len, p + 4, want[i]);
        p += 4 + len;
    }
}

static inferd_tensor_t *make_tensor(inferd_dtype_t dt, const int64_t *dims, int nd,
                                    const void *data)
{
    inferd_tensor_t *t = inferd_tensor_create(dt, dims, nd, 0, INFERD_OWNER_REQUEST, NULL);
    assert_non_null(t);
    memcpy(t->data, data, t->nbytes);
    return t;
}

static void classify_fp32(void **state)
{
    (void)state;
    float v[8] = {0.1f, 0.7f, 0.2f, 0.7f, 5.0f, NAN, -1.0f, 1e20f};
    int64_t dims[2] = {2, 4};
    inferd_tensor_t *t = make_tensor(INFERD_DTYPE_FP32, dims, 2, v);
    const char *labels[] = {"zero", "one", "", "three"};
    inferd_tensor_t *r = NULL;
    inferd_err_t err = {0};
    /* Batched: each row on its own; ties by index; NaN last; empty label omitted. */
    assert_int_equal(inferd_v2_classify("p", t, 2, 4, labels, 4, &r, &err), INFERD_OK);
    assert_int_equal(r->ndim, 2);
    assert_int_equal(r->dims[0], 2);
    assert_int_equal(r->dims[1], 4);
    const char *want[] = {"0.700000:1:one",
                          "0.700000:3:three",
                          "0.200000:2",
                          "0.100000:0:zero",
                          "100000002004087734272.000000:3:three",
                          "5.000000:0:zero",
                          "-1.000000:2",
                          "nan:1:one"};
    expect_strings(r, want, 8);
    inferd_tensor_unref(r);
    /* Not batched: the whole tensor is one item; k is capped at the element count. */
    assert_int_equal(inferd_v2_classify("p", t, -1, 2, NULL, 0, &r, &err), INFERD_OK);
    assert_int_equal(r->ndim, 1);
    assert_int_equal(r->dims[0], 2);
    const char *want2[] = {"100000002004087734272.000000:7", "5.000000:4"};
    expect_strings(r, want2, 2);
    inferd_tensor_unref(r);
    assert_int_equal(inferd_v2_classify("p", t, 2, 100, NULL, 0, &r, &err), INFERD_OK);
    assert_int_equal(r->dims[1], 4);
    inferd_tensor_unref(r);
    inferd_tensor_unref(t);
    assert_no_live_tensors();
}

static void classify_integers_and_doubles(void **state)
{
    (void)state;
    inferd_tensor_t *r = NULL;
    inferd_err_t err = {0};
    int64_t d3[1] = {3};
    int64_t i64[3] = {INT64_MIN, INT64_MAX, -1};
    inferd_tensor_t *t = make_tensor(INFERD_DTYPE_INT64, d3, 1, i64);
    assert_int_equal(inferd_v2_classify("p", t, -1, 3, NULL, 0, &r, &err), INFERD_OK);
    const char *w1[] = {"9223372036854775807:1", "-1:2", "-9223372036854775808:0"};
    expect_strings(r, w1, 3);
    inferd_tensor_unref(r);
    inferd_tensor_unref(t);
    uint64_t u64[3] = {UINT64_MAX, 0, UINT64_MAX - 1};
    t = make_tensor(INFERD_DTYPE_UINT64, d3, 1, u64);
    assert_int_equal(inferd_v2_classify("p", t, -1, 2, NULL, 0, &r, &err), INFERD_OK);
    const char *w2[] = {"18446744073709551615:0", "18446744073709551614:2"};
    expect_strings(r, w2, 2);
    inferd_tensor_unref(r);
    inferd_tensor_unref(t);
    int8_t i8[3] = {-128, 127, 0};
    t = make_tensor(INFERD_DTYPE_INT8, d3, 1, i8);
    assert_int_equal(inferd_v2_classify("p", t, -1, 1, NULL, 0, &r, &err), INFERD_OK);
    const char *w3[] = {"127:1"};
    expect_strings(r, w3, 1);
    inferd_tensor_unref(r);
    inferd_tensor_unref(t);
    double f64[3] = {0.1234567, -2.5, 1e-9};
    t = make_tensor(INFERD_DTYPE_FP64, d3, 1, f64);
    assert_int_equal(inferd_v2_classify("p", t, -1, 3, NULL, 0, &r, &err), INFERD_OK);
    const char *w4[] = {"0.123457:0", "0.000000:2", "-2.500000:1"};
    expect_strings(r, w4, 3);
    inferd_tensor_unref(r);
    inferd_tensor_unref(t);
    assert_no_live_tensors();
}

static void classify_errors(void **state)
{
    (void)state;
    inferd_tensor_t *r = NULL;
    inferd_err_t err = {0};
    int64_t d1[1] = {2};
    uint16_t h[2] = {0x3c00, 0};
    static const inferd_dtype_t bad[] = {INFERD_DTYPE_BOOL, INFERD_DTYPE_FP16, INFERD_DTYPE_BF16};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_false(inferd_v2_classification_supported(bad[i]));
        inferd_tensor_t *t = make_tensor(bad[i], d1, 1, h);
        expect_err_has(inferd_v2_classify("out", t, -1, 1, NULL, 0, &r, &err), &err,
                       "output 'out': class result not available");
        expect_err_has(inferd_v2_classify("out", t, -1, 1, NULL, 0, &r, &err), &err,
                       inferd_dtype_name(bad[i]));
        assert_null(r);
        inferd_tensor_unref(t);
    }
    assert_false(inferd_v2_classification_supported(INFERD_DTYPE_BYTES));
    assert_true(inferd_v2_classification_supported(INFERD_DTYPE_FP32));
    assert_true(inferd_v2_classification_supported(INFERD_DTYPE_UINT8));
    /* Over the element cap. */
    int64_t big[1] = {INFERD_V2_CLASSIFICATION_MAX_ELEMENTS + 1};
    inferd_tensor_t *t =
        inferd_tensor_create(INFERD_DTYPE_UINT8, big, 1, 0, INFERD_OWNER_REQUEST, NULL);
    expect_err_has(inferd_v2_classify("out", t, -1, 1, NULL, 0, &r, &err), &err, "limit");
    inferd_tensor_unref(t);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bool_tensors),
        cmocka_unit_test(unsigned_tensors),
        cmocka_unit_test(signed_tensors),
        cmocka_unit_test(float_tensors),
        cmocka_unit_test(half_tensors),
        cmocka_unit_test(bytes_tensors),
        cmocka_unit_test(rank0_and_empty),
        cmocka_unit_test(count_mismatch),
        cmocka_unit_test(huge_shapes_rejected_before_allocation),
        cmocka_unit_test(tensor_to_json_every_type),
        cmocka_unit_test(bytes_to_json_not_utf8),
        cmocka_unit_test(request_valid),
        cmocka_unit_test(request_top_level_errors),
        cmocka_unit_test(request_parameter_errors),
        cmocka_unit_test(request_input_errors),
        cmocka_unit_test(request_output_errors),
        cmocka_unit_test(header_length),
        cmocka_unit_test(layout_binary),
        cmocka_unit_test(binary_views),
        cmocka_unit_test(binary_size_errors),
        cmocka_unit_test(classify_fp32),
        cmocka_unit_test(classify_integers_and_doubles),
        cmocka_unit_test(classify_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
