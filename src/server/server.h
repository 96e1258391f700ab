/* The server: owns the model repository and the front ends, and runs the process from
 * start-up to a clean exit. main.c fills inferd_server_options_t from defaults, a config
 * file, the environment and the command line, then calls inferd_server_run. */
#ifndef INFERD_SERVER_SERVER_H
#define INFERD_SERVER_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "repo/repo.h"

#define INFERD_MAX_LIST_OPTION 64

/* A repeatable option's values, in order. */
typedef struct inferd_str_list {
    const char *items[INFERD_MAX_LIST_OPTION];
    size_t n;
} inferd_str_list_t;

typedef struct inferd_server_options {
    inferd_str_list_t model_repositories; /* --model-repository */
    inferd_str_list_t load_models;        /* --load-model (explicit mode) */
    const char *model_url;                /* --model-url / MODEL_URL: pure gateway */
    const char *admin_token;              /* --admin-token: bearer token for admin calls */
    bool admin_loopback_only;             /* --admin-loopback-only */
    const char *debug_address;            /* --debug-address: networks allowed /debug */
    int64_t repository_poll_secs;         /* poll mode: 15 */
    const char *http_address;             /* "0.0.0.0" */
    int64_t http_port;                    /* 8000 */
    int64_t http_thread_count;            /* 0 = one per usable CPU, at most 4 */
    int64_t intra_op_threads;             /* engine threads per operator, 0 = usable CPUs */
    int64_t grpc_port;                    /* accepted for compatibility; no gRPC yet */
    const char *metrics_address;          /* defaults to http_address */
    int64_t metrics_port;                 /* 8002; 0 = off */
    const char *model_control_mode;       /* "none" */
    int64_t exit_timeout_secs;            /* 30 */
    int64_t log_verbose;                  /* 0 */
    const char *log_format;               /* "json" | "text" */
    int64_t http_max_input_size;          /* bytes, 64 MiB */
    int64_t max_tensor_elements;          /* per tensor */
    int64_t max_json_depth;               /* 100 */
    int64_t max_inputs;                   /* inputs/outputs per request */
    int64_t http_max_connections;
    int64_t http_idle_timeout_secs;
    int64_t default_max_batch_size; /* auto-complete, Triton's default 4 */
    int64_t max_queue_size;         /* per model version when its config sets none */
    bool strict_readiness;          /* ready only when every model is ready */
    int64_t stall_timeout_secs;     /* progress watchdog bound, 30; 0 = off */
    bool allow_client_shm;          /* shared-memory register/unregister (false) */
    bool batch_eager_when_idle;     /* dispatch a batch when no client could add to it */
    const char *trace_endpoint;     /* --trace-endpoint: OTLP/HTTP traces URL, NULL = none */
    const char *trace_level;        /* OFF | TIMESTAMPS; NULL: TIMESTAMPS with an endpoint */
    int64_t trace_rate;             /* 1 in N requests without a traceparent, 1000 */
    int64_t trace_count;            /* traces to take, -1 = unlimited */
    int64_t trace_buffer_spans;     /* span ring capacity, 4096 */
} inferd_server_options_t;

/* Fills opt with the defaults documented in README.md. */
void inferd_server_options_init(inferd_server_options_t *opt);

typedef struct inferd_http inferd_http_t;

typedef struct inferd_server {
    inferd_server_options_t opt;
    inferd_repo_t *repo;
    atomic_bool shutting_down; /* set at SIGINT/SIGTERM: readiness turns false */
    inferd_http_t *http;
    inferd_http_t *metrics_http;
} inferd_server_t;

/* Loads the repository, starts the front ends, waits for SIGINT or SIGTERM, then drains
 * in-flight requests for up to exit_timeout_secs, joins every thread, frees every model
 * and returns the process exit code (0 on a clean shutdown). Call from the main thread
 * before any other thread exists. */
int inferd_server_run(const inferd_server_options_t *opt);

/* Validates every model of the repositories offline, with the server's own loader, and
 * prints each problem with its file and reason (--check-repository). Returns the exit
 * code: 0 when every model loads, 1 when some do not, 2 when a repository is unreadable. */
int inferd_server_check_repository(const inferd_server_options_t *opt);

/* Parses "none" | "poll" | "explicit". */
bool inferd_model_control_from_name(const char *name, inferd_model_control_t *out);

/* True when the server is ready for inference (see --strict-readiness): with strict
 * readiness every model must be ready and none stalled (see --stall-timeout-secs). */
bool inferd_server_is_ready(inferd_server_t *srv);

/* Counts the models that have a ready version the progress watchdog finds stalled, and
 * appends their names to names (when not NULL) as JSON strings separated by commas.
 * Thread: any. */
size_t inferd_server_stalled_models(inferd_server_t *srv, inferd_buf_t *names);

#endif
