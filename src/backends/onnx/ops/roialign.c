/* Region-of-interest pooling over an [N, C, H, W] feature map: RoiAlign (opsets 10 and 16)
 * samples each region bilinearly into an [output_height, output_width] grid, and MaxRoiPool
 * (opset 1) takes the maximum over integer bins, as Fast R-CNN did.
 *
 * Each output bin averages (or, in max mode, takes the largest of) sampling_ratio^2
 * bilinear samples, or ceil(roi size / output size) per axis when sampling_ratio is 0.
 * Samples more than one pixel outside the map count as zero. Opset 16 adds
 * coordinate_transformation_mode: "half_pixel" (the default there) shifts the box by half a
 * pixel, and "output_half_pixel" (the only behaviour of opset 10) does not but forces a
 * box of at least one pixel. Max mode follows the reference: each sample contributes the
 * largest of its four weighted corners. */
#include "backends/onnx/ops/ops.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

typedef struct roi_data {
    bool max_mode;
    bool half_pixel;
    int64_t out_h, out_w, sampling_ratio;
    float spatial_scale;
} roi_data_t;

static inferd_status_t fail(inferd_err_t *err)
{
    return err ? err->code : INFERD_E_INVALID_ARG;
}

static inferd_status_t roi_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const roi_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *rois = in[1], *bi = in[2];
    if (x->ndim != 4 || rois->ndim != 2 || rois->dims[1] != 4 || bi->ndim != 1 ||
        bi->dims[0] != rois->dims[0])
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "want X [N,C,H,W], rois [R,4] and batch_indices [R]");
    out[0].ndim = 4;
    out[0].dims[0] = rois->dims[0];
    out[0].dims[1] = x->dims[1];
    out[0].dims[2] = d->out_h;
    out[0].dims[3] = d->out_w;
    return INFERD_OK;
}

static double rdv(const inferd_tensor_t *t, int64_t i)
{
    return t->dtype == INFERD_DTYPE_FP64 ? ((const double *)t->data)[i]
                                         : ((const float *)t->data)[i];
}

static inferd_status_t roi_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    const roi_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *rois = in[1], *bi = in[2];
    inferd_tensor_t *y = out[0];
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t R = rois->dims[0];
    double off = d->half_pixel ? 0.5 : 0.0;
    for (int64_t r = 0; r < R; r++) {
        int64_t b = bi->dtype == INFERD_DTYPE_INT32 ? ((const int32_t *)bi->data)[r]
                                                    : ((const int64_t *)bi->data)[r];
        if (b < 0 || b >= N)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "batch index %lld is out of range",
                                  (long long)b);
        double x1 = rdv(rois, r * 4) * d->spatial_scale - off;
        double y1 = rdv(rois, r * 4 + 1) * d->spatial_scale - off;
        double x2 = rdv(rois, r * 4 + 2) * d->spatial_scale - off;
        double y2 = rdv(rois, r * 4 + 3) * d->spatial_scale - off;
        double rw = x2 - x1, rh = y2 - y1;
        if (!d->half_pixel) {
            rw = rw > 1 ? rw : 1;
            rh = rh > 1 ? rh : 1;
        }
        /* Bounds the sample grid: NaN or absurd boxes are an error, not a hang or an
         * undefined conversion. */
        if (!(fabs(rw) < 0x1p24) || !(fabs(rh) < 0x1p24) || !isfinite(x1) || !isfinite(y1))
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "roi %lld is not a usable box",
                                  (long long)r);
        double bh = rh / (double)d->out_h, bw = rw / (double)d->out_w;
        int64_t gh =
            d->sampling_ratio > 0 ? d->sampling_ratio : (int64_t)ceil(rh / (double)d->out_h);
        int64_t gw =
            d->sampling_ratio > 0 ? d->sampling_ratio : (int64_t)ceil(rw / (double)d->out_w);
        if (gh > 4096 || gw > 4096)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "roi %lld needs a %lldx%lld sample grid per bin", (long long)r,
                                  (long long)gh, (long long)gw);
        double count = (double)(gh * gw > 0 ? gh * gw : 1);
        for (int64_t c = 0; c < C; c++) {
            int64_t plane = (b * C + c) * H * W;
            for (int64_t ph = 0; ph < d->out_h; ph++)
                for (int64_t pw = 0; pw < d->out_w; pw++) {
                    double acc = 0, best = 0;
                    bool first = true;
                    for (int64_t iy = 0; iy < gh; iy++) {
                        double yy = y1 + (double)ph * bh + ((double)iy + 0.5) * bh / (double)gh;
                        for (int64_t ix = 0; ix < gw; ix++) {
                            double xx = x1 + (double)pw * bw + ((double)ix + 0.5) * bw / (double)gw;
                            double v = 0;
                            if (!(yy < -1.0 || yy > (double)H || xx < -1.0 || xx > (double)W)) {
                                double sy = yy < 0 ? 0 : yy, sx = xx < 0 ? 0 : xx;
                                int64_t yl = (int64_t)sy, xl = (int64_t)sx, yh, xh;
                                if (yl >= H - 1) {
                                    yh = yl = H - 1;
                                    sy = (double)yl;
                                } else {
                                    yh = yl + 1;
                                }
                                if (xl >= W - 1) {
                                    xh = xl = W - 1;
                                    sx = (double)xl;
                                } else {
                                    xh = xl + 1;
                                }
                                double ly = sy - (double)yl, lx = sx - (double)xl;
                                double hy = 1 - ly, hx = 1 - lx;
                                double v1 = hy * hx * rdv(x, plane + yl * W + xl);
                                double v2 = hy * lx * rdv(x, plane + yl * W + xh);
                                double v3 = ly * hx * rdv(x, plane + yh * W + xl);
                                double v4 = ly * lx * rdv(x, plane + yh * W + xh);
                                if (d->max_mode) {
                                    v = fmax(fmax(v1, v2), fmax(v3, v4));
                                } else {
                                    v = v1 + v2 + v3 + v4;
                                }
                            }
                            acc += v;
                            if (first || v > best)
                                best = v;
                            first = false;
                        }
                    }
                    double res = d->max_mode ? best : acc / count;
                    int64_t at = ((r * C + c) * d->out_h + ph) * d->out_w + pw;
                    if (y->dtype == INFERD_DTYPE_FP64)
                        ((double *)y->data)[at] = res;
                    else
                        ((float *)y->data)[at] = (float)res;
                }
        }
    }
    return INFERD_OK;
}

