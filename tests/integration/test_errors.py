"""Every class of client error gets the right status and a JSON {"error": ...} naming what
was wrong; limits hold; malformed HTTP on a raw socket is answered or closed, never a
crash. After each test the server must still be live (checked by `alive`)."""
import json
import socket
import time

import pytest

import onnx_models as om
from conftest import tensor

INT_DTYPES = ["BOOL", "UINT8", "UINT16", "UINT32", "UINT64", "INT8", "INT16", "INT32",
              "INT64", "FP32", "FP64", "BYTES"]


@pytest.fixture(scope="module")
def srv(module_servers, tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("errors_repo"))
    om.copy_examples(repo)
    for dt in INT_DTYPES:
        om.write_model(repo, "identity_" + dt.lower(), *om.identity_model(dt))
    return module_servers.start([repo])


@pytest.fixture
def alive(srv):
    yield srv
    assert srv.running(), "server died\n" + srv.stderr_tail()
    r = srv.get("/v2/health/live")
    assert r.status == 200, r


def add_mul_inputs(a=(1.0, 2.0), b=(3.0, 4.0)):
    return [tensor("a", "FP32", [len(a)], list(a)), tensor("b", "FP32", [len(b)], list(b))]


def digits_input(rows=1, cols=64, count=None, dtype="FP32", name="pixels", shape=None):
    n = rows * cols if count is None else count
    return tensor(name, dtype, shape if shape is not None else [rows, cols], [0] * n)


def expect(r, status, *names):
    assert r.status == status, "expected %d, got %r" % (status, r)
    msg = r.error
    for n in names:
        assert n in msg, "error message %r does not name %r" % (msg, n)
    return msg


# ---- malformed JSON and wrong JSON types -------------------------------------------------

GOOD_A = b'{"name":"a","datatype":"FP32","shape":[1],"data":[1]}'
GOOD_B = b'{"name":"b","datatype":"FP32","shape":[1],"data":[2]}'

MALFORMED = {
    "empty_body": b"",
    "not_json": b"hello world",
    "truncated_json": b'{"inputs":[' + GOOD_A,
    "trailing_garbage": b'{"inputs":[' + GOOD_A + b"," + GOOD_B + b"]} xyz",
    "array_not_object": b"[" + GOOD_A + b"]",
    "string_not_object": b'"inputs"',
    "missing_inputs": b"{}",
    "inputs_not_array": b'{"inputs":{"a":1}}',
    "input_not_object": b'{"inputs":[5,6]}',
    "missing_name": b'{"inputs":[{"datatype":"FP32","shape":[1],"data":[1]},' + GOOD_B + b"]}",
    "missing_datatype": b'{"inputs":[{"name":"a","shape":[1],"data":[1]},' + GOOD_B + b"]}",
    "missing_shape": b'{"inputs":[{"name":"a","datatype":"FP32","data":[1]},' + GOOD_B + b"]}",
    "missing_data": b'{"inputs":[{"name":"a","datatype":"FP32","shape":[1]},' + GOOD_B + b"]}",
    "name_not_string": b'{"inputs":[{"name":7,"datatype":"FP32","shape":[1],"data":[1]},'
                       + GOOD_B + b"]}",
    "id_not_string": b'{"id":5,"inputs":[' + GOOD_A + b"," + GOOD_B + b"]}",
    "shape_not_array": b'{"inputs":[{"name":"a","datatype":"FP32","shape":1,"data":[1]},'
                       + GOOD_B + b"]}",
    "shape_fractional": b'{"inputs":[{"name":"a","datatype":"FP32","shape":[1.5],"data":[1]},'
                        + GOOD_B + b"]}",
    "shape_string": b'{"inputs":[{"name":"a","datatype":"FP32","shape":["1"],"data":[1]},'
                    + GOOD_B + b"]}",
    "shape_negative": b'{"inputs":[{"name":"a","datatype":"FP32","shape":[-1],"data":[1]},'
                      + GOOD_B + b"]}",
    "data_not_array": b'{"inputs":[{"name":"a","datatype":"FP32","shape":[1],"data":{"x":1}},'
                      + GOOD_B + b"]}",
    "data_null_element": b'{"inputs":[{"name":"a","datatype":"FP32","shape":[1],"data":[null]},'
                         + GOOD_B + b"]}",
    "data_string_in_fp32": b'{"inputs":[{"name":"a","datatype":"FP32","shape":[1],'
                           b'"data":["1.0"]},' + GOOD_B + b"]}",
    "data_bool_in_fp32": b'{"inputs":[{"name":"a","datatype":"FP32","shape":[1],'
                         b'"data":[true]},' + GOOD_B + b"]}",
    "outputs_not_array": b'{"inputs":[' + GOOD_A + b"," + GOOD_B + b'],"outputs":"sum"}',
    "output_without_name": b'{"inputs":[' + GOOD_A + b"," + GOOD_B + b'],"outputs":[{}]}',
    "parameters_not_object": b'{"inputs":[' + GOOD_A + b"," + GOOD_B + b'],"parameters":[1]}',
    "invalid_utf8": b'{"id":"\xff\xfe\xfd","inputs":[' + GOOD_A + b"," + GOOD_B + b"]}",
    "bad_escape": b'{"id":"\\q","inputs":[' + GOOD_A + b"," + GOOD_B + b"]}",
    "nul_byte": b'{"inputs":[' + GOOD_A + b"\x00," + GOOD_B + b"]}",
}


