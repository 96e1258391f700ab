/* Elementwise unary operators: math (Abs, Neg, Exp, Log, Sqrt, Reciprocal, Floor, Ceil,
 * Round, Sign, the trigonometric and hyperbolic functions, Erf), predicates (IsNaN,
 * IsInf, Not), the parameterized activations (LeakyRelu, Elu, Selu, Celu, HardSigmoid,
 * HardSwish, Softplus, Softsign, ThresholdedRelu, Mish, Shrink) and Clip.
 *
 * The output has the input's shape. Float kernels are generated once per element type
 * from one expression: FP32 and FP64 compute in their own precision (<tgmath.h> picks
 * expf or exp), FP16 loads into float and rounds the result back to nearest even.
 * Integer kernels exist where the operator defines them (Abs, Neg, Sign, Clip, Shrink);
 * integer Neg and Abs wrap like two's complement (numpy: -INT_MIN == INT_MIN). Round
 * rounds half to even (rint under the default rounding mode), as ONNX specifies. */
#include "backends/onnx/ops/ops.h"

#include "backends/onnx/kernels/simd_f32.h"

#include <float.h>
#include <string.h>
#include <tgmath.h>

#include "core/alloc.h"

typedef struct unary_data unary_data_t;
typedef void (*unary_fn)(const void *x, void *y, uint64_t n, const unary_data_t *d);

struct unary_data {
    unary_fn fn;
    float alpha, beta, gamma;    /* the op's attributes, by the names ONNX gives them */
    bool detect_neg, detect_pos; /* IsInf */
};

/* ------------------------------------------------------------------------------------ */
/* Kernels                                                                              */

/* One float expression in x (of type T) with parameters a, b, g -> FP32, FP64, FP16. */
#define UNARY_F32(name, EXPR)                                                                      \
    static void name##_f32(const void *px, void *py, uint64_t n, const unary_data_t *d)            \
    {                                                                                              \
        typedef float T;                                                                           \
        const T a = d->alpha, b = d->beta, g = d->gamma;                                           \
        (void)a, (void)b, (void)g;                                                                 \
        const T *src = px;                                                                         \
        T *dst = py;                                                                               \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            T x = src[i];                                                                          \
            dst[i] = (T)(EXPR);                                                                    \
        }                                                                                          \
    }
/* The FP64 and FP16 kernels (FP16 computed in float). */
#define UNARY_WIDE(name, EXPR)                                                                     \
    static void name##_f64(const void *px, void *py, uint64_t n, const unary_data_t *d)            \
    {                                                                                              \
        typedef double T;                                                                          \
        const T a = d->alpha, b = d->beta, g = d->gamma;                                           \
        (void)a, (void)b, (void)g;                                                                 \
        const T *src = px;                                                                         \
        T *dst = py;                                                                               \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            T x = src[i];                                                                          \
            dst[i] = (T)(EXPR);                                                                    \
        }                                                                                          \
    }                                                                                              \
    static void name##_f16(const void *px, void *py, uint64_t n, const unary_data_t *d)            \
    {                                                                                              \
        typedef float T;                                                                           \
        const T a = d->alpha, b = d->beta, g = d->gamma;                                           \
        (void)a, (void)b, (void)g;                                                                 \
        const uint16_t *src = px;                                                                  \
        uint16_t *dst = py;                                                                        \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            T x = inferd_fp16_to_fp32(src[i]);                                                     \
            dst[i] = inferd_fp32_to_fp16((T)(EXPR));                                               \
        }                                                                                          \
    }
#define UNARY_FLOAT(name, EXPR) UNARY_F32(name, EXPR) UNARY_WIDE(name, EXPR)

/* An integer expression for one C type. */
#define UNARY_INT(name, sfx, CT, EXPR)                                                             \
    static void name##_##sfx(const void *px, void *py, uint64_t n, const unary_data_t *d)          \
    {                                                                                              \
        (void)d;                                                                                   \
        const CT *src = px;                                                                        \
        CT *dst = py;                                                                              \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            CT x = src[i];                                                                         \
            dst[i] = (CT)(EXPR);                                                                   \
        }                                                                                          \
    }

