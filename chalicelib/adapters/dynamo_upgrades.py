"""Bringing items stored by an older release up to what this one reads. Operator tools (`python -m ops`): they
Scan whole tables, so they never run on a request or worker path. Each is safe to repeat and to run while the
app serves."""

from __future__ import annotations

from pynamodb.exceptions import UpdateError

from ..core.model import PAID
from . import dynamo_models as m


def index_unpaid_payouts() -> int:
    """Puts every unpaid payout stored before the `unpaid` index existed into it; returns how many.

    The write touches only the index attribute and is conditional on the payout still being unpaid and not yet
    indexed, so it cannot undo a payment made meanwhile; it leaves the version alone, so it does not disturb a
    worker's versioned write either (that write sets the attribute itself, from the status it writes).
    """
    m.bind()
    payout = m.PayoutModel
    not_indexed = (payout.status != PAID) & payout.unpaid_freelancer.does_not_exist()
    indexed = 0
    for item in payout.scan(filter_condition=not_indexed):
        try:
            item.update([payout.unpaid_freelancer.set(item.freelancer_id)], condition=not_indexed)
        except UpdateError as error:
            if error.cause_response_code != "ConditionalCheckFailedException":
                raise
            continue  # paid or indexed meanwhile
        indexed += 1
    return indexed
