/* KServe v2 JSON codec (see v2_codec.h): request validation, JSON tensor data to tensors and
 * tensors to JSON.
 *
 * Validation is strict and every message names the input, output or parameter at fault,
 * because a 400 that says only "bad request" costs the client an afternoon. JSON tensor data
 * is converted in two passes over the tree: the first counts leaves (and, for BYTES, sizes
 * them) so the element count is checked against the shape and the limit before anything is
 * allocated; the second writes elements straight into the tensor buffer. Neither pass
 * allocates per element. */
#include "server/http/v2_codec.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

/* Used when the caller passes no limits. */
static const inferd_v2_limits_t default_limits = {
    .max_inputs = 1024,
    .max_elements = (uint64_t)1 << 32,
};

/* ------------------------------------------------------------------------------------ */
/* Helpers                                                                              */

static const char *type_desc(const inferd_json_t *v)
{
    if (!v)
        return "nothing";
    switch (v->type) {
    case INFERD_JSON_NULL: return "null";
    case INFERD_JSON_BOOL: return v->u.boolean ? "true" : "false";
    case INFERD_JSON_NUMBER: return "a number";
    case INFERD_JSON_STRING: return "a string";
    case INFERD_JSON_ARRAY: return "an array";
    case INFERD_JSON_OBJECT: return "an object";
    }
    return "an unknown value";
}

static bool is_scalar_param(const inferd_json_t *v)
{
    return v->type == INFERD_JSON_STRING || v->type == INFERD_JSON_NUMBER ||
           v->type == INFERD_JSON_BOOL;
}

static bool has_prefix(const char *s, size_t len, const char *prefix)
{
    size_t n = strlen(prefix);
    return len >= n && memcmp(s, prefix, n) == 0;
}

static bool key_is(const inferd_json_member_t *m, const char *key)
{
    size_t n = strlen(key);
    return m->key_len == n && memcmp(m->key, key, n) == 0;
}

/* A key or name shortened for messages. */
#define SHOWN_LEN(len) ((int)((len) > 64 ? 64 : (len)))

static bool to_nonneg(const inferd_json_t *v, uint64_t *out)
{
    return v && inferd_json_to_uint64(v, out);
}

/* ------------------------------------------------------------------------------------ */
/* Request parsing                                                                      */

/* Request-level "parameters": scalar values, a few reserved keys with fixed types, unknown
 * "triton_" keys refused (Triton does the same), everything else passed through. */
static inferd_status_t parse_request_params(const inferd_json_t *params, inferd_v2_request_t *req,
                                            inferd_err_t *err)
{
    if (params->type != INFERD_JSON_OBJECT)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "'parameters' must be an object, got %s",
                              type_desc(params));
    req->parameters = params;
    for (size_t i = 0; i < params->u.object.count; i++) {
        const inferd_json_member_t *m = &params->u.object.members[i];
        const inferd_json_t *v = m->value;
        int kl = SHOWN_LEN(m->key_len);
        uint64_t u;
        if (!is_scalar_param(v))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "parameter '%.*s' must be a string, number or boolean, got %s",
                                  kl, m->key, type_desc(v));
        if (key_is(m, "binary_data_output")) {
            if (v->type != INFERD_JSON_BOOL)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "parameter 'binary_data_output' must be a boolean, got %s",
                                      type_desc(v));
            req->binary_data_output = v->u.boolean;
        } else if (key_is(m, "timeout")) {
            if (!to_nonneg(v, &u))
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "parameter 'timeout' must be a non-negative integer "
                                      "(microseconds)");
            req->has_timeout = true;
            req->timeout_us = u;
        } else if (key_is(m, "priority")) {
            if (!to_nonneg(v, &u))
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "parameter 'priority' must be a non-negative integer");
        } else if (key_is(m, "sequence_id")) {
            if (v->type != INFERD_JSON_STRING && !to_nonneg(v, &u))
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "parameter 'sequence_id' must be a non-negative integer "
                                      "or a string");
        } else if (key_is(m, "sequence_start") || key_is(m, "sequence_end")) {
            if (v->type != INFERD_JSON_BOOL)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "parameter '%.*s' must be a boolean, got %s", kl, m->key,
                                      type_desc(v));
        } else if (has_prefix(m->key, m->key_len, "triton_")) {
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "parameter '%.*s' is not a known reserved parameter (names "
                                  "starting with 'triton_' are reserved)",
                                  kl, m->key);
        }
    }
    return INFERD_OK;
}

/* Shared-memory parameters common to inputs and outputs. */
typedef struct {
    const char *region;
    bool has_offset, has_byte_size;
    uint64_t offset, byte_size;
} shm_params_t;

/* Checks one parameter of an input or output that may be a shared-memory field; returns
 * true in *handled when the key was one of them. */
static inferd_status_t parse_shm_param(const inferd_json_member_t *m, shm_params_t *shm,
                                       bool *handled, inferd_err_t *err)
{
    const inferd_json_t *v = m->value;
    *handled = true;
    if (key_is(m, "shared_memory_region")) {
        if (v->type != INFERD_JSON_STRING)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "parameter 'shared_memory_region' must be a string, got %s",
                                  type_desc(v));
        shm->region = v->u.string.ptr;
    } else if (key_is(m, "shared_memory_offset")) {
        if (!to_nonneg(v, &shm->offset))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "parameter 'shared_memory_offset' must be a non-negative "
                                  "integer");
        shm->has_offset = true;
    } else if (key_is(m, "shared_memory_byte_size")) {
        if (!to_nonneg(v, &shm->byte_size))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "parameter 'shared_memory_byte_size' must be a non-negative "
                                  "integer");
        shm->has_byte_size = true;
    } else {
        *handled = false;
    }
    return INFERD_OK;
}

/* Reads the "name" member of inputs[i] / outputs[i]. */
static inferd_status_t parse_entry_name(const inferd_json_t *e, const char *list, size_t i,
                                        const char **name, inferd_err_t *err)
{
    if (e->type != INFERD_JSON_OBJECT)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "'%s'[%zu] must be an object, got %s",
                              list, i, type_desc(e));
    const inferd_json_t *n = inferd_json_get(e, "name");
    if (!n || n->type != INFERD_JSON_STRING)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "'%s'[%zu]: 'name' must be a string%s%s",
                              list, i, n ? ", got " : " (missing)", n ? type_desc(n) : "");
    if (memchr(n->u.string.ptr, '\0', n->u.string.len))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "'%s'[%zu]: 'name' must not contain a NUL character", list, i);
    *name = n->u.string.ptr;
    return INFERD_OK;
}

