"""Deadlines that pass on their own: a sweep hands due timers to a queue; each is fired idempotently."""

from __future__ import annotations

import logging
import math
import random
from collections.abc import Callable

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
    RESEND_CLOSE,
    RESEND_PAYOUT,
    RESEND_REFUND,
    RESEND_RELEASED_PAYOUT,
    Timer,
)
from ..core.timers import due_prefix
from ..ports import SEND_BATCH_LIMIT
from . import payouts, refunds, work
from .deps import Deps, retrying

log = logging.getLogger(__name__)


# Before a shard's sends, its Query; then per batch of due timers a SendMessageBatch, and a conditional DeleteItem
# per timer SQS took. The sweep starts a shard only with time for its Query and a batch of one at their slowest, and
# sizes each batch to the time left (tests/infra/test_template.py: the function's timeout holds a shard's start).
SHARD_CALLS = 1 + 2


def _endless() -> float:
    return math.inf


def sweep(deps: Deps, *, limit_per_shard: int = 500, seconds_left: Callable[[], float] = _endless) -> int:
    """Queues every due timer and forgets it, while the function's time lasts (`seconds_left()`): each batch is as
    large as the time left holds at its calls' slowest, so a healthy run works until near its end and a slow one
    stops in time. A timer is deleted only once SQS has taken its message, which carries the work from there (SQS
    keeps it, with a DLQ); a crash between send and delete only sends it twice, and firing is idempotent. What a
    run leaves (its time ran low, or SQS refused a message) stays filed, and the next run, a minute later, sends
    it. Returns how many it queued."""
    until = due_prefix(deps.clock.now())
    slowest_call = config.aws_call_limits().slowest_seconds

    def calls_left() -> int:
        left = seconds_left()
        return SHARD_CALLS + SEND_BATCH_LIMIT if math.isinf(left) else int(left // slowest_call)

    shards = config.timer_shards()
    # Each run starts at a shard of its own, so one shard with more due than a run has time for does not hold back
    # the shards after it run after run.
    first = random.randrange(shards)  # noqa: S311 - spreading work, nothing secret
    sent = 0
    for shard in [(first + n) % shards for n in range(shards)]:
        if calls_left() < SHARD_CALLS:
            return _stopped(sent)
        due = deps.repo.due_timers(f"timers#{shard}", until=until, limit=limit_per_shard)
        start = 0
        while start < len(due):
            room = min(SEND_BATCH_LIMIT, calls_left() - 1)  # the send, then a delete for each timer it took
            if room < 1:
                return _stopped(sent)
            batch = due[start:start + room]
            sent += _hand_on(deps, batch)
            start += len(batch)
    return sent


def _hand_on(deps: Deps, due: list[Timer]) -> int:
    """Sends the timers' messages in one request, then deletes each timer whose message SQS took; returns how many
    it took."""
    refused = deps.queue.send_batch(config.timers_queue_name(), [{"kind": t.kind, "ref_id": t.ref_id} for t in due])
    for position, timer in enumerate(due):
        if position in refused:
            continue  # still filed: the next run sends it
        try:
            deps.repo.delete(timer)
        except errors.ConcurrentUpdate:
            pass  # a concurrent sweep took it
    return len(due) - len(refused)


def _stopped(sent: int) -> int:
    log.warning("timer sweep stopped after queueing %s: its time left holds no more; the next run goes on", sent)
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
    if kind in (RESEND_REFUND, RESEND_CLOSE):
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