#define UNARY_SIGNED(name, EXPR)                                                                   \
    UNARY_INT(name, i8, int8_t, EXPR)                                                              \
    UNARY_INT(name, i16, int16_t, EXPR)                                                            \
    UNARY_INT(name, i32, int32_t, EXPR)                                                            \
    UNARY_INT(name, i64, int64_t, EXPR)

#define UNARY_UNSIGNED(name, EXPR)                                                                 \
    UNARY_INT(name, u8, uint8_t, EXPR)                                                             \
    UNARY_INT(name, u16, uint16_t, EXPR)                                                           \
    UNARY_INT(name, u32, uint32_t, EXPR)                                                           \
    UNARY_INT(name, u64, uint64_t, EXPR)

/* Softplus without overflow: log(1 + e^x) = max(x, 0) + log1p(e^-|x|). */
#define SOFTPLUS(x) ((x) > 0 ? (x) + log1p(exp(-(x))) : log1p(exp(x)))

UNARY_FLOAT(abs, fabs(x))
UNARY_FLOAT(neg, -x)
UNARY_FLOAT(exp, exp(x))
UNARY_FLOAT(log, log(x))
UNARY_FLOAT(sqrt, sqrt(x))
UNARY_FLOAT(reciprocal, (T)1 / x)
UNARY_FLOAT(floor, floor(x))
UNARY_FLOAT(ceil, ceil(x))
UNARY_FLOAT(round, rint(x))
UNARY_FLOAT(sign, x > 0 ? (T)1 : x < 0 ? (T)-1 : x)
UNARY_FLOAT(sin, sin(x))
UNARY_FLOAT(cos, cos(x))
UNARY_FLOAT(tan, tan(x))
UNARY_FLOAT(asin, asin(x))
UNARY_FLOAT(acos, acos(x))
UNARY_FLOAT(atan, atan(x))
UNARY_FLOAT(sinh, sinh(x))
UNARY_FLOAT(cosh, cosh(x))
UNARY_FLOAT(asinh, asinh(x))
UNARY_FLOAT(acosh, acosh(x))
UNARY_FLOAT(atanh, atanh(x))
/* FP32 erf on the vectorized loop of kernels/simd_f32.c (GELU's hot spot). */
static void erf_f32(const void *px, void *py, uint64_t n, const unary_data_t *d)
{
    (void)d;
    inferd_simd_erf(px, py, (int64_t)n);
}
UNARY_WIDE(erf, erf(x))
UNARY_FLOAT(leaky_relu, x < 0 ? a * x : x)
UNARY_FLOAT(elu, x < 0 ? a * (exp(x) - (T)1) : x)
UNARY_FLOAT(selu, x > 0 ? g * x : g * (a * exp(x) - a))
UNARY_FLOAT(celu, (x > 0 ? x : 0) + fmin((T)0, a *(exp(x / a) - (T)1)))
UNARY_FLOAT(hard_sigmoid, fmax((T)0, fmin((T)1, a *x + b)))
UNARY_FLOAT(hard_swish, x *fmax((T)0, fmin((T)1, x / (T)6 + (T)0.5)))
UNARY_FLOAT(softplus, SOFTPLUS(x))
UNARY_FLOAT(softsign, x / ((T)1 + fabs(x)))
UNARY_FLOAT(thresholded_relu, x > a ? x : (T)0)
UNARY_FLOAT(mish, x *tanh(SOFTPLUS(x)))
UNARY_FLOAT(shrink, x<-a ? x + b : x> a ? x - b : (T)0)

