/* Test support for the ONNX engine (see onnx_test_util.h). */
#include "test.h"

#include <ftw.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/alloc.h"
#include "onnx_test_util.h"

#define TB_CAP 64 /* capacity of every repeated field a builder fills */

struct tb_model {
    Onnx__ModelProto model;
    Onnx__GraphProto graph;
    char dir[64];
    void **allocs;
    size_t n_allocs, cap_allocs;
    uint8_t *packed;
    size_t packed_len;
    char *path;
    uint64_t weights_len; /* bytes appended to weights.bin so far */
};

void *tb_alloc(tb_model_t *m, size_t n)
{
    void *p = inferd_xcalloc(1, n ? n : 1);
    m->allocs = inferd_xgrow(m->allocs, sizeof(void *), m->n_allocs + 1, &m->cap_allocs);
    m->allocs[m->n_allocs++] = p;
    return p;
}

static char *tb_strdup(tb_model_t *m, const char *s)
{
    size_t n = strlen(s) + 1;
    char *p = tb_alloc(m, n);
    memcpy(p, s, n);
    return p;
}

tb_model_t *tb_model(int64_t opset)
{
    tb_model_t *m = inferd_xcalloc(1, sizeof(*m));
    onnx__model_proto__init(&m->model);
    onnx__graph_proto__init(&m->graph);
    m->model.has_ir_version = 1;
    m->model.ir_version = 8;
    m->model.graph = &m->graph;
    m->model.opset_import = tb_alloc(m, TB_CAP * sizeof(void *));
    m->graph.name = tb_strdup(m, "test");
    m->graph.node = tb_alloc(m, TB_CAP * sizeof(void *));
    m->graph.input = tb_alloc(m, TB_CAP * sizeof(void *));
    m->graph.output = tb_alloc(m, TB_CAP * sizeof(void *));
    m->graph.initializer = tb_alloc(m, TB_CAP * sizeof(void *));
    snprintf(m->dir, sizeof(m->dir), "/tmp/inferd-onnx-XXXXXX");
    assert_non_null(mkdtemp(m->dir));
    if (opset > 0)
        tb_opset(m, "", opset);
    return m;
}

void tb_opset(tb_model_t *m, const char *domain, int64_t version)
{
    Onnx__OperatorSetIdProto *o = tb_alloc(m, sizeof(*o));
    onnx__operator_set_id_proto__init(o);
    o->domain = tb_strdup(m, domain);
    o->has_version = 1;
    o->version = version;
    assert_true(m->model.n_opset_import < TB_CAP);
    m->model.opset_import[m->model.n_opset_import++] = o;
}

void tb_ir_version(tb_model_t *m, int64_t v)
{
    m->model.ir_version = v;
}

const char *tb_dir(const tb_model_t *m)
{
    return m->dir;
}

static Onnx__ValueInfoProto *value_info(tb_model_t *m, const char *name, int elem_type, int ndim,
                                        const int64_t *dims)
{
    Onnx__ValueInfoProto *vi = tb_alloc(m, sizeof(*vi));
    onnx__value_info_proto__init(vi);
    vi->name = tb_strdup(m, name);
    if (elem_type == 0)
        return vi;
    Onnx__TypeProto *tp = tb_alloc(m, sizeof(*tp));
    onnx__type_proto__init(tp);
    Onnx__TypeProto__Tensor *tt = tb_alloc(m, sizeof(*tt));
    onnx__type_proto__tensor__init(tt);
    tt->has_elem_type = 1;
    tt->elem_type = elem_type;
    tp->value_case = ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE;
    tp->tensor_type = tt;
    vi->type = tp;
    if (ndim < 0)
        return vi;
    Onnx__TensorShapeProto *sh = tb_alloc(m, sizeof(*sh));
    onnx__tensor_shape_proto__init(sh);
    sh->n_dim = (size_t)ndim;
    sh->dim = tb_alloc(m, (size_t)ndim * sizeof(void *));
    for (int i = 0; i < ndim; i++) {
        Onnx__TensorShapeProto__Dimension *d = tb_alloc(m, sizeof(*d));
        onnx__tensor_shape_proto__dimension__init(d);
        if (dims[i] >= 0) {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE;
            d->dim_value = dims[i];
        } else {
            d->value_case = ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_PARAM;
            d->dim_param = tb_strdup(m, "N");
        }
        sh->dim[i] = d;
    }
    tt->shape = sh;
    return vi;
}

