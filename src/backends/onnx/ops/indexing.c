/* Index-driven data movement: GatherElements, GatherND, ScatterElements (and the
 * deprecated Scatter), ScatterND, DepthToSpace, SpaceToDepth.
 *
 * Elements are moved as bytes, so every fixed-size dtype shares one kernel per op.
 * Indices are INT32 or INT64, may be negative (counted from the end), and are checked
 * against the indexed dim: an out-of-range index fails the run with INVALID_ARG rather
 * than reading or writing outside the tensor. Scatter reductions (opset 16: add, mul;
 * 18: max, min) go through double, exact for every value the engine's types hold below
 * 2^53. Duplicate indices without a reduction keep the last update, as the reference
 * implementation does. */
#include "backends/onnx/ops/ops.h"

#include <string.h>

#include "core/alloc.h"

typedef enum { RED_NONE, RED_ADD, RED_MUL, RED_MAX, RED_MIN } scatter_red_t;

typedef struct index_data {
    int64_t axis;       /* GatherElements / ScatterElements */
    int64_t batch_dims; /* GatherND */
    int64_t block;      /* DepthToSpace / SpaceToDepth */
    bool crd;           /* DepthToSpace mode CRD */
    scatter_red_t red;
} index_data_t;

static int64_t load_index(const inferd_tensor_t *t, uint64_t i)
{
    return t->dtype == INFERD_DTYPE_INT32 ? ((const int32_t *)t->data)[i]
                                          : ((const int64_t *)t->data)[i];
}

/* Normalizes index v into [0, dim) or fails. */
static inferd_status_t fix_index(int64_t *v, int64_t dim, inferd_err_t *err)
{
    if (*v < -dim || *v >= dim)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "index %lld is out of range for dim %lld",
                              (long long)*v, (long long)dim);
    if (*v < 0)
        *v += dim;
    return INFERD_OK;
}

static void strides_of(const int64_t *dims, int ndim, int64_t *st)
{
    int64_t acc = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        st[i] = acc;
        acc *= dims[i];
    }
}

static bool index_next(int64_t *idx, const int64_t *dims, int ndim)
{
    for (int i = ndim - 1; i >= 0; i--) {
        if (++idx[i] < dims[i])
            return true;
        idx[i] = 0;
    }
    return false;
}

/* dst = red(dst, src) for one element of dtype dt. */
static void combine(void *dst, const void *src, inferd_dtype_t dt, scatter_red_t red)
{
    if (red == RED_NONE) {
        memcpy(dst, src, inferd_dtype_size(dt));
        return;
    }
    double a = inferd_onnx_load_f64(dst, dt, 0), b = inferd_onnx_load_f64(src, dt, 0), r = a;
    switch (red) {
    case RED_ADD: r = a + b; break;
    case RED_MUL: r = a * b; break;
    case RED_MAX: r = a > b ? a : b; break;
    case RED_MIN: r = a < b ? a : b; break;
    case RED_NONE: break;
    }
    inferd_onnx_store_f64(dst, dt, 0, r);
}

static inferd_status_t check_common(inferd_onnx_init_t *ic, int index_slot, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    if (dt == INFERD_DTYPE_BYTES || inferd_dtype_size(dt) == 0)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (index_slot >= 0 && ic->in_types[index_slot] != INFERD_DTYPE_INT32 &&
        ic->in_types[index_slot] != INFERD_DTYPE_INT64)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "indices must be INT32 or INT64, got %s",
                              inferd_dtype_name(ic->in_types[index_slot]));
    return INFERD_OK;
}

static inferd_status_t bind(inferd_onnx_init_t *ic, const index_data_t *d,
                            inferd_onnx_compute_fn fn)
{
    index_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = *d;
    ic->node->op_data = p;
    ic->node->compute = fn;
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

static inferd_status_t read_reduction(const inferd_onnx_node_t *node, scatter_red_t *red,
                                      inferd_err_t *err)
{
    *red = RED_NONE;
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(node, "reduction");
    if (!a || node->opset < 16)
        return INFERD_OK;
    if (a->type != INFERD_ONNX_ATTR_STRING)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "reduction must be a string");
    if (strcmp(a->s, "none") == 0)
        *red = RED_NONE;
    else if (strcmp(a->s, "add") == 0)
        *red = RED_ADD;
    else if (strcmp(a->s, "mul") == 0)
        *red = RED_MUL;
    else if (strcmp(a->s, "max") == 0)
        *red = RED_MAX;
    else if (strcmp(a->s, "min") == 0)
        *red = RED_MIN;
    else
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown reduction '%s'", a->s);
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* GatherElements / ScatterElements                                                     */

static inferd_status_t indices_shape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_onnx_shape_t *out, inferd_err_t *err)
{
    inferd_onnx_shape_of(in[1], &out[0]);
    if (in[1]->ndim != in[0]->ndim)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "indices rank %d differs from data rank %d", in[1]->ndim,
                              in[0]->ndim);
    return INFERD_OK;
}

