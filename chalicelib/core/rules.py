"""The bounty lifecycle as pure functions: who may do what, in which state, and the slot and fee arithmetic.

Every function takes records as read and returns changed copies; nothing here does I/O, so the
storage adapter can write the result with one conditional transaction (or lose a race and retry).
"""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import datetime, timedelta
from fractions import Fraction

from . import earnings, errors
from .model import (
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
    QUEUED,
    REJECTED,
    RELEASED,
    USED,
    Account,
    Bounty,
    Claim,
    Participant,
    Payout,
    Submission,
    SubmissionNote,
)

MIN_DEADLINE = timedelta(seconds=60)
# A deadline "one minute ahead" arrives a little less ahead: written to the whole second, as clients write times, it
# is 59.x s ahead when sent, and the request then takes its time in flight. Up to a second short is taken.
DEADLINE_LEEWAY = timedelta(seconds=1)
MAX_DEADLINE = timedelta(days=365)
MIN_WINDOW_SECONDS = 60
MAX_WINDOW_SECONDS = 30 * 24 * 3600
OVERTURN_WINDOW = timedelta(days=30)
MAX_SLOTS = 1000
MIN_RATING, MAX_RATING = 1, 5
MAX_COMPLETED_REQUIRED = 100_000
MIN_REWARD = 50  # Stripe's smallest card charge in usd, in minor units
MAX_REWARD = 10_000_000
MAX_TOTAL = 99_999_999  # Stripe's largest single charge


# ---- money -------------------------------------------------------------------------------------------

def platform_fee(reward: int, slots: int, fee_bps: int) -> int:
    """Fee charged on top of the escrowed rewards, rounded half up to the minor unit."""
    return (reward * slots * fee_bps + 5_000) // 10_000


def fee_share(fee: int, slots: int, settled_before: int, count: int) -> int:
    """The fee belonging to `count` more slots after `settled_before` were settled. Computed from
    cumulative totals so the shares of all slots add up to the fee exactly, whatever the order."""
    return fee * (settled_before + count) // slots - fee * settled_before // slots


# ---- bounties ----------------------------------------------------------------------------------------

def check_duration(name: str, seconds: int | None) -> None:
    if seconds is not None and not MIN_WINDOW_SECONDS <= seconds <= MAX_WINDOW_SECONDS:
        raise errors.Invalid(f"{name} must be between {MIN_WINDOW_SECONDS} seconds and 30 days.")


def new_bounty(
    *,
    bounty_id: str,
    client_id: str,
    title: str,
    description: str,
    reward: int,
    currency: str,
    slots: int,
    deadline: datetime,
    review_window_seconds: int,
    claim_seconds: int | None,
    estimated_minutes: int | None,
    tags: list[str],
    now: datetime,
    fee_bps: int,
    currencies: frozenset[str],
    min_rating: float | None = None,
    min_completed: int | None = None,
) -> Bounty:
    if currency not in currencies:
        raise errors.Invalid(f"Currency {currency!r} is not supported; use one of {sorted(currencies)}.")
    if not MIN_REWARD <= reward <= MAX_REWARD:
        raise errors.Invalid(f"reward.amount must be between {MIN_REWARD} and {MAX_REWARD} minor units.")
    if not 1 <= slots <= MAX_SLOTS:
        raise errors.Invalid(f"slots must be between 1 and {MAX_SLOTS}.")
    if not MIN_DEADLINE - DEADLINE_LEEWAY < deadline - now <= MAX_DEADLINE:
        raise errors.Invalid("deadline must be at least 60 seconds and at most 365 days ahead.")
    check_duration("review_window_seconds", review_window_seconds)
    check_duration("claim_seconds", claim_seconds)
    if min_rating is not None and not MIN_RATING <= min_rating <= MAX_RATING:
        raise errors.Invalid(f"requirements.min_rating must be between {MIN_RATING} and {MAX_RATING}.")
    if min_completed is not None and not 1 <= min_completed <= MAX_COMPLETED_REQUIRED:
        raise errors.Invalid(f"requirements.min_completed must be between 1 and {MAX_COMPLETED_REQUIRED}.")
    fee = platform_fee(reward, slots, fee_bps)
    total = reward * slots + fee
    if total > MAX_TOTAL:
        raise errors.Invalid(f"reward × slots + fee is {total}; one payment can be at most {MAX_TOTAL}.")
    return Bounty(
        id=bounty_id, client_id=client_id, title=title, description=description, reward=reward,
        currency=currency, slots=slots, deadline=deadline, review_window_seconds=review_window_seconds,
        claim_seconds=claim_seconds, estimated_minutes=estimated_minutes, tags=sorted(set(tags)),
        status=AWAITING_FUNDING, created_at=now, updated_at=now, fee=fee, amount_total=total,
        free_slots=slots, expiry_timer_filed=True, min_rating=min_rating, min_completed=min_completed,
    )


