"""Statistics extension (/v2/models[/{m}[/versions/{v}]]/stats), logging extension
(/v2/logging), latency histograms on /metrics and /debug/requests, each checked against
known traffic on the real server."""
import os
import re
import threading
import time

import pytest

import onnx_models as om
from conftest import tensor

DURATIONS = ("success", "fail", "queue", "compute_input", "compute_infer", "compute_output")


@pytest.fixture(scope="module")
def srv(module_servers, tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("obs_repo"))
    om.copy_examples(repo, ["digits", "add_mul"])
    model, cfg, _ = om.slow_model()
    om.write_model(repo, "slow", model, cfg)
    return module_servers.start([repo])


def digits(srv, batch):
    return srv.infer("digits", [tensor("pixels", "FP32", [batch, 64], [0.5] * (64 * batch))])


def stats_of(srv, path):
    r = srv.get(path)
    assert r.status == 200, r
    return r.json()["model_stats"]


def test_server_metadata_lists_extensions(srv):
    ext = srv.get("/v2").json()["extensions"]
    assert "statistics" in ext and "logging" in ext


def test_stats_shape_and_counts(srv):
    before = stats_of(srv, "/v2/models/digits/stats")[0]
    t0 = int(time.time() * 1000)
    for b in (1, 2, 2, 5):
        assert digits(srv, b).status == 200
    assert digits(srv, 1).status == 200
    bad = srv.infer("digits", [tensor("pixels", "FP32", [1, 3], [0.0] * 3)])
    assert bad.status == 400
    (st,) = stats_of(srv, "/v2/models/digits/stats")
    assert st["name"] == "digits" and st["version"] == "1"
    for k in ("last_inference", "inference_count", "execution_count"):
        assert isinstance(st[k], int) and st[k] >= 0, (k, st)
    assert st["last_inference"] >= t0 - 1000
    for k in DURATIONS + ("cache_hit", "cache_miss"):
        d = st["inference_stats"][k]
        assert set(d) == {"count", "ns"} and d["count"] >= 0 and d["ns"] >= 0, (k, d)

    def delta(*keys):
        a, b = st, before
        for k in keys:
            a, b = a[k], b[k]
        return a - b

    assert delta("inference_count") == 1 + 2 + 2 + 5 + 1
    assert delta("execution_count") == 5
    assert delta("inference_stats", "success", "count") == 5
    assert delta("inference_stats", "success", "ns") > 0
    assert delta("inference_stats", "compute_infer", "count") == 5
    assert delta("inference_stats", "compute_infer", "ns") > 0
    assert delta("inference_stats", "queue", "count") == 5
    # a request rejected by validation never reached the model: counted as failed, not run
    assert delta("inference_stats", "fail", "count") in (0, 1)
    sizes = {b["batch_size"]: b for b in st["batch_stats"]}
    old = {b["batch_size"]: b for b in before["batch_stats"]}
    assert [b["batch_size"] for b in st["batch_stats"]] == sorted(sizes)
    for size, n in ((1, 2), (2, 2), (5, 1)):
        got = sizes[size]["compute_infer"]["count"] - (
            old[size]["compute_infer"]["count"] if size in old else 0)
        assert got == n, (size, sizes[size])
        assert set(sizes[size]) == {"batch_size", "compute_input", "compute_infer",
                                    "compute_output"}


def test_stats_paths(srv):
    every = stats_of(srv, "/v2/models/stats")
    names = {(s["name"], s["version"]) for s in every}
    assert {("digits", "1"), ("add_mul", "1"), ("slow", "1")} <= names
    (v1,) = stats_of(srv, "/v2/models/digits/versions/1/stats")
    assert v1["name"] == "digits" and v1["version"] == "1"
    r = srv.get("/v2/models/no_such_model/stats")
    assert r.status == 404, r
    assert "no_such_model" in r.error
    r = srv.get("/v2/models/digits/versions/9/stats")
    assert r.status == 404, r
    r.error
    r = srv.post("/v2/models/digits/stats", b"{}")
    assert r.status == 405 and r.headers.get("allow") == "GET", r


def test_stats_match_metrics(srv):
    for _ in range(3):
        assert digits(srv, 2).status == 200
    (st,) = stats_of(srv, "/v2/models/digits/stats")
    text = srv.metrics()

    def metric(name):
        m = re.search(r'^%s\{model="digits",version="1"\} (\S+)$' % re.escape(name), text,
                      re.M)
        assert m, name
        return float(m.group(1))

    assert metric("nv_inference_count") == st["inference_count"]
    assert metric("nv_inference_exec_count") == st["execution_count"]
    assert metric("nv_inference_request_success") == st["inference_stats"]["success"]["count"]


def test_latency_histograms(srv):
    for _ in range(4):
        assert digits(srv, 1).status == 200
    text = srv.metrics()
    for fam in ("inferd_request_duration_seconds", "inferd_queue_duration_seconds",
                "inferd_compute_infer_duration_seconds"):
        assert "# TYPE %s histogram" % fam in text, fam
        buckets = [(m.group(1), float(m.group(2))) for m in re.finditer(
            r'^%s_bucket\{model="digits",version="1",le="([^"]+)"\} (\S+)$' % fam, text, re.M)]
        assert len(buckets) >= 10 and buckets[-1][0] == "+Inf", buckets
        bounds = [float(le) for le, _ in buckets[:-1]]
        assert bounds == sorted(bounds) and bounds[0] <= 0.0001, bounds  # sub-ms resolution
        counts = [c for _, c in buckets]
        assert counts == sorted(counts), "buckets must be cumulative: %r" % buckets
        count = float(re.search(r'^%s_count\{model="digits",version="1"\} (\S+)$' % fam, text,
                                re.M).group(1))
        total = float(re.search(r'^%s_sum\{model="digits",version="1"\} (\S+)$' % fam, text,
                                re.M).group(1))
        assert count == counts[-1] and count >= 4 and total > 0, fam


