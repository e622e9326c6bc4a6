"""Claims, submissions and their review: the freelancer's and the client's side of a slot.

Each use case reads what it decides on in one round trip (ids name their bounty and freelancer, see
core.model.child_id), then writes in one transaction."""

from __future__ import annotations

from .. import config
from ..core import errors, rules, timers
from ..core.model import (
    END_CLAIMS,
    LIVE,
    OPEN,
    RELEASED,
    Account,
    Bounty,
    Claim,
    Increment,
    Participant,
    Payout,
    Submission,
    child_id,
)
from ..repository import Page, Ref
from .bounties import get_own_bounty, visible, with_standing
from .deps import Caller, Deps, fetch, fetch_with_parents, retrying


def _or_new(participant: Participant | None, bounty_id: str, freelancer_id: str, *, first_work: bool = True
            ) -> Participant:
    """The record as read, or a new one. Every claim and submission writes its freelancer's record, so without one
    they have submitted nothing here (`first_work`); one missing under an existing record is not known to be."""
    return participant or Participant(bounty_id, freelancer_id, submissions=[] if first_work else None)


def _writes(*records):
    """Splits records into those read before (version > 0) and new ones."""
    changed = [r for r in records if r is not None and r.version > 0]
    created = [r for r in records if r is not None and r.version == 0]
    return changed, created


def _with_parents(deps: Deps, caller: Caller | None, kind: type, record_id: str, *, standing: bool = True):
    """A claim or submission with its bounty and (if `standing`) its freelancer's participant record."""
    def parents(bounty_id: str, freelancer_id: str) -> list[Ref]:
        return [Ref(Bounty, bounty_id)] + ([Ref(Participant, bounty_id, freelancer_id)] if standing else [])

    record, found = fetch_with_parents(deps, caller, kind, record_id, parents)
    bounty, participant = (found + [None])[:2]
    if record is not None and standing:
        participant = _or_new(participant, record.bounty_id, record.freelancer_id, first_work=False)
    return record, bounty, participant


def claim_bounty(deps: Deps, caller: Caller, bounty_id: str):
    caller.require("freelancer")

    def attempt():
        bounty, participant, account = with_standing(deps, caller, bounty_id)
        bounty = visible(bounty, caller, participant, bounty_id)
        participant = _or_new(participant, bounty_id, caller.account_id)
        now = deps.clock.now()
        bounty, participant, lapsed = rules.lapse_expired_claim(bounty, participant, now)
        bounty, participant, claim = rules.claim(bounty, participant, now=now,
                                                 claim_id=child_id("clm_", bounty_id, caller.account_id))
        rules.check_qualified(bounty, account)  # after the bounty's own refusals (closed, already claimed)
        changed, created = _writes(bounty, participant, lapsed)
        lapse = timers.for_claim(claim, bounty, config.timer_shards())
        deps.repo.commit(changed=changed, created=created + [claim] + ([lapse] if lapse else []), final=True)
        return claim

    return retrying(attempt)


def release_claim(deps: Deps, caller: Caller, claim_id: str):
    caller.require("freelancer")

    def attempt():
        claim, bounty, participant = _with_parents(deps, caller, Claim, claim_id)
        if claim is None or claim.freelancer_id != caller.account_id:
            raise errors.NotFound(f"No claim {claim_id} of yours exists.")
        bounty, participant, claim = rules.end_claim(bounty, participant, claim, status=RELEASED,
                                                     now=deps.clock.now())
        deps.repo.commit(changed=[bounty, participant, claim], final=True)
        return claim

    return retrying(attempt)


