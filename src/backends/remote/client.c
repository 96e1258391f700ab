/* Upstream HTTP client (see client.h), on libcurl's multi "socket" interface. The multi
 * handle is shared under one mutex: the thread that starts a call adds it and drives it at
 * once (on a pooled connection the request is written before inferd_remote_start
 * returns), and curl's sockets and timer are watched by the I/O thread's epoll set and
 * timerfd. So starting a call wakes no thread: the I/O thread wakes when the upstream
 * answers. Completion callbacks run with no lock held. A call (its easy handle and
 * buffers) comes from a small free list and goes back to it after its callback. */
#include "backends/remote/client.h"

#include <curl/curl.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "backends/remote/http1.h"
#include "backends/remote/upstream.h"
#include "core/alloc.h"
#include "core/thread.h"

#define CTX_SCAN_NS 5000000ll  /* how often the I/O thread looks at its calls' contexts */
#define MAX_IDLE_CALLS 256     /* calls kept for reuse */
#define MAX_KICKS 8            /* immediate timer rounds per drive before the timerfd */
#define LINGER_MAX_NS 400000ll /* the longest a starting thread waits for the answer itself */

typedef struct remote_call {
    CURL *easy; /* kept across reuses */
    struct curl_slist *headers;
    inferd_remote_response_t *resp;
    inferd_ctx_t *ctx; /* borrowed until done; may be NULL */
    inferd_remote_done_fn done;
    void *arg;
    char errbuf[CURL_ERROR_SIZE];
    /* Outcome, set when the call leaves the multi handle. */
    CURLcode result;
    int sock_what;          /* what curl last asked to wait for on the call's socket (mlock) */
    curl_socket_t fd;       /* that socket */
    uint64_t gen;           /* bumped at each reuse (mlock): tells a lingering caller it is gone */
    inferd_status_t ctx_st; /* the context's verdict when aborted for it */
    inferd_err_t ctx_err;
    struct remote_call *next;                  /* free list (client.lock) or finished list */
    struct remote_call *live_prev, *live_next; /* calls in the multi handle (client.mlock) */
} remote_call_t;

static struct {
    pthread_mutex_t lock; /* users, thread, the free list, stop */
    int users;
    inferd_thread_t *thread;
    remote_call_t *idle;
    size_t n_idle;
    atomic_bool stop;
    atomic_int spinners; /* threads busy-polling for an answer (at most one) */

    pthread_mutex_t mlock; /* the multi handle and everything below */
    CURLM *multi;
    remote_call_t *live;
    bool kick;                 /* curl asked for an immediate timeout round */
    int64_t timer_due_ns;      /* when the timerfd fires (monotonic), 0 = unknown */
    long max_host_connections; /* applied to multi */
    int epfd, timerfd, wakefd; /* the I/O thread's epoll set, curl's timer, stop */
} client = {.lock = PTHREAD_MUTEX_INITIALIZER,
            .mlock = PTHREAD_MUTEX_INITIALIZER,
            .epfd = -1,
            .timerfd = -1,
            .wakefd = -1};

/* Set on the I/O thread and on a lingering thread: completions they run do not linger. */
static __thread bool no_linger;

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

static void call_free(remote_call_t *c)
{
    if (c->easy)
        curl_easy_cleanup(c->easy);
    curl_slist_free_all(c->headers);
    inferd_free(c);
}

/* Returns a finished call to the free list (or frees it). Thread: any; no lock held. */
static void call_put(remote_call_t *c)
{
    curl_slist_free_all(c->headers);
    c->headers = NULL;
    c->resp = NULL;
    c->ctx = NULL;
    pthread_mutex_lock(&client.lock);
    bool keep = client.n_idle < MAX_IDLE_CALLS && !atomic_load(&client.stop);
    if (keep) {
        c->next = client.idle;
        client.idle = c;
        client.n_idle++;
    }
    pthread_mutex_unlock(&client.lock);
    if (!keep)
        call_free(c);
}

static size_t on_body(char *p, size_t size, size_t n, void *arg);
static size_t on_header(char *p, size_t size, size_t n, void *arg);
static curl_socket_t on_open_socket(void *clientp, curlsocktype purpose,
                                    struct curl_sockaddr *addr);
static int on_close_socket(void *clientp, curl_socket_t fd);

/* A call ready for the per-request options. The options that never change are set once,
 * when its easy handle is made; a reused call keeps them (no curl_easy_reset). NULL when
 * out of memory. */
