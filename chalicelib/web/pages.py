"""The freelancers' web form: server-rendered pages over the same use cases as the API (chalicelib/services).

Thin edge: each view reads the form, calls one service function and shows its outcome. Domain errors show their
message in the page; a refused form is shown again with what was typed. What every page shares (sessions, CSRF,
rendering, refusals) is in chalicelib.web.edge.
"""

from __future__ import annotations

import time

from chalice import Response

from ..api import render as api_render
from ..api import schemas
from ..bootstrap import deps
from ..core import earnings, errors, rules, search
from ..core.model import APPROVED, FREELANCER, OPEN, PENDING_REVIEW, Claim, Message, Submission
from ..services import accounts, bounties, messages, onboarding, work, work_list
from . import fmt, session
from .edge import Ctx, bp, redirect, render, safe_next, title_for, typed_back, url, validate, view
from .once import Outcome

LIST_LIMIT = 20
STALE_LINK = "That page link is out of date or was changed, so this is the start again."
OWN_LIMIT = 100  # a bounty's thread: messages per page (the newest, unless the freelancer pages back)

# ---- pages -------------------------------------------------------------------------------------------

@bp.route("/", methods=["GET"])
def root():
    return Response(body="", status_code=303, headers={"Location": url("/web/")})


@view("/web/signin")
def signin_page(ctx: Ctx):
    if ctx.caller is not None:
        return redirect(ctx, url("/web/"))
    return render(ctx, "signin.html", next=safe_next(ctx.query.get("next")))


@view("/web/signin", methods=("POST",))
def signin(ctx: Ctx):
    ctx.caller = None  # the session is replaced whatever key it held: a revoked one must not refuse the new one
    target = safe_next(ctx.form.get("next"))
    raw_key = ctx.form.get("api_key", "").strip()
    try:
        if not raw_key:
            raise errors.Invalid("Paste your API key to sign in.")
        caller = accounts.authenticate(deps(), f"Bearer {raw_key}")
        account = accounts.get_me(deps(), caller)  # checks the key in the same read
        if caller.role != FREELANCER:
            raise errors.Forbidden("This form is for freelancers; client accounts use the API.")
    except errors.DomainError as error:
        return render(ctx, "signin.html", status=error.status, error=error.message, next=target,
                      refused={"api_key": True})
    # A new nonce at sign-in: nothing planted before (cookie or token) survives it.
    ctx.start_session(session.new_session(time.time(), account_id=caller.account_id, role=caller.role,
                                          key_id=caller.key_id, name=account.name,
                                          key_hash=accounts.hash_api_key(raw_key)))
    ctx.flash_next(f"Signed in as {account.name}.")
    return redirect(ctx, target)


@view("/web/signout", methods=("POST",), get_goes_to=lambda: "/web/")
def signout(ctx: Ctx):
    now = time.time()
    if ctx.caller is not None:  # every session of this key signed in until now ends, wherever its cookie is
        accounts.end_web_sessions(deps(), ctx.caller, now)
        ctx.caller = None  # nothing else to check
    ctx.start_session(session.new_session(now))
    ctx.flash_next("Signed out.")
    return redirect(ctx, url("/web/"))


@view("/web")  # served at /web/ too: the trailing slash is dropped before routing
def bounty_list(ctx: Ctx):
    query = ctx.query
    tag = (query.get("tag") or "").strip().lower() or None
    min_text = (query.get("min_reward") or "").strip()
    words = (query.get("q") or "").strip()
    error, refused = None, {}
    try:
        min_reward = fmt.parse_amount(min_text)
    except errors.DomainError as invalid:
        error, min_reward, refused = invalid.message, None, {"min_reward": True}
    if len(words) > search.MAX_QUERY:  # the box takes no more: an edited link
        error = error or f"Words to look for can be at most {search.MAX_QUERY} characters."
        words, refused = "", {**refused, "q": True}
    status = 422 if error else 200

    def listed(cursor: str | None):
        return bounties.list_bounties(deps(), ctx.caller, limit=LIST_LIMIT, cursor=cursor, tag=tag,
                                      min_reward=min_reward, status=None, mine=False, query=words or None)

    try:
        page = listed(query.get("cursor") or None)
    except errors.Invalid as invalid:  # a stale or edited "More bounties" link: the first page, saying so
        if invalid.code != "invalid_cursor":
            raise
        page, error = listed(None), error or STALE_LINK
    items = [api_render.bounty(b) for b in page.items]
    more = (url("/web/", q=words, tag=tag, min_reward=min_text, cursor=page.next_cursor) if page.next_cursor
            else None)
    said = [f"with the words “{words}”" if words else "", f"by tag “{tag}”" if tag else "",
            f"reward at least {fmt.money(min_reward)}" if min_reward is not None else ""]
    return render(ctx, "bounties.html", status=status, error=error, refused=refused, items=items, more=more,
                  filters={"q": words, "tag": tag or "", "min_reward": min_text, "said": [s for s in said if s]})


