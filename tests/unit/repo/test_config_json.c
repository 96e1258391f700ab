/* Tests for src/repo/config_json.c: Triton's JSON config form to config.pbtxt text. */
#include "test.h"

#include <string.h>

#include "core/buf.h"
#include "repo/config.h"

/* Converts json, then parses the text into cfg (which the caller deinits). */
static inferd_status_t convert_and_parse(const char *json, inferd_model_config_t *cfg,
                                         inferd_err_t *err)
{
    inferd_buf_t text;
    inferd_buf_init(&text, 0);
    inferd_status_t st = inferd_model_config_json_to_text(json, strlen(json), &text, err);
    inferd_model_config_init(cfg);
    if (st == INFERD_OK)
        st = inferd_model_config_parse(text.data ? text.data : "", text.len, "config override", cfg,
                                       err);
    inferd_buf_deinit(&text);
    return st;
}

static void test_full_config(void **state)
{
    (void)state;
    const char *json =
        "{\"name\":\"m\",\"platform\":\"onnxruntime_onnx\",\"backend\":\"\",\"runtime\":\"\","
        "\"max_batch_size\":8,"
        "\"input\":[{\"name\":\"x\",\"data_type\":\"TYPE_FP32\",\"format\":\"FORMAT_NONE\","
        "\"dims\":[\"3\",-1],\"is_shape_tensor\":false,\"optional\":false}],"
        "\"output\":[{\"name\":\"y\",\"data_type\":\"TYPE_INT64\",\"dims\":[1],"
        "\"label_filename\":\"l.txt\"}],"
        "\"version_policy\":{\"specific\":{\"versions\":[\"1\",3]}},"
        "\"instance_group\":[{\"name\":\"g\",\"kind\":\"KIND_CPU\",\"count\":2,\"gpus\":[]}],"
        "\"dynamic_batching\":{\"preferred_batch_size\":[4,8],"
        "\"max_queue_delay_microseconds\":\"100\",\"default_queue_policy\":"
        "{\"timeout_action\":\"DELAY\",\"default_timeout_microseconds\":5,"
        "\"allow_timeout_override\":true,\"max_queue_size\":0}},"
        "\"parameters\":{\"k\":{\"string_value\":\"v \\\"q\\\"\"}},"
        "\"batch_input\":[],\"cc_model_filenames\":{},\"model_warmup\":[]}";
    inferd_model_config_t cfg;
    inferd_err_t err;
    inferd_status_t st = convert_and_parse(json, &cfg, &err);
    if (st != INFERD_OK)
        fail_msg("%s", err.msg);
    assert_string_equal(cfg.name, "m");
    assert_int_equal(cfg.max_batch_size, 8);
    assert_int_equal(cfg.n_inputs, 1);
    assert_int_equal(cfg.inputs[0].data_type, INFERD_DTYPE_FP32);
    assert_int_equal(cfg.inputs[0].ndim, 2);
    assert_int_equal(cfg.inputs[0].dims[0], 3);
    assert_int_equal(cfg.inputs[0].dims[1], -1);
    assert_string_equal(cfg.outputs[0].label_filename, "l.txt");
    assert_int_equal(cfg.version_policy, INFERD_VERSION_POLICY_SPECIFIC);
    assert_int_equal(cfg.n_specific_versions, 2);
    assert_int_equal(cfg.specific_versions[1], 3);
    assert_int_equal(cfg.instance_groups[0].count, 2);
    assert_true(cfg.has_dynamic_batching);
    assert_int_equal(cfg.dynamic_batching.n_preferred_batch_size, 2);
    assert_int_equal(cfg.dynamic_batching.max_queue_delay_microseconds, 100);
    assert_int_equal(cfg.dynamic_batching.default_queue_policy.timeout_action,
                     INFERD_TIMEOUT_ACTION_DELAY);
    assert_true(cfg.dynamic_batching.default_queue_policy.allow_timeout_override);
    assert_int_equal(cfg.n_parameters, 1);
    assert_string_equal(cfg.parameters[0].key, "k");
    assert_string_equal(cfg.parameters[0].value, "v \"q\"");
    inferd_model_config_deinit(&cfg);
}

static void test_round_trip_of_own_json(void **state)
{
    (void)state;
    const char *text = "name: \"r\"\nmax_batch_size: 4\n"
                       "input [ { name: \"a\" data_type: TYPE_INT8 dims: [ 2, 2 ] } ]\n"
                       "output [ { name: \"b\" data_type: TYPE_FP64 dims: [ 1 ] "
                       "reshape { shape: [ ] } } ]\n";
    inferd_model_config_t a, b;
    inferd_err_t err;
    inferd_model_config_init(&a);
    assert_int_equal(inferd_model_config_parse(text, strlen(text), "t", &a, &err), INFERD_OK);
    inferd_buf_t json;
    inferd_buf_init(&json, 0);
    inferd_model_config_to_json(&a, &json);
    inferd_status_t st = convert_and_parse(json.data, &b, &err);
    if (st != INFERD_OK)
        fail_msg("%s\n%s", err.msg, json.data);
    assert_string_equal(b.name, "r");
    assert_int_equal(b.max_batch_size, 4);
    assert_int_equal(b.inputs[0].data_type, INFERD_DTYPE_INT8);
    assert_int_equal(b.outputs[0].data_type, INFERD_DTYPE_FP64);
    assert_true(b.outputs[0].has_reshape);
    inferd_buf_deinit(&json);
    inferd_model_config_deinit(&a);
    inferd_model_config_deinit(&b);
}

static void test_errors(void **state)
{
    (void)state;
    inferd_model_config_t cfg;
    inferd_err_t err;
    assert_int_equal(convert_and_parse("[1]", &cfg, &err), INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "JSON object"));
    inferd_model_config_deinit(&cfg);
    assert_int_equal(convert_and_parse("{\"name\":", &cfg, &err), INFERD_E_INVALID_ARG);
    inferd_model_config_deinit(&cfg);
    assert_int_equal(convert_and_parse("{\"dims\":[1,{\"a\":1}]}", &cfg, &err),
                     INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "mixes"));
    inferd_model_config_deinit(&cfg);
    assert_int_equal(convert_and_parse("{\"parameters\":{\"k\":\"v\"}}", &cfg, &err),
                     INFERD_E_INVALID_ARG);
    inferd_model_config_deinit(&cfg);
    /* An unknown field is the parser's to refuse, with a position in the text. */
    assert_int_equal(convert_and_parse("{\"max_batch_sise\":3}", &cfg, &err), INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "config override:1:"));
    assert_non_null(strstr(err.msg, "max_batch_sise"));
    inferd_model_config_deinit(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_full_config),
        cmocka_unit_test(test_round_trip_of_own_json),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
