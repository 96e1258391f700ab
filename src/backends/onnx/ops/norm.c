/* Normalization: BatchNormalization (inference and training mode), InstanceNormalization,
 * LayerNormalization (with its Mean and InvStdDev outputs), GroupNormalization (18 with
 * per-group, 21 with per-channel scale and bias), LRN, MeanVarianceNormalization and
 * LpNormalization.
 *
 * Statistics accumulate in double whatever the tensor type, and small per-channel
 * parameters are read through rd() so that mixed parameter types (BatchNormalization 15
 * allows them) cost nothing in the inner loops. X is FP32 or FP64 and read and written
 * through the same helpers; the per-element cost of the type switch is small next to the
 * math here, and these ops are memory-bound. */
#include "backends/onnx/ops/ops.h"

#include "backends/onnx/kernels/simd_f32.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"
#include "core/pool.h"

static inferd_status_t fail(inferd_err_t *err)
{
    return err ? err->code : INFERD_E_INVALID_ARG;
}

static double rd(const inferd_tensor_t *t, int64_t i)
{
    switch (t->dtype) {
    case INFERD_DTYPE_FP32: return ((const float *)t->data)[i];
    case INFERD_DTYPE_FP64: return ((const double *)t->data)[i];
    case INFERD_DTYPE_FP16: return inferd_fp16_to_fp32(((const uint16_t *)t->data)[i]);
    case INFERD_DTYPE_BF16: return inferd_bf16_to_fp32(((const uint16_t *)t->data)[i]);
    default: return 0;
    }
}

static void wr(inferd_tensor_t *t, int64_t i, double v)
{
    switch (t->dtype) {
    case INFERD_DTYPE_FP32: ((float *)t->data)[i] = (float)v; break;
    case INFERD_DTYPE_FP64: ((double *)t->data)[i] = v; break;
    case INFERD_DTYPE_FP16: ((uint16_t *)t->data)[i] = inferd_fp32_to_fp16((float)v); break;
    case INFERD_DTYPE_BF16: ((uint16_t *)t->data)[i] = inferd_fp32_to_bf16((float)v); break;
    default: break;
    }
}

/* y[i] = x[i] * a + b, unrolled by eight with restrict pointers so that the -O2 SLP
 * vectorizer emits SIMD code (the loop vectorizer does not run at -O2 here). */
static void scale_shift_f32(float *restrict y, const float *restrict x, float a, float b, int64_t n)
{
    int64_t i = 0;
    for (; i + 8 <= n; i += 8) {
        y[i + 0] = x[i + 0] * a + b;
        y[i + 1] = x[i + 1] * a + b;
        y[i + 2] = x[i + 2] * a + b;
        y[i + 3] = x[i + 3] * a + b;
        y[i + 4] = x[i + 4] * a + b;
        y[i + 5] = x[i + 5] * a + b;
        y[i + 6] = x[i + 6] * a + b;
        y[i + 7] = x[i + 7] * a + b;
    }
    for (; i < n; i++)
        y[i] = x[i] * a + b;
}

static bool is_real(inferd_dtype_t t)
{
    return t == INFERD_DTYPE_FP32 || t == INFERD_DTYPE_FP64 || t == INFERD_DTYPE_FP16 ||
           t == INFERD_DTYPE_BF16;
}

static inferd_status_t check_real_inputs(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    for (int i = 0; i < ic->node->n_inputs; i++)
        if (ic->in_types[i] != INFERD_DTYPE_INVALID && !is_real(ic->in_types[i]))
            return inferd_onnx_unsupported_dtype(ic, i, err);
    return INFERD_OK;
}

typedef struct norm_data {
    float epsilon, momentum;
    bool training;
    int64_t axis;
    int64_t stash_type;
    /* LRN */
    int64_t size;
    float alpha, beta, bias;
    /* MeanVarianceNormalization */
    int n_axes;
    int64_t axes[INFERD_MAX_DIMS];
    int64_t p; /* LpNormalization */
} norm_data_t;

static void set_data(inferd_onnx_init_t *ic, const norm_data_t *d, inferd_onnx_compute_fn fn)
{
    norm_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = *d;
    ic->node->op_data = p;
    ic->node->compute = fn;
}