static void format_shape(const int64_t *shape, int ndim, char *buf, size_t cap)
{
    size_t n = 0;
    buf[n++] = '[';
    for (int i = 0; i < ndim && n < cap - 24; i++)
        n += (size_t)snprintf(buf + n, cap - n, "%s%" PRId64, i ? "," : "", shape[i]);
    buf[n++] = ']';
    buf[n] = '\0';
}

static inferd_status_t parse_input_fields(const inferd_json_t *e, inferd_v2_input_t *in,
                                          const inferd_v2_limits_t *lim, inferd_err_t *err)
{
    const inferd_json_t *dt = inferd_json_get(e, "datatype");
    if (!dt || dt->type != INFERD_JSON_STRING)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "'datatype' must be a string%s%s",
                              dt ? ", got " : " (missing)", dt ? type_desc(dt) : "");
    in->datatype = inferd_dtype_from_name(dt->u.string.ptr, dt->u.string.len);
    if (in->datatype == INFERD_DTYPE_INVALID)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "unknown datatype '%.*s' (expected BOOL, UINT8..UINT64, "
                              "INT8..INT64, FP16, FP32, FP64, BF16 or BYTES)",
                              SHOWN_LEN(dt->u.string.len), dt->u.string.ptr);

    const inferd_json_t *sh = inferd_json_get(e, "shape");
    if (!sh || sh->type != INFERD_JSON_ARRAY)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "'shape' must be an array of non-negative integers%s%s",
                              sh ? ", got " : " (missing)", sh ? type_desc(sh) : "");
    if (sh->u.array.count > INFERD_MAX_DIMS)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "'shape' has %zu dimensions, more than the maximum of %d",
                              sh->u.array.count, INFERD_MAX_DIMS);
    in->ndim = (int)sh->u.array.count;
    for (int d = 0; d < in->ndim; d++) {
        int64_t v;
        if (!inferd_json_to_int64(sh->u.array.items[d], &v) || v < 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "'shape' must be an array of non-negative integers "
                                  "(dimension %d is not)",
                                  d);
        in->shape[d] = v;
    }
    /* Checked here too, so binary and shared-memory inputs meet the limit before their
     * sizes are trusted. */
    uint64_t numel;
    if (inferd_shape_numel(in->shape, in->ndim, lim->max_elements, &numel, NULL) != INFERD_OK) {
        char sbuf[256];
        format_shape(in->shape, in->ndim, sbuf, sizeof(sbuf));
        return inferd_err_set(err, INFERD_E_TOO_LARGE,
                              "shape %s has more than %" PRIu64 " elements (the limit)", sbuf,
                              lim->max_elements);
    }

    shm_params_t shm = {0};
    const inferd_json_t *params = inferd_json_get(e, "parameters");
    if (params) {
        if (params->type != INFERD_JSON_OBJECT)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "'parameters' must be an object, got %s", type_desc(params));
        in->parameters = params;
        for (size_t i = 0; i < params->u.object.count; i++) {
            const inferd_json_member_t *m = &params->u.object.members[i];
            if (!is_scalar_param(m->value))
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "parameter '%.*s' must be a string, number or boolean, "
                                      "got %s",
                                      SHOWN_LEN(m->key_len), m->key, type_desc(m->value));
            bool handled;
            inferd_status_t st = parse_shm_param(m, &shm, &handled, err);
            if (st != INFERD_OK)
                return st;
            if (!handled && key_is(m, "binary_data_size")) {
                if (!to_nonneg(m->value, &in->binary_data_size))
                    return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                          "parameter 'binary_data_size' must be a non-negative "
                                          "integer");
                in->has_binary_data_size = true;
            }
        }
    }
    in->shm_region = shm.region;
    in->shm_offset = shm.offset;
    in->shm_byte_size = shm.byte_size;

    in->data = inferd_json_get(e, "data");
    int sources = (in->data != NULL) + in->has_binary_data_size + (shm.region != NULL);
    if (sources != 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "must set exactly one of 'data', parameters.binary_data_size and "
                              "parameters.shared_memory_region (%d given)",
                              sources);
    if (shm.region && !shm.has_byte_size)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "parameter 'shared_memory_byte_size' is required with "
                              "'shared_memory_region'");
    if (in->data && (in->data->type == INFERD_JSON_NULL || in->data->type == INFERD_JSON_OBJECT))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "'data' must be an array, got %s",
                              type_desc(in->data));
    return INFERD_OK;
}

static inferd_status_t parse_inputs(const inferd_json_t *inputs, const inferd_v2_limits_t *lim,
                                    inferd_json_doc_t *doc, inferd_v2_request_t *req,
                                    inferd_err_t *err)
{
    if (!inputs)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "'inputs' is required");
    if (inputs->type != INFERD_JSON_ARRAY)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "'inputs' must be an array, got %s",
                              type_desc(inputs));
    size_t n = inputs->u.array.count;
    if (n == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "'inputs' must not be empty");
    if (n > lim->max_inputs)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "request has %zu inputs, more than the limit of %zu", n,
                              lim->max_inputs);
    req->inputs = inferd_json_doc_alloc(doc, n * sizeof(*req->inputs));
    if (!req->inputs)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");
    for (size_t i = 0; i < n; i++) {
        inferd_v2_input_t *in = &req->inputs[i];
        const inferd_json_t *e = inputs->u.array.items[i];
        inferd_status_t st = parse_entry_name(e, "inputs", i, &in->name, err);
        if (st != INFERD_OK)
            return st;
        for (size_t j = 0; j < i; j++)
            if (strcmp(req->inputs[j].name, in->name) == 0)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "input '%s' appears more than once in 'inputs'", in->name);
        if ((st = parse_input_fields(e, in, lim, err)) != INFERD_OK) {
            inferd_err_prefix(err, "input '%s'", in->name);
            return st;
        }
    }
    req->n_inputs = n;
    return INFERD_OK;
}