Onnx__ValueInfoProto *tb_input(tb_model_t *m, const char *name, int elem_type, int ndim,
                               const int64_t *dims)
{
    assert_true(m->graph.n_input < TB_CAP);
    return m->graph.input[m->graph.n_input++] = value_info(m, name, elem_type, ndim, dims);
}

Onnx__ValueInfoProto *tb_output(tb_model_t *m, const char *name, int elem_type, int ndim,
                                const int64_t *dims)
{
    assert_true(m->graph.n_output < TB_CAP);
    return m->graph.output[m->graph.n_output++] = value_info(m, name, elem_type, ndim, dims);
}

static size_t elem_size(int elem_type)
{
    switch (elem_type) {
    case TB_U8:
    case TB_I8:
    case TB_BOOL: return 1;
    case TB_U16:
    case TB_I16:
    case TB_F16:
    case TB_BF16: return 2;
    case TB_F32:
    case TB_I32:
    case TB_U32: return 4;
    case TB_F64:
    case TB_I64:
    case TB_U64: return 8;
    default: return 0;
    }
}

static void fill_typed(tb_model_t *m, Onnx__TensorProto *t, int elem_type, const void *data,
                       size_t n)
{
    switch (elem_type) {
    case TB_F32:
        t->n_float_data = n;
        t->float_data = tb_alloc(m, n * 4);
        memcpy(t->float_data, data, n * 4);
        break;
    case TB_F64:
        t->n_double_data = n;
        t->double_data = tb_alloc(m, n * 8);
        memcpy(t->double_data, data, n * 8);
        break;
    case TB_I64:
        t->n_int64_data = n;
        t->int64_data = tb_alloc(m, n * 8);
        memcpy(t->int64_data, data, n * 8);
        break;
    case TB_U32:
    case TB_U64:
        t->n_uint64_data = n;
        t->uint64_data = tb_alloc(m, n * 8);
        for (size_t i = 0; i < n; i++)
            t->uint64_data[i] =
                elem_type == TB_U64 ? ((const uint64_t *)data)[i] : ((const uint32_t *)data)[i];
        break;
    case TB_STR:
        t->n_string_data = n;
        t->string_data = tb_alloc(m, n * sizeof(ProtobufCBinaryData));
        for (size_t i = 0; i < n; i++) {
            const char *s = ((const char *const *)data)[i];
            t->string_data[i].len = strlen(s);
            t->string_data[i].data = (uint8_t *)tb_strdup(m, s);
        }
        break;
    default:
        t->n_int32_data = n;
        t->int32_data = tb_alloc(m, n * 4);
        for (size_t i = 0; i < n; i++) {
            int32_t v;
            switch (elem_type) {
            case TB_I32: v = ((const int32_t *)data)[i]; break;
            case TB_I16: v = ((const int16_t *)data)[i]; break;
            case TB_I8: v = ((const int8_t *)data)[i]; break;
            case TB_U8:
            case TB_BOOL: v = ((const uint8_t *)data)[i]; break;
            default: v = ((const uint16_t *)data)[i]; break;
            }
            t->int32_data[i] = v;
        }
        break;
    }
}

