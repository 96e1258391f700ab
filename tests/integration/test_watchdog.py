"""The progress watchdog (--stall-timeout-secs): a model whose workers make no progress
while requests wait is reported not ready (model ready, /v2/health/ready, /healthz, the
inferd_model_stalled gauge), the reason is logged once, a state report naming the request
and the node it runs is written to stderr, and the model is ready again once work flows.
A long queue that keeps moving stays ready, and so does a model whose upstream answers;
a remote model whose upstream hangs stalls like a hung kernel."""
import http.server
import json
import re
import socketserver
import threading
import time

import pytest

import onnx_models as om
from conftest import tensor

STALL_SECS = 1  # the watchdog's bound in these tests


def slow_body(batch, rid):
    return {"id": rid, "inputs": [tensor("x", "FP32", [batch, 64], [0.25] * (64 * batch))]}


def post(srv, model, body, box):
    try:
        box.append(srv.post("/v2/models/%s/infer" % model, json.dumps(body).encode(),
                            timeout=300))
    except OSError as e:
        box.append(e)


def in_thread(*args):
    t = threading.Thread(target=post, args=args, daemon=True)
    t.start()
    return t


def wait_for(what, fn, timeout=60, step=0.05):
    deadline = time.monotonic() + timeout
    while True:
        v = fn()
        if v:
            return v
        assert time.monotonic() < deadline, "timed out waiting for " + what
        time.sleep(step)


def json_logs(srv):
    """The JSON log lines of stderr (state reports between them are plain text)."""
    recs = []
    for line in srv.stderr_text().splitlines():
        if line.startswith("{"):
            recs.append(json.loads(line))
    return recs


def stalled_gauge(srv, model):
    m = re.search(r'^inferd_model_stalled\{model="%s",version="1"\} (\d+)$' % model,
                  srv.metrics(), re.M)
    assert m, "no inferd_model_stalled series for %s" % model
    return int(m.group(1))


def queued(srv, model, n):
    """True once n requests of model are in the queue (nv_inference_pending_request_count)."""
    m = re.search(r'^nv_inference_pending_request_count\{model="%s",version="1"\} (\d+)$' % model,
                  srv.metrics(), re.M)
    return m and int(m.group(1)) >= n


@pytest.fixture
def stall_repo(tmp_path):
    # max_batch_size as large as any batch batch_for may pick: on a fast machine one row
    # can take under 4 s / 256, and a larger batch would be refused.
    model, cfg, _ = om.slow_model(layers=48, width=512, max_batch_size=4096)
    om.write_model(str(tmp_path), "slow", model, cfg)
    # about a hundred times cheaper per row: short runs even in a sanitizer build
    model, cfg, _ = om.slow_model(name="quick", layers=8, width=128, max_batch_size=4096)
    om.write_model(str(tmp_path), "quick", model, cfg)
    om.write_model(str(tmp_path), "fast", *om.batched_add_model(name="fast")[:2])
    return tmp_path


def batch_for(srv, seconds, model="slow", rows=1):
    """A batch size for which one request of model takes about `seconds` here (at least
    one row), measured with a request of `rows` rows."""
    t0 = time.monotonic()
    r = srv.post("/v2/models/%s/infer" % model,
                 json.dumps(slow_body(rows, "calibrate")).encode(), timeout=300)
    assert r.status == 200, r
    per_row = (time.monotonic() - t0) / rows
    return max(1, min(4096, int(seconds / per_row)))


