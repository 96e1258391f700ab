/* String and token operators: StringNormalizer (opset 10) on BYTES tensors, and
 * TfIdfVectorizer (opset 9) on INT32, INT64 or BYTES token sequences.
 *
 * BYTES data is a sequence of elements, each a 4-byte little-endian length and then the
 * bytes (see inferd/tensor.h). An op with a BYTES output computes the output's serialized
 * size in reshape (the executor allocates exactly that) and writes it in compute; both
 * run the same normalization, which keeps the two in step without scratch memory.
 *
 * StringNormalizer drops the elements of a [C] or [1, C] tensor that equal one of the
 * stopwords (case-insensitively unless is_case_sensitive), then lower- or upper-cases
 * the rest (case_change_action). Case mapping and case-insensitive matching are ASCII
 * only; other bytes (UTF-8 sequences) pass through unchanged, whatever `locale` says.
 * When every element is dropped the output is one empty string, of shape [1] or [1, 1].
 *
 * TfIdfVectorizer counts, per row of a [C] or [N, C] input, the n-grams of its pool
 * (lengths min_gram_length..max_gram_length, each also with 1..max_skip_count tokens
 * skipped between members; unigrams once) and writes them at the pool entry's
 * ngram_indexes column: raw counts (TF), the entry's weight when present (IDF), or count
 * times weight (TFIDF). Pool lookups are linear scans, fine for the pools ONNX models
 * carry. */
#include "backends/onnx/ops/ops.h"

#include <ctype.h>
#include <string.h>

#include "core/alloc.h"

/* Reads element i's bytes starting at *p; advances *p past it. */
static const uint8_t *bytes_next(const uint8_t **p, uint32_t *len)
{
    const uint8_t *q = *p;
    *len = (uint32_t)q[0] | (uint32_t)q[1] << 8 | (uint32_t)q[2] << 16 | (uint32_t)q[3] << 24;
    *p = q + 4 + *len;
    return q + 4;
}

static uint8_t *bytes_put_len(uint8_t *p, uint32_t len)
{
    p[0] = (uint8_t)len;
    p[1] = (uint8_t)(len >> 8);
    p[2] = (uint8_t)(len >> 16);
    p[3] = (uint8_t)(len >> 24);
    return p + 4;
}

typedef enum { CASE_NONE, CASE_LOWER, CASE_UPPER } case_action_t;

typedef struct strnorm_data {
    case_action_t action;
    bool case_sensitive;
    int n_stop;
    char **stop; /* NUL-terminated copies, after the struct in the same allocation */
    size_t *stop_len;
} strnorm_data_t;

static bool ascii_equal_nocase(const uint8_t *a, const char *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (tolower(a[i]) != tolower((unsigned char)b[i]))
            return false;
    return true;
}

static bool is_stopword(const strnorm_data_t *d, const uint8_t *s, uint32_t len)
{
    for (int k = 0; k < d->n_stop; k++) {
        if (d->stop_len[k] != len)
            continue;
        if (d->case_sensitive ? memcmp(s, d->stop[k], len) == 0
                              : ascii_equal_nocase(s, d->stop[k], len))
            return true;
    }
    return false;
}

/* Runs the normalization; with out == NULL only counts kept elements and bytes. */
static void strnorm_run(const strnorm_data_t *d, const inferd_tensor_t *x, uint8_t *out,
                        int64_t *kept, size_t *nbytes)
{
    const uint8_t *p = x->data;
    uint64_t n = inferd_tensor_numel(x);
    *kept = 0;
    *nbytes = 0;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t len;
        const uint8_t *s = bytes_next(&p, &len);
        if (is_stopword(d, s, len))
            continue;
        (*kept)++;
        *nbytes += 4 + len;
        if (!out)
            continue;
        out = bytes_put_len(out, len);
        for (uint32_t b = 0; b < len; b++)
            out[b] = d->action == CASE_LOWER   ? (uint8_t)tolower(s[b])
                     : d->action == CASE_UPPER ? (uint8_t)toupper(s[b])
                                               : s[b];
        out += len;
    }
    if (*kept == 0) {
        /* One empty string stands for "nothing left". */
        *nbytes = 4;
        if (out)
            bytes_put_len(out, 0);
    }
}

static inferd_status_t strnorm_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                       inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    if (!(x->ndim == 1 || (x->ndim == 2 && x->dims[0] == 1)))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "StringNormalizer takes [C] or [1, C]");
    if (!inferd_bytes_valid(x->data, x->nbytes, inferd_tensor_numel(x)))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "malformed string tensor");
    int64_t kept;
    size_t nbytes;
    strnorm_run(node->op_data, x, NULL, &kept, &nbytes);
    out[0].ndim = x->ndim;
    if (x->ndim == 2)
        out[0].dims[0] = 1;
    out[0].dims[x->ndim - 1] = kept ? kept : 1;
    out[0].nbytes = nbytes;
    return INFERD_OK;
}

