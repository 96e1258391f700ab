/* Memory allocation wrappers: the only file that calls malloc and free directly. */
#include "core/alloc.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static void alloc_die(size_t n)
{
    fprintf(stderr, "inferd: out of memory allocating %zu bytes\n", n);
    abort();
}

void *inferd_malloc(size_t n)
{
    return malloc(n ? n : 1);
}

void *inferd_calloc(size_t count, size_t size)
{
    if (count == 0 || size == 0)
        count = size = 1;
    return calloc(count, size);
}

void *inferd_realloc(void *p, size_t n)
{
    return realloc(p, n ? n : 1);
}

void inferd_free(void *p)
{
    free(p);
}

#if defined(__SANITIZE_ADDRESS__)
#define PAGES_ARE_MALLOC 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PAGES_ARE_MALLOC 1
#endif
#endif

void *inferd_pages_alloc(size_t n)
{
#ifdef PAGES_ARE_MALLOC
    size_t sz = n ? (n + 4095) & ~(size_t)4095 : 4096;
    if (sz < n)
        return NULL;
    void *p = aligned_alloc(4096, sz);
    if (p)
        memset(p, 0, sz);
    return p;
#else
    void *p = mmap(NULL, n ? n : 1, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    return p == MAP_FAILED ? NULL : p;
#endif
}

void inferd_pages_free(void *p, size_t n)
{
    if (!p)
        return;
#ifdef PAGES_ARE_MALLOC
    (void)n;
    inferd_free(p);
#else
    munmap(p, n ? n : 1);
#endif
}

void *inferd_xmalloc(size_t n)
{
    void *p = inferd_malloc(n);
    if (!p)
        alloc_die(n);
    return p;
}

void *inferd_xcalloc(size_t count, size_t size)
{
    void *p = inferd_calloc(count, size);
    if (!p)
        alloc_die(count * size);
    return p;
}

void *inferd_xrealloc(void *p, size_t n)
{
    void *q = inferd_realloc(p, n);
    if (!q)
        alloc_die(n);
    return q;
}

char *inferd_xstrndup(const char *s, size_t n)
{
    char *d = inferd_xmalloc(n + 1);
    memcpy(d, s, n);
    d[n] = '\0';
    return d;
}

char *inferd_xstrdup(const char *s)
{
    return inferd_xstrndup(s, strlen(s));
}

void *inferd_xgrow(void *p, size_t elem_size, size_t need, size_t *cap)
{
    if (need <= *cap)
        return p;
    size_t ncap = *cap ? *cap : 4;
    while (ncap < need) {
        if (ncap > SIZE_MAX / 2)
            alloc_die(SIZE_MAX);
        ncap *= 2;
    }
    if (ncap > SIZE_MAX / elem_size)
        alloc_die(SIZE_MAX);
    p = inferd_xrealloc(p, ncap * elem_size);
    *cap = ncap;
    return p;
}
