/* Elementwise binary arithmetic: Add, Sub, Mul, Div.
 *
 * From opset 7 the inputs broadcast multidirectionally (numpy). Opsets 1 and 6 instead
 * have the legacy `broadcast`/`axis` attributes: without broadcast=1 the shapes must be
 * equal, with it B's shape lines up with A's starting at `axis` (default: B's dims are
 * A's trailing dims). Both are run by the same kernels through the broadcast walk in
 * common.c, after turning the legacy form into an equivalent numpy shape for B.
 *
 * Integer arithmetic wraps (computed in uint64_t, so signed overflow is never undefined
 * behaviour), and integer Div truncates toward zero and fails on a zero divisor rather
 * than trapping. Kernels: FP32, FP64 and every 8- to 64-bit integer type. */
#include "backends/onnx/ops/ops.h"

#include <stdatomic.h>
#include <string.h>

#include "backends/onnx/kernels/simd_f32.h"
#include "core/alloc.h"
#include "core/pool.h"

typedef enum { BIN_ADD, BIN_SUB, BIN_MUL, BIN_DIV, BIN_COUNT_ } bin_kind_t;

static const char *const bin_names[BIN_COUNT_] = {"Add", "Sub", "Mul", "Div"};

/* Applies the op to n elements; sa/sb are 1 (walk) or 0 (repeat element 0). Returns
 * false on an integer division by zero. */
typedef bool (*bin_loop_fn)(const void *a, int64_t sa, const void *b, int64_t sb, void *o,
                            int64_t n);

typedef struct binary_data {
    bin_loop_fn loop;
    bool legacy;       /* opset < 7: the broadcast/axis attributes apply */
    bool legacy_bcast; /* broadcast=1 */
    bool has_axis;
    int64_t axis;
} binary_data_t;

/* ------------------------------------------------------------------------------------ */
/* Kernels                                                                              */

