/* im2col into GEMM panels (see conv_im2col.h).
 *
 * The panels are filled in order (panel by panel, then channel, then tap), so every write
 * is sequential. The 16 pixels of a panel fall into a few output-row segments; within a
 * segment a tap reads input positions base + s * lane (s = the column stride, 1 or 2),
 * the same in every channel plane. So each (tap, panel) is described once per call by one
 * base offset and one bit mask per segment (set bits: positions inside the image), and a
 * panel row is then a masked load per segment (two and an even-lane permute at stride 2),
 * OR-ed together: positions outside the mask are neither read nor nonzero. */
#include "backends/onnx/kernels/conv_im2col.h"

#include <immintrin.h>
#include <stdatomic.h>

#include "backends/onnx/kernels/sgemm.h"
#include "core/pool.h"

#define PANEL INFERD_SGEMM_PANEL

bool inferd_conv_im2col_fits(const inferd_onnx_window_t *w)
{
    return w->nsp == 2 && (w->s[1] == 1 || w->s[1] == 2) && w->out[1] >= 4 &&
           w->in[0] * w->in[1] < INT32_MAX / 2;
}

int64_t inferd_conv_im2col_table_size(const inferd_onnx_window_t *w)
{
    int64_t n_panels = (w->out[0] * w->out[1] + PANEL - 1) / PANEL;
    return w->k[0] * w->k[1] * n_panels * INFERD_CONV_IM2COL_SEGS;
}

/* Mask bits s * l for lanes l in [a, b). */
static uint32_t lane_bits(int64_t a, int64_t b, int64_t s)
{
    if (s == 1)
        return (uint32_t)(((uint64_t)1 << b) - ((uint64_t)1 << a));
    uint32_t m = 0;
    for (int64_t l = a; l < b; l++)
        m |= (uint32_t)1 << (s * l);
    return m;
}

void inferd_conv_im2col_table(const inferd_onnx_window_t *w, inferd_conv_seg_t *table)
{
    int64_t ih_n = w->in[0], iw_n = w->in[1], oh_n = w->out[0], ow_n = w->out[1];
    int64_t s1 = w->s[1], n_panels = (oh_n * ow_n + PANEL - 1) / PANEL;
    for (int64_t kw = 0; kw < w->k[1]; kw++) {
        /* Output columns ow whose tap column ow * s1 + off is inside the image: [lo, hi). */
        int64_t off = kw * w->d[1] - w->pb[1];
        int64_t lo = off >= 0 ? 0 : (-off + s1 - 1) / s1;
        int64_t hi = iw_n - off <= 0 ? 0 : (iw_n - off + s1 - 1) / s1;
        hi = hi < ow_n ? hi : ow_n;
        for (int64_t kh = 0; kh < w->k[0]; kh++)
            for (int64_t q = 0; q < n_panels; q++) {
                inferd_conv_seg_t *t =
                    table + ((kh * w->k[1] + kw) * n_panels + q) * INFERD_CONV_IM2COL_SEGS;
                for (int s = 0; s < INFERD_CONV_IM2COL_SEGS; s++)
                    t[s] = (inferd_conv_seg_t){0, 0};
                /* Segments with something to read, first; the rest stay empty. Lane l of
                 * the segment [l0, l1) is output column ow0 + l - l0. */
                int s = 0;
                for (int64_t l0 = 0; l0 < PANEL;) {
                    int64_t j0 = q * PANEL + l0, oh = j0 / ow_n, ow0 = j0 % ow_n;
                    int64_t l1 = l0 + (ow_n - ow0) < PANEL ? l0 + (ow_n - ow0) : PANEL;
                    int64_t ih = oh * w->s[0] - w->pb[0] + kh * w->d[0];
                    int64_t c0 = ow0 > lo ? ow0 : lo, c1 = ow0 + l1 - l0 < hi ? ow0 + l1 - l0 : hi;
                    if (oh < oh_n && ih >= 0 && ih < ih_n && c0 < c1)
                        t[s++] = (inferd_conv_seg_t){(int32_t)(ih * iw_n + (ow0 - l0) * s1 + off),
                                                     lane_bits(l0 + c0 - ow0, l0 + c1 - ow0, s1)};
                    l0 = l1;
                }
            }
    }
}

/* Positions base + p of plane xc, for p with the mask bit set; the address of a masked
 * position is never dereferenced (the masked loads below do not touch it). */
static inline const float *at(const float *xc, int32_t base)
{
    return (const float *)((uintptr_t)xc + (uintptr_t)((intptr_t)base * (intptr_t)sizeof(float)));
}

