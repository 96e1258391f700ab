"""Prometheus metrics on the HTTP port: Triton's family names and labels, and counters that
move by exactly the right amounts after known traffic."""
import re

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnx_models as om
from conftest import tensor

FAMILIES = ["nv_inference_request_success", "nv_inference_request_failure",
            "nv_inference_count", "nv_inference_exec_count", "nv_inference_request_duration_us"]
LINE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(.*)\})?\s+(\S+)(\s+\d+)?$')
LABEL = re.compile(r'([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"')


def parse(text):
    """-> ({(name, frozenset(labels)): value}, {family: type})"""
    series, types = {}, {}
    for line in text.splitlines():
        if not line.strip():
            continue
        if line.startswith("#"):
            parts = line.split()
            if len(parts) >= 4 and parts[1] == "TYPE":
                types[parts[2]] = parts[3]
            continue
        m = LINE.match(line)
        assert m, "not a Prometheus sample line: %r" % line
        labels = frozenset(LABEL.findall(m.group(3) or ""))
        key = (m.group(1), labels)
        assert key not in series, "duplicate series %r" % line
        series[key] = float(m.group(4))
    return series, types


def value(series, name, **labels):
    want = set(labels.items())
    vals = [v for (n, ls), v in series.items() if n == name and want <= set(ls)]
    return sum(vals) if vals else 0.0


@pytest.fixture(scope="module")
def srv(module_servers, tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("metrics_repo"))
    om.copy_examples(repo)
    # x [-1] FP32 reshaped to [3]: any other element count fails inside the engine
    shape = numpy_helper.from_array(np.array([3], dtype=np.int64), "shape")
    om.write_model(repo, "reshape_fail", om.make_model(
        [helper.make_node("Reshape", ["x", "shape"], ["y"])],
        [("x", TensorProto.FLOAT, ["n"])], [("y", TensorProto.FLOAT, [3])],
        initializers=[shape]),
        om.config_text("reshape_fail", 0, [("x", "TYPE_FP32", [-1])],
                       [("y", "TYPE_FP32", [3])]))
    return module_servers.start([repo])


def scrape(srv):
    r = srv.get("/metrics")
    assert r.status == 200, r
    assert r.headers.get("content-type", "").startswith("text/plain"), r.headers
    return parse(r.text)


def test_families_types_and_labels(srv):
    series, types = scrape(srv)
    for fam in FAMILIES:
        assert types.get(fam) == "counter", (fam, types.get(fam))
        for model in ("digits", "add_mul", "rates"):
            ls = [dict(l) for (n, l) in series if n == fam and dict(l).get("model") == model]
            assert ls, "no %s series for model %s" % (fam, model)
            assert all(l.get("version") == "1" for l in ls), ls
    reasons = {dict(l).get("reason") for (n, l) in series
               if n == "nv_inference_request_failure" and dict(l).get("model") == "digits"}
    assert None not in reasons and reasons, reasons


def test_success_counters_move_exactly(srv):
    before, _ = scrape(srv)
    sizes = [1, 2, 3, 4, 5]
    for b in sizes:
        r = srv.infer("digits", [tensor("pixels", "FP32", [b, 64], [1.0] * (64 * b))])
        assert r.status == 200, r
    after, _ = scrape(srv)

    def d(name, model="digits", **kw):
        return value(after, name, model=model, version="1", **kw) - value(
            before, name, model=model, version="1", **kw)

    assert d("nv_inference_request_success") == len(sizes)
    assert d("nv_inference_count") == sum(sizes)
    assert d("nv_inference_exec_count") == len(sizes)  # sequential: one execution each
    assert d("nv_inference_request_failure") == 0
    assert d("nv_inference_request_duration_us") > 0
    # other models untouched
    for m in ("add_mul", "rates"):
        assert d("nv_inference_request_success", model=m) == 0
        assert d("nv_inference_count", model=m) == 0


def test_rejected_requests_do_not_count_as_success(srv):
    before, _ = scrape(srv)
    for cols in (63, 65, 1):
        r = srv.infer("digits", [tensor("pixels", "FP32", [1, cols], [0.0] * cols)])
        assert r.status == 400, r
    after, _ = scrape(srv)
    for fam in ("nv_inference_request_success", "nv_inference_count",
                "nv_inference_exec_count"):
        assert value(after, fam, model="digits") == value(before, fam, model="digits"), fam
    # validation failures may or may not be counted as failed requests, but not half-way
    failed = (value(after, "nv_inference_request_failure", model="digits")
              - value(before, "nv_inference_request_failure", model="digits"))
    assert failed in (0, 3), failed


def test_backend_failure_counted(srv):
    before, _ = scrape(srv)
    r = srv.infer("reshape_fail", [tensor("x", "FP32", [3], [1, 2, 3])])
    assert r.status == 200, r
    for n in (2, 4, 5):
        r = srv.infer("reshape_fail", [tensor("x", "FP32", [n], [1.0] * n)])
        assert r.status in (400, 500), r
        r.error
    after, _ = scrape(srv)
    lab = dict(model="reshape_fail", version="1")
    assert value(after, "nv_inference_request_success", **lab) - value(
        before, "nv_inference_request_success", **lab) == 1
    assert value(after, "nv_inference_request_failure", **lab) - value(
        before, "nv_inference_request_failure", **lab) == 3
    assert value(after, "nv_inference_request_failure", reason="BACKEND", **lab) - value(
        before, "nv_inference_request_failure", reason="BACKEND", **lab) == 3
    assert value(after, "nv_inference_count", **lab) - value(
        before, "nv_inference_count", **lab) == 1


def test_unknown_model_creates_no_series(srv):
    r = srv.infer("no_such_model_xyz", [tensor("x", "FP32", [1], [1])])
    assert r.status == 404
    series, _ = scrape(srv)
    assert not [k for k in series if dict(k[1]).get("model") == "no_such_model_xyz"]


def test_counters_are_monotonic_and_consistent(srv):
    series, _ = scrape(srv)
    for (n, l), v in series.items():
        if n in FAMILIES:
            assert v >= 0 and v == int(v), (n, l, v)
    for m in ("digits", "add_mul", "rates"):
        assert value(series, "nv_inference_exec_count", model=m) <= value(
            series, "nv_inference_count", model=m)
