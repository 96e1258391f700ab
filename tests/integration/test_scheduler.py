"""Scheduler behaviour end to end: dynamic batching really batches and changes no result;
queue policy timeouts (REJECT and DELAY) and the per-request timeout; admission bound
(429 with Retry-After); cancellation of queued and running requests by client disconnect;
and a churn of requests with random disconnects and timeouts that leaves no thread, file
descriptor or tensor behind."""
import concurrent.futures
import json
import os
import random
import re
import socket
import threading
import time

import numpy as np
import pytest

import onnx_models as om
from conftest import SANITIZED, dumps, tensor

SLOW_SECONDS = 0.5  # wanted duration of one slow request


def counter(metrics_text, name, model, **labels):
    """Value of one Prometheus sample (0 if absent)."""
    want = dict(model=model, **labels)
    for line in metrics_text.splitlines():
        m = re.match(r"^%s\{([^}]*)\} (\S+)$" % re.escape(name), line)
        if not m:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(1)))
        if all(got.get(k) == v for k, v in want.items()):
            return float(m.group(2))
    return 0.0


def slow_config(name, extra):
    _, cfg, _ = om.slow_model(name=name)
    return cfg + extra


@pytest.fixture(scope="module")
def sched_repo(tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("sched_repo"))
    om.copy_examples(repo, ["digits"])
    # digits with dynamic batching (the example itself runs one request at a time).
    cfg_path = os.path.join(repo, "digits", "config.pbtxt")
    with open(cfg_path, "a") as f:
        f.write("dynamic_batching { max_queue_delay_microseconds: 2000 }\n")
    model, _, ref = om.slow_model()
    om.write_model(repo, "slow_reject", model, slow_config("slow_reject", """
dynamic_batching {
  default_queue_policy {
    timeout_action: REJECT default_timeout_microseconds: 100000 allow_timeout_override: true
  }
}
"""))
    # max_batch_size 64: two 40-row requests can never share an execution.
    delay_model, delay_cfg, _ = om.slow_model(name="slow_delay", max_batch_size=64)
    om.write_model(repo, "slow_delay", delay_model, delay_cfg + """
dynamic_batching {
  default_queue_policy { timeout_action: DELAY allow_timeout_override: true }
}
""")
    om.write_model(repo, "slow_small_queue", model, slow_config("slow_small_queue", """
dynamic_batching { default_queue_policy { max_queue_size: 1 } }
"""))
    om.write_model(repo, "slow", model, om.slow_model(max_batch_size=1024)[1])
    return repo, ref


@pytest.fixture(scope="module")
def srv(module_servers, sched_repo):
    return module_servers.start([sched_repo[0]])


def slow_input(batch, seed=0):
    return np.random.RandomState(seed).uniform(-1, 1, (batch, 64)).astype(np.float32)


@pytest.fixture(scope="module")
def slow_batch(srv):
    """Batch size for which one slow request takes about SLOW_SECONDS here."""
    batch = 4
    while True:
        t0 = time.monotonic()
        r = srv.infer("slow", [tensor("x", "FP32", [batch, 64], slow_input(batch).tolist())])
        dt = time.monotonic() - t0
        assert r.status == 200, r
        if dt >= SLOW_SECONDS or batch >= 256:
            return batch, dt
        batch = min(256, max(batch * 2, int(batch * SLOW_SECONDS / max(dt, 1e-3)) + 1))


def slow_body(batch, seed=0, parameters=None, id=None):
    body = {"inputs": [tensor("x", "FP32", [batch, 64], slow_input(batch, seed).tolist())]}
    if parameters:
        body["parameters"] = parameters
    if id:
        body["id"] = id
    return dumps(body)


def in_thread(fn, *args):
    box = {}

    def run():
        t0 = time.monotonic()
        try:
            box["r"] = fn(*args)
        except Exception as e:  # noqa: BLE001
            box["r"] = e
        box["t"] = time.monotonic()
        box["dt"] = box["t"] - t0

    th = threading.Thread(target=run)
    th.start()
    return th, box


def post_slow(srv, model, body):
    return srv.post("/v2/models/%s/infer" % model, body, timeout=120)


def wait_running(srv, model, timeout=10):
    """Waits until the model's worker thread is running (a request is executing)."""
    deadline = time.monotonic() + timeout
    prefix = "w:" + model[:10]
    while time.monotonic() < deadline:
        th = srv.get("/debug/threads").json()
        for t in th["registered"]:
            if t["name"].startswith(prefix) and t["state"] == "running":
                return
        time.sleep(0.005)
    raise AssertionError("model %s never started running" % model)


