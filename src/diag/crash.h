/* The crash handler (DESIGN rule 4: crashes explain themselves). On SIGSEGV, SIGBUS,
 * SIGFPE, SIGILL or SIGABRT it writes a report to stderr, using only async-signal-safe
 * calls (write(2), no malloc, no stdio, no locks):
 *
 *   - the signal, its si_code, the faulting address and the thread that received it;
 *   - a backtrace (backtrace(3)), each inferd frame as function+offset and file:line from
 *     the table diag/symbols.h pre-loads, library frames as module+offset;
 *   - the in-flight requests (diag/inflight.h): id, model, version, age, the operator node
 *     running (a batch member: its batch's), the request's input shapes and the node's;
 *   - every other thread's stack, each thread asked in turn with a real-time signal.
 *
 * Then it restores the default action and re-raises the signal, so the process still dies
 * of it and a core dump is still written. SIGQUIT writes the same report (as a "state
 * report") and the server goes on, so a hang can be explained as well as a crash; so does
 * the progress watchdog when a model stalls (inferd_crash_state_report). The handler runs
 * on an alternate signal stack (the main thread's is set up here, registry threads get theirs in
 * core/thread.c), so a stack overflow is reported too. */
#ifndef INFERD_DIAG_CRASH_H
#define INFERD_DIAG_CRASH_H

#include <stdbool.h>

/* Loads the symbol table, pre-loads the unwinder (backtrace(3) loads libgcc_s lazily,
 * which allocates), gives the calling thread an alternate stack and installs the handler.
 * Call once, early, from the main thread; later calls do nothing. */
void inferd_crash_install(void);

/* Writes the state report (the one SIGQUIT writes) to stderr now, with a "reason:" line
 * in place of the signal: the progress watchdog calls it when a model stalls. Returns
 * false, writing nothing, while another state report is being written. Thread: any but a
 * signal handler; it signals every other thread in turn for its stack (bounded waits). */
bool inferd_crash_state_report(const char *reason);

#endif
