"""A city for the gateway's interop tests: a real switchboardd, a Client on it, and the
real switchboard-gateway on a configuration the test writes (the broker and listen lines
come from here), started, stopped and killed as the tests need; and a base for the local
servers that speak each platform's API."""
import json
import os
import subprocess
import tempfile
from http.server import BaseHTTPRequestHandler

from conftest import daemon_binary
from mdp import Client
from test_gateway import Broker, free_port, request, wait_for


class GatewayCity:
    def __init__(self, ctx, prefix, agent="ana"):
        self.work = tempfile.mkdtemp(prefix=prefix)
        self.broker = Broker(free_port(), os.path.join(self.work, "data"))
        os.makedirs(self.broker.data)
        self.broker.start()
        self.client = Client(ctx, self.broker.endpoint)
        self.agent = agent
        self.http = free_port()
        self.base = f"http://127.0.0.1:{self.http}"
        self.config = os.path.join(self.work, "gateway.yaml")
        self.gateway = None
        self.servers = []

    def configure(self, platforms):
        """Writes the gateway's configuration: the broker, listen and state lines, then `platforms`."""
        with open(self.config, "w") as f:
            f.write(f"broker:\n  endpoint: {self.broker.endpoint}\nlisten: 127.0.0.1:{self.http}\n"
                    f"state: {os.path.join(self.work, 'state')}\n{platforms}")

    def start_gateway(self, wait=True, **env):
        self.gateway = subprocess.Popen([os.path.join(os.path.dirname(daemon_binary()), "switchboard-gateway"), "--config", self.config],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, **env})
        if wait:
            wait_for("the gateway listens", lambda: request(self.base + "/healthz")[0] in (200, 503))

    def stop_gateway(self):
        self.gateway.terminate()
        self.gateway.wait(timeout=15)

    def stop(self):
        if self.gateway and self.gateway.poll() is None:
            self.gateway.kill()
            self.gateway.wait()
        if self.broker.process.poll() is None:
            self.broker.stop()
        for server in self.servers:
            server.stop()

    def inquiries(self):
        _, body = self.client.request("sb.agent.list", json.dumps({"agent": "ops", "state": "all", "limit": 1000}).encode())
        return json.loads(body[0])["inquiries"]

    def cli(self, *args):
        return subprocess.run([os.path.join(os.path.dirname(daemon_binary()), "switchboard"), *args, "--endpoint", self.broker.endpoint,
                               "--agent", self.agent, "--department", "front-office"], capture_output=True, text=True, timeout=30)

    def cursor(self, name):
        try:
            with open(os.path.join(self.work, "state", "cursors", name)) as f:
                return f.read().strip()
        except FileNotFoundError:
            return None


class JSONHandler(BaseHTTPRequestHandler):
    """A handler that answers JSON, for the fake platforms."""

    def answer(self, status, body, headers=None):
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass
