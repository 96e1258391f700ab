/* Tests for src/backends/onnx/exec.c: input validation, cancellation and deadlines
 * between nodes, ctx->current_op, releasing intermediates after their last reader,
 * cleanup on errors inside the graph, and concurrent runs of one loaded model.
 *
 * Some tests load a graph with inferd_onnx_graph_load and wrap its nodes' kernels with a
 * probe that records what the executor did before each node ran. */
#include "test.h"

#include <stdio.h>
#include <string.h>

#include "backends/onnx/graph.h"
#include "core/thread.h"
#include "onnx_test_util.h"

/* ------------------------------------------------------------------------------------ */
/* Input validation                                                                     */

static void expect_run_error(tb_model_t *m, inferd_tensor_t *x, inferd_status_t code,
                             const char *needle)
{
    inferd_tensor_t *in[1] = {x};
    inferd_tensor_t *out[2] = {NULL, NULL};
    inferd_err_t err;
    inferd_status_t rc = tb_run(m, in, 1, out, 2, &err);
    if (rc != code)
        fail_msg("run returned %s (%s), want %s", inferd_status_name(rc), err.msg,
                 inferd_status_name(code));
    assert_null(out[0]);
    assert_null(out[1]);
    tb_expect_msg(&err, needle);
    tb_free(m);
    assert_no_live_tensors();
}

static void inputs_are_validated(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_build_mlp(m, TB_RAW);
    expect_run_error(m, tb_t(INFERD_DTYPE_FP64, 2, TB_DIMS(2, 4), NULL), INFERD_E_INVALID_ARG,
                     "input 'x': expected FP32, got FP64");
    m = tb_model(13);
    tb_build_mlp(m, TB_RAW);
    expect_run_error(m, tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(8), NULL), INFERD_E_INVALID_ARG,
                     "input 'x': expected rank 2, got shape [8]");
    m = tb_model(13);
    tb_build_mlp(m, TB_RAW);
    expect_run_error(m, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 5), NULL), INFERD_E_INVALID_ARG,
                     "input 'x': expected shape [-1,4], got [2,5]");
    m = tb_model(13);
    tb_build_mlp(m, TB_RAW);
    expect_run_error(m, NULL, INFERD_E_INVALID_ARG, "input 'x' is missing");
}

static void shape_error_inside_graph_cleans_up(void **state)
{
    (void)state;
    /* a * b needs [2,3] and [4] to broadcast; the Relu before it has already produced an
     * intermediate that must be freed. */
    tb_model_t *m = tb_model(13);
    tb_input(m, "a", TB_F32, 2, TB_DIMS(2, 3));
    tb_input(m, "b", TB_F32, 1, TB_DIMS(-1));
    tb_node(m, "Relu", "r", "a", "ra");
    tb_node(m, "Mul", "mul", "ra,b", "y");
    tb_output(m, "y", TB_F32, -1, NULL);
    tb_output(m, "ra", TB_F32, -1, NULL);
    inferd_tensor_t *in[2] = {tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 3), NULL),
                              tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(4), NULL)};
    inferd_tensor_t *out[2] = {NULL, NULL};
    inferd_err_t err;
    assert_int_equal(tb_run(m, in, 2, out, 2, &err), INFERD_E_INVALID_ARG);
    tb_expect_msg(&err, "node 'mul' (Mul): shapes [2,3] and [4] cannot be broadcast");
    assert_null(out[0]);
    assert_null(out[1]);
    tb_free(m);
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Probed runs                                                                          */

#define MAX_PROBED 16

/* What a probe saw just before each node's kernel ran. */
static struct probe {
    inferd_onnx_compute_fn real[MAX_PROBED];
    const char *labels[MAX_PROBED];
    inferd_ctx_t *ctx;
    int calls;
    int cancel_at; /* cancel the context during this call (1-based); 0 = never */
    const char *current_op[MAX_PROBED];
    int64_t arena_live[MAX_PROBED];
} probe;

