/* The model repository extension's control endpoints: POST
 * /v2/repository/models/{m}/load and /unload. Loading can take seconds, so the handler
 * never runs it on the I/O thread: the exchange is suspended, the repository's control
 * thread does the work, and its completion resumes the connection. */
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "repo/config.h"
#include "repo/repo.h"
#include "server/http/http_int.h"

/* Thread: control. The response is complete before the resume publishes it. */
static void control_done(void *arg, inferd_status_t st, const inferd_err_t *err)
{
    inferd_http_exchange_t *ex = arg;
    if (st == INFERD_OK)
        inferd_http_respond_text(ex, 200, "application/json", "");
    else
        inferd_http_respond_error(ex, st, err->msg);
    inferd_http_resume(ex);
}

/* Checks the optional body: {"parameters": {...}}. A "config" parameter (the model's
 * config in Triton's JSON form, as a string) becomes config.pbtxt text in *config. */
static inferd_status_t check_body(inferd_http_exchange_t *ex, bool unload, inferd_buf_t *config,
                                  inferd_err_t *err)
{
    if (ex->body.len == 0)
        return INFERD_OK;
    inferd_json_doc_t *doc;
    inferd_json_limits_t lim = {(size_t)ex->srv->opt.max_json_depth, 1 << 16};
    inferd_status_t st = inferd_json_parse(ex->body.data, ex->body.len, &lim, &doc, err);
    if (st != INFERD_OK)
        return st;
    const inferd_json_t *root = inferd_json_root(doc);
    const inferd_json_t *params = inferd_json_get(root, "parameters");
    if (root->type != INFERD_JSON_OBJECT || (params && params->type != INFERD_JSON_OBJECT)) {
        st = inferd_err_set(err, INFERD_E_INVALID_ARG,
                            "the body must be an object whose 'parameters' is an object");
    } else if (params) {
        for (size_t i = 0; i < params->u.object.count && st == INFERD_OK; i++) {
            const char *key = params->u.object.members[i].key;
            const inferd_json_t *v = params->u.object.members[i].value;
            if (unload && strcmp(key, "unload_dependents") == 0) {
                if (v->type != INFERD_JSON_BOOL)
                    st = inferd_err_set(err, INFERD_E_INVALID_ARG,
                                        "'unload_dependents' must be a boolean");
            } else if (!unload && strcmp(key, "config") == 0) {
                if (v->type != INFERD_JSON_STRING)
                    st = inferd_err_set(err, INFERD_E_INVALID_ARG,
                                        "'config' must be a string holding the model config "
                                        "as JSON");
                else if (inferd_model_config_json_to_text(v->u.string.ptr, v->u.string.len, config,
                                                          err) != INFERD_OK)
                    st = err->code;
            } else if (!unload && strncmp(key, "file:", 5) == 0) {
                st = inferd_err_set(err, INFERD_E_UNSUPPORTED,
                                    "load parameter '%s' (a file override) is not supported; "
                                    "change the repository and load again",
                                    key);
            }
        }
    }
    inferd_json_doc_destroy(doc);
    if (st != INFERD_OK && st == err->code)
        inferd_err_prefix(err, "load request");
    return st;
}

void inferd_v2_handle_repository_control(inferd_http_exchange_t *ex)
{
    bool unload = ex->route.kind == INFERD_ROUTE_REPOSITORY_UNLOAD;
    snprintf(ex->model_name, sizeof(ex->model_name), "%s", ex->route.model);
    if (!inferd_http_admin_allowed(ex))
        return;
    inferd_err_t err;
    inferd_buf_t config;
    inferd_buf_init(&config, 1 << 20);
    if (check_body(ex, unload, &config, &err) != INFERD_OK) {
        inferd_buf_deinit(&config);
        inferd_http_respond_error(ex, err.code, err.msg);
        return;
    }
    /* Suspend first: the control thread may finish before this function returns. */
    inferd_http_suspend(ex);
    if (inferd_repo_submit(ex->srv->repo, ex->route.model, unload, config.len ? config.data : NULL,
                           control_done, ex, &err) != INFERD_OK)
        control_done(ex, err.code, &err);
    inferd_buf_deinit(&config);
}
