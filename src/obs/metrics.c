/* Prometheus text exposition (format 0.0.4) of model statistics and process gauges. */
#include "obs/metrics.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/thread.h"
#include "inferd/tensor.h"

void inferd_model_stats_init(inferd_model_stats_t *s)
{
    memset(s, 0, sizeof(*s));
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
    } else if (reason < INFERD_FAIL_COUNT_) {
        atomic_fetch_add_explicit(&s->request_failure[reason], 1, memory_order_relaxed);
    }
    atomic_fetch_add_explicit(&s->request_duration_ns, duration_ns, memory_order_relaxed);
}

void inferd_model_stats_record_queue(inferd_model_stats_t *s, uint64_t queue_ns)
{
    atomic_fetch_sub_explicit(&s->pending, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->queue_duration_ns, queue_ns, memory_order_relaxed);
}

void inferd_model_stats_record_exec(inferd_model_stats_t *s, uint64_t batch_size, uint64_t input_ns,
                                    uint64_t infer_ns, uint64_t output_ns)
{
    atomic_fetch_add_explicit(&s->exec_count, 1, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->inference_count, batch_size, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->compute_input_ns, input_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->compute_infer_ns, infer_ns, memory_order_relaxed);
    atomic_fetch_add_explicit(&s->compute_output_ns, output_ns, memory_order_relaxed);
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

static void process_metrics(inferd_buf_t *out)
{
    long rss_pages = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        if (fscanf(f, "%*d %ld", &rss_pages) != 1)
            rss_pages = 0;
        fclose(f);
    }
    struct timespec cpu;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &cpu);
    inferd_buf_printf(out,
                      "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
                      "# TYPE process_resident_memory_bytes gauge\n"
                      "process_resident_memory_bytes %ld\n"
                      "# HELP process_open_fds Number of open file descriptors.\n"
                      "# TYPE process_open_fds gauge\n"
                      "process_open_fds %zu\n"
                      "# HELP process_cpu_seconds_total Total user and system CPU time.\n"
                      "# TYPE process_cpu_seconds_total counter\n"
                      "process_cpu_seconds_total %.3f\n"
                      "# HELP inferd_threads OS threads in the process.\n"
                      "# TYPE inferd_threads gauge\n"
                      "inferd_threads %zu\n",
                      rss_pages * sysconf(_SC_PAGESIZE), count_fds(),
                      (double)cpu.tv_sec + (double)cpu.tv_nsec / 1e9, inferd_thread_os_count());

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
    process_metrics(out);
}
