/* Direct 2-D convolution (see conv_direct.h).
 *
 * A task takes a range of output rows (of one or more images). Per image it copies the
 * input rows those outputs read into a zero-padded buffer (rows of pw floats: the left
 * pad, the input row, zeros to the right, with room for a full vector past the last
 * output), so every tap is an unmasked load and padding reads zero, as im2col's does.
 * Then per output row and block of up to 32 pixels, up to 16 output channels accumulate
 * in registers: per tap one or two input vectors and one broadcast weight per channel. */
#include "backends/onnx/kernels/conv_direct.h"

#include <immintrin.h>
#include <stdatomic.h>
#include <string.h>

#include "backends/onnx/kernels/scratch.h"
#include "core/alloc.h"
#include "core/pool.h"

#define LANES 16
#define MAX_KDIM 512
#define INLINE static inline __attribute__((always_inline))
#define AVX512 __attribute__((target("avx512f")))

/* The helpers taking and returning vectors are always inlined into one function, so no
 * vector crosses a call. */
#pragma GCC diagnostic ignored "-Wpsabi"

/* 1: on, 0: off, -1: not decided yet (on when the CPU has AVX-512). */
static atomic_int enabled = -1;

static bool direct_on(void)
{
    int on = atomic_load_explicit(&enabled, memory_order_relaxed);
    if (on < 0) {
        on = __builtin_cpu_supports("avx512f") ? 1 : 0;
        atomic_store_explicit(&enabled, on, memory_order_relaxed); /* racers agree */
    }
    return on == 1;
}

void inferd_conv_direct_enable(bool on)
{
    atomic_store_explicit(&enabled, on && __builtin_cpu_supports("avx512f") ? 1 : 0,
                          memory_order_relaxed);
}

bool inferd_conv_direct_fits(const inferd_onnx_window_t *w, int64_t c)
{
    return w->nsp == 2 && w->s[0] == 1 && w->s[1] == 1 && w->d[0] == 1 && w->d[1] == 1 && c > 0 &&
           c * w->k[0] * w->k[1] <= MAX_KDIM && w->out[1] >= 8 && w->out[0] > 0 &&
           w->in[1] < (1 << 20) && direct_on();
}

typedef struct dconv {
    const float *x, *bias;
    const float *res; /* fused residual shaped as y (may be y itself), or NULL */
    const float *wtt; /* W packed [kdim, m]: a tap's channel weights side by side */
    float *y;
    int64_t c, m, kh, kw, kdim;
    int64_t ih, iw, oh, ow, pt, pl;
    int64_t pw;   /* padded row length */
    int64_t rows; /* output rows per task at most, so a task's buffer is bounded */
    bool relu;
    atomic_bool failed;
} dconv_t;

static __mmask16 lane_mask(int64_t rem)
{
    return rem >= LANES ? (__mmask16)0xFFFF : rem <= 0 ? 0 : (__mmask16)((1u << rem) - 1);
}

/* One block: output channels [m0, m0 + MB) of output row r (buffer rows r .. r + kh - 1)
 * at pixels [ox0, ox0 + 16 * VB), the last vectors masked by mk. */
