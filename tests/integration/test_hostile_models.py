"""Hostile model files: corrupt, truncated or malicious ONNX models are load errors with a
message that names what is wrong (the file, the value or the node), never a crash or a
huge allocation. Every model is loaded through the explicit load API of one running
server; after all of them the server still answers, still loads and serves a good model,
its peak memory (VmHWM) has not jumped, and (at stop) no tensor or thread is left over.

The broken cases are built as raw protobuf messages with python3-onnx (no checker), or as
raw bytes where no valid message can express them."""
import random

import numpy as np
import pytest
from onnx import TensorProto as T
from onnx import helper, numpy_helper

import onnx_models as om
from conftest import tensor

# Peak resident memory may grow this much over all the hostile loads together (a claim of
# 10^12 elements honoured even in part would be far above it).
RSS_GROWTH_LIMIT_KB = 200 * 1024


def model_bytes(nodes, inputs, outputs, initializers=(), opsets=(("", 13),), ir_version=8):
    g = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    m = helper.make_model(g, opset_imports=[helper.make_opsetid(d, v) for d, v in opsets])
    m.ir_version = ir_version
    return m.SerializeToString()


def fvec(name, n=4):
    return helper.make_tensor_value_info(name, T.FLOAT, [n])


def add_w_model(w):
    """y = x + w, with initializer w as given."""
    return model_bytes([helper.make_node("Add", ["x", "w"], ["y"], name="add")],
                       [fvec("x")], [fvec("y")], [w])


def initializer(name, dtype, dims, raw=None):
    t = T()
    t.name = name
    t.data_type = dtype
    t.dims.extend(dims)
    if raw is not None:
        t.raw_data = raw
    return t


def good_model():
    return om.make_model([helper.make_node("Add", ["x", "x"], ["y"])],
                         [("x", T.FLOAT, [4])], [("y", T.FLOAT, [4])])


def _varint(n):
    out = b""
    while True:
        b, n = n & 0x7F, n >> 7
        if not n:
            return out + bytes([b])
        out += bytes([b | 0x80])


def _field(num, payload):
    return _varint((num << 3) | 2) + _varint(len(payload)) + payload


def nested_subgraphs(levels):
    """If nodes nested `levels` deep (each then_branch holds the next If): small on disk,
    but 3 protobuf messages deeper per level. Written as wire bytes: GraphProto.node = 1,
    NodeProto.attribute = 5, AttributeProto.g = 6, ModelProto.graph = 7."""
    y = helper.make_tensor_value_info("y", T.FLOAT, [1]).SerializeToString()
    body = _field(1, helper.make_node("Identity", ["x"], ["y"]).SerializeToString()) + _field(12, y)
    for _ in range(levels):
        attr = _field(1, b"then_branch") + _varint(20 << 3) + _varint(5) + _field(6, body)
        node = _field(1, b"c") + _field(2, b"y") + _field(4, b"If") + _field(5, attr)
        body = _field(1, node) + _field(12, y)
    head = helper.make_model(helper.make_graph([], "g", [], []),
                             opset_imports=[helper.make_opsetid("", 13)])
    head.ClearField("graph")
    return head.SerializeToString() + _field(7, body)


