"""Funding a bounty against localstripe (with our plugin): a bounty keeps one PaymentIntent, so no client_secret it
ever handed out can charge the client twice; a payment Stripe refuses is a clear answer, never a 500; a payment
that is not the bounty's escrow goes back in full, once."""

import os
from datetime import timedelta

import pytest
import stripe

DECLINED = "pm_card_chargeCustomerFail"  # declined by localstripe when charged


def _stripe():
    stripe.api_key = os.environ["STRIPE_SECRET_KEY"]
    stripe.api_base = os.environ["STRIPE_API_BASE"]
    return stripe


def _funding(api, key, bounty_id):
    return api.ok("GET", f"/v1/bounties/{bounty_id}", key=key)


def test_a_payment_method_stripe_refuses_is_a_funding_failure_not_a_500(api, workers, client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method="pm_no_such_method")
    assert bounty["status"] == "funding_failed"
    assert bounty["funding"]["error"].startswith("Stripe refused the payment:"), bounty["funding"]
    again = api.ok("POST", f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_no_such_method"}, key=key)
    assert again["status"] == "funding_failed"
    funded = api.ok("POST", f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_card_visa"}, key=key)
    assert funded["status"] == "open"
    totals = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)["totals"]
    assert totals["funded"] == bounty["funding"]["amount_total"]


@pytest.mark.parametrize("method", ["pm_\u4e00", "pm_\n", "\u0016Ik", "pm_" + "x" * 252, "pm card:visa"])
def test_any_text_as_a_payment_method_is_stripes_refusal_never_a_503(api, client_acct, method):
    """The payment method goes into Stripe's idempotency key, an HTTP header: raw, a control character or a
    non-ASCII one made a request Stripe could not read, answered as Stripe being down (503) for good."""
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method=method)
    assert bounty["status"] == "funding_failed", bounty
    again = api.ok("POST", f"/v1/bounties/{bounty['id']}/fund", {"payment_method": method}, key=key)
    assert again["status"] == "funding_failed"


def test_funding_again_pays_the_same_intent(api, workers, client_acct):
    """Posted unpaid, then a declined card, then a good one: all on the intent whose client_secret the client got
    first, so a browser still holding it cannot pay a second time."""
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method=None)
    first = bounty["funding"]["payment_intent_id"]
    assert api.ok("POST", f"/v1/bounties/{bounty['id']}/fund", {}, key=key)["funding"]["payment_intent_id"] == first
    declined = api.ok("POST", f"/v1/bounties/{bounty['id']}/fund", {"payment_method": DECLINED}, key=key)
    assert declined["status"] == "funding_failed" and declined["funding"]["payment_intent_id"] == first
    funded = api.ok("POST", f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_card_visa"}, key=key)
    assert funded["status"] == "open" and funded["funding"]["payment_intent_id"] == first
    intent = _stripe().PaymentIntent.retrieve(first)
    assert intent["status"] == "succeeded" and intent["amount"] == bounty["funding"]["amount_total"]
    workers.wait_for(lambda: _funding(api, key, bounty["id"])["status"] == "open")
    workers.drain()
    totals = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)["totals"]
    assert totals["funded"] == bounty["funding"]["amount_total"] and totals["refunded"] == 0


def test_a_bounty_already_paid_through_its_client_secret_is_not_charged_again(api, workers, client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method=None)
    intent_id = bounty["funding"]["payment_intent_id"]
    # The client's payment page paid (as Stripe.js would); before the webhook lands the client also calls /fund.
    assert _stripe().PaymentIntent.confirm(intent_id, payment_method="pm_card_visa")["status"] == "succeeded"
    funded = api.ok("POST", f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_card_visa"}, key=key)
    assert funded["status"] == "open" and funded["funding"]["payment_intent_id"] == intent_id
    workers.drain()
    charged = [i for i in _stripe().PaymentIntent.list(limit=100)["data"]
               if i.to_dict()["metadata"].get("bounty_id") == bounty["id"] and i["status"] == "succeeded"]
    assert [i["id"] for i in charged] == [intent_id]
    totals = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)["totals"]
    assert totals["funded"] == bounty["funding"]["amount_total"]


