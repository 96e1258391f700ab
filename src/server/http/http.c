/* libmicrohttpd glue (see http.h): daemon set-up, body accumulation under a size bound,
 * suspend/resume around asynchronous inference, responses, and the access log.
 *
 * Threading: MHD's pool threads call on_request and on_completed; an exchange belongs to
 * the pool thread of its connection, except that a worker may call inferd_http_resume once
 * while the connection is suspended. */
#include "server/http/http.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/alloc.h"
#include "core/thread.h"
#include "inferd/context.h"
#include "obs/log.h"
#include "obs/trace.h"
#include "server/http/http_int.h"
#include "server/http/peer_acl.h"
#include "server/http/shm.h"
#include "sched/sched.h"

/* A suspended connection's socket, watched for the client going away. */
/* Open connections of the inference listeners minus those with a request in flight: the
 * clients that could still send a request right now. */
static atomic_long clients_may_send;

bool inferd_http_clients_may_send(void)
{
    return atomic_load_explicit(&clients_may_send, memory_order_relaxed) > 0;
}

typedef struct http_watch {
    inferd_http_exchange_t *ex; /* NULL once unregistered */
    struct http_watch *next;    /* graveyard link */
} http_watch_t;

struct inferd_http {
    inferd_server_t *srv;
    struct MHD_Daemon *daemon;
    bool metrics_only;
    pthread_mutex_t lock;           /* guards the exchange list */
    inferd_http_exchange_t *active; /* exchanges started, not completed */
    size_t n_active;

    /* Disconnect watcher: libmicrohttpd does not poll suspended connections, so one thread
     * watches their sockets and cancels the request of a client that hangs up. */
    int watch_epfd;
    int watch_wake;             /* eventfd that wakes the watcher to stop */
    pthread_mutex_t watch_lock; /* guards watch entries and the graveyard */
    http_watch_t *graveyard;    /* unregistered entries, freed by the watcher */
    inferd_shm_t *shm;          /* shared-memory regions registered through this front end */
    atomic_bool watch_stop;
    inferd_thread_t *watcher;
    inferd_peer_acl_t debug_acl; /* --debug-address: non-loopback peers allowed /debug */
};

static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    (void)socket_context;
    inferd_http_t *h = cls;
    if (h->metrics_only)
        return;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED) {
        atomic_fetch_add_explicit(&clients_may_send, 1, memory_order_relaxed);
    } else if (atomic_fetch_sub_explicit(&clients_may_send, 1, memory_order_relaxed) == 1) {
        /* A request queued while this connection was still open may be waiting for it. */
        inferd_sched_recheck_arrivals();
    }
}

/* ------------------------------------------------------------------------------------ */
/* Responses                                                                            */

static void set_response(inferd_http_exchange_t *ex, int status, char *body, size_t len,
                         const char *content_type)
{
    inferd_free(ex->resp_body);
    ex->has_response = true;
    ex->status = status;
    ex->resp_body = body;
    ex->resp_len = len;
    ex->content_type = content_type;
}

void inferd_http_respond_buf(inferd_http_exchange_t *ex, int status, const char *content_type,
                             inferd_buf_t *buf)
{
    if (buf->failed) {
        /* Out of memory, or an output the encoder refused (malformed BYTES). */
        inferd_buf_deinit(buf);
        inferd_http_respond_error(ex, INFERD_E_INTERNAL, "could not encode the response");
        return;
    }
    size_t len;
    char *body = inferd_buf_steal(buf, &len);
    set_response(ex, status, body, len, content_type);
}

void inferd_http_respond_json(inferd_http_exchange_t *ex, int status, inferd_buf_t *buf)
{
    inferd_http_respond_buf(ex, status, "application/json", buf);
}

void inferd_http_respond_error(inferd_http_exchange_t *ex, inferd_status_t code, const char *msg)
{
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_append_str(&b, "{\"error\":");
    inferd_buf_append_json_str(&b, msg, strlen(msg));
    inferd_buf_append_char(&b, '}');
    snprintf(ex->error, sizeof(ex->error), "%s", msg);
    size_t len;
    char *body = inferd_buf_steal(&b, &len);
    set_response(ex, inferd_status_http(code), body, len, "application/json");
    if (code == INFERD_E_RESOURCE_EXHAUSTED)
        ex->retry_after_secs = 1;
}