static inferd_status_t gather_elements_compute(const inferd_onnx_node_t *node,
                                               inferd_tensor_t *const *in,
                                               inferd_tensor_t *const *out, inferd_err_t *err)
{
    const index_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *ix = in[1];
    int axis;
    if (inferd_onnx_axis(d->axis, x->ndim, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    size_t es = inferd_dtype_size(x->dtype);
    int64_t st[INFERD_MAX_DIMS], idx[INFERD_MAX_DIMS] = {0};
    strides_of(x->dims, x->ndim, st);
    uint64_t n = inferd_tensor_numel(ix);
    for (uint64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int k = 0; k < x->ndim; k++) {
            int64_t c = idx[k];
            if (k == axis) {
                c = load_index(ix, i);
                if (fix_index(&c, x->dims[k], err) != INFERD_OK)
                    return err ? err->code : INFERD_E_INVALID_ARG;
            } else if (c >= x->dims[k]) {
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "indices exceed data on dim %d",
                                      k);
            }
            off += c * st[k];
        }
        memcpy((char *)out[0]->data + i * es, (const char *)x->data + (size_t)off * es, es);
        index_next(idx, ix->dims, ix->ndim);
    }
    return INFERD_OK;
}

static inferd_status_t gather_elements_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    index_data_t d = {0};
    if (check_common(ic, 1, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "axis", 0, &d.axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    return bind(ic, &d, gather_elements_compute);
}

static inferd_status_t data_shape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_onnx_shape_t *out, inferd_err_t *err)
{
    inferd_onnx_shape_of(in[0], &out[0]);
    return INFERD_OK;
}

static inferd_status_t scatter_elements_compute(const inferd_onnx_node_t *node,
                                                inferd_tensor_t *const *in,
                                                inferd_tensor_t *const *out, inferd_err_t *err)
{
    const index_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *ix = in[1], *up = in[2];
    int axis;
    if (inferd_onnx_axis(d->axis, x->ndim, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (ix->ndim != x->ndim || up->ndim != ix->ndim ||
        memcmp(ix->dims, up->dims, (size_t)ix->ndim * sizeof(int64_t)) != 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "indices and updates must have one shape of data's rank");
    size_t es = inferd_dtype_size(x->dtype);
    if (x->nbytes)
        memcpy(out[0]->data, x->data, x->nbytes);
    int64_t st[INFERD_MAX_DIMS], idx[INFERD_MAX_DIMS] = {0};
    strides_of(x->dims, x->ndim, st);
    uint64_t n = inferd_tensor_numel(ix);
    for (uint64_t i = 0; i < n; i++) {
        int64_t off = 0;
        for (int k = 0; k < x->ndim; k++) {
            int64_t c = idx[k];
            if (k == axis) {
                c = load_index(ix, i);
                if (fix_index(&c, x->dims[k], err) != INFERD_OK)
                    return err ? err->code : INFERD_E_INVALID_ARG;
            } else if (c >= x->dims[k]) {
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "indices exceed data on dim %d",
                                      k);
            }
            off += c * st[k];
        }
        combine((char *)out[0]->data + (size_t)off * es, (const char *)up->data + i * es, x->dtype,
                d->red);
        index_next(idx, ix->dims, ix->ndim);
    }
    return INFERD_OK;
}

static inferd_status_t scatter_elements_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    index_data_t d = {0};
    if (check_common(ic, 1, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "axis", 0, &d.axis, err) != INFERD_OK ||
        read_reduction(ic->node, &d.red, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (ic->in_types[2] != ic->in_types[0])
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "updates differ in type from data");
    return bind(ic, &d, scatter_elements_compute);
}

/* ------------------------------------------------------------------------------------ */
/* GatherND / ScatterND                                                                 */

static inferd_status_t gather_nd_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                         inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const index_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *ix = in[1];
    int64_t b = d->batch_dims;
    if (ix->ndim < 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "indices must have rank >= 1");
    int64_t m = ix->dims[ix->ndim - 1];
    if (b < 0 || b >= ix->ndim || b + m > x->ndim)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "indices' last dim %lld does not fit",
                              (long long)m);
    out[0].ndim = 0;
    for (int i = 0; i < ix->ndim - 1; i++)
        out[0].dims[out[0].ndim++] = ix->dims[i];
    for (int64_t i = b + m; i < x->ndim; i++) {
        if (out[0].ndim >= INFERD_MAX_DIMS)
            return inferd_err_set(err, INFERD_E_UNSUPPORTED, "result rank too large");
        out[0].dims[out[0].ndim++] = x->dims[i];
    }
    return INFERD_OK;
}

