"""switchboard-gateway posting agents' replies through a local server that speaks the
Graph API: the right call in the right shape, exactly once (through a rate limit, and
across a crash between the platform's answer and the broker's acknowledgement), a
closed 24-hour window shown to the agent as a failure with its reason, and a refused
token that holds the account's replies until new credentials come."""
import json
import signal
import time

import pytest
import zmq

from graph_api import GraphAPI
from gateway_city import GatewayCity
from test_gateway import APP_SECRET, meta_post, request, wait_for, write_secret


class City(GatewayCity):
    def __init__(self, ctx):
        super().__init__(ctx, "switchboard-publishing-")
        self.graph = GraphAPI()
        self.servers.append(self.graph)
        self.token = write_secret(self.work, "page-token", b"token-1")
        self.configure(f"""meta:
  api_base: {self.graph.base}
  app_secret_file: {write_secret(self.work, "app-secret", APP_SECRET)}
  verify_token_file: {write_secret(self.work, "verify-token", b"v")}
  accounts:
    - {{ platform: facebook, id: "1001", handle: RivertonCityHall, token_file: {self.token} }}
    - {{ platform: facebook, id: "1002", handle: RivertonParks, token_file: {write_secret(self.work, "parks-token", b"parks-1")} }}
""")

    def message_from_citizen(self, mid, text, page="1001"):
        body = json.dumps({"object": "page", "entry": [{"id": page, "time": 1764750000, "messaging": [
            {"sender": {"id": "psid-42"}, "recipient": {"id": page}, "timestamp": 1764750000000, "message": {"mid": mid, "text": text}}]}]}).encode()
        assert meta_post(self.base, body)[0] == 200

    def case(self, text):
        _, body = self.client.request("sb.agent.list", json.dumps({"agent": "ana", "state": "all", "limit": 1000}).encode())
        return next(item["case"] for item in json.loads(body[0])["inquiries"] if item["preview"] == text)

    def answer(self, text, reply, page="1001", via="RivertonCityHall"):
        self.message_from_citizen("m-" + str(abs(hash(text))), text, page)
        case = self.case(text)
        assert self.cli("claim", case).returncode == 0
        replied = self.cli("reply", case, "--via", via, reply)
        assert replied.returncode == 0, replied.stderr
        return case

    def conversation(self, case):
        shown = self.cli("show", case, "--json")
        return json.loads(shown.stdout)["conversation"]


@pytest.fixture
def city(ctx):
    c = City(ctx)
    c.start_gateway()
    yield c
    c.stop()


def test_a_reply_reaches_messenger_in_the_documented_shape_once(city):
    case = city.answer("Hello, a question please", "Hello! Case {case}: we open at 9.")
    wait_for("the reply is posted", lambda: city.conversation(case)[-1]["message_status"] == "posted")
    posts = city.graph.posts("we open at 9")
    assert len(posts) == 1
    call = posts[0]
    assert call["path"] == "/v21.0/1001/messages"
    assert call["token"] == "Bearer token-1"
    assert call["body"] == {"recipient": {"id": "psid-42"}, "messaging_type": "RESPONSE", "message": {"text": f"Hello! Case {case}: we open at 9."}}
    assert city.conversation(case)[-1]["external_id"] == "m_out_1"


def test_a_rate_limit_is_waited_out_and_the_reply_posted_once(city):
    city.graph.script.append((429, {"error": {"message": "(#4) Application request limit reached", "code": 4}}, {"Retry-After": "1"}))
    case = city.answer("Another question", "Throttled answer")
    wait_for("the reply is posted", lambda: city.conversation(case)[-1]["message_status"] == "posted")
    calls = city.graph.posts("Throttled answer")
    assert len(calls) == 2, "refused once, posted once"
    _, metrics = request(city.base + "/metrics")
    assert 'switchboard_gateway_rate_limit_waits_total{platform="facebook"} 1' in metrics