@pytest.mark.parametrize("name", sorted(MALFORMED))
def test_malformed_request_body(alive, name):
    r = alive.post("/v2/models/add_mul/infer", MALFORMED[name])
    expect(r, 400)


def test_valid_reference_body_is_accepted(alive):
    """The bodies above differ from this one only in the defect under test."""
    r = alive.post("/v2/models/add_mul/infer", b'{"inputs":[' + GOOD_A + b"," + GOOD_B + b"]}")
    assert r.status == 200, r
    assert {o["name"]: o["data"] for o in r.json()["outputs"]} == {"sum": [3.0],
                                                                   "product": [2.0]}


# ---- input validation --------------------------------------------------------------------

def test_wrong_datatype(alive):
    r = alive.infer("add_mul", [tensor("a", "INT32", [2], [1, 2]),
                                tensor("b", "FP32", [2], [3, 4])])
    expect(r, 400, "a")
    r = alive.infer("digits", [digits_input(dtype="FP64")])
    expect(r, 400, "pixels")


def test_unknown_datatype(alive):
    r = alive.infer("add_mul", [tensor("a", "FLOAT32", [2], [1, 2]),
                                tensor("b", "FP32", [2], [3, 4])])
    expect(r, 400, "a")


def test_wrong_fixed_dim(alive):
    expect(alive.infer("digits", [digits_input(cols=63)]), 400, "pixels")
    expect(alive.infer("digits", [digits_input(cols=65)]), 400, "pixels")


def test_wrong_rank(alive):
    expect(alive.infer("digits", [digits_input(shape=[64], count=64)]), 400, "pixels")
    expect(alive.infer("digits", [digits_input(shape=[1, 1, 64], count=64)]), 400, "pixels")
    expect(alive.infer("add_mul", [tensor("a", "FP32", [1, 2], [1, 2]),
                                   tensor("b", "FP32", [2], [3, 4])]), 400, "a")


def test_batch_size_mismatch_between_inputs(alive):
    r = alive.infer("rates", [tensor("counts", "INT64", [1, 4], [1, 2, 3, 4]),
                              tensor("total", "INT64", [2, 1], [1, 2])])
    expect(r, 400)


def test_batch_over_max_batch_size(alive):
    expect(alive.infer("digits", [digits_input(rows=65)]), 400)
    r = alive.infer("digits", [digits_input(rows=64)])
    assert r.status == 200, r


def test_batch_zero(alive):
    expect(alive.infer("digits", [digits_input(rows=0)]), 400)


def test_mismatched_variable_dims(alive):
    r = alive.infer("add_mul", [tensor("a", "FP32", [2], [1, 2]),
                                tensor("b", "FP32", [3], [3, 4, 5])])
    # a and b share the symbolic dim "n": the engine cannot add them
    assert r.status in (400, 500), r
    r.error


