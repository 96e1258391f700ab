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

#define INFERD_MAX_REPOSITORIES 16

typedef struct inferd_server_options {
    const char *model_repositories[INFERD_MAX_REPOSITORIES];
    size_t n_model_repositories;
    const char *http_address;          /* "0.0.0.0" */
    int64_t http_port;                 /* 8000 */
    int64_t http_thread_count;         /* 0 = one per usable CPU, at most 4 */
    int64_t grpc_port;                 /* accepted for compatibility; no gRPC yet */
    const char *metrics_address;       /* defaults to http_address */
    int64_t metrics_port;              /* 8002; 0 = off */
    const char *model_control_mode;    /* "none" */
    int64_t exit_timeout_secs;         /* 30 */
    int64_t log_verbose;               /* 0 */
    const char *log_format;            /* "json" | "text" */
    int64_t http_max_input_size;       /* bytes, 64 MiB */
    int64_t max_tensor_elements;       /* per tensor */
    int64_t max_json_depth;            /* 100 */
    int64_t max_inputs;                /* inputs/outputs per request */
    int64_t http_max_connections;
    int64_t http_idle_timeout_secs;
    int64_t default_max_batch_size;    /* auto-complete, Triton's default 4 */
    int64_t max_queue_size;            /* per model version when its config sets none */
    bool strict_readiness;             /* ready only when every model is ready */
} inferd_server_options_t;

/* Fills opt with the defaults documented in README.md. */
void inferd_server_options_init(inferd_server_options_t *opt);

typedef struct inferd_http inferd_http_t;

typedef struct inferd_server {
    inferd_server_options_t opt;
    inferd_repo_t *repo;
    atomic_bool shutting_down;         /* set at SIGINT/SIGTERM: readiness turns false */
    inferd_http_t *http;
    inferd_http_t *metrics_http;
} inferd_server_t;

/* Loads the repository, starts the front ends, waits for SIGINT or SIGTERM, then drains
 * in-flight requests for up to exit_timeout_secs, joins every thread, frees every model
 * and returns the process exit code (0 on a clean shutdown). Call from the main thread
 * before any other thread exists. */
int inferd_server_run(const inferd_server_options_t *opt);

/* True when the server is ready for inference (see --strict-readiness). */
bool inferd_server_is_ready(inferd_server_t *srv);

#endif
