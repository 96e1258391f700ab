/* Per-thread scratch memory for the engine's kernels (im2col columns, Winograd tiles).
 *
 * A fresh buffer per call costs a page fault per 4 KiB on every call (malloc maps large
 * blocks and trims small ones off the heap's top when they are freed): measured 1.9x the
 * time of a 32-channel 32x32 convolution at batch 1. So each thread keeps one buffer for
 * its next call, whatever kernel asks: a thread's resident scratch is the largest single
 * need, not the sum of every kernel's. The buffer is apart from malloc's heap (kept inside
 * the heap it pinned the heap's top: resnet batch 32 peaked at 21 MB instead of 13),
 * replaced by a larger one when a call needs more, released when the thread exits (a
 * pthread key destructor); one above 16 MiB is not kept. */
#ifndef INFERD_BACKENDS_ONNX_KERNELS_SCRATCH_H
#define INFERD_BACKENDS_ONNX_KERNELS_SCRATCH_H

#include <stddef.h>

/* A page-aligned buffer of at least bytes, contents undefined, or NULL when out of
 * memory. Give it back with inferd_scratch_put(p, bytes) on the same thread. A nested
 * get on a thread whose buffer is in use gets a buffer of its own. */
void *inferd_scratch_get(size_t bytes);
void inferd_scratch_put(void *p, size_t bytes);

/* Releases the calling thread's kept buffer (not one in use). For tests. */
void inferd_scratch_release(void);

/* Bytes the calling thread keeps. For tests. */
size_t inferd_scratch_kept(void);

#endif
