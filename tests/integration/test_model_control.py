"""Model control: --model-control-mode explicit (load/unload API), poll (new models,
versions and configs noticed; removed models unloaded), hot reload without dropping
in-flight requests, and --check-repository."""
import http.client
import json
import os
import shutil
import subprocess
import threading
import time

import numpy as np
import pytest

import onnx_models as om
from conftest import BIN, tensor


def write_versioned(repo, version, value, name="versioned", policy=""):
    cfg = om.config_text(name, 8, [("x", "TYPE_FP32", [1])], [("y", "TYPE_FP32", [1])],
                         extra=policy)
    om.write_model(repo, name, om.constant_add_model(value, name), cfg, version=version)


def add_one(srv, model="versioned", x=1.0, version=None):
    r = srv.infer(model, [tensor("x", "FP32", [1, 1], [[x]])], version=version)
    return r


def wait_for(pred, timeout=15, what="condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if pred():
            return
        time.sleep(0.1)
    raise AssertionError("timed out waiting for " + what)


# ---- explicit ------------------------------------------------------------------------------

def test_explicit_mode_loads_only_what_is_asked(servers, tmp_path):
    repo = str(tmp_path)
    om.copy_examples(repo, ["digits", "add_mul"])
    s = servers.start([repo], ["--model-control-mode", "explicit", "--load-model", "digits"])
    idx = {e["name"]: e for e in s.index()}
    assert idx["digits"]["state"] == "READY"
    assert idx["add_mul"]["state"] == "UNAVAILABLE"
    assert idx["add_mul"]["reason"] == "unloaded"
    assert s.get("/v2/health/ready").status == 200  # an unloaded model is not a failure
    r = s.infer("add_mul", [tensor("a", "FP32", [1], [1]), tensor("b", "FP32", [1], [2])])
    assert r.status == 404, r

    r = s.post("/v2/repository/models/add_mul/load")
    assert r.status == 200, r
    r = s.infer("add_mul", [tensor("a", "FP32", [1], [1]), tensor("b", "FP32", [1], [2])])
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == [3]

    r = s.post("/v2/repository/models/add_mul/unload", b'{"parameters":{"unload_dependents":false}}')
    assert r.status == 200, r
    r = s.infer("add_mul", [tensor("a", "FP32", [1], [1]), tensor("b", "FP32", [1], [2])])
    assert r.status == 404, r
    assert s.get("/v2/health/ready").status == 200
    assert "model_repository" in s.get("/v2").json()["extensions"]


def test_explicit_load_errors(servers, tmp_path):
    repo = str(tmp_path)
    om.copy_examples(repo, ["digits"])
    os.makedirs(os.path.join(repo, "broken", "1"))
    with open(os.path.join(repo, "broken", "1", "model.onnx"), "wb") as f:
        f.write(b"not an onnx file")
    s = servers.start([repo], ["--model-control-mode", "explicit", "--load-model", "digits"])
    assert s.post("/v2/repository/models/nope/load").status == 404
    r = s.post("/v2/repository/models/broken/load")
    assert r.status == 503, r
    assert "broken" in r.error
    r = s.post("/v2/repository/models/digits/load",
               b'{"parameters":{"file:1/model.onnx":"AAAA"}}')
    assert r.status == 501, r
    r = s.post("/v2/repository/models/digits/load", b'{"parameters":{"config":"[1]"}}')
    assert r.status == 400, r
    r = s.post("/v2/repository/models/digits/load", b'{"parameters":{"config":7}}')
    assert r.status == 400, r
    r = s.post("/v2/repository/models/digits/load", b"[1]")
    assert r.status == 400, r
    assert s.post("/v2/repository/models/nope/unload").status == 404
    assert s.get("/v2/repository/models/digits/load").status == 405


def test_load_refused_without_explicit_mode(servers, tmp_path):
    repo = str(tmp_path)
    om.copy_examples(repo, ["digits"])
    s = servers.start([repo])
    r = s.post("/v2/repository/models/digits/load")
    assert r.status == 501, r
    assert "explicit" in r.error


def test_reload_keeps_in_flight_requests_on_the_old_version(servers, tmp_path):
    repo = str(tmp_path)
    model, cfg, ref = om.slow_model(name="slow")
    om.write_model(repo, "slow", model, cfg)
    write_versioned(repo, 1, 10.0)
    s = servers.start([repo], ["--model-control-mode", "explicit", "--load-model", "*"])
    assert add_one(s).json()["outputs"][0]["data"] == [11.0]

    # Keep the slow model busy while "versioned" is reloaded under traffic.
    x = np.random.RandomState(0).uniform(-1, 1, (64, 64)).astype(np.float32)
    slow_results = []
    slow = threading.Thread(target=lambda: slow_results.append(
        s.infer("slow", [tensor("x", "FP32", [64, 64], x.tolist())], timeout=120)))
    slow.start()

    results, stop = [], threading.Event()

    def hammer():
        while not stop.is_set():
            results.append(add_one(s))

    workers = [threading.Thread(target=hammer) for _ in range(4)]
    for w in workers:
        w.start()
    time.sleep(0.2)
    shutil.rmtree(os.path.join(repo, "versioned", "1"))
    write_versioned(repo, 2, 20.0)
    r = s.post("/v2/repository/models/versioned/load")
    assert r.status == 200, r
    time.sleep(0.2)
    stop.set()
    for w in workers:
        w.join()
    slow.join()
    assert slow_results[0].status == 200
    # Every request got an answer, from one version or the other: none was dropped.
    seen = set()
    for r in results:
        assert r.status == 200, r
        body = r.json()
        seen.add((body["model_version"], body["outputs"][0]["data"][0]))
    assert seen <= {("1", 11.0), ("2", 21.0)}, seen
    assert ("2", 21.0) in seen
    md = s.metadata("versioned")
    assert md["versions"] == ["2"]
    assert add_one(s, version=1).status == 404


# ---- poll ---------------------------------------------------------------------------------

def test_poll_mode_follows_the_repository(servers, tmp_path):
    repo = str(tmp_path)
    om.copy_examples(repo, ["digits"])
    s = servers.start([repo], ["--model-control-mode", "poll", "--repository-poll-secs", "1"])
    assert s.post("/v2/repository/models/digits/load").status == 501

    # A new model appears.
    write_versioned(repo, 1, 1.0)
    wait_for(lambda: add_one(s).status == 200, what="the new model to be served")
    assert add_one(s).json()["outputs"][0]["data"] == [2.0]

    # A new version directory: the latest policy serves it instead.
    write_versioned(repo, 2, 5.0)
    wait_for(lambda: s.metadata("versioned")["versions"] == ["2"], what="version 2")
    assert add_one(s).json()["outputs"][0]["data"] == [6.0]

    # A changed config: serve every version.
    cfg = om.config_text("versioned", 8, [("x", "TYPE_FP32", [1])], [("y", "TYPE_FP32", [1])],
                         extra="version_policy { all { } }\n")
    with open(os.path.join(repo, "versioned", "config.pbtxt"), "w") as f:
        f.write(cfg)
    wait_for(lambda: s.metadata("versioned")["versions"] == ["1", "2"], what="both versions")
    assert add_one(s, version=1).json()["outputs"][0]["data"] == [2.0]

    # A broken update keeps the serving versions.
    with open(os.path.join(repo, "versioned", "config.pbtxt"), "w") as f:
        f.write("max_batch_size: oops\n")
    time.sleep(2.5)
    assert add_one(s, version=2).status == 200

    # The directory goes: the model is unloaded.
    shutil.rmtree(os.path.join(repo, "versioned"))
    wait_for(lambda: add_one(s).status == 404, what="the removed model to be unloaded")
    assert s.get("/v2/health/ready").status == 200


# ---- offline check ------------------------------------------------------------------------

def test_check_repository(tmp_path):
    good = str(tmp_path / "good")
    om.copy_examples(good)
    r = subprocess.run([BIN, "--check-repository", good], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, r.stdout + r.stderr
    assert "0 problems" in r.stdout

    bad = str(tmp_path / "bad")
    om.copy_examples(bad, ["digits", "add_mul"])
    with open(os.path.join(bad, "add_mul", "config.pbtxt"), "a") as f:
        f.write("\nmax_batch_sise: 4\n")
    r = subprocess.run([BIN, "--check-repository", bad], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 1, r.stdout + r.stderr
    line = [l for l in r.stdout.splitlines() if "add_mul" in l]
    assert line, r.stdout
    assert "config.pbtxt:" in line[0] and "max_batch_sise" in line[0], line
    assert "1 problems" in r.stdout


# ---- admin safety -------------------------------------------------------------------------

def test_admin_token_guards_load_unload_and_shm(servers, tmp_path):
    repo = str(tmp_path)
    om.copy_examples(repo, ["digits", "add_mul"])
    s = servers.start([repo], ["--model-control-mode", "explicit", "--load-model", "digits",
                               "--admin-token", "s3cret", "--admin-loopback-only", "true",
                               "--allow-client-shm", "true"])
    for hdr in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "s3cret"},
                {"Authorization": "Bearer s3cret-and-more"}):
        r = s.post("/v2/repository/models/add_mul/load", headers=hdr)
        assert r.status == 403, (hdr, r)
        assert "admin-token" in r.error
        r = s.post("/v2/systemsharedmemory/region/r/register",
                   b'{"key":"/nope","offset":0,"byte_size":8}', headers=hdr)
        assert r.status == 403, (hdr, r)
        r = s.post("/v2/logging", b'{"log_info":false}', headers=hdr)
        assert r.status == 403, (hdr, r)
    assert s.get("/v2/logging").json()["log_info"] is True  # reads need no token
    ok = {"Authorization": "Bearer s3cret"}
    r = s.post("/v2/logging", b'{"log_verbose_level":1}', headers=ok)
    assert r.status == 200 and r.json()["log_verbose_level"] == 1, r
    assert s.post("/v2/repository/models/add_mul/load", headers=ok).status == 200
    assert s.post("/v2/repository/models/add_mul/unload", headers=ok).status == 200
    # Inference and reads need no token.
    assert s.infer("digits", [tensor("pixels", "FP32", [1, 64], [0] * 64)]).status == 200
    assert s.get("/v2/systemsharedmemory/status").status == 200


def test_model_names_that_are_paths_are_rejected(servers, tmp_path):
    repo = str(tmp_path / "repo")
    os.makedirs(repo)
    om.copy_examples(repo, ["digits"])
    s = servers.start([repo], ["--model-control-mode", "explicit"])
    for name in ("%2E%2E", "a%2Fb", "%2E", "a%5Cb"):
        r = s.post("/v2/repository/models/%s/load" % name)
        assert r.status == 400, (name, r)
        assert "invalid model name" in r.error


def test_hot_reload_cycles_under_load_drop_nothing(servers, tmp_path):
    """A load generator runs while versions are added, the config changed and old versions
    removed, several times: no request fails, and every answer is consistent with the
    version that produced it and that version was being served."""
    repo = str(tmp_path)
    write_versioned(repo, 1, 10.0)
    s = servers.start([repo], ["--model-control-mode", "explicit", "--load-model", "*"])
    results, stop = [], threading.Event()

    def generator():
        while not stop.is_set():
            t0 = time.monotonic()
            r = add_one(s)
            results.append((t0, time.monotonic(), r))

    gens = [threading.Thread(target=generator) for _ in range(4)]
    for g in gens:
        g.start()
    served = {1: (0.0, None)}  # version -> (first time served, last time served or None)
    try:
        for k in range(1, 5):
            time.sleep(0.1)
            write_versioned(repo, k + 1, 10.0 * (k + 1))           # a new version
            t_load = time.monotonic()  # it is swapped in during this call
            assert s.post("/v2/repository/models/versioned/load").status == 200
            served[k + 1] = (t_load, None)
            time.sleep(0.1)
            all_cfg = om.config_text("versioned", 8, [("x", "TYPE_FP32", [1])],
                                     [("y", "TYPE_FP32", [1])],
                                     extra="version_policy { all { } }\n")
            with open(os.path.join(repo, "versioned", "config.pbtxt"), "w") as f:
                f.write(all_cfg)                                      # a config change
            assert s.post("/v2/repository/models/versioned/load").status == 200
            time.sleep(0.1)
            shutil.rmtree(os.path.join(repo, "versioned", str(k)))  # the old version goes
            write_versioned(repo, k + 1, 10.0 * (k + 1))            # back to latest policy
            assert s.post("/v2/repository/models/versioned/load").status == 200
            served[k] = (served[k][0], time.monotonic())
    finally:
        stop.set()
        for g in gens:
            g.join()
    assert len(results) > 100
    for t0, t1, r in results:
        assert r.status == 200, r  # zero failed requests
        body = r.json()
        v = int(body["model_version"])
        assert body["outputs"][0]["data"] == [1.0 + 10.0 * v], body
        first, last = served[v]
        # The version answering was being served at some point during the request.
        assert first <= t1 and (last is None or last >= t0), (v, t0, t1, served[v])


def test_load_with_a_config_override(servers, tmp_path):
    repo = str(tmp_path)
    om.copy_examples(repo, ["digits"])
    s = servers.start([repo], ["--model-control-mode", "explicit", "--load-model", "digits"])
    cfg = s.get("/v2/models/digits/config").json()
    assert cfg["max_batch_size"] == 64
    cfg["max_batch_size"] = 2  # the override: at most 2 images per request
    body = json.dumps({"parameters": {"config": json.dumps(cfg)}}).encode()
    r = s.post("/v2/repository/models/digits/load", body)
    assert r.status == 200, r
    assert s.get("/v2/models/digits/config").json()["max_batch_size"] == 2
    three = [tensor("pixels", "FP32", [3, 64], [[0] * 64] * 3)]
    assert s.infer("digits", three).status == 400
    r = s.infer("digits", [tensor("pixels", "FP32", [2, 64], [[0] * 64] * 2)],
                outputs=[{"name": "probabilities", "parameters": {"classification": 1}}])
    assert r.status == 200, r  # the labels file still comes from the model directory
    # A bad override is refused with where and why; the model keeps serving.
    cfg["max_batch_sise"] = 4
    body = json.dumps({"parameters": {"config": json.dumps(cfg)}}).encode()
    r = s.post("/v2/repository/models/digits/load", body)
    assert r.status == 503, r
    assert "config override:" in r.error and "max_batch_sise" in r.error, r.error
    assert s.infer("digits", [tensor("pixels", "FP32", [1, 64], [0] * 64)]).status == 200


def test_admin_loopback_only_refuses_other_peers(servers, tmp_path, non_loopback_ip):
    repo = str(tmp_path)
    om.copy_examples(repo, ["digits", "add_mul"])
    s = servers.start([repo], ["--model-control-mode", "explicit", "--load-model", "digits",
                               "--admin-loopback-only", "true", "--allow-client-shm", "true"],
                      address="0.0.0.0")

    def post_from(ip, path, body=b""):
        c = http.client.HTTPConnection(ip, s.port, timeout=10)
        c.request("POST", path, body=body, headers={"Content-Type": "application/json"})
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    for path, body in (("/v2/repository/models/add_mul/load", b""),
                       ("/v2/repository/models/digits/unload", b""),
                       ("/v2/systemsharedmemory/region/r/register",
                        b'{"key":"/nope","offset":0,"byte_size":8}'),
                       ("/v2/logging", b'{"log_info":false}')):
        status, data = post_from(non_loopback_ip, path, body)
        assert status == 403, (path, status, data)
        assert b"--admin-loopback-only" in data
    # Nothing changed: digits still serves, add_mul was not loaded.
    assert s.infer("digits", [tensor("pixels", "FP32", [1, 64], [0] * 64)]).status == 200
    assert s.get("/v2/models/add_mul/ready").status != 200
    # The same calls from loopback are allowed.
    assert s.post("/v2/repository/models/add_mul/load").status == 200
    assert s.get("/v2/models/add_mul/ready").status == 200
    assert s.post("/v2/repository/models/add_mul/unload").status == 200