def test_a_closed_window_is_shown_to_the_agent_with_its_reason(city):
    city.graph.script.append((400, {"error": {"message": "(#10) This message is sent outside of allowed window.", "code": 10,
                                              "error_subcode": 2018278}}, {}))
    case = city.answer("A late question", "Too late answer")
    wait_for("the failure is recorded", lambda: city.conversation(case)[-1]["message_status"] == "failed")
    message = city.conversation(case)[-1]
    assert message["code"] == "messaging_window_closed"
    assert "the 24-hour window closed" in message["reason"]
    shown = city.cli("show", case).stdout
    assert "FAILED" in shown and "messaging_window_closed" in shown and "reply.failed" in shown
    assert len(city.graph.posts("Too late answer")) == 1, "a permanent failure is not retried"
    # Not answered after all: back in the queue for a person.
    _, listed = city.client.request("sb.agent.list", json.dumps({"agent": "ana", "department": "front-office"}).encode())
    assert any(item["case"] == case and item["state"] == "queued" for item in json.loads(listed[0])["inquiries"])


def broker_stats(city):
    return {o["platform"]: o for o in json.loads(request(city.broker.ops + "/stats")[1])["outbound"]}


def test_a_refused_token_holds_replies_until_new_credentials_then_posts_once(city, ctx):
    events = ctx.socket(zmq.SUB)
    events.setsockopt(zmq.SUBSCRIBE, b"account.")
    events.connect(city.broker.events)
    city.graph.script.append((401, {"error": {"message": "Error validating access token: Session has expired", "code": 190}}, {}))
    case = city.answer("Token question", "Answer after new token")
    wait_for("the account needs re-authorisation", lambda: request(city.base + "/healthz")[0] == 503)
    status, health = request(city.base + "/healthz")
    assert "RivertonCityHall needs re-authorisation" in health
    assert city.conversation(case)[-1]["message_status"] == "waiting", "neither lost nor failed"
    # The operator sees it where they look: the broker's /stats, /metrics, status page, events.
    wait_for("the broker knows", lambda: broker_stats(city)["facebook"]["needing_reauthorization"])
    refused = broker_stats(city)["facebook"]["needing_reauthorization"]
    assert [entry["account"] for entry in refused] == ["RivertonCityHall"] and "Session has expired" in refused[0]["reason"]
    assert 'switchboard_outbound_accounts_needing_reauthorization{platform="facebook"} 1' in request(city.broker.ops + "/metrics")[1]
    page = request(city.broker.ops + "/")[1]
    assert "facebook account RivertonCityHall needs re-authorisation" in page and "reload the gateway" in page
    assert events.poll(10_000), "an event says the account needs re-authorisation"
    topic, body = events.recv_multipart()
    assert topic == b"account.reauthorization_needed"
    assert json.loads(body)["account"] == "RivertonCityHall" and json.loads(body)["platform"] == "facebook"
    with open(city.token, "w") as f:
        f.write("token-2")
    city.gateway.send_signal(signal.SIGHUP)
    wait_for("the reply is posted with the new token", lambda: city.conversation(case)[-1]["message_status"] == "posted")
    # Answered long before it was posted, the inquiry was let go of by then: its timeline
    # still says the reply went out.
    wait_for("the timeline says the reply was sent", lambda: "reply.sent" in [
        entry["event"] for entry in json.loads(city.cli("show", case, "--json").stdout)["timeline"]])
    calls = city.graph.posts("Answer after new token")
    assert [call["token"] for call in calls] == ["Bearer token-1", "Bearer token-2"]
    assert request(city.base + "/healthz")[0] == 200
    wait_for("the broker hears the account posts again", lambda: not broker_stats(city)["facebook"]["needing_reauthorization"])
    assert events.poll(10_000)
    assert events.recv_multipart()[0] == b"account.reauthorized"
    events.close()


