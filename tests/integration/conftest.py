"""Integration test harness for inferd: starts the real server binary on a free port,
talks to it over HTTP with the standard library, and checks that every server the tests
start shuts down cleanly (SIGTERM -> exit 0, no sanitizer reports) and that no test
leaves tensors or threads behind.

Environment:
  INFERD_BIN        server binary (default: <repo>/build/inferd)
  INFERD_SANITIZED  "1" when the binary is an ASan+UBSan build: stderr must then contain
                    no sanitizer report.
"""
import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import onnx_models  # noqa: E402

ROOT = onnx_models.ROOT
BIN = os.environ.get("INFERD_BIN") or os.path.join(ROOT, "build", "inferd")
SANITIZED = os.environ.get("INFERD_SANITIZED") == "1"
SANITIZER_MARKERS = ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:")
READY_TIMEOUT = 20.0 if SANITIZED else 10.0
SETTLE_TIMEOUT = 5.0 if SANITIZED else 2.0
EXIT_TIMEOUT = 30.0 + 10.0  # --exit-timeout-secs default plus a margin

_LIVE = []  # servers currently running, for the per-test leak check


def free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def dumps(obj):
    """JSON with NaN/Infinity/-Infinity tokens allowed (as the v2 JSON tensor data uses)."""
    return json.dumps(obj, allow_nan=True, separators=(",", ":")).encode()


class Response:
    def __init__(self, status, headers, body):
        self.status = status
        self.headers = headers  # dict, lower-case names
        self.body = body

    @property
    def text(self):
        return self.body.decode("utf-8", "replace")

    def json(self):
        try:
            return json.loads(self.body)
        except ValueError as e:
            raise AssertionError("response is not JSON (%s): status %d body %r"
                                 % (e, self.status, self.body[:500]))

    @property
    def error(self):
        """The {"error": "..."} message of an error response (asserts the shape)."""
        obj = self.json()
        assert isinstance(obj, dict) and isinstance(obj.get("error"), str) and obj["error"], \
            "error response without a JSON {\"error\": \"...\"} body: %r" % self.body[:500]
        return obj["error"]

    def __repr__(self):
        return "<Response %d %r>" % (self.status, self.body[:300])


def tensor(name, datatype, shape, data=None, parameters=None):
    t = {"name": name, "datatype": datatype, "shape": list(shape)}
    if data is not None:
        t["data"] = data
    if parameters is not None:
        t["parameters"] = parameters
    return t


