"""Inference over HTTP/JSON: the example models, every datatype round trip (Identity
models generated per dtype), casts, nested/flat data, empty and scalar tensors, output
selection, id and parameters, concurrent requests."""
import math
import struct
import threading

import numpy as np
import pytest

import onnx_models as om
from conftest import tensor

NAN, INF = float("nan"), float("inf")

# Values per datatype: extremes, integers beyond 2^53, float specials. 12 each except BOOL/BYTES.
VALUES = {
    "BOOL": [True, False, False, True, True, False],
    "UINT8": [0, 1, 127, 128, 254, 255],
    "UINT16": [0, 1, 255, 256, 65534, 65535],
    "UINT32": [0, 1, 65536, 2 ** 31, 2 ** 32 - 2, 2 ** 32 - 1],
    "UINT64": [0, 1, 2 ** 53, 2 ** 53 + 1, 2 ** 63, 2 ** 64 - 1],
    "INT8": [-128, -1, 0, 1, 126, 127],
    "INT16": [-32768, -1, 0, 1, 32766, 32767],
    "INT32": [-2 ** 31, -1, 0, 1, 2 ** 31 - 2, 2 ** 31 - 1],
    "INT64": [-2 ** 63, -(2 ** 53 + 1), -1, 0, 2 ** 53 + 1, 2 ** 63 - 1],
    "FP32": [0.0, -0.0, 1.5, 0.1, 3.4028234663852886e38, 1.401298464324817e-45,
             NAN, INF, -INF, -2.5, 1.1754943508222875e-38, 16777216.0],
    "FP64": [0.0, -0.0, 0.1, 1 / 3, 1.7976931348623157e308, 5e-324,
             2.2250738585072014e-308, NAN, INF, -INF, -1e-300, 123456789.12345679],
    "BYTES": ["", "hello", "\u00fcn\u00efc\u00f8d\u00e9 \u2713 \u6f22\u5b57",
              'quote " backslash \\ slash /', "\n\t\r\b\f", "nul\u0000inside",
              "x" * 1000, "\U0001F600 non-BMP"],
}
JSON_DTYPES = sorted(VALUES)


def bits(dtype, v):
    """Exact comparison key: float bit patterns (all NaNs equal), ints/bools/str as-is."""
    if dtype == "FP32":
        f = np.float32(v)
        return "nan" if np.isnan(f) else struct.pack("<f", f)
    if dtype == "FP64":
        return "nan" if math.isnan(v) else struct.pack("<d", v)
    return v


def assert_same(dtype, got, expected):
    assert len(got) == len(expected), (got, expected)
    for i, (g, e) in enumerate(zip(got, expected)):
        if dtype == "BOOL":
            assert g is e, "element %d: got %r expected %r" % (i, g, e)
        elif dtype == "BYTES":
            assert g == e, "element %d: got %r expected %r" % (i, g, e)
        elif dtype in ("FP32", "FP64"):
            assert isinstance(g, (int, float)) and not isinstance(g, bool), (i, g)
            assert bits(dtype, float(g)) == bits(dtype, e), \
                "element %d: got %r expected %r" % (i, g, e)
        else:
            assert isinstance(g, int) and not isinstance(g, bool), (i, g)
            assert g == e, "element %d: got %r expected %r" % (i, g, e)


def nest(flat, shape):
    if len(shape) <= 1:
        return list(flat)
    step = len(flat) // shape[0] if shape[0] else 0
    return [nest(flat[i * step:(i + 1) * step], shape[1:]) for i in range(shape[0])]


def output(resp, name):
    assert resp.status == 200, resp
    outs = [o for o in resp.json()["outputs"] if o["name"] == name]
    assert len(outs) == 1, resp.json()
    return outs[0]


