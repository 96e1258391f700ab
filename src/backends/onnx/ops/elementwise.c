/* Broadcasting elementwise operators beyond Add/Sub/Mul/Div: comparisons (Equal, Less,
 * LessOrEqual, Greater, GreaterOrEqual -> BOOL), logic (And, Or, Xor on BOOL), bit
 * operations (BitShift, BitwiseAnd/Or/Xor), Pow, Mod, PRelu, the variadic Max, Min, Sum
 * and Mean, and Where.
 *
 * All inputs broadcast multidirectionally (numpy). Two-input kernels run over the
 * broadcast walk of common.c; a variadic op first broadcasts input 0 into the output and
 * then folds each further input into it in place; Where walks its three inputs with
 * per-input strides. FP16 kernels compute in float and round back. Integer arithmetic
 * wraps, integer Mod by zero gives 0 rather than trapping, and Max/Min propagate NaN
 * (as numpy's maximum/minimum). Mod follows ONNX: with fmod=0 the result takes the
 * divisor's sign (Python's %), with fmod=1 the dividend's (C's fmod). */
#include "backends/onnx/ops/ops.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

/* Applies the op to n elements; sa/sb are 1 (walk) or 0 (repeat element 0). */
typedef void (*ew_fn)(const void *a, int64_t sa, const void *b, int64_t sb, void *o, int64_t n);

typedef struct ew_data {
    ew_fn fn;
    bool mean; /* Mean: divide the sum by the input count */
} ew_data_t;

/* ------------------------------------------------------------------------------------ */
/* Kernels                                                                              */

#define ID(x) (x)
#define F16L(x) inferd_fp16_to_fp32(x)
#define F16S(x) inferd_fp32_to_fp16((float)(x))
#define BOOLS(x) ((uint8_t)((x) ? 1 : 0))

/* a and b of C type TA, computed as CT (LOAD), stored into TO through STORE. */
#define EW(name, TA, TO, CT, LOAD, STORE, EXPR)                                                    \
    static void name(const void *pa, int64_t sa, const void *pb, int64_t sb, void *po, int64_t n)  \
    {                                                                                              \
        const TA *a = pa, *b = pb;                                                                 \
        TO *o = po;                                                                                \
        for (int64_t i = 0; i < n; i++) {                                                          \
            CT x = LOAD(a[i * sa]), y = LOAD(b[i * sb]);                                           \
            o[i] = STORE(EXPR);                                                                    \
        }                                                                                          \
    }

