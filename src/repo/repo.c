/* Model repository (see repo.h): directory scan, version policy, loading, lookup. */
#include "repo/repo.h"
#include "repo/repo_int.h"

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <limits.h>
#include <sys/stat.h>

#include "backends/registry.h"
#include "core/alloc.h"
#include "core/thread.h"
#include "obs/log.h"

#define CONFIG_FILE_MAX (1u << 20)

const char *inferd_model_state_name(inferd_model_state_t s)
{
    switch (s) {
    case INFERD_MODEL_STATE_LOADING: return "LOADING";
    case INFERD_MODEL_STATE_READY: return "READY";
    case INFERD_MODEL_STATE_UNAVAILABLE: return "UNAVAILABLE";
    case INFERD_MODEL_STATE_UNKNOWN: break;
    }
    return "UNKNOWN";
}

/* ------------------------------------------------------------------------------------ */
/* Model versions                                                                       */

inferd_model_version_t *inferd_model_version_ref(inferd_model_version_t *mv)
{
    if (mv)
        atomic_fetch_add_explicit(&mv->_refs, 1, memory_order_relaxed);
    return mv;
}

static void model_version_free(inferd_model_version_t *mv)
{
    inferd_sched_destroy(mv->sched);
    if (mv->backend_state)
        mv->backend->unload(mv->backend_state);
    for (size_t j = 0; mv->output_labels && j < mv->config.n_outputs; j++)
        inferd_labels_deinit(&mv->output_labels[j]);
    inferd_free(mv->output_labels);
    inferd_model_config_deinit(&mv->config);
    inferd_free(mv->input_map);
    inferd_free(mv->output_map);
    inferd_free(mv->name);
    inferd_free(mv);
}

void inferd_model_version_unref(inferd_model_version_t *mv)
{
    if (mv && atomic_fetch_sub_explicit(&mv->_refs, 1, memory_order_acq_rel) == 1) {
        inferd_log(INFERD_LOG_INFO, "unloaded model '%s' version %s", mv->name, mv->version_str);
        model_version_free(mv);
    }
}

/* Reads a whole small file. NOT_FOUND if it does not exist. */
static inferd_status_t read_file(const char *path, size_t max, char **out, size_t *len,
                                 inferd_err_t *err)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        return inferd_err_set(err, errno == ENOENT ? INFERD_E_NOT_FOUND : INFERD_E_INVALID_ARG,
                              "cannot open %s: %s", path, strerror(errno));
    char *buf = inferd_xmalloc(max + 1);
    size_t n = fread(buf, 1, max + 1, f);
    bool bad = ferror(f);
    fclose(f);
    if (bad || n > max) {
        inferd_free(buf);
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s: %s", path,
                              bad ? "read error" : "file too large");
    }
    buf[n] = '\0';
    *out = buf;
    *len = n;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Label files (classification extension)                                               */

void inferd_labels_deinit(inferd_labels_t *labels)
{
    if (!labels)
        return;
    inferd_free(labels->text);
    inferd_free(labels->lines);
    memset(labels, 0, sizeof(*labels));
}

/* True if filename is relative and has no ".." component, so it names something below the
 * model directory unless a symbolic link leads out (checked after resolving). */
static bool label_name_is_local(const char *filename)
{
    if (!filename[0] || filename[0] == '/')
        return false;
    for (const char *p = filename; *p;) {
        size_t n = strcspn(p, "/");
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return false;
        p += n;
        if (*p == '/')
            p++;
    }
    return true;
}

