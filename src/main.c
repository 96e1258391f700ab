/* inferd's entry point: options from defaults < --config file < environment (INFERD_*,
 * and the seed gateway's MAX_BATCH_SIZE) < command line, then the server. Option names
 * follow tritonserver where one exists. */
#include <errno.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"
#include "inferd/version.h"
#include "obs/log.h"
#include "server/server.h"

typedef enum { OPT_STR, OPT_INT, OPT_BOOL, OPT_LIST } opt_type_t;

typedef struct {
    const char *name; /* flag without the leading "--" */
    opt_type_t type;
    size_t offset;    /* into inferd_server_options_t */
    int64_t min, max; /* OPT_INT range */
    const char *help;
} opt_def_t;

#define O(f) offsetof(inferd_server_options_t, f)

static const opt_def_t opt_defs[] = {
    {"model-repository", OPT_LIST, O(model_repositories), 0, 0,
     "model repository directory (repeatable)"},
    {"http-address", OPT_STR, O(http_address), 0, 0, "HTTP listen address (0.0.0.0)"},
    {"http-port", OPT_INT, O(http_port), 1, 65535, "HTTP port (8000)"},
    {"http-thread-count", OPT_INT, O(http_thread_count), 0, 256,
     "HTTP I/O threads (0 = usable CPUs, at most 4)"},
    {"intra-op-threads", OPT_INT, O(intra_op_threads), 0, 256,
     "threads the embedded engine may use for one operator, the calling one included "
     "(0 = usable CPUs); a model's intra_op_thread_count parameter lowers it"},
    {"grpc-port", OPT_INT, O(grpc_port), 0, 65535, "gRPC port (8001; gRPC is not available yet)"},
    {"metrics-address", OPT_STR, O(metrics_address), 0, 0,
     "metrics listen address (the HTTP address)"},
    {"metrics-port", OPT_INT, O(metrics_port), 0, 65535,
     "port of a listener serving only /metrics (8002; 0 = off)"},
    {"model-control-mode", OPT_STR, O(model_control_mode), 0, 0,
     "none | poll | explicit (none): when models are loaded and reloaded"},
    {"repository-poll-secs", OPT_INT, O(repository_poll_secs), 1, 86400,
     "poll mode: seconds between repository scans (15)"},
    {"model-url", OPT_STR, O(model_url), 0, 0,
     "pure gateway: mirror and forward to this upstream v2 server (env MODEL_URL too)"},
    {"admin-token", OPT_STR, O(admin_token), 0, 0,
     "model load/unload and shm registration need 'Authorization: Bearer TOKEN'"},
    {"admin-loopback-only", OPT_BOOL, O(admin_loopback_only), 0, 0,
     "serve model load/unload and shm registration to loopback clients only (false)"},
    {"batch-eager-when-idle", OPT_BOOL, O(batch_eager_when_idle), 0, 0,
     "dispatch a batch before max_queue_delay when every client connection is waiting "
     "on a response (true)"},
    {"debug-address", OPT_STR, O(debug_address), 0, 0,
     "addresses or CIDR networks (comma-separated) that may read /debug besides loopback"},
    {"load-model", OPT_LIST, O(load_models), 0, 0,
     "explicit mode: model to load at start-up (repeatable; * = all)"},
    {"exit-timeout-secs", OPT_INT, O(exit_timeout_secs), 0, 3600,
     "seconds in-flight requests get to finish at shutdown (30)"},
    {"log-verbose", OPT_INT, O(log_verbose), 0, 10, "verbose logging level (0)"},
    {"log-format", OPT_STR, O(log_format), 0, 0, "json | text (json)"},
    {"http-max-input-size", OPT_INT, O(http_max_input_size), 1, 1ll << 40,
     "largest request body in bytes (67108864)"},
    {"max-tensor-elements", OPT_INT, O(max_tensor_elements), 1, 1ll << 40,
     "most elements in one tensor (67108864)"},
    {"max-json-depth", OPT_INT, O(max_json_depth), 2, 10000, "deepest JSON nesting (100)"},
    {"max-inputs", OPT_INT, O(max_inputs), 1, 65536, "most inputs or outputs in one request (128)"},
    {"http-max-connections", OPT_INT, O(http_max_connections), 1, 1 << 20,
     "most open HTTP connections (1024)"},
    {"http-idle-timeout-secs", OPT_INT, O(http_idle_timeout_secs), 0, 86400,
     "close idle HTTP connections after this many seconds (120; 0 = never)"},
    {"default-max-batch-size", OPT_INT, O(default_max_batch_size), 0, 1 << 20,
     "max_batch_size auto-complete gives batchable models (4)"},
    {"max-queue-size", OPT_INT, O(max_queue_size), 1, 1 << 24,
     "queued requests per model version when its config sets none (1024)"},
    {"strict-readiness", OPT_BOOL, O(strict_readiness), 0, 0,
     "ready only when every model is ready (true)"},
    {"stall-timeout-secs", OPT_INT, O(stall_timeout_secs), 0, 86400,
     "a model with requests waiting and no progress for this long is not ready (30; 0 = off)"},
    {"allow-client-shm", OPT_BOOL, O(allow_client_shm), 0, 0,
     "let clients register system shared-memory regions (false)"},
    {"trace-endpoint", OPT_STR, O(trace_endpoint), 0, 0,
     "OTLP/HTTP URL spans are exported to, e.g. http://127.0.0.1:4318/v1/traces (none)"},
    {"trace-level", OPT_STR, O(trace_level), 0, 0,
     "OFF | TIMESTAMPS (TIMESTAMPS with --trace-endpoint, else OFF)"},
    {"trace-rate", OPT_INT, O(trace_rate), 1, 4294967295ll,
     "trace 1 in N requests that bring no traceparent (1000)"},
    {"trace-count", OPT_INT, O(trace_count), -1, 2147483647ll,
     "traces to take before tracing stops (-1 = unlimited)"},
    {"trace-buffer-spans", OPT_INT, O(trace_buffer_spans), 16, 1 << 20,
     "spans buffered for export; beyond that they are dropped and counted (4096)"},
};

