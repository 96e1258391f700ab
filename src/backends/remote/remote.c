/* The "remote" backend: a model served by upstream KServe v2 servers (Triton, or another
 * inferd). Config parameters: `url` (one or more base URLs, comma-separated), `model_name`
 * and `model_version` upstream (default: the local name, the upstream's policy),
 * `timeout_ms` (default 60000) and `max_connections` per upstream host (default 64).
 *
 * Loading fetches the model's metadata from an upstream, so clients see its real inputs
 * and outputs. Each execution is one binary-tensor-data request: inputs are written as
 * blobs, outputs asked for as blobs, and the outputs handed back are views of the response
 * body (no decoding to JSON and back). The request's remaining deadline goes upstream as
 * the v2 `timeout` parameter and is enforced here too; a cancelled request aborts the
 * transfer. An upstream that refuses the connection is skipped for another within the
 * deadline; after several failures in a row it is marked down for a while (circuit
 * breaker) and requests go to the healthy upstream with the fewest pending requests. */
#include "backends/remote/remote.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backends/remote/client.h"
#include "backends/remote/upstream.h"
#include "core/alloc.h"
#include "core/json.h"
#include "obs/log.h"
#include "obs/trace.h"

#define BREAKER_FAILURES 3 /* consecutive failures that mark an upstream down */
#define BREAKER_COOLDOWN_NS 1000000000ll
#define MAX_RESPONSE_BYTES ((size_t)1 << 30)
#define MAX_UPSTREAMS 16

typedef struct remote_model {
    inferd_upstream_t *ups[MAX_UPSTREAMS]; /* process-wide entries, never freed */
    size_t n_ups;
    char *model_path; /* "/v2/models/<m>[/versions/<v>]" */
    int64_t timeout_ms;
    long max_connections;
    inferd_backend_io_t *inputs, *outputs;
    size_t n_inputs, n_outputs;
} remote_model_t;

/* ------------------------------------------------------------------------------------ */
/* Set-up                                                                               */

static const char *param(const inferd_backend_params_t *p, const char *key)
{
    for (size_t i = 0; p && i < p->count; i++)
        if (strcmp(p->keys[i], key) == 0)
            return p->values[i];
    return NULL;
}

/* Appends s percent-encoded as one path segment. */
static void append_segment(inferd_buf_t *b, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
            c == '-' || c == '_' || c == '.' || c == '~')
            inferd_buf_append_char(b, (char)c);
        else
            inferd_buf_printf(b, "%%%02X", c);
    }
}

/* The model directory's name, from <repo>/<model>/<version>/<file>. */
static void model_name_from_path(const char *path, char *out, size_t cap)
{
    const char *end = path + strlen(path);
    int slashes = 0;
    const char *seg_end = NULL;
    for (const char *p = end; p > path; p--) {
        if (p[-1] != '/')
            continue;
        slashes++;
        if (slashes == 2)
            seg_end = p - 1;
        if (slashes == 3) {
            snprintf(out, cap, "%.*s", (int)(seg_end - p), p);
            return;
        }
    }
    snprintf(out, cap, "%s", seg_end ? path : "");
}

static void free_io(inferd_backend_io_t *io, size_t n)
{
    for (size_t i = 0; io && i < n; i++)
        inferd_free((char *)io[i].name);
    inferd_free(io);
}

