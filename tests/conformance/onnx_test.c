/* ONNX backend conformance runner (build/inferd-onnx-test).
 *
 * Runs every case of ONNX's backend test data (Debian libonnx-testdata:
 * <data>/{node,pytorch-converted,pytorch-operator,simple}/<case>/model.onnx with
 * test_data_set_N/{input,output}_K.pb) through the embedded engine's graph API and
 * compares the outputs with the expected tensors. Prints a count per category and a
 * final line "N passed, M failed, K skipped".
 *
 *   inferd-onnx-test [options] [FILTER...]
 *     FILTER               run only cases whose "category/name" contains one of them
 *     --data DIR           test data root (default /usr/share/libonnx-testdata/data)
 *     --json FILE          per-case results and per-operator coverage as JSON
 *     --ratchet FILE       exit 1 when a case listed in FILE (one "category/name" a
 *                          line, sorted, '#' comments) does not pass
 *     --update-ratchet     with --ratchet: add every passing case to FILE (never drops)
 *     --timeout SEC        per-case time bound (default 20)
 *     -j N                 cases run at once (default 1)
 *     -v                   print every failed or skipped case with its reason
 *
 * Isolation: each case runs in its own forked child, under alarm(timeout), and reports
 * one fixed-size record through a pipe. A crash, a hang or a leak in one case therefore
 * shows as that case's failure ("crashed: signal 11", "timed out") and never hides the
 * others' results. fork costs well under a millisecond here, so per-case isolation is
 * cheaper than the bookkeeping per-category isolation would need to attribute a crash.
 *
 * Semantics (as ONNX's own runner): input_K.pb feeds graph.input[K] of the model file,
 * so tensors without a name still bind; graph inputs backed by an initializer (old IR
 * versions list them) are not fed and keep their initializer. output_K.pb is compared with
 * graph.output[K]. bfloat16 test tensors are stored as UINT16 bit patterns: when the model
 * declares BF16 they are reinterpreted. Floats match when |got - want| <= atol + rtol *
 * |want| (rtol 1e-3, atol 1e-5 unless the exception table below says otherwise); NaN
 * matches NaN and infinities must match exactly. Integers, bools and strings match
 * exactly, and shapes must be equal.
 *
 * Skipped, with the reason recorded per case: cases whose directory has no model.onnx
 * (the "real" category is URLs only, so it is not even listed), and models with a
 * sequence, map or optional graph input or output. Nothing else is skipped. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backends/onnx/graph.h"
#include "backends/onnx/ops/ops.h"
#include "core/alloc.h"
#include "onnx.pb-c.h"

#define DEFAULT_DATA "/usr/share/libonnx-testdata/data"
#define REASON_MAX 480
#define OPS_MAX 1024

static const char *const categories[] = {"node", "pytorch-converted", "pytorch-operator", "simple"};
#define N_CATEGORIES (sizeof(categories) / sizeof(categories[0]))

/* ------------------------------------------------------------------------------------ */
/* Per-case tolerance exceptions                                                        */

/* Cases whose expected values need a looser float comparison than rtol 1e-3 / atol 1e-5,
 * and why. Matched on the exact "category/name". */
typedef struct tolerance {
    const char *name;
    double rtol, atol;
    const char *why;
} tolerance_t;

static const tolerance_t tolerances[] = {
    /* The generator computed the expected values with epsilon = 1e-2 but did not put the
     * attribute on the node, so the spec's default (1e-6) applies; with 1e-2 our outputs
     * match exactly, with the default X1_new/X2_new differ by at most 0.6 %. */
    {"node/test_adam_multiple", 1e-2, 1e-5,
     "expected data made with epsilon 1e-2, which the model does not declare"},
    {NULL, 0, 0, NULL}, /* end */
};

/* ------------------------------------------------------------------------------------ */
/* Results                                                                              */

typedef enum { CASE_PASS = 0, CASE_FAIL, CASE_SKIP } case_status_t;

static const char *const status_names[] = {"pass", "fail", "skip"};

/* What a child reports for one case; written with one write() (smaller than PIPE_BUF). */
typedef struct case_report {
    int status;              /* case_status_t */
    char reason[REASON_MAX]; /* why it failed or was skipped */
    char ops[OPS_MAX];       /* space-separated op types of the top-level graph */
} case_report_t;

typedef struct case_result {
    char *name; /* "category/case" */
    int category;
    case_status_t status;
    char *reason;
    char *ops;
} case_result_t;

