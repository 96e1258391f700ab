/* Vectorized float32 loops (see simd_f32.h). Plain C loops that GCC vectorizes at -O3,
 * cloned per instruction set; the transcendental functions are written out (range
 * reduction plus a polynomial, in plain multiplies and adds) so they vectorize too,
 * which libm's expf/erff calls do not. */
#include "backends/onnx/kernels/simd_f32.h"

#include <math.h>
#include <string.h>

#include "backends/onnx/passes.h"
#include "core/pool.h"

#if defined(__clang__) && __clang_major__ < 16
/* clang before 16 emits a target_clones dispatcher only as "<name>.ifunc", which calls from
 * other files do not link to: clang builds (ThreadSanitizer, fuzzing) use the default loop. */
#define CLONES
#else
#define CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#endif
#define LANES 16
/* Loops of at least 2 * PAR_GRAIN values are split over the intra-op pool in chunks of
 * whole vectors; below it a dispatch would cost more than it saves. Every value gets the
 * same operations on whichever thread, so results do not depend on the thread count. */
#define PAR_GRAIN INFERD_ONNX_PAR_GRAIN

CLONES static void act_chunk(const inferd_onnx_act_t *a, float *x, int64_t n)
{
    const float al = a->alpha, be = a->beta;
    switch (a->kind) {
    case INFERD_ONNX_ACT_NONE: return;
    case INFERD_ONNX_ACT_RELU:
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] > 0.0f ? x[i] : 0.0f;
        return;
    case INFERD_ONNX_ACT_LEAKY_RELU:
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] < 0 ? al * x[i] : x[i];
        return;
    case INFERD_ONNX_ACT_CLIP:
        for (int64_t i = 0; i < n; i++)
            x[i] = x[i] < al ? al : x[i] > be ? be : x[i];
        return;
    default: inferd_onnx_act_apply(a, x, (size_t)n); return;
    }
}

/* The three stride cases get their own loops so that each vectorizes. */
#define BINARY(name, OP)                                                                           \
    CLONES static void name(const float *a, int64_t sa, const float *b, int64_t sb, float *o,      \
                            int64_t n)                                                             \
    {                                                                                              \
        if (sa && sb) {                                                                            \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = a[i] OP b[i];                                                               \
        } else if (sa) {                                                                           \
            const float y = b[0];                                                                  \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = a[i] OP y;                                                                  \
        } else if (sb) {                                                                           \
            const float x = a[0];                                                                  \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = x OP b[i];                                                                  \
        } else {                                                                                   \
            const float v = a[0] OP b[0];                                                          \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = v;                                                                          \
        }                                                                                          \
    }

BINARY(add_chunk, +)
BINARY(sub_chunk, -)
BINARY(mul_chunk, *)
BINARY(div_chunk, /)

/* ------------------------------------------------------------------------------------ */
/* exp and erf                                                                          */

static inline float bits_to_float(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof(f));
    return f;
}

/* e^x: x = n ln2 + r with |r| <= ln2 / 2 (ln2 split in two so n ln2 is exact enough), a
 * degree-6 Taylor polynomial for e^r, and 2^n built in the exponent bits, applied in two
 * halves so that results down to the subnormal range come out right. */
static inline float exp_one(float x)
{
    const float hi = 88.7228f, lo = -103.97f;
    float xc = x > hi ? hi : x < lo ? lo : x;
    /* Round to nearest through the float mantissa (1.5 * 2^23). */
    float fn = (xc * 1.44269504f + 12582912.0f) - 12582912.0f;
    float r = xc - fn * 0.693145752f;
    r = r - fn * 1.42860677e-6f;
    float p = 1.0f / 720.0f;
    p = p * r + 1.0f / 120.0f;
    p = p * r + 1.0f / 24.0f;
    p = p * r + 1.0f / 6.0f;
    p = p * r + 0.5f;
    p = p * r + 1.0f;
    p = p * r + 1.0f;
    int32_t n = (int32_t)fn;
    int32_t n1 = n / 2, n2 = n - n1; /* each in [-75, 64]: both scales are normal */
    float s1 = bits_to_float((uint32_t)(n1 + 127) << 23);
    float s2 = bits_to_float((uint32_t)(n2 + 127) << 23);
    float v = p * s1 * s2;
    v = x > hi ? INFINITY : v;
    v = x < lo ? 0.0f : v;
    return x != x ? x : v;
}

CLONES static void exp_chunk(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = exp_one(x[i]);
}

