/* Cast between every numeric dtype and BOOL (13 x 13 kernels, generated below).
 *
 * Each element goes through one of three intermediate forms chosen by the source type:
 * int64_t (bool and integers up to int64), uint64_t (uint64) or double (the floats), and
 * is then stored into the destination type. Float to integer truncates toward zero; a
 * value beyond int64 saturates, NaN becomes 0, and narrower integer targets then wrap the
 * way numpy's casts do on x86 (-1.0 -> UINT8 gives 255). Integer narrowing wraps. Any
 * value to BOOL is "!= 0" (NaN is true). FP16/BF16 go through float; FP16 rounds to
 * nearest even, BF16 truncates (ONNX's reference and test data, opsets <= 18). A cast to
 * the input's own type is a view (no kernel runs). CastLike (15) takes the target type
 * from input 1. Numbers cast to STRING print as numpy's str() does (shortest round-trip
 * text); STRING parses with strtod and fails the run on text that is not a number.
 * Versions 6, 9 and 13 (opset 1 named the target type with a string; not supported). */
#include "backends/onnx/ops/ops.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

typedef void (*cast_fn)(const void *src, void *dst, uint64_t n);

/* ------------------------------------------------------------------------------------ */
/* Loads: source element -> intermediate                                                */

static inline int64_t load_b(uint8_t x)
{
    return x != 0;
}

#define LOAD_I(sfx, T)                                                                             \
    static inline int64_t load_##sfx(T x)                                                          \
    {                                                                                              \
        return (int64_t)x;                                                                         \
    }
LOAD_I(u8, uint8_t)
LOAD_I(u16, uint16_t)
LOAD_I(u32, uint32_t)
LOAD_I(i8, int8_t)
LOAD_I(i16, int16_t)
LOAD_I(i32, int32_t)
LOAD_I(i64, int64_t)

static inline uint64_t load_u64(uint64_t x)
{
    return x;
}

static inline double load_f16(uint16_t x)
{
    return inferd_fp16_to_fp32(x);
}

static inline double load_bf16(uint16_t x)
{
    return inferd_bf16_to_fp32(x);
}

static inline double load_f32(float x)
{
    return x;
}

static inline double load_f64(double x)
{
    return x;
}

/* ------------------------------------------------------------------------------------ */
/* Stores: intermediate -> destination element                                          */

/* double -> int64 truncating toward zero; NaN -> 0; saturating outside int64. */
static inline int64_t f_to_i64(double x)
{
    if (isnan(x))
        return 0;
    if (x >= 9223372036854775808.0)
        return INT64_MAX;
    if (x <= -9223372036854775808.0)
        return INT64_MIN;
    return (int64_t)x;
}

#define STORE_INT(sfx, T)                                                                          \
    static inline T store_##sfx##_i(int64_t x)                                                     \
    {                                                                                              \
        return (T)x;                                                                               \
    }                                                                                              \
    static inline T store_##sfx##_u(uint64_t x)                                                    \
    {                                                                                              \
        return (T)x;                                                                               \
    }                                                                                              \
    static inline T store_##sfx##_f(double x)                                                      \
    {                                                                                              \
        return (T)f_to_i64(x);                                                                     \
    }
STORE_INT(u8, uint8_t)
STORE_INT(u16, uint16_t)
STORE_INT(u32, uint32_t)
STORE_INT(i8, int8_t)
STORE_INT(i16, int16_t)
STORE_INT(i32, int32_t)
STORE_INT(i64, int64_t)

static inline uint64_t store_u64_i(int64_t x)
{
    return (uint64_t)x;
}

static inline uint64_t store_u64_u(uint64_t x)
{
    return x;
}

static inline uint64_t store_u64_f(double x)
{
    /* Values in [2^63, 2^64) do not fit int64 but do fit uint64. */
    if (x >= 9223372036854775808.0)
        return x >= 18446744073709551616.0 ? UINT64_MAX : (uint64_t)x;
    return (uint64_t)f_to_i64(x);
}

static inline uint8_t store_b_i(int64_t x)
{
    return x != 0;
}

static inline uint8_t store_b_u(uint64_t x)
{
    return x != 0;
}