def rating_text(rating: float) -> str:
    """A minimum rating as it was posted, every digit kept ("4.999999", never "5"), without a needless ".0"."""
    return f"{rating:.15g}"


def check_qualified(bounty: Bounty, freelancer: Account | None) -> None:
    """Whether a freelancer meets the bounty's requirements to claim it or hand work in (403 otherwise). A mean
    rating is compared exactly (4.5 is met by 9 stars over 2 ratings); a freelancer without a rating yet meets no
    rating requirement."""
    ratings = freelancer.rating_count if freelancer else 0
    completed = freelancer.completed if freelancer else 0
    short = []
    if bounty.min_rating is not None and (
            ratings == 0 or Fraction(freelancer.rating_sum, ratings) < Fraction(str(bounty.min_rating))):
        # Rounded down: a mean just short of the minimum is never shown as reaching it.
        mean = math.floor(Fraction(freelancer.rating_sum, ratings) * 100) / 100 if ratings else None
        yours = f"{mean:.2f} from {ratings}" if ratings else "none yet"
        short.append(f"a mean rating of at least {rating_text(bounty.min_rating)} (yours: {yours})")
    if bounty.min_completed is not None and completed < bounty.min_completed:
        short.append(f"at least {bounty.min_completed} approved tasks (yours: {completed})")
    if short:
        raise errors.Forbidden(f"This bounty is open to freelancers with {' and '.join(short)}.", code="not_qualified")


def check_qualified_to_hand_in(bounty: Bounty, freelancer: Account | None, live_claim: Claim | None,
                               now: datetime) -> None:
    """check_qualified for work handed in: a freelancer who holds a live claim met the requirements when they
    claimed, and the work that claim reserved a slot for is taken even if their rating fell meanwhile (a rating
    given on another bounty); without one, the requirements are checked now."""
    if live_claim is not None and is_live(live_claim, now):
        return
    check_qualified(bounty, freelancer)


def attach_funding(bounty: Bounty, *, payment_intent_id: str, client_secret: str, now: datetime) -> Bounty:
    return replace(bounty, payment_intent_id=payment_intent_id, client_secret=client_secret, updated_at=now)


def is_escrow_payment(bounty: Bounty, *, payment_intent_id: str, amount: int | None, currency: str) -> bool:
    """Whether a payment Stripe reports for this bounty is its escrow: its own intent, or, while it has none on
    record (our write of it failed after Stripe charged), one for exactly the escrow, in its currency. The
    metadata naming the bounty alone proves nothing: anyone with the platform's key could write it."""
    if bounty.payment_intent_id is not None:
        return bounty.payment_intent_id == payment_intent_id
    return amount == bounty.amount_total and currency.lower() == bounty.currency


def mark_funded(bounty: Bounty, *, payment_intent_id: str, charge_id: str | None, now: datetime) -> Bounty | None:
    """Stripe says the escrow was paid. None when there is nothing to change (a replayed event)."""
    if bounty.status not in (AWAITING_FUNDING, FUNDING_FAILED):
        return None
    if bounty.payment_intent_id and bounty.payment_intent_id != payment_intent_id:
        return None  # some other intent: not this bounty's escrow
    return replace(bounty, status=OPEN, payment_intent_id=payment_intent_id, charge_id=charge_id,
                   funding_error=None, updated_at=now)


def fund_after_close(bounty: Bounty, *, payment_intent_id: str, charge_id: str | None,
                     now: datetime) -> Bounty | None:
    """A payment that succeeds after its bounty was cancelled or expired unfunded (the client paid from a page
    still open, say): the escrow is recorded and every slot is owed back. None for a replay or another intent."""
    if bounty.status not in (CANCELLED, EXPIRED) or bounty.charge_id is not None or bounty.free_slots != bounty.slots:
        return None
    if bounty.payment_intent_id and bounty.payment_intent_id != payment_intent_id:
        return None
    return replace(bounty, payment_intent_id=payment_intent_id, charge_id=charge_id, free_slots=0,
                   refund_owed_slots=bounty.slots, updated_at=now)


