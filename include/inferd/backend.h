/* The backend interface: one const table of function pointers per backend kind ("onnx",
 * later "remote"). A backend loads one model version into an opaque state, describes its
 * inputs and outputs, and executes it on tensors. The table is append-only and carries
 * its ABI version first, so a newer server can still use an older backend.
 *
 * Threading: load and unload run on the repository's loading thread. execute may be
 * called from several worker threads at once on the same state (one per instance of the
 * model's instance_group), so a backend keeps per-run memory per call. */
#ifndef INFERD_BACKEND_H
#define INFERD_BACKEND_H

#include <stddef.h>
#include <stdint.h>

#include "inferd/context.h"
#include "inferd/status.h"
#include "inferd/tensor.h"

#define INFERD_BACKEND_ABI_VERSION 2u /* 2: execute_async */

/* One input or output as the model file declares it. */
typedef struct inferd_backend_io {
    const char *name; /* owned by the backend state */
    inferd_dtype_t dtype;
    int ndim;                      /* -1 when the model does not declare a rank */
    int64_t dims[INFERD_MAX_DIMS]; /* -1 for a variable (symbolic or unknown) dim */
} inferd_backend_io_t;

/* The config's `parameters { key: .. value: { string_value: .. } }`, borrowed. */
typedef struct inferd_backend_params {
    const char *const *keys;
    const char *const *values;
    size_t count;
} inferd_backend_params_t;

/* Completion of execute_async: st and err as execute would have returned them (err is
 * valid during the call only). */
typedef void (*inferd_backend_done_fn)(void *arg, inferd_status_t st, const inferd_err_t *err);

typedef struct inferd_backend_vtable {
    uint32_t abi_version; /* INFERD_BACKEND_ABI_VERSION */
    const char *name;     /* "onnx" */

    /* Loads the model file at model_path into *state. Errors name the file and the
     * reason (a corrupt file, an unsupported operator, ...). */
    inferd_status_t (*load)(const char *model_path, const inferd_backend_params_t *params,
                            void **state, inferd_err_t *err);

    /* Points at the model's inputs and outputs (owned by state, valid until unload). */
    void (*describe)(void *state, const inferd_backend_io_t **inputs, size_t *n_inputs,
                     const inferd_backend_io_t **outputs, size_t *n_outputs);

    /* Runs the model. inputs[i] matches the i-th described input (already checked against
     * it by the caller); on success outputs[j] receives a new reference for each described
     * output. On failure no output is set. The backend checks ctx between steps and
     * fails with CANCELLED or DEADLINE_EXCEEDED when it says so. */
    inferd_status_t (*execute)(inferd_ctx_t *ctx, void *state, inferd_tensor_t *const *inputs,
                               inferd_tensor_t **outputs, inferd_err_t *err);

    /* Frees state. Called once no execute is running. */
    void (*unload)(void *state);

    /* Optional (NULL, or abi_version < 2: absent). execute without holding a thread: starts
     * the run and returns at once. On INFERD_OK, done(arg, ...) is called exactly once, from
     * any thread and possibly before this returns, after outputs were set (on success);
     * ctx, inputs and outputs are borrowed until then. On failure done is never called.
     * Backends whose runs wait on I/O (remote) offer it, so a request needs no worker. */
    inferd_status_t (*execute_async)(inferd_ctx_t *ctx, void *state, inferd_tensor_t *const *inputs,
                                     inferd_tensor_t **outputs, inferd_backend_done_fn done,
                                     void *arg, inferd_err_t *err);
} inferd_backend_vtable_t;

#endif
