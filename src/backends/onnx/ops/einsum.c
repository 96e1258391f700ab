/* Einsum: the general Einstein summation over any number of operands, with repeated labels
 * (diagonals), ellipsis broadcasting and implicit output (labels seen once, sorted, after
 * the ellipsis dims).
 *
 * The equation is parsed once at load into per-operand label lists; the ellipsis is sized
 * per run from the operands' ranks. The kernel is one generic loop over every label's
 * range (output labels outer, summed labels inner), reading each operand through per-label
 * strides, so a repeated label walks a diagonal and a broadcast dim has stride 0. It is
 * exact and simple rather than fast; the common contractions (matmul, batched matmul,
 * transposes) would go through GEMM in a later pass. Accumulation is in double for float
 * types and in wrapping 64-bit integers for integer types. */
#include "backends/onnx/ops/ops.h"

#include <limits.h>
#include <string.h>

#include "backends/onnx/kernels/sgemm.h"
#include "core/alloc.h"

#define EINSUM_MAX_OPERANDS 16
#define EINSUM_LETTERS 52
#define EINSUM_MAX_LABELS (EINSUM_LETTERS + INFERD_MAX_DIMS) /* letters + ellipsis dims */
#define ELLIPSIS (-1)

typedef struct einsum_term {
    int n;                        /* entries in lab */
    int lab[INFERD_MAX_DIMS + 1]; /* letter ids 0..51, or ELLIPSIS */
} einsum_term_t;

typedef struct einsum_data {
    int n_in;
    einsum_term_t in[EINSUM_MAX_OPERANDS];
    bool explicit_out;
    einsum_term_t out;
} einsum_data_t;

static inferd_status_t fail(inferd_err_t *err)
{
    return err ? err->code : INFERD_E_INVALID_ARG;
}

static int letter_id(char c)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return 26 + (c - 'a');
    return -2;
}

/* Parses one term (the text between commas or after "->") into t. */
static inferd_status_t parse_term(const char *s, size_t len, einsum_term_t *t, inferd_err_t *err)
{
    t->n = 0;
    bool seen_ellipsis = false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        if (c == ' ')
            continue;
        if (t->n > INFERD_MAX_DIMS)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "einsum term has too many labels");
        if (c == '.') {
            if (i + 2 >= len + 0 || s[i + 1] != '.' || s[i + 2] != '.' || seen_ellipsis)
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "bad ellipsis in equation");
            seen_ellipsis = true;
            t->lab[t->n++] = ELLIPSIS;
            i += 2;
            continue;
        }
        int id = letter_id(c);
        if (id < 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "bad character '%c' in equation", c);
        t->lab[t->n++] = id;
    }
    return INFERD_OK;
}

static inferd_status_t einsum_parse(const char *eq, einsum_data_t *d, inferd_err_t *err)
{
    memset(d, 0, sizeof(*d));
    const char *arrow = strstr(eq, "->");
    size_t lhs_len = arrow ? (size_t)(arrow - eq) : strlen(eq);
    size_t start = 0;
    for (size_t i = 0; i <= lhs_len; i++) {
        if (i == lhs_len || eq[i] == ',') {
            if (d->n_in == EINSUM_MAX_OPERANDS)
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "too many einsum operands");
            if (parse_term(eq + start, i - start, &d->in[d->n_in++], err) != INFERD_OK)
                return fail(err);
            start = i + 1;
        }
    }
    if (arrow) {
        d->explicit_out = true;
        if (parse_term(arrow + 2, strlen(arrow + 2), &d->out, err) != INFERD_OK)
            return fail(err);
    }
    return INFERD_OK;
}

/* A run's plan: every label's size, the output's labels, and per operand the stride of
 * each label (0 when the operand lacks it or broadcasts it). */
typedef struct einsum_plan {
    int n_labels;                    /* labels in loop order: output ones first */
    int order[EINSUM_MAX_LABELS];    /* label ids in loop order */
    int64_t size[EINSUM_MAX_LABELS]; /* by label id */
    int n_out;
    int64_t stride[EINSUM_MAX_OPERANDS][EINSUM_MAX_LABELS]; /* by label id */
    inferd_onnx_shape_t out;
    /* For the GEMM path: which operands carry each label, and whether any operand
     * repeats a label (a diagonal) or broadcasts a size-1 dim. */
    bool present[EINSUM_MAX_OPERANDS][EINSUM_MAX_LABELS];
    bool irregular;
} einsum_plan_t;

