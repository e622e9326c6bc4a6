"""Accounts and API keys: keys are shown once and stored only as a keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import replace

from .. import config
from ..core import errors
from ..core.model import CLIENT, FREELANCER, Account, ApiKey, new_id
from .deps import Caller, Deps

KEY_PREFIX = "bk_"


def hash_api_key(raw_key: str) -> str:
    return hmac.new(config.api_key_pepper().encode(), raw_key.encode(), hashlib.sha256).hexdigest()


def _new_key(account_id: str, role: str, now) -> tuple[ApiKey, str]:
    raw_key = KEY_PREFIX + secrets.token_urlsafe(32)
    return ApiKey(key_hash=hash_api_key(raw_key), key_id=new_id("key_"), account_id=account_id, role=role,
                  created_at=now), raw_key


def create_account(deps: Deps, *, role: str, name: str, email: str) -> tuple[Account, str]:
    if role not in (CLIENT, FREELANCER):
        raise errors.Invalid("role must be 'client' or 'freelancer'.")
    now = deps.clock.now()
    account = Account(id=new_id("acct_"), role=role, name=name, email=email, created_at=now)
    api_key, raw_key = _new_key(account.id, role, now)
    deps.repo.commit(created=[account, api_key])
    return account, raw_key


MAX_KEYS = 10


def list_keys(deps: Deps, caller: Caller) -> list[ApiKey]:
    return deps.repo.list_api_keys(caller.account_id)


def add_key(deps: Deps, caller: Caller) -> tuple[ApiKey, str]:
    """Rotation: a second key works at once; revoke the old one when every client uses the new one."""
    live = [k for k in list_keys(deps, caller) if not k.revoked]
    if len(live) >= MAX_KEYS:
        raise errors.StateConflict(f"An account can hold at most {MAX_KEYS} live keys; revoke one first.",
                                   code="too_many_keys")
    api_key, raw_key = _new_key(caller.account_id, caller.role, deps.clock.now())
    deps.repo.commit(created=[api_key])
    return api_key, raw_key


def revoke_key(deps: Deps, caller: Caller, key_id: str) -> ApiKey:
    for api_key in list_keys(deps, caller):
        if api_key.key_id == key_id:
            if api_key.revoked:
                return api_key
            revoked = replace(api_key, revoked=True)
            deps.repo.commit(changed=[revoked])
            return revoked
    raise errors.NotFound(f"No key {key_id} of yours exists.")


def authenticate(deps: Deps, authorization: str | None) -> Caller:
    """The caller behind `Authorization: Bearer <key>`; one key lookup, no account read."""
    scheme, _, raw_key = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not raw_key.strip():
        raise errors.Unauthenticated("Send your API key as 'Authorization: Bearer <api_key>'.")
    # Looked up by keyed hash, so the stored value reveals nothing; the final check is constant-time as well, so
    # no storage quirk (a prefix or case-insensitive match) could let a near-miss through.
    presented = hash_api_key(raw_key.strip())
    api_key = deps.repo.get_api_key(presented)
    if api_key is None or api_key.revoked or not hmac.compare_digest(api_key.key_hash, presented):
        raise errors.Unauthenticated("This API key is not valid; check it or create a new account.")
    return Caller(account_id=api_key.account_id, role=api_key.role, key_id=api_key.key_id)


def get_me(deps: Deps, caller: Caller) -> Account:
    account = deps.repo.get_account(caller.account_id)
    if account is None:
        raise errors.Unauthenticated("This API key's account no longer exists.")
    return account