static inferd_status_t parse_output_params(const inferd_json_t *params, inferd_v2_output_t *o,
                                           inferd_err_t *err)
{
    if (params->type != INFERD_JSON_OBJECT)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "'parameters' must be an object, got %s",
                              type_desc(params));
    o->parameters = params;
    shm_params_t shm = {0};
    bool has_class = false;
    for (size_t i = 0; i < params->u.object.count; i++) {
        const inferd_json_member_t *m = &params->u.object.members[i];
        const inferd_json_t *v = m->value;
        if (!is_scalar_param(v))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "parameter '%.*s' must be a string, number or boolean, got %s",
                                  SHOWN_LEN(m->key_len), m->key, type_desc(v));
        bool handled;
        inferd_status_t st = parse_shm_param(m, &shm, &handled, err);
        if (st != INFERD_OK)
            return st;
        if (handled)
            continue;
        if (key_is(m, "binary_data")) {
            if (v->type != INFERD_JSON_BOOL)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "parameter 'binary_data' must be a boolean, got %s",
                                      type_desc(v));
            o->has_binary_data = true;
            o->binary_data = v->u.boolean;
        } else if (key_is(m, "classification")) {
            uint64_t k;
            if (!to_nonneg(v, &k) || k > UINT32_MAX)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "parameter 'classification' must be a non-negative "
                                      "integer");
            o->classification = (uint32_t)k;
            has_class = k > 0;
        }
    }
    o->shm_region = shm.region;
    o->shm_offset = shm.offset;
    o->shm_byte_size = shm.byte_size;
    if (shm.region) {
        if (!shm.has_byte_size)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "parameter 'shared_memory_byte_size' is required with "
                                  "'shared_memory_region'");
        if (o->has_binary_data && o->binary_data)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "'shared_memory_region' cannot be combined with "
                                  "'binary_data': true");
        if (has_class)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "'shared_memory_region' cannot be combined with "
                                  "'classification'");
    }
    return INFERD_OK;
}

static inferd_status_t parse_outputs(const inferd_json_t *outputs, const inferd_v2_limits_t *lim,
                                     inferd_json_doc_t *doc, inferd_v2_request_t *req,
                                     inferd_err_t *err)
{
    if (outputs->type != INFERD_JSON_ARRAY)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "'outputs' must be an array, got %s",
                              type_desc(outputs));
    size_t n = outputs->u.array.count;
    if (n > lim->max_inputs)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "request has %zu outputs, more than the limit of %zu", n,
                              lim->max_inputs);
    req->has_outputs = true;
    if (n) {
        req->outputs = inferd_json_doc_alloc(doc, n * sizeof(*req->outputs));
        if (!req->outputs)
            return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        inferd_v2_output_t *o = &req->outputs[i];
        const inferd_json_t *e = outputs->u.array.items[i];
        inferd_status_t st = parse_entry_name(e, "outputs", i, &o->name, err);
        if (st != INFERD_OK)
            return st;
        for (size_t j = 0; j < i; j++)
            if (strcmp(req->outputs[j].name, o->name) == 0)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "output '%s' appears more than once in 'outputs'", o->name);
        const inferd_json_t *params = inferd_json_get(e, "parameters");
        if (params && (st = parse_output_params(params, o, err)) != INFERD_OK) {
            inferd_err_prefix(err, "output '%s'", o->name);
            return st;
        }
    }
    req->n_outputs = n;
    return INFERD_OK;
}

inferd_status_t inferd_v2_parse_request(inferd_json_doc_t *doc, const inferd_v2_limits_t *lim,
                                        inferd_v2_request_t *req, inferd_err_t *err)
{
    memset(req, 0, sizeof(*req));
    if (!lim)
        lim = &default_limits;
    const inferd_json_t *root = inferd_json_root(doc);
    if (!root || root->type != INFERD_JSON_OBJECT)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "the request body must be a JSON object, got %s", type_desc(root));
    const inferd_json_t *id = inferd_json_get(root, "id");
    if (id) {
        if (id->type != INFERD_JSON_STRING)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "'id' must be a string, got %s",
                                  type_desc(id));
        req->id = id->u.string.ptr;
        req->id_len = id->u.string.len;
    }
    inferd_status_t st;
    const inferd_json_t *params = inferd_json_get(root, "parameters");
    if (params && (st = parse_request_params(params, req, err)) != INFERD_OK)
        return st;
    if ((st = parse_inputs(inferd_json_get(root, "inputs"), lim, doc, req, err)) != INFERD_OK)
        return st;
    const inferd_json_t *outputs = inferd_json_get(root, "outputs");
    if (outputs && (st = parse_outputs(outputs, lim, doc, req, err)) != INFERD_OK)
        return st;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* JSON data -> tensor                                                                  */

/* Tensor data nests at most once per dimension; anything far deeper is refused before the
 * recursive walks below, so their stack use stays small whatever JSON depth is allowed. */
#define MAX_DATA_NESTING 64

/* Leaves of a (possibly nested) data value; a non-array is one leaf. Returns UINT64_MAX
 * when the nesting exceeds MAX_DATA_NESTING. */
static uint64_t count_leaves(const inferd_json_t *v, int depth)
{
    if (v->type != INFERD_JSON_ARRAY)
        return 1;
    if (depth >= MAX_DATA_NESTING)
        return UINT64_MAX;
    uint64_t n = 0;
    inferd_json_t *const *it = v->u.array.items;
    for (size_t i = 0; i < v->u.array.count; i++) {
        if (it[i]->type != INFERD_JSON_ARRAY) {
            n++;
            continue;
        }
        uint64_t c = count_leaves(it[i], depth + 1);
        if (c == UINT64_MAX)
            return UINT64_MAX;
        n += c;
    }
    return n;
}

typedef struct {
    const char *name;
    inferd_dtype_t dtype;
    unsigned char *dst; /* next byte to write */
    uint64_t idx;       /* index of the next element */
    inferd_err_t *err;
} fill_t;

