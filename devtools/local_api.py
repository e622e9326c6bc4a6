"""`chalice local`, answering a method and path with no route as the deployed stack does.

Deployed, API Gateway refuses such a request before our code runs, and the template's gateway responses put that
refusal in our error shape: 404 `not_found`. `chalice local` instead answers 403 `{"message": "Missing
Authentication Token"}` (API Gateway's default), which no API client of ours should have to handle. Its local
gateway is swapped for one that answers as ours does. Methods http.server does not know get our 405 too, a body sent
`Transfer-Encoding: chunked` is read (chalice reads `Content-Length` bytes only, and dropped it), and the listening
socket queues a burst of connections as API Gateway would take them; everything else is `chalice local` as it is.

    python -m devtools.local_api --host 127.0.0.1 --port 8000 --stage local --no-autoreload
"""

from __future__ import annotations

import json
import sys

from chalice import local

NO_ROUTE = {"error": {"code": "not_found", "message": "No route matches this method and path."}}


class NoRoute(local.LocalGatewayException):
    CODE = 404


class GatewayAnsweringLikeOurs(local.LocalGateway):
    def _generate_lambda_event(self, method, path, headers, body):
        try:
            return super()._generate_lambda_event(method, path, headers, body)
        except ValueError as error:  # no route: where chalice would answer API Gateway's default 403
            raise NoRoute({"Content-Type": "application/json"}, json.dumps(NO_ROUTE).encode()) from error


UNKNOWN_METHOD = {"error": {"code": "method_not_allowed", "message": "This HTTP method is not served here."}}
MAX_DRAINED_BYTES = 1024 * 1024
# Connections waiting to be accepted: the standard library's 5 drops a burst of clients (connection resets), where
# API Gateway takes them all.
ACCEPT_BACKLOG = 128


