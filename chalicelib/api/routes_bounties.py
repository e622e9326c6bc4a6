"""Bounties: post and fund, browse, read, cancel, and the escrow ledger."""

from __future__ import annotations

import re

from chalice import Blueprint

from ..bootstrap import deps
from ..core import errors, rules, search
from ..core.model import Bounty
from ..services import bounties
from . import render
from . import schemas as s
from .http import PAGE_QUERY, paging, route, status_filter, whole_number

bp = Blueprint(__name__)


def _bounty(record: Bounty, caller) -> s.BountyOut:
    return render.bounty(record, viewer_id=caller.account_id)


AS_BOUNTY = (Bounty, _bounty)

LIST_QUERY = {
    **PAGE_QUERY,
    "tag": "Only bounties carrying this tag (case-insensitive; empty: no filter).",
    "min_reward": "Only bounties whose reward amount is at least this (minor units).",
    "status": "Bounty status; with mine=true any status, otherwise only 'open'.",
    "mine": "true: the calling client's own bounties, in every status.",
    "q": "Extension: only bounties whose title or tags contain every word of this (any case; at most "
         f"{search.MAX_QUERY} characters).",
}


@route(bp, "/v1/bounties", method="POST", summary="Post a bounty and create its escrow payment.",
       body=s.CreateBounty, response=s.BountyOut, status=201, auth="client", idempotent=True,
       answers=AS_BOUNTY)
def create_bounty(request, caller, body: s.CreateBounty):
    bounty = bounties.create_bounty(
        deps(), caller, title=body.title, description=body.description, reward=body.reward.amount,
        currency=body.reward.currency, slots=body.slots, deadline=body.deadline,
        review_window_seconds=body.review_window_seconds, claim_seconds=body.claim_seconds,
        estimated_minutes=body.estimated_minutes, tags=body.tags, payment_method=body.payment_method,
        min_rating=body.requirements.min_rating if body.requirements else None,
        min_completed=body.requirements.min_completed if body.requirements else None,
    )
    return _bounty(bounty, caller)


@route(bp, "/v1/bounties", method="GET", summary="Open bounties, newest first; or your own with mine=true.",
       response=s.BountyList, auth="optional", query=LIST_QUERY)
def list_bounties(request, caller, body):
    limit, cursor = paging(request)
    params = request.query_params or {}
    min_reward = params.get("min_reward")
    if min_reward is not None:
        min_reward = whole_number(min_reward, name="min_reward", low=0, high=rules.MAX_REWARD,
                                  code="invalid_min_reward")
    mine = params.get("mine", "false").lower()
    if mine not in ("true", "false"):
        raise errors.Invalid("mine must be true or false.", code="invalid_mine")
    status = status_filter(request, s.BOUNTY_STATUSES)
    tag = (params.get("tag") or "").strip().lower() or None
    if tag is not None and not re.fullmatch(s.TAG_PATTERN, tag):
        raise errors.Invalid(f"tag must be 1 to {s.MAX_TAG} of a-z, 0-9 and '-'.", code="invalid_tag")
    page = bounties.list_bounties(deps(), caller, limit=limit, cursor=cursor, tag=tag, min_reward=min_reward,
                                  status=status, mine=mine == "true", query=params.get("q"))
    return render.page(s.BountyList, page, render.bounty, viewer_id=caller.account_id if caller else None)


@route(bp, "/v1/bounties/{bounty_id}", method="GET", summary="One bounty: public while open, always to its owner.",
       response=s.BountyOut, auth="optional")
def get_bounty(request, caller, body, bounty_id):
    bounty = bounties.get_visible_bounty(deps(), caller, bounty_id)
    return render.bounty(bounty, viewer_id=caller.account_id if caller else None)


@route(bp, "/v1/bounties/{bounty_id}/fund", method="POST",
       summary="Extension: retry funding an unfunded bounty (its one PaymentIntent), optionally paying with a "
               "payment method now.",
       body=s.FundBounty, response=s.BountyOut, auth="client", idempotent=True, answers=AS_BOUNTY)
def fund_bounty(request, caller, body: s.FundBounty, bounty_id):
    return _bounty(bounties.fund_bounty(deps(), caller, bounty_id, payment_method=body.payment_method), caller)


@route(bp, "/v1/bounties/{bounty_id}/cancel", method="POST",
       summary="Cancel: no new work; escrow of slots without pending or approved work is refunded.",
       body=s.Empty, response=s.BountyOut, auth="client", idempotent=True, answers=AS_BOUNTY)
def cancel_bounty(request, caller, body, bounty_id):
    return _bounty(bounties.cancel_bounty(deps(), caller, bounty_id), caller)


@route(bp, "/v1/bounties/{bounty_id}/ledger", method="GET",
       summary="Every money event of the bounty and totals that always balance.", response=s.LedgerOut,
       auth="client")
def get_ledger(request, caller, body, bounty_id):
    bounty, entries, totals = bounties.bounty_ledger(deps(), caller, bounty_id)
    return render.ledger(bounty, entries, totals)