/* Wrapping negation through uint64_t: -INT_MIN is INT_MIN, never undefined. */
UNARY_SIGNED(neg, 0 - (uint64_t)x)
UNARY_SIGNED(abs, x < 0 ? 0 - (uint64_t)x : (uint64_t)x)
UNARY_SIGNED(sign, x > 0 ? 1 : x < 0 ? -1 : 0)
UNARY_UNSIGNED(abs, x)
UNARY_UNSIGNED(sign, x > 0)
UNARY_INT(not, b, uint8_t, !x)

/* Shrink on integers: the thresholds are floats, the result is cast back. */
#define SHRINK_INT(sfx, CT)                                                                        \
    static void shrink_##sfx(const void *px, void *py, uint64_t n, const unary_data_t *d)          \
    {                                                                                              \
        const CT *src = px;                                                                        \
        CT *dst = py;                                                                              \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            double x = (double)src[i];                                                             \
            dst[i] = (CT)(x < -d->alpha ? x + d->beta : x > d->alpha ? x - d->beta : 0);           \
        }                                                                                          \
    }
SHRINK_INT(i8, int8_t)
SHRINK_INT(i16, int16_t)
SHRINK_INT(i32, int32_t)
SHRINK_INT(i64, int64_t)
SHRINK_INT(u8, uint8_t)
SHRINK_INT(u16, uint16_t)
SHRINK_INT(u32, uint32_t)
SHRINK_INT(u64, uint64_t)

/* Predicates: float in, BOOL out. */
#define PREDICATE(name, EXPR)                                                                      \
    static void name##_f32(const void *px, void *py, uint64_t n, const unary_data_t *d)            \
    {                                                                                              \
        const float *src = px;                                                                     \
        uint8_t *dst = py;                                                                         \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            double x = src[i];                                                                     \
            dst[i] = (EXPR);                                                                       \
        }                                                                                          \
    }                                                                                              \
    static void name##_f64(const void *px, void *py, uint64_t n, const unary_data_t *d)            \
    {                                                                                              \
        const double *src = px;                                                                    \
        uint8_t *dst = py;                                                                         \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            double x = src[i];                                                                     \
            dst[i] = (EXPR);                                                                       \
        }                                                                                          \
    }                                                                                              \
    static void name##_f16(const void *px, void *py, uint64_t n, const unary_data_t *d)            \
    {                                                                                              \
        const uint16_t *src = px;                                                                  \
        uint8_t *dst = py;                                                                         \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            double x = inferd_fp16_to_fp32(src[i]);                                                \
            dst[i] = (EXPR);                                                                       \
        }                                                                                          \
    }

PREDICATE(isnan, isnan(x) != 0)
PREDICATE(isinf, isinf(x) && ((x > 0 && d->detect_pos) || (x < 0 && d->detect_neg)))

/* ------------------------------------------------------------------------------------ */
/* Kernel tables                                                                        */

/* Kernels of one operator by input dtype; out_bool: the output is BOOL. */
typedef struct unary_kind {
    unary_fn k[INFERD_DTYPE_COUNT_];
    bool out_bool;
} unary_kind_t;

#define K_FLOAT(name)                                                                              \
    [INFERD_DTYPE_FP32] = name##_f32, [INFERD_DTYPE_FP64] = name##_f64,                            \
    [INFERD_DTYPE_FP16] = name##_f16
#define K_SIGNED(name)                                                                             \
    [INFERD_DTYPE_INT8] = name##_i8, [INFERD_DTYPE_INT16] = name##_i16,                            \
    [INFERD_DTYPE_INT32] = name##_i32, [INFERD_DTYPE_INT64] = name##_i64
#define K_UNSIGNED(name)                                                                           \
    [INFERD_DTYPE_UINT8] = name##_u8, [INFERD_DTYPE_UINT16] = name##_u16,                          \
    [INFERD_DTYPE_UINT32] = name##_u32, [INFERD_DTYPE_UINT64] = name##_u64

#define FLOAT_KIND(name) static const unary_kind_t kind_##name = {{K_FLOAT(name)}, false};

