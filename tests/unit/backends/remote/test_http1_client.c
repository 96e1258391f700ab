/* Tests for the http:// client (src/backends/remote/http1.c, through client.h) against a
 * scripted server thread in this process: the request as sent, keep-alive reuse, a retry
 * when the server drops a pooled connection, chunked answers, malformed answers, refused
 * connections, deadlines (the server sees the close), the pool bound with calls answered
 * in arrival order, the open-connection count, and no descriptor left behind. */
#include "test.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include "backends/remote/client.h"
#include "backends/remote/upstream.h"

enum { S_ECHO, S_DROP_SECOND, S_CHUNKED, S_GARBAGE, S_HANG, S_CLOSE_HEADER };

static struct {
    int listen_fd, port;
    pthread_t thread;
    atomic_bool stop;
    atomic_int mode;
    atomic_int accepts;
    atomic_int saw_close; /* a hung request's connection was closed by the client */
} srv;

static bool send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w <= 0)
            return false;
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* Reads one request (head and Content-Length body) into buf; its length, 0 on close. */
static size_t read_request(int fd, char *buf, size_t cap)
{
    size_t len = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + len, cap - 1 - len, 0);
        if (n <= 0)
            return 0;
        len += (size_t)n;
        buf[len] = '\0';
        char *end = strstr(buf, "\r\n\r\n");
        if (!end)
            continue;
        size_t head = (size_t)(end + 4 - buf), body = 0;
        const char *cl = strcasestr(buf, "\r\nContent-Length:");
        if (cl && cl < end)
            body = (size_t)strtoul(cl + 17, NULL, 10);
        if (len >= head + body)
            return len;
    }
}

static void respond(int fd, const char *req, size_t len, int mode)
{
    char out[16384];
    int n;
    if (mode == S_CHUNKED) {
        n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n");
        for (size_t at = 0; at < len; at += 7) {
            size_t k = len - at < 7 ? len - at : 7;
            n += snprintf(out + n, sizeof(out) - (size_t)n, "%zx\r\n%.*s\r\n", k, (int)k, req + at);
        }
        n += snprintf(out + n, sizeof(out) - (size_t)n, "0\r\n\r\n");
    } else {
        n = snprintf(out, sizeof(out), "HTTP/1.1 200 OK\r\n%sContent-Length: %zu\r\n\r\n%.*s",
                     mode == S_CLOSE_HEADER ? "Connection: close\r\n" : "", len, (int)len, req);
    }
    send_all(fd, out, (size_t)n);
}

static void serve(int fd)
{
    char req[8192];
    for (int n_req = 1;; n_req++) {
        size_t len = read_request(fd, req, sizeof(req));
        if (len == 0)
            return;
        int mode = atomic_load(&srv.mode);
        if (mode == S_DROP_SECOND && n_req == 2)
            return; /* closes the pooled connection with the request unanswered */
        if (mode == S_GARBAGE) {
            send_all(fd, "HELLO\r\n\r\n", 9);
            return;
        }
        if (mode == S_HANG) {
            char b;
            if (recv(fd, &b, 1, 0) == 0)
                atomic_store(&srv.saw_close, 1);
            return;
        }
        respond(fd, req, len, mode);
        if (mode == S_CLOSE_HEADER)
            return;
    }
}

static void *server_main(void *arg)
{
    (void)arg;
    while (!atomic_load(&srv.stop)) {
        int fd = accept(srv.listen_fd, NULL, NULL);
        if (fd < 0)
            continue; /* the accept timeout: look at stop */
        atomic_fetch_add(&srv.accepts, 1);
        struct timeval tv = {5, 0};
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
        serve(fd);
        close(fd);
    }
    return NULL;
}

static int count_fds(void)
{
    int n = 0;
    DIR *d = opendir("/proc/self/fd");
    assert_non_null(d);
    while (readdir(d))
        n++;
    closedir(d);
    return n;
}

static int fds_at_start;
static inferd_upstream_t up; /* outlives the pooled connections that count on it */

