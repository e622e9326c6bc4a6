"""Running use cases against each other in threads, and telling winners from losers."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from chalicelib.core import errors
from chalicelib.services.deps import Caller


def race(*functions) -> list[tuple[str, object]]:
    """Runs every function at once; each outcome is ("won", result) or ("lost", the domain error's code)."""
    def attempt(fn):
        try:
            return ("won", fn())
        except errors.DomainError as error:
            return ("lost", error.code)

    with ThreadPoolExecutor(max_workers=len(functions)) as pool:
        return list(pool.map(attempt, functions))


def caller(account: dict) -> Caller:
    return Caller(account_id=account["id"], role=account["role"], key_id="test")


class AfterFirstRead:
    """A repository that does `then()` once, right after its first read: another request landing between a use
    case's read and its write."""

    def __init__(self, repo, then):
        self.repo, self.then, self.done = repo, then, False

    def get_many(self, refs):
        found = self.repo.get_many(refs)
        if not self.done:
            self.done = True
            self.then()
        return found

    def __getattr__(self, name):
        return getattr(self.repo, name)
