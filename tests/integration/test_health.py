"""Health, server/model metadata, model configuration, /healthz, logging format."""
import json

import pytest


def test_live(examples_server):
    r = examples_server.get("/v2/health/live")
    assert r.status == 200
    assert r.json() == {"live": True}
    assert r.headers.get("content-type", "").startswith("application/json")


def test_ready(examples_server):
    r = examples_server.get("/v2/health/ready")
    assert r.status == 200
    assert r.json() == {"ready": True}


def test_server_metadata(examples_server):
    r = examples_server.get("/v2")
    assert r.status == 200
    md = r.json()
    assert md["name"] == "inferd"
    assert isinstance(md["version"], str) and md["version"]
    assert isinstance(md["extensions"], list)
    assert all(isinstance(e, str) for e in md["extensions"])
    for ext in ("model_configuration",):
        assert ext in md["extensions"]
    assert "cuda_shared_memory" not in md["extensions"]


def test_healthz(examples_server):
    r = examples_server.get("/healthz")
    assert r.status == 200
    assert r.json() == {"status": "ok", "model_loaded": True}


DIGITS_MD = {
    "name": "digits",
    "versions": ["1"],
    "platform": "onnxruntime_onnx",
    "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, 64]}],
    "outputs": [{"name": "probabilities", "datatype": "FP32", "shape": [-1, 10]},
                {"name": "label", "datatype": "INT64", "shape": [-1, 1]}],
}


@pytest.mark.parametrize("path", ["/v2/models/digits", "/v2/models/digits/versions/1"])
def test_model_metadata_digits(examples_server, path):
    r = examples_server.get(path)
    assert r.status == 200
    md = r.json()
    assert {k: md[k] for k in DIGITS_MD} == DIGITS_MD


def test_model_metadata_non_batching(examples_server):
    md = examples_server.metadata("add_mul")
    assert md["name"] == "add_mul"
    assert md["versions"] == ["1"]
    assert md["platform"] == "onnxruntime_onnx"
    assert md["inputs"] == [{"name": "a", "datatype": "FP32", "shape": [-1]},
                            {"name": "b", "datatype": "FP32", "shape": [-1]}]
    assert md["outputs"] == [{"name": "sum", "datatype": "FP32", "shape": [-1]},
                             {"name": "product", "datatype": "FP32", "shape": [-1]}]


def test_model_metadata_int64(examples_server):
    md = examples_server.metadata("rates")
    assert md["inputs"] == [{"name": "counts", "datatype": "INT64", "shape": [-1, 4]},
                            {"name": "total", "datatype": "INT64", "shape": [-1, 1]}]
    assert md["outputs"] == [{"name": "rates", "datatype": "FP32", "shape": [-1, 4]},
                             {"name": "top", "datatype": "INT64", "shape": [-1, 1]}]


@pytest.mark.parametrize("path", ["/v2/models/digits/ready",
                                  "/v2/models/digits/versions/1/ready"])
def test_model_ready(examples_server, path):
    r = examples_server.get(path)
    assert r.status == 200
    assert r.json() == {"name": "digits", "ready": True}


@pytest.mark.parametrize("path", ["/v2/models/nope/ready", "/v2/models/digits/versions/2/ready",
                                  "/v2/models/nope", "/v2/models/digits/versions/7",
                                  "/v2/models/nope/config", "/v2/models/digits/versions/3/config"])
def test_unknown_model_or_version_404(examples_server, path):
    r = examples_server.get(path)
    assert r.status == 404, r
    r.error  # JSON {"error": ...}


@pytest.mark.parametrize("path", ["/v2/models/digits/config",
                                  "/v2/models/digits/versions/1/config"])
def test_model_config_digits(examples_server, path):
    r = examples_server.get(path)
    assert r.status == 200
    cfg = r.json()
    assert cfg["name"] == "digits"
    assert cfg["platform"] == "onnxruntime_onnx"
    assert cfg["max_batch_size"] == 64
    assert len(cfg["input"]) == 1
    i = cfg["input"][0]
    assert (i["name"], i["data_type"], i["dims"]) == ("pixels", "TYPE_FP32", [64])
    assert all(isinstance(d, int) for d in i["dims"])  # numbers, not strings
    outs = {o["name"]: o for o in cfg["output"]}
    assert set(outs) == {"probabilities", "label"}
    assert outs["probabilities"]["data_type"] == "TYPE_FP32"
    assert outs["probabilities"]["dims"] == [10]
    assert outs["probabilities"]["label_filename"] == "labels.txt"
    assert outs["label"]["data_type"] == "TYPE_INT64"
    assert outs["label"]["dims"] == [1]
    groups = cfg["instance_group"]
    assert len(groups) == 1
    assert groups[0]["count"] == 1 and groups[0]["kind"] == "KIND_CPU"


def test_model_config_non_batching(examples_server):
    cfg = examples_server.get("/v2/models/add_mul/config").json()
    assert cfg["name"] == "add_mul"
    assert cfg["max_batch_size"] == 0
    assert [(i["name"], i["data_type"], i["dims"]) for i in cfg["input"]] == [
        ("a", "TYPE_FP32", [-1]), ("b", "TYPE_FP32", [-1])]
    assert [(o["name"], o["data_type"], o["dims"]) for o in cfg["output"]] == [
        ("sum", "TYPE_FP32", [-1]), ("product", "TYPE_FP32", [-1])]


def test_model_config_version_policy_default(examples_server):
    cfg = examples_server.get("/v2/models/rates/config").json()
    assert cfg["max_batch_size"] == 16
    vp = cfg.get("version_policy")
    assert vp is not None, cfg
    assert "latest" in vp, vp
    assert vp["latest"].get("num_versions") == 1


def test_repository_index(examples_server):
    idx = examples_server.index()
    assert isinstance(idx, list)
    entries = {(e["name"], e.get("version")): e for e in idx}
    for m in ("digits", "add_mul", "rates"):
        assert (m, "1") in entries, idx
        assert entries[(m, "1")]["state"] == "READY"
    assert {e["name"] for e in idx} == {"digits", "add_mul", "rates"}


def test_repository_index_ready_filter(examples_server):
    r = examples_server.post("/v2/repository/index", {"ready": True})
    assert r.status == 200
    assert sorted(e["name"] for e in r.json()) == ["add_mul", "digits", "rates"]


def test_logs_are_json_lines(examples_server):
    examples_server.get("/v2/models/digits")
    lines = [l for l in examples_server.stderr_text().splitlines() if l.strip()]
    assert lines, "no log output at all on stderr"
    for line in lines:
        try:
            rec = json.loads(line)
        except ValueError:
            raise AssertionError("stderr line is not JSON: %r" % line)
        assert isinstance(rec, dict), line


def test_head_or_keepalive_sequence(examples_server):
    """Several requests on one keep-alive connection all get answered."""
    conn = examples_server.connection()
    try:
        for path in ("/v2/health/live", "/v2", "/v2/models/digits", "/v2/health/ready"):
            conn.request("GET", path)
            r = conn.getresponse()
            body = r.read()
            assert r.status == 200, (path, body)
            json.loads(body)
    finally:
        conn.close()
