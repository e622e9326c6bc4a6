"""Bringing stored items up to what this release and its settings read. Operator tools (`python -m ops`, and the
local stack as it restores a saved state): they read whole tables or indexes, so they never run on a request or
worker path. Each is safe to repeat and to run while the app serves."""

from __future__ import annotations

from datetime import UTC, datetime

from pynamodb.exceptions import PutError, TransactWriteError, UpdateError

from .. import config
from ..core.earnings import work_micros
from ..core.model import (
    AWAITING_FUNDING,
    CANCELLED,
    EXPIRED,
    FUNDING_FAILED,
    LIVE,
    PAID,
    PENDING_REVIEW,
    SubmissionNote,
)
from ..core.rules import MAX_NOTED_SUBMISSIONS, unpaid_intent
from ..core.search import searchable
from ..core.timers import end_claims, for_bounty, shard_of
from . import dynamo_models as m
from .dynamo import _conditional_item, _shard, _to_record, transaction_of_one_request
from .dynamo_work import copy_item


def _updated_if(item, actions, condition) -> bool:
    """Whether the update was made; False when its condition no longer held (someone changed the item first)."""
    try:
        item.update(actions, condition=condition)
    except UpdateError as error:
        if error.cause_response_code != "ConditionalCheckFailedException":
            raise
        return False
    return True


def _written_if(*, updates=(), saves=(), deletes=()) -> bool:
    """Whether the writes were made, all of them in one transaction; False when a condition no longer held.
    `updates` are (item, actions, condition), `saves` and `deletes` (item, condition)."""
    try:
        with transaction_of_one_request() as transaction:
            for item, actions, condition in updates:
                transaction.update(item, actions, condition=condition)
            for item, condition in saves:
                transaction.save(item, condition=condition)
            for item, condition in deletes:
                transaction.delete(item, condition=condition)
    except TransactWriteError as error:
        if error.cause_response_code != "TransactionCanceledException":
            raise
        return False
    return True


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
        indexed += _updated_if(item, [payout.unpaid_freelancer.set(item.freelancer_id)], not_indexed)
    return indexed


def index_reviews() -> int:
    """Gives every submission still awaiting review, handed in before submissions carried their bounty's owner,
    that owner, and so a place in the owner's review queue (the `awaiting_review` index); returns how many.

    Like `index_unpaid_payouts`, the write touches only those attributes, conditional on the submission still
    awaiting review and not yet indexed, and leaves the version alone: a decision made meanwhile writes the whole
    item at that version, taking it off the queue as it would any other (no app path rewrites work it leaves
    pending, so nothing can put an unindexed copy back). A submission whose bounty is gone is left alone."""
    m.bind()
    submission = m.SubmissionModel
    not_indexed = (submission.status == PENDING_REVIEW) & submission.review_client.does_not_exist()
    bounties: dict[str, m.BountyModel | None] = {}
    indexed = 0
    for page in _pages(submission.scan(filter_condition=not_indexed), _BATCH_KEYS):
        _read_bounties(bounties, {item.bounty_id for item in page}, ["id", "client_id"])
        indexed += sum(_indexed_for_review(item, bounties[item.bounty_id], not_indexed) for item in page)
    return indexed


def _indexed_for_review(item: m.SubmissionModel, bounty: m.BountyModel | None, condition) -> bool:
    submission = m.SubmissionModel
    if bounty is None:
        return False
    owner = bounty.client_id
    actions = [submission.client_id.set(owner), submission.review_client.set(owner),
               submission.review_due.set(m.review_due_of(item.auto_approve_at, item.id))]
    return _updated_if(item, actions, condition)


def index_search() -> int:
    """Gives every bounty the text a search of bounties looks in (`search_text`, which this release writes with
    every bounty: core.search.searchable of its title and tags) where it is missing (an earlier release stored the
    bounty) or was derived otherwise (an earlier fold of the text); returns how many.

    The write touches only that attribute, conditional on it being as read, and leaves the version alone: an app
    write of the bounty meanwhile puts the same text, derived from the same title and tags."""
    m.bind()
    bounty = m.BountyModel
    indexed = 0
    for item in bounty.scan():
        text = searchable(item.title, item.tags)
        if item.search_text == text:
            continue
        as_read = (bounty.search_text.does_not_exist() if item.search_text is None
                   else bounty.search_text == item.search_text)
        indexed += _updated_if(item, [bounty.search_text.set(text)], as_read)
    return indexed


