"""A local server speaking the AT Protocol's XRPC shapes that the gateway uses:
createSession and refreshSession (access tokens the test can expire, answered
ExpiredToken as Bluesky does), listNotifications (newest first, cursor going older),
getPosts, and createRecord (recorded)."""
import json
import threading
import urllib.parse
from http.server import ThreadingHTTPServer

from gateway_city import JSONHandler

CITY_DID = "did:plc:rivertoncity"


class BlueskyAPI:
    def __init__(self, password="app-pass-1"):
        self.password = password
        self.access = set()
        self.refresh = set()
        self.sessions = 0
        self.refreshes = 0
        self.notifications = []   # oldest first
        self.posts = {}
        self.records = []
        self.lock = threading.Lock()
        self.n = 0
        api = self

        class Handler(JSONHandler):
            def token(self):
                return (self.headers.get("Authorization") or "").removeprefix("Bearer ")

            def do_GET(self):
                url = urllib.parse.urlparse(self.path)
                query = urllib.parse.parse_qs(url.query)
                with api.lock:
                    if self.token() not in api.access:
                        return self.answer(400, {"error": "ExpiredToken", "message": "Token has expired"})
                    if url.path == "/xrpc/app.bsky.notification.listNotifications":
                        limit = int(query.get("limit", ["50"])[0])
                        offset = int(query.get("cursor", ["0"])[0])
                        newest_first = list(reversed(api.notifications))
                        page = newest_first[offset:offset + limit]
                        body = {"notifications": page}
                        if offset + limit < len(newest_first):
                            body["cursor"] = str(offset + limit)
                        return self.answer(200, body)
                    if url.path == "/xrpc/app.bsky.feed.getPosts":
                        found = [api.posts[u] for u in query.get("uris", []) if u in api.posts]
                        return self.answer(200, {"posts": found})
                self.answer(404, {"error": "MethodNotImplemented"})

            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with api.lock:
                    if self.path == "/xrpc/com.atproto.server.createSession":
                        if body.get("password") != api.password:
                            return self.answer(401, {"error": "AuthenticationRequired", "message": "Invalid identifier or password"})
                        api.sessions += 1
                        return self.answer(200, api.new_session())
                    if self.path == "/xrpc/com.atproto.server.refreshSession":
                        if self.token() not in api.refresh:
                            return self.answer(400, {"error": "ExpiredToken", "message": "Token has expired"})
                        api.refresh.discard(self.token())
                        api.refreshes += 1
                        return self.answer(200, api.new_session())
                    if self.token() not in api.access:
                        return self.answer(400, {"error": "ExpiredToken", "message": "Token has expired"})
                    if self.path == "/xrpc/com.atproto.repo.createRecord":
                        api.n += 1
                        uri = f"at://{CITY_DID}/app.bsky.feed.post/reply{api.n}"
                        api.records.append(body)
                        return self.answer(200, {"uri": uri, "cid": f"bafyreply{api.n}"})
                self.answer(404, {"error": "MethodNotImplemented"})

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def new_session(self):
        self.n += 1
        access, refresh = f"access-{self.n}", f"refresh-{self.n}"
        self.access.add(access)
        self.refresh.add(refresh)
        return {"accessJwt": access, "refreshJwt": refresh, "did": CITY_DID, "handle": "riverton.bsky.social"}

    def expire_access(self):
        with self.lock:
            self.access.clear()

    def mention(self, text, reason="mention", parent=None, root=None):
        """A citizen's post that mentions (or replies to) the city, and its notification."""
        with self.lock:
            self.n += 1
            uri = f"at://did:plc:ana/app.bsky.feed.post/p{self.n}"
            record = {"$type": "app.bsky.feed.post", "text": text, "createdAt": f"2026-12-03T09:{self.n // 60 % 60:02d}:{self.n % 60:02d}.000Z",
                      "langs": ["en"]}
            if parent:
                record["reply"] = {"parent": parent, "root": root or parent}
            post = {"uri": uri, "cid": f"bafy{self.n}", "author": {"did": "did:plc:ana", "handle": "ana.bsky.social", "displayName": "Ana"},
                    "record": record}
            self.posts[uri] = post
            self.notifications.append({"uri": uri, "cid": post["cid"], "author": post["author"], "reason": reason, "record": record,
                                       "isRead": False, "indexedAt": record["createdAt"]})
            return {"uri": uri, "cid": post["cid"]}

    def stop(self):
        self.server.shutdown()
