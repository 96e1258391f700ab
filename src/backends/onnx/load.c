/* ONNX loader: reads a model file with protobuf-c (code generated from Debian's
 * onnx.proto at build time), copies what the engine needs into the graph IR (values,
 * nodes, attributes, opsets), turns initializers into INFERD_OWNER_MODEL tensors
 * (typed fields, raw_data, or external data files next to the model), frees the protobuf,
 * and hands the graph to inferd_onnx_graph_finalize. This is the only file that sees the
 * protobuf types. */
#include "backends/onnx/graph.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "onnx.pb-c.h"

#if !defined(__BYTE_ORDER__) || __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "raw_data is little-endian and is copied as is: the engine needs a little-endian host"
#endif

/* protobuf caps a message at 2 GiB; bigger models keep their weights in external files. */
#define MODEL_FILE_MAX ((size_t)INT32_MAX)
/* Attributes on one node (operators take at most a few dozen). */
#define MAX_NODE_ATTRS 1024

/* ------------------------------------------------------------------------------------ */
/* protobuf-c glue                                                                      */

static void *pb_alloc(void *data, size_t size)
{
    (void)data;
    return inferd_malloc(size);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    inferd_free(p);
}

static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

static inferd_dtype_t dtype_from_onnx(int32_t t)
{
    switch (t) {
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT: return INFERD_DTYPE_FP32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT8: return INFERD_DTYPE_UINT8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT8: return INFERD_DTYPE_INT8;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT16: return INFERD_DTYPE_UINT16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT16: return INFERD_DTYPE_INT16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT32: return INFERD_DTYPE_INT32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__INT64: return INFERD_DTYPE_INT64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__STRING: return INFERD_DTYPE_BYTES;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BOOL: return INFERD_DTYPE_BOOL;
    case ONNX__TENSOR_PROTO__DATA_TYPE__FLOAT16: return INFERD_DTYPE_FP16;
    case ONNX__TENSOR_PROTO__DATA_TYPE__DOUBLE: return INFERD_DTYPE_FP64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT32: return INFERD_DTYPE_UINT32;
    case ONNX__TENSOR_PROTO__DATA_TYPE__UINT64: return INFERD_DTYPE_UINT64;
    case ONNX__TENSOR_PROTO__DATA_TYPE__BFLOAT16: return INFERD_DTYPE_BF16;
    default: return INFERD_DTYPE_INVALID; /* complex, undefined, and types newer than 1.12 */
    }
}

static const char *str_or_empty(const char *s)
{
    return s ? s : "";
}

/* ------------------------------------------------------------------------------------ */
/* Files                                                                                */

static inferd_status_t read_file(const char *path, uint8_t **out, size_t *len, inferd_err_t *err)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return inferd_err_set(err, errno == ENOENT ? INFERD_E_NOT_FOUND : INFERD_E_INVALID_ARG,
                              "cannot open: %s", strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        close(fd);
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "not a regular file");
    }
    if ((uint64_t)st.st_size > MODEL_FILE_MAX) {
        close(fd);
        return inferd_err_set(err, INFERD_E_TOO_LARGE,
                              "file is %lld bytes; protobuf allows 2 GiB (store weights as "
                              "external data)",
                              (long long)st.st_size);
    }
    size_t n = (size_t)st.st_size;
    uint8_t *buf = inferd_malloc(n);
    if (!buf) {
        close(fd);
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory reading %zu bytes",
                              n);
    }
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            inferd_status_t rc = inferd_err_set(err, INFERD_E_INVALID_ARG, "read failed: %s",
                                                r < 0 ? strerror(errno) : "file shrank");
            close(fd);
            inferd_free(buf);
            return rc;
        }
        got += (size_t)r;
    }
    close(fd);
    *out = buf;
    *len = n;
    return INFERD_OK;
}

static bool parse_u64(const char *s, uint64_t *out)
{
    if (!s || !*s)
        return false;
    uint64_t v = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9' || v > (UINT64_MAX - 9) / 10)
            return false;
        v = v * 10 + (uint64_t)(*s - '0');
    }
    *out = v;
    return true;
}

/* An external data location must stay inside the model's directory: no absolute path
 * and no ".." component, so a model cannot make the server read arbitrary files. */
