/* Tests for src/core/tensor.c: creation, wrapping and views, reference counting and the
 * live-tensor account, shape arithmetic, BYTES validation, and the half-precision
 * conversions. The fp16 expectations were computed with numpy (float32.astype(float16)
 * and back); the bf16 ones by exact rational round-to-nearest-even in Python. */
#include "test.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "core/alloc.h"
#include "inferd/tensor.h"

static int teardown_check(void **state)
{
    (void)state;
    assert_no_live_tensors();
    return 0;
}

/* ------------------------------------------------------------------------------------ */
/* Datatypes                                                                            */

static void dtype_names_and_sizes(void **state)
{
    (void)state;
    assert_int_equal(inferd_dtype_size(INFERD_DTYPE_FP32), 4);
    assert_int_equal(inferd_dtype_size(INFERD_DTYPE_BF16), 2);
    assert_int_equal(inferd_dtype_size(INFERD_DTYPE_INT64), 8);
    assert_int_equal(inferd_dtype_size(INFERD_DTYPE_BOOL), 1);
    assert_int_equal(inferd_dtype_size(INFERD_DTYPE_BYTES), 0);
    assert_int_equal(inferd_dtype_size(INFERD_DTYPE_INVALID), 0);
    assert_int_equal(inferd_dtype_size(INFERD_DTYPE_COUNT_), 0);
    assert_string_equal(inferd_dtype_name(INFERD_DTYPE_FP16), "FP16");
    assert_string_equal(inferd_dtype_name(INFERD_DTYPE_COUNT_), "INVALID");
    assert_string_equal(inferd_dtype_config_name(INFERD_DTYPE_BYTES), "TYPE_STRING");
    for (int i = 1; i < INFERD_DTYPE_COUNT_; i++) {
        inferd_dtype_t dt = (inferd_dtype_t)i;
        assert_int_equal(inferd_dtype_from_name(inferd_dtype_name(dt), (size_t)-1), dt);
        assert_int_equal(inferd_dtype_from_config_name(inferd_dtype_config_name(dt), (size_t)-1),
                         dt);
    }
    assert_int_equal(inferd_dtype_from_name("FP32x", 4), INFERD_DTYPE_FP32);
    assert_int_equal(inferd_dtype_from_name("FP3", (size_t)-1), INFERD_DTYPE_INVALID);
    assert_int_equal(inferd_dtype_from_name("STRING", (size_t)-1), INFERD_DTYPE_INVALID);
    assert_int_equal(inferd_dtype_from_name("INVALID", (size_t)-1), INFERD_DTYPE_INVALID);
    assert_int_equal(inferd_dtype_from_config_name("BYTES", (size_t)-1), INFERD_DTYPE_INVALID);
}

/* ------------------------------------------------------------------------------------ */
/* Shapes                                                                               */

static void shape_numel(void **state)
{
    (void)state;
    uint64_t n = 99;
    inferd_err_t err;
    const int64_t d[] = {2, 3, 4};
    assert_int_equal(inferd_shape_numel(d, 3, UINT64_MAX, &n, &err), INFERD_OK);
    assert_int_equal(n, 24);
    /* A scalar has one element. */
    assert_int_equal(inferd_shape_numel(NULL, 0, UINT64_MAX, &n, &err), INFERD_OK);
    assert_int_equal(n, 1);
    /* A zero dim makes the product 0 even when other dims would overflow. */
    const int64_t z[] = {INT64_MAX, 0, INT64_MAX};
    assert_int_equal(inferd_shape_numel(z, 3, UINT64_MAX, &n, &err), INFERD_OK);
    assert_int_equal(n, 0);
    /* Exactly at the cap is fine. */
    assert_int_equal(inferd_shape_numel(d, 3, 24, &n, &err), INFERD_OK);
}

