/* Model control: loading and unloading models while the server runs, and polling the
 * repository for changes (see repo.h).
 *
 * A reload never stops serving: the new versions are loaded beside the old ones (on the
 * control thread, off the request path), then swapped in under the write lock, which is
 * held only for a few pointer moves. Requests that hold a reference to an old version
 * finish on it; it is freed when the last of them completes, so memory peaks at old + new.
 * One load or unload runs at a time (load_lock). */
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>
#include <time.h>

#include "core/alloc.h"
#include "obs/log.h"
#include "repo/repo_int.h"

#define MAX_QUEUED_JOBS 64

struct repo_job {
    char *name;
    char *config; /* override text, or NULL */
    bool unload;
    inferd_repo_done_cb done;
    void *arg;
    repo_job_t *next;
};

/* ------------------------------------------------------------------------------------ */
/* Fingerprints                                                                         */

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Hashes the entries of dir (sorted, so the order readdir gives does not matter), and
 * descends `depth` more levels into subdirectories. */
static uint64_t hash_dir(uint64_t h, const char *dir, int depth)
{
    DIR *d = opendir(dir);
    if (!d)
        return fnv(h, "-", 1);
    char **names = NULL;
    size_t n = 0, cap = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        if (e->d_name[0] == '.')
            continue;
        names = inferd_xgrow(names, sizeof(*names), n + 1, &cap);
        names[n++] = inferd_xstrdup(e->d_name);
    }
    closedir(d);
    if (n)
        qsort(names, n, sizeof(*names), cmp_str);
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        struct stat sb;
        snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
        h = fnv(h, names[i], strlen(names[i]) + 1);
        if (stat(path, &sb) == 0) {
            int64_t facts[3] = {(int64_t)sb.st_size, (int64_t)sb.st_mtim.tv_sec,
                                (int64_t)sb.st_mtim.tv_nsec};
            h = fnv(h, facts, sizeof(facts));
            if (S_ISDIR(sb.st_mode) && depth > 0)
                h = hash_dir(h, path, depth - 1);
        }
        inferd_free(names[i]);
    }
    inferd_free(names);
    return h;
}

uint64_t repo_model_fingerprint(const char *path)
{
    /* <model>/, <model>/<version>/, and <version>/model.onnx/ when it is a directory. */
    return hash_dir(14695981039346656037ull, path, 2);
}

/* ------------------------------------------------------------------------------------ */
/* Load and unload                                                                      */

static bool model_ready(const repo_model_t *m)
{
    for (size_t i = 0; i < m->n_versions; i++)
        if (m->versions[i].state == INFERD_MODEL_STATE_READY)
            return true;
    return false;
}

static const char *model_reason(const repo_model_t *m)
{
    if (m->reason)
        return m->reason;
    for (size_t i = 0; i < m->n_versions; i++)
        if (m->versions[i].reason)
            return m->versions[i].reason;
    return "no version is ready";
}

/* Finds the model's directory in the roots: NOT_FOUND if none, INVALID_ARG if several. */
static inferd_status_t find_model_dir(inferd_repo_t *repo, const char *name, char *path, size_t cap,
                                      inferd_err_t *err)
{
    if (!*name || strchr(name, '/') || strchr(name, '\\') || strcmp(name, ".") == 0 ||
        strcmp(name, "..") == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "invalid model name '%s'", name);
    size_t found = 0;
    for (size_t i = 0; i < repo->n_roots; i++) {
        char p[4096];
        struct stat sb;
        snprintf(p, sizeof(p), "%s/%s", repo->roots[i], name);
        if (stat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && found++ == 0)
            snprintf(path, cap, "%s", p);
    }
    if (found == 0)
        return inferd_err_set(err, INFERD_E_NOT_FOUND, "no model repository has a model '%s'",
                              name);
    if (found > 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "model '%s' appears in more than one repository", name);
    return INFERD_OK;
}

/* Puts fresh (name, path, versions) into the repository, in name order, under the lock;
 * the entry it replaces comes back in *old for the caller to free outside the lock. */
