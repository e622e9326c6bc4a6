"""A bounty that is never funded expires at its deadline, like any other; money paid after that goes back in full.

Under a controlled clock, with the real sweep and timers queue (tests/api/test_timers.py has the funded cases).
"""

from __future__ import annotations

import os
from dataclasses import replace

import pytest
import stripe

from chalicelib import config
from chalicelib.adapters import dynamo_models as m
from chalicelib.adapters.dynamo_upgrades import file_unfunded_expiry as _file_unfunded_expiry
from chalicelib.bootstrap import deps
from chalicelib.core import rules, timers
from chalicelib.core.model import EXPIRE_BOUNTY
from chalicelib.services import refunds
from chalicelib.services import timers as timers_service
from devtools import local_iam
from tests.api.test_timers import _at, _purge, _tick, _totals
from tests.api.test_webhooks import _pay

# Upgrade steps are the operator's (`python -m ops`), run with the operator's credentials, not a function's.
file_unfunded_expiry = local_iam.as_operator(_file_unfunded_expiry)


def _status(api, key, bounty_id) -> str:
    return api.ok("GET", f"/v1/bounties/{bounty_id}", key=key)["status"]


@pytest.mark.parametrize("payment_method", [None, "pm_card_chargeCustomerFail"], ids=["unpaid", "declined"])
def test_an_unfunded_bounty_expires_at_its_deadline(api, workers, clock, client_acct, payment_method):
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method=payment_method, deadline=_at(clock, 120))
    waiting = "awaiting_funding" if payment_method is None else "funding_failed"
    assert bounty["status"] == waiting

    _tick(clock, workers, 60)
    assert _status(api, key, bounty["id"]) == waiting  # not due yet
    _tick(clock, workers, 61)

    expired = api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)
    assert expired["status"] == "expired" and expired["slots_left"] == 0
    assert _totals(api, key, bounty["id"]) == {"funded": 0, "paid_out": 0, "fees": 0, "refunded": 0, "held": 0}
    listed = api.ok("GET", "/v1/bounties?mine=true&status=expired&limit=100", key=key)["items"]
    assert bounty["id"] in [b["id"] for b in listed]
    code, body = api.post(f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_card_visa"}, key=key)
    assert (code, body["error"]["code"]) == (409, "bounty_not_open"), body
    code, body = api.post(f"/v1/bounties/{bounty['id']}/cancel", key=key)
    assert (code, body["error"]["code"]) == (409, "bounty_not_open")
    assert _status(api, key, bounty["id"]) == "expired"


def test_a_payment_after_an_unfunded_bounty_expired_is_refunded_in_full(api, workers, clock, client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method=None, slots=2, deadline=_at(clock, 120))
    clock.advance(121)
    workers.sweep()
    workers.runner.feed_once(workers.timers_queue)  # it expires; the refunds worker has not cancelled the intent yet
    assert _status(api, key, bounty["id"]) == "expired"

    # The client's payment page was still open, and they paid first; Stripe's webhook tells us.
    assert _pay(bounty["funding"]["payment_intent_id"])["status"] == "succeeded"
    workers.wait_for(lambda: _totals(api, key, bounty["id"])["funded"])
    workers.drain()

    assert _totals(api, key, bounty["id"]) == {"funded": 1100, "paid_out": 0, "fees": 0, "refunded": 1100, "held": 0}
    assert workers.refunded_on_stripe(bounty) == 1100
    assert _status(api, key, bounty["id"]) == "expired"

    # Had the refunds worker come before that payment's webhook, the bounty would still read as never paid; Stripe
    # refuses to cancel a paid intent, and the worker goes on (the webhook then owes the payment back, as above).
    record = deps().repo.get_bounty(bounty["id"])
    as_before_the_webhook = replace(record, free_slots=record.slots, refunded_slots=0, charge_id=None)
    assert rules.unpaid_intent(as_before_the_webhook) == bounty["funding"]["payment_intent_id"]
    refunds._cancel_unpaid_intent(deps(), as_before_the_webhook)
    assert _stripe().PaymentIntent.retrieve(bounty["funding"]["payment_intent_id"])["status"] == "succeeded"


@pytest.mark.parametrize("payment_method", [None, "pm_card_chargeCustomerFail"], ids=["unpaid", "declined"])
@pytest.mark.parametrize("closed_by", ["expiry", "cancel"])
def test_the_intent_of_a_bounty_closed_unpaid_is_cancelled_so_it_can_no_longer_charge_the_client(
        api, workers, clock, client_acct, payment_method, closed_by):
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method=payment_method, deadline=_at(clock, 120))
    if closed_by == "cancel":
        api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=key)
    _tick(clock, workers, 121)
    assert _status(api, key, bounty["id"]) == ("expired" if closed_by == "expiry" else "cancelled")

    intent_id = bounty["funding"]["payment_intent_id"]
    assert _stripe().PaymentIntent.retrieve(intent_id)["status"] == "canceled"
    funding = api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)["funding"]
    assert funding["payment_intent_id"] == intent_id and funding["client_secret"] is None  # it can pay nothing now
    with pytest.raises(stripe.StripeError):
        _pay(intent_id)  # the payment page left open
    workers.drain()
    assert _totals(api, key, bounty["id"]) == {"funded": 0, "paid_out": 0, "fees": 0, "refunded": 0, "held": 0}
    # A repeated message (the refunds queue delivers at least once) changes nothing.
    assert refunds.refund_unspent(deps(), bounty["id"]) == 0
    assert _stripe().PaymentIntent.retrieve(intent_id)["status"] == "canceled"


