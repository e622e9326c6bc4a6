"""Money out, as pure functions: settling a payout and refunding unspent escrow, each exactly once.

The ledger follows from these: a paid payout records its reward as paid out and its slot's share of
the fee as kept; a refund records the slots' rewards and their fee share as refunded."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime

from . import errors, ledger
from .model import AWAITING_ONBOARDING, FAILED, PAID, QUEUED, Account, Bounty, LedgerEntry, Payout
from .rules import fee_share


@dataclass(frozen=True)
class RefundOrder:
    key: str  # ours; Stripe's idempotency key and metadata are derived from it
    slots: int
    amount: int
    keys_spent: int = 0  # idempotency keys Stripe answered with a server error (it replays those): use a new one

    @property
    def idempotency_key(self) -> str:
        return idempotency_key(f"refund:{self.key}", self.keys_spent)


def idempotency_key(base: str, keys_spent: int) -> str:
    """A Stripe idempotency key after `keys_spent` server errors, which Stripe replays under their key: each one
    moves the request on to a new key."""
    return f"{base}:k{keys_spent}" if keys_spent else base


def settle_payout(bounty: Bounty, payout: Payout, freelancer: Account, *, transfer_id: str, now: datetime
                  ) -> tuple[Bounty, Payout, Account, list[LedgerEntry]]:
    if payout.status == PAID:
        raise errors.StateConflict("The payout is already paid.", code="payout_already_paid")
    fee_kept = fee_share(bounty.fee, bounty.slots, bounty.settled_slots, 1)
    bounty = replace(bounty, settled_slots=bounty.settled_slots + 1, updated_at=now)
    payout = replace(payout, status=PAID, transfer_id=transfer_id, updated_at=now, last_error=None)
    earned = dict(freelancer.earned)
    earned[payout.currency] = earned.get(payout.currency, 0) + payout.amount
    freelancer = replace(freelancer, earned=earned)
    entries = [
        LedgerEntry(bounty_id=bounty.id, id=f"{ledger.PAID_OUT}:{payout.id}", kind=ledger.PAID_OUT,
                    amount=payout.amount, currency=payout.currency, created_at=now, reference=transfer_id),
    ]
    if fee_kept:  # a low PLATFORM_FEE_BPS can leave a slot no fee share; an entry of nothing would say nothing
        entries.append(LedgerEntry(bounty_id=bounty.id, id=f"{ledger.FEE}:{payout.id}", kind=ledger.FEE,
                                   amount=fee_kept, currency=payout.currency, created_at=now, reference=payout.id))
    return bounty, payout, freelancer, entries


def hold_for_onboarding(payout: Payout, *, now: datetime) -> Payout:
    return replace(payout, status=AWAITING_ONBOARDING, updated_at=now)


def hold_for_restricted_account(payout: Payout, freelancer: Account, *, now: datetime
                                ) -> tuple[Payout, Account] | None:
    """Stripe refused the transfer: the freelancer's account, held here as ready, cannot receive (restricted since,
    its word not come yet). The payout waits as for onboarding, not spending its deliveries on refusals until it is
    failed, and the account is marked not ready, so that Stripe's word that it is ready again releases the payout.
    Stripe keeps the refusal under the request's idempotency key and would give it again to the transfer once the
    account is ready: the payout moves on to a new key (the refused request made no transfer).
    None for a payout paid or failed meanwhile."""
    if payout.status in (PAID, FAILED):
        return None
    held = replace(hold_for_onboarding(payout, now=now), keys_spent=payout.keys_spent + 1)
    return held, replace(freelancer, payouts_enabled=False)


def requeue(payout: Payout, *, now: datetime) -> Payout:
    """Back to the queue: onboarding finished, or an operator re-drives a failed payout."""
    if payout.status not in (AWAITING_ONBOARDING, FAILED, QUEUED):
        raise errors.StateConflict(f"The payout is {payout.status}; it cannot be sent again.",
                                   code="payout_not_retryable")
    return replace(payout, status=QUEUED, updated_at=now)


def record_attempt(payout: Payout, *, error: str, failed: bool, now: datetime, key_spent: bool = False,
                   tried_while_held: bool = False) -> Payout | None:
    """None for a paid payout: another delivery of it paid it while this one failed, so nothing is owed and no
    failure may move it back (a paid payout is never retried, listed as failed or re-driven). A payout another
    delivery held meanwhile for its freelancer's account stays held even on the last try: Stripe's word that the
    account is ready releases a held payout, where a failed one would wait for an operator. One this delivery
    tried while held (its account since seen ready) fails as any other: nothing would release it again.
    `key_spent`: Stripe answered with a server error, which it would replay under the same key, so the next
    attempt takes a new one."""
    if payout.status == PAID:
        return None
    held_meanwhile = payout.status == AWAITING_ONBOARDING and not tried_while_held
    fails = failed and not held_meanwhile
    return replace(payout, attempts=payout.attempts + 1, last_error=error[:500],
                   status=FAILED if fails else payout.status, keys_spent=payout.keys_spent + key_spent,
                   updated_at=now)


def start_refund(bounty: Bounty, *, now: datetime) -> tuple[Bounty, RefundOrder] | None:
    """Moves every owed slot into one refund in flight. None when nothing is owed and none is in flight;
    the order in flight when one is (a retry after a crash must repeat it, not add another)."""
    if bounty.refund_key:
        return bounty, _order_in_flight(bounty)
    if bounty.refund_owed_slots == 0:
        return None
    slots = bounty.refund_owed_slots
    # The fee share is fixed now (and the slots counted as settled) so a payout settling meanwhile
    # cannot change what this refund returns.
    amount = bounty.reward * slots + fee_share(bounty.fee, bounty.slots, bounty.settled_slots, slots)
    key = f"{bounty.id}:refund:{bounty.refunded_slots}+{slots}"
    bounty = replace(bounty, refund_owed_slots=0, refunding_slots=slots, refund_key=key, refund_amount=amount,
                     settled_slots=bounty.settled_slots + slots, updated_at=now)
    return bounty, _order_in_flight(bounty)


def _order_in_flight(bounty: Bounty) -> RefundOrder:
    return RefundOrder(key=bounty.refund_key, slots=bounty.refunding_slots, amount=bounty.refund_amount,
                       keys_spent=bounty.refund_keys_spent)


def spend_refund_key(bounty: Bounty, order: RefundOrder, *, now: datetime) -> Bounty | None:
    """Stripe answered the refund in flight with a server error, which it gives again to every retry under that
    idempotency key: the next try takes a new key (the refund is looked up by our key first, so one the failed
    request made is found). None when another delivery moved the key on already, or the refund is done."""
    if bounty.refund_key != order.key or bounty.refund_keys_spent != order.keys_spent:
        return None
    return replace(bounty, refund_keys_spent=order.keys_spent + 1, updated_at=now)


def finish_refund(bounty: Bounty, order: RefundOrder, *, refund_id: str, now: datetime
                  ) -> tuple[Bounty, LedgerEntry]:
    if bounty.refund_key != order.key:
        raise errors.StateConflict("That refund is not the one in flight.", code="refund_not_in_flight")
    bounty = replace(bounty, refunding_slots=0, refunded_slots=bounty.refunded_slots + order.slots,
                     refund_key=None, refund_amount=0, refund_keys_spent=0, updated_at=now)
    entry = LedgerEntry(bounty_id=bounty.id, id=f"{ledger.REFUNDED}:{order.key}", kind=ledger.REFUNDED,
                        amount=order.amount, currency=bounty.currency, created_at=now, reference=refund_id)
    return bounty, entry