inferd_status_t inferd_labels_load(const char *model_dir, const char *filename,
                                   inferd_labels_t *out, inferd_err_t *err)
{
    memset(out, 0, sizeof(*out));
    if (!label_name_is_local(filename))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "label_filename '%s' must be a relative path inside the model "
                              "directory",
                              filename);
    char path[PATH_MAX], real_dir[PATH_MAX], real_file[PATH_MAX];
    if ((size_t)snprintf(path, sizeof(path), "%s/%s", model_dir, filename) >= sizeof(path))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "label_filename '%s': path too long",
                              filename);
    if (!realpath(model_dir, real_dir))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "cannot resolve %s: %s", model_dir,
                              strerror(errno));
    if (!realpath(path, real_file))
        return inferd_err_set(err, errno == ENOENT ? INFERD_E_NOT_FOUND : INFERD_E_INVALID_ARG,
                              "label_filename '%s': cannot open %s: %s", filename, path,
                              strerror(errno));
    size_t dl = strlen(real_dir);
    if (strncmp(real_file, real_dir, dl) != 0 || real_file[dl] != '/')
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "label_filename '%s' resolves to %s, outside the model directory",
                              filename, real_file);
    FILE *f = fopen(real_file, "rb");
    if (!f)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "label_filename '%s': cannot open: %s",
                              filename, strerror(errno));
    struct stat sb;
    if (fstat(fileno(f), &sb) != 0 || !S_ISREG(sb.st_mode) ||
        (uint64_t)sb.st_size > INFERD_LABELS_MAX_BYTES) {
        fclose(f);
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "label_filename '%s': not a regular file of at most %u bytes",
                              filename, INFERD_LABELS_MAX_BYTES);
    }
    size_t size = (size_t)sb.st_size;
    char *text = inferd_xmalloc(size + 1);
    size_t n = fread(text, 1, size + 1, f);
    bool bad = ferror(f) || n != size;
    fclose(f);
    if (bad) {
        inferd_free(text);
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "label_filename '%s': read error (or the file changed size)",
                              filename);
    }
    text[n] = '\0';
    size_t count = 0;
    for (size_t i = 0; i < n; i++)
        count += text[i] == '\n';
    if (n && text[n - 1] != '\n')
        count++;
    if (count > INFERD_LABELS_MAX_COUNT) {
        inferd_free(text);
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "label_filename '%s' has %zu lines, more than the limit of %u",
                              filename, count, INFERD_LABELS_MAX_COUNT);
    }
    const char **lines = inferd_xcalloc(count ? count : 1, sizeof(char *));
    size_t k = 0;
    for (char *p = text; k < count; k++) {
        char *nl = strchr(p, '\n');
        lines[k] = p;
        if (nl) {
            *nl = '\0';
            if (nl > p && nl[-1] == '\r')
                nl[-1] = '\0';
            p = nl + 1;
        }
    }
    out->text = text;
    out->lines = lines;
    out->n = count;
    return INFERD_OK;
}

/* Loads the label file of every output that names one. */
static inferd_status_t load_output_labels(const repo_model_t *m, inferd_model_version_t *mv,
                                          inferd_err_t *err)
{
    size_t n = mv->config.n_outputs;
    mv->output_labels = inferd_xcalloc(n ? n : 1, sizeof(inferd_labels_t));
    for (size_t j = 0; j < n; j++) {
        const char *fn = mv->config.outputs[j].label_filename;
        if (!fn)
            continue;
        inferd_status_t st = inferd_labels_load(m->path, fn, &mv->output_labels[j], err);
        if (st != INFERD_OK) {
            inferd_err_prefix(err, "output '%s'", mv->config.outputs[j].name);
            return st;
        }
    }
    return INFERD_OK;
}

/* Finds each config tensor in the backend's list by name. */
static inferd_status_t build_map(const char *what, const inferd_model_io_t *cfg_io, size_t n_cfg,
                                 const inferd_backend_io_t *be_io, size_t n_be, size_t **out,
                                 inferd_err_t *err)
{
    size_t *map = inferd_xcalloc(n_cfg ? n_cfg : 1, sizeof(size_t));
    for (size_t i = 0; i < n_cfg; i++) {
        size_t j = 0;
        while (j < n_be && strcmp(be_io[j].name, cfg_io[i].name) != 0)
            j++;
        if (j == n_be) {
            inferd_free(map);
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "config %s '%s' is not in the model",
                                  what, cfg_io[i].name);
        }
        map[i] = j;
    }
    *out = map;
    return INFERD_OK;
}

