/* Tests for src/sched/sched.c with a fake backend whose execute can be held at a gate. */
#include "test.h"

#include <pthread.h>
#include <string.h>
#include <time.h>

#include "core/thread.h"
#include "sched/sched.h"

/* ---- fake backend ------------------------------------------------------------------ */

static pthread_mutex_t gate_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t gate_cond = PTHREAD_COND_INITIALIZER;
static bool gate_open;
static int running; /* executions inside the gate, under gate_lock */
static atomic_int executed;
static float exec_first[64];  /* first element of each execution's input, in order */
static int64_t exec_rows[64]; /* rows of each execution */

static inferd_status_t fake_execute(inferd_ctx_t *ctx, void *state, inferd_tensor_t *const *in,
                                    inferd_tensor_t **out, inferd_err_t *err)
{
    (void)ctx;
    (void)state;
    (void)err;
    pthread_mutex_lock(&gate_lock);
    running++;
    pthread_cond_broadcast(&gate_cond);
    while (!gate_open)
        pthread_cond_wait(&gate_cond, &gate_lock);
    running--;
    pthread_mutex_unlock(&gate_lock);
    int k = atomic_fetch_add(&executed, 1);
    if (k < 64) {
        exec_first[k] = in[0]->nbytes ? ((const float *)in[0]->data)[0] : -1.0f;
        exec_rows[k] = in[0]->ndim ? in[0]->dims[0] : 1;
    }
    out[0] = inferd_tensor_ref(in[0]);
    return INFERD_OK;
}

static const inferd_backend_vtable_t fake_backend = {
    .abi_version = INFERD_BACKEND_ABI_VERSION,
    .name = "fake",
    .execute = fake_execute,
};

static void set_gate(bool open)
{
    pthread_mutex_lock(&gate_lock);
    gate_open = open;
    pthread_cond_broadcast(&gate_cond);
    pthread_mutex_unlock(&gate_lock);
}

static void wait_running(int n)
{
    pthread_mutex_lock(&gate_lock);
    while (running < n)
        pthread_cond_wait(&gate_cond, &gate_lock);
    pthread_mutex_unlock(&gate_lock);
}

/* ---- requests ---------------------------------------------------------------------- */

typedef struct {
    inferd_infer_request_t req;
    inferd_tensor_t *in[1];
    inferd_tensor_t *out[1];
    atomic_bool done;
} fake_req_t;

static void done_cb(inferd_infer_request_t *r)
{
    fake_req_t *f = r->done_arg;
    atomic_store(&f->done, true);
}

/* A request of `rows` rows of 2 floats; row r holds (base + r, base + r + 0.5). */
static void fake_req_init_rows(fake_req_t *f, int64_t rows, float base)
{
    memset(f, 0, sizeof(*f));
    inferd_ctx_init(&f->req.ctx);
    int64_t dims[2] = {rows, 2};
    f->in[0] = inferd_tensor_create(INFERD_DTYPE_FP32, dims, 2, 0, INFERD_OWNER_REQUEST, NULL);
    float *d = f->in[0]->data;
    for (int64_t r = 0; r < rows; r++) {
        d[2 * r] = base + (float)r;
        d[2 * r + 1] = base + (float)r + 0.5f;
    }
    f->req.inputs = f->in;
    f->req.n_inputs = 1;
    f->req.outputs = f->out;
    f->req.n_outputs = 1;
    f->req.batch_size = (uint64_t)rows;
    f->req.done_cb = done_cb;
    f->req.done_arg = f;
    atomic_init(&f->done, false);
}

static void fake_req_init(fake_req_t *f)
{
    memset(f, 0, sizeof(*f));
    inferd_ctx_init(&f->req.ctx);
    int64_t dims[1] = {2};
    f->in[0] = inferd_tensor_create(INFERD_DTYPE_FP32, dims, 1, 0, INFERD_OWNER_REQUEST, NULL);
    f->req.inputs = f->in;
    f->req.n_inputs = 1;
    f->req.outputs = f->out;
    f->req.n_outputs = 1;
    f->req.batch_size = 1;
    f->req.done_cb = done_cb;
    f->req.done_arg = f;
    atomic_init(&f->done, false);
}

