/* Tests for src/repo/config.c: the config.pbtxt parser (real Triton-style configs, every
 * field, both list forms, comments, and malformed input with the exact line:col of each
 * error), ONNX auto-complete and validation against a model's declared tensors, and the
 * JSON rendering served at /v2/models/{m}/config. */
#include "test.h"

#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "core/json.h"
#include "repo/config.h"

/* ------------------------------------------------------------------------------------ */
/* Helpers                                                                              */

static inferd_status_t parse(const char *text, inferd_model_config_t *cfg, inferd_err_t *err)
{
    inferd_model_config_init(cfg);
    inferd_err_clear(err);
    return inferd_model_config_parse(text, strlen(text), "config.pbtxt", cfg, err);
}

static void parse_ok(const char *text, inferd_model_config_t *cfg)
{
    inferd_err_t err;
    if (parse(text, cfg, &err) != INFERD_OK)
        fail_msg("parse failed: %s", err.msg);
}

/* Parses text and checks that it fails at `where` ("line:col") with `what` in the
 * message, leaving the config empty. */
static void parse_fails_at(const char *text, const char *where, const char *what)
{
    inferd_model_config_t cfg;
    inferd_err_t err;
    inferd_status_t st = parse(text, &cfg, &err);
    if (st != INFERD_E_INVALID_ARG)
        fail_msg("want INVALID_ARG for <%s>, got %s", text, inferd_status_name(st));
    char prefix[64];
    snprintf(prefix, sizeof(prefix), "config.pbtxt:%s: ", where);
    if (strncmp(err.msg, prefix, strlen(prefix)) != 0 || !strstr(err.msg, what))
        fail_msg("want \"%s...%s\", got \"%s\"", prefix, what, err.msg);
    assert_null(cfg.name);
    assert_null(cfg.inputs);
    assert_int_equal(cfg.n_inputs, 0);
    assert_null(cfg.parameters);
    inferd_model_config_deinit(&cfg);
}

static inferd_backend_io_t mk_io(const char *name, inferd_dtype_t dt, int ndim, const int64_t *dims)
{
    inferd_backend_io_t io;
    memset(&io, 0, sizeof(io));
    io.name = name;
    io.dtype = dt;
    io.ndim = ndim;
    for (int i = 0; i < ndim; i++)
        io.dims[i] = dims[i];
    return io;
}

#define FP32 INFERD_DTYPE_FP32
#define DIMS(...) ((const int64_t[]){__VA_ARGS__})

static void assert_dims(const int64_t *got, int ngot, const int64_t *want, int nwant)
{
    assert_int_equal(ngot, nwant);
    for (int i = 0; i < nwant; i++)
        assert_int_equal(got[i], want[i]);
}

/* The classic two-tensor model: [batch, 4] FP32 in, [batch, 3] FP32 out. */
static inferd_backend_io_t model_in[1], model_out[1];

static void set_batch_model(void)
{
    model_in[0] = mk_io("x", FP32, 2, DIMS(-1, 4));
    model_out[0] = mk_io("y", FP32, 2, DIMS(-1, 3));
}

static inferd_status_t complete(inferd_model_config_t *cfg, inferd_err_t *err)
{
    inferd_err_clear(err);
    return inferd_model_config_complete(cfg, "m", model_in, 1, model_out, 1, 4, err);
}

static void complete_fails(const char *text, const char *what)
{
    inferd_model_config_t cfg;
    inferd_err_t err;
    parse_ok(text, &cfg);
    inferd_status_t st = complete(&cfg, &err);
    if (st != INFERD_E_INVALID_ARG || !strstr(err.msg, what))
        fail_msg("want INVALID_ARG with \"%s\", got %s \"%s\"", what, inferd_status_name(st),
                 err.msg);
    inferd_model_config_deinit(&cfg);
}

/* ------------------------------------------------------------------------------------ */
/* Parsing: real configs                                                                */

static const char *const densenet_config =
    "# Triton-style configuration for an image classifier.\n"
    "name: \"densenet_onnx\"\n"
    "platform: \"onnxruntime_onnx\"\n"
    "max_batch_size: 8\n"
    "version_policy: { latest: { num_versions: 2 } }\n"
    "input [\n"
    "  {\n"
    "    name: \"data_0\"\n"
    "    data_type: TYPE_FP32\n"
    "    format: FORMAT_NCHW\n"
    "    dims: [ 3, 224, 224 ]\n"
    "  }\n"
    "]\n"
    "output [\n"
    "  {\n"
    "    name: \"fc6_1\"\n"
    "    data_type: TYPE_FP32\n"
    "    dims: [ 1000 ]\n"
    "    label_filename: \"densenet_labels.txt\"\n"
    "  }\n"
    "]\n"
    "instance_group [\n"
    "  {\n"
    "    count: 3\n"
    "    kind: KIND_CPU\n"
    "  }\n"
    "]\n"
    "dynamic_batching {\n"
    "  preferred_batch_size: [ 4, 8 ]\n"
    "  max_queue_delay_microseconds: 100\n"
    "  default_queue_policy {\n"
    "    timeout_action: DELAY\n"
    "    default_timeout_microseconds: 5000\n"
    "    allow_timeout_override: true\n"
    "    max_queue_size: 64\n"
    "  }\n"
    "}\n"
    "parameters { key: \"intra_op_thread_count\" value: { string_value: \"4\" } }\n"
    "optimization { execution_accelerators {\n"
    "  cpu_execution_accelerator: [ { name: \"openvino\" } ] } }\n"
    "model_warmup [\n"
    "  {\n"
    "    name: \"warmup\"\n"
    "    batch_size: 1\n"
    "    inputs { key: \"data_0\" value: { data_type: TYPE_FP32 dims: [3, 224, 224]\n"
    "             zero_data: true } }\n"
    "  }\n"
    "]\n"
    "response_cache { enable: true }\n";

