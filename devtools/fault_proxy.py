"""A fault-injecting HTTP proxy for tests: sits in front of the Stripe stand-in and, for chosen requests, answers
with a 5xx, hangs, drops the connection, or lets the request through and then loses the answer (Stripe did the
work; we never heard back — the same as a crash between the Stripe call and our write).
"""

from __future__ import annotations

import http.client
import random
import re
import threading
import time
import urllib.parse
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ERROR = "error"            # answer `status` without forwarding
HANG = "hang"              # wait `seconds` before answering (longer than the client's timeout)
DROP = "drop"              # close the connection without forwarding or answering
LOSE_ANSWER = "lose_answer"  # forward, then close the connection without answering


@dataclass
class Fault:
    action: str
    path: str = ".*"          # regex on the request path
    method: str = "POST"
    times: int | None = 1     # how many matching requests to hit (None: all)
    probability: float = 1.0  # chance of hitting a matching request
    status: int = 500
    seconds: float = 5.0

    def matches(self, method: str, path: str) -> bool:
        return method == self.method and re.search(self.path, path) is not None


class FaultProxy:
    def __init__(self, target_url: str, *, seed: int | None = None):
        target = urllib.parse.urlsplit(target_url)
        self.target_host, self.target_port = target.hostname, target.port
        self.faults: list[Fault] = []
        self.hits: list[tuple[str, str, str]] = []  # (action, method, path) of every fault injected
        self.forwarded = 0
        self.requests: list[tuple[str, str]] = []  # (method, path) of every request received, in order
        self._lock = threading.Lock()
        self._random = random.Random(seed)
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FaultProxy:
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def inject(self, fault: Fault) -> Fault:
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear(self) -> None:
        with self._lock:
            self.faults.clear()

    def _choose(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.matches(method, path) and fault.times != 0:
                    if self._random.random() >= fault.probability:
                        continue
                    if fault.times is not None:
                        fault.times -= 1
                    self.hits.append((fault.action, method, path))
                    return fault
        return None

    def _forward(self, method: str, path: str, headers, body: bytes) -> tuple[int, list[tuple[str, str]], bytes]:
        connection = http.client.HTTPConnection(self.target_host, self.target_port, timeout=30)
        try:
            forwarded_headers = {k: v for k, v in headers.items() if k.lower() not in ("host", "connection")}
            connection.request(method, path, body=body or None, headers=forwarded_headers)
            response = connection.getresponse()
            with self._lock:
                self.forwarded += 1
            return response.status, response.getheaders(), response.read()
        finally:
            connection.close()

    def _handler(self):
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _serve(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                path = urllib.parse.urlsplit(self.path).path
                with proxy._lock:
                    proxy.requests.append((self.command, path))
                fault = proxy._choose(self.command, path)
                if fault is not None and fault.action == DROP:
                    self.close_connection = True
                    return
                if fault is not None and fault.action == HANG:
                    time.sleep(fault.seconds)
                if fault is not None and fault.action == ERROR:
                    self._answer(fault.status, [("Content-Type", "application/json")],
                                 b'{"error": {"type": "api_error", "message": "Injected fault."}}')
                    return
                status, headers, payload = proxy._forward(self.command, self.path, self.headers, body)
                if fault is not None and fault.action == LOSE_ANSWER:
                    self.close_connection = True
                    return
                self._answer(status, headers, payload)

            def _answer(self, status, headers, payload):
                try:
                    self.send_response(status)
                    for name, value in headers:
                        if name.lower() not in ("content-length", "transfer-encoding", "connection", "date",
                                                "server"):
                            self.send_header(name, value)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up waiting (a hang it timed out on): nothing to answer

            do_GET = do_POST = do_DELETE = _serve  # noqa: N815 - http.server's naming

            def log_message(self, *args):
                pass

        return Handler
