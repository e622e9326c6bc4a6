"""Small interfaces between the use cases and the outside world (Stripe, SQS, the clock)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from .core.reconcile import StripeMoney


@dataclass(frozen=True)
class FundingIntent:
    payment_intent_id: str
    client_secret: str
    # Stripe's PaymentIntent status: "succeeded", "requires_payment_method", "requires_confirmation", ...
    status: str
    charge_id: str | None = None


# The Stripe events the webhook takes, by the endpoint Stripe sends them from (docs/DEPLOY.md step 6). Any other
# type, signed or not, is refused (400 `unknown_event`): the endpoints are subscribed to these alone.
WEBHOOK_EVENTS = {
    "your account": ("payment_intent.succeeded", "payment_intent.payment_failed"),
    "connected accounts": ("account.updated",),
}
WEBHOOK_EVENT_TYPES = tuple(t for types in WEBHOOK_EVENTS.values() for t in types)


@dataclass(frozen=True)
class PaymentEvent:
    """A verified Stripe webhook event, reduced to what we act on."""

    id: str
    type: str
    data: dict[str, Any] = field(default_factory=dict)  # event.data.object as a plain dict
    account: str | None = None  # the connected account it happened on (Connect endpoint); None: the platform's own


class InvalidWebhook(Exception):
    """The payload or its signature did not verify."""


class MalformedWebhook(InvalidWebhook):
    """Signed, but not shaped as a Stripe event (no id or type, data that is no object)."""


class PaymentDeclined(Exception):
    """Stripe refused the card; the message is safe to show the client."""


class DestinationCannotReceive(PaymentDeclined):
    """Stripe refused a transfer because the connected account cannot receive one now: restricted after onboarding
    (Stripe wants more details), before its word that it is came to us."""


class PaymentsUnavailable(Exception):
    """Stripe (or the network to it) failed in a way worth retrying later."""


class PaymentsServerError(PaymentsUnavailable):
    """Stripe answered with a server error (5xx). It keeps that answer under the request's idempotency key and
    gives it again to every retry with the key (for 24 hours), so a retry needs a new key; the request may also
    have done its work before failing, so a new key is safe only after looking for that work."""


class Payments(Protocol):
    def create_funding_intent(
        self,
        *,
        bounty_id: str,
        amount: int,
        currency: str,
        payment_method: str | None,
        idempotency_key: str,
        metadata: dict[str, str],
    ) -> FundingIntent:
        """A PaymentIntent captured at once, in the bounty's transfer group; confirmed when
        `payment_method` is given. A decline returns status != succeeded (never raises for it)."""

    def confirm_funding_intent(self, *, payment_intent_id: str, payment_method: str,
                               idempotency_key: str) -> FundingIntent:
        """Pays an existing intent with a payment method; an intent already paid is returned as it stands."""

    def cancel_funding_intent(self, *, payment_intent_id: str, idempotency_key: str) -> str:
        """Cancels an intent not yet paid, so its client_secret can no longer charge the client; returns its status
        (`canceled`, also for one cancelled before). Raises PaymentDeclined when Stripe refuses (the intent was paid,
        or is being paid)."""

    def parse_webhook(self, raw_body: bytes, signature_header: str | None) -> PaymentEvent:
        """Raises InvalidWebhook unless the body is signed with our endpoint secret, within tolerance."""

    def create_express_account(self, *, account_id: str, email: str, idempotency_key: str) -> str:
        """A Connect Express account able to receive transfers; returns its `acct_...` id."""

    def create_onboarding_link(self, *, stripe_account_id: str, refresh_url: str, return_url: str) -> str:
        """A single-use hosted onboarding URL."""

    def can_receive_payouts(self, *, stripe_account_id: str) -> bool | None:
        """Stripe's word now on whether the connected account can be paid (`payouts_enabled`, and its transfers
        capability active); None when Stripe knows no such account."""

    def transfer(
        self,
        *,
        payout_id: str,
        destination: str,
        amount: int,
        currency: str,
        source_charge: str | None,
        transfer_group: str,
        idempotency_key: str,
        look_first: bool = True,
    ) -> str:
        """Moves `amount` to the connected account exactly once per payout_id. With `look_first`, looks for an
        earlier transfer carrying metadata payout_id before creating one; without, relies on the idempotency key
        alone (the caller knows every earlier request used that key recently enough for Stripe to replay it).
        Returns the transfer id; raises DestinationCannotReceive when the account cannot take it now."""

    def refund(self, *, payment_intent_id: str, amount: int, refund_key: str, idempotency_key: str) -> str:
        """Refunds part of a PaymentIntent exactly once per refund_key. Returns the refund id."""

    def money_for(self, *, payment_intent_id: str, transfer_group: str) -> StripeMoney:
        """Stripe's own record of a bounty's money: charged, transferred, refunded (for reconciliation)."""


# SQS takes at most this many messages in one SendMessageBatch.
SEND_BATCH_LIMIT = 10


class Queue(Protocol):
    def send(self, queue_name: str, body: dict[str, Any], *, delay_seconds: int = 0) -> None:
        """Puts one JSON message on the named queue."""

    def send_batch(self, queue_name: str, bodies: Sequence[dict[str, Any]]) -> set[int]:
        """Puts JSON messages on the named queue, SEND_BATCH_LIMIT to a request; returns the positions in `bodies`
        of those the queue did not take (each message of a request is taken or refused on its own)."""


class Clock(Protocol):
    def now(self) -> datetime:
        """Timezone-aware UTC now."""