static void fake_req_wait(fake_req_t *f)
{
    struct timespec ts = {0, 1000000};
    for (int i = 0; i < 10000 && !atomic_load(&f->done); i++)
        nanosleep(&ts, NULL);
    assert_true(atomic_load(&f->done));
}

static void fake_req_deinit(fake_req_t *f)
{
    inferd_tensor_unref(f->in[0]);
    inferd_tensor_unref(f->out[0]);
}

static inferd_model_stats_t stats;

static inferd_sched_t *make_sched_opts(inferd_sched_options_t o)
{
    inferd_model_stats_init(&stats);
    o.model_name = "fake";
    o.version = 1;
    o.backend = &fake_backend;
    o.stats = &stats;
    inferd_sched_t *s = NULL;
    inferd_err_t err;
    assert_int_equal(inferd_sched_create(&o, &s, &err), INFERD_OK);
    return s;
}

static inferd_sched_t *make_sched(int instances, uint32_t queue)
{
    inferd_model_stats_init(&stats);
    inferd_sched_options_t o = {
        .model_name = "fake",
        .version = 1,
        .instance_count = instances,
        .max_queue_size = queue,
        .backend = &fake_backend,
        .stats = &stats,
    };
    inferd_sched_t *s = NULL;
    inferd_err_t err;
    assert_int_equal(inferd_sched_create(&o, &s, &err), INFERD_OK);
    assert_non_null(s);
    return s;
}

/* ---- tests ------------------------------------------------------------------------- */

static void test_runs_and_counts(void **state)
{
    (void)state;
    size_t base = inferd_thread_count();
    set_gate(true);
    atomic_store(&executed, 0);
    inferd_sched_t *s = make_sched(2, 8);
    assert_int_equal(inferd_thread_count(), base + 3); /* two workers and the timer */
    fake_req_t r[4];
    inferd_err_t err;
    for (int i = 0; i < 4; i++) {
        fake_req_init(&r[i]);
        assert_int_equal(inferd_sched_submit(s, &r[i].req, &err), INFERD_OK);
    }
    for (int i = 0; i < 4; i++) {
        fake_req_wait(&r[i]);
        assert_int_equal(r[i].req.status, INFERD_OK);
        assert_ptr_equal(r[i].out[0], r[i].in[0]);
        fake_req_deinit(&r[i]);
    }
    inferd_sched_destroy(s);
    assert_int_equal(inferd_thread_count(), base);
    assert_int_equal(atomic_load(&executed), 4);
    assert_int_equal(atomic_load(&stats.exec_count), 4);
    assert_int_equal(atomic_load(&stats.inference_count), 4);
    assert_int_equal(atomic_load(&stats.pending), 0);
    assert_no_live_tensors();
}

static void test_full_queue_rejects(void **state)
{
    (void)state;
    set_gate(false);
    inferd_sched_t *s = make_sched(1, 2);
    fake_req_t r[4];
    inferd_err_t err;
    fake_req_init(&r[0]);
    assert_int_equal(inferd_sched_submit(s, &r[0].req, &err), INFERD_OK);
    wait_running(1); /* r0 is executing, the queue is empty */
    for (int i = 1; i < 3; i++) {
        fake_req_init(&r[i]);
        assert_int_equal(inferd_sched_submit(s, &r[i].req, &err), INFERD_OK);
    }
    fake_req_init(&r[3]);
    assert_int_equal(inferd_sched_submit(s, &r[3].req, &err), INFERD_E_RESOURCE_EXHAUSTED);
    assert_non_null(strstr(err.msg, "queue is full"));
    assert_false(atomic_load(&r[3].done));
    set_gate(true);
    for (int i = 0; i < 3; i++) {
        fake_req_wait(&r[i]);
        assert_int_equal(r[i].req.status, INFERD_OK);
    }
    inferd_sched_destroy(s);
    for (int i = 0; i < 4; i++)
        fake_req_deinit(&r[i]);
    assert_no_live_tensors();
}

