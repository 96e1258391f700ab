"""The crash handler, for real: a SIGSEGV delivered to the model's worker thread while it
runs a slow request (no test hook in the server) must produce a report on stderr naming
the signal, a symbolized backtrace through inferd's own functions (with file:line), the
in-flight request with its id, model, version, operator and input shapes, and the other
threads' stacks; and the process must still die of SIGSEGV. SIGQUIT writes the same report
and the server carries on."""
import ctypes
import os
import re
import signal
import threading
import time

import pytest

import onnx_models as om
from conftest import tensor

LIBC = ctypes.CDLL(None, use_errno=True)


def thread_id(pid, comm):
    for tid in os.listdir("/proc/%d/task" % pid):
        try:
            with open("/proc/%d/task/%s/comm" % (pid, tid)) as f:
                if f.read().strip() == comm:
                    return int(tid)
        except OSError:
            pass
    return None


@pytest.fixture
def crash_repo(tmp_path):
    model, cfg, _ = om.slow_model(layers=48, width=512)
    om.write_model(str(tmp_path), "slow", model, cfg)
    return tmp_path


def start_slow_request(srv, rid, batch=64):
    result = []

    def run():
        try:
            result.append(srv.infer("slow", [tensor("x", "FP32", [batch, 64], [0.5] * (64 * batch))],
                                    id=rid, timeout=120))
        except OSError as e:  # the server dies under the request: expected
            result.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        reqs = srv.get("/debug/requests").json()["requests"]
        if any(q["id"] == rid and q["state"] == "running" for q in reqs):
            return t, result
        assert not result, "the slow request finished before the crash: %r" % result
        time.sleep(0.01)
    pytest.fail("the slow request never started running")


