/* Tests for src/backends/onnx/ops/rnn.c beyond ONNX 1.12's node data (which has forward
 * direction only and no linear_before_reset): GRU's linear_before_reset on a one-step case
 * worked out by hand, and for RNN, GRU and LSTM the identities that tie the directions
 * together: a bidirectional layer's two halves equal a forward and a reverse layer run on
 * their own, and a reverse layer equals a forward layer on the time-reversed sequence. */
#include "test.h"

#include <math.h>
#include <string.h>

#include "onnx_test_util.h"

enum { T = 3, N = 2, I = 2, H = 2 };

static void fill(float *v, int n, int seed)
{
    for (int i = 0; i < n; i++)
        v[i] = (float)((i * 7 + seed * 5) % 13 - 6) / 8.0f;
}

/* Runs op with X, W, R, B (given per direction count) and returns Y. */
static inferd_tensor_t *run(const char *op, int gates, const char *dir, int dirs, const float *x,
                            const float *w, const float *r, const float *b, int lbr)
{
    tb_op_t o;
    tb_op_init(&o, 14, op);
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(T, N, I), x));
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(dirs, gates * H, I), w));
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(dirs, gates * H, H), r));
    tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(dirs, 2 * gates * H), b));
    tb_attr_int(o.m, o.node, "hidden_size", H);
    tb_attr_string(o.m, o.node, "direction", dir);
    if (lbr)
        tb_attr_int(o.m, o.node, "linear_before_reset", 1);
    inferd_tensor_t *y;
    inferd_err_t err;
    if (tb_op_run(&o, &y, &err) != INFERD_OK)
        fail_msg("%s (%s) failed: %s", op, dir, err.msg);
    return y;
}

/* Y[t, d, n, :] of a [T, dirs, N, H] output. */
static const float *yat(const inferd_tensor_t *y, int t, int d, int n)
{
    int dirs = (int)y->dims[1];
    return (const float *)y->data + ((t * dirs + d) * N + n) * H;
}

static void close_to(const float *a, const float *b, int n)
{
    for (int i = 0; i < n; i++)
        if (fabsf(a[i] - b[i]) > 1e-6f)
            fail_msg("element %d: %g vs %g", i, a[i], b[i]);
}

static void check_directions(const char *op, int gates, int lbr)
{
    float x[T * N * I], xr[T * N * I], w[2 * 4 * H * I], r[2 * 4 * H * H], b[2 * 8 * H];
    fill(x, T * N * I, 1);
    fill(w, 2 * gates * H * I, 2);
    fill(r, 2 * gates * H * H, 3);
    fill(b, 2 * 2 * gates * H, 4);
    for (int t = 0; t < T; t++)
        memcpy(xr + t * N * I, x + (T - 1 - t) * N * I, sizeof(float) * N * I);
    const float *w1 = w + gates * H * I, *r1 = r + gates * H * H, *b1 = b + 2 * gates * H;
    inferd_tensor_t *bi = run(op, gates, "bidirectional", 2, x, w, r, b, lbr);
    inferd_tensor_t *fw = run(op, gates, "forward", 1, x, w, r, b, lbr);
    inferd_tensor_t *rv = run(op, gates, "reverse", 1, x, w1, r1, b1, lbr);
    inferd_tensor_t *fr = run(op, gates, "forward", 1, xr, w1, r1, b1, lbr);
    for (int t = 0; t < T; t++)
        for (int n = 0; n < N; n++) {
            close_to(yat(bi, t, 0, n), yat(fw, t, 0, n), H);
            close_to(yat(bi, t, 1, n), yat(rv, t, 0, n), H);
            close_to(yat(rv, t, 0, n), yat(fr, T - 1 - t, 0, n), H);
        }
    inferd_tensor_unref(bi);
    inferd_tensor_unref(fw);
    inferd_tensor_unref(rv);
    inferd_tensor_unref(fr);
    assert_no_live_tensors();
}

static void directions_agree(void **state)
{
    (void)state;
    check_directions("RNN", 1, 0);
    check_directions("GRU", 3, 0);
    check_directions("GRU", 3, 1);
    check_directions("LSTM", 4, 0);
}

/* One step, hidden and input size 1, all weights 0 and only Rb_h = 1, h0 = 0: z = r = 0.5.
 * Without linear_before_reset h~ = tanh(Rb_h) = tanh(1); with it h~ = tanh(r * Rb_h) =
 * tanh(0.5). H = (1 - z) * h~. */
static void gru_linear_before_reset(void **state)
{
    (void)state;
    for (int lbr = 0; lbr <= 1; lbr++) {
        tb_op_t o;
        tb_op_init(&o, 14, "GRU");
        tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(1, 1, 1), TB_F32S(1)));
        tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(1, 3, 1), TB_F32S(0, 0, 0)));
        tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 3, TB_DIMS(1, 3, 1), TB_F32S(0, 0, 0)));
        tb_op_const(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(1, 6), TB_F32S(0, 0, 0, 0, 0, 1)));
        tb_attr_int(o.m, o.node, "hidden_size", 1);
        tb_attr_int(o.m, o.node, "linear_before_reset", lbr);
        inferd_tensor_t *y;
        inferd_err_t err;
        assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
        float want = 0.5f * tanhf(lbr ? 0.5f : 1.0f);
        tb_expect(y, INFERD_DTYPE_FP32, 4, TB_DIMS(1, 1, 1, 1), &want, 1e-6);
        inferd_tensor_unref(y);
    }
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(directions_agree),
        cmocka_unit_test(gru_linear_before_reset),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