@pytest.mark.parametrize("count", [63, 65, 0, 128])
def test_element_count_differs_from_shape(alive, count):
    expect(alive.infer("digits", [digits_input(count=count)]), 400, "pixels")


def test_nested_element_count_differs(alive):
    r = alive.infer("identity_int32", [tensor("INPUT0", "INT32", [2, 2], [[1, 2], [3]])])
    expect(r, 400, "INPUT0")


def test_missing_input(alive):
    expect(alive.infer("add_mul", [tensor("a", "FP32", [1], [1])]), 400, "b")


def test_unknown_input(alive):
    expect(alive.infer("add_mul", add_mul_inputs() + [tensor("c", "FP32", [2], [1, 1])]),
           400, "c")


def test_duplicate_input(alive):
    expect(alive.infer("add_mul", add_mul_inputs() + [tensor("a", "FP32", [2], [5, 6])]),
           400, "a")


def test_no_inputs(alive):
    expect(alive.infer("add_mul", []), 400)


def test_unknown_output(alive):
    expect(alive.infer("add_mul", add_mul_inputs(), outputs=["sum", "nope_out"]), 400,
           "nope_out")


def test_too_many_inputs(alive):
    ins = [tensor("x%d" % i, "FP32", [1], [0]) for i in range(5000)]
    t0 = time.monotonic()
    expect(alive.infer("add_mul", ins), 400)
    assert time.monotonic() - t0 < 10


OUT_OF_RANGE = [
    ("INT8", 128), ("INT8", -129), ("UINT8", 256), ("UINT8", -1), ("INT16", 32768),
    ("INT16", -32769), ("UINT16", 65536), ("INT32", 2 ** 31), ("INT32", -2 ** 31 - 1),
    ("UINT32", 2 ** 32), ("UINT32", -1), ("INT64", 2 ** 63), ("INT64", -2 ** 63 - 1),
    ("UINT64", 2 ** 64), ("UINT64", -1), ("UINT64", 10 ** 30), ("INT32", 1.5),
    ("INT64", 2.5), ("UINT8", 1e3), ("INT32", True), ("BOOL", 1), ("BOOL", "true"),
    ("BYTES", 5), ("INT64", "7"), ("INT32", None),
]


@pytest.mark.parametrize("dtype,value", OUT_OF_RANGE,
                         ids=["%s=%r" % (d, v) for d, v in OUT_OF_RANGE])
def test_value_out_of_range_or_wrong_type(alive, dtype, value):
    good = {"BOOL": False, "BYTES": "ok"}.get(dtype, 1)
    r = alive.infer("identity_" + dtype.lower(),
                    [tensor("INPUT0", dtype, [1, 2], [good, value])])
    expect(r, 400, "INPUT0")


# ---- nesting depth, sizes and element limits ---------------------------------------------

def nested_body(depth):
    data = b"[" * depth + b"1" + b"]" * depth
    return (b'{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,1],"data":' + data
            + b"}]}")


def test_json_depth_over_limit(alive):
    expect(alive.post("/v2/models/identity_int32/infer", nested_body(150)), 400)


@pytest.mark.parametrize("depth", [10000, 1000000])
def test_json_depth_huge_does_not_crash(alive, depth):
    t0 = time.monotonic()
    expect(alive.post("/v2/models/identity_int32/infer", nested_body(depth)), 400)
    assert time.monotonic() - t0 < 10


def test_json_depth_huge_elsewhere(alive):
    body = b'{"parameters":{"x":' + b"[" * 50000 + b"]" * 50000 + b'},"inputs":[]}'
    expect(alive.post("/v2/models/identity_int32/infer", body), 400)
    body = b'{"id":' + b'{"a":' * 50000 + b"1" + b"}" * 50000 + b"}"
    expect(alive.post("/v2/models/identity_int32/infer", body), 400)


@pytest.mark.parametrize("shape", [[10 ** 6, 10 ** 6], [2 ** 62, 4], [2 ** 63 - 1, 2],
                                   [4294967296, 4294967296], [10 ** 12, 1]])
