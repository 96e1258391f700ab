/* One serialized TensorProto (backends/onnx/load.c inferd_onnx_tensor_decode): the
 * initializer checks (dims against payload, element types, sizes) before any allocation. */
#include "backends/onnx/graph.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    inferd_tensor_t *t = NULL;
    inferd_err_t err = {0};
    if (inferd_onnx_tensor_decode(data, size, &t, &err) != INFERD_OK) {
        FUZZ_ASSERT(t == NULL && err.msg[0] != '\0', "a failed decode without a message");
    } else {
        uint64_t numel = inferd_tensor_numel(t);
        if (t->dtype != INFERD_DTYPE_BYTES)
            FUZZ_ASSERT(t->nbytes == numel * inferd_dtype_size(t->dtype), "size mismatch");
        else
            FUZZ_ASSERT(inferd_bytes_valid(t->data, t->nbytes, numel), "bad BYTES layout");
        inferd_tensor_unref(t);
    }
    fuzz_check_tensors();
    return 0;
}