def test_one_account_waiting_does_not_hold_the_others(city):
    registered = city.cli("channels", "register", "--platform", "facebook", "--handle", "RivertonParks", "--exception", "the parks page answers its own visitors", "--json")
    assert registered.returncode == 0, registered.stderr
    assert city.cli("channels", "approve", json.loads(registered.stdout)["channel"]["id"]).returncode == 0
    # The city hall's token is refused: its reply waits, and the parks page's goes out.
    city.graph.script.append((401, {"error": {"message": "Error validating access token: Session has expired", "code": 190}}, {}))
    held = city.answer("City hall question", "City hall answer")
    wait_for("the city hall account waits", lambda: request(city.base + "/healthz")[0] == 503)
    parks = city.answer("Parks question", "Parks answer", page="1002", via="RivertonParks")
    wait_for("the parks reply is posted", lambda: city.conversation(parks)[-1]["message_status"] == "posted")
    assert [call["path"] for call in city.graph.posts("Parks answer")] == ["/v21.0/1002/messages"]
    assert city.conversation(held)[-1]["message_status"] == "waiting"
    assert len(city.graph.posts("City hall answer")) == 1, "tried once, then waits for new credentials"


def test_a_gateway_killed_after_posting_does_not_post_twice(ctx):
    city = City(ctx)
    try:
        city.start_gateway(SWITCHBOARD_GATEWAY_TEST_EXIT_AFTER_POST="1")
        case = city.answer("Crash question", "Posted before the crash")
        city.gateway.wait(timeout=30)
        assert city.gateway.returncode == 70, "the gateway stopped between the platform's answer and the broker's"
        assert len(city.graph.posts("Posted before the crash")) == 1
        city.start_gateway()
        wait_for("the broker hears it was posted", lambda: city.conversation(case)[-1]["message_status"] == "posted", seconds=60)
        assert len(city.graph.posts("Posted before the crash")) == 1, "never posted twice"
        assert city.conversation(case)[-1]["external_id"] == "m_out_1"
    finally:
        city.stop()


def test_the_platforms_later_word_reaches_the_message(city):
    case = city.answer("Status question", "Answer with a later status")
    wait_for("the reply is posted", lambda: city.conversation(case)[-1]["message_status"] == "posted")
    posted_as = city.conversation(case)[-1]["external_id"]
    delivery = json.dumps({"object": "page", "entry": [{"id": "1001", "time": 1764750000, "messaging": [
        {"sender": {"id": "psid-42"}, "recipient": {"id": "1001"}, "timestamp": 1764750009000,
         "delivery": {"mids": [posted_as], "watermark": 1764750009000}}]}]}).encode()
    assert meta_post(city.base, delivery) == (200, "ok\n")
    assert meta_post(city.base, delivery) == (200, "ok\n"), "Meta delivers again"
    assert city.conversation(case)[-1]["message_status"] == "delivered"
    shown = city.cli("show", case).stdout
    assert shown.count("reply.delivered") == 1, shown

    def read(watermark):
        return json.dumps({"object": "page", "entry": [{"id": "1001", "time": watermark // 1000, "messaging": [
            {"sender": {"id": "psid-42"}, "recipient": {"id": "1001"}, "timestamp": watermark, "read": {"watermark": watermark}}]}]}).encode()
    # Messenger's read receipt names no message: a watermark on the citizen's conversation.
    assert meta_post(city.base, read(1764750000000)) == (200, "ok\n"), "a watermark from before the reply"
    assert city.conversation(case)[-1]["message_status"] == "delivered", "covers nothing posted after it"
    now = int(time.time() * 1000)
    assert meta_post(city.base, read(now)) == (200, "ok\n")
    assert meta_post(city.base, read(now)) == (200, "ok\n"), "Meta delivers again"
    assert city.conversation(case)[-1]["message_status"] == "read"
    assert city.cli("show", case).stdout.count("reply.read") == 1