static inferd_status_t strnorm_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                       inferd_tensor_t *const *out, inferd_err_t *err)
{
    int64_t kept;
    size_t nbytes;
    strnorm_run(node->op_data, in[0], out[0]->data, &kept, &nbytes);
    return INFERD_OK;
}

static inferd_status_t strnorm_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (ic->in_types[0] != INFERD_DTYPE_BYTES)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    const inferd_onnx_node_t *node = ic->node;
    case_action_t action = CASE_NONE;
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(node, "case_change_action");
    if (a && a->type == INFERD_ONNX_ATTR_STRING) {
        if (strcmp(a->s, "LOWER") == 0)
            action = CASE_LOWER;
        else if (strcmp(a->s, "UPPER") == 0)
            action = CASE_UPPER;
        else if (strcmp(a->s, "NONE") != 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown case_change_action '%s'",
                                  a->s);
    }
    int64_t sensitive;
    if (inferd_onnx_attr_int(node, "is_case_sensitive", 0, &sensitive, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    const inferd_onnx_attr_t *sw = inferd_onnx_attr_find(node, "stopwords");
    size_t n = sw && sw->type == INFERD_ONNX_ATTR_STRINGS ? sw->n : 0;
    /* One allocation (freed as op_data): the struct, the arrays, then the strings. */
    size_t size = sizeof(strnorm_data_t) + n * (sizeof(char *) + sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        size += sw->string_lens[i] + 1;
    strnorm_data_t *d = inferd_xcalloc(1, size);
    d->action = action;
    d->case_sensitive = sensitive != 0;
    d->n_stop = (int)n;
    d->stop = (char **)(d + 1);
    d->stop_len = (size_t *)(d->stop + n);
    char *text = (char *)(d->stop_len + n);
    for (size_t i = 0; i < n; i++) {
        d->stop[i] = text;
        d->stop_len[i] = sw->string_lens[i];
        memcpy(text, sw->strings[i], sw->string_lens[i]);
        text[sw->string_lens[i]] = '\0';
        text += sw->string_lens[i] + 1;
    }
    ic->node->op_data = d;
    ic->node->compute = strnorm_compute;
    ic->out_types[0] = INFERD_DTYPE_BYTES;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* TfIdfVectorizer                                                                      */

typedef enum { TFIDF_TF, TFIDF_IDF, TFIDF_TFIDF } tfidf_mode_t;

typedef struct tfidf_data {
    tfidf_mode_t mode;
    int64_t min_gram, max_gram, max_skip;
    int64_t width;    /* output columns: max(ngram_indexes) + 1 */
    int64_t n_counts; /* ngram_counts: pool offset where each gram length starts */
    int64_t *counts;
    int64_t n_indexes; /* per pool n-gram: its output column */
    int64_t *indexes;
    float *weights;            /* per pool n-gram, or NULL */
    int64_t pool_len;          /* pool elements (tokens) */
    int64_t *pool_ints;        /* integer pool, or NULL */
    const uint8_t **pool_strs; /* string pool: pointers into the same allocation */
    uint32_t *pool_str_lens;
} tfidf_data_t;

/* Token k of row r as an integer or as bytes. */
typedef struct tokens {
    const inferd_tensor_t *x;
    const uint8_t **strs; /* BYTES input: per element start (scratch) */
    uint32_t *lens;
} tokens_t;

static bool token_eq_pool(const tfidf_data_t *d, const tokens_t *t, uint64_t at, int64_t p)
{
    if (d->pool_ints) {
        int64_t v = t->x->dtype == INFERD_DTYPE_INT32 ? ((const int32_t *)t->x->data)[at]
                                                      : ((const int64_t *)t->x->data)[at];
        return v == d->pool_ints[p];
    }
    if (!d->pool_strs || !t->strs)
        return false;
    return t->lens[at] == d->pool_str_lens[p] &&
           memcmp(t->strs[at], d->pool_strs[p], t->lens[at]) == 0;
}

/* The pool id of the n-gram at row offsets start, start+step, ..., or -1. */
static int64_t tfidf_lookup(const tfidf_data_t *d, const tokens_t *t, uint64_t row, int64_t start,
                            int64_t step, int64_t n)
{
    if (n < 1 || n > d->n_counts)
        return -1;
    int64_t begin = d->counts[n - 1];
    int64_t end = n < d->n_counts ? d->counts[n] : d->pool_len;
    int64_t base = 0; /* ids of shorter grams */
    for (int64_t k = 1; k < n; k++) {
        int64_t kb = d->counts[k - 1], ke = k < d->n_counts ? d->counts[k] : d->pool_len;
        base += (ke - kb) / k;
    }
    for (int64_t p = begin, j = 0; p + n <= end; p += n, j++) {
        bool match = true;
        for (int64_t m = 0; m < n && match; m++)
            match = token_eq_pool(d, t, row + (uint64_t)(start + m * step), p + m);
        if (match)
            return base + j;
    }
    return -1;
}

static inferd_status_t tfidf_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const tfidf_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    if (x->ndim != 1 && x->ndim != 2)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "TfIdfVectorizer takes [C] or [N, C]");
    if (x->dtype == INFERD_DTYPE_BYTES &&
        !inferd_bytes_valid(x->data, x->nbytes, inferd_tensor_numel(x)))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "malformed string tensor");
    out[0].ndim = x->ndim;
    if (x->ndim == 2)
        out[0].dims[0] = x->dims[0];
    out[0].dims[x->ndim - 1] = d->width;
    return INFERD_OK;
}

