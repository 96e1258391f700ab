/* Window geometry for the convolution and pooling families; see spatial.h. */
#include "backends/onnx/ops/spatial.h"

#include <string.h>

static inferd_status_t read_ints(const inferd_onnx_node_t *node, const char *name, int max,
                                 int64_t *dst, int *n, inferd_err_t *err)
{
    const int64_t *v;
    size_t cnt;
    bool present;
    *n = 0;
    if (inferd_onnx_attr_ints(node, name, &v, &cnt, &present, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    if (!present)
        return INFERD_OK;
    if (cnt > (size_t)max)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "attribute '%s' has %zu values, at most %d", name, cnt, max);
    if (cnt)
        memcpy(dst, v, cnt * sizeof(int64_t));
    *n = (int)cnt;
    return INFERD_OK;
}

inferd_status_t inferd_onnx_spatial_parse(const inferd_onnx_node_t *node, inferd_onnx_spatial_t *sp,
                                          inferd_err_t *err)
{
    memset(sp, 0, sizeof(*sp));
    const int m = INFERD_ONNX_MAX_SPATIAL;
    if (read_ints(node, "kernel_shape", m, sp->kernel, &sp->n_kernel, err) != INFERD_OK ||
        read_ints(node, "strides", m, sp->strides, &sp->n_strides, err) != INFERD_OK ||
        read_ints(node, "dilations", m, sp->dilations, &sp->n_dilations, err) != INFERD_OK ||
        read_ints(node, "pads", 2 * m, sp->pads, &sp->n_pads, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    /* The caps are far beyond any real model and keep every size product below in
     * int64_t, so a hostile attribute is a load error rather than an overflow. */
    for (int i = 0; i < sp->n_kernel; i++)
        if (sp->kernel[i] <= 0 || sp->kernel[i] > INFERD_ONNX_MAX_WINDOW)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "kernel_shape must be in [1, %lld]",
                                  (long long)INFERD_ONNX_MAX_WINDOW);
    for (int i = 0; i < sp->n_strides; i++)
        if (sp->strides[i] <= 0 || sp->strides[i] > INFERD_ONNX_MAX_WINDOW)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "strides must be in [1, %lld]",
                                  (long long)INFERD_ONNX_MAX_WINDOW);
    for (int i = 0; i < sp->n_dilations; i++)
        if (sp->dilations[i] <= 0 || sp->dilations[i] > INFERD_ONNX_MAX_WINDOW)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "dilations must be in [1, %lld]",
                                  (long long)INFERD_ONNX_MAX_WINDOW);
    for (int i = 0; i < sp->n_pads; i++)
        if (sp->pads[i] < 0 || sp->pads[i] > INFERD_ONNX_MAX_WINDOW)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "pads must be in [0, %lld]",
                                  (long long)INFERD_ONNX_MAX_WINDOW);
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(node, "auto_pad");
    if (a) {
        if (a->type != INFERD_ONNX_ATTR_STRING)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "attribute 'auto_pad' is not a string");
        if (strcmp(a->s, "NOTSET") == 0 || a->s[0] == '\0')
            sp->auto_pad = INFERD_ONNX_AUTO_PAD_NOTSET;
        else if (strcmp(a->s, "SAME_UPPER") == 0)
            sp->auto_pad = INFERD_ONNX_AUTO_PAD_SAME_UPPER;
        else if (strcmp(a->s, "SAME_LOWER") == 0)
            sp->auto_pad = INFERD_ONNX_AUTO_PAD_SAME_LOWER;
        else if (strcmp(a->s, "VALID") == 0)
            sp->auto_pad = INFERD_ONNX_AUTO_PAD_VALID;
        else
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown auto_pad '%s'", a->s);
    }
    int64_t ceil_mode;
    if (inferd_onnx_attr_int(node, "ceil_mode", 0, &ceil_mode, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    sp->ceil_mode = ceil_mode != 0;
    return INFERD_OK;
}

static inferd_status_t check_len(const char *name, int n, int want, inferd_err_t *err)
{
    if (n != 0 && n != want)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "'%s' has %d values for %d spatial dims",
                              name, n, want);
    return INFERD_OK;
}

inferd_status_t inferd_onnx_window_make(const inferd_onnx_spatial_t *sp, int nsp,
                                        const int64_t *in_sp, const int64_t *kernel,
                                        inferd_onnx_window_t *w, inferd_err_t *err)
{
    if (nsp < 1 || nsp > INFERD_ONNX_MAX_SPATIAL)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%d spatial dims (1 to %d supported)", nsp,
                              INFERD_ONNX_MAX_SPATIAL);
    if (!kernel && sp->n_kernel != nsp)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "kernel_shape has %d values for %d spatial dims", sp->n_kernel, nsp);
    if (check_len("strides", sp->n_strides, nsp, err) != INFERD_OK ||
        check_len("dilations", sp->n_dilations, nsp, err) != INFERD_OK ||
        check_len("pads", sp->n_pads, 2 * nsp, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    w->nsp = nsp;
    for (int i = 0; i < nsp; i++) {
        w->in[i] = in_sp[i];
        w->k[i] = kernel ? kernel[i] : sp->kernel[i];
        if (w->k[i] > INFERD_ONNX_MAX_WINDOW)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "kernel of %lld is too large",
                                  (long long)w->k[i]);
        w->s[i] = sp->n_strides ? sp->strides[i] : 1;
        w->d[i] = sp->n_dilations ? sp->dilations[i] : 1;
        int64_t ext = (w->k[i] - 1) * w->d[i] + 1; /* dilated kernel extent */
        switch (sp->auto_pad) {
        case INFERD_ONNX_AUTO_PAD_SAME_UPPER:
        case INFERD_ONNX_AUTO_PAD_SAME_LOWER: {
            w->out[i] = (w->in[i] + w->s[i] - 1) / w->s[i];
            int64_t total = (w->out[i] - 1) * w->s[i] + ext - w->in[i];
            if (total < 0)
                total = 0;
            /* The odd pixel goes to the end for SAME_UPPER, to the start for SAME_LOWER. */
            if (sp->auto_pad == INFERD_ONNX_AUTO_PAD_SAME_UPPER) {
                w->pb[i] = total / 2;
                w->pe[i] = total - w->pb[i];
            } else {
                w->pe[i] = total / 2;
                w->pb[i] = total - w->pe[i];
            }
            break;
        }
        case INFERD_ONNX_AUTO_PAD_VALID:
            w->pb[i] = w->pe[i] = 0;
            w->out[i] = w->in[i] >= ext ? (w->in[i] - ext) / w->s[i] + 1 : 0;
            break;
        case INFERD_ONNX_AUTO_PAD_NOTSET: {
            w->pb[i] = sp->n_pads ? sp->pads[i] : 0;
            w->pe[i] = sp->n_pads ? sp->pads[i + nsp] : 0;
            int64_t span = w->in[i] + w->pb[i] + w->pe[i] - ext;
            if (span < 0) {
                w->out[i] = 0;
                break;
            }
            if (sp->ceil_mode) {
                w->out[i] = (span + w->s[i] - 1) / w->s[i] + 1;
                /* As in the reference: no window may start inside the end padding. */
                if ((w->out[i] - 1) * w->s[i] >= w->in[i] + w->pb[i])
                    w->out[i]--;
            } else {
                w->out[i] = span / w->s[i] + 1;
            }
            break;
        }
        }
        if (w->out[i] <= 0 && w->in[i] > 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "spatial dim %d of size %lld is smaller than the kernel (%lld)",
                                  i, (long long)w->in[i], (long long)ext);
    }
    return INFERD_OK;
}
