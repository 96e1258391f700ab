/* NonMaxSuppression (opsets 10 and 11): greedy per-class box selection for detection
 * heads.
 *
 * For each (batch, class), boxes scoring above score_threshold are taken in descending
 * score order (ties by box index), and a box is kept unless its IoU with an already kept
 * box exceeds iou_threshold, up to max_output_boxes_per_class. Boxes are corners
 * [y1, x1, y2, x2] in either diagonal order (center_point_box=0) or [x_c, y_c, w, h]
 * (center_point_box=1). The number of selected boxes depends on the data, so reshape runs
 * the selection to count them and compute runs it again to write them; both passes use a
 * temporary index buffer sized by the number of boxes. */
#include "backends/onnx/ops/ops.h"

#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

typedef struct nms_data {
    bool center_point_box;
} nms_data_t;

static inferd_status_t fail(inferd_err_t *err)
{
    return err ? err->code : INFERD_E_INVALID_ARG;
}

/* A box as min/max corners. */
typedef struct box {
    float y1, x1, y2, x2;
} box_t;

static box_t get_box(const nms_data_t *d, const float *b)
{
    box_t r;
    if (d->center_point_box) {
        r.x1 = b[0] - b[2] / 2;
        r.x2 = b[0] + b[2] / 2;
        r.y1 = b[1] - b[3] / 2;
        r.y2 = b[1] + b[3] / 2;
    } else {
        r.y1 = b[0] < b[2] ? b[0] : b[2];
        r.y2 = b[0] < b[2] ? b[2] : b[0];
        r.x1 = b[1] < b[3] ? b[1] : b[3];
        r.x2 = b[1] < b[3] ? b[3] : b[1];
    }
    return r;
}

static float iou(box_t a, box_t b)
{
    float ix1 = a.x1 > b.x1 ? a.x1 : b.x1, iy1 = a.y1 > b.y1 ? a.y1 : b.y1;
    float ix2 = a.x2 < b.x2 ? a.x2 : b.x2, iy2 = a.y2 < b.y2 ? a.y2 : b.y2;
    float iw = ix2 - ix1, ih = iy2 - iy1;
    if (iw <= 0 || ih <= 0)
        return 0;
    float inter = iw * ih;
    float ua = (a.x2 - a.x1) * (a.y2 - a.y1) + (b.x2 - b.x1) * (b.y2 - b.y1) - inter;
    return ua > 0 ? inter / ua : 0;
}

typedef struct cand {
    float score;
    int64_t index;
} cand_t;

static int cand_cmp(const void *pa, const void *pb)
{
    const cand_t *a = pa, *b = pb;
    if (a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->index < b->index ? -1 : (a->index > b->index);
}

/* Runs the selection; writes triples to y when it is not NULL and returns the count in
 * *count. */
static inferd_status_t nms_run(const nms_data_t *d, inferd_tensor_t *const *in, int64_t *y,
                               int64_t *count, inferd_err_t *err)
{
    const inferd_tensor_t *boxes = in[0], *scores = in[1];
    if (boxes->ndim != 3 || boxes->dims[2] != 4 || scores->ndim != 3 ||
        scores->dims[0] != boxes->dims[0] || scores->dims[2] != boxes->dims[1])
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "want boxes [B, N, 4] and scores [B, C, N]");
    int64_t max_out = 0;
    float iou_th = 0, score_th = 0;
    bool has_score_th = false;
    if (in[2] && inferd_tensor_numel(in[2]) > 0)
        max_out = ((const int64_t *)in[2]->data)[0];
    if (in[3] && inferd_tensor_numel(in[3]) > 0)
        iou_th = ((const float *)in[3]->data)[0];
    if (in[4] && inferd_tensor_numel(in[4]) > 0) {
        score_th = ((const float *)in[4]->data)[0];
        has_score_th = true;
    }
    int64_t nb = boxes->dims[0], nc = scores->dims[1], n = boxes->dims[1];
    *count = 0;
    if (max_out <= 0 || n == 0)
        return INFERD_OK;
    cand_t *cands = inferd_malloc((size_t)n * sizeof(cand_t));
    int64_t *kept = inferd_malloc((size_t)n * sizeof(int64_t));
    if (!cands || !kept) {
        inferd_free(cands);
        inferd_free(kept);
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory");
    }
    const float *bv = boxes->data, *sv = scores->data;
    for (int64_t b = 0; b < nb; b++) {
        for (int64_t c = 0; c < nc; c++) {
            const float *s = sv + (b * nc + c) * n;
            int64_t nc_ = 0;
            for (int64_t i = 0; i < n; i++)
                if (!has_score_th || s[i] > score_th)
                    cands[nc_++] = (cand_t){s[i], i};
            qsort(cands, (size_t)nc_, sizeof(cand_t), cand_cmp);
            int64_t nk = 0;
            for (int64_t i = 0; i < nc_ && nk < max_out; i++) {
                box_t bi = get_box(d, bv + (b * n + cands[i].index) * 4);
                bool keep = true;
                for (int64_t k = 0; k < nk && keep; k++)
                    keep = iou(bi, get_box(d, bv + (b * n + kept[k]) * 4)) <= iou_th;
                if (!keep)
                    continue;
                kept[nk++] = cands[i].index;
                if (y) {
                    y[*count * 3] = b;
                    y[*count * 3 + 1] = c;
                    y[*count * 3 + 2] = cands[i].index;
                }
                (*count)++;
            }
        }
    }
    inferd_free(cands);
    inferd_free(kept);
    return INFERD_OK;
}

static inferd_status_t nms_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    int64_t count;
    if (nms_run(node->op_data, in, NULL, &count, err) != INFERD_OK)
        return fail(err);
    out[0].ndim = 2;
    out[0].dims[0] = count;
    out[0].dims[1] = 3;
    return INFERD_OK;
}

static inferd_status_t nms_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    int64_t count;
    if (nms_run(node->op_data, in, out[0]->data, &count, err) != INFERD_OK)
        return fail(err);
    if (count != out[0]->dims[0])
        return inferd_err_set(err, INFERD_E_INTERNAL, "selection changed between passes");
    return INFERD_OK;
}

static inferd_status_t nms_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (ic->in_types[0] != INFERD_DTYPE_FP32)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    if (ic->in_types[1] != INFERD_DTYPE_FP32)
        return inferd_onnx_unsupported_dtype(ic, 1, err);
    if (ic->node->n_inputs > 2 && ic->in_types[2] != INFERD_DTYPE_INVALID &&
        ic->in_types[2] != INFERD_DTYPE_INT64)
        return inferd_onnx_unsupported_dtype(ic, 2, err);
    for (int i = 3; i < ic->node->n_inputs; i++)
        if (ic->in_types[i] != INFERD_DTYPE_INVALID && ic->in_types[i] != INFERD_DTYPE_FP32)
            return inferd_onnx_unsupported_dtype(ic, i, err);
    nms_data_t d;
    int64_t cpb;
    if (inferd_onnx_attr_int(ic->node, "center_point_box", 0, &cpb, err) != INFERD_OK)
        return fail(err);
    d.center_point_box = cpb != 0;
    nms_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = nms_compute;
    ic->out_types[0] = INFERD_DTYPE_INT64;
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_nms[] = {
    {"", "NonMaxSuppression", 10, 2, 5, 1, nms_init, nms_reshape},
    {"", "NonMaxSuppression", 11, 2, 5, 1, nms_init, nms_reshape},
};
const size_t inferd_onnx_ops_nms_count =
    sizeof(inferd_onnx_ops_nms) / sizeof(inferd_onnx_ops_nms[0]);
