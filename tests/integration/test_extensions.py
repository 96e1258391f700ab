"""Triton's binary tensor data and classification extensions.

Binary tensor data: round trips for every datatype (FP16 and BF16 travel only this way in
Triton's protocol; BYTES become binary-safe), binary and JSON inputs and outputs mixed in one
request, binary_data_output as the request default, the raw binary form
(Inference-Header-Content-Length: 0), every framing and size error as a 400 naming the
input, and zero-copy: binary inputs add nothing to /debug/tensors' input_bytes_copied.

Classification: top-k "value:index[:label]" strings for batching and non-batching models,
with and without a label file, in JSON and binary outputs; unsupported datatypes and label
files outside the model directory are refused."""
import json
import struct

import numpy as np
import pytest
from onnx import TensorProto, helper

import onnx_models as om
from conftest import tensor

ALL_DTYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32", "INT64",
              "FP16", "FP32", "FP64", "BF16", "BYTES"]


def identity_model(dt):
    """om.identity_model, plus BF16 (absent from om.DTYPES)."""
    if dt != "BF16":
        return om.identity_model(dt)
    et = TensorProto.BFLOAT16
    model = om.make_model([helper.make_node("Identity", ["INPUT0"], ["OUTPUT0"])],
                          [("INPUT0", et, ["d0", "d1"])], [("OUTPUT0", et, ["d0", "d1"])],
                          name="identity_bf16")
    cfg = om.config_text("identity_bf16", 0, [("INPUT0", "TYPE_BF16", [-1, -1])],
                         [("OUTPUT0", "TYPE_BF16", [-1, -1])])
    return model, cfg


def scores_model(name, dt, labels=None, label_filename="labels.txt"):
    """`name`: x [-1] of dt -> Identity -> scores [-1], no batching; optional label file."""
    et, ct, _ = om.DTYPES[dt]
    model = om.make_model([helper.make_node("Identity", ["x"], ["scores"])],
                          [("x", et, ["n"])], [("scores", et, ["n"])], name=name)
    extra = ' label_filename: "%s" ' % label_filename if label_filename else ""
    cfg = om.config_text(name, 0, [("x", ct, [-1])], [("scores", ct, [-1], extra)])
    files = {label_filename: labels} if labels is not None else None
    return model, cfg, files


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("ext_repo"))
    om.copy_examples(repo, ["digits", "add_mul"])
    for dt in ALL_DTYPES:
        om.write_model(repo, "identity_" + dt.lower(), *identity_model(dt))
    om.write_model(repo, "cast_fp32_fp64", *om.cast_model("cast_fp32_fp64", "FP32", "FP64"))
    om.write_model(repo, "batched_add", *om.batched_add_model())
    m, c, f = scores_model("scores_labelled", "FP32", "cat\ndog\r\n\nbird\n")
    om.write_model(repo, "scores_labelled", m, c, extra_files=f)
    return repo


@pytest.fixture(scope="module")
def srv(module_servers, repo):
    return module_servers.start([repo])


# ---- helpers -----------------------------------------------------------------------------

def binary_body(inputs, blobs, outputs=None, parameters=None, pad=0):
    """inputs: JSON input entries; blobs: bytes for each, or None for an input that carries
    JSON "data" (binary_data_size is filled in for the others). Returns (header, body)."""
    header = {"inputs": []}
    for i, b in zip(inputs, blobs):
        i = dict(i)
        if b is not None:
            i["parameters"] = dict(i.get("parameters", {}), binary_data_size=len(b))
        header["inputs"].append(i)
    if outputs is not None:
        header["outputs"] = outputs
    if parameters is not None:
        header["parameters"] = parameters
    h = json.dumps(header).encode() + b" " * pad
    return h, h + b"".join(b for b in blobs if b is not None)


def binary_request(srv, model, inputs, blobs, outputs=None, parameters=None, pad=0,
                   content_type=None):
    """No Content-Type by default: Triton's client sends none, and none is required."""
    h, body = binary_body(inputs, blobs, outputs, parameters, pad)
    headers = {"Inference-Header-Content-Length": str(len(h))}
    if content_type:
        headers["Content-Type"] = content_type
    return srv.post("/v2/models/%s/infer" % model, body, headers=headers)


