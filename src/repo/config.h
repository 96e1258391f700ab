/* Model configuration: the subset of Triton's ModelConfig (config.pbtxt) that ONNX users
 * write, parsed from protobuf text format, completed from the model file when parts are
 * missing (as Triton does for ONNX), validated, and rendered back as Triton's JSON form
 * for GET /v2/models/{m}/config.
 *
 * A config owns every string and array in it; inferd_model_config_deinit frees them. */
#ifndef INFERD_REPO_CONFIG_H
#define INFERD_REPO_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "inferd/backend.h"
#include "inferd/status.h"
#include "inferd/tensor.h"

/* One `input [...]` or `output [...]` entry. */
typedef struct inferd_model_io {
    char *name;
    inferd_dtype_t data_type;
    int ndim;                      /* number of entries in dims (batch dim excluded) */
    int64_t dims[INFERD_MAX_DIMS]; /* -1 = variable */
    bool has_reshape;
    int reshape_ndim; /* may be 0: reshape { shape: [] } */
    int64_t reshape[INFERD_MAX_DIMS];
    bool optional;        /* inputs only */
    char *label_filename; /* outputs only; NULL if none */
} inferd_model_io_t;

typedef enum {
    INFERD_VERSION_POLICY_LATEST = 0,
    INFERD_VERSION_POLICY_ALL,
    INFERD_VERSION_POLICY_SPECIFIC,
} inferd_version_policy_kind_t;

typedef enum {
    INFERD_INSTANCE_KIND_AUTO = 0,
    INFERD_INSTANCE_KIND_CPU,
    INFERD_INSTANCE_KIND_GPU,
    INFERD_INSTANCE_KIND_MODEL,
} inferd_instance_kind_t;

typedef struct inferd_instance_group {
    char *name;    /* NULL if not given */
    int32_t count; /* >= 1 */
    inferd_instance_kind_t kind;
} inferd_instance_group_t;

typedef enum {
    INFERD_TIMEOUT_ACTION_REJECT = 0,
    INFERD_TIMEOUT_ACTION_DELAY,
} inferd_timeout_action_t;

typedef struct inferd_queue_policy {
    inferd_timeout_action_t timeout_action;
    uint64_t default_timeout_microseconds;
    bool allow_timeout_override;
    uint32_t max_queue_size; /* 0 = inferd's default bound */
} inferd_queue_policy_t;

typedef struct inferd_dynamic_batching {
    int64_t *preferred_batch_size;
    size_t n_preferred_batch_size;
    uint64_t max_queue_delay_microseconds;
    bool preserve_ordering;
    inferd_queue_policy_t default_queue_policy;
} inferd_dynamic_batching_t;

typedef struct inferd_model_param {
    char *key;
    char *value; /* the string_value */
} inferd_model_param_t;

typedef struct inferd_model_config {
    char *name;
    char *platform;               /* "onnxruntime_onnx" after completion */
    char *backend;                /* "onnxruntime" after completion */
    char *default_model_filename; /* "model.onnx" after completion */
    int32_t max_batch_size;       /* 0 = no implicit batch dim */
    bool has_max_batch_size;      /* the text set it (even to 0) */

    inferd_model_io_t *inputs;
    size_t n_inputs;
    inferd_model_io_t *outputs;
    size_t n_outputs;

    inferd_version_policy_kind_t version_policy;
    uint32_t latest_num_versions; /* LATEST: default 1 */
    int64_t *specific_versions;   /* SPECIFIC */
    size_t n_specific_versions;

    inferd_instance_group_t *instance_groups;
    size_t n_instance_groups;

    bool has_dynamic_batching;
    inferd_dynamic_batching_t dynamic_batching;

    inferd_model_param_t *parameters;
    size_t n_parameters;
} inferd_model_config_t;

/* Sets every field to its default (no name, max_batch_size 0, policy latest 1, ...). */
void inferd_model_config_init(inferd_model_config_t *cfg);

/* Frees everything cfg owns and re-initializes it. Safe on an initialized config. */
void inferd_model_config_deinit(inferd_model_config_t *cfg);

/* Parses config.pbtxt text into cfg (which must be initialized). `source` names the file
 * in messages. Unknown fields, wrong value types and syntax errors fail with INVALID_ARG
 * and a message "source:line:col: reason". On failure cfg is left deinitialized. */
inferd_status_t inferd_model_config_parse(const char *text, size_t len, const char *source,
                                          inferd_model_config_t *cfg, inferd_err_t *err);

/* Completes cfg from the model file's declared inputs and outputs, as Triton's
 * onnxruntime backend does (see docs/model-repository.md): fills platform/backend/
 * default_model_filename, the inputs and outputs when the config lists none, max_batch_size
 * (default_max_batch_size when batching is possible and the config did not set it),
 * an empty dynamic_batching when max_batch_size > 1 and none is set, and one CPU
 * instance group when none is given. Then validates cfg against the model: every config
 * input/output exists in the model with the same dtype and compatible dims. */
inferd_status_t inferd_model_config_complete(inferd_model_config_t *cfg, const char *model_name,
                                             const inferd_backend_io_t *inputs, size_t n_inputs,
                                             const inferd_backend_io_t *outputs, size_t n_outputs,
                                             int32_t default_max_batch_size, inferd_err_t *err);

/* Appends the JSON form of cfg (Triton's ModelConfig JSON: snake_case names, enums as
 * names, int64 fields as JSON numbers) to out. */
void inferd_model_config_to_json(const inferd_model_config_t *cfg, inferd_buf_t *out);

/* Writes the config.pbtxt text of a config given in Triton's JSON form (the form
 * inferd_model_config_to_json writes and the load API's "config" parameter carries):
 * objects become messages, the "parameters" map becomes key/value entries, enum names and
 * integers written as strings become bare words. The text is then parsed like any
 * config.pbtxt. INVALID_ARG for JSON that is not an object of such values. */
inferd_status_t inferd_model_config_json_to_text(const char *json, size_t len, inferd_buf_t *out,
                                                 inferd_err_t *err);

/* Total instance count over all groups (at least 1). */
int32_t inferd_model_config_instance_count(const inferd_model_config_t *cfg);

#endif
