/* The thread registry. Every thread inferd starts goes through here: it is named (also
 * for the OS, so top and gdb show it), has a role, reports a state, and is joined by its
 * owner before shutdown completes. /debug/threads lists the registry, and tests assert
 * that the count of live threads returns to its baseline. */
#ifndef INFERD_CORE_THREAD_H
#define INFERD_CORE_THREAD_H

#include <stddef.h>

#include "core/buf.h"
#include "inferd/status.h"

typedef struct inferd_thread inferd_thread_t;

typedef void (*inferd_thread_fn)(void *arg);

/* Starts fn(arg) on a new thread named `name` (at most 15 characters reach the OS) with
 * a role such as "worker" or "control". The caller owns the handle and must pass it to
 * inferd_thread_join exactly once. Fails with RESOURCE_EXHAUSTED if the OS refuses. */
inferd_status_t inferd_thread_start(inferd_thread_t **out, const char *name, const char *role,
                                    inferd_thread_fn fn, void *arg, inferd_err_t *err);

/* Gives the calling thread an alternate signal stack, so the crash handler can run even
 * when the thread's own stack overflowed. Returns a handle for
 * inferd_thread_altstack_remove (NULL if the OS refused). Registry threads get one
 * automatically; the main thread gets one from diag/crash.c. */
void *inferd_thread_altstack_install(void);

/* Disables and frees the calling thread's alternate stack. NULL does nothing. */
void inferd_thread_altstack_remove(void *handle);

/* Waits for the thread to return and frees the handle. NULL does nothing. */
void inferd_thread_join(inferd_thread_t *t);

/* Sets the calling thread's state as shown on /debug/threads ("idle", "running", ...).
 * The string must be static. No-op on threads not started by the registry. */
void inferd_thread_set_state(const char *state);

/* Number of registry threads started and not yet joined. */
size_t inferd_thread_count(void);

/* Number of OS threads in the process (the registry's, the main thread, and the HTTP
 * library's own). */
size_t inferd_thread_os_count(void);

/* Appends a JSON object {"registered":[...],"registered_count":N,"os":[...],"os_count":N}
 * describing every thread: name, role, state, cpu_seconds. */
void inferd_thread_list_json(inferd_buf_t *out);

/* CPUs this process may really use: the affinity mask, further limited by a cgroup v2
 * CPU quota (cpu.max) when one is set, so a container limited to 2 CPUs on a large host
 * does not start a thread per host core. At least 1. */
int inferd_cpu_count(void);

#endif
