/* Resize (opsets 10, 11, 13, 18, 19; no antialias) and Upsample (7, 9): nearest, (multi)linear and
 * cubic interpolation over any subset of dims, with every coordinate_transformation_mode and
 * nearest_mode of the spec.
 *
 * Interpolation is separable, so each output dim gets a table of up to four (input index,
 * weight) taps per output coordinate, built once per call; an output element is the sum
 * over the product of its dims' taps. Taps with zero weight are dropped, so dims that are
 * not resized (scale 1 on N and C) cost one tap. Nearest mode copies elements of any
 * fixed-size type; linear and cubic compute in double for FP32/FP64/FP16. Resize-10 and
 * Upsample use the "asymmetric" transform with floor for nearest, as their specs say. */
#include "backends/onnx/ops/ops.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

typedef enum { MODE_NEAREST, MODE_LINEAR, MODE_CUBIC } resize_mode_t;
typedef enum {
    CT_HALF_PIXEL,
    CT_PYTORCH_HALF_PIXEL,
    CT_ALIGN_CORNERS,
    CT_ASYMMETRIC,
    CT_TF_HALF_PIXEL_FOR_NN,
    CT_TF_CROP_AND_RESIZE,
    CT_HALF_PIXEL_SYMMETRIC,
} coord_mode_t;
typedef enum { NM_ROUND_PREFER_FLOOR, NM_ROUND_PREFER_CEIL, NM_FLOOR, NM_CEIL } nearest_mode_t;

typedef struct resize_data {
    resize_mode_t mode;
    coord_mode_t coord;
    nearest_mode_t nearest;
    float cubic_a;
    bool exclude_outside;
    float extrapolation;
    int scales_slot, sizes_slot, roi_slot; /* input positions; -1 when the version has none */
    int n_attr_scales;                     /* Upsample-7 */
    float attr_scales[INFERD_MAX_DIMS];
    int n_axes; /* Resize-18: scales/sizes name only these axes (0: all) */
    int64_t axes[INFERD_MAX_DIMS];
    int keep_aspect; /* Resize-18 with sizes: 0 stretch, 1 not_larger, 2 not_smaller */
} resize_data_t;

static inferd_status_t fail(inferd_err_t *err)
{
    return err ? err->code : INFERD_E_INVALID_ARG;
}

static double rdf(const inferd_tensor_t *t, int64_t i)
{
    switch (t->dtype) {
    case INFERD_DTYPE_FP32: return ((const float *)t->data)[i];
    case INFERD_DTYPE_FP64: return ((const double *)t->data)[i];
    case INFERD_DTYPE_FP16: return inferd_fp16_to_fp32(((const uint16_t *)t->data)[i]);
    default: return 0;
    }
}

/* The scales in effect and the output shape. scales/sizes hold one value per dim, or
 * (Resize-18 `axes`) one per listed axis with the others left alone. */
