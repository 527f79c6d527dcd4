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
