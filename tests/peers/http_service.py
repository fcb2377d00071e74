"""A throwaway stock service for the `http` example and the HTTP tests.

Counts every request it receives by path (GET /__counts answers them), so a
test can tell which requests were sent again and which were not.

    python3 tests/peers/http_service.py --port 8080

Prints `listening on PORT` once it serves (port 0: any free port).
"""

import argparse
import json
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

counts = {}
stock = {}
lock = threading.Lock()


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def answer(self, status, body, content_type="application/json"):
        if isinstance(body, (dict, list)):
            body = json.dumps(body)
        if isinstance(body, str):
            body = body.encode()
        self.send_response(status)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def count(self):
        with lock:
            counts[self.path] = counts.get(self.path, 0) + 1

    def do_GET(self):
        parts = self.path.strip("/").split("/")
        if self.path == "/__counts":
            with lock:
                return self.answer(200, dict(counts))
        self.count()
        if parts[0] == "stock" and len(parts) == 2:
            with lock:
                available = stock.setdefault(parts[1], 3)
            return self.answer(200, {"item": parts[1], "available": available})
        if parts[0] == "echo":
            return self.answer(200, "/".join(parts[1:]), "text/plain")
        if parts[0] == "slow":
            time.sleep(int(parts[1]) / 1000)
            return self.answer(200, "slow", "text/plain")
        if parts[0] == "big":
            return self.answer(200, "x" * int(parts[1]), "text/plain")
        if parts[0] == "binary":
            return self.answer(200, bytes(range(256)), "application/octet-stream")
        if parts[0] == "host":
            return self.answer(200, self.headers.get("Host", ""), "text/plain")
        if parts[0] == "redirect":
            # /redirect/HOST[:PORT]/PATH: a 302 to http://HOST[:PORT]/PATH.
            self.send_response(302)
            self.send_header("Location", "http://" + "/".join(parts[1:]))
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        if parts[0] == "fail":
            return self.answer(500, "the service is broken", "text/plain")
        self.answer(404, {"error": "no such path"})

    def do_POST(self):
        self.count()
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        if self.path == "/reservations":
            order = json.loads(body)
            with lock:
                stock[order["item"]] = stock.get(order["item"], 3) + order["quantity"]
            return self.answer(
                201, {"reservation": uuid.uuid4().hex[:8], "quantity": order["quantity"]}
            )
        if self.path == "/size":
            return self.answer(200, str(len(body)), "text/plain")
        if self.path == "/echo":
            return self.answer(200, body, "application/octet-stream")
        self.answer(404, {"error": "no such path"})


class Server(ThreadingHTTPServer):
    def handle_error(self, request, client_address):
        pass  # a client killed mid-request (the tests do) is no news


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--port", type=int, default=8080)
    args = parser.parse_args()
    server = Server(("127.0.0.1", args.port), Handler)
    print(f"listening on {server.server_address[1]}", flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
