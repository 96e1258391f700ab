/* System shared-memory regions (Triton's system_shared_memory extension): a client maps
 * tensors into a POSIX shared-memory object, registers a byte range of it as a named region,
 * and then names the region instead of sending tensor bytes. Inputs are read in place (views
 * into the mapping) and outputs are written into it.
 *
 * A region is a reference-counted tensor of its bytes (owner: shm). The registry holds one
 * reference; every tensor view of an in-flight request holds another, so unregistering a
 * region in use only drops the registry's reference and the mapping goes when the last
 * request using it completes. Keys are POSIX shm names only ("/name": no other '/'), never
 * file paths. A region whose shm object was unlinked (its owner died or cleaned up) is
 * dropped from the registry at the next registry operation once no request uses it; while
 * one still does, status shows it as "unlinked".
 *
 * Threading: every function may be called from any thread; one mutex guards the registry. */
#ifndef INFERD_SERVER_HTTP_SHM_H
#define INFERD_SERVER_HTTP_SHM_H

#include <stdint.h>

#include "core/buf.h"
#include "inferd/status.h"
#include "inferd/tensor.h"

typedef struct inferd_shm inferd_shm_t;

/* An empty registry. Never fails (aborts when out of memory). */
inferd_shm_t *inferd_shm_create(void);

/* Drops every region (in-flight views keep their mappings) and frees the registry. NULL does
 * nothing. */
void inferd_shm_destroy(inferd_shm_t *shm);

/* Maps byte_size bytes at offset of the POSIX shm object key and registers them as region
 * name. INVALID_ARG: a key that is not a plain shm name, a name already registered,
 * byte_size 0, or a range beyond the object's size; NOT_FOUND: no such shm object. */
inferd_status_t inferd_shm_register(inferd_shm_t *shm, const char *name, const char *key,
                                    uint64_t offset, uint64_t byte_size, inferd_err_t *err);

/* Unregisters region name, or every region when name is NULL. An unknown name is not an
 * error (as in Triton). */
void inferd_shm_unregister(inferd_shm_t *shm, const char *name);

/* Appends the status array [{"name","key","offset","byte_size"[,"unlinked"]}...] of region
 * name, or of every region when name is NULL. NOT_FOUND for an unknown name. */
inferd_status_t inferd_shm_status_json(inferd_shm_t *shm, const char *name, inferd_buf_t *out,
                                       inferd_err_t *err);

/* Looks up region name and checks that [offset, offset + byte_size) lies inside it. On
 * success *out holds a new reference to the region's tensor (its data is the region's first
 * byte). NOT_FOUND for an unknown region, INVALID_ARG for a range outside it; messages name
 * what (e.g. "input 'x'"). */
inferd_status_t inferd_shm_acquire(inferd_shm_t *shm, const char *what, const char *name,
                                   uint64_t offset, uint64_t byte_size, inferd_tensor_t **out,
                                   inferd_err_t *err);

#endif
