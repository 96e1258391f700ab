/* Signal processing (opset 17): HannWindow, HammingWindow, BlackmanWindow, DFT, STFT and
 * MelWeightMatrix.
 *
 * Complex tensors are real tensors with a trailing dim of 2 (real, imaginary); a trailing
 * dim of 1 is a real signal. Transforms are direct O(n^2) sums in double: exact enough
 * for every dtype here and free of size restrictions (no power-of-two FFT), at a cost
 * that only matters for long signals, which inference graphs rarely carry. */
#include "backends/onnx/ops/ops.h"

#include <math.h>
#include <string.h>

#include "core/alloc.h"

typedef struct signal_data {
    int kind;           /* window: 0 Hann, 1 Hamming, 2 Blackman */
    bool periodic;      /* windows */
    inferd_dtype_t out; /* windows, MelWeightMatrix: output_datatype */
    int64_t axis;       /* DFT */
    bool inverse;       /* DFT */
    bool onesided;      /* DFT, STFT */
} signal_data_t;

static inferd_status_t read_count(const inferd_tensor_t *t, const char *what, int64_t *out,
                                  inferd_err_t *err)
{
    if (!t || inferd_tensor_numel(t) != 1 || !inferd_onnx_dtype_is_int(t->dtype))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s must be one integer", what);
    *out = (int64_t)inferd_onnx_load_f64(t->data, t->dtype, 0);
    if (t->dtype == INFERD_DTYPE_INT64)
        *out = *(const int64_t *)t->data;
    if (*out < 0 || *out > (1 << 26))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s %lld is out of range", what,
                              (long long)*out);
    return INFERD_OK;
}

static inferd_status_t output_type(inferd_onnx_init_t *ic, signal_data_t *d, inferd_err_t *err)
{
    int64_t odt;
    if (inferd_onnx_attr_int(ic->node, "output_datatype", 1, &odt, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    d->out = inferd_onnx_dtype_from_enum(odt);
    if (d->out == INFERD_DTYPE_INVALID || d->out == INFERD_DTYPE_BYTES)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "output_datatype %lld", (long long)odt);
    return INFERD_OK;
}

static inferd_status_t bind(inferd_onnx_init_t *ic, const signal_data_t *d,
                            inferd_onnx_compute_fn fn)
{
    signal_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = *d;
    ic->node->op_data = p;
    ic->node->compute = fn;
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Windows                                                                              */

static inferd_status_t window_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int64_t n;
    if (read_count(in[0], "size", &n, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0].ndim = 1;
    out[0].dims[0] = n;
    return INFERD_OK;
}

static inferd_status_t window_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const signal_data_t *d = node->op_data;
    int64_t size = out[0]->dims[0];
    double n = d->periodic ? (double)size : (double)(size - 1);
    for (int64_t i = 0; i < size; i++) {
        double x = n > 0 ? 2 * M_PI * (double)i / n : 0, w;
        switch (d->kind) {
        case 0: w = 0.5 - 0.5 * cos(x); break;
        case 1: w = 25.0 / 46.0 - (1 - 25.0 / 46.0) * cos(x); break;
        default: w = 0.42 - 0.5 * cos(x) + 0.08 * cos(2 * x); break;
        }
        inferd_onnx_store_f64(out[0]->data, out[0]->dtype, (uint64_t)i, w);
    }
    return INFERD_OK;
}

static inferd_status_t window_init(inferd_onnx_init_t *ic, int kind, inferd_err_t *err)
{
    signal_data_t d = {.kind = kind};
    int64_t periodic;
    if (output_type(ic, &d, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "periodic", 1, &periodic, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    d.periodic = periodic != 0;
    ic->out_types[0] = d.out;
    return bind(ic, &d, window_compute);
}

static inferd_status_t hann_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return window_init(ic, 0, err);
}

static inferd_status_t hamming_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return window_init(ic, 1, err);
}

static inferd_status_t blackman_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return window_init(ic, 2, err);
}

/* ------------------------------------------------------------------------------------ */
/* DFT                                                                                  */

