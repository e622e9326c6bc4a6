import hashlib
import hmac
import json
import os
import time

import pytest
import stripe

from chalicelib.bootstrap import deps
from chalicelib.ports import PaymentEvent


def _signed(payload: dict, *, secret: str | None = None, at: int | None = None) -> tuple[str, dict]:
    body = json.dumps(payload)
    stamp = at or int(time.time())
    secret = secret or os.environ["STRIPE_WEBHOOK_SECRET"]
    signature = hmac.new(secret.encode(), f"{stamp}.{body}".encode(), hashlib.sha256).hexdigest()
    return body, {"Stripe-Signature": f"t={stamp},v1={signature}"}


def _event(event_type: str, intent: dict) -> dict:
    return {"id": f"evt_{intent['id']}_{event_type}", "object": "event", "type": event_type,
            "data": {"object": intent}, "created": int(time.time()), "api_version": "2024-06-20"}


def _pay(intent_id: str, payment_method: str = "pm_card_visa") -> dict:
    stripe.api_key = os.environ["STRIPE_SECRET_KEY"]
    stripe.api_base = os.environ["STRIPE_API_BASE"]
    return stripe.PaymentIntent.confirm(intent_id, payment_method=payment_method).to_dict_recursive() \
        if hasattr(stripe.PaymentIntent, "to_dict_recursive") else \
        stripe.PaymentIntent.confirm(intent_id, payment_method=payment_method).to_dict()


def test_signed_success_event_opens_the_bounty_once(api, client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method=None)
    intent = _pay(bounty["funding"]["payment_intent_id"])
    assert intent["status"] == "succeeded"
    body, headers = _signed(_event("payment_intent.succeeded", intent))
    first = api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers)
    again = api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers)
    assert first == (200, {"received": True, "outcome": "funded"})
    assert again == (200, {"received": True, "outcome": "unchanged"})
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}")["status"] == "open"
    ledger = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)
    assert ledger["totals"]["funded"] == bounty["funding"]["amount_total"] and len(ledger["entries"]) == 1


def test_failure_event_marks_funding_failed(api, client_acct):
    bounty = api.bounty(client_acct["api_key"], payment_method=None)
    intent = {"id": bounty["funding"]["payment_intent_id"], "object": "payment_intent",
              "metadata": {"bounty_id": bounty["id"]}, "last_payment_error": {"message": "Your card was declined."}}
    body, headers = _signed(_event("payment_intent.payment_failed", intent))
    assert api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers)[0] == 200
    own = api.ok("GET", f"/v1/bounties/{bounty['id']}", key=client_acct["api_key"])
    assert own["status"] == "funding_failed" and own["funding"]["error"] == "Your card was declined."


def test_forged_stale_and_unsigned_events_are_400(api, client_acct):
    bounty = api.bounty(client_acct["api_key"], payment_method=None)
    intent = {"id": bounty["funding"]["payment_intent_id"], "object": "payment_intent", "status": "succeeded",
              "metadata": {"bounty_id": bounty["id"]}}
    event = _event("payment_intent.succeeded", intent)
    forged = _signed(event, secret="whsec_attacker")
    stale = _signed(event, at=int(time.time()) - 3600)
    body, headers = _signed(event)
    for raw, hdrs in (forged, stale, (body, {}), ("not json", headers), (body + " ", headers)):
        code, data = api.call("POST", "/v1/webhooks/stripe", raw=raw, headers=hdrs)
        assert code == 400 and data["error"]["code"] == "invalid_signature"
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}", key=client_acct["api_key"])["status"] == "awaiting_funding"


def test_events_for_unknown_bounties_are_acknowledged_and_ignored(api):
    """A payment of the account that names no bounty of ours (another integration's, say) is Stripe's to send:
    refusing it would only have Stripe send it again for days."""
    intent = {"id": "pi_unknown", "object": "payment_intent", "metadata": {"bounty_id": "bty_missing"}}
    body, headers = _signed(_event("payment_intent.succeeded", intent))
    assert api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers) == (
        200, {"received": True, "outcome": "ignored"})


@pytest.mark.parametrize("event_type", ["customer.created", "charge.succeeded", "payment_intent.created", ""])
def test_an_event_of_a_type_the_endpoint_does_not_take_is_refused(api, event_type):
    """API.md: unknown events are 400, signed or not. The endpoints are subscribed to the types the webhook takes
    (docs/DEPLOY.md step 6; the local stack's too), so Stripe sends no other."""
    body, headers = _signed(_event(event_type, {"id": "cus_1"}))
    code, answer = api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers)
    assert (code, answer["error"]["code"]) == (400, "unknown_event")
    assert "payment_intent.succeeded, payment_intent.payment_failed, account.updated" in answer["error"]["message"]


