"""Ingest through a spawned switchboardd from Python, checked against the published
JSON Schema: what the schema accepts the broker accepts, and what it refuses the broker
rejects."""
import copy
import json
import os

import jsonschema
import pytest

from mdp import Client, Worker

SCHEMA = json.load(open(os.path.join(os.path.dirname(__file__), "..", "..", "Protocols", "inquiry-envelope.schema.json")))

VALID = {
    "source": {"platform": "facebook", "account": "RivertonCityHall", "external_id": "fb-1", "url": "https://facebook.com/p/1"},
    "author": {"handle": "resident.one", "display_name": "Resident One"},
    "text": "The playground in Elm park has a broken swing",
    "language": "en",
    "geo": {"lat": 51.6, "lon": -0.2},
    "media": ["https://example.org/swing.jpg"],
    "captured_at": "2026-11-22T09:30:00Z",
}


def variant(path, value):
    envelope = copy.deepcopy(VALID)
    target = envelope
    keys = path.split(".")
    for key in keys[:-1]:
        target = target[key]
    if value is KeyError:
        del target[keys[-1]]
    else:
        target[keys[-1]] = value
    return envelope


BAD = [
    ("source.platform", "tiktok", "unknown_platform"),
    ("source.external_id", KeyError, "missing_field"),
    ("author", KeyError, "missing_field"),
    ("text", 7, "invalid_type"),
    ("colour", "blue", "unknown_field"),
    ("geo.lat", 123.0, "invalid_value"),
    ("media", ["ftp://x"], "invalid_value"),
    ("id", "0190e5c2-8f3a-7c1e-9a55-3b2f0c1d4e6f", "field_set_by_broker"),
]


def ingest(client, envelope):
    service, body = client.request("sb.ingest", json.dumps(envelope).encode())
    assert service == "sb.ingest"
    return json.loads(body[0])


def test_valid_envelope_matches_schema_and_is_accepted_then_delivered(daemon, ctx):
    jsonschema.validate(VALID, SCHEMA)
    client = Client(ctx, daemon.endpoint)
    reply = ingest(client, VALID)
    assert reply["status"] == "accepted"
    assert reply["department"] == "parks"
    assert reply["external_id"] == "fb-1"
    assert ingest(client, VALID)["status"] == "duplicate"

    worker = Worker(ctx, daemon.endpoint, "parks")
    request = worker.recv(10000)
    assert request is not None, "the parks worker got no delivery"
    address, body = request
    delivery = json.loads(body[0])
    assert address == b"sb.delivery:" + reply["id"].encode()
    assert delivery["delivery"] == {"inquiry_id": reply["id"], "count": 1, "department": "parks", "priority": "normal",
                                    "case": "R-1", "reply_accounts": ["RivertonCityHall"]}
    assert delivery["inquiry"]["id"] == reply["id"]
    assert delivery["inquiry"]["text"] == VALID["text"]
    assert delivery["routing"]["rule"] == "parks"
    worker.reply(address, b"thanks")
    worker.close()


@pytest.mark.parametrize("path,value,code", BAD)
def test_schema_and_broker_agree_on_bad_envelopes(daemon, ctx, path, value, code):
    envelope = variant(path, value)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(envelope, SCHEMA)
    reply = ingest(Client(ctx, daemon.endpoint), envelope)
    assert reply["status"] == "rejected"
    assert reply["error"]["code"] == code


def test_event_stream_from_python(daemon, ctx):
    import time
    import zmq
    sub = ctx.socket(zmq.SUB)
    sub.setsockopt(zmq.SUBSCRIBE, b"inquiry.")
    sub.connect(daemon.events)
    client = Client(ctx, daemon.endpoint)
    deadline = time.monotonic() + 10
    seen = None
    n = 0
    while seen is None and time.monotonic() < deadline:
        n += 1
        reply = ingest(client, variant("source.external_id", f"stream-{n}"))
        while sub.poll(50):
            topic, body = sub.recv_multipart()
            event = json.loads(body)
            if topic == b"inquiry.routed" and event["inquiry_id"] == reply["id"]:
                seen = event
    assert seen is not None, "no inquiry.routed event arrived"
    assert seen["department"] == "parks" and seen["to"] == "queued"
    assert "text" not in seen and VALID["author"]["handle"] not in json.dumps(seen)
