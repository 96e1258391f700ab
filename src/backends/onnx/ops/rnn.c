/* Recurrent layers: RNN, GRU and LSTM (opsets 7 and 14), FP32.
 *
 * All three share one driver. The input projection X * W^T + Wb for every time step is a
 * single sgemm up front; each step then adds H(t-1) * R^T (one sgemm over the batch) and
 * applies the cell. Directions run one after the other (bidirectional = forward, then
 * reverse, writing their own slice of Y). sequence_lens shortens a batch entry: its steps
 * past the length write zeros to Y and leave its state alone, and the reverse direction
 * starts from its last valid step. layout=1 (opset 14) swaps the batch and sequence axes
 * of X, Y, the states and their initial values; the driver reads and writes through index
 * helpers rather than transposing.
 *
 * Gate order in W, R and B follows the spec: RNN one gate, GRU z r h, LSTM i o f c;
 * LSTM peepholes P are i o f. */
#include "backends/onnx/ops/ops.h"

#include <limits.h>
#include <math.h>
#include <string.h>
#include <strings.h>

#include "backends/onnx/kernels/sgemm.h"
#include "core/alloc.h"

typedef enum { CELL_RNN, CELL_GRU, CELL_LSTM } cell_kind_t;

typedef enum {
    ACT_SIGMOID,
    ACT_TANH,
    ACT_RELU,
    ACT_AFFINE,
    ACT_LEAKY_RELU,
    ACT_THRESHOLDED_RELU,
    ACT_SCALED_TANH,
    ACT_HARD_SIGMOID,
    ACT_ELU,
    ACT_SOFTSIGN,
    ACT_SOFTPLUS,
} act_kind_t;

typedef struct act {
    act_kind_t kind;
    float alpha, beta;
} act_t;

#define RNN_MAX_ACTS 6

typedef struct rnn_data {
    cell_kind_t cell;
    int64_t hidden;
    int num_dir;
    bool reverse_only;
    int64_t layout;
    bool linear_before_reset, input_forget;
    bool has_clip;
    float clip;
    act_t acts[RNN_MAX_ACTS]; /* per direction: RNN f; GRU f g; LSTM f g h */
} rnn_data_t;

static inferd_status_t fail(inferd_err_t *err)
{
    return err ? err->code : INFERD_E_INVALID_ARG;
}

static int gates_of(cell_kind_t c)
{
    return c == CELL_RNN ? 1 : (c == CELL_GRU ? 3 : 4);
}

static int acts_of(cell_kind_t c)
{
    return c == CELL_RNN ? 1 : (c == CELL_GRU ? 2 : 3);
}

static float act_apply(const act_t *a, float x)
{
    switch (a->kind) {
    case ACT_SIGMOID: return 1.0f / (1.0f + expf(-x));
    case ACT_TANH: return tanhf(x);
    case ACT_RELU: return x > 0 ? x : 0;
    case ACT_AFFINE: return a->alpha * x + a->beta;
    case ACT_LEAKY_RELU: return x >= 0 ? x : a->alpha * x;
    case ACT_THRESHOLDED_RELU: return x > a->alpha ? x : 0;
    case ACT_SCALED_TANH: return a->alpha * tanhf(a->beta * x);
    case ACT_HARD_SIGMOID: {
        float v = a->alpha * x + a->beta;
        return v < 0 ? 0 : (v > 1 ? 1 : v);
    }
    case ACT_ELU: return x >= 0 ? x : a->alpha * (expf(x) - 1);
    case ACT_SOFTSIGN: return x / (1 + fabsf(x));
    case ACT_SOFTPLUS: return log1pf(expf(x));
    }
    return x;
}

/* ------------------------------------------------------------------------------------ */
/* Shapes                                                                               */

typedef struct rnn_dims {
    int64_t seq, batch, input, hidden;
} rnn_dims_t;