CASTS = [
    # name, src, dst, input, expected output
    ("cast_bool_fp32", "BOOL", "FP32", [True, False, True], [1.0, 0.0, 1.0]),
    ("cast_uint8_int32", "UINT8", "INT32", [0, 255, 7], [0, 255, 7]),
    ("cast_int32_fp64", "INT32", "FP64", [-2 ** 31, 2 ** 31 - 1, 3], [-2.0 ** 31, 2.0 ** 31 - 1, 3.0]),
    ("cast_int64_fp64", "INT64", "FP64", [2 ** 53 + 1, -(2 ** 53), 1], [2.0 ** 53, -(2.0 ** 53), 1.0]),
    ("cast_fp32_int64", "FP32", "INT64", [2.75, -2.75, 0.0, 1e9], [2, -2, 0, 1000000000]),
    ("cast_fp64_fp32", "FP64", "FP32", [0.1, 1e-50, -3.5], [float(np.float32(0.1)), 0.0, -3.5]),
    ("cast_int32_bool", "INT32", "BOOL", [0, 5, -1], [False, True, True]),
    ("cast_uint64_uint32", "UINT64", "UINT32", [7, 2 ** 32 - 1], [7, 2 ** 32 - 1]),
]


@pytest.fixture(scope="module")
def infer_server(module_servers, tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("infer_repo"))
    om.copy_examples(repo)
    for dt in list(VALUES) + ["FP16"]:
        om.write_model(repo, "identity_" + dt.lower(), *om.identity_model(dt))
    for name, src, dst, _, _ in CASTS:
        om.write_model(repo, name, *om.cast_model(name, src, dst))
    om.write_model(repo, "scalar_fp32", *om.scalar_model())
    om.write_model(repo, "scalar_batched", om.make_model(
        [om.helper.make_node("Identity", ["x"], ["y"])],
        [("x", om.TensorProto.FLOAT, ["batch"])], [("y", om.TensorProto.FLOAT, ["batch"])]),
        om.config_text("scalar_batched", 4,
                       [("x", "TYPE_FP32", [1], "reshape: { shape: [ ] } ")],
                       [("y", "TYPE_FP32", [1], "reshape: { shape: [ ] } ")]))
    return module_servers.start([repo])


# ---- example models ----------------------------------------------------------------------

def test_add_mul(infer_server):
    r = infer_server.infer("add_mul", [tensor("a", "FP32", [3], [1, 2.5, -3]),
                                       tensor("b", "FP32", [3], [4, 0.5, 2])])
    assert r.status == 200, r
    body = r.json()
    assert body["model_name"] == "add_mul"
    assert body["model_version"] == "1"
    assert "id" not in body
    outs = {o["name"]: o for o in body["outputs"]}
    assert set(outs) == {"sum", "product"}
    assert outs["sum"]["datatype"] == "FP32" and outs["sum"]["shape"] == [3]
    assert outs["sum"]["data"] == [5.0, 3.0, -1.0]
    assert outs["product"]["datatype"] == "FP32" and outs["product"]["shape"] == [3]
    assert outs["product"]["data"] == [4.0, 1.25, -6.0]


def test_add_mul_long_vector(infer_server):
    a = (np.arange(1000, dtype=np.float32) * np.float32(0.25)).tolist()
    b = (np.arange(1000, dtype=np.float32)[::-1] - np.float32(3)).tolist()
    r = infer_server.infer("add_mul", [tensor("a", "FP32", [1000], a),
                                       tensor("b", "FP32", [1000], b)])
    exp_sum = (np.float32(a) + np.float32(b)).tolist()
    exp_prod = (np.float32(a) * np.float32(b)).tolist()
    assert_same("FP32", output(r, "sum")["data"], exp_sum)
    assert_same("FP32", output(r, "product")["data"], exp_prod)