static void shape_numel_errors(void **state)
{
    (void)state;
    uint64_t n = 0;
    inferd_err_t err;
    const int64_t neg[] = {2, -1};
    assert_int_equal(inferd_shape_numel(neg, 2, UINT64_MAX, &n, &err), INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "negative"));

    const int64_t big[] = {INT64_MAX, INT64_MAX, 4};
    assert_int_equal(inferd_shape_numel(big, 3, UINT64_MAX, &n, &err), INFERD_E_TOO_LARGE);
    const int64_t over[] = {1LL << 32, 1LL << 32};
    assert_int_equal(inferd_shape_numel(over, 2, UINT64_MAX, &n, &err), INFERD_E_TOO_LARGE);
    const int64_t d[] = {2, 3, 4};
    assert_int_equal(inferd_shape_numel(d, 3, 23, &n, &err), INFERD_E_TOO_LARGE);

    int64_t many[INFERD_MAX_DIMS + 1];
    for (int i = 0; i <= INFERD_MAX_DIMS; i++)
        many[i] = 1;
    assert_int_equal(inferd_shape_numel(many, INFERD_MAX_DIMS, UINT64_MAX, &n, &err), INFERD_OK);
    assert_int_equal(inferd_shape_numel(many, INFERD_MAX_DIMS + 1, UINT64_MAX, &n, &err),
                     INFERD_E_INVALID_ARG);
    assert_int_equal(inferd_shape_numel(many, -1, UINT64_MAX, &n, &err), INFERD_E_INVALID_ARG);
}

/* ------------------------------------------------------------------------------------ */
/* Creation, views and lifetime                                                         */

static void create_owns_zeroed_data(void **state)
{
    (void)state;
    inferd_err_t err;
    const int64_t d[] = {2, 3};
    inferd_tensor_t *t =
        inferd_tensor_create(INFERD_DTYPE_FP32, d, 2, 0, INFERD_OWNER_REQUEST, &err);
    assert_non_null(t);
    assert_int_equal(t->ndim, 2);
    assert_int_equal(t->dims[1], 3);
    assert_int_equal(t->nbytes, 24);
    assert_int_equal(inferd_tensor_numel(t), 6);
    for (size_t i = 0; i < t->nbytes; i++)
        assert_int_equal(((unsigned char *)t->data)[i], 0);

    inferd_tensor_stats_t st;
    inferd_tensor_stats(&st);
    assert_int_equal(st.count[INFERD_OWNER_REQUEST], 1);
    assert_int_equal(st.bytes[INFERD_OWNER_REQUEST], 24);
    assert_int_equal(st.total_count, 1);
    assert_int_equal(st.total_bytes, 24);
    /* The only reference: its data may be overwritten in place; not with a second one. */
    assert_true(inferd_tensor_is_sole_owner(t));
    inferd_tensor_ref(t);
    assert_false(inferd_tensor_is_sole_owner(t));
    inferd_tensor_unref(t);
    assert_true(inferd_tensor_is_sole_owner(t));
    inferd_tensor_unref(t);
}

static void create_scalar_and_empty(void **state)
{
    (void)state;
    inferd_err_t err;
    inferd_tensor_t *s =
        inferd_tensor_create(INFERD_DTYPE_INT64, NULL, 0, 0, INFERD_OWNER_MODEL, &err);
    assert_non_null(s);
    assert_int_equal(s->ndim, 0);
    assert_int_equal(inferd_tensor_numel(s), 1);
    assert_int_equal(s->nbytes, 8);
    assert_non_null(s->data);

    const int64_t d[] = {4, 0};
    inferd_tensor_t *e = inferd_tensor_create(INFERD_DTYPE_FP32, d, 2, 0, INFERD_OWNER_MODEL, &err);
    assert_non_null(e);
    assert_int_equal(inferd_tensor_numel(e), 0);
    assert_int_equal(e->nbytes, 0);
    assert_null(e->data);

    /* A view of the empty tensor has no data either. */
    const int64_t v0[] = {0};
    inferd_tensor_t *v = inferd_tensor_view(e, 0, INFERD_DTYPE_FP32, v0, 1, 0, &err);
    assert_non_null(v);
    assert_null(v->data);
    inferd_tensor_unref(v);
    inferd_tensor_unref(e);
    inferd_tensor_unref(s);
}