static bool location_is_safe(const char *loc)
{
    if (!*loc || loc[0] == '/')
        return false;
    for (const char *p = loc; *p;) {
        const char *e = strchr(p, '/');
        size_t n = e ? (size_t)(e - p) : strlen(p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

/* Finds, checks and opens the external data of tp before anything is allocated for it:
 * on success *fd is open and holds nbytes at *offset. */
static inferd_status_t open_external(const Onnx__TensorProto *tp, const char *dir, size_t nbytes,
                                     int *fd_out, uint64_t *offset_out, inferd_err_t *err)
{
    const char *location = NULL;
    uint64_t offset = 0, length = 0;
    bool has_length = false;
    for (size_t i = 0; i < tp->n_external_data; i++) {
        const char *k = str_or_empty(tp->external_data[i]->key);
        const char *v = tp->external_data[i]->value;
        if (strcmp(k, "location") == 0) {
            location = v;
        } else if (strcmp(k, "offset") == 0) {
            if (!parse_u64(v, &offset))
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "bad external data offset '%s'",
                                      str_or_empty(v));
        } else if (strcmp(k, "length") == 0) {
            if (!parse_u64(v, &length))
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "bad external data length '%s'",
                                      str_or_empty(v));
            has_length = true;
        }
    }
    if (!location)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "external data has no location");
    if (!location_is_safe(location))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "external data location '%s' is not a relative path inside the "
                              "model directory",
                              location);
    if (has_length && length != nbytes)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "external data length %llu does not match the %zu bytes the "
                              "shape needs",
                              (unsigned long long)length, nbytes);
    size_t dl = strlen(dir), ll = strlen(location);
    char *path = inferd_xmalloc(dl + 1 + ll + 1);
    memcpy(path, dir, dl);
    path[dl] = '/';
    memcpy(path + dl + 1, location, ll + 1);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    inferd_free(path);
    if (fd < 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "cannot open external data '%s': %s",
                              location, strerror(errno));
    struct stat st;
    inferd_status_t rc = INFERD_OK;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
        rc = inferd_err_set(err, INFERD_E_INVALID_ARG, "external data '%s' is not a regular file",
                            location);
    else if (offset > (uint64_t)st.st_size || nbytes > (uint64_t)st.st_size - offset)
        rc = inferd_err_set(err, INFERD_E_INVALID_ARG,
                            "external data '%s' has %lld bytes, %zu needed at offset %llu",
                            location, (long long)st.st_size, nbytes, (unsigned long long)offset);
    if (rc != INFERD_OK) {
        close(fd);
        return rc;
    }
    *fd_out = fd;
    *offset_out = offset;
    return INFERD_OK;
}

static inferd_status_t pread_all(int fd, void *dst, size_t n, uint64_t offset, inferd_err_t *err)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = pread(fd, (char *)dst + got, n - got, (off_t)(offset + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "reading external data failed: %s",
                                  r < 0 ? strerror(errno) : "file shrank");
        got += (size_t)r;
    }
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Tensors                                                                              */

static inferd_status_t typed_count_error(const char *field, size_t have, uint64_t want,
                                         inferd_err_t *err)
{
    return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s holds %zu values, the shape needs %llu",
                          field, have, (unsigned long long)want);
}

/* The typed field that carries dt's values, and how many values it holds. */
static size_t typed_count(const Onnx__TensorProto *tp, inferd_dtype_t dt, const char **field)
{
    switch (dt) {
    case INFERD_DTYPE_FP32: *field = "float_data"; return tp->n_float_data;
    case INFERD_DTYPE_FP64: *field = "double_data"; return tp->n_double_data;
    case INFERD_DTYPE_INT64: *field = "int64_data"; return tp->n_int64_data;
    case INFERD_DTYPE_UINT64:
    case INFERD_DTYPE_UINT32: *field = "uint64_data"; return tp->n_uint64_data;
    case INFERD_DTYPE_BYTES: *field = "string_data"; return tp->n_string_data;
    default:
        /* int32_data carries every narrower integer, bool, and the bit patterns of the
         * 16-bit floats. */
        *field = "int32_data";
        return tp->n_int32_data;
    }
}

/* Copies the typed-field payload of tp (whose count was checked) into dst. */
static void copy_typed(const Onnx__TensorProto *tp, inferd_dtype_t dt, void *dst, uint64_t numel)
{
    for (uint64_t i = 0; i < numel; i++) {
        switch (dt) {
        case INFERD_DTYPE_FP32: ((float *)dst)[i] = tp->float_data[i]; break;
        case INFERD_DTYPE_FP64: ((double *)dst)[i] = tp->double_data[i]; break;
        case INFERD_DTYPE_INT64: ((int64_t *)dst)[i] = tp->int64_data[i]; break;
        case INFERD_DTYPE_UINT64: ((uint64_t *)dst)[i] = tp->uint64_data[i]; break;
        case INFERD_DTYPE_UINT32: ((uint32_t *)dst)[i] = (uint32_t)tp->uint64_data[i]; break;
        case INFERD_DTYPE_INT32: ((int32_t *)dst)[i] = tp->int32_data[i]; break;
        case INFERD_DTYPE_INT16: ((int16_t *)dst)[i] = (int16_t)tp->int32_data[i]; break;
        case INFERD_DTYPE_INT8: ((int8_t *)dst)[i] = (int8_t)tp->int32_data[i]; break;
        case INFERD_DTYPE_UINT8: ((uint8_t *)dst)[i] = (uint8_t)tp->int32_data[i]; break;
        case INFERD_DTYPE_BOOL: ((uint8_t *)dst)[i] = tp->int32_data[i] != 0; break;
        default: /* UINT16, FP16, BF16 */ ((uint16_t *)dst)[i] = (uint16_t)tp->int32_data[i]; break;
        }
    }
}

