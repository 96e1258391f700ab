"""Tracing: W3C traceparent in, spans out as OTLP/HTTP JSON to a small receiver in the
test, Triton's trace extension (/v2/trace/setting, per model too) applied for real, a
gateway and its upstream sharing one trace, and an exporter that drops and counts spans
(never slows requests) when the collector is down or slow."""
import concurrent.futures
import http.server
import json
import os
import re
import subprocess
import threading
import time

import pytest

import onnx_models as om
from conftest import BIN, free_port, tensor

DIGIT = [0, 0, 5, 13, 9, 1, 0, 0, 0, 0, 13, 15, 10, 15, 5, 0, 0, 3, 15, 2, 0, 11, 8, 0, 0, 4,
         12, 0, 0, 8, 8, 0, 0, 5, 8, 0, 0, 9, 8, 0, 0, 4, 11, 0, 1, 12, 7, 0, 0, 2, 14, 5, 10,
         12, 0, 0, 0, 0, 6, 13, 10, 0, 0, 0]
TRACE_ID = "4bf92f3577b34da6a3ce929d0e0e4736"
PARENT_ID = "00f067aa0ba902b7"


class Receiver:
    """An OTLP/HTTP JSON collector: stores every span POSTed to /v1/traces."""

    def __init__(self, delay=0.0):
        self.delay = delay
        self.lock = threading.Lock()
        self.requests = []  # parsed bodies
        recv = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                n = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(n)
                if recv.delay:
                    time.sleep(recv.delay)
                ok = self.path == "/v1/traces" and \
                    self.headers.get("Content-Type") == "application/json"
                if ok:
                    with recv.lock:
                        recv.requests.append(json.loads(body))
                try:
                    self.send_response(200 if ok else 400)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", "2")
                    self.end_headers()
                    self.wfile.write(b"{}")
                except OSError:
                    pass  # the exporter gave up waiting (the slow collector test)

            def log_message(self, *a):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.url = "http://127.0.0.1:%d/v1/traces" % self.port
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def spans(self):
        """Every span received, flattened, with attributes as a dict and the resource's."""
        out = []
        with self.lock:
            bodies = list(self.requests)
        for body in bodies:
            for rs in body["resourceSpans"]:
                res = {a["key"]: list(a["value"].values())[0]
                       for a in rs["resource"]["attributes"]}
                for ss in rs["scopeSpans"]:
                    assert ss["scope"]["name"] == "inferd"
                    for sp in ss["spans"]:
                        sp = dict(sp)
                        sp["attrs"] = {a["key"]: list(a["value"].values())[0]
                                       for a in sp.get("attributes", [])}
                        sp["resource"] = res
                        out.append(sp)
        return out

    def trace(self, trace_id):
        return [s for s in self.spans() if s["traceId"] == trace_id]

    def wait_for(self, pred, timeout=15.0):
        deadline = time.monotonic() + timeout
        while True:
            spans = self.spans()
            if pred(spans):
                return spans
            assert time.monotonic() < deadline, "spans never matched; got %d: %s" % (
                len(spans), json.dumps(spans)[:3000])
            time.sleep(0.05)


@pytest.fixture
def receiver():
    r = Receiver()
    yield r
    r.close()


def digits(srv, headers=None, batch=1, model="digits"):
    body = {"inputs": [tensor("pixels", "FP32", [batch, 64], DIGIT * batch)]}
    r = srv.post("/v2/models/%s/infer" % model, body, headers=headers or {})
    assert r.status == 200, r
    return r


def traceparent(trace_id=TRACE_ID, parent=PARENT_ID, flags="01"):
    return "00-%s-%s-%s" % (trace_id, parent, flags)


def metric(srv, name):
    m = re.search(r"^%s (\S+)$" % re.escape(name), srv.metrics(), re.M)
    assert m, "metric %s missing" % name
    return float(m.group(1))


def by_name(spans, name):
    found = [s for s in spans if s["name"] == name]
    assert found, "no %r span among %s" % (name, [s["name"] for s in spans])
    return found


SERVER_SPAN = "POST /v2/models/{model}/infer"
CLIENT_SPAN = "upstream POST /v2/models/{model}/infer"