static void publish(inferd_repo_t *repo, repo_model_t *fresh, repo_model_t *old)
{
    memset(old, 0, sizeof(*old));
    pthread_rwlock_wrlock(&repo->lock);
    repo_model_t *m = repo_find_model(repo, fresh->name);
    if (m) {
        *old = *m;
        *m = *fresh;
    } else {
        repo->models = inferd_xgrow(repo->models, sizeof(*repo->models), repo->n_models + 1,
                                    &repo->cap_models);
        size_t at = 0;
        while (at < repo->n_models && strcmp(repo->models[at].name, fresh->name) < 0)
            at++;
        memmove(&repo->models[at + 1], &repo->models[at],
                (repo->n_models - at) * sizeof(*repo->models));
        repo->models[at] = *fresh;
        repo->n_models++;
    }
    pthread_rwlock_unlock(&repo->lock);
}

inferd_status_t inferd_repo_load_model(inferd_repo_t *repo, const char *name,
                                       const char *config_override, inferd_err_t *err)
{
    char path[4096];
    inferd_status_t st = find_model_dir(repo, name, path, sizeof(path), err);
    if (st != INFERD_OK)
        return st;
    pthread_mutex_lock(&repo->load_lock);
    int64_t t0 = inferd_now_ns();
    repo_model_t fresh;
    memset(&fresh, 0, sizeof(fresh));
    fresh.name = inferd_xstrdup(name);
    fresh.path = inferd_xstrdup(path);
    fresh.config_override = config_override;
    repo_model_load(repo, &fresh);
    fresh.config_override = NULL; /* borrowed for the load only */

    bool was_ready = false;
    pthread_rwlock_rdlock(&repo->lock);
    repo_model_t *cur = repo_find_model(repo, name);
    was_ready = cur && !cur->unloaded && model_ready(cur);
    pthread_rwlock_unlock(&repo->lock);

    if (!model_ready(&fresh)) {
        st = inferd_err_set(err, INFERD_E_UNAVAILABLE, "failed to load model '%s': %s", name,
                            model_reason(&fresh));
        if (was_ready) {
            /* A failed reload leaves the serving versions in place. */
            inferd_log(INFERD_LOG_ERROR, "%s; the previous versions keep serving", err->msg);
            pthread_rwlock_wrlock(&repo->lock);
            repo_find_model(repo, name)->fingerprint = fresh.fingerprint; /* no retry loop */
            pthread_rwlock_unlock(&repo->lock);
            repo_model_free(&fresh);
            pthread_mutex_unlock(&repo->load_lock);
            return st;
        }
    }
    repo_model_t old;
    publish(repo, &fresh, &old);
    /* The old versions go when their last in-flight request completes. */
    repo_model_free(&old);
    pthread_mutex_unlock(&repo->load_lock);
    if (st == INFERD_OK)
        inferd_log(INFERD_LOG_INFO, "model '%s' %s in %.1f ms", name,
                   was_ready ? "reloaded" : "loaded", (double)(inferd_now_ns() - t0) / 1e6);
    return st;
}

inferd_status_t inferd_repo_unload_model(inferd_repo_t *repo, const char *name, inferd_err_t *err)
{
    pthread_mutex_lock(&repo->load_lock);
    repo_model_t old;
    memset(&old, 0, sizeof(old));
    pthread_rwlock_wrlock(&repo->lock);
    repo_model_t *m = repo_find_model(repo, name);
    if (m) {
        old.versions = m->versions;
        old.n_versions = m->n_versions;
        old.reason = m->reason;
        m->versions = NULL;
        m->n_versions = 0;
        m->reason = NULL;
        m->unloaded = true;
    }
    pthread_rwlock_unlock(&repo->lock);
    repo_model_release_versions(&old);
    pthread_mutex_unlock(&repo->load_lock);
    if (!m)
        return inferd_err_set(err, INFERD_E_NOT_FOUND, "unknown model '%s'", name);
    inferd_log(INFERD_LOG_INFO, "model '%s' unloaded", name);
    return INFERD_OK;
}

