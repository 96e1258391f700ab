/* Per-model statistics and their Prometheus exposition. Each served model version owns
 * one inferd_model_stats_t; the scheduler and front ends update it with relaxed atomic
 * adds (no lock on the request path), and /metrics reads it. Names and labels follow
 * Triton (nv_inference_*, labels model and version) so existing dashboards work. */
#ifndef INFERD_OBS_METRICS_H
#define INFERD_OBS_METRICS_H

#include <stdatomic.h>
#include <stdint.h>

#include "core/buf.h"

/* Triton's failure reasons, in its label spelling. */
typedef enum {
    INFERD_FAIL_REJECTED = 0, /* queue full or queue timeout */
    INFERD_FAIL_CANCELED,     /* the client went away */
    INFERD_FAIL_BACKEND,      /* the model failed while running */
    INFERD_FAIL_OTHER,        /* anything else after the request reached the model */
    INFERD_FAIL_COUNT_
} inferd_fail_reason_t;

/* Latency histogram buckets (upper bounds), chosen for CPU inference that takes from tens of
 * microseconds (a small MLP) to seconds (a large CNN on a loaded host). */
#define INFERD_HISTOGRAM_BUCKETS 18
extern const double inferd_histogram_bounds_s[INFERD_HISTOGRAM_BUCKETS];

/* A latency histogram. Each observation adds to exactly one bucket (the first whose bound
 * is >= the value; the last bucket is +Inf), so recording is two relaxed atomic adds; the
 * renderer accumulates the buckets into Prometheus's cumulative form. */
typedef struct inferd_histogram {
    atomic_uint_fast64_t bucket[INFERD_HISTOGRAM_BUCKETS + 1]; /* the last one is +Inf */
    atomic_uint_fast64_t sum_ns;
} inferd_histogram_t;

/* Records one observation of ns nanoseconds. Thread: any; lock-free. */
void inferd_histogram_observe(inferd_histogram_t *h, uint64_t ns);

/* Executions of one batch size, for the statistics extension's batch_stats. */
typedef struct inferd_batch_stats {
    atomic_uint_fast64_t batch_size; /* 0 = free slot; claimed once with a CAS, never freed */
    atomic_uint_fast64_t count;
    atomic_uint_fast64_t compute_input_ns;
    atomic_uint_fast64_t compute_infer_ns;
    atomic_uint_fast64_t compute_output_ns;
} inferd_batch_stats_t;

/* Distinct batch sizes tracked per model version; executions of further sizes are counted
 * in batch_stats_overflow only. */
#define INFERD_BATCH_STATS_MAX 64

typedef struct inferd_model_stats {
    atomic_uint_fast64_t request_success;
    atomic_uint_fast64_t request_failure[INFERD_FAIL_COUNT_];
    atomic_uint_fast64_t inference_count;     /* batch-weighted */
    atomic_uint_fast64_t exec_count;          /* executions */
    atomic_uint_fast64_t pending;             /* queued, not yet executing (gauge) */
    atomic_uint_fast64_t request_duration_ns; /* end to end, successful or not */
    atomic_uint_fast64_t queue_duration_ns;
    atomic_uint_fast64_t compute_input_ns;
    atomic_uint_fast64_t compute_infer_ns;
    atomic_uint_fast64_t compute_output_ns;
    atomic_uint_fast64_t last_inference_ms; /* Unix ms of the last success */
    atomic_uint_fast64_t success_ns;        /* end to end, successful requests */
    atomic_uint_fast64_t fail_ns;           /* end to end, failed requests */
    atomic_uint_fast64_t queue_count;       /* requests that left the queue */
    inferd_histogram_t request_hist;        /* end to end, successful or not */
    inferd_histogram_t queue_hist;
    inferd_histogram_t compute_infer_hist; /* per execution */
    inferd_batch_stats_t batch[INFERD_BATCH_STATS_MAX];
    atomic_uint_fast64_t batch_stats_overflow; /* executions of an untracked batch size */
    atomic_uint_fast64_t stalled; /* 1 while the progress watchdog finds it stuck (gauge) */
} inferd_model_stats_t;

/* Zeroes every counter. Thread: the loader, before the version is published. */
void inferd_model_stats_init(inferd_model_stats_t *s);

/* Records one finished request, end to end (success when reason is negative): the success
 * or failure counter and duration, and the request latency histogram. Thread: any (the
 * I/O thread that answers the request); lock-free. */
void inferd_model_stats_record(inferd_model_stats_t *s, int reason, uint64_t duration_ns);

/* Records that a request left the queue after queue_ns, to run or to be dropped: the
 * pending gauge, the queue duration and its histogram. Thread: a worker; lock-free. */
void inferd_model_stats_record_queue(inferd_model_stats_t *s, uint64_t queue_ns);

/* Records one execution of batch_size rows: input_ns assembling the batch, infer_ns in
 * the backend, output_ns splitting the results; also the compute histogram and the batch
 * size's batch_stats entry. Thread: a worker; lock-free. */
void inferd_model_stats_record_exec(inferd_model_stats_t *s, uint64_t batch_size, uint64_t input_ns,
                                    uint64_t infer_ns, uint64_t output_ns);

/* One model version as /metrics sees it. */
typedef struct inferd_metrics_model {
    const char *name;
    const char *version;
    const inferd_model_stats_t *stats;
} inferd_metrics_model_t;

/* Appends the whole exposition: per-model families for every entry in models, then
 * inferd's process, thread and tensor gauges. */
void inferd_metrics_render(inferd_buf_t *out, const inferd_metrics_model_t *models, size_t n);

const char *inferd_fail_reason_name(inferd_fail_reason_t r);

/* Appends one model version's statistics object as the statistics extension (and
 * Triton's ModelStatistics) define it: name, version, last_inference, inference_count,
 * execution_count, inference_stats, batch_stats (ascending batch size), memory_usage.
 * Reads the counters with relaxed loads, so a concurrent request may be half counted. */
void inferd_model_stats_json(inferd_buf_t *out, const inferd_metrics_model_t *m);

#endif
