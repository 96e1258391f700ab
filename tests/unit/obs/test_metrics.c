/* Tests for src/obs/metrics.c: histogram bucketing and its cumulative exposition,
 * per-batch-size statistics, and the statistics-extension JSON. */
#include "test.h"

#include <stdio.h>
#include <string.h>

#include "obs/metrics.h"

static inferd_model_stats_t st;

static char *render(inferd_buf_t *b,
                    void (*fn)(inferd_buf_t *, const inferd_metrics_model_t *, size_t))
{
    inferd_metrics_model_t m = {"m", "1", &st};
    inferd_buf_init(b, 0);
    fn(b, &m, 1);
    inferd_buf_append_char(b, '\0');
    return b->data;
}

static void stats_json(inferd_buf_t *b, const inferd_metrics_model_t *m, size_t n)
{
    (void)n;
    inferd_model_stats_json(b, m);
}

static void test_histogram_buckets(void **state)
{
    (void)state;
    inferd_histogram_t h;
    memset(&h, 0, sizeof(h));
    inferd_histogram_observe(&h, 0);               /* first bucket */
    inferd_histogram_observe(&h, 50000);           /* exactly on 50 us: still the first */
    inferd_histogram_observe(&h, 50001);           /* 100 us */
    inferd_histogram_observe(&h, 3000000);         /* 5 ms */
    inferd_histogram_observe(&h, 100000000000ull); /* 100 s: +Inf */
    assert_int_equal(h.bucket[0], 2);
    assert_int_equal(h.bucket[1], 1);
    assert_int_equal(h.bucket[6], 1);
    assert_true(inferd_histogram_bounds_s[6] == 0.005);
    assert_int_equal(h.bucket[INFERD_HISTOGRAM_BUCKETS], 1);
    assert_int_equal(h.sum_ns, 50000 + 50001 + 3000000 + 100000000000ull);
    for (int i = 1; i < INFERD_HISTOGRAM_BUCKETS; i++)
        assert_true(inferd_histogram_bounds_s[i] > inferd_histogram_bounds_s[i - 1]);
}

static void test_exposition_is_cumulative(void **state)
{
    (void)state;
    inferd_model_stats_init(&st);
    inferd_model_stats_record(&st, -1, 70000); /* 100 us bucket */
    inferd_model_stats_record(&st, -1, 70000);
    inferd_model_stats_record(&st, INFERD_FAIL_BACKEND, 2000000000ull);
    inferd_buf_t b;
    char *t = render(&b, inferd_metrics_render);
    assert_non_null(strstr(t, "# TYPE inferd_request_duration_seconds histogram\n"));
    assert_non_null(strstr(
        t, "inferd_request_duration_seconds_bucket{model=\"m\",version=\"1\",le=\"5e-05\"} 0\n"));
    assert_non_null(strstr(
        t, "inferd_request_duration_seconds_bucket{model=\"m\",version=\"1\",le=\"0.0001\"} 2\n"));
    assert_non_null(strstr(
        t, "inferd_request_duration_seconds_bucket{model=\"m\",version=\"1\",le=\"1\"} 2\n"));
    assert_non_null(strstr(
        t, "inferd_request_duration_seconds_bucket{model=\"m\",version=\"1\",le=\"2.5\"} 3\n"));
    assert_non_null(strstr(
        t, "inferd_request_duration_seconds_bucket{model=\"m\",version=\"1\",le=\"+Inf\"} 3\n"));
    assert_non_null(
        strstr(t, "inferd_request_duration_seconds_sum{model=\"m\",version=\"1\"} 2.000140000\n"));
    assert_non_null(
        strstr(t, "inferd_request_duration_seconds_count{model=\"m\",version=\"1\"} 3\n"));
    /* The Triton families are unchanged. */
    assert_non_null(strstr(t, "nv_inference_request_success{model=\"m\",version=\"1\"} 2\n"));
    assert_non_null(strstr(
        t, "nv_inference_request_failure{model=\"m\",version=\"1\",reason=\"BACKEND\"} 1\n"));
    inferd_buf_deinit(&b);
}

static void test_statistics_json(void **state)
{
    (void)state;
    inferd_model_stats_init(&st);
    atomic_store(&st.pending, 3);
    for (int i = 0; i < 3; i++)
        inferd_model_stats_record_queue(&st, 1000);
    inferd_model_stats_record_exec(&st, 4, 10, 200, 30);
    inferd_model_stats_record_exec(&st, 1, 1, 20, 3);
    inferd_model_stats_record_exec(&st, 4, 10, 200, 30);
    inferd_model_stats_record(&st, -1, 5000);
    inferd_model_stats_record(&st, INFERD_FAIL_REJECTED, 700);
    assert_int_equal(st.pending, 0);
    inferd_buf_t b;
    char *t = render(&b, stats_json);
    assert_non_null(strstr(t, "{\"name\":\"m\",\"version\":\"1\",\"last_inference\":"));
    assert_non_null(strstr(t, "\"inference_count\":9,\"execution_count\":3,"));
    assert_non_null(strstr(t, "\"success\":{\"count\":1,\"ns\":5000}"));
    assert_non_null(strstr(t, "\"fail\":{\"count\":1,\"ns\":700}"));
    assert_non_null(strstr(t, "\"queue\":{\"count\":3,\"ns\":3000}"));
    assert_non_null(strstr(t, "\"compute_infer\":{\"count\":3,\"ns\":420}"));
    /* batch_stats ascending by size although 4 was seen first */
    assert_non_null(strstr(t, "\"batch_stats\":[{\"batch_size\":1,\"compute_input\":{\"count\":1,"
                              "\"ns\":1},\"compute_infer\":{\"count\":1,\"ns\":20},"
                              "\"compute_output\":{\"count\":1,\"ns\":3}},{\"batch_size\":4,"));
    assert_non_null(strstr(t, "\"compute_infer\":{\"count\":2,\"ns\":400}"));
    inferd_buf_deinit(&b);
}

static void test_batch_sizes_beyond_table(void **state)
{
    (void)state;
    inferd_model_stats_init(&st);
    for (uint64_t s = 1; s <= INFERD_BATCH_STATS_MAX + 5; s++)
        inferd_model_stats_record_exec(&st, s, 0, 1, 0);
    assert_int_equal(st.batch_stats_overflow, 5);
    assert_int_equal(st.exec_count, INFERD_BATCH_STATS_MAX + 5);
    inferd_model_stats_record_exec(&st, 7, 0, 1, 0); /* an existing size still counts */
    assert_int_equal(st.batch[6].count, 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_histogram_buckets),
        cmocka_unit_test(test_exposition_is_cumulative),
        cmocka_unit_test(test_statistics_json),
        cmocka_unit_test(test_batch_sizes_beyond_table),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
