/* Prometheus text exposition (format 0.0.4) of model statistics and process gauges. */
#include "obs/metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include "core/thread.h"
#include "inferd/tensor.h"

const double inferd_histogram_bounds_s[INFERD_HISTOGRAM_BUCKETS] = {
    0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,    0.1,    0.25,    0.5,    1.0,   2.5,    5.0,   10.0, 30.0,
};

/* The same bounds in integer nanoseconds, so observing needs no floating point. */
static const uint64_t bounds_ns[INFERD_HISTOGRAM_BUCKETS] = {
    50000ull,     100000ull,     250000ull,     500000ull,     1000000ull,     2500000ull,
    5000000ull,   10000000ull,   25000000ull,   50000000ull,   100000000ull,   250000000ull,
    500000000ull, 1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull, 30000000000ull,
};

void inferd_model_stats_init(inferd_model_stats_t *s)
{
    memset(s, 0, sizeof(*s));
}

void inferd_histogram_observe(inferd_histogram_t *h, uint64_t ns)
{
    size_t i = 0;
    while (i < INFERD_HISTOGRAM_BUCKETS && ns > bounds_ns[i])
        i++;
    atomic_fetch_add_explicit(&h->bucket[i], 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&h->sum_ns, ns, memory_order_relaxed);
}

/* Finds or claims the batch_stats slot of a batch size. Slots are claimed with a CAS and
 * never released, so a reader that sees a nonzero batch_size can use the slot. */
static inferd_batch_stats_t *batch_slot(inferd_model_stats_t *s, uint64_t batch_size)
{
    if (batch_size == 0)
        return NULL;
    for (size_t i = 0; i < INFERD_BATCH_STATS_MAX; i++) {
        inferd_batch_stats_t *b = &s->batch[i];
        uint64_t cur = atomic_load_explicit(&b->batch_size, memory_order_acquire);
        if (cur == batch_size)
            return b;
        if (cur == 0) {
            uint_fast64_t expected = 0;
            if (atomic_compare_exchange_strong(&b->batch_size, &expected, batch_size) ||
                expected == batch_size)
                return b;
        }
    }
    return NULL;
}

