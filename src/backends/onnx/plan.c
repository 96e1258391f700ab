/* The memory planner: one arena per run, intermediates at offsets assigned by liveness.
 *
 * A plan belongs to one input-shape signature. The first run with new input shapes runs
 * as before (one allocation per intermediate) and records every value's size; from those
 * sizes and the graph's structure the planner places each intermediate in one buffer
 * two ways and keeps the smaller: best-fit over the free intervals of values already
 * dead, in node order (ggml-alloc's and ONNX Runtime's mem-pattern idea), and largest
 * first at the lowest offset free over the value's lifetime. The output of an
 * elementwise op may take over the block of a same-sized input that dies with it (in
 * place), and so may a Conv with a fused residual Add (passes.c), over the residual S.
 * Later runs with the same shapes allocate that buffer once and make each
 * intermediate a view into it. Liveness is structural: a value's block is busy from its
 * producer to its last reader, extended over every alias view (Reshape, Flatten, ...)
 * made of it. Sizes are only what the first run saw, so the executor checks each output
 * against its planned size and allocates separately when a data-dependent shape
 * (NonZero, TopK with a computed k, ...) came out larger.
 *
 * Never in the arena: graph outputs (responses keep them past the run) and whatever an
 * alias chain from them reaches, values read by control-flow nodes or sequence ops (they
 * may keep references past the reader), BYTES and sequence values, constants, inputs.
 *
 * Plans are immutable and reference-counted; the graph keeps the last PLAN_CACHE of them
 * behind a mutex, so runs of one graph on several threads share them. */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "backends/onnx/ops/ops.h"
#include "backends/onnx/passes.h"
#include "core/alloc.h"
#include "obs/log.h"

/* Plans kept per graph: enough for every batch size a dynamic batcher forms up to a
 * max_batch_size of 64 (an evicted size's next run records again, with a page fault per
 * 4 KiB of its large intermediates). A plan is a few arrays of one word per value. */
#define PLAN_CACHE 64
#define PLAN_ALIGN 64

/* Free run arenas the graph keeps between runs: as many as runs of it overlap (one per
 * model instance, typically), at most ARENA_KEEP. */
#define ARENA_KEEP 4

struct inferd_onnx_plans {
    pthread_mutex_t mu;
    int n;
    inferd_onnx_plan_t *slot[PLAN_CACHE]; /* most recently used first; the cache holds a ref */
    int n_free;
    void *free_arena[ARENA_KEEP]; /* data pointers (arena_hdr_t before each) */
};

/* Before each arena's data: where the allocation starts and how much data it holds. */
typedef struct arena_hdr {
    struct inferd_onnx_plans *cache;
    void *mem;
    size_t cap;
} arena_hdr_t;

/* On unless INFERD_ONNX_PLAN=0 (for side-by-side measurements) or switched off. */
static atomic_int planning_on = -1;

void inferd_onnx_set_planning(bool on)
{
    atomic_store(&planning_on, on);
}

bool inferd_onnx_planning_enabled(void)
{
    int on = atomic_load(&planning_on);
    if (on < 0) {
        const char *e = getenv("INFERD_ONNX_PLAN");
        on = !(e && strcmp(e, "0") == 0);
        atomic_store(&planning_on, on);
    }
    return on;
}

struct inferd_onnx_plans *inferd_onnx_plans_new(void)
{
    struct inferd_onnx_plans *p = inferd_xcalloc(1, sizeof(*p));
    pthread_mutex_init(&p->mu, NULL);
    return p;
}

static void plan_free(inferd_onnx_plan_t *p)
{
    inferd_free(p->offset);
    inferd_free(p->size);
    inferd_free(p->src);
    inferd_free(p->sig);
    inferd_free(p);
}

static arena_hdr_t *arena_hdr(void *data)
{
    return (arena_hdr_t *)((char *)data - sizeof(arena_hdr_t));
}

static void arena_free(void *data)
{
    if (data)
        inferd_free(arena_hdr(data)->mem);
}

void inferd_onnx_plans_free(struct inferd_onnx_plans *p)
{
    if (!p)
        return;
    for (int i = 0; i < p->n; i++)
        plan_free(p->slot[i]); /* no run is in progress, so the cache holds the last ref */
    for (int i = 0; i < p->n_free; i++)
        arena_free(p->free_arena[i]);
    pthread_mutex_destroy(&p->mu);
    inferd_free(p);
}

