"""Ledger arithmetic: entries are append-only money events; totals are derived, never stored."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .model import LedgerEntry

FUNDED = "funded"
PAID_OUT = "paid_out"
FEE = "fee"
REFUNDED = "refunded"


@dataclass(frozen=True)
class Totals:
    funded: int = 0
    paid_out: int = 0
    fees: int = 0
    refunded: int = 0

    @property
    def held(self) -> int:
        """What the platform still holds in escrow for this bounty."""
        return self.funded - self.paid_out - self.fees - self.refunded


def totals(entries: Iterable[LedgerEntry]) -> Totals:
    sums = {FUNDED: 0, PAID_OUT: 0, FEE: 0, REFUNDED: 0}
    for entry in entries:
        sums[entry.kind] += entry.amount
    return Totals(funded=sums[FUNDED], paid_out=sums[PAID_OUT], fees=sums[FEE], refunded=sums[REFUNDED])


def funded_entry(bounty_id: str, *, payment_intent_id: str, amount: int, currency: str, at) -> LedgerEntry:
    # One id per PaymentIntent: a replayed webhook cannot record the same escrow twice.
    return LedgerEntry(bounty_id=bounty_id, id=f"{FUNDED}:{payment_intent_id}", kind=FUNDED, amount=amount,
                       currency=currency, created_at=at, reference=payment_intent_id)