static remote_call_t *call_get(void)
{
    pthread_mutex_lock(&client.lock);
    remote_call_t *c = client.idle;
    if (c) {
        client.idle = c->next;
        client.n_idle--;
    }
    pthread_mutex_unlock(&client.lock);
    if (!c) {
        c = inferd_xcalloc(1, sizeof(*c));
        CURL *e = c->easy = curl_easy_init();
        if (!e) {
            inferd_free(c);
            return NULL;
        }
        curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
        curl_easy_setopt(e, CURLOPT_TCP_NODELAY, 1L);
        curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(e, CURLOPT_WRITEDATA, c);
        curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(e, CURLOPT_HEADERDATA, c);
        curl_easy_setopt(e, CURLOPT_PRIVATE, c);
        curl_easy_setopt(e, CURLOPT_ERRORBUFFER, c->errbuf);
        curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
        curl_easy_setopt(e, CURLOPT_OPENSOCKETFUNCTION, on_open_socket);
        curl_easy_setopt(e, CURLOPT_CLOSESOCKETFUNCTION, on_close_socket);
    }
    c->next = c->live_prev = c->live_next = NULL;
    c->sock_what = 0;
    c->fd = CURL_SOCKET_BAD;
    c->errbuf[0] = '\0';
    return c;
}

/* ------------------------------------------------------------------------------------ */
/* Driving the multi handle (client.mlock held)                                         */

static void live_unlink(remote_call_t *c)
{
    if (c->live_prev)
        c->live_prev->live_next = c->live_next;
    else
        client.live = c->live_next;
    if (c->live_next)
        c->live_next->live_prev = c->live_prev;
    c->live_prev = c->live_next = NULL;
}

/* curl's socket callback: mirrors what curl wants to wait for in the epoll set. A socket
 * curl stops watching (its connection goes back to the pool) stays in the set, disarmed
 * (one-shot, no events), so its next call needs one epoll_ctl, not three; a closed socket
 * leaves the set by itself. An event on a socket curl does not watch is ignored by curl. */
static int on_socket(CURL *e, curl_socket_t fd, int what, void *userp, void *socketp)
{
    (void)userp;
    (void)socketp;
    remote_call_t *c = NULL;
    if (curl_easy_getinfo(e, CURLINFO_PRIVATE, (char **)&c) == CURLE_OK && c) {
        c->sock_what = what;
        c->fd = fd;
    }
    struct epoll_event ev = {.events = EPOLLONESHOT, .data.fd = fd};
    if (what != CURL_POLL_REMOVE)
        ev.events =
            ((what & CURL_POLL_IN) ? EPOLLIN : 0u) | ((what & CURL_POLL_OUT) ? EPOLLOUT : 0u);
    if (epoll_ctl(client.epfd, EPOLL_CTL_MOD, fd, &ev) != 0 && errno == ENOENT &&
        what != CURL_POLL_REMOVE)
        epoll_ctl(client.epfd, EPOLL_CTL_ADD, fd, &ev);
    return 0;
}

/* curl's timer callback: 0 is run by the driver before it lets go of the lock; a later
 * expiry is the timerfd's, so the I/O thread wakes for it. The timerfd is only moved
 * earlier, never disarmed: firing early just makes curl say again when it wants to run
 * (and saves two system calls per call, whose timeouts are mostly seconds away). */
/* Makes the timerfd fire within in_ns from now (it may already be set to fire earlier). */
static void arm_timer(int64_t in_ns)
{
    int64_t now = inferd_now_ns(), due = now + in_ns;
    if (client.timer_due_ns && client.timer_due_ns <= due && client.timer_due_ns > now)
        return; /* armed for no later than that */
    struct itimerspec its = {.it_value = {.tv_sec = (time_t)(in_ns / 1000000000),
                                          .tv_nsec = (long)(in_ns % 1000000000)}};
    if (its.it_value.tv_sec == 0 && its.it_value.tv_nsec == 0)
        its.it_value.tv_nsec = 1; /* all zero would disarm */
    timerfd_settime(client.timerfd, 0, &its, NULL);
    client.timer_due_ns = due;
}

static int on_timer(CURLM *m, long timeout_ms, void *userp)
{
    (void)m;
    (void)userp;
    if (timeout_ms == 0) {
        client.kick = true;
        return 0;
    }
    if (timeout_ms >= 0)
        arm_timer((int64_t)timeout_ms * 1000000);
    return 0;
}

