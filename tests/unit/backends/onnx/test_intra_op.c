/* Tests that the operators split over the intra-op pool (core/pool.h) give bit-identical
 * results on 1 and 2 threads: elementwise Add / Mul with broadcasting, fused Relu, Exp,
 * Erf, Transpose rows, Softmax rows, LayerNormalization rows, the 2x2 MaxPool planes, a
 * batch-1 convolution (its im2col panels, or its output channels on small planes), a
 * batch of images over more tasks than threads, the row split of MatMul and Gemm, the
 * batch split of a batched MatMul, broadcast bias rows, and the planes of global, average
 * and windowed max pooling, each on a shape below the split threshold and one well above
 * it. */
#include "test.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/pool.h"
#include "onnx_test_util.h"

typedef void (*build_fn)(tb_op_t *o, int64_t size);

static inferd_tensor_t *values(int ndim, const int64_t *dims, unsigned seed)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= dims[i];
    float *v = malloc((size_t)n * sizeof(float));
    assert_non_null(v);
    for (int64_t i = 0; i < n; i++)
        v[i] = (float)sin((double)i * 0.731 + seed) * 3.0f; /* both signs */
    inferd_tensor_t *t = tb_t(INFERD_DTYPE_FP32, ndim, dims, v);
    free(v);
    return t;
}

static void build_add(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Add");
    tb_op_input(o, values(2, TB_DIMS(size, 64), 1));
    tb_op_input(o, values(2, TB_DIMS(size, 64), 2));
}

static void build_mul_scalar(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Mul");
    tb_op_input(o, values(2, TB_DIMS(size, 64), 3));
    tb_op_const(o, values(1, TB_DIMS(1), 4));
}

static void build_relu(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Relu");
    tb_op_input(o, values(2, TB_DIMS(size, 64), 5));
}

static void build_exp(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Exp");
    tb_op_input(o, values(2, TB_DIMS(size, 64), 6));
}

static void build_erf(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Erf");
    tb_op_input(o, values(2, TB_DIMS(size, 64), 7));
}

static void build_softmax(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Softmax");
    tb_op_input(o, values(2, TB_DIMS(size, 100), 8));
}

static void build_layernorm(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 17, "LayerNormalization");
    tb_op_input(o, values(2, TB_DIMS(size, 128), 9));
    tb_op_const(o, values(1, TB_DIMS(128), 10));
    tb_op_const(o, values(1, TB_DIMS(128), 11));
}

static void build_maxpool(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "MaxPool");
    tb_op_input(o, values(4, TB_DIMS(1, size, 32, 32), 12));
    tb_attr_ints(o->m, o->node, "kernel_shape", 2, TB_I64S(2, 2));
    tb_attr_ints(o->m, o->node, "strides", 2, TB_I64S(2, 2));
}

static void build_conv(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Conv");
    tb_op_input(o, values(4, TB_DIMS(1, 8, size, size), 13));
    tb_op_const(o, values(4, TB_DIMS(16, 8, 3, 3), 14));
    tb_op_const(o, values(1, TB_DIMS(16), 15));
    tb_attr_ints(o->m, o->node, "pads", 4, TB_I64S(1, 1, 1, 1));
}

/* Small planes, many channels: the GEMM cannot split the columns, so the convolution
 * splits the output channels. */
static void build_conv_deep(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Conv");
    tb_op_input(o, values(4, TB_DIMS(1, size, 8, 8), 16));
    tb_op_const(o, values(4, TB_DIMS(size, size, 3, 3), 17));
    tb_op_const(o, values(1, TB_DIMS(size), 18));
    tb_attr_ints(o->m, o->node, "pads", 4, TB_I64S(1, 1, 1, 1));
}

/* The head split of attention (last axis kept: row copies) and a strided one. */
static void build_transpose_heads(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Transpose");
    tb_op_input(o, values(4, TB_DIMS(size, 32, 8, 16), 19));
    tb_attr_ints(o->m, o->node, "perm", 4, TB_I64S(0, 2, 1, 3));
}

static void build_transpose_strided(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Transpose");
    tb_op_input(o, values(4, TB_DIMS(size, 32, 8, 16), 20));
    tb_attr_ints(o->m, o->node, "perm", 4, TB_I64S(0, 3, 1, 2));
}

/* LeNet's first layer on a batch: whole images per task, more tasks than threads. */
static void build_conv_batch(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Conv");
    tb_op_input(o, values(4, TB_DIMS(size, 1, 28, 28), 21));
    tb_op_const(o, values(4, TB_DIMS(6, 1, 5, 5), 22));
    tb_op_const(o, values(1, TB_DIMS(6), 23));
}

/* A transformer's projection: N = 128 gives the GEMM two column groups, so it splits rows. */
static void build_matmul_rows(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "MatMul");
    tb_op_input(o, values(3, TB_DIMS(size, 64, 128), 24));
    tb_op_const(o, values(2, TB_DIMS(128, 128), 25));
}

/* LeNet's first dense layer with its bias row. */
static void build_gemm_rows(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Gemm");
    tb_op_input(o, values(2, TB_DIMS(size, 256), 26));
    tb_op_const(o, values(2, TB_DIMS(256, 120), 27));
    tb_op_const(o, values(1, TB_DIMS(120), 28));
}

/* Attention scores: many small products, split by batch. */
static void build_matmul_batched(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "MatMul");
    tb_op_input(o, values(4, TB_DIMS(size, 2, 64, 32), 29));
    tb_op_input(o, values(3, TB_DIMS(2, 32, 64), 30)); /* broadcast over the first dim */
}

