/* Unit tests for core/json.c: the grammar (accepted documents and each class of error with
 * its byte offset), the limits, NaN/Infinity tokens, exact integer conversion at the int64 and
 * uint64 edges, float/double conversion against strtod/strtof, strings (escapes, surrogate
 * pairs, UTF-8 validation), duplicate keys, and shortest round-trip number printing. */
#include "test.h"

#include <float.h>
#include <locale.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"

/* ------------------------------------------------------------------------------------ */
/* Helpers                                                                              */

static inferd_json_doc_t *parse_n(const char *text, size_t len)
{
    inferd_json_doc_t *doc = NULL;
    inferd_err_t err = {0};
    inferd_status_t st = inferd_json_parse(text, len, NULL, &doc, &err);
    if (st != INFERD_OK)
        fail_msg("parse of '%.*s' failed: %s", (int)len, text, err.msg);
    assert_non_null(doc);
    return doc;
}

static inferd_json_doc_t *parse(const char *text)
{
    return parse_n(text, strlen(text));
}

/* Expects the parse to fail with code and a message containing want (and, for syntax
 * errors, "offset N"). */
static void expect_error_n(const char *text, size_t len, const inferd_json_limits_t *lim,
                           inferd_status_t code, long offset, const char *want)
{
    inferd_json_doc_t *doc = (inferd_json_doc_t *)0x1;
    inferd_err_t err = {0};
    inferd_status_t st = inferd_json_parse(text, len, lim, &doc, &err);
    if (st != code)
        fail_msg("'%.*s': got status %d (%s), want %d", (int)len, text, st, err.msg, code);
    assert_null(doc);
    assert_int_equal(err.code, code);
    if (offset >= 0) {
        char off[64];
        snprintf(off, sizeof(off), "offset %ld", offset);
        const char *at = strstr(err.msg, off);
        if (!at || (at[strlen(off)] >= '0' && at[strlen(off)] <= '9'))
            fail_msg("'%.*s': message '%s' lacks '%s'", (int)len, text, err.msg, off);
    }
    if (want && !strstr(err.msg, want))
        fail_msg("'%.*s': message '%s' lacks '%s'", (int)len, text, err.msg, want);
}

static void expect_error(const char *text, long offset, const char *want)
{
    expect_error_n(text, strlen(text), NULL, INFERD_E_INVALID_ARG, offset, want);
}

static const inferd_json_t *number_node(inferd_json_doc_t *doc)
{
    const inferd_json_t *n = inferd_json_root(doc);
    assert_int_equal(n->type, INFERD_JSON_NUMBER);
    return n;
}

static bool text_to_int64(const char *text, int64_t *out)
{
    inferd_json_doc_t *doc = parse(text);
    bool ok = inferd_json_to_int64(number_node(doc), out);
    inferd_json_doc_destroy(doc);
    return ok;
}

static bool text_to_uint64(const char *text, uint64_t *out)
{
    inferd_json_doc_t *doc = parse(text);
    bool ok = inferd_json_to_uint64(number_node(doc), out);
    inferd_json_doc_destroy(doc);
    return ok;
}

static double text_to_double(const char *text)
{
    inferd_json_doc_t *doc = parse(text);
    double v = 0;
    assert_true(inferd_json_to_double(number_node(doc), &v));
    inferd_json_doc_destroy(doc);
    return v;
}

static float text_to_float(const char *text)
{
    inferd_json_doc_t *doc = parse(text);
    float v = 0;
    assert_true(inferd_json_to_float(number_node(doc), &v));
    inferd_json_doc_destroy(doc);
    return v;
}

