/* KServe v2 REST endpoints (health, metadata, config, infer, repository index) and
 * inferd's own (/healthz, /metrics, /debug). Requests are decoded here on the I/O thread
 * into an inferd_infer_request_t; nothing JSON-shaped reaches the scheduler. */
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "backends/remote/mirror.h"
#include "backends/remote/upstream.h"
#include "core/alloc.h"
#include "core/json.h"
#include "core/thread.h"
#include "diag/inflight.h"
#include "inferd/version.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "obs/trace.h"
#include "repo/repo.h"
#include "sched/sched.h"
#include "server/http/copy_stats.h"
#include "server/http/http_int.h"
#include "server/http/shm.h"
#include "server/http/v2_admin.h"
#include "server/http/v2_codec.h"

/* State of one inference, from decode to response. Owned by the exchange. */
struct v2_infer_call {
    inferd_infer_request_t req;  /* first: the scheduler's view */
    inferd_model_version_t *mv;  /* reference held for the whole exchange */
    inferd_json_doc_t *doc;      /* the JSON header; names and id point into it */
    inferd_tensor_t *body;       /* the request body; binary inputs are views into it */
    size_t binary_off;           /* where the binary section starts in body */
    inferd_v2_input_t raw_input; /* the single input of a raw binary request */
    inferd_v2_request_t v2;
    size_t *out_sel; /* config output indices to return, in order */
    size_t n_out_sel;
    inferd_tensor_t **out_shm; /* per selected output: its shm region, or NULL */
    int64_t t_decoded_ns;
    atomic_bool submitted; /* in the scheduler: cancel through it */
    int inflight_slot;     /* diag/inflight.h slot, or -1 */
};

/* ------------------------------------------------------------------------------------ */
/* Small helpers                                                                        */

static void respond_status_error(inferd_http_exchange_t *ex, const inferd_err_t *err)
{
    inferd_http_respond_error(ex, err->code, err->msg);
}

static void shape_json(inferd_buf_t *b, const int64_t *dims, int ndim, bool batch_dim)
{
    inferd_buf_append_char(b, '[');
    if (batch_dim)
        inferd_buf_append_str(b, ndim ? "-1," : "-1");
    for (int i = 0; i < ndim; i++)
        inferd_buf_printf(b, "%s%lld", i ? "," : "", (long long)dims[i]);
    inferd_buf_append_char(b, ']');
}

/* Writes [batch] (when batch >= 0) + dims into out, giving a -1 dim whatever the element
 * count implies. Returns the rank. */
static int resolve_dims(int64_t batch, const int64_t *dims, int ndim, uint64_t numel, int64_t *out)
{
    int nd = 0, unknown = -1;
    if (batch >= 0)
        out[nd++] = batch;
    for (int i = 0; i < ndim && nd < INFERD_MAX_DIMS; i++, nd++) {
        out[nd] = dims[i];
        if (dims[i] < 0)
            unknown = nd;
    }
    uint64_t prod = 1;
    for (int i = 0; i < nd; i++)
        if (i != unknown)
            prod *= (uint64_t)out[i];
    if (unknown >= 0)
        out[unknown] = prod ? (int64_t)(numel / prod) : 0;
    return nd;
}

