"""A minimal webhook receiver in Python, the yardstick for `zavu-script listen` in the
`listen` benchmark: the standard library's threading HTTP server (HTTP/1.1, keep-alive),
the same verification (X-Zavu-Signature v2 = HMAC-SHA256(secret, "<t>.<body>"), 300 s
tolerance, constant-time compare), duplicates dropped by id in memory, and one line per new
event on stdout — its "handler". It records nothing durably.

    python3 bench/webhook_receiver.py PORT SECRET
"""

import hashlib
import hmac
import json
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

PORT, SECRET = int(sys.argv[1]), sys.argv[2].encode()
TOLERANCE = 300
seen = set()
lock = threading.Lock()  # one thread writes a line at a time


def verify(header, body):
    fields = {}
    for part in (header or "").split(","):
        key, _, value = part.strip().partition("=")
        fields.setdefault(key, value)
    try:
        t = int(fields.get("t", ""))
    except ValueError:
        return False
    if abs(time.time() - t) > TOLERANCE:
        return False
    expected = hmac.new(SECRET, str(t).encode() + b"." + body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, fields.get("v2", ""))


class Receiver(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # The headers and the body go out in two writes; with Nagle's algorithm on, the second
    # waits for the client's delayed ACK of the first (up to 40 ms). Servers people deploy
    # (gunicorn, uvicorn) set TCP_NODELAY; so does this one.
    disable_nagle_algorithm = True

    def log_message(self, *args):
        pass

    def answer(self, status, payload):
        data = json.dumps(payload).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        if not verify(self.headers.get("X-Zavu-Signature"), body):
            return self.answer(401, {"code": "unauthorized"})
        event = json.loads(body)
        with lock:
            fresh = event["id"] not in seen
            seen.add(event["id"])
            if fresh:
                print("ran:" + event["data"]["invitationId"], flush=True)
        self.answer(200, {"received": True})


# The standard library's default accept backlog is 5: when the bench's 32 connections open
# at once while the accepting thread waits for the GIL, the kernel's queue overflows, and a
# connection the client believes open is never accepted; its deliveries hang until they
# time out. Any deployed server sets a real backlog; so does this one.
ThreadingHTTPServer.request_queue_size = 128
server = ThreadingHTTPServer(("127.0.0.1", PORT), Receiver)
print("ready", flush=True)
server.serve_forever()