static inferd_tensor_t *strings_from_proto(const Onnx__TensorProto *tp, int ndim, inferd_err_t *err)
{
    size_t total = 0;
    for (size_t i = 0; i < tp->n_string_data; i++) {
        if (tp->string_data[i].len > UINT32_MAX) {
            inferd_err_set(err, INFERD_E_TOO_LARGE, "string element too long");
            return NULL;
        }
        total += 4 + tp->string_data[i].len;
    }
    inferd_tensor_t *t =
        inferd_tensor_create(INFERD_DTYPE_BYTES, tp->dims, ndim, total, INFERD_OWNER_MODEL, err);
    if (!t)
        return NULL;
    uint8_t *p = t->data;
    for (size_t i = 0; i < tp->n_string_data; i++) {
        uint32_t len = (uint32_t)tp->string_data[i].len;
        p[0] = (uint8_t)len;
        p[1] = (uint8_t)(len >> 8);
        p[2] = (uint8_t)(len >> 16);
        p[3] = (uint8_t)(len >> 24);
        if (len)
            memcpy(p + 4, tp->string_data[i].data, len);
        p += 4 + len;
    }
    return t;
}

/* Builds a model tensor from a TensorProto (an initializer or a Constant's value). dir is
 * the model's directory for external data. Every size is checked against the payload
 * before anything is allocated, so a corrupt dim cannot make the loader ask for
 * terabytes. */
static inferd_status_t tensor_from_proto(const Onnx__TensorProto *tp, const char *dir,
                                         inferd_tensor_t **out, inferd_err_t *err)
{
    *out = NULL;
    inferd_dtype_t dt = dtype_from_onnx(tp->data_type);
    if (dt == INFERD_DTYPE_INVALID)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "unsupported element type %d",
                              (int)tp->data_type);
    if (tp->segment)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "segmented tensors are not supported");
    if (tp->n_dims > INFERD_MAX_DIMS)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "rank %zu exceeds the engine's %d",
                              tp->n_dims, INFERD_MAX_DIMS);
    int ndim = (int)tp->n_dims;
    uint64_t numel;
    inferd_status_t rc = inferd_shape_numel(tp->dims, ndim, UINT64_MAX, &numel, err);
    if (rc != INFERD_OK)
        return rc;
    bool external =
        tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL;
    const char *field;
    size_t have = typed_count(tp, dt, &field);

    if (dt == INFERD_DTYPE_BYTES) {
        if (external || tp->has_raw_data)
            return inferd_err_set(err, INFERD_E_UNSUPPORTED, "string tensors must use string_data");
        if (have != numel)
            return typed_count_error(field, have, numel, err);
        *out = strings_from_proto(tp, ndim, err);
        return *out ? INFERD_OK : err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    }

    size_t es = inferd_dtype_size(dt);
    if (numel > SIZE_MAX / es)
        return inferd_err_set(err, INFERD_E_TOO_LARGE, "%llu elements are too many",
                              (unsigned long long)numel);
    size_t nbytes = (size_t)numel * es;
    int fd = -1;
    uint64_t offset = 0;
    if (external)
        rc = open_external(tp, dir, nbytes, &fd, &offset, err);
    else if (tp->has_raw_data && tp->raw_data.len != nbytes)
        rc = inferd_err_set(err, INFERD_E_INVALID_ARG,
                            "raw_data holds %zu bytes, the shape needs %zu", tp->raw_data.len,
                            nbytes);
    else if (!tp->has_raw_data && have != numel)
        rc = typed_count_error(field, have, numel, err);
    if (rc != INFERD_OK)
        return rc;

    inferd_tensor_t *t = inferd_tensor_create(dt, tp->dims, ndim, 0, INFERD_OWNER_MODEL, err);
    if (!t) {
        if (fd >= 0)
            close(fd);
        return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    }
    if (external) {
        rc = pread_all(fd, t->data, nbytes, offset, err);
        close(fd);
    } else if (tp->has_raw_data) {
        if (nbytes)
            memcpy(t->data, tp->raw_data.data, nbytes);
    } else {
        copy_typed(tp, dt, t->data, numel);
    }
    if (rc != INFERD_OK) {
        inferd_tensor_unref(t);
        return rc;
    }
    *out = t;
    return INFERD_OK;
}

