/* Helpers shared by the op families: shapes, axes, broadcasting, small int tensors. */
#include "backends/onnx/ops/ops.h"

#include <stdio.h>
#include <string.h>

void inferd_onnx_shape_of(const inferd_tensor_t *t, inferd_onnx_shape_t *s)
{
    s->ndim = t->ndim;
    memcpy(s->dims, t->dims, sizeof(s->dims));
    s->nbytes = t->dtype == INFERD_DTYPE_BYTES ? t->nbytes : 0;
}

int64_t inferd_onnx_dims_prod(const int64_t *dims, int from, int to)
{
    int64_t p = 1;
    for (int i = from; i < to; i++)
        p *= dims[i];
    return p;
}

const char *inferd_onnx_dims_str(const int64_t *dims, int ndim, char *buf, size_t size)
{
    size_t off = 0;
    buf[0] = '\0';
    off += (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && off < size; i++)
        off += (size_t)snprintf(buf + off, size - off, i ? ",%lld" : "%lld", (long long)dims[i]);
    if (off < size)
        snprintf(buf + off, size - off, "]");
    return buf;
}

inferd_status_t inferd_onnx_axis(int64_t axis, int rank, int *out, inferd_err_t *err)
{
    if (axis < -rank || axis >= rank)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "axis %lld is out of range for rank %d",
                              (long long)axis, rank);
    *out = (int)(axis < 0 ? axis + rank : axis);
    return INFERD_OK;
}

inferd_status_t inferd_onnx_broadcast(const inferd_onnx_shape_t *a, const inferd_onnx_shape_t *b,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int r = a->ndim > b->ndim ? a->ndim : b->ndim;
    for (int i = 0; i < r; i++) {
        int ia = i - (r - a->ndim), ib = i - (r - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1;
        int64_t db = ib >= 0 ? b->dims[ib] : 1;
        if (da != db && da != 1 && db != 1) {
            char sa[128], sb[128];
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "shapes %s and %s cannot be broadcast",
                                  inferd_onnx_dims_str(a->dims, a->ndim, sa, sizeof(sa)),
                                  inferd_onnx_dims_str(b->dims, b->ndim, sb, sizeof(sb)));
        }
        /* A 1 meets a 0 as 0: numpy broadcasts an empty dimension too. */
        out->dims[i] = da == 1 ? db : da;
    }
    out->ndim = r;
    return INFERD_OK;
}

inferd_status_t inferd_onnx_read_ints(const inferd_tensor_t *t, const char *what, int64_t *out,
                                      int max, int *n, inferd_err_t *err)
{
    if (t->ndim > 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s must be a 1-D tensor, got rank %d",
                              what, t->ndim);
    uint64_t count = inferd_tensor_numel(t);
    if (count > (uint64_t)max)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s has %llu values, at most %d allowed",
                              what, (unsigned long long)count, max);
    if (t->dtype == INFERD_DTYPE_INT64) {
        if (count)
            memcpy(out, t->data, count * sizeof(int64_t));
    } else if (t->dtype == INFERD_DTYPE_INT32) {
        const int32_t *src = t->data;
        for (uint64_t i = 0; i < count; i++)
            out[i] = src[i];
    } else {
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s must be INT64, got %s", what,
                              inferd_dtype_name(t->dtype));
    }
    *n = (int)count;
    return INFERD_OK;
}

inferd_status_t inferd_onnx_unsupported_dtype(const inferd_onnx_init_t *ic, int slot,
                                              inferd_err_t *err)
{
    return inferd_err_set(err, INFERD_E_UNSUPPORTED, "no kernel for input %d of type %s", slot,
                          inferd_dtype_name(ic->in_types[slot]));
}

bool inferd_onnx_dtype_is_float(inferd_dtype_t dt)
{
    return dt == INFERD_DTYPE_FP16 || dt == INFERD_DTYPE_BF16 || dt == INFERD_DTYPE_FP32 ||
           dt == INFERD_DTYPE_FP64;
}

