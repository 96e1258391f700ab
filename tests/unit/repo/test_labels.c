/* Tests for the label-file loader in src/repo/repo.c (classification labels): line splitting
 * (CRLF, a last line without a newline, empty lines), and files that must be refused (outside
 * the model directory by name or by symbolic link, missing, not a regular file). */
#include "test.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "repo/repo.h"

static char dir[64];   /* a temporary directory holding model/ and outside.txt */
static char model[96]; /* dir/model */

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/inferd-labels-XXXXXX");
    if (!mkdtemp(dir))
        return -1;
    snprintf(model, sizeof(model), "%s/model", dir);
    char p[160];
    mkdir(model, 0700);
    snprintf(p, sizeof(p), "%s/sub", model);
    mkdir(p, 0700);
    snprintf(p, sizeof(p), "%s/labels.txt", model);
    write_file(p, "cat\r\ndog\n\nbird");
    snprintf(p, sizeof(p), "%s/sub/l.txt", model);
    write_file(p, "a\n");
    snprintf(p, sizeof(p), "%s/empty.txt", model);
    write_file(p, "");
    snprintf(p, sizeof(p), "%s/outside.txt", dir);
    write_file(p, "secret\n");
    char target[160];
    snprintf(target, sizeof(target), "%s/outside.txt", dir);
    snprintf(p, sizeof(p), "%s/link.txt", model);
    return symlink(target, p);
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static void loads_lines(void **state)
{
    (void)state;
    inferd_labels_t l;
    inferd_err_t err = {0};
    assert_int_equal(inferd_labels_load(model, "labels.txt", &l, &err), INFERD_OK);
    assert_int_equal(l.n, 4);
    assert_string_equal(l.lines[0], "cat");
    assert_string_equal(l.lines[1], "dog");
    assert_string_equal(l.lines[2], "");
    assert_string_equal(l.lines[3], "bird");
    inferd_labels_deinit(&l);
    assert_int_equal(l.n, 0);
    assert_int_equal(inferd_labels_load(model, "sub/l.txt", &l, &err), INFERD_OK);
    assert_int_equal(l.n, 1);
    assert_string_equal(l.lines[0], "a");
    inferd_labels_deinit(&l);
    assert_int_equal(inferd_labels_load(model, "./empty.txt", &l, &err), INFERD_OK);
    assert_int_equal(l.n, 0);
    inferd_labels_deinit(&l);
    inferd_labels_deinit(NULL);
}

static void refuses_outside_and_missing(void **state)
{
    (void)state;
    inferd_labels_t l;
    inferd_err_t err = {0};
    char abs[160];
    snprintf(abs, sizeof(abs), "%s/outside.txt", dir);
    const char *bad[] = {"../outside.txt", "sub/../../outside.txt", abs, "", "link.txt", "sub"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(*bad); i++) {
        assert_int_equal(inferd_labels_load(model, bad[i], &l, &err), INFERD_E_INVALID_ARG);
        assert_non_null(strstr(err.msg, "label_filename"));
        assert_int_equal(l.n, 0);
    }
    assert_int_equal(inferd_labels_load(model, "nope.txt", &l, &err), INFERD_E_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(loads_lines),
        cmocka_unit_test(refuses_outside_and_missing),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
