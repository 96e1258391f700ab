/* Scheduler (see sched.h): the queue, the dynamic batcher, the instance workers, and one
 * timer thread shared by every scheduler that answers requests whose queue timeout expires.
 *
 * Locks: each scheduler's `lock` guards its queue; `timer_lock` guards the list of
 * schedulers. The order is timer_lock, then a scheduler's lock. No lock is held while a
 * model runs or while a request is completed (done_cb). */
#include "sched/sched.h"

#include <pthread.h>
#include <sys/prctl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/thread.h"
#include "diag/crash.h"
#include "diag/inflight.h"
#include "obs/log.h"
#include "obs/trace.h"

struct inferd_sched {
    inferd_sched_options_t opt;
    int64_t *preferred; /* preferred batch sizes, descending */
    size_t n_preferred;
    pthread_mutex_t lock;
    pthread_cond_t cond;                 /* work arrived, or stopping */
    inferd_infer_request_t *head, *tail; /* under lock */
    uint32_t queued;                     /* under lock */
    bool stopping;                       /* under lock */
    bool direct; /* executions go to execute_async from the submitter or completer */
    inferd_thread_t **workers;
    int32_t n_workers;
    inferd_sched_t *timer_prev, *timer_next; /* under timer_lock */
    /* Progress watchdog (see inferd_sched_set_stall_timeout_ms). */
    int64_t progress_ns;              /* under lock: a worker last started or finished a run */
    int32_t running;                  /* under lock: executions under way */
    int64_t stall_began_ns;           /* timer thread: when the current stall began, 0 = none */
    _Atomic int64_t stalled_since_ns; /* the verdict for readers: 0 = making progress */
};

/* 0 = the watchdog is off. */
static _Atomic int64_t stall_timeout_ns;
static _Atomic(bool (*)(void)) arrival_probe; /* see inferd_sched_set_arrival_probe */

/* ------------------------------------------------------------------------------------ */
/* Helpers                                                                              */

static void cond_init_monotonic(pthread_cond_t *c)
{
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(c, &a);
    pthread_condattr_destroy(&a);
}

/* Waits on c until deadline_ns (monotonic), a signal, or a spurious wake-up. */
static void cond_wait_until(pthread_cond_t *c, pthread_mutex_t *m, int64_t deadline_ns)
{
    if (deadline_ns == INT64_MAX) {
        pthread_cond_wait(c, m);
        return;
    }
    struct timespec ts = {(time_t)(deadline_ns / 1000000000), (long)(deadline_ns % 1000000000)};
    pthread_cond_timedwait(c, m, &ts);
}

/* Completes a request that did not run. Thread: any; no lock held. */
static void complete_early(inferd_sched_t *s, inferd_infer_request_t *req, inferd_status_t st,
                           const char *why)
{
    int64_t now = inferd_now_ns();
    inferd_model_stats_record_queue(s->opt.stats, (uint64_t)(now - req->t_queued_ns));
    req->t_exec_start_ns = req->t_exec_end_ns = now;
    req->status = inferd_err_set(&req->err, st, "%s", why);
    if (req->ctx.traced)
        inferd_trace_span_queue(&req->ctx, s->opt.model_name, s->opt.version, req->t_queued_ns, now,
                                st);
    req->done_cb(req);
}

/* Unlinks req from the queue if it is there. Caller holds s->lock. */
static bool queue_unlink(inferd_sched_t *s, inferd_infer_request_t *req)
{
    inferd_infer_request_t *prev = NULL;
    for (inferd_infer_request_t *r = s->head; r; prev = r, r = r->_next) {
        if (r != req)
            continue;
        if (prev)
            prev->_next = r->_next;
        else
            s->head = r->_next;
        if (s->tail == r)
            s->tail = prev;
        r->_next = NULL;
        s->queued--;
        return true;
    }
    return false;
}

/* ------------------------------------------------------------------------------------ */
/* Timer: answers requests whose queue timeout expired, wherever they wait               */

typedef struct sched_timer {
    inferd_thread_t *thread;
    bool stop; /* under timer_lock */
} sched_timer_t;

static pthread_mutex_t timer_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t timer_cond;
static pthread_once_t timer_once = PTHREAD_ONCE_INIT;
static inferd_sched_t *timer_scheds; /* every live scheduler, under timer_lock */
static sched_timer_t *timer;         /* the running timer, under timer_lock */

static void timer_init_once(void)
{
    cond_init_monotonic(&timer_cond);
}

static bool expires_by_reject(const inferd_sched_t *s, const inferd_infer_request_t *r)
{
    return r->_queue_deadline_ns != 0 && s->opt.timeout_action == INFERD_SCHED_TIMEOUT_REJECT;
}

/* A change of a scheduler's watchdog verdict, copied out so that it can be reported
 * without locks held (the scheduler may be destroyed meanwhile). */
typedef struct stall_event {
    bool changed;
    bool stalled;    /* true: a stall began; false: progress resumed */
    char model[128]; /* copy of the model name */
    int64_t version;
    int64_t for_ms;   /* how long without progress (or how long the stall lasted) */
    uint32_t waiting; /* requests in the queue */
    int32_t running;  /* executions under way */
} stall_event_t;