void inferd_http_respond_binary(inferd_http_exchange_t *ex, int status, inferd_buf_t *buf,
                                size_t header_len)
{
    inferd_http_respond_json(ex, status, buf);
    if (ex->status != status)
        return; /* the buffer failed: respond_json answered with an error */
    ex->content_type = "application/octet-stream";
    ex->has_infer_header_len = true;
    ex->infer_header_len = header_len;
}

void inferd_http_respond_text(inferd_http_exchange_t *ex, int status, const char *content_type,
                              const char *text)
{
    set_response(ex, status, inferd_xstrdup(text), strlen(text), content_type);
}

static void free_body_cb(void *p)
{
    inferd_free(p);
}

/* Thread: I/O. Hands the response to MHD and writes the access log line. */
static enum MHD_Result queue_response(inferd_http_exchange_t *ex)
{
    if (!ex->has_response)
        inferd_http_respond_error(ex, INFERD_E_INTERNAL, "no response was produced");
    struct MHD_Response *resp = MHD_create_response_from_buffer_with_free_callback(
        ex->resp_len, ex->resp_body, free_body_cb);
    if (!resp)
        return MHD_NO;
    ex->resp_body = NULL; /* MHD owns it now */
    MHD_add_response_header(resp, MHD_HTTP_HEADER_CONTENT_TYPE, ex->content_type);
    if (ex->allow)
        MHD_add_response_header(resp, MHD_HTTP_HEADER_ALLOW, ex->allow);
    if (ex->has_infer_header_len) {
        char v[24];
        snprintf(v, sizeof(v), "%zu", ex->infer_header_len);
        MHD_add_response_header(resp, "Inference-Header-Content-Length", v);
    }
    if (ex->retry_after_secs > 0) {
        char v[16];
        snprintf(v, sizeof(v), "%d", ex->retry_after_secs);
        MHD_add_response_header(resp, MHD_HTTP_HEADER_RETRY_AFTER, v);
    }
    if (atomic_load(&ex->srv->shutting_down))
        MHD_add_response_header(resp, MHD_HTTP_HEADER_CONNECTION, "close");
    /* Trace context: the access log's trace id; a traced request also gets its server span
     * and a W3C traceresponse header that names it. */
    const inferd_ctx_t *tctx = ex->ctx;
    char trace_hex[33];
    static const uint8_t no_trace[16];
    bool has_trace = tctx && memcmp(tctx->trace_id, no_trace, 16) != 0;
    if (has_trace)
        inferd_trace_hex(trace_hex, tctx->trace_id, 16);
    if (tctx && tctx->traced) {
        char tr[56];
        inferd_trace_format_traceparent(tr, tctx->trace_id, tctx->span_id, tctx->trace_flags);
        MHD_add_response_header(resp, "traceresponse", tr);
    }
    enum MHD_Result r = MHD_queue_response(ex->conn, (unsigned)ex->status, resp);
    MHD_destroy_response(resp);

    bool is_model = ex->model_name[0] != '\0';
    int64_t now = inferd_now_ns();
    if (tctx && tctx->traced)
        inferd_trace_span_server(tctx, ex->model_name, ex->model_version, ex->t_start_ns, now,
                                 ex->status, ex->status >= 400 ? ex->error : NULL);
    inferd_log_request_t rec = {
        .request_id = ex->request_id[0] ? ex->request_id : NULL,
        .method = ex->method_name,
        .path = ex->url,
        .model_name = is_model ? ex->model_name : NULL,
        .model_version = ex->model_version[0] ? ex->model_version : NULL,
        .latency_ms = (double)(now - ex->t_start_ns) / 1e6,
        .status_code = ex->status,
        .error = ex->status >= 400 ? ex->error : NULL,
        .trace_id = has_trace ? trace_hex : NULL,
    };
    /* Probes and scrapes would drown the log: only model requests and errors by default. */
    if (is_model || ex->status >= 400 || inferd_log_enabled(INFERD_LOG_VERBOSE))
        inferd_log_request(&rec);
    return r;
}

