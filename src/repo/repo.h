/* The model repository: scans Triton-layout directories (<root>/<model>/config.pbtxt,
 * <root>/<model>/<version>/model.onnx), loads the versions each model's version policy
 * selects, and hands out reference-counted model versions to front ends.
 *
 * A model that fails to load (bad config, corrupt file, unsupported operator) is kept in
 * the repository as UNAVAILABLE with its reason, and every other model keeps serving.
 *
 * Threading: the repository is shared by every front-end thread; lookups take a read lock
 * for a few pointer reads. A model version is freed (its workers joined, its backend
 * unloaded) when its last reference is dropped, so a request that holds one can never see
 * it disappear. */
#ifndef INFERD_REPO_REPO_H
#define INFERD_REPO_REPO_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "inferd/backend.h"
#include "obs/metrics.h"
#include "repo/config.h"
#include "sched/sched.h"

typedef enum {
    INFERD_MODEL_STATE_UNKNOWN = 0,
    INFERD_MODEL_STATE_LOADING,
    INFERD_MODEL_STATE_READY,
    INFERD_MODEL_STATE_UNAVAILABLE,
} inferd_model_state_t;

const char *inferd_model_state_name(inferd_model_state_t s);

/* The labels of one output (config label_filename): line i of the file is the label of
 * class i. Loaded with the version; n == 0 when the output has no label file. */
typedef struct inferd_labels {
    char *text;         /* the file, lines NUL-terminated in place */
    const char **lines; /* n pointers into text */
    size_t n;
} inferd_labels_t;

/* Largest label file, and most labels in one, that a model may bring. */
#define INFERD_LABELS_MAX_BYTES (16u << 20)
#define INFERD_LABELS_MAX_COUNT (1u << 20)

/* Loads the label file `filename` of a model whose directory is model_dir into *out. The
 * file must stay inside the model directory: an absolute name, a ".." component, or a
 * symbolic link that resolves outside fails with INVALID_ARG, as does a file over the
 * limits above; a missing file is NOT_FOUND. Lines end at '\n' (a '\r' before it is
 * dropped); a last line without a newline counts. Free with inferd_labels_deinit. */
inferd_status_t inferd_labels_load(const char *model_dir, const char *filename,
                                   inferd_labels_t *out, inferd_err_t *err);

/* Frees what labels owns and zeroes it. */
void inferd_labels_deinit(inferd_labels_t *labels);

/* A loaded, servable model version. Read-only after load except for stats. */
typedef struct inferd_model_version {
    atomic_int _refs;
    char *name; /* model name */
    int64_t version;
    char version_str[24];         /* decimal */
    inferd_model_config_t config; /* completed and validated */
    const inferd_backend_vtable_t *backend;
    void *backend_state;
    size_t *input_map;  /* config input i -> backend input index */
    size_t *output_map; /* config output j -> backend output index */
    size_t n_backend_inputs;
    size_t n_backend_outputs;
    inferd_labels_t *output_labels; /* per config output (classification labels) */
    inferd_sched_t *sched;
    inferd_model_stats_t stats;
} inferd_model_version_t;

inferd_model_version_t *inferd_model_version_ref(inferd_model_version_t *mv);

/* Drops a reference; the last one stops the workers and unloads the backend. Must not be
 * called from one of the version's own worker threads. NULL does nothing. */
void inferd_model_version_unref(inferd_model_version_t *mv);

/* --model-control-mode */
typedef enum {
    INFERD_MODEL_CONTROL_NONE = 0, /* load everything at start, then never change */
    INFERD_MODEL_CONTROL_POLL,     /* also rescan every poll_secs and reload what changed */
    INFERD_MODEL_CONTROL_EXPLICIT, /* load only startup_models; then only the API changes */
} inferd_model_control_t;

typedef struct inferd_repo_options {
    const char *const *roots; /* --model-repository, in order */
    size_t n_roots;
    inferd_model_control_t mode;
    const char *const *startup_models; /* --load-model (explicit mode); "*" = all */
    size_t n_startup_models;
    int64_t poll_secs;               /* --repository-poll-secs (poll mode), > 0 */
    int32_t default_max_batch_size;  /* auto-complete (Triton's default is 4) */
    uint32_t default_max_queue_size; /* admission bound when the config sets none */
} inferd_repo_options_t;

