"""The manager's report as a manager makes it: `switchboard report` against a broker an
agent has worked with, in every format, and the HTML page opened in headless Chromium
with no network (a screenshot taken, no console message)."""
import csv
import datetime
import io
import json
import os
import shutil
import subprocess
import tempfile

import pytest

from conftest import Daemon, daemon_binary, render_in_chromium
from mdp import Client


def cli(*args, check=True):
    binary = os.path.join(os.path.dirname(daemon_binary()), "switchboard")
    result = subprocess.run([binary, *args], capture_output=True, text=True, timeout=60)
    if check:
        assert result.returncode == 0, result.stderr
    return result


def envelope(external_id, text, platform="x", account="@RivertonCity"):
    return json.dumps({
        "source": {"platform": platform, "account": account, "external_id": external_id},
        "author": {"handle": "@canary_citizen", "display_name": "Canary Citizen"}, "text": text,
        "captured_at": "2026-11-22T09:30:00Z",
    }).encode()


@pytest.fixture
def worked_day(ctx):
    """A broker after a few moves: three questions at the front office (one answered and
    closed, one handed to parks), a pothole for roads, and a post to an account nobody
    registered (flagged, to the front office)."""
    daemon = Daemon()
    try:
        client = Client(ctx, daemon.endpoint)
        ids = []
        for n, (text, account) in enumerate([("When does the library open? CANARY", "@RivertonCity"),
                                             ("Is the town hall open on Saturday? CANARY", "@RivertonCity"),
                                             ("Pothole on Main Street CANARY", "@RivertonCity"),
                                             ("Hello there CANARY", "@RivertonCityOfficial")]):
            _, body = client.request("sb.ingest", envelope(f"report-{n}", text, account=account))
            ids.append(json.loads(body[0])["id"])
        agent = ["--endpoint", daemon.endpoint, "--agent", "ana", "--department", "front-office"]
        cli("claim", ids[0], *agent)
        cli("reply", ids[0], "--via", "@RivertonCity", "Nine to five, every weekday.", *agent)
        cli("close", ids[0], "--resolution", "answered", *agent)
        cli("handoff", ids[1], "--to", "parks", "--note", "the park", *agent)
        daemon.agent = agent
        yield daemon
    finally:
        if daemon.process.poll() is None:
            daemon.process.kill()
            daemon.process.wait()


def today():
    return datetime.datetime.now(datetime.timezone.utc).date().isoformat()


def test_the_report_in_every_format(worked_day):
    window = ["--endpoint", worked_day.endpoint, "--from", today(), "--to", today()]
    report = json.loads(cli("report", *window, "--format", "json").stdout)
    rows = {(row["department"], row["platform"]): row for row in report["rows"]}
    city = rows[("all", "all")]
    assert (city["received"], city["answered"], city["closed"], city["handoffs"], city["unofficial"]) == (4, 1, 1, 1, 1), city
    assert rows[("parks", "x")]["handoffs"] == 1 and rows[("roads", "all")]["received"] == 1
    assert rows[("front-office", "all")]["received"] == 2 and rows[("front-office", "all")]["closed"] == 1
    assert city["first_response_p50_seconds"] is not None and city["first_response_met"] == 1

    table = cli("report", *window).stdout
    assert table.splitlines()[0].startswith(f"Inquiries received from {today()}T00:00:00.000Z")
    line = next(l for l in table.splitlines() if l.startswith("all "))
    assert line.split()[:5] == ["all", "all", "4", "1", "1"], line

    parsed = list(csv.DictReader(io.StringIO(cli("report", *window, "--format", "csv").stdout)))
    city_csv = next(row for row in parsed if row["department"] == "all")
    assert (city_csv["received"], city_csv["handoffs"], city_csv["unofficial"]) == ("4", "1", "1")

    only = json.loads(cli("report", *window, "--department", "parks", "--format", "json").stdout)
    assert {row["department"] for row in only["rows"]} == {"parks", "all"}

    for text in [json.dumps(report), table]:
        assert "CANARY" not in text and "canary_citizen" not in text and "Canary Citizen" not in text

    refused = cli("report", "--endpoint", worked_day.endpoint, "--from", "2025-01-01", "--to", "2026-12-31", check=False)
    assert refused.returncode == 1 and "366 days" in refused.stderr, refused.stderr


@pytest.mark.skipif(shutil.which("chromium") is None, reason="chromium is not installed (make test installs it)")
def test_the_html_report_renders_in_chromium_without_a_network(worked_day):
    work = tempfile.mkdtemp(prefix="switchboard-report-")
    page = os.path.join(work, "report.html")
    written = cli("report", "--endpoint", worked_day.endpoint, "--from", today(), "--to", today(), "--format", "html", "--output", page)
    assert "report written to " + page in written.stderr
    screenshot = os.path.join(work, "report.png")
    # No network: a page that loaded anything from outside would log a failure.
    dom = render_in_chromium("file://" + page, work, screenshot, window="1200,1600", offline=True)
    assert "4 received, 1 answered, 1 closed" in dom
    assert dom.count("<svg") == 3 and "<polyline" in dom and "<rect" in dom
    roads = dom.split('data-department="roads" data-platform="all"')[1].split("</tr>")[0]
    assert "Roads and street lighting" in roads
    assert "CANARY" not in dom and "canary_citizen" not in dom
    shutil.copy(screenshot, os.environ.get("SWITCHBOARD_REPORT_SCREENSHOT", os.path.join(work, "kept.png")))
