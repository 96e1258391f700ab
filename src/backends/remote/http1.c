/* HTTP/1.1 client for http:// upstreams (see http1.h). Everything shared (hosts, their
 * connection pools and waiting calls, the live calls) is under one mutex; system calls on a
 * connection are made by whoever holds the call: under the mutex, or, for a lingering
 * starter, by that thread alone (the I/O thread neither watches nor closes a lingering
 * call's socket; it only marks the call to be aborted when the linger ends). Per call on a
 * pooled connection: one recv(MSG_PEEK) to see the connection is still open, one sendmsg,
 * then recv; no allocation but the response body, no timer system call (the I/O thread
 * ticks every CTX_SCAN_NS while calls come, and sleeps when none came for a second). */
#include "backends/remote/http1.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "backends/remote/upstream.h"
#include "core/alloc.h"
#include "core/thread.h"

/* ------------------------------------------------------------------------------------ */
/* Response parser                                                                      */

enum {
    P_STATUS = 0,
    P_HEADERS,
    P_BODY_LEN,
    P_BODY_EOF,
    P_CHUNK_SIZE,
    P_CHUNK_DATA,
    P_CHUNK_END,
    P_TRAILERS,
    P_DONE,
    P_ERROR
};

void inferd_h1_parser_init(inferd_h1_parser_t *p)
{
    p->state = P_STATUS;
    p->interim = p->chunked = p->close = p->got_byte = false;
    p->content_length = -1;
    p->left = 0;
    p->line_len = 0;
    p->error[0] = '\0';
}

static int perr(inferd_h1_parser_t *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static int perr(inferd_h1_parser_t *p, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->error, sizeof(p->error), fmt, ap);
    va_end(ap);
    p->close = true;
    return p->state = P_ERROR;
}

/* "HTTP/1.x ddd[ reason]" */
static int status_line(inferd_h1_parser_t *p, const char *l, inferd_remote_response_t *resp)
{
    if (strncmp(l, "HTTP/1.", 7) != 0 || (l[7] != '0' && l[7] != '1') || l[8] != ' ' ||
        l[9] < '1' || l[9] > '5' || l[10] < '0' || l[10] > '9' || l[11] < '0' || l[11] > '9' ||
        (l[12] != '\0' && l[12] != ' '))
        return perr(p, "malformed status line");
    long st = (l[9] - '0') * 100 + (l[10] - '0') * 10 + (l[11] - '0');
    if (st == 101)
        return perr(p, "unexpected protocol switch");
    p->interim = st < 200;
    if (!p->interim) {
        resp->status = st;
        p->close = l[7] == '0'; /* HTTP/1.0 keeps the connection only when it says so */
    }
    return p->state = P_HEADERS;
}

static bool token_in(const char *v, const char *tok)
{
    size_t n = strlen(tok);
    for (const char *s = v; *s;) {
        while (*s == ' ' || *s == '\t' || *s == ',')
            s++;
        const char *e = s;
        while (*e && *e != ',')
            e++;
        const char *t = e;
        while (t > s && (t[-1] == ' ' || t[-1] == '\t'))
            t--;
        if ((size_t)(t - s) == n && strncasecmp(s, tok, n) == 0)
            return true;
        s = e;
    }
    return false;
}

static int end_headers(inferd_h1_parser_t *p, inferd_remote_response_t *resp)
{
    if (p->interim) {
        p->interim = false;
        return p->state = P_STATUS;
    }
    if (resp->status == 204 || resp->status == 304)
        return p->state = P_DONE;
    if (p->chunked) {
        p->close = p->close || p->content_length >= 0; /* both: do not trust the framing */
        return p->state = P_CHUNK_SIZE;
    }
    if (p->content_length < 0) {
        p->close = true;
        return p->state = P_BODY_EOF;
    }
    if (resp->body.limit && (uint64_t)p->content_length > resp->body.limit)
        return perr(p, "response larger than %zu bytes", resp->body.limit);
    if (p->content_length == 0)
        return p->state = P_DONE;
    inferd_buf_reserve(&resp->body, (size_t)p->content_length);
    p->left = (uint64_t)p->content_length;
    return p->state = P_BODY_LEN;
}

static int header_line(inferd_h1_parser_t *p, char *l, inferd_remote_response_t *resp)
{
    if (*l == '\0')
        return end_headers(p, resp);
    char *colon = strchr(l, ':');
    if (!colon || colon == l || *l == ' ' || *l == '\t')
        return perr(p, "malformed header line");
    *colon = '\0';
    char *v = colon + 1;
    while (*v == ' ' || *v == '\t')
        v++;
    size_t vl = strlen(v);
    while (vl && (v[vl - 1] == ' ' || v[vl - 1] == '\t'))
        v[--vl] = '\0';
    if (p->interim)
        return p->state;
    if (strcasecmp(l, "content-length") == 0) {
        if (vl == 0 || vl > 18 || strspn(v, "0123456789") != vl)
            return perr(p, "invalid Content-Length");
        int64_t x = strtoll(v, NULL, 10);
        if (p->content_length >= 0 && p->content_length != x)
            return perr(p, "conflicting Content-Length");
        p->content_length = x;
    } else if (strcasecmp(l, "transfer-encoding") == 0) {
        if (strcasecmp(v, "chunked") == 0)
            p->chunked = true;
        else if (strcasecmp(v, "identity") != 0)
            return perr(p, "unsupported Transfer-Encoding");
    } else if (strcasecmp(l, "connection") == 0) {
        if (token_in(v, "close"))
            p->close = true;
        else if (token_in(v, "keep-alive"))
            p->close = false;
    } else if (strcasecmp(l, "inference-header-content-length") == 0) {
        char *end;
        long long x = strtoll(v, &end, 10);
        resp->header_length = end != v && x >= 0 ? x : -1;
    }
    return p->state;
}