/* Expands a term's ellipsis into ids EINSUM_LETTERS + k, right-aligned to ell_rank dims. */
static int expand(const einsum_term_t *t, int rank, int ell_rank, int *ids)
{
    int n = 0, letters = 0;
    for (int i = 0; i < t->n; i++)
        letters += t->lab[i] != ELLIPSIS;
    for (int i = 0; i < t->n; i++) {
        if (t->lab[i] != ELLIPSIS) {
            ids[n++] = t->lab[i];
            continue;
        }
        int k = rank - letters; /* dims this operand's ellipsis covers */
        for (int j = 0; j < k; j++)
            ids[n++] = EINSUM_LETTERS + (ell_rank - k) + j;
    }
    return n;
}

static inferd_status_t einsum_plan(const einsum_data_t *d, inferd_tensor_t *const *in,
                                   einsum_plan_t *p, inferd_err_t *err)
{
    memset(p, 0, sizeof(*p));
    bool used[EINSUM_MAX_LABELS] = {false};
    int count[EINSUM_MAX_LABELS] = {0};
    int ell_rank = 0;
    bool any_ellipsis = false;
    for (int o = 0; o < d->n_in; o++) {
        if (!in[o])
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "einsum operand %d is missing", o);
        int letters = 0;
        bool ell = false;
        for (int i = 0; i < d->in[o].n; i++) {
            if (d->in[o].lab[i] == ELLIPSIS)
                ell = true;
            else
                letters++;
        }
        if ((!ell && letters != in[o]->ndim) || (ell && letters > in[o]->ndim))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "operand %d has rank %d, the equation gives it %d labels", o,
                                  in[o]->ndim, letters);
        if (ell) {
            any_ellipsis = true;
            if (in[o]->ndim - letters > ell_rank)
                ell_rank = in[o]->ndim - letters;
        }
    }
    for (int l = 0; l < EINSUM_MAX_LABELS; l++)
        p->size[l] = 1;
    for (int o = 0; o < d->n_in; o++) {
        int ids[INFERD_MAX_DIMS];
        int n = expand(&d->in[o], in[o]->ndim, ell_rank, ids);
        int64_t st = 1;
        for (int a = n - 1; a >= 0; a--) {
            int l = ids[a];
            int64_t dim = in[o]->dims[a];
            bool is_ell = l >= EINSUM_LETTERS;
            if (used[l] && p->size[l] != dim) {
                /* Ellipsis dims broadcast; letter dims must agree. */
                if (!(is_ell && (dim == 1 || p->size[l] == 1)))
                    return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                          "label sizes %lld and %lld disagree",
                                          (long long)p->size[l], (long long)dim);
            }
            if (used[l] && p->size[l] != dim)
                p->irregular = true;
            if (p->present[o][l])
                p->irregular = true;
            p->present[o][l] = true;
            if (!used[l] || p->size[l] == 1)
                p->size[l] = dim;
            used[l] = true;
            if (!(is_ell && dim == 1))
                p->stride[o][l] += st;
            st *= dim;
        }
        for (int a = 0; a < n; a++)
            if (ids[a] < EINSUM_LETTERS)
                count[ids[a]]++;
    }
    /* Output labels. */
    int out_ids[INFERD_MAX_DIMS + 1];
    int n_out = 0;
    if (d->explicit_out) {
        int letters = 0;
        bool ell = false;
        for (int i = 0; i < d->out.n; i++) {
            if (d->out.lab[i] == ELLIPSIS)
                ell = true;
            else
                letters++;
        }
        if (any_ellipsis && !ell && ell_rank > 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "output lacks the ellipsis");
        n_out = expand(&d->out, letters + (ell ? ell_rank : 0), ell_rank, out_ids);
        for (int i = 0; i < n_out; i++) {
            if (!used[out_ids[i]])
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "output label is not in any input");
            for (int j = 0; j < i; j++)
                if (out_ids[j] == out_ids[i])
                    return inferd_err_set(err, INFERD_E_INVALID_ARG, "repeated output label");
        }
    } else {
        for (int k = 0; k < ell_rank; k++)
            out_ids[n_out++] = EINSUM_LETTERS + k;
        for (int l = 0; l < EINSUM_LETTERS; l++)
            if (count[l] == 1)
                out_ids[n_out++] = l;
    }
    if (n_out > INFERD_MAX_DIMS)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "einsum output rank is too large");
    bool in_out[EINSUM_MAX_LABELS] = {false};
    p->out.ndim = n_out;
    for (int i = 0; i < n_out; i++) {
        p->order[p->n_labels++] = out_ids[i];
        in_out[out_ids[i]] = true;
        p->out.dims[i] = p->size[out_ids[i]];
    }
    p->n_out = n_out;
    for (int l = 0; l < EINSUM_MAX_LABELS; l++)
        if (used[l] && !in_out[l])
            p->order[p->n_labels++] = l;
    return INFERD_OK;
}

static inferd_status_t einsum_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    einsum_plan_t p;
    if (einsum_plan(node->op_data, in, &p, err) != INFERD_OK)
        return fail(err);
    out[0] = p.out;
    return INFERD_OK;
}

