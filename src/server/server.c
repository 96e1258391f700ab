/* Server lifecycle (see server.h): start-up, the signal wait, and an orderly shutdown that
 * drains requests, joins every thread and frees every model. */
#include "server/server.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "backends/remote/mirror.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "core/thread.h"
#include "diag/crash.h"
#include "obs/log.h"
#include "obs/trace.h"
#include "sched/sched.h"
#include "server/http/http.h"

void inferd_server_options_init(inferd_server_options_t *o)
{
    memset(o, 0, sizeof(*o));
    o->http_address = "0.0.0.0";
    o->http_port = 8000;
    o->grpc_port = 8001;
    o->metrics_port = 8002;
    o->model_control_mode = "none";
    o->exit_timeout_secs = 30;
    o->repository_poll_secs = 15;
    o->log_format = "json";
    o->http_max_input_size = 64ll << 20;
    o->max_tensor_elements = 1ll << 26;
    o->max_json_depth = 100;
    o->max_inputs = 128;
    o->http_max_connections = 1024;
    o->http_idle_timeout_secs = 120;
    o->default_max_batch_size = 4;
    o->max_queue_size = 1024;
    o->strict_readiness = true;
    o->batch_eager_when_idle = true;
    o->trace_rate = 1000;
    o->trace_count = -1;
    o->trace_buffer_spans = 4096;
    o->stall_timeout_secs = 30;
}

bool inferd_server_is_ready(inferd_server_t *srv)
{
    if (atomic_load(&srv->shutting_down))
        return false;
    size_t n, ready;
    inferd_repo_counts(srv->repo, &n, &ready);
    return srv->opt.strict_readiness ? ready == n && inferd_server_stalled_models(srv, NULL) == 0
                                     : true;
}

size_t inferd_server_stalled_models(inferd_server_t *srv, inferd_buf_t *names)
{
    inferd_model_version_t **mvs;
    size_t n = inferd_repo_collect_ready(srv->repo, &mvs), stalled = 0;
    for (size_t i = 0; i < n; i++) {
        bool counted = false; /* a model with several stalled versions counts once */
        for (size_t j = 0; j < i && !counted; j++)
            counted = !strcmp(mvs[j]->name, mvs[i]->name) && inferd_sched_stalled_ms(mvs[j]->sched);
        if (counted || !inferd_sched_stalled_ms(mvs[i]->sched))
            continue;
        if (names) {
            if (stalled)
                inferd_buf_append_char(names, ',');
            inferd_buf_append_json_str(names, mvs[i]->name, strlen(mvs[i]->name));
        }
        stalled++;
    }
    for (size_t i = 0; i < n; i++)
        inferd_model_version_unref(mvs[i]);
    inferd_free(mvs);
    return stalled;
}

/* The self-pipe of the signal handler: written by on_signal, read by the main thread. */
static int signal_pipe[2] = {-1, -1};

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char c = (unsigned char)sig;
    if (write(signal_pipe[1], &c, 1) < 0) {
        /* Nothing to do: the pipe is full, so a shutdown is already under way. */
    }
    errno = saved;
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000};
    nanosleep(&ts, NULL);
}

static size_t active(inferd_server_t *srv)
{
    return inferd_http_active(srv->http) + inferd_http_active(srv->metrics_http);
}

/* Waits until no exchange is in progress or the deadline passes. */
static bool drain(inferd_server_t *srv, int64_t deadline_ns)
{
    while (active(srv) > 0) {
        if (inferd_now_ns() >= deadline_ns)
            return false;
        sleep_ms(5);
    }
    return true;
}

bool inferd_model_control_from_name(const char *name, inferd_model_control_t *out)
{
    static const char *const names[] = {"none", "poll", "explicit"};
    for (int i = 0; i < 3; i++)
        if (strcmp(name, names[i]) == 0) {
            *out = (inferd_model_control_t)i;
            return true;
        }
    return false;
}

int inferd_server_check_repository(const inferd_server_options_t *opt)
{
    inferd_repo_options_t ro = {
        .roots = opt->model_repositories.items,
        .n_roots = opt->model_repositories.n,
        .default_max_batch_size = (int32_t)opt->default_max_batch_size,
        .default_max_queue_size = (uint32_t)opt->max_queue_size,
    };
    inferd_repo_t *repo = NULL;
    inferd_err_t err;
    if (inferd_repo_create(&ro, &repo, &err) != INFERD_OK ||
        inferd_repo_load_all(repo, &err) != INFERD_OK) {
        fprintf(stderr, "%s\n", err.msg);
        inferd_repo_destroy(repo);
        return 2;
    }
    size_t n_models, n_ready;
    inferd_repo_counts(repo, &n_models, &n_ready);
    size_t problems = inferd_repo_report_problems(repo, stdout);
    printf("%zu models, %zu ready, %zu problems\n", n_models, n_ready, problems);
    inferd_repo_destroy(repo);
    return problems ? 1 : 0;
}