static inferd_status_t probe_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_tensor_t *const *out, inferd_err_t *err)
{
    int i = probe.calls++;
    inferd_tensor_stats_t s;
    inferd_tensor_stats(&s);
    probe.arena_live[i] = s.count[INFERD_OWNER_ARENA];
    probe.current_op[i] = probe.ctx ? atomic_load(&probe.ctx->current_op) : NULL;
    if (probe.cancel_at == i + 1)
        inferd_ctx_cancel(probe.ctx);
    for (int k = 0; k < MAX_PROBED; k++)
        if (probe.labels[k] && strcmp(probe.labels[k], node->label) == 0)
            return probe.real[k](node, in, out, err);
    return inferd_err_set(err, INFERD_E_INTERNAL, "probe lost node %s", node->label);
}

/* x -> Relu r1 -> Relu r2 -> ... -> Relu r6 -> y, every kernel probed. */
static inferd_onnx_graph_t *load_chain(tb_model_t *m)
{
    tb_input(m, "x", TB_F32, 1, TB_DIMS(4));
    const char *names[6] = {"r1", "r2", "r3", "r4", "r5", "r6"};
    char in[8] = "x", out[8];
    for (int i = 0; i < 6; i++) {
        snprintf(out, sizeof(out), "%s", i == 5 ? "y" : names[i]);
        tb_node(m, "Relu", names[i], in, out);
        snprintf(in, sizeof(in), "%s", out);
    }
    tb_output(m, "y", TB_F32, 1, TB_DIMS(4));
    inferd_onnx_graph_t *g;
    inferd_err_t err;
    assert_int_equal(inferd_onnx_graph_load(tb_write(m), &g, &err), INFERD_OK);
    memset(&probe, 0, sizeof(probe));
    for (int i = 0; i < g->n_nodes; i++) {
        probe.real[i] = g->nodes[i].compute;
        probe.labels[i] = g->nodes[i].label;
        g->nodes[i].compute = probe_compute;
    }
    return g;
}

static void intermediates_released_after_last_reader(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    inferd_onnx_graph_t *g = load_chain(m);
    inferd_ctx_t ctx;
    inferd_ctx_init(&ctx);
    probe.ctx = &ctx;
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(4), TB_F32S(-1, 2, -3, 4));
    inferd_tensor_t *y;
    inferd_err_t err;
    assert_int_equal(inferd_onnx_graph_run(&ctx, g, &x, &y, &err), INFERD_OK);
    assert_int_equal(probe.calls, 6);
    for (int i = 0; i < 6; i++) {
        /* While node i runs, only its output lives, written over its input from node i-1
         * (in place: nothing else holds that input once node i-1's input is released; a
         * value kept past its last reader would make it 2 and more). */
        assert_int_equal(probe.arena_live[i], 1);
        /* "op_type/name": the reports name both. */
        char want[32];
        snprintf(want, sizeof(want), "Relu/r%d", i + 1);
        assert_string_equal(probe.current_op[i], want);
    }
    assert_null(atomic_load(&ctx.current_op));
    tb_expect(y, INFERD_DTYPE_FP32, 1, TB_DIMS(4), TB_F32S(0, 2, 0, 4), 0);
    inferd_tensor_unref(x);
    inferd_tensor_unref(y);
    inferd_onnx_graph_destroy(g);
    tb_free(m);
    assert_no_live_tensors();
}

static void cancelled_between_nodes(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    inferd_onnx_graph_t *g = load_chain(m);
    inferd_ctx_t ctx;
    inferd_ctx_init(&ctx);
    probe.ctx = &ctx;
    probe.cancel_at = 3;
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_FP32, 1, TB_DIMS(4), NULL);
    inferd_tensor_t *y = NULL;
    inferd_err_t err;
    assert_int_equal(inferd_onnx_graph_run(&ctx, g, &x, &y, &err), INFERD_E_CANCELLED);
    assert_int_equal(probe.calls, 3); /* the node that saw the cancel finished; no more ran */
    assert_null(y);
    assert_null(atomic_load(&ctx.current_op));
    inferd_tensor_unref(x);
    inferd_onnx_graph_destroy(g);
    tb_free(m);
    assert_no_live_tensors();
}

