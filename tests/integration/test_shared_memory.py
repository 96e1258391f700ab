"""Triton's system shared-memory extension: register / status / unregister, inputs read in
place from a region (input_bytes_copied does not move), outputs written into a region, every
offset and size checked, POSIX shm keys only, --allow-client-shm, a region unregistered or
unlinked while a request uses it."""
import json
import mmap
import os
import struct
import threading
import time

import numpy as np
import pytest

import onnx_models as om
from conftest import tensor

_counter = [0]


class Shm:
    """A POSIX shared-memory object (/dev/shm/<name>) mapped into the test process."""

    def __init__(self, size):
        _counter[0] += 1
        self.name = "inferd_test_%d_%d" % (os.getpid(), _counter[0])
        self.key = "/" + self.name
        self.path = "/dev/shm/" + self.name
        fd = os.open(self.path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        os.ftruncate(fd, size)
        self.mm = mmap.mmap(fd, size)
        os.close(fd)

    def write(self, offset, data):
        self.mm[offset:offset + len(data)] = data

    def read(self, offset, n):
        return bytes(self.mm[offset:offset + n])

    def unlink(self):
        if os.path.exists(self.path):
            os.unlink(self.path)

    def close(self):
        self.unlink()
        self.mm.close()


@pytest.fixture
def shms():
    made = []

    def make(size):
        s = Shm(size)
        made.append(s)
        return s
    yield make
    for s in made:
        s.close()


@pytest.fixture(scope="module")
def repo(tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("shm_repo"))
    om.copy_examples(repo, ["digits", "add_mul"])
    om.write_model(repo, "identity_bytes", *om.identity_model("BYTES"))
    model, cfg, _ = om.slow_model()
    om.write_model(repo, "slow", model, cfg)
    return repo


@pytest.fixture(scope="module")
def srv(module_servers, repo):
    return module_servers.start([repo], ["--allow-client-shm=true"])


def register(srv, name, key, offset, byte_size):
    return srv.post("/v2/systemsharedmemory/region/%s/register" % name,
                    json.dumps({"key": key, "offset": offset, "byte_size": byte_size}).encode())


def unregister(srv, name=None):
    path = "/v2/systemsharedmemory" + ("/region/%s" % name if name else "") + "/unregister"
    return srv.post(path, b"")


def status(srv, name=None):
    return srv.get("/v2/systemsharedmemory" + ("/region/%s" % name if name else "") + "/status")


def shm_tensor_count(srv):
    return srv.get("/debug/tensors").json()["by_owner"]["shm"]["count"]


def copied(srv):
    return srv.get("/debug/tensors").json()["input_bytes_copied"]


def shm_params(region, size, offset=0):
    return {"shared_memory_region": region, "shared_memory_byte_size": size,
            "shared_memory_offset": offset}


ZERO = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4,
        12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10,
        12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]


# ---- the flag ------------------------------------------------------------------------------

def test_disabled_without_flag(servers, repo, shms):
    s = servers.start([repo])
    m = shms(64)
    r = register(s, "r", m.key, 0, 64)
    assert r.status == 501, r
    assert "--allow-client-shm" in r.error
    assert unregister(s).status == 501
    assert unregister(s, "r").status == 501
    r = status(s)
    assert r.status == 200 and r.json() == []


# ---- register / status / unregister ----------------------------------------------------------

def test_register_status_unregister(srv, shms):
    a, b = shms(4096 * 3), shms(100)
    r = register(srv, "ra", a.key, 4096 + 8, 1000)
    assert r.status == 200 and r.body == b"", r
    assert register(srv, "rb", b.key[1:], 0, 100).status == 200  # no leading '/' is fine
    st = {e["name"]: e for e in status(srv).json()}
    assert st["ra"] == {"name": "ra", "key": a.key, "offset": 4104, "byte_size": 1000}
    assert st["rb"] == {"name": "rb", "key": b.name, "offset": 0, "byte_size": 100}
    assert status(srv, "ra").json() == [st["ra"]]
    assert shm_tensor_count(srv) == 2
    assert unregister(srv, "ra").status == 200
    r = status(srv, "ra")
    assert r.status == 404 and "ra" in r.error
    assert unregister(srv, "ra").status == 200  # unknown: a no-op, as in Triton
    assert register(srv, "ra", a.key, 0, 10).status == 200
    assert unregister(srv).status == 200  # every region
    assert status(srv).json() == []
    assert shm_tensor_count(srv) == 0


@pytest.mark.parametrize("key", ["/dev/shm/x", "a/b", "/a/b", "", "/", "..", "/.",
                                 "/triton_python_backend_shm_region_1"])
def test_register_refuses_non_shm_keys(srv, key):
    r = register(srv, "bad", key, 0, 8)
    assert r.status == 400, r
    assert "key" in r.error
    assert status(srv, "bad").status == 404