def test_a_payment_that_is_not_the_bountys_escrow_is_refunded_in_full_once(api, workers, client_acct):
    """An intent an earlier release superseded (each funding attempt made a new one) is paid through its old
    client_secret after the bounty was funded: the client paid twice, so that payment goes back."""
    key = client_acct["api_key"]
    bounty = api.bounty(key)
    assert bounty["status"] == "open"
    superseded = _stripe().PaymentIntent.create(
        amount=bounty["funding"]["amount_total"], currency="usd", payment_method_types=["card"],
        transfer_group=bounty["id"], metadata={"bounty_id": bounty["id"], "client_id": client_acct["id"]})
    _stripe().PaymentIntent.confirm(superseded["id"], payment_method="pm_card_visa")

    def refunded() -> int:
        refunds = _stripe().Refund.list(payment_intent=superseded["id"], limit=100)["data"]
        return sum(r["amount"] for r in refunds if r["status"] in ("succeeded", "pending"))

    workers.wait_for(lambda: refunded() > 0)
    assert refunded() == bounty["funding"]["amount_total"]
    # The event again (Stripe retries, replays) refunds nothing more, and the bounty's escrow is untouched.
    from chalicelib.bootstrap import deps
    from chalicelib.ports import PaymentEvent
    from chalicelib.services import bounties

    intent = _stripe().PaymentIntent.retrieve(superseded["id"]).to_dict()
    replay = PaymentEvent(id="evt_replay", type="payment_intent.succeeded", data=intent)
    assert bounties.apply_payment_event(deps(), replay) == "refunded_duplicate"
    assert refunded() == bounty["funding"]["amount_total"]
    own = api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)
    assert own["status"] == "open" and own["funding"]["payment_intent_id"] == bounty["funding"]["payment_intent_id"]
    totals = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)["totals"]
    assert totals == {"funded": bounty["funding"]["amount_total"], "paid_out": 0, "fees": 0, "refunded": 0,
                      "held": bounty["funding"]["amount_total"]}


def test_no_funding_after_the_deadline(api, clock, client_acct):
    key = client_acct["api_key"]
    deadline = (clock.now() + timedelta(seconds=120)).strftime("%Y-%m-%dT%H:%M:%SZ")
    bounty = api.bounty(key, payment_method=None, deadline=deadline)
    clock.advance(121)
    code, body = api.call("POST", f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_card_visa"}, key=key)
    assert (code, body["error"]["code"]) == (409, "deadline_passed"), body


def test_a_duplicate_payment_stripe_will_not_refund_is_acknowledged_not_retried_forever(api, client_acct):
    """Say it was refunded by hand from Stripe's dashboard: Stripe refuses our refund, and the event is answered
    (logged and counted for an operator) rather than failing every retry Stripe makes for days."""
    from chalicelib.bootstrap import deps
    from chalicelib.ports import PaymentEvent
    from chalicelib.services import bounties

    bounty = api.bounty(client_acct["api_key"])
    unpaid = _stripe().PaymentIntent.create(  # never paid, so it holds nothing to refund
        amount=bounty["funding"]["amount_total"], currency="usd", payment_method_types=["card"],
        metadata={"bounty_id": bounty["id"]})
    event = PaymentEvent(id="evt_odd", type="payment_intent.succeeded", data=unpaid.to_dict())
    assert bounties.apply_payment_event(deps(), event) == "refund_refused"


def _charged_for(bounty_id: str) -> int:
    """What Stripe holds of the client's money for a bounty: every intent naming it, paid, less its refunds."""
    total = 0
    for intent in _stripe().PaymentIntent.list(limit=100)["data"]:
        if intent.to_dict()["metadata"].get("bounty_id") == bounty_id and intent["status"] == "succeeded":
            refunds = _stripe().Refund.list(payment_intent=intent["id"], limit=100)["data"]
            total += intent["amount"] - sum(r["amount"] for r in refunds if r["status"] in ("succeeded", "pending"))
    return total


@pytest.mark.parametrize("after", [False, True], ids=["failed", "made-then-failed"])
def test_a_server_error_stripe_replays_under_its_key_moves_funding_to_a_new_key(
        api, workers, client_acct, stripe_server_errors, webhooks_a_second_late, after):
    """Stripe gives its kept 500 to every retry under the same key for a day: the client's retry with the same
    card takes a new key and funds the bounty. Should the failed request have charged the card (`after`), that
    payment funds the bounty once; a second one would be refunded in full as not its escrow. (The retry comes
    before that payment's webhook, which would otherwise fund the bounty first.)"""
    from chalicelib.bootstrap import deps

    key = client_acct["api_key"]
    stripe_server_errors(r"^/v1/payment_intents$", after=after)
    code, body = api.post("/v1/bounties", {
        "title": "t", "description": "d", "reward": {"amount": 500, "currency": "usd"},
        "deadline": _deadline(), "payment_method": "pm_card_visa"}, key=key)
    assert (code, body["error"]["code"]) == (503, "payments_unavailable"), body
    [bounty] = api.ok("GET", "/v1/bounties?mine=true", key=key)["items"]
    api.bounties.append(bounty["id"])
    code, funded = api.post(f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_card_visa"}, key=key)
    assert (code, funded.get("status")) == (200, "open") or funded["error"]["code"] == "already_funded", funded
    assert deps().repo.get_bounty(bounty["id"]).funding_keys_spent == 1
    workers.drain()
    workers.wait_for(lambda: _charged_for(bounty["id"]) == bounty["funding"]["amount_total"])
    own = api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)
    assert own["status"] == "open"
    totals = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)["totals"]
    assert totals["funded"] == totals["held"] == bounty["funding"]["amount_total"]