AVX512 INLINE void block(const dconv_t *d, const float *buf, int64_t brow, int64_t m0, const int MB,
                         const int VB, int64_t ox0, const __mmask16 *mk, float *yrow,
                         int64_t out_size)
{
    __m512 acc[16][2];
    for (int i = 0; i < MB; i++)
        for (int v = 0; v < VB; v++)
            acc[i][v] = _mm512_setzero_ps();
    const float *wk = d->wtt + m0; /* tap k's weights at wk[k * m + i] */
    int64_t plane = (d->rows + d->kh - 1) * d->pw;
    int64_t k = 0;
    for (int64_t ch = 0; ch < d->c; ch++) {
        const float *pc = buf + ch * plane + brow * d->pw + ox0;
        for (int64_t ky = 0; ky < d->kh; ky++) {
            const float *pr = pc + ky * d->pw;
            for (int64_t kx = 0; kx < d->kw; kx++, k++) {
                __m512 xv[2];
                for (int v = 0; v < VB; v++)
                    xv[v] = _mm512_loadu_ps(pr + kx + LANES * v);
                for (int i = 0; i < MB; i++) {
                    __m512 wv = _mm512_set1_ps(wk[k * d->m + i]);
                    for (int v = 0; v < VB; v++)
                        acc[i][v] = _mm512_fmadd_ps(wv, xv[v], acc[i][v]);
                }
            }
        }
    }
    for (int i = 0; i < MB; i++) {
        float *yo = yrow + (m0 + i) * out_size + ox0;
        const float *ro = d->res ? d->res + (yo - d->y) : NULL;
        for (int v = 0; v < VB; v++) {
            __m512 val = acc[i][v];
            if (d->bias)
                val = _mm512_add_ps(val, _mm512_set1_ps(d->bias[m0 + i]));
            if (d->res) /* read right before the store: y may be the residual's block */
                val = _mm512_add_ps(val, _mm512_maskz_loadu_ps(mk[v], ro + LANES * v));
            if (d->relu) /* x > 0 ? x : 0, as the engine's Relu (NaN and -0 give 0) */
                val = _mm512_maskz_mov_ps(_mm512_cmp_ps_mask(val, _mm512_setzero_ps(), _CMP_GT_OQ),
                                          val);
            _mm512_mask_storeu_ps(yo + LANES * v, mk[v], val);
        }
    }
}

/* The channel block for r remaining channels: the widest instance not wider than r (16
 * accumulators at most), so few taps reload their inputs. */
static int block_width(int64_t r, int vb)
{
    static const int one[] = {16, 12, 8, 6, 4, 2, 1}, two[] = {8, 6, 4, 2, 1};
    const int *w = vb == 1 ? one : two;
    while (*w > r)
        w++;
    return *w;
}

#define BLOCK_CASE(MB, VB)                                                                         \
    case (MB)*4 + (VB): block(d, buf, brow, m0, MB, VB, ox0, mk, yrow, out_size); break

/* Output row r of the buffer into yrow (the image's output at that row): every channel
 * block, every pixel block. */
AVX512 static void row_avx512(const dconv_t *d, const float *buf, int64_t brow, float *yrow,
                              int64_t out_size)
{
    int vb = d->ow > LANES ? 2 : 1;
    for (int64_t ox0 = 0; ox0 < d->ow; ox0 += LANES * vb) {
        __mmask16 mk[2] = {lane_mask(d->ow - ox0), lane_mask(d->ow - ox0 - LANES)};
        for (int64_t m0 = 0, mb; m0 < d->m; m0 += mb) {
            mb = block_width(d->m - m0, vb);
            switch (mb * 4 + vb) {
                BLOCK_CASE(16, 1);
                BLOCK_CASE(12, 1);
                BLOCK_CASE(8, 1);
                BLOCK_CASE(6, 1);
                BLOCK_CASE(4, 1);
                BLOCK_CASE(2, 1);
                BLOCK_CASE(1, 1);
                BLOCK_CASE(8, 2);
                BLOCK_CASE(6, 2);
                BLOCK_CASE(4, 2);
                BLOCK_CASE(2, 2);
                BLOCK_CASE(1, 2);
            }
        }
    }
}

/* Output rows [r0, r1) of one image: pads the input rows they read into buf, then
 * computes them. */
static void image_rows(const dconv_t *d, float *buf, int64_t img, int64_t r0, int64_t r1)
{
    int64_t nrows = r1 - r0 + d->kh - 1, plane = (d->rows + d->kh - 1) * d->pw;
    memset(buf, 0, (size_t)(d->c * plane) * sizeof(float));
    for (int64_t ch = 0; ch < d->c; ch++) {
        const float *xc = d->x + (img * d->c + ch) * d->ih * d->iw;
        for (int64_t j = 0; j < nrows; j++) {
            int64_t ir = r0 + j - d->pt;
            if (ir >= 0 && ir < d->ih)
                memcpy(buf + ch * plane + j * d->pw + d->pl, xc + ir * d->iw,
                       (size_t)d->iw * sizeof(float));
        }
    }
    int64_t out_size = d->oh * d->ow;
    float *yimg = d->y + img * d->m * out_size;
    for (int64_t r = r0; r < r1; r++)
        row_avx512(d, buf, r - r0, yimg + r * d->ow, out_size);
}