/* Random 128-bit request id in hex, for requests that bring none. */
static void generate_request_id(char *out)
{
    static __thread uint64_t s;
    if (!s)
        s = (uint64_t)inferd_now_ns() ^ ((uint64_t)(uintptr_t)&s << 16) ^ 0x9e3779b97f4a7c15ull;
    for (int i = 0; i < 2; i++) {
        s ^= s << 13;
        s ^= s >> 7;
        s ^= s << 17;
        snprintf(out + 16 * i, 17, "%016llx", (unsigned long long)s);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Health, metadata, config, index                                                      */

static void handle_ready(inferd_http_exchange_t *ex)
{
    if (atomic_load(&ex->srv->shutting_down)) {
        inferd_http_respond_error(ex, INFERD_E_UNAVAILABLE, "server is shutting down");
        return;
    }
    if (!inferd_server_is_ready(ex->srv)) {
        size_t n, ready;
        inferd_repo_counts(ex->srv->repo, &n, &ready);
        char msg[128];
        size_t stalled = inferd_server_stalled_models(ex->srv, NULL);
        if (stalled)
            snprintf(msg, sizeof(msg),
                     "server is not ready: %zu of %zu models are ready, %zu of them stalled", ready,
                     n, stalled);
        else
            snprintf(msg, sizeof(msg), "server is not ready: %zu of %zu models are ready", ready,
                     n);
        inferd_http_respond_error(ex, INFERD_E_UNAVAILABLE, msg);
        return;
    }
    inferd_http_respond_text(ex, 200, "application/json", "{\"ready\":true}");
}

static void handle_healthz(inferd_http_exchange_t *ex)
{
    size_t n, ready;
    inferd_repo_counts(ex->srv->repo, &n, &ready);
    bool ok = ready > 0 && !atomic_load(&ex->srv->shutting_down);
    /* A pure gateway is as healthy as the upstream it forwards to. */
    if (ok && ex->srv->opt.model_url)
        ok = inferd_remote_upstream_ready(ex->srv->opt.model_url);
    /* Stalled models (the progress watchdog) are loaded but not serving: with some left
     * that serve, the server is "degraded"; with none, unavailable. */
    inferd_buf_t names;
    inferd_buf_init(&names, 0);
    size_t stalled = inferd_server_stalled_models(ex->srv, &names);
    if (stalled >= ready)
        ok = false;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_printf(&b, "{\"status\":\"%s\",\"model_loaded\":%s",
                      !ok       ? "unavailable"
                      : stalled ? "degraded"
                                : "ok",
                      ok ? "true" : "false");
    if (stalled) {
        inferd_buf_append_str(&b, ",\"stalled_models\":[");
        inferd_buf_append(&b, names.data, names.len);
        inferd_buf_append_char(&b, ']');
    }
    inferd_buf_append_char(&b, '}');
    inferd_buf_deinit(&names);
    inferd_http_respond_json(ex, ok ? 200 : 503, &b);
}

static void handle_server_metadata(inferd_http_exchange_t *ex)
{
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    /* Only extensions that are complete are listed. */
    inferd_buf_printf(&b,
                      "{\"name\":\"%s\",\"version\":\"%s\",\"extensions\":"
                      "[\"model_configuration\",\"binary_tensor_data\","
                      "\"classification\",\"system_shared_memory\",\"statistics\","
                      "\"logging\",\"model_repository\",\"trace\"]}",
                      INFERD_SERVER_NAME, INFERD_VERSION_STRING);
    inferd_http_respond_json(ex, 200, &b);
}

/* Looks up the route's model version; on failure sets the error response. */
static inferd_model_version_t *acquire(inferd_http_exchange_t *ex)
{
    inferd_model_version_t *mv = NULL;
    inferd_err_t err;
    snprintf(ex->model_name, sizeof(ex->model_name), "%s", ex->route.model);
    if (inferd_repo_acquire(ex->srv->repo, ex->route.model, ex->route.version, &mv, &err) !=
        INFERD_OK) {
        respond_status_error(ex, &err);
        return NULL;
    }
    snprintf(ex->model_version, sizeof(ex->model_version), "%s", mv->version_str);
    return mv;
}

static void io_metadata(inferd_buf_t *b, const inferd_model_io_t *io, size_t n, bool batching)
{
    inferd_buf_append_char(b, '[');
    for (size_t i = 0; i < n; i++) {
        inferd_buf_append_str(b, i ? ",{\"name\":" : "{\"name\":");
        inferd_buf_append_json_str(b, io[i].name, strlen(io[i].name));
        inferd_buf_printf(b, ",\"datatype\":\"%s\",\"shape\":", inferd_dtype_name(io[i].data_type));
        shape_json(b, io[i].dims, io[i].ndim, batching);
        inferd_buf_append_char(b, '}');
    }
    inferd_buf_append_char(b, ']');
}

static void handle_model_metadata(inferd_http_exchange_t *ex)
{
    inferd_model_version_t *mv = acquire(ex);
    if (!mv)
        return;
    const inferd_model_config_t *c = &mv->config;
    bool batching = c->max_batch_size > 0;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_append_str(&b, "{\"name\":");
    inferd_buf_append_json_str(&b, mv->name, strlen(mv->name));
    inferd_buf_append_str(&b, ",\"versions\":[");
    int64_t versions[64];
    size_t nv = inferd_repo_ready_versions(ex->srv->repo, mv->name, versions, 64);
    for (size_t i = 0; i < nv && i < 64; i++)
        inferd_buf_printf(&b, "%s\"%lld\"", i ? "," : "", (long long)versions[i]);
    inferd_buf_append_str(&b, "],\"platform\":");
    /* As Triton: the config's platform, else its backend's name. */
    const char *platform = c->platform && *c->platform ? c->platform
                           : c->backend && *c->backend ? c->backend
                                                       : "onnxruntime_onnx";
    inferd_buf_append_json_str(&b, platform, strlen(platform));
    inferd_buf_append_str(&b, ",\"inputs\":");
    io_metadata(&b, c->inputs, c->n_inputs, batching);
    inferd_buf_append_str(&b, ",\"outputs\":");
    io_metadata(&b, c->outputs, c->n_outputs, batching);
    inferd_buf_append_char(&b, '}');
    inferd_model_version_unref(mv);
    inferd_http_respond_json(ex, 200, &b);
}

static void handle_model_ready(inferd_http_exchange_t *ex)
{
    inferd_model_version_t *mv = acquire(ex);
    if (!mv)
        return;
    int64_t stalled_ms = inferd_sched_stalled_ms(mv->sched);
    if (stalled_ms) {
        char msg[256];
        snprintf(msg, sizeof(msg),
                 "model '%s' version %s is stalled: requests have waited %lld ms without "
                 "progress",
                 mv->name, mv->version_str, (long long)stalled_ms);
        inferd_model_version_unref(mv);
        inferd_http_respond_error(ex, INFERD_E_UNAVAILABLE, msg);
        return;
    }
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_append_str(&b, "{\"name\":");
    inferd_buf_append_json_str(&b, mv->name, strlen(mv->name));
    inferd_buf_append_str(&b, ",\"ready\":true}");
    inferd_model_version_unref(mv);
    inferd_http_respond_json(ex, 200, &b);
}

static void handle_model_config(inferd_http_exchange_t *ex)
{
    inferd_model_version_t *mv = acquire(ex);
    if (!mv)
        return;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_model_config_to_json(&mv->config, &b);
    inferd_model_version_unref(mv);
    inferd_http_respond_json(ex, 200, &b);
}

static void handle_repository_index(inferd_http_exchange_t *ex)
{
    bool ready_only = false;
    if (ex->body.len > 0) {
        inferd_json_doc_t *doc;
        inferd_err_t err;
        inferd_json_limits_t lim = {(size_t)ex->srv->opt.max_json_depth, 1 << 16};
        if (inferd_json_parse(ex->body.data, ex->body.len, &lim, &doc, &err) != INFERD_OK) {
            respond_status_error(ex, &err);
            return;
        }
        const inferd_json_t *root = inferd_json_root(doc);
        const inferd_json_t *ready = inferd_json_get(root, "ready");
        bool bad = root->type != INFERD_JSON_OBJECT || (ready && ready->type != INFERD_JSON_BOOL);
        if (ready && !bad)
            ready_only = ready->u.boolean;
        inferd_json_doc_destroy(doc);
        if (bad) {
            inferd_http_respond_error(ex, INFERD_E_INVALID_ARG,
                                      "the index request must be an object whose 'ready' is a "
                                      "boolean");
            return;
        }
    }
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_repo_index_json(ex->srv->repo, ready_only, &b);
    inferd_http_respond_json(ex, 200, &b);
}

/* ------------------------------------------------------------------------------------ */
/* Metrics and debug                                                                    */

static void handle_metrics(inferd_http_exchange_t *ex)
{
    inferd_model_version_t **mvs;
    size_t n = inferd_repo_collect_ready(ex->srv->repo, &mvs);
    inferd_metrics_model_t *models = inferd_xcalloc(n ? n : 1, sizeof(*models));
    for (size_t i = 0; i < n; i++)
        models[i] = (inferd_metrics_model_t){mvs[i]->name, mvs[i]->version_str, &mvs[i]->stats};
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_metrics_render(&b, models, n);
    inferd_upstream_metrics_render(&b); /* gateway: one set of series per upstream */
    inferd_trace_metrics_render(&b);
    for (size_t i = 0; i < n; i++)
        inferd_model_version_unref(mvs[i]);
    inferd_free(mvs);
    inferd_free(models);
    inferd_http_respond_buf(ex, 200, "text/plain; version=0.0.4; charset=utf-8", &b);
}

static void handle_debug(inferd_http_exchange_t *ex)
{
    if (!inferd_http_debug_allowed(ex))
        return;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    if (ex->route.kind == INFERD_ROUTE_DEBUG_THREADS) {
        inferd_thread_list_json(&b);
    } else {
        inferd_tensor_stats_t st;
        inferd_tensor_stats(&st);
        inferd_buf_printf(&b, "{\"total_count\":%lld,\"total_bytes\":%lld,\"by_owner\":{",
                          (long long)st.total_count, (long long)st.total_bytes);
        for (int i = 0; i < INFERD_OWNER_COUNT_; i++)
            inferd_buf_printf(&b, "%s\"%s\":{\"count\":%lld,\"bytes\":%lld}", i ? "," : "",
                              inferd_owner_name((inferd_owner_t)i), (long long)st.count[i],
                              (long long)st.bytes[i]);
        /* Bytes the front end copied while building input tensors: 0 for binary inputs
         * (used in place), the decoded size for JSON inputs. */
        inferd_buf_printf(&b, "},\"input_bytes_copied\":%llu}",
                          (unsigned long long)inferd_copy_stats_input_bytes());
    }
    inferd_http_respond_json(ex, 200, &b);
}

/* ------------------------------------------------------------------------------------ */
/* Inference                                                                            */

static int fail_reason(const inferd_infer_request_t *req);

/* Thread: the one that finished the request (a worker, the scheduler's timer, the
 * disconnect watcher, or the I/O thread after a failed submit). */
static void infer_done_cb(inferd_infer_request_t *req)
{
    inferd_http_exchange_t *ex = req->done_arg;
    /* Failures are counted here, not when the response is built: the connection of a
     * client that went away may never be handed back to the I/O thread. */
    if (req->status != INFERD_OK) {
        v2_infer_call_t *call = (v2_infer_call_t *)req; /* req is the call's first member */
        inferd_model_stats_record(&call->mv->stats, fail_reason(req),
                                  (uint64_t)(inferd_now_ns() - ex->t_start_ns));
    }
    inferd_http_resume(ex);
}

/* Checks one request input against its config entry and builds the backend tensor. */
static inferd_status_t decode_input(inferd_http_exchange_t *ex, v2_infer_call_t *call,
                                    const inferd_model_io_t *cfg, const inferd_v2_input_t *in,
                                    int64_t *batch, inferd_tensor_t **out, inferd_err_t *err)
{
    const inferd_model_config_t *c = &call->mv->config;
    bool batching = c->max_batch_size > 0;
    if (in->datatype != cfg->data_type)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "input '%s': expected datatype %s, got %s",
                              cfg->name, inferd_dtype_name(cfg->data_type),
                              inferd_dtype_name(in->datatype));
    int want_rank = cfg->ndim + (batching ? 1 : 0);
    if (in->ndim != want_rank)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "input '%s': expected %d dimensions, got %d", cfg->name, want_rank,
                              in->ndim);
    int off = 0;
    if (batching) {
        int64_t b = in->shape[0];
        if (b < 1 || b > c->max_batch_size)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "input '%s': batch size %lld is outside 1..%d", cfg->name,
                                  (long long)b, (int)c->max_batch_size);
        if (*batch >= 0 && *batch != b)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "input '%s': batch size %lld differs from %lld of the other "
                                  "inputs",
                                  cfg->name, (long long)b, (long long)*batch);
        *batch = b;
        off = 1;
    }
    for (int i = 0; i < cfg->ndim; i++) {
        if (cfg->dims[i] >= 0 && cfg->dims[i] != in->shape[off + i])
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "input '%s': dimension %d must be %lld, got %lld", cfg->name,
                                  off + i, (long long)cfg->dims[i], (long long)in->shape[off + i]);
    }
    inferd_tensor_t *t;
    inferd_status_t st;
    uint64_t max_el = (uint64_t)ex->srv->opt.max_tensor_elements;
    if (in->data) {
        st = inferd_v2_json_to_tensor(cfg->name, in->data, in->datatype, in->shape, in->ndim,
                                      max_el, &t, err);
        if (st != INFERD_OK)
            return st;
        inferd_copy_stats_add_input(t->nbytes);
    } else if (in->has_binary_data_size) {
        size_t copied;
        st = inferd_v2_binary_to_tensor(cfg->name, in->datatype, in->shape, in->ndim, max_el,
                                        call->body, call->binary_off + (size_t)in->binary_offset,
                                        (size_t)in->binary_data_size, &t, &copied, err);
        if (st != INFERD_OK)
            return st;
        inferd_copy_stats_add_input(copied);
    } else {
        /* Shared memory: a view into the registered region, read in place. The view keeps
         * the mapping alive even if the region is unregistered before the request ends. */
        char what[INFERD_MODEL_NAME_MAX + 16];
        snprintf(what, sizeof(what), "input '%s'", cfg->name);
        inferd_tensor_t *region;
        st = inferd_shm_acquire(inferd_http_shm(ex), what, in->shm_region, in->shm_offset,
                                in->shm_byte_size, &region, err);
        if (st != INFERD_OK)
            return st;
        size_t copied;
        st = inferd_v2_binary_to_tensor(cfg->name, in->datatype, in->shape, in->ndim, max_el,
                                        region, (size_t)in->shm_offset, (size_t)in->shm_byte_size,
                                        &t, &copied, err);
        inferd_tensor_unref(region);
        if (st != INFERD_OK)
            return st;
        inferd_copy_stats_add_input(copied);
    }
    if (cfg->has_reshape) {
        /* The model sees [batch] + reshape. */
        int64_t dims[INFERD_MAX_DIMS];
        int nd = resolve_dims(batching ? in->shape[0] : -1, cfg->reshape, cfg->reshape_ndim,
                              inferd_tensor_numel(t), dims);
        inferd_tensor_t *v = inferd_tensor_view(t, 0, t->dtype, dims, nd, t->nbytes, err);
        inferd_tensor_unref(t);
        if (!v)
            return err->code;
        t = v;
    }
    *out = t;
    return INFERD_OK;
}