def test_stuck_model_is_not_ready_then_recovers(servers, stall_repo):
    srv = servers.start([stall_repo], args=["--stall-timeout-secs", str(STALL_SECS)])
    # Each run lasts about four stall timeouts; one runs, two wait behind it.
    batch = batch_for(srv, 4 * STALL_SECS)
    assert srv.get("/v2/models/slow/ready").status == 200
    assert stalled_gauge(srv, "slow") == 0
    boxes = [[], [], []]
    threads = [in_thread(srv, "slow", slow_body(batch, "stall-%d" % i), boxes[i])
               for i in range(3)]
    wait_for("two queued requests", lambda: queued(srv, "slow", 2))

    r = wait_for("the model to be reported stalled",
                 lambda: (lambda r: r if r.status == 503 else None)(
                     srv.get("/v2/models/slow/ready")))
    assert "stalled" in r.error, r
    assert srv.get("/v2/models/slow/versions/1/ready").status == 503
    # Strict readiness: the server is not ready while one of its models is stuck ...
    sr = srv.get("/v2/health/ready")
    assert sr.status == 503 and "stalled" in sr.error, sr
    # ... while /healthz says degraded: another model still serves.
    hz = srv.get("/healthz")
    assert hz.status == 200, hz
    assert hz.json() == {"status": "degraded", "model_loaded": True, "stalled_models": ["slow"]}
    assert srv.get("/v2/models/fast/ready").status == 200
    assert stalled_gauge(srv, "slow") == 1
    assert stalled_gauge(srv, "fast") == 0

    # The reason is logged, naming the model, the version, how long and what waits.
    recs = wait_for("the stall log line", lambda: [
        x for x in json_logs(srv) if "stalled: no progress for" in x.get("msg", "")])
    m = re.match(r"model 'slow' version 1 stalled: no progress for (\d+) ms with (\d+) requests "
                 r"waiting and (\d+) executions under way", recs[0]["msg"])
    assert m, recs[0]
    assert int(m.group(1)) > STALL_SECS * 1000 and int(m.group(2)) >= 1, recs[0]
    assert recs[0]["level"] == "warning", recs[0]

    # The state report names the stall, the running request and the node it runs.
    text = wait_for("the state report", lambda: (
        lambda t: t if "==== end of state report ====" in t else None)(srv.stderr_text()))
    rep = re.search(r"==== inferd state report ====\n(.*?)==== end of state report ====",
                    text, re.S).group(1)
    assert re.search(r"^reason: model 'slow' version 1 stalled: no progress for \d+ ms", rep,
                     re.M), rep
    req = re.search(r"^  request id=(stall-\d) model=slow version=1 age_ms=\d+ state=running "
                    r"op=(\w+) inputs=\[%d,64\] op_inputs=(\S.*)$" % batch, rep, re.M)
    assert req, rep
    assert req.group(2) in ("MatMul", "Tanh", "Reshape"), req.group(0)
    # The node's own input shapes: the slow graph works on a [batch*64, 512] activation.
    assert re.fullmatch(r"\[%d,\d+\]( \[\d+(,\d+)*\])?" % (batch * 64), req.group(3)), req.group(0)
    assert re.findall(r"^  request id=stall-\d .*state=waiting", rep, re.M), rep
    assert '"w:slow:0"' in rep, rep

    # Work flows again: once the queue has drained the model is ready, and that is logged.
    for t in threads:
        t.join(300)
    assert all(b and getattr(b[0], "status", None) == 200 for b in boxes), boxes
    wait_for("the model to be ready again",
             lambda: srv.get("/v2/models/slow/ready").status == 200, timeout=30)
    assert srv.get("/v2/health/ready").status == 200
    assert srv.get("/healthz").json() == {"status": "ok", "model_loaded": True}
    assert stalled_gauge(srv, "slow") == 0
    assert wait_for("the recovery log line", lambda: [
        x for x in json_logs(srv) if re.match(r"model 'slow' version 1 is making progress again "
                                              r"after \d+ ms stalled", x.get("msg", ""))])


