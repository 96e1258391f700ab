/* The KServe v2 inference request and response in JSON: parsing a request body into
 * plain structs, turning JSON tensor data into tensors for every v2 datatype, and writing
 * tensors back as JSON. No HTTP here: the router calls these on the I/O thread, and
 * nothing JSON-shaped crosses into the scheduler.
 *
 * Everything a parsed request points to lives in its JSON document. */
#ifndef INFERD_SERVER_HTTP_V2_CODEC_H
#define INFERD_SERVER_HTTP_V2_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "core/json.h"
#include "inferd/status.h"
#include "inferd/tensor.h"

/* One entry of "inputs". */
typedef struct inferd_v2_input {
    const char *name;                   /* NUL-terminated, inside the document */
    inferd_dtype_t datatype;
    int ndim;
    int64_t shape[INFERD_MAX_DIMS];
    const inferd_json_t *data;          /* NULL when the tensor comes as binary data or shm */
    const inferd_json_t *parameters;    /* NULL if absent */
    bool has_binary_data_size;
    uint64_t binary_data_size;          /* parameters.binary_data_size */
    const char *shm_region;             /* parameters.shared_memory_region, or NULL */
    uint64_t shm_offset;
    uint64_t shm_byte_size;
} inferd_v2_input_t;

/* One entry of "outputs". */
typedef struct inferd_v2_output {
    const char *name;
    const inferd_json_t *parameters;
    bool has_binary_data;               /* parameters.binary_data given */
    bool binary_data;
    uint32_t classification;            /* parameters.classification; 0 = not asked */
    const char *shm_region;
    uint64_t shm_offset;
    uint64_t shm_byte_size;
} inferd_v2_output_t;

typedef struct inferd_v2_request {
    const char *id;                     /* NULL when absent */
    size_t id_len;
    const inferd_json_t *parameters;    /* the request-level object, NULL if absent */
    bool binary_data_output;            /* parameters.binary_data_output */
    bool has_timeout;
    uint64_t timeout_us;                /* parameters.timeout */
    inferd_v2_input_t *inputs;
    size_t n_inputs;
    inferd_v2_output_t *outputs;
    size_t n_outputs;
    bool has_outputs;                   /* "outputs" was present */
} inferd_v2_request_t;

typedef struct inferd_v2_limits {
    size_t max_inputs;                  /* entries in "inputs" and "outputs" */
    uint64_t max_elements;              /* per tensor */
} inferd_v2_limits_t;

/* Validates the structure of an infer request body (types of every field, datatype
 * names, shapes of non-negative integers with rank <= INFERD_MAX_DIMS, duplicate names,
 * exactly one of data / binary_data_size / shared_memory_region per input, request-level
 * reserved parameters). Fills *req with pointers into doc. Messages name the input or
 * field ("input 'x': shape must be an array of non-negative integers"). */
inferd_status_t inferd_v2_parse_request(inferd_json_doc_t *doc, const inferd_v2_limits_t *lim,
                                        inferd_v2_request_t *req, inferd_err_t *err);

/* Builds a tensor of dtype/shape from JSON data that is flat or nested (any nesting whose
 * leaves, in order, are the elements). The leaf count must equal the shape's element count
 * (checked against max_elements before allocating). Element rules: BOOL takes true/false;
 * integer types take integers in range (exactly; 2.0 is accepted, 2.5 is not); FP16, BF16,
 * FP32 and FP64 take any number, including NaN/Infinity/-Infinity; BYTES takes strings.
 * Errors name the input: "input 'x': expected 6 elements for shape [2,3], got 5".
 * The tensor is charged to INFERD_OWNER_REQUEST. */
inferd_status_t inferd_v2_json_to_tensor(const char *input_name, const inferd_json_t *data,
                                         inferd_dtype_t dtype, const int64_t *shape, int ndim,
                                         uint64_t max_elements, inferd_tensor_t **out,
                                         inferd_err_t *err);

/* Appends the tensor's elements as a flat JSON array (FP16/BF16 as numbers, BYTES as
 * strings; BYTES elements that are not valid UTF-8 are written with \u escapes of their
 * bytes). Floats use the shortest text that round-trips. */
void inferd_v2_tensor_to_json(const inferd_tensor_t *t, inferd_buf_t *out);

#endif
