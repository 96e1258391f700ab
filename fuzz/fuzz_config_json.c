/* The load API's JSON config to config.pbtxt text (repo/config_json.c). Any JSON either
 * fails with a message or converts to text; that text goes through the config.pbtxt
 * parser, which must either accept it or fail with a message, never crash. */
#include <string.h>

#include "core/buf.h"
#include "fuzz_common.h"
#include "repo/config.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    inferd_buf_t text;
    inferd_buf_init(&text, 0);
    inferd_err_t err = {0};
    if (inferd_model_config_json_to_text((const char *)data, size, &text, &err) != INFERD_OK) {
        FUZZ_ASSERT(err.msg[0] != '\0', "conversion failed without a message");
    } else {
        inferd_model_config_t cfg;
        inferd_model_config_init(&cfg);
        if (inferd_model_config_parse(text.data, text.len, "config", &cfg, &err) != INFERD_OK)
            FUZZ_ASSERT(err.msg[0] != '\0', "parse failed without a message");
        inferd_model_config_deinit(&cfg);
    }
    inferd_buf_deinit(&text);
    fuzz_check_tensors();
    return 0;
}