static void create_rejects_bad_input(void **state)
{
    (void)state;
    inferd_err_t err;
    const int64_t d[] = {2, -3};
    assert_null(inferd_tensor_create(INFERD_DTYPE_FP32, d, 2, 0, INFERD_OWNER_REQUEST, &err));
    assert_int_equal(err.code, INFERD_E_INVALID_ARG);
    const int64_t ok[] = {2};
    assert_null(inferd_tensor_create(INFERD_DTYPE_INVALID, ok, 1, 0, INFERD_OWNER_REQUEST, &err));
    assert_int_equal(err.code, INFERD_E_INVALID_ARG);
    assert_null(inferd_tensor_create(INFERD_DTYPE_COUNT_, ok, 1, 0, INFERD_OWNER_REQUEST, &err));
    assert_null(inferd_tensor_create(INFERD_DTYPE_FP32, ok, 1, 0, INFERD_OWNER_COUNT_, &err));
    assert_int_equal(err.code, INFERD_E_INVALID_ARG);
    /* 2^62 FP32 elements do not fit in size_t bytes. */
    const int64_t huge[] = {1LL << 31, 1LL << 31};
    assert_null(inferd_tensor_create(INFERD_DTYPE_FP64, huge, 2, 0, INFERD_OWNER_REQUEST, &err));
    assert_int_equal(err.code, INFERD_E_TOO_LARGE);
    int64_t many[INFERD_MAX_DIMS + 1] = {0};
    assert_null(inferd_tensor_create(INFERD_DTYPE_FP32, many, INFERD_MAX_DIMS + 1, 0,
                                     INFERD_OWNER_REQUEST, &err));
    assert_int_equal(err.code, INFERD_E_INVALID_ARG);
}

static void create_bytes_uses_given_size(void **state)
{
    (void)state;
    inferd_err_t err;
    const int64_t d[] = {2};
    inferd_tensor_t *t =
        inferd_tensor_create(INFERD_DTYPE_BYTES, d, 1, 13, INFERD_OWNER_REQUEST, &err);
    assert_non_null(t);
    assert_int_equal(t->nbytes, 13);
    inferd_tensor_unref(t);
}

typedef struct release_probe {
    int calls;
    void *seen;
} release_probe_t;

static void probe_release(void *ctx, void *data)
{
    release_probe_t *p = ctx;
    p->calls++;
    p->seen = data;
}

static void wrap_runs_release_once_at_last_unref(void **state)
{
    (void)state;
    inferd_err_t err;
    float body[6] = {1, 2, 3, 4, 5, 6};
    release_probe_t probe = {0, NULL};
    const int64_t d[] = {3, 2};
    inferd_tensor_t *t = inferd_tensor_wrap(INFERD_DTYPE_FP32, d, 2, body, sizeof(body),
                                            probe_release, &probe, INFERD_OWNER_REQUEST, &err);
    assert_non_null(t);
    assert_ptr_equal(t->data, body); /* no copy */
    assert_ptr_equal(inferd_tensor_ref(t), t);
    inferd_tensor_ref(t);
    inferd_tensor_unref(t);
    inferd_tensor_unref(t);
    assert_int_equal(probe.calls, 0);
    inferd_tensor_unref(t);
    assert_int_equal(probe.calls, 1);
    assert_ptr_equal(probe.seen, body);

    /* A NULL release is allowed: nothing to free. */
    t = inferd_tensor_wrap(INFERD_DTYPE_FP32, d, 2, body, sizeof(body), NULL, NULL,
                           INFERD_OWNER_SHM, &err);
    assert_non_null(t);
    inferd_tensor_unref(t);

    /* A failed wrap does not take the buffer: release is not called. */
    const int64_t bad[] = {-1};
    assert_null(inferd_tensor_wrap(INFERD_DTYPE_FP32, bad, 1, body, sizeof(body), probe_release,
                                   &probe, INFERD_OWNER_REQUEST, &err));
    assert_int_equal(probe.calls, 1);

    inferd_tensor_unref(NULL);
    assert_null(inferd_tensor_ref(NULL));
}