/* Takes a call out of the multi handle with its outcome, onto *fin. */
static void take_out(remote_call_t *c, CURLcode result, inferd_status_t ctx_st,
                     const inferd_err_t *ctx_err, remote_call_t **fin)
{
    curl_multi_remove_handle(client.multi, c->easy);
    live_unlink(c);
    c->result = result;
    c->ctx_st = ctx_st;
    if (ctx_st != INFERD_OK)
        c->ctx_err = *ctx_err;
    c->next = *fin;
    *fin = c;
}

/* Runs curl on fd's readiness (or on its timers for CURL_SOCKET_TIMEOUT), then collects
 * the calls that finished onto *fin. */
static void drive(curl_socket_t fd, int events, remote_call_t **fin)
{
    int running;
    client.kick = false;
    curl_multi_socket_action(client.multi, fd, events, &running);
    for (int k = 0; client.kick && k < MAX_KICKS; k++) {
        client.kick = false;
        curl_multi_socket_action(client.multi, CURL_SOCKET_TIMEOUT, 0, &running);
    }
    if (client.kick) {
        /* Still more: let the I/O thread go on, soon. */
        arm_timer(1000);
    }
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(client.multi, &left))) {
        if (msg->msg != CURLMSG_DONE)
            continue;
        remote_call_t *c = NULL;
        curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&c);
        take_out(c, msg->data.result, INFERD_OK, NULL, fin);
    }
}

/* Aborts the calls whose request was cancelled or whose deadline passed. Removing a
 * transfer under way closes its connection: the upstream sees the client go. */
static void scan_contexts(remote_call_t **fin)
{
    for (remote_call_t *c = client.live, *next; c; c = next) {
        next = c->live_next;
        inferd_err_t e;
        inferd_status_t st;
        if (c->ctx && (st = inferd_ctx_check(c->ctx, &e)) != INFERD_OK)
            take_out(c, CURLE_ABORTED_BY_CALLBACK, st, &e, fin);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Completions (no lock held)                                                           */

/* Hands a call's outcome to its caller, then recycles it. */
static void finish(remote_call_t *c)
{
    inferd_remote_response_t *resp = c->resp;
    CURLcode result = c->result;
    long status = 0;
    curl_off_t sent = 0;
    const char *url = NULL;
    curl_easy_getinfo(c->easy, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c->easy, CURLINFO_SIZE_UPLOAD_T, &sent);
    curl_easy_getinfo(c->easy, CURLINFO_EFFECTIVE_URL, &url);
    url = url ? url : "?";
    resp->status = status;
    resp->sent = sent > 0 || status != 0;
    inferd_err_t err = {0};
    inferd_status_t st = INFERD_OK;
    if (c->ctx_st != INFERD_OK) {
        st = inferd_err_set(&err, c->ctx_st, "%s", c->ctx_err.msg);
    } else if (result == CURLE_OPERATION_TIMEDOUT && c->ctx && c->ctx->deadline_ns &&
               inferd_ctx_remaining_ns(c->ctx) <= 0) {
        st = inferd_err_set(&err, INFERD_E_DEADLINE_EXCEEDED, "deadline exceeded waiting for %s",
                            url);
    } else if (result != CURLE_OK) {
        snprintf(resp->error, sizeof(resp->error), "%s",
                 c->errbuf[0] ? c->errbuf : curl_easy_strerror(result));
        resp->sent =
            resp->sent && result != CURLE_COULDNT_CONNECT && result != CURLE_COULDNT_RESOLVE_HOST;
        st = inferd_err_set(&err, INFERD_E_UNAVAILABLE, "upstream %s: %s", url, resp->error);
    }
    inferd_remote_done_fn done = c->done;
    void *arg = c->arg;
    call_put(c);
    done(arg, st, &err);
}

static void finish_all(remote_call_t *fin)
{
    /* The list is newest first; finish in completion order. */
    remote_call_t *rev = NULL;
    while (fin) {
        remote_call_t *next = fin->next;
        fin->next = rev;
        rev = fin;
        fin = next;
    }
    while (rev) {
        remote_call_t *next = rev->next;
        finish(rev);
        rev = next;
    }
}

/* ------------------------------------------------------------------------------------ */
/* The I/O thread                                                                       */

static void io_main(void *arg)
{
    (void)arg;
    no_linger = true;
    int64_t last_scan = 0;
    struct epoll_event evs[64];
    while (!atomic_load(&client.stop)) {
        pthread_mutex_lock(&client.mlock);
        bool busy = client.live != NULL;
        pthread_mutex_unlock(&client.mlock);
        inferd_thread_set_state("idle");
        /* While calls are under way, wake often enough to see their clients leave. */
        int n = epoll_wait(client.epfd, evs, 64, busy ? (int)(CTX_SCAN_NS / 1000000) : 1000);
        inferd_thread_set_state("running");
        remote_call_t *fin = NULL;
        pthread_mutex_lock(&client.mlock);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd == client.wakefd)
                continue; /* stop: seen at the top */
            if (fd == client.timerfd) {
                uint64_t ticks;
                if (read(fd, &ticks, sizeof(ticks)) < 0 && errno != EAGAIN)
                    continue;
                client.timer_due_ns = 0;
                drive(CURL_SOCKET_TIMEOUT, 0, &fin);
                continue;
            }
            int what = ((evs[i].events & EPOLLIN) ? CURL_CSELECT_IN : 0) |
                       ((evs[i].events & EPOLLOUT) ? CURL_CSELECT_OUT : 0) |
                       ((evs[i].events & (EPOLLERR | EPOLLHUP)) ? CURL_CSELECT_ERR : 0);
            drive(fd, what, &fin);
        }
        int64_t now = inferd_now_ns();
        if (client.live && now - last_scan >= CTX_SCAN_NS) {
            scan_contexts(&fin);
            last_scan = now;
        }
        pthread_mutex_unlock(&client.mlock);
        finish_all(fin);
    }
    /* Every model is unloaded by now; a straggler is cancelled, not left waiting. */
    remote_call_t *fin = NULL;
    pthread_mutex_lock(&client.mlock);
    while (client.live) {
        inferd_err_t e;
        inferd_err_set(&e, INFERD_E_CANCELLED, "the HTTP client is stopping");
        take_out(client.live, CURLE_ABORTED_BY_CALLBACK, INFERD_E_CANCELLED, &e, &fin);
    }
    pthread_mutex_unlock(&client.mlock);
    finish_all(fin);
}