static inferd_status_t parse_io_list(const inferd_json_t *arr, const char *what,
                                     inferd_backend_io_t **out, size_t *n_out, inferd_err_t *err)
{
    if (!arr || arr->type != INFERD_JSON_ARRAY)
        return inferd_err_set(err, INFERD_E_BAD_GATEWAY, "upstream metadata has no '%s' array",
                              what);
    size_t n = arr->u.array.count;
    inferd_backend_io_t *io = inferd_xcalloc(n ? n : 1, sizeof(*io));
    for (size_t i = 0; i < n; i++) {
        const inferd_json_t *e = arr->u.array.items[i];
        const inferd_json_t *name = inferd_json_get(e, "name");
        const inferd_json_t *dt = inferd_json_get(e, "datatype");
        const inferd_json_t *shape = inferd_json_get(e, "shape");
        if (!name || name->type != INFERD_JSON_STRING || !dt || dt->type != INFERD_JSON_STRING ||
            !shape || shape->type != INFERD_JSON_ARRAY || shape->u.array.count > INFERD_MAX_DIMS) {
            free_io(io, i);
            return inferd_err_set(err, INFERD_E_BAD_GATEWAY,
                                  "upstream metadata: malformed %s entry %zu", what, i);
        }
        io[i].name = inferd_xstrdup(name->u.string.ptr);
        io[i].dtype = inferd_dtype_from_name(dt->u.string.ptr, dt->u.string.len);
        io[i].ndim = (int)shape->u.array.count;
        for (int d = 0; d < io[i].ndim; d++)
            if (!inferd_json_to_int64(shape->u.array.items[d], &io[i].dims[d]) ||
                io[i].dims[d] < -1) {
                free_io(io, i + 1);
                return inferd_err_set(err, INFERD_E_BAD_GATEWAY,
                                      "upstream metadata: bad shape for %s '%s'", what,
                                      name->u.string.ptr);
            }
        if (io[i].dtype == INFERD_DTYPE_INVALID) {
            free_io(io, i + 1);
            return inferd_err_set(err, INFERD_E_BAD_GATEWAY,
                                  "upstream metadata: unknown datatype '%s' for %s '%s'",
                                  dt->u.string.ptr, what, name->u.string.ptr);
        }
    }
    *out = io;
    *n_out = n;
    return INFERD_OK;
}

static inferd_status_t fetch_metadata(remote_model_t *m, inferd_err_t *err)
{
    inferd_status_t st = INFERD_E_UNAVAILABLE;
    for (size_t u = 0; u < m->n_ups; u++) {
        char url[2048];
        snprintf(url, sizeof(url), "%s%s", m->ups[u]->base, m->model_path);
        inferd_remote_request_t req = {.url = url,
                                       .method = "GET",
                                       .header_length = -1,
                                       .timeout_ms = m->timeout_ms < 10000 ? m->timeout_ms : 10000,
                                       .max_response_bytes = 1 << 20,
                                       .max_host_connections = m->max_connections,
                                       .upstream = m->ups[u]};
        inferd_remote_response_t resp;
        inferd_remote_response_init(&resp, req.max_response_bytes);
        st = inferd_remote_perform(NULL, &req, &resp, err);
        if (st == INFERD_OK && resp.status != 200)
            st = inferd_err_set(err, resp.status == 404 ? INFERD_E_NOT_FOUND : INFERD_E_BAD_GATEWAY,
                                "upstream %s answered %ld: %.200s", url, resp.status,
                                resp.body.data ? resp.body.data : "");
        inferd_json_doc_t *doc = NULL;
        if (st == INFERD_OK)
            st = inferd_json_parse(resp.body.data ? resp.body.data : "", resp.body.len, NULL, &doc,
                                   err);
        if (st == INFERD_OK) {
            const inferd_json_t *root = inferd_json_root(doc);
            st = parse_io_list(inferd_json_get(root, "inputs"), "inputs", &m->inputs, &m->n_inputs,
                               err);
            if (st == INFERD_OK)
                st = parse_io_list(inferd_json_get(root, "outputs"), "outputs", &m->outputs,
                                   &m->n_outputs, err);
        }
        inferd_json_doc_destroy(doc);
        inferd_remote_response_deinit(&resp);
        if (st == INFERD_OK)
            return INFERD_OK;
        inferd_log(INFERD_LOG_WARN, "remote: metadata from %s failed: %s", m->ups[u]->base,
                   err->msg);
    }
    return st;
}

static void remote_unload(void *state);