typedef struct options {
    const char *data;
    const char *json;
    const char *ratchet;
    bool update_ratchet;
    int timeout;
    int jobs;
    bool verbose;
    char **filters;
    int n_filters;
} options_t;

/* ------------------------------------------------------------------------------------ */
/* Small utilities                                                                      */

static void report_set(case_report_t *r, case_status_t st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void report_set(case_report_t *r, case_status_t st, const char *fmt, ...)
{
    r->status = st;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(r->reason, sizeof(r->reason), fmt, ap);
    va_end(ap);
}

/* Reads a whole file (at most 1 GiB) into a new buffer. */
static uint8_t *slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return NULL;
    uint8_t *buf = NULL;
    size_t n = 0, cap = 0;
    for (;;) {
        if (n == cap) {
            if (cap >= ((size_t)1 << 30)) {
                inferd_free(buf);
                fclose(f);
                return NULL;
            }
            buf = inferd_xgrow(buf, 1, n + 65536, &cap);
        }
        size_t got = fread(buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    fclose(f);
    *len = n;
    return buf;
}

/* buf = a/b; a path too long for buf ends the program (it never happens with the data). */
static void path_join(char *buf, size_t size, const char *a, const char *b)
{
    int n = snprintf(buf, size, "%s/%s", a, b);
    if (n < 0 || (size_t)n >= size) {
        fprintf(stderr, "inferd-onnx-test: path too long: %s/%s\n", a, b);
        exit(2);
    }
}

static bool file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* Sorted names of the entries of dir starting with prefix (NULL: not hidden). */
static char **list_dir(const char *dir, const char *prefix, int *n)
{
    *n = 0;
    DIR *d = opendir(dir);
    if (!d)
        return NULL;
    char **names = NULL;
    size_t cap = 0;
    struct dirent *e;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        if (prefix && strncmp(e->d_name, prefix, strlen(prefix)) != 0)
            continue;
        names = inferd_xgrow(names, sizeof(*names), (size_t)*n + 1, &cap);
        names[(*n)++] = inferd_xstrdup(e->d_name);
    }
    closedir(d);
    if (*n)
        qsort(names, (size_t)*n, sizeof(*names), cmp_str);
    return names;
}

static void free_names(char **names, int n)
{
    for (int i = 0; i < n; i++)
        inferd_free(names[i]);
    inferd_free(names);
}

/* ------------------------------------------------------------------------------------ */
/* Comparison                                                                           */

static double elem_as_double(const inferd_tensor_t *t, uint64_t i)
{
    switch (t->dtype) {
    case INFERD_DTYPE_FP32: return ((const float *)t->data)[i];
    case INFERD_DTYPE_FP64: return ((const double *)t->data)[i];
    case INFERD_DTYPE_FP16: return inferd_fp16_to_fp32(((const uint16_t *)t->data)[i]);
    case INFERD_DTYPE_BF16: return inferd_bf16_to_fp32(((const uint16_t *)t->data)[i]);
    default: return 0;
    }
}

static bool float_close(double got, double want, double rtol, double atol)
{
    if (isnan(want) || isnan(got))
        return isnan(want) && isnan(got);
    if (isinf(want) || isinf(got))
        return got == want;
    return fabs(got - want) <= atol + rtol * fabs(want);
}

/* Compares output k; on a mismatch fills r and returns false. */
static bool compare_tensor(int k, const inferd_tensor_t *got, const inferd_tensor_t *want,
                           double rtol, double atol, case_report_t *r)
{
    char sg[160], sw[160];
    if (got->dtype != want->dtype) {
        report_set(r, CASE_FAIL, "output %d: type %s, expected %s", k,
                   inferd_dtype_name(got->dtype), inferd_dtype_name(want->dtype));
        return false;
    }
    if (got->ndim != want->ndim ||
        memcmp(got->dims, want->dims, (size_t)got->ndim * sizeof(int64_t)) != 0) {
        report_set(r, CASE_FAIL, "output %d: shape %s, expected %s", k,
                   inferd_onnx_dims_str(got->dims, got->ndim, sg, sizeof(sg)),
                   inferd_onnx_dims_str(want->dims, want->ndim, sw, sizeof(sw)));
        return false;
    }
    uint64_t n = inferd_tensor_numel(want);
    if (inferd_onnx_dtype_is_float(want->dtype)) {
        uint64_t bad = 0, first = 0;
        for (uint64_t i = 0; i < n; i++) {
            if (!float_close(elem_as_double(got, i), elem_as_double(want, i), rtol, atol)) {
                if (!bad)
                    first = i;
                bad++;
            }
        }
        if (bad) {
            report_set(r, CASE_FAIL,
                       "output %d: %llu of %llu values differ; first at %llu: "
                       "got %.9g, expected %.9g",
                       k, (unsigned long long)bad, (unsigned long long)n, (unsigned long long)first,
                       elem_as_double(got, first), elem_as_double(want, first));
            return false;
        }
        return true;
    }
    if (want->dtype == INFERD_DTYPE_BYTES) {
        if (got->nbytes != want->nbytes || memcmp(got->data, want->data, want->nbytes) != 0) {
            report_set(r, CASE_FAIL, "output %d: strings differ", k);
            return false;
        }
        return true;
    }
    size_t es = inferd_dtype_size(want->dtype);
    for (uint64_t i = 0; i < n; i++) {
        const uint8_t *a = (const uint8_t *)got->data + i * es;
        const uint8_t *b = (const uint8_t *)want->data + i * es;
        if (memcmp(a, b, es) != 0) {
            long long va = 0, vb = 0;
            if (want->dtype == INFERD_DTYPE_BOOL) {
                va = a[0];
                vb = b[0];
            } else {
                /* Little-endian: sign-extending is not needed to show which differs. */
                memcpy(&va, a, es);
                memcpy(&vb, b, es);
            }
            report_set(r, CASE_FAIL, "output %d: element %llu is %lld, expected %lld", k,
                       (unsigned long long)i, va, vb);
            return false;
        }
    }
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* One case (runs in the child)                                                         */

static void *pb_alloc(void *data, size_t size)
{
    (void)data;
    return inferd_xmalloc(size ? size : 1);
}

static void pb_free(void *data, void *p)
{
    (void)data;
    inferd_free(p);
}

static ProtobufCAllocator pb_allocator = {pb_alloc, pb_free, NULL};

/* Why a graph input or output cannot be fed or compared as a tensor, or NULL. */
static const char *non_tensor_kind(const Onnx__ValueInfoProto *vi)
{
    const Onnx__TypeProto *tp = vi->type;
    if (!tp)
        return NULL;
    switch (tp->value_case) {
    case ONNX__TYPE_PROTO__VALUE_SEQUENCE_TYPE: return "sequence";
    case ONNX__TYPE_PROTO__VALUE_MAP_TYPE: return "map";
    case ONNX__TYPE_PROTO__VALUE_OPTIONAL_TYPE: return "optional";
    case ONNX__TYPE_PROTO__VALUE_SPARSE_TENSOR_TYPE: return "sparse tensor";
    default: return NULL;
    }
}

static void collect_ops(const Onnx__GraphProto *gp, case_report_t *r)
{
    size_t off = 0;
    r->ops[0] = '\0';
    for (size_t i = 0; i < gp->n_node; i++) {
        const Onnx__NodeProto *np = gp->node[i];
        const char *dom =
            np->domain && *np->domain && strcmp(np->domain, "ai.onnx") != 0 ? np->domain : NULL;
        char op[160];
        snprintf(op, sizeof(op), "%s%s%s", dom ? dom : "", dom ? ":" : "",
                 np->op_type ? np->op_type : "?");
        /* Each op type once per case. */
        size_t ol = strlen(op);
        bool seen = false;
        for (const char *p = r->ops; (p = strstr(p, op)) != NULL; p += ol)
            if ((p == r->ops || p[-1] == ' ') && (p[ol] == ' ' || p[ol] == '\0')) {
                seen = true;
                break;
            }
        if (seen || off + ol + 2 >= sizeof(r->ops))
            continue;
        off += (size_t)snprintf(r->ops + off, sizeof(r->ops) - off, "%s%s", off ? " " : "", op);
    }
}

static int find_graph_input(const inferd_onnx_graph_t *g, const char *name)
{
    for (int i = 0; i < g->n_inputs; i++)
        if (strcmp(g->values[g->inputs[i]].name, name) == 0)
            return i;
    return -1;
}

static inferd_tensor_t *read_pb(const char *path, case_report_t *r)
{
    size_t len = 0;
    uint8_t *buf = slurp(path, &len);
    if (!buf) {
        report_set(r, CASE_FAIL, "cannot read %s", path);
        return NULL;
    }
    inferd_tensor_t *t = NULL;
    inferd_err_t err = {0};
    if (inferd_onnx_tensor_decode(buf, len, &t, &err) != INFERD_OK)
        report_set(r, CASE_FAIL, "%s: %s", strrchr(path, '/') + 1, err.msg);
    inferd_free(buf);
    return t;
}

/* Runs one data set of a loaded case; returns false (r filled) on the first problem. */
static bool run_data_set(const inferd_onnx_graph_t *g, const Onnx__GraphProto *gp, const char *dir,
                         double rtol, double atol, case_report_t *r)
{
    int n_in = 0, n_out = 0;
    char **ins = list_dir(dir, "input_", &n_in);
    char **outs = list_dir(dir, "output_", &n_out);
    inferd_tensor_t **inputs = inferd_xcalloc((size_t)g->n_inputs + 1, sizeof(*inputs));
    inferd_tensor_t **outputs = inferd_xcalloc((size_t)g->n_outputs + 1, sizeof(*outputs));
    bool ok = true;
    char path[4096];

    for (int k = 0; ok && k < n_in; k++) {
        char file[32];
        snprintf(file, sizeof(file), "input_%d.pb", k);
        path_join(path, sizeof(path), dir, file);
        if ((size_t)k >= gp->n_input) {
            report_set(r, CASE_FAIL, "input_%d.pb has no graph input to feed", k);
            ok = false;
            break;
        }
        int slot = find_graph_input(g, gp->input[k]->name);
        if (slot < 0) {
            report_set(r, CASE_FAIL, "input_%d.pb feeds '%s', which is an initializer", k,
                       gp->input[k]->name);
            ok = false;
            break;
        }
        inferd_tensor_t *t = read_pb(path, r);
        if (!t) {
            ok = false;
            break;
        }
        const inferd_onnx_value_t *v = &g->values[g->inputs[slot]];
        if (v->dtype == INFERD_DTYPE_BF16 && t->dtype == INFERD_DTYPE_UINT16)
            t->dtype = INFERD_DTYPE_BF16; /* the data stores bfloat16 as its bit pattern */
        inputs[slot] = t;
    }
    for (int i = 0; ok && i < g->n_inputs; i++)
        if (!inputs[i]) {
            report_set(r, CASE_FAIL, "graph input '%s' is not fed by the data set",
                       g->values[g->inputs[i]].name);
            ok = false;
        }
    if (ok) {
        inferd_err_t err = {0};
        if (inferd_onnx_graph_run(NULL, g, inputs, outputs, &err) != INFERD_OK) {
            report_set(r, CASE_FAIL, "run: %s", err.msg);
            ok = false;
        }
    }
    if (ok && n_out > g->n_outputs) {
        report_set(r, CASE_FAIL, "%d expected outputs, the graph has %d", n_out, g->n_outputs);
        ok = false;
    }
    for (int k = 0; ok && k < n_out; k++) {
        char file[32];
        snprintf(file, sizeof(file), "output_%d.pb", k);
        path_join(path, sizeof(path), dir, file);
        inferd_tensor_t *want = read_pb(path, r);
        if (!want) {
            ok = false;
            break;
        }
        if (outputs[k]->dtype == INFERD_DTYPE_BF16 && want->dtype == INFERD_DTYPE_UINT16)
            want->dtype = INFERD_DTYPE_BF16;
        ok = compare_tensor(k, outputs[k], want, rtol, atol, r);
        inferd_tensor_unref(want);
    }
    for (int i = 0; i < g->n_inputs; i++)
        inferd_tensor_unref(inputs[i]);
    for (int j = 0; j < g->n_outputs; j++)
        inferd_tensor_unref(outputs[j]);
    inferd_free(inputs);
    inferd_free(outputs);
    free_names(ins, n_in);
    free_names(outs, n_out);
    return ok;
}

static void run_case(const char *case_dir, const char *name, case_report_t *r)
{
    char path[4096];
    path_join(path, sizeof(path), case_dir, "model.onnx");
    size_t len = 0;
    uint8_t *buf = slurp(path, &len);
    if (!buf) {
        report_set(r, CASE_FAIL, "cannot read model.onnx");
        return;
    }
    Onnx__ModelProto *mp = onnx__model_proto__unpack(&pb_allocator, len, buf);
    inferd_free(buf);
    if (!mp || !mp->graph) {
        report_set(r, CASE_FAIL, "model.onnx does not parse");
        if (mp)
            onnx__model_proto__free_unpacked(mp, &pb_allocator);
        return;
    }
    const Onnx__GraphProto *gp = mp->graph;
    collect_ops(gp, r);
    for (size_t i = 0; i < gp->n_input + gp->n_output; i++) {
        bool is_in = i < gp->n_input;
        const Onnx__ValueInfoProto *vi = is_in ? gp->input[i] : gp->output[i - gp->n_input];
        const char *kind = non_tensor_kind(vi);
        if (kind) {
            report_set(r, CASE_SKIP, "%s %s '%s' is not a tensor", kind, is_in ? "input" : "output",
                       vi->name);
            onnx__model_proto__free_unpacked(mp, &pb_allocator);
            return;
        }
    }

    double rtol = 1e-3, atol = 1e-5;
    for (const tolerance_t *t = tolerances; t->name; t++)
        if (strcmp(t->name, name) == 0) {
            rtol = t->rtol;
            atol = t->atol;
        }

    inferd_onnx_graph_t *g = NULL;
    inferd_err_t err = {0};
    if (inferd_onnx_graph_load(path, &g, &err) != INFERD_OK) {
        report_set(r, CASE_FAIL, "load: %s", err.msg);
        onnx__model_proto__free_unpacked(mp, &pb_allocator);
        return;
    }
    int n_sets = 0;
    char **sets = list_dir(case_dir, "test_data_set_", &n_sets);
    bool ok = n_sets > 0;
    if (!ok)
        report_set(r, CASE_FAIL, "no test_data_set_* directory");
    for (int s = 0; ok && s < n_sets; s++) {
        path_join(path, sizeof(path), case_dir, sets[s]);
        ok = run_data_set(g, gp, path, rtol, atol, r);
        if (!ok && n_sets > 1) {
            char tmp[REASON_MAX];
            memcpy(tmp, r->reason, sizeof(tmp));
            report_set(r, CASE_FAIL, "%s: %s", sets[s], tmp);
        }
    }
    if (ok) {
        r->status = CASE_PASS;
        r->reason[0] = '\0';
    }
    free_names(sets, n_sets);
    inferd_onnx_graph_destroy(g);
    onnx__model_proto__free_unpacked(mp, &pb_allocator);
}

/* ------------------------------------------------------------------------------------ */
/* Scheduling: one forked child per case                                                */

typedef struct job {
    pid_t pid;
    int fd;    /* read end of the child's report pipe */
    int index; /* into the results array */
} job_t;

static pid_t start_case(const char *case_dir, const char *name, int timeout, int *fd_out)
{
    int p[2];
    if (pipe(p) != 0)
        return -1;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0) {
        close(p[0]);
        close(p[1]);
        return -1;
    }
    if (pid == 0) {
        close(p[0]);
        alarm((unsigned)timeout);
        case_report_t *r = inferd_xcalloc(1, sizeof(*r));
        run_case(case_dir, name, r);
        /* Everything the case created is gone by now: a live tensor is a leak. */
        inferd_tensor_stats_t st;
        inferd_tensor_stats(&st);
        if (st.total_count && r->status == CASE_PASS)
            report_set(r, CASE_FAIL, "leaked %lld tensors (%lld bytes)", (long long)st.total_count,
                       (long long)st.total_bytes);
        ssize_t w = write(p[1], r, sizeof(*r));
        inferd_free(r);
        /* _exit skips atexit handlers (OpenBLAS's among them) that the parent owns;
         * INFERD_CONFORMANCE_EXIT=1 uses exit() so LeakSanitizer checks each case. */
        if (getenv("INFERD_CONFORMANCE_EXIT"))
            exit(w == (ssize_t)sizeof(*r) ? 0 : 3);
        _exit(w == (ssize_t)sizeof(*r) ? 0 : 3);
    }
    close(p[1]);
    *fd_out = p[0];
    return pid;
}

/* Collects a finished child's report into res. */
static void finish_case(job_t *j, int wstatus, int timeout, case_result_t *res)
{
    case_report_t *r = inferd_xcalloc(1, sizeof(*r));
    ssize_t got = read(j->fd, r, sizeof(*r));
    close(j->fd);
    char msg[REASON_MAX];
    if (got == (ssize_t)sizeof(*r)) {
        res->status = (case_status_t)r->status;
        res->reason = inferd_xstrdup(r->reason);
        res->ops = inferd_xstrdup(r->ops);
    } else {
        if (WIFSIGNALED(wstatus) && WTERMSIG(wstatus) == SIGALRM)
            snprintf(msg, sizeof(msg), "timed out after %d s", timeout);
        else if (WIFSIGNALED(wstatus))
            snprintf(msg, sizeof(msg), "crashed: signal %d (%s)", WTERMSIG(wstatus),
                     strsignal(WTERMSIG(wstatus)));
        else
            snprintf(msg, sizeof(msg), "child exited with status %d and no report",
                     WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1);
        res->status = CASE_FAIL;
        res->reason = inferd_xstrdup(msg);
        res->ops = inferd_xstrdup("");
    }
    inferd_free(r);
}

static bool matches_filter(const options_t *o, const char *name)
{
    if (o->n_filters == 0)
        return true;
    for (int i = 0; i < o->n_filters; i++)
        if (strstr(name, o->filters[i]))
            return true;
    return false;
}

/* Lists the cases to run (sorted by category, then name) into *out. */
static int gather_cases(const options_t *o, case_result_t **out)
{
    case_result_t *res = NULL;
    size_t cap = 0;
    int n = 0;
    for (size_t c = 0; c < N_CATEGORIES; c++) {
        char dir[4096];
        path_join(dir, sizeof(dir), o->data, categories[c]);
        int nc = 0;
        char **names = list_dir(dir, NULL, &nc);
        for (int i = 0; i < nc; i++) {
            char full[512];
            path_join(full, sizeof(full), categories[c], names[i]);
            if (!matches_filter(o, full))
                continue;
            res = inferd_xgrow(res, sizeof(*res), (size_t)n + 1, &cap);
            memset(&res[n], 0, sizeof(res[n]));
            res[n].name = inferd_xstrdup(full);
            res[n].category = (int)c;
            n++;
        }
        free_names(names, nc);
    }
    *out = res;
    return n;
}

static void run_all(const options_t *o, case_result_t *res, int n)
{
    job_t *jobs = inferd_xcalloc((size_t)o->jobs, sizeof(*jobs));
    int running = 0, next = 0;
    while (next < n || running > 0) {
        while (running < o->jobs && next < n) {
            case_result_t *cr = &res[next];
            char dir[4096], model[4096];
            path_join(dir, sizeof(dir), o->data, cr->name);
            path_join(model, sizeof(model), dir, "model.onnx");
            if (!file_exists(model)) {
                cr->status = CASE_SKIP;
                cr->reason = inferd_xstrdup("no model.onnx (the data set ships only a URL)");
                cr->ops = inferd_xstrdup("");
                next++;
                continue;
            }
            int fd = -1;
            pid_t pid = start_case(dir, cr->name, o->timeout, &fd);
            if (pid < 0) {
                cr->status = CASE_FAIL;
                cr->reason = inferd_xstrdup("could not fork");
                cr->ops = inferd_xstrdup("");
                next++;
                continue;
            }
            jobs[running++] = (job_t){pid, fd, next++};
        }
        if (running == 0)
            break;
        int ws = 0;
        pid_t done = waitpid(-1, &ws, 0);
        if (done < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        for (int i = 0; i < running; i++) {
            if (jobs[i].pid != done)
                continue;
            finish_case(&jobs[i], ws, o->timeout, &res[jobs[i].index]);
            if (o->verbose && res[jobs[i].index].status != CASE_PASS)
                printf("%s %s: %s\n", status_names[res[jobs[i].index].status],
                       res[jobs[i].index].name, res[jobs[i].index].reason);
            jobs[i] = jobs[--running];
            break;
        }
    }
    inferd_free(jobs);
}

/* ------------------------------------------------------------------------------------ */
/* JSON report                                                                          */

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c < 0x20)
            fprintf(f, "\\u%04x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

typedef struct op_cov {
    char *op;
    int cases, passed, failed, skipped;
} op_cov_t;

static int cmp_cov(const void *a, const void *b)
{
    return strcmp(((const op_cov_t *)a)->op, ((const op_cov_t *)b)->op);
}

static bool write_json(const char *path, const case_result_t *res, int n)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return false;
    fprintf(f, "{\n  \"cases\": [\n");
    op_cov_t *cov = NULL;
    size_t cap = 0, n_cov = 0;
    for (int i = 0; i < n; i++) {
        fprintf(f, "    {\"name\": ");
        json_str(f, res[i].name);
        fprintf(f, ", \"category\": ");
        json_str(f, categories[res[i].category]);
        fprintf(f, ", \"status\": \"%s\", \"reason\": ", status_names[res[i].status]);
        json_str(f, res[i].reason ? res[i].reason : "");
        char key[512];
        snprintf(key, sizeof(key), "%s/%s", categories[res[i].category], res[i].name);
        for (const tolerance_t *t = tolerances; t->name; t++)
            if (strcmp(t->name, key) == 0 || strcmp(t->name, res[i].name) == 0) {
                fprintf(f, ", \"tolerance\": {\"rtol\": %g, \"atol\": %g, \"why\": ", t->rtol,
                        t->atol);
                json_str(f, t->why);
                fprintf(f, "}");
            }
        fprintf(f, ", \"ops\": [");
        char *ops = inferd_xstrdup(res[i].ops ? res[i].ops : "");
        int k = 0;
        for (char *save = NULL, *op = strtok_r(ops, " ", &save); op;
             op = strtok_r(NULL, " ", &save), k++) {
            fprintf(f, "%s", k ? ", " : "");
            json_str(f, op);
            size_t c = 0;
            while (c < n_cov && strcmp(cov[c].op, op) != 0)
                c++;
            if (c == n_cov) {
                cov = inferd_xgrow(cov, sizeof(*cov), n_cov + 1, &cap);
                cov[n_cov++] = (op_cov_t){inferd_xstrdup(op), 0, 0, 0, 0};
            }
            cov[c].cases++;
            cov[c].passed += res[i].status == CASE_PASS;
            cov[c].failed += res[i].status == CASE_FAIL;
            cov[c].skipped += res[i].status == CASE_SKIP;
        }
        inferd_free(ops);
        fprintf(f, "]}%s\n", i + 1 < n ? "," : "");
    }
    if (n_cov)
        qsort(cov, n_cov, sizeof(*cov), cmp_cov);
    fprintf(f, "  ],\n  \"operators\": [\n");
    for (size_t c = 0; c < n_cov; c++) {
        /* Whether the engine registers the op at all (any opset), separate from passing. */
        const char *colon = strchr(cov[c].op, ':');
        char dom[128] = "";
        if (colon)
            snprintf(dom, sizeof(dom), "%.*s", (int)(colon - cov[c].op), cov[c].op);
        bool reg = inferd_onnx_op_find(dom, colon ? colon + 1 : cov[c].op, 1000) != NULL;
        fprintf(f, "    {\"op\": ");
        json_str(f, cov[c].op);
        fprintf(f,
                ", \"registered\": %s, \"cases\": %d, \"passed\": %d, \"failed\": %d, "
                "\"skipped\": %d}%s\n",
                reg ? "true" : "false", cov[c].cases, cov[c].passed, cov[c].failed, cov[c].skipped,
                c + 1 < n_cov ? "," : "");
        inferd_free(cov[c].op);
    }
    fprintf(f, "  ]\n}\n");
    inferd_free(cov);
    return fclose(f) == 0;
}

/* ------------------------------------------------------------------------------------ */
/* Ratchet                                                                              */

static char **read_ratchet(const char *path, int *n)
{
    *n = 0;
    size_t len = 0;
    uint8_t *buf = slurp(path, &len);
    if (!buf)
        return NULL;
    char **names = NULL;
    size_t cap = 0;
    char *text = inferd_xstrndup((const char *)buf, len);
    inferd_free(buf);
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        while (*line == ' ' || *line == '\t')
            line++;
        size_t l = strlen(line);
        while (l && (line[l - 1] == ' ' || line[l - 1] == '\r' || line[l - 1] == '\t'))
            line[--l] = '\0';
        if (!l || line[0] == '#')
            continue;
        names = inferd_xgrow(names, sizeof(*names), (size_t)*n + 1, &cap);
        names[(*n)++] = inferd_xstrdup(line);
    }
    inferd_free(text);
    return names;
}

