"""moto in server mode, DynamoDB one request at a time.

DynamoDB runs every request, and a transaction as a whole, atomically; moto's threaded server does not (a
cancelled transaction restores a copy of the tables and can erase a concurrent write). Serialising DynamoDB
requests gives back the guarantee our conditional writes rely on, so race tests test our code rather than moto's
threading. SQS requests, long polls above all, stay concurrent. A transaction's rollback copies the items it names
rather than its tables (`devtools.moto_transactions`), so it costs what DynamoDB's does whatever the tables hold;
an item is answered as moto holds it rather than rebuilt value by value (`devtools.moto_answers`) and sized once
as it is stored rather than once per attribute (`devtools.moto_items`); the service behind a host is looked up once
rather than on every request (`devtools.moto_routing`).

Where moto answers otherwise than DynamoDB, the server answers as DynamoDB does: requests DynamoDB refuses are
refused (`devtools.moto_strict`, `devtools.moto_keys`); a transaction's repeat with its client token succeeds
without running again (`devtools.moto_tokens`); a Query stopped at its Limit says where, even with nothing left to
read (`devtools.moto_pages`); numbers are held without leading or trailing zeroes (`devtools.moto_numbers`).

Apart from both, what moto creates for each request is freed once dropped rather than kept for its dashboard
(`devtools.moto_untracked`).
"""

from __future__ import annotations

import argparse
import threading

from moto.moto_server.werkzeug_app import DomainDispatcherApplication, MotoRequestHandler, create_backend_app
from werkzeug.serving import run_simple

from devtools import (
    moto_answers,
    moto_items,
    moto_numbers,
    moto_pages,
    moto_routing,
    moto_strict,
    moto_tokens,
    moto_transactions,
    moto_untracked,
)
from devtools.servers import RELEASE_PATH


def release_in_flight() -> int:
    """Makes every message received but not deleted visible again (a handler's backoff holds one out of sight for
    minutes), so the stack's save on stopping takes those too: SQS has no call that lists them. Dev-only."""
    from moto.sqs.models import sqs_backends

    released = 0
    for account in sqs_backends.values():
        for backend in account.values():
            for queue in backend.queues.values():
                for message in list(queue.pending_messages):
                    message.change_visibility(0)
                    queue.pending_messages.discard(message)
                    released += 1
    return released


class Serialised:
    """DynamoDB requests one at a time; everything else (SQS long polls above all) runs concurrently."""

    def __init__(self, app):
        self.app = app
        self.lock = threading.Lock()

    def __call__(self, environ, start_response):
        if environ.get("PATH_INFO") == RELEASE_PATH and environ.get("REQUEST_METHOD") == "POST":
            released = release_in_flight()
            start_response("200 OK", [("Content-Type", "application/json")])
            return [f'{{"released": {released}}}'.encode()]
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
    moto_items.install()
    moto_routing.install()
    moto_strict.install()
    moto_tokens.install()  # after moto_strict: it wraps the transaction as checked
    moto_pages.install()
    moto_numbers.install()
    moto_untracked.install()
    run_simple(args.host, args.port, Serialised(DomainDispatcherApplication(create_backend_app)), threaded=True,
               request_handler=MotoRequestHandler)


if __name__ == "__main__":
    main()
