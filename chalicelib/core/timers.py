"""Timers as data: when each lifecycle deadline falls due, and under which shard it is filed."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

from .model import (
    AUTO_APPROVE,
    END_CLAIMS,
    EXPIRE_BOUNTY,
    LAPSE_CLAIM,
    RECHECK_HELD_PAYOUT,
    RESEND_CLOSE,
    RESEND_PAYOUT,
    RESEND_REFUND,
    RESEND_RELEASED_PAYOUT,
    Bounty,
    Claim,
    Submission,
    Timer,
)
from .rules import refunds_worker_needed


def due_prefix(moment: datetime) -> str:
    """Fixed-width UTC text, so string order is time order."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def shard_of(ref_id: str, shards: int) -> str:
    digest = hashlib.blake2s(ref_id.encode(), digest_size=2).digest()
    return f"timers#{int.from_bytes(digest, 'big') % shards}"


def timer(kind: str, ref_id: str, due_at: datetime, shards: int) -> Timer:
    return Timer(shard=shard_of(ref_id, shards), due_key=f"{due_prefix(due_at)}#{kind}#{ref_id}", kind=kind,
                 ref_id=ref_id, due_at=due_at)


def for_bounty(bounty: Bounty, shards: int) -> Timer:
    return timer(EXPIRE_BOUNTY, bounty.id, bounty.deadline, shards)


def for_claim(claim: Claim, bounty: Bounty, shards: int) -> Timer | None:
    """Only claims that end before the deadline need their own timer; the others end with the bounty."""
    if claim.expires_at >= bounty.deadline:
        return None
    return timer(LAPSE_CLAIM, claim.id, claim.expires_at, shards)


# Long enough for the message itself to have been handled; a resend is harmless anyway (handlers are idempotent).
RESEND_AFTER_SECONDS = 600


def resend_payout(payout_id: str, now: datetime, shards: int) -> Timer:
    return timer(RESEND_PAYOUT, payout_id, now + timedelta(seconds=RESEND_AFTER_SECONDS), shards)


def recheck_held_payout(payout_id: str, now: datetime, shards: int) -> Timer:
    """A kind of its own, so it never shares a key with the approval's resend timer of the same payout."""
    return timer(RECHECK_HELD_PAYOUT, payout_id, now + timedelta(seconds=RESEND_AFTER_SECONDS), shards)


def resend_released_payout(payout_id: str, now: datetime, shards: int) -> Timer:
    """Of a kind of its own too: a release can fall in the same instant as the approval or the hold it follows."""
    return timer(RESEND_RELEASED_PAYOUT, payout_id, now + timedelta(seconds=RESEND_AFTER_SECONDS), shards)


def resend_refund(bounty_id: str, now: datetime, shards: int) -> Timer:
    return timer(RESEND_REFUND, bounty_id, now + timedelta(seconds=RESEND_AFTER_SECONDS), shards)


def resend_close(bounty_id: str, now: datetime, shards: int) -> Timer:
    """The refunds worker's message sent by a close, sent again: the refund owed, or the unpaid intent to cancel."""
    return timer(RESEND_CLOSE, bounty_id, now + timedelta(seconds=RESEND_AFTER_SECONDS), shards)


def end_claims(bounty_id: str, now: datetime, shards: int) -> Timer:
    """Due at once: the sweep hands it on within a minute, and the claims can be many (one message ends a batch)."""
    return timer(END_CLAIMS, bounty_id, now, shards)


def for_close(before: Bounty, closed: Bounty, now: datetime, shards: int) -> list[Timer]:
    """What closing a bounty (cancel, expiry) files with it: the safety net of the refunds worker's message (escrow
    owed back, or an unpaid intent to cancel: a message lost after the commit is never sent again by a repeat of the
    close, which finds the bounty closed), and the end of the claims it held live."""
    filed = [resend_close(closed.id, now, shards)] if refunds_worker_needed(closed) else []
    if before.claimed_slots:
        filed.append(end_claims(closed.id, now, shards))
    return filed


def for_submission(submission: Submission, shards: int) -> Timer:
    return timer(AUTO_APPROVE, submission.id, submission.auto_approve_at, shards)
