/* A small HTTP client for upstream KServe v2 servers, on libcurl's multi interface. One
 * I/O thread ("remote-io") drives every transfer of the process, over keep-alive
 * connections pooled per upstream host with a bound; callers block on their own call,
 * with their request's deadline and cancellation honoured: a call whose request is
 * cancelled or whose deadline passes is aborted at once and its connection closed. */
#ifndef INFERD_BACKENDS_REMOTE_CLIENT_H
#define INFERD_BACKENDS_REMOTE_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "inferd/context.h"
#include "inferd/status.h"

typedef struct inferd_remote_response {
    long status;           /* HTTP status; 0 when no response arrived */
    inferd_buf_t body;     /* bounded by max_response_bytes */
    int64_t header_length; /* Inference-Header-Content-Length, -1 if absent */
    bool sent;             /* the request reached the server (for retries) */
    char error[256];       /* transport error text, if any */
} inferd_remote_response_t;

typedef struct inferd_remote_request {
    const char *url;
    const char *method; /* "GET" or "POST" */
    const void *body;   /* POST body (borrowed) */
    size_t body_len;
    int64_t header_length;   /* >= 0: send Inference-Header-Content-Length */
    const char *request_id;  /* X-Request-ID, or NULL */
    const char *traceparent; /* W3C traceparent, or NULL */
    int64_t timeout_ms;      /* upper bound besides the context's deadline */
    size_t max_response_bytes;
    long max_host_connections;        /* connection pool bound for this upstream */
    struct inferd_upstream *upstream; /* counts its open connections; may be NULL */
} inferd_remote_request_t;

/* Starts the shared I/O thread if needed; balanced by inferd_remote_client_release. */
inferd_status_t inferd_remote_client_acquire(inferd_err_t *err);
void inferd_remote_client_release(void);

/* Performs one request, blocking the caller until the response, ctx's deadline or
 * cancellation, or req->timeout_ms. Transport failures are UNAVAILABLE (with resp->sent
 * telling whether the request may have reached the server); CANCELLED and
 * DEADLINE_EXCEEDED come from ctx. Any HTTP status is INFERD_OK here: the caller reads
 * resp->status. resp must be initialized with inferd_remote_response_init and freed with
 * inferd_remote_response_deinit. ctx may be NULL (load-time calls). */
inferd_status_t inferd_remote_perform(inferd_ctx_t *ctx, const inferd_remote_request_t *req,
                                      inferd_remote_response_t *resp, inferd_err_t *err);

void inferd_remote_response_init(inferd_remote_response_t *resp, size_t max_bytes);
void inferd_remote_response_deinit(inferd_remote_response_t *resp);

#endif
