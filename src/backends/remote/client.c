/* Upstream HTTP client (see client.h). The I/O thread owns the multi handle: callers never
 * touch it, they queue calls to add or to abort and wake the thread with
 * curl_multi_wakeup. A call lives on its caller's stack until the I/O thread has marked it
 * done, which happens exactly once, after its easy handle left the multi handle. */
#include "backends/remote/client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "backends/remote/upstream.h"
#include "core/alloc.h"
#include "core/thread.h"

typedef struct remote_call {
    CURL *easy;
    struct curl_slist *headers;
    inferd_remote_response_t *resp;
    char errbuf[CURL_ERROR_SIZE];
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;       /* under lock: the I/O thread is finished with the call */
    CURLcode result; /* valid once done */
    bool aborted;    /* under lock: removed before it finished */
    bool in_multi;   /* I/O thread only */
    struct remote_call *next_add, *next_abort; /* queue links, under client.lock */
} remote_call_t;

static struct {
    pthread_mutex_t lock; /* guards everything below but multi */
    int users;
    inferd_thread_t *thread;
    CURLM *multi; /* I/O thread only, once started */
    remote_call_t *to_add, *to_abort;
    bool stop;
    long max_host_connections;
} client = {.lock = PTHREAD_MUTEX_INITIALIZER};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;

static void curl_init_once(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void inferd_remote_response_init(inferd_remote_response_t *resp, size_t max_bytes)
{
    memset(resp, 0, sizeof(*resp));
    inferd_buf_init(&resp->body, max_bytes);
    resp->header_length = -1;
}

void inferd_remote_response_deinit(inferd_remote_response_t *resp)
{
    inferd_buf_deinit(&resp->body);
}

/* ------------------------------------------------------------------------------------ */
/* The I/O thread                                                                       */

static void finish(remote_call_t *c, CURLcode result, bool aborted)
{
    pthread_mutex_lock(&c->lock);
    c->result = result;
    c->aborted = aborted;
    c->done = true;
    pthread_cond_signal(&c->cond);
    pthread_mutex_unlock(&c->lock);
}

static void io_main(void *arg)
{
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&client.lock);
        bool stop = client.stop;
        remote_call_t *add = client.to_add, *abort = client.to_abort;
        client.to_add = client.to_abort = NULL;
        pthread_mutex_unlock(&client.lock);
        for (remote_call_t *c = add, *next; c; c = next) {
            next = c->next_add;
            if (curl_multi_add_handle(client.multi, c->easy) == CURLM_OK)
                c->in_multi = true;
            else
                finish(c, CURLE_FAILED_INIT, false);
        }
        for (remote_call_t *c = abort, *next; c; c = next) {
            next = c->next_abort;
            if (!c->in_multi)
                continue; /* already finished in an earlier round */
            /* Removing a transfer under way closes its connection: the upstream sees it. */
            curl_multi_remove_handle(client.multi, c->easy);
            c->in_multi = false;
            finish(c, CURLE_ABORTED_BY_CALLBACK, true);
        }
        if (stop)
            break;
        int running = 0;
        curl_multi_perform(client.multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(client.multi, &left))) {
            if (msg->msg != CURLMSG_DONE)
                continue;
            remote_call_t *c = NULL;
            curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
            CURLcode rc = msg->data.result;
            curl_multi_remove_handle(client.multi, msg->easy_handle);
            c->in_multi = false;
            finish(c, rc, false);
        }
        inferd_thread_set_state("idle");
        curl_multi_poll(client.multi, NULL, 0, 1000, NULL);
        inferd_thread_set_state("running");
    }
}

inferd_status_t inferd_remote_client_acquire(inferd_err_t *err)
{
    pthread_once(&curl_once, curl_init_once);
    pthread_mutex_lock(&client.lock);
    inferd_status_t st = INFERD_OK;
    if (client.users++ == 0) {
        client.multi = curl_multi_init();
        client.stop = false;
        client.max_host_connections = 0;
        if (!client.multi)
            st = inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "cannot create an HTTP client");
        else
            st = inferd_thread_start(&client.thread, "remote-io", "client", io_main, NULL, err);
        if (st != INFERD_OK) {
            if (client.multi)
                curl_multi_cleanup(client.multi);
            client.multi = NULL;
            client.users--;
        }
    }
    pthread_mutex_unlock(&client.lock);
    return st;
}

