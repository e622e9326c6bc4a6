"""The repository on DynamoDB: records in and out, versioned conditional writes, index queries."""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import operator
import time
import uuid
from collections.abc import Sequence
from dataclasses import replace
from typing import Any

from pynamodb.connection import Connection
from pynamodb.exceptions import DeleteError, PutError, TransactWriteError, UpdateError
from pynamodb.transactions import TransactWrite

from .. import config
from ..core import errors, search
from ..core.model import (
    FAILED,
    LIVE,
    OPEN,
    PAID,
    PENDING_REVIEW,
    UNPAID,
    Account,
    ApiKey,
    Bounty,
    Claim,
    Increment,
    LedgerEntry,
    Message,
    Participant,
    Payout,
    Submission,
    Timer,
)
from ..repository import IdempotencyRecord, KeyGuard, MessageWindow, Page, Ref, current_lock
from . import dynamo_models as m
from . import dynamo_work
from .cursors import decode_cursor, encode_cursor

_MODEL_OF: dict[type, type[m._Table]] = {
    Account: m.AccountModel,
    ApiKey: m.ApiKeyModel,
    Bounty: m.BountyModel,
    Claim: m.ClaimModel,
    Submission: m.SubmissionModel,
    Participant: m.ParticipantModel,
    Payout: m.PayoutModel,
    LedgerEntry: m.LedgerEntryModel,
    Message: m.MessageModel,
    IdempotencyRecord: m.IdempotencyModel,
    Timer: m.TimerModel,
}
_RECORD_OF = {model: record for record, model in _MODEL_OF.items()}
_MODEL_OF_TABLE: dict[str, type[m._Table]] = {}  # filled by DynamoRepository(), once the tables are named


def _key_of(ref: Ref) -> tuple[str, tuple[str, str | None]]:
    return _MODEL_OF[ref.kind].Meta.table_name, (ref.hash_key, ref.range_key)
UNPROCESSED_ATTEMPTS = 6
_RETRYABLE_CANCELLATIONS = {"ConditionalCheckFailed", "TransactionConflict"}
FAILED_FLAG = "failed"
# Items a filtered listing reads per Query at most (DynamoDB bills every item read, passed by the filter or not):
# a filter few items pass gives short pages, each with the cursor to read on, rather than one request reading the
# whole index.
FILTERED_READ = 200
CLAIMS_PER_PAGE = 1000  # a page of claims, live or not, read when looking for a bounty's live ones (~300 KB)


def create_tables() -> None:
    """Creates every missing table (local stack and tests; on AWS the tables come from infra/)."""
    m.bind()
    for model in m.ALL_MODELS:
        if not model.exists():
            model.create_table(wait=True)
            if model is m.IdempotencyModel:
                model.update_ttl(ignore_update_ttl_errors=True)


# ---- records <-> items -------------------------------------------------------------------------------

_sort_key = m.sort_key_of


def _shard(record_id: str, shards: int | None = None) -> str:
    digest = hashlib.blake2s(record_id.encode(), digest_size=2).digest()
    return f"open#{int.from_bytes(digest, 'big') % (shards or config.open_index_shards())}"


def _to_item(record: Any, version: int) -> m._Table:
    model = _MODEL_OF[type(record)]
    values = {f.name: getattr(record, f.name) for f in dataclasses.fields(record)}
    values["version"] = version
    if hasattr(model, "sort_key"):
        values["sort_key"] = _sort_key(record.created_at, record.id)
    if isinstance(record, Bounty):
        values["open_shard"] = _shard(record.id) if record.status == OPEN else None
        values["search_text"] = search.searchable(record.title, record.tags)
    if isinstance(record, Submission):
        awaiting = record.status == PENDING_REVIEW and record.client_id is not None
        values["review_client"] = record.client_id if awaiting else None
        values["review_due"] = m.review_due_of(record.auto_approve_at, record.id) if awaiting else None
    if isinstance(record, Payout):
        values["failed_flag"] = FAILED_FLAG if record.status == FAILED else None
        values["unpaid_freelancer"] = record.freelancer_id if record.status != PAID else None
    return m.without_defaults(model(**values))