static const case_result_t *find_result(const case_result_t *res, int n, const char *name)
{
    for (int i = 0; i < n; i++)
        if (strcmp(res[i].name, name) == 0)
            return &res[i];
    return NULL;
}

/* Checks the ratchet list (and extends it on request); returns the number of listed
 * cases that ran and did not pass. Listed cases the filter excluded are not checked. */
static int check_ratchet(const options_t *o, const case_result_t *res, int n)
{
    int n_list = 0;
    char **list = read_ratchet(o->ratchet, &n_list);
    if (!list && !o->update_ratchet) {
        fprintf(stderr, "inferd-onnx-test: cannot read ratchet %s\n", o->ratchet);
        return 1;
    }
    int regressions = 0;
    for (int i = 0; i < n_list; i++) {
        const case_result_t *cr = find_result(res, n, list[i]);
        if (!cr) {
            if (o->n_filters == 0) {
                printf("ratchet: %s is listed but does not exist\n", list[i]);
                regressions++;
            }
            continue;
        }
        if (cr->status != CASE_PASS) {
            printf("ratchet: %s no longer passes (%s): %s\n", list[i], status_names[cr->status],
                   cr->reason);
            regressions++;
        }
    }
    if (o->update_ratchet) {
        size_t cap = (size_t)n_list;
        int added = 0;
        for (int i = 0; i < n; i++) {
            if (res[i].status != CASE_PASS)
                continue;
            bool listed = false;
            for (int k = 0; k < n_list && !listed; k++)
                listed = strcmp(list[k], res[i].name) == 0;
            if (listed)
                continue;
            list = inferd_xgrow(list, sizeof(*list), (size_t)n_list + 1, &cap);
            list[n_list++] = inferd_xstrdup(res[i].name);
            added++;
        }
        if (n_list)
            qsort(list, (size_t)n_list, sizeof(*list), cmp_str);
        FILE *f = fopen(o->ratchet, "w");
        if (!f) {
            fprintf(stderr, "inferd-onnx-test: cannot write %s\n", o->ratchet);
            regressions++;
        } else {
            for (int i = 0; i < n_list; i++)
                fprintf(f, "%s\n", list[i]);
            fclose(f);
            printf("ratchet: %d cases added, %d listed\n", added, n_list);
        }
    }
    if (regressions)
        printf("ratchet: %d listed cases failed\n", regressions);
    free_names(list, n_list);
    return regressions;
}

