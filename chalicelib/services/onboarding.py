"""Freelancers become payable: a Connect Express account, hosted onboarding, and Stripe's word on readiness."""

from __future__ import annotations

import logging
from dataclasses import replace

from .. import config
from ..core import errors, money, timers
from ..core.model import Account
from ..ports import PaymentDeclined, PaymentEvent, PaymentsServerError, PaymentsUnavailable
from ..repository import Ref
from . import payouts
from .deps import Caller, Deps, fetch, retrying

log = logging.getLogger(__name__)


def _connect_key(account: Account) -> str:
    return money.idempotency_key(f"connect:{account.id}", account.connect_keys_spent)


def _spend_connect_key(deps: Deps, account: Account) -> None:
    """Stripe answered with a server error, which it gives again to every retry under that key for 24 hours: the
    freelancer's next try takes a new key. (Had the failed request made the account, that one is left unused: a
    Connect account holds no money until it is onboarded and paid.)"""
    in_hand = [account]

    def spend():
        current = in_hand.pop() if in_hand else deps.repo.get_account(account.id)
        if current.stripe_account_id or current.connect_keys_spent != account.connect_keys_spent:
            return  # another request got an account, or moved the key on, meanwhile
        deps.repo.commit(changed=[replace(current, connect_keys_spent=current.connect_keys_spent + 1)])

    retrying(spend)


def start_onboarding(deps: Deps, caller: Caller) -> str:
    caller.require("freelancer")
    account, = fetch(deps, caller, Ref(Account, caller.account_id))
    try:
        if not account.stripe_account_id:
            # The key makes concurrent first calls create one Stripe account, not two.
            try:
                stripe_id = deps.payments.create_express_account(account_id=account.id, email=account.email,
                                                                 idempotency_key=_connect_key(account))
            except PaymentsServerError:
                _spend_connect_key(deps, account)
                raise

            in_hand = [account]

            def remember():
                current = in_hand.pop() if in_hand else deps.repo.get_account(caller.account_id)
                if current.stripe_account_id:
                    return current
                updated = replace(current, stripe_account_id=stripe_id)
                deps.repo.commit(changed=[updated])
                return updated

            account = retrying(remember)
        base = config.public_base_url().rstrip("/")
        return deps.payments.create_onboarding_link(
            stripe_account_id=account.stripe_account_id,
            refresh_url=f"{base}/web/onboarding/refresh", return_url=f"{base}/web/onboarding/complete")
    except PaymentsUnavailable as error:
        raise errors.ServiceUnavailable("Stripe could not be reached; try again in a minute.",
                                        code="payments_unavailable") from error
    except PaymentDeclined as error:  # nothing the freelancer sent: our platform's set-up, for an operator to fix
        log.error("Stripe refused to set up payouts for %s: %s", caller.account_id, error)
        raise errors.ServiceUnavailable(f"Stripe refused to set up payouts ({error}); this was logged for us to fix. "
                                        "Try again later.", code="payments_unavailable") from error


def apply_account_event(deps: Deps, event: PaymentEvent) -> str:
    """account.updated: the freelancer can (or can no longer) receive transfers.

    The event says what the account was when it was sent, and Stripe does not deliver events in order: an older
    "cannot be paid" arriving after "ready" would hold every payout to come, with nothing left to release them. So
    the event only says when to look, and Stripe's word now decides. Two events handled at once can still write
    in the other order than they read, so after writing, Stripe is asked again, and a different answer is written
    in its turn."""
    stripe_account = event.data
    metadata = stripe_account.get("metadata")
    account_id = metadata.get("account_id") if isinstance(metadata, dict) else None
    stripe_id = stripe_account.get("id")
    if not isinstance(account_id, str) or not account_id or not isinstance(stripe_id, str):
        return "ignored"
    enabled = _stripes_word(deps, stripe_id)
    if enabled is None:
        return "ignored"
    outcome = _set_payable(deps, account_id, stripe_id, enabled)
    if outcome == "ignored":  # not our freelancer's Stripe account
        return outcome
    # Two looks at Stripe at most, so the request stays within API Gateway's time (docs/DESIGN.md "Time budgets");
    # a word that changes again meanwhile comes with an event of its own.
    latest = _stripes_word(deps, stripe_id)
    if latest is not None and latest != enabled:
        outcome = _set_payable(deps, account_id, stripe_id, latest)
    return outcome


def ask_stripe_if_payable(deps: Deps, account: Account) -> bool:
    """For a payout about to be held: a freelancer with a Connect account we have not seen ready may be ready all
    the same (Stripe's word missed, or not come yet). Stripe is asked; if it says ready, the account is set so,
    and any payouts held for it released, as its webhook would. False when Stripe cannot be asked now (the hold's
    safety net asks again later)."""
    if not account.stripe_account_id or account.payouts_enabled:
        return account.payouts_enabled
    try:
        ready = _stripes_word(deps, account.stripe_account_id)
    except errors.ServiceUnavailable:
        return False
    if not ready:
        return False
    return _set_payable(deps, account.id, account.stripe_account_id, True) == "payouts_enabled"


def _stripes_word(deps: Deps, stripe_id: str) -> bool | None:
    """Whether Stripe says the account can be paid now; None for an account it does not show us."""
    try:
        return deps.payments.can_receive_payouts(stripe_account_id=stripe_id)
    except PaymentsUnavailable as error:  # Stripe sends the event again
        raise errors.ServiceUnavailable("Stripe could not be reached to read the account; try again in a minute.",
                                        code="payments_unavailable") from error
    except PaymentDeclined as error:  # a refusal of another kind: nothing a retry of the event would change
        log.warning("Stripe refused to show account %s: %s", stripe_id, error)
        return None


def _set_payable(deps: Deps, account_id: str, stripe_id: str, enabled: bool) -> str:
    # One transaction, no read of the account: it changes only the account that owns this Stripe account, and
    # puts the payouts that waited for it back in the queue (the first TRANSACTION_ROOM; any more, one by one).
    # Each carries a safety net: once committed, Stripe's retry of this event finds nothing waiting, so a send lost
    # after the commit would leave the payout queued with no message.
    def attempt() -> list | None:
        now = deps.clock.now()
        waiting = payouts.waiting_for_onboarding(deps, account_id)[:TRANSACTION_ROOM] if enabled else []
        requeued = [money.requeue(payout, now=now) for payout in waiting]
        safety_nets = [timers.resend_released_payout(payout.id, now, config.timer_shards()) for payout in requeued]
        changed = deps.repo.set_if(Account, account_id, {"payouts_enabled": enabled}, along=requeued,
                                   created=safety_nets, expected={"stripe_account_id": stripe_id})
        return requeued if changed else None

    requeued = retrying(attempt)
    if requeued is None:
        return "ignored"
    payouts.send(deps, requeued)
    if enabled:
        if len(requeued) == TRANSACTION_ROOM:
            payouts.release_awaiting(deps, account_id)
        return "payouts_enabled"
    return "payouts_disabled"


# A DynamoDB transaction holds 100 items: the account, and this many payouts, their timers and their copies in the
# freelancer's list of work.
TRANSACTION_ROOM = 33
