"""Returning unspent escrow (cancel, expiry, rejections after close), exactly once; and closing the payment of a
bounty that closed before it was paid."""

from __future__ import annotations

import logging
from dataclasses import replace

from .. import config, observability
from ..core import money, rules
from ..ports import PaymentDeclined, PaymentsServerError
from .deps import Deps, retrying

log = logging.getLogger(__name__)


def refund_unspent(deps: Deps, bounty_id: str) -> int:
    """Refunds every slot owed back, in as many rounds as it takes; returns the amount refunded now.
    The refund in flight is written down before Stripe is asked, so a crash repeats it, never doubles it."""
    refunded = 0
    # The bounty as we last wrote it (at its stored version), so the next step need not read it back; if anyone
    # changed it meanwhile, the versioned write fails and the retry reads it afresh.
    written = _InHand()
    while True:
        order = retrying(lambda: _start(deps, bounty_id, written))
        if order is None:
            _cancel_unpaid_intent(deps, written.peek())
            return refunded
        try:
            refund_id = deps.payments.refund(payment_intent_id=written.peek().payment_intent_id,
                                             amount=order.amount, refund_key=order.key,
                                             idempotency_key=order.idempotency_key)
        except PaymentsServerError:  # the message comes back; its next try must not get Stripe's kept 500
            retrying(lambda order=order: _spend_key(deps, bounty_id, order, written))
            raise
        retrying(lambda order=order, refund_id=refund_id: _finish(deps, bounty_id, order, refund_id, written))
        refunded += order.amount


class _InHand:
    def __init__(self):
        self._bounty = None

    def keep(self, bounty, *, stored: bool) -> None:
        """`stored`: the bounty was just written, so the table holds it at the next version."""
        self._bounty = replace(bounty, version=bounty.version + 1) if stored else bounty

    def peek(self):
        return self._bounty

    def take(self, deps: Deps, bounty_id: str):
        bounty, self._bounty = self._bounty, None
        return bounty if bounty is not None else deps.repo.get_bounty(bounty_id)


def resend_if_owed(deps: Deps, bounty_id: str) -> str:
    """The safety net of a close or rejection: if money is still owed back (or a refund is in flight), or the intent
    of a bounty closed unpaid is still to be cancelled, queue the refunds worker's message again."""
    bounty = deps.repo.get_bounty(bounty_id)
    if bounty is None or not (rules.refunds_worker_needed(bounty) or bounty.refund_key):
        return "unchanged"
    deps.queue.send(config.refunds_queue_name(), {"bounty_id": bounty_id})
    return "resent"


def _start(deps: Deps, bounty_id: str, written: _InHand):
    bounty = written.take(deps, bounty_id)
    if bounty is None or bounty.payment_intent_id is None:
        return None
    started = money.start_refund(bounty, now=deps.clock.now())
    if started is None:
        written.keep(bounty, stored=False)
        return None
    updated, order = started
    if updated is not bounty:
        deps.repo.commit(changed=[updated])
        written.keep(updated, stored=True)
    else:
        written.keep(bounty, stored=False)  # a refund already in flight: repeat it
    return order


def _spend_key(deps: Deps, bounty_id: str, order: money.RefundOrder, written: _InHand) -> None:
    bounty = written.take(deps, bounty_id)
    spent = money.spend_refund_key(bounty, order, now=deps.clock.now())
    if spent is not None:
        deps.repo.commit(changed=[spent])


def _finish(deps: Deps, bounty_id: str, order: money.RefundOrder, refund_id: str, written: _InHand) -> None:
    bounty = written.take(deps, bounty_id)
    if bounty.refund_key != order.key:
        return  # another delivery of this message recorded it already
    bounty, entry = money.finish_refund(bounty, order, refund_id=refund_id, now=deps.clock.now())
    deps.repo.commit(changed=[bounty], created=[entry])
    written.keep(bounty, stored=True)


def _cancel_unpaid_intent(deps: Deps, bounty) -> None:
    """A bounty closed before it was paid: its intent is cancelled, so a payment page left open cannot charge the
    client any more. Repeats are harmless (same key); if Stripe refuses because the payment went through first,
    its webhook records that payment and it is refunded in full."""
    intent_id = rules.unpaid_intent(bounty) if bounty is not None else None
    if intent_id is None:
        return
    try:
        status = deps.payments.cancel_funding_intent(payment_intent_id=intent_id, idempotency_key=f"cancel:{intent_id}")
    except PaymentDeclined as error:
        log.info("intent %s of closed bounty %s was not cancelled (%s): a payment on it is refunded", intent_id,
                 bounty.id, error)
        return
    observability.count("UnpaidIntentsCancelled")
    log.info("intent %s of bounty %s, %s before it was paid: %s", intent_id, bounty.id, bounty.status, status)

    in_hand = [bounty]  # as read before Stripe was asked: if it changed since, the versioned write fails

    def record() -> None:
        current = in_hand.pop() if in_hand else deps.repo.get_bounty(bounty.id)
        updated = rules.intent_cancelled(current, now=deps.clock.now())
        if updated is not None:
            deps.repo.commit(changed=[updated])

    retrying(record)

