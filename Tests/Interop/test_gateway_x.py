"""switchboard-gateway on X, against a local server that speaks the X API v2: mentions
across pages and a restart arrive once each, an edit changes its inquiry, a crash before
the cursor moved repeats without duplicates, the Account Activity webhook's CRC check and
signatures hold, and a duplicate-text refusal shows to the agent."""
import base64
import hashlib
import hmac
import json
import pytest

from gateway_city import GatewayCity
from test_gateway import request, wait_for, write_secret
from x_api import XAPI

CONSUMER_SECRET = b"x-consumer-secret"


class City(GatewayCity):
    def __init__(self, ctx):
        super().__init__(ctx, "switchboard-x-")
        self.api = XAPI()
        self.servers.append(self.api)
        self.configure(f"""x:
  api_base: {self.api.base}
  consumer_secret_file: {write_secret(self.work, "consumer-secret", CONSUMER_SECRET)}
  accounts:
    - {{ user_id: "9000", handle: "@RivertonCity", token_file: {write_secret(self.work, "x-token", b"x-token")}, poll_every: 1 }}
""")

    def cursor(self):
        return super().cursor("x-9000")


@pytest.fixture
def city(ctx):
    c = City(ctx)
    yield c
    c.stop()


def test_mentions_across_pages_and_a_restart_arrive_once_each_and_an_edit_is_not_new(city):
    city.start_gateway()
    wait_for("the gateway starts at the beginning", lambda: city.cursor() == "0")
    first = city.api.mention("@RivertonCity the bridge lights are out")
    for n in range(149):
        city.api.mention(f"@RivertonCity mention {n}")
    wait_for("150 mentions are inquiries", lambda: len(city.inquiries()) >= 150, seconds=60)
    city.stop_gateway()
    for n in range(3):
        city.api.mention(f"@RivertonCity while stopped {n}")
    city.api.mention("@RivertonCity the bridge lights are out since Monday", history=[first])
    city.start_gateway()
    wait_for("the three made while stopped arrive", lambda: len(city.inquiries()) >= 153, seconds=60)
    wait_for("the cursor reaches the newest", lambda: city.cursor() == city.api.posts_seen[-1]["id"])
    items = city.inquiries()
    assert len(items) == 153, "once each, and the edit is not a new inquiry"
    case = next(i["case"] for i in items if i["preview"].startswith("@RivertonCity the bridge"))
    shown = city.cli("show", case).stdout
    assert "inquiry.edited" in shown and "since Monday" in shown, shown
    author = json.loads(city.cli("show", case, "--json").stdout)["inquiry"]["author"]
    assert author == {"handle": "@ana_r", "display_name": "Ana"}


def test_a_gateway_killed_before_its_cursor_moved_repeats_and_nothing_twice(city):
    city.start_gateway()
    wait_for("the gateway starts at the beginning", lambda: city.cursor() == "0")
    city.stop_gateway()
    for n in range(4):
        city.api.mention(f"@RivertonCity crash {n}")
    city.start_gateway(wait=False, SWITCHBOARD_GATEWAY_TEST_EXIT_BEFORE_CURSOR="1")
    city.gateway.wait(timeout=30)
    assert city.gateway.returncode == 71
    assert len(city.inquiries()) == 4 and city.cursor() == "0"
    city.start_gateway()
    wait_for("the cursor moves after the repeat", lambda: city.cursor() == city.api.posts_seen[-1]["id"])
    assert len(city.inquiries()) == 4, "the broker's deduplication keeps one inquiry each"


def sign(body):
    return "sha256=" + base64.b64encode(hmac.new(CONSUMER_SECRET, body, hashlib.sha256).digest()).decode()


def test_the_account_activity_webhook_checks_crc_and_signatures(city):
    city.start_gateway()
    status, body = request(city.base + "/webhooks/x?crc_token=challenge-123")
    assert status == 200
    expected = base64.b64encode(hmac.new(CONSUMER_SECRET, b"challenge-123", hashlib.sha256).digest()).decode()
    assert json.loads(body) == {"response_token": "sha256=" + expected}
    delivery = json.dumps({"for_user_id": "9000", "tweet_create_events": [
        {"id_str": "1900000000000000001", "text": "@RivertonCity potholes on 5th", "timestamp_ms": "1764754200000",
         "user": {"id_str": "500", "screen_name": "ana_r", "name": "Ana"}},
        {"id_str": "1900000000000000002", "text": "our own reply", "user": {"id_str": "9000", "screen_name": "RivertonCity"}}]}).encode()

    def post(signature):
        return request(city.base + "/webhooks/x", delivery, {"Content-Type": "application/json", "x-twitter-webhooks-signature": signature})[0]
    assert post("sha256=" + base64.b64encode(b"0" * 32).decode()) == 403
    assert city.inquiries() == []
    assert post(sign(delivery)) == 200
    assert [i["preview"] for i in city.inquiries()] == ["@RivertonCity potholes on 5th"], "the city's own post is not an inquiry"
    # The citizen deletes the post: the inquiry is withdrawn, not left as if it stood.
    deletion = json.dumps({"for_user_id": "9000", "tweet_delete_events": [
        {"status": {"id": "1900000000000000001", "user_id": "500"}, "timestamp_ms": "1764754300000"}]}).encode()
    assert request(city.base + "/webhooks/x", deletion, {"Content-Type": "application/json", "x-twitter-webhooks-signature": sign(deletion)})[0] == 200
    case = city.inquiries()[0]["case"]
    assert "inquiry.withdrawn" in city.cli("show", case).stdout
    assert len(city.inquiries()) == 1


def test_a_duplicate_text_refusal_shows_to_the_agent(city):
    city.start_gateway()
    wait_for("the gateway starts at the beginning", lambda: city.cursor() == "0")
    mention = city.api.mention("@RivertonCity when does the town hall open?")
    wait_for("the mention is an inquiry", lambda: len(city.inquiries()) == 1)
    case = city.inquiries()[0]["case"]
    city.api.script.append((403, {"detail": "You are not allowed to create a Tweet with duplicate content.", "type": "about:blank",
                                  "title": "Forbidden", "status": 403}, {}))
    assert city.cli("claim", case).returncode == 0
    assert city.cli("reply", case, "--via", "@RivertonCity", "At 9.").returncode == 0

    def last():
        return json.loads(city.cli("show", case, "--json").stdout)["conversation"][-1]
    wait_for("the failure is recorded", lambda: last()["message_status"] == "failed")
    assert "same text" in last()["reason"]
    assert city.api.tweets[0]["body"] == {"text": "At 9.", "reply": {"in_reply_to_tweet_id": mention}}
    assert len(city.api.tweets) == 1, "never retried"
