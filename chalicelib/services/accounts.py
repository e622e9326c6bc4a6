"""Accounts and API keys: keys are shown once and stored only as a keyed hash."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import replace

from .. import config
from ..core import errors
from ..core.model import CLIENT, FREELANCER, Account, ApiKey, Increment, new_id
from ..repository import KeyGuard, Page, Ref
from .deps import Caller, Deps, check, fetch, retrying

KEY_PREFIX = "bk_"
NAMED_ACCOUNT = re.compile(r"acct_[0-9a-f]{1,40}")  # ids as core.model.new_id makes them


def hash_api_key(raw_key: str) -> str:
    return hmac.new(config.api_key_pepper().encode(), raw_key.encode(), hashlib.sha256).hexdigest()


def _new_key(account_id: str, role: str, now) -> tuple[ApiKey, str]:
    # The key names its account and role (the secret part is what proves them): a request can then read its
    # records and its key together, in one round trip. token_urlsafe never yields the '.' that separates them.
    raw_key = f"{KEY_PREFIX}{account_id}.{role}.{secrets.token_urlsafe(32)}"
    return ApiKey(key_hash=hash_api_key(raw_key), key_id=new_id("key_"), account_id=account_id, role=role,
                  created_at=now), raw_key


def create_account(deps: Deps, *, role: str, name: str, email: str) -> tuple[Account, str]:
    if role not in (CLIENT, FREELANCER):
        raise errors.Invalid("role must be 'client' or 'freelancer'.")
    now = deps.clock.now()
    account = Account(id=new_id("acct_"), role=role, name=name, email=email, created_at=now, live_keys=1)
    api_key, raw_key = _new_key(account.id, role, now)
    deps.repo.commit(created=[account, api_key])
    return account, raw_key


MAX_KEYS = 10


def list_keys(deps: Deps, caller: Caller) -> list[ApiKey]:
    check(deps, caller)
    return deps.repo.list_api_keys(caller.account_id)


def page_keys(deps: Deps, caller: Caller, *, limit: int, cursor: str | None) -> Page:
    """The account's keys, live and revoked, newest first (rotation leaves a revoked key behind each time)."""
    check(deps, caller)
    return deps.repo.page_api_keys(caller.account_id, limit=limit, cursor=cursor)


def add_key(deps: Deps, caller: Caller) -> tuple[ApiKey, str]:
    """Rotation: a second key works at once; revoke the old one when every client uses the new one."""
    # The count is read before the key is checked, but nothing is shown or written unless the write's guard holds
    # (and an error goes out only once the key is checked, see api.http).
    # The listing (an index that may lag) answers at once; the write itself holds the limit under racing requests:
    # it adds to the account's count of live keys, which may not pass MAX_KEYS. A write that merely collided with
    # another on the account (an approval adding to its counters, say) is tried again.
    def attempt() -> tuple[ApiKey, str]:
        live = [k for k in deps.repo.list_api_keys(caller.account_id) if not k.revoked]
        if len(live) >= MAX_KEYS:
            raise _too_many_keys()
        api_key, raw_key = _new_key(caller.account_id, caller.role, deps.clock.now())
        counted = Increment(Account, caller.account_id, {"live_keys": 1}, ceilings={"live_keys": MAX_KEYS},
                            unset_is={"live_keys": len(live)})
        try:
            deps.repo.commit(created=[api_key], increments=[counted], guard=caller.guard())
        except errors.CeilingReached as error:  # the count is at the limit: another request added the last key
            raise _too_many_keys() from error
        return api_key, raw_key

    made = retrying(attempt)
    caller.guard_held()
    return made


def _too_many_keys() -> errors.StateConflict:
    return errors.StateConflict(f"An account can hold at most {MAX_KEYS} live keys; revoke one first.",
                                code="too_many_keys")


def revoke_key(deps: Deps, caller: Caller, key_id: str) -> ApiKey:
    keys = deps.repo.list_api_keys(caller.account_id)
    own = [k for k in keys if not caller.checked and hmac.compare_digest(k.key_hash, caller.unchecked_hash)]
    if own:
        # Revoking with the key itself in the account's list: that listing proves the key (a write may not both
        # check and change one item in one transaction).
        caller.confirm(own[0])
    target = next((k for k in keys if k.key_id == key_id), None)
    if target is None or target.revoked:
        check(deps, caller)
        if target is None:
            raise errors.NotFound(f"No key {key_id} of yours exists.")
        return target
    # The listing comes from an index that may lag: a write that finds the key changed since (signed out of the web
    # form, say) reads it again from the table and tries once more.
    listed = [target]

    def attempt() -> ApiKey:
        current = listed.pop() if listed else deps.repo.get_api_key(target.key_hash)
        if current is None or current.revoked:
            return current or target
        return _revoke_with_a_witness(deps, caller, keys, current)

    return retrying(attempt)


