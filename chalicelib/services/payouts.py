"""Paying approved work: one Stripe Connect transfer per payout, whatever the retries and races."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta

from .. import config, observability
from ..core import errors, money, timers
from ..core.model import AWAITING_ONBOARDING, FAILED, PAID, QUEUED, Account, Bounty, Payout
from ..ports import DestinationCannotReceive, PaymentsServerError
from ..repository import Ref
from .deps import Deps, fetch_with_parents, retrying

log = logging.getLogger(__name__)

# Stripe keeps an idempotency key at least 24 hours; an hour's margin covers clock skew and a slow request.
STRIPE_KEY_TRUSTED_FOR = timedelta(hours=23)


class RetryLater(Exception):
    """The message should come back (SQS redelivers it; after the last try it goes to the DLQ)."""


def _read(deps: Deps, payout_id: str) -> tuple[Payout | None, Account | None, Bounty | None]:
    """The payout, its freelancer and its bounty."""
    payout, (freelancer, bounty) = fetch_with_parents(
        deps, None, Payout, payout_id, lambda bounty_id, freelancer_id: [Ref(Account, freelancer_id),
                                                                          Ref(Bounty, bounty_id)])
    return payout, freelancer, bounty


def pay_out(deps: Deps, payout_id: str, *, receive_count: int = 1) -> str:
    payout, freelancer, bounty = _read(deps, payout_id)
    if payout is None:
        log.warning("payout message for unknown payout %s dropped", payout_id)
        return "unknown"
    if payout.status in (PAID, FAILED):
        return payout.status  # a duplicate message, or one left behind before a failure
    if not _can_receive(freelancer) and freelancer is not None and _ready_by_stripes_word(deps, freelancer):
        freelancer = deps.repo.get_account(freelancer.id)  # as just set ready (at its new version)
    if not _can_receive(freelancer):
        if payout.status != AWAITING_ONBOARDING:
            _update(deps, payout.id, lambda p: money.hold_for_onboarding(p, now=deps.clock.now())
                    if p.status not in (PAID, FAILED) else None, known=payout, also=_recheck(deps, payout))
            _look_again(deps, payout, freelancer)
        return AWAITING_ONBOARDING
    try:
        transfer_id = deps.payments.transfer(
            payout_id=payout.id, destination=freelancer.stripe_account_id, amount=payout.amount,
            currency=payout.currency, source_charge=bounty.charge_id, transfer_group=bounty.id,
            idempotency_key=_transfer_key(payout), look_first=not _key_surely_remembered(payout, deps.clock.now()),
        )
    except DestinationCannotReceive as error:
        return _hold_refused(deps, payout, freelancer, error)
    except Exception as error:  # Stripe down, or refusing: retried with backoff, then failed for good
        last_try = receive_count >= config.max_receive_count()
        reason = f"{type(error).__name__}: {error}"
        key_spent = isinstance(error, PaymentsServerError)
        tried_while_held = payout.status == AWAITING_ONBOARDING
        recorded = _update(deps, payout.id, lambda p: money.record_attempt(
            p, error=reason, failed=last_try, now=deps.clock.now(), key_spent=key_spent,
            tried_while_held=tried_while_held), known=payout)
        if recorded is None:
            log.info("payout %s attempt %s failed after another delivery paid it: %s", payout.id, receive_count, error)
            return PAID
        log.warning("payout %s delivery %s failed: %s", payout.id, receive_count, error)
        if last_try and recorded.status == FAILED:  # not one held meanwhile: its account's readiness releases it
            log.error("payout %s failed for good after %s attempts (`ops failed-payouts`, then `ops redrive`): %s",
                      payout.id, recorded.attempts, error)
            observability.count("PayoutsFailed")
        raise RetryLater(str(error)) from error
    in_hand = [(payout, bounty, freelancer)]
    return retrying(lambda: _settle(deps, payout.id, transfer_id, in_hand.pop() if in_hand else None))


def _recheck(deps: Deps, payout: Payout) -> list:
    """The safety net a hold files with it: Stripe's word that the account is ready finds waiting payouts through
    an eventually consistent index, so it can miss one held a moment before."""
    if payout.status == AWAITING_ONBOARDING:
        return []  # held before, with its own
    return [timers.recheck_held_payout(payout.id, deps.clock.now(), config.timer_shards())]


def _look_again(deps: Deps, payout: Payout, freelancer: Account) -> None:
    """Stripe's word that the account is ready may have come between our read of the account and the hold."""
    if _can_receive(deps.repo.get_account(freelancer.id)):
        send(deps, [payout])


def _hold_refused(deps: Deps, payout: Payout, freelancer: Account, error: Exception) -> str:
    """Stripe refused the transfer to an account held here as ready: it was restricted since, and Stripe's word of
    that has not come yet (or never will). The payout waits for the account as for onboarding, and the account is
    marked not ready in the same write, so Stripe's word that it is ready again releases the payout. The write
    is conditional on the account as read before the transfer: if it changed meanwhile (that word may have come
    just now), the payout is sent again rather than held on an older word."""
    held = money.hold_for_restricted_account(payout, freelancer, now=deps.clock.now())
    if held is None:
        return payout.status
    log.warning("payout %s held: Stripe refused the transfer to %s, which cannot receive now: %s", payout.id,
                freelancer.stripe_account_id, error)
    try:
        deps.repo.commit(changed=list(held), created=_recheck(deps, payout))
    except errors.ConcurrentUpdate:
        send(deps, [payout])
        return "resent"
    _look_again(deps, payout, freelancer)
    return AWAITING_ONBOARDING


