/* Tests for src/core/pool.c: every task runs exactly once (with and without workers,
 * with a budget), concurrent callers share a busy pool without deadlock, caller-only
 * mode, nested calls, the per-thread budget and default pool, and destroy joins every
 * worker (the registry's thread count returns to its baseline). Built under TSan too. */
#include "test.h"

#include <stdatomic.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"
#include "core/pool.h"
#include "core/thread.h"

#define N_TASKS 1000

typedef struct counts {
    atomic_int hits[N_TASKS];
    atomic_int total;
} counts_t;

static void count_cb(void *arg, int64_t t)
{
    counts_t *c = arg;
    atomic_fetch_add(&c->hits[t], 1);
    atomic_fetch_add(&c->total, 1);
}

static void expect_once(counts_t *c, int64_t n)
{
    for (int64_t t = 0; t < n; t++)
        if (atomic_load(&c->hits[t]) != 1)
            fail_msg("task %lld ran %d times", (long long)t, atomic_load(&c->hits[t]));
    assert_int_equal(atomic_load(&c->total), n);
}

static void tasks_run_exactly_once(void **state)
{
    (void)state;
    size_t base = inferd_thread_count();
    inferd_pool_t *pool;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(3, &pool, &err), INFERD_OK);
    assert_int_equal(inferd_pool_workers(pool), 3);
    assert_int_equal(inferd_thread_count(), base + 3);
    static const int64_t ns[] = {0, 1, 2, 7, N_TASKS};
    static const int limits[] = {0, 1, 2, 4, 100};
    for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++)
        for (size_t l = 0; l < sizeof(limits) / sizeof(limits[0]); l++)
            for (int rep = 0; rep < 20; rep++) {
                counts_t *c = inferd_xcalloc(1, sizeof(*c));
                inferd_pool_parallel_for(pool, ns[i], limits[l], count_cb, c);
                expect_once(c, ns[i]);
                inferd_free(c);
            }
    inferd_pool_destroy(pool);
    assert_int_equal(inferd_thread_count(), base);
}

/* No pool (NULL) and a pool of zero workers: all tasks on the caller. */
typedef struct who {
    atomic_int other_thread;
    _Atomic(void *) caller;
} who_t;

static _Thread_local int marker;

static void who_cb(void *arg, int64_t t)
{
    (void)t;
    who_t *w = arg;
    if (atomic_load(&w->caller) != (void *)&marker)
        atomic_fetch_add(&w->other_thread, 1);
}

static void caller_only(void **state)
{
    (void)state;
    who_t w = {0};
    atomic_store(&w.caller, (void *)&marker);
    inferd_pool_parallel_for(NULL, 50, 0, who_cb, &w);
    assert_int_equal(atomic_load(&w.other_thread), 0);

    inferd_pool_t *pool;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(0, &pool, &err), INFERD_OK);
    inferd_pool_parallel_for(pool, 50, 0, who_cb, &w);
    assert_int_equal(atomic_load(&w.other_thread), 0);
    inferd_pool_destroy(pool);

    /* max_threads 1 keeps the work on the caller even with idle workers. */
    assert_int_equal(inferd_pool_create(2, &pool, &err), INFERD_OK);
    inferd_pool_parallel_for(pool, 50, 1, who_cb, &w);
    assert_int_equal(atomic_load(&w.other_thread), 0);
    inferd_pool_destroy(pool);

    assert_int_equal(inferd_pool_create(-1, &pool, &err), INFERD_E_INVALID_ARG);
    assert_null(pool);
    assert_int_equal(inferd_pool_create(100000, &pool, &err), INFERD_E_INVALID_ARG);
    inferd_pool_destroy(NULL);
    assert_int_equal(inferd_pool_workers(NULL), 0);
}

/* Two tasks that each wait for the other to start: they can only both finish if an idle
 * worker really took one (bounded wait, so a failure is a failed test, not a hang). */
static void rendezvous_cb(void *arg, int64_t t)
{
    (void)t;
    atomic_int *arrived = arg;
    atomic_fetch_add(arrived, 1);
    time_t end = time(NULL) + 20;
    while (atomic_load(arrived) < 2 && time(NULL) < end)
        ;
}