/* Output 0 has input 0's shape (all the ops here). */
static inferd_status_t same_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_onnx_shape_t *out, inferd_err_t *err)
{
    (void)node;
    (void)err;
    inferd_onnx_shape_of(in[0], &out[0]);
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* BatchNormalization                                                                   */

static inferd_status_t bn_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    if (x->ndim < 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "X must have rank >= 1");
    int64_t c = x->ndim > 1 ? x->dims[1] : 1;
    int64_t per_elem = inferd_onnx_dims_prod(x->dims, 1, x->ndim);
    for (int i = 1; i <= 4; i++) {
        uint64_t n = inferd_tensor_numel(in[i]);
        /* Per channel, or (spatial=0 before opset 9) one value per element of a sample. */
        if ((int64_t)n != c && (int64_t)n != per_elem)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "parameter %d has %llu values for %lld channels", i,
                                  (unsigned long long)n, (long long)c);
    }
    inferd_onnx_shape_of(x, &out[0]);
    for (int j = 1; j < node->n_outputs; j++) {
        out[j].ndim = 1;
        out[j].dims[0] = c;
    }
    return INFERD_OK;
}

static inferd_status_t bn_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_tensor_t *const *out, inferd_err_t *err)
{
    (void)err;
    const norm_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *scale = in[1], *b = in[2], *mean = in[3], *var = in[4];
    inferd_tensor_t *y = out[0];
    int64_t n = x->dims[0], c = x->ndim > 1 ? x->dims[1] : 1;
    int64_t sp = inferd_onnx_dims_prod(x->dims, 2, x->ndim);
    bool per_elem = (int64_t)inferd_tensor_numel(scale) != c;
    if (d->training) {
        for (int64_t ch = 0; ch < c; ch++) {
            double s = 0, s2 = 0;
            for (int64_t i = 0; i < n; i++)
                for (int64_t k = 0; k < sp; k++) {
                    double v = rd(x, (i * c + ch) * sp + k);
                    s += v;
                    s2 += v * v;
                }
            double cnt = (double)(n * sp), m = cnt ? s / cnt : 0, vr = cnt ? s2 / cnt - m * m : 0;
            if (vr < 0)
                vr = 0;
            double a = rd(scale, ch) / sqrt(vr + d->epsilon), bb = rd(b, ch) - m * a;
            for (int64_t i = 0; i < n; i++)
                for (int64_t k = 0; k < sp; k++) {
                    int64_t at = (i * c + ch) * sp + k;
                    wr(y, at, rd(x, at) * a + bb);
                }
            if (node->n_outputs > 1 && out[1])
                wr(out[1], ch, rd(mean, ch) * d->momentum + m * (1 - d->momentum));
            if (node->n_outputs > 2 && out[2])
                wr(out[2], ch, rd(var, ch) * d->momentum + vr * (1 - d->momentum));
        }
        return INFERD_OK;
    }
    if (!per_elem && x->dtype == INFERD_DTYPE_FP32) {
        const float *xv = x->data;
        float *yv = y->data;
        for (int64_t ch = 0; ch < c; ch++) {
            float a = (float)(rd(scale, ch) / sqrt(rd(var, ch) + d->epsilon));
            float bb = (float)(rd(b, ch) - rd(mean, ch) * a);
            for (int64_t i = 0; i < n; i++) {
                const float *xs = xv + (i * c + ch) * sp;
                float *ys = yv + (i * c + ch) * sp;
                scale_shift_f32(ys, xs, a, bb, sp);
            }
        }
        return INFERD_OK;
    }
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t k = 0; k < sp; k++) {
                int64_t at = (i * c + ch) * sp + k, p = per_elem ? ch * sp + k : ch;
                double a = rd(scale, p) / sqrt(rd(var, p) + d->epsilon);
                wr(y, at, (rd(x, at) - rd(mean, p)) * a + rd(b, p));
            }
    return INFERD_OK;
}

