/* Row-stable sgemm (see sgemm.h): an AVX-512 path chosen at run time when the CPU has it,
 * and a portable path. Within a path, element (i, j) is always computed as
 *   acc = 0; for k ascending: acc = acc + A[i,k] * B[k,j]   (one fused multiply-add on AVX-512)
 * and then Y = alpha * acc + beta * Y, so it never depends on m or on the row's position
 * in a block. B is used as stored: rows of B when it is not transposed (each step adds a
 * scaled row of B to a row of Y), rows of B^T otherwise (a dot product per element, in
 * 16 lanes reduced in a fixed order). */
#include "backends/onnx/kernels/sgemm.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "core/alloc.h"

/* ------------------------------------------------------------------------------------ */
/* Portable path                                                                        */

static void finish(float *y, const float *acc, int64_t n, float alpha, float beta)
{
    for (int64_t j = 0; j < n; j++)
        y[j] = beta == 0.0f ? alpha * acc[j] : alpha * acc[j] + beta * y[j];
}

static void nn_portable(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float beta, float *y, float *acc)
{
    for (int64_t i = 0; i < m; i++) {
        memset(acc, 0, (size_t)n * sizeof(float));
        for (int64_t p = 0; p < k; p++) {
            float s = a[i * lda + p];
            const float *br = b + p * ldb;
            for (int64_t j = 0; j < n; j++)
                acc[j] = acc[j] + s * br[j];
        }
        finish(y + i * n, acc, n, alpha, beta);
    }
}

static void nt_portable(int64_t m, int64_t n, int64_t k, float alpha, const float *a, int64_t lda,
                        const float *b, int64_t ldb, float beta, float *y)
{
    for (int64_t i = 0; i < m; i++) {
        for (int64_t j = 0; j < n; j++) {
            float lanes[16] = {0};
            int64_t p = 0;
            for (; p + 16 <= k; p += 16)
                for (int l = 0; l < 16; l++)
                    lanes[l] = lanes[l] + a[i * lda + p + l] * b[j * ldb + p + l];
            for (int l = 0; p < k; p++, l++)
                lanes[l] = lanes[l] + a[i * lda + p] * b[j * ldb + p];
            float s = 0.0f;
            for (int l = 0; l < 16; l++)
                s += lanes[l];
            float *o = y + i * n + j;
            *o = beta == 0.0f ? alpha * s : alpha * s + beta * *o;
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* AVX-512 path                                                                         */

#define AVX512 __attribute__((target("avx512f,fma")))

AVX512 static inline __m512 finish16(__m512 acc, const float *yo, __mmask16 mk, float alpha,
                                     float beta)
{
    __m512 r = _mm512_mul_ps(_mm512_set1_ps(alpha), acc);
    if (beta != 0.0f)
        r = _mm512_fmadd_ps(_mm512_set1_ps(beta), _mm512_maskz_loadu_ps(mk, yo), r);
    return r;
}

/* Rows i0..i0+R-1 (R <= 4) times B's columns j..j+63 (masked at the right edge). Each lane
 * of each accumulator sees exactly the FMA sequence of the 1-row case. */
AVX512 static void nn_block(int R, const float *a, int64_t lda, const float *b, int64_t ldb,
                            int64_t k, int64_t j, int64_t n, float alpha, float beta, float *y)
{
    __m512 acc[4][4];
    __mmask16 mk[4];
    for (int c = 0; c < 4; c++) {
        int64_t left = n - (j + 16 * c);
        mk[c] = left >= 16 ? (__mmask16)0xffff : left > 0 ? (__mmask16)((1u << left) - 1) : 0;
        for (int r = 0; r < 4; r++)
            acc[r][c] = _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < k; p++) {
        const float *br = b + p * ldb + j;
        __m512 bv[4];
        for (int c = 0; c < 4; c++)
            bv[c] = _mm512_maskz_loadu_ps(mk[c], br + 16 * c);
        for (int r = 0; r < R; r++) {
            __m512 av = _mm512_set1_ps(a[r * lda + p]);
            for (int c = 0; c < 4; c++)
                acc[r][c] = _mm512_fmadd_ps(av, bv[c], acc[r][c]);
        }
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < 4; c++) {
            if (!mk[c])
                continue;
            float *yo = y + r * n + j + 16 * c;
            _mm512_mask_storeu_ps(yo, mk[c], finish16(acc[r][c], yo, mk[c], alpha, beta));
        }
}

AVX512 static void nn_avx512(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                             int64_t lda, const float *b, int64_t ldb, float beta, float *y)
{
    /* Column chunks outside, so a chunk of B stays in cache across the row blocks. */
    for (int64_t j = 0; j < n; j += 64)
        for (int64_t i = 0; i < m; i += 4) {
            int R = m - i >= 4 ? 4 : (int)(m - i);
            nn_block(R, a + i * lda, lda, b, ldb, k, j, n, alpha, beta, y + i * n);
        }
}

AVX512 static void nt_avx512(int64_t m, int64_t n, int64_t k, float alpha, const float *a,
                             int64_t lda, const float *b, int64_t ldb, float beta, float *y)
{
    for (int64_t i = 0; i < m; i++) {
        const float *ar = a + i * lda;
        for (int64_t j = 0; j < n; j++) {
            const float *br = b + j * ldb;
            __m512 acc = _mm512_setzero_ps();
            int64_t p = 0;
            for (; p + 16 <= k; p += 16)
                acc = _mm512_fmadd_ps(_mm512_loadu_ps(ar + p), _mm512_loadu_ps(br + p), acc);
            if (p < k) {
                __mmask16 mk = (__mmask16)((1u << (k - p)) - 1);
                acc = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(mk, ar + p),
                                      _mm512_maskz_loadu_ps(mk, br + p), acc);
            }
            float s = _mm512_reduce_add_ps(acc);
            float *o = y + i * n + j;
            *o = beta == 0.0f ? alpha * s : alpha * s + beta * *o;
        }
    }
}

/* ------------------------------------------------------------------------------------ */
/* Dispatch                                                                             */

static bool has_avx512(void)
{
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("fma");
    }
    return cached;
}

const char *inferd_sgemm_path(void)
{
    return has_avx512() ? "avx512" : "portable";
}

bool inferd_sgemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float *a, int64_t lda, const float *b, int64_t ldb, float beta, float *y)
{
    if (m <= 0 || n <= 0)
        return true;
    float *at = NULL;
    if (trans_a) {
        /* A is stored [k, m]: gather its columns into rows once. */
        at = inferd_malloc((size_t)m * (size_t)(k ? k : 1) * sizeof(float));
        if (!at)
            return false;
        for (int64_t p = 0; p < k; p++)
            for (int64_t i = 0; i < m; i++)
                at[i * k + p] = a[p * lda + i];
        a = at;
        lda = k;
    }
    bool ok = true;
    if (has_avx512()) {
        if (trans_b)
            nt_avx512(m, n, k, alpha, a, lda, b, ldb, beta, y);
        else
            nn_avx512(m, n, k, alpha, a, lda, b, ldb, beta, y);
    } else if (trans_b) {
        nt_portable(m, n, k, alpha, a, lda, b, ldb, beta, y);
    } else {
        float *acc = inferd_malloc((size_t)n * sizeof(float));
        if (acc)
            nn_portable(m, n, k, alpha, a, lda, b, ldb, beta, y, acc);
        ok = acc != NULL;
        inferd_free(acc);
    }
    inferd_free(at);
    return ok;
}
