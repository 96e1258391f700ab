/* The operator registry: every op family's table, and the lookup that binds a node to
 * the operator version its model's opset selects (see ops.h). Adding a family means
 * adding its table here. Lookups happen at load only, so a linear scan is enough for now;
 * with hundreds of ops a hash on op_type would replace it without changing the API. */
#include "backends/onnx/ops/ops.h"

#include <string.h>

typedef struct op_table {
    const inferd_onnx_op_t *ops;
    const size_t *count;
} op_table_t;

static const op_table_t op_tables[] = {
    {inferd_onnx_ops_activation, &inferd_onnx_ops_activation_count},
    {inferd_onnx_ops_binary, &inferd_onnx_ops_binary_count},
    {inferd_onnx_ops_cast, &inferd_onnx_ops_cast_count},
    {inferd_onnx_ops_constant, &inferd_onnx_ops_constant_count},
    {inferd_onnx_ops_gemm, &inferd_onnx_ops_gemm_count},
    {inferd_onnx_ops_movement, &inferd_onnx_ops_movement_count},
    {inferd_onnx_ops_reduce, &inferd_onnx_ops_reduce_count},
    {inferd_onnx_ops_shape, &inferd_onnx_ops_shape_count},
    {inferd_onnx_ops_softmax, &inferd_onnx_ops_softmax_count},
    {inferd_onnx_ops_conv, &inferd_onnx_ops_conv_count},
    {inferd_onnx_ops_pool, &inferd_onnx_ops_pool_count},
    {inferd_onnx_ops_norm, &inferd_onnx_ops_norm_count},
    {inferd_onnx_ops_resize, &inferd_onnx_ops_resize_count},
    {inferd_onnx_ops_rnn, &inferd_onnx_ops_rnn_count},
    {inferd_onnx_ops_quant, &inferd_onnx_ops_quant_count},
    {inferd_onnx_ops_einsum, &inferd_onnx_ops_einsum_count},
    {inferd_onnx_ops_roialign, &inferd_onnx_ops_roialign_count},
    {inferd_onnx_ops_gridsample, &inferd_onnx_ops_gridsample_count},
    {inferd_onnx_ops_nms, &inferd_onnx_ops_nms_count},
    {inferd_onnx_ops_unary, &inferd_onnx_ops_unary_count},
    {inferd_onnx_ops_elementwise, &inferd_onnx_ops_elementwise_count},
    {inferd_onnx_ops_tensor, &inferd_onnx_ops_tensor_count},
    {inferd_onnx_ops_indexing, &inferd_onnx_ops_indexing_count},
    {inferd_onnx_ops_loss, &inferd_onnx_ops_loss_count},
    {inferd_onnx_ops_linalg, &inferd_onnx_ops_linalg_count},
    {inferd_onnx_ops_string, &inferd_onnx_ops_string_count},
    {inferd_onnx_ops_training, &inferd_onnx_ops_training_count},
    {inferd_onnx_ops_signal, &inferd_onnx_ops_signal_count},
    {inferd_onnx_ops_control, &inferd_onnx_ops_control_count},
    {inferd_onnx_ops_sequence, &inferd_onnx_ops_sequence_count},
    {inferd_onnx_ops_gradient, &inferd_onnx_ops_gradient_count},
#ifdef INFERD_TEST_FAULTS
    {inferd_onnx_ops_testfault, &inferd_onnx_ops_testfault_count},
#endif
};

static const char *canonical_domain(const char *domain)
{
    if (!domain || strcmp(domain, "ai.onnx") == 0)
        return "";
    return domain;
}

const inferd_onnx_op_t *inferd_onnx_op_find(const char *domain, const char *op_type, int64_t opset)
{
    domain = canonical_domain(domain);
    const inferd_onnx_op_t *best = NULL;
    for (size_t t = 0; t < sizeof(op_tables) / sizeof(op_tables[0]); t++) {
        for (size_t i = 0; i < *op_tables[t].count; i++) {
            const inferd_onnx_op_t *op = &op_tables[t].ops[i];
            if (op->since_version > opset || strcmp(op->op_type, op_type) != 0 ||
                strcmp(op->domain, domain) != 0)
                continue;
            if (!best || op->since_version > best->since_version)
                best = op;
        }
    }
    return best;
}

void inferd_onnx_op_foreach(void (*fn)(const inferd_onnx_op_t *op, void *arg), void *arg)
{
    for (size_t t = 0; t < sizeof(op_tables) / sizeof(op_tables[0]); t++)
        for (size_t i = 0; i < *op_tables[t].count; i++)
            fn(&op_tables[t].ops[i], arg);
}
