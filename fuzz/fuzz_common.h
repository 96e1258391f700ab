/* Shared by the harnesses. Each iteration must hand back every tensor it made: the live
 * tensor account (core/tensor.c) is checked after every input, which catches a leaked
 * tensor at the input that leaked it rather than at exit. */
#ifndef INFERD_FUZZ_COMMON_H
#define INFERD_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>

#include "inferd/tensor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static inline void fuzz_check_tensors(void)
{
    inferd_tensor_stats_t s;
    inferd_tensor_stats(&s);
    if (s.total_count != 0 || s.total_bytes != 0) {
        fprintf(stderr, "fuzz: %lld tensors (%lld bytes) still live after the input\n",
                (long long)s.total_count, (long long)s.total_bytes);
        abort();
    }
}

/* With FUZZ_VERBOSE set, prints why an input was rejected (to triage a corpus). */
static inline void fuzz_note(const char *what, const char *msg)
{
    static int verbose = -1;
    if (verbose < 0)
        verbose = getenv("FUZZ_VERBOSE") != NULL;
    if (verbose)
        fprintf(stderr, "fuzz: %s: %s\n", what, msg);
}

/* Stops the run with a message: a property the harness checks does not hold. */
#define FUZZ_ASSERT(cond, ...)                                                                     \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "fuzz: %s:%d: %s: ", __FILE__, __LINE__, #cond);                       \
            fprintf(stderr, __VA_ARGS__);                                                          \
            fputc('\n', stderr);                                                                   \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

#endif
