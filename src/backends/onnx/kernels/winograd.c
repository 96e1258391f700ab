/* Winograd F(4x4, 3x3) (see winograd.h).
 *
 * Work is cut into blocks of consecutive tiles (over the batch's flattened (image, tile
 * row, tile column) order). For a block: the input rows each tile row needs are staged
 * channel-minor ([row][column][Cp], zero outside the image, through register
 * transposes); every tile is transformed 16 channels at a time into V [36][tiles][Cp];
 * 36 GEMMs give P [36][tiles][Mp] = V * U; every tile of P is transformed back 16 output
 * channels at a time, biased, activated and written to Y through transposes again. The
 * block size and the thread split only decide which tiles share a GEMM, so they never
 * change a value.
 *
 * The transforms (the points 0, +-1, +-2 and infinity):
 *   B^T = [4 0 -5 0 1 0; 0 -4 -4 1 1 0; 0 4 -4 -1 1 0; 0 -2 -1 2 1 0; 0 2 -1 -2 1 0;
 *          0 4 0 -5 0 1]
 *   G   = [1/4 0 0; -1/6 -1/6 -1/6; -1/6 1/6 -1/6; 1/24 1/12 1/6; 1/24 -1/12 1/6; 0 0 1]
 *   A^T = [1 1 1 1 1 0; 0 1 -1 2 -2 0; 0 1 1 4 4 0; 0 1 -1 8 -8 1]
 * U is computed in double at load and rounded once. The vector code uses GCC vector
 * types, inlined into one function per ISA (AVX-512, AVX2, baseline x86-64; AVX-512 also
 * stages and stores through 16x16 transposes), picked like the GEMM's path; the file is
 * built without contraction, so every path applies the same IEEE operations in the same
 * order to a value. */
#include "backends/onnx/kernels/winograd.h"

#include <immintrin.h>
#include <stdatomic.h>
#include <string.h>

#include "backends/onnx/kernels/scratch.h"
#include "core/alloc.h"
#include "core/pool.h"

#define LANES 16
#define POS 36 /* 6x6 transformed positions */
/* Bytes of V plus P per block at most: 256 KiB, so a block stays in L2 beside the GEMM's
 * panels (8 to 64 tiles per block measured within noise of each other). */
#define BLOCK_BYTES (256 * 1024)
/* Multiply-adds per task below which a split costs more than it saves (as the GEMM's). */
#define TASK_WORK (1ll << 18)
#define INLINE static inline __attribute__((always_inline))

/* The helpers taking and returning these are always inlined into one function per ISA, so
 * no vector crosses a call (the ABI note GCC gives for 64-byte vectors does not apply). */
#pragma GCC diagnostic ignored "-Wpsabi"
typedef float v16 __attribute__((vector_size(64)));
typedef int32_t v16i __attribute__((vector_size(64)));

static int64_t round16(int64_t v)
{
    return (v + LANES - 1) / LANES * LANES;
}

int64_t inferd_wino_tiles(int64_t oh, int64_t ow)
{
    return ((oh + 3) / 4) * ((ow + 3) / 4);
}

/* ------------------------------------------------------------------------------------ */
/* Weights                                                                              */

inferd_wino_t *inferd_wino_create(const float *w, int64_t m, int64_t c, inferd_owner_t owner)
{
    static const double g_mat[6][3] = {{1.0 / 4, 0, 0},
                                       {-1.0 / 6, -1.0 / 6, -1.0 / 6},
                                       {-1.0 / 6, 1.0 / 6, -1.0 / 6},
                                       {1.0 / 24, 1.0 / 12, 1.0 / 6},
                                       {1.0 / 24, -1.0 / 12, 1.0 / 6},
                                       {0, 0, 1}};
    if (m <= 0 || c <= 0 || m > (1 << 20) || c > (1 << 20))
        return NULL;
    int64_t mp = round16(m), cp = round16(c), ld = POS * mp;
    float *b = inferd_calloc((size_t)(c * ld), sizeof(float));
    if (!b)
        return NULL;
    for (int64_t mi = 0; mi < m; mi++)
        for (int64_t ci = 0; ci < c; ci++) {
            const float *g = w + (mi * c + ci) * 9;
            double t[6][3];
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 3; j++)
                    t[i][j] = g_mat[i][0] * g[j] + g_mat[i][1] * g[3 + j] + g_mat[i][2] * g[6 + j];
            for (int i = 0; i < 6; i++)
                for (int j = 0; j < 6; j++) {
                    double u =
                        t[i][0] * g_mat[j][0] + t[i][1] * g_mat[j][1] + t[i][2] * g_mat[j][2];
                    b[ci * ld + (i * 6 + j) * mp + mi] = (float)u;
                }
        }
    inferd_wino_t *r = inferd_malloc(sizeof(*r));
    inferd_sgemm_pack_t *pack = r ? inferd_sgemm_pack_create(false, ld, c, b, ld, owner) : NULL;
    inferd_free(b);
    if (!pack) {
        inferd_free(r);
        return NULL;
    }
    *r = (inferd_wino_t){.m = m, .c = c, .mp = mp, .cp = cp, .pack = pack};
    return r;
}

