/* The intra-op thread pool: a fixed set of registry threads ("intra-op-N") that help a
 * calling thread run the independent tasks of one operator (column blocks of a matrix
 * product). The caller always takes part and is never blocked waiting for a worker to
 * become free: it claims the workers that are idle right now (up to its budget) and runs
 * whatever tasks nobody else took, so any number of model workers may call at once and a
 * busy pool degrades to running on the caller. Workers spin for about 100 us (by the
 * clock) after a task and then sleep on a futex. No allocation per call.
 *
 * The server creates one pool at start (--intra-op-threads) and makes it the default;
 * each model's runs limit themselves to a budget of threads (the model config parameter
 * intra_op_thread_count) set per calling thread with inferd_pool_set_budget. */
#ifndef INFERD_CORE_POOL_H
#define INFERD_CORE_POOL_H

#include <stdint.h>

#include "inferd/status.h"

typedef struct inferd_pool inferd_pool_t;

/* Runs task number `task` (0 <= task < n_tasks) of a parallel_for. */
typedef void (*inferd_pool_task_fn)(void *arg, int64_t task);

/* Starts a pool of n_workers threads (0..256) besides the callers. Fails with
 * INVALID_ARG for a bad count or RESOURCE_EXHAUSTED when a thread cannot start (the
 * threads already started are joined). */
inferd_status_t inferd_pool_create(int n_workers, inferd_pool_t **out, inferd_err_t *err);

/* Joins the workers and frees the pool. No parallel_for may be running. NULL does
 * nothing. */
void inferd_pool_destroy(inferd_pool_t *pool);

/* Worker threads in the pool (0 for NULL). */
int inferd_pool_workers(const inferd_pool_t *pool);

/* Calls fn(arg, t) exactly once for every t in [0, n_tasks), on the calling thread and
 * on up to max_threads - 1 idle workers (max_threads <= 0: no limit), and returns when
 * all have returned. Tasks may run in any order and concurrently. pool may be NULL (all
 * tasks run on the caller). Thread: any; safe to call concurrently and from a task. */
void inferd_pool_parallel_for(inferd_pool_t *pool, int64_t n_tasks, int max_threads,
                              inferd_pool_task_fn fn, void *arg);

/* Runs fn(arg, lo, hi) over contiguous chunks covering [0, n) on the default pool within
 * the calling thread's budget: up to four chunks per thread (handed out as threads come
 * free, so a helper that starts late is not waited for), each at least `grain` items and
 * starting at a multiple of `align` (>= 1; SIMD kernels pass their vector width so no
 * element moves between a vector body and a scalar tail). Chunk edges depend only on n,
 * grain, align and the budget, never on which thread runs a chunk. With fewer than 2 * grain items
 * or no pool it is one call fn(arg, 0, n) on the caller: small work never pays for a
 * dispatch. Thread: any. */
typedef void (*inferd_pool_range_fn)(void *arg, int64_t lo, int64_t hi);
void inferd_pool_for_range(int64_t n, int64_t grain, int64_t align, inferd_pool_range_fn fn,
                           void *arg);

/* The process's default pool (NULL until set): the engine's kernels use it. The owner
 * (the server) sets it after creating the pool and clears it before destroying it. */
void inferd_pool_set_default(inferd_pool_t *pool);
inferd_pool_t *inferd_pool_default(void);

/* The calling thread's budget of threads for an operator, the caller included (0 = the
 * whole default pool plus the caller). Set by the engine around a model's run. */
void inferd_pool_set_budget(int threads);
int inferd_pool_budget(void);

#endif
