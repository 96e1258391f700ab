/* Tests for src/core/status.c: the one table from status codes to HTTP statuses and names
 * that every front end relies on, and the error-message helpers. */
#include "test.h"

#include <stdio.h>
#include <string.h>

#include "inferd/status.h"

static const struct {
    inferd_status_t code;
    int http;
    const char *name;
} expected[] = {
    {INFERD_OK, 200, "OK"},
    {INFERD_E_INVALID_ARG, 400, "INVALID_ARG"},
    {INFERD_E_PERMISSION_DENIED, 403, "PERMISSION_DENIED"},
    {INFERD_E_NOT_FOUND, 404, "NOT_FOUND"},
    {INFERD_E_METHOD_NOT_ALLOWED, 405, "METHOD_NOT_ALLOWED"},
    {INFERD_E_ALREADY_EXISTS, 409, "ALREADY_EXISTS"},
    {INFERD_E_TOO_LARGE, 413, "TOO_LARGE"},
    {INFERD_E_RESOURCE_EXHAUSTED, 429, "RESOURCE_EXHAUSTED"},
    {INFERD_E_CANCELLED, 499, "CANCELLED"},
    {INFERD_E_INTERNAL, 500, "INTERNAL"},
    {INFERD_E_UNSUPPORTED, 501, "UNSUPPORTED"},
    {INFERD_E_UNAVAILABLE, 503, "UNAVAILABLE"},
    {INFERD_E_DEADLINE_EXCEEDED, 504, "DEADLINE_EXCEEDED"},
    {INFERD_E_BAD_GATEWAY, 502, "BAD_GATEWAY"},
};

static void every_code_maps_to_http_and_name(void **state)
{
    (void)state;
    /* The table must cover every code, so a new code cannot be added silently. */
    assert_int_equal(sizeof(expected) / sizeof(expected[0]), INFERD_STATUS_COUNT_);
    for (size_t i = 0; i < sizeof(expected) / sizeof(expected[0]); i++) {
        assert_int_equal(expected[i].code, (inferd_status_t)i);
        assert_int_equal(inferd_status_http(expected[i].code), expected[i].http);
        assert_string_equal(inferd_status_name(expected[i].code), expected[i].name);
    }
}

static void names_are_distinct(void **state)
{
    (void)state;
    for (int i = 0; i < INFERD_STATUS_COUNT_; i++)
        for (int j = 0; j < i; j++)
            assert_string_not_equal(inferd_status_name((inferd_status_t)i),
                                    inferd_status_name((inferd_status_t)j));
}

static void out_of_range_code_is_internal(void **state)
{
    (void)state;
    assert_int_equal(inferd_status_http(INFERD_STATUS_COUNT_), 500);
    assert_string_equal(inferd_status_name(INFERD_STATUS_COUNT_), "UNKNOWN");
    assert_int_equal(inferd_status_http((inferd_status_t)1000), 500);
    assert_string_equal(inferd_status_name((inferd_status_t)1000), "UNKNOWN");
}

static void err_set_formats_and_returns_code(void **state)
{
    (void)state;
    inferd_err_t err;
    inferd_err_clear(&err);
    inferd_status_t st =
        inferd_err_set(&err, INFERD_E_INVALID_ARG, "input '%s': want %d dims, got %d", "x", 2, 3);
    assert_int_equal(st, INFERD_E_INVALID_ARG);
    assert_int_equal(err.code, INFERD_E_INVALID_ARG);
    assert_string_equal(err.msg, "input 'x': want 2 dims, got 3");
}

static void err_set_with_null_err(void **state)
{
    (void)state;
    assert_int_equal(inferd_err_set(NULL, INFERD_E_NOT_FOUND, "no model '%s'", "m"),
                     INFERD_E_NOT_FOUND);
    inferd_err_prefix(NULL, "ctx");
    inferd_err_clear(NULL);
}

static void err_set_truncates_long_messages(void **state)
{
    (void)state;
    char big[2000];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    inferd_err_t err;
    inferd_err_set(&err, INFERD_E_INTERNAL, "%s", big);
    assert_int_equal(strlen(err.msg), INFERD_ERR_MSG_MAX - 1);
}

static void err_clear_resets(void **state)
{
    (void)state;
    inferd_err_t err;
    inferd_err_set(&err, INFERD_E_INTERNAL, "boom");
    inferd_err_clear(&err);
    assert_int_equal(err.code, INFERD_OK);
    assert_string_equal(err.msg, "");
}

static void err_prefix_adds_context(void **state)
{
    (void)state;
    inferd_err_t err;
    inferd_err_set(&err, INFERD_E_NOT_FOUND, "no such file");
    inferd_err_prefix(&err, "model '%s' version %d", "resnet", 3);
    assert_string_equal(err.msg, "model 'resnet' version 3: no such file");
    assert_int_equal(err.code, INFERD_E_NOT_FOUND); /* the code is untouched */
    inferd_err_prefix(&err, "load");
    assert_string_equal(err.msg, "load: model 'resnet' version 3: no such file");
}

static void err_prefix_on_empty_message(void **state)
{
    (void)state;
    inferd_err_t err;
    inferd_err_clear(&err);
    inferd_err_prefix(&err, "ctx");
    assert_string_equal(err.msg, "ctx: ");
}

static void err_prefix_truncates(void **state)
{
    (void)state;
    char big[INFERD_ERR_MSG_MAX + 100];
    memset(big, 'm', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    inferd_err_t err;

    /* A long original message: the prefix survives, the tail of the message is cut. */
    inferd_err_set(&err, INFERD_E_INTERNAL, "%s", big);
    inferd_err_prefix(&err, "pre");
    assert_int_equal(strlen(err.msg), INFERD_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, "pre: mmm", 8);

    /* A prefix that fills the whole buffer leaves no room for the separator. */
    memset(big, 'p', sizeof(big) - 1);
    inferd_err_set(&err, INFERD_E_INTERNAL, "old");
    inferd_err_prefix(&err, "%s", big);
    assert_int_equal(strlen(err.msg), INFERD_ERR_MSG_MAX - 1);
    assert_int_equal(err.msg[0], 'p');
    assert_int_equal(err.msg[INFERD_ERR_MSG_MAX - 2], 'p');

    /* A prefix two bytes short of full: room for ": " is not there either. */
    char mid[INFERD_ERR_MSG_MAX];
    memset(mid, 'q', INFERD_ERR_MSG_MAX - 3);
    mid[INFERD_ERR_MSG_MAX - 3] = '\0';
    inferd_err_set(&err, INFERD_E_INTERNAL, "old");
    inferd_err_prefix(&err, "%s", mid);
    assert_true(strlen(err.msg) <= INFERD_ERR_MSG_MAX - 1);
    assert_memory_equal(err.msg, mid, INFERD_ERR_MSG_MAX - 3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_code_maps_to_http_and_name),
        cmocka_unit_test(names_are_distinct),
        cmocka_unit_test(out_of_range_code_is_internal),
        cmocka_unit_test(err_set_formats_and_returns_code),
        cmocka_unit_test(err_set_with_null_err),
        cmocka_unit_test(err_set_truncates_long_messages),
        cmocka_unit_test(err_clear_resets),
        cmocka_unit_test(err_prefix_adds_context),
        cmocka_unit_test(err_prefix_on_empty_message),
        cmocka_unit_test(err_prefix_truncates),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