static void parse_triton_style_config(void **state)
{
    (void)state;
    inferd_model_config_t cfg;
    parse_ok(densenet_config, &cfg);
    assert_string_equal(cfg.name, "densenet_onnx");
    assert_string_equal(cfg.platform, "onnxruntime_onnx");
    assert_null(cfg.backend);
    assert_int_equal(cfg.max_batch_size, 8);
    assert_true(cfg.has_max_batch_size);
    assert_int_equal(cfg.version_policy, INFERD_VERSION_POLICY_LATEST);
    assert_int_equal(cfg.latest_num_versions, 2);

    assert_int_equal(cfg.n_inputs, 1);
    assert_string_equal(cfg.inputs[0].name, "data_0");
    assert_int_equal(cfg.inputs[0].data_type, INFERD_DTYPE_FP32);
    assert_dims(cfg.inputs[0].dims, cfg.inputs[0].ndim, DIMS(3, 224, 224), 3);
    assert_false(cfg.inputs[0].has_reshape);
    assert_false(cfg.inputs[0].optional);

    assert_int_equal(cfg.n_outputs, 1);
    assert_string_equal(cfg.outputs[0].name, "fc6_1");
    assert_dims(cfg.outputs[0].dims, cfg.outputs[0].ndim, DIMS(1000), 1);
    assert_string_equal(cfg.outputs[0].label_filename, "densenet_labels.txt");

    assert_int_equal(cfg.n_instance_groups, 1);
    assert_int_equal(cfg.instance_groups[0].count, 3);
    assert_int_equal(cfg.instance_groups[0].kind, INFERD_INSTANCE_KIND_CPU);
    assert_null(cfg.instance_groups[0].name);

    assert_true(cfg.has_dynamic_batching);
    const inferd_dynamic_batching_t *db = &cfg.dynamic_batching;
    assert_int_equal(db->n_preferred_batch_size, 2);
    assert_int_equal(db->preferred_batch_size[0], 4);
    assert_int_equal(db->preferred_batch_size[1], 8);
    assert_int_equal(db->max_queue_delay_microseconds, 100);
    assert_false(db->preserve_ordering);
    assert_int_equal(db->default_queue_policy.timeout_action, INFERD_TIMEOUT_ACTION_DELAY);
    assert_int_equal(db->default_queue_policy.default_timeout_microseconds, 5000);
    assert_true(db->default_queue_policy.allow_timeout_override);
    assert_int_equal(db->default_queue_policy.max_queue_size, 64);

    assert_int_equal(cfg.n_parameters, 1);
    assert_string_equal(cfg.parameters[0].key, "intra_op_thread_count");
    assert_string_equal(cfg.parameters[0].value, "4");
    inferd_model_config_deinit(&cfg);
    assert_null(cfg.name);
    assert_int_equal(cfg.latest_num_versions, 1);
}

static void parse_every_field(void **state)
{
    (void)state;
    inferd_model_config_t cfg;
    parse_ok("name: 'all'; backend: \"onnxruntime\"; default_model_filename: \"net.onnx\"\n"
             "max_batch_size: 0\n"
             "version_policy { specific { versions: [1, 3] versions: 7 } }\n"
             "input {\n"
             "  name: \"a\", data_type: TYPE_INT64, dims: [-1, 2]\n"
             "  reshape { shape: [ ] }, optional: true, allow_ragged_batch: false\n"
             "  is_shape_tensor: false; is_non_linear_format_io: false; format: FORMAT_NONE\n"
             "}\n"
             "output { name: \"b\" data_type: TYPE_STRING dims: [1] reshape: { shape: [1, 1] }\n"
             "  is_shape_tensor: false }\n"
             "instance_group { name: \"g\" count: 4 kind: KIND_GPU gpus: [0, 1] }\n"
             "instance_group { kind: KIND_MODEL }\n"
             "instance_group { kind: KIND_AUTO, gpus: 0 }\n"
             "dynamic_batching { preserve_ordering: true max_queue_delay_microseconds: "
             "9223372036854775807 default_queue_policy { timeout_action: REJECT } }\n"
             "model_transaction_policy { decoupled: false }\n",
             &cfg);
    assert_string_equal(cfg.name, "all");
    assert_string_equal(cfg.backend, "onnxruntime");
    assert_string_equal(cfg.default_model_filename, "net.onnx");
    assert_int_equal(cfg.max_batch_size, 0);
    assert_true(cfg.has_max_batch_size);
    assert_int_equal(cfg.version_policy, INFERD_VERSION_POLICY_SPECIFIC);
    assert_int_equal(cfg.n_specific_versions, 3);
    assert_int_equal(cfg.specific_versions[0], 1);
    assert_int_equal(cfg.specific_versions[1], 3);
    assert_int_equal(cfg.specific_versions[2], 7);

    const inferd_model_io_t *a = &cfg.inputs[0];
    assert_int_equal(a->data_type, INFERD_DTYPE_INT64);
    assert_dims(a->dims, a->ndim, DIMS(-1, 2), 2);
    assert_true(a->has_reshape);
    assert_int_equal(a->reshape_ndim, 0);
    assert_true(a->optional);
    assert_null(a->label_filename);

    const inferd_model_io_t *b = &cfg.outputs[0];
    assert_int_equal(b->data_type, INFERD_DTYPE_BYTES);
    assert_true(b->has_reshape);
    assert_dims(b->reshape, b->reshape_ndim, DIMS(1, 1), 2);

    assert_int_equal(cfg.n_instance_groups, 3);
    assert_string_equal(cfg.instance_groups[0].name, "g");
    assert_int_equal(cfg.instance_groups[0].count, 4);
    assert_int_equal(cfg.instance_groups[0].kind, INFERD_INSTANCE_KIND_GPU);
    assert_int_equal(cfg.instance_groups[1].kind, INFERD_INSTANCE_KIND_MODEL);
    assert_int_equal(cfg.instance_groups[1].count, 0); /* "default", filled by complete */
    assert_int_equal(cfg.instance_groups[2].kind, INFERD_INSTANCE_KIND_AUTO);

    assert_true(cfg.dynamic_batching.preserve_ordering);
    assert_int_equal(cfg.dynamic_batching.max_queue_delay_microseconds, INT64_MAX);
    assert_int_equal(cfg.dynamic_batching.default_queue_policy.timeout_action,
                     INFERD_TIMEOUT_ACTION_REJECT);
    inferd_model_config_deinit(&cfg);

    parse_ok("version_policy: { all: { } }", &cfg);
    assert_int_equal(cfg.version_policy, INFERD_VERSION_POLICY_ALL);
    inferd_model_config_deinit(&cfg);
    parse_ok("version_policy { latest { } }", &cfg);
    assert_int_equal(cfg.version_policy, INFERD_VERSION_POLICY_LATEST);
    assert_int_equal(cfg.latest_num_versions, 1);
    inferd_model_config_deinit(&cfg);
}

static void parse_empty_text(void **state)
{
    (void)state;
    inferd_model_config_t cfg;
    parse_ok("", &cfg);
    assert_null(cfg.name);
    assert_false(cfg.has_max_batch_size);
    assert_int_equal(cfg.version_policy, INFERD_VERSION_POLICY_LATEST);
    assert_int_equal(cfg.latest_num_versions, 1);
    inferd_model_config_deinit(&cfg);
    parse_ok("  # only a comment\n\n ; , \n", &cfg);
    inferd_model_config_deinit(&cfg);
}