static int chunk_size(inferd_h1_parser_t *p, const char *l)
{
    uint64_t x = 0;
    size_t n = 0;
    for (; l[n]; n++) {
        int c = l[n], d = c >= '0' && c <= '9'   ? c - '0'
                          : c >= 'a' && c <= 'f' ? c - 'a' + 10
                          : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                                 : -1;
        if (d < 0)
            break;
        if (n >= 15)
            return perr(p, "invalid chunk size");
        x = x * 16 + (uint64_t)d;
    }
    if (n == 0 || (l[n] != '\0' && l[n] != ';' && l[n] != ' ' && l[n] != '\t'))
        return perr(p, "invalid chunk size");
    if (x == 0)
        return p->state = P_TRAILERS;
    p->left = x;
    return p->state = P_CHUNK_DATA;
}

static int line_done(inferd_h1_parser_t *p, inferd_remote_response_t *resp)
{
    char *l = p->line;
    size_t n = p->line_len;
    p->line_len = 0;
    if (n && l[n - 1] == '\r')
        n--;
    l[n] = '\0';
    if (memchr(l, '\0', n))
        return perr(p, "NUL byte in the response head");
    switch (p->state) {
    case P_STATUS: return status_line(p, l, resp);
    case P_HEADERS: return header_line(p, l, resp);
    case P_CHUNK_SIZE: return chunk_size(p, l);
    case P_CHUNK_END: return n == 0 ? (p->state = P_CHUNK_SIZE) : perr(p, "malformed chunk end");
    case P_TRAILERS: return n == 0 ? (p->state = P_DONE) : p->state;
    default: return perr(p, "parser state");
    }
}

static bool body(inferd_h1_parser_t *p, inferd_remote_response_t *resp, const char *d, size_t n)
{
    inferd_buf_append(&resp->body, d, n);
    if (resp->body.failed) {
        perr(p, "response larger than %zu bytes", resp->body.limit);
        return false;
    }
    return true;
}

inferd_h1_result_t inferd_h1_parse(inferd_h1_parser_t *p, const char *data, size_t n,
                                   inferd_remote_response_t *resp, size_t *used)
{
    size_t i = 0;
    if (n)
        p->got_byte = true;
    while (i < n && p->state != P_DONE && p->state != P_ERROR) {
        if (p->state == P_BODY_LEN || p->state == P_CHUNK_DATA) {
            size_t take = n - i < p->left ? n - i : (size_t)p->left;
            if (!body(p, resp, data + i, take))
                break;
            i += take;
            p->left -= take;
            if (p->left == 0)
                p->state = p->state == P_BODY_LEN ? P_DONE : P_CHUNK_END;
        } else if (p->state == P_BODY_EOF) {
            if (body(p, resp, data + i, n - i))
                i = n;
        } else {
            const char *nl = memchr(data + i, '\n', n - i);
            size_t seg = nl ? (size_t)(nl - (data + i)) : n - i;
            if (p->line_len + seg >= sizeof(p->line)) {
                perr(p, "response head line too long");
                break;
            }
            memcpy(p->line + p->line_len, data + i, seg);
            p->line_len += seg;
            i += seg + (nl ? 1 : 0);
            if (nl)
                line_done(p, resp);
        }
    }
    *used = i;
    return p->state == P_DONE    ? INFERD_H1_DONE
           : p->state == P_ERROR ? INFERD_H1_ERROR
                                 : INFERD_H1_MORE;
}

inferd_h1_result_t inferd_h1_parse_eof(inferd_h1_parser_t *p)
{
    if (p->state == P_BODY_EOF)
        return p->state = P_DONE, INFERD_H1_DONE;
    if (p->state == P_DONE)
        return INFERD_H1_DONE;
    if (p->state != P_ERROR)
        perr(p, p->got_byte ? "connection closed before the response ended"
                            : "empty reply from server");
    return INFERD_H1_ERROR;
}

bool inferd_h1_keep_alive(const inferd_h1_parser_t *p)
{
    return p->state == P_DONE && !p->close;
}

/* ------------------------------------------------------------------------------------ */
/* Client                                                                               */

#define CTX_SCAN_NS 5000000ll      /* how often the I/O thread looks at its calls' contexts */
#define IDLE_AFTER_NS 1000000000ll /* no call started for this long: the I/O thread sleeps */
#define MAX_IDLE_CALLS 256         /* calls kept for reuse */
#define MAX_HOSTS 256              /* distinct host:port pools */
#define LINGER_MAX_NS 400000ll     /* the longest a starting thread waits for the answer itself */
#define CONNECT_MAX_NS 5000000000ll
#define RESOLVE_TTL_NS 60000000000ll /* a resolved name is reused this long for new connections */
#define READ_CHUNK 16384

typedef struct h1_call h1_call_t;
typedef struct h1_host h1_host_t;

typedef struct h1_conn {
    int fd;
    uint32_t serial; /* tells an epoll event of a closed connection from its fd's next user */
    h1_host_t *host;
    inferd_upstream_t *up; /* counts it while open; entries are never freed */
    h1_call_t *call;       /* NULL while pooled */
    bool used;             /* carried a request before: a silent failure may be retried */
    struct h1_conn *next;  /* the host's idle list */
} h1_conn_t;

struct h1_host {
    char name[256]; /* without brackets */
    char port[8];
    struct sockaddr_storage addr;
    socklen_t addr_len; /* 0: not resolved */
    int64_t resolved_ns;
    long max_conns;
    long n_open;
    h1_conn_t *idle;
    h1_call_t *wait_head, *wait_tail; /* calls waiting for a connection, FIFO */
    h1_host_t *next;
};

enum { C_WAIT = 0, C_CONNECT, C_WRITE, C_READ };