static void workers_help(void **state)
{
    (void)state;
    inferd_pool_t *pool;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(1, &pool, &err), INFERD_OK);
    for (int rep = 0; rep < 5; rep++) {
        atomic_int arrived = 0;
        inferd_pool_parallel_for(pool, 2, 2, rendezvous_cb, &arrived);
        assert_int_equal(atomic_load(&arrived), 2);
    }
    inferd_pool_destroy(pool);
}

/* Slow tasks, so workers are busy and other callers find none free. */
static void slow_cb(void *arg, int64_t t)
{
    count_cb(arg, t);
    for (volatile int i = 0; i < 2000; i++)
        ;
}

typedef struct caller_arg {
    inferd_pool_t *pool;
    int rounds;
    atomic_int failures;
} caller_arg_t;

static void caller_main(void *arg)
{
    caller_arg_t *ca = arg;
    for (int r = 0; r < ca->rounds; r++) {
        counts_t *c = inferd_xcalloc(1, sizeof(*c));
        int64_t n = 1 + (r * 37) % N_TASKS;
        inferd_pool_parallel_for(ca->pool, n, 0, r % 3 ? slow_cb : count_cb, c);
        for (int64_t t = 0; t < n; t++)
            if (atomic_load(&c->hits[t]) != 1)
                atomic_fetch_add(&ca->failures, 1);
        inferd_free(c);
    }
}

static void concurrent_callers(void **state)
{
    (void)state;
    size_t base = inferd_thread_count();
    inferd_pool_t *pool;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(2, &pool, &err), INFERD_OK);
    caller_arg_t ca = {.pool = pool, .rounds = 60};
    inferd_thread_t *th[4];
    for (int i = 0; i < 4; i++)
        assert_int_equal(inferd_thread_start(&th[i], "pool-caller", "test", caller_main, &ca, &err),
                         INFERD_OK);
    caller_main(&ca); /* this thread calls too */
    for (int i = 0; i < 4; i++)
        inferd_thread_join(th[i]);
    assert_int_equal(atomic_load(&ca.failures), 0);
    inferd_pool_destroy(pool);
    assert_int_equal(inferd_thread_count(), base);
}

/* A task that itself calls parallel_for on the same pool. */
typedef struct nested {
    inferd_pool_t *pool;
    counts_t inner[8];
} nested_t;

static void outer_cb(void *arg, int64_t t)
{
    nested_t *n = arg;
    inferd_pool_parallel_for(n->pool, 100, 0, count_cb, &n->inner[t]);
}

static void nested_calls(void **state)
{
    (void)state;
    inferd_pool_t *pool;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(2, &pool, &err), INFERD_OK);
    nested_t *n = inferd_xcalloc(1, sizeof(*n));
    n->pool = pool;
    inferd_pool_parallel_for(pool, 8, 0, outer_cb, n);
    for (int i = 0; i < 8; i++)
        expect_once(&n->inner[i], 100);
    inferd_free(n);
    inferd_pool_destroy(pool);
}

static void default_pool_and_budget(void **state)
{
    (void)state;
    assert_null(inferd_pool_default());
    inferd_pool_t *pool;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(1, &pool, &err), INFERD_OK);
    inferd_pool_set_default(pool);
    assert_ptr_equal(inferd_pool_default(), pool);
    assert_int_equal(inferd_pool_budget(), 0);
    inferd_pool_set_budget(2);
    assert_int_equal(inferd_pool_budget(), 2);
    inferd_pool_set_budget(-5);
    assert_int_equal(inferd_pool_budget(), 0);
    inferd_pool_set_default(NULL);
    inferd_pool_destroy(pool);
}

/* inferd_pool_for_range: chunks cover [0, n) exactly once, start at multiples of
 * `align`, one per thread of the budget when the work is large, one call on the caller
 * when it is small. */
typedef struct range_log {
    atomic_int calls;
    atomic_int hits[1000];
    atomic_llong los[16];
} range_log_t;

