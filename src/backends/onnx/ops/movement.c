/* Data movement: Transpose, Concat, Gather. None of them does arithmetic, so each kernel
 * works on element bytes and serves every fixed-size dtype (BYTES, whose elements vary in
 * size, is refused at load).
 *
 * Versions: Transpose 1 and 13 (types only). Concat 1 (axis optional, default 1), 4
 * (axis required), 11 (negative axis), 13. Gather 1, 11 (negative indices), 13. */
#include "backends/onnx/ops/ops.h"

#include "backends/onnx/kernels/simd_f32.h"

#include <string.h>

#include "core/alloc.h"
#include "core/pool.h"

static inferd_status_t transpose_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                         inferd_tensor_t *const *out, inferd_err_t *err);
static inferd_status_t concat_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err);
static inferd_status_t gather_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err);

static inferd_status_t need_fixed_size(const inferd_onnx_init_t *ic, int slot, inferd_err_t *err)
{
    if (inferd_dtype_size(ic->in_types[slot]) == 0)
        return inferd_onnx_unsupported_dtype(ic, slot, err);
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Transpose                                                                            */

typedef struct transpose_data {
    bool has_perm;
    int n;
    int64_t perm[INFERD_MAX_DIMS];
} transpose_data_t;

static inferd_status_t transpose_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (need_fixed_size(ic, 0, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    const int64_t *perm;
    size_t n;
    transpose_data_t d = {0};
    if (inferd_onnx_attr_ints(ic->node, "perm", &perm, &n, &d.has_perm, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (n > INFERD_MAX_DIMS)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "perm has %zu entries, at most %d", n,
                              INFERD_MAX_DIMS);
    bool seen[INFERD_MAX_DIMS] = {false};
    for (size_t i = 0; i < n; i++) {
        if (perm[i] < 0 || perm[i] >= (int64_t)n || seen[perm[i]])
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "perm is not a permutation of 0..%zu",
                                  n - 1);
        seen[perm[i]] = true;
        d.perm[i] = perm[i];
    }
    d.n = (int)n;
    transpose_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = transpose_compute;
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

/* The permutation for an input of rank r: the attribute, or reversed dims by default. */
static inferd_status_t perm_for(const transpose_data_t *d, int r, int *perm, inferd_err_t *err)
{
    if (d->has_perm && d->n != r)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "perm has %d entries but the input has rank %d", d->n, r);
    for (int i = 0; i < r; i++)
        perm[i] = d->has_perm ? (int)d->perm[i] : r - 1 - i;
    return INFERD_OK;
}

static inferd_status_t transpose_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                         inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int perm[INFERD_MAX_DIMS];
    if (perm_for(node->op_data, in[0]->ndim, perm, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0].ndim = in[0]->ndim;
    for (int i = 0; i < in[0]->ndim; i++)
        out[0].dims[i] = in[0]->dims[perm[i]];
    return INFERD_OK;
}

/* Walks the output in order; the input is read with the permuted strides. The innermost
 * output dim is a strided copy loop per element size. */
#define TRANSPOSE_ROW(T)                                                                           \
    do {                                                                                           \
        const T *s = (const T *)src + off;                                                         \
        T *o = (T *)dst + row * inner;                                                             \
        for (int64_t i = 0; i < inner; i++)                                                        \
            o[i] = s[i * istride];                                                                 \
    } while (0)

typedef struct transpose_job {
    const void *src;
    void *dst;
    size_t es;
    int r;
    int64_t inner, istride;
    int64_t od[INFERD_MAX_DIMS], os[INFERD_MAX_DIMS];
} transpose_job_t;

/* Output rows [lo, hi): the input offset of row lo from its index, then walked. */
static void transpose_rows(void *arg, int64_t lo, int64_t hi)
{
    const transpose_job_t *t = arg;
    int r = t->r;
    int64_t inner = t->inner, istride = t->istride;
    size_t es = t->es;
    const void *src = t->src;
    void *dst = t->dst;
    int64_t idx[INFERD_MAX_DIMS] = {0};
    int64_t off = 0;
    int64_t rem = lo;
    for (int i = r - 2; i >= 0; i--) {
        idx[i] = rem % t->od[i];
        rem /= t->od[i];
        off += idx[i] * t->os[i];
    }
    for (int64_t row = lo; row < hi; row++) {
        /* The last axis stays last (attention's head split/merge): a contiguous copy. */
        switch (istride == 1 ? 0 : es) {
        case 0:
            memcpy((char *)dst + row * inner * es, (const char *)src + off * es, inner * es);
            break;
        case 1: TRANSPOSE_ROW(uint8_t); break;
        case 2: TRANSPOSE_ROW(uint16_t); break;
        case 4: TRANSPOSE_ROW(uint32_t); break;
        default: TRANSPOSE_ROW(uint64_t); break;
        }
        for (int i = r - 2; i >= 0; i--) {
            off += t->os[i];
            if (++idx[i] < t->od[i])
                break;
            off -= t->os[i] * t->od[i];
            idx[i] = 0;
        }
    }
}

static inferd_status_t transpose_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                         inferd_tensor_t *const *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    int r = x->ndim;
    int perm[INFERD_MAX_DIMS];
    if (perm_for(node->op_data, r, perm, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    uint64_t numel = inferd_tensor_numel(x);
    size_t es = inferd_dtype_size(x->dtype);
    if (numel == 0)
        return INFERD_OK;
    if (r == 0) {
        memcpy(out[0]->data, x->data, es);
        return INFERD_OK;
    }
    transpose_job_t t = {.src = x->data, .dst = out[0]->data, .es = es, .r = r};
    int64_t xstride[INFERD_MAX_DIMS];
    int64_t st = 1;
    for (int i = r - 1; i >= 0; i--) {
        xstride[i] = st;
        st *= x->dims[i];
    }
    for (int i = 0; i < r; i++) {
        t.od[i] = x->dims[perm[i]];
        t.os[i] = xstride[perm[i]];
    }
    t.inner = t.od[r - 1];
    t.istride = t.os[r - 1];
    int64_t rows = (int64_t)numel / t.inner;
    /* Rows split over the intra-op pool when large (a copy: exact on any split). */
    int64_t row_bytes = t.inner * (int64_t)es;
    inferd_pool_for_range(rows, (INFERD_ONNX_PAR_GRAIN * 4 + row_bytes - 1) / row_bytes, 1,
                          transpose_rows, &t);
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Concat                                                                               */

static inferd_status_t concat_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_onnx_node_t *n = ic->node;
    for (int i = 0; i < n->n_inputs; i++) {
        if (ic->in_types[i] == INFERD_DTYPE_INVALID)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "input %d is empty", i);
        if (ic->in_types[i] != ic->in_types[0])
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "inputs differ in type (%s and %s)",
                                  inferd_dtype_name(ic->in_types[0]),
                                  inferd_dtype_name(ic->in_types[i]));
    }
    if (need_fixed_size(ic, 0, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    if (n->opset >= 4 && !inferd_onnx_attr_find(n, "axis"))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "attribute 'axis' is required");
    int64_t *axis = inferd_xmalloc(sizeof(*axis));
    if (inferd_onnx_attr_int(n, "axis", 1, axis, err) != INFERD_OK) {
        inferd_free(axis);
        return err ? err->code : INFERD_E_INVALID_ARG;
    }
    n->op_data = axis;
    n->compute = concat_compute;
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

static inferd_status_t concat_shape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    int *axis_out, inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const inferd_tensor_t *x0 = in[0];
    int axis;
    if (inferd_onnx_axis(*(const int64_t *)node->op_data, x0->ndim, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    inferd_onnx_shape_of(x0, out);
    out->dims[axis] = 0;
    for (int i = 0; i < node->n_inputs; i++) {
        const inferd_tensor_t *x = in[i];
        bool ok = x->ndim == x0->ndim;
        for (int d = 0; ok && d < x0->ndim; d++)
            ok = d == axis || x->dims[d] == x0->dims[d];
        if (!ok) {
            char s0[128], si[128];
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "input %d %s does not match input 0 %s outside axis %d", i,
                                  inferd_onnx_dims_str(x->dims, x->ndim, si, sizeof(si)),
                                  inferd_onnx_dims_str(x0->dims, x0->ndim, s0, sizeof(s0)), axis);
        }
        out->dims[axis] += x->dims[axis];
    }
    *axis_out = axis;
    return INFERD_OK;
}

static inferd_status_t concat_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int axis;
    return concat_shape(node, in, &axis, &out[0], err);
}

static inferd_status_t concat_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    int axis;
    inferd_onnx_shape_t s;
    if (concat_shape(node, in, &axis, &s, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    size_t es = inferd_dtype_size(out[0]->dtype);
    int64_t outer = inferd_onnx_dims_prod(s.dims, 0, axis);
    size_t inner = (size_t)inferd_onnx_dims_prod(s.dims, axis + 1, s.ndim) * es;
    char *dst = out[0]->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int i = 0; i < node->n_inputs; i++) {
            size_t chunk = (size_t)in[i]->dims[axis] * inner;
            if (chunk)
                memcpy(dst, (const char *)in[i]->data + (size_t)o * chunk, chunk);
            dst += chunk;
        }
    }
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Gather                                                                               */

static inferd_status_t gather_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (need_fixed_size(ic, 0, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    if (ic->in_types[1] != INFERD_DTYPE_INT64 && ic->in_types[1] != INFERD_DTYPE_INT32)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "indices must be INT32 or INT64, got %s",
                              inferd_dtype_name(ic->in_types[1]));
    int64_t *axis = inferd_xmalloc(sizeof(*axis));
    if (inferd_onnx_attr_int(ic->node, "axis", 0, axis, err) != INFERD_OK) {
        inferd_free(axis);
        return err ? err->code : INFERD_E_INVALID_ARG;
    }
    ic->node->op_data = axis;
    ic->node->compute = gather_compute;
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

static inferd_status_t gather_shape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    int *axis_out, inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0], *idx = in[1];
    int axis;
    if (inferd_onnx_axis(*(const int64_t *)node->op_data, x->ndim, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    int r = x->ndim - 1 + idx->ndim;
    if (r > INFERD_MAX_DIMS)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "result rank %d exceeds %d", r,
                              INFERD_MAX_DIMS);
    out->ndim = 0;
    for (int d = 0; d < axis; d++)
        out->dims[out->ndim++] = x->dims[d];
    for (int d = 0; d < idx->ndim; d++)
        out->dims[out->ndim++] = idx->dims[d];
    for (int d = axis + 1; d < x->ndim; d++)
        out->dims[out->ndim++] = x->dims[d];
    *axis_out = axis;
    return INFERD_OK;
}

static inferd_status_t gather_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int axis;
    return gather_shape(node, in, &axis, &out[0], err);
}

static inferd_status_t gather_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0], *ind = in[1];
    int axis;
    inferd_onnx_shape_t s;
    if (gather_shape(node, in, &axis, &s, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    size_t es = inferd_dtype_size(x->dtype);
    int64_t outer = inferd_onnx_dims_prod(x->dims, 0, axis);
    int64_t n = x->dims[axis];
    size_t chunk = (size_t)inferd_onnx_dims_prod(x->dims, axis + 1, x->ndim) * es;
    int64_t count = (int64_t)inferd_tensor_numel(ind);
    const char *src = x->data;
    char *dst = out[0]->data;
    for (int64_t o = 0; o < outer; o++) {
        for (int64_t j = 0; j < count; j++) {
            int64_t k = ind->dtype == INFERD_DTYPE_INT64 ? ((const int64_t *)ind->data)[j]
                                                         : ((const int32_t *)ind->data)[j];
            if (k < -n || k >= n)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "index %lld is out of range for axis %d of size %lld",
                                      (long long)k, axis, (long long)n);
            if (k < 0)
                k += n;
            if (chunk)
                memcpy(dst, src + ((size_t)o * (size_t)n + (size_t)k) * chunk, chunk);
            dst += chunk;
        }
    }
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_movement[] = {
    {"", "Transpose", 1, 1, 1, 1, transpose_init, transpose_reshape},
    {"", "Transpose", 13, 1, 1, 1, transpose_init, transpose_reshape},
    {"", "Concat", 1, 1, -1, 1, concat_init, concat_reshape},
    {"", "Concat", 4, 1, -1, 1, concat_init, concat_reshape},
    {"", "Concat", 11, 1, -1, 1, concat_init, concat_reshape},
    {"", "Concat", 13, 1, -1, 1, concat_init, concat_reshape},
    {"", "Gather", 1, 2, 2, 1, gather_init, gather_reshape},
    {"", "Gather", 11, 2, 2, 1, gather_init, gather_reshape},
    {"", "Gather", 13, 2, 2, 1, gather_init, gather_reshape},
};
const size_t inferd_onnx_ops_movement_count =
    sizeof(inferd_onnx_ops_movement) / sizeof(inferd_onnx_ops_movement[0]);