static void view_keeps_parent_alive(void **state)
{
    (void)state;
    inferd_err_t err;
    static char body[64];
    release_probe_t probe = {0, NULL};
    const int64_t d[] = {16};
    inferd_tensor_t *parent = inferd_tensor_wrap(INFERD_DTYPE_FP32, d, 1, body, sizeof(body),
                                                 probe_release, &probe, INFERD_OWNER_REQUEST, &err);
    assert_non_null(parent);
    const int64_t vd[] = {2, 2};
    inferd_tensor_t *v = inferd_tensor_view(parent, 16, INFERD_DTYPE_FP32, vd, 2, 16, &err);
    assert_non_null(v);
    assert_ptr_equal(v->data, body + 16);
    assert_int_equal(v->owner, INFERD_OWNER_REQUEST);
    /* Neither may be overwritten in place: the view shares the parent's data. */
    assert_false(inferd_tensor_is_sole_owner(parent));
    assert_false(inferd_tensor_is_sole_owner(v));

    /* A view counts as a tensor, but its bytes are the parent's. */
    inferd_tensor_stats_t st;
    inferd_tensor_stats(&st);
    assert_int_equal(st.count[INFERD_OWNER_REQUEST], 2);
    assert_int_equal(st.bytes[INFERD_OWNER_REQUEST], 64);

    /* The creator drops the parent; the view still holds it. */
    inferd_tensor_unref(parent);
    assert_int_equal(probe.calls, 0);
    inferd_tensor_stats(&st);
    assert_int_equal(st.count[INFERD_OWNER_REQUEST], 2);

    /* A view of a view chains to the root. */
    const int64_t wd[] = {2};
    inferd_tensor_t *w = inferd_tensor_view(v, 8, INFERD_DTYPE_INT32, wd, 1, 8, &err);
    assert_non_null(w);
    assert_ptr_equal(w->data, body + 24);
    inferd_tensor_unref(v);
    assert_int_equal(probe.calls, 0);
    inferd_tensor_unref(w);
    assert_int_equal(probe.calls, 1);
    assert_ptr_equal(probe.seen, body);
}

static void view_out_of_range_fails(void **state)
{
    (void)state;
    inferd_err_t err;
    const int64_t d[] = {4};
    inferd_tensor_t *t = inferd_tensor_create(INFERD_DTYPE_FP32, d, 1, 0, INFERD_OWNER_ARENA, &err);
    assert_non_null(t);
    const int64_t vd[] = {2};
    assert_null(inferd_tensor_view(t, 12, INFERD_DTYPE_FP32, vd, 1, 8, &err));
    assert_int_equal(err.code, INFERD_E_INVALID_ARG);
    assert_null(inferd_tensor_view(t, 17, INFERD_DTYPE_FP32, vd, 1, 0, &err));
    assert_null(inferd_tensor_view(t, SIZE_MAX, INFERD_DTYPE_FP32, vd, 1, 2, &err));
    assert_null(inferd_tensor_view(t, 0, INFERD_DTYPE_FP32, vd, 1, SIZE_MAX, &err));
    const int64_t bad[] = {-2};
    assert_null(inferd_tensor_view(t, 0, INFERD_DTYPE_FP32, bad, 1, 8, &err));
    /* A failed view takes no reference: one unref frees the tensor. */
    inferd_tensor_t *ok = inferd_tensor_view(t, 8, INFERD_DTYPE_FP32, vd, 1, 8, &err);
    assert_non_null(ok);
    inferd_tensor_unref(ok);
    inferd_tensor_unref(t);
}

static void owner_accounting_returns_to_zero(void **state)
{
    (void)state;
    inferd_err_t err;
    const int64_t d[] = {10};
    inferd_tensor_t *ts[INFERD_OWNER_COUNT_];
    for (int o = 0; o < INFERD_OWNER_COUNT_; o++) {
        ts[o] = inferd_tensor_create(INFERD_DTYPE_INT16, d, 1, 0, (inferd_owner_t)o, &err);
        assert_non_null(ts[o]);
    }
    inferd_tensor_stats_t st;
    inferd_tensor_stats(&st);
    for (int o = 0; o < INFERD_OWNER_COUNT_; o++) {
        assert_int_equal(st.count[o], 1);
        assert_int_equal(st.bytes[o], 20);
    }
    assert_int_equal(st.total_count, INFERD_OWNER_COUNT_);
    assert_int_equal(st.total_bytes, 20 * INFERD_OWNER_COUNT_);
    for (int o = 0; o < INFERD_OWNER_COUNT_; o++)
        inferd_tensor_unref_cb(ts[o]);
    assert_no_live_tensors();
    assert_string_equal(inferd_owner_name(INFERD_OWNER_SHM), "shm");
    assert_string_equal(inferd_owner_name(INFERD_OWNER_COUNT_), "unknown");
}

