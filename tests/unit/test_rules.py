"""The lifecycle rules on plain data: no I/O, no servers."""

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from fractions import Fraction

import pytest

from chalicelib.core import earnings, errors, ledger, rules
from chalicelib.core.model import (
    APPROVED,
    AWAITING_FUNDING,
    CANCELLED,
    COMPLETED,
    EXPIRED,
    FUNDING_FAILED,
    LAPSED,
    LIVE,
    OPEN,
    PENDING_REVIEW,
    REJECTED,
    RELEASED,
    USED,
    LedgerEntry,
    Participant,
)

NOW = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)


def bounty(**overrides):
    fields = dict(bounty_id="bty_1", client_id="acct_c", title="t", description="d", reward=1000, currency="usd",
                  slots=2, deadline=NOW + timedelta(days=1), review_window_seconds=3600, claim_seconds=None,
                  estimated_minutes=None, tags=["b", "a", "a"], now=NOW, fee_bps=1000,
                  currencies=frozenset({"usd"}))
    fields.update(overrides)
    created = rules.new_bounty(**fields)
    return rules.mark_funded(created, payment_intent_id="pi_1", charge_id="ch_1", now=NOW)


def who(name="acct_f"):
    return Participant("bty_1", name)


def test_fee_is_on_top_and_rounds_half_up():
    b = bounty(reward=333, slots=3)
    assert b.fee == 100 and b.amount_total == 1099
    assert rules.platform_fee(5, 1, 1000) == 1  # 0.5 rounds up
    assert rules.platform_fee(4, 1, 1000) == 0


@pytest.mark.parametrize("fee,slots", [(100, 3), (7, 4), (1, 7), (999, 1000), (0, 5)])
def test_fee_shares_add_up_in_any_grouping(fee, slots):
    shares = [rules.fee_share(fee, slots, i, 1) for i in range(slots)]
    assert sum(shares) == fee
    assert rules.fee_share(fee, slots, 0, 2) + rules.fee_share(fee, slots, 2, slots - 2) == fee


def test_new_bounty_validates_money_time_and_currency():
    with pytest.raises(errors.Invalid):
        bounty(currency="eur")
    with pytest.raises(errors.Invalid):
        bounty(reward=49)
    with pytest.raises(errors.Invalid):
        bounty(deadline=NOW + timedelta(seconds=59))
    with pytest.raises(errors.Invalid):
        bounty(deadline=NOW + timedelta(days=366))
    with pytest.raises(errors.Invalid):
        bounty(claim_seconds=59)
    with pytest.raises(errors.Invalid):
        bounty(reward=10_000_000, slots=10)
    assert bounty().tags == ["a", "b"]


def test_funding_transitions_are_replay_safe():
    created = rules.new_bounty(bounty_id="bty_1", client_id="c", title="t", description="d", reward=100,
                               currency="usd", slots=1, deadline=NOW + timedelta(hours=1),
                               review_window_seconds=60, claim_seconds=None, estimated_minutes=None, tags=[],
                               now=NOW, fee_bps=1000, currencies=frozenset({"usd"}))
    assert created.status == AWAITING_FUNDING
    failed = rules.mark_funding_failed(created, reason="declined", now=NOW)
    assert failed.status == FUNDING_FAILED
    opened = rules.mark_funded(failed, payment_intent_id="pi_1", charge_id=None, now=NOW)
    assert opened.status == OPEN and opened.funding_error is None
    assert rules.mark_funded(opened, payment_intent_id="pi_1", charge_id=None, now=NOW) is None
    assert rules.mark_funding_failed(opened, reason="late", now=NOW) is None
    other = rules.attach_funding(created, payment_intent_id="pi_2", client_secret="s", now=NOW)
    assert rules.mark_funded(other, payment_intent_id="pi_stranger", charge_id=None, now=NOW) is None


def test_a_payment_is_the_escrow_if_it_is_the_bountys_intent_or_exactly_the_escrow_while_it_has_none():
    created = replace(bounty(), status=AWAITING_FUNDING, payment_intent_id=None, charge_id=None)
    total = created.amount_total

    def escrow(b, intent="pi_1", amount=total, currency="usd"):
        return rules.is_escrow_payment(b, payment_intent_id=intent, amount=amount, currency=currency)

    assert escrow(created) and escrow(created, currency="USD")
    assert not escrow(created, amount=1) and not escrow(created, amount=None) and not escrow(created, currency="eur")
    attached = rules.attach_funding(created, payment_intent_id="pi_2", client_secret="s", now=NOW)
    assert escrow(attached, intent="pi_2", amount=None)  # its own intent: Stripe charged what we asked
    assert not escrow(attached, intent="pi_1")  # the right amount on another intent: a second payment


