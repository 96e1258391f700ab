/* Per-model-version scheduler: a bounded FIFO queue in front of the version's instance
 * workers. Each worker is a registry thread that takes the oldest request, drops it if its
 * deadline passed or its client left, and otherwise runs the backend on it.
 *
 * Admission is bounded: a full queue rejects at once with RESOURCE_EXHAUSTED (HTTP 429)
 * rather than growing memory. */
#ifndef INFERD_SCHED_SCHED_H
#define INFERD_SCHED_SCHED_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/backend.h"
#include "obs/metrics.h"
#include "sched/request.h"

typedef struct inferd_sched inferd_sched_t;

typedef struct inferd_sched_options {
    const char *model_name;        /* for thread names and messages */
    int64_t version;
    int32_t instance_count;        /* worker threads, >= 1 */
    uint32_t max_queue_size;       /* requests waiting, >= 1 */
    const inferd_backend_vtable_t *backend;
    void *backend_state;           /* borrowed; must outlive the scheduler */
    inferd_model_stats_t *stats;   /* borrowed; updated by workers */
} inferd_sched_options_t;

/* Starts the workers. */
inferd_status_t inferd_sched_create(const inferd_sched_options_t *opt, inferd_sched_t **out,
                                    inferd_err_t *err);

/* Queues req (borrowed until its done_cb). Fails at once, without calling done_cb, with
 * RESOURCE_EXHAUSTED when the queue is full or UNAVAILABLE when the scheduler is stopping.
 * Thread: any. */
inferd_status_t inferd_sched_submit(inferd_sched_t *s, inferd_infer_request_t *req,
                                    inferd_err_t *err);

/* Stops accepting, lets the workers finish what is queued, joins them and frees s. */
void inferd_sched_destroy(inferd_sched_t *s);

#endif