# ---- spans of one request ----------------------------------------------------------------

def test_traceparent_spans_nest_under_the_caller(servers, examples_repo, receiver):
    srv = servers.start([examples_repo], ["--trace-endpoint", receiver.url])
    r = digits(srv, {"traceparent": traceparent(), "tracestate": "congo=t61rcWkgMzE"}, batch=2)
    # The response names the server span (W3C traceresponse).
    tr = r.headers.get("traceresponse")
    assert tr and re.match(r"^00-%s-[0-9a-f]{16}-01$" % TRACE_ID, tr), r.headers
    server_span_id = tr.split("-")[2]

    spans = receiver.wait_for(
        lambda ss: {"compute_infer", SERVER_SPAN} <= {s["name"] for s in ss
                                                    if s["traceId"] == TRACE_ID})
    spans = [s for s in spans if s["traceId"] == TRACE_ID]
    server = by_name(spans, SERVER_SPAN)[0]
    assert server["spanId"] == server_span_id
    assert server["parentSpanId"] == PARENT_ID
    assert server["kind"] == 2
    assert server["attrs"]["inferd.model.name"] == "digits"
    assert server["attrs"]["inferd.model.version"] == "1"
    assert server["attrs"]["http.response.status_code"] == "200"
    assert server["resource"]["service.name"] == "inferd"
    queue = by_name(spans, "queue")[0]
    batch = by_name(spans, "batch")[0]
    infer = by_name(spans, "compute_infer")[0]
    assert queue["parentSpanId"] == server["spanId"]
    assert batch["parentSpanId"] == server["spanId"]
    assert infer["parentSpanId"] == batch["spanId"]
    assert batch["attrs"]["inferd.batch_size"] == "2"
    assert batch["attrs"]["inferd.model.name"] == "digits"
    assert batch["attrs"]["inferd.model.version"] == "1"
    ids = [s["spanId"] for s in spans]
    assert len(ids) == len(set(ids)), "span ids repeat"
    for s in spans:
        assert re.match(r"^[0-9a-f]{16}$", s["spanId"])
        start, end = int(s["startTimeUnixNano"]), int(s["endTimeUnixNano"])
        assert start <= end
        assert abs(start / 1e9 - time.time()) < 120, "not Unix time: %s" % s
        # children lie within the server span
        assert int(server["startTimeUnixNano"]) <= start and end <= int(server["endTimeUnixNano"])
    # The access log line carries the same trace id.
    recs = [x for x in srv.log_records() if x.get("model_name") == "digits" and x.get("trace_id")]
    assert any(x["trace_id"] == TRACE_ID for x in recs), recs[-3:]


def test_invalid_traceparent_starts_a_new_trace(servers, examples_repo, receiver):
    srv = servers.start([examples_repo], ["--trace-endpoint", receiver.url, "--trace-rate", "1"])
    bad = [traceparent(trace_id=TRACE_ID.upper()), traceparent(trace_id="0" * 32),
           traceparent(parent="0" * 16), "01-" + TRACE_ID, "ff" + traceparent()[2:]]
    seen = set()
    for tp in bad:
        r = digits(srv, {"traceparent": tp})
        tid = r.headers["traceresponse"].split("-")[1]
        assert tid not in (TRACE_ID, TRACE_ID.upper(), "0" * 32)
        seen.add(tid)
    assert len(seen) == len(bad)
    spans = receiver.wait_for(lambda ss: len({s["traceId"] for s in ss
                                              if s["name"] == SERVER_SPAN}) >= len(bad))
    for s in spans:
        if s["name"] == SERVER_SPAN:
            assert "parentSpanId" not in s or not s["parentSpanId"]  # roots


def test_unsampled_traceparent_is_propagated_not_recorded(servers, examples_repo, receiver):
    srv = servers.start([examples_repo], ["--trace-endpoint", receiver.url, "--trace-rate", "1"])
    r = digits(srv, {"traceparent": traceparent(flags="00")})
    assert "traceresponse" not in r.headers
    digits(srv)  # rate 1: recorded; its spans arriving means the first had its chance too
    receiver.wait_for(lambda ss: any(s["name"] == SERVER_SPAN for s in ss))
    time.sleep(0.3)
    assert receiver.trace(TRACE_ID) == []
    recs = [x for x in srv.log_records() if x.get("model_name") == "digits"]
    assert any(x.get("trace_id") == TRACE_ID for x in recs)


