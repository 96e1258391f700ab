/* Input-path copy counter (see copy_stats.h). Relaxed atomics: the counter orders nothing,
 * and readers only need a value that is eventually exact. */
#include "server/http/copy_stats.h"

#include <stdatomic.h>

static atomic_uint_fast64_t input_bytes_copied;

void inferd_copy_stats_add_input(uint64_t n)
{
    atomic_fetch_add_explicit(&input_bytes_copied, n, memory_order_relaxed);
}

uint64_t inferd_copy_stats_input_bytes(void)
{
    return atomic_load_explicit(&input_bytes_copied, memory_order_relaxed);
}
