/* Logging: one line per event on stderr, as JSON objects (default: machines read them)
 * or as text for humans (--log-format text). Every line has ts, level and msg; the access
 * log line of a request adds request_id, model_name, model_version, latency_ms,
 * status_code and, on failure, error. Each line is written with a single write(2) so
 * lines from different threads never interleave. */
#ifndef INFERD_OBS_LOG_H
#define INFERD_OBS_LOG_H

#include <stdbool.h>
#include <stdint.h>

#include "inferd/status.h"

typedef enum {
    INFERD_LOG_ERROR = 0,
    INFERD_LOG_WARN,
    INFERD_LOG_INFO,
    INFERD_LOG_VERBOSE,
} inferd_log_level_t;

typedef enum {
    INFERD_LOG_FORMAT_JSON = 0,
    INFERD_LOG_FORMAT_TEXT,
} inferd_log_format_t;

/* Sets the format and verbosity (0 = info and above; >= 1 adds verbose lines). Call
 * before starting threads; later changes are atomic and may come from any thread. */
void inferd_log_configure(inferd_log_format_t format, int verbose);

/* True if lines of level are written now (the settings below may turn any level off). */
bool inferd_log_enabled(inferd_log_level_t level);

/* The run-time settings of Triton's logging extension (GET/POST /v2/logging). */
typedef struct inferd_log_settings {
    bool log_info; /* info lines, including the access log */
    bool log_warning;
    bool log_error;
    int log_verbose_level;  /* 0 = off; >= 1 adds verbose lines */
    const char *log_format; /* "json" or "text" (inferd's), "default" or "ISO8601" (Triton's,
                             * both written as text lines with ISO-8601 timestamps) */
} inferd_log_settings_t;

/* Fills out with the current settings; log_format points to a static string. Thread: any. */
void inferd_log_get_settings(inferd_log_settings_t *out);

/* Replaces every setting at once (each one is an atomic store, so a line being written
 * concurrently may still use the old format). INVALID_ARG, with nothing changed, for an
 * unknown log_format or a negative log_verbose_level. Thread: any. */
inferd_status_t inferd_log_set_settings(const inferd_log_settings_t *s, inferd_err_t *err);

/* Logs a message at level. Thread-safe. */
void inferd_log(inferd_log_level_t level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* The access-log record of one finished request. Strings may be NULL. */
typedef struct inferd_log_request {
    const char *request_id;
    const char *method;
    const char *path;
    const char *model_name;
    const char *model_version;
    double latency_ms;
    int status_code;
    const char *error;    /* NULL on success */
    const char *trace_id; /* 32 hex digits, or NULL */
} inferd_log_request_t;

void inferd_log_request(const inferd_log_request_t *r);

#endif