void inferd_repo_poll(inferd_repo_t *repo)
{
    /* Every model directory now on disk, and every model known. */
    char **names = NULL;
    size_t n = 0, cap = 0;
    for (size_t ri = 0; ri < repo->n_roots; ri++) {
        DIR *d = opendir(repo->roots[ri]);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            char p[4096];
            struct stat sb;
            snprintf(p, sizeof(p), "%s/%s", repo->roots[ri], e->d_name);
            if (e->d_name[0] == '.' || stat(p, &sb) != 0 || !S_ISDIR(sb.st_mode))
                continue;
            names = inferd_xgrow(names, sizeof(*names), n + 1, &cap);
            names[n++] = inferd_xstrdup(e->d_name);
        }
        if (d)
            closedir(d);
    }
    for (size_t i = 0; i < n; i++) {
        char path[4096];
        inferd_err_t err;
        if (find_model_dir(repo, names[i], path, sizeof(path), &err) != INFERD_OK)
            continue;
        uint64_t fp = repo_model_fingerprint(path);
        pthread_rwlock_rdlock(&repo->lock);
        repo_model_t *m = repo_find_model(repo, names[i]);
        bool changed = !m || (!m->unloaded && m->fingerprint != fp);
        pthread_rwlock_unlock(&repo->lock);
        if (changed)
            inferd_repo_load_model(repo, names[i], NULL, &err);
    }
    /* Models whose directory is gone are unloaded. */
    char **gone = NULL;
    size_t n_gone = 0, cap_gone = 0;
    pthread_rwlock_rdlock(&repo->lock);
    for (size_t i = 0; i < repo->n_models; i++) {
        bool present = false;
        for (size_t k = 0; k < n && !present; k++)
            present = strcmp(names[k], repo->models[i].name) == 0;
        if (!present && !repo->models[i].unloaded) {
            gone = inferd_xgrow(gone, sizeof(*gone), n_gone + 1, &cap_gone);
            gone[n_gone++] = inferd_xstrdup(repo->models[i].name);
        }
    }
    pthread_rwlock_unlock(&repo->lock);
    for (size_t i = 0; i < n_gone; i++) {
        inferd_err_t err;
        inferd_repo_unload_model(repo, gone[i], &err);
        inferd_free(gone[i]);
    }
    inferd_free(gone);
    for (size_t i = 0; i < n; i++)
        inferd_free(names[i]);
    inferd_free(names);
}

/* ------------------------------------------------------------------------------------ */
/* The control thread                                                                   */

static void run_job(inferd_repo_t *repo, repo_job_t *job, bool stopping)
{
    inferd_err_t err;
    inferd_err_clear(&err);
    inferd_status_t st;
    if (stopping)
        st = inferd_err_set(&err, INFERD_E_UNAVAILABLE, "server is shutting down");
    else if (job->unload)
        st = inferd_repo_unload_model(repo, job->name, &err);
    else
        st = inferd_repo_load_model(repo, job->name, job->config, &err);
    job->done(job->arg, st, &err);
    inferd_free(job->config);
    inferd_free(job->name);
    inferd_free(job);
}

static void control_main(void *arg)
{
    inferd_repo_t *repo = arg;
    /* Loading is background work: on a busy machine, requests of the serving models go
     * first (a higher nice value for this thread only). */
    if (setpriority(PRIO_PROCESS, (id_t)gettid(), 10) != 0)
        inferd_log(INFERD_LOG_VERBOSE, "repo-control: cannot lower the thread's priority");
    int64_t next_poll = inferd_now_ns() + repo->poll_secs * 1000000000ll;
    pthread_mutex_lock(&repo->job_lock);
    while (!repo->control_stop) {
        repo_job_t *job = repo->jobs;
        if (job) {
            repo->jobs = job->next;
            if (!repo->jobs)
                repo->jobs_tail = NULL;
            repo->n_jobs--;
            pthread_mutex_unlock(&repo->job_lock);
            inferd_thread_set_state("loading");
            run_job(repo, job, false);
            pthread_mutex_lock(&repo->job_lock);
            continue;
        }
        if (repo->mode == INFERD_MODEL_CONTROL_POLL && inferd_now_ns() >= next_poll) {
            pthread_mutex_unlock(&repo->job_lock);
            inferd_thread_set_state("polling");
            inferd_repo_poll(repo);
            next_poll = inferd_now_ns() + repo->poll_secs * 1000000000ll;
            pthread_mutex_lock(&repo->job_lock);
            continue;
        }
        inferd_thread_set_state("idle");
        if (repo->mode == INFERD_MODEL_CONTROL_POLL) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            int64_t wait = next_poll - inferd_now_ns();
            if (wait < 0)
                wait = 0;
            ts.tv_sec += (time_t)(wait / 1000000000);
            ts.tv_nsec += (long)(wait % 1000000000);
            if (ts.tv_nsec >= 1000000000) {
                ts.tv_sec++;
                ts.tv_nsec -= 1000000000;
            }
            pthread_cond_timedwait(&repo->job_cond, &repo->job_lock, &ts);
        } else {
            pthread_cond_wait(&repo->job_cond, &repo->job_lock);
        }
    }
    pthread_mutex_unlock(&repo->job_lock);
}