/* erf: a Taylor series below |x| = 0.5 (relative accuracy where erf is small), above it
 * 1 - t P(t) e^(-x^2) with t = 1 / (1 + p|x|) (Abramowitz and Stegun 7.1.26, absolute
 * error 1.5e-7), and the sign put back. Both are computed and one selected, so the loop
 * has no branches. */
static inline float erf_one(float x)
{
    float ax = x < 0 ? -x : x;
    float x2 = x * x;
    float s = -1.0f / 1320.0f;
    s = s * x2 + 1.0f / 216.0f;
    s = s * x2 - 1.0f / 42.0f;
    s = s * x2 + 1.0f / 10.0f;
    s = s * x2 - 1.0f / 3.0f;
    s = s * x2 + 1.0f;
    float small = 1.12837917f * x * s;
    float t = 1.0f / (1.0f + 0.3275911f * ax);
    float q = 1.061405429f;
    q = q * t - 1.453152027f;
    q = q * t + 1.421413741f;
    q = q * t - 0.284496736f;
    q = q * t + 0.254829592f;
    float big = 1.0f - q * t * exp_one(-x2);
    big = x < 0 ? -big : big;
    return ax < 0.5f ? small : big;
}

CLONES static void erf_chunk(const float *x, float *y, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        y[i] = erf_one(x[i]);
}

/* ------------------------------------------------------------------------------------ */
/* Row reductions                                                                       */

static inline float lanes_sum(const float *acc)
{
    float s = 0.0f;
    for (int l = 0; l < LANES; l++)
        s += acc[l];
    return s;
}

CLONES float inferd_simd_sum(const float *x, int64_t n)
{
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            acc[l] += x[i + l];
    for (int l = 0; i + l < n; l++)
        acc[l] += x[i + l];
    return lanes_sum(acc);
}

CLONES float inferd_simd_sqdev(const float *x, int64_t n, float mean)
{
    float acc[LANES] = {0};
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++) {
            float c = x[i + l] - mean;
            acc[l] += c * c;
        }
    for (int l = 0; i + l < n; l++) {
        float c = x[i + l] - mean;
        acc[l] += c * c;
    }
    return lanes_sum(acc);
}

CLONES void inferd_simd_norm_row(const float *x, float *y, int64_t n, float mean, float inv,
                                 const float *s, const float *b)
{
    if (b) {
        for (int64_t i = 0; i < n; i++)
            y[i] = (x[i] - mean) * inv * s[i] + b[i];
    } else {
        for (int64_t i = 0; i < n; i++)
            y[i] = (x[i] - mean) * inv * s[i];
    }
}

CLONES void inferd_simd_softmax_row(const float *x, float *y, int64_t n, bool log)
{
    float mx[LANES];
    for (int l = 0; l < LANES; l++)
        mx[l] = -INFINITY;
    int64_t i = 0;
    for (; i + LANES <= n; i += LANES)
        for (int l = 0; l < LANES; l++)
            mx[l] = x[i + l] > mx[l] ? x[i + l] : mx[l];
    for (int l = 0; i + l < n; l++)
        mx[l] = x[i + l] > mx[l] ? x[i + l] : mx[l];
    float m = -INFINITY;
    for (int l = 0; l < LANES; l++)
        m = mx[l] > m ? mx[l] : m;
    float acc[LANES] = {0};
    if (log) {
        /* y may be x: keep x until the last pass */
        for (i = 0; i + LANES <= n; i += LANES)
            for (int l = 0; l < LANES; l++)
                acc[l] += exp_one(x[i + l] - m);
        for (int l = 0; i + l < n; l++)
            acc[l] += exp_one(x[i + l] - m);
    } else {
        for (i = 0; i < n; i++)
            y[i] = exp_one(x[i] - m);
        for (i = 0; i + LANES <= n; i += LANES)
            for (int l = 0; l < LANES; l++)
                acc[l] += y[i + l];
        for (int l = 0; i + l < n; l++)
            acc[l] += y[i + l];
    }
    float sum = lanes_sum(acc);
    if (log) {
        float lse = m + logf(sum);
        for (i = 0; i < n; i++)
            y[i] = x[i] - lse;
    } else {
        float inv = 1.0f / sum;
        for (i = 0; i < n; i++)
            y[i] *= inv;
    }
}

CLONES void inferd_simd_max_strided(float *out, const float *x, int64_t stride, int64_t n)
{
    if (stride == 1) {
        for (int64_t i = 0; i < n; i++)
            out[i] = x[i] > out[i] ? x[i] : out[i];
    } else {
        for (int64_t i = 0; i < n; i++)
            out[i] = x[i * stride] > out[i] ? x[i * stride] : out[i];
    }
}

