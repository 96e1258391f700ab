/* The crash handler (see crash.h). Everything reachable from crash_on_signal must be
 * async-signal-safe: the report is formatted into a stack buffer with the small writers
 * below and flushed with write(2). */
#include "diag/crash.h"

#include <errno.h>
#include <execinfo.h>
#include <fcntl.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "core/thread.h"
#include "diag/inflight.h"
#include "diag/symbols.h"

#define MAX_FRAMES 64

static const int crash_signals[] = {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};

/* The main thread's alternate stack; kept for the life of the process. */
static void *main_altstack;

/* 0 = no crash yet; otherwise the thread id of the thread writing the crash report. */
static atomic_long crash_tid;

/* ------------------------------------------------------------------------------------ */
/* Async-signal-safe output                                                             */

typedef struct {
    char buf[1024];
    size_t len;
} out_t;

static void out_flush(out_t *o)
{
    size_t off = 0;
    while (off < o->len) {
        ssize_t n = write(STDERR_FILENO, o->buf + off, o->len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
    o->len = 0;
}

static void out_str(out_t *o, const char *s)
{
    for (; s && *s; s++) {
        if (o->len == sizeof(o->buf))
            out_flush(o);
        o->buf[o->len++] = *s;
    }
}

/* A string that did not come from this file (a model name, a request id): control
 * characters become '?', so every item of the report stays on its own line. */
static void out_name(out_t *o, const char *s)
{
    for (; s && *s; s++) {
        if (o->len == sizeof(o->buf))
            out_flush(o);
        o->buf[o->len++] = (unsigned char)*s < 0x20 ? '?' : *s;
    }
}

static void out_uint(out_t *o, uint64_t v, unsigned base)
{
    char tmp[24];
    size_t n = 0;
    do {
        tmp[n++] = "0123456789abcdef"[v % base];
        v /= base;
    } while (v);
    char s[26];
    size_t k = 0;
    if (base == 16) {
        s[k++] = '0';
        s[k++] = 'x';
    }
    while (n)
        s[k++] = tmp[--n];
    s[k] = '\0';
    out_str(o, s);
}

static void out_int(out_t *o, int64_t v)
{
    if (v < 0) {
        out_str(o, "-");
        out_uint(o, (uint64_t)(-(v + 1)) + 1, 10);
    } else {
        out_uint(o, (uint64_t)v, 10);
    }
}

static const char *signal_name(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    case SIGQUIT: return "SIGQUIT";
    default: return "signal";
    }
}

/* ------------------------------------------------------------------------------------ */
/* The report                                                                           */

static uintptr_t context_pc(const void *uctx)
{
    const ucontext_t *uc = uctx;
    if (!uc)
        return 0;
#if defined(__x86_64__)
    return (uintptr_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uintptr_t)uc->uc_mcontext.pc;
#else
    return 0;
#endif
}

/* One backtrace line. exact: addr is an interrupted program counter, not a return address;
 * note (may be NULL) is appended. */
static void write_frame(out_t *o, int i, uintptr_t addr, bool exact, const char *note)
{
    bool is_fault_pc = exact;
    /* A caller frame's address is a return address: the call is the byte before it. */
    uintptr_t pc = is_fault_pc ? addr : addr - 1;
    inferd_symbol_t sym;
    out_str(o, "  #");
    out_uint(o, (uint64_t)i, 10);
    out_str(o, i < 10 ? "  " : " ");
    out_uint(o, addr, 16);
    if (inferd_symbols_lookup(pc, &sym)) {
        if (sym.function) {
            out_str(o, " in ");
            out_name(o, sym.function);
            out_str(o, "+");
            out_uint(o, sym.function_offset + (is_fault_pc ? 0 : 1), 16);
        }
        if (sym.file) {
            out_str(o, " at ");
            out_name(o, sym.file);
            out_str(o, ":");
            out_uint(o, (uint64_t)sym.line, 10);
        }
        if (!sym.function && !sym.file) {
            out_str(o, " (");
            out_name(o, sym.module);
            out_str(o, "+");
            out_uint(o, sym.module_offset + (is_fault_pc ? 0 : 1), 16);
            out_str(o, ")");
        }
    }
    if (note) {
        out_str(o, "  <- ");
        out_str(o, note);
    }
    out_str(o, "\n");
}

typedef struct {
    out_t *o;
    int64_t now_ns;
    int n;
} visit_t;

/* A string of at most cap bytes that may lack its terminator (a torn read). */
static void out_name_bounded(out_t *o, const char *s, size_t cap)
{
    char tmp[INFERD_INFLIGHT_OP_INPUTS_MAX + 1];
    size_t i = 0;
    for (; s && i < cap && i < sizeof(tmp) - 1 && s[i]; i++)
        tmp[i] = s[i];
    tmp[i] = '\0';
    out_name(o, tmp);
}

static void write_request(void *arg, const char *request_id, const char *model, const char *version,
                          const char *current_op, const char *op_inputs, const char *inputs,
                          int64_t start_ns)
{
    visit_t *v = arg;
    out_t *o = v->o;
    out_str(o, "  request id=");
    out_name(o, request_id[0] ? request_id : "-");
    out_str(o, " model=");
    out_name(o, model);
    out_str(o, " version=");
    out_name(o, version);
    out_str(o, " age_ms=");
    out_int(o, (v->now_ns - start_ns) / 1000000);
    out_str(o, " state=");
    out_str(o, current_op ? "running" : "waiting");
    out_str(o, " op=");
    out_name(o, current_op ? current_op : "-");
    out_str(o, " inputs=");
    out_name(o, inputs[0] ? inputs : "-");
    if (current_op && op_inputs && op_inputs[0]) {
        /* The running node's own input shapes (the engine's, after any reshape). */
        out_str(o, " op_inputs=");
        out_name_bounded(o, op_inputs, INFERD_INFLIGHT_OP_INPUTS_MAX);
    }
    out_str(o, "\n");
    v->n++;
}

/* ------------------------------------------------------------------------------------ */
/* Other threads' stacks                                                                */

/* The reporting thread asks each other thread, one at a time, for its stack: it sets
 * dump_target to the thread's id and sends it dump_signal; that thread's handler (on its
 * alternate stack if it has one) fills dump_frames and sets dump_ready. A thread that does
 * not answer within DUMP_WAIT_MS (signal blocked, stuck in the kernel) is listed without a
 * stack; a late answer is ignored because dump_target has moved on. */
#define DUMP_WAIT_MS 100
#define DUMP_MAX_THREADS 64

static int dump_signal;
static atomic_long dump_target;
static atomic_int dump_ready;
static void *dump_frames[MAX_FRAMES];
static int dump_n;
static uintptr_t dump_pc; /* where the answering thread was interrupted */

static void dump_on_signal(int sig, siginfo_t *si, void *uctx)
{
    (void)sig;
    (void)si;
    int saved = errno;
    if (atomic_load(&dump_target) == (long)syscall(SYS_gettid)) {
        dump_n = backtrace(dump_frames, MAX_FRAMES);
        dump_pc = context_pc(uctx);
        atomic_store(&dump_ready, 1);
    }
    errno = saved;
}

/* Reads /proc/self/task/<tid>/comm into name (NUL-terminated, newline dropped). */
static void task_name(long tid, char *name, size_t cap)
{
    char path[64] = "/proc/self/task/";
    size_t len = strlen(path);
    char digits[24];
    size_t nd = 0;
    do {
        digits[nd++] = (char)('0' + tid % 10);
        tid /= 10;
    } while (tid && nd < sizeof(digits));
    while (nd && len + 1 < sizeof(path))
        path[len++] = digits[--nd];
    const char *tail = "/comm";
    for (size_t i = 0; tail[i] && len + 1 < sizeof(path); i++)
        path[len++] = tail[i];
    path[len] = '\0';
    name[0] = '\0';
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return;
    ssize_t n = read(fd, name, cap - 1);
    close(fd);
    if (n < 0)
        n = 0;
    name[n] = '\0';
    for (ssize_t i = 0; i < n; i++)
        if (name[i] == '\n')
            name[i] = '\0';
}

/* Collects the ids of the process's threads from /proc/self/task with getdents64 (a raw
 * system call: opendir allocates). Returns how many were stored. */
static size_t list_tasks(long *tids, size_t cap)
{
    int fd = open("/proc/self/task", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    size_t n = 0;
    char buf[2048] __attribute__((aligned(8)));
    for (;;) {
        long got = syscall(SYS_getdents64, fd, buf, sizeof(buf));
        if (got <= 0)
            break;
        for (long off = 0; off < got;) {
            /* struct linux_dirent64: ino (8), off (8), reclen (2), type (1), name. */
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, sizeof(reclen));
            const char *nm = buf + off + 19;
            long tid = 0;
            bool digits = *nm != '\0';
            for (const char *c = nm; *c; c++) {
                if (*c < '0' || *c > '9')
                    digits = false;
                else
                    tid = tid * 10 + (*c - '0');
            }
            if (digits && n < cap)
                tids[n++] = tid;
            off += reclen;
        }
    }
    close(fd);
    return n;
}

static void write_other_threads(out_t *o)
{
    long tids[DUMP_MAX_THREADS];
    size_t n = list_tasks(tids, DUMP_MAX_THREADS);
    long self = (long)syscall(SYS_gettid);
    pid_t pid = getpid();
    out_str(o, "other threads:\n");
    for (size_t i = 0; i < n; i++) {
        if (tids[i] == self)
            continue;
        char name[32];
        task_name(tids[i], name, sizeof(name));
        out_str(o, "thread: ");
        out_int(o, tids[i]);
        out_str(o, " \"");
        out_name(o, name);
        out_str(o, "\"\n");
        atomic_store(&dump_ready, 0);
        atomic_store(&dump_target, tids[i]);
        bool answered = false;
        if (dump_signal > 0 && syscall(SYS_tgkill, pid, tids[i], dump_signal) == 0) {
            struct timespec ts = {0, 1000000};
            for (int k = 0; k < DUMP_WAIT_MS && !answered; k++) {
                answered = atomic_load(&dump_ready) != 0;
                if (!answered)
                    nanosleep(&ts, NULL);
            }
        }
        if (answered) {
            /* Skip the dump handler and the signal trampoline: start at the interrupted
             * instruction when the unwinder found it. */
            int first = 0;
            for (int f = 0; f < dump_n; f++)
                if ((uintptr_t)dump_frames[f] == dump_pc) {
                    first = f;
                    break;
                }
            for (int f = first; f < dump_n; f++)
                write_frame(o, f - first, (uintptr_t)dump_frames[f],
                            (uintptr_t)dump_frames[f] == dump_pc, NULL);
        } else {
            out_str(o, "  (no answer)\n");
        }
        atomic_store(&dump_target, 0);
        out_flush(o);
    }
}

/* The "signal:" line's content: name, number, si_code and where it came from. */
static void write_signal(out_t *o, int sig, const siginfo_t *si)
{
    out_str(o, "signal: ");
    out_str(o, signal_name(sig));
    out_str(o, " (");
    out_uint(o, (uint64_t)sig, 10);
    out_str(o, "), si_code ");
    out_int(o, si ? si->si_code : 0);
    if (si && si->si_code <= 0) {
        /* Sent by a process (kill, tgkill, abort): there is no fault address. */
        out_str(o, " (sent by pid ");
        out_int(o, si->si_pid);
        out_str(o, ")");
    } else {
        out_str(o, ", fault address ");
        out_uint(o, si ? (uintptr_t)si->si_addr : 0, 16);
    }
}

/* kind: "crash" (the process dies next) or "state" (SIGQUIT or the watchdog: it goes on
 * serving). reason: the watchdog's words, written instead of the signal line. */
static void write_report(const char *kind, const char *reason, int sig, const siginfo_t *si,
                         const void *uctx)
{
    out_t o;
    o.len = 0;
    char tname[17] = {0};
    prctl(PR_GET_NAME, tname, 0, 0, 0);
    out_str(&o, "\n==== inferd ");
    out_str(&o, kind);
    out_str(&o, " report ====\n");
    if (reason) {
        out_str(&o, "reason: ");
        out_name(&o, reason);
    } else {
        write_signal(&o, sig, si);
    }
    out_str(&o, "\nthread: ");
    out_int(&o, (int64_t)syscall(SYS_gettid));
    out_str(&o, " \"");
    out_name(&o, tname);
    out_str(&o, "\"\nbacktrace:\n");
    out_flush(&o);

    void *frames[MAX_FRAMES];
    int n = backtrace(frames, MAX_FRAMES);
    uintptr_t fault_pc = context_pc(uctx);
    for (int i = 0; i < n; i++)
        write_frame(&o, i, (uintptr_t)frames[i], (uintptr_t)frames[i] == fault_pc,
                    (uintptr_t)frames[i] != fault_pc ? NULL
                    : si && si->si_code > 0          ? "faulting instruction"
                                                     : "interrupted here");
    out_flush(&o);

    visit_t v = {&o, inferd_now_ns(), 0};
    out_str(&o, "in-flight requests:\n");
    inferd_inflight_visit_unsafe(write_request, &v);
    if (v.n == 0)
        out_str(&o, "  (none)\n");
    out_flush(&o);
    write_other_threads(&o);
    out_str(&o, "==== end of ");
    out_str(&o, kind);
    out_str(&o, " report ====\n");
    out_flush(&o);
}

static void restore_default(int sig)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void crash_on_signal(int sig, siginfo_t *si, void *uctx)
{
    long self = (long)syscall(SYS_gettid);
    long expected = 0;
    if (atomic_compare_exchange_strong(&crash_tid, &expected, self)) {
        write_report("crash", NULL, sig, si, uctx);
    } else if (expected == self) {
        /* The report itself crashed (e.g. SIGABRT while handling SIGSEGV): say so, die. */
        out_t o;
        o.len = 0;
        out_str(&o, "\n==== inferd: ");
        out_str(&o, signal_name(sig));
        out_str(&o, " while writing the crash report ====\n");
        out_flush(&o);
    } else {
        /* Another thread is writing its report: let it finish (bounded), then die. */
        struct timespec ts = {0, 100000000};
        for (int i = 0; i < 50; i++)
            nanosleep(&ts, NULL);
    }
    restore_default(sig);
    /* The signal is blocked while its handler runs: it is delivered, with the default
     * action, as soon as this returns (a fault would also simply recur). */
    raise(sig);
}

/* One state report at a time (SIGQUIT or the watchdog); later ones are skipped. */
static atomic_flag state_busy = ATOMIC_FLAG_INIT;

/* SIGQUIT: the same report, and the process goes on, so a hang can be explained without
 * killing the server. */
static void state_on_signal(int sig, siginfo_t *si, void *uctx)
{
    int saved = errno;
    if (!atomic_flag_test_and_set(&state_busy)) {
        write_report("state", NULL, sig, si, uctx);
        atomic_flag_clear(&state_busy);
    }
    errno = saved;
}

bool inferd_crash_state_report(const char *reason)
{
    if (atomic_flag_test_and_set(&state_busy))
        return false;
    write_report("state", reason ? reason : "requested", 0, NULL, NULL);
    atomic_flag_clear(&state_busy);
    return true;
}

void inferd_crash_install(void)
{
    static bool installed;
    if (installed)
        return;
    installed = true;
    inferd_symbols_load();
    void *warm[4];
    backtrace(warm, 4); /* loads libgcc_s now, not from inside the handler */
    main_altstack = inferd_thread_altstack_install();

    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = crash_on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
    for (size_t i = 0; i < sizeof(crash_signals) / sizeof(crash_signals[0]); i++)
        sigaction(crash_signals[i], &sa, NULL);
    sa.sa_sigaction = state_on_signal;
    sa.sa_flags = SA_SIGINFO | SA_ONSTACK | SA_RESTART;
    sigaction(SIGQUIT, &sa, NULL);
    /* A real-time signal nobody else here uses (glibc keeps its own below SIGRTMIN). */
    dump_signal = SIGRTMIN + 4;
    sa.sa_sigaction = dump_on_signal;
    sigaction(dump_signal, &sa, NULL);
}
