/* Sequence operators (opset 11): SequenceEmpty, SequenceConstruct, SequenceInsert,
 * SequenceAt, SequenceErase, SequenceLength, ConcatFromSequence, SplitToSequence.
 *
 * A sequence lives only inside a graph run (model inputs and outputs stay tensors). Its
 * run-time value is a carrier tensor (UINT8, shape [0]) whose data is a seq_t holding
 * references to the element tensors; the carrier's release drops them, so the
 * executor's reference counting frees a sequence like any other value. Sequences are
 * immutable: Insert and Erase build a new list sharing the elements. The value's graph
 * dtype is INFERD_ONNX_SEQ(element dtype) (ops.h), which no tensor kernel accepts. These
 * ops produce their outputs through the `run` hook, since most output shapes depend on
 * the data. */
#include "backends/onnx/ops/ops.h"

#include <string.h>

#include "core/alloc.h"

typedef struct seq {
    inferd_dtype_t elem;
    int64_t n;
    size_t cap;
    inferd_tensor_t **items; /* owned references */
} seq_t;

static void seq_release(void *ctx, void *data)
{
    (void)data;
    seq_t *s = ctx;
    for (int64_t i = 0; i < s->n; i++)
        inferd_tensor_unref(s->items[i]);
    inferd_free(s->items);
    inferd_free(s);
}

/* A new empty sequence and its carrier (NULL with err set on failure). */
static inferd_tensor_t *seq_new(inferd_dtype_t elem, seq_t **out, inferd_err_t *err)
{
    seq_t *s = inferd_xcalloc(1, sizeof(*s));
    s->elem = elem;
    int64_t dims[1] = {0};
    inferd_tensor_t *t = inferd_tensor_wrap(INFERD_DTYPE_UINT8, dims, 1, s, 0, seq_release, s,
                                            INFERD_OWNER_ARENA, err);
    if (!t) {
        inferd_free(s);
        return NULL;
    }
    *out = s;
    return t;
}

/* Appends a reference to t. */
static void seq_push(seq_t *s, inferd_tensor_t *t)
{
    s->items = inferd_xgrow(s->items, sizeof(*s->items), (size_t)s->n + 1, &s->cap);
    s->items[s->n++] = inferd_tensor_ref(t);
}

static const seq_t *seq_of(const inferd_tensor_t *carrier)
{
    return carrier->_release == seq_release ? carrier->_release_ctx : NULL;
}

static inferd_status_t need_seq(const inferd_tensor_t *t, const seq_t **s, inferd_err_t *err)
{
    *s = t ? seq_of(t) : NULL;
    if (!*s)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "input is not a sequence");
    return INFERD_OK;
}

/* Reads an optional position (scalar INT32/INT64) normalized into [0, n_max]. */
static inferd_status_t read_position(const inferd_tensor_t *p, int64_t n, int64_t n_max,
                                     int64_t def, int64_t *out, inferd_err_t *err)
{
    if (!p) {
        *out = def;
        return INFERD_OK;
    }
    int64_t v[1];
    int cnt;
    if (inferd_onnx_read_ints(p, "position", v, 1, &cnt, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (cnt != 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "position must hold one value");
    int64_t pos = v[0] < 0 ? v[0] + n : v[0];
    if (pos < 0 || pos > n_max)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "position %lld is out of range",
                              (long long)v[0]);
    *out = pos;
    return INFERD_OK;
}

static inferd_status_t no_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_onnx_shape_t *out, inferd_err_t *err)
{
    return inferd_err_set(err, INFERD_E_INTERNAL, "%s has no static reshape", node->op_type);
}

static inferd_status_t bind(inferd_onnx_init_t *ic, inferd_onnx_run_fn run, inferd_dtype_t out)
{
    ic->node->run = run;
    ic->out_types[0] = out;
    return INFERD_OK;
}

static inferd_status_t seq_input_type(inferd_onnx_init_t *ic, int slot, inferd_dtype_t *elem,
                                      inferd_err_t *err)
{
    *elem = INFERD_DTYPE_INVALID;
    if (!INFERD_ONNX_IS_SEQ(ic->in_types[slot]))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "input %d must be a sequence", slot);
    *elem = INFERD_ONNX_SEQ_ELEM(ic->in_types[slot]);
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Building and editing                                                                 */

