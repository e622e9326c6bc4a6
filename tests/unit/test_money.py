"""Payout settlement and refunds on plain data: every cent lands in exactly one ledger bucket."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from chalicelib.core import errors, ledger, money, rules
from chalicelib.core.model import AWAITING_ONBOARDING, CANCELLED, FAILED, PAID, QUEUED, Account, Participant

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def funded(slots=3, reward=1000, fee_bps=1000):
    created = rules.new_bounty(
        bounty_id="bty_1", client_id="acct_c", title="t", description="d", reward=reward, currency="usd",
        slots=slots, deadline=NOW + timedelta(days=1), review_window_seconds=3600, claim_seconds=None,
        estimated_minutes=None, tags=[], now=NOW, fee_bps=fee_bps, currencies=frozenset({"usd"}))
    bounty = rules.mark_funded(created, payment_intent_id="pi_1", charge_id="ch_1", now=NOW)
    entry = ledger.funded_entry("bty_1", payment_intent_id="pi_1", amount=bounty.amount_total, currency="usd", at=NOW)
    return bounty, [entry]


def approved(bounty, name):
    bounty, participant, _, sub = rules.submit(bounty, Participant("bty_1", name), None, submission_id=f"sub_{name}",
                                               content="x", links=[], now=NOW)
    bounty, _, _, payout = rules.approve(bounty, participant, sub, now=NOW)
    return bounty, payout


def freelancer(name):
    return Account(id=name, role="freelancer", name=name, email="f@example.com", created_at=NOW,
                   stripe_account_id="acct_stripe", payouts_enabled=True)


def test_payout_then_cancel_refund_balances_to_zero_held():
    bounty, entries = funded(slots=3, reward=333)  # fee 100 does not split evenly over 3 slots
    bounty, payout = approved(bounty, "a")
    bounty, paid, person, new_entries = money.settle_payout(bounty, payout, freelancer("a"), transfer_id="tr_1",
                                                            now=NOW)
    entries += new_entries
    assert paid.status == PAID and paid.transfer_id == "tr_1" and person.earned == {"usd": 333}
    with pytest.raises(errors.StateConflict):
        money.settle_payout(bounty, paid, person, transfer_id="tr_2", now=NOW)
    bounty = rules.close(bounty, status=CANCELLED, now=NOW)
    bounty, order = money.start_refund(bounty, now=NOW)
    assert order.slots == 2 and bounty.refunding_slots == 2 and bounty.refund_owed_slots == 0
    rules.check_slots(bounty)
    again, same = money.start_refund(bounty, now=NOW)
    assert same == order and again is bounty  # a retry repeats the refund in flight
    bounty, entry = money.finish_refund(bounty, order, refund_id="re_1", now=NOW)
    entries.append(entry)
    rules.check_slots(bounty)
    totals = ledger.totals(entries)
    # fee 100 over 3 slots: 33 kept with the payout, 67 refunded with the two unspent rewards.
    assert (totals.funded, totals.paid_out, totals.fees, totals.refunded, totals.held) == (1099, 333, 33, 733, 0)
    assert money.start_refund(bounty, now=NOW) is None


def test_refund_amount_is_fixed_when_it_starts():
    bounty, _ = funded(slots=2, reward=500)
    bounty, payout = approved(bounty, "a")
    bounty = rules.close(bounty, status=CANCELLED, now=NOW)
    bounty, order = money.start_refund(bounty, now=NOW)
    # The payout settles while the refund is in flight: the refund's amount does not move.
    bounty, *_ = money.settle_payout(bounty, payout, freelancer("a"), transfer_id="tr", now=NOW)
    assert money.start_refund(bounty, now=NOW)[1] == order
    bounty, entry = money.finish_refund(bounty, order, refund_id="re", now=NOW)
    assert entry.amount == 550 and bounty.settled_slots == 2


def test_finish_refund_refuses_a_stale_order():
    bounty, _ = funded(slots=1)
    bounty = rules.close(bounty, status=CANCELLED, now=NOW)
    bounty, order = money.start_refund(bounty, now=NOW)
    bounty, _ = money.finish_refund(bounty, order, refund_id="re", now=NOW)
    with pytest.raises(errors.StateConflict):
        money.finish_refund(bounty, order, refund_id="re", now=NOW)


def test_payout_retry_states():
    bounty, _ = funded()
    bounty, payout = approved(bounty, "a")
    held = money.hold_for_onboarding(payout, now=NOW)
    assert money.requeue(held, now=NOW).status == QUEUED
    failing = money.record_attempt(payout, error="boom", failed=False, now=NOW)
    assert failing.attempts == 1 and failing.status == QUEUED
    failed = money.record_attempt(failing, error="boom", failed=True, now=NOW)
    assert failed.status == FAILED and money.requeue(failed, now=NOW).status == QUEUED
    # A delivery that failed while another paid the payout records nothing, on its last try or not.
    assert money.record_attempt(replace(payout, status=PAID), error="boom", failed=True, now=NOW) is None
    # One that failed while another delivery held the payout for the account counts its attempt, but its last try
    # does not fail the payout: failed, it would wait for an operator, where held, Stripe's word that the account
    # is ready releases it.
    still_held = money.record_attempt(held, error="boom", failed=True, now=NOW)
    assert (still_held.status, still_held.attempts) == (AWAITING_ONBOARDING, 1)
    # But one this delivery tried while held (its account seen ready since) fails: nothing would release it again.
    assert money.record_attempt(held, error="boom", failed=True, now=NOW, tried_while_held=True).status == FAILED
    with pytest.raises(errors.StateConflict):
        money.requeue(replace(payout, status=PAID), now=NOW)


def test_a_server_error_moves_the_refund_in_flight_to_a_new_idempotency_key_once():
    bounty, _ = funded(slots=2, reward=500)
    bounty, order = money.start_refund(rules.close(bounty, status=CANCELLED, now=NOW), now=NOW)
    assert order.idempotency_key == f"refund:{order.key}"
    spent = money.spend_refund_key(bounty, order, now=NOW)
    assert money.spend_refund_key(spent, order, now=NOW) is None  # another delivery moved it on already
    _, retry = money.start_refund(spent, now=NOW)
    assert (retry.key, retry.amount, retry.idempotency_key) == (order.key, order.amount, f"refund:{order.key}:k1")
    done, entry = money.finish_refund(spent, retry, refund_id="re_1", now=NOW)
    assert done.refund_keys_spent == 0 and entry.id == f"refunded:{order.key}"
    assert money.spend_refund_key(done, retry, now=NOW) is None  # nothing in flight


def test_a_server_error_moves_a_payout_to_a_new_transfer_key():
    _, payout = approved(funded()[0], "a")
    failed_once = money.record_attempt(payout, error="APIError", failed=False, now=NOW, key_spent=True)
    assert (failed_once.attempts, failed_once.keys_spent) == (1, 1)
    timed_out = money.record_attempt(failed_once, error="timeout", failed=False, now=NOW)
    assert (timed_out.attempts, timed_out.keys_spent) == (2, 1)  # a lost answer keeps its key: Stripe replays it
