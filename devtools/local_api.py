"""`chalice local`, answering a method and path with no route as the deployed stack does.

Deployed, API Gateway refuses such a request before our code runs, and the template's gateway responses put that
refusal in our error shape: 404 `not_found`. `chalice local` instead answers 403 `{"message": "Missing
Authentication Token"}` (API Gateway's default), which no API client of ours should have to handle. Its local
gateway is swapped for one that answers as ours does; everything else is `chalice local` as it is.

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


def main() -> int:
    from chalice.cli import main as chalice_cli

    local.LocalGateway = GatewayAnsweringLikeOurs  # what chalice's request handler builds for every request
    sys.argv = ["chalice", "local", *sys.argv[1:]]
    return chalice_cli()


if __name__ == "__main__":
    sys.exit(main())
