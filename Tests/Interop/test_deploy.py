"""The operations files under deploy/: the Prometheus configuration, the alert rules and
their unit tests (through promtool), and the Grafana dashboard, each checked against the
one list of metrics the broker exports, deploy/prometheus/metrics.txt. (A Swift test
checks a live broker's /metrics against the same list.)"""
import json
import os
import re
import shutil
import subprocess

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DEPLOY = os.path.join(ROOT, "deploy")
PROMETHEUS = os.path.join(DEPLOY, "prometheus")
METRICS = os.path.join(PROMETHEUS, "metrics.txt")
ALERTS = os.path.join(PROMETHEUS, "alerts.yml")
ALERT_TESTS = os.path.join(PROMETHEUS, "alerts.test.yml")
DASHBOARD = os.path.join(DEPLOY, "grafana", "switchboard-dashboard.json")
RUNBOOK = os.path.join(DEPLOY, "README.md")

TYPES = {"counter", "gauge", "histogram"}
HISTOGRAM_SERIES = ("_bucket", "_sum", "_count")
# A metric name of ours anywhere in a file: in an expression, a variable or a description.
NAME = re.compile(r"\bswitchboard_[a-z0-9_]+")
# The series a rate-like function is applied to.
RATE_OF = re.compile(r"\b(?:rate|irate|increase)\(\s*([a-zA-Z_:][a-zA-Z0-9_:]*)")
# Grafana's variables, replaced by something PromQL parses.
GRAFANA_VARIABLES = {"$__rate_interval": "1m", "$__interval": "1m", "$__range": "1h", "$window": "1h", "$department": ".*"}


def exported():
    """metrics.txt as {name: type}."""
    metrics = {}
    with open(METRICS) as f:
        for number, line in enumerate(f, 1):
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            fields = line.split()
            assert len(fields) == 2, f"metrics.txt line {number}: expected 'NAME TYPE', got {line!r}"
            name, kind = fields
            assert kind in TYPES, f"metrics.txt line {number}: {name} has type {kind!r}, not one of {sorted(TYPES)}"
            assert name not in metrics, f"metrics.txt line {number}: {name} is listed twice"
            metrics[name] = kind
    return metrics


def series_type(name, metrics):
    """The type of the metric a series name belongs to (histogram series by their base), or None."""
    if name in metrics:
        return metrics[name]
    for suffix in HISTOGRAM_SERIES:
        if name.endswith(suffix) and metrics.get(name[: -len(suffix)]) == "histogram":
            return "histogram series"
    return None


def dashboard():
    with open(DASHBOARD) as f:
        return json.load(f)


def all_panels(document):
    for panel in document["panels"]:
        yield panel
        yield from panel.get("panels", [])  # the panels of a collapsed row


def dashboard_expressions():
    return [(panel["title"], target["expr"]) for panel in all_panels(dashboard()) for target in panel.get("targets", [])]


