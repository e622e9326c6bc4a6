"""Claims, submissions and their review: the freelancer's and the client's side of a slot."""

from __future__ import annotations

from .. import config
from ..core import errors, rules, timers
from ..core.model import LIVE, RELEASED, Account, Participant, Submission, new_id
from ..repository import Page
from .bounties import get_own_bounty, get_visible_bounty
from .deps import Caller, Deps, retrying


def _participant(deps: Deps, bounty_id: str, freelancer_id: str) -> Participant:
    return deps.repo.get_participant(bounty_id, freelancer_id) or Participant(bounty_id, freelancer_id)


def _writes(*records):
    """Splits records into those read before (version > 0) and new ones."""
    changed = [r for r in records if r is not None and r.version > 0]
    created = [r for r in records if r is not None and r.version == 0]
    return changed, created


def claim_bounty(deps: Deps, caller: Caller, bounty_id: str):
    caller.require("freelancer")

    def attempt():
        bounty = get_visible_bounty(deps, caller, bounty_id)
        participant = _participant(deps, bounty_id, caller.account_id)
        bounty, participant, claim = rules.claim(bounty, participant, claim_id=new_id("clm_"), now=deps.clock.now())
        changed, created = _writes(bounty, participant)
        lapse = timers.for_claim(claim, bounty, config.timer_shards())
        deps.repo.commit(changed=changed, created=created + [claim] + ([lapse] if lapse else []))
        return claim

    return retrying(attempt)


def release_claim(deps: Deps, caller: Caller, claim_id: str):
    caller.require("freelancer")

    def attempt():
        claim = deps.repo.get_claim(claim_id)
        if claim is None or claim.freelancer_id != caller.account_id:
            raise errors.NotFound(f"No claim {claim_id} of yours exists.")
        bounty = deps.repo.get_bounty(claim.bounty_id)
        participant = _participant(deps, claim.bounty_id, caller.account_id)
        bounty, participant, claim = rules.end_claim(bounty, participant, claim, status=RELEASED,
                                                     now=deps.clock.now())
        deps.repo.commit(changed=[bounty, participant, claim])
        return claim

    return retrying(attempt)


def submit_work(deps: Deps, caller: Caller, bounty_id: str, *, content: str, links: list[str]) -> Submission:
    caller.require("freelancer")

    def attempt():
        bounty = get_visible_bounty(deps, caller, bounty_id)
        participant = _participant(deps, bounty_id, caller.account_id)
        live_claim = deps.repo.get_claim(participant.live_claim_id) if participant.live_claim_id else None
        if live_claim is not None and live_claim.status != LIVE:
            live_claim = None
        bounty, participant, live_claim, submission = rules.submit(
            bounty, participant, live_claim, submission_id=new_id("sub_"), content=content, links=links,
            now=deps.clock.now())
        changed, created = _writes(bounty, participant, live_claim)
        auto_approval = timers.for_submission(submission, config.timer_shards())
        deps.repo.commit(changed=changed, created=created + [submission, auto_approval])
        return submission

    return retrying(attempt)


def list_bounty_submissions(deps: Deps, caller: Caller, bounty_id: str, *, limit: int, cursor: str | None) -> Page:
    bounty = get_own_bounty(deps, caller, bounty_id)
    return deps.repo.list_bounty_submissions(bounty.id, limit=limit, cursor=cursor)


def get_submission(deps: Deps, caller: Caller, submission_id: str) -> Submission:
    """For its author and the bounty's owner; for anyone else it does not exist."""
    submission = deps.repo.get_submission(submission_id)
    if submission is not None:
        if submission.freelancer_id == caller.account_id:
            return submission
        bounty = deps.repo.get_bounty(submission.bounty_id)
        if bounty is not None and bounty.client_id == caller.account_id:
            return submission
    raise errors.NotFound(f"No submission {submission_id} exists.")


def _owned_submission(deps: Deps, caller: Caller, submission_id: str):
    submission = deps.repo.get_submission(submission_id)
    bounty = deps.repo.get_bounty(submission.bounty_id) if submission else None
    if bounty is None or bounty.client_id != caller.account_id:
        raise errors.NotFound(f"No submission {submission_id} to a bounty of yours exists.")
    return bounty, submission