class Server:
    """One inferd process."""

    def __init__(self, repos, args=(), env=None, leak_check=True, warmup=True,
                 address="127.0.0.1", port=None):
        self.address = address
        self.fixed_port = port  # None: a free port at each start
        self.repos = [str(r) for r in repos]
        self.args = [str(a) for a in args]
        self.env = env
        self.leak_check = leak_check
        self.warmup = warmup
        self.proc = None
        self.port = None
        self.baseline = None
        self.checked = False
        self.exit_code = None
        self._stderr = tempfile.NamedTemporaryFile(prefix="inferd-stderr-", suffix=".log",
                                                   delete=False)
        self._stdout = tempfile.NamedTemporaryFile(prefix="inferd-stdout-", suffix=".log",
                                                   delete=False)

    # ---- process ------------------------------------------------------------------------
    def command(self):
        cmd = [BIN]
        for r in self.repos:
            cmd += ["--model-repository", r]
        cmd += ["--http-port", str(self.port), "--http-address", self.address,
                "--metrics-port", "0", "--grpc-port", "0", "--log-format", "json"]
        return cmd + self.args

    def start(self, wait="ready"):
        """wait: "ready" (GET /v2/health/ready == 200), "loaded" (live, and every model in
        the repository index has left LOADING), or "live"."""
        if not (os.path.isfile(BIN) and os.access(BIN, os.X_OK)):
            pytest.fail("server binary %s does not exist (set INFERD_BIN)" % BIN)
        self.port = self.fixed_port or free_port()
        env = dict(os.environ)
        env.update(self.env or {})
        self.proc = subprocess.Popen(self.command(), stdin=subprocess.DEVNULL,
                                     stdout=self._stdout, stderr=self._stderr, env=env)
        _LIVE.append(self)
        deadline = time.monotonic() + READY_TIMEOUT
        last = None
        while True:
            if self.proc.poll() is not None:
                self._forget()
                self.exit_code = self.proc.returncode
                pytest.fail("inferd exited with %s during start-up\ncommand: %s\n%s"
                            % (self.proc.returncode, " ".join(self.command()),
                               self.stderr_tail()))
            try:
                if wait == "ready":
                    r = self.get("/v2/health/ready", timeout=2)
                    if r.status == 200:
                        break
                else:
                    r = self.get("/v2/health/live", timeout=2)
                    if r.status == 200:
                        if wait == "live":
                            break
                        idx = self.post("/v2/repository/index", b"", timeout=2)
                        if idx.status == 200 and not any(
                                e.get("state") in ("LOADING", "UNLOADING")
                                for e in idx.json()):
                            break
                last = r
            except (OSError, http.client.HTTPException) as e:
                last = e
            if time.monotonic() > deadline:
                self.kill()
                pytest.fail("inferd did not become %s within %.0f s (last: %r)\ncommand: %s\n%s"
                            % (wait, READY_TIMEOUT, last, " ".join(self.command()),
                               self.stderr_tail()))
            time.sleep(0.05)
        if self.warmup:
            self.warm_up()
        if self.leak_check:
            self.baseline = self.snapshot()
        return self

    def running(self):
        return self.proc is not None and self.proc.poll() is None

    def _forget(self):
        if self in _LIVE:
            _LIVE.remove(self)

    def send_signal(self, sig):
        self.proc.send_signal(sig)

    def wait_exit(self, timeout=EXIT_TIMEOUT):
        try:
            self.exit_code = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            self.kill()
            raise AssertionError("inferd did not exit within %.0f s of the signal\n%s"
                                 % (timeout, self.stderr_tail()))
        finally:
            self._forget()
        return self.exit_code

    def kill(self):
        if self.running():
            self.proc.kill()
            self.proc.wait()
        self._forget()

    def stop(self, sig=signal.SIGTERM, timeout=EXIT_TIMEOUT):
        """Leak check against the start baseline, then signal, then the clean-exit checks.
        Raises AssertionError on any problem (after making sure the process is gone)."""
        if self.checked:
            return self.exit_code
        problems = []
        if self.running() and self.leak_check and self.baseline is not None:
            try:
                self.assert_settled(self.baseline, "since start-up")
            except AssertionError as e:
                problems.append(str(e))
        if self.running():
            self.send_signal(sig)
            try:
                self.wait_exit(timeout)
            except AssertionError as e:
                problems.append(str(e))
        else:
            self.exit_code = self.proc.returncode
            self._forget()
        self.checked = True
        try:
            self.assert_clean_exit()
        except AssertionError as e:
            problems.append(str(e))
        if problems:
            raise AssertionError("\n".join(problems))
        return self.exit_code

    def finish(self, timeout=EXIT_TIMEOUT):
        """After the test signalled the server itself: wait for the exit, then the
        clean-exit checks (exit code 0, no sanitizer report)."""
        try:
            self.wait_exit(timeout)
        finally:
            self.checked = True
        self.assert_clean_exit()

    def assert_clean_exit(self, expected_rc=0):
        """Exit code and sanitizer reports of an exited server."""
        err = self.stderr_text()
        if SANITIZED:
            for m in SANITIZER_MARKERS:
                assert m not in err, "sanitizer report (%r) in inferd's stderr:\n%s" % (
                    m, self.stderr_tail(12000))
        assert self.exit_code == expected_rc, \
            "inferd exited with %r, expected %r\n%s" % (self.exit_code, expected_rc,
                                                        self.stderr_tail())

    def stderr_text(self):
        with open(self._stderr.name, "rb") as f:
            return f.read().decode("utf-8", "replace")

    def stderr_tail(self, n=6000):
        t = self.stderr_text()
        return "---- inferd stderr (last %d chars) ----\n%s" % (n, t[-n:])

    def log_records(self):
        """stderr lines parsed as JSON (raises on a line that is not)."""
        recs = []
        for line in self.stderr_text().splitlines():
            if line.strip():
                recs.append(json.loads(line))
        return recs

    # ---- HTTP ---------------------------------------------------------------------------
    def connection(self, timeout=30):
        return http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)

    def request(self, method, path, body=None, headers=None, timeout=60):
        conn = self.connection(timeout)
        try:
            hdrs = dict(headers or {})
            if isinstance(body, (dict, list)):
                body = dumps(body)
                hdrs.setdefault("Content-Type", "application/json")
            conn.request(method, path, body=body, headers=hdrs)
            r = conn.getresponse()
            data = r.read()
            return Response(r.status, {k.lower(): v for k, v in r.getheaders()}, data)
        finally:
            conn.close()

    def get(self, path, **kw):
        return self.request("GET", path, **kw)

    def post(self, path, body=b"", **kw):
        return self.request("POST", path, body=body, **kw)

    def infer(self, model, inputs, outputs=None, version=None, id=None, parameters=None,
              timeout=60):
        body = {"inputs": inputs}
        if id is not None:
            body["id"] = id
        if outputs is not None:
            body["outputs"] = [o if isinstance(o, dict) else {"name": o} for o in outputs]
        if parameters is not None:
            body["parameters"] = parameters
        return self.post(self.model_path(model, version) + "/infer", body, timeout=timeout)

    @staticmethod
    def model_path(model, version=None):
        p = "/v2/models/" + model
        if version is not None:
            p += "/versions/%s" % version
        return p

    def metadata(self, model, version=None):
        r = self.get(self.model_path(model, version))
        assert r.status == 200, r
        return r.json()

    def index(self):
        r = self.post("/v2/repository/index", b"")
        assert r.status == 200, r
        return r.json()

    def metrics(self):
        r = self.get("/metrics")
        assert r.status == 200, r
        return r.text

    # ---- resource accounting ------------------------------------------------------------
    def snapshot(self):
        t = self.get("/debug/tensors", timeout=10)
        assert t.status == 200, "/debug/tensors: %r" % t
        th = self.get("/debug/threads", timeout=10)
        assert th.status == 200, "/debug/threads: %r" % th
        tj, thj = t.json(), th.json()
        return {
            "request_tensors": tj["by_owner"]["request"]["count"],
            "arena_tensors": tj["by_owner"]["arena"]["count"],
            "os_threads": thj["os_count"],
        }

    def assert_settled(self, before, what="during the test"):
        deadline = time.monotonic() + SETTLE_TIMEOUT
        while True:
            now = self.snapshot()
            # fewer is fine (e.g. a connection thread of an earlier request has ended)
            if all(now[k] <= before[k] for k in before):
                return
            if time.monotonic() > deadline or not self.running():
                th = self.get("/debug/threads").text if self.running() else "(exited)"
                raise AssertionError(
                    "resources not back to baseline %s (after %.0f s): before %s, now %s\n"
                    "/debug/threads: %s" % (what, SETTLE_TIMEOUT, before, now, th[:4000]))
            time.sleep(0.05)

    def warm_up(self):
        """One small inference per ready model, so that lazily created threads and buffers
        exist before baselines are taken. Failures are ignored here (tests check them)."""
        try:
            idx = self.post("/v2/repository/index", b"", timeout=10)
            if idx.status != 200:
                return
            for e in idx.json():
                if e.get("state") != "READY":
                    continue
                name, ver = e["name"], e.get("version")
                md = self.get(self.model_path(name, ver or None), timeout=10)
                if md.status != 200:
                    continue
                md = md.json()
                inputs = []
                for i in md.get("inputs", []):
                    if i["datatype"] in ("FP16", "BF16"):
                        inputs = None
                        break
                    shape = [1 if d < 0 else d for d in i["shape"]]
                    n = 1
                    for d in shape:
                        n *= d
                    z = {"BOOL": False, "BYTES": ""}.get(i["datatype"], 0)
                    inputs.append(tensor(i["name"], i["datatype"], shape, [z] * n))
                if inputs:
                    self.infer(name, inputs, version=ver or None, timeout=30)
        except (OSError, http.client.HTTPException, ValueError, KeyError, TypeError):
            pass