def test_logging_get_and_post(srv):
    r = srv.get("/v2/logging")
    assert r.status == 200, r
    s = r.json()
    assert s == {"log_file": "", "log_info": True, "log_warning": True, "log_error": True,
                 "log_verbose_level": 0, "log_format": "json"}, s
    try:
        r = srv.post("/v2/logging", {"log_verbose_level": 2, "log_info": None})
        assert r.status == 200, r
        assert r.json()["log_verbose_level"] == 2 and r.json()["log_info"] is True
        assert srv.get("/v2/logging").json()["log_verbose_level"] == 2
        # each bad request is refused whole: nothing changes
        for body in ({"log_verbose_level": -1}, {"log_verbose_level": 1.5},
                     {"log_info": "yes"}, {"log_format": "xml"},
                     {"log_file": "/tmp/x.log", "log_verbose_level": 0},
                     {"log_error": False, "log_format": 3}, [1]):
            r = srv.post("/v2/logging", body)
            assert r.status == 400, (body, r)
            r.error
        assert srv.get("/v2/logging").json() == dict(s, log_verbose_level=2)
        r = srv.post("/v2/logging", b"{not json")
        assert r.status == 400, r
        r = srv.request("PUT", "/v2/logging", b"{}")
        assert r.status == 405, r
    finally:
        r = srv.post("/v2/logging", s)
        assert r.status == 200 and r.json() == s, r


def test_logging_info_off_silences_access_log(srv):
    def access_lines(rid):
        return [x for x in srv.log_records() if x.get("request_id") == rid]

    try:
        r = srv.post("/v2/logging", {"log_info": False})
        assert r.status == 200 and r.json()["log_info"] is False, r
        r = srv.infer("digits", [tensor("pixels", "FP32", [1, 64], [0.0] * 64)],
                      id="quiet-request-1")
        assert r.status == 200
    finally:
        assert srv.post("/v2/logging", {"log_info": True}).status == 200
    r = srv.infer("digits", [tensor("pixels", "FP32", [1, 64], [0.0] * 64)],
                  id="loud-request-1")
    assert r.status == 200
    deadline = time.monotonic() + 5
    while not access_lines("loud-request-1") and time.monotonic() < deadline:
        time.sleep(0.05)
    assert access_lines("loud-request-1")
    assert not access_lines("quiet-request-1")


def test_logging_format_switch(srv):
    try:
        r = srv.post("/v2/logging", {"log_format": "ISO8601"})
        assert r.status == 200 and r.json()["log_format"] == "ISO8601", r
        srv.infer("digits", [tensor("pixels", "FP32", [1, 64], [0.0] * 64)], id="text-line-1")
    finally:
        r = srv.post("/v2/logging", {"log_format": "json"})
        assert r.status == 200, r
    text = srv.stderr_text()
    line = [x for x in text.splitlines() if "request_id=text-line-1" in x]
    assert line and not line[0].startswith("{"), line
    assert re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+Z ", line[0]), line


def test_debug_requests_lists_running_request(srv):
    # earlier tests' requests leave the table just after their responses were sent
    deadline = time.monotonic() + 5
    while True:
        r = srv.get("/debug/requests")
        assert r.status == 200, r
        if r.json() == {"count": 0, "requests": []} or time.monotonic() > deadline:
            break
        time.sleep(0.02)
    assert r.json() == {"count": 0, "requests": []}, r
    done = []

    def run():
        done.append(srv.infer("slow", [tensor("x", "FP32", [128, 64], [0.1] * (128 * 64))],
                              id="slow-debug-1", timeout=120))

    t = threading.Thread(target=run)
    t.start()
    try:
        seen = None
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and not done:
            reqs = srv.get("/debug/requests").json()["requests"]
            mine = [q for q in reqs if q["id"] == "slow-debug-1"]
            if mine and mine[0]["state"] == "running":
                seen = mine[0]
                break
            time.sleep(0.01)
        assert seen, "the slow request was never listed as running"
        assert seen["model"] == "slow" and seen["version"] == "1", seen
        assert isinstance(seen["current_op"], str) and seen["current_op"], seen
        assert seen["inputs"] == "[128,64]", seen
        assert seen["age_ms"] >= 0
    finally:
        t.join(120)
    assert done and done[0].status == 200, done
    deadline = time.monotonic() + 5
    while srv.get("/debug/requests").json()["count"] and time.monotonic() < deadline:
        time.sleep(0.05)
    assert srv.get("/debug/requests").json()["count"] == 0


def test_process_metrics(srv):
    text = srv.metrics()

    def val(name):
        m = re.search(r"^%s (\S+)$" % name, text, re.M)
        assert m, name
        return float(m.group(1))

    assert val("process_resident_memory_bytes") > 1 << 20
    assert val("process_virtual_memory_bytes") >= val("process_resident_memory_bytes")
    assert 3 <= val("process_open_fds") <= val("process_max_fds")
    assert val("process_cpu_seconds_total") > 0
    with open("/proc/%d/stat" % srv.proc.pid) as f:
        start_ticks = int(f.read().rsplit(")", 1)[1].split()[19])
    with open("/proc/stat") as f:
        btime = int([l.split()[1] for l in f if l.startswith("btime ")][0])
    want = btime + start_ticks / os.sysconf("SC_CLK_TCK")
    assert abs(val("process_start_time_seconds") - want) < 0.05
    assert val("inferd_threads") >= 2