void inferd_model_stats_record(inferd_model_stats_t *s, int reason, uint64_t duration_ns)
{
    if (reason < 0) {
        atomic_fetch_add_explicit(&s->request_success, 1, memory_order_relaxed);
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        atomic_store_explicit(&s->last_inference_ms,
                              (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000,
                              memory_order_relaxed);
        atomic_fetch_add_explicit(&s->success_ns, duration_ns, memory_order_relaxed);
    } else {
        if (reason >= INFERD_FAIL_COUNT_)
            reason = INFERD_FAIL_OTHER;
        atomic_fetch_add_explicit(&s->request_failure[reason], 1, memory_order_relaxed);
        atomic_fetch_add_explicit(&s->fail_ns, duration_ns, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&s->request_duration_ns, duration_ns, memory_order_relaxed);
    inferd_histogram_observe(&s->request_hist, duration_ns);
}

void inferd_model_stats_record_queue(inferd_model_stats_t *s, uint64_t queue_ns)
{
    atomic_fetch_sub_explicit(&s->pending, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->queue_duration_ns, queue_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->queue_count, 1, memory_order_relaxed);
    inferd_histogram_observe(&s->queue_hist, queue_ns);
}

void inferd_model_stats_record_exec(inferd_model_stats_t *s, uint64_t batch_size, uint64_t input_ns,
                                    uint64_t infer_ns, uint64_t output_ns)
{
    atomic_fetch_add_explicit(&s->exec_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->inference_count, batch_size, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->compute_input_ns, input_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->compute_infer_ns, infer_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->compute_output_ns, output_ns, memory_order_relaxed);
    inferd_histogram_observe(&s->compute_infer_hist, infer_ns);
    inferd_batch_stats_t *b = batch_slot(s, batch_size);
    if (!b) {
        atomic_fetch_add_explicit(&s->batch_stats_overflow, 1, memory_order_relaxed);
        return;
    }
    atomic_fetch_add_explicit(&b->count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->compute_input_ns, input_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->compute_infer_ns, infer_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&b->compute_output_ns, output_ns, memory_order_relaxed);
}

const char *inferd_fail_reason_name(inferd_fail_reason_t r)
{
    switch (r) {
    case INFERD_FAIL_REJECTED: return "REJECTED";
    case INFERD_FAIL_CANCELED: return "CANCELED";
    case INFERD_FAIL_BACKEND: return "BACKEND";
    case INFERD_FAIL_OTHER: return "OTHER";
    case INFERD_FAIL_COUNT_: break;
    }
    return "OTHER";
}

/* Label values need \\, \" and \n escaped. Model names come from directory names. */
static void append_label_value(inferd_buf_t *out, const char *v)
{
    for (; *v; v++) {
        if (*v == '\\' || *v == '"')
            inferd_buf_append_char(out, '\\');
        if (*v == '\n') {
            inferd_buf_append_str(out, "\\n");
            continue;
        }
        inferd_buf_append_char(out, *v);
    }
}

static void model_labels(inferd_buf_t *out, const inferd_metrics_model_t *m)
{
    inferd_buf_append_str(out, "model=\"");
    append_label_value(out, m->name);
    inferd_buf_append_str(out, "\",version=\"");
    append_label_value(out, m->version);
    inferd_buf_append_char(out, '"');
}

static uint64_t load(const atomic_uint_fast64_t *v)
{
    return atomic_load_explicit(v, memory_order_relaxed);
}

typedef enum { FIELD_COUNT, FIELD_NS_AS_US } field_kind_t;

static void family(inferd_buf_t *out, const char *name, const char *type, const char *help,
                   const inferd_metrics_model_t *models, size_t n, size_t offset, field_kind_t kind)
{
    inferd_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
    for (size_t i = 0; i < n; i++) {
        const atomic_uint_fast64_t *v =
            (const atomic_uint_fast64_t *)((const char *)models[i].stats + offset);
        uint64_t x = load(v);
        if (kind == FIELD_NS_AS_US)
            x /= 1000;
        inferd_buf_printf(out, "%s{", name);
        model_labels(out, &models[i]);
        inferd_buf_printf(out, "} %llu\n", (unsigned long long)x);
    }
}

/* One histogram family in seconds: cumulative _bucket series with le labels, _sum, _count. */
static void histogram_family(inferd_buf_t *out, const char *name, const char *help,
                             const inferd_metrics_model_t *models, size_t n, size_t offset)
{
    inferd_buf_printf(out, "# HELP %s %s\n# TYPE %s histogram\n", name, help, name);
    for (size_t i = 0; i < n; i++) {
        const inferd_histogram_t *h =
            (const inferd_histogram_t *)((const char *)models[i].stats + offset);
        uint64_t cum = 0;
        for (size_t k = 0; k <= INFERD_HISTOGRAM_BUCKETS; k++) {
            cum += load(&h->bucket[k]);
            inferd_buf_printf(out, "%s_bucket{", name);
            model_labels(out, &models[i]);
            if (k < INFERD_HISTOGRAM_BUCKETS)
                inferd_buf_printf(out, ",le=\"%g\"} %llu\n", inferd_histogram_bounds_s[k],
                                  (unsigned long long)cum);
            else
                inferd_buf_printf(out, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        inferd_buf_printf(out, "%s_sum{", name);
        model_labels(out, &models[i]);
        inferd_buf_printf(out, "} %.9f\n%s_count{", (double)load(&h->sum_ns) / 1e9, name);
        model_labels(out, &models[i]);
        /* The count is the +Inf bucket: the same relaxed reads, so they always agree. */
        inferd_buf_printf(out, "} %llu\n", (unsigned long long)cum);
    }
}

static void duration_json(inferd_buf_t *out, const char *key, uint64_t count, uint64_t ns)
{
    inferd_buf_printf(out, "\"%s\":{\"count\":%llu,\"ns\":%llu}", key, (unsigned long long)count,
                      (unsigned long long)ns);
}

typedef struct {
    uint64_t size, count, in_ns, infer_ns, out_ns;
} batch_row_t;

void inferd_model_stats_json(inferd_buf_t *out, const inferd_metrics_model_t *m)
{
    const inferd_model_stats_t *s = m->stats;
    uint64_t success = load(&s->request_success), fail = 0, exec = load(&s->exec_count);
    for (int r = 0; r < INFERD_FAIL_COUNT_; r++)
        fail += load(&s->request_failure[r]);
    inferd_buf_append_str(out, "{\"name\":");
    inferd_buf_append_json_str(out, m->name, strlen(m->name));
    inferd_buf_append_str(out, ",\"version\":");
    inferd_buf_append_json_str(out, m->version, strlen(m->version));
    inferd_buf_printf(out,
                      ",\"last_inference\":%llu,\"inference_count\":%llu,"
                      "\"execution_count\":%llu,\"inference_stats\":{",
                      (unsigned long long)load(&s->last_inference_ms),
                      (unsigned long long)load(&s->inference_count), (unsigned long long)exec);
    duration_json(out, "success", success, load(&s->success_ns));
    inferd_buf_append_char(out, ',');
    duration_json(out, "fail", fail, load(&s->fail_ns));
    inferd_buf_append_char(out, ',');
    duration_json(out, "queue", load(&s->queue_count), load(&s->queue_duration_ns));
    inferd_buf_append_char(out, ',');
    duration_json(out, "compute_input", exec, load(&s->compute_input_ns));
    inferd_buf_append_char(out, ',');
    duration_json(out, "compute_infer", exec, load(&s->compute_infer_ns));
    inferd_buf_append_char(out, ',');
    duration_json(out, "compute_output", exec, load(&s->compute_output_ns));
    /* No response cache: both stay zero, but clients expect the keys. */
    inferd_buf_append_char(out, ',');
    duration_json(out, "cache_hit", 0, 0);
    inferd_buf_append_char(out, ',');
    duration_json(out, "cache_miss", 0, 0);
    inferd_buf_append_str(out, "},\"response_stats\":{},\"batch_stats\":[");

    /* Slots are in claim order; sort by batch size (insertion sort: at most 64). */
    batch_row_t rows[INFERD_BATCH_STATS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < INFERD_BATCH_STATS_MAX; i++) {
        const inferd_batch_stats_t *b = &s->batch[i];
        uint64_t size = atomic_load_explicit(&b->batch_size, memory_order_acquire);
        if (size == 0)
            break;
        batch_row_t r = {size, load(&b->count), load(&b->compute_input_ns),
                         load(&b->compute_infer_ns), load(&b->compute_output_ns)};
        size_t j = n++;
        while (j > 0 && rows[j - 1].size > r.size) {
            rows[j] = rows[j - 1];
            j--;
        }
        rows[j] = r;
    }
    for (size_t i = 0; i < n; i++) {
        inferd_buf_printf(out, "%s{\"batch_size\":%llu,", i ? "," : "",
                          (unsigned long long)rows[i].size);
        duration_json(out, "compute_input", rows[i].count, rows[i].in_ns);
        inferd_buf_append_char(out, ',');
        duration_json(out, "compute_infer", rows[i].count, rows[i].infer_ns);
        inferd_buf_append_char(out, ',');
        duration_json(out, "compute_output", rows[i].count, rows[i].out_ns);
        inferd_buf_append_char(out, '}');
    }
    inferd_buf_append_str(out, "],\"memory_usage\":[]}");
}

static size_t count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)))
        if (e->d_name[0] != '.')
            n++;
    closedir(d);
    return n > 0 ? n - 1 : 0; /* the directory stream itself */
}

