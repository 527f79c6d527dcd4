import json
import os
import signal
import subprocess
import tempfile
import time

import pytest
import zmq

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def daemon_binary():
    if os.environ.get("SWITCHBOARDD"):
        return os.environ["SWITCHBOARDD"]
    bin_path = subprocess.run(
        ["swift", "build", "--show-bin-path"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.strip()
    return os.path.join(bin_path, "switchboardd")


class Daemon:
    """A spawned switchboardd on a free port; the endpoints are read from its --ready-file."""

    def __init__(self, *args):
        data = tempfile.mkdtemp(prefix="switchboard-interop-")
        ready = os.path.join(data, "ready.json")
        self.process = subprocess.Popen(
            [daemon_binary(), "--endpoint", "tcp://127.0.0.1:*", "--events", "tcp://127.0.0.1:*", "--data", data,
             "--ready-file", ready, "--stats", "off", *args],
            stderr=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 30
        document = None
        while document is None and time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError("switchboardd exited before it was ready")
            try:
                with open(ready) as f:
                    document = json.load(f)
            except (FileNotFoundError, json.JSONDecodeError):
                time.sleep(0.005)  # polling interval of a deadline-bound wait
        assert document, "switchboardd did not write its ready file in time"
        self.endpoint = document["mdp_endpoint"]
        self.events = document["events_endpoint"]

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout=15)


@pytest.fixture
def daemon():
    d = Daemon("--heartbeat-interval", "250ms")
    yield d
    if d.process.poll() is None:
        d.process.kill()
        d.process.wait()


@pytest.fixture
def ctx():
    c = zmq.Context()
    yield c
    c.destroy(linger=0)


def render_in_chromium(url, work, screenshot, window="1000,1400", offline=False):
    """Opens `url` in headless Chromium: its DOM once rendered, after checking that
    nothing it ran or loaded logged to the console, and a PNG screenshot of it taken.
    `offline` sends any request to the network to a proxy that is not there."""
    chromium = ["chromium", "--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--user-data-dir=" + work,
                "--enable-logging=stderr", "--v=0", "--virtual-time-budget=2000"]
    if offline:
        chromium += ["--proxy-server=127.0.0.1:9", "--proxy-bypass-list=<-loopback>"]
    rendered = subprocess.run(chromium + ["--dump-dom", url], capture_output=True, text=True, timeout=120)
    assert rendered.returncode == 0, rendered.stderr[-2000:]
    assert "CONSOLE" not in rendered.stderr, rendered.stderr[-2000:]
    shot = subprocess.run(chromium + ["--window-size=" + window, "--screenshot=" + screenshot, url], capture_output=True, text=True, timeout=120)
    assert shot.returncode == 0, shot.stderr[-2000:]
    with open(screenshot, "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n", "a PNG screenshot"
    assert os.path.getsize(screenshot) > 10_000
    return rendered.stdout
