"""Records written straight into the tables, for tests that need a long history faster than the API makes it."""

from __future__ import annotations

from datetime import timedelta

from chalicelib.adapters import dynamo_models as m
from chalicelib.adapters.dynamo import _to_item
from chalicelib.adapters.dynamo_work import copy_item
from chalicelib.bootstrap import deps
from chalicelib.core.model import AWAITING_ONBOARDING, PAID, BountyBrief, Payout
from devtools import local_iam


def seed_payouts(freelancer_id: str, *, paid: int, waiting: int) -> list[Payout]:
    """Payout records straight into the table, with their copies in the freelancer's list of work as the app
    writes them: `waiting` held for onboarding, older than `paid` paid ones."""
    now = deps().clock.now()

    def payout(n: int, status: str, age: timedelta) -> Payout:
        return Payout(id=f"pay_seed{freelancer_id}{status}{n:04d}", submission_id=f"sub_seed{n}",
                      bounty_id=f"bty_seed{n}", freelancer_id=freelancer_id, amount=100 + n, currency="usd",
                      status=status, created_at=now - age, updated_at=now - age,
                      transfer_id=f"tr_seed{n}" if status == PAID else None)

    held = [payout(n, AWAITING_ONBOARDING, timedelta(days=30, minutes=n)) for n in range(waiting)]
    records = held + [payout(n, PAID, timedelta(minutes=n)) for n in range(paid)]
    with local_iam.running(local_iam.OPERATOR):  # written by the test, not by a function (BatchWriteItem)
        with m.PayoutModel.batch_write() as batch:
            for record in records:
                batch.save(_to_item(record, 0))
        with m.WorkModel.batch_write() as batch:
            for record in records:
                brief = BountyBrief(record.bounty_id, f"Seeded {record.bounty_id}", record.amount, record.currency)
                batch.save(copy_item(record, brief, record_version=1))
    return held
