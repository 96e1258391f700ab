/* GridSample (opset 16): samples an [N, C, H, W] input at the normalized (x, y) points of
 * an [N, H_out, W_out, 2] grid, with nearest, bilinear or bicubic interpolation and zeros,
 * border or reflection padding.
 *
 * Grid values run from -1 to 1 across the image: with align_corners they reach the
 * centres of the corner pixels, without it their outer edges. Border and reflection
 * padding move the sample point back inside the image (reflection mirrors it about the
 * edges, then clamps) before interpolating; zeros padding reads 0 for any tap outside.
 * Bicubic interpolation (A = -0.75) applies the padding rule to each of its 16 taps. */
#include "backends/onnx/ops/ops.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

typedef enum { GS_BILINEAR, GS_NEAREST, GS_BICUBIC } gs_mode_t;
typedef enum { GS_ZEROS, GS_BORDER, GS_REFLECTION } gs_pad_t;

typedef struct gs_data {
    gs_mode_t mode;
    gs_pad_t pad;
    bool align_corners;
} gs_data_t;

static inferd_status_t fail(inferd_err_t *err)
{
    return err ? err->code : INFERD_E_INVALID_ARG;
}

static inferd_status_t gs_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_onnx_shape_t *out, inferd_err_t *err)
{
    (void)node;
    const inferd_tensor_t *x = in[0], *g = in[1];
    if (x->ndim != 4 || g->ndim != 4 || g->dims[0] != x->dims[0] || g->dims[3] != 2)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "want X [N,C,H,W] and grid [N,H_out,W_out,2]");
    out[0].ndim = 4;
    out[0].dims[0] = x->dims[0];
    out[0].dims[1] = x->dims[1];
    out[0].dims[2] = g->dims[1];
    out[0].dims[3] = g->dims[2];
    return INFERD_OK;
}

static double unnormalize(const gs_data_t *d, double v, int64_t size)
{
    if (d->align_corners)
        return (v + 1) / 2 * (double)(size - 1);
    return ((v + 1) * (double)size - 1) / 2;
}

/* Mirrors v into [lo2/2, hi2/2] (bounds given doubled, so half-pixel edges stay exact). */
static double reflect(double v, double lo2, double hi2)
{
    if (lo2 == hi2)
        return 0;
    double lo = lo2 / 2, span = (hi2 - lo2) / 2;
    v = fabs(v - lo);
    double extra = fmod(v, span);
    double flips = floor(v / span);
    return fmod(flips, 2) == 0 ? extra + lo : span - extra + lo;
}

static double clampd(double v, double lo, double hi)
{
    return v < lo ? lo : (v > hi ? hi : v);
}

/* Applies border or reflection padding to a (continuous or integer) coordinate. */
static double pad_coord(const gs_data_t *d, double v, int64_t size)
{
    if (d->pad == GS_BORDER)
        return clampd(v, 0, (double)(size - 1));
    if (d->pad == GS_REFLECTION) {
        if (d->align_corners)
            v = reflect(v, 0, 2.0 * (double)(size - 1));
        else
            v = reflect(v, -1, 2.0 * (double)size - 1);
        return clampd(v, 0, (double)(size - 1));
    }
    return v;
}

static double rdx(const inferd_tensor_t *t, int64_t i)
{
    return t->dtype == INFERD_DTYPE_FP64 ? ((const double *)t->data)[i]
                                         : ((const float *)t->data)[i];
}

/* Plane value at integer (iy, ix), 0 outside. */
static double at(const inferd_tensor_t *x, int64_t base, int64_t h, int64_t w, int64_t iy,
                 int64_t ix)
{
    if (iy < 0 || iy >= h || ix < 0 || ix >= w)
        return 0;
    return rdx(x, base + iy * w + ix);
}

static void cubic_coeffs(double t, double *c)
{
    const double a = -0.75;
    double t1 = t + 1, t2 = 1 - t, t3 = 2 - t;
    c[0] = ((a * t1 - 5 * a) * t1 + 8 * a) * t1 - 4 * a;
    c[1] = ((a + 2) * t - (a + 3)) * t * t + 1;
    c[2] = ((a + 2) * t2 - (a + 3)) * t2 * t2 + 1;
    c[3] = ((a * t3 - 5 * a) * t3 + 8 * a) * t3 - 4 * a;
}