def test_a_payment_after_cancelling_an_unfunded_bounty_is_refunded_in_full(api, workers, client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method=None, slots=2)
    cancelled = api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=key)
    assert cancelled["status"] == "cancelled"
    # The client's browser still had the payment page open and paid; Stripe's webhook tells us.
    intent = _pay(bounty["funding"]["payment_intent_id"])
    assert intent["status"] == "succeeded"
    workers.wait_for(lambda: api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)["totals"]["funded"])
    workers.drain()
    totals = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)["totals"]
    assert totals == {"funded": 1100, "paid_out": 0, "fees": 0, "refunded": 1100, "held": 0}
    assert workers.refunded_on_stripe(bounty) == 1100
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)["status"] == "cancelled"


def test_each_endpoints_signing_secret_is_accepted(api, client_acct):
    """Stripe sends account events of connected accounts from a second endpoint with its own secret."""
    from chalicelib.adapters.stripe_payments import StripePayments
    from chalicelib.ports import InvalidWebhook

    payments = StripePayments(api_key="sk_test_x", api_base="http://127.0.0.1:9",
                              webhook_secret="whsec_platform, whsec_connect")
    event = {"id": "evt_1", "object": "event", "type": "account.updated", "data": {"object": {"id": "acct_1"}},
             "created": int(time.time()), "api_version": "2024-06-20"}
    for secret in ("whsec_platform", "whsec_connect"):
        body, headers = _signed(event, secret=secret)
        assert payments.parse_webhook(body.encode(), headers["Stripe-Signature"]).type == "account.updated"
    body, headers = _signed(event, secret="whsec_someone_else")
    with pytest.raises(InvalidWebhook):
        payments.parse_webhook(body.encode(), headers["Stripe-Signature"])


def _foreign_intent(bounty_id: str, amount: int) -> dict:
    """A real, paid PaymentIntent on the Stripe stand-in that names the bounty but is not its escrow."""
    stripe.api_key = os.environ["STRIPE_SECRET_KEY"]
    stripe.api_base = os.environ["STRIPE_API_BASE"]
    intent = stripe.PaymentIntent.create(amount=amount, currency="usd", metadata={"bounty_id": bounty_id},
                                         payment_method="pm_card_visa", confirm=True)
    assert intent["status"] == "succeeded"
    return intent.to_dict()


def test_a_payment_naming_a_bounty_funds_it_only_if_it_is_the_escrow(api, workers, client_acct):
    """A bounty whose funding failed has no intent on record (Stripe refused the payment method). A signed event
    about some other payment that names it, for a cent, must not open it with a ledger that says 550 was paid:
    one on a connected account is ignored, one on the platform is refunded in full as a stray."""
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method="pm_bogus")
    assert bounty["status"] == "funding_failed" and bounty["funding"]["payment_intent_id"] is None, bounty
    foreign = _foreign_intent(bounty["id"], amount=60)
    on_connected = {**_event("payment_intent.succeeded", foreign), "account": "acct_someone"}
    body, headers = _signed(on_connected)
    assert api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers) == (
        200, {"received": True, "outcome": "ignored"})
    body, headers = _signed(_event("payment_intent.succeeded", foreign))
    assert api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers) == (
        200, {"received": True, "outcome": "refunded_duplicate"})
    refunds = stripe.Refund.list(payment_intent=foreign["id"])["data"]
    assert [r["amount"] for r in refunds] == [60]
    after = api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)
    assert after["status"] == "funding_failed", after
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)["totals"]["funded"] == 0
    # Its own payment still funds it.
    funded = api.ok("POST", f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_card_visa"}, key=key)
    assert funded["status"] == "open", funded


@pytest.mark.parametrize("raw", [
    "[]", "null", '"event"', '{"id": "evt_1", "type": "payment_intent.succeeded", "data": "object"}',
    '{"id": "evt_1", "type": "payment_intent.succeeded", "data": {"object": []}}',
    '{"id": 7, "type": "payment_intent.succeeded", "data": {"object": {}}}',
    '{"id": "evt_1", "type": "account.updated", "account": ["acct_1"], "data": {"object": {}}}',
])
def test_a_signed_body_that_is_no_stripe_event_is_400(api, raw):
    stamp = int(time.time())
    secret = os.environ["STRIPE_WEBHOOK_SECRET"].split(",")[0].strip()
    signature = hmac.new(secret.encode(), f"{stamp}.{raw}".encode(), hashlib.sha256).hexdigest()
    headers = {"Stripe-Signature": f"t={stamp},v1={signature}"}
    code, body = api.call("POST", "/v1/webhooks/stripe", raw=raw, headers=headers)
    assert (code, body["error"]["code"]) == (400, "invalid_event"), body


@pytest.mark.parametrize("event_type, data", [
    ("payment_intent.succeeded", {"id": "pi_x", "metadata": "bty_1"}),
    ("payment_intent.succeeded", {"id": ["pi_x"], "metadata": {"bounty_id": "bty_1"}}),
    ("payment_intent.payment_failed", {"metadata": {"bounty_id": ["bty_1"]}}),
    ("account.updated", {"id": "acct_1", "metadata": {"account_id": ["acc_1"]}}),
    ("account.updated", {"id": ["acct_1"], "metadata": {"account_id": "acc_1"}}),
    ("account.updated", {"id": "acct_1", "metadata": "acc_1"}),
    ("payment_intent.succeeded", {"id": "pi_x", "metadata": {"bounty_id": "bty_none"}, "latest_charge": 7}),
])
def test_an_event_whose_fields_are_of_other_types_is_acknowledged_and_ignored(api, event_type, data):
    """Signed by Stripe, so no 4xx that would make Stripe send it again for days; nothing we can act on."""
    body, headers = _signed({"id": "evt_odd", "object": "event", "type": event_type, "data": {"object": data}})
    assert api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers) == (
        200, {"received": True, "outcome": "ignored"})


