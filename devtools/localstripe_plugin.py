"""Dev-only additions to localstripe: what our code needs from Stripe that it lacks.

- Connect: Express accounts, account links whose URL is a local page that completes onboarding (as Stripe's hosted
  flow would) and sends `account.updated`; an account restricted again (`POST /_config/connect/restrict/<id>`, as
  Stripe does when it needs more details; `payouts=kept` its transfers alone), with its `account.updated` unless
  `event=false` (a word that is late); an account's email that is no ordinary address refused (`email_invalid`);
- transfers from a charge (`source_transaction`), refused for unknown or not-yet-enabled destinations and beyond
  what the charge holds; listing by `transfer_group`/`destination`;
- `transfer_group` on PaymentIntents; a declined PaymentIntent's error carries the intent (`payment_intent`), as
  Stripe's does; refunds refused beyond what is left of the charge;
- replay of `Idempotency-Key`: the same key on the same path with the same body gets the first response again (a
  server error too), with another body a 400, as Stripe does;
- server errors on demand (`POST /_config/server_errors` with `path`, a regex, `times`, and `after=true` to do the
  work first), answered and remembered under the request's key as Stripe's own 500s are;
- Stripe's test payment methods for declined charges (`pm_card_chargeDeclined` and its kin), declined when charged;
- a count of the API requests served (`GET /_config/request_count`), so the benchmarks count Stripe round trips;
- webhooks sent `seconds` after their event (`POST /_config/webhook_delay`) rather than localstripe's one second.

Never shipped in the Lambda package (devtools/ is not part of it).
"""

from __future__ import annotations

import asyncio
import hashlib
import html
import re
import time
import types
import urllib.parse

from aiohttp import web
from localstripe import resources, server
from localstripe.errors import UserError
from localstripe.resources import Charge, Event, List, PaymentIntent, PaymentMethod, Refund, StripeObject, store
from localstripe.webhooks import schedule_webhook

ONBOARD_PATH = "/_config/connect/onboard"
LINK_LIFETIME_SECONDS = 300
# Stripe refuses an account's email that is not an ordinary address (`email_invalid`), though it be x@y.z in shape.
STRIPE_EMAIL = re.compile(r"[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")


class Account(StripeObject):
    object = "account"
    _id_prefix = "acct_"

    def __init__(self, type=None, email=None, country=None, metadata=None, capabilities=None,  # noqa: A002
                 business_type=None, **kwargs):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        if type not in ("express", "standard", "custom"):
            raise UserError(400, "type must be express, standard or custom")
        if email is not None and not STRIPE_EMAIL.fullmatch(email):
            raise UserError(400, f"Invalid email address: {email}", {"code": "email_invalid", "param": "email"})
        super().__init__()
        self.type = type
        self.email = email
        self.country = country or "US"
        self.business_type = business_type
        self.metadata = metadata or {}
        requested = (capabilities or {}).keys()
        self.capabilities = {name: "inactive" for name in requested}
        self.details_submitted = False
        self.charges_enabled = False
        self.payouts_enabled = False

    def _complete_onboarding(self):
        self.details_submitted = True
        self.charges_enabled = True
        self.payouts_enabled = True
        self.capabilities = {name: "active" for name in self.capabilities} or {"transfers": "active"}
        schedule_webhook(Event("account.updated", self))

    def _onboarded(self) -> bool:
        return self.payouts_enabled and all(state == "active" for state in self.capabilities.values())

    def _restrict(self, *, send_event: bool, payouts_kept: bool = False):
        self.payouts_enabled = payouts_kept
        self.capabilities = {name: "inactive" for name in self.capabilities}
        if send_event:
            schedule_webhook(Event("account.updated", self))

    @classmethod
    def _api_list_all(cls, url, limit=None, starting_after=None, **kwargs):
        return super()._api_list_all(url, limit=limit, starting_after=starting_after, **kwargs)


