/* HTTP routing: turns a method and a raw (percent-encoded) path into an endpoint and its
 * parameters. Model names are percent-decoded and treated as identifiers only (never as
 * file paths); versions are decimal digits, as in Triton, so anything else does not route. */
#ifndef INFERD_SERVER_HTTP_ROUTER_H
#define INFERD_SERVER_HTTP_ROUTER_H

#include <stdbool.h>
#include <stdint.h>

#include "inferd/status.h"

typedef enum {
    INFERD_ROUTE_NONE = 0,
    INFERD_ROUTE_HEALTH_LIVE,
    INFERD_ROUTE_HEALTH_READY,
    INFERD_ROUTE_SERVER_METADATA,
    INFERD_ROUTE_MODEL_METADATA,
    INFERD_ROUTE_MODEL_READY,
    INFERD_ROUTE_MODEL_CONFIG,
    INFERD_ROUTE_MODEL_INFER,
    INFERD_ROUTE_REPOSITORY_INDEX,
    INFERD_ROUTE_HEALTHZ,
    INFERD_ROUTE_METRICS,
    INFERD_ROUTE_DEBUG_THREADS,
    INFERD_ROUTE_DEBUG_TENSORS,
    INFERD_ROUTE_MODEL_STATS, /* model empty: every model */
    INFERD_ROUTE_LOGGING,
    INFERD_ROUTE_DEBUG_REQUESTS,
    INFERD_ROUTE_SHM_STATUS,        /* model = region name, empty: every region */
    INFERD_ROUTE_SHM_REGISTER,      /* model = region name */
    INFERD_ROUTE_SHM_UNREGISTER,    /* model = region name, empty: every region */
    INFERD_ROUTE_REPOSITORY_LOAD,   /* model = the model to load */
    INFERD_ROUTE_REPOSITORY_UNLOAD, /* model = the model to unload */
    INFERD_ROUTE_TRACE_SETTING,     /* model empty: the global settings */
} inferd_route_kind_t;

typedef enum {
    INFERD_HTTP_GET = 1,
    INFERD_HTTP_POST = 2,
    INFERD_HTTP_OTHER = 4,
} inferd_http_method_t;

#define INFERD_MODEL_NAME_MAX 256

typedef struct inferd_route {
    inferd_route_kind_t kind;
    char model[INFERD_MODEL_NAME_MAX]; /* decoded; empty when the route has none */
    int64_t version;                   /* -1 when the path names none */
    unsigned allowed_methods;          /* bit set of inferd_http_method_t for this path */
} inferd_route_t;

/* Matches path (without the query string). Returns NOT_FOUND for an unknown path,
 * METHOD_NOT_ALLOWED when the path is known but not for method (route->allowed_methods
 * says which are), INVALID_ARG for a bad percent-encoding or an over-long name. */
inferd_status_t inferd_route_match(inferd_http_method_t method, const char *path,
                                   inferd_route_t *route, inferd_err_t *err);

/* "GET, POST" style text for an Allow header. */
const char *inferd_route_allow_header(unsigned allowed_methods);

#endif