class HandlerAnsweringLikeOurs(local.ChaliceRequestHandler):
    """Methods http.server knows no `do_` for (TRACE, CONNECT, made-up ones) get our 405 rather than its HTML 501,
    as API Gateway refuses them before our code runs."""

    def __getattr__(self, name: str):
        if not name.startswith("do_"):
            raise AttributeError(name)
        return self._refuse_unknown_method

    def _refuse_unknown_method(self) -> None:
        # Its body is read first, else the connection, kept alive, would take it for the start of the next request.
        # One whose length is not plainly stated (chunked, odd digits) or is large is not read: the connection is
        # closed after the answer instead.
        length = self.headers.get("Content-Length") or ""
        plain = length.isascii() and length.isdigit() and "Transfer-Encoding" not in self.headers
        if plain and int(length) <= MAX_DRAINED_BYTES:
            self.rfile.read(int(length))
        elif length or "Transfer-Encoding" in self.headers:
            self.close_connection = True
        self._send_http_response(405, {"Content-Type": "application/json"}, json.dumps(UNKNOWN_METHOD))


    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own refusals (a URL or headers too large, a request line that is no HTTP) in our error
        shape rather than its HTML page, as API Gateway's are deployed (the template's gateway responses)."""
        reason = message or self.responses.get(code, ("Refused",))[0]
        body = json.dumps({"error": {"code": "request_refused",
                                     "message": f"The request could not be read: {reason}."}}).encode()
        self.log_error("code %d, message %s", code, reason)
        if self.request_version == "HTTP/0.9":  # what a request line that did not parse is taken as: no headers
            self.request_version = "HTTP/1.0"
        self.send_response(code, message)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if self.command != "HEAD":
            self.wfile.write(body)

    # -- chunked bodies --
    # chalice's handler reads `Content-Length` bytes and nothing else: a body sent `Transfer-Encoding: chunked` was
    # dropped (the request ran as if it had none) and its chunks left on the connection as the next request. API
    # Gateway reads such a body as any other, up to its 10 MB, and refuses chunks that do not parse.

    def _generic_handle(self) -> None:
        length = self.headers.get("Content-Length")
        try:
            if length is not None and not (length.isascii() and length.strip().isdigit()):
                # chalice's int() of it raised, and the connection was dropped with no answer at all
                raise _Refused(400, "request_refused", "The Content-Length header is not a number of bytes.")
            if "chunked" not in (self.headers.get("Transfer-Encoding") or "").lower():
                return super()._generic_handle()
            body = self._read_chunks()
        except _Refused as refusal:
            self.close_connection = True
            self._send_http_response(refusal.status, {"Content-Type": "application/json"}, json.dumps(
                {"error": {"code": refusal.code, "message": refusal.message}}))
            return None
        self._chunked_body = body
        return super()._generic_handle()

    def _parse_payload(self):
        body = getattr(self, "_chunked_body", None)
        if body is None:
            return super()._parse_payload()
        self._chunked_body = None
        headers = {name: value for name, value in self.headers.items() if name.lower() != "transfer-encoding"}
        headers["Content-Length"] = str(len(body))  # as API Gateway hands it on
        return headers, body or None

    def _read_chunks(self) -> bytes:
        body = bytearray()
        while True:
            size_line = self.rfile.readline(MAX_CHUNK_LINE + 1)
            size_text = size_line.split(b";", 1)[0].strip()  # chunk extensions are allowed and ignored
            if len(size_line) > MAX_CHUNK_LINE or not size_text or not all(c in HEX_DIGITS for c in size_text):
                raise _Refused(400, "request_refused", "The chunked request body could not be read.")
            size = int(size_text, 16)
            if size == 0:
                break
            if len(body) + size > MAX_CHUNKED_BYTES:
                raise _Refused(413, "body_too_large", "The request body is over 10 MB.")
            chunk = self.rfile.read(size)
            if len(chunk) != size or self.rfile.readline(MAX_CHUNK_LINE + 1).strip():
                raise _Refused(400, "request_refused", "The chunked request body could not be read.")
            body += chunk
        while self.rfile.readline(MAX_CHUNK_LINE + 1).strip():  # trailer fields, up to the blank line
            pass
        return bytes(body)

    # chalice binds its methods' handler when its class is made; these take the one above
    do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = do_PATCH = do_OPTIONS = _generic_handle


class _Refused(Exception):
    def __init__(self, status: int, code: str, message: str):
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


HEX_DIGITS = frozenset(b"0123456789abcdefABCDEF")
MAX_CHUNK_LINE = 1024
MAX_CHUNKED_BYTES = 10 * 1024 * 1024  # API Gateway's own limit on a body


class BackloggedServer(local.ThreadedHTTPServer):
    request_queue_size = ACCEPT_BACKLOG

    def handle_error(self, request, client_address) -> None:
        """A client that hung up (localstripe's webhook sender closes without reading our answer, so the kernel
        may reset the connection) is no error of ours, and API Gateway would log nothing: socketserver printed a
        traceback for each into the API's output, where a real one must stand out. Anything else still prints."""
        if isinstance(sys.exc_info()[1], ConnectionError):  # reset, aborted, broken pipe
            return
        super().handle_error(request, client_address)


class ServerAnsweringLikeOurs(local.LocalDevServer):
    def __init__(self, app_object, config, host, port, handler_cls=HandlerAnsweringLikeOurs,
                 server_cls=BackloggedServer):

        from . import local_iam

        super().__init__(app_object, config, host, port, handler_cls=handler_cls, server_cls=server_cls)
        local_iam.enforce_on_the_apps_clients()  # the API function's permissions, as deployed


def main() -> int:
    from chalice.cli import main as chalice_cli

    local.LocalGateway = GatewayAnsweringLikeOurs  # what chalice's request handler builds for every request
    local.LocalDevServer = ServerAnsweringLikeOurs  # what chalice's create_local_server builds
    sys.argv = ["chalice", "local", *sys.argv[1:]]
    return chalice_cli()


if __name__ == "__main__":
    sys.exit(main())
