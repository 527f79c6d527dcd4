"""switchboard-gateway as a city runs it: the real gateway process between HTTP webhooks
signed as Meta and the generic webhook sign them, and a real switchboardd. What counts is
what reaches the broker: every item once, nothing from a forged or replayed request, and
a delivery the broker could not take answered 5xx so that the platform sends it again."""
import hashlib
import http.client
import hmac
import json
import os
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request

import pytest

from conftest import daemon_binary
from mdp import Client

APP_SECRET = b"meta-app-secret-for-tests"
VERIFY_TOKEN = "verify-me"
GENERIC_SECRET = b"generic-shared-secret"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for(what, condition, seconds=30):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            if condition():
                return
        except OSError:
            pass  # not listening yet
        time.sleep(0.05)  # polling interval of a deadline-bound wait
    raise AssertionError(f"{what}: not within {seconds} s")


class Broker:
    """switchboardd on a fixed port and data directory, so that it can be stopped and started again."""

    def __init__(self, port, data):
        self.endpoint = f"tcp://127.0.0.1:{port}"
        self.events = f"tcp://127.0.0.1:{free_port()}"
        self.ops = f"http://127.0.0.1:{free_port()}"
        self.data = data
        self.process = None

    def start(self):
        ready = os.path.join(self.data, "ready.json")
        if os.path.exists(ready):
            os.remove(ready)
        log_path = os.path.join(self.data, "switchboardd.log")
        with open(log_path, "ab") as log:
            self.process = subprocess.Popen([daemon_binary(), "--endpoint", self.endpoint, "--events", self.events,
                                             "--stats", self.ops.removeprefix("http://"),
                                             "--data", self.data, "--ready-file", ready], stdout=log, stderr=subprocess.STDOUT)

        def started():
            # A broker that exited (a port taken meanwhile, a store it refused) says why.
            if self.process.poll() is not None:
                with open(log_path, encoding="utf-8", errors="replace") as f:
                    raise AssertionError(f"switchboardd exited with {self.process.returncode}: {f.read()[-2000:]}")
            return os.path.exists(ready)
        wait_for("switchboardd ready", started)

    def stop(self):
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=15)


def write_secret(directory, name, value):
    path = os.path.join(directory, name)
    with open(path, "wb") as f:
        f.write(value)
    os.chmod(path, 0o600)
    return path