def split_binary_response(r):
    assert r.status == 200, r
    hl = r.headers.get("inference-header-content-length")
    assert hl is not None, r.headers
    assert r.headers.get("content-type") == "application/octet-stream", r.headers
    hl = int(hl)
    header = json.loads(r.body[:hl])
    rest = r.body[hl:]
    blobs = {}
    for o in header["outputs"]:
        size = o.get("parameters", {}).get("binary_data_size")
        if size is not None:
            assert "data" not in o, o
            blobs[o["name"]] = rest[:size]
            rest = rest[size:]
    assert rest == b"", "bytes left after the declared blobs"
    return header, blobs


def bytes_blob(items):
    return b"".join(struct.pack("<I", len(x)) + x for x in items)


def copied(srv):
    return srv.get("/debug/tensors").json()["input_bytes_copied"]


def sample_values(dt):
    """12 values of dt as (raw little-endian bytes, expected JSON values or None)."""
    if dt == "BOOL":
        v = np.array([1, 0, 0, 1, 1, 1, 0, 0, 1, 0, 1, 0], np.uint8)
        return v.tobytes(), [bool(x) for x in v]
    if dt == "BF16":
        f = np.array([0.0, -0.0, 1.0, -2.5, 3.0e38, -1.5, 2.0 ** -126, 0.09375, np.inf,
                      -np.inf, 7.0, 256.0], np.float32)
        bits = (f.view(np.uint32) >> 16).astype("<u2")
        exact = (bits.astype(np.uint32) << 16).view(np.float32)  # truncated to BF16
        return bits.tobytes(), exact.tolist()
    if dt == "FP16":
        v = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, -65504.0, 2.0 ** -24, 2.0 ** -14,
                      np.inf, -np.inf, 0.5, 0.333251953125], np.float16)
        return v.astype("<f2").tobytes(), None
    npdt = om.DTYPES[dt][2]
    info = np.iinfo(npdt) if np.issubdtype(npdt, np.integer) else None
    if info is not None:
        v = np.array([info.min, info.max, 0, 1, 2, 3, 5, 7, 11, 13, 17, info.max - 1], npdt)
    else:
        v = np.array([0.0, -0.0, 1.5, -2.25, 1e-30, 3.0e30, np.finfo(npdt).max, np.inf,
                      -np.inf, 0.1, -7.0, 123.0], npdt)
    return v.astype(v.dtype.newbyteorder("<")).tobytes(), v.tolist()


# ---- binary tensor data: round trips -----------------------------------------------------

@pytest.mark.parametrize("dt", [d for d in ALL_DTYPES if d != "BYTES"])
def test_binary_roundtrip_every_datatype(srv, dt):
    raw, _ = sample_values(dt)
    before = copied(srv)
    r = binary_request(srv, "identity_" + dt.lower(),
                       [{"name": "INPUT0", "datatype": dt, "shape": [3, 4]}], [raw],
                       outputs=[{"name": "OUTPUT0", "parameters": {"binary_data": True}}])
    header, blobs = split_binary_response(r)
    out = header["outputs"][0]
    assert out["datatype"] == dt and out["shape"] == [3, 4]
    assert out["parameters"]["binary_data_size"] == len(raw)
    assert blobs["OUTPUT0"] == raw  # bit-exact, NaN payloads and -0.0 included
    assert copied(srv) == before


@pytest.mark.parametrize("dt", [d for d in ALL_DTYPES if d not in ("BYTES", "FP16")])
def test_binary_in_json_out(srv, dt):
    raw, expect = sample_values(dt)
    r = binary_request(srv, "identity_" + dt.lower(),
                       [{"name": "INPUT0", "datatype": dt, "shape": [2, 6]}], [raw])
    assert r.status == 200, r
    assert "inference-header-content-length" not in r.headers
    assert r.headers["content-type"] == "application/json"
    out = r.json()["outputs"][0]
    assert out["shape"] == [2, 6] and "parameters" not in out
    got = out["data"]
    assert len(got) == 12
    for g, e in zip(got, expect):
        if dt in ("FP32", "BF16"):
            # the shortest text that round-trips at single precision
            assert np.float32(g) == np.float32(e), (g, e)
        elif isinstance(e, float):
            assert float(g) == e, (g, e)
        else:
            assert g == e and type(g) is type(e), (g, e)


