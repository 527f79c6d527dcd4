"""The operations endpoint with the real tools an operator points at it: a Prometheus
server running the shipped scrape configuration and alert rules, headless Chromium on the
status page, and /stats checked against its documented schema (Protocols/stats.schema.json).
"""
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.parse
import urllib.request

import jsonschema
import pytest

from conftest import ROOT, Daemon, render_in_chromium
from mdp import Client

SCHEMA = os.path.join(ROOT, "Protocols", "stats.schema.json")
PROMETHEUS_DIR = os.path.join(ROOT, "deploy", "prometheus")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url, timeout=5):
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def wait_for(what, condition, seconds=30):
    deadline = time.monotonic() + seconds
    last = None
    while time.monotonic() < deadline:
        try:
            last = condition()
            if last:
                return last
        except (OSError, ValueError, KeyError):
            pass  # not up yet, or no snapshot yet
        time.sleep(0.05)  # polling interval of a deadline-bound wait
    raise AssertionError(f"{what}: not within {seconds} s (last: {last!r})")


def envelope(external_id, text="My bin was not collected"):
    return json.dumps({
        "source": {"platform": "x", "account": "@RivertonCity", "external_id": external_id},
        "author": {"handle": "@canary_citizen"}, "text": text, "captured_at": "2026-11-22T09:30:00Z",
    }).encode()


@pytest.fixture
def broker(ctx):
    port = free_port()
    daemon = Daemon("--stats", f"127.0.0.1:{port}")
    daemon.stats = f"http://127.0.0.1:{port}"
    try:
        client = Client(ctx, daemon.endpoint)
        for n in range(3):
            _, body = client.request("sb.ingest", envelope(f"ops-{n}"))
            assert b"accepted" in body[0]
        wait_for("the snapshot counts the ingests",
                 lambda: json.loads(get(daemon.stats + "/stats")[1])["ingest"]["accepted"] == 3)
        yield daemon
    finally:
        # Also when the set-up fails: no broker outlives its test.
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()


def test_stats_follows_its_documented_schema(broker):
    status, body = get(broker.stats + "/stats")
    assert status == 200
    document = json.loads(body)
    with open(SCHEMA) as f:
        schema = json.load(f)
    jsonschema.Draft202012Validator.check_schema(schema)
    jsonschema.validate(document, schema, format_checker=jsonschema.FormatChecker())
    waste = next(d for d in document["departments"] if d["id"] == "waste")
    assert waste["ready"] == 3 and waste["oldest_ready_age_seconds"] >= 0
    assert "canary_citizen" not in body
    assert get(broker.stats + "/healthz") == (200, "ok\n")
    assert get(broker.stats + "/readyz")[0] == 200


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (make test installs it)")
def test_status_page_renders_in_chromium(broker, ctx):
    # An agent answers one inquiry while no x gateway is connected: the reply waits.
    client = Client(ctx, broker.endpoint)
    _, listed = client.request("sb.agent.list", json.dumps({"agent": "ana", "department": "waste"}).encode())
    first = json.loads(listed[0])["inquiries"][0]["id"]
    moves = [("sb.agent.claim", {}), ("sb.agent.reply", {"text": "A crew comes tomorrow", "account": "@RivertonCity"})]
    for service, fields in moves:
        _, answer = client.request(service, json.dumps({"agent": "ana", "department": "waste", "id": first, **fields}).encode())
        assert json.loads(answer[0])["status"] == "ok", answer
    wait_for("the snapshot counts the unsent reply",
             lambda: any(p["platform"] == "x" and p["unsent"] == 1 for p in json.loads(get(broker.stats + "/stats")[1])["outbound"]))

    work = tempfile.mkdtemp(prefix="switchboard-chromium-")
    screenshot = os.path.join(work, "status.png")
    # Nothing the page runs or loads fails: no console message at all (it has no script).
    dom = render_in_chromium(broker.stats + "/", work, screenshot)
    # What needs a person comes first: the queue with no worker, the reply nobody posts.
    attention = dom.split('id="attention"')[1].split("</ul>")[0]
    assert "Waste and recycling: 2 waiting and no worker connected" in attention, attention
    assert "1 reply to citizens on x unsent" in attention and "no x gateway is connected" in attention, attention
    # The department in trouble (waiting, no worker) is listed first, with its figures.
    rows = [row for row in dom.split("<tr")[1:] if "data-department" in row]
    assert rows, dom[:2000]
    assert 'data-department="waste"' in rows[0]
    cells = [cell.split("</td>")[0] for cell in rows[0].split("<td")[1:]]
    assert "Waste and recycling" in cells[0]
    assert cells[1].endswith(">2")
    assert "no worker" in cells[-1]
    front = next(row for row in rows if 'data-department="front-office"' in row)
    assert "no worker" not in front, "agents serve the front office"
    assert 'data-platform="x"' in dom
    # An hour of each department, drawn by the page itself.
    assert dom.count("<figure") == len(rows) and "<svg" in dom and "<polyline" in dom
    assert "Contact centre" in dom
    assert 'http-equiv="refresh"' in dom
    assert "canary_citizen" not in dom and "A crew comes tomorrow" not in dom
    shutil.copy(screenshot, os.environ.get("SWITCHBOARD_SCREENSHOT", os.path.join(work, "kept.png")))


