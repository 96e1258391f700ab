/* Tensor manipulation: Size, Expand, Tile, Slice, Pad, Split, Range, ConstantOfShape,
 * EyeLike, Trilu, CumSum, NonZero, Compress, OneHot, TopK, Unique, ReverseSequence,
 * Dropout (inference).
 *
 * Most of these move elements without looking at them, so one byte-copying kernel per op
 * serves every fixed-size dtype. Shape-like operands (repeats, starts/ends/axes/steps,
 * pads, split sizes, k, depth) are inputs in recent opsets and are read at run time by
 * reshape and compute alike, so they need not be constants. Output shapes that depend on
 * data (NonZero, Compress) are counted in reshape, which sees the inputs' values. */
#include "backends/onnx/ops/ops.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/alloc.h"

static bool is_fixed(inferd_dtype_t dt)
{
    return dt != INFERD_DTYPE_BYTES && inferd_dtype_size(dt) > 0;
}

static inferd_status_t need_fixed(const inferd_onnx_init_t *ic, int slot, inferd_err_t *err)
{
    if (!is_fixed(ic->in_types[slot]))
        return inferd_onnx_unsupported_dtype(ic, slot, err);
    return INFERD_OK;
}

/* Element strides of a shape (row-major). */
static void strides_of(const int64_t *dims, int ndim, int64_t *st)
{
    int64_t acc = 1;
    for (int i = ndim - 1; i >= 0; i--) {
        st[i] = acc;
        acc *= dims[i];
    }
}

/* Advances a multi-index over dims; returns false after the last element. */
static bool index_next(int64_t *idx, const int64_t *dims, int ndim)
{
    for (int i = ndim - 1; i >= 0; i--) {
        if (++idx[i] < dims[i])
            return true;
        idx[i] = 0;
    }
    return false;
}

/* Reads a scalar (or 1-element) tensor of any numeric type as double. */
static inferd_status_t read_scalar(const inferd_tensor_t *t, const char *what, double *out,
                                   inferd_err_t *err)
{
    if (inferd_tensor_numel(t) != 1 || !is_fixed(t->dtype))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s must hold exactly one number", what);
    *out = inferd_onnx_load_f64(t->data, t->dtype, 0);
    return INFERD_OK;
}

static inferd_status_t set_data(inferd_onnx_init_t *ic, const void *d, size_t size,
                                inferd_onnx_compute_fn fn)
{
    void *p = inferd_xmalloc(size);
    memcpy(p, d, size);
    ic->node->op_data = p;
    ic->node->compute = fn;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Size                                                                                 */

static inferd_status_t size_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_onnx_shape_t *out, inferd_err_t *err)
{
    out[0].ndim = 0;
    return INFERD_OK;
}

static inferd_status_t size_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_tensor_t *const *out, inferd_err_t *err)
{
    *(int64_t *)out[0]->data = (int64_t)inferd_tensor_numel(in[0]);
    return INFERD_OK;
}

static inferd_status_t size_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    ic->node->compute = size_compute;
    ic->out_types[0] = INFERD_DTYPE_INT64;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Expand                                                                               */

static inferd_status_t expand_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    inferd_onnx_shape_t x, s;
    int n;
    if (inferd_onnx_read_ints(in[1], "shape", s.dims, INFERD_MAX_DIMS, &n, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    s.ndim = n;
    inferd_onnx_shape_of(in[0], &x);
    return inferd_onnx_broadcast(&x, &s, &out[0], err);
}

static inferd_status_t expand_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    inferd_onnx_bcast_copy(in[0], out[0]);
    return INFERD_OK;
}

