/* Engine benchmark, inferd side (build/inferd-engine-bench; run by bench/engine/run.sh).
 *
 * Loads one model with the embedded engine, feeds it the first BATCH samples of a raw
 * float32 input file, and times inferd_onnx_graph_run in this process: WARMUP untimed
 * runs, then up to RUNS timed runs (fewer when --budget-ms is spent first, never fewer
 * than 5). bench/engine/ort_bench.js does the same with ONNX Runtime, so both sides see
 * the same file, the same data and the same run count.
 *
 *   inferd-engine-bench --model M.onnx --input X.bin --shape D1,D2,.. --batch B
 *                       [--threads T] [--warmup W] [--runs R] [--budget-ms MS]
 *                       [--output OUT.bin] [--profile-ms MS] [--passes 0|1]
 *                       [--planning 0|1]
 *
 * Prints one line of key=value pairs:
 *   runs, median_ms, p90_ms   timed runs and their latency
 *   arena_peak_bytes          the most bytes of engine intermediates and outputs live at
 *                             once during the timed runs (the tensor account's high-water
 *                             mark; over all runs when there is no warm-up)
 *   planned_peak_bytes        the memory plan's arena for this input shape (-1: none)
 *   rss_growth_bytes          peak resident set during the warm-up runs (the timed runs
 *                             without a warm-up) minus the resident set before the first
 *                             run: what the first inferences cost beyond the loaded model
 *   threads                   the engine's thread budget: an intra-op pool of threads - 1
 *                             workers besides the calling thread
 *
 * --output writes the last run's outputs, each as a uint32 element count and then the
 * values as float32, for bench/engine/compare.py. --profile-ms then runs the model that
 * long under a thread that samples the node the engine publishes in ctx->current_op, and
 * prints to stderr the share of time per operator type and the ten costliest nodes
 * (nodes fused at load do not appear: their work is in the node that absorbed them).
 * --passes 0 loads the model without the engine's graph passes and --planning 0 runs it
 * without the memory plan, to measure what each buys. */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "backends/onnx/graph.h"
#include "core/alloc.h"
#include "core/pool.h"
#include "core/thread.h"

#define MIN_RUNS 5
#define MAX_RUNS 100000
#define MAX_INPUT_NUMEL (UINT64_C(1) << 28) /* 1 GiB of float32 */

typedef struct opts {
    const char *model, *input, *output;
    int64_t shape[INFERD_MAX_DIMS];
    int ndim;
    int64_t batch;
    int threads, warmup, runs;
    double budget_ms, profile_ms;
    bool passes, planning;
} opts_t;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));
static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "inferd-engine-bench: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static long parse_long(const char *s, long lo, long hi, const char *what)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi)
        die("bad %s", what);
    return v;
}

static void parse_shape(opts_t *o, const char *s)
{
    char buf[256];
    snprintf(buf, sizeof(buf), "%s", s);
    o->ndim = 0;
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok;
         tok = strtok_r(NULL, ",", &save)) {
        if (o->ndim + 1 >= INFERD_MAX_DIMS)
            die("--shape %s has too many dims", s);
        o->shape[o->ndim++] = parse_long(tok, 1, 1 << 20, "--shape");
    }
    if (o->ndim == 0)
        die("--shape %s is empty", s);
}

