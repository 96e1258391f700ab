/* Tensors: creation, views, reference counting and the live-tensor account. */
#include "inferd/tensor.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

/* ------------------------------------------------------------------------------------ */
/* Datatypes                                                                            */

static const struct {
    const char *name;
    const char *config_name;
    size_t size;
} dtype_info[INFERD_DTYPE_COUNT_] = {
    [INFERD_DTYPE_INVALID] = {"INVALID", "TYPE_INVALID", 0},
    [INFERD_DTYPE_BOOL] = {"BOOL", "TYPE_BOOL", 1},
    [INFERD_DTYPE_UINT8] = {"UINT8", "TYPE_UINT8", 1},
    [INFERD_DTYPE_UINT16] = {"UINT16", "TYPE_UINT16", 2},
    [INFERD_DTYPE_UINT32] = {"UINT32", "TYPE_UINT32", 4},
    [INFERD_DTYPE_UINT64] = {"UINT64", "TYPE_UINT64", 8},
    [INFERD_DTYPE_INT8] = {"INT8", "TYPE_INT8", 1},
    [INFERD_DTYPE_INT16] = {"INT16", "TYPE_INT16", 2},
    [INFERD_DTYPE_INT32] = {"INT32", "TYPE_INT32", 4},
    [INFERD_DTYPE_INT64] = {"INT64", "TYPE_INT64", 8},
    [INFERD_DTYPE_FP16] = {"FP16", "TYPE_FP16", 2},
    [INFERD_DTYPE_FP32] = {"FP32", "TYPE_FP32", 4},
    [INFERD_DTYPE_FP64] = {"FP64", "TYPE_FP64", 8},
    [INFERD_DTYPE_BYTES] = {"BYTES", "TYPE_STRING", 0},
    [INFERD_DTYPE_BF16] = {"BF16", "TYPE_BF16", 2},
};

static bool dtype_valid(inferd_dtype_t dt)
{
    return dt > INFERD_DTYPE_INVALID && dt < INFERD_DTYPE_COUNT_;
}

size_t inferd_dtype_size(inferd_dtype_t dt)
{
    return dtype_valid(dt) ? dtype_info[dt].size : 0;
}

const char *inferd_dtype_name(inferd_dtype_t dt)
{
    return dtype_valid(dt) ? dtype_info[dt].name : "INVALID";
}

const char *inferd_dtype_config_name(inferd_dtype_t dt)
{
    return dtype_valid(dt) ? dtype_info[dt].config_name : "TYPE_INVALID";
}

static inferd_dtype_t dtype_lookup(const char *name, size_t len, bool config)
{
    if (len == (size_t)-1)
        len = strlen(name);
    for (int i = 1; i < INFERD_DTYPE_COUNT_; i++) {
        const char *n = config ? dtype_info[i].config_name : dtype_info[i].name;
        if (strlen(n) == len && memcmp(n, name, len) == 0)
            return (inferd_dtype_t)i;
    }
    return INFERD_DTYPE_INVALID;
}

inferd_dtype_t inferd_dtype_from_name(const char *name, size_t len)
{
    return dtype_lookup(name, len, false);
}

inferd_dtype_t inferd_dtype_from_config_name(const char *name, size_t len)
{
    return dtype_lookup(name, len, true);
}

inferd_status_t inferd_shape_numel(const int64_t *dims, int ndim, uint64_t max_numel,
                                   uint64_t *numel, inferd_err_t *err)
{
    if (ndim < 0 || ndim > INFERD_MAX_DIMS)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "rank %d is outside 0..%d", ndim,
                              INFERD_MAX_DIMS);
    uint64_t n = 1;
    bool zero = false;
    for (int i = 0; i < ndim; i++) {
        if (dims[i] < 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "dimension %d is negative (%lld)", i,
                                  (long long)dims[i]);
        if (dims[i] == 0)
            zero = true;
    }
    if (zero) {
        *numel = 0;
        return INFERD_OK;
    }
    for (int i = 0; i < ndim; i++) {
        uint64_t d = (uint64_t)dims[i];
        if (n > max_numel / d && max_numel == UINT64_MAX)
            return inferd_err_set(err, INFERD_E_TOO_LARGE,
                                  "the element count of the shape overflows 64 bits");
        if (n > max_numel / d)
            return inferd_err_set(err, INFERD_E_TOO_LARGE, "shape has more than %llu elements",
                                  (unsigned long long)max_numel);
        n *= d;
    }
    *numel = n;
    return INFERD_OK;
}

uint64_t inferd_tensor_numel(const inferd_tensor_t *t)
{
    uint64_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (uint64_t)t->dims[i];
    return n;
}

/* ------------------------------------------------------------------------------------ */
/* Live-tensor account                                                                  */

static atomic_llong live_count[INFERD_OWNER_COUNT_];
static atomic_llong live_bytes[INFERD_OWNER_COUNT_];
static atomic_llong peak_bytes[INFERD_OWNER_COUNT_]; /* high-water mark of live_bytes */

