/* The request context: what every function on the request path takes as its first
 * parameter. It carries the deadline, the cancellation flag, the request id and the W3C
 * trace ids, and records which operator the request is running for the crash report and
 * /debug. The context lives inside the request; functions borrow it. */
#ifndef INFERD_CONTEXT_H
#define INFERD_CONTEXT_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "inferd/status.h"

#define INFERD_REQUEST_ID_MAX 128

typedef struct inferd_ctx {
    int64_t deadline_ns;                    /* CLOCK_MONOTONIC ns; 0 = no deadline */
    atomic_bool cancelled;                  /* set by the front end when the client leaves */
    char request_id[INFERD_REQUEST_ID_MAX]; /* NUL-terminated */
    uint8_t trace_id[16];                   /* all zero = no trace context */
    uint8_t span_id[8];        /* the span work runs in (its children's parent); with an incoming
                                  traceparent that is not traced here, the caller's span */
    uint8_t trace_flags;       /* W3C flags forwarded upstream (bit 0: sampled) */
    uint8_t parent_span_id[8]; /* the incoming traceparent's span, all zero = root */
    bool traced;               /* spans of this request are recorded (obs/trace.h) */
    const char *tracestate;    /* incoming W3C tracestate (validated), borrowed from the
                                  front end for the request's life; NULL = none */
    _Atomic(const char *) current_op; /* node being run (static or model-owned string) */
    /* The running node's input shapes, e.g. "[1,3,224,224] [64,3,7,7]"; written by the
     * engine before it publishes current_op, read without locks (a torn read is accepted
     * by the crash handler). Empty when no node runs. */
    char current_op_inputs[160];
} inferd_ctx_t;

/* Initializes ctx with no deadline, not cancelled, an empty id. */
void inferd_ctx_init(inferd_ctx_t *ctx);

/* Monotonic clock in nanoseconds. */
int64_t inferd_now_ns(void);

/* Sets the deadline to now + timeout_us, keeping an earlier existing deadline. */
void inferd_ctx_set_timeout_us(inferd_ctx_t *ctx, uint64_t timeout_us);

/* Marks the context cancelled; safe from any thread. */
void inferd_ctx_cancel(inferd_ctx_t *ctx);

/* INFERD_OK if the request may go on; INFERD_E_CANCELLED or INFERD_E_DEADLINE_EXCEEDED
 * (with a message) otherwise. Cheap enough to call between operators. */
inferd_status_t inferd_ctx_check(const inferd_ctx_t *ctx, inferd_err_t *err);

/* Nanoseconds left before the deadline (INT64_MAX when there is none, <= 0 if passed). */
int64_t inferd_ctx_remaining_ns(const inferd_ctx_t *ctx);

#endif
