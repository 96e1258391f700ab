/* Matrix products: Gemm and MatMul.
 *
 * Gemm: Y = alpha * op(A) * op(B) + beta * C, with op() the optional transposes and C
 * broadcast to [M, N] (unidirectionally; optional from opset 11). MatMul follows
 * numpy.matmul: 1-D operands are promoted (and the added dim dropped again), leading
 * batch dims broadcast. FP32 goes to the row-stable kernel (kernels/sgemm.h): a constant
 * B (the weights) is packed into panels once at load, C and a fused activation
 * (node->epilogue) are applied in the kernel's output pass, and a MatMul whose B has no
 * batch dims is one product over all of A's rows. FP64 (both ops) and INT32/INT64
 * (MatMul) use plain loops. */
#include "backends/onnx/ops/ops.h"

#include "backends/onnx/kernels/sgemm.h"
#include <limits.h>
#include <string.h>

#include "core/alloc.h"
#include "core/pool.h"

static inferd_status_t check_blas_dims(int64_t m, int64_t n, int64_t k, inferd_err_t *err)
{
    if (m > INT_MAX || n > INT_MAX || k > INT_MAX)
        return inferd_err_set(err, INFERD_E_TOO_LARGE,
                              "matrix dimensions %lld x %lld x %lld are too large", (long long)m,
                              (long long)n, (long long)k);
    return INFERD_OK;
}

/* Multiply-adds a thread's share of a product must reach before it is split (the GEMM's
 * own threshold). */
#define SPLIT_WORK (1ll << 18)

/* Threads the calling thread may use (its budget, else the default pool and itself). */
static int64_t budget_threads(void)
{
    inferd_pool_t *pool = inferd_pool_default();
    if (!pool)
        return 1;
    int64_t t = inferd_pool_budget();
    return t > 0 ? t : inferd_pool_workers(pool) + 1;
}

/* A product the GEMM would split into fewer than four column groups per thread (N of 128:
 * a transformer's projections, LeNet's Gemm layers) is split by rows instead, in chunks
 * the pool hands out as threads come free, each chunk one GEMM on its own thread. Every
 * element is one k-ascending sum on any row split (kernels/sgemm.h), so the result does
 * not depend on it. */
static bool sgemm_split(const inferd_sgemm_job_t *j)
{
    int64_t threads = j->max_threads > 0 ? j->max_threads : budget_threads();
    int64_t nk = j->n * (j->k > 0 ? j->k : 1);
    /* A transposed A is read by columns and a transposed B not packed at load would be
     * packed again by every chunk: those stay with the GEMM's column split. (On the
     * paths left the GEMM allocates nothing, so no chunk fails half-way.) */
    if (threads < 2 || j->trans_a || (j->trans_b && !j->pack) || j->m < 12 ||
        j->m * nk < 2 * SPLIT_WORK || j->n >= 256 * threads)
        return inferd_sgemm_run(j);
    return inferd_sgemm_run_rows(j, SPLIT_WORK / nk + 1);
}

/* Runs a float product (the row-stable kernel, which needs no memory to succeed). */
static void sgemm_job(const inferd_sgemm_job_t *j)
{
    if (j->m > 0 && j->n > 0)
        sgemm_split(j);
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
    inferd_sgemm_pack_t *pack; /* FP32 with a constant B: B packed at load */
} gemm_data_t;

static void gemm_data_free(void *p)
{
    gemm_data_t *d = p;
    if (d)
        inferd_sgemm_pack_destroy(d->pack);
    inferd_free(d);
}

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