static inferd_status_t expand_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (need_fixed(ic, 0, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    ic->node->compute = expand_compute;
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Tile                                                                                 */

static inferd_status_t tile_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int64_t rep[INFERD_MAX_DIMS];
    int n;
    if (inferd_onnx_read_ints(in[1], "repeats", rep, INFERD_MAX_DIMS, &n, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (n != in[0]->ndim)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "repeats has %d values for rank %d", n,
                              in[0]->ndim);
    out[0].ndim = n;
    for (int i = 0; i < n; i++) {
        if (rep[i] < 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "negative repeat %lld",
                                  (long long)rep[i]);
        /* Repeats come from data: a product beyond int64 is refused, not wrapped. */
        if (__builtin_mul_overflow(in[0]->dims[i], rep[i], &out[0].dims[i]))
            return inferd_err_set(err, INFERD_E_TOO_LARGE, "tiled dim %d overflows", i);
    }
    return INFERD_OK;
}

static inferd_status_t tile_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_tensor_t *const *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    inferd_tensor_t *y = out[0];
    size_t es = inferd_dtype_size(x->dtype);
    uint64_t n = inferd_tensor_numel(y);
    if (n == 0)
        return INFERD_OK;
    int64_t st[INFERD_MAX_DIMS], idx[INFERD_MAX_DIMS] = {0};
    strides_of(x->dims, x->ndim, st);
    const char *src = x->data;
    char *dst = y->data;
    for (uint64_t o = 0; o < n; o++) {
        int64_t off = 0;
        for (int d = 0; d < y->ndim; d++)
            off += (idx[d] % x->dims[d]) * st[d];
        memcpy(dst + o * es, src + (size_t)off * es, es);
        index_next(idx, y->dims, y->ndim);
    }
    return INFERD_OK;
}

static inferd_status_t tile_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (need_fixed(ic, 0, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    ic->node->compute = tile_compute;
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Slice                                                                                */

typedef struct slice_data {
    bool attrs; /* opset 1: starts/ends/axes are attributes */
    int n;
    int64_t starts[INFERD_MAX_DIMS], ends[INFERD_MAX_DIMS], axes[INFERD_MAX_DIMS];
    bool has_axes;
} slice_data_t;

/* Per input dim: first index, step and count of the slice. */
static inferd_status_t slice_plan(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  int64_t *start, int64_t *step, int64_t *count, inferd_err_t *err)
{
    const slice_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    int64_t starts[INFERD_MAX_DIMS], ends[INFERD_MAX_DIMS], axes[INFERD_MAX_DIMS],
        steps[INFERD_MAX_DIMS];
    int n, ne, na = -1, ns = -1;
    if (d->attrs) {
        n = ne = d->n;
        memcpy(starts, d->starts, sizeof(starts));
        memcpy(ends, d->ends, sizeof(ends));
        if (d->has_axes) {
            na = d->n;
            memcpy(axes, d->axes, sizeof(axes));
        }
    } else {
        if (inferd_onnx_read_ints(in[1], "starts", starts, INFERD_MAX_DIMS, &n, err) != INFERD_OK ||
            inferd_onnx_read_ints(in[2], "ends", ends, INFERD_MAX_DIMS, &ne, err) != INFERD_OK ||
            (in[3] &&
             inferd_onnx_read_ints(in[3], "axes", axes, INFERD_MAX_DIMS, &na, err) != INFERD_OK) ||
            (in[4] &&
             inferd_onnx_read_ints(in[4], "steps", steps, INFERD_MAX_DIMS, &ns, err) != INFERD_OK))
            return err ? err->code : INFERD_E_INVALID_ARG;
    }
    if (ne != n || (na >= 0 && na != n) || (ns >= 0 && ns != n))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "starts, ends, axes and steps differ in length");
    for (int i = 0; i < x->ndim; i++) {
        start[i] = 0;
        step[i] = 1;
        count[i] = x->dims[i];
    }
    for (int i = 0; i < n; i++) {
        int a;
        if (inferd_onnx_axis(na >= 0 ? axes[i] : i, x->ndim, &a, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        int64_t dim = x->dims[a], s = starts[i], e = ends[i], k = ns >= 0 ? steps[i] : 1;
        if (k == 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "slice step is 0");
        if (k == INT64_MIN)
            k = -INT64_MAX; /* so that -k exists; any step beyond the dim acts alike */
        if (s < 0)
            s += dim;
        if (e < 0)
            e += dim;
        if (k > 0) {
            s = s < 0 ? 0 : s > dim ? dim : s;
            e = e < 0 ? 0 : e > dim ? dim : e;
            count[a] = e > s ? (e - s - 1) / k + 1 : 0;
        } else {
            s = s < 0 ? -1 : s > dim - 1 ? dim - 1 : s;
            e = e < -1 ? -1 : e > dim - 1 ? dim - 1 : e;
            count[a] = s > e ? (s - e - 1) / (-k) + 1 : 0;
        }
        start[a] = s;
        step[a] = k;
    }
    return INFERD_OK;
}

static inferd_status_t slice_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int64_t start[INFERD_MAX_DIMS], step[INFERD_MAX_DIMS];
    if (slice_plan(node, in, start, step, out[0].dims, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0].ndim = in[0]->ndim;
    return INFERD_OK;
}

static inferd_status_t slice_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_tensor_t *const *out, inferd_err_t *err)
{
    int64_t start[INFERD_MAX_DIMS], step[INFERD_MAX_DIMS], count[INFERD_MAX_DIMS];
    if (slice_plan(node, in, start, step, count, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    const inferd_tensor_t *x = in[0];
    uint64_t n = inferd_tensor_numel(out[0]);
    if (n == 0)
        return INFERD_OK;
    size_t es = inferd_dtype_size(x->dtype);
    int64_t st[INFERD_MAX_DIMS], idx[INFERD_MAX_DIMS] = {0};
    strides_of(x->dims, x->ndim, st);
    const char *src = x->data;
    char *dst = out[0]->data;
    for (uint64_t o = 0; o < n; o++) {
        int64_t off = 0;
        for (int d = 0; d < x->ndim; d++)
            off += (start[d] + idx[d] * step[d]) * st[d];
        memcpy(dst + o * es, src + (size_t)off * es, es);
        index_next(idx, count, x->ndim);
    }
    return INFERD_OK;
}

static inferd_status_t slice_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (need_fixed(ic, 0, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    slice_data_t d = {.attrs = ic->node->opset < 10};
    if (d.attrs) {
        const int64_t *s, *e, *a;
        size_t ns, ne, na;
        bool ps, pe, pa;
        if (inferd_onnx_attr_ints(ic->node, "starts", &s, &ns, &ps, err) != INFERD_OK ||
            inferd_onnx_attr_ints(ic->node, "ends", &e, &ne, &pe, err) != INFERD_OK ||
            inferd_onnx_attr_ints(ic->node, "axes", &a, &na, &pa, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        if (!ps || !pe || ns != ne || ns > INFERD_MAX_DIMS || (pa && na != ns))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "starts and ends (and axes) must be given with equal lengths");
        d.n = (int)ns;
        if (ns) {
            memcpy(d.starts, s, ns * sizeof(int64_t));
            memcpy(d.ends, e, ns * sizeof(int64_t));
        }
        if (pa && na)
            memcpy(d.axes, a, na * sizeof(int64_t));
        d.has_axes = pa;
    }
    ic->out_types[0] = ic->in_types[0];
    return set_data(ic, &d, sizeof(d), slice_compute);
}

/* ------------------------------------------------------------------------------------ */
/* Pad                                                                                  */

typedef enum { PAD_CONSTANT, PAD_REFLECT, PAD_EDGE, PAD_WRAP } pad_mode_t;

typedef struct pad_data {
    pad_mode_t mode;
    bool attrs; /* opset < 11: pads and value are attributes */
    int n_pads;
    int64_t pads[2 * INFERD_MAX_DIMS];
    float value;
} pad_data_t;

/* Begin and end padding per dim of x. */
static inferd_status_t pad_plan(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                int64_t *begin, int64_t *end, inferd_err_t *err)
{
    const pad_data_t *d = node->op_data;
    int r = in[0]->ndim;
    int64_t pads[2 * INFERD_MAX_DIMS], axes[INFERD_MAX_DIMS];
    int n, na = -1;
    if (d->attrs) {
        n = d->n_pads;
        memcpy(pads, d->pads, sizeof(pads));
    } else {
        if (inferd_onnx_read_ints(in[1], "pads", pads, 2 * INFERD_MAX_DIMS, &n, err) != INFERD_OK ||
            (node->n_inputs > 3 && in[3] &&
             inferd_onnx_read_ints(in[3], "axes", axes, INFERD_MAX_DIMS, &na, err) != INFERD_OK))
            return err ? err->code : INFERD_E_INVALID_ARG;
    }
    int k = na >= 0 ? na : r;
    if (n != 2 * k)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "pads has %d values, expected %d", n,
                              2 * k);
    for (int i = 0; i < r; i++)
        begin[i] = end[i] = 0;
    for (int i = 0; i < k; i++) {
        int a = i;
        if (na >= 0 && inferd_onnx_axis(axes[i], r, &a, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        begin[a] = pads[i];
        end[a] = pads[i + k];
    }
    return INFERD_OK;
}

static inferd_status_t pad_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int64_t b[INFERD_MAX_DIMS], e[INFERD_MAX_DIMS];
    if (pad_plan(node, in, b, e, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0].ndim = in[0]->ndim;
    for (int i = 0; i < in[0]->ndim; i++) {
        if (__builtin_add_overflow(in[0]->dims[i], b[i], &out[0].dims[i]) ||
            __builtin_add_overflow(out[0].dims[i], e[i], &out[0].dims[i]))
            return inferd_err_set(err, INFERD_E_TOO_LARGE, "padded dim %d overflows", i);
        if (out[0].dims[i] < 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "pads make dim %d negative", i);
    }
    return INFERD_OK;
}

/* Maps an output coordinate c (already shifted by the begin pad) into [0, dim), or -1
 * for the constant. */
static int64_t pad_source(pad_mode_t mode, int64_t c, int64_t dim)
{
    if (c >= 0 && c < dim)
        return c;
    if (dim == 0)
        return -1;
    switch (mode) {
    case PAD_CONSTANT: return -1;
    case PAD_EDGE: return c < 0 ? 0 : dim - 1;
    case PAD_WRAP: return ((c % dim) + dim) % dim;
    case PAD_REFLECT:
        if (dim == 1)
            return 0;
        {
            int64_t period = 2 * (dim - 1);
            int64_t m = ((c % period) + period) % period;
            return m < dim ? m : period - m;
        }
    }
    return -1;
}

static inferd_status_t pad_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    const pad_data_t *d = node->op_data;
    int64_t b[INFERD_MAX_DIMS], e[INFERD_MAX_DIMS];
    if (pad_plan(node, in, b, e, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    const inferd_tensor_t *x = in[0];
    inferd_tensor_t *y = out[0];
    size_t es = inferd_dtype_size(x->dtype);
    uint8_t value[16] = {0};
    if (d->attrs)
        inferd_onnx_store_f64(value, x->dtype, 0, d->value);
    else if (in[2] && inferd_tensor_numel(in[2]) >= 1)
        memcpy(value, in[2]->data, es);
    uint64_t n = inferd_tensor_numel(y);
    if (n == 0)
        return INFERD_OK;
    if (inferd_tensor_numel(x) == 0 && d->mode != PAD_CONSTANT)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "cannot pad an empty tensor by edge");
    int64_t st[INFERD_MAX_DIMS], idx[INFERD_MAX_DIMS] = {0};
    strides_of(x->dims, x->ndim, st);
    const char *src = x->data;
    char *dst = y->data;
    for (uint64_t o = 0; o < n; o++) {
        int64_t off = 0;
        bool constant = false;
        for (int k = 0; k < x->ndim && !constant; k++) {
            int64_t s = pad_source(d->mode, idx[k] - b[k], x->dims[k]);
            if (s < 0)
                constant = true;
            else
                off += s * st[k];
        }
        memcpy(dst + o * es, constant ? (const char *)value : src + (size_t)off * es, es);
        index_next(idx, y->dims, y->ndim);
    }
    return INFERD_OK;
}

static inferd_status_t pad_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (need_fixed(ic, 0, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    pad_data_t d = {.attrs = ic->node->opset < 11};
    const inferd_onnx_attr_t *m = inferd_onnx_attr_find(ic->node, "mode");
    const char *mode = m && m->type == INFERD_ONNX_ATTR_STRING ? m->s : "constant";
    if (strcmp(mode, "constant") == 0)
        d.mode = PAD_CONSTANT;
    else if (strcmp(mode, "reflect") == 0)
        d.mode = PAD_REFLECT;
    else if (strcmp(mode, "edge") == 0)
        d.mode = PAD_EDGE;
    else if (strcmp(mode, "wrap") == 0)
        d.mode = PAD_WRAP;
    else
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown pad mode '%s'", mode);
    if (d.attrs) {
        const int64_t *p;
        size_t n;
        bool present;
        /* Opset 1 called them "paddings". */
        const char *name = ic->node->opset < 2 ? "paddings" : "pads";
        if (inferd_onnx_attr_ints(ic->node, name, &p, &n, &present, err) != INFERD_OK ||
            inferd_onnx_attr_float(ic->node, "value", 0.0f, &d.value, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        if (!present || n > 2 * INFERD_MAX_DIMS)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "attribute '%s' is required", name);
        d.n_pads = (int)n;
        if (n)
            memcpy(d.pads, p, n * sizeof(int64_t));
    }
    ic->out_types[0] = ic->in_types[0];
    return set_data(ic, &d, sizeof(d), pad_compute);
}

/* ------------------------------------------------------------------------------------ */
/* Split                                                                                */

typedef struct split_data {
    int64_t axis;
    int n_split; /* attribute sizes; 0 when absent */
    int64_t split[64];
    bool input;      /* opset 13: sizes are input 1 */
    bool ceil_equal; /* opset 18 num_outputs: the last part may be smaller */
} split_data_t;

static inferd_status_t split_plan(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  int *axis, int64_t *sizes, inferd_err_t *err)
{
    const split_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    if (inferd_onnx_axis(d->axis, x->ndim, axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    int64_t dim = x->dims[*axis];
    int k = node->n_outputs, n = 0;
    if (d->input && in[1]) {
        if (inferd_onnx_read_ints(in[1], "split", sizes, 64, &n, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
    } else if (d->n_split) {
        n = d->n_split;
        memcpy(sizes, d->split, (size_t)n * sizeof(int64_t));
    }
    if (n) {
        int64_t total = 0;
        for (int i = 0; i < n; i++)
            total += sizes[i];
        if (n != k || total != dim)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "split sizes (%d summing to %lld) do not fit %d outputs of "
                                  "dim %lld",
                                  n, (long long)total, k, (long long)dim);
        return INFERD_OK;
    }
    int64_t part = d->ceil_equal ? (dim + k - 1) / k : dim / k;
    if (!d->ceil_equal && dim % k)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "dim %lld does not split in %d equal parts", (long long)dim, k);
    int64_t left = dim;
    for (int i = 0; i < k; i++) {
        sizes[i] = part < left ? part : left;
        left -= sizes[i];
    }
    return INFERD_OK;
}

static inferd_status_t split_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int axis;
    int64_t sizes[64];
    if (split_plan(node, in, &axis, sizes, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    for (int i = 0; i < node->n_outputs; i++) {
        inferd_onnx_shape_of(in[0], &out[i]);
        out[i].dims[axis] = sizes[i];
    }
    return INFERD_OK;
}

static inferd_status_t split_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_tensor_t *const *out, inferd_err_t *err)
{
    int axis;
    int64_t sizes[64];
    if (split_plan(node, in, &axis, sizes, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    const inferd_tensor_t *x = in[0];
    size_t es = inferd_dtype_size(x->dtype);
    int64_t outer = inferd_onnx_dims_prod(x->dims, 0, axis);
    int64_t inner = inferd_onnx_dims_prod(x->dims, axis + 1, x->ndim);
    int64_t dim = x->dims[axis], at = 0;
    for (int i = 0; i < node->n_outputs; i++) {
        size_t chunk = (size_t)(sizes[i] * inner) * es;
        if (out[i] && chunk)
            for (int64_t o = 0; o < outer; o++)
                memcpy((char *)out[i]->data + (size_t)o * chunk,
                       (const char *)x->data + (size_t)((o * dim + at) * inner) * es, chunk);
        at += sizes[i];
    }
    return INFERD_OK;
}

static inferd_status_t split_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (need_fixed(ic, 0, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    split_data_t d = {.input = ic->node->opset >= 13, .ceil_equal = ic->node->opset >= 18};
    if (ic->node->n_outputs > 64)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "more than 64 outputs");
    if (inferd_onnx_attr_int(ic->node, "axis", 0, &d.axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (!d.input) {
        const int64_t *p;
        size_t n;
        bool present;
        if (inferd_onnx_attr_ints(ic->node, "split", &p, &n, &present, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        if (present && n > 64)
            return inferd_err_set(err, INFERD_E_UNSUPPORTED, "more than 64 parts");
        if (present && n) {
            d.n_split = (int)n;
            memcpy(d.split, p, n * sizeof(int64_t));
        }
    }
    for (int i = 0; i < ic->node->n_outputs; i++)
        ic->out_types[i] = ic->in_types[0];
    return set_data(ic, &d, sizeof(d), split_compute);
}

/* ------------------------------------------------------------------------------------ */
/* Range                                                                                */

static inferd_status_t range_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_onnx_shape_t *out, inferd_err_t *err)
{
    double s, l, d;
    if (read_scalar(in[0], "start", &s, err) != INFERD_OK ||
        read_scalar(in[1], "limit", &l, err) != INFERD_OK ||
        read_scalar(in[2], "delta", &d, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (d == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Range delta is 0");
    double n = ceil((l - s) / d);
    if (!(n >= 0))
        n = 0;
    if (n > 1e9)
        return inferd_err_set(err, INFERD_E_TOO_LARGE, "Range of %.0f elements", n);
    out[0].ndim = 1;
    out[0].dims[0] = (int64_t)n;
    return INFERD_OK;
}

static inferd_status_t range_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_tensor_t *const *out, inferd_err_t *err)
{
    inferd_dtype_t dt = out[0]->dtype;
    int64_t n = out[0]->dims[0];
    if (inferd_onnx_dtype_is_int(dt)) {
        /* Integers step exactly (INT64 read as is, the narrower ones fit a double). */
        int64_t s = dt == INFERD_DTYPE_INT64 ? *(const int64_t *)in[0]->data
                                             : (int64_t)inferd_onnx_load_f64(in[0]->data, dt, 0);
        int64_t d = dt == INFERD_DTYPE_INT64 ? *(const int64_t *)in[2]->data
                                             : (int64_t)inferd_onnx_load_f64(in[2]->data, dt, 0);
        for (int64_t i = 0; i < n; i++) {
            int64_t v = (int64_t)((uint64_t)s + (uint64_t)i * (uint64_t)d);
            if (dt == INFERD_DTYPE_INT64)
                ((int64_t *)out[0]->data)[i] = v;
            else
                inferd_onnx_store_f64(out[0]->data, dt, (uint64_t)i, (double)v);
        }
        return INFERD_OK;
    }
    double s = inferd_onnx_load_f64(in[0]->data, dt, 0);
    double d = inferd_onnx_load_f64(in[2]->data, dt, 0);
    if (dt == INFERD_DTYPE_FP32) {
        /* Accumulate in float as the reference does (start + i * delta in float). */
        float fs = (float)s, fd = (float)d;
        for (int64_t i = 0; i < n; i++)
            ((float *)out[0]->data)[i] = fs + (float)i * fd;
        return INFERD_OK;
    }
    for (int64_t i = 0; i < n; i++)
        inferd_onnx_store_f64(out[0]->data, dt, (uint64_t)i, s + (double)i * d);
    return INFERD_OK;
}

static inferd_status_t range_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    if (!(inferd_onnx_dtype_is_int(dt) || dt == INFERD_DTYPE_FP32 || dt == INFERD_DTYPE_FP64))
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (ic->in_types[1] != dt || ic->in_types[2] != dt)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Range inputs differ in type");
    ic->node->compute = range_compute;
    ic->out_types[0] = dt;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* ConstantOfShape                                                                      */

typedef struct fill_data {
    uint8_t value[16]; /* one element of the output type */
} fill_data_t;

static inferd_status_t cos_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int n;
    if (inferd_onnx_read_ints(in[0], "shape", out[0].dims, INFERD_MAX_DIMS, &n, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0].ndim = n;
    for (int i = 0; i < n; i++)
        if (out[0].dims[i] < 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "negative dim in shape");
    return INFERD_OK;
}

static inferd_status_t cos_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    const fill_data_t *d = node->op_data;
    size_t es = inferd_dtype_size(out[0]->dtype);
    uint64_t n = inferd_tensor_numel(out[0]);
    for (uint64_t i = 0; i < n; i++)
        memcpy((char *)out[0]->data + i * es, d->value, es);
    return INFERD_OK;
}

static inferd_status_t cos_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    fill_data_t d = {{0}};
    inferd_dtype_t dt = INFERD_DTYPE_FP32;
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(ic->node, "value");
    if (a) {
        if (a->type != INFERD_ONNX_ATTR_TENSOR || inferd_tensor_numel(a->t) != 1 ||
            !is_fixed(a->t->dtype))
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "value must be a one-element tensor");
        dt = a->t->dtype;
        memcpy(d.value, a->t->data, inferd_dtype_size(dt));
    }
    ic->out_types[0] = dt;
    return set_data(ic, &d, sizeof(d), cos_compute);
}

/* ------------------------------------------------------------------------------------ */
/* EyeLike, Trilu                                                                       */

typedef struct eye_data {
    int64_t k;
} eye_data_t;

static inferd_status_t eyelike_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                       inferd_tensor_t *const *out, inferd_err_t *err)
{
    const eye_data_t *d = node->op_data;
    inferd_tensor_t *y = out[0];
    if (y->ndim != 2)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "EyeLike needs a 2-D input");
    memset(y->data, 0, y->nbytes);
    for (int64_t i = 0; i < y->dims[0]; i++) {
        int64_t j = i + d->k;
        if (j >= 0 && j < y->dims[1])
            inferd_onnx_store_f64(y->data, y->dtype, (uint64_t)(i * y->dims[1] + j), 1.0);
    }
    return INFERD_OK;
}

static inferd_status_t same_shape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_onnx_shape_t *out, inferd_err_t *err)
{
    inferd_onnx_shape_of(in[0], &out[0]);
    return INFERD_OK;
}

static inferd_status_t eyelike_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    eye_data_t d;
    int64_t dtype;
    if (inferd_onnx_attr_int(ic->node, "k", 0, &d.k, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "dtype", 0, &dtype, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    inferd_dtype_t dt = dtype ? inferd_onnx_dtype_from_enum(dtype) : ic->in_types[0];
    if (!is_fixed(dt))
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "EyeLike cannot make %s",
                              inferd_dtype_name(dt));
    ic->out_types[0] = dt;
    return set_data(ic, &d, sizeof(d), eyelike_compute);
}

typedef struct trilu_data {
    bool upper;
} trilu_data_t;

static inferd_status_t trilu_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_tensor_t *const *out, inferd_err_t *err)
{
    const trilu_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    if (x->ndim < 2)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Trilu needs rank >= 2");
    int64_t k = 0;
    int nk = 0;
    if (in[1] && inferd_onnx_read_ints(in[1], "k", &k, 1, &nk, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (in[1] && nk != 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "k must hold one value");
    /* Offsets beyond any matrix act alike; clamping keeps j - i - k from overflowing. */
    k = k > INT32_MAX ? INT32_MAX : k < -INT32_MAX ? -INT32_MAX : k;
    size_t es = inferd_dtype_size(x->dtype);
    int64_t rows = x->dims[x->ndim - 2], cols = x->dims[x->ndim - 1];
    int64_t mats = inferd_onnx_dims_prod(x->dims, 0, x->ndim - 2);
    const char *src = x->data;
    char *dst = out[0]->data;
    for (int64_t m = 0; m < mats; m++)
        for (int64_t i = 0; i < rows; i++)
            for (int64_t j = 0; j < cols; j++) {
                size_t off = (size_t)((m * rows + i) * cols + j) * es;
                bool keep = d->upper ? j - i >= k : j - i <= k;
                if (keep)
                    memcpy(dst + off, src + off, es);
                else
                    memset(dst + off, 0, es);
            }
    return INFERD_OK;
}

static inferd_status_t trilu_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (need_fixed(ic, 0, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    int64_t upper;
    if (inferd_onnx_attr_int(ic->node, "upper", 1, &upper, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    trilu_data_t d = {upper != 0};
    ic->out_types[0] = ic->in_types[0];
    return set_data(ic, &d, sizeof(d), trilu_compute);
}

/* ------------------------------------------------------------------------------------ */
/* CumSum                                                                               */

typedef struct cumsum_data {
    bool exclusive, reverse;
} cumsum_data_t;

static inferd_status_t cumsum_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const cumsum_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    int64_t av = 0;
    int na = 0, axis;
    if (inferd_onnx_read_ints(in[1], "axis", &av, 1, &na, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (na != 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "axis must hold one value");
    if (inferd_onnx_axis(av, x->ndim, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    int64_t outer = inferd_onnx_dims_prod(x->dims, 0, axis), n = x->dims[axis],
            inner = inferd_onnx_dims_prod(x->dims, axis + 1, x->ndim);
    inferd_dtype_t dt = x->dtype;
    bool is_int = inferd_onnx_dtype_is_int(dt);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            double acc = 0;
            int64_t iacc = 0;
            for (int64_t s = 0; s < n; s++) {
                int64_t i = d->reverse ? n - 1 - s : s;
                uint64_t at = (uint64_t)((o * n + i) * inner + k);
                double v = inferd_onnx_load_f64(x->data, dt, at);
                if (d->exclusive) {
                    inferd_onnx_store_f64(out[0]->data, dt, at, is_int ? (double)iacc : acc);
                    acc += v;
                    iacc += (int64_t)v;
                } else {
                    acc += v;
                    iacc += (int64_t)v;
                    inferd_onnx_store_f64(out[0]->data, dt, at, is_int ? (double)iacc : acc);
                }
            }
        }
    return INFERD_OK;
}

static inferd_status_t cumsum_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    if (!(inferd_onnx_dtype_is_int(dt) || inferd_onnx_dtype_is_float(dt)))
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    int64_t ex, rev;
    if (inferd_onnx_attr_int(ic->node, "exclusive", 0, &ex, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "reverse", 0, &rev, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    cumsum_data_t d = {ex != 0, rev != 0};
    ic->out_types[0] = dt;
    return set_data(ic, &d, sizeof(d), cumsum_compute);
}

/* ------------------------------------------------------------------------------------ */
/* NonZero, Compress                                                                    */

static bool elem_nonzero(const inferd_tensor_t *t, uint64_t i)
{
    if (inferd_onnx_dtype_is_float(t->dtype))
        return inferd_onnx_load_f64(t->data, t->dtype, i) != 0;
    size_t es = inferd_dtype_size(t->dtype);
    const uint8_t *p = (const uint8_t *)t->data + i * es;
    for (size_t b = 0; b < es; b++)
        if (p[b])
            return true;
    return false;
}

static inferd_status_t nonzero_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                       inferd_onnx_shape_t *out, inferd_err_t *err)
{
    uint64_t n = inferd_tensor_numel(in[0]), nz = 0;
    for (uint64_t i = 0; i < n; i++)
        nz += elem_nonzero(in[0], i);
    out[0].ndim = 2;
    out[0].dims[0] = in[0]->ndim;
    out[0].dims[1] = (int64_t)nz;
    return INFERD_OK;
}

static inferd_status_t nonzero_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                       inferd_tensor_t *const *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    uint64_t n = inferd_tensor_numel(x);
    int64_t nz = out[0]->dims[1], col = 0, idx[INFERD_MAX_DIMS] = {0};
    int64_t *y = out[0]->data;
    for (uint64_t i = 0; i < n; i++) {
        if (elem_nonzero(x, i)) {
            for (int d = 0; d < x->ndim; d++)
                y[d * nz + col] = idx[d];
            col++;
        }
        index_next(idx, x->dims, x->ndim);
    }
    return INFERD_OK;
}

static inferd_status_t nonzero_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (need_fixed(ic, 0, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    ic->node->compute = nonzero_compute;
    ic->out_types[0] = INFERD_DTYPE_INT64;
    return INFERD_OK;
}

typedef struct compress_data {
    bool has_axis;
    int64_t axis;
} compress_data_t;

/* Selected count along the compressed dim (of length dim). */
static int64_t compress_count(const inferd_tensor_t *cond, int64_t dim)
{
    int64_t n = (int64_t)inferd_tensor_numel(cond), c = 0;
    for (int64_t i = 0; i < n && i < dim; i++)
        c += ((const uint8_t *)cond->data)[i] != 0;
    return c;
}

static inferd_status_t compress_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                        inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const compress_data_t *d = node->op_data;
    if (!d->has_axis) {
        out[0].ndim = 1;
        out[0].dims[0] = compress_count(in[1], (int64_t)inferd_tensor_numel(in[0]));
        return INFERD_OK;
    }
    int axis;
    if (inferd_onnx_axis(d->axis, in[0]->ndim, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    inferd_onnx_shape_of(in[0], &out[0]);
    out[0].dims[axis] = compress_count(in[1], in[0]->dims[axis]);
    return INFERD_OK;
}

static inferd_status_t compress_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                        inferd_tensor_t *const *out, inferd_err_t *err)
{
    const compress_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    const uint8_t *c = in[1]->data;
    int64_t nc = (int64_t)inferd_tensor_numel(in[1]);
    size_t es = inferd_dtype_size(x->dtype);
    int64_t outer = 1, dim = (int64_t)inferd_tensor_numel(x), inner = 1;
    if (d->has_axis) {
        int axis;
        if (inferd_onnx_axis(d->axis, x->ndim, &axis, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        outer = inferd_onnx_dims_prod(x->dims, 0, axis);
        dim = x->dims[axis];
        inner = inferd_onnx_dims_prod(x->dims, axis + 1, x->ndim);
    }
    char *dst = out[0]->data;
    size_t chunk = (size_t)inner * es;
    for (int64_t o = 0; chunk && o < outer; o++)
        for (int64_t i = 0; i < dim && i < nc; i++)
            if (c[i]) {
                memcpy(dst, (const char *)x->data + (size_t)(o * dim + i) * chunk, chunk);
                dst += chunk;
            }
    return INFERD_OK;
}

static inferd_status_t compress_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (need_fixed(ic, 0, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    if (ic->in_types[1] != INFERD_DTYPE_BOOL)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Compress condition must be BOOL");
    compress_data_t d = {inferd_onnx_attr_find(ic->node, "axis") != NULL, 0};
    if (inferd_onnx_attr_int(ic->node, "axis", 0, &d.axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    ic->out_types[0] = ic->in_types[0];
    return set_data(ic, &d, sizeof(d), compress_compute);
}

/* ------------------------------------------------------------------------------------ */
/* OneHot                                                                               */

typedef struct onehot_data {
    int64_t axis;
} onehot_data_t;

static inferd_status_t onehot_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const onehot_data_t *d = node->op_data;
    double depth;
    if (read_scalar(in[1], "depth", &depth, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (!(depth >= 1 && depth < 9.0e18))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "depth must be positive");
    int r = in[0]->ndim + 1, axis;
    if (r > INFERD_MAX_DIMS || inferd_onnx_axis(d->axis, r, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0].ndim = r;
    for (int i = 0, j = 0; i < r; i++)
        out[0].dims[i] = i == axis ? (int64_t)depth : in[0]->dims[j++];
    return INFERD_OK;
}

static inferd_status_t onehot_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const onehot_data_t *d = node->op_data;
    inferd_tensor_t *y = out[0];
    int axis;
    if (inferd_onnx_axis(d->axis, y->ndim, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (inferd_tensor_numel(in[2]) != 2)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "values must hold [off, on]");
    size_t es = inferd_dtype_size(y->dtype);
    const char *off = in[2]->data, *on = off + es;
    int64_t depth = y->dims[axis];
    int64_t outer = inferd_onnx_dims_prod(y->dims, 0, axis),
            inner = inferd_onnx_dims_prod(y->dims, axis + 1, y->ndim);
    uint64_t n = inferd_tensor_numel(y);
    char *dst = y->data;
    for (uint64_t i = 0; i < n; i++)
        memcpy(dst + i * es, off, es);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            double v = inferd_onnx_load_f64(in[0]->data, in[0]->dtype, (uint64_t)(o * inner + k));
            int64_t idx = (int64_t)v;
            if (idx < 0)
                idx += depth;
            if (idx < 0 || idx >= depth)
                continue;
            memcpy(dst + (size_t)((o * depth + idx) * inner + k) * es, on, es);
        }
    return INFERD_OK;
}

static inferd_status_t onehot_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (need_fixed(ic, 2, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    onehot_data_t d;
    if (inferd_onnx_attr_int(ic->node, "axis", -1, &d.axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    ic->out_types[0] = ic->in_types[2];
    return set_data(ic, &d, sizeof(d), onehot_compute);
}

/* ------------------------------------------------------------------------------------ */
/* TopK                                                                                 */

typedef struct topk_data {
    int64_t axis;
    bool largest, sorted;
    bool k_attr; /* opset 1: k is an attribute */
    int64_t k;
} topk_data_t;

static inferd_status_t topk_k(const inferd_onnx_node_t *node, inferd_tensor_t *const *in, int *axis,
                              int64_t *k, inferd_err_t *err)
{
    const topk_data_t *d = node->op_data;
    if (inferd_onnx_axis(d->axis, in[0]->ndim, axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (d->k_attr) {
        *k = d->k;
    } else {
        int64_t v[1];
        int n;
        if (inferd_onnx_read_ints(in[1], "K", v, 1, &n, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        if (n != 1)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "K must hold one value");
        *k = v[0];
    }
    if (*k < 0 || *k > in[0]->dims[*axis])
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "K=%lld is out of range for dim %lld",
                              (long long)*k, (long long)in[0]->dims[*axis]);
    return INFERD_OK;
}

static inferd_status_t topk_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int axis;
    int64_t k;
    if (topk_k(node, in, &axis, &k, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    for (int j = 0; j < 2; j++) {
        inferd_onnx_shape_of(in[0], &out[j]);
        out[j].dims[axis] = k;
    }
    return INFERD_OK;
}

/* One element being ranked: its value and position along the axis. */
typedef struct ranked {
    double v;
    int64_t i;
} ranked_t;

static int rank_desc(const void *pa, const void *pb)
{
    const ranked_t *a = pa, *b = pb;
    if (a->v != b->v)
        return a->v > b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static int rank_asc(const void *pa, const void *pb)
{
    const ranked_t *a = pa, *b = pb;
    if (a->v != b->v)
        return a->v < b->v ? -1 : 1;
    return a->i < b->i ? -1 : a->i > b->i;
}

static inferd_status_t topk_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_tensor_t *const *out, inferd_err_t *err)
{
    const topk_data_t *d = node->op_data;
    int axis;
    int64_t k;
    if (topk_k(node, in, &axis, &k, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    const inferd_tensor_t *x = in[0];
    int64_t outer = inferd_onnx_dims_prod(x->dims, 0, axis), n = x->dims[axis],
            inner = inferd_onnx_dims_prod(x->dims, axis + 1, x->ndim);
    if (n == 0 || k == 0)
        return INFERD_OK;
    /* Scratch for one row; the memory planner will provide this once it exists. */
    ranked_t *row = inferd_malloc((size_t)n * sizeof(*row));
    if (!row)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "TopK scratch");
    size_t es = inferd_dtype_size(x->dtype);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t c = 0; c < inner; c++) {
            for (int64_t i = 0; i < n; i++) {
                row[i].v =
                    inferd_onnx_load_f64(x->data, x->dtype, (uint64_t)((o * n + i) * inner + c));
                row[i].i = i;
            }
            qsort(row, (size_t)n, sizeof(*row), d->largest ? rank_desc : rank_asc);
            for (int64_t j = 0; j < k; j++) {
                size_t at = (size_t)((o * k + j) * inner + c);
                size_t from = (size_t)((o * n + row[j].i) * inner + c);
                if (out[0])
                    memcpy((char *)out[0]->data + at * es, (const char *)x->data + from * es, es);
                if (node->n_outputs > 1 && out[1])
                    ((int64_t *)out[1]->data)[at] = row[j].i;
            }
        }
    inferd_free(row);
    return INFERD_OK;
}

static inferd_status_t topk_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    if (!(inferd_onnx_dtype_is_int(dt) || inferd_onnx_dtype_is_float(dt)))
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    topk_data_t d = {.k_attr = ic->node->opset < 10};
    int64_t largest = 1, sorted = 1;
    if (inferd_onnx_attr_int(ic->node, "axis", -1, &d.axis, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "largest", 1, &largest, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "sorted", 1, &sorted, err) != INFERD_OK ||
        (d.k_attr && inferd_onnx_attr_int(ic->node, "k", 0, &d.k, err) != INFERD_OK))
        return err ? err->code : INFERD_E_INVALID_ARG;
    /* Unsorted output may come in any order; sorted order is one valid answer. */
    d.largest = largest != 0;
    d.sorted = sorted != 0;
    ic->out_types[0] = dt;
    if (ic->node->n_outputs > 1)
        ic->out_types[1] = INFERD_DTYPE_INT64;
    return set_data(ic, &d, sizeof(d), topk_compute);
}

/* ------------------------------------------------------------------------------------ */
/* Unique                                                                               */

/* Slices along `axis` (or single elements of the flattened input without one) are
 * compared element by element; duplicates are found by pairwise comparison, which is
 * quadratic in the slice count: fine for the index-sized inputs Unique sees, and it needs
 * no hashing of arbitrary dtypes. */
typedef struct unique_data {
    bool has_axis;
    int64_t axis;
    bool sorted;
} unique_data_t;

typedef struct unique_view {
    int64_t outer, n, inner; /* slice k is x[o, k, i] for all o, i */
    size_t es;
} unique_view_t;

static inferd_status_t unique_view(const unique_data_t *d, const inferd_tensor_t *x,
                                   unique_view_t *v, inferd_err_t *err)
{
    v->es = inferd_dtype_size(x->dtype);
    if (!d->has_axis) {
        v->outer = v->inner = 1;
        v->n = (int64_t)inferd_tensor_numel(x);
        return INFERD_OK;
    }
    int axis;
    if (inferd_onnx_axis(d->axis, x->ndim, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    v->outer = inferd_onnx_dims_prod(x->dims, 0, axis);
    v->n = x->dims[axis];
    v->inner = inferd_onnx_dims_prod(x->dims, axis + 1, x->ndim);
    return INFERD_OK;
}

/* Compares slices a and b: <0, 0, >0 (numerically, element by element). */
static int slice_cmp(const inferd_tensor_t *x, const unique_view_t *v, int64_t a, int64_t b)
{
    for (int64_t o = 0; o < v->outer; o++)
        for (int64_t i = 0; i < v->inner; i++) {
            double p =
                inferd_onnx_load_f64(x->data, x->dtype, (uint64_t)((o * v->n + a) * v->inner + i));
            double q =
                inferd_onnx_load_f64(x->data, x->dtype, (uint64_t)((o * v->n + b) * v->inner + i));
            if (p != q)
                return p < q ? -1 : 1;
        }
    return 0;
}

/* Fills order[0..*count) with the first occurrence of each distinct slice, in output
 * order. order holds n entries. */
static void unique_order(const unique_data_t *d, const inferd_tensor_t *x, const unique_view_t *v,
                         int64_t *order, int64_t *count)
{
    int64_t m = 0;
    for (int64_t k = 0; k < v->n; k++) {
        bool seen = false;
        for (int64_t j = 0; j < m && !seen; j++)
            seen = slice_cmp(x, v, order[j], k) == 0;
        if (!seen)
            order[m++] = k;
    }
    if (d->sorted)
        for (int64_t i = 1; i < m; i++) {
            int64_t key = order[i], j = i - 1;
            while (j >= 0 && slice_cmp(x, v, order[j], key) > 0) {
                order[j + 1] = order[j];
                j--;
            }
            order[j + 1] = key;
        }
    *count = m;
}

static inferd_status_t unique_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const unique_data_t *d = node->op_data;
    unique_view_t v;
    if (unique_view(d, in[0], &v, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    int64_t *order = inferd_malloc((size_t)(v.n + 1) * sizeof(int64_t)), m;
    if (!order)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "Unique scratch");
    unique_order(d, in[0], &v, order, &m);
    inferd_free(order);
    if (d->has_axis) {
        inferd_onnx_shape_of(in[0], &out[0]);
        int axis;
        if (inferd_onnx_axis(d->axis, in[0]->ndim, &axis, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        out[0].dims[axis] = m;
    } else {
        out[0].ndim = 1;
        out[0].dims[0] = m;
    }
    for (int j = 1; j < node->n_outputs; j++) {
        out[j].ndim = 1;
        out[j].dims[0] = j == 2 ? v.n : m;
    }
    return INFERD_OK;
}

static inferd_status_t unique_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const unique_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    unique_view_t v;
    if (unique_view(d, x, &v, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    int64_t *order = inferd_malloc((size_t)(v.n + 1) * sizeof(int64_t)), m;
    if (!order)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "Unique scratch");
    unique_order(d, x, &v, order, &m);
    size_t chunk = (size_t)v.inner * v.es;
    if (out[0] && chunk)
        for (int64_t o = 0; o < v.outer; o++)
            for (int64_t j = 0; j < m; j++)
                memcpy((char *)out[0]->data + (size_t)(o * m + j) * chunk,
                       (const char *)x->data + (size_t)(o * v.n + order[j]) * chunk, chunk);
    int64_t *indices = node->n_outputs > 1 && out[1] ? out[1]->data : NULL;
    int64_t *inverse = node->n_outputs > 2 && out[2] ? out[2]->data : NULL;
    int64_t *counts = node->n_outputs > 3 && out[3] ? out[3]->data : NULL;
    for (int64_t j = 0; j < m; j++) {
        if (indices)
            indices[j] = order[j];
        if (counts)
            counts[j] = 0;
    }
    for (int64_t k = 0; k < v.n; k++)
        for (int64_t j = 0; j < m; j++)
            if (slice_cmp(x, &v, order[j], k) == 0) {
                if (inverse)
                    inverse[k] = j;
                if (counts)
                    counts[j]++;
                break;
            }
    inferd_free(order);
    return INFERD_OK;
}

static inferd_status_t unique_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    if (!(inferd_onnx_dtype_is_int(dt) || inferd_onnx_dtype_is_float(dt) ||
          dt == INFERD_DTYPE_BOOL))
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    unique_data_t d = {.has_axis = inferd_onnx_attr_find(ic->node, "axis") != NULL};
    int64_t sorted;
    if (inferd_onnx_attr_int(ic->node, "axis", 0, &d.axis, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "sorted", 1, &sorted, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    d.sorted = sorted != 0;
    ic->out_types[0] = dt;
    for (int j = 1; j < ic->node->n_outputs; j++)
        ic->out_types[j] = INFERD_DTYPE_INT64;
    return set_data(ic, &d, sizeof(d), unique_compute);
}

/* ------------------------------------------------------------------------------------ */
/* ReverseSequence                                                                      */

typedef struct revseq_data {
    int64_t batch_axis, time_axis;
} revseq_data_t;

static inferd_status_t revseq_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const revseq_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    if (x->ndim < 2 || (d->batch_axis != 0 && d->batch_axis != 1) ||
        d->time_axis != 1 - d->batch_axis)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "ReverseSequence needs rank >= 2 and axes {0, 1}");
    int64_t b_dim = x->dims[d->batch_axis], t_dim = x->dims[d->time_axis];
    if ((int64_t)inferd_tensor_numel(in[1]) != b_dim)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "sequence_lens must hold %lld values",
                              (long long)b_dim);
    size_t es = inferd_dtype_size(x->dtype);
    int64_t inner = inferd_onnx_dims_prod(x->dims, 2, x->ndim);
    size_t chunk = (size_t)inner * es;
    if (!chunk)
        return INFERD_OK;
    for (int64_t b = 0; b < b_dim; b++) {
        int64_t len = (int64_t)inferd_onnx_load_f64(in[1]->data, in[1]->dtype, (uint64_t)b);
        if (len < 0 || len > t_dim)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "sequence length %lld out of range",
                                  (long long)len);
        for (int64_t t = 0; t < t_dim; t++) {
            int64_t src_t = t < len ? len - 1 - t : t;
            int64_t dst_i = d->batch_axis == 0 ? b * t_dim + t : t * b_dim + b;
            int64_t src_i = d->batch_axis == 0 ? b * t_dim + src_t : src_t * b_dim + b;
            memcpy((char *)out[0]->data + (size_t)dst_i * chunk,
                   (const char *)x->data + (size_t)src_i * chunk, chunk);
        }
    }
    return INFERD_OK;
}

static inferd_status_t revseq_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (need_fixed(ic, 0, err) != INFERD_OK)
        return err ? err->code : INFERD_E_UNSUPPORTED;
    revseq_data_t d;
    if (inferd_onnx_attr_int(ic->node, "batch_axis", 1, &d.batch_axis, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "time_axis", 0, &d.time_axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    ic->out_types[0] = ic->in_types[0];
    return set_data(ic, &d, sizeof(d), revseq_compute);
}

/* ------------------------------------------------------------------------------------ */
/* Dropout                                                                              */

/* Inference (no training_mode input, or a constant false one): output 0 is a view of the
 * input and the optional mask is all true. In training mode with ratio r > 0 each element
 * is kept when a uniform draw in [0, 1) is >= r, and kept ones are scaled by 1 / (1 - r).
 * The draws come from MT19937 seeded with the `seed` attribute and turned into doubles
 * with 53 random bits, the stream numpy's RandomState produces, so a seeded node gives
 * the masks ONNX's reference (and its test data) expects. Without a seed the generator
 * is seeded from the clock. */
typedef struct dropout_data {
    float ratio;
    bool has_seed;
    uint32_t seed;
} dropout_data_t;

typedef struct mt19937 {
    uint32_t mt[624];
    int pos;
} mt19937_t;

static void mt_seed(mt19937_t *g, uint32_t seed)
{
    g->mt[0] = seed;
    for (int i = 1; i < 624; i++)
        g->mt[i] = 1812433253u * (g->mt[i - 1] ^ (g->mt[i - 1] >> 30)) + (uint32_t)i;
    g->pos = 624;
}

static uint32_t mt_next(mt19937_t *g)
{
    if (g->pos >= 624) {
        for (int i = 0; i < 624; i++) {
            uint32_t y = (g->mt[i] & 0x80000000u) | (g->mt[(i + 1) % 624] & 0x7fffffffu);
            g->mt[i] = g->mt[(i + 397) % 624] ^ (y >> 1) ^ (y & 1u ? 0x9908b0dfu : 0u);
        }
        g->pos = 0;
    }
    uint32_t y = g->mt[g->pos++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

static double mt_uniform(mt19937_t *g)
{
    uint32_t a = mt_next(g) >> 5, b = mt_next(g) >> 6;
    return ((double)a * 67108864.0 + (double)b) / 9007199254740992.0;
}

static inferd_status_t dropout_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                       inferd_onnx_shape_t *out, inferd_err_t *err)
{
    for (int j = 0; j < node->n_outputs; j++)
        inferd_onnx_shape_of(in[0], &out[j]);
    return INFERD_OK;
}

static inferd_status_t dropout_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                       inferd_tensor_t *const *out, inferd_err_t *err)
{
    const dropout_data_t *d = node->op_data;
    double ratio = d->ratio;
    if (node->n_inputs > 1 && in[1] && read_scalar(in[1], "ratio", &ratio, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    bool training = node->n_inputs > 2 && in[2] && inferd_tensor_numel(in[2]) == 1 &&
                    *(const uint8_t *)in[2]->data && ratio != 0;
    const inferd_tensor_t *x = in[0];
    inferd_tensor_t *mask = node->n_outputs > 1 ? out[1] : NULL;
    uint64_t n = inferd_tensor_numel(x);
    if (!training) {
        if (!node->alias && out[0] && x->nbytes)
            memcpy(out[0]->data, x->data, x->nbytes);
        for (uint64_t i = 0; mask && i < n; i++)
            inferd_onnx_store_f64(mask->data, mask->dtype, i, 1.0);
        return INFERD_OK;
    }
    if (ratio < 0 || ratio >= 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Dropout ratio %g is not in [0, 1)",
                              ratio);
    mt19937_t *g = inferd_malloc(sizeof(*g));
    if (!g)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "Dropout generator");
    uint32_t seed = d->seed;
    if (!d->has_seed) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        seed = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec;
    }
    mt_seed(g, seed);
    double scale = 1.0 / (1.0 - ratio);
    for (uint64_t i = 0; i < n; i++) {
        bool keep = mt_uniform(g) >= ratio;
        double v = inferd_onnx_load_f64(x->data, x->dtype, i);
        if (out[0]) {
            if (x->dtype == INFERD_DTYPE_FP32)
                ((float *)out[0]->data)[i] = keep ? (float)v * (float)scale : 0.0f;
            else
                inferd_onnx_store_f64(out[0]->data, x->dtype, i, keep ? v * scale : 0.0);
        }
        if (mask)
            inferd_onnx_store_f64(mask->data, mask->dtype, i, keep);
    }
    inferd_free(g);
    return INFERD_OK;
}

static inferd_status_t dropout_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    dropout_data_t d = {0};
    int64_t seed = 0;
    if (inferd_onnx_attr_float(ic->node, "ratio", 0.5f, &d.ratio, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "seed", 0, &seed, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    d.has_seed = inferd_onnx_attr_find(ic->node, "seed") != NULL;
    d.seed = (uint32_t)seed;
    /* Only a graph that can never train aliases its output to the input. */
    const inferd_tensor_t *tm = ic->node->n_inputs > 2 ? ic->in_consts[2] : NULL;
    bool may_train = ic->node->n_inputs > 2 && ic->node->inputs[2] >= 0 &&
                     !(tm && inferd_tensor_numel(tm) == 1 && !*(const uint8_t *)tm->data);
    if (may_train &&
        (ic->in_types[0] == INFERD_DTYPE_BYTES || !inferd_onnx_dtype_is_float(ic->in_types[0])))
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    ic->node->alias = !may_train;
    ic->out_types[0] = ic->in_types[0];
    if (ic->node->n_outputs > 1)
        ic->out_types[1] = ic->node->opset >= 10 ? INFERD_DTYPE_BOOL : ic->in_types[0];
    return set_data(ic, &d, sizeof(d), dropout_compute);
}

/* ------------------------------------------------------------------------------------ */
/* Registration                                                                         */

const inferd_onnx_op_t inferd_onnx_ops_tensor[] = {
    {"", "Size", 1, 1, 1, 1, size_init, size_reshape},
    {"", "Size", 13, 1, 1, 1, size_init, size_reshape},
    {"", "Expand", 8, 2, 2, 1, expand_init, expand_reshape},
    {"", "Expand", 13, 2, 2, 1, expand_init, expand_reshape},
    {"", "Tile", 6, 2, 2, 1, tile_init, tile_reshape},
    {"", "Tile", 13, 2, 2, 1, tile_init, tile_reshape},
    {"", "Slice", 1, 1, 1, 1, slice_init, slice_reshape},
    {"", "Slice", 10, 3, 5, 1, slice_init, slice_reshape},
    {"", "Slice", 11, 3, 5, 1, slice_init, slice_reshape},
    {"", "Slice", 13, 3, 5, 1, slice_init, slice_reshape},
    {"", "Pad", 1, 1, 1, 1, pad_init, pad_reshape},
    {"", "Pad", 2, 1, 1, 1, pad_init, pad_reshape},
    {"", "Pad", 11, 2, 3, 1, pad_init, pad_reshape},
    {"", "Pad", 13, 2, 3, 1, pad_init, pad_reshape},
    {"", "Pad", 18, 2, 4, 1, pad_init, pad_reshape},
    {"", "Split", 1, 1, 1, 64, split_init, split_reshape},
    {"", "Split", 2, 1, 1, 64, split_init, split_reshape},
    {"", "Split", 11, 1, 1, 64, split_init, split_reshape},
    {"", "Split", 13, 1, 2, 64, split_init, split_reshape},
    {"", "Split", 18, 1, 2, 64, split_init, split_reshape},
    {"", "Range", 11, 3, 3, 1, range_init, range_reshape},
    {"", "ConstantOfShape", 9, 1, 1, 1, cos_init, cos_reshape},
    {"", "EyeLike", 9, 1, 1, 1, eyelike_init, same_shape},
    {"", "Trilu", 14, 1, 2, 1, trilu_init, same_shape},
    {"", "CumSum", 11, 2, 2, 1, cumsum_init, same_shape},
    {"", "CumSum", 14, 2, 2, 1, cumsum_init, same_shape},
    {"", "NonZero", 9, 1, 1, 1, nonzero_init, nonzero_reshape},
    {"", "NonZero", 13, 1, 1, 1, nonzero_init, nonzero_reshape},
    {"", "Compress", 9, 2, 2, 1, compress_init, compress_reshape},
    {"", "Compress", 11, 2, 2, 1, compress_init, compress_reshape},
    {"", "OneHot", 9, 3, 3, 1, onehot_init, onehot_reshape},
    {"", "OneHot", 11, 3, 3, 1, onehot_init, onehot_reshape},
    {"", "TopK", 1, 1, 1, 2, topk_init, topk_reshape},
    {"", "TopK", 10, 2, 2, 2, topk_init, topk_reshape},
    {"", "TopK", 11, 2, 2, 2, topk_init, topk_reshape},
    {"", "Unique", 11, 1, 1, 4, unique_init, unique_reshape},
    {"", "ReverseSequence", 10, 2, 2, 1, revseq_init, same_shape},
    {"", "Dropout", 1, 1, 1, 2, dropout_init, dropout_reshape},
    {"", "Dropout", 6, 1, 1, 2, dropout_init, dropout_reshape},
    {"", "Dropout", 7, 1, 1, 2, dropout_init, dropout_reshape},
    {"", "Dropout", 10, 1, 1, 2, dropout_init, dropout_reshape},
    {"", "Dropout", 12, 1, 3, 2, dropout_init, dropout_reshape},
    {"", "Dropout", 13, 1, 3, 2, dropout_init, dropout_reshape},
};
const size_t inferd_onnx_ops_tensor_count =
    sizeof(inferd_onnx_ops_tensor) / sizeof(inferd_onnx_ops_tensor[0]);