# ---- batching --------------------------------------------------------------------------------

def test_batching_happens_and_changes_no_result(srv, sched_repo):
    with open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "data",
                           "digits_heldout.json")) as f:
        held = json.load(f)
    images = held["inputs"][:64]
    # Each image alone first: the reference answer.
    alone = []
    for img in images:
        r = srv.infer("digits", [tensor("pixels", "FP32", [1, 64], img)])
        assert r.status == 200, r
        alone.append(r.body)
    before = srv.metrics()
    with concurrent.futures.ThreadPoolExecutor(32) as pool:
        futs = [pool.submit(srv.infer, "digits", [tensor("pixels", "FP32", [1, 64], img)])
                for img in images for _ in range(4)]
        got = [f.result() for f in futs]
    after = srv.metrics()
    for k, r in enumerate(got):
        assert r.status == 200, r
        assert r.body == alone[k // 4], "batched answer differs from the answer alone"
    inf = counter(after, "nv_inference_count", "digits") - counter(before, "nv_inference_count",
                                                                      "digits")
    execs = counter(after, "nv_inference_exec_count", "digits") - \
        counter(before, "nv_inference_exec_count", "digits")
    assert inf == len(got)
    assert execs < inf, "no two requests were batched (%d executions for %d)" % (execs, inf)


# ---- queue policy ------------------------------------------------------------------------------

def test_queue_timeout_reject(srv, slow_batch):
    batch, full = slow_batch
    a, abox = in_thread(post_slow, srv, "slow_reject", slow_body(batch, 1, {"timeout": 60000000}))
    wait_running(srv, "slow_reject")
    t0 = time.monotonic()
    r = post_slow(srv, "slow_reject", slow_body(batch, 2))  # policy default: 100 ms
    waited = time.monotonic() - t0
    assert r.status == 504, r
    assert "timed out" in r.error
    a.join()
    assert abox["r"].status == 200, abox["r"]
    # Answered by the timer while the first request still ran, not after it.
    assert abox["t"] > t0 + waited


def test_request_timeout_override(srv, slow_batch):
    batch, _ = slow_batch
    a, abox = in_thread(post_slow, srv, "slow", slow_body(batch, 1))
    wait_running(srv, "slow")
    r = post_slow(srv, "slow", slow_body(batch, 2, {"timeout": 50000}))
    assert r.status == 504, r
    a.join()
    assert abox["r"].status == 200


def test_queue_timeout_delay_runs_expired_last(srv, slow_batch):
    a, abox = in_thread(post_slow, srv, "slow_delay", slow_body(64, 1))
    small = 40
    wait_running(srv, "slow_delay")
    late, lbox = in_thread(post_slow, srv, "slow_delay",
                           slow_body(small, 2, {"timeout": 1000}, id="expired"))
    time.sleep(0.05)
    fresh, fbox = in_thread(post_slow, srv, "slow_delay", slow_body(small, 3, id="fresh"))
    for t in (a, late, fresh):
        t.join()
    assert lbox["r"].status == 200, lbox["r"]  # DELAY: not rejected...
    assert fbox["r"].status == 200, fbox["r"]
    assert fbox["t"] < lbox["t"], "...but run after the request that had not expired"


def test_full_queue_answers_429_with_retry_after(srv, slow_batch):
    batch, _ = slow_batch
    before = srv.metrics()
    a, abox = in_thread(post_slow, srv, "slow_small_queue", slow_body(batch, 1))
    wait_running(srv, "slow_small_queue")
    b, bbox = in_thread(post_slow, srv, "slow_small_queue", slow_body(batch, 2))
    deadline = time.monotonic() + 5
    while counter(srv.metrics(), "nv_inference_pending_request_count", "slow_small_queue") < 1:
        assert time.monotonic() < deadline, "second request never queued"
        time.sleep(0.005)
    t0 = time.monotonic()
    r = post_slow(srv, "slow_small_queue", slow_body(batch, 3))
    assert time.monotonic() - t0 < 2.0, "the full queue did not answer at once"
    assert r.status == 429, r
    assert r.headers.get("retry-after") == "1"
    assert "queue is full" in r.error
    a.join()
    b.join()
    assert abox["r"].status == 200 and bbox["r"].status == 200
    after = srv.metrics()
    assert counter(after, "nv_inference_request_failure", "slow_small_queue", reason="REJECTED") \
        - counter(before, "nv_inference_request_failure", "slow_small_queue",
                  reason="REJECTED") == 1


# ---- cancellation ------------------------------------------------------------------------------

def raw_post_then_close(srv, model, body, after=0.0):
    s = socket.create_connection(("127.0.0.1", srv.port))
    s.sendall(b"POST /v2/models/%s/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
              % (model.encode(), len(body)) + body)
    time.sleep(after)
    s.close()


def test_disconnect_while_queued_cancels(srv, slow_batch):
    batch, _ = slow_batch
    before = srv.metrics()
    a, abox = in_thread(post_slow, srv, "slow", slow_body(batch, 1))
    wait_running(srv, "slow")
    raw_post_then_close(srv, "slow", slow_body(batch, 2), after=0.05)
    deadline = time.monotonic() + 5
    while counter(srv.metrics(), "nv_inference_request_failure", "slow", reason="CANCELED") \
            == counter(before, "nv_inference_request_failure", "slow", reason="CANCELED"):
        assert time.monotonic() < deadline, "the abandoned request was not cancelled"
        time.sleep(0.01)
    a.join()
    assert abox["r"].status == 200
    after = srv.metrics()
    assert counter(after, "nv_inference_exec_count", "slow") - \
        counter(before, "nv_inference_exec_count", "slow") == 1, "the cancelled request ran"
    assert any(r.get("msg", "").startswith("client of request") for r in srv.log_records())


def test_disconnect_while_running_frees_the_worker(srv, slow_batch):
    batch, full = slow_batch
    rows = min(1024, batch * 6)
    whole = full * rows / batch  # what running it to the end would take
    before = srv.metrics()
    body = slow_body(rows, 4)
    sock = socket.create_connection(("127.0.0.1", srv.port))
    sock.sendall(b"POST /v2/models/slow/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
                 % len(body) + body)
    wait_running(srv, "slow")
    t0 = time.monotonic()
    sock.close()
    # The engine stops at its next operator: the worker is idle long before a full run.
    while True:
        th = srv.get("/debug/threads").json()
        states = [t["state"] for t in th["registered"] if t["name"].startswith("w:slow:")]
        if states and all(s == "idle" for s in states):
            break
        assert time.monotonic() < t0 + whole, "the worker ran the abandoned request to the end"
        time.sleep(0.005)
    freed = time.monotonic() - t0
    assert freed < whole / 2, (freed, whole)
    after = srv.metrics()
    assert counter(after, "nv_inference_request_failure", "slow", reason="CANCELED") - \
        counter(before, "nv_inference_request_failure", "slow", reason="CANCELED") == 1


# ---- churn ---------------------------------------------------------------------------------------

def fd_count(pid):
    return len(os.listdir("/proc/%d/fd" % pid))


def test_churn_leaves_nothing_behind(srv):
    n = 2000 if SANITIZED else 10000
    img = [0.0] * 64
    body = dumps({"inputs": [tensor("pixels", "FP32", [1, 64], img)]})
    timed = dumps({"inputs": [tensor("pixels", "FP32", [1, 64], img)],
                   "parameters": {"timeout": 1}})
    srv.infer("digits", [tensor("pixels", "FP32", [1, 64], img)])
    # Earlier tests may have left a cancelled slow request finishing: wait for quiet.
    deadline = time.monotonic() + 60
    while True:
        base = srv.snapshot()
        if base["request_tensors"] == 0 and base["arena_tensors"] == 0:
            break
        assert time.monotonic() < deadline, base
        time.sleep(0.05)
    base_fds = fd_count(srv.proc.pid)
    rng = random.Random(0)
    kinds = [rng.random() for _ in range(n)]

    def one(k):
        x = kinds[k]
        if x < 0.1:
            raw_post_then_close(srv, "digits", body)
            return "gone"
        r = srv.post("/v2/models/digits/infer", timed if x < 0.2 else body, timeout=60)
        assert r.status in (200, 504), r
        return r.status

    with concurrent.futures.ThreadPoolExecutor(16) as pool:
        results = list(pool.map(one, range(n)))
    assert results.count(200) > n // 2
    deadline = time.monotonic() + 10
    while True:
        now, fds = srv.snapshot(), fd_count(srv.proc.pid)
        if now == base and fds == base_fds:
            break
        assert time.monotonic() < deadline, (base, now, base_fds, fds)
        time.sleep(0.05)