def _to_record(item: m._Table) -> Any:
    record_type = _RECORD_OF[type(item)]
    return record_type(**{f.name: getattr(item, f.name) for f in dataclasses.fields(record_type)})


def _newest(index, hash_value: str, after: str | None, condition, want: int) -> tuple[list, str | None]:
    """Up to `want` items of an index partition, newest first, older than the sort key `after`; with a filter,
    those it passes among the FILTERED_READ (or `want`) newest. Always in one Query: one answer holds at most 1 MB,
    and rather than a second Query for the rest (past the request's two calls), the page is short. Also the sort
    key the read stopped at when it stopped short of `want` before the partition's end (a filter, or 1 MB: the
    next read goes on below it), else None."""
    older = index._model.sort_key < after if after else None
    items, stopped_at = m.one_query(index, hash_value, older, filter_condition=condition, scan_index_forward=False,
                                    page_size=want if condition is None else max(want, FILTERED_READ))
    items = items[:want]
    return items, stopped_at["sort_key"]["S"] if stopped_at and len(items) < want else None


def _bounty_filter(*, status: str | None = None, tag: str | None = None, min_reward: int | None = None,
                   words: tuple[str, ...] = ()):
    """The filter expression a listing of bounties applies to what it reads (None: no filter)."""
    conditions = [m.BountyModel.status == status] if status else []
    if tag:
        conditions.append(m.BountyModel.tags.contains(tag))
    if min_reward is not None:
        conditions.append(m.BountyModel.reward >= min_reward)
    conditions += [m.BountyModel.search_text.contains(word) for word in words]
    return functools.reduce(operator.and_, conditions) if conditions else None


def _page_of(listing: str, items: list, limit: int, read_to: str | None) -> Page:
    """A page of the first `limit` of `items` (newest first; one more tells that more follow), going on after
    its last item, or below `read_to` where a filtered read stopped with fewer."""

    def cursor_after(i: int) -> str:
        return encode_cursor(listing, items[i].sort_key)

    if len(items) > limit:
        more = cursor_after(limit - 1)
    else:
        more = encode_cursor(listing, read_to) if read_to is not None else None
    return Page([_to_record(item) for item in items[:limit]], more, cursor_after)


def _more(items: list, limit: int, stopped_at: dict | None, cursor_after) -> str | None:
    """The cursor to the page after one Query's `items` (m.last_before_more), None at the list's end."""
    last = m.last_before_more(items, limit, stopped_at)
    return cursor_after(last) if last is not None else None