/* Rows [lo, hi) of all images' output rows (img * oh + row), in pieces of at most
 * d->rows rows of one image. */
static void task(void *arg, int64_t lo, int64_t hi)
{
    dconv_t *d = arg;
    size_t bytes = (size_t)(d->c * (d->rows + d->kh - 1) * d->pw) * sizeof(float);
    float *buf = inferd_scratch_get(bytes);
    if (!buf) {
        atomic_store(&d->failed, true);
        return;
    }
    for (int64_t i = lo; i < hi;) {
        int64_t img = i / d->oh, r0 = i % d->oh;
        int64_t r1 = r0 + d->rows < d->oh ? r0 + d->rows : d->oh;
        if (r1 - r0 > hi - i)
            r1 = r0 + (hi - i);
        image_rows(d, buf, img, r0, r1);
        i += r1 - r0;
    }
    inferd_scratch_put(buf, bytes);
}

bool inferd_conv_direct_may_fit(int64_t c, int64_t kh, int64_t kw)
{
    return c > 0 && kh > 0 && kw > 0 && c * kh * kw <= MAX_KDIM && direct_on();
}

/* One base pointer for a block's weights instead of one per channel (with 16 channels
 * those spilled out of the general registers: 40% of the kernel's time). */
void inferd_conv_direct_pack(const float *wt, int64_t m, int64_t kdim, float *out)
{
    for (int64_t mo = 0; mo < m; mo++)
        for (int64_t k = 0; k < kdim; k++)
            out[k * m + mo] = wt[mo * kdim + k];
}

bool inferd_conv_direct(const float *x, int64_t n, int64_t c, const inferd_onnx_window_t *w,
                        const float *wt, const float *packed, int64_t m, const float *bias,
                        const float *res, bool relu, float *y)
{
    dconv_t d = {.x = x,
                 .bias = bias,
                 .y = y,
                 .c = c,
                 .m = m,
                 .kh = w->k[0],
                 .kw = w->k[1],
                 .kdim = c * w->k[0] * w->k[1],
                 .ih = w->in[0],
                 .iw = w->in[1],
                 .oh = w->out[0],
                 .ow = w->out[1],
                 .pt = w->pb[0],
                 .pl = w->pb[1],
                 .res = res,
                 .relu = relu};
    if (n <= 0 || m <= 0)
        return true;
    float *own = NULL;
    if (!packed) { /* W given at run time: packed for this call */
        own = inferd_malloc((size_t)(d.kdim * m) * sizeof(float));
        if (!own)
            return false;
        inferd_conv_direct_pack(wt, m, d.kdim, own);
        packed = own;
    }
    d.wtt = packed;
    /* Room right of the last output for a whole block of two vectors past it. */
    d.pw = (d.ow + d.kw - 1 + 2 * LANES + LANES - 1) / LANES * LANES;
    if (d.pw < d.pl + d.iw)
        d.pw = (d.pl + d.iw + LANES - 1) / LANES * LANES;
    /* A task's buffer holds up to 32 output rows' inputs: bounded whatever the image. */
    d.rows = d.oh < 32 ? d.oh : 32;
    atomic_init(&d.failed, false);
    /* Chunks of at least ~64K multiply-adds, so small layers run on the caller alone. */
    int64_t per_row = m * d.ow * d.kdim;
    int64_t grain = per_row > 0 ? (65536 + per_row - 1) / per_row : 1;
    inferd_pool_for_range(n * d.oh, grain, 1, task, &d);
    inferd_free(own);
    return !atomic_load(&d.failed);
}