static void build_add_bias(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "Add");
    tb_op_input(o, values(3, TB_DIMS(size, 64, 128), 31));
    tb_op_const(o, values(1, TB_DIMS(128), 32));
}

static void build_global_avgpool(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "GlobalAveragePool");
    tb_op_input(o, values(4, TB_DIMS(size, 16, 16, 16), 33));
}

static void build_avgpool(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "AveragePool");
    tb_op_input(o, values(4, TB_DIMS(1, size, 16, 16), 34));
    tb_attr_ints(o->m, o->node, "kernel_shape", 2, TB_I64S(3, 3));
    tb_attr_ints(o->m, o->node, "pads", 4, TB_I64S(1, 1, 1, 1));
}

static void build_maxpool3(tb_op_t *o, int64_t size)
{
    tb_op_init(o, 13, "MaxPool");
    tb_op_input(o, values(4, TB_DIMS(1, size, 32, 32), 35));
    tb_attr_ints(o->m, o->node, "kernel_shape", 2, TB_I64S(3, 3));
    tb_attr_ints(o->m, o->node, "strides", 2, TB_I64S(2, 2));
}

static inferd_tensor_t *run_on(build_fn build, int64_t size, int threads)
{
    inferd_pool_t *pool = NULL;
    inferd_err_t err;
    if (threads > 1) {
        assert_int_equal(inferd_pool_create(threads - 1, &pool, &err), INFERD_OK);
        inferd_pool_set_default(pool);
    }
    tb_op_t o;
    build(&o, size);
    inferd_tensor_t *y = NULL;
    inferd_status_t rc = tb_op_run(&o, &y, &err);
    inferd_pool_set_default(NULL);
    inferd_pool_destroy(pool);
    if (rc != INFERD_OK)
        fail_msg("run failed: %s", err.msg);
    return y;
}

/* small: below the split threshold; large: several times above it. */
static void check(build_fn build, int64_t small, int64_t large)
{
    int64_t sizes[2] = {small, large};
    for (int s = 0; s < 2; s++) {
        inferd_tensor_t *one = run_on(build, sizes[s], 1);
        inferd_tensor_t *two = run_on(build, sizes[s], 2);
        size_t n = inferd_tensor_numel(one);
        assert_int_equal(inferd_tensor_numel(two), n);
        assert_true(n > 0);
        /* Bitwise, and not an all-equal agreement. */
        assert_memory_equal(one->data, two->data, n * sizeof(float));
        const float *v = one->data;
        size_t differ = 0;
        for (size_t i = 0; i < n; i++)
            differ += v[i] != v[0];
        assert_true(differ > 0);
        inferd_tensor_unref(one);
        inferd_tensor_unref(two);
    }
    assert_no_live_tensors();
}

static void add_is_thread_independent(void **state)
{
    (void)state;
    check(build_add, 3, 3001);
}

static void mul_scalar_is_thread_independent(void **state)
{
    (void)state;
    check(build_mul_scalar, 5, 2003);
}

static void relu_is_thread_independent(void **state)
{
    (void)state;
    check(build_relu, 7, 1999);
}

static void exp_erf_are_thread_independent(void **state)
{
    (void)state;
    check(build_exp, 2, 1501);
    check(build_erf, 2, 1501);
}

static void softmax_is_thread_independent(void **state)
{
    (void)state;
    check(build_softmax, 3, 1003);
}

static void layernorm_is_thread_independent(void **state)
{
    (void)state;
    check(build_layernorm, 3, 777);
}

static void maxpool_is_thread_independent(void **state)
{
    (void)state;
    check(build_maxpool, 2, 97);
}

static void conv_batch1_is_thread_independent(void **state)
{
    (void)state;
    check(build_conv, 6, 72);
    check(build_conv_deep, 8, 70);
}

static void transpose_is_thread_independent(void **state)
{
    (void)state;
    check(build_transpose_heads, 1, 41);
    check(build_transpose_strided, 1, 41);
}

static void conv_batch_is_thread_independent(void **state)
{
    (void)state;
    check(build_conv_batch, 1, 19);
}

static void matmul_gemm_rows_are_thread_independent(void **state)
{
    (void)state;
    check(build_matmul_rows, 1, 9);
    check(build_gemm_rows, 5, 203);
}

static void matmul_batches_are_thread_independent(void **state)
{
    (void)state;
    check(build_matmul_batched, 1, 13);
}

static void add_bias_rows_are_thread_independent(void **state)
{
    (void)state;
    check(build_add_bias, 1, 11);
}

static void pools_are_thread_independent(void **state)
{
    (void)state;
    check(build_global_avgpool, 1, 67);
    check(build_avgpool, 2, 131);
    check(build_maxpool3, 2, 97);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_is_thread_independent),
        cmocka_unit_test(mul_scalar_is_thread_independent),
        cmocka_unit_test(relu_is_thread_independent),
        cmocka_unit_test(exp_erf_are_thread_independent),
        cmocka_unit_test(softmax_is_thread_independent),
        cmocka_unit_test(layernorm_is_thread_independent),
        cmocka_unit_test(maxpool_is_thread_independent),
        cmocka_unit_test(conv_batch1_is_thread_independent),
        cmocka_unit_test(transpose_is_thread_independent),
        cmocka_unit_test(conv_batch_is_thread_independent),
        cmocka_unit_test(matmul_gemm_rows_are_thread_independent),
        cmocka_unit_test(matmul_batches_are_thread_independent),
        cmocka_unit_test(add_bias_rows_are_thread_independent),
        cmocka_unit_test(pools_are_thread_independent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