def test_fp16_binary_in_json_out(srv):
    raw, _ = sample_values("FP16")
    r = binary_request(srv, "identity_fp16",
                       [{"name": "INPUT0", "datatype": "FP16", "shape": [3, 4]}], [raw])
    assert r.status == 200, r
    got = np.array(r.json()["outputs"][0]["data"], np.float64).astype(np.float16)
    assert got.view(np.uint16).tolist() == np.frombuffer(raw, "<u2").tolist()


def test_json_in_fp16_binary_out(srv):
    """FP16 given in JSON (inferd accepts it; Triton refuses) comes back exactly."""
    vals = [0.0, 1.0, -2.5, 65504.0, 0.333251953125, 2.0 ** -24]
    r = srv.infer("identity_fp16", [tensor("INPUT0", "FP16", [2, 3], vals)],
                  outputs=[{"name": "OUTPUT0", "parameters": {"binary_data": True}}])
    _, blobs = split_binary_response(r)
    assert blobs["OUTPUT0"] == np.array(vals, "<f2").tobytes()


def test_binary_bytes_with_nul_bytes(srv):
    items = [b"", b"\xff\xfe\x00\x01", b"plain", "\u00e9".encode(), b"\x00" * 5, b"z" * 300]
    before = copied(srv)
    r = binary_request(srv, "identity_bytes",
                       [{"name": "INPUT0", "datatype": "BYTES", "shape": [2, 3]}],
                       [bytes_blob(items)],
                       outputs=[{"name": "OUTPUT0", "parameters": {"binary_data": True}}])
    header, blobs = split_binary_response(r)
    assert header["outputs"][0]["shape"] == [2, 3]
    assert header["outputs"][0]["datatype"] == "BYTES"
    assert blobs["OUTPUT0"] == bytes_blob(items)
    assert copied(srv) == before
    # The same as JSON output: NUL bytes survive as \u0000, other bytes as \u00XX.
    r = binary_request(srv, "identity_bytes",
                       [{"name": "INPUT0", "datatype": "BYTES", "shape": [1, 2]}],
                       [bytes_blob([b"a\x00b", "\u00e9".encode()])])
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == ["a\x00b", "\u00e9"]


def test_binary_bool_and_int64(srv):
    b = np.array([1, 0, 0, 1], np.uint8)
    r = binary_request(srv, "identity_bool",
                       [{"name": "INPUT0", "datatype": "BOOL", "shape": [1, 4]}], [b.tobytes()])
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == [True, False, False, True]
    v = np.array([-2 ** 63, 2 ** 63 - 1, 2 ** 53 + 1], np.int64)
    r = binary_request(srv, "identity_int64",
                       [{"name": "INPUT0", "datatype": "INT64", "shape": [3, 1]}], [v.tobytes()])
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == v.tolist()


def test_mixed_binary_and_json_inputs_and_outputs(srv):
    a = np.array([1.5, -2.0, 3.25], np.float32)
    b = [2.0, 0.5, -1.0]
    r = binary_request(srv, "add_mul",
                       [{"name": "a", "datatype": "FP32", "shape": [3]},
                        {"name": "b", "datatype": "FP32", "shape": [3], "data": b}],
                       [a.tobytes(), None],
                       outputs=[{"name": "product"},
                                {"name": "sum", "parameters": {"binary_data": True}}],
                       content_type="application/octet-stream")
    header, blobs = split_binary_response(r)
    assert [o["name"] for o in header["outputs"]] == ["product", "sum"]
    assert header["outputs"][0]["data"] == [3.0, -1.0, -3.25]
    assert "parameters" not in header["outputs"][0]
    assert np.frombuffer(blobs["sum"], "<f4").tolist() == [3.5, -1.5, 2.25]
    # JSON first, binary second: the blob belongs to the second input.
    r = binary_request(srv, "add_mul",
                       [{"name": "b", "datatype": "FP32", "shape": [3], "data": b},
                        {"name": "a", "datatype": "FP32", "shape": [3]}],
                       [None, a.tobytes()])
    assert r.status == 200, r
    assert {o["name"]: o["data"] for o in r.json()["outputs"]} == \
        {"sum": [3.5, -1.5, 2.25], "product": [3.0, -1.0, -3.25]}