def cases():
    """name -> (model bytes, substrings the load error must contain)."""
    good = good_model()
    many_attrs = helper.make_node("Relu", ["x"], ["y"], name="crowded")
    for i in range(50000):
        many_attrs.attribute.append(helper.make_attribute("a%d" % i, i))
    ext = initializer("w", T.FLOAT, [4])
    ext.data_location = T.EXTERNAL
    ext.external_data.add(key="location", value="../../../../etc/passwd")
    return {
        "truncated": (good[:len(good) // 2], ["model.onnx", "not a valid ONNX model"]),
        "garbage": (random.Random(1234).randbytes(4096),
                    ["model.onnx", "not a valid ONNX model"]),
        "empty_file": (b"", ["model.onnx", "no graph"]),
        "cyclic": (model_bytes([helper.make_node("Relu", ["b"], ["a"], name="first"),
                                helper.make_node("Relu", ["a"], ["b"], name="second")],
                               [fvec("x")], [fvec("a")]),
                   ["cycle", "first"]),
        "huge_claim": (add_w_model(initializer("w", T.FLOAT, [10**12])),
                       ["initializer 'w'", "1000000000000"]),
        "huge_claim_raw": (add_w_model(initializer("w", T.FLOAT, [10**6, 10**6], raw=b"\0" * 8)),
                           ["initializer 'w'", "raw_data holds 8 bytes"]),
        "raw_data_short": (add_w_model(initializer("w", T.FLOAT, [4], raw=b"\0" * 8)),
                           ["initializer 'w'", "raw_data holds 8 bytes", "16"]),
        "dims_overflow": (add_w_model(initializer("w", T.FLOAT, [2**62, 2**62, 4], raw=b"")),
                          ["initializer 'w'", "overflows"]),
        "negative_dim": (add_w_model(initializer("w", T.FLOAT, [-3], raw=b"")),
                         ["initializer 'w'", "-3"]),
        "rank_too_high": (add_w_model(initializer("w", T.FLOAT, [1] * 100, raw=b"\0" * 4)),
                          ["initializer 'w'", "rank 100"]),
        "undefined_value": (model_bytes([helper.make_node("Add", ["x", "ghost"], ["y"],
                                                          name="adder")],
                                        [fvec("x")], [fvec("y")]),
                            ["adder", "'ghost'"]),
        "unknown_domain": (model_bytes([helper.make_node("Boom", ["x"], ["y"], name="bomb",
                                                         domain="com.example.evil")],
                                       [fvec("x")], [fvec("y")],
                                       opsets=(("", 13), ("com.example.evil", 1))),
                           ["unsupported operator 'Boom'", "com.example.evil", "bomb"]),
        "opset_not_imported": (model_bytes([helper.make_node("Relu", ["x"], ["y"], name="r")],
                                           [fvec("x")], [fvec("y")],
                                           opsets=(("com.example.other", 1),)),
                               ["'r'"]),
        "opset_zero": (model_bytes([helper.make_node("Relu", ["x"], ["y"], name="r")],
                                   [fvec("x")], [fvec("y")], opsets=(("", 0),)),
                       ["unsupported operator 'Relu'", "opset 0", "'r'"]),
        "many_attributes": (model_bytes([many_attrs], [fvec("x")], [fvec("y")]),
                            ["crowded", "50000 attributes"]),
        "nested_subgraphs": (nested_subgraphs(1000), ["model.onnx", "nested more than"]),
        "external_escape": (add_w_model(ext), ["initializer 'w'", "../../../../etc/passwd"]),
        "string_raw_data": (add_w_model(initializer("w", T.STRING, [1], raw=b"abcd")),
                            ["initializer 'w'", "string"]),
        "no_outputs": (model_bytes([helper.make_node("Relu", ["x"], ["y"])], [fvec("x")], []),
                       ["no outputs"]),
        "sequence_input": (model_bytes(
            [helper.make_node("SequenceLength", ["s"], ["n"], name="len")],
            [helper.make_tensor_sequence_value_info("s", T.FLOAT, None)],
            [helper.make_tensor_value_info("n", T.INT64, [])],
            opsets=(("", 13),)), ["'s'", "not a tensor"]),
    }


def vm_hwm_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    raise AssertionError("no VmHWM in /proc/%d/status" % pid)


@pytest.fixture(scope="module")
def hostile(module_servers, tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("hostile"))
    table = cases()
    for name, (data, _) in table.items():
        om.write_model(repo, name, data)
    om.write_model(repo, "good", good_model())
    om.write_model(repo, "control",
                   add_w_model(numpy_helper.from_array(np.ones(4, np.float32), "w")))
    srv = module_servers.start([repo], ["--model-control-mode", "explicit"])
    return srv, table


@pytest.mark.parametrize("name", sorted(cases()))
def test_hostile_model_is_a_load_error(hostile, name):
    srv, table = hostile
    _, expected = table[name]
    r = srv.post("/v2/repository/models/%s/load" % name)
    assert r.status == 503, r  # a model that fails to load, as for any broken model
    msg = r.error
    assert ("'%s'" % name) in msg, msg
    for part in expected:
        assert part in msg, "expected %r in the load error: %s" % (part, msg)
    # The server stays up and reports the model as not loaded, with the same reason.
    assert srv.get("/v2/health/live").status == 200
    entry = {e["name"]: e for e in srv.index()}[name]
    assert entry["state"] == "UNAVAILABLE", entry
    assert expected[-1] in entry.get("reason", ""), entry
    assert srv.get("/v2/models/%s/ready" % name).status != 200


def test_server_unharmed_after_hostile_models(hostile):
    srv, table = hostile
    before = vm_hwm_kb(srv.proc.pid)
    for name in table:
        assert srv.post("/v2/repository/models/%s/load" % name).status == 503, name
    grown = vm_hwm_kb(srv.proc.pid) - before
    assert grown < RSS_GROWTH_LIMIT_KB, "peak RSS grew %d kB over the hostile loads" % grown
    r = srv.post("/v2/repository/models/good/load")
    assert r.status == 200, r
    r = srv.infer("good", [tensor("x", "FP32", [4], [1, 2, 3, 4])])
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == [2, 4, 6, 8]
    assert srv.post("/v2/repository/models/good/unload").status == 200


def test_control_model_loads(hostile):
    """The generator with the fault removed loads and serves: each case fails for its own
    fault, not for a flaw in the graph around it."""
    srv, _ = hostile
    r = srv.post("/v2/repository/models/control/load")
    assert r.status == 200, r
    r = srv.infer("control", [tensor("x", "FP32", [4], [1, 2, 3, 4])])
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == [2, 3, 4, 5]
    assert srv.post("/v2/repository/models/control/unload").status == 200
