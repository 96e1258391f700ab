/* Pure gateway mode (see mirror.h). */
#include "backends/remote/mirror.h"

#include <dirent.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backends/remote/client.h"
#include "core/json.h"
#include "obs/log.h"

static bool plain_name(const char *s)
{
    if (!*s || strcmp(s, ".") == 0 || strcmp(s, "..") == 0 || strlen(s) > 200)
        return false;
    for (; *s; s++)
        if (*s == '/' || *s == '\\' || *s == '"' || (unsigned char)*s < 0x20)
            return false;
    return true;
}

/* The upstream config's max_batch_size (it decides the shapes clients send), or -1. */
static int64_t upstream_max_batch_size(const char *url, const char *name)
{
    char u[2048];
    snprintf(u, sizeof(u), "%s/v2/models/%s/config", url, name);
    inferd_remote_request_t req = {.url = u,
                                   .method = "GET",
                                   .header_length = -1,
                                   .timeout_ms = 10000,
                                   .max_response_bytes = 4 << 20,
                                   .max_host_connections = 4};
    inferd_remote_response_t resp;
    inferd_remote_response_init(&resp, req.max_response_bytes);
    inferd_err_t err;
    int64_t mbs = -1;
    inferd_json_doc_t *doc = NULL;
    if (inferd_remote_perform(NULL, &req, &resp, &err) == INFERD_OK && resp.status == 200 &&
        inferd_json_parse(resp.body.data, resp.body.len, NULL, &doc, &err) == INFERD_OK) {
        const inferd_json_t *v = inferd_json_get(inferd_json_root(doc), "max_batch_size");
        if (!v || !inferd_json_to_int64(v, &mbs) || mbs < 0)
            mbs = -1;
    }
    inferd_json_doc_destroy(doc);
    inferd_remote_response_deinit(&resp);
    return mbs;
}

static inferd_status_t write_model(const char *dir, const char *name, const char *url,
                                   inferd_err_t *err)
{
    int64_t mbs = upstream_max_batch_size(url, name);
    char path[4096];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return inferd_err_set(err, INFERD_E_INTERNAL, "cannot create %s: %s", path,
                              strerror(errno));
    snprintf(path, sizeof(path), "%s/%s/1", dir, name);
    if (mkdir(path, 0755) != 0 && errno != EEXIST)
        return inferd_err_set(err, INFERD_E_INTERNAL, "cannot create %s: %s", path,
                              strerror(errno));
    snprintf(path, sizeof(path), "%s/%s/config.pbtxt", dir, name);
    FILE *f = fopen(path, "w");
    if (!f)
        return inferd_err_set(err, INFERD_E_INTERNAL, "cannot write %s: %s", path, strerror(errno));
    fprintf(f,
            "# Written by inferd --model-url: forwards to the upstream's model.\n"
            "backend: \"remote\"\n"
            "parameters { key: \"url\" value: { string_value: \"%s\" } }\n"
            "parameters { key: \"model_name\" value: { string_value: \"%s\" } }\n",
            url, name);
    if (mbs >= 0)
        fprintf(f, "max_batch_size: %lld\n", (long long)mbs);
    bool bad = ferror(f);
    fclose(f);
    return bad ? inferd_err_set(err, INFERD_E_INTERNAL, "cannot write %s", path) : INFERD_OK;
}