static void fill_portable(const float *x, int64_t c, int64_t in_size, int64_t kk_n,
                          int64_t n_panels, int64_t q0, int64_t q1, int64_t s1,
                          const inferd_conv_seg_t *table, float *dst)
{
    dst += q0 * c * kk_n * PANEL;
    for (int64_t q = q0; q < q1; q++)
        for (int64_t ch = 0; ch < c; ch++) {
            const float *xc = x + ch * in_size;
            for (int64_t kk = 0; kk < kk_n; kk++) {
                const inferd_conv_seg_t *t = table + (kk * n_panels + q) * INFERD_CONV_IM2COL_SEGS;
                for (int l = 0; l < PANEL; l++)
                    dst[l] = 0.0f;
                for (int s = 0; s < INFERD_CONV_IM2COL_SEGS; s++)
                    for (int l = 0; l < PANEL; l++)
                        if (t[s].mask >> (s1 * l) & 1)
                            dst[l] = xc[t[s].base + s1 * l];
                dst += PANEL;
            }
        }
}

__attribute__((target("avx512f"))) static void
fill_avx512(const float *x, int64_t c, int64_t in_size, int64_t kk_n, int64_t n_panels, int64_t q0,
            int64_t q1, int64_t s1, const inferd_conv_seg_t *table, float *dst)
{
    dst += q0 * c * kk_n * PANEL;
    const __m512i even =
        _mm512_set_epi32(30, 28, 26, 24, 22, 20, 18, 16, 14, 12, 10, 8, 6, 4, 2, 0);
    for (int64_t q = q0; q < q1; q++)
        for (int64_t ch = 0; ch < c; ch++) {
            const float *xc = x + ch * in_size;
            for (int64_t kk = 0; kk < kk_n; kk++) {
                const inferd_conv_seg_t *t = table + (kk * n_panels + q) * INFERD_CONV_IM2COL_SEGS;
                __m512i acc = _mm512_setzero_si512();
                for (int s = 0; s < INFERD_CONV_IM2COL_SEGS && t[s].mask; s++) {
                    const float *p = at(xc, t[s].base);
                    __m512 v;
                    if (s1 == 1) {
                        v = _mm512_maskz_loadu_ps((__mmask16)t[s].mask, p);
                    } else {
                        __m512 lo = _mm512_maskz_loadu_ps((__mmask16)t[s].mask, p);
                        __m512 hi = _mm512_maskz_loadu_ps((__mmask16)(t[s].mask >> 16),
                                                          at(xc, t[s].base + 16));
                        v = _mm512_permutex2var_ps(lo, even, hi);
                    }
                    acc = _mm512_or_si512(acc, _mm512_castps_si512(v));
                }
                _mm512_storeu_ps(dst, _mm512_castsi512_ps(acc));
                dst += PANEL;
            }
        }
}

/* 1: the AVX-512 path, 0: portable, -1: not decided yet. */
static atomic_int use_avx512 = -1;

static bool avx512(void)
{
    int use = atomic_load_explicit(&use_avx512, memory_order_relaxed);
    if (use < 0) {
        use = __builtin_cpu_supports("avx512f") ? 1 : 0;
        atomic_store_explicit(&use_avx512, use, memory_order_relaxed); /* racers agree */
    }
    return use == 1;
}

bool inferd_conv_im2col_set_portable(bool portable)
{
    if (!portable && !__builtin_cpu_supports("avx512f"))
        return false;
    atomic_store_explicit(&use_avx512, portable ? 0 : 1, memory_order_relaxed);
    return true;
}

typedef struct fill_args {
    const float *x;
    int64_t c;
    const inferd_onnx_window_t *w;
    const inferd_conv_seg_t *table;
    float *panels;
} fill_args_t;

static void fill_task(void *arg, int64_t q0, int64_t q1)
{
    const fill_args_t *f = arg;
    const inferd_onnx_window_t *w = f->w;
    int64_t in_size = w->in[0] * w->in[1], kk_n = w->k[0] * w->k[1];
    int64_t n_panels = (w->out[0] * w->out[1] + PANEL - 1) / PANEL;
    if (avx512())
        fill_avx512(f->x, f->c, in_size, kk_n, n_panels, q0, q1, w->s[1], f->table, f->panels);
    else
        fill_portable(f->x, f->c, in_size, kk_n, n_panels, q0, q1, w->s[1], f->table, f->panels);
}

void inferd_conv_im2col_panels(const float *x, int64_t c, const inferd_onnx_window_t *w,
                               const inferd_conv_seg_t *table, float *panels)
{
    /* Panels are independent: a large unroll is split by panels over the intra-op pool
     * (only moves, so the result is the same on any split). */
    int64_t n_panels = (w->out[0] * w->out[1] + PANEL - 1) / PANEL;
    int64_t per_panel = c * w->k[0] * w->k[1] * PANEL;
    fill_args_t f = {.x = x, .c = c, .w = w, .table = table, .panels = panels};
    inferd_pool_for_range(n_panels, per_panel > 0 ? (16384 + per_panel - 1) / per_panel : 1, 1,
                          fill_task, &f);
}