def test_binary_fp32_both_inputs(srv):
    a = np.array([1.5, -2.0, 3.25], np.float32)
    b = np.array([2.0, 0.5, -1.0], np.float32)
    r = binary_request(srv, "add_mul",
                       [{"name": "a", "datatype": "FP32", "shape": [3]},
                        {"name": "b", "datatype": "FP32", "shape": [3]}],
                       [a.tobytes(), b.tobytes()])
    assert r.status == 200, r
    outs = {o["name"]: o["data"] for o in r.json()["outputs"]}
    assert outs == {"sum": [3.5, -1.5, 2.25], "product": [3.0, -1.0, -3.25]}


def test_binary_data_output_default(srv):
    """binary_data_output applies to every output when "outputs" is omitted..."""
    x = np.arange(64, dtype=np.float32) % 17
    r = binary_request(srv, "digits", [{"name": "pixels", "datatype": "FP32", "shape": [1, 64]}],
                       [x.tobytes()], parameters={"binary_data_output": True})
    header, blobs = split_binary_response(r)
    assert [o["name"] for o in header["outputs"]] == ["probabilities", "label"]
    p = np.frombuffer(blobs["probabilities"], "<f4")
    lab = np.frombuffer(blobs["label"], "<i8")
    assert p.shape == (10,) and lab.shape == (1,)
    assert abs(p.sum() - 1) < 1e-4 and lab[0] == int(p.argmax())


def test_binary_data_output_overridden_per_output(srv):
    """... and a per-output binary_data overrides it, either way."""
    x = (np.arange(64, dtype=np.float32) % 17).tolist()
    r = srv.infer("digits", [tensor("pixels", "FP32", [1, 64], x)],
                  outputs=[{"name": "label", "parameters": {"binary_data": False}},
                           {"name": "probabilities"}],
                  parameters={"binary_data_output": True})
    header, blobs = split_binary_response(r)
    assert list(blobs) == ["probabilities"]
    assert "data" in header["outputs"][0] and header["outputs"][0]["shape"] == [1, 1]
    r = srv.infer("digits", [tensor("pixels", "FP32", [1, 64], x)],
                  outputs=[{"name": "label", "parameters": {"binary_data": True}}],
                  parameters={"binary_data_output": False})
    header, blobs = split_binary_response(r)
    assert list(blobs) == ["label"] and len(blobs["label"]) == 8
    # binary_data_output false and no binary_data: plain JSON.
    r = srv.infer("digits", [tensor("pixels", "FP32", [1, 64], x)],
                  parameters={"binary_data_output": False})
    assert r.status == 200 and r.headers["content-type"] == "application/json", r
    assert "inference-header-content-length" not in r.headers


def test_header_name_is_case_insensitive(srv):
    a = np.array([1.0, 2.0], np.float32).tobytes()
    h, body = binary_body([{"name": "INPUT0", "datatype": "FP32", "shape": [1, 2]}], [a])
    for name in ("inference-header-content-length", "INFERENCE-HEADER-CONTENT-LENGTH"):
        r = srv.post("/v2/models/identity_fp32/infer", body, headers={name: str(len(h))})
        assert r.status == 200, r
        assert r.json()["outputs"][0]["data"] == [1.0, 2.0]


def test_zero_element_binary_input(srv):
    r = binary_request(srv, "identity_fp32",
                       [{"name": "INPUT0", "datatype": "FP32", "shape": [0, 4]}], [b""],
                       outputs=[{"name": "OUTPUT0", "parameters": {"binary_data": True}}])
    header, blobs = split_binary_response(r)
    assert header["outputs"][0]["shape"] == [0, 4]
    assert header["outputs"][0]["parameters"]["binary_data_size"] == 0
    assert blobs["OUTPUT0"] == b""