def test_dynamic_batch_spans(servers, tmp_path, receiver):
    repo = str(tmp_path)
    model, cfg = om.batched_add_model(name="badd", max_batch_size=8, width=4)
    cfg += "dynamic_batching { max_queue_delay_microseconds: 300000 }\n"
    om.write_model(repo, "badd", model, cfg)
    srv = servers.start([repo], ["--trace-endpoint", receiver.url, "--trace-rate", "1"])

    def one(i):
        tid = "%032x" % (i + 1)
        body = {"inputs": [tensor("x", "FP32", [1, 4], [1.0, 2.0, 3.0, 4.0]),
                           tensor("y", "FP32", [1, 4], [1.0, 1.0, 1.0, 1.0])]}
        r = srv.post("/v2/models/badd/infer", body,
                     headers={"traceparent": traceparent(trace_id=tid)})
        assert r.status == 200, r
        return tid

    # An idle open connection: a client that might still send, so the batcher waits out
    # its delay for more requests rather than dispatching at once.
    idle = srv.connection()
    idle.connect()
    try:
        with concurrent.futures.ThreadPoolExecutor(4) as pool:
            tids = list(pool.map(one, range(4)))
    finally:
        idle.close()
    receiver.wait_for(lambda ss: all(
        any(s["traceId"] == t and s["name"] == SERVER_SPAN for s in ss) for t in tids))
    sizes = []
    for t in tids:
        spans = receiver.trace(t)
        batch = by_name(spans, "batch")[0]
        sizes.append(int(batch["attrs"]["inferd.batch_size"]))
        names = {s["name"] for s in spans}
        assert "compute_infer" in names and "queue" in names
        for s in spans:
            if s["name"] in ("compute_input", "compute_infer", "compute_output"):
                assert s["parentSpanId"] == batch["spanId"]
    assert max(sizes) >= 2, "no two requests shared an execution: %s" % sizes


# ---- gateway ------------------------------------------------------------------------------

def remote_repo(path, model, url, max_batch_size=64):
    d = os.path.join(path, model)
    os.makedirs(os.path.join(d, "1"), exist_ok=True)
    with open(os.path.join(d, "config.pbtxt"), "w") as f:
        f.write('backend: "remote"\nmax_batch_size: %d\n'
                'parameters { key: "url" value: { string_value: "%s" } }\n'
                % (max_batch_size, url))
    return path


def test_gateway_and_upstream_share_the_trace(servers, tmp_path, receiver):
    up_repo = str(tmp_path / "up")
    os.makedirs(up_repo)
    om.copy_examples(up_repo, ["digits"])
    # The upstream records only what its caller asks for (its own rate never fires).
    up = servers.start([up_repo], ["--trace-endpoint", receiver.url, "--trace-rate", "1000000"])
    gw_repo = remote_repo(str(tmp_path / "gw"), "digits", "http://127.0.0.1:%d" % up.port)
    gw = servers.start([gw_repo], ["--trace-endpoint", receiver.url])
    r = digits(gw, {"traceparent": traceparent(), "tracestate": "congo=t61rcWkgMzE"})
    assert r.json()["outputs"]

    spans = receiver.wait_for(
        lambda ss: sum(1 for s in ss if s["traceId"] == TRACE_ID and s["name"] == SERVER_SPAN)
        >= 2 and any(s["name"] == CLIENT_SPAN for s in ss))
    spans = [s for s in spans if s["traceId"] == TRACE_ID]
    client = by_name(spans, CLIENT_SPAN)
    assert len(client) == 1
    client = client[0]
    assert client["kind"] == 3
    assert client["attrs"]["url.full"] == \
        "http://127.0.0.1:%d/v2/models/digits/infer" % up.port
    assert client["attrs"]["http.response.status_code"] == "200"
    servers_ = by_name(spans, SERVER_SPAN)
    gw_server = [s for s in servers_ if s["parentSpanId"] == PARENT_ID]
    up_server = [s for s in servers_ if s["parentSpanId"] == client["spanId"]]
    assert len(gw_server) == 1 and len(up_server) == 1, servers_
    # The client span nests under the gateway's compute_infer, inside its batch.
    infer = [s for s in by_name(spans, "compute_infer") if s["spanId"] == client["parentSpanId"]]
    assert infer, "the client span's parent is not a compute_infer span"
    # The upstream's own spans nest under its server span.
    up_queue = [s for s in by_name(spans, "queue") if s["parentSpanId"] == up_server[0]["spanId"]]
    assert up_queue
    # Both processes say who they are; both exported to the same receiver.
    assert {s["resource"]["process.pid"] for s in spans} == {str(up.proc.pid),
                                                             str(gw.proc.pid)}