static inferd_status_t empty_run(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                                 inferd_tensor_t *const *in, inferd_tensor_t **out,
                                 inferd_err_t *err)
{
    seq_t *s;
    out[0] = seq_new(*(const inferd_dtype_t *)node->op_data, &s, err);
    return out[0] ? INFERD_OK : err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
}

static inferd_status_t empty_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    int64_t dtype;
    if (inferd_onnx_attr_int(ic->node, "dtype", 1, &dtype, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    inferd_dtype_t elem = inferd_onnx_dtype_from_enum(dtype);
    if (elem == INFERD_DTYPE_INVALID)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "dtype %lld", (long long)dtype);
    inferd_dtype_t *p = inferd_xmalloc(sizeof(*p));
    *p = elem;
    ic->node->op_data = p;
    return bind(ic, empty_run, INFERD_ONNX_SEQ(elem));
}

static inferd_status_t construct_run(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                                     inferd_tensor_t *const *in, inferd_tensor_t **out,
                                     inferd_err_t *err)
{
    seq_t *s;
    out[0] = seq_new(in[0]->dtype, &s, err);
    if (!out[0])
        return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    for (int i = 0; i < node->n_inputs - node->n_implicit; i++)
        seq_push(s, in[i]);
    return INFERD_OK;
}

static inferd_status_t construct_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    for (int i = 1; i < ic->node->n_inputs; i++)
        if (ic->in_types[i] != dt)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "sequence elements differ in type");
    if (INFERD_ONNX_IS_SEQ(dt))
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    return bind(ic, construct_run, INFERD_ONNX_SEQ(dt));
}

