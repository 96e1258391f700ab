"""/debug/threads and /debug/tensors: shape of the answers, internal consistency, that
they reflect reality (threads named, model weights accounted), loopback-only."""
import http.client
import os
import socket
import subprocess
import threading
import time

import pytest

import conftest
from conftest import tensor

OWNERS = ("request", "model", "arena", "shm")


def test_threads_shape(examples_server):
    r = examples_server.get("/debug/threads")
    assert r.status == 200, r
    t = r.json()
    assert isinstance(t["registered"], list) and isinstance(t["os"], list)
    assert t["registered_count"] == len(t["registered"])
    assert t["os_count"] == len(t["os"])
    assert t["registered_count"] >= 1  # at least the model's instance worker
    assert t["os_count"] >= t["registered_count"]
    for th in t["registered"]:
        assert isinstance(th["name"], str) and th["name"], th
        assert isinstance(th["role"], str) and th["role"], th
        assert isinstance(th["state"], str) and th["state"], th
        assert isinstance(th["cpu_seconds"], (int, float)) and th["cpu_seconds"] >= 0, th
    tids = set()
    for th in t["os"]:
        assert isinstance(th["tid"], int) and th["tid"] > 0, th
        assert isinstance(th["name"], str), th
        assert isinstance(th["state"], str) and th["state"], th
        assert isinstance(th["cpu_seconds"], (int, float)) and th["cpu_seconds"] >= 0, th
        tids.add(th["tid"])
    assert len(tids) == len(t["os"])  # no duplicates
    assert examples_server.proc.pid in tids  # the main thread's tid is the pid


def test_threads_match_proc(examples_server):
    """os_count agrees with the kernel's view (/proc/<pid>/task)."""
    t = examples_server.get("/debug/threads").json()
    tasks = set(int(x) for x in os.listdir("/proc/%d/task" % examples_server.proc.pid))
    listed = {th["tid"] for th in t["os"]}
    # threads may come and go between the two reads; the sets must mostly agree
    assert len(listed ^ tasks) <= 2, (listed, tasks)
    names = {th["name"] for th in t["os"]}
    reg_names = {th["name"][:15] for th in t["registered"]}
    assert reg_names <= names, (reg_names, names)


def test_tensors_shape_and_consistency(examples_server):
    r = examples_server.get("/debug/tensors")
    assert r.status == 200, r
    t = r.json()
    assert set(OWNERS) <= set(t["by_owner"])
    for o in OWNERS:
        c, b = t["by_owner"][o]["count"], t["by_owner"][o]["bytes"]
        assert isinstance(c, int) and c >= 0 and isinstance(b, int) and b >= 0, (o, c, b)
    assert t["total_count"] == sum(t["by_owner"][o]["count"] for o in t["by_owner"])
    assert t["total_bytes"] == sum(t["by_owner"][o]["bytes"] for o in t["by_owner"])
    # the examples' weights are live model tensors; digits alone has > 8 KB of weights
    assert t["by_owner"]["model"]["count"] >= 2
    assert t["by_owner"]["model"]["bytes"] >= 64 * 32 * 4
    # idle server: no request tensors alive
    assert t["by_owner"]["request"]["count"] == 0
    assert t["by_owner"]["shm"]["count"] == 0


def test_tensors_seen_while_requests_in_flight(examples_server):
    """While many requests are running, /debug/tensors must be readable and consistent;
    afterwards the request count is back to 0 (checked again by the autouse fixture)."""
    stop = threading.Event()
    errors = []

    def client():
        while not stop.is_set():
            r = examples_server.infer("digits", [tensor("pixels", "FP32", [64, 64],
                                                        [3.0] * 4096)])
            if r.status != 200:
                errors.append(r)

    threads = [threading.Thread(target=client) for _ in range(4)]
    for th in threads:
        th.start()
    try:
        for _ in range(20):
            t = examples_server.get("/debug/tensors").json()
            assert t["total_count"] == sum(v["count"] for v in t["by_owner"].values())
            time.sleep(0.02)
    finally:
        stop.set()
        for th in threads:
            th.join(60)
    assert not errors, errors[:3]
    deadline = time.monotonic() + 5
    while examples_server.get("/debug/tensors").json()["by_owner"]["request"]["count"]:
        assert time.monotonic() < deadline, "request tensors still alive after all requests"
        time.sleep(0.05)


def test_threads_do_not_grow_with_connections(examples_server):
    before = examples_server.get("/debug/threads").json()["os_count"]
    for _ in range(50):
        s = socket.create_connection(("127.0.0.1", examples_server.port), timeout=5)
        s.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        while s.recv(4096):
            pass
        s.close()
    deadline = time.monotonic() + 3
    while True:
        now = examples_server.get("/debug/threads").json()["os_count"]
        if now <= before:
            break
        assert time.monotonic() < deadline, (before, now)
        time.sleep(0.05)