/* A raw binary request (Inference-Header-Content-Length: 0): the whole body is the data of
 * the model's single input, its shape taken from the config (batch 1 for a batching model,
 * one variable dimension deduced from the size; BYTES must be a single element, whose
 * content is the body), and every output comes back binary. Fills call->v2 as if the JSON
 * header had said so. */
static inferd_status_t decode_raw_binary(v2_infer_call_t *call, inferd_err_t *err)
{
    const inferd_model_config_t *c = &call->mv->config;
    if (c->n_inputs != 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "a raw binary request (Inference-Header-Content-Length 0) needs a "
                              "model with exactly one input; model '%s' has %zu",
                              call->mv->name, c->n_inputs);
    const inferd_model_io_t *cfg = &c->inputs[0];
    inferd_v2_input_t *in = &call->raw_input;
    size_t size = call->body->nbytes;
    in->name = cfg->name;
    in->datatype = cfg->data_type;
    in->has_binary_data_size = true;
    in->binary_data_size = size;
    in->binary_offset = 0;
    int nd = 0, var = -1;
    if (c->max_batch_size > 0)
        in->shape[nd++] = 1;
    uint64_t fixed = 1;
    for (int i = 0; i < cfg->ndim && nd < INFERD_MAX_DIMS; i++, nd++) {
        in->shape[nd] = cfg->dims[i];
        if (cfg->dims[i] >= 0) {
            fixed *= (uint64_t)cfg->dims[i];
            continue;
        }
        if (cfg->data_type == INFERD_DTYPE_BYTES) {
            in->shape[nd] = 1;
        } else if (var >= 0) {
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "raw binary request: input '%s' has more than one variable "
                                  "dimension, so its shape cannot be deduced from the size",
                                  cfg->name);
        } else {
            var = nd;
        }
    }
    in->ndim = nd;
    if (cfg->data_type == INFERD_DTYPE_BYTES && fixed != 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "raw binary request: BYTES input '%s' must hold one element",
                              cfg->name);
    if (cfg->data_type == INFERD_DTYPE_BYTES) {
        /* The element needs its 4-byte length in front: the one input-path copy this
         * extension makes (counted in input_bytes_copied). */
        if (size > UINT32_MAX)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "raw binary request: a BYTES element is at most 4294967295 "
                                  "bytes");
        int64_t d[1] = {(int64_t)size + 4};
        inferd_tensor_t *t =
            inferd_tensor_create(INFERD_DTYPE_UINT8, d, 1, 0, INFERD_OWNER_REQUEST, err);
        if (!t)
            return err->code;
        unsigned char *q = t->data;
        q[0] = (unsigned char)size;
        q[1] = (unsigned char)(size >> 8);
        q[2] = (unsigned char)(size >> 16);
        q[3] = (unsigned char)(size >> 24);
        if (size)
            memcpy(q + 4, call->body->data, size);
        inferd_copy_stats_add_input(size + 4);
        inferd_tensor_unref(call->body);
        call->body = t;
        in->binary_data_size = size + 4;
    }
    if (var >= 0) {
        uint64_t unit = fixed * inferd_dtype_size(cfg->data_type);
        if (unit == 0 || size % unit != 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "raw binary request: %zu bytes do not divide into elements of "
                                  "input '%s' (%llu bytes per step of its variable dimension)",
                                  size, cfg->name, (unsigned long long)unit);
        in->shape[var] = (int64_t)(size / unit);
    }
    call->v2.inputs = in;
    call->v2.n_inputs = 1;
    call->v2.binary_data_output = true;
    return INFERD_OK;
}