bool inferd_onnx_dtype_is_int(inferd_dtype_t dt)
{
    switch (dt) {
    case INFERD_DTYPE_UINT8:
    case INFERD_DTYPE_UINT16:
    case INFERD_DTYPE_UINT32:
    case INFERD_DTYPE_UINT64:
    case INFERD_DTYPE_INT8:
    case INFERD_DTYPE_INT16:
    case INFERD_DTYPE_INT32:
    case INFERD_DTYPE_INT64: return true;
    default: return false;
    }
}

double inferd_onnx_load_f64(const void *p, inferd_dtype_t dt, uint64_t i)
{
    switch (dt) {
    case INFERD_DTYPE_FP32: return ((const float *)p)[i];
    case INFERD_DTYPE_FP64: return ((const double *)p)[i];
    case INFERD_DTYPE_FP16: return inferd_fp16_to_fp32(((const uint16_t *)p)[i]);
    case INFERD_DTYPE_BF16: return inferd_bf16_to_fp32(((const uint16_t *)p)[i]);
    case INFERD_DTYPE_INT8: return ((const int8_t *)p)[i];
    case INFERD_DTYPE_INT16: return ((const int16_t *)p)[i];
    case INFERD_DTYPE_INT32: return ((const int32_t *)p)[i];
    case INFERD_DTYPE_INT64: return (double)((const int64_t *)p)[i];
    case INFERD_DTYPE_BOOL:
    case INFERD_DTYPE_UINT8: return ((const uint8_t *)p)[i];
    case INFERD_DTYPE_UINT16: return ((const uint16_t *)p)[i];
    case INFERD_DTYPE_UINT32: return ((const uint32_t *)p)[i];
    case INFERD_DTYPE_UINT64: return (double)((const uint64_t *)p)[i];
    default: return 0;
    }
}

/* double -> int64 truncating; NaN -> 0; saturating outside int64 (as Cast does). */
static int64_t f64_to_i64(double v)
{
    if (v != v)
        return 0;
    if (v >= 9223372036854775808.0)
        return INT64_MAX;
    if (v <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)v;
}

void inferd_onnx_store_f64(void *p, inferd_dtype_t dt, uint64_t i, double v)
{
    switch (dt) {
    case INFERD_DTYPE_FP32: ((float *)p)[i] = (float)v; break;
    case INFERD_DTYPE_FP64: ((double *)p)[i] = v; break;
    case INFERD_DTYPE_FP16: ((uint16_t *)p)[i] = inferd_fp32_to_fp16((float)v); break;
    case INFERD_DTYPE_BF16: ((uint16_t *)p)[i] = inferd_fp32_to_bf16((float)v); break;
    case INFERD_DTYPE_BOOL: ((uint8_t *)p)[i] = v != 0; break;
    case INFERD_DTYPE_INT8: ((int8_t *)p)[i] = (int8_t)f64_to_i64(v); break;
    case INFERD_DTYPE_INT16: ((int16_t *)p)[i] = (int16_t)f64_to_i64(v); break;
    case INFERD_DTYPE_INT32: ((int32_t *)p)[i] = (int32_t)f64_to_i64(v); break;
    case INFERD_DTYPE_INT64: ((int64_t *)p)[i] = f64_to_i64(v); break;
    case INFERD_DTYPE_UINT8: ((uint8_t *)p)[i] = (uint8_t)f64_to_i64(v); break;
    case INFERD_DTYPE_UINT16: ((uint16_t *)p)[i] = (uint16_t)f64_to_i64(v); break;
    case INFERD_DTYPE_UINT32: ((uint32_t *)p)[i] = (uint32_t)f64_to_i64(v); break;
    case INFERD_DTYPE_UINT64:
        ((uint64_t *)p)[i] = v >= 9223372036854775808.0 ? (uint64_t)v : (uint64_t)f64_to_i64(v);
        break;
    default: break;
    }
}

inferd_dtype_t inferd_onnx_dtype_from_enum(int64_t t)
{
    switch (t) {
    case 1: return INFERD_DTYPE_FP32;
    case 2: return INFERD_DTYPE_UINT8;
    case 3: return INFERD_DTYPE_INT8;
    case 4: return INFERD_DTYPE_UINT16;
    case 5: return INFERD_DTYPE_INT16;
    case 6: return INFERD_DTYPE_INT32;
    case 7: return INFERD_DTYPE_INT64;
    case 8: return INFERD_DTYPE_BYTES;
    case 9: return INFERD_DTYPE_BOOL;
    case 10: return INFERD_DTYPE_FP16;
    case 11: return INFERD_DTYPE_FP64;
    case 12: return INFERD_DTYPE_UINT32;
    case 13: return INFERD_DTYPE_UINT64;
    case 16: return INFERD_DTYPE_BF16;
    default: return INFERD_DTYPE_INVALID;
    }
}

