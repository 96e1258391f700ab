"""Gateway mode: models with `backend: "remote"` forward to upstream v2 servers (other
inferd processes here, and a deliberately broken fake upstream). Checks results through the
gateway (JSON and binary), fast 503 when the upstream is gone and recovery when it returns,
failover between two upstreams, deadlines that reach the upstream and close its
connection, 502 for a malformed upstream, 4xx passed through, and that thousands of
requests with faults leave no thread, descriptor or tensor behind."""
import concurrent.futures
import http.server
import json
import os
import random
import re
import socket
import socketserver
import subprocess
import threading
import time

import numpy as np
import pytest

import onnx_models as om
from conftest import SANITIZED, Server, dumps, free_port, tensor

DIGIT = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4,
         12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10,
         12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]


def remote_repo(path, model, urls, extra="", max_batch_size=64):
    d = os.path.join(path, model)
    os.makedirs(os.path.join(d, "1"), exist_ok=True)
    with open(os.path.join(d, "config.pbtxt"), "w") as f:
        f.write('backend: "remote"\nmax_batch_size: %d\n'
                'parameters { key: "url" value: { string_value: "%s" } }\n%s'
                % (max_batch_size, ",".join(urls), extra))
    return path


def settled(srv, timeout=60):
    """The server's snapshot once no request is left in flight (earlier tests' included)."""
    deadline = time.monotonic() + timeout
    while True:
        snap = srv.snapshot()
        if snap["request_tensors"] == 0 and snap["arena_tensors"] == 0:
            return snap
        assert time.monotonic() < deadline, snap
        time.sleep(0.05)


def counter(text, name, **labels):
    for line in text.splitlines():
        m = re.match(r"^%s\{([^}]*)\} (\S+)$" % re.escape(name), line)
        if m and all('%s="%s"' % kv in m.group(1) for kv in labels.items()):
            return float(m.group(2))
    return 0.0


@pytest.fixture(scope="module")
def upstream_repo(tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("upstream"))
    om.copy_examples(repo, ["digits", "add_mul"])
    model, cfg, _ = om.slow_model(name="slow", max_batch_size=1024)
    om.write_model(repo, "slow", model, cfg)
    return repo


@pytest.fixture(scope="module")
def pair(module_servers, upstream_repo, tmp_path_factory):
    up = module_servers.start([upstream_repo])
    url = "http://127.0.0.1:%d" % up.port
    gw_repo = str(tmp_path_factory.mktemp("gateway"))
    remote_repo(gw_repo, "digits", [url])
    remote_repo(gw_repo, "add_mul", [url], max_batch_size=0)
    remote_repo(gw_repo, "slow", [url], max_batch_size=1024)
    gw = module_servers.start([gw_repo])
    return up, gw


def test_results_through_the_gateway_match_the_upstream(pair):
    up, gw = pair
    md_up, md_gw = up.metadata("digits"), gw.metadata("digits")
    assert md_gw["inputs"] == md_up["inputs"] and md_gw["outputs"] == md_up["outputs"]
    ins = [tensor("pixels", "FP32", [1, 64], DIGIT)]
    direct = up.infer("digits", ins, id="d1")
    via = gw.infer("digits", ins, id="d1")
    assert direct.status == 200 and via.status == 200, (direct, via)
    assert via.json()["outputs"] == direct.json()["outputs"]
    assert via.json()["id"] == "d1"
    r = gw.infer("add_mul", [tensor("a", "FP32", [3], [1, 2, 3]),
                             tensor("b", "FP32", [3], [10, 20, 30])])
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == [11, 22, 33]


def test_binary_request_through_the_gateway(pair):
    up, gw = pair
    blob = np.array(DIGIT, np.float32).tobytes()
    header = json.dumps({"inputs": [{"name": "pixels", "shape": [1, 64], "datatype": "FP32",
                                     "parameters": {"binary_data_size": len(blob)}}],
                         "outputs": [{"name": "label", "parameters": {"binary_data": True}}]})
    r = gw.post("/v2/models/digits/infer", header.encode() + blob,
                headers={"Inference-Header-Content-Length": str(len(header))})
    assert r.status == 200, r
    hl = int(r.headers["inference-header-content-length"])
    out = json.loads(r.body[:hl])["outputs"][0]
    assert out["parameters"]["binary_data_size"] == 8
    assert np.frombuffer(r.body[hl:], np.int64).tolist() == [0]