class ServerGroup:
    """Starts servers and, at teardown, stops every one still running and reports every
    unclean shutdown."""

    def __init__(self):
        self.servers = []

    def start(self, repos, args=(), wait="ready", **kw):
        s = Server(repos, args, **kw)
        self.servers.append(s)
        return s.start(wait=wait)

    def close(self):
        problems = []
        for s in self.servers:
            try:
                s.stop()
            except AssertionError as e:
                problems.append(str(e))
            finally:
                s.kill()
        if problems:
            pytest.fail("unclean server shutdown:\n" + "\n\n".join(problems), pytrace=False)


@pytest.fixture
def servers():
    """Per-test servers: servers.start([repo], args) -> Server."""
    g = ServerGroup()
    yield g
    g.close()


@pytest.fixture(scope="module")
def module_servers():
    g = ServerGroup()
    yield g
    g.close()


def _first_non_loopback_ipv4():
    """This machine's source address for outside traffic, if it has one."""
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            ip = s.getsockname()[0]
    except OSError:
        return None
    return None if ip.startswith("127.") or ip == "0.0.0.0" else ip


@pytest.fixture(scope="session")
def non_loopback_ip():
    """A local IPv4 address that is not loopback, so a test can be a non-loopback client
    of a server bound to 0.0.0.0. A machine without one (a sandbox with only lo) gets a
    documentation-range address on lo for the session, which needs root."""
    ip = _first_non_loopback_ipv4()
    if ip is not None:
        yield ip
        return
    ip = "192.0.2.201"
    r = subprocess.run(["ip", "addr", "add", ip + "/32", "dev", "lo"], capture_output=True,
                       text=True)
    assert r.returncode == 0, ("no non-loopback IPv4 address here, and adding one to lo "
                               "failed (needs root): " + r.stderr)
    try:
        yield ip
    finally:
        subprocess.run(["ip", "addr", "del", ip + "/32", "dev", "lo"], capture_output=True)


@pytest.fixture(scope="module")
def examples_repo(tmp_path_factory):
    repo = tmp_path_factory.mktemp("examples")
    onnx_models.copy_examples(str(repo))
    return repo


@pytest.fixture(scope="module")
def examples_server(module_servers, examples_repo):
    """One server per test module over a copy of examples/models."""
    return module_servers.start([examples_repo])


@pytest.fixture(autouse=True)
def _resources_back_to_baseline():
    """After each test, every server that was running before it must be back to the live
    request/arena tensor counts and OS thread count it had before the test."""
    before = {}
    for s in list(_LIVE):
        if s.leak_check and s.running():
            try:
                before[s] = s.snapshot()
            except (OSError, http.client.HTTPException) as e:
                pytest.fail("could not read /debug before the test: %s" % e)
    yield
    problems = []
    for s, snap in before.items():
        if s.running() and s in _LIVE:
            try:
                s.assert_settled(snap)
            except (AssertionError, OSError, http.client.HTTPException) as e:
                problems.append(str(e))
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)