struct h1_call {
    h1_host_t *host;
    h1_conn_t *conn;
    inferd_upstream_t *up;
    inferd_remote_response_t *resp;
    inferd_ctx_t *ctx; /* borrowed until done; may be NULL */
    inferd_remote_done_fn done;
    void *arg;
    int phase;
    int64_t expires_ns, connect_by_ns, started_ns;
    const char *body; /* borrowed */
    size_t body_len;
    size_t written; /* of head and body */
    bool retried, lingering, aborted;
    inferd_status_t st; /* the outcome */
    inferd_err_t err;
    h1_call_t *next; /* free list, finished list, or the host's wait list */
    h1_call_t *live_prev, *live_next;
    inferd_h1_parser_t parser;
    size_t head_len;
    char url[1024]; /* for messages */
    char head[4096];
};

static struct {
    pthread_mutex_t lock; /* everything below */
    int users;
    inferd_thread_t *thread;
    atomic_bool stop;
    atomic_bool asleep;         /* the I/O thread sleeps long: wake it for a new call */
    atomic_llong last_start_ns; /* when a call last started */
    atomic_int spinners;        /* threads busy-polling for an answer (at most one) */
    int epfd, wakefd;
    h1_call_t *idle_calls;
    size_t n_idle_calls;
    h1_call_t *live;
    h1_host_t *hosts;
    size_t n_hosts;
    h1_conn_t **by_fd;
    size_t by_fd_cap;
    uint32_t serial;
} h1 = {.lock = PTHREAD_MUTEX_INITIALIZER, .epfd = -1, .wakefd = -1};

/* Set on the I/O thread and on a lingering thread: completions they run do not linger. */
static __thread bool no_linger;

#define WAKE_TAG UINT64_MAX

static uint64_t tag(const h1_conn_t *k)
{
    return ((uint64_t)k->serial << 32) | (uint32_t)k->fd;
}

static void arm(h1_conn_t *k, uint32_t events)
{
    struct epoll_event ev = {.events = events | EPOLLONESHOT, .data.u64 = tag(k)};
    epoll_ctl(h1.epfd, EPOLL_CTL_MOD, k->fd, &ev);
}

static void live_unlink(h1_call_t *c)
{
    if (c->live_prev)
        c->live_prev->live_next = c->live_next;
    else
        h1.live = c->live_next;
    if (c->live_next)
        c->live_next->live_prev = c->live_prev;
    c->live_prev = c->live_next = NULL;
}

static void conn_open(h1_call_t *c, h1_call_t **fin);
static void send_request(h1_call_t *c, bool arm_read, h1_call_t **fin);

/* Gives free pool slots to the calls waiting for a connection, first come first. */
static void dispatch_waiters(h1_host_t *h, h1_call_t **fin)
{
    while (h->wait_head && h->n_open < h->max_conns) {
        h1_call_t *w = h->wait_head;
        h->wait_head = w->next;
        if (!h->wait_head)
            h->wait_tail = NULL;
        w->next = NULL;
        conn_open(w, fin);
    }
}

/* Closes a connection; with dispatch, its pool slot goes to the first waiting call. */
static void conn_close(h1_conn_t *k, bool dispatch, h1_call_t **fin)
{
    h1_host_t *h = k->host;
    if (k->call)
        k->call->conn = NULL;
    h1.by_fd[k->fd] = NULL;
    close(k->fd); /* leaves the epoll set by itself */
    if (k->up)
        atomic_fetch_sub(&k->up->open_connections, 1);
    h->n_open--;
    inferd_free(k);
    if (dispatch)
        dispatch_waiters(h, fin);
}

/* Connection k now serves call c: the open-connections gauge counts it for c's upstream.
 * A pooled connection may have been opened by a call of another upstream on the same host,
 * or by one counted nowhere (the model-metadata and mirror fetches at load). */
static void conn_adopt(h1_conn_t *k, h1_call_t *c)
{
    k->call = c;
    c->conn = k;
    if (k->up == c->up)
        return;
    if (k->up)
        atomic_fetch_sub(&k->up->open_connections, 1);
    if (c->up)
        atomic_fetch_add(&c->up->open_connections, 1);
    k->up = c->up;
}

/* Ends a call with its outcome (its connection closed unless keep), onto *fin. */
static void call_end(h1_call_t *c, bool keep, h1_call_t **fin)
{
    h1_conn_t *k = c->conn;
    if (k && keep) {
        k->call = NULL;
        k->used = true;
        c->conn = NULL;
        h1_host_t *h = k->host;
        h1_call_t *w = h->wait_head;
        if (w) { /* straight to the first waiting call */
            h->wait_head = w->next;
            if (!h->wait_head)
                h->wait_tail = NULL;
            w->next = NULL;
            conn_adopt(k, w);
            send_request(w, true, fin);
        } else {
            k->next = h->idle;
            h->idle = k;
        }
    } else if (k) {
        conn_close(k, true, fin);
    }
    live_unlink(c);
    c->next = *fin;
    *fin = c;
}