/* Decodes the body and fills call->req. Thread: I/O. */
static inferd_status_t decode_infer(inferd_http_exchange_t *ex, v2_infer_call_t *call,
                                    inferd_err_t *err)
{
    const inferd_server_options_t *o = &ex->srv->opt;
    const inferd_model_config_t *c = &call->mv->config;
    if (ex->body.len == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "the request body is empty");
    /* The body becomes a tensor so binary inputs can be views into it, not copies. */
    call->body = inferd_http_take_body(ex, err);
    if (!call->body)
        return err->code;
    size_t body_len = call->body->nbytes;
    size_t header_len = body_len;
    const char *ihcl = inferd_http_header(ex, "Inference-Header-Content-Length");
    inferd_status_t st;
    if (ihcl && (st = inferd_v2_parse_header_length(ihcl, body_len, &header_len, err)) != INFERD_OK)
        return st;
    call->binary_off = header_len;
    inferd_v2_request_t *v2 = &call->v2;
    if (ihcl && header_len == 0) {
        st = decode_raw_binary(call, err);
        if (st != INFERD_OK)
            return st;
    } else {
        inferd_json_limits_t lim = inferd_json_default_limits;
        lim.max_depth = (size_t)o->max_json_depth;
        st = inferd_json_parse(call->body->data, header_len, &lim, &call->doc, err);
        if (st != INFERD_OK)
            return st;
        inferd_v2_limits_t vlim = {(size_t)o->max_inputs, (uint64_t)o->max_tensor_elements};
        st = inferd_v2_parse_request(call->doc, &vlim, &call->v2, err);
        if (st != INFERD_OK)
            return st;
        if (!ihcl) {
            for (size_t k = 0; k < v2->n_inputs; k++)
                if (v2->inputs[k].has_binary_data_size)
                    return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                          "input '%s' sets binary_data_size, but the request has "
                                          "no Inference-Header-Content-Length header",
                                          v2->inputs[k].name);
        }
        st = inferd_v2_layout_binary(v2, body_len - header_len, err);
        if (st != INFERD_OK)
            return st;
    }

    /* Request id: the v2 id, else X-Request-ID, else a fresh one. */
    inferd_ctx_t *ctx = &call->req.ctx;
    const char *rid = v2->id;
    if (!rid || !*rid)
        rid = inferd_http_header(ex, "X-Request-ID");
    if (rid && *rid)
        snprintf(ctx->request_id, sizeof(ctx->request_id), "%s", rid);
    else
        generate_request_id(ctx->request_id);
    snprintf(ex->request_id, sizeof(ex->request_id), "%s", ctx->request_id);
    if (v2->has_timeout)
        call->req.timeout_us = v2->timeout_us; /* the scheduler applies the queue policy */

    /* Inputs: every request input must be a model input, and every model input given. */
    for (size_t k = 0; k < v2->n_inputs; k++) {
        size_t i = 0;
        while (i < c->n_inputs && strcmp(c->inputs[i].name, v2->inputs[k].name) != 0)
            i++;
        if (i == c->n_inputs)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown input '%s' for model '%s'",
                                  v2->inputs[k].name, c->name ? c->name : call->mv->name);
    }
    call->req.n_inputs = call->mv->n_backend_inputs;
    call->req.inputs = inferd_xcalloc(call->req.n_inputs + 1, sizeof(inferd_tensor_t *));
    int64_t batch = -1;
    for (size_t i = 0; i < c->n_inputs; i++) {
        const inferd_v2_input_t *in = NULL;
        for (size_t k = 0; k < v2->n_inputs && !in; k++)
            if (strcmp(c->inputs[i].name, v2->inputs[k].name) == 0)
                in = &v2->inputs[k];
        if (!in)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "missing input '%s'",
                                  c->inputs[i].name);
        st = decode_input(ex, call, &c->inputs[i], in, &batch,
                          &call->req.inputs[call->mv->input_map[i]], err);
        if (st != INFERD_OK)
            return st;
    }
    call->req.batch_size = batch > 0 ? (uint64_t)batch : 1;

    /* Outputs: the requested ones in request order, or all in config order. */
    call->n_out_sel = v2->has_outputs ? v2->n_outputs : c->n_outputs;
    call->out_sel = inferd_xcalloc(call->n_out_sel + 1, sizeof(size_t));
    call->out_shm = inferd_xcalloc(call->n_out_sel + 1, sizeof(inferd_tensor_t *));
    for (size_t k = 0; k < call->n_out_sel; k++) {
        if (!v2->has_outputs) {
            call->out_sel[k] = k;
            continue;
        }
        const inferd_v2_output_t *ro = &v2->outputs[k];
        size_t j = 0;
        while (j < c->n_outputs && strcmp(c->outputs[j].name, ro->name) != 0)
            j++;
        if (j == c->n_outputs)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown output '%s' for model '%s'",
                                  ro->name, call->mv->name);
        if (ro->shm_region) {
            /* Checked now, so a bad region fails before the model runs; held until the
             * response, so unregistering it meanwhile cannot unmap it. */
            char what[INFERD_MODEL_NAME_MAX + 16];
            snprintf(what, sizeof(what), "output '%s'", ro->name);
            st = inferd_shm_acquire(inferd_http_shm(ex), what, ro->shm_region, ro->shm_offset,
                                    ro->shm_byte_size, &call->out_shm[k], err);
            if (st != INFERD_OK)
                return st;
        }
        if (ro->classification && !inferd_v2_classification_supported(c->outputs[j].data_type))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "output '%s': class result not available for output due to "
                                  "unsupported type '%s'",
                                  ro->name, inferd_dtype_name(c->outputs[j].data_type));
        call->out_sel[k] = j;
    }
    call->req.n_outputs = call->mv->n_backend_outputs;
    call->req.outputs = inferd_xcalloc(call->req.n_outputs + 1, sizeof(inferd_tensor_t *));
    return INFERD_OK;
}

/* Maps a failed inference to Triton's failure reasons. */
static int fail_reason(const inferd_infer_request_t *req)
{
    switch (req->status) {
    case INFERD_E_CANCELLED: return INFERD_FAIL_CANCELED;
    case INFERD_E_RESOURCE_EXHAUSTED:
    case INFERD_E_DEADLINE_EXCEEDED: return INFERD_FAIL_REJECTED;
    default: return req->executed ? INFERD_FAIL_BACKEND : INFERD_FAIL_OTHER;
    }
}

static void handle_infer(inferd_http_exchange_t *ex)
{
    if (atomic_load(&ex->srv->shutting_down)) {
        inferd_http_respond_error(ex, INFERD_E_UNAVAILABLE, "server is shutting down");
        return;
    }
    inferd_model_version_t *mv = acquire(ex);
    if (!mv)
        return;
    v2_infer_call_t *call = inferd_xcalloc(1, sizeof(*call));
    call->mv = mv;
    inferd_ctx_init(&call->req.ctx);
    call->inflight_slot = inferd_inflight_add(&call->req.ctx, mv->name, mv->version_str);
    call->req.t_received_ns = ex->t_start_ns;
    call->req.done_cb = infer_done_cb;
    call->req.done_arg = ex;
    atomic_store(&ex->call, call);
    /* Trace context and sampling; the header strings live as long as the exchange. */
    inferd_trace_begin(&call->req.ctx, mv->name, inferd_http_header(ex, "traceparent"),
                       inferd_http_header(ex, "tracestate"));
    ex->ctx = &call->req.ctx;

    inferd_err_t err;
    inferd_status_t st = decode_infer(ex, call, &err);
    call->t_decoded_ns = inferd_now_ns();
    if (st != INFERD_OK) {
        inferd_model_stats_record(&mv->stats, INFERD_FAIL_OTHER,
                                  (uint64_t)(call->t_decoded_ns - ex->t_start_ns));
        respond_status_error(ex, &err);
        return;
    }
    inferd_inflight_publish(call->inflight_slot, call->req.inputs, call->req.n_inputs);
    /* Suspend first: the worker may finish before this function returns. */
    inferd_http_suspend(ex);
    st = inferd_sched_submit(mv->sched, &call->req, &call->req.err);
    if (st == INFERD_OK)
        atomic_store(&call->submitted, true);
    if (st != INFERD_OK) {
        call->req.status = st;
        infer_done_cb(&call->req);
    }
}

