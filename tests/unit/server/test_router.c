/* Tests for src/server/http/router.c: path grammar, methods, name decoding, shared-memory
 * paths. */
#include "test.h"

#include <string.h>

#include "server/http/router.h"

static inferd_route_t route;
static inferd_err_t err;

static inferd_status_t match(inferd_http_method_t m, const char *path)
{
    return inferd_route_match(m, path, &route, &err);
}

static void test_server_paths(void **state)
{
    (void)state;
    assert_int_equal(match(INFERD_HTTP_GET, "/v2"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_SERVER_METADATA);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/health/live"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_HEALTH_LIVE);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/health/ready"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_HEALTH_READY);
    assert_int_equal(match(INFERD_HTTP_GET, "/healthz"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_HEALTHZ);
    assert_int_equal(match(INFERD_HTTP_GET, "/metrics"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_METRICS);
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/repository/index"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_REPOSITORY_INDEX);
    assert_int_equal(match(INFERD_HTTP_GET, "/debug/threads"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_DEBUG_THREADS);
    assert_int_equal(match(INFERD_HTTP_GET, "/debug/tensors"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_DEBUG_TENSORS);
}

static void test_model_paths(void **state)
{
    (void)state;
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/digits"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_MODEL_METADATA);
    assert_string_equal(route.model, "digits");
    assert_int_equal(route.version, -1);

    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/digits/versions/12"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_MODEL_METADATA);
    assert_int_equal(route.version, 12);

    assert_int_equal(match(INFERD_HTTP_POST, "/v2/models/digits/versions/3/infer"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_MODEL_INFER);
    assert_int_equal(route.version, 3);

    assert_int_equal(match(INFERD_HTTP_POST, "/v2/models/digits/infer"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_MODEL_INFER);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/digits/ready"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_MODEL_READY);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/digits/versions/1/config"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_MODEL_CONFIG);
}

static void test_repository_control_paths(void **state)
{
    (void)state;
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/repository/models/digits/load"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_REPOSITORY_LOAD);
    assert_string_equal(route.model, "digits");
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/repository/models/a%20b/unload"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_REPOSITORY_UNLOAD);
    assert_string_equal(route.model, "a b");
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/repository/models/m/load"),
                     INFERD_E_METHOD_NOT_ALLOWED);
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/repository/models/m/reload"), INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/repository/models/m/load/x"), INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/repository/models/m"), INFERD_E_NOT_FOUND);
}

static void test_not_found(void **state)
{
    (void)state;
    assert_int_equal(match(INFERD_HTTP_GET, "/"), INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/"), INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/"), INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/m/versions/x"), INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/m/versions/-1"), INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/m/versions/"), INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/m/bogus"), INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/m/ready/extra"), INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/health"), INFERD_E_NOT_FOUND);
}

static void test_wrong_method(void **state)
{
    (void)state;
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/m/infer"), INFERD_E_METHOD_NOT_ALLOWED);
    assert_int_equal(route.allowed_methods, INFERD_HTTP_POST);
    assert_string_equal(inferd_route_allow_header(route.allowed_methods), "POST");
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/health/live"), INFERD_E_METHOD_NOT_ALLOWED);
    assert_string_equal(inferd_route_allow_header(route.allowed_methods), "GET");
    assert_int_equal(match(INFERD_HTTP_OTHER, "/v2"), INFERD_E_METHOD_NOT_ALLOWED);
}

static void test_observability_paths(void **state)
{
    (void)state;
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/stats"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_MODEL_STATS);
    assert_string_equal(route.model, "");
    assert_int_equal(route.version, -1);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/digits/stats"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_MODEL_STATS);
    assert_string_equal(route.model, "digits");
    assert_int_equal(route.version, -1);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/digits/versions/2/stats"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_MODEL_STATS);
    assert_int_equal(route.version, 2);
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/models/stats"), INFERD_E_METHOD_NOT_ALLOWED);
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/models/m/stats"), INFERD_E_METHOD_NOT_ALLOWED);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/m/stats/x"), INFERD_E_NOT_FOUND);

    assert_int_equal(match(INFERD_HTTP_GET, "/v2/logging"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_LOGGING);
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/logging"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_LOGGING);
    assert_int_equal(match(INFERD_HTTP_OTHER, "/v2/logging"), INFERD_E_METHOD_NOT_ALLOWED);
    assert_string_equal(inferd_route_allow_header(route.allowed_methods), "GET, POST");

    assert_int_equal(match(INFERD_HTTP_GET, "/debug/requests"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_DEBUG_REQUESTS);
}

static void test_trace_setting_paths(void **state)
{
    (void)state;
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/trace/setting"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_TRACE_SETTING);
    assert_string_equal(route.model, "");
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/models/digits/trace/setting"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_TRACE_SETTING);
    assert_string_equal(route.model, "digits");
    assert_int_equal(match(INFERD_HTTP_OTHER, "/v2/models/m/trace/setting"),
                     INFERD_E_METHOD_NOT_ALLOWED);
    /* As in Triton: no version path, nothing after "setting". */
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/m/versions/1/trace/setting"),
                     INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/m/trace/setting/x"), INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/m/trace"), INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/m/trace/settings"), INFERD_E_NOT_FOUND);
}

static void test_name_decoding(void **state)
{
    (void)state;
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/a%20b"), INFERD_OK);
    assert_string_equal(route.model, "a b");
    /* %2F stays inside the name: it is an identifier, never a path. */
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/a%2Fb/ready"), INFERD_OK);
    assert_string_equal(route.model, "a/b");
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/a%2"), INFERD_E_INVALID_ARG);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/a%zz"), INFERD_E_INVALID_ARG);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/models/a%00b"), INFERD_E_INVALID_ARG);
    char longpath[600] = "/v2/models/";
    memset(longpath + 11, 'x', 400);
    assert_int_equal(match(INFERD_HTTP_GET, longpath), INFERD_E_INVALID_ARG);
}

static void test_shm_paths(void **state)
{
    (void)state;
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/systemsharedmemory/status"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_SHM_STATUS);
    assert_string_equal(route.model, "");
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/systemsharedmemory/region/r%2F1/status"),
                     INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_SHM_STATUS);
    assert_string_equal(route.model, "r/1");
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/systemsharedmemory/region/r1/register"),
                     INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_SHM_REGISTER);
    assert_string_equal(route.model, "r1");
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/systemsharedmemory/region/r1/unregister"),
                     INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_SHM_UNREGISTER);
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/systemsharedmemory/unregister"), INFERD_OK);
    assert_int_equal(route.kind, INFERD_ROUTE_SHM_UNREGISTER);
    assert_string_equal(route.model, "");
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/systemsharedmemory/region/r1/register"),
                     INFERD_E_METHOD_NOT_ALLOWED);
    assert_int_equal(match(INFERD_HTTP_POST, "/v2/systemsharedmemory/register"),
                     INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/systemsharedmemory/region/r1/status/x"),
                     INFERD_E_NOT_FOUND);
    assert_int_equal(match(INFERD_HTTP_GET, "/v2/systemsharedmemory/region//status"),
                     INFERD_E_NOT_FOUND);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_server_paths),
        cmocka_unit_test(test_model_paths),
        cmocka_unit_test(test_repository_control_paths),
        cmocka_unit_test(test_not_found),
        cmocka_unit_test(test_wrong_method),
        cmocka_unit_test(test_name_decoding),
        cmocka_unit_test(test_observability_paths),
        cmocka_unit_test(test_shm_paths),
        cmocka_unit_test(test_trace_setting_paths),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