inferd_status_t inferd_onnx_tensor_decode(const uint8_t *buf, size_t len, inferd_tensor_t **out,
                                          inferd_err_t *err)
{
    *out = NULL;
    Onnx__TensorProto *tp = onnx__tensor_proto__unpack(&pb_allocator, len, buf);
    if (!tp)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "not a valid TensorProto");
    inferd_status_t rc;
    if (tp->has_data_location && tp->data_location == ONNX__TENSOR_PROTO__DATA_LOCATION__EXTERNAL)
        rc = inferd_err_set(err, INFERD_E_UNSUPPORTED, "a lone tensor cannot use external data");
    else
        rc = tensor_from_proto(tp, ".", out, err);
    onnx__tensor_proto__free_unpacked(tp, &pb_allocator);
    return rc;
}

/* ------------------------------------------------------------------------------------ */
/* Building the graph                                                                   */

typedef struct builder builder_t;
struct builder {
    inferd_onnx_graph_t *g;
    const char *dir;
    size_t values_cap;
    int *slots; /* open-addressing name -> value index + 1 (0 = empty) */
    size_t n_slots;
    builder_t *parent;  /* the enclosing graph's builder, for a subgraph */
    int (*captures)[2]; /* captured outer values: {this graph's index, the enclosing one's} */
    int n_captures;
    size_t captures_cap;
};

static uint64_t name_hash(const char *s)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (; *s; s++)
        h = (h ^ (uint8_t)*s) * 1099511628211ull;
    return h;
}

static int value_find(const builder_t *b, const char *name)
{
    size_t mask = b->n_slots - 1;
    for (size_t i = name_hash(name) & mask;; i = (i + 1) & mask) {
        int s = b->slots[i];
        if (s == 0)
            return -1;
        if (strcmp(b->g->values[s - 1].name, name) == 0)
            return s - 1;
    }
}

/* Adds a new value; the caller has checked that the name is not taken. */
static int value_add(builder_t *b, const char *name)
{
    inferd_onnx_graph_t *g = b->g;
    g->values =
        inferd_xgrow(g->values, sizeof(*g->values), (size_t)g->n_values + 1, &b->values_cap);
    int idx = g->n_values++;
    inferd_onnx_value_t *v = &g->values[idx];
    memset(v, 0, sizeof(*v));
    v->name = inferd_xstrdup(name);
    v->ndim = -1;
    v->input_index = -1;
    v->producer = -1;
    size_t mask = b->n_slots - 1;
    size_t i = name_hash(name) & mask;
    while (b->slots[i])
        i = (i + 1) & mask;
    b->slots[i] = idx + 1;
    return idx;
}

/* Finds name in this graph or, for a subgraph, in an enclosing graph: an outer value
 * becomes a local value the subgraph captures (and, recursively, so it does in every
 * graph in between). -1 when no graph defines it. */
static int value_lookup(builder_t *b, const char *name)
{
    int idx = value_find(b, name);
    if (idx >= 0 || !b->parent)
        return idx;
    int outer = value_lookup(b->parent, name);
    if (outer < 0)
        return -1;
    idx = value_add(b, name);
    b->captures = inferd_xgrow(b->captures, sizeof(*b->captures), (size_t)b->n_captures + 1,
                               &b->captures_cap);
    b->captures[b->n_captures][0] = idx;
    b->captures[b->n_captures][1] = outer;
    b->n_captures++;
    return idx;
}

static inferd_status_t parse_value_info(const Onnx__ValueInfoProto *vi, inferd_onnx_value_t *v,
                                        const char *what, inferd_err_t *err)
{
    const Onnx__TypeProto *tp = vi->type;
    if (!tp || tp->value_case == ONNX__TYPE_PROTO__VALUE__NOT_SET)
        return INFERD_OK;
    if (tp->value_case != ONNX__TYPE_PROTO__VALUE_TENSOR_TYPE || !tp->tensor_type)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED,
                              "%s '%s' is not a tensor (sequence, map, optional and sparse "
                              "values are not supported)",
                              what, v->name);
    const Onnx__TypeProto__Tensor *tt = tp->tensor_type;
    if (tt->has_elem_type && tt->elem_type != 0) {
        v->declared_dtype = dtype_from_onnx(tt->elem_type);
        if (v->declared_dtype == INFERD_DTYPE_INVALID)
            return inferd_err_set(err, INFERD_E_UNSUPPORTED,
                                  "%s '%s' has unsupported element type %d", what, v->name,
                                  (int)tt->elem_type);
    }
    if (!tt->shape)
        return INFERD_OK;
    if (tt->shape->n_dim > INFERD_MAX_DIMS)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "%s '%s' has rank %zu, more than %d", what,
                              v->name, tt->shape->n_dim, INFERD_MAX_DIMS);
    v->ndim = (int)tt->shape->n_dim;
    for (int i = 0; i < v->ndim; i++) {
        const Onnx__TensorShapeProto__Dimension *d = tt->shape->dim[i];
        bool fixed = d->value_case == ONNX__TENSOR_SHAPE_PROTO__DIMENSION__VALUE_DIM_VALUE &&
                     d->dim_value >= 0;
        v->dims[i] = fixed ? d->dim_value : -1;
    }
    return INFERD_OK;
}

