/* Logging (see log.h). */
#include "obs/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/buf.h"

static atomic_int log_format = INFERD_LOG_FORMAT_JSON;
static atomic_int log_verbose = 0;
/* Which name /v2/logging reports: an index into format_names. Triton's names select text. */
static atomic_int log_format_name = 0;
/* Bit per inferd_log_level_t below VERBOSE (verbose is governed by log_verbose). */
static atomic_uint log_levels_on =
    (1u << INFERD_LOG_ERROR) | (1u << INFERD_LOG_WARN) | (1u << INFERD_LOG_INFO);

static const char *level_name[] = {"error", "warning", "info", "verbose"};

static const struct {
    const char *name;
    inferd_log_format_t format;
} format_names[] = {
    {"json", INFERD_LOG_FORMAT_JSON},
    {"text", INFERD_LOG_FORMAT_TEXT},
    {"default", INFERD_LOG_FORMAT_TEXT},
    {"ISO8601", INFERD_LOG_FORMAT_TEXT},
};

void inferd_log_configure(inferd_log_format_t format, int verbose)
{
    atomic_store(&log_format, (int)format);
    atomic_store(&log_format_name, format == INFERD_LOG_FORMAT_TEXT ? 1 : 0);
    atomic_store(&log_verbose, verbose);
}

bool inferd_log_enabled(inferd_log_level_t level)
{
    if (level == INFERD_LOG_VERBOSE)
        return atomic_load(&log_verbose) > 0;
    return (atomic_load(&log_levels_on) & (1u << level)) != 0;
}

void inferd_log_get_settings(inferd_log_settings_t *out)
{
    unsigned on = atomic_load(&log_levels_on);
    out->log_info = (on & (1u << INFERD_LOG_INFO)) != 0;
    out->log_warning = (on & (1u << INFERD_LOG_WARN)) != 0;
    out->log_error = (on & (1u << INFERD_LOG_ERROR)) != 0;
    out->log_verbose_level = atomic_load(&log_verbose);
    out->log_format = format_names[atomic_load(&log_format_name)].name;
}

inferd_status_t inferd_log_set_settings(const inferd_log_settings_t *s, inferd_err_t *err)
{
    int fmt = -1;
    for (size_t i = 0; i < sizeof(format_names) / sizeof(format_names[0]); i++)
        if (s->log_format && strcmp(s->log_format, format_names[i].name) == 0)
            fmt = (int)i;
    if (fmt < 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "log_format must be one of \"default\", \"ISO8601\", \"json\", "
                              "\"text\"");
    if (s->log_verbose_level < 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "log_verbose_level must be a non-negative integer");
    unsigned on = (s->log_error ? 1u << INFERD_LOG_ERROR : 0) |
                  (s->log_warning ? 1u << INFERD_LOG_WARN : 0) |
                  (s->log_info ? 1u << INFERD_LOG_INFO : 0);
    atomic_store(&log_levels_on, on);
    atomic_store(&log_verbose, s->log_verbose_level);
    atomic_store(&log_format_name, fmt);
    atomic_store(&log_format, (int)format_names[fmt].format);
    return INFERD_OK;
}

/* ISO-8601 UTC with microseconds: 2026-11-29T20:38:55.123456Z */
static void format_ts(char *out, size_t cap)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    gmtime_r(&ts.tv_sec, &tm);
    size_t n = strftime(out, cap, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, cap - n, ".%06ldZ", ts.tv_nsec / 1000);
}

static void begin_line(inferd_buf_t *b, inferd_log_level_t level, const char *msg)
{
    char ts[40];
    format_ts(ts, sizeof(ts));
    if (atomic_load(&log_format) == INFERD_LOG_FORMAT_TEXT) {
        inferd_buf_printf(b, "%s %-7s %s", ts, level_name[level], msg);
        return;
    }
    inferd_buf_printf(b, "{\"ts\":\"%s\",\"level\":\"%s\",\"msg\":", ts, level_name[level]);
    inferd_buf_append_json_str(b, msg, strlen(msg));
}

static void add_str(inferd_buf_t *b, const char *key, const char *val)
{
    if (!val)
        return;
    if (atomic_load(&log_format) == INFERD_LOG_FORMAT_TEXT) {
        inferd_buf_printf(b, " %s=%s", key, val);
        return;
    }
    inferd_buf_printf(b, ",\"%s\":", key);
    inferd_buf_append_json_str(b, val, strlen(val));
}

static void add_raw(inferd_buf_t *b, const char *key, const char *fmt_val)
{
    if (atomic_load(&log_format) == INFERD_LOG_FORMAT_TEXT)
        inferd_buf_printf(b, " %s=%s", key, fmt_val);
    else
        inferd_buf_printf(b, ",\"%s\":%s", key, fmt_val);
}

static void end_line(inferd_buf_t *b)
{
    if (atomic_load(&log_format) == INFERD_LOG_FORMAT_JSON)
        inferd_buf_append_char(b, '}');
    inferd_buf_append_char(b, '\n');
    if (b->failed || !b->data)
        return;
    /* One write per line; a short write to a pipe is retried for the rest. */
    size_t off = 0;
    while (off < b->len) {
        ssize_t n = write(STDERR_FILENO, b->data + off, b->len - off);
        if (n <= 0)
            break;
        off += (size_t)n;
    }
}

void inferd_log(inferd_log_level_t level, const char *fmt, ...)
{
    if (!inferd_log_enabled(level))
        return;
    char msg[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    inferd_buf_t b;
    inferd_buf_init(&b, 1 << 16);
    begin_line(&b, level, msg);
    end_line(&b);
    inferd_buf_deinit(&b);
}

void inferd_log_request(const inferd_log_request_t *r)
{
    inferd_log_level_t level = r->status_code >= 500 ? INFERD_LOG_WARN : INFERD_LOG_INFO;
    if (!inferd_log_enabled(level))
        return;
    inferd_buf_t b;
    inferd_buf_init(&b, 1 << 16);
    begin_line(&b, level, "request");
    add_str(&b, "request_id", r->request_id);
    add_str(&b, "method", r->method);
    add_str(&b, "path", r->path);
    add_str(&b, "model_name", r->model_name);
    add_str(&b, "model_version", r->model_version);
    char num[64];
    snprintf(num, sizeof(num), "%.3f", r->latency_ms);
    add_raw(&b, "latency_ms", num);
    snprintf(num, sizeof(num), "%d", r->status_code);
    add_raw(&b, "status_code", num);
    add_str(&b, "trace_id", r->trace_id);
    add_str(&b, "error", r->error);
    end_line(&b);
    inferd_buf_deinit(&b);
}
