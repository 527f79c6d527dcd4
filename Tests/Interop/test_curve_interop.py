"""CURVE interop: pyzmq peers load the certificates `switchboard keys generate` writes
(czmq's format) with pyzmq's own loader, and talk to a broker started with them. A peer
with an unknown key, or with no CURVE at all, gets nothing."""
import json
import os
import subprocess
import tempfile

import pytest
import zmq
import zmq.auth

from conftest import Daemon, daemon_binary

pytestmark = pytest.mark.skipif(not zmq.has("curve"), reason="libzmq without CURVE")


def cli():
    return os.path.join(os.path.dirname(daemon_binary()), "switchboard")


def generate(directory, *args):
    subprocess.run([cli(), "keys", "generate", "--out", directory, *args], check=True, capture_output=True, text=True)


@pytest.fixture
def secure():
    keys = tempfile.mkdtemp(prefix="switchboard-keys-")
    authorized = os.path.join(keys, "authorized-keys.yaml")
    generate(keys, "--server", "--name", "broker")
    # keys generate appends each entry to the authorised-keys file, creating it first.
    generate(keys, "--name", "ana", "--role", "agent", "--department", "front-office", "--authorized-keys", authorized)
    generate(keys, "--name", "gw", "--role", "gateway", "--authorized-keys", authorized)
    with open(authorized) as f:
        text = f.read()
    assert text.startswith("keys:\n")
    for name in ("ana", "gw"):
        public, _ = zmq.auth.load_certificate(os.path.join(keys, name + ".key"))
        assert f'public_key: "{public.decode()}"' in text, "the appended entry holds the key pyzmq loads"
    again = subprocess.run([cli(), "keys", "generate", "--out", keys, "--name", "gw", "--role", "gateway", "--authorized-keys", authorized],
                           capture_output=True, text=True)
    assert again.returncode != 0 and "already has a key named gw" in again.stderr, again.stderr
    d = Daemon("--server-key", os.path.join(keys, "broker.key_secret"), "--authorized-keys", authorized)
    yield d, keys
    if d.process.poll() is None:
        d.process.kill()
        d.process.wait()


def connect(ctx, endpoint, keys, name=None, server=True):
    s = ctx.socket(zmq.DEALER)
    s.setsockopt(zmq.LINGER, 0)
    if name:
        public, secret = zmq.auth.load_certificate(os.path.join(keys, name + ".key_secret"))
        s.curve_publickey, s.curve_secretkey = public, secret
        server_public, _ = zmq.auth.load_certificate(os.path.join(keys, "broker.key"))
        s.curve_serverkey = server_public
    s.connect(endpoint)
    return s


def request(s, service, body, timeout_ms=5000):
    s.send_multipart([b"", b"MDPC01", service.encode(), json.dumps(body).encode()])
    if not s.poll(timeout_ms):
        return None
    frames = s.recv_multipart()
    return json.loads(frames[3])


def test_keys_from_the_cli_work_in_pyzmq_and_roles_hold(secure, ctx):
    d, keys = secure
    gateway = connect(ctx, d.endpoint, keys, "gw")
    envelope = {"source": {"platform": "x", "account": "@RivertonCity", "external_id": "curve-1"},
                "author": {"handle": "@resident"}, "text": "My bin was not collected", "captured_at": "2026-11-22T09:30:00Z"}
    assert request(gateway, "sb.ingest", envelope)["status"] == "accepted"
    agent = connect(ctx, d.endpoint, keys, "ana")
    listing = request(agent, "sb.agent.list", {"department": "front-office"})
    assert listing["status"] == "ok"
    refused = request(agent, "sb.ingest", envelope)
    assert refused["error"]["code"] == "forbidden"


def test_a_wrong_or_missing_key_is_refused(secure, ctx):
    d, keys = secure
    stranger = tempfile.mkdtemp(prefix="switchboard-stranger-")
    generate(stranger, "--name", "mallory", "--role", "ops")
    os.symlink(os.path.join(keys, "broker.key"), os.path.join(stranger, "broker.key"))
    wrong = connect(ctx, d.endpoint, stranger, "mallory")
    assert request(wrong, "sb.agent.list", {}, timeout_ms=750) is None
    plain = connect(ctx, d.endpoint, keys)
    assert request(plain, "sb.agent.list", {}, timeout_ms=750) is None


def test_a_wrong_server_key_and_the_plain_mechanism_are_refused(secure, ctx):
    d, keys = secure
    # The right client key, but a server key that is not the broker's.
    fake = tempfile.mkdtemp(prefix="switchboard-fake-broker-")
    generate(fake, "--server", "--name", "broker")
    public, secret = zmq.auth.load_certificate(os.path.join(keys, "ana.key_secret"))
    wrong = ctx.socket(zmq.DEALER)
    wrong.setsockopt(zmq.LINGER, 0)
    wrong.curve_publickey, wrong.curve_secretkey = public, secret
    wrong.curve_serverkey = zmq.auth.load_certificate(os.path.join(fake, "broker.key"))[0]
    wrong.connect(d.endpoint)
    assert request(wrong, "sb.agent.list", {}, timeout_ms=750) is None
    # PLAIN against CURVE: a mechanism mismatch.
    plain = ctx.socket(zmq.DEALER)
    plain.setsockopt(zmq.LINGER, 0)
    plain.plain_username, plain.plain_password = b"ana", b"secret"
    plain.connect(d.endpoint)
    assert request(plain, "sb.agent.list", {}, timeout_ms=750) is None
    # The broker still serves the right key.
    assert request(connect(ctx, d.endpoint, keys, "ana"), "sb.agent.list", {"department": "front-office"})["status"] == "ok"