/* Builds the JSON response of a finished inference. Thread: I/O. */
void inferd_v2_complete(inferd_http_exchange_t *ex)
{
    v2_infer_call_t *call = atomic_load(&ex->call);
    if (!call)
        return;
    inferd_model_version_t *mv = call->mv;
    const inferd_model_config_t *c = &mv->config;
    if (call->req.status != INFERD_OK) {
        respond_status_error(ex, &call->req.err); /* counted in infer_done_cb */
        return;
    }
    /* Classification outputs replace the model's output by its top-k strings. */
    inferd_tensor_t **cls = inferd_xcalloc(call->n_out_sel + 1, sizeof(*cls));
    for (size_t k = 0; k < call->n_out_sel; k++) {
        uint32_t want = call->v2.has_outputs ? call->v2.outputs[k].classification : 0;
        if (!want)
            continue;
        size_t j = call->out_sel[k];
        static const inferd_labels_t no_labels;
        const inferd_labels_t *lab = mv->output_labels ? &mv->output_labels[j] : &no_labels;
        inferd_err_t cerr;
        if (inferd_v2_classify(c->outputs[j].name, call->req.outputs[mv->output_map[j]],
                               c->max_batch_size > 0 ? (int64_t)call->req.batch_size : -1, want,
                               lab->lines, lab->n, &cls[k], &cerr) != INFERD_OK) {
            for (size_t i = 0; i < k; i++)
                inferd_tensor_unref(cls[i]);
            inferd_free(cls);
            inferd_model_stats_record(&mv->stats, INFERD_FAIL_OTHER,
                                      (uint64_t)(inferd_now_ns() - ex->t_start_ns));
            respond_status_error(ex, &cerr);
            return;
        }
    }
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_append_str(&b, "{\"model_name\":");
    inferd_buf_append_json_str(&b, mv->name, strlen(mv->name));
    inferd_buf_printf(&b, ",\"model_version\":\"%s\"", mv->version_str);
    if (call->v2.id) {
        inferd_buf_append_str(&b, ",\"id\":");
        inferd_buf_append_json_str(&b, call->v2.id, call->v2.id_len);
    }
    inferd_buf_append_str(&b, ",\"outputs\":[");
    bool any_binary = false;
    for (size_t k = 0; k < call->n_out_sel; k++) {
        const inferd_model_io_t *co = &c->outputs[call->out_sel[k]];
        const inferd_tensor_t *t = call->req.outputs[mv->output_map[call->out_sel[k]]];
        const inferd_v2_output_t *ro = call->v2.has_outputs ? &call->v2.outputs[k] : NULL;
        /* A per-output binary_data overrides the request's binary_data_output. */
        bool binary = ro && ro->has_binary_data ? ro->binary_data : call->v2.binary_data_output;
        if (call->out_shm[k]) {
            /* Written into the client's region; the response only describes it. */
            if (t->nbytes > ro->shm_byte_size) {
                inferd_buf_deinit(&b);
                for (size_t i = 0; i < call->n_out_sel; i++)
                    inferd_tensor_unref(cls[i]);
                inferd_free(cls);
                char msg[INFERD_ERR_MSG_MAX];
                snprintf(msg, sizeof(msg),
                         "shared memory size specified with the request for output '%s' (%llu "
                         "bytes) should be at least %zu bytes to hold the results",
                         co->name, (unsigned long long)ro->shm_byte_size, t->nbytes);
                inferd_model_stats_record(&mv->stats, INFERD_FAIL_OTHER,
                                          (uint64_t)(inferd_now_ns() - ex->t_start_ns));
                inferd_http_respond_error(ex, INFERD_E_INVALID_ARG, msg);
                return;
            }
            if (t->nbytes)
                memcpy((char *)call->out_shm[k]->data + ro->shm_offset, t->data, t->nbytes);
            binary = false;
        }
        inferd_buf_append_str(&b, k ? ",{\"name\":" : "{\"name\":");
        inferd_buf_append_json_str(&b, co->name, strlen(co->name));
        if (cls[k]) {
            t = cls[k];
            inferd_buf_append_str(&b, ",\"datatype\":\"BYTES\",\"shape\":");
            shape_json(&b, t->dims, t->ndim, false);
        } else {
            inferd_buf_printf(&b, ",\"datatype\":\"%s\",\"shape\":", inferd_dtype_name(t->dtype));
            if (co->has_reshape) {
                /* Clients see the config's dims, not the model's reshaped ones. */
                int64_t dims[INFERD_MAX_DIMS];
                int nd = resolve_dims(c->max_batch_size > 0 ? (int64_t)call->req.batch_size : -1,
                                      co->dims, co->ndim, inferd_tensor_numel(t), dims);
                shape_json(&b, dims, nd, false);
            } else {
                shape_json(&b, t->dims, t->ndim, false);
            }
        }
        if (call->out_shm[k]) {
            inferd_buf_append_char(&b, '}');
        } else if (binary) {
            inferd_buf_printf(&b, ",\"parameters\":{\"binary_data_size\":%zu}}", t->nbytes);
            any_binary = true;
        } else {
            inferd_buf_append_str(&b, ",\"data\":");
            inferd_v2_tensor_to_json(t, &b);
            inferd_buf_append_char(&b, '}');
        }
    }
    inferd_buf_append_str(&b, "]}");
    /* The blobs follow the JSON header in the order of "outputs". */
    size_t header_len = b.len;
    for (size_t k = 0; any_binary && k < call->n_out_sel; k++) {
        const inferd_v2_output_t *ro = call->v2.has_outputs ? &call->v2.outputs[k] : NULL;
        bool binary = ro && ro->has_binary_data ? ro->binary_data : call->v2.binary_data_output;
        const inferd_tensor_t *t =
            cls[k] ? cls[k] : call->req.outputs[mv->output_map[call->out_sel[k]]];
        if (binary && !call->out_shm[k] && t->nbytes)
            inferd_buf_append(&b, t->data, t->nbytes);
    }
    for (size_t k = 0; k < call->n_out_sel; k++)
        inferd_tensor_unref(cls[k]);
    inferd_free(cls);
    inferd_model_stats_record(&mv->stats, -1, (uint64_t)(inferd_now_ns() - ex->t_start_ns));
    if (any_binary)
        inferd_http_respond_binary(ex, 200, &b, header_len);
    else
        inferd_http_respond_json(ex, 200, &b);
}