def unpaid_intent(bounty: Bounty) -> str | None:
    """The PaymentIntent of a bounty cancelled or expired before it was paid, to be cancelled on Stripe (until that is
    recorded, by clearing its client_secret):
    its client_secret could still charge the client, and the money would only go back at Stripe's fee (a payment
    that lands anyway is refunded, fund_after_close). None for any other bounty."""
    closed_unpaid = bounty.status in (CANCELLED, EXPIRED) and bounty.free_slots == bounty.slots
    if closed_unpaid and bounty.charge_id is None and bounty.client_secret is not None:
        return bounty.payment_intent_id
    return None


def refunds_worker_needed(bounty: Bounty) -> bool:
    """Whether a closed bounty has work for the refunds worker: escrow owed back, or an unpaid intent to cancel."""
    return bool(bounty.refund_owed_slots or unpaid_intent(bounty))


def intent_cancelled(bounty: Bounty, *, now: datetime) -> Bounty | None:
    """The bounty once Stripe has cancelled its unpaid intent: its client_secret can pay nothing any more, so it is
    no longer handed out. None when there is nothing to change (paid meanwhile, or recorded already)."""
    if unpaid_intent(bounty) is None:
        return None
    return replace(bounty, client_secret=None, updated_at=now)


def spend_funding_key(bounty: Bounty, *, keys_spent: int, now: datetime) -> Bounty | None:
    """Stripe answered a funding request with a server error, which it gives again to every retry under that
    idempotency key for a day: the next attempt takes a new key. None when another attempt moved it on already,
    or the bounty no longer takes funding (the webhook funded it meanwhile, say)."""
    if bounty.status not in (AWAITING_FUNDING, FUNDING_FAILED) or bounty.funding_keys_spent != keys_spent:
        return None
    return replace(bounty, funding_keys_spent=keys_spent + 1, updated_at=now)


def mark_funding_failed(bounty: Bounty, *, reason: str, now: datetime) -> Bounty | None:
    if bounty.status != AWAITING_FUNDING:
        return None
    return replace(bounty, status=FUNDING_FAILED, funding_error=reason, updated_at=now)


def close(bounty: Bounty, *, status: str, now: datetime) -> Bounty:
    """Cancel or expire: no new claims or submissions; every slot not held by pending or approved
    work (free ones, and those of live claims, which can no longer be used) is owed back."""
    if bounty.status in (AWAITING_FUNDING, FUNDING_FAILED):
        # Nothing was paid, so nothing is owed; should a payment still arrive, fund_after_close owes it back.
        return replace(bounty, status=status, updated_at=now)
    if bounty.status != OPEN:
        doing = "cancelled" if status == CANCELLED else "closed"  # a cancel past the deadline closes as expired
        raise errors.StateConflict(f"The bounty is {bounty.status}; only an open or unfunded bounty can be "
                                   f"{doing}.", code="bounty_not_open")
    return replace(
        bounty, status=status, free_slots=0, claimed_slots=0,
        refund_owed_slots=bounty.refund_owed_slots + bounty.free_slots + bounty.claimed_slots, updated_at=now,
    )


def cancel(bounty: Bounty, *, now: datetime) -> Bounty:
    """The owner's cancel. Past the deadline the bounty has expired, whether or not its timer has run yet (it
    fires up to a minute late): it closes as expired, so the answer does not hang on the timer's lag."""
    return close(bounty, status=EXPIRED if now >= bounty.deadline else CANCELLED, now=now)


def slots_left(bounty: Bounty) -> int:
    return bounty.free_slots if bounty.status == OPEN else 0


def _require_accepting_work(bounty: Bounty, now: datetime) -> None:
    if bounty.status != OPEN:
        raise errors.StateConflict(f"The bounty is {bounty.status} and takes no new claims or submissions.",
                                   code="bounty_not_open")
    if now >= bounty.deadline:
        raise errors.StateConflict("The bounty's deadline has passed.", code="deadline_passed")


