/* Row-stable sgemm (see sgemm.h).
 *
 * Work is cut into tiles of R rows by V panels (16 columns each). A tile keeps its R x V
 * accumulators in registers, broadcasts A[i,k] and multiply-adds a row of each panel for
 * k ascending, then applies the epilogue (alpha, C, a residual D, activation) before storing. Tile
 * shapes only decide which elements share registers, never the operations applied to
 * one element, so every shape (and the single-row GEMV case, which uses wide tiles of
 * one row) gives the same bits. Threads take disjoint column ranges, all rows each.
 *
 * Paths: AVX-512 (tiles up to 6x4 and 2x8 panels), AVX2+FMA (6x1, 3x2), portable
 * (plain loops without fused multiply-add; the file is built with -ffp-contract=off so
 * the compiler cannot fuse some iterations and not others). The ISA paths are compiled
 * with target attributes and chosen at run time, so the build needs no -m flags. */
#include "backends/onnx/kernels/sgemm.h"

#include <immintrin.h>
#include <math.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "core/pool.h"

#define PANEL INFERD_SGEMM_PANEL
#define MAX_R 6
#define MAX_V 8
/* Multiply-adds per thread below which splitting a product costs more than it saves
 * (waking a worker is a few microseconds). */
#define THREAD_WORK (1ll << 18)
/* K block (measured: 256 beat 128 with 6x4 tiles). */
#define KBLOCK 256
/* Panels of a row-major B copied at a time (run_panels): 64 KiB of stack. */
#define LOCAL_PANELS 4

#define UNROLL _Pragma("GCC unroll 16")
#define INLINE static inline __attribute__((always_inline))

/* ------------------------------------------------------------------------------------ */
/* Packing                                                                              */

inferd_sgemm_pack_t *inferd_sgemm_pack_create(bool trans_b, int64_t n, int64_t k, const float *b,
                                              int64_t ldb, inferd_owner_t owner)
{
    if (n < 0 || k < 0)
        return NULL;
    int64_t np = (n + PANEL - 1) / PANEL;
    /* 16 spare floats so the panels can start on a 64-byte boundary. */
    int64_t dims[1] = {np * (k ? k : 1) * PANEL + 16};
    inferd_tensor_t *t = inferd_tensor_create(INFERD_DTYPE_FP32, dims, 1, 0, owner, NULL);
    if (!t)
        return NULL;
    inferd_sgemm_pack_t *p = inferd_xcalloc(1, sizeof(*p));
    p->n = n;
    p->k = k;
    p->n_panels = np;
    p->_mem = t;
    uintptr_t at = ((uintptr_t)t->data + 63) & ~(uintptr_t)63;
    p->panels = (float *)at;
    /* Zero padding comes from inferd_tensor_create. */
    /* Both orders read B sequentially: rows far apart (often 4 KiB, a page) would
     * defeat the prefetchers. */
    for (int64_t q = 0; q < np && trans_b; q++) {
        float *dst = p->panels + q * k * PANEL;
        int64_t j0 = q * PANEL, w = n - j0 < PANEL ? n - j0 : PANEL;
        for (int64_t l = 0; l < w; l++)
            for (int64_t kk = 0; kk < k; kk++)
                dst[kk * PANEL + l] = b[(j0 + l) * ldb + kk];
    }
    for (int64_t kk = 0; kk < k && !trans_b; kk++)
        for (int64_t q = 0; q < np; q++) {
            float *dst = p->panels + (q * k + kk) * PANEL;
            int64_t j0 = q * PANEL, w = n - j0 < PANEL ? n - j0 : PANEL;
            if (w == PANEL)
                memcpy(dst, b + kk * ldb + j0, PANEL * sizeof(float));
            else
                for (int64_t l = 0; l < w; l++)
                    dst[l] = b[kk * ldb + j0 + l];
        }
    return p;
}

void inferd_sgemm_pack_destroy(inferd_sgemm_pack_t *p)
{
    if (!p)
        return;
    inferd_tensor_unref(p->_mem);
    inferd_free(p);
}

/* ------------------------------------------------------------------------------------ */
/* Shared pieces                                                                        */

typedef struct epi {
    float alpha, beta;
    const float *c;
    int64_t c_rs, c_cs;
    const float *d; /* the residual addend, full matrix */
    int64_t d_rs;
    inferd_onnx_act_t act;
    bool scalar_act; /* SIGMOID / TANH: applied by inferd_sgemm_act after the store */
} epi_t;

/* One tile: rows i0.. of A (element (r, p) of the tile's rows at a[r * ars + p * aks]:
 * row-major A, or A packed per row block with the rows of one k side by side), panels starting at b
 * (panel q's row kk at b + q * ps + kk * ks), cols valid columns from j0, output at y (row i0,
 * column j0). */
