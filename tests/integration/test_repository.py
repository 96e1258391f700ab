"""Model repository: models that fail to load (corrupt file, unsupported operator, bad
config with line:col) are UNAVAILABLE with a reason while the rest keep serving; config
auto-complete; version policies; several repositories."""
import os
import re

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnx_models as om
from conftest import tensor

VERSIONED = {  # model name -> (version_policy text or None, versions served)
    "versions_latest": (None, ["3"]),
    "versions_latest2": ("version_policy: { latest: { num_versions: 2 } }\n", ["2", "3"]),
    "versions_all": ("version_policy: { all: { } }\n", ["1", "2", "3"]),
    "versions_specific": ("version_policy: { specific: { versions: [ 1, 3 ] } }\n", ["1", "3"]),
}

BAD_SYNTAX = """name: "bad_syntax"
platform: "onnxruntime_onnx"
input [ { name: "x" data_type: TYPE_FP32 dims: [ 4 } ]
max_batch_size: 8
"""
BAD_FIELD = """name: "bad_field"
max_batch_sise: 8
platform: "onnxruntime_onnx"
"""
BAD_ENUM = """name: "bad_enum"
platform: "onnxruntime_onnx"
max_batch_size: 8
input [ { name: "x" data_type: TYPE_FLOAT32 dims: [ 4 ] } ]
output [ { name: "z" data_type: TYPE_FP32 dims: [ 4 ] } ]
"""

BROKEN = {  # model -> regex the reason must match (None: any non-empty reason)
    "corrupt": None,
    "truncated": None,
    "empty_file": None,
    "unsupported_op": r"Frobnicate",
    "bad_syntax": r"config\.pbtxt:3:\d+",
    "bad_field": r"config\.pbtxt:2:\d+",
    "bad_enum": r"config\.pbtxt:4:\d+",
    "dtype_mismatch": r"\bx\b",
    "name_mismatch": None,
    "batch_impossible": None,
    "no_model_file": None,
}


def matmul_model(fixed_batch=None):
    """x [batch,4] -> MatMul W [4,3] -> y [batch,3]."""
    W = numpy_helper.from_array(np.arange(12, dtype=np.float32).reshape(4, 3), "W")
    b = fixed_batch if fixed_batch else "batch"
    return om.make_model([helper.make_node("MatMul", ["x", "W"], ["y"])],
                         [("x", TensorProto.FLOAT, [b, 4])], [("y", TensorProto.FLOAT, [b, 3])],
                         initializers=[W])