static bool sig_matches(const inferd_onnx_plan_t *p, const inferd_onnx_graph_t *g,
                        inferd_tensor_t *const *inputs)
{
    int k = 0;
    for (int i = 0; i < g->n_inputs; i++) {
        const inferd_tensor_t *t = inputs[i];
        if (k + 1 + t->ndim > p->n_sig || p->sig[k++] != t->ndim)
            return false;
        for (int d = 0; d < t->ndim; d++)
            if (p->sig[k++] != t->dims[d])
                return false;
    }
    return k == p->n_sig;
}

const inferd_onnx_plan_t *inferd_onnx_plan_get(const inferd_onnx_graph_t *g,
                                               inferd_tensor_t *const *inputs)
{
    struct inferd_onnx_plans *c = g->plans;
    if (!c || !inferd_onnx_planning_enabled())
        return NULL;
    inferd_onnx_plan_t *found = NULL;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n && !found; i++) {
        if (!sig_matches(c->slot[i], g, inputs))
            continue;
        found = c->slot[i];
        memmove(&c->slot[1], &c->slot[0], (size_t)i * sizeof(c->slot[0]));
        c->slot[0] = found;
        found->refs++;
    }
    pthread_mutex_unlock(&c->mu);
    return found;
}

void inferd_onnx_plan_put(const inferd_onnx_graph_t *g, const inferd_onnx_plan_t *cp)
{
    if (!cp)
        return;
    inferd_onnx_plan_t *p = (inferd_onnx_plan_t *)cp;
    pthread_mutex_lock(&g->plans->mu);
    bool last = --p->refs == 0;
    pthread_mutex_unlock(&g->plans->mu);
    if (last)
        plan_free(p);
}

/* The arena of one run, kept by the graph between runs: allocating it afresh each run
 * cost page faults on every run once malloc mapped it anew (an eighth of a ResNet run at
 * batch 8 when malloc returned freed memory) and, when it did not, left freed blocks of
 * the heap resident beside the next run's. */
void *inferd_onnx_arena_take(const inferd_onnx_graph_t *g, size_t bytes)
{
    struct inferd_onnx_plans *c = g->plans;
    void *data = NULL, *stale = NULL;
    pthread_mutex_lock(&c->mu);
    int best = -1, big = -1;
    for (int i = 0; i < c->n_free; i++) {
        size_t cap = arena_hdr(c->free_arena[i])->cap;
        if (cap >= bytes && (best < 0 || cap < arena_hdr(c->free_arena[best])->cap))
            best = i;
        if (cap < bytes && (big < 0 || cap > arena_hdr(c->free_arena[big])->cap))
            big = i;
    }
    /* None fits: the largest that does not is outgrown (shapes have grown), so it goes. */
    int take = best >= 0 ? best : big;
    if (take >= 0) {
        if (best >= 0)
            data = c->free_arena[take];
        else
            stale = c->free_arena[take];
        c->free_arena[take] = c->free_arena[--c->n_free];
    }
    pthread_mutex_unlock(&c->mu);
    arena_free(stale);
    if (data)
        return data;
    if (bytes > SIZE_MAX - sizeof(arena_hdr_t) - 2 * PLAN_ALIGN)
        return NULL;
    char *mem = inferd_malloc(bytes + sizeof(arena_hdr_t) + PLAN_ALIGN);
    if (!mem)
        return NULL;
    data = (void *)(((uintptr_t)mem + sizeof(arena_hdr_t) + PLAN_ALIGN - 1) &
                    ~(uintptr_t)(PLAN_ALIGN - 1));
    *arena_hdr(data) = (arena_hdr_t){.cache = c, .mem = mem, .cap = bytes};
    return data;
}

void inferd_onnx_arena_give(void *data)
{
    if (!data)
        return;
    struct inferd_onnx_plans *c = arena_hdr(data)->cache;
    void *drop = data;
    pthread_mutex_lock(&c->mu);
    if (c->n_free < ARENA_KEEP) {
        c->free_arena[c->n_free++] = data;
        drop = NULL;
    } else {
        /* Full: keep the larger ones, which fit more shapes. */
        for (int i = 0; i < c->n_free; i++)
            if (arena_hdr(c->free_arena[i])->cap < arena_hdr(drop)->cap) {
                void *t = c->free_arena[i];
                c->free_arena[i] = drop;
                drop = t;
            }
    }
    pthread_mutex_unlock(&c->mu);
    arena_free(drop);
}

