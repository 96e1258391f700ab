/* A process-wide count of the bytes the HTTP front end copies while turning a request into
 * input tensors. It is how inferd shows that binary tensor data (and, later, shared-memory
 * inputs) is used in place: JSON inputs add the size of the tensors decoded from text, a
 * binary input adds nothing unless its blob had to be moved to meet the element alignment.
 * Exposed on /debug/tensors as "input_bytes_copied". */
#ifndef INFERD_SERVER_HTTP_COPY_STATS_H
#define INFERD_SERVER_HTTP_COPY_STATS_H

#include <stdint.h>

/* Adds n bytes to the input-path copy counter. Thread: any (atomic, relaxed). */
void inferd_copy_stats_add_input(uint64_t n);

/* The bytes copied on the input path since the process started. Thread: any. */
uint64_t inferd_copy_stats_input_bytes(void);

#endif
