"""Protocol extensions the tests need for full datatype coverage: binary tensor data (the
only way FP16 travels in Triton's protocol; also arbitrary BYTES), FP16 in JSON, and the
classification extension on the digits model's labelled output."""
import json
import struct

import numpy as np
import pytest

import onnx_models as om
from conftest import tensor


@pytest.fixture(scope="module")
def srv(module_servers, tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("ext_repo"))
    om.copy_examples(repo, ["digits", "add_mul"])
    for dt in ("FP16", "FP32", "BYTES", "BOOL", "INT64"):
        om.write_model(repo, "identity_" + dt.lower(), *om.identity_model(dt))
    return module_servers.start([repo])


def binary_request(srv, model, inputs, blobs, outputs=None, parameters=None):
    """inputs: JSON input entries (binary_data_size is filled in); blobs: bytes each."""
    header = {"inputs": []}
    for i, b in zip(inputs, blobs):
        i = dict(i)
        i.setdefault("parameters", {})["binary_data_size"] = len(b)
        header["inputs"].append(i)
    if outputs is not None:
        header["outputs"] = outputs
    if parameters is not None:
        header["parameters"] = parameters
    h = json.dumps(header).encode()
    return srv.post("/v2/models/%s/infer" % model, h + b"".join(blobs),
                    headers={"Inference-Header-Content-Length": str(len(h)),
                             "Content-Type": "application/octet-stream"})


def split_binary_response(r):
    assert r.status == 200, r
    hl = r.headers.get("inference-header-content-length")
    assert hl is not None, r.headers
    hl = int(hl)
    header = json.loads(r.body[:hl])
    rest = r.body[hl:]
    blobs = {}
    for o in header["outputs"]:
        size = o.get("parameters", {}).get("binary_data_size")
        if size is not None:
            blobs[o["name"]] = rest[:size]
            rest = rest[size:]
    assert rest == b"", "bytes left after the declared blobs"
    return header, blobs


def bytes_blob(items):
    return b"".join(struct.pack("<I", len(x)) + x for x in items)


FP16_VALUES = np.array([0.0, -0.0, 1.0, -2.5, 65504.0, -65504.0, 2.0 ** -24, 2.0 ** -14,
                        np.inf, -np.inf, np.nan, 0.333251953125], dtype=np.float16)


def test_fp16_binary_roundtrip(srv):
    x = FP16_VALUES.reshape(3, 4)
    r = binary_request(srv, "identity_fp16",
                       [{"name": "INPUT0", "datatype": "FP16", "shape": [3, 4]}], [x.tobytes()],
                       outputs=[{"name": "OUTPUT0", "parameters": {"binary_data": True}}])
    header, blobs = split_binary_response(r)
    out = header["outputs"][0]
    assert out["datatype"] == "FP16" and out["shape"] == [3, 4]
    assert "data" not in out
    got = np.frombuffer(blobs["OUTPUT0"], dtype="<f2")
    assert len(got) == 12
    exp_bits = x.reshape(-1).view(np.uint16)
    got_bits = got.view(np.uint16)
    for i in range(12):
        if np.isnan(x.reshape(-1)[i]):
            assert np.isnan(got[i]), i
        else:
            assert got_bits[i] == exp_bits[i], (i, got[i], x.reshape(-1)[i])


def test_fp16_json(srv):
    """Triton rejects FP16 in JSON (400); a server may instead accept it. Either way: no
    500, and values representable in FP16 must come back exactly when accepted."""
    vals = [0.0, 1.0, -2.5, 65504.0, 0.333251953125, 2.0 ** -24]
    r = srv.infer("identity_fp16", [tensor("INPUT0", "FP16", [2, 3], vals)])
    if r.status == 200:
        out = r.json()["outputs"][0]
        assert out["datatype"] == "FP16" and out["shape"] == [2, 3]
        assert out["data"] == vals
    else:
        assert r.status == 400, r
        assert "INPUT0" in r.error or "FP16" in r.error