static void parse_list_forms_agree(void **state)
{
    (void)state;
    /* The same two inputs written in five ways. */
    static const char *const forms[] = {
        "input [ { name: \"a\" dims: [1, 2] }, { name: \"b\" dims: [3] } ]",
        "input: [ { name: \"a\" dims: 1 dims: 2 }, { name: \"b\", dims: 3 } ]",
        "input { name: \"a\" dims [1, 2] }\ninput { name: \"b\" dims [3] }",
        "input: { name: \"a\"; dims: [1]; dims: [2]; }; input: < name: \"b\" dims: [3] >",
        "input [\n"
        "  # first\n"
        "  { name: \"a\"  # trailing comment\n"
        "    dims: [ 1,   # one\n"
        "            2 ]  # two\n"
        "  },\n"
        "  { name: \"b\" dims: [ 3 ] }  # last\n"
        "]  # done",
    };
    for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
        inferd_model_config_t cfg;
        parse_ok(forms[i], &cfg);
        assert_int_equal(cfg.n_inputs, 2);
        assert_string_equal(cfg.inputs[0].name, "a");
        assert_dims(cfg.inputs[0].dims, cfg.inputs[0].ndim, DIMS(1, 2), 2);
        assert_string_equal(cfg.inputs[1].name, "b");
        assert_dims(cfg.inputs[1].dims, cfg.inputs[1].ndim, DIMS(3), 1);
        inferd_model_config_deinit(&cfg);
    }
    inferd_model_config_t cfg;
    parse_ok("input [ ] output: [] dynamic_batching { preferred_batch_size: [] }", &cfg);
    assert_int_equal(cfg.n_inputs, 0);
    assert_true(cfg.has_dynamic_batching);
    assert_int_equal(cfg.dynamic_batching.n_preferred_batch_size, 0);
    inferd_model_config_deinit(&cfg);
}

static void parse_strings_and_scalars(void **state)
{
    (void)state;
    inferd_model_config_t cfg;
    parse_ok("name: 'it\\'s' platform: \"a\\tb\\n\\\\\\\"\" backend: \"\\x41\\101\\u00e9\\?\"\n"
             "default_model_filename: \"mod\" \"el\" '.onnx'\n"
             "input { name: \"\xc3\xa9t\xc3\xa9\" data_type: 11 optional: True }\n"
             "input { name: \"b\" optional: t }\n"
             "input { name: \"c\" optional: 1 }\n"
             "input { name: \"d\" optional: False }\n",
             &cfg);
    assert_string_equal(cfg.name, "it's");
    assert_string_equal(cfg.platform, "a\tb\n\\\"");
    assert_string_equal(cfg.backend, "AA\xc3\xa9?");
    assert_string_equal(cfg.default_model_filename, "model.onnx");
    assert_string_equal(cfg.inputs[0].name, "\xc3\xa9t\xc3\xa9");
    assert_int_equal(cfg.inputs[0].data_type, INFERD_DTYPE_FP32);
    assert_true(cfg.inputs[0].optional);
    assert_true(cfg.inputs[1].optional);
    assert_true(cfg.inputs[2].optional);
    assert_false(cfg.inputs[3].optional);
    inferd_model_config_deinit(&cfg);

    /* A later name replaces nothing: a singular field given twice is an error (below),
     * but a reparse into a fresh config starts clean. */
    parse_ok("max_batch_size: 2147483647", &cfg);
    assert_int_equal(cfg.max_batch_size, INT32_MAX);
    inferd_model_config_deinit(&cfg);
}

static void parse_parameters_both_forms(void **state)
{
    (void)state;
    inferd_model_config_t cfg;
    parse_ok("parameters { key: \"a\" value: { string_value: \"1\" } }\n"
             "parameters [ { key: \"b\", value { string_value: \"2\" } },\n"
             "             { key: \"c\" value: { } } ]\n"
             "parameters: { key: \"a\" value: { string_value: \"3\" } }\n",
             &cfg);
    assert_int_equal(cfg.n_parameters, 3);
    assert_string_equal(cfg.parameters[0].key, "a");
    assert_string_equal(cfg.parameters[0].value, "3"); /* a map: the last value wins */
    assert_string_equal(cfg.parameters[1].key, "b");
    assert_string_equal(cfg.parameters[1].value, "2");
    assert_string_equal(cfg.parameters[2].key, "c");
    assert_string_equal(cfg.parameters[2].value, "");
    inferd_model_config_deinit(&cfg);
}

/* ------------------------------------------------------------------------------------ */
/* Parsing: malformed input, each with its position                                     */

static void malformed_syntax(void **state)
{
    (void)state;
    parse_fails_at("name: \"abc\nmax_batch_size: 1\n", "1:7", "unterminated string");
    parse_fails_at("name: 'abc", "1:7", "unterminated string");
    parse_fails_at("input {\n  name: \"x\"\n", "3:1",
                   "expected '}' to close the '{' at 1:7, found end of input");
    parse_fails_at("dynamic_batching < max_queue_delay_microseconds: 1 }", "1:52",
                   "expected a field name in 'dynamic_batching', found '}'");
    parse_fails_at("optimization { graph { level: 1 }", "1:34", "expected '}'");
    parse_fails_at("name: \"m\"\n@", "2:1", "unexpected character '@'");
    parse_fails_at("name: \"m\"\n\x01", "2:1", "unexpected byte 0x01");
    parse_fails_at("]", "1:1", "expected a field name, found ']'");
    parse_fails_at("max_batch_size 8", "1:16", "expected ':' after 'max_batch_size'");
    parse_fails_at("input { name: \"x\" dims: [1 2] }", "1:28", "expected ',' or ']'");
    parse_fails_at("input { name: \"x\" dims: [1, 2 }", "1:31", "expected ',' or ']'");
    parse_fails_at("input [ { name: \"x\" } { name: \"y\" } ]", "1:23", "expected ',' or ']'");
    parse_fails_at("name: \"a\\qb\"", "1:9", "invalid escape '\\q'");
    parse_fails_at("name: \"a\\0\"", "1:9", "NUL byte");
    parse_fails_at("name: \"a\\u00\"", "1:9", "invalid escape '\\u'");
    parse_fails_at("name: \"\xff\"", "1:7", "not valid UTF-8");
    parse_fails_at("name: \"\\xc0\\x80\"", "1:7", "not valid UTF-8"); /* overlong NUL */
    parse_fails_at("optimization { graph { level: } }", "1:31", "expected a value");
    parse_fails_at("model_warmup [ { a: 1 } { b: 2 } ]", "1:25", "expected ',' or ']'");
}

static void malformed_unknown_fields(void **state)
{
    (void)state;
    parse_fails_at("# a comment\n"
                   "name: \"m\"\n"
                   "platform: \"onnxruntime_onnx\"\n"
                   "\n"
                   "dynamic_batching {\n"
                   "  preferred_batch_size: [ 4 ]\n"
                   "  max_batch: 8\n"
                   "}\n",
                   "7:3", "unknown field 'max_batch' in 'dynamic_batching'");
    parse_fails_at("name: \"m\"\n\n  max_batch: 8\n", "3:3", "unknown field 'max_batch'");
    parse_fails_at("output { name: \"y\" optional: true }", "1:20",
                   "unknown field 'optional' in 'output'");
    parse_fails_at("input { name: \"x\" label_filename: \"l\" }", "1:19",
                   "unknown field 'label_filename' in 'input'");
    parse_fails_at("version_policy { all { x: 1 } }", "1:24", "unknown field 'x' in 'all'");
    parse_fails_at("parameters { key: \"k\" value { int_value: 1 } }", "1:31",
                   "unknown field 'int_value'");
    parse_fails_at("sequence_batching { }", "1:1",
                   "field 'sequence_batching' is not supported by inferd");
    parse_fails_at("dynamic_batching { priority_levels: 2 }", "1:20", "not supported");
    parse_fails_at("instance_group { passive: true }", "1:18", "not supported");
    parse_fails_at("model_transaction_policy { decoupled: true }", "1:28",
                   "decoupled models are not supported");
}

