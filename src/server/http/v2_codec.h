/* The KServe v2 inference request and response in JSON: parsing a request body into
 * plain structs, turning JSON tensor data into tensors for every v2 datatype, and writing
 * tensors back as JSON. Also the binary tensor data extension (the framing of blobs after
 * the JSON header, blobs as tensor views of the body) and the classification extension
 * (top-k of an output as "value:index[:label]" strings). No HTTP here: the router calls
 * these on the I/O thread, and nothing JSON-shaped crosses into the scheduler.
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
    const char *name; /* NUL-terminated, inside the document */
    inferd_dtype_t datatype;
    int ndim;
    int64_t shape[INFERD_MAX_DIMS];
    const inferd_json_t *data;       /* NULL when the tensor comes as binary data or shm */
    const inferd_json_t *parameters; /* NULL if absent */
    bool has_binary_data_size;
    uint64_t binary_data_size; /* parameters.binary_data_size */
    uint64_t binary_offset;    /* set by inferd_v2_layout_binary */
    const char *shm_region;    /* parameters.shared_memory_region, or NULL */
    uint64_t shm_offset;
    uint64_t shm_byte_size;
} inferd_v2_input_t;

/* One entry of "outputs". */
typedef struct inferd_v2_output {
    const char *name;
    const inferd_json_t *parameters;
    bool has_binary_data; /* parameters.binary_data given */
    bool binary_data;
    uint32_t classification; /* parameters.classification; 0 = not asked */
    const char *shm_region;
    uint64_t shm_offset;
    uint64_t shm_byte_size;
} inferd_v2_output_t;

typedef struct inferd_v2_request {
    const char *id; /* NULL when absent */
    size_t id_len;
    const inferd_json_t *parameters; /* the request-level object, NULL if absent */
    bool binary_data_output;         /* parameters.binary_data_output */
    bool has_timeout;
    uint64_t timeout_us; /* parameters.timeout */
    inferd_v2_input_t *inputs;
    size_t n_inputs;
    inferd_v2_output_t *outputs;
    size_t n_outputs;
    bool has_outputs; /* "outputs" was present */
} inferd_v2_request_t;

typedef struct inferd_v2_limits {
    size_t max_inputs;     /* entries in "inputs" and "outputs" */
    uint64_t max_elements; /* per tensor */
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

/* ------------------------------------------------------------------------------------ */
/* Binary tensor data extension                                                         */

/* Parses the value of an Inference-Header-Content-Length header: a decimal integer in
 * 0..body_len. Fails with INVALID_ARG ("... is not an integer", "... is negative", "... is
 * greater than the request body ...") otherwise. */
inferd_status_t inferd_v2_parse_header_length(const char *value, size_t body_len, size_t *out,
                                              inferd_err_t *err);

/* Assigns each binary input (one with binary_data_size) its blob: blobs follow each other
 * in the order of "inputs", starting at offset 0 of a binary section of binary_len bytes.
 * Fails with INVALID_ARG, naming the input, when a blob runs past the end of the section,
 * and when bytes are left after the last blob. */
inferd_status_t inferd_v2_layout_binary(inferd_v2_request_t *req, size_t binary_len,
                                        inferd_err_t *err);

/* Builds the tensor of a binary or shared-memory input from size bytes at offset in body (a
 * tensor whose data is the binary section or the region; any dtype). The blob must hold exactly the
 * shape's elements: element count x element size bytes, or for BYTES that many length-prefixed
 * elements and nothing else; otherwise INVALID_ARG naming the input. The result is a view of body
 * (it keeps body alive) unless the blob is not aligned for the element type, in which case it is a
 * copy and *copied is set to its size (0 otherwise). */
inferd_status_t inferd_v2_binary_to_tensor(const char *input_name, inferd_dtype_t dtype,
                                           const int64_t *shape, int ndim, uint64_t max_elements,
                                           inferd_tensor_t *body, size_t offset, size_t size,
                                           inferd_tensor_t **out, size_t *copied,
                                           inferd_err_t *err);

/* ------------------------------------------------------------------------------------ */
/* Classification extension                                                             */

/* Largest output (in elements) that classification is run on, as in Triton. */
#define INFERD_V2_CLASSIFICATION_MAX_ELEMENTS 1000000u

/* True for the datatypes Triton classifies: the integer types, FP32 and FP64. */
bool inferd_v2_classification_supported(inferd_dtype_t dt);

/* Top-k classification of output t (named output_name in messages). With batch > 0 the
 * first dimension is the batch and each of the batch items is classified on its own
 * (result shape [batch, k]); with batch <= 0 the whole tensor is one item (shape [k]).
 * k = min(requested, elements per item). Elements are ordered by value, descending (ties:
 * lower index first; NaN last), and written as "<value>:<index>" or
 * "<value>:<index>:<label>", with the value as C++ std::to_string prints it (floats as %f,
 * integers in decimal) and labels[index] when index < n_labels and the label is not empty.
 * The result is a new BYTES tensor (INFERD_OWNER_REQUEST). INVALID_ARG for an unsupported
 * datatype or an output over INFERD_V2_CLASSIFICATION_MAX_ELEMENTS. */
inferd_status_t inferd_v2_classify(const char *output_name, const inferd_tensor_t *t, int64_t batch,
                                   uint32_t k, const char *const *labels, size_t n_labels,
                                   inferd_tensor_t **out, inferd_err_t *err);

#endif