static inferd_status_t roi_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t t = ic->in_types[0];
    if (t != INFERD_DTYPE_FP32 && t != INFERD_DTYPE_FP64)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (ic->in_types[1] != t)
        return inferd_onnx_unsupported_dtype(ic, 1, err);
    if (ic->in_types[2] != INFERD_DTYPE_INT64 && ic->in_types[2] != INFERD_DTYPE_INT32)
        return inferd_onnx_unsupported_dtype(ic, 2, err);
    roi_data_t d;
    memset(&d, 0, sizeof(d));
    if (inferd_onnx_attr_int(ic->node, "output_height", 1, &d.out_h, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "output_width", 1, &d.out_w, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "sampling_ratio", 0, &d.sampling_ratio, err) != INFERD_OK ||
        inferd_onnx_attr_float(ic->node, "spatial_scale", 1.0f, &d.spatial_scale, err) != INFERD_OK)
        return fail(err);
    if (d.out_h <= 0 || d.out_w <= 0 || d.sampling_ratio < 0 || d.sampling_ratio > 1024)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "bad output size or sampling_ratio");
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(ic->node, "mode");
    if (a && a->type == INFERD_ONNX_ATTR_STRING) {
        if (strcmp(a->s, "max") == 0)
            d.max_mode = true;
        else if (strcmp(a->s, "avg") != 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown mode '%s'", a->s);
    }
    d.half_pixel = ic->node->opset >= 16;
    a = inferd_onnx_attr_find(ic->node, "coordinate_transformation_mode");
    if (a && a->type == INFERD_ONNX_ATTR_STRING) {
        if (strcmp(a->s, "output_half_pixel") == 0)
            d.half_pixel = false;
        else if (strcmp(a->s, "half_pixel") == 0)
            d.half_pixel = true;
        else
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "unknown coordinate_transformation_mode '%s'", a->s);
    }
    roi_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = roi_compute;
    ic->out_types[0] = t;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* MaxRoiPool                                                                           */

/* rois are [R, 5]: batch index, then x1, y1, x2, y2 in input pixels before spatial_scale.
 * Box corners round to whole pixels (both inclusive, at least one pixel), each output bin
 * covers [floor(i * bin), ceil((i + 1) * bin)) of the box clipped to the map, and an empty
 * bin gives 0. */