static inline uint8_t store_b_f(double x)
{
    return x != 0;
}

#define STORE_FLOAT(sfx, T, CONV)                                                                  \
    static inline T store_##sfx##_i(int64_t x)                                                     \
    {                                                                                              \
        return CONV(x);                                                                            \
    }                                                                                              \
    static inline T store_##sfx##_u(uint64_t x)                                                    \
    {                                                                                              \
        return CONV(x);                                                                            \
    }                                                                                              \
    static inline T store_##sfx##_f(double x)                                                      \
    {                                                                                              \
        return CONV(x);                                                                            \
    }
/* FP32 -> BF16 keeps the top 16 bits (truncation), as ONNX's reference implementation
 * and its test data do up to opset 18; NaN stays a quiet NaN. */
static inline uint16_t bf16_truncate(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof(u));
    if (f != f)
        return 0x7fc0;
    return (uint16_t)(u >> 16);
}

#define CONV_F16(x) inferd_fp32_to_fp16((float)(x))
#define CONV_BF16(x) bf16_truncate((float)(x))
#define CONV_F32(x) ((float)(x))
#define CONV_F64(x) ((double)(x))
STORE_FLOAT(f16, uint16_t, CONV_F16)
STORE_FLOAT(bf16, uint16_t, CONV_BF16)
STORE_FLOAT(f32, float, CONV_F32)
STORE_FLOAT(f64, double, CONV_F64)

/* ------------------------------------------------------------------------------------ */
/* The 13 x 13 kernels                                                                  */

/* X(suffix, dtype, C type, intermediate kind) for sources and destinations alike. Two
 * identical lists, because a macro cannot expand itself inside its own expansion. */
#define CAST_SRC_TYPES(X)                                                                          \
    X(b, INFERD_DTYPE_BOOL, uint8_t, i)                                                            \
    X(u8, INFERD_DTYPE_UINT8, uint8_t, i)                                                          \
    X(u16, INFERD_DTYPE_UINT16, uint16_t, i)                                                       \
    X(u32, INFERD_DTYPE_UINT32, uint32_t, i)                                                       \
    X(u64, INFERD_DTYPE_UINT64, uint64_t, u)                                                       \
    X(i8, INFERD_DTYPE_INT8, int8_t, i)                                                            \
    X(i16, INFERD_DTYPE_INT16, int16_t, i)                                                         \
    X(i32, INFERD_DTYPE_INT32, int32_t, i)                                                         \
    X(i64, INFERD_DTYPE_INT64, int64_t, i)                                                         \
    X(f16, INFERD_DTYPE_FP16, uint16_t, f)                                                         \
    X(bf16, INFERD_DTYPE_BF16, uint16_t, f)                                                        \
    X(f32, INFERD_DTYPE_FP32, float, f)                                                            \
    X(f64, INFERD_DTYPE_FP64, double, f)

#define CAST_DST_TYPES(X, s, sdt, sct, k)                                                          \
    X(s, sct, k, b, INFERD_DTYPE_BOOL, uint8_t)                                                    \
    X(s, sct, k, u8, INFERD_DTYPE_UINT8, uint8_t)                                                  \
    X(s, sct, k, u16, INFERD_DTYPE_UINT16, uint16_t)                                               \
    X(s, sct, k, u32, INFERD_DTYPE_UINT32, uint32_t)                                               \
    X(s, sct, k, u64, INFERD_DTYPE_UINT64, uint64_t)                                               \
    X(s, sct, k, i8, INFERD_DTYPE_INT8, int8_t)                                                    \
    X(s, sct, k, i16, INFERD_DTYPE_INT16, int16_t)                                                 \
    X(s, sct, k, i32, INFERD_DTYPE_INT32, int32_t)                                                 \
    X(s, sct, k, i64, INFERD_DTYPE_INT64, int64_t)                                                 \
    X(s, sct, k, f16, INFERD_DTYPE_FP16, uint16_t)                                                 \
    X(s, sct, k, bf16, INFERD_DTYPE_BF16, uint16_t)                                                \
    X(s, sct, k, f32, INFERD_DTYPE_FP32, float)                                                    \
    X(s, sct, k, f64, INFERD_DTYPE_FP64, double)