def test_binary_fp32_in_json_out(srv):
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
    x = np.arange(64, dtype=np.float32) % 17
    r = binary_request(srv, "digits", [{"name": "pixels", "datatype": "FP32", "shape": [1, 64]}],
                       [x.tobytes()], parameters={"binary_data_output": True})
    header, blobs = split_binary_response(r)
    assert set(blobs) == {"probabilities", "label"}
    p = np.frombuffer(blobs["probabilities"], "<f4")
    lab = np.frombuffer(blobs["label"], "<i8")
    assert p.shape == (10,) and lab.shape == (1,)
    assert abs(p.sum() - 1) < 1e-4 and lab[0] == int(p.argmax())


def test_binary_bytes_are_binary_safe(srv):
    items = [b"", b"\xff\xfe\x00\x01", b"plain", "\u00e9".encode(), b"\x00" * 5, b"z" * 300]
    r = binary_request(srv, "identity_bytes",
                       [{"name": "INPUT0", "datatype": "BYTES", "shape": [2, 3]}],
                       [bytes_blob(items)],
                       outputs=[{"name": "OUTPUT0", "parameters": {"binary_data": True}}])
    header, blobs = split_binary_response(r)
    assert header["outputs"][0]["shape"] == [2, 3]
    assert blobs["OUTPUT0"] == bytes_blob(items)


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


@pytest.mark.parametrize("case", ["short_blob", "long_blob", "size_mismatch", "header_too_long",
                                  "header_not_number", "bytes_bad_length"])
def test_binary_framing_errors(srv, case):
    x = np.zeros(4, np.float32).tobytes()
    header = {"inputs": [{"name": "INPUT0", "datatype": "FP32", "shape": [1, 4],
                          "parameters": {"binary_data_size": 16}}]}
    h = json.dumps(header).encode()
    hl = str(len(h))
    body = h + x
    model = "identity_fp32"
    if case == "short_blob":
        body = h + x[:8]
    elif case == "long_blob":
        body = h + x + b"\x00" * 8
    elif case == "size_mismatch":
        header["inputs"][0]["parameters"]["binary_data_size"] = 12
        h = json.dumps(header).encode()
        hl = str(len(h))
        body = h + x[:12]
    elif case == "header_too_long":
        hl = str(len(body) + 10)
    elif case == "header_not_number":
        hl = "abc"
    elif case == "bytes_bad_length":
        model = "identity_bytes"
        header = {"inputs": [{"name": "INPUT0", "datatype": "BYTES", "shape": [1, 2],
                              "parameters": {"binary_data_size": 9}}]}
        h = json.dumps(header).encode()
        hl = str(len(h))
        body = h + struct.pack("<I", 100) + b"abcde"
    r = srv.post("/v2/models/%s/infer" % model, body,
                 headers={"Inference-Header-Content-Length": hl})
    assert r.status == 400, r
    r.error


def test_classification_top3(srv):
    x = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4,
         12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10,
         12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]
    r = srv.infer("digits", [tensor("pixels", "FP32", [2, 64], [x, x])],
                  outputs=[{"name": "probabilities", "parameters": {"classification": 3}}])
    assert r.status == 200, r
    out = r.json()["outputs"]
    assert [o["name"] for o in out] == ["probabilities"]
    assert out[0]["datatype"] == "BYTES"
    assert out[0]["shape"] == [2, 3]
    rows = [out[0]["data"][:3], out[0]["data"][3:]]
    assert rows[0] == rows[1]
    scores = []
    for s in rows[0]:
        score, idx, label = s.split(":")
        assert label == idx  # labels.txt line i is "i"
        scores.append(float(score))
    assert rows[0][0].split(":")[1] == "0"  # the sample is a zero
    assert scores == sorted(scores, reverse=True)
    assert 0 < sum(scores) <= 1.0001
