"""switchboard-gateway in front of two brokers on one PostgreSQL database (9/SB-HA), as
a city runs it for failover: the gateway is given both brokers, the active one is killed
with SIGKILL between two webhook deliveries, and every item reaches the broker that took
over, once. The platform's retries of a delivery answered 5xx during the takeover are
what Meta does."""
import json
import os
import random
import shutil
import signal
import subprocess
import tempfile

import pytest

from conftest import ROOT, daemon_binary
from mdp import Client
from test_gateway import free_port, meta_post, meta_section, messenger, request, spawn_gateway, wait_for


@pytest.fixture
def postgres():
    """A PostgreSQL on loopback for this test (Debian's postgresql package), or the one
    SWITCHBOARD_TEST_POSTGRES names; a fresh database on it."""
    given = os.environ.get("SWITCHBOARD_TEST_POSTGRES", "").removesuffix("/postgres")
    directory = None
    if given:
        server = given
    else:
        directory = tempfile.mkdtemp(prefix="switchboard-pg-")
        port = random.randint(20_000, 60_000)
        subprocess.run([os.path.join(ROOT, "scripts/postgres.sh"), "start", directory, str(port)], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
        server = f"postgres://postgres@127.0.0.1:{port}"
    name = f"gw_{random.randrange(1 << 40):x}"
    subprocess.run(["psql", "-q", f"{server}/postgres", "-c", f"CREATE DATABASE {name}"], check=True)
    yield f"{server}/{name}"
    if directory:
        subprocess.run([os.path.join(ROOT, "scripts/postgres.sh"), "stop", directory], stdin=subprocess.DEVNULL,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        shutil.rmtree(directory, ignore_errors=True)


class PostgresBroker:
    """One of the brokers on the database, on a fixed port; its role from its ready file."""

    def __init__(self, name, store, work):
        self.endpoint = f"tcp://127.0.0.1:{free_port()}"
        self.data = os.path.join(work, name)
        os.makedirs(self.data)
        self.ready = os.path.join(self.data, "ready.json")
        self.process = subprocess.Popen([daemon_binary(), "--store", store, "--name", name, "--endpoint", self.endpoint,
                                         "--events", "off", "--stats", "off", "--lease-time", "3s", "--data", self.data,
                                         "--ready-file", self.ready], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)

    def role(self):
        if self.process.poll() is not None:
            return None
        try:
            with open(self.ready) as f:
                return json.load(f).get("role")
        except (FileNotFoundError, json.JSONDecodeError):
            return None


def test_the_gateway_follows_the_active_broker_and_nothing_goes_in_twice(ctx, postgres):
    work = tempfile.mkdtemp(prefix="switchboard-gateway-ha-")
    brokers = [PostgresBroker(f"broker-{n}", postgres, work) for n in range(2)]
    gateway = None
    try:
        wait_for("one broker is active and the other stands by",
                 lambda: sorted(broker.role() or "" for broker in brokers) == ["active", "standby"])
        http = free_port()
        config = os.path.join(work, "gateway.yaml")
        with open(config, "w") as f:
            f.write(f"""broker:
  endpoint: {brokers[1].endpoint}, {brokers[0].endpoint}
listen: 127.0.0.1:{http}
ingest_timeout: 2
{meta_section(work)}""")
        gateway = spawn_gateway(config)
        base = f"http://127.0.0.1:{http}"
        wait_for("the gateway listens", lambda: request(base + "/healthz")[0] == 200)

        def deliver(body):
            # As Meta does: a delivery answered 5xx is sent again, until it is taken.
            wait_for("the delivery is taken", lambda: meta_post(base, body)[0] == 200, seconds=60)

        deliver(messenger("ha-1", "ha-2", "ha-3"))
        active = next(broker for broker in brokers if broker.role() == "active")
        active.process.send_signal(signal.SIGKILL)
        active.process.wait()
        survivor = next(broker for broker in brokers if broker is not active)
        deliver(messenger("ha-4", "ha-5"))
        deliver(messenger("ha-3", "ha-6"))   # one item again, one new
        assert survivor.role() == "active"
        client = Client(ctx, survivor.endpoint)
        _, body = client.request("sb.agent.list", json.dumps({"agent": "ops", "state": "all", "limit": 1000}).encode())
        previews = sorted(item["preview"] for item in json.loads(body[0])["inquiries"])
        assert previews == [f"question ha-{n}" for n in range(1, 7)]
    finally:
        if gateway and gateway.poll() is None:
            gateway.kill()
            gateway.wait()
        for broker in brokers:
            if broker.process.poll() is None:
                broker.process.send_signal(signal.SIGTERM)
                broker.process.wait(timeout=30)
        shutil.rmtree(work, ignore_errors=True)