#define N_OPTS (sizeof(opt_defs) / sizeof(opt_defs[0]))

/* Strings read from a config file live until exit. */
static char *owned[256];
static size_t n_owned;

static const opt_def_t *find_opt(const char *name, size_t len)
{
    for (size_t i = 0; i < N_OPTS; i++)
        if (strlen(opt_defs[i].name) == len && memcmp(opt_defs[i].name, name, len) == 0)
            return &opt_defs[i];
    return NULL;
}

static bool parse_bool(const char *v, bool *out)
{
    if (!strcmp(v, "true") || !strcmp(v, "1") || !strcmp(v, "yes") || !strcmp(v, "on"))
        *out = true;
    else if (!strcmp(v, "false") || !strcmp(v, "0") || !strcmp(v, "no") || !strcmp(v, "off"))
        *out = false;
    else
        return false;
    return true;
}

/* Applies one value; `from` names where it came from, for the message. */
static bool set_opt(inferd_server_options_t *o, const opt_def_t *d, const char *v, const char *from)
{
    void *field = (char *)o + d->offset;
    switch (d->type) {
    case OPT_STR: *(const char **)field = v; return true;
    case OPT_LIST: {
        inferd_str_list_t *list = field;
        if (list->n >= INFERD_MAX_LIST_OPTION) {
            fprintf(stderr, "inferd: %s: too many --%s (at most %d)\n", from, d->name,
                    INFERD_MAX_LIST_OPTION);
            return false;
        }
        list->items[list->n++] = v;
        return true;
    }
    case OPT_BOOL:
        if (!parse_bool(v, (bool *)field)) {
            fprintf(stderr, "inferd: %s: --%s takes true or false, got '%s'\n", from, d->name, v);
            return false;
        }
        return true;
    case OPT_INT: {
        char *end;
        errno = 0;
        long long x = strtoll(v, &end, 10);
        if (errno || end == v || *end || x < d->min || x > d->max) {
            fprintf(stderr, "inferd: %s: --%s takes an integer in [%lld, %lld], got '%s'\n", from,
                    d->name, (long long)d->min, (long long)d->max, v);
            return false;
        }
        *(int64_t *)field = x;
        return true;
    }
    }
    return false;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\n' || s[n - 1] == '\r'))
        s[--n] = '\0';
    return s;
}