static void peak_bytes_is_a_high_water_mark(void **state)
{
    (void)state;
    inferd_err_t err;
    const int64_t d[] = {100};
    inferd_tensor_peak_reset();
    inferd_tensor_t *a = inferd_tensor_create(INFERD_DTYPE_FP32, d, 1, 0, INFERD_OWNER_ARENA, &err);
    inferd_tensor_t *b = inferd_tensor_create(INFERD_DTYPE_FP32, d, 1, 0, INFERD_OWNER_ARENA, &err);
    inferd_tensor_unref(a);
    inferd_tensor_t *c =
        inferd_tensor_create(INFERD_DTYPE_UINT8, d, 1, 0, INFERD_OWNER_ARENA, &err);
    inferd_tensor_stats_t st;
    inferd_tensor_stats(&st);
    assert_int_equal(st.bytes[INFERD_OWNER_ARENA], 500);
    assert_int_equal(st.peak_bytes[INFERD_OWNER_ARENA], 800); /* a and b were live together */
    assert_int_equal(st.peak_bytes[INFERD_OWNER_MODEL], 0);
    inferd_tensor_peak_reset(); /* restarts from what is live now */
    inferd_tensor_stats(&st);
    assert_int_equal(st.peak_bytes[INFERD_OWNER_ARENA], 500);
    inferd_tensor_unref(b);
    inferd_tensor_unref(c);
}

static void long_view_chain_unrefs_iteratively(void **state)
{
    (void)state;
    inferd_err_t err;
    const int64_t d[] = {4};
    inferd_tensor_t *t =
        inferd_tensor_create(INFERD_DTYPE_UINT8, d, 1, 0, INFERD_OWNER_ARENA, &err);
    for (int i = 0; i < 100000; i++) {
        inferd_tensor_t *v = inferd_tensor_view(t, 0, INFERD_DTYPE_UINT8, d, 1, 4, &err);
        assert_non_null(v);
        inferd_tensor_unref(t); /* the view now holds the only reference to t */
        t = v;
    }
    inferd_tensor_unref(t);
}

/* ------------------------------------------------------------------------------------ */
/* BYTES                                                                                */

static void bytes_validation(void **state)
{
    (void)state;
    /* Two elements: "ab" and "" */
    const unsigned char good[] = {2, 0, 0, 0, 'a', 'b', 0, 0, 0, 0};
    assert_true(inferd_bytes_valid(good, sizeof(good), 2));
    assert_false(inferd_bytes_valid(good, sizeof(good), 1));     /* bytes left over */
    assert_false(inferd_bytes_valid(good, sizeof(good), 3));     /* runs out */
    assert_false(inferd_bytes_valid(good, sizeof(good) - 1, 2)); /* cut prefix */
    assert_false(inferd_bytes_valid(good, 5, 1));                /* cut body */
    assert_true(inferd_bytes_valid(NULL, 0, 0));
    assert_false(inferd_bytes_valid(NULL, 0, 1));
    /* A length near 2^32 must not wrap around the bounds check. */
    const unsigned char huge[] = {0xff, 0xff, 0xff, 0xff, 'x'};
    assert_false(inferd_bytes_valid(huge, sizeof(huge), 1));
    const unsigned char le[] = {1, 1, 0, 0};
    assert_false(inferd_bytes_valid(le, sizeof(le), 1)); /* 257 bytes claimed */
}

/* ------------------------------------------------------------------------------------ */
/* Half precision                                                                       */

static float f32_from_bits(uint32_t b)
{
    float f;
    memcpy(&f, &b, 4);
    return f;
}

static uint32_t bits_from_f32(float f)
{
    uint32_t b;
    memcpy(&b, &f, 4);
    return b;
}