def test_register_errors(srv, shms):
    m = shms(64)
    r = register(srv, "missing", "/inferd_test_does_not_exist", 0, 8)
    assert r.status == 404, r
    r = register(srv, "big", m.key, 0, 65)
    assert r.status == 400 and "exceeds" in r.error, r
    r = register(srv, "big", m.key, 60, 8)
    assert r.status == 400 and "exceeds" in r.error, r
    r = register(srv, "big", m.key, 2 ** 64 - 1, 2)
    assert r.status == 400, r
    r = register(srv, "zero", m.key, 0, 0)
    assert r.status == 400, r
    assert register(srv, "dup", m.key, 0, 8).status == 200
    r = register(srv, "dup", m.key, 0, 8)
    assert r.status == 400 and "already registered" in r.error, r
    for body in (b"", b"[]", b'{"key": 1, "offset": 0, "byte_size": 8}',
                 b'{"key": "/x", "byte_size": 8}', b'{"key": "/x", "offset": -1, "byte_size": 8}',
                 b'{"key": "/x", "offset": 0}'):
        r = srv.post("/v2/systemsharedmemory/region/q/register", body)
        assert r.status == 400, (body, r)
    assert srv.get("/v2/systemsharedmemory/region/q/register").status == 405
    assert srv.post("/v2/systemsharedmemory/register", b"{}").status == 404
    unregister(srv)


# ---- inference -----------------------------------------------------------------------------

def test_infer_input_and_output_in_shm(srv, shms):
    x = np.array([ZERO, [0] * 64], np.float32)
    inp, out = shms(4096), shms(1024)
    inp.write(128, x.tobytes())
    assert register(srv, "in", inp.key, 0, 4096).status == 200
    assert register(srv, "out", out.key, 0, 1024).status == 200
    before = copied(srv)
    r = srv.infer("digits",
                  [tensor("pixels", "FP32", [2, 64], parameters=shm_params("in", 512, 128))],
                  outputs=[{"name": "probabilities", "parameters": shm_params("out", 80, 16)},
                           {"name": "label"}])
    assert r.status == 200, r
    assert copied(srv) == before  # read in place
    o = r.json()["outputs"]
    assert o[0] == {"name": "probabilities", "datatype": "FP32", "shape": [2, 10]}
    ref = srv.infer("digits", [tensor("pixels", "FP32", [2, 64], x.tolist())]).json()
    probs = np.frombuffer(out.read(16, 80), "<f4")
    assert probs.tolist() == np.array(ref["outputs"][0]["data"], np.float32).tolist()
    assert o[1]["data"] == ref["outputs"][1]["data"]
    assert out.read(0, 16) == b"\x00" * 16  # nothing written before the offset
    unregister(srv)


def test_infer_mixed_shm_json_and_binary(srv, shms):
    m = shms(64)
    m.write(0, np.array([1.0, 2.0, 3.0], np.float32).tobytes())
    assert register(srv, "ab", m.key, 0, 64).status == 200
    h = json.dumps({"inputs": [
        {"name": "a", "datatype": "FP32", "shape": [3], "parameters": shm_params("ab", 12)},
        {"name": "b", "datatype": "FP32", "shape": [3], "parameters": {"binary_data_size": 12}}],
        "outputs": [{"name": "sum", "parameters": shm_params("ab", 12, 32)},
                    {"name": "product", "parameters": {"binary_data": True}}]}).encode()
    body = h + np.array([10.0, 20.0, 30.0], np.float32).tobytes()
    r = srv.post("/v2/models/add_mul/infer", body,
                 headers={"Inference-Header-Content-Length": str(len(h))})
    assert r.status == 200, r
    n = int(r.headers["inference-header-content-length"])
    hdr = json.loads(r.body[:n])
    assert hdr["outputs"][0] == {"name": "sum", "datatype": "FP32", "shape": [3]}
    assert np.frombuffer(r.body[n:], "<f4").tolist() == [10.0, 40.0, 90.0]
    assert np.frombuffer(m.read(32, 12), "<f4").tolist() == [11.0, 22.0, 33.0]
    unregister(srv)


def test_infer_bytes_input_in_shm(srv, shms):
    items = [b"a\x00b", b"", b"xyz"]
    blob = b"".join(struct.pack("<I", len(i)) + i for i in items)
    m = shms(64)
    m.write(3, blob)
    assert register(srv, "s", m.key, 0, 64).status == 200
    r = srv.infer("identity_bytes",
                  [tensor("INPUT0", "BYTES", [1, 3], parameters=shm_params("s", len(blob), 3))])
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"] == ["a\x00b", "", "xyz"]
    r = srv.infer("identity_bytes",
                  [tensor("INPUT0", "BYTES", [1, 4], parameters=shm_params("s", len(blob), 3))])
    assert r.status == 400 and "INPUT0" in r.error, r
    unregister(srv)