static void test_expired_and_cancelled_never_run(void **state)
{
    (void)state;
    set_gate(false);
    atomic_store(&executed, 0);
    inferd_sched_t *s = make_sched(1, 8);
    fake_req_t blocker, late, gone;
    inferd_err_t err;
    fake_req_init(&blocker);
    assert_int_equal(inferd_sched_submit(s, &blocker.req, &err), INFERD_OK);
    wait_running(1);

    fake_req_init(&late);
    inferd_ctx_set_timeout_us(&late.req.ctx, 1000); /* 1 ms: passes while queued */
    assert_int_equal(inferd_sched_submit(s, &late.req, &err), INFERD_OK);
    fake_req_init(&gone);
    assert_int_equal(inferd_sched_submit(s, &gone.req, &err), INFERD_OK);
    inferd_ctx_cancel(&gone.req.ctx);

    struct timespec ts = {0, 20000000};
    nanosleep(&ts, NULL);
    set_gate(true);
    fake_req_wait(&blocker);
    fake_req_wait(&late);
    fake_req_wait(&gone);
    assert_int_equal(blocker.req.status, INFERD_OK);
    assert_int_equal(late.req.status, INFERD_E_DEADLINE_EXCEEDED);
    assert_int_equal(gone.req.status, INFERD_E_CANCELLED);
    assert_null(late.out[0]);
    assert_null(gone.out[0]);
    assert_int_equal(atomic_load(&executed), 1);
    inferd_sched_destroy(s);
    fake_req_deinit(&blocker);
    fake_req_deinit(&late);
    fake_req_deinit(&gone);
    assert_no_live_tensors();
}

static void test_destroy_drains_queue(void **state)
{
    (void)state;
    set_gate(true);
    atomic_store(&executed, 0);
    inferd_sched_t *s = make_sched(1, 64);
    fake_req_t r[16];
    inferd_err_t err;
    for (int i = 0; i < 16; i++) {
        fake_req_init(&r[i]);
        assert_int_equal(inferd_sched_submit(s, &r[i].req, &err), INFERD_OK);
    }
    inferd_sched_destroy(s); /* every queued request still completes */
    for (int i = 0; i < 16; i++) {
        assert_true(atomic_load(&r[i].done));
        fake_req_deinit(&r[i]);
    }
    assert_int_equal(atomic_load(&executed), 16);
    assert_no_live_tensors();
}

static void sleep_ms(int ms)
{
    struct timespec ts = {0, (long)ms * 1000000};
    nanosleep(&ts, NULL);
}

/* Requests queued behind a running one are concatenated into one execution, and each gets
 * exactly its own rows back. */
static void test_dynamic_batching_concatenates_and_splits(void **state)
{
    (void)state;
    set_gate(false);
    atomic_store(&executed, 0);
    inferd_sched_t *s = make_sched_opts((inferd_sched_options_t){
        .instance_count = 1, .max_queue_size = 16, .dynamic_batching = true, .max_batch_size = 4});
    fake_req_t blocker, r[3];
    inferd_err_t err;
    fake_req_init_rows(&blocker, 1, 100);
    assert_int_equal(inferd_sched_submit(s, &blocker.req, &err), INFERD_OK);
    wait_running(1);
    int64_t rows[3] = {1, 2, 1};
    for (int i = 0; i < 3; i++) {
        fake_req_init_rows(&r[i], rows[i], (float)(10 * (i + 1)));
        assert_int_equal(inferd_sched_submit(s, &r[i].req, &err), INFERD_OK);
    }
    set_gate(true);
    fake_req_wait(&blocker);
    for (int i = 0; i < 3; i++) {
        fake_req_wait(&r[i]);
        assert_int_equal(r[i].req.status, INFERD_OK);
        const inferd_tensor_t *o = r[i].out[0];
        assert_non_null(o);
        assert_int_equal(o->ndim, 2);
        assert_int_equal(o->dims[0], rows[i]);
        assert_int_equal(o->dims[1], 2);
        assert_memory_equal(o->data, r[i].in[0]->data, r[i].in[0]->nbytes);
    }
    assert_int_equal(atomic_load(&executed), 2); /* the blocker, then one batch of 4 rows */
    assert_int_equal(exec_rows[1], 4);
    assert_int_equal(atomic_load(&stats.exec_count), 2);
    assert_int_equal(atomic_load(&stats.inference_count), 5);
    inferd_sched_destroy(s);
    fake_req_deinit(&blocker);
    for (int i = 0; i < 3; i++)
        fake_req_deinit(&r[i]);
    assert_no_live_tensors();
}

