/* A JSON parser for request bodies, built for the v2 protocol's needs:
 *  - numbers keep their text, so INT64/UINT64 values beyond 2^53 convert exactly and each
 *    tensor datatype converts from the lexeme itself;
 *  - the bare tokens NaN, Infinity and -Infinity are numbers (Triton reads and writes them);
 *  - depth, node count and string sizes are bounded, and a violation is a clear error;
 *  - every node lives in one arena owned by the document, freed in one go.
 * Strings are unescaped (\uXXXX and surrogate pairs to UTF-8) and NUL-terminated; they may
 * contain NUL bytes, so use the length. Invalid UTF-8 in strings is rejected. */
#ifndef INFERD_CORE_JSON_H
#define INFERD_CORE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inferd/status.h"

typedef enum {
    INFERD_JSON_NULL = 0,
    INFERD_JSON_BOOL,
    INFERD_JSON_NUMBER,
    INFERD_JSON_STRING,
    INFERD_JSON_ARRAY,
    INFERD_JSON_OBJECT,
} inferd_json_type_t;

typedef struct inferd_json inferd_json_t;

typedef struct inferd_json_member {
    const char *key; /* unescaped, NUL-terminated */
    size_t key_len;
    inferd_json_t *value;
} inferd_json_member_t;

struct inferd_json {
    inferd_json_type_t type;
    /* NUMBER nodes made by the parser: the value's float bits when a fast path proved them
     * while scanning the lexeme (tensor data is mostly FP32), else 0, so inferd_json_to_float
     * need not read the lexeme again. 0 (as in a node built by hand) means "not known". */
    uint32_t float_bits;
    union {
        bool boolean;
        struct {
            const char
                *text; /* the lexeme, e.g. "-1.5e3", "NaN", "-Infinity" (not NUL-terminated) */
            size_t len;
        } number;
        struct {
            const char *ptr; /* NUL-terminated */
            size_t len;
        } string;
        struct {
            inferd_json_t **items;
            size_t count;
        } array;
        struct {
            inferd_json_member_t *members; /* in document order; duplicate keys are rejected */
            size_t count;
        } object;
    } u;
};

typedef struct inferd_json_limits {
    size_t max_depth; /* nesting of arrays/objects; the root container is depth 1 */
    size_t max_nodes; /* total values in the document */
} inferd_json_limits_t;

/* Defaults: depth 100, nodes 64 Mi. */
extern const inferd_json_limits_t inferd_json_default_limits;

typedef struct inferd_json_doc inferd_json_doc_t;

/* Parses exactly len bytes (trailing whitespace allowed, anything else is an error).
 * lim may be NULL for the defaults. Errors are INVALID_ARG ("invalid JSON at offset N:
 * reason", also for the depth limit) or TOO_LARGE (the node limit). On success *out owns
 * the tree. */
inferd_status_t inferd_json_parse(const char *text, size_t len, const inferd_json_limits_t *lim,
                                  inferd_json_doc_t **out, inferd_err_t *err);

inferd_json_t *inferd_json_root(const inferd_json_doc_t *doc);
void inferd_json_doc_destroy(inferd_json_doc_t *doc);

/* Allocates n zeroed bytes that live as long as doc (for data derived from the tree).
 * Returns NULL when out of memory. */
void *inferd_json_doc_alloc(inferd_json_doc_t *doc, size_t n);

/* Member lookup; NULL when obj is not an object or the key is absent. */
inferd_json_t *inferd_json_get(const inferd_json_t *obj, const char *key);

/* Exact numeric conversions of a NUMBER node. Each returns false when the node is not a
 * number or its value does not fit the target exactly (fractions, exponents that leave
 * a fraction, out of range). "1e3" converts to 1000; "1.0" converts to 1. */
bool inferd_json_to_int64(const inferd_json_t *n, int64_t *out);
bool inferd_json_to_uint64(const inferd_json_t *n, uint64_t *out);

/* Converts a NUMBER node (including NaN/Infinity/-Infinity) to double, correctly rounded.
 * False when the node is not a number. */
bool inferd_json_to_double(const inferd_json_t *n, double *out);

/* Appends the shortest decimal text that reads back as exactly v (as float or double),
 * with NaN, Infinity and -Infinity as bare tokens; negative zero is "-0.0", since many JSON
 * readers turn "-0" into the integer 0. */
struct inferd_buf;
void inferd_json_write_float(struct inferd_buf *out, float v);
void inferd_json_write_double(struct inferd_buf *out, double v);

/* Added with the implementation: converts a NUMBER node (including NaN/Infinity/-Infinity)
 * to float, correctly rounded from the decimal text itself (going through double would round
 * twice). False when the node is not a number. Values beyond the float range become
 * +-Infinity, as strtof does. */
bool inferd_json_to_float(const inferd_json_t *n, float *out);

/* inferd_json_to_float / inferd_json_to_double over n nodes into dst (n packed floats or
 * doubles, any alignment), bit-identical to them, in one call per array (the tensor-data path).
 * Returns how many converted: n, or the index of the first node that is not a number. */
size_t inferd_json_numbers_to_float(inferd_json_t *const *items, size_t n, void *dst);
size_t inferd_json_numbers_to_double(inferd_json_t *const *items, size_t n, void *dst);

#endif
