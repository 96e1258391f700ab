/* ONNX model loader (backends/onnx/load.c and the graph finalizer it calls: topological
 * sort, operator binding, dtype propagation, load-time constant folding). Any bytes either
 * load or fail with a message; nothing crashes, leaks, or allocates more than the fuzzer's
 * -malloc_limit_mb. The model's directory does not exist, so external data never reads a
 * file. */
#include "backends/onnx/graph.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    inferd_onnx_graph_t *g = NULL;
    inferd_err_t err = {0};
    inferd_status_t rc =
        inferd_onnx_graph_load_buffer(data, size, "/nonexistent/fuzz/model.onnx", &g, &err);
    fuzz_note("load", rc == INFERD_OK ? "ok" : err.msg);
    if (rc != INFERD_OK)
        FUZZ_ASSERT(g == NULL && err.msg[0] != '\0', "a failed load without a message (%d)",
                    (int)rc);
    inferd_onnx_graph_destroy(g);
    fuzz_check_tensors();
    return 0;
}