/* The progress watchdog's check of one scheduler. A model is stalled when requests are
 * waiting and no worker has started or finished an execution for longer than the stall
 * timeout, counted from the later of the last progress and the oldest waiting request's
 * arrival (an idle model that gets a request is not stalled). Thread: timer; s->lock held. */
static void watch_progress(inferd_sched_t *s, int64_t now, int64_t tmo, stall_event_t *ev)
{
    int64_t since = 0;
    if (tmo > 0 && s->head) {
        since = s->progress_ns > s->head->t_queued_ns ? s->progress_ns : s->head->t_queued_ns;
        if (now - since <= tmo)
            since = 0;
    }
    bool stalled = since != 0, was = s->stall_began_ns != 0;
    if (stalled == was)
        return;
    ev->changed = true;
    ev->stalled = stalled;
    snprintf(ev->model, sizeof(ev->model), "%s", s->opt.model_name);
    ev->version = s->opt.version;
    ev->for_ms = (now - (stalled ? since : s->stall_began_ns)) / 1000000;
    ev->waiting = s->queued;
    ev->running = s->running;
    s->stall_began_ns = stalled ? since : 0;
    atomic_store(&s->stalled_since_ns, s->stall_began_ns);
    atomic_store_explicit(&s->opt.stats->stalled, stalled ? 1 : 0, memory_order_relaxed);
}

/* Logs a verdict change; a new stall also gets a state report on stderr (the one SIGQUIT
 * writes), so a hang is as explainable as a crash. Thread: timer; no lock held. */
static void report_stall(const stall_event_t *ev)
{
    if (!ev->stalled) {
        inferd_log(INFERD_LOG_INFO,
                   "model '%s' version %lld is making progress again after %lld ms stalled",
                   ev->model, (long long)ev->version, (long long)ev->for_ms);
        return;
    }
    char reason[256];
    snprintf(reason, sizeof(reason),
             "model '%s' version %lld stalled: no progress for %lld ms with %u requests "
             "waiting and %d executions under way",
             ev->model, (long long)ev->version, (long long)ev->for_ms, ev->waiting,
             (int)ev->running);
    inferd_log(INFERD_LOG_WARN, "%s; it is reported not ready until work flows again", reason);
    inferd_crash_state_report(reason);
}

static void timer_main(void *arg)
{
    sched_timer_t *t = arg;
    pthread_mutex_lock(&timer_lock);
    while (!t->stop) {
        int64_t now = inferd_now_ns(), next = INT64_MAX;
        int64_t tmo = atomic_load(&stall_timeout_ns);
        inferd_infer_request_t *expired = NULL;
        inferd_sched_t *owner = NULL;
        stall_event_t ev = {0};
        for (inferd_sched_t *s = timer_scheds; s && !expired && !ev.changed; s = s->timer_next) {
            pthread_mutex_lock(&s->lock);
            watch_progress(s, now, tmo, &ev);
            for (inferd_infer_request_t *r = s->head; r; r = r->_next) {
                if (!expires_by_reject(s, r))
                    continue;
                if (r->_queue_deadline_ns <= now) {
                    expired = r;
                    owner = s;
                    break;
                }
                if (r->_queue_deadline_ns < next)
                    next = r->_queue_deadline_ns;
            }
            if (expired)
                queue_unlink(s, expired);
            pthread_mutex_unlock(&s->lock);
        }
        if (expired) {
            /* The request holds its model version, so owner outlives the completion. */
            pthread_mutex_unlock(&timer_lock);
            complete_early(owner, expired, INFERD_E_DEADLINE_EXCEEDED,
                           "request timed out in the queue");
        }
        if (ev.changed) {
            if (!expired)
                pthread_mutex_unlock(&timer_lock);
            report_stall(&ev);
        }
        if (expired || ev.changed) {
            pthread_mutex_lock(&timer_lock);
            continue;
        }
        if (tmo > 0) {
            /* The watchdog looks four times per timeout, at most every second. */
            int64_t step = tmo / 4 < 1000000000 ? tmo / 4 : 1000000000;
            if (now + step < next)
                next = now + step;
        }
        inferd_thread_set_state("idle");
        cond_wait_until(&timer_cond, &timer_lock, next);
        inferd_thread_set_state("running");
    }
    pthread_mutex_unlock(&timer_lock);
}

static inferd_status_t timer_attach(inferd_sched_t *s, inferd_err_t *err)
{
    pthread_once(&timer_once, timer_init_once);
    pthread_mutex_lock(&timer_lock);
    s->timer_next = timer_scheds;
    if (timer_scheds)
        timer_scheds->timer_prev = s;
    timer_scheds = s;
    inferd_status_t st = INFERD_OK;
    if (!timer) {
        sched_timer_t *t = inferd_xcalloc(1, sizeof(*t));
        st = inferd_thread_start(&t->thread, "sched-timer", "timer", timer_main, t, err);
        if (st == INFERD_OK)
            timer = t;
        else
            inferd_free(t);
    }
    pthread_mutex_unlock(&timer_lock);
    return st;
}