@pytest.mark.parametrize("closed_by", ["expiry", "cancel"])
def test_an_unpaid_intent_whose_cancel_message_is_lost_is_cancelled_by_the_closes_timer(
        api, workers, clock, client_acct, closed_by):
    """The close commits, then its message to the refunds worker is lost (the function died in between, or SQS
    failed): a later delivery of the expiry, or a retried cancel, finds the bounty closed and sends nothing. Only a
    timer filed with the close can still cancel the intent its open payment page could charge."""
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method=None, deadline=_at(clock, 120))
    if closed_by == "cancel":
        api.ok("POST", f"/v1/bounties/{bounty['id']}/cancel", key=key)
    else:
        clock.advance(121)
        assert timers_service.expire_bounty(deps(), bounty["id"]) == "expired"
    _purge(workers, workers.refunds_queue)
    _tick(clock, workers, 121)  # the expiry's own timer, delivered now, finds the bounty closed
    assert _stripe().PaymentIntent.retrieve(bounty["funding"]["payment_intent_id"])["status"] != "canceled"

    _tick(clock, workers, 600)
    assert _stripe().PaymentIntent.retrieve(bounty["funding"]["payment_intent_id"])["status"] == "canceled"
    assert api.ok("GET", f"/v1/bounties/{bounty['id']}", key=key)["funding"]["client_secret"] is None


def test_the_upgrade_step_cancels_the_payment_an_earlier_release_left_open_on_a_bounty_closed_unpaid(
        api, workers, clock, client_acct):
    from ops.__main__ import cancel_unpaid_intents

    key = client_acct["api_key"]
    left_open = api.bounty(key, payment_method=None)
    api.ok("POST", f"/v1/bounties/{left_open['id']}/cancel", key=key)
    # As an earlier release cancelled: no message to the refunds worker.
    workers.runner.sqs.purge_queue(QueueUrl=workers.runner._url(workers.refunds_queue))
    paid = api.bounty(key)
    api.ok("POST", f"/v1/bounties/{paid['id']}/cancel", key=key)  # refunded, nothing to cancel
    workers.drain()

    from chalicelib.adapters.dynamo_upgrades import closed_unpaid_with_intent as scanning

    closed_unpaid_with_intent = local_iam.as_operator(scanning)

    assert left_open["id"] in closed_unpaid_with_intent() and paid["id"] not in closed_unpaid_with_intent()
    assert local_iam.as_operator(cancel_unpaid_intents)(None, deps()) == 0
    workers.drain()
    assert _stripe().PaymentIntent.retrieve(left_open["funding"]["payment_intent_id"])["status"] == "canceled"
    assert left_open["id"] not in closed_unpaid_with_intent()  # recorded: a second run queues nothing for it
    assert _totals(api, key, left_open["id"])["funded"] == 0


def _stripe():
    stripe.api_key = os.environ["STRIPE_SECRET_KEY"]
    stripe.api_base = os.environ["STRIPE_API_BASE"]
    return stripe


def test_a_bounty_funded_after_posting_expires_by_the_timer_filed_when_it_was_posted(
        api, workers, clock, client_acct):
    key = client_acct["api_key"]
    bounty = api.bounty(key, payment_method=None, deadline=_at(clock, 120))
    funded = api.ok("POST", f"/v1/bounties/{bounty['id']}/fund", {"payment_method": "pm_card_visa"}, key=key)
    assert funded["status"] == "open"
    assert _deadline_timer(bounty["id"]) is not None

    _tick(clock, workers, 121)
    assert _status(api, key, bounty["id"]) == "expired"
    assert workers.refunded_on_stripe(bounty) == bounty["funding"]["amount_total"]