FLOAT_KIND(exp)
FLOAT_KIND(log)
FLOAT_KIND(sqrt)
FLOAT_KIND(reciprocal)
FLOAT_KIND(floor)
FLOAT_KIND(ceil)
FLOAT_KIND(round)
FLOAT_KIND(sin)
FLOAT_KIND(cos)
FLOAT_KIND(tan)
FLOAT_KIND(asin)
FLOAT_KIND(acos)
FLOAT_KIND(atan)
FLOAT_KIND(sinh)
FLOAT_KIND(cosh)
FLOAT_KIND(asinh)
FLOAT_KIND(acosh)
FLOAT_KIND(atanh)
FLOAT_KIND(erf)
FLOAT_KIND(leaky_relu)
FLOAT_KIND(elu)
FLOAT_KIND(selu)
FLOAT_KIND(celu)
FLOAT_KIND(hard_sigmoid)
FLOAT_KIND(hard_swish)
FLOAT_KIND(softplus)
FLOAT_KIND(softsign)
FLOAT_KIND(thresholded_relu)
FLOAT_KIND(mish)
static const unary_kind_t kind_abs = {{K_FLOAT(abs), K_SIGNED(abs), K_UNSIGNED(abs)}, false};
static const unary_kind_t kind_neg = {{K_FLOAT(neg), K_SIGNED(neg)}, false};
static const unary_kind_t kind_sign = {{K_FLOAT(sign), K_SIGNED(sign), K_UNSIGNED(sign)}, false};
static const unary_kind_t kind_shrink = {{K_FLOAT(shrink), K_SIGNED(shrink), K_UNSIGNED(shrink)},
                                         false};
static const unary_kind_t kind_isnan = {{K_FLOAT(isnan)}, true};
static const unary_kind_t kind_isinf = {{K_FLOAT(isinf)}, true};
static const unary_kind_t kind_not = {{[INFERD_DTYPE_BOOL] = not_b}, false};

/* ------------------------------------------------------------------------------------ */
/* Shared init / reshape / compute                                                      */

static inferd_status_t same_shape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_onnx_shape_t *out, inferd_err_t *err)
{
    inferd_onnx_shape_of(in[0], &out[0]);
    return INFERD_OK;
}

static inferd_status_t unary_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_tensor_t *const *out, inferd_err_t *err)
{
    const unary_data_t *d = node->op_data;
    d->fn(in[0]->data, out[0]->data, inferd_tensor_numel(in[0]), d);
    return INFERD_OK;
}

/* Binds the kernel of kind for input 0's dtype, with the parameters in d. */
static inferd_status_t unary_bind(inferd_onnx_init_t *ic, const unary_kind_t *kind, unary_data_t d,
                                  inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    d.fn = dt > INFERD_DTYPE_INVALID && dt < INFERD_DTYPE_COUNT_ ? kind->k[dt] : NULL;
    if (!d.fn)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    unary_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = unary_compute;
    ic->out_types[0] = kind->out_bool ? INFERD_DTYPE_BOOL : dt;
    return INFERD_OK;
}

