"""The embedded engine's intra-op thread pool: --intra-op-threads starts N-1 registry
threads named intra-op-K (joined at shutdown by the harness's clean-exit check), a model's
intra_op_thread_count parameter is validated at load, and products split over the pool
give the reference results, the same bits run after run, and the same bits for a row
whether it is batched with others or not."""
import re
import struct

import numpy as np
from onnx import TensorProto, helper, numpy_helper

import onnx_models
from conftest import tensor

WIDTH = 512  # MatMul [rows, 512] x [512, 512]: large enough to be split over threads


def wide_model(name):
    """x [batch, 512] -> MatMul W [512, 512] -> Relu -> MatMul W -> y [batch, 512]."""
    rng = np.random.RandomState(1)
    w = (rng.uniform(-1, 1, (WIDTH, WIDTH)) / np.sqrt(WIDTH)).astype(np.float32)
    nodes = [helper.make_node("MatMul", ["x", "W"], ["h"]),
             helper.make_node("Relu", ["h"], ["r"]),
             helper.make_node("MatMul", ["r", "W"], ["y"])]
    model = onnx_models.make_model(
        nodes, [("x", TensorProto.FLOAT, ["batch", WIDTH])],
        [("y", TensorProto.FLOAT, ["batch", WIDTH])],
        initializers=[numpy_helper.from_array(w, "W")], name=name)
    return model, w


def config(name, threads):
    extra = ('parameters { key: "intra_op_thread_count" value { string_value: "%s" } }\n'
             % threads)
    return onnx_models.config_text(name, 64, [("x", "TYPE_FP32", [WIDTH])],
                                   [("y", "TYPE_FP32", [WIDTH])], extra)


def bits(values):
    return struct.pack("<%df" % len(values), *values)


def infer_rows(srv, model, rows):
    r = srv.infer(model, [tensor("x", "FP32", [len(rows), WIDTH],
                                 [v for row in rows for v in row])])
    assert r.status == 200, r
    return r.json()["outputs"][0]["data"]


def test_pool_threads_parameter_and_results(servers, tmp_path):
    repo = tmp_path / "repo"
    model, w = wide_model("wide")
    onnx_models.write_model(str(repo), "wide", model, config("wide", 2))
    model1, _ = wide_model("wide1")
    onnx_models.write_model(str(repo), "wide1", model1, config("wide1", 1))
    bad, _ = wide_model("badthreads")
    onnx_models.write_model(str(repo), "badthreads", bad, config("badthreads", "two"))
    srv = servers.start([repo], args=["--intra-op-threads", "3"], wait="loaded")

    names = [t["name"] for t in srv.get("/debug/threads").json()["registered"]]
    assert sorted(n for n in names if n.startswith("intra-op-")) == ["intra-op-0",
                                                                    "intra-op-1"], names

    entry = [e for e in srv.index() if e["name"] == "badthreads"][0]
    assert entry["state"] == "UNAVAILABLE", entry
    assert re.search("intra_op_thread_count", entry.get("reason", "")), entry

    rng = np.random.RandomState(2)
    x = rng.uniform(-1, 1, (16, WIDTH)).astype(np.float32)
    rows = x.tolist()
    want = np.maximum(x @ w, 0) @ w
    got = infer_rows(srv, "wide", rows)
    assert np.allclose(np.array(got).reshape(16, WIDTH), want, rtol=1e-4, atol=1e-4)
    # Same bits again, on one thread (the other model), and for one row alone.
    assert bits(infer_rows(srv, "wide", rows)) == bits(got)
    assert bits(infer_rows(srv, "wide1", rows)) == bits(got)
    for i in (0, 7, 15):
        assert bits(infer_rows(srv, "wide", [rows[i]])) == bits(got[i * WIDTH:(i + 1) * WIDTH])
