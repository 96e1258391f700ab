/* GEMM micro-benchmark: the engine's row-stable kernel (B prepacked as at model load)
 * against OpenBLAS cblas_sgemm (the serial build the engine links), side by side in one
 * process, on the shapes of the 784-1024-1024-10 MLP at batch 1/8/32/64 (Gemm with
 * transB, as PyTorch exports it), the 1000x2048 layer at batch 1, and a ResNet 3x3 conv
 * and LeNet convs as im2col (weights [M, K] times columns [K, N], columns not prepacked).
 *
 * Usage: inferd-gemm-bench [--threads T] [--path avx512|avx2|portable] [--ms MS]
 * Prints one row per shape: median microseconds per call (the two sides interleaved) and GFLOP/s
 * for each, and the ratio ours/OpenBLAS (time; below 1.0 means the engine is faster). With
 * --threads 2 the engine's column also runs on the intra-op pool (OpenBLAS stays serial). */
#include <cblas.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/onnx/kernels/sgemm.h"
#include "core/alloc.h"
#include "core/pool.h"

typedef struct shape {
    const char *name;
    int64_t m, n, k;
    bool tb;     /* B stored [n, k] (Gemm transB=1) */
    bool packed; /* B prepacked (weights); otherwise read as it is (im2col columns) */
} shape_t;

static const shape_t shapes[] = {
    {"mlp 784x1024 b1", 1, 1024, 784, true, true},
    {"mlp 1024x1024 b1", 1, 1024, 1024, true, true},
    {"mlp 1024x10 b1", 1, 10, 1024, true, true},
    {"fc 2048x1000 b1", 1, 1000, 2048, true, true},
    {"mlp 784x1024 b8", 8, 1024, 784, true, true},
    {"mlp 1024x1024 b8", 8, 1024, 1024, true, true},
    {"mlp 784x1024 b32", 32, 1024, 784, true, true},
    {"mlp 1024x1024 b32", 32, 1024, 1024, true, true},
    {"mlp 1024x10 b32", 32, 10, 1024, true, true},
    {"mlp 784x1024 b64", 64, 1024, 784, true, true},
    {"mlp 1024x1024 b64", 64, 1024, 1024, true, true},
    {"conv3x3 64ch 32x32", 64, 1024, 576, false, false},
    {"conv3x3 128ch 16x16", 128, 256, 1152, false, false},
    {"conv5x5 16ch 8x8", 16, 64, 150, false, false},
    {"conv5x5 6ch 24x24", 6, 576, 25, false, false},
};

/* With one engine thread both sides are timed in thread CPU time, which does not count
 * the time this shared machine gives to other processes; with more, in wall time. */
static clockid_t clock_id = CLOCK_THREAD_CPUTIME_ID;