/* ------------------------------------------------------------------------------------ */
/* main                                                                                 */

static void usage(void)
{
    fprintf(stderr, "usage: inferd-onnx-test [--data DIR] [--json FILE] [--ratchet FILE "
                    "[--update-ratchet]]\n"
                    "                        [--timeout SEC] [-j N] [-v] [FILTER...]\n");
}

static bool parse_int(const char *s, int lo, int hi, int *out)
{
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || !end || *end || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

static bool parse_args(int argc, char **argv, options_t *o)
{
    *o = (options_t){.data = DEFAULT_DATA, .timeout = 20, .jobs = 1};
    o->filters = inferd_xcalloc((size_t)argc + 1, sizeof(char *));
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        bool has_next = i + 1 < argc;
        if (strcmp(a, "--data") == 0 && has_next)
            o->data = argv[++i];
        else if (strcmp(a, "--json") == 0 && has_next)
            o->json = argv[++i];
        else if (strcmp(a, "--ratchet") == 0 && has_next)
            o->ratchet = argv[++i];
        else if (strcmp(a, "--update-ratchet") == 0)
            o->update_ratchet = true;
        else if (strcmp(a, "--timeout") == 0 && has_next) {
            if (!parse_int(argv[++i], 1, 3600, &o->timeout))
                return false;
        } else if (strcmp(a, "-j") == 0 && has_next) {
            if (!parse_int(argv[++i], 1, 64, &o->jobs))
                return false;
        } else if (strcmp(a, "-v") == 0)
            o->verbose = true;
        else if (a[0] == '-')
            return false;
        else
            o->filters[o->n_filters++] = argv[i];
    }
    return !o->update_ratchet || o->ratchet;
}