def _revoke_with_a_witness(deps: Deps, caller: Caller, keys: list[ApiKey], target: ApiKey) -> ApiKey:
    revoked = replace(target, revoked=True)
    listed_live = sum(not k.revoked for k in keys)
    uncounted = Increment(Account, target.account_id, {"live_keys": -1}, unset_is={"live_keys": listed_live})
    # The write also proves that another key stays live: the listing comes from an index that may lag, and two
    # revocations may race, so a key it shows live is only a candidate. The caller's own key comes first.
    for witness, is_callers in _witnesses(caller, keys, target):
        try:
            deps.repo.commit(changed=[revoked], increments=[uncounted], guard=witness)
        except errors.Unauthenticated:
            if is_callers:
                raise
            continue  # that key was revoked meanwhile: the next candidate
        caller.guard_held()
        return revoked
    check(deps, caller)
    raise errors.StateConflict("This is the account's only live key: revoking it would lock the account out for "
                               "good. Add a key first.", code="last_key")


def _witnesses(caller: Caller, keys: list[ApiKey], target: ApiKey) -> list[tuple[KeyGuard, bool]]:
    """Keys that may prove, in the revoking write, that the account keeps a live key: (guard, is the caller's)."""
    if not caller.checked:  # the caller's key is not the target (the listing would have shown it)
        return [(caller.guard(), True)]
    others = [k for k in keys if not k.revoked and k.key_id != target.key_id]
    others.sort(key=lambda k: k.key_id != caller.key_id)
    return [(KeyGuard(k.key_hash, k.account_id, k.role), k.key_id == caller.key_id) for k in others]


def authenticate(deps: Deps, authorization: str | None, *, check_now: bool = False) -> Caller:
    """The caller behind `Authorization: Bearer <key>`. A key that names its account and role is checked later, in
    the request's first read or write (see deps.Caller); older keys, and `check_now`, cost a lookup here."""
    scheme, _, raw_key = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not raw_key.strip():
        raise errors.Unauthenticated("Send your API key as 'Authorization: Bearer <api_key>'.")
    # Looked up by keyed hash, so the stored value reveals nothing; the final check is constant-time as well, so
    # no storage quirk (a prefix or case-insensitive match) could let a near-miss through.
    raw_key = raw_key.strip()
    presented = hash_api_key(raw_key)
    account_id, _, rest = raw_key.removeprefix(KEY_PREFIX).partition(".")
    role = rest.partition(".")[0]
    if not (raw_key.startswith(KEY_PREFIX) and NAMED_ACCOUNT.fullmatch(account_id) and role in (CLIENT, FREELANCER)):
        # An older key, or one naming no account we could have made (it would also be no valid DynamoDB key): who
        # it belongs to is known only from the store.
        account_id, role = "", ""
    caller = Caller(account_id=account_id, role=role, unchecked_hash=presented)
    if check_now or not role:
        stored = deps.repo.get_api_key(presented)
        if not role and stored is not None:
            caller.account_id, caller.role = stored.account_id, stored.role
        caller.confirm(stored)
    return caller


def end_web_sessions(deps: Deps, caller: Caller, now: float) -> None:
    """Signing out of the web form ends every session signed in with the caller's key until now, wherever its
    cookie is (a shared phone, a copied cookie), not only the browser's: its next page or form is refused. One
    write, on the key's record, which every page reads anyway; nothing when the key no longer holds."""
    if caller.unchecked_hash is None:
        return  # a session from before sessions kept the key's hash: it ends when its cookie does
    # A session ended already (a copied cookie, after its owner signed out) may not end the owner's newer ones.
    begun = {"sessions_from": caller.session_begun} if caller.session_begun is not None else None
    deps.repo.set_if(ApiKey, caller.unchecked_hash, {"sessions_from": now},
                     expected={"account_id": caller.account_id, "role": caller.role, "revoked": False},
                     at_most=begun)


def get_me(deps: Deps, caller: Caller) -> Account:
    account, = fetch(deps, caller, Ref(Account, caller.account_id))
    if account is None:
        raise errors.Unauthenticated("This API key's account no longer exists.")
    return account