static inferd_status_t rnn_dims(const rnn_data_t *d, inferd_tensor_t *const *in, rnn_dims_t *rd,
                                inferd_err_t *err)
{
    const inferd_tensor_t *x = in[0], *w = in[1], *r = in[2];
    int g = gates_of(d->cell);
    if (x->ndim != 3 || w->ndim != 3 || r->ndim != 3)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "X, W and R must be 3-D");
    rd->seq = d->layout ? x->dims[1] : x->dims[0];
    rd->batch = d->layout ? x->dims[0] : x->dims[1];
    rd->input = x->dims[2];
    rd->hidden = d->hidden > 0 ? d->hidden : r->dims[2];
    int64_t h = rd->hidden;
    if (w->dims[0] != d->num_dir || w->dims[1] != g * h || w->dims[2] != rd->input ||
        r->dims[0] != d->num_dir || r->dims[1] != g * h || r->dims[2] != h)
        return inferd_err_set(err, INFERD_E_INVALID_ARG,
                              "W or R does not match %d direction(s), hidden_size %lld", d->num_dir,
                              (long long)h);
    if (in[3] && inferd_tensor_numel(in[3]) != (uint64_t)(d->num_dir * 2 * g * h))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "B must be [%d, %lld]", d->num_dir,
                              (long long)(2 * g * h));
    if (in[4] && inferd_tensor_numel(in[4]) != (uint64_t)rd->batch)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "sequence_lens must have batch values");
    for (int64_t i = 0; in[4] && i < rd->batch; i++) {
        int32_t len = ((const int32_t *)in[4]->data)[i];
        if (len < 0 || len > rd->seq)
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "sequence_lens[%lld] = %d is outside [0, %lld]", (long long)i,
                                  (int)len, (long long)rd->seq);
    }
    uint64_t state = (uint64_t)(d->num_dir * rd->batch * h);
    if (in[5] && inferd_tensor_numel(in[5]) != state)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "initial_h has the wrong size");
    if (d->cell == CELL_LSTM) {
        if (in[6] && inferd_tensor_numel(in[6]) != state)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "initial_c has the wrong size");
        if (in[7] && inferd_tensor_numel(in[7]) != (uint64_t)(d->num_dir * 3 * h))
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "P has the wrong size");
    }
    if (rd->seq * rd->batch > INT_MAX || g * h > INT_MAX || rd->input > INT_MAX)
        return inferd_err_set(err, INFERD_E_TOO_LARGE, "recurrent layer too large");
    return INFERD_OK;
}

static inferd_status_t rnn_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const rnn_data_t *d = node->op_data;
    rnn_dims_t rd;
    if (rnn_dims(d, in, &rd, err) != INFERD_OK)
        return fail(err);
    out[0].ndim = 4;
    if (d->layout) {
        int64_t dims[4] = {rd.batch, rd.seq, d->num_dir, rd.hidden};
        memcpy(out[0].dims, dims, sizeof(dims));
    } else {
        int64_t dims[4] = {rd.seq, d->num_dir, rd.batch, rd.hidden};
        memcpy(out[0].dims, dims, sizeof(dims));
    }
    for (int j = 1; j < node->n_outputs; j++) {
        out[j].ndim = 3;
        if (d->layout) {
            int64_t dims[3] = {rd.batch, d->num_dir, rd.hidden};
            memcpy(out[j].dims, dims, sizeof(dims));
        } else {
            int64_t dims[3] = {d->num_dir, rd.batch, rd.hidden};
            memcpy(out[j].dims, dims, sizeof(dims));
        }
    }
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Driver                                                                               */

/* Offset of state [dir, b, :] in initial_h / Y_h for the node's layout. */
static int64_t state_off(const rnn_data_t *d, int64_t dir, int64_t b, int64_t batch, int64_t h)
{
    return d->layout ? (b * d->num_dir + dir) * h : (dir * batch + b) * h;
}

/* Offset of Y [t, dir, b, :]. */
static int64_t y_off(const rnn_data_t *d, int64_t t, int64_t dir, int64_t b, const rnn_dims_t *rd)
{
    if (d->layout)
        return ((b * rd->seq + t) * d->num_dir + dir) * rd->hidden;
    return ((t * d->num_dir + dir) * rd->batch + b) * rd->hidden;
}