/* A batch never exceeds max_batch_size, and incompatible shapes are not mixed. */
static void test_batches_respect_max_and_shapes(void **state)
{
    (void)state;
    set_gate(false);
    atomic_store(&executed, 0);
    inferd_sched_t *s = make_sched_opts((inferd_sched_options_t){
        .instance_count = 1, .max_queue_size = 16, .dynamic_batching = true, .max_batch_size = 3});
    fake_req_t blocker, r[4];
    inferd_err_t err;
    fake_req_init_rows(&blocker, 1, 100);
    assert_int_equal(inferd_sched_submit(s, &blocker.req, &err), INFERD_OK);
    wait_running(1);
    for (int i = 0; i < 4; i++) {
        fake_req_init_rows(&r[i], 1, (float)i);
        assert_int_equal(inferd_sched_submit(s, &r[i].req, &err), INFERD_OK);
    }
    set_gate(true);
    for (int i = 0; i < 4; i++) {
        fake_req_wait(&r[i]);
        assert_int_equal(r[i].req.status, INFERD_OK);
        assert_memory_equal(r[i].out[0]->data, r[i].in[0]->data, 8);
    }
    inferd_sched_destroy(s);
    assert_int_equal(atomic_load(&executed), 3); /* blocker, 3 rows, 1 row */
    assert_int_equal(exec_rows[1], 3);
    assert_int_equal(exec_rows[2], 1);
    fake_req_deinit(&blocker);
    for (int i = 0; i < 4; i++)
        fake_req_deinit(&r[i]);
    assert_no_live_tensors();
}

/* A preferred size is sent as soon as it can be formed, without waiting for more. */
static void test_preferred_batch_size_goes_first(void **state)
{
    (void)state;
    set_gate(false);
    atomic_store(&executed, 0);
    int64_t preferred[1] = {2};
    inferd_sched_t *s = make_sched_opts((inferd_sched_options_t){
        .instance_count = 1,
        .max_queue_size = 16,
        .dynamic_batching = true,
        .max_batch_size = 8,
        .preferred_batch_sizes = preferred,
        .n_preferred_batch_sizes = 1,
        .max_queue_delay_us = 60000000 /* a minute: only the preferred size can send it */});
    fake_req_t blocker, r[2];
    inferd_err_t err;
    fake_req_init_rows(&blocker, 2, 100);
    assert_int_equal(inferd_sched_submit(s, &blocker.req, &err), INFERD_OK);
    wait_running(1);
    for (int i = 0; i < 2; i++) {
        fake_req_init_rows(&r[i], 1, (float)i);
        assert_int_equal(inferd_sched_submit(s, &r[i].req, &err), INFERD_OK);
    }
    set_gate(true);
    for (int i = 0; i < 2; i++) {
        fake_req_wait(&r[i]);
        assert_int_equal(r[i].req.status, INFERD_OK);
    }
    assert_int_equal(exec_rows[1], 2);
    inferd_sched_destroy(s);
    fake_req_deinit(&blocker);
    for (int i = 0; i < 2; i++)
        fake_req_deinit(&r[i]);
    assert_no_live_tensors();
}

static atomic_bool may_arrive;

static bool probe_may_arrive(void)
{
    return atomic_load(&may_arrive);
}

/* A batch waiting out its delay because a client could still send is sent as soon as the
 * front end says nobody can and asks the batchers to look again. */
static void test_recheck_arrivals_sends_a_waiting_batch(void **state)
{
    (void)state;
    set_gate(true);
    atomic_store(&may_arrive, true);
    inferd_sched_set_arrival_probe(probe_may_arrive);
    inferd_sched_t *s =
        make_sched_opts((inferd_sched_options_t){.instance_count = 1,
                                                 .max_queue_size = 16,
                                                 .dynamic_batching = true,
                                                 .max_batch_size = 8,
                                                 .max_queue_delay_us = 60000000 /* a minute */});
    fake_req_t r;
    inferd_err_t err;
    fake_req_init_rows(&r, 1, 0);
    assert_int_equal(inferd_sched_submit(s, &r.req, &err), INFERD_OK);
    sleep_ms(50);
    assert_false(atomic_load(&r.done)); /* waiting for company */
    atomic_store(&may_arrive, false);
    inferd_sched_recheck_arrivals();
    fake_req_wait(&r); /* at most 10 s, far below the delay */
    assert_int_equal(r.req.status, INFERD_OK);
    inferd_sched_destroy(s);
    inferd_sched_set_arrival_probe(NULL);
    fake_req_deinit(&r);
    assert_no_live_tensors();
}

