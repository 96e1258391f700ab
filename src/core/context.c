/* Request context: deadline and cancellation checks (see inferd/context.h). */
#include "inferd/context.h"

#include <string.h>
#include <time.h>

int64_t inferd_now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

void inferd_ctx_init(inferd_ctx_t *ctx)
{
    memset(ctx, 0, sizeof(*ctx));
    atomic_init(&ctx->cancelled, false);
    atomic_init(&ctx->current_op, NULL);
}

void inferd_ctx_set_timeout_us(inferd_ctx_t *ctx, uint64_t timeout_us)
{
    /* Cap at ~100 years so the sum cannot overflow. */
    if (timeout_us > 3153600000000000ull)
        return;
    int64_t d = inferd_now_ns() + (int64_t)timeout_us * 1000;
    if (ctx->deadline_ns == 0 || d < ctx->deadline_ns)
        ctx->deadline_ns = d;
}

void inferd_ctx_cancel(inferd_ctx_t *ctx)
{
    atomic_store(&ctx->cancelled, true);
}

int64_t inferd_ctx_remaining_ns(const inferd_ctx_t *ctx)
{
    if (ctx->deadline_ns == 0)
        return INT64_MAX;
    return ctx->deadline_ns - inferd_now_ns();
}

inferd_status_t inferd_ctx_check(const inferd_ctx_t *ctx, inferd_err_t *err)
{
    if (atomic_load(&((inferd_ctx_t *)ctx)->cancelled))
        return inferd_err_set(err, INFERD_E_CANCELLED, "request cancelled");
    if (ctx->deadline_ns != 0 && inferd_now_ns() >= ctx->deadline_ns)
        return inferd_err_set(err, INFERD_E_DEADLINE_EXCEEDED, "deadline exceeded");
    return INFERD_OK;
}