typedef struct inferd_repo inferd_repo_t;

/* Creates an empty repository over the given roots (copied). */
inferd_status_t inferd_repo_create(const inferd_repo_options_t *opt, inferd_repo_t **out,
                                   inferd_err_t *err);

/* Scans every root and loads every model found. Failures are recorded per model, not
 * returned; the call fails only when a root cannot be read. Thread: control. */
inferd_status_t inferd_repo_load_all(inferd_repo_t *repo, inferd_err_t *err);

/* Starts the control thread: it runs queued load/unload requests and, in poll mode,
 * rescans the repository every poll_secs. */
inferd_status_t inferd_repo_start_control(inferd_repo_t *repo, inferd_err_t *err);

/* (Re)loads a model from its directory: the new versions are built beside the serving
 * ones, then swapped in under the lock; requests in flight finish on the versions they
 * started on, which are freed when their last request completes. If nothing of the new
 * load is ready and the old one was, the old one keeps serving and the error is returned.
 * config_override, when not NULL, is config.pbtxt text used instead of the model's file.
 * NOT_FOUND when no repository has the directory. Thread: control (blocks while loading). */
inferd_status_t inferd_repo_load_model(inferd_repo_t *repo, const char *name,
                                       const char *config_override, inferd_err_t *err);

/* Unloads a model (it stays listed, state UNAVAILABLE, reason "unloaded"). NOT_FOUND for
 * an unknown model. Thread: control. */
inferd_status_t inferd_repo_unload_model(inferd_repo_t *repo, const char *name, inferd_err_t *err);

/* Rescans every root: loads new models, reloads changed ones, unloads removed ones. */
void inferd_repo_poll(inferd_repo_t *repo);

typedef void (*inferd_repo_done_cb)(void *arg, inferd_status_t status, const inferd_err_t *err);

/* Queues a load (unload = false; config_override as for inferd_repo_load_model, copied) or
 * unload of a model for the control thread; done(arg, ...)
 * is called once, on the control thread, when it finished (or at shutdown, UNAVAILABLE).
 * UNSUPPORTED unless the control mode is explicit; RESOURCE_EXHAUSTED when too many requests
 * wait. Thread: any. */
inferd_status_t inferd_repo_submit(inferd_repo_t *repo, const char *name, bool unload,
                                   const char *config_override, inferd_repo_done_cb done, void *arg,
                                   inferd_err_t *err);

/* Stops the control thread, answering load/unload requests still queued with UNAVAILABLE
 * (a load under way finishes first). Safe to call more than once. */
void inferd_repo_stop_control(inferd_repo_t *repo);

/* Writes one line per problem ("<model dir>: <reason>") to out and returns how many there
 * were (for --check-repository). */
size_t inferd_repo_report_problems(inferd_repo_t *repo, void *out_file);

/* Unloads everything (dropping the repository's references) and frees repo. */
void inferd_repo_destroy(inferd_repo_t *repo);

/* Looks up a servable version: version < 0 means the highest ready version. On success
 * *out holds a new reference. NOT_FOUND for an unknown model or version, UNAVAILABLE (with
 * the load failure's reason) for one that exists but is not ready. */
inferd_status_t inferd_repo_acquire(inferd_repo_t *repo, const char *name, int64_t version,
                                    inferd_model_version_t **out, inferd_err_t *err);

/* Fills versions (up to cap) with the ready versions of a model, ascending, and returns how
 * many there are. */
size_t inferd_repo_ready_versions(inferd_repo_t *repo, const char *name, int64_t *versions,
                                  size_t cap);

/* Counts models and how many of them have at least one ready version. */
void inferd_repo_counts(inferd_repo_t *repo, size_t *n_models, size_t *n_ready);

/* Appends the repository index as JSON: [{"name","version","state","reason"}...]. */
void inferd_repo_index_json(inferd_repo_t *repo, bool ready_only, inferd_buf_t *out);

/* New references to every ready version, for /metrics. The caller unrefs each and frees
 * the array with inferd_free. */
size_t inferd_repo_collect_ready(inferd_repo_t *repo, inferd_model_version_t ***out);

#endif