def test_huge_shape_claim_is_rejected_quickly(alive, shape):
    t0 = time.monotonic()
    r = alive.infer("identity_int32", [tensor("INPUT0", "INT32", shape[:2], [1])])
    assert r.status in (400, 413), r
    assert "INPUT0" in r.error
    assert time.monotonic() - t0 < 2.0


def test_huge_shape_claim_bytes(alive):
    r = alive.infer("identity_bytes", [tensor("INPUT0", "BYTES", [10 ** 6, 10 ** 6], ["a"])])
    assert r.status in (400, 413), r
    r.error


def test_shape_beyond_int64(alive):
    body = (b'{"inputs":[{"name":"INPUT0","datatype":"INT32","shape":[1,'
            b'99999999999999999999999],"data":[1]}]}')
    expect(alive.post("/v2/models/identity_int32/infer", body), 400)


def test_body_over_default_limit_declared(alive):
    """Content-Length above the default --http-max-input-size (64 MiB): rejected from the
    headers, without the client having to send the body."""
    resp = raw_exchange(alive.port,
                        b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\n"
                        b"Content-Type: application/json\r\nContent-Length: %d\r\n\r\n{"
                        % (64 * 1024 * 1024 + 1), half_close=False, timeout=10)
    status = http_status(resp)
    assert status == 413, resp[:300]


@pytest.fixture(scope="module")
def limited(module_servers, tmp_path_factory):
    repo = str(tmp_path_factory.mktemp("limited_repo"))
    om.copy_examples(repo, ["add_mul"])
    return module_servers.start([repo], ["--http-max-input-size", "16384",
                                         "--max-tensor-elements", "1000",
                                         "--max-json-depth", "8"])


def add_mul_body(n, literal=b"1"):
    vals = b",".join([literal] * n)
    return (b'{"inputs":[{"name":"a","datatype":"FP32","shape":[%d],"data":[%s]},'
            b'{"name":"b","datatype":"FP32","shape":[%d],"data":[%s]}]}' % (n, vals, n, vals))


def test_body_over_configured_limit(limited):
    """--http-max-input-size 16384: 800 elements per input (under the element limit)
    spelled with long literals make a body over the byte limit."""
    small = limited.post("/v2/models/add_mul/infer", add_mul_body(800))
    assert small.status == 200, small
    body = add_mul_body(800, b"1.000000000000000000000")
    assert len(body) > 16384
    r = limited.post("/v2/models/add_mul/infer", body)
    assert r.status == 413, r
    r.error
    assert limited.get("/v2/health/live").status == 200


def test_body_over_configured_limit_chunked(limited):
    body = add_mul_body(800, b"1.000000000000000000000")
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 1000]), body[i:i + 1000])
                       for i in range(0, len(body), 1000)) + b"0\r\n\r\n"
    resp = raw_exchange(limited.port,
                        b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\n"
                        b"Transfer-Encoding: chunked\r\n\r\n" + chunked, timeout=5)
    if resp:  # answered (413) or closed the connection: both refuse the body
        assert http_status(resp) == 413, resp[:300]
    assert limited.get("/v2/health/live").status == 200


def test_tensor_element_limit(limited):
    """--max-tensor-elements 1000."""
    r = limited.post("/v2/models/add_mul/infer", add_mul_body(1000))
    assert r.status == 200, r
    body = add_mul_body(1001)
    assert len(body) < 16384
    expect(limited.post("/v2/models/add_mul/infer", body), 413, "a")


def test_configured_json_depth(limited):
    ok = limited.infer("add_mul", [tensor("a", "FP32", [1], [1]), tensor("b", "FP32", [1], [2])])
    assert ok.status == 200, ok
    body = (b'{"inputs":[{"name":"a","datatype":"FP32","shape":[1],"data":'
            + b"[" * 12 + b"1" + b"]" * 12 + b'},{"name":"b","datatype":"FP32","shape":[1],'
            b'"data":[2]}]}')
    expect(limited.post("/v2/models/add_mul/infer", body), 400)


# ---- routing: 404 / 405 ------------------------------------------------------------------