class DynamoRepository:
    """Implements chalicelib.repository.Repository on PynamoDB."""

    def __init__(self) -> None:
        m.bind()
        _MODEL_OF_TABLE.clear()
        _MODEL_OF_TABLE.update({model.Meta.table_name: model for model in m.ALL_MODELS})

    # -- reads by key --

    def _get(self, model: type[m._Table], hash_key: str, range_key: str | None = None):
        try:
            return _to_record(model.get(hash_key, range_key, consistent_read=True))
        except model.DoesNotExist:
            return None

    def get_account(self, account_id: str) -> Account | None:
        return self._get(m.AccountModel, account_id)

    def get_api_key(self, key_hash: str) -> ApiKey | None:
        return self._get(m.ApiKeyModel, key_hash)

    def get_bounty(self, bounty_id: str) -> Bounty | None:
        return self._get(m.BountyModel, bounty_id)

    def get_claim(self, claim_id: str) -> Claim | None:
        return self._get(m.ClaimModel, claim_id)

    def get_submission(self, submission_id: str) -> Submission | None:
        return self._get(m.SubmissionModel, submission_id)

    def get_payout(self, payout_id: str) -> Payout | None:
        return self._get(m.PayoutModel, payout_id)

    def get_participant(self, bounty_id: str, freelancer_id: str) -> Participant | None:
        return self._get(m.ParticipantModel, bounty_id, freelancer_id)

    def get_idempotency(self, key: str) -> IdempotencyRecord | None:
        return self._get(m.IdempotencyModel, key)

    def get_many(self, refs: Sequence[Ref]) -> list[Any]:
        """One BatchGetItem across tables (strongly consistent). Keys DynamoDB hands back unprocessed (under
        load) are asked for again."""
        wanted = [_key_of(ref) for ref in refs]
        pending: dict[str, dict] = {}
        for table, key in dict.fromkeys(wanted):
            model = _MODEL_OF_TABLE[table]
            raw_key = {model._hash_keyname: {"S": key[0]}}
            if key[1] is not None:
                raw_key[model._range_keyname] = {"S": key[1]}
            pending.setdefault(table, {"Keys": [], "ConsistentRead": True})["Keys"].append(raw_key)
        found: dict[tuple, Any] = {}
        for attempt in range(UNPROCESSED_ATTEMPTS + 1):
            if not pending:
                break
            if attempt:
                time.sleep(min(0.025 * 2 ** attempt, 1.0))  # DynamoDB's advice for unprocessed keys: back off
            answer = _connection().dispatch("BatchGetItem", {"RequestItems": pending})
            for table, items in answer.get("Responses", {}).items():
                model = _MODEL_OF_TABLE[table]
                for raw in items:
                    range_value = raw[model._range_keyname]["S"] if model._range_keyname else None
                    found[(table, (raw[model._hash_keyname]["S"], range_value))] = _to_record(model.from_raw_data(raw))
            pending = answer.get("UnprocessedKeys") or {}
        if pending:
            raise errors.ServiceUnavailable("The database is busy; try again in a moment.", code="storage_busy")
        return [found.get(key) for key in wanted]

    # -- index queries --

    def list_api_keys(self, account_id: str) -> list[ApiKey]:
        return [_to_record(item) for item in m.ApiKeyModel.by_account.query(account_id)]

    def page_api_keys(self, account_id: str, *, limit: int, cursor: str | None) -> Page:
        """Newest first: key ids are time-ordered."""
        listing = f"api_keys:{account_id}"
        after = decode_cursor(listing, cursor)
        older = m.ApiKeyModel.key_id < after.split("#", 1)[1] if after else None
        items = list(m.ApiKeyModel.by_account.query(account_id, older, scan_index_forward=False, limit=limit + 1))

        def cursor_after(i: int) -> str:
            return encode_cursor(listing, f"key#{items[i].key_id}")

        more = cursor_after(limit - 1) if len(items) > limit else None
        return Page([_to_record(item) for item in items[:limit]], more, cursor_after)

    def _page(self, index, hash_value: str, *, limit: int, cursor: str | None, filter_condition=None) -> Page:
        listing = f"{index.Meta.index_name}:{hash_value}"
        items, read_to = _newest(index, hash_value, decode_cursor(listing, cursor), filter_condition, limit + 1)
        return _page_of(listing, items, limit, read_to)

    def list_open_bounties(self, *, limit: int, cursor: str | None, tag: str | None = None,
                           min_reward: int | None = None, words: tuple[str, ...] = ()) -> Page:
        """Newest first across the shards of the sparse open index: each shard gives its newest limit+1 after the
        cursor (of those a filter passes, among the FILTERED_READ newest), and the merge keeps the newest `limit`
        that every shard has been read down to."""
        after = decode_cursor("open", cursor)
        condition = _bounty_filter(tag=tag, min_reward=min_reward, words=words)
        candidates: list[m.BountyModel] = []
        read_to = None  # the highest sort key a shard's read stopped at: below it, that shard is unread
        for shard in range(config.open_index_shards()):
            items, shard_read_to = _newest(m.BountyModel.open_newest, f"open#{shard}", after, condition, limit + 1)
            candidates += items
            read_to = max(read_to or "", shard_read_to or "") or None
        candidates.sort(key=lambda item: item.sort_key, reverse=True)
        if read_to is not None:
            candidates = [item for item in candidates if item.sort_key >= read_to]
        return _page_of("open", candidates, limit, read_to)

    def list_client_bounties(self, client_id: str, *, limit: int, cursor: str | None, status: str | None = None,
                             tag: str | None = None, min_reward: int | None = None,
                             words: tuple[str, ...] = ()) -> Page:
        condition = _bounty_filter(status=status, tag=tag, min_reward=min_reward, words=words)
        return self._page(m.BountyModel.by_client, client_id, limit=limit, cursor=cursor, filter_condition=condition)

    def list_bounty_submissions(self, bounty_id: str, *, limit: int, cursor: str | None,
                                status: str | None = None) -> Page:
        condition = m.SubmissionModel.status == status if status else None
        return self._page(m.SubmissionModel.by_bounty, bounty_id, limit=limit, cursor=cursor,
                          filter_condition=condition)

    def list_bounty_claims(self, bounty_id: str, *, limit: int, cursor: str | None) -> Page:
        return self._page(m.ClaimModel.by_bounty, bounty_id, limit=limit, cursor=cursor)

    def list_live_claims(self, bounty_id: str, *, limit: int) -> list[Claim]:
        """Up to `limit` of the bounty's claims the index lists as live (it may lag a write by a moment: read each
        again before deciding on it). A bounty has one claim record per freelancer who ever claimed it, so one
        page of CLAIMS_PER_PAGE reads them all but on the busiest bounties."""
        items = m.ClaimModel.by_bounty.query(bounty_id, filter_condition=m.ClaimModel.status == LIVE, limit=limit,
                                             page_size=CLAIMS_PER_PAGE)
        return [_to_record(item) for item in items]

    def list_awaiting_review(self, client_id: str, *, limit: int, cursor: str | None) -> Page:
        """Soonest auto-approval first, from the sparse index of submissions awaiting review: the read costs what
        still awaits the client, never their bounties' decided history."""
        listing = f"awaiting_review:{client_id}"
        after = decode_cursor(listing, cursor)
        later = m.SubmissionModel.review_due > after if after else None
        items, stopped_at = m.one_query(m.SubmissionModel.awaiting_review, client_id, later, page_size=limit + 1)

        def cursor_after(i: int) -> str:
            return encode_cursor(listing, items[i].review_due)

        return Page([_to_record(item) for item in items[:limit]], _more(items, limit, stopped_at, cursor_after),
                    cursor_after)

    def list_freelancer_submissions(self, freelancer_id: str, *, limit: int, cursor: str | None) -> Page:
        return self._page(m.SubmissionModel.by_freelancer, freelancer_id, limit=limit, cursor=cursor)

    def list_freelancer_claims(self, freelancer_id: str, *, limit: int, cursor: str | None) -> Page:
        return self._page(m.ClaimModel.by_freelancer, freelancer_id, limit=limit, cursor=cursor)

    def list_freelancer_payouts(self, freelancer_id: str, *, limit: int, cursor: str | None,
                                status: str | None = None) -> Page:
        """Newest first; with a status other than paid (or UNPAID for all of those), from the sparse index of
        unpaid payouts, so the read costs what is still owed, not the freelancer's whole history."""
        if status is None:
            return self._page(m.PayoutModel.by_freelancer, freelancer_id, limit=limit, cursor=cursor)
        condition = m.PayoutModel.status == status
        if status == PAID:
            return self._page(m.PayoutModel.by_freelancer, freelancer_id, limit=limit, cursor=cursor,
                              filter_condition=condition)
        return self._page(m.PayoutModel.unpaid, freelancer_id, limit=limit, cursor=cursor,
                          filter_condition=None if status == UNPAID else condition)

    def list_failed_payouts(self, *, limit: int, cursor: str | None) -> Page:
        return self._page(m.PayoutModel.failed, FAILED_FLAG, limit=limit, cursor=cursor)

    def list_ledger(self, bounty_id: str) -> list[LedgerEntry]:
        return [_to_record(item) for item in m.LedgerEntryModel.query(bounty_id, consistent_read=True)]

    def list_messages(self, bounty_id: str, *, limit: int, cursor: str | None) -> Page:
        """Oldest first, as a thread reads; the cursor is the last message id seen."""
        listing = f"messages:{bounty_id}"
        after = decode_cursor(listing, cursor)
        range_condition = m.MessageModel.id > after.split("#", 1)[1] if after else None
        items, stopped_at = m.one_query(m.MessageModel, bounty_id, range_condition, consistent_read=True,
                                        page_size=limit + 1)

        def cursor_after(i: int) -> str:
            return encode_cursor(listing, _sort_key(items[i].created_at, items[i].id))

        return Page([_to_record(item) for item in items[:limit]], _more(items, limit, stopped_at, cursor_after),
                    cursor_after)

    def message_window(self, bounty_id: str, *, limit: int, before: str | None = None,
                       after: str | None = None) -> MessageWindow:
        """After a cursor: the next `limit` messages. Otherwise the newest `limit` before the cursor (or of all), so
        a thread opens on its latest messages. `later` is a cursor of list_messages; `earlier` one of this."""
        forward, back = f"messages:{bounty_id}", f"messages-before:{bounty_id}"
        if after:
            page = self.list_messages(bounty_id, limit=limit, cursor=after)
            first = page.items[0] if page.items else None
            earlier = encode_cursor(back, _sort_key(first.created_at, first.id)) if first else None
            return MessageWindow(page.items, earlier=earlier, later=page.next_cursor)
        until = decode_cursor(back, before)
        older = m.MessageModel.id < until.split("#", 1)[1] if until else None
        items, stopped_at = m.one_query(m.MessageModel, bounty_id, older, scan_index_forward=False,
                                        consistent_read=True, page_size=limit + 1)
        shown = [_to_record(item) for item in reversed(items[:limit])]
        more_before = len(items) > limit or (stopped_at is not None and bool(shown))
        earlier = encode_cursor(back, _sort_key(shown[0].created_at, shown[0].id)) if more_before else None
        later = encode_cursor(forward, _sort_key(shown[-1].created_at, shown[-1].id)) if until and shown else None
        return MessageWindow(shown, earlier=earlier, later=later)

    def list_work(self, freelancer_id: str, *, limit: int, cursor: str | None = None) -> Page:
        listing = f"work:{freelancer_id}"
        entries, more = dynamo_work.newest(freelancer_id, limit, before=decode_cursor(listing, cursor))
        return Page(entries, encode_cursor(listing, more) if more else None)

    def due_timers(self, shard: str, *, until: str, limit: int) -> list[Timer]:
        """Timers of one shard due at or before `until` (a due_prefix): a key range, so the read
        costs what is due, not what is stored."""
        items = m.TimerModel.query(shard, m.TimerModel.due_key <= until + "~", consistent_read=True, limit=limit)
        return [_to_record(item) for item in items]

    # -- writes --

    def commit(self, changed: Sequence[Any] = (), created: Sequence[Any] = (), deleted: Sequence[Any] = (),
               increments: Sequence[Increment] = (), guard: KeyGuard | None = None, final: bool = False) -> None:
        """Writes every record or none. `changed` ones must still be at the version they were read
        at, `created` ones must not exist yet; any lost race raises ConcurrentUpdate. With a guard, the
        write happens only if its API key holds (else Unauthenticated). A request holding an Idempotency-Key lock
        takes it in its first write and stores its answer in its `final` one (repository.IdempotencyLock)."""
        writes = [(record, False) for record in changed] + [(record, True) for record in created]
        lock = current_lock()
        locking = lock is not None and not lock.taken and bool(writes or deleted or increments)
        answered = lock.answer_in(list(changed) + list(created)) if lock is not None and final else None
        stored = answered[1] if answered else replace(lock.record, body=lock.resume) if locking else None
        if stored is not None:  # last of the puts: its cancellation reason is found by position
            writes.append((stored, True) if locking else (replace(stored, version=lock.version), False))
        copy_puts, copy_updates = dynamo_work.copies(list(changed) + list(created))
        if len(writes) == 1 and not (deleted or increments or guard or copy_puts or copy_updates):
            self._save_one(*writes[0])
            return
        try:
            with transaction_of_one_request() as transaction:
                if guard is not None:  # condition checks come first in the request, so its reason is the first
                    transaction.condition_check(m.ApiKeyModel, guard.key_hash, condition=_holds(guard))
                for record, is_new in writes:
                    item, condition = _conditional_item(record, is_new)
                    transaction.save(item, condition=condition)
                for item in copy_puts:  # after the records' puts, so their reasons keep their places
                    transaction.save(item)
                for record in deleted:
                    item = _to_item(record, record.version)
                    transaction.delete(item, condition=type(item).version == record.version)
                for increment in increments:
                    model = _MODEL_OF[increment.kind]
                    item = model(**{model._hash_keyname: increment.key})
                    transaction.update(item, _added(model, increment) + [model.version.add(1)],
                                       condition=_within_ceilings(model, increment))
                for item, actions in copy_updates:  # last: updates follow the puts, and these carry no condition
                    transaction.update(item, actions)
        except TransactWriteError as error:
            reasons = _reasons(error)
            if guard is not None and reasons and reasons[0] == "ConditionalCheckFailed":
                raise errors.Unauthenticated("This API key is not valid; check it or create a new account.") from error
            lock_at = (guard is not None) + len(deleted) + len(writes) - 1
            if locking and len(reasons) > lock_at and reasons[lock_at] == "ConditionalCheckFailed":
                raise errors.IdempotencyKeyTaken() from error
            # DynamoDB sends condition checks, deletes, puts, then updates: the increments lead the updates.
            first_increment = lock_at + 1 + len(copy_puts)
            for at, increment in enumerate(increments, start=first_increment):
                if increment.ceilings and len(reasons) > at and reasons[at] == "ConditionalCheckFailed":
                    raise errors.CeilingReached(str(reasons)) from error
            _raise_if_race(error, reasons)
            raise
        if stored is not None:
            lock.taken, lock.version = True, (1 if locking else lock.version + 1)
            lock.answered = answered[0] if answered else None

    def _save_one(self, record: Any, is_new: bool) -> None:
        item, condition = _conditional_item(record, is_new)
        try:
            item.save(condition=condition)
        except PutError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise errors.ConcurrentUpdate(type(record).__name__) from error
            raise

    def set_if(self, kind: type, key: str, values: dict[str, Any], *, expected: dict[str, Any],
               along: Sequence[Any] = (), created: Sequence[Any] = (), at_most: dict[str, Any] | None = None) -> bool:
        model = _MODEL_OF[kind]
        condition = getattr(model, model._hash_keyname).exists()
        for name, value in expected.items():
            condition &= getattr(model, name) == value
        for name, value in (at_most or {}).items():
            condition &= _unset_or_at_most(getattr(model, name), value)
        actions = [getattr(model, name).set(value) for name, value in values.items()] + [model.version.add(1)]
        item = model(**{model._hash_keyname: key})
        puts = [(record, False) for record in along] + [(record, True) for record in created]
        if not puts:
            try:
                item.update(actions, condition=condition)
            except UpdateError as error:
                if error.cause_response_code == "ConditionalCheckFailedException":
                    return False
                raise
            return True
        try:
            with transaction_of_one_request() as transaction:
                for record, is_new in puts:
                    transaction.save(*_conditional_item(record, is_new))
                transaction.update(item, actions, condition=condition)  # updates follow puts in the request
                # Copies as updates, after the account's (whose reason is found by position; a put would come
                # before it in the request).
                _, copy_updates = dynamo_work.copies(list(along) + list(created), updates_only=True)
                for copy_item, copy_actions in copy_updates:
                    transaction.update(copy_item, copy_actions)
        except TransactWriteError as error:
            reasons = _reasons(error)
            if len(reasons) > len(puts) and reasons[len(puts)] == "ConditionalCheckFailed":
                return False
            _raise_if_race(error, reasons)
            raise
        return True

    def delete(self, record: Any) -> None:
        item = _to_item(record, record.version)
        try:
            item.delete(condition=type(item).version == record.version)
        except DeleteError as error:
            if error.cause_response_code == "ConditionalCheckFailedException":
                raise errors.ConcurrentUpdate(type(record).__name__) from error
            raise