def test_a_server_error_moves_funding_to_a_new_key_once():
    created = replace(bounty(), status=AWAITING_FUNDING, payment_intent_id=None, charge_id=None)
    moved = rules.spend_funding_key(created, keys_spent=0, now=NOW)
    assert moved.funding_keys_spent == 1 and moved.status == AWAITING_FUNDING
    assert rules.spend_funding_key(moved, keys_spent=0, now=NOW) is None  # another attempt moved it on already
    failed = rules.mark_funding_failed(moved, reason="declined", now=NOW)
    assert rules.spend_funding_key(failed, keys_spent=1, now=NOW).funding_keys_spent == 2
    assert rules.spend_funding_key(bounty(), keys_spent=0, now=NOW) is None  # funded meanwhile: nothing to move


def test_claim_submit_approve_keeps_slots_balanced():
    b = bounty()
    b, p, c = rules.claim(b, who(), claim_id="clm_1", now=NOW)
    assert (b.free_slots, b.claimed_slots) == (1, 1) and c.status == LIVE and c.expires_at == b.deadline
    rules.check_slots(b)
    with pytest.raises(errors.StateConflict, match="already hold"):
        rules.claim(b, p, claim_id="clm_2", now=NOW)
    b, p, c, s = rules.submit(b, p, c, submission_id="sub_1", content="x", links=[], now=NOW)
    assert c.status == USED and s.claimed_at == NOW and s.auto_approve_at == NOW + timedelta(hours=1)
    assert (b.claimed_slots, b.pending_slots) == (0, 1)
    b, p, s, payout = rules.approve(b, p, s, now=NOW, rating=4)
    assert s.status == APPROVED and payout.amount == 1000 and payout.id == "pay_1"
    assert b.approved_slots == 1 and b.status == OPEN
    rules.check_slots(b)
    with pytest.raises(errors.StateConflict, match="already approved"):
        rules.claim(b, p, claim_id="clm_3", now=NOW)


def test_last_approval_completes_the_bounty():
    b = bounty(slots=1)
    b, p, _, s = rules.submit(b, who(), None, submission_id="sub_1", content="x", links=[], now=NOW)
    b, *_ = rules.approve(b, p, s, now=NOW)
    assert b.status == COMPLETED


def test_no_slots_and_deadline_and_claim_required():
    b = bounty(slots=1)
    b, *_ = rules.claim(b, who("a"), claim_id="clm_1", now=NOW)
    with pytest.raises(errors.StateConflict) as caught:
        rules.claim(b, who("b"), claim_id="clm_2", now=NOW)
    assert caught.value.code == "no_slots_left"
    with pytest.raises(errors.StateConflict) as caught:
        rules.submit(bounty(), who(), None, submission_id="s", content="x", links=[], now=NOW + timedelta(days=2))
    assert caught.value.code == "deadline_passed"
    with pytest.raises(errors.StateConflict) as caught:
        rules.submit(bounty(claim_seconds=600), who(), None, submission_id="s", content="x", links=[], now=NOW)
    assert caught.value.code == "claim_required"


def test_expired_claim_lapses_at_submit_time():
    b = bounty(claim_seconds=600)
    b, p, c = rules.claim(b, who(), claim_id="clm_1", now=NOW)
    assert c.expires_at == NOW + timedelta(seconds=600)
    later = NOW + timedelta(seconds=601)
    with pytest.raises(errors.StateConflict) as caught:
        rules.submit(b, p, c, submission_id="s", content="x", links=[], now=later)
    assert caught.value.code == "claim_required"


def test_release_and_lapse_reopen_the_slot():
    b = bounty()
    b, p, c = rules.claim(b, who(), claim_id="clm_1", now=NOW)
    b2, p2, c2 = rules.end_claim(b, p, c, status=RELEASED, now=NOW)
    assert c2.status == RELEASED and b2.free_slots == 2 and p2.live_claim_id is None
    with pytest.raises(errors.StateConflict):
        rules.end_claim(b2, p2, c2, status=RELEASED, now=NOW)
    with pytest.raises(errors.StateConflict):
        rules.end_claim(b, p, c, status=LAPSED, now=NOW)
    b3, _, c3 = rules.end_claim(b, p, c, status=LAPSED, now=c.expires_at)
    assert c3.status == LAPSED and b3.free_slots == 2


