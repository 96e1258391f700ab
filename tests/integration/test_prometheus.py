"""The /metrics exposition as real Prometheus tooling sees it: `promtool check metrics`
accepts it, and a real Prometheus server (Debian's prometheus package) scraping inferd's
--metrics-port reports exactly the counter values that known traffic produced."""
import json
import os
import shutil
import signal
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

import pytest

from conftest import free_port, tensor

PROMTOOL = shutil.which("promtool") or "/usr/bin/promtool"
PROMETHEUS = "/usr/bin/prometheus"

# Triton's family names are kept for dashboard compatibility, although Prometheus's naming
# lint dislikes them (counters without _total, _us units, _count suffixes). These are the
# only lint complaints allowed; inferd's own families must lint clean.
TRITON_LINT = ('counter metrics should have "_total" suffix',
               "metric names should not contain abbreviated units",
               'non-histogram and non-summary metrics should not have "_count" suffix')


@pytest.fixture(scope="module")
def srv(module_servers, examples_repo):
    port = free_port()
    s = module_servers.start([examples_repo], ["--metrics-port", str(port)])
    s.metrics_port = port
    return s


def metrics_port_text(srv):
    with urllib.request.urlopen("http://127.0.0.1:%d/metrics" % srv.metrics_port,
                                timeout=10) as r:
        assert r.status == 200
        return r.read().decode()


def infer_digits(srv, n, batch=1):
    for _ in range(n):
        r = srv.infer("digits", [tensor("pixels", "FP32", [batch, 64], [0.25] * (64 * batch))])
        assert r.status == 200, r


def test_promtool_check_metrics(srv):
    if not os.access(PROMTOOL, os.X_OK):
        pytest.fail("promtool is not installed (scripts/install-deps.sh installs prometheus)")
    infer_digits(srv, 3, batch=2)
    for text in (srv.metrics(), metrics_port_text(srv)):
        p = subprocess.run([PROMTOOL, "check", "metrics"], input=text.encode(),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=60)
        out = (p.stdout + p.stderr).decode()
        # 0: clean; 3: lint findings only; anything else (1) is a parse error
        assert p.returncode in (0, 3), "promtool failed (%d):\n%s" % (p.returncode, out)
        for line in out.splitlines():
            if not line.strip():
                continue
            name, _, problem = line.partition(" ")
            assert name.startswith("nv_") and problem in TRITON_LINT, \
                "promtool complaint about inferd's own exposition: %r" % line
        assert "inferd_request_duration_seconds_bucket" in text
        assert "process_resident_memory_bytes" in text


def prom_query(port, q):
    url = "http://127.0.0.1:%d/api/v1/query?%s" % (port, urllib.parse.urlencode({"query": q}))
    with urllib.request.urlopen(url, timeout=5) as r:
        body = json.loads(r.read())
    assert body["status"] == "success", body
    return body["data"]["result"]


def test_real_prometheus_scrape(srv, tmp_path):
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.fail("prometheus is not installed (scripts/install-deps.sh installs it)")
    prom_port = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "scrape_configs:\n  - job_name: inferd\n    static_configs:\n"
        "      - targets: ['127.0.0.1:%d']\n" % srv.metrics_port)
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen(
        [PROMETHEUS, "--config.file=%s" % cfg, "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
         "--web.listen-address=127.0.0.1:%d" % prom_port],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        # known traffic: the exact success count inferd itself reports after it
        infer_digits(srv, 7)
        infer_digits(srv, 2, batch=3)
        want = None
        for line in srv.metrics().splitlines():
            if line.startswith('nv_inference_request_success{model="digits",version="1"}'):
                want = float(line.split()[-1])
        assert want is not None and want >= 9
        q = 'nv_inference_request_success{model="digits"}'
        deadline = time.monotonic() + 60
        got = None
        while time.monotonic() < deadline:
            assert prom.poll() is None, "prometheus exited:\n" + open(
                tmp_path / "prometheus.log").read()[-3000:]
            try:
                res = prom_query(prom_port, q)
                if res:
                    got = float(res[0]["value"][1])
                    if got == want:
                        break
            except (OSError, urllib.error.URLError, ValueError):
                pass  # not up yet
            time.sleep(0.5)
        assert got == want, "Prometheus says %r for %s, inferd says %r\n%s" % (
            got, q, want, open(tmp_path / "prometheus.log").read()[-3000:])
        labels = prom_query(prom_port, q)[0]["metric"]
        assert labels["model"] == "digits" and labels["version"] == "1", labels
        assert labels["job"] == "inferd", labels
        # the histogram is usable from PromQL as well
        res = prom_query(prom_port,
                         'histogram_quantile(0.5, inferd_request_duration_seconds_bucket'
                         '{model="digits"})')
        assert res and 0 < float(res[0]["value"][1]) < 10, res
    finally:
        prom.send_signal(signal.SIGTERM)
        try:
            prom.wait(30)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()