/* ------------------------------------------------------------------------------------ */
/* Suspend / resume                                                                     */

/* Starts watching a suspended exchange's socket. Thread: I/O. */
static void watch_register(inferd_http_exchange_t *ex)
{
    inferd_http_t *h = ex->http;
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(ex->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!ci || h->watch_epfd < 0)
        return;
    http_watch_t *w = inferd_xcalloc(1, sizeof(*w));
    w->ex = ex;
    /* Hang-ups only: bytes of a pipelined next request must not count as leaving. */
    struct epoll_event ev = {.events = EPOLLRDHUP | EPOLLHUP | EPOLLERR | EPOLLONESHOT,
                             .data.ptr = w};
    pthread_mutex_lock(&h->watch_lock);
    if (epoll_ctl(h->watch_epfd, EPOLL_CTL_ADD, ci->connect_fd, &ev) == 0) {
        ex->watch = w;
        ex->watch_fd = ci->connect_fd;
    } else {
        inferd_free(w);
    }
    pthread_mutex_unlock(&h->watch_lock);
}

/* Stops watching; the entry is freed by the watcher once no event can refer to it. */
static void watch_unregister(inferd_http_exchange_t *ex)
{
    inferd_http_t *h = ex->http;
    http_watch_t *w = ex->watch;
    if (!w)
        return;
    pthread_mutex_lock(&h->watch_lock);
    epoll_ctl(h->watch_epfd, EPOLL_CTL_DEL, ex->watch_fd, NULL);
    w->ex = NULL;
    w->next = h->graveyard;
    h->graveyard = w;
    pthread_mutex_unlock(&h->watch_lock);
    ex->watch = NULL;
}

static void watcher_main(void *arg)
{
    inferd_http_t *h = arg;
    struct epoll_event evs[64];
    while (!atomic_load(&h->watch_stop)) {
        pthread_mutex_lock(&h->watch_lock);
        /* Events from the previous wait have been handled: nothing refers to these now. */
        while (h->graveyard) {
            http_watch_t *w = h->graveyard;
            h->graveyard = w->next;
            inferd_free(w);
        }
        pthread_mutex_unlock(&h->watch_lock);
        inferd_thread_set_state("idle");
        int n = epoll_wait(h->watch_epfd, evs, 64, -1);
        inferd_thread_set_state("running");
        pthread_mutex_lock(&h->watch_lock);
        for (int i = 0; i < n; i++) {
            http_watch_t *w = evs[i].data.ptr;
            if (w && w->ex) {
                inferd_v2_cancel(w->ex);
                inferd_log(INFERD_LOG_INFO, "client of request %s went away: cancelled",
                           w->ex->request_id[0] ? w->ex->request_id : "-");
            }
        }
        pthread_mutex_unlock(&h->watch_lock);
    }
}

/* The connection itself is suspended only when the handler returns with the work still
 * under way (suspend_if_pending): a request answered before that (a remote model whose
 * upstream answered while the handler waited, a queue-full refusal) skips libmicrohttpd's
 * suspend and resume, and the wake-up of its thread that a resume costs. */
void inferd_http_suspend(inferd_http_exchange_t *ex)
{
    ex->suspended = true;
    if (!ex->http->metrics_only) {
        atomic_store(&ex->holds_client, true);
        atomic_fetch_sub_explicit(&clients_may_send, 1, memory_order_relaxed);
    }
}

void inferd_http_resume(inferd_http_exchange_t *ex)
{
    if (atomic_exchange(&ex->holds_client, false))
        atomic_fetch_add_explicit(&clients_may_send, 1, memory_order_relaxed);
    struct MHD_Connection *conn = ex->conn;
    pthread_mutex_lock(&ex->resume_lock);
    /* release: the I/O thread that sees completed must see the results written before. */
    atomic_store_explicit(&ex->completed, true, memory_order_release);
    bool resume = ex->mhd_suspended;
    pthread_mutex_unlock(&ex->resume_lock);
    /* Not under the lock: once resumed, the I/O thread may answer and free ex at once. */
    if (resume)
        MHD_resume_connection(conn);
}

