/* A small HTTP/1.1 client for http:// upstreams, behind client.h's API (client.c hands it
 * every http:// call; https:// stays on libcurl). Keep-alive connections are pooled per
 * host:port with the request's bound, and driven by one I/O thread ("remote-h1") on
 * epoll. The thread that starts a call writes the request itself (one sendmsg) and may
 * wait for a quick answer on the socket (see inferd_remote_request_t.linger_ns). The
 * response parser is exposed for its unit test. */
#ifndef INFERD_BACKENDS_REMOTE_HTTP1_H
#define INFERD_BACKENDS_REMOTE_HTTP1_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "backends/remote/client.h"

typedef enum {
    INFERD_H1_MORE = 0, /* needs more bytes */
    INFERD_H1_DONE,     /* a whole response was read */
    INFERD_H1_ERROR,    /* malformed or too large: p->error says why */
} inferd_h1_result_t;

typedef struct inferd_h1_parser {
    int state;
    bool interim;           /* skipping a 1xx response's headers */
    bool chunked;           /* Transfer-Encoding: chunked */
    bool close;             /* the connection cannot be reused after this response */
    bool got_byte;          /* a byte of the response arrived */
    int64_t content_length; /* -1: none */
    uint64_t left;          /* bytes left in the body or the chunk */
    size_t line_len;
    char line[8192]; /* the status line, a header, a chunk size or a trailer */
    char error[160];
} inferd_h1_parser_t;

/* Ready for a new response; resp is filled as bytes come (status, header_length, body). */
void inferd_h1_parser_init(inferd_h1_parser_t *p);

/* Feeds n bytes; *used tells how many belong to the response (fewer on DONE or ERROR). */
inferd_h1_result_t inferd_h1_parse(inferd_h1_parser_t *p, const char *data, size_t n,
                                   inferd_remote_response_t *resp, size_t *used);

/* The server closed the connection: DONE for a body that ends with the connection. */
inferd_h1_result_t inferd_h1_parse_eof(inferd_h1_parser_t *p);

/* After DONE: whether the connection may carry another request. */
bool inferd_h1_keep_alive(const inferd_h1_parser_t *p);

/* As inferd_remote_client_acquire / _release / inferd_remote_start, for http:// URLs. */
inferd_status_t inferd_h1_acquire(inferd_err_t *err);
void inferd_h1_release(void);
inferd_status_t inferd_h1_start(inferd_ctx_t *ctx, const inferd_remote_request_t *req,
                                inferd_remote_response_t *resp, inferd_remote_done_fn done,
                                void *arg, inferd_err_t *err);

#endif