def test_infer_shm_errors(srv, shms):
    m = shms(1024)
    assert register(srv, "r", m.key, 0, 512).status == 200

    def infer(inp_params, out_params=None, data=None):
        outs = None
        if out_params is not None:
            outs = [{"name": "probabilities", "parameters": out_params}]
        return srv.infer("digits", [tensor("pixels", "FP32", [1, 64], data, inp_params)],
                         outputs=outs)
    r = infer(shm_params("nope", 256))
    assert r.status == 404 and "pixels" in r.error and "nope" in r.error, r
    r = infer(shm_params("r", 256, 300))  # 300 + 256 > 512
    assert r.status == 400 and "pixels" in r.error and "exceeds" in r.error, r
    r = infer(shm_params("r", 256, 512))  # offset at the end
    assert r.status == 400 and "pixels" in r.error, r
    r = infer(shm_params("r", 252))  # not 64 x 4
    assert r.status == 400 and "pixels" in r.error and "256" in r.error, r
    r = infer(shm_params("r", 256), data=[0] * 64)  # data and shm together
    assert r.status == 400 and "exactly one" in r.error, r
    r = infer({"shared_memory_region": "r"})  # byte size missing
    assert r.status == 400 and "shared_memory_byte_size" in r.error, r
    r = infer(shm_params("r", 256), shm_params("r", 36, 256))  # 40 bytes needed
    assert r.status == 400 and "should be at least 40 bytes" in r.error, r
    r = infer(shm_params("r", 256), shm_params("r", 40, 500))
    assert r.status == 400 and "probabilities" in r.error and "exceeds" in r.error, r
    r = infer(shm_params("r", 256), dict(shm_params("r", 40, 256), binary_data=True))
    assert r.status == 400, r
    r = infer(shm_params("r", 256), dict(shm_params("r", 40, 256), classification=2))
    assert r.status == 400, r
    unregister(srv)


# ---- lifetime --------------------------------------------------------------------------------

def slow_request(srv, region, out, batch):
    def run():
        out["r"] = srv.infer("slow", [tensor("x", "FP32", [batch, 64],
                                             parameters=shm_params(region, batch * 256))],
                             timeout=120)
    t = threading.Thread(target=run)
    t.start()
    return t


def wait_in_flight(srv):
    deadline = time.monotonic() + 10
    while srv.get("/debug/tensors").json()["by_owner"]["request"]["count"] == 0:
        assert time.monotonic() < deadline, "the request never started"
        time.sleep(0.005)


def test_unregister_while_in_use(srv, shms):
    _, _, ref = om.slow_model()
    batch = 32
    x = np.random.RandomState(1).uniform(-1, 1, (batch, 64)).astype(np.float32)
    m = shms(batch * 256)
    m.write(0, x.tobytes())
    assert register(srv, "busy", m.key, 0, batch * 256).status == 200
    out = {}
    t = slow_request(srv, "busy", out, batch)
    wait_in_flight(srv)
    assert unregister(srv, "busy").status == 200
    assert status(srv, "busy").status == 404
    t.join(120)
    r = out["r"]
    assert r.status == 200, r
    got = np.array(r.json()["outputs"][0]["data"], np.float32).reshape(batch, 64)
    assert np.allclose(got, ref(x), atol=1e-4)
    deadline = time.monotonic() + 5
    while shm_tensor_count(srv) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert shm_tensor_count(srv) == 0  # the mapping went with the request


def test_unlinked_region_is_released(srv, shms):
    """An owner that unlinks its object (or dies, and its cleanup does) leaves a region no
    client can use again: it is released once no request uses it; until then status marks
    it "unlinked"."""
    _, _, ref = om.slow_model()
    batch = 32
    x = np.random.RandomState(2).uniform(-1, 1, (batch, 64)).astype(np.float32)
    idle, busy = shms(64), shms(batch * 256)
    busy.write(0, x.tobytes())
    assert register(srv, "idle", idle.key, 0, 64).status == 200
    assert register(srv, "busy", busy.key, 0, batch * 256).status == 200
    idle.unlink()
    assert status(srv, "idle").status == 404  # released at once: nothing used it
    out = {}
    t = slow_request(srv, "busy", out, batch)
    wait_in_flight(srv)
    busy.unlink()
    st = status(srv).json()
    if t.is_alive():  # so the request was in flight while status ran
        assert st == [{"name": "busy", "key": busy.key, "offset": 0,
                       "byte_size": batch * 256, "unlinked": True}]
    t.join(120)
    assert out["r"].status == 200, out["r"]
    got = np.array(out["r"].json()["outputs"][0]["data"], np.float32).reshape(batch, 64)
    assert np.allclose(got, ref(x), atol=1e-4)
    assert status(srv).json() == []
    assert shm_tensor_count(srv) == 0


def test_server_metadata_lists_shm(srv):
    ext = srv.get("/v2").json()["extensions"]
    assert "system_shared_memory" in ext and "cuda_shared_memory" not in ext
