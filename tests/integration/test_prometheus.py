"""The /metrics exposition as real Prometheus tooling sees it: `promtool check metrics`
accepts it, and a real Prometheus server (Debian's prometheus package) scraping inferd's
--metrics-port reports exactly the counter values that known traffic produced. The
deploy/ files (Grafana dashboard, Prometheus config and alert rules) pass promtool, read
only metrics inferd really exports, and evaluate cleanly in a real Prometheus."""
import json
import os
import re
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


# ---- deploy/: the Grafana dashboard and the Prometheus configuration and alert rules ---------

DEPLOY = os.path.join(os.path.dirname(__file__), "..", "..", "deploy")
RULES = os.path.join(DEPLOY, "prometheus", "alerts.yml")
PROM_CONFIG = os.path.join(DEPLOY, "prometheus", "prometheus.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "inferd.json")

# PromQL words that look like metric names: functions, aggregations, keywords.
PROMQL_WORDS = {
    "sum", "min", "max", "avg", "count", "rate", "irate", "increase", "deriv", "delta",
    "histogram_quantile", "clamp_min", "clamp_max", "min_over_time", "max_over_time",
    "avg_over_time", "predict_linear", "label_values", "abs", "and", "or", "unless", "by",
    "without", "on", "ignoring", "group_left", "group_right", "bool", "offset", "topk",
    "bottomk", "vector", "scalar", "time",
}
# Series Prometheus itself adds to every target.
SYNTHETIC = {"up"}


def rule_exprs(path):
    """The expr of every rule in an alert rules file (single-line or a `|` block)."""
    exprs = []
    lines = open(path).read().splitlines()
    i = 0
    while i < len(lines):
        m = re.match(r"^(\s*)expr:\s*(.*)$", lines[i])
        i += 1
        if not m:
            continue
        if m.group(2).strip() != "|":
            exprs.append(m.group(2))
            continue
        block = []
        while i < len(lines) and (not lines[i].strip() or
                                  len(lines[i]) - len(lines[i].lstrip()) > len(m.group(1))):
            block.append(lines[i])
            i += 1
        exprs.append("\n".join(block))
    return exprs


def dashboard_exprs(path):
    dash = json.load(open(path))
    exprs = [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]
    for v in dash["templating"]["list"]:
        if v.get("type") == "query":
            exprs.append(v["query"]["query"] if isinstance(v["query"], dict) else v["query"])
    return dash, exprs


def metric_names(expr):
    """Metric names an expression reads: identifiers outside label matchers, ranges,
    strings and by/on/without/ignoring lists, that are not PromQL words."""
    e = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)
    e = re.sub(r"\{[^}]*\}", " ", e)
    e = re.sub(r"\[[^\]]*\]", " ", e)
    e = re.sub(r"\b(by|on|without|ignoring|group_left|group_right)\s*\([^)]*\)", " ", e)
    e = re.sub(r"label_values\(\s*([A-Za-z_:][\w:]*)\s*,\s*\w+\s*\)", r" \1 ", e)
    names = set(re.findall(r"(?<![\w.$])[A-Za-z_:][\w:]*", e))
    return {n for n in names if n not in PROMQL_WORDS}


def scraped_names(text):
    return {re.match(r"[A-Za-z_:][\w:]*", line).group(0)
            for line in text.splitlines() if line and not line.startswith("#")}


def test_promtool_checks_deploy_rules_and_config():
    if not os.access(PROMTOOL, os.X_OK):
        pytest.fail("promtool is not installed (scripts/install-deps.sh installs prometheus)")
    for args in (["check", "rules", RULES], ["check", "config", PROM_CONFIG]):
        p = subprocess.run([PROMTOOL] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                           timeout=60)
        assert p.returncode == 0, "promtool %s:\n%s" % (" ".join(args),
                                                         (p.stdout + p.stderr).decode())
    assert len(rule_exprs(RULES)) >= 5
    want = {"InferdHighErrorRate", "InferdHighP99Latency", "InferdQueueSaturated",
            "InferdMemoryGrowth", "InferdModelStalled"}
    alerts = set(re.findall(r"^\s*- alert: (\w+)$", open(RULES).read(), re.M))
    assert want <= alerts, alerts


def test_metric_name_parser():
    """The name extraction the next test relies on (so that a broken parser cannot make it
    pass by finding nothing)."""
    assert metric_names('histogram_quantile(0.99, sum by (model, le) '
                        '(rate(inferd_request_duration_seconds_bucket{model=~"$model"}'
                        '[$__rate_interval]))) > 0.5') == {"inferd_request_duration_seconds_bucket"}
    assert metric_names('sum(rate(a_total[5m])) / clamp_min(b, 1e-9) and on (job) c{x="y z"}') \
        == {"a_total", "b", "c"}
    assert metric_names("label_values(process_start_time_seconds, instance)") == \
        {"process_start_time_seconds"}