static inferd_status_t gemm_f32(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                inferd_tensor_t *const *out, inferd_err_t *err)
{
    const gemm_data_t *d = node->op_data;
    gemm_dims_t g;
    if (gemm_shape(d, in, &g, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    inferd_sgemm_job_t j = {.m = g.m,
                            .n = g.n,
                            .k = g.k,
                            .trans_a = d->ta,
                            .a = in[0]->data,
                            .lda = in[0]->dims[1],
                            .pack = d->pack,
                            .b = in[1]->data,
                            .ldb = in[1]->dims[1],
                            .trans_b = d->tb,
                            .y = out[0]->data,
                            .ldy = g.n,
                            .alpha = d->alpha,
                            .beta = d->beta,
                            .act = node->epilogue};
    if (in[2] && d->beta != 0) {
        /* C broadcast by strides: a bias row [N] or [1,N] is read once per row. */
        j.c = in[2]->data;
        j.c_rs = g.cm == 1 ? 0 : g.cn;
        j.c_cs = g.cn == 1 ? 0 : 1;
    }
    sgemm_job(&j);
    return INFERD_OK;
}

static inferd_status_t gemm_f64(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                inferd_tensor_t *const *out, inferd_err_t *err)
{
    const gemm_data_t *d = node->op_data;
    gemm_dims_t g;
    if (gemm_shape(d, in, &g, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    double *y = out[0]->data;
    double beta = 0;
    if (in[2] && d->beta != 0) {
        const double *c = in[2]->data;
        for (int64_t i = 0; i < g.m; i++)
            for (int64_t q = 0; q < g.n; q++)
                y[i * g.n + q] =
                    (double)d->beta * c[(g.cm == 1 ? 0 : i) * g.cn + (g.cn == 1 ? 0 : q)];
        beta = 1;
    } else {
        memset(y, 0, out[0]->nbytes);
    }
    dgemm_rm(d->ta, d->tb, g.m, g.n, g.k, (double)d->alpha, in[0]->data, in[0]->dims[1],
             in[1]->data, in[1]->dims[1], beta, y);
    return INFERD_OK;
}

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
    d.pack = NULL;
    const inferd_tensor_t *b = ic->in_consts[1];
    if (t == INFERD_DTYPE_FP32 && b && b->ndim == 2) {
        /* Weights: packed once here; if that fails the product packs or reads B per run. */
        int64_t n = d.tb ? b->dims[0] : b->dims[1], k = d.tb ? b->dims[1] : b->dims[0];
        d.pack = inferd_sgemm_pack_create(d.tb, n, k, b->data, b->dims[1], INFERD_OWNER_MODEL);
    }
    gemm_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->free_op_data = gemm_data_free;
    /* The FP32 kernel applies node->epilogue (set by the fusion pass) itself. */
    ic->node->epilogue_done = t == INFERD_DTYPE_FP32;
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

/* Parameters of a MatMul node. */
typedef struct matmul_data matmul_data_t;

/* One [m,k] x [k,n] product into y (every element written). b is B's data; d->pack,
 * when set, is the same B packed (FP32 only). */
typedef void (*mm_fn)(const matmul_data_t *d, const inferd_onnx_node_t *node, const void *a,
                      const void *b, void *y, int64_t m, int64_t n, int64_t k, int max_threads);

struct matmul_data {
    mm_fn mm;
    inferd_sgemm_pack_t *pack; /* FP32 with a constant B of rank <= 2: packed at load */
};

static void matmul_data_free(void *p)
{
    matmul_data_t *d = p;
    if (d)
        inferd_sgemm_pack_destroy(d->pack);
    inferd_free(d);
}

static void mm_f32(const matmul_data_t *d, const inferd_onnx_node_t *node, const void *a,
                   const void *b, void *y, int64_t m, int64_t n, int64_t k, int max_threads)
{
    inferd_sgemm_job_t j = {.m = m,
                            .n = n,
                            .k = k,
                            .a = a,
                            .lda = k,
                            .pack = d->pack && d->pack->n == n && d->pack->k == k ? d->pack : NULL,
                            .b = b,
                            .ldb = n,
                            .y = y,
                            .ldy = n,
                            .alpha = 1.0f,
                            .act = node->epilogue,
                            .max_threads = max_threads};
    sgemm_job(&j);
}

static void mm_f64(const matmul_data_t *d, const inferd_onnx_node_t *node, const void *a,
                   const void *b, void *y, int64_t m, int64_t n, int64_t k, int max_threads)
{
    (void)d;
    (void)node;
    (void)max_threads;
    dgemm_rm(false, false, m, n, k, 1.0, a, k, b, n, 0.0, y);
}

/* Integer products wrap like the elementwise ops: accumulate in uint64_t. */
#define MM_INT(name, T)                                                                            \
    static void name(const matmul_data_t *d, const inferd_onnx_node_t *node, const void *pa,       \
                     const void *pb, void *py, int64_t m, int64_t n, int64_t k, int max_threads)   \
    {                                                                                              \
        (void)d;                                                                                   \
        (void)node;                                                                                \
        (void)max_threads;                                                                         \
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

/* Offset, in matrices, of output batch idx's operand whose batch dims are src
 * (right-aligned with out's, a dim of 1 broadcast). */
static int64_t batch_offset(const inferd_onnx_shape_t *src, const inferd_onnx_shape_t *out,
                            int64_t idx)
{
    int64_t off = 0, stride = 1;
    for (int i = out->ndim - 1, si = src->ndim - 1; i >= 0; i--, si--) {
        int64_t o = idx % out->dims[i];
        idx /= out->dims[i];
        if (si < 0)
            continue;
        if (src->dims[si] != 1)
            off += o * stride;
        stride *= src->dims[si];
    }
    return off;
}

/* The batches of a batched product (attention's Q * K^T and P * V: many small products
 * the GEMM would run one by one, each on one thread or with its own fork and join) go
 * over the intra-op pool in chunks of whole products, each product on one thread: the
 * same arithmetic as one thread, so the result does not depend on the split. */
typedef struct mm_batches {
    const matmul_data_t *d;
    const inferd_onnx_node_t *node;
    const matmul_dims_t *md;
    const char *a, *b;
    char *y;
    size_t sa, sb, sy;
} mm_batches_t;

static void mm_batches_task(void *arg, int64_t lo, int64_t hi)
{
    const mm_batches_t *p = arg;
    const matmul_dims_t *md = p->md;
    for (int64_t i = lo; i < hi; i++)
        p->d->mm(p->d, p->node,
                 p->a + (size_t)batch_offset(&md->a_batch, &md->out_batch, i) * p->sa,
                 p->b + (size_t)batch_offset(&md->b_batch, &md->out_batch, i) * p->sb,
                 p->y + (size_t)i * p->sy, md->m, md->n, md->k, 1);
}

static bool matmul_batches_par(const matmul_data_t *d, const inferd_onnx_node_t *node,
                               const matmul_dims_t *md, const char *a, const char *b, char *y,
                               size_t es)
{
    int64_t batches = inferd_onnx_dims_prod(md->out_batch.dims, 0, md->out_batch.ndim);
    int64_t work = md->m * md->n * (md->k > 0 ? md->k : 1);
    int64_t threads = budget_threads();
    /* Worth it when the products together are worth splitting and either each alone
     * would not be split as finely as the batches are. */
    if (threads < 2 || batches < 2 || work * batches < 2 * SPLIT_WORK ||
        (batches < 4 * threads && inferd_sgemm_threads(md->m, md->n, md->k, 0) >= threads))
        return false;
    mm_batches_t p = {.d = d,
                      .node = node,
                      .md = md,
                      .a = a,
                      .b = b,
                      .y = y,
                      .sa = (size_t)(md->m * md->k) * es,
                      .sb = (size_t)(md->k * md->n) * es,
                      .sy = (size_t)(md->m * md->n) * es};
    int64_t per = SPLIT_WORK / work + 1;
    inferd_pool_for_range(batches, per, 1, mm_batches_task, &p);
    return true;
}

static inferd_status_t matmul_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const matmul_data_t *d = node->op_data;
    mm_fn mm = d->mm;
    matmul_dims_t md;
    if (matmul_shape(in, &md, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    size_t es = inferd_dtype_size(out[0]->dtype);
    const char *a = in[0]->data, *b = in[1]->data;
    char *y = out[0]->data;
    int64_t b_count = inferd_onnx_dims_prod(md.b_batch.dims, 0, md.b_batch.ndim);
    if (b_count == 1) {
        /* One B for every batch: A's batches are consecutive rows of one matrix. */
        int64_t rows = inferd_onnx_dims_prod(md.a_batch.dims, 0, md.a_batch.ndim) * md.m;
        if (check_blas_dims(rows, md.n, md.k, err) != INFERD_OK)
            return err ? err->code : INFERD_E_TOO_LARGE;
        mm(d, node, a, b, y, rows, md.n, md.k, 0);
        return INFERD_OK;
    }
    if (matmul_batches_par(d, node, &md, a, b, y, es))
        return INFERD_OK;
    size_t sa = (size_t)(md.m * md.k) * es, sb = (size_t)(md.k * md.n) * es,
           sy = (size_t)(md.m * md.n) * es;
    inferd_onnx_bcast_t w;
    inferd_onnx_bcast_init(&w, &md.a_batch, &md.b_batch, &md.out_batch);
    int64_t idx = 0;
    for (int64_t row = 0; row < w.rows; row++) {
        for (int64_t i = 0; i < w.inner; i++, idx++)
            mm(d, node, a + (size_t)(w.off_a + i * w.inner_sa) * sa,
               b + (size_t)(w.off_b + i * w.inner_sb) * sb, y + (size_t)idx * sy, md.m, md.n, md.k,
               0);
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
    matmul_data_t *p = inferd_xcalloc(1, sizeof(*p));
    p->mm = mm;
    const inferd_tensor_t *b = ic->in_consts[1];
    if (t == INFERD_DTYPE_FP32 && b && b->ndim >= 1 && b->ndim <= 2) {
        /* Weights: packed once here (a 1-D B is one column); without a pack (allocation
         * failed) the kernel reads B directly. */
        int64_t k = b->dims[0], n = b->ndim == 2 ? b->dims[1] : 1;
        p->pack = inferd_sgemm_pack_create(false, n, k, b->data, n, INFERD_OWNER_MODEL);
    }
    ic->node->op_data = p;
    ic->node->free_op_data = matmul_data_free;
    ic->node->compute = matmul_compute;
    /* The FP32 kernel applies node->epilogue (set by the fusion pass) itself. */
    ic->node->epilogue_done = t == INFERD_DTYPE_FP32;
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
