/* HTTP router (see router.h). Paths are matched segment by segment on the raw path. */
#include "server/http/router.h"

#include <string.h>

typedef struct {
    const char *p; /* rest of the path, after a '/' */
} cursor_t;

/* Takes the next segment (up to '/' or the end). */
static bool next_segment(cursor_t *c, const char **seg, size_t *len)
{
    if (!c->p)
        return false;
    const char *slash = strchr(c->p, '/');
    *seg = c->p;
    *len = slash ? (size_t)(slash - c->p) : strlen(c->p);
    c->p = slash ? slash + 1 : NULL;
    return true;
}

static bool seg_is(const char *seg, size_t len, const char *want)
{
    return strlen(want) == len && memcmp(seg, want, len) == 0;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

static inferd_status_t decode_name(const char *seg, size_t len, char *out, inferd_err_t *err)
{
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        char c = seg[i];
        if (c == '%') {
            if (i + 2 >= len || hexval(seg[i + 1]) < 0 || hexval(seg[i + 2]) < 0)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "invalid percent-encoding in model name");
            c = (char)(hexval(seg[i + 1]) * 16 + hexval(seg[i + 2]));
            i += 2;
        }
        if (c == '\0')
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "model name contains NUL");
        if (n + 1 >= INFERD_MODEL_NAME_MAX)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "model name is too long");
        out[n++] = c;
    }
    out[n] = '\0';
    if (n == 0)
        return inferd_err_set(err, INFERD_E_NOT_FOUND, "Not Found");
    return INFERD_OK;
}

static bool parse_version(const char *seg, size_t len, int64_t *v)
{
    if (len == 0 || len > 18)
        return false;
    int64_t x = 0;
    for (size_t i = 0; i < len; i++) {
        if (seg[i] < '0' || seg[i] > '9')
            return false;
        x = x * 10 + (seg[i] - '0');
    }
    *v = x;
    return true;
}

/* Fills kind/allowed for a matched path, then checks the method. */
static inferd_status_t found(inferd_route_t *r, inferd_route_kind_t kind, unsigned allowed,
                             inferd_http_method_t method, inferd_err_t *err)
{
    r->kind = kind;
    r->allowed_methods = allowed;
    if (!(allowed & method))
        return inferd_err_set(err, INFERD_E_METHOD_NOT_ALLOWED, "Method Not Allowed");
    return INFERD_OK;
}

static inferd_status_t not_found(inferd_err_t *err)
{
    return inferd_err_set(err, INFERD_E_NOT_FOUND, "Not Found");
}

static inferd_status_t match_model(inferd_http_method_t method, cursor_t *c, inferd_route_t *r,
                                   inferd_err_t *err)
{
    const char *seg;
    size_t len;
    if (!next_segment(c, &seg, &len))
        return not_found(err);
    inferd_status_t st = decode_name(seg, len, r->model, err);
    if (st != INFERD_OK)
        return st;
    if (!next_segment(c, &seg, &len))
        return found(r, INFERD_ROUTE_MODEL_METADATA, INFERD_HTTP_GET, method, err);
    if (seg_is(seg, len, "versions")) {
        if (!next_segment(c, &seg, &len) || !parse_version(seg, len, &r->version))
            return not_found(err);
        if (!next_segment(c, &seg, &len))
            return found(r, INFERD_ROUTE_MODEL_METADATA, INFERD_HTTP_GET, method, err);
    }
    if (seg_is(seg, len, "trace") && r->version < 0) { /* .../trace/setting, no version */
        if (!next_segment(c, &seg, &len) || c->p || !seg_is(seg, len, "setting"))
            return not_found(err);
        return found(r, INFERD_ROUTE_TRACE_SETTING, INFERD_HTTP_GET | INFERD_HTTP_POST, method,
                     err);
    }
    if (c->p) /* anything after the action */
        return not_found(err);
    if (seg_is(seg, len, "ready"))
        return found(r, INFERD_ROUTE_MODEL_READY, INFERD_HTTP_GET, method, err);
    if (seg_is(seg, len, "config"))
        return found(r, INFERD_ROUTE_MODEL_CONFIG, INFERD_HTTP_GET, method, err);
    if (seg_is(seg, len, "infer"))
        return found(r, INFERD_ROUTE_MODEL_INFER, INFERD_HTTP_POST, method, err);
    if (seg_is(seg, len, "stats"))
        return found(r, INFERD_ROUTE_MODEL_STATS, INFERD_HTTP_GET, method, err);
    return not_found(err);
}

/* /v2/systemsharedmemory[/region/{name}]/{status|register|unregister}; the region name goes
 * in r->model. register needs a name. */