static int setup(void **state)
{
    (void)state;
    fds_at_start = count_fds();
    srv.listen_fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    if (bind(srv.listen_fd, (struct sockaddr *)&a, sizeof(a)) != 0 || listen(srv.listen_fd, 16) ||
        getsockname(srv.listen_fd, (struct sockaddr *)&a, &al) != 0)
        return -1;
    struct timeval tv = {0, 50000};
    setsockopt(srv.listen_fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    srv.port = ntohs(a.sin_port);
    atomic_store(&srv.stop, false);
    atomic_store(&srv.accepts, 0);
    atomic_store(&srv.saw_close, 0);
    atomic_store(&srv.mode, S_ECHO);
    inferd_err_t err;
    if (inferd_remote_client_acquire(&err) != INFERD_OK)
        return -1;
    return pthread_create(&srv.thread, NULL, server_main, NULL);
}

static int teardown(void **state)
{
    (void)state;
    inferd_remote_client_release(); /* closes the pooled connections: serve() returns */
    atomic_store(&srv.stop, true);
    pthread_join(srv.thread, NULL);
    close(srv.listen_fd);
    assert_int_equal(count_fds(), fds_at_start);
    assert_int_equal(atomic_load(&up.open_connections), 0);
    return 0;
}

static char url[128];

static inferd_remote_request_t request(const char *body)
{
    snprintf(url, sizeof(url), "http://127.0.0.1:%d/v2/models/m/infer", srv.port);
    return (inferd_remote_request_t){.url = url,
                                     .method = "POST",
                                     .body = body,
                                     .body_len = strlen(body),
                                     .header_length = -1,
                                     .timeout_ms = 10000,
                                     .max_response_bytes = 1 << 20,
                                     .max_host_connections = 1};
}

/* Performs req; the status, with resp filled (the caller deinits it). */
static inferd_status_t perform(inferd_ctx_t *ctx, const inferd_remote_request_t *req,
                               inferd_remote_response_t *resp, inferd_err_t *err)
{
    inferd_remote_response_init(resp, req->max_response_bytes);
    return inferd_remote_perform(ctx, req, resp, err);
}

static void request_is_sent_as_http11_and_reused(void **state)
{
    (void)state;
    inferd_remote_request_t req = request("{\"inputs\":[]}");
    req.request_id = "r-1";
    req.traceparent = "00-0123456789abcdef0123456789abcdef-0123456789abcdef-01";
    req.tracestate = "k=v";
    req.linger_ns = 400000; /* the starter may wait for the answer itself */
    for (int i = 0; i < 3; i++) {
        inferd_remote_response_t resp;
        inferd_err_t err;
        assert_int_equal(perform(NULL, &req, &resp, &err), INFERD_OK);
        assert_int_equal(resp.status, 200);
        assert_true(resp.sent);
        char host[64];
        snprintf(host, sizeof(host), "\r\nHost: 127.0.0.1:%d\r\n", srv.port);
        const char *b = resp.body.data;
        assert_non_null(b);
        assert_true(strncmp(b, "POST /v2/models/m/infer HTTP/1.1\r\n", 34) == 0);
        assert_non_null(strstr(b, host));
        assert_non_null(strstr(b, "\r\nContent-Length: 13\r\n"));
        assert_non_null(strstr(b, "\r\nContent-Type: application/json\r\n"));
        assert_non_null(strstr(b, "\r\nX-Request-ID: r-1\r\n"));
        assert_non_null(strstr(b, "\r\ntraceparent: 00-0123456789abcdef0123456789abcdef-"));
        assert_non_null(strstr(b, "\r\ntracestate: k=v\r\n"));
        assert_non_null(strstr(b, "\r\n\r\n{\"inputs\":[]}"));
        inferd_remote_response_deinit(&resp);
    }
    assert_int_equal(atomic_load(&srv.accepts), 1); /* one keep-alive connection */
    /* Binary requests carry the JSON header's length. */
    req.header_length = 5;
    inferd_remote_response_t resp;
    inferd_err_t err;
    assert_int_equal(perform(NULL, &req, &resp, &err), INFERD_OK);
    assert_non_null(strstr(resp.body.data, "\r\nInference-Header-Content-Length: 5\r\n"));
    assert_non_null(strstr(resp.body.data, "\r\nContent-Type: application/octet-stream\r\n"));
    inferd_remote_response_deinit(&resp);
}

static void dropped_pooled_connection_is_retried(void **state)
{
    (void)state;
    atomic_store(&srv.mode, S_DROP_SECOND);
    inferd_remote_request_t req = request("{}");
    for (int i = 0; i < 4; i++) {
        inferd_remote_response_t resp;
        inferd_err_t err;
        assert_int_equal(perform(NULL, &req, &resp, &err), INFERD_OK);
        assert_int_equal(resp.status, 200);
        inferd_remote_response_deinit(&resp);
    }
    /* Every second request on a connection is dropped, so it is sent again on a new one. */
    assert_int_equal(atomic_load(&srv.accepts), 4);
}

static void connection_close_and_chunked_answers(void **state)
{
    (void)state;
    inferd_remote_request_t req = request("0123456789abcdef");
    atomic_store(&srv.mode, S_CHUNKED);
    inferd_remote_response_t resp;
    inferd_err_t err;
    assert_int_equal(perform(NULL, &req, &resp, &err), INFERD_OK);
    assert_non_null(strstr(resp.body.data, "\r\n\r\n0123456789abcdef"));
    inferd_remote_response_deinit(&resp);
    atomic_store(&srv.mode, S_CLOSE_HEADER);
    for (int i = 0; i < 2; i++) {
        assert_int_equal(perform(NULL, &req, &resp, &err), INFERD_OK);
        assert_int_equal(resp.status, 200);
        inferd_remote_response_deinit(&resp);
    }
    /* The chunked answer's connection carried the first Connection: close answer, and was
     * not reused after it. */
    assert_int_equal(atomic_load(&srv.accepts), 2);
}

static void malformed_answer_is_unavailable_after_sending(void **state)
{
    (void)state;
    atomic_store(&srv.mode, S_GARBAGE);
    inferd_remote_request_t req = request("{}");
    inferd_remote_response_t resp;
    inferd_err_t err;
    assert_int_equal(perform(NULL, &req, &resp, &err), INFERD_E_UNAVAILABLE);
    assert_true(resp.sent);
    assert_non_null(strstr(err.msg, "malformed"));
    assert_non_null(strstr(err.msg, url));
    inferd_remote_response_deinit(&resp);
}

static void refused_connection_was_not_sent(void **state)
{
    (void)state;
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t al = sizeof(a);
    assert_int_equal(bind(s, (struct sockaddr *)&a, sizeof(a)), 0);
    assert_int_equal(getsockname(s, (struct sockaddr *)&a, &al), 0);
    close(s); /* a port nobody listens on */
    char u[128];
    snprintf(u, sizeof(u), "http://127.0.0.1:%d/v2/health/ready", ntohs(a.sin_port));
    memset(&up, 0, sizeof(up));
    inferd_remote_request_t req = {.url = u,
                                   .method = "GET",
                                   .header_length = -1,
                                   .timeout_ms = 5000,
                                   .max_response_bytes = 4096,
                                   .max_host_connections = 2,
                                   .upstream = &up};
    inferd_remote_response_t resp;
    inferd_err_t err;
    assert_int_equal(perform(NULL, &req, &resp, &err), INFERD_E_UNAVAILABLE);
    assert_false(resp.sent);
    assert_int_equal(resp.status, 0);
    assert_int_equal(atomic_load(&up.open_connections), 0);
    inferd_remote_response_deinit(&resp);
    /* A URL the client cannot use fails at once. */
    req.url = "http://:80/x";
    assert_int_not_equal(perform(NULL, &req, &resp, &err), INFERD_OK);
    inferd_remote_response_deinit(&resp);
}

static void deadline_closes_the_connection(void **state)
{
    (void)state;
    atomic_store(&srv.mode, S_HANG);
    inferd_remote_request_t req = request("{}");
    inferd_ctx_t ctx;
    inferd_ctx_init(&ctx);
    inferd_ctx_set_timeout_us(&ctx, 50000);
    inferd_remote_response_t resp;
    inferd_err_t err;
    assert_int_equal(perform(&ctx, &req, &resp, &err), INFERD_E_DEADLINE_EXCEEDED);
    assert_true(resp.sent);
    inferd_remote_response_deinit(&resp);
    /* Cancelled the same way. */
    inferd_ctx_init(&ctx);
    inferd_ctx_cancel(&ctx);
    assert_int_equal(perform(&ctx, &req, &resp, &err), INFERD_E_CANCELLED);
    inferd_remote_response_deinit(&resp);
    /* The server saw the client go (bounded by its 5 s receive timeout). */
    for (int i = 0; i < 500 && !atomic_load(&srv.saw_close); i++)
        usleep(10000);
    assert_int_equal(atomic_load(&srv.saw_close), 1);
}

typedef struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int order[8];
    int n;
} done_log_t;