static void client_close(void)
{
    if (client.multi)
        curl_multi_cleanup(client.multi);
    client.multi = NULL;
    int *fds[] = {&client.epfd, &client.timerfd, &client.wakefd};
    for (size_t i = 0; i < 3; i++) {
        if (*fds[i] >= 0)
            close(*fds[i]);
        *fds[i] = -1;
    }
}

static bool client_open(void)
{
    client.multi = curl_multi_init();
    client.epfd = epoll_create1(EPOLL_CLOEXEC);
    client.timerfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    client.wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    if (!client.multi || client.epfd < 0 || client.timerfd < 0 || client.wakefd < 0)
        return false;
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = client.timerfd};
    struct epoll_event wev = {.events = EPOLLIN, .data.fd = client.wakefd};
    if (epoll_ctl(client.epfd, EPOLL_CTL_ADD, client.timerfd, &ev) != 0 ||
        epoll_ctl(client.epfd, EPOLL_CTL_ADD, client.wakefd, &wev) != 0)
        return false;
    curl_multi_setopt(client.multi, CURLMOPT_SOCKETFUNCTION, on_socket);
    curl_multi_setopt(client.multi, CURLMOPT_TIMERFUNCTION, on_timer);
    client.max_host_connections = 0;
    client.kick = false;
    client.timer_due_ns = 0;
    return true;
}

inferd_status_t inferd_remote_client_acquire(inferd_err_t *err)
{
    if (inferd_h1_acquire(err) != INFERD_OK)
        return err->code;
    pthread_once(&curl_once, curl_init_once);
    pthread_mutex_lock(&client.lock);
    inferd_status_t st = INFERD_OK;
    if (client.users++ == 0) {
        atomic_store(&client.stop, false);
        if (!client_open())
            st = inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "cannot create an HTTP client");
        else
            st = inferd_thread_start(&client.thread, "remote-io", "client", io_main, NULL, err);
        if (st != INFERD_OK) {
            client_close();
            client.users--;
        }
    }
    pthread_mutex_unlock(&client.lock);
    if (st != INFERD_OK)
        inferd_h1_release();
    return st;
}