static inferd_status_t resize_plan(const resize_data_t *d, inferd_tensor_t *const *in,
                                   double *scales, inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    const inferd_tensor_t *sc = d->scales_slot >= 0 ? in[d->scales_slot] : NULL;
    const inferd_tensor_t *sz = d->sizes_slot >= 0 ? in[d->sizes_slot] : NULL;
    if (sc && inferd_tensor_numel(sc) == 0)
        sc = NULL;
    if (sz && inferd_tensor_numel(sz) == 0)
        sz = NULL;
    int r = x->ndim, na = r, ax[INFERD_MAX_DIMS];
    bool seen[INFERD_MAX_DIMS] = {false};
    if (d->n_axes) {
        na = d->n_axes;
        for (int j = 0; j < na; j++) {
            if (inferd_onnx_axis(d->axes[j], r, &ax[j], err) != INFERD_OK)
                return fail(err);
            if (seen[ax[j]])
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "axes repeats axis %d", ax[j]);
            seen[ax[j]] = true;
        }
    } else {
        for (int j = 0; j < r; j++)
            ax[j] = j;
    }
    out->ndim = r;
    for (int i = 0; i < r; i++) {
        scales[i] = 1.0;
        out->dims[i] = x->dims[i];
    }
    if (sz) {
        int64_t v[INFERD_MAX_DIMS];
        int n;
        if (inferd_onnx_read_ints(sz, "sizes", v, INFERD_MAX_DIMS, &n, err) != INFERD_OK)
            return fail(err);
        if (n != na)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "sizes has %d values for %d axes", n,
                                  na);
        for (int j = 0; j < na; j++)
            if (v[j] < 0)
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "negative size");
        if (d->keep_aspect) {
            /* One scale for all the axes: the largest that fits (not_larger) or the
             * smallest that covers (not_smaller). */
            double k = 0;
            for (int j = 0; j < na; j++) {
                int64_t len = x->dims[ax[j]];
                double sj = len ? (double)v[j] / (double)len : 1.0;
                if (j == 0 || (d->keep_aspect == 1 ? sj < k : sj > k))
                    k = sj;
            }
            if (!(k * (double)INT32_MAX < 0x1p62))
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "sizes give too large a scale");
            for (int j = 0; j < na; j++) {
                scales[ax[j]] = k;
                out->dims[ax[j]] = (int64_t)floor(k * (double)x->dims[ax[j]] + 0.5);
            }
            return INFERD_OK;
        }
        for (int j = 0; j < na; j++) {
            int64_t len = x->dims[ax[j]];
            out->dims[ax[j]] = v[j];
            scales[ax[j]] = len ? (double)v[j] / (double)len : 1.0;
        }
        return INFERD_OK;
    }
    if (sc) {
        if (sc->ndim != 1 || sc->dims[0] != na ||
            (sc->dtype != INFERD_DTYPE_FP32 && sc->dtype != INFERD_DTYPE_FP64))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "scales must be a float vector of %d values", na);
        for (int j = 0; j < na; j++)
            scales[ax[j]] = rdf(sc, j);
    } else if (d->n_attr_scales) {
        if (d->n_attr_scales != r)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "scales has %d values for rank %d",
                                  d->n_attr_scales, r);
        for (int i = 0; i < r; i++)
            scales[i] = d->attr_scales[i];
    } else {
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "one of scales and sizes is required");
    }
    for (int i = 0; i < r; i++) {
        /* Also bounds the product, so the conversion to an integer size is defined. */
        if (!(scales[i] > 0) || !((double)x->dims[i] * scales[i] < 0x1p53))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "scales must be positive and give a representable size");
        /* The float product, as the reference computes it, then floor. */
        out->dims[i] = (int64_t)floor((double)x->dims[i] * (double)(float)scales[i]);
    }
    return INFERD_OK;
}

static inferd_status_t resize_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    double scales[INFERD_MAX_DIMS];
    return resize_plan(node->op_data, in, scales, &out[0], err);
}

/* Maps output coordinate o of dim to a coordinate in the input; sets *outside for
 * tf_crop_and_resize points beyond the image. */
static double map_coord(const resize_data_t *d, int64_t o, int64_t in_len, int64_t out_int,
                        double scale, double roi_start, double roi_end, bool *outside)
{
    double x = (double)o;
    /* The spec's length_resized is in * scale before flooring (it equals the output size
     * when sizes were given). */
    double out_len = (double)in_len * scale;
    *outside = false;
    switch (d->coord) {
    case CT_HALF_PIXEL: return (x + 0.5) / scale - 0.5;
    case CT_HALF_PIXEL_SYMMETRIC: {
        /* Centres the sampled span when the output size was rounded down. */
        double adj = out_len > 0 ? (double)out_int / out_len : 1.0;
        double offset = (double)in_len / 2 * (1 - adj);
        return offset + (x + 0.5) / scale - 0.5;
    }
    case CT_PYTORCH_HALF_PIXEL: return out_len > 1 ? (x + 0.5) / scale - 0.5 : 0.0;
    case CT_ALIGN_CORNERS: return out_len == 1 ? 0.0 : x * (double)(in_len - 1) / (out_len - 1);
    case CT_ASYMMETRIC: return x / scale;
    case CT_TF_HALF_PIXEL_FOR_NN: return (x + 0.5) / scale;
    case CT_TF_CROP_AND_RESIZE: {
        double r = out_len > 1
                       ? roi_start * (double)(in_len - 1) +
                             x * (roi_end - roi_start) * (double)(in_len - 1) / (out_len - 1)
                       : 0.5 * (roi_start + roi_end) * (double)(in_len - 1);
        if (r < 0 || r > (double)(in_len - 1))
            *outside = true;
        return r;
    }
    }
    return x;
}

