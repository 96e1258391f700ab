/* Tests for src/core/buf.c: appends, formatted output past the small-buffer path, JSON
 * string escaping, and the failure flag that replaces per-append error checks. */
#include "test.h"

#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"

static void append_and_terminate(void **state)
{
    (void)state;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    inferd_buf_append(&b, "ab", 2);
    inferd_buf_append_str(&b, "cd");
    inferd_buf_append_char(&b, 'e');
    inferd_buf_append(&b, NULL, 0);
    assert_int_equal(b.len, 5);
    assert_string_equal(b.data, "abcde");
    assert_false(b.failed);
    inferd_buf_deinit(&b);
    assert_null(b.data);
}

static void append_grows_over_many_writes(void **state)
{
    (void)state;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    for (int i = 0; i < 10000; i++)
        inferd_buf_append_char(&b, (char)('a' + i % 26));
    assert_int_equal(b.len, 10000);
    assert_true(b.cap > b.len);
    for (int i = 0; i < 10000; i++)
        assert_int_equal(b.data[i], 'a' + i % 26);
    assert_int_equal(b.data[10000], '\0');
    inferd_buf_deinit(&b);
}

static void printf_small_and_large(void **state)
{
    (void)state;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_printf(&b, "%d-%s", 42, "x");
    assert_string_equal(b.data, "42-x");

    /* Longer than the 256-byte stack buffer, so it takes the second vsnprintf path. */
    char big[5001];
    memset(big, 'z', 5000);
    big[5000] = '\0';
    inferd_buf_printf(&b, "[%s]%d", big, 7);
    assert_int_equal(b.len, 4 + 1 + 5000 + 1 + 1);
    assert_memory_equal(b.data, "42-x[zzz", 8);
    assert_string_equal(b.data + 4 + 1 + 5000, "]7");
    assert_int_equal(strlen(b.data), b.len);

    /* Exactly 255 and 256 characters: the boundary of the stack buffer. */
    inferd_buf_reset(&b);
    big[255] = '\0';
    inferd_buf_printf(&b, "%s", big);
    assert_int_equal(b.len, 255);
    big[255] = 'z';
    big[256] = '\0';
    inferd_buf_reset(&b);
    inferd_buf_printf(&b, "%s", big);
    assert_int_equal(b.len, 256);
    assert_int_equal(strlen(b.data), 256);
    inferd_buf_deinit(&b);
}

static void check_json(const char *in, size_t n, const char *want)
{
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_append_json_str(&b, in, n);
    assert_false(b.failed);
    assert_int_equal(b.len, strlen(want));
    assert_string_equal(b.data, want);
    inferd_buf_deinit(&b);
}

static void json_string_escaping(void **state)
{
    (void)state;
    check_json("", 0, "\"\"");
    check_json("plain", 5, "\"plain\"");
    check_json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
    check_json("\n\r\t", 3, "\"\\n\\r\\t\"");
    check_json("\x01\x1f\b\f", 4, "\"\\u0001\\u001f\\u0008\\u000c\"");
    /* An embedded NUL is data, not the end of the string. */
    check_json("a\0b", 3, "\"a\\u0000b\"");
    /* UTF-8, DEL and '/' pass through unchanged. */
    check_json("\xc3\xa9\x7f/", 4, "\"\xc3\xa9\x7f/\"");
    /* Escapes at both ends of a run. */
    check_json("\"x\"", 3, "\"\\\"x\\\"\"");
}

static void limit_sets_failed_and_drops_writes(void **state)
{
    (void)state;
    inferd_buf_t b;
    inferd_buf_init(&b, 8);
    inferd_buf_append_str(&b, "12345678"); /* exactly at the limit */
    assert_false(b.failed);
    assert_int_equal(b.len, 8);
    inferd_buf_append_char(&b, '9');
    assert_true(b.failed);
    assert_int_equal(b.len, 8);
    /* Once failed, even a write that would fit is dropped: the caller checks at the end. */
    inferd_buf_append(&b, "", 0);
    inferd_buf_printf(&b, "%d", 1);
    assert_int_equal(b.len, 8);
    assert_string_equal(b.data, "12345678");
    assert_false(inferd_buf_reserve(&b, 0));

    /* reset clears the flag and keeps the limit. */
    inferd_buf_reset(&b);
    assert_false(b.failed);
    assert_int_equal(b.len, 0);
    assert_string_equal(b.data, "");
    inferd_buf_printf(&b, "%s", "123456789");
    assert_true(b.failed);
    assert_int_equal(b.len, 0);
    inferd_buf_deinit(&b);
}

static void limit_applies_to_large_printf(void **state)
{
    (void)state;
    inferd_buf_t b;
    inferd_buf_init(&b, 300);
    char big[400];
    memset(big, 'y', 399);
    big[399] = '\0';
    inferd_buf_printf(&b, "%s", big);
    assert_true(b.failed);
    assert_int_equal(b.len, 0);
    inferd_buf_deinit(&b);

    inferd_buf_init(&b, 4);
    inferd_buf_append_json_str(&b, "abcdef", 6);
    assert_true(b.failed);
    assert_true(b.len <= 4);
    inferd_buf_deinit(&b);
}

static void reserve_overflow_fails(void **state)
{
    (void)state;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_append_str(&b, "x");
    assert_false(inferd_buf_reserve(&b, SIZE_MAX));
    assert_true(b.failed);
    assert_int_equal(b.len, 1);
    inferd_buf_deinit(&b);

    inferd_buf_init(&b, 0);
    assert_true(inferd_buf_reserve(&b, 1000));
    assert_true(b.cap >= 1001);
    assert_int_equal(b.len, 0);
    inferd_buf_deinit(&b);
}

static void steal_takes_data(void **state)
{
    (void)state;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_append_str(&b, "hello");
    size_t len = 0;
    char *p = inferd_buf_steal(&b, &len);
    assert_int_equal(len, 5);
    assert_string_equal(p, "hello");
    assert_null(b.data);
    assert_int_equal(b.len, 0);
    inferd_free(p);

    /* An empty buffer still yields a valid empty string. */
    p = inferd_buf_steal(&b, &len);
    assert_non_null(p);
    assert_int_equal(len, 0);
    assert_string_equal(p, "");
    inferd_free(p);
    p = inferd_buf_steal(&b, NULL);
    inferd_free(p);
    inferd_buf_deinit(&b);
}

static void reset_on_empty_buffer(void **state)
{
    (void)state;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_reset(&b);
    assert_int_equal(b.len, 0);
    inferd_buf_deinit(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(append_and_terminate),
        cmocka_unit_test(append_grows_over_many_writes),
        cmocka_unit_test(printf_small_and_large),
        cmocka_unit_test(json_string_escaping),
        cmocka_unit_test(limit_sets_failed_and_drops_writes),
        cmocka_unit_test(limit_applies_to_large_printf),
        cmocka_unit_test(reserve_overflow_fails),
        cmocka_unit_test(steal_takes_data),
        cmocka_unit_test(reset_on_empty_buffer),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