static inferd_status_t element_error(fill_t *f, const char *expected, const inferd_json_t *v)
{
    if (v->type == INFERD_JSON_NUMBER) {
        size_t len = v->u.number.len;
        return inferd_err_set(f->err, INFERD_E_INVALID_ARG,
                              "input '%s': element %" PRIu64 ": expected %s, got %.*s%s", f->name,
                              f->idx, expected, (int)(len > 40 ? 40 : len), v->u.number.text,
                              len > 40 ? "..." : "");
    }
    return inferd_err_set(f->err, INFERD_E_INVALID_ARG,
                          "input '%s': element %" PRIu64 ": expected %s, got %s", f->name, f->idx,
                          expected, type_desc(v));
}

static inline bool get_int(const inferd_json_t *v, int64_t lo, int64_t hi, int64_t *out)
{
    return v->type == INFERD_JSON_NUMBER && inferd_json_to_int64(v, out) && *out >= lo &&
           *out <= hi;
}

static inline bool get_uint(const inferd_json_t *v, uint64_t hi, uint64_t *out)
{
    return v->type == INFERD_JSON_NUMBER && inferd_json_to_uint64(v, out) && *out <= hi;
}

/* Stores one leaf at f->dst and advances. */
static inline inferd_status_t fill_leaf(fill_t *f, const inferd_json_t *v)
{
    int64_t s;
    uint64_t u;
    float x;
    double d;
    switch (f->dtype) {
    case INFERD_DTYPE_BOOL:
        if (v->type != INFERD_JSON_BOOL)
            return element_error(f, "true or false", v);
        *f->dst = v->u.boolean;
        break;
    case INFERD_DTYPE_UINT8:
        if (!get_uint(v, UINT8_MAX, &u))
            return element_error(f, "an integer in [0, 255]", v);
        *f->dst = (uint8_t)u;
        break;
    case INFERD_DTYPE_UINT16: {
        if (!get_uint(v, UINT16_MAX, &u))
            return element_error(f, "an integer in [0, 65535]", v);
        uint16_t t = (uint16_t)u;
        memcpy(f->dst, &t, sizeof(t));
        break;
    }
    case INFERD_DTYPE_UINT32: {
        if (!get_uint(v, UINT32_MAX, &u))
            return element_error(f, "an integer in [0, 4294967295]", v);
        uint32_t t = (uint32_t)u;
        memcpy(f->dst, &t, sizeof(t));
        break;
    }
    case INFERD_DTYPE_UINT64:
        if (!get_uint(v, UINT64_MAX, &u))
            return element_error(f, "an integer in [0, 18446744073709551615]", v);
        memcpy(f->dst, &u, sizeof(u));
        break;
    case INFERD_DTYPE_INT8: {
        if (!get_int(v, INT8_MIN, INT8_MAX, &s))
            return element_error(f, "an integer in [-128, 127]", v);
        int8_t t = (int8_t)s;
        memcpy(f->dst, &t, sizeof(t));
        break;
    }
    case INFERD_DTYPE_INT16: {
        if (!get_int(v, INT16_MIN, INT16_MAX, &s))
            return element_error(f, "an integer in [-32768, 32767]", v);
        int16_t t = (int16_t)s;
        memcpy(f->dst, &t, sizeof(t));
        break;
    }
    case INFERD_DTYPE_INT32: {
        if (!get_int(v, INT32_MIN, INT32_MAX, &s))
            return element_error(f, "an integer in [-2147483648, 2147483647]", v);
        int32_t t = (int32_t)s;
        memcpy(f->dst, &t, sizeof(t));
        break;
    }
    case INFERD_DTYPE_INT64:
        if (!get_int(v, INT64_MIN, INT64_MAX, &s))
            return element_error(f, "an integer in [-9223372036854775808, 9223372036854775807]", v);
        memcpy(f->dst, &s, sizeof(s));
        break;
    case INFERD_DTYPE_FP16:
    case INFERD_DTYPE_BF16: {
        if (!inferd_json_to_float(v, &x))
            return element_error(f, "a number", v);
        uint16_t h =
            f->dtype == INFERD_DTYPE_FP16 ? inferd_fp32_to_fp16(x) : inferd_fp32_to_bf16(x);
        memcpy(f->dst, &h, sizeof(h));
        break;
    }
    case INFERD_DTYPE_FP32:
        if (!inferd_json_to_float(v, &x))
            return element_error(f, "a number", v);
        memcpy(f->dst, &x, sizeof(x));
        break;
    case INFERD_DTYPE_FP64:
        if (!inferd_json_to_double(v, &d))
            return element_error(f, "a number", v);
        memcpy(f->dst, &d, sizeof(d));
        break;
    case INFERD_DTYPE_BYTES: {
        /* Types and sizes were checked by the sizing pass. */
        uint32_t n = (uint32_t)v->u.string.len;
        unsigned char le[4] = {(unsigned char)n, (unsigned char)(n >> 8), (unsigned char)(n >> 16),
                               (unsigned char)(n >> 24)};
        memcpy(f->dst, le, 4);
        memcpy(f->dst + 4, v->u.string.ptr, n);
        f->dst += 4 + (size_t)n;
        f->idx++;
        return INFERD_OK;
    }
    case INFERD_DTYPE_INVALID:
    case INFERD_DTYPE_COUNT_:
        return inferd_err_set(f->err, INFERD_E_INTERNAL, "input '%s': invalid datatype", f->name);
    }
    f->dst += inferd_dtype_size(f->dtype);
    f->idx++;
    return INFERD_OK;
}

/* FP32/FP64 leaves of one array, converted in runs without a per-element switch; stops at a
 * nested array (returned to fill_walk) or a bad element (reported by fill_leaf). Returns how
 * many items it consumed. */
static size_t fill_numbers(fill_t *f, inferd_json_t *const *it, size_t n)
{
    size_t done;
    if (f->dtype == INFERD_DTYPE_FP32) {
        done = inferd_json_numbers_to_float(it, n, f->dst);
        f->dst += done * sizeof(float);
    } else if (f->dtype == INFERD_DTYPE_FP64) {
        done = inferd_json_numbers_to_double(it, n, f->dst);
        f->dst += done * sizeof(double);
    } else {
        return 0;
    }
    f->idx += done;
    return done;
}