static inferd_status_t bn_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (check_real_inputs(ic, err) != INFERD_OK)
        return fail(err);
    norm_data_t d;
    memset(&d, 0, sizeof(d));
    int64_t training = 0;
    if (inferd_onnx_attr_float(ic->node, "epsilon", 1e-5f, &d.epsilon, err) != INFERD_OK ||
        inferd_onnx_attr_float(ic->node, "momentum", 0.9f, &d.momentum, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "training_mode", 0, &training, err) != INFERD_OK)
        return fail(err);
    int extra = 0;
    for (int j = 1; j < ic->node->n_outputs; j++)
        if (ic->node->outputs[j] >= 0)
            extra++;
    if (ic->node->opset < 14 && extra)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED,
                              "BatchNormalization training outputs before opset 14");
    d.training = training != 0;
    if (!d.training && extra)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "running_mean/running_var need training_mode=1");
    set_data(ic, &d, bn_compute);
    ic->out_types[0] = ic->in_types[0];
    for (int j = 1; j < ic->node->n_outputs; j++)
        ic->out_types[j] = ic->in_types[3];
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* InstanceNormalization                                                                */

static inferd_status_t instnorm_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                        inferd_tensor_t *const *out, inferd_err_t *err)
{
    const norm_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    if (x->ndim < 3)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "input must have rank >= 3");
    int64_t n = x->dims[0], c = x->dims[1], sp = inferd_onnx_dims_prod(x->dims, 2, x->ndim);
    if ((int64_t)inferd_tensor_numel(in[1]) != c || (int64_t)inferd_tensor_numel(in[2]) != c)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "scale and B need %lld values",
                              (long long)c);
    if (x->dtype == INFERD_DTYPE_FP32) {
        /* The common case without the per-element type switch: mean, then the variance
         * from centred values, then one fused scale-and-shift pass. */
        for (int64_t pl = 0; pl < n * c; pl++) {
            const float *xp = (const float *)x->data + pl * sp;
            float *yp = (float *)out[0]->data + pl * sp;
            double s = 0;
            for (int64_t k = 0; k < sp; k++)
                s += xp[k];
            float m = sp ? (float)(s / (double)sp) : 0.0f;
            double sq = 0;
            for (int64_t k = 0; k < sp; k++) {
                float dv = xp[k] - m;
                sq += (double)dv * dv;
            }
            double vr = sp ? sq / (double)sp : 0;
            float a = (float)(rd(in[1], pl % c) / sqrt(vr + d->epsilon));
            float b = (float)(rd(in[2], pl % c) - (double)m * a);
            scale_shift_f32(yp, xp, a, b, sp);
        }
        return INFERD_OK;
    }
    for (int64_t pl = 0; pl < n * c; pl++) {
        double s = 0, s2 = 0;
        for (int64_t k = 0; k < sp; k++) {
            double v = rd(x, pl * sp + k);
            s += v;
            s2 += v * v;
        }
        double m = sp ? s / (double)sp : 0, vr = sp ? s2 / (double)sp - m * m : 0;
        if (vr < 0)
            vr = 0;
        double a = rd(in[1], pl % c) / sqrt(vr + d->epsilon), b = rd(in[2], pl % c) - m * a;
        for (int64_t k = 0; k < sp; k++)
            wr(out[0], pl * sp + k, rd(x, pl * sp + k) * a + b);
    }
    return INFERD_OK;
}

static inferd_status_t instnorm_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (check_real_inputs(ic, err) != INFERD_OK)
        return fail(err);
    norm_data_t d;
    memset(&d, 0, sizeof(d));
    if (inferd_onnx_attr_float(ic->node, "epsilon", 1e-5f, &d.epsilon, err) != INFERD_OK)
        return fail(err);
    set_data(ic, &d, instnorm_compute);
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* LayerNormalization                                                                   */