/* Loads one version. On failure returns the status with the reason in err. */
static inferd_status_t load_version(inferd_repo_t *repo, const repo_model_t *m,
                                    const char *config_text, size_t config_len, int64_t version,
                                    inferd_model_version_t **out, inferd_err_t *err)
{
    inferd_model_version_t *mv = inferd_xcalloc(1, sizeof(*mv));
    atomic_init(&mv->_refs, 1);
    mv->name = inferd_xstrdup(m->name);
    mv->version = version;
    snprintf(mv->version_str, sizeof(mv->version_str), "%lld", (long long)version);
    inferd_model_config_init(&mv->config);
    inferd_model_stats_init(&mv->stats);

    inferd_status_t st = INFERD_OK;
    if (config_text)
        st = inferd_model_config_parse(config_text, config_len,
                                       m->config_override ? "config override" : "config.pbtxt",
                                       &mv->config, err);

    const char *filename = "model.onnx";
    if (st == INFERD_OK && mv->config.default_model_filename &&
        mv->config.default_model_filename[0])
        filename = mv->config.default_model_filename;
    char path[4096];
    if (st == INFERD_OK && (strchr(filename, '/') || strcmp(filename, "..") == 0))
        st = inferd_err_set(err, INFERD_E_INVALID_ARG,
                            "default_model_filename '%s' must be a "
                            "plain file name",
                            filename);
    if (st == INFERD_OK) {
        snprintf(path, sizeof(path), "%s/%lld/%s", m->path, (long long)version, filename);
        /* Triton's layout also allows model.onnx to be a directory holding model.onnx. */
        struct stat sb;
        if (stat(path, &sb) == 0 && S_ISDIR(sb.st_mode))
            snprintf(path, sizeof(path), "%s/%lld/%s/%s", m->path, (long long)version, filename,
                     filename);
        const char *be = mv->config.backend, *pf = mv->config.platform;
        if ((!be || !*be) && (!pf || !*pf))
            be = "onnxruntime"; /* auto-complete: a model.onnx means the ONNX backend */
        st = inferd_backend_find(be, pf, &mv->backend, err);
    }
    if (st == INFERD_OK) {
        const char **keys = inferd_xcalloc(mv->config.n_parameters + 1, sizeof(char *));
        const char **vals = inferd_xcalloc(mv->config.n_parameters + 1, sizeof(char *));
        for (size_t i = 0; i < mv->config.n_parameters; i++) {
            keys[i] = mv->config.parameters[i].key;
            vals[i] = mv->config.parameters[i].value;
        }
        inferd_backend_params_t params = {keys, vals, mv->config.n_parameters};
        st = mv->backend->load(path, &params, &mv->backend_state, err);
        inferd_free(keys);
        inferd_free(vals);
    }
    const inferd_backend_io_t *bin = NULL, *bout = NULL;
    size_t nbin = 0, nbout = 0;
    if (st == INFERD_OK) {
        mv->backend->describe(mv->backend_state, &bin, &nbin, &bout, &nbout);
        mv->n_backend_inputs = nbin;
        mv->n_backend_outputs = nbout;
        bool had_groups = mv->config.n_instance_groups > 0;
        st = inferd_model_config_complete(&mv->config, m->name, bin, nbin, bout, nbout,
                                          repo->default_max_batch_size, err);
        /* Triton's default instance count, but no more workers than usable CPUs. */
        int cpus = inferd_cpu_count();
        for (size_t g = 0; st == INFERD_OK && !had_groups && g < mv->config.n_instance_groups; g++)
            if (mv->config.instance_groups[g].count > cpus)
                mv->config.instance_groups[g].count = cpus;
    }
    if (st == INFERD_OK)
        st = build_map("input", mv->config.inputs, mv->config.n_inputs, bin, nbin, &mv->input_map,
                       err);
    if (st == INFERD_OK && mv->config.n_inputs != nbin) {
        /* Every model input must be fed, so the config must list them all. */
        for (size_t j = 0; j < nbin && st == INFERD_OK; j++) {
            bool found = false;
            for (size_t i = 0; i < mv->config.n_inputs; i++)
                found = found || mv->input_map[i] == j;
            if (!found)
                st = inferd_err_set(err, INFERD_E_INVALID_ARG,
                                    "model input '%s' is missing from the config", bin[j].name);
        }
    }
    if (st == INFERD_OK)
        st = build_map("output", mv->config.outputs, mv->config.n_outputs, bout, nbout,
                       &mv->output_map, err);
    if (st == INFERD_OK)
        st = load_output_labels(m, mv, err);
    if (st == INFERD_OK) {
        const inferd_model_config_t *c = &mv->config;
        const inferd_dynamic_batching_t *db = &c->dynamic_batching;
        const inferd_queue_policy_t *qp = &db->default_queue_policy;
        bool batching = c->has_dynamic_batching && c->max_batch_size > 0;
        inferd_sched_options_t so = {
            .model_name = mv->name,
            .version = version,
            .instance_count = inferd_model_config_instance_count(c),
            /* Admission is bounded with or without dynamic_batching. */
            .max_queue_size = c->has_dynamic_batching && qp->max_queue_size > 0
                                  ? qp->max_queue_size
                                  : repo->default_max_queue_size,
            .backend = mv->backend,
            .backend_state = mv->backend_state,
            .stats = &mv->stats,
            .dynamic_batching = batching,
            .max_batch_size = c->max_batch_size,
            .preferred_batch_sizes = db->preferred_batch_size,
            .n_preferred_batch_sizes = db->n_preferred_batch_size,
            .max_queue_delay_us = db->max_queue_delay_microseconds,
            .timeout_action = qp->timeout_action == INFERD_TIMEOUT_ACTION_DELAY
                                  ? INFERD_SCHED_TIMEOUT_DELAY
                                  : INFERD_SCHED_TIMEOUT_REJECT,
            .default_timeout_us = c->has_dynamic_batching ? qp->default_timeout_microseconds : 0,
            .allow_timeout_override = qp->allow_timeout_override,
        };
        st = inferd_sched_create(&so, &mv->sched, err);
    }
    if (st != INFERD_OK) {
        model_version_free(mv);
        return st;
    }
    *out = mv;
    return INFERD_OK;
}