CLONES static void maxpool2x2_chunk(const float *x, int64_t ih_n, int64_t iw_n, float *y,
                                    int64_t oh_n, int64_t ow_n, int64_t planes)
{
    for (int64_t pl = 0; pl < planes; pl++)
        for (int64_t oh = 0; oh < oh_n; oh++) {
            const float *r0 = x + (pl * ih_n + 2 * oh) * iw_n, *r1 = r0 + iw_n;
            float *o = y + (pl * oh_n + oh) * ow_n;
            for (int64_t ow = 0; ow < ow_n; ow++) {
                float m = -INFINITY, v;
                v = r0[2 * ow];
                m = v > m ? v : m;
                v = r0[2 * ow + 1];
                m = v > m ? v : m;
                v = r1[2 * ow];
                m = v > m ? v : m;
                v = r1[2 * ow + 1];
                m = v > m ? v : m;
                o[ow] = m;
            }
        }
}

/* ------------------------------------------------------------------------------------ */
/* Splitting over the intra-op pool                                                      */

typedef struct par_args {
    const inferd_onnx_act_t *act;
    const float *a, *b;
    float *o;
    int64_t sa, sb;
    void (*bin)(const float *, int64_t, const float *, int64_t, float *, int64_t);
    void (*unary)(const float *, float *, int64_t);
    int64_t ih_n, iw_n, oh_n, ow_n;
} par_args_t;

static void act_task(void *arg, int64_t lo, int64_t hi)
{
    par_args_t *p = arg;
    act_chunk(p->act, p->o + lo, hi - lo);
}

void inferd_simd_act(const inferd_onnx_act_t *a, float *x, int64_t n)
{
    if (a->kind == INFERD_ONNX_ACT_NONE)
        return;
    par_args_t p = {.act = a, .o = x};
    inferd_pool_for_range(n, PAR_GRAIN, LANES, act_task, &p);
}

static void bin_task(void *arg, int64_t lo, int64_t hi)
{
    par_args_t *p = arg;
    p->bin(p->a + lo * p->sa, p->sa, p->b + lo * p->sb, p->sb, p->o + lo, hi - lo);
}

#define BINARY_PAR(name, chunk)                                                                    \
    void name(const float *a, int64_t sa, const float *b, int64_t sb, float *o, int64_t n)         \
    {                                                                                              \
        par_args_t p = {.a = a, .sa = sa, .b = b, .sb = sb, .o = o, .bin = chunk};                 \
        inferd_pool_for_range(n, PAR_GRAIN, LANES, bin_task, &p);                                  \
    }

BINARY_PAR(inferd_simd_add, add_chunk)
BINARY_PAR(inferd_simd_sub, sub_chunk)
BINARY_PAR(inferd_simd_mul, mul_chunk)
BINARY_PAR(inferd_simd_div, div_chunk)

static void unary_task(void *arg, int64_t lo, int64_t hi)
{
    par_args_t *p = arg;
    p->unary(p->a + lo, p->o + lo, hi - lo);
}

void inferd_simd_exp(const float *x, float *y, int64_t n)
{
    par_args_t p = {.a = x, .o = y, .unary = exp_chunk};
    inferd_pool_for_range(n, PAR_GRAIN, LANES, unary_task, &p);
}

void inferd_simd_erf(const float *x, float *y, int64_t n)
{
    par_args_t p = {.a = x, .o = y, .unary = erf_chunk};
    inferd_pool_for_range(n, PAR_GRAIN, LANES, unary_task, &p);
}

static void maxpool2x2_task(void *arg, int64_t lo, int64_t hi)
{
    par_args_t *p = arg;
    maxpool2x2_chunk(p->a + lo * p->ih_n * p->iw_n, p->ih_n, p->iw_n, p->o + lo * p->oh_n * p->ow_n,
                     p->oh_n, p->ow_n, hi - lo);
}

void inferd_simd_maxpool2x2(const float *x, int64_t ih_n, int64_t iw_n, float *y, int64_t oh_n,
                            int64_t ow_n, int64_t planes)
{
    par_args_t p = {.a = x, .ih_n = ih_n, .iw_n = iw_n, .o = y, .oh_n = oh_n, .ow_n = ow_n};
    int64_t plane = ih_n * iw_n > 0 ? ih_n * iw_n : 1;
    inferd_pool_for_range(planes, (PAR_GRAIN + plane - 1) / plane, 1, maxpool2x2_task, &p);
}
