/* JSON parser (core/json.c). Any input either fails with a message or parses; a parsed
 * document, written back out canonically, parses again to the same tree, and the second
 * writing is byte for byte the first. Number conversions run on every number, and a double
 * written with inferd_json_write_double reads back as the same bits. */
#include <math.h>
#include <string.h>

#include "core/buf.h"
#include "core/json.h"
#include "fuzz_common.h"

/* Small enough that a deep or wide input stays fast, large enough for real requests. */
static const inferd_json_limits_t limits = {.max_depth = 100, .max_nodes = 1 << 16};

static void write_value(inferd_buf_t *b, const inferd_json_t *v)
{
    switch (v->type) {
    case INFERD_JSON_NULL: inferd_buf_append_str(b, "null"); break;
    case INFERD_JSON_BOOL: inferd_buf_append_str(b, v->u.boolean ? "true" : "false"); break;
    case INFERD_JSON_NUMBER: inferd_buf_append(b, v->u.number.text, v->u.number.len); break;
    case INFERD_JSON_STRING: inferd_buf_append_json_str(b, v->u.string.ptr, v->u.string.len); break;
    case INFERD_JSON_ARRAY:
        inferd_buf_append_char(b, '[');
        for (size_t i = 0; i < v->u.array.count; i++) {
            if (i)
                inferd_buf_append_char(b, ',');
            write_value(b, v->u.array.items[i]);
        }
        inferd_buf_append_char(b, ']');
        break;
    case INFERD_JSON_OBJECT:
        inferd_buf_append_char(b, '{');
        for (size_t i = 0; i < v->u.object.count; i++) {
            const inferd_json_member_t *m = &v->u.object.members[i];
            if (i)
                inferd_buf_append_char(b, ',');
            inferd_buf_append_json_str(b, m->key, m->key_len);
            inferd_buf_append_char(b, ':');
            write_value(b, m->value);
        }
        inferd_buf_append_char(b, '}');
        break;
    }
}

static bool same_bits(double a, double b)
{
    if (isnan(a) || isnan(b))
        return isnan(a) && isnan(b);
    return memcmp(&a, &b, sizeof(a)) == 0;
}

/* Conversions must not crash, must agree with each other where both succeed, and the
 * shortest double text must read back exactly. */
static void check_number(const inferd_json_t *n)
{
    int64_t i;
    uint64_t u;
    double d;
    float f;
    bool has_i = inferd_json_to_int64(n, &i);
    bool has_u = inferd_json_to_uint64(n, &u);
    FUZZ_ASSERT(inferd_json_to_double(n, &d), "a number that is not a double");
    FUZZ_ASSERT(inferd_json_to_float(n, &f), "a number that is not a float");
    if (has_i && has_u)
        FUZZ_ASSERT(i >= 0 && (uint64_t)i == u, "int64 %lld and uint64 %llu differ", (long long)i,
                    (unsigned long long)u);

    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_json_write_double(&b, d);
    inferd_json_doc_t *doc = NULL;
    inferd_err_t err = {0};
    FUZZ_ASSERT(inferd_json_parse(b.data, b.len, &limits, &doc, &err) == INFERD_OK,
                "written double '%.*s' does not parse: %s", (int)b.len, b.data, err.msg);
    double back;
    FUZZ_ASSERT(inferd_json_to_double(inferd_json_root(doc), &back), "not a number");
    FUZZ_ASSERT(same_bits(d, back), "double %a written as '%.*s' reads back as %a", d, (int)b.len,
                b.data, back);
    inferd_json_doc_destroy(doc);

    inferd_buf_reset(&b);
    inferd_json_write_float(&b, f);
    FUZZ_ASSERT(inferd_json_parse(b.data, b.len, &limits, &doc, &err) == INFERD_OK,
                "written float '%.*s' does not parse: %s", (int)b.len, b.data, err.msg);
    float fback;
    FUZZ_ASSERT(inferd_json_to_float(inferd_json_root(doc), &fback), "not a number");
    FUZZ_ASSERT(same_bits(f, fback), "float %a written as '%.*s' reads back as %a", (double)f,
                (int)b.len, b.data, (double)fback);
    inferd_json_doc_destroy(doc);
    inferd_buf_deinit(&b);
}

static void visit_numbers(const inferd_json_t *v)
{
    if (v->type == INFERD_JSON_NUMBER)
        check_number(v);
    else if (v->type == INFERD_JSON_ARRAY)
        for (size_t i = 0; i < v->u.array.count; i++)
            visit_numbers(v->u.array.items[i]);
    else if (v->type == INFERD_JSON_OBJECT)
        for (size_t i = 0; i < v->u.object.count; i++)
            visit_numbers(v->u.object.members[i].value);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    inferd_json_doc_t *doc = NULL;
    inferd_err_t err = {0};
    inferd_status_t rc = inferd_json_parse((const char *)data, size, &limits, &doc, &err);
    if (rc != INFERD_OK) {
        FUZZ_ASSERT(doc == NULL, "a failed parse returned a document");
        FUZZ_ASSERT(err.msg[0] != '\0', "a failed parse without a message");
        return 0;
    }
    const inferd_json_t *root = inferd_json_root(doc);
    visit_numbers(root);

    inferd_buf_t first, second;
    inferd_buf_init(&first, 0);
    inferd_buf_init(&second, 0);
    write_value(&first, root);
    FUZZ_ASSERT(!first.failed, "writing the document failed");
    inferd_json_doc_t *again = NULL;
    rc = inferd_json_parse(first.data, first.len, &limits, &again, &err);
    FUZZ_ASSERT(rc == INFERD_OK, "the written document does not parse: %s\n%.*s", err.msg,
                (int)first.len, first.data);
    write_value(&second, inferd_json_root(again));
    FUZZ_ASSERT(first.len == second.len && memcmp(first.data, second.data, first.len) == 0,
                "round trip changed the document:\n%.*s\n%.*s", (int)first.len, first.data,
                (int)second.len, second.data);
    inferd_json_doc_destroy(again);
    inferd_json_doc_destroy(doc);
    inferd_buf_deinit(&first);
    inferd_buf_deinit(&second);
    fuzz_check_tensors();
    return 0;
}
