/* Backend registry (see registry.h). */
#include "backends/registry.h"

#include <string.h>

#include "backends/onnx/onnx_backend.h"
#include "backends/remote/remote.h"

static bool is(const char *s, const char *want)
{
    return s && strcmp(s, want) == 0;
}

static bool empty(const char *s)
{
    return !s || !*s;
}

inferd_status_t inferd_backend_find(const char *backend, const char *platform,
                                    const inferd_backend_vtable_t **out, inferd_err_t *err)
{
    bool backend_onnx = is(backend, "onnxruntime") || is(backend, "onnx");
    bool platform_onnx = is(platform, "onnxruntime_onnx") || is(platform, "onnx_onnxv1");
    if (is(backend, "remote")) {
        *out = &inferd_remote_backend_vtable;
        return INFERD_OK;
    }
    if ((backend_onnx && (empty(platform) || platform_onnx)) || (platform_onnx && empty(backend))) {
        *out = &inferd_onnx_backend_vtable;
        return INFERD_OK;
    }
    if (!empty(backend))
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "unsupported backend '%s'", backend);
    if (!empty(platform))
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "unsupported platform '%s'", platform);
    return inferd_err_set(err, INFERD_E_INVALID_ARG, "the config names no backend or platform");
}
