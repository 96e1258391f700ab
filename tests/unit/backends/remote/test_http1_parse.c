/* Tests for the response parser of src/backends/remote/http1.c: every split of the bytes
 * gives the same answer, chunked bodies, 1xx answers, what ends a connection's reuse, and
 * the malformed cases (status lines, Content-Length, chunk sizes, oversize bodies, a
 * connection closed early). */
#include "test.h"

#include <stdio.h>
#include <string.h>

#include "backends/remote/http1.h"

typedef struct {
    inferd_h1_result_t r;
    size_t used; /* bytes of the input the response took */
    long status;
    int64_t header_length;
    char body[4096];
    size_t body_len;
    bool keep;
    char error[160];
} outcome_t;

/* Parses text fed in pieces cut at the given offsets (ascending), then, with eof, a close. */
static outcome_t parse_cut(const char *text, size_t len, const size_t *cuts, size_t n_cuts,
                           bool eof, size_t limit)
{
    static inferd_h1_parser_t p;
    inferd_remote_response_t resp;
    inferd_remote_response_init(&resp, limit);
    inferd_h1_parser_init(&p);
    outcome_t o = {.r = INFERD_H1_MORE};
    size_t at = 0;
    for (size_t i = 0; i <= n_cuts && o.r == INFERD_H1_MORE; i++) {
        size_t end = i < n_cuts ? cuts[i] : len, used = 0;
        o.r = inferd_h1_parse(&p, text + at, end - at, &resp, &used);
        assert_true(used <= end - at);
        if (o.r == INFERD_H1_MORE)
            assert_int_equal(used, end - at); /* a piece that does not end it is all taken */
        o.used = at + used;
        at = end;
    }
    if (o.r == INFERD_H1_MORE && eof)
        o.r = inferd_h1_parse_eof(&p);
    o.status = resp.status;
    o.header_length = resp.header_length;
    o.body_len = resp.body.len;
    assert_true(o.body_len < sizeof(o.body));
    if (resp.body.len)
        memcpy(o.body, resp.body.data, resp.body.len);
    o.keep = inferd_h1_keep_alive(&p);
    snprintf(o.error, sizeof(o.error), "%s", p.error);
    inferd_remote_response_deinit(&resp);
    return o;
}

static outcome_t parse(const char *text, bool eof, size_t limit)
{
    return parse_cut(text, strlen(text), NULL, 0, eof, limit);
}

static void expect_same(const outcome_t *a, const outcome_t *b)
{
    assert_int_equal(a->r, b->r);
    assert_int_equal(a->used, b->used);
    assert_int_equal(a->status, b->status);
    assert_int_equal(a->header_length, b->header_length);
    assert_int_equal(a->body_len, b->body_len);
    assert_memory_equal(a->body, b->body, a->body_len);
    assert_int_equal(a->keep, b->keep);
}

/* Cut once at every byte, twice at every pair of bytes, and one byte at a time: all give
 * what the whole text gives. */
static void every_split(const char *text, bool eof)
{
    size_t len = strlen(text);
    outcome_t whole = parse_cut(text, len, NULL, 0, eof, 0);
    for (size_t k = 0; k <= len; k++) {
        outcome_t o = parse_cut(text, len, &k, 1, eof, 0);
        expect_same(&whole, &o);
        for (size_t j = k; j <= len; j += 7) {
            size_t two[2] = {k, j};
            o = parse_cut(text, len, two, 2, eof, 0);
            expect_same(&whole, &o);
        }
    }
    size_t bytes[1024];
    assert_true(len <= 1024);
    for (size_t k = 0; k < len; k++)
        bytes[k] = k + 1;
    outcome_t o = parse_cut(text, len, bytes, len, eof, 0);
    expect_same(&whole, &o);
}

static const char plain[] = "HTTP/1.1 200 OK\r\n"
                            "Content-Type: application/octet-stream\r\n"
                            "inference-header-content-length:  12 \r\n"
                            "Content-Length: 17\r\n"
                            "\r\n"
                            "{\"outputs\":[]}abc";

static void content_length_body_at_every_split(void **state)
{
    (void)state;
    outcome_t o = parse(plain, false, 0);
    assert_int_equal(o.r, INFERD_H1_DONE);
    assert_int_equal(o.status, 200);
    assert_int_equal(o.header_length, 12);
    assert_int_equal(o.body_len, 17);
    assert_memory_equal(o.body, "{\"outputs\":[]}abc", 17);
    assert_true(o.keep);
    assert_int_equal(o.used, strlen(plain));
    every_split(plain, false);
}