static void parse_args(opts_t *o, int argc, char **argv)
{
    *o = (opts_t){.threads = 1, .warmup = 3, .runs = 50, .passes = true, .planning = true};
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (i + 1 >= argc)
            die("%s needs a value", a);
        const char *v = argv[++i];
        if (!strcmp(a, "--model"))
            o->model = v;
        else if (!strcmp(a, "--input"))
            o->input = v;
        else if (!strcmp(a, "--output"))
            o->output = v;
        else if (!strcmp(a, "--shape"))
            parse_shape(o, v);
        else if (!strcmp(a, "--batch"))
            o->batch = parse_long(v, 1, 1 << 16, a);
        else if (!strcmp(a, "--threads"))
            o->threads = (int)parse_long(v, 1, 256, a);
        else if (!strcmp(a, "--warmup"))
            o->warmup = (int)parse_long(v, 0, MAX_RUNS, a);
        else if (!strcmp(a, "--runs"))
            o->runs = (int)parse_long(v, 1, MAX_RUNS, a);
        else if (!strcmp(a, "--budget-ms"))
            o->budget_ms = (double)parse_long(v, 0, 3600 * 1000, a);
        else if (!strcmp(a, "--passes"))
            o->passes = parse_long(v, 0, 1, a);
        else if (!strcmp(a, "--planning"))
            o->planning = parse_long(v, 0, 1, a);
        else if (!strcmp(a, "--profile-ms"))
            o->profile_ms = (double)parse_long(v, 0, 3600 * 1000, a);
        else
            die("unknown option %s", a);
    }
    if (!o->model || !o->input || !o->ndim || !o->batch)
        die("%s", "usage: --model M.onnx --input X.bin --shape D1,D2 --batch B [--threads T] "
                  "[--warmup W] [--runs R] [--budget-ms MS] [--output OUT.bin] [--profile-ms MS] "
                  "[--passes 0|1] [--planning 0|1]");
}