void inferd_v2_release(inferd_http_exchange_t *ex)
{
    v2_infer_call_t *call = atomic_exchange(&ex->call, NULL);
    if (!call)
        return;
    inferd_inflight_remove(call->inflight_slot);
    for (size_t i = 0; call->req.inputs && i < call->req.n_inputs; i++)
        inferd_tensor_unref(call->req.inputs[i]);
    for (size_t i = 0; call->req.outputs && i < call->req.n_outputs; i++)
        inferd_tensor_unref(call->req.outputs[i]);
    inferd_free(call->req.inputs);
    inferd_free(call->req.outputs);
    for (size_t k = 0; call->out_shm && k < call->n_out_sel; k++)
        inferd_tensor_unref(call->out_shm[k]);
    inferd_free(call->out_shm);
    inferd_free(call->out_sel);
    inferd_json_doc_destroy(call->doc);
    inferd_tensor_unref(call->body); /* after the document: its numbers point into the body */
    inferd_model_version_unref(call->mv);
    inferd_free(call);
}

void inferd_v2_cancel(inferd_http_exchange_t *ex)
{
    v2_infer_call_t *call = atomic_load(&ex->call);
    if (!call)
        return;
    if (atomic_load(&call->submitted))
        inferd_sched_cancel(call->mv->sched, &call->req); /* a queued request leaves now */
    else
        inferd_ctx_cancel(&call->req.ctx);
}