@pytest.mark.parametrize("method,path", [
    ("POST", "/v2/models/nope/infer"),
    ("POST", "/v2/models/add_mul/versions/2/infer"),
    ("POST", "/v2/models/add_mul/versions/abc/infer"),
    ("GET", "/v2/nope"),
    ("GET", "/v3"),
    ("GET", "/"),
    ("GET", "/v2/models/add_mul/bogus"),
    ("GET", "/v2/models/add_mul/versions/1/bogus"),
    ("GET", "/v2/models/.."),
    ("GET", "/v2/models/%2e%2e/config"),
    ("GET", "/v2/models/..%2F..%2Fetc/config"),
    ("GET", "/v2/models/add_mul%2Fx/config"),
    ("GET", "/v2/models//config"),
    ("GET", "/v2/health"),
    ("GET", "/debug/nope"),
])
def test_not_found(alive, method, path):
    r = alive.request(method, path, body=b"{}" if method == "POST" else None)
    assert r.status in ((404, 400) if ".." in path or "%2" in path or "//" in path
                        else (404,)), r
    r.error


@pytest.mark.parametrize("method,path", [
    ("GET", "/v2/models/add_mul/infer"),
    ("POST", "/v2/health/live"),
    ("POST", "/v2/health/ready"),
    ("DELETE", "/v2"),
    ("PUT", "/v2/models/add_mul/config"),
    ("POST", "/v2/models/add_mul"),
    ("GET", "/v2/repository/index"),
    ("POST", "/healthz"),
    ("DELETE", "/metrics"),
    ("POST", "/debug/tensors"),
])
def test_method_not_allowed(alive, method, path):
    r = alive.request(method, path, body=b"{}" if method in ("POST", "PUT") else None)
    assert r.status == 405, r
    r.error


def test_unknown_model_infer_message(alive):
    msg = expect(alive.infer("no_such_model", add_mul_inputs()), 404)
    assert "no_such_model" in msg


# ---- raw HTTP ----------------------------------------------------------------------------