/* out[k] = sum_j in[j] * e^(-+2 pi i j k / n) over n points (in: m real or complex
 * points at stride, zero beyond m), for k < bins. */
static void dft_1d(const inferd_tensor_t *x, uint64_t base, int64_t stride, int64_t m,
                   bool complex_in, int64_t n, bool inverse, int64_t bins, double *re, double *im)
{
    double sign = inverse ? 1.0 : -1.0;
    for (int64_t k = 0; k < bins; k++) {
        double sr = 0, si = 0;
        for (int64_t j = 0; j < m && j < n; j++) {
            uint64_t at = base + (uint64_t)(j * stride);
            double a = inferd_onnx_load_f64(x->data, x->dtype, complex_in ? 2 * at : at);
            double b = complex_in ? inferd_onnx_load_f64(x->data, x->dtype, 2 * at + 1) : 0;
            double ang = sign * 2 * M_PI * (double)((j * k) % n) / (double)n;
            double c = cos(ang), s = sin(ang);
            sr += a * c - b * s;
            si += a * s + b * c;
        }
        if (inverse) {
            sr /= (double)n;
            si /= (double)n;
        }
        re[k] = sr;
        im[k] = si;
    }
}

static inferd_status_t dft_plan(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                int *axis, int64_t *n, int64_t *bins, inferd_err_t *err)
{
    const signal_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    if (x->ndim < 2 || (x->dims[x->ndim - 1] != 1 && x->dims[x->ndim - 1] != 2))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "DFT input needs a last dim of 1 or 2");
    if (inferd_onnx_axis(d->axis, x->ndim - 1, axis, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    *n = x->dims[*axis];
    if (node->n_inputs > 1 && in[1] && read_count(in[1], "dft_length", n, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (*n < 1)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "dft_length must be positive");
    *bins = d->onesided ? *n / 2 + 1 : *n;
    return INFERD_OK;
}

static inferd_status_t dft_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int axis;
    int64_t n, bins;
    if (dft_plan(node, in, &axis, &n, &bins, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    inferd_onnx_shape_of(in[0], &out[0]);
    out[0].dims[axis] = bins;
    out[0].dims[out[0].ndim - 1] = 2;
    return INFERD_OK;
}

static inferd_status_t dft_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    const signal_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    int axis;
    int64_t n, bins;
    if (dft_plan(node, in, &axis, &n, &bins, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    bool cplx = x->dims[x->ndim - 1] == 2;
    int r = x->ndim - 1; /* signal rank, without the complex dim */
    int64_t m = x->dims[axis];
    int64_t outer = inferd_onnx_dims_prod(x->dims, 0, axis);
    int64_t inner = inferd_onnx_dims_prod(x->dims, axis + 1, r);
    double *re = inferd_malloc((size_t)(2 * bins + 2) * sizeof(double));
    if (!re)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "DFT scratch");
    double *im = re + bins + 1;
    for (int64_t o = 0; o < outer; o++)
        for (int64_t k = 0; k < inner; k++) {
            dft_1d(x, (uint64_t)(o * m * inner + k), inner, m, cplx, n, d->inverse, bins, re, im);
            for (int64_t b = 0; b < bins; b++) {
                uint64_t at = (uint64_t)((o * bins + b) * inner + k);
                inferd_onnx_store_f64(out[0]->data, out[0]->dtype, 2 * at, re[b]);
                inferd_onnx_store_f64(out[0]->data, out[0]->dtype, 2 * at + 1, im[b]);
            }
        }
    inferd_free(re);
    return INFERD_OK;
}

static inferd_status_t dft_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    if (dt != INFERD_DTYPE_FP32 && dt != INFERD_DTYPE_FP64 && dt != INFERD_DTYPE_FP16)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    signal_data_t d = {0};
    int64_t inverse, onesided;
    if (inferd_onnx_attr_int(ic->node, "axis", 1, &d.axis, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "inverse", 0, &inverse, err) != INFERD_OK ||
        inferd_onnx_attr_int(ic->node, "onesided", 0, &onesided, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    d.inverse = inverse != 0;
    d.onesided = onesided != 0;
    ic->out_types[0] = dt;
    return bind(ic, &d, dft_compute);
}

/* ------------------------------------------------------------------------------------ */
/* STFT                                                                                 */

static inferd_status_t stft_plan(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                 int64_t *step, int64_t *flen, int64_t *frames, int64_t *bins,
                                 inferd_err_t *err)
{
    const signal_data_t *d = node->op_data;
    const inferd_tensor_t *x = in[0];
    if (x->ndim != 3 || (x->dims[2] != 1 && x->dims[2] != 2))
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "STFT signal must be [batch, length, 1|2]");
    if (read_count(in[1], "frame_step", step, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    const inferd_tensor_t *w = node->n_inputs > 2 ? in[2] : NULL;
    const inferd_tensor_t *fl = node->n_inputs > 3 ? in[3] : NULL;
    if (fl) {
        if (read_count(fl, "frame_length", flen, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
    } else if (w) {
        *flen = w->ndim == 1 ? w->dims[0] : 0;
    } else {
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "STFT needs a window or frame_length");
    }
    if (w && (w->ndim != 1 || w->dims[0] != *flen))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "window length differs from frame_length");
    if (*step < 1 || *flen < 1 || *flen > x->dims[1])
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "bad frame_step or frame_length");
    *frames = (x->dims[1] - *flen) / *step + 1;
    *bins = d->onesided ? *flen / 2 + 1 : *flen;
    return INFERD_OK;
}

static inferd_status_t stft_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int64_t step, flen, frames, bins;
    if (stft_plan(node, in, &step, &flen, &frames, &bins, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0].ndim = 4;
    out[0].dims[0] = in[0]->dims[0];
    out[0].dims[1] = frames;
    out[0].dims[2] = bins;
    out[0].dims[3] = 2;
    return INFERD_OK;
}

static inferd_status_t stft_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                    inferd_tensor_t *const *out, inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0];
    const inferd_tensor_t *w = node->n_inputs > 2 ? in[2] : NULL;
    int64_t step, flen, frames, bins;
    if (stft_plan(node, in, &step, &flen, &frames, &bins, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    bool cplx = x->dims[2] == 2;
    int64_t len = x->dims[1];
    for (int64_t b = 0; b < x->dims[0]; b++)
        for (int64_t f = 0; f < frames; f++)
            for (int64_t k = 0; k < bins; k++) {
                double sr = 0, si = 0;
                for (int64_t j = 0; j < flen; j++) {
                    uint64_t at = (uint64_t)(b * len + f * step + j);
                    double a = inferd_onnx_load_f64(x->data, x->dtype, cplx ? 2 * at : at);
                    double c = cplx ? inferd_onnx_load_f64(x->data, x->dtype, 2 * at + 1) : 0;
                    double wv = w ? inferd_onnx_load_f64(w->data, w->dtype, (uint64_t)j) : 1.0;
                    double ang = -2 * M_PI * (double)((j * k) % flen) / (double)flen;
                    sr += wv * (a * cos(ang) - c * sin(ang));
                    si += wv * (a * sin(ang) + c * cos(ang));
                }
                uint64_t o = (uint64_t)(((b * frames + f) * bins + k) * 2);
                inferd_onnx_store_f64(out[0]->data, out[0]->dtype, o, sr);
                inferd_onnx_store_f64(out[0]->data, out[0]->dtype, o + 1, si);
            }
    return INFERD_OK;
}

static inferd_status_t stft_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    inferd_dtype_t dt = ic->in_types[0];
    if (dt != INFERD_DTYPE_FP32 && dt != INFERD_DTYPE_FP64 && dt != INFERD_DTYPE_FP16)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    signal_data_t d = {0};
    int64_t onesided;
    if (inferd_onnx_attr_int(ic->node, "onesided", 1, &onesided, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    d.onesided = onesided != 0;
    ic->out_types[0] = dt;
    return bind(ic, &d, stft_compute);
}

/* ------------------------------------------------------------------------------------ */
/* MelWeightMatrix                                                                      */

static inferd_status_t mel_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int64_t bins, dft;
    if (read_count(in[0], "num_mel_bins", &bins, err) != INFERD_OK ||
        read_count(in[1], "dft_length", &dft, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    out[0].ndim = 2;
    out[0].dims[0] = dft / 2 + 1;
    out[0].dims[1] = bins;
    return INFERD_OK;
}

/* Triangular filters between mel-spaced points (2595 * log10(1 + f / 700)) mapped to
 * spectrogram bins, following the ONNX reference: num_mel_bins + 2 points starting at the
 * lower edge, spaced (upper - lower) / (num_mel_bins + 2) mel apart (so the last point
 * stops short of the upper edge, as the reference and its test data have it); filter i
 * rises from point i to i+1 and falls to i+2. */
static inferd_status_t mel_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    int64_t n_mel = out[0]->dims[1], n_spec = out[0]->dims[0], dft;
    if (read_count(in[1], "dft_length", &dft, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    double rate = inferd_onnx_load_f64(in[2]->data, in[2]->dtype, 0);
    double lo = inferd_onnx_load_f64(in[3]->data, in[3]->dtype, 0);
    double hi = inferd_onnx_load_f64(in[4]->data, in[4]->dtype, 0);
    if (rate <= 0)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "sample_rate must be positive");
    double lo_mel = 2595 * log10(1 + lo / 700), hi_mel = 2595 * log10(1 + hi / 700);
    double step = (hi_mel - lo_mel) / (double)(n_mel + 2);
    int64_t *pt = inferd_malloc((size_t)(n_mel + 2) * sizeof(int64_t));
    if (!pt)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "MelWeightMatrix scratch");
    for (int64_t i = 0; i < n_mel + 2; i++) {
        double hz = 700 * (pow(10, (lo_mel + (double)i * step) / 2595) - 1);
        pt[i] = (int64_t)floor((double)(dft + 1) * hz / rate);
    }
    memset(out[0]->data, 0, out[0]->nbytes);
    for (int64_t i = 0; i < n_mel; i++) {
        int64_t l = pt[i], c = pt[i + 1], h = pt[i + 2];
        if (c == l) {
            if (c >= 0 && c < n_spec)
                inferd_onnx_store_f64(out[0]->data, out[0]->dtype, (uint64_t)(c * n_mel + i), 1);
        } else {
            for (int64_t j = l; j <= c; j++)
                if (j >= 0 && j < n_spec)
                    inferd_onnx_store_f64(out[0]->data, out[0]->dtype, (uint64_t)(j * n_mel + i),
                                          (double)(j - l) / (double)(c - l));
        }
        for (int64_t j = c; j < h; j++)
            if (j >= 0 && j < n_spec)
                inferd_onnx_store_f64(out[0]->data, out[0]->dtype, (uint64_t)(j * n_mel + i),
                                      (double)(h - j) / (double)(h - c));
    }
    inferd_free(pt);
    return INFERD_OK;
}

static inferd_status_t mel_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    signal_data_t d = {0};
    if (output_type(ic, &d, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    ic->out_types[0] = d.out;
    return bind(ic, &d, mel_compute);
}

const inferd_onnx_op_t inferd_onnx_ops_signal[] = {
    {"", "HannWindow", 17, 1, 1, 1, hann_init, window_reshape},
    {"", "HammingWindow", 17, 1, 1, 1, hamming_init, window_reshape},
    {"", "BlackmanWindow", 17, 1, 1, 1, blackman_init, window_reshape},
    {"", "DFT", 17, 1, 2, 1, dft_init, dft_reshape},
    {"", "STFT", 17, 2, 4, 1, stft_init, stft_reshape},
    {"", "MelWeightMatrix", 17, 5, 5, 1, mel_init, mel_reshape},
};
const size_t inferd_onnx_ops_signal_count =
    sizeof(inferd_onnx_ops_signal) / sizeof(inferd_onnx_ops_signal[0]);
