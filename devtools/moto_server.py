"""moto in server mode, DynamoDB one request at a time.

DynamoDB runs every request, and a transaction as a whole, atomically; moto's threaded server does not (a
cancelled transaction restores a copy of the tables and can erase a concurrent write). Serialising DynamoDB
requests gives back the guarantee our conditional writes rely on, so race tests test our code rather than moto's
threading. SQS requests, long polls above all, stay concurrent. A transaction's rollback copies the items it names
rather than its tables (`devtools.moto_transactions`), so it costs what DynamoDB's does whatever the tables hold,
and an item is answered as moto holds it rather than rebuilt value by value (`devtools.moto_answers`).
"""

from __future__ import annotations

import argparse
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

from devtools import moto_answers, moto_transactions


class Serialised:
    """DynamoDB requests one at a time; everything else (SQS long polls above all) runs concurrently."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if not environ.get("HTTP_X_AMZ_TARGET", "").startswith("DynamoDB"):
            return self.app(environ, start_response)
        with self.lock:
            return list(self.app(environ, start_response))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("-H", "--host", default="127.0.0.1")
    parser.add_argument("-p", "--port", type=int, default=5000)
    args = parser.parse_args()
    moto_transactions.install()
    moto_answers.install()
    run_simple(args.host, args.port, Serialised(DomainDispatcherApplication(create_backend_app)), threaded=True,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
