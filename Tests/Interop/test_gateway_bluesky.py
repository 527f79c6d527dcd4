"""switchboard-gateway on Bluesky, against a local server speaking the AT Protocol's
XRPC shapes: mentions and replies once each, an expired access token refreshed without
losing the cursor, a reply to a reply carrying its thread's root, and a text over 300
graphemes refused to the agent before anything is posted."""
import json

import pytest

from bluesky_api import BlueskyAPI
from gateway_city import GatewayCity
from test_gateway import request, wait_for, write_secret

HANDLE = "@riverton.bsky.social"


class City(GatewayCity):
    def __init__(self, ctx):
        super().__init__(ctx, "switchboard-bluesky-")
        self.api = BlueskyAPI()
        self.servers.append(self.api)
        self.configure(f"""bluesky:
  accounts:
    - {{ service: {self.api.base}, handle: "{HANDLE}", app_password_file: {write_secret(self.work, "bluesky-password", b"app-pass-1")}, poll_every: 1 }}
""")
        registered = self.cli("channels", "register", "--platform", "bluesky", "--handle", HANDLE, "--json")
        assert registered.returncode == 0, registered.stdout + registered.stderr
        assert self.cli("channels", "approve", json.loads(registered.stdout)["channel"]["id"]).returncode == 0

    def cursor(self):
        return super().cursor("bluesky-riverton.bsky.social")


@pytest.fixture
def city(ctx):
    c = City(ctx)
    c.start_gateway()
    wait_for("the gateway has its cursor", lambda: c.cursor() is not None)
    yield c
    c.stop()


def test_mentions_arrive_once_and_an_expired_token_is_refreshed_without_losing_the_cursor(city):
    for n in range(60):
        city.api.mention(f"@riverton.bsky.social question {n}")
    wait_for("60 mentions over two pages are inquiries", lambda: len(city.inquiries()) >= 60)
    cursor = city.cursor()
    city.api.expire_access()
    city.api.mention("@riverton.bsky.social after the token expired", reason="mention")
    wait_for("polling resumes at the cursor", lambda: len(city.inquiries()) >= 61)
    assert city.api.refreshes >= 1 and city.api.sessions == 1, "refreshed, not signed in again"
    assert len(city.inquiries()) == 61 and city.cursor() != cursor
    shown = json.loads(city.cli("show", city.inquiries()[0]["case"], "--json").stdout)["inquiry"]
    assert shown["source"]["platform"] == "bluesky" and shown["author"]["handle"] == "@ana.bsky.social"


def test_a_reply_to_a_reply_carries_the_threads_root(city):
    root = city.api.mention("@riverton.bsky.social the tram stop sign fell")
    city.api.mention("@riverton.bsky.social still down today", reason="reply", parent=root)
    wait_for("both are inquiries", lambda: len(city.inquiries()) == 2)
    case = next(i["case"] for i in city.inquiries() if i["preview"].startswith("@riverton.bsky.social still"))
    assert city.cli("claim", case).returncode == 0
    assert city.cli("reply", case, "--via", HANDLE, "A crew is on its way.").returncode == 0

    def last():
        return json.loads(city.cli("show", case, "--json").stdout)["conversation"][-1]
    wait_for("the reply is posted", lambda: last()["message_status"] == "posted")
    record = city.api.records[0]
    parent = {"uri": city.api.notifications[-1]["uri"], "cid": city.api.notifications[-1]["cid"]}
    assert record["repo"] == "did:plc:rivertoncity" and record["collection"] == "app.bsky.feed.post"
    assert record["record"]["text"] == "A crew is on its way."
    assert record["record"]["reply"] == {"root": root, "parent": parent}
    assert last()["external_id"].startswith("at://did:plc:rivertoncity/app.bsky.feed.post/"), "the new post's uri, for the thread"


def test_an_answer_over_300_graphemes_is_refused_before_posting(city):
    city.api.mention("@riverton.bsky.social long answer please")
    wait_for("the mention is an inquiry", lambda: len(city.inquiries()) == 1)
    case = city.inquiries()[0]["case"]
    assert city.cli("claim", case).returncode == 0
    # 301 graphemes of several code points each: counted as people see them.
    assert city.cli("reply", case, "--via", HANDLE, "👍🏽" * 301).returncode == 0

    def last():
        return json.loads(city.cli("show", case, "--json").stdout)["conversation"][-1]
    wait_for("the failure is recorded", lambda: last()["message_status"] == "failed")
    assert last()["code"] == "text_too_long" and "at most 300" in last()["reason"]
    assert city.api.records == [], "nothing was posted"


def test_a_gateway_killed_before_its_cursor_moved_repeats_and_nothing_twice(city):
    city.stop_gateway()
    cursor = city.cursor()
    for n in range(3):
        city.api.mention(f"@riverton.bsky.social crash {n}")
    city.start_gateway(wait=False, SWITCHBOARD_GATEWAY_TEST_EXIT_BEFORE_CURSOR="1")
    city.gateway.wait(timeout=30)
    assert city.gateway.returncode == 71, "stopped after the broker's acknowledgement, before the cursor moved"
    assert len(city.inquiries()) == 3 and city.cursor() == cursor
    city.start_gateway()
    wait_for("the cursor moves after the repeat", lambda: city.cursor() != cursor)
    assert len(city.inquiries()) == 3, "the broker's deduplication keeps one inquiry each"
    _, metrics = request(city.base + "/metrics")
    assert 'switchboard_gateway_items_total{platform="bluesky",outcome="duplicate"} 3' in metrics