inferd_status_t inferd_remote_mirror_write(const char *url, char *dir_template, inferd_err_t *err)
{
    if (strchr(url, '"') || strchr(url, '\\') || strchr(url, '\n'))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "invalid --model-url '%s'", url);
    if (inferd_remote_client_acquire(err) != INFERD_OK)
        return err->code;
    char index_url[2048];
    snprintf(index_url, sizeof(index_url), "%s/v2/repository/index", url);
    static const char body[] = "{\"ready\":true}";
    inferd_remote_request_t req = {.url = index_url,
                                   .method = "POST",
                                   .body = body,
                                   .body_len = sizeof(body) - 1,
                                   .header_length = -1,
                                   .timeout_ms = 10000,
                                   .max_response_bytes = 16 << 20,
                                   .max_host_connections = 4};
    inferd_remote_response_t resp;
    inferd_remote_response_init(&resp, req.max_response_bytes);
    inferd_status_t st = inferd_remote_perform(NULL, &req, &resp, err);
    if (st == INFERD_OK && resp.status != 200)
        st = inferd_err_set(err, INFERD_E_BAD_GATEWAY, "upstream %s answered %ld to the index", url,
                            resp.status);
    inferd_json_doc_t *doc = NULL;
    if (st == INFERD_OK)
        st =
            inferd_json_parse(resp.body.data ? resp.body.data : "", resp.body.len, NULL, &doc, err);
    const inferd_json_t *root = st == INFERD_OK ? inferd_json_root(doc) : NULL;
    if (st == INFERD_OK && root->type != INFERD_JSON_ARRAY)
        st = inferd_err_set(err, INFERD_E_BAD_GATEWAY, "upstream %s: the index is not an array",
                            url);
    if (st == INFERD_OK && !mkdtemp(dir_template))
        st = inferd_err_set(err, INFERD_E_INTERNAL, "cannot create a directory for the mirror: %s",
                            strerror(errno));
    size_t n = 0;
    for (size_t i = 0; st == INFERD_OK && i < root->u.array.count; i++) {
        const inferd_json_t *name = inferd_json_get(root->u.array.items[i], "name");
        if (!name || name->type != INFERD_JSON_STRING || !plain_name(name->u.string.ptr)) {
            inferd_log(INFERD_LOG_WARN,
                       "gateway: skipping an upstream model with an unusable name");
            continue;
        }
        st = write_model(dir_template, name->u.string.ptr, url, err);
        n++;
    }
    if (st == INFERD_OK)
        inferd_log(INFERD_LOG_INFO, "gateway: mirroring %zu models of %s", n, url);
    inferd_json_doc_destroy(doc);
    inferd_remote_response_deinit(&resp);
    inferd_remote_client_release();
    return st;
}

/* Removes dir and what is below it, two levels down (what mirror_write creates). */
static void remove_tree(const char *dir, int depth)
{
    DIR *d = opendir(dir);
    struct dirent *e;
    while (d && (e = readdir(d))) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        char p[4096];
        struct stat sb;
        snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
        if (lstat(p, &sb) == 0 && S_ISDIR(sb.st_mode) && depth > 0)
            remove_tree(p, depth - 1);
        else
            unlink(p);
    }
    if (d)
        closedir(d);
    rmdir(dir);
}

void inferd_remote_mirror_remove(const char *dir)
{
    remove_tree(dir, 2);
}

bool inferd_remote_upstream_ready(const char *url)
{
    static atomic_llong checked_at;
    static atomic_bool ready;
    int64_t now = inferd_now_ns();
    if (now - atomic_load(&checked_at) < 1000000000ll)
        return atomic_load(&ready);
    atomic_store(&checked_at, now);
    inferd_err_t err;
    bool ok = false;
    if (inferd_remote_client_acquire(&err) == INFERD_OK) {
        char u[2048];
        snprintf(u, sizeof(u), "%s/v2/health/ready", url);
        inferd_remote_request_t req = {.url = u,
                                       .method = "GET",
                                       .header_length = -1,
                                       .timeout_ms = 1000,
                                       .max_response_bytes = 4096,
                                       .max_host_connections = 4};
        inferd_remote_response_t resp;
        inferd_remote_response_init(&resp, req.max_response_bytes);
        ok = inferd_remote_perform(NULL, &req, &resp, &err) == INFERD_OK && resp.status == 200;
        inferd_remote_response_deinit(&resp);
        inferd_remote_client_release();
    }
    atomic_store(&ready, ok);
    return ok;
}