static char *copy_bytes(const uint8_t *p, size_t n)
{
    char *s = inferd_xmalloc(n + 1);
    if (n)
        memcpy(s, p, n);
    s[n] = '\0';
    return s;
}

static inferd_status_t convert_attr(const Onnx__AttributeProto *ap, inferd_onnx_attr_t *a,
                                    const char *dir, inferd_err_t *err)
{
    a->name = inferd_xstrdup(str_or_empty(ap->name));
    int type = ap->has_type ? (int)ap->type : 0;
    if (type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__UNDEFINED) {
        /* IR version 1 had no type field: infer it from the field that is set. */
        if (ap->has_f)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT;
        else if (ap->has_i)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT;
        else if (ap->has_s)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING;
        else if (ap->t)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR;
        else if (ap->n_floats)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS;
        else if (ap->n_ints)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS;
        else if (ap->n_strings)
            type = ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS;
    }
    switch (type) {
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOAT:
        a->type = INFERD_ONNX_ATTR_FLOAT;
        a->f = ap->f;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INT:
        a->type = INFERD_ONNX_ATTR_INT;
        a->i = ap->i;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRING:
        a->type = INFERD_ONNX_ATTR_STRING;
        a->s = copy_bytes(ap->s.data, ap->s.len);
        a->s_len = ap->s.len;
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__TENSOR:
        if (!ap->t)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "attribute '%s' has no tensor",
                                  a->name);
        a->type = INFERD_ONNX_ATTR_TENSOR;
        if (tensor_from_proto(ap->t, dir, &a->t, err) != INFERD_OK) {
            inferd_err_prefix(err, "attribute '%s'", a->name);
            return err ? err->code : INFERD_E_INVALID_ARG;
        }
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__FLOATS:
        a->type = INFERD_ONNX_ATTR_FLOATS;
        a->n = ap->n_floats;
        a->floats = inferd_xmalloc(a->n * sizeof(float));
        if (a->n)
            memcpy(a->floats, ap->floats, a->n * sizeof(float));
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__INTS:
        a->type = INFERD_ONNX_ATTR_INTS;
        a->n = ap->n_ints;
        a->ints = inferd_xmalloc(a->n * sizeof(int64_t));
        if (a->n)
            memcpy(a->ints, ap->ints, a->n * sizeof(int64_t));
        break;
    case ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__STRINGS:
        a->type = INFERD_ONNX_ATTR_STRINGS;
        a->n = ap->n_strings;
        a->strings = inferd_xcalloc(a->n, sizeof(char *));
        a->string_lens = inferd_xcalloc(a->n, sizeof(size_t));
        for (size_t i = 0; i < a->n; i++) {
            a->strings[i] = copy_bytes(ap->strings[i].data, ap->strings[i].len);
            a->string_lens[i] = ap->strings[i].len;
        }
        break;
    default: a->type = INFERD_ONNX_ATTR_OTHER; break;
    }
    return INFERD_OK;
}

static inferd_status_t add_initializers(builder_t *b, const Onnx__GraphProto *gp, inferd_err_t *err)
{
    if (gp->n_sparse_initializer)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "sparse initializers are not supported");
    for (size_t i = 0; i < gp->n_initializer; i++) {
        const Onnx__TensorProto *tp = gp->initializer[i];
        const char *name = str_or_empty(tp->name);
        if (!*name)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "initializer #%zu has no name", i);
        if (value_find(b, name) >= 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "initializer '%s' is defined twice",
                                  name);
        int idx = value_add(b, name);
        inferd_onnx_value_t *v = &b->g->values[idx];
        if (tensor_from_proto(tp, b->dir, &v->constant, err) != INFERD_OK) {
            inferd_err_prefix(err, "initializer '%s'", name);
            return err ? err->code : INFERD_E_INVALID_ARG;
        }
        v->dtype = v->constant->dtype;
    }
    return INFERD_OK;
}

static inferd_status_t add_inputs(builder_t *b, const Onnx__GraphProto *gp, inferd_err_t *err)
{
    inferd_onnx_graph_t *g = b->g;
    g->inputs = inferd_xcalloc(gp->n_input, sizeof(int));
    for (size_t i = 0; i < gp->n_input; i++) {
        const char *name = str_or_empty(gp->input[i]->name);
        if (!*name)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "graph input #%zu has no name", i);
        int idx = value_find(b, name);
        if (idx >= 0 && g->values[idx].constant) {
            /* An input that is also an initializer is a constant with a declared type
             * (IR < 4 listed every initializer as an input): not a model input. */
            continue;
        }
        if (idx >= 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "graph input '%s' is listed twice",
                                  name);
        idx = value_add(b, name);
        inferd_onnx_value_t *v = &g->values[idx];
        if (parse_value_info(gp->input[i], v, "input", err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        /* A body's inputs may leave their type to the node that runs it. */
        if (v->declared_dtype == INFERD_DTYPE_INVALID && !b->parent)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "input '%s' declares no element type",
                                  name);
        v->dtype = v->declared_dtype;
        v->input_index = g->n_inputs;
        g->inputs[g->n_inputs++] = idx;
    }
    return INFERD_OK;
}