/* Copies the elements of src, walked in the order of labels[0..n) (last fastest) with
 * src's per-label strides, into contiguous dst. */
static void gather_f32(const float *src, const int *labels, int n, const einsum_plan_t *p,
                       const int64_t *stride, float *dst)
{
    int64_t total = 1, idx[EINSUM_MAX_LABELS] = {0};
    for (int j = 0; j < n; j++)
        total *= p->size[labels[j]];
    int64_t off = 0;
    for (int64_t e = 0; e < total; e++) {
        dst[e] = src[off];
        for (int j = n - 1; j >= 0; j--) {
            int l = labels[j];
            off += stride[l];
            if (++idx[j] < p->size[l])
                break;
            off -= stride[l] * p->size[l];
            idx[j] = 0;
        }
    }
}

/* Two FP32 operands whose labels are all batch (both operands and the output), M (first
 * operand and output), N (second operand and output) or K (both operands, summed): the
 * operands are gathered into [batch, M, K] and [batch, K, N] and multiplied with one sgemm
 * per batch, and the product is scattered into the output's label order. Returns false
 * (nothing written) for anything else: diagonals, broadcasting, labels summed within one
 * operand, other types. */
static bool einsum_gemm_f32(const einsum_data_t *d, const einsum_plan_t *p,
                            inferd_tensor_t *const *in, inferd_tensor_t *y, inferd_status_t *rc,
                            inferd_err_t *err)
{
    if (d->n_in != 2 || p->irregular || y->dtype != INFERD_DTYPE_FP32)
        return false;
    bool in_out[EINSUM_MAX_LABELS] = {false};
    for (int i = 0; i < p->n_out; i++)
        in_out[p->order[i]] = true;
    int bl[EINSUM_MAX_LABELS], ml[EINSUM_MAX_LABELS], nl[EINSUM_MAX_LABELS], kl[EINSUM_MAX_LABELS];
    int nb = 0, nm = 0, nn = 0, nk = 0;
    int64_t bsz = 1, m = 1, n = 1, k = 1;
    for (int i = 0; i < p->n_labels; i++) {
        int l = p->order[i];
        bool a = p->present[0][l], b = p->present[1][l], o = in_out[l];
        if (a && b && o) {
            bl[nb++] = l;
            bsz *= p->size[l];
        } else if (a && !b && o) {
            ml[nm++] = l;
            m *= p->size[l];
        } else if (!a && b && o) {
            nl[nn++] = l;
            n *= p->size[l];
        } else if (a && b && !o) {
            kl[nk++] = l;
            k *= p->size[l];
        } else {
            return false;
        }
    }
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
        return false;
    size_t na = (size_t)(bsz * m * k), nbb = (size_t)(bsz * k * n), nc = (size_t)(bsz * m * n);
    float *buf = inferd_malloc((na + nbb + nc + 1) * sizeof(float));
    if (!buf) {
        *rc = inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");
        return true;
    }
    float *a = buf, *b = a + na, *c = b + nbb;
    int la[EINSUM_MAX_LABELS], lb[EINSUM_MAX_LABELS], lc[EINSUM_MAX_LABELS];
    int n_la = 0, n_lb = 0, n_lc = 0;
    for (int i = 0; i < nb; i++)
        la[n_la++] = lb[n_lb++] = lc[n_lc++] = bl[i];
    for (int i = 0; i < nm; i++)
        la[n_la++] = lc[n_lc++] = ml[i];
    for (int i = 0; i < nk; i++)
        la[n_la++] = kl[i];
    for (int i = 0; i < nk; i++)
        lb[n_lb++] = kl[i];
    for (int i = 0; i < nn; i++)
        lb[n_lb++] = lc[n_lc++] = nl[i];
    gather_f32(in[0]->data, la, n_la, p, p->stride[0], a);
    gather_f32(in[1]->data, lb, n_lb, p, p->stride[1], b);
    for (int64_t i = 0; i < bsz; i++) {
        float *ci = c + i * m * n;
        if (k == 0 || m == 0 || n == 0) {
            memset(ci, 0, (size_t)(m * n) * sizeof(float));
            continue;
        }
        /* Row-stable, so a model's batch label merged into M keeps each entry's result
         * independent of the batch it runs in. */
        inferd_sgemm(false, false, m, n, k, 1.0f, a + i * m * k, k, b + i * k * n, n, 0.0f, ci);
    }
    /* Scatter: walk the output in its own order and read c through its label strides. */
    int64_t cstride[EINSUM_MAX_LABELS] = {0}, st = 1;
    for (int j = n_lc - 1; j >= 0; j--) {
        cstride[lc[j]] = st;
        st *= p->size[lc[j]];
    }
    gather_f32(c, p->order, p->n_out, p, cstride, y->data);
    inferd_free(buf);
    *rc = INFERD_OK;
    return true;
}

