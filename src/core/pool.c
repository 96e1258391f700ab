/* Intra-op thread pool (see pool.h).
 *
 * A call describes its work in a job on the caller's stack. Each worker has a slot; the
 * caller claims idle slots by compare-and-swap of the slot's state, so two callers can
 * never claim the same worker. Tasks are handed out by an atomic counter, so it does not
 * matter how many workers really join or when. A worker accepts a claim before touching
 * the job; once every task has been taken the caller takes back the claims not yet
 * accepted, and waits only for workers that accepted, which are running its tasks, so no
 * call waits on another or on a worker still waking up. Sleeping uses futexes on 32-bit
 * words: a worker's slot sequence number, and the job's count of claimed workers. */
#include "core/pool.h"

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/thread.h"

#define MAX_WORKERS 256
/* How long a worker or a waiting caller spins before it sleeps: longer than the gap
 * between two operators of one run (a wake from futex_wait takes 20-100 us on a busy
 * 2-vCPU VM, as long as a small operator), short enough that an idle server does not
 * burn CPU. Bounded by the clock, not by a count of pause instructions, whose cost
 * varies tenfold between CPUs. */
#define SPIN_NS 100000
/* Pause instructions between two reads of the clock while spinning (about 1 us). */
#define SPIN_BATCH 32
/* Chunks per thread in inferd_pool_for_range: a helper that starts late leaves its
 * chunks to the threads already running instead of being waited for. */
#define RANGE_CHUNKS_PER_THREAD 4

typedef struct pool_job {
    inferd_pool_task_fn fn;
    void *arg;
    int64_t n_tasks;
    atomic_llong next;   /* next task to hand out */
    atomic_uint running; /* claimed workers that have not finished */
} pool_job_t;

/* A slot's claim word: 0 when idle, else the claiming job's address with CLAIMED or
 * RUNNING in its low bits (jobs are 8-byte aligned). A caller claims an idle slot by
 * compare-and-swap; the worker accepts (CLAIMED -> RUNNING) before it touches the job, so
 * a caller that finished every task first can take its own claim back (CLAIMED -> 0)
 * instead of waiting for a worker that has not woken up yet. The address in the word
 * makes sure a caller only ever takes back its own claim. */
#define CLAIMED ((uintptr_t)1)
#define RUNNING ((uintptr_t)2)
#define TAGS ((uintptr_t)3)

typedef struct pool_slot {
    _Atomic(uintptr_t) claim;
    atomic_uint seq;      /* futex word: bumped on every claim and at shutdown */
    atomic_bool sleeping; /* the worker is (about to be) in futex_wait */
    inferd_thread_t *thread;
    struct inferd_pool *pool;
    char pad[64];
} pool_slot_t;

struct inferd_pool {
    int n;
    atomic_bool stop;
    atomic_uint rotor; /* where callers start looking for idle workers */
    pool_slot_t *slots;
};

static void futex_wait(atomic_uint *word, unsigned expected)
{
    /* Bounded: a missed wake costs at most this long (no call relies on it). */
    struct timespec ts = {0, 50 * 1000 * 1000};
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAIT_PRIVATE, expected, &ts, NULL, 0);
}