def time_bounties(attempts: int = 5) -> int:
    """Gives every bounty with approved work the totals of its timed work (how many approved submissions were
    claimed first, and their claim-to-submission time added up), which approvals of an earlier release did not
    keep; returns how many bounties it changed. The totals are counted anew from the bounty's approved work, so
    running it again changes nothing.

    The bounty's version is read first, its approved work after (participant records and submissions, read
    consistently), and the totals are written only if the version is unchanged: every approval writes the bounty,
    so none can be missed or counted twice. The version moves on, so an app write begun on the bounty without the
    totals fails its version check and reads it again."""
    m.bind()
    bounty = m.BountyModel
    changed = 0
    for found in bounty.scan(filter_condition=bounty.approved_slots > 0):
        item = found
        for _ in range(attempts):
            totals = _timed_work(item.id)
            if (item.timed_submissions or 0, item.timed_micros or 0) == totals:
                break
            actions = [bounty.timed_submissions.set(totals[0]), bounty.timed_micros.set(totals[1]),
                       bounty.version.add(1)]
            if _updated_if(item, actions, bounty.version == item.version):
                changed += 1
                break
            item = bounty.get(found.id, consistent_read=True)
    return changed


def _timed_work(bounty_id: str) -> tuple[int, int]:
    """(approved submissions claimed first, their claim-to-submission microseconds added up), as rules.approve
    counts them."""
    participants = m.ParticipantModel.query(bounty_id, consistent_read=True,
                                            attributes_to_get=["bounty_id", "freelancer_id", "approved_submission_id"])
    approved = [p.approved_submission_id for p in participants if p.approved_submission_id]
    found = m.SubmissionModel.batch_get(approved, consistent_read=True,
                                        attributes_to_get=["id", "claimed_at", "created_at"])
    times = [work_micros(s.claimed_at, s.created_at) for s in found]
    timed = [micros for micros in times if micros is not None]
    return len(timed), sum(timed)


def reshard_open_bounties(previous_shards: int, shards: int | None = None) -> int:
    """After OPEN_INDEX_SHARDS changed from `previous_shards` to `shards` (default: the setting here): moves every
    open bounty to the shard the new setting gives it, since listings read only the shards below the setting;
    returns how many moved.

    Each move is conditional on the bounty still being under the shard it was found under, so a bounty closed
    meanwhile is not put back into the index, and one the app rewrote meanwhile keeps the app's choice."""
    m.bind()
    bounty = m.BountyModel
    moved = 0
    for shard in range(previous_shards):
        old = f"open#{shard}"
        for item in bounty.open_newest.query(old):
            new = _shard(item.id, shards)
            if new != old:
                moved += _updated_if(item, [bounty.open_shard.set(new)], bounty.open_shard == old)
    return moved


def reshard_timers(previous_shards: int, shards: int | None = None) -> int:
    """After TIMER_SHARDS changed from `previous_shards` to `shards` (default: the setting here): moves every timer
    to the shard the new setting gives it, since the sweep reads only the shards below the setting (a timer left
    above it would never fire: no auto-approval, no expiry, no refund); returns how many moved.

    The shard is part of a timer's key, so a move is a put and a delete in one transaction, the put only if the
    timer is not there yet and the delete only if it still is: a timer the sweep took meanwhile is not put back
    (and one it takes just after the move fires twice at worst, which every timer's handler shrugs off)."""
    m.bind()
    timer = m.TimerModel
    shards = shards or config.timer_shards()
    moved = 0
    for shard in range(previous_shards):
        old = f"timers#{shard}"
        for item in timer.query(old):
            new = shard_of(item.ref_id, shards)
            if new == old:
                continue
            copy = timer(new, item.due_key, kind=item.kind, ref_id=item.ref_id, due_at=item.due_at,
                         version=item.version)
            # False: taken by the sweep, or moved, meanwhile
            moved += _written_if(saves=[(copy, timer.shard.does_not_exist())], deletes=[(item, timer.shard.exists())])
    return moved