Onnx__TensorProto *tb_tensor(tb_model_t *m, const char *name, int elem_type, int ndim,
                             const int64_t *dims, const void *data, tb_mode_t mode)
{
    Onnx__TensorProto *t = tb_alloc(m, sizeof(*t));
    onnx__tensor_proto__init(t);
    t->name = tb_strdup(m, name);
    t->has_data_type = 1;
    t->data_type = elem_type;
    t->n_dims = (size_t)ndim;
    t->dims = tb_alloc(m, (size_t)ndim * sizeof(int64_t) + 1);
    size_t n = 1;
    for (int i = 0; i < ndim; i++) {
        t->dims[i] = dims[i];
        n *= (size_t)dims[i];
    }
    size_t bytes = n * elem_size(elem_type);
    if (mode == TB_TYPED || elem_type == TB_STR) {
        fill_typed(m, t, elem_type, data, n);
    } else if (mode == TB_RAW) {
        t->has_raw_data = 1;
        t->raw_data.len = bytes;
        t->raw_data.data = tb_alloc(m, bytes);
        if (bytes)
            memcpy(t->raw_data.data, data, bytes);
    } else {
        char path[128];
        snprintf(path, sizeof(path), "%s/weights.bin", m->dir);
        FILE *f = fopen(path, "ab");
        assert_non_null(f);
        assert_int_equal(fwrite(data, 1, bytes, f), bytes);
        fclose(f);
        char num[32];
        t->has_data_location = 1;
        t->data_location = ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
        t->n_external_data = 3;
        t->external_data = tb_alloc(m, 3 * sizeof(void *));
        const char *keys[3] = {"location", "offset", "length"};
        for (int i = 0; i < 3; i++) {
            Onnx__StringStringEntryProto *e = tb_alloc(m, sizeof(*e));
            onnx__string_string_entry_proto__init(e);
            e->key = tb_strdup(m, keys[i]);
            if (i == 0) {
                e->value = tb_strdup(m, "weights.bin");
            } else {
                snprintf(num, sizeof(num), "%llu",
                         (unsigned long long)(i == 1 ? m->weights_len : bytes));
                e->value = tb_strdup(m, num);
            }
            t->external_data[i] = e;
        }
        m->weights_len += bytes;
    }
    return t;
}

Onnx__TensorProto *tb_initializer(tb_model_t *m, const char *name, int elem_type, int ndim,
                                  const int64_t *dims, const void *data, tb_mode_t mode)
{
    Onnx__TensorProto *t = tb_tensor(m, name, elem_type, ndim, dims, data, mode);
    assert_true(m->graph.n_initializer < TB_CAP);
    m->graph.initializer[m->graph.n_initializer++] = t;
    return t;
}

static char **split_names(tb_model_t *m, const char *list, size_t *n)
{
    *n = 0;
    if (!list || !*list)
        return NULL;
    size_t count = 1;
    for (const char *p = list; *p; p++)
        count += *p == ',';
    char **out = tb_alloc(m, count * sizeof(char *));
    const char *p = list;
    for (size_t i = 0; i < count; i++) {
        const char *e = strchr(p, ',');
        size_t len = e ? (size_t)(e - p) : strlen(p);
        out[i] = tb_alloc(m, len + 1);
        memcpy(out[i], p, len);
        p += len + (e ? 1 : 0);
    }
    *n = count;
    return out;
}

Onnx__NodeProto *tb_node(tb_model_t *m, const char *op_type, const char *name, const char *inputs,
                         const char *outputs)
{
    Onnx__NodeProto *n = tb_alloc(m, sizeof(*n));
    onnx__node_proto__init(n);
    n->op_type = tb_strdup(m, op_type);
    if (name)
        n->name = tb_strdup(m, name);
    n->input = split_names(m, inputs, &n->n_input);
    n->output = split_names(m, outputs, &n->n_output);
    n->attribute = tb_alloc(m, TB_CAP * sizeof(void *));
    assert_true(m->graph.n_node < TB_CAP);
    m->graph.node[m->graph.n_node++] = n;
    return n;
}

void tb_node_domain(tb_model_t *m, Onnx__NodeProto *n, const char *domain)
{
    n->domain = tb_strdup(m, domain);
}

static Onnx__AttributeProto *new_attr(tb_model_t *m, Onnx__NodeProto *n, const char *name,
                                      Onnx__AttributeProto__AttributeType type)
{
    Onnx__AttributeProto *a = tb_alloc(m, sizeof(*a));
    onnx__attribute_proto__init(a);
    a->name = tb_strdup(m, name);
    a->has_type = 1;
    a->type = type;
    assert_true(n->n_attribute < TB_CAP);
    n->attribute[n->n_attribute++] = a;
    return a;
}

void tb_attr_int(tb_model_t *m, Onnx__NodeProto *n, const char *name, int64_t v)
{
    Onnx__AttributeProto *a = new_attr(m, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT);
    a->has_i = 1;
    a->i = v;
}