def test_client_errors_are_passed_through(pair):
    up, gw = pair
    # add_mul has variable dims, so only the upstream can tell that a and b differ.
    r = gw.infer("add_mul", [tensor("a", "FP32", [3], [1, 2, 3]), tensor("b", "FP32", [2], [1, 2])])
    assert r.status == 400, r
    assert r.error


def test_deadline_reaches_the_upstream(pair):
    up, gw = pair
    rows = 64 if SANITIZED else 512  # a few seconds either way
    x = np.random.RandomState(0).uniform(-1, 1, (rows, 64)).astype(np.float32).tolist()
    t0 = time.monotonic()
    full = gw.infer("slow", [tensor("x", "FP32", [rows, 64], x)], timeout=120)
    whole = time.monotonic() - t0
    assert full.status == 200, full
    before = up.metrics()
    t0 = time.monotonic()
    r = gw.infer("slow", [tensor("x", "FP32", [rows, 64], x)],
                 parameters={"timeout": int(whole * 1e6 / 4)}, timeout=120)
    took = time.monotonic() - t0
    assert r.status == 504, r
    assert took < whole * 0.75, (took, whole)
    # The upstream stopped too: its run ended as a failure, not a success.
    deadline = time.monotonic() + 10
    while True:
        after = up.metrics()
        failed = sum(counter(after, "nv_inference_request_failure", model="slow", reason=k) -
                     counter(before, "nv_inference_request_failure", model="slow", reason=k)
                     for k in ("CANCELED", "REJECTED", "OTHER", "BACKEND"))
        if failed >= 1:
            break
        assert time.monotonic() < deadline, "the upstream did not see the request end"
        time.sleep(0.05)
    assert counter(after, "nv_inference_request_success", model="slow") == \
        counter(before, "nv_inference_request_success", model="slow")


def test_upstream_down_is_a_fast_503_and_recovers(servers, upstream_repo, tmp_path):
    port = free_port()
    up = Server([upstream_repo], port=port)
    servers.servers.append(up)
    up.start()
    gw = servers.start([remote_repo(str(tmp_path), "digits", ["http://127.0.0.1:%d" % port])])
    ins = [tensor("pixels", "FP32", [1, 64], DIGIT)]
    assert gw.infer("digits", ins).status == 200
    up.stop()
    for _ in range(5):
        t0 = time.monotonic()
        r = gw.infer("digits", ins)
        assert r.status == 503, r
        assert time.monotonic() - t0 < 1.0
    up.start()
    deadline = time.monotonic() + 10
    while gw.infer("digits", ins).status != 200:
        assert time.monotonic() < deadline, "the gateway never recovered"
        time.sleep(0.2)


def test_one_of_two_upstreams_down(servers, upstream_repo, tmp_path):
    a = servers.start([upstream_repo])
    dead = free_port()  # nothing listens there
    gw = servers.start([remote_repo(str(tmp_path), "digits",
                                    ["http://127.0.0.1:%d" % dead, "http://127.0.0.1:%d" % a.port])])
    ins = [tensor("pixels", "FP32", [1, 64], DIGIT)]
    for _ in range(50):
        r = gw.infer("digits", ins)
        assert r.status == 200, r