def node_shapes_fit(op, shapes, rows, width=512):
    """Whether `shapes` (a report's op_inputs) are the input shapes of a node `op` of the
    slow graph of `width` running a request of `rows` values."""
    w = width
    want = {"MatMul": [r"\[%d,(1|%d)\] \[(1|%d),%d\]" % (rows, w, w, w),
                       r"\[%d,%d\] \[%d,1\]" % (rows, w, w)],
            "Tanh": [r"\[%d,%d\]" % (rows, w)],
            "Reshape": [r"\[%d,64\] \[2\]" % (rows // 64), r"\[%d,1\] \[2\]" % rows]}
    return any(re.fullmatch(p, shapes) for p in want[op])


def crash_report(srv, kind="crash"):
    text = srv.stderr_text()
    m = re.search(r"==== inferd %s report ====\n(.*?)==== end of %s report ====" % (kind, kind),
                  text, re.S)
    assert m, "no %s report on stderr:\n%s" % (kind, srv.stderr_tail())
    return m.group(1)


def test_segv_in_worker_writes_report_and_dies(servers, crash_repo):
    srv = servers.start([crash_repo], leak_check=False)
    tid = thread_id(srv.proc.pid, "w:slow:0")
    assert tid, "no worker thread named w:slow:0"
    t, _ = start_slow_request(srv, "crash-req-42")
    # a fault inside the worker, as a bad kernel would cause
    assert LIBC.tgkill(srv.proc.pid, tid, signal.SIGSEGV) == 0, ctypes.get_errno()
    rc = srv.wait_exit(30)
    srv.checked = True  # it was meant to die: skip the clean-exit checks
    t.join(30)
    assert rc == -signal.SIGSEGV, "exit status %r\n%s" % (rc, srv.stderr_tail())
    rep = crash_report(srv)
    assert re.search(r"^signal: SIGSEGV \(11\)", rep, re.M), rep
    assert re.search(r'^thread: %d "w:slow:0"$' % tid, rep, re.M), rep
    frames = re.findall(r"^  #\d+ +0x[0-9a-f]+ (.*)$", rep, re.M)
    assert len(frames) >= 4, rep
    # the worker's stack, symbolized: scheduler and engine functions with file:line
    assert any(re.match(r"in worker_main\+0x[0-9a-f]+ at src/sched/sched\.c:\d+", f)
               for f in frames), rep
    assert any(re.match(r"in inferd_onnx_graph_run\+0x[0-9a-f]+ at src/backends/onnx/\S+:\d+",
                        f) for f in frames), rep
    assert "(sent by pid" in rep and "<- interrupted here" in rep, rep
    # every other thread's stack follows, the main thread's among them
    assert re.search(r'^thread: %d "inferd"\n(?:  #.*\n)*?  #\d+ +0x[0-9a-f]+ in '
                     r'inferd_server_run\+' % srv.proc.pid, rep, re.M), rep
    req = re.search(r"^  request id=crash-req-42 model=slow version=1 age_ms=\d+ "
                    r"state=running op=(\S+) inputs=\[64,64\] op_inputs=(.+)$", rep, re.M)
    assert req, rep
    assert req.group(1) in ("MatMul", "Tanh", "Reshape"), req.group(0)
    # The node's own input shapes, as the engine sees them: the graph turns the [64,64]
    # request into a column of 64*64 rows ([4096,1]) and widens it to [4096,512].
    assert node_shapes_fit(req.group(1), req.group(2), 64 * 64), req.group(0)


def test_abort_is_reported_too(servers, crash_repo):
    """SIGABRT (what assert() and INFERD_ASSERT raise) takes the same path; with no request
    in flight the report says so."""
    srv = servers.start([crash_repo], leak_check=False)
    # the warm-up request's slot is released just after its response was sent
    deadline = time.monotonic() + 5
    while srv.get("/debug/requests").json()["count"] and time.monotonic() < deadline:
        time.sleep(0.02)
    time.sleep(0.2)
    srv.send_signal(signal.SIGABRT)
    rc = srv.wait_exit(30)
    srv.checked = True
    assert rc == -signal.SIGABRT, "exit status %r\n%s" % (rc, srv.stderr_tail())
    rep = crash_report(srv)
    assert re.search(r"^signal: SIGABRT \(6\)", rep, re.M), rep
    assert "in-flight requests:\n  (none)\n" in rep, rep
    assert re.search(r"in \w+\+0x[0-9a-f]+ at src/\S+\.c:\d+", rep), rep


def test_sigquit_reports_state_and_keeps_serving(servers, crash_repo):
    """SIGQUIT writes the same report for a hang, and the server carries on."""
    srv = servers.start([crash_repo], leak_check=False)
    t, result = start_slow_request(srv, "quit-req-7", batch=32)
    srv.send_signal(signal.SIGQUIT)
    deadline = time.monotonic() + 10
    while "==== end of state report ====" not in srv.stderr_text():
        assert time.monotonic() < deadline, srv.stderr_tail()
        time.sleep(0.05)
    rep = crash_report(srv, "state")
    assert re.search(r"^signal: SIGQUIT \(3\)", rep, re.M), rep
    assert re.search(r"^  request id=quit-req-7 model=slow version=1 age_ms=\d+ state=\w+ "
                     r"op=\S+ inputs=\[32,64\]( op_inputs=.+)?$", rep, re.M), rep
    # the worker's stack is in the report, whichever thread received SIGQUIT
    assert re.search(r'"w:slow:0"\n(?:  #.*\n)*?  #\d+ +0x[0-9a-f]+ in worker_main\+', rep), rep
    t.join(120)
    assert result and getattr(result[0], "status", None) == 200, result
    assert srv.running()
    assert srv.get("/v2/health/ready").status == 200
    # the fixture's stop() then checks a clean SIGTERM exit (status 0)


def test_batched_requests_show_the_batch_operator(servers, tmp_path):
    """Requests that run as one batch execute on the batch's own context: /debug/requests
    and the state report still show each of them running, with the batch's operator and
    node input shapes (rows of both requests). A first request keeps the worker busy while
    the two queue up behind it, so that they form one batch."""
    model, cfg, _ = om.slow_model(name="slowb", layers=16, width=256, max_batch_size=1024)
    om.write_model(str(tmp_path), "slowb", model,
                   cfg + "dynamic_batching { max_queue_delay_microseconds: 100000 }\n")
    srv = servers.start([tmp_path], leak_check=False)

    def infer(rows, rid):
        return srv.infer("slowb", [tensor("x", "FP32", [rows, 64], [0.5] * (rows * 64))], id=rid,
                         timeout=300)

    # rows for a run of about two seconds here, whatever the build
    t0 = time.monotonic()
    assert infer(4, "calibrate").status == 200
    rows = max(1, min(512, int(2.0 / ((time.monotonic() - t0) / 4))))
    results = []

    def run(rid):
        results.append(infer(rows, rid))

    blocker = threading.Thread(target=run, args=("blocker",), daemon=True)
    blocker.start()
    deadline = time.monotonic() + 60
    while not any(q["id"] == "blocker" and q["state"] == "running"
                  for q in srv.get("/debug/requests").json()["requests"]):
        assert time.monotonic() < deadline and not results, "the first request never ran"
        time.sleep(0.01)
    threads = [threading.Thread(target=run, args=("batch-%d" % i,), daemon=True)
               for i in range(2)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + 120
    while True:
        reqs = [q for q in srv.get("/debug/requests").json()["requests"]
                if q["id"].startswith("batch-")]
        if len(reqs) == 2 and all(q["state"] == "running" for q in reqs):
            break
        assert time.monotonic() < deadline, reqs
        time.sleep(0.01)
    for q in reqs:
        assert q["current_op"] in ("MatMul", "Tanh", "Reshape"), q
        # the batch's shapes, or (if a node just finished) those of its next node
        assert isinstance(q["current_op_inputs"], str) and q["current_op_inputs"], q
    srv.send_signal(signal.SIGQUIT)
    deadline = time.monotonic() + 30
    while "==== end of state report ====" not in srv.stderr_text():
        assert time.monotonic() < deadline, srv.stderr_tail()
        time.sleep(0.05)
    rep = crash_report(srv, "state")
    lines = re.findall(r"^  request id=(batch-\d) model=slowb version=1 age_ms=\d+ "
                       r"state=running op=(\S+) inputs=\[%d,64\] op_inputs=(.+)$" % rows, rep, re.M)
    assert sorted(x[0] for x in lines) == ["batch-0", "batch-1"], rep
    for _, op, shapes in lines:
        assert node_shapes_fit(op, shapes, 2 * rows * 64, width=256), (op, shapes)
    for t in [blocker] + threads:
        t.join(300)
    assert [r.status for r in results] == [200, 200, 200], results