int inferd_server_run(const inferd_server_options_t *opt)
{
    inferd_crash_install();
    inferd_sched_set_stall_timeout_ms((uint64_t)opt->stall_timeout_secs * 1000);
    int64_t t_start = inferd_now_ns();
    inferd_server_t srv;
    memset(&srv, 0, sizeof(srv));
    srv.opt = *opt;
    atomic_init(&srv.shutting_down, false);
    inferd_err_t err;

    /* SIGINT/SIGTERM are caught by a handler that only writes to a pipe, whichever thread
     * receives them (libraries such as OpenBLAS start threads before main, so a blocked
     * mask in this thread alone would not be enough); this thread waits on the pipe. */
    if (pipe2(signal_pipe, O_CLOEXEC) != 0) {
        inferd_log(INFERD_LOG_ERROR, "cannot create the signal pipe: %s", strerror(errno));
        return 1;
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    inferd_model_control_t mode;
    if (!inferd_model_control_from_name(opt->model_control_mode, &mode)) {
        inferd_log(INFERD_LOG_ERROR, "--model-control-mode takes none, poll or explicit, got '%s'",
                   opt->model_control_mode);
        return 2;
    }
    if (opt->grpc_port > 0)
        inferd_log(INFERD_LOG_INFO, "gRPC is not available yet; --grpc-port %lld is ignored",
                   (long long)opt->grpc_port);

    /* Pure gateway: the upstream's models become a repository of remote models. */
    inferd_str_list_t roots = opt->model_repositories;
    char mirror[4096] = "";
    if (opt->model_url) {
        const char *tmp = getenv("TMPDIR");
        snprintf(mirror, sizeof(mirror), "%s/inferd-gateway-XXXXXX", tmp && *tmp ? tmp : "/tmp");
        if (roots.n >= INFERD_MAX_LIST_OPTION ||
            inferd_remote_mirror_write(opt->model_url, mirror, &err) != INFERD_OK) {
            inferd_log(INFERD_LOG_ERROR, "gateway: %s", err.msg);
            return 1;
        }
        roots.items[roots.n++] = mirror;
    }
    /* The engine's intra-op pool: the thread running a model takes part, so N threads
     * per operator need N - 1 workers. Created before any model loads, destroyed after
     * the last one is unloaded. */
    int intra = opt->intra_op_threads > 0 ? (int)opt->intra_op_threads : inferd_cpu_count();
    inferd_pool_t *pool = NULL;
    if (intra > 1 && inferd_pool_create(intra - 1, &pool, &err) != INFERD_OK) {
        inferd_log(INFERD_LOG_ERROR, "intra-op pool: %s", err.msg);
        if (mirror[0])
            inferd_remote_mirror_remove(mirror);
        return 1;
    }
    inferd_pool_set_default(pool);
    inferd_repo_options_t ro = {
        .roots = roots.items,
        .n_roots = roots.n,
        .mode = mode,
        .startup_models = opt->load_models.items,
        .n_startup_models = opt->load_models.n,
        .poll_secs = opt->repository_poll_secs,
        .default_max_batch_size = (int32_t)opt->default_max_batch_size,
        .default_max_queue_size = (uint32_t)opt->max_queue_size,
    };
    if (inferd_repo_create(&ro, &srv.repo, &err) != INFERD_OK ||
        inferd_repo_load_all(srv.repo, &err) != INFERD_OK ||
        inferd_repo_start_control(srv.repo, &err) != INFERD_OK) {
        inferd_log(INFERD_LOG_ERROR, "%s", err.msg);
        inferd_repo_destroy(srv.repo);
        inferd_pool_set_default(NULL);
        inferd_pool_destroy(pool);
        if (mirror[0])
            inferd_remote_mirror_remove(mirror);
        return 1;
    }

    int threads = (int)opt->http_thread_count;
    if (threads <= 0) {
        threads = inferd_cpu_count();
        if (threads > 4)
            threads = 4;
    }
    int rc = 0;
    bool has_trace_endpoint = opt->trace_endpoint && *opt->trace_endpoint;
    inferd_trace_options_t to = {
        .endpoint = opt->trace_endpoint,
        .level = opt->trace_level     ? opt->trace_level
                 : has_trace_endpoint ? "TIMESTAMPS"
                                      : "OFF",
        .rate = opt->trace_rate,
        .count = opt->trace_count,
        .buffer_spans = opt->trace_buffer_spans,
        .timeout_ms = 1000,
    };
    if (inferd_trace_start(&to, &err) != INFERD_OK) {
        inferd_log(INFERD_LOG_ERROR, "%s", err.msg);
        rc = 1;
    }
    if (rc == 0 && inferd_http_start(&srv, opt->http_address, (int)opt->http_port, threads, false,
                                     &srv.http, &err) != INFERD_OK) {
        inferd_log(INFERD_LOG_ERROR, "%s", err.msg);
        rc = 1;
    }
    if (rc == 0 && opt->batch_eager_when_idle)
        inferd_sched_set_arrival_probe(inferd_http_clients_may_send);
    if (rc == 0 && opt->metrics_port > 0) {
        const char *addr = opt->metrics_address ? opt->metrics_address : opt->http_address;
        if (inferd_http_start(&srv, addr, (int)opt->metrics_port, 1, true, &srv.metrics_http,
                              &err) != INFERD_OK) {
            inferd_log(INFERD_LOG_ERROR, "%s", err.msg);
            rc = 1;
        }
    }
    if (rc == 0) {
        size_t n, ready;
        inferd_repo_counts(srv.repo, &n, &ready);
        inferd_log(INFERD_LOG_INFO,
                   "inferd listening on %s:%lld (metrics port %lld), %zu of %zu models ready, "
                   "started in %.1f ms",
                   opt->http_address, (long long)opt->http_port, (long long)opt->metrics_port,
                   ready, n, (double)(inferd_now_ns() - t_start) / 1e6);
        unsigned char sig = 0;
        while (read(signal_pipe[0], &sig, 1) < 0 && errno == EINTR)
            ;
        inferd_log(INFERD_LOG_INFO, "received %s: shutting down", strsignal(sig));
    }

    /* Shutdown: stop accepting, drain, cancel what is left, then free everything. */
    atomic_store(&srv.shutting_down, true);
    inferd_http_quiesce(srv.http);
    inferd_http_quiesce(srv.metrics_http);
    /* Load requests still waiting are answered now, so their connections can drain. */
    inferd_repo_stop_control(srv.repo);
    int64_t deadline = inferd_now_ns() + opt->exit_timeout_secs * 1000000000ll;
    if (!drain(&srv, deadline)) {
        inferd_log(INFERD_LOG_WARN, "exit timeout: cancelling %zu requests still in flight",
                   active(&srv));
        inferd_http_cancel_all(srv.http);
        /* The engine stops at its next operator; give it a bounded grace period. */
        if (!drain(&srv, inferd_now_ns() + 5000000000ll)) {
            inferd_log(INFERD_LOG_ERROR, "%zu requests did not stop; exiting without cleanup",
                       active(&srv));
            return 1;
        }
    }
    inferd_http_stop(srv.http);
    inferd_http_stop(srv.metrics_http);
    inferd_sched_set_arrival_probe(NULL);
    inferd_repo_destroy(srv.repo);
    inferd_pool_set_default(NULL);
    inferd_pool_destroy(pool);
    if (mirror[0])
        inferd_remote_mirror_remove(mirror);
    inferd_trace_stop(); /* no span can be recorded now: exports the rest, joins */

    inferd_tensor_stats_t ts;
    inferd_tensor_stats(&ts);
    size_t threads_left = inferd_thread_count();
    if (ts.total_count != 0 || threads_left != 0) {
        inferd_log(INFERD_LOG_ERROR, "leak at exit: %lld tensors (%lld bytes), %zu threads",
                   (long long)ts.total_count, (long long)ts.total_bytes, threads_left);
        rc = rc ? rc : 1;
    }
    inferd_log(INFERD_LOG_INFO, "inferd stopped");
    /* Later signals are ignored from here on; the pipe can go. */
    signal(SIGINT, SIG_IGN);
    signal(SIGTERM, SIG_IGN);
    close(signal_pipe[0]);
    close(signal_pipe[1]);
    return rc;
}