/* At the end of the handler of a suspended exchange: suspends the connection unless the
 * work already completed. Returns whether it did. Thread: I/O. */
static bool suspend_if_pending(inferd_http_exchange_t *ex)
{
    pthread_mutex_lock(&ex->resume_lock);
    bool pending = !atomic_load_explicit(&ex->completed, memory_order_acquire);
    if (pending) {
        MHD_suspend_connection(ex->conn);
        ex->mhd_suspended = true;
    }
    pthread_mutex_unlock(&ex->resume_lock);
    /* After the lock: the disconnect watcher may complete the request, which resumes. The
     * resumed connection is handled on this thread, so not before this returns. */
    if (pending)
        watch_register(ex);
    return pending;
}

static const struct sockaddr *peer_addr(inferd_http_exchange_t *ex)
{
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info(ex->conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    return ci ? ci->client_addr : NULL;
}

bool inferd_http_peer_is_loopback(inferd_http_exchange_t *ex)
{
    return inferd_peer_is_loopback(peer_addr(ex));
}

bool inferd_http_debug_allowed(inferd_http_exchange_t *ex)
{
    const struct sockaddr *sa = peer_addr(ex);
    if (inferd_peer_is_loopback(sa) || inferd_peer_acl_match(&ex->http->debug_acl, sa))
        return true;
    inferd_http_respond_error(ex, INFERD_E_PERMISSION_DENIED,
                              "/debug is served to loopback clients and --debug-address "
                              "networks only");
    return false;
}

static void body_release(void *base, void *data)
{
    (void)data;
    inferd_free(base);
}

inferd_tensor_t *inferd_http_take_body(inferd_http_exchange_t *ex, inferd_err_t *err)
{
    size_t len;
    char *base = inferd_buf_steal(&ex->body, &len);
    size_t off = ex->body_off <= len ? ex->body_off : len;
    int64_t dims[1] = {(int64_t)(len - off)};
    inferd_tensor_t *t = inferd_tensor_wrap(INFERD_DTYPE_UINT8, dims, 1, base + off, len - off,
                                            body_release, base, INFERD_OWNER_REQUEST, err);
    if (!t)
        inferd_free(base);
    ex->body_off = 0;
    return t;
}

struct inferd_shm *inferd_http_shm(inferd_http_exchange_t *ex)
{
    return ex->http->shm;
}

/* Compares without an early exit, so the time taken does not tell how much matched. */
static bool same_secret(const char *a, const char *b)
{
    size_t la = strlen(a), lb = strlen(b);
    unsigned char diff = (unsigned char)(la != lb);
    for (size_t i = 0; i < la; i++)
        diff |= (unsigned char)(a[i] ^ b[i % (lb ? lb : 1)]);
    return diff == 0;
}

bool inferd_http_admin_allowed(inferd_http_exchange_t *ex)
{
    const inferd_server_options_t *o = &ex->srv->opt;
    if (o->admin_loopback_only && !inferd_http_peer_is_loopback(ex)) {
        inferd_http_respond_error(ex, INFERD_E_PERMISSION_DENIED,
                                  "this endpoint is served to loopback clients only "
                                  "(--admin-loopback-only)");
        return false;
    }
    if (o->admin_token && *o->admin_token) {
        const char *auth = inferd_http_header(ex, "Authorization");
        if (!auth || strncmp(auth, "Bearer ", 7) != 0 || !same_secret(auth + 7, o->admin_token)) {
            inferd_http_respond_error(ex, INFERD_E_PERMISSION_DENIED,
                                      "this endpoint needs 'Authorization: Bearer <token>' "
                                      "with the server's --admin-token");
            return false;
        }
    }
    return true;
}

const char *inferd_http_header(inferd_http_exchange_t *ex, const char *name)
{
    return MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND, name);
}

/* ------------------------------------------------------------------------------------ */
/* Exchanges                                                                            */