static bool same_float(float a, float b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

static bool same_double(double a, double b)
{
    return memcmp(&a, &b, sizeof(a)) == 0;
}

/* ------------------------------------------------------------------------------------ */
/* Grammar                                                                              */

static void valid_documents(void **state)
{
    (void)state;
    inferd_json_doc_t *doc = parse(" { \"a\" : [1, -2.5e3, true, false, null, \"x\", {}, []],"
                                   "\t\"b\":{\"c\":\"d\"} }\r\n");
    const inferd_json_t *root = inferd_json_root(doc);
    assert_int_equal(root->type, INFERD_JSON_OBJECT);
    assert_int_equal(root->u.object.count, 2);
    assert_string_equal(root->u.object.members[0].key, "a");
    assert_string_equal(root->u.object.members[1].key, "b");
    const inferd_json_t *a = inferd_json_get(root, "a");
    assert_non_null(a);
    assert_int_equal(a->type, INFERD_JSON_ARRAY);
    assert_int_equal(a->u.array.count, 8);
    assert_int_equal(a->u.array.items[0]->type, INFERD_JSON_NUMBER);
    assert_int_equal(a->u.array.items[1]->u.number.len, 6);
    assert_memory_equal(a->u.array.items[1]->u.number.text, "-2.5e3", 6);
    assert_true(a->u.array.items[2]->u.boolean);
    assert_false(a->u.array.items[3]->u.boolean);
    assert_int_equal(a->u.array.items[4]->type, INFERD_JSON_NULL);
    assert_string_equal(a->u.array.items[5]->u.string.ptr, "x");
    assert_int_equal(a->u.array.items[6]->type, INFERD_JSON_OBJECT);
    assert_int_equal(a->u.array.items[6]->u.object.count, 0);
    assert_int_equal(a->u.array.items[7]->type, INFERD_JSON_ARRAY);
    assert_int_equal(a->u.array.items[7]->u.array.count, 0);
    const inferd_json_t *c = inferd_json_get(inferd_json_get(root, "b"), "c");
    assert_string_equal(c->u.string.ptr, "d");
    assert_null(inferd_json_get(root, "zz"));
    assert_null(inferd_json_get(a, "a")); /* not an object */
    assert_null(inferd_json_get(NULL, "a"));
    inferd_json_doc_destroy(doc);

    /* Scalars at the top level. */
    const char *scalars[] = {"0",     "-0",   "1.5", "1E+2",     "1e-2",      "\"\"", "true",
                             "false", "null", "NaN", "Infinity", "-Infinity", " 7 "};
    for (size_t i = 0; i < sizeof(scalars) / sizeof(scalars[0]); i++)
        inferd_json_doc_destroy(parse(scalars[i]));

    /* The lexeme is kept verbatim. */
    doc = parse("[123456789012345678901234567890, 0.000]");
    const inferd_json_t *big = inferd_json_root(doc)->u.array.items[0];
    assert_int_equal(big->u.number.len, 30);
    assert_memory_equal(big->u.number.text, "123456789012345678901234567890", 30);
    inferd_json_doc_destroy(doc);

    /* The input is copied: the tree does not depend on the caller's buffer. */
    char *text = strdup("{\"k\": [1, \"s\"]}");
    doc = parse(text);
    memset(text, 'x', strlen(text));
    free(text);
    const inferd_json_t *k = inferd_json_get(inferd_json_root(doc), "k");
    assert_memory_equal(k->u.array.items[0]->u.number.text, "1", 1);
    assert_string_equal(k->u.array.items[1]->u.string.ptr, "s");
    inferd_json_doc_destroy(doc);

    inferd_json_doc_destroy(NULL);
    assert_null(inferd_json_root(NULL));
}

static void syntax_errors_with_offsets(void **state)
{
    (void)state;
    expect_error("", 0, "unexpected end of input");
    expect_error("   ", 3, "unexpected end of input");
    expect_error("[1,]", 3, "unexpected character ']'");
    expect_error("[1 2]", 3, "expected ',' or ']'");
    expect_error("[1", 2, "unexpected end of input");
    expect_error("{\"a\" 1}", 5, "expected ':'");
    expect_error("{\"a\":1,}", 7, "expected a string key");
    expect_error("{1:2}", 1, "expected a string key");
    expect_error("{\"a\":1 \"b\":2}", 7, "expected ',' or '}'");
    expect_error("{'a':1}", 1, "expected a string key");
    expect_error("01", 1, "leading zero");
    expect_error("[-01]", 3, "leading zero");
    expect_error("1.", 2, "digit after '.'");
    expect_error("1.e5", 2, "digit after '.'");
    expect_error("1e", 2, "exponent");
    expect_error("1e+", 3, "exponent");
    expect_error("-", 1, "invalid number");
    expect_error("-a", 1, "invalid number");
    expect_error("+1", 0, "unexpected character '+'");
    expect_error(".5", 0, "unexpected character '.'");
    expect_error("0x10", 1, "unexpected data after");
    expect_error("tru", 0, "unexpected character 't'");
    expect_error("nul", 0, "unexpected character 'n'");
    expect_error("True", 0, "unexpected character 'T'");
    expect_error("truex", 4, "unexpected data after");
    expect_error("-NaN", 1, "invalid number");
    expect_error("nan", 0, "unexpected character 'n'");
    expect_error("-Inf", 1, "invalid number");
    expect_error("1 2", 2, "unexpected data after");
    expect_error("[1]x", 3, "unexpected data after");
    expect_error_n("[1]\0", 4, NULL, INFERD_E_INVALID_ARG, 3, "unexpected data after");
    expect_error_n("[\0]", 3, NULL, INFERD_E_INVALID_ARG, 1, "unexpected byte 0x00");
    expect_error("\xef\xbb\xbf[]", 0, "unexpected byte 0xef"); /* no BOM */
    expect_error("[1,\x01]", 3, "unexpected byte 0x01");
    expect_error("\f1", 0, "unexpected byte 0x0c"); /* only the four JSON whitespace bytes */
}

static void string_errors_with_offsets(void **state)
{
    (void)state;
    expect_error("\"abc", 4, "unexpected end of input in a string");
    expect_error("[\"a\\", 4, "unexpected end of input in a string");
    expect_error("\"a\x01\"", 2, "unescaped control character");
    expect_error("\"a\nb\"", 2, "unescaped control character");
    expect_error("\"a\tb\"", 2, "unescaped control character");
    expect_error("\"\\x\"", 1, "invalid escape");
    expect_error("\"\\'\"", 1, "invalid escape");
    expect_error("\"\\u12\"", 1, "invalid \\u escape");
    expect_error("\"\\u12G4\"", 1, "invalid \\u escape");
    expect_error("\"ab\\ud800\"", 3, "unpaired high surrogate");
    expect_error("\"\\ud800\\u0041\"", 1, "unpaired high surrogate");
    expect_error("\"\\ud800\\ud800\"", 1, "unpaired high surrogate");
    expect_error("\"\\udc00\"", 1, "unpaired low surrogate");
    expect_error("\"\\udfff\\ud800\"", 1, "unpaired low surrogate");
    /* Invalid UTF-8: stray continuation, bad lead, overlong, surrogate, above U+10FFFF,
     * truncated sequences. */
    expect_error("\"\x80\"", 1, "invalid UTF-8");
    expect_error("\"ab\xff\"", 3, "invalid UTF-8");
    expect_error("\"\xc0\x80\"", 1, "invalid UTF-8");
    expect_error("\"\xc1\xbf\"", 1, "invalid UTF-8");
    expect_error("\"\xe0\x80\x80\"", 1, "invalid UTF-8");
    expect_error("\"\xed\xa0\x80\"", 1, "invalid UTF-8");
    expect_error("\"\xf0\x80\x80\x80\"", 1, "invalid UTF-8");
    expect_error("\"\xf4\x90\x80\x80\"", 1, "invalid UTF-8");
    expect_error("\"\xf5\x80\x80\x80\"", 1, "invalid UTF-8");
    expect_error("\"\xe2\x82\"", 1, "invalid UTF-8");
    expect_error("\"\xe2\x82", 1, "invalid UTF-8");
    expect_error("\"x\xc3", 2, "invalid UTF-8");
    expect_error("\"\xf0\x9f\x98\"", 1, "invalid UTF-8");
    expect_error("{\"k\xff\":1}", 3, "invalid UTF-8"); /* keys too */
}

static void strings_unescaped(void **state)
{
    (void)state;
    inferd_json_doc_t *doc =
        parse("[\"\\\"\\\\\\/\\b\\f\\n\\r\\t\", \"\\u00e9\\u20AC\", \"\\ud83d\\ude00!\", "
              "\"a\\u0000b\", \"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f\", \"\"]");
    inferd_json_t **it = inferd_json_root(doc)->u.array.items;
    assert_int_equal(it[0]->u.string.len, 8);
    assert_memory_equal(it[0]->u.string.ptr, "\"\\/\b\f\n\r\t", 9); /* with the NUL */
    assert_string_equal(it[1]->u.string.ptr, "\xc3\xa9\xe2\x82\xac");
    assert_string_equal(it[2]->u.string.ptr, "\xf0\x9f\x98\x80!");
    assert_int_equal(it[3]->u.string.len, 3);
    assert_memory_equal(it[3]->u.string.ptr, "a\0b\0", 4);
    assert_string_equal(it[4]->u.string.ptr, "\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80\x7f");
    assert_int_equal(it[5]->u.string.len, 0);
    assert_string_equal(it[5]->u.string.ptr, "");
    inferd_json_doc_destroy(doc);

    /* Escaped keys are unescaped and compared after unescaping. */
    doc = parse("{\"\\u0061b\": 1}");
    assert_non_null(inferd_json_get(inferd_json_root(doc), "ab"));
    inferd_json_doc_destroy(doc);
    expect_error("{\"ab\":1, \"\\u0061b\":2}", 9, "duplicate key 'ab'");

    /* Highest code point and a long string with an escape at the end. */
    doc = parse("\"\\udbff\\udfff\"");
    assert_string_equal(inferd_json_root(doc)->u.string.ptr, "\xf4\x8f\xbf\xbf");
    inferd_json_doc_destroy(doc);
    size_t n = 100000;
    char *s = malloc(n + 16);
    s[0] = '"';
    memset(s + 1, 'q', n);
    memcpy(s + 1 + n, "\\n\"", 4);
    doc = parse(s);
    assert_int_equal(inferd_json_root(doc)->u.string.len, n + 1);
    assert_int_equal(inferd_json_root(doc)->u.string.ptr[n], '\n');
    inferd_json_doc_destroy(doc);
    free(s);
}

static void duplicate_keys(void **state)
{
    (void)state;
    expect_error("{\"a\":1,\"a\":2}", 7, "duplicate key 'a'");
    expect_error("{\"a\":1,\"b\":{\"x\":1,\"x\":1}}", 18, "duplicate key 'x'");
    /* Keys may repeat in different objects. */
    inferd_json_doc_destroy(parse("[{\"a\":1},{\"a\":2},{\"b\":{\"a\":3}}]"));

    /* A big object takes the sorting path; the first repeat in document order is named. */
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_append_char(&b, '{');
    for (int i = 0; i < 1000; i++)
        inferd_buf_printf(&b, "%s\"k%d\":%d", i ? "," : "", i, i);
    inferd_buf_append_char(&b, '}');
    inferd_json_doc_t *doc = parse_n(b.data, b.len);
    assert_int_equal(inferd_json_root(doc)->u.object.count, 1000);
    assert_int_equal(inferd_json_get(inferd_json_root(doc), "k999")->u.number.len, 3);
    inferd_json_doc_destroy(doc);
    size_t off = b.len - 1;
    inferd_buf_printf(&b, ",\"k5\":1,\"k7\":1}");
    b.data[off] = ' ';
    char want[32];
    snprintf(want, sizeof(want), "offset %zu:", off + 2);
    expect_error_n(b.data, b.len, NULL, INFERD_E_INVALID_ARG, -1, want);
    expect_error_n(b.data, b.len, NULL, INFERD_E_INVALID_ARG, -1, "duplicate key 'k5'");
    inferd_buf_deinit(&b);
}

/* ------------------------------------------------------------------------------------ */
/* Limits                                                                               */

static char *nested(size_t depth)
{
    char *s = malloc(2 * depth + 1);
    memset(s, '[', depth);
    memset(s + depth, ']', depth);
    s[2 * depth] = '\0';
    return s;
}

static void depth_limit(void **state)
{
    (void)state;
    char *ok = nested(100);
    inferd_json_doc_destroy(parse(ok));
    free(ok);
    char *deep = nested(101);
    expect_error_n(deep, strlen(deep), NULL, INFERD_E_INVALID_ARG, -1, "deeper than 100");
    expect_error_n(deep, strlen(deep), NULL, INFERD_E_INVALID_ARG, -1, "max_depth");
    expect_error_n(deep, strlen(deep), NULL, INFERD_E_INVALID_ARG, 100, NULL);
    free(deep);

    inferd_json_limits_t lim = {.max_depth = 2, .max_nodes = 100};
    inferd_json_doc_t *doc = NULL;
    assert_int_equal(inferd_json_parse("{\"a\":[1]}", 9, &lim, &doc, NULL), INFERD_OK);
    inferd_json_doc_destroy(doc);
    expect_error_n("{\"a\":[{}]}", 10, &lim, INFERD_E_INVALID_ARG, 6, "deeper than 2");
    lim.max_depth = 0;
    assert_int_equal(inferd_json_parse("5", 1, &lim, &doc, NULL), INFERD_OK);
    inferd_json_doc_destroy(doc);
    expect_error_n("[]", 2, &lim, INFERD_E_INVALID_ARG, 0, "deeper than 0");

    /* Very deep input is refused quickly and without recursion. */
    char *huge = nested(1000000);
    expect_error_n(huge, strlen(huge), NULL, INFERD_E_INVALID_ARG, 100, "max_depth");
    free(huge);
}

static void node_limit(void **state)
{
    (void)state;
    inferd_json_limits_t lim = {.max_depth = 10, .max_nodes = 4};
    inferd_json_doc_t *doc = NULL;
    assert_int_equal(inferd_json_parse("[1,2,3]", 7, &lim, &doc, NULL), INFERD_OK);
    inferd_json_doc_destroy(doc);
    expect_error_n("[1,2,3,4]", 9, &lim, INFERD_E_TOO_LARGE, 7, "more than 4 values");
    expect_error_n("[1,2,3,4]", 9, &lim, INFERD_E_TOO_LARGE, -1, "max_nodes");
    expect_error_n("{\"a\":{\"b\":{\"c\":1}},\"d\":2}", 25, &lim, INFERD_E_TOO_LARGE, -1,
                   "max_nodes");
    assert_int_equal(inferd_json_default_limits.max_depth, 100);
    assert_int_equal(inferd_json_default_limits.max_nodes, (size_t)64 << 20);
}

static void doc_alloc_zeroed_and_aligned(void **state)
{
    (void)state;
    inferd_json_doc_t *doc = parse("[1]");
    for (int i = 0; i < 100; i++) {
        size_t n = (size_t)(i * 37 % 1000) + 1;
        unsigned char *p = inferd_json_doc_alloc(doc, n);
        assert_non_null(p);
        assert_int_equal((uintptr_t)p % _Alignof(max_align_t), 0);
        for (size_t j = 0; j < n; j++)
            assert_int_equal(p[j], 0);
        memset(p, 0xab, n);
    }
    /* Bigger than any chunk. */
    unsigned char *big = inferd_json_doc_alloc(doc, (size_t)100 << 20);
    assert_non_null(big);
    assert_int_equal(big[0] | big[((size_t)100 << 20) - 1], 0);
    inferd_json_doc_destroy(doc);
}

/* ------------------------------------------------------------------------------------ */
/* Numbers                                                                              */

static void nan_and_infinity_tokens(void **state)
{
    (void)state;
    inferd_json_doc_t *doc = parse("[NaN, Infinity, -Infinity]");
    inferd_json_t **it = inferd_json_root(doc)->u.array.items;
    double d;
    float f;
    int64_t i;
    uint64_t u;
    for (int k = 0; k < 3; k++)
        assert_int_equal(it[k]->type, INFERD_JSON_NUMBER);
    assert_memory_equal(it[2]->u.number.text, "-Infinity", 9);
    assert_true(inferd_json_to_double(it[0], &d));
    assert_true(isnan(d));
    assert_true(inferd_json_to_double(it[1], &d));
    assert_true(isinf(d) && d > 0);
    assert_true(inferd_json_to_double(it[2], &d));
    assert_true(isinf(d) && d < 0);
    assert_true(inferd_json_to_float(it[0], &f));
    assert_true(isnan(f));
    assert_true(inferd_json_to_float(it[2], &f));
    assert_true(isinf(f) && f < 0);
    for (int k = 0; k < 3; k++) {
        assert_false(inferd_json_to_int64(it[k], &i));
        assert_false(inferd_json_to_uint64(it[k], &u));
    }
    inferd_json_doc_destroy(doc);
}

static void int64_edges(void **state)
{
    (void)state;
    int64_t v;
    assert_true(text_to_int64("9223372036854775807", &v));
    assert_true(v == INT64_MAX);
    assert_true(text_to_int64("-9223372036854775808", &v));
    assert_true(v == INT64_MIN);
    assert_false(text_to_int64("9223372036854775808", &v));
    assert_false(text_to_int64("-9223372036854775809", &v));
    assert_false(text_to_int64("18446744073709551616", &v));
    assert_false(text_to_int64("100000000000000000000000", &v));
    /* 2^53 + 1 must not pass through a double. */
    assert_true(text_to_int64("9007199254740993", &v));
    assert_true(v == 9007199254740993LL);
    assert_true(text_to_int64("-9007199254740993", &v));
    assert_true(v == -9007199254740993LL);
    /* Exponent and fraction forms that are integers. */
    assert_true(text_to_int64("1e3", &v));
    assert_int_equal(v, 1000);
    assert_true(text_to_int64("2.0", &v));
    assert_int_equal(v, 2);
    assert_true(text_to_int64("-0", &v));
    assert_int_equal(v, 0);
    assert_true(text_to_int64("-0.0e5", &v));
    assert_int_equal(v, 0);
    assert_true(text_to_int64("1E+2", &v));
    assert_int_equal(v, 100);
    assert_true(text_to_int64("100e-2", &v));
    assert_int_equal(v, 1);
    assert_true(text_to_int64("0.0001e4", &v));
    assert_int_equal(v, 1);
    assert_true(text_to_int64("12.340e2", &v));
    assert_int_equal(v, 1234);
    assert_true(text_to_int64("9.223372036854775807e18", &v));
    assert_true(v == INT64_MAX);
    assert_true(text_to_int64("-922337203685477580.8e1", &v));
    assert_true(v == INT64_MIN);
    assert_true(text_to_int64("0e999999999999999999999", &v));
    assert_int_equal(v, 0);
    /* Not integers. */
    assert_false(text_to_int64("2.5", &v));
    assert_false(text_to_int64("1e-1", &v));
    assert_false(text_to_int64("123e-3", &v));
    assert_false(text_to_int64("1e19", &v));
    assert_false(text_to_int64("1e400", &v));
    assert_false(text_to_int64("1e-99999999999999999999", &v));
    assert_false(text_to_int64("9223372036854775807.5", &v));
    /* Non-numbers. */
    inferd_json_doc_t *doc = parse("[\"1\", true, null]");
    for (int k = 0; k < 3; k++)
        assert_false(inferd_json_to_int64(inferd_json_root(doc)->u.array.items[k], &v));
    inferd_json_doc_destroy(doc);
    assert_false(inferd_json_to_int64(NULL, &v));
}

static void uint64_edges(void **state)
{
    (void)state;
    uint64_t v;
    assert_true(text_to_uint64("18446744073709551615", &v));
    assert_true(v == UINT64_MAX);
    assert_false(text_to_uint64("18446744073709551616", &v));
    assert_false(text_to_uint64("99999999999999999999", &v));
    assert_true(text_to_uint64("1.8446744073709551615e19", &v));
    assert_true(v == UINT64_MAX);
    assert_false(text_to_uint64("1.8446744073709551616e19", &v));
    assert_true(text_to_uint64("9223372036854775808", &v));
    assert_true(v == (uint64_t)INT64_MAX + 1);
    assert_true(text_to_uint64("0", &v));
    assert_true(v == 0);
    assert_true(text_to_uint64("-0", &v));
    assert_true(v == 0);
    assert_false(text_to_uint64("-1", &v));
    assert_false(text_to_uint64("-1e0", &v));
    assert_true(text_to_uint64("1e19", &v));
    assert_true(v == 10000000000000000000ULL);
    assert_false(text_to_uint64("1e20", &v));
    assert_false(text_to_uint64("0.5", &v));
    assert_true(text_to_uint64("0.0000000000000000000000001e25", &v));
    assert_true(v == 1);
}

static void double_conversion(void **state)
{
    (void)state;
    assert_true(text_to_double("0.1") == 0.1);
    assert_true(same_double(text_to_double("-0"), -0.0));
    assert_true(same_double(text_to_double("-0.0e10"), -0.0));
    assert_true(text_to_double("1e308") == 1e308);
    assert_true(isinf(text_to_double("1e309")));
    assert_true(text_to_double("4.9e-324") == 4.9e-324);
    assert_true(text_to_double("1e-400") == 0);
    assert_true(text_to_double("2.2250738585072014e-308") == DBL_MIN);
    assert_true(text_to_double("1.7976931348623157e308") == DBL_MAX);
    assert_true(text_to_double("9007199254740993") == 9007199254740992.0);
    assert_true(text_to_double("0.1000000000000000055511151231257827") == 0.1);
    assert_true(text_to_double("123456789012345678901234567890") == 1.2345678901234568e29);
    /* Halfway between 1 and the next double, plus a tiny bit: rounds up. */
    assert_true(text_to_double("1.00000000000000011102230246251565404236316680908203125001") ==
                nextafter(1.0, 2.0));
    assert_true(text_to_double("1.00000000000000011102230246251565404236316680908203125") == 1.0);

    /* Against strtod over random decimal texts: the fast path must agree exactly. */
    srand(12345);
    char text[64];
    for (int i = 0; i < 200000; i++) {
        int nd = 1 + rand() % 19;
        int n = 0;
        if (rand() & 1)
            text[n++] = '-';
        int dot = rand() % (nd + 1);
        for (int k = 0; k < nd; k++) {
            if (k == dot && k > 0)
                text[n++] = '.';
            text[n++] = (char)('0' + (k == 0 ? 1 + rand() % 9 : rand() % 10));
        }
        n += snprintf(text + n, sizeof(text) - (size_t)n, "e%d", rand() % 80 - 40);
        text[n] = '\0';
        double want = strtod(text, NULL);
        double got = text_to_double(text);
        if (!same_double(got, want))
            fail_msg("%s: got %.17g want %.17g", text, got, want);
    }
}

static void float_conversion(void **state)
{
    (void)state;
    assert_true(text_to_float("0.1") == 0.1f);
    assert_true(same_float(text_to_float("-0"), -0.0f));
    assert_true(text_to_float("3.4028235e38") == FLT_MAX);
    assert_true(text_to_float("3.4028235677973366e38") == FLT_MAX); /* just below the cut */
    assert_true(isinf(text_to_float("3.4028235677973367e38")));
    assert_true(isinf(text_to_float("1e39")));
    assert_true(text_to_float("1.17549435e-38") == FLT_MIN);
    assert_true(text_to_float("1.4e-45") == 0x1p-149f);
    assert_true(text_to_float("1e-46") == 0.0f);
    assert_true(text_to_float("16777217") == 16777216.0f);
    /* Double rounding trap: just above the midpoint between 1 and 1 + 2^-23. As a double this
     * rounds to the midpoint, which would then round to even (1.0); the right answer is up. */
    assert_true(text_to_float("1.00000005960464477539062500000001") == nextafterf(1.0f, 2.0f));
    assert_true(text_to_float("1.000000059604644775390625") == 1.0f); /* exact tie: even */
    /* The 17-digit text of the midpoint above 1 + 2^-23 lies just below it. */
    assert_true(text_to_float("1.0000001788139343") == 1.0f + 0x1p-23f);
    assert_true(text_to_float("1.0000001788139344") == 1.0f + 0x1p-22f);

    /* Against strtof over random decimals, including the 17-digit forms that Python clients
     * send for float32 values widened to double. */
    srand(54321);
    char text[64];
    for (int i = 0; i < 200000; i++) {
        int n;
        if (i % 2) {
            uint32_t bits = (uint32_t)rand() << 16 ^ (uint32_t)rand();
            float f;
            memcpy(&f, &bits, 4);
            if (!isfinite(f))
                continue;
            n = snprintf(text, sizeof(text), "%.*g", 6 + i % 12, (double)f);
        } else {
            int nd = 1 + rand() % 22;
            n = 0;
            for (int k = 0; k < nd; k++)
                text[n++] = (char)('0' + (k == 0 ? 1 + rand() % 9 : rand() % 10));
            n += snprintf(text + n, sizeof(text) - (size_t)n, "e%d", rand() % 90 - 60);
        }
        (void)n;
        float want = strtof(text, NULL);
        float got = text_to_float(text);
        if (!same_float(got, want))
            fail_msg("%s: got %.9g want %.9g", text, (double)got, (double)want);
    }
}

static void numbers_ignore_locale(void **state)
{
    (void)state;
    const char *locs[] = {"de_DE.UTF-8", "de_DE.utf8", "fr_FR.UTF-8", "ru_RU.UTF-8"};
    const char *set = NULL;
    for (size_t i = 0; i < sizeof(locs) / sizeof(locs[0]) && !set; i++)
        set = setlocale(LC_NUMERIC, locs[i]);
    if (!set) {
        skip(); /* no decimal-comma locale installed */
        return;
    }
    assert_true(text_to_double("1.2345678901234567890123") == 1.2345678901234568);
    assert_true(text_to_float("1.2345678901234567890123") == 1.2345679f);
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_json_write_double(&b, 0.3);
    inferd_buf_append_char(&b, ' ');
    inferd_json_write_float(&b, 1e-30f);
    assert_string_equal(b.data, "0.3 1e-30");
    inferd_buf_deinit(&b);
    setlocale(LC_NUMERIC, "C");
}

/* ------------------------------------------------------------------------------------ */
/* Printing                                                                             */

static const char *write_f(inferd_buf_t *b, float v)
{
    inferd_buf_reset(b);
    inferd_json_write_float(b, v);
    assert_false(b->failed);
    return b->data;
}

static const char *write_d(inferd_buf_t *b, double v)
{
    inferd_buf_reset(b);
    inferd_json_write_double(b, v);
    assert_false(b->failed);
    return b->data;
}

/* Significant digits in a number text (leading and trailing zeros excluded). */
static int sig_digits(const char *s)
{
    char dig[64];
    int n = 0;
    for (; *s && *s != 'e'; s++)
        if (*s >= '0' && *s <= '9')
            dig[n++] = *s;
    int a = 0;
    while (a < n && dig[a] == '0')
        a++;
    while (n > a && dig[n - 1] == '0')
        n--;
    return n > a ? n - a : 1;
}

/* The fewest %.{p}g digits that read back, as the reference for "shortest". */
static int reference_digits(double v, bool is_float)
{
    char t[64];
    for (int p = 1; p <= 17; p++) {
        snprintf(t, sizeof(t), "%.*g", p, v);
        if (is_float ? strtof(t, NULL) == (float)v : strtod(t, NULL) == v)
            return p;
    }
    return 17;
}

/* Checks that text is valid JSON reading back (through the parser) exactly as v, and no
 * longer than the reference. */
static void check_float_text(const char *text, float v)
{
    inferd_json_doc_t *doc = NULL;
    inferd_err_t err;
    if (inferd_json_parse(text, strlen(text), NULL, &doc, &err) != INFERD_OK)
        fail_msg("float %a printed as invalid JSON '%s': %s", (double)v, text, err.msg);
    float back;
    assert_true(inferd_json_to_float(inferd_json_root(doc), &back));
    inferd_json_doc_destroy(doc);
    if (!same_float(back, v) && !(isnan(v) && isnan(back)))
        fail_msg("float %a printed as '%s' reads back as %a", (double)v, text, (double)back);
    if (isfinite(v) && v != 0 && sig_digits(text) > reference_digits(v, true))
        fail_msg("float %a printed as '%s': %d digits, %d suffice", (double)v, text,
                 sig_digits(text), reference_digits(v, true));
    if (strtof(text, NULL) != v && !isnan(v))
        fail_msg("strtof disagrees on '%s'", text);
}

static void check_double_text(const char *text, double v)
{
    inferd_json_doc_t *doc = NULL;
    inferd_err_t err;
    if (inferd_json_parse(text, strlen(text), NULL, &doc, &err) != INFERD_OK)
        fail_msg("double %a printed as invalid JSON '%s': %s", v, text, err.msg);
    double back;
    assert_true(inferd_json_to_double(inferd_json_root(doc), &back));
    inferd_json_doc_destroy(doc);
    if (!same_double(back, v) && !(isnan(v) && isnan(back)))
        fail_msg("double %a printed as '%s' reads back as %a", v, text, back);
    if (isfinite(v) && v != 0 && sig_digits(text) > reference_digits(v, false))
        fail_msg("double %a printed as '%s': %d digits, %d suffice", v, text, sig_digits(text),
                 reference_digits(v, false));
}

static void write_float_exact_texts(void **state)
{
    (void)state;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    assert_string_equal(write_f(&b, 0.1f), "0.1");
    assert_string_equal(write_f(&b, 1.0f), "1");
    assert_string_equal(write_f(&b, -2.5f), "-2.5");
    assert_string_equal(write_f(&b, 0.0f), "0");
    assert_string_equal(write_f(&b, -0.0f), "-0.0");
    assert_string_equal(write_f(&b, 100.0f), "100");
    assert_string_equal(write_f(&b, 1e10f), "10000000000");
    assert_string_equal(write_f(&b, 1e-7f), "0.0000001");
    assert_string_equal(write_f(&b, 1e-8f), "1e-8");
    assert_string_equal(write_f(&b, FLT_MAX), "3.4028235e38");
    assert_string_equal(write_f(&b, FLT_MIN), "1.1754944e-38");
    assert_string_equal(write_f(&b, 0x1p-149f), "1e-45");
    assert_string_equal(write_f(&b, 16777216.0f), "16777216");
    assert_string_equal(write_f(&b, 1.0f / 3.0f), "0.33333334");
    assert_string_equal(write_f(&b, NAN), "NaN");
    assert_string_equal(write_f(&b, INFINITY), "Infinity");
    assert_string_equal(write_f(&b, -INFINITY), "-Infinity");
    assert_string_equal(write_d(&b, 0.1), "0.1");
    assert_string_equal(write_d(&b, 1.0 / 3.0), "0.3333333333333333");
    assert_string_equal(write_d(&b, -0.0), "-0.0");
    assert_string_equal(write_d(&b, 9007199254740993.0), "9007199254740992");
    assert_string_equal(write_d(&b, 1e21), "1e21");
    assert_string_equal(write_d(&b, 123456789012.0), "123456789012");
    assert_string_equal(write_d(&b, DBL_MAX), "1.7976931348623157e308");
    assert_string_equal(write_d(&b, 4.9e-324), "5e-324");
    assert_string_equal(write_d(&b, NAN), "NaN");
    assert_string_equal(write_d(&b, -INFINITY), "-Infinity");
    /* Appends, does not overwrite. */
    inferd_buf_reset(&b);
    inferd_buf_append_char(&b, '[');
    inferd_json_write_float(&b, 1.5f);
    inferd_buf_append_char(&b, ',');
    inferd_json_write_double(&b, 2.25);
    inferd_buf_append_char(&b, ']');
    assert_string_equal(b.data, "[1.5,2.25]");
    inferd_buf_deinit(&b);
}

static void write_float_round_trips(void **state)
{
    (void)state;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    const float edges[] = {FLT_MIN,
                           -FLT_MIN,
                           FLT_MAX,
                           -FLT_MAX,
                           FLT_EPSILON,
                           0x1p-149f,
                           0x1.fffffcp-127f,
                           0x1p-127f,
                           0.1f,
                           -0.1f,
                           0.2f,
                           0.3f,
                           1.0f / 3,
                           2.0f / 3,
                           1e-10f,
                           1e10f,
                           123456.79f,
                           9.999999e-5f,
                           8388607.5f,
                           16777215.0f,
                           3.0e38f,
                           1e-38f,
                           0.5f,
                           4.2949673e9f,
                           1e22f,
                           1e23f,
                           9.99999e22f,
                           1e-22f,
                           1e-23f,
                           7.038531e-26f,
                           -0.0f,
                           0.0f,
                           NAN,
                           INFINITY,
                           -INFINITY};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        check_float_text(write_f(&b, edges[i]), edges[i]);
    /* Every power of two and its neighbours, then random bit patterns (all exponents). */
    for (int e = -149; e <= 127; e++) {
        float p = ldexpf(1.0f, e);
        check_float_text(write_f(&b, p), p);
        check_float_text(write_f(&b, nextafterf(p, 0)), nextafterf(p, 0));
        check_float_text(write_f(&b, nextafterf(p, INFINITY)), nextafterf(p, INFINITY));
    }
    for (int e = -45; e <= 38; e++) {
        char t[16];
        snprintf(t, sizeof(t), "1e%d", e);
        float p = strtof(t, NULL);
        check_float_text(write_f(&b, p), p);
    }
    /* Around every power of ten: the interval ends there are often short decimals. */
    for (int e = -44; e <= 38; e++) {
        char t[16];
        snprintf(t, sizeof(t), "1e%d", e);
        float p = strtof(t, NULL);
        for (int j = 0; j < 8; j++) {
            check_float_text(write_f(&b, p), p);
            check_float_text(write_f(&b, -p), -p);
            p = nextafterf(p, 0);
        }
        p = strtof(t, NULL);
        for (int j = 0; j < 8; j++) {
            p = nextafterf(p, INFINITY);
            if (isfinite(p))
                check_float_text(write_f(&b, p), p);
        }
    }
    /* Every integer float up to 2^17 and a few runs of consecutive floats. */
    for (int i = 1; i <= 1 << 17; i++)
        check_float_text(write_f(&b, (float)i), (float)i);
    float run[] = {1.0f, 0.001f, 123.456f, 1e7f, 8e9f, 3e-12f};
    for (size_t r = 0; r < sizeof(run) / sizeof(run[0]); r++) {
        float p = run[r];
        for (int j = 0; j < 20000; j++, p = nextafterf(p, INFINITY))
            check_float_text(write_f(&b, p), p);
    }
    srand(777);
    for (int i = 0; i < 300000; i++) {
        uint32_t bits = (uint32_t)rand() << 16 ^ (uint32_t)rand() ^ (uint32_t)rand() << 31;
        float f;
        memcpy(&f, &bits, 4);
        check_float_text(write_f(&b, f), f);
    }
    /* Typical activations: uniform in [-1, 1). */
    for (int i = 0; i < 100000; i++) {
        float f = (float)rand() / (float)RAND_MAX * 2.0f - 1.0f;
        check_float_text(write_f(&b, f), f);
    }
    inferd_buf_deinit(&b);
}

static void write_double_round_trips(void **state)
{
    (void)state;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    const double edges[] = {
        DBL_MIN, -DBL_MIN, DBL_MAX, DBL_EPSILON, 4.9e-324,           0x1p-1073,    0.1,
        0.2,     0.3,      1.0 / 3, 1e23,        9007199254740993.0, 1e15,         1e16,
        1e17,    123.456,  -1e-300, 5e-324,      (double)FLT_MAX,    (double)0.1f, -0.0,
        NAN,     INFINITY};
    for (size_t i = 0; i < sizeof(edges) / sizeof(edges[0]); i++)
        check_double_text(write_d(&b, edges[i]), edges[i]);
    srand(4242);
    for (int i = 0; i < 100000; i++) {
        uint64_t bits = (uint64_t)rand() << 42 ^ (uint64_t)rand() << 21 ^ (uint64_t)rand() ^
                        (uint64_t)(rand() & 3) << 62;
        double d;
        memcpy(&d, &bits, 8);
        check_double_text(write_d(&b, d), d);
        double u = (double)rand() / RAND_MAX * 2 - 1;
        check_double_text(write_d(&b, u), u);
        /* The exact fast range, [1e-10, 1e18), with full 53-bit mantissas. */
        uint64_t mant = ((uint64_t)rand() << 31 ^ (uint64_t)rand()) & ((1ull << 52) - 1);
        double r = ldexp(1.0 + ldexp((double)mant, -52), rand() % 95 - 34);
        check_double_text(write_d(&b, r), r);
    }
    for (int e = -12; e <= 19; e++) {
        char t[16];
        snprintf(t, sizeof(t), "1e%d", e);
        double p = strtod(t, NULL), q = p;
        for (int j = 0; j < 8; j++) {
            check_double_text(write_d(&b, p), p);
            check_double_text(write_d(&b, q), q);
            p = nextafter(p, 0);
            q = nextafter(q, INFINITY);
        }
    }
    for (int e = -40; e <= 62; e++) {
        double p = ldexp(1.0, e);
        check_double_text(write_d(&b, p), p);
        check_double_text(write_d(&b, nextafter(p, 0)), nextafter(p, 0));
        check_double_text(write_d(&b, nextafter(p, INFINITY)), nextafter(p, INFINITY));
    }
    for (int i = 1; i <= 100000; i++) {
        check_double_text(write_d(&b, i), i);
        check_double_text(write_d(&b, i / 1000.0), i / 1000.0);
    }
    inferd_buf_deinit(&b);
}

/* ------------------------------------------------------------------------------------ */
/* A big document                                                                       */

static void big_number_array(void **state)
{
    (void)state;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_append_char(&b, '[');
    const int n = 200000;
    for (int i = 0; i < n; i++) {
        if (i)
            inferd_buf_append_char(&b, ',');
        inferd_json_write_float(&b, (float)i * 0.37f - 1000.0f);
    }
    inferd_buf_append_char(&b, ']');
    inferd_json_doc_t *doc = parse_n(b.data, b.len);
    const inferd_json_t *root = inferd_json_root(doc);
    assert_int_equal(root->u.array.count, (size_t)n);
    for (int i = 0; i < n; i++) {
        float f;
        assert_true(inferd_json_to_float(root->u.array.items[i], &f));
        assert_true(f == (float)i * 0.37f - 1000.0f);
    }
    inferd_json_doc_destroy(doc);
    inferd_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(valid_documents),
        cmocka_unit_test(syntax_errors_with_offsets),
        cmocka_unit_test(string_errors_with_offsets),
        cmocka_unit_test(strings_unescaped),
        cmocka_unit_test(duplicate_keys),
        cmocka_unit_test(depth_limit),
        cmocka_unit_test(node_limit),
        cmocka_unit_test(doc_alloc_zeroed_and_aligned),
        cmocka_unit_test(nan_and_infinity_tokens),
        cmocka_unit_test(int64_edges),
        cmocka_unit_test(uint64_edges),
        cmocka_unit_test(double_conversion),
        cmocka_unit_test(float_conversion),
        cmocka_unit_test(numbers_ignore_locale),
        cmocka_unit_test(write_float_exact_texts),
        cmocka_unit_test(write_float_round_trips),
        cmocka_unit_test(write_double_round_trips),
        cmocka_unit_test(big_number_array),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