def test_a_server_error_confirming_the_bountys_intent_moves_funding_to_a_new_key(
        api, workers, client_acct, stripe_server_errors):
    """Posted unpaid, then paid on its one intent: a 500 Stripe kept for the confirm does not block the retry,
    which confirms the same intent (a confirm that went through already is taken as the funding)."""
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method=None)
    stripe_server_errors(r"^/v1/payment_intents/[^/]+/confirm$", after=True)
    code, body = api.post(f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_card_visa"}, key=key)
    assert (code, body["error"]["code"]) == (503, "payments_unavailable"), body
    code, funded = api.post(f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_card_visa"}, key=key)
    assert (code, funded.get("status")) == (200, "open") or funded["error"]["code"] == "already_funded", funded
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)["funding"]["payment_intent_id"] == \
        bounty["funding"]["payment_intent_id"]
    workers.drain()
    assert _charged_for(bounty["id"]) == bounty["funding"]["amount_total"]


def _deadline() -> str:
    from datetime import UTC, datetime

    return (datetime.now(UTC) + timedelta(days=1)).strftime("%Y-%m-%dT%H:%M:%SZ")


@pytest.mark.parametrize("after", [False, True], ids=["failed", "made-then-failed"])
def test_a_post_retried_with_its_idempotency_key_after_stripe_failed_funds_the_same_bounty(
        api, workers, client_acct, stripe_server_errors, after):
    """The bounty was stored before Stripe failed: the retry with the key picks it up and funds it (or finds it
    funded by the payment the failed request made), rather than posting a second bounty and charging again."""
    key = client_acct["api_key"]
    body = {"title": "t", "description": "d", "reward": {"amount": 500, "currency": "usd"},
            "deadline": _deadline(), "payment_method": "pm_card_visa"}
    headers = {"Idempotency-Key": f"post-{after}"}
    stripe_server_errors(r"^/v1/payment_intents$", after=after)
    code, failed = api.post("/v1/bounties", body, key=key, headers=headers)
    assert (code, failed["error"]["code"]) == (503, "payments_unavailable"), failed
    [stored] = api.ok("GET", "/v1/bounties?mine=true", key=key)["items"]
    code, posted = api.post("/v1/bounties", body, key=key, headers=headers)
    assert code == 201 and posted["id"] == stored["id"] and posted["status"] == "open", posted
    assert api.post("/v1/bounties", body, key=key, headers=headers) == (201, posted)  # the answer, replayed
    code, other = api.post("/v1/bounties", {**body, "title": "another"}, key=key, headers=headers)
    assert (code, other["error"]["code"]) == (409, "idempotency_key_reused")
    assert [b["id"] for b in api.ok("GET", "/v1/bounties?mine=true", key=key)["items"]] == [stored["id"]]
    workers.drain()
    workers.wait_for(lambda: _charged_for(stored["id"]) == posted["funding"]["amount_total"])
    totals = api.ok("GET", f"/v1/bounties/{stored['id']}/ledger", key=key)["totals"]
    assert totals["funded"] == totals["held"] == posted["funding"]["amount_total"]


@pytest.mark.parametrize("method", ["pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds",
                                    "pm_card_visa_chargeDeclined"])
def test_stripes_declining_test_cards_are_declined_by_the_stand_in_too(api, client_acct, method):
    """A client trying Stripe's documented decline test cards locally sees a decline, not an unknown method."""
    bounty = api.bounty(client_acct["api_key"], payment_method=method)
    assert bounty["status"] == "funding_failed", bounty
    assert bounty["funding"]["error"] == "The card was declined.", bounty["funding"]


def test_a_post_whose_own_write_failed_after_stripe_charged_is_funded_once_by_its_retry(
        api, workers, client_acct, monkeypatch):
    """Stripe charged the card, then storing that failed on our side (a throttled write, say): the 500 says a retry
    with the same Idempotency-Key is safe, and it is: the retry funds the bounty the first attempt stored, with
    the charge already made (Stripe replays it under the same key), and posts no second bounty."""
    import threading

    from chalicelib.services import bounties

    real, failures = bounties._commit_funded, [RuntimeError("ProvisionedThroughputExceededException")]

    def failing_once(*args, **kwargs):
        # Only the request's own write (this thread): Stripe's webhooks, this bounty's or a late one of an earlier
        # test, reach the app on the relay's thread and must neither fail nor use up the failure.
        if failures and threading.current_thread() is threading.main_thread():
            raise failures.pop()
        return real(*args, **kwargs)

    monkeypatch.setattr(bounties, "_commit_funded", failing_once)
    key, headers = client_acct["api_key"], {"Idempotency-Key": "post-once"}
    body = {"title": "t", "description": "d", "reward": {"amount": 500, "currency": "usd"},
            "deadline": _deadline(), "payment_method": "pm_card_visa"}
    code, failed = api.post("/v1/bounties", body, key=key, headers=headers)
    assert (code, failed["error"]["code"]) == (500, "internal_error")
    code, posted = api.post("/v1/bounties", body, key=key, headers=headers)
    assert code == 201 and posted["status"] == "open", posted
    workers.drain()
    assert [b["id"] for b in api.ok("GET", "/v1/bounties?mine=true", key=key)["items"]] == [posted["id"]]
    workers.wait_for(lambda: _charged_for(posted["id"]) == posted["funding"]["amount_total"])


def test_a_first_funding_that_loses_the_race_for_the_intent_does_not_open_the_bounty_on_a_refunded_payment(
        api, client_acct, monkeypatch):
    """Two first fundings of a bounty with no intent: while one charges a card, the other records its own intent,
    and the charge's webhook, arriving first, refunds that charge in full as a stray. The charging request must not
    then record its intent and open the bounty on money that went back."""
    import os

    import stripe

    from chalicelib.bootstrap import deps
    from tests.api.test_webhooks import _event, _signed

    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method="pm_bogus")  # funding failed: no intent on record
    assert bounty["funding"]["payment_intent_id"] is None, bounty
    payments = deps().payments
    real, interleaved, started = payments.create_funding_intent, [], []

    def meanwhile(**kwargs):
        intent = real(**kwargs)
        if not started:  # the first request only; the other one's own call goes straight through
            started.append(True)
            interleaved.append(api.ok("POST", f"/v1/bounties/{bounty['id']}/fund", {}, key=key))  # records its own
            stripe.api_key, stripe.api_base = os.environ["STRIPE_SECRET_KEY"], os.environ["STRIPE_API_BASE"]
            paid = stripe.PaymentIntent.retrieve(intent.payment_intent_id).to_dict()
            body, headers = _signed(_event("payment_intent.succeeded", paid))
            interleaved.append(api.call("POST", "/v1/webhooks/stripe", raw=body, headers=headers))
        return intent

    monkeypatch.setattr(payments, "create_funding_intent", meanwhile)
    code, answer = api.post(f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_card_visa"}, key=key)
    other, webhook = interleaved
    assert webhook == (200, {"received": True, "outcome": "refunded_duplicate"}), webhook
    assert code == 200 and answer["status"] == "awaiting_funding", answer
    assert answer["funding"]["payment_intent_id"] == other["funding"]["payment_intent_id"]
    totals = api.ok("GET", f"/v1/bounties/{bounty['id']}/ledger", key=key)["totals"]
    assert totals["funded"] == totals["held"] == 0, totals