# ---- zero copy ---------------------------------------------------------------------------

def test_binary_inputs_are_not_copied(srv):
    """Whatever the JSON header's length (so wherever the binary section starts), binary
    inputs are views into the body: input_bytes_copied does not move. JSON inputs count
    their decoded bytes."""
    x = (np.arange(64, dtype=np.float32) % 17)
    before = copied(srv)
    for pad in range(16):
        r = binary_request(srv, "digits",
                           [{"name": "pixels", "datatype": "FP32", "shape": [1, 64]}],
                           [x.tobytes()], pad=pad)
        assert r.status == 200, r
    a = np.array([1.0, 2.0, 3.0], np.float32)
    r = binary_request(srv, "add_mul", [{"name": "a", "datatype": "FP32", "shape": [3]},
                                        {"name": "b", "datatype": "FP32", "shape": [3]}],
                       [a.tobytes(), a.tobytes()], pad=5)
    assert r.status == 200, r
    r = binary_request(srv, "identity_fp64",
                       [{"name": "INPUT0", "datatype": "FP64", "shape": [2, 2]}],
                       [np.ones(4, "<f8").tobytes()], pad=3)
    assert r.status == 200, r
    assert copied(srv) == before
    r = srv.infer("digits", [tensor("pixels", "FP32", [2, 64], x.tolist() * 2)])
    assert r.status == 200, r
    assert copied(srv) == before + 2 * 64 * 4


def test_debug_tensors_reports_input_bytes_copied(srv):
    t = srv.get("/debug/tensors").json()
    assert isinstance(t["input_bytes_copied"], int) and t["input_bytes_copied"] >= 0


# ---- raw binary requests -----------------------------------------------------------------

def test_raw_binary_request(srv):
    x = np.arange(64, dtype=np.float32) % 17
    before = copied(srv)
    r = srv.post("/v2/models/digits/infer", x.tobytes(),
                 headers={"Inference-Header-Content-Length": "0"})
    header, blobs = split_binary_response(r)
    assert [o["shape"] for o in header["outputs"]] == [[1, 10], [1, 1]]
    p = np.frombuffer(blobs["probabilities"], "<f4")
    assert int(np.frombuffer(blobs["label"], "<i8")[0]) == int(p.argmax())
    assert copied(srv) == before
    # One variable dimension is deduced from the size.
    v = np.array([1.5, -2.0, 0.25, 8.0, 9.0], np.float32)
    r = srv.post("/v2/models/cast_fp32_fp64/infer", v.tobytes(),
                 headers={"Inference-Header-Content-Length": "0"})
    header, blobs = split_binary_response(r)
    assert header["outputs"][0]["shape"] == [5]
    assert np.frombuffer(blobs["OUTPUT0"], "<f8").tolist() == v.astype(np.float64).tolist()
    # A BYTES input is one element whose content is the body.
    r = srv.post("/v2/models/identity_bytes/infer", b"raw\x00body",
                 headers={"Inference-Header-Content-Length": "0"})
    header, blobs = split_binary_response(r)
    assert header["outputs"][0]["shape"] == [1, 1]
    assert blobs["OUTPUT0"] == bytes_blob([b"raw\x00body"])


@pytest.mark.parametrize("model,body,needle", [
    ("add_mul", b"\x00" * 8, "one input"),
    ("identity_fp32", b"\x00" * 8, "more than one variable"),
    ("cast_fp32_fp64", b"\x00" * 6, "do not divide"),
])
def test_raw_binary_request_errors(srv, model, body, needle):
    r = srv.post("/v2/models/%s/infer" % model, body,
                 headers={"Inference-Header-Content-Length": "0"})
    assert r.status == 400, r
    assert needle in r.error


# ---- binary tensor data: validation --------------------------------------------------------

F4 = np.zeros(4, np.float32).tobytes()