def submit_work(deps: Deps, caller: Caller, bounty_id: str, *, content: str, links: list[str]) -> Submission:
    caller.require("freelancer")

    def attempt():
        bounty, participant, account = with_standing(deps, caller, bounty_id)
        bounty = visible(bounty, caller, participant, bounty_id)
        participant = _or_new(participant, bounty_id, caller.account_id)
        live_claim = participant.live_claim()
        if live_claim is None and participant.live_claim_id:  # stored before the copy existed: read it
            live_claim, = fetch(deps, None, Ref(Claim, participant.live_claim_id))
        if live_claim is not None and live_claim.status != LIVE:
            live_claim = None
        now = deps.clock.now()
        held = live_claim
        bounty, participant, live_claim, submission = rules.submit(
            bounty, participant, live_claim, content=content, links=links, now=now,
            submission_id=child_id("sub_", bounty_id, caller.account_id))
        rules.check_qualified_to_hand_in(bounty, account, held, now)  # after the bounty's own refusals
        changed, created = _writes(bounty, participant, live_claim)
        auto_approval = timers.for_submission(submission, config.timer_shards())
        deps.repo.commit(changed=changed, created=created + [submission, auto_approval], final=True)
        return submission

    return retrying(attempt)


def live_claim_on(deps: Deps, bounty: Bounty, participant: Participant | None) -> Claim | None:
    """A freelancer's live claim on a bounty, from their participant record (read with the bounty), as it stands
    now: None once it has ended or expired, or once the bounty has closed (its timer ends the claim within a
    minute of a cancel; meanwhile it is no use, since the bounty takes no work)."""
    if participant is None or bounty.status != OPEN:
        return None
    claim = participant.live_claim()
    if claim is None and participant.live_claim_id:  # stored before the copy existed: read it
        claim, = fetch(deps, None, Ref(Claim, participant.live_claim_id))
    if claim is None:
        return None
    claim = rules.as_of(claim, deps.clock.now())
    return claim if claim.status == LIVE else None


def my_submissions_on(deps: Deps, caller: Caller, participant: Participant) -> list:
    """A freelancer's submissions to a bounty, newest first, from their participant record (read with the
    bounty); from the index of their submissions for a record that does not list them (an earlier release's)."""
    if participant.submissions is not None:
        return sorted(participant.submissions, key=lambda note: note.created_at, reverse=True)
    page = list_my_submissions(deps, caller, limit=MY_SUBMISSIONS_SCANNED, cursor=None)
    return [s for s in page.items if s.bounty_id == participant.bounty_id]


MY_SUBMISSIONS_SCANNED = 100  # of a record that does not list them: the newest this many are looked through


def list_bounty_submissions(deps: Deps, caller: Caller, bounty_id: str, *, limit: int, cursor: str | None,
                            status: str | None = None) -> Page:
    bounty = get_own_bounty(deps, caller, bounty_id)
    return deps.repo.list_bounty_submissions(bounty.id, limit=limit, cursor=cursor, status=status)


def get_submission(deps: Deps, caller: Caller, submission_id: str) -> Submission:
    """For its author and the bounty's owner; for anyone else it does not exist."""
    submission, bounty, _ = _with_parents(deps, caller, Submission, submission_id, standing=False)
    if submission is not None and (submission.freelancer_id == caller.account_id
                                   or (bounty is not None and bounty.client_id == caller.account_id)):
        return submission
    raise errors.NotFound(f"No submission {submission_id} exists.")


def get_own_submission_with_bounty(deps: Deps, caller: Caller, submission_id: str
                                   ) -> tuple[Submission, Bounty | None]:
    """A freelancer's own submission and its bounty, read together."""
    submission, bounty, _ = _with_parents(deps, caller, Submission, submission_id, standing=False)
    if submission is None or submission.freelancer_id != caller.account_id:
        raise errors.NotFound(f"No submission {submission_id} exists.")
    return submission, bounty


def _owned_submission(deps: Deps, caller: Caller, submission_id: str):
    submission, bounty, participant = _with_parents(deps, caller, Submission, submission_id)
    if submission is None or bounty is None or bounty.client_id != caller.account_id:
        raise errors.NotFound(f"No submission {submission_id} to a bounty of yours exists.")
    return bounty, submission, participant