def test_rates_batched_nested(infer_server):
    counts = [[1, 2, 3, 4], [5, 0, 0, 5], [0, 0, 7, 1]]
    total = [[10], [10], [8]]
    r = infer_server.infer("rates", [tensor("counts", "INT64", [3, 4], counts),
                                     tensor("total", "INT64", [3, 1], total)])
    rates = output(r, "rates")
    assert rates["datatype"] == "FP32" and rates["shape"] == [3, 4]
    expected = (np.float32(counts) / np.float32(total)).reshape(-1).tolist()
    assert_same("FP32", rates["data"], expected)  # flat in the response
    top = output(r, "top")
    assert top["datatype"] == "INT64" and top["shape"] == [3, 1]
    assert top["data"] == [3, 0, 2]


def test_rates_division_by_zero_gives_nan_and_inf(infer_server):
    r = infer_server.infer("rates", [tensor("counts", "INT64", [1, 4], [3, 0, 0, 0]),
                                     tensor("total", "INT64", [1, 1], [0])])
    assert_same("FP32", output(r, "rates")["data"], [INF, NAN, NAN, NAN])


def test_digits_one_sample(infer_server):
    x = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4,
         12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10,
         12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]  # load_digits()[0], a "0"
    r = infer_server.infer("digits", [tensor("pixels", "FP32", [1, 64], x)])
    p = output(r, "probabilities")
    assert p["shape"] == [1, 10] and p["datatype"] == "FP32"
    assert abs(sum(p["data"]) - 1.0) < 1e-4
    assert all(0.0 <= v <= 1.0 for v in p["data"])
    lab = output(r, "label")
    assert lab["shape"] == [1, 1] and lab["datatype"] == "INT64"
    assert lab["data"] == [int(np.argmax(p["data"]))]
    assert lab["data"] == [0]


def test_id_is_echoed(infer_server):
    for rid in ("req-42", "", "\u00e9\u00e8 \"quoted\""):
        r = infer_server.infer("add_mul", [tensor("a", "FP32", [1], [1]),
                                           tensor("b", "FP32", [1], [2])], id=rid)
        assert r.status == 200, r
        assert r.json()["id"] == rid


def test_output_selection_and_order(infer_server):
    ins = [tensor("a", "FP32", [2], [1, 2]), tensor("b", "FP32", [2], [3, 4])]
    r = infer_server.infer("add_mul", ins, outputs=["product"])
    assert r.status == 200, r
    assert [o["name"] for o in r.json()["outputs"]] == ["product"]
    assert r.json()["outputs"][0]["data"] == [3.0, 8.0]
    r = infer_server.infer("add_mul", ins, outputs=["product", "sum"])
    assert [o["name"] for o in r.json()["outputs"]] == ["product", "sum"]
    r = infer_server.infer("add_mul", ins, outputs=[{"name": "sum", "parameters": {}}])
    assert [o["name"] for o in r.json()["outputs"]] == ["sum"]
    assert r.json()["outputs"][0]["data"] == [4.0, 6.0]


def test_parameters_are_accepted(infer_server):
    r = infer_server.infer("add_mul", [tensor("a", "FP32", [1], [1], parameters={"x": "y"}),
                                       tensor("b", "FP32", [1], [2])],
                           parameters={"custom_key": "v", "n": 3, "flag": True}, id="p1")
    assert r.status == 200, r
    assert output(r, "sum")["data"] == [3.0]
    assert r.json()["id"] == "p1"


def test_fp32_accepts_json_integers(infer_server):
    r = infer_server.infer("add_mul", [tensor("a", "FP32", [2], [1, -7]),
                                       tensor("b", "FP32", [2], [16777216, 0])])
    # 1 + 16777216 = 16777217 is not representable in FP32: rounds (to even) to 16777216
    assert output(r, "sum")["data"] == [16777216.0, -7.0]


def test_explicit_version(infer_server):
    r = infer_server.post("/v2/models/add_mul/versions/1/infer",
                          {"inputs": [tensor("a", "FP32", [1], [1]),
                                      tensor("b", "FP32", [1], [1])]})
    assert r.status == 200, r
    assert r.json()["model_version"] == "1"