static void timer_detach(inferd_sched_t *s)
{
    sched_timer_t *stopping = NULL;
    pthread_mutex_lock(&timer_lock);
    if (s->timer_prev)
        s->timer_prev->timer_next = s->timer_next;
    else if (timer_scheds == s)
        timer_scheds = s->timer_next;
    if (s->timer_next)
        s->timer_next->timer_prev = s->timer_prev;
    s->timer_prev = s->timer_next = NULL;
    if (!timer_scheds && timer) {
        /* The last scheduler is gone: stop the timer (a new one starts with the next). */
        stopping = timer;
        stopping->stop = true;
        timer = NULL;
        pthread_cond_broadcast(&timer_cond);
    }
    pthread_mutex_unlock(&timer_lock);
    if (stopping) {
        inferd_thread_join(stopping->thread);
        inferd_free(stopping);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Batch formation (worker thread, under s->lock)                                       */

#define BATCH_MAX_REQUESTS 1024

/* Whether b's inputs can share an execution with a's: same dtypes and dims but dim 0. */
static bool batch_compatible(const inferd_infer_request_t *a, const inferd_infer_request_t *b)
{
    for (size_t i = 0; i < a->n_inputs; i++) {
        const inferd_tensor_t *x = a->inputs[i], *y = b->inputs[i];
        if (x->dtype != y->dtype || x->ndim != y->ndim || x->ndim < 1)
            return false;
        if (x->dims[0] != (int64_t)a->batch_size || y->dims[0] != (int64_t)b->batch_size)
            return false;
        for (int d = 1; d < x->ndim; d++)
            if (x->dims[d] != y->dims[d])
                return false;
    }
    return true;
}

static bool expired_delayed(const inferd_sched_t *s, const inferd_infer_request_t *r, int64_t now)
{
    return s->opt.timeout_action == INFERD_SCHED_TIMEOUT_DELAY && r->_queue_deadline_ns != 0 &&
           r->_queue_deadline_ns <= now;
}

/* Picks the requests of the next execution into out (unlinked from the queue) and returns
 * their count, or 0 with *wait_until set when the batcher should wait for more. */
static size_t form_batch(inferd_sched_t *s, inferd_infer_request_t **out, int64_t *wait_until)
{
    int64_t now = inferd_now_ns();
    *wait_until = INT64_MAX;
    if (!s->opt.dynamic_batching) {
        out[0] = s->head;
        queue_unlink(s, s->head);
        return 1;
    }
    /* Candidates in order; with DELAY, expired requests go behind the others. */
    inferd_infer_request_t *cand[BATCH_MAX_REQUESTS];
    size_t n = 0;
    for (int pass = 0; pass < 2 && n < BATCH_MAX_REQUESTS; pass++)
        for (inferd_infer_request_t *r = s->head; r && n < BATCH_MAX_REQUESTS; r = r->_next)
            if (expired_delayed(s, r, now) == (pass == 1))
                cand[n++] = r;

    /* The longest compatible run from the first candidate that fits max_batch_size. */
    uint64_t max = (uint64_t)s->opt.max_batch_size, rows = 0;
    uint64_t prefix_rows[BATCH_MAX_REQUESTS];
    size_t take = 0;
    for (; take < n; take++) {
        if (take > 0 && !batch_compatible(cand[0], cand[take]))
            break;
        if (take > 0 && rows + cand[take]->batch_size > max)
            break;
        rows += cand[take]->batch_size;
        prefix_rows[take] = rows;
    }
    bool go = rows >= max || s->stopping;
    if (!go && s->n_preferred) {
        /* The largest preferred size some prefix of the run reaches exactly. */
        for (size_t p = 0; p < s->n_preferred && !go; p++)
            for (size_t k = 0; k < take; k++)
                if (prefix_rows[k] == (uint64_t)s->preferred[p]) {
                    take = k + 1;
                    go = true;
                    break;
                }
    }
    if (!go) {
        int64_t due = cand[0]->t_queued_ns + (int64_t)s->opt.max_queue_delay_us * 1000;
        /* A run cut short by an incompatible request cannot grow by waiting. */
        go = now >= due || take < n;
        bool (*probe)(void) = atomic_load_explicit(&arrival_probe, memory_order_acquire);
        if (!go && probe && !probe())
            go = true; /* nobody is left who could join the batch */
        if (!go)
            *wait_until = due;
    }
    if (!go)
        return 0;
    for (size_t k = 0; k < take; k++) {
        out[k] = cand[k];
        queue_unlink(s, cand[k]);
    }
    return take;
}

/* ------------------------------------------------------------------------------------ */
/* Execution (worker thread, no lock held)                                              */

/* Byte offset where row `row` starts in a tensor of `rows` rows (BYTES: walks elements). */
static size_t row_offset(const inferd_tensor_t *t, uint64_t rows, uint64_t row)
{
    if (t->dtype != INFERD_DTYPE_BYTES)
        return rows ? (size_t)(t->nbytes / rows * row) : 0;
    uint64_t per_row = rows ? inferd_tensor_numel(t) / rows : 0;
    const unsigned char *p = t->data;
    size_t off = 0;
    for (uint64_t e = 0; e < per_row * row; e++) {
        uint32_t len = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
                       (uint32_t)p[off + 3] << 24;
        off += 4 + len;
    }
    return off;
}

/* Concatenates input i of every member on dim 0. */
static inferd_tensor_t *concat_input(inferd_infer_request_t **m, size_t n, size_t i, uint64_t rows,
                                     inferd_err_t *err)
{
    const inferd_tensor_t *first = m[0]->inputs[i];
    int64_t dims[INFERD_MAX_DIMS];
    memcpy(dims, first->dims, sizeof(dims));
    dims[0] = (int64_t)rows;
    size_t total = 0;
    for (size_t k = 0; k < n; k++)
        total += m[k]->inputs[i]->nbytes;
    inferd_tensor_t *t =
        inferd_tensor_create(first->dtype, dims, first->ndim, total, INFERD_OWNER_ARENA, err);
    if (!t)
        return NULL;
    size_t off = 0;
    for (size_t k = 0; k < n; k++) {
        const inferd_tensor_t *x = m[k]->inputs[i];
        if (x->nbytes)
            memcpy((char *)t->data + off, x->data, x->nbytes);
        off += x->nbytes;
    }
    return t;
}

/* Hands each member views of its rows of the batch outputs. */
static inferd_status_t split_outputs(inferd_infer_request_t **m, size_t n, uint64_t rows,
                                     inferd_tensor_t **outs, size_t n_outs, inferd_err_t *err)
{
    for (size_t j = 0; j < n_outs; j++) {
        const inferd_tensor_t *t = outs[j];
        if (t->ndim < 1 || t->dims[0] != (int64_t)rows)
            return inferd_err_set(err, INFERD_E_INTERNAL,
                                  "output %zu of a batched execution has %lld rows, expected %llu",
                                  j, t->ndim ? (long long)t->dims[0] : 0LL,
                                  (unsigned long long)rows);
    }
    for (size_t j = 0; j < n_outs; j++) {
        uint64_t row = 0;
        for (size_t k = 0; k < n; k++) {
            int64_t dims[INFERD_MAX_DIMS];
            memcpy(dims, outs[j]->dims, sizeof(dims));
            dims[0] = (int64_t)m[k]->batch_size;
            size_t lo = row_offset(outs[j], rows, row);
            size_t hi = row_offset(outs[j], rows, row + m[k]->batch_size);
            m[k]->outputs[j] =
                inferd_tensor_view(outs[j], lo, outs[j]->dtype, dims, outs[j]->ndim, hi - lo, err);
            if (!m[k]->outputs[j])
                return err->code;
            row += m[k]->batch_size;
        }
    }
    return INFERD_OK;
}

/* Tracing. Each helper is one branch for an untraced request; the spans reuse the
 * timestamps taken for the statistics. While a traced request runs alone, its context
 * names a new compute_infer span, so that spans the backend records (an upstream call)
 * nest under it; the server span's id waits in _trace_outer. A batch's context borrows the
 * trace of its first traced member in the same way. */
static void trace_queue(const inferd_sched_t *s, const inferd_infer_request_t *r, int64_t now,
                        inferd_status_t st)
{
    if (r->ctx.traced)
        inferd_trace_span_queue(&r->ctx, s->opt.model_name, s->opt.version, r->t_queued_ns, now,
                                st);
}

static void trace_single_begin(inferd_infer_request_t *r)
{
    if (!r->ctx.traced)
        return;
    memcpy(r->_trace_outer, r->ctx.span_id, 8);
    inferd_trace_new_span_id(r->ctx.span_id);
}

/* Before done_cb: the front end reads the server span's id back. */
static void trace_single_end(const inferd_sched_t *s, inferd_infer_request_t *r)
{
    if (!r->ctx.traced)
        return;
    uint8_t infer_id[8];
    memcpy(infer_id, r->ctx.span_id, 8);
    memcpy(r->ctx.span_id, r->_trace_outer, 8);
    int64_t t[4] = {r->t_exec_start_ns, r->t_exec_start_ns, r->t_exec_end_ns, r->t_exec_end_ns};
    inferd_trace_span_exec(&r->ctx, infer_id, s->opt.model_name, s->opt.version, r->batch_size, t,
                           r->status);
}

static void trace_batch_begin(inferd_ctx_t *bctx, inferd_infer_request_t *const *m, size_t n)
{
    for (size_t k = 0; k < n; k++)
        if (m[k]->ctx.traced) {
            memcpy(bctx->trace_id, m[k]->ctx.trace_id, 16);
            bctx->trace_flags = m[k]->ctx.trace_flags;
            bctx->tracestate = m[k]->ctx.tracestate;
            bctx->traced = true;
            inferd_trace_new_span_id(bctx->span_id);
            return;
        }
}

/* Before the members' done_cb. The first traced member's compute_infer is the one bctx
 * named. */
static void trace_batch_end(const inferd_sched_t *s, const inferd_ctx_t *bctx,
                            inferd_infer_request_t *const *m, size_t n, uint64_t rows,
                            const int64_t t[4], inferd_status_t st)
{
    if (!bctx->traced)
        return;
    bool first = true;
    for (size_t k = 0; k < n; k++) {
        if (!m[k]->ctx.traced)
            continue;
        uint8_t id[8];
        if (first)
            memcpy(id, bctx->span_id, 8);
        else
            inferd_trace_new_span_id(id);
        first = false;
        inferd_trace_span_exec(&m[k]->ctx, id, s->opt.model_name, s->opt.version, rows, t, st);
    }
}

/* Runs a batch of n >= 2 live members as one execution. */
static void run_batched(inferd_sched_t *s, inferd_infer_request_t **m, size_t n)
{
    size_t n_in = m[0]->n_inputs, n_out = m[0]->n_outputs;
    uint64_t rows = 0;
    for (size_t k = 0; k < n; k++)
        rows += m[k]->batch_size;
    int64_t t0 = inferd_now_ns();
    inferd_tensor_t **ins = inferd_xcalloc(n_in + 1, sizeof(*ins));
    inferd_tensor_t **outs = inferd_xcalloc(n_out + 1, sizeof(*outs));
    inferd_err_t err;
    inferd_status_t st = INFERD_OK;
    for (size_t i = 0; i < n_in && st == INFERD_OK; i++)
        if (!(ins[i] = concat_input(m, n, i, rows, &err)))
            st = err.code;

    /* The batch runs for the member that may run longest; it stops early only if every
     * member has gone (see below). */
    inferd_ctx_t bctx;
    inferd_ctx_init(&bctx);
    snprintf(bctx.request_id, sizeof(bctx.request_id), "%s", m[0]->ctx.request_id);
    bctx.deadline_ns = 0;
    bool all_have_deadline = true;
    for (size_t k = 0; k < n; k++) {
        all_have_deadline = all_have_deadline && m[k]->ctx.deadline_ns != 0;
        if (m[k]->ctx.deadline_ns > bctx.deadline_ns)
            bctx.deadline_ns = m[k]->ctx.deadline_ns;
    }
    if (!all_have_deadline)
        bctx.deadline_ns = 0;
    trace_batch_begin(&bctx, m, n);

    int64_t t1 = inferd_now_ns(), t2 = t1;
    if (st == INFERD_OK) {
        /* The crash report and /debug show the batch's operator for its members. */
        int listed = inferd_inflight_batch_begin(&bctx);
        for (size_t k = 0; k < n; k++) {
            m[k]->executed = true;
            inferd_inflight_batch_add(listed, &m[k]->ctx);
        }
        st = s->opt.backend->execute(&bctx, s->opt.backend_state, ins, outs, &err);
        inferd_inflight_batch_end(listed);
        t2 = inferd_now_ns();
    }
    if (st == INFERD_OK)
        st = split_outputs(m, n, rows, outs, n_out, &err);
    int64_t t3 = inferd_now_ns();
    for (size_t i = 0; i < n_in; i++)
        inferd_tensor_unref(ins[i]);
    for (size_t j = 0; j < n_out; j++)
        inferd_tensor_unref(outs[j]);
    inferd_free(ins);
    inferd_free(outs);
    if (st == INFERD_OK)
        inferd_model_stats_record_exec(s->opt.stats, rows, (uint64_t)(t1 - t0), (uint64_t)(t2 - t1),
                                       (uint64_t)(t3 - t2));
    trace_batch_end(s, &bctx, m, n, rows, (const int64_t[4]){t0, t1, t2, t3}, st);
    for (size_t k = 0; k < n; k++) {
        m[k]->t_exec_start_ns = t0;
        m[k]->t_exec_end_ns = t3;
        m[k]->status = st;
        if (st != INFERD_OK) {
            m[k]->err = err;
            for (size_t j = 0; j < n_out; j++) {
                inferd_tensor_unref(m[k]->outputs[j]);
                m[k]->outputs[j] = NULL;
            }
        }
        m[k]->done_cb(m[k]);
    }
}

/* Runs one request on its own tensors and context. */
static void run_single(inferd_sched_t *s, inferd_infer_request_t *req)
{
    trace_single_begin(req);
    req->t_exec_start_ns = inferd_now_ns();
    req->executed = true;
    req->status = s->opt.backend->execute(&req->ctx, s->opt.backend_state, req->inputs,
                                          req->outputs, &req->err);
    req->t_exec_end_ns = inferd_now_ns();
    trace_single_end(s, req);
    if (req->status == INFERD_OK)
        inferd_model_stats_record_exec(s->opt.stats, req->batch_size, 0,
                                       (uint64_t)(req->t_exec_end_ns - req->t_exec_start_ns), 0);
    req->done_cb(req);
}

/* Thread: worker. Drops members that are already dead, then runs the rest. */
static void run_batch(inferd_sched_t *s, inferd_infer_request_t **m, size_t n)
{
    int64_t now = inferd_now_ns();
    size_t alive = 0;
    for (size_t k = 0; k < n; k++) {
        inferd_infer_request_t *r = m[k];
        inferd_model_stats_record_queue(s->opt.stats, (uint64_t)(now - r->t_queued_ns));
        /* A request whose client left or whose deadline passed in the queue never runs. */
        r->status = inferd_ctx_check(&r->ctx, &r->err);
        trace_queue(s, r, now, r->status);
        if (r->status != INFERD_OK) {
            r->t_exec_start_ns = r->t_exec_end_ns = now;
            r->done_cb(r);
            continue;
        }
        m[alive++] = r;
    }
    if (alive == 1)
        run_single(s, m[0]);
    else if (alive > 1)
        run_batched(s, m, alive);
}

static void worker_main(void *arg)
{
    inferd_sched_t *s = arg;
    /* The batcher's waits are a few hundred microseconds: the default 50 us timer slack
     * would be a visible part of them. */
    prctl(PR_SET_TIMERSLACK, 1UL, 0UL, 0UL, 0UL);
    inferd_infer_request_t *batch[BATCH_MAX_REQUESTS];
    pthread_mutex_lock(&s->lock);
    for (;;) {
        if (!s->head) {
            if (s->stopping)
                break;
            inferd_thread_set_state("idle");
            pthread_cond_wait(&s->cond, &s->lock);
            continue;
        }
        int64_t wait_until;
        size_t n = form_batch(s, batch, &wait_until);
        if (n == 0) {
            inferd_thread_set_state("batching");
            cond_wait_until(&s->cond, &s->lock, wait_until);
            continue;
        }
        /* Someone else may be able to start on what is left. */
        if (s->head)
            pthread_cond_signal(&s->cond);
        s->progress_ns = inferd_now_ns();
        s->running++;
        pthread_mutex_unlock(&s->lock);
        inferd_thread_set_state("running");
        run_batch(s, batch, n);
        pthread_mutex_lock(&s->lock);
        s->progress_ns = inferd_now_ns();
        s->running--;
    }
    pthread_mutex_unlock(&s->lock);
}

/* ------------------------------------------------------------------------------------ */
/* API                                                                                  */

static int cmp_desc(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x < y) - (x > y);
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
    if (s->opt.max_batch_size < 1)
        s->opt.dynamic_batching = false;
    s->preferred = inferd_xcalloc(opt->n_preferred_batch_sizes + 1, sizeof(int64_t));
    for (size_t i = 0; i < opt->n_preferred_batch_sizes; i++)
        if (opt->preferred_batch_sizes[i] > 0 &&
            opt->preferred_batch_sizes[i] <= s->opt.max_batch_size)
            s->preferred[s->n_preferred++] = opt->preferred_batch_sizes[i];
    qsort(s->preferred, s->n_preferred, sizeof(int64_t), cmp_desc);
    s->opt.preferred_batch_sizes = NULL; /* borrowed pointer not kept */
    pthread_mutex_init(&s->lock, NULL);
    cond_init_monotonic(&s->cond);
    s->workers = inferd_xcalloc((size_t)s->opt.instance_count, sizeof(*s->workers));
    inferd_status_t st = timer_attach(s, err);
    /* A backend that runs without a thread, and no batching: no worker needed. */
    s->direct = opt->backend->abi_version >= 2 && opt->backend->execute_async &&
                (!s->opt.dynamic_batching || s->opt.max_queue_delay_us == 0);
    for (int32_t i = 0; st == INFERD_OK && !s->direct && i < s->opt.instance_count; i++) {
        char name[32];
        snprintf(name, sizeof(name), "w:%.10s:%d", opt->model_name, (int)i);
        st = inferd_thread_start(&s->workers[i], name, "worker", worker_main, s, err);
        if (st == INFERD_OK)
            s->n_workers++;
    }
    if (st != INFERD_OK) {
        inferd_sched_destroy(s);
        return st;
    }
    *out = s;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Direct mode: a backend with execute_async (remote) needs no worker thread. A request
 * that finds an execution slot open (fewer than instance_count executions under way, and
 * nobody queued) starts on the submitter's thread; the others queue, and the completion of
 * an execution (on the backend's I/O thread) forms the next batch from the queue and
 * starts it. Two thread hops fewer than a worker, with the same queue, admission bound,
 * queue timeouts and batching (with max_queue_delay 0: what is queued goes at once).
 * The slot an execution holds keeps s alive: inferd_sched_destroy waits for running 0. */

typedef struct direct_batch {
    inferd_sched_t *s;
    inferd_infer_request_t **m;
    size_t n;
    uint64_t rows;
    inferd_tensor_t **ins, **outs;
    inferd_ctx_t ctx;
    int64_t t0, t1;
} direct_batch_t;

static bool direct_run(inferd_sched_t *s, inferd_infer_request_t **m, size_t n);

/* An execution ended: hands its slot to the next batch in the queue, or frees it. The
 * caller's last use of s. */
static void direct_next(inferd_sched_t *s)
{
    inferd_infer_request_t *batch[BATCH_MAX_REQUESTS];
    for (;;) {
        pthread_mutex_lock(&s->lock);
        s->progress_ns = inferd_now_ns();
        int64_t wait_until;
        size_t n = s->head ? form_batch(s, batch, &wait_until) : 0;
        if (n == 0) {
            if (--s->running == 0)
                pthread_cond_broadcast(&s->cond); /* inferd_sched_destroy may wait */
            pthread_mutex_unlock(&s->lock);
            return;
        }
        pthread_mutex_unlock(&s->lock);
        if (direct_run(s, batch, n))
            return;
    }
}

/* Thread: the backend's completion (or the starter's). */
static void direct_single_done(void *arg, inferd_status_t st, const inferd_err_t *err)
{
    inferd_infer_request_t *req = arg;
    inferd_sched_t *s = req->_sched;
    req->t_exec_end_ns = inferd_now_ns();
    req->status = st;
    if (st != INFERD_OK)
        req->err = *err;
    else
        inferd_model_stats_record_exec(s->opt.stats, req->batch_size, 0,
                                       (uint64_t)(req->t_exec_end_ns - req->t_exec_start_ns), 0);
    trace_single_end(s, req);
    req->done_cb(req); /* the slot still held keeps s alive */
    direct_next(s);
}

static void direct_batch_done(void *arg, inferd_status_t st, const inferd_err_t *err)
{
    direct_batch_t *x = arg;
    inferd_sched_t *s = x->s;
    inferd_err_t e = {0};
    if (st != INFERD_OK)
        e = *err;
    int64_t t2 = inferd_now_ns();
    size_t n_out = x->m[0]->n_outputs;
    if (st == INFERD_OK)
        st = split_outputs(x->m, x->n, x->rows, x->outs, n_out, &e);
    int64_t t3 = inferd_now_ns();
    for (size_t i = 0; i < x->m[0]->n_inputs; i++)
        inferd_tensor_unref(x->ins[i]);
    for (size_t j = 0; j < n_out; j++)
        inferd_tensor_unref(x->outs[j]);
    if (st == INFERD_OK)
        inferd_model_stats_record_exec(s->opt.stats, x->rows, (uint64_t)(x->t1 - x->t0),
                                       (uint64_t)(t2 - x->t1), (uint64_t)(t3 - t2));
    trace_batch_end(s, &x->ctx, x->m, x->n, x->rows, (const int64_t[4]){x->t0, x->t1, t2, t3}, st);
    for (size_t k = 0; k < x->n; k++) {
        inferd_infer_request_t *r = x->m[k];
        r->t_exec_start_ns = x->t0;
        r->t_exec_end_ns = t3;
        r->status = st;
        if (st != INFERD_OK) {
            r->err = e;
            for (size_t j = 0; j < n_out; j++) {
                inferd_tensor_unref(r->outputs[j]);
                r->outputs[j] = NULL;
            }
        }
        r->done_cb(r);
    }
    inferd_free(x->ins);
    inferd_free(x->outs);
    inferd_free(x->m);
    inferd_free(x);
    direct_next(s);
}

/* Starts an execution of the live members of m on the slot the caller holds. False when
 * none was left alive (the slot is still held). */
static bool direct_run(inferd_sched_t *s, inferd_infer_request_t **m, size_t n)
{
    int64_t now = inferd_now_ns();
    size_t alive = 0;
    for (size_t k = 0; k < n; k++) {
        inferd_infer_request_t *r = m[k];
        inferd_model_stats_record_queue(s->opt.stats, (uint64_t)(now - r->t_queued_ns));
        /* A request whose client left or whose deadline passed in the queue never runs. */
        r->status = inferd_ctx_check(&r->ctx, &r->err);
        trace_queue(s, r, now, r->status);
        if (r->status != INFERD_OK) {
            r->t_exec_start_ns = r->t_exec_end_ns = now;
            r->done_cb(r);
            continue;
        }
        m[alive++] = r;
    }
    if (alive == 0)
        return false;
    inferd_err_t e;
    if (alive == 1) {
        inferd_infer_request_t *req = m[0];
        req->_sched = s;
        req->t_exec_start_ns = now;
        req->executed = true;
        trace_single_begin(req);
        if (s->opt.backend->execute_async(&req->ctx, s->opt.backend_state, req->inputs,
                                          req->outputs, direct_single_done, req, &e) != INFERD_OK)
            direct_single_done(req, e.code, &e);
        return true;
    }
    direct_batch_t *x = inferd_xcalloc(1, sizeof(*x));
    x->s = s;
    x->n = alive;
    x->m = inferd_xcalloc(alive, sizeof(*x->m));
    memcpy(x->m, m, alive * sizeof(*m));
    x->t0 = now;
    size_t n_in = m[0]->n_inputs, n_out = m[0]->n_outputs;
    x->ins = inferd_xcalloc(n_in + 1, sizeof(*x->ins));
    x->outs = inferd_xcalloc(n_out + 1, sizeof(*x->outs));
    inferd_status_t st = INFERD_OK;
    for (size_t k = 0; k < alive; k++)
        x->rows += m[k]->batch_size;
    for (size_t i = 0; i < n_in && st == INFERD_OK; i++)
        if (!(x->ins[i] = concat_input(m, alive, i, x->rows, &e)))
            st = e.code;
    /* The batch runs for the member that may run longest (as a worker's batch). */
    inferd_ctx_init(&x->ctx);
    snprintf(x->ctx.request_id, sizeof(x->ctx.request_id), "%s", m[0]->ctx.request_id);
    for (size_t k = 0; k < alive; k++) {
        if (m[k]->ctx.deadline_ns == 0) {
            x->ctx.deadline_ns = 0;
            break;
        }
        if (m[k]->ctx.deadline_ns > x->ctx.deadline_ns)
            x->ctx.deadline_ns = m[k]->ctx.deadline_ns;
    }
    for (size_t k = 0; k < alive; k++)
        m[k]->executed = true;
    trace_batch_begin(&x->ctx, m, alive);
    x->t1 = inferd_now_ns();
    if (st == INFERD_OK)
        st = s->opt.backend->execute_async(&x->ctx, s->opt.backend_state, x->ins, x->outs,
                                           direct_batch_done, x, &e);
    if (st != INFERD_OK)
        direct_batch_done(x, st, &e);
    return true;
}

/* The queue timeout for req under the policy (see inferd_sched_submit); 0 = none. */
static uint64_t queue_timeout_us(const inferd_sched_t *s, const inferd_infer_request_t *req)
{
    uint64_t def = s->opt.default_timeout_us, want = req->timeout_us;
    if (want && (s->opt.allow_timeout_override || def == 0 || want < def))
        return want;
    return def;
}

inferd_status_t inferd_sched_submit(inferd_sched_t *s, inferd_infer_request_t *req,
                                    inferd_err_t *err)
{
    req->_next = NULL;
    req->t_queued_ns = inferd_now_ns();
    uint64_t tmo = queue_timeout_us(s, req);
    req->_queue_deadline_ns = 0;
    if (tmo && tmo < 3153600000000000ull) { /* beyond ~100 years is no timeout */
        req->_queue_deadline_ns = req->t_queued_ns + (int64_t)tmo * 1000;
        if (s->opt.timeout_action == INFERD_SCHED_TIMEOUT_REJECT)
            inferd_ctx_set_timeout_us(&req->ctx, tmo);
    }
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
    if (s->direct && !s->head && s->running < s->opt.instance_count) {
        /* A free execution slot: start now, on this thread (see direct mode above). */
        s->running++;
        s->progress_ns = req->t_queued_ns;
        atomic_fetch_add_explicit(&s->opt.stats->pending, 1, memory_order_relaxed);
        pthread_mutex_unlock(&s->lock);
        if (!direct_run(s, &req, 1))
            direct_next(s);
        return INFERD_OK;
    }
    if (s->tail)
        s->tail->_next = req;
    else
        s->head = req;
    s->tail = req;
    s->queued++;
    atomic_fetch_add_explicit(&s->opt.stats->pending, 1, memory_order_relaxed);
    pthread_cond_signal(&s->cond);
    pthread_mutex_unlock(&s->lock);
    if (expires_by_reject(s, req)) {
        pthread_mutex_lock(&timer_lock);
        pthread_cond_broadcast(&timer_cond);
        pthread_mutex_unlock(&timer_lock);
    }
    return INFERD_OK;
}

void inferd_sched_set_stall_timeout_ms(uint64_t ms)
{
    atomic_store(&stall_timeout_ns, ms > INT64_MAX / 1000000 ? 0 : (int64_t)ms * 1000000);
    pthread_once(&timer_once, timer_init_once);
    pthread_mutex_lock(&timer_lock);
    pthread_cond_broadcast(&timer_cond);
    pthread_mutex_unlock(&timer_lock);
}

int64_t inferd_sched_stalled_ms(const inferd_sched_t *s)
{
    if (!s)
        return 0;
    int64_t since = atomic_load(&((inferd_sched_t *)s)->stalled_since_ns);
    if (since == 0)
        return 0;
    int64_t ms = (inferd_now_ns() - since) / 1000000;
    return ms > 0 ? ms : 1;
}

void inferd_sched_cancel(inferd_sched_t *s, inferd_infer_request_t *req)
{
    inferd_ctx_cancel(&req->ctx);
    pthread_mutex_lock(&s->lock);
    bool queued = queue_unlink(s, req);
    pthread_mutex_unlock(&s->lock);
    if (queued)
        complete_early(s, req, INFERD_E_CANCELLED, "request cancelled");
}

void inferd_sched_destroy(inferd_sched_t *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->lock);
    s->stopping = true;
    pthread_cond_broadcast(&s->cond);
    /* Direct mode: an execution's completion may still be handing its slot on (a short
     * path that waits on nothing). */
    while (s->direct && s->running > 0)
        pthread_cond_wait(&s->cond, &s->lock);
    pthread_mutex_unlock(&s->lock);
    for (int32_t i = 0; i < s->n_workers; i++)
        inferd_thread_join(s->workers[i]);
    timer_detach(s);
    inferd_free(s->workers);
    inferd_free(s->preferred);
    pthread_cond_destroy(&s->cond);
    pthread_mutex_destroy(&s->lock);
    inferd_free(s);
}

void inferd_sched_recheck_arrivals(void)
{
    /* timer_scheds lists every live scheduler; timer_lock before s->lock, as timer_main. */
    pthread_mutex_lock(&timer_lock);
    for (inferd_sched_t *s = timer_scheds; s; s = s->timer_next) {
        pthread_mutex_lock(&s->lock);
        if (s->head)
            pthread_cond_broadcast(&s->cond);
        pthread_mutex_unlock(&s->lock);
    }
    pthread_mutex_unlock(&timer_lock);
}

void inferd_sched_set_arrival_probe(bool (*probe)(void))
{
    atomic_store_explicit(&arrival_probe, probe, memory_order_release);
}