size_t inferd_onnx_arena_cached_bytes(const inferd_onnx_graph_t *g)
{
    struct inferd_onnx_plans *c = g->plans;
    if (!c)
        return 0;
    size_t n = 0;
    pthread_mutex_lock(&c->mu);
    for (int i = 0; i < c->n_free; i++)
        n += arena_hdr(c->free_arena[i])->cap;
    pthread_mutex_unlock(&c->mu);
    return n;
}

bool inferd_onnx_graph_plan_info(const inferd_onnx_graph_t *g, inferd_tensor_t *const *inputs,
                                 inferd_onnx_plan_info_t *out)
{
    memset(out, 0, sizeof(*out));
    const inferd_onnx_plan_t *p = inferd_onnx_plan_get(g, inputs);
    if (!p)
        return false;
    out->peak_bytes = p->peak;
    out->total_bytes = p->total;
    out->n_planned = p->n_planned;
    inferd_onnx_plan_put(g, p);
    return true;
}

/* ------------------------------------------------------------------------------------ */
/* Building a plan                                                                      */

static bool has_seq_output(const inferd_onnx_graph_t *g, const inferd_onnx_node_t *n)
{
    for (int j = 0; j < n->n_outputs; j++)
        if (n->outputs[j] >= 0 && INFERD_ONNX_IS_SEQ(g->values[n->outputs[j]].dtype))
            return true;
    return false;
}

/* Free intervals of the arena, sorted by offset. */
typedef struct freelist {
    size_t *off, *len;
    int n;
    size_t top; /* high-water mark: the arena's size so far */
} freelist_t;

static size_t fl_alloc(freelist_t *f, size_t len)
{
    int best = -1;
    for (int i = 0; i < f->n; i++)
        if (f->len[i] >= len && (best < 0 || f->len[i] < f->len[best]))
            best = i;
    if (best < 0 && f->n > 0 && f->off[f->n - 1] + f->len[f->n - 1] == f->top) {
        /* The last free block touches the top: grow the arena under it. */
        best = f->n - 1;
        f->top = f->off[best] + len;
        f->len[best] = len;
    }
    if (best < 0) {
        size_t off = f->top;
        f->top += len;
        return off;
    }
    size_t off = f->off[best];
    f->off[best] += len;
    f->len[best] -= len;
    if (f->len[best] == 0) {
        memmove(&f->off[best], &f->off[best + 1], (size_t)(f->n - best - 1) * sizeof(size_t));
        memmove(&f->len[best], &f->len[best + 1], (size_t)(f->n - best - 1) * sizeof(size_t));
        f->n--;
    }
    return off;
}

static void fl_free(freelist_t *f, size_t off, size_t len)
{
    int i = 0;
    while (i < f->n && f->off[i] < off)
        i++;
    memmove(&f->off[i + 1], &f->off[i], (size_t)(f->n - i) * sizeof(size_t));
    memmove(&f->len[i + 1], &f->len[i], (size_t)(f->n - i) * sizeof(size_t));
    f->off[i] = off;
    f->len[i] = len;
    f->n++;
    if (i + 1 < f->n && f->off[i] + f->len[i] == f->off[i + 1]) {
        f->len[i] += f->len[i + 1];
        memmove(&f->off[i + 1], &f->off[i + 2], (size_t)(f->n - i - 2) * sizeof(size_t));
        memmove(&f->len[i + 1], &f->len[i + 2], (size_t)(f->n - i - 2) * sizeof(size_t));
        f->n--;
    }
    if (i > 0 && f->off[i - 1] + f->len[i - 1] == f->off[i]) {
        f->len[i - 1] += f->len[i];
        memmove(&f->off[i], &f->off[i + 1], (size_t)(f->n - i - 1) * sizeof(size_t));
        memmove(&f->len[i], &f->len[i + 1], (size_t)(f->n - i - 1) * sizeof(size_t));
        f->n--;
    }
}

