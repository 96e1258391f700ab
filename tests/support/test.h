/* Common includes for cmocka unit tests. cmocka needs these headers before its own. */
#ifndef INFERD_TEST_H
#define INFERD_TEST_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "inferd/tensor.h"

/* Asserts that no tensor is alive (every test must release what it made). */
static inline void assert_no_live_tensors(void)
{
    inferd_tensor_stats_t st;
    inferd_tensor_stats(&st);
    assert_int_equal(st.total_count, 0);
    assert_int_equal(st.total_bytes, 0);
}

#endif