/* Process start time in Unix seconds: /proc/self/stat's starttime (clock ticks after
 * boot) plus the boot time from /proc/stat. 0 when either is unreadable. */
static double process_start_time(void)
{
    char stat[1024];
    unsigned long long start_ticks = 0, btime = 0;
    FILE *f = fopen("/proc/self/stat", "r");
    if (!f)
        return 0;
    size_t n = fread(stat, 1, sizeof(stat) - 1, f);
    fclose(f);
    stat[n] = '\0';
    /* Fields after "(comm)": state is field 3, starttime field 22. */
    const char *p = strrchr(stat, ')');
    if (!p || sscanf(p + 2,
                     "%*c %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s %*s "
                     "%*s %*s %*s %llu",
                     &start_ticks) != 1)
        return 0;
    f = fopen("/proc/stat", "r");
    if (!f)
        return 0;
    char line[256];
    while (fgets(line, sizeof(line), f))
        if (sscanf(line, "btime %llu", &btime) == 1)
            break;
    fclose(f);
    long hz = sysconf(_SC_CLK_TCK);
    if (!btime || hz <= 0)
        return 0;
    return (double)btime + (double)start_ticks / (double)hz;
}

static void process_metrics(inferd_buf_t *out)
{
    long vm_pages = 0, rss_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%ld %ld", &vm_pages, &rss_pages) != 2)
            vm_pages = rss_pages = 0;
        fclose(f);
    }
    struct rlimit rl;
    long long max_fds = getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY
                            ? (long long)rl.rlim_cur
                            : -1;
    struct timespec cpu;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    long page = sysconf(_SC_PAGESIZE);
    inferd_buf_printf(out,
                      "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                      "# TYPE process_resident_memory_bytes gauge\n"
                      "process_resident_memory_bytes %ld\n"
                      "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
                      "# TYPE process_virtual_memory_bytes gauge\n"
                      "process_virtual_memory_bytes %ld\n"
                      "# HELP process_open_fds Number of open file descriptors.\n"
                      "# TYPE process_open_fds gauge\n"
                      "process_open_fds %zu\n",
                      rss_pages * page, vm_pages * page, count_fds());
    if (max_fds >= 0)
        inferd_buf_printf(out,
                          "# HELP process_max_fds Maximum number of open file descriptors.\n"
                          "# TYPE process_max_fds gauge\n"
                          "process_max_fds %lld\n",
                          max_fds);
    inferd_buf_printf(out,
                      "# HELP process_cpu_seconds_total Total user and system CPU time.\n"
                      "# TYPE process_cpu_seconds_total counter\n"
                      "process_cpu_seconds_total %.3f\n"
                      "# HELP process_start_time_seconds Start time of the process since the "
                      "Unix epoch in seconds.\n"
                      "# TYPE process_start_time_seconds gauge\n"
                      "process_start_time_seconds %.2f\n"
                      "# HELP inferd_threads OS threads in the process.\n"
                      "# TYPE inferd_threads gauge\n"
                      "inferd_threads %zu\n",
                      (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9, process_start_time(),
                      inferd_thread_os_count());

    inferd_tensor_stats_t ts;
    inferd_tensor_stats(&ts);
    inferd_buf_append_str(out, "# HELP inferd_tensors_live Live tensors by owner.\n"
                               "# TYPE inferd_tensors_live gauge\n");
    for (int i = 0; i < INFERD_OWNER_COUNT_; i++)
        inferd_buf_printf(out, "inferd_tensors_live{owner=\"%s\"} %lld\n",
                          inferd_owner_name((inferd_owner_t)i), (long long)ts.count[i]);
    inferd_buf_append_str(out, "# HELP inferd_tensor_bytes_live Bytes held by live tensors by "
                               "owner.\n# TYPE inferd_tensor_bytes_live gauge\n");
    for (int i = 0; i < INFERD_OWNER_COUNT_; i++)
        inferd_buf_printf(out, "inferd_tensor_bytes_live{owner=\"%s\"} %lld\n",
                          inferd_owner_name((inferd_owner_t)i), (long long)ts.bytes[i]);
}

