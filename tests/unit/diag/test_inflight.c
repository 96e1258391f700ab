/* Tests for src/diag/inflight.c: slot claim and release, snapshots (order, current_op,
 * input shapes), a full table, the lock-free visitor the crash handler uses, and running
 * batches (members show the batch context's operator). */
#include "test.h"

#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "diag/inflight.h"

static inferd_inflight_info_t info[INFERD_INFLIGHT_SLOTS];

static void test_add_snapshot_remove(void **state)
{
    (void)state;
    inferd_ctx_t a, b;
    inferd_ctx_init(&a);
    inferd_ctx_init(&b);
    snprintf(a.request_id, sizeof(a.request_id), "req-a");
    int sa = inferd_inflight_add(&a, "digits", "1");
    assert_true(sa >= 0);
    /* Claimed but not published: not listed yet. */
    assert_int_equal(inferd_inflight_snapshot(info, INFERD_INFLIGHT_SLOTS), 0);
    inferd_inflight_publish(sa, NULL, 0);
    /* b gets its id after being added, as the front end does. */
    int sb = inferd_inflight_add(&b, "slow", "3");
    assert_true(sb >= 0 && sb != sa);
    snprintf(b.request_id, sizeof(b.request_id), "req-b");
    int64_t dims[2] = {4, 64};
    inferd_err_t err;
    inferd_tensor_t *t =
        inferd_tensor_create(INFERD_DTYPE_FP32, dims, 2, 0, INFERD_OWNER_REQUEST, &err);
    inferd_tensor_t *s =
        inferd_tensor_create(INFERD_DTYPE_INT64, NULL, 0, 0, INFERD_OWNER_REQUEST, &err);
    assert_non_null(t);
    assert_non_null(s);
    inferd_tensor_t *ins[3] = {t, NULL, s};
    inferd_inflight_publish(sb, ins, 3);
    inferd_tensor_unref(t);
    inferd_tensor_unref(s);
    atomic_store(&b.current_op, "MatMul_7");

    assert_int_equal(inferd_inflight_snapshot(info, INFERD_INFLIGHT_SLOTS), 2);
    /* Oldest first. */
    assert_string_equal(info[0].request_id, "req-a");
    assert_string_equal(info[0].model, "digits");
    assert_string_equal(info[0].version, "1");
    assert_string_equal(info[0].current_op, "");
    assert_string_equal(info[1].request_id, "req-b");
    assert_string_equal(info[1].model, "slow");
    assert_string_equal(info[1].current_op, "MatMul_7");
    assert_string_equal(info[1].inputs, "[4,64] []");
    assert_true(info[0].age_ns >= info[1].age_ns);

    inferd_buf_t j;
    inferd_buf_init(&j, 0);
    inferd_inflight_json(&j);
    inferd_buf_append_char(&j, '\0');
    assert_non_null(strstr(j.data, "\"count\":2"));
    assert_non_null(strstr(j.data, "\"state\":\"running\",\"age_ms\":"));
    assert_non_null(strstr(j.data, "\"current_op\":\"MatMul_7\""));
    assert_non_null(strstr(j.data, "\"current_op\":null"));
    inferd_buf_deinit(&j);

    inferd_inflight_remove(sa);
    assert_int_equal(inferd_inflight_snapshot(info, INFERD_INFLIGHT_SLOTS), 1);
    assert_string_equal(info[0].request_id, "req-b");
    inferd_inflight_remove(sb);
    assert_int_equal(inferd_inflight_snapshot(info, INFERD_INFLIGHT_SLOTS), 0);
    inferd_inflight_remove(-1); /* a request that was never listed */
    inferd_inflight_publish(-1, NULL, 0);
}

static void test_long_names_truncated(void **state)
{
    (void)state;
    inferd_ctx_t a;
    inferd_ctx_init(&a);
    char name[600];
    memset(name, 'm', sizeof(name) - 1);
    name[sizeof(name) - 1] = '\0';
    int s = inferd_inflight_add(&a, name, name);
    assert_true(s >= 0);
    inferd_inflight_publish(s, NULL, 0);
    assert_int_equal(inferd_inflight_snapshot(info, 1), 1);
    assert_int_equal(strlen(info[0].model), sizeof(info[0].model) - 1);
    assert_int_equal(strlen(info[0].version), sizeof(info[0].version) - 1);
    inferd_inflight_remove(s);
}