static inferd_status_t fill_walk(fill_t *f, const inferd_json_t *v)
{
    if (v->type != INFERD_JSON_ARRAY)
        return fill_leaf(f, v);
    inferd_json_t *const *it = v->u.array.items;
    size_t n = v->u.array.count;
    for (size_t i = fill_numbers(f, it, n); i < n; i++) {
        inferd_status_t st =
            it[i]->type == INFERD_JSON_ARRAY ? fill_walk(f, it[i]) : fill_leaf(f, it[i]);
        if (st != INFERD_OK)
            return st;
    }
    return INFERD_OK;
}

/* BYTES sizing pass: checks that every leaf is a string of at most 2^32-1 bytes and adds up
 * the serialized size. */
static inferd_status_t bytes_size_walk(fill_t *f, const inferd_json_t *v, size_t *total)
{
    if (v->type == INFERD_JSON_ARRAY) {
        for (size_t i = 0; i < v->u.array.count; i++) {
            inferd_status_t st = bytes_size_walk(f, v->u.array.items[i], total);
            if (st != INFERD_OK)
                return st;
        }
        return INFERD_OK;
    }
    if (v->type != INFERD_JSON_STRING)
        return element_error(f, "a string", v);
    size_t len = v->u.string.len;
    if (len > UINT32_MAX)
        return inferd_err_set(f->err, INFERD_E_INVALID_ARG,
                              "input '%s': element %" PRIu64
                              ": a string of %zu bytes is longer than 4294967295",
                              f->name, f->idx, len);
    if (len > SIZE_MAX - 4 - *total)
        return inferd_err_set(f->err, INFERD_E_TOO_LARGE, "input '%s': BYTES data too large",
                              f->name);
    *total += 4 + len;
    f->idx++;
    return INFERD_OK;
}

inferd_status_t inferd_v2_json_to_tensor(const char *input_name, const inferd_json_t *data,
                                         inferd_dtype_t dtype, const int64_t *shape, int ndim,
                                         uint64_t max_elements, inferd_tensor_t **out,
                                         inferd_err_t *err)
{
    *out = NULL;
    if (dtype <= INFERD_DTYPE_INVALID || dtype >= INFERD_DTYPE_COUNT_)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "input '%s': invalid datatype %d",
                              input_name, (int)dtype);
    uint64_t numel;
    if (inferd_shape_numel(shape, ndim, max_elements, &numel, err) != INFERD_OK) {
        inferd_err_prefix(err, "input '%s'", input_name);
        return err ? err->code : INFERD_E_INVALID_ARG;
    }
    if (!data)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "input '%s': no 'data'", input_name);
    uint64_t got = count_leaves(data, 0);
    if (got == UINT64_MAX)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "input '%s': 'data' is nested deeper than %d arrays", input_name,
                              MAX_DATA_NESTING);
    if (got != numel) {
        char sbuf[256];
        format_shape(shape, ndim, sbuf, sizeof(sbuf));
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "input '%s': expected %" PRIu64
                              " elements for shape %s, got %" PRIu64,
                              input_name, numel, sbuf, got);
    }

    fill_t f = {.name = input_name, .dtype = dtype, .err = err};
    size_t bytes_total = 0;
    if (dtype == INFERD_DTYPE_BYTES) {
        inferd_status_t st = bytes_size_walk(&f, data, &bytes_total);
        if (st != INFERD_OK)
            return st;
        f.idx = 0;
    }
    inferd_tensor_t *t =
        inferd_tensor_create(dtype, shape, ndim, bytes_total, INFERD_OWNER_REQUEST, err);
    if (!t) {
        inferd_err_prefix(err, "input '%s'", input_name);
        return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    }
    f.dst = t->data;
    if (numel) {
        inferd_status_t st = fill_walk(&f, data);
        if (st != INFERD_OK) {
            inferd_tensor_unref(t);
            return st;
        }
    }
    *out = t;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Tensor -> JSON                                                                       */

/* Writes the decimal digits of v ending at end; returns the start. */
static char *u64_digits(uint64_t v, char *end)
{
    char *p = end;
    do {
        *--p = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    return p;
}

static void append_u64(inferd_buf_t *out, uint64_t v, bool comma)
{
    char buf[24];
    char *end = buf + sizeof(buf);
    char *p = u64_digits(v, end);
    if (comma)
        *--p = ',';
    inferd_buf_append(out, p, (size_t)(end - p));
}

static void append_i64(inferd_buf_t *out, int64_t v, bool comma)
{
    char buf[24];
    char *end = buf + sizeof(buf);
    uint64_t mag = v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v;
    char *p = u64_digits(mag, end);
    if (v < 0)
        *--p = '-';
    if (comma)
        *--p = ',';
    inferd_buf_append(out, p, (size_t)(end - p));
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        unsigned char c = s[i];
        if (c < 0x80) {
            i++;
            continue;
        }
        size_t need;
        unsigned char lo = 0x80, hi = 0xbf;
        if (c >= 0xc2 && c <= 0xdf) {
            need = 1;
        } else if (c >= 0xe0 && c <= 0xef) {
            need = 2;
            if (c == 0xe0)
                lo = 0xa0;
            if (c == 0xed)
                hi = 0x9f;
        } else if (c >= 0xf0 && c <= 0xf4) {
            need = 3;
            if (c == 0xf0)
                lo = 0x90;
            if (c == 0xf4)
                hi = 0x8f;
        } else {
            return false;
        }
        if (n - i - 1 < need || s[i + 1] < lo || s[i + 1] > hi)
            return false;
        for (size_t k = 2; k <= need; k++)
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
        i += need + 1;
    }
    return true;
}

/* A BYTES element that is not UTF-8: every byte >= 0x80 becomes \u00XX, so the text is valid
 * JSON and each code point maps back to one byte. */
static void append_bytes_escaped(inferd_buf_t *out, const unsigned char *s, size_t n)
{
    static const char hex[] = "0123456789abcdef";
    inferd_buf_append_char(out, '"');
    size_t run = 0;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = s[i];
        if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\')
            continue;
        inferd_buf_append(out, s + run, i - run);
        run = i + 1;
        if (c == '"' || c == '\\') {
            char e[2] = {'\\', (char)c};
            inferd_buf_append(out, e, 2);
        } else {
            char e[6] = {'\\', 'u', '0', '0', hex[c >> 4], hex[c & 15]};
            inferd_buf_append(out, e, 6);
        }
    }
    inferd_buf_append(out, s + run, n - run);
    inferd_buf_append_char(out, '"');
}