def _ready_by_stripes_word(deps: Deps, freelancer: Account) -> bool:
    """A Connect account not seen ready here may be ready on Stripe (its word missed): asked before holding, so an
    operator's `redrive` pays a payout whose release was missed (docs/OPERATIONS.md)."""
    from .onboarding import ask_stripe_if_payable  # onboarding imports this module

    return ask_stripe_if_payable(deps, freelancer)


def _can_receive(freelancer: Account | None) -> bool:
    return bool(freelancer and freelancer.stripe_account_id and freelancer.payouts_enabled)


def _transfer_key(payout: Payout) -> str:
    """One key for every attempt of a round of deliveries, so a request that timed out but reached Stripe and a
    retry of it cannot both create a transfer. An operator's re-drive after a failed round starts a new round
    (Stripe would otherwise replay the round's refusal), and so does a server error from Stripe, which it would
    replay too (`keys_spent`); the lookup by payout id inside transfer() still finds a transfer any earlier key
    made."""
    return money.idempotency_key(f"transfer:{payout.id}:r{payout.attempts // config.max_receive_count()}",
                                 payout.keys_spent)


def _key_surely_remembered(payout: Payout, now: datetime) -> bool:
    """Whether Stripe still remembers every request an earlier attempt could have sent for this payout, so the
    transfer's idempotency key alone makes a retry safe and the look-up (one more Stripe round trip) can be
    skipped. True in the first round of deliveries (every attempt used that round's one key) while the payout is
    younger than Stripe's shortest key lifetime, less a margin; an operator's re-drive starts a round whose
    earlier rounds used other keys, and a server error from Stripe moves on to a new key too."""
    first_round = payout.attempts < config.max_receive_count() and not payout.keys_spent
    return first_round and now - payout.created_at < STRIPE_KEY_TRUSTED_FOR


def _settle(deps: Deps, payout_id: str, transfer_id: str, known: tuple | None = None) -> str:
    """Records the transfer. The first attempt uses the records read before it (`known`): the versioned write
    fails if any of them changed meanwhile, and the retry reads them afresh."""
    if known is not None:
        payout, bounty, freelancer = known
    else:
        payout, freelancer, bounty = _read(deps, payout_id)
        if payout.status == PAID:
            return PAID
    bounty, payout, freelancer, entries = money.settle_payout(bounty, payout, freelancer, transfer_id=transfer_id,
                                                              now=deps.clock.now())
    deps.repo.commit(changed=[bounty, payout, freelancer], created=entries)
    observability.count("PayoutsPaid")
    return PAID


def _update(deps: Deps, payout_id: str, change, known: Payout | None = None, also: list | None = None
            ) -> Payout | None:
    """Changes a payout (with `also` created alongside); the first attempt on `known` (as just read), a retry on a
    fresh read."""
    in_hand = [known] if known is not None else []

    def attempt():
        current = in_hand.pop() if in_hand else deps.repo.get_payout(payout_id)
        updated = change(current)
        if updated is not None:
            deps.repo.commit(changed=[updated], created=also or [])
        return updated

    return retrying(attempt)


def waiting_for_onboarding(deps: Deps, freelancer_id: str) -> list[Payout]:
    """From the sparse index of unpaid payouts: the read costs what waits, not the freelancer's history."""
    waiting, cursor = [], None
    while True:
        page = deps.repo.list_freelancer_payouts(freelancer_id, limit=100, cursor=cursor, status=AWAITING_ONBOARDING)
        waiting += page.items  # the repository filters by status
        cursor = page.next_cursor
        if cursor is None:
            return waiting


def send(deps: Deps, payouts: list[Payout]) -> None:
    for payout in payouts:
        deps.queue.send(config.payouts_queue_name(), {"payout_id": payout.id})


def release_awaiting(deps: Deps, freelancer_id: str) -> int:
    """Sends every payout that waited for this freelancer's onboarding back to the queue, one by one, each with the
    safety net of a release (onboarding.apply_account_event)."""
    released = 0
    for payout in waiting_for_onboarding(deps, freelancer_id):
        safety_net = timers.resend_released_payout(payout.id, deps.clock.now(), config.timer_shards())
        if _update(deps, payout.id, lambda p: money.requeue(p, now=deps.clock.now())
                   if p.status == AWAITING_ONBOARDING else None, known=payout, also=[safety_net]):
            send(deps, [payout])
            released += 1
    return released


def resend_if_waiting(deps: Deps, payout_id: str) -> str:
    """The safety net of an approval, and of a hold for onboarding: if the payout is still queued, its message
    may have been lost; if it still waits for onboarding while the freelancer can receive, Stripe's word was
    missed. Either way it is sent again (a duplicate is harmless: the worker pays a payout once)."""
    payout, freelancer, _ = _read(deps, payout_id)
    if payout is None or payout.status not in (QUEUED, AWAITING_ONBOARDING):
        return "unchanged"
    if payout.status == AWAITING_ONBOARDING and not _can_receive(freelancer):
        return "unchanged"  # onboarding not finished: Stripe's word will release it
    deps.queue.send(config.payouts_queue_name(), {"payout_id": payout_id})
    return "resent"


def redrive(deps: Deps, payout_id: str) -> Payout:
    """An operator sends a failed payout again (docs: OPERATIONS.md). As with an approval, the message goes out
    after the commit, so a timer filed with it sends the payout again if that message is lost."""
    now = deps.clock.now()
    safety_net = timers.resend_payout(payout_id, now, config.timer_shards())

    def requeue(payout: Payout | None) -> Payout:
        if payout is None:
            raise errors.NotFound(f"No payout {payout_id} exists.")
        return money.requeue(payout, now=now)

    payout = _update(deps, payout_id, requeue, also=[safety_net])
    deps.queue.send(config.payouts_queue_name(), {"payout_id": payout_id})
    return payout