static void call_fail(h1_call_t *c, inferd_status_t st, h1_call_t **fin, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void call_fail(h1_call_t *c, inferd_status_t st, h1_call_t **fin, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    char msg[256];
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    c->st = st;
    if (st == INFERD_E_UNAVAILABLE) {
        snprintf(c->resp->error, sizeof(c->resp->error), "%s", msg);
        inferd_err_set(&c->err, st, "upstream %s: %s", c->url, msg);
    } else {
        inferd_err_set(&c->err, st, "%s", msg);
    }
    call_end(c, false, fin);
}

/* The request failed on a reused connection before any answer: the server most likely
 * closed it while idle, so it is sent once more on a new connection (in the same slot). */
static bool retry(h1_call_t *c, h1_call_t **fin)
{
    if (!c->conn || !c->conn->used || c->retried || c->parser.got_byte)
        return false;
    c->retried = true;
    conn_close(c->conn, false, fin);
    c->resp->sent = false;
    c->written = 0;
    inferd_h1_parser_init(&c->parser);
    h1_host_t *h = c->host;
    conn_open(c, fin);
    dispatch_waiters(h, fin);
    return true;
}

static bool by_fd_fit(int fd)
{
    if ((size_t)fd < h1.by_fd_cap)
        return true;
    size_t cap = h1.by_fd_cap ? h1.by_fd_cap : 256;
    while (cap <= (size_t)fd)
        cap *= 2;
    h1_conn_t **t = inferd_realloc(h1.by_fd, cap * sizeof(*t));
    if (!t)
        return false;
    memset(t + h1.by_fd_cap, 0, (cap - h1.by_fd_cap) * sizeof(*t));
    h1.by_fd = t;
    h1.by_fd_cap = cap;
    return true;
}

/* Opens a new connection for c (its slot is counted in the host's n_open). */
static void conn_open(h1_call_t *c, h1_call_t **fin)
{
    h1_host_t *h = c->host;
    int64_t now = inferd_now_ns();
    int fd = socket(h->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0 || !by_fd_fit(fd)) {
        int e = errno;
        if (fd >= 0)
            close(fd);
        c->conn = NULL;
        call_fail(c, INFERD_E_UNAVAILABLE, fin, "cannot open a socket: %s", strerror(e));
        return;
    }
    h1_conn_t *k = inferd_xcalloc(1, sizeof(*k));
    k->fd = fd;
    k->serial = ++h1.serial;
    k->host = h;
    k->up = c->up;
    k->call = c;
    c->conn = k;
    h->n_open++;
    h1.by_fd[fd] = k;
    if (k->up)
        atomic_fetch_add(&k->up->open_connections, 1);
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    struct epoll_event ev = {.events = EPOLLONESHOT, .data.u64 = tag(k)};
    epoll_ctl(h1.epfd, EPOLL_CTL_ADD, fd, &ev);
    int64_t left = c->expires_ns - now;
    c->connect_by_ns = now + (left < CONNECT_MAX_NS ? left : CONNECT_MAX_NS);
    if (connect(fd, (struct sockaddr *)&h->addr, h->addr_len) == 0) {
        c->connect_by_ns = 0;
        send_request(c, true, fin);
    } else if (errno == EINPROGRESS) {
        c->phase = C_CONNECT;
        arm(k, EPOLLOUT);
    } else {
        int e = errno;
        conn_close(k, false, fin); /* the caller hands the slot on */
        call_fail(c, INFERD_E_UNAVAILABLE, fin, "cannot connect: %s", strerror(e));
    }
}

/* Writes what is left of the request; then waits for the answer (arm_read: on the I/O
 * thread; else the caller lingers). */
static void send_request(h1_call_t *c, bool arm_read, h1_call_t **fin)
{
    h1_conn_t *k = c->conn;
    c->phase = C_WRITE;
    size_t total = c->head_len + c->body_len;
    while (c->written < total) {
        struct iovec iov[2];
        int n = 0;
        if (c->written < c->head_len)
            iov[n++] = (struct iovec){c->head + c->written, c->head_len - c->written};
        if (c->body_len) {
            size_t off = c->written > c->head_len ? c->written - c->head_len : 0;
            iov[n++] = (struct iovec){(char *)c->body + off, c->body_len - off};
        }
        struct msghdr m = {.msg_iov = iov, .msg_iovlen = (size_t)n};
        ssize_t w = sendmsg(k->fd, &m, MSG_NOSIGNAL);
        if (w > 0) {
            c->written += (size_t)w;
            c->resp->sent = true;
        } else if (w < 0 && errno == EINTR) {
            continue;
        } else if (w < 0 && errno == EAGAIN) {
            arm(k, EPOLLOUT);
            return;
        } else {
            int e = errno;
            if (!retry(c, fin))
                call_fail(c, INFERD_E_UNAVAILABLE, fin, "send failed: %s", strerror(e));
            return;
        }
    }
    c->phase = C_READ;
    if (arm_read)
        arm(k, EPOLLIN | EPOLLRDHUP);
    else
        c->lingering = true; /* its starter waits for the answer (see linger) */
}

typedef enum { R_AGAIN, R_DONE, R_BAD, R_CLOSED, R_FAILED } read_t;

/* Reads what the socket has and parses it. Touches only c's parser and response and its
 * socket: called under the lock, or by a lingering starter that holds the call alone. */
static read_t read_some(h1_call_t *c, int *e)
{
    char buf[READ_CHUNK];
    for (;;) {
        ssize_t n = recv(c->conn->fd, buf, sizeof(buf), MSG_DONTWAIT);
        if (n > 0) {
            size_t used;
            inferd_h1_result_t r = inferd_h1_parse(&c->parser, buf, (size_t)n, c->resp, &used);
            if (r == INFERD_H1_ERROR)
                return R_BAD;
            if (r == INFERD_H1_DONE) {
                if (used < (size_t)n)
                    c->parser.close = true; /* bytes after the answer: not reusable */
                return R_DONE;
            }
            if ((size_t)n < sizeof(buf))
                return R_AGAIN; /* most likely nothing more yet: spare a system call */
            continue;
        }
        if (n == 0)
            return inferd_h1_parse_eof(&c->parser) == INFERD_H1_DONE ? R_DONE : R_CLOSED;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN)
            return R_AGAIN;
        *e = errno;
        return R_FAILED;
    }
}

/* Acts on read_some's outcome (lock held). */
static void settle_read(h1_call_t *c, read_t r, int e, bool arm_again, h1_call_t **fin)
{
    switch (r) {
    case R_AGAIN:
        if (arm_again)
            arm(c->conn, EPOLLIN | EPOLLRDHUP);
        return;
    case R_DONE:
        c->st = INFERD_OK;
        call_end(c, inferd_h1_keep_alive(&c->parser), fin);
        return;
    case R_BAD:
        call_fail(c, INFERD_E_UNAVAILABLE, fin, "malformed response: %s", c->parser.error);
        return;
    case R_CLOSED:
        if (!retry(c, fin))
            call_fail(c, INFERD_E_UNAVAILABLE, fin, "%s", c->parser.error);
        return;
    case R_FAILED:
        if (!retry(c, fin))
            call_fail(c, INFERD_E_UNAVAILABLE, fin, "receive failed: %s", strerror(e));
        return;
    }
}

