"""Payments on Stripe (Connect: separate charges and transfers). Imported only by the paths that move money.

Every call that creates money movement carries an idempotency key built from our ids, and transfers and refunds
are also looked up by our ids in their metadata first, because Stripe forgets idempotency keys after ~24 h (a
transfer skips the look-up when its caller knows the key is younger than that).
"""

from __future__ import annotations

import json
import logging
from typing import Any

import stripe

from .. import config
from ..core.reconcile import StripeMoney, StripeMovement
from ..ports import (
    DestinationCannotReceive,
    FundingIntent,
    InvalidWebhook,
    MalformedWebhook,
    PaymentDeclined,
    PaymentEvent,
    PaymentsServerError,
    PaymentsUnavailable,
)

log = logging.getLogger(__name__)

WEBHOOK_TOLERANCE_SECONDS = 300
# One request, all its tries and the SDK's sleep between them, takes at most 2 × 5 + 0.5 = 10.5 s: small enough
# that a worker's message and an API request fit their function's timeout (tests/infra: the budget arithmetic).
NETWORK_TIMEOUT_SECONDS = 5
NETWORK_RETRIES = 1
# Errors worth trying again later: the request may not have reached Stripe, or Stripe failed.
_TRANSIENT = (stripe.APIConnectionError, stripe.APIError, stripe.RateLimitError)