/* ------------------------------------------------------------------------------------ */
/* Dispatch                                                                             */

void inferd_v2_handle(inferd_http_exchange_t *ex)
{
    switch (ex->route.kind) {
    case INFERD_ROUTE_HEALTH_LIVE:
        inferd_http_respond_text(ex, 200, "application/json", "{\"live\":true}");
        return;
    case INFERD_ROUTE_HEALTH_READY: handle_ready(ex); return;
    case INFERD_ROUTE_SERVER_METADATA: handle_server_metadata(ex); return;
    case INFERD_ROUTE_MODEL_METADATA: handle_model_metadata(ex); return;
    case INFERD_ROUTE_MODEL_READY: handle_model_ready(ex); return;
    case INFERD_ROUTE_MODEL_CONFIG: handle_model_config(ex); return;
    case INFERD_ROUTE_MODEL_INFER: handle_infer(ex); return;
    case INFERD_ROUTE_REPOSITORY_INDEX: handle_repository_index(ex); return;
    case INFERD_ROUTE_HEALTHZ: handle_healthz(ex); return;
    case INFERD_ROUTE_METRICS: handle_metrics(ex); return;
    case INFERD_ROUTE_DEBUG_THREADS:
    case INFERD_ROUTE_DEBUG_TENSORS: handle_debug(ex); return;
    case INFERD_ROUTE_SHM_STATUS:
    case INFERD_ROUTE_SHM_REGISTER:
    case INFERD_ROUTE_SHM_UNREGISTER: inferd_v2_handle_shm(ex); return;
    case INFERD_ROUTE_MODEL_STATS: inferd_v2_handle_stats(ex); return;
    case INFERD_ROUTE_LOGGING: inferd_v2_handle_logging(ex); return;
    case INFERD_ROUTE_DEBUG_REQUESTS: inferd_v2_handle_debug_requests(ex); return;
    case INFERD_ROUTE_REPOSITORY_LOAD:
    case INFERD_ROUTE_REPOSITORY_UNLOAD: inferd_v2_handle_repository_control(ex); return;
    case INFERD_ROUTE_TRACE_SETTING: inferd_v2_handle_trace(ex); return;
    case INFERD_ROUTE_NONE: break;
    }
    inferd_http_respond_error(ex, INFERD_E_NOT_FOUND, "Not Found");
}