/* Binary tensor data is used in place as typed tensor views into the body, so the body of an
 * infer request with Inference-Header-Content-Length h is stored after body_off padding
 * bytes that put byte h at a multiple of BODY_ALIGN from the allocation (which malloc aligns
 * to 16). Blobs whose sizes are multiples of their element sizes then all start aligned. */
#define BODY_ALIGN 16

static void body_plan_padding(inferd_http_exchange_t *ex)
{
    if (ex->route_status != INFERD_OK || ex->route.kind != INFERD_ROUTE_MODEL_INFER)
        return;
    const char *ih =
        MHD_lookup_connection_value(ex->conn, MHD_HEADER_KIND, "Inference-Header-Content-Length");
    if (!ih)
        return;
    char *end;
    unsigned long long h = strtoull(ih, &end, 10);
    if (end == ih || *end != '\0')
        return; /* the handler reports it */
    size_t pad = (BODY_ALIGN - (size_t)(h % BODY_ALIGN)) % BODY_ALIGN;
    if (pad) {
        static const char zeros[BODY_ALIGN];
        inferd_buf_append(&ex->body, zeros, pad);
        ex->body_off = pad;
    }
}

static inferd_http_exchange_t *exchange_create(inferd_http_t *h, struct MHD_Connection *conn,
                                               const char *url, const char *method)
{
    inferd_http_exchange_t *ex = inferd_xcalloc(1, sizeof(*ex));
    ex->http = h;
    ex->srv = h->srv;
    ex->conn = conn;
    ex->url = url;
    ex->method_name = method;
    ex->t_start_ns = inferd_now_ns();
    atomic_init(&ex->completed, false);
    pthread_mutex_init(&ex->resume_lock, NULL);
    ex->method = strcmp(method, "GET") == 0    ? INFERD_HTTP_GET
                 : strcmp(method, "POST") == 0 ? INFERD_HTTP_POST
                                               : INFERD_HTTP_OTHER;
    /* Room for the alignment padding on top of the limit; the limit itself is checked on
     * the body without it (see on_request). */
    inferd_buf_init(&ex->body, (size_t)h->srv->opt.http_max_input_size + BODY_ALIGN);
    pthread_mutex_lock(&h->lock);
    ex->next = h->active;
    if (h->active)
        h->active->prev = ex;
    h->active = ex;
    h->n_active++;
    pthread_mutex_unlock(&h->lock);
    return ex;
}

static void exchange_destroy(inferd_http_exchange_t *ex)
{
    inferd_http_t *h = ex->http;
    pthread_mutex_lock(&h->lock);
    if (ex->prev)
        ex->prev->next = ex->next;
    else
        h->active = ex->next;
    if (ex->next)
        ex->next->prev = ex->prev;
    h->n_active--;
    pthread_mutex_unlock(&h->lock);
    watch_unregister(ex);
    inferd_v2_release(ex);
    inferd_buf_deinit(&ex->body);
    inferd_free(ex->resp_body);
    pthread_mutex_destroy(&ex->resume_lock);
    inferd_free(ex);
}

/* Thread: I/O. Called when MHD is done with a request (sent, or the connection died). */
static void on_completed(void *cls, struct MHD_Connection *conn, void **con_cls,
                         enum MHD_RequestTerminationCode toe)
{
    (void)cls;
    (void)conn;
    (void)toe;
    inferd_http_exchange_t *ex = *con_cls;
    if (ex)
        exchange_destroy(ex);
    *con_cls = NULL;
}

