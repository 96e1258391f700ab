/* Deterministic test data for kernel tests: a linear congruential generator whose state
 * each test file keeps (its own seed), values in [-1, 1) on a 1/32768 grid, and buffers of
 * them. */
#ifndef INFERD_TEST_RAND_H
#define INFERD_TEST_RAND_H

#include <stdint.h>

#include "core/alloc.h"

static inline float test_frand(uint32_t *state)
{
    *state = *state * 1664525u + 1013904223u;
    return (float)((*state >> 8) & 0xffff) / 32768.0f - 1.0f;
}

/* n values (at least one float allocated); free with inferd_free. */
static inline float *test_rand_buf(uint32_t *state, int64_t n)
{
    float *p = inferd_xmalloc((size_t)(n ? n : 1) * sizeof(float));
    for (int64_t i = 0; i < n; i++)
        p[i] = test_frand(state);
    return p;
}

#endif