static inferd_status_t remote_load(const char *model_path, const inferd_backend_params_t *params,
                                   void **state, inferd_err_t *err)
{
    const char *urls = param(params, "url");
    if (!urls || !*urls)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "the remote backend needs parameters { key: \"url\" ... }");
    if (inferd_remote_client_acquire(err) != INFERD_OK)
        return err->code;
    remote_model_t *m = inferd_xcalloc(1, sizeof(*m));
    const char *t = param(params, "timeout_ms"), *mc = param(params, "max_connections");
    m->timeout_ms = t ? strtoll(t, NULL, 10) : 60000;
    m->max_connections = mc ? strtol(mc, NULL, 10) : 64;
    if (m->timeout_ms <= 0 || m->max_connections <= 0) {
        remote_unload(m);
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "timeout_ms and max_connections must be positive integers");
    }
    for (const char *p = urls; *p && m->n_ups < MAX_UPSTREAMS;) {
        size_t n = strcspn(p, ",");
        while (n && (p[n - 1] == ' ' || p[n - 1] == '/'))
            n--;
        while (n && *p == ' ') {
            p++;
            n--;
        }
        if (n) {
            bool scheme =
                (n > 7 && !strncmp(p, "http://", 7)) || (n > 8 && !strncmp(p, "https://", 8));
            char base[256];
            int len = snprintf(base, sizeof(base), "%s%.*s", scheme ? "" : "http://", (int)n, p);
            bool clean = len > 0 && (size_t)len < sizeof(base);
            for (int k = 0; clean && k < len; k++)
                clean = base[k] > ' ' && base[k] != '"' && base[k] != '\\' && base[k] != 0x7f;
            inferd_upstream_t *u = clean ? inferd_upstream_get(base) : NULL;
            if (!u) {
                remote_unload(m);
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "upstream URL '%.*s' is invalid or too many upstreams",
                                      (int)n, p);
            }
            m->ups[m->n_ups++] = u;
        }
        p += strcspn(p, ",");
        if (*p == ',')
            p++;
    }
    char local[256];
    model_name_from_path(model_path, local, sizeof(local));
    const char *name = param(params, "model_name");
    const char *version = param(params, "model_version");
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_append_str(&b, "/v2/models/");
    append_segment(&b, name && *name ? name : local);
    if (version && *version) {
        inferd_buf_append_str(&b, "/versions/");
        append_segment(&b, version);
    }
    m->model_path = inferd_buf_steal(&b, NULL);
    if (m->n_ups == 0) {
        remote_unload(m);
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "no upstream URL in '%s'", urls);
    }
    if (fetch_metadata(m, err) != INFERD_OK) {
        inferd_status_t st = err->code;
        remote_unload(m);
        return st;
    }
    *state = m;
    return INFERD_OK;
}

static void remote_describe(void *state, const inferd_backend_io_t **inputs, size_t *n_inputs,
                            const inferd_backend_io_t **outputs, size_t *n_outputs)
{
    remote_model_t *m = state;
    *inputs = m->inputs;
    *n_inputs = m->n_inputs;
    *outputs = m->outputs;
    *n_outputs = m->n_outputs;
}

static void remote_unload(void *state)
{
    remote_model_t *m = state;
    if (!m)
        return;
    free_io(m->inputs, m->n_inputs);
    free_io(m->outputs, m->n_outputs);
    inferd_free(m->model_path);
    inferd_free(m);
    inferd_remote_client_release();
}

/* ------------------------------------------------------------------------------------ */
/* Execution                                                                            */

/* The healthy upstream with the fewest pending requests not yet tried; if every untried
 * one is down, the one whose cool-down ended (a probe); -1 if none may be tried. */
static int pick_upstream(remote_model_t *m, const bool *tried)
{
    int64_t now = inferd_now_ns();
    int best = -1, probe = -1;
    for (size_t u = 0; u < m->n_ups; u++) {
        if (tried[u])
            continue;
        long long down = atomic_load(&m->ups[u]->down_until_ns);
        if (down > now)
            continue;
        if (down != 0) {
            if (probe < 0)
                probe = (int)u;
            continue;
        }
        if (best < 0 || atomic_load(&m->ups[u]->pending) < atomic_load(&m->ups[best]->pending))
            best = (int)u;
    }
    return best >= 0 ? best : probe;
}

