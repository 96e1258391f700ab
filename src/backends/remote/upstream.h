/* Upstream servers of the remote backend, one entry per base URL for the whole process:
 * the circuit breaker's state (shared by every model that uses the upstream) and the
 * per-upstream metrics (requests, failures by kind, latency, pending requests, open
 * connections, up or down). Entries are never freed (at most INFERD_MAX_UPSTREAMS), so a
 * pooled connection that outlives a model can still update its upstream's count. */
#ifndef INFERD_BACKENDS_REMOTE_UPSTREAM_H
#define INFERD_BACKENDS_REMOTE_UPSTREAM_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

#define INFERD_MAX_UPSTREAMS 256
#define INFERD_UPSTREAM_BUCKETS 14

typedef enum {
    INFERD_UPSTREAM_FAIL_CONNECT = 0, /* refused or unreachable: nothing was sent */
    INFERD_UPSTREAM_FAIL_TRANSPORT,   /* broken or timed out after sending */
    INFERD_UPSTREAM_FAIL_HTTP_4XX,    /* the upstream refused the request (passed through) */
    INFERD_UPSTREAM_FAIL_HTTP_5XX,
    INFERD_UPSTREAM_FAIL_MALFORMED, /* a response that is not a valid v2 answer */
    INFERD_UPSTREAM_FAIL_CANCELLED, /* the client left or the deadline passed */
    INFERD_UPSTREAM_FAIL_COUNT_
} inferd_upstream_fail_t;

typedef struct inferd_upstream {
    char base[256]; /* "http://host:port" */
    atomic_llong requests;
    atomic_llong failures[INFERD_UPSTREAM_FAIL_COUNT_];
    atomic_llong pending;
    atomic_llong open_connections;
    atomic_llong latency_buckets[INFERD_UPSTREAM_BUCKETS + 1]; /* last: +Inf */
    atomic_llong latency_sum_ns;
    atomic_int consecutive_failures;
    atomic_llong down_until_ns; /* monotonic; 0 = up */
    atomic_llong recent_ns;     /* moving average of successful calls' latency (0: none yet) */
} inferd_upstream_t;

/* The entry for base, created on first use; NULL when the table is full. Thread-safe. */
inferd_upstream_t *inferd_upstream_get(const char *base);

/* Records one finished call: ok, or the kind of failure; latency_ns of the call. */
void inferd_upstream_record(inferd_upstream_t *u, bool ok, inferd_upstream_fail_t kind,
                            int64_t latency_ns);

/* Appends the inferd_upstream_* families (nothing when no upstream was ever used). */
void inferd_upstream_metrics_render(inferd_buf_t *out);

#endif