static void bytes_to_json(const inferd_tensor_t *t, uint64_t numel, inferd_buf_t *out)
{
    if (!inferd_bytes_valid(t->data, t->nbytes, numel)) {
        /* A malformed BYTES tensor is a bug upstream; the buffer's failure flag is the only
         * channel this void function has, and the caller checks it. */
        out->failed = true;
        return;
    }
    const unsigned char *p = t->data;
    for (uint64_t i = 0; i < numel; i++) {
        uint32_t len =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        p += 4;
        if (i)
            inferd_buf_append_char(out, ',');
        if (utf8_valid(p, len))
            inferd_buf_append_json_str(out, (const char *)p, len);
        else
            append_bytes_escaped(out, p, len);
        p += len;
    }
}

void inferd_v2_tensor_to_json(const inferd_tensor_t *t, inferd_buf_t *out)
{
    uint64_t n = inferd_tensor_numel(t);
    const unsigned char *d = t->data;
    /* One reservation up front saves the buffer from doubling its way up on big outputs;
     * with a limit set, a guess could fail a response that would fit, so skip it then. */
    if (!out->limit && n < SIZE_MAX / 16)
        inferd_buf_reserve(out, (size_t)n * (t->dtype == INFERD_DTYPE_FP64 ? 24 : 12) + 2);
    inferd_buf_append_char(out, '[');
    switch (t->dtype) {
    case INFERD_DTYPE_BOOL:
        for (uint64_t i = 0; i < n; i++) {
            if (i)
                inferd_buf_append_char(out, ',');
            if (d[i])
                inferd_buf_append(out, "true", 4);
            else
                inferd_buf_append(out, "false", 5);
        }
        break;
    case INFERD_DTYPE_UINT8:
        for (uint64_t i = 0; i < n; i++)
            append_u64(out, d[i], i);
        break;
    case INFERD_DTYPE_UINT16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t v;
            memcpy(&v, d + i * 2, 2);
            append_u64(out, v, i);
        }
        break;
    case INFERD_DTYPE_UINT32:
        for (uint64_t i = 0; i < n; i++) {
            uint32_t v;
            memcpy(&v, d + i * 4, 4);
            append_u64(out, v, i);
        }
        break;
    case INFERD_DTYPE_UINT64:
        for (uint64_t i = 0; i < n; i++) {
            uint64_t v;
            memcpy(&v, d + i * 8, 8);
            append_u64(out, v, i);
        }
        break;
    case INFERD_DTYPE_INT8:
        for (uint64_t i = 0; i < n; i++)
            append_i64(out, (int8_t)d[i], i);
        break;
    case INFERD_DTYPE_INT16:
        for (uint64_t i = 0; i < n; i++) {
            int16_t v;
            memcpy(&v, d + i * 2, 2);
            append_i64(out, v, i);
        }
        break;
    case INFERD_DTYPE_INT32:
        for (uint64_t i = 0; i < n; i++) {
            int32_t v;
            memcpy(&v, d + i * 4, 4);
            append_i64(out, v, i);
        }
        break;
    case INFERD_DTYPE_INT64:
        for (uint64_t i = 0; i < n; i++) {
            int64_t v;
            memcpy(&v, d + i * 8, 8);
            append_i64(out, v, i);
        }
        break;
    case INFERD_DTYPE_FP16:
    case INFERD_DTYPE_BF16:
        for (uint64_t i = 0; i < n; i++) {
            uint16_t h;
            memcpy(&h, d + i * 2, 2);
            if (i)
                inferd_buf_append_char(out, ',');
            inferd_json_write_float(out, t->dtype == INFERD_DTYPE_FP16 ? inferd_fp16_to_fp32(h)
                                                                       : inferd_bf16_to_fp32(h));
        }
        break;
    case INFERD_DTYPE_FP32:
        for (uint64_t i = 0; i < n; i++) {
            float v;
            memcpy(&v, d + i * 4, 4);
            if (i)
                inferd_buf_append_char(out, ',');
            inferd_json_write_float(out, v);
        }
        break;
    case INFERD_DTYPE_FP64:
        for (uint64_t i = 0; i < n; i++) {
            double v;
            memcpy(&v, d + i * 8, 8);
            if (i)
                inferd_buf_append_char(out, ',');
            inferd_json_write_double(out, v);
        }
        break;
    case INFERD_DTYPE_BYTES: bytes_to_json(t, n, out); break;
    case INFERD_DTYPE_INVALID:
    case INFERD_DTYPE_COUNT_: out->failed = true; break;
    }
    inferd_buf_append_char(out, ']');
}

/* ------------------------------------------------------------------------------------ */
/* Binary tensor data                                                                   */

inferd_status_t inferd_v2_parse_header_length(const char *value, size_t body_len, size_t *out,
                                              inferd_err_t *err)
{
    const char *p = value;
    while (*p == ' ' || *p == '\t')
        p++;
    bool neg = *p == '-';
    if (neg || *p == '+')
        p++;
    uint64_t v = 0;
    bool overflow = false;
    const char *digits = p;
    while (*p >= '0' && *p <= '9') {
        unsigned d = (unsigned)(*p - '0');
        if (v > (UINT64_MAX - d) / 10)
            overflow = true;
        else
            v = v * 10 + d;
        p++;
    }
    while (*p == ' ' || *p == '\t')
        p++;
    if (p == digits || *p != '\0' || (p - digits) == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "Inference-Header-Content-Length '%.40s' is not an integer", value);
    if (neg && v != 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "Inference-Header-Content-Length %.40s is negative", value);
    if (overflow || v > body_len)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "Inference-Header-Content-Length %.40s is greater than the request "
                              "body (%zu bytes)",
                              value, body_len);
    *out = (size_t)v;
    return INFERD_OK;
}

