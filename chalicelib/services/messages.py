"""A message thread per bounty, between its owner and the freelancers who claimed or submitted."""

from __future__ import annotations

from ..core import errors
from ..core.model import Message, new_id
from ..repository import Page
from .deps import Caller, Deps


def _require_thread_member(deps: Deps, caller: Caller, bounty_id: str) -> None:
    bounty = deps.repo.get_bounty(bounty_id)
    if bounty is not None:
        if bounty.client_id == caller.account_id:
            return
        if caller.is_freelancer and deps.repo.get_participant(bounty_id, caller.account_id) is not None:
            return
    raise errors.NotFound(f"No message thread for bounty {bounty_id} is open to you.")


def post_message(deps: Deps, caller: Caller, bounty_id: str, *, body: str) -> Message:
    _require_thread_member(deps, caller, bounty_id)
    message = Message(bounty_id=bounty_id, id=new_id("msg_"), author_id=caller.account_id, author_role=caller.role,
                      body=body, created_at=deps.clock.now())
    deps.repo.commit(created=[message])
    return message


def list_messages(deps: Deps, caller: Caller, bounty_id: str, *, limit: int, cursor: str | None) -> Page:
    _require_thread_member(deps, caller, bounty_id)
    return deps.repo.list_messages(bounty_id, limit=limit, cursor=cursor)