/* REJECT: a request whose queue timeout passes is answered by the timer while the worker is
 * still busy, and never runs. */
static void test_queue_timeout_reject_answers_while_busy(void **state)
{
    (void)state;
    set_gate(false);
    atomic_store(&executed, 0);
    inferd_sched_t *s =
        make_sched_opts((inferd_sched_options_t){.instance_count = 1,
                                                 .max_queue_size = 16,
                                                 .dynamic_batching = true,
                                                 .max_batch_size = 4,
                                                 .timeout_action = INFERD_SCHED_TIMEOUT_REJECT,
                                                 .default_timeout_us = 5000,
                                                 .allow_timeout_override = true});
    fake_req_t blocker, late;
    inferd_err_t err;
    fake_req_init_rows(&blocker, 1, 100);
    blocker.req.timeout_us = 60000000; /* overrides the 5 ms default */
    assert_int_equal(inferd_sched_submit(s, &blocker.req, &err), INFERD_OK);
    wait_running(1);
    fake_req_init_rows(&late, 1, 1);
    assert_int_equal(inferd_sched_submit(s, &late.req, &err), INFERD_OK);
    fake_req_wait(&late); /* the gate is still closed */
    assert_int_equal(late.req.status, INFERD_E_DEADLINE_EXCEEDED);
    assert_false(late.req.executed);
    assert_int_equal(atomic_load(&stats.pending), 0);
    set_gate(true);
    fake_req_wait(&blocker);
    assert_int_equal(blocker.req.status, INFERD_OK);
    assert_int_equal(atomic_load(&executed), 1);
    inferd_sched_destroy(s);
    fake_req_deinit(&blocker);
    fake_req_deinit(&late);
    assert_no_live_tensors();
}

/* DELAY: an expired request is not rejected but runs after those that have not expired. */
static void test_queue_timeout_delay_reorders(void **state)
{
    (void)state;
    set_gate(false);
    atomic_store(&executed, 0);
    inferd_sched_t *s =
        make_sched_opts((inferd_sched_options_t){.instance_count = 1,
                                                 .max_queue_size = 16,
                                                 .dynamic_batching = true,
                                                 .max_batch_size = 1,
                                                 .timeout_action = INFERD_SCHED_TIMEOUT_DELAY,
                                                 .allow_timeout_override = true});
    fake_req_t blocker, expired, fresh;
    inferd_err_t err;
    fake_req_init_rows(&blocker, 1, 100);
    assert_int_equal(inferd_sched_submit(s, &blocker.req, &err), INFERD_OK);
    wait_running(1);
    fake_req_init_rows(&expired, 1, 1);
    expired.req.timeout_us = 1000;
    assert_int_equal(inferd_sched_submit(s, &expired.req, &err), INFERD_OK);
    fake_req_init_rows(&fresh, 1, 2);
    assert_int_equal(inferd_sched_submit(s, &fresh.req, &err), INFERD_OK);
    sleep_ms(20);
    set_gate(true);
    fake_req_wait(&expired);
    fake_req_wait(&fresh);
    assert_int_equal(expired.req.status, INFERD_OK);
    assert_int_equal(fresh.req.status, INFERD_OK);
    assert_int_equal(atomic_load(&executed), 3);
    assert_true(exec_first[1] == 2.0f); /* fresh first */
    assert_true(exec_first[2] == 1.0f);
    inferd_sched_destroy(s);
    fake_req_deinit(&blocker);
    fake_req_deinit(&expired);
    fake_req_deinit(&fresh);
    assert_no_live_tensors();
}

