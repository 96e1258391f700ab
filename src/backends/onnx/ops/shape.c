/* Shape-only ops: Identity, Reshape, Flatten, Squeeze, Unsqueeze (all views of their
 * input: the node is marked alias and the executor makes an inferd_tensor_view with the
 * shape reshape computes, so no data moves), and Shape (which writes the dims as INT64).
 * Every dtype is accepted, BYTES included, since none of them reads elements.
 *
 * Versions: Reshape takes its target shape as an attribute in opset 1 and as an input
 * from 5, and gains allowzero in 14. Squeeze and Unsqueeze take axes as an attribute
 * before 13 and as an input from 13 (optional for Squeeze). Shape gains start/end in 15.
 * Negative axes are accepted in every version. */
#include "backends/onnx/ops/ops.h"

#include <string.h>

#include "core/alloc.h"

static inferd_status_t alias_init(inferd_onnx_init_t *ic)
{
    ic->node->alias = true;
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

/* Axis lists as an attribute (older opsets) or as a constant-size input (newer ones). */
typedef struct axes_data {
    bool from_attr; /* axes given as an attribute (possibly absent: has_axes) */
    bool has_axes;
    int n;
    int64_t axes[INFERD_MAX_DIMS];
    bool allowzero; /* Reshape only */
} axes_data_t;

static inferd_status_t axes_from_attr(inferd_onnx_init_t *ic, const char *name, axes_data_t *d,
                                      inferd_err_t *err)
{
    const int64_t *v;
    size_t n;
    bool present;
    if (inferd_onnx_attr_ints(ic->node, name, &v, &n, &present, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (n > INFERD_MAX_DIMS)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED,
                              "attribute '%s' has %zu values, at most %d", name, n,
                              INFERD_MAX_DIMS);
    d->from_attr = true;
    d->has_axes = present;
    d->n = (int)n;
    if (n)
        memcpy(d->axes, v, n * sizeof(int64_t));
    return INFERD_OK;
}

static void *copy_data(const axes_data_t *d)
{
    axes_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = *d;
    return p;
}

/* The axes for this run: from the attribute, or from input 1. *present is false when
 * neither gives any. */
static inferd_status_t axes_for_run(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    const char *what, int64_t *axes, int *n, bool *present,
                                    inferd_err_t *err)
{
    const axes_data_t *d = node->op_data;
    if (d->from_attr) {
        *present = d->has_axes;
        *n = d->n;
        memcpy(axes, d->axes, sizeof(d->axes));
        return INFERD_OK;
    }
    *present = in[1] != NULL;
    *n = 0;
    if (!in[1])
        return INFERD_OK;
    return inferd_onnx_read_ints(in[1], what, axes, INFERD_MAX_DIMS, n, err);
}

/* ------------------------------------------------------------------------------------ */
/* Identity                                                                             */

static inferd_status_t identity_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return alias_init(ic);
}

static inferd_status_t identity_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                        inferd_onnx_shape_t *out, inferd_err_t *err)
{
    inferd_onnx_shape_of(in[0], &out[0]);
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Reshape                                                                              */

static inferd_status_t reshape_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    axes_data_t d = {0};
    if (ic->node->opset < 5) {
        if (axes_from_attr(ic, "shape", &d, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        if (!d.has_axes)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "attribute 'shape' is required");
    } else if (ic->in_types[1] != INFERD_DTYPE_INT64) {
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "the shape input must be INT64, got %s",
                              inferd_dtype_name(ic->in_types[1]));
    }
    int64_t allowzero = 0;
    if (ic->node->opset >= 14 &&
        inferd_onnx_attr_int(ic->node, "allowzero", 0, &allowzero, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    d.allowzero = allowzero != 0;
    ic->node->op_data = copy_data(&d);
    return alias_init(ic);
}

static inferd_status_t reshape_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                       inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const axes_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    int64_t req[INFERD_MAX_DIMS];
    int n;
    bool present;
    if (axes_for_run(node, in, "shape", req, &n, &present, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    uint64_t total = inferd_tensor_numel(x);
    int infer = -1;
    bool has_zero = false;
    uint64_t known = 1;
    char sx[128], sr[128];
    for (int i = 0; i < n; i++) {
        int64_t s = req[i];
        if (s == -1) {
            if (infer >= 0)
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "shape %s has more than one -1",
                                      inferd_onnx_dims_str(req, n, sr, sizeof(sr)));
            infer = i;
            continue;
        }
        if (s < -1)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "shape %s has a negative dimension",
                                  inferd_onnx_dims_str(req, n, sr, sizeof(sr)));
        if (s == 0 && !d->allowzero) {
            if (i >= x->ndim)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "shape %s copies dimension %d of %s, which has none",
                                      inferd_onnx_dims_str(req, n, sr, sizeof(sr)), i,
                                      inferd_onnx_dims_str(x->dims, x->ndim, sx, sizeof(sx)));
            s = x->dims[i];
        }
        has_zero |= s == 0;
        out[0].dims[i] = s;
        if (s != 0 && known > total / (uint64_t)s)
            known = total + 1; /* larger than the input either way: fails below */
        else
            known *= (uint64_t)s;
    }
    out[0].ndim = n;
    if (infer >= 0) {
        if (d->allowzero && has_zero)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "shape %s has both 0 and -1 with allowzero set",
                                  inferd_onnx_dims_str(req, n, sr, sizeof(sr)));
        if (known == 0 || total % known != 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "cannot reshape %s to %s",
                                  inferd_onnx_dims_str(x->dims, x->ndim, sx, sizeof(sx)),
                                  inferd_onnx_dims_str(req, n, sr, sizeof(sr)));
        out[0].dims[infer] = (int64_t)(total / known);
    } else if (known != total) {
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "cannot reshape %s to %s",
                              inferd_onnx_dims_str(x->dims, x->ndim, sx, sizeof(sx)),
                              inferd_onnx_dims_str(req, n, sr, sizeof(sr)));
    }
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Flatten                                                                              */