def get_from(ip, port, path):
    c = http.client.HTTPConnection(ip, port, timeout=10)
    c.request("GET", path)
    r = c.getresponse()
    body = r.read()
    c.close()
    return r.status, body


def test_debug_is_loopback_only(servers, examples_repo, non_loopback_ip):
    ip = non_loopback_ip
    s = servers.start([examples_repo], address="0.0.0.0", leak_check=False)
    for path in ("/debug/threads", "/debug/tensors"):
        c = http.client.HTTPConnection(ip, s.port, timeout=10)
        c.request("GET", path)
        r = c.getresponse()
        body = r.read()
        c.close()
        assert r.status in (403, 404), (path, r.status, body)
        assert b"registered" not in body and b"by_owner" not in body
    c = http.client.HTTPConnection(ip, s.port, timeout=10)
    c.request("GET", "/v2/health/live")
    r = c.getresponse()
    r.read()
    c.close()
    assert r.status == 200
    assert s.get("/debug/threads").status == 200  # loopback still works


def test_debug_address_admits_listed_networks(servers, examples_repo, non_loopback_ip):
    ip = non_loopback_ip
    # The peer's own /32 is listed: /debug answers it; a network it is not in does not.
    s = servers.start([examples_repo], ["--debug-address", "198.51.100.0/24, %s/32" % ip],
                      address="0.0.0.0", leak_check=False)
    for path in ("/debug/threads", "/debug/tensors", "/debug/requests"):
        status, body = get_from(ip, s.port, path)
        assert status == 200, (path, status, body)
    s2 = servers.start([examples_repo], ["--debug-address", "198.51.100.0/24"],
                       address="0.0.0.0", leak_check=False)
    status, body = get_from(ip, s2.port, "/debug/requests")
    assert status == 403, (status, body)
    assert b"--debug-address" in body


def test_debug_address_rejects_a_bad_network(examples_repo):
    r = subprocess.run([conftest.BIN, "--model-repository", examples_repo, "--http-port",
                        str(conftest.free_port()), "--metrics-port", "0", "--debug-address", "10.0.0.0/99"],
                       capture_output=True, text=True, timeout=30)
    assert r.returncode != 0
    assert "'10.0.0.0/99' is not an address or CIDR network" in r.stdout + r.stderr


def test_debug_requests_current_op_inputs(servers, tmp_path):
    """/debug/requests names the node a running request is in and that node's input shapes
    (current_op_inputs); a request that waits in the queue has neither."""
    import json
    import re

    import onnx_models as om
    model, cfg, _ = om.slow_model(layers=16, width=256)
    om.write_model(str(tmp_path), "slow", model, cfg)
    srv = servers.start([tmp_path])

    def body(rows, rid):
        return json.dumps({"id": rid, "inputs": [
            tensor("x", "FP32", [rows, 64], [0.1] * (rows * 64))]}).encode()

    # rows for a run of about a second here, whatever the build (sanitizers are slower)
    t0 = time.monotonic()
    assert srv.post("/v2/models/slow/infer", body(4, "calibrate"), timeout=300).status == 200
    rows = max(1, min(256, int(1.0 / ((time.monotonic() - t0) / 4))))
    done = []

    def run(rid):
        done.append(srv.post("/v2/models/slow/infer", body(rows, rid), timeout=300))

    threads = [threading.Thread(target=run, args=("ops-%d" % i,)) for i in range(2)]
    for t in threads:
        t.start()
    try:
        running = waiting = None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (running and waiting) and len(done) < 2:
            for q in srv.get("/debug/requests").json()["requests"]:
                if q["id"].startswith("ops-") and q["state"] == "running":
                    running = q
                elif q["id"].startswith("ops-"):
                    waiting = q
            time.sleep(0.01)
        assert running and waiting, (running, waiting)
        n = rows * 64
        shapes = {"MatMul": r"\[%d,(1|256)\] \[(1|256),(256|1)\]" % n,
                  "Tanh": r"\[%d,256\]" % n,
                  "Reshape": r"\[(%d,64|%d,1)\] \[2\]" % (rows, n)}
        assert re.fullmatch(shapes[running["current_op"]], running["current_op_inputs"]), running
        assert waiting["current_op"] is None and waiting["current_op_inputs"] is None, waiting
    finally:
        for t in threads:
            t.join(300)
    assert [r.status for r in done] == [200, 200], done