typedef struct tile_args {
    const float *a;
    int64_t ars, aks;
    const float *b;
    int64_t ks, ps, k;
    int64_t cols;
    float *y;
    int64_t ldy;
    int64_t i0, j0;
    const epi_t *e;
    bool first; /* K block 0: accumulators start at 0, else from Y (stored raw) */
    bool last;  /* last K block: apply the epilogue, else store the raw accumulators */
} tile_args_t;

typedef void (*tile_fn)(const tile_args_t *t);

float inferd_sgemm_act(inferd_onnx_act_t act, float x)
{
    /* max(a, b) here is a > b ? a : b, as the vector instructions compute it, so NaN
     * passes through every path alike. */
    switch (act.kind) {
    case INFERD_ONNX_ACT_RELU: return 0.0f > x ? 0.0f : x;
    case INFERD_ONNX_ACT_LEAKY_RELU: return x < 0.0f ? act.alpha * x : x;
    case INFERD_ONNX_ACT_CLIP:
        x = act.alpha > x ? act.alpha : x;
        return act.beta < x ? act.beta : x;
    case INFERD_ONNX_ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case INFERD_ONNX_ACT_TANH: return tanhf(x);
    case INFERD_ONNX_ACT_HARD_SIGMOID: {
        float v = act.alpha * x;
        v = v + act.beta;
        v = 1.0f < v ? 1.0f : v;
        return 0.0f > v ? 0.0f : v;
    }
    case INFERD_ONNX_ACT_NONE: break;
    }
    return x;
}