/* ------------------------------------------------------------------------------------ */
/* Broadcast walk                                                                       */

void inferd_onnx_bcast_init(inferd_onnx_bcast_t *w, const inferd_onnx_shape_t *a,
                            const inferd_onnx_shape_t *b, const inferd_onnx_shape_t *out)
{
    int r = out->ndim;
    int64_t sa[INFERD_MAX_DIMS], sb[INFERD_MAX_DIMS];
    int64_t ca = 1, cb = 1;
    bool empty = false;
    for (int i = r - 1; i >= 0; i--) {
        int ia = i - (r - a->ndim), ib = i - (r - b->ndim);
        int64_t da = ia >= 0 ? a->dims[ia] : 1;
        int64_t db = ib >= 0 ? b->dims[ib] : 1;
        sa[i] = da == 1 ? 0 : ca;
        sb[i] = db == 1 ? 0 : cb;
        ca *= da;
        cb *= db;
        if (out->dims[i] == 0)
            empty = true;
    }
    /* Drop unit dims, then merge a dim into the one outside it when both inputs step
     * through the pair as one longer dim. */
    int n = 0;
    int64_t md[INFERD_MAX_DIMS], ma[INFERD_MAX_DIMS], mb[INFERD_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        int64_t d = out->dims[i];
        if (d == 1)
            continue;
        if (n > 0 && ma[n - 1] == sa[i] * d && mb[n - 1] == sb[i] * d) {
            md[n - 1] *= d;
            ma[n - 1] = sa[i];
            mb[n - 1] = sb[i];
        } else {
            md[n] = d;
            ma[n] = sa[i];
            mb[n] = sb[i];
            n++;
        }
    }
    memset(w, 0, sizeof(*w));
    if (n == 0) {
        w->inner = 1;
        w->rows = 1;
    } else {
        w->inner = md[n - 1];
        w->inner_sa = ma[n - 1];
        w->inner_sb = mb[n - 1];
        w->ndim = n - 1;
        w->rows = 1;
        for (int i = 0; i < n - 1; i++) {
            w->dims[i] = md[i];
            w->sa[i] = ma[i];
            w->sb[i] = mb[i];
            w->rows *= md[i];
        }
    }
    if (empty) {
        w->rows = 0;
        w->inner = 0;
    }
}

void inferd_onnx_bcast_next(inferd_onnx_bcast_t *w)
{
    for (int i = w->ndim - 1; i >= 0; i--) {
        w->idx[i]++;
        w->off_a += w->sa[i];
        w->off_b += w->sb[i];
        if (w->idx[i] < w->dims[i])
            return;
        w->off_a -= w->sa[i] * w->dims[i];
        w->off_b -= w->sb[i] * w->dims[i];
        w->idx[i] = 0;
    }
}

void inferd_onnx_bcast_copy(const inferd_tensor_t *src, inferd_tensor_t *dst)
{
    inferd_onnx_shape_t ss, sd;
    inferd_onnx_shape_of(src, &ss);
    inferd_onnx_shape_of(dst, &sd);
    inferd_onnx_bcast_t w;
    inferd_onnx_bcast_init(&w, &ss, &ss, &sd);
    size_t es = inferd_dtype_size(src->dtype);
    const char *ps = src->data;
    char *pd = dst->data;
    for (int64_t row = 0; row < w.rows; row++) {
        char *out = pd + (size_t)(row * w.inner) * es;
        const char *in = ps + (size_t)w.off_a * es;
        if (w.inner_sa)
            memcpy(out, in, (size_t)w.inner * es);
        else
            for (int64_t i = 0; i < w.inner; i++)
                memcpy(out + (size_t)i * es, in, es);
        inferd_onnx_bcast_next(&w);
    }
}