static inferd_status_t gs_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                  inferd_tensor_t *const *out, inferd_err_t *err)
{
    (void)err;
    const gs_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0], *g = in[1];
    inferd_tensor_t *y = out[0];
    int64_t N = x->dims[0], C = x->dims[1], H = x->dims[2], W = x->dims[3];
    int64_t OH = g->dims[1], OW = g->dims[2];
    for (int64_t n = 0; n < N; n++)
        for (int64_t oh = 0; oh < OH; oh++)
            for (int64_t ow = 0; ow < OW; ow++) {
                int64_t gi = ((n * OH + oh) * OW + ow) * 2;
                double ix = unnormalize(d, rdx(g, gi), W);
                double iy = unnormalize(d, rdx(g, gi + 1), H);
                if (d->mode != GS_BICUBIC) {
                    ix = pad_coord(d, ix, W);
                    iy = pad_coord(d, iy, H);
                }
                /* NaN or far-away points read as outside (and never reach an integer
                 * conversion that could not represent them). */
                if (!(fabs(ix) < 0x1p40) || !(fabs(iy) < 0x1p40)) {
                    ix = -8;
                    iy = -8;
                }
                for (int64_t c = 0; c < C; c++) {
                    int64_t base = (n * C + c) * H * W;
                    double v = 0;
                    if (d->mode == GS_NEAREST) {
                        v = at(x, base, H, W, (int64_t)nearbyint(iy), (int64_t)nearbyint(ix));
                    } else if (d->mode == GS_BILINEAR) {
                        double fx = floor(ix), fy = floor(iy), tx = ix - fx, ty = iy - fy;
                        int64_t x0 = (int64_t)fx, y0 = (int64_t)fy;
                        v = at(x, base, H, W, y0, x0) * (1 - tx) * (1 - ty) +
                            at(x, base, H, W, y0, x0 + 1) * tx * (1 - ty) +
                            at(x, base, H, W, y0 + 1, x0) * (1 - tx) * ty +
                            at(x, base, H, W, y0 + 1, x0 + 1) * tx * ty;
                    } else {
                        double fx = floor(ix), fy = floor(iy), cx[4], cy[4];
                        cubic_coeffs(ix - fx, cx);
                        cubic_coeffs(iy - fy, cy);
                        for (int j = 0; j < 4; j++) {
                            double row = 0;
                            for (int i = 0; i < 4; i++) {
                                double px = pad_coord(d, fx - 1 + i, W);
                                double py = pad_coord(d, fy - 1 + j, H);
                                row += cx[i] * at(x, base, H, W, (int64_t)py, (int64_t)px);
                            }
                            v += cy[j] * row;
                        }
                    }
                    int64_t o = ((n * C + c) * OH + oh) * OW + ow;
                    if (y->dtype == INFERD_DTYPE_FP64)
                        ((double *)y->data)[o] = v;
                    else
                        ((float *)y->data)[o] = (float)v;
                }
            }
    return INFERD_OK;
}

static inferd_status_t gs_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t t = ic->in_types[0];
    if (t != INFERD_DTYPE_FP32 && t != INFERD_DTYPE_FP64)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (ic->in_types[1] != INFERD_DTYPE_FP32 && ic->in_types[1] != INFERD_DTYPE_FP64)
        return inferd_onnx_unsupported_dtype(ic, 1, err);
    gs_data_t d;
    memset(&d, 0, sizeof(d));
    int64_t ac;
    if (inferd_onnx_attr_int(ic->node, "align_corners", 0, &ac, err) != INFERD_OK)
        return fail(err);
    d.align_corners = ac != 0;
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(ic->node, "mode");
    if (a && a->type == INFERD_ONNX_ATTR_STRING) {
        if (strcmp(a->s, "bilinear") == 0 || strcmp(a->s, "linear") == 0)
            d.mode = GS_BILINEAR;
        else if (strcmp(a->s, "nearest") == 0)
            d.mode = GS_NEAREST;
        else if (strcmp(a->s, "bicubic") == 0 || strcmp(a->s, "cubic") == 0)
            d.mode = GS_BICUBIC;
        else
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown mode '%s'", a->s);
    }
    a = inferd_onnx_attr_find(ic->node, "padding_mode");
    if (a && a->type == INFERD_ONNX_ATTR_STRING) {
        if (strcmp(a->s, "zeros") == 0)
            d.pad = GS_ZEROS;
        else if (strcmp(a->s, "border") == 0)
            d.pad = GS_BORDER;
        else if (strcmp(a->s, "reflection") == 0)
            d.pad = GS_REFLECTION;
        else
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown padding_mode '%s'", a->s);
    }
    gs_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = gs_compute;
    ic->out_types[0] = t;
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_gridsample[] = {
    {"", "GridSample", 16, 2, 2, 1, gs_init, gs_reshape},
    /* 20 renames the modes to linear/cubic (both spellings are accepted) and allows N-D
     * input, which fails here with the 4-D shape check. */
    {"", "GridSample", 20, 2, 2, 1, gs_init, gs_reshape},
};
const size_t inferd_onnx_ops_gridsample_count =
    sizeof(inferd_onnx_ops_gridsample) / sizeof(inferd_onnx_ops_gridsample[0]);