def file_unfunded_expiry() -> int:
    """Files the deadline's timer of every unfunded bounty posted before bounties got one when posted (an earlier
    release filed it only with the funding, so a bounty never funded stayed `awaiting_funding` for good); returns
    how many. A deadline already past fires at the next sweep and expires the bounty.

    The bounty is marked in the same transaction, conditional on it still being unfunded and unmarked (so one
    funded or cancelled meanwhile is left alone: its funding files the timer, or it needs none), and its version
    moves on: a write the app began on the unmarked bounty fails its version check and reads it again, rather
    than putting back the unmarked copy (whose funding would then try to file the same timer again)."""
    m.bind()
    bounty = m.BountyModel
    unmarked = bounty.expiry_timer_filed.does_not_exist() | (bounty.expiry_timer_filed == False)  # noqa: E712
    unfunded = bounty.status.is_in(AWAITING_FUNDING, FUNDING_FAILED) & unmarked
    filed = 0
    for item in bounty.scan(filter_condition=unfunded):
        deadline = _conditional_item(for_bounty(_to_record(item), config.timer_shards()), True)
        mark = (item, [bounty.expiry_timer_filed.set(True), bounty.version.add(1)], unfunded)
        filed += _written_if(updates=[mark], saves=[deadline])  # False: funded, cancelled or marked meanwhile
    return filed


def note_submissions(attempts: int = 5) -> int:
    """Gives every participant record of an earlier release the list of its freelancer's submissions to its bounty
    (which its bounty's web page then reads instead of querying an index); returns how many it gave one.

    The list is written only if the record is still at the version it was read at, and its version moves on: a
    submission made or decided meanwhile (each writes the record) makes the write fail and the record is read
    again; an app write begun on the record without the list fails its own version check and reads it again, so
    it cannot put the record back without the list."""
    m.bind()
    participant = m.ParticipantModel
    noted = 0
    for found in participant.scan(filter_condition=participant.submissions.does_not_exist()):
        item = found
        for _ in range(attempts):
            if item is None or item.submissions is not None:
                break
            notes = _submission_notes(item.bounty_id, item.freelancer_id)
            if notes is None:
                break  # past the cap: the page asks the index, as for the app's own records past it
            unchanged = participant.submissions.does_not_exist() & (participant.version == item.version)
            if _updated_if(item, [participant.submissions.set(notes), participant.version.add(1)], unchanged):
                noted += 1
                break
            item = participant.get(found.bounty_id, found.freelancer_id, consistent_read=True)
    return noted


def _submission_notes(bounty_id: str, freelancer_id: str) -> list[SubmissionNote] | None:
    submission = m.SubmissionModel
    theirs = submission.by_bounty.query(bounty_id, filter_condition=submission.freelancer_id == freelancer_id)
    notes = [SubmissionNote(s.id, s.status, s.created_at) for s in theirs]
    notes.sort(key=lambda note: note.created_at)
    return notes if len(notes) <= MAX_NOTED_SUBMISSIONS else None