#define EINSUM_KERNEL(name, T, ACC)                                                                \
    static inferd_status_t name(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,        \
                                inferd_tensor_t *const *out, inferd_err_t *err)                    \
    {                                                                                              \
        const einsum_data_t *d = node->op_data;                                                    \
        einsum_plan_t *p = inferd_malloc(sizeof(*p));                                              \
        if (!p)                                                                                    \
            return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");              \
        if (einsum_plan(d, in, p, err) != INFERD_OK) {                                             \
            inferd_free(p);                                                                        \
            return fail(err);                                                                      \
        }                                                                                          \
        inferd_status_t rc_ = INFERD_OK;                                                           \
        if (einsum_gemm_f32(d, p, in, out[0], &rc_, err)) {                                        \
            inferd_free(p);                                                                        \
            return rc_;                                                                            \
        }                                                                                          \
        T *y = out[0]->data;                                                                       \
        int64_t out_n = inferd_onnx_dims_prod(p->out.dims, 0, p->out.ndim);                        \
        int64_t inner_n = 1;                                                                       \
        for (int i = p->n_out; i < p->n_labels; i++)                                               \
            inner_n *= p->size[p->order[i]];                                                       \
        int64_t idx[EINSUM_MAX_LABELS];                                                            \
        for (int64_t e = 0; e < out_n; e++) {                                                      \
            int64_t rem = e;                                                                       \
            for (int i = p->n_out - 1; i >= 0; i--) {                                              \
                idx[i] = rem % p->size[p->order[i]];                                               \
                rem /= p->size[p->order[i]];                                                       \
            }                                                                                      \
            int64_t base[EINSUM_MAX_OPERANDS];                                                     \
            for (int o = 0; o < d->n_in; o++) {                                                    \
                base[o] = 0;                                                                       \
                for (int i = 0; i < p->n_out; i++)                                                 \
                    base[o] += idx[i] * p->stride[o][p->order[i]];                                 \
            }                                                                                      \
            ACC acc = 0;                                                                           \
            for (int64_t s = 0; s < inner_n; s++) {                                                \
                int64_t r2 = s;                                                                    \
                for (int i = p->n_labels - 1; i >= p->n_out; i--) {                                \
                    idx[i] = r2 % p->size[p->order[i]];                                            \
                    r2 /= p->size[p->order[i]];                                                    \
                }                                                                                  \
                ACC prod = 1;                                                                      \
                for (int o = 0; o < d->n_in; o++) {                                                \
                    int64_t off = base[o];                                                         \
                    for (int i = p->n_out; i < p->n_labels; i++)                                   \
                        off += idx[i] * p->stride[o][p->order[i]];                                 \
                    prod *= (ACC)((const T *)in[o]->data)[off];                                    \
                }                                                                                  \
                acc += prod;                                                                       \
            }                                                                                      \
            y[e] = (T)acc;                                                                         \
        }                                                                                          \
        inferd_free(p);                                                                            \
        return INFERD_OK;                                                                          \
    }

EINSUM_KERNEL(einsum_f32, float, double)
EINSUM_KERNEL(einsum_f64, double, double)
EINSUM_KERNEL(einsum_i32, int32_t, uint64_t)
EINSUM_KERNEL(einsum_i64, int64_t, uint64_t)

static inferd_status_t einsum_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(ic->node, "equation");
    if (!a || a->type != INFERD_ONNX_ATTR_STRING)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Einsum needs an 'equation'");
    einsum_data_t d;
    if (einsum_parse(a->s, &d, err) != INFERD_OK)
        return fail(err);
    if (d.n_in != ic->node->n_inputs)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "equation has %d operands, the node %d inputs", d.n_in,
                              ic->node->n_inputs);
    inferd_dtype_t t = ic->in_types[0];
    for (int i = 1; i < ic->node->n_inputs; i++)
        if (ic->in_types[i] != t)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "Einsum inputs differ in type");
    inferd_onnx_compute_fn fn;
    switch (t) {
    case INFERD_DTYPE_FP32: fn = einsum_f32; break;
    case INFERD_DTYPE_FP64: fn = einsum_f64; break;
    case INFERD_DTYPE_INT32: fn = einsum_i32; break;
    case INFERD_DTYPE_INT64: fn = einsum_i64; break;
    default: return inferd_onnx_unsupported_dtype(ic, 0, err);
    }
    einsum_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = fn;
    ic->out_types[0] = t;
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_einsum[] = {
    {"", "Einsum", 12, 1, -1, 1, einsum_init, einsum_reshape},
};
const size_t inferd_onnx_ops_einsum_count =
    sizeof(inferd_onnx_ops_einsum) / sizeof(inferd_onnx_ops_einsum[0]);
