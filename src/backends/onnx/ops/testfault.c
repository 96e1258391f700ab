/* inferd.test::Fault — compiled only into test builds (-DINFERD_TEST_FAULTS=ON), never
 * into a release binary. It copies its float input to its output, except when the
 * input's first element equals the `trigger` attribute (default 1.0): then it faults the
 * way the `kind` attribute says ("segv": a write through a bad pointer, "abort",
 * "fpe": an integer division by zero), inside an operator kernel, mid-request. That lets the
 * integration tests check the crash report against a real fault: the faulting address,
 * the backtrace through this file, the request and the operator node with its shapes. */
#include "backends/onnx/ops/ops.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "core/alloc.h"

typedef enum { FAULT_SEGV, FAULT_ABORT, FAULT_FPE } fault_kind_t;

typedef struct fault_data {
    fault_kind_t kind;
    float trigger;
} fault_data_t;

/* Kept out of line and volatile so the compiler cannot prove the fault away. */
static volatile int fault_zero;
static int *volatile fault_ptr = (int *)16;

__attribute__((noinline)) static void fault_now(fault_kind_t kind)
{
    switch (kind) {
    case FAULT_SEGV: *fault_ptr = 1; break;
    case FAULT_ABORT: abort();
    case FAULT_FPE: {
        volatile int one = 1;
        fault_zero = one / fault_zero;
        raise(SIGFPE); /* if the CPU did not trap (it does on x86-64) */
        break;
    }
    }
}

static inferd_status_t fault_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_tensor_t *const *out, inferd_err_t *err)
{
    (void)err;
    const fault_data_t *d = node->op_data;
    const float *x = in[0]->data;
    if (in[0]->nbytes >= sizeof(float) && x[0] == d->trigger)
        fault_now(d->kind);
    memcpy(out[0]->data, in[0]->data, in[0]->nbytes);
    return INFERD_OK;
}

static inferd_status_t fault_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    if (ic->in_types[0] != INFERD_DTYPE_FP32)
        return inferd_err_set(err, INFERD_E_UNSUPPORTED, "Fault takes FLOAT input, got %s",
                              inferd_dtype_name(ic->in_types[0]));
    fault_data_t *d = inferd_xcalloc(1, sizeof(*d));
    d->kind = FAULT_SEGV;
    const inferd_onnx_attr_t *k = inferd_onnx_attr_find(ic->node, "kind");
    if (k && k->type == INFERD_ONNX_ATTR_STRING) {
        if (strcmp(k->s, "abort") == 0)
            d->kind = FAULT_ABORT;
        else if (strcmp(k->s, "fpe") == 0)
            d->kind = FAULT_FPE;
        else if (strcmp(k->s, "segv") != 0) {
            inferd_free(d);
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "Fault: kind must be segv, abort or fpe");
        }
    }
    if (inferd_onnx_attr_float(ic->node, "trigger", 1.0f, &d->trigger, err) != INFERD_OK) {
        inferd_free(d);
        return err ? err->code : INFERD_E_INVALID_ARG;
    }
    ic->node->op_data = d;
    ic->node->compute = fault_compute;
    ic->out_types[0] = INFERD_DTYPE_FP32;
    return INFERD_OK;
}

static inferd_status_t fault_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                     inferd_onnx_shape_t *out, inferd_err_t *err)
{
    (void)node;
    (void)err;
    inferd_onnx_shape_of(in[0], &out[0]);
    return INFERD_OK;
}

const inferd_onnx_op_t inferd_onnx_ops_testfault[] = {
    {"inferd.test", "Fault", 1, 1, 1, 1, fault_init, fault_reshape},
};
const size_t inferd_onnx_ops_testfault_count =
    sizeof(inferd_onnx_ops_testfault) / sizeof(inferd_onnx_ops_testfault[0]);