static const struct {
    uint32_t f32;
    uint16_t f16;
} to_fp16[] = {
    {0x00000000u, 0x0000}, /* 0.0 */
    {0x80000000u, 0x8000}, /* -0.0 */
    {0x3f800000u, 0x3c00}, /* 1.0 */
    {0xc0000000u, 0xc000}, /* -2.0 */
    {0x3dcccccdu, 0x2e66}, /* 0.1 */
    {0x40490fdbu, 0x4248}, /* pi */
    {0x477fe000u, 0x7bff}, /* 65504, the largest finite */
    {0x477fef00u, 0x7bff}, /* 65519 rounds down */
    {0x477ff000u, 0x7c00}, /* 65520 rounds (to even) to inf */
    {0x49742400u, 0x7c00}, /* 1e6 overflows */
    {0x38800000u, 0x0400}, /* 2^-14, the smallest normal */
    {0x33800000u, 0x0001}, /* 2^-24, the smallest subnormal */
    {0x33000000u, 0x0000}, /* 2^-25: a tie, to even (0) */
    {0x33c00000u, 0x0002}, /* 3 * 2^-25: a tie, to even (2) */
    {0x32800000u, 0x0000}, /* 2^-26 underflows */
    {0x322bcc77u, 0x0000}, /* 1e-8 */
    {0x387fda40u, 0x03ff}, /* 6.1e-5: largest subnormal */
    {0x387fc000u, 0x03ff}, /* exactly the largest subnormal */
    {0x3f801000u, 0x3c00}, /* 1 + 2^-11: a tie, to even (down) */
    {0x3f803000u, 0x3c02}, /* 1 + 3 * 2^-11: a tie, to even (up) */
    {0x3f801008u, 0x3c01}, /* just above the tie rounds up */
    {0x7f800000u, 0x7c00}, /* inf */
    {0xff800000u, 0xfc00}, /* -inf */
};

static const struct {
    uint16_t f16;
    uint32_t f32;
} from_fp16[] = {
    {0x0000, 0x00000000u}, {0x8000, 0x80000000u}, {0x0001, 0x33800000u}, {0x03ff, 0x387fc000u},
    {0x0400, 0x38800000u}, {0x3c00, 0x3f800000u}, {0xc000, 0xc0000000u}, {0x7bff, 0x477fe000u},
    {0x7c00, 0x7f800000u}, {0xfc00, 0xff800000u}, {0x3555, 0x3eaaa000u}, {0x8001, 0xb3800000u},
    {0x0200, 0x38000000u},
};

static const struct {
    uint32_t f32;
    uint16_t bf16;
} to_bf16[] = {
    {0x3f800000u, 0x3f80}, /* 1 */
    {0xbf800000u, 0xbf80}, /* -1 */
    {0x40490fdbu, 0x4049}, /* pi */
    {0x3f808000u, 0x3f80}, /* tie, to even (down) */
    {0x3f818000u, 0x3f82}, /* tie, to even (up) */
    {0x3f808001u, 0x3f81}, /* above the tie */
    {0x3f807fffu, 0x3f80}, /* below the tie */
    {0x7f7fffffu, 0x7f80}, /* FLT_MAX rounds to inf */
    {0x00000001u, 0x0000}, /* the smallest fp32 subnormal */
    {0x007fffffu, 0x0080}, /* the largest fp32 subnormal rounds up to a normal */
    {0x80000000u, 0x8000}, /* -0 */
    {0x7f800000u, 0x7f80}, /* inf */
    {0xff800000u, 0xff80}, /* -inf */
    {0x3dcccccdu, 0x3dcd}, /* 0.1 */
};

static void fp16_conversions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(to_fp16) / sizeof(to_fp16[0]); i++) {
        uint16_t got = inferd_fp32_to_fp16(f32_from_bits(to_fp16[i].f32));
        if (got != to_fp16[i].f16)
            fail_msg("fp32 0x%08x -> fp16: want 0x%04x, got 0x%04x", to_fp16[i].f32, to_fp16[i].f16,
                     got);
    }
    for (size_t i = 0; i < sizeof(from_fp16) / sizeof(from_fp16[0]); i++) {
        uint32_t got = bits_from_f32(inferd_fp16_to_fp32(from_fp16[i].f16));
        if (got != from_fp16[i].f32)
            fail_msg("fp16 0x%04x -> fp32: want 0x%08x, got 0x%08x", from_fp16[i].f16,
                     from_fp16[i].f32, got);
    }
    /* NaN stays NaN both ways, sign included. */
    assert_true(isnan(inferd_fp16_to_fp32(0x7e00)));
    assert_true(isnan(inferd_fp16_to_fp32(0x7c01)));
    uint16_t h = inferd_fp32_to_fp16(NAN);
    assert_int_equal(h & 0x7c00, 0x7c00);
    assert_true((h & 0x3ff) != 0);
    h = inferd_fp32_to_fp16(f32_from_bits(0x7f800001u)); /* a signalling NaN */
    assert_true((h & 0x7c00) == 0x7c00 && (h & 0x3ff) != 0);
    h = inferd_fp32_to_fp16(f32_from_bits(0xffc00000u));
    assert_int_equal(h & 0x8000, 0x8000);
    assert_true((h & 0x3ff) != 0);
}