class HeaderUpstream(http.server.BaseHTTPRequestHandler):
    """An upstream that serves metadata for `digits` and records the headers of each
    inference, which it refuses (400)."""
    seen = []

    def log_message(self, *a):
        pass

    def reply(self, code, obj):
        body = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        self.reply(200, {"name": "digits", "versions": ["1"], "platform": "x",
                         "inputs": [{"name": "pixels", "datatype": "FP32", "shape": [-1, 64]}],
                         "outputs": [{"name": "label", "datatype": "INT64", "shape": [-1, 1]}]})

    def do_POST(self):
        self.rfile.read(int(self.headers["Content-Length"]))
        HeaderUpstream.seen.append({k.lower(): v for k, v in self.headers.items()})
        self.reply(400, {"error": "recorded"})


def test_upstream_receives_trace_context(servers, tmp_path, receiver):
    up = http.server.ThreadingHTTPServer(("127.0.0.1", 0), HeaderUpstream)
    up.daemon_threads = True
    threading.Thread(target=up.serve_forever, daemon=True).start()
    HeaderUpstream.seen = []
    try:
        url = "http://127.0.0.1:%d" % up.server_address[1]
        gw = servers.start([remote_repo(str(tmp_path), "digits", url)],
                           ["--trace-endpoint", receiver.url, "--trace-rate", "1000000"])
        body = {"inputs": [tensor("pixels", "FP32", [1, 64], DIGIT)]}
        # Traced here: the upstream's parent is this call's client span.
        r = gw.post("/v2/models/digits/infer", body,
                    headers={"traceparent": traceparent(), "tracestate": "congo=t61rcWkgMzE"})
        assert r.status == 400 and r.error == "recorded", r
        h = HeaderUpstream.seen[-1]
        assert h["tracestate"] == "congo=t61rcWkgMzE"
        version, tid, parent, flags = h["traceparent"].split("-")
        assert (version, tid, flags) == ("00", TRACE_ID, "01")
        spans = receiver.wait_for(lambda ss: any(s["name"] == CLIENT_SPAN and
                                                 s["traceId"] == TRACE_ID for s in ss))
        client = by_name([s for s in spans if s["traceId"] == TRACE_ID], CLIENT_SPAN)[0]
        assert client["spanId"] == parent and client["traceId"] == TRACE_ID
        assert client["attrs"]["http.response.status_code"] == "400"
        assert client["status"]["code"] == 2  # an error answer
        # Not traced here (the caller did not sample): passed on as it came.
        unsampled = traceparent(trace_id="ab" * 16, flags="00")
        r = gw.post("/v2/models/digits/infer", body,
                    headers={"traceparent": unsampled, "tracestate": "rojo=1"})
        assert r.status == 400, r
        assert HeaderUpstream.seen[-1]["traceparent"] == unsampled
        assert HeaderUpstream.seen[-1]["tracestate"] == "rojo=1"
        # No trace context and not sampled: none is invented.
        r = gw.post("/v2/models/digits/infer", body)
        assert "traceparent" not in HeaderUpstream.seen[-1]
        assert "tracestate" not in HeaderUpstream.seen[-1]
    finally:
        up.shutdown()
        up.server_close()


# ---- collector down or slow ---------------------------------------------------------------