static inferd_status_t ln_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const norm_data_t *d = node->op_data;
    int axis;
    if (inferd_onnx_axis(d->axis, in[0]->ndim, &axis, err) != INFERD_OK)
        return fail(err);
    inferd_onnx_shape_of(in[0], &out[0]);
    for (int j = 1; j < 3; j++) {
        out[j] = out[0];
        for (int i = axis; i < out[j].ndim; i++)
            out[j].dims[i] = 1;
    }
    /* Scale and B broadcast unidirectionally to X's trailing dims. */
    for (int s = 1; s < 3; s++) {
        const inferd_tensor_t *t = in[s];
        if (!t)
            continue;
        int inner_rank = in[0]->ndim - axis;
        bool ok = t->ndim <= inner_rank;
        for (int i = 0; ok && i < t->ndim; i++) {
            int64_t xd = in[0]->dims[in[0]->ndim - t->ndim + i];
            ok = t->dims[i] == 1 || t->dims[i] == xd;
        }
        if (!ok)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "%s does not broadcast to X's normalized dims",
                                  s == 1 ? "Scale" : "B");
    }
    return INFERD_OK;
}

/* Index into a parameter broadcast to the inner dims (xdims[axis..r)) for inner index j. */
static int64_t bcast_index(const inferd_tensor_t *t, const int64_t *xdims, int r, int64_t j,
                           int64_t inner)
{
    int64_t tn = (int64_t)inferd_tensor_numel(t);
    if (tn == inner)
        return j;
    if (tn == 1)
        return 0;
    int64_t idx = 0, mul = 1;
    for (int i = t->ndim - 1, xi = r - 1; i >= 0; i--, xi--) {
        int64_t c = j % xdims[xi];
        j /= xdims[xi];
        if (t->dims[i] != 1)
            idx += c * mul;
        mul *= t->dims[i];
    }
    return idx;
}

typedef struct ln_rows {
    const float *x, *s, *b;
    float *y, *mean, *inv;
    int64_t inner;
    double epsilon;
} ln_rows_t;

static void ln_rows_task(void *arg, int64_t lo, int64_t hi)
{
    const ln_rows_t *r = arg;
    int64_t inner = r->inner;
    for (int64_t o = lo; o < hi; o++) {
        const float *xr = r->x + o * inner;
        float *yr = r->y + o * inner;
        /* Row statistics in 16 float lanes (vectorized; a row's result depends on that row
         * only), the normalization on the vectorized loop. */
        float m = inner ? inferd_simd_sum(xr, inner) / (float)inner : 0.0f;
        double sq = inferd_simd_sqdev(xr, inner, m);
        float inv = (float)(1.0 / sqrt((inner ? sq / (double)inner : 0.0) + r->epsilon));
        inferd_simd_norm_row(xr, yr, inner, m, inv, r->s, r->b);
        if (r->mean)
            r->mean[o] = m;
        if (r->inv)
            r->inv[o] = inv;
    }
}

/* The transformer case: FP32 X, Scale and B each holding one value per normalized
 * element (no broadcasting), and the statistics wanted in FP32. Two passes over each row,
 * the variance from the centered values. Returns false when the case does not apply. */
static bool ln_fast_f32(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                        inferd_tensor_t *const *out, int64_t outer, int64_t inner)
{
    const norm_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *sc = in[1], *bt = in[2];
    if (x->dtype != INFERD_DTYPE_FP32 || sc->dtype != INFERD_DTYPE_FP32 ||
        (int64_t)inferd_tensor_numel(sc) != inner ||
        (bt && (bt->dtype != INFERD_DTYPE_FP32 || (int64_t)inferd_tensor_numel(bt) != inner)))
        return false;
    for (int j = 1; j < node->n_outputs; j++)
        if (out[j] && out[j]->dtype != INFERD_DTYPE_FP32)
            return false;
    /* Rows split over the intra-op pool when there are enough. */
    ln_rows_t r = {.x = x->data,
                   .s = sc->data,
                   .b = bt ? bt->data : NULL,
                   .y = out[0]->data,
                   .mean = node->n_outputs > 1 && out[1] ? out[1]->data : NULL,
                   .inv = node->n_outputs > 2 && out[2] ? out[2]->data : NULL,
                   .inner = inner,
                   .epsilon = d->epsilon};
    int64_t grain = inner > 0 ? (INFERD_ONNX_PAR_GRAIN + inner - 1) / inner : outer;
    inferd_pool_for_range(outer, grain, 1, ln_rows_task, &r);
    return true;
}

