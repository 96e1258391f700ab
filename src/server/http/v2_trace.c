/* Triton's trace extension: GET/POST /v2/trace/setting and
 * /v2/models/{m}/trace/setting. GET returns the settings in force (for a model: its own
 * where it has them, the global ones otherwise); POST changes them (an admin write, so
 * --admin-token and --admin-loopback-only apply) and returns the result. The settings
 * themselves, their checks and their effect live in obs/trace.c. */
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "obs/log.h"
#include "obs/trace.h"
#include "repo/repo.h"
#include "server/http/http_int.h"

void inferd_v2_handle_trace(inferd_http_exchange_t *ex)
{
    const char *model = ex->route.model[0] ? ex->route.model : NULL;
    inferd_err_t err;
    if (model) {
        /* As Triton: settings are for models the server knows and can serve. */
        inferd_model_version_t *mv;
        if (inferd_repo_acquire(ex->srv->repo, model, -1, &mv, &err) != INFERD_OK) {
            inferd_http_respond_error(ex, err.code, err.msg);
            return;
        }
        inferd_model_version_unref(mv);
    }
    if (ex->method == INFERD_HTTP_POST) {
        if (!inferd_http_admin_allowed(ex))
            return;
        inferd_json_doc_t *doc;
        inferd_json_limits_t lim = {(size_t)ex->srv->opt.max_json_depth, 1 << 12};
        if (ex->body.len == 0)
            inferd_err_set(&err, INFERD_E_INVALID_ARG, "the trace setting request body is empty");
        if (ex->body.len == 0 ||
            inferd_json_parse(ex->body.data, ex->body.len, &lim, &doc, &err) != INFERD_OK) {
            inferd_http_respond_error(ex, err.code, err.msg);
            return;
        }
        inferd_status_t st = inferd_trace_settings_update(model, inferd_json_root(doc), &err);
        inferd_json_doc_destroy(doc);
        if (st != INFERD_OK) {
            inferd_http_respond_error(ex, err.code, err.msg);
            return;
        }
    }
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_trace_settings_json(model, &b);
    if (ex->method == INFERD_HTTP_POST && !b.failed)
        inferd_log(INFERD_LOG_INFO, "trace settings of %s%s changed: %s", model ? "model " : "",
                   model ? model : "the server", b.data);
    inferd_http_respond_json(ex, 200, &b);
}