def check_slots(bounty: Bounty) -> None:
    """The slot invariant; a violation is a bug, never a user error."""
    parts = (bounty.free_slots, bounty.claimed_slots, bounty.pending_slots, bounty.approved_slots,
             bounty.refund_owed_slots, bounty.refunding_slots, bounty.refunded_slots)
    if min(parts) < 0 or sum(parts) != bounty.slots:
        raise AssertionError(f"slot accounting broken for {bounty.id}: {parts} vs {bounty.slots}")


def _slot_back(bounty: Bounty, *, from_field: str, now: datetime) -> Bounty:
    """A claim or submission gives its slot up: it opens again while the bounty is open, and
    becomes owed back to the client once the bounty is closed."""
    if bounty.status == OPEN:
        target = "free_slots"
    elif from_field == "claimed_slots":
        return bounty  # closing the bounty already counted live claims' slots as owed back
    else:
        target = "refund_owed_slots"
    return replace(bounty, **{from_field: getattr(bounty, from_field) - 1,
                              target: getattr(bounty, target) + 1, "updated_at": now})


# ---- claims ------------------------------------------------------------------------------------------

def claim(bounty: Bounty, participant: Participant, *, claim_id: str, now: datetime
          ) -> tuple[Bounty, Participant, Claim]:
    _require_accepting_work(bounty, now)
    if participant.live_claim_id:
        raise errors.StateConflict("You already hold a claim on this bounty.", code="already_claimed")
    _require_no_open_work(participant)
    if bounty.free_slots < 1:
        raise errors.StateConflict("Every slot of this bounty is taken.", code="no_slots_left")
    if bounty.claim_seconds:
        expires_at = min(now + timedelta(seconds=bounty.claim_seconds), bounty.deadline)
    else:
        expires_at = bounty.deadline
    new_claim = Claim(id=claim_id, bounty_id=bounty.id, freelancer_id=participant.freelancer_id,
                      status=LIVE, created_at=now, expires_at=expires_at)
    bounty = replace(bounty, free_slots=bounty.free_slots - 1, claimed_slots=bounty.claimed_slots + 1,
                     updated_at=now)
    return bounty, replace(participant, live_claim_id=claim_id, live_claim_created_at=now,
                           live_claim_expires_at=expires_at), new_claim


def lapse_expired_claim(bounty: Bounty, participant: Participant, now: datetime
                        ) -> tuple[Bounty, Participant, Claim | None]:
    """The freelancer's claim on this bounty, if it is past its expiry but its timer (which runs within a minute)
    has not ended it yet, ends now: so they can claim again at once instead of being told they hold one."""
    held = participant.live_claim()
    if held is None or is_live(held, now):
        return bounty, participant, None
    return end_claim(bounty, participant, held, status=LAPSED, now=now)


def is_live(claim_: Claim, now: datetime) -> bool:
    return claim_.status == LIVE and now < claim_.expires_at


def as_of(claim_: Claim, now: datetime) -> Claim:
    """The claim as it stands at `now`: one past its expiry has lapsed, though only its timer (within a minute) or,
    for a claim that ends with the bounty, the bounty's expiry records that."""
    if claim_.status == LIVE and not is_live(claim_, now):
        return replace(claim_, status=LAPSED, ended_at=claim_.expires_at)
    return claim_


def end_claim(bounty: Bounty, participant: Participant, claim_: Claim, *, status: str, now: datetime
              ) -> tuple[Bounty, Participant, Claim]:
    """Release (by its freelancer) or lapse (past expires_at): the slot opens again."""
    if claim_.status != LIVE:
        raise errors.StateConflict(f"The claim is already {claim_.status}.", code="claim_not_live")
    if status == LAPSED and now < claim_.expires_at:
        raise errors.StateConflict("The claim has not expired yet.", code="claim_not_expired")
    if status not in (RELEASED, LAPSED):
        raise ValueError(status)
    bounty = _slot_back(bounty, from_field="claimed_slots", now=now)
    if participant.live_claim_id == claim_.id:
        participant = replace(participant, live_claim_id=None, live_claim_created_at=None,
                              live_claim_expires_at=None)
    return bounty, participant, replace(claim_, status=status, ended_at=now)