@pytest.fixture
def city(ctx):
    work = tempfile.mkdtemp(prefix="switchboard-gateway-")
    broker = Broker(free_port(), os.path.join(work, "data"))
    os.makedirs(broker.data)
    broker.start()
    http = free_port()
    config = os.path.join(work, "gateway.yaml")
    with open(config, "w") as f:
        f.write(f"""broker:
  endpoint: {broker.endpoint}
listen: 127.0.0.1:{http}
ingest_timeout: 2
meta:
  app_secret_file: {write_secret(work, "app-secret", APP_SECRET)}
  verify_token_file: {write_secret(work, "verify-token", VERIFY_TOKEN.encode())}
  accounts:
    - {{ platform: facebook, id: "1001", handle: RivertonCityHall }}
    - {{ platform: whatsapp, id: "3003", handle: "+1 555 0100" }}
generic:
  secret_file: {write_secret(work, "generic-secret", GENERIC_SECRET)}
""")
    gateway = subprocess.Popen([os.path.join(os.path.dirname(daemon_binary()), "switchboard-gateway"), "--config", config],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    base = f"http://127.0.0.1:{http}"
    wait_for("the gateway listens", lambda: request(base + "/healthz")[0] == 200)
    yield base, broker, Client(ctx, broker.endpoint)
    gateway.kill()
    gateway.wait()
    if broker.process.poll() is None:
        broker.stop()


def meta_section(work):
    """The gateway configuration's `meta:` section for one Facebook page, its secrets written in `work`."""
    return f"""meta:
  app_secret_file: {write_secret(work, "app-secret", APP_SECRET)}
  verify_token_file: {write_secret(work, "verify-token", VERIFY_TOKEN.encode())}
  accounts:
    - {{ platform: facebook, id: "1001", handle: RivertonCityHall }}
"""


def spawn_gateway(config):
    return subprocess.Popen([os.path.join(os.path.dirname(daemon_binary()), "switchboard-gateway"), "--config", config],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def request(url, body=None, headers=None):
    try:
        with urllib.request.urlopen(urllib.request.Request(url, data=body, headers=headers or {}), timeout=10) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def meta_post(base, body, secret=APP_SECRET, signature=None):
    header = signature if signature is not None else "sha256=" + hmac.new(secret, body, hashlib.sha256).hexdigest()
    return request(base + "/webhooks/meta", body, {"Content-Type": "application/json", "X-Hub-Signature-256": header})


def inquiries(client):
    _, body = client.request("sb.agent.list", json.dumps({"agent": "ops", "state": "all", "limit": 1000}).encode())
    return json.loads(body[0])["inquiries"]


def messenger(*mids, page="1001"):
    return json.dumps({"object": "page", "entry": [{"id": page, "time": 1764750000, "messaging": [
        {"sender": {"id": "psid-7"}, "recipient": {"id": page}, "timestamp": 1764750000000 + n,
         "message": {"mid": mid, "text": f"question {mid}"}} for n, mid in enumerate(mids)]}]}).encode()


def test_the_verification_handshake(city):
    base, _, _ = city
    assert request(base + f"/webhooks/meta?hub.mode=subscribe&hub.verify_token={VERIFY_TOKEN}&hub.challenge=1158201444") == (200, "1158201444")
    assert request(base + "/webhooks/meta?hub.mode=subscribe&hub.verify_token=wrong&hub.challenge=1")[0] == 403


def test_forged_or_unsigned_deliveries_put_nothing_in(city):
    base, _, client = city
    body = messenger("m-forged")
    assert meta_post(base, body, secret=b"not-the-app-secret")[0] == 403
    assert meta_post(base, body, signature="")[0] == 403
    assert inquiries(client) == []
    _, metrics = request(base + "/metrics")
    assert 'switchboard_gateway_bad_signatures_total{source="meta"} 2' in metrics


def test_every_item_goes_in_once_and_the_citys_own_do_not(city):
    base, _, client = city
    # Escaped Unicode is verified over the raw bytes as sent.
    body = ("""{"object":"page","entry":[{"id":"1001","time":1764750000,"changes":[{"field":"feed","value":{"item":"comment","verb":"add",
        "comment_id":"c-1","post_id":"p-1","parent_id":"p-1","from":{"id":"77","name":"Ana"},"message":"Stra\\u00dfe dunkel","created_time":1764750000}}],
        "messaging":[{"sender":{"id":"psid-7"},"recipient":{"id":"1001"},"timestamp":1764750001000,"message":{"mid":"m-1","text":"Pool hours?"}},
        {"sender":{"id":"1001"},"recipient":{"id":"psid-7"},"timestamp":1764750002000,"message":{"mid":"m-echo","text":"9 to 6","is_echo":true}}]}]}"""
            ).encode()
    assert meta_post(base, body) == (200, "ok\n")
    taken = inquiries(client)
    assert sorted(item["preview"] for item in taken) == ["Pool hours?", "Straße dunkel"]
    # Meta delivers again: nothing more goes in.
    assert meta_post(base, body) == (200, "ok\n")
    assert len(inquiries(client)) == 2
    _, metrics = request(base + "/metrics")
    assert 'switchboard_gateway_items_total{platform="facebook",outcome="duplicate"} 2' in metrics
    assert 'switchboard_gateway_items_total{platform="facebook",outcome="own_message"} 2' in metrics


def test_a_delivery_while_the_broker_is_down_is_answered_5xx_and_goes_in_once_later(city):
    base, broker, client = city
    broker.stop()
    body = messenger("m-down-1", "m-down-2")
    status, _ = meta_post(base, body)
    assert status == 503, "the platform must deliver it again"
    broker.start()
    wait_for("the delivery goes in once the broker is back", lambda: meta_post(base, body)[0] == 200)
    assert meta_post(base, body)[0] == 200
    assert sorted(item["preview"] for item in inquiries(client)) == ["question m-down-1", "question m-down-2"]


def test_the_generic_webhook_takes_signed_envelopes_and_refuses_replays(city):
    base, _, client = city
    envelopes = json.dumps([{"source": {"platform": "web", "account": "riverton.gov/contact", "external_id": f"form-{n}"},
                             "author": {"handle": "resident@example.org"}, "text": f"form {n}", "captured_at": "2026-12-03T09:30:00Z"}
                            for n in (1, 2)]).encode()

    def post(body, timestamp, secret=GENERIC_SECRET):
        signature = "sha256=" + hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        return request(base + "/webhooks/generic", body, {"X-Switchboard-Timestamp": timestamp, "X-Switchboard-Signature": signature})

    now = str(int(time.time()))
    assert post(envelopes, now) == (200, "ok\n")
    assert sorted(item["preview"] for item in inquiries(client)) == ["form 1", "form 2"]
    status, answer = post(envelopes, str(int(time.time()) - 600))
    assert status == 401 and "replay" in answer
    assert request(base + "/webhooks/generic", envelopes)[0] == 401
    assert post(envelopes, now, secret=b"guess")[0] == 401
    assert len(inquiries(client)) == 2


def test_the_shipped_gateway_alerts_pass_their_tests_and_name_only_exported_metrics(city):
    import re
    import shutil
    if shutil.which("promtool") is None:
        pytest.skip("promtool is not installed (make test installs it)")
    base, _, _ = city
    prometheus = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "deploy", "prometheus")
    tested = subprocess.run(["promtool", "test", "rules", "gateway-alerts.test.yml"], cwd=prometheus, capture_output=True, text=True)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert meta_post(base, b"{}", signature="sha256=00")[0] == 403
    _, scrape = request(base + "/metrics")
    checked = subprocess.run(["promtool", "check", "metrics"], input=scrape, capture_output=True, text=True)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    exported = set(re.findall(r"^# TYPE (\S+)", scrape, re.M))
    with open(os.path.join(prometheus, "gateway-alerts.yml")) as f:
        named = set(re.findall(r"\bswitchboard_gateway_[a-z_]+", f.read()))
    assert named and named <= exported, f"named in the rules but not exported: {named - exported}"


def test_a_citizens_edit_and_deletion_change_the_inquiry_not_make_new_ones(city):
    base, _, client = city

    def feed(verb, message=None, time_=1764750000):
        value = {"item": "comment", "verb": verb, "comment_id": "c-edit", "post_id": "p-1", "parent_id": "p-1",
                 "from": {"id": "77", "name": "Ana"}, "created_time": time_}
        if message is not None:
            value["message"] = message
        return json.dumps({"object": "page", "entry": [{"id": "1001", "time": time_, "changes": [{"field": "feed", "value": value}]}]}).encode()

    assert meta_post(base, feed("add", "Streetlight out on Elm")) == (200, "ok\n")
    assert meta_post(base, feed("edited", "Streetlight out on Elm and Oak", 1764750100)) == (200, "ok\n")
    assert meta_post(base, feed("edited", "Streetlight out on Elm and Oak", 1764750100)) == (200, "ok\n"), "Meta delivers again"
    assert meta_post(base, feed("remove", None, 1764750200)) == (200, "ok\n")
    taken = inquiries(client)
    assert len(taken) == 1, "an edit or a deletion is never a new inquiry"
    _, shown = client.request("sb.agent.show", json.dumps({"agent": "ops", "id": taken[0]["id"]}).encode())
    detail = json.loads(shown[0])
    assert [(m["kind"], m.get("text")) for m in detail["conversation"]] == [
        ("post", "Streetlight out on Elm"), ("edit", "Streetlight out on Elm and Oak"), ("deleted", None)]
    events = [entry["event"] for entry in detail["timeline"]]
    assert events.count("inquiry.edited") == 1 and events.count("inquiry.withdrawn") == 1


def test_the_webhook_over_tls_through_the_shipped_nginx_block(city, tmp_path):
    import shutil
    import ssl
    if shutil.which("nginx") is None or shutil.which("openssl") is None:
        pytest.skip("nginx or openssl is not installed (make test installs them)")
    base, _, client = city
    cert, key = str(tmp_path / "gateway.pem"), str(tmp_path / "gateway.key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", "/CN=localhost", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    port = free_port()
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "deploy", "nginx-switchboard-gateway.conf")) as f:
        block = f.read()
    block = (block.replace("listen 443 ssl;", f"listen 127.0.0.1:{port} ssl;")
             .replace("/etc/ssl/certs/switchboard-gateway.pem", cert).replace("/etc/ssl/private/switchboard-gateway.key", key)
             .replace("http://127.0.0.1:8443", base))
    conf = tmp_path / "nginx.conf"
    conf.write_text(f"""daemon off;
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    access_log off;
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    fastcgi_temp_path {tmp_path}/fastcgi;
    uwsgi_temp_path {tmp_path}/uwsgi;
    scgi_temp_path {tmp_path}/scgi;
{block}
}}
""")
    server = subprocess.Popen(["nginx", "-c", str(conf), "-p", str(tmp_path)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        context = ssl.create_default_context(cafile=cert)
        secure = f"https://127.0.0.1:{port}"

        def post(body, signature):
            req = urllib.request.Request(secure + "/webhooks/meta", data=body,
                                         headers={"Content-Type": "application/json", "X-Hub-Signature-256": signature})
            try:
                with urllib.request.urlopen(req, timeout=10, context=context) as response:
                    return response.status
            except urllib.error.HTTPError as error:
                return error.code

        body = messenger("m-tls")
        signature = "sha256=" + hmac.new(APP_SECRET, body, hashlib.sha256).hexdigest()
        wait_for("nginx serves TLS", lambda: post(body, signature) == 200)
        assert [item["preview"] for item in inquiries(client)] == ["question m-tls"]
        assert post(body, "sha256=" + "0" * 64) == 403, "the signature still holds through the proxy"
        try:
            urllib.request.urlopen(secure + "/metrics", timeout=10, context=context)
            raise AssertionError("/metrics must not be public")
        except urllib.error.HTTPError as error:
            assert error.code == 404
    finally:
        server.terminate()
        server.wait(timeout=10)


def self_signed(directory, name, common_name):
    cert, key = os.path.join(directory, name + ".pem"), os.path.join(directory, name + ".key")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert, "-days", "1",
                    "-subj", f"/CN={common_name}", "-addext", "subjectAltName=DNS:localhost,IP:127.0.0.1"], check=True, capture_output=True)
    os.chmod(key, 0o600)
    return cert, key