def post_raw(srv, model, body, hl):
    return srv.post("/v2/models/%s/infer" % model, body,
                    headers={"Inference-Header-Content-Length": hl})


def fp32_header(size=16, shape=(1, 4)):
    return json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": list(shape),
                                   "parameters": {"binary_data_size": size}}]}).encode()


@pytest.mark.parametrize("hl", ["abc", "1.5", "", "12abc", "0x10"])
def test_header_length_not_an_integer(srv, hl):
    h = fp32_header()
    r = post_raw(srv, "identity_fp32", h + F4, hl)
    assert r.status == 400, r
    assert "Inference-Header-Content-Length" in r.error and "integer" in r.error


def test_header_length_negative(srv):
    h = fp32_header()
    r = post_raw(srv, "identity_fp32", h + F4, "-5")
    assert r.status == 400, r
    assert "negative" in r.error


def test_header_length_greater_than_body(srv):
    h = fp32_header()
    for hl in (len(h) + 17, 2 ** 64 + 1):
        r = post_raw(srv, "identity_fp32", h + F4, str(hl))
        assert r.status == 400, r
        assert "greater than the request body" in r.error


def test_header_length_cuts_the_json(srv):
    h = fp32_header()
    r = post_raw(srv, "identity_fp32", h + F4, str(len(h) - 3))
    assert r.status == 400, r


def test_blob_past_the_end(srv):
    h = fp32_header()
    r = post_raw(srv, "identity_fp32", h + F4[:8], str(len(h)))
    assert r.status == 400, r
    assert "INPUT0" in r.error and "past the end" in r.error


def test_bytes_left_after_last_blob(srv):
    h = fp32_header()
    r = post_raw(srv, "identity_fp32", h + F4 + b"\x00" * 8, str(len(h)))
    assert r.status == 400, r
    assert "unexpected additional input data" in r.error


def test_blob_size_not_element_count_times_size(srv):
    h = fp32_header(size=12)
    r = post_raw(srv, "identity_fp32", h + F4[:12], str(len(h)))
    assert r.status == 400, r
    assert "INPUT0" in r.error and "16" in r.error and "12" in r.error
    h = fp32_header(size=20, shape=(1, 4))
    r = post_raw(srv, "identity_fp32", h + F4 + b"\x00" * 4, str(len(h)))
    assert r.status == 400, r
    assert "INPUT0" in r.error


@pytest.mark.parametrize("blob,needle", [
    (struct.pack("<I", 100) + b"abcde", "runs past the end"),        # length past the end
    (struct.pack("<I", 1) + b"a" + b"\x01\x00", "4-byte length"),     # truncated prefix
    (bytes_blob([b"ab", b"cd"]) + b"xyz", "left in the"),            # bytes after the last
    (bytes_blob([b"ab"]), "4-byte length"),                          # too few elements
])
def test_bytes_blob_inconsistent(srv, blob, needle):
    h = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "BYTES", "shape": [1, 2],
                                "parameters": {"binary_data_size": len(blob)}}]}).encode()
    r = post_raw(srv, "identity_bytes", h + blob, str(len(h)))
    assert r.status == 400, r
    assert "INPUT0" in r.error and needle in r.error


def test_binary_data_size_without_header(srv):
    h = fp32_header()
    r = srv.post("/v2/models/identity_fp32/infer", h)
    assert r.status == 400, r
    assert "INPUT0" in r.error and "Inference-Header-Content-Length" in r.error


def test_data_and_binary_data_size_together(srv):
    h = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4],
                                "data": [0, 0, 0, 0],
                                "parameters": {"binary_data_size": 16}}]}).encode()
    r = post_raw(srv, "identity_fp32", h + F4, str(len(h)))
    assert r.status == 400, r
    assert "INPUT0" in r.error and "exactly one" in r.error


def test_binary_data_size_must_be_an_integer(srv):
    h = json.dumps({"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4],
                                "parameters": {"binary_data_size": "16"}}]}).encode()
    r = post_raw(srv, "identity_fp32", h + F4, str(len(h)))
    assert r.status == 400, r
    assert "binary_data_size" in r.error