void inferd_remote_client_release(void)
{
    pthread_mutex_lock(&client.lock);
    bool last = --client.users == 0;
    if (last)
        client.stop = true;
    pthread_mutex_unlock(&client.lock);
    if (!last)
        return;
    curl_multi_wakeup(client.multi);
    inferd_thread_join(client.thread);
    client.thread = NULL;
    curl_multi_cleanup(client.multi);
    client.multi = NULL;
}

/* ------------------------------------------------------------------------------------ */
/* Callers                                                                              */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
    remote_call_t *c = arg;
    inferd_buf_append(&c->resp->body, p, size * n);
    return c->resp->body.failed ? 0 : size * n; /* 0 aborts an oversized response */
}

static size_t on_header(char *p, size_t size, size_t n, void *arg)
{
    remote_call_t *c = arg;
    size_t len = size * n;
    static const char name[] = "inference-header-content-length:";
    if (len > sizeof(name) - 1 && strncasecmp(p, name, sizeof(name) - 1) == 0) {
        char v[32];
        size_t vl = len - (sizeof(name) - 1);
        if (vl >= sizeof(v))
            vl = sizeof(v) - 1;
        memcpy(v, p + sizeof(name) - 1, vl);
        v[vl] = '\0';
        char *end;
        long long x = strtoll(v, &end, 10);
        c->resp->header_length = end != v && x >= 0 ? x : -1;
    }
    return len;
}

/* Socket callbacks: a connection is counted for its upstream while it is open, whether
 * busy or pooled. The upstream entry outlives every connection (entries are never freed). */
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose, struct curl_sockaddr *addr)
{
    (void)purpose;
    curl_socket_t fd = socket(addr->family, addr->socktype | SOCK_CLOEXEC, addr->protocol);
    if (fd != CURL_SOCKET_BAD && clientp)
        atomic_fetch_add(&((inferd_upstream_t *)clientp)->open_connections, 1);
    return fd;
}

static int on_close_socket(void *clientp, curl_socket_t fd)
{
    if (clientp)
        atomic_fetch_sub(&((inferd_upstream_t *)clientp)->open_connections, 1);
    return close(fd);
}

static void queue_abort(remote_call_t *c)
{
    pthread_mutex_lock(&client.lock);
    c->next_abort = client.to_abort;
    client.to_abort = c;
    pthread_mutex_unlock(&client.lock);
    curl_multi_wakeup(client.multi);
}