@pytest.mark.skipif(shutil.which("prometheus") is None, reason="prometheus is not installed (make test installs it)")
def test_prometheus_scrapes_the_broker_with_the_shipped_configuration(broker):
    work = tempfile.mkdtemp(prefix="switchboard-prometheus-")
    stats_address = urllib.parse.urlparse(broker.stats).netloc
    with open(os.path.join(PROMETHEUS_DIR, "prometheus.yml")) as f:
        config = f.read()
    assert "127.0.0.1:8222" in config, "the shipped scrape configuration targets the default --stats address"
    # The same file, pointed at this test's broker and scraping fast.
    config = config.replace("127.0.0.1:8222", stats_address).replace("scrape_interval: 15s", "scrape_interval: 1s")
    config = config.replace("evaluation_interval: 15s", "evaluation_interval: 1s").replace("scrape_timeout: 5s", "scrape_timeout: 1s")
    with open(os.path.join(work, "prometheus.yml"), "w") as f:
        f.write(config)
    shutil.copy(os.path.join(PROMETHEUS_DIR, "alerts.yml"), work)
    web = f"127.0.0.1:{free_port()}"
    server = subprocess.Popen(
        ["prometheus", "--config.file", os.path.join(work, "prometheus.yml"), "--storage.tsdb.path", os.path.join(work, "data"),
         "--web.listen-address", web],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        api = f"http://{web}/api/v1"

        def target_up():
            assert server.poll() is None, "prometheus exited: " + server.stderr.read().decode()[-2000:]
            status, body = get(api + "/targets")
            targets = json.loads(body)["data"]["activeTargets"] if status == 200 else []
            return [t for t in targets if t["labels"].get("job") == "switchboard" and t["health"] == "up"]

        wait_for("Prometheus reports the broker's target up", target_up, seconds=60)

        def ready_depth():
            query = urllib.parse.quote('switchboard_department_ready{department="waste"}')
            result = json.loads(get(f"{api}/query?query={query}")[1])["data"]["result"]
            return result and result[0]["value"][1]

        assert wait_for("Prometheus has the waste queue's depth", ready_depth, seconds=60) == "3"
        rules = json.loads(get(api + "/rules")[1])["data"]["groups"]
        names = {rule["name"] for group in rules for rule in group["rules"]}
        assert {"SwitchboardNoWorkers", "SwitchboardDown", "SwitchboardOldestInquiryOverTarget"} <= names

        # Waste has inquiries and no worker: the shipped rule goes pending in the real server.
        def no_workers_alert():
            alerts = json.loads(get(api + "/alerts")[1])["data"]["alerts"]
            return [a for a in alerts if a["labels"]["alertname"] == "SwitchboardNoWorkers" and a["labels"].get("department") == "waste"]

        wait_for("SwitchboardNoWorkers is pending or firing for waste", no_workers_alert, seconds=60)
    finally:
        server.terminate()
        try:
            server.wait(timeout=15)
        except subprocess.TimeoutExpired:
            server.kill()
        shutil.rmtree(work, ignore_errors=True)
