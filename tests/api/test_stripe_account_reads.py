"""How the adapter reads a connected account when Stripe refuses to show it. Stripe answers 403 for an account
that does not exist or is not the platform's (localstripe answers 404), 401 for a key it does not know and 403
without that code for a key that may not read accounts: the first must read as "no such account" (a webhook then
ignores the event), the others as Stripe being unavailable (503, so Stripe sends the event again once the key is
fixed), never as a 500 nor as an event dropped."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from chalicelib.adapters.stripe_payments import StripePayments
from chalicelib.ports import PaymentDeclined, PaymentsUnavailable

REFUSALS = {
    "acct_gone": (403, {"type": "invalid_request_error", "code": "account_invalid",
                        "message": "The provided key does not have access to account 'acct_gone' (or that account "
                                   "does not exist)."}),
    "acct_missing": (404, {"type": "invalid_request_error", "code": "resource_missing",
                           "message": "No such account: 'acct_missing'"}),
    "acct_odd": (400, {"type": "invalid_request_error", "message": "Invalid account id."}),
    "acct_keyless": (401, {"type": "invalid_request_error", "message": "Invalid API Key provided."}),
    "acct_restricted": (403, {"type": "invalid_request_error",
                              "message": "The provided key 'rk_test_***' does not have the required permissions for "
                                         "this endpoint on account 'acct_platform'."}),
}

# Stripe's two idempotency errors: another request still using the key (409), the key reused with other parameters.
KEY_REFUSALS = {
    "busy": (409, {"type": "idempotency_error", "message": "There is currently another in-progress request using "
                                                          "this Idempotent Key (that probably means you submitted "
                                                          "twice, and the other request is still going through)."}),
    "reused": (400, {"type": "idempotency_error", "message": "Keys for idempotent requests can only be used with "
                                                            "the same parameters they were first used with."}),
}


@pytest.fixture
def refusing_stripe():
    class Refuse(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's naming
            self._refuse(*REFUSALS[self.path.rsplit("/", 1)[-1]])

        def do_POST(self):  # noqa: N802 - creating an account: answered by its idempotency key
            self.rfile.read(int(self.headers.get("Content-Length") or 0))
            self._refuse(*KEY_REFUSALS[self.headers["Idempotency-Key"]])

        def _refuse(self, status: int, error: dict) -> None:
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


@pytest.mark.parametrize("account", ["acct_gone", "acct_missing"])
def test_an_account_stripe_says_does_not_exist_or_is_not_ours_reads_as_none(refusing_stripe, account):
    assert refusing_stripe.can_receive_payouts(stripe_account_id=account) is None


@pytest.mark.parametrize("account", ["acct_keyless", "acct_restricted", "acct_odd"])
def test_any_other_refusal_reads_as_stripe_unavailable_never_as_no_account(refusing_stripe, account):
    """A key that may not read accounts (a restricted one: 403 without `account_invalid`) must not make every
    account.updated read as "no such account" and be dropped with its payouts held: it is retried (503)."""
    with pytest.raises(PaymentsUnavailable):
        refusing_stripe.can_receive_payouts(stripe_account_id=account)


def test_a_key_another_request_still_uses_is_stripe_unavailable_a_key_reused_otherwise_is_a_refusal(refusing_stripe):
    """Two first calls of payout onboarding at once: the second meets Stripe's 409 for the key the first still
    uses. Stripe's library raises it as an APIError, so it reads as Stripe being unavailable (503, try again), not
    as Stripe refusing our platform's set-up (which onboarding logs as an error for an operator)."""
    with pytest.raises(PaymentsUnavailable):
        refusing_stripe.create_express_account(account_id="acct_1", email="a@example.com", idempotency_key="busy")
    with pytest.raises(PaymentDeclined):
        refusing_stripe.create_express_account(account_id="acct_1", email="a@example.com", idempotency_key="reused")
