/* Tests for src/backends/onnx/kernels/scratch.c: a thread keeps one buffer for every
 * kernel and reuses it, grows it when a call needs more, gives a nested caller a buffer
 * of its own, does not keep a huge one, and fails cleanly without memory. */
#include "test.h"

#include <pthread.h>
#include <stdint.h>
#include <string.h>

#include "backends/onnx/kernels/scratch.h"
#include "core/alloc.h"

/* The test links with --wrap=inferd_pages_alloc. */
void *__real_inferd_pages_alloc(size_t n);
void *__wrap_inferd_pages_alloc(size_t n);
static int pages_calls;
static bool pages_fail;

void *__wrap_inferd_pages_alloc(size_t n)
{
    pages_calls++;
    return pages_fail ? NULL : __real_inferd_pages_alloc(n);
}

static void kept_and_reused(void **state)
{
    (void)state;
    inferd_scratch_release();
    pages_calls = 0;
    char *a = inferd_scratch_get(10000);
    assert_non_null(a);
    assert_int_equal((uintptr_t)a % 4096, 0);
    memset(a, 7, 10000);
    inferd_scratch_put(a, 10000);
    assert_int_equal(inferd_scratch_kept(), 12288);
    /* Any smaller or equal need, from any kernel, gets the same buffer. */
    char *b = inferd_scratch_get(100);
    assert_ptr_equal(a, b);
    inferd_scratch_put(b, 100);
    assert_int_equal(pages_calls, 1);
    /* A larger need replaces it. */
    char *c = inferd_scratch_get(50000);
    assert_non_null(c);
    memset(c, 1, 50000);
    inferd_scratch_put(c, 50000);
    assert_int_equal(inferd_scratch_kept(), 53248);
    assert_int_equal(pages_calls, 2);
    inferd_scratch_release();
    assert_int_equal(inferd_scratch_kept(), 0);
}

static void nested_and_huge_are_not_kept(void **state)
{
    (void)state;
    inferd_scratch_release();
    char *outer = inferd_scratch_get(4096);
    char *inner = inferd_scratch_get(4096); /* the kept one is busy */
    assert_non_null(inner);
    assert_ptr_not_equal(outer, inner);
    memset(inner, 3, 4096);
    inferd_scratch_put(inner, 4096); /* freed: not the kept one */
    inferd_scratch_put(outer, 4096);
    assert_int_equal(inferd_scratch_kept(), 4096);
    size_t huge = (size_t)17 << 20;
    char *h = inferd_scratch_get(huge);
    assert_non_null(h);
    h[huge - 1] = 1;
    inferd_scratch_put(h, huge);
    assert_int_equal(inferd_scratch_kept(), 4096); /* the small one stays */
    inferd_scratch_release();
}

static void out_of_memory(void **state)
{
    (void)state;
    inferd_scratch_release();
    pages_fail = true;
    assert_null(inferd_scratch_get(1000));
    assert_null(inferd_scratch_get(SIZE_MAX - 10)); /* rounding overflows: no call */
    pages_fail = false;
    assert_int_equal(inferd_scratch_kept(), 0);
    inferd_scratch_put(NULL, 0); /* nothing to give back */
    char *p = inferd_scratch_get(1000);
    assert_non_null(p);
    inferd_scratch_put(p, 1000);
    inferd_scratch_release();
}

static void *thread_main(void *arg)
{
    char **out = arg;
    *out = inferd_scratch_get(8192);
    memset(*out, 5, 8192);
    inferd_scratch_put(*out, 8192);
    return NULL; /* the thread's kept buffer goes with it (LeakSanitizer checks) */
}

static void one_buffer_per_thread(void **state)
{
    (void)state;
    char *mine = inferd_scratch_get(8192), *theirs = NULL;
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, thread_main, &theirs), 0);
    assert_int_equal(pthread_join(t, NULL), 0);
    assert_non_null(theirs);
    assert_ptr_not_equal(mine, theirs);
    inferd_scratch_put(mine, 8192);
    inferd_scratch_release();
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(kept_and_reused),
        cmocka_unit_test(nested_and_huge_are_not_kept),
        cmocka_unit_test(out_of_memory),
        cmocka_unit_test(one_buffer_per_thread),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