def test_a_live_claim_past_its_expiry_reads_as_lapsed():
    b = bounty()
    _, _, c = rules.claim(b, who(), claim_id="clm_1", now=NOW)
    assert rules.as_of(c, NOW).status == LIVE
    ended = rules.as_of(c, c.expires_at)
    assert ended.status == LAPSED and ended.ended_at == c.expires_at
    released = replace(c, status=RELEASED, ended_at=NOW)
    assert rules.as_of(released, c.expires_at) == released


def test_reject_reopens_and_overturn_needs_escrow_and_window():
    b = bounty(slots=1)
    b, p, _, s = rules.submit(b, who(), None, submission_id="sub_1", content="x", links=[], now=NOW)
    b, p, s = rules.reject(b, p, s, reason="no", now=NOW)
    assert s.status == REJECTED and b.free_slots == 1 and p.open_submission_id is None
    with pytest.raises(errors.StateConflict):
        rules.reject(b, p, s, reason="again", now=NOW)
    late = NOW + timedelta(days=31)
    with pytest.raises(errors.StateConflict) as caught:
        rules.approve(b, p, s, now=late)
    assert caught.value.code == "overturn_window_passed"
    taken, *_ = rules.claim(b, who("other"), claim_id="clm_9", now=NOW)
    with pytest.raises(errors.StateConflict) as caught:
        rules.approve(taken, p, s, now=NOW)
    assert caught.value.code == "no_escrow_left" and "held by another freelancer's claim" in str(caught.value)
    b, p, s, _ = rules.approve(b, p, s, now=NOW)
    assert s.status == APPROVED and b.status == COMPLETED
    rules.check_slots(b)


def test_a_rejection_after_the_review_window_is_refused():
    b = bounty()
    b, p, _, s = rules.submit(b, who(), None, submission_id="sub_1", content="x", links=[], now=NOW)
    assert s.auto_approve_at == NOW + timedelta(seconds=3600)
    with pytest.raises(errors.StateConflict) as caught:
        rules.reject(b, p, s, reason="too late", now=s.auto_approve_at)
    assert caught.value.code == "review_window_passed"
    _, _, rejected = rules.reject(b, p, s, reason="in time", now=s.auto_approve_at - timedelta(seconds=1))
    assert rejected.status == REJECTED
    b, p, s, _ = rules.approve(b, p, s, now=s.auto_approve_at + timedelta(minutes=5), auto=True)
    assert s.status == APPROVED and s.auto_approved


def test_an_overturn_waits_while_the_freelancer_holds_a_live_claim():
    """Rejected, they claim again to redo the work: the overturn would otherwise take a second slot, leaving the
    claim holding one it can never use."""
    b = bounty(slots=2, claim_seconds=600)
    b, p, c = rules.claim(b, who(), claim_id="clm_1", now=NOW)
    b, p, c, s = rules.submit(b, p, c, submission_id="sub_1", content="x", links=[], now=NOW)
    b, p, s = rules.reject(b, p, s, reason="no", now=NOW)
    b, p, c2 = rules.claim(b, p, claim_id="clm_2", now=NOW)
    with pytest.raises(errors.StateConflict) as caught:
        rules.approve(b, p, s, now=NOW)
    assert caught.value.code == "claim_held"
    b, p, _ = rules.end_claim(b, p, c2, status=RELEASED, now=NOW)
    b, p, s, _ = rules.approve(b, p, s, now=NOW)
    assert s.status == APPROVED and (b.free_slots, b.claimed_slots, b.approved_slots) == (1, 0, 1)
    rules.check_slots(b)


