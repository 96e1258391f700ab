/* Status codes: names, HTTP mapping, and the error-message helpers. */
#include "inferd/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

inferd_status_t inferd_err_set(inferd_err_t *err, inferd_status_t code, const char *fmt, ...)
{
    if (err) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
        va_end(ap);
        err->code = code;
    }
    return code;
}

void inferd_err_prefix(inferd_err_t *err, const char *fmt, ...)
{
    if (!err)
        return;
    char prefix[INFERD_ERR_MSG_MAX];
    char old[INFERD_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof(prefix), fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof(old));
    /* Truncation is acceptable: the message is for humans. */
    size_t n = strnlen(prefix, sizeof(err->msg) - 1);
    memcpy(err->msg, prefix, n);
    size_t room = sizeof(err->msg) - n;
    if (room > 2) {
        memcpy(err->msg + n, ": ", 2);
        n += 2;
        size_t m = strnlen(old, sizeof(err->msg) - 1 - n);
        memcpy(err->msg + n, old, m);
        n += m;
    }
    err->msg[n] = '\0';
}

void inferd_err_clear(inferd_err_t *err)
{
    if (err) {
        err->code = INFERD_OK;
        err->msg[0] = '\0';
    }
}

int inferd_status_http(inferd_status_t code)
{
    switch (code) {
    case INFERD_OK: return 200;
    case INFERD_E_INVALID_ARG: return 400;
    case INFERD_E_PERMISSION_DENIED: return 403;
    case INFERD_E_NOT_FOUND: return 404;
    case INFERD_E_METHOD_NOT_ALLOWED: return 405;
    case INFERD_E_ALREADY_EXISTS: return 409;
    case INFERD_E_TOO_LARGE: return 413;
    case INFERD_E_RESOURCE_EXHAUSTED: return 429;
    case INFERD_E_CANCELLED: return 499;
    case INFERD_E_INTERNAL: return 500;
    case INFERD_E_UNSUPPORTED: return 501;
    case INFERD_E_UNAVAILABLE: return 503;
    case INFERD_E_DEADLINE_EXCEEDED: return 504;
    case INFERD_E_BAD_GATEWAY: return 502;
    case INFERD_STATUS_COUNT_: break;
    }
    return 500;
}

const char *inferd_status_name(inferd_status_t code)
{
    switch (code) {
    case INFERD_OK: return "OK";
    case INFERD_E_INVALID_ARG: return "INVALID_ARG";
    case INFERD_E_PERMISSION_DENIED: return "PERMISSION_DENIED";
    case INFERD_E_NOT_FOUND: return "NOT_FOUND";
    case INFERD_E_METHOD_NOT_ALLOWED: return "METHOD_NOT_ALLOWED";
    case INFERD_E_ALREADY_EXISTS: return "ALREADY_EXISTS";
    case INFERD_E_TOO_LARGE: return "TOO_LARGE";
    case INFERD_E_RESOURCE_EXHAUSTED: return "RESOURCE_EXHAUSTED";
    case INFERD_E_CANCELLED: return "CANCELLED";
    case INFERD_E_INTERNAL: return "INTERNAL";
    case INFERD_E_UNSUPPORTED: return "UNSUPPORTED";
    case INFERD_E_UNAVAILABLE: return "UNAVAILABLE";
    case INFERD_E_DEADLINE_EXCEEDED: return "DEADLINE_EXCEEDED";
    case INFERD_E_BAD_GATEWAY: return "BAD_GATEWAY";
    case INFERD_STATUS_COUNT_: break;
    }
    return "UNKNOWN";
}