def test_a_failure_event_whose_error_is_no_object_still_marks_the_funding_failed(api, client_acct):
    bounty = api.bounty(client_acct["api_key"], payment_method=None)
    intent = {"id": bounty["funding"]["payment_intent_id"], "object": "payment_intent",
              "metadata": {"bounty_id": bounty["id"]}, "last_payment_error": "declined"}
    body, headers = _signed(_event("payment_intent.payment_failed", intent))
    assert api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers) == (
        200, {"received": True, "outcome": "funding_failed"})
    own = api.ok("GET", f"/v1/bounties/{bounty['id']}", key=client_acct["api_key"])
    assert own["funding"]["error"] == "The payment failed."


def test_a_payment_naming_a_bounty_with_an_amount_of_another_type_is_ignored_not_a_500(api, client_acct):
    bounty = api.bounty(client_acct["api_key"], payment_method="pm_bogus")  # no intent on record
    for amount in ([550], "550", None, True):
        intent = {"id": "pi_odd", "object": "payment_intent", "metadata": {"bounty_id": bounty["id"]},
                  "amount": amount, "currency": "usd"}
        body, headers = _signed(_event("payment_intent.succeeded", intent))
        assert api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers) == (
            200, {"received": True, "outcome": "ignored"}), amount


def test_an_account_event_delivered_out_of_order_cannot_hold_payouts(api, workers, client_acct, freelancer):
    """Stripe does not deliver events in order: an older "cannot be paid" arriving after "ready" once held every
    payout to come, with nothing to release them. The event only says when to look; Stripe's word now decides."""
    api.onboard(freelancer)
    workers.wait_for(lambda: api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])["payouts_enabled"])
    stripe_id = deps().repo.get_account(freelancer["id"]).stripe_account_id
    stale = {"id": stripe_id, "object": "account", "payouts_enabled": False,
             "metadata": {"account_id": freelancer["id"]}}
    body, headers = _signed(_event("account.updated", stale))
    assert api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers) == (
        200, {"received": True, "outcome": "payouts_enabled"})
    assert api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])["payouts_enabled"] is True

    bounty = api.bounty(client_acct["api_key"])
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "done"}, status=201,
                 key=freelancer["api_key"])
    api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {}, key=client_acct["api_key"])
    workers.drain()
    [payout] = api.ok("GET", "/v1/payouts", key=freelancer["api_key"])["items"]
    assert payout["status"] == "paid"

    # An account Stripe does not know (deleted, or made up) changes nothing.
    body, headers = _signed(_event("account.updated", {**stale, "id": "acct_unknown"}))
    assert api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers) == (
        200, {"received": True, "outcome": "ignored"})


