/* The in-flight request table (see inflight.h). Slot life cycle: busy 0 -> 1 by CAS (the
 * adder owns the slot), claimed set, text fields written, ctx published with a release
 * store; removal clears ctx, waits for announced readers to leave, then frees the slot
 * (claimed = NULL, busy = 0). */
#include "diag/inflight.h"

#include <sched.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"

typedef struct {
    atomic_int busy;                 /* 1 while a request owns the slot */
    atomic_int readers;              /* /debug readers copying ctx right now */
    _Atomic(inferd_ctx_t *) ctx;     /* published last; NULL while the slot is not listed */
    _Atomic(inferd_ctx_t *) claimed; /* set at add, for the crash handler only */
    int64_t start_ns;
    char model[128];
    char version[24];
    char request_id[INFERD_REQUEST_ID_MAX]; /* copied at add and again at publish */
    char inputs[256];
} slot_t;

static slot_t slots[INFERD_INFLIGHT_SLOTS];
static atomic_uint next_hint; /* where the next claim starts looking; spreads adders out */

/* A running batch: claimed with a CAS on busy (the worker owns it), runner published, then
 * each member stored before n counts it (release), so a reader that sees n sees the
 * members. End clears n and runner, waits for announced readers, then frees the slot. */
typedef struct {
    atomic_int busy;
    atomic_int readers;                   /* /debug readers using runner right now */
    _Atomic(const inferd_ctx_t *) runner; /* NULL while the slot is free */
    _Atomic(const inferd_ctx_t *) member[INFERD_INFLIGHT_BATCH_MEMBERS];
    atomic_size_t n;
} batch_t;

static batch_t batches[INFERD_INFLIGHT_BATCHES];

static void copy_str(char *dst, size_t cap, const char *src)
{
    size_t i = 0;
    for (; src && src[i] && i + 1 < cap; i++)
        dst[i] = src[i];
    dst[i] = '\0';
}

int inferd_inflight_add(inferd_ctx_t *ctx, const char *model_name, const char *version)
{
    unsigned start = atomic_fetch_add_explicit(&next_hint, 1, memory_order_relaxed);
    for (unsigned k = 0; k < INFERD_INFLIGHT_SLOTS; k++) {
        int i = (int)((start + k) % INFERD_INFLIGHT_SLOTS);
        slot_t *s = &slots[i];
        int expected = 0;
        if (atomic_load_explicit(&s->busy, memory_order_relaxed) != 0 ||
            !atomic_compare_exchange_strong(&s->busy, &expected, 1))
            continue;
        s->start_ns = inferd_now_ns();
        copy_str(s->model, sizeof(s->model), model_name);
        copy_str(s->version, sizeof(s->version), version);
        copy_str(s->request_id, sizeof(s->request_id), ctx->request_id);
        s->inputs[0] = '\0';
        atomic_store_explicit(&s->claimed, ctx, memory_order_release);
        return i;
    }
    return -1;
}

/* Appends a literal and, when with_num, a number, truncating at the end of the buffer. */
static void append_part(char *buf, size_t cap, size_t *len, const char *lit, bool with_num,
                        long long v)
{
    if (*len + 1 >= cap)
        return;
    int w = with_num ? snprintf(buf + *len, cap - *len, "%s%lld", lit, v)
                     : snprintf(buf + *len, cap - *len, "%s", lit);
    if (w > 0)
        *len = *len + (size_t)w < cap ? *len + (size_t)w : cap - 1;
}

void inferd_inflight_publish(int slot, inferd_tensor_t *const *tensors, size_t n)
{
    if (slot < 0 || slot >= INFERD_INFLIGHT_SLOTS)
        return;
    slot_t *s = &slots[slot];
    inferd_ctx_t *ctx = atomic_load_explicit(&s->claimed, memory_order_relaxed);
    char inputs[sizeof(s->inputs)];
    size_t len = 0;
    inputs[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const inferd_tensor_t *t = tensors[i];
        if (!t)
            continue;
        append_part(inputs, sizeof(inputs), &len, len ? " [" : "[", false, 0);
        for (int d = 0; d < t->ndim; d++)
            append_part(inputs, sizeof(inputs), &len, d ? "," : "", true, (long long)t->dims[d]);
        append_part(inputs, sizeof(inputs), &len, "]", false, 0);
    }
    /* Only the crash handler can be reading these now; copy_str always leaves a
     * terminator within the array, so even its torn read stays bounded. */
    copy_str(s->inputs, sizeof(s->inputs), inputs);
    if (ctx)
        copy_str(s->request_id, sizeof(s->request_id), ctx->request_id);
    atomic_store_explicit(&s->ctx, ctx, memory_order_release);
}