void inferd_remote_client_release(void)
{
    inferd_h1_release();
    pthread_mutex_lock(&client.lock);
    bool last = --client.users == 0;
    if (last)
        atomic_store(&client.stop, true);
    pthread_mutex_unlock(&client.lock);
    if (!last)
        return;
    uint64_t one = 1;
    if (write(client.wakefd, &one, sizeof(one)) != sizeof(one))
        abort(); /* an eventfd write cannot fail here; the join below would hang */
    inferd_thread_join(client.thread);
    client.thread = NULL;
    pthread_mutex_lock(&client.lock);
    remote_call_t *idle = client.idle;
    client.idle = NULL;
    client.n_idle = 0;
    pthread_mutex_unlock(&client.lock);
    while (idle) {
        remote_call_t *next = idle->next;
        call_free(idle);
        idle = next;
    }
    client_close();
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

static bool call_is_live(const remote_call_t *c)
{
    for (const remote_call_t *l = client.live; l; l = l->live_next)
        if (l == c)
            return true;
    return false;
}

/* A call whose request is on the wire and which only waits for the answer: its starter
 * waits for it on the socket (the I/O thread's watch of that socket is disarmed
 * meanwhile), so a quick answer is handled on this thread, sparing the wake-up of the I/O
 * thread and its hand-over. Bounded by LINGER_MAX_NS; then the socket goes back to the I/O
 * thread. c is only looked at under mlock while it is live with the same generation. */
static void linger(remote_call_t *c, curl_socket_t fd, uint64_t gen, int64_t wait_ns)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    int ready = 0;
    /* One thread at a time busy-polls the socket (a sleeping thread's wake-up costs tens
     * of microseconds on a virtual CPU, as much as the upstream's answer); others sleep. */
    int expect = 0;
    if (atomic_compare_exchange_strong(&client.spinners, &expect, 1)) {
        int64_t end = inferd_now_ns() + wait_ns;
        while ((ready = poll(&p, 1, 0)) == 0 && inferd_now_ns() < end)
            ;
        atomic_store(&client.spinners, 0);
    } else {
        struct timespec ts = {0, (long)wait_ns};
        ready = ppoll(&p, 1, &ts, NULL);
    }
    remote_call_t *fin = NULL;
    no_linger = true;
    pthread_mutex_lock(&client.mlock);
    if (call_is_live(c) && c->gen == gen && c->fd == fd) {
        if (ready == 1)
            drive(fd, CURL_CSELECT_IN, &fin);
        bool ended = false;
        for (remote_call_t *f = fin; f; f = f->next)
            ended = ended || f == c;
        if (!ended && c->fd == fd && c->sock_what != CURL_POLL_REMOVE) {
            /* Not done: what curl waits for goes back to the I/O thread. */
            struct epoll_event ev = {.events = ((c->sock_what & CURL_POLL_IN) ? EPOLLIN : 0u) |
                                               ((c->sock_what & CURL_POLL_OUT) ? EPOLLOUT : 0u),
                                     .data.fd = fd};
            epoll_ctl(client.epfd, EPOLL_CTL_MOD, fd, &ev);
        }
    }
    pthread_mutex_unlock(&client.mlock);
    finish_all(fin);
    no_linger = false;
}