/* An epoll event on connection k (lock held). */
static void on_event(h1_conn_t *k, uint32_t events, h1_call_t **fin)
{
    h1_call_t *c = k->call;
    if (!c) { /* pooled: only a closing server or stray bytes wake it */
        h1_host_t *h = k->host;
        for (h1_conn_t **p = &h->idle; *p; p = &(*p)->next)
            if (*p == k) {
                *p = k->next;
                break;
            }
        conn_close(k, true, fin);
        return;
    }
    if (c->lingering)
        return;
    if (c->phase == C_CONNECT) {
        int soerr = 0;
        socklen_t len = sizeof(soerr);
        getsockopt(k->fd, SOL_SOCKET, SO_ERROR, &soerr, &len);
        if (soerr == 0 && !(events & (EPOLLERR | EPOLLHUP))) {
            c->connect_by_ns = 0;
            send_request(c, true, fin);
        } else if (soerr != 0 || (events & EPOLLERR)) {
            call_fail(c, INFERD_E_UNAVAILABLE, fin, "cannot connect: %s",
                      strerror(soerr ? soerr : ECONNREFUSED));
        } else {
            arm(k, EPOLLOUT);
        }
    } else if (c->phase == C_WRITE) {
        send_request(c, true, fin);
    } else if (c->phase == C_READ) {
        int e = 0;
        settle_read(c, read_some(c, &e), e, true, fin);
    }
}

static void wait_unlink(h1_call_t *c)
{
    h1_host_t *h = c->host;
    h1_call_t *prev = NULL;
    for (h1_call_t *w = h->wait_head; w; prev = w, w = w->next) {
        if (w != c)
            continue;
        if (prev)
            prev->next = w->next;
        else
            h->wait_head = w->next;
        if (h->wait_tail == w)
            h->wait_tail = prev;
        w->next = NULL;
        return;
    }
}

/* Aborts a call for its context or its time bound (lock held). */
static void abort_call(h1_call_t *c, inferd_status_t st, const inferd_err_t *e, h1_call_t **fin)
{
    if (c->phase == C_WAIT)
        wait_unlink(c);
    if (st != INFERD_OK)
        call_fail(c, st, fin, "%s", e->msg);
    else if (c->phase == C_WAIT)
        call_fail(c, INFERD_E_UNAVAILABLE, fin, "timed out waiting for a free connection");
    else if (c->phase == C_CONNECT)
        call_fail(c, INFERD_E_UNAVAILABLE, fin, "connection timed out");
    else
        call_fail(c, INFERD_E_UNAVAILABLE, fin, "timed out waiting for the response");
}

/* The verdict on a live call: INFERD_OK and *due false while it may go on. */
static inferd_status_t verdict(h1_call_t *c, int64_t now, inferd_err_t *e, bool *due)
{
    *due = false;
    inferd_status_t st = INFERD_OK;
    if (c->ctx && (st = inferd_ctx_check(c->ctx, e)) != INFERD_OK)
        return st;
    if (now >= c->expires_ns || (c->connect_by_ns && now >= c->connect_by_ns)) {
        *due = true;
        if (c->ctx && c->ctx->deadline_ns && inferd_ctx_remaining_ns(c->ctx) <= 0)
            return inferd_err_set(e, INFERD_E_DEADLINE_EXCEEDED, "deadline exceeded waiting for %s",
                                  c->url);
    }
    return INFERD_OK;
}

/* Aborts the calls whose request was cancelled or whose time is up. Closing the connection
 * of a call under way shows the upstream the client went. */
static void scan(h1_call_t **fin)
{
    int64_t now = inferd_now_ns();
    for (h1_call_t *c = h1.live, *next; c; c = next) {
        next = c->live_next;
        inferd_err_t e;
        bool due;
        inferd_status_t st = verdict(c, now, &e, &due);
        if (st == INFERD_OK && !due)
            continue;
        if (c->lingering) {
            c->aborted = true; /* its starter ends it */
            continue;
        }
        abort_call(c, st, &e, fin);
    }
}

static void call_put(h1_call_t *c)
{
    c->resp = NULL;
    c->ctx = NULL;
    pthread_mutex_lock(&h1.lock);
    bool keep = h1.n_idle_calls < MAX_IDLE_CALLS && !atomic_load(&h1.stop);
    if (keep) {
        c->next = h1.idle_calls;
        h1.idle_calls = c;
        h1.n_idle_calls++;
    }
    pthread_mutex_unlock(&h1.lock);
    if (!keep)
        inferd_free(c);
}

/* Runs the callbacks of finished calls, in the order they ended (no lock held). */
static void finish_all(h1_call_t *fin)
{
    h1_call_t *rev = NULL;
    while (fin) {
        h1_call_t *next = fin->next;
        fin->next = rev;
        rev = fin;
        fin = next;
    }
    while (rev) {
        h1_call_t *c = rev;
        rev = rev->next;
        inferd_status_t st = c->st;
        inferd_err_t err;
        if (st != INFERD_OK)
            err = c->err;
        else
            err.code = INFERD_OK, err.msg[0] = '\0';
        inferd_remote_done_fn done = c->done;
        void *arg = c->arg;
        call_put(c);
        done(arg, st, &err);
    }
}