static void account(const inferd_tensor_t *t, int sign)
{
    atomic_fetch_add(&live_count[t->owner], sign);
    long long now = atomic_fetch_add(&live_bytes[t->owner], sign * (long long)t->nbytes) +
                    sign * (long long)t->nbytes;
    long long peak = atomic_load_explicit(&peak_bytes[t->owner], memory_order_relaxed);
    while (now > peak && !atomic_compare_exchange_weak(&peak_bytes[t->owner], &peak, now)) {
    }
}

void inferd_tensor_peak_reset(void)
{
    for (int i = 0; i < INFERD_OWNER_COUNT_; i++)
        atomic_store(&peak_bytes[i], atomic_load(&live_bytes[i]));
}

void inferd_tensor_stats(inferd_tensor_stats_t *out)
{
    memset(out, 0, sizeof(*out));
    for (int i = 0; i < INFERD_OWNER_COUNT_; i++) {
        out->count[i] = atomic_load(&live_count[i]);
        out->bytes[i] = atomic_load(&live_bytes[i]);
        out->peak_bytes[i] = atomic_load(&peak_bytes[i]);
        out->total_count += out->count[i];
        out->total_bytes += out->bytes[i];
    }
}

const char *inferd_owner_name(inferd_owner_t owner)
{
    switch (owner) {
    case INFERD_OWNER_REQUEST: return "request";
    case INFERD_OWNER_MODEL: return "model";
    case INFERD_OWNER_ARENA: return "arena";
    case INFERD_OWNER_SHM: return "shm";
    case INFERD_OWNER_COUNT_: break;
    }
    return "unknown";
}

/* ------------------------------------------------------------------------------------ */
/* Creation and lifetime                                                                */

static inferd_status_t check_shape(inferd_dtype_t dt, const int64_t *dims, int ndim,
                                   inferd_owner_t owner, uint64_t *numel, inferd_err_t *err)
{
    if (!dtype_valid(dt))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "invalid datatype %d", (int)dt);
    /* The owner indexes the live-tensor account, so a bad one must not get that far. */
    if ((unsigned)owner >= INFERD_OWNER_COUNT_)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "invalid tensor owner %d", (int)owner);
    return inferd_shape_numel(dims, ndim, UINT64_MAX, numel, err);
}

static inferd_tensor_t *tensor_new(inferd_dtype_t dt, const int64_t *dims, int ndim,
                                   inferd_owner_t owner)
{
    inferd_tensor_t *t = inferd_calloc(1, sizeof(*t));
    if (!t)
        return NULL;
    t->dtype = dt;
    t->ndim = ndim;
    if (ndim > 0)
        memcpy(t->dims, dims, (size_t)ndim * sizeof(int64_t));
    t->owner = owner;
    atomic_init(&t->_refs, 1);
    return t;
}

static void free_release(void *ctx, void *data)
{
    (void)ctx;
    inferd_free(data);
}

inferd_tensor_t *inferd_tensor_create(inferd_dtype_t dt, const int64_t *dims, int ndim,
                                      size_t nbytes_bytes, inferd_owner_t owner, inferd_err_t *err)
{
    uint64_t numel;
    if (check_shape(dt, dims, ndim, owner, &numel, err) != INFERD_OK)
        return NULL;
    size_t nbytes;
    if (dt == INFERD_DTYPE_BYTES) {
        nbytes = nbytes_bytes;
    } else {
        size_t es = dtype_info[dt].size;
        if (numel > SIZE_MAX / es) {
            inferd_err_set(err, INFERD_E_TOO_LARGE, "tensor of %llu elements is too large",
                           (unsigned long long)numel);
            return NULL;
        }
        nbytes = (size_t)numel * es;
    }
    inferd_tensor_t *t = tensor_new(dt, dims, ndim, owner);
    void *data = nbytes ? inferd_calloc(1, nbytes) : NULL;
    if (!t || (nbytes && !data)) {
        inferd_free(t);
        inferd_free(data);
        inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory allocating %zu bytes",
                       nbytes);
        return NULL;
    }
    t->data = data;
    t->nbytes = nbytes;
    t->_release = data ? free_release : NULL;
    account(t, +1);
    return t;
}