/* Y[m, n] = A[m, k] * B[n, k]^T with the row-stable kernel, so that a batch entry's result
 * does not depend on the other entries (the dynamic batcher's promise). */
static void mm_nt(int64_t m, int64_t n, int64_t k, const float *a, const float *b, float *y)
{
    if (m == 0 || n == 0)
        return;
    inferd_sgemm(false, true, m, n, k, 1.0f, a, k, b, k, 0.0f, y);
}

static float clipv(const rnn_data_t *d, float v)
{
    if (!d->has_clip)
        return v;
    return v < -d->clip ? -d->clip : (v > d->clip ? d->clip : v);
}

static inferd_status_t rnn_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                   inferd_tensor_t *const *out, inferd_err_t *err)
{
    const rnn_data_t *d = node->op_data;
    rnn_dims_t rd;
    if (rnn_dims(d, in, &rd, err) != INFERD_OK)
        return fail(err);
    int64_t T = rd.seq, N = rd.batch, IN = rd.input, H = rd.hidden;
    int g = gates_of(d->cell);
    int64_t GH = g * H;
    inferd_tensor_t *y = out[0];
    inferd_tensor_t *yh = node->n_outputs > 1 ? out[1] : NULL;
    inferd_tensor_t *yc = node->n_outputs > 2 ? out[2] : NULL;
    if (y)
        memset(y->data, 0, y->nbytes);
    /* Scratch: X in [T, N, I] order (layout 1 only), input projections [T*N, GH], state h
     * and c, recurrent projection [N, GH], and r*h for GRU. */
    size_t nx = d->layout ? (size_t)(T * N * IN) : 0;
    size_t total = nx + (size_t)(T * N * GH) + 4 * (size_t)(N * H) + (size_t)(N * GH) + 1;
    /* T * N and GH each come from real tensors, but their product need not: refuse a
     * byte count that would overflow rather than wrap. */
    float *scratch = (uint64_t)(T * N) <= SIZE_MAX / 8 / ((uint64_t)GH + 1)
                         ? inferd_malloc(total * sizeof(float))
                         : NULL;
    if (!scratch)
        return inferd_err_set(err, INFERD_E_RESOURCE_EXHAUSTED, "out of memory for RNN state");
    float *xs = scratch, *gx = scratch + nx, *h = gx + T * N * GH, *c = h + N * H, *rh = c + N * H,
          *hg = rh + N * H, *gh = hg + N * H;
    const float *x = in[0]->data;
    if (d->layout) {
        for (int64_t b = 0; b < N; b++)
            for (int64_t t = 0; t < T; t++)
                memcpy(xs + (t * N + b) * IN, x + (b * T + t) * IN, (size_t)IN * sizeof(float));
        x = xs;
    }
    const int32_t *lens = in[4] ? in[4]->data : NULL;
    for (int dir = 0; dir < d->num_dir; dir++) {
        bool reverse = d->reverse_only || dir == 1;
        const float *w = (const float *)in[1]->data + dir * GH * IN;
        const float *r = (const float *)in[2]->data + dir * GH * H;
        const float *wb = in[3] ? (const float *)in[3]->data + dir * 2 * GH : NULL;
        const float *rb = wb ? wb + GH : NULL;
        const float *p =
            d->cell == CELL_LSTM && in[7] ? (const float *)in[7]->data + dir * 3 * H : NULL;
        const act_t *acts = d->acts + dir * acts_of(d->cell);
        /* gx = X * W^T + Wb (+ Rb, except GRU's h gate with linear_before_reset). */
        mm_nt(T * N, GH, IN, x, w, gx);
        for (int64_t row = 0; row < T * N; row++)
            for (int64_t j = 0; j < GH; j++) {
                float bias = wb ? wb[j] : 0;
                bool rb_later = d->cell == CELL_GRU && j >= 2 * H;
                if (rb && !rb_later)
                    bias += rb[j];
                gx[row * GH + j] += bias;
            }
        for (int64_t b = 0; b < N; b++) {
            for (int64_t k = 0; k < H; k++) {
                int64_t so = state_off(d, dir, b, N, H) + k;
                h[b * H + k] = in[5] ? ((const float *)in[5]->data)[so] : 0;
                c[b * H + k] = d->cell == CELL_LSTM && in[6] ? ((const float *)in[6]->data)[so] : 0;
            }
        }
        for (int64_t step = 0; step < T; step++) {
            /* gh = H(t-1) * R^T for the whole batch. GRU's h gate needs the reset gate
             * first unless linear_before_reset, so it gets its own product below. */
            bool gru = d->cell == CELL_GRU, lbr = d->linear_before_reset;
            int64_t ghs = gru && !lbr ? 2 * H : GH; /* row length of gh */
            mm_nt(N, ghs, H, h, r, gh);
            if (gru) {
                /* z and r for every active entry, then (r . h) * Rh^T as one product. */
                for (int64_t b = 0; b < N; b++) {
                    int64_t len = lens ? lens[b] : T;
                    float *rhb = rh + b * H;
                    if (step >= len) {
                        memset(rhb, 0, (size_t)H * sizeof(float));
                        continue;
                    }
                    int64_t t = reverse ? len - 1 - step : step;
                    const float *gxr = gx + (t * N + b) * GH;
                    float *z = gh + b * ghs, *rr = z + H;
                    for (int64_t k = 0; k < H; k++) {
                        z[k] = act_apply(&acts[0], clipv(d, gxr[k] + z[k]));
                        rr[k] = act_apply(&acts[0], clipv(d, gxr[H + k] + rr[k]));
                        rhb[k] = rr[k] * h[b * H + k];
                    }
                }
                if (!lbr)
                    mm_nt(N, H, H, rh, r + 2 * H * H, hg);
            }
            for (int64_t b = 0; b < N; b++) {
                int64_t len = lens ? lens[b] : T;
                if (step >= len)
                    continue;
                int64_t t = reverse ? len - 1 - step : step;
                const float *gxr = gx + (t * N + b) * GH;
                float *ghr = gh + b * ghs, *hb = h + b * H, *cb = c + b * H;
                if (d->cell == CELL_RNN) {
                    for (int64_t k = 0; k < H; k++)
                        hb[k] = act_apply(&acts[0], clipv(d, gxr[k] + ghr[k]));
                } else if (d->cell == CELL_GRU) {
                    const float *z = ghr, *rr = ghr + H, *hr = lbr ? ghr + 2 * H : hg + b * H;
                    for (int64_t k = 0; k < H; k++) {
                        /* hr is Rh * (r . h) or, with linear_before_reset, Rh * h. */
                        float rbh = rb ? rb[2 * H + k] : 0;
                        float v = lbr ? rr[k] * (hr[k] + rbh) : hr[k] + rbh;
                        float hh = act_apply(&acts[1], clipv(d, gxr[2 * H + k] + v));
                        hb[k] = (1 - z[k]) * hh + z[k] * hb[k];
                    }
                } else {
                    for (int64_t k = 0; k < H; k++) {
                        float gi = gxr[k] + ghr[k], go = gxr[H + k] + ghr[H + k];
                        float gf = gxr[2 * H + k] + ghr[2 * H + k];
                        float gc = gxr[3 * H + k] + ghr[3 * H + k];
                        if (p) {
                            gi += p[k] * cb[k];
                            gf += p[2 * H + k] * cb[k];
                        }
                        float it = act_apply(&acts[0], clipv(d, gi));
                        float ft = d->input_forget ? 1 - it : act_apply(&acts[0], clipv(d, gf));
                        float ct = act_apply(&acts[1], clipv(d, gc));
                        cb[k] = ft * cb[k] + it * ct;
                        if (p)
                            go += p[H + k] * cb[k];
                        float ot = act_apply(&acts[0], clipv(d, go));
                        hb[k] = ot * act_apply(&acts[2], cb[k]);
                    }
                }
                if (y)
                    memcpy((float *)y->data + y_off(d, t, dir, b, &rd), hb,
                           (size_t)H * sizeof(float));
            }
        }
        for (int64_t b = 0; b < N; b++) {
            int64_t so = state_off(d, dir, b, N, H);
            if (yh)
                memcpy((float *)yh->data + so, h + b * H, (size_t)H * sizeof(float));
            if (yc)
                memcpy((float *)yc->data + so, c + b * H, (size_t)H * sizeof(float));
        }
    }
    inferd_free(scratch);
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Init                                                                                 */

static inferd_status_t parse_act(const char *s, act_t *a, inferd_err_t *err)
{
    static const struct {
        const char *name;
        act_kind_t kind;
        float alpha, beta;
    } table[] = {
        {"Sigmoid", ACT_SIGMOID, 0, 0},
        {"Tanh", ACT_TANH, 0, 0},
        {"Relu", ACT_RELU, 0, 0},
        {"Affine", ACT_AFFINE, 1.0f, 0.0f},
        {"LeakyRelu", ACT_LEAKY_RELU, 0.01f, 0},
        {"ThresholdedRelu", ACT_THRESHOLDED_RELU, 1.0f, 0},
        {"ScaledTanh", ACT_SCALED_TANH, 1.0f, 1.0f},
        {"HardSigmoid", ACT_HARD_SIGMOID, 0.2f, 0.5f},
        {"Elu", ACT_ELU, 1.0f, 0},
        {"Softsign", ACT_SOFTSIGN, 0, 0},
        {"Softplus", ACT_SOFTPLUS, 0, 0},
    };
    for (size_t i = 0; i < sizeof(table) / sizeof(table[0]); i++) {
        if (strcasecmp(s, table[i].name) == 0) {
            a->kind = table[i].kind;
            a->alpha = table[i].alpha;
            a->beta = table[i].beta;
            return INFERD_OK;
        }
    }
    return inferd_err_set(err, INFERD_E_UNSUPPORTED, "unknown activation '%s'", s);
}

static inferd_status_t rnn_init_common(inferd_onnx_init_t *ic, cell_kind_t cell, inferd_err_t *err)
{
    const inferd_onnx_node_t *node = ic->node;
    if (ic->in_types[0] != INFERD_DTYPE_FP32)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    for (int i = 1; i < node->n_inputs; i++)
        if (ic->in_types[i] != INFERD_DTYPE_INVALID && ic->in_types[i] != INFERD_DTYPE_FP32 &&
            i != 4)
            return inferd_onnx_unsupported_dtype(ic, i, err);
    if (node->n_inputs > 4 && ic->in_types[4] != INFERD_DTYPE_INVALID &&
        ic->in_types[4] != INFERD_DTYPE_INT32)
        return inferd_onnx_unsupported_dtype(ic, 4, err);
    rnn_data_t d;
    memset(&d, 0, sizeof(d));
    d.cell = cell;
    int64_t lbr = 0, inf = 0;
    if (inferd_onnx_attr_int(node, "hidden_size", 0, &d.hidden, err) != INFERD_OK ||
        inferd_onnx_attr_int(node, "layout", 0, &d.layout, err) != INFERD_OK ||
        inferd_onnx_attr_int(node, "linear_before_reset", 0, &lbr, err) != INFERD_OK ||
        inferd_onnx_attr_int(node, "input_forget", 0, &inf, err) != INFERD_OK)
        return fail(err);
    d.linear_before_reset = lbr != 0;
    d.input_forget = inf != 0;
    const inferd_onnx_attr_t *a = inferd_onnx_attr_find(node, "clip");
    if (a && a->type == INFERD_ONNX_ATTR_FLOAT) {
        d.has_clip = true;
        d.clip = a->f;
    }
    d.num_dir = 1;
    a = inferd_onnx_attr_find(node, "direction");
    if (a && a->type == INFERD_ONNX_ATTR_STRING) {
        if (strcmp(a->s, "bidirectional") == 0)
            d.num_dir = 2;
        else if (strcmp(a->s, "reverse") == 0)
            d.reverse_only = true;
        else if (strcmp(a->s, "forward") != 0)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "unknown direction '%s'", a->s);
    }
    int na = acts_of(cell);
    static const char *const defaults[3][3] = {
        {"Tanh", NULL, NULL}, {"Sigmoid", "Tanh", NULL}, {"Sigmoid", "Tanh", "Tanh"}};
    for (int dir = 0; dir < d.num_dir; dir++)
        for (int k = 0; k < na; k++)
            if (parse_act(defaults[cell][k], &d.acts[dir * na + k], err) != INFERD_OK)
                return fail(err);
    a = inferd_onnx_attr_find(node, "activations");
    if (a && a->type == INFERD_ONNX_ATTR_STRINGS && a->n > 0) {
        if (a->n != (size_t)(na * d.num_dir) && a->n != (size_t)na)
            return inferd_err_set(err, INFERD_E_INVALID_ARG, "%zu activations, want %d", a->n,
                                  na * d.num_dir);
        const inferd_onnx_attr_t *al = inferd_onnx_attr_find(node, "activation_alpha");
        const inferd_onnx_attr_t *be = inferd_onnx_attr_find(node, "activation_beta");
        /* The alpha and beta lists hold values only for the activations that take them,
         * consumed in activation order; a short list leaves the defaults. */
        size_t ai = 0, bi = 0;
        for (size_t k = 0; k < a->n; k++) {
            act_t *act = &d.acts[k];
            if (parse_act(a->strings[k], act, err) != INFERD_OK)
                return fail(err);
            bool takes_alpha = act->kind == ACT_AFFINE || act->kind == ACT_LEAKY_RELU ||
                               act->kind == ACT_THRESHOLDED_RELU || act->kind == ACT_SCALED_TANH ||
                               act->kind == ACT_HARD_SIGMOID || act->kind == ACT_ELU;
            bool takes_beta = act->kind == ACT_AFFINE || act->kind == ACT_SCALED_TANH ||
                              act->kind == ACT_HARD_SIGMOID;
            if (takes_alpha && al && al->type == INFERD_ONNX_ATTR_FLOATS && ai < al->n)
                act->alpha = al->floats[ai++];
            if (takes_beta && be && be->type == INFERD_ONNX_ATTR_FLOATS && bi < be->n)
                act->beta = be->floats[bi++];
        }
        if (a->n == (size_t)na && d.num_dir == 2)
            memcpy(&d.acts[na], &d.acts[0], (size_t)na * sizeof(act_t));
    }
    rnn_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = rnn_compute;
    for (int j = 0; j < node->n_outputs; j++)
        ic->out_types[j] = INFERD_DTYPE_FP32;
    return INFERD_OK;
}

static inferd_status_t rnn_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return rnn_init_common(ic, CELL_RNN, err);
}

static inferd_status_t gru_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return rnn_init_common(ic, CELL_GRU, err);
}

static inferd_status_t lstm_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return rnn_init_common(ic, CELL_LSTM, err);
}

const inferd_onnx_op_t inferd_onnx_ops_rnn[] = {
    {"", "RNN", 7, 3, 6, 2, rnn_init, rnn_reshape},
    {"", "RNN", 14, 3, 6, 2, rnn_init, rnn_reshape},
    {"", "GRU", 7, 3, 6, 2, gru_init, rnn_reshape},
    {"", "GRU", 14, 3, 6, 2, gru_init, rnn_reshape},
    {"", "LSTM", 7, 3, 8, 3, lstm_init, rnn_reshape},
    {"", "LSTM", 14, 3, 8, 3, lstm_init, rnn_reshape},
};
const size_t inferd_onnx_ops_rnn_count =
    sizeof(inferd_onnx_ops_rnn) / sizeof(inferd_onnx_ops_rnn[0]);
