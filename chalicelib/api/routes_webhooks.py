"""Stripe's signed events drive funding (and, later, payouts): the API never trusts a client's word."""

from __future__ import annotations

from chalice import Blueprint

from ..bootstrap import deps
from ..core import errors
from ..ports import WEBHOOK_EVENT_TYPES, InvalidWebhook, MalformedWebhook
from ..services import bounties, onboarding
from . import schemas as s
from .http import route

bp = Blueprint(__name__)

HANDLERS = {
    "payment_intent.succeeded": bounties.apply_payment_event,
    "payment_intent.payment_failed": bounties.apply_payment_event,
    "account.updated": onboarding.apply_account_event,
}
assert set(HANDLERS) == set(WEBHOOK_EVENT_TYPES)


@route(bp, "/v1/webhooks/stripe", method="POST", summary="Stripe events, verified by signature; replays are harmless.",
       response=s.WebhookAck, auth=None, also=(400,))
def stripe_webhook(request, caller, body):
    try:
        event = deps().payments.parse_webhook(request.raw_body or b"", request.headers.get("stripe-signature"))
    except MalformedWebhook as error:
        raise errors.DomainError("The event is signed, but it is not shaped as a Stripe event.",
                                 code="invalid_event") from error
    except InvalidWebhook as error:
        raise errors.DomainError("The event's signature did not verify against our webhook secret.",
                                 code="invalid_signature") from error
    handler = HANDLERS.get(event.type)
    if handler is None:  # Stripe sends only the types the endpoints are subscribed to: these
        raise errors.DomainError(f"This endpoint takes only {', '.join(HANDLERS)} events, not {event.type[:100]!r}; "
                                 "subscribe it to those alone (docs/DEPLOY.md step 6).", code="unknown_event")
    return s.WebhookAck(received=True, outcome=handler(deps(), event))