/* The batch: the first batch samples of the input file (which must hold that many). */
static inferd_tensor_t *read_input(const opts_t *o)
{
    int64_t dims[INFERD_MAX_DIMS] = {o->batch};
    for (int d = 0; d < o->ndim; d++)
        dims[d + 1] = o->shape[d];
    inferd_err_t err = {0};
    uint64_t n;
    if (inferd_shape_numel(dims, o->ndim + 1, MAX_INPUT_NUMEL, &n, &err) != INFERD_OK)
        die("input: %s", err.msg);
    inferd_tensor_t *t =
        inferd_tensor_create(INFERD_DTYPE_FP32, dims, o->ndim + 1, 0, INFERD_OWNER_REQUEST, &err);
    if (!t)
        die("input: %s", err.msg);
    FILE *f = fopen(o->input, "rb");
    if (!f)
        die("cannot open %s", o->input);
    size_t got = fread(t->data, sizeof(float), (size_t)n, f);
    fclose(f);
    if (got != n)
        die("%s holds fewer samples than the batch", o->input);
    return t;
}

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* A field of /proc/self/status in bytes ("VmRSS", "VmHWM"), or -1. */
static long long proc_status_bytes(const char *key)
{
    FILE *f = fopen("/proc/self/status", "r");
    if (!f)
        return -1;
    char line[256];
    long long kb = -1;
    size_t klen = strlen(key);
    while (fgets(line, sizeof(line), f))
        if (!strncmp(line, key, klen) && line[klen] == ':') {
            kb = strtoll(line + klen + 1, NULL, 10);
            break;
        }
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

/* Restarts VmHWM from the current resident set (Linux: "5" to clear_refs). */
static void reset_rss_peak(void)
{
    FILE *f = fopen("/proc/self/clear_refs", "w");
    if (f) {
        fputs("5", f);
        fclose(f);
    }
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void write_outputs(const char *path, inferd_tensor_t **out, int n)
{
    FILE *f = fopen(path, "wb");
    if (!f)
        die("cannot write %s", path);
    for (int j = 0; j < n; j++) {
        const inferd_tensor_t *t = out[j];
        uint32_t numel = (uint32_t)inferd_tensor_numel(t);
        fwrite(&numel, sizeof(numel), 1, f);
        for (uint32_t i = 0; i < numel; i++) {
            float v;
            switch (t->dtype) {
            case INFERD_DTYPE_FP32: v = ((const float *)t->data)[i]; break;
            case INFERD_DTYPE_INT64: v = (float)((const int64_t *)t->data)[i]; break;
            case INFERD_DTYPE_INT32: v = (float)((const int32_t *)t->data)[i]; break;
            default: die("output %s: unsupported datatype", inferd_dtype_name(t->dtype));
            }
            fwrite(&v, sizeof(v), 1, f);
        }
    }
    if (fclose(f) != 0)
        die("cannot write %s", path);
}

static void release_outputs(inferd_tensor_t **out, int n)
{
    for (int j = 0; j < n; j++) {
        inferd_tensor_unref(out[j]);
        out[j] = NULL;
    }
}

static void run_once(inferd_ctx_t *ctx, const inferd_onnx_graph_t *g, inferd_tensor_t *in,
                     inferd_tensor_t **out)
{
    inferd_err_t err = {0};
    if (inferd_onnx_graph_run(ctx, g, &in, out, &err) != INFERD_OK)
        die("run: %s", err.msg);
}

/* --profile: a sampling thread reads the node the engine publishes in ctx->current_op
 * (the same word the crash handler reads) every ~20 us and counts hits per node. */
typedef struct sampler {
    inferd_ctx_t *ctx;
    const inferd_onnx_graph_t *g;
    int64_t *hits; /* per node; [n_nodes] counts samples between nodes */
    atomic_bool stop;
} sampler_t;

static void sampler_main(void *arg)
{
    sampler_t *s = arg;
    const struct timespec gap = {0, 20000};
    while (!atomic_load(&s->stop)) {
        const char *op = atomic_load(&s->ctx->current_op);
        int k = s->g->n_nodes;
        for (int i = 0; op && i < s->g->n_nodes; i++)
            if (s->g->nodes[i].run_label == op) {
                k = i;
                break;
            }
        s->hits[k]++;
        nanosleep(&gap, NULL);
    }
}

/* Runs the model for about ms milliseconds under the sampler and prints, to stderr, the
 * share of samples per operator type and the ten nodes with the most. */
static void profile(const inferd_onnx_graph_t *g, inferd_tensor_t *in, inferd_tensor_t **out,
                    double ms)
{
    inferd_ctx_t ctx;
    inferd_ctx_init(&ctx);
    sampler_t s = {.ctx = &ctx, .g = g};
    s.hits = inferd_xcalloc((size_t)g->n_nodes + 1, sizeof(*s.hits));
    atomic_init(&s.stop, false);
    inferd_thread_t *th = NULL;
    inferd_err_t err = {0};
    if (inferd_thread_start(&th, "sampler", "bench", sampler_main, &s, &err) != INFERD_OK)
        die("sampler: %s", err.msg);
    int runs = 0;
    for (double start = now_ms(); now_ms() - start < ms || runs < 1; runs++) {
        release_outputs(out, g->n_outputs);
        run_once(&ctx, g, in, out);
    }
    atomic_store(&s.stop, true);
    inferd_thread_join(th);

    int64_t total = 0;
    for (int i = 0; i <= g->n_nodes; i++)
        total += s.hits[i];
    fprintf(stderr, "profile: %d runs, %lld samples\n", runs, (long long)total);
    /* Per operator type, most first: sums[i] holds a type's total at its first node. */
    int64_t *sums = inferd_xcalloc((size_t)g->n_nodes + 1, sizeof(*sums));
    for (int i = 0; i < g->n_nodes; i++) {
        int j = 0;
        while (strcmp(g->nodes[j].op_type, g->nodes[i].op_type))
            j++;
        sums[j] += s.hits[i];
    }
    for (;;) {
        int best = -1;
        for (int i = 0; i < g->n_nodes; i++)
            if (sums[i] > 0 && (best < 0 || sums[i] > sums[best]))
                best = i;
        if (best < 0)
            break;
        fprintf(stderr, "  %5.1f%%  %s\n", 100.0 * (double)sums[best] / (double)total,
                g->nodes[best].op_type);
        sums[best] = 0;
    }
    inferd_free(sums);
    fprintf(stderr, "  %5.1f%%  (between nodes)\n",
            100.0 * (double)s.hits[g->n_nodes] / (double)total);
    for (int rank = 0; rank < 10; rank++) {
        int best = -1;
        for (int i = 0; i < g->n_nodes; i++)
            if (s.hits[i] > 0 && (best < 0 || s.hits[i] > s.hits[best]))
                best = i;
        if (best < 0)
            break;
        fprintf(stderr, "  node %-24s %-20s %5.1f%%\n", g->nodes[best].label,
                g->nodes[best].op_type, 100.0 * (double)s.hits[best] / (double)total);
        s.hits[best] = -s.hits[best]; /* taken */
    }
    inferd_free(s.hits);
}

int main(int argc, char **argv)
{
    opts_t o;
    parse_args(&o, argc, argv);

    inferd_onnx_set_passes(o.passes);
    inferd_onnx_set_planning(o.planning);
    inferd_err_t err = {0};
    inferd_onnx_graph_t *g = NULL;
    if (inferd_onnx_graph_load(o.model, &g, &err) != INFERD_OK)
        die("load: %s", err.msg);
    if (g->n_inputs != 1)
        die("%s: the benchmark feeds models with exactly one input", o.model);
    /* As the server does for --intra-op-threads: a default pool of threads - 1 workers
     * besides this (calling) thread, and a budget of threads for this thread's runs. */
    inferd_pool_t *pool = NULL;
    if (o.threads > 1) {
        if (inferd_pool_create(o.threads - 1, &pool, &err) != INFERD_OK)
            die("pool: %s", err.msg);
        inferd_pool_set_default(pool);
    }
    inferd_pool_set_budget(o.threads);
    int threads_used = inferd_pool_workers(pool) + 1;

    inferd_tensor_t *in = read_input(&o);
    inferd_tensor_t **out = inferd_xcalloc((size_t)g->n_outputs, sizeof(*out));
    double *ms = inferd_xcalloc((size_t)o.runs, sizeof(*ms));

    reset_rss_peak();
    long long rss_base = proc_status_bytes("VmRSS");
    inferd_tensor_peak_reset();
    inferd_tensor_stats_t st;
    inferd_tensor_stats(&st);
    int64_t arena_base = st.bytes[INFERD_OWNER_ARENA];

    for (int i = 0; i < o.warmup; i++) {
        release_outputs(out, g->n_outputs);
        run_once(NULL, g, in, out);
    }
    /* Memory is measured over the warm-up: the first inferences, where allocations grow.
     * The arena's high-water mark restarts here: the first run with a new shape allocates
     * per value and only later runs use the memory plan. */
    long long rss_peak = o.warmup ? proc_status_bytes("VmHWM") : -1;
    if (o.warmup) {
        inferd_tensor_peak_reset();
        inferd_tensor_stats(&st);
        arena_base = st.bytes[INFERD_OWNER_ARENA];
    }
    int runs = 0;
    double start = now_ms();
    while (runs < o.runs) {
        release_outputs(out, g->n_outputs); /* keeps the last run's for --output */
        double t0 = now_ms();
        run_once(NULL, g, in, out);
        double t1 = now_ms();
        ms[runs++] = t1 - t0;
        if (o.budget_ms > 0 && runs >= MIN_RUNS && t1 - start >= o.budget_ms)
            break;
    }
    if (!o.warmup)
        rss_peak = proc_status_bytes("VmHWM");
    inferd_tensor_stats(&st);
    int64_t arena_peak = st.peak_bytes[INFERD_OWNER_ARENA] - arena_base;
    inferd_onnx_plan_info_t plan;
    long long planned =
        inferd_onnx_graph_plan_info(g, &in, &plan) ? (long long)plan.peak_bytes : -1;

    if (o.output && runs > 0)
        write_outputs(o.output, out, g->n_outputs);
    release_outputs(out, g->n_outputs);

    qsort(ms, (size_t)runs, sizeof(*ms), cmp_double);
    double median = runs % 2 ? ms[runs / 2] : (ms[runs / 2 - 1] + ms[runs / 2]) / 2;
    double p90 = ms[(runs * 9) / 10 < runs ? (runs * 9) / 10 : runs - 1];
    printf("runs=%d median_ms=%.4f p90_ms=%.4f arena_peak_bytes=%lld planned_peak_bytes=%lld "
           "rss_growth_bytes=%lld threads=%d\n",
           runs, median, p90, (long long)arena_peak, planned,
           rss_base < 0 || rss_peak < 0 ? -1 : rss_peak - rss_base, threads_used);
    fflush(stdout);
    if (o.profile_ms > 0)
        profile(g, in, out, o.profile_ms);
    release_outputs(out, g->n_outputs);

    inferd_free(ms);
    inferd_free(out);
    inferd_tensor_unref(in);
    inferd_onnx_graph_destroy(g);
    inferd_pool_set_default(NULL);
    inferd_pool_destroy(pool);
    return 0;
}
