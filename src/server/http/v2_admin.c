/* Statistics, logging and /debug/requests endpoints (see v2_admin.h). They only read
 * counters and settings that the request path updates with atomics, so none of them can
 * slow an inference down. */
#include "server/http/v2_admin.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "diag/inflight.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "repo/repo.h"

/* ------------------------------------------------------------------------------------ */
/* Statistics                                                                           */

static void stats_append(inferd_buf_t *b, inferd_model_version_t *mv, bool first)
{
    inferd_metrics_model_t m = {mv->name, mv->version_str, &mv->stats};
    if (!first)
        inferd_buf_append_char(b, ',');
    inferd_model_stats_json(b, &m);
}

void inferd_v2_handle_stats(inferd_http_exchange_t *ex)
{
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_buf_append_str(&b, "{\"model_stats\":[");
    if (!ex->route.model[0]) {
        inferd_model_version_t **mvs;
        size_t n = inferd_repo_collect_ready(ex->srv->repo, &mvs);
        for (size_t i = 0; i < n; i++) {
            stats_append(&b, mvs[i], i == 0);
            inferd_model_version_unref(mvs[i]);
        }
        inferd_free(mvs);
    } else {
        /* The named version, or every ready version of the model. A model that exists
         * but has no ready version fails here with the repository's reason. */
        inferd_model_version_t *mv;
        inferd_err_t err;
        if (inferd_repo_acquire(ex->srv->repo, ex->route.model, ex->route.version, &mv, &err) !=
            INFERD_OK) {
            inferd_buf_deinit(&b);
            inferd_http_respond_error(ex, err.code, err.msg);
            return;
        }
        snprintf(ex->model_name, sizeof(ex->model_name), "%s", mv->name);
        if (ex->route.version >= 0) {
            snprintf(ex->model_version, sizeof(ex->model_version), "%s", mv->version_str);
            stats_append(&b, mv, true);
        } else {
            int64_t versions[64];
            size_t nv = inferd_repo_ready_versions(ex->srv->repo, mv->name, versions, 64);
            bool first = true;
            for (size_t i = 0; i < nv && i < 64; i++) {
                inferd_model_version_t *v;
                /* A version unloaded since the listing is simply left out. */
                if (inferd_repo_acquire(ex->srv->repo, mv->name, versions[i], &v, &err) !=
                    INFERD_OK)
                    continue;
                stats_append(&b, v, first);
                first = false;
                inferd_model_version_unref(v);
            }
        }
        inferd_model_version_unref(mv);
    }
    inferd_buf_append_str(&b, "]}");
    inferd_http_respond_json(ex, 200, &b);
}

/* ------------------------------------------------------------------------------------ */
/* Logging                                                                              */

static void logging_json(inferd_buf_t *b)
{
    inferd_log_settings_t s;
    inferd_log_get_settings(&s);
    /* inferd logs to stderr only, which Triton reports as an empty log_file. */
    inferd_buf_printf(b,
                      "{\"log_file\":\"\",\"log_info\":%s,\"log_warning\":%s,\"log_error\":%s,"
                      "\"log_verbose_level\":%d,\"log_format\":\"%s\"}",
                      s.log_info ? "true" : "false", s.log_warning ? "true" : "false",
                      s.log_error ? "true" : "false", s.log_verbose_level, s.log_format);
}

/* Reads a boolean key into *out; null or absent leaves it. */
static inferd_status_t bool_key(const inferd_json_t *root, const char *key, bool *out,
                                inferd_err_t *err)
{
    const inferd_json_t *v = inferd_json_get(root, key);
    if (!v || v->type == INFERD_JSON_NULL)
        return INFERD_OK;
    if (v->type != INFERD_JSON_BOOL)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s must be a boolean", key);
    *out = v->u.boolean;
    return INFERD_OK;
}

/* Validates every key against a copy of the settings, so a bad request changes nothing. */
static inferd_status_t logging_update(const inferd_json_t *root, inferd_err_t *err)
{
    if (root->type != INFERD_JSON_OBJECT)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "the logging request must be an object");
    inferd_log_settings_t s;
    inferd_log_get_settings(&s);
    const inferd_json_t *file = inferd_json_get(root, "log_file");
    if (file && file->type != INFERD_JSON_NULL &&
        !(file->type == INFERD_JSON_STRING && file->u.string.len == 0))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "log_file cannot be changed: inferd logs to stderr");
    inferd_status_t st;
    if ((st = bool_key(root, "log_info", &s.log_info, err)) != INFERD_OK ||
        (st = bool_key(root, "log_warning", &s.log_warning, err)) != INFERD_OK ||
        (st = bool_key(root, "log_error", &s.log_error, err)) != INFERD_OK)
        return st;
    const inferd_json_t *v = inferd_json_get(root, "log_verbose_level");
    if (v && v->type != INFERD_JSON_NULL) {
        int64_t level;
        if (!inferd_json_to_int64(v, &level) || level < 0 || level > 1000000)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "log_verbose_level must be a non-negative integer");
        s.log_verbose_level = (int)level;
    }
    const inferd_json_t *f = inferd_json_get(root, "log_format");
    if (f && f->type != INFERD_JSON_NULL) {
        if (f->type != INFERD_JSON_STRING)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "log_format must be a string");
        s.log_format = f->u.string.ptr;
    }
    return inferd_log_set_settings(&s, err);
}

void inferd_v2_handle_logging(inferd_http_exchange_t *ex)
{
    if (ex->method == INFERD_HTTP_POST) {
        /* Turning logs off hides what happens next: an admin write like load/unload. */
        if (!inferd_http_admin_allowed(ex))
            return;
        inferd_json_doc_t *doc;
        inferd_err_t err;
        inferd_json_limits_t lim = {(size_t)ex->srv->opt.max_json_depth, 1 << 12};
        if (ex->body.len == 0)
            inferd_err_set(&err, INFERD_E_INVALID_ARG, "the logging request body is empty");
        if (ex->body.len == 0 ||
            inferd_json_parse(ex->body.data, ex->body.len, &lim, &doc, &err) != INFERD_OK) {
            inferd_http_respond_error(ex, err.code, err.msg);
            return;
        }
        inferd_status_t st = logging_update(inferd_json_root(doc), &err);
        inferd_json_doc_destroy(doc);
        if (st != INFERD_OK) {
            inferd_http_respond_error(ex, err.code, err.msg);
            return;
        }
        inferd_log_settings_t s;
        inferd_log_get_settings(&s);
        inferd_log(INFERD_LOG_INFO,
                   "logging settings changed: info=%d warning=%d error=%d verbose=%d format=%s",
                   s.log_info, s.log_warning, s.log_error, s.log_verbose_level, s.log_format);
    }
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    logging_json(&b);
    inferd_http_respond_json(ex, 200, &b);
}

/* ------------------------------------------------------------------------------------ */
/* /debug/requests                                                                      */

void inferd_v2_handle_debug_requests(inferd_http_exchange_t *ex)
{
    if (!inferd_http_debug_allowed(ex))
        return;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_inflight_json(&b);
    inferd_http_respond_json(ex, 200, &b);
}