/* `name = value` lines with # comments; names are the flag names. */
static bool load_config_file(inferd_server_options_t *o, const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "inferd: cannot open config file %s: %s\n", path, strerror(errno));
        return false;
    }
    char line[4096];
    int lineno = 0;
    bool ok = true;
    while (ok && fgets(line, sizeof(line), f)) {
        lineno++;
        char *s = trim(line);
        if (!*s || *s == '#')
            continue;
        char *eq = strchr(s, '=');
        char where[512];
        snprintf(where, sizeof(where), "%s:%d", path, lineno);
        if (!eq) {
            fprintf(stderr, "inferd: %s: expected 'name = value'\n", where);
            ok = false;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *val = trim(eq + 1);
        const opt_def_t *d = find_opt(key, strlen(key));
        if (!d) {
            fprintf(stderr, "inferd: %s: unknown option '%s'\n", where, key);
            ok = false;
            break;
        }
        if (n_owned == sizeof(owned) / sizeof(owned[0])) {
            fprintf(stderr, "inferd: %s: too many options\n", where);
            ok = false;
            break;
        }
        owned[n_owned] = inferd_xstrdup(val);
        ok = set_opt(o, d, owned[n_owned++], where);
    }
    fclose(f);
    return ok;
}

static bool load_env(inferd_server_options_t *o)
{
    for (size_t i = 0; i < N_OPTS; i++) {
        char name[96] = "INFERD_";
        size_t n = strlen(name);
        for (const char *p = opt_defs[i].name; *p && n < sizeof(name) - 1; p++)
            name[n++] = *p == '-' ? '_' : (char)(*p >= 'a' && *p <= 'z' ? *p - 32 : *p);
        name[n] = '\0';
        const char *v = getenv(name);
        if (v && !set_opt(o, &opt_defs[i], v, name))
            return false;
    }
    const char *url = getenv("MODEL_URL");
    if (url && *url && !o->model_url)
        o->model_url = url; /* the seed gateway's variable; INFERD_MODEL_URL wins */
    const char *mbs = getenv("MAX_BATCH_SIZE");
    if (mbs && !set_opt(o, find_opt("default-max-batch-size", 22), mbs, "MAX_BATCH_SIZE"))
        return false;
    return true;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: inferd --model-repository DIR [options]\n\n"
                 "Serves ONNX models over the KServe v2 protocol.\n\noptions:\n");
    for (size_t i = 0; i < N_OPTS; i++)
        fprintf(out, "  --%-24s %s\n", opt_defs[i].name, opt_defs[i].help);
    fprintf(out, "  --%-24s %s\n  --%-24s %s\n  --%-24s %s\n  --%-24s %s\n", "config FILE",
            "read 'name = value' options from FILE", "check-repository DIR",
            "load every model of DIR offline, print each problem, exit 1 if any", "version",
            "print the version", "help", "print this help");
    fprintf(out, "\nEach option may also come from the environment as INFERD_<NAME> (e.g.\n"
                 "INFERD_HTTP_PORT=8080). Precedence: defaults < config file < environment <\n"
                 "command line.\n");
}

