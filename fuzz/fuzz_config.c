/* config.pbtxt parser (repo/config.c). Any text either fails with a "source:line:col"
 * message or parses; a parsed config written as JSON, converted back to config.pbtxt text
 * (repo/config_json.c) and parsed again writes the same JSON. */
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "repo/config.h"

static const char source[] = "fuzz/config.pbtxt";

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    inferd_model_config_t cfg;
    inferd_model_config_init(&cfg);
    inferd_err_t err = {0};
    if (inferd_model_config_parse((const char *)data, size, source, &cfg, &err) != INFERD_OK) {
        FUZZ_ASSERT(strncmp(err.msg, source, sizeof(source) - 1) == 0,
                    "message does not name the file: %s", err.msg);
        inferd_model_config_deinit(&cfg);
        return 0;
    }
    inferd_buf_t json, text, json2;
    inferd_buf_init(&json, 0);
    inferd_buf_init(&text, 0);
    inferd_buf_init(&json2, 0);
    inferd_model_config_to_json(&cfg, &json);
    inferd_status_t rc = inferd_model_config_json_to_text(json.data, json.len, &text, &err);
    FUZZ_ASSERT(rc == INFERD_OK, "the config's JSON does not convert: %s\n%.*s", err.msg,
                (int)json.len, json.data);
    inferd_model_config_t cfg2;
    inferd_model_config_init(&cfg2);
    rc = inferd_model_config_parse(text.data, text.len, source, &cfg2, &err);
    FUZZ_ASSERT(rc == INFERD_OK, "the converted text does not parse: %s\n%.*s", err.msg,
                (int)text.len, text.data);
    inferd_model_config_to_json(&cfg2, &json2);
    FUZZ_ASSERT(json.len == json2.len && memcmp(json.data, json2.data, json.len) == 0,
                "round trip changed the config:\n%.*s\n%.*s", (int)json.len, json.data,
                (int)json2.len, json2.data);
    (void)inferd_model_config_instance_count(&cfg2);
    inferd_model_config_deinit(&cfg2);
    inferd_model_config_deinit(&cfg);
    inferd_buf_deinit(&json);
    inferd_buf_deinit(&text);
    inferd_buf_deinit(&json2);
    fuzz_check_tensors();
    return 0;
}
