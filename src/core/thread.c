/* Thread registry (see thread.h). A mutex-protected doubly linked list of live threads;
 * it is touched only when threads start, stop, or are listed, never on the request path. */
#include "core/thread.h"

#include <dirent.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/alloc.h"

struct inferd_thread {
    pthread_t tid;
    char name[32];
    char role[32];
    _Atomic(const char *) state; /* written by the thread itself */
    inferd_thread_fn fn;
    void *arg;
    inferd_thread_t *prev, *next; /* registry list, under registry_lock */
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static inferd_thread_t *registry_head;
static size_t registry_count;
static __thread inferd_thread_t *self;

/* Alternate signal stack size: the crash handler formats into small fixed buffers and
 * walks the stack with backtrace(3); 64 KiB leaves a wide margin. */
#define ALTSTACK_SIZE (64 * 1024)

void *inferd_thread_altstack_install(void)
{
    void *mem = inferd_xmalloc(ALTSTACK_SIZE);
    stack_t ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_sp = mem;
    ss.ss_size = ALTSTACK_SIZE;
    if (sigaltstack(&ss, NULL) != 0) {
        inferd_free(mem);
        return NULL;
    }
    return mem;
}

void inferd_thread_altstack_remove(void *handle)
{
    if (!handle)
        return;
    stack_t ss;
    memset(&ss, 0, sizeof(ss));
    ss.ss_flags = SS_DISABLE;
    sigaltstack(&ss, NULL);
    inferd_free(handle);
}

static void *thread_main(void *p)
{
    inferd_thread_t *t = p;
    self = t;
    pthread_setname_np(pthread_self(), t->name);
    void *altstack = inferd_thread_altstack_install();
    atomic_store(&t->state, "running");
    t->fn(t->arg);
    atomic_store(&t->state, "exited");
    inferd_thread_altstack_remove(altstack);
    return NULL;
}

inferd_status_t inferd_thread_start(inferd_thread_t **out, const char *name, const char *role,
                                    inferd_thread_fn fn, void *arg, inferd_err_t *err)
{
    inferd_thread_t *t = inferd_xcalloc(1, sizeof(*t));
    /* The OS limits names to 15 characters plus NUL. */
    snprintf(t->name, 16, "%s", name);
    snprintf(t->role, sizeof(t->role), "%s", role);
    atomic_init(&t->state, "starting");
    t->fn = fn;
    t->arg = arg;

    pthread_mutex_lock(&registry_lock);
    int rc = pthread_create(&t->tid, NULL, thread_main, t);
    if (rc == 0) {
        t->next = registry_head;
        if (registry_head)
            registry_head->prev = t;
        registry_head = t;
        registry_count++;
    }
    pthread_mutex_unlock(&registry_lock);
    if (rc != 0) {
        inferd_free(t);
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "cannot start thread %s: %s", name,
                              strerror(rc));
    }
    *out = t;
    return INFERD_OK;
}

void inferd_thread_join(inferd_thread_t *t)
{
    if (!t)
        return;
    pthread_join(t->tid, NULL);
    pthread_mutex_lock(&registry_lock);
    if (t->prev)
        t->prev->next = t->next;
    else
        registry_head = t->next;
    if (t->next)
        t->next->prev = t->prev;
    registry_count--;
    pthread_mutex_unlock(&registry_lock);
    inferd_free(t);
}

void inferd_thread_set_state(const char *state)
{
    if (self)
        atomic_store(&self->state, state);
}

size_t inferd_thread_count(void)
{
    pthread_mutex_lock(&registry_lock);
    size_t n = registry_count;
    pthread_mutex_unlock(&registry_lock);
    return n;
}

size_t inferd_thread_os_count(void)
{
    DIR *d = opendir("/proc/self/task");
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n;
}

static double thread_cpu_seconds(pthread_t tid)
{
    clockid_t cid;
    struct timespec ts;
    if (pthread_getcpuclockid(tid, &cid) != 0 || clock_gettime(cid, &ts) != 0)
        return 0.0;
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Reads /proc/self/task/<tid>/<file> into buf, stripping the trailing newline. */
static void read_task_file(const char *tid, const char *file, char *buf, size_t cap)
{
    char path[128];
    snprintf(path, sizeof(path), "/proc/self/task/%s/%s", tid, file);
    buf[0] = '\0';
    FILE *f = fopen(path, "r");
    if (!f)
        return;
    if (!fgets(buf, (int)cap, f))
        buf[0] = '\0';
    fclose(f);
    buf[strcspn(buf, "\n")] = '\0';
}

void inferd_thread_list_json(inferd_buf_t *out)
{
    inferd_buf_append_str(out, "{\"registered\":[");
    pthread_mutex_lock(&registry_lock);
    for (inferd_thread_t *t = registry_head; t; t = t->next) {
        inferd_buf_printf(out, "%s{\"name\":", t == registry_head ? "" : ",");
        inferd_buf_append_json_str(out, t->name, strlen(t->name));
        inferd_buf_append_str(out, ",\"role\":");
        inferd_buf_append_json_str(out, t->role, strlen(t->role));
        const char *st = atomic_load(&t->state);
        inferd_buf_append_str(out, ",\"state\":");
        inferd_buf_append_json_str(out, st, strlen(st));
        inferd_buf_printf(out, ",\"cpu_seconds\":%.6f}", thread_cpu_seconds(t->tid));
    }
    inferd_buf_printf(out, "],\"registered_count\":%zu", registry_count);
    pthread_mutex_unlock(&registry_lock);

    /* Every OS thread, registry or not, so threads owned by libraries are visible too. */
    inferd_buf_append_str(out, ",\"os\":[");
    size_t n = 0;
    DIR *d = opendir("/proc/self/task");
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char comm[64], stat[512];
        read_task_file(e->d_name, "comm", comm, sizeof(comm));
        read_task_file(e->d_name, "stat", stat, sizeof(stat));
        /* stat: "tid (comm) S ... utime stime" — fields after the closing paren. */
        char state = '?';
        unsigned long long ut = 0, stt = 0;
        const char *rp = strrchr(stat, ')');
        if (rp)
            sscanf(rp + 2, "%c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %llu %llu", &state, &ut,
                   &stt);
        long hz = sysconf(_SC_CLK_TCK);
        inferd_buf_printf(out, "%s{\"tid\":%s,\"name\":", n ? "," : "", e->d_name);
        inferd_buf_append_json_str(out, comm, strlen(comm));
        inferd_buf_printf(out, ",\"state\":\"%c\",\"cpu_seconds\":%.2f}", state,
                          hz > 0 ? (double)(ut + stt) / (double)hz : 0.0);
        n++;
    }
    if (d)
        closedir(d);
    inferd_buf_printf(out, "],\"os_count\":%zu}", n);
}

int inferd_cpu_count(void)
{
    cpu_set_t set;
    int n = 0;
    if (sched_getaffinity(0, sizeof(set), &set) == 0)
        n = CPU_COUNT(&set);
    if (n < 1)
        n = (int)sysconf(_SC_NPROCESSORS_ONLN);
    /* cgroup v2: "max 100000" or "<quota> <period>". */
    FILE *f = fopen("/sys/fs/cgroup/cpu.max", "r");
    if (f) {
        char quota[32];
        long long period = 0;
        if (fscanf(f, "%31s %lld", quota, &period) == 2 && strcmp(quota, "max") != 0 &&
            period > 0) {
            long long q = strtoll(quota, NULL, 10);
            int limit = (int)((q + period - 1) / period);
            if (limit >= 1 && limit < n)
                n = limit;
        }
        fclose(f);
    }
    return n < 1 ? 1 : n;
}