static inferd_status_t build_subgraph(builder_t *parent, const Onnx__GraphProto *gp,
                                      inferd_onnx_graph_t **out, inferd_err_t *err);

/* Appends the outer values subgraph sub captures to node n's inputs (once each), so the
 * executor orders n after their producers and hands them to n at run time. */
static void add_implicit_inputs(inferd_onnx_node_t *n, const inferd_onnx_graph_t *sub)
{
    for (int k = 0; k < sub->n_captures; k++) {
        int v = sub->captures[k];
        bool have = false;
        for (int j = n->n_inputs - n->n_implicit; j < n->n_inputs && !have; j++)
            have = n->inputs[j] == v;
        if (have)
            continue;
        n->inputs = inferd_xrealloc(n->inputs, ((size_t)n->n_inputs + 1) * sizeof(int));
        n->inputs[n->n_inputs++] = v;
        n->n_implicit++;
    }
}

static inferd_status_t add_nodes(builder_t *b, const Onnx__GraphProto *gp, inferd_err_t *err)
{
    inferd_onnx_graph_t *g = b->g;
    g->nodes = inferd_xcalloc(gp->n_node, sizeof(*g->nodes));
    /* Outputs first, so that inputs can refer to nodes later in the file (the finalizer
     * sorts them). */
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        inferd_onnx_node_t *n = &g->nodes[g->n_nodes++];
        n->name = inferd_xstrdup(str_or_empty(np->name));
        n->op_type = inferd_xstrdup(str_or_empty(np->op_type));
        const char *dom = str_or_empty(np->domain);
        n->domain = inferd_xstrdup(strcmp(dom, "ai.onnx") == 0 ? "" : dom);
        n->label = inferd_xstrdup(*n->name ? n->name : n->op_type);
        if (!*n->op_type)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "node #%zu has no op_type", i);
        n->n_outputs = (int)np->n_output;
        n->outputs = inferd_xcalloc(np->n_output, sizeof(int));
        for (size_t j = 0; j < np->n_output; j++) {
            const char *name = str_or_empty(np->output[j]);
            if (!*name) {
                n->outputs[j] = -1;
                continue;
            }
            if (value_find(b, name) >= 0)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "value '%s' (output of node '%s') is defined twice", name,
                                      n->label);
            int idx = value_add(b, name);
            g->values[idx].producer = (int)i;
            n->outputs[j] = idx;
        }
    }
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        inferd_onnx_node_t *n = &g->nodes[i];
        n->n_inputs = (int)np->n_input;
        n->inputs = inferd_xcalloc(np->n_input, sizeof(int));
        for (size_t j = 0; j < np->n_input; j++) {
            const char *name = str_or_empty(np->input[j]);
            n->inputs[j] = *name ? value_lookup(b, name) : -1;
            if (*name && n->inputs[j] < 0)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "node '%s' (%s) reads '%s', which no input, initializer "
                                      "or node defines",
                                      n->label, n->op_type, name);
        }
        /* No operator has more than a few dozen attributes; a node with thousands is a
         * hostile file, and each attribute costs a lookup at every bind. */
        if (np->n_attribute > MAX_NODE_ATTRS)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "node '%s' (%s) has %zu attributes, more than %d", n->label,
                                  n->op_type, np->n_attribute, MAX_NODE_ATTRS);
        n->n_attrs = (int)np->n_attribute;
        n->attrs = inferd_xcalloc(np->n_attribute, sizeof(*n->attrs));
        for (size_t j = 0; j < np->n_attribute; j++) {
            const Onnx__AttributeProto *ap = np->attribute[j];
            inferd_status_t rc = convert_attr(ap, &n->attrs[j], b->dir, err);
            if (rc == INFERD_OK && ap->g &&
                (!ap->has_type || ap->type == ONNX__ATTRIBUTE_PROTO__ATTRIBUTE_TYPE__GRAPH)) {
                n->attrs[j].type = INFERD_ONNX_ATTR_GRAPH;
                rc = build_subgraph(b, ap->g, &n->attrs[j].g, err);
                if (rc == INFERD_OK)
                    add_implicit_inputs(n, n->attrs[j].g);
            }
            if (rc != INFERD_OK) {
                inferd_err_prefix(err, "node '%s' (%s)", n->label, n->op_type);
                return err ? err->code : INFERD_E_INVALID_ARG;
            }
        }
    }
    return INFERD_OK;
}