inferd_status_t inferd_v2_layout_binary(inferd_v2_request_t *req, size_t binary_len,
                                        inferd_err_t *err)
{
    size_t off = 0;
    for (size_t i = 0; i < req->n_inputs; i++) {
        inferd_v2_input_t *in = &req->inputs[i];
        if (!in->has_binary_data_size)
            continue;
        if (in->binary_data_size > binary_len - off)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "input '%s': binary_data_size %" PRIu64
                                  " runs past the end of the request body (%zu bytes of binary "
                                  "data left)",
                                  in->name, in->binary_data_size, binary_len - off);
        in->binary_offset = off;
        off += (size_t)in->binary_data_size;
    }
    if (off != binary_len)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "unexpected additional input data: %zu bytes after the last "
                              "binary input (binary_data_size values add up to %zu of %zu)",
                              binary_len - off, off, binary_len);
    return INFERD_OK;
}

/* Checks a BYTES blob element by element, so the message says where it goes wrong. */
static inferd_status_t check_bytes_blob(const char *name, const unsigned char *p, size_t size,
                                        uint64_t numel, inferd_err_t *err)
{
    size_t off = 0;
    for (uint64_t i = 0; i < numel; i++) {
        if (size - off < 4)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "input '%s': BYTES element %" PRIu64
                                  ": its 4-byte length runs past the end of the %zu-byte blob "
                                  "(shape has %" PRIu64 " elements)",
                                  name, i, size, numel);
        uint32_t len = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
                       (uint32_t)p[off + 3] << 24;
        off += 4;
        if (len > size - off)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "input '%s': BYTES element %" PRIu64 ": length %" PRIu32
                                  " runs past the end of the %zu-byte blob",
                                  name, i, len, size);
        off += len;
    }
    if (off != size)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "input '%s': %zu bytes left in the %zu-byte blob after its %" PRIu64
                              " BYTES elements",
                              name, size - off, size, numel);
    return INFERD_OK;
}

inferd_status_t inferd_v2_binary_to_tensor(const char *input_name, inferd_dtype_t dtype,
                                           const int64_t *shape, int ndim, uint64_t max_elements,
                                           inferd_tensor_t *body, size_t offset, size_t size,
                                           inferd_tensor_t **out, size_t *copied, inferd_err_t *err)
{
    *out = NULL;
    *copied = 0;
    if (dtype <= INFERD_DTYPE_INVALID || dtype >= INFERD_DTYPE_COUNT_)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "input '%s': invalid datatype %d",
                              input_name, (int)dtype);
    uint64_t numel;
    if (inferd_shape_numel(shape, ndim, max_elements, &numel, err) != INFERD_OK) {
        inferd_err_prefix(err, "input '%s'", input_name);
        return err ? err->code : INFERD_E_INVALID_ARG;
    }
    if (offset > body->nbytes || size > body->nbytes - offset)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "input '%s': binary data runs past the end of the request body",
                              input_name);
    const unsigned char *src = body->data ? (const unsigned char *)body->data + offset : NULL;
    size_t es = inferd_dtype_size(dtype);
    if (dtype == INFERD_DTYPE_BYTES) {
        inferd_status_t st = check_bytes_blob(input_name, src, size, numel, err);
        if (st != INFERD_OK)
            return st;
    } else if (numel > SIZE_MAX / es || numel * es != size) {
        char sbuf[256];
        format_shape(shape, ndim, sbuf, sizeof(sbuf));
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "input '%s': %zu bytes of tensor data, but shape %s of %s needs "
                              "%" PRIu64 " x %zu = %" PRIu64 " bytes",
                              input_name, size, sbuf, inferd_dtype_name(dtype), numel, es,
                              numel * es);
    }
    /* The body buffer is laid out so the binary section starts 16-byte aligned; a blob after
     * one of an odd size may still be misaligned for its elements, and kernels read elements
     * through typed pointers, so only then is it copied. */
    if (dtype != INFERD_DTYPE_BYTES && size && ((uintptr_t)src % es) != 0) {
        inferd_tensor_t *t = inferd_tensor_create(dtype, shape, ndim, 0, INFERD_OWNER_REQUEST, err);
        if (!t) {
            inferd_err_prefix(err, "input '%s'", input_name);
            return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
        }
        memcpy(t->data, src, size);
        *copied = size;
        *out = t;
        return INFERD_OK;
    }
    inferd_tensor_t *v = inferd_tensor_view(body, offset, dtype, shape, ndim, size, err);
    if (!v) {
        inferd_err_prefix(err, "input '%s'", input_name);
        return err ? err->code : INFERD_E_INVALID_ARG;
    }
    *out = v;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Classification                                                                       */

bool inferd_v2_classification_supported(inferd_dtype_t dt)
{
    switch (dt) {
    case INFERD_DTYPE_UINT8:
    case INFERD_DTYPE_UINT16:
    case INFERD_DTYPE_UINT32:
    case INFERD_DTYPE_UINT64:
    case INFERD_DTYPE_INT8:
    case INFERD_DTYPE_INT16:
    case INFERD_DTYPE_INT32:
    case INFERD_DTYPE_INT64:
    case INFERD_DTYPE_FP32:
    case INFERD_DTYPE_FP64: return true;
    case INFERD_DTYPE_INVALID:
    case INFERD_DTYPE_BOOL:
    case INFERD_DTYPE_FP16:
    case INFERD_DTYPE_BF16:
    case INFERD_DTYPE_BYTES:
    case INFERD_DTYPE_COUNT_: break;
    }
    return false;
}

/* One element to rank: its value widened without loss (floats to double, signed to int64,
 * unsigned to uint64) and its index within the batch item. */
typedef struct {
    union {
        double d;
        int64_t i;
        uint64_t u;
    } v;
    uint32_t idx;
} class_entry_t;

static int cmp_idx(const class_entry_t *a, const class_entry_t *b)
{
    return a->idx < b->idx ? -1 : a->idx > b->idx;
}

/* Descending by value; NaN after every number; equal values by ascending index, so the
 * order does not depend on the sort (Triton's is unstable). */
static int cmp_class_d(const void *pa, const void *pb)
{
    const class_entry_t *a = pa, *b = pb;
    bool na = isnan(a->v.d), nb = isnan(b->v.d);
    if (na != nb)
        return na ? 1 : -1;
    if (!na && a->v.d != b->v.d)
        return a->v.d > b->v.d ? -1 : 1;
    return cmp_idx(a, b);
}