class Transfer(StripeObject):
    object = "transfer"
    _id_prefix = "tr_"

    def __init__(self, amount=None, currency=None, destination=None, source_transaction=None, transfer_group=None,
                 metadata=None, description=None, **kwargs):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        amount = resources.try_convert_to_int(amount)
        if not isinstance(amount, int) or amount <= 0 or not isinstance(currency, str):
            raise UserError(400, "Bad request: amount and currency are required")
        account = store.get(f"account:{destination}")
        if account is None:
            raise UserError(400, f"No such destination: '{destination}'",
                            {"code": "resource_missing", "param": "destination"})
        if account.capabilities.get("transfers") != "active":
            raise UserError(400, "Your destination account needs to have at least one of the following capabilities "
                            "enabled: transfers, crypto_transfers, legacy_payments",
                            {"code": "insufficient_capabilities_for_transfer", "param": "destination"})
        if source_transaction is not None:
            charge = Charge._api_retrieve(source_transaction)
            if charge.status != "succeeded" or charge.currency != currency:
                raise UserError(400, "The source transaction cannot fund this transfer.",
                                {"code": "invalid_source_transaction", "param": "source_transaction"})
            if _spent_from_charge(charge.id) + amount > charge.amount:
                raise UserError(400, "Insufficient funds in the source transaction for this transfer.",
                                {"code": "balance_insufficient", "param": "amount"})
        super().__init__()
        self.amount = amount
        self.currency = currency
        self.destination = destination
        self.source_transaction = source_transaction
        self.transfer_group = transfer_group
        self.metadata = metadata or {}
        self.description = description
        self.reversed = False
        self.amount_reversed = 0

    @classmethod
    def _api_list_all(cls, url, transfer_group=None, destination=None, limit=None, starting_after=None, **kwargs):
        if kwargs:
            raise UserError(400, "Unexpected " + ", ".join(kwargs))
        listing = super()._api_list_all(url, limit=limit, starting_after=starting_after)
        listing._list = [t for t in listing._list
                         if (transfer_group is None or t.transfer_group == transfer_group)
                         and (destination is None or t.destination == destination)]
        listing._list.sort(key=lambda t: t.created)
        return listing


def _spent_from_charge(charge_id: str) -> int:
    transfers = sum(v.amount for k, v in store.items()
                    if k.startswith("transfer:") and v.source_transaction == charge_id)
    refunds = sum(v.amount for k, v in store.items() if k.startswith("refund:") and v.charge == charge_id)
    return transfers + refunds


def _refuse_over_refunds() -> None:
    original = Refund.__init__

    def checked_init(self, charge=None, payment_intent=None, amount=None, metadata=None, **kwargs):
        charge_id = charge
        if payment_intent is not None and charge is None:
            intent = PaymentIntent._api_retrieve(payment_intent)
            charge_id = intent.latest_charge.id if intent.latest_charge is not None else None
        if charge_id is not None:
            charge_obj = Charge._api_retrieve(charge_id)
            refunded = sum(v.amount for k, v in store.items() if k.startswith("refund:") and v.charge == charge_id)
            wanted = resources.try_convert_to_int(amount) if amount is not None else charge_obj.amount - refunded
            if isinstance(wanted, int) and refunded + wanted > charge_obj.amount:
                raise UserError(400, f"Refund amount ({wanted}) is greater than unrefunded amount on charge "
                                f"({charge_obj.amount - refunded})", {"code": "charge_already_refunded"})
        original(self, charge=charge, payment_intent=payment_intent, amount=amount, metadata=metadata, **kwargs)

    Refund.__init__ = checked_init


def _list_refunds_of_unpaid_intents() -> None:
    """Stripe lists no refunds for a PaymentIntent that was never charged; localstripe fails with a 500."""
    original = Refund._api_list_all

    def listing(url, charge=None, payment_intent=None, limit=None, starting_after=None, **kwargs):
        if payment_intent is not None and charge is None:
            intent = PaymentIntent._api_retrieve(payment_intent)
            if intent.latest_charge is None:
                return List(url, limit=limit)
        return original(url, charge=charge, payment_intent=payment_intent, limit=limit,
                        starting_after=starting_after, **kwargs)

    Refund._api_list_all = staticmethod(listing)


def _accept_transfer_group() -> None:
    original = PaymentIntent.__init__

    def init_with_group(self, *args, transfer_group=None, **kwargs):
        original(self, *args, **kwargs)
        self.transfer_group = transfer_group

    PaymentIntent.__init__ = init_with_group


def _declines_carry_the_intent() -> None:
    original = PaymentIntent._report_failure

    def report_failure(self):
        try:
            original(self)
        except UserError as error:
            error.body["error"]["payment_intent"] = self._export()
            raise

    PaymentIntent._report_failure = report_failure


# -- Stripe's test payment methods for a declined charge (localstripe knows only pm_card_chargeCustomerFail) --

DECLINED_CHARGE_CARD = "4000000000000341"  # a card localstripe attaches but declines when charged
DECLINING_TEST_METHODS = ("pm_card_chargeDeclined", "pm_card_chargeDeclinedInsufficientFunds",
                          "pm_card_chargeDeclinedLostCard", "pm_card_chargeDeclinedStolenCard",
                          "pm_card_chargeDeclinedExpiredCard", "pm_card_chargeDeclinedIncorrectCvc",
                          "pm_card_chargeDeclinedProcessingError", "pm_card_visa_chargeDeclined")