/* Feeds the circuit breaker and the upstream's metrics. */
static void record(inferd_upstream_t *up, bool ok, inferd_upstream_fail_t kind, int64_t t0)
{
    inferd_upstream_record(up, ok, kind, inferd_now_ns() - t0);
    if (ok || kind == INFERD_UPSTREAM_FAIL_HTTP_4XX || kind == INFERD_UPSTREAM_FAIL_CANCELLED) {
        /* The upstream answered (or we gave up on it): it is alive. */
        atomic_store(&up->consecutive_failures, 0);
        atomic_store(&up->down_until_ns, 0);
        return;
    }
    if (atomic_fetch_add(&up->consecutive_failures, 1) + 1 >= BREAKER_FAILURES) {
        if (atomic_exchange(&up->down_until_ns, inferd_now_ns() + BREAKER_COOLDOWN_NS) == 0)
            inferd_log(INFERD_LOG_WARN, "remote: upstream %s marked down after %d failures",
                       up->base, BREAKER_FAILURES);
    }
}

static void build_body(inferd_ctx_t *ctx, remote_model_t *m, inferd_tensor_t *const *inputs,
                       inferd_buf_t *b, int64_t *header_len)
{
    inferd_buf_append_str(b, "{\"id\":");
    inferd_buf_append_json_str(b, ctx->request_id, strlen(ctx->request_id));
    inferd_buf_append_str(b, ",\"parameters\":{\"binary_data_output\":true");
    int64_t left = inferd_ctx_remaining_ns(ctx);
    if (left != INT64_MAX)
        inferd_buf_printf(b, ",\"timeout\":%" PRId64, left > 1000 ? left / 1000 : 1);
    inferd_buf_append_str(b, "},\"inputs\":[");
    for (size_t i = 0; i < m->n_inputs; i++) {
        const inferd_tensor_t *t = inputs[i];
        inferd_buf_append_str(b, i ? ",{\"name\":" : "{\"name\":");
        inferd_buf_append_json_str(b, m->inputs[i].name, strlen(m->inputs[i].name));
        inferd_buf_printf(b, ",\"datatype\":\"%s\",\"shape\":[", inferd_dtype_name(t->dtype));
        for (int d = 0; d < t->ndim; d++)
            inferd_buf_printf(b, "%s%" PRId64, d ? "," : "", t->dims[d]);
        inferd_buf_printf(b, "],\"parameters\":{\"binary_data_size\":%zu}}", t->nbytes);
    }
    inferd_buf_append_str(b, "]}");
    *header_len = (int64_t)b->len;
    for (size_t i = 0; i < m->n_inputs; i++)
        inferd_buf_append(b, inputs[i]->data, inputs[i]->nbytes);
}

static void free_release(void *ctx, void *data)
{
    (void)ctx;
    inferd_free(data);
}

