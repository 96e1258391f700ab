/* Repository internals shared by repo.c (loading, lookup) and control.c (model control:
 * load/unload on request, polling, hot reload). Not for use outside src/repo/. */
#ifndef INFERD_REPO_REPO_INT_H
#define INFERD_REPO_REPO_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/thread.h"
#include "repo/repo.h"

/* One version directory of a model and what became of it. */
typedef struct repo_version {
    int64_t version;
    inferd_model_state_t state;
    char *reason;               /* why UNAVAILABLE; NULL otherwise */
    inferd_model_version_t *mv; /* the repository's reference while READY */
} repo_version_t;

typedef struct repo_model {
    char *name;
    char *path;   /* <root>/<name> */
    char *reason; /* model-level failure (config, duplicates), or NULL */
    repo_version_t *versions;
    size_t n_versions;
    uint64_t fingerprint; /* of the files the loaded versions were read from */
    bool unloaded;        /* not loaded (explicit mode) or unloaded: not served, not counted */
    const char *config_override; /* during a load only: config text used instead of the file */
} repo_model_t;

typedef struct repo_job repo_job_t;

struct inferd_repo {
    pthread_rwlock_t lock; /* guards models and each model's fields */
    char **roots;
    size_t n_roots;
    int32_t default_max_batch_size;
    uint32_t default_max_queue_size;
    repo_model_t *models; /* sorted by name */
    size_t n_models;
    size_t cap_models;

    /* Model control (control.c). */
    inferd_model_control_t mode;
    char **startup_models; /* explicit mode: loaded at start ("*" = all) */
    size_t n_startup_models;
    int64_t poll_secs;
    pthread_mutex_t load_lock; /* one load or unload at a time */
    pthread_mutex_t job_lock;  /* guards the fields below */
    pthread_cond_t job_cond;
    repo_job_t *jobs, *jobs_tail;
    size_t n_jobs;
    bool control_stop;
    inferd_thread_t *control;
};

/* Loads every version of m that its version policy selects into m->versions (which must be
 * empty), recording failures as reasons. Thread: control (or start-up). */
void repo_model_load(inferd_repo_t *repo, repo_model_t *m);

/* Frees m's versions (dropping the repository's references) and its reason. */
void repo_model_release_versions(repo_model_t *m);

/* Frees everything m owns. */
void repo_model_free(repo_model_t *m);

/* The model's entry, or NULL. Caller holds repo->lock. */
repo_model_t *repo_find_model(inferd_repo_t *repo, const char *name);

/* A hash of the names, sizes and modification times of the files of a model directory
 * and its version directories: changes when a config, a model file or a version does. */
uint64_t repo_model_fingerprint(const char *path);

#endif
