/* Upstream registry and metrics (see upstream.h). */
#include "backends/remote/upstream.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "inferd/context.h"

static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static inferd_upstream_t table[INFERD_MAX_UPSTREAMS];
static atomic_int table_len; /* entries [0, table_len) are initialized; release/acquire */

/* Upper bounds in seconds: sub-millisecond hops to slow GPU models. */
static const double bucket_le[INFERD_UPSTREAM_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};

inferd_upstream_t *inferd_upstream_get(const char *base)
{
    int n = atomic_load_explicit(&table_len, memory_order_acquire);
    for (int i = 0; i < n; i++)
        if (strcmp(table[i].base, base) == 0)
            return &table[i];
    pthread_mutex_lock(&table_lock);
    inferd_upstream_t *u = NULL;
    n = atomic_load(&table_len);
    for (int i = 0; i < n && !u; i++)
        if (strcmp(table[i].base, base) == 0)
            u = &table[i];
    if (!u && n < INFERD_MAX_UPSTREAMS) {
        u = &table[n];
        snprintf(u->base, sizeof(u->base), "%s", base);
        atomic_store_explicit(&table_len, n + 1, memory_order_release);
    }
    pthread_mutex_unlock(&table_lock);
    return u;
}

void inferd_upstream_record(inferd_upstream_t *u, bool ok, inferd_upstream_fail_t kind,
                            int64_t latency_ns)
{
    if (!u)
        return;
    atomic_fetch_add_explicit(&u->requests, 1, memory_order_relaxed);
    if (!ok)
        atomic_fetch_add_explicit(&u->failures[kind], 1, memory_order_relaxed);
    double s = (double)latency_ns / 1e9;
    int b = 0;
    while (b < INFERD_UPSTREAM_BUCKETS && s > bucket_le[b])
        b++;
    atomic_fetch_add_explicit(&u->latency_buckets[b], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&u->latency_sum_ns, latency_ns, memory_order_relaxed);
    if (ok) {
        /* An approximate 1/8 moving average: concurrent updates may lose one. */
        long long old = atomic_load_explicit(&u->recent_ns, memory_order_relaxed);
        atomic_store_explicit(&u->recent_ns, old ? old + (latency_ns - old) / 8 : latency_ns,
                              memory_order_relaxed);
    }
}

static const char *fail_name(int k)
{
    static const char *const names[] = {"connect",  "transport", "http_4xx",
                                        "http_5xx", "malformed", "cancelled"};
    return names[k];
}

void inferd_upstream_metrics_render(inferd_buf_t *out)
{
    int n = atomic_load_explicit(&table_len, memory_order_acquire);
    if (n == 0)
        return;
    int64_t now = inferd_now_ns();
    inferd_buf_append_str(out, "# HELP inferd_upstream_requests_total Calls to the upstream.\n"
                               "# TYPE inferd_upstream_requests_total counter\n");
    for (int i = 0; i < n; i++)
        inferd_buf_printf(out, "inferd_upstream_requests_total{upstream=\"%s\"} %lld\n",
                          table[i].base, (long long)atomic_load(&table[i].requests));
    inferd_buf_append_str(out, "# HELP inferd_upstream_failures_total Failed calls by kind.\n"
                               "# TYPE inferd_upstream_failures_total counter\n");
    for (int i = 0; i < n; i++)
        for (int k = 0; k < INFERD_UPSTREAM_FAIL_COUNT_; k++)
            inferd_buf_printf(
                out, "inferd_upstream_failures_total{upstream=\"%s\",kind=\"%s\"} %lld\n",
                table[i].base, fail_name(k), (long long)atomic_load(&table[i].failures[k]));
    inferd_buf_append_str(out,
                          "# HELP inferd_upstream_request_duration_seconds Latency of calls to "
                          "the upstream.\n# TYPE inferd_upstream_request_duration_seconds "
                          "histogram\n");
    for (int i = 0; i < n; i++) {
        long long cum = 0;
        for (int b = 0; b <= INFERD_UPSTREAM_BUCKETS; b++) {
            cum += atomic_load(&table[i].latency_buckets[b]);
            if (b < INFERD_UPSTREAM_BUCKETS)
                inferd_buf_printf(out,
                                  "inferd_upstream_request_duration_seconds_bucket{upstream=\"%s\","
                                  "le=\"%g\"} %lld\n",
                                  table[i].base, bucket_le[b], cum);
            else
                inferd_buf_printf(out,
                                  "inferd_upstream_request_duration_seconds_bucket{upstream=\"%s\","
                                  "le=\"+Inf\"} %lld\n",
                                  table[i].base, cum);
        }
        inferd_buf_printf(out,
                          "inferd_upstream_request_duration_seconds_sum{upstream=\"%s\"} %.6f\n"
                          "inferd_upstream_request_duration_seconds_count{upstream=\"%s\"} %lld\n",
                          table[i].base, (double)atomic_load(&table[i].latency_sum_ns) / 1e9,
                          table[i].base, cum);
    }
    inferd_buf_append_str(out, "# HELP inferd_upstream_pending Calls in flight.\n"
                               "# TYPE inferd_upstream_pending gauge\n");
    for (int i = 0; i < n; i++)
        inferd_buf_printf(out, "inferd_upstream_pending{upstream=\"%s\"} %lld\n", table[i].base,
                          (long long)atomic_load(&table[i].pending));
    inferd_buf_append_str(out, "# HELP inferd_upstream_open_connections Connections open to "
                               "the upstream (pooled or busy).\n"
                               "# TYPE inferd_upstream_open_connections gauge\n");
    for (int i = 0; i < n; i++)
        inferd_buf_printf(out, "inferd_upstream_open_connections{upstream=\"%s\"} %lld\n",
                          table[i].base, (long long)atomic_load(&table[i].open_connections));
    inferd_buf_append_str(out, "# HELP inferd_upstream_up 1 when the circuit breaker lets calls "
                               "through, 0 while the upstream is marked down.\n"
                               "# TYPE inferd_upstream_up gauge\n");
    for (int i = 0; i < n; i++)
        inferd_buf_printf(out, "inferd_upstream_up{upstream=\"%s\"} %d\n", table[i].base,
                          atomic_load(&table[i].down_until_ns) > now ? 0 : 1);
}
