"""A local server speaking the Graph API's documented request and response shapes, for the
gateway's publishing tests: it records every call (path, bearer token, JSON body) and
answers as scripted, or with the documented success shape of the endpoint called."""
import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class GraphAPI:
    def __init__(self):
        self.calls = []
        self.script = []          # (status, body dict, headers dict) answered in order, before the defaults
        self.lock = threading.Lock()
        api = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = json.loads(self.rfile.read(length) or b"{}")
                with api.lock:
                    api.calls.append({"path": self.path, "token": self.headers.get("Authorization", ""), "body": body})
                    n = len(api.calls)
                    scripted = api.script.pop(0) if api.script else None
                status, answer, headers = scripted or (200, api.success(self.path, n), {})
                data = json.dumps(answer).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in headers.items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.base = f"http://127.0.0.1:{self.server.server_address[1]}/v21.0"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @staticmethod
    def success(path, n):
        if path.endswith("/comments") or path.endswith("/replies"):
            return {"id": f"reply-comment-{n}"}
        if "/messages" in path and "whatsapp" not in path:
            return {"recipient_id": "psid", "message_id": f"m_out_{n}"}
        return {"id": f"posted-{n}"}

    def posts(self, text):
        with self.lock:
            return [call for call in self.calls if text in json.dumps(call["body"])]

    def stop(self):
        self.server.shutdown()
