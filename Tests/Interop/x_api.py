"""A local server speaking the X API v2's documented shapes, for the gateway's X tests:
the mentions timeline (newest first, since_id, pagination_token, meta.newest_id and
next_token, includes.users), and POST /2/tweets (recorded, or answered as scripted, such
as a 403 for duplicate content)."""
import json
import threading
import urllib.parse
from http.server import ThreadingHTTPServer

from gateway_city import JSONHandler


class XAPI:
    def __init__(self, city_id="9000"):
        self.city_id = city_id
        self.posts_seen = []      # mentions, oldest first
        self.users = {"500": {"id": "500", "username": "ana_r", "name": "Ana"}}
        self.tweets = []
        self.script = []
        self.lock = threading.Lock()
        self.next_id = 1800000000000000000
        api = self

        class Handler(JSONHandler):

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = {k: v[0] for k, v in urllib.parse.parse_qs(url.query).items()}
                if url.path != f"/2/users/{api.city_id}/mentions":
                    return self.answer(404, {"title": "Not Found Error", "detail": "no such resource", "status": 404})
                with api.lock:
                    found = [t for t in api.posts_seen if "since_id" not in query or int(t["id"]) > int(query["since_id"])]
                    found = list(reversed(found))                      # newest first
                    size = int(query.get("max_results", "10"))
                    offset = int(query.get("pagination_token", "t0")[1:])
                    page = found[offset:offset + size]
                    meta = {"result_count": len(page)}
                    if page:
                        meta["newest_id"], meta["oldest_id"] = page[0]["id"], page[-1]["id"]
                    if offset + size < len(found):
                        meta["next_token"] = f"t{offset + size}"
                    body = {"meta": meta}
                    if page:
                        body["data"] = page
                        body["includes"] = {"users": [api.users[i] for i in sorted({t["author_id"] for t in page})]}
                self.answer(200, body)

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with api.lock:
                    api.tweets.append({"path": self.path, "token": self.headers.get("Authorization", ""), "body": body})
                    scripted = api.script.pop(0) if api.script else None
                    if scripted:
                        return self.answer(*scripted)
                    api.next_id += 1
                self.answer(201, {"data": {"id": str(api.next_id), "text": body.get("text", ""), "edit_history_tweet_ids": [str(api.next_id)]}})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def mention(self, text, history=None, replied_to=None):
        with self.lock:
            self.next_id += 1
            tweet = {"id": str(self.next_id), "text": text, "author_id": "500", "created_at": "2026-12-03T09:30:00.000Z",
                     "edit_history_tweet_ids": (history or []) + [str(self.next_id)], "lang": "en"}
            if replied_to:
                tweet["referenced_tweets"] = [{"type": "replied_to", "id": replied_to}]
            self.posts_seen.append(tweet)
            return tweet["id"]

    def stop(self):
        self.server.shutdown()