/* Positive decimal names without a leading zero, as Triton. */
static bool parse_version_dir(const char *s, int64_t *v)
{
    if (!*s || *s == '0' || strlen(s) > 18)
        return false;
    int64_t x = 0;
    for (const char *p = s; *p; p++) {
        if (*p < '0' || *p > '9')
            return false;
        x = x * 10 + (*p - '0');
    }
    *v = x;
    return true;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Lists version directories, ascending. */
static size_t list_versions(const char *path, int64_t **out)
{
    size_t n = 0, cap = 0;
    int64_t *v = NULL;
    DIR *d = opendir(path);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        int64_t x;
        char sub[4096];
        struct stat sb;
        snprintf(sub, sizeof(sub), "%s/%s", path, e->d_name);
        if (!parse_version_dir(e->d_name, &x) || stat(sub, &sb) != 0 || !S_ISDIR(sb.st_mode))
            continue;
        v = inferd_xgrow(v, sizeof(*v), n + 1, &cap);
        v[n++] = x;
    }
    if (d)
        closedir(d);
    if (n)
        qsort(v, n, sizeof(*v), cmp_i64);
    *out = v;
    return n;
}

static void set_reason(char **dst, const char *msg)
{
    inferd_free(*dst);
    *dst = inferd_xstrdup(msg);
}

