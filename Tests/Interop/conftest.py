import os
import re
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
    """A spawned switchboardd on a free port; the endpoint is read from its ready line."""

    def __init__(self, *args):
        self.process = subprocess.Popen(
            [daemon_binary(), "--endpoint", "tcp://127.0.0.1:*", "--events", "tcp://127.0.0.1:*", "--data", tempfile.mkdtemp(prefix="switchboard-interop-"), *args],
            stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True,
        )
        deadline = time.monotonic() + 30
        self.endpoint = None
        while self.endpoint is None and time.monotonic() < deadline:
            line = self.process.stderr.readline()
            if not line and self.process.poll() is not None:
                raise RuntimeError("switchboardd exited before it was ready")
            if "switchboardd ready" in line:
                self.endpoint = re.search(r"mdp\.endpoint=(tcp://[0-9.]+:[0-9]+)", line).group(1)
                self.events = re.search(r"events\.endpoint=(tcp://[0-9.]+:[0-9]+)", line).group(1)
        assert self.endpoint, "switchboardd did not report ready in time"

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