/* Turns a 200 response into output tensors: views of the response body. */
static inferd_status_t parse_outputs(remote_model_t *m, const char *url,
                                     inferd_remote_response_t *resp, inferd_tensor_t **outputs,
                                     inferd_err_t *err)
{
    size_t len = resp->body.len;
    int64_t hl = resp->header_length;
    if (hl < 0 || (uint64_t)hl > len)
        return inferd_err_set(err, INFERD_E_BAD_GATEWAY,
                              "upstream %s sent no valid Inference-Header-Content-Length", url);
    inferd_json_doc_t *doc;
    if (inferd_json_parse(resp->body.data, (size_t)hl, NULL, &doc, err) != INFERD_OK)
        return inferd_err_set(err, INFERD_E_BAD_GATEWAY, "upstream %s: malformed response: %s", url,
                              err->msg);
    const inferd_json_t *outs = inferd_json_get(inferd_json_root(doc), "outputs");
    size_t body_len;
    char *body = inferd_buf_steal(&resp->body, &body_len);
    inferd_tensor_t *whole =
        inferd_tensor_wrap(INFERD_DTYPE_UINT8, (int64_t[]){(int64_t)body_len}, 1, body, body_len,
                           free_release, NULL, INFERD_OWNER_REQUEST, err);
    if (!whole) {
        inferd_free(body);
        inferd_json_doc_destroy(doc);
        return err->code;
    }
    inferd_status_t st = INFERD_OK;
    size_t off = (size_t)hl;
    if (!outs || outs->type != INFERD_JSON_ARRAY)
        st = inferd_err_set(err, INFERD_E_BAD_GATEWAY, "upstream %s: response has no outputs", url);
    for (size_t k = 0; st == INFERD_OK && k < outs->u.array.count; k++) {
        const inferd_json_t *o = outs->u.array.items[k];
        const inferd_json_t *name = inferd_json_get(o, "name");
        const inferd_json_t *dt = inferd_json_get(o, "datatype");
        const inferd_json_t *shape = inferd_json_get(o, "shape");
        const inferd_json_t *size =
            inferd_json_get(inferd_json_get(o, "parameters"), "binary_data_size");
        uint64_t nbytes = 0;
        int64_t dims[INFERD_MAX_DIMS];
        bool ok = name && name->type == INFERD_JSON_STRING && dt &&
                  dt->type == INFERD_JSON_STRING && shape && shape->type == INFERD_JSON_ARRAY &&
                  shape->u.array.count <= INFERD_MAX_DIMS;
        /* A zero-byte output may come without a blob (Triton omits it). */
        ok = ok && (size ? inferd_json_to_uint64(size, &nbytes) : !inferd_json_get(o, "data"));
        for (size_t d = 0; ok && d < shape->u.array.count; d++)
            ok = inferd_json_to_int64(shape->u.array.items[d], &dims[d]) && dims[d] >= 0;
        size_t j = 0;
        while (ok && j < m->n_outputs && strcmp(m->outputs[j].name, name->u.string.ptr) != 0)
            j++;
        inferd_dtype_t dtype =
            ok ? inferd_dtype_from_name(dt->u.string.ptr, dt->u.string.len) : INFERD_DTYPE_INVALID;
        if (!ok || j == m->n_outputs || dtype == INFERD_DTYPE_INVALID || nbytes > len - off) {
            st = inferd_err_set(err, INFERD_E_BAD_GATEWAY,
                                "upstream %s: malformed output %zu in the response", url, k);
            break;
        }
        uint64_t numel;
        if (inferd_shape_numel(dims, (int)shape->u.array.count, UINT64_MAX, &numel, err) !=
                INFERD_OK ||
            (dtype == INFERD_DTYPE_BYTES ? !inferd_bytes_valid(body + off, nbytes, numel)
                                         : numel * inferd_dtype_size(dtype) != nbytes)) {
            st = inferd_err_set(err, INFERD_E_BAD_GATEWAY,
                                "upstream %s: output '%s' has %" PRIu64 " bytes for its shape", url,
                                name->u.string.ptr, nbytes);
            break;
        }
        inferd_tensor_unref(outputs[j]);
        outputs[j] =
            inferd_tensor_view(whole, off, dtype, dims, (int)shape->u.array.count, nbytes, err);
        if (!outputs[j])
            st = err->code;
        off += nbytes;
    }
    for (size_t j = 0; st == INFERD_OK && j < m->n_outputs; j++)
        if (!outputs[j])
            st = inferd_err_set(err, INFERD_E_BAD_GATEWAY, "upstream %s did not return output '%s'",
                                url, m->outputs[j].name);
    inferd_tensor_unref(whole);
    inferd_json_doc_destroy(doc);
    return st;
}

/* The upstream's {"error": ...} message, or its raw body. */
static void upstream_message(const inferd_remote_response_t *resp, char *out, size_t cap)
{
    inferd_json_doc_t *doc;
    const char *body = resp->body.data ? resp->body.data : "";
    if (inferd_json_parse(body, resp->body.len, NULL, &doc, NULL) == INFERD_OK) {
        const inferd_json_t *e = inferd_json_get(inferd_json_root(doc), "error");
        if (e && e->type == INFERD_JSON_STRING) {
            snprintf(out, cap, "%s", e->u.string.ptr);
            inferd_json_doc_destroy(doc);
            return;
        }
        inferd_json_doc_destroy(doc);
    }
    snprintf(out, cap, "%.200s", body);
}

