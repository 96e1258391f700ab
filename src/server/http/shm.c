/* System shared-memory region registry (see shm.h). */
#include "server/http/shm.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <pthread.h>
#include <stdbool.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/alloc.h"
#include "obs/log.h"

/* Keys Triton keeps for its Python backend; a client may not register them. */
#define RESERVED_KEY_PREFIX "triton_python_backend_shm_region_"

/* The mapping behind a region's tensor; freed by the tensor's release at its last unref. */
typedef struct shm_mapping {
    void *base;
    size_t len;
    int fd; /* kept open to notice when the object is unlinked */
} shm_mapping_t;

typedef struct shm_region {
    char *name;
    char *key;
    uint64_t offset, byte_size;
    shm_mapping_t *map; /* valid while t is referenced by the registry */
    inferd_tensor_t *t; /* the registry's reference */
    struct shm_region *next;
} shm_region_t;

struct inferd_shm {
    pthread_mutex_t lock; /* guards regions */
    shm_region_t *regions;
};

static void mapping_release(void *ctx, void *data)
{
    (void)data;
    shm_mapping_t *m = ctx;
    munmap(m->base, m->len);
    close(m->fd);
    inferd_free(m);
}

inferd_shm_t *inferd_shm_create(void)
{
    inferd_shm_t *shm = inferd_xcalloc(1, sizeof(*shm));
    pthread_mutex_init(&shm->lock, NULL);
    return shm;
}

static void region_free(shm_region_t *r)
{
    inferd_tensor_unref(r->t); /* the mapping stays while requests hold views */
    inferd_free(r->name);
    inferd_free(r->key);
    inferd_free(r);
}

void inferd_shm_destroy(inferd_shm_t *shm)
{
    if (!shm)
        return;
    inferd_shm_unregister(shm, NULL);
    pthread_mutex_destroy(&shm->lock);
    inferd_free(shm);
}

static bool region_unlinked(const shm_region_t *r)
{
    struct stat sb;
    return fstat(r->map->fd, &sb) == 0 && sb.st_nlink == 0;
}

static bool region_in_use(const shm_region_t *r)
{
    /* Only the registry's reference: no request holds a view. Reading the count races with
     * new views only through inferd_shm_acquire, which holds the lock too. */
    return atomic_load(&r->t->_refs) > 1;
}

/* Drops regions whose object was unlinked and that no request uses. Lock held. */
static void sweep_unlinked(inferd_shm_t *shm)
{
    for (shm_region_t **pp = &shm->regions; *pp;) {
        shm_region_t *r = *pp;
        if (region_unlinked(r) && !region_in_use(r)) {
            inferd_log(INFERD_LOG_INFO,
                       "shared-memory region '%s': key '%s' was unlinked by its owner; released",
                       r->name, r->key);
            *pp = r->next;
            region_free(r);
        } else {
            pp = &r->next;
        }
    }
}

static shm_region_t *find_region(inferd_shm_t *shm, const char *name)
{
    for (shm_region_t *r = shm->regions; r; r = r->next)
        if (strcmp(r->name, name) == 0)
            return r;
    return NULL;
}

/* A POSIX shm name: an optional leading '/', then a non-empty name without '/' that is not
 * "." or "..", so shm_open can only reach /dev/shm and never a file path. */
static bool key_is_shm_name(const char *key)
{
    const char *p = key[0] == '/' ? key + 1 : key;
    size_t n = strlen(p);
    return n > 0 && n <= NAME_MAX && !strchr(p, '/') && strcmp(p, ".") != 0 && strcmp(p, "..") != 0;
}