static inferd_status_t ln_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_tensor_t *const *out, inferd_err_t *err)
{
    const norm_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    int axis;
    if (inferd_onnx_axis(d->axis, x->ndim, &axis, err) != INFERD_OK)
        return fail(err);
    int64_t outer = inferd_onnx_dims_prod(x->dims, 0, axis);
    int64_t inner = inferd_onnx_dims_prod(x->dims, axis, x->ndim);
    if (ln_fast_f32(node, in, out, outer, inner))
        return INFERD_OK;
    for (int64_t o = 0; o < outer; o++) {
        double s = 0, s2 = 0;
        for (int64_t j = 0; j < inner; j++) {
            double v = rd(x, o * inner + j);
            s += v;
            s2 += v * v;
        }
        double m = inner ? s / (double)inner : 0, vr = inner ? s2 / (double)inner - m * m : 0;
        if (vr < 0)
            vr = 0;
        double inv = 1.0 / sqrt(vr + d->epsilon);
        for (int64_t j = 0; j < inner; j++) {
            double sc = rd(in[1], bcast_index(in[1], x->dims, x->ndim, j, inner));
            double b = in[2] ? rd(in[2], bcast_index(in[2], x->dims, x->ndim, j, inner)) : 0;
            wr(out[0], o * inner + j, (rd(x, o * inner + j) - m) * inv * sc + b);
        }
        if (node->n_outputs > 1 && out[1])
            wr(out[1], o, m);
        if (node->n_outputs > 2 && out[2])
            wr(out[2], o, inv);
    }
    return INFERD_OK;
}

static inferd_status_t ln_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (check_real_inputs(ic, err) != INFERD_OK)
        return fail(err);
    norm_data_t d;
    memset(&d, 0, sizeof(d));
    if (inferd_onnx_attr_float(ic->node, "epsilon", 1e-5f, &d.epsilon, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "axis", -1, &d.axis, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "stash_type", 1, &d.stash_type, err) != INFERD_OK)
        return fail(err);
    set_data(ic, &d, ln_compute);
    ic->out_types[0] = ic->in_types[0];
    /* Mean and InvStdDev are kept in the stash type (1 = float). */
    inferd_dtype_t st = d.stash_type == 1 ? INFERD_DTYPE_FP32 : ic->in_types[0];
    for (int j = 1; j < ic->node->n_outputs; j++)
        ic->out_types[j] = st;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* GroupNormalization                                                                   */

/* Statistics per (sample, group of C / num_groups channels); scale and bias are per
 * group in opset 18 and per channel from opset 21. */
static inferd_status_t groupnorm_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                         inferd_tensor_t *const *out, inferd_err_t *err)
{
    const norm_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    if (x->ndim < 2)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "input must have rank >= 2");
    int64_t n = x->dims[0], c = x->dims[1], sp = inferd_onnx_dims_prod(x->dims, 2, x->ndim);
    int64_t groups = d->size;
    if (c % groups)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%lld channels in %lld groups",
                              (long long)c, (long long)groups);
    bool per_channel = node->opset >= 21;
    int64_t want = per_channel ? c : groups;
    if ((int64_t)inferd_tensor_numel(in[1]) != want || (int64_t)inferd_tensor_numel(in[2]) != want)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "scale and bias need %lld values",
                              (long long)want);
    int64_t cpg = c / groups, len = cpg * sp;
    for (int64_t i = 0; i < n; i++)
        for (int64_t g = 0; g < groups; g++) {
            int64_t base = (i * c + g * cpg) * sp;
            double s = 0, s2 = 0;
            for (int64_t k = 0; k < len; k++) {
                double v = rd(x, base + k);
                s += v;
                s2 += v * v;
            }
            double m = len ? s / (double)len : 0, vr = len ? s2 / (double)len - m * m : 0;
            double inv = 1.0 / sqrt((vr > 0 ? vr : 0) + d->epsilon);
            for (int64_t k = 0; k < len; k++) {
                int64_t p = per_channel ? g * cpg + k / sp : g;
                wr(out[0], base + k, (rd(x, base + k) - m) * inv * rd(in[1], p) + rd(in[2], p));
            }
        }
    return INFERD_OK;
}

