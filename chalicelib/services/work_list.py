"""A freelancer's own list of their work (the web's "my work"): their account, and their claims, submissions and
payouts with the bounties they belong to: 2 round trips (their list of work, then the account with their key) for a
history that one Query of the list holds."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from ..core import errors, rules
from ..core.model import PAID, UNPAID, Account, Claim, Payout, Submission
from ..repository import Ref
from . import bounties
from .deps import Caller, Deps, fetch

SHOWN = {Claim: 100, Submission: 500, Payout: 500}  # the newest of each kind the page shows
# Records read per Query: a claim, a submission and a payout for each of the newest 500 pieces of work, under
# DynamoDB's 1 MB a Query. A history with more records than the page needs of some kind reads on, up to MAX_PAGES.
PAGE = 1500
MAX_PAGES = 4
UNPAID_PAGE = 100


@dataclass
class WorkList:
    account: Account
    # (record, bounty) newest first; the bounty is its brief (core.model.BountyBrief), or the Bounty where the
    # record's copy had none, or None where it is not to be seen.
    claims: list[tuple[Claim, Any]] = field(default_factory=list)
    submissions: list[tuple[Submission, Any]] = field(default_factory=list)
    payouts: list[tuple[Payout, Any]] = field(default_factory=list)
    owed: dict[str, int] = field(default_factory=dict)  # approved, not paid yet, by currency: every such payout


def my_work(deps: Deps, caller: Caller) -> WorkList:
    caller.require("freelancer")
    # Read before the key is checked (by the account's read, next): nothing of it is returned unless the key holds.
    page = deps.repo.list_work(caller.account_id, limit=PAGE)
    account, = fetch(deps, caller, Ref(Account, caller.account_id))
    if account is None:
        raise errors.Unauthenticated("This API key's account no longer exists.")
    entries, cursor, pages = list(page.items), page.next_cursor, 1
    while cursor is not None and pages < MAX_PAGES and not _enough(entries):
        page = deps.repo.list_work(caller.account_id, limit=PAGE, cursor=cursor)
        entries, cursor, pages = entries + page.items, page.next_cursor, pages + 1
    complete = cursor is None
    # Copies always carry their bounty's brief (the bounty is in the write that makes a record); should one lack
    # it, its bounty is read, many per round trip.
    missing = [e.record.bounty_id for e in entries if e.bounty is None]
    read = bounties.get_visible_bounties(deps, caller, missing) if missing else {}
    listed = WorkList(account)
    now = deps.clock.now()
    for entry in entries:
        record, bounty = entry.record, entry.bounty or read.get(entry.record.bounty_id)
        rows = {Claim: listed.claims, Submission: listed.submissions, Payout: listed.payouts}[type(record)]
        if len(rows) < SHOWN[type(record)]:
            rows.append((rules.as_of(record, now) if isinstance(record, Claim) else record, bounty))
    if complete:  # every payout is in hand
        unpaid = [e.record for e in entries if isinstance(e.record, Payout) and e.record.status != PAID]
    else:  # a longer history: what is owed from the index of unpaid payouts, which holds only those
        unpaid = _every_unpaid(deps, caller)
    for payout in unpaid:
        listed.owed[payout.currency] = listed.owed.get(payout.currency, 0) + payout.amount
    return listed


def _enough(entries: list) -> bool:
    """Whether the page has as many of each kind as it shows."""
    return all(sum(type(e.record) is kind for e in entries) >= shown for kind, shown in SHOWN.items())


def _every_unpaid(deps: Deps, caller: Caller) -> list[Payout]:
    found, cursor = [], None
    while True:
        page = deps.repo.list_freelancer_payouts(caller.account_id, limit=UNPAID_PAGE, cursor=cursor, status=UNPAID)
        found += page.items
        cursor = page.next_cursor
        if cursor is None:
            return found