static int cmp_class_i(const void *pa, const void *pb)
{
    const class_entry_t *a = pa, *b = pb;
    if (a->v.i != b->v.i)
        return a->v.i > b->v.i ? -1 : 1;
    return cmp_idx(a, b);
}

static int cmp_class_u(const void *pa, const void *pb)
{
    const class_entry_t *a = pa, *b = pb;
    if (a->v.u != b->v.u)
        return a->v.u > b->v.u ? -1 : 1;
    return cmp_idx(a, b);
}

/* Reads element i of a classifiable tensor into e; returns the comparison to use. */
static void class_load(inferd_dtype_t dt, const unsigned char *d, uint64_t i, class_entry_t *e)
{
    switch (dt) {
    case INFERD_DTYPE_UINT8: e->v.u = d[i]; break;
    case INFERD_DTYPE_UINT16: {
        uint16_t x;
        memcpy(&x, d + i * 2, 2);
        e->v.u = x;
        break;
    }
    case INFERD_DTYPE_UINT32: {
        uint32_t x;
        memcpy(&x, d + i * 4, 4);
        e->v.u = x;
        break;
    }
    case INFERD_DTYPE_UINT64: memcpy(&e->v.u, d + i * 8, 8); break;
    case INFERD_DTYPE_INT8: e->v.i = (int8_t)d[i]; break;
    case INFERD_DTYPE_INT16: {
        int16_t x;
        memcpy(&x, d + i * 2, 2);
        e->v.i = x;
        break;
    }
    case INFERD_DTYPE_INT32: {
        int32_t x;
        memcpy(&x, d + i * 4, 4);
        e->v.i = x;
        break;
    }
    case INFERD_DTYPE_INT64: memcpy(&e->v.i, d + i * 8, 8); break;
    case INFERD_DTYPE_FP32: {
        float x;
        memcpy(&x, d + i * 4, 4);
        e->v.d = x;
        break;
    }
    case INFERD_DTYPE_FP64: memcpy(&e->v.d, d + i * 8, 8); break;
    case INFERD_DTYPE_INVALID:
    case INFERD_DTYPE_BOOL:
    case INFERD_DTYPE_FP16:
    case INFERD_DTYPE_BF16:
    case INFERD_DTYPE_BYTES:
    case INFERD_DTYPE_COUNT_: e->v.u = 0; break;
    }
}

static void release_free(void *ctx, void *data)
{
    (void)ctx;
    inferd_free(data);
}

inferd_status_t inferd_v2_classify(const char *output_name, const inferd_tensor_t *t, int64_t batch,
                                   uint32_t k, const char *const *labels, size_t n_labels,
                                   inferd_tensor_t **out, inferd_err_t *err)
{
    *out = NULL;
    if (!inferd_v2_classification_supported(t->dtype))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "output '%s': class result not available for output due to "
                              "unsupported type '%s'",
                              output_name, inferd_dtype_name(t->dtype));
    uint64_t numel = inferd_tensor_numel(t);
    if (numel > INFERD_V2_CLASSIFICATION_MAX_ELEMENTS)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "output '%s': classification of %" PRIu64
                              " elements is over the limit of %u",
                              output_name, numel, INFERD_V2_CLASSIFICATION_MAX_ELEMENTS);
    uint64_t items = batch > 0 ? (uint64_t)batch : 1;
    uint64_t per = numel / items;
    if (per * items != numel)
        return inferd_err_set(err, INFERD_E_INTERNAL,
                              "output '%s': %" PRIu64 " elements do not split into %" PRIu64
                              " batch items",
                              output_name, numel, items);
    uint64_t kk = k < per ? k : per;
    int (*cmp)(const void *, const void *) = cmp_class_d;
    bool is_float = t->dtype == INFERD_DTYPE_FP32 || t->dtype == INFERD_DTYPE_FP64;
    bool is_signed = t->dtype == INFERD_DTYPE_INT8 || t->dtype == INFERD_DTYPE_INT16 ||
                     t->dtype == INFERD_DTYPE_INT32 || t->dtype == INFERD_DTYPE_INT64;
    if (!is_float)
        cmp = is_signed ? cmp_class_i : cmp_class_u;

    class_entry_t *ents = inferd_calloc(per ? per : 1, sizeof(*ents));
    if (!ents)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    const unsigned char *d = t->data;
    for (uint64_t item = 0; item < items; item++) {
        for (uint64_t i = 0; i < per; i++) {
            class_load(t->dtype, d, item * per + i, &ents[i]);
            ents[i].idx = (uint32_t)i;
        }
        qsort(ents, per, sizeof(*ents), cmp);
        for (uint64_t j = 0; j < kk; j++) {
            const class_entry_t *e = &ents[j];
            size_t at = b.len;
            inferd_buf_append(&b, "\0\0\0\0", 4); /* the length, patched below */
            if (is_float)
                inferd_buf_printf(&b, "%f", e->v.d);
            else if (is_signed)
                inferd_buf_printf(&b, "%" PRId64, e->v.i);
            else
                inferd_buf_printf(&b, "%" PRIu64, e->v.u);
            inferd_buf_printf(&b, ":%" PRIu32, e->idx);
            if (e->idx < n_labels && labels[e->idx] && labels[e->idx][0]) {
                inferd_buf_append_char(&b, ':');
                inferd_buf_append_str(&b, labels[e->idx]);
            }
            if (b.failed)
                break;
            uint32_t len = (uint32_t)(b.len - at - 4);
            unsigned char le[4] = {(unsigned char)len, (unsigned char)(len >> 8),
                                   (unsigned char)(len >> 16), (unsigned char)(len >> 24)};
            memcpy(b.data + at, le, 4);
        }
    }
    inferd_free(ents);
    if (b.failed) {
        inferd_buf_deinit(&b);
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");
    }
    int64_t dims[2];
    int nd = 0;
    if (batch > 0)
        dims[nd++] = batch;
    dims[nd++] = (int64_t)kk;
    size_t len;
    char *data = inferd_buf_steal(&b, &len);
    inferd_tensor_t *r = inferd_tensor_wrap(INFERD_DTYPE_BYTES, dims, nd, data, len, release_free,
                                            NULL, INFERD_OWNER_REQUEST, err);
    if (!r) {
        inferd_free(data);
        return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    }
    *out = r;
    return INFERD_OK;
}
