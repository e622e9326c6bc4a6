"""Comparing our ledger with Stripe's own objects. Pure: both sides are read elsewhere and handed in."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from . import ledger
from .model import LedgerEntry


@dataclass(frozen=True)
class StripeMovement:
    id: str
    amount: int
    our_key: str | None  # the payout id or refund key we put in its metadata


@dataclass(frozen=True)
class StripeMoney:
    """What Stripe holds for one bounty: its charge, the transfers of its group, the refunds of its payment."""

    charged: int
    transfers: tuple[StripeMovement, ...] = field(default_factory=tuple)
    refunds: tuple[StripeMovement, ...] = field(default_factory=tuple)


def differences(bounty_id: str, entries: Iterable[LedgerEntry], stripe: StripeMoney | None) -> list[str]:
    """Every way the ledger and Stripe disagree, as sentences an operator can act on; empty when they agree."""
    entries = list(entries)
    totals = ledger.totals(entries)
    found: list[str] = []
    if totals.held < 0:
        found.append(f"{bounty_id}: the ledger pays out more than was funded (held {totals.held})")
    if stripe is None:
        if totals.funded or totals.paid_out or totals.refunded:
            found.append(f"{bounty_id}: the ledger records money but Stripe has no payment for it")
        return found
    if totals.funded != stripe.charged:
        found.append(f"{bounty_id}: funded {totals.funded} in the ledger, {stripe.charged} charged on Stripe")
    found += _compare(bounty_id, "transfer", _by_reference(entries, ledger.PAID_OUT), stripe.transfers)
    found += _compare(bounty_id, "refund", _by_reference(entries, ledger.REFUNDED), stripe.refunds)
    return found


def _by_reference(entries: list[LedgerEntry], kind: str) -> dict[str, int]:
    return {e.reference: e.amount for e in entries if e.kind == kind}


def _compare(bounty_id: str, what: str, recorded: dict[str, int], on_stripe: tuple[StripeMovement, ...]) -> list[str]:
    found = []
    seen_keys: dict[str, str] = {}
    for movement in on_stripe:
        if movement.our_key and movement.our_key in seen_keys:
            found.append(f"{bounty_id}: two {what}s for {movement.our_key} on Stripe "
                         f"({seen_keys[movement.our_key]}, {movement.id})")
        seen_keys[movement.our_key or movement.id] = movement.id
        amount = recorded.get(movement.id)
        if amount is None:
            found.append(f"{bounty_id}: {what} {movement.id} ({movement.amount}) on Stripe is not in the ledger")
        elif amount != movement.amount:
            found.append(f"{bounty_id}: {what} {movement.id} is {movement.amount} on Stripe, {amount} in the ledger")
    stripe_ids = {m.id for m in on_stripe}
    for reference, amount in recorded.items():
        if reference not in stripe_ids:
            found.append(f"{bounty_id}: the ledger's {what} {reference} ({amount}) does not exist on Stripe")
    return found