static const char chunked[] = "HTTP/1.1 200 OK\r\n"
                              "Transfer-Encoding: chunked\r\n"
                              "\r\n"
                              "5\r\nhello\r\n"
                              "1;ext=1\r\n,\r\n"
                              "A\r\n0123456789\r\n" /* hex size: 10 bytes */
                              "0\r\n"
                              "X-Trailer: yes\r\n"
                              "\r\n";

static void chunked_body_at_every_split(void **state)
{
    (void)state;
    outcome_t o = parse(chunked, false, 0);
    assert_int_equal(o.r, INFERD_H1_DONE);
    assert_int_equal(o.body_len, 16);
    assert_memory_equal(o.body, "hello,0123456789", 16);
    assert_true(o.keep);
    every_split(chunked, false);
}

static void chunk_sizes_are_hex_and_checked(void **state)
{
    (void)state;
    outcome_t o = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                        "1f\r\n0123456789abcdef0123456789abcde\r\n0\r\n\r\n",
                        false, 0);
    assert_int_equal(o.r, INFERD_H1_DONE);
    assert_int_equal(o.body_len, 31);
    const char *bad[] = {"zz\r\n",        "\r\n", "-1\r\n", "1x\r\n", "1000000000000000\r\n",
                         "3\r\nabcXY\r\n"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char t[256];
        snprintf(t, sizeof(t), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n%s", bad[i]);
        o = parse(t, true, 0);
        assert_int_equal(o.r, INFERD_H1_ERROR);
        assert_false(o.keep);
    }
}

static void bad_status_lines_are_errors(void **state)
{
    (void)state;
    const char *bad[] = {"HTTP/2 200 OK",   "HTTP/1.1 20 OK",         "HTTP/1.1 2000 OK",
                         "HTTP/1.1 abc",    "HTTP/1.1  200 OK",       "http/1.1 200 OK",
                         "garbage",         "HTTP/1.1 600 x",         "HTTP/1.1 099 x",
                         "HTTP/1.2 200 OK", "HTTP/1.1 101 Switching", ""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char t[256];
        snprintf(t, sizeof(t), "%s\r\nContent-Length: 0\r\n\r\n", bad[i]);
        outcome_t o = parse(t, true, 0);
        assert_int_equal(o.r, INFERD_H1_ERROR);
        assert_true(strlen(o.error) > 0);
    }
    /* A reason phrase is optional; any 2xx-5xx code is an answer. */
    outcome_t o = parse("HTTP/1.1 503\r\nContent-Length: 2\r\n\r\nno", false, 0);
    assert_int_equal(o.r, INFERD_H1_DONE);
    assert_int_equal(o.status, 503);
}

static void malformed_headers_are_errors(void **state)
{
    (void)state;
    const char *bad[] = {"no colon here", ": empty name", " Folded: line",
                         "Transfer-Encoding: gzip, chunked"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char t[256];
        snprintf(t, sizeof(t), "HTTP/1.1 200 OK\r\n%s\r\nContent-Length: 0\r\n\r\n", bad[i]);
        assert_int_equal(parse(t, true, 0).r, INFERD_H1_ERROR);
    }
    char long_line[9000];
    int n = snprintf(long_line, sizeof(long_line), "HTTP/1.1 200 OK\r\nX-Big: ");
    memset(long_line + n, 'a', 8300);
    strcpy(long_line + n + 8300, "\r\n\r\n");
    assert_int_equal(parse(long_line, true, 0).r, INFERD_H1_ERROR);
    char nul[] = "HTTP/1.1 200 OK\r\nX-A: a\0b\r\n\r\n";
    assert_int_equal(parse_cut(nul, sizeof(nul) - 1, NULL, 0, true, 0).r, INFERD_H1_ERROR);
}

static void invalid_content_length_is_an_error(void **state)
{
    (void)state;
    const char *bad[] = {"Content-Length: abc",
                         "Content-Length: -1",
                         "Content-Length: 1 2",
                         "Content-Length: ",
                         "Content-Length: 0x10",
                         "Content-Length: 99999999999999999999",
                         "Content-Length: 3\r\nContent-Length: 4"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        char t[256];
        snprintf(t, sizeof(t), "HTTP/1.1 200 OK\r\n%s\r\n\r\nabcd", bad[i]);
        outcome_t o = parse(t, true, 0);
        assert_int_equal(o.r, INFERD_H1_ERROR);
        assert_false(o.keep);
    }
    /* The same length twice is fine. */
    outcome_t o =
        parse("HTTP/1.1 200 OK\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", false, 0);
    assert_int_equal(o.r, INFERD_H1_DONE);
}