class StripePayments:
    def __init__(self, api_key: str | None = None, api_base: str | None = None, webhook_secret: str | None = None,
                 *, timeout: float = NETWORK_TIMEOUT_SECONDS, network_retries: int = NETWORK_RETRIES):
        base = api_base if api_base is not None else config.stripe_api_base()
        self._client = stripe.StripeClient(
            api_key or config.stripe_secret_key(),
            base_addresses={"api": base} if base else None,
            http_client=stripe.RequestsClient(timeout=timeout),
            max_network_retries=network_retries,  # safe: every mutating request carries an idempotency key
        )
        self._webhook_secret = webhook_secret
        self._v1 = self._client.v1

    # -- funding --

    def create_funding_intent(self, *, bounty_id: str, amount: int, currency: str, payment_method: str | None,
                              idempotency_key: str, metadata: dict[str, str]) -> FundingIntent:
        params: dict[str, Any] = {
            "amount": amount, "currency": currency, "metadata": metadata, "transfer_group": bounty_id,
            "payment_method_types": ["card"],
        }
        if not payment_method:
            with _translated_errors():
                intent = self._v1.payment_intents.create(params, {"idempotency_key": f"{idempotency_key}:create"})
        else:
            # Created and confirmed in one request (one round trip to Stripe, not two). A decline is a CardError
            # that carries the intent, as it now stands, so the bounty can still name it.
            params.update(payment_method=payment_method, confirm=True)
            with _translated_errors():
                try:
                    intent = self._v1.payment_intents.create(params, {"idempotency_key": f"{idempotency_key}:pay"})
                except stripe.CardError as error:
                    intent = error.error.payment_intent if error.error else None
                    if not intent:
                        raise
                    log.info("card declined for bounty %s: %s", bounty_id, error.user_message)
        return _funding(intent)

    def confirm_funding_intent(self, *, payment_intent_id: str, payment_method: str,
                               idempotency_key: str) -> FundingIntent:
        """Pays the bounty's existing intent with a (new) payment method. A bounty keeps one intent, so a payment
        made through a client_secret handed out earlier can never become a second charge."""
        with _translated_errors():
            try:
                intent = self._v1.payment_intents.confirm(payment_intent_id, {"payment_method": payment_method},
                                                          {"idempotency_key": f"{idempotency_key}:confirm"})
            except stripe.CardError as error:
                intent = error.error.payment_intent if error.error else None
                if not intent:
                    raise
            except stripe.InvalidRequestError:
                # Stripe refuses to confirm an intent already paid (through its client_secret, say): that payment
                # is the funding. Any other refusal (an unknown payment method) stands.
                intent = self._v1.payment_intents.retrieve(payment_intent_id)
                if intent["status"] not in ("succeeded", "processing"):
                    raise
        return _funding(intent)

    def parse_webhook(self, raw_body: bytes, signature_header: str | None) -> PaymentEvent:
        """The event, once its signature verifies; only then may anything be said of the body (it was
        'signed, but no event' for unsigned bytes that were no UTF-8, or a signature that was no hex)."""
        if not signature_header:
            raise InvalidWebhook("The Stripe-Signature header is missing.")
        try:
            text = raw_body.decode("utf-8")
        except UnicodeDecodeError as error:  # Stripe signs UTF-8 text: no signature can hold for these bytes
            raise InvalidWebhook("The Stripe signature does not verify.") from error
        secrets = _signing_secrets(self._webhook_secret or config.stripe_webhook_secret())
        if not any(_verifies(text, signature_header, secret) for secret in secrets):
            raise InvalidWebhook("The Stripe signature does not verify.")
        try:
            payload = json.loads(text)
        except (ValueError, RecursionError) as error:
            raise MalformedWebhook("The webhook body is not JSON.") from error
        if not isinstance(payload, dict):  # signed, then not an event: `[]`, `null`
            raise MalformedWebhook("The webhook body is not a Stripe event.")
        return _event_of(payload)

    def cancel_funding_intent(self, *, payment_intent_id: str, idempotency_key: str) -> str:
        with _translated_errors():
            try:
                intent = self._v1.payment_intents.cancel(payment_intent_id, {}, {"idempotency_key": idempotency_key})
            except stripe.InvalidRequestError:
                # Refused: already cancelled (past the key's lifetime, say) is what was asked; paid is a refusal.
                intent = self._v1.payment_intents.retrieve(payment_intent_id)
                if intent["status"] != "canceled":
                    raise
        return intent["status"]

    # -- Connect --

    def create_express_account(self, *, account_id: str, email: str, idempotency_key: str) -> str:
        params = {"type": "express", "email": email, "metadata": {"account_id": account_id},
                  "capabilities": {"transfers": {"requested": True}}}
        with _translated_errors():
            try:
                account = self._v1.accounts.create(params, {"idempotency_key": idempotency_key})
            except stripe.InvalidRequestError as error:
                if _error_code(error) != EMAIL_REFUSED_CODE:
                    raise
                # Sign-up takes addresses Stripe does not, and an account's email cannot be changed: without it,
                # Stripe's hosted form asks the freelancer for one, rather than leaving them unpayable for good.
                log.warning("Stripe refused the email of account %s: its Connect account is made without it",
                            account_id)
                del params["email"]
                account = self._v1.accounts.create(params, {"idempotency_key": f"{idempotency_key}:without-email"})
        return account["id"]

    def create_onboarding_link(self, *, stripe_account_id: str, refresh_url: str, return_url: str) -> str:
        params = {"account": stripe_account_id, "refresh_url": refresh_url, "return_url": return_url,
                  "type": "account_onboarding"}
        with _translated_errors():
            link = self._v1.account_links.create(params)
        return link["url"]

    def can_receive_payouts(self, *, stripe_account_id: str) -> bool | None:
        with _translated_errors():
            try:
                account = self._v1.accounts.retrieve(stripe_account_id)
            except (stripe.PermissionError, stripe.InvalidRequestError) as error:
                if _no_such_account(error):
                    return None
                # Our key may not read accounts (a restricted key): an operator's to fix, and the caller's to retry
                # (a webhook answers 503, so Stripe sends the event again), never a word to drop.
                log.error("Stripe refused to read account %s: %s", stripe_account_id, error)
                raise PaymentsUnavailable(f"Stripe refused to read the account: {error.user_message or error}"
                                          ) from error
            except stripe.AuthenticationError as error:  # our key: fixed by an operator, the event sent again
                raise PaymentsUnavailable(f"Stripe refused our API key: {error.user_message or error}") from error
        return _can_take_transfers(account.to_dict())

    # -- money out --

    def transfer(self, *, payout_id: str, destination: str, amount: int, currency: str, source_charge: str | None,
                 transfer_group: str, idempotency_key: str, look_first: bool = True) -> str:
        with _translated_errors():
            if look_first:
                earlier = self._find(self._v1.transfers.list, {"transfer_group": transfer_group}, "payout_id",
                                     payout_id)
                if earlier is not None:
                    return earlier["id"]
            params: dict[str, Any] = {
                "amount": amount, "currency": currency, "destination": destination,
                "transfer_group": transfer_group, "metadata": {"payout_id": payout_id},
            }
            if source_charge:
                params["source_transaction"] = source_charge
            try:
                created = self._v1.transfers.create(params, {"idempotency_key": idempotency_key})
            except stripe.InvalidRequestError as error:
                if _error_code(error) == CANNOT_RECEIVE_CODE:
                    raise DestinationCannotReceive(error.user_message or str(error)) from error
                raise
        return created["id"]

    def refund(self, *, payment_intent_id: str, amount: int, refund_key: str, idempotency_key: str) -> str:
        with _translated_errors():
            earlier = self._find(self._v1.refunds.list, {"payment_intent": payment_intent_id}, "refund_key",
                                 refund_key)
            if earlier is not None:
                return earlier["id"]
            params = {"payment_intent": payment_intent_id, "amount": amount, "metadata": {"refund_key": refund_key}}
            created = self._v1.refunds.create(params, {"idempotency_key": idempotency_key})
        return created["id"]

    # -- reading back, for reconciliation --

    def money_for(self, *, payment_intent_id: str, transfer_group: str) -> StripeMoney:
        with _translated_errors():
            intent = self._v1.payment_intents.retrieve(payment_intent_id)
            charged = intent["amount"] if intent["status"] == "succeeded" else 0
            transfers = tuple(
                StripeMovement(t["id"], t["amount"] - (t["amount_reversed"] if "amount_reversed" in t else 0),
                               _metadata(t).get("payout_id"))
                for t in self._all(self._v1.transfers.list, {"transfer_group": transfer_group}))
            refunds = tuple(StripeMovement(r["id"], r["amount"], _metadata(r).get("refund_key"))
                            for r in self._all(self._v1.refunds.list, {"payment_intent": payment_intent_id})
                            if r["status"] in ("succeeded", "pending"))
        return StripeMoney(charged=charged, transfers=transfers, refunds=refunds)

    @staticmethod
    def _all(list_call, filters: dict[str, str]) -> list:
        params: dict[str, Any] = {**filters, "limit": 100}
        found = []
        while True:
            page = list_call(params)
            found.extend(page["data"])
            if not page["has_more"] or not page["data"]:
                return found
            params["starting_after"] = page["data"][-1]["id"]

    @classmethod
    def _find(cls, list_call, filters: dict[str, str], metadata_key: str, value: str):
        """The first object in a filtered list carrying our id in its metadata (all pages)."""
        return next((item for item in cls._all(list_call, filters) if _metadata(item).get(metadata_key) == value),
                    None)


