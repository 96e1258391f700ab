/* Scheduler: bounded queue plus instance workers (see sched.h). The queue is a mutex and a
 * condition variable; the lock is held only to link or unlink a request, never while a
 * model runs. Dynamic batching builds on this queue. */
#include "sched/sched.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/thread.h"

struct inferd_sched {
    inferd_sched_options_t opt;
    pthread_mutex_t lock;
    pthread_cond_t nonempty;
    inferd_infer_request_t *head, *tail; /* under lock */
    uint32_t queued;                     /* under lock */
    bool stopping;                       /* under lock */
    inferd_thread_t **workers;
    int32_t n_workers;
};

/* Thread: worker. Runs one request and completes it. */
static void run_request(inferd_sched_t *s, inferd_infer_request_t *req)
{
    inferd_model_stats_t *st = s->opt.stats;
    req->t_exec_start_ns = inferd_now_ns();
    inferd_model_stats_record_queue(st, (uint64_t)(req->t_exec_start_ns - req->t_queued_ns));

    /* A request whose client left or whose deadline passed in the queue never runs. */
    req->status = inferd_ctx_check(&req->ctx, &req->err);
    if (req->status == INFERD_OK) {
        req->executed = true;
        req->status = s->opt.backend->execute(&req->ctx, s->opt.backend_state, req->inputs,
                                              req->outputs, &req->err);
        req->t_exec_end_ns = inferd_now_ns();
        if (req->status == INFERD_OK)
            inferd_model_stats_record_exec(
                st, req->batch_size, 0, (uint64_t)(req->t_exec_end_ns - req->t_exec_start_ns), 0);
    } else {
        req->t_exec_end_ns = req->t_exec_start_ns;
    }
    req->done_cb(req);
}

static void worker_main(void *arg)
{
    inferd_sched_t *s = arg;
    for (;;) {
        pthread_mutex_lock(&s->lock);
        inferd_thread_set_state("idle");
        while (!s->head && !s->stopping)
            pthread_cond_wait(&s->nonempty, &s->lock);
        inferd_infer_request_t *req = s->head;
        if (!req) { /* stopping and drained */
            pthread_mutex_unlock(&s->lock);
            return;
        }
        s->head = req->_next;
        if (!s->head)
            s->tail = NULL;
        s->queued--;
        pthread_mutex_unlock(&s->lock);
        req->_next = NULL;
        inferd_thread_set_state("running");
        run_request(s, req);
    }
}

inferd_status_t inferd_sched_create(const inferd_sched_options_t *opt, inferd_sched_t **out,
                                    inferd_err_t *err)
{
    inferd_sched_t *s = inferd_xcalloc(1, sizeof(*s));
    s->opt = *opt;
    if (s->opt.instance_count < 1)
        s->opt.instance_count = 1;
    if (s->opt.max_queue_size < 1)
        s->opt.max_queue_size = 1;
    pthread_mutex_init(&s->lock, NULL);
    pthread_cond_init(&s->nonempty, NULL);
    s->workers = inferd_xcalloc((size_t)s->opt.instance_count, sizeof(*s->workers));
    for (int32_t i = 0; i < s->opt.instance_count; i++) {
        char name[32];
        snprintf(name, sizeof(name), "w:%.10s:%d", opt->model_name, (int)i);
        if (inferd_thread_start(&s->workers[i], name, "worker", worker_main, s, err) != INFERD_OK) {
            inferd_sched_destroy(s);
            return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
        }
        s->n_workers++;
    }
    *out = s;
    return INFERD_OK;
}

inferd_status_t inferd_sched_submit(inferd_sched_t *s, inferd_infer_request_t *req,
                                    inferd_err_t *err)
{
    req->_next = NULL;
    req->t_queued_ns = inferd_now_ns();
    pthread_mutex_lock(&s->lock);
    if (s->stopping) {
        pthread_mutex_unlock(&s->lock);
        return inferd_err_set(err, INFERD_E_UNAVAILABLE, "model '%s' is unloading",
                              s->opt.model_name);
    }
    if (s->queued >= s->opt.max_queue_size) {
        pthread_mutex_unlock(&s->lock);
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED,
                              "model '%s' queue is full (%u requests waiting)", s->opt.model_name,
                              s->opt.max_queue_size);
    }
    if (s->tail)
        s->tail->_next = req;
    else
        s->head = req;
    s->tail = req;
    s->queued++;
    atomic_fetch_add_explicit(&s->opt.stats->pending, 1, memory_order_relaxed);
    pthread_cond_signal(&s->nonempty);
    pthread_mutex_unlock(&s->lock);
    return INFERD_OK;
}

void inferd_sched_destroy(inferd_sched_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->nonempty);
    pthread_mutex_unlock(&s->lock);
    for (int32_t i = 0; i < s->n_workers; i++)
        inferd_thread_join(s->workers[i]);
    inferd_free(s->workers);
    pthread_cond_destroy(&s->nonempty);
    pthread_mutex_destroy(&s->lock);
    inferd_free(s);
}