static void futex_wake(atomic_uint *word)
{
    syscall(SYS_futex, (unsigned *)word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static void run_tasks(pool_job_t *j)
{
    for (;;) {
        int64_t t = atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (t >= j->n_tasks)
            return;
        j->fn(j->arg, t);
    }
}

static bool is_claimed(uintptr_t w)
{
    return (w & TAGS) == CLAIMED;
}

static void worker_main(void *arg)
{
    pool_slot_t *s = arg;
    /* A task running here is part of a caller's budgeted operator: operators it calls
     * (budget-reading splits such as inferd_pool_for_range) stay on this thread rather
     * than claim workers beyond that budget. */
    inferd_pool_set_budget(1);
    inferd_thread_set_state("idle");
    for (;;) {
        unsigned seq = atomic_load(&s->seq);
        uintptr_t w = atomic_load(&s->claim);
        if (is_claimed(w)) {
            pool_job_t *j = (pool_job_t *)(w & ~TAGS);
            if (!atomic_compare_exchange_strong(&s->claim, &w, (uintptr_t)j | RUNNING))
                continue; /* taken back by its caller */
            inferd_thread_set_state("running");
            run_tasks(j);
            /* Free the slot before reporting, so the caller's next call (once this one
             * returns) finds this worker claimable. The decrement is the last touch of
             * the caller's job; after it the caller may return. */
            atomic_store(&s->claim, 0);
            inferd_thread_set_state("idle");
            if (atomic_fetch_sub(&j->running, 1) == 1)
                futex_wake(&j->running);
            continue;
        }
        if (atomic_load(&s->pool->stop))
            return;
        int64_t until = now_ns() + SPIN_NS;
        bool claimed = false;
        do {
            for (int i = 0; i < SPIN_BATCH && !claimed; i++) {
                cpu_relax();
                claimed = is_claimed(atomic_load_explicit(&s->claim, memory_order_relaxed));
            }
        } while (!claimed && now_ns() < until);
        if (claimed || is_claimed(atomic_load(&s->claim)))
            continue;
        atomic_store(&s->sleeping, true);
        /* Re-check after announcing sleep: a claimer either sees `sleeping` and wakes us,
         * or published its claim (and bumped seq) before this load. */
        if (!is_claimed(atomic_load(&s->claim)) && !atomic_load(&s->pool->stop))
            futex_wait(&s->seq, seq);
        atomic_store(&s->sleeping, false);
    }
}

inferd_status_t inferd_pool_create(int n_workers, inferd_pool_t **out, inferd_err_t *err)
{
    *out = NULL;
    if (n_workers < 0 || n_workers > MAX_WORKERS)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "intra-op pool size %d is outside 0..%d",
                              n_workers, MAX_WORKERS);
    inferd_pool_t *p = inferd_xcalloc(1, sizeof(*p));
    p->slots = inferd_xcalloc((size_t)(n_workers ? n_workers : 1), sizeof(*p->slots));
    for (int i = 0; i < n_workers; i++) {
        pool_slot_t *s = &p->slots[i];
        s->pool = p;
        char name[16];
        snprintf(name, sizeof(name), "intra-op-%d", i);
        if (inferd_thread_start(&s->thread, name, "intra-op", worker_main, s, err) != INFERD_OK) {
            inferd_pool_destroy(p);
            return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
        }
        p->n = i + 1;
    }
    *out = p;
    return INFERD_OK;
}

void inferd_pool_destroy(inferd_pool_t *pool)
{
    if (!pool)
        return;
    atomic_store(&pool->stop, true);
    for (int i = 0; i < pool->n; i++) {
        atomic_fetch_add(&pool->slots[i].seq, 1);
        futex_wake(&pool->slots[i].seq);
    }
    for (int i = 0; i < pool->n; i++)
        inferd_thread_join(pool->slots[i].thread);
    inferd_free(pool->slots);
    inferd_free(pool);
}

int inferd_pool_workers(const inferd_pool_t *pool)
{
    return pool ? pool->n : 0;
}

void inferd_pool_parallel_for(inferd_pool_t *pool, int64_t n_tasks, int max_threads,
                              inferd_pool_task_fn fn, void *arg)
{
    if (n_tasks <= 0)
        return;
    pool_job_t j = {.fn = fn, .arg = arg, .n_tasks = n_tasks};
    atomic_init(&j.next, 0);
    atomic_init(&j.running, 0);
    int want = pool ? pool->n : 0;
    if (max_threads > 0 && want > max_threads - 1)
        want = max_threads - 1;
    if (want > n_tasks - 1)
        want = (int)(n_tasks - 1);
    int claimed = 0;
    int idx[MAX_WORKERS];
    if (want > 0 && !atomic_load(&pool->stop)) {
        unsigned start = atomic_fetch_add_explicit(&pool->rotor, 1, memory_order_relaxed);
        /* Count the claims in advance so a claimed worker that finishes at once cannot
         * bring `running` to zero while we are still claiming; unused claims are given
         * back below. */
        atomic_store(&j.running, (unsigned)want);
        for (int i = 0; i < pool->n && claimed < want; i++) {
            int k = (int)((start + (unsigned)i) % (unsigned)pool->n);
            pool_slot_t *s = &pool->slots[k];
            uintptr_t idle = 0;
            if (atomic_load_explicit(&s->claim, memory_order_relaxed) != 0 ||
                !atomic_compare_exchange_strong(&s->claim, &idle, (uintptr_t)&j | CLAIMED))
                continue;
            idx[claimed++] = k;
            atomic_fetch_add(&s->seq, 1);
            if (atomic_load(&s->sleeping))
                futex_wake(&s->seq);
        }
        if (claimed < want)
            atomic_fetch_sub(&j.running, (unsigned)(want - claimed));
    }
    run_tasks(&j);
    /* Every task has been taken: claims no worker has accepted yet are taken back. */
    for (int i = 0; i < claimed; i++) {
        uintptr_t mine = (uintptr_t)&j | CLAIMED;
        if (atomic_compare_exchange_strong(&pool->slots[idx[i]].claim, &mine, 0))
            atomic_fetch_sub(&j.running, 1);
    }
    /* Wait for the workers that accepted (they are running our tasks, never blocked). */
    if (atomic_load(&j.running) == 0)
        return;
    int64_t until = now_ns() + SPIN_NS;
    for (int i = 1; atomic_load(&j.running) != 0; i++) {
        if (i % SPIN_BATCH != 0 || now_ns() < until) {
            cpu_relax();
            continue;
        }
        unsigned r = atomic_load(&j.running);
        if (r != 0)
            futex_wait(&j.running, r);
    }
}

static _Atomic(inferd_pool_t *) default_pool;
static _Thread_local int thread_budget;

void inferd_pool_set_default(inferd_pool_t *pool)
{
    atomic_store(&default_pool, pool);
}

inferd_pool_t *inferd_pool_default(void)
{
    return atomic_load_explicit(&default_pool, memory_order_acquire);
}

void inferd_pool_set_budget(int threads)
{
    thread_budget = threads < 0 ? 0 : threads;
}

int inferd_pool_budget(void)
{
    return thread_budget;
}

typedef struct range_job {
    inferd_pool_range_fn fn;
    void *arg;
    int64_t n, align, chunks;
} range_job_t;

static int64_t range_edge(const range_job_t *r, int64_t t)
{
    if (t >= r->chunks)
        return r->n;
    int64_t e = r->n / r->chunks * t + r->n % r->chunks * t / r->chunks;
    return e - e % r->align;
}

static void range_task(void *arg, int64_t t)
{
    range_job_t *r = arg;
    int64_t lo = range_edge(r, t), hi = range_edge(r, t + 1);
    if (lo < hi)
        r->fn(r->arg, lo, hi);
}

void inferd_pool_for_range(int64_t n, int64_t grain, int64_t align, inferd_pool_range_fn fn,
                           void *arg)
{
    if (n <= 0)
        return;
    inferd_pool_t *pool = inferd_pool_default();
    int64_t threads = thread_budget > 0 ? thread_budget : inferd_pool_workers(pool) + 1;
    if (grain < 1)
        grain = 1;
    if (!pool || threads < 2 || n / grain < 2) {
        fn(arg, 0, n);
        return;
    }
    int64_t chunks = threads * RANGE_CHUNKS_PER_THREAD;
    if (chunks > n / grain)
        chunks = n / grain;
    range_job_t r = {
        .fn = fn, .arg = arg, .n = n, .align = align < 1 ? 1 : align, .chunks = chunks};
    inferd_pool_parallel_for(pool, chunks, (int)threads, range_task, &r);
}