def test_an_overturn_refused_for_the_freelancers_other_work_says_so_to_the_client():
    """The client is the one approving: "You already have a submission" would speak to the wrong person."""
    b = bounty(slots=2)
    b, p, _, first = rules.submit(b, who(), None, submission_id="sub_1", content="x", links=[], now=NOW)
    b, p, first = rules.reject(b, p, first, reason="no", now=NOW)
    b, p, _, second = rules.submit(b, p, None, submission_id="sub_2", content="y", links=[], now=NOW)
    with pytest.raises(errors.StateConflict) as caught:
        rules.approve(b, p, first, now=NOW)
    assert caught.value.code == "already_submitted" and caught.value.message.startswith("The freelancer has newer")
    b, p, second, _ = rules.approve(b, p, second, now=NOW)
    with pytest.raises(errors.StateConflict) as caught:
        rules.approve(b, p, first, now=NOW)
    assert caught.value.code == "already_approved" and "The freelancer's work" in caught.value.message


def test_closing_a_closed_bounty_says_what_was_asked():
    expired = rules.close(bounty(), status=EXPIRED, now=NOW)
    with pytest.raises(errors.StateConflict) as caught:
        rules.close(expired, status=CANCELLED, now=NOW)
    assert caught.value.message == "The bounty is expired; only an open or unfunded bounty can be cancelled."


def test_auto_approval_cannot_overturn_a_rejection():
    b = bounty()
    b, p, _, s = rules.submit(b, who(), None, submission_id="sub_1", content="x", links=[], now=NOW)
    b, p, s = rules.reject(b, p, s, reason="no", now=NOW)
    with pytest.raises(errors.StateConflict):
        rules.approve(b, p, s, now=NOW, auto=True)


def test_close_owes_back_free_and_claimed_slots_but_keeps_pending_work():
    b = bounty(slots=4)
    b, p1, c1 = rules.claim(b, who("a"), claim_id="clm_a", now=NOW)
    b, p2, _, s2 = rules.submit(b, who("b"), None, submission_id="sub_b", content="x", links=[], now=NOW)
    closed = rules.close(b, status=CANCELLED, now=NOW)
    assert closed.status == CANCELLED
    assert (closed.free_slots, closed.claimed_slots, closed.pending_slots, closed.refund_owed_slots) == (0, 0, 1, 3)
    rules.check_slots(closed)
    # The live claim can no longer be used; releasing it changes no counts.
    after_release, *_ = rules.end_claim(closed, p1, c1, status=RELEASED, now=NOW)
    assert after_release.refund_owed_slots == 3
    rules.check_slots(after_release)
    # Pending work is still reviewed; a rejection is owed back too.
    rejected, *_ = rules.reject(closed, p2, s2, reason="no", now=NOW)
    assert rejected.refund_owed_slots == 4
    approved, *_ = rules.approve(closed, p2, s2, now=NOW)
    assert approved.status == CANCELLED and approved.approved_slots == 1
    with pytest.raises(errors.StateConflict):
        rules.claim(closed, who("c"), claim_id="clm_c", now=NOW)
    with pytest.raises(errors.StateConflict):
        rules.close(closed, status=EXPIRED, now=NOW)


def test_unfunded_bounty_cancels_without_money():
    created = replace(bounty(), status=AWAITING_FUNDING)
    cancelled = rules.close(created, status=CANCELLED, now=NOW)
    assert cancelled.status == CANCELLED and cancelled.refund_owed_slots == 0
    rules.check_slots(cancelled)


@pytest.mark.parametrize("unfunded_status", [AWAITING_FUNDING, FUNDING_FAILED])
def test_an_unfunded_bounty_expires_without_money(unfunded_status):
    unfunded = replace(bounty(), status=unfunded_status)
    expired = rules.close(unfunded, status=EXPIRED, now=NOW)
    assert expired.status == EXPIRED and expired.refund_owed_slots == 0 and rules.slots_left(expired) == 0
    rules.check_slots(expired)


def test_a_new_bounty_has_its_deadline_timer_filed_with_it():
    assert bounty().expiry_timer_filed is True


@pytest.mark.parametrize("closing", [CANCELLED, EXPIRED])
def test_a_payment_after_an_unfunded_bounty_closed_is_owed_back_once(closing):
    unfunded = replace(bounty(), status=AWAITING_FUNDING, payment_intent_id="pi_1", charge_id=None)
    closed = rules.close(unfunded, status=closing, now=NOW)
    assert rules.fund_after_close(closed, payment_intent_id="pi_other", charge_id="ch_9", now=NOW) is None
    owed = rules.fund_after_close(closed, payment_intent_id="pi_1", charge_id="ch_1", now=NOW)
    assert (owed.status, owed.refund_owed_slots, owed.free_slots, owed.charge_id) == (closing, 2, 0, "ch_1")
    rules.check_slots(owed)
    assert rules.fund_after_close(owed, payment_intent_id="pi_1", charge_id="ch_1", now=NOW) is None


