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

typedef struct inferd_model_stats {
    atomic_uint_fast64_t request_success;
    atomic_uint_fast64_t request_failure[INFERD_FAIL_COUNT_];
    atomic_uint_fast64_t inference_count;      /* batch-weighted */
    atomic_uint_fast64_t exec_count;           /* executions */
    atomic_uint_fast64_t pending;              /* queued, not yet executing (gauge) */
    atomic_uint_fast64_t request_duration_ns;  /* end to end, successful or not */
    atomic_uint_fast64_t queue_duration_ns;
    atomic_uint_fast64_t compute_input_ns;
    atomic_uint_fast64_t compute_infer_ns;
    atomic_uint_fast64_t compute_output_ns;
    atomic_uint_fast64_t last_inference_ms;    /* Unix ms of the last success */
} inferd_model_stats_t;

void inferd_model_stats_init(inferd_model_stats_t *s);

/* Records one finished request, end to end (success when reason is negative). */
void inferd_model_stats_record(inferd_model_stats_t *s, int reason, uint64_t duration_ns);

/* Records that a request left the queue after queue_ns, to run or to be dropped. */
void inferd_model_stats_record_queue(inferd_model_stats_t *s, uint64_t queue_ns);

/* Records one execution of batch_size rows: input_ns assembling the batch, infer_ns in
 * the backend, output_ns splitting the results. */
void inferd_model_stats_record_exec(inferd_model_stats_t *s, uint64_t batch_size,
                                    uint64_t input_ns, uint64_t infer_ns, uint64_t output_ns);

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

#endif
