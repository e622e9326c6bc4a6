"""Does our ledger agree with Stripe? Read both sides for a bounty and compare them (core.reconcile)."""

from __future__ import annotations

from ..core.reconcile import differences
from .deps import Deps


def reconcile_bounty(deps: Deps, bounty_id: str) -> list[str]:
    bounty = deps.repo.get_bounty(bounty_id)
    if bounty is None:
        return [f"{bounty_id}: no such bounty"]
    entries = deps.repo.list_ledger(bounty_id)
    stripe = None
    if bounty.payment_intent_id:
        stripe = deps.payments.money_for(payment_intent_id=bounty.payment_intent_id, transfer_group=bounty.id)
    return differences(bounty_id, entries, stripe)