typedef struct tap {
    int64_t idx[4];
    double w[4];
    int n;        /* taps in use */
    bool outside; /* extrapolate */
} tap_t;

static int64_t clampi(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static void make_taps(const resize_data_t *d, double x, int64_t in_len, tap_t *t)
{
    t->n = 0;
    if (d->mode == MODE_NEAREST) {
        double r;
        switch (d->nearest) {
        case NM_ROUND_PREFER_FLOOR: r = (x == floor(x) + 0.5) ? floor(x) : round(x); break;
        case NM_ROUND_PREFER_CEIL: r = (x == floor(x) + 0.5) ? ceil(x) : round(x); break;
        case NM_FLOOR: r = floor(x); break;
        default: r = ceil(x); break;
        }
        t->idx[0] = clampi((int64_t)r, 0, in_len - 1);
        t->w[0] = 1.0;
        t->n = 1;
        return;
    }
    double f = floor(x), r = x - f;
    int64_t base = (int64_t)f;
    double w[4];
    int64_t idx[4];
    int n;
    if (d->mode == MODE_LINEAR) {
        n = 2;
        idx[0] = base;
        idx[1] = base + 1;
        w[0] = 1 - r;
        w[1] = r;
    } else {
        double a = d->cubic_a;
        n = 4;
        for (int k = 0; k < 4; k++)
            idx[k] = base - 1 + k;
        double t1 = r + 1, t2 = 1 - r, t3 = 2 - r;
        w[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
        w[1] = ((a + 2) * r - (a + 3)) * r * r + 1;
        w[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
        w[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
    }
    double sum = 0;
    for (int k = 0; k < n; k++) {
        bool inside = idx[k] >= 0 && idx[k] < in_len;
        if (d->exclude_outside && !inside)
            w[k] = 0;
        sum += w[k];
    }
    for (int k = 0; k < n; k++) {
        if (w[k] == 0)
            continue;
        t->idx[t->n] = clampi(idx[k], 0, in_len - 1);
        t->w[t->n] = d->exclude_outside && sum != 0 ? w[k] / sum : w[k];
        t->n++;
    }
    if (t->n == 0) {
        t->idx[0] = clampi(base, 0, in_len - 1);
        t->w[0] = 0;
        t->n = 1;
    }
}

static inferd_status_t resize_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const resize_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    inferd_tensor_t *y = out[0];
    double scales[INFERD_MAX_DIMS];
    inferd_onnx_shape_t os;
    if (resize_plan(d, in, scales, &os, err) != INFERD_OK)
        return fail(err);
    int r = x->ndim;
    if (r < 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "Resize needs rank >= 1");
    double roi[2 * INFERD_MAX_DIMS];
    for (int i = 0; i < r; i++) {
        roi[i] = 0;
        roi[r + i] = 1;
    }
    const inferd_tensor_t *rt = d->roi_slot >= 0 ? in[d->roi_slot] : NULL;
    if (d->coord == CT_TF_CROP_AND_RESIZE) {
        if (!rt || (int64_t)inferd_tensor_numel(rt) != 2 * r)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "tf_crop_and_resize needs roi with %d values", 2 * r);
        for (int i = 0; i < 2 * r; i++)
            roi[i] = rdf(rt, i);
    }
    size_t ntaps = 0;
    for (int i = 0; i < r; i++)
        ntaps += (size_t)os.dims[i];
    tap_t *taps = inferd_malloc(ntaps * sizeof(tap_t) + 1);
    if (!taps)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory for taps");
    tap_t *dim_taps[INFERD_MAX_DIMS];
    size_t at = 0;
    for (int i = 0; i < r; i++) {
        dim_taps[i] = taps + at;
        for (int64_t o = 0; o < os.dims[i]; o++) {
            tap_t *t = &taps[at++];
            double c =
                map_coord(d, o, x->dims[i], os.dims[i], scales[i], roi[i], roi[r + i], &t->outside);
            make_taps(d, c, x->dims[i], t);
        }
    }
    int64_t n = (int64_t)inferd_tensor_numel(y);
    int64_t xstride[INFERD_MAX_DIMS], oidx[INFERD_MAX_DIMS];
    int64_t s = 1;
    for (int i = r - 1; i >= 0; i--) {
        xstride[i] = s;
        s *= x->dims[i];
    }
    size_t es = inferd_dtype_size(x->dtype);
    bool nearest = d->mode == MODE_NEAREST;
    /* The output is walked in rows along the last dim. Per row, the taps of the other dims
     * combine into a short list of (offset, weight) pairs (one pair for dims that are not
     * resized), so the inner loop only applies the last dim's taps. */
    int last = r - 1;
    int64_t ow_n = os.dims[last], rows = ow_n ? n / ow_n : 0;
    size_t max_comb = 1;
    for (int i = 0; i < last; i++) {
        int m = 1;
        for (int64_t o = 0; o < os.dims[i]; o++)
            m = dim_taps[i][o].n > m ? dim_taps[i][o].n : m;
        max_comb *= (size_t)m;
    }
    int64_t *comb_off = inferd_malloc(max_comb * (sizeof(int64_t) + sizeof(double)));
    if (!comb_off) {
        inferd_free(taps);
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory for taps");
    }
    double *comb_w = (double *)(comb_off + max_comb);
    const tap_t *lt = dim_taps[last];
    for (int64_t row = 0; row < rows; row++) {
        int64_t rem = row;
        for (int i = last - 1; i >= 0; i--) {
            oidx[i] = rem % os.dims[i];
            rem /= os.dims[i];
        }
        bool outside = false;
        const tap_t *tp[INFERD_MAX_DIMS];
        for (int i = 0; i < last; i++) {
            tp[i] = &dim_taps[i][oidx[i]];
            outside |= tp[i]->outside;
        }
        /* Odometer over the product of the outer dims' taps. */
        size_t nc = 0;
        int k[INFERD_MAX_DIMS] = {0};
        for (;;) {
            double w = 1;
            int64_t off = 0;
            for (int i = 0; i < last; i++) {
                w *= tp[i]->w[k[i]];
                off += tp[i]->idx[k[i]] * xstride[i];
            }
            comb_off[nc] = off;
            comb_w[nc++] = w;
            int i = last - 1;
            while (i >= 0 && ++k[i] == tp[i]->n)
                k[i--] = 0;
            if (i < 0)
                break;
        }
        int64_t e0 = row * ow_n;
        for (int64_t ow = 0; ow < ow_n; ow++) {
            const tap_t *t = &lt[ow];
            int64_t e = e0 + ow;
            if (nearest && !outside && !t->outside) {
                memcpy((char *)y->data + (size_t)e * es,
                       (const char *)x->data + (size_t)(comb_off[0] + t->idx[0]) * es, es);
                continue;
            }
            double v = 0;
            if (outside || t->outside) {
                v = d->extrapolation;
            } else {
                for (size_t c = 0; c < nc; c++) {
                    double acc = 0;
                    for (int q = 0; q < t->n; q++)
                        acc += t->w[q] * rdf(x, comb_off[c] + t->idx[q]);
                    v += comb_w[c] * acc;
                }
            }
            switch (y->dtype) {
            case INFERD_DTYPE_FP32: ((float *)y->data)[e] = (float)v; break;
            case INFERD_DTYPE_FP64: ((double *)y->data)[e] = v; break;
            case INFERD_DTYPE_FP16: ((uint16_t *)y->data)[e] = inferd_fp32_to_fp16((float)v); break;
            default: memset((char *)y->data + (size_t)e * es, 0, es); break;
            }
        }
    }
    inferd_free(comb_off);
    inferd_free(taps);
    return INFERD_OK;
}

static inferd_status_t parse_mode(const inferd_onnx_node_t *node, resize_data_t *d,
                                  inferd_err_t *err)
{
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(node, "mode");
    d->mode = MODE_NEAREST;
    if (a && a->type == INFERD_ONNX_ATTR_STRING) {
        if (strcmp(a->s, "nearest") == 0)
            d->mode = MODE_NEAREST;
        else if (strcmp(a->s, "linear") == 0 || strcmp(a->s, "bilinear") == 0)
            d->mode = MODE_LINEAR;
        else if (strcmp(a->s, "cubic") == 0)
            d->mode = MODE_CUBIC;
        else
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown mode '%s'", a->s);
    }
    return INFERD_OK;
}

static inferd_status_t finish_init(inferd_onnx_init_t *ic, const resize_data_t *d,
                                   inferd_err_t *err)
{
    inferd_dtype_t t = ic->in_types[0];
    if (inferd_dtype_size(t) == 0)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (d->mode != MODE_NEAREST && t != INFERD_DTYPE_FP32 && t != INFERD_DTYPE_FP64 &&
        t != INFERD_DTYPE_FP16)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    resize_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = *d;
    ic->node->op_data = p;
    ic->node->compute = resize_compute;
    ic->out_types[0] = t;
    return INFERD_OK;
}

static inferd_status_t resize_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    resize_data_t d;
    memset(&d, 0, sizeof(d));
    const inferd_onnx_node_t *node = ic->node;
    if (parse_mode(node, &d, err) != INFERD_OK)
        return fail(err);
    d.cubic_a = -0.75f;
    if (node->opset < 11) {
        d.scales_slot = 1;
        d.sizes_slot = d.roi_slot = -1;
        d.coord = CT_ASYMMETRIC;
        d.nearest = NM_FLOOR;
        return finish_init(ic, &d, err);
    }
    d.roi_slot = 1;
    d.scales_slot = 2;
    d.sizes_slot = 3;
    int64_t excl;
    if (inferd_onnx_attr_float(node, "cubic_coeff_a", -0.75f, &d.cubic_a, err) != INFERD_OK ||
        inferd_onnx_attr_int(node, "exclude_outside", 0, &excl, err) != INFERD_OK ||
        inferd_onnx_attr_float(node, "extrapolation_value", 0.0f, &d.extrapolation, err) !=
            INFERD_OK)
        return fail(err);
    d.exclude_outside = excl != 0;
    if (node->opset >= 18) {
        int64_t antialias;
        const int64_t *axes;
        size_t n_axes;
        bool present;
        if (inferd_onnx_attr_int(node, "antialias", 0, &antialias, err) != INFERD_OK ||
            inferd_onnx_attr_ints(node, "axes", &axes, &n_axes, &present, err) != INFERD_OK)
            return fail(err);
        if (antialias && d.mode != MODE_NEAREST)
            return inferd_err_set(err, INFERD_E_UNSUPPORTED, "Resize antialias is not supported");
        if (present) {
            if (n_axes == 0 || n_axes > INFERD_MAX_DIMS)
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "bad axes");
            memcpy(d.axes, axes, n_axes * sizeof(int64_t));
            d.n_axes = (int)n_axes;
        }
        const inferd_onnx_attr_t *k = inferd_onnx_attr_find(node, "keep_aspect_ratio_policy");
        if (k && k->type == INFERD_ONNX_ATTR_STRING) {
            if (strcmp(k->s, "not_larger") == 0)
                d.keep_aspect = 1;
            else if (strcmp(k->s, "not_smaller") == 0)
                d.keep_aspect = 2;
            else if (strcmp(k->s, "stretch") != 0)
                return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                      "unknown keep_aspect_ratio_policy '%s'", k->s);
        }
    }
    static const char *const coords[] = {
        "half_pixel",           "pytorch_half_pixel", "align_corners",       "asymmetric",
        "tf_half_pixel_for_nn", "tf_crop_and_resize", "half_pixel_symmetric"};
    static const char *const nearests[] = {"round_prefer_floor", "round_prefer_ceil", "floor",
                                           "ceil"};
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(node, "coordinate_transformation_mode");
    d.coord = CT_HALF_PIXEL;
    if (a && a->type == INFERD_ONNX_ATTR_STRING) {
        size_t i = 0;
        while (i < sizeof(coords) / sizeof(coords[0]) && strcmp(coords[i], a->s) != 0)
            i++;
        if (i == sizeof(coords) / sizeof(coords[0]))
            return inferd_err_set(err, INFERD_E_UNSUPPORTED,
                                  "unknown coordinate_transformation_mode '%s'", a->s);
        d.coord = (coord_mode_t)i;
    }
    a = inferd_onnx_attr_find(node, "nearest_mode");
    d.nearest = NM_ROUND_PREFER_FLOOR;
    if (a && a->type == INFERD_ONNX_ATTR_STRING) {
        size_t i = 0;
        while (i < sizeof(nearests) / sizeof(nearests[0]) && strcmp(nearests[i], a->s) != 0)
            i++;
        if (i == sizeof(nearests) / sizeof(nearests[0]))
            return inferd_err_set(err, INFERD_E_UNSUPPORTED, "unknown nearest_mode '%s'", a->s);
        d.nearest = (nearest_mode_t)i;
    }
    return finish_init(ic, &d, err);
}