/* Greedy by size: the largest blocks first, each at the lowest offset that is free over
 * its whole lifetime (intervals are inclusive: a node's output never overlaps what it
 * reads). Usually tighter than the walk in node order, which fragments. Fills off[] for
 * every root with len[v] > 0 and returns the arena size. */
typedef struct sized {
    size_t len;
    int v;
} sized_t;

static int by_len_desc(const void *a, const void *b)
{
    const sized_t *x = a, *y = b;
    if (x->len != y->len)
        return x->len < y->len ? 1 : -1;
    return x->v - y->v;
}

static int by_off(const void *a, const void *b)
{
    const sized_t *x = a, *y = b; /* here len holds the offset */
    return x->len < y->len ? -1 : x->len > y->len;
}

static size_t place_by_size(int nv, const int *start, const int *end, const size_t *len,
                            size_t *off)
{
    sized_t *order = inferd_xcalloc((size_t)nv + 1, sizeof(*order));
    sized_t *busy = inferd_xcalloc((size_t)nv + 1, sizeof(*busy)); /* {offset, v} */
    int n = 0;
    for (int v = 0; v < nv; v++)
        if (len[v])
            order[n++] = (sized_t){len[v], v};
    qsort(order, (size_t)n, sizeof(*order), by_len_desc);
    size_t peak = 0;
    for (int i = 0; i < n; i++) {
        int v = order[i].v, k = 0;
        for (int j = 0; j < i; j++) {
            int u = order[j].v;
            if (start[u] <= end[v] && start[v] <= end[u])
                busy[k++] = (sized_t){off[u], u};
        }
        qsort(busy, (size_t)k, sizeof(*busy), by_off);
        size_t at = 0;
        for (int j = 0; j < k; j++) {
            if (at + len[v] <= busy[j].len)
                break;
            size_t e = busy[j].len + len[busy[j].v];
            if (e > at)
                at = e;
        }
        off[v] = at;
        if (at + len[v] > peak)
            peak = at + len[v];
    }
    inferd_free(order);
    inferd_free(busy);
    return peak;
}

/* Elementwise ops whose kernels read element i before writing element i, so their
 * output may share the block of a same-shaped input (the executor checks the shapes). */
static bool inplace_op(const inferd_onnx_node_t *n)
{
    static const char *const ops[] = {"Add",
                                      "Sub",
                                      "Mul",
                                      "Div",
                                      "Relu",
                                      "Sigmoid",
                                      "Tanh",
                                      "Abs",
                                      "Neg",
                                      "Exp",
                                      "Log",
                                      "Sqrt",
                                      "Reciprocal",
                                      "Erf",
                                      "Floor",
                                      "Ceil",
                                      "Round",
                                      "Sign",
                                      "Sin",
                                      "Cos",
                                      "Tan",
                                      "Elu",
                                      "Selu",
                                      "Celu",
                                      "LeakyRelu",
                                      "Mish",
                                      "Softplus",
                                      "Softsign",
                                      "HardSigmoid",
                                      "HardSwish",
                                      "ThresholdedRelu",
                                      "Clip"};
    if (n->domain[0] || !n->compute || n->alias || n->run)
        return false;
    for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
        if (strcmp(n->op_type, ops[i]) == 0)
            return true;
    return false;
}

bool inferd_onnx_inplace_input(const inferd_onnx_node_t *n, int j)
{
    if (j < 0 || j >= n->n_inputs || n->n_outputs != 1)
        return false;
    /* A Conv with a fused residual Add writes over S (input 3) only: its kernels read
     * each residual element just before writing that output element, and X, W, B are
     * read all along. */
    if (n->residual)
        return j == 3;
    return inplace_op(n);
}

/* Which values may live in the arena and for how long: root[v] is the arena value v is
 * (or is a view of), -1 for none; start/end are the node positions of a root's first
 * write and last read over all its views. */