def _bounty_page(ctx: Ctx, bounty_id: str, *, status: int = 200, error: str | None = None,
                 typed: dict | None = None) -> Response:
    bounty, participant, account = bounties.get_visible_bounty_with_standing(deps(), ctx.caller, bounty_id)
    claim = None
    mine: list = []
    thread = None
    if ctx.caller is not None and participant is not None:  # without one, they never claimed or submitted here
        claim = work.live_claim_on(deps(), bounty, participant)
        mine = work.my_submissions_on(deps(), ctx.caller, participant)
        # Only those who claimed or submitted share the bounty's thread.
        try:
            thread = messages.thread_of(deps(), ctx.caller, bounty, participant, limit=OWN_LIMIT,
                                        before=ctx.query.get("before") or None, after=ctx.query.get("after") or None)
        except errors.Invalid as invalid:  # a stale or edited link: the thread from its newest, saying so
            if invalid.code != "invalid_cursor":
                raise
            thread = messages.thread_of(deps(), ctx.caller, bounty, participant, limit=OWN_LIMIT)
            error = error or STALE_LINK
    open_work = any(s.status in (PENDING_REVIEW, APPROVED) for s in mine)
    accepting = bounty.status == OPEN and ctx.now < bounty.deadline
    signed_in = ctx.caller is not None
    unqualified = _refusal(lambda: rules.check_qualified(bounty, account)) if signed_in else None
    may_hand_in = not signed_in or _refusal(lambda: rules.check_qualified_to_hand_in(bounty, account, claim,
                                                                                     ctx.now)) is None
    can_submit = accepting and not open_work and may_hand_in
    typed = typed or {}
    # What was typed into a form this page no longer shows (the bounty closed meanwhile, or work was handed in
    # from another tab) is shown back to copy, never dropped.
    shown = {"content": can_submit, "links": can_submit, "message": thread is not None}
    labels = {"content": "Your work", "links": "Links", "message": "Your message"}
    kept = [(labels[name], typed[name]) for name in labels if not shown[name] and typed.get(name, "").strip()]
    # The form refused, if it is on the page again: its fields are described by the message, and those the
    # message names (it starts with the field's label) are marked invalid.
    refused = {name: error.startswith(labels[name]) for name in typed if error and shown.get(name)}
    return render(
        ctx, "bounty.html", status=status, error=error, bounty=api_render.bounty(bounty), claim=claim,
        submissions=mine, thread=thread, typed=typed, kept=kept, refused=refused,
        can_claim=accepting and claim is None and not open_work and bounty.free_slots > 0 and unqualified is None,
        can_submit=can_submit, claim_first=bool(bounty.claim_seconds) and claim is None,
        unqualified=unqualified if accepting else None)


def _refusal(check) -> str | None:
    """What a rule's check would refuse with (its message), or None when it passes."""
    try:
        check()
    except errors.Forbidden as refused:
        return refused.message
    return None


@view("/web/bounties/{bounty_id}")
def bounty_page(ctx: Ctx, bounty_id: str):
    return _bounty_page(ctx, bounty_id)


def _bounty_action(ctx: Ctx, bounty_id: str, action, typed: dict | None = None) -> Response:
    """Runs a use case; on a domain error, the bounty page again with its message and what was typed."""
    if ctx.caller is None:
        ctx.flash_next("Sign in with your freelancer API key first.", "error")
        return redirect(ctx, url("/web/signin", next=url(f"/web/bounties/{bounty_id}")))
    try:
        return action()
    except errors.Unauthenticated:
        raise
    except errors.DomainError as error:
        try:
            return _bounty_page(ctx, bounty_id, status=error.status, error=error.message, typed=typed)
        except errors.Unauthenticated:
            raise
        except errors.DomainError:  # the bounty is no longer shown to them (it closed before they took part)
            return render(ctx, "message.html", status=error.status, title=title_for(error), error=error.message,
                          kept=typed_back(ctx))


# Where each form leads once it succeeded, from the record its use case writes last (see chalicelib.web.once).

def _claimed(claimed: Claim) -> Outcome:
    return Outcome(url(f"/web/bounties/{claimed.bounty_id}"),
                   f"Slot claimed. It is yours until {fmt.when(claimed.expires_at)}; submit your work before then.")


def _released(released: Claim) -> Outcome:
    return Outcome(url(f"/web/bounties/{released.bounty_id}"), "Claim released; the slot is open to others again.")


def _submitted(submission: Submission) -> Outcome:
    return Outcome(url(f"/web/submissions/{submission.id}"),
                   f"Work submitted. It is pending review; unless the client decides sooner it is approved "
                   f"automatically on {fmt.when(submission.auto_approve_at)}.")