void repo_model_load(inferd_repo_t *repo, repo_model_t *m)
{
    inferd_err_t err;
    inferd_err_clear(&err);
    /* Taken before reading anything, so a change made during the load is seen next time. */
    m->fingerprint = repo_model_fingerprint(m->path);
    m->unloaded = false;
    char cfg_path[4096];
    snprintf(cfg_path, sizeof(cfg_path), "%s/config.pbtxt", m->path);
    char *text = NULL;
    size_t len = 0;
    inferd_status_t st = INFERD_OK;
    if (m->config_override) {
        len = strlen(m->config_override);
        text = inferd_xstrndup(m->config_override, len);
    } else {
        st = read_file(cfg_path, CONFIG_FILE_MAX, &text, &len, &err);
        if (st == INFERD_E_NOT_FOUND)
            st = INFERD_OK; /* auto-complete from the model file */
    }
    const char *source = m->config_override ? "config override" : "config.pbtxt";

    /* The version policy comes from the config, so parse it once up front. */
    inferd_model_config_t policy_cfg;
    inferd_model_config_init(&policy_cfg);
    if (st == INFERD_OK && text)
        st = inferd_model_config_parse(text, len, source, &policy_cfg, &err);
    if (st != INFERD_OK) {
        set_reason(&m->reason, err.msg);
        inferd_log(INFERD_LOG_ERROR, "model '%s' is unavailable: %s", m->name, err.msg);
        inferd_model_config_deinit(&policy_cfg);
        inferd_free(text);
        return;
    }

    int64_t *found = NULL;
    size_t n_found = list_versions(m->path, &found);
    /* Select by policy. */
    int64_t *sel = inferd_xcalloc(n_found + policy_cfg.n_specific_versions + 1, sizeof(int64_t));
    size_t n_sel = 0;
    switch (policy_cfg.version_policy) {
    case INFERD_VERSION_POLICY_ALL:
        for (size_t i = 0; i < n_found; i++)
            sel[n_sel++] = found[i];
        break;
    case INFERD_VERSION_POLICY_LATEST: {
        size_t k = policy_cfg.latest_num_versions ? policy_cfg.latest_num_versions : 1;
        for (size_t i = n_found > k ? n_found - k : 0; i < n_found; i++)
            sel[n_sel++] = found[i];
        break;
    }
    case INFERD_VERSION_POLICY_SPECIFIC:
        for (size_t i = 0; i < policy_cfg.n_specific_versions; i++)
            sel[n_sel++] = policy_cfg.specific_versions[i];
        qsort(sel, n_sel, sizeof(*sel), cmp_i64);
        break;
    }
    inferd_model_config_deinit(&policy_cfg);

    if (n_sel == 0) {
        set_reason(&m->reason, n_found ? "the version policy selects no version"
                                       : "no version directory (e.g. 1/model.onnx) found");
        inferd_log(INFERD_LOG_ERROR, "model '%s' is unavailable: %s", m->name, m->reason);
    }
    m->versions = inferd_xcalloc(n_sel ? n_sel : 1, sizeof(repo_version_t));
    for (size_t i = 0; i < n_sel; i++) {
        repo_version_t *rv = &m->versions[m->n_versions++];
        rv->version = sel[i];
        bool present = bsearch(&sel[i], found, n_found, sizeof(int64_t), cmp_i64) != NULL;
        inferd_err_clear(&err);
        int64_t t0 = inferd_now_ns();
        if (!present) {
            st = inferd_err_set(&err, INFERD_E_NOT_FOUND, "version directory %lld not found",
                                (long long)sel[i]);
        } else {
            st = load_version(repo, m, text, len, sel[i], &rv->mv, &err);
        }
        if (st == INFERD_OK) {
            rv->state = INFERD_MODEL_STATE_READY;
            inferd_log(INFERD_LOG_INFO, "loaded model '%s' version %lld in %.1f ms", m->name,
                       (long long)sel[i], (double)(inferd_now_ns() - t0) / 1e6);
        } else {
            rv->state = INFERD_MODEL_STATE_UNAVAILABLE;
            rv->reason = inferd_xstrdup(err.msg);
            inferd_log(INFERD_LOG_ERROR, "model '%s' version %lld is unavailable: %s", m->name,
                       (long long)sel[i], err.msg);
        }
    }
    inferd_free(sel);
    inferd_free(found);
    inferd_free(text);
}