static inferd_status_t status_from_http(long code)
{
    switch (code) {
    case 400: return INFERD_E_INVALID_ARG;
    case 404: return INFERD_E_NOT_FOUND;
    case 413: return INFERD_E_TOO_LARGE;
    case 429: return INFERD_E_RESOURCE_EXHAUSTED;
    case 503: return INFERD_E_UNAVAILABLE;
    case 504: return INFERD_E_DEADLINE_EXCEEDED;
    default: return code >= 400 && code < 500 ? INFERD_E_INVALID_ARG : INFERD_E_BAD_GATEWAY;
    }
}

/* One execution on its way through the upstreams (execute_async; execute waits for it): a
 * small state machine driven by the completions of its calls. Try the healthy upstream with the
 * fewest pending requests; one marked down whose cool-down has passed is first asked
 * /v2/health/ready (500 ms bound; one caller probes while the others keep skipping it); a
 * call refused before anything was sent goes to the next upstream within the deadline. */
typedef struct remote_job {
    remote_model_t *m;
    inferd_ctx_t *ctx;
    inferd_tensor_t **outputs;
    inferd_buf_t body;
    int64_t header_len;
    char traceparent[64];
    bool has_traceparent;
    uint8_t trace_parent[8]; /* tracing: the span the calls nest under (ctx's at the start) */
    uint8_t call_span[8];    /* tracing: the client span of the call under way */
    bool tried[MAX_UPSTREAMS];
    inferd_upstream_t *up; /* of the call under way */
    char url[2048];
    inferd_remote_response_t resp;
    int64_t t0;
    inferd_status_t st; /* the latest failure, reported when no upstream is left */
    inferd_err_t err;
    inferd_backend_done_fn done;
    void *done_arg;
} remote_job_t;

static void job_next(remote_job_t *j);

/* Ends the job: frees it, then reports (the model may be unloaded once done returns). */
static void job_finish(remote_job_t *j, inferd_status_t st, const inferd_err_t *err)
{
    if (st != INFERD_OK)
        for (size_t k = 0; k < j->m->n_outputs; k++) {
            inferd_tensor_unref(j->outputs[k]);
            j->outputs[k] = NULL;
        }
    inferd_err_t e = {0};
    if (st != INFERD_OK)
        e = *err;
    inferd_backend_done_fn done = j->done;
    void *arg = j->done_arg;
    inferd_buf_deinit(&j->body);
    inferd_remote_response_deinit(&j->resp);
    inferd_free(j);
    done(arg, st, &e);
}

/* Classifies an inference call's outcome: feeds the breaker and the metrics, then
 * finishes the job or moves it on to another upstream. Thread: the one that completes the
 * call (the client's I/O thread, or a thread that started a call and saw it end). */
static void on_infer_done(void *arg, inferd_status_t st, const inferd_err_t *cerr)
{
    remote_job_t *j = arg;
    remote_model_t *m = j->m;
    inferd_upstream_t *up = j->up;
    inferd_err_t err = {0};
    if (st != INFERD_OK)
        err = *cerr;
    atomic_fetch_sub(&up->pending, 1);
    if (j->ctx->traced)
        inferd_trace_span_client(j->ctx, j->trace_parent, j->call_span, j->url, j->resp.status,
                                 j->t0, inferd_now_ns(),
                                 st != INFERD_OK         ? err.msg
                                 : j->resp.status >= 400 ? "the upstream answered an error"
                                                         : NULL);
    if (st == INFERD_E_CANCELLED || st == INFERD_E_DEADLINE_EXCEEDED) {
        record(up, false, INFERD_UPSTREAM_FAIL_CANCELLED, j->t0);
    } else if (st == INFERD_E_UNAVAILABLE || st == INFERD_E_RESOURCE_EXHAUSTED) {
        bool sent = j->resp.sent;
        record(up, false, sent ? INFERD_UPSTREAM_FAIL_TRANSPORT : INFERD_UPSTREAM_FAIL_CONNECT,
               j->t0);
        if (!sent && inferd_ctx_check(j->ctx, NULL) == INFERD_OK) {
            /* Never reached the upstream: another may take it. */
            j->st = st;
            j->err = err;
            job_next(j);
            return;
        }
    } else if (st == INFERD_OK && j->resp.status == 200) {
        st = parse_outputs(m, j->url, &j->resp, j->outputs, &err);
        record(up, st == INFERD_OK, INFERD_UPSTREAM_FAIL_MALFORMED, j->t0);
    } else if (st == INFERD_OK) {
        char msg[300];
        upstream_message(&j->resp, msg, sizeof(msg));
        st = status_from_http(j->resp.status);
        if (st == INFERD_E_BAD_GATEWAY)
            inferd_err_set(&err, st, "upstream %s answered %ld: %s", up->base, j->resp.status, msg);
        else
            inferd_err_set(&err, st, "%s", msg); /* the client's error, passed through */
        record(up, false,
               j->resp.status < 500 ? INFERD_UPSTREAM_FAIL_HTTP_4XX : INFERD_UPSTREAM_FAIL_HTTP_5XX,
               j->t0);
    }
    job_finish(j, st, &err);
}