static void malformed_types(void **state)
{
    (void)state;
    parse_fails_at("max_batch_size: \"8\"", "1:17", "'max_batch_size' expects an integer");
    parse_fails_at("max_batch_size: 1.5", "1:17", "expects an integer, found '1.5'");
    parse_fails_at("max_batch_size: 0x10", "1:17", "expects an integer");
    parse_fails_at("max_batch_size: 08", "1:17", "leading zero");
    parse_fails_at("max_batch_size: -1", "1:17", "out of range");
    parse_fails_at("max_batch_size: 2147483648", "1:17", "out of range");
    parse_fails_at("max_batch_size: 99999999999999999999999", "1:17", "out of range");
    parse_fails_at("name: 5", "1:7", "'name' expects a string");
    parse_fails_at("name: ident", "1:7", "'name' expects a string");
    parse_fails_at("input { name: \"x\" dims: [1, two] }", "1:29", "expects an integer");
    parse_fails_at("input { name: \"x\" data_type: TYPE_FLOAT }", "1:30",
                   "'data_type' has no value 'TYPE_FLOAT'");
    parse_fails_at("input { name: \"x\" data_type: \"TYPE_FP32\" }", "1:30",
                   "expects an enum name");
    parse_fails_at("input { name: \"x\" data_type: 15 }", "1:30", "out of range");
    parse_fails_at("instance_group { kind: CPU }", "1:24", "has no value 'CPU'");
    parse_fails_at("dynamic_batching { default_queue_policy { timeout_action: DROP } }", "1:59",
                   "has no value 'DROP'");
    parse_fails_at("input { name: \"x\" optional: yes }", "1:29", "expects true or false");
    parse_fails_at("dynamic_batching: 5", "1:19", "'dynamic_batching' expects a message");
    parse_fails_at("input: \"x\"", "1:8", "'input' expects a message");
    parse_fails_at("input { name: \"x\" dims: [0] }", "1:26", "dims value 0 is invalid");
    parse_fails_at("input { name: \"x\" dims: [-2] }", "1:26", "dims value -2 is invalid");
    parse_fails_at("input { name: \"x\" reshape { shape: [0] } }", "1:37", "reshape dims");
    parse_fails_at("version_policy { latest { num_versions: 0 } }", "1:41", "out of range");
    parse_fails_at("version_policy { specific { versions: [0] } }", "1:40", "out of range");
    parse_fails_at("dynamic_batching { preferred_batch_size: [4, 0] }", "1:46", "out of range");
    parse_fails_at("instance_group { count: -1 }", "1:25", "out of range");
    parse_fails_at("instance_group { count: 100000 }", "1:25", "out of range");
}

static void malformed_structure(void **state)
{
    (void)state;
    parse_fails_at("name: \"a\"\nname: \"b\"", "2:1", "field 'name' is given more than once");
    parse_fails_at("dynamic_batching { }\ndynamic_batching { }", "2:1", "more than once");
    parse_fails_at("version_policy { latest { } all { } }", "1:29", "only one of");
    parse_fails_at("version_policy { specific { } }", "1:18", "lists no versions");
    parse_fails_at("input { dims: [1] }", "1:7", "input has no 'name'");
    parse_fails_at("output [ { name: \"\" } ]", "1:10", "output has no 'name'");
    parse_fails_at("input { name: \"x\" }\ninput { name: \"x\" }", "2:7",
                   "input 'x' is listed twice");
    parse_fails_at("parameters { value { string_value: \"v\" } }", "1:12",
                   "parameter has no 'key'");
    parse_fails_at("input { name: \"x\" optional: true optional: false }", "1:34",
                   "more than once");
}

static void malformed_limits(void **state)
{
    (void)state;
    /* Nine dims: the ninth is refused where it stands. */
    parse_fails_at("input { name: \"x\" dims: [1,1,1,1,1,1,1,1,1] }", "1:42",
                   "too many dims (at most 8)");
    parse_fails_at("input { name: \"x\" dims: 1 dims: 1 dims: 1 dims: 1 dims: 1 dims: 1 "
                   "dims: 1 dims: 1 dims: 1 }",
                   "1:89", "too many dims");
    parse_fails_at("output { name: \"x\" reshape { shape: [1,1,1,1,1,1,1,1,1] } }", "1:54",
                   "too many reshape dims");

    /* Nesting: skipped bodies can nest arbitrarily, so the bound is checked there. The
     * 33rd opening brace is refused; "optimization {" puts the first one at column 14
     * and each " a {" adds four columns. */
    char deep[512];
    size_t n = (size_t)snprintf(deep, sizeof(deep), "optimization {");
    for (int i = 0; i < 40; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, " a {");
    for (int i = 0; i < 41; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, " }");
    parse_fails_at(deep, "1:142", "nesting deeper than 32 levels");

    /* 32 levels are fine. */
    n = (size_t)snprintf(deep, sizeof(deep), "optimization {");
    for (int i = 0; i < 31; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, " a {");
    for (int i = 0; i < 32; i++)
        n += (size_t)snprintf(deep + n, sizeof(deep) - n, " }");
    inferd_model_config_t cfg;
    parse_ok(deep, &cfg);
    inferd_model_config_deinit(&cfg);

    /* A string over the 16 KiB limit. */
    size_t big = 20000;
    char *s = inferd_xmalloc(big + 16);
    memcpy(s, "name: \"", 7);
    memset(s + 7, 'a', big);
    memcpy(s + 7 + big, "\"", 2);
    parse_fails_at(s, "1:7", "string is longer than");
    inferd_free(s);

    /* The whole text over 1 MiB. */
    size_t huge = (1u << 20) + 1;
    char *t = inferd_xmalloc(huge + 1);
    memset(t, ' ', huge);
    t[huge] = '\0';
    inferd_err_t err;
    inferd_model_config_init(&cfg);
    assert_int_equal(inferd_model_config_parse(t, huge, "big.pbtxt", &cfg, &err),
                     INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "big.pbtxt: config is"));
    assert_non_null(strstr(err.msg, "over the limit"));
    inferd_free(t);

    /* More than 64 instance groups. */
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    for (int i = 0; i < 65; i++)
        inferd_buf_append_str(&b, "instance_group {}\n");
    parse_fails_at(b.data, "65:16", "too many instance groups");
    inferd_buf_deinit(&b);
}

static void malformed_frees_partial_config(void **state)
{
    (void)state;
    /* Everything parsed before the error is released (ASan checks for leaks). */
    parse_fails_at("name: \"m\" platform: \"p\" backend: \"b\" default_model_filename: \"f\"\n"
                   "input { name: \"a\" dims: [1] }\n"
                   "output { name: \"b\" label_filename: \"l\" }\n"
                   "instance_group { name: \"g\" }\n"
                   "version_policy { specific { versions: [1] } }\n"
                   "dynamic_batching { preferred_batch_size: [1] }\n"
                   "parameters { key: \"k\" value { string_value: \"v\" } }\n"
                   "input { name: \"c\" dims: [1] bogus: 1 }\n",
                   "8:29", "unknown field 'bogus'");
    parse_fails_at("parameters { key: \"k\" value { string_value: \"v\" bad: 1 } }", "1:49",
                   "unknown field 'bad'");
}

