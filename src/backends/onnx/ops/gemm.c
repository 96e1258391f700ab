/* Matrix products: Gemm and MatMul.
 *
 * Gemm: Y = alpha * op(A) * op(B) + beta * C, with op() the optional transposes and C
 * broadcast to [M, N] (unidirectionally; optional from opset 11). MatMul follows
 * numpy.matmul: 1-D operands are promoted (and the added dim dropped again), leading
 * batch dims broadcast. FP32 goes to OpenBLAS (sgemv when a side is a single vector,
 * where sgemm would still pack), and a MatMul whose B has no batch dims is one sgemm over
 * all of A's rows. FP64 (both ops) and INT32/INT64 (MatMul) use plain loops.
 *
 * The transposes are passed to BLAS as flags, never materialized. */
#include "backends/onnx/ops/ops.h"

#include <cblas.h>

#include "backends/onnx/kernels/sgemm.h"
#include <limits.h>
#include <string.h>

#include "core/alloc.h"

static inferd_status_t check_blas_dims(int64_t m, int64_t n, int64_t k, inferd_err_t *err)
{
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
        return inferd_err_set(err, INFERD_E_TOO_LARGE,
                              "matrix dimensions %lld x %lld x %lld exceed the BLAS limit",
                              (long long)m, (long long)n, (long long)k);
    return INFERD_OK;
}

/* Row-major Y[M,N] = alpha * op(A) * op(B) + beta * Y for float. lda/ldb are the stored
 * row lengths. The row-stable kernel (kernels/sgemm.h) keeps a request's answer identical
 * whether it runs alone or in a batch; BLAS is only the fallback when that kernel cannot
 * get its scratch memory. */
static void sgemm_rm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                     int64_t lda, const float *b, int64_t ldb, float beta, float *y)
{
    if (m == 0 || n == 0)
        return;
    if (inferd_sgemm(ta, tb, m, n, k, alpha, a, lda, b, ldb, beta, y))
        return;
    if (k == 0) {
        for (int64_t i = 0; i < m * n; i++)
            y[i] *= beta;
        return;
    }
    cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
                (int)m, (int)n, (int)k, alpha, a, (int)lda, b, (int)ldb, beta, y, (int)n);
}

/* The double version as a plain loop: Y = alpha * op(A) * op(B) + beta * Y. */
static void dgemm_rm(bool ta, bool tb, int64_t m, int64_t n, int64_t k, double alpha,
                     const double *a, int64_t lda, const double *b, int64_t ldb, double beta,
                     double *y)
{
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            double acc = 0;
            for (int64_t p = 0; p < k; p++)
                acc +=
                    (ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
            y[i * n + j] = alpha * acc + (beta == 0 ? 0 : beta * y[i * n + j]);
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Gemm                                                                                 */

typedef struct gemm_data {
    float alpha, beta;
    bool ta, tb;
} gemm_data_t;

typedef struct gemm_dims {
    int64_t m, n, k;
    int64_t cm, cn; /* C as a 2-D shape (1 or m, 1 or n); 0 when there is no C */
} gemm_dims_t;

static inferd_status_t gemm_shape(const gemm_data_t *d, inferd_tensor_t *const *in, gemm_dims_t *g,
                                  inferd_err_t *err)
{
    const inferd_tensor_t *a = in[0], *b = in[1], *c = in[2];
    char sa[128], sb[128];
    if (a->ndim != 2 || b->ndim != 2)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "A %s and B %s must both be 2-D",
                              inferd_onnx_dims_str(a->dims, a->ndim, sa, sizeof(sa)),
                              inferd_onnx_dims_str(b->dims, b->ndim, sb, sizeof(sb)));
    g->m = d->ta ? a->dims[1] : a->dims[0];
    g->k = d->ta ? a->dims[0] : a->dims[1];
    int64_t kb = d->tb ? b->dims[1] : b->dims[0];
    g->n = d->tb ? b->dims[0] : b->dims[1];
    if (g->k != kb)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "A %s (transA=%d) and B %s (transB=%d) have inner dimensions "
                              "%lld and %lld",
                              inferd_onnx_dims_str(a->dims, a->ndim, sa, sizeof(sa)), d->ta,
                              inferd_onnx_dims_str(b->dims, b->ndim, sb, sizeof(sb)), d->tb,
                              (long long)g->k, (long long)kb);
    g->cm = g->cn = 0;
    if (c) {
        if (c->ndim > 2)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "C has rank %d, at most 2 allowed",
                                  c->ndim);
        g->cm = c->ndim == 2 ? c->dims[0] : 1;
        g->cn = c->ndim >= 1 ? c->dims[c->ndim - 1] : 1;
        if ((g->cm != 1 && g->cm != g->m) || (g->cn != 1 && g->cn != g->n))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "C %s does not broadcast to [%lld,%lld]",
                                  inferd_onnx_dims_str(c->dims, c->ndim, sa, sizeof(sa)),
                                  (long long)g->m, (long long)g->n);
    }
    return check_blas_dims(g->m, g->n, g->k, err);
}

