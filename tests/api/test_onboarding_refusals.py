"""Stripe refusing to set a freelancer up for payouts: never a 500, and never a freelancer who can never be paid."""

from __future__ import annotations

from chalicelib.bootstrap import deps
from chalicelib.ports import PaymentDeclined


def test_an_email_stripe_refuses_still_gets_the_freelancer_a_payout_account(api, workers):
    """Sign-up takes any x@y.z, Stripe refuses some of those ('a,b@example.com': email_invalid), and an account's
    email cannot be changed: onboarding answered 500 every time, and the freelancer's payouts were held for good.
    The Connect account is made without the address then; Stripe's hosted form asks the freelancer for one."""
    freelancer = api.ok("POST", "/v1/accounts", {"role": "freelancer", "name": "Comma", "email": "a,b@example.com"},
                        status=201)
    api.onboard(freelancer)
    workers.wait_for(lambda: api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])["payouts_enabled"])


def test_any_other_refusal_is_a_503_that_says_so(api, freelancer, monkeypatch):
    def refused(**_):
        raise PaymentDeclined("Connect is not set up for this platform.")

    monkeypatch.setattr(deps().payments, "create_onboarding_link", refused)
    code, body = api.post("/v1/accounts/me/payout-onboarding", key=freelancer["api_key"])
    assert (code, body["error"]["code"]) == (503, "payments_unavailable"), body
    assert "Connect is not set up" in body["error"]["message"]