inferd_status_t inferd_shm_register(inferd_shm_t *shm, const char *name, const char *key,
                                    uint64_t offset, uint64_t byte_size, inferd_err_t *err)
{
    if (!key_is_shm_name(key))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "shared-memory key '%.200s' is not a POSIX shared-memory name "
                              "('/name', no other '/')",
                              key);
    const char *plain = key[0] == '/' ? key + 1 : key;
    if (strncmp(plain, RESERVED_KEY_PREFIX, strlen(RESERVED_KEY_PREFIX)) == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "shared-memory key '%.200s' uses the reserved prefix '%s'", key,
                              RESERVED_KEY_PREFIX);
    if (byte_size == 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "region '%s': byte_size must be greater than 0", name);
    pthread_mutex_lock(&shm->lock);
    sweep_unlinked(shm);
    inferd_status_t st = INFERD_OK;
    if (find_region(shm, name)) {
        st = inferd_err_set(err, INFERD_E_INVALID_ARG,
                            "shared-memory region '%s' is already registered", name);
        goto out;
    }
    int fd = shm_open(key, O_RDWR, 0);
    if (fd < 0) {
        st = inferd_err_set(err, errno == ENOENT ? INFERD_E_NOT_FOUND : INFERD_E_INVALID_ARG,
                            "unable to open shared-memory key '%.200s': %s", key, strerror(errno));
        goto out;
    }
    struct stat sb;
    if (fstat(fd, &sb) != 0 || (uint64_t)sb.st_size < offset ||
        (uint64_t)sb.st_size - offset < byte_size) {
        st = inferd_err_set(err, INFERD_E_INVALID_ARG,
                            "region '%s': offset %" PRIu64 " + byte_size %" PRIu64
                            " exceeds the %lld bytes of shared-memory key '%.200s'",
                            name, offset, byte_size, (long long)sb.st_size, key);
        close(fd);
        goto out;
    }
    uint64_t page = (uint64_t)sysconf(_SC_PAGESIZE);
    uint64_t map_off = offset - offset % page;
    size_t map_len = (size_t)(offset - map_off + byte_size);
    void *base = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)map_off);
    if (base == MAP_FAILED) {
        st = inferd_err_set(err, INFERD_E_INVALID_ARG, "region '%s': cannot map key '%.200s': %s",
                            name, key, strerror(errno));
        close(fd);
        goto out;
    }
    shm_mapping_t *m = inferd_xcalloc(1, sizeof(*m));
    *m = (shm_mapping_t){base, map_len, fd};
    int64_t dims[1] = {(int64_t)byte_size};
    inferd_tensor_t *t =
        inferd_tensor_wrap(INFERD_DTYPE_UINT8, dims, 1, (char *)base + (offset - map_off),
                           (size_t)byte_size, mapping_release, m, INFERD_OWNER_SHM, err);
    if (!t) {
        mapping_release(m, NULL);
        st = err ? err->code : INFERD_E_RESOURCE_EXHAUSTED;
        goto out;
    }
    shm_region_t *r = inferd_xcalloc(1, sizeof(*r));
    r->name = inferd_xstrdup(name);
    r->key = inferd_xstrdup(key);
    r->offset = offset;
    r->byte_size = byte_size;
    r->map = m;
    r->t = t;
    r->next = shm->regions;
    shm->regions = r;
out:
    pthread_mutex_unlock(&shm->lock);
    return st;
}

void inferd_shm_unregister(inferd_shm_t *shm, const char *name)
{
    pthread_mutex_lock(&shm->lock);
    for (shm_region_t **pp = &shm->regions; *pp;) {
        shm_region_t *r = *pp;
        if (!name || strcmp(r->name, name) == 0) {
            *pp = r->next;
            region_free(r);
        } else {
            pp = &r->next;
        }
    }
    pthread_mutex_unlock(&shm->lock);
}

inferd_status_t inferd_shm_status_json(inferd_shm_t *shm, const char *name, inferd_buf_t *out,
                                       inferd_err_t *err)
{
    pthread_mutex_lock(&shm->lock);
    sweep_unlinked(shm);
    if (name && !find_region(shm, name)) {
        pthread_mutex_unlock(&shm->lock);
        return inferd_err_set(err, INFERD_E_NOT_FOUND,
                              "Unable to find system shared memory region: '%s'", name);
    }
    inferd_buf_append_char(out, '[');
    bool first = true;
    for (shm_region_t *r = shm->regions; r; r = r->next) {
        if (name && strcmp(r->name, name) != 0)
            continue;
        inferd_buf_append_str(out, first ? "{\"name\":" : ",{\"name\":");
        first = false;
        inferd_buf_append_json_str(out, r->name, strlen(r->name));
        inferd_buf_append_str(out, ",\"key\":");
        inferd_buf_append_json_str(out, r->key, strlen(r->key));
        inferd_buf_printf(out, ",\"offset\":%" PRIu64 ",\"byte_size\":%" PRIu64, r->offset,
                          r->byte_size);
        /* Still mapped for requests in flight; released when they finish. */
        if (region_unlinked(r))
            inferd_buf_append_str(out, ",\"unlinked\":true");
        inferd_buf_append_char(out, '}');
    }
    inferd_buf_append_char(out, ']');
    pthread_mutex_unlock(&shm->lock);
    return INFERD_OK;
}

inferd_status_t inferd_shm_acquire(inferd_shm_t *shm, const char *what, const char *name,
                                   uint64_t offset, uint64_t byte_size, inferd_tensor_t **out,
                                   inferd_err_t *err)
{
    *out = NULL;
    pthread_mutex_lock(&shm->lock);
    sweep_unlinked(shm);
    shm_region_t *r = find_region(shm, name);
    inferd_status_t st = INFERD_OK;
    if (!r)
        st = inferd_err_set(err, INFERD_E_NOT_FOUND,
                            "%s: unable to find system shared memory region: '%s'", what, name);
    else if (offset >= r->byte_size)
        st = inferd_err_set(err, INFERD_E_INVALID_ARG,
                            "%s: shared_memory_offset %" PRIu64
                            " is not inside region '%s' of %" PRIu64 " bytes",
                            what, offset, name, r->byte_size);
    else if (byte_size > r->byte_size - offset)
        st =
            inferd_err_set(err, INFERD_E_INVALID_ARG,
                           "%s: shared_memory_offset %" PRIu64 " + shared_memory_byte_size %" PRIu64
                           " exceeds region '%s' of %" PRIu64 " bytes",
                           what, offset, byte_size, name, r->byte_size);
    else
        *out = inferd_tensor_ref(r->t);
    pthread_mutex_unlock(&shm->lock);
    return st;
}