static inferd_status_t flatten_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    int64_t axis;
    if (inferd_onnx_attr_int(ic->node, "axis", 1, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    axes_data_t d = {.n = 1, .axes = {axis}};
    ic->node->op_data = copy_data(&d);
    return alias_init(ic);
}

static inferd_status_t flatten_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                       inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const axes_data_t *d = node->op_data;
    int r = in[0]->ndim;
    int64_t axis = d->axes[0];
    /* Flatten's axis ranges over [-r, r]: axis r puts every dim in the rows. */
    if (axis < -r || axis > r)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "axis %lld is out of range for rank %d",
                              (long long)axis, r);
    int a = (int)(axis < 0 ? axis + r : axis);
    out[0].ndim = 2;
    out[0].dims[0] = inferd_onnx_dims_prod(in[0]->dims, 0, a);
    out[0].dims[1] = inferd_onnx_dims_prod(in[0]->dims, a, r);
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Squeeze and Unsqueeze                                                                */

static inferd_status_t squeeze_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    axes_data_t d = {0};
    if (ic->node->opset < 13 && axes_from_attr(ic, "axes", &d, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    ic->node->op_data = copy_data(&d);
    return alias_init(ic);
}

static inferd_status_t squeeze_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                       inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    int64_t axes[INFERD_MAX_DIMS];
    int n;
    bool present;
    if (axes_for_run(node, in, "axes", axes, &n, &present, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    bool drop[INFERD_MAX_DIMS] = {false};
    if (!present) {
        for (int i = 0; i < x->ndim; i++)
            drop[i] = x->dims[i] == 1;
    }
    for (int i = 0; present && i < n; i++) {
        int a;
        if (inferd_onnx_axis(axes[i], x->ndim, &a, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        if (x->dims[a] != 1) {
            char sx[128];
            return inferd_err_set(
                err, INFERD_E_INVALID_ARG, "cannot squeeze axis %lld of %s: its size is not 1",
                (long long)axes[i], inferd_onnx_dims_str(x->dims, x->ndim, sx, sizeof(sx)));
        }
        drop[a] = true;
    }
    out[0].ndim = 0;
    for (int i = 0; i < x->ndim; i++)
        if (!drop[i])
            out[0].dims[out[0].ndim++] = x->dims[i];
    return INFERD_OK;
}

static inferd_status_t unsqueeze_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    axes_data_t d = {0};
    if (ic->node->opset < 13) {
        if (axes_from_attr(ic, "axes", &d, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        if (!d.has_axes)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "attribute 'axes' is required");
    }
    ic->node->op_data = copy_data(&d);
    return alias_init(ic);
}

static inferd_status_t unsqueeze_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                         inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    int64_t axes[INFERD_MAX_DIMS];
    int n;
    bool present;
    if (axes_for_run(node, in, "axes", axes, &n, &present, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    int r = x->ndim + n;
    if (r > INFERD_MAX_DIMS)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "result rank %d exceeds %d", r,
                              INFERD_MAX_DIMS);
    bool ins[INFERD_MAX_DIMS] = {false};
    for (int i = 0; i < n; i++) {
        int a;
        if (inferd_onnx_axis(axes[i], r, &a, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        if (ins[a])
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "axis %lld is repeated",
                                  (long long)axes[i]);
        ins[a] = true;
    }
    out[0].ndim = r;
    for (int i = 0, j = 0; i < r; i++)
        out[0].dims[i] = ins[i] ? 1 : x->dims[j++];
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Shape                                                                                */

typedef struct shape_data {
    int64_t start, end;
    bool has_end;
} shape_data_t;

static inferd_status_t shape_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    shape_data_t d = {0};
    if (ic->node->opset >= 15) {
        d.has_end = inferd_onnx_attr_find(ic->node, "end") != NULL;
        if (inferd_onnx_attr_int(ic->node, "start", 0, &d.start, err) != INFERD_OK ||
            inferd_onnx_attr_int(ic->node, "end", 0, &d.end, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
    }
    shape_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->out_types[0] = INFERD_DTYPE_INT64;
    return INFERD_OK;
}

/* [start, end) clamped to [0, rank] after adding rank to negative values. */
static void shape_range(const shape_data_t *d, int r, int *lo, int *hi)
{
    int64_t s = d->start, e = d->has_end ? d->end : r;
    s = s < 0 ? s + r : s;
    e = e < 0 ? e + r : e;
    s = s < 0 ? 0 : (s > r ? r : s);
    e = e < 0 ? 0 : (e > r ? r : e);
    *lo = (int)s;
    *hi = (int)(e > s ? e : s);
}

static inferd_status_t shape_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int lo, hi;
    shape_range(node->op_data, in[0]->ndim, &lo, &hi);
    out[0].ndim = 1;
    out[0].dims[0] = hi - lo;
    return INFERD_OK;
}

static inferd_status_t shape_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_tensor_t *const *out, inferd_err_t *err)
{
    int lo, hi;
    shape_range(node->op_data, in[0]->ndim, &lo, &hi);
    if (hi > lo)
        memcpy(out[0]->data, in[0]->dims + lo, (size_t)(hi - lo) * sizeof(int64_t));
    return INFERD_OK;
}

static inferd_status_t shape_init_bind(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_status_t rc = shape_init(ic, err);
    if (rc == INFERD_OK)
        ic->node->compute = shape_compute;
    return rc;
}

const inferd_onnx_op_t inferd_onnx_ops_shape[] = {
    {"", "Identity", 1, 1, 1, 1, identity_init, identity_reshape},
    {"", "Identity", 13, 1, 1, 1, identity_init, identity_reshape},
    {"", "Identity", 14, 1, 1, 1, identity_init, identity_reshape},
    {"", "Identity", 16, 1, 1, 1, identity_init, identity_reshape},
    {"", "Reshape", 1, 1, 1, 1, reshape_init, reshape_reshape},
    {"", "Reshape", 5, 2, 2, 1, reshape_init, reshape_reshape},
    {"", "Reshape", 13, 2, 2, 1, reshape_init, reshape_reshape},
    {"", "Reshape", 14, 2, 2, 1, reshape_init, reshape_reshape},
    {"", "Flatten", 1, 1, 1, 1, flatten_init, flatten_reshape},
    {"", "Flatten", 9, 1, 1, 1, flatten_init, flatten_reshape},
    {"", "Flatten", 11, 1, 1, 1, flatten_init, flatten_reshape},
    {"", "Flatten", 13, 1, 1, 1, flatten_init, flatten_reshape},
    {"", "Squeeze", 1, 1, 1, 1, squeeze_init, squeeze_reshape},
    {"", "Squeeze", 11, 1, 1, 1, squeeze_init, squeeze_reshape},
    {"", "Squeeze", 13, 1, 2, 1, squeeze_init, squeeze_reshape},
    {"", "Unsqueeze", 1, 1, 1, 1, unsqueeze_init, unsqueeze_reshape},
    {"", "Unsqueeze", 11, 1, 1, 1, unsqueeze_init, unsqueeze_reshape},
    {"", "Unsqueeze", 13, 2, 2, 1, unsqueeze_init, unsqueeze_reshape},
    {"", "Shape", 1, 1, 1, 1, shape_init_bind, shape_reshape},
    {"", "Shape", 13, 1, 1, 1, shape_init_bind, shape_reshape},
    {"", "Shape", 15, 1, 1, 1, shape_init_bind, shape_reshape},
};
const size_t inferd_onnx_ops_shape_count =
    sizeof(inferd_onnx_ops_shape) / sizeof(inferd_onnx_ops_shape[0]);