/* The three stride cases get their own loops so the compiler vectorizes each. */
#define BIN_LOOP(name, T, EXPR)                                                                    \
    static bool name(const void *pa, int64_t sa, const void *pb, int64_t sb, void *po, int64_t n)  \
    {                                                                                              \
        const T *a = pa, *b = pb;                                                                  \
        T *o = po;                                                                                 \
        if (sa == 1 && sb == 1) {                                                                  \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T x = a[i], y = b[i];                                                              \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else if (sa == 1) {                                                                      \
            const T y = b[0];                                                                      \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T x = a[i];                                                                        \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else if (sb == 1) {                                                                      \
            const T x = a[0];                                                                      \
            for (int64_t i = 0; i < n; i++) {                                                      \
                T y = b[i];                                                                        \
                o[i] = (EXPR);                                                                     \
            }                                                                                      \
        } else {                                                                                   \
            const T x = a[0], y = b[0];                                                            \
            for (int64_t i = 0; i < n; i++)                                                        \
                o[i] = (EXPR);                                                                     \
        }                                                                                          \
        return true;                                                                               \
    }

/* Integer division: checks the divisor, and computes x / -1 as a wrapping negation
 * because INT_MIN / -1 traps on x86. */
#define DIV_INT_LOOP(name, T, SIGNED)                                                              \
    static bool name(const void *pa, int64_t sa, const void *pb, int64_t sb, void *po, int64_t n)  \
    {                                                                                              \
        const T *a = pa, *b = pb;                                                                  \
        T *o = po;                                                                                 \
        for (int64_t i = 0; i < n; i++) {                                                          \
            T x = a[i * sa], y = b[i * sb];                                                        \
            if (y == 0)                                                                            \
                return false;                                                                      \
            if (SIGNED && y == (T)-1)                                                              \
                o[i] = (T)(0 - (uint64_t)x);                                                       \
            else                                                                                   \
                o[i] = (T)(x / y);                                                                 \
        }                                                                                          \
        return true;                                                                               \
    }

#define WRAP(T, x, op, y) ((T)((uint64_t)(x)op(uint64_t)(y)))

#define FLOAT_LOOPS(sfx, T)                                                                        \
    BIN_LOOP(add_##sfx, T, x + y)                                                                  \
    BIN_LOOP(sub_##sfx, T, x - y)                                                                  \
    BIN_LOOP(mul_##sfx, T, x *y)                                                                   \
    BIN_LOOP(div_##sfx, T, x / y)

#define INT_LOOPS(sfx, T, SIGNED)                                                                  \
    BIN_LOOP(add_##sfx, T, WRAP(T, x, +, y))                                                       \
    BIN_LOOP(sub_##sfx, T, WRAP(T, x, -, y))                                                       \
    BIN_LOOP(mul_##sfx, T, WRAP(T, x, *, y))                                                       \
    DIV_INT_LOOP(div_##sfx, T, SIGNED)

/* FP32 runs on the vectorized loops of kernels/simd_f32.c. */
#define SIMD_LOOP(name, fn)                                                                        \
    static bool name(const void *a, int64_t sa, const void *b, int64_t sb, void *o, int64_t n)     \
    {                                                                                              \
        fn(a, sa, b, sb, o, n);                                                                    \
        return true;                                                                               \
    }
SIMD_LOOP(add_f32, inferd_simd_add)
SIMD_LOOP(sub_f32, inferd_simd_sub)
SIMD_LOOP(mul_f32, inferd_simd_mul)
SIMD_LOOP(div_f32, inferd_simd_div)
FLOAT_LOOPS(f64, double)
INT_LOOPS(i8, int8_t, 1)
INT_LOOPS(i16, int16_t, 1)
INT_LOOPS(i32, int32_t, 1)
INT_LOOPS(i64, int64_t, 1)
INT_LOOPS(u8, uint8_t, 0)
INT_LOOPS(u16, uint16_t, 0)
INT_LOOPS(u32, uint32_t, 0)
INT_LOOPS(u64, uint64_t, 0)

#define LOOP_ROW(sfx)                                                                              \
    {                                                                                              \
        add_##sfx, sub_##sfx, mul_##sfx, div_##sfx                                                 \
    }

static bin_loop_fn loop_for(bin_kind_t kind, inferd_dtype_t dt)
{
    static const bin_loop_fn loops[INFERD_DTYPE_COUNT_][BIN_COUNT_] = {
        [INFERD_DTYPE_FP32] = LOOP_ROW(f32),   [INFERD_DTYPE_FP64] = LOOP_ROW(f64),
        [INFERD_DTYPE_INT8] = LOOP_ROW(i8),    [INFERD_DTYPE_INT16] = LOOP_ROW(i16),
        [INFERD_DTYPE_INT32] = LOOP_ROW(i32),  [INFERD_DTYPE_INT64] = LOOP_ROW(i64),
        [INFERD_DTYPE_UINT8] = LOOP_ROW(u8),   [INFERD_DTYPE_UINT16] = LOOP_ROW(u16),
        [INFERD_DTYPE_UINT32] = LOOP_ROW(u32), [INFERD_DTYPE_UINT64] = LOOP_ROW(u64),
    };
    if (dt <= INFERD_DTYPE_INVALID || dt >= INFERD_DTYPE_COUNT_)
        return NULL;
    return loops[dt][kind];
}

/* ------------------------------------------------------------------------------------ */
/* Shapes                                                                               */

/* B's shape as a numpy-broadcastable shape, given the legacy attributes. */
static inferd_status_t legacy_b_shape(const binary_data_t *d, const inferd_onnx_shape_t *a,
                                      const inferd_onnx_shape_t *b, inferd_onnx_shape_t *eff,
                                      inferd_err_t *err)
{
    char sa[128], sb[128];
    if (!d->legacy_bcast) {
        if (a->ndim != b->ndim || memcmp(a->dims, b->dims, (size_t)a->ndim * sizeof(int64_t)))
            return inferd_err_set(err, INFERD_E_INVALID_ARG,
                                  "shapes %s and %s differ and broadcast is not set",
                                  inferd_onnx_dims_str(a->dims, a->ndim, sa, sizeof(sa)),
                                  inferd_onnx_dims_str(b->dims, b->ndim, sb, sizeof(sb)));
        *eff = *b;
        return INFERD_OK;
    }
    int64_t axis = d->has_axis ? d->axis : a->ndim - b->ndim;
    if (axis < 0 || b->ndim > a->ndim || axis + b->ndim > a->ndim)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "B %s does not fit in A %s at axis %lld",
                              inferd_onnx_dims_str(b->dims, b->ndim, sb, sizeof(sb)),
                              inferd_onnx_dims_str(a->dims, a->ndim, sa, sizeof(sa)),
                              (long long)axis);
    eff->ndim = a->ndim;
    for (int i = 0; i < a->ndim; i++) {
        int j = i - (int)axis;
        eff->dims[i] = j >= 0 && j < b->ndim ? b->dims[j] : 1;
        if (eff->dims[i] != 1 && eff->dims[i] != a->dims[i])
            return inferd_err_set(
                err, INFERD_E_INVALID_ARG, "B %s does not match A %s at axis %lld",
                inferd_onnx_dims_str(b->dims, b->ndim, sb, sizeof(sb)),
                inferd_onnx_dims_str(a->dims, a->ndim, sa, sizeof(sa)), (long long)axis);
    }
    return INFERD_OK;
}

static inferd_status_t operand_shapes(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *a, inferd_onnx_shape_t *b,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    const binary_data_t *d = node->op_data;
    inferd_onnx_shape_of(in[0], a);
    inferd_onnx_shape_of(in[1], b);
    if (d->legacy) {
        inferd_onnx_shape_t raw = *b;
        if (legacy_b_shape(d, a, &raw, b, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
    }
    return inferd_onnx_broadcast(a, b, out, err);
}

static inferd_status_t binary_reshape(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_onnx_shape_t *out, inferd_err_t *err)
{
    inferd_onnx_shape_t a, b;
    return operand_shapes(node, in, &a, &b, &out[0], err);
}

/* Moves a fresh walk to the start of output row `row`. */
static void bcast_seek(inferd_onnx_bcast_t *w, int64_t row)
{
    for (int i = w->ndim - 1; i >= 0; i--) {
        w->idx[i] = row % w->dims[i];
        row /= w->dims[i];
        w->off_a += w->idx[i] * w->sa[i];
        w->off_b += w->idx[i] * w->sb[i];
    }
}

/* The op over a range of the output, split over the intra-op pool: whole broadcast rows
 * (a bias row added to every token), or, for one long row, chunks of whole vectors. The
 * fused activation (the residual Add + Relu of ResNets, FP32 only) is applied to each
 * chunk while it is in cache. Every element gets the same operations on any split. */
typedef struct bin_par {
    const binary_data_t *d;
    const inferd_onnx_node_t *node;
    const inferd_onnx_bcast_t *w;
    const char *pa, *pb;
    char *po;
    size_t es;
    atomic_bool div_by_zero;
} bin_par_t;

static void bin_rows_task(void *arg, int64_t lo, int64_t hi)
{
    bin_par_t *p = arg;
    inferd_onnx_bcast_t w = *p->w;
    int64_t n = w.inner;
    if (w.rows == 1) {
        /* [lo, hi) are elements of the only row. */
        if (!p->d->loop(p->pa + (size_t)(w.off_a + lo * w.inner_sa) * p->es, w.inner_sa,
                        p->pb + (size_t)(w.off_b + lo * w.inner_sb) * p->es, w.inner_sb,
                        p->po + (size_t)lo * p->es, hi - lo))
            atomic_store(&p->div_by_zero, true);
        n = 1;
    } else {
        bcast_seek(&w, lo);
        for (int64_t row = lo; row < hi; row++) {
            if (!p->d->loop(p->pa + (size_t)w.off_a * p->es, w.inner_sa,
                            p->pb + (size_t)w.off_b * p->es, w.inner_sb,
                            p->po + (size_t)(row * w.inner) * p->es, w.inner))
                atomic_store(&p->div_by_zero, true);
            inferd_onnx_bcast_next(&w);
        }
    }
    if (p->node->epilogue.kind != INFERD_ONNX_ACT_NONE)
        inferd_simd_act(&p->node->epilogue, (float *)p->po + lo * n, (hi - lo) * n);
}

static inferd_status_t binary_compute(const inferd_onnx_node_t *node, inferd_tensor_t *const *in,
                                      inferd_tensor_t *const *out, inferd_err_t *err)
{
    const binary_data_t *d = node->op_data;
    inferd_onnx_shape_t a, b, o;
    if (operand_shapes(node, in, &a, &b, &o, err) != INFERD_OK)
        return err ? err->code : INFERD_E_INVALID_ARG;
    inferd_onnx_bcast_t w;
    inferd_onnx_bcast_init(&w, &a, &b, &o);
    if (w.rows * w.inner == 0)
        return INFERD_OK;
    bin_par_t p = {.d = d,
                   .node = node,
                   .w = &w,
                   .pa = in[0]->data,
                   .pb = in[1]->data,
                   .po = out[0]->data,
                   .es = inferd_dtype_size(out[0]->dtype)};
    atomic_init(&p.div_by_zero, false);
    if (w.rows == 1)
        inferd_pool_for_range(w.inner, INFERD_ONNX_PAR_GRAIN, 16, bin_rows_task, &p);
    else
        inferd_pool_for_range(w.rows, (INFERD_ONNX_PAR_GRAIN + w.inner - 1) / w.inner, 1,
                              bin_rows_task, &p);
    if (atomic_load(&p.div_by_zero))
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "integer division by zero");
    return INFERD_OK;
}

/* ------------------------------------------------------------------------------------ */
/* Init and registration                                                                */

static inferd_status_t binary_init(inferd_onnx_init_t *ic, bin_kind_t kind, inferd_err_t *err)
{
    inferd_dtype_t ta = ic->in_types[0], tb = ic->in_types[1];
    if (ta != tb)
        return inferd_err_set(err, INFERD_E_INVALID_ARG, "%s inputs differ in type (%s and %s)",
                              bin_names[kind], inferd_dtype_name(ta), inferd_dtype_name(tb));
    bin_loop_fn loop = loop_for(kind, ta);
    if (!loop)
        return inferd_onnx_unsupported_dtype(ic, 0, err);
    binary_data_t d = {.loop = loop, .legacy = ic->node->opset < 7};
    if (d.legacy) {
        int64_t bc;
        if (inferd_onnx_attr_int(ic->node, "broadcast", 0, &bc, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
        d.legacy_bcast = bc != 0;
        d.has_axis = inferd_onnx_attr_find(ic->node, "axis") != NULL;
        if (inferd_onnx_attr_int(ic->node, "axis", 0, &d.axis, err) != INFERD_OK)
            return err ? err->code : INFERD_E_INVALID_ARG;
    }
    binary_data_t *p = inferd_xmalloc(sizeof(*p));
    *p = d;
    ic->node->op_data = p;
    ic->node->compute = binary_compute;
    ic->node->epilogue_done = true; /* binary_compute applies node->epilogue */
    ic->out_types[0] = ta;
    return INFERD_OK;
}

static inferd_status_t add_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return binary_init(ic, BIN_ADD, err);
}

static inferd_status_t sub_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return binary_init(ic, BIN_SUB, err);
}

static inferd_status_t mul_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return binary_init(ic, BIN_MUL, err);
}

static inferd_status_t div_init(inferd_onnx_init_t *ic, inferd_err_t *err)
{
    return binary_init(ic, BIN_DIV, err);
}

/* 1 and 6: legacy broadcast attributes; 7: numpy broadcasting; 13 and 14 only add types. */
#define BINARY_VERSIONS(name, init)                                                                \
    {"", name, 1, 2, 2, 1, init, binary_reshape}, {"", name, 6, 2, 2, 1, init, binary_reshape},    \
        {"", name, 7, 2, 2, 1, init, binary_reshape},                                              \
        {"", name, 13, 2, 2, 1, init, binary_reshape},                                             \
    {                                                                                              \
        "", name, 14, 2, 2, 1, init, binary_reshape                                                \
    }

const inferd_onnx_op_t inferd_onnx_ops_binary[] = {
    BINARY_VERSIONS("Add", add_init),
    BINARY_VERSIONS("Sub", sub_init),
    BINARY_VERSIONS("Mul", mul_init),
    BINARY_VERSIONS("Div", div_init),
};
const size_t inferd_onnx_ops_binary_count =
    sizeof(inferd_onnx_ops_binary) / sizeof(inferd_onnx_ops_binary[0]);