static double now_us(void)
{
    struct timespec ts;
    clock_gettime(clock_id, &ts);
    return (double)ts.tv_sec * 1e6 + (double)ts.tv_nsec / 1e3;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

typedef struct bench_arg {
    const shape_t *s;
    const float *a, *b;
    float *y;
    const inferd_sgemm_pack_t *pk;
    int threads;
} bench_arg_t;

static void run_ours(const bench_arg_t *x)
{
    const shape_t *s = x->s;
    inferd_sgemm_job_t j = {.m = s->m,
                            .n = s->n,
                            .k = s->k,
                            .a = x->a,
                            .lda = s->k,
                            .pack = x->pk,
                            .b = x->b,
                            .ldb = s->tb ? s->k : s->n,
                            .trans_b = s->tb,
                            .y = x->y,
                            .ldy = s->n,
                            .alpha = 1.0f,
                            .max_threads = x->threads};
    if (!inferd_sgemm_run(&j))
        abort();
}

static void run_blas(const bench_arg_t *x)
{
    const shape_t *s = x->s;
    cblas_sgemm(CblasRowMajor, CblasNoTrans, s->tb ? CblasTrans : CblasNoTrans, (int)s->m,
                (int)s->n, (int)s->k, 1.0f, x->a, (int)s->k, x->b, (int)(s->tb ? s->k : s->n), 0.0f,
                x->y, (int)s->n);
}

static int reps_for(void (*fn)(const bench_arg_t *), const bench_arg_t *x, double ms)
{
    fn(x);
    double t0 = now_us();
    int calls = 0;
    while (now_us() - t0 < 2000.0 || calls < 3) {
        fn(x);
        calls++;
    }
    return (int)(ms * 1000.0 / 9 / ((now_us() - t0) / calls)) + 1;
}

/* Median time per call of each side over 9 interleaved rounds of about ms/9 ms each. */
static void time_both(const bench_arg_t *x, double ms, double *ours, double *blas)
{
    void (*fns[2])(const bench_arg_t *) = {run_ours, run_blas};
    int reps[2];
    double med[2][9];
    for (int f = 0; f < 2; f++)
        reps[f] = reps_for(fns[f], x, ms);
    for (int r = 0; r < 9; r++)
        for (int f = 0; f < 2; f++) {
            double t = now_us();
            for (int i = 0; i < reps[f]; i++)
                fns[f](x);
            med[f][r] = (now_us() - t) / reps[f];
        }
    for (int f = 0; f < 2; f++)
        qsort(med[f], 9, sizeof(double), cmp_double);
    *ours = med[0][4];
    *blas = med[1][4];
}

int main(int argc, char **argv)
{
    int threads = 1;
    double ms = 300;
    for (int i = 1; i + 1 < argc; i += 2) {
        if (!strcmp(argv[i], "--threads"))
            threads = atoi(argv[i + 1]);
        else if (!strcmp(argv[i], "--ms"))
            ms = atof(argv[i + 1]);
        else if (!strcmp(argv[i], "--path")) {
            const char *p = argv[i + 1];
            inferd_sgemm_path_t path = !strcmp(p, "avx512") ? INFERD_SGEMM_AVX512
                                       : !strcmp(p, "avx2") ? INFERD_SGEMM_AVX2
                                                            : INFERD_SGEMM_PORTABLE;
            if (!inferd_sgemm_set_path(path)) {
                fprintf(stderr, "this CPU has no %s path\n", p);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: %s [--threads T] [--path P] [--ms MS]\n", argv[0]);
            return 2;
        }
    }
    if (threads < 1 || threads > 64) {
        fprintf(stderr, "--threads must be 1..64\n");
        return 2;
    }
    inferd_pool_t *pool = NULL;
    if (threads > 1) {
        clock_id = CLOCK_MONOTONIC;
        inferd_err_t err;
        if (inferd_pool_create(threads - 1, &pool, &err) != INFERD_OK) {
            fprintf(stderr, "%s\n", err.msg);
            return 1;
        }
        inferd_pool_set_default(pool);
    }
    printf("path %s, engine threads %d, OpenBLAS serial, %s time\n", inferd_sgemm_path(), threads,
           threads > 1 ? "wall" : "thread CPU");
    printf("| shape | M | N | K | inferd us | inferd GFLOP/s | OpenBLAS us | OpenBLAS GFLOP/s | "
           "ratio |\n|---|---|---|---|---|---|---|---|---|\n");
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        const shape_t *s = &shapes[i];
        float *a = inferd_xmalloc((size_t)(s->m * s->k) * sizeof(float));
        float *b = inferd_xmalloc((size_t)(s->k * s->n) * sizeof(float));
        float *y = inferd_xmalloc((size_t)(s->m * s->n) * sizeof(float));
        for (int64_t q = 0; q < s->m * s->k; q++)
            a[q] = (float)((q * 7) % 13) / 13.0f - 0.5f;
        for (int64_t q = 0; q < s->k * s->n; q++)
            b[q] = (float)((q * 11) % 17) / 17.0f - 0.5f;
        inferd_sgemm_pack_t *pk = NULL;
        if (s->packed)
            pk = inferd_sgemm_pack_create(s->tb, s->n, s->k, b, s->tb ? s->k : s->n,
                                          INFERD_OWNER_MODEL);
        bench_arg_t x = {s, a, b, y, pk, threads};
        double ours, blas;
        time_both(&x, ms, &ours, &blas);
        double flop = 2.0 * (double)s->m * (double)s->n * (double)s->k;
        printf("| %s | %lld | %lld | %lld | %.1f | %.1f | %.1f | %.1f | %.2f |\n", s->name,
               (long long)s->m, (long long)s->n, (long long)s->k, ours, flop / ours / 1e3, blas,
               flop / blas / 1e3, ours / blas);
        fflush(stdout);
        inferd_sgemm_pack_destroy(pk);
        inferd_free(a);
        inferd_free(b);
        inferd_free(y);
    }
    inferd_pool_set_default(NULL);
    inferd_pool_destroy(pool);
    return 0;
}
