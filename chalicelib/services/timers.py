"""Deadlines that pass on their own: a sweep hands due timers to a queue; each is fired idempotently."""

from __future__ import annotations

import logging

from .. import config
from ..core import errors, rules
from ..core import timers as timer_rules
from ..core.model import (
    AUTO_APPROVE,
    AWAITING_FUNDING,
    END_CLAIMS,
    EXPIRE_BOUNTY,
    EXPIRED,
    FUNDING_FAILED,
    LAPSE_CLAIM,
    OPEN,
    RECHECK_HELD_PAYOUT,
    RESEND_PAYOUT,
    RESEND_REFUND,
    RESEND_RELEASED_PAYOUT,
)
from ..core.timers import due_prefix
from . import payouts, refunds, work
from .deps import Deps, retrying

log = logging.getLogger(__name__)


def sweep(deps: Deps, *, limit_per_shard: int = 500) -> int:
    """Queues every due timer and forgets it. The message carries the work from here (SQS keeps it, with a
    DLQ); a crash between send and delete only sends it twice, and firing is idempotent."""
    until = due_prefix(deps.clock.now())
    sent = 0
    for shard in range(config.timer_shards()):
        for due in deps.repo.due_timers(f"timers#{shard}", until=until, limit=limit_per_shard):
            deps.queue.send(config.timers_queue_name(), {"kind": due.kind, "ref_id": due.ref_id})
            try:
                deps.repo.delete(due)
            except errors.ConcurrentUpdate:
                pass  # a concurrent sweep took it
            sent += 1
    return sent


class NotDueYet(Exception):
    """The handler's clock says the timer is not due, though the sweep's said it was (the two functions' clocks
    disagree by a little). The sweep has already deleted the timer, so returning would drop it for good: no
    expiry, lapse or auto-approval. Raising brings the message back after the worker's backoff instead."""

    expected = True  # a message to try again later, not a failure: the worker logs it without a traceback



def fire(deps: Deps, kind: str, ref_id: str) -> str:
    outcome = _fire(deps, kind, ref_id)
    if outcome == "not_due":
        raise NotDueYet(f"timer {kind} for {ref_id} is not due yet by this function's clock")
    return outcome


def _fire(deps: Deps, kind: str, ref_id: str) -> str:
    if kind == EXPIRE_BOUNTY:
        return expire_bounty(deps, ref_id)
    if kind == LAPSE_CLAIM:
        return work.lapse_claim(deps, ref_id)
    if kind == END_CLAIMS:
        return work.end_claims_of_closed_bounty(deps, ref_id)
    if kind == AUTO_APPROVE:
        return work.auto_approve(deps, ref_id)
    if kind in (RESEND_PAYOUT, RECHECK_HELD_PAYOUT, RESEND_RELEASED_PAYOUT):
        return payouts.resend_if_waiting(deps, ref_id)
    if kind == RESEND_REFUND:
        return refunds.resend_if_owed(deps, ref_id)
    log.warning("unknown timer kind %s for %s dropped", kind, ref_id)
    return "unknown"


def expire_bounty(deps: Deps, bounty_id: str) -> str:
    def attempt():
        bounty = deps.repo.get_bounty(bounty_id)
        if bounty is None or bounty.status not in (OPEN, AWAITING_FUNDING, FUNDING_FAILED):
            return None
        if deps.clock.now() < bounty.deadline:
            return "not_due"
        now = deps.clock.now()
        closed = rules.close(bounty, status=EXPIRED, now=now)
        # Its live claims expire with it: the timer that ends them makes their records say so too.
        deps.repo.commit(changed=[closed], created=timer_rules.for_close(bounty, closed, now, config.timer_shards()))
        return closed

    outcome = retrying(attempt)
    if outcome is None or outcome == "not_due":
        return outcome or "unchanged"
    if rules.refunds_worker_needed(outcome):
        deps.queue.send(config.refunds_queue_name(), {"bounty_id": bounty_id})
    return EXPIRED