/* ------------------------------------------------------------------------------------ */
/* Repository                                                                           */

inferd_status_t inferd_repo_create(const inferd_repo_options_t *opt, inferd_repo_t **out,
                                   inferd_err_t *err)
{
    inferd_repo_t *r = inferd_xcalloc(1, sizeof(*r));
    pthread_rwlock_init(&r->lock, NULL);
    r->roots = inferd_xcalloc(opt->n_roots + 1, sizeof(char *));
    for (size_t i = 0; i < opt->n_roots; i++)
        r->roots[i] = inferd_xstrdup(opt->roots[i]);
    r->n_roots = opt->n_roots;
    r->default_max_batch_size = opt->default_max_batch_size;
    r->default_max_queue_size = opt->default_max_queue_size ? opt->default_max_queue_size : 1024;
    r->mode = opt->mode;
    r->poll_secs = opt->poll_secs > 0 ? opt->poll_secs : 15;
    r->startup_models = inferd_xcalloc(opt->n_startup_models + 1, sizeof(char *));
    for (size_t i = 0; i < opt->n_startup_models; i++)
        r->startup_models[i] = inferd_xstrdup(opt->startup_models[i]);
    r->n_startup_models = opt->n_startup_models;
    pthread_mutex_init(&r->load_lock, NULL);
    pthread_mutex_init(&r->job_lock, NULL);
    pthread_cond_init(&r->job_cond, NULL);
    *out = r;
    (void)err;
    return INFERD_OK;
}

repo_model_t *repo_find_model(inferd_repo_t *r, const char *name)
{
    for (size_t i = 0; i < r->n_models; i++)
        if (strcmp(r->models[i].name, name) == 0)
            return &r->models[i];
    return NULL;
}

static int cmp_model(const void *a, const void *b)
{
    return strcmp(((const repo_model_t *)a)->name, ((const repo_model_t *)b)->name);
}

/* Whether the model is loaded at start: always, except in explicit mode, where only the
 * --load-model names are (or all, for "*"). */
static bool startup_wants(const inferd_repo_t *repo, const char *name)
{
    if (repo->mode != INFERD_MODEL_CONTROL_EXPLICIT)
        return true;
    for (size_t i = 0; i < repo->n_startup_models; i++)
        if (strcmp(repo->startup_models[i], "*") == 0 || strcmp(repo->startup_models[i], name) == 0)
            return true;
    return false;
}

inferd_status_t inferd_repo_load_all(inferd_repo_t *repo, inferd_err_t *err)
{
    repo_model_t *models = NULL;
    size_t n = 0, cap = 0;
    for (size_t ri = 0; ri < repo->n_roots; ri++) {
        DIR *d = opendir(repo->roots[ri]);
        if (!d) {
            for (size_t i = 0; i < n; i++) {
                inferd_free(models[i].name);
                inferd_free(models[i].path);
                inferd_free(models[i].reason);
            }
            inferd_free(models);
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "cannot read model repository %s: %s",
                                  repo->roots[ri], strerror(errno));
        }
        struct dirent *e;
        while ((e = readdir(d))) {
            if (e->d_name[0] == '.')
                continue;
            char path[4096];
            struct stat sb;
            snprintf(path, sizeof(path), "%s/%s", repo->roots[ri], e->d_name);
            if (stat(path, &sb) != 0 || !S_ISDIR(sb.st_mode))
                continue;
            repo_model_t *dup = NULL;
            for (size_t i = 0; i < n; i++)
                if (strcmp(models[i].name, e->d_name) == 0)
                    dup = &models[i];
            if (dup) {
                set_reason(&dup->reason, "the model name appears in more than one repository");
                continue;
            }
            models = inferd_xgrow(models, sizeof(*models), n + 1, &cap);
            memset(&models[n], 0, sizeof(models[n]));
            models[n].name = inferd_xstrdup(e->d_name);
            models[n].path = inferd_xstrdup(path);
            n++;
        }
        closedir(d);
    }
    if (n)
        qsort(models, n, sizeof(*models), cmp_model);
    for (size_t i = 0; i < n; i++) {
        if (models[i].reason)
            inferd_log(INFERD_LOG_ERROR, "model '%s' is unavailable: %s", models[i].name,
                       models[i].reason);
        else if (startup_wants(repo, models[i].name))
            repo_model_load(repo, &models[i]);
        else
            models[i].unloaded = true;
    }
    pthread_rwlock_wrlock(&repo->lock);
    repo->models = models;
    repo->n_models = n;
    repo->cap_models = cap;
    pthread_rwlock_unlock(&repo->lock);
    return INFERD_OK;
}