/* Byte offset in data of the slice that index tuple t (of m values, after batch b) names. */
static inferd_status_t nd_offset(const inferd_tensor_t *x, const inferd_tensor_t *ix, uint64_t t,
                                 int64_t m, int64_t b, int64_t batch, int64_t *off,
                                 inferd_err_t *err)
{
    int64_t st[INFERD_MAX_DIMS];
    strides_of(x->dims, x->ndim, st);
    /* The batch dims are flattened: batch-th slice of the leading b dims. */
    int64_t o = batch * (b > 0 ? st[b - 1] : 0);
    for (int64_t k = 0; k < m; k++) {
        int64_t v = load_index(ix, t * (uint64_t)m + (uint64_t)k);
        if (fix_index(&v, x->dims[b + k], err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        o += v * st[b + k];
    }
    *off = o;
    return INFERD_OK;
}

static inferd_status_t gather_nd_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                         inferd_tensor_t *const *out, inferd_err_t *err)
{
    const index_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *ix = in[1];
    int64_t b = d->batch_dims, m = ix->dims[ix->ndim - 1];
    size_t es = inferd_dtype_size(x->dtype);
    int64_t slice = inferd_onnx_dims_prod(x->dims, (int)(b + m), x->ndim);
    int64_t tuples = inferd_onnx_dims_prod(ix->dims, 0, ix->ndim - 1);
    int64_t batches = inferd_onnx_dims_prod(ix->dims, 0, (int)b);
    int64_t per_batch = batches ? tuples / batches : 0;
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off;
        if (nd_offset(x, ix, (uint64_t)t, m, b, per_batch ? t / per_batch : 0, &off, err) !=
            INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        if (slice)
            memcpy((char *)out[0]->data + (size_t)(t * slice) * es,
                   (const char *)x->data + (size_t)off * es, (size_t)slice * es);
    }
    return INFERD_OK;
}

static inferd_status_t gather_nd_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    index_data_t d = {0};
    if (check_common(ic, 1, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "batch_dims", 0, &d.batch_dims, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (ic->in_types[1] != INFERD_DTYPE_INT64)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "GatherND indices must be INT64");
    return bind(ic, &d, gather_nd_compute);
}

static inferd_status_t scatter_nd_compute(const inferd_onnx_node_t *node,
                                          inferd_tensor_t *const *in, inferd_tensor_t *const *out,
                                          inferd_err_t *err)
{
    const index_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *ix = in[1], *up = in[2];
    if (ix->ndim < 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "indices must have rank >= 1");
    int64_t m = ix->dims[ix->ndim - 1];
    if (m > x->ndim)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "indices' last dim exceeds data's rank");
    size_t es = inferd_dtype_size(x->dtype);
    int64_t slice = inferd_onnx_dims_prod(x->dims, (int)m, x->ndim);
    int64_t tuples = inferd_onnx_dims_prod(ix->dims, 0, ix->ndim - 1);
    if ((int64_t)inferd_tensor_numel(up) != tuples * slice)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "updates have the wrong element count");
    if (x->nbytes)
        memcpy(out[0]->data, x->data, x->nbytes);
    for (int64_t t = 0; t < tuples; t++) {
        int64_t off;
        if (nd_offset(x, ix, (uint64_t)t, m, 0, 0, &off, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        for (int64_t e = 0; e < slice; e++)
            combine((char *)out[0]->data + (size_t)(off + e) * es,
                    (const char *)up->data + (size_t)(t * slice + e) * es, x->dtype, d->red);
    }
    return INFERD_OK;
}

static inferd_status_t scatter_nd_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    index_data_t d = {0};
    if (check_common(ic, -1, err) != INFERD_OK ||
        read_reduction(ic->node, &d.red, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (ic->in_types[1] != INFERD_DTYPE_INT64)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "ScatterND indices must be INT64");
    if (ic->in_types[2] != ic->in_types[0])
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "updates differ in type from data");
    return bind(ic, &d, scatter_nd_compute);
}

/* ------------------------------------------------------------------------------------ */
/* DepthToSpace / SpaceToDepth                                                          */

static inferd_status_t d2s_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const index_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    int64_t b = d->block;
    if (x->ndim != 4)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "expected a 4-D NCHW input");
    inferd_onnx_shape_of(x, &out[0]);
    if (strcmp(node->op_type, "DepthToSpace") == 0) {
        if (x->dims[1] % (b * b))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "channels %lld are not a multiple of blocksize^2",
                                  (long long)x->dims[1]);
        out[0].dims[1] = x->dims[1] / (b * b);
        out[0].dims[2] = x->dims[2] * b;
        out[0].dims[3] = x->dims[3] * b;
    } else {
        if (x->dims[2] % b || x->dims[3] % b)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "height and width must be multiples of blocksize");
        out[0].dims[1] = x->dims[1] * b * b;
        out[0].dims[2] = x->dims[2] / b;
        out[0].dims[3] = x->dims[3] / b;
    }
    return INFERD_OK;
}