def raw_exchange(port, payload, half_close=True, timeout=5.0, chunks=None):
    """Sends payload (and optionally half-closes); returns everything the server sent until
    it closed or went quiet. Fails if the server neither answers nor closes in time."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = b""
    try:
        try:
            for c in (chunks or [payload]):
                s.sendall(c)
            if half_close:
                s.shutdown(socket.SHUT_WR)
        except OSError:  # the server may already have answered and closed
            pass
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                d = s.recv(65536)
            except socket.timeout:
                break
            except ConnectionResetError:
                return got  # closed: acceptable
            if not d:
                return got  # closed
            got += d
            if not half_close and b"\r\n\r\n" in got:
                # have a response head; read the body if any then stop
                head = got.split(b"\r\n\r\n", 1)[0].lower()
                if b"content-length:" in head:
                    cl = int(head.split(b"content-length:")[1].split(b"\r\n")[0])
                    if len(got.split(b"\r\n\r\n", 1)[1]) >= cl:
                        return got
        if not got:
            raise AssertionError("server neither answered nor closed within %.0f s" % timeout)
        return got
    finally:
        s.close()


def http_status(resp):
    assert resp.startswith(b"HTTP/1."), resp[:200]
    return int(resp.split(b" ", 2)[1])


RAW = {
    "garbage": b"\x00\xff\xfe garbage \r\n\r\n\x01\x02",
    "bad_request_line": b"GARBAGE\r\n\r\n",
    "http09": b"GET /v2/health/live\r\n\r\n",
    "bad_version": b"GET /v2/health/live HTTP/9.9\r\nHost: x\r\n\r\n",
    "no_host_http11": b"GET /v2/health/live HTTP/1.1\r\n\r\n",
    "truncated_headers": b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\nContent-Le",
    "truncated_body": b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\n"
                      b"Content-Length: 100\r\n\r\n{\"inputs\":[{\"name\":\"a\"",
    "bad_content_length": b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\n"
                          b"Content-Length: abc\r\n\r\n{}",
    "negative_content_length": b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\n"
                               b"Content-Length: -5\r\n\r\n{}",
    "huge_content_length": b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 99999999999999999999999\r\n\r\n{}",
    "two_content_lengths": b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\n"
                           b"Content-Length: 2\r\nContent-Length: 5\r\n\r\n{}",
    "bad_chunk_size": b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\n"
                      b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "chunk_size_overflow": b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\n"
                           b"Transfer-Encoding: chunked\r\n\r\nffffffffffffffffff\r\n{}\r\n",
    "truncated_chunked": b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\n"
                         b"Transfer-Encoding: chunked\r\n\r\n10\r\n{\"in",
    "header_without_colon": b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nNoColonHere\r\n\r\n",
    "huge_header": b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 200000
                   + b"\r\n\r\n",
    "many_headers": b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\n"
                    + b"".join(b"X-H%d: v\r\n" % i for i in range(5000)) + b"\r\n",
    "huge_url": b"GET /v2/models/" + b"a" * 100000 + b" HTTP/1.1\r\nHost: x\r\n\r\n",
    "binary_zeros": b"\x00" * 70000,
}


@pytest.mark.parametrize("name", sorted(RAW))
def test_raw_malformed_http(alive, name):
    resp = raw_exchange(alive.port, RAW[name])
    if resp and name == "http09" and not resp.startswith(b"HTTP/"):
        return  # an HTTP/0.9 answer (body only) to an HTTP/0.9 request is fine
    if resp:
        # an answer, if any, is a client error (a lenient server may serve the three
        # merely sloppy requests); never a 500
        status = http_status(resp)
        ok = {400, 404, 405, 408, 411, 413, 414, 431, 501, 505}
        if name in LENIENT:
            ok.add(200)
        assert status in ok, resp[:300]


LENIENT = {"http09", "no_host_http11", "header_without_colon"}


def test_truncated_body_then_disconnect(alive):
    """Client sends part of the body and goes away without a half-close."""
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", alive.port), timeout=5)
        s.sendall(b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\n"
                  b"Content-Length: 1000\r\n\r\n{\"inputs\":[")
        s.close()
    r = alive.infer("add_mul", add_mul_inputs())
    assert r.status == 200, r


def test_pipelined_requests(alive):
    """Two requests back to back on one connection: two answers, in order."""
    body = json.dumps({"inputs": add_mul_inputs()}).encode()
    req = (b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n"
           % len(body)) + body
    req += b"GET /v2/health/live HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    got = read_until_close(alive.port, req)
    assert got.count(b"HTTP/1.1 200") == 2, got[:1000]
    first, second = got.split(b"HTTP/1.1 200")[1:3]
    assert b'"sum"' in first and b'"live"' in second, got[:1000]


def read_until_close(port, payload, timeout=10):
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    got = b""
    try:
        s.sendall(payload)
        while True:
            d = s.recv(65536)
            if not d:
                return got
            got += d
    finally:
        s.close()


def test_slow_body(alive):
    """A body that trickles in over a second is still read correctly."""
    body = json.dumps({"inputs": add_mul_inputs()}).encode()
    head = (b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Length: %d\r\n\r\n" % len(body))
    s = socket.create_connection(("127.0.0.1", alive.port), timeout=10)
    try:
        s.sendall(head)
        for i in range(0, len(body), 16):
            s.sendall(body[i:i + 16])
            time.sleep(0.1)
        got = b""
        while True:
            d = s.recv(65536)
            if not d:
                break
            got += d
    finally:
        s.close()
    assert got, "no answer"
    assert http_status(got) == 200, got[:300]
    payload = json.loads(got.split(b"\r\n\r\n", 1)[1])
    assert {o["name"]: o["data"] for o in payload["outputs"]}["sum"] == [4.0, 6.0]


def test_chunked_request_body(alive):
    body = json.dumps({"inputs": add_mul_inputs()}).encode()
    chunked = b"".join(b"%x\r\n%s\r\n" % (len(body[i:i + 20]), body[i:i + 20])
                       for i in range(0, len(body), 20)) + b"0\r\n\r\n"
    req = (b"POST /v2/models/add_mul/infer HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
           b"Transfer-Encoding: chunked\r\n\r\n") + chunked
    resp = raw_exchange(alive.port, req, half_close=False, timeout=5)
    assert http_status(resp) == 200, resp[:300]