/* How long the thread that starts a call may wait for the answer itself: about twice what
 * the upstream usually takes, when that is short (the client caps it at 400 us); 0 for a
 * slow or busy upstream, whose answers the I/O thread hands over. */
static int64_t linger_for(const inferd_upstream_t *up)
{
    long long recent = atomic_load_explicit(&up->recent_ns, memory_order_relaxed);
    if (recent == 0)
        return 100000;
    return recent <= 200000 ? 2 * recent : 0;
}

static void start_infer(remote_job_t *j)
{
    remote_model_t *m = j->m;
    inferd_upstream_t *up = j->up;
    snprintf(j->url, sizeof(j->url), "%s%s/infer", up->base, m->model_path);
    if (j->ctx->traced) {
        /* Each call is a client span, the parent of the upstream's server span. */
        inferd_trace_new_span_id(j->call_span);
        inferd_trace_format_traceparent(j->traceparent, j->ctx->trace_id, j->call_span,
                                        j->ctx->trace_flags);
    }
    inferd_remote_request_t req = {.url = j->url,
                                   .method = "POST",
                                   .body = j->body.data,
                                   .body_len = j->body.len,
                                   .header_length = j->header_len,
                                   .request_id = j->ctx->request_id,
                                   .traceparent = j->has_traceparent ? j->traceparent : NULL,
                                   .tracestate = j->has_traceparent ? j->ctx->tracestate : NULL,
                                   .timeout_ms = m->timeout_ms,
                                   .max_response_bytes = MAX_RESPONSE_BYTES,
                                   .max_host_connections = m->max_connections,
                                   .upstream = up,
                                   .linger_ns = linger_for(up)};
    inferd_remote_response_deinit(&j->resp);
    inferd_remote_response_init(&j->resp, MAX_RESPONSE_BYTES);
    j->t0 = inferd_now_ns();
    atomic_fetch_add(&up->pending, 1);
    inferd_err_t err;
    inferd_status_t st = inferd_remote_start(j->ctx, &req, &j->resp, on_infer_done, j, &err);
    if (st != INFERD_OK)
        on_infer_done(j, st, &err);
}

static void on_probe_done(void *arg, inferd_status_t st, const inferd_err_t *err)
{
    (void)err;
    remote_job_t *j = arg;
    inferd_upstream_t *up = j->up;
    bool ok = st == INFERD_OK && j->resp.status == 200;
    if (ok) {
        atomic_store(&up->consecutive_failures, 0);
        atomic_store(&up->down_until_ns, 0);
        inferd_log(INFERD_LOG_INFO, "remote: upstream %s is ready again", up->base);
        start_infer(j);
    } else {
        job_next(j);
    }
}

