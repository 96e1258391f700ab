/* Tests for src/server/http/peer_acl.c: who may read /debug besides loopback. */
#include "test.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>

#include "server/http/peer_acl.h"

static struct sockaddr_storage ss;

static const struct sockaddr *v4(const char *a)
{
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in *in = (struct sockaddr_in *)&ss;
    in->sin_family = AF_INET;
    assert_int_equal(inet_pton(AF_INET, a, &in->sin_addr), 1);
    return (const struct sockaddr *)&ss;
}

static const struct sockaddr *v6(const char *a)
{
    memset(&ss, 0, sizeof(ss));
    struct sockaddr_in6 *in6 = (struct sockaddr_in6 *)&ss;
    in6->sin6_family = AF_INET6;
    assert_int_equal(inet_pton(AF_INET6, a, &in6->sin6_addr), 1);
    return (const struct sockaddr *)&ss;
}

static void test_loopback(void **state)
{
    (void)state;
    assert_true(inferd_peer_is_loopback(v4("127.0.0.1")));
    assert_true(inferd_peer_is_loopback(v4("127.255.0.9")));
    assert_false(inferd_peer_is_loopback(v4("128.0.0.1")));
    assert_false(inferd_peer_is_loopback(v4("10.0.0.1")));
    assert_true(inferd_peer_is_loopback(v6("::1")));
    assert_true(inferd_peer_is_loopback(v6("::ffff:127.0.0.1")));
    assert_false(inferd_peer_is_loopback(v6("::2")));
    assert_false(inferd_peer_is_loopback(v6("::ffff:192.0.2.1")));
    assert_false(inferd_peer_is_loopback(NULL));
}

static void test_match(void **state)
{
    (void)state;
    inferd_peer_acl_t acl;
    inferd_err_t err;
    assert_int_equal(inferd_peer_acl_parse(" 10.1.2.3/8, 192.0.2.7 ,fd00::/8", &acl, &err),
                     INFERD_OK);
    assert_int_equal(acl.n, 3);
    assert_true(inferd_peer_acl_match(&acl, v4("10.200.0.1")));
    assert_false(inferd_peer_acl_match(&acl, v4("11.0.0.1")));
    assert_true(inferd_peer_acl_match(&acl, v4("192.0.2.7")));
    assert_false(inferd_peer_acl_match(&acl, v4("192.0.2.8")));
    assert_true(inferd_peer_acl_match(&acl, v6("::ffff:192.0.2.7")));
    assert_true(inferd_peer_acl_match(&acl, v6("fd12::1")));
    assert_false(inferd_peer_acl_match(&acl, v6("fe80::1")));

    /* A prefix that is not a byte boundary. */
    assert_int_equal(inferd_peer_acl_parse("172.16.0.0/12", &acl, &err), INFERD_OK);
    assert_true(inferd_peer_acl_match(&acl, v4("172.31.255.255")));
    assert_false(inferd_peer_acl_match(&acl, v4("172.32.0.0")));
    assert_false(inferd_peer_acl_match(&acl, v4("172.15.255.255")));

    /* /0 matches everyone of that family. */
    assert_int_equal(inferd_peer_acl_parse("0.0.0.0/0", &acl, &err), INFERD_OK);
    assert_true(inferd_peer_acl_match(&acl, v4("203.0.113.9")));
    assert_false(inferd_peer_acl_match(&acl, v6("2001:db8::1")));

    /* Empty lists match nobody. */
    assert_int_equal(inferd_peer_acl_parse(NULL, &acl, &err), INFERD_OK);
    assert_false(inferd_peer_acl_match(&acl, v4("10.0.0.1")));
    assert_int_equal(inferd_peer_acl_parse(" , ", &acl, &err), INFERD_OK);
    assert_int_equal(acl.n, 0);
}

static void test_bad_entries(void **state)
{
    (void)state;
    inferd_peer_acl_t acl;
    inferd_err_t err;
    const char *bad[] = {"10.0.0.0/33", "::/129",      "10.0.0.0/", "10.0.0.0/-1",
                         "10.0.0.0/8x", "example.com", "10.0.0",    "1.2.3.4,nope"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(inferd_peer_acl_parse(bad[i], &acl, &err), INFERD_E_INVALID_ARG);
        assert_non_null(strstr(err.msg, "--debug-address"));
    }
    assert_int_equal(inferd_peer_acl_parse("1.2.3.4,nope", &acl, &err), INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "'nope'"));
    char many[512] = "";
    for (int i = 0; i <= INFERD_PEER_ACL_MAX; i++)
        strcat(many, "10.0.0.1,");
    assert_int_equal(inferd_peer_acl_parse(many, &acl, &err), INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "more than"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loopback),
        cmocka_unit_test(test_match),
        cmocka_unit_test(test_bad_entries),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