/* Same-type output, floats. */
#define EW_FLOAT(op, EXPR)                                                                         \
    EW(op##_f32, float, float, float, ID, ID, EXPR)                                                \
    EW(op##_f64, double, double, double, ID, ID, EXPR)                                             \
    EW(op##_f16, uint16_t, uint16_t, float, F16L, F16S, EXPR)

#define EW_SIGNED(op, EXPR)                                                                        \
    EW(op##_i8, int8_t, int8_t, int8_t, ID, ID, EXPR)                                              \
    EW(op##_i16, int16_t, int16_t, int16_t, ID, ID, EXPR)                                          \
    EW(op##_i32, int32_t, int32_t, int32_t, ID, ID, EXPR)                                          \
    EW(op##_i64, int64_t, int64_t, int64_t, ID, ID, EXPR)

#define EW_UNSIGNED(op, EXPR)                                                                      \
    EW(op##_u8, uint8_t, uint8_t, uint8_t, ID, ID, EXPR)                                           \
    EW(op##_u16, uint16_t, uint16_t, uint16_t, ID, ID, EXPR)                                       \
    EW(op##_u32, uint32_t, uint32_t, uint32_t, ID, ID, EXPR)                                       \
    EW(op##_u64, uint64_t, uint64_t, uint64_t, ID, ID, EXPR)

/* BOOL output from every numeric type. */
#define EW_CMP(op, EXPR)                                                                           \
    EW(op##_f32, float, uint8_t, float, ID, BOOLS, EXPR)                                           \
    EW(op##_f64, double, uint8_t, double, ID, BOOLS, EXPR)                                         \
    EW(op##_f16, uint16_t, uint8_t, float, F16L, BOOLS, EXPR)                                      \
    EW(op##_i8, int8_t, uint8_t, int8_t, ID, BOOLS, EXPR)                                          \
    EW(op##_i16, int16_t, uint8_t, int16_t, ID, BOOLS, EXPR)                                       \
    EW(op##_i32, int32_t, uint8_t, int32_t, ID, BOOLS, EXPR)                                       \
    EW(op##_i64, int64_t, uint8_t, int64_t, ID, BOOLS, EXPR)                                       \
    EW(op##_u8, uint8_t, uint8_t, uint8_t, ID, BOOLS, EXPR)                                        \
    EW(op##_u16, uint16_t, uint8_t, uint16_t, ID, BOOLS, EXPR)                                     \
    EW(op##_u32, uint32_t, uint8_t, uint32_t, ID, BOOLS, EXPR)                                     \
    EW(op##_u64, uint64_t, uint8_t, uint64_t, ID, BOOLS, EXPR)

#define WRAP(T, x, op, y) ((T)((uint64_t)(x)op(uint64_t)(y)))
/* NaN-propagating max/min. */
#define FMAXN(x, y) ((x) != (x) || (x) > (y) ? (x) : (y))
#define FMINN(x, y) ((x) != (x) || (x) < (y) ? (x) : (y))

EW_CMP(eq, x == y)
EW_CMP(lt, x < y)
EW_CMP(le, x <= y)
EW_CMP(gt, x > y)
EW_CMP(ge, x >= y)
EW(and_b, uint8_t, uint8_t, uint8_t, ID, BOOLS, x &&y)
EW(or_b, uint8_t, uint8_t, uint8_t, ID, BOOLS, x || y)
EW(xor_b, uint8_t, uint8_t, uint8_t, ID, BOOLS, (x != 0) != (y != 0))

EW_FLOAT(max, FMAXN(x, y))
EW_SIGNED(max, x > y ? x : y)
EW_UNSIGNED(max, x > y ? x : y)
EW_FLOAT(min, FMINN(x, y))
EW_SIGNED(min, x < y ? x : y)
EW_UNSIGNED(min, x < y ? x : y)
EW_FLOAT(sum, x + y)
EW_SIGNED(sum, WRAP(int64_t, x, +, y))
EW_UNSIGNED(sum, WRAP(uint64_t, x, +, y))
EW_FLOAT(prelu, x < 0 ? x * y : x)
EW_SIGNED(prelu, x < 0 ? WRAP(int64_t, x, *, y) : x)

/* Mod, fmod=1: the remainder has the dividend's sign. */
EW_FLOAT(fmod, fmod(x, y))
EW_SIGNED(fmod, y == 0 || y == -1 ? 0 : x % y)
EW_UNSIGNED(fmod, y == 0 ? 0 : x % y)
/* Mod, fmod=0: the remainder has the divisor's sign. */
#define PYMOD_F(x, y)                                                                              \
    (fmod(x, y) != 0 && ((fmod(x, y) < 0) != (y < 0)) ? fmod(x, y) + y : fmod(x, y))
#define PYMOD_I(x, y)                                                                              \
    (y == 0 || y == -1 ? 0 : (x % y != 0 && ((x % y < 0) != (y < 0))) ? x % y + y : x % y)
EW_FLOAT(pymod, PYMOD_F(x, y))
EW_SIGNED(pymod, PYMOD_I(x, y))

EW_UNSIGNED(shl, (uint64_t)y >= 8 * sizeof(x) ? 0 : (uint64_t)x << y)
EW_UNSIGNED(shr, (uint64_t)y >= 8 * sizeof(x) ? 0 : x >> y)
EW_SIGNED(band, x &y)
EW_UNSIGNED(band, x &y)
EW_SIGNED(bor, x | y)
EW_UNSIGNED(bor, x | y)
EW_SIGNED(bxor, x ^ y)
EW_UNSIGNED(bxor, x ^ y)

/* Kernels of one operator by (first) input dtype. */
typedef struct ew_kind {
    ew_fn k[INFERD_DTYPE_COUNT_];
} ew_kind_t;

#define K_FLOAT(op)                                                                                \
    [INFERD_DTYPE_FP32] = op##_f32, [INFERD_DTYPE_FP64] = op##_f64, [INFERD_DTYPE_FP16] = op##_f16
#define K_SIGNED(op)                                                                               \
    [INFERD_DTYPE_INT8] = op##_i8, [INFERD_DTYPE_INT16] = op##_i16,                                \
    [INFERD_DTYPE_INT32] = op##_i32, [INFERD_DTYPE_INT64] = op##_i64
#define K_UNSIGNED(op)                                                                             \
    [INFERD_DTYPE_UINT8] = op##_u8, [INFERD_DTYPE_UINT16] = op##_u16,                              \
    [INFERD_DTYPE_UINT32] = op##_u32, [INFERD_DTYPE_UINT64] = op##_u64
#define K_NUM(op) K_FLOAT(op), K_SIGNED(op), K_UNSIGNED(op)

static const ew_kind_t kind_eq = {{K_NUM(eq), [INFERD_DTYPE_BOOL] = eq_u8}};
static const ew_kind_t kind_lt = {{K_NUM(lt)}};
static const ew_kind_t kind_le = {{K_NUM(le)}};
static const ew_kind_t kind_gt = {{K_NUM(gt)}};
static const ew_kind_t kind_ge = {{K_NUM(ge)}};
static const ew_kind_t kind_and = {{[INFERD_DTYPE_BOOL] = and_b}};
static const ew_kind_t kind_or = {{[INFERD_DTYPE_BOOL] = or_b}};
static const ew_kind_t kind_xor = {{[INFERD_DTYPE_BOOL] = xor_b}};
static const ew_kind_t kind_max = {{K_NUM(max)}};
static const ew_kind_t kind_min = {{K_NUM(min)}};
static const ew_kind_t kind_sum = {{K_NUM(sum)}};
static const ew_kind_t kind_mean = {{K_FLOAT(sum)}};
static const ew_kind_t kind_prelu = {{K_FLOAT(prelu), K_SIGNED(prelu)}};
static const ew_kind_t kind_fmod = {{K_NUM(fmod)}};
static const ew_kind_t kind_pymod = {{K_FLOAT(pymod), K_SIGNED(pymod), K_UNSIGNED(fmod)}};
static const ew_kind_t kind_shl = {{K_UNSIGNED(shl)}};
static const ew_kind_t kind_shr = {{K_UNSIGNED(shr)}};
static const ew_kind_t kind_band = {{K_SIGNED(band), K_UNSIGNED(band)}};
static const ew_kind_t kind_bor = {{K_SIGNED(bor), K_UNSIGNED(bor)}};
static const ew_kind_t kind_bxor = {{K_SIGNED(bxor), K_UNSIGNED(bxor)}};

/* ------------------------------------------------------------------------------------ */
/* Drivers                                                                              */

/* o = fn(a, b) over the broadcast of a's and b's shapes, which is o's shape. a may be o.
 * b_shape (may be NULL) overrides b's shape with one of the same element count. */
static void ew_run(ew_fn fn, const inferd_tensor_t *a, const inferd_tensor_t *b,
                   const inferd_onnx_shape_t *b_shape, inferd_tensor_t *o)
{
    inferd_onnx_shape_t sa, sb, so;
    inferd_onnx_shape_of(a, &sa);
    inferd_onnx_shape_of(b, &sb);
    if (b_shape)
        sb = *b_shape;
    inferd_onnx_shape_of(o, &so);
    inferd_onnx_bcast_t w;
    inferd_onnx_bcast_init(&w, &sa, &sb, &so);
    size_t ea = inferd_dtype_size(a->dtype), eb = inferd_dtype_size(b->dtype),
           eo = inferd_dtype_size(o->dtype);
    const char *pa = a->data, *pb = b->data;
    char *po = o->data;
    for (int64_t row = 0; row < w.rows; row++) {
        fn(pa + (size_t)w.off_a * ea, w.inner_sa, pb + (size_t)w.off_b * eb, w.inner_sb,
           po + (size_t)(row * w.inner) * eo, w.inner);
        inferd_onnx_bcast_next(&w);
    }
}

/* PRelu before opset 7 applies a 1-D slope of X's channel count along axis 1. */
static bool legacy_slope(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                         inferd_onnx_shape_t *s)
{
    if (strcmp(node->op_type, "PRelu") != 0 || node->opset >= 7 || in[1]->ndim != 1 ||
        in[0]->ndim < 2 || in[1]->dims[0] != in[0]->dims[1] || in[1]->dims[0] == 1)
        return false;
    s->ndim = in[0]->ndim - 1;
    s->dims[0] = in[1]->dims[0];
    for (int i = 1; i < s->ndim; i++)
        s->dims[i] = 1;
    return true;
}

static inferd_status_t ew_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_onnx_shape_t *out, inferd_err_t *err)
{
    inferd_onnx_shape_of(in[0], &out[0]);
    for (int i = 1; i < node->n_inputs; i++) {
        inferd_onnx_shape_t s, r;
        inferd_onnx_shape_of(in[i], &s);
        if (i == 1)
            legacy_slope(node, in, &s);
        if (inferd_onnx_broadcast(&out[0], &s, &r, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        out[0] = r;
    }
    return INFERD_OK;
}

static inferd_status_t ew_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_tensor_t *const *out, inferd_err_t *err)
{
    const ew_data_t *d = node->op_data;
    if (node->n_inputs == 2) {
        inferd_onnx_shape_t s;
        ew_run(d->fn, in[0], in[1], legacy_slope(node, in, &s) ? &s : NULL, out[0]);
    } else {
        inferd_onnx_bcast_copy(in[0], out[0]);
        for (int i = 1; i < node->n_inputs; i++)
            ew_run(d->fn, out[0], in[i], NULL, out[0]);
    }
    if (d->mean) {
        uint64_t n = inferd_tensor_numel(out[0]);
        double k = node->n_inputs;
        switch (out[0]->dtype) {
        case INFERD_DTYPE_FP32:
            for (uint64_t i = 0; i < n; i++)
                ((float *)out[0]->data)[i] = (float)(((float *)out[0]->data)[i] / k);
            break;
        case INFERD_DTYPE_FP64:
            for (uint64_t i = 0; i < n; i++)
                ((double *)out[0]->data)[i] /= k;
            break;
        default:
            for (uint64_t i = 0; i < n; i++) {
                uint16_t *p = (uint16_t *)out[0]->data + i;
                *p = inferd_fp32_to_fp16((float)(inferd_fp16_to_fp32(*p) / k));
            }
            break;
        }
    }
    return INFERD_OK;
}

/* Binds kind's kernel for input 0's dtype; every input must have that dtype. */
static inferd_status_t ew_bind(inferd_onnx_init_t *ic, const ew_kind_t *kind, bool out_bool,
                               bool mean, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    for (int i = 1; i < ic->node->n_inputs; i++)
        if (ic->in_types[i] != dt)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "input %d is %s, input 0 is %s", i,
                                  inferd_dtype_name(ic->in_types[i]), inferd_dtype_name(dt));
    ew_fn fn = dt > INFERD_DTYPE_INVALID && dt < INFERD_DTYPE_COUNT_ ? kind->k[dt] : NULL;
    if (!fn)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    ew_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = (ew_data_t){fn, mean};
    ic->node->op_data = p;
    ic->node->compute = ew_compute;
    ic->out_types[0] = out_bool ? INFERD_DTYPE_BOOL : dt;
    return INFERD_OK;
}

#define EW_INIT(name, kind, out_bool, mean)                                                        \
    static inferd_status_t name##_init(inferd_onnx_init_t *ic, inferd_err_t *err)                  \
    {                                                                                              \
        return ew_bind(ic, &kind, out_bool, mean, err);                                            \
    }

EW_INIT(equal, kind_eq, true, false)
EW_INIT(less, kind_lt, true, false)
EW_INIT(less_equal, kind_le, true, false)
EW_INIT(greater, kind_gt, true, false)
EW_INIT(greater_equal, kind_ge, true, false)
EW_INIT(and, kind_and, true, false)
EW_INIT(or, kind_or, true, false)
EW_INIT(xor, kind_xor, true, false)
EW_INIT(max, kind_max, false, false)
EW_INIT(min, kind_min, false, false)
EW_INIT(sum, kind_sum, false, false)
EW_INIT(mean, kind_mean, false, true)
EW_INIT(prelu, kind_prelu, false, false)
EW_INIT(bitwise_and, kind_band, false, false)
EW_INIT(bitwise_or, kind_bor, false, false)
EW_INIT(bitwise_xor, kind_bxor, false, false)

static inferd_status_t mod_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    int64_t fmod_attr;
    if (inferd_onnx_attr_int(ic->node, "fmod", 0, &fmod_attr, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    return ew_bind(ic, fmod_attr ? &kind_fmod : &kind_pymod, false, false, err);
}

static inferd_status_t bitshift_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(ic->node, "direction");
    if (!a || a->type != INFERD_ONNX_ATTR_STRING ||
        (strcmp(a->s, "LEFT") != 0 && strcmp(a->s, "RIGHT") != 0))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "BitShift needs direction \"LEFT\" or \"RIGHT\"");
    return ew_bind(ic, strcmp(a->s, "LEFT") == 0 ? &kind_shl : &kind_shr, false, false, err);
}

/* ------------------------------------------------------------------------------------ */
/* Pow                                                                                  */

/* Base and exponent may differ in type (opset 12+); the result has the base's type. The
 * general kernel goes through double, which is exact for the integers this engine sees
 * (test data never exceeds 2^53); FP32^FP32 has its own loop. */
static inferd_status_t pow_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    inferd_onnx_shape_t sa, sb, so;
    inferd_onnx_shape_of(in[0], &sa);
    inferd_onnx_shape_of(in[1], &sb);
    inferd_onnx_shape_of(out[0], &so);
    inferd_onnx_bcast_t w;
    inferd_onnx_bcast_init(&w, &sa, &sb, &so);
    inferd_dtype_t ta = in[0]->dtype, tb = in[1]->dtype;
    bool f32 = ta == INFERD_DTYPE_FP32 && tb == INFERD_DTYPE_FP32;
    for (int64_t row = 0; row < w.rows; row++) {
        int64_t base = row * w.inner;
        if (f32) {
            const float *a = (const float *)in[0]->data + w.off_a,
                        *b = (const float *)in[1]->data + w.off_b;
            float *o = (float *)out[0]->data + base;
            for (int64_t i = 0; i < w.inner; i++) {
                float y = b[i * w.inner_sb], x = a[i * w.inner_sa];
                /* Squares are common (variance in exported norms) and exact as x * x. */
                o[i] = y == 2.0f ? x * x : powf(x, y);
            }
        } else {
            for (int64_t i = 0; i < w.inner; i++) {
                double x =
                    inferd_onnx_load_f64(in[0]->data, ta, (uint64_t)(w.off_a + i * w.inner_sa));
                double y =
                    inferd_onnx_load_f64(in[1]->data, tb, (uint64_t)(w.off_b + i * w.inner_sb));
                inferd_onnx_store_f64(out[0]->data, ta, (uint64_t)(base + i), pow(x, y));
            }
        }
        inferd_onnx_bcast_next(&w);
    }
    return INFERD_OK;
}

static bool pow_type_ok(inferd_dtype_t dt)
{
    return inferd_onnx_dtype_is_int(dt) ||
           (inferd_onnx_dtype_is_float(dt) && dt != INFERD_DTYPE_BF16);
}

static inferd_status_t pow_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (!pow_type_ok(ic->in_types[0]))
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (!pow_type_ok(ic->in_types[1]))
        return inferd_onnx_unsupported_dtype(ic, 1, err);
    if (ic->node->opset < 12 && ic->in_types[1] != ic->in_types[0])
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Pow inputs differ in type");
    ic->node->compute = pow_compute;
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Where                                                                                */

/* Element strides of a tensor of shape s broadcast to out (0 on broadcast dims). */
static void bcast_strides(const inferd_tensor_t *t, const inferd_onnx_shape_t *out, int64_t *st)
{
    int64_t acc = 1;
    for (int i = out->ndim - 1; i >= 0; i--) {
        int j = i - (out->ndim - t->ndim);
        int64_t d = j >= 0 ? t->dims[j] : 1;
        st[i] = d == 1 ? 0 : acc;
        acc *= d;
    }
}

static inferd_status_t where_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_tensor_t *const *out, inferd_err_t *err)
{
    inferd_onnx_shape_t so;
    inferd_onnx_shape_of(out[0], &so);
    int64_t st[3][INFERD_MAX_DIMS], idx[INFERD_MAX_DIMS] = {0};
    for (int k = 0; k < 3; k++)
        bcast_strides(in[k], &so, st[k]);
    size_t es = inferd_dtype_size(out[0]->dtype);
    uint64_t n = inferd_tensor_numel(out[0]);
    const uint8_t *c = in[0]->data;
    const char *x = in[1]->data, *y = in[2]->data;
    char *o = out[0]->data;
    int64_t off[3] = {0, 0, 0};
    for (uint64_t i = 0; i < n; i++) {
        memcpy(o + i * es, c[off[0]] ? x + (size_t)off[1] * es : y + (size_t)off[2] * es, es);
        for (int d = so.ndim - 1; d >= 0; d--) {
            idx[d]++;
            for (int k = 0; k < 3; k++)
                off[k] += st[k][d];
            if (idx[d] < so.dims[d])
                break;
            for (int k = 0; k < 3; k++)
                off[k] -= st[k][d] * so.dims[d];
            idx[d] = 0;
        }
    }
    return INFERD_OK;
}

static inferd_status_t where_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (ic->in_types[0] != INFERD_DTYPE_BOOL)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Where condition must be BOOL, got %s",
                              inferd_dtype_name(ic->in_types[0]));
    if (ic->in_types[1] != ic->in_types[2])
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Where X is %s but Y is %s",
                              inferd_dtype_name(ic->in_types[1]),
                              inferd_dtype_name(ic->in_types[2]));
    if (ic->in_types[1] == INFERD_DTYPE_BYTES)
        return inferd_onnx_unsupported_dtype(ic, 1, err);
    ic->node->compute = where_compute;
    ic->out_types[0] = ic->in_types[1];
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Registration                                                                         */

#define B2(name, ver, init)                                                                        \
    {                                                                                              \
        "", name, ver, 2, 2, 1, init, ew_reshape                                                   \
    }
#define VAR(name, ver, init)                                                                       \
    {                                                                                              \
        "", name, ver, 1, -1, 1, init, ew_reshape                                                  \
    }

const inferd_onnx_op_t inferd_onnx_ops_elementwise[] = {
    B2("Equal", 1, equal_init),
    B2("Equal", 7, equal_init),
    B2("Equal", 11, equal_init),
    B2("Equal", 13, equal_init),
    B2("Less", 1, less_init),
    B2("Less", 7, less_init),
    B2("Less", 9, less_init),
    B2("Less", 13, less_init),
    B2("LessOrEqual", 12, less_equal_init),
    B2("LessOrEqual", 16, less_equal_init),
    B2("Greater", 1, greater_init),
    B2("Greater", 7, greater_init),
    B2("Greater", 9, greater_init),
    B2("Greater", 13, greater_init),
    B2("GreaterOrEqual", 12, greater_equal_init),
    B2("GreaterOrEqual", 16, greater_equal_init),
    B2("And", 1, and_init),
    B2("And", 7, and_init),
    B2("Or", 1, or_init),
    B2("Or", 7, or_init),
    B2("Xor", 1, xor_init),
    B2("Xor", 7, xor_init),
    B2("BitShift", 11, bitshift_init),
    B2("BitwiseAnd", 18, bitwise_and_init),
    B2("BitwiseOr", 18, bitwise_or_init),
    B2("BitwiseXor", 18, bitwise_xor_init),
    B2("Mod", 10, mod_init),
    B2("Mod", 13, mod_init),
    B2("Pow", 1, pow_init),
    B2("Pow", 7, pow_init),
    B2("Pow", 12, pow_init),
    B2("Pow", 13, pow_init),
    B2("Pow", 15, pow_init),
    B2("PRelu", 1, prelu_init),
    B2("PRelu", 6, prelu_init),
    B2("PRelu", 7, prelu_init),
    B2("PRelu", 9, prelu_init),
    B2("PRelu", 16, prelu_init),
    VAR("Max", 1, max_init),
    VAR("Max", 6, max_init),
    VAR("Max", 8, max_init),
    VAR("Max", 12, max_init),
    VAR("Max", 13, max_init),
    VAR("Min", 1, min_init),
    VAR("Min", 6, min_init),
    VAR("Min", 8, min_init),
    VAR("Min", 12, min_init),
    VAR("Min", 13, min_init),
    VAR("Sum", 1, sum_init),
    VAR("Sum", 6, sum_init),
    VAR("Sum", 8, sum_init),
    VAR("Sum", 13, sum_init),
    VAR("Mean", 1, mean_init),
    VAR("Mean", 6, mean_init),
    VAR("Mean", 8, mean_init),
    VAR("Mean", 13, mean_init),
    {"", "Where", 9, 3, 3, 1, where_init, ew_reshape},
    {"", "Where", 16, 3, 3, 1, where_init, ew_reshape},
};
const size_t inferd_onnx_ops_elementwise_count =
    sizeof(inferd_onnx_ops_elementwise) / sizeof(inferd_onnx_ops_elementwise[0]);