/* Both ops map (n, c, h, w) of the deep tensor to (n, c', h*b+i, w*b+j) of the wide one;
 * depth_to_space says which way the copy goes. */
static void space_depth_copy(const index_data_t *d, const char *src, char *dst, const int64_t *deep,
                             size_t es, bool depth_to_space)
{
    int64_t b = d->block, N = deep[0], C = deep[1], H = deep[2], W = deep[3];
    int64_t c2 = C / (b * b), H2 = H * b, W2 = W * b;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++) {
            int64_t oc, i, j;
            if (d->crd) {
                oc = c / (b * b);
                i = (c / b) % b;
                j = c % b;
            } else {
                oc = c % c2;
                i = (c / c2) / b;
                j = (c / c2) % b;
            }
            for (int64_t h = 0; h < H; h++)
                for (int64_t w = 0; w < W; w++) {
                    size_t deep_off = (size_t)(((n * C + c) * H + h) * W + w) * es;
                    size_t wide_off =
                        (size_t)(((n * c2 + oc) * H2 + h * b + i) * W2 + w * b + j) * es;
                    if (depth_to_space)
                        memcpy(dst + wide_off, src + deep_off, es);
                    else
                        memcpy(dst + deep_off, src + wide_off, es);
                }
        }
}

static inferd_status_t d2s_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    const index_data_t *d = node->op_data;
    size_t es = inferd_dtype_size(in[0]->dtype);
    bool d2s = strcmp(node->op_type, "DepthToSpace") == 0;
    const int64_t *deep = d2s ? in[0]->dims : out[0]->dims;
    space_depth_copy(d, in[0]->data, out[0]->data, deep, es, d2s);
    return INFERD_OK;
}

static inferd_status_t d2s_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    index_data_t d = {0};
    if (check_common(ic, -1, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "blocksize", 0, &d.block, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (d.block < 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "blocksize must be positive");
    const inferd_onnx_attr_t *m = inferd_onnx_attr_find(ic->node, "mode");
    d.crd = m && m->type == INFERD_ONNX_ATTR_STRING && strcmp(m->s, "CRD") == 0;
    return bind(ic, &d, d2s_compute);
}

/* ------------------------------------------------------------------------------------ */
/* Registration                                                                         */

const inferd_onnx_op_t inferd_onnx_ops_indexing[] = {
    {"", "GatherElements", 11, 2, 2, 1, gather_elements_init, indices_shape},
    {"", "GatherElements", 13, 2, 2, 1, gather_elements_init, indices_shape},
    {"", "Scatter", 9, 3, 3, 1, scatter_elements_init, data_shape},
    {"", "ScatterElements", 11, 3, 3, 1, scatter_elements_init, data_shape},
    {"", "ScatterElements", 13, 3, 3, 1, scatter_elements_init, data_shape},
    {"", "ScatterElements", 16, 3, 3, 1, scatter_elements_init, data_shape},
    {"", "ScatterElements", 18, 3, 3, 1, scatter_elements_init, data_shape},
    {"", "GatherND", 11, 2, 2, 1, gather_nd_init, gather_nd_reshape},
    {"", "GatherND", 12, 2, 2, 1, gather_nd_init, gather_nd_reshape},
    {"", "GatherND", 13, 2, 2, 1, gather_nd_init, gather_nd_reshape},
    {"", "ScatterND", 11, 3, 3, 1, scatter_nd_init, data_shape},
    {"", "ScatterND", 13, 3, 3, 1, scatter_nd_init, data_shape},
    {"", "ScatterND", 16, 3, 3, 1, scatter_nd_init, data_shape},
    {"", "ScatterND", 18, 3, 3, 1, scatter_nd_init, data_shape},
    {"", "DepthToSpace", 1, 1, 1, 1, d2s_init, d2s_reshape},
    {"", "DepthToSpace", 11, 1, 1, 1, d2s_init, d2s_reshape},
    {"", "DepthToSpace", 13, 1, 1, 1, d2s_init, d2s_reshape},
    {"", "SpaceToDepth", 1, 1, 1, 1, d2s_init, d2s_reshape},
    {"", "SpaceToDepth", 13, 1, 1, 1, d2s_init, d2s_reshape},
};
const size_t inferd_onnx_ops_indexing_count =
    sizeof(inferd_onnx_ops_indexing) / sizeof(inferd_onnx_ops_indexing[0]);