static inferd_status_t match_shm(inferd_http_method_t method, cursor_t *c, inferd_route_t *r,
                                 inferd_err_t *err)
{
    const char *seg;
    size_t len;
    if (!next_segment(c, &seg, &len))
        return not_found(err);
    bool named = seg_is(seg, len, "region");
    if (named) {
        if (!next_segment(c, &seg, &len))
            return not_found(err);
        inferd_status_t st = decode_name(seg, len, r->model, err);
        if (st != INFERD_OK)
            return st;
        if (!next_segment(c, &seg, &len))
            return not_found(err);
    }
    if (c->p)
        return not_found(err);
    if (seg_is(seg, len, "status"))
        return found(r, INFERD_ROUTE_SHM_STATUS, INFERD_HTTP_GET, method, err);
    if (seg_is(seg, len, "unregister"))
        return found(r, INFERD_ROUTE_SHM_UNREGISTER, INFERD_HTTP_POST, method, err);
    if (named && seg_is(seg, len, "register"))
        return found(r, INFERD_ROUTE_SHM_REGISTER, INFERD_HTTP_POST, method, err);
    return not_found(err);
}

/* /v2/repository/models/{name}/load|unload */
static inferd_status_t match_repository_model(inferd_http_method_t method, cursor_t *c,
                                              inferd_route_t *r, inferd_err_t *err)
{
    const char *seg;
    size_t len;
    if (!next_segment(c, &seg, &len))
        return not_found(err);
    inferd_status_t st = decode_name(seg, len, r->model, err);
    if (st != INFERD_OK)
        return st;
    if (!next_segment(c, &seg, &len) || c->p)
        return not_found(err);
    if (seg_is(seg, len, "load"))
        return found(r, INFERD_ROUTE_REPOSITORY_LOAD, INFERD_HTTP_POST, method, err);
    if (seg_is(seg, len, "unload"))
        return found(r, INFERD_ROUTE_REPOSITORY_UNLOAD, INFERD_HTTP_POST, method, err);
    return not_found(err);
}

/* Paths matched as a whole. */
static const struct {
    const char *path;
    inferd_route_kind_t kind;
    unsigned methods;
} exact_routes[] = {
    {"/v2", INFERD_ROUTE_SERVER_METADATA, INFERD_HTTP_GET},
    {"/v2/health/live", INFERD_ROUTE_HEALTH_LIVE, INFERD_HTTP_GET},
    {"/v2/health/ready", INFERD_ROUTE_HEALTH_READY, INFERD_HTTP_GET},
    {"/v2/repository/index", INFERD_ROUTE_REPOSITORY_INDEX, INFERD_HTTP_POST},
    {"/healthz", INFERD_ROUTE_HEALTHZ, INFERD_HTTP_GET},
    {"/metrics", INFERD_ROUTE_METRICS, INFERD_HTTP_GET},
    {"/debug/threads", INFERD_ROUTE_DEBUG_THREADS, INFERD_HTTP_GET},
    {"/debug/tensors", INFERD_ROUTE_DEBUG_TENSORS, INFERD_HTTP_GET},
    {"/debug/requests", INFERD_ROUTE_DEBUG_REQUESTS, INFERD_HTTP_GET},
    {"/v2/logging", INFERD_ROUTE_LOGGING, INFERD_HTTP_GET | INFERD_HTTP_POST},
    {"/v2/trace/setting", INFERD_ROUTE_TRACE_SETTING, INFERD_HTTP_GET | INFERD_HTTP_POST},
    /* As in Triton, this path means the statistics of every model, never the metadata of a
     * model named "stats". */
    {"/v2/models/stats", INFERD_ROUTE_MODEL_STATS, INFERD_HTTP_GET},
};

inferd_status_t inferd_route_match(inferd_http_method_t method, const char *path, inferd_route_t *r,
                                   inferd_err_t *err)
{
    memset(r, 0, sizeof(*r));
    r->version = -1;
    for (size_t k = 0; k < sizeof(exact_routes) / sizeof(exact_routes[0]); k++)
        if (strcmp(path, exact_routes[k].path) == 0)
            return found(r, exact_routes[k].kind, exact_routes[k].methods, method, err);
    if (strncmp(path, "/v2/repository/models/", 22) == 0) {
        cursor_t c = {path + 22};
        return match_repository_model(method, &c, r, err);
    }
    if (strncmp(path, "/v2/systemsharedmemory/", 23) == 0) {
        cursor_t c = {path + 23};
        return match_shm(method, &c, r, err);
    }
    if (strncmp(path, "/v2/models/", 11) == 0) {
        cursor_t c = {path + 11};
        return match_model(method, &c, r, err);
    }
    return not_found(err);
}

const char *inferd_route_allow_header(unsigned allowed)
{
    if ((allowed & INFERD_HTTP_GET) && (allowed & INFERD_HTTP_POST))
        return "GET, POST";
    return (allowed & INFERD_HTTP_POST) ? "POST" : "GET";
}
