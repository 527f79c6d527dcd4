"""A local server speaking the Mastodon REST API's documented shapes, for the gateway's
Mastodon tests: notifications paged by min_id with a Link header (newest first within a
page, as Mastodon answers), statuses to read, statuses to post (recorded with their
headers), scripted answers such as a 429 with X-RateLimit-Reset, and the user stream
(server-sent events with :thump heartbeats) that a test can push events into or drop."""
import json
import queue
import threading
import time
import urllib.parse
from http.server import ThreadingHTTPServer

from gateway_city import JSONHandler


class MastodonAPI:
    def __init__(self, own_id="1", own_acct="city"):
        self.own = {"id": own_id, "acct": own_acct, "username": own_acct, "display_name": "City of Riverton"}
        self.statuses = {}
        self.notifications = []   # oldest first
        self.posts = []
        self.script = []          # (status, body, headers) for the next POSTs
        self.gets = 0
        self.lock = threading.Lock()
        self.next_id = 100000
        self.streams = []         # one queue per open stream connection
        self.stream_opens = 0
        api = self

        class Handler(JSONHandler):

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = urllib.parse.parse_qs(url.query)
                if url.path == "/api/v1/streaming/user":
                    return self.stream()
                with api.lock:
                    api.gets += 1
                    if url.path == "/api/v1/accounts/verify_credentials":
                        return self.answer(200, api.own)
                    if url.path == "/api/v1/instance":
                        return self.answer(200, {"uri": "riverton.social",
                                                 "urls": {"streaming_api": f"ws://127.0.0.1:{api.server.server_address[1]}"}})
                    if url.path.startswith("/api/v1/statuses/"):
                        status = api.statuses.get(url.path.rsplit("/", 1)[1])
                        return self.answer(200, status) if status else self.answer(404, {"error": "Record not found"})
                    if url.path == "/api/v1/notifications":
                        limit = min(int(query.get("limit", ["40"])[0]), 80)
                        found = [n for n in api.notifications if "mention" in query.get("types[]", ["mention"])]
                        if "min_id" in query:
                            newer = [n for n in found if int(n["id"]) > int(query["min_id"][0])]
                            page = newer[:limit]          # the page right after min_id
                        else:
                            page = found[-limit:]         # the newest
                        page = list(reversed(page))       # newest first
                        headers = {}
                        if page:
                            base = f"http://127.0.0.1:{api.server.server_address[1]}/api/v1/notifications?types[]=mention&limit={limit}"
                            headers["Link"] = f'<{base}&max_id={page[-1]["id"]}>; rel="next", <{base}&min_id={page[0]["id"]}>; rel="prev"'
                        return self.answer(200, page, headers)
                self.answer(404, {"error": "Not found"})

            def stream(self):
                events = queue.Queue()
                with api.lock:
                    api.streams.append(events)
                    api.stream_opens += 1
                self.send_response(200)
                self.send_header("Content-Type", "text/event-stream")
                self.end_headers()
                try:
                    while True:
                        try:
                            item = events.get(timeout=0.5)
                        except queue.Empty:
                            item = ":thump\n"
                        if item is None:
                            return   # dropped by the test
                        self.wfile.write(item.encode())
                        self.wfile.flush()
                except (BrokenPipeError, ConnectionResetError):
                    return
                finally:
                    with api.lock:
                        if events in api.streams:
                            api.streams.remove(events)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with api.lock:
                    api.posts.append({"path": self.path, "token": self.headers.get("Authorization", ""),
                                      "idempotency_key": self.headers.get("Idempotency-Key"), "body": body})
                    scripted = api.script.pop(0) if api.script else None
                    if scripted:
                        return self.answer(*scripted)
                    api.next_id += 1
                    status = {"id": str(api.next_id), "content": body.get("status", ""), "visibility": body.get("visibility"),
                              "in_reply_to_id": body.get("in_reply_to_id"), "account": api.own}
                    api.statuses[status["id"]] = status
                self.answer(200, status)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def mention(self, html, acct="ana@elsewhere.social", visibility="public", in_reply_to=None, account_id="77"):
        """A citizen's status mentioning the city, and its notification."""
        with self.lock:
            self.next_id += 1
            status = {"id": str(self.next_id), "created_at": "2026-12-03T09:30:00.000Z", "content": html, "visibility": visibility,
                      "spoiler_text": "", "in_reply_to_id": in_reply_to, "url": f"https://elsewhere.social/@ana/{self.next_id}",
                      "language": "en", "media_attachments": [],
                      "account": {"id": account_id, "acct": acct, "username": acct.split("@")[0], "display_name": "Ana"}}
            self.statuses[status["id"]] = status
            self.next_id += 1
            self.notifications.append({"id": str(self.next_id), "type": "mention", "created_at": status["created_at"],
                                       "account": status["account"], "status": status})
            return status["id"]

    def push(self, event, data):
        """An event on every open stream, as Mastodon writes it."""
        with self.lock:
            for events in self.streams:
                events.put(f"event: {event}\ndata: {data}\n\n")

    def drop_streams(self):
        with self.lock:
            for events in self.streams:
                events.put(None)

    def wait_for_stream(self, opens, seconds=30):
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            with self.lock:
                if self.stream_opens >= opens and self.streams:
                    return
            time.sleep(0.05)  # polling interval of a deadline-bound wait
        raise AssertionError(f"no stream opened {opens} time(s)")

    def stop(self):
        self.drop_streams()
        self.server.shutdown()