static inferd_status_t add_outputs(builder_t *b, const Onnx__GraphProto *gp, inferd_err_t *err)
{
    inferd_onnx_graph_t *g = b->g;
    if (gp->n_output == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "the graph has no outputs");
    g->outputs = inferd_xcalloc(gp->n_output, sizeof(int));
    for (size_t i = 0; i < gp->n_output; i++) {
        const char *name = str_or_empty(gp->output[i]->name);
        int idx = *name ? value_lookup(b, name) : -1;
        if (idx < 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "graph output '%s' is not produced by any node, input or "
                                  "initializer",
                                  name);
        inferd_onnx_value_t *v = &g->values[idx];
        if (v->is_output)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "graph output '%s' is listed twice",
                                  name);
        /* A graph input keeps the shape it declares as an input. */
        if (v->input_index < 0 && parse_value_info(gp->output[i], v, "output", err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        v->is_output = true;
        g->outputs[g->n_outputs++] = idx;
    }
    return INFERD_OK;
}

static void add_opsets(inferd_onnx_graph_t *g, const Onnx__ModelProto *mp)
{
    g->opsets = inferd_xcalloc(mp->n_opset_import + 1, sizeof(*g->opsets));
    for (size_t i = 0; i < mp->n_opset_import; i++) {
        const char *dom = str_or_empty(mp->opset_import[i]->domain);
        if (strcmp(dom, "ai.onnx") == 0)
            dom = "";
        g->opsets[g->n_opsets].domain = inferd_xstrdup(dom);
        g->opsets[g->n_opsets].version = mp->opset_import[i]->version;
        g->n_opsets++;
    }
    /* Models from before IR version 3 carry no opset_import: they are opset 1. */
    if (mp->n_opset_import == 0) {
        g->opsets[0].domain = inferd_xstrdup("");
        g->opsets[0].version = 1;
        g->n_opsets = 1;
    }
}

static size_t pow2_at_least(size_t n)
{
    size_t p = 16;
    while (p < n)
        p <<= 1;
    return p;
}

static inferd_status_t build_graph(builder_t *b, const Onnx__GraphProto *gp, inferd_err_t *err);

static inferd_status_t build(inferd_onnx_graph_t *g, const Onnx__ModelProto *mp, const char *dir,
                             inferd_err_t *err)
{
    const Onnx__GraphProto *gp = mp->graph;
    if (!gp)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "the model has no graph");
    g->ir_version = mp->has_ir_version ? mp->ir_version : 0;
    add_opsets(g, mp);

    builder_t b = {.g = g, .dir = dir};
    inferd_status_t rc = build_graph(&b, gp, err);
    inferd_free(b.slots);
    return rc;
}

/* Fills b->g from gp: values, inputs, nodes, outputs. */
static inferd_status_t build_graph(builder_t *b, const Onnx__GraphProto *gp, inferd_err_t *err)
{
    /* Room for every name the graph can define or (as a subgraph) capture. */
    size_t names = gp->n_initializer + gp->n_input + gp->n_output;
    for (size_t i = 0; i < gp->n_node; i++)
        names += gp->node[i]->n_output + gp->node[i]->n_input;
    b->n_slots = pow2_at_least(names * 2);
    b->slots = inferd_xcalloc(b->n_slots, sizeof(int));
    inferd_status_t rc = add_initializers(b, gp, err);
    if (rc == INFERD_OK)
        rc = add_inputs(b, gp, err);
    if (rc == INFERD_OK)
        rc = add_nodes(b, gp, err);
    if (rc == INFERD_OK)
        rc = add_outputs(b, gp, err);
    return rc;
}

/* Builds the body of a control-flow node. Names the body does not define resolve in the
 * enclosing graphs and become captures: extra inputs after the body's own, which the
 * node passes in at run time. The body is finalized later, by the node's init, once the
 * dtypes of everything it captures are known. */
static inferd_status_t build_subgraph(builder_t *parent, const Onnx__GraphProto *gp,
                                      inferd_onnx_graph_t **out, inferd_err_t *err)
{
    inferd_onnx_graph_t *pg = parent->g;
    inferd_onnx_graph_t *g = inferd_xcalloc(1, sizeof(*g));
    g->path = inferd_xstrdup(pg->path ? pg->path : "");
    g->ir_version = pg->ir_version;
    g->opsets = inferd_xcalloc((size_t)pg->n_opsets + 1, sizeof(*g->opsets));
    for (int i = 0; i < pg->n_opsets; i++) {
        g->opsets[i].domain = inferd_xstrdup(pg->opsets[i].domain);
        g->opsets[i].version = pg->opsets[i].version;
    }
    g->n_opsets = pg->n_opsets;
    builder_t b = {.g = g, .dir = parent->dir, .parent = parent};
    inferd_status_t rc = build_graph(&b, gp, err);
    if (rc == INFERD_OK && b.n_captures) {
        g->inputs =
            inferd_xrealloc(g->inputs, ((size_t)g->n_inputs + (size_t)b.n_captures) * sizeof(int));
        g->captures = inferd_xcalloc((size_t)b.n_captures, sizeof(int));
        for (int k = 0; k < b.n_captures; k++) {
            int v = b.captures[k][0];
            g->values[v].input_index = g->n_inputs;
            g->inputs[g->n_inputs++] = v;
            g->captures[k] = b.captures[k][1];
        }
        g->n_captures = b.n_captures;
    }
    inferd_free(b.slots);
    inferd_free(b.captures);
    if (rc != INFERD_OK) {
        inferd_err_prefix(err, "subgraph '%s'", gp->name ? gp->name : "");
        inferd_onnx_graph_destroy(g);
        return rc;
    }
    *out = g;
    return INFERD_OK;
}