typedef struct {
    done_log_t *log;
    int id;
    inferd_status_t st;
} done_arg_t;

static void on_done(void *arg, inferd_status_t st, const inferd_err_t *err)
{
    (void)err;
    done_arg_t *a = arg;
    pthread_mutex_lock(&a->log->lock);
    a->st = st;
    a->log->order[a->log->n++] = a->id;
    pthread_cond_signal(&a->log->cond);
    pthread_mutex_unlock(&a->log->lock);
}

static void pool_bound_serves_calls_in_arrival_order(void **state)
{
    (void)state;
    memset(&up, 0, sizeof(up));
    inferd_remote_request_t req = request("{}");
    req.upstream = &up;
    done_log_t log = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};
    done_arg_t args[6];
    inferd_remote_response_t resp[6];
    for (int i = 0; i < 6; i++) {
        args[i] = (done_arg_t){.log = &log, .id = i, .st = INFERD_E_INTERNAL};
        inferd_remote_response_init(&resp[i], req.max_response_bytes);
        inferd_err_t err;
        assert_int_equal(inferd_remote_start(NULL, &req, &resp[i], on_done, &args[i], &err),
                         INFERD_OK);
    }
    pthread_mutex_lock(&log.lock);
    while (log.n < 6)
        pthread_cond_wait(&log.cond, &log.lock);
    pthread_mutex_unlock(&log.lock);
    for (int i = 0; i < 6; i++) {
        assert_int_equal(log.order[i], i);
        assert_int_equal(args[i].st, INFERD_OK);
        assert_int_equal(resp[i].status, 200);
        inferd_remote_response_deinit(&resp[i]);
    }
    assert_int_equal(atomic_load(&srv.accepts), 1);
    assert_int_equal(atomic_load(&up.open_connections), 1); /* pooled, still open */
}