/* Cancelling a queued request completes it at once and frees its place. */
static void test_cancel_removes_queued_request(void **state)
{
    (void)state;
    set_gate(false);
    atomic_store(&executed, 0);
    inferd_sched_t *s = make_sched(1, 1);
    fake_req_t blocker, queued, next;
    inferd_err_t err;
    fake_req_init(&blocker);
    assert_int_equal(inferd_sched_submit(s, &blocker.req, &err), INFERD_OK);
    wait_running(1);
    fake_req_init(&queued);
    assert_int_equal(inferd_sched_submit(s, &queued.req, &err), INFERD_OK);
    fake_req_init(&next);
    assert_int_equal(inferd_sched_submit(s, &next.req, &err), INFERD_E_RESOURCE_EXHAUSTED);
    inferd_sched_cancel(s, &queued.req);
    assert_true(atomic_load(&queued.done)); /* completed on this thread, gate still closed */
    assert_int_equal(queued.req.status, INFERD_E_CANCELLED);
    assert_int_equal(inferd_sched_submit(s, &next.req, &err), INFERD_OK); /* room again */
    set_gate(true);
    fake_req_wait(&blocker);
    fake_req_wait(&next);
    assert_int_equal(atomic_load(&executed), 2);
    inferd_sched_destroy(s);
    fake_req_deinit(&blocker);
    fake_req_deinit(&queued);
    fake_req_deinit(&next);
    assert_no_live_tensors();
}

/* The progress watchdog: a request queued behind an execution that does not finish makes
 * the scheduler stalled (and the stats gauge 1) once the bound passes; when the execution
 * finishes and the queue drains it is not stalled any more. A lone long execution with
 * nothing queued is not a stall. */
static void test_watchdog_flags_a_stuck_queue(void **state)
{
    (void)state;
    assert_int_equal(inferd_sched_stalled_ms(NULL), 0);
    set_gate(false);
    inferd_sched_set_stall_timeout_ms(20);
    inferd_sched_t *s = make_sched(1, 8);
    fake_req_t blocker, queued;
    inferd_err_t err;
    fake_req_init(&blocker);
    assert_int_equal(inferd_sched_submit(s, &blocker.req, &err), INFERD_OK);
    wait_running(1);
    sleep_ms(100); /* five bounds with one execution and an empty queue */
    assert_int_equal(inferd_sched_stalled_ms(s), 0);
    assert_int_equal(atomic_load(&stats.stalled), 0);

    fake_req_init(&queued);
    assert_int_equal(inferd_sched_submit(s, &queued.req, &err), INFERD_OK);
    for (int i = 0; i < 500 && inferd_sched_stalled_ms(s) == 0; i++)
        sleep_ms(10);
    assert_true(inferd_sched_stalled_ms(s) > 0);
    assert_int_equal(atomic_load(&stats.stalled), 1);

    set_gate(true);
    fake_req_wait(&blocker);
    fake_req_wait(&queued);
    for (int i = 0; i < 500 && inferd_sched_stalled_ms(s) != 0; i++)
        sleep_ms(10);
    assert_int_equal(inferd_sched_stalled_ms(s), 0);
    assert_int_equal(atomic_load(&stats.stalled), 0);
    inferd_sched_set_stall_timeout_ms(0);
    inferd_sched_destroy(s);
    fake_req_deinit(&blocker);
    fake_req_deinit(&queued);
    assert_no_live_tensors();
}

/* ---- direct mode: a backend with execute_async ------------------------------------- */

typedef struct {
    inferd_tensor_t *const *in;
    inferd_tensor_t **out;
    inferd_backend_done_fn done;
    void *arg;
    pthread_t thread; /* where the execution was started */
} async_call_t;

static async_call_t async_calls[8];
static int n_async_calls;

static inferd_status_t fake_execute_async(inferd_ctx_t *ctx, void *state,
                                          inferd_tensor_t *const *in, inferd_tensor_t **out,
                                          inferd_backend_done_fn done, void *arg, inferd_err_t *err)
{
    (void)ctx;
    (void)state;
    (void)err;
    assert_true(n_async_calls < 8);
    async_calls[n_async_calls++] = (async_call_t){in, out, done, arg, pthread_self()};
    return INFERD_OK;
}

static const inferd_backend_vtable_t fake_async_backend = {
    .abi_version = INFERD_BACKEND_ABI_VERSION,
    .name = "fake-async",
    .execute = fake_execute,
    .execute_async = fake_execute_async,
};

/* Completes the k-th started execution, as the backend's I/O thread would. */
static void async_complete(int k)
{
    async_call_t *c = &async_calls[k];
    c->out[0] = inferd_tensor_ref(c->in[0]);
    c->done(c->arg, INFERD_OK, NULL);
}