inferd_status_t inferd_remote_perform(inferd_ctx_t *ctx, const inferd_remote_request_t *req,
                                      inferd_remote_response_t *resp, inferd_err_t *err)
{
    if (ctx && inferd_ctx_check(ctx, err) != INFERD_OK)
        return err->code;
    remote_call_t c;
    memset(&c, 0, sizeof(c));
    c.resp = resp;
    c.easy = curl_easy_init();
    if (!c.easy)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "cannot create an HTTP request");
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);

    int64_t timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 60000;
    if (ctx && ctx->deadline_ns) {
        int64_t left = inferd_ctx_remaining_ns(ctx) / 1000000 + 1;
        if (left < timeout_ms)
            timeout_ms = left;
    }
    char h[256];
    c.headers = curl_slist_append(c.headers, "Expect:"); /* no 100-continue round trip */
    if (req->header_length >= 0) {
        snprintf(h, sizeof(h), "Inference-Header-Content-Length: %lld",
                 (long long)req->header_length);
        c.headers = curl_slist_append(c.headers, h);
        c.headers = curl_slist_append(c.headers, "Content-Type: application/octet-stream");
    } else if (req->body) {
        c.headers = curl_slist_append(c.headers, "Content-Type: application/json");
    }
    if (req->request_id && *req->request_id) {
        snprintf(h, sizeof(h), "X-Request-ID: %.200s", req->request_id);
        c.headers = curl_slist_append(c.headers, h);
    }
    if (req->traceparent) {
        snprintf(h, sizeof(h), "traceparent: %s", req->traceparent);
        c.headers = curl_slist_append(c.headers, h);
    }
    curl_easy_setopt(c.easy, CURLOPT_URL, req->url);
    curl_easy_setopt(c.easy, CURLOPT_HTTPHEADER, c.headers);
    curl_easy_setopt(c.easy, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c.easy, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(c.easy, CURLOPT_CONNECTTIMEOUT_MS,
                     (long)(timeout_ms < 5000 ? timeout_ms : 5000));
    curl_easy_setopt(c.easy, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(c.easy, CURLOPT_WRITEDATA, &c);
    curl_easy_setopt(c.easy, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(c.easy, CURLOPT_HEADERDATA, &c);
    curl_easy_setopt(c.easy, CURLOPT_PRIVATE, &c);
    curl_easy_setopt(c.easy, CURLOPT_ERRORBUFFER, c.errbuf);
    curl_easy_setopt(c.easy, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c.easy, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
    curl_easy_setopt(c.easy, CURLOPT_OPENSOCKETDATA, req->upstream);
    curl_easy_setopt(c.easy, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    curl_easy_setopt(c.easy, CURLOPT_CLOSESOCKETDATA, req->upstream);
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(c.easy, CURLOPT_POST, 1L);
        curl_easy_setopt(c.easy, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(c.easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    }

    pthread_mutex_lock(&client.lock);
    if (req->max_host_connections > client.max_host_connections) {
        /* The pool bound is the largest any upstream asked for; set by the I/O thread's
         * owner of the multi handle only through this lock-protected path. */
        client.max_host_connections = req->max_host_connections;
        curl_multi_setopt(client.multi, CURLMOPT_MAX_HOST_CONNECTIONS, client.max_host_connections);
    }
    c.next_add = client.to_add;
    client.to_add = &c;
    pthread_mutex_unlock(&client.lock);
    curl_multi_wakeup(client.multi);

    /* Wait, checking the request's context every few milliseconds. */
    inferd_status_t ctx_st = INFERD_OK;
    inferd_err_t ctx_err;
    bool abort_sent = false;
    pthread_mutex_lock(&c.lock);
    while (!c.done) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 5000000;
        if (ts.tv_nsec >= 1000000000) {
            ts.tv_sec++;
            ts.tv_nsec -= 1000000000;
        }
        pthread_cond_timedwait(&c.cond, &c.lock, &ts);
        if (!c.done && !abort_sent && ctx &&
            (ctx_st = inferd_ctx_check(ctx, &ctx_err)) != INFERD_OK) {
            abort_sent = true;
            pthread_mutex_unlock(&c.lock);
            queue_abort(&c);
            pthread_mutex_lock(&c.lock);
        }
    }
    pthread_mutex_unlock(&c.lock);

    long status = 0;
    curl_off_t sent = 0;
    curl_easy_getinfo(c.easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c.easy, CURLINFO_SIZE_UPLOAD_T, &sent);
    resp->status = status;
    resp->sent = sent > 0 || status != 0;
    inferd_status_t st = INFERD_OK;
    if (c.aborted) {
        st = ctx_st != INFERD_OK ? inferd_err_set(err, ctx_st, "%s", ctx_err.msg)
                                 : inferd_err_set(err, INFERD_E_CANCELLED, "request cancelled");
    } else if (c.result == CURLE_OPERATION_TIMEDOUT && ctx && ctx->deadline_ns &&
               inferd_ctx_remaining_ns(ctx) <= 0) {
        st = inferd_err_set(err, INFERD_E_DEADLINE_EXCEEDED, "deadline exceeded waiting for %s",
                            req->url);
    } else if (c.result != CURLE_OK) {
        snprintf(resp->error, sizeof(resp->error), "%s",
                 c.errbuf[0] ? c.errbuf : curl_easy_strerror(c.result));
        resp->sent = resp->sent && c.result != CURLE_COULDNT_CONNECT &&
                     c.result != CURLE_COULDNT_RESOLVE_HOST;
        st = inferd_err_set(err, INFERD_E_UNAVAILABLE, "upstream %s: %s", req->url, resp->error);
    }
    curl_easy_cleanup(c.easy);
    curl_slist_free_all(c.headers);
    pthread_cond_destroy(&c.cond);
    pthread_mutex_destroy(&c.lock);
    return st;
}