inferd_tensor_t *inferd_tensor_wrap(inferd_dtype_t dt, const int64_t *dims, int ndim, void *data,
                                    size_t nbytes, inferd_release_cb release, void *release_ctx,
                                    inferd_owner_t owner, inferd_err_t *err)
{
    uint64_t numel;
    if (check_shape(dt, dims, ndim, owner, &numel, err) != INFERD_OK)
        return NULL;
    inferd_tensor_t *t = tensor_new(dt, dims, ndim, owner);
    if (!t) {
        inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    t->data = data;
    t->nbytes = nbytes;
    t->_release = release;
    t->_release_ctx = release_ctx;
    account(t, +1);
    return t;
}

inferd_tensor_t *inferd_tensor_view(inferd_tensor_t *parent, size_t offset, inferd_dtype_t dt,
                                    const int64_t *dims, int ndim, size_t nbytes, inferd_err_t *err)
{
    if (offset > parent->nbytes || nbytes > parent->nbytes - offset) {
        inferd_err_set(err, INFERD_E_INVALID_ARG,
                       "view of %zu bytes at offset %zu exceeds the %zu-byte parent", nbytes,
                       offset, parent->nbytes);
        return NULL;
    }
    uint64_t numel;
    if (check_shape(dt, dims, ndim, parent->owner, &numel, err) != INFERD_OK)
        return NULL;
    inferd_tensor_t *t = tensor_new(dt, dims, ndim, parent->owner);
    if (!t) {
        inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");
        return NULL;
    }
    /* An empty parent may have no data at all, and NULL + 0 is still undefined in C. */
    t->data = parent->data ? (char *)parent->data + offset : NULL;
    t->nbytes = nbytes;
    t->_parent = inferd_tensor_ref(parent);
    /* A view is counted as a tensor but its bytes belong to the parent. */
    atomic_fetch_add(&live_count[t->owner], 1);
    return t;
}

inferd_tensor_t *inferd_tensor_ref(inferd_tensor_t *t)
{
    if (t)
        atomic_fetch_add_explicit(&t->_refs, 1, memory_order_relaxed);
    return t;
}

void inferd_tensor_unref(inferd_tensor_t *t)
{
    while (t) {
        /* acq_rel: the last owner must see every write made through other references. */
        if (atomic_fetch_sub_explicit(&t->_refs, 1, memory_order_acq_rel) != 1)
            return;
        inferd_tensor_t *parent = t->_parent;
        if (parent) {
            atomic_fetch_sub(&live_count[t->owner], 1);
        } else {
            account(t, -1);
            if (t->_release)
                t->_release(t->_release_ctx, t->data);
        }
        inferd_free(t);
        t = parent; /* iterative, so long view chains cannot overflow the stack */
    }
}

bool inferd_tensor_is_sole_owner(const inferd_tensor_t *t)
{
    return !t->_parent && atomic_load(&t->_refs) == 1;
}

void inferd_tensor_unref_cb(void *arg)
{
    inferd_tensor_unref(arg);
}

bool inferd_bytes_valid(const void *data, size_t nbytes, uint64_t numel)
{
    const unsigned char *p = data;
    size_t off = 0;
    for (uint64_t i = 0; i < numel; i++) {
        if (nbytes - off < 4)
            return false;
        uint32_t len = (uint32_t)p[off] | (uint32_t)p[off + 1] << 8 | (uint32_t)p[off + 2] << 16 |
                       (uint32_t)p[off + 3] << 24;
        off += 4;
        if (len > nbytes - off)
            return false;
        off += len;
    }
    return off == nbytes;
}

/* ------------------------------------------------------------------------------------ */
/* Half-precision conversions                                                           */

float inferd_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000) << 16;
    uint32_t exp = (h >> 10) & 0x1f;
    uint32_t mant = h & 0x3ff;
    uint32_t bits;
    if (exp == 0) {
        if (mant == 0) {
            bits = sign;
        } else { /* subnormal: renormalize */
            float f = ldexpf((float)mant, -24);
            memcpy(&bits, &f, 4);
            bits |= sign;
        }
    } else if (exp == 31) {
        bits = sign | 0x7f800000u | (mant << 13);
    } else {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t inferd_fp32_to_fp16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000);
    uint32_t absx = x & 0x7fffffffu;
    if (absx >= 0x7f800000u) /* inf or nan */
        return sign | 0x7c00 | (absx > 0x7f800000u ? 0x200 : 0);
    if (absx >= 0x477ff000u) /* rounds to >= 65520: overflow to inf */
        return sign | 0x7c00;
    if (absx < 0x38800000u) { /* result is subnormal or zero */
        float a;
        memcpy(&a, &absx, 4);
        /* Scale so the subnormal quantum becomes 1, then round to nearest even. */
        float scaled = a * 16777216.0f; /* 2^24 */
        uint32_t m = (uint32_t)nearbyintf(scaled);
        return sign | (uint16_t)m;
    }
    uint32_t mant = absx & 0x7fffff;
    uint32_t exp = (absx >> 23) - 112;
    uint32_t h = (exp << 10) | (mant >> 13);
    uint32_t rest = mant & 0x1fff;
    if (rest > 0x1000 || (rest == 0x1000 && (h & 1)))
        h++;
    return sign | (uint16_t)h;
}

float inferd_bf16_to_fp32(uint16_t h)
{
    uint32_t bits = (uint32_t)h << 16;
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

uint16_t inferd_fp32_to_bf16(float f)
{
    uint32_t x;
    memcpy(&x, &f, 4);
    if ((x & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((x >> 16) | 0x40);
    uint32_t rounding = 0x7fff + ((x >> 16) & 1);
    return (uint16_t)((x + rounding) >> 16);
}