def test_an_account_event_that_read_stripe_before_another_wrote_ends_on_stripes_latest_word(
        api, workers, freelancer):
    """Two events handled at once may write in the other order than they read Stripe: the one that read "cannot be
    paid" before the account was ready, and wrote last, must not leave it so. It asks Stripe again after writing."""
    from dataclasses import replace

    from chalicelib.services import onboarding

    api.onboard(freelancer)
    workers.wait_for(lambda: api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])["payouts_enabled"])
    real = deps()
    stripe_id = real.repo.get_account(freelancer["id"]).stripe_account_id

    class ReadBeforeReady:  # its first look at Stripe was before the account was ready
        def __init__(self):
            self.looks = 0

        def can_receive_payouts(self, *, stripe_account_id):
            self.looks += 1
            return False if self.looks == 1 else real.payments.can_receive_payouts(stripe_account_id=stripe_account_id)

    late = ReadBeforeReady()
    event = PaymentEvent(id="evt_late", type="account.updated",
                         data={"id": stripe_id, "metadata": {"account_id": freelancer["id"]}})
    assert onboarding.apply_account_event(replace(real, _payments=late), event) == "payouts_enabled"
    assert late.looks == 2  # the stale word, then the true one after writing it
    assert api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])["payouts_enabled"] is True


def test_a_payout_whose_release_was_missed_is_paid_when_it_is_tried_again(api, workers, client_acct, freelancer):
    """Stripe's word that the account is ready never reached us (lost, or a stale "not ready" written last): the
    payouts worker asks Stripe before holding a payout, so it is paid, and so is one an operator re-drives
    (docs/OPERATIONS.md)."""
    from chalicelib.core.model import Account

    api.onboard(freelancer)
    workers.wait_for(lambda: api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])["payouts_enabled"])
    repo = deps().repo
    assert repo.set_if(Account, freelancer["id"], {"payouts_enabled": False}, expected={"role": "freelancer"})
    bounty = api.bounty(client_acct["api_key"])
    sub = api.ok("POST", f"/v1/bounties/{bounty['id']}/submissions", {"content": "done"}, status=201,
                 key=freelancer["api_key"])
    payout_id = api.ok("POST", f"/v1/submissions/{sub['id']}/approve", {}, key=client_acct["api_key"])["payout_id"]
    workers.drain()
    assert repo.get_payout(payout_id).status == "paid"  # asked Stripe instead of holding it
    assert repo.get_account(freelancer["id"]).payouts_enabled is True



def test_an_event_rendered_in_an_api_version_before_latest_charge_still_names_the_charge(api, client_acct):
    """An endpoint on a Stripe API version before 2022-11-15 sends the charges list instead of latest_charge: the
    transfers are made from that charge all the same."""
    from chalicelib.bootstrap import deps

    bounty = api.bounty(client_acct["api_key"], payment_method=None)
    intent = _pay(bounty["funding"]["payment_intent_id"])
    charge = intent.pop("latest_charge")
    charge_id = charge["id"] if isinstance(charge, dict) else charge  # the stand-in sends it expanded
    intent["charges"] = {"object": "list", "data": [{"id": charge_id, "object": "charge"}], "has_more": False}
    body, headers = _signed(_event("payment_intent.succeeded", intent))
    assert api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers) == (
        200, {"received": True, "outcome": "funded"})
    assert deps().repo.get_bounty(bounty["id"]).charge_id == charge_id


def test_visiting_the_local_onboarding_link_completes_onboarding(api, workers, freelancer):
    """API.md: in the local stack the onboarding url is "a local page whose visit completes onboarding". A client
    that opened the link (a GET, as a browser or a script would) was left with `payouts_enabled: false` and every
    payout held until it found and pressed the page's button."""
    import urllib.request

    link = api.ok("POST", "/v1/accounts/me/payout-onboarding", key=freelancer["api_key"])["url"]
    page = urllib.request.urlopen(link, timeout=10).read().decode()
    assert "Complete onboarding" in page  # the button is still there: it takes the person back to the platform
    workers.wait_for(lambda: api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])["payouts_enabled"])
    # A second visit sends Stripe's word again at most harmlessly, and the account stays ready.
    urllib.request.urlopen(link, timeout=10).close()
    assert api.ok("GET", "/v1/accounts/me", key=freelancer["api_key"])["payouts_enabled"] is True


@pytest.mark.parametrize("raw, signature", [
    (b"\xff\xfe{}", "t={now},v1=" + "0" * 64),  # bytes no UTF-8 text: Stripe signs none such
    (b"{}", "t={now},v1=" + "\u00e9" * 64),  # a signature that is no hex (compare_digest refuses non-ASCII)
    (b"{}", "t=1,v1=\u00e9"),
])
def test_an_unsigned_body_is_refused_as_unsigned_whatever_its_bytes(api, raw, signature):
    """Only a body whose signature verified may be told it is signed: these were 'signed, but not an event'."""
    headers = {"Stripe-Signature": signature.format(now=int(time.time()))}
    code, body = api.call("POST", "/v1/webhooks/stripe", raw=raw, headers=headers)
    assert (code, body["error"]["code"]) == (400, "invalid_signature"), body
