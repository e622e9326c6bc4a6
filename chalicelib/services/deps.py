"""What the use cases are given: the ports, and who is calling."""

from __future__ import annotations

import hmac
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from ..core import errors
from ..core.model import CLIENT, FREELANCER, ApiKey, parents_of
from ..ports import Clock, Payments, Queue
from ..repository import IdempotencyRecord, KeyGuard, Ref, Repository, current_lock

T = TypeVar("T")


@dataclass
class Deps:
    repo: Repository
    queue: Queue
    clock: Clock
    payments_factory: Callable[[], Payments]
    _payments: Payments | None = None

    @property
    def payments(self) -> Payments:
        # Built on first use: most requests never talk to Stripe, and importing it costs a cold start.
        if self._payments is None:
            self._payments = self.payments_factory()
        return self._payments


@dataclass
class Caller:
    """Who is calling. A key that names its account and role is checked against the store in the same round trip
    as the request's first read (fetch) or write (guard), so authentication costs no call of its own; until then
    `unchecked_hash` holds the key's hash, and nothing may be written, decided or shown on the caller's word."""

    account_id: str
    role: str
    key_id: str | None = None
    unchecked_hash: str | None = None
    session_begun: float | None = None  # for a web session: when it was signed in (unix seconds)

    @property
    def checked(self) -> bool:
        return self.unchecked_hash is None

    def key_ref(self) -> Ref:
        return Ref(ApiKey, self.unchecked_hash)

    def guard(self) -> KeyGuard | None:
        """For a write that is the request's first call: it happens only if the key holds."""
        return None if self.checked else KeyGuard(self.unchecked_hash, self.account_id, self.role, self.session_begun)

    def confirm(self, api_key: ApiKey | None) -> None:
        """Checks the stored key against what the caller presented; Unauthenticated unless it matches."""
        if self.checked:
            return
        presented = self.unchecked_hash
        if (api_key is None or api_key.revoked or not hmac.compare_digest(api_key.key_hash, presented)
                or api_key.account_id != self.account_id or api_key.role != self.role or self._session_ended(api_key)):
            raise errors.Unauthenticated("This API key is not valid; check it or create a new account.")
        self.key_id = api_key.key_id
        self.unchecked_hash = None

    def _session_ended(self, api_key: ApiKey) -> bool:
        return (self.session_begun is not None and api_key.sessions_from is not None
                and self.session_begun < api_key.sessions_from)

    def guard_held(self) -> None:
        """A write carrying guard() went through: the key holds."""
        self.unchecked_hash = None

    def require(self, role: str) -> None:
        if self.role != role:
            raise errors.Forbidden(f"Only a {role} account may do this; this key belongs to a {self.role}.",
                                   code="wrong_role")

    @property
    def is_client(self) -> bool:
        return self.role == CLIENT

    @property
    def is_freelancer(self) -> bool:
        return self.role == FREELANCER


def fetch(deps: Deps, caller: Caller | None, *refs: Ref) -> list[Any]:
    """The records a use case decides on (None where missing) in one round trip, together with the caller's key
    while it is unchecked. Nothing read is returned unless the key holds."""
    wanted = list(refs)
    checking = caller is not None and not caller.checked
    if checking:
        wanted.append(caller.key_ref())
    lock = current_lock()
    # Until this request holds its Idempotency-Key, every read also looks for the key's record: a repeat is
    # answered after one read, and an attempt that lost a race to a duplicate finds it when it reads again.
    looking = lock is not None and not lock.taken
    if looking:
        wanted.append(Ref(IdempotencyRecord, lock.record.key))
    found = deps.repo.get_many(wanted) if wanted else []
    earlier = found.pop() if looking else None
    if checking:
        caller.confirm(found.pop())
    if earlier is not None and earlier.expires_at > lock.record.created_at:  # one past its 24 h holds nothing
        raise errors.IdempotencyKeyTaken(earlier)
    return found


def fetch_with_parents(deps: Deps, caller: Caller | None, kind: type, record_id: str,
                       parents: Callable[[str, str], list[Ref]]) -> tuple[Any, list[Any]]:
    """A claim, submission or payout, and the records `parents(bounty_id, freelancer_id)` names: one round trip when
    the id names its bounty and freelancer (core.model.child_id), else a second for what the record names."""
    named = parents_of(record_id)
    wanted = parents(*named) if named else []
    record, *found = fetch(deps, caller, Ref(kind, record_id), *wanted)
    if record is not None and named != (record.bounty_id, record.freelancer_id):
        found = fetch(deps, None, *parents(record.bounty_id, record.freelancer_id))
    elif record is None:
        found = [None] * len(parents("", ""))
    return record, found


def check(deps: Deps, caller: Caller | None) -> None:
    """Checks an unchecked caller's key on its own (a call), for requests whose reads cannot carry it."""
    if caller is not None and not caller.checked:
        caller.confirm(deps.repo.get_api_key(caller.unchecked_hash))


# Lost races are tried again after a random wait that doubles each time (up to a cap), for up to RETRY_SECONDS:
# requests racing for one record (fifty freelancers claiming a bounty's slots at once) spread out and each gets
# its turn, where immediate retries collided again and gave up after a few rounds (docs/DESIGN.md "Time budgets").
RETRY_FIRST_WAIT = 0.005
RETRY_MAX_WAIT = 0.2
RETRY_SECONDS = 2.5


def retrying(attempt: Callable[[], T], *, seconds: float | None = None) -> T:
    """Runs a read-decide-write attempt again when its conditional write lost a race, for up to `seconds`
    (RETRY_SECONDS, read at each call)."""
    give_up_at = time.monotonic() + (RETRY_SECONDS if seconds is None else seconds)
    wait = RETRY_FIRST_WAIT
    while True:
        try:
            return attempt()
        except errors.ConcurrentUpdate as error:
            pause = random.uniform(0, wait)  # noqa: S311 - spreading retries out, nothing secret
            if time.monotonic() + pause >= give_up_at:
                raise errors.StateConflict("Too many simultaneous changes to this record; try again.",
                                           code="concurrent_update") from error
            time.sleep(pause)
            wait = min(wait * 2, RETRY_MAX_WAIT)