static inferd_status_t tfidf_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_tensor_t *const *out, inferd_err_t *err)
{
    const tfidf_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    int64_t rows = x->ndim == 2 ? x->dims[0] : 1, c = x->dims[x->ndim - 1];
    tokens_t t = {x, NULL, NULL};
    uint64_t n = inferd_tensor_numel(x);
    if (x->dtype == INFERD_DTYPE_BYTES) {
        /* Scratch index of element starts; the memory planner will provide it later. */
        t.strs = inferd_malloc((size_t)(n + 1) * sizeof(*t.strs));
        t.lens = inferd_malloc((size_t)(n + 1) * sizeof(*t.lens));
        if (!t.strs || !t.lens) {
            inferd_free(t.strs);
            inferd_free(t.lens);
            return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "TfIdfVectorizer scratch");
        }
        const uint8_t *p = x->data;
        for (uint64_t i = 0; i < n; i++)
            t.strs[i] = bytes_next(&p, &t.lens[i]);
    }
    float *y = out[0]->data;
    memset(y, 0, out[0]->nbytes);
    for (int64_t r = 0; r < rows; r++) {
        float *yr = y + r * d->width;
        uint64_t row = (uint64_t)(r * c);
        for (int64_t s = 0; s <= d->max_skip; s++)
            for (int64_t i = 0; i < c; i++)
                for (int64_t g = d->min_gram; g <= d->max_gram; g++) {
                    if (g == 1 && s > 0)
                        continue;
                    if (i + (g - 1) * (s + 1) >= c)
                        break;
                    int64_t id = tfidf_lookup(d, &t, row, i, s + 1, g);
                    if (id >= 0 && id < d->n_indexes && d->indexes[id] >= 0 &&
                        d->indexes[id] < d->width)
                        yr[d->indexes[id]] += 1.0f;
                }
        if (d->mode == TFIDF_TF)
            continue;
        for (int64_t id = 0; id < d->n_indexes; id++) {
            int64_t col = d->indexes[id];
            if (col < 0 || col >= d->width || yr[col] == 0)
                continue;
            float w = d->weights ? d->weights[id] : 1.0f;
            yr[col] = d->mode == TFIDF_IDF ? w : yr[col] * w;
        }
    }
    inferd_free(t.strs);
    inferd_free(t.lens);
    return INFERD_OK;
}