void tb_attr_float(tb_model_t *m, Onnx__NodeProto *n, const char *name, float v)
{
    Onnx__AttributeProto *a = new_attr(m, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT);
    a->has_f = 1;
    a->f = v;
}

void tb_attr_ints(tb_model_t *m, Onnx__NodeProto *n, const char *name, size_t count,
                  const int64_t *v)
{
    Onnx__AttributeProto *a = new_attr(m, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS);
    a->n_ints = count;
    a->ints = tb_alloc(m, count * sizeof(int64_t));
    if (count)
        memcpy(a->ints, v, count * sizeof(int64_t));
}

void tb_attr_floats(tb_model_t *m, Onnx__NodeProto *n, const char *name, size_t count,
                    const float *v)
{
    Onnx__AttributeProto *a = new_attr(m, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS);
    a->n_floats = count;
    a->floats = tb_alloc(m, count * sizeof(float));
    if (count)
        memcpy(a->floats, v, count * sizeof(float));
}

void tb_attr_string(tb_model_t *m, Onnx__NodeProto *n, const char *name, const char *v)
{
    Onnx__AttributeProto *a = new_attr(m, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING);
    a->has_s = 1;
    a->s.len = strlen(v);
    a->s.data = (uint8_t *)tb_strdup(m, v);
}

void tb_attr_tensor(tb_model_t *m, Onnx__NodeProto *n, const char *name, Onnx__TensorProto *t)
{
    Onnx__AttributeProto *a = new_attr(m, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR);
    a->t = t;
}

const uint8_t *tb_pack(tb_model_t *m, size_t *len)
{
    size_t n = onnx__model_proto__get_packed_size(&m->model);
    m->packed = tb_alloc(m, n);
    m->packed_len = onnx__model_proto__pack(&m->model, m->packed);
    assert_int_equal(m->packed_len, n);
    *len = n;
    return m->packed;
}