void inferd_inflight_remove(int slot)
{
    if (slot < 0 || slot >= INFERD_INFLIGHT_SLOTS)
        return;
    slot_t *s = &slots[slot];
    atomic_store(&s->ctx, NULL); /* seq_cst: pairs with the readers' announce-then-load */
    while (atomic_load(&s->readers) > 0)
        sched_yield();
    atomic_store(&s->claimed, NULL);
    atomic_store(&s->busy, 0);
}

int inferd_inflight_batch_begin(const inferd_ctx_t *runner)
{
    for (int i = 0; i < INFERD_INFLIGHT_BATCHES; i++) {
        batch_t *b = &batches[i];
        int expected = 0;
        if (atomic_load_explicit(&b->busy, memory_order_relaxed) != 0 ||
            !atomic_compare_exchange_strong(&b->busy, &expected, 1))
            continue;
        atomic_store_explicit(&b->n, 0, memory_order_relaxed);
        atomic_store_explicit(&b->runner, runner, memory_order_release);
        return i;
    }
    return -1;
}

void inferd_inflight_batch_add(int h, const inferd_ctx_t *member)
{
    if (h < 0 || h >= INFERD_INFLIGHT_BATCHES)
        return;
    batch_t *b = &batches[h];
    size_t n = atomic_load_explicit(&b->n, memory_order_relaxed);
    if (n >= INFERD_INFLIGHT_BATCH_MEMBERS)
        return;
    atomic_store_explicit(&b->member[n], member, memory_order_relaxed);
    atomic_store_explicit(&b->n, n + 1, memory_order_release);
}

void inferd_inflight_batch_end(int h)
{
    if (h < 0 || h >= INFERD_INFLIGHT_BATCHES)
        return;
    batch_t *b = &batches[h];
    atomic_store(&b->n, 0);
    atomic_store(&b->runner, NULL); /* seq_cst: pairs with the readers' announce-then-load */
    while (atomic_load(&b->readers) > 0)
        sched_yield();
    atomic_store(&b->busy, 0);
}

/* The context that runs ctx's operators right now: ctx itself, or the runner of a batch
 * that lists it, or NULL. With announce (the /debug readers), a batch found is left
 * announced in *held (release with batch_release), so its runner stays valid; without
 * (the crash handler), nothing waits and the result may be stale. */
static const inferd_ctx_t *running_ctx(const inferd_ctx_t *ctx, bool announce, batch_t **held)
{
    if (atomic_load(&ctx->current_op))
        return ctx;
    for (int i = 0; i < INFERD_INFLIGHT_BATCHES; i++) {
        batch_t *b = &batches[i];
        if (!atomic_load_explicit(&b->runner, memory_order_relaxed))
            continue;
        if (announce)
            atomic_fetch_add(&b->readers, 1);
        const inferd_ctx_t *runner = atomic_load(&b->runner);
        size_t n = runner ? atomic_load_explicit(&b->n, memory_order_acquire) : 0;
        for (size_t k = 0; k < n && k < INFERD_INFLIGHT_BATCH_MEMBERS; k++) {
            if (atomic_load_explicit(&b->member[k], memory_order_relaxed) == ctx) {
                if (announce)
                    *held = b;
                return runner;
            }
        }
        if (announce)
            atomic_fetch_sub(&b->readers, 1);
    }
    return NULL;
}

static void batch_release(batch_t *held)
{
    if (held)
        atomic_fetch_sub(&held->readers, 1);
}

