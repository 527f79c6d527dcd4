"""switchboard-gateway reading a Mastodon account by asking, against a local server that
speaks the Mastodon API: every mention once, across a stop and a crash (no gap, no
duplicate), HTML as plain text, and replies posted as the citizen wrote (a direct
mention answered direct), once, through a rate limit."""
import datetime
import json
import os
import re

import pytest

from gateway_city import GatewayCity
from mastodon_api import MastodonAPI
from test_gateway import request, wait_for, write_secret

HANDLE = "@city@riverton.social"


class City(GatewayCity):
    def __init__(self, ctx, poll_every=1):
        super().__init__(ctx, "switchboard-mastodon-")
        self.api = MastodonAPI()
        self.servers.append(self.api)
        self.configure(f"""mastodon:
  accounts:
    - {{ instance: {self.api.base}, handle: "{HANDLE}", token_file: {write_secret(self.work, "mastodon-token", b"m-token")}, poll_every: {poll_every} }}
""")

    def cursor_set(self):
        return self.cursor("mastodon-city_riverton.social") is not None


@pytest.fixture
def city(ctx):
    c = City(ctx)
    yield c
    c.stop()


def test_mentions_made_while_the_gateway_was_stopped_arrive_once_each(city):
    city.start_gateway()
    wait_for("the gateway has its cursor", city.cursor_set)
    city.stop_gateway()
    first = city.api.mention('<p>Hello <span class="h-card"><a href="https://riverton.social/@city" class="u-url mention">@<span>city</span></a>'
                             '</span> the lamp &amp; the bench</p><p>on Elm St<br>since Monday <a href="https://riverton.gov/lights">'
                             '<span class="invisible">https://</span><span class="">riverton.gov/lights</span></a></p>')
    for n in range(129):
        city.api.mention(f"<p>mention {n}</p>")
    city.start_gateway()
    wait_for("130 mentions are inquiries", lambda: len(city.inquiries()) >= 130, seconds=90)
    items = city.inquiries()
    assert len(items) == 130, "no gap and no duplicate across three pages"
    shown = json.loads(city.cli("show", next(i["case"] for i in items if i["preview"].startswith("Hello")), "--json").stdout)
    assert shown["inquiry"]["text"] == "Hello @city the lamp & the bench\n\non Elm St\nsince Monday https://riverton.gov/lights"
    assert shown["inquiry"]["author"]["handle"] == "@ana@elsewhere.social"
    assert shown["inquiry"]["source"]["external_id"] == first
    _, metrics = request(city.base + "/metrics")
    assert 'switchboard_gateway_polls_total{platform="mastodon",account="@city@riverton.social"}' in metrics
    assert 'switchboard_gateway_mentions_total{platform="mastodon",account="@city@riverton.social"} 130' in metrics
    ages = dict(re.findall(r'^(switchboard_gateway_(?:poll|newest_mention)_age_seconds)\{platform="mastodon",account="@city@riverton.social"\} (\S+)$',
                           metrics, re.M))
    assert float(ages["switchboard_gateway_poll_age_seconds"]) < 60, "read up to now"
    assert float(ages["switchboard_gateway_newest_mention_age_seconds"]) > 0, "the mentions' own time (2026-12-03T09:30Z)"


def test_a_gateway_killed_before_its_cursor_moved_reads_the_page_again_and_nothing_twice(city):
    city.start_gateway()
    wait_for("the gateway has its cursor", city.cursor_set)
    city.stop_gateway()
    for n in range(5):
        city.api.mention(f"<p>crash {n}</p>")
    city.start_gateway(wait=False, SWITCHBOARD_GATEWAY_TEST_EXIT_BEFORE_CURSOR="1")
    city.gateway.wait(timeout=30)
    assert city.gateway.returncode == 71, "stopped after the broker's acknowledgement, before the cursor moved"
    assert len(city.inquiries()) == 5
    city.start_gateway()
    wait_for("the page is read again", lambda: request(city.base + "/metrics")[1].count('outcome="duplicate"} 5') == 1)
    assert len(city.inquiries()) == 5, "the broker's deduplication keeps one inquiry each"


def test_a_direct_mention_is_answered_direct_once_through_a_rate_limit(city):
    city.start_gateway()
    wait_for("the gateway has its cursor", city.cursor_set)
    status = city.api.mention("<p>@city my tax number, privately please</p>", visibility="direct")
    wait_for("the mention is an inquiry", lambda: len(city.inquiries()) == 1)
    case = city.inquiries()[0]["case"]
    reset = (datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
    city.api.script.append((429, {"error": "Too many requests"}, {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": reset}))
    assert city.cli("claim", case).returncode == 0
    replied = city.cli("reply", case, "--via", HANDLE, "We have sent it to you. Case {case}.")
    assert replied.returncode == 0, replied.stderr

    def conversation():
        return json.loads(city.cli("show", case, "--json").stdout)["conversation"]
    wait_for("the reply is posted", lambda: conversation()[-1]["message_status"] == "posted", seconds=60)
    posts = city.api.posts
    assert len(posts) == 2, "refused once by the rate limit, then posted once"
    post = posts[-1]
    assert post["path"] == "/api/v1/statuses" and post["token"] == "Bearer m-token"
    assert post["body"] == {"status": f"@ana@elsewhere.social We have sent it to you. Case {case}.", "in_reply_to_id": status,
                            "visibility": "direct"}
    key = post["idempotency_key"]
    assert key and posts[0]["idempotency_key"] == key, "the same key on every try, so a second try is not a second post"
    with open(os.path.join(city.work, "state", "posted.journal")) as f:
        assert f"posted {key} " in f.read(), "the key is the message's id, as the gateway's journal records it"
    assert conversation()[-1]["external_id"] in city.api.statuses


def test_the_stream_brings_mentions_edits_and_deletions_and_a_dropped_stream_is_backfilled(ctx):
    city = City(ctx, poll_every=3600)   # no polling to speak of: what arrives, the stream brought
    try:
        city.start_gateway()
        wait_for("the gateway has its cursor", city.cursor_set)
        city.api.wait_for_stream(1)
        status = city.api.mention("<p>@city the fountain is dry</p>")
        city.api.push("notification", json.dumps(city.api.notifications[-1]))
        wait_for("the streamed notification has the mention read", lambda: len(city.inquiries()) == 1)
        case = city.inquiries()[0]["case"]
        edited = dict(city.api.statuses[status], content="<p>@city the fountain is dry and leaking</p>", edited_at="2026-12-03T10:00:00.000Z")
        city.api.push("status.update", json.dumps(edited))
        wait_for("the edit reaches the inquiry", lambda: "inquiry.edited" in city.cli("show", case).stdout)
        assert "and leaking" in city.cli("show", case).stdout
        city.api.push("delete", status)
        wait_for("the deletion reaches the inquiry", lambda: "inquiry.withdrawn" in city.cli("show", case).stdout)
        assert len(city.inquiries()) == 1, "an edit and a deletion are not new inquiries"
        # The stream drops; a mention made meanwhile is read when it is back.
        city.api.drop_streams()
        city.api.mention("<p>@city said while the stream was down</p>")
        city.api.wait_for_stream(2)
        wait_for("the backfill reads it", lambda: len(city.inquiries()) == 2)
        _, metrics = request(city.base + "/metrics")
        assert 'switchboard_gateway_stream_reconnects_total{platform="mastodon",account="@city@riverton.social"}' in metrics
    finally:
        city.stop()