static void missing_content_length_reads_to_the_close(void **state)
{
    (void)state;
    const char *t = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{\"a\":1}";
    outcome_t o = parse(t, false, 0);
    assert_int_equal(o.r, INFERD_H1_MORE);
    o = parse(t, true, 0);
    assert_int_equal(o.r, INFERD_H1_DONE);
    assert_int_equal(o.body_len, 7);
    assert_false(o.keep); /* the close ended the body */
    every_split(t, true);
}

static void oversize_bodies_are_errors(void **state)
{
    (void)state;
    /* Announced: refused before any body byte. */
    outcome_t o = parse("HTTP/1.1 200 OK\r\nContent-Length: 11\r\n\r\n", false, 10);
    assert_int_equal(o.r, INFERD_H1_ERROR);
    assert_non_null(strstr(o.error, "larger"));
    o = parse("HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n0123456789", false, 10);
    assert_int_equal(o.r, INFERD_H1_DONE);
    /* Chunked and close-delimited bodies: when they outgrow the bound. */
    o = parse("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
              "6\r\n012345\r\n6\r\n012345\r\n0\r\n\r\n",
              false, 10);
    assert_int_equal(o.r, INFERD_H1_ERROR);
    assert_false(o.keep);
    o = parse("HTTP/1.1 200 OK\r\n\r\n0123456789a", true, 10);
    assert_int_equal(o.r, INFERD_H1_ERROR);
}

static void early_close_is_an_error(void **state)
{
    (void)state;
    outcome_t o = parse("", true, 0);
    assert_int_equal(o.r, INFERD_H1_ERROR);
    assert_non_null(strstr(o.error, "empty reply"));
    size_t len = strlen(plain);
    for (size_t k = 1; k < len; k++) {
        char t[256];
        memcpy(t, plain, k);
        t[k] = '\0';
        o = parse(t, true, 0);
        assert_int_equal(o.r, INFERD_H1_ERROR);
        assert_non_null(strstr(o.error, "closed before"));
    }
}

static void what_ends_reuse(void **state)
{
    (void)state;
    assert_false(
        parse("HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n", false, 0).keep);
    assert_false(parse("HTTP/1.0 200 OK\r\nContent-Length: 0\r\n\r\n", false, 0).keep);
    assert_true(
        parse("HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 0\r\n\r\n", false, 0)
            .keep);
    /* Both framings: chunked wins, and the connection is not trusted again. */
    outcome_t o =
        parse("HTTP/1.1 200 OK\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n"
              "2\r\nok\r\n0\r\n\r\n",
              false, 0);
    assert_int_equal(o.r, INFERD_H1_DONE);
    assert_int_equal(o.body_len, 2);
    assert_false(o.keep);
    /* Bytes after the answer are not taken. */
    const char *two = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n";
    o = parse(two, false, 0);
    assert_int_equal(o.r, INFERD_H1_DONE);
    assert_int_equal(o.used, strlen(two) - strlen("HTTP/1.1 200 OK\r\n"));
}

static void interim_answers_and_empty_bodies(void **state)
{
    (void)state;
    const char *t = "HTTP/1.1 100 Continue\r\nX-Ignored: 1\r\n\r\n"
                    "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
    outcome_t o = parse(t, false, 0);
    assert_int_equal(o.r, INFERD_H1_DONE);
    assert_int_equal(o.status, 200);
    assert_int_equal(o.body_len, 2);
    every_split(t, false);
    o = parse("HTTP/1.1 204 No Content\r\n\r\n", false, 0);
    assert_int_equal(o.r, INFERD_H1_DONE);
    assert_int_equal(o.body_len, 0);
    assert_true(o.keep);
    /* An unparsable Inference-Header-Content-Length reads as absent. */
    o = parse("HTTP/1.1 200 OK\r\nInference-Header-Content-Length: x\r\nContent-Length: 0\r\n\r\n",
              false, 0);
    assert_int_equal(o.r, INFERD_H1_DONE);
    assert_int_equal(o.header_length, -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(content_length_body_at_every_split),
        cmocka_unit_test(chunked_body_at_every_split),
        cmocka_unit_test(chunk_sizes_are_hex_and_checked),
        cmocka_unit_test(bad_status_lines_are_errors),
        cmocka_unit_test(malformed_headers_are_errors),
        cmocka_unit_test(invalid_content_length_is_an_error),
        cmocka_unit_test(missing_content_length_reads_to_the_close),
        cmocka_unit_test(oversize_bodies_are_errors),
        cmocka_unit_test(early_close_is_an_error),
        cmocka_unit_test(what_ends_reuse),
        cmocka_unit_test(interim_answers_and_empty_bodies),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