#define DEFINE_CAST(s, sct, k, d, ddt, dct)                                                        \
    static void cast_##s##_##d(const void *src, void *dst, uint64_t n)                             \
    {                                                                                              \
        const sct *in = src;                                                                       \
        dct *out = dst;                                                                            \
        for (uint64_t i = 0; i < n; i++)                                                           \
            out[i] = store_##d##_##k(load_##s(in[i]));                                             \
    }
#define DEFINE_CASTS_FROM(s, sdt, sct, k) CAST_DST_TYPES(DEFINE_CAST, s, sdt, sct, k)
CAST_SRC_TYPES(DEFINE_CASTS_FROM)

#define CAST_ENTRY(s, sct, k, d, ddt, dct) [ddt] = cast_##s##_##d,
#define CAST_ROW(s, sdt, sct, k) [sdt] = {CAST_DST_TYPES(CAST_ENTRY, s, sdt, sct, k)},

static const cast_fn cast_table[INFERD_DTYPE_COUNT_][INFERD_DTYPE_COUNT_] = {
    CAST_SRC_TYPES(CAST_ROW)};

/* ------------------------------------------------------------------------------------ */
/* The op                                                                               */

static inferd_dtype_t dtype_from_onnx_enum(int64_t t)
{
    /* TensorProto.DataType numbering. */
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

static inferd_status_t cast_to_string(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err);
static size_t to_string_size(const inferd_tensor_t *x);

static inferd_status_t same_shape_reshape(const inferd_onnx_node_t *node,
                                          inferd_tensor_t *const *in, inferd_onnx_shape_t *out,
                                          inferd_err_t *err)
{
    inferd_onnx_shape_of(in[0], &out[0]);
    if (node->compute == cast_to_string)
        out[0].nbytes = to_string_size(in[0]);
    return INFERD_OK;
}

static inferd_status_t cast_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_tensor_t *const *out, inferd_err_t *err)
{
    cast_fn fn = *(const cast_fn *)node->op_data;
    fn(in[0]->data, out[0]->data, inferd_tensor_numel(in[0]));
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Strings                                                                              */

/* Number -> text as numpy's str() prints it: the shortest decimal that reads back as the
 * same value of the source's precision ("0.9767611" for a float32), "nan"/"inf"/"-inf",
 * and integral floats with a trailing ".0". Integers print in full. Returns the length
 * (at most 40). */
static int format_number(const void *src, inferd_dtype_t dt, uint64_t i, char *buf)
{
    if (inferd_onnx_dtype_is_int(dt) || dt == INFERD_DTYPE_BOOL) {
        if (dt == INFERD_DTYPE_UINT64)
            return snprintf(buf, 40, "%llu", (unsigned long long)((const uint64_t *)src)[i]);
        if (dt == INFERD_DTYPE_INT64)
            return snprintf(buf, 40, "%lld", (long long)((const int64_t *)src)[i]);
        return snprintf(buf, 40, "%lld", (long long)inferd_onnx_load_f64(src, dt, i));
    }
    double v = inferd_onnx_load_f64(src, dt, i);
    if (isnan(v))
        return snprintf(buf, 40, "nan");
    if (isinf(v))
        return snprintf(buf, 40, v > 0 ? "inf" : "-inf");
    int len = 0;
    for (int p = 1; p <= 17; p++) {
        len = snprintf(buf, 40, "%.*g", p, v);
        double back = strtod(buf, NULL);
        bool same = dt == INFERD_DTYPE_FP64 ? back == v : (float)back == (float)v;
        if (same)
            break;
    }
    if (!strpbrk(buf, ".en"))
        len += snprintf(buf + len, (size_t)(40 - len), ".0");
    return len;
}

/* Serialized size of the BYTES output of a cast to string. */
static size_t to_string_size(const inferd_tensor_t *x)
{
    char buf[48];
    size_t total = 0;
    uint64_t n = inferd_tensor_numel(x);
    for (uint64_t i = 0; i < n; i++)
        total += 4 + (size_t)format_number(x->data, x->dtype, i, buf);
    return total;
}

static inferd_status_t cast_to_string(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    char buf[48];
    uint8_t *p = out[0]->data;
    uint64_t n = inferd_tensor_numel(in[0]);
    for (uint64_t i = 0; i < n; i++) {
        uint32_t len = (uint32_t)format_number(in[0]->data, in[0]->dtype, i, buf);
        p[0] = (uint8_t)len;
        p[1] = (uint8_t)(len >> 8);
        p[2] = (uint8_t)(len >> 16);
        p[3] = (uint8_t)(len >> 24);
        memcpy(p + 4, buf, len);
        p += 4 + len;
    }
    return INFERD_OK;
}

/* Text -> number with strtod (which reads "nan", "inf", "-INF", exponents); text that is
 * not a number fails the run. */
static inferd_status_t cast_from_string(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                        inferd_tensor_t *const *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    uint64_t n = inferd_tensor_numel(x);
    if (!inferd_bytes_valid(x->data, x->nbytes, n))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "malformed string tensor");
    const uint8_t *p = x->data;
    for (uint64_t i = 0; i < n; i++) {
        uint32_t len =
            (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
        char buf[128];
        if (len >= sizeof(buf))
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "string %llu is too long for a number",
                                  (unsigned long long)i);
        memcpy(buf, p + 4, len);
        buf[len] = '\0';
        char *end = NULL;
        double v = strtod(buf, &end);
        if (end == buf || *end)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "'%s' is not a number", buf);
        inferd_onnx_store_f64(out[0]->data, out[0]->dtype, i, v);
        p += 4 + len;
    }
    return INFERD_OK;
}