static inferd_status_t tfidf_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    const inferd_onnx_node_t *node = ic->node;
    inferd_dtype_t dt = ic->in_types[0];
    if (dt != INFERD_DTYPE_INT32 && dt != INFERD_DTYPE_INT64 && dt != INFERD_DTYPE_BYTES)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    int64_t min_g, max_g, skip;
    const int64_t *counts, *indexes, *pool_i;
    size_t n_counts, n_indexes, n_pool_i;
    bool p1, p2, p3;
    if (inferd_onnx_attr_int(node, "min_gram_length", 1, &min_g, err) != INFERD_OK ||
        inferd_onnx_attr_int(node, "max_gram_length", 1, &max_g, err) != INFERD_OK ||
        inferd_onnx_attr_int(node, "max_skip_count", 0, &skip, err) != INFERD_OK ||
        inferd_onnx_attr_ints(node, "ngram_counts", &counts, &n_counts, &p1, err) != INFERD_OK ||
        inferd_onnx_attr_ints(node, "ngram_indexes", &indexes, &n_indexes, &p2, err) != INFERD_OK ||
        inferd_onnx_attr_ints(node, "pool_int64s", &pool_i, &n_pool_i, &p3, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    const inferd_onnx_attr_t *ps = inferd_onnx_attr_find(node, "pool_strings");
    const inferd_onnx_attr_t *wa = inferd_onnx_attr_find(node, "weights");
    const inferd_onnx_attr_t *ma = inferd_onnx_attr_find(node, "mode");
    size_t n_pool_s = ps && ps->type == INFERD_ONNX_ATTR_STRINGS ? ps->n : 0;
    size_t n_w = wa && wa->type == INFERD_ONNX_ATTR_FLOATS ? wa->n : 0;
    if (min_g < 1 || max_g < min_g || skip < 0 || !p1 || !p2 || (p3 == (n_pool_s > 0)))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "TfIdfVectorizer needs gram lengths, ngram_counts, ngram_indexes "
                              "and exactly one pool");
    tfidf_mode_t mode = TFIDF_TF;
    if (ma && ma->type == INFERD_ONNX_ATTR_STRING) {
        if (strcmp(ma->s, "IDF") == 0)
            mode = TFIDF_IDF;
        else if (strcmp(ma->s, "TFIDF") == 0)
            mode = TFIDF_TFIDF;
        else if (strcmp(ma->s, "TF") != 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown mode '%s'", ma->s);
    }
    /* One allocation (freed as op_data): struct, arrays, then the pool strings. */
    size_t pool_len = p3 ? n_pool_i : n_pool_s;
    size_t size = sizeof(tfidf_data_t) + (n_counts + n_indexes + n_pool_i) * sizeof(int64_t) +
                  n_w * sizeof(float) + n_pool_s * (sizeof(uint8_t *) + sizeof(uint32_t));
    for (size_t i = 0; i < n_pool_s; i++)
        size += ps->string_lens[i] + 1;
    tfidf_data_t *d = inferd_xcalloc(1, size + 16);
    char *p = (char *)(d + 1);
    d->mode = mode;
    d->min_gram = min_g;
    d->max_gram = max_g;
    d->max_skip = skip;
    d->n_counts = (int64_t)n_counts;
    d->counts = (int64_t *)p;
    memcpy(d->counts, counts, n_counts * sizeof(int64_t));
    p += n_counts * sizeof(int64_t);
    d->n_indexes = (int64_t)n_indexes;
    d->indexes = (int64_t *)p;
    memcpy(d->indexes, indexes, n_indexes * sizeof(int64_t));
    p += n_indexes * sizeof(int64_t);
    for (size_t i = 0; i < n_indexes; i++)
        if (indexes[i] + 1 > d->width)
            d->width = indexes[i] + 1;
    d->pool_len = (int64_t)pool_len;
    if (p3) {
        d->pool_ints = (int64_t *)p;
        memcpy(d->pool_ints, pool_i, n_pool_i * sizeof(int64_t));
        p += n_pool_i * sizeof(int64_t);
    }
    if (n_w) {
        d->weights = (float *)p;
        memcpy(d->weights, wa->floats, n_w * sizeof(float));
        p += n_w * sizeof(float);
    }
    if (n_pool_s) {
        p = (char *)(((uintptr_t)p + 7) & ~(uintptr_t)7);
        d->pool_strs = (const uint8_t **)p;
        p += n_pool_s * sizeof(uint8_t *);
        d->pool_str_lens = (uint32_t *)p;
        p += n_pool_s * sizeof(uint32_t);
        for (size_t i = 0; i < n_pool_s; i++) {
            memcpy(p, ps->strings[i], ps->string_lens[i]);
            d->pool_strs[i] = (const uint8_t *)p;
            d->pool_str_lens[i] = (uint32_t)ps->string_lens[i];
            p += ps->string_lens[i] + 1;
        }
    }
    for (size_t i = 0; i < n_counts; i++)
        if (counts[i] < 0 || counts[i] > (int64_t)pool_len) {
            inferd_free(d);
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "ngram_counts out of range");
        }
    if (n_w && n_w != n_indexes) {
        inferd_free(d);
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "weights and ngram_indexes differ");
    }
    ic->node->op_data = d;
    ic->node->compute = tfidf_compute;
    ic->out_types[0] = INFERD_DTYPE_FP32;
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_string[] = {
    {"", "TfIdfVectorizer", 9, 1, 1, 1, tfidf_init, tfidf_reshape},
    {"", "StringNormalizer", 10, 1, 1, 1, strnorm_init, strnorm_reshape},
};
const size_t inferd_onnx_ops_string_count =
    sizeof(inferd_onnx_ops_string) / sizeof(inferd_onnx_ops_string[0]);
