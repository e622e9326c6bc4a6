"""A message thread per bounty, between its owner and the freelancers who claimed or submitted."""

from __future__ import annotations

from ..core import errors
from ..core.model import Bounty, Message, Participant, new_id
from ..repository import MessageWindow, Page
from .bounties import with_participant
from .deps import Caller, Deps


def _is_member(caller: Caller, bounty: Bounty | None, participant: Participant | None) -> bool:
    return bounty is not None and (bounty.client_id == caller.account_id or participant is not None)


def _require_thread_member(deps: Deps, caller: Caller, bounty_id: str) -> None:
    if not _is_member(caller, *with_participant(deps, caller, bounty_id)):
        raise errors.NotFound(f"No message thread for bounty {bounty_id} is open to you.")


def post_message(deps: Deps, caller: Caller, bounty_id: str, *, body: str) -> Message:
    _require_thread_member(deps, caller, bounty_id)
    message = Message(bounty_id=bounty_id, id=new_id("msg_"), author_id=caller.account_id, author_role=caller.role,
                      body=body, created_at=deps.clock.now())
    deps.repo.commit(created=[message], final=True)
    return message


def list_messages(deps: Deps, caller: Caller, bounty_id: str, *, limit: int, cursor: str | None) -> Page:
    _require_thread_member(deps, caller, bounty_id)
    return deps.repo.list_messages(bounty_id, limit=limit, cursor=cursor)


def thread_of(deps: Deps, caller: Caller, bounty: Bounty, participant: Participant | None, *, limit: int,
              before: str | None = None, after: str | None = None) -> MessageWindow | None:
    """The thread of a bounty the caller has just read with their standing on it (no read of its own for who may
    see it), its newest messages unless a cursor says otherwise; or None when it is not open to them."""
    if not _is_member(caller, bounty, participant):
        return None
    return deps.repo.message_window(bounty.id, limit=limit, before=before, after=after)