/* Splits "--name=value" or "--name value". Returns the index of the next argument, or -1. */
static int take_flag(int argc, char **argv, int i, const char **name, size_t *name_len,
                     const char **value)
{
    const char *a = argv[i] + 2;
    const char *eq = strchr(a, '=');
    *name = a;
    *name_len = eq ? (size_t)(eq - a) : strlen(a);
    if (eq) {
        *value = eq + 1;
        return i + 1;
    }
    const opt_def_t *d = find_opt(a, *name_len);
    bool needs_value = !(d && d->type == OPT_BOOL) && strcmp(a, "help") && strcmp(a, "version");
    bool ignored;
    if (d && d->type == OPT_BOOL && i + 1 < argc && parse_bool(argv[i + 1], &ignored)) {
        /* tritonserver style: "--strict-readiness false" as well as "=false". */
        *value = argv[i + 1];
        return i + 2;
    }
    if (!needs_value) {
        *value = NULL;
        return i + 1;
    }
    if (i + 1 >= argc) {
        fprintf(stderr, "inferd: --%s needs a value\n", a);
        return -1;
    }
    *value = argv[i + 1];
    return i + 2;
}

static int run(int argc, char **argv)
{
    inferd_server_options_t opt;
    inferd_server_options_init(&opt);

    /* The config file comes first, whatever its position among the flags. */
    for (int i = 1; i < argc; i++) {
        const char *cfg = NULL;
        if (strncmp(argv[i], "--config=", 9) == 0)
            cfg = argv[i] + 9;
        else if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            cfg = argv[i + 1];
        if (cfg && !load_config_file(&opt, cfg))
            return 2;
    }
    if (!load_env(&opt))
        return 2;
    /* Repositories named on the command line replace those from the file/environment. */
    /* Lists named on the command line replace those from the file or the environment. */
    bool cli_list[N_OPTS] = {false};
    const char *check_repository = NULL;
    for (int i = 1; i < argc;) {
        if (strncmp(argv[i], "--", 2) != 0) {
            fprintf(stderr, "inferd: unexpected argument '%s' (see --help)\n", argv[i]);
            return 2;
        }
        const char *name, *value;
        size_t len;
        int next = take_flag(argc, argv, i, &name, &len, &value);
        if (next < 0)
            return 2;
        i = next;
        if (len == 4 && !memcmp(name, "help", 4)) {
            usage(stdout);
            return 0;
        }
        if (len == 7 && !memcmp(name, "version", 7)) {
            printf("inferd %s\n", INFERD_VERSION_STRING);
            return 0;
        }
        if (len == 6 && !memcmp(name, "config", 6))
            continue;
        if (len == 16 && !memcmp(name, "check-repository", 16)) {
            check_repository = value;
            continue;
        }
        const opt_def_t *d = find_opt(name, len);
        if (!d) {
            fprintf(stderr, "inferd: unknown option '--%.*s' (see --help)\n", (int)len, name);
            return 2;
        }
        if (d->type == OPT_LIST && !cli_list[d - opt_defs]) {
            ((inferd_str_list_t *)((char *)&opt + d->offset))->n = 0;
            cli_list[d - opt_defs] = true;
        }
        if (!set_opt(&opt, d, value ? value : "true", "command line"))
            return 2;
    }
    if (check_repository) {
        opt.model_repositories.n = 0;
        opt.model_repositories.items[opt.model_repositories.n++] = check_repository;
        inferd_log_configure(INFERD_LOG_FORMAT_TEXT, (int)opt.log_verbose);
        return inferd_server_check_repository(&opt);
    }
    if (opt.model_repositories.n == 0 && !opt.model_url) {
        fprintf(stderr, "inferd: --model-repository or --model-url is required (see --help)\n");
        return 2;
    }
    if (strcmp(opt.log_format, "json") != 0 && strcmp(opt.log_format, "text") != 0) {
        fprintf(stderr, "inferd: --log-format takes json or text, got '%s'\n", opt.log_format);
        return 2;
    }
    inferd_log_configure(strcmp(opt.log_format, "text") == 0 ? INFERD_LOG_FORMAT_TEXT
                                                             : INFERD_LOG_FORMAT_JSON,
                         (int)opt.log_verbose);
    return inferd_server_run(&opt);
}

int main(int argc, char **argv)
{
    int rc = run(argc, argv);
    for (size_t i = 0; i < n_owned; i++)
        inferd_free(owned[i]);
    return rc;
}