void repo_model_release_versions(repo_model_t *m)
{
    for (size_t j = 0; j < m->n_versions; j++) {
        inferd_model_version_unref(m->versions[j].mv);
        inferd_free(m->versions[j].reason);
    }
    inferd_free(m->versions);
    m->versions = NULL;
    m->n_versions = 0;
    inferd_free(m->reason);
    m->reason = NULL;
}

void repo_model_free(repo_model_t *m)
{
    repo_model_release_versions(m);
    inferd_free(m->name);
    inferd_free(m->path);
}

void inferd_repo_destroy(inferd_repo_t *repo)
{
    if (!repo)
        return;
    inferd_repo_stop_control(repo);
    for (size_t i = 0; i < repo->n_models; i++)
        repo_model_free(&repo->models[i]);
    inferd_free(repo->models);
    for (size_t i = 0; i < repo->n_roots; i++)
        inferd_free(repo->roots[i]);
    inferd_free(repo->roots);
    for (size_t i = 0; i < repo->n_startup_models; i++)
        inferd_free(repo->startup_models[i]);
    inferd_free(repo->startup_models);
    pthread_mutex_destroy(&repo->job_lock);
    pthread_cond_destroy(&repo->job_cond);
    pthread_mutex_destroy(&repo->load_lock);
    pthread_rwlock_destroy(&repo->lock);
    inferd_free(repo);
}

inferd_status_t inferd_repo_acquire(inferd_repo_t *repo, const char *name, int64_t version,
                                    inferd_model_version_t **out, inferd_err_t *err)
{
    inferd_status_t st = INFERD_OK;
    pthread_rwlock_rdlock(&repo->lock);
    repo_model_t *m = repo_find_model(repo, name);
    repo_version_t *rv = NULL;
    if (!m) {
        st = inferd_err_set(err, INFERD_E_NOT_FOUND, "unknown model '%s'", name);
    } else if (m->unloaded) {
        st = inferd_err_set(err, INFERD_E_NOT_FOUND, "model '%s' is not loaded", name);
    } else if (version >= 0) {
        for (size_t i = 0; i < m->n_versions; i++)
            if (m->versions[i].version == version)
                rv = &m->versions[i];
        if (!rv)
            st = inferd_err_set(err, INFERD_E_NOT_FOUND, "unknown version %lld of model '%s'",
                                (long long)version, name);
    } else {
        for (size_t i = m->n_versions; i-- > 0 && !rv;)
            if (m->versions[i].state == INFERD_MODEL_STATE_READY)
                rv = &m->versions[i];
        if (!rv)
            st = inferd_err_set(err, INFERD_E_UNAVAILABLE, "model '%s' is not ready: %s", name,
                                m->reason       ? m->reason
                                : m->n_versions ? m->versions[m->n_versions - 1].reason
                                                : "no version loaded");
    }
    if (rv && rv->state != INFERD_MODEL_STATE_READY) {
        st = inferd_err_set(err, INFERD_E_UNAVAILABLE, "model '%s' version %lld is not ready: %s",
                            name, (long long)rv->version, rv->reason ? rv->reason : "loading");
    } else if (rv) {
        *out = inferd_model_version_ref(rv->mv);
    }
    pthread_rwlock_unlock(&repo->lock);
    return st;
}