def test_moving_queue_stays_ready(servers, stall_repo):
    """Many short runs (about a tenth of the bound each) queued for several times the
    bound: progress all along, so the model never stalls."""
    srv = servers.start([stall_repo], args=["--stall-timeout-secs", "2"])
    batch = batch_for(srv, 0.2, model="quick", rows=16)
    boxes = [[] for _ in range(40)]
    threads = [in_thread(srv, "quick", slow_body(batch, "q-%d" % i), boxes[i])
               for i in range(len(boxes))]
    wait_for("queued requests", lambda: queued(srv, "quick", 2))
    states = []
    while any(t.is_alive() for t in threads):
        states.append(srv.get("/v2/models/quick/ready").status)
        time.sleep(0.05)
    assert all(b and getattr(b[0], "status", None) == 200 for b in boxes), boxes
    assert states and set(states) == {200}, states
    assert stalled_gauge(srv, "quick") == 0
    assert not [x for x in json_logs(srv) if "stalled" in x.get("msg", "")]
    assert "==== inferd state report ====" not in srv.stderr_text()


def test_watchdog_off(servers, stall_repo):
    """--stall-timeout-secs 0 turns the watchdog off: a stuck queue stays ready."""
    srv = servers.start([stall_repo], args=["--stall-timeout-secs", "0"])
    batch = batch_for(srv, 1.5)
    boxes = [[], []]
    threads = [in_thread(srv, "slow", slow_body(batch, "off-%d" % i), boxes[i]) for i in range(2)]
    wait_for("a queued request", lambda: queued(srv, "slow", 1))
    time.sleep(1.5)  # longer than any bound the test could be confused with
    assert srv.get("/v2/models/slow/ready").status == 200
    assert stalled_gauge(srv, "slow") == 0
    for t in threads:
        t.join(300)
    assert all(b and getattr(b[0], "status", None) == 200 for b in boxes), boxes


class HangingUpstream(http.server.BaseHTTPRequestHandler):
    """Valid metadata for `slow`; inference requests are held until `release` is set,
    then answered with garbage (the gateway says 502)."""
    release = threading.Event()

    def log_message(self, *a):
        pass

    def do_GET(self):
        body = json.dumps({"name": "slow", "versions": ["1"], "platform": "x",
                           "inputs": [{"name": "x", "datatype": "FP32", "shape": [-1, 64]}],
                           "outputs": [{"name": "y", "datatype": "FP32", "shape": [-1, 64]}]})
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body.encode())

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        self.release.wait(120)
        body = b"no answer"
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def test_hanging_upstream_stalls_remote_model(servers, tmp_path):
    up = socketserver.ThreadingTCPServer(("127.0.0.1", 0), HangingUpstream)
    up.daemon_threads = True
    HangingUpstream.release.clear()
    threading.Thread(target=up.serve_forever, daemon=True).start()
    try:
        d = tmp_path / "slow"
        (d / "1").mkdir(parents=True)
        (d / "config.pbtxt").write_text(
            'backend: "remote"\nmax_batch_size: 64\ninstance_group [ { count: 1 } ]\n'
            'parameters { key: "url" value: { string_value: "http://127.0.0.1:%d" } }\n'
            % up.server_address[1])
        srv = servers.start([tmp_path], args=["--stall-timeout-secs", str(STALL_SECS)],
                            warmup=False)
        boxes = [[], [], []]
        threads = [in_thread(srv, "slow", slow_body(1, "up-%d" % i), boxes[i]) for i in range(3)]
        wait_for("a queued request", lambda: queued(srv, "slow", 1))
        wait_for("the remote model to be reported stalled",
                 lambda: srv.get("/v2/models/slow/ready").status == 503)
        hz = srv.get("/healthz")
        assert hz.status == 503, hz
        assert hz.json() == {"status": "unavailable", "model_loaded": False,
                             "stalled_models": ["slow"]}
        wait_for("the stall log line", lambda: [
            x for x in json_logs(srv)
            if x.get("msg", "").startswith("model 'slow' version 1 stalled")])
        HangingUpstream.release.set()
        for t in threads:
            t.join(300)
        assert all(b and getattr(b[0], "status", None) == 502 for b in boxes), boxes
        wait_for("the model to be ready again",
                 lambda: srv.get("/v2/models/slow/ready").status == 200, timeout=30)
        assert srv.get("/healthz").status == 200
    finally:
        HangingUpstream.release.set()
        up.shutdown()
        up.server_close()