/* protobuf-c unpacks nested messages by recursion, without a depth limit: a small file of
 * deeply nested subgraphs would overflow the loading thread's stack. So the wire format
 * is walked first, iteratively within a message and descending only into the fields the
 * schema declares as messages, up to protobuf's own default limit of 100 levels. Malformed
 * bytes are left for the unpacker to report. */
#define PB_MAX_DEPTH 100

static bool pb_varint(const uint8_t **p, const uint8_t *end, uint64_t *v)
{
    uint64_t r = 0;
    for (int shift = 0; shift < 64 && *p < end; shift += 7) {
        uint8_t b = *(*p)++;
        r |= (uint64_t)(b & 0x7f) << shift;
        if (!(b & 0x80)) {
            *v = r;
            return true;
        }
    }
    return false;
}

static bool pb_too_deep(const ProtobufCMessageDescriptor *d, const uint8_t *p, const uint8_t *end,
                        int depth)
{
    if (depth > PB_MAX_DEPTH)
        return true;
    while (p < end) {
        uint64_t key, v;
        if (!pb_varint(&p, end, &key))
            return false;
        switch (key & 7) {
        case 0:
            if (!pb_varint(&p, end, &v))
                return false;
            break;
        case 1:
        case 5: {
            size_t n = (key & 7) == 1 ? 8 : 4;
            if ((size_t)(end - p) < n)
                return false;
            p += n;
            break;
        }
        case 2: {
            if (!pb_varint(&p, end, &v) || v > (uint64_t)(end - p))
                return false;
            const ProtobufCFieldDescriptor *f =
                key >> 3 <= UINT_MAX
                    ? protobuf_c_message_descriptor_get_field(d, (unsigned)(key >> 3))
                    : NULL;
            if (f && f->type == PROTOBUF_C_TYPE_MESSAGE &&
                pb_too_deep(f->descriptor, p, p + v, depth + 1))
                return true;
            p += v;
            break;
        }
        default: return false;
        }
    }
    return false;
}

static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');
    if (!slash)
        return inferd_xstrdup(".");
    if (slash == path)
        return inferd_xstrdup("/");
    return inferd_xstrndup(path, (size_t)(slash - path));
}

inferd_status_t inferd_onnx_graph_load(const char *path, inferd_onnx_graph_t **out,
                                       inferd_err_t *err)
{
    *out = NULL;
    uint8_t *buf = NULL;
    size_t len = 0;
    inferd_status_t rc = read_file(path, &buf, &len, err);
    if (rc != INFERD_OK)
        return rc;
    rc = inferd_onnx_graph_load_buffer(buf, len, path, out, err);
    inferd_free(buf); /* protobuf-c copied what it kept */
    return rc;
}

inferd_status_t inferd_onnx_graph_load_buffer(const uint8_t *buf, size_t len, const char *path,
                                              inferd_onnx_graph_t **out, inferd_err_t *err)
{
    *out = NULL;
    if (len > MODEL_FILE_MAX)
        return inferd_err_set(err, INFERD_E_TOO_LARGE, "model is %zu bytes; protobuf allows 2 GiB",
                              len);
    if (pb_too_deep(&onnx__model_proto__descriptor, buf, buf + len, 1))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "messages nested more than %d deep (subgraphs within subgraphs)",
                              PB_MAX_DEPTH);
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&pb_allocator, len, buf);
    if (!mp)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "not a valid ONNX model (protobuf parsing failed)");

    inferd_onnx_graph_t *g = inferd_xcalloc(1, sizeof(*g));
    g->path = inferd_xstrdup(path);
    char *dir = dir_of(path);
    inferd_status_t rc = build(g, mp, dir, err);
    inferd_free(dir);
    onnx__model_proto__free_unpacked(mp, &pb_allocator);
    if (rc == INFERD_OK)
        rc = inferd_onnx_graph_finalize(g, err);
    if (rc != INFERD_OK) {
        inferd_onnx_graph_destroy(g);
        return rc;
    }
    *out = g;
    return INFERD_OK;
}