def test_a_payment_after_a_funded_bounty_closed_is_not_owed_twice():
    funded = replace(bounty(), status=OPEN, payment_intent_id="pi_1", charge_id="ch_1")
    expired = rules.close(funded, status=EXPIRED, now=NOW)
    assert rules.fund_after_close(expired, payment_intent_id="pi_1", charge_id="ch_1", now=NOW) is None


def test_hourly_rate():
    assert earnings.hourly_rate(500, 30) == 1000
    assert earnings.hourly_rate(1000, 7) == 8571


def test_ledger_totals_balance():
    entries = [LedgerEntry("b", "1", ledger.FUNDED, 1100, "usd", NOW),
               LedgerEntry("b", "2", ledger.PAID_OUT, 500, "usd", NOW),
               LedgerEntry("b", "3", ledger.FEE, 50, "usd", NOW),
               LedgerEntry("b", "4", ledger.REFUNDED, 550, "usd", NOW)]
    totals = ledger.totals(entries)
    assert (totals.funded, totals.paid_out, totals.fees, totals.refunded, totals.held) == (1100, 500, 50, 550, 0)



def test_a_claim_past_its_expiry_is_lapsed_before_a_new_one_is_taken():
    b = bounty(claim_seconds=60)
    b, participant, first = rules.claim(b, who(), claim_id="clm_1", now=NOW)
    first = replace(first, version=1)
    assert rules.lapse_expired_claim(b, participant, NOW + timedelta(seconds=59)) == (b, participant, None)

    later = NOW + timedelta(seconds=60)
    b, participant, lapsed = rules.lapse_expired_claim(b, participant, later)
    assert (lapsed.id, lapsed.status, lapsed.version) == ("clm_1", LAPSED, 1)
    assert participant.live_claim_id is None and b.free_slots == 2 and b.claimed_slots == 0
    b, participant, second = rules.claim(b, participant, claim_id="clm_2", now=later)
    assert participant.live_claim_id == "clm_2" and b.free_slots == 1 and b.claimed_slots == 1
    rules.check_slots(b)


def test_a_participant_record_keeps_a_note_of_each_submission_as_it_changes():
    b = bounty(slots=2)
    fresh = Participant("bty_1", "acct_f", submissions=[])
    b, p, _, first = rules.submit(b, fresh, None, submission_id="sub_1", content="x", links=[], now=NOW)
    assert [(n.id, n.status, n.created_at) for n in p.submissions] == [("sub_1", PENDING_REVIEW, NOW)]
    b, p, first = rules.reject(b, p, first, reason="no", now=NOW)
    later = NOW + timedelta(minutes=5)
    b, p, _, second = rules.submit(b, p, None, submission_id="sub_2", content="y", links=[], now=later)
    b, p, second, _ = rules.approve(b, p, second, now=later)
    assert [(n.id, n.status) for n in p.submissions] == [("sub_1", REJECTED), ("sub_2", APPROVED)]
    # A record from before the notes were kept stays without them: its list is not known, so none is made up.
    _, old, _, _ = rules.submit(bounty(), who(), None, submission_id="sub_3", content="x", links=[], now=NOW)
    assert old.submissions is None


def test_a_participant_record_stops_listing_submissions_past_the_cap():
    b = bounty(slots=1)
    p = Participant("bty_1", "acct_f", submissions=[])
    for n in range(rules.MAX_NOTED_SUBMISSIONS):
        b, p, _, s = rules.submit(b, p, None, submission_id=f"sub_{n}", content="x", links=[], now=NOW)
        b, p, s = rules.reject(b, p, s, reason="no", now=NOW)
    assert len(p.submissions) == rules.MAX_NOTED_SUBMISSIONS
    b, p, _, s = rules.submit(b, p, None, submission_id="sub_over", content="x", links=[], now=NOW)
    assert p.submissions is None  # from here the bounty's page asks the index, which holds them all


