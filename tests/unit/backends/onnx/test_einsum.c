/* Tests for src/backends/onnx/ops/einsum.c. FP32 two-operand contractions take the
 * gather + sgemm path; FP64 always takes the generic loop, so each equation runs in both
 * types on the same values and the two must agree. That covers batch/M/N/K label
 * classification, transposed operands and outputs, implicit outputs, outer products and
 * ellipsis, plus the fallbacks (diagonals, broadcast ellipsis, one operand). Two results
 * are also checked against values worked out by hand. */
#include "test.h"

#include <string.h>

#include "onnx_test_util.h"

#define MAXN 256

/* Deterministic values in [-1, 1) with a few distinct magnitudes. */
static void fill(double *v, int n, int seed)
{
    for (int i = 0; i < n; i++)
        v[i] = (double)((i * 37 + seed * 11) % 23 - 11) / 11.0;
}

static int64_t numel(int ndim, const int64_t *dims)
{
    int64_t n = 1;
    for (int i = 0; i < ndim; i++)
        n *= dims[i];
    return n;
}

static inferd_tensor_t *make(inferd_dtype_t dt, int ndim, const int64_t *dims, const double *v)
{
    int64_t n = numel(ndim, dims);
    float f[MAXN];
    for (int64_t i = 0; i < n; i++)
        f[i] = (float)v[i];
    return tb_t(dt, ndim, dims, dt == INFERD_DTYPE_FP32 ? (const void *)f : (const void *)v);
}

static inferd_tensor_t *run(inferd_dtype_t dt, const char *eq, int n_in, const int *ndims,
                            const int64_t *const *dims, double *const *vals)
{
    tb_op_t o;
    tb_op_init(&o, 12, "Einsum");
    for (int i = 0; i < n_in; i++)
        tb_op_input(&o, make(dt, ndims[i], dims[i], vals[i]));
    tb_attr_string(o.m, o.node, "equation", eq);
    inferd_tensor_t *y;
    inferd_err_t err;
    if (tb_op_run(&o, &y, &err) != INFERD_OK)
        fail_msg("Einsum '%s' failed: %s", eq, err.msg);
    return y;
}

/* Runs eq in FP32 and FP64 and compares element by element. */
static void agree(const char *eq, int n_in, const int *ndims, const int64_t *const *dims)
{
    double a[MAXN], b[MAXN];
    double *vals[2] = {a, b};
    fill(a, MAXN, 1);
    fill(b, MAXN, 2);
    inferd_tensor_t *y32 = run(INFERD_DTYPE_FP32, eq, n_in, ndims, dims, vals);
    inferd_tensor_t *y64 = run(INFERD_DTYPE_FP64, eq, n_in, ndims, dims, vals);
    assert_int_equal(y32->ndim, y64->ndim);
    assert_memory_equal(y32->dims, y64->dims, sizeof(int64_t) * (size_t)y32->ndim);
    uint64_t n = inferd_tensor_numel(y64);
    for (uint64_t i = 0; i < n; i++) {
        double want = ((const double *)y64->data)[i], got = ((const float *)y32->data)[i];
        if (got - want > 1e-4 || want - got > 1e-4)
            fail_msg("'%s' element %llu: FP32 %g, FP64 %g", eq, (unsigned long long)i, got, want);
    }
    inferd_tensor_unref(y32);
    inferd_tensor_unref(y64);
    assert_no_live_tensors();
}

static void gemm_path_matches_generic_loop(void **state)
{
    (void)state;
    agree("bij,bjk->bik", 2, (int[]){3, 3},
          (const int64_t *[]){TB_DIMS(2, 3, 4), TB_DIMS(2, 4, 5)});
    agree("ij,jk->ki", 2, (int[]){2, 2}, (const int64_t *[]){TB_DIMS(3, 4), TB_DIMS(4, 5)});
    agree("bhqd,bhkd->bhqk", 2, (int[]){4, 4},
          (const int64_t *[]){TB_DIMS(1, 2, 3, 4), TB_DIMS(1, 2, 5, 4)});
    agree("ij,kj", 2, (int[]){2, 2}, (const int64_t *[]){TB_DIMS(3, 4), TB_DIMS(5, 4)});
    agree("i,i", 2, (int[]){1, 1}, (const int64_t *[]){TB_DIMS(7), TB_DIMS(7)});
    agree("i,j->ij", 2, (int[]){1, 1}, (const int64_t *[]){TB_DIMS(3), TB_DIMS(4)});
    agree("...ij,...jk->...ik", 2, (int[]){4, 4},
          (const int64_t *[]){TB_DIMS(2, 2, 2, 3), TB_DIMS(2, 2, 3, 2)});
    agree("ji,bjk->bki", 2, (int[]){2, 3}, (const int64_t *[]){TB_DIMS(4, 3), TB_DIMS(2, 4, 5)});
}

static void fallbacks_match_generic_loop(void **state)
{
    (void)state;
    /* A diagonal, a label summed inside one operand, broadcast ellipsis, one operand. */
    agree("bii,bij->bj", 2, (int[]){3, 3}, (const int64_t *[]){TB_DIMS(2, 3, 3), TB_DIMS(2, 3, 4)});
    agree("ij,jk->k", 2, (int[]){2, 2}, (const int64_t *[]){TB_DIMS(3, 4), TB_DIMS(4, 5)});
    agree("...ij,...jk->...ik", 2, (int[]){4, 3},
          (const int64_t *[]){TB_DIMS(2, 1, 2, 3), TB_DIMS(3, 3, 2)});
    agree("ij->ji", 1, (int[]){2}, (const int64_t *[]){TB_DIMS(3, 4)});
}

static void hand_checked_values(void **state)
{
    (void)state;
    /* [[1,2],[3,4]] x [[5,6],[7,8]] = [[19,22],[43,50]]; transposed output. */
    tb_op_t o;
    tb_op_init(&o, 12, "Einsum");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_F32S(1, 2, 3, 4)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_F32S(5, 6, 7, 8)));
    tb_attr_string(o.m, o.node, "equation", "ij,jk->ki");
    inferd_tensor_t *y;
    inferd_err_t err;
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_F32S(19, 43, 22, 50), 1e-6);
    inferd_tensor_unref(y);
    /* Implicit output of "ba,ca": labels seen once, sorted: b then c. */
    tb_op_init(&o, 12, "Einsum");
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(1, 2), TB_F32S(1, 2)));
    tb_op_input(&o, tb_t(INFERD_DTYPE_FP32, 2, TB_DIMS(2, 2), TB_F32S(3, 4, 5, 6)));
    tb_attr_string(o.m, o.node, "equation", "ba,ca");
    assert_int_equal(tb_op_run(&o, &y, &err), INFERD_OK);
    tb_expect(y, INFERD_DTYPE_FP32, 2, TB_DIMS(1, 2), TB_F32S(11, 17), 1e-6);
    inferd_tensor_unref(y);
    assert_no_live_tensors();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(gemm_path_matches_generic_loop),
        cmocka_unit_test(fallbacks_match_generic_loop),
        cmocka_unit_test(hand_checked_values),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