def _more_declining_test_methods() -> None:
    original = PaymentMethod._try_get_canonical_test_article.__func__

    def canonical(cls, id):  # noqa: A002 - localstripe's naming
        if id in DECLINING_TEST_METHODS:
            card = {"number": DECLINED_CHARGE_CARD, "exp_month": "12", "exp_year": "2030", "cvc": "123"}
            return PaymentMethod(type="card", card=card)
        return original(cls, id)

    PaymentMethod._try_get_canonical_test_article = classmethod(canonical)


# -- confirming a PaymentIntent with a payment method, as Stripe.js does (localstripe answers 500) --

_CONFIRM_PATH = re.compile(r"^/v1/payment_intents/(pi_\w+)/confirm$")


@web.middleware
async def confirm_with_payment_method(request: web.Request, handler):
    match = _CONFIRM_PATH.match(request.path) if request.method == "POST" else None
    if match is None:
        return await handler(request)
    data = await server.get_post_data(request) or {}
    payment_method = data.pop("payment_method", None)
    if payment_method is None:
        return await handler(request)
    intent = PaymentIntent._api_retrieve(match.group(1))
    if intent.status not in ("requires_payment_method", "requires_confirmation"):
        raise UserError(400, f"This PaymentIntent's status is {intent.status}; it cannot be confirmed.")
    PaymentMethod._api_retrieve(payment_method)  # 404 for an unknown one
    intent.payment_method = payment_method
    intent.latest_charge = None  # a new attempt after a declined one
    return server.json_response(PaymentIntent._api_confirm(intent.id)._export())


# -- account links and the local onboarding page --

async def create_account_link(request: web.Request) -> web.Response:
    data = await server.get_post_data(request) or {}
    account_id = data.get("account")
    account = store.get(f"account:{account_id}")
    if account is None:
        raise UserError(400, f"No such account: '{account_id}'", {"code": "resource_missing", "param": "account"})
    for field in ("refresh_url", "return_url"):
        if not str(data.get(field, "")).startswith("http"):
            raise UserError(400, f"{field} must be an http(s) URL", {"param": field})
    query = urllib.parse.urlencode({"return_url": data["return_url"], "refresh_url": data["refresh_url"]})
    now = int(time.time())
    link = {"object": "account_link", "url": f"http://{request.host}{ONBOARD_PATH}/{account_id}?{query}",
            "created": now, "expires_at": now + LINK_LIFETIME_SECONDS}
    return server.json_response(link)


def onboarding_page(request: web.Request) -> web.Response:
    """API.md: the local link is a page whose visit completes onboarding, so a client that only opens it (a script,
    or a person who never presses the button) gets the account ready and Stripe's `account.updated`. The button then
    returns to the platform, as the end of Stripe's hosted flow does."""
    account = _account_or_404(request)
    if not account._onboarded():  # once: a second visit sends no second event
        account._complete_onboarding()
        store.dump_to_disk()
    page = f"""<!doctype html><meta name=viewport content="width=device-width">
<title>Local Stripe onboarding</title><h1>Payout onboarding (local stand-in)</h1>
<p>Account {html.escape(account.id)} ({html.escape(account.email or "")}). On Stripe, this is where identity and bank
details are collected; here, opening this page has completed them.</p>
<form method=post><button>Complete onboarding and return</button></form>"""
    return web.Response(text=page, content_type="text/html")


async def complete_onboarding(request: web.Request) -> web.Response:
    account = _account_or_404(request)
    if not account._onboarded():
        account._complete_onboarding()
        store.dump_to_disk()
    return_url = request.query.get("return_url")
    if return_url and return_url.startswith("http"):
        raise web.HTTPSeeOther(return_url)
    return server.json_response(account._export())


async def restrict_account(request: web.Request) -> web.Response:
    """Stripe restricts an onboarded account until it gets more details: it can receive nothing until onboarding is
    completed again. `event=false` holds back its `account.updated`, as a webhook delivery that failed would;
    `payouts=kept` restricts its transfers capability alone (`payouts_enabled` stays true), as Stripe can."""
    account = _account_or_404(request)
    form = await request.post()
    account._restrict(send_event=form.get("event", "true") != "false", payouts_kept=form.get("payouts") == "kept")
    store.dump_to_disk()
    return server.json_response(account._export())


def _account_or_404(request: web.Request) -> Account:
    account = store.get(f"account:{request.match_info['id']}")
    if account is None:
        raise UserError(404, "No such account")
    return account


# -- Idempotency-Key replay --

_key_locks: dict[str, asyncio.Lock] = {}


