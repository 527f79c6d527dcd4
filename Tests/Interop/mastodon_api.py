"""A local server speaking the Mastodon REST API's documented shapes, for the gateway's
Mastodon tests: notifications paged by min_id with a Link header (newest first within a
page, as Mastodon answers), statuses to read, statuses to post (recorded with their
headers), and scripted answers such as a 429 with X-RateLimit-Reset."""
import json
import threading
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
        api = self

        class Handler(JSONHandler):

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = urllib.parse.parse_qs(url.query)
                with api.lock:
                    api.gets += 1
                    if url.path == "/api/v1/accounts/verify_credentials":
                        return self.answer(200, api.own)
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

    def stop(self):
        self.server.shutdown()