inferd_status_t inferd_remote_start(inferd_ctx_t *ctx, const inferd_remote_request_t *req,
                                    inferd_remote_response_t *resp, inferd_remote_done_fn done,
                                    void *arg, inferd_err_t *err)
{
    if (strncasecmp(req->url, "http://", 7) == 0)
        return inferd_h1_start(ctx, req, resp, done, arg, err); /* see http1.h */
    if (ctx && inferd_ctx_check(ctx, err) != INFERD_OK)
        return err->code;
    remote_call_t *c = call_get();
    if (!c)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "cannot create an HTTP request");
    c->resp = resp;
    c->ctx = ctx;
    c->done = done;
    c->arg = arg;

    int64_t timeout_ms = req->timeout_ms > 0 ? req->timeout_ms : 60000;
    if (ctx && ctx->deadline_ns) {
        int64_t left = inferd_ctx_remaining_ns(ctx) / 1000000 + 1;
        if (left < timeout_ms)
            timeout_ms = left;
    }
    char h[256];
    c->headers = curl_slist_append(c->headers, "Expect:"); /* no 100-continue round trip */
    if (req->header_length >= 0) {
        snprintf(h, sizeof(h), "Inference-Header-Content-Length: %lld",
                 (long long)req->header_length);
        c->headers = curl_slist_append(c->headers, h);
        c->headers = curl_slist_append(c->headers, "Content-Type: application/octet-stream");
    } else if (req->body) {
        c->headers = curl_slist_append(c->headers, "Content-Type: application/json");
    }
    if (req->request_id && *req->request_id) {
        snprintf(h, sizeof(h), "X-Request-ID: %.200s", req->request_id);
        c->headers = curl_slist_append(c->headers, h);
    }
    if (req->traceparent) {
        snprintf(h, sizeof(h), "traceparent: %s", req->traceparent);
        c->headers = curl_slist_append(c->headers, h);
    }
    if (req->traceparent && req->tracestate) {
        char ts[16 + 512 + 1];
        snprintf(ts, sizeof(ts), "tracestate: %.512s", req->tracestate);
        c->headers = curl_slist_append(c->headers, ts);
    }
    CURL *e = c->easy;
    curl_easy_setopt(e, CURLOPT_URL, req->url);
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, c->headers);
    curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, (long)(timeout_ms < 5000 ? timeout_ms : 5000));
    curl_easy_setopt(e, CURLOPT_OPENSOCKETDATA, req->upstream);
    curl_easy_setopt(e, CURLOPT_CLOSESOCKETDATA, req->upstream);
    if (strcmp(req->method, "POST") == 0) {
        curl_easy_setopt(e, CURLOPT_POST, 1L);
        curl_easy_setopt(e, CURLOPT_POSTFIELDS, req->body ? req->body : "");
        curl_easy_setopt(e, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else {
        curl_easy_setopt(e, CURLOPT_HTTPGET, 1L); /* a reused handle may have posted */
    }

    c->ctx_st = INFERD_OK;
    remote_call_t *fin = NULL;
    pthread_mutex_lock(&client.mlock);
    if (req->max_host_connections > client.max_host_connections) {
        /* The pool bound is the largest any upstream asked for. */
        client.max_host_connections = req->max_host_connections;
        curl_multi_setopt(client.multi, CURLMOPT_MAX_HOST_CONNECTIONS, client.max_host_connections);
    }
    c->gen++;
    uint64_t gen = c->gen;
    curl_socket_t linger_fd = CURL_SOCKET_BAD;
    CURLMcode mc = curl_multi_add_handle(client.multi, c->easy);
    if (mc == CURLM_OK) {
        /* The I/O thread, idle, may sleep for a second: have it look at the call's
         * context in CTX_SCAN_NS (it then keeps looking while calls are under way). */
        if (!client.live)
            arm_timer(CTX_SCAN_NS);
        c->live_next = client.live;
        if (client.live)
            client.live->live_prev = c;
        client.live = c;
        /* Runs the new transfer as far as it goes now: on a pooled connection, the
         * request is on the wire before this returns. */
        drive(CURL_SOCKET_TIMEOUT, 0, &fin);
        bool ended = false;
        for (remote_call_t *f = fin; f; f = f->next)
            ended = ended || f == c;
        if (!ended && req->linger_ns > 0 && !no_linger && c->sock_what == CURL_POLL_IN &&
            c->fd != CURL_SOCKET_BAD) {
            linger_fd = c->fd;
            struct epoll_event ev = {.events = EPOLLONESHOT, .data.fd = linger_fd};
            epoll_ctl(client.epfd, EPOLL_CTL_MOD, linger_fd, &ev);
        }
    }
    pthread_mutex_unlock(&client.mlock);
    if (mc != CURLM_OK) {
        call_put(c);
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "cannot start an HTTP request");
    }
    finish_all(fin); /* calls that ended at once (this one, or others) */
    if (linger_fd != CURL_SOCKET_BAD)
        linger(c, linger_fd, gen, req->linger_ns < LINGER_MAX_NS ? req->linger_ns : LINGER_MAX_NS);
    return INFERD_OK;
}

/* inferd_remote_perform waits on one of these for its call's callback. */
typedef struct waiter {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    inferd_status_t st;
    inferd_err_t err;
} waiter_t;

static void waiter_done(void *arg, inferd_status_t st, const inferd_err_t *err)
{
    waiter_t *w = arg;
    pthread_mutex_lock(&w->lock);
    w->st = st;
    if (st != INFERD_OK)
        w->err = *err;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

inferd_status_t inferd_remote_perform(inferd_ctx_t *ctx, const inferd_remote_request_t *req,
                                      inferd_remote_response_t *resp, inferd_err_t *err)
{
    waiter_t w = {.done = false};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    inferd_status_t st = inferd_remote_start(ctx, req, resp, waiter_done, &w, err);
    if (st == INFERD_OK) {
        /* Bounded: the call has a transfer timeout, and the I/O thread aborts it when ctx
         * is cancelled or expires. */
        pthread_mutex_lock(&w.lock);
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
        st = w.st;
        if (st != INFERD_OK && err)
            *err = w.err;
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
    return st;
}