static void liveness(const inferd_onnx_graph_t *g, const size_t *nbytes, int *root, int *start,
                     int *end)
{
    int nv = g->n_values;
    bool *bad = inferd_xcalloc((size_t)nv + 1, sizeof(bool));
    for (int v = 0; v < nv; v++) {
        root[v] = -1;
        start[v] = end[v] = -1;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const inferd_onnx_node_t *n = &g->nodes[i];
        if (n->folded)
            continue;
        bool plain = n->compute && !n->run && !has_seq_output(g, n);
        for (int j = 0; j < n->n_outputs; j++) {
            int v = n->outputs[j];
            if (v < 0)
                continue;
            const inferd_onnx_value_t *val = &g->values[v];
            if (n->alias && j == 0 && !n->run) {
                root[v] = n->inputs[0] >= 0 ? root[n->inputs[0]] : -1;
            } else if (plain && !val->constant && val->dtype != INFERD_DTYPE_BYTES &&
                       !INFERD_ONNX_IS_SEQ(val->dtype) && nbytes[v] > 0) {
                root[v] = v;
                start[v] = end[v] = i;
            }
            if (root[v] >= 0 && val->is_output)
                bad[root[v]] = true;
        }
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const inferd_onnx_node_t *n = &g->nodes[i];
        if (n->folded)
            continue;
        /* A control-flow node or a sequence op may keep what it reads past its turn. */
        bool keeps = n->run || has_seq_output(g, n);
        for (int j = 0; j < n->n_inputs; j++) {
            int v = n->inputs[j];
            if (v < 0 || root[v] < 0)
                continue;
            if (keeps)
                bad[root[v]] = true;
            if (end[root[v]] < i)
                end[root[v]] = i;
        }
    }
    for (int v = 0; v < nv; v++)
        if (root[v] >= 0 && bad[root[v]])
            root[v] = -1;
    inferd_free(bad);
}