static inferd_status_t insert_run(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                                  inferd_tensor_t *const *in, inferd_tensor_t **out,
                                  inferd_err_t *err)
{
    const seq_t *src;
    int64_t pos;
    if (need_seq(in[0], &src, err) != INFERD_OK ||
        read_position(in[2], src->n, src->n, src->n, &pos, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (in[1]->dtype != src->elem)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "inserting %s into a sequence of %s",
                              inferd_dtype_name(in[1]->dtype), inferd_dtype_name(src->elem));
    seq_t *s;
    out[0] = seq_new(src->elem, &s, err);
    if (!out[0])
        return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    for (int64_t i = 0; i <= src->n; i++) {
        if (i == pos)
            seq_push(s, in[1]);
        if (i < src->n)
            seq_push(s, src->items[i]);
    }
    return INFERD_OK;
}

static inferd_status_t insert_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t elem;
    if (seq_input_type(ic, 0, &elem, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    return bind(ic, insert_run, ic->in_types[0]);
}

static inferd_status_t erase_run(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                                 inferd_tensor_t *const *in, inferd_tensor_t **out,
                                 inferd_err_t *err)
{
    const seq_t *src;
    int64_t pos;
    if (need_seq(in[0], &src, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (src->n == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "erasing from an empty sequence");
    if (read_position(in[1], src->n, src->n - 1, src->n - 1, &pos, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    seq_t *s;
    out[0] = seq_new(src->elem, &s, err);
    if (!out[0])
        return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    for (int64_t i = 0; i < src->n; i++)
        if (i != pos)
            seq_push(s, src->items[i]);
    return INFERD_OK;
}

static inferd_status_t erase_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t elem;
    if (seq_input_type(ic, 0, &elem, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    return bind(ic, erase_run, ic->in_types[0]);
}

/* ------------------------------------------------------------------------------------ */
/* Reading                                                                              */

static inferd_status_t at_run(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                              inferd_tensor_t *const *in, inferd_tensor_t **out, inferd_err_t *err)
{
    const seq_t *src;
    int64_t pos;
    if (need_seq(in[0], &src, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (src->n == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "SequenceAt on an empty sequence");
    if (read_position(in[1], src->n, src->n - 1, 0, &pos, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0] = inferd_tensor_ref(src->items[pos]);
    return INFERD_OK;
}

static inferd_status_t at_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t elem;
    if (seq_input_type(ic, 0, &elem, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    return bind(ic, at_run, elem);
}

static inferd_status_t length_run(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                                  inferd_tensor_t *const *in, inferd_tensor_t **out,
                                  inferd_err_t *err)
{
    const seq_t *src;
    if (need_seq(in[0], &src, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0] = inferd_tensor_create(INFERD_DTYPE_INT64, NULL, 0, 0, INFERD_OWNER_ARENA, err);
    if (!out[0])
        return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    *(int64_t *)out[0]->data = src->n;
    return INFERD_OK;
}

static inferd_status_t length_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t elem;
    if (seq_input_type(ic, 0, &elem, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    return bind(ic, length_run, INFERD_DTYPE_INT64);
}

/* ------------------------------------------------------------------------------------ */
/* ConcatFromSequence, SplitToSequence                                                  */

typedef struct seq_axis {
    int64_t axis;
    bool flag; /* ConcatFromSequence: new_axis; SplitToSequence: keepdims */
} seq_axis_t;

static inferd_status_t concat_run(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                                  inferd_tensor_t *const *in, inferd_tensor_t **out,
                                  inferd_err_t *err)
{
    const seq_axis_t *d = node->op_data;
    const seq_t *src;
    if (need_seq(in[0], &src, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (src->n == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "concatenating an empty sequence");
    const inferd_tensor_t *first = src->items[0];
    int rank = first->ndim + (d->flag ? 1 : 0), axis;
    if (rank > INFERD_MAX_DIMS || inferd_onnx_axis(d->axis, rank, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    /* Each element seen as [outer, part, inner] with part = 1 for a new axis. */
    int64_t outer = inferd_onnx_dims_prod(first->dims, 0, axis);
    int64_t inner = inferd_onnx_dims_prod(first->dims, d->flag ? axis : axis + 1, first->ndim);
    int64_t total = 0;
    for (int64_t i = 0; i < src->n; i++) {
        const inferd_tensor_t *t = src->items[i];
        bool fits = t->ndim == first->ndim;
        for (int k = 0; fits && k < first->ndim; k++)
            fits = (!d->flag && k == axis) || t->dims[k] == first->dims[k];
        if (!fits)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "sequence elements do not concatenate");
        total += d->flag ? 1 : t->dims[axis];
    }
    int64_t dims[INFERD_MAX_DIMS];
    for (int k = 0, j = 0; k < rank; k++) {
        if (k == axis) {
            dims[k] = total;
            j += d->flag ? 0 : 1;
        } else {
            dims[k] = first->dims[j++];
        }
    }
    out[0] = inferd_tensor_create(src->elem, dims, rank, 0, INFERD_OWNER_ARENA, err);
    if (!out[0])
        return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    size_t es = inferd_dtype_size(src->elem);
    char *dst = out[0]->data;
    size_t row = (size_t)(total * inner) * es, at = 0;
    for (int64_t i = 0; i < src->n; i++) {
        const inferd_tensor_t *t = src->items[i];
        int64_t part = d->flag ? 1 : t->dims[axis];
        size_t chunk = (size_t)(part * inner) * es;
        for (int64_t o = 0; chunk && o < outer; o++)
            memcpy(dst + (size_t)o * row + at, (const char *)t->data + (size_t)o * chunk, chunk);
        at += chunk;
    }
    return INFERD_OK;
}

static inferd_status_t concat_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t elem = INFERD_DTYPE_INVALID;
    seq_axis_t d = {0};
    int64_t new_axis;
    if (seq_input_type(ic, 0, &elem, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "axis", 0, &d.axis, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "new_axis", 0, &new_axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (elem == INFERD_DTYPE_BYTES)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "string sequences cannot be concatenated");
    d.flag = new_axis != 0;
    seq_axis_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    return bind(ic, concat_run, elem);
}

static inferd_status_t split_run(const inferd_onnx_node_t *node, inferd_ctx_t *ctx,
                                 inferd_tensor_t *const *in, inferd_tensor_t **out,
                                 inferd_err_t *err)
{
    const seq_axis_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *sp = node->n_inputs > 1 ? in[1] : NULL;
    int axis;
    if (inferd_onnx_axis(d->axis, x->ndim, &axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    int64_t dim = x->dims[axis];
    /* Part sizes: all 1 (and the axis squeezed unless keepdims) without split, chunks of
     * a scalar split's size, or the sizes a 1-D split lists. */
    int64_t n_parts = 0, chunk = 1, sizes_buf[256];
    const int64_t *sizes = NULL;
    bool squeeze = false;
    if (!sp) {
        n_parts = dim;
        squeeze = !d->flag;
    } else if (sp->ndim == 0) {
        int64_t v[1];
        int cnt;
        if (inferd_onnx_read_ints(sp, "split", v, 1, &cnt, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        chunk = v[0];
        if (chunk < 1)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "split must be positive");
        n_parts = (dim + chunk - 1) / chunk;
    } else {
        int cnt;
        if (inferd_onnx_read_ints(sp, "split", sizes_buf, 256, &cnt, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        int64_t sum = 0;
        for (int i = 0; i < cnt; i++)
            sum += sizes_buf[i];
        if (sum != dim)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "split sizes do not sum to %lld",
                                  (long long)dim);
        sizes = sizes_buf;
        n_parts = cnt;
    }
    seq_t *s;
    out[0] = seq_new(x->dtype, &s, err);
    if (!out[0])
        return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
    size_t es = inferd_dtype_size(x->dtype);
    int64_t outer = inferd_onnx_dims_prod(x->dims, 0, axis),
            inner = inferd_onnx_dims_prod(x->dims, axis + 1, x->ndim);
    int64_t at = 0;
    for (int64_t p = 0; p < n_parts; p++) {
        int64_t len = sizes ? sizes[p] : (dim - at < chunk ? dim - at : chunk);
        int64_t dims[INFERD_MAX_DIMS];
        int nd = 0;
        for (int k = 0; k < x->ndim; k++) {
            if (k == axis && squeeze)
                continue;
            dims[nd++] = k == axis ? len : x->dims[k];
        }
        inferd_tensor_t *t = inferd_tensor_create(x->dtype, dims, nd, 0, INFERD_OWNER_ARENA, err);
        if (!t)
            return err ? err->code : INFERD_E_RESOURCE_EXHAUSTED; /* out[0] is dropped by exec */
        size_t piece = (size_t)(len * inner) * es;
        for (int64_t o = 0; piece && o < outer; o++)
            memcpy((char *)t->data + (size_t)o * piece,
                   (const char *)x->data + (size_t)((o * dim + at) * inner) * es, piece);
        seq_push(s, t);
        inferd_tensor_unref(t);
        at += len;
    }
    return INFERD_OK;
}

static inferd_status_t split_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    if (dt == INFERD_DTYPE_BYTES || INFERD_ONNX_IS_SEQ(dt))
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    seq_axis_t d = {0};
    int64_t keepdims;
    if (inferd_onnx_attr_int(ic->node, "axis", 0, &d.axis, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "keepdims", 1, &keepdims, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    d.flag = keepdims != 0;
    seq_axis_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    return bind(ic, split_run, INFERD_ONNX_SEQ(dt));
}

const inferd_onnx_op_t inferd_onnx_ops_sequence[] = {
    {"", "SequenceEmpty", 11, 0, 0, 1, empty_init, no_reshape},
    {"", "SequenceConstruct", 11, 1, -1, 1, construct_init, no_reshape},
    {"", "SequenceInsert", 11, 2, 3, 1, insert_init, no_reshape},
    {"", "SequenceAt", 11, 2, 2, 1, at_init, no_reshape},
    {"", "SequenceErase", 11, 1, 2, 1, erase_init, no_reshape},
    {"", "SequenceLength", 11, 1, 1, 1, length_init, no_reshape},
    {"", "ConcatFromSequence", 11, 1, 1, 1, concat_init, no_reshape},
    {"", "SplitToSequence", 11, 1, 2, 1, split_init, no_reshape},
};
const size_t inferd_onnx_ops_sequence_count =
    sizeof(inferd_onnx_ops_sequence) / sizeof(inferd_onnx_ops_sequence[0]);