def _deadline_timer(bounty_id: str):
    item = m.BountyModel.get(bounty_id, consistent_read=True)
    due = timers.timer(EXPIRE_BOUNTY, bounty_id, item.deadline, config.timer_shards())
    try:
        return m.TimerModel.get(due.shard, due.due_key, consistent_read=True)
    except m.TimerModel.DoesNotExist:
        return None


def _as_an_earlier_release_stored_it(bounty_id: str) -> None:
    """No deadline timer until funded, and no mark saying one was filed."""
    _deadline_timer(bounty_id).delete()
    m.BountyModel(id=bounty_id).update([m.BountyModel.expiry_timer_filed.remove()])


def test_unfunded_bounties_an_earlier_release_posted_get_their_deadline_timer_once(api, workers, clock, client_acct):
    """The `file-unfunded-expiry` upgrade step (run once by the deploy, and as `make run` restores an older state)."""
    key = client_acct["api_key"]
    never_funded = api.bounty(key, payment_method=None, deadline=_at(clock, 120))["id"]
    funded_later = api.bounty(key, payment_method=None, deadline=_at(clock, 120))
    already_open = api.bounty(key, deadline=_at(clock, 120))["id"]
    for bounty_id in (never_funded, funded_later["id"]):
        _as_an_earlier_release_stored_it(bounty_id)
    before = m.BountyModel.get(never_funded, consistent_read=True).version

    assert file_unfunded_expiry() >= 2
    after = m.BountyModel.get(never_funded, consistent_read=True)
    assert after.expiry_timer_filed is True and after.version == before + 1  # a write begun before fails, rereads
    assert _deadline_timer(never_funded) is not None and _deadline_timer(funded_later["id"]) is not None
    assert file_unfunded_expiry() == 0

    # Funding it now files no second timer (which would fail the funding's write).
    assert api.ok("POST", f"/v1/bounties/{funded_later['id']}/fund", {"payment_method": "pm_card_visa"},
                  key=key)["status"] == "open"
    _tick(clock, workers, 121)
    assert [_status(api, key, b) for b in (never_funded, funded_later["id"], already_open)] == ["expired"] * 3
    assert workers.refunded_on_stripe(funded_later) == funded_later["funding"]["amount_total"]


def test_an_unfunded_bounty_past_its_deadline_before_the_upgrade_expires_at_the_next_sweep(
        api, workers, clock, client_acct):
    key = client_acct["api_key"]
    bounty_id = api.bounty(key, payment_method=None, deadline=_at(clock, 120))["id"]
    _as_an_earlier_release_stored_it(bounty_id)
    _tick(clock, workers, 3600)
    assert _status(api, key, bounty_id) == "awaiting_funding"  # the earlier release's bug: nothing to fire

    file_unfunded_expiry()
    _tick(clock, workers, 1)
    assert _status(api, key, bounty_id) == "expired"


def test_cancelling_an_intent_on_stripe_again_counts_as_done_and_a_paid_one_is_refused(localstripe_server):
    from chalicelib.adapters.stripe_payments import StripePayments
    from chalicelib.ports import PaymentDeclined

    payments = StripePayments(api_key=os.environ["STRIPE_SECRET_KEY"], api_base=localstripe_server.url)
    intents = [payments.create_funding_intent(bounty_id=f"bty_adapter{n}", amount=1100, currency="usd",
                                              payment_method=None, idempotency_key=f"adapter-test:{n}:{os.getpid()}",
                                              metadata={}) for n in range(2)]
    unpaid, paid = (intent.payment_intent_id for intent in intents)
    assert payments.cancel_funding_intent(payment_intent_id=unpaid, idempotency_key=f"cancel:{unpaid}") == "canceled"
    # Another key (past the first one's lifetime, say): Stripe refuses to cancel twice, which is what was asked.
    assert payments.cancel_funding_intent(payment_intent_id=unpaid, idempotency_key=f"again:{unpaid}") == "canceled"
    assert _pay(paid)["status"] == "succeeded"
    with pytest.raises(PaymentDeclined):
        payments.cancel_funding_intent(payment_intent_id=paid, idempotency_key=f"cancel:{paid}")