static void scalar_act_rows(const tile_args_t *t, int R)
{
    for (int r = 0; r < R; r++) {
        float *yr = t->y + r * t->ldy;
        for (int64_t j = 0; j < t->cols; j++)
            yr[j] = inferd_sgemm_act(t->e->act, yr[j]);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Portable path: one row by one panel at a time.                                       */

static void tile_portable(const tile_args_t *t, int R, int V)
{
    const epi_t *e = t->e;
    for (int r = 0; r < R; r++) {
        for (int v = 0; v < V; v++) {
            int64_t w = t->cols - v * PANEL;
            if (w <= 0)
                break;
            if (w > PANEL)
                w = PANEL;
            float acc[PANEL] = {0};
            const float *ar = t->a + r * t->ars, *bp = t->b + v * t->ps;
            for (int64_t p = 0; p < t->k; p++) {
                float s = ar[p * t->aks];
                const float *br = bp + p * t->ks;
                for (int64_t l = 0; l < w; l++)
                    acc[l] = acc[l] + s * br[l];
            }
            float *yr = t->y + r * t->ldy + v * PANEL;
            for (int64_t l = 0; l < w; l++) {
                float x = acc[l];
                if (e->alpha != 1.0f)
                    x = e->alpha * x;
                if (e->c) {
                    float cv = e->c[(t->i0 + r) * e->c_rs + (t->j0 + v * PANEL + l) * e->c_cs];
                    if (e->beta != 1.0f)
                        cv = e->beta * cv;
                    x = x + cv;
                }
                if (e->d)
                    x = x + e->d[(t->i0 + r) * e->d_rs + t->j0 + v * PANEL + l];
                yr[l] = inferd_sgemm_act(e->act, x);
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* AVX-512 path                                                                         */

#define AVX512 __attribute__((target("avx512f,fma")))

AVX512 INLINE __mmask16 mask16(int64_t valid)
{
    return valid >= 16 ? (__mmask16)0xffff : valid > 0 ? (__mmask16)((1u << valid) - 1) : 0;
}

AVX512 INLINE __m512 epi512(const epi_t *e, __m512 x, int64_t i, int64_t j, __mmask16 mk)
{
    if (e->alpha != 1.0f)
        x = _mm512_mul_ps(_mm512_set1_ps(e->alpha), x);
    if (e->c) {
        const float *cp = e->c + i * e->c_rs + j * e->c_cs;
        __m512 cv = e->c_cs ? _mm512_maskz_loadu_ps(mk, cp) : _mm512_set1_ps(*cp);
        if (e->beta != 1.0f)
            cv = _mm512_mul_ps(_mm512_set1_ps(e->beta), cv);
        x = _mm512_add_ps(x, cv);
    }
    if (e->d)
        x = _mm512_add_ps(x, _mm512_maskz_loadu_ps(mk, e->d + i * e->d_rs + j));
    switch (e->act.kind) {
    case INFERD_ONNX_ACT_RELU: x = _mm512_max_ps(_mm512_setzero_ps(), x); break;
    case INFERD_ONNX_ACT_LEAKY_RELU: {
        __mmask16 neg = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
        x = _mm512_mask_mul_ps(x, neg, x, _mm512_set1_ps(e->act.alpha));
        break;
    }
    case INFERD_ONNX_ACT_CLIP:
        x = _mm512_max_ps(_mm512_set1_ps(e->act.alpha), x);
        x = _mm512_min_ps(_mm512_set1_ps(e->act.beta), x);
        break;
    case INFERD_ONNX_ACT_HARD_SIGMOID:
        x = _mm512_mul_ps(_mm512_set1_ps(e->act.alpha), x);
        x = _mm512_add_ps(x, _mm512_set1_ps(e->act.beta));
        x = _mm512_min_ps(_mm512_set1_ps(1.0f), x);
        x = _mm512_max_ps(_mm512_setzero_ps(), x);
        break;
    default: break;
    }
    return x;
}

AVX512 INLINE void tile512(const int R, const int V, const tile_args_t *t)
{
    __m512 acc[MAX_R][MAX_V];
    __mmask16 mk[MAX_V];
    UNROLL for (int v = 0; v < V; v++) mk[v] = mask16(t->cols - 16 * v);
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int v = 0; v < V; v++) acc[r][v] =
        t->first                  ? _mm512_setzero_ps()
        : t->cols >= 16 * (v + 1) ? _mm512_loadu_ps(t->y + r * t->ldy + 16 * v)
                                  : _mm512_maskz_loadu_ps(mk[v], t->y + r * t->ldy + 16 * v);
    const float *a = t->a, *b = t->b;
    const int64_t ars = t->ars, aks = t->aks, ks = t->ks, ps = t->ps;
    /* The same multiply-adds either way; plain loads are a little faster than masked
     * ones, which only the tile at the right edge needs. */
#define K_LOOP(LOAD)                                                                               \
    for (int64_t p = 0; p < t->k; p++) {                                                           \
        __m512 bv[MAX_V];                                                                          \
        UNROLL for (int v = 0; v < V; v++) bv[v] = LOAD;                                           \
        UNROLL for (int r = 0; r < R; r++)                                                         \
        {                                                                                          \
            __m512 av = _mm512_set1_ps(a[r * ars + p * aks]);                                      \
            UNROLL for (int v = 0; v < V; v++) acc[r][v] = _mm512_fmadd_ps(av, bv[v], acc[r][v]);  \
        }                                                                                          \
        b += ks;                                                                                   \
    }
    if (t->cols >= 16 * V)
        K_LOOP(_mm512_loadu_ps(b + v * ps))
    else
        K_LOOP(_mm512_maskz_loadu_ps(mk[v], b + v * ps))
#undef K_LOOP
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int v = 0; v < V; v++)
    {
        if (!mk[v])
            continue;
        __m512 x = t->last ? epi512(t->e, acc[r][v], t->i0 + r, t->j0 + 16 * v, mk[v]) : acc[r][v];
        if (t->cols >= 16 * (v + 1))
            _mm512_storeu_ps(t->y + r * t->ldy + 16 * v, x);
        else
            _mm512_mask_storeu_ps(t->y + r * t->ldy + 16 * v, mk[v], x);
    }
    if (t->last && t->e->scalar_act)
        scalar_act_rows(t, R);
}

#define T512(R, V)                                                                                 \
    AVX512 static void tile512_##R##x##V(const tile_args_t *t)                                     \
    {                                                                                              \
        tile512(R, V, t);                                                                          \
    }
/* R x V: 1..6 x 1, 2, 4; 1..2 x 8. */
T512(1, 1)
T512(2, 1)
T512(3, 1)
T512(4, 1)
T512(5, 1)
T512(6, 1)
T512(1, 2)
T512(2, 2)
T512(3, 2)
T512(4, 2)
T512(5, 2)
T512(6, 2)
T512(1, 4)
T512(2, 4)
T512(3, 4)
T512(4, 4)
T512(5, 4)
T512(6, 4)
T512(1, 8)
T512(2, 8)

#define ROW512(V)                                                                                  \
    {                                                                                              \
        NULL, tile512_1x##V, tile512_2x##V, tile512_3x##V, tile512_4x##V, tile512_5x##V,           \
            tile512_6x##V                                                                          \
    }

/* [V][R] */
static const tile_fn tiles512_v1[MAX_R + 1] = ROW512(1);
static const tile_fn tiles512_v2[MAX_R + 1] = ROW512(2);
static const tile_fn tiles512_v4[7] = {NULL,        tile512_1x4, tile512_2x4, tile512_3x4,
                                       tile512_4x4, tile512_5x4, tile512_6x4};
static const tile_fn tiles512_v8[3] = {NULL, tile512_1x8, tile512_2x8};

static tile_fn pick512(int R, int V)
{
    switch (V) {
    case 8: return tiles512_v8[R];
    case 4: return tiles512_v4[R];
    case 2: return tiles512_v2[R];
    default: return tiles512_v1[R];
    }
}

/* Panels per tile for a row block of R rows: up to 24 accumulators, and at least 8
 * independent ones even for one row (FMA latency). 6x4 beat 12x2 here (measured): fewer
 * broadcasts of A per multiply-add. */
static int vmax512(int R)
{
    return R <= 2 ? 8 : 4;
}

/* ------------------------------------------------------------------------------------ */
/* AVX2 + FMA path: a panel is two 8-float vectors.                                     */

#define AVX2 __attribute__((target("avx2,fma")))

AVX2 INLINE __m256i mask8(int64_t valid)
{
    int v = valid >= 8 ? 8 : valid > 0 ? (int)valid : 0;
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(v), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

AVX2 INLINE __m256 epi256(const epi_t *e, __m256 x, int64_t i, int64_t j, __m256i mk)
{
    if (e->alpha != 1.0f)
        x = _mm256_mul_ps(_mm256_set1_ps(e->alpha), x);
    if (e->c) {
        const float *cp = e->c + i * e->c_rs + j * e->c_cs;
        __m256 cv = e->c_cs ? _mm256_maskload_ps(cp, mk) : _mm256_set1_ps(*cp);
        if (e->beta != 1.0f)
            cv = _mm256_mul_ps(_mm256_set1_ps(e->beta), cv);
        x = _mm256_add_ps(x, cv);
    }
    if (e->d)
        x = _mm256_add_ps(x, _mm256_maskload_ps(e->d + i * e->d_rs + j, mk));
    switch (e->act.kind) {
    case INFERD_ONNX_ACT_RELU: x = _mm256_max_ps(_mm256_setzero_ps(), x); break;
    case INFERD_ONNX_ACT_LEAKY_RELU: {
        __m256 neg = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
        x = _mm256_blendv_ps(x, _mm256_mul_ps(x, _mm256_set1_ps(e->act.alpha)), neg);
        break;
    }
    case INFERD_ONNX_ACT_CLIP:
        x = _mm256_max_ps(_mm256_set1_ps(e->act.alpha), x);
        x = _mm256_min_ps(_mm256_set1_ps(e->act.beta), x);
        break;
    case INFERD_ONNX_ACT_HARD_SIGMOID:
        x = _mm256_mul_ps(_mm256_set1_ps(e->act.alpha), x);
        x = _mm256_add_ps(x, _mm256_set1_ps(e->act.beta));
        x = _mm256_min_ps(_mm256_set1_ps(1.0f), x);
        x = _mm256_max_ps(_mm256_setzero_ps(), x);
        break;
    default: break;
    }
    return x;
}

AVX2 INLINE void tile256(const int R, const int V, const tile_args_t *t)
{
    enum { U = 2 * 2 }; /* at most 2 panels = 4 vectors */
    __m256 acc[6][U];
    __m256i mk[U];
    UNROLL for (int u = 0; u < 2 * V; u++) mk[u] = mask8(t->cols - 8 * u);
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int u = 0; u < 2 * V; u++) acc[r][u] =
        t->first                 ? _mm256_setzero_ps()
        : t->cols >= 8 * (u + 1) ? _mm256_loadu_ps(t->y + r * t->ldy + 8 * u)
                                 : _mm256_maskload_ps(t->y + r * t->ldy + 8 * u, mk[u]);
    const float *a = t->a, *b = t->b;
    const int64_t ars = t->ars, aks = t->aks, ks = t->ks, ps = t->ps;
    /* As in tile512: masked loads (slow on some CPUs) only for the right-edge tile. */
#define K_LOOP(LOAD)                                                                               \
    for (int64_t p = 0; p < t->k; p++) {                                                           \
        __m256 bv[U];                                                                              \
        UNROLL for (int u = 0; u < 2 * V; u++) bv[u] = LOAD;                                       \
        UNROLL for (int r = 0; r < R; r++)                                                         \
        {                                                                                          \
            __m256 av = _mm256_broadcast_ss(a + r * ars + p * aks);                                \
            UNROLL for (int u = 0; u < 2 * V; u++) acc[r][u] =                                     \
                _mm256_fmadd_ps(av, bv[u], acc[r][u]);                                             \
        }                                                                                          \
        b += ks;                                                                                   \
    }
    if (t->cols >= 16 * V)
        K_LOOP(_mm256_loadu_ps(b + (u / 2) * ps + 8 * (u % 2)))
    else
        K_LOOP(_mm256_maskload_ps(b + (u / 2) * ps + 8 * (u % 2), mk[u]))
#undef K_LOOP
    UNROLL for (int r = 0; r < R; r++) UNROLL for (int u = 0; u < 2 * V; u++)
    {
        if (t->cols - 8 * u <= 0)
            continue;
        __m256 x = t->last ? epi256(t->e, acc[r][u], t->i0 + r, t->j0 + 8 * u, mk[u]) : acc[r][u];
        if (t->cols >= 8 * (u + 1))
            _mm256_storeu_ps(t->y + r * t->ldy + 8 * u, x);
        else
            _mm256_maskstore_ps(t->y + r * t->ldy + 8 * u, mk[u], x);
    }
    if (t->last && t->e->scalar_act)
        scalar_act_rows(t, R);
}

#define T256(R, V)                                                                                 \
    AVX2 static void tile256_##R##x##V(const tile_args_t *t)                                       \
    {                                                                                              \
        tile256(R, V, t);                                                                          \
    }
T256(1, 1)
T256(2, 1)
T256(3, 1)
T256(4, 1)
T256(5, 1)
T256(6, 1)
T256(1, 2)
T256(2, 2)
T256(3, 2)

static const tile_fn tiles256_v1[7] = {NULL,        tile256_1x1, tile256_2x1, tile256_3x1,
                                       tile256_4x1, tile256_5x1, tile256_6x1};
static const tile_fn tiles256_v2[4] = {NULL, tile256_1x2, tile256_2x2, tile256_3x2};

static tile_fn pick256(int R, int V)
{
    return V == 2 ? tiles256_v2[R] : tiles256_v1[R];
}

static int vmax256(int R)
{
    return R <= 3 ? 2 : 1;
}

/* ------------------------------------------------------------------------------------ */
/* Portable sizes (tile_portable takes R and V as arguments)                            */

static int vmax_portable(int R)
{
    (void)R;
    return 4;
}

/* ------------------------------------------------------------------------------------ */
/* Dispatch and driver                                                                  */

typedef struct path_ops {
    const char *name;
    int rb_max;
    int (*vmax)(int R);
    tile_fn (*pick)(int R, int V); /* NULL: tile_portable */
} path_ops_t;

static const path_ops_t paths[] = {
    [INFERD_SGEMM_PORTABLE] = {"portable", 4, vmax_portable, NULL},
    [INFERD_SGEMM_AVX2] = {"avx2", 6, vmax256, pick256},
    [INFERD_SGEMM_AVX512] = {"avx512", MAX_R, vmax512, pick512},
};

static bool cpu_has(inferd_sgemm_path_t p)
{
    __builtin_cpu_init();
    switch (p) {
    case INFERD_SGEMM_AVX512:
        return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    case INFERD_SGEMM_AVX2: return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    default: return true;
    }
}

static int path_sel = -1; /* inferd_sgemm_path_t once chosen */

static inferd_sgemm_path_t cur_path(void)
{
    int p = __atomic_load_n(&path_sel, __ATOMIC_RELAXED);
    if (p < 0) {
        p = cpu_has(INFERD_SGEMM_AVX512) ? INFERD_SGEMM_AVX512
            : cpu_has(INFERD_SGEMM_AVX2) ? INFERD_SGEMM_AVX2
                                         : INFERD_SGEMM_PORTABLE;
        __atomic_store_n(&path_sel, p, __ATOMIC_RELAXED);
    }
    return (inferd_sgemm_path_t)p;
}

const char *inferd_sgemm_path(void)
{
    return paths[cur_path()].name;
}

bool inferd_sgemm_set_path(inferd_sgemm_path_t path)
{
    if ((int)path < 0 || path > INFERD_SGEMM_AVX512 || !cpu_has(path))
        return false;
    __atomic_store_n(&path_sel, (int)path, __ATOMIC_RELAXED);
    return true;
}

typedef struct gemm_ctx {
    const path_ops_t *ops;
    int64_t m, n, k;
    const float *a;
    int64_t a_rs, a_ks; /* op(A)[i,k] at a[i * a_rs + k * a_ks] (transposed or not) */
    const float *ap;    /* A packed by row blocks (pack_a), or NULL: a is read directly */
    bool b_rows;        /* B is row-major as given (ks = ldb), not panels */
    bool c_is_y;        /* the addend C lies in Y */
    bool d_is_y;        /* the residual D lies in Y */
    const float *b;
    int64_t ks, ps;
    float *y;
    int64_t ldy;
    epi_t e;
    int g;            /* panels per group (tile width of a full row block) */
    int rb;           /* rows per full row block */
    int64_t n_groups; /* ceil(panels / g) */
    int64_t n_tasks;
} gemm_ctx_t;

/* First row of row block bi of nb: the rows are spread evenly (sizes differ by at most
 * one, none above rb), so no block is left with a row or two (fewer multiply-adds per
 * load of B). */
static int64_t row_start(int64_t m, int64_t nb, int64_t bi)
{
    return m * bi / nb;
}

/* Rows [0, m) x panels [q0, q1) for K rows [k0, k0 + kn): tiles of the widest width that
 * fits, every row block per column tile. Panel q's K block starts at b + (q - q0) * ps. */
static void run_block(const gemm_ctx_t *c, int64_t q0, int64_t q1, int64_t k0, int64_t kn,
                      const float *b, int64_t ks, int64_t ps)
{
    bool first = k0 == 0, last = k0 + kn >= c->k;
    for (int64_t q = q0; q < q1;) {
        int v = c->g;
        while (q + v > q1 && v > 1)
            v /= 2; /* the range's last panels: narrower tiles (1, 2, 4, 8 are all built) */
        int64_t j0 = q * PANEL;
        int64_t cols = c->n - j0 < (int64_t)v * PANEL ? c->n - j0 : (int64_t)v * PANEL;
        for (int64_t bi = 0, nb = (c->m + c->rb - 1) / c->rb; bi < nb; bi++) {
            int64_t i = row_start(c->m, nb, bi);
            int r = (int)(row_start(c->m, nb, bi + 1) - i);
            tile_args_t t = {.a = c->ap ? c->ap + i * c->k + k0 * r
                                        : c->a + i * c->a_rs + k0 * c->a_ks,
                             .ars = c->ap ? 1 : c->a_rs,
                             .aks = c->ap ? r : c->a_ks,
                             .b = b + (q - q0) * ps,
                             .ks = ks,
                             .ps = ps,
                             .k = kn,
                             .cols = cols,
                             .y = c->y + i * c->ldy + j0,
                             .ldy = c->ldy,
                             .i0 = i,
                             .j0 = j0,
                             .e = &c->e,
                             .first = first,
                             .last = last};
            if (!c->ops->pick)
                tile_portable(&t, r, v);
            else
                c->ops->pick(r, v)(&t);
        }
        q += v;
    }
}

/* Copies rows [k0, k0 + kn) of a row-major B, columns of panels [q0, q1), into panels
 * (zero-padded): each row is read in one sequential stretch. */
static void pack_rows(const gemm_ctx_t *c, int64_t q0, int64_t q1, int64_t k0, int64_t kn,
                      float *dst)
{
    for (int64_t p = 0; p < kn; p++) {
        const float *src = c->b + (k0 + p) * c->ks;
        for (int64_t q = q0; q < q1; q++) {
            float *d = dst + ((q - q0) * kn + p) * PANEL;
            int64_t j0 = q * PANEL, w = c->n - j0 < PANEL ? c->n - j0 : PANEL;
            if (w == PANEL) {
                memcpy(d, src + j0, PANEL * sizeof(float)); /* a few vector moves */
            } else {
                for (int64_t l = 0; l < PANEL; l++)
                    d[l] = l < w ? src[j0 + l] : 0.0f;
            }
        }
    }
}

/* Rows [0, m) x panels [q0, q1). With several row blocks, K is cut into blocks so a
 * block of B panels stays in L1 while every row block uses it; the accumulators go to Y
 * between K blocks and come back exactly (a float stored and loaded is unchanged). A
 * row-major B (not prepacked) is then copied into panels a K block and a few panels at
 * a time: its rows are ldb apart, and at power-of-two row lengths they would all compete
 * for the same few L1 sets. */
static void run_panels(const gemm_ctx_t *c, int64_t q0, int64_t q1)
{
    /* K blocks keep partial sums in Y, so not when C or D lies in Y (a partial sum would
     * overwrite an addend element before the last block reads it). */
    int64_t kc = c->ops->pick && c->m > c->rb && !c->c_is_y && !c->d_is_y ? KBLOCK : c->k;
    if (kc <= 0)
        kc = 1; /* K = 0: one pass that only applies the epilogue */
    if (c->b_rows && kc == KBLOCK && LOCAL_PANELS % c->g == 0) {
        float local[LOCAL_PANELS * KBLOCK * PANEL] __attribute__((aligned(64)));
        for (int64_t qc = q0; qc < q1; qc += LOCAL_PANELS) {
            int64_t qe = qc + LOCAL_PANELS < q1 ? qc + LOCAL_PANELS : q1;
            for (int64_t k0 = 0; k0 < c->k || k0 == 0; k0 += kc) {
                int64_t kn = c->k - k0 < kc ? c->k - k0 : kc;
                pack_rows(c, qc, qe, k0, kn, local);
                run_block(c, qc, qe, k0, kn, local, PANEL, kn * PANEL);
            }
        }
        return;
    }
    for (int64_t q = q0; q < q1; q += c->g) {
        int64_t qe = q + c->g < q1 ? q + c->g : q1;
        for (int64_t k0 = 0; k0 < c->k || k0 == 0; k0 += kc) {
            int64_t kn = c->k - k0 < kc ? c->k - k0 : kc;
            run_block(c, q, qe, k0, kn, c->b + q * c->ps + k0 * c->ks, c->ks, c->ps);
        }
    }
}

static void task_cb(void *arg, int64_t task)
{
    const gemm_ctx_t *c = arg;
    int64_t g0 = c->n_groups * task / c->n_tasks, g1 = c->n_groups * (task + 1) / c->n_tasks;
    int64_t np = (c->n + PANEL - 1) / PANEL;
    int64_t q0 = g0 * c->g, q1 = g1 * c->g < np ? g1 * c->g : np;
    run_panels(c, q0, q1);
}

/* Copies op(A) into row blocks of at most rb rows (split as run_block splits them), each K-major
 * with its rows side by side: the tile then broadcasts from one sequential stream instead of rb
 * rows a stride apart (which at power-of-two strides fight for the same cache sets). */
static float *pack_a(const float *a, int64_t lda, bool ta, int64_t m, int64_t k, int rb)
{
    float *ap = inferd_malloc((size_t)m * (size_t)(k ? k : 1) * sizeof(float));
    if (!ap)
        return NULL;
    for (int64_t bi = 0, nb = (m + rb - 1) / rb; bi < nb; bi++) {
        int64_t i0 = row_start(m, nb, bi), r = row_start(m, nb, bi + 1) - i0;
        float *dst = ap + i0 * k;
        for (int64_t p = 0; p < k; p++)
            for (int64_t q = 0; q < r; q++)
                dst[p * r + q] = ta ? a[p * lda + i0 + q] : a[(i0 + q) * lda + p];
    }
    return ap;
}

/* Threads for a product: the budget (job, then calling thread, then the whole pool),
 * at most one per THREAD_WORK multiply-adds and one per column group. */
static int64_t thread_count(const inferd_pool_t *pool, int64_t m, int64_t n, int64_t k,
                            int max_threads, int64_t n_groups)
{
    if (!pool)
        return 1;
    int64_t threads = max_threads > 0 ? max_threads : inferd_pool_budget();
    if (threads <= 0)
        threads = inferd_pool_workers(pool) + 1;
    int64_t by_work = m * n * (k ? k : 1) / THREAD_WORK;
    if (threads > by_work)
        threads = by_work;
    if (threads > n_groups)
        threads = n_groups;
    return threads < 1 ? 1 : threads;
}

int inferd_sgemm_threads(int64_t m, int64_t n, int64_t k, int max_threads)
{
    if (m <= 0 || n <= 0)
        return 1;
    const path_ops_t *ops = &paths[cur_path()];
    int rb = m < ops->rb_max ? (int)m : ops->rb_max;
    int g = ops->vmax(rb);
    int64_t groups = ((n + PANEL - 1) / PANEL + g - 1) / g;
    return (int)thread_count(inferd_pool_default(), m, n, k, max_threads, groups);
}

/* The product without scratch memory, one element at a time, for when packing a
 * transposed B finds no memory: slow, but it cannot fail. */
static void product_in_place(const inferd_sgemm_job_t *job)
{
    int64_t a_rs = job->trans_a ? 1 : job->lda, a_ks = job->trans_a ? job->lda : 1;
    int64_t b_ks = job->trans_b ? 1 : job->ldb, b_cs = job->trans_b ? job->ldb : 1;
    for (int64_t i = 0; i < job->m; i++)
        for (int64_t j = 0; j < job->n; j++) {
            float acc = 0.0f;
            for (int64_t q = 0; q < job->k; q++)
                acc = fmaf(job->a[i * a_rs + q * a_ks], job->b[q * b_ks + j * b_cs], acc);
            float v = job->alpha != 1.0f ? job->alpha * acc : acc;
            if (job->c)
                v = v + job->beta * job->c[i * job->c_rs + j * job->c_cs];
            if (job->d)
                v = v + job->d[i * job->d_rs + j];
            job->y[i * job->ldy + j] = inferd_sgemm_act(job->act, v);
        }
}

bool inferd_sgemm_run(const inferd_sgemm_job_t *job)
{
    if (job->m <= 0 || job->n <= 0)
        return true;
    gemm_ctx_t c = {.ops = &paths[cur_path()],
                    .m = job->m,
                    .n = job->n,
                    .k = job->k,
                    .a = job->a,
                    .a_rs = job->trans_a ? 1 : job->lda,
                    .a_ks = job->trans_a ? job->lda : 1,
                    .y = job->y,
                    .ldy = job->ldy};
    c.e = (epi_t){.alpha = job->alpha,
                  .beta = job->beta,
                  .c = job->c,
                  .c_rs = job->c_rs,
                  .c_cs = job->c_cs,
                  .d = job->d,
                  .d_rs = job->d_rs,
                  .act = job->act,
                  .scalar_act = job->act.kind == INFERD_ONNX_ACT_SIGMOID ||
                                job->act.kind == INFERD_ONNX_ACT_TANH};
    if (!c.ops->pick)
        c.e.scalar_act = false; /* tile_portable applies every activation itself */
    float *ap = NULL;
    inferd_sgemm_pack_t *tmp = NULL;
    c.rb = c.m < c.ops->rb_max ? (int)c.m : c.ops->rb_max;
    c.c_is_y = job->c && (uintptr_t)job->c >= (uintptr_t)job->y &&
               (uintptr_t)job->c < (uintptr_t)(job->y + (job->m - 1) * job->ldy + job->n);
    c.d_is_y = job->d &&
               (uintptr_t)job->d < (uintptr_t)(job->y + (job->m - 1) * job->ldy + job->n) &&
               (uintptr_t)(job->d + (job->m - 1) * job->d_rs + job->n) > (uintptr_t)job->y;
    /* Only a transposed A read by more than one column group is copied into row blocks
     * (its rows are columns, a stride apart). A row-major A is read in place: the K
     * blocks keep its rb rows' stretches in L1, and copying it (a scalar pass over A on
     * every call) cost 3-14% on wide products (measured, MLP and conv im2col shapes,
     * strides 576 to 1152 and 1024). Without memory for the copy the tiles read A where
     * it is. */
    if (job->trans_a && c.n > 64) {
        ap = pack_a(job->a, job->lda, job->trans_a, c.m, c.k, c.rb);
        c.ap = ap;
    }
    const inferd_sgemm_pack_t *pk = job->pack;
    /* A transposed B that is not prepacked is packed for this call. (Packing a plain B
     * per call costs more than it saves: the tiles read its rows directly.) */
    if (!pk && job->trans_b) {
        tmp = inferd_sgemm_pack_create(job->trans_b, job->n, job->k, job->b, job->ldb,
                                       INFERD_OWNER_ARENA);
        if (!tmp) {
            inferd_free(ap);
            product_in_place(job);
            return true;
        }
        pk = tmp;
    }
    if (pk) {
        c.b = pk->panels;
        c.ks = PANEL;
        c.ps = pk->k * PANEL;
    } else {
        c.b = job->b;
        c.ks = job->ldb;
        c.ps = PANEL;
        c.b_rows = true;
    }
    c.g = c.ops->vmax(c.rb);
    int64_t np = (c.n + PANEL - 1) / PANEL;
    c.n_groups = (np + c.g - 1) / c.g;

    inferd_pool_t *pool = inferd_pool_default();
    int64_t threads = thread_count(pool, c.m, c.n, c.k, job->max_threads, c.n_groups);
    if (threads <= 1 || !pool) {
        run_panels(&c, 0, np);
    } else {
        /* Several tasks per thread: a helper that starts late (a busy machine) leaves
         * its share to the others instead of being waited for. */
        c.n_tasks = threads * 4 < c.n_groups ? threads * 4 : c.n_groups;
        inferd_pool_parallel_for(pool, c.n_tasks, (int)threads, task_cb, &c);
    }
    inferd_sgemm_pack_destroy(tmp);
    inferd_free(ap);
    return true;
}

typedef struct rows_split {
    const inferd_sgemm_job_t *job;
    atomic_bool failed;
} rows_split_t;

static void rows_task(void *arg, int64_t lo, int64_t hi)
{
    rows_split_t *r = arg;
    inferd_sgemm_job_t part = *r->job;
    part.m = hi - lo;
    part.a += lo * part.lda;
    part.y += lo * part.ldy;
    if (part.c)
        part.c += lo * part.c_rs;
    if (part.d)
        part.d += lo * part.d_rs;
    part.max_threads = 1;
    if (!inferd_sgemm_run(&part))
        atomic_store(&r->failed, true);
}

bool inferd_sgemm_run_rows(const inferd_sgemm_job_t *job, int64_t grain)
{
    rows_split_t r = {.job = job};
    atomic_init(&r.failed, false);
    inferd_pool_for_range(job->m, grain < 6 ? 6 : grain, 6, rows_task, &r);
    return !atomic_load(&r.failed);
}

bool inferd_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *y)
{
    inferd_sgemm_job_t j = {.m = m,
                            .n = n,
                            .k = k,
                            .trans_a = trans_a,
                            .a = a,
                            .lda = lda,
                            .b = b,
                            .ldb = ldb,
                            .trans_b = trans_b,
                            .y = y,
                            .ldy = n,
                            .alpha = alpha,
                            .beta = beta,
                            .c = beta != 0.0f ? y : NULL,
                            .c_rs = n,
                            .c_cs = 1};
    return inferd_sgemm_run(&j);
}