def alert_rules():
    yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the alert rules (pip install pyyaml)")
    with open(ALERTS) as f:
        groups = yaml.safe_load(f)["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def promtool(*args):
    tool = shutil.which("promtool")
    if tool is None:
        pytest.skip("promtool is not installed (apt-get install prometheus): the Prometheus files were not checked")
    result = subprocess.run([tool, *args], cwd=PROMETHEUS, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, f"promtool {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


def test_prometheus_configuration_is_valid_and_loads_the_rules():
    out = promtool("check", "config", "prometheus.yml")
    assert "1 rule files found" in out


def test_alert_rules_are_valid():
    promtool("check", "rules", "alerts.yml")


def test_alert_rules_pass_their_unit_tests():
    promtool("test", "rules", "alerts.test.yml")


def test_dashboard_expressions_parse(tmp_path):
    """Each panel's query, with Grafana's variables filled in, is valid PromQL: promtool
    checks it as a recording rule."""
    lines = ["groups:", "  - name: dashboard", "    rules:"]
    for index, (_, expr) in enumerate(dashboard_expressions()):
        for variable, value in GRAFANA_VARIABLES.items():
            expr = expr.replace(variable, value)
        assert "$" not in expr, f"a Grafana variable this test does not know: {expr}"
        lines += [f"      - record: dashboard:query_{index}", f"        expr: {json.dumps(expr)}"]
    rules = tmp_path / "dashboard-queries.yml"
    rules.write_text("\n".join(lines) + "\n")
    promtool("check", "rules", str(rules))


def test_metrics_list_is_well_formed():
    metrics = exported()
    assert len(metrics) > 30
    for name, kind in metrics.items():
        assert re.fullmatch(r"switchboard_[a-z0-9_]+", name), name
        assert name.endswith("_total") == (kind == "counter"), f"{name}: counters, and only counters, end in _total"


@pytest.mark.parametrize("path", [ALERTS, DASHBOARD], ids=["alerts.yml", "grafana dashboard"])
def test_only_exported_metrics_are_named(path):
    metrics = exported()
    with open(path) as f:
        text = f.read()
    unknown = sorted({name for name in NAME.findall(text) if series_type(name, metrics) is None})
    assert not unknown, f"{os.path.relpath(path, ROOT)} names metrics the broker does not export (not in metrics.txt): {unknown}"


def test_metrics_are_queried_as_their_types():
    """rate() and increase() only of counters and histogram series; no histogram by its
    bare name (Prometheus stores only its _bucket, _sum and _count)."""
    metrics = exported()
    expressions = [(f"alert {rule['alert']}", rule["expr"]) for rule in alert_rules()] + dashboard_expressions()
    for where, expr in expressions:
        for name in NAME.findall(expr):
            assert series_type(name, metrics) != "histogram", f"{where}: {name} is a histogram; query {name}_bucket"
        for name in RATE_OF.findall(expr):
            kind = series_type(name, metrics)
            assert kind in ("counter", "histogram series") or name == "up", f"{where}: rate/increase of {name}, a {kind}"


def test_every_alert_is_tested_both_firing_and_silent():
    yaml = pytest.importorskip("yaml", reason="PyYAML is needed to read the alert tests (pip install pyyaml)")
    with open(ALERT_TESTS) as f:
        document = yaml.safe_load(f)
    assert document["rule_files"] == ["alerts.yml"]
    fires, silent = set(), set()
    for group in document["tests"]:
        for case in group.get("alert_rule_test", []):
            (fires if case.get("exp_alerts") else silent).add(case["alertname"])
    alerts = {rule["alert"] for rule in alert_rules()}
    assert alerts - fires == set(), "alerts with no test where they fire"
    assert alerts - silent == set(), "alerts with no test where they stay silent"
    assert (fires | silent) - alerts == set(), "tests of alerts that do not exist"


def readme_anchors():
    """GitHub's anchors for deploy/README.md's headings."""
    anchors = set()
    with open(RUNBOOK) as f:
        for line in f:
            heading = re.match(r"#+\s+(.*)", line)
            if heading:
                slug = re.sub(r"[^\w\- ]", "", heading.group(1).strip().lower()).replace(" ", "-")
                anchors.add(slug)
    return anchors


def test_every_alert_says_how_long_how_bad_and_what_to_do():
    anchors = readme_anchors()
    for rule in alert_rules():
        name = rule["alert"]
        assert rule.get("for"), f"{name} has no 'for'"
        assert rule.get("labels", {}).get("severity") in ("critical", "warning"), f"{name}: severity must be critical or warning"
        annotations = rule.get("annotations", {})
        assert annotations.get("summary") and annotations.get("description"), f"{name} needs a summary and a description"
        runbook = annotations.get("runbook", "")
        assert runbook == f"deploy/README.md#{name.lower()}", f"{name}: runbook should be deploy/README.md#{name.lower()}"
        assert name.lower() in anchors, f"deploy/README.md has no section {name} (the alert's runbook)"


def test_dashboard_uses_its_data_source_variable_and_department_variable():
    document = dashboard()
    assert 36 <= document["schemaVersion"] <= 41
    variables = {variable["name"]: variable for variable in document["templating"]["list"]}
    assert variables["DS_PROMETHEUS"]["type"] == "datasource"
    assert variables["DS_PROMETHEUS"]["query"] == "prometheus"
    department = variables["department"]
    assert department["definition"] == "label_values(switchboard_department_ready, department)"
    assert department["datasource"]["uid"] == "${DS_PROMETHEUS}"
    ids = [panel["id"] for panel in all_panels(document)]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    for panel in all_panels(document):
        if panel["type"] == "row":
            continue
        assert panel["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
        assert panel["targets"], f"{panel['title']} has no query"
        for target in panel["targets"]:
            assert target["datasource"]["uid"] == "${DS_PROMETHEUS}", panel["title"]
    # A row repeated for each department chosen in the variable.
    assert any(panel.get("repeat") == "department" for panel in document["panels"] if panel["type"] == "row")