static void handle_complete_request(inferd_http_exchange_t *ex)
{
    inferd_http_t *h = ex->http;
    if (ex->body_too_large) {
        char msg[160];
        snprintf(msg, sizeof(msg), "request body exceeds --http-max-input-size (%lld bytes)",
                 (long long)h->srv->opt.http_max_input_size);
        inferd_http_respond_error(ex, INFERD_E_TOO_LARGE, msg);
        return;
    }
    if (ex->route_status != INFERD_OK) {
        inferd_http_respond_error(ex, ex->route_status, ex->route_err.msg);
        if (ex->route_status == INFERD_E_METHOD_NOT_ALLOWED)
            ex->allow = inferd_route_allow_header(ex->route.allowed_methods);
        return;
    }
    if (h->metrics_only && ex->route.kind != INFERD_ROUTE_METRICS) {
        inferd_http_respond_error(ex, INFERD_E_NOT_FOUND, "Not Found");
        return;
    }
    inferd_v2_handle(ex);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
                                  const char *method, const char *version, const char *upload_data,
                                  size_t *upload_data_size, void **con_cls)
{
    (void)version;
    inferd_http_t *h = cls;
    inferd_http_exchange_t *ex = *con_cls;
    if (!ex) {
        ex = exchange_create(h, conn, url, method);
        *con_cls = ex;
        ex->route_status = inferd_route_match(ex->method, url, &ex->route, &ex->route_err);
        /* A declared body over the limit is refused before a byte of it is read. */
        const char *cl =
            MHD_lookup_connection_value(conn, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH);
        if (cl) {
            char *end;
            unsigned long long n = strtoull(cl, &end, 10);
            if (*end == '\0' && n > (unsigned long long)h->srv->opt.http_max_input_size) {
                ex->body_too_large = true;
                ex->handled = true;
                handle_complete_request(ex);
                return queue_response(ex);
            }
            if (*end == '\0' && n > 0)
                inferd_buf_reserve(&ex->body, (size_t)n + BODY_ALIGN);
        }
        body_plan_padding(ex);
        return MHD_YES;
    }
    if (*upload_data_size) {
        if (!ex->body_too_large) {
            inferd_buf_append(&ex->body, upload_data, *upload_data_size);
            if (ex->body.failed ||
                ex->body.len - ex->body_off > (size_t)h->srv->opt.http_max_input_size) {
                ex->body_too_large = true;
                inferd_buf_deinit(&ex->body);
            }
        }
        *upload_data_size = 0;
        return MHD_YES;
    }
    if (ex->suspended) {
        if (!atomic_load_explicit(&ex->completed, memory_order_acquire))
            return MHD_YES; /* not ours to answer yet */
        ex->suspended = false;
        watch_unregister(ex);
        inferd_v2_complete(ex);
        return queue_response(ex);
    }
    if (!ex->handled) {
        ex->handled = true;
        handle_complete_request(ex);
        if (ex->suspended) {
            if (suspend_if_pending(ex))
                return MHD_YES;
            ex->suspended = false; /* answered before the handler returned */
            inferd_v2_complete(ex);
        }
    }
    return queue_response(ex);
}

/* MHD unescapes URLs by default; routing needs the raw path (so %2F stays in a name). */
static size_t keep_escapes(void *cls, struct MHD_Connection *c, char *uri)
{
    (void)cls;
    (void)c;
    return strlen(uri);
}

__attribute__((format(printf, 2, 0))) static void mhd_log(void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char msg[512];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    msg[strcspn(msg, "\n")] = '\0';
    inferd_log(INFERD_LOG_WARN, "http: %s", msg);
}

/* ------------------------------------------------------------------------------------ */
/* Daemon                                                                               */

static bool watch_start(inferd_http_t *h, inferd_err_t *err)
{
    h->watch_epfd = epoll_create1(EPOLL_CLOEXEC);
    h->watch_wake = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NULL};
    if (h->watch_epfd < 0 || h->watch_wake < 0 ||
        epoll_ctl(h->watch_epfd, EPOLL_CTL_ADD, h->watch_wake, &ev) != 0) {
        inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "http: cannot create the watcher");
        return false;
    }
    return inferd_thread_start(&h->watcher, h->metrics_only ? "http-watch-m" : "http-watch", "http",
                               watcher_main, h, err) == INFERD_OK;
}

