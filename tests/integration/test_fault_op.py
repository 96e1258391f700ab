"""A real fault inside an operator kernel, mid-request. Test builds (the ASan build of
`make test`, configured with -DINFERD_TEST_FAULTS=ON) have the inferd.test::Fault operator,
which faults when its input's first element equals its trigger: the server must die of the
signal with a crash report naming the fault address, the kernel's frame (file:line), the
request, and the operator node with its input shapes. Release builds must not have the
operator at all: there the same model fails to load."""
import re
import signal
import threading

from onnx import TensorProto, helper

import onnx_models as om
from conftest import SANITIZED, tensor
from test_crash import crash_report

# The ASan build is the test build with the operator; the release build is not.
TEST_FAULTS = SANITIZED
TRIGGER = 7.0


def fault_model(kind):
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="pre"),
             helper.make_node("Fault", ["r"], ["f"], name="boom", domain="inferd.test",
                              kind=kind, trigger=TRIGGER),
             helper.make_node("Relu", ["f"], ["y"], name="post")]
    graph = helper.make_graph(
        nodes, "fault",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 8])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 13),
                                                    helper.make_opsetid("inferd.test", 1)],
                              producer_name="inferd-tests")
    model.ir_version = 8
    return model.SerializeToString()


def fault_repo(tmp_path, kind):
    cfg = om.config_text("fault", 8, [("x", "TYPE_FP32", [8])], [("y", "TYPE_FP32", [8])])
    om.write_model(str(tmp_path), "fault", fault_model(kind), cfg)
    return str(tmp_path)


def send(srv, rows, first, rid):
    data = [first] + [0.5] * (rows * 8 - 1)
    return srv.infer("fault", [tensor("x", "FP32", [rows, 8], data)], id=rid, timeout=60)


def crash_mid_request(servers, tmp_path, kind, sig):
    srv = servers.start([fault_repo(tmp_path, kind)], leak_check=False)
    # Harmless requests pass through the operator.
    r = send(srv, 2, 1.0, "fine-1")
    assert r.status == 200, r
    assert r.json()["outputs"][0]["data"][:2] == [1.0, 0.5]
    errors = []

    def run():
        try:
            send(srv, 3, TRIGGER, "fault-req-9")
        except OSError as e:  # the server dies under the request: expected
            errors.append(e)

    t = threading.Thread(target=run, daemon=True)
    t.start()
    rc = srv.wait_exit(60)
    srv.checked = True  # it was meant to die
    t.join(30)
    assert rc == -sig, "exit status %r\n%s" % (rc, srv.stderr_tail())
    return crash_report(srv)


def test_fault_operator_exists_only_in_test_builds(servers, tmp_path):
    if TEST_FAULTS:
        rep = crash_mid_request(servers, tmp_path, "segv", signal.SIGSEGV)
        # A real fault: the kernel wrote through pointer 16, and the report says where.
        assert re.search(r"^signal: SIGSEGV \(11\).*fault address 0x10\b", rep, re.M), rep
        frames = re.findall(r"^  #\d+ +0x[0-9a-f]+ (.*)$", rep, re.M)
        assert any(re.match(r"in fault_now\+0x[0-9a-f]+ at src/backends/onnx/ops/testfault\.c:"
                            r"\d+", f) for f in frames), rep
        assert any(re.match(r"in fault_compute\+0x[0-9a-f]+ at src/backends/onnx/ops/"
                            r"testfault\.c:\d+", f) for f in frames), rep
        req = re.search(r"^  request id=fault-req-9 model=fault version=1 age_ms=\d+ "
                        r"state=running op=(\S+) inputs=\[3,8\] op_inputs=(.+)$", rep, re.M)
        assert req, rep
        assert req.group(1) == "Fault/boom", req.group(0)  # op type and node name
        assert req.group(2) == "[3,8]", req.group(0)
    else:
        srv = servers.start([fault_repo(tmp_path, "segv")], wait="loaded")
        idx = srv.post("/v2/repository/index", b"").json()
        (entry,) = [e for e in idx if e["name"] == "fault"]
        assert entry["state"] == "UNAVAILABLE", entry
        assert "Fault" in entry.get("reason", ""), entry
        assert srv.get("/v2/models/fault/ready").status != 200


def test_abort_in_a_kernel_is_reported(servers, tmp_path):
    if not TEST_FAULTS:
        # Release build: the operator is absent, which the test above checks; here the
        # same model must not become ready either (nothing to crash).
        srv = servers.start([fault_repo(tmp_path, "abort")], wait="loaded")
        assert srv.get("/v2/models/fault/ready").status != 200
        return
    rep = crash_mid_request(servers, tmp_path, "abort", signal.SIGABRT)
    assert re.search(r"^signal: SIGABRT \(6\)", rep, re.M), rep
    assert re.search(r"^  request id=fault-req-9 model=fault .* op=Fault/boom inputs=\[3,8\] "
                     r"op_inputs=\[3,8\]$", rep, re.M), rep
