/* A small HTTP client for upstream KServe v2 servers: http:// URLs go to inferd's own
 * HTTP/1.1 client (http1.h), https:// ones to libcurl's multi interface. Each has one
 * I/O thread that drives every transfer of the process, over keep-alive
 * connections pooled per upstream host with a bound. A call is started from any thread,
 * which writes the request itself when a pooled connection is free, and completes with a
 * callback (inferd_remote_start), or blocks its caller (inferd_remote_perform). The request's
 * deadline and cancellation are honoured: the I/O thread looks at the contexts of its calls every
 * few milliseconds, and a call whose request is cancelled or whose deadline passes is aborted and
 * its connection closed. */
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
    const char *tracestate;  /* W3C tracestate (at most 512 characters), or NULL */
    int64_t timeout_ms;      /* upper bound besides the context's deadline */
    size_t max_response_bytes;
    long max_host_connections;        /* connection pool bound for this upstream */
    struct inferd_upstream *upstream; /* counts its open connections; may be NULL */
    int64_t linger_ns; /* > 0: the starter may wait this long for the answer itself (at most
                          400 us), instead of handing it over from the I/O
                          thread. For upstreams that answer quickly. */
} inferd_remote_request_t;

/* Starts the shared I/O thread if needed; balanced by inferd_remote_client_release. */
inferd_status_t inferd_remote_client_acquire(inferd_err_t *err);
void inferd_remote_client_release(void);

/* Called once per started call with the outcome (as for inferd_remote_perform; err is valid
 * during the call only), with no lock held, on the I/O thread or on a thread inside
 * inferd_remote_start (its own call or another that ended meanwhile). It may start calls. */
typedef void (*inferd_remote_done_fn)(void *arg, inferd_status_t st, const inferd_err_t *err);

/* Starts one request and returns at once (after at most req->linger_ns waiting for the
 * answer). On INFERD_OK, done(arg, ...) is called exactly once, possibly before this returns; req's
 * strings are copied, but req->body, resp and ctx are borrowed until then. On failure (ctx already
 * cancelled or expired, out of memory) done is never called. Thread: any. */
inferd_status_t inferd_remote_start(inferd_ctx_t *ctx, const inferd_remote_request_t *req,
                                    inferd_remote_response_t *resp, inferd_remote_done_fn done,
                                    void *arg, inferd_err_t *err);

/* Performs one request, blocking the caller until the response, ctx's deadline or
 * cancellation, or req->timeout_ms. Transport failures are UNAVAILABLE (with resp->sent
 * telling whether the request may have reached the server); CANCELLED and
 * DEADLINE_EXCEEDED come from ctx. Any HTTP status is INFERD_OK here: the caller reads
 * resp->status. resp must be initialized with inferd_remote_response_init and freed with
 * inferd_remote_response_deinit. ctx may be NULL (load-time calls). Thread: any but the I/O
 * thread. */
inferd_status_t inferd_remote_perform(inferd_ctx_t *ctx, const inferd_remote_request_t *req,
                                      inferd_remote_response_t *resp, inferd_err_t *err);

void inferd_remote_response_init(inferd_remote_response_t *resp, size_t max_bytes);
void inferd_remote_response_deinit(inferd_remote_response_t *resp);

#endif
