"""`chalice local`, answering a method and path with no route as the deployed stack does.

Deployed, API Gateway refuses such a request before our code runs, and the template's gateway responses put that
refusal in our error shape: 404 `not_found`. `chalice local` instead answers 403 `{"message": "Missing
Authentication Token"}` (API Gateway's default), which no API client of ours should have to handle. Its local
gateway is swapped for one that answers as ours does. Methods http.server does not know get our 405 too, and the
listening socket queues a burst of connections as API Gateway would take them; everything else is `chalice local`
as it is.

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


class BackloggedServer(local.ThreadedHTTPServer):
    request_queue_size = ACCEPT_BACKLOG


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
