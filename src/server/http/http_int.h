/* Shared between the libmicrohttpd glue (http.c) and the v2 endpoint handlers
 * (v2_rest.c): one HTTP request/response exchange and the calls that suspend and resume
 * its connection. */
#ifndef INFERD_SERVER_HTTP_HTTP_INT_H
#define INFERD_SERVER_HTTP_HTTP_INT_H

#include <microhttpd.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "inferd/tensor.h"
#include "server/http/router.h"
#include "server/server.h"

typedef struct v2_infer_call v2_infer_call_t;
typedef struct inferd_http_exchange inferd_http_exchange_t;

struct inferd_http_exchange {
    inferd_http_t *http;
    inferd_server_t *srv;
    struct MHD_Connection *conn;
    inferd_http_method_t method;
    const char *method_name; /* MHD-owned, valid for the exchange */
    const char *url;         /* MHD-owned, path without the query */
    inferd_route_t route;
    inferd_status_t route_status;
    inferd_err_t route_err;
    int64_t t_start_ns;

    inferd_buf_t body; /* request body, bounded by http_max_input_size */
    size_t body_off;   /* padding before the body in body.data (see http.c) */
    bool body_too_large;
    bool handled; /* the handler ran (the body is complete) */

    /* The response; set once. */
    bool has_response;
    int status;
    char *resp_body; /* inferd_malloc'd, handed to MHD */
    size_t resp_len;
    const char *content_type;
    bool has_infer_header_len; /* binary response: Inference-Header-Content-Length */
    size_t infer_header_len;
    const char *allow;              /* Allow header for 405 */
    int retry_after_secs;           /* > 0: Retry-After header (429) */
    char error[INFERD_ERR_MSG_MAX]; /* for the access log */

    /* Asynchronous inference. */
    _Atomic(v2_infer_call_t *) call; /* set on the I/O thread, read by cancel_all */
    bool suspended;     /* waiting for a worker (from inferd_http_suspend until answered) */
    bool mhd_suspended; /* libmicrohttpd's connection is suspended (resume_lock) */
    pthread_mutex_t resume_lock;
    struct http_watch *watch; /* disconnect watch while suspended, or NULL */
    int watch_fd;
    atomic_bool completed;    /* the worker finished; the response can be built */
    atomic_bool holds_client; /* suspended, counted out of the clients that may send */

    /* For the access log. */
    const inferd_ctx_t *ctx; /* the inference's context (trace ids, server span), or NULL */
    char request_id[INFERD_REQUEST_ID_MAX];
    char model_name[INFERD_MODEL_NAME_MAX];
    char model_version[24];

    inferd_http_exchange_t *prev, *next; /* in-flight list of the front end */
};

/* Sets a response body taken over from buf (a failed buf becomes a 500). */
void inferd_http_respond_buf(inferd_http_exchange_t *ex, int status, const char *content_type,
                             inferd_buf_t *buf);

/* Sets a JSON response body taken over from buf. */
void inferd_http_respond_json(inferd_http_exchange_t *ex, int status, inferd_buf_t *buf);

/* Sets an error response {"error": msg} with the HTTP status of code. */
void inferd_http_respond_error(inferd_http_exchange_t *ex, inferd_status_t code, const char *msg);

/* Sets a binary-data response (binary tensor data extension) taken over from buf: its first
 * header_len bytes are the JSON header, the rest the output blobs. Sends
 * Inference-Header-Content-Length and Content-Type application/octet-stream. */
void inferd_http_respond_binary(inferd_http_exchange_t *ex, int status, inferd_buf_t *buf,
                                size_t header_len);

/* Sets a plain-text response (copied). */
void inferd_http_respond_text(inferd_http_exchange_t *ex, int status, const char *content_type,
                              const char *text);

/* Suspends the connection while the exchange waits for a worker. Thread: I/O, inside the
 * handler. Must precede handing the request to the scheduler. */
void inferd_http_suspend(inferd_http_exchange_t *ex);

/* Marks the exchange complete and resumes its connection, so the I/O thread builds and
 * sends the response. Thread: any (a worker, or the I/O thread after a failed submit). */
void inferd_http_resume(inferd_http_exchange_t *ex);

/* Whether the exchange may use an admin endpoint (model load/unload, shared-memory
 * registration): with --admin-loopback-only the peer must be on loopback, and with
 * --admin-token the request must carry "Authorization: Bearer <token>". If not, sets a 403
 * response and returns false. */
bool inferd_http_admin_allowed(inferd_http_exchange_t *ex);

/* True if the peer of the exchange is on a loopback address. */
bool inferd_http_peer_is_loopback(inferd_http_exchange_t *ex);

/* Whether the exchange may read /debug: loopback peers and the --debug-address networks.
 * Otherwise responds 403 and returns false. */
bool inferd_http_debug_allowed(inferd_http_exchange_t *ex);

/* Takes the request body over as a UINT8 tensor of its bytes (owner: request), so tensor
 * views into it keep it alive after the exchange ends; the exchange's body is empty
 * afterwards. An infer request that carries Inference-Header-Content-Length h has its body
 * placed so that byte h (the start of the binary section) is 16-byte aligned. Thread: I/O.
 * Returns NULL and sets err only when out of memory. */
inferd_tensor_t *inferd_http_take_body(inferd_http_exchange_t *ex, inferd_err_t *err);

/* The shared-memory region registry of the exchange's front end. Thread: any. */
struct inferd_shm *inferd_http_shm(inferd_http_exchange_t *ex);

/* v2_shm.c: the system shared-memory endpoints (status, register, unregister). */
void inferd_v2_handle_shm(inferd_http_exchange_t *ex);

/* Looks up a request header (case-insensitive); NULL if absent. */
const char *inferd_http_header(inferd_http_exchange_t *ex, const char *name);

/* v2_repository.c: POST /v2/repository/models/{m}/load and /unload. */
void inferd_v2_handle_repository_control(inferd_http_exchange_t *ex);

/* v2_trace.c: GET/POST /v2[/models/{m}]/trace/setting (Triton's trace extension). */
void inferd_v2_handle_trace(inferd_http_exchange_t *ex);

/* v2_rest.c: handles a complete request. Either sets a response, or suspends the exchange
 * and starts asynchronous work that ends with inferd_http_resume. */
void inferd_v2_handle(inferd_http_exchange_t *ex);

/* v2_rest.c: called on the I/O thread after a resume; builds the response. */
void inferd_v2_complete(inferd_http_exchange_t *ex);

/* v2_rest.c: releases the asynchronous call state (tensors, model reference). */
void inferd_v2_release(inferd_http_exchange_t *ex);

/* v2_rest.c: cancels the exchange's inference if one is in flight. Thread: any. */
void inferd_v2_cancel(inferd_http_exchange_t *ex);

#endif