static void io_main(void *arg)
{
    (void)arg;
    no_linger = true;
    struct epoll_event evs[64];
    while (!atomic_load(&h1.stop)) {
        int64_t now = inferd_now_ns();
        pthread_mutex_lock(&h1.lock);
        bool busy = h1.live || now - atomic_load(&h1.last_start_ns) < IDLE_AFTER_NS;
        atomic_store(&h1.asleep, !busy);
        pthread_mutex_unlock(&h1.lock);
        inferd_thread_set_state("idle");
        int n = epoll_wait(h1.epfd, evs, 64, busy ? (int)(CTX_SCAN_NS / 1000000) : 1000);
        inferd_thread_set_state("running");
        h1_call_t *fin = NULL;
        pthread_mutex_lock(&h1.lock);
        atomic_store(&h1.asleep, false);
        for (int i = 0; i < n; i++) {
            uint64_t t = evs[i].data.u64;
            if (t == WAKE_TAG) {
                uint64_t v;
                if (read(h1.wakefd, &v, sizeof(v)) < 0 && errno != EAGAIN)
                    continue;
                continue;
            }
            int fd = (int)(uint32_t)t;
            h1_conn_t *k = (size_t)fd < h1.by_fd_cap ? h1.by_fd[fd] : NULL;
            if (k && k->serial == (uint32_t)(t >> 32))
                on_event(k, evs[i].events, &fin);
        }
        if (h1.live)
            scan(&fin);
        pthread_mutex_unlock(&h1.lock);
        finish_all(fin);
    }
    /* Every model is unloaded by now; a straggler is cancelled, not left waiting (a
     * lingering one ends within LINGER_MAX_NS). */
    for (;;) {
        h1_call_t *fin = NULL;
        pthread_mutex_lock(&h1.lock);
        for (h1_call_t *c = h1.live, *next; c; c = next) {
            next = c->live_next;
            inferd_err_t e;
            inferd_err_set(&e, INFERD_E_CANCELLED, "the HTTP client is stopping");
            if (!c->lingering)
                abort_call(c, INFERD_E_CANCELLED, &e, &fin);
        }
        bool left = h1.live != NULL;
        pthread_mutex_unlock(&h1.lock);
        finish_all(fin);
        if (!left)
            break;
        struct timespec ts = {0, 1000000};
        nanosleep(&ts, NULL);
    }
}

static void client_close(void)
{
    while (h1.hosts) {
        h1_host_t *h = h1.hosts;
        h1.hosts = h->next;
        while (h->idle) {
            h1_conn_t *k = h->idle;
            h->idle = k->next;
            conn_close(k, false, NULL);
        }
        inferd_free(h);
    }
    h1.n_hosts = 0;
    while (h1.idle_calls) {
        h1_call_t *c = h1.idle_calls;
        h1.idle_calls = c->next;
        inferd_free(c);
    }
    h1.n_idle_calls = 0;
    inferd_free(h1.by_fd);
    h1.by_fd = NULL;
    h1.by_fd_cap = 0;
    if (h1.epfd >= 0)
        close(h1.epfd);
    if (h1.wakefd >= 0)
        close(h1.wakefd);
    h1.epfd = h1.wakefd = -1;
}

inferd_status_t inferd_h1_acquire(inferd_err_t *err)
{
    pthread_mutex_lock(&h1.lock);
    inferd_status_t st = INFERD_OK;
    if (h1.users++ == 0) {
        atomic_store(&h1.stop, false);
        h1.epfd = epoll_create1(EPOLL_CLOEXEC);
        h1.wakefd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
        struct epoll_event ev = {.events = EPOLLIN, .data.u64 = WAKE_TAG};
        if (h1.epfd < 0 || h1.wakefd < 0 || epoll_ctl(h1.epfd, EPOLL_CTL_ADD, h1.wakefd, &ev) != 0)
            st = inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "cannot create an HTTP client");
        else
            st = inferd_thread_start(&h1.thread, "remote-h1", "client", io_main, NULL, err);
        if (st != INFERD_OK) {
            client_close();
            h1.users--;
        }
    }
    pthread_mutex_unlock(&h1.lock);
    return st;
}

void inferd_h1_release(void)
{
    pthread_mutex_lock(&h1.lock);
    bool last = --h1.users == 0;
    if (last)
        atomic_store(&h1.stop, true);
    pthread_mutex_unlock(&h1.lock);
    if (!last)
        return;
    uint64_t one = 1;
    if (write(h1.wakefd, &one, sizeof(one)) != sizeof(one))
        abort(); /* an eventfd write cannot fail here; the join below would hang */
    inferd_thread_join(h1.thread);
    h1.thread = NULL;
    pthread_mutex_lock(&h1.lock);
    client_close();
    pthread_mutex_unlock(&h1.lock);
}

/* Splits "http://host[:port]/path" into host, port, authority and path. */
static bool split_url(const char *url, char *host, size_t host_cap, char *port, const char **auth,
                      size_t *auth_len, const char **path)
{
    if (strncasecmp(url, "http://", 7) != 0)
        return false;
    const char *a = url + 7, *e = a + strcspn(a, "/?#");
    *auth = a;
    *auth_len = (size_t)(e - a);
    *path = *e == '/' ? e : *e ? e : "/";
    const char *hs = a, *he, *colon;
    if (*a == '[') {
        hs = a + 1;
        he = memchr(hs, ']', (size_t)(e - hs));
        if (!he)
            return false;
        colon = he + 1 < e && he[1] == ':' ? he + 1 : NULL;
    } else {
        colon = memchr(a, ':', (size_t)(e - a));
        he = colon ? colon : e;
    }
    if (he == hs || (size_t)(he - hs) >= host_cap || memchr(a, '@', (size_t)(e - a)))
        return false;
    memcpy(host, hs, (size_t)(he - hs));
    host[he - hs] = '\0';
    if (colon) {
        size_t pl = (size_t)(e - colon - 1);
        if (pl == 0 || pl > 5 || strspn(colon + 1, "0123456789") < pl)
            return false;
        memcpy(port, colon + 1, pl);
        port[pl] = '\0';
        char *end;
        long n = strtol(port, &end, 10);
        if (*end != '\0' || n < 1 || n > 65535)
            return false;
    } else {
        memcpy(port, "80", 3);
    }
    return true;
}