def _reasons(error: TransactWriteError) -> list[str | None]:
    """Why each item of a cancelled transaction failed, in the order of the request (None: it did not)."""
    return [reason.code if reason else None for reason in (error.cancellation_reasons or [])]


# TransactionInProgressException: the SDK's retries of a transaction (same token) all came while the first try was
# still being made; the use case reads again and decides on what it finds.
_RACING_ERRORS = {"TransactionConflictException", "TransactionInProgressException"}


def _raise_if_race(error: TransactWriteError, reasons: list[str | None]) -> None:
    if set(reasons) & _RETRYABLE_CANCELLATIONS or error.cause_response_code in _RACING_ERRORS:
        raise errors.ConcurrentUpdate(str(reasons)) from error


def _holds(guard: KeyGuard):
    key = m.ApiKeyModel
    holds = (key.account_id == guard.account_id) & (key.role == guard.role) & (key.revoked == False)  # noqa: E712
    if guard.session_begun is not None:  # a web session its owner has not signed out of since it began
        holds &= _unset_or_at_most(key.sessions_from, guard.session_begun)
    return holds


def _added(model: type[m._Table], increment: Increment) -> list:
    """ADD for plain counters; for one that may be unset, SET from what it counts from (ADD would start at 0)."""
    actions = []
    for name, amount in increment.amounts.items():
        attr = getattr(model, name)
        if name in increment.unset_is:
            actions.append(attr.set((attr | increment.unset_is[name]) + amount))
        else:
            actions.append(attr.add(amount))
    return actions