def _can_take_transfers(account: dict) -> bool:
    """Ready to be paid: Stripe pays its transfers out to the bank (`payouts_enabled`) and takes them (its `transfers`
    capability active). Stripe can restrict the capability alone; taken for ready, such an account would have its
    held payouts released and refused again, round and round."""
    capabilities = account.get("capabilities")
    transfers = capabilities.get("transfers") if isinstance(capabilities, dict) else None
    return bool(account.get("payouts_enabled")) and transfers == "active"


# Stripe's code for a transfer to a connected account whose transfers capability is not active (not onboarded yet,
# or restricted since): it can be paid once onboarding is completed again.
CANNOT_RECEIVE_CODE = "insufficient_capabilities_for_transfer"
EMAIL_REFUSED_CODE = "email_invalid"  # an address Stripe does not take as an account's email


def _error_code(error: stripe.StripeError) -> str | None:
    return getattr(getattr(error, "error", None), "code", None) or getattr(error, "code", None)


def _no_such_account(error: stripe.StripeError) -> bool:
    """Stripe's answer for an account that does not exist or is not the platform's: 404 (and localstripe's), or
    403 `account_invalid` ("does not have access to account ... (or that account does not exist)")."""
    if error.http_status == 404:
        return True
    return error.http_status == 403 and (_error_code(error) == "account_invalid" or "access to account" in str(error))


def _verifies(text: str, signature_header: str, secret: str) -> bool:
    try:
        return stripe.WebhookSignature.verify_header(text, signature_header, secret, WEBHOOK_TOLERANCE_SECONDS)
    except stripe.SignatureVerificationError:
        return False  # maybe another endpoint's secret
    except (TypeError, ValueError):  # a signature of non-ASCII text, which compare_digest refuses to compare
        return False


def _signing_secrets(configured: str) -> list[str]:
    """Stripe signs each webhook endpoint with its own secret, and events of connected accounts (account.updated
    for Express accounts) come from a second endpoint: the setting holds them comma-separated."""
    return [secret.strip() for secret in configured.split(",") if secret.strip()]


def _metadata(stripe_object) -> dict:
    return stripe_object["metadata"].to_dict() if stripe_object["metadata"] else {}


def _funding(intent) -> FundingIntent:
    return FundingIntent(payment_intent_id=intent["id"], client_secret=intent["client_secret"],
                         status=intent["status"], charge_id=_charge_id(intent))


def _charge_id(intent) -> str | None:
    charge = intent["latest_charge"] if "latest_charge" in intent else None
    if charge is None:
        return None
    return charge if isinstance(charge, str) else charge["id"]


class _translated_errors:  # noqa: N801 - used as a statement: `with _translated_errors():`
    """Stripe's transient failures become PaymentsUnavailable; refusals become PaymentDeclined."""

    def __enter__(self):
        return self

    def __exit__(self, kind, error, traceback):
        if error is None:
            return False
        if isinstance(error, stripe.APIError) and (error.http_status or 0) >= 500:
            raise PaymentsServerError(f"Stripe failed: {error.user_message or error}") from error
        if isinstance(error, _TRANSIENT):
            raise PaymentsUnavailable(f"Stripe is unavailable: {error.user_message or error}") from error
        if isinstance(error, stripe.StripeError):
            raise PaymentDeclined(error.user_message or str(error)) from error
        return False


def _event_of(event: dict) -> PaymentEvent:
    """The fields we act on, each of the type Stripe gives it; anything else is no event of Stripe's."""
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    account = event.get("account")
    if not (isinstance(event.get("id"), str) and isinstance(event.get("type"), str) and isinstance(obj, dict)
            and (account is None or isinstance(account, str))):
        raise MalformedWebhook("The webhook body is not a Stripe event.")
    return PaymentEvent(id=event["id"], type=event["type"], data=obj, account=account)