int main(int argc, char **argv)
{
    options_t o;
    if (!parse_args(argc, argv, &o)) {
        usage();
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    case_result_t *res = NULL;
    int n = gather_cases(&o, &res);
    run_all(&o, res, n);
    clock_gettime(CLOCK_MONOTONIC, &t1);

    int tot[3] = {0};
    for (size_t c = 0; c < N_CATEGORIES; c++) {
        int cnt[3] = {0}, all = 0;
        for (int i = 0; i < n; i++)
            if (res[i].category == (int)c) {
                cnt[res[i].status]++;
                all++;
            }
        if (!all)
            continue;
        printf("%-18s %4d passed, %4d failed, %4d skipped (%d cases)\n", categories[c],
               cnt[CASE_PASS], cnt[CASE_FAIL], cnt[CASE_SKIP], all);
        for (int s = 0; s < 3; s++)
            tot[s] += cnt[s];
    }
    printf("time: %.1f s\n",
           (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);

    int rc = 0;
    if (o.json && !write_json(o.json, res, n)) {
        fprintf(stderr, "inferd-onnx-test: cannot write %s\n", o.json);
        rc = 2;
    }
    if (o.ratchet && check_ratchet(&o, res, n) > 0)
        rc = 1;
    printf("%d passed, %d failed, %d skipped\n", tot[CASE_PASS], tot[CASE_FAIL], tot[CASE_SKIP]);

    for (int i = 0; i < n; i++) {
        inferd_free(res[i].name);
        inferd_free(res[i].reason);
        inferd_free(res[i].ops);
    }
    inferd_free(res);
    inferd_free(o.filters);
    return rc;
}
