/* KServe v2 inference request decoding (server/http/v2_codec.c), in the order the REST
 * front end runs it (server/http/v2_rest.c): Inference-Header-Content-Length, the JSON
 * header, request validation with the server's default limits, the binary section
 * layout, then every input's tensor from JSON data or from its binary blob.
 *
 * Input format: the first line (up to '\n', at most 32 bytes) is the header value, empty
 * for no header; the rest is the request body. Properties: errors carry a message; a
 * tensor built from JSON, written back as JSON and decoded again has the same bytes. */
#include <string.h>

#include "core/alloc.h"
#include "core/json.h"
#include "fuzz_common.h"
#include "server/http/v2_codec.h"

/* The server's defaults (server.c): tensors of up to 2^26 elements, 128 inputs. */
static const inferd_v2_limits_t v2_limits = {.max_inputs = 128, .max_elements = 1ull << 26};

/* JSON data -> tensor -> JSON -> tensor must give the same bytes. BYTES elements that are
 * not UTF-8 are written as \u escapes of their bytes, which read back differently: skipped. */
static void check_json_round_trip(const inferd_v2_input_t *in, const inferd_tensor_t *t)
{
    if (t->dtype == INFERD_DTYPE_BYTES)
        return;
    inferd_buf_t b;
    inferd_buf_init(&b, 0);
    inferd_v2_tensor_to_json(t, &b);
    FUZZ_ASSERT(!b.failed, "writing input '%s' failed", in->name);
    inferd_json_doc_t *doc = NULL;
    inferd_err_t err = {0};
    FUZZ_ASSERT(inferd_json_parse(b.data, b.len, NULL, &doc, &err) == INFERD_OK,
                "input '%s' written as JSON does not parse: %s", in->name, err.msg);
    inferd_tensor_t *back = NULL;
    inferd_status_t rc =
        inferd_v2_json_to_tensor(in->name, inferd_json_root(doc), t->dtype, t->dims, t->ndim,
                                 v2_limits.max_elements, &back, &err);
    FUZZ_ASSERT(rc == INFERD_OK, "input '%s' written as JSON does not decode: %s", in->name,
                err.msg);
    FUZZ_ASSERT(back->nbytes == t->nbytes &&
                    (t->nbytes == 0 || memcmp(back->data, t->data, t->nbytes) == 0),
                "input '%s' changed on a JSON round trip", in->name);
    inferd_tensor_unref(back);
    inferd_json_doc_destroy(doc);
    inferd_buf_deinit(&b);
}

/* Classification runs on outputs; any decoded tensor is a fair input for it. */
static void classify(const inferd_tensor_t *t)
{
    if (!inferd_v2_classification_supported(t->dtype))
        return;
    static const char *const labels[] = {"zero", "", "two"};
    inferd_tensor_t *out = NULL;
    inferd_err_t err = {0};
    int64_t batch = t->ndim > 0 ? t->dims[0] : 0;
    if (inferd_v2_classify("out", t, batch, 3, labels, 3, &out, &err) == INFERD_OK)
        inferd_tensor_unref(out);
    else
        FUZZ_ASSERT(err.msg[0] != '\0', "classification failed without a message");
}

static void decode_inputs(inferd_v2_request_t *req, inferd_tensor_t *body, size_t binary_off)
{
    for (size_t k = 0; k < req->n_inputs; k++) {
        const inferd_v2_input_t *in = &req->inputs[k];
        inferd_tensor_t *t = NULL;
        inferd_err_t err = {0};
        inferd_status_t rc = INFERD_E_INVALID_ARG;
        if (in->data) {
            rc = inferd_v2_json_to_tensor(in->name, in->data, in->datatype, in->shape, in->ndim,
                                          v2_limits.max_elements, &t, &err);
        } else if (in->has_binary_data_size) {
            size_t copied;
            rc = inferd_v2_binary_to_tensor(in->name, in->datatype, in->shape, in->ndim,
                                            v2_limits.max_elements, body,
                                            binary_off + (size_t)in->binary_offset,
                                            (size_t)in->binary_data_size, &t, &copied, &err);
        } else {
            continue; /* shared memory: needs a registered region */
        }
        if (rc != INFERD_OK) {
            FUZZ_ASSERT(t == NULL && err.msg[0] != '\0', "input '%s' failed badly", in->name);
            continue;
        }
        FUZZ_ASSERT(t->dtype == in->datatype && t->ndim == in->ndim, "input '%s' shape", in->name);
        if (in->data)
            check_json_round_trip(in, t);
        classify(t);
        inferd_tensor_unref(t);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const uint8_t *nl = memchr(data, '\n', size < 33 ? size : 33);
    if (!nl)
        return 0;
    char ihcl[33];
    size_t hl = (size_t)(nl - data);
    memcpy(ihcl, data, hl);
    ihcl[hl] = '\0';
    const uint8_t *payload = nl + 1;
    size_t body_len = size - hl - 1;

    /* As in the server, the binary section starts 16-byte aligned; the header length is
     * not known yet, so the body is placed after the pad that aligns it for the largest
     * header length the first line can name. */
    inferd_err_t err = {0};
    size_t header_len = body_len;
    if (hl && inferd_v2_parse_header_length(ihcl, body_len, &header_len, &err) != INFERD_OK) {
        FUZZ_ASSERT(err.msg[0] != '\0', "header length failed without a message");
        return 0;
    }
    size_t pad = (16 - header_len % 16) % 16;
    int64_t dims[1] = {(int64_t)(pad + body_len)};
    inferd_tensor_t *body =
        inferd_tensor_create(INFERD_DTYPE_UINT8, dims, 1, 0, INFERD_OWNER_REQUEST, &err);
    FUZZ_ASSERT(body != NULL, "body: %s", err.msg);
    if (body_len)
        memcpy((char *)body->data + pad, payload, body_len);
    const char *json = body->data ? (const char *)body->data + pad : "";

    inferd_json_doc_t *doc = NULL;
    inferd_v2_request_t req;
    memset(&req, 0, sizeof(req));
    if (hl && header_len == 0) {
        /* A raw binary request: the front end takes the shape from the model config. */
    } else if (inferd_json_parse(json, header_len, NULL, &doc, &err) != INFERD_OK) {
        FUZZ_ASSERT(err.msg[0] != '\0', "JSON failed without a message");
    } else if (inferd_v2_parse_request(doc, &v2_limits, &req, &err) != INFERD_OK) {
        FUZZ_ASSERT(err.msg[0] != '\0', "request failed without a message");
    } else if (inferd_v2_layout_binary(&req, body_len - header_len, &err) != INFERD_OK) {
        FUZZ_ASSERT(err.msg[0] != '\0', "layout failed without a message");
    } else {
        FUZZ_ASSERT(req.n_inputs <= v2_limits.max_inputs, "%zu inputs", req.n_inputs);
        decode_inputs(&req, body, pad + header_len);
    }
    inferd_json_doc_destroy(doc);
    inferd_tensor_unref(body);
    fuzz_check_tensors();
    return 0;
}