static inferd_status_t mrp_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const roi_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *rois = in[1];
    if (x->ndim != 4 || rois->ndim != 2 || rois->dims[1] != 5)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "want X [N,C,H,W] and rois [R,5]");
    out[0].ndim = 4;
    out[0].dims[0] = rois->dims[0];
    out[0].dims[1] = x->dims[1];
    out[0].dims[2] = d->out_h;
    out[0].dims[3] = d->out_w;
    return INFERD_OK;
}

static int64_t clamp64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

static inferd_status_t mrp_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    const roi_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *rois = in[1];
    inferd_tensor_t *y = out[0];
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    for (int64_t r = 0; r < rois->dims[0]; r++) {
        double bd = rdv(rois, r * 5);
        if (!(bd >= 0 && bd < (double)N))
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "roi %lld has batch index %g",
                                  (long long)r, bd);
        int64_t b = (int64_t)bd;
        for (int k = 1; k < 5; k++)
            if (!(fabs(rdv(rois, r * 5 + k) * d->spatial_scale) < 0x1p40))
                return inferd_err_set(err, INFERD_E_INVALID_ARG, "roi %lld is not a usable box",
                                      (long long)r);
        int64_t x1 = (int64_t)round(rdv(rois, r * 5 + 1) * d->spatial_scale);
        int64_t y1 = (int64_t)round(rdv(rois, r * 5 + 2) * d->spatial_scale);
        int64_t x2 = (int64_t)round(rdv(rois, r * 5 + 3) * d->spatial_scale);
        int64_t y2 = (int64_t)round(rdv(rois, r * 5 + 4) * d->spatial_scale);
        int64_t rh = y2 - y1 + 1 > 1 ? y2 - y1 + 1 : 1, rw = x2 - x1 + 1 > 1 ? x2 - x1 + 1 : 1;
        double bh = (double)rh / (double)d->out_h, bw = (double)rw / (double)d->out_w;
        for (int64_t c = 0; c < C; c++) {
            int64_t plane = (b * C + c) * H * W;
            for (int64_t ph = 0; ph < d->out_h; ph++) {
                int64_t hs = clamp64((int64_t)floor((double)ph * bh) + y1, 0, H);
                int64_t he = clamp64((int64_t)ceil((double)(ph + 1) * bh) + y1, 0, H);
                for (int64_t pw = 0; pw < d->out_w; pw++) {
                    int64_t ws = clamp64((int64_t)floor((double)pw * bw) + x1, 0, W);
                    int64_t we = clamp64((int64_t)ceil((double)(pw + 1) * bw) + x1, 0, W);
                    double best = 0;
                    bool any = false;
                    for (int64_t ih = hs; ih < he; ih++)
                        for (int64_t iw = ws; iw < we; iw++) {
                            double v = rdv(x, plane + ih * W + iw);
                            if (!any || v > best)
                                best = v;
                            any = true;
                        }
                    int64_t at = ((r * C + c) * d->out_h + ph) * d->out_w + pw;
                    if (y->dtype == INFERD_DTYPE_FP64)
                        ((double *)y->data)[at] = best;
                    else
                        ((float *)y->data)[at] = (float)best;
                }
            }
        }
    }
    return INFERD_OK;
}

static inferd_status_t mrp_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t t = ic->in_types[0];
    if (t != INFERD_DTYPE_FP32 && t != INFERD_DTYPE_FP64)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (ic->in_types[1] != t)
        return inferd_onnx_unsupported_dtype(ic, 1, err);
    roi_data_t d;
    memset(&d, 0, sizeof(d));
    const int64_t *shape;
    size_t n;
    bool present;
    if (inferd_onnx_attr_ints(ic->node, "pooled_shape", &shape, &n, &present, err) != INFERD_OK ||
        inferd_onnx_attr_float(ic->node, "spatial_scale", 1.0f, &d.spatial_scale, err) != INFERD_OK)
        return fail(err);
    if (!present || n != 2 || shape[0] <= 0 || shape[1] <= 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "pooled_shape must be two positive ints");
    d.out_h = shape[0];
    d.out_w = shape[1];
    roi_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = mrp_compute;
    ic->out_types[0] = t;
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_roialign[] = {
    {"", "MaxRoiPool", 1, 2, 2, 1, mrp_init, mrp_reshape},
    {"", "RoiAlign", 10, 3, 3, 1, roi_init, roi_reshape},
    {"", "RoiAlign", 16, 3, 3, 1, roi_init, roi_reshape},
};
const size_t inferd_onnx_ops_roialign_count =
    sizeof(inferd_onnx_ops_roialign) / sizeof(inferd_onnx_ops_roialign[0]);
