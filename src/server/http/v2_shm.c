/* Triton's system shared-memory endpoints (see shm.h for the registry):
 *   GET  /v2/systemsharedmemory[/region/{name}]/status
 *   POST /v2/systemsharedmemory/region/{name}/register   {"key", "offset", "byte_size"}
 *   POST /v2/systemsharedmemory[/region/{name}]/unregister
 * Register and unregister answer 501 unless the server runs with --allow-client-shm, as in
 * current Triton. Success is 200 with an empty body (Triton's client treats anything else,
 * even 204, as an error). Thread: I/O. */
#include <stdio.h>
#include <string.h>

#include "core/json.h"
#include "server/http/http_int.h"
#include "server/http/shm.h"

static bool shm_allowed(inferd_http_exchange_t *ex)
{
    if (!inferd_http_admin_allowed(ex))
        return false;
    if (ex->srv->opt.allow_client_shm)
        return true;
    inferd_http_respond_error(ex, INFERD_E_UNSUPPORTED,
                              "shared-memory registration is disabled; start inferd with "
                              "--allow-client-shm to allow it");
    return false;
}

static void handle_register(inferd_http_exchange_t *ex)
{
    inferd_json_doc_t *doc = NULL;
    inferd_err_t err;
    inferd_json_limits_t lim = {(size_t)ex->srv->opt.max_json_depth, 1 << 10};
    if (inferd_json_parse(ex->body.data ? ex->body.data : "", ex->body.len, &lim, &doc, &err) !=
        INFERD_OK) {
        inferd_http_respond_error(ex, err.code, err.msg);
        return;
    }
    const inferd_json_t *root = inferd_json_root(doc);
    const inferd_json_t *key =
        root->type == INFERD_JSON_OBJECT ? inferd_json_get(root, "key") : NULL;
    const inferd_json_t *off =
        root->type == INFERD_JSON_OBJECT ? inferd_json_get(root, "offset") : NULL;
    const inferd_json_t *size =
        root->type == INFERD_JSON_OBJECT ? inferd_json_get(root, "byte_size") : NULL;
    uint64_t offset = 0, byte_size = 0;
    inferd_status_t st = INFERD_OK;
    if (!key || key->type != INFERD_JSON_STRING ||
        memchr(key->u.string.ptr, '\0', key->u.string.len))
        st = inferd_err_set(&err, INFERD_E_INVALID_ARG,
                            "the register request needs 'key', a string naming the POSIX "
                            "shared-memory object");
    else if (!off || !inferd_json_to_uint64(off, &offset))
        st = inferd_err_set(&err, INFERD_E_INVALID_ARG,
                            "the register request needs 'offset', a non-negative integer");
    else if (!size || !inferd_json_to_uint64(size, &byte_size))
        st = inferd_err_set(&err, INFERD_E_INVALID_ARG,
                            "the register request needs 'byte_size', a non-negative integer");
    else
        st = inferd_shm_register(inferd_http_shm(ex), ex->route.model, key->u.string.ptr, offset,
                                 byte_size, &err);
    inferd_json_doc_destroy(doc);
    if (st != INFERD_OK) {
        inferd_http_respond_error(ex, st, err.msg);
        return;
    }
    inferd_http_respond_text(ex, 200, "application/json", "");
}

void inferd_v2_handle_shm(inferd_http_exchange_t *ex)
{
    const char *name = ex->route.model[0] ? ex->route.model : NULL;
    switch (ex->route.kind) {
    case INFERD_ROUTE_SHM_STATUS: {
        inferd_buf_t b;
        inferd_buf_init(&b, 0);
        inferd_err_t err;
        if (inferd_shm_status_json(inferd_http_shm(ex), name, &b, &err) != INFERD_OK) {
            inferd_buf_deinit(&b);
            inferd_http_respond_error(ex, err.code, err.msg);
            return;
        }
        inferd_http_respond_json(ex, 200, &b);
        return;
    }
    case INFERD_ROUTE_SHM_REGISTER:
        if (shm_allowed(ex))
            handle_register(ex);
        return;
    case INFERD_ROUTE_SHM_UNREGISTER:
        if (!shm_allowed(ex))
            return;
        inferd_shm_unregister(inferd_http_shm(ex), name);
        inferd_http_respond_text(ex, 200, "application/json", "");
        return;
    default: break;
    }
    inferd_http_respond_error(ex, INFERD_E_NOT_FOUND, "Not Found");
}