def test_no_content_type_header(infer_server):
    """tritonclient sends infer requests without Content-Type."""
    import json as _json
    body = _json.dumps({"inputs": [tensor("a", "FP32", [1], [2]),
                                   tensor("b", "FP32", [1], [5])]}).encode()
    r = infer_server.request("POST", "/v2/models/add_mul/infer", body=body)
    assert output(r, "product")["data"] == [10.0]


# ---- datatype round trips ----------------------------------------------------------------

@pytest.mark.parametrize("layout", ["flat", "nested"])
@pytest.mark.parametrize("dtype", JSON_DTYPES)
def test_roundtrip(infer_server, dtype, layout):
    vals = VALUES[dtype]
    shape = [2, len(vals) // 2]
    data = vals if layout == "flat" else nest(vals, shape)
    r = infer_server.infer("identity_" + dtype.lower(), [tensor("INPUT0", dtype, shape, data)])
    out = output(r, "OUTPUT0")
    assert out["datatype"] == dtype
    assert out["shape"] == shape
    assert_same(dtype, out["data"], vals)  # always flat in the response


@pytest.mark.parametrize("dtype", JSON_DTYPES)
def test_roundtrip_other_shapes(infer_server, dtype):
    vals = VALUES[dtype]
    for shape in ([1, len(vals)], [len(vals), 1]):
        r = infer_server.infer("identity_" + dtype.lower(),
                               [tensor("INPUT0", dtype, shape, nest(vals, shape))])
        out = output(r, "OUTPUT0")
        assert out["shape"] == shape
        assert_same(dtype, out["data"], vals)


@pytest.mark.parametrize("shape", [[0, 3], [2, 0], [0, 0]])
@pytest.mark.parametrize("dtype", JSON_DTYPES)
def test_empty_tensor(infer_server, dtype, shape):
    r = infer_server.infer("identity_" + dtype.lower(), [tensor("INPUT0", dtype, shape, [])])
    out = output(r, "OUTPUT0")
    assert out["datatype"] == dtype
    assert out["shape"] == shape
    assert out.get("data", []) == []


def test_float_special_tokens_in_raw_json(infer_server):
    """NaN / Infinity / -Infinity as bare JSON tokens (what Python's json module and
    Triton's clients produce)."""
    body = (b'{"inputs":[{"name":"INPUT0","datatype":"FP64","shape":[1,3],'
            b'"data":[NaN,Infinity,-Infinity]}]}')
    r = infer_server.post("/v2/models/identity_fp64/infer", body)
    out = output(r, "OUTPUT0")
    assert_same("FP64", out["data"], [NAN, INF, -INF])
    # the response uses the same tokens
    assert b"NaN" in r.body and b"-Infinity" in r.body


def test_int64_beyond_2_53_raw_text(infer_server):
    """Integers are parsed and printed exactly, not through a double."""
    body = (b'{"inputs":[{"name":"INPUT0","datatype":"INT64","shape":[1,3],'
            b'"data":[9007199254740993,-9223372036854775808,9223372036854775807]}]}')
    r = infer_server.post("/v2/models/identity_int64/infer", body)
    assert output(r, "OUTPUT0")["data"] == [9007199254740993, -9223372036854775808,
                                           9223372036854775807]
    assert b"9007199254740993" in r.body
    body = (b'{"inputs":[{"name":"INPUT0","datatype":"UINT64","shape":[1,2],'
            b'"data":[18446744073709551615,18446744073709551614]}]}')
    r = infer_server.post("/v2/models/identity_uint64/infer", body)
    assert output(r, "OUTPUT0")["data"] == [18446744073709551615, 18446744073709551614]
    assert b"18446744073709551615" in r.body


@pytest.mark.parametrize("name,src,dst,inp,expected", CASTS, ids=[c[0] for c in CASTS])
def test_cast(infer_server, name, src, dst, inp, expected):
    r = infer_server.infer(name, [tensor("INPUT0", src, [len(inp)], inp)])
    out = output(r, "OUTPUT0")
    assert out["datatype"] == dst
    assert out["shape"] == [len(inp)]
    assert_same(dst, out["data"], expected)


def test_scalar_via_reshape(infer_server):
    """Triton's way of serving a rank-0 model tensor: dims [1] + reshape { shape: [] }."""
    r = infer_server.infer("scalar_fp32", [tensor("x", "FP32", [1], [2.5])])
    out = output(r, "y")
    assert out["shape"] == [1]
    assert out["data"] == [2.5]
    md = infer_server.metadata("scalar_fp32")
    assert md["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [1]}]


def test_scalar_batched_via_reshape(infer_server):
    r = infer_server.infer("scalar_batched", [tensor("x", "FP32", [3, 1], [[1.5], [-2], [0]])])
    out = output(r, "y")
    assert out["shape"] == [3, 1]
    assert out["data"] == [1.5, -2.0, 0.0]


def test_rank0_request_shape(infer_server):
    """`shape: []` (rank 0, one element) against a model whose API shape is [1]: a rank
    mismatch, rejected with 400 naming the input."""
    r = infer_server.infer("scalar_fp32", [tensor("x", "FP32", [], [2.5])])
    assert r.status == 400, r
    assert "x" in r.error


def test_rank0_declared_dims_empty(servers, tmp_path):
    """A config with `dims: [ ]` and max_batch_size 0 declares a true rank-0 API tensor.
    Triton rejects it (dims must have rank >= 1); inferd may do the same (then the model
    is UNAVAILABLE with a reason) or serve it, in which case `shape: []` must round-trip."""
    repo = str(tmp_path)
    model = om.make_model([om.helper.make_node("Identity", ["x"], ["y"])],
                          [("x", om.TensorProto.INT64, [])], [("y", om.TensorProto.INT64, [])])
    om.write_model(repo, "rank0", model,
                   om.config_text("rank0", 0, [("x", "TYPE_INT64", [])],
                                  [("y", "TYPE_INT64", [])]))
    s = servers.start([repo], wait="loaded")
    entry = [e for e in s.index() if e["name"] == "rank0"]
    assert entry, s.index()
    if entry[0].get("state") == "READY":
        r = s.infer("rank0", [tensor("x", "INT64", [], [2 ** 62 + 1])])
        out = output(r, "y")
        assert out["shape"] == []
        assert out["data"] == [2 ** 62 + 1]
    else:
        assert entry[0]["state"] == "UNAVAILABLE" and entry[0].get("reason"), entry


# ---- concurrency -------------------------------------------------------------------------

def test_concurrent_requests_get_their_own_answers(infer_server):
    """Many clients at once (the dynamic batcher may combine them): every response must
    carry the answer to its own request."""
    errors = []

    def client(k):
        try:
            for j in range(8):
                n = 1 + (k + j) % 5
                a = [float(k * 100 + j * 10 + i) for i in range(n)]
                b = [float(i + 1) for i in range(n)]
                rid = "c%d-%d" % (k, j)
                r = infer_server.infer("add_mul", [tensor("a", "FP32", [n], a),
                                                   tensor("b", "FP32", [n], b)], id=rid)
                if r.status != 200:
                    errors.append((rid, r))
                    continue
                body = r.json()
                outs = {o["name"]: o["data"] for o in body["outputs"]}
                if (body.get("id") != rid or outs["sum"] != [x + y for x, y in zip(a, b)]
                        or outs["product"] != [x * y for x, y in zip(a, b)]):
                    errors.append((rid, body))
                counts = [[k, j, n, 1]]
                r = infer_server.infer("rates", [tensor("counts", "INT64", [1, 4], counts),
                                                 tensor("total", "INT64", [1, 1], [[1]])])
                if r.status != 200 or output(r, "top")["data"] != [int(np.argmax(counts[0]))]:
                    errors.append((rid, "rates", r))
        except Exception as e:  # noqa: BLE001
            errors.append((k, repr(e)))

    threads = [threading.Thread(target=client, args=(k,)) for k in range(12)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:5]
