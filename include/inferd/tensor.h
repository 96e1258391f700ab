/* Tensors: typed, shaped, reference-counted blocks of row-major data.
 *
 * A tensor either owns its buffer (inferd_tensor_create), borrows one with a release
 * callback (inferd_tensor_wrap: a request body, a mapped region), or is a view into a
 * parent tensor (inferd_tensor_view), which keeps the parent alive until the view dies.
 * Counts cross threads, so they are atomic. Every live tensor is accounted for in a
 * global table by owner class (inferd_tensor_stats), which tests use to prove that
 * nothing leaks.
 *
 * BYTES tensors hold their elements serialized as in the v2 binary protocol: for each
 * element a 4-byte little-endian length and then the bytes. nbytes is the serialized
 * size. */
#ifndef INFERD_TENSOR_H
#define INFERD_TENSOR_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "inferd/status.h"

/* Values equal Triton's model_config.proto DataType (TYPE_BOOL = 1 ... TYPE_BF16 = 14). */
typedef enum {
    INFERD_DTYPE_INVALID = 0,
    INFERD_DTYPE_BOOL = 1,
    INFERD_DTYPE_UINT8 = 2,
    INFERD_DTYPE_UINT16 = 3,
    INFERD_DTYPE_UINT32 = 4,
    INFERD_DTYPE_UINT64 = 5,
    INFERD_DTYPE_INT8 = 6,
    INFERD_DTYPE_INT16 = 7,
    INFERD_DTYPE_INT32 = 8,
    INFERD_DTYPE_INT64 = 9,
    INFERD_DTYPE_FP16 = 10,
    INFERD_DTYPE_FP32 = 11,
    INFERD_DTYPE_FP64 = 12,
    INFERD_DTYPE_BYTES = 13,
    INFERD_DTYPE_BF16 = 14,
    INFERD_DTYPE_COUNT_ /* not a type */
} inferd_dtype_t;

#define INFERD_MAX_DIMS 8

/* Who a tensor's memory is charged to in the live-tensor account. */
typedef enum {
    INFERD_OWNER_REQUEST = 0, /* request inputs and outputs */
    INFERD_OWNER_MODEL,       /* weights and constants of a loaded model */
    INFERD_OWNER_ARENA,       /* engine intermediates */
    INFERD_OWNER_SHM,         /* views into shared-memory regions */
    INFERD_OWNER_COUNT_
} inferd_owner_t;

typedef void (*inferd_release_cb)(void *release_ctx, void *data);

typedef struct inferd_tensor inferd_tensor_t;
struct inferd_tensor {
    inferd_dtype_t dtype;
    int ndim;                      /* 0 for a scalar */
    int64_t dims[INFERD_MAX_DIMS]; /* each >= 0 */
    void *data;                    /* NULL only when nbytes == 0 */
    size_t nbytes;                 /* numel * element size; serialized size for BYTES */
    inferd_owner_t owner;          /* account this tensor is charged to */
    atomic_int _refs;              /* use inferd_tensor_ref/unref */
    inferd_release_cb _release;    /* frees data at the last unref (NULL: nothing to free) */
    void *_release_ctx;
    inferd_tensor_t *_parent; /* set for views: unref'd at the last unref */
};

/* Size of one element in bytes; 0 for BYTES (variable) and INVALID. */
size_t inferd_dtype_size(inferd_dtype_t dt);

/* Protocol name ("FP32", "BYTES", ...); "INVALID" for anything else. */
const char *inferd_dtype_name(inferd_dtype_t dt);

/* Parses a protocol name ("FP32"); INFERD_DTYPE_INVALID if unknown. len may be (size_t)-1
 * for a NUL-terminated string. */
inferd_dtype_t inferd_dtype_from_name(const char *name, size_t len);

/* Config name ("TYPE_FP32", "TYPE_STRING" for BYTES). */
const char *inferd_dtype_config_name(inferd_dtype_t dt);
inferd_dtype_t inferd_dtype_from_config_name(const char *name, size_t len);

/* Element count of a shape into *numel. Fails with INVALID_ARG for a negative dim or
 * ndim out of range, and TOO_LARGE when the product overflows or exceeds max_numel. */
inferd_status_t inferd_shape_numel(const int64_t *dims, int ndim, uint64_t max_numel,
                                   uint64_t *numel, inferd_err_t *err);

/* Element count of a tensor (product of its dims; 1 for a scalar). */
uint64_t inferd_tensor_numel(const inferd_tensor_t *t);

/* Allocates a zeroed tensor of a fixed-size dtype. nbytes_bytes is the serialized size
 * for BYTES and ignored otherwise. Returns NULL and sets err (RESOURCE_EXHAUSTED on
 * allocation failure, INVALID_ARG on a bad shape). refs = 1. */
inferd_tensor_t *inferd_tensor_create(inferd_dtype_t dt, const int64_t *dims, int ndim,
                                      size_t nbytes_bytes, inferd_owner_t owner, inferd_err_t *err);

/* Wraps caller memory without copying; release(release_ctx, data) runs at the last
 * unref (release may be NULL). Fails only on a bad shape. */
inferd_tensor_t *inferd_tensor_wrap(inferd_dtype_t dt, const int64_t *dims, int ndim, void *data,
                                    size_t nbytes, inferd_release_cb release, void *release_ctx,
                                    inferd_owner_t owner, inferd_err_t *err);

/* A view of nbytes at byte offset within parent, with its own dtype and shape. Takes a
 * reference on parent. Fails with INVALID_ARG if the range falls outside parent. */
inferd_tensor_t *inferd_tensor_view(inferd_tensor_t *parent, size_t offset, inferd_dtype_t dt,
                                    const int64_t *dims, int ndim, size_t nbytes,
                                    inferd_err_t *err);

/* Reference counting. unref(NULL) does nothing. Returns the tensor for chaining. */
inferd_tensor_t *inferd_tensor_ref(inferd_tensor_t *t);
void inferd_tensor_unref(inferd_tensor_t *t);

/* Whether the caller's reference is the only one to t's data: one reference, and t is
 * not a view (a view shares its parent's data with whatever else holds the parent; a
 * tensor with views is referenced by them). Then the data may be overwritten in place. */
bool inferd_tensor_is_sole_owner(const inferd_tensor_t *t);

/* For use as a release callback or a deferred cleanup: unrefs the tensor in arg. */
void inferd_tensor_unref_cb(void *arg);

/* Live-tensor account. */
typedef struct inferd_tensor_stats {
    int64_t count[INFERD_OWNER_COUNT_];
    int64_t bytes[INFERD_OWNER_COUNT_];
    int64_t peak_bytes[INFERD_OWNER_COUNT_]; /* most bytes live at once since the last reset */
    int64_t total_count;
    int64_t total_bytes;
} inferd_tensor_stats_t;

void inferd_tensor_stats(inferd_tensor_stats_t *out);

/* Restarts the high-water marks (peak_bytes) from the bytes live now, e.g. to measure
 * what one inference needs at most. Process-wide: concurrent work is counted too. */
void inferd_tensor_peak_reset(void);

const char *inferd_owner_name(inferd_owner_t owner);

/* Validates a BYTES buffer: numel length-prefixed elements exactly filling nbytes. */
bool inferd_bytes_valid(const void *data, size_t nbytes, uint64_t numel);

/* FP16/BF16 conversions (round to nearest even). */
float inferd_fp16_to_fp32(uint16_t h);
uint16_t inferd_fp32_to_fp16(float f);
float inferd_bf16_to_fp32(uint16_t h);
uint16_t inferd_fp32_to_bf16(float f);

#endif