@web.middleware
async def idempotency_middleware(request: web.Request, handler):
    key = request.headers.get("Idempotency-Key")
    if request.method != "POST" or not key:
        return await _answer(request, handler)
    body = await request.read()
    fingerprint = hashlib.sha256(request.path.encode() + b"\n" + body).hexdigest()
    lock = _key_locks.setdefault(key, asyncio.Lock())
    async with lock:
        remembered = store.get(f"idempotency:{key}")
        if remembered is not None:
            if remembered["fingerprint"] != fingerprint:
                return server.json_response({"error": {
                    "type": "idempotency_error", "message": "Keys for idempotent requests can only be used with the "
                    "same parameters they were first used with."}}, status=400)
            response = web.Response(body=remembered["body"], status=remembered["status"],
                                    content_type="application/json")
            response.headers["Idempotent-Replayed"] = "true"
            return response
        response = await _answer(request, handler)
        if isinstance(response, web.Response):  # Stripe keeps a server error under the key too
            store[f"idempotency:{key}"] = {"fingerprint": fingerprint, "status": response.status,
                                           "body": response.body}
        return response


# -- server errors on demand --

_server_errors: list[dict] = []


async def _answer(request: web.Request, handler):
    fault = _server_error_for(request) if request.method == "POST" else None
    if fault is None:
        return await handler(request)
    if fault["after"]:
        await handler(request)  # the work is done; the caller hears only of an error
    return server.json_response({"error": {"type": "api_error", "message": "An error occurred with our connection "
                                           "to Stripe (injected by the dev plugin)."}}, status=500)


def _server_error_for(request: web.Request) -> dict | None:
    for fault in _server_errors:
        if fault["times"] > 0 and fault["path"].search(request.path):
            fault["times"] -= 1
            return fault
    return None


async def add_server_errors(request: web.Request) -> web.Response:
    form = await request.post()
    _server_errors.append({"path": re.compile(form["path"]), "times": int(form.get("times", "1")),
                           "after": form.get("after") == "true"})
    return server.json_response({"pending": sum(f["times"] for f in _server_errors)})


async def clear_server_errors(request: web.Request) -> web.Response:
    _server_errors.clear()
    return server.json_response({"pending": 0})


# -- counting API requests (for bench/) --

_served = {"api_requests": 0}


@web.middleware
async def count_requests(request: web.Request, handler):
    if not request.path.startswith("/_config/"):
        _served["api_requests"] += 1
    return await handler(request)


async def request_count(request: web.Request) -> web.Response:
    return server.json_response({"count": _served["api_requests"]})


# -- how long after its event a webhook is sent --

_webhook_delay = {"seconds": 1.0}  # localstripe's own


def _send_webhooks_after_the_delay() -> None:
    """localstripe sends each webhook a second after its event (never inside the request that made it, as Stripe);
    its module uses asyncio for that one wait and to schedule the send, so it gets asyncio with the wait ours."""
    from localstripe import webhooks

    async def wait(_localstripes_second):
        await asyncio.sleep(_webhook_delay["seconds"])

    webhooks.asyncio = types.SimpleNamespace(sleep=wait, ensure_future=asyncio.ensure_future)


async def set_webhook_delay(request: web.Request) -> web.Response:
    form = await request.post()
    _webhook_delay["seconds"] = float(form["seconds"])
    return server.json_response(_webhook_delay)


def install(app: web.Application) -> None:
    """Adds the routes and middleware; call before the app starts."""
    _accept_transfer_group()
    _declines_carry_the_intent()
    _more_declining_test_methods()
    _refuse_over_refunds()
    _list_refunds_of_unpaid_intents()
    _send_webhooks_after_the_delay()
    app.middlewares.insert(0, idempotency_middleware)
    app.middlewares.insert(0, count_requests)
    # Inside localstripe's error and auth middlewares, so its errors and 401s apply.
    app.middlewares.append(confirm_with_payment_method)
    app.router.add_post("/v1/account_links", create_account_link)
    app.router.add_get("/_config/request_count", request_count)
    app.router.add_post("/_config/server_errors", add_server_errors)
    app.router.add_delete("/_config/server_errors", clear_server_errors)
    app.router.add_post("/_config/webhook_delay", set_webhook_delay)
    app.router.add_get(f"{ONBOARD_PATH}/{{id}}", onboarding_page)
    app.router.add_post(f"{ONBOARD_PATH}/{{id}}", complete_onboarding)
    app.router.add_post("/_config/connect/restrict/{id}", restrict_account)
    for cls in (Account, Transfer):
        base = f"/v1/{cls.object}s"
        app.router.add_route("POST", base, server.api_create(cls, base))
        app.router.add_route("GET", base + "/{id}", server.api_retrieve(cls, base))
        app.router.add_route("POST", base + "/{id}", server.api_update(cls, base))
        app.router.add_route("GET", base, server.api_list_all(cls, base))

