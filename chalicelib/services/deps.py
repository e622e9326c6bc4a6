"""What the use cases are given: the ports, and who is calling."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from ..core import errors
from ..core.model import CLIENT, FREELANCER
from ..ports import Clock, Payments, Queue
from ..repository import Repository

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


@dataclass(frozen=True)
class Caller:
    account_id: str
    role: str
    key_id: str

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


def retrying(attempt: Callable[[], T], *, attempts: int = 8) -> T:
    """Runs a read-decide-write attempt again when its conditional write lost a race."""
    for _ in range(attempts - 1):
        try:
            return attempt()
        except errors.ConcurrentUpdate:
            continue
    try:
        return attempt()
    except errors.ConcurrentUpdate as error:
        raise errors.StateConflict("Too many simultaneous changes to this record; try again.",
                                   code="concurrent_update") from error
