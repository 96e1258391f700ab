/* Backend registry: maps a model config's `backend` / `platform` to a backend vtable. */
#ifndef INFERD_BACKENDS_REGISTRY_H
#define INFERD_BACKENDS_REGISTRY_H

#include "inferd/backend.h"
#include "inferd/status.h"

/* Finds the backend for a config's backend and platform strings (either may be NULL or
 * empty). "onnxruntime", "onnx" and the platform "onnxruntime_onnx" select the embedded
 * ONNX engine. Fails with UNSUPPORTED naming the unknown backend or platform. */
inferd_status_t inferd_backend_find(const char *backend, const char *platform,
                                    const inferd_backend_vtable_t **out, inferd_err_t *err);

#endif
