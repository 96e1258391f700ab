/* Status codes and error messages. Every fallible function in inferd returns an
 * inferd_status_t and, when it fails, writes a human-readable message naming what was
 * wrong into a caller-provided inferd_err_t. Each code maps to exactly one HTTP status
 * (inferd_status_http()), so front ends never guess. The enum is append-only. */
#ifndef INFERD_STATUS_H
#define INFERD_STATUS_H

#include <stddef.h>

typedef enum {
    INFERD_OK = 0,               /* 200 */
    INFERD_E_INVALID_ARG,        /* 400: the request is malformed or does not fit the model */
    INFERD_E_PERMISSION_DENIED,  /* 403: e.g. /debug from a non-loopback peer */
    INFERD_E_NOT_FOUND,          /* 404: unknown model, version, region or path */
    INFERD_E_METHOD_NOT_ALLOWED, /* 405: known path, wrong HTTP method */
    INFERD_E_ALREADY_EXISTS,     /* 409 */
    INFERD_E_TOO_LARGE,          /* 413: a size limit was exceeded (body, elements) */
    INFERD_E_RESOURCE_EXHAUSTED, /* 429: overload; the client should back off */
    INFERD_E_CANCELLED,          /* 499: the client went away */
    INFERD_E_INTERNAL,           /* 500: a bug in inferd */
    INFERD_E_UNSUPPORTED,        /* 501 */
    INFERD_E_UNAVAILABLE,        /* 503: not ready (model not loaded, server exiting) */
    INFERD_E_DEADLINE_EXCEEDED,  /* 504 */
    INFERD_E_BAD_GATEWAY,        /* 502: an upstream server failed or answered nonsense */
    INFERD_STATUS_COUNT_         /* not a status: the number of codes */
} inferd_status_t;

#define INFERD_ERR_MSG_MAX 512

/* Error detail filled by a failing call. Caller-owned; may live on the stack. */
typedef struct inferd_err {
    inferd_status_t code;
    char msg[INFERD_ERR_MSG_MAX];
} inferd_err_t;

/* Records code and a printf-style message in err (err may be NULL) and returns code,
 * so a failure reads `return inferd_err_set(err, INFERD_E_INVALID_ARG, "...", ...);`. */
inferd_status_t inferd_err_set(inferd_err_t *err, inferd_status_t code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes the message already in err with "prefix: " (for adding context on the way up). */
void inferd_err_prefix(inferd_err_t *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Clears err to INFERD_OK with an empty message. */
void inferd_err_clear(inferd_err_t *err);

/* The HTTP status for a code (200 for INFERD_OK). */
int inferd_status_http(inferd_status_t code);

/* A short constant name, e.g. "INVALID_ARG". */
const char *inferd_status_name(inferd_status_t code);

#endif