static void source_name_in_messages(void **state)
{
    (void)state;
    inferd_model_config_t cfg;
    inferd_err_t err;
    const char *text = "bogus: 1";
    inferd_model_config_init(&cfg);
    assert_int_equal(
        inferd_model_config_parse(text, strlen(text), "models/m/config.pbtxt", &cfg, &err),
        INFERD_E_INVALID_ARG);
    assert_string_equal(err.msg, "models/m/config.pbtxt:1:1: unknown field 'bogus'");
    /* The text need not be NUL-terminated: only len bytes are read. */
    inferd_model_config_init(&cfg);
    assert_int_equal(inferd_model_config_parse("max_batch_size: 12345", 18, "c", &cfg, &err),
                     INFERD_OK);
    assert_int_equal(cfg.max_batch_size, 12);
    inferd_model_config_deinit(&cfg);
}

/* ------------------------------------------------------------------------------------ */
/* Auto-complete and validation                                                         */

static void complete_without_config(void **state)
{
    (void)state;
    set_batch_model();
    inferd_model_config_t cfg;
    inferd_err_t err;
    inferd_model_config_init(&cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_string_equal(cfg.name, "m");
    assert_string_equal(cfg.platform, "onnxruntime_onnx");
    assert_string_equal(cfg.backend, "onnxruntime");
    assert_string_equal(cfg.default_model_filename, "model.onnx");
    assert_int_equal(cfg.max_batch_size, 4);
    assert_true(cfg.has_dynamic_batching);
    assert_int_equal(cfg.n_inputs, 1);
    assert_string_equal(cfg.inputs[0].name, "x");
    assert_int_equal(cfg.inputs[0].data_type, FP32);
    assert_dims(cfg.inputs[0].dims, cfg.inputs[0].ndim, DIMS(4), 1);
    assert_false(cfg.inputs[0].has_reshape);
    assert_int_equal(cfg.n_outputs, 1);
    assert_dims(cfg.outputs[0].dims, cfg.outputs[0].ndim, DIMS(3), 1);
    assert_int_equal(cfg.n_instance_groups, 1);
    assert_int_equal(cfg.instance_groups[0].kind, INFERD_INSTANCE_KIND_CPU);
    assert_int_equal(cfg.instance_groups[0].count, 2);
    assert_string_equal(cfg.instance_groups[0].name, "m_0");
    assert_int_equal(inferd_model_config_instance_count(&cfg), 2);
    assert_int_equal(cfg.version_policy, INFERD_VERSION_POLICY_LATEST);
    assert_int_equal(cfg.latest_num_versions, 1);
    inferd_model_config_deinit(&cfg);
}

static void complete_partial_max_batch_size(void **state)
{
    (void)state;
    set_batch_model();
    inferd_model_config_t cfg;
    inferd_err_t err;
    parse_ok("max_batch_size: 16", &cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_int_equal(cfg.max_batch_size, 16);
    assert_true(cfg.has_dynamic_batching);
    assert_dims(cfg.inputs[0].dims, cfg.inputs[0].ndim, DIMS(4), 1);
    assert_dims(cfg.outputs[0].dims, cfg.outputs[0].ndim, DIMS(3), 1);
    inferd_model_config_deinit(&cfg);

    /* max_batch_size 1 batches nothing, so no dynamic batcher is added. */
    parse_ok("max_batch_size: 1", &cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_false(cfg.has_dynamic_batching);
    inferd_model_config_deinit(&cfg);

    /* An explicit 0 is honoured: the batch dim stays in dims. */
    parse_ok("max_batch_size: 0", &cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_int_equal(cfg.max_batch_size, 0);
    assert_false(cfg.has_dynamic_batching);
    assert_dims(cfg.inputs[0].dims, cfg.inputs[0].ndim, DIMS(-1, 4), 2);
    inferd_model_config_deinit(&cfg);

    /* default_max_batch_size 0 turns the derivation off. */
    inferd_model_config_init(&cfg);
    assert_int_equal(inferd_model_config_complete(&cfg, "m", model_in, 1, model_out, 1, 0, &err),
                     INFERD_OK);
    assert_int_equal(cfg.max_batch_size, 0);
    inferd_model_config_deinit(&cfg);
}

static void complete_batching_impossible(void **state)
{
    (void)state;
    model_in[0] = mk_io("x", FP32, 2, DIMS(1, 4));
    model_out[0] = mk_io("y", FP32, 2, DIMS(-1, 3));
    inferd_model_config_t cfg;
    inferd_err_t err;

    /* Without a config: no batching, full shapes. */
    inferd_model_config_init(&cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_int_equal(cfg.max_batch_size, 0);
    assert_false(cfg.has_dynamic_batching);
    assert_dims(cfg.inputs[0].dims, cfg.inputs[0].ndim, DIMS(1, 4), 2);
    assert_dims(cfg.outputs[0].dims, cfg.outputs[0].ndim, DIMS(-1, 3), 2);
    inferd_model_config_deinit(&cfg);

    /* With max_batch_size set: a load error that names the tensor and its shape. */
    complete_fails("max_batch_size: 8", "model input 'x' has shape [1,4]");
    complete_fails("max_batch_size: 8 input { name: \"x\" data_type: TYPE_FP32 dims: [4] }\n"
                   "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }",
                   "max_batch_size is 8 but model input 'x' has shape [1,4]");

    /* A scalar output cannot carry a batch dim either. */
    model_in[0] = mk_io("x", FP32, 2, DIMS(-1, 4));
    model_out[0] = mk_io("y", FP32, 0, NULL);
    complete_fails("max_batch_size: 2", "model output 'y' has shape []");
}

static void complete_scalars_and_unknown_rank(void **state)
{
    (void)state;
    inferd_model_config_t cfg;
    inferd_err_t err;

    /* [batch] -> a per-item scalar: dims [1] reshaped to []. */
    model_in[0] = mk_io("x", FP32, 1, DIMS(-1));
    model_out[0] = mk_io("y", INFERD_DTYPE_INT64, 1, DIMS(-1));
    inferd_model_config_init(&cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_int_equal(cfg.max_batch_size, 4);
    assert_dims(cfg.inputs[0].dims, cfg.inputs[0].ndim, DIMS(1), 1);
    assert_true(cfg.inputs[0].has_reshape);
    assert_int_equal(cfg.inputs[0].reshape_ndim, 0);
    assert_int_equal(cfg.outputs[0].data_type, INFERD_DTYPE_INT64);
    inferd_model_config_deinit(&cfg);

    /* A rank-0 model tensor without batching: the same dims [1] + reshape []. */
    model_in[0] = mk_io("x", FP32, 0, NULL);
    model_out[0] = mk_io("y", FP32, 0, NULL);
    inferd_model_config_init(&cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_int_equal(cfg.max_batch_size, 0);
    assert_dims(cfg.outputs[0].dims, cfg.outputs[0].ndim, DIMS(1), 1);
    assert_true(cfg.outputs[0].has_reshape);
    inferd_model_config_deinit(&cfg);

    /* An output of unknown rank: no batching can be derived, and dims are [-1]. */
    model_in[0] = mk_io("x", FP32, 2, DIMS(-1, 4));
    model_out[0] = mk_io("y", FP32, -1, NULL);
    inferd_model_config_init(&cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_int_equal(cfg.max_batch_size, 0);
    assert_dims(cfg.outputs[0].dims, cfg.outputs[0].ndim, DIMS(-1), 1);
    inferd_model_config_deinit(&cfg);

    /* ... but a config that asks for batching is taken at its word for that tensor. */
    parse_ok("max_batch_size: 4", &cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_int_equal(cfg.max_batch_size, 4);
    assert_dims(cfg.inputs[0].dims, cfg.inputs[0].ndim, DIMS(4), 1);
    inferd_model_config_deinit(&cfg);
}

static const char *const full_config = "max_batch_size: 8\n"
                                       "input { name: \"x\" data_type: TYPE_FP32 dims: [4] }\n"
                                       "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }\n";

static void complete_full_config(void **state)
{
    (void)state;
    set_batch_model();
    inferd_model_config_t cfg;
    inferd_err_t err;
    /* Inputs and outputs given: nothing is derived, so no dynamic batcher appears. */
    parse_ok(full_config, &cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_int_equal(cfg.max_batch_size, 8);
    assert_false(cfg.has_dynamic_batching);
    assert_int_equal(cfg.n_inputs, 1);
    inferd_model_config_deinit(&cfg);

    /* Only outputs missing: they are filled, inputs are kept. */
    parse_ok("max_batch_size: 2 input { name: \"x\" data_type: TYPE_FP32 dims: [-1] }", &cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_dims(cfg.inputs[0].dims, cfg.inputs[0].ndim, DIMS(-1), 1);
    assert_int_equal(cfg.n_outputs, 1);
    assert_dims(cfg.outputs[0].dims, cfg.outputs[0].ndim, DIMS(3), 1);
    assert_true(cfg.has_dynamic_batching);
    inferd_model_config_deinit(&cfg);

    /* A variable model dim accepts a fixed config dim. */
    model_in[0] = mk_io("x", FP32, 3, DIMS(-1, -1, 4));
    parse_ok("max_batch_size: 8\n"
             "input { name: \"x\" data_type: TYPE_FP32 dims: [7, -1] }\n"
             "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }\n",
             &cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    inferd_model_config_deinit(&cfg);

    /* reshape: the API sees [1] per item, the model [batch]. */
    model_in[0] = mk_io("x", FP32, 1, DIMS(-1));
    parse_ok("max_batch_size: 8\n"
             "input { name: \"x\" data_type: TYPE_FP32 dims: [1] reshape { shape: [] } }\n"
             "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }\n",
             &cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    inferd_model_config_deinit(&cfg);

    /* reshape maps the API's [12] per item onto the model's [batch, 3, 4]. */
    model_in[0] = mk_io("x", FP32, 3, DIMS(-1, 3, 4));
    parse_ok("max_batch_size: 8\n"
             "input { name: \"x\" data_type: TYPE_FP32 dims: [12] reshape { shape: [3, 4] } }\n"
             "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }\n",
             &cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    inferd_model_config_deinit(&cfg);
}

static void complete_mismatches(void **state)
{
    (void)state;
    set_batch_model();
    complete_fails("max_batch_size: 8\n"
                   "input { name: \"x\" data_type: TYPE_FP32 dims: [5] }\n"
                   "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }\n",
                   "input 'x': the model expects shape [-1,4] but the config gives [-1,5]");
    complete_fails("input { name: \"x\" data_type: TYPE_FP32 dims: [4] }\n"
                   "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }\n",
                   "input 'x': the model expects shape [-1,4] but the config gives [4]");
    complete_fails("max_batch_size: 8\n"
                   "input { name: \"x\" data_type: TYPE_FP32 dims: [4] }\n"
                   "output { name: \"y\" data_type: TYPE_FP32 dims: [3, 1] }\n",
                   "output 'y': the model expects shape [-1,3] but the config gives [-1,3,1]");
    complete_fails("max_batch_size: 8\n"
                   "input { name: \"x\" data_type: TYPE_INT32 dims: [4] }\n"
                   "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }\n",
                   "input 'x': the model's data type is TYPE_FP32 but the config says "
                   "TYPE_INT32");
    complete_fails("max_batch_size: 8\n"
                   "input { name: \"x\" data_type: TYPE_FP32 dims: [4] }\n"
                   "input { name: \"z\" data_type: TYPE_FP32 dims: [4] }\n"
                   "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }\n",
                   "input 'z' is in the config but the model has no such input");
    complete_fails("max_batch_size: 8\n"
                   "input { name: \"x\" data_type: TYPE_FP32 dims: [4] }\n"
                   "output { name: \"w\" data_type: TYPE_FP32 dims: [3] }\n",
                   "output 'w' is in the config but the model has no such output");
    complete_fails("max_batch_size: 8\n"
                   "input { name: \"x\" dims: [4] }\n"
                   "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }\n",
                   "input 'x' must set data_type");
    complete_fails("max_batch_size: 8\n"
                   "input { name: \"x\" data_type: TYPE_FP32 }\n"
                   "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }\n",
                   "input 'x' must give 1 to 8 dims");
    complete_fails("max_batch_size: 8\n"
                   "input { name: \"x\" data_type: TYPE_FP32 dims: [4] reshape { shape: [5] } }\n"
                   "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }\n",
                   "input 'x': dims [4] and reshape [5] do not hold the same number");
    complete_fails("max_batch_size: 8\n"
                   "input { name: \"x\" data_type: TYPE_FP32 dims: [-1, 2] reshape { shape: "
                   "[2, 2] } }\n"
                   "output { name: \"y\" data_type: TYPE_FP32 dims: [3] }\n",
                   "do not hold the same number");
    complete_fails("name: \"other\"", "config name 'other' does not match the model directory "
                                      "'m'");
    complete_fails("max_batch_size: 4 dynamic_batching { preferred_batch_size: [2, 8] }",
                   "preferred_batch_size 8 must be between 1 and max_batch_size (4)");
    complete_fails("max_batch_size: 0 input { name: \"x\" data_type: TYPE_FP32 dims: [-1, 4] }\n"
                   "output { name: \"y\" data_type: TYPE_FP32 dims: [-1, 3] }\n"
                   "dynamic_batching { preferred_batch_size: [2] }",
                   "preferred_batch_size 2 must be between 1 and max_batch_size (0)");

    /* Every model input must be fed; outputs may be a subset. */
    inferd_backend_io_t ins[2] = {mk_io("x", FP32, 2, DIMS(-1, 4)),
                                  mk_io("x2", FP32, 2, DIMS(-1, 4))};
    inferd_backend_io_t outs[2] = {mk_io("y", FP32, 2, DIMS(-1, 3)),
                                   mk_io("y2", FP32, 2, DIMS(-1, 3))};
    inferd_model_config_t cfg;
    inferd_err_t err;
    parse_ok(full_config, &cfg);
    assert_int_equal(inferd_model_config_complete(&cfg, "m", ins, 2, outs, 2, 4, &err),
                     INFERD_E_INVALID_ARG);
    assert_string_equal(err.msg, "model input 'x2' is missing from the config");
    inferd_model_config_deinit(&cfg);
    parse_ok(full_config, &cfg);
    assert_int_equal(inferd_model_config_complete(&cfg, "m", ins, 1, outs, 2, 4, &err), INFERD_OK);
    inferd_model_config_deinit(&cfg);

    /* With max_batch_size > 0, even an output the config leaves out must batch. */
    outs[1] = mk_io("y2", FP32, 1, DIMS(3));
    parse_ok(full_config, &cfg);
    assert_int_equal(inferd_model_config_complete(&cfg, "m", ins, 1, outs, 2, 4, &err),
                     INFERD_E_INVALID_ARG);
    assert_non_null(strstr(err.msg, "model output 'y2' has shape [3]"));
    inferd_model_config_deinit(&cfg);
}

static void complete_backend_and_groups(void **state)
{
    (void)state;
    set_batch_model();
    inferd_model_config_t cfg;
    inferd_err_t err;

    parse_ok("name: \"m\" platform: \"onnx_onnxv1\" default_model_filename: \"net.onnx\"\n"
             "instance_group [ { kind: KIND_GPU gpus: [0, 1] }, { name: \"mine\" count: 3 },\n"
             "                 { kind: KIND_MODEL } ]",
             &cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_string_equal(cfg.platform, "onnxruntime_onnx");
    assert_string_equal(cfg.backend, "onnxruntime");
    assert_string_equal(cfg.default_model_filename, "net.onnx");
    assert_int_equal(cfg.n_instance_groups, 3);
    assert_int_equal(cfg.instance_groups[0].kind, INFERD_INSTANCE_KIND_CPU);
    assert_int_equal(cfg.instance_groups[0].count, 2);
    assert_string_equal(cfg.instance_groups[0].name, "m_0");
    assert_int_equal(cfg.instance_groups[1].kind, INFERD_INSTANCE_KIND_CPU);
    assert_int_equal(cfg.instance_groups[1].count, 3);
    assert_string_equal(cfg.instance_groups[1].name, "mine");
    assert_int_equal(cfg.instance_groups[2].kind, INFERD_INSTANCE_KIND_MODEL);
    assert_int_equal(cfg.instance_groups[2].count, 1);
    assert_string_equal(cfg.instance_groups[2].name, "m_2");
    assert_int_equal(inferd_model_config_instance_count(&cfg), 6);
    inferd_model_config_deinit(&cfg);

    /* "onnx" as a backend name is reported as Triton's "onnxruntime". */
    parse_ok("backend: \"onnx\"", &cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_string_equal(cfg.backend, "onnxruntime");
    assert_string_equal(cfg.platform, "onnxruntime_onnx");
    inferd_model_config_deinit(&cfg);

    /* Some other backend is left alone (the registry decides whether it exists). */
    parse_ok("backend: \"remote\"", &cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    assert_string_equal(cfg.backend, "remote");
    assert_null(cfg.platform);
    assert_null(cfg.default_model_filename);
    assert_int_equal(cfg.instance_groups[0].count, 1);
    inferd_model_config_deinit(&cfg);

    /* instance_count without groups (an uncompleted config) is still at least 1. */
    inferd_model_config_init(&cfg);
    assert_int_equal(inferd_model_config_instance_count(&cfg), 1);
    inferd_model_config_deinit(&cfg);
}

static void complete_densenet(void **state)
{
    (void)state;
    inferd_backend_io_t in = mk_io("data_0", FP32, 4, DIMS(-1, 3, 224, 224));
    inferd_backend_io_t out = mk_io("fc6_1", FP32, 2, DIMS(-1, 1000));
    inferd_model_config_t cfg;
    inferd_err_t err;
    parse_ok(densenet_config, &cfg);
    assert_int_equal(inferd_model_config_complete(&cfg, "densenet_onnx", &in, 1, &out, 1, 4, &err),
                     INFERD_OK);
    assert_int_equal(cfg.max_batch_size, 8);
    assert_int_equal(inferd_model_config_instance_count(&cfg), 3);
    inferd_model_config_deinit(&cfg);
}

/* ------------------------------------------------------------------------------------ */
/* JSON                                                                                 */

static inferd_json_doc_t *render(const inferd_model_config_t *cfg, inferd_buf_t *b)
{
    inferd_buf_init(b, 0);
    inferd_model_config_to_json(cfg, b);
    assert_false(b->failed);
    inferd_json_doc_t *doc = NULL;
    inferd_err_t err;
    if (inferd_json_parse(b->data, b->len, NULL, &doc, &err) != INFERD_OK)
        fail_msg("invalid JSON (%s): %s", err.msg, b->data);
    return doc;
}

static const char *jstr(const inferd_json_t *obj, const char *key)
{
    const inferd_json_t *v = inferd_json_get(obj, key);
    if (!v || v->type != INFERD_JSON_STRING)
        fail_msg("'%s' is not a string", key);
    return v->u.string.ptr;
}

static int64_t jint(const inferd_json_t *obj, const char *key)
{
    const inferd_json_t *v = inferd_json_get(obj, key);
    int64_t x;
    if (!v || !inferd_json_to_int64(v, &x))
        fail_msg("'%s' is not an integer", key);
    return x;
}

static void json_of_completed_config(void **state)
{
    (void)state;
    set_batch_model();
    inferd_model_config_t cfg;
    inferd_err_t err;
    inferd_model_config_init(&cfg);
    assert_int_equal(complete(&cfg, &err), INFERD_OK);
    inferd_buf_t b;
    inferd_json_doc_t *doc = render(&cfg, &b);
    const inferd_json_t *root = inferd_json_root(doc);

    assert_string_equal(jstr(root, "name"), "m");
    assert_string_equal(jstr(root, "platform"), "onnxruntime_onnx");
    assert_string_equal(jstr(root, "backend"), "onnxruntime");
    assert_string_equal(jstr(root, "default_model_filename"), "model.onnx");
    assert_int_equal(jint(root, "max_batch_size"), 4);
    const inferd_json_t *latest =
        inferd_json_get(inferd_json_get(root, "version_policy"), "latest");
    assert_int_equal(jint(latest, "num_versions"), 1);

    const inferd_json_t *inputs = inferd_json_get(root, "input");
    assert_int_equal(inputs->type, INFERD_JSON_ARRAY);
    assert_int_equal(inputs->u.array.count, 1);
    const inferd_json_t *x = inputs->u.array.items[0];
    assert_string_equal(jstr(x, "name"), "x");
    assert_string_equal(jstr(x, "data_type"), "TYPE_FP32");
    assert_string_equal(jstr(x, "format"), "FORMAT_NONE");
    const inferd_json_t *dims = inferd_json_get(x, "dims");
    assert_int_equal(dims->u.array.count, 1);
    /* int64 fields are JSON numbers, not strings. */
    assert_int_equal(dims->u.array.items[0]->type, INFERD_JSON_NUMBER);
    assert_int_equal(inferd_json_get(x, "optional")->type, INFERD_JSON_BOOL);
    assert_null(inferd_json_get(x, "reshape"));

    const inferd_json_t *y = inferd_json_get(root, "output")->u.array.items[0];
    assert_string_equal(jstr(y, "label_filename"), "");

    const inferd_json_t *db = inferd_json_get(root, "dynamic_batching");
    assert_non_null(db);
    assert_int_equal(jint(db, "max_queue_delay_microseconds"), 0);
    assert_int_equal(inferd_json_get(db, "preferred_batch_size")->u.array.count, 0);
    assert_string_equal(jstr(inferd_json_get(db, "default_queue_policy"), "timeout_action"),
                        "REJECT");

    const inferd_json_t *g = inferd_json_get(root, "instance_group")->u.array.items[0];
    assert_string_equal(jstr(g, "kind"), "KIND_CPU");
    assert_int_equal(jint(g, "count"), 2);
    assert_string_equal(jstr(g, "name"), "m_0");
    assert_int_equal(inferd_json_get(root, "parameters")->type, INFERD_JSON_OBJECT);
    assert_int_equal(inferd_json_get(root, "model_warmup")->type, INFERD_JSON_ARRAY);

    inferd_json_doc_destroy(doc);
    inferd_buf_deinit(&b);
    inferd_model_config_deinit(&cfg);
}

static void json_of_every_field(void **state)
{
    (void)state;
    inferd_backend_io_t ins[1] = {mk_io("in \"q\"", INFERD_DTYPE_BYTES, 1, DIMS(-1))};
    inferd_backend_io_t outs[1] = {mk_io("out", INFERD_DTYPE_BF16, 3, DIMS(-1, 2, 2))};
    inferd_model_config_t cfg;
    inferd_err_t err;
    parse_ok("max_batch_size: 8\n"
             "version_policy { specific { versions: [1, 9007199254740993] } }\n"
             "input { name: \"in \\\"q\\\"\" data_type: TYPE_STRING dims: [1]\n"
             "        reshape { shape: [] } optional: true }\n"
             "output { name: \"out\" data_type: TYPE_BF16 dims: [4] reshape { shape: [2, 2] }\n"
             "         label_filename: \"labels.txt\" }\n"
             "dynamic_batching { preferred_batch_size: [2, 8] max_queue_delay_microseconds: "
             "18446744\n"
             "  preserve_ordering: true default_queue_policy { timeout_action: DELAY\n"
             "  default_timeout_microseconds: 7 allow_timeout_override: true max_queue_size: 9 "
             "} }\n"
             "parameters { key: \"k\\n\" value { string_value: \"v\\\\\" } }\n"
             "parameters { key: \"k2\" value { string_value: \"\" } }\n",
             &cfg);
    assert_int_equal(inferd_model_config_complete(&cfg, "m", ins, 1, outs, 1, 4, &err), INFERD_OK);
    inferd_buf_t b;
    inferd_json_doc_t *doc = render(&cfg, &b);
    const inferd_json_t *root = inferd_json_root(doc);

    const inferd_json_t *versions = inferd_json_get(
        inferd_json_get(inferd_json_get(root, "version_policy"), "specific"), "versions");
    int64_t v;
    assert_true(inferd_json_to_int64(versions->u.array.items[1], &v));
    assert_int_equal(v, 9007199254740993LL); /* beyond 2^53: exact */

    const inferd_json_t *x = inferd_json_get(root, "input")->u.array.items[0];
    assert_string_equal(jstr(x, "name"), "in \"q\"");
    assert_string_equal(jstr(x, "data_type"), "TYPE_STRING");
    assert_int_equal(inferd_json_get(inferd_json_get(x, "reshape"), "shape")->u.array.count, 0);
    assert_true(inferd_json_get(x, "optional")->u.boolean);

    const inferd_json_t *y = inferd_json_get(root, "output")->u.array.items[0];
    assert_string_equal(jstr(y, "data_type"), "TYPE_BF16");
    assert_string_equal(jstr(y, "label_filename"), "labels.txt");
    const inferd_json_t *shape = inferd_json_get(inferd_json_get(y, "reshape"), "shape");
    assert_int_equal(shape->u.array.count, 2);

    const inferd_json_t *db = inferd_json_get(root, "dynamic_batching");
    assert_int_equal(jint(db, "max_queue_delay_microseconds"), 18446744);
    assert_true(inferd_json_get(db, "preserve_ordering")->u.boolean);
    assert_int_equal(inferd_json_get(db, "preferred_batch_size")->u.array.count, 2);
    const inferd_json_t *qp = inferd_json_get(db, "default_queue_policy");
    assert_string_equal(jstr(qp, "timeout_action"), "DELAY");
    assert_int_equal(jint(qp, "default_timeout_microseconds"), 7);
    assert_true(inferd_json_get(qp, "allow_timeout_override")->u.boolean);
    assert_int_equal(jint(qp, "max_queue_size"), 9);

    const inferd_json_t *params = inferd_json_get(root, "parameters");
    assert_string_equal(jstr(inferd_json_get(params, "k\n"), "string_value"), "v\\");
    assert_string_equal(jstr(inferd_json_get(params, "k2"), "string_value"), "");

    inferd_json_doc_destroy(doc);
    inferd_buf_deinit(&b);
    inferd_model_config_deinit(&cfg);

    /* The other version policies. */
    parse_ok("version_policy { all {} }", &cfg);
    inferd_buf_init(&b, 0);
    inferd_model_config_to_json(&cfg, &b);
    assert_non_null(strstr(b.data, "\"version_policy\":{\"all\":{}}"));
    assert_null(strstr(b.data, "dynamic_batching"));
    inferd_buf_deinit(&b);
    inferd_model_config_deinit(&cfg);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_triton_style_config),
        cmocka_unit_test(parse_every_field),
        cmocka_unit_test(parse_empty_text),
        cmocka_unit_test(parse_list_forms_agree),
        cmocka_unit_test(parse_strings_and_scalars),
        cmocka_unit_test(parse_parameters_both_forms),
        cmocka_unit_test(malformed_syntax),
        cmocka_unit_test(malformed_unknown_fields),
        cmocka_unit_test(malformed_types),
        cmocka_unit_test(malformed_structure),
        cmocka_unit_test(malformed_limits),
        cmocka_unit_test(malformed_frees_partial_config),
        cmocka_unit_test(source_name_in_messages),
        cmocka_unit_test(complete_without_config),
        cmocka_unit_test(complete_partial_max_batch_size),
        cmocka_unit_test(complete_batching_impossible),
        cmocka_unit_test(complete_scalars_and_unknown_rank),
        cmocka_unit_test(complete_full_config),
        cmocka_unit_test(complete_mismatches),
        cmocka_unit_test(complete_backend_and_groups),
        cmocka_unit_test(complete_densenet),
        cmocka_unit_test(json_of_completed_config),
        cmocka_unit_test(json_of_every_field),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