def test_binary_data_must_be_boolean(srv):
    r = srv.infer("identity_fp32", [tensor("INPUT0", "FP32", [1, 1], [1.0])],
                  outputs=[{"name": "OUTPUT0", "parameters": {"binary_data": 1}}])
    assert r.status == 400, r
    assert "binary_data" in r.error


# ---- classification ----------------------------------------------------------------------

ZERO = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4,
        12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10,
        12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]


def test_classification_batching_with_labels(srv):
    """digits: a batching model whose probabilities output has labels.txt."""
    x2 = [0] * 64
    r = srv.infer("digits", [tensor("pixels", "FP32", [2, 64], [ZERO, x2])],
                  outputs=[{"name": "probabilities", "parameters": {"classification": 3}}])
    assert r.status == 200, r
    out = r.json()["outputs"]
    assert [o["name"] for o in out] == ["probabilities"]
    assert out[0]["datatype"] == "BYTES"
    assert out[0]["shape"] == [2, 3]
    plain = srv.infer("digits", [tensor("pixels", "FP32", [2, 64], [ZERO, x2])]).json()
    probs = np.array(plain["outputs"][0]["data"], np.float32).reshape(2, 10)
    for row, p in zip([out[0]["data"][:3], out[0]["data"][3:]], probs):
        want = sorted(range(10), key=lambda i: (-p[i], i))[:3]
        assert [int(s.split(":")[1]) for s in row] == want
        for s, i in zip(row, want):
            score, idx, label = s.split(":")
            assert label == idx  # labels.txt line i is "i"
            assert score == "%f" % p[i]  # std::to_string: fixed, 6 decimals
    assert out[0]["data"][0].split(":")[1] == "0"  # the first sample is a zero


def test_classification_k_larger_than_classes(srv):
    r = srv.infer("digits", [tensor("pixels", "FP32", [1, 64], ZERO)],
                  outputs=[{"name": "probabilities", "parameters": {"classification": 50}},
                           {"name": "label"}])
    assert r.status == 200, r
    out = r.json()["outputs"]
    assert out[0]["shape"] == [1, 10] and len(out[0]["data"]) == 10
    assert sorted(int(s.split(":")[1]) for s in out[0]["data"]) == list(range(10))
    assert out[1]["name"] == "label" and out[1]["datatype"] == "INT64"


def test_classification_binary_output(srv):
    r = srv.infer("digits", [tensor("pixels", "FP32", [1, 64], ZERO)],
                  outputs=[{"name": "probabilities",
                            "parameters": {"classification": 2, "binary_data": True}}])
    header, blobs = split_binary_response(r)
    o = header["outputs"][0]
    assert o["datatype"] == "BYTES" and o["shape"] == [1, 2]
    blob = blobs["probabilities"]
    items = []
    while blob:
        n = struct.unpack("<I", blob[:4])[0]
        items.append(blob[4:4 + n].decode())
        blob = blob[4 + n:]
    assert len(items) == 2 and items[0].split(":")[1:] == ["0", "0"]


def test_classification_batching_without_labels(srv):
    x = [[0.5, 3.0, -1.0, 3.0], [9.0, 8.0, 7.0, 10.0]]
    y = [[0.0] * 4, [0.0] * 4]
    r = srv.infer("batched_add", [tensor("x", "FP32", [2, 4], x), tensor("y", "FP32", [2, 4], y)],
                  outputs=[{"name": "z", "parameters": {"classification": 2}}])
    assert r.status == 200, r
    o = r.json()["outputs"][0]
    assert o["shape"] == [2, 2]
    # ties: the lower index first
    assert o["data"] == ["3.000000:1", "3.000000:3", "10.000000:3", "9.000000:0"]


def test_classification_non_batching_without_labels(srv):
    r = srv.infer("identity_fp32", [tensor("INPUT0", "FP32", [2, 3],
                                           [0.1, 0.7, 0.2, -5.0, 1e20, 0.0])],
                  outputs=[{"name": "OUTPUT0", "parameters": {"classification": 3}}])
    assert r.status == 200, r
    o = r.json()["outputs"][0]
    assert o["shape"] == [3]
    assert o["data"] == ["100000002004087734272.000000:4", "0.700000:1", "0.200000:2"]


