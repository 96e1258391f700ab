/* Per-model-version scheduler: a bounded queue in front of the version's instance workers,
 * with Triton's dynamic batcher and queue policy.
 *
 * - Admission is bounded: a full queue rejects at once with RESOURCE_EXHAUSTED (HTTP 429)
 *   rather than growing memory.
 * - Each of instance_count workers (registry threads) takes work from the queue. Without
 *   dynamic batching a worker runs one request at a time. With it, a worker gathers
 *   consecutive requests whose inputs agree except on dim 0, up to max_batch_size rows,
 *   sends a preferred batch size as soon as one can be formed, and otherwise waits at most
 *   max_queue_delay_us after the oldest request arrived. The batch's inputs are
 *   concatenated on dim 0 and each request gets views of its rows of the outputs.
 * - Deadlines: a request's queue timeout comes from its v2 `timeout` and the queue policy
 *   (see inferd_sched_submit). With timeout_action REJECT it becomes the request's deadline:
 *   a request that expires while queued is answered DEADLINE_EXCEEDED at once by the
 *   scheduler's timer thread and never runs, and the engine stops a running one. With DELAY
 *   an expired request only yields its place to requests that have not expired.
 * - Cancellation: inferd_sched_cancel removes a queued request at once; a running one is
 *   stopped by the engine, which checks the request's context between operators. */
#ifndef INFERD_SCHED_SCHED_H
#define INFERD_SCHED_SCHED_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inferd/backend.h"
#include "obs/metrics.h"
#include "sched/request.h"

typedef struct inferd_sched inferd_sched_t;

typedef enum {
    INFERD_SCHED_TIMEOUT_REJECT = 0,
    INFERD_SCHED_TIMEOUT_DELAY,
} inferd_sched_timeout_action_t;

typedef struct inferd_sched_options {
    const char *model_name; /* for thread names and messages */
    int64_t version;
    int32_t instance_count;  /* worker threads, >= 1 */
    uint32_t max_queue_size; /* requests waiting, >= 1 */
    const inferd_backend_vtable_t *backend;
    void *backend_state;         /* borrowed; must outlive the scheduler */
    inferd_model_stats_t *stats; /* borrowed; updated by workers */

    bool dynamic_batching;                /* batch requests together (needs max_batch_size > 0) */
    int32_t max_batch_size;               /* rows per execution */
    const int64_t *preferred_batch_sizes; /* borrowed; may be NULL */
    size_t n_preferred_batch_sizes;
    uint64_t max_queue_delay_us;

    inferd_sched_timeout_action_t timeout_action;
    uint64_t default_timeout_us; /* 0 = none */
    bool allow_timeout_override;
} inferd_sched_options_t;

/* Starts the workers (and the shared timer thread with the first scheduler). */
inferd_status_t inferd_sched_create(const inferd_sched_options_t *opt, inferd_sched_t **out,
                                    inferd_err_t *err);

/* Queues req (borrowed until its done_cb). The queue timeout is the request's timeout_us
 * when it is set and either the policy allows overriding, the policy has no default, or
 * it is shorter than the default; otherwise the policy's default (inferd, unlike Triton,
 * always honours a request timeout that is shorter: it is the client's deadline). Fails at
 * once, without calling done_cb, with RESOURCE_EXHAUSTED when the queue is full or
 * UNAVAILABLE when the scheduler is stopping. Thread: any. */
inferd_status_t inferd_sched_submit(inferd_sched_t *s, inferd_infer_request_t *req,
                                    inferd_err_t *err);

/* Marks req's context cancelled; if req is still queued, removes it and completes it with
 * CANCELLED on the calling thread. Thread: any; req must have been submitted to s. */
void inferd_sched_cancel(inferd_sched_t *s, inferd_infer_request_t *req);

/* Sets the progress watchdog's bound for every scheduler (0 = off, the default): a model
 * whose workers neither start nor finish an execution for longer than ms while requests
 * wait is stalled. The shared timer thread checks a few times per timeout; a new stall is
 * logged with a state report on stderr (diag/crash.h), its end is logged, and
 * stats->stalled follows the verdict. Thread: any. */
void inferd_sched_set_stall_timeout_ms(uint64_t ms);

/* How long s has been stalled, in ms (at least 1), or 0 while it makes progress (NULL:
 * 0). Readiness uses it. Thread: any; lock-free. */
int64_t inferd_sched_stalled_ms(const inferd_sched_t *s);

/* Stops accepting, lets the workers finish what is queued, joins them and frees s. */
void inferd_sched_destroy(inferd_sched_t *s);

/* Tells the batchers whether another request can arrive at all: probe() returns false
 * when every client connection of the front end already has a request in flight, so
 * waiting out max_queue_delay could only add latency and a batch is dispatched at once.
 * NULL (the default) means "always possible": Triton's plain delay. Thread: set before
 * serving starts and cleared after it stops; probe is called under a scheduler's lock and
 * must be cheap and lock-free. */
void inferd_sched_set_arrival_probe(bool (*probe)(void));

/* Has every batcher waiting out max_queue_delay ask the probe again: the front end calls
 * it when the last connection that could still send goes away, so a batch formed while a
 * just-finished client's connection was still open does not wait for nobody. Thread: any
 * but a scheduler's own. */
void inferd_sched_recheck_arrivals(void);

#endif