static inferd_status_t gemm_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_onnx_shape_t *out, inferd_err_t *err)
{
    gemm_dims_t g;
    if (gemm_shape(node->op_data, in, &g, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0].ndim = 2;
    out[0].dims[0] = g.m;
    out[0].dims[1] = g.n;
    return INFERD_OK;
}

/* Fills Y with beta * C broadcast; returns the beta to pass on to the product. */
#define GEMM_KERNEL(name, T, GEMM)                                                                 \
    static inferd_status_t name(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,        \
                                inferd_tensor_t *const *out, inferd_err_t *err)                    \
    {                                                                                              \
        const gemm_data_t *d = node->op_data;                                                      \
        gemm_dims_t g;                                                                             \
        if (gemm_shape(d, in, &g, err) != INFERD_OK)                                               \
            return err ? err->code : INFERD_E_INVALID_ARG;                                         \
        T *y = out[0]->data;                                                                       \
        T beta = 0;                                                                                \
        if (in[2] && d->beta != 0) {                                                               \
            const T *c = in[2]->data;                                                              \
            for (int64_t i = 0; i < g.m; i++)                                                      \
                for (int64_t j = 0; j < g.n; j++)                                                  \
                    y[i * g.n + j] =                                                               \
                        (T)d->beta * c[(g.cm == 1 ? 0 : i) * g.cn + (g.cn == 1 ? 0 : j)];          \
            beta = 1;                                                                              \
        } else {                                                                                   \
            memset(y, 0, out[0]->nbytes);                                                          \
        }                                                                                          \
        GEMM(d->ta, d->tb, g.m, g.n, g.k, (T)d->alpha, in[0]->data, in[0]->dims[1], in[1]->data,   \
             in[1]->dims[1], beta, y);                                                             \
        return INFERD_OK;                                                                          \
    }

GEMM_KERNEL(gemm_f32, float, sgemm_rm)
GEMM_KERNEL(gemm_f64, double, dgemm_rm)

static inferd_status_t gemm_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t t = ic->in_types[0];
    if (ic->in_types[1] != t || (ic->in_types[2] != INFERD_DTYPE_INVALID && ic->in_types[2] != t))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Gemm inputs differ in type");
    if (t == INFERD_DTYPE_FP32)
        ic->node->compute = gemm_f32;
    else if (t == INFERD_DTYPE_FP64)
        ic->node->compute = gemm_f64;
    else
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    gemm_data_t d;
    int64_t ta, tb;
    if (inferd_onnx_attr_float(ic->node, "alpha", 1.0f, &d.alpha, err) != INFERD_OK ||
        inferd_onnx_attr_float(ic->node, "beta", 1.0f, &d.beta, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "transA", 0, &ta, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "transB", 0, &tb, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    d.ta = ta != 0;
    d.tb = tb != 0;
    gemm_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->out_types[0] = t;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* MatMul                                                                               */

typedef struct matmul_dims {
    int64_t m, n, k;
    inferd_onnx_shape_t a_batch, b_batch, out_batch;
    inferd_onnx_shape_t out;
} matmul_dims_t;

static inferd_status_t matmul_shape(inferd_tensor_t *const *in, matmul_dims_t *md,
                                    inferd_err_t *err)
{
    const inferd_tensor_t *a = in[0], *b = in[1];
    char sa[128], sb[128];
    if (a->ndim < 1 || b->ndim < 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "MatMul operands must have rank >= 1");
    int64_t kb;
    md->m = a->ndim == 1 ? 1 : a->dims[a->ndim - 2];
    md->k = a->dims[a->ndim - 1];
    kb = b->ndim == 1 ? b->dims[0] : b->dims[b->ndim - 2];
    md->n = b->ndim == 1 ? 1 : b->dims[b->ndim - 1];
    if (md->k != kb)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "A %s and B %s have inner dimensions %lld and %lld",
                              inferd_onnx_dims_str(a->dims, a->ndim, sa, sizeof(sa)),
                              inferd_onnx_dims_str(b->dims, b->ndim, sb, sizeof(sb)),
                              (long long)md->k, (long long)kb);
    md->a_batch.ndim = a->ndim > 2 ? a->ndim - 2 : 0;
    memcpy(md->a_batch.dims, a->dims, (size_t)md->a_batch.ndim * sizeof(int64_t));
    md->b_batch.ndim = b->ndim > 2 ? b->ndim - 2 : 0;
    memcpy(md->b_batch.dims, b->dims, (size_t)md->b_batch.ndim * sizeof(int64_t));
    if (inferd_onnx_broadcast(&md->a_batch, &md->b_batch, &md->out_batch, err) != INFERD_OK) {
        inferd_err_prefix(err, "batch dimensions of A %s and B %s",
                          inferd_onnx_dims_str(a->dims, a->ndim, sa, sizeof(sa)),
                          inferd_onnx_dims_str(b->dims, b->ndim, sb, sizeof(sb)));
        return err ? err->code : INFERD_E_INVALID_ARG;
    }
    md->out = md->out_batch;
    if (a->ndim > 1)
        md->out.dims[md->out.ndim++] = md->m;
    if (b->ndim > 1)
        md->out.dims[md->out.ndim++] = md->n;
    return check_blas_dims(md->m, md->n, md->k, err);
}

static inferd_status_t matmul_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    matmul_dims_t md;
    if (matmul_shape(in, &md, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0] = md.out;
    return INFERD_OK;
}

/* One [m,k] x [k,n] product into zeroed y. */
static void mm_f32(const void *a, const void *b, void *y, int64_t m, int64_t n, int64_t k)
{
    sgemm_rm(false, false, m, n, k, 1.0f, a, k, b, n, 0.0f, y);
}

static void mm_f64(const void *a, const void *b, void *y, int64_t m, int64_t n, int64_t k)
{
    dgemm_rm(false, false, m, n, k, 1.0, a, k, b, n, 0.0, y);
}

/* Integer products wrap like the elementwise ops: accumulate in uint64_t. */
#define MM_INT(name, T)                                                                            \
    static void name(const void *pa, const void *pb, void *py, int64_t m, int64_t n, int64_t k)    \
    {                                                                                              \
        const T *a = pa, *b = pb;                                                                  \
        T *y = py;                                                                                 \
        for (int64_t i = 0; i < m; i++)                                                            \
            for (int64_t j = 0; j < n; j++) {                                                      \
                uint64_t acc = 0;                                                                  \
                for (int64_t p = 0; p < k; p++)                                                    \
                    acc += (uint64_t)a[i * k + p] * (uint64_t)b[p * n + j];                        \
                y[i * n + j] = (T)acc;                                                             \
            }                                                                                      \
    }

MM_INT(mm_i32, int32_t)
MM_INT(mm_i64, int64_t)

typedef void (*mm_fn)(const void *a, const void *b, void *y, int64_t m, int64_t n, int64_t k);

static inferd_status_t matmul_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    mm_fn mm = *(const mm_fn *)node->op_data;
    matmul_dims_t md;
    if (matmul_shape(in, &md, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    size_t es = inferd_dtype_size(out[0]->dtype);
    const char *a = in[0]->data, *b = in[1]->data;
    char *y = out[0]->data;
    memset(y, 0, out[0]->nbytes);
    int64_t b_count = inferd_onnx_dims_prod(md.b_batch.dims, 0, md.b_batch.ndim);
    if (b_count == 1) {
        /* One B for every batch: A's batches are consecutive rows of one matrix. */
        int64_t rows = inferd_onnx_dims_prod(md.a_batch.dims, 0, md.a_batch.ndim) * md.m;
        if (check_blas_dims(rows, md.n, md.k, err) != INFERD_OK)
            return err ? err->code : INFERD_E_TOO_LARGE;
        mm(a, b, y, rows, md.n, md.k);
        return INFERD_OK;
    }
    size_t sa = (size_t)(md.m * md.k) * es, sb = (size_t)(md.k * md.n) * es,
           sy = (size_t)(md.m * md.n) * es;
    inferd_onnx_bcast_t w;
    inferd_onnx_bcast_init(&w, &md.a_batch, &md.b_batch, &md.out_batch);
    int64_t idx = 0;
    for (int64_t row = 0; row < w.rows; row++) {
        for (int64_t i = 0; i < w.inner; i++, idx++)
            mm(a + (size_t)(w.off_a + i * w.inner_sa) * sa,
               b + (size_t)(w.off_b + i * w.inner_sb) * sb, y + (size_t)idx * sy, md.m, md.n, md.k);
        inferd_onnx_bcast_next(&w);
    }
    return INFERD_OK;
}

static inferd_status_t matmul_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t t = ic->in_types[0];
    if (ic->in_types[1] != t)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "MatMul inputs differ in type (%s and %s)",
                              inferd_dtype_name(t), inferd_dtype_name(ic->in_types[1]));
    mm_fn mm;
    switch (t) {
    case INFERD_DTYPE_FP32: mm = mm_f32; break;
    case INFERD_DTYPE_FP64: mm = mm_f64; break;
    case INFERD_DTYPE_INT32: mm = mm_i32; break;
    case INFERD_DTYPE_INT64: mm = mm_i64; break;
    default: return inferd_onnx_unsupported_dtype(ic, 0, err);
    }
    /* The kernel pointer is the node's only parameter; op_data is freed with inferd_free,
     * so it holds a small allocation with the pointer rather than the pointer itself. */
    mm_fn *p = inferd_xmalloc(sizeof(*p));
    *p = mm;
    ic->node->op_data = p;
    ic->node->compute = matmul_compute;
    ic->out_types[0] = t;
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_gemm[] = {
    /* 1 and 6 carry a `broadcast` flag; C broadcasting is accepted either way. */
    {"", "Gemm", 1, 3, 3, 1, gemm_init, gemm_reshape},
    {"", "Gemm", 6, 3, 3, 1, gemm_init, gemm_reshape},
    {"", "Gemm", 7, 3, 3, 1, gemm_init, gemm_reshape},
    {"", "Gemm", 9, 3, 3, 1, gemm_init, gemm_reshape},
    {"", "Gemm", 11, 2, 3, 1, gemm_init, gemm_reshape},
    {"", "Gemm", 13, 2, 3, 1, gemm_init, gemm_reshape},
    {"", "MatMul", 1, 2, 2, 1, matmul_init, matmul_reshape},
    {"", "MatMul", 9, 2, 2, 1, matmul_init, matmul_reshape},
    {"", "MatMul", 13, 2, 2, 1, matmul_init, matmul_reshape},
};
const size_t inferd_onnx_ops_gemm_count =
    sizeof(inferd_onnx_ops_gemm) / sizeof(inferd_onnx_ops_gemm[0]);