inferd_status_t inferd_repo_start_control(inferd_repo_t *repo, inferd_err_t *err)
{
    if (repo->mode == INFERD_MODEL_CONTROL_NONE)
        return INFERD_OK;
    return inferd_thread_start(&repo->control, "repo-control", "control", control_main, repo, err);
}

void inferd_repo_stop_control(inferd_repo_t *repo)
{
    if (!repo->control)
        return;
    pthread_mutex_lock(&repo->job_lock);
    repo->control_stop = true;
    repo_job_t *left = repo->jobs;
    repo->jobs = repo->jobs_tail = NULL;
    repo->n_jobs = 0;
    pthread_cond_broadcast(&repo->job_cond);
    pthread_mutex_unlock(&repo->job_lock);
    inferd_thread_join(repo->control); /* a load under way finishes first */
    repo->control = NULL;
    while (left) {
        repo_job_t *next = left->next;
        run_job(repo, left, true);
        left = next;
    }
}

inferd_status_t inferd_repo_submit(inferd_repo_t *repo, const char *name, bool unload,
                                   const char *config_override, inferd_repo_done_cb done, void *arg,
                                   inferd_err_t *err)
{
    if (repo->mode != INFERD_MODEL_CONTROL_EXPLICIT)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED,
                              "explicit model load and unload need --model-control-mode explicit");
    pthread_mutex_lock(&repo->job_lock);
    if (repo->control_stop || !repo->control) {
        pthread_mutex_unlock(&repo->job_lock);
        return inferd_err_set(err, INFERD_E_UNAVAILABLE, "server is shutting down");
    }
    if (repo->n_jobs >= MAX_QUEUED_JOBS) {
        pthread_mutex_unlock(&repo->job_lock);
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED,
                              "%d model load/unload requests are already waiting", MAX_QUEUED_JOBS);
    }
    repo_job_t *job = inferd_xcalloc(1, sizeof(*job));
    job->name = inferd_xstrdup(name);
    job->config = config_override ? inferd_xstrdup(config_override) : NULL;
    job->unload = unload;
    job->done = done;
    job->arg = arg;
    if (repo->jobs_tail)
        repo->jobs_tail->next = job;
    else
        repo->jobs = job;
    repo->jobs_tail = job;
    repo->n_jobs++;
    pthread_cond_signal(&repo->job_cond);
    pthread_mutex_unlock(&repo->job_lock);
    return INFERD_OK;
}

size_t inferd_repo_report_problems(inferd_repo_t *repo, void *out_file)
{
    FILE *out = out_file;
    size_t problems = 0;
    pthread_rwlock_rdlock(&repo->lock);
    for (size_t i = 0; i < repo->n_models; i++) {
        const repo_model_t *m = &repo->models[i];
        if (m->reason) {
            fprintf(out, "%s: %s\n", m->path, m->reason);
            problems++;
        }
        for (size_t j = 0; j < m->n_versions; j++) {
            if (m->versions[j].state == INFERD_MODEL_STATE_READY)
                continue;
            fprintf(out, "%s/%lld: %s\n", m->path, (long long)m->versions[j].version,
                    m->versions[j].reason ? m->versions[j].reason : "not ready");
            problems++;
        }
    }
    pthread_rwlock_unlock(&repo->lock);
    return problems;
}
