"""Records to response models: what each caller may see of them."""

from __future__ import annotations

import json

from ..core import earnings, rules
from ..core.ledger import Totals
from ..core.model import FREELANCER, Account, Bounty, Claim, LedgerEntry, Message, Payout, Submission
from ..repository import Page
from . import schemas as s


def money(amount: int, currency: str) -> s.Money:
    return s.Money(amount=amount, currency=currency)


def account(record: Account, *, api_key: str | None = None) -> s.AccountOut:
    out = s.AccountOut(id=record.id, role=record.role, name=record.name, email=record.email,
                       created_at=record.created_at, api_key=api_key)
    if record.role == FREELANCER:
        mean = round(record.rating_sum / record.rating_count, 2) if record.rating_count else None
        out.payouts_enabled = record.payouts_enabled
        out.rating = s.Rating(mean=mean, count=record.rating_count)
        out.completed = record.completed
        out.earned = [money(amount, currency) for currency, amount in sorted(record.earned.items())]
    return out


def bounty(record: Bounty, *, viewer_id: str | None = None) -> s.BountyOut:
    rate = None
    if record.estimated_minutes:
        rate = money(earnings.hourly_rate(record.reward, record.estimated_minutes), record.currency)
    funding = None
    if viewer_id == record.client_id:
        funding = s.Funding(payment_intent_id=record.payment_intent_id, client_secret=record.client_secret,
                            amount_total=record.amount_total, fee=record.fee, currency=record.currency,
                            error=record.funding_error)
    return s.BountyOut(
        id=record.id, client_id=record.client_id, title=record.title, description=record.description,
        reward=money(record.reward, record.currency), slots=record.slots, slots_left=rules.slots_left(record),
        deadline=record.deadline, review_window_seconds=record.review_window_seconds,
        claim_seconds=record.claim_seconds, estimated_minutes=record.estimated_minutes,
        effective_hourly_rate=rate, achieved=_achieved(record), requirements=_requirements(record),
        tags=record.tags, status=record.status, created_at=record.created_at, updated_at=record.updated_at,
        funding=funding,
    )


def _requirements(record: Bounty) -> s.RequirementsOut | None:
    if record.min_rating is None and record.min_completed is None:
        return None
    return s.RequirementsOut(min_rating=record.min_rating, min_completed=record.min_completed)


def _achieved(record: Bounty) -> s.Achieved | None:
    measured = earnings.bounty_rate(record.reward, record.timed_submissions, record.timed_micros)
    if measured is None:
        return None
    return s.Achieved(submissions=measured.submissions, mean_seconds=round(measured.mean_seconds),
                          hourly_rate=money(measured.per_hour, record.currency))


def claim(record: Claim) -> s.ClaimOut:
    return s.ClaimOut(id=record.id, bounty_id=record.bounty_id, freelancer_id=record.freelancer_id,
                      status=record.status, created_at=record.created_at, expires_at=record.expires_at)


def submission(record: Submission) -> s.SubmissionOut:
    return s.SubmissionOut(
        id=record.id, bounty_id=record.bounty_id, freelancer_id=record.freelancer_id, content=record.content,
        links=record.links, status=record.status, created_at=record.created_at,
        auto_approve_at=record.auto_approve_at, auto_approved=record.auto_approved, claim_id=record.claim_id,
        decided_at=record.decided_at, rating=record.rating, feedback=record.feedback,
        rejection_reason=record.rejection_reason, payout_id=record.payout_id,
    )


def payout(record: Payout) -> s.PayoutOut:
    return s.PayoutOut(id=record.id, submission_id=record.submission_id, bounty_id=record.bounty_id,
                       amount=money(record.amount, record.currency), status=record.status,
                       transfer_id=record.transfer_id, created_at=record.created_at, updated_at=record.updated_at)


def message(record: Message) -> s.MessageOut:
    return s.MessageOut(id=record.id, bounty_id=record.bounty_id, author_id=record.author_id,
                        author_role=record.author_role, body=record.body, created_at=record.created_at)


def ledger(record: Bounty, entries: list[LedgerEntry], totals: Totals) -> s.LedgerOut:
    return s.LedgerOut(
        bounty_id=record.id, currency=record.currency,
        entries=[s.LedgerEntryOut(id=e.id, kind=e.kind, amount=money(e.amount, e.currency), reference=e.reference,
                                  created_at=e.created_at) for e in entries],
        totals=s.LedgerTotals(funded=totals.funded, paid_out=totals.paid_out, fees=totals.fees,
                              refunded=totals.refunded, held=totals.held),
    )


# Lambda refuses a function's answer over 6 MB, counted on API Gateway's envelope, where the JSON body is a string
# escaped once more: a character outside ASCII, "\\uXXXX" in the body, takes 7 bytes there (an emoji 14), so 100
# long texts in another script would pass it. A page is cut short well before (its cursor goes on from there).
ANSWER_BUDGET_BYTES = 5_000_000


def page(list_model, page_: Page, render_item, **kwargs):
    items = [render_item(item, **kwargs) for item in page_.items]
    fitting = _fitting(items)
    if fitting < len(items):
        page_ = page_.cut(fitting)
        items = items[:len(page_.items)]
    return list_model(items=items, next_cursor=page_.next_cursor)


def _fitting(items: list) -> int:
    """How many of the rendered items fit the answer's budget, as the envelope carries them."""
    used = 0
    for count, item in enumerate(items):
        used += len(json.dumps(json.dumps(item.model_dump(mode="json"), separators=(",", ":"))))
        if used > ANSWER_BUDGET_BYTES:
            return count
    return len(items)