@pytest.mark.parametrize("status", [EXPIRED, CANCELLED])
def test_a_live_claim_on_a_closed_bounty_ends_now_and_leaves_the_bounty_as_closing_counted_it(status):
    b, p, c = rules.claim(bounty(), who(), claim_id="clm_1", now=NOW)
    with pytest.raises(errors.StateConflict):
        rules.end_with_bounty(b, p, c, now=NOW)  # an open bounty's claims end on their own terms
    closed = rules.close(b, status=status, now=NOW)
    later = NOW + timedelta(minutes=1)
    p2, ended = rules.end_with_bounty(closed, p, c, now=later)
    assert (ended.status, ended.ended_at, ended.expires_at) == (LAPSED, later, c.expires_at)
    assert p2.live_claim_id is None and p2.live_claim() is None
    assert closed.refund_owed_slots == 2 and closed.claimed_slots == 0
    with pytest.raises(errors.StateConflict):
        rules.end_with_bounty(closed, p2, ended, now=later)
    _, long_past = rules.end_with_bounty(closed, p, c, now=c.expires_at + timedelta(days=1))
    assert long_past.ended_at == c.expires_at == rules.as_of(c, long_past.ended_at).ended_at


def test_only_a_bounty_closed_before_it_was_paid_has_an_intent_to_cancel():
    funded = bounty()
    unfunded = replace(rules.new_bounty(
        bounty_id="bty_2", client_id="acct_c", title="t", description="d", reward=1000, currency="usd", slots=2,
        deadline=NOW + timedelta(days=1), review_window_seconds=3600, claim_seconds=None, estimated_minutes=None,
        tags=[], now=NOW, fee_bps=1000, currencies=frozenset({"usd"})), payment_intent_id="pi_2",
        client_secret="pi_2_secret")
    assert rules.unpaid_intent(funded) is None and rules.unpaid_intent(unfunded) is None  # not closed
    for status in (CANCELLED, EXPIRED):
        assert rules.unpaid_intent(rules.close(funded, status=status, now=NOW)) is None  # its escrow is refunded
        closed = rules.close(unfunded, status=status, now=NOW)
        assert rules.unpaid_intent(closed) == "pi_2"
        paid_late = rules.fund_after_close(closed, payment_intent_id="pi_2", charge_id="ch_2", now=NOW)
        assert rules.unpaid_intent(paid_late) is None  # paid after all: owed back in full instead
        assert rules.intent_cancelled(paid_late, now=NOW) is None
        cancelled_on_stripe = rules.intent_cancelled(closed, now=NOW)
        assert cancelled_on_stripe.client_secret is None and cancelled_on_stripe.payment_intent_id == "pi_2"
        assert rules.unpaid_intent(cancelled_on_stripe) is None  # recorded: nothing left to cancel
        assert rules.intent_cancelled(cancelled_on_stripe, now=NOW) is None
    assert rules.unpaid_intent(rules.close(replace(unfunded, payment_intent_id=None), status=CANCELLED,
                                           now=NOW)) is None  # Stripe was never reached


def test_approved_claimed_work_adds_its_time_to_what_the_bounty_really_pays():
    b = bounty(slots=3, reward=1000)
    b, p1, c1 = rules.claim(b, who("acct_a"), claim_id="clm_a", now=NOW)
    b, p1, _, s1 = rules.submit(b, p1, c1, submission_id="sub_a", content="x", links=[],
                                now=NOW + timedelta(minutes=20))
    b, p2, c2 = rules.claim(b, who("acct_b"), claim_id="clm_b", now=NOW)
    b, p2, _, s2 = rules.submit(b, p2, c2, submission_id="sub_b", content="x", links=[],
                                now=NOW + timedelta(minutes=40, microseconds=7))
    b, p3, _, s3 = rules.submit(b, who("acct_c"), None, submission_id="sub_c", content="x", links=[], now=NOW)
    assert earnings.bounty_rate(b.reward, b.timed_submissions, b.timed_micros) is None  # nothing approved yet
    b, *_ = rules.approve(b, p3, s3, now=NOW)  # handed in without a claim: no time to measure
    assert (b.timed_submissions, b.timed_micros) == (0, 0)
    b, p1, s1 = rules.reject(b, p1, s1, reason="no", now=NOW)  # a rejection counts nothing
    assert (b.timed_submissions, b.timed_micros) == (0, 0)
    b, *_ = rules.approve(b, p2, s2, now=NOW)
    assert (b.timed_submissions, b.timed_micros) == (1, 40 * 60 * 1_000_000 + 7)
    b, *_ = rules.approve(b, p1, s1, now=NOW + timedelta(hours=2))  # an overturn counts the work's own time
    assert (b.timed_submissions, b.timed_micros) == (2, 60 * 60 * 1_000_000 + 7)
    rate = earnings.bounty_rate(b.reward, b.timed_submissions, b.timed_micros)
    assert rate.submissions == 2 and rate.per_hour == 1999  # 2000 for an hour and 7 µs, rounded down
    assert rate.mean_seconds == Fraction(60 * 60 * 1_000_000 + 7, 2 * 1_000_000)