def approve_submission(deps: Deps, caller: Caller, submission_id: str, *, rating: int | None,
                       feedback: str | None) -> Submission:
    caller.require("client")

    def attempt():
        bounty, submission, participant = _owned_submission(deps, caller, submission_id)
        return _approve(deps, bounty, submission, participant, rating=rating, feedback=feedback, auto=False)

    return retrying(attempt)


def auto_approve(deps: Deps, submission_id: str) -> str:
    """The review window closed with no decision: the work is approved and paid like any approval."""

    def attempt() -> str:
        submission, bounty, participant = _with_parents(deps, None, Submission, submission_id)
        if submission is None or submission.status != rules.PENDING_REVIEW:
            return "unchanged"
        if deps.clock.now() < submission.auto_approve_at:
            return "not_due"
        _approve(deps, bounty, submission, participant, rating=None, feedback=None, auto=True)
        return "auto_approved"

    return retrying(attempt)


def lapse_claim(deps: Deps, claim_id: str) -> str:
    def attempt() -> str:
        claim, bounty, participant = _with_parents(deps, None, Claim, claim_id)
        if claim is None or claim.status != LIVE:
            return "unchanged"
        if deps.clock.now() < claim.expires_at:
            return "not_due"
        bounty, participant, claim = rules.end_claim(bounty, participant, claim, status=rules.LAPSED,
                                                     now=deps.clock.now())
        deps.repo.commit(changed=[bounty, participant, claim])
        return "lapsed"

    return retrying(attempt)


# A cancelled bounty's live claims, ended per timers message within the worker's 4 calls: one Query, one
# BatchGetItem of the bounty and each claim with its freelancer's record (100 keys at most), and two transactions
# (each claim ended writes 3 items: itself, the record, and its copy in the freelancer's list of work).
CLAIMS_ENDED_PER_MESSAGE = 49
CLAIMS_ENDED_PER_WRITE = 33


def end_claims_of_closed_bounty(deps: Deps, bounty_id: str) -> str:
    """Ends the live claims of a bounty that closed before they expired, since it takes no more work, so their
    freelancers see them ended (GET /v1/claims, my work) at once rather than held until their expiry. Idempotent:
    each claim is read again and ended only while live; a batch too big for one message goes on in another."""
    def attempt() -> tuple[int, bool]:
        listed = deps.repo.list_live_claims(bounty_id, limit=CLAIMS_ENDED_PER_MESSAGE + 1)
        batch = listed[:CLAIMS_ENDED_PER_MESSAGE]
        refs = [Ref(Bounty, bounty_id)]
        for claim in batch:
            refs += [Ref(Claim, claim.id), Ref(Participant, bounty_id, claim.freelancer_id)]
        bounty, *found = deps.repo.get_many(refs)
        if bounty is None or bounty.status == OPEN:
            return 0, False
        ended = []
        for claim, participant in zip(found[::2], found[1::2], strict=True):
            if claim is None or claim.status != LIVE:
                continue  # ended meanwhile, or the index had not caught up with its end yet
            participant = _or_new(participant, bounty_id, claim.freelancer_id, first_work=False)
            ended += rules.end_with_bounty(bounty, participant, claim, now=deps.clock.now())
        for start in range(0, len(ended), 2 * CLAIMS_ENDED_PER_WRITE):
            changed, created = _writes(*ended[start:start + 2 * CLAIMS_ENDED_PER_WRITE])
            deps.repo.commit(changed=changed, created=created)
        return len(ended) // 2, len(listed) > len(batch)

    count, more = retrying(attempt)
    if more:
        deps.queue.send(config.timers_queue_name(), {"kind": END_CLAIMS, "ref_id": bounty_id})
    return "claims_ended" if count else "unchanged"


