/* Constant: its output is fixed by an attribute, so init builds the tensor at load (an
 * INFERD_OWNER_MODEL constant shared by every run) and the node is folded out of the
 * schedule. Opset 1 and 9 take `value` (a tensor); 11 adds `sparse_value` (not supported:
 * fails the load); 12 and 13 add value_float(s), value_int(s) and value_string(s). */
#include "backends/onnx/ops/ops.h"

#include <string.h>

static const char *const value_attrs[] = {
    "value",     "sparse_value", "value_float",  "value_floats",
    "value_int", "value_ints",   "value_string", "value_strings",
};

static inferd_status_t wrong_type(const char *name, inferd_err_t *err)
{
    return inferd_err_set(err, INFERD_E_INVALID_ARG, "attribute '%s' has the wrong type", name);
}

/* A tensor of n fixed-size elements copied from src (ndim 0 when scalar). */
static inferd_tensor_t *make_tensor(inferd_dtype_t dt, bool scalar, size_t n, const void *src,
                                    inferd_err_t *err)
{
    int64_t dims[1] = {(int64_t)n};
    inferd_tensor_t *t = inferd_tensor_create(dt, dims, scalar ? 0 : 1, 0, INFERD_OWNER_MODEL, err);
    if (t && t->nbytes)
        memcpy(t->data, src, t->nbytes);
    return t;
}

/* A BYTES tensor in the length-prefixed layout inferd uses for strings. */
static inferd_tensor_t *make_strings(bool scalar, size_t n, char *const *strs, const size_t *lens,
                                     inferd_err_t *err)
{
    size_t total = 0;
    for (size_t i = 0; i < n; i++)
        total += 4 + lens[i];
    int64_t dims[1] = {(int64_t)n};
    inferd_tensor_t *t = inferd_tensor_create(INFERD_DTYPE_BYTES, dims, scalar ? 0 : 1, total,
                                              INFERD_OWNER_MODEL, err);
    if (!t)
        return NULL;
    uint8_t *p = t->data;
    for (size_t i = 0; i < n; i++) {
        uint32_t len = (uint32_t)lens[i];
        p[0] = (uint8_t)len;
        p[1] = (uint8_t)(len >> 8);
        p[2] = (uint8_t)(len >> 16);
        p[3] = (uint8_t)(len >> 24);
        if (len)
            memcpy(p + 4, strs[i], len);
        p += 4 + len;
    }
    return t;
}

static inferd_status_t constant_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    const inferd_onnx_attr_t *a = NULL;
    int found = 0;
    for (size_t i = 0; i < sizeof(value_attrs) / sizeof(value_attrs[0]); i++) {
        const inferd_onnx_attr_t *x = inferd_onnx_attr_find(ic->node, value_attrs[i]);
        if (x) {
            a = x;
            found++;
        }
    }
    if (found != 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "exactly one value attribute is required, found %d", found);
    const char *name = a->name;
    inferd_tensor_t *t = NULL;
    if (strcmp(name, "sparse_value") == 0) {
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "sparse_value is not supported");
    } else if (strcmp(name, "value") == 0) {
        if (a->type != INFERD_ONNX_ATTR_TENSOR)
            return wrong_type(name, err);
        t = inferd_tensor_ref(a->t);
    } else if (strcmp(name, "value_float") == 0) {
        if (a->type != INFERD_ONNX_ATTR_FLOAT)
            return wrong_type(name, err);
        t = make_tensor(INFERD_DTYPE_FP32, true, 1, &a->f, err);
    } else if (strcmp(name, "value_floats") == 0) {
        if (a->type != INFERD_ONNX_ATTR_FLOATS)
            return wrong_type(name, err);
        t = make_tensor(INFERD_DTYPE_FP32, false, a->n, a->floats, err);
    } else if (strcmp(name, "value_int") == 0) {
        if (a->type != INFERD_ONNX_ATTR_INT)
            return wrong_type(name, err);
        t = make_tensor(INFERD_DTYPE_INT64, true, 1, &a->i, err);
    } else if (strcmp(name, "value_ints") == 0) {
        if (a->type != INFERD_ONNX_ATTR_INTS)
            return wrong_type(name, err);
        t = make_tensor(INFERD_DTYPE_INT64, false, a->n, a->ints, err);
    } else if (strcmp(name, "value_string") == 0) {
        if (a->type != INFERD_ONNX_ATTR_STRING)
            return wrong_type(name, err);
        char *s = a->s;
        t = make_strings(true, 1, &s, &a->s_len, err);
    } else {
        if (a->type != INFERD_ONNX_ATTR_STRINGS)
            return wrong_type(name, err);
        t = make_strings(false, a->n, a->strings, a->string_lens, err);
    }
    if (!t)
        return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    ic->out_types[0] = t->dtype;
    ic->out_consts[0] = t;
    return INFERD_OK;
}

/* Never called: the node is folded at load. Present so the table entry is complete. */
static inferd_status_t constant_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                        inferd_onnx_shape_t *out, inferd_err_t *err)
{
    return inferd_err_set(err, INFERD_E_INTERNAL, "Constant is folded at load");
}

const inferd_onnx_op_t inferd_onnx_ops_constant[] = {
    {"", "Constant", 1, 0, 0, 1, constant_init, constant_reshape},
    {"", "Constant", 9, 0, 0, 1, constant_init, constant_reshape},
    {"", "Constant", 11, 0, 0, 1, constant_init, constant_reshape},
    {"", "Constant", 12, 0, 0, 1, constant_init, constant_reshape},
    {"", "Constant", 13, 0, 0, 1, constant_init, constant_reshape},
};
const size_t inferd_onnx_ops_constant_count =
    sizeof(inferd_onnx_ops_constant) / sizeof(inferd_onnx_ops_constant[0]);