def _posted(message: Message) -> Outcome:
    return Outcome(url(f"/web/bounties/{message.bounty_id}") + "#thread", "Message posted.")


@view("/web/bounties/{bounty_id}/claim", methods=("POST",), get_goes_to=lambda bounty_id: f"/web/bounties/{bounty_id}",
      acts_once=(Claim, _claimed))
def claim(ctx: Ctx, bounty_id: str):
    return _bounty_action(ctx, bounty_id, lambda: ctx.go(_claimed(work.claim_bounty(deps(), ctx.caller, bounty_id))))


@view("/web/claims/{claim_id}/release", methods=("POST",), get_goes_to=lambda claim_id: "/web/me",
      acts_once=(Claim, _released))
def release(ctx: Ctx, claim_id: str):
    if ctx.caller is None:
        return redirect(ctx, url("/web/signin"))
    return ctx.go(_released(work.release_claim(deps(), ctx.caller, claim_id)))


def _as_typed(text: str) -> str:
    """A textarea's text as the person typed it: a browser sends each line break as CR LF, but counts it as one
    character against the box's maxlength, as the API's limits count "\n"; so work that fitted the box fits."""
    return text.replace("\r\n", "\n")


@view("/web/bounties/{bounty_id}/submissions", methods=("POST",),
      get_goes_to=lambda bounty_id: f"/web/bounties/{bounty_id}", acts_once=(Submission, _submitted))
def submit(ctx: Ctx, bounty_id: str):
    typed = {"content": _as_typed(ctx.form.get("content", "")), "links": ctx.form.get("links", "")}

    def action():
        numbered = [(n, line.strip()) for n, line in enumerate(typed["links"].splitlines(), 1) if line.strip()]
        body = validate(schemas.SubmitWork, {"content": typed["content"], "links": [link for _, link in numbered]},
                        {"content": "Your work", "links": "Links"}, lines={"links": [n for n, _ in numbered]})
        return ctx.go(_submitted(work.submit_work(deps(), ctx.caller, bounty_id, content=body.content,
                                                  links=body.links)))

    return _bounty_action(ctx, bounty_id, action, typed)


@view("/web/bounties/{bounty_id}/messages", methods=("POST",),
      get_goes_to=lambda bounty_id: f"/web/bounties/{bounty_id}", acts_once=(Message, _posted))
def post_message(ctx: Ctx, bounty_id: str):
    typed = {"message": _as_typed(ctx.form.get("body", ""))}

    def action():
        body = validate(schemas.PostMessage, {"body": typed["message"]}, {"body": "Your message"})
        return ctx.go(_posted(messages.post_message(deps(), ctx.caller, bounty_id, body=body.body)))

    return _bounty_action(ctx, bounty_id, action, typed)


@view("/web/me", signed_in=True)
def my_work(ctx: Ctx):
    listed = work_list.my_work(deps(), ctx.caller)
    done, rows = [], []
    for sub, bounty in listed.submissions:
        rate = None
        if sub.status == APPROVED and bounty is not None:
            done.append(earnings.DoneWork(bounty.reward, bounty.currency, sub.claimed_at, sub.created_at))
            rate = earnings.achieved_rate(bounty.reward, sub.claimed_at, sub.created_at)
        rows.append({"submission": sub, "bounty": bounty, "rate": rate,
                     "seconds": earnings.work_seconds(sub.claimed_at, sub.created_at)})
    account = listed.account
    return render(
        ctx, "me.html", account=account, claims=listed.claims, rows=rows, payouts=listed.payouts,
        earned=sorted(account.earned.items()), unpaid=sorted(listed.owed.items()),
        rates=earnings.achieved_rates(done))


@view("/web/submissions/{submission_id}", signed_in=True)
def submission_page(ctx: Ctx, submission_id: str):
    submission, bounty = work.get_own_submission_with_bounty(deps(), ctx.caller, submission_id)
    payout = None
    if submission.payout_id:  # the page is its author's, so the payout is theirs too
        payout = work.get_my_payout(deps(), ctx.caller, submission.payout_id)
    rate = None
    if submission.status == APPROVED and bounty is not None:
        rate = earnings.achieved_rate(bounty.reward, submission.claimed_at, submission.created_at)
    return render(ctx, "submission.html", submission=submission, bounty=bounty, payout=payout, rate=rate,
                  seconds=earnings.work_seconds(submission.claimed_at, submission.created_at))


@view("/web/onboarding", methods=("POST",), signed_in=True, get_goes_to=lambda: "/web/me")
def start_onboarding(ctx: Ctx):
    try:
        link = onboarding.start_onboarding(deps(), ctx.caller)
    except errors.Unauthenticated:
        raise
    except errors.DomainError as error:
        ctx.flash_next(error.message, "error")
        return redirect(ctx, url("/web/me"))
    return redirect(ctx, link)