def test_the_gateway_serves_tls_itself_and_takes_a_new_certificate_on_sighup(ctx, tmp_path):
    import shutil
    import ssl
    if shutil.which("openssl") is None:
        pytest.skip("openssl is not installed (make test installs it)")
    work = str(tmp_path)
    broker = Broker(free_port(), os.path.join(work, "data"))
    os.makedirs(broker.data)
    broker.start()
    cert, key = self_signed(work, "first", "first-certificate")
    port = free_port()
    config = os.path.join(work, "gateway.yaml")
    with open(config, "w") as f:
        f.write(f"""broker:
  endpoint: {broker.endpoint}
listen: 127.0.0.1:{port}
tls:
  certificate: {cert}
  key_file: {key}
{meta_section(work)}""")
    gateway = spawn_gateway(config)
    try:
        secure = f"https://127.0.0.1:{port}"

        def served_by():
            der = ssl.get_server_certificate(("127.0.0.1", port))
            with open(os.path.join(work, "served.pem"), "w") as f:
                f.write(der)
            out = subprocess.run(["openssl", "x509", "-noout", "-subject", "-in", os.path.join(work, "served.pem")],
                                 capture_output=True, text=True).stdout
            return out.strip()

        def post(body, cafile):
            req = urllib.request.Request(secure + "/webhooks/meta", data=body, headers={
                "Content-Type": "application/json", "X-Hub-Signature-256": "sha256=" + hmac.new(APP_SECRET, body, hashlib.sha256).hexdigest()})
            with urllib.request.urlopen(req, timeout=10, context=ssl.create_default_context(cafile=cafile)) as response:
                return response.status

        wait_for("the gateway serves TLS", lambda: "first-certificate" in served_by())
        assert post(messenger("m-tls-1"), cert) == 200
        client = Client(ctx, broker.endpoint)
        assert [item["preview"] for item in inquiries(client)] == ["question m-tls-1"]
        with pytest.raises((OSError, http.client.HTTPException)):
            urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5)   # plain HTTP is not served
        # A renewed certificate (as certbot writes it) is taken on SIGHUP, without a restart.
        second_cert, second_key = self_signed(work, "second", "second-certificate")
        shutil.copyfile(second_cert, cert)
        shutil.copyfile(second_key, key)
        gateway.send_signal(signal.SIGHUP)
        wait_for("new connections get the new certificate", lambda: "second-certificate" in served_by())
        assert post(messenger("m-tls-2"), second_cert) == 200
        assert gateway.poll() is None
    finally:
        gateway.kill()
        gateway.wait()
        broker.stop()