size_t inferd_inflight_snapshot(inferd_inflight_info_t *out, size_t cap)
{
    size_t n = 0;
    int64_t now = inferd_now_ns();
    for (int i = 0; i < INFERD_INFLIGHT_SLOTS; i++) {
        slot_t *s = &slots[i];
        if (!atomic_load_explicit(&s->ctx, memory_order_relaxed))
            continue;
        /* Announce, then load: a remover that cleared ctx before our load makes us see
         * NULL; one that clears it after must wait for our departure. */
        atomic_fetch_add(&s->readers, 1);
        inferd_ctx_t *ctx = atomic_load(&s->ctx);
        if (ctx) {
            if (n < cap) {
                inferd_inflight_info_t *o = &out[n];
                o->slot = i;
                copy_str(o->request_id, sizeof(o->request_id), s->request_id);
                copy_str(o->model, sizeof(o->model), s->model);
                copy_str(o->version, sizeof(o->version), s->version);
                copy_str(o->inputs, sizeof(o->inputs), s->inputs);
                batch_t *held = NULL;
                const inferd_ctx_t *run = running_ctx(ctx, true, &held);
                const char *op = run ? atomic_load(&run->current_op) : NULL;
                copy_str(o->current_op, sizeof(o->current_op), op);
                /* The engine may be writing the next node's shapes: a torn copy is
                 * accepted, and the copy is bounded by the array. */
                char shapes[sizeof(o->current_op_inputs)];
                if (op)
                    memcpy(shapes, run->current_op_inputs, sizeof(shapes));
                shapes[op ? sizeof(shapes) - 1 : 0] = '\0';
                copy_str(o->current_op_inputs, sizeof(o->current_op_inputs), shapes);
                batch_release(held);
                o->age_ns = now - s->start_ns;
            }
            n++;
        }
        atomic_fetch_sub(&s->readers, 1);
    }
    /* Oldest first (insertion sort: a snapshot is small and taken rarely). */
    size_t m = n < cap ? n : cap;
    for (size_t i = 1; i < m; i++) {
        inferd_inflight_info_t t = out[i];
        size_t j = i;
        for (; j > 0 && out[j - 1].age_ns < t.age_ns; j--)
            out[j] = out[j - 1];
        out[j] = t;
    }
    return n;
}

void inferd_inflight_json(inferd_buf_t *out)
{
    enum { CAP = 256 };
    /* ~150 KiB: too much for an I/O thread's stack. */
    inferd_inflight_info_t *info = inferd_xcalloc(CAP, sizeof(*info));
    size_t n = inferd_inflight_snapshot(info, CAP);
    inferd_buf_printf(out, "{\"count\":%zu,\"requests\":[", n);
    for (size_t i = 0; i < n && i < CAP; i++) {
        const inferd_inflight_info_t *r = &info[i];
        inferd_buf_append_str(out, i ? ",{\"id\":" : "{\"id\":");
        inferd_buf_append_json_str(out, r->request_id, strlen(r->request_id));
        inferd_buf_append_str(out, ",\"model\":");
        inferd_buf_append_json_str(out, r->model, strlen(r->model));
        inferd_buf_append_str(out, ",\"version\":");
        inferd_buf_append_json_str(out, r->version, strlen(r->version));
        inferd_buf_printf(out, ",\"state\":\"%s\",\"age_ms\":%.3f,\"current_op\":",
                          r->current_op[0] ? "running" : "waiting", (double)r->age_ns / 1e6);
        if (r->current_op[0])
            inferd_buf_append_json_str(out, r->current_op, strlen(r->current_op));
        else
            inferd_buf_append_str(out, "null");
        inferd_buf_append_str(out, ",\"current_op_inputs\":");
        if (r->current_op[0])
            inferd_buf_append_json_str(out, r->current_op_inputs, strlen(r->current_op_inputs));
        else
            inferd_buf_append_str(out, "null");
        inferd_buf_append_str(out, ",\"inputs\":");
        inferd_buf_append_json_str(out, r->inputs, strlen(r->inputs));
        inferd_buf_append_char(out, '}');
    }
    inferd_buf_append_str(out, "]}");
    inferd_free(info);
}

void inferd_inflight_visit_unsafe(inferd_inflight_visit_cb fn, void *arg)
{
    for (int i = 0; i < INFERD_INFLIGHT_SLOTS; i++) {
        slot_t *s = &slots[i];
        inferd_ctx_t *ctx = atomic_load_explicit(&s->claimed, memory_order_acquire);
        if (!ctx)
            continue;
        const inferd_ctx_t *run = running_ctx(ctx, false, NULL);
        fn(arg, s->request_id, s->model, s->version, run ? atomic_load(&run->current_op) : NULL,
           run ? run->current_op_inputs : "", s->inputs, s->start_ns);
    }
}