#define OFF(field) offsetof(inferd_model_stats_t, field)

void inferd_metrics_render(inferd_buf_t *out, const inferd_metrics_model_t *models, size_t n)
{
    family(out, "nv_inference_request_success", "counter",
           "Number of successful inference requests, all batch sizes", models, n,
           OFF(request_success), FIELD_COUNT);

    inferd_buf_append_str(out, "# HELP nv_inference_request_failure Number of failed inference "
                               "requests, all batch sizes\n"
                               "# TYPE nv_inference_request_failure counter\n");
    for (size_t i = 0; i < n; i++) {
        for (int r = 0; r < INFERD_FAIL_COUNT_; r++) {
            inferd_buf_append_str(out, "nv_inference_request_failure{");
            model_labels(out, &models[i]);
            inferd_buf_printf(out, ",reason=\"%s\"} %llu\n",
                              inferd_fail_reason_name((inferd_fail_reason_t)r),
                              (unsigned long long)load(&models[i].stats->request_failure[r]));
        }
    }
    family(out, "nv_inference_count", "counter",
           "Number of inferences performed (does not include cached requests)", models, n,
           OFF(inference_count), FIELD_COUNT);
    family(out, "nv_inference_exec_count", "counter",
           "Number of model executions performed (does not include cached requests)", models, n,
           OFF(exec_count), FIELD_COUNT);
    family(out, "nv_inference_pending_request_count", "gauge",
           "Instantaneous number of pending requests awaiting execution per-model.", models, n,
           OFF(pending), FIELD_COUNT);
    family(out, "nv_inference_request_duration_us", "counter",
           "Cumulative inference request duration in microseconds (includes cached requests)",
           models, n, OFF(request_duration_ns), FIELD_NS_AS_US);
    family(out, "nv_inference_queue_duration_us", "counter",
           "Cumulative inference queuing duration in microseconds (includes cached requests)",
           models, n, OFF(queue_duration_ns), FIELD_NS_AS_US);
    family(out, "nv_inference_compute_input_duration_us", "counter",
           "Cumulative compute input duration in microseconds (does not include cached "
           "requests)",
           models, n, OFF(compute_input_ns), FIELD_NS_AS_US);
    family(out, "nv_inference_compute_infer_duration_us", "counter",
           "Cumulative compute inference duration in microseconds (does not include cached "
           "requests)",
           models, n, OFF(compute_infer_ns), FIELD_NS_AS_US);
    family(out, "nv_inference_compute_output_duration_us", "counter",
           "Cumulative inference compute output duration in microseconds (does not include "
           "cached requests)",
           models, n, OFF(compute_output_ns), FIELD_NS_AS_US);
    histogram_family(out, "inferd_request_duration_seconds",
                     "End-to-end request latency (receipt to response), successful or not.", models,
                     n, OFF(request_hist));
    histogram_family(out, "inferd_queue_duration_seconds",
                     "Time requests waited in the model's queue before a worker took them.", models,
                     n, OFF(queue_hist));
    histogram_family(out, "inferd_compute_infer_duration_seconds",
                     "Time of each model execution in the backend.", models, n,
                     OFF(compute_infer_hist));
    family(out, "inferd_model_stalled", "gauge",
           "1 while requests wait and the model has made no progress for longer than "
           "--stall-timeout-secs (the model is then not ready), else 0.",
           models, n, OFF(stalled), FIELD_COUNT);
    process_metrics(out);
}