def test_deploy_metric_names_are_exported(srv):
    """Every metric the dashboard and the alert rules read is in a real scrape after some
    traffic (successes and failures), so renaming a metric fails here."""
    infer_digits(srv, 3, batch=2)
    bad = srv.infer("digits", [tensor("pixels", "FP32", [1, 3], [0.0] * 3)])
    assert bad.status == 400, bad
    exported = scraped_names(srv.metrics()) | scraped_names(metrics_port_text(srv)) | SYNTHETIC
    dash, dexprs = dashboard_exprs(DASHBOARD)
    assert dash["title"] and dash["panels"] and dash["schemaVersion"] >= 30
    titles = " ".join(p["title"] for p in dash["panels"]).lower()
    for topic in ("throughput", "latency", "queue", "batch", "errors", "tensor memory",
                  "threads", "stalled"):
        assert topic in titles, "no %s panel in the dashboard" % topic
    ids = [p["id"] for p in dash["panels"]]
    assert len(ids) == len(set(ids)), ids
    used = {}
    for where, exprs in (("dashboard", dexprs), ("alerts.yml", rule_exprs(RULES))):
        for e in exprs:
            names = metric_names(e)
            assert names, "%s: no metric found in %r" % (where, e)
            for n in names:
                used.setdefault(n, where)
    missing = {n: w for n, w in used.items() if n not in exported}
    assert not missing, "metrics used in deploy/ but not exported by inferd: %r" % missing
    assert "inferd_model_stalled" in used and "nv_inference_request_failure" in used


def test_deploy_rules_and_dashboard_queries_evaluate(srv, tmp_path):
    """A real Prometheus loads deploy/prometheus/alerts.yml and scrapes inferd: every rule
    evaluates without error, and every dashboard query is accepted by its query API."""
    if not os.access(PROMETHEUS, os.X_OK):
        pytest.fail("prometheus is not installed (scripts/install-deps.sh installs it)")
    prom_port = free_port()
    cfg = tmp_path / "prometheus.yml"
    cfg.write_text(
        "global:\n  scrape_interval: 1s\n  evaluation_interval: 1s\n"
        "rule_files:\n  - %s\n"
        "scrape_configs:\n  - job_name: inferd\n    static_configs:\n"
        "      - targets: ['127.0.0.1:%d']\n" % (os.path.abspath(RULES), srv.metrics_port))
    log = open(tmp_path / "prometheus.log", "wb")
    prom = subprocess.Popen(
        [PROMETHEUS, "--config.file=%s" % cfg, "--storage.tsdb.path=%s" % (tmp_path / "tsdb"),
         "--web.listen-address=127.0.0.1:%d" % prom_port],
        stdin=subprocess.DEVNULL, stdout=log, stderr=log)
    try:
        infer_digits(srv, 5)
        deadline = time.monotonic() + 60
        rules = []
        while time.monotonic() < deadline:
            assert prom.poll() is None, "prometheus exited:\n" + open(
                tmp_path / "prometheus.log").read()[-3000:]
            try:
                url = "http://127.0.0.1:%d/api/v1/rules" % prom_port
                with urllib.request.urlopen(url, timeout=5) as r:
                    groups = json.loads(r.read())["data"]["groups"]
                rules = [x for g in groups for x in g["rules"]]
                if rules and all(x.get("lastEvaluation", "").startswith("2") and
                                 not x["lastEvaluation"].startswith("0001") for x in rules):
                    break
            except (OSError, urllib.error.URLError, ValueError, KeyError):
                pass
            time.sleep(0.5)
        assert len(rules) == len(rule_exprs(RULES)), rules
        for x in rules:
            assert x["health"] == "ok", x
        _, dexprs = dashboard_exprs(DASHBOARD)
        for e in dexprs:
            if e.startswith("label_values("):
                continue  # a Grafana function, not PromQL
            q = e.replace("$__rate_interval", "1m").replace("$model", ".*") \
                .replace("$instance", ".*")
            prom_query(prom_port, q)  # asserts status == success
        # the stalled gauge reaches Prometheus with its labels
        deadline = time.monotonic() + 30
        while not prom_query(prom_port, 'inferd_model_stalled{model="digits"}'):
            assert time.monotonic() < deadline, "inferd_model_stalled never scraped"
            time.sleep(0.5)
    finally:
        prom.send_signal(signal.SIGTERM)
        try:
            prom.wait(30)
        except subprocess.TimeoutExpired:
            prom.kill()
            prom.wait()
        log.close()