/* A pooled connection counts for the upstream of the call that uses it: one opened by a
 * call counted nowhere (as the metadata fetch at load once was) is counted when a call of
 * an upstream takes it, and moves to another upstream of the same host with its next
 * call; closing it takes it off that one. */
static void pooled_connection_counts_for_its_user(void **state)
{
    (void)state;
    static inferd_upstream_t other; /* outlives the connection, as registry entries do */
    memset(&up, 0, sizeof(up));
    memset(&other, 0, sizeof(other));
    inferd_remote_request_t req = request("{}");
    inferd_remote_response_t resp;
    inferd_err_t err;
    assert_int_equal(perform(NULL, &req, &resp, &err), INFERD_OK); /* counted nowhere */
    inferd_remote_response_deinit(&resp);
    assert_int_equal(atomic_load(&up.open_connections), 0);
    req.upstream = &up;
    assert_int_equal(perform(NULL, &req, &resp, &err), INFERD_OK);
    inferd_remote_response_deinit(&resp);
    assert_int_equal(atomic_load(&up.open_connections), 1);
    req.upstream = &other;
    assert_int_equal(perform(NULL, &req, &resp, &err), INFERD_OK);
    inferd_remote_response_deinit(&resp);
    assert_int_equal(atomic_load(&up.open_connections), 0);
    assert_int_equal(atomic_load(&other.open_connections), 1);
    assert_int_equal(atomic_load(&srv.accepts), 1); /* the same connection all along */
    inferd_remote_client_release();                 /* closes it */
    assert_int_equal(atomic_load(&other.open_connections), 0);
    inferd_err_t e2;
    assert_int_equal(inferd_remote_client_acquire(&e2), INFERD_OK); /* for teardown */
}

static void oversize_answer_is_an_error(void **state)
{
    (void)state;
    inferd_remote_request_t req = request("0123456789012345678901234567890123456789");
    req.max_response_bytes = 32; /* the echo is longer */
    inferd_remote_response_t resp;
    inferd_err_t err;
    assert_int_equal(perform(NULL, &req, &resp, &err), INFERD_E_UNAVAILABLE);
    assert_non_null(strstr(err.msg, "larger"));
    inferd_remote_response_deinit(&resp);
    req.max_response_bytes = 1 << 20; /* the connection was closed: a new one works */
    assert_int_equal(perform(NULL, &req, &resp, &err), INFERD_OK);
    inferd_remote_response_deinit(&resp);
    assert_int_equal(atomic_load(&srv.accepts), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(request_is_sent_as_http11_and_reused, setup, teardown),
        cmocka_unit_test_setup_teardown(dropped_pooled_connection_is_retried, setup, teardown),
        cmocka_unit_test_setup_teardown(connection_close_and_chunked_answers, setup, teardown),
        cmocka_unit_test_setup_teardown(malformed_answer_is_unavailable_after_sending, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(refused_connection_was_not_sent, setup, teardown),
        cmocka_unit_test_setup_teardown(deadline_closes_the_connection, setup, teardown),
        cmocka_unit_test_setup_teardown(pool_bound_serves_calls_in_arrival_order, setup, teardown),
        cmocka_unit_test_setup_teardown(pooled_connection_counts_for_its_user, setup, teardown),
        cmocka_unit_test_setup_teardown(oversize_answer_is_an_error, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