static inferd_status_t upsample_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    resize_data_t d;
    memset(&d, 0, sizeof(d));
    if (parse_mode(ic->node, &d, err) != INFERD_OK)
        return fail(err);
    d.coord = CT_ASYMMETRIC;
    d.nearest = NM_FLOOR;
    d.sizes_slot = d.roi_slot = -1;
    d.scales_slot = ic->node->opset >= 9 ? 1 : -1;
    if (d.scales_slot < 0) {
        const inferd_onnx_attr_t *a = inferd_onnx_attr_find(ic->node, "scales");
        if (!a || a->type != INFERD_ONNX_ATTR_FLOATS || a->n > INFERD_MAX_DIMS)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "Upsample needs a 'scales' attribute");
        d.n_attr_scales = (int)a->n;
        memcpy(d.attr_scales, a->floats, a->n * sizeof(float));
    }
    return finish_init(ic, &d, err);
}

const inferd_onnx_op_t inferd_onnx_ops_resize[] = {
    {"", "Resize", 10, 2, 2, 1, resize_init, resize_reshape},
    {"", "Resize", 11, 1, 4, 1, resize_init, resize_reshape},
    {"", "Resize", 13, 1, 4, 1, resize_init, resize_reshape},
    {"", "Resize", 18, 1, 4, 1, resize_init, resize_reshape},
    {"", "Resize", 19, 1, 4, 1, resize_init, resize_reshape},
    {"", "Upsample", 7, 1, 1, 1, upsample_init, resize_reshape},
    {"", "Upsample", 9, 2, 2, 1, upsample_init, resize_reshape},
};
const size_t inferd_onnx_ops_resize_count =
    sizeof(inferd_onnx_ops_resize) / sizeof(inferd_onnx_ops_resize[0]);