def end_with_bounty(bounty: Bounty, participant: Participant, claim_: Claim, *, now: datetime
                    ) -> tuple[Participant, Claim]:
    """A live claim on a bounty that closed before the claim's expiry can no longer be used (no submissions are
    taken), so it lapses now rather than being listed live until then. The bounty does not change: closing it
    already counted the claim's slot as owed back."""
    if bounty.status == OPEN:
        raise errors.StateConflict("The bounty is open; its claims end on their own terms.", code="bounty_open")
    if claim_.status != LIVE:
        raise errors.StateConflict(f"The claim is already {claim_.status}.", code="claim_not_live")
    if participant.live_claim_id == claim_.id:
        participant = replace(participant, live_claim_id=None, live_claim_created_at=None,
                              live_claim_expires_at=None)
    # One already past its expiry ended then, as it reads (as_of), whenever this runs.
    return participant, replace(claim_, status=LAPSED, ended_at=min(now, claim_.expires_at))


# ---- submissions -------------------------------------------------------------------------------------

MAX_NOTED_SUBMISSIONS = 100  # past this, a participant record stops listing them and the page asks the index


def _noting(participant: Participant, submission: Submission) -> Participant:
    """The participant with the submission's note added or brought up to date (when its list is kept)."""
    if participant.submissions is None:
        return participant
    note = SubmissionNote(submission.id, submission.status, submission.created_at)
    notes = [note if n.id == note.id else n for n in participant.submissions]
    if note not in notes:
        notes.append(note)
    return replace(participant, submissions=notes if len(notes) <= MAX_NOTED_SUBMISSIONS else None)


def _require_no_open_work(participant: Participant) -> None:
    if participant.open_submission_id:
        raise errors.StateConflict("You already have a submission awaiting review on this bounty.",
                                   code="already_submitted")
    if participant.approved_submission_id:
        raise errors.StateConflict("Your work on this bounty was already approved.", code="already_approved")


def submit(bounty: Bounty, participant: Participant, live_claim: Claim | None, *, submission_id: str,
           content: str, links: list[str], now: datetime
           ) -> tuple[Bounty, Participant, Claim | None, Submission]:
    """Hand work in. It uses the freelancer's live claim when there is one; without one it takes a
    free slot directly, unless the bounty requires claiming first (`claim_seconds` set)."""
    _require_accepting_work(bounty, now)
    _require_no_open_work(participant)
    claimed_at = now
    if live_claim is not None and live_claim.status == LIVE and not is_live(live_claim, now):
        # Past expiry but not yet swept by the timer: it lapses now and its slot opens again.
        bounty, participant, live_claim = end_claim(bounty, participant, live_claim, status=LAPSED, now=now)
    if live_claim is not None and live_claim.status == LIVE:
        claimed_at = live_claim.created_at
        live_claim = replace(live_claim, status=USED, ended_at=now)
        bounty = replace(bounty, claimed_slots=bounty.claimed_slots - 1, pending_slots=bounty.pending_slots + 1)
    elif bounty.claim_seconds:
        raise errors.StateConflict("This bounty must be claimed before you submit, and you hold no live claim.",
                                   code="claim_required")
    elif bounty.free_slots < 1:
        raise errors.StateConflict("Every slot of this bounty is taken.", code="no_slots_left")
    else:
        bounty = replace(bounty, free_slots=bounty.free_slots - 1, pending_slots=bounty.pending_slots + 1)
    submission = Submission(
        id=submission_id, bounty_id=bounty.id, freelancer_id=participant.freelancer_id, content=content,
        links=list(links), status=PENDING_REVIEW, created_at=now,
        auto_approve_at=now + timedelta(seconds=bounty.review_window_seconds),
        claim_id=live_claim.id if live_claim else None, claimed_at=claimed_at, client_id=bounty.client_id,
    )
    participant = replace(participant, live_claim_id=None, live_claim_created_at=None, live_claim_expires_at=None,
                          open_submission_id=submission_id)
    return replace(bounty, updated_at=now), _noting(participant, submission), live_claim, submission


def payout_id_for(submission_id: str) -> str:
    """One payout per submission, whoever creates it first."""
    return "pay_" + submission_id.removeprefix("sub_")