class FakeUpstream(http.server.BaseHTTPRequestHandler):
    """Serves valid metadata for `digits` and garbage for inference."""

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = json.dumps({"name": "digits", "versions": ["1"], "platform": "x",
                           "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, 64]}],
                           "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1, 1]}]})
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        body = b"this is not a v2 response"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_malformed_upstream_is_502(servers, tmp_path):
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), FakeUpstream)
    srv.daemon_threads = True
    th = threading.Thread(target=srv.serve_forever, daemon=True)
    th.start()
    try:
        gw = servers.start([remote_repo(str(tmp_path), "digits",
                                        ["http://127.0.0.1:%d" % srv.server_address[1]])])
        r = gw.infer("digits", [tensor("pixels", "FP32", [1, 64], DIGIT)])
        assert r.status == 502, r
        assert "127.0.0.1:%d" % srv.server_address[1] in r.error
    finally:
        srv.shutdown()
        srv.server_close()


def socket_inodes_to_port(port):
    """Inodes of this machine's TCP sockets whose remote port is `port`."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    cols = line.split()
                    if int(cols[2].rsplit(":", 1)[1], 16) == port:
                        inodes.add(cols[9])
        except OSError:
            pass
    return inodes


def fd_census(pid, upstream_port):
    """(descriptors other than connections to the upstream, connections to the upstream)."""
    up = socket_inodes_to_port(upstream_port)
    other, pooled = 0, 0
    for f in os.listdir("/proc/%d/fd" % pid):
        try:
            link = os.readlink("/proc/%d/fd/%s" % (pid, f))
        except OSError:
            continue
        if link.startswith("socket:[") and link[8:-1] in up:
            pooled += 1
        else:
            other += 1
    return other, pooled


def test_faults_leave_nothing_behind(pair, servers, tmp_path):
    up, _ = pair
    url = "http://127.0.0.1:%d" % up.port
    pool = 'parameters { key: "max_connections" value: { string_value: "4" } }\n'
    remote_repo(str(tmp_path), "digits", [url], extra=pool)
    remote_repo(str(tmp_path), "add_mul", [url], extra=pool, max_batch_size=0)
    gw = servers.start([str(tmp_path)])
    n = 3000
    ok = dumps({"inputs": [tensor("pixels", "FP32", [1, 64], DIGIT)]})
    bad = dumps({"inputs": [tensor("a", "FP32", [2], [1, 2]), tensor("b", "FP32", [3], [1, 2, 3])]})
    timed = dumps({"inputs": [tensor("pixels", "FP32", [1, 64], DIGIT)],
                   "parameters": {"timeout": 1}})
    with concurrent.futures.ThreadPoolExecutor(16) as pool_:
        list(pool_.map(lambda _: gw.post("/v2/models/digits/infer", ok), range(64)))
    base = settled(gw)
    base_other, _ = fd_census(gw.proc.pid, up.port)
    rng = random.Random(1)
    kinds = [rng.random() for _ in range(n)]

    def one(k):
        x = kinds[k]
        if x < 0.1:
            return gw.post("/v2/models/add_mul/infer", bad).status
        if x < 0.2:
            return gw.post("/v2/models/digits/infer", timed).status
        return gw.post("/v2/models/digits/infer", ok).status

    with concurrent.futures.ThreadPoolExecutor(16) as pool_:
        statuses = list(pool_.map(one, range(n)))
    assert set(statuses) <= {200, 400, 504}, set(statuses)
    assert statuses.count(200) > n // 2
    # Threads, tensors and descriptors come back to where they were; connections to the
    # upstream are pooled, so they only have to stay within the pool's bound.
    deadline = time.monotonic() + 10
    while True:
        now = gw.snapshot()
        other, pooled = fd_census(gw.proc.pid, up.port)
        if now == base and other == base_other and pooled <= 4:
            break
        assert time.monotonic() < deadline, (base, now, base_other, other, pooled)
        time.sleep(0.05)


def test_pure_gateway_mirrors_the_upstream(servers, upstream_repo):
    up = servers.start([upstream_repo])
    url = "http://127.0.0.1:%d" % up.port
    gw = Server([], ["--model-url", url])
    servers.servers.append(gw)
    gw.start()
    names = sorted(e["name"] for e in gw.index() if e.get("state") == "READY")
    assert names == sorted(e["name"] for e in up.index() if e.get("state") == "READY")
    r = gw.infer("digits", [tensor("pixels", "FP32", [1, 64], DIGIT)])
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == \
        up.infer("digits", [tensor("pixels", "FP32", [1, 64], DIGIT)]).json()["outputs"][0]["data"]
    assert gw.get("/healthz").json() == {"status": "ok", "model_loaded": True}
    up.stop()
    time.sleep(1.2)  # readiness of the upstream is checked at most once a second
    r = gw.get("/healthz")
    assert r.status == 503 and r.json()["model_loaded"] is False, r


def test_pure_gateway_from_the_environment(servers, upstream_repo):
    up = servers.start([upstream_repo])
    gw = Server([], env={"MODEL_URL": "http://127.0.0.1:%d" % up.port})
    servers.servers.append(gw)
    gw.start()
    r = gw.infer("add_mul", [tensor("a", "FP32", [1], [2]), tensor("b", "FP32", [1], [3])])
    assert r.status == 200, r
    assert r.json()["outputs"][1]["data"] == [6]


def test_per_upstream_metrics(pair):
    up, gw = pair
    base = "http://127.0.0.1:%d" % up.port
    before = gw.metrics()
    ins = [tensor("pixels", "FP32", [1, 64], DIGIT)]
    for _ in range(5):
        assert gw.infer("digits", ins).status == 200
    r = gw.infer("add_mul", [tensor("a", "FP32", [3], [1, 2, 3]), tensor("b", "FP32", [2], [1, 2])])
    assert r.status == 400
    after = gw.metrics()

    def delta(name, **labels):
        return counter(after, name, upstream=base, **labels) - \
            counter(before, name, upstream=base, **labels)

    assert delta("inferd_upstream_requests_total") == 6
    assert delta("inferd_upstream_failures_total", kind="http_4xx") == 1
    assert delta("inferd_upstream_request_duration_seconds_count") == 6
    assert counter(after, "inferd_upstream_up", upstream=base) == 1
    assert counter(after, "inferd_upstream_open_connections", upstream=base) >= 1
    assert counter(after, "inferd_upstream_pending", upstream=base) == 0
    # The exposition stays valid Prometheus text (promtool's style warnings about Triton's
    # nv_* names aside, which test_prometheus.py covers).
    res = subprocess.run(["promtool", "check", "metrics"], input=after, capture_output=True,
                         text=True, timeout=30)
    assert res.returncode in (0, 3), res.stdout + res.stderr
    assert "inferd_upstream" not in res.stdout + res.stderr, res.stdout + res.stderr


def test_down_upstream_shows_in_metrics(servers, upstream_repo, tmp_path):
    port = free_port()
    up = Server([upstream_repo], port=port)
    servers.servers.append(up)
    up.start()
    base = "http://127.0.0.1:%d" % port
    gw = servers.start([remote_repo(str(tmp_path), "digits", [base])])
    ins = [tensor("pixels", "FP32", [1, 64], DIGIT)]
    assert gw.infer("digits", ins).status == 200
    up.stop()
    for _ in range(4):
        assert gw.infer("digits", ins).status == 503
    text = gw.metrics()
    assert counter(text, "inferd_upstream_up", upstream=base) == 0
    assert counter(text, "inferd_upstream_failures_total", upstream=base, kind="connect") >= 3
    assert counter(text, "inferd_upstream_open_connections", upstream=base) == 0


def test_down_upstream_is_probed_before_it_gets_requests(servers, upstream_repo, tmp_path):
    port = free_port()
    up = Server([upstream_repo], port=port)
    servers.servers.append(up)
    up.start()
    gw = servers.start([remote_repo(str(tmp_path), "digits", ["http://127.0.0.1:%d" % port])])
    ins = [tensor("pixels", "FP32", [1, 64], DIGIT)]
    up.stop()
    for _ in range(4):
        assert gw.infer("digits", ins).status == 503  # now marked down
    up2 = Server([upstream_repo], ["--log-verbose", "1"], port=port)
    servers.servers.append(up2)
    up2.start()

    def requests_seen():
        return [(r.get("method"), r.get("path")) for r in up2.log_records()
                if r.get("msg") == "request"]

    started = len(requests_seen())  # the harness's own start-up polling
    time.sleep(1.2)  # the cool-down
    assert gw.infer("digits", ins).status == 200
    after = requests_seen()[started:]
    assert ("GET", "/v2/health/ready") in after, after
    assert after.index(("GET", "/v2/health/ready")) < after.index(
        ("POST", "/v2/models/digits/infer")), after

def test_batching_in_front_of_the_upstream(servers, upstream_repo, tmp_path):
    up = servers.start([upstream_repo])
    gw = servers.start([remote_repo(str(tmp_path), "digits", ["http://127.0.0.1:%d" % up.port],
                                    extra="dynamic_batching { max_queue_delay_microseconds: "
                                          "20000 }\n")])
    ins = [tensor("pixels", "FP32", [1, 64], DIGIT)]
    before_up = counter(up.metrics(), "nv_inference_exec_count", model="digits")
    before_gw = gw.metrics()
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        results = list(pool.map(lambda _: gw.infer("digits", ins), range(64)))
    assert all(r.status == 200 for r in results)
    assert len({r.body for r in results}) == 1  # every batched answer is the same
    gm = gw.metrics()
    calls = counter(up.metrics(), "nv_inference_exec_count", model="digits") - before_up
    assert counter(gm, "nv_inference_count", model="digits") - \
        counter(before_gw, "nv_inference_count", model="digits") == 64
    assert counter(gm, "nv_inference_exec_count", model="digits") - \
        counter(before_gw, "nv_inference_exec_count", model="digits") == calls
    assert calls < 64, "the gateway sent one upstream call per request"


# ---- direct mode: a remote model needs no worker thread -----------------------------------------

def worker_threads(srv, model):
    th = srv.get("/debug/threads").json()
    return [t["name"] for t in th["registered"] if t["name"].startswith("w:%s:" % model)]


def test_remote_model_without_delay_runs_without_a_worker(servers, upstream_repo, tmp_path):
    up = servers.start([upstream_repo])
    url = "http://127.0.0.1:%d" % up.port
    remote_repo(str(tmp_path), "digits", [url])
    remote_repo(str(tmp_path), "add_mul", [url], max_batch_size=0)
    remote_repo(str(tmp_path), "slow", [url], max_batch_size=1024,
                extra="dynamic_batching { max_queue_delay_microseconds: 1000 }\n")
    gw = servers.start([str(tmp_path)])
    before = gw.metrics()
    assert worker_threads(gw, "digits") == [] and worker_threads(gw, "add_mul") == []
    assert worker_threads(gw, "slow") != []  # a batching delay needs a worker to wait
    ins = [tensor("pixels", "FP32", [1, 64], DIGIT)]
    assert gw.infer("digits", ins).json()["outputs"] == up.infer("digits", ins).json()["outputs"]
    r = gw.infer("add_mul", [tensor("a", "FP32", [2], [1, 2]), tensor("b", "FP32", [2], [3, 4])])
    assert r.status == 200 and r.json()["outputs"][0]["data"] == [4, 6], r
    after = gw.metrics()
    for model in ("digits", "add_mul"):
        for name in ("nv_inference_request_success", "nv_inference_exec_count",
                     "nv_inference_count"):
            assert counter(after, name, model=model) - counter(before, name, model=model) == 1, \
                (model, name)
        assert counter(after, "nv_inference_pending_request_count", model=model) == 0


def slow_rows(rows):
    x = np.random.RandomState(rows).uniform(-1, 1, (rows, 64)).astype(np.float32).tolist()
    return [tensor("x", "FP32", [rows, 64], x)]


def wait_upstream_pending(gw, base, n=1, timeout=30):
    deadline = time.monotonic() + timeout
    while counter(gw.metrics(), "inferd_upstream_pending", upstream=base) < n:
        assert time.monotonic() < deadline, "no upstream call under way"
        time.sleep(0.01)


def test_client_disconnect_aborts_the_upstream_call(pair):
    up, gw = pair
    base = "http://127.0.0.1:%d" % up.port
    rows = 64 if SANITIZED else 512  # seconds of work upstream
    body = dumps({"inputs": slow_rows(rows)})
    before_gw, before_up = gw.metrics(), up.metrics()
    s = socket.create_connection(("127.0.0.1", gw.port))
    s.sendall(b"POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
              % len(body) + body)
    wait_upstream_pending(gw, base)
    s.close()
    # The gateway cancels the request, aborts its upstream call (closing that connection),
    # and the upstream, seeing its client go, stops the run instead of finishing it.
    deadline = time.monotonic() + 30
    while True:
        g, u = gw.metrics(), up.metrics()
        cancelled = counter(g, "nv_inference_request_failure", model="slow", reason="CANCELED") - \
            counter(before_gw, "nv_inference_request_failure", model="slow", reason="CANCELED")
        aborted = counter(g, "inferd_upstream_failures_total", upstream=base, kind="cancelled") - \
            counter(before_gw, "inferd_upstream_failures_total", upstream=base, kind="cancelled")
        up_failed = sum(
            counter(u, "nv_inference_request_failure", model="slow", reason=k) -
            counter(before_up, "nv_inference_request_failure", model="slow", reason=k)
            for k in ("CANCELED", "REJECTED", "OTHER", "BACKEND"))
        if cancelled == 1 and aborted == 1 and up_failed == 1:
            break
        assert time.monotonic() < deadline, (cancelled, aborted, up_failed)
        time.sleep(0.05)
    assert counter(u, "nv_inference_request_success", model="slow") == \
        counter(before_up, "nv_inference_request_success", model="slow")
    assert counter(g, "inferd_upstream_pending", upstream=base) == 0
    assert any(r.get("msg", "").startswith("client of request") for r in gw.log_records())


def test_requests_queued_behind_a_call_go_upstream_as_one_batch(pair):
    up, gw = pair
    base = "http://127.0.0.1:%d" % up.port
    rows = 64 if SANITIZED else 256
    before_up, before_gw = up.metrics(), gw.metrics()
    with concurrent.futures.ThreadPoolExecutor(9) as pool:
        first = pool.submit(gw.infer, "slow", slow_rows(rows))
        wait_upstream_pending(gw, base)  # the model's one execution slot is taken
        small = [pool.submit(gw.infer, "slow", slow_rows(2)) for _ in range(8)]
        deadline = time.monotonic() + 30
        while counter(gw.metrics(), "nv_inference_pending_request_count", model="slow") < 8:
            assert time.monotonic() < deadline, "the requests did not queue"
            time.sleep(0.01)
        results = [first.result()] + [f.result() for f in small]
    assert all(r.status == 200 for r in results), results
    assert len({r.body for r in results[1:]}) == 1
    after_up, after_gw = up.metrics(), gw.metrics()
    # Two upstream calls: the first request, then the eight queued ones together.
    assert counter(after_up, "nv_inference_request_success", model="slow") - \
        counter(before_up, "nv_inference_request_success", model="slow") == 2
    assert counter(after_gw, "nv_inference_exec_count", model="slow") - \
        counter(before_gw, "nv_inference_exec_count", model="slow") == 2
    assert counter(after_gw, "nv_inference_request_success", model="slow") - \
        counter(before_gw, "nv_inference_request_success", model="slow") == 9


def test_admission_is_bounded_without_a_worker(servers, upstream_repo, tmp_path):
    up = servers.start([upstream_repo])
    base = "http://127.0.0.1:%d" % up.port
    gw = servers.start([remote_repo(str(tmp_path), "slow", [base], max_batch_size=1024)],
                       ["--max-queue-size", "1"])
    rows = 64 if SANITIZED else 256
    before = gw.metrics()
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        running = pool.submit(gw.infer, "slow", slow_rows(rows))
        wait_upstream_pending(gw, base)
        queued = pool.submit(gw.infer, "slow", slow_rows(2))
        deadline = time.monotonic() + 30
        while counter(gw.metrics(), "nv_inference_pending_request_count", model="slow") < 1:
            assert time.monotonic() < deadline, "the second request did not queue"
            time.sleep(0.01)
        r = gw.infer("slow", slow_rows(2))
        assert r.status == 429 and "queue is full" in r.error, r
        assert r.headers.get("retry-after") == "1"
        assert running.result().status == 200 and queued.result().status == 200
    after = gw.metrics()
    assert counter(after, "nv_inference_request_failure", model="slow", reason="REJECTED") - \
        counter(before, "nv_inference_request_failure", model="slow", reason="REJECTED") == 1


class CapturingUpstream(http.server.BaseHTTPRequestHandler):
    """Serves `digits` metadata, records each inference request (headers and body) and
    answers it with a valid binary response."""
    protocol_version = "HTTP/1.1"  # keep-alive, as a real upstream
    seen = []

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = json.dumps({"name": "digits", "versions": ["1"], "platform": "x",
                           "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, 64]}],
                           "outputs": [{"name": "label", "datatype": "INT64",
                                        "shape": [-1, 1]}]}).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_POST(self):
        body = self.rfile.read(int(self.headers["Content-Length"]))
        CapturingUpstream.seen.append((dict(self.headers), body))
        header = json.dumps({"model_name": "digits", "model_version": "1",
                             "outputs": [{"name": "label", "datatype": "INT64", "shape": [1, 1],
                                          "parameters": {"binary_data_size": 8}}]}).encode()
        out = header + np.array([7], np.int64).tobytes()
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Inference-Header-Content-Length", str(len(header)))
        self.send_header("Content-Length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)


def test_what_the_upstream_receives(servers, tmp_path):
    srv = socketserver.ThreadingTCPServer(("127.0.0.1", 0), CapturingUpstream)
    srv.daemon_threads = True
    threading.Thread(target=srv.serve_forever, daemon=True).start()
    try:
        gw = servers.start([remote_repo(str(tmp_path), "digits",
                                        ["http://127.0.0.1:%d" % srv.server_address[1]])])
        CapturingUpstream.seen = []  # not the harness's warm-up request
        blob = np.array(DIGIT, np.float32).tobytes()
        # A JSON request with its own parameters (a deadline among them), and a binary one.
        r = gw.infer("digits", [tensor("pixels", "FP32", [1, 64], DIGIT)], id="j1",
                     parameters={"timeout": 30000000, "priority": 0})
        assert r.status == 200, r
        assert r.json()["model_name"] == "digits" and r.json()["id"] == "j1"
        assert r.json()["outputs"][0]["data"] == [7]
        header = json.dumps({"id": "b1", "inputs": [
            {"name": "pixels", "shape": [1, 64], "datatype": "FP32",
             "parameters": {"binary_data_size": len(blob)}}]})
        r = gw.post("/v2/models/digits/infer", header.encode() + blob,
                    headers={"Inference-Header-Content-Length": str(len(header))})
        assert r.status == 200, r
    finally:
        srv.shutdown()
        srv.server_close()
    assert len(CapturingUpstream.seen) == 2
    for (headers, body), rid, timed in zip(CapturingUpstream.seen, ("j1", "b1"), (True, False)):
        hl = int(headers["Inference-Header-Content-Length"])
        doc = json.loads(body[:hl])
        assert doc["id"] == rid and headers["X-Request-ID"] == rid
        assert "Expect" not in headers  # no 100-continue round trip
        params = doc["parameters"]
        assert params["binary_data_output"] is True
        if timed:
            # The remaining deadline, in microseconds: positive and not above what was asked.
            assert 0 < params["timeout"] <= 30000000, params
        else:
            assert "timeout" not in params, params
        # The tensor data goes as it came (JSON numbers or the client's blob), as a blob.
        (inp,) = doc["inputs"]
        assert inp["name"] == "pixels" and inp["shape"] == [1, 64] and inp["datatype"] == "FP32"
        assert inp["parameters"]["binary_data_size"] == len(blob)
        assert body[hl:] == blob
