/* The "remote" backend: forwards a model's requests to upstream KServe v2 servers. */
#ifndef INFERD_BACKENDS_REMOTE_REMOTE_H
#define INFERD_BACKENDS_REMOTE_REMOTE_H

#include "inferd/backend.h"

extern const inferd_backend_vtable_t inferd_remote_backend_vtable;

#endif
