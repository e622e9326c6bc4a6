"""Accounts: sign-up and the caller's own record."""

from __future__ import annotations

from chalice import Blueprint

from ..bootstrap import deps
from ..services import accounts, onboarding
from . import render
from . import schemas as s
from .http import PAGE_QUERY, paging, route

bp = Blueprint(__name__)


@route(bp, "/v1/accounts", method="POST", summary="Create a client or freelancer account; returns its API key once.",
       body=s.CreateAccount, response=s.AccountOut, status=201, auth=None, idempotent=True)
def create_account(request, caller, body: s.CreateAccount):
    account, api_key = accounts.create_account(deps(), role=body.role, name=body.name, email=body.email)
    return render.account(account, api_key=api_key)


@route(bp, "/v1/accounts/me", method="GET", summary="The caller's account, with a freelancer's track record.",
       response=s.AccountOut)
def get_me(request, caller, body):
    return render.account(accounts.get_me(deps(), caller))


@route(bp, "/v1/accounts/me/payout-onboarding", method="POST",
       summary="Create the Stripe Connect account on first call; returns a one-time onboarding link.",
       body=s.Empty, response=s.OnboardingOut, auth="freelancer")
def payout_onboarding(request, caller, body):
    return s.OnboardingOut(url=onboarding.start_onboarding(deps(), caller))


def _key(api_key, raw: str | None = None) -> s.ApiKeyOut:
    return s.ApiKeyOut(id=api_key.key_id, created_at=api_key.created_at, revoked=api_key.revoked, api_key=raw)


@route(bp, "/v1/accounts/me/keys", method="GET", summary="Extension: the account's API keys, newest first (never "
       "their secrets).", response=s.ApiKeyList, query=PAGE_QUERY)
def list_keys(request, caller, body):
    limit, cursor = paging(request)
    return render.page(s.ApiKeyList, accounts.page_keys(deps(), caller, limit=limit, cursor=cursor), _key)


@route(bp, "/v1/accounts/me/keys", method="POST", summary="Extension: add an API key (rotation); shown once.",
       body=s.Empty, response=s.ApiKeyOut, status=201, idempotent=True)
def add_key(request, caller, body):
    api_key, raw = accounts.add_key(deps(), caller)
    return _key(api_key, raw)


@route(bp, "/v1/accounts/me/keys/{key_id}", method="DELETE",
       summary="Extension: revoke an API key; requests with it get 401 from then on. The last live key cannot be "
               "revoked (409 last_key).", response=s.ApiKeyOut, also=(409,))
def revoke_key(request, caller, body, key_id):
    return _key(accounts.revoke_key(deps(), caller, key_id))