size_t inferd_repo_ready_versions(inferd_repo_t *repo, const char *name, int64_t *versions,
                                  size_t cap)
{
    size_t n = 0;
    pthread_rwlock_rdlock(&repo->lock);
    repo_model_t *m = repo_find_model(repo, name);
    for (size_t i = 0; m && i < m->n_versions; i++) {
        if (m->versions[i].state != INFERD_MODEL_STATE_READY)
            continue;
        if (n < cap)
            versions[n] = m->versions[i].version;
        n++;
    }
    pthread_rwlock_unlock(&repo->lock);
    return n;
}

void inferd_repo_counts(inferd_repo_t *repo, size_t *n_models, size_t *n_ready)
{
    size_t n = 0, ready = 0;
    pthread_rwlock_rdlock(&repo->lock);
    for (size_t i = 0; i < repo->n_models; i++) {
        const repo_model_t *m = &repo->models[i];
        if (m->unloaded)
            continue; /* unloaded on purpose: not a reason to be unready */
        bool any = false;
        for (size_t j = 0; j < m->n_versions; j++)
            any = any || m->versions[j].state == INFERD_MODEL_STATE_READY;
        n++;
        ready += any;
    }
    *n_models = n;
    *n_ready = ready;
    pthread_rwlock_unlock(&repo->lock);
}

static void index_entry(inferd_buf_t *out, bool *first, const char *name, const int64_t *version,
                        inferd_model_state_t state, const char *reason)
{
    inferd_buf_append_str(out, *first ? "{\"name\":" : ",{\"name\":");
    *first = false;
    inferd_buf_append_json_str(out, name, strlen(name));
    if (version)
        inferd_buf_printf(out, ",\"version\":\"%lld\"", (long long)*version);
    inferd_buf_printf(out, ",\"state\":\"%s\"", inferd_model_state_name(state));
    if (reason) {
        inferd_buf_append_str(out, ",\"reason\":");
        inferd_buf_append_json_str(out, reason, strlen(reason));
    }
    inferd_buf_append_char(out, '}');
}

void inferd_repo_index_json(inferd_repo_t *repo, bool ready_only, inferd_buf_t *out)
{
    bool first = true;
    inferd_buf_append_char(out, '[');
    pthread_rwlock_rdlock(&repo->lock);
    for (size_t i = 0; i < repo->n_models; i++) {
        const repo_model_t *m = &repo->models[i];
        if (m->n_versions == 0 && !ready_only)
            index_entry(out, &first, m->name, NULL, INFERD_MODEL_STATE_UNAVAILABLE,
                        m->unloaded ? "unloaded" : m->reason);
        for (size_t j = 0; j < m->n_versions; j++) {
            const repo_version_t *rv = &m->versions[j];
            if (ready_only && rv->state != INFERD_MODEL_STATE_READY)
                continue;
            index_entry(out, &first, m->name, &rv->version, rv->state, rv->reason);
        }
    }
    pthread_rwlock_unlock(&repo->lock);
    inferd_buf_append_char(out, ']');
}

size_t inferd_repo_collect_ready(inferd_repo_t *repo, inferd_model_version_t ***out)
{
    size_t n = 0, cap = 0;
    inferd_model_version_t **list = NULL;
    pthread_rwlock_rdlock(&repo->lock);
    for (size_t i = 0; i < repo->n_models; i++) {
        for (size_t j = 0; j < repo->models[i].n_versions; j++) {
            repo_version_t *rv = &repo->models[i].versions[j];
            if (rv->state != INFERD_MODEL_STATE_READY)
                continue;
            list = inferd_xgrow(list, sizeof(*list), n + 1, &cap);
            list[n++] = inferd_model_version_ref(rv->mv);
        }
    }
    pthread_rwlock_unlock(&repo->lock);
    *out = list;
    return n;
}
