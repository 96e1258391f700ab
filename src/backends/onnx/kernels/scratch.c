/* Per-thread kernel scratch: see scratch.h. */
#include "backends/onnx/kernels/scratch.h"

#include <pthread.h>
#include <stdbool.h>

#include "core/alloc.h"

#define SCRATCH_KEEP ((size_t)16 << 20)

typedef struct scratch {
    void *mem;
    size_t bytes;
    bool busy;
} scratch_t;

static _Thread_local scratch_t tls_scratch;
static pthread_key_t scratch_key;
static pthread_once_t scratch_once = PTHREAD_ONCE_INIT;
static bool scratch_key_ok;

static size_t page_round(size_t n)
{
    size_t sz = (n + 4095) & ~(size_t)4095;
    return sz < n ? 0 : sz ? sz : 4096;
}

static void scratch_drop(scratch_t *s)
{
    inferd_pages_free(s->mem, s->bytes);
    s->mem = NULL;
    s->bytes = 0;
}

static void scratch_destroy(void *s)
{
    scratch_drop(s);
}

static void scratch_key_init(void)
{
    scratch_key_ok = pthread_key_create(&scratch_key, scratch_destroy) == 0;
}

void *inferd_scratch_get(size_t bytes)
{
    pthread_once(&scratch_once, scratch_key_init);
    scratch_t *s = &tls_scratch;
    if (!s->busy && s->mem && s->bytes >= bytes) {
        s->busy = true;
        return s->mem;
    }
    size_t sz = page_round(bytes);
    void *m = sz ? inferd_pages_alloc(sz) : NULL;
    if (!m)
        return NULL;
    if (s->busy || !scratch_key_ok || sz > SCRATCH_KEEP)
        return m; /* not kept: inferd_scratch_put frees it */
    scratch_drop(s);
    s->mem = m;
    s->bytes = sz;
    s->busy = true;
    pthread_setspecific(scratch_key, s);
    return m;
}

void inferd_scratch_put(void *m, size_t bytes)
{
    scratch_t *s = &tls_scratch;
    if (!m)
        return;
    if (m == s->mem)
        s->busy = false;
    else
        inferd_pages_free(m, page_round(bytes));
}

void inferd_scratch_release(void)
{
    scratch_t *s = &tls_scratch;
    if (!s->busy)
        scratch_drop(s);
}

size_t inferd_scratch_kept(void)
{
    return tls_scratch.bytes;
}
