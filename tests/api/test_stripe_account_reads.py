"""How the adapter reads a connected account when Stripe refuses to show it. Stripe answers 403 for an account
that does not exist or is not the platform's (localstripe answers 404), and 401 for a key it does not know: the
first must read as "no such account" (a webhook then ignores the event), the second as Stripe being unavailable
(503, so Stripe sends the event again once the key is fixed), never as a 500."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.adapters.stripe_payments import StripePayments
from chalicelib.ports import PaymentsUnavailable

REFUSALS = {
    "acct_gone": (403, {"type": "invalid_request_error", "code": "account_invalid",
                        "message": "The provided key does not have access to account 'acct_gone' (or that account "
                                   "does not exist)."}),
    "acct_missing": (404, {"type": "invalid_request_error", "code": "resource_missing",
                           "message": "No such account: 'acct_missing'"}),
    "acct_odd": (400, {"type": "invalid_request_error", "message": "Invalid account id."}),
    "acct_keyless": (401, {"type": "invalid_request_error", "message": "Invalid API Key provided."}),
}


@pytest.fixture
def refusing_stripe():
    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            status, error = REFUSALS[self.path.rsplit("/", 1)[-1]]
            body = json.dumps({"error": error}).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Refuse)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield StripePayments(api_key="sk_test_refusing", api_base=f"http://127.0.0.1:{server.server_address[1]}",
                         network_retries=0)
    server.shutdown()


@pytest.mark.parametrize("account", ["acct_gone", "acct_missing", "acct_odd"])
def test_an_account_stripe_will_not_show_reads_as_none(refusing_stripe, account):
    assert refusing_stripe.can_receive_payouts(stripe_account_id=account) is None


def test_a_key_stripe_does_not_know_reads_as_stripe_unavailable(refusing_stripe):
    with pytest.raises(PaymentsUnavailable):
        refusing_stripe.can_receive_payouts(stripe_account_id="acct_keyless")
