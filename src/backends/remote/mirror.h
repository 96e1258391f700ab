/* Pure gateway mode (--model-url, or the MODEL_URL environment variable): inferd mirrors
 * an upstream server's models by writing a model repository in which every model is a
 * "remote" model forwarding to that upstream, then serves it like any other. */
#ifndef INFERD_BACKENDS_REMOTE_MIRROR_H
#define INFERD_BACKENDS_REMOTE_MIRROR_H

#include <stdbool.h>

#include "inferd/status.h"

/* Asks url for its repository index (ready models) and writes, under a new directory
 * made from dir_template (mkdtemp syntax, modified in place), <model>/config.pbtxt and an
 * empty <model>/1/ for each. Model names that are not plain directory names are skipped.
 * Fails when the upstream cannot be reached or answers nonsense. */
inferd_status_t inferd_remote_mirror_write(const char *url, char *dir_template, inferd_err_t *err);

/* Removes a directory written by inferd_remote_mirror_write. */
void inferd_remote_mirror_remove(const char *dir);

/* Whether url answers 200 on /v2/health/ready (checked at most once a second; the answer
 * is cached in between). Thread-safe. */
bool inferd_remote_upstream_ready(const char *url);

#endif
