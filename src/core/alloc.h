/* Memory allocation. All heap memory in inferd goes through these wrappers, so that
 * fault injection and accounting have one place to hook.
 *
 * inferd_malloc/calloc/realloc may return NULL: use them for sizes a client controls
 * (bodies, tensors) and fail the request, not the process. The x-variants abort with a
 * message on failure: use them for small fixed-size bookkeeping only. */
#ifndef INFERD_CORE_ALLOC_H
#define INFERD_CORE_ALLOC_H

#include <stddef.h>

void *inferd_malloc(size_t n);
void *inferd_calloc(size_t count, size_t size);
void *inferd_realloc(void *p, size_t n);
void inferd_free(void *p);

void *inferd_xmalloc(size_t n);
void *inferd_xcalloc(size_t count, size_t size);
void *inferd_xrealloc(void *p, size_t n);
char *inferd_xstrdup(const char *s);
char *inferd_xstrndup(const char *s, size_t n);

/* Zeroed, page-aligned memory for a large buffer that should go back to the system when
 * freed, instead of staying in malloc's heap (mmap and munmap; aligned_alloc in
 * AddressSanitizer builds, so that its bounds stay checked). Costs a page fault per 4 KiB
 * touched: not for buffers allocated on every request. Free with inferd_pages_free and
 * the same n. NULL when out of memory. */
void *inferd_pages_alloc(size_t n);
void inferd_pages_free(void *p, size_t n);

/* Grows a dynamic array of elem_size-byte items so that it holds at least need items;
 * *cap is updated. Aborts on overflow or exhaustion (bookkeeping arrays only). */
void *inferd_xgrow(void *p, size_t elem_size, size_t need, size_t *cap);

#endif
