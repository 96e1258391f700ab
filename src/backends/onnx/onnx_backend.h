/* The embedded ONNX engine as an inferd backend. */
#ifndef INFERD_BACKENDS_ONNX_BACKEND_H
#define INFERD_BACKENDS_ONNX_BACKEND_H

#include "inferd/backend.h"

/* The "onnx" backend: loads model.onnx files with the embedded engine. */
extern const inferd_backend_vtable_t inferd_onnx_backend_vtable;

#endif
