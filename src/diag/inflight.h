/* The in-flight request table: a fixed array of slots in which the front end registers
 * each inference while it is in flight, so that the crash handler and /debug/requests can
 * name what the server was doing (request id, model, version, age, the operator node
 * being run with its input shapes, and the request's input shapes). A second table lists
 * running dynamic batches, whose node is shown for each member (see the end of this
 * header).
 *
 * Nothing here allocates or locks. A slot is claimed with a compare-and-swap
 * (inferd_inflight_add), its text fields are filled, and only then is it published to
 * /debug readers (inferd_inflight_publish, a release store they pair with an acquire), so
 * those readers never see a field being written. They also announce themselves on the slot
 * so that removal waits until they are done with the context. The crash handler reads
 * claimed slots too, without announcing itself, since it must never wait, and accepts a
 * torn read. */
#ifndef INFERD_DIAG_INFLIGHT_H
#define INFERD_DIAG_INFLIGHT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"
#include "inferd/context.h"
#include "inferd/tensor.h"

/* Slots in the table: requests beyond this are served but not listed. */
#define INFERD_INFLIGHT_SLOTS 1024

/* A snapshot of one in-flight request, copied out of its slot. */
typedef struct inferd_inflight_info {
    int slot;
    char request_id[INFERD_REQUEST_ID_MAX];
    char model[128];
    char version[24];
    char current_op[128]; /* empty when no operator is running */
    char current_op_inputs[sizeof(((inferd_ctx_t *)0)->current_op_inputs)]; /* its inputs */
    char inputs[256]; /* the request's input shapes, e.g. "[4,64] [4]", or empty */
    int64_t age_ns;
} inferd_inflight_info_t;

/* Claims a slot for ctx (borrowed: it must stay valid until inferd_inflight_remove
 * returns) under model and version (copied, truncated). From here the crash handler lists
 * the request; /debug/requests lists it once it is published. Returns the slot, or -1 when
 * the table is full. Thread: any; lock-free. */
int inferd_inflight_add(inferd_ctx_t *ctx, const char *model_name, const char *version);

/* Records the request's id (read from its context now: the front end sets it after
 * inferd_inflight_add) and input shapes (in backend input order, e.g. "[4,64] [4]"; NULL
 * entries are skipped), then publishes the slot to /debug readers. A request that fails
 * before this (bad input) is never listed there. A slot of -1 does nothing. Thread: the
 * thread that added the slot, once, before the request is queued. */
void inferd_inflight_publish(int slot, inferd_tensor_t *const *inputs, size_t n);

/* Unregisters a slot; waits (briefly) for /debug readers still copying its context, so the
 * caller may free the context afterwards. A slot of -1 does nothing. Thread: any. */
void inferd_inflight_remove(int slot);

/* Copies up to cap in-flight requests into out, oldest first; returns how many there are
 * (may exceed cap). Thread: any; never blocks a request. */
size_t inferd_inflight_snapshot(inferd_inflight_info_t *out, size_t cap);

/* Appends {"count":N,"requests":[{"id","model","version","state","age_ms","current_op",
 * "current_op_inputs","inputs"}...]} for /debug/requests; state is "running" while an
 * operator runs for the request (alone or in a batch), else "waiting" (queued, or being
 * decoded or encoded); current_op_inputs is the running node's input shapes (null when
 * none runs). */
void inferd_inflight_json(inferd_buf_t *out);

/* Calls fn for each claimed slot without waiting for anything, for the crash handler:
 * the strings it passes point into the table (model, version, request id, inputs), into
 * the model (current_op, may be NULL) or into the running context (op_inputs, the node's
 * input shapes, at most INFERD_INFLIGHT_OP_INPUTS_MAX bytes and perhaps not terminated)
 * and may be torn by a concurrent update. For a request that runs in a batch, current_op
 * and op_inputs are the batch's. Async-signal-safe. */
typedef void (*inferd_inflight_visit_cb)(void *arg, const char *request_id, const char *model,
                                         const char *version, const char *current_op,
                                         const char *op_inputs, const char *inputs,
                                         int64_t start_ns);
void inferd_inflight_visit_unsafe(inferd_inflight_visit_cb fn, void *arg);

#define INFERD_INFLIGHT_OP_INPUTS_MAX sizeof(((inferd_ctx_t *)0)->current_op_inputs)

/* Running batches. A batched execution runs on the scheduler's own context, not on its
 * requests': while it runs, the crash report and /debug/requests show that context's
 * operator and node input shapes for each member. The scheduler calls begin with the
 * batch's context, add for each member, and end before it completes any member (whose
 * context may then be freed). Up to INFERD_INFLIGHT_BATCHES batches and
 * INFERD_INFLIGHT_BATCH_MEMBERS members each are listed; beyond that the batch runs
 * unlisted (its members show as waiting). Lock-free: begin and add are a few atomic
 * stores, end waits (briefly) only for /debug readers copying the batch's context. */
#define INFERD_INFLIGHT_BATCHES 64
#define INFERD_INFLIGHT_BATCH_MEMBERS 64

/* Claims a batch slot for runner (borrowed until end); -1 when none is free. Thread: the
 * worker that runs the batch. */
int inferd_inflight_batch_begin(const inferd_ctx_t *runner);

/* Lists member (borrowed until end) as running in batch h. h of -1 does nothing. */
void inferd_inflight_batch_add(int h, const inferd_ctx_t *member);

/* Unlists batch h; afterwards neither runner nor the members are read. h of -1 does
 * nothing. */
void inferd_inflight_batch_end(int h);

#endif
