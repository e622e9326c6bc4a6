"""Freelancers become payable: a Connect Express account, hosted onboarding, and Stripe's word on readiness."""

from __future__ import annotations

from dataclasses import replace

from .. import config
from ..core import errors
from ..ports import PaymentEvent, PaymentsUnavailable
from . import payouts
from .deps import Caller, Deps, retrying


def start_onboarding(deps: Deps, caller: Caller) -> str:
    caller.require("freelancer")
    account = deps.repo.get_account(caller.account_id)
    try:
        if not account.stripe_account_id:
            # The key makes concurrent first calls create one Stripe account, not two.
            stripe_id = deps.payments.create_express_account(account_id=account.id, email=account.email,
                                                             idempotency_key=f"connect:{account.id}")

            def remember():
                current = deps.repo.get_account(caller.account_id)
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


def apply_account_event(deps: Deps, event: PaymentEvent) -> str:
    """account.updated: the freelancer can (or can no longer) receive transfers."""
    stripe_account = event.data
    account_id = (stripe_account.get("metadata") or {}).get("account_id")
    if not account_id:
        return "ignored"
    enabled = bool(stripe_account.get("payouts_enabled"))

    def attempt():
        account = deps.repo.get_account(account_id)
        if account is None or account.stripe_account_id != stripe_account.get("id"):
            return None
        if account.payouts_enabled != enabled:
            deps.repo.commit(changed=[replace(account, payouts_enabled=enabled)])
        return account

    account = retrying(attempt)
    if account is None:
        return "ignored"
    if enabled:
        payouts.release_awaiting(deps, account.id)  # also after a replay: releasing twice queues nothing new
        return "payouts_enabled"
    return "payouts_disabled"