def approve(bounty: Bounty, participant: Participant, submission: Submission, *, now: datetime,
            rating: int | None = None, feedback: str | None = None, auto: bool = False
            ) -> tuple[Bounty, Participant, Submission, Payout]:
    if rating is not None and not 1 <= rating <= 5:
        raise errors.Invalid("rating must be between 1 and 5.")
    if submission.status == PENDING_REVIEW:
        bounty = replace(bounty, pending_slots=bounty.pending_slots - 1)
    elif submission.status == REJECTED and not auto:
        bounty = _escrow_for_overturn(bounty, participant, submission, now)
    else:
        raise errors.StateConflict(f"The submission is already {submission.status}.", code="submission_not_pending")
    bounty = replace(bounty, approved_slots=bounty.approved_slots + 1, updated_at=now)
    micros = earnings.work_micros(submission.claimed_at, submission.created_at)
    if micros is not None:
        bounty = replace(bounty, timed_submissions=bounty.timed_submissions + 1,
                         timed_micros=bounty.timed_micros + micros)
    if bounty.status == OPEN and bounty.approved_slots == bounty.slots:
        bounty = replace(bounty, status=COMPLETED)
    payout = Payout(id=payout_id_for(submission.id), submission_id=submission.id, bounty_id=bounty.id,
                    freelancer_id=submission.freelancer_id, amount=bounty.reward, currency=bounty.currency,
                    status=QUEUED, created_at=now, updated_at=now)
    submission = replace(submission, status=APPROVED, decided_at=now, auto_approved=auto, rating=rating,
                         feedback=feedback, payout_id=payout.id)
    participant = replace(participant, open_submission_id=None, approved_submission_id=submission.id)
    return bounty, _noting(participant, submission), submission, payout


def _escrow_for_overturn(bounty: Bounty, participant: Participant, submission: Submission, now: datetime) -> Bounty:
    """Approving a rejected submission needs a slot's escrow still in hand: a free slot of an open
    bounty, or one owed back but not yet refunded."""
    if submission.decided_at is None or now - submission.decided_at > OVERTURN_WINDOW:
        raise errors.StateConflict("A rejection can be overturned only within 30 days.", code="overturn_window_passed")
    # Said to the client, who is approving: the freelancer's other work on the bounty stands in the way.
    if participant.open_submission_id:
        raise errors.StateConflict("The freelancer has newer work on this bounty awaiting your review: review that "
                                   "submission instead.", code="already_submitted")
    if participant.approved_submission_id:
        raise errors.StateConflict("The freelancer's work on this bounty was already approved and paid: a "
                                   "freelancer is paid for one slot of a bounty.", code="already_approved")
    if participant.live_claim_id:
        # That claim holds a slot of its own (the freelancer may be redoing the work): taking a second one would
        # leave the claim holding a slot it can never use, hidden from everyone else until it lapses.
        raise errors.StateConflict("The freelancer holds a live claim on this bounty: approve this work once that "
                                   "claim is used, released or lapsed.", code="claim_held")
    if bounty.status == OPEN and bounty.free_slots > 0:
        return replace(bounty, free_slots=bounty.free_slots - 1)
    if bounty.status != OPEN and bounty.refund_owed_slots > 0:
        return replace(bounty, refund_owed_slots=bounty.refund_owed_slots - 1)
    if bounty.status == OPEN:  # the escrow is there, but every slot is taken by other freelancers' claims or work
        raise errors.StateConflict("Every slot of this bounty is held by another freelancer's claim or work, so this "
                                   "submission cannot be approved now; it can once a slot opens again (a claim "
                                   "released or lapsed, or work rejected).", code="no_escrow_left")
    raise errors.StateConflict("No escrow is left on this bounty to pay for this submission.", code="no_escrow_left")


def reject(bounty: Bounty, participant: Participant, submission: Submission, *, reason: str, now: datetime
           ) -> tuple[Bounty, Participant, Submission]:
    if submission.status != PENDING_REVIEW:
        raise errors.StateConflict(f"The submission is already {submission.status}.", code="submission_not_pending")
    if now >= submission.auto_approve_at:
        # Past the window the work is approved, whether or not the timer has fired yet: a silent client cannot
        # withhold pay by rejecting late.
        raise errors.StateConflict("The review window has closed: this work is approved automatically and paid.",
                                   code="review_window_passed")
    bounty = _slot_back(bounty, from_field="pending_slots", now=now)
    if participant.open_submission_id == submission.id:
        participant = replace(participant, open_submission_id=None)
    submission = replace(submission, status=REJECTED, decided_at=now, rejection_reason=reason)
    return bounty, _noting(participant, submission), submission
