"""The local API server (`make run`'s `chalice local`) keeps its output for errors worth reading.

localstripe's webhook sender closes each connection without reading our answer, so now and then the kernel resets
it; socketserver then printed a 20-line traceback (`ConnectionResetError`) into the API's output, five in a ten-minute
soak, where a real traceback must stand out.
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from http.server import BaseHTTPRequestHandler

import pytest

from devtools.local_api import BackloggedServer


class _Answers(BaseHTTPRequestHandler):
    def do_GET(self):  # noqa: N802 - http.server's naming
        if self.path == "/boom":
            raise ValueError("a bug of ours")
        self.send_response(200)
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"ok")

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    server = BackloggedServer(("127.0.0.1", 0), _Answers)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server
    server.shutdown()
    server.server_close()


def _hang_up_with_a_reset(address) -> None:
    client = socket.create_connection(address)
    time.sleep(0.2)  # the server is reading the request line
    client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))  # close = RST
    client.close()


def _get(address, path: str) -> bytes:
    with socket.create_connection(address) as client:
        client.sendall(f"GET {path} HTTP/1.0\r\n\r\n".encode())
        return client.recv(1024)


def test_a_client_hanging_up_is_not_a_traceback_but_a_bug_still_is(server, capsys):
    for _ in range(3):
        _hang_up_with_a_reset(server.server_address)
    assert _get(server.server_address, "/fine").startswith(b"HTTP/1.0 200")  # still serving
    time.sleep(0.2)
    assert "Traceback" not in capsys.readouterr().err

    _get(server.server_address, "/boom")
    time.sleep(0.2)
    printed = capsys.readouterr().err
    assert "Traceback" in printed and "ValueError: a bug of ours" in printed