def approve_submission(deps: Deps, caller: Caller, submission_id: str, *, rating: int | None,
                       feedback: str | None) -> Submission:
    caller.require("client")

    def attempt():
        bounty, submission = _owned_submission(deps, caller, submission_id)
        return _approve(deps, bounty, submission, rating=rating, feedback=feedback, auto=False)

    return retrying(attempt)


def auto_approve(deps: Deps, submission_id: str) -> str:
    """The review window closed with no decision: the work is approved and paid like any approval."""

    def attempt() -> str:
        submission = deps.repo.get_submission(submission_id)
        if submission is None or submission.status != rules.PENDING_REVIEW:
            return "unchanged"
        if deps.clock.now() < submission.auto_approve_at:
            return "not_due"
        bounty = deps.repo.get_bounty(submission.bounty_id)
        _approve(deps, bounty, submission, rating=None, feedback=None, auto=True)
        return "auto_approved"

    return retrying(attempt)


def lapse_claim(deps: Deps, claim_id: str) -> str:
    def attempt() -> str:
        claim = deps.repo.get_claim(claim_id)
        if claim is None or claim.status != LIVE:
            return "unchanged"
        if deps.clock.now() < claim.expires_at:
            return "not_due"
        bounty = deps.repo.get_bounty(claim.bounty_id)
        participant = _participant(deps, claim.bounty_id, claim.freelancer_id)
        bounty, participant, claim = rules.end_claim(bounty, participant, claim, status=rules.LAPSED,
                                                     now=deps.clock.now())
        deps.repo.commit(changed=[bounty, participant, claim])
        return "lapsed"

    return retrying(attempt)


def _approve(deps: Deps, bounty, submission, *, rating, feedback, auto: bool) -> Submission:
    """Approves and queues the payout in one transaction; the freelancer's record counts the work."""
    participant = _participant(deps, bounty.id, submission.freelancer_id)
    bounty, participant, submission, payout = rules.approve(
        bounty, participant, submission, now=deps.clock.now(), rating=rating, feedback=feedback, auto=auto)
    freelancer: Account | None = deps.repo.get_account(submission.freelancer_id)
    changed = [bounty, participant, submission]
    if freelancer is not None:
        freelancer.completed += 1
        if rating is not None:
            freelancer.rating_sum += rating
            freelancer.rating_count += 1
        changed.append(freelancer)
    resend = timers.resend_payout(payout.id, deps.clock.now(), config.timer_shards())
    deps.repo.commit(changed=changed, created=[payout, resend])
    # The payout record is the truth; the message only wakes the worker (if it is lost, the timer re-sends it).
    deps.queue.send(config.payouts_queue_name(), {"payout_id": payout.id})
    return submission


def reject_submission(deps: Deps, caller: Caller, submission_id: str, *, reason: str) -> Submission:
    caller.require("client")

    def attempt():
        bounty, submission = _owned_submission(deps, caller, submission_id)
        participant = _participant(deps, bounty.id, submission.freelancer_id)
        bounty, participant, submission = rules.reject(bounty, participant, submission, reason=reason,
                                                       now=deps.clock.now())
        created = []
        if bounty.status != rules.OPEN and bounty.refund_owed_slots:
            created.append(timers.resend_refund(bounty.id, deps.clock.now(), config.timer_shards()))
        deps.repo.commit(changed=[bounty, participant, submission], created=created)
        return submission, bounty

    submission, bounty = retrying(attempt)
    if bounty.status != rules.OPEN and bounty.refund_owed_slots:
        deps.queue.send(config.refunds_queue_name(), {"bounty_id": bounty.id})
    return submission


def list_my_payouts(deps: Deps, caller: Caller, *, limit: int, cursor: str | None) -> Page:
    caller.require("freelancer")
    return deps.repo.list_freelancer_payouts(caller.account_id, limit=limit, cursor=cursor)


def list_my_submissions(deps: Deps, caller: Caller, *, limit: int, cursor: str | None) -> Page:
    caller.require("freelancer")
    return deps.repo.list_freelancer_submissions(caller.account_id, limit=limit, cursor=cursor)


def list_my_claims(deps: Deps, caller: Caller, *, limit: int, cursor: str | None) -> Page:
    caller.require("freelancer")
    return deps.repo.list_freelancer_claims(caller.account_id, limit=limit, cursor=cursor)