static void test_full_table(void **state)
{
    (void)state;
    static inferd_ctx_t ctx[INFERD_INFLIGHT_SLOTS + 1];
    static int slot[INFERD_INFLIGHT_SLOTS + 1];
    for (int i = 0; i < INFERD_INFLIGHT_SLOTS; i++) {
        inferd_ctx_init(&ctx[i]);
        slot[i] = inferd_inflight_add(&ctx[i], "m", "1");
        assert_true(slot[i] >= 0);
        inferd_inflight_publish(slot[i], NULL, 0);
    }
    inferd_ctx_init(&ctx[INFERD_INFLIGHT_SLOTS]);
    assert_int_equal(inferd_inflight_add(&ctx[INFERD_INFLIGHT_SLOTS], "m", "1"), -1);
    /* The snapshot reports the true count even when the caller's array is smaller. */
    assert_int_equal(inferd_inflight_snapshot(info, 8), INFERD_INFLIGHT_SLOTS);
    inferd_inflight_remove(slot[5]);
    int again = inferd_inflight_add(&ctx[INFERD_INFLIGHT_SLOTS], "m", "1");
    assert_int_equal(again, slot[5]);
    slot[5] = again;
    for (int i = 0; i < INFERD_INFLIGHT_SLOTS; i++)
        inferd_inflight_remove(slot[i]);
    assert_int_equal(inferd_inflight_snapshot(info, INFERD_INFLIGHT_SLOTS), 0);
}

typedef struct {
    int n;
    char ids[4][32];
} seen_t;

static void visit_cb(void *arg, const char *request_id, const char *model, const char *version,
                     const char *current_op, const char *op_inputs, const char *inputs,
                     int64_t start_ns)
{
    seen_t *s = arg;
    (void)model;
    (void)version;
    (void)op_inputs;
    (void)inputs;
    (void)start_ns;
    assert_null(current_op);
    if (s->n < 4)
        snprintf(s->ids[s->n], sizeof(s->ids[0]), "%s", request_id);
    s->n++;
}

static void test_visit_unsafe(void **state)
{
    (void)state;
    inferd_ctx_t a;
    inferd_ctx_init(&a);
    snprintf(a.request_id, sizeof(a.request_id), "visited");
    /* Claimed only: the crash handler lists it all the same. */
    int s = inferd_inflight_add(&a, "m", "1");
    seen_t seen = {0};
    inferd_inflight_visit_unsafe(visit_cb, &seen);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.ids[0], "visited");
    inferd_inflight_remove(s);
    seen.n = 0;
    inferd_inflight_visit_unsafe(visit_cb, &seen);
    assert_int_equal(seen.n, 0);
}

typedef struct {
    int n;
    char op[32];
    char op_inputs[INFERD_INFLIGHT_OP_INPUTS_MAX + 1];
} batch_seen_t;

static void batch_visit_cb(void *arg, const char *request_id, const char *model,
                           const char *version, const char *current_op, const char *op_inputs,
                           const char *inputs, int64_t start_ns)
{
    batch_seen_t *s = arg;
    (void)request_id;
    (void)model;
    (void)version;
    (void)inputs;
    (void)start_ns;
    s->n++;
    snprintf(s->op, sizeof(s->op), "%s", current_op ? current_op : "");
    snprintf(s->op_inputs, sizeof(s->op_inputs), "%.*s", (int)INFERD_INFLIGHT_OP_INPUTS_MAX,
             op_inputs ? op_inputs : "");
}

/* A request that runs in a batch shows the batch context's operator and node shapes, in
 * the snapshot, the JSON and the crash handler's visitor; once the batch ends it does not. */