/* The pool of host:port (lock held); NULL when too many. */
static h1_host_t *host_get(const char *name, const char *port)
{
    for (h1_host_t *h = h1.hosts; h; h = h->next)
        if (strcmp(h->name, name) == 0 && strcmp(h->port, port) == 0)
            return h;
    if (h1.n_hosts >= MAX_HOSTS)
        return NULL;
    h1_host_t *h = inferd_xcalloc(1, sizeof(*h));
    snprintf(h->name, sizeof(h->name), "%s", name);
    snprintf(h->port, sizeof(h->port), "%s", port);
    h->next = h1.hosts;
    h1.hosts = h;
    h1.n_hosts++;
    return h;
}

/* Resolves a name for new connections: IP literals at once; other names with getaddrinfo
 * (outside the lock, on the thread that starts a call, at most once per RESOLVE_TTL_NS per
 * host: local names come from /etc/hosts or a local resolver), IPv4 first. */
static bool resolve(const char *name, const char *port, struct sockaddr_storage *out,
                    socklen_t *len, char *why, size_t why_cap)
{
    int p = (int)strtol(port, NULL, 10); /* digits checked by split_url */
    struct sockaddr_in *v4 = (struct sockaddr_in *)out;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)out;
    memset(out, 0, sizeof(*out));
    if (inet_pton(AF_INET, name, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons((uint16_t)p);
        *len = sizeof(*v4);
        return true;
    }
    if (inet_pton(AF_INET6, name, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons((uint16_t)p);
        *len = sizeof(*v6);
        return true;
    }
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM}, *res = NULL;
    int rc = getaddrinfo(name, port, &hints, &res);
    if (rc != 0 || !res) {
        snprintf(why, why_cap, "cannot resolve host %.100s: %s", name, gai_strerror(rc));
        return false;
    }
    const struct addrinfo *pick = res;
    for (const struct addrinfo *a = res; a; a = a->ai_next)
        if (a->ai_family == AF_INET) {
            pick = a;
            break;
        }
    memcpy(out, pick->ai_addr, pick->ai_addrlen);
    *len = pick->ai_addrlen;
    freeaddrinfo(res);
    return true;
}

/* A pooled connection the server has not closed, or NULL (lock held). */
static h1_conn_t *take_idle(h1_host_t *h, h1_call_t **fin)
{
    while (h->idle) {
        h1_conn_t *k = h->idle;
        h->idle = k->next;
        char b;
        ssize_t n = recv(k->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n < 0 && (errno == EAGAIN || errno == EINTR))
            return k;
        conn_close(k, false, fin); /* closed, reset, or bytes nobody asked for */
    }
    return NULL;
}

/* The request head is put together by hand: it is on every call's path, and printf is not
 * cheap. A writer that ran out of room stays so. */
typedef struct {
    char *p;
    size_t n, cap;
    bool full;
} out_t;

static void put(out_t *o, const char *s, size_t len)
{
    if (o->full || len > o->cap - o->n) {
        o->full = true;
        return;
    }
    memcpy(o->p + o->n, s, len);
    o->n += len;
}

static void put_str(out_t *o, const char *s, size_t max)
{
    size_t len = strnlen(s, max);
    put(o, s, len);
}

static void put_num(out_t *o, uint64_t v)
{
    char d[24];
    size_t i = sizeof(d);
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10));
    put(o, d + i, sizeof(d) - i);
}

#define PUT_LIT(o, lit) put((o), (lit), sizeof(lit) - 1)

static bool build_head(h1_call_t *c, const inferd_remote_request_t *req, const char *auth,
                       size_t auth_len, const char *path)
{
    out_t o = {.p = c->head, .cap = sizeof(c->head)};
    bool post = strcmp(req->method, "POST") == 0;
    put_str(&o, req->method, 16);
    PUT_LIT(&o, " ");
    put_str(&o, path, sizeof(c->head));
    PUT_LIT(&o, " HTTP/1.1\r\nHost: ");
    put(&o, auth, auth_len);
    PUT_LIT(&o, "\r\n");
    if (post) {
        PUT_LIT(&o, "Content-Length: ");
        put_num(&o, req->body ? req->body_len : 0);
        PUT_LIT(&o, "\r\n");
    }
    if (req->header_length >= 0) {
        PUT_LIT(&o, "Inference-Header-Content-Length: ");
        put_num(&o, (uint64_t)req->header_length);
        PUT_LIT(&o, "\r\nContent-Type: application/octet-stream\r\n");
    } else if (req->body) {
        PUT_LIT(&o, "Content-Type: application/json\r\n");
    }
    if (req->request_id && *req->request_id) {
        PUT_LIT(&o, "X-Request-ID: ");
        put_str(&o, req->request_id, 200);
        PUT_LIT(&o, "\r\n");
    }
    if (req->traceparent) {
        PUT_LIT(&o, "traceparent: ");
        put_str(&o, req->traceparent, sizeof(c->head));
        PUT_LIT(&o, "\r\n");
        if (req->tracestate) {
            PUT_LIT(&o, "tracestate: ");
            put_str(&o, req->tracestate, 512);
            PUT_LIT(&o, "\r\n");
        }
    }
    PUT_LIT(&o, "\r\n");
    if (o.full)
        return false;
    c->head_len = o.n;
    c->body = post && req->body ? req->body : NULL;
    c->body_len = post && req->body ? req->body_len : 0;
    return true;
}

/* The starter waits for the answer on the socket itself: see client.h's linger_ns. The
 * call is its own meanwhile (c->lingering); then what is left goes to the I/O thread. */