def _within_ceilings(model: type[m._Table], increment: Increment):
    condition = getattr(model, model._hash_keyname).exists()
    for name, ceiling in increment.ceilings.items():
        attr, amount = getattr(model, name), increment.amounts[name]
        fits = attr <= ceiling - amount
        if increment.unset_is.get(name, 0) + amount <= ceiling:
            fits |= attr.does_not_exist()  # unset, it counts from a value that leaves room
        condition &= fits
    return condition


def _unset_or_at_most(attribute, value):
    return attribute.does_not_exist() | (attribute <= value)


def _conditional_item(record: Any, is_new: bool):
    """The item at its next version, and the condition that it is still what we read."""
    if is_new:
        item = _to_item(record, 1)
        hash_attr = getattr(type(item), type(item)._hash_keyname)
        if isinstance(record, IdempotencyRecord):
            # A key's record past its retention is gone as far as requests go, though DynamoDB's TTL may take days
            # to delete it: a request with the key takes it anew.
            return item, hash_attr.does_not_exist() | (m.IdempotencyModel.expires_at <= record.created_at)
        return item, hash_attr.does_not_exist()
    item = _to_item(record, record.version + 1)
    return item, type(item).version == record.version


def transaction_of_one_request() -> TransactWrite:
    """A transaction with a token of its own. The SDK retries a request whose answer was lost (a timeout, a dropped
    connection) with the same token, and DynamoDB answers a repeat of a transaction it already made with success
    rather than applying it again: without the token the repeat would fail its conditions (the versions moved on)
    and the use case would answer a conflict for the caller's own success."""
    return TransactWrite(connection=_connection(), client_request_token=uuid.uuid4().hex)


_shared_connection: Connection | None = None


def _connection() -> Connection:
    global _shared_connection
    if _shared_connection is None:
        limits = config.aws_call_limits()
        _shared_connection = Connection(connect_timeout_seconds=limits.connect_seconds,
                                        read_timeout_seconds=limits.read_seconds, max_retry_attempts=limits.retries)
    return _shared_connection