def test_collector_down_drops_and_counts(servers, examples_repo):
    dead = "http://127.0.0.1:%d/v1/traces" % free_port()  # nothing listens there
    srv = servers.start([examples_repo], ["--trace-endpoint", dead, "--trace-rate", "1",
                                          "--trace-buffer-spans", "16"])
    for _ in range(40):
        digits(srv)
    deadline = time.monotonic() + 10
    while metric(srv, "inferd_trace_export_failures_total") < 1 or \
            metric(srv, "inferd_trace_spans_dropped_total") < 40:
        assert time.monotonic() < deadline, srv.metrics()
        time.sleep(0.1)
    assert metric(srv, "inferd_trace_spans_exported_total") == 0
    assert "trace export to %s failed" % dead in srv.stderr_text()


def test_slow_collector_never_slows_requests(servers, examples_repo):
    slow = Receiver(delay=3.0)  # longer than the exporter's 1 s timeout
    try:
        srv = servers.start([examples_repo], ["--trace-endpoint", slow.url,
                                              "--trace-rate", "1", "--trace-buffer-spans", "16"])
        for _ in range(60):
            digits(srv)  # each completes; no timing assert (noisy machine)
        deadline = time.monotonic() + 15
        while metric(srv, "inferd_trace_spans_dropped_total") < 1 or \
                metric(srv, "inferd_trace_export_failures_total") < 1:
            assert time.monotonic() < deadline, srv.metrics()
            time.sleep(0.1)
        srv.stop()  # clean exit (leak and thread checks) with a POST possibly under way
    finally:
        slow.close()


# ---- trace extension ----------------------------------------------------------------------

def settings(srv, model=None, body=None, **kw):
    path = ("/v2/models/%s/trace/setting" % model) if model else "/v2/trace/setting"
    return srv.post(path, body, **kw) if body is not None else srv.get(path, **kw)


def test_trace_setting_defaults_and_metadata(servers, examples_repo, receiver):
    srv = servers.start([examples_repo], ["--trace-endpoint", receiver.url])
    r = settings(srv)
    assert r.status == 200, r
    assert r.json() == {"trace_level": ["TIMESTAMPS"], "trace_rate": "1000",
                        "trace_count": "-1", "log_frequency": "0", "trace_file": "",
                        "trace_mode": "opentelemetry", "url": receiver.url}
    assert settings(srv, "digits").json() == r.json()
    assert "trace" in srv.get("/v2").json()["extensions"]
    assert settings(srv, "nope").status == 404
    assert srv.get("/v2/models/digits/versions/1/trace/setting").status == 404
    # Without an endpoint the default level is OFF.
    plain = servers.start([examples_repo])
    assert settings(plain).json()["trace_level"] == ["OFF"]


def test_trace_rate_samples_exactly_every_nth(servers, examples_repo, receiver):
    srv = servers.start([examples_repo], ["--trace-endpoint", receiver.url])
    r = settings(srv, body={"trace_rate": "3"})
    assert r.status == 200 and r.json()["trace_rate"] == "3", r
    traced = [("traceresponse" in digits(srv, {"X-Request-ID": "rate-%d" % i}).headers)
              for i in range(9)]
    assert traced == [True, False, False] * 3

    def exported(ss):
        return sorted(s["attrs"].get("inferd.request_id") for s in ss
                      if s["name"] == SERVER_SPAN and
                      s["attrs"].get("inferd.request_id", "").startswith("rate-"))
    receiver.wait_for(lambda ss: len(exported(ss)) >= 3)
    time.sleep(0.3)
    assert exported(receiver.spans()) == ["rate-0", "rate-3", "rate-6"]

    # trace_count limits the traces and counts down.
    assert settings(srv, body={"trace_rate": "1", "trace_count": "2"}).status == 200
    traced = [("traceresponse" in digits(srv, {"X-Request-ID": "count-%d" % i}).headers)
              for i in range(4)]
    assert traced == [True, True, False, False]
    assert settings(srv).json()["trace_count"] == "0"
    receiver.wait_for(lambda ss: sum(s["name"] == SERVER_SPAN and s["attrs"].get(
        "inferd.request_id", "").startswith("count-") for s in ss) == 2)
    time.sleep(0.3)  # the rest of their spans

    # OFF: nothing is traced, even with a sampled traceparent.
    assert settings(srv, body={"trace_count": "-1", "trace_level": ["OFF"]}).status == 200
    before = len(receiver.spans())
    for _ in range(3):
        assert "traceresponse" not in digits(srv, {"traceparent": traceparent()}).headers
    time.sleep(0.3)
    assert len(receiver.spans()) == before