static inferd_status_t cast_bind(inferd_onnx_init_t *ic, inferd_dtype_t dst, inferd_err_t *err);

static inferd_status_t cast_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(ic->node, "to");
    if (!a)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "attribute 'to' is required");
    int64_t to;
    if (inferd_onnx_attr_int(ic->node, "to", 0, &to, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    inferd_dtype_t dst = dtype_from_onnx_enum(to);
    if (dst == INFERD_DTYPE_INVALID)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "unsupported target type %lld",
                              (long long)to);
    return cast_bind(ic, dst, err);
}

/* CastLike (15): Cast to the type of input 1, whose values are not read. */
static inferd_status_t castlike_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return cast_bind(ic, ic->in_types[1], err);
}

static inferd_status_t cast_bind(inferd_onnx_init_t *ic, inferd_dtype_t dst, inferd_err_t *err)
{
    inferd_dtype_t src = ic->in_types[0];
    ic->out_types[0] = dst;
    if (src == dst) {
        ic->node->alias = true;
        return INFERD_OK;
    }
    bool numeric_src = src != INFERD_DTYPE_BYTES && inferd_dtype_size(src) > 0;
    bool numeric_dst = dst != INFERD_DTYPE_BYTES && inferd_dtype_size(dst) > 0;
    if (dst == INFERD_DTYPE_BYTES && numeric_src && src != INFERD_DTYPE_BF16) {
        ic->node->compute = cast_to_string;
        return INFERD_OK;
    }
    if (src == INFERD_DTYPE_BYTES && numeric_dst) {
        ic->node->compute = cast_from_string;
        return INFERD_OK;
    }
    cast_fn fn = src < INFERD_DTYPE_COUNT_ ? cast_table[src][dst] : NULL;
    if (!fn)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "no cast from %s to %s",
                              inferd_dtype_name(src), inferd_dtype_name(dst));
    cast_fn *p = inferd_xmalloc(sizeof(*p));
    *p = fn;
    ic->node->op_data = p;
    ic->node->compute = cast_compute;
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_cast[] = {
    {"", "Cast", 6, 1, 1, 1, cast_init, same_shape_reshape},
    {"", "Cast", 9, 1, 1, 1, cast_init, same_shape_reshape},
    {"", "Cast", 13, 1, 1, 1, cast_init, same_shape_reshape},
    {"", "CastLike", 15, 2, 2, 1, castlike_init, same_shape_reshape},
};
const size_t inferd_onnx_ops_cast_count =
    sizeof(inferd_onnx_ops_cast) / sizeof(inferd_onnx_ops_cast[0]);
