"""Posting, funding, reading, listing and cancelling bounties."""

from __future__ import annotations

import hashlib
import logging
import re
from datetime import datetime

from .. import config, observability
from ..core import errors, ledger, money, rules, search, timers
from ..core.model import CANCELLED, EXPIRED, FREELANCER, OPEN, Account, Bounty, Participant, new_id
from ..ports import PaymentDeclined, PaymentEvent, PaymentsServerError, PaymentsUnavailable
from ..repository import Page, Ref, current_lock
from .deps import Caller, Deps, fetch, retrying

log = logging.getLogger(__name__)


def create_bounty(deps: Deps, caller: Caller, *, title: str, description: str, reward: int, currency: str,
                  slots: int, deadline: datetime, review_window_seconds: int, claim_seconds: int | None,
                  estimated_minutes: int | None, tags: list[str], payment_method: str | None,
                  min_rating: float | None = None, min_completed: int | None = None) -> Bounty:
    caller.require("client")
    lock = current_lock()
    if lock is not None and lock.resume:
        return _resume_creation(deps, caller, lock.resume, payment_method)
    bounty = rules.new_bounty(
        bounty_id=new_id("bty_"), client_id=caller.account_id, title=title, description=description,
        reward=reward, currency=currency, slots=slots, deadline=deadline,
        review_window_seconds=review_window_seconds, claim_seconds=claim_seconds,
        estimated_minutes=estimated_minutes, tags=tags, now=deps.clock.now(),
        fee_bps=config.platform_fee_bps(), currencies=config.supported_currencies(), min_rating=min_rating,
        min_completed=min_completed,
    )
    if lock is not None:
        # Should anything fail after the write below (Stripe, our own write after Stripe charged, or the function
        # timing out), a retry with the Idempotency-Key funds this bounty, or finds it funded, rather than posting
        # another and charging again. The write stores the id with the key.
        lock.resume = bounty.id
    # Stored before Stripe is asked, so a webhook about this bounty always finds it; the write also checks the key.
    # Its deadline's timer goes with it: a bounty that is never funded expires too.
    deps.repo.commit(created=[bounty, timers.for_bounty(bounty, config.timer_shards())], guard=caller.guard())
    caller.guard_held()
    bounty.version = 1  # as stored: no need to read it back
    return fund_bounty(deps, caller, bounty.id, payment_method=payment_method, known=bounty)


def _resume_creation(deps: Deps, caller: Caller, bounty_id: str, payment_method: str | None) -> Bounty:
    """A retry of a post whose bounty was stored before the request failed (Stripe, or our own write after Stripe
    charged): the same bounty, funded now (under the same Stripe key, so a charge made already is replayed, not
    repeated), or as the webhook left it meanwhile."""
    bounty = get_own_bounty(deps, caller, bounty_id)
    if bounty.status not in (rules.AWAITING_FUNDING, rules.FUNDING_FAILED):
        return bounty
    return fund_bounty(deps, caller, bounty.id, payment_method=payment_method, known=bounty)