def test_auto_approval_counts_the_time_too():
    b = bounty()
    b, p, c = rules.claim(b, who(), claim_id="clm_1", now=NOW)
    b, p, _, s = rules.submit(b, p, c, submission_id="sub_1", content="x", links=[], now=NOW + timedelta(minutes=30))
    b, *_ = rules.approve(b, p, s, now=s.auto_approve_at, auto=True)
    assert earnings.bounty_rate(b.reward, b.timed_submissions, b.timed_micros).per_hour == 2000


def test_requirements_ask_a_mean_rating_and_approved_tasks_compared_exactly():
    from chalicelib.core.model import Account

    def freelancer(rating_sum=0, rating_count=0, completed=0):
        return Account("acct_f", "freelancer", "F", "f@example.com", NOW, rating_sum=rating_sum,
                       rating_count=rating_count, completed=completed)

    anyone = bounty()
    rules.check_qualified(anyone, None)  # no requirements: anyone, even without an account read
    picky = bounty(min_rating=4.5, min_completed=2)
    rules.check_qualified(picky, freelancer(rating_sum=9, rating_count=2, completed=2))  # 4.5 exactly
    with pytest.raises(errors.Forbidden) as short:
        rules.check_qualified(picky, freelancer(rating_sum=13, rating_count=3, completed=1))  # 4.33, 1 task
    assert short.value.code == "not_qualified"
    assert str(short.value) == ("This bounty is open to freelancers with a mean rating of at least 4.5 (yours: 4.33 "
                                "from 3) and at least 2 approved tasks (yours: 1).")
    with pytest.raises(errors.Forbidden, match=r"rating of at least 4.5 \(yours: none yet\)"):
        rules.check_qualified(picky, freelancer(completed=5))  # not rated yet
    with pytest.raises(errors.Invalid):
        bounty(min_rating=5.5)
    with pytest.raises(errors.Invalid):
        bounty(min_completed=0)


def test_work_handed_in_under_a_live_claim_was_qualified_when_claimed():
    from chalicelib.core.model import Account

    picky = bounty(min_rating=4.5)
    fallen = Account("acct_f", "freelancer", "F", "f@example.com", NOW, rating_sum=6, rating_count=2, completed=2)
    b, p, live = rules.claim(picky, who(), claim_id="clm_1", now=NOW)
    rules.check_qualified_to_hand_in(b, fallen, live, NOW + timedelta(minutes=5))  # the claim holds
    with pytest.raises(errors.Forbidden):  # no claim, or one past its expiry: checked now
        rules.check_qualified_to_hand_in(b, fallen, None, NOW)
    with pytest.raises(errors.Forbidden):
        rules.check_qualified_to_hand_in(b, fallen, live, live.expires_at)


def test_a_refusal_never_shows_a_rating_rounded_up_to_the_one_asked():
    """A minimum such as 4.999999 is said as posted, and the freelancer's mean is rounded down, so the message never
    reads "at least 5 (yours: 5.00)" to someone refused."""
    from chalicelib.core.model import Account
    from chalicelib.web import fmt

    near = Account("acct_f", "freelancer", "F", "f@example.com", NOW, rating_sum=49_999, rating_count=10_001)
    with pytest.raises(errors.Forbidden) as short:
        rules.check_qualified(bounty(min_rating=4.999999), near)
    assert "at least 4.999999 (yours: 4.99 from 10001)" in str(short.value)
    with pytest.raises(errors.Forbidden, match=r"at least 4.5 \(yours: 4.49 from 1000\)"):
        rules.check_qualified(bounty(min_rating=4.5), replace(near, rating_sum=4499, rating_count=1000))
    assert fmt.requirements(bounty(min_rating=4.999999)) == "a rating of at least 4.999999/5"
    assert fmt.requirements(bounty(min_rating=5.0, min_completed=1)) == ("a rating of at least 5/5 and at least 1 "
                                                                         "approved task")