def _approve(deps: Deps, bounty, submission, participant, *, rating, feedback, auto: bool) -> Submission:
    """Approves and queues the payout in one transaction; the freelancer's record counts the work (by adding to
    its counters, which needs no read of it)."""
    bounty, participant, submission, payout = rules.approve(
        bounty, participant, submission, now=deps.clock.now(), rating=rating, feedback=feedback, auto=auto)
    counts = {"completed": 1} | ({"rating_sum": rating, "rating_count": 1} if rating is not None else {})
    resend = timers.resend_payout(payout.id, deps.clock.now(), config.timer_shards())
    deps.repo.commit(changed=[bounty, participant, submission], created=[payout, resend],
                     increments=[Increment(Account, submission.freelancer_id, counts)], final=True)
    # The payout record is the truth; the message only wakes the worker (if it is lost, the timer re-sends it).
    deps.queue.send(config.payouts_queue_name(), {"payout_id": payout.id})
    return submission


def reject_submission(deps: Deps, caller: Caller, submission_id: str, *, reason: str) -> Submission:
    caller.require("client")

    def attempt():
        bounty, submission, participant = _owned_submission(deps, caller, submission_id)
        bounty, participant, submission = rules.reject(bounty, participant, submission, reason=reason,
                                                       now=deps.clock.now())
        created = []
        if bounty.status != rules.OPEN and bounty.refund_owed_slots:
            created.append(timers.resend_refund(bounty.id, deps.clock.now(), config.timer_shards()))
        deps.repo.commit(changed=[bounty, participant, submission], created=created, final=True)
        return submission, bounty

    submission, bounty = retrying(attempt)
    if bounty.status != rules.OPEN and bounty.refund_owed_slots:
        deps.queue.send(config.refunds_queue_name(), {"bounty_id": bounty.id})
    return submission


def list_my_payouts(deps: Deps, caller: Caller, *, limit: int, cursor: str | None, status: str | None = None) -> Page:
    """`status`: one payout status, or UNPAID for every payout not yet paid (what the freelancer is owed)."""
    caller.require("freelancer")
    return deps.repo.list_freelancer_payouts(caller.account_id, limit=limit, cursor=cursor, status=status)


def get_my_payout(deps: Deps, caller: Caller, payout_id: str) -> Payout:
    """One of the caller's payouts, by id; anyone else's does not exist."""
    caller.require("freelancer")
    [payout] = fetch(deps, caller, Ref(Payout, payout_id))
    if payout is None or payout.freelancer_id != caller.account_id:
        raise errors.NotFound(f"No payout {payout_id} of yours exists.")
    return payout


def list_my_submissions(deps: Deps, caller: Caller, *, limit: int, cursor: str | None) -> Page:
    caller.require("freelancer")
    return deps.repo.list_freelancer_submissions(caller.account_id, limit=limit, cursor=cursor)


def list_awaiting_my_review(deps: Deps, caller: Caller, *, limit: int, cursor: str | None) -> Page:
    """Work handed in to the client's bounties that still awaits their decision, soonest auto-approval first: what
    they must review before it is approved and paid without them."""
    caller.require("client")
    return deps.repo.list_awaiting_review(caller.account_id, limit=limit, cursor=cursor)


def list_submissions_of(deps: Deps, caller: Caller, *, limit: int, cursor: str | None) -> Page:
    """The submissions that are the caller's business: a freelancer's own, a client's review queue."""
    if caller.role == "client":
        return list_awaiting_my_review(deps, caller, limit=limit, cursor=cursor)
    return list_my_submissions(deps, caller, limit=limit, cursor=cursor)


def list_my_claims(deps: Deps, caller: Caller, *, limit: int, cursor: str | None) -> Page:
    caller.require("freelancer")
    page = deps.repo.list_freelancer_claims(caller.account_id, limit=limit, cursor=cursor)
    now = deps.clock.now()
    return Page([rules.as_of(claim, now) for claim in page.items], page.next_cursor, page.cursor_after)