static void range_cb(void *arg, int64_t lo, int64_t hi)
{
    range_log_t *r = arg;
    int k = atomic_fetch_add(&r->calls, 1);
    if (k < 16)
        atomic_store(&r->los[k], lo);
    for (int64_t i = lo; i < hi; i++)
        atomic_fetch_add(&r->hits[i], 1);
}

static int range_run(int64_t n, int64_t grain, int64_t align, range_log_t *r)
{
    memset(r, 0, sizeof(*r));
    inferd_pool_for_range(n, grain, align, range_cb, r);
    for (int64_t i = 0; i < n; i++)
        assert_int_equal(atomic_load(&r->hits[i]), 1);
    int calls = atomic_load(&r->calls);
    for (int k = 0; k < calls && k < 16; k++)
        assert_int_equal(atomic_load(&r->los[k]) % align, 0);
    return calls;
}

static void for_range_splits_large_work(void **state)
{
    (void)state;
    static range_log_t r;
    assert_int_equal(range_run(1000, 10, 16, &r), 1); /* no default pool */
    inferd_pool_t *pool;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(3, &pool, &err), INFERD_OK);
    inferd_pool_set_default(pool);
    assert_int_equal(range_run(1000, 10, 16, &r), 16); /* four chunks per thread */
    assert_int_equal(range_run(999, 7, 1, &r), 16);
    assert_int_equal(range_run(19, 10, 1, &r), 1); /* under 2 * grain: the caller only */
    assert_int_equal(range_run(30, 10, 1, &r), 3); /* no chunk under grain */
    inferd_pool_set_budget(2);
    assert_int_equal(range_run(1000, 10, 16, &r), 8);
    inferd_pool_set_budget(1);
    assert_int_equal(range_run(1000, 10, 16, &r), 1);
    inferd_pool_set_budget(0);
    range_run(0, 10, 1, &r);
    assert_int_equal(atomic_load(&r.calls), 0);
    inferd_pool_set_default(NULL);
    inferd_pool_destroy(pool);
}

/* A range split called from a task on a worker stays on that worker (its budget is 1),
 * one called from the caller's task may split: two tasks that meet (one on a worker, as in
 * workers_help) each record how many chunks their split made. */
typedef struct nested_range {
    atomic_int arrived;
    atomic_int worker_calls, caller_calls;
    _Atomic(void *) caller;
    range_log_t logs[2];
} nested_range_t;

static void nested_range_cb(void *arg, int64_t t)
{
    nested_range_t *nr = arg;
    rendezvous_cb(&nr->arrived, t);
    int calls = range_run(1000, 10, 1, &nr->logs[t]);
    if (atomic_load(&nr->caller) == (void *)&marker)
        atomic_store(&nr->caller_calls, calls);
    else
        atomic_store(&nr->worker_calls, calls);
}

static void for_range_in_worker_stays_there(void **state)
{
    (void)state;
    static nested_range_t nr;
    inferd_pool_t *pool;
    inferd_err_t err;
    assert_int_equal(inferd_pool_create(1, &pool, &err), INFERD_OK);
    inferd_pool_set_default(pool);
    memset(&nr, 0, sizeof(nr));
    atomic_store(&nr.caller, (void *)&marker);
    inferd_pool_parallel_for(pool, 2, 2, nested_range_cb, &nr);
    assert_int_equal(atomic_load(&nr.arrived), 2);
    assert_int_equal(atomic_load(&nr.worker_calls), 1);
    /* The caller's split found the only worker busy or idle: 8 chunks either way. */
    assert_int_equal(atomic_load(&nr.caller_calls), 8);
    inferd_pool_set_default(NULL);
    inferd_pool_destroy(pool);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tasks_run_exactly_once),
        cmocka_unit_test(caller_only),
        cmocka_unit_test(concurrent_callers),
        cmocka_unit_test(nested_calls),
        cmocka_unit_test(default_pool_and_budget),
        cmocka_unit_test(workers_help),
        cmocka_unit_test(for_range_splits_large_work),
        cmocka_unit_test(for_range_in_worker_stays_there),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