/* Reads float attributes (name, default) into d's alpha, beta, gamma in order. */
static inferd_status_t float_attrs(const inferd_onnx_node_t *node, unary_data_t *d, const char *n1,
                                   float d1, const char *n2, float d2, const char *n3, float d3,
                                   inferd_err_t *err)
{
    d->alpha = d1;
    d->beta = d2;
    d->gamma = d3;
    if (n1 && inferd_onnx_attr_float(node, n1, d1, &d->alpha, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (n2 && inferd_onnx_attr_float(node, n2, d2, &d->beta, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (n3 && inferd_onnx_attr_float(node, n3, d3, &d->gamma, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    return INFERD_OK;
}

#define SIMPLE_INIT(name)                                                                          \
    static inferd_status_t name##_init(inferd_onnx_init_t *ic, inferd_err_t *err)                  \
    {                                                                                              \
        return unary_bind(ic, &kind_##name, (unary_data_t){0}, err);                               \
    }

SIMPLE_INIT(abs)
SIMPLE_INIT(neg)
SIMPLE_INIT(exp)
SIMPLE_INIT(log)
SIMPLE_INIT(sqrt)
SIMPLE_INIT(reciprocal)
SIMPLE_INIT(floor)
SIMPLE_INIT(ceil)
SIMPLE_INIT(round)
SIMPLE_INIT(sign)
SIMPLE_INIT(sin)
SIMPLE_INIT(cos)
SIMPLE_INIT(tan)
SIMPLE_INIT(asin)
SIMPLE_INIT(acos)
SIMPLE_INIT(atan)
SIMPLE_INIT(sinh)
SIMPLE_INIT(cosh)
SIMPLE_INIT(asinh)
SIMPLE_INIT(acosh)
SIMPLE_INIT(atanh)
SIMPLE_INIT(erf)
SIMPLE_INIT(isnan)
SIMPLE_INIT(not )
SIMPLE_INIT(hard_swish)
SIMPLE_INIT(softplus)
SIMPLE_INIT(softsign)
SIMPLE_INIT(mish)

/* An activation whose attributes are (n1, d1), (n2, d2), (n3, d3). */
#define PARAM_INIT(name, n1, d1, n2, d2, n3, d3)                                                   \
    static inferd_status_t name##_init(inferd_onnx_init_t *ic, inferd_err_t *err)                  \
    {                                                                                              \
        unary_data_t d = {0};                                                                      \
        if (float_attrs(ic->node, &d, n1, d1, n2, d2, n3, d3, err) != INFERD_OK)                   \
            return err ? err->code : INFERD_E_INVALID_ARG;                                         \
        return unary_bind(ic, &kind_##name, d, err);                                               \
    }

PARAM_INIT(leaky_relu, "alpha", 0.01f, NULL, 0, NULL, 0)
PARAM_INIT(elu, "alpha", 1.0f, NULL, 0, NULL, 0)
/* Selu's defaults are the float32 values the spec gives. */
PARAM_INIT(selu, "alpha", 1.67326319217681884765625f, NULL, 0, "gamma", 1.05070102214813232421875f)
PARAM_INIT(celu, "alpha", 1.0f, NULL, 0, NULL, 0)
PARAM_INIT(hard_sigmoid, "alpha", 0.2f, "beta", 0.5f, NULL, 0)
PARAM_INIT(thresholded_relu, "alpha", 1.0f, NULL, 0, NULL, 0)
PARAM_INIT(shrink, "lambd", 0.5f, "bias", 0.0f, NULL, 0)

static inferd_status_t isinf_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    int64_t neg, pos;
    if (inferd_onnx_attr_int(ic->node, "detect_negative", 1, &neg, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "detect_positive", 1, &pos, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    return unary_bind(ic, &kind_isinf,
                      (unary_data_t){.detect_neg = neg != 0, .detect_pos = pos != 0}, err);
}

/* ------------------------------------------------------------------------------------ */
/* Clip                                                                                 */

/* Before opset 11 the bounds are float attributes; from 11 they are optional scalar
 * inputs of the data's type (read per run: they need not be constants). */
typedef struct clip_data {
    void (*fn)(const void *x, void *y, uint64_t n, const void *lo, const void *hi);
    float lo, hi; /* attribute form */
    bool attrs;
} clip_data_t;

#define CLIP_KERNEL(sfx, CT, LOWEST, HIGHEST)                                                      \
    static void clip_##sfx(const void *px, void *py, uint64_t n, const void *plo, const void *phi) \
    {                                                                                              \
        const CT *src = px;                                                                        \
        CT *dst = py;                                                                              \
        CT lo = plo ? *(const CT *)plo : LOWEST, hi = phi ? *(const CT *)phi : HIGHEST;            \
        for (uint64_t i = 0; i < n; i++) {                                                         \
            CT x = src[i];                                                                         \
            dst[i] = x < lo ? lo : x > hi ? hi : x;                                                \
        }                                                                                          \
    }

CLIP_KERNEL(f32, float, -INFINITY, INFINITY)
CLIP_KERNEL(f64, double, -INFINITY, INFINITY)
CLIP_KERNEL(i8, int8_t, INT8_MIN, INT8_MAX)
CLIP_KERNEL(i16, int16_t, INT16_MIN, INT16_MAX)
CLIP_KERNEL(i32, int32_t, INT32_MIN, INT32_MAX)
CLIP_KERNEL(i64, int64_t, INT64_MIN, INT64_MAX)
CLIP_KERNEL(u8, uint8_t, 0, UINT8_MAX)
CLIP_KERNEL(u16, uint16_t, 0, UINT16_MAX)
CLIP_KERNEL(u32, uint32_t, 0, UINT32_MAX)
CLIP_KERNEL(u64, uint64_t, 0, UINT64_MAX)

static void clip_f16(const void *px, void *py, uint64_t n, const void *plo, const void *phi)
{
    const uint16_t *src = px;
    uint16_t *dst = py;
    float lo = plo ? inferd_fp16_to_fp32(*(const uint16_t *)plo) : -INFINITY;
    float hi = phi ? inferd_fp16_to_fp32(*(const uint16_t *)phi) : INFINITY;
    for (uint64_t i = 0; i < n; i++) {
        float x = inferd_fp16_to_fp32(src[i]);
        dst[i] = x < lo ? inferd_fp32_to_fp16(lo) : x > hi ? inferd_fp32_to_fp16(hi) : src[i];
    }
}

static inferd_status_t clip_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_tensor_t *const *out, inferd_err_t *err)
{
    const clip_data_t *d = node->op_data;
    uint64_t n = inferd_tensor_numel(in[0]);
    if (d->attrs) {
        d->fn(in[0]->data, out[0]->data, n, &d->lo, &d->hi);
        return INFERD_OK;
    }
    const void *lo = NULL, *hi = NULL;
    for (int i = 1; i <= 2 && i < node->n_inputs; i++) {
        if (!in[i])
            continue;
        if (inferd_tensor_numel(in[i]) != 1)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "Clip %s must be a scalar",
                                  i == 1 ? "min" : "max");
        if (i == 1)
            lo = in[i]->data;
        else
            hi = in[i]->data;
    }
    d->fn(in[0]->data, out[0]->data, n, lo, hi);
    return INFERD_OK;
}

static inferd_status_t clip_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    clip_data_t d = {0};
    inferd_dtype_t dt = ic->in_types[0];
    d.attrs = ic->node->opset < 11;
    switch (dt) {
    case INFERD_DTYPE_FP32: d.fn = clip_f32; break;
    case INFERD_DTYPE_FP64: d.fn = d.attrs ? NULL : clip_f64; break;
    case INFERD_DTYPE_FP16: d.fn = d.attrs ? NULL : clip_f16; break;
    case INFERD_DTYPE_INT8: d.fn = clip_i8; break;
    case INFERD_DTYPE_INT16: d.fn = clip_i16; break;
    case INFERD_DTYPE_INT32: d.fn = clip_i32; break;
    case INFERD_DTYPE_INT64: d.fn = clip_i64; break;
    case INFERD_DTYPE_UINT8: d.fn = clip_u8; break;
    case INFERD_DTYPE_UINT16: d.fn = clip_u16; break;
    case INFERD_DTYPE_UINT32: d.fn = clip_u32; break;
    case INFERD_DTYPE_UINT64: d.fn = clip_u64; break;
    default: break;
    }
    /* The attribute form carries float bounds, so only FP32 takes it here. */
    if (!d.fn || (d.attrs && dt != INFERD_DTYPE_FP32))
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    for (int i = 1; i <= 2 && i < ic->node->n_inputs; i++)
        if (ic->in_types[i] != INFERD_DTYPE_INVALID && ic->in_types[i] != dt)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "Clip bound %d is %s, data is %s", i,
                                  inferd_dtype_name(ic->in_types[i]), inferd_dtype_name(dt));
    if (d.attrs && (inferd_onnx_attr_float(ic->node, "min", -FLT_MAX, &d.lo, err) != INFERD_OK ||
                    inferd_onnx_attr_float(ic->node, "max", FLT_MAX, &d.hi, err) != INFERD_OK))
        return err ? err->code : INFERD_E_INVALID_ARG;
    clip_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = clip_compute;
    ic->out_types[0] = dt;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Registration                                                                         */

#define U(name, ver, init)                                                                         \
    {                                                                                              \
        "", name, ver, 1, 1, 1, init, same_shape                                                   \
    }

const inferd_onnx_op_t inferd_onnx_ops_unary[] = {
    U("Abs", 1, abs_init),
    U("Abs", 6, abs_init),
    U("Abs", 13, abs_init),
    U("Neg", 1, neg_init),
    U("Neg", 6, neg_init),
    U("Neg", 13, neg_init),
    U("Exp", 1, exp_init),
    U("Exp", 6, exp_init),
    U("Exp", 13, exp_init),
    U("Log", 1, log_init),
    U("Log", 6, log_init),
    U("Log", 13, log_init),
    U("Sqrt", 1, sqrt_init),
    U("Sqrt", 6, sqrt_init),
    U("Sqrt", 13, sqrt_init),
    U("Reciprocal", 1, reciprocal_init),
    U("Reciprocal", 6, reciprocal_init),
    U("Reciprocal", 13, reciprocal_init),
    U("Floor", 1, floor_init),
    U("Floor", 6, floor_init),
    U("Floor", 13, floor_init),
    U("Ceil", 1, ceil_init),
    U("Ceil", 6, ceil_init),
    U("Ceil", 13, ceil_init),
    U("Round", 11, round_init),
    U("Sign", 9, sign_init),
    U("Sign", 13, sign_init),
    U("Sin", 7, sin_init),
    U("Cos", 7, cos_init),
    U("Tan", 7, tan_init),
    U("Asin", 7, asin_init),
    U("Acos", 7, acos_init),
    U("Atan", 7, atan_init),
    U("Sinh", 9, sinh_init),
    U("Cosh", 9, cosh_init),
    U("Asinh", 9, asinh_init),
    U("Acosh", 9, acosh_init),
    U("Atanh", 9, atanh_init),
    U("Erf", 9, erf_init),
    U("Erf", 13, erf_init),
    U("IsNaN", 9, isnan_init),
    U("IsNaN", 13, isnan_init),
    U("IsInf", 10, isinf_init),
    U("Not", 1, not_init),
    U("LeakyRelu", 1, leaky_relu_init),
    U("LeakyRelu", 6, leaky_relu_init),
    U("LeakyRelu", 16, leaky_relu_init),
    U("Elu", 1, elu_init),
    U("Elu", 6, elu_init),
    U("Selu", 1, selu_init),
    U("Selu", 6, selu_init),
    U("Celu", 12, celu_init),
    U("HardSigmoid", 1, hard_sigmoid_init),
    U("HardSigmoid", 6, hard_sigmoid_init),
    U("HardSwish", 14, hard_swish_init),
    U("Softplus", 1, softplus_init),
    U("Softsign", 1, softsign_init),
    U("ThresholdedRelu", 10, thresholded_relu_init),
    U("Mish", 18, mish_init),
    U("Shrink", 9, shrink_init),
    U("Clip", 1, clip_init),
    U("Clip", 6, clip_init),
    {"", "Clip", 11, 1, 3, 1, clip_init, same_shape},
    {"", "Clip", 12, 1, 3, 1, clip_init, same_shape},
    {"", "Clip", 13, 1, 3, 1, clip_init, same_shape},
};
const size_t inferd_onnx_ops_unary_count =
    sizeof(inferd_onnx_ops_unary) / sizeof(inferd_onnx_ops_unary[0]);