def test_model_override_and_clearing(servers, examples_repo, receiver):
    srv = servers.start([examples_repo], ["--trace-endpoint", receiver.url])
    assert settings(srv, body={"trace_level": ["OFF"]}).status == 200
    r = settings(srv, "digits", {"trace_level": ["TIMESTAMPS"], "trace_rate": "1"})
    assert r.status == 200, r
    assert r.json()["trace_level"] == ["TIMESTAMPS"] and r.json()["trace_rate"] == "1"
    assert settings(srv).json()["trace_level"] == ["OFF"]  # the global ones are unchanged
    assert "traceresponse" in digits(srv).headers
    rates = srv.post("/v2/models/rates/infer",
                     {"inputs": [tensor("counts", "INT64", [1, 4], [1, 2, 3, 4]),
                                 tensor("total", "INT64", [1, 1], [10])]})
    assert rates.status == 200 and "traceresponse" not in rates.headers
    # A model's unset settings follow the global ones as they change.
    settings(srv, body={"trace_count": "5"})
    assert settings(srv, "digits").json()["trace_count"] == "5"
    # null clears the model's own value: it follows the global level (OFF) again.
    r = settings(srv, "digits", {"trace_level": None, "trace_rate": None})
    assert r.status == 200 and r.json()["trace_level"] == ["OFF"], r
    assert r.json()["trace_rate"] == "1000"
    assert "traceresponse" not in digits(srv).headers


@pytest.mark.parametrize("body,words", [
    ({"trace_rate": "0"}, "trace_rate"),
    ({"trace_rate": "often"}, "trace_rate"),
    ({"trace_count": "-5"}, "trace_count"),
    ({"trace_level": ["LOUD"]}, "LOUD"),
    ({"trace_level": ["OFF", "TIMESTAMPS"]}, "OFF"),
    ({"trace_level": ["TENSORS"]}, "TENSORS"),
    ({"log_frequency": "-1"}, "log_frequency"),
    ({"nonsense": "1"}, "nonsense"),
    ([1, 2], "object"),
])
def test_bad_trace_settings_are_refused(servers, examples_repo, receiver, body, words):
    srv = servers.start([examples_repo], ["--trace-endpoint", receiver.url])
    before = settings(srv).json()
    r = settings(srv, body=body)
    assert r.status == 400, r
    assert words in r.error
    assert settings(srv).json() == before
    r = settings(srv, "digits", body)
    assert r.status == 400, r


def test_trace_file_cannot_change_and_admin_guard(servers, examples_repo, receiver):
    srv = servers.start([examples_repo], ["--trace-endpoint", receiver.url,
                                          "--admin-token", "s3cret"])
    r = settings(srv, body={"trace_rate": "2"})
    assert r.status == 403, r
    ok = {"Authorization": "Bearer s3cret"}
    r = settings(srv, body={"trace_file": "/tmp/x.json"}, headers=ok)
    assert r.status == 501 and "trace file" in r.error, r
    r = settings(srv, body={"trace_rate": "2"}, headers=ok)
    assert r.status == 200 and r.json()["trace_rate"] == "2", r
    assert settings(srv).status == 200  # reading needs no token


def test_bad_trace_flags_fail_fast(examples_repo):
    """A bad --trace-level or --trace-rate is a start-up error with a message, no hang."""
    base = [BIN, "--model-repository", str(examples_repo), "--http-port", str(free_port()),
            "--http-address", "127.0.0.1", "--grpc-port", "0", "--metrics-port", "0"]
    for extra, words in ((["--trace-level", "LOUD"], "--trace-level"),
                         (["--trace-rate", "0"], "--trace-rate"),
                         (["--trace-count", "-2"], "--trace-count"),
                         (["--trace-buffer-spans", "1"], "--trace-buffer-spans")):
        p = subprocess.run(base + extra, capture_output=True, timeout=30)
        assert p.returncode != 0, (extra, p)
        assert words in p.stderr.decode(), (extra, p.stderr[-2000:])