const char *tb_write_file(tb_model_t *m, const char *name, const void *data, size_t len)
{
    char *path = tb_alloc(m, strlen(m->dir) + strlen(name) + 2);
    snprintf(path, strlen(m->dir) + strlen(name) + 2, "%s/%s", m->dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    if (len)
        assert_int_equal(fwrite(data, 1, len, f), len);
    fclose(f);
    return path;
}

const char *tb_write(tb_model_t *m)
{
    size_t len;
    const uint8_t *p = tb_pack(m, &len);
    m->path = (char *)tb_write_file(m, "model.onnx", p, len);
    return m->path;
}

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

void tb_free(tb_model_t *m)
{
    if (!m)
        return;
    nftw(m->dir, rm_entry, 8, FTW_DEPTH | FTW_PHYS);
    for (size_t i = 0; i < m->n_allocs; i++)
        inferd_free(m->allocs[i]);
    inferd_free(m->allocs);
    inferd_free(m);
}

inferd_status_t tb_load(tb_model_t *m, void **state, inferd_err_t *err)
{
    return inferd_onnx_backend_vtable.load(tb_write(m), NULL, state, err);
}

inferd_status_t tb_run(tb_model_t *m, inferd_tensor_t **inputs, size_t n_inputs,
                       inferd_tensor_t **outputs, size_t n_outputs, inferd_err_t *err)
{
    void *state = NULL;
    inferd_status_t rc = tb_load(m, &state, err);
    if (rc == INFERD_OK) {
        const inferd_backend_io_t *ins, *outs;
        size_t ni, no;
        inferd_onnx_backend_vtable.describe(state, &ins, &ni, &outs, &no);
        assert_int_equal(ni, n_inputs);
        assert_int_equal(no, n_outputs);
        inferd_ctx_t ctx;
        inferd_ctx_init(&ctx);
        rc = inferd_onnx_backend_vtable.execute(&ctx, state, inputs, outputs, err);
        assert_null(atomic_load(&ctx.current_op));
        inferd_onnx_backend_vtable.unload(state);
    }
    for (size_t i = 0; i < n_inputs; i++)
        inferd_tensor_unref(inputs[i]);
    return rc;
}

inferd_tensor_t *tb_t(inferd_dtype_t dt, int ndim, const int64_t *dims, const void *data)
{
    inferd_err_t err;
    inferd_tensor_t *t = inferd_tensor_create(dt, dims, ndim, 0, INFERD_OWNER_REQUEST, &err);
    assert_non_null(t);
    if (t->nbytes && data)
        memcpy(t->data, data, t->nbytes);
    return t;
}

static double load_float(inferd_dtype_t dt, const void *p, size_t i)
{
    switch (dt) {
    case INFERD_DTYPE_FP32: return ((const float *)p)[i];
    case INFERD_DTYPE_FP64: return ((const double *)p)[i];
    default: return 0;
    }
}

void tb_expect(const inferd_tensor_t *t, inferd_dtype_t dt, int ndim, const int64_t *dims,
               const void *want, double tol)
{
    assert_non_null(t);
    if (t->dtype != dt)
        fail_msg("dtype %s, want %s", inferd_dtype_name(t->dtype), inferd_dtype_name(dt));
    assert_int_equal(t->ndim, ndim);
    for (int i = 0; i < ndim; i++)
        if (t->dims[i] != dims[i])
            fail_msg("dim %d is %lld, want %lld", i, (long long)t->dims[i], (long long)dims[i]);
    uint64_t n = inferd_tensor_numel(t);
    if (dt == INFERD_DTYPE_FP32 || dt == INFERD_DTYPE_FP64) {
        for (uint64_t i = 0; i < n; i++) {
            double got = load_float(dt, t->data, i), exp = load_float(dt, want, i);
            double lim = tol * (fabs(exp) > 1 ? fabs(exp) : 1);
            bool ok = isnan(exp) ? isnan(got) : isinf(exp) ? got == exp : fabs(got - exp) <= lim;
            if (!ok)
                fail_msg("element %llu is %.9g, want %.9g", (unsigned long long)i, got, exp);
        }
        return;
    }
    size_t es = inferd_dtype_size(dt);
    for (uint64_t i = 0; i < n; i++)
        if (memcmp((const char *)t->data + i * es, (const char *)want + i * es, es) != 0) {
            long long got = 0, exp = 0;
            memcpy(&got, (const char *)t->data + i * es, es < 8 ? es : 8);
            memcpy(&exp, (const char *)want + i * es, es < 8 ? es : 8);
            fail_msg("element %llu differs: bits 0x%llx, want 0x%llx", (unsigned long long)i, got,
                     exp);
        }
}

void tb_expect_msg(const inferd_err_t *err, const char *needle)
{
    if (!strstr(err->msg, needle))
        fail_msg("message \"%s\" does not contain \"%s\"", err->msg, needle);
}

/* numpy: h = max(x @ W1 + b1, 0); l = h @ W2.T + b2; probs = softmax(l, axis=1). */
const float TB_MLP_X[8] = {1.0f, -2.0f, 0.5f, 3.0f, -1.5f, 0.25f, 2.0f, -0.75f};
const float TB_MLP_PROBS[4] = {0.9358362f, 0.06416388f, 0.0957816f, 0.90421844f};
const int64_t TB_MLP_CLS[2] = {0, 1};

void tb_build_mlp(tb_model_t *m, tb_mode_t w_mode)
{
    static const float w1[12] = {0.1f,  -0.2f, 0.3f, 0.4f, 0.5f,  -0.6f,
                                 -0.7f, 0.8f,  0.9f, 1.0f, -1.1f, 0.2f};
    static const float b1[3] = {0.05f, -0.1f, 0.2f};
    static const float w2[6] = {0.3f, -0.5f, 0.7f, -0.2f, 0.6f, 0.1f};
    static const float b2[2] = {0.01f, -0.02f};
    tb_input(m, "x", TB_F32, 2, TB_DIMS(-1, 4));
    tb_initializer(m, "W1", TB_F32, 2, TB_DIMS(4, 3), w1, w_mode);
    tb_initializer(m, "b1", TB_F32, 1, TB_DIMS(3), b1, TB_TYPED);
    tb_initializer(m, "W2", TB_F32, 2, TB_DIMS(2, 3), w2, w_mode);
    tb_initializer(m, "b2", TB_F32, 1, TB_DIMS(2), b2, w_mode);
    tb_node(m, "MatMul", "fc1", "x,W1", "xw");
    tb_node(m, "Add", "bias1", "xw,b1", "pre");
    tb_node(m, "Relu", "relu", "pre", "h");
    Onnx__NodeProto *g = tb_node(m, "Gemm", "fc2", "h,W2,b2", "logits");
    tb_attr_int(m, g, "transB", 1);
    Onnx__NodeProto *s = tb_node(m, "Softmax", "softmax", "logits", "probs");
    tb_attr_int(m, s, "axis", 1);
    Onnx__NodeProto *a = tb_node(m, "ArgMax", "argmax", "logits", "cls");
    tb_attr_int(m, a, "axis", 1);
    tb_attr_int(m, a, "keepdims", 0);
    tb_output(m, "probs", TB_F32, 2, TB_DIMS(-1, 2));
    tb_output(m, "cls", TB_I64, 1, TB_DIMS(-1));
}

int tb_elem_type(inferd_dtype_t dt)
{
    switch (dt) {
    case INFERD_DTYPE_FP32: return TB_F32;
    case INFERD_DTYPE_UINT8: return TB_U8;
    case INFERD_DTYPE_INT8: return TB_I8;
    case INFERD_DTYPE_UINT16: return TB_U16;
    case INFERD_DTYPE_INT16: return TB_I16;
    case INFERD_DTYPE_INT32: return TB_I32;
    case INFERD_DTYPE_INT64: return TB_I64;
    case INFERD_DTYPE_BYTES: return TB_STR;
    case INFERD_DTYPE_BOOL: return TB_BOOL;
    case INFERD_DTYPE_FP16: return TB_F16;
    case INFERD_DTYPE_FP64: return TB_F64;
    case INFERD_DTYPE_UINT32: return TB_U32;
    case INFERD_DTYPE_UINT64: return TB_U64;
    case INFERD_DTYPE_BF16: return TB_BF16;
    default: fail_msg("no ONNX type for %s", inferd_dtype_name(dt));
    }
    return 0;
}

void tb_op_init(tb_op_t *o, int64_t opset, const char *op_type)
{
    memset(o, 0, sizeof(*o));
    o->m = tb_model(opset);
    o->node = tb_node(o->m, op_type, "node", "", "y");
    o->node->input = tb_alloc(o->m, 16 * sizeof(char *));
    tb_output(o->m, "y", 0, -1, NULL);
}

static void op_add_input(tb_op_t *o, const char *name)
{
    assert_true(o->node->n_input < 16);
    o->node->input[o->node->n_input++] = tb_strdup(o->m, name);
}

void tb_op_input(tb_op_t *o, inferd_tensor_t *t)
{
    char name[16];
    snprintf(name, sizeof(name), "i%zu", o->node->n_input);
    int64_t dims[INFERD_MAX_DIMS];
    for (int i = 0; i < t->ndim; i++)
        dims[i] = -1;
    tb_input(o->m, name, tb_elem_type(t->dtype), t->ndim, dims);
    op_add_input(o, name);
    o->in[o->n_in++] = t;
}

void tb_op_const(tb_op_t *o, inferd_tensor_t *t)
{
    char name[16];
    snprintf(name, sizeof(name), "c%zu", o->node->n_input);
    tb_initializer(o->m, name, tb_elem_type(t->dtype), t->ndim, t->dims, t->data, TB_RAW);
    op_add_input(o, name);
    inferd_tensor_unref(t);
}

void tb_op_skip(tb_op_t *o)
{
    op_add_input(o, "");
}

inferd_status_t tb_op_run(tb_op_t *o, inferd_tensor_t **y, inferd_err_t *err)
{
    *y = NULL;
    inferd_status_t rc = tb_run(o->m, o->in, o->n_in, y, 1, err);
    tb_free(o->m);
    o->m = NULL;
    return rc;
}

void tb_attr_graph(tb_model_t *m, Onnx__NodeProto *n, const char *name, Onnx__GraphProto *g)
{
    Onnx__AttributeProto *a = new_attr(m, n, name, ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH);
    a->g = g;
}

Onnx__GraphProto *tb_graph(tb_model_t *m)
{
    return &m->graph;
}