def fund_bounty(deps: Deps, caller: Caller, bounty_id: str, *, payment_method: str | None,
                known: Bounty | None = None) -> Bounty:
    """Creates the bounty's PaymentIntent, or pays the one it has, when given a payment method. A bounty keeps one
    intent for good, so a client_secret handed out earlier can never charge the client a second time.
    `known` is the bounty as the caller just wrote it, saving a read."""
    bounty = known or get_own_bounty(deps, caller, bounty_id)
    if bounty.status in (CANCELLED, EXPIRED):
        raise errors.StateConflict(f"The bounty is {bounty.status} and takes no payment: post a new one.",
                                   code="bounty_not_open")
    if bounty.status not in (rules.AWAITING_FUNDING, rules.FUNDING_FAILED):
        raise errors.StateConflict(f"The bounty is {bounty.status}; it needs no funding.", code="already_funded")
    if deps.clock.now() >= bounty.deadline:
        raise errors.StateConflict("The bounty's deadline has passed: post it again with a later one.",
                                   code="deadline_passed")
    if bounty.payment_intent_id and not payment_method:
        return bounty  # its intent and client_secret stand
    key = _funding_key(bounty, payment_method)
    in_hand = [bounty]

    def latest() -> Bounty:
        # The first attempt decides on the bounty read above: if a webhook changed it meanwhile, the versioned
        # write fails and the next attempt reads it again.
        return in_hand.pop() if in_hand else deps.repo.get_bounty(bounty.id)

    try:
        if bounty.payment_intent_id:
            intent = deps.payments.confirm_funding_intent(payment_intent_id=bounty.payment_intent_id,
                                                          payment_method=payment_method, idempotency_key=key)
        else:
            intent = deps.payments.create_funding_intent(
                bounty_id=bounty.id, amount=bounty.amount_total, currency=bounty.currency,
                payment_method=payment_method, idempotency_key=key,
                metadata={"bounty_id": bounty.id, "client_id": bounty.client_id},
            )
    except PaymentsServerError as error:
        retrying(lambda: _spend_funding_key(deps, latest(), bounty.funding_keys_spent))
        raise errors.ServiceUnavailable(
            f"Stripe failed, so bounty {bounty.id} is not funded yet; retry with POST /v1/bounties/{bounty.id}/fund "
            "(should Stripe have taken a payment anyway, the bounty is funded once: by whichever payment Stripe "
            "reports first, and any other is refunded in full).",
            code="payments_unavailable") from error
    except PaymentsUnavailable as error:
        raise errors.ServiceUnavailable(
            f"Stripe could not be reached, so bounty {bounty.id} is not funded yet; retry with "
            f"POST /v1/bounties/{bounty.id}/fund.", code="payments_unavailable") from error
    except PaymentDeclined as error:  # not a card decline: Stripe refused the request (an unknown payment method)
        reason = str(error)
        return retrying(lambda: _record_refusal(deps, latest(), reason))

    def record() -> Bounty:
        current = latest()
        if current.status not in (rules.AWAITING_FUNDING, rules.FUNDING_FAILED):
            return current  # funded by the webhook meanwhile, or cancelled (a payment after that is refunded)
        if current.payment_intent_id not in (None, intent.payment_intent_id):
            # Another first funding recorded its intent meanwhile: that is the escrow now, and this payment is a
            # stray its webhook refunds in full. Recording it would fund the bounty on money going back.
            return current
        now = deps.clock.now()
        updated = rules.attach_funding(current, payment_intent_id=intent.payment_intent_id,
                                       client_secret=intent.client_secret, now=now)
        if current.status == rules.FUNDING_FAILED:
            updated.status = rules.AWAITING_FUNDING
        if intent.status == "succeeded":
            return _commit_funded(deps, updated, intent.payment_intent_id, intent.charge_id) or updated
        if payment_method and intent.status in ("requires_payment_method", "canceled"):
            updated = rules.mark_funding_failed(updated, reason="The card was declined.", now=now) or updated
        deps.repo.commit(changed=[updated], final=True)
        return updated

    return retrying(record)


def _funding_key(bounty: Bounty, payment_method: str | None) -> str:
    """Each payment method tried, and each version of the bounty, gets its own key: a retry with a new card, or
    after a decline, must reach Stripe; so must one after a server error, which Stripe would replay."""
    base = f"fund:{bounty.id}:{_in_key(payment_method or 'none')}:{bounty.version}"
    return money.idempotency_key(base, bounty.funding_keys_spent)


PLAIN_ID = re.compile(r"[A-Za-z0-9_]{1,100}")


