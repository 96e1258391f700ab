/* An inference request as the scheduler sees it: the context, the input tensors in the
 * backend's order, and where the results go. Front ends build it from their wire format
 * (nothing JSON- or protobuf-shaped is in here) and own it; the scheduler borrows it from
 * submit until it calls done_cb, exactly once, on a worker thread. */
#ifndef INFERD_SCHED_REQUEST_H
#define INFERD_SCHED_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inferd/context.h"
#include "inferd/status.h"
#include "inferd/tensor.h"

typedef struct inferd_infer_request inferd_infer_request_t;

typedef void (*inferd_infer_done_cb)(inferd_infer_request_t *req);

struct inferd_infer_request {
    inferd_ctx_t ctx;         /* first: passed to every layer */
    inferd_tensor_t **inputs; /* backend input order; owned by the front end */
    size_t n_inputs;
    inferd_tensor_t **outputs; /* backend output order; set on success, owned by the
                                  front end once done_cb runs */
    size_t n_outputs;
    uint64_t batch_size; /* rows in dim 0 (1 for non-batching models) */
    uint64_t timeout_us; /* the v2 `timeout` parameter, 0 = none; the scheduler
                            combines it with the model's queue policy */

    inferd_status_t status; /* set before done_cb */
    bool executed;          /* the backend ran (a failure is the model's) */
    inferd_err_t err;

    int64_t t_received_ns; /* monotonic timestamps for statistics */
    int64_t t_queued_ns;
    int64_t t_exec_start_ns;
    int64_t t_exec_end_ns;

    inferd_infer_done_cb done_cb;
    void *done_arg; /* for the front end */

    int64_t _queue_deadline_ns;    /* scheduler: when the queue timeout expires, 0 = never */
    inferd_infer_request_t *_next; /* scheduler queue link */
    struct inferd_sched *_sched;   /* scheduler: of a request run in direct mode */
    uint8_t _trace_outer[8];       /* scheduler, traced requests: the server span's id while
                                      ctx.span_id names the running compute_infer span */
};

#endif