inferd_status_t inferd_http_start(inferd_server_t *srv, const char *address, int port, int threads,
                                  bool metrics_only, inferd_http_t **out, inferd_err_t *err)
{
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_ALLOW_SUSPEND_RESUME |
                     MHD_USE_ERROR_LOG;
    struct sockaddr_in *in4 = (struct sockaddr_in *)&ss;
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    if (inet_pton(AF_INET, address, &in4->sin_addr) == 1) {
        in4->sin_family = AF_INET;
        in4->sin_port = htons((uint16_t)port);
    } else if (inet_pton(AF_INET6, address, &in6->sin6_addr) == 1) {
        in6->sin6_family = AF_INET6;
        in6->sin6_port = htons((uint16_t)port);
        flags |= MHD_USE_IPv6;
    } else {
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "invalid listen address '%s'", address);
    }

    inferd_peer_acl_t acl;
    if (inferd_peer_acl_parse(srv->opt.debug_address, &acl, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;

    inferd_http_t *h = inferd_xcalloc(1, sizeof(*h));
    h->srv = srv;
    h->debug_acl = acl;
    h->metrics_only = metrics_only;
    h->watch_epfd = h->watch_wake = -1;
    h->shm = inferd_shm_create();
    pthread_mutex_init(&h->lock, NULL);
    pthread_mutex_init(&h->watch_lock, NULL);
    h->daemon = MHD_start_daemon(
        flags, (uint16_t)port, NULL, NULL, on_request, h, MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
        MHD_OPTION_SOCK_ADDR, &ss, MHD_OPTION_THREAD_POOL_SIZE,
        (unsigned)(threads > 0 ? threads : 1), MHD_OPTION_CONNECTION_LIMIT,
        (unsigned)srv->opt.http_max_connections, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)srv->opt.http_idle_timeout_secs, MHD_OPTION_CONNECTION_MEMORY_LIMIT,
        (size_t)64 * 1024, MHD_OPTION_NOTIFY_COMPLETED, on_completed, h,
        MHD_OPTION_NOTIFY_CONNECTION, on_connection, h, MHD_OPTION_UNESCAPE_CALLBACK, keep_escapes,
        NULL, MHD_OPTION_END);
    if (!h->daemon) {
        pthread_mutex_destroy(&h->watch_lock);
        pthread_mutex_destroy(&h->lock);
        inferd_shm_destroy(h->shm);
        inferd_free(h);
        return inferd_err_set(err, INFERD_E_UNAVAILABLE, "cannot listen on %s:%d", address, port);
    }
    if (!watch_start(h, err)) {
        inferd_http_stop(h);
        return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    }
    *out = h;
    return INFERD_OK;
}

void inferd_http_quiesce(inferd_http_t *h)
{
    if (!h)
        return;
    MHD_socket s = MHD_quiesce_daemon(h->daemon);
    if (s != MHD_INVALID_SOCKET)
        close(s);
}

size_t inferd_http_active(inferd_http_t *h)
{
    if (!h)
        return 0;
    pthread_mutex_lock(&h->lock);
    size_t n = h->n_active;
    pthread_mutex_unlock(&h->lock);
    return n;
}

void inferd_http_cancel_all(inferd_http_t *h)
{
    if (!h)
        return;
    pthread_mutex_lock(&h->lock);
    for (inferd_http_exchange_t *ex = h->active; ex; ex = ex->next)
        inferd_v2_cancel(ex);
    pthread_mutex_unlock(&h->lock);
}

void inferd_http_stop(inferd_http_t *h)
{
    if (!h)
        return;
    MHD_stop_daemon(h->daemon);
    if (h->watcher) {
        atomic_store(&h->watch_stop, true);
        uint64_t one = 1;
        if (write(h->watch_wake, &one, sizeof(one)) != sizeof(one))
            inferd_log(INFERD_LOG_ERROR, "http: cannot wake the disconnect watcher");
        inferd_thread_join(h->watcher);
    }
    while (h->graveyard) {
        http_watch_t *w = h->graveyard;
        h->graveyard = w->next;
        inferd_free(w);
    }
    if (h->watch_wake >= 0)
        close(h->watch_wake);
    if (h->watch_epfd >= 0)
        close(h->watch_epfd);
    pthread_mutex_destroy(&h->watch_lock);
    pthread_mutex_destroy(&h->lock);
    /* After the daemon: no exchange can use a region now (views of finished ones are gone). */
    inferd_shm_destroy(h->shm);
    inferd_free(h);
}