def versioned_config(name, policy):
    return (om.config_text(name, 8, [("x", "TYPE_FP32", [1])], [("y", "TYPE_FP32", [1])])
            + (policy or ""))


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("repository_repo"))
    good_model, good_cfg = om.batched_add_model("good")
    om.write_model(repo, "good", good_model, good_cfg)

    _, cfg = om.batched_add_model("corrupt")
    om.write_model(repo, "corrupt", bytes(range(256)) * 8, cfg)
    m, cfg = om.batched_add_model("truncated")
    om.write_model(repo, "truncated", m[:len(m) // 2], cfg)
    m, cfg = om.batched_add_model("empty_file")
    om.write_model(repo, "empty_file", b"", cfg)

    # An operator no ONNX opset has (the checker would refuse it, so it is skipped).
    det = om.make_model([helper.make_node("Frobnicate", ["x"], ["y"])],
                        [("x", TensorProto.FLOAT, ["batch", 3, 3])],
                        [("y", TensorProto.FLOAT, ["batch"])], check=False)
    om.write_model(repo, "unsupported_op", det,
                   om.config_text("unsupported_op", 4, [("x", "TYPE_FP32", [3, 3])],
                                  [("y", "TYPE_FP32", [1], "reshape: { shape: [ ] } ")]))

    m, _ = om.batched_add_model("x")
    om.write_model(repo, "bad_syntax", m, BAD_SYNTAX)
    om.write_model(repo, "bad_field", m, BAD_FIELD)
    om.write_model(repo, "bad_enum", m, BAD_ENUM)
    m, cfg = om.batched_add_model("dtype_mismatch")
    om.write_model(repo, "dtype_mismatch", m,
                   cfg.replace('name: "x" data_type: TYPE_FP32', 'name: "x" data_type: TYPE_INT32'))
    m, cfg = om.batched_add_model("name_mismatch")
    om.write_model(repo, "name_mismatch", m, cfg.replace('name: "name_mismatch"',
                                                         'name: "someone_else"'))
    om.write_model(repo, "batch_impossible", matmul_model(fixed_batch=2),
                   om.config_text("batch_impossible", 8, [("x", "TYPE_FP32", [4])],
                                  [("y", "TYPE_FP32", [3])]))
    _, cfg = om.batched_add_model("no_model_file")
    os.makedirs(os.path.join(repo, "no_model_file", "1"))
    with open(os.path.join(repo, "no_model_file", "config.pbtxt"), "w") as f:
        f.write(cfg)

    # auto-complete: no config.pbtxt at all / a config that only names the backend
    om.write_model(repo, "auto", matmul_model())
    om.write_model(repo, "auto_fixed", matmul_model(fixed_batch=2))
    om.write_model(repo, "auto_partial", matmul_model(), 'backend: "onnxruntime"\n')

    for name, (policy, _) in VERSIONED.items():
        for v in (1, 2, 3):
            om.write_model(repo, name, om.constant_add_model(100 * v), versioned_config(
                name, policy), version=v)
        # not version directories: a leading zero, not numeric
        om.write_model(repo, name, om.constant_add_model(400), version="04")
        om.write_model(repo, name, om.constant_add_model(500), version="latest")
    return repo


@pytest.fixture(scope="module")
def srv(module_servers, repo):
    return module_servers.start([repo], wait="loaded")


def index_by_name(srv):
    out = {}
    for e in srv.index():
        out.setdefault(e["name"], []).append(e)
    return out


# ---- failed loads --------------------------------------------------------------------------

@pytest.mark.parametrize("model", sorted(BROKEN))
def test_broken_model_is_unavailable_with_reason(srv, model):
    entries = index_by_name(srv).get(model)
    assert entries, "model %s missing from the repository index" % model
    for e in entries:
        assert e["state"] == "UNAVAILABLE", e
        assert isinstance(e.get("reason"), str) and e["reason"], e
        if BROKEN[model]:
            assert re.search(BROKEN[model], e["reason"]), e


@pytest.mark.parametrize("model", sorted(BROKEN))
def test_broken_model_endpoints_503_with_reason(srv, model):
    reason = index_by_name(srv)[model][0].get("reason") or ""
    r = srv.get("/v2/models/%s/ready" % model)
    assert r.status == 503, r
    assert reason in r.error, (reason, r.error)
    r = srv.infer(model, [tensor("x", "FP32", [1, 4], [1, 2, 3, 4]),
                          tensor("y", "FP32", [1, 4], [1, 2, 3, 4])])
    assert r.status == 503, r
    assert reason in r.error, (reason, r.error)


def test_good_model_keeps_serving(srv):
    r = srv.infer("good", [tensor("x", "FP32", [2, 4], [1, 2, 3, 4, 5, 6, 7, 8]),
                           tensor("y", "FP32", [2, 4], [1] * 8)])
    assert r.status == 200, r
    outs = {o["name"]: o["data"] for o in r.json()["outputs"]}
    assert outs["z"] == [2.0, 3, 4, 5, 6, 7, 8, 9]
    assert outs["w"] == [1.0, 2, 3, 4, 5, 6, 7, 8]
    assert srv.get("/v2/models/good/ready").json() == {"name": "good", "ready": True}


def test_server_not_ready_but_live_and_healthz_ok(srv):
    r = srv.get("/v2/health/ready")
    assert r.status == 503, r
    r.error
    assert srv.get("/v2/health/live").status == 200
    r = srv.get("/healthz")
    assert r.status == 200
    assert r.json() == {"status": "ok", "model_loaded": True}


def test_failure_reasons_are_logged(srv):
    err = srv.stderr_text()
    for m in ("corrupt", "unsupported_op", "bad_syntax"):
        assert m in err, "no log line mentions %s" % m


# ---- auto-complete ---------------------------------------------------------------------------

@pytest.mark.parametrize("model", ["auto", "auto_partial"])
def test_autocomplete_symbolic_batch(srv, model):
    cfg = srv.get("/v2/models/%s/config" % model).json()
    assert cfg["name"] == model
    assert cfg["platform"] == "onnxruntime_onnx"
    assert cfg["max_batch_size"] == 4
    assert [(i["name"], i["data_type"], i["dims"]) for i in cfg["input"]] == [
        ("x", "TYPE_FP32", [4])]
    assert [(o["name"], o["data_type"], o["dims"]) for o in cfg["output"]] == [
        ("y", "TYPE_FP32", [3])]
    md = srv.metadata(model)
    assert md["platform"] == "onnxruntime_onnx"
    assert md["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [-1, 4]}]
    assert md["outputs"] == [{"name": "y", "datatype": "FP32", "shape": [-1, 3]}]
    x = np.arange(16, dtype=np.float32).reshape(4, 4)
    r = srv.infer(model, [tensor("x", "FP32", [4, 4], x.tolist())])
    assert r.status == 200, r
    W = np.arange(12, dtype=np.float32).reshape(4, 3)
    out = r.json()["outputs"][0]
    assert out["shape"] == [4, 3]
    assert out["data"] == (x @ W).reshape(-1).tolist()
    r = srv.infer(model, [tensor("x", "FP32", [5, 4], [0.0] * 20)])
    assert r.status == 400, r


def test_autocomplete_fixed_first_dim_means_no_batching(srv):
    cfg = srv.get("/v2/models/auto_fixed/config").json()
    assert cfg["max_batch_size"] == 0
    assert cfg["input"][0]["dims"] == [2, 4]
    assert cfg["output"][0]["dims"] == [2, 3]
    md = srv.metadata("auto_fixed")
    assert md["inputs"] == [{"name": "x", "datatype": "FP32", "shape": [2, 4]}]
    r = srv.infer("auto_fixed", [tensor("x", "FP32", [2, 4], [1.0] * 8)])
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == [18.0, 22.0, 26.0] * 2


# ---- version policies ------------------------------------------------------------------------

@pytest.mark.parametrize("model", sorted(VERSIONED))
def test_version_policy_served_versions(srv, model):
    served = VERSIONED[model][1]
    md = srv.metadata(model)
    assert sorted(md["versions"]) == served
    ready = sorted(e["version"] for e in index_by_name(srv)[model] if e["state"] == "READY")
    assert ready == served
    for v in ("1", "2", "3", "4"):
        r = srv.get("/v2/models/%s/versions/%s/ready" % (model, v))
        if v in served:
            assert r.status == 200 and r.json() == {"name": model, "ready": True}, (v, r)
        else:
            assert r.status == 404, (v, r)


@pytest.mark.parametrize("model", sorted(VERSIONED))
def test_version_policy_infer(srv, model):
    served = VERSIONED[model][1]
    x = [tensor("x", "FP32", [1, 1], [1.0])]
    r = srv.infer(model, x)
    assert r.status == 200, r
    assert r.json()["model_version"] == served[-1]  # highest served version by default
    assert r.json()["outputs"][0]["data"] == [1.0 + 100 * int(served[-1])]
    for v in ("1", "2", "3"):
        r = srv.infer(model, x, version=v)
        if v in served:
            assert r.status == 200, (v, r)
            assert r.json()["model_version"] == v
            assert r.json()["outputs"][0]["data"] == [1.0 + 100 * int(v)]
        else:
            assert r.status == 404, (v, r)
            r.error


def test_version_config_endpoint(srv):
    cfg = srv.get("/v2/models/versions_specific/config").json()
    assert cfg["version_policy"] == {"specific": {"versions": [1, 3]}}
    cfg = srv.get("/v2/models/versions_all/config").json()
    assert "all" in cfg["version_policy"]
    cfg = srv.get("/v2/models/versions_latest2/config").json()
    assert cfg["version_policy"]["latest"]["num_versions"] == 2


# ---- other repository set-ups ------------------------------------------------------------------

def test_all_models_broken(servers, tmp_path):
    repo = str(tmp_path)
    om.write_model(repo, "corrupt", b"\x08\x01garbage", om.batched_add_model("corrupt")[1])
    s = servers.start([repo], wait="loaded")
    assert s.get("/v2/health/live").status == 200
    r = s.get("/v2/health/ready")
    assert r.status == 503, r
    r.error
    r = s.get("/healthz")
    assert r.status == 503, r
    assert r.json()["model_loaded"] is False
    assert [e["state"] for e in s.index()] == ["UNAVAILABLE"]


def test_empty_repository(servers, tmp_path):
    s = servers.start([str(tmp_path)], wait="live")
    assert s.index() == []
    r = s.get("/healthz")
    assert r.status == 503, r
    assert r.json()["model_loaded"] is False
    assert s.get("/v2/models/anything/ready").status == 404


def test_two_repositories(servers, tmp_path):
    r1, r2 = str(tmp_path / "r1"), str(tmp_path / "r2")
    os.makedirs(r1)
    os.makedirs(r2)
    om.write_model(r1, "first", *om.batched_add_model("first"))
    om.write_model(r2, "second", *om.batched_add_model("second"))
    s = servers.start([r1, r2])
    for m in ("first", "second"):
        r = s.infer(m, [tensor("x", "FP32", [1, 4], [1, 2, 3, 4]),
                        tensor("y", "FP32", [1, 4], [1, 1, 1, 1])])
        assert r.status == 200, (m, r)
    assert sorted(e["name"] for e in s.index()) == ["first", "second"]


def test_same_model_in_two_repositories_is_unavailable(servers, tmp_path):
    r1, r2 = str(tmp_path / "r1"), str(tmp_path / "r2")
    os.makedirs(r1)
    os.makedirs(r2)
    om.write_model(r1, "dup", *om.batched_add_model("dup"))
    om.write_model(r2, "dup", *om.batched_add_model("dup"))
    om.write_model(r2, "other", *om.batched_add_model("other"))
    s = servers.start([r1, r2], wait="loaded")
    states = {e["name"]: e for e in s.index()}
    assert states["other"]["state"] == "READY"
    assert states["dup"]["state"] == "UNAVAILABLE" and states["dup"].get("reason"), states


def test_config_text_format_variants(servers, tmp_path):
    """A config using comments, commas, repeated fields and `key { }` without colon."""
    repo = str(tmp_path)
    m, _ = om.batched_add_model("styled")
    cfg = """# leading comment
name: "styled"   # trailing comment
platform: "onnxruntime_onnx",
max_batch_size: 2
input { name: "x" data_type: TYPE_FP32 dims: 4 }
input { name: "y", data_type: TYPE_FP32, dims: [4] }
output [ { name: "z" data_type: TYPE_FP32 dims: [ 4 ] label_filename: "l.txt" },
         { name: "w" data_type: TYPE_FP32 dims: [ 4 ] } ]
instance_group { count: 2 kind: KIND_CPU }
dynamic_batching { max_queue_delay_microseconds: 100 }
"""
    om.write_model(repo, "styled", m, cfg, extra_files={"l.txt": "a\nb\nc\nd\n"})
    s = servers.start([repo])
    c = s.get("/v2/models/styled/config").json()
    assert c["max_batch_size"] == 2
    assert [i["name"] for i in c["input"]] == ["x", "y"]
    assert c["input"][0]["dims"] == [4] and c["input"][1]["dims"] == [4]
    assert c["output"][0]["label_filename"] == "l.txt"
    assert c["instance_group"][0]["count"] == 2
    assert c["dynamic_batching"]["max_queue_delay_microseconds"] == 100
    r = s.infer("styled", [tensor("x", "FP32", [2, 4], [1] * 8),
                           tensor("y", "FP32", [2, 4], [2] * 8)])
    assert r.status == 200, r
