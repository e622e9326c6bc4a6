"""The storage port: what the use cases need from a repository (DynamoDB in production)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from .core.model import Account, ApiKey, Bounty, Claim, LedgerEntry, Participant, Payout, Submission


@dataclass
class Page:
    items: list[Any]
    next_cursor: str | None = None
    # The cursor that goes on right after items[i]: to cut a page short whose answer would be too large to send.
    cursor_after: Callable[[int], str] | None = field(default=None, repr=False, compare=False)

    def cut(self, count: int) -> Page:
        """The first `count` items (at least one), with the cursor that goes on after them."""
        if count >= len(self.items) or self.cursor_after is None:
            return self
        count = max(count, 1)
        return Page(self.items[:count], self.cursor_after(count - 1), self.cursor_after)


@dataclass
class MessageWindow:
    """A stretch of a thread, oldest first as it reads, with the cursors to the stretches either side of it (None
    where there is nothing more that way)."""

    items: list[Any]
    earlier: str | None = None
    later: str | None = None


@dataclass(frozen=True)
class Ref:
    """The key of one record, to read several in one round trip."""

    kind: type
    hash_key: str
    range_key: str | None = None


@dataclass(frozen=True)
class KeyGuard:
    """Part of a write: it happens only if this API key (by hash) still belongs to this account and role and is not
    revoked. A request can so authenticate in the same round trip as its first write."""

    key_hash: str
    account_id: str
    role: str
    session_begun: float | None = None  # a web session's: it must not have been ended since (ApiKey.sessions_from)


@dataclass
class IdempotencyRecord:
    """The first response to a request carrying an Idempotency-Key, replayed for repeats."""

    key: str
    fingerprint: str
    # in_progress | done | resumable. In the first and last, body is the id a retry picks up, if the use case made
    # one (IdempotencyLock.resume); in `done`, the sealed answer.
    state: str
    created_at: datetime
    expires_at: datetime
    status_code: int | None = None
    body: str | None = None
    version: int = field(default=0)
    taken_at: datetime | None = None  # when the attempt holding it began (created_at for records made before it)


@dataclass
class IdempotencyLock:
    """A request's Idempotency-Key record, carried by the request's own calls instead of calls of its own: its first
    reads look for the record (services.deps.fetch), and its first write creates it in the same transaction
    (the repository's commit), so a duplicate can neither act twice nor slip between the lock and the change."""

    record: IdempotencyRecord
    # Set by the HTTP edge: the request's answer, `(status, body)`, told from the records of the use case's last
    # write (None when they do not hold it), and the record that stores an answer. So the answer is stored in
    # that same write rather than after it.
    answer_from: Callable[[list[Any]], tuple[int, str] | None] | None = None
    record_for: Callable[[tuple[int, str]], IdempotencyRecord] | None = None
    taken: bool = False
    version: int = 0  # of the record as this request last wrote it
    answered: tuple[int, str] | None = None  # the answer stored with it, if any
    # The id of what the request makes in its first write (a bounty, stored before Stripe is asked): a retry with
    # the key picks that up instead of making another, after the request failed on our side's account or died
    # (a timeout) without a word. Set by the use case before that write, which stores it with the key.
    resume: str | None = None

    def answer_in(self, records: list[Any]) -> tuple[tuple[int, str], IdempotencyRecord] | None:
        answer = self.answer_from(records) if self.answer_from and self.record_for else None
        return (answer, self.record_for(answer)) if answer is not None else None


_current_lock: ContextVar[IdempotencyLock | None] = ContextVar("idempotency_lock", default=None)


@contextmanager
def holding(lock: IdempotencyLock) -> Iterator[IdempotencyLock]:
    """For the duration of one request (a context variable: requests on other threads do not see it)."""
    token = _current_lock.set(lock)
    try:
        yield lock
    finally:
        _current_lock.reset(token)


def current_lock() -> IdempotencyLock | None:
    return _current_lock.get()


class Repository(Protocol):
    def get_account(self, account_id: str) -> Account | None: ...
    def get_api_key(self, key_hash: str) -> ApiKey | None: ...
    def get_bounty(self, bounty_id: str) -> Bounty | None: ...
    def get_claim(self, claim_id: str) -> Claim | None: ...
    def get_submission(self, submission_id: str) -> Submission | None: ...
    def get_payout(self, payout_id: str) -> Payout | None: ...
    def get_participant(self, bounty_id: str, freelancer_id: str) -> Participant | None: ...
    def get_idempotency(self, key: str) -> IdempotencyRecord | None: ...

    def get_many(self, refs: list[Ref]) -> list[Any]:
        """The records (None where missing), in the order asked, in one round trip whatever their tables."""

    def list_api_keys(self, account_id: str) -> list[ApiKey]: ...
    def page_api_keys(self, account_id: str, *, limit: int, cursor: str | None) -> Page: ...
    def list_open_bounties(self, *, limit: int, cursor: str | None, tag: str | None = None,
                           min_reward: int | None = None, words: tuple[str, ...] = ()) -> Page: ...
    def list_client_bounties(self, client_id: str, *, limit: int, cursor: str | None, status: str | None = None,
                             tag: str | None = None, min_reward: int | None = None,
                             words: tuple[str, ...] = ()) -> Page: ...
    def list_bounty_submissions(self, bounty_id: str, *, limit: int, cursor: str | None,
                                status: str | None = None) -> Page:
        """Newest first; `status`, a filter over a bounded stretch of them (short pages read on by their cursor)."""
    def list_bounty_claims(self, bounty_id: str, *, limit: int, cursor: str | None) -> Page: ...
    def list_live_claims(self, bounty_id: str, *, limit: int) -> list[Claim]: ...
    def list_freelancer_submissions(self, freelancer_id: str, *, limit: int, cursor: str | None) -> Page: ...
    def list_awaiting_review(self, client_id: str, *, limit: int, cursor: str | None) -> Page:
        """Submissions to the client's bounties still pending review, soonest auto-approval first."""
    def list_freelancer_claims(self, freelancer_id: str, *, limit: int, cursor: str | None) -> Page: ...
    def list_freelancer_payouts(self, freelancer_id: str, *, limit: int, cursor: str | None,
                                status: str | None = None) -> Page:
        """Newest first; `status` one payout status, or core.model.UNPAID for every payout not yet paid."""
    def list_failed_payouts(self, *, limit: int, cursor: str | None) -> Page: ...
    def list_ledger(self, bounty_id: str) -> list[LedgerEntry]: ...
    def list_messages(self, bounty_id: str, *, limit: int, cursor: str | None) -> Page: ...
    def message_window(self, bounty_id: str, *, limit: int, before: str | None = None,
                       after: str | None = None) -> MessageWindow: ...

    def list_work(self, freelancer_id: str, *, limit: int, cursor: str | None = None) -> Page:
        """A freelancer's claims, submissions and payouts in one list (core.model.WorkEntry), newest first, each
        with its bounty's brief."""

    def due_timers(self, shard: str, *, until: str, limit: int) -> list[Any]: ...

    def commit(self, changed: Any = (), created: Any = (), deleted: Any = (), increments: Any = (),
               guard: KeyGuard | None = None, final: bool = False) -> None:
        """All or nothing; raises core.errors.ConcurrentUpdate when a record changed since it was read, and
        core.errors.Unauthenticated when the guard's key does not hold. `increments` add to counters of records
        that were not read (core.model.Increment). The first commit of a request holding an IdempotencyLock also
        creates its record (core.errors.IdempotencyKeyTaken if it exists); a `final` one (the use case's last
        write) also stores the request's answer on it, when the lock can tell it from the records."""

    def delete(self, record: Any) -> None: ...

    def set_if(self, kind: type, key: str, values: dict[str, Any], *, expected: dict[str, Any],
               along: Any = (), created: Any = (), at_most: dict[str, Any] | None = None) -> bool:
        """Sets fields of a record without reading it, only if it exists and holds `expected` (and each field of
        `at_most` is unset or no more than its value); False if not.
        `along`: records changed in the same transaction (ConcurrentUpdate if any changed since read); `created`:
        records created in it (ConcurrentUpdate if any exists already)."""