static void test_batch_members_show_runner(void **state)
{
    (void)state;
    inferd_ctx_t member, runner, own;
    inferd_ctx_init(&member);
    inferd_ctx_init(&runner);
    inferd_ctx_init(&own);
    int s = inferd_inflight_add(&member, "m", "1");
    inferd_inflight_publish(s, NULL, 0);
    snprintf(runner.current_op_inputs, sizeof(runner.current_op_inputs), "[8,64] [64,32]");
    atomic_store(&runner.current_op, "Gemm_3");
    int b = inferd_inflight_batch_begin(&runner);
    assert_true(b >= 0);
    inferd_inflight_batch_add(b, &own); /* a context that is not listed: ignored */
    inferd_inflight_batch_add(b, &member);

    assert_int_equal(inferd_inflight_snapshot(info, INFERD_INFLIGHT_SLOTS), 1);
    assert_string_equal(info[0].current_op, "Gemm_3");
    assert_string_equal(info[0].current_op_inputs, "[8,64] [64,32]");
    inferd_buf_t j;
    inferd_buf_init(&j, 0);
    inferd_inflight_json(&j);
    inferd_buf_append_char(&j, '\0');
    assert_non_null(strstr(j.data, "\"state\":\"running\""));
    assert_non_null(strstr(j.data, "\"current_op_inputs\":\"[8,64] [64,32]\""));
    inferd_buf_deinit(&j);
    batch_seen_t seen = {0};
    inferd_inflight_visit_unsafe(batch_visit_cb, &seen);
    assert_int_equal(seen.n, 1);
    assert_string_equal(seen.op, "Gemm_3");
    assert_string_equal(seen.op_inputs, "[8,64] [64,32]");

    inferd_inflight_batch_end(b);
    assert_int_equal(inferd_inflight_snapshot(info, INFERD_INFLIGHT_SLOTS), 1);
    assert_string_equal(info[0].current_op, "");
    assert_string_equal(info[0].current_op_inputs, "");
    memset(&seen, 0, sizeof(seen));
    inferd_inflight_visit_unsafe(batch_visit_cb, &seen);
    assert_string_equal(seen.op, "");
    inferd_inflight_remove(s);
    inferd_inflight_batch_end(-1);
    inferd_inflight_batch_add(-1, &member);
}

/* Every batch slot taken: the next batch runs unlisted (-1), and a freed slot is reused. */
static void test_batch_table_full(void **state)
{
    (void)state;
    inferd_ctx_t runner;
    inferd_ctx_init(&runner);
    int h[INFERD_INFLIGHT_BATCHES];
    for (int i = 0; i < INFERD_INFLIGHT_BATCHES; i++)
        assert_true((h[i] = inferd_inflight_batch_begin(&runner)) >= 0);
    assert_int_equal(inferd_inflight_batch_begin(&runner), -1);
    inferd_inflight_batch_end(h[3]);
    assert_int_equal(inferd_inflight_batch_begin(&runner), h[3]);
    /* More members than a slot lists: the extra ones are simply not linked. */
    for (int i = 0; i < INFERD_INFLIGHT_BATCH_MEMBERS + 4; i++)
        inferd_inflight_batch_add(h[0], &runner);
    for (int i = 0; i < INFERD_INFLIGHT_BATCHES; i++)
        inferd_inflight_batch_end(h[i]);
}

/* Adders, removers and readers at once: every add gets a distinct slot, and the table is
 * empty at the end (run under TSan to check the memory orders). */
static void *churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < 2000; i++) {
        inferd_ctx_t c;
        inferd_ctx_init(&c);
        int s = inferd_inflight_add(&c, "churn", "1");
        inferd_inflight_publish(s, NULL, 0);
        atomic_store(&c.current_op, "Op");
        /* Half the time it also runs in a batch, as the scheduler does. */
        inferd_ctx_t runner;
        inferd_ctx_init(&runner);
        atomic_store(&runner.current_op, "BatchOp");
        int b = i % 2 ? inferd_inflight_batch_begin(&runner) : -1;
        inferd_inflight_batch_add(b, &c);
        atomic_store(&c.current_op, NULL);
        inferd_inflight_batch_end(b);
        inferd_inflight_remove(s);
    }
    return NULL;
}

static void *reader(void *arg)
{
    (void)arg;
    static _Thread_local inferd_inflight_info_t local[16];
    for (int i = 0; i < 500; i++)
        inferd_inflight_snapshot(local, 16);
    return NULL;
}

static void test_concurrent(void **state)
{
    (void)state;
    pthread_t t[4];
    pthread_create(&t[0], NULL, churn, NULL);
    pthread_create(&t[1], NULL, churn, NULL);
    pthread_create(&t[2], NULL, reader, NULL);
    pthread_create(&t[3], NULL, reader, NULL);
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    assert_int_equal(inferd_inflight_snapshot(info, INFERD_INFLIGHT_SLOTS), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_add_snapshot_remove),
        cmocka_unit_test(test_long_names_truncated),
        cmocka_unit_test(test_full_table),
        cmocka_unit_test(test_visit_unsafe),
        cmocka_unit_test(test_batch_members_show_runner),
        cmocka_unit_test(test_batch_table_full),
        cmocka_unit_test(test_concurrent),
    };
    int rc = cmocka_run_group_tests(tests, NULL, NULL);
    assert_no_live_tensors();
    return rc;
}