def copy_work() -> int:
    """Copies every claim, submission and payout into its freelancer's list of work (which their web page reads
    instead of an index per kind), where a release before that list stored it; returns how many it copied.

    A copy is written only where there is none yet, where the one there copies an older version of its record, or
    where it lacks its bounty's brief (the app updates, rather than puts, the copy of a record written without its
    bounty: for a record of the earlier release, that makes a copy without the brief). So the app's own copies are
    never replaced by older ones, and running the step again brings up to date any record a call begun under the
    earlier release changed after the step had copied it.

    Records are taken a page at a time, with their bounties and their copies read in one batch each, and only the
    records whose copy the read finds missing or behind are written: after the first run, nearly every copy is up
    to date, and a conditional write per record (refused, but paid for) would cost more than reading them all. The
    write keeps its condition, for a copy the app writes between the read and the write."""
    m.bind()
    work = m.WorkModel
    briefs: dict[str, m.BountyModel | None] = {}
    copied = 0
    for model in (m.ClaimModel, m.SubmissionModel, m.PayoutModel):
        for page in _pages(model.scan(), _BATCH_KEYS):
            _read_bounties(briefs, {item.bounty_id for item in page}, ["id", "title", "reward", "currency"])
            wanted = [copy_item(_to_record(item), briefs[item.bounty_id], record_version=item.version)
                      for item in page]
            found = {(copy.freelancer_id, copy.sort_key): copy for copy in work.batch_get(
                [(copy.freelancer_id, copy.sort_key) for copy in wanted], consistent_read=True,
                attributes_to_get=["freelancer_id", "sort_key", "record_version", "bounty_title"])}
            for copy in wanted:
                there = found.get((copy.freelancer_id, copy.sort_key))
                if there is not None and not _copy_behind(there, copy):
                    continue
                older = work.sort_key.does_not_exist() | (work.record_version < copy.record_version)
                if copy.bounty_title is not None:  # a copy the app made by an update, from an earlier record, lacks it
                    older |= work.bounty_title.does_not_exist() & (work.record_version <= copy.record_version)
                try:
                    copy.save(condition=older)
                except PutError as error:
                    if error.cause_response_code != "ConditionalCheckFailedException":
                        raise
                    continue
                copied += 1
    return copied


_BATCH_KEYS = 100  # the most keys one BatchGetItem takes


def _pages(items, size: int):
    page = []
    for item in items:
        page.append(item)
        if len(page) == size:
            yield page
            page = []
    if page:
        yield page


def _read_bounties(bounties: dict[str, m.BountyModel | None], bounty_ids: set[str], attributes: list[str]) -> None:
    """Adds the bounties not read yet to `bounties` (None for one that is gone), with just `attributes`, read in
    one batch (at most _BATCH_KEYS ids)."""
    missing = sorted(bounty_ids - bounties.keys())
    for bounty_id in missing:
        bounties[bounty_id] = None
    for found in m.BountyModel.batch_get(missing, attributes_to_get=attributes):
        bounties[found.id] = found


def _copy_behind(there: m.WorkModel, copy: m.WorkModel) -> bool:
    """Whether the copy stored (`there`) is one the write's condition lets `copy` replace: of an older version of
    its record, or of the same version without the bounty's brief that `copy` has."""
    if there.record_version < copy.record_version:
        return True
    return copy.bounty_title is not None and there.bounty_title is None and there.record_version <= copy.record_version


def end_cancelled_claims(now: datetime | None = None) -> int:
    """Files the `end_claims` timer, due at once, of every cancelled bounty with claims still live: an earlier
    release cancelled without ending them, so they stayed listed live until their expiry. Returns how many bounties
    got one. The timer's handler ends only what is still live, so running this again files timers that find
    nothing (and files none once the claims have ended)."""
    m.bind()
    claim, bounty = m.ClaimModel, m.BountyModel
    live = claim.scan(filter_condition=claim.status == LIVE, attributes_to_get=["id", "bounty_id"])
    bounty_ids = sorted({item.bounty_id for item in live})
    due = now or datetime.now(UTC)
    filed = 0
    for start in range(0, len(bounty_ids), 100):  # a BatchGetItem's keys
        for found in bounty.batch_get(bounty_ids[start:start + 100], attributes_to_get=["id", "status"]):
            if found.status == CANCELLED:
                item, condition = _conditional_item(end_claims(found.id, due, config.timer_shards()), True)
                item.save(condition=condition)
                filed += 1
    return filed


def closed_unpaid_with_intent() -> list[str]:
    """The bounties cancelled or expired before they were paid whose PaymentIntent an earlier release left open
    (core.rules.unpaid_intent), for the refunds worker to cancel."""
    m.bind()
    bounty = m.BountyModel
    closed = bounty.status.is_in(CANCELLED, EXPIRED) & bounty.payment_intent_id.exists() & \
        bounty.charge_id.does_not_exist()
    return sorted(item.id for item in bounty.scan(filter_condition=closed)
                  if unpaid_intent(_to_record(item)) is not None)

