/* Tests for src/obs/trace.c: W3C traceparent parsing, the span ring's drop accounting and
 * OTLP encoding, sampling under the trace settings, and the exporter's accounting when
 * the collector is unreachable. Includes the .c to reach its static parts. */
#include "test.h"

#include <stdio.h>
#include <string.h>

#include "../../../src/obs/trace.c"

static const char *VALID = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static void test_traceparent_valid(void **state)
{
    (void)state;
    uint8_t tid[16], pid[8], fl = 0;
    assert_true(inferd_trace_parse_traceparent(VALID, tid, pid, &fl));
    char hex[33];
    inferd_trace_hex(hex, tid, 16);
    assert_string_equal(hex, "4bf92f3577b34da6a3ce929d0e0e4736");
    inferd_trace_hex(hex, pid, 8);
    assert_string_equal(hex, "00f067aa0ba902b7");
    assert_int_equal(fl, 1);
    /* Round trip through the formatter. */
    char tp[56];
    inferd_trace_format_traceparent(tp, tid, pid, fl);
    assert_string_equal(tp, VALID);
    /* Unsampled flags parse too. */
    assert_true(inferd_trace_parse_traceparent(
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", tid, pid, &fl));
    assert_int_equal(fl, 0);
}

static void test_traceparent_invalid(void **state)
{
    (void)state;
    static const char *bad[] = {
        /* uppercase hex is not allowed by the spec */
        "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
        /* all-zero ids */
        "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
        /* version ff is invalid; version 00 must be exactly 55 characters */
        "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-xyz",
        "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        /* wrong lengths and separators */
        "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
        "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0g",
        "",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        uint8_t tid[16] = {7}, pid[8] = {7}, fl = 9;
        if (inferd_trace_parse_traceparent(bad[i], tid, pid, &fl))
            fail_msg("accepted invalid traceparent '%s'", bad[i]);
        assert_int_equal(tid[0], 7); /* outputs untouched */
        assert_int_equal(fl, 9);
    }
    /* A later version may append fields after a '-'. */
    uint8_t tid[16], pid[8], fl;
    assert_true(inferd_trace_parse_traceparent(
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", tid, pid, &fl));
    assert_false(inferd_trace_parse_traceparent(
        "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01future", tid, pid, &fl));
}

static void test_tracestate(void **state)
{
    (void)state;
    assert_true(inferd_trace_tracestate_ok("congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"));
    assert_false(inferd_trace_tracestate_ok(""));
    assert_false(inferd_trace_tracestate_ok("a=b\r\nX-Evil: 1"));
    char big[600];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    assert_false(inferd_trace_tracestate_ok(big));
    big[512] = '\0';
    assert_true(inferd_trace_tracestate_ok(big));
}

static void traced_ctx(inferd_ctx_t *ctx)
{
    inferd_ctx_init(ctx);
    uint8_t pid[8];
    uint8_t fl;
    assert_true(inferd_trace_parse_traceparent(VALID, ctx->trace_id, pid, &fl));
    memcpy(ctx->parent_span_id, pid, 8);
    inferd_trace_new_span_id(ctx->span_id);
    ctx->traced = true;
    snprintf(ctx->request_id, sizeof(ctx->request_id), "req-1");
}

static void test_ring_drops_when_full(void **state)
{
    (void)state;
    ring_init(&T.ring, 4);
    atomic_store(&T.recording, true);
    atomic_store(&T.dropped, 0);
    inferd_ctx_t ctx;
    traced_ctx(&ctx);
    for (int i = 0; i < 6; i++)
        inferd_trace_span_queue(&ctx, "m", 1, 1000, 2000, INFERD_OK);
    inferd_trace_counters_t c;
    inferd_trace_counters(&c);
    assert_int_equal(c.dropped, 2); /* capacity 4 */

    /* The batch is valid OTLP JSON carrying the trace id, parent and attributes. */
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    assert_int_equal(encode_batch(&b, 3), 3);
    inferd_json_doc_t *doc;
    inferd_err_t err;
    assert_int_equal(inferd_json_parse(b.data, b.len, NULL, &doc, &err), INFERD_OK);
    inferd_json_t *rs = inferd_json_get(inferd_json_root(doc), "resourceSpans");
    assert_non_null(rs);
    inferd_json_t *ss = inferd_json_get(rs->u.array.items[0], "scopeSpans");
    inferd_json_t *spans = inferd_json_get(ss->u.array.items[0], "spans");
    assert_int_equal(spans->u.array.count, 3);
    inferd_json_t *sp = spans->u.array.items[0];
    assert_string_equal(inferd_json_get(sp, "traceId")->u.string.ptr,
                        "4bf92f3577b34da6a3ce929d0e0e4736");
    char hex[17];
    inferd_trace_hex(hex, ctx.span_id, 8);
    assert_string_equal(inferd_json_get(sp, "parentSpanId")->u.string.ptr, hex);
    assert_string_equal(inferd_json_get(sp, "name")->u.string.ptr, "queue");
    assert_non_null(strstr(b.data, "\"inferd.model.name\",\"value\":{\"stringValue\":\"m\"}"));
    assert_non_null(strstr(b.data, "\"service.name\",\"value\":{\"stringValue\":\"inferd\"}"));
    inferd_json_doc_destroy(doc);

    /* Draining frees slots: one is left, three fit again, then it is full. */
    for (int i = 0; i < 4; i++)
        inferd_trace_span_queue(&ctx, "m", 1, 1000, 2000, INFERD_OK);
    inferd_trace_counters(&c);
    assert_int_equal(c.dropped, 3);
    assert_int_equal(encode_batch(&b, 100), 4);
    assert_int_equal(encode_batch(&b, 100), 0);
    inferd_buf_deinit(&b);

    /* Not recording (no exporter): every span counts as dropped, nothing is written. */
    atomic_store(&T.recording, false);
    inferd_trace_span_queue(&ctx, "m", 1, 1000, 2000, INFERD_OK);
    inferd_trace_counters(&c);
    assert_int_equal(c.dropped, 4);
    ring_deinit(&T.ring);
}

/* Producers on several threads and one consumer: every span is either drained or counted
 * as dropped, exactly once (run under TSan by the sanitizer build too). */
#define PRODUCERS 4
#define PER_PRODUCER 20000

static void *produce(void *arg)
{
    inferd_ctx_t *ctx = arg;
    for (int i = 0; i < PER_PRODUCER; i++)
        inferd_trace_span_queue(ctx, "m", 1, i, i + 1, INFERD_OK);
    return NULL;
}

static void test_ring_concurrent_accounting(void **state)
{
    (void)state;
    ring_init(&T.ring, 64);
    atomic_store(&T.recording, true);
    atomic_store(&T.dropped, 0);
    inferd_ctx_t ctx;
    traced_ctx(&ctx);
    pthread_t th[PRODUCERS];
    for (int i = 0; i < PRODUCERS; i++)
        assert_int_equal(pthread_create(&th[i], NULL, produce, &ctx), 0);
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    uint64_t drained = 0;
    for (;;) {
        inferd_trace_counters_t c;
        inferd_trace_counters(&c);
        size_t n = encode_batch(&b, 50);
        drained += n;
        if (n == 0 && drained + c.dropped == (uint64_t)PRODUCERS * PER_PRODUCER)
            break;
    }
    for (int i = 0; i < PRODUCERS; i++)
        pthread_join(th[i], NULL);
    assert_int_equal(encode_batch(&b, 50), 0);
    inferd_trace_counters_t c;
    inferd_trace_counters(&c);
    assert_int_equal(drained + c.dropped, (uint64_t)PRODUCERS * PER_PRODUCER);
    assert_true(drained > 0);
    inferd_buf_deinit(&b);
    atomic_store(&T.recording, false);
    ring_deinit(&T.ring);
}

static inferd_status_t post_settings(const char *model, const char *json, inferd_err_t *err)
{
    inferd_json_doc_t *doc;
    assert_int_equal(inferd_json_parse(json, strlen(json), NULL, &doc, err), INFERD_OK);
    inferd_status_t st = inferd_trace_settings_update(model, inferd_json_root(doc), err);
    inferd_json_doc_destroy(doc);
    return st;
}

static void test_sampling_rate_count_and_override(void **state)
{
    (void)state;
    inferd_trace_options_t o = {.level = "TIMESTAMPS", .rate = 3, .count = -1};
    inferd_err_t err;
    assert_int_equal(inferd_trace_start(&o, &err), INFERD_OK);
    /* Without an exporter nothing is traced, but a traceparent still sets the trace id. */
    inferd_ctx_t ctx;
    inferd_ctx_init(&ctx);
    inferd_trace_begin(&ctx, "m", VALID, "a=b");
    assert_false(ctx.traced);
    assert_int_equal(ctx.trace_id[0], 0x4b);
    assert_memory_equal(ctx.span_id, ctx.parent_span_id, 8);
    assert_string_equal(ctx.tracestate, "a=b");

    /* Rate 3: the 1st, 4th, 7th ... requests without a traceparent. */
    int got[9];
    for (int i = 0; i < 9; i++)
        got[i] = sample("m", false);
    int want[9] = {1, 0, 0, 1, 0, 0, 1, 0, 0};
    assert_memory_equal(got, want, sizeof(want));
    assert_true(sample("m", true)); /* a sampled parent ignores the rate */

    /* A count limits the traces. */
    assert_int_equal(post_settings(NULL, "{\"trace_rate\":\"1\",\"trace_count\":\"2\"}", &err),
                     INFERD_OK);
    assert_true(sample("m", false));
    assert_true(sample("m", false));
    assert_false(sample("m", false));

    /* A model's own level and rate override the global ones; null clears them. */
    assert_int_equal(post_settings("m", "{\"trace_count\":\"-1\",\"trace_rate\":\"2\"}", &err),
                     INFERD_OK);
    assert_true(sample("m", false));
    assert_false(sample("m", false));
    assert_true(sample("m", false));
    assert_false(sample("other", false)); /* the global count is spent */
    assert_int_equal(post_settings("m", "{\"trace_level\":[\"OFF\"]}", &err), INFERD_OK);
    assert_false(sample("m", false));
    assert_false(sample("m", true));
    assert_int_equal(
        post_settings("m", "{\"trace_level\":null,\"trace_rate\":null,\"trace_count\":null}", &err),
        INFERD_OK);
    assert_int_equal(T.n_models, 0);
    assert_false(sample("m", false)); /* follows the global count again */

    /* Bad values change nothing. */
    assert_int_equal(post_settings(NULL, "{\"trace_rate\":\"0\"}", &err), INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "trace_rate"));
    assert_int_equal(post_settings(NULL, "{\"trace_rate\":\"5\",\"trace_level\":[\"LOUD\"]}", &err),
                     INFERD_E_INVALID_ARG);
    assert_int_equal(T.global.rate, 1);
    assert_int_equal(post_settings(NULL, "{\"trace_count\":\"-2\"}", &err), INFERD_E_INVALID_ARG);
    assert_int_equal(post_settings(NULL, "{\"trace_file\":\"x\"}", &err), INFERD_E_UNSUPPORTED);
    assert_int_equal(post_settings(NULL, "{\"trace_level\":[\"OFF\",\"TIMESTAMPS\"]}", &err),
                     INFERD_E_INVALID_ARG);
    assert_int_equal(post_settings(NULL, "{\"bogus\":1}", &err), INFERD_E_INVALID_ARG);
    /* A null on a global setting restores its start-up value. */
    assert_int_equal(post_settings(NULL, "{\"trace_rate\":null,\"trace_count\":null}", &err),
                     INFERD_OK);
    assert_int_equal(T.global.rate, 3);
    assert_int_equal(atomic_load(&T.global.count), -1);
    inferd_trace_stop();
}

static void test_exporter_counts_failures_as_drops(void **state)
{
    (void)state;
    atomic_store(&T.dropped, 0);
    atomic_store(&T.exported, 0);
    atomic_store(&T.failures, 0);
    /* Port 1 on loopback: nothing listens, the connection is refused at once. */
    inferd_trace_options_t o = {.endpoint = "http://127.0.0.1:1/v1/traces",
                                .level = "TIMESTAMPS",
                                .rate = 1,
                                .count = -1,
                                .buffer_spans = 16,
                                .timeout_ms = 500};
    inferd_err_t err;
    assert_int_equal(inferd_trace_start(&o, &err), INFERD_OK);
    assert_int_equal(inferd_thread_count(), 1);
    inferd_ctx_t ctx;
    inferd_ctx_init(&ctx);
    inferd_trace_begin(&ctx, "m", NULL, NULL);
    assert_true(ctx.traced); /* rate 1: the first request */
    for (int i = 0; i < 40; i++)
        inferd_trace_span_queue(&ctx, "m", 1, 1000, 2000, INFERD_OK);
    inferd_trace_stop();
    assert_int_equal(inferd_thread_count(), 0);
    inferd_trace_counters_t c;
    inferd_trace_counters(&c);
    assert_int_equal(c.exported, 0);
    assert_int_equal(c.dropped, 40); /* some never fit, the rest failed to export */
    assert_true(c.failures >= 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_traceparent_valid),
        cmocka_unit_test(test_traceparent_invalid),
        cmocka_unit_test(test_tracestate),
        cmocka_unit_test(test_ring_drops_when_full),
        cmocka_unit_test(test_ring_concurrent_accounting),
        cmocka_unit_test(test_sampling_rate_count_and_override),
        cmocka_unit_test(test_exporter_counts_failures_as_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