void inferd_onnx_plan_record(const inferd_onnx_graph_t *g, inferd_tensor_t *const *inputs,
                             const size_t *nbytes)
{
    struct inferd_onnx_plans *c = g->plans;
    if (!c || !inferd_onnx_planning_enabled())
        return;
    int nv = g->n_values;
    int *root = inferd_xcalloc((size_t)nv + 1, sizeof(int));
    int *start = inferd_xcalloc((size_t)nv + 1, sizeof(int));
    int *end = inferd_xcalloc((size_t)nv + 1, sizeof(int));
    liveness(g, nbytes, root, start, end);

    inferd_onnx_plan_t *p = inferd_xcalloc(1, sizeof(*p));
    p->offset = inferd_xcalloc((size_t)nv + 1, sizeof(size_t));
    p->size = inferd_xcalloc((size_t)nv + 1, sizeof(size_t));
    p->src = inferd_xcalloc((size_t)nv + 1, sizeof(int));
    p->refs = 1;
    for (int i = 0; i < g->n_inputs; i++)
        p->n_sig += 1 + inputs[i]->ndim;
    p->sig = inferd_xcalloc((size_t)p->n_sig + 1, sizeof(int64_t));
    for (int i = 0, k = 0; i < g->n_inputs; i++) {
        p->sig[k++] = inputs[i]->ndim;
        for (int d = 0; d < inputs[i]->ndim; d++)
            p->sig[k++] = inputs[i]->dims[d];
    }

    /* In place: the output of an elementwise op may take over the block of a same-sized
     * input that dies with it and that no view shares. A group is such a chain of values
     * in one block; grp[v] is the group's first value, gend its last read. */
    int *grp = inferd_xcalloc((size_t)nv + 1, sizeof(int));
    int *gend = inferd_xcalloc((size_t)nv + 1, sizeof(int));
    bool *viewed = inferd_xcalloc((size_t)nv + 1, sizeof(bool));
    for (int v = 0; v < nv; v++) {
        grp[v] = root[v] == v && nbytes[v] ? v : -1;
        gend[v] = end[v];
        p->src[v] = -1;
        if (root[v] >= 0 && root[v] != v)
            viewed[root[v]] = true;
    }
    for (int i = 0; i < g->n_nodes; i++) {
        const inferd_onnx_node_t *n = &g->nodes[i];
        int v = n->n_outputs == 1 ? n->outputs[0] : -1;
        if (n->folded || v < 0 || grp[v] != v)
            continue;
        for (int j = 0; j < n->n_inputs; j++) {
            int u = n->inputs[j];
            if (!inferd_onnx_inplace_input(n, j) || u < 0 || grp[u] < 0 || viewed[u] ||
                end[u] != i || gend[grp[u]] != i || nbytes[u] != nbytes[v] ||
                g->values[u].dtype != g->values[v].dtype)
                continue;
            grp[v] = grp[u];
            gend[grp[u]] = end[v];
            p->src[v] = u;
            break;
        }
    }
    size_t *len = inferd_xcalloc((size_t)nv + 1, sizeof(size_t)); /* per group */
    for (int v = 0; v < nv; v++) {
        if (grp[v] < 0)
            continue;
        size_t l = (nbytes[v] + PLAN_ALIGN - 1) / PLAN_ALIGN * PLAN_ALIGN;
        if (grp[v] == v)
            len[v] = l;
        p->size[v] = nbytes[v];
        p->total += l;
        p->n_planned++;
    }

    /* Walk the nodes: place each group when its first value is written, free it after
     * its last read. A node's inputs stay busy while it runs, so an output never overlaps
     * one (in-place outputs aside, which take their input's block on purpose). */
    freelist_t f = {inferd_xcalloc((size_t)nv + 1, sizeof(size_t)),
                    inferd_xcalloc((size_t)nv + 1, sizeof(size_t)), 0, 0};
    int *ending = inferd_xcalloc((size_t)nv + 1, sizeof(int)); /* groups, by last read */
    int *first = inferd_xcalloc((size_t)g->n_nodes + 1, sizeof(int));
    for (int v = 0; v < nv; v++)
        if (len[v])
            first[gend[v] + 1]++;
    for (int i = 0; i < g->n_nodes; i++)
        first[i + 1] += first[i];
    int *fill = inferd_xcalloc((size_t)g->n_nodes + 1, sizeof(int));
    for (int v = 0; v < nv; v++)
        if (len[v])
            ending[first[gend[v]] + fill[gend[v]]++] = v;
    for (int i = 0; i < g->n_nodes; i++) {
        const inferd_onnx_node_t *n = &g->nodes[i];
        for (int j = 0; j < n->n_outputs && !n->folded; j++) {
            int v = n->outputs[j];
            if (v >= 0 && len[v])
                p->offset[v] = fl_alloc(&f, len[v]);
        }
        for (int e = first[i]; e < first[i + 1]; e++)
            fl_free(&f, p->offset[ending[e]], len[ending[e]]);
    }
    p->peak = f.top;
    size_t *off = inferd_xcalloc((size_t)nv + 1, sizeof(size_t));
    size_t by_size = place_by_size(nv, start, gend, len, off);
    if (by_size < p->peak) {
        p->peak = by_size;
        for (int v = 0; v < nv; v++)
            if (len[v])
                p->offset[v] = off[v];
    }
    for (int v = 0; v < nv; v++)
        if (grp[v] >= 0 && grp[v] != v)
            p->offset[v] = p->offset[grp[v]];
    inferd_free(off);
    inferd_free(len);
    inferd_free(grp);
    inferd_free(gend);
    inferd_free(viewed);
    inferd_free(f.off);
    inferd_free(f.len);
    inferd_free(ending);
    inferd_free(first);
    inferd_free(fill);
    inferd_free(root);
    inferd_free(start);
    inferd_free(end);

    int n_planned = p->n_planned;
    size_t peak = p->peak, total = p->total;
    pthread_mutex_lock(&c->mu);
    bool dup = false;
    for (int i = 0; i < c->n && !dup; i++)
        dup = sig_matches(c->slot[i], g, inputs); /* another run got there first */
    inferd_onnx_plan_t *evict = NULL;
    if (!dup) {
        if (c->n == PLAN_CACHE)
            evict = c->slot[--c->n];
        memmove(&c->slot[1], &c->slot[0], (size_t)c->n * sizeof(c->slot[0]));
        c->slot[0] = p;
        c->n++;
        if (evict && --evict->refs > 0)
            evict = NULL; /* a run still holds it; the last put frees it */
    }
    pthread_mutex_unlock(&c->mu);
    if (dup) {
        plan_free(p);
        return;
    }
    if (evict)
        plan_free(evict);
    if (inferd_log_enabled(INFERD_LOG_VERBOSE))
        inferd_log(INFERD_LOG_VERBOSE,
                   "onnx plan (%s): %d intermediates, arena %zu bytes (%zu without reuse)",
                   g->path ? g->path : "subgraph", n_planned, peak, total);
}
