/* Node attributes: typed accessors that ops' init functions use to parse attributes into
 * their per-node structs once, at load (see graph.h). */
#include "backends/onnx/graph.h"

#include <string.h>

#include "core/alloc.h"

static const char *attr_type_name(inferd_onnx_attr_type_t t)
{
    switch (t) {
    case INFERD_ONNX_ATTR_FLOAT: return "FLOAT";
    case INFERD_ONNX_ATTR_INT: return "INT";
    case INFERD_ONNX_ATTR_STRING: return "STRING";
    case INFERD_ONNX_ATTR_TENSOR: return "TENSOR";
    case INFERD_ONNX_ATTR_FLOATS: return "FLOATS";
    case INFERD_ONNX_ATTR_INTS: return "INTS";
    case INFERD_ONNX_ATTR_STRINGS: return "STRINGS";
    case INFERD_ONNX_ATTR_GRAPH: return "GRAPH";
    case INFERD_ONNX_ATTR_OTHER: break;
    }
    return "unsupported type";
}

static inferd_status_t wrong_type(const inferd_onnx_attr_t *a, inferd_onnx_attr_type_t want,
                                  inferd_err_t *err)
{
    return inferd_err_set(err, INFERD_E_INVALID_ARG, "attribute '%s' must be %s, got %s", a->name,
                          attr_type_name(want), attr_type_name(a->type));
}

const inferd_onnx_attr_t *inferd_onnx_attr_find(const inferd_onnx_node_t *node, const char *name)
{
    for (int i = 0; i < node->n_attrs; i++)
        if (strcmp(node->attrs[i].name, name) == 0)
            return &node->attrs[i];
    return NULL;
}

inferd_status_t inferd_onnx_attr_int(const inferd_onnx_node_t *node, const char *name, int64_t def,
                                     int64_t *out, inferd_err_t *err)
{
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(node, name);
    if (!a) {
        *out = def;
        return INFERD_OK;
    }
    if (a->type != INFERD_ONNX_ATTR_INT)
        return wrong_type(a, INFERD_ONNX_ATTR_INT, err);
    *out = a->i;
    return INFERD_OK;
}

inferd_status_t inferd_onnx_attr_float(const inferd_onnx_node_t *node, const char *name, float def,
                                       float *out, inferd_err_t *err)
{
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(node, name);
    if (!a) {
        *out = def;
        return INFERD_OK;
    }
    if (a->type != INFERD_ONNX_ATTR_FLOAT)
        return wrong_type(a, INFERD_ONNX_ATTR_FLOAT, err);
    *out = a->f;
    return INFERD_OK;
}

inferd_status_t inferd_onnx_attr_ints(const inferd_onnx_node_t *node, const char *name,
                                      const int64_t **vals, size_t *n, bool *present,
                                      inferd_err_t *err)
{
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(node, name);
    *vals = NULL;
    *n = 0;
    *present = false;
    if (!a)
        return INFERD_OK;
    if (a->type != INFERD_ONNX_ATTR_INTS)
        return wrong_type(a, INFERD_ONNX_ATTR_INTS, err);
    *vals = a->ints;
    *n = a->n;
    *present = true;
    return INFERD_OK;
}

void inferd_onnx_attr_clear(inferd_onnx_attr_t *a)
{
    inferd_free(a->name);
    inferd_free(a->s);
    inferd_free(a->floats);
    inferd_free(a->ints);
    for (size_t i = 0; a->strings && i < a->n; i++)
        inferd_free(a->strings[i]);
    inferd_free(a->strings);
    inferd_free(a->string_lens);
    inferd_tensor_unref(a->t);
    inferd_onnx_graph_destroy(a->g);
    memset(a, 0, sizeof(*a));
}