void inferd_wino_destroy(inferd_wino_t *w)
{
    if (!w)
        return;
    inferd_sgemm_pack_destroy(w->pack);
    inferd_free(w);
}

/* ------------------------------------------------------------------------------------ */
/* Staging: input rows channel-minor                                                    */

/* Copies input rows iy0..iy0+5, columns ix0..ix0+ncols-1, of channels [0, c) of image x
 * into buf[r][j][cp] (row stride rs), zero outside the image. Channels c..cp are left
 * alone (the caller zeroed them once). */
static void stage_rows(const float *x, int64_t c, int64_t ih, int64_t iw, int64_t iy0, int64_t ix0,
                       int64_t ncols, int64_t cp, float *buf, int64_t rs)
{
    int64_t plane = ih * iw;
    for (int r = 0; r < 6; r++) {
        int64_t iy = iy0 + r;
        float *dst = buf + r * rs;
        if (iy < 0 || iy >= ih) {
            for (int64_t j = 0; j < ncols; j++)
                memset(dst + j * cp, 0, (size_t)c * sizeof(float));
            continue;
        }
        for (int64_t c0 = 0; c0 < c; c0 += 4) {
            int nc = c - c0 < 4 ? (int)(c - c0) : 4;
            const float *src = x + c0 * plane + iy * iw;
            for (int64_t j = 0; j < ncols; j += 4) {
                int64_t ix = ix0 + j;
                __m128 v0, v1, v2, v3;
                if (nc == 4 && ix >= 0 && ix + 4 <= iw) {
                    v0 = _mm_loadu_ps(src + ix);
                    v1 = _mm_loadu_ps(src + plane + ix);
                    v2 = _mm_loadu_ps(src + 2 * plane + ix);
                    v3 = _mm_loadu_ps(src + 3 * plane + ix);
                } else {
                    float t[4][4];
                    for (int q = 0; q < 4; q++)
                        for (int l = 0; l < 4; l++) {
                            int64_t xx = ix + l;
                            t[q][l] = q < nc && xx >= 0 && xx < iw ? src[q * plane + xx] : 0.0f;
                        }
                    v0 = _mm_loadu_ps(t[0]);
                    v1 = _mm_loadu_ps(t[1]);
                    v2 = _mm_loadu_ps(t[2]);
                    v3 = _mm_loadu_ps(t[3]);
                }
                _MM_TRANSPOSE4_PS(v0, v1, v2, v3);
                float *d = dst + j * cp + c0;
                int64_t left = ncols - j;
                _mm_store_ps(d, v0);
                if (left > 1)
                    _mm_store_ps(d + cp, v1);
                if (left > 2)
                    _mm_store_ps(d + 2 * cp, v2);
                if (left > 3)
                    _mm_store_ps(d + 3 * cp, v3);
            }
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Transforms, 16 channels per vector                                                   */

/* Row r of B^T applied to d0..d5. */
INLINE void bt6(v16 d0, v16 d1, v16 d2, v16 d3, v16 d4, v16 d5, v16 *o)
{
    o[0] = (d4 + 4.0f * d0) - 5.0f * d2;
    o[1] = (d3 + d4) - 4.0f * (d1 + d2);
    o[2] = (d4 - d3) + 4.0f * (d1 - d2);
    o[3] = (d4 - d2) + 2.0f * (d3 - d1);
    o[4] = (d4 - d2) - 2.0f * (d3 - d1);
    o[5] = (d5 + 4.0f * d1) - 5.0f * d3;
}

/* A^T applied to m0..m5. */
INLINE void at6(v16 m0, v16 m1, v16 m2, v16 m3, v16 m4, v16 m5, v16 *o)
{
    v16 a = m1 + m2, b = m1 - m2, c = m3 + m4, d = m3 - m4;
    o[0] = (m0 + a) + c;
    o[1] = b + 2.0f * d;
    o[2] = a + 4.0f * c;
    o[3] = (b + 8.0f * d) + m5;
}

/* One tile: in points at the staged tile's corner (row stride rs, column stride cp); the
 * 36 transformed vectors of channel block c0 go to v + p * ps + c0. */
INLINE void input_tile(const float *in, int64_t rs, int64_t cp, float *v, int64_t ps)
{
    for (int64_t c0 = 0; c0 < cp; c0 += LANES) {
        v16 t[6][6];
        for (int j = 0; j < 6; j++) {
            const float *col = in + j * cp + c0;
            v16 d[6];
            for (int i = 0; i < 6; i++)
                d[i] = *(const v16 *)(col + i * rs);
            v16 o[6];
            bt6(d[0], d[1], d[2], d[3], d[4], d[5], o);
            for (int i = 0; i < 6; i++)
                t[i][j] = o[i];
        }
        for (int i = 0; i < 6; i++) {
            v16 o[6];
            bt6(t[i][0], t[i][1], t[i][2], t[i][3], t[i][4], t[i][5], o);
            for (int j = 0; j < 6; j++)
                *(v16 *)(v + (i * 6 + j) * ps + c0) = o[j];
        }
    }
}

INLINE v16 vmax(v16 a, v16 b)
{
    /* a > b ? a : b, as the GEMM's epilogue computes max */
    v16i k = a > b;
    return (v16)(((v16i)a & k) | ((v16i)b & ~k));
}

INLINE v16 vmin(v16 a, v16 b)
{
    v16i k = a < b;
    return (v16)(((v16i)a & k) | ((v16i)b & ~k));
}

INLINE v16 act16(v16 x, const inferd_onnx_act_t *act)
{
    v16 zero = {0}, one = zero + 1.0f;
    switch (act->kind) {
    case INFERD_ONNX_ACT_RELU: return vmax(zero, x);
    case INFERD_ONNX_ACT_LEAKY_RELU: {
        v16i k = x < zero;
        return (v16)(((v16i)(act->alpha * x) & k) | ((v16i)x & ~k));
    }
    case INFERD_ONNX_ACT_CLIP: return vmin(zero + act->beta, vmax(zero + act->alpha, x));
    case INFERD_ONNX_ACT_HARD_SIGMOID: {
        v16 v = act->alpha * x;
        v = v + act->beta;
        return vmax(zero, vmin(one, v));
    }
    default: return x; /* SIGMOID and TANH: applied per element by the caller */
    }
}

/* *x = act(*x + *r), through pointers: callable from the per-ISA functions, where a
 * vector passed by value would cross an ABI boundary (clang rejects that). */
INLINE void add_act16(v16 *x, const v16 *r, const inferd_onnx_act_t *act)
{
    *x = act16(*x + *r, act);
}

/* One tile's output: the 36 product vectors of channel block m0 at p + q * ps + m0 become
 * the 4x4 outputs, plus bias, activated, in o[pixel] (16 channels each). */
INLINE void output_tile(const float *p, int64_t ps, int64_t m0, const float *bias,
                        const inferd_onnx_act_t *act, v16 *o)
{
    v16 s[4][6];
    for (int j = 0; j < 6; j++) {
        v16 m[6];
        for (int i = 0; i < 6; i++)
            m[i] = *(const v16 *)(p + (i * 6 + j) * ps + m0);
        v16 r[4];
        at6(m[0], m[1], m[2], m[3], m[4], m[5], r);
        for (int a = 0; a < 4; a++)
            s[a][j] = r[a];
    }
    v16 b = *(const v16 *)(bias + m0);
    for (int a = 0; a < 4; a++) {
        v16 r[4];
        at6(s[a][0], s[a][1], s[a][2], s[a][3], s[a][4], s[a][5], r);
        for (int q = 0; q < 4; q++)
            o[a * 4 + q] = act16(r[q] + b, act);
    }
}

/* ------------------------------------------------------------------------------------ */
/* Block driver                                                                         */

typedef struct run_ctx {
    const inferd_wino_t *w;
    const inferd_wino_conv_t *cv;
    int64_t th, tw, per_img, total;
    int64_t tb;       /* tiles per block */
    int64_t vs, ps;   /* floats from one position to the next in V and in P */
    int64_t n_blocks; /* ceil(total / tb) */
    int64_t n_tasks;
    const float *bias; /* padded to mp, zeros past m */
    atomic_bool failed;
} run_ctx_t;

/* Writes one tile's outputs o[16 pixels][16 channels] for channels m0.. to image yn. With
 * a residual, o has no activation yet: each output adds its residual element, then the
 * activation, per element (the residual read just before the element is written). */
static void store_tile(const run_ctx_t *r, const float *o, float *yn, int64_t m0, int64_t oy,
                       int64_t ox)
{
    const inferd_wino_conv_t *cv = r->cv;
    int64_t m = r->w->m, oh = cv->oh, ow = cv->ow, plane = oh * ow;
    const float *rn = cv->res ? cv->res + (yn - cv->y) : NULL;
    bool scalar_act =
        rn || cv->act.kind == INFERD_ONNX_ACT_SIGMOID || cv->act.kind == INFERD_ONNX_ACT_TANH;
    int64_t nm = m - m0 < LANES ? m - m0 : LANES;
    if (!scalar_act && nm == LANES && oy + 4 <= oh && ox + 4 <= ow) {
        for (int g = 0; g < 4; g++)
            for (int a = 0; a < 4; a++) {
                __m128 v0 = _mm_load_ps(o + (a * 4 + 0) * LANES + g * 4);
                __m128 v1 = _mm_load_ps(o + (a * 4 + 1) * LANES + g * 4);
                __m128 v2 = _mm_load_ps(o + (a * 4 + 2) * LANES + g * 4);
                __m128 v3 = _mm_load_ps(o + (a * 4 + 3) * LANES + g * 4);
                _MM_TRANSPOSE4_PS(v0, v1, v2, v3);
                float *d = yn + (m0 + g * 4) * plane + (oy + a) * ow + ox;
                _mm_storeu_ps(d, v0);
                _mm_storeu_ps(d + plane, v1);
                _mm_storeu_ps(d + 2 * plane, v2);
                _mm_storeu_ps(d + 3 * plane, v3);
            }
        return;
    }
    for (int64_t l = 0; l < nm; l++)
        for (int a = 0; a < 4 && oy + a < oh; a++)
            for (int q = 0; q < 4 && ox + q < ow; q++) {
                int64_t at = (m0 + l) * plane + (oy + a) * ow + ox + q;
                float v = o[(a * 4 + q) * LANES + l];
                if (rn)
                    v = v + rn[at];
                if (scalar_act)
                    v = inferd_sgemm_act(cv->act, v);
                yn[at] = v;
            }
}

/* Writes one tile's outputs through memory and store_tile (any ISA, any tile). */
INLINE void store_any(const run_ctx_t *r, const v16 *res, float *yn, int64_t m0, int64_t oy,
                      int64_t ox)
{
    float o[LANES * LANES] __attribute__((aligned(64)));
    for (int i = 0; i < LANES; i++)
        *(v16 *)(o + i * LANES) = res[i];
    store_tile(r, o, yn, m0, oy, ox);
}

#define AVX512 __attribute__((target("avx512f")))

/* Transposes 16 vectors in place: r[i][j] becomes r[j][i]. */
AVX512 INLINE void transpose16(__m512 *r)
{
    __m512 t[16];
    for (int i = 0; i < 8; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    for (int i = 0; i < 4; i++) {
        __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 1]);
        __m512d c = _mm512_castps_pd(t[4 * i + 2]), d = _mm512_castps_pd(t[4 * i + 3]);
        r[4 * i + 0] = _mm512_castpd_ps(_mm512_unpacklo_pd(a, c));
        r[4 * i + 1] = _mm512_castpd_ps(_mm512_unpackhi_pd(a, c));
        r[4 * i + 2] = _mm512_castpd_ps(_mm512_unpacklo_pd(b, d));
        r[4 * i + 3] = _mm512_castpd_ps(_mm512_unpackhi_pd(b, d));
    }
    for (int i = 0; i < 2; i++)
        for (int j = 0; j < 4; j++) {
            t[8 * i + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0x88);
            t[8 * i + 4 + j] = _mm512_shuffle_f32x4(r[8 * i + j], r[8 * i + 4 + j], 0xdd);
        }
    for (int j = 0; j < 8; j++) {
        r[j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0x88);
        r[8 + j] = _mm512_shuffle_f32x4(t[j], t[8 + j], 0xdd);
    }
}

/* AVX-512 store of a whole tile: one 16x16 transpose turns pixel vectors into channel
 * vectors, whose four 128-bit quarters are the tile's four output rows. */
AVX512 INLINE void store_512(const run_ctx_t *r, const v16 *res, float *yn, int64_t m0, int64_t oy,
                             int64_t ox)
{
    const inferd_wino_conv_t *cv = r->cv;
    if (cv->act.kind == INFERD_ONNX_ACT_SIGMOID || cv->act.kind == INFERD_ONNX_ACT_TANH ||
        oy + 4 > cv->oh || ox + 4 > cv->ow) {
        store_any(r, res, yn, m0, oy, ox);
        return;
    }
    __m512 v[LANES];
    for (int i = 0; i < LANES; i++)
        v[i] = (__m512)res[i];
    transpose16(v);
    int64_t plane = cv->oh * cv->ow, nm = r->w->m - m0 < LANES ? r->w->m - m0 : LANES;
    float *d = yn + m0 * plane + oy * cv->ow + ox;
    if (cv->res) {
        /* The tile's residual per channel, its four rows as the vector's quarters; then
         * the activation output_tile left out. */
        const float *rs = cv->res + (d - cv->y);
        for (int64_t l = 0; l < nm; l++, rs += plane) {
            __m512 rv = _mm512_castps128_ps512(_mm_loadu_ps(rs));
            rv = _mm512_insertf32x4(rv, _mm_loadu_ps(rs + cv->ow), 1);
            rv = _mm512_insertf32x4(rv, _mm_loadu_ps(rs + 2 * cv->ow), 2);
            rv = _mm512_insertf32x4(rv, _mm_loadu_ps(rs + 3 * cv->ow), 3);
            v16 t = (v16)v[l], rr = (v16)rv;
            add_act16(&t, &rr, &cv->act);
            v[l] = (__m512)t;
        }
    }
    for (int64_t l = 0; l < nm; l++, d += plane) {
        _mm_storeu_ps(d, _mm512_extractf32x4_ps(v[l], 0));
        _mm_storeu_ps(d + cv->ow, _mm512_extractf32x4_ps(v[l], 1));
        _mm_storeu_ps(d + 2 * cv->ow, _mm512_extractf32x4_ps(v[l], 2));
        _mm_storeu_ps(d + 3 * cv->ow, _mm512_extractf32x4_ps(v[l], 3));
    }
}

/* AVX-512 staging (as stage_rows): 16 channels by 16 columns per transpose, the columns
 * outside the image loaded as zero by mask. */
AVX512 static void stage_rows_512(const float *x, int64_t c, int64_t ih, int64_t iw, int64_t iy0,
                                  int64_t ix0, int64_t ncols, int64_t cp, float *buf, int64_t rs)
{
    int64_t plane = ih * iw;
    for (int r = 0; r < 6; r++) {
        int64_t iy = iy0 + r;
        float *dst = buf + r * rs;
        if (iy < 0 || iy >= ih) {
            for (int64_t j = 0; j < ncols; j++)
                memset(dst + j * cp, 0, (size_t)c * sizeof(float));
            continue;
        }
        for (int64_t j0 = 0; j0 < ncols; j0 += LANES) {
            int64_t ix = ix0 + j0;
            int64_t lo = ix < 0 ? -ix : 0, hi = iw - ix < LANES ? iw - ix : LANES;
            __mmask16 mk = hi <= lo ? 0 : (__mmask16)(((1u << hi) - 1) & ~((1u << lo) - 1));
            int64_t nj = ncols - j0 < LANES ? ncols - j0 : LANES;
            for (int64_t c0 = 0; c0 < c; c0 += LANES) {
                /* Masked lanes are never read, so the address may lie before the row. */
                uintptr_t src = (uintptr_t)(x + c0 * plane + iy * iw) + (uintptr_t)(ix * 4);
                int64_t nc = c - c0 < LANES ? c - c0 : LANES;
                __m512 v[LANES];
                for (int q = 0; q < LANES; q++)
                    v[q] = q < nc ? _mm512_maskz_loadu_ps(
                                        mk, (const void *)(src + (uintptr_t)(q * plane * 4)))
                                  : _mm512_setzero_ps();
                transpose16(v);
                for (int64_t l = 0; l < nj; l++)
                    _mm512_store_ps(dst + (j0 + l) * cp + c0, v[l]);
            }
        }
    }
}

/* The transforms of tiles [b0, b1) of the batch for one ISA: input (staged at st) into v,
 * or (output) from p into Y. */
#define TRANSFORMS(SUF, ATTR, STAGE, STORE)                                                        \
    ATTR static void input_##SUF(const run_ctx_t *r, int64_t b0, int64_t b1, float *st, float *v)  \
    {                                                                                              \
        const inferd_wino_conv_t *cv = r->cv;                                                      \
        int64_t cp = r->w->cp, wp = 4 * r->tw + 2, ps = r->vs;                                     \
        for (int64_t t = b0; t < b1;) {                                                            \
            int64_t n = t / r->per_img, ti = t % r->per_img, ty = ti / r->tw, tx0 = ti % r->tw;    \
            int64_t tx1 = r->tw - tx0 < b1 - t ? r->tw : tx0 + (b1 - t);                           \
            STAGE(cv->x + n * r->w->c * cv->ih * cv->iw, r->w->c, cv->ih, cv->iw,                  \
                  4 * ty - cv->pad_top, 4 * tx0 - cv->pad_left, 4 * (tx1 - tx0) + 2, cp, st,       \
                  wp * cp);                                                                        \
            for (int64_t tx = tx0; tx < tx1; tx++)                                                 \
                input_tile(st + 4 * (tx - tx0) * cp, wp * cp, cp, v + (t - b0 + tx - tx0) * cp,    \
                           ps);                                                                    \
            t += tx1 - tx0;                                                                        \
        }                                                                                          \
    }                                                                                              \
    ATTR static void output_##SUF(const run_ctx_t *r, int64_t b0, int64_t b1, const float *p)      \
    {                                                                                              \
        const inferd_wino_conv_t *cv = r->cv;                                                      \
        int64_t mp = r->w->mp, ps = r->ps;                                                         \
        v16 o[LANES];                                                                              \
        /* With a residual, STORE adds it and then applies the activation. */                      \
        const inferd_onnx_act_t none = {0}, *act = cv->res ? &none : &cv->act;                     \
        for (int64_t t = b0; t < b1; t++) {                                                        \
            int64_t n = t / r->per_img, ti = t % r->per_img;                                       \
            float *yn = cv->y + n * r->w->m * cv->oh * cv->ow;                                     \
            for (int64_t m0 = 0; m0 < mp; m0 += LANES) {                                           \
                output_tile(p + (t - b0) * mp, ps, m0, r->bias, act, o);                           \
                STORE(r, o, yn, m0, 4 * (ti / r->tw), 4 * (ti % r->tw));                           \
            }                                                                                      \
        }                                                                                          \
    }

TRANSFORMS(avx512, AVX512, stage_rows_512, store_512)
TRANSFORMS(avx2, __attribute__((target("avx2,fma"))), stage_rows, store_any)
TRANSFORMS(base, , stage_rows, store_any)

typedef struct isa {
    void (*input)(const run_ctx_t *r, int64_t b0, int64_t b1, float *st, float *v);
    void (*output)(const run_ctx_t *r, int64_t b0, int64_t b1, const float *p);
} isa_t;

/* The transforms follow the GEMM's code path (kernels/sgemm.h), so forcing that path in
 * tests forces theirs too. */
static const isa_t *isa(void)
{
    static const isa_t avx512 = {input_avx512, output_avx512}, avx2 = {input_avx2, output_avx2},
                       base = {input_base, output_base};
    const char *path = inferd_sgemm_path();
    if (strcmp(path, "avx512") == 0)
        return &avx512;
    if (strcmp(path, "avx2") == 0)
        return &avx2;
    return &base;
}

static void run_task(void *arg, int64_t task)
{
    run_ctx_t *r = arg;
    const inferd_wino_t *w = r->w;
    int64_t cp = w->cp, mp = w->mp, tb = r->tb, wp = 4 * r->tw + 2;
    int64_t blk0 = r->n_blocks * task / r->n_tasks, blk1 = r->n_blocks * (task + 1) / r->n_tasks;
    if (blk0 >= blk1)
        return;
    /* V, P and the staged rows, each 64-byte aligned; the staged rows' padding channels
     * zero. */
    size_t nv = (size_t)(POS * r->vs), np = (size_t)(POS * r->ps), ns = (size_t)(6 * wp * cp);
    size_t bytes = (nv + np + ns) * sizeof(float);
    float *v = inferd_scratch_get(bytes);
    if (!v) {
        atomic_store(&r->failed, true);
        return;
    }
    float *p = v + nv, *st = p + np;
    memset(st, 0, ns * sizeof(float));
    const isa_t *k = isa();
    for (int64_t blk = blk0; blk < blk1; blk++) {
        int64_t b0 = blk * tb, b1 = b0 + tb < r->total ? b0 + tb : r->total;
        k->input(r, b0, b1, st, v);
        for (int q = 0; q < POS; q++) {
            inferd_sgemm_pack_t u = {.n = mp,
                                     .k = w->c,
                                     .n_panels = mp / LANES,
                                     .panels = w->pack->panels + (int64_t)q * mp * w->c};
            inferd_sgemm_job_t job = {.m = b1 - b0,
                                      .n = mp,
                                      .k = w->c,
                                      .a = v + q * r->vs,
                                      .lda = cp,
                                      .pack = &u,
                                      .y = p + q * r->ps,
                                      .ldy = mp,
                                      .alpha = 1.0f,
                                      /* one task: the GEMM may split its columns */
                                      .max_threads = r->n_tasks == 1 ? r->cv->max_threads : 1};
            if (!inferd_sgemm_run(&job))
                atomic_store(&r->failed, true);
        }
        k->output(r, b0, b1, p);
    }
    inferd_scratch_put(v, bytes);
}

bool inferd_wino_run(const inferd_wino_t *w, const inferd_wino_conv_t *cv)
{
    if (cv->n <= 0 || cv->oh <= 0 || cv->ow <= 0)
        return true;
    run_ctx_t r = {.w = w, .cv = cv, .th = (cv->oh + 3) / 4, .tw = (cv->ow + 3) / 4};
    r.per_img = r.th * r.tw;
    r.total = cv->n * r.per_img;
    float *bias = inferd_calloc((size_t)(w->mp + LANES), sizeof(float));
    if (!bias)
        return false;
    float *bp = (float *)(((uintptr_t)bias + 63) & ~(uintptr_t)63);
    if (cv->bias)
        memcpy(bp, cv->bias, (size_t)w->m * sizeof(float));
    r.bias = bp;
    atomic_init(&r.failed, false);
    inferd_pool_t *pool = inferd_pool_default();
    int64_t threads = cv->max_threads > 0 ? cv->max_threads : inferd_pool_budget();
    if (pool && threads <= 0)
        threads = inferd_pool_workers(pool) + 1;
    if (!pool || threads < 1)
        threads = 1;
    int64_t by_work = r.total * POS * w->c * w->m / TASK_WORK;
    r.n_tasks = threads < by_work ? threads : by_work;
    if (r.n_tasks > r.total)
        r.n_tasks = r.total;
    if (r.n_tasks < 1)
        r.n_tasks = 1;
    /* Blocks of at most BLOCK_BYTES, as many per task, of equal size (within a tile). */
    int64_t tb_max = (int64_t)BLOCK_BYTES / (POS * (int64_t)sizeof(float) * (w->cp + w->mp));
    if (tb_max < 6)
        tb_max = 6;
    int64_t per_task = (r.total + r.n_tasks - 1) / r.n_tasks;
    r.n_blocks = r.n_tasks * ((per_task + tb_max - 1) / tb_max);
    r.tb = (r.total + r.n_blocks - 1) / r.n_blocks;
    r.n_blocks = (r.total + r.tb - 1) / r.tb;
    /* One spare cache line per position: at power-of-two strides (16 tiles of 32
     * channels: 2 KiB) the 36 streams fall into a few L1 sets (measured 1.6x slower). */
    r.vs = r.tb * w->cp + LANES;
    r.ps = r.tb * w->mp + LANES;
    if (r.n_tasks > r.n_blocks)
        r.n_tasks = r.n_blocks;
    if (r.n_tasks == 1)
        run_task(&r, 0);
    else
        inferd_pool_parallel_for(pool, r.n_tasks, (int)r.n_tasks, run_task, &r);
    inferd_free(bias);
    return !atomic_load(&r.failed);
}
