/* Tracing: W3C trace context in and out, spans per traced request, and their export as
 * OTLP over HTTP (JSON encoding) by one background thread.
 *
 * - The front end calls inferd_trace_begin once per inference request. A valid incoming
 *   traceparent always sets the context's trace id (it reaches the access log and the
 *   upstream of a remote model even when nothing is recorded here). Whether spans are
 *   recorded follows Triton's trace settings (level, rate, count; per model over global):
 *   a request whose traceparent says "sampled" is traced whatever the rate, one whose
 *   traceparent says "not sampled" is not, and one without a traceparent is traced if it
 *   is the 1st, (N+1)th, (2N+1)th ... such request for trace_rate N.
 * - Spans are recorded only for traced requests (ctx->traced): callers test that flag
 *   first, so an untraced request costs one branch at each site. Recording copies one
 *   fixed-size record into a bounded lock-free ring; when the ring is full the span is
 *   dropped and counted. No request ever waits for the exporter.
 * - The exporter thread ("trace-export") drains the ring every 100 ms (5 ms under load),
 *   POSTs batches to --trace-endpoint with a bounded timeout, and counts what it could not
 *   deliver as dropped (inferd_trace_spans_dropped_total) and each failed POST as a
 *   failure.
 *
 * Times are recorded with the monotonic clock the scheduler already reads and converted
 * to Unix time at export, from an offset taken once at start-up. */
#ifndef INFERD_OBS_TRACE_H
#define INFERD_OBS_TRACE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/json.h"
#include "inferd/context.h"
#include "inferd/status.h"

typedef struct inferd_trace_options {
    const char *endpoint; /* OTLP/HTTP traces URL; NULL or "" = nothing is exported */
    const char *level;    /* "OFF" or "TIMESTAMPS" */
    int64_t rate;         /* trace 1 request in rate (>= 1) */
    int64_t count;        /* traces left to take, -1 = unlimited */
    int64_t buffer_spans; /* ring capacity (rounded up to a power of two) */
    int64_t timeout_ms;   /* bound of one export POST */
} inferd_trace_options_t;

/* Applies the options as the global trace settings and, with an endpoint, starts the
 * exporter thread. INVALID_ARG for a bad level, rate or count. Thread: main, at start-up;
 * balanced by inferd_trace_stop. */
inferd_status_t inferd_trace_start(const inferd_trace_options_t *opt, inferd_err_t *err);

/* Stops recording, exports what the ring holds (one bounded attempt), joins the exporter
 * and frees the ring. Thread: main, after the front ends and schedulers are gone. */
void inferd_trace_stop(void);

/* ---- W3C trace context -------------------------------------------------------------- */

/* Parses a traceparent header value: version (2 lowercase hex, not "ff"), trace id (32
 * lowercase hex, not all zero), parent id (16 lowercase hex, not all zero), flags (2 hex).
 * Version 00 must be exactly 55 characters; a later version may carry more after a '-'.
 * False (outputs untouched) when the value is invalid and must be ignored. */
bool inferd_trace_parse_traceparent(const char *s, uint8_t trace_id[16], uint8_t parent_id[8],
                                    uint8_t *flags);

/* True if s may be forwarded as a tracestate header: at most 512 printable ASCII
 * characters. */
bool inferd_trace_tracestate_ok(const char *s);

/* Writes "00-<trace id>-<span id>-<flags>" (55 characters and a NUL) into out. */
void inferd_trace_format_traceparent(char out[56], const uint8_t trace_id[16],
                                     const uint8_t span_id[8], uint8_t flags);

/* Writes 2*n lowercase hex digits and a NUL. */
void inferd_trace_hex(char *out, const uint8_t *id, size_t n);

/* A new random non-zero span id. Thread: any. */
void inferd_trace_new_span_id(uint8_t out[8]);

/* Sets ctx's trace fields for a new request of `model` from its traceparent and
 * tracestate headers (either may be NULL; both are borrowed for the request's life) and
 * decides whether it is traced (see the top of this file). Thread: I/O. */
void inferd_trace_begin(inferd_ctx_t *ctx, const char *model, const char *traceparent,
                        const char *tracestate);

/* ---- Spans (call only when ctx->traced) ---------------------------------------------- */

/* The HTTP server span of a request: ctx->span_id, child of ctx->parent_span_id.
 * error is NULL on success. */
void inferd_trace_span_server(const inferd_ctx_t *ctx, const char *model, const char *version,
                              int64_t start_ns, int64_t end_ns, int http_status, const char *error);

/* The time a request waited in the scheduler's queue. */
void inferd_trace_span_queue(const inferd_ctx_t *ctx, const char *model, int64_t version,
                             int64_t start_ns, int64_t end_ns, inferd_status_t st);

/* One execution the request took part in: a "batch" span (batch_size rows, t[0]..t[3])
 * with the children compute_input t[0]..t[1], compute_infer (id infer_id, so spans
 * recorded during the run can name it as parent) t[1]..t[2] and compute_output
 * t[2]..t[3]; compute_input and compute_output are left out when they took no time. */
void inferd_trace_span_exec(const inferd_ctx_t *ctx, const uint8_t infer_id[8], const char *model,
                            int64_t version, uint64_t batch_size, const int64_t t[4],
                            inferd_status_t st);

/* One upstream call of a remote model: a client span with id span_id, child of
 * parent_id (the ctx->span_id the backend was called with). http_status 0 = no response;
 * error NULL on success. */
void inferd_trace_span_client(const inferd_ctx_t *ctx, const uint8_t parent_id[8],
                              const uint8_t span_id[8], const char *url, long http_status,
                              int64_t start_ns, int64_t end_ns, const char *error);

/* ---- Settings (Triton's trace extension) ---------------------------------------------- */

/* Appends the settings of `model` (NULL: the global ones) as Triton's trace setting
 * object. Thread: any. */
void inferd_trace_settings_json(const char *model, inferd_buf_t *out);

/* Applies a trace setting request (a parsed JSON object, see v2_trace.c) for `model`
 * (NULL: global). Every value is checked before any is applied, so a bad request changes
 * nothing: INVALID_ARG or UNSUPPORTED with the reason. Thread: any. */
inferd_status_t inferd_trace_settings_update(const char *model, const inferd_json_t *req,
                                             inferd_err_t *err);

/* ---- Metrics ------------------------------------------------------------------------- */

typedef struct inferd_trace_counters {
    uint64_t exported; /* spans the collector accepted */
    uint64_t dropped;  /* spans lost: ring full, or their export failed */
    uint64_t failures; /* export POSTs that failed */
} inferd_trace_counters_t;

void inferd_trace_counters(inferd_trace_counters_t *out);

/* Appends the inferd_trace_* families in Prometheus text format. */
void inferd_trace_metrics_render(inferd_buf_t *out);

#endif
