/* Turns a model configuration in Triton's JSON form (what GET .../config returns, and what
 * the load API's "config" parameter carries) into config.pbtxt text, so that one parser,
 * with its checks and line:column messages, reads both. */
#include <string.h>

#include "core/json.h"
#include "repo/config.h"

/* Fields whose string values are enum names (bare words in text format). */
static const char *const enum_fields[] = {"data_type", "kind", "timeout_action", "format", NULL};

/* Fields whose values are integers, which protobuf's JSON may write as strings. */
static const char *const int_fields[] = {"dims",
                                         "shape",
                                         "max_batch_size",
                                         "count",
                                         "versions",
                                         "num_versions",
                                         "preferred_batch_size",
                                         "max_queue_delay_microseconds",
                                         "default_timeout_microseconds",
                                         "max_queue_size",
                                         "gpus",
                                         NULL};

static bool in_list(const char *key, const char *const *list)
{
    for (; *list; list++)
        if (strcmp(key, *list) == 0)
            return true;
    return false;
}

static bool is_integer_text(const char *s, size_t n)
{
    size_t i = n && s[0] == '-' ? 1 : 0;
    if (i == n)
        return false;
    for (; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return false;
    return true;
}

static inferd_status_t emit_value(const char *key, const inferd_json_t *v, inferd_buf_t *out,
                                  int depth, inferd_err_t *err);

static inferd_status_t emit_scalar(const char *key, const inferd_json_t *v, inferd_buf_t *out,
                                   inferd_err_t *err)
{
    switch (v->type) {
    case INFERD_JSON_BOOL: inferd_buf_append_str(out, v->u.boolean ? "true" : "false"); break;
    case INFERD_JSON_NUMBER: inferd_buf_append(out, v->u.number.text, v->u.number.len); break;
    case INFERD_JSON_STRING:
        if (in_list(key, enum_fields) ||
            (in_list(key, int_fields) && is_integer_text(v->u.string.ptr, v->u.string.len)))
            inferd_buf_append(out, v->u.string.ptr, v->u.string.len);
        else
            inferd_buf_append_json_str(out, v->u.string.ptr, v->u.string.len);
        break;
    default:
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "config field '%s': unexpected value",
                              key);
    }
    return INFERD_OK;
}

static inferd_status_t emit_object(const inferd_json_t *obj, inferd_buf_t *out, int depth,
                                   inferd_err_t *err)
{
    if (depth > 16)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "config nested too deeply");
    for (size_t i = 0; i < obj->u.object.count; i++) {
        const char *key = obj->u.object.members[i].key;
        const inferd_json_t *v = obj->u.object.members[i].value;
        inferd_status_t st = emit_value(key, v, out, depth, err);
        if (st != INFERD_OK)
            return st;
    }
    return INFERD_OK;
}

/* Protobuf (proto3) does not tell a default value from an absent field, and Triton's JSON
 * writes every field: defaults are left out, so the text names only what was set (and
 * fields inferd does not take, such as an empty "runtime", do not get in the way). */
static bool is_default(const char *key, const inferd_json_t *v)
{
    /* Except messages whose presence is their meaning: version_policy's "all" and a
     * dynamic_batching with every field at its default. */
    static const char *const presence_fields[] = {"all", "dynamic_batching", NULL};
    double d;
    switch (v->type) {
    case INFERD_JSON_NULL: return true;
    case INFERD_JSON_BOOL: return !v->u.boolean;
    case INFERD_JSON_NUMBER: return inferd_json_to_double(v, &d) && d == 0.0;
    case INFERD_JSON_STRING: return v->u.string.len == 0;
    case INFERD_JSON_ARRAY: return v->u.array.count == 0;
    case INFERD_JSON_OBJECT: return v->u.object.count == 0 && !in_list(key, presence_fields);
    }
    return false;
}

static inferd_status_t emit_value(const char *key, const inferd_json_t *v, inferd_buf_t *out,
                                  int depth, inferd_err_t *err)
{
    if (is_default(key, v))
        return INFERD_OK;
    if (strcmp(key, "parameters") == 0 && v->type == INFERD_JSON_OBJECT) {
        /* A protobuf map: {"k": {"string_value": "v"}} -> key/value entries. */
        for (size_t i = 0; i < v->u.object.count; i++) {
            const inferd_json_member_t *m = &v->u.object.members[i];
            if (m->value->type != INFERD_JSON_OBJECT)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "config parameter '%s' must be an object", m->key);
            inferd_buf_append_str(out, "parameters { key: ");
            inferd_buf_append_json_str(out, m->key, m->key_len);
            inferd_buf_append_str(out, " value { ");
            inferd_status_t st = emit_object(m->value, out, depth + 1, err);
            if (st != INFERD_OK)
                return st;
            inferd_buf_append_str(out, "} }\n");
        }
        return INFERD_OK;
    }
    if (v->type == INFERD_JSON_OBJECT) {
        inferd_buf_printf(out, "%s {\n", key);
        inferd_status_t st = emit_object(v, out, depth + 1, err);
        inferd_buf_append_str(out, "}\n");
        return st;
    }
    if (v->type == INFERD_JSON_ARRAY) {
        size_t n = v->u.array.count;
        if (n == 0)
            return INFERD_OK;
        bool objects = v->u.array.items[0]->type == INFERD_JSON_OBJECT;
        inferd_buf_printf(out, objects ? "%s [\n" : "%s: [", key);
        for (size_t i = 0; i < n; i++) {
            const inferd_json_t *e = v->u.array.items[i];
            if ((e->type == INFERD_JSON_OBJECT) != objects)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "config field '%s' mixes objects and values", key);
            if (i)
                inferd_buf_append_str(out, ", ");
            inferd_status_t st;
            if (objects) {
                inferd_buf_append_str(out, "{\n");
                st = emit_object(e, out, depth + 1, err);
                inferd_buf_append_str(out, "}");
            } else {
                st = emit_scalar(key, e, out, err);
            }
            if (st != INFERD_OK)
                return st;
        }
        inferd_buf_append_str(out, objects ? "\n]\n" : "]\n");
        return INFERD_OK;
    }
    inferd_buf_printf(out, "%s: ", key);
    inferd_status_t st = emit_scalar(key, v, out, err);
    inferd_buf_append_char(out, '\n');
    return st;
}

inferd_status_t inferd_model_config_json_to_text(const char *json, size_t len, inferd_buf_t *out,
                                                 inferd_err_t *err)
{
    inferd_json_doc_t *doc;
    inferd_json_limits_t lim = {32, 1 << 20};
    inferd_status_t st = inferd_json_parse(json, len, &lim, &doc, err);
    if (st != INFERD_OK)
        return st;
    const inferd_json_t *root = inferd_json_root(doc);
    if (root->type != INFERD_JSON_OBJECT)
        st = inferd_err_set(err, INFERD_E_INVALID_ARG, "the config must be a JSON object");
    else
        st = emit_object(root, out, 0, err);
    inferd_json_doc_destroy(doc);
    if (st == INFERD_OK && out->failed)
        st = inferd_err_set(err, INFERD_E_TOO_LARGE, "the config is too large");
    return st;
}
