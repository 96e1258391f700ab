/* Winograd F(4x4, 3x3) convolution for group-1, stride-1, undilated 3x3 FP32 Conv.
 *
 * Each 6x6 input tile d and each 3x3 filter g are transformed (V = B^T d B, U = G g G^T);
 * the 36 transformed positions become 36 independent products [tiles, C] x [C, M] on the
 * engine's row-stable GEMM (kernels/sgemm.h), with the tiles as rows and U packed once at
 * load; each 6x6 product tile m goes back through Y = A^T m A, where the bias and the fused
 * activation are applied (and a fused residual, between the two). That is 36 multiplies per
 * 16 outputs per channel pair instead of 144. The transforms run 16 channels at a time
 * (AVX-512, AVX2 or baseline SSE, chosen at run time) on an image band staged channel-minor.
 *
 * An output element's arithmetic depends only on its own tile (fixed transform
 * expressions, one k-ascending GEMM sum per position), never on which tiles share a GEMM,
 * the batch or the thread split: an image's outputs are the same alone or batched. */
#ifndef INFERD_BACKENDS_ONNX_KERNELS_WINOGRAD_H
#define INFERD_BACKENDS_ONNX_KERNELS_WINOGRAD_H

#include <stdbool.h>
#include <stdint.h>

#include "backends/onnx/graph.h"
#include "backends/onnx/kernels/sgemm.h"

/* Transformed weights: position p's [C, Mp] matrix is panels p * Mp / 16 onward of pack
 * (Mp = M rounded up to 16, the extra columns zero). Read-only once built. */
typedef struct inferd_wino {
    int64_t m, c, mp, cp; /* channels out and in; both rounded up to 16 */
    inferd_sgemm_pack_t *pack;
} inferd_wino_t;

/* Transforms W [m, c, 3, 3] into a new inferd_wino_t whose memory is charged to owner.
 * Returns NULL when out of memory or a count is not positive. */
inferd_wino_t *inferd_wino_create(const float *w, int64_t m, int64_t c, inferd_owner_t owner);

/* Frees the weights. NULL does nothing. */
void inferd_wino_destroy(inferd_wino_t *w);

/* One convolution: Y [n, m, oh, ow] = act(conv(X [n, c, ih, iw], W) + bias + res), X read as
 * zero outside the image; pad_top/pad_left place output (0, 0) at input (-pad_top,
 * -pad_left). */
typedef struct inferd_wino_conv {
    const float *x;
    int64_t n, ih, iw;
    int64_t pad_top, pad_left;
    int64_t oh, ow;
    const float *bias; /* [m] or NULL */
    /* [n, m, oh, ow] or NULL: a fused residual Add, added after the bias and before the
     * activation. May be y itself: each element is read before it is written. */
    const float *res;
    inferd_onnx_act_t act;
    float *y;
    int max_threads; /* 0: the calling thread's intra-op budget (core/pool.h); 1: none */
} inferd_wino_conv_t;

/* Runs the convolution, split by tiles over the intra-op pool. Returns false (Y partly
 * written) only when scratch memory runs out. Thread-safe; every thread that runs a part
 * keeps its scratch buffer for its next run (kernels/scratch.h). */
bool inferd_wino_run(const inferd_wino_t *w, const inferd_wino_conv_t *cv);

/* Tiles (4x4 output blocks) per image of an oh x ow output. */
int64_t inferd_wino_tiles(int64_t oh, int64_t ow);

#endif