static inferd_status_t groupnorm_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (check_real_inputs(ic, err) != INFERD_OK)
        return fail(err);
    norm_data_t d;
    memset(&d, 0, sizeof(d));
    if (inferd_onnx_attr_float(ic->node, "epsilon", 1e-5f, &d.epsilon, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "num_groups", 0, &d.size, err) != INFERD_OK)
        return fail(err);
    if (d.size <= 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "num_groups must be positive");
    set_data(ic, &d, groupnorm_compute);
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* LRN                                                                                  */

static inferd_status_t lrn_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    const norm_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    if (x->ndim < 3)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "input must have rank >= 3");
    int64_t n = x->dims[0], c = x->dims[1], sp = inferd_onnx_dims_prod(x->dims, 2, x->ndim);
    int64_t lo = (d->size - 1) / 2, hi = d->size / 2; /* floor and ceil of (size-1)/2 */
    for (int64_t i = 0; i < n; i++)
        for (int64_t ch = 0; ch < c; ch++)
            for (int64_t k = 0; k < sp; k++) {
                double sq = 0;
                for (int64_t q = ch - lo; q <= ch + hi; q++) {
                    if (q < 0 || q >= c)
                        continue;
                    double v = rd(x, (i * c + q) * sp + k);
                    sq += v * v;
                }
                int64_t at = (i * c + ch) * sp + k;
                double den = pow(d->bias + d->alpha / (double)d->size * sq, d->beta);
                wr(out[0], at, rd(x, at) / den);
            }
    return INFERD_OK;
}

static inferd_status_t lrn_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (check_real_inputs(ic, err) != INFERD_OK)
        return fail(err);
    norm_data_t d;
    memset(&d, 0, sizeof(d));
    if (inferd_onnx_attr_int(ic->node, "size", 0, &d.size, err) != INFERD_OK ||
        inferd_onnx_attr_float(ic->node, "alpha", 1e-4f, &d.alpha, err) != INFERD_OK ||
        inferd_onnx_attr_float(ic->node, "beta", 0.75f, &d.beta, err) != INFERD_OK ||
        inferd_onnx_attr_float(ic->node, "bias", 1.0f, &d.bias, err) != INFERD_OK)
        return fail(err);
    if (d.size <= 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "LRN needs a positive size");
    set_data(ic, &d, lrn_compute);
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* MeanVarianceNormalization and LpNormalization                                        */

/* Offset of element i's group when the dims flagged in `reduced` collapse to one. */
static int64_t group_of(int64_t i, const int64_t *dims, int r, const bool *reduced)
{
    int64_t g = 0, mul = 1;
    for (int k = r - 1; k >= 0; k--) {
        int64_t c = i % dims[k];
        i /= dims[k];
        if (!reduced[k]) {
            g += c * mul;
            mul *= dims[k];
        }
    }
    return g;
}

static inferd_status_t mvn_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    const norm_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    bool reduced[INFERD_MAX_DIMS] = {false};
    for (int k = 0; k < d->n_axes; k++) {
        int a;
        if (inferd_onnx_axis(d->axes[k], x->ndim, &a, err) != INFERD_OK)
            return fail(err);
        reduced[a] = true;
    }
    int64_t groups = 1, per = 1;
    for (int k = 0; k < x->ndim; k++) {
        if (reduced[k])
            per *= x->dims[k];
        else
            groups *= x->dims[k];
    }
    double *acc = inferd_calloc((size_t)groups * 2 + 1, sizeof(double));
    if (!acc)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");
    int64_t n = (int64_t)inferd_tensor_numel(x);
    for (int64_t i = 0; i < n; i++) {
        int64_t g = group_of(i, x->dims, x->ndim, reduced);
        double v = rd(x, i);
        acc[2 * g] += v;
        acc[2 * g + 1] += v * v;
    }
    for (int64_t g = 0; g < groups; g++) {
        double m = acc[2 * g] / (double)per, vr = acc[2 * g + 1] / (double)per - m * m;
        acc[2 * g] = m;
        acc[2 * g + 1] = sqrt(vr > 0 ? vr : 0) + 1e-9;
    }
    for (int64_t i = 0; i < n; i++) {
        int64_t g = group_of(i, x->dims, x->ndim, reduced);
        wr(out[0], i, (rd(x, i) - acc[2 * g]) / acc[2 * g + 1]);
    }
    inferd_free(acc);
    return INFERD_OK;
}