def _in_key(payment_method: str) -> str:
    """The payment method as it goes into a key (an HTTP header, at most 255 characters): as it is when it looks
    like one of Stripe's ids, else by digest, so that any text a client sends gets Stripe's refusal of the method
    (`funding_failed`), never a request Stripe cannot read (a 503)."""
    if PLAIN_ID.fullmatch(payment_method):
        return payment_method
    return "sha256-" + hashlib.sha256(payment_method.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def _spend_funding_key(deps: Deps, bounty: Bounty, keys_spent: int) -> None:
    moved = rules.spend_funding_key(bounty, keys_spent=keys_spent, now=deps.clock.now())
    if moved is not None:
        deps.repo.commit(changed=[moved])  # not the request's answer: it answers 503


def _record_refusal(deps: Deps, bounty: Bounty, reason: str) -> Bounty:
    """The payment was refused before any money moved: the bounty says why and waits for another try."""
    failed = rules.mark_funding_failed(bounty, reason=f"Stripe refused the payment: {reason}", now=deps.clock.now())
    if failed is None:
        return bounty
    deps.repo.commit(changed=[failed], final=True)
    return failed


def _charge_of(intent: dict) -> str | None:
    """The charge that paid: `latest_charge` (an id, or the charge when expanded), or, in the events of an endpoint
    on a Stripe API version before 2022-11-15, the first of `charges`. The transfers are made from it."""
    charge = intent.get("latest_charge")
    if charge is None and isinstance(intent.get("charges"), dict):
        listed = intent["charges"].get("data")
        charge = listed[0] if isinstance(listed, list) and listed else None
    charge_id = charge.get("id") if isinstance(charge, dict) else charge
    return charge_id if isinstance(charge_id, str) else None


def _commit_funded(deps: Deps, bounty: Bounty, payment_intent_id: str, charge_id: str | None) -> Bounty | None:
    now = deps.clock.now()
    funded = rules.mark_funded(bounty, payment_intent_id=payment_intent_id, charge_id=charge_id, now=now)
    if funded is None:
        return None
    entry = ledger.funded_entry(bounty.id, payment_intent_id=payment_intent_id, amount=bounty.amount_total,
                                currency=bounty.currency, at=now)
    # An open bounty always has its deadline's timer: filed when it was posted, or else now.
    deadline = [] if bounty.expiry_timer_filed else [timers.for_bounty(funded, config.timer_shards())]
    deps.repo.commit(changed=[funded], created=[entry, *deadline], final=True)
    observability.count("BountiesFunded")
    return funded


def apply_payment_event(deps: Deps, event: PaymentEvent) -> str:
    """Stripe's word on a PaymentIntent moves the bounty; replays and strangers change nothing. Only the platform's
    own payments count: one on a connected account (a freelancer's) is that account's money, whatever it says."""
    intent = event.data
    metadata = intent.get("metadata")
    bounty_id = metadata.get("bounty_id") if isinstance(metadata, dict) else None
    if event.account is not None or not isinstance(bounty_id, str) or not bounty_id.startswith("bty_"):
        return "ignored"
    if not isinstance(intent.get("id"), str):
        return "ignored"
    paid = next((v for v in (intent.get("amount_received"), intent.get("amount")) if _is_amount(v) and v), None)
    currency = intent.get("currency") if isinstance(intent.get("currency"), str) else ""

    def attempt() -> str:
        bounty = deps.repo.get_bounty(bounty_id)
        if bounty is None:
            return "ignored"
        escrow = rules.is_escrow_payment(bounty, payment_intent_id=intent["id"], amount=paid, currency=currency)
        if event.type == "payment_intent.succeeded":
            if not escrow:  # the client (or someone) paid what is not this bounty's escrow: it all goes back
                return _refund_stray_payment(deps, bounty, intent["id"], paid) if paid else "ignored"
            charge_id = _charge_of(intent)
            done = _commit_funded(deps, bounty, intent["id"], charge_id)
            if done is None and bounty.status in (CANCELLED, EXPIRED):
                return _refund_late_payment(deps, bounty, intent["id"], charge_id)
            return "funded" if done else "unchanged"
        if event.type == "payment_intent.payment_failed":
            if not escrow:
                return "ignored"
            error = intent.get("last_payment_error")
            message = error.get("message") if isinstance(error, dict) else None
            reason = message if isinstance(message, str) and message else "The payment failed."
            failed = rules.mark_funding_failed(bounty, reason=reason, now=deps.clock.now())
            if failed is None:
                return "unchanged"
            deps.repo.commit(changed=[failed])
            return "funding_failed"
        return "ignored"

    return retrying(attempt)


def _is_amount(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _refund_stray_payment(deps: Deps, bounty: Bounty, payment_intent_id: str, amount: int) -> str:
    """A payment on an intent of this bounty that is not its escrow's: one an earlier release superseded (each
    funding attempt used to make a new intent, whose client_secret could still be paid), or the loser of two first
    funding attempts racing. The client paid twice, so it goes back in full, once: the refund is looked up by its
    key before one is made, so a replayed event refunds nothing more. Not the bounty's money: no ledger entry."""
    try:
        deps.payments.refund(payment_intent_id=payment_intent_id, amount=amount,
                             refund_key=f"stray:{payment_intent_id}", idempotency_key=f"stray:{payment_intent_id}")
    except PaymentsUnavailable as error:  # Stripe sends the event again later
        raise errors.ServiceUnavailable("Stripe could not be reached to refund a duplicate payment; retry the event.",
                                        code="payments_unavailable") from error
    except PaymentDeclined as error:  # e.g. refunded by hand already: retrying the event would not change that
        log.error("payment %s for bounty %s is not its escrow, and Stripe refused its refund: %s", payment_intent_id,
                  bounty.id, error)
        observability.count("StrayPaymentRefundsRefused")
        return "refund_refused"
    log.warning("payment %s for bounty %s is not its escrow (%s): refunded %s in full", payment_intent_id,
                bounty.id, bounty.payment_intent_id, amount)
    observability.count("StrayPaymentsRefunded")
    return "refunded_duplicate"


def _refund_late_payment(deps: Deps, bounty: Bounty, payment_intent_id: str, charge_id: str | None) -> str:
    now = deps.clock.now()
    owed = rules.fund_after_close(bounty, payment_intent_id=payment_intent_id, charge_id=charge_id, now=now)
    if owed is None:
        if bounty.refund_owed_slots and not bounty.refund_key:
            # A replay after a failure to queue the refund: queue it again (refunds are idempotent).
            deps.queue.send(config.refunds_queue_name(), {"bounty_id": bounty.id})
        return "unchanged"
    entry = ledger.funded_entry(bounty.id, payment_intent_id=payment_intent_id, amount=bounty.amount_total,
                                currency=bounty.currency, at=now)
    deps.repo.commit(changed=[owed], created=[entry, *_refund_safety_net(owed, now)])
    deps.queue.send(config.refunds_queue_name(), {"bounty_id": bounty.id})
    log.warning("payment %s arrived after bounty %s was %s; refunding it in full", payment_intent_id, bounty.id,
                bounty.status)
    return "refunding"


def _refund_safety_net(bounty: Bounty, now: datetime) -> list:
    """A timer that queues the refund again should the message sent after this commit be lost."""
    if not bounty.refund_owed_slots:
        return []
    return [timers.resend_refund(bounty.id, now, config.timer_shards())]


def get_own_bounty(deps: Deps, caller: Caller, bounty_id: str) -> Bounty:
    """The caller's own bounty; anyone else's is reported missing, never forbidden."""
    bounty, = fetch(deps, caller, Ref(Bounty, bounty_id))
    if bounty is None or bounty.client_id != caller.account_id:
        raise errors.NotFound(f"No bounty {bounty_id} of yours exists.")
    return bounty


def get_visible_bounty(deps: Deps, caller: Caller | None, bounty_id: str) -> Bounty:
    """Open bounties are public; others only to their owner and the freelancers who worked on them."""
    bounty, participant = with_participant(deps, caller, bounty_id)
    return visible(bounty, caller, participant, bounty_id)


def get_visible_bounty_with_standing(deps: Deps, caller: Caller | None, bounty_id: str
                                     ) -> tuple[Bounty, Participant | None, Account | None]:
    """get_visible_bounty, with a freelancer caller's standing on it and their account (whether they meet its
    requirements) from the same read (None for others)."""
    bounty, participant, account = with_standing(deps, caller, bounty_id)
    return visible(bounty, caller, participant, bounty_id), participant, account


def with_standing(deps: Deps, caller: Caller | None, bounty_id: str
                  ) -> tuple[Bounty | None, Participant | None, Account | None]:
    """with_participant, and a freelancer's account (what the bounty's requirements ask of them), in the same
    round trip."""
    if caller is None or caller.role != FREELANCER:
        return *with_participant(deps, caller, bounty_id), None
    bounty, participant, account = fetch(deps, caller, Ref(Bounty, bounty_id),
                                         Ref(Participant, bounty_id, caller.account_id),
                                         Ref(Account, caller.account_id))
    return bounty, participant, account


BOUNTIES_PER_READ = 49  # each with the caller's participant record, and room for their key: BatchGetItem's 100


def get_visible_bounties(deps: Deps, caller: Caller, bounty_ids: list[str]) -> dict[str, Bounty | None]:
    """Many bounties by id, each as get_visible_bounty would answer (None where that is 404), in one round
    trip per BOUNTIES_PER_READ rather than one each."""
    ids = list(dict.fromkeys(bounty_ids))
    shown: dict[str, Bounty | None] = {}
    freelancer = caller.role == FREELANCER
    for start in range(0, len(ids), BOUNTIES_PER_READ):
        chunk = ids[start:start + BOUNTIES_PER_READ]
        refs = [Ref(Bounty, i) for i in chunk]
        if freelancer:
            refs += [Ref(Participant, i, caller.account_id) for i in chunk]
        found = fetch(deps, caller, *refs)
        participants = found[len(chunk):] if freelancer else [None] * len(chunk)
        for bounty_id, bounty, participant in zip(chunk, found[:len(chunk)], participants, strict=True):
            try:
                shown[bounty_id] = visible(bounty, caller, participant, bounty_id)
            except errors.NotFound:
                shown[bounty_id] = None
    return shown


def with_participant(deps: Deps, caller: Caller | None, bounty_id: str) -> tuple[Bounty | None, Participant | None]:
    """The bounty and, for a freelancer, their standing on it (None for others), in one round trip."""
    if caller is None or caller.role != FREELANCER:
        return fetch(deps, caller, Ref(Bounty, bounty_id))[0], None
    bounty, participant = fetch(deps, caller, Ref(Bounty, bounty_id), Ref(Participant, bounty_id, caller.account_id))
    return bounty, participant


def visible(bounty: Bounty | None, caller: Caller | None, participant: Participant | None, bounty_id: str) -> Bounty:
    if bounty is not None and (bounty.status == OPEN or _is_involved(caller, bounty, participant)):
        return bounty
    raise errors.NotFound(f"No bounty {bounty_id} exists.")


def _is_involved(caller: Caller | None, bounty: Bounty, participant: Participant | None) -> bool:
    if caller is None:
        return False
    return caller.account_id == bounty.client_id or (caller.is_freelancer and participant is not None)


def list_bounties(deps: Deps, caller: Caller | None, *, limit: int, cursor: str | None, tag: str | None,
                  min_reward: int | None, status: str | None, mine: bool, query: str | None = None) -> Page:
    words = search.words_of(query)
    if mine:
        if caller is None:
            raise errors.Unauthenticated("mine=true lists your own bounties: send your API key.")
        caller.require("client")
        return deps.repo.list_client_bounties(caller.account_id, limit=limit, cursor=cursor, status=status, tag=tag,
                                              min_reward=min_reward, words=words)
    if status not in (None, OPEN):
        return Page([])  # only their owners see bounties that are not open: ask with mine=true
    return deps.repo.list_open_bounties(limit=limit, cursor=cursor, tag=tag, min_reward=min_reward, words=words)


def cancel_bounty(deps: Deps, caller: Caller, bounty_id: str) -> Bounty:
    caller.require("client")

    def attempt() -> Bounty:
        bounty = get_own_bounty(deps, caller, bounty_id)
        now = deps.clock.now()
        closed = rules.cancel(bounty, now=now)
        # Live claims cannot be used any more: a timer due now ends them (they are not read here, so the request
        # stays one read and one write however many there are).
        deps.repo.commit(changed=[closed], created=timers.for_close(bounty, closed, now, config.timer_shards()),
                         final=True)
        return closed

    bounty = retrying(attempt)
    if rules.refunds_worker_needed(bounty):
        deps.queue.send(config.refunds_queue_name(), {"bounty_id": bounty.id})
    return bounty


def bounty_ledger(deps: Deps, caller: Caller, bounty_id: str):
    bounty = get_own_bounty(deps, caller, bounty_id)
    entries = sorted(deps.repo.list_ledger(bounty.id), key=lambda e: (e.created_at, e.id))
    return bounty, entries, ledger.totals(entries)