/* Sends the job to the next upstream to try, or finishes it when none is left. */
static void job_next(remote_job_t *j)
{
    remote_model_t *m = j->m;
    for (;;) {
        int u = pick_upstream(m, j->tried);
        if (u < 0) {
            job_finish(j, j->st, &j->err);
            return;
        }
        j->tried[u] = true;
        inferd_upstream_t *up = j->up = m->ups[u];
        long long down = atomic_load(&up->down_until_ns);
        if (down == 0) {
            start_infer(j);
            return;
        }
        /* Claim the probe by pushing the cool-down on; a concurrent caller sees it down. */
        if (!atomic_compare_exchange_strong(&up->down_until_ns, &down,
                                            inferd_now_ns() + BREAKER_COOLDOWN_NS))
            continue;
        snprintf(j->url, sizeof(j->url), "%s/v2/health/ready", up->base);
        inferd_remote_request_t req = {.url = j->url,
                                       .method = "GET",
                                       .header_length = -1,
                                       .timeout_ms = 500,
                                       .max_response_bytes = 4096,
                                       .max_host_connections = 4,
                                       .upstream = up};
        inferd_remote_response_deinit(&j->resp);
        inferd_remote_response_init(&j->resp, req.max_response_bytes);
        inferd_err_t err;
        if (inferd_remote_start(j->ctx, &req, &j->resp, on_probe_done, j, &err) == INFERD_OK)
            return;
        if (inferd_ctx_check(j->ctx, NULL) != INFERD_OK) {
            job_finish(j, err.code, &err);
            return;
        }
    }
}

static inferd_status_t remote_execute_async(inferd_ctx_t *ctx, void *state,
                                            inferd_tensor_t *const *inputs,
                                            inferd_tensor_t **outputs, inferd_backend_done_fn done,
                                            void *arg, inferd_err_t *err)
{
    remote_model_t *m = state;
    remote_job_t *j = inferd_xcalloc(1, sizeof(*j));
    j->m = m;
    j->ctx = ctx;
    j->outputs = outputs;
    j->done = done;
    j->done_arg = arg;
    inferd_remote_response_init(&j->resp, 0);
    inferd_buf_init(&j->body, 0);
    build_body(ctx, m, inputs, &j->body, &j->header_len);
    if (j->body.failed) {
        inferd_buf_deinit(&j->body);
        inferd_free(j);
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");
    }
    static const uint8_t zero[16];
    if (memcmp(ctx->trace_id, zero, 16) != 0) {
        /* Not traced here: the caller's traceparent goes on as it came (start_infer gives
         * a traced request's calls their own spans). */
        memcpy(j->trace_parent, ctx->span_id, 8);
        inferd_trace_format_traceparent(j->traceparent, ctx->trace_id, ctx->span_id,
                                        ctx->trace_flags);
        j->has_traceparent = true;
    }
    j->st = inferd_err_set(&j->err, INFERD_E_UNAVAILABLE, "every upstream of this model is down");
    job_next(j);
    return INFERD_OK;
}

/* The blocking entry (batched executions on a worker): the asynchronous one, waited for. */
typedef struct sync_wait {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool done;
    inferd_status_t st;
    inferd_err_t err;
} sync_wait_t;

static void sync_done(void *arg, inferd_status_t st, const inferd_err_t *err)
{
    sync_wait_t *w = arg;
    pthread_mutex_lock(&w->lock);
    w->st = st;
    if (st != INFERD_OK)
        w->err = *err;
    w->done = true;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->lock);
}

static inferd_status_t remote_execute(inferd_ctx_t *ctx, void *state,
                                      inferd_tensor_t *const *inputs, inferd_tensor_t **outputs,
                                      inferd_err_t *err)
{
    sync_wait_t w = {.done = false};
    pthread_mutex_init(&w.lock, NULL);
    pthread_cond_init(&w.cond, NULL);
    inferd_status_t st = remote_execute_async(ctx, state, inputs, outputs, sync_done, &w, err);
    if (st == INFERD_OK) {
        /* Bounded: every call of the job has a transfer timeout, and the client's I/O
         * thread aborts them when ctx is cancelled or expires. */
        pthread_mutex_lock(&w.lock);
        while (!w.done)
            pthread_cond_wait(&w.cond, &w.lock);
        pthread_mutex_unlock(&w.lock);
        st = w.st;
        if (st != INFERD_OK)
            *err = w.err;
    }
    pthread_cond_destroy(&w.cond);
    pthread_mutex_destroy(&w.lock);
    return st;
}

const inferd_backend_vtable_t inferd_remote_backend_vtable = {
    .abi_version = INFERD_BACKEND_ABI_VERSION,
    .name = "remote",
    .load = remote_load,
    .describe = remote_describe,
    .execute = remote_execute,
    .unload = remote_unload,
    .execute_async = remote_execute_async,
};