static void cancelled_and_expired_before_start(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_build_mlp(m, TB_RAW);
    void *st;
    inferd_err_t err;
    assert_int_equal(tb_load(m, &st, &err), INFERD_OK);
    inferd_tensor_t *x = tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 4), TB_MLP_X);
    inferd_tensor_t *out[2] = {NULL, NULL};

    inferd_ctx_t ctx;
    inferd_ctx_init(&ctx);
    inferd_ctx_cancel(&ctx);
    assert_int_equal(inferd_onnx_backend_vtable.execute(&ctx, st, &x, out, &err),
                     INFERD_E_CANCELLED);
    assert_null(out[0]);

    inferd_ctx_init(&ctx);
    ctx.deadline_ns = inferd_now_ns() - 1;
    assert_int_equal(inferd_onnx_backend_vtable.execute(&ctx, st, &x, out, &err),
                     INFERD_E_DEADLINE_EXCEEDED);
    assert_null(out[0]);
    assert_null(atomic_load(&ctx.current_op));

    /* The same state still runs for a healthy request. */
    inferd_ctx_init(&ctx);
    inferd_ctx_set_timeout_us(&ctx, 60 * 1000 * 1000);
    assert_int_equal(inferd_onnx_backend_vtable.execute(&ctx, st, &x, out, &err), INFERD_OK);
    tb_expect(out[0], INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_MLP_PROBS, 1e-5);
    inferd_tensor_unref(out[0]);
    inferd_tensor_unref(out[1]);
    inferd_tensor_unref(x);
    inferd_onnx_backend_vtable.unload(st);
    tb_free(m);
    assert_no_live_tensors();
}

/* ------------------------------------------------------------------------------------ */
/* Concurrency                                                                          */

typedef struct worker {
    void *state;
    int row; /* which fixture row this worker feeds */
    int failures;
} worker_t;

static void worker_main(void *arg)
{
    worker_t *w = arg;
    for (int i = 0; i < 200; i++) {
        inferd_err_t err;
        inferd_err_t terr;
        inferd_tensor_t *x = inferd_tensor_create(INFERD_DTYPE_FP32, TB_DIMS(1, 4), 2, 0,
                                                  INFERD_OWNER_REQUEST, &terr);
        memcpy(x->data, TB_MLP_X + 4 * w->row, 16);
        inferd_tensor_t *out[2] = {NULL, NULL};
        inferd_ctx_t ctx;
        inferd_ctx_init(&ctx);
        if (inferd_onnx_backend_vtable.execute(&ctx, w->state, &x, out, &err) != INFERD_OK) {
            w->failures++;
        } else {
            const float *p = out[0]->data;
            const int64_t *c = out[1]->data;
            float d0 = p[0] - TB_MLP_PROBS[2 * w->row], d1 = p[1] - TB_MLP_PROBS[2 * w->row + 1];
            if (d0 > 1e-5f || d0 < -1e-5f || d1 > 1e-5f || d1 < -1e-5f ||
                c[0] != TB_MLP_CLS[w->row])
                w->failures++;
        }
        inferd_tensor_unref(out[0]);
        inferd_tensor_unref(out[1]);
        inferd_tensor_unref(x);
    }
}

static void concurrent_runs_share_one_model(void **state)
{
    (void)state;
    tb_model_t *m = tb_model(13);
    tb_build_mlp(m, TB_RAW);
    void *st;
    inferd_err_t err;
    assert_int_equal(tb_load(m, &st, &err), INFERD_OK);
    enum { N = 4 };
    worker_t w[N];
    inferd_thread_t *t[N];
    for (int i = 0; i < N; i++) {
        w[i] = (worker_t){.state = st, .row = i % 2};
        assert_int_equal(inferd_thread_start(&t[i], "onnx-test", "test", worker_main, &w[i], &err),
                         INFERD_OK);
    }
    for (int i = 0; i < N; i++) {
        inferd_thread_join(t[i]);
        assert_int_equal(w[i].failures, 0);
    }
    inferd_onnx_backend_vtable.unload(st);
    tb_free(m);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(inputs_are_validated),
        cmocka_unit_test(shape_error_inside_graph_cleans_up),
        cmocka_unit_test(intermediates_released_after_last_reader),
        cmocka_unit_test(cancelled_between_nodes),
        cmocka_unit_test(cancelled_and_expired_before_start),
        cmocka_unit_test(concurrent_runs_share_one_model),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