static void fp16_round_trip_is_exact(void **state)
{
    (void)state;
    /* Every finite fp16 value survives fp16 -> fp32 -> fp16. */
    for (uint32_t h = 0; h < 0x10000; h++) {
        if ((h & 0x7c00) == 0x7c00 && (h & 0x3ff))
            continue; /* NaN payloads are not preserved */
        uint16_t back = inferd_fp32_to_fp16(inferd_fp16_to_fp32((uint16_t)h));
        if (back != h)
            fail_msg("fp16 0x%04x round-trips to 0x%04x", h, back);
    }
}

static void bf16_conversions(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof(to_bf16) / sizeof(to_bf16[0]); i++) {
        uint16_t got = inferd_fp32_to_bf16(f32_from_bits(to_bf16[i].f32));
        if (got != to_bf16[i].bf16)
            fail_msg("fp32 0x%08x -> bf16: want 0x%04x, got 0x%04x", to_bf16[i].f32,
                     to_bf16[i].bf16, got);
    }
    /* bf16 -> fp32 is exact: the bits move up. */
    assert_int_equal(bits_from_f32(inferd_bf16_to_fp32(0x3f80)), 0x3f800000u);
    assert_int_equal(bits_from_f32(inferd_bf16_to_fp32(0x0001)), 0x00010000u);
    assert_int_equal(bits_from_f32(inferd_bf16_to_fp32(0xff80)), 0xff800000u);
    for (uint32_t b = 0; b < 0x10000; b++) {
        if ((b & 0x7f80) == 0x7f80 && (b & 0x7f))
            continue;
        if (inferd_fp32_to_bf16(inferd_bf16_to_fp32((uint16_t)b)) != b)
            fail_msg("bf16 0x%04x does not round-trip", b);
    }
    /* NaN must not round into inf. */
    uint16_t n = inferd_fp32_to_bf16(f32_from_bits(0x7f800001u));
    assert_true((n & 0x7f80) == 0x7f80 && (n & 0x7f) != 0);
    n = inferd_fp32_to_bf16(f32_from_bits(0xffffffffu));
    assert_true((n & 0x7f80) == 0x7f80 && (n & 0x7f) != 0);
    assert_true(isnan(inferd_bf16_to_fp32(0x7fc0)));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(dtype_names_and_sizes, teardown_check),
        cmocka_unit_test_teardown(shape_numel, teardown_check),
        cmocka_unit_test_teardown(shape_numel_errors, teardown_check),
        cmocka_unit_test_teardown(create_owns_zeroed_data, teardown_check),
        cmocka_unit_test_teardown(create_scalar_and_empty, teardown_check),
        cmocka_unit_test_teardown(create_rejects_bad_input, teardown_check),
        cmocka_unit_test_teardown(create_bytes_uses_given_size, teardown_check),
        cmocka_unit_test_teardown(wrap_runs_release_once_at_last_unref, teardown_check),
        cmocka_unit_test_teardown(view_keeps_parent_alive, teardown_check),
        cmocka_unit_test_teardown(view_out_of_range_fails, teardown_check),
        cmocka_unit_test_teardown(owner_accounting_returns_to_zero, teardown_check),
        cmocka_unit_test_teardown(peak_bytes_is_a_high_water_mark, teardown_check),
        cmocka_unit_test_teardown(long_view_chain_unrefs_iteratively, teardown_check),
        cmocka_unit_test_teardown(bytes_validation, teardown_check),
        cmocka_unit_test_teardown(fp16_conversions, teardown_check),
        cmocka_unit_test_teardown(fp16_round_trip_is_exact, teardown_check),
        cmocka_unit_test_teardown(bf16_conversions, teardown_check),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
