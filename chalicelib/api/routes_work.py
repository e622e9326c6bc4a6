"""Claims, submissions, reviews, messages and payouts."""

from __future__ import annotations

from chalice import Blueprint

from ..bootstrap import deps
from ..core.model import PAYOUT_STATUSES, SUBMISSION_STATUSES, UNPAID, Claim, Message, Submission
from ..services import messages, work
from . import render
from . import schemas as s
from .http import PAGE_QUERY, paging, route, status_filter

bp = Blueprint(__name__)
# How each route answers, from the record its use case writes last (see http.route's `answers`).
AS_CLAIM = (Claim, lambda record, caller: render.claim(record))
AS_SUBMISSION = (Submission, lambda record, caller: render.submission(record))
AS_MESSAGE = (Message, lambda record, caller: render.message(record))


@route(bp, "/v1/bounties/{bounty_id}/claims", method="POST", summary="Reserve a slot.", body=s.Empty,
       response=s.ClaimOut, status=201, auth="freelancer", idempotent=True, answers=AS_CLAIM)
def claim(request, caller, body, bounty_id):
    return AS_CLAIM[1](work.claim_bounty(deps(), caller, bounty_id), caller)


@route(bp, "/v1/claims", method="GET", summary="Extension: the calling freelancer's claims, newest first.",
       response=s.ClaimList, auth="freelancer", query=PAGE_QUERY)
def my_claims(request, caller, body):
    limit, cursor = paging(request)
    return render.page(s.ClaimList, work.list_my_claims(deps(), caller, limit=limit, cursor=cursor), render.claim)


@route(bp, "/v1/claims/{claim_id}/release", method="POST", summary="Give the slot back at once.", body=s.Empty,
       response=s.ClaimOut, auth="freelancer", idempotent=True, answers=AS_CLAIM)
def release(request, caller, body, claim_id):
    return AS_CLAIM[1](work.release_claim(deps(), caller, claim_id), caller)


@route(bp, "/v1/bounties/{bounty_id}/submissions", method="POST", summary="Hand in work for review.",
       body=s.SubmitWork, response=s.SubmissionOut, status=201, auth="freelancer", idempotent=True,
       answers=AS_SUBMISSION)
def submit(request, caller, body: s.SubmitWork, bounty_id):
    submission = work.submit_work(deps(), caller, bounty_id, content=body.content, links=body.links)
    return AS_SUBMISSION[1](submission, caller)


SUBMISSIONS_QUERY = {**PAGE_QUERY, "status": f"Extension: only submissions in this status "
                                            f"({', '.join(SUBMISSION_STATUSES)})."}


@route(bp, "/v1/bounties/{bounty_id}/submissions", method="GET", summary="The bounty's submissions (owner).",
       response=s.SubmissionList, auth="client", query=SUBMISSIONS_QUERY)
def bounty_submissions(request, caller, body, bounty_id):
    limit, cursor = paging(request)
    status = status_filter(request, SUBMISSION_STATUSES)
    page = work.list_bounty_submissions(deps(), caller, bounty_id, limit=limit, cursor=cursor, status=status)
    return render.page(s.SubmissionList, page, render.submission)


@route(bp, "/v1/submissions", method="GET",
       summary="Extension: a freelancer's own submissions, newest first; for a client, the submissions to their "
               "bounties awaiting review, soonest auto-approval first (their review queue).",
       response=s.SubmissionList, query=PAGE_QUERY)
def my_submissions(request, caller, body):
    limit, cursor = paging(request)
    page = work.list_submissions_of(deps(), caller, limit=limit, cursor=cursor)
    return render.page(s.SubmissionList, page, render.submission)


@route(bp, "/v1/submissions/{submission_id}", method="GET", summary="One submission (owner or author).",
       response=s.SubmissionOut)
def get_submission(request, caller, body, submission_id):
    return render.submission(work.get_submission(deps(), caller, submission_id))


@route(bp, "/v1/submissions/{submission_id}/approve", method="POST",
       summary="Approve (or overturn a recent rejection); the payout is queued.", body=s.Approve,
       response=s.SubmissionOut, auth="client", idempotent=True, answers=AS_SUBMISSION)
def approve(request, caller, body: s.Approve, submission_id):
    submission = work.approve_submission(deps(), caller, submission_id, rating=body.rating,
                                         feedback=body.feedback or None)
    return AS_SUBMISSION[1](submission, caller)


@route(bp, "/v1/submissions/{submission_id}/reject", method="POST", summary="Reject with a reason; the slot reopens.",
       body=s.Reject, response=s.SubmissionOut, auth="client", idempotent=True, answers=AS_SUBMISSION)
def reject(request, caller, body: s.Reject, submission_id):
    return AS_SUBMISSION[1](work.reject_submission(deps(), caller, submission_id, reason=body.reason), caller)


@route(bp, "/v1/bounties/{bounty_id}/messages", method="POST", summary="Post to the bounty's thread.",
       body=s.PostMessage, response=s.MessageOut, status=201, idempotent=True, answers=AS_MESSAGE)
def post_message(request, caller, body: s.PostMessage, bounty_id):
    return AS_MESSAGE[1](messages.post_message(deps(), caller, bounty_id, body=body.body), caller)


@route(bp, "/v1/bounties/{bounty_id}/messages", method="GET", summary="The bounty's thread, oldest first.",
       response=s.MessageList, query=PAGE_QUERY)
def list_messages(request, caller, body, bounty_id):
    limit, cursor = paging(request)
    page = messages.list_messages(deps(), caller, bounty_id, limit=limit, cursor=cursor)
    return render.page(s.MessageList, page, render.message)


PAYOUT_FILTERS = (*PAYOUT_STATUSES, UNPAID)
PAYOUT_QUERY = {**PAGE_QUERY, "status": f"Extension: only payouts in this status ({', '.join(PAYOUT_STATUSES)}), "
                                        f"or '{UNPAID}' for every payout not yet paid (what you are still owed)."}


@route(bp, "/v1/payouts", method="GET", summary="The calling freelancer's payouts, newest first.",
       response=s.PayoutList, auth="freelancer", query=PAYOUT_QUERY)
def my_payouts(request, caller, body):
    limit, cursor = paging(request)
    status = status_filter(request, PAYOUT_FILTERS)
    page = work.list_my_payouts(deps(), caller, limit=limit, cursor=cursor, status=status)
    return render.page(s.PayoutList, page, render.payout)