def test_classification_non_batching_with_labels(srv):
    """labels: "cat", "dog" (CRLF stripped), "" (empty: no label), "bird"; index 4 has
    no line at all."""
    r = srv.infer("scores_labelled", [tensor("x", "FP32", [5], [0.1, 0.4, 0.3, 0.2, 0.5])],
                  outputs=[{"name": "scores", "parameters": {"classification": 5}}])
    assert r.status == 200, r
    o = r.json()["outputs"][0]
    assert o["shape"] == [5]
    assert o["data"] == ["0.500000:4", "0.400000:1:dog", "0.300000:2", "0.200000:3:bird",
                         "0.100000:0:cat"]


@pytest.mark.parametrize("dt,vals,expect", [
    ("INT32", [5, -7, 12, 0], ["12:2", "5:0"]),
    ("UINT8", [200, 3, 255, 1], ["255:2", "200:0"]),
    ("INT64", [-2 ** 63, 2 ** 63 - 1, 0, 1], ["9223372036854775807:1", "1:3"]),
    ("FP64", [0.25, -1.0, 1e-7, 2.5], ["2.500000:3", "0.250000:0"]),
])
def test_classification_value_formatting(srv, dt, vals, expect):
    """std::to_string: integers in decimal, floats as %f."""
    r = srv.infer("identity_" + dt.lower(), [tensor("INPUT0", dt, [1, 4], vals)],
                  outputs=[{"name": "OUTPUT0", "parameters": {"classification": 2}}])
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == expect


@pytest.mark.parametrize("dt,val", [("BOOL", True), ("BYTES", "a"), ("FP16", 1.0)])
def test_classification_unsupported_datatype(srv, dt, val):
    r = srv.infer("identity_" + dt.lower(), [tensor("INPUT0", dt, [1, 1], [val])],
                  outputs=[{"name": "OUTPUT0", "parameters": {"classification": 1}}])
    assert r.status == 400, r
    assert "OUTPUT0" in r.error and dt in r.error


def test_classification_parameter_type(srv):
    for bad in (-1, "3", 1.5, True):
        r = srv.infer("identity_fp32", [tensor("INPUT0", "FP32", [1, 1], [1.0])],
                      outputs=[{"name": "OUTPUT0", "parameters": {"classification": bad}}])
        assert r.status == 400, (bad, r)
        assert "classification" in r.error


def test_label_file_outside_model_dir_refused(servers, tmp_path):
    repo = str(tmp_path / "repo")
    (tmp_path / "secret.txt").write_text("x\n")
    for name, fn in (("up", "../secret.txt"), ("abs", str(tmp_path / "secret.txt")),
                     ("link", "link.txt"), ("missing", "nope.txt")):
        m, c, _ = scores_model(name, "FP32", label_filename=fn)
        d = om.write_model(repo, name, m, c)
        if name == "link":
            import os
            os.symlink(str(tmp_path / "secret.txt"), os.path.join(d, "link.txt"))
    m, c, f = scores_model("good", "FP32", "a\nb\n", label_filename="sub/labels.txt")
    om.write_model(repo, "good", m, c, extra_files=f)
    s = servers.start([repo], wait="loaded")
    idx = {e["name"]: e for e in s.index()}
    assert idx["good"]["state"] == "READY"
    for name in ("up", "abs", "link", "missing"):
        assert idx[name]["state"] == "UNAVAILABLE", idx[name]
        assert "label_filename" in idx[name]["reason"] or "scores" in idx[name]["reason"], \
            idx[name]
    r = s.infer("good", [tensor("x", "FP32", [2], [1.0, 2.0])],
                outputs=[{"name": "scores", "parameters": {"classification": 2}}])
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == ["2.000000:1:b", "1.000000:0:a"]


def test_server_metadata_lists_extensions(srv):
    ext = srv.get("/v2").json()["extensions"]
    assert "binary_tensor_data" in ext and "classification" in ext