/* No worker: a request that finds the execution slot free starts on the submitting
 * thread; those that arrive meanwhile queue (bounded) and go as one batch when the running
 * execution completes; each gets its own rows back. */
static void test_direct_mode_runs_without_a_worker(void **state)
{
    (void)state;
    n_async_calls = 0;
    inferd_model_stats_init(&stats);
    inferd_sched_options_t o = {.model_name = "fake",
                                .version = 1,
                                .instance_count = 1,
                                .max_queue_size = 3,
                                .backend = &fake_async_backend,
                                .stats = &stats,
                                .dynamic_batching = true,
                                .max_batch_size = 4};
    inferd_sched_t *s = NULL;
    inferd_err_t err;
    assert_int_equal(inferd_sched_create(&o, &s, &err), INFERD_OK);
    fake_req_t blocker, r[3], extra;
    fake_req_init_rows(&blocker, 1, 100);
    assert_int_equal(inferd_sched_submit(s, &blocker.req, &err), INFERD_OK);
    assert_int_equal(n_async_calls, 1);
    assert_true(pthread_equal(async_calls[0].thread, pthread_self()));
    int64_t rows[3] = {1, 2, 1};
    for (int i = 0; i < 3; i++) {
        fake_req_init_rows(&r[i], rows[i], (float)(10 * (i + 1)));
        assert_int_equal(inferd_sched_submit(s, &r[i].req, &err), INFERD_OK);
    }
    assert_int_equal(n_async_calls, 1); /* the slot is taken: they queue */
    assert_int_equal(atomic_load(&stats.pending), 3);
    fake_req_init_rows(&extra, 1, 0);
    assert_int_equal(inferd_sched_submit(s, &extra.req, &err), INFERD_E_RESOURCE_EXHAUSTED);
    async_complete(0);
    assert_true(atomic_load(&blocker.done));
    assert_int_equal(blocker.req.status, INFERD_OK);
    assert_int_equal(n_async_calls, 2); /* the completion started the queued batch */
    assert_int_equal(async_calls[1].in[0]->dims[0], 4);
    assert_false(atomic_load(&r[0].done));
    async_complete(1);
    for (int i = 0; i < 3; i++) {
        assert_true(atomic_load(&r[i].done));
        assert_int_equal(r[i].req.status, INFERD_OK);
        const inferd_tensor_t *out = r[i].out[0];
        assert_int_equal(out->dims[0], rows[i]);
        assert_memory_equal(out->data, r[i].in[0]->data, r[i].in[0]->nbytes);
    }
    assert_int_equal(atomic_load(&stats.exec_count), 2);
    assert_int_equal(atomic_load(&stats.inference_count), 5);
    assert_int_equal(atomic_load(&stats.pending), 0);
    /* The slot is free again: the next request starts at once. */
    fake_req_t again;
    fake_req_init_rows(&again, 1, 7);
    assert_int_equal(inferd_sched_submit(s, &again.req, &err), INFERD_OK);
    assert_int_equal(n_async_calls, 3);
    async_complete(2);
    assert_true(atomic_load(&again.done));
    inferd_sched_destroy(s);
    fake_req_deinit(&blocker);
    fake_req_deinit(&extra);
    fake_req_deinit(&again);
    for (int i = 0; i < 3; i++)
        fake_req_deinit(&r[i]);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_runs_and_counts),
        cmocka_unit_test(test_full_queue_rejects),
        cmocka_unit_test(test_expired_and_cancelled_never_run),
        cmocka_unit_test(test_destroy_drains_queue),
        cmocka_unit_test(test_dynamic_batching_concatenates_and_splits),
        cmocka_unit_test(test_batches_respect_max_and_shapes),
        cmocka_unit_test(test_preferred_batch_size_goes_first),
        cmocka_unit_test(test_queue_timeout_reject_answers_while_busy),
        cmocka_unit_test(test_queue_timeout_delay_reorders),
        cmocka_unit_test(test_cancel_removes_queued_request),
        cmocka_unit_test(test_watchdog_flags_a_stuck_queue),
        cmocka_unit_test(test_direct_mode_runs_without_a_worker),
        cmocka_unit_test(test_recheck_arrivals_sends_a_waiting_batch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