static void linger(h1_call_t *c, int64_t wait_ns)
{
    int e = 0;
    read_t r = R_AGAIN;
    int expect = 0;
    /* One thread at a time busy-polls (a sleeping thread's wake-up costs tens of
     * microseconds on a virtual CPU, as much as the upstream's answer); others sleep. */
    if (atomic_compare_exchange_strong(&h1.spinners, &expect, 1)) {
        int64_t end = inferd_now_ns() + wait_ns;
        while ((r = read_some(c, &e)) == R_AGAIN && inferd_now_ns() < end)
            ;
        atomic_store(&h1.spinners, 0);
    } else {
        struct pollfd p = {.fd = c->conn->fd, .events = POLLIN};
        struct timespec ts = {0, (long)wait_ns};
        if (ppoll(&p, 1, &ts, NULL) == 1)
            r = read_some(c, &e);
    }
    h1_call_t *fin = NULL;
    no_linger = true;
    pthread_mutex_lock(&h1.lock);
    c->lingering = false;
    if (c->aborted) {
        c->aborted = false;
        inferd_err_t ce;
        bool due;
        inferd_status_t st = verdict(c, inferd_now_ns(), &ce, &due);
        if (r == R_DONE)
            settle_read(c, r, e, true, &fin); /* it made it after all */
        else
            abort_call(c, st, &ce, &fin);
    } else {
        settle_read(c, r, e, true, &fin);
    }
    pthread_mutex_unlock(&h1.lock);
    finish_all(fin);
    no_linger = false;
}

inferd_status_t inferd_h1_start(inferd_ctx_t *ctx, const inferd_remote_request_t *req,
                                inferd_remote_response_t *resp, inferd_remote_done_fn done,
                                void *arg, inferd_err_t *err)
{
    if (ctx && inferd_ctx_check(ctx, err) != INFERD_OK)
        return err->code;
    char host[256], port[8];
    const char *auth, *path;
    size_t auth_len;
    if (!split_url(req->url, host, sizeof(host), port, &auth, &auth_len, &path))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "bad upstream URL %.200s", req->url);

    pthread_mutex_lock(&h1.lock);
    h1_call_t *c = h1.idle_calls;
    if (c) {
        h1.idle_calls = c->next;
        h1.n_idle_calls--;
    }
    pthread_mutex_unlock(&h1.lock);
    if (!c)
        c = inferd_xmalloc(sizeof(*c));
    c->host = NULL;
    c->conn = NULL;
    c->up = req->upstream;
    c->resp = resp;
    resp->status = 0;
    resp->sent = false;
    resp->header_length = -1;
    c->ctx = ctx;
    c->done = done;
    c->arg = arg;
    c->phase = C_WAIT;
    c->written = 0;
    c->retried = c->lingering = c->aborted = false;
    c->st = INFERD_OK;
    c->next = c->live_prev = c->live_next = NULL;
    c->connect_by_ns = 0;
    inferd_h1_parser_init(&c->parser);
    size_t url_len = strnlen(req->url, sizeof(c->url) - 1);
    memcpy(c->url, req->url, url_len); /* no printf on the call's path */
    c->url[url_len] = '\0';
    if (!build_head(c, req, auth, auth_len, path)) {
        call_put(c);
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "upstream request head too long");
    }
    int64_t now = inferd_now_ns();
    int64_t timeout_ns = (req->timeout_ms > 0 ? req->timeout_ms : 60000) * 1000000ll;
    if (ctx && ctx->deadline_ns && ctx->deadline_ns - now < timeout_ns)
        timeout_ns = ctx->deadline_ns - now;
    c->started_ns = now;
    c->expires_ns = now + timeout_ns;
    atomic_store_explicit(&h1.last_start_ns, now, memory_order_relaxed);

    h1_call_t *fin = NULL;
    pthread_mutex_lock(&h1.lock);
    h1_host_t *h = host_get(host, port);
    if (!h) {
        pthread_mutex_unlock(&h1.lock);
        call_put(c);
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "too many upstream hosts");
    }
    c->host = h;
    if (req->max_host_connections > h->max_conns)
        h->max_conns = req->max_host_connections; /* the largest any caller asked for */
    if (h->max_conns < 1)
        h->max_conns = 1;
    bool ok = true;
    char why[200];
    if (h->addr_len == 0 || (!h->idle && now - h->resolved_ns > RESOLVE_TTL_NS)) {
        /* A new connection needs the address: resolve it without the lock (the call is
         * not live yet, so nothing else looks at it). */
        pthread_mutex_unlock(&h1.lock);
        struct sockaddr_storage a;
        socklen_t alen = 0;
        ok = resolve(host, port, &a, &alen, why, sizeof(why));
        pthread_mutex_lock(&h1.lock);
        if (ok) {
            h->addr = a;
            h->addr_len = alen;
            h->resolved_ns = inferd_now_ns();
        }
        ok = ok || h->addr_len != 0; /* a stale address beats none */
    }
    c->live_next = h1.live;
    if (h1.live)
        h1.live->live_prev = c;
    h1.live = c;
    h1_conn_t *k = ok ? take_idle(h, &fin) : NULL;
    bool may_linger = req->linger_ns > 0 && !no_linger;
    if (!ok) {
        call_fail(c, INFERD_E_UNAVAILABLE, &fin, "%s", why);
    } else if (k) {
        conn_adopt(k, c);
        send_request(c, !may_linger, &fin);
    } else if (h->n_open < h->max_conns) {
        conn_open(c, &fin);
        dispatch_waiters(h, &fin);
    } else {
        if (h->wait_tail)
            h->wait_tail->next = c;
        else
            h->wait_head = c;
        h->wait_tail = c;
    }
    /* Set only by this thread's send_request, on a call still live with its request out. */
    bool lingering = c->lingering;
    bool wake = atomic_load(&h1.asleep);
    pthread_mutex_unlock(&h1.lock);
    if (wake) {
        uint64_t one = 1;
        if (write(h1.wakefd, &one, sizeof(one)) < 0 && errno != EAGAIN)
            abort(); /* cannot happen for an eventfd */
    }
    finish_all(fin);
    if (lingering)
        linger(c, req->linger_ns < LINGER_MAX_NS ? req->linger_ns : LINGER_MAX_NS);
    return INFERD_OK;
}