static inferd_status_t mvn_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (check_real_inputs(ic, err) != INFERD_OK)
        return fail(err);
    norm_data_t d;
    memset(&d, 0, sizeof(d));
    const int64_t *v;
    size_t n;
    bool present;
    if (inferd_onnx_attr_ints(ic->node, "axes", &v, &n, &present, err) != INFERD_OK)
        return fail(err);
    if (!present) {
        static const int64_t def[] = {0, 2, 3};
        v = def;
        n = 3;
    }
    if (n > INFERD_MAX_DIMS)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "too many axes");
    memcpy(d.axes, v, n * sizeof(int64_t));
    d.n_axes = (int)n;
    set_data(ic, &d, mvn_compute);
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

static inferd_status_t lpnorm_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const norm_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    int axis;
    if (inferd_onnx_axis(d->axis, x->ndim, &axis, err) != INFERD_OK)
        return fail(err);
    int64_t outer = inferd_onnx_dims_prod(x->dims, 0, axis), len = x->dims[axis];
    int64_t inner = inferd_onnx_dims_prod(x->dims, axis + 1, x->ndim);
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            double s = 0;
            for (int64_t j = 0; j < len; j++) {
                double v = rd(x, (o * len + j) * inner + k);
                s += d->p == 1 ? fabs(v) : v * v;
            }
            double norm = d->p == 1 ? s : sqrt(s);
            for (int64_t j = 0; j < len; j++) {
                int64_t at = (o * len + j) * inner + k;
                wr(out[0], at, norm == 0 ? 0 : rd(x, at) / norm);
            }
        }
    return INFERD_OK;
}

static inferd_status_t lpnorm_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (check_real_inputs(ic, err) != INFERD_OK)
        return fail(err);
    norm_data_t d;
    memset(&d, 0, sizeof(d));
    if (inferd_onnx_attr_int(ic->node, "axis", -1, &d.axis, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "p", 2, &d.p, err) != INFERD_OK)
        return fail(err);
    if (d.p != 1 && d.p != 2)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "p must be 1 or 2");
    set_data(ic, &d, lpnorm_compute);
    ic->out_types[0] = ic->in_types[0];
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_norm[] = {
    {"", "BatchNormalization", 1, 5, 5, 5, bn_init, bn_reshape},
    {"", "BatchNormalization", 6, 5, 5, 5, bn_init, bn_reshape},
    {"", "BatchNormalization", 7, 5, 5, 5, bn_init, bn_reshape},
    {"", "BatchNormalization", 9, 5, 5, 5, bn_init, bn_reshape},
    {"", "BatchNormalization", 14, 5, 5, 3, bn_init, bn_reshape},
    {"", "BatchNormalization", 15, 5, 5, 3, bn_init, bn_reshape},
    {"", "InstanceNormalization", 1, 3, 3, 1, instnorm_init, same_reshape},
    {"", "InstanceNormalization", 6, 3, 3, 1, instnorm_init, same_reshape},
    {"", "LayerNormalization", 17, 2, 3, 3, ln_init, ln_reshape},
    {"", "GroupNormalization", 18, 3, 3, 1, groupnorm_init, same_reshape},
    {"", "GroupNormalization", 21, 3, 3, 1, groupnorm_init, same_reshape},
    {"", "LRN", 1, 1, 1, 1, lrn_init, same_reshape},
    {"", "LRN", 13, 1, 1, 1, lrn_init, same_reshape},
    {"", "MeanVarianceNormalization", 9, 1, 1, 1, mvn_init, same_reshape},
    {"", "MeanVarianceNormalization", 13, 1, 1, 1, mvn_init, same_reshape},
    {"", "LpNormalization", 1, 1, 1, 1, lpnorm_init, same_reshape},
};
const size_t inferd_onnx_ops_norm_count =
    sizeof(inferd_onnx_ops_norm) / sizeof(inferd_onnx_ops_norm[0]);
